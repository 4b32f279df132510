/* cpu_bench_common.h: what the CPU benchmarks share: the t5-small shape, the command line
 * (--batch --src --tgt --iters, the same flags as their PyTorch peers) and a clock. */
#ifndef COMPACTER_CPU_BENCH_COMMON_H
#define COMPACTER_CPU_BENCH_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/t5_config.h"

struct bench_args {
    int batch, src, tgt, iters;
};

/* 0, or 2 after printing the usage. */
static int bench_parse(int argc, char **argv, struct bench_args *a) {
    *a = (struct bench_args){8, 128, 16, 5};
    for (int i = 1; i < argc; i += 2) {
        int *dst = i + 1 >= argc                  ? NULL
                   : !strcmp(argv[i], "--batch") ? &a->batch
                   : !strcmp(argv[i], "--src")   ? &a->src
                   : !strcmp(argv[i], "--tgt")   ? &a->tgt
                   : !strcmp(argv[i], "--iters") ? &a->iters
                                                 : NULL;
        if (!dst) {
            fprintf(stderr, "usage: %s [--batch B] [--src S] [--tgt T] [--iters N]\n", argv[0]);
            return 2;
        }
        *dst = atoi(argv[i + 1]);
    }
    return 0;
}

/* t5-small: d 512, 8 heads x 64, d_ff 2048, 6 + 6 layers, ReLU, tied head. */
static struct t5_config bench_t5_small(void) {
    struct t5_config c = {.vocab_size = 32128, .d_model = 512, .d_kv = 64, .d_ff = 2048, .num_heads = 8,
                          .num_layers = 6, .num_decoder_layers = 6, .num_buckets = 32, .max_distance = 128,
                          .layer_norm_eps = 1e-6f, .dropout_rate = 0.1f, .ffn = T5_FFN_RELU, .tied = 1,
                          .decoder_start_id = 0, .eos_id = 1};
    return c;
}

static double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
