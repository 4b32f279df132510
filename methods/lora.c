/* lora.c: LoRA (Hu et al. 2021) written only against the plug-in interface, as peft builds
 * it: for every targeted projection W [out, in] (self- and cross-attention q/k/v/o, FFN
 * wi/wi_1/wo, encoder and decoder),
 *     y = x W^T + (alpha / rank) * (Dropout(x) A^T) B^T,  A [rank, in], B [out, rank],
 * A ~ kaiming_uniform(a = sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)) (torch's nn.Linear default,
 * as peft), B = 0, so training starts at the base model. Only A and B train.
 * Names: "<module>.lora_A", "<module>.lora_B", e.g.
 * "decoder.block.1.layer.1.EncDecAttention.v.lora_B".
 * Options: targets (q,v; any of q,k,v,o,wi,wi_1,wo; wi is wi_0 in gated models), rank (8),
 * alpha (16), dropout (0.0).
 * lora_merge() folds W += (alpha/rank) B A into the base weights after training and drops
 * the hook: inference then runs the plain T5 (method_detach keeps the merged weights). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/ops.h"
#include "methods/method.h"

#define NPROJ 8

struct lora_state {
    int max_layers, merged;
    float scale, dropout;
    struct tensor **a, **b, **w; /* [stack][layer][sublayer][proj]: A, B and the base weight */
};

static int idx(const struct lora_state *s, int stack, int layer, int sub, int proj) {
    return ((stack * s->max_layers + layer) * 3 + sub) * NPROJ + proj;
}

static struct tensor *lora_linear(void *ctx, struct exec *x, const struct t5_site *site,
                                  struct tensor *in, struct tensor *w) {
    const struct lora_state *s = ((struct method_instance *)ctx)->state;
    struct tensor *y = op_linear(x, in, w);
    if (site->layer < 0 || site->sublayer > T5_FFN || site->proj >= T5_LM_HEAD) return y;
    int i = idx(s, site->stack, site->layer, site->sublayer, site->proj);
    if (!s->a[i]) return y;
    struct tensor *u = op_linear(x, op_linear(x, op_dropout(x, in, s->dropout), s->a[i]), s->b[i]);
    return op_add(x, y, op_scale(x, u, s->scale));
}

/* "q,v" -> bit mask over enum t5_proj */
static int parse_targets(const char *spec, int gated, unsigned *mask) {
    static const char *const names[] = {"q", "k", "v", "o", "wi", "wi_1", "wo"};
    static const int proj[] = {T5_Q, T5_K, T5_V, T5_O, T5_WI, T5_WI_1, T5_WO};
    *mask = 0;
    const char *p = spec;
    while (*p) {
        size_t n = strcspn(p, ",");
        int found = 0;
        for (int k = 0; k < 7; k++)
            if (strlen(names[k]) == n && !strncmp(p, names[k], n)) {
                *mask |= 1u << proj[k];
                found = 1;
            }
        if (n == 4 && !strncmp(p, "wi_0", 4)) *mask |= 1u << T5_WI, found = 1;
        if (!found)
            return error_set("targets: unknown projection '%.*s' (use q,k,v,o,wi,wi_1,wo)", (int)n,
                             p);
        if ((*mask >> T5_WI_1 & 1) && !gated)
            return error_set("targets: wi_1 exists only in gated models");
        p += n;
        if (*p == ',') p++;
    }
    return *mask ? 0 : error_set("targets: empty");
}

/* The base weight at a site and its module name. */
static struct tensor *site_weight(const struct t5_model *m, int st, int l, int sub, int proj,
                                  char *name, size_t cap) {
    const struct t5_block *b = st ? &m->dec[l] : &m->enc[l];
    const char *stack = st ? "decoder" : "encoder";
    int li = st == 0 && sub == T5_FFN ? 1 : sub;
    if (sub != T5_FFN) {
        const struct t5_attn *a = sub == T5_SELF_ATTN ? &b->self : &b->cross;
        static const char *const pn[] = {"q", "k", "v", "o"};
        if (proj > T5_O) return NULL;
        snprintf(name, cap, "%s.block.%d.layer.%d.%s.%s", stack, l, li,
                 sub == T5_SELF_ATTN ? "SelfAttention" : "EncDecAttention", pn[proj]);
        return proj == T5_Q ? a->q : proj == T5_K ? a->k : proj == T5_V ? a->v : a->o;
    }
    if (proj < T5_WI || proj > T5_WO) return NULL;
    const char *fn = proj == T5_WO ? "wo" : proj == T5_WI_1 ? "wi_1" : m->cfg.gated ? "wi_0" : "wi";
    snprintf(name, cap, "%s.block.%d.layer.%d.DenseReluDense.%s", stack, l, li, fn);
    return proj == T5_WO ? b->ff.wo : proj == T5_WI_1 ? b->ff.wi_1 : b->ff.wi;
}

static int lora_init(struct method_instance *mi) {
    const struct t5_model *m = mi->model;
    const struct t5_config *c = &m->cfg;
    int rank;
    double alpha, dropout;
    unsigned mask;
    if (method_opt_int(mi, "rank", &rank) || method_opt_float(mi, "alpha", &alpha) ||
        method_opt_float(mi, "dropout", &dropout) ||
        parse_targets(method_opt(mi, "targets"), c->gated, &mask))
        return -1;
    if (rank < 1) return error_set("rank must be >= 1");
    if (dropout < 0 || dropout >= 1) return error_set("dropout must be in [0, 1)");
    struct lora_state *s = calloc(1, sizeof *s);
    if (!s) return error_set("out of memory");
    mi->state = s;
    s->scale = (float)(alpha / rank);
    s->dropout = (float)dropout;
    s->max_layers = c->num_layers > c->num_decoder_layers ? c->num_layers : c->num_decoder_layers;
    size_t n = (size_t)2 * (size_t)s->max_layers * 3 * NPROJ;
    s->a = calloc(n, sizeof *s->a);
    s->b = calloc(n, sizeof *s->b);
    s->w = calloc(n, sizeof *s->w);
    if (!s->a || !s->b || !s->w) return error_set("out of memory");
    char mod[128], name[160];
    for (int st = 0; st < 2; st++)
        for (int l = 0; l < (st ? c->num_decoder_layers : c->num_layers); l++)
            for (int sub = 0; sub < 3; sub++) {
                if (st == 0 && sub == T5_CROSS_ATTN) continue;
                for (int p = T5_Q; p <= T5_WO; p++) {
                    if (!(mask >> p & 1)) continue;
                    struct tensor *w = site_weight(m, st, l, sub, p, mod, sizeof mod);
                    if (!w) continue;
                    int i = idx(s, st, l, sub, p);
                    s->w[i] = w;
                    snprintf(name, sizeof name, "%s.lora_A", mod);
                    s->a[i] = method_param(mi, name, 2, (int64_t[]){rank, w->shape[1]});
                    snprintf(name, sizeof name, "%s.lora_B", mod);
                    s->b[i] = method_param(mi, name, 2, (int64_t[]){w->shape[0], rank});
                    if (!s->a[i] || !s->b[i]) return -1;
                }
            }
    if (method_alloc(mi)) return -1;
    for (size_t i = 0; i < n; i++) {
        if (!s->a[i]) continue;
        double bound = 1.0 / sqrt((double)s->a[i]->shape[1]);
        if (init_uniform(mi, s->a[i], -bound, bound) || method_train(mi, s->a[i]) ||
            method_train(mi, s->b[i]))
            return -1; /* B stays zero (method_alloc) */
    }
    mi->hooks.linear = lora_linear;
    return 0;
}

/* Fold every update into its base weight (W += scale * B A) and stop hooking: afterwards
 * the model runs as plain T5. Only for the method it was attached as. */
int lora_merge(struct method_instance *mi);
int lora_merge(struct method_instance *mi) {
    extern const struct method method_lora;
    if (!mi || mi->method != &method_lora) return error_set("lora_merge: not a LoRA instance");
    struct lora_state *s = mi->state;
    if (s->merged) return 0;
    for (size_t i = 0; i < (size_t)2 * (size_t)s->max_layers * 3 * NPROJ; i++)
        if (s->a[i] && s->w[i]->dtype != DTYPE_F32)
            return error_set("lora_merge %s: the base weight is stored %s (--precision bf16); merge needs f32",
                             s->w[i]->name ? s->w[i]->name : "?", dtype_name(s->w[i]->dtype));
    const struct backend *be = mi->model->be;
    size_t n = (size_t)2 * (size_t)s->max_layers * 3 * NPROJ;
    for (size_t i = 0; i < n; i++) {
        if (!s->a[i]) continue;
        int out = (int)s->w[i]->shape[0], in = (int)s->w[i]->shape[1], r = (int)s->a[i]->shape[0];
        if (be->gemm(0, 0, out, in, r, s->scale, s->b[i]->data, r, 0, s->a[i]->data, in, 0, 1.0f,
                     s->w[i]->data, in, 0, 1))
            return error_wrap("lora_merge %s: ", s->w[i]->name ? s->w[i]->name : "?");
    }
    s->merged = 1;
    mi->hooks.linear = NULL;
    return 0;
}

static void lora_free(struct method_instance *mi) {
    struct lora_state *s = mi->state;
    if (s) {
        free(s->a);
        free(s->b);
        free(s->w);
        free(s);
    }
    mi->state = NULL;
}

const struct method method_lora = {
    .name = "lora",
    .summary = "LoRA: trained low-rank updates (alpha/r) B A beside chosen projections; mergeable",
    .task_prefix = 0,
    .options =
        (const struct method_option[]){
            {"targets", "q,v",
             "projections to adapt, comma-separated: q,k,v,o,wi,wi_1,wo (self and cross)"},
            {"rank", "8", "rank r of the update"},
            {"alpha", "16", "scaling numerator: the update is multiplied by alpha/r"},
            {"dropout", "0.0", "dropout on the LoRA branch's input (training only)"},
            {0},
        },
    .init = lora_init,
    .free = lora_free,
};
