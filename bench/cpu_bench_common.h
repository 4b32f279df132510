/* cpu_bench_common.h: what the CPU benchmarks share: the model shapes (t5-small, and the
 * tiny preset's T5), the command line (--batch --src --tgt --iters --shape, and --method for the train bench; the same flags
 * as their PyTorch peers) and a clock. */
#ifndef COMPACTER_CPU_BENCH_COMMON_H
#define COMPACTER_CPU_BENCH_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/t5_config.h"

struct bench_args {
    int batch, src, tgt, iters;
    int tiny; /* --shape tiny: the tiny preset's T5; else (--shape small) t5-small */
    const char *method; /* --method NAME (train bench only): a registered method, default full */
    const char *precision; /* --precision fp32|tf32|bf16 (train bench only; default fp32) */
};

/* 0, or 2 after printing the usage. */
static int bench_parse(int argc, char **argv, struct bench_args *a) {
    *a = (struct bench_args){8, 128, 16, 5, 0, "full", "fp32"};
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 < argc && !strcmp(argv[i], "--shape") &&
            (!strcmp(argv[i + 1], "tiny") || !strcmp(argv[i + 1], "small"))) {
            a->tiny = !strcmp(argv[i + 1], "tiny");
            continue;
        }
        if (i + 1 < argc && !strcmp(argv[i], "--method")) {
            a->method = argv[i + 1];
            continue;
        }
        if (i + 1 < argc && !strcmp(argv[i], "--precision")) {
            a->precision = argv[i + 1];
            continue;
        }
        int *dst = i + 1 >= argc                  ? NULL
                   : !strcmp(argv[i], "--batch") ? &a->batch
                   : !strcmp(argv[i], "--src")   ? &a->src
                   : !strcmp(argv[i], "--tgt")   ? &a->tgt
                   : !strcmp(argv[i], "--iters") ? &a->iters
                                                 : NULL;
        if (!dst) {
            fprintf(stderr, "usage: %s [--batch B] [--src S] [--tgt T] [--iters N] [--shape small|tiny] [--method M] [--precision P]\n",
                    argv[0]);
            return 2;
        }
        *dst = atoi(argv[i + 1]);
    }
    return 0;
}

/* t5-small: d 512, 8 heads x 64, d_ff 2048, 6 + 6 layers, ReLU, tied head. tiny: the tiny
 * preset's T5 (experiments/tiny_model.c with experiments/table1.json's sizes and the tiny
 * vocabulary's 627 rows): d 64, 4 heads x 16, d_ff 256, 2 + 2 layers, ReLU, tied head. */
static struct t5_config bench_t5_config(int tiny) {
    struct t5_config c = {.vocab_size = 32128, .d_model = 512, .d_kv = 64, .d_ff = 2048, .num_heads = 8,
                          .num_layers = 6, .num_decoder_layers = 6, .num_buckets = 32, .max_distance = 128,
                          .layer_norm_eps = 1e-6f, .dropout_rate = 0.1f, .ffn = T5_FFN_RELU, .tied = 1,
                          .decoder_start_id = 0, .eos_id = 1};
    if (tiny) {
        c.vocab_size = 627;
        c.d_model = 64, c.d_kv = 16, c.d_ff = 256, c.num_heads = 4;
        c.num_layers = c.num_decoder_layers = 2;
    }
    return c;
}

/* a token id in [2, vocab) (the benches' random inputs) */
static int bench_token(const struct t5_config *c) { return 2 + rand() % (c->vocab_size - 2 < 32000 ? c->vocab_size - 2 : 32000); }

static double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
