/* cmd_make_tiny_model.c: `compacter make-tiny-model --out DIR`: make the tiny preset's T5
 * (experiments/tiny_model.h): T5 initialisation, span-corruption pre-training on the
 * synthetic corpus, written as a Hugging Face folder (config.json, model.safetensors,
 * tokenizer.json). Without --out it prints the cached folder, making it if needed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "experiments/tiny_model.h"

static void log_line(void *ctx, const char *line) {
    (void)ctx;
    fprintf(stderr, "%s\n", line);
}

int cmd_make_tiny_model(int argc, char **argv) {
    struct arg a[] = {
        {"out", 1, "folder to create (must not exist; default: the cache's tiny-<hash> folder)"},
        {"tokenizer", 1, "tokenizer.json (default assets/tiny/tokenizer.json)"},
        {"d-model", 1, "model width (default 64)"},
        {"d-kv", 1, "per-head width (default 16)"},
        {"d-ff", 1, "feed-forward width (default 256)"},
        {"heads", 1, "attention heads (default 4)"},
        {"layers", 1, "encoder and decoder layers (default 2)"},
        {"steps", 1, "span-corruption pre-training steps (default 400; 0: none)"},
        {"batch", 1, "pre-training batch (default 32)"},
        {"lr", 1, "pre-training peak learning rate (default 3e-3)"},
        {"supervised", 1,
         "fraction of pre-training examples taken from the synthetic tasks (default 0)"},
        {"tasks", 1,
         "synthetic tasks of the supervised examples, comma-separated (default: all)"},
        {"seed", 1, "initialisation and corpus seed (default 1)"},
        {"device", 1, "cpu, cuda or auto (default cpu)"},
    };
    int n = (int)(sizeof a / sizeof a[0]);
    int r = args_parse(argc, argv, a, n,
                       "compacter make-tiny-model [--out DIR] [--d-model N] [--steps N] ...", NULL,
                       0, NULL);
    if (r) return r == 1 ? 0 : r;
    struct tiny_model_spec s = tiny_model_spec_default();
    struct {
        const char *flag;
        int *dst;
    } ints[] = {{"d-model", &s.d_model},     {"d-kv", &s.d_kv},
                {"d-ff", &s.d_ff},           {"heads", &s.num_heads},
                {"layers", &s.num_layers},   {"steps", &s.pretrain_steps},
                {"batch", &s.pretrain_batch}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        const char *v = args_str(a, n, ints[i].flag, NULL);
        if (!v) continue;
        char *end;
        long x = strtol(v, &end, 10);
        if (*end || end == v || x < (strcmp(ints[i].flag, "steps") ? 1 : 0) || x > 100000) {
            fprintf(stderr, "compacter make-tiny-model: --%s %s: expected a positive integer\n",
                    ints[i].flag, v);
            return 2;
        }
        *ints[i].dst = (int)x;
    }
    s.num_decoder_layers = s.num_layers;
    if (args_has(a, n, "lr")) s.pretrain_lr = atof(args_str(a, n, "lr", "0"));
    if (args_has(a, n, "seed")) s.seed = strtoull(args_str(a, n, "seed", "1"), NULL, 10);
    if (args_has(a, n, "supervised"))
        s.pretrain_supervised = atof(args_str(a, n, "supervised", "0"));
    if (!(s.pretrain_supervised >= 0 && s.pretrain_supervised <= 1)) {
        fprintf(stderr, "compacter make-tiny-model: --supervised must be in [0, 1]\n");
        return 2;
    }
    if (args_has(a, n, "tasks") &&
        tiny_model_spec_set_tasks(&s, args_str(a, n, "tasks", ""), "--tasks"))
        return cli_fail("make-tiny-model");
    if (!(s.pretrain_lr > 0)) {
        fprintf(stderr, "compacter make-tiny-model: --lr must be positive\n");
        return 2;
    }
    const char *tok = args_str(a, n, "tokenizer", "assets/tiny/tokenizer.json");
    const char *dev = args_str(a, n, "device", "cpu");
    const char *out = args_str(a, n, "out", NULL);
    char dir[4096];
    if (out) {
        if (tiny_model_make(&s, tok, dev, out, log_line, NULL)) return cli_fail("make-tiny-model");
        printf("%s\n", out);
    } else {
        if (tiny_model_ensure(&s, tok, dev, dir, sizeof dir, log_line, NULL))
            return cli_fail("make-tiny-model");
        printf("%s\n", dir);
    }
    return 0;
}
