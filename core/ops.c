/* ops.c: shape-checked tensor ops over the backend table. */
#include "core/ops.h"

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops_backward.h"

#define BE (x->be)
#define REC(name, bw, out, a, b, c, d) tape_record(x, name, bw, out, a, b, c, d)
#define NEEDS(t) ((t) && (t)->requires_grad)

/* Pin t for n's backward when cond holds (what each backward reads: core/ops_backward.c).
 * Returns nonzero on failure. */
static int keep_if(struct exec *x, struct tape_node *n, const struct tensor *t, int cond) {
    return n && cond && tape_save(x, n, t);
}

static int backend_failed(int rc, const char *op) {
    if (rc) error_wrap("%s: ", op);
    return rc;
}

static struct tensor *like(struct exec *x, const struct tensor *t) {
    return exec_tensor(x, t->dtype, t->ndim, t->shape);
}

#define IS_BF16(t) ((t) && (t)->dtype == DTYPE_BF16)

/* bf16 storage: an op computing in f32 given a bf16 input t widens it (op_convert: a tape node
 * of its own) and runs `call` again on the copy, which goes once the op is done unless the
 * tape pinned it; an op needing bf16 narrows an f32 input so. */
#define CONVERT_AND_CALL(t, to, call)                                                                  \
    do {                                                                                               \
        struct tensor *conv_ = (t) = op_convert(x, (t), (to)), *res_ = (call);                         \
        if (res_ != conv_) exec_drop(x, conv_);                                                        \
        return res_;                                                                                   \
    } while (0)
#define WIDEN_AND_CALL(t, call) CONVERT_AND_CALL(t, DTYPE_F32, call)
#define NARROW_AND_CALL(t, call) CONVERT_AND_CALL(t, DTYPE_BF16, call)

static int same_shape(const struct tensor *a, const struct tensor *b, const char *op) {
    char sa[64], sb[64];
    if (a->ndim == b->ndim) {
        int i = 0;
        while (i < a->ndim && a->shape[i] == b->shape[i]) i++;
        if (i == a->ndim) return 0;
    }
    return error_set("%s: shape mismatch %s vs %s", op, tensor_shape_str(a, sa, sizeof sa),
                     tensor_shape_str(b, sb, sizeof sb));
}

struct tensor *op_convert(struct exec *x, struct tensor *in, enum dtype to) {
    if (!in) return NULL;
    if (in->dtype == to) return in;
    int to_bf16 = to == DTYPE_BF16;
    if ((in->dtype != DTYPE_F32 && in->dtype != DTYPE_BF16) || (to != DTYPE_F32 && to != DTYPE_BF16)) {
        error_set("convert: %s to %s is not supported (f32 <-> bf16 only)", dtype_name(in->dtype), dtype_name(to));
        return NULL;
    }
    if (!BE->convert) {
        error_set("convert: the %s backend has no bf16 storage", BE->name);
        return NULL;
    }
    struct tensor *y = exec_tensor(x, to, in->ndim, in->shape);
    if (!y || backend_failed(BE->convert(y->data, in->data, (size_t)tensor_numel(in), to_bf16), "convert"))
        return NULL;
    REC("convert", convert_backward, y, in, NULL, NULL, NULL); /* the gradient passes as it is */
    return y;
}

struct tensor *op_linear(struct exec *x, struct tensor *in, struct tensor *w) {
    if (!in || !w) return NULL;
    int64_t rows = tensor_rows(in), k = tensor_cols(in), n = w->shape[0];
    if (w->ndim != 2 || w->shape[1] != k) {
        char si[64], sw[64];
        error_set("linear %s: input %s does not match weight %s", w->name ? w->name : "",
                  tensor_shape_str(in, si, sizeof si), tensor_shape_str(w, sw, sizeof sw));
        return NULL;
    }
    /* bf16 storage, or a weight stored bf16: both operands bf16, the output too */
    int bf16 = x->bf16 || IS_BF16(in) || IS_BF16(w);
    if (bf16 && !IS_BF16(in)) NARROW_AND_CALL(in, op_linear(x, in, w));
    if (bf16 && (!BE->gemm_bf16 || !BE->convert)) {
        error_set("linear %s: the %s backend has no bf16 GEMM", w->name ? w->name : "", BE->name);
        return NULL;
    }
    int64_t shape[TENSOR_MAX_DIMS];
    for (int i = 0; i < in->ndim; i++) shape[i] = in->shape[i];
    shape[in->ndim - 1] = n;
    struct tensor *y = exec_tensor(x, bf16 ? DTYPE_BF16 : DTYPE_F32, in->ndim, shape);
    if (!y) return NULL;
    int rc;
    if (bf16) { /* an f32 weight (it trains, or a tied head) is narrowed for this product only:
                 * backward narrows it again rather than keep a copy (linear_backward) */
        uint16_t *w16 = IS_BF16(w) ? NULL : narrowed_scratch(x, w);
        rc = (!IS_BF16(w) && !w16) ||
             BE->gemm_bf16(0, 1, (int)rows, (int)n, (int)k, 1.0f, in->data, (int)k, 0, w16 ? w16 : w->data, (int)k,
                           0, 0.0f, y->data, 1, (int)n, 0, 1);
        if (w16) exec_scratch_done(x, w16);
    } else {
        rc = BE->gemm(0, 1, (int)rows, (int)n, (int)k, 1.0f, in->data, (int)k, 0, w->data, (int)k, 0, 0.0f, y->data,
                      (int)n, 0, 1);
    }
    if (backend_failed(rc, "linear")) return NULL;
    struct tape_node *nd = REC("linear", linear_backward, y, in, w, NULL, NULL);
    /* dx = dy W needs W, dW = dy^T x needs x */
    if (keep_if(x, nd, w, NEEDS(in)) || keep_if(x, nd, in, NEEDS(w))) return NULL;
    return y;
}

/* out = table[ids]; backward scatter-adds with `backward` (op_embedding's for repeated ids,
 * the parallel one for a permutation) */
static struct tensor *gather_rows(struct exec *x, struct tensor *table, struct tensor *ids, const char *name,
                                  int (*backward)(struct exec *, struct tape_node *)) {
    if (!table || !ids) return NULL;
    if (IS_BF16(table)) WIDEN_AND_CALL(table, gather_rows(x, table, ids, name, backward));
    int64_t shape[TENSOR_MAX_DIMS];
    for (int i = 0; i < ids->ndim; i++) shape[i] = ids->shape[i];
    shape[ids->ndim] = table->shape[1];
    struct tensor *y = exec_tensor(x, DTYPE_F32, ids->ndim + 1, shape);
    if (!y) return NULL;
    if (backend_failed(BE->embedding(y->data, table->data, ids->data, tensor_numel(ids), table->shape[1]), name))
        return NULL;
    struct tape_node *nd = REC(name, backward, y, table, ids, NULL, NULL);
    if (keep_if(x, nd, ids, NEEDS(table))) return NULL; /* scatter-add by ids */
    return y;
}

struct tensor *op_embedding(struct exec *x, struct tensor *table, struct tensor *ids) {
    return gather_rows(x, table, ids, "embedding", embedding_backward);
}

struct tensor *op_gather_unique(struct exec *x, struct tensor *table, struct tensor *ids) {
    return gather_rows(x, table, ids, "gather_unique", embedding_unique_backward);
}

struct tensor *op_rmsnorm(struct exec *x, struct tensor *in, struct tensor *w, float eps) {
    return op_rmsnorm_to(x, in, w, eps, DTYPE_F32);
}

struct tensor *op_rmsnorm_to(struct exec *x, struct tensor *in, struct tensor *w, float eps, enum dtype out) {
    if (!in || !w) return NULL;
    if (IS_BF16(in)) WIDEN_AND_CALL(in, op_rmsnorm_to(x, in, w, eps, out));
    if (IS_BF16(w)) WIDEN_AND_CALL(w, op_rmsnorm_to(x, in, w, eps, out));
    if (w->shape[0] != tensor_cols(in)) {
        error_set("rmsnorm %s: weight of %lld for rows of %lld", w->name ? w->name : "",
                  (long long)w->shape[0], (long long)tensor_cols(in));
        return NULL;
    }
    int narrow = out == DTYPE_BF16;
    if (narrow && !BE->rmsnorm_to_bf16) { /* composed: rmsnorm, then narrowed */
        struct tensor *y = op_rmsnorm_to(x, in, w, eps, DTYPE_F32), *n = op_convert(x, y, DTYPE_BF16);
        if (n != y) exec_drop(x, y);
        return n;
    }
    struct tensor *y = exec_tensor(x, narrow ? DTYPE_BF16 : DTYPE_F32, in->ndim, in->shape);
    if (!y) return NULL;
    if (backend_failed(narrow ? BE->rmsnorm_to_bf16(y->data, in->data, w->data, tensor_rows(in), tensor_cols(in), eps)
                              : BE->rmsnorm(y->data, in->data, w->data, tensor_rows(in), tensor_cols(in), eps),
                       "rmsnorm"))
        return NULL;
    struct tape_node *n = REC("rmsnorm", rmsnorm_backward, y, in, w, NULL, NULL);
    if (n) n->f[0] = eps;
    /* the kernel reads x for both gradients (the rms), w only for dx */
    if (keep_if(x, n, in, 1) || keep_if(x, n, w, NEEDS(in))) return NULL;
    return y;
}

struct tensor *op_relu(struct exec *x, struct tensor *in) {
    if (!in) return NULL;
    if (IS_BF16(in)) WIDEN_AND_CALL(in, op_relu(x, in));
    struct tensor *y = like(x, in);
    if (!y || backend_failed(BE->relu(y->data, in->data, (size_t)tensor_numel(in)), "relu")) return NULL;
    struct tape_node *nd = REC("relu", relu_backward, y, in, NULL, NULL, NULL);
    if (keep_if(x, nd, y, 1)) return NULL; /* the mask from the output */
    return y;
}

struct tensor *op_gelu_new(struct exec *x, struct tensor *in) {
    if (!in) return NULL;
    if (IS_BF16(in)) WIDEN_AND_CALL(in, op_gelu_new(x, in));
    struct tensor *y = like(x, in);
    if (!y || backend_failed(BE->gelu_new(y->data, in->data, (size_t)tensor_numel(in)), "gelu_new")) return NULL;
    struct tape_node *nd = REC("gelu_new", gelu_new_backward, y, in, NULL, NULL, NULL);
    if (keep_if(x, nd, in, 1)) return NULL;
    return y;
}

struct tensor *op_mul(struct exec *x, struct tensor *a, struct tensor *b) {
    if (!a || !b || same_shape(a, b, "mul")) return NULL;
    if (IS_BF16(a)) WIDEN_AND_CALL(a, op_mul(x, a, b));
    if (IS_BF16(b)) WIDEN_AND_CALL(b, op_mul(x, a, b));
    struct tensor *y = like(x, a);
    if (!y || backend_failed(BE->mul(y->data, a->data, b->data, (size_t)tensor_numel(a)), "mul")) return NULL;
    struct tape_node *nd = REC("mul", mul_backward, y, a, b, NULL, NULL);
    if (keep_if(x, nd, b, NEEDS(a)) || keep_if(x, nd, a, NEEDS(b))) return NULL;
    return y;
}

struct tensor *op_add(struct exec *x, struct tensor *a, struct tensor *b) {
    if (!a || !b || same_shape(a, b, "add")) return NULL;
    if (IS_BF16(a)) WIDEN_AND_CALL(a, op_add(x, a, b));
    if (IS_BF16(b)) WIDEN_AND_CALL(b, op_add(x, a, b));
    struct tensor *y = like(x, a);
    if (!y || backend_failed(BE->add(y->data, a->data, b->data, (size_t)tensor_numel(a)), "add")) return NULL;
    REC("add", add_backward, y, a, b, NULL, NULL);
    return y;
}

struct tensor *op_scale(struct exec *x, struct tensor *in, float s) {
    if (!in) return NULL;
    if (IS_BF16(in)) WIDEN_AND_CALL(in, op_scale(x, in, s));
    struct tensor *y = like(x, in);
    if (!y || backend_failed(BE->scale(y->data, in->data, s, (size_t)tensor_numel(in)), "scale")) return NULL;
    struct tape_node *n = REC("scale", scale_backward, y, in, NULL, NULL, NULL);
    if (n) n->f[0] = s;
    return y;
}

struct tensor *op_attn_scores(struct exec *x, struct tensor *q, struct tensor *k, int heads) {
    if (!q || !k) return NULL;
    if (IS_BF16(q)) WIDEN_AND_CALL(q, op_attn_scores(x, q, k, heads));
    if (IS_BF16(k)) WIDEN_AND_CALL(k, op_attn_scores(x, q, k, heads));
    int64_t B = q->shape[0], Tq = q->shape[1], Tk = k->shape[1], inner = q->shape[2];
    if (q->ndim != 3 || k->ndim != 3 || k->shape[0] != B || k->shape[2] != inner || inner % heads) {
        error_set("attention scores: q and k shapes do not match");
        return NULL;
    }
    int64_t shape[4] = {B, heads, Tq, Tk};
    struct tensor *s = exec_tensor(x, DTYPE_F32, 4, shape);
    if (!s) return NULL;
    if (backend_failed(attn_scores_gemm(BE, s->data, q->data, k->data, B, heads, Tq, Tk, inner), "attention scores"))
        return NULL;
    struct tape_node *n = REC("attention scores", attn_scores_backward, s, q, k, NULL, NULL);
    if (n) n->i[0] = heads;
    if (keep_if(x, n, k, NEEDS(q)) || keep_if(x, n, q, NEEDS(k))) return NULL;
    return s;
}

struct tensor *op_attn_softmax(struct exec *x, struct tensor *scores, struct tensor *bias,
                               struct tensor *mask, int causal) {
    if (!scores) return NULL;
    if (IS_BF16(scores)) WIDEN_AND_CALL(scores, op_attn_softmax(x, scores, bias, mask, causal));
    if (IS_BF16(bias)) WIDEN_AND_CALL(bias, op_attn_softmax(x, scores, bias, mask, causal));
    if (IS_BF16(mask)) WIDEN_AND_CALL(mask, op_attn_softmax(x, scores, bias, mask, causal));
    int64_t B = scores->shape[0], H = scores->shape[1], Q = scores->shape[2], K = scores->shape[3];
    if ((bias && (bias->shape[0] != H || bias->shape[1] != Q || bias->shape[2] != K)) ||
        (mask && (mask->shape[0] != B || mask->shape[1] != K))) {
        error_set("attention softmax: bias or mask shape does not match the scores");
        return NULL;
    }
    /* the probabilities overwrite the scores' memory but get their own header, so the two
     * keep separate gradients */
    struct tensor *p = arena_alloc(&x->meta, sizeof *p);
    if (!p) return NULL;
    tensor_init(p, DTYPE_F32, 4, scores->shape);
    p->data = scores->data;
    if (backend_failed(BE->attn_softmax(p->data, bias ? bias->data : NULL, mask ? mask->data : NULL,
                                        causal, B, H, Q, K), "attention softmax"))
        return NULL;
    struct tape_node *nd = REC("attention softmax", attn_softmax_backward, p, scores, bias, mask, NULL);
    if (keep_if(x, nd, p, 1)) return NULL; /* the probabilities; not the bias or mask */
    return p;
}

struct tensor *op_attn_context(struct exec *x, struct tensor *probs, struct tensor *v) {
    if (!probs || !v) return NULL;
    if (IS_BF16(probs)) WIDEN_AND_CALL(probs, op_attn_context(x, probs, v));
    if (IS_BF16(v)) WIDEN_AND_CALL(v, op_attn_context(x, probs, v));
    int64_t B = probs->shape[0], H = probs->shape[1], Tq = probs->shape[2], Tk = probs->shape[3];
    int64_t inner = v->shape[2];
    if (v->ndim != 3 || v->shape[0] != B || v->shape[1] != Tk || inner % H) {
        error_set("attention context: probs and v shapes do not match");
        return NULL;
    }
    struct tensor *c = exec_tensor(x, DTYPE_F32, 3, (int64_t[]){B, Tq, inner});
    if (!c) return NULL;
    if (backend_failed(attn_context_gemm(BE, c->data, probs->data, v->data, B, H, Tq, Tk, inner), "attention context"))
        return NULL;
    struct tape_node *nd = REC("attention context", attn_context_backward, c, probs, v, NULL, NULL);
    if (keep_if(x, nd, v, NEEDS(probs)) || keep_if(x, nd, probs, NEEDS(v))) return NULL;
    return c;
}

/* A bf16-in bf16-out op without its fused bf16 kernel (or with fusion off): op on the widened
 * inputs, its output narrowed, the bits of the fused kernel (which computes in f32 and
 * narrows on store). b may be NULL. */
static struct tensor *composed_bf16(struct exec *x, struct tensor *a, struct tensor *b, float p,
                                    struct tensor *(*op)(struct exec *, struct tensor *, struct tensor *, float)) {
    struct tensor *a32 = op_convert(x, a, DTYPE_F32), *b32 = op_convert(x, b, DTYPE_F32);
    struct tensor *y = op(x, a32, b32, p), *n = op_convert(x, y, DTYPE_BF16);
    if (a32 != a) exec_drop(x, a32);
    if (b32 != b) exec_drop(x, b32);
    if (y != n) exec_drop(x, y);
    return n;
}

static struct tensor *relu_dropout_op(struct exec *x, struct tensor *a, struct tensor *unused, float p) {
    (void)unused;
    return op_relu_dropout(x, a, p);
}

static struct tensor *gelu_mul_op(struct exec *x, struct tensor *a, struct tensor *g, float unused) {
    (void)unused;
    return op_gelu_mul(x, a, g);
}

/* The dropout stream's next n draws: their Philox counter offset (four values per counter).
 * Every dropout, fused or not, takes its mask so: fused and separate ops draw the same. */
static uint64_t dropout_draws(struct exec *x, size_t n) {
    uint64_t offset = x->rng_offset;
    x->rng_offset += (n + 3) / 4;
    return offset;
}

/* a node whose backward regenerates the mask (dropout_backward's scalars) */
static void dropout_scalars(struct tape_node *nd, float p, uint64_t seed, uint64_t offset) {
    if (!nd) return;
    nd->f[0] = p;
    nd->i[0] = (int64_t)seed;
    nd->i[1] = (int64_t)offset;
}

/* Whether op_attention recomputes (x->recompute_attention): under EXEC_ATTN_RECOMPUTE when
 * the bytes recomputation pins beyond the op-by-op chain's pins are fewer than the
 * probabilities the chain keeps. The chain keeps the probabilities (the softmax node, when
 * q, k or the bias trains) and the dropped ones (the context node, when v trains; without
 * dropout they are the same memory); its scores node keeps k when q trains and q when k
 * trains, while recomputation keeps both. The bias and the mask are not counted: one each
 * per stack, shared by all its layers, at most 1/B of one layer's probabilities. Without a
 * tape nothing is kept either way, and the recomputing forward needs one buffer fewer. */
static int recompute_pays(const struct exec *x, const struct tensor *q, const struct tensor *k,
                          const struct tensor *v, const struct tensor *bias, size_t probs_bytes, int dropout) {
    if (x->recompute_attention == EXEC_ATTN_RECOMPUTE_ALWAYS) return 1;
    if (x->recompute_attention != EXEC_ATTN_RECOMPUTE) return 0;
    int ds = NEEDS(q) || NEEDS(k) || NEEDS(bias);
    if (!x->record || !(ds || NEEDS(v))) return 1;
    size_t kept = (ds ? probs_bytes : 0) + (NEEDS(v) && (dropout || !ds) ? probs_bytes : 0);
    size_t extra = (NEEDS(k) ? 0 : tensor_bytes(q)) + (NEEDS(q) ? 0 : tensor_bytes(k));
    return extra < kept;
}

struct tensor *op_attention(struct exec *x, struct tensor *q, struct tensor *k, struct tensor *v,
                            struct tensor *bias, struct tensor *mask, int heads, int causal, float p) {
    if (!q || !k || !v) return NULL;
    /* bf16 storage: scores, probabilities and context in f32. Recomputing, the node keeps q, k
     * and v bf16 and widens them into scratch memory when it needs them; the chain, and mixed
     * dtypes, get widened copies. */
    int all16 = IS_BF16(q) && IS_BF16(k) && IS_BF16(v);
    if (!all16 && IS_BF16(q)) WIDEN_AND_CALL(q, op_attention(x, q, k, v, bias, mask, heads, causal, p));
    if (!all16 && IS_BF16(k)) WIDEN_AND_CALL(k, op_attention(x, q, k, v, bias, mask, heads, causal, p));
    if (!all16 && IS_BF16(v)) WIDEN_AND_CALL(v, op_attention(x, q, k, v, bias, mask, heads, causal, p));
    if (IS_BF16(bias)) WIDEN_AND_CALL(bias, op_attention(x, q, k, v, bias, mask, heads, causal, p));
    if (IS_BF16(mask)) WIDEN_AND_CALL(mask, op_attention(x, q, k, v, bias, mask, heads, causal, p));
    int64_t B = q->shape[0], Tq = q->shape[1], Tk = k->shape[1], inner = q->shape[2];
    if (q->ndim != 3 || k->ndim != 3 || v->ndim != 3 || heads < 1 || inner % heads || k->shape[0] != B ||
        v->shape[0] != B || v->shape[1] != Tk || k->shape[2] != inner || v->shape[2] != inner ||
        (bias && (bias->ndim != 3 || bias->shape[0] != heads || bias->shape[1] != Tq || bias->shape[2] != Tk)) ||
        (mask && (mask->ndim != 2 || mask->shape[0] != B || mask->shape[1] != Tk))) {
        char sq[64], sk[64], sv[64];
        error_set("attention: q %s, k %s, v %s, %d heads, bias or mask do not match", tensor_shape_str(q, sq, sizeof sq),
                  tensor_shape_str(k, sk, sizeof sk), tensor_shape_str(v, sv, sizeof sv), heads);
        return NULL;
    }
    int dropout = x->training && p > 0.0f;
    size_t np = (size_t)(B * heads * Tq * Tk);
    if (!recompute_pays(x, q, k, v, bias, np * sizeof(float), dropout)) { /* the chain: probabilities kept */
        if (all16) WIDEN_AND_CALL(q, op_attention(x, q, k, v, bias, mask, heads, causal, p));
        struct tensor *probs = op_attn_softmax(x, op_attn_scores(x, q, k, heads), bias, mask, causal);
        struct tensor *pd = op_dropout(x, probs, p);
        struct tensor *c = op_attn_context(x, pd, v);
        if (pd != probs) exec_drop(x, probs);
        exec_drop(x, pd);
        return c;
    }
    /* the same backend calls as the chain's (core/ops_backward.h), the dropout in place */
    uint64_t offset = dropout ? dropout_draws(x, np) : x->rng_offset;
    if (dropout) {
        if (!BE->dropout) {
            error_set("dropout: the %s backend has no dropout yet", BE->name);
            return NULL;
        }
    }
    struct tensor *probs = exec_tensor(x, DTYPE_F32, 4, (int64_t[]){B, heads, Tq, Tk});
    struct tensor *c = probs ? exec_tensor(x, DTYPE_F32, 3, (int64_t[]){B, Tq, inner}) : NULL;
    const float *qd, *kd, *vd;
    float *wide = NULL;
    int rc = !c || attention_inputs_f32(x, q, k, v, &qd, &kd, &vd, &wide) ||
             attn_probs(BE, x->fuse, probs->data, qd, kd, bias ? bias->data : NULL, mask ? mask->data : NULL,
                        causal, B, heads, Tq, Tk, inner, dropout ? p : 0.0f, x->seed, offset) ||
             attn_context_gemm(BE, c->data, probs->data, vd, B, heads, Tq, Tk, inner);
    if (wide) exec_scratch_done(x, wide);
    if (backend_failed(rc, "attention")) return NULL;
    exec_drop(x, probs); /* recomputed in backward */
    struct tape_node *nd = REC("attention", attention_backward, c, q, k, v, bias);
    if (nd) {
        nd->in[4] = mask;
        nd->f[0] = dropout ? p : 0.0f;
        nd->i[0] = heads;
        nd->i[1] = causal;
        nd->i[2] = (int64_t)x->seed;
        nd->i[3] = (int64_t)offset;
        /* the probabilities' inputs; v for d probs = dc v^T */
        if (tape_save(x, nd, q) || tape_save(x, nd, k) || tape_save(x, nd, bias) || tape_save(x, nd, mask) ||
            keep_if(x, nd, v, NEEDS(q) || NEEDS(k) || NEEDS(bias)))
            return NULL;
    }
    return c;
}

struct tensor *op_position_bias(struct exec *x, struct tensor *table, struct tensor *buckets) {
    if (!table || !buckets) return NULL;
    if (IS_BF16(table)) WIDEN_AND_CALL(table, op_position_bias(x, table, buckets));
    int64_t H = table->shape[1];
    struct tensor *y = exec_tensor(x, DTYPE_F32, 3, (int64_t[]){H, buckets->shape[0], buckets->shape[1]});
    if (!y || backend_failed(BE->position_bias(y->data, table->data, buckets->data, H, tensor_numel(buckets)),
                             "position bias"))
        return NULL;
    struct tape_node *nd = REC("position bias", position_bias_backward, y, table, buckets, NULL, NULL);
    if (keep_if(x, nd, buckets, NEEDS(table))) return NULL;
    return y;
}

struct tensor *op_cross_entropy(struct exec *x, struct tensor *logits, struct tensor *targets) {
    if (!logits || !targets) return NULL;
    if (IS_BF16(logits)) WIDEN_AND_CALL(logits, op_cross_entropy(x, logits, targets));
    int64_t rows = tensor_rows(logits), V = tensor_cols(logits);
    if (tensor_numel(targets) != rows) {
        error_set("cross-entropy: %lld targets for %lld rows of logits", (long long)tensor_numel(targets),
                  (long long)rows);
        return NULL;
    }
    struct tensor *loss = exec_tensor(x, DTYPE_F32, 1, (int64_t[]){1});
    struct tensor *row_loss = exec_tensor(x, DTYPE_F32, 1, (int64_t[]){rows});
    if (!loss || !row_loss ||
        backend_failed(BE->cross_entropy(loss->data, row_loss->data, logits->data, targets->data, rows, V),
                       "cross-entropy"))
        return NULL;
    struct tape_node *nd = REC("cross-entropy", cross_entropy_backward, loss, logits, targets, NULL, NULL);
    if (keep_if(x, nd, logits, 1) || keep_if(x, nd, targets, 1)) return NULL;
    return loss;
}

struct tensor *op_argmax(struct exec *x, struct tensor *in) {
    if (!in) return NULL;
    if (IS_BF16(in)) WIDEN_AND_CALL(in, op_argmax(x, in));
    struct tensor *y = exec_tensor(x, DTYPE_I32, 1, (int64_t[]){tensor_rows(in)});
    if (!y || backend_failed(BE->argmax(y->data, in->data, tensor_rows(in), tensor_cols(in)), "argmax")) return NULL;
    return y;
}

struct tensor *op_dropout(struct exec *x, struct tensor *in, float p) {
    if (!in) return NULL;
    if (!x->training || p <= 0.0f) return in;
    if (IS_BF16(in)) WIDEN_AND_CALL(in, op_dropout(x, in, p));
    size_t n = (size_t)tensor_numel(in);
    uint64_t offset = dropout_draws(x, n);
    if (!BE->dropout) {
        error_set("dropout: the %s backend has no dropout yet", BE->name);
        return NULL;
    }
    struct tensor *y = like(x, in);
    if (!y || backend_failed(BE->dropout(y->data, in->data, n, p, x->seed, offset), "dropout")) return NULL;
    dropout_scalars(REC("dropout", dropout_backward, y, in, NULL, NULL, NULL), p, x->seed, offset);
    return y;
}

struct tensor *op_relu_dropout(struct exec *x, struct tensor *in, float p) {
    if (!in) return NULL;
    if (!x->training || p <= 0.0f) return op_relu(x, in);
    /* a bf16 input: the fused bf16 kernel, else composed (the same bits); the output bf16 */
    int bf16 = IS_BF16(in);
    if (bf16 && (!x->fuse || !BE->relu_dropout_bf16 || !BE->relu_dropout_backward))
        return composed_bf16(x, in, NULL, p, relu_dropout_op);
    if (!x->fuse || !BE->relu_dropout || !BE->relu_dropout_backward) {
        struct tensor *act = op_relu(x, in), *d = op_dropout(x, act, p);
        if (d && d != act) exec_drop(x, act);
        return d;
    }
    size_t n = (size_t)tensor_numel(in);
    uint64_t offset = dropout_draws(x, n);
    struct tensor *y = like(x, in);
    struct tensor *mask = exec_tensor(x, DTYPE_I32, 1, (int64_t[]){(int64_t)((n + 31) / 32)});
    if (!y || !mask ||
        backend_failed(bf16 ? BE->relu_dropout_bf16(y->data, mask->data, in->data, n, p, x->seed, offset)
                            : BE->relu_dropout(y->data, mask->data, in->data, n, p, x->seed, offset),
                       "relu_dropout"))
        return NULL;
    struct tape_node *nd = REC("relu_dropout", relu_dropout_backward, y, in, mask, NULL, NULL);
    if (nd) nd->f[0] = p;
    /* backward reads 1 bit per element; y itself goes once its readers are done */
    if (keep_if(x, nd, mask, 1)) return NULL;
    exec_drop(x, mask);
    return y;
}

struct tensor *op_dropout_add(struct exec *x, struct tensor *h, struct tensor *in, float p) {
    if (!h || !in) return NULL;
    if (IS_BF16(h)) WIDEN_AND_CALL(h, op_dropout_add(x, h, in, p));
    int bf16 = IS_BF16(in); /* a bf16 sublayer output: the bf16 kernel, the sum f32 */
    if (!x->training || p <= 0.0f || !x->fuse || (bf16 ? !BE->dropout_add_bf16 : !BE->dropout_add)) {
        struct tensor *d = op_dropout(x, in, p), *y = op_add(x, h, d);
        if (d != in) exec_drop(x, d);
        return y;
    }
    if (same_shape(h, in, "dropout_add")) return NULL;
    size_t n = (size_t)tensor_numel(in);
    uint64_t offset = dropout_draws(x, n);
    struct tensor *y = like(x, h);
    if (!y || backend_failed(bf16 ? BE->dropout_add_bf16(y->data, h->data, in->data, n, p, x->seed, offset)
                                  : BE->dropout_add(y->data, h->data, in->data, n, p, x->seed, offset),
                             "dropout_add"))
        return NULL;
    dropout_scalars(REC("dropout_add", dropout_add_backward, y, h, in, NULL, NULL), p, x->seed, offset);
    return y;
}

struct tensor *op_gelu_mul(struct exec *x, struct tensor *a, struct tensor *g) {
    if (!a || !g || same_shape(a, g, "gelu_mul")) return NULL;
    /* both bf16: the fused bf16 kernel, else composed (the same bits), the output bf16; one
     * bf16, the other f32: widened, the output f32 */
    int bf16 = IS_BF16(a) && IS_BF16(g);
    if (bf16 && (!x->fuse || !BE->gelu_mul_bf16 || !BE->gelu_mul_bf16_backward))
        return composed_bf16(x, a, g, 0.0f, gelu_mul_op);
    if (!bf16 && IS_BF16(a)) WIDEN_AND_CALL(a, op_gelu_mul(x, a, g));
    if (!bf16 && IS_BF16(g)) WIDEN_AND_CALL(g, op_gelu_mul(x, a, g));
    if (!x->fuse || !BE->gelu_mul || !BE->gelu_mul_backward) {
        struct tensor *act = op_gelu_new(x, a), *y = op_mul(x, act, g);
        exec_drop(x, act);
        return y;
    }
    struct tensor *y = like(x, a);
    if (!y || backend_failed(bf16 ? BE->gelu_mul_bf16(y->data, a->data, g->data, (size_t)tensor_numel(a))
                                  : BE->gelu_mul(y->data, a->data, g->data, (size_t)tensor_numel(a)),
                             "gelu_mul"))
        return NULL;
    struct tape_node *nd = REC("gelu_mul", gelu_mul_backward, y, a, g, NULL, NULL);
    /* a for both gradients (gelu's output is recomputed from it), g for a's */
    if (keep_if(x, nd, a, 1) || keep_if(x, nd, g, NEEDS(a))) return NULL;
    return y;
}

/* ---- ops for methods ---- */

struct tensor *op_add_bias(struct exec *x, struct tensor *in, struct tensor *b) {
    if (!in || !b) return NULL;
    if (IS_BF16(in)) WIDEN_AND_CALL(in, op_add_bias(x, in, b));
    if (IS_BF16(b)) WIDEN_AND_CALL(b, op_add_bias(x, in, b));
    int64_t rows = tensor_rows(in), n = tensor_cols(in);
    if (tensor_numel(b) != n) {
        error_set("add_bias %s: bias of %lld for rows of %lld", b->name ? b->name : "", (long long)tensor_numel(b),
                  (long long)n);
        return NULL;
    }
    if (!BE->add_bias) {
        error_set("add_bias: the %s backend has no add_bias", BE->name);
        return NULL;
    }
    struct tensor *y = like(x, in);
    if (!y || backend_failed(BE->add_bias(y->data, in->data, b->data, rows, n), "add_bias")) return NULL;
    REC("add_bias", add_bias_backward, y, in, b, NULL, NULL); /* db = ones^T dy: exec_ones */
    return y;
}

struct tensor *op_prepend(struct exec *x, struct tensor *prefix, struct tensor *h) {
    if (!prefix || !h) return NULL;
    if (IS_BF16(prefix)) WIDEN_AND_CALL(prefix, op_prepend(x, prefix, h));
    if (IS_BF16(h)) WIDEN_AND_CALL(h, op_prepend(x, prefix, h));
    int64_t B = h->shape[0], S = h->shape[1], d = h->shape[2], P = prefix->shape[0];
    if (h->ndim != 3 || prefix->ndim != 2 || prefix->shape[1] != d) {
        error_set("prepend: prefix [%lld, %lld] does not fit rows of %lld", (long long)P,
                  (long long)prefix->shape[1], (long long)d);
        return NULL;
    }
    struct tensor *y = exec_tensor(x, DTYPE_F32, 3, (int64_t[]){B, P + S, d});
    if (!y) return NULL;
    float *yd = y->data;
    if (backend_failed(BE->copy2d(yd, (P + S) * d, prefix->data, 0, B, P * d, 0), "prepend") ||
        backend_failed(BE->copy2d(yd + P * d, (P + S) * d, h->data, S * d, B, S * d, 0), "prepend"))
        return NULL;
    REC("prepend", prepend_backward, y, prefix, h, NULL, NULL);
    return y;
}

struct tensor *op_permute_0213(struct exec *x, struct tensor *in) {
    if (!in) return NULL;
    if (IS_BF16(in)) WIDEN_AND_CALL(in, op_permute_0213(x, in));
    if (in->ndim != 4) {
        error_set("permute_0213: needs a 4-D tensor");
        return NULL;
    }
    const int64_t *s = in->shape;
    struct tensor *y = exec_tensor(x, DTYPE_F32, 4, (int64_t[]){s[0], s[2], s[1], s[3]});
    if (!y || backend_failed(BE->permute_0213(y->data, in->data, s[0], s[1], s[2], s[3], 0), "permute")) return NULL;
    REC("permute_0213", permute_0213_backward, y, in, NULL, NULL, NULL);
    return y;
}

struct tensor *op_bmm(struct exec *x, struct tensor *a, struct tensor *b) {
    if (!a || !b) return NULL;
    if (IS_BF16(a)) WIDEN_AND_CALL(a, op_bmm(x, a, b));
    if (IS_BF16(b)) WIDEN_AND_CALL(b, op_bmm(x, a, b));
    int64_t bt = a->ndim == 3 ? a->shape[0] : 1, m = a->shape[a->ndim - 2], k = a->shape[a->ndim - 1];
    int64_t btb = b->ndim == 3 ? b->shape[0] : 1, kb = b->shape[b->ndim - 2], n = b->shape[b->ndim - 1];
    if (a->ndim < 2 || b->ndim < 2 || a->ndim > 3 || b->ndim > 3 || k != kb || bt != btb) {
        char sa[64], sb[64];
        error_set("bmm: %s @ %s do not fit", tensor_shape_str(a, sa, sizeof sa), tensor_shape_str(b, sb, sizeof sb));
        return NULL;
    }
    struct tensor *y = a->ndim == 3 ? exec_tensor(x, DTYPE_F32, 3, (int64_t[]){bt, m, n})
                                    : exec_tensor(x, DTYPE_F32, 2, (int64_t[]){m, n});
    if (!y || backend_failed(BE->gemm(0, 0, (int)m, (int)n, (int)k, 1.0f, a->data, (int)k, m * k, b->data, (int)n,
                                      k * n, 0.0f, y->data, (int)n, m * n, (int)bt), "bmm"))
        return NULL;
    struct tape_node *nd = REC("bmm", bmm_backward, y, a, b, NULL, NULL);
    if (keep_if(x, nd, b, NEEDS(a)) || keep_if(x, nd, a, NEEDS(b))) return NULL;
    return y;
}

struct tensor *op_view(struct exec *x, struct tensor *in, int ndim, const int64_t *shape) {
    if (!in) return NULL;
    struct tensor *y = arena_alloc(&x->meta, sizeof *y);
    if (!y) return NULL;
    tensor_init(y, in->dtype, ndim, shape);
    if (tensor_numel(y) != tensor_numel(in)) {
        char a[64], b[64];
        error_set("view: %s has %lld elements, %s needs %lld", tensor_shape_str(in, a, sizeof a),
                  (long long)tensor_numel(in), tensor_shape_str(y, b, sizeof b), (long long)tensor_numel(y));
        return NULL;
    }
    y->data = in->data;
    REC("view", view_backward, y, in, NULL, NULL, NULL);
    return y;
}

struct tensor *op_fwht(struct exec *x, struct tensor *in, float backward_scale) {
    if (!in) return NULL;
    if (IS_BF16(in)) WIDEN_AND_CALL(in, op_fwht(x, in, backward_scale));
    struct tensor *y = like(x, in);
    int64_t rows = tensor_rows(in), L = tensor_cols(in);
    if (!y || backend_failed(BE->copy2d(y->data, L, in->data, L, rows, L, 0), "fwht") ||
        backend_failed(BE->fwht(y->data, rows, L), "fwht"))
        return NULL;
    struct tape_node *n = REC("fwht", fwht_backward, y, in, NULL, NULL, NULL);
    if (n) n->f[0] = backward_scale;
    return y;
}

struct tensor *op_resize_cols(struct exec *x, struct tensor *in, int64_t m) {
    if (!in) return NULL;
    if (IS_BF16(in)) WIDEN_AND_CALL(in, op_resize_cols(x, in, m));
    int64_t rows = tensor_rows(in), n = tensor_cols(in), k = n < m ? n : m;
    struct tensor *y = exec_tensor(x, DTYPE_F32, 2, (int64_t[]){rows, m});
    if (!y || backend_failed(BE->fill(y->data, 0.0f, (size_t)(rows * m)), "resize") ||
        backend_failed(BE->copy2d(y->data, m, in->data, n, rows, k, 0), "resize"))
        return NULL;
    REC("resize_cols", resize_cols_backward, y, in, NULL, NULL, NULL);
    return y;
}
