/* cmd_info.c: `compacter info --model DIR`: the configuration and parameter count. */
#include <stdio.h>

#include "cli/args.h"
#include "cli/cli_model.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/t5_config.h"

int cmd_info(int argc, char **argv) {
    struct arg a[] = {
        {"model", 1, "Hugging Face model folder (config.json + model.safetensors)"},
        {"config-only", 0, "read config.json only (no weights needed)"},
    };
    int n = (int)(sizeof a / sizeof a[0]);
    int r = args_parse(argc, argv, a, n, "compacter info --model DIR", NULL, 0, NULL);
    if (r) return r == 1 ? 0 : r;
    const char *dir = args_str(a, n, "model", NULL);
    if (!dir) {
        error_set("--model DIR is required");
        return cli_fail("info");
    }
    struct t5_config c;
    struct t5_model m;
    int loaded = 0;
    int resolved = 0;
    if (args_has(a, n, "config-only")) {
        char p[4096];
        snprintf(p, sizeof p, "%s/config.json", dir);
        if (t5_config_load(&c, p) || t5_config_tie_from_checkpoint(&c, dir, &resolved)) return cli_fail("info");
    } else {
        if (open_model(&m, dir, "cpu", NULL)) return cli_fail("info");
        c = m.cfg;
        loaded = 1;
    }
    printf("model            %s\n", dir);
    printf("family           %s\n", c.gated ? "T5 v1.1 / flan (gated FFN, untied head)" : "T5 v1.0");
    int tie_known = loaded || resolved || !t5_config_transformers5(&c);
    if (c.gated != !c.tied && tie_known) printf("note             %s\n", c.tied ? "tied head with gated FFN" : "untied head with ReLU FFN");
    printf("vocab_size       %d\n", c.vocab_size);
    printf("d_model          %d\n", c.d_model);
    printf("d_kv x heads     %d x %d\n", c.d_kv, c.num_heads);
    printf("d_ff             %d (%s)\n", c.d_ff, t5_ffn_name(c.ffn));
    printf("layers           %d encoder, %d decoder\n", c.num_layers, c.num_decoder_layers);
    printf("position buckets %d (max distance %d)\n", c.num_buckets, c.max_distance);
    printf("layer_norm_eps   %g\n", (double)c.layer_norm_eps);
    printf("dropout_rate     %g\n", (double)c.dropout_rate);
    printf("tied lm_head     %s\n", !tie_known ? "if the checkpoint's lm_head.weight is absent or equals shared.weight (a transformers 5 config)"
                                    : c.tied ? "yes" : "no");
    printf("head input scale %s\n", t5_head_scaled(&c) ? "d_model^-0.5" : "none");
    printf("parameters       %lld\n", (long long)t5_config_param_count(&c));
    if (loaded) {
        printf("tensors          %d loaded\n", m.n_params);
        t5_model_free(&m);
    }
    return 0;
}
