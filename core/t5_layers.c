/* t5_layers.c: the pieces of a T5 block, with the method hooks applied: effective
 * parameters, projections, norms, sublayer outputs, attention, FFN, position bias. */
#include "core/t5_layers.h"

#include <stdlib.h>

#include "core/error.h"
#include "core/ops.h"
#include "core/t5_position.h"


/* The effective tensor for a base parameter (a method may re-parameterise it). */
struct tensor *t5_param(struct exec *x, const struct t5_model *m, struct tensor *p) {
    const struct t5_hooks *h = m->hooks;
    return h && h->param ? h->param(h->ctx, x, p) : p;
}

struct tensor *t5_linear(struct exec *x, const struct t5_model *m, struct t5_site s, enum t5_proj proj,
                             struct tensor *in, struct tensor *w) {
    const struct t5_hooks *h = m->hooks;
    s.proj = proj;
    w = t5_param(x, m, w);
    return h && h->linear ? h->linear(h->ctx, x, &s, in, w) : op_linear(x, in, w);
}

struct tensor *t5_norm(struct exec *x, const struct t5_model *m, struct t5_site s, struct tensor *in,
                           struct tensor *w) {
    const struct t5_hooks *h = m->hooks;
    struct tensor *y = op_rmsnorm(x, in, t5_param(x, m, w), m->cfg.layer_norm_eps);
    return h && h->norm_out ? h->norm_out(h->ctx, x, &s, y) : y;
}

struct tensor *t5_sublayer_out(struct exec *x, const struct t5_model *m, struct t5_site s, struct tensor *y) {
    const struct t5_hooks *h = m->hooks;
    return h && h->sublayer_out && y ? h->sublayer_out(h->ctx, x, &s, y) : y;
}

struct tensor *t5_attention(struct exec *x, const struct t5_model *m, struct t5_site s, const struct t5_attn *w,
                                struct tensor *hq, struct tensor *hkv, struct tensor *bias,
                                struct tensor *mask, int causal) {
    const struct t5_config *c = &m->cfg;
    struct tensor *q = t5_linear(x, m, s, T5_Q, hq, w->q);
    struct tensor *k = t5_linear(x, m, s, T5_K, hkv, w->k);
    struct tensor *v = t5_linear(x, m, s, T5_V, hkv, w->v);
    struct tensor *p = op_attn_softmax(x, op_attn_scores(x, q, k, c->num_heads), bias, mask, causal);
    p = op_dropout(x, p, c->dropout_rate);
    return t5_linear(x, m, s, T5_O, op_attn_context(x, p, v), w->o);
}

struct tensor *t5_ffn(struct exec *x, const struct t5_model *m, struct t5_site s, const struct t5_ffn *w,
                          struct tensor *h) {
    const struct t5_config *c = &m->cfg;
    struct tensor *a = t5_linear(x, m, s, T5_WI, h, w->wi);
    switch (c->ffn) {
    case T5_FFN_RELU: a = op_relu(x, a); break;
    case T5_FFN_GELU: a = op_gelu_new(x, a); break;
    case T5_FFN_GATED_GELU: a = op_mul(x, op_gelu_new(x, a), t5_linear(x, m, s, T5_WI_1, h, w->wi_1)); break;
    case T5_FFN_GATED_RELU: a = op_mul(x, op_relu(x, a), t5_linear(x, m, s, T5_WI_1, h, w->wi_1)); break;
    }
    return t5_linear(x, m, s, T5_WO, op_dropout(x, a, c->dropout_rate), w->wo);
}

struct tensor *t5_bias_for(struct exec *x, const struct t5_model *m, struct tensor *table,
                               int Q, int K, int bidirectional) {
    int32_t *b = arena_alloc(&x->meta, sizeof(int32_t) * (size_t)Q * (size_t)K); /* freed with the step */
    if (!b) {
        error_set("out of memory");
        return NULL;
    }
    t5_position_buckets(b, Q, K, bidirectional, m->cfg.num_buckets, m->cfg.max_distance);
    struct exec_scope sc = exec_scope_begin(x); /* the buckets stay only if backward needs them */
    struct tensor *buckets = exec_upload(x, DTYPE_I32, 2, (int64_t[]){Q, K}, b);
    return exec_scope_end(x, sc, op_position_bias(x, t5_param(x, m, table), buckets));
}

