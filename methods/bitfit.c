/* bitfit.c: BitFit (Ben Zaken et al.) as the reference builds it for T5 (reference-spec.md
 * section 3): T5 has no biases, so BitFit ADDS zero-initialised biases and trains only
 * them: q, k, v, o of every self- and cross-attention, wi (wi_0 and wi_1 when gated) and wo
 * of every FFN (linear hook), every block layer norm's output (norm_out hook; the two
 * final norms get none) and the lm_head (linear hook at T5_LM_HEAD). 280,932 on t5-base.
 * Names mirror the T5 modules: "encoder.block.3.layer.0.SelfAttention.q.bias",
 * "decoder.block.0.layer.1.layer_norm.bias", "lm_head.bias". No options. */
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/ops.h"
#include "methods/method.h"

#define NPROJ 8 /* T5_Q .. T5_LM_HEAD */

struct bitfit_state {
    int max_layers;
    struct tensor **lin;  /* [stack][layer][sublayer 0..2][proj] */
    struct tensor **norm; /* [stack][layer][sublayer 0..2] */
    struct tensor *head;
};

static int lin_index(const struct bitfit_state *s, int stack, int layer, int sub, int proj) {
    return ((stack * s->max_layers + layer) * 3 + sub) * NPROJ + proj;
}

static struct tensor *bitfit_linear(void *ctx, struct exec *x, const struct t5_site *site,
                                    struct tensor *in, struct tensor *w) {
    const struct bitfit_state *s = ((struct method_instance *)ctx)->state;
    struct tensor *b = NULL;
    if (site->proj == T5_LM_HEAD)
        b = s->head;
    else if (site->layer >= 0 && site->sublayer <= T5_FFN)
        b = s->lin[lin_index(s, site->stack, site->layer, site->sublayer, site->proj)];
    struct tensor *y = op_linear(x, in, w);
    return b ? op_add_bias(x, y, b) : y;
}

static struct tensor *bitfit_norm_out(void *ctx, struct exec *x, const struct t5_site *site,
                                      struct tensor *y) {
    const struct bitfit_state *s = ((struct method_instance *)ctx)->state;
    if (site->layer < 0 || site->sublayer > T5_FFN) return y; /* final norms: no bias */
    return op_add_bias(x, y,
                       s->norm[lin_index(s, site->stack, site->layer, site->sublayer, 0) / NPROJ]);
}

static struct tensor *declare(struct method_instance *mi, const char *name, int64_t n) {
    return method_param(mi, name, 1, (int64_t[]){n});
}

static int bitfit_init(struct method_instance *mi) {
    const struct t5_config *c = &mi->model->cfg;
    struct bitfit_state *s = calloc(1, sizeof *s);
    if (!s) return error_set("out of memory");
    mi->state = s;
    s->max_layers = c->num_layers > c->num_decoder_layers ? c->num_layers : c->num_decoder_layers;
    size_t nlin = (size_t)2 * (size_t)s->max_layers * 3 * NPROJ;
    s->lin = calloc(nlin, sizeof *s->lin);
    s->norm = calloc(nlin / NPROJ, sizeof *s->norm);
    if (!s->lin || !s->norm) return error_set("out of memory");
    const int64_t inner = (int64_t)c->num_heads * c->d_kv;
    static const char *const attn_proj[4] = {"q", "k", "v", "o"};
    char name[160];
    for (int st = 0; st < 2; st++) {
        int nl = st ? c->num_decoder_layers : c->num_layers;
        const char *stack = st ? "decoder" : "encoder";
        for (int l = 0; l < nl; l++) {
            for (int sub = 0; sub < 3; sub++) {
                if (st == 0 && sub == T5_CROSS_ATTN) continue;
                int li =
                    st == 0 && sub == T5_FFN ? 1 : sub; /* index of the layer inside the block */
                snprintf(name, sizeof name, "%s.block.%d.layer.%d.layer_norm.bias", stack, l, li);
                if (!(s->norm[lin_index(s, st, l, sub, 0) / NPROJ] = declare(mi, name, c->d_model)))
                    return -1;
                if (sub != T5_FFN) {
                    const char *mod = sub == T5_SELF_ATTN ? "SelfAttention" : "EncDecAttention";
                    for (int p = T5_Q; p <= T5_O; p++) {
                        snprintf(name, sizeof name, "%s.block.%d.layer.%d.%s.%s.bias", stack, l, li,
                                 mod, attn_proj[p]);
                        if (!(s->lin[lin_index(s, st, l, sub, p)] =
                                  declare(mi, name, p == T5_O ? c->d_model : inner)))
                            return -1;
                    }
                } else {
                    const char *wi[2] = {c->gated ? "wi_0" : "wi", "wi_1"};
                    for (int k = 0; k < 1 + c->gated; k++) {
                        snprintf(name, sizeof name, "%s.block.%d.layer.%d.DenseReluDense.%s.bias",
                                 stack, l, li, wi[k]);
                        if (!(s->lin[lin_index(s, st, l, sub, k ? T5_WI_1 : T5_WI)] =
                                  declare(mi, name, c->d_ff)))
                            return -1;
                    }
                    snprintf(name, sizeof name, "%s.block.%d.layer.%d.DenseReluDense.wo.bias",
                             stack, l, li);
                    if (!(s->lin[lin_index(s, st, l, sub, T5_WO)] = declare(mi, name, c->d_model)))
                        return -1;
                }
            }
        }
    }
    if (!(s->head = declare(mi, "lm_head.bias", c->vocab_size)) || method_alloc(mi)) return -1;
    for (int i = 0; i < mi->n_params; i++)
        if (method_train(mi, mi->params[i])) return -1; /* method_alloc zero-filled them */
    mi->hooks.linear = bitfit_linear;
    mi->hooks.norm_out = bitfit_norm_out;
    return 0;
}

static void bitfit_free(struct method_instance *mi) {
    struct bitfit_state *s = mi->state;
    if (s) {
        free(s->lin);
        free(s->norm);
        free(s);
    }
    mi->state = NULL;
}

const struct method method_bitfit = {
    .name = "bitfit",
    .summary = "BitFit: zero-initialised biases added to every projection, block layer norm and "
               "the lm_head",
    .task_prefix = 1,
    .options = (const struct method_option[]){{0}},
    .init = bitfit_init,
    .free = bitfit_free,
};
