/* ops_backward.c: backward of every op, written once over the backend table. Each adds
 * its contribution to the gradients of the inputs that require one. */
#include "core/ops_backward.h"

#include "core/error.h"

#define BE (x->be)
#define NEEDS(t) ((t) && (t)->requires_grad)
#define G(t) grad_of(x, (t))
#define CHECKED(call) do { if (call) return -1; } while (0)

/* t's gradient for a backend kernel with an `accumulate` flag: 0 when it is new (written
 * outright, no zero fill: grad_for_overwrite). Take them in the order the kernels write, so
 * that an input feeding two of them (q = k) is overwritten once, then added to. */
static float *grad_k(struct exec *x, struct tensor *t, int *accumulate) {
    int fresh = 0;
    float *g = grad_for_overwrite(x, t, &fresh);
    *accumulate = !fresh;
    return g;
}

/* t's gradient += n's output gradient (written outright when new) */
static int axpy_into(struct exec *x, struct tensor *t, struct tape_node *n) {
    int acc;
    float *g = grad_k(x, t, &acc);
    return g ? BE->axpy(g, n->out->grad, 1.0f, (size_t)tensor_numel(n->out), acc) : -1;
}

/* The same for a GEMM: beta 0 (new) or 1 */
static float *grad_w(struct exec *x, struct tensor *t, float *beta) {
    int acc;
    float *g = grad_k(x, t, &acc);
    *beta = acc ? 1.0f : 0.0f;
    return g;
}

/* linear_backward with a bf16 input (bf16 storage): dy narrowed once, then both GEMMs on
 * bf16 operands with f32 gradients, as torch.autocast's (whose dy is bf16 already); an f32
 * weight is narrowed again for dx (op_linear kept no copy) and its gradient written f32 */
static int linear_backward_bf16(struct exec *x, struct tape_node *n) {
    struct tensor *in = n->in[0], *w = n->in[1];
    int rows = (int)tensor_rows(in), k = (int)tensor_cols(in), m = (int)w->shape[0];
    size_t ny = (size_t)tensor_numel(n->out);
    uint16_t *dy = exec_scratch(x, ny * sizeof(uint16_t));
    if (!dy) return -1;
    int rc = BE->convert(dy, n->out->grad, ny, 1);
    float beta;
    if (!rc && NEEDS(in)) { /* dx = dy W */
        uint16_t *w16 = w->dtype == DTYPE_BF16 ? NULL : narrowed_scratch(x, w);
        float *g = (w16 || w->dtype == DTYPE_BF16) ? grad_w(x, in, &beta) : NULL;
        rc = !g || BE->gemm_bf16(0, 0, rows, k, m, 1.0f, dy, m, 0, w16 ? w16 : w->data, k, 0, beta, g, 0, k, 0, 1);
        if (w16) exec_scratch_done(x, w16);
    }
    if (!rc && NEEDS(w)) { /* dW = dy^T x */
        float *g = grad_w(x, w, &beta);
        rc = !g || BE->gemm_bf16(1, 0, m, k, rows, 1.0f, dy, m, 0, in->data, k, 0, beta, g, 0, k, 0, 1);
    }
    exec_scratch_done(x, dy);
    return rc ? -1 : 0;
}

int linear_backward(struct exec *x, struct tape_node *n) {
    struct tensor *in = n->in[0], *w = n->in[1];
    if (in->dtype == DTYPE_BF16) return linear_backward_bf16(x, n);
    int rows = (int)tensor_rows(in), k = (int)tensor_cols(in), m = (int)w->shape[0];
    const float *dy = n->out->grad;
    float beta;
    if (NEEDS(in)) { /* dx = dy W */
        float *g = grad_w(x, in, &beta);
        if (!g) return -1;
        CHECKED(BE->gemm(0, 0, rows, k, m, 1.0f, dy, m, 0, w->data, k, 0, beta, g, k, 0, 1));
    }
    if (NEEDS(w)) { /* dW = dy^T x (a parameter's gradient always accumulates) */
        float *g = grad_w(x, w, &beta);
        if (!g) return -1;
        CHECKED(BE->gemm(1, 0, m, k, rows, 1.0f, dy, m, 0, in->data, k, 0, beta, g, k, 0, 1));
    }
    return 0;
}

int embedding_backward(struct exec *x, struct tape_node *n) {
    struct tensor *table = n->in[0], *ids = n->in[1];
    if (!NEEDS(table)) return 0;
    float *g = G(table);
    if (!g) return -1;
    return BE->embedding_backward(g, n->out->grad, ids->data, tensor_numel(ids), table->shape[1]);
}

int embedding_unique_backward(struct exec *x, struct tape_node *n) {
    struct tensor *table = n->in[0], *ids = n->in[1];
    if (!NEEDS(table)) return 0;
    float *g = G(table);
    if (!g) return -1;
    return backend_embedding_backward_unique(BE, g, n->out->grad, ids->data, tensor_numel(ids),
                                             table->shape[1]);
}

int rmsnorm_backward(struct exec *x, struct tape_node *n) {
    struct tensor *in = n->in[0], *w = n->in[1];
    int acc = 1;
    float *dx = NEEDS(in) ? grad_k(x, in, &acc) : NULL, *dw = NEEDS(w) ? G(w) : NULL;
    if ((NEEDS(in) && !dx) || (NEEDS(w) && !dw)) return -1;
    return BE->rmsnorm_backward(dx, dw, n->out->grad, in->data, w->data, tensor_rows(in), tensor_cols(in),
                                n->f[0], acc);
}

int relu_backward(struct exec *x, struct tape_node *n) {
    float *g = G(n->in[0]);
    return g ? BE->relu_backward(g, n->out->grad, n->out->data, (size_t)tensor_numel(n->out)) : -1;
}

int relu_dropout_backward(struct exec *x, struct tape_node *n) {
    int acc;
    float *g = grad_k(x, n->in[0], &acc);
    return g ? BE->relu_dropout_backward(g, n->out->grad, n->in[1]->data, (size_t)tensor_numel(n->out), n->f[0], acc)
             : -1;
}

int gelu_mul_backward(struct exec *x, struct tape_node *n) {
    struct tensor *a = n->in[0], *g = n->in[1];
    float *da = NEEDS(a) ? G(a) : NULL, *dg = NEEDS(g) ? G(g) : NULL;
    if ((NEEDS(a) && !da) || (NEEDS(g) && !dg)) return -1;
    if (a->dtype == DTYPE_BF16) /* both bf16 (op_gelu_mul) */
        return BE->gelu_mul_bf16_backward(da, dg, n->out->grad, a->data, g->data, (size_t)tensor_numel(n->out));
    return BE->gelu_mul_backward(da, dg, n->out->grad, a->data, g->data, (size_t)tensor_numel(n->out));
}

int convert_backward(struct exec *x, struct tape_node *n) {
    /* gradients are f32 whatever the storage: dx += dy */
    return grad_take(x, n->in[0], n) ? 0 : axpy_into(x, n->in[0], n);
}

int gelu_new_backward(struct exec *x, struct tape_node *n) {
    int acc;
    float *g = grad_k(x, n->in[0], &acc);
    return g ? BE->gelu_new_backward(g, n->out->grad, n->in[0]->data, (size_t)tensor_numel(n->out), acc) : -1;
}

int mul_backward(struct exec *x, struct tape_node *n) {
    size_t cnt = (size_t)tensor_numel(n->out);
    if (NEEDS(n->in[0])) {
        float *g = G(n->in[0]);
        if (!g) return -1;
        CHECKED(BE->mul_acc(g, n->out->grad, n->in[1]->data, cnt));
    }
    if (NEEDS(n->in[1])) {
        float *g = G(n->in[1]);
        if (!g) return -1;
        CHECKED(BE->mul_acc(g, n->out->grad, n->in[0]->data, cnt));
    }
    return 0;
}

int add_backward(struct exec *x, struct tape_node *n) {
    struct tensor *a = n->in[0], *b = n->in[1];
    if (a == b) /* written, then added to */
        return axpy_into(x, a, n) || axpy_into(x, a, n) ? -1 : 0;
    /* b's first: a may take dy's buffer */
    if (NEEDS(b) && axpy_into(x, b, n)) return -1;
    return NEEDS(a) && !grad_take(x, a, n) ? axpy_into(x, a, n) : 0;
}

int view_backward(struct exec *x, struct tape_node *n) {
    return grad_take(x, n->in[0], n) ? 0 : axpy_into(x, n->in[0], n);
}

int scale_backward(struct exec *x, struct tape_node *n) {
    int acc;
    float *g = grad_k(x, n->in[0], &acc);
    return g ? BE->axpy(g, n->out->grad, n->f[0], (size_t)tensor_numel(n->out), acc) : -1;
}

/* ---- attention's GEMMs, each one call over (batch, heads) ---- */

int attn_scores_gemm(const struct backend *be, float *s, const float *q, const float *k, int64_t B, int64_t H,
                     int64_t Tq, int64_t Tk, int64_t inner) {
    int64_t dk = inner / H;
    return backend_gemm_2level(be, 0, 1, (int)Tq, (int)Tk, (int)dk, 1.0f, q, (int)inner, dk, Tq * inner, k,
                               (int)inner, dk, Tk * inner, 0.0f, s, (int)Tk, Tq * Tk, H * Tq * Tk, (int)H, (int)B);
}

int attn_context_gemm(const struct backend *be, float *c, const float *p, const float *v, int64_t B, int64_t H,
                      int64_t Tq, int64_t Tk, int64_t inner) {
    int64_t dk = inner / H;
    return backend_gemm_2level(be, 0, 0, (int)Tq, (int)dk, (int)Tk, 1.0f, p, (int)Tk, Tq * Tk, H * Tq * Tk, v,
                               (int)inner, dk, Tk * inner, 0.0f, c, (int)inner, dk, Tq * inner, (int)H, (int)B);
}

int attn_scores_grad(const struct backend *be, float *dq, float beta_q, float *dk, float beta_k, const float *ds,
                     const float *q, const float *k, int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t inner) {
    int64_t d = inner / H;
    if (dq && backend_gemm_2level(be, 0, 0, (int)Tq, (int)d, (int)Tk, 1.0f, ds, (int)Tk, Tq * Tk, H * Tq * Tk, k,
                                  (int)inner, d, Tk * inner, beta_q, dq, (int)inner, d, Tq * inner, (int)H, (int)B))
        return -1;
    if (dk && backend_gemm_2level(be, 1, 0, (int)Tk, (int)d, (int)Tq, 1.0f, ds, (int)Tk, Tq * Tk, H * Tq * Tk, q,
                                  (int)inner, d, Tq * inner, beta_k, dk, (int)inner, d, Tk * inner, (int)H, (int)B))
        return -1;
    return 0;
}

int attn_context_grad(const struct backend *be, float *dp, float beta_p, float *dv, float beta_v, const float *dc,
                      const float *p, const float *v, int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t inner) {
    int64_t d = inner / H;
    if (dp && backend_gemm_2level(be, 0, 1, (int)Tq, (int)Tk, (int)d, 1.0f, dc, (int)inner, d, Tq * inner, v,
                                  (int)inner, d, Tk * inner, beta_p, dp, (int)Tk, Tq * Tk, H * Tq * Tk, (int)H, (int)B))
        return -1;
    if (dv && backend_gemm_2level(be, 1, 0, (int)Tk, (int)d, (int)Tq, 1.0f, p, (int)Tk, Tq * Tk, H * Tq * Tk, dc,
                                  (int)inner, d, Tq * inner, beta_v, dv, (int)inner, d, Tk * inner, (int)H, (int)B))
        return -1;
    return 0;
}

int attn_probs(const struct backend *be, int fuse, float *probs, const float *q, const float *k, const float *bias,
               const float *mask, int causal, int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t inner, float p,
               uint64_t seed, uint64_t offset) {
    if (attn_scores_gemm(be, probs, q, k, B, H, Tq, Tk, inner)) return -1;
    if (p <= 0.0f) return be->attn_softmax(probs, bias, mask, causal, B, H, Tq, Tk);
    if (fuse && be->attn_softmax_dropout)
        return be->attn_softmax_dropout(probs, bias, mask, causal, B, H, Tq, Tk, p, seed, offset);
    return be->attn_softmax(probs, bias, mask, causal, B, H, Tq, Tk) ||
                   be->dropout(probs, probs, (size_t)(B * H * Tq * Tk), p, seed, offset)
               ? -1
               : 0;
}

static void done(struct exec *x, float *p) {
    if (p) exec_scratch_done(x, p);
}

int attn_scores_backward(struct exec *x, struct tape_node *n) {
    struct tensor *q = n->in[0], *k = n->in[1];
    float bq = 1.0f, bk = 1.0f;
    float *dq = NEEDS(q) ? grad_w(x, q, &bq) : NULL, *dkk = NEEDS(k) ? grad_w(x, k, &bk) : NULL;
    if ((NEEDS(q) && !dq) || (NEEDS(k) && !dkk)) return -1;
    return attn_scores_grad(BE, dq, bq, dkk, bk, n->out->grad, q->data, k->data, q->shape[0], n->i[0], q->shape[1],
                            k->shape[1], q->shape[2]);
}

int attn_softmax_backward(struct exec *x, struct tape_node *n) {
    struct tensor *s = n->in[0], *bias = n->in[1];
    /* the kernel always writes dscores: with only the bias trainable, into scratch (written
     * outright, as a new gradient is) */
    int acc = 0;
    float *ds = NEEDS(s) ? grad_k(x, s, &acc) : NULL, *db = NEEDS(bias) ? G(bias) : NULL;
    if ((NEEDS(s) && !ds) || (NEEDS(bias) && !db)) return -1;
    float *scratch = NULL;
    if (!ds && db && !(ds = scratch = exec_scratch(x, sizeof(float) * (size_t)tensor_numel(s)))) return -1;
    if (!ds) return 0;
    int rc = BE->attn_softmax_backward(ds, db, n->out->grad, n->out->data, s->shape[0], s->shape[1], s->shape[2],
                                       s->shape[3], acc);
    done(x, scratch);
    return rc;
}

int attn_context_backward(struct exec *x, struct tape_node *n) {
    struct tensor *p = n->in[0], *v = n->in[1];
    float bp = 1.0f, bv = 1.0f;
    float *dp = NEEDS(p) ? grad_w(x, p, &bp) : NULL, *dv = NEEDS(v) ? grad_w(x, v, &bv) : NULL;
    if ((NEEDS(p) && !dp) || (NEEDS(v) && !dv)) return -1;
    return attn_context_grad(BE, dp, bp, dv, bv, n->out->grad, p->data, v->data, p->shape[0], p->shape[1],
                             p->shape[2], p->shape[3], v->shape[2]);
}

/* The backward of the chain scores -> softmax -> dropout -> context (attn_context_backward,
 * dropout_backward, attn_softmax_backward, attn_scores_backward in the tape's order), with
 * the probabilities recomputed by the forward's own calls and every intermediate gradient
 * new, as the chain's are (written outright by its GEMM or kernel, bitwise what a zero fill
 * and an accumulation give): the same backend calls on the same values, hence bitwise the
 * same gradients. At most three [B, H, Tq, Tk] buffers live at once
 * (probs, d dropped probs, d probs; then probs, d probs, d scores), each freed once used.
 * With x->fuse and the backend's fused ops, bit for bit the same: the softmax backward takes
 * d dropped probs and regenerates the mask itself (d probs is never made), and drops the
 * probabilities in place for dv once it has read them (at most probs, d dropped probs and
 * d scores live); with only v trained, the probabilities are recomputed already dropped. */
uint16_t *narrowed_scratch(struct exec *x, const struct tensor *t) {
    size_t n = (size_t)tensor_numel(t);
    uint16_t *p = exec_scratch(x, n * sizeof(uint16_t));
    if (p && BE->convert(p, t->data, n, 1)) {
        exec_scratch_done(x, p);
        return NULL;
    }
    return p;
}

int attention_inputs_f32(struct exec *x, const struct tensor *q, const struct tensor *k, const struct tensor *v,
                         const float **qd, const float **kd, const float **vd, float **scratch) {
    *scratch = NULL;
    *qd = q->data;
    *kd = k->data;
    *vd = v->data;
    if (q->dtype != DTYPE_BF16) return 0;
    size_t nq = (size_t)tensor_numel(q), nk = (size_t)tensor_numel(k), nv = (size_t)tensor_numel(v);
    float *w = exec_scratch(x, (nq + nk + nv) * sizeof(float));
    if (!w || BE->convert(w, q->data, nq, 0) || BE->convert(w + nq, k->data, nk, 0) ||
        BE->convert(w + nq + nk, v->data, nv, 0)) {
        if (w) exec_scratch_done(x, w);
        return -1;
    }
    *scratch = w;
    *qd = w;
    *kd = w + nq;
    *vd = w + nq + nk;
    return 0;
}

int attention_backward(struct exec *x, struct tape_node *n) {
    struct tensor *q = n->in[0], *k = n->in[1], *v = n->in[2], *bias = n->in[3], *mask = n->in[4];
    int64_t H = n->i[0], B = q->shape[0], Tq = q->shape[1], Tk = k->shape[1], inner = q->shape[2];
    size_t np = (size_t)(B * H * Tq * Tk);
    const float *qd, *kd, *vd;
    float *wide;
    if (attention_inputs_f32(x, q, k, v, &qd, &kd, &vd, &wide)) return -1;
    float p = n->f[0];
    uint64_t seed = (uint64_t)n->i[2], offset = (uint64_t)n->i[3];
    const float *dc = n->out->grad;
    int need_ds = NEEDS(q) || NEEDS(k) || NEEDS(bias);
    int fused = p > 0.0f && x->fuse && BE->attn_softmax_dropout_backward;
    int dropped = p > 0.0f && !need_ds; /* whether probs holds the dropped probabilities */
    float *probs = exec_scratch(x, np * sizeof(float)), *dpd = NULL, *dp = NULL, *ds = NULL;
    int rc = !probs || attn_probs(BE, x->fuse, probs, qd, kd, bias ? bias->data : NULL,
                                  mask ? mask->data : NULL, (int)n->i[1], B, H, Tq, Tk, inner,
                                  dropped ? p : 0.0f, seed, offset);
    if (!rc && need_ds) {
        /* d dropped probs = dc V^T, written outright (beta 0: no zero fill) */
        rc = !(dpd = exec_scratch(x, np * sizeof(float))) ||
             attn_context_grad(BE, dpd, 0.0f, NULL, 1.0f, dc, NULL, vd, B, H, Tq, Tk, inner);
        float *db = !rc && NEEDS(bias) ? G(bias) : NULL;
        rc = rc || (NEEDS(bias) && !db);
        if (fused) { /* d scores from d dropped probs; probs dropped in place when dv needs them */
            rc = rc || !(ds = exec_scratch(x, np * sizeof(float))) ||
                 BE->attn_softmax_dropout_backward(ds, db, dpd, probs, B, H, Tq, Tk, p, seed, offset, NEEDS(v), 0);
            dropped = NEEDS(v);
            done(x, dpd);
        } else {
            if (p > 0.0f) { /* d probs through the regenerated mask */
                rc = rc || !(dp = exec_scratch(x, np * sizeof(float))) ||
                     BE->dropout_backward(dp, dpd, np, p, seed, offset, 0);
                done(x, dpd);
            } else {
                dp = dpd;
            }
            rc = rc || !(ds = exec_scratch(x, np * sizeof(float))) ||
                 BE->attn_softmax_backward(ds, db, dp, probs, B, H, Tq, Tk, 0);
            done(x, dp);
        }
        float bq = 1.0f, bk = 1.0f;
        float *dq = !rc && NEEDS(q) ? grad_w(x, q, &bq) : NULL, *dk = !rc && NEEDS(k) ? grad_w(x, k, &bk) : NULL;
        rc = rc || (NEEDS(q) && !dq) || (NEEDS(k) && !dk) ||
             attn_scores_grad(BE, dq, bq, dk, bk, ds, qd, kd, B, H, Tq, Tk, inner);
        done(x, ds);
    }
    if (!rc && NEEDS(v)) { /* dv = dropped probs^T dc, the mask applied in place if not yet */
        float bv = 1.0f, *dv = grad_w(x, v, &bv);
        rc = !dv || (p > 0.0f && !dropped && BE->dropout(probs, probs, np, p, seed, offset)) ||
             attn_context_grad(BE, NULL, 1.0f, dv, bv, dc, probs, NULL, B, H, Tq, Tk, inner);
    }
    done(x, probs);
    done(x, wide);
    return rc ? -1 : 0;
}

int position_bias_backward(struct exec *x, struct tape_node *n) {
    struct tensor *table = n->in[0], *buckets = n->in[1];
    if (!NEEDS(table)) return 0;
    float *g = G(table);
    return g ? BE->position_bias_backward(g, n->out->grad, buckets->data, table->shape[1], tensor_numel(buckets)) : -1;
}

int cross_entropy_backward(struct exec *x, struct tape_node *n) {
    struct tensor *logits = n->in[0], *targets = n->in[1];
    float *g = G(logits);
    return g ? BE->cross_entropy_backward(g, logits->data, targets->data, n->out->grad, tensor_rows(logits),
                                          tensor_cols(logits))
             : -1;
}

/* t's gradient += the dropout backward of n's output gradient (n->f[0] p, n->i seed and
 * offset) */
static int dropout_into(struct exec *x, struct tensor *t, struct tape_node *n) {
    int acc;
    float *g = grad_k(x, t, &acc);
    return g ? BE->dropout_backward(g, n->out->grad, (size_t)tensor_numel(n->out), n->f[0], (uint64_t)n->i[0],
                                    (uint64_t)n->i[1], acc)
             : -1;
}

int dropout_backward(struct exec *x, struct tape_node *n) { return dropout_into(x, n->in[0], n); }

/* add's backward, then dropout's (the order of the two unfused nodes): dh += dy; din +=
 * dropout backward of dy (the unfused chain adds dy into a new, zero-filled buffer first: the
 * same values, that buffer being din's only other source) */
int dropout_add_backward(struct exec *x, struct tape_node *n) {
    struct tensor *h = n->in[0], *in = n->in[1];
    if (h == in) /* not T5's case: h's written, then in's added */
        return axpy_into(x, h, n) || dropout_into(x, in, n) ? -1 : 0;
    /* din first: h may take dy's buffer */
    if (NEEDS(in) && dropout_into(x, in, n)) return -1;
    return NEEDS(h) && !grad_take(x, h, n) ? axpy_into(x, h, n) : 0;
}

int add_bias_backward(struct exec *x, struct tape_node *n) {
    struct tensor *in = n->in[0], *b = n->in[1];
    int64_t rows = tensor_rows(in), cols = tensor_cols(in);
    if (NEEDS(b)) { /* db += ones^T dy, first: in may take dy's buffer */
        float *g = G(b);
        const float *ones = exec_ones(x, rows);
        if (!g || !ones) return -1;
        CHECKED(BE->gemm(1, 0, 1, (int)cols, (int)rows, 1.0f, ones, 1, 0, n->out->grad, (int)cols, 0, 1.0f, g,
                         (int)cols, 0, 1));
    }
    return NEEDS(in) && !grad_take(x, in, n) ? axpy_into(x, in, n) : 0;
}

int prepend_backward(struct exec *x, struct tape_node *n) {
    struct tensor *prefix = n->in[0], *h = n->in[1];
    int64_t B = h->shape[0], S = h->shape[1], d = h->shape[2], P = prefix->shape[0];
    const float *dy = n->out->grad;
    if (NEEDS(h)) {
        float *g = G(h);
        if (!g) return -1;
        CHECKED(BE->copy2d(g, S * d, dy + P * d, (P + S) * d, B, S * d, 1));
    }
    if (NEEDS(prefix)) { /* the prefix is shared: sum over the batch, one sequence at a time */
        float *g = G(prefix);
        if (!g) return -1;
        for (int64_t b = 0; b < B; b++) CHECKED(BE->copy2d(g, P * d, dy + b * (P + S) * d, P * d, 1, P * d, 1));
    }
    return 0;
}

int permute_0213_backward(struct exec *x, struct tape_node *n) {
    const int64_t *s = n->out->shape; /* [d0, d2, d1, d3] */
    int acc; /* a permutation writes every element: a new gradient needs no zero fill */
    float *g = grad_k(x, n->in[0], &acc);
    return g ? BE->permute_0213(g, n->out->grad, s[0], s[1], s[2], s[3], acc) : -1;
}

int bmm_backward(struct exec *x, struct tape_node *n) {
    struct tensor *a = n->in[0], *b = n->in[1];
    int64_t bt = a->ndim == 3 ? a->shape[0] : 1, m = a->shape[a->ndim - 2], k = a->shape[a->ndim - 1],
            nn = b->shape[b->ndim - 1];
    const float *dy = n->out->grad;
    float beta;
    if (NEEDS(a)) { /* dA = dY B^T */
        float *g = grad_w(x, a, &beta);
        if (!g) return -1;
        CHECKED(BE->gemm(0, 1, (int)m, (int)k, (int)nn, 1.0f, dy, (int)nn, m * nn, b->data, (int)nn, k * nn, beta, g,
                         (int)k, m * k, (int)bt));
    }
    if (NEEDS(b)) { /* dB = A^T dY */
        float *g = grad_w(x, b, &beta);
        if (!g) return -1;
        CHECKED(BE->gemm(1, 0, (int)k, (int)nn, (int)m, 1.0f, a->data, (int)k, m * k, dy, (int)nn, m * nn, beta, g,
                         (int)nn, k * nn, (int)bt));
    }
    return 0;
}

int fwht_backward(struct exec *x, struct tape_node *n) {
    int64_t rows = tensor_rows(n->out), L = tensor_cols(n->out);
    int acc;
    float *g = grad_k(x, n->in[0], &acc), *tmp = g ? exec_scratch(x, sizeof(float) * (size_t)(rows * L)) : NULL;
    if (!tmp) return -1;
    /* H is symmetric: dx = H dy */
    int rc = BE->copy2d(tmp, L, n->out->grad, L, rows, L, 0) || BE->fwht(tmp, rows, L) ||
             BE->axpy(g, tmp, n->f[0], (size_t)(rows * L), acc);
    exec_scratch_done(x, tmp);
    return rc ? -1 : 0;
}

int resize_cols_backward(struct exec *x, struct tape_node *n) {
    int64_t rows = tensor_rows(n->in[0]), cols = tensor_cols(n->in[0]), m = tensor_cols(n->out), k = cols < m ? cols : m;
    float *g = G(n->in[0]);
    return g ? BE->copy2d(g, cols, n->out->grad, m, rows, k, 1) : -1;
}
