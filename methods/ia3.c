/* ia3.c: (IA)^3 (Liu et al. 2022) written only against the plug-in interface, as peft
 * builds it for T5: learned vectors, initialised to ones, rescale the keys and values of
 * every self- and cross-attention (the outputs of k and v) and the FFN hidden activation
 * (the input of wo, after the nonlinearity and dropout). Only the vectors train.
 * Names: "<module>.ia3_l", e.g. "encoder.block.0.layer.0.SelfAttention.k.ia3_l" [H*d_kv],
 * "decoder.block.2.layer.2.DenseReluDense.wo.ia3_l" [d_ff].
 * Option targets (k,v,wo): any of q,k,v,o,wi,wi_1 (their outputs are scaled) and wo (its
 * input is scaled: peft's "feed-forward" module). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/ops.h"
#include "methods/method.h"

#define NPROJ 8

struct ia3_state {
    int max_layers;
    struct tensor **l; /* [stack][layer][sublayer][proj] */
};

static int idx(const struct ia3_state *s, int stack, int layer, int sub, int proj) {
    return ((stack * s->max_layers + layer) * 3 + sub) * NPROJ + proj;
}

/* t [..., n] * l [n], l broadcast over the rows: the rows of ones (no gradient) times l
 * as a [1, n] matrix gives l on every row (its backward sums the rows into l). */
static struct tensor *scale_cols(struct exec *x, struct tensor *t, struct tensor *l) {
    if (!t || !l) return NULL;
    int64_t rows = tensor_rows(t), n = tensor_cols(t);
    struct tensor *ones = exec_tensor(x, DTYPE_F32, 2, (int64_t[]){rows, 1});
    if (!ones || x->be->fill(ones->data, 1.0f, (size_t)rows)) return NULL;
    struct tensor *lb = op_bmm(x, ones, op_view(x, l, 2, (int64_t[]){1, n}));
    struct tensor *y = op_mul(x, op_view(x, t, 2, (int64_t[]){rows, n}), lb);
    return op_view(x, y, t->ndim, t->shape);
}

static struct tensor *ia3_linear(void *ctx, struct exec *x, const struct t5_site *site,
                                 struct tensor *in, struct tensor *w) {
    const struct ia3_state *s = ((struct method_instance *)ctx)->state;
    struct tensor *l = NULL;
    if (site->layer >= 0 && site->sublayer <= T5_FFN && site->proj < T5_LM_HEAD)
        l = s->l[idx(s, site->stack, site->layer, site->sublayer, site->proj)];
    if (!l) return op_linear(x, in, w);
    if (site->proj == T5_WO) return op_linear(x, scale_cols(x, in, l), w);
    return scale_cols(x, op_linear(x, in, w), l);
}

static int ia3_init(struct method_instance *mi) {
    const struct t5_config *c = &mi->model->cfg;
    static const char *const names[] = {"q", "k", "v", "o", "wi", "wi_1", "wo"};
    unsigned mask = 0;
    const char *p = method_opt(mi, "targets");
    while (*p) {
        size_t n = strcspn(p, ",");
        int k = 0;
        while (k < 7 && (strlen(names[k]) != n || strncmp(p, names[k], n)))
            k++;
        if (k == 7)
            return error_set("targets: unknown projection '%.*s' (use q,k,v,o,wi,wi_1,wo)", (int)n,
                             p);
        if (k == T5_WI_1 && !c->gated)
            return error_set("targets: wi_1 exists only in gated models");
        mask |= 1u << k; /* names[] is in enum t5_proj order */
        p += n;
        if (*p == ',') p++;
    }
    if (!mask) return error_set("targets: empty");
    struct ia3_state *s = calloc(1, sizeof *s);
    if (!s) return error_set("out of memory");
    mi->state = s;
    s->max_layers = c->num_layers > c->num_decoder_layers ? c->num_layers : c->num_decoder_layers;
    s->l = calloc((size_t)2 * (size_t)s->max_layers * 3 * NPROJ, sizeof *s->l);
    if (!s->l) return error_set("out of memory");
    const int64_t inner = (int64_t)c->num_heads * c->d_kv;
    char name[160];
    for (int st = 0; st < 2; st++)
        for (int l = 0; l < (st ? c->num_decoder_layers : c->num_layers); l++)
            for (int sub = 0; sub < 3; sub++) {
                if (st == 0 && sub == T5_CROSS_ATTN) continue;
                int li = st == 0 && sub == T5_FFN ? 1 : sub;
                const char *stack = st ? "decoder" : "encoder";
                for (int pj = T5_Q; pj <= T5_WO; pj++) {
                    if (!(mask >> pj & 1) || (sub == T5_FFN) != (pj >= T5_WI)) continue;
                    int64_t n = pj == T5_O    ? c->d_model
                                : pj < T5_O   ? inner
                                : pj == T5_WO ? c->d_ff
                                              : c->d_ff;
                    if (sub == T5_FFN) {
                        const char *fn = pj == T5_WO     ? "wo"
                                         : pj == T5_WI_1 ? "wi_1"
                                         : c->gated      ? "wi_0"
                                                         : "wi";
                        snprintf(name, sizeof name, "%s.block.%d.layer.%d.DenseReluDense.%s.ia3_l",
                                 stack, l, li, fn);
                    } else {
                        snprintf(name, sizeof name, "%s.block.%d.layer.%d.%s.%s.ia3_l", stack, l,
                                 li, sub == T5_SELF_ATTN ? "SelfAttention" : "EncDecAttention",
                                 names[pj]);
                    }
                    struct tensor *t = method_param(mi, name, 1, (int64_t[]){n});
                    if (!t) return -1;
                    s->l[idx(s, st, l, sub, pj)] = t;
                }
            }
    if (method_alloc(mi)) return -1;
    for (int i = 0; i < mi->n_params; i++)
        if (init_constant(mi, mi->params[i], 1.0f) || method_train(mi, mi->params[i])) return -1;
    mi->hooks.linear = ia3_linear;
    return 0;
}

static void ia3_free(struct method_instance *mi) {
    struct ia3_state *s = mi->state;
    if (s) {
        free(s->l);
        free(s);
    }
    mi->state = NULL;
}

const struct method method_ia3 = {
    .name = "ia3",
    .summary =
        "(IA)^3: trained rescaling of keys, values and the FFN hidden activation (init ones)",
    .task_prefix = 0,
    .options =
        (const struct method_option[]){
            {"targets", "k,v,wo",
             "projections rescaled: q,k,v,o,wi,wi_1 scale their output, wo its input"},
            {0},
        },
    .init = ia3_init,
    .free = ia3_free,
};
