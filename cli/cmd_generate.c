/* cmd_generate.c: `compacter generate --model DIR --encoder-ids ... [--max-length N]`
 * prints the greedy token ids, one line per sequence (decoder start token first, as
 * transformers' generate returns them). */
#include <stdio.h>
#include <stdlib.h>

#include "cli/args.h"
#include "cli/cli_model.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/t5_forward.h"

int cmd_generate(int argc, char **argv) {
    struct arg a[] = {
        {"model", 1, "Hugging Face model folder"},
        {"encoder-ids", 1, "encoder token ids, e.g. 13,8,1 (';' between sequences)"},
        {"max-length", 1, "maximum output length including the start token (default 20)"},
        {"device", 1, "cpu, cuda or auto (default auto)"},
        {"precision", 1, "fp32 (default, strict), tf32 or bf16 (activations and frozen weights stored bf16, GEMMs on bf16 operands with f32 sums; the same bits emulated on cpu)"},
    };
    int n = (int)(sizeof a / sizeof a[0]);
    int r = args_parse(argc, argv, a, n, "compacter generate --model DIR --encoder-ids IDS [--max-length N]",
                       NULL, 0, NULL);
    if (r) return r == 1 ? 0 : r;
    const char *enc_s = args_str(a, n, "encoder-ids", NULL);
    long long ml;
    if (args_int(a, n, "max-length", 20, 1, 4096, &ml)) {
        fprintf(stderr, "compacter generate: %s\n", error_message());
        return 2;
    }
    if (!enc_s) {
        fprintf(stderr, "compacter generate: --encoder-ids is required\n");
        return 2;
    }
    int max_len = (int)ml;
    struct t5_model m;
    if (open_model(&m, args_str(a, n, "model", NULL), args_str(a, n, "device", "auto"), args_str(a, n, "precision", "fp32"))) return cli_fail("generate");
    int32_t *enc = NULL, *mask = NULL, *out = NULL;
    int ns, S, len = 0, rc = parse_id_lists("encoder-ids", enc_s, m.cfg.pad_id, &enc, &mask, &ns, &S, NULL);
    struct exec x;
    if (!rc && !(out = malloc(sizeof(int32_t) * (size_t)ns * (size_t)max_len))) rc = error_set("out of memory");
    if (!rc && !(rc = exec_init(&x, m.be))) {
        rc = t5_generate_greedy(&x, &m, ns, S, enc, mask, max_len, out, &len);
        exec_free(&x);
    }
    for (int i = 0; i < ns && !rc; i++)
        for (int t = 0; t < len; t++) printf("%d%c", out[i * max_len + t], t + 1 == len ? '\n' : ' ');
    free(enc);
    free(mask);
    free(out);
    t5_model_free(&m);
    return rc ? cli_fail("generate") : 0;
}
