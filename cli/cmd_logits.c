/* cmd_logits.c: `compacter logits --model DIR --encoder-ids 13,8,1 --decoder-ids 0,5 --out F`
 * writes F (safetensors) with tensor `logits` f32: [dec_len, vocab] for one sequence,
 * [n_seq, max_dec_len, vocab] for several (';'-separated, padded by the program). */
#include <stdio.h>
#include <stdlib.h>

#include "cli/args.h"
#include "cli/cli_model.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "core/t5_forward.h"

int cmd_logits(int argc, char **argv) {
    struct arg a[] = {
        {"model", 1, "Hugging Face model folder"},
        {"encoder-ids", 1, "encoder token ids, e.g. 13,8,1 (';' between sequences)"},
        {"decoder-ids", 1, "decoder input ids, e.g. 0,5 (start token first)"},
        {"out", 1, "output safetensors file"},
        {"device", 1, "cpu, cuda or auto (default auto)"},
        {"precision", 1, "fp32 (default, strict), tf32 or bf16 (activations and frozen weights stored bf16, GEMMs on bf16 operands with f32 sums; the same bits emulated on cpu)"},
    };
    int n = (int)(sizeof a / sizeof a[0]);
    int r = args_parse(argc, argv, a, n,
                       "compacter logits --model DIR --encoder-ids IDS --decoder-ids IDS --out FILE", NULL, 0, NULL);
    if (r) return r == 1 ? 0 : r;
    const char *enc_s = args_str(a, n, "encoder-ids", NULL), *dec_s = args_str(a, n, "decoder-ids", NULL),
               *out = args_str(a, n, "out", NULL);
    if (!enc_s || !dec_s || !out) {
        fprintf(stderr, "compacter logits: --encoder-ids, --decoder-ids and --out are required\n");
        return 2;
    }
    struct t5_model m;
    if (open_model(&m, args_str(a, n, "model", NULL), args_str(a, n, "device", "auto"), args_str(a, n, "precision", "fp32"))) return cli_fail("logits");
    int32_t *enc = NULL, *emask = NULL, *dec = NULL, *dmask = NULL;
    int ne, S, nd, T, rc = 0;
    if (parse_id_lists("encoder-ids", enc_s, m.cfg.pad_id, &enc, &emask, &ne, &S, NULL) ||
        parse_id_lists("decoder-ids", dec_s, m.cfg.pad_id, &dec, &dmask, &nd, &T, NULL))
        rc = -1;
    else if (ne != nd)
        rc = error_set("%d encoder sequences but %d decoder sequences", ne, nd);
    struct exec x;
    float *host = NULL;
    if (!rc) rc = exec_init(&x, m.be);
    if (!rc) {
        struct t5_batch b = {ne, S, T, enc, emask, dec, NULL};
        struct t5_outputs o;
        rc = t5_forward(&x, &m, &b, &o);
        size_t count = (size_t)ne * (size_t)T * (size_t)m.cfg.vocab_size;
        if (!rc && !(host = malloc(count * sizeof(float)))) rc = error_set("out of memory");
        if (!rc) rc = exec_download(&x, o.logits, host);
        if (!rc) {
            struct st_out t = {"logits", ST_F32, 3, {ne, T, m.cfg.vocab_size}, host};
            if (ne == 1) {
                t.ndim = 2;
                t.shape[0] = T;
                t.shape[1] = m.cfg.vocab_size;
            }
            rc = st_write(out, &t, 1, NULL);
        }
        exec_free(&x);
    }
    free(host);
    free(enc);
    free(emask);
    free(dec);
    free(dmask);
    t5_model_free(&m);
    return rc ? cli_fail("logits") : 0;
}
