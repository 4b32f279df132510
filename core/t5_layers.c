/* t5_layers.c: the pieces of a T5 block, with the method hooks applied: effective
 * parameters, projections, norms, sublayer outputs, attention, FFN, position bias.
 * Attention and FFN drop each intermediate as soon as it is consumed (exec_drop: its memory
 * goes unless the tape pinned it for backward); the caller's sublayer scope catches the
 * rest (hooks' temporaries). */
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
    /* bf16 storage: a sublayer's norm feeds projections only (unless a hook reads it) */
    int narrow = x->bf16 && s.sublayer != T5_FINAL && !(h && h->norm_out);
    struct tensor *y = op_rmsnorm_to(x, in, t5_param(x, m, w), m->cfg.layer_norm_eps, narrow ? DTYPE_BF16 : DTYPE_F32);
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
    struct tensor *ctx = op_attention(x, q, k, v, bias, mask, c->num_heads, causal, c->dropout_rate);
    /* each intermediate goes once consumed (what backward reads stays pinned) */
    exec_drop(x, q);
    exec_drop(x, k);
    exec_drop(x, v);
    struct tensor *out = t5_linear(x, m, s, T5_O, ctx, w->o);
    exec_drop(x, ctx);
    return out;
}

struct tensor *t5_ffn(struct exec *x, const struct t5_model *m, struct t5_site s, const struct t5_ffn *w,
                          struct tensor *h) {
    const struct t5_config *c = &m->cfg;
    struct tensor *a = t5_linear(x, m, s, T5_WI, h, w->wi), *act = NULL;
    if (c->ffn == T5_FFN_RELU) { /* T5 v1.0: relu and dropout in one op */
        struct tensor *d = op_relu_dropout(x, a, c->dropout_rate);
        exec_drop(x, a);
        struct tensor *out = t5_linear(x, m, s, T5_WO, d, w->wo);
        exec_drop(x, d);
        return out;
    }
    /* gated: wi_1 before the activation, the order the tape has always had (it sets the
     * order in which the input's gradient sums its two contributions) */
    int gated = c->ffn == T5_FFN_GATED_GELU || c->ffn == T5_FFN_GATED_RELU;
    struct tensor *gate = gated ? t5_linear(x, m, s, T5_WI_1, h, w->wi_1) : NULL;
    if (c->ffn == T5_FFN_GATED_GELU) { /* T5 v1.1: gelu and the gate's product in one op */
        act = op_gelu_mul(x, a, gate);
        exec_drop(x, a);
        exec_drop(x, gate);
    } else {
        act = c->ffn == T5_FFN_GATED_RELU ? op_relu(x, a) : op_gelu_new(x, a);
        exec_drop(x, a); /* consumed (gelu keeps it for backward, relu its output) */
        if (gate) {
            struct tensor *prod = op_mul(x, act, gate);
            exec_drop(x, act);
            exec_drop(x, gate);
            act = prod;
        }
    }
    struct tensor *d = op_dropout(x, act, c->dropout_rate);
    if (d != act) exec_drop(x, act);
    struct tensor *out = t5_linear(x, m, s, T5_WO, d, w->wo);
    exec_drop(x, d);
    return out;
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

