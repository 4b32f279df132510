/* test_gradcheck.c: the backward of every op in core/ops.h against central finite
 * differences on the CPU backend, table-driven (in the spirit of ggml's test-backend-ops
 * "grad" mode).
 *
 * For each case: fixed-seed random inputs (never zeros), a scalar loss
 * L = sum(out * R) with a fixed random R, the analytic gradient from backward(), and a
 * finite-difference gradient of every element of every input under test:
 *     fd = (8 (L(x+h) - L(x-h)) - (L(x+2h) - L(x-2h))) / (12 h),  h = 2^-6,
 * (fourth-order central difference: truncation error h^4/30 |L'''''| ~ 1e-9 here) with
 * L summed in double from the f32 outputs of the same ops. Inputs are multiples of 2^-12
 * of magnitude < 8, so x +- h and x +- 2h are exact in f32 and the step is exactly h.
 *
 * Error budget of fd: outputs the perturbed element does not reach are bit-identical in
 * all four forwards and cancel exactly; the affected outputs carry f32 rounding
 * dL ~ 6e-8 * sum_j |R_j out_j| (a few ulps per op), so the fd noise is about
 * (1 + 8 + 8 + 1) / 12 * dL / h = 96 dL. For a handful of affected outputs of
 * magnitude ~1 this is ~1e-5 (elementwise ops), up to ~1e-4 when an input feeds tens of
 * outputs of magnitude ~3 (weights of linear, chains). Hence the per-op tolerance
 * |analytic - fd| <= atol + rtol |fd| with atol 1e-4 .. 5e-4 (a few times the noise
 * bound) and rtol 1e-3 (truncation and accumulated rounding of large gradients); each
 * case names its own in the table below, and the run prints the max error observed.
 *
 * The loss reduction is a test-only tape node (weighted_sum below, recorded with
 * tape_record), because ops.h has no sum op and a flattening view of `out` would get a
 * gradient buffer of its own that never reaches `out`. op_linear works as the reduction
 * when `out` is already [1, n]; check_linear_loss() shows it gives the same gradients.
 *
 * Besides the values, every case checks: an input with requires_grad 0 (frozen weights,
 * ids, masks) has no gradient buffer after backward; with no input requiring a gradient,
 * or with x->record 0, nothing is recorded (tape_len stays 0); and gradients accumulate:
 * two backward passes into persistent (caller-owned) gradient buffers give twice the
 * gradient of one. The backend is the CPU's with new memory NaN-filled, so that an element
 * of a new gradient buffer that no op writes (core/autograd.h grad_for_overwrite) shows
 * even where the pool's poisoning of freed memory does not reach; inputs used twice (a @ a,
 * q == k == v, dropout_add(a, a)) check that the first write is outright and the second
 * adds. */
#include "tests/check.h"

#include <stdint.h>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"

#define MAX_IN 6
#define FD_H (1.0 / 64.0)
#define GRID 4096.0 /* inputs are multiples of 1/GRID */

/* ---- fixed-seed PRNG (splitmix64) ---- */
static uint64_t rng_s;
static uint64_t rng_next(void) {
    uint64_t z = (rng_s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
/* uniform in [0, 1) */
static double rng_unit(void) {
    return (double)(rng_next() >> 11) * 0x1p-53;
}
/* a nonzero multiple of 1/GRID with lo <= |v| <= a */
static float rng_grid(double lo, double a) {
    double m = lo + (a - lo) * rng_unit();
    double v = round(m * GRID) / GRID;
    if (v < 1.0 / GRID) v = 1.0 / GRID;
    return (float)(rng_next() & 1 ? v : -v);
}

/* ---- the loss: L = sum(in * r), a test-only tape node ---- */
static int weighted_sum_backward(struct exec *x, struct tape_node *n) {
    float *g = grad_of(x, n->in[0]);
    if (!g) return -1;
    return x->be->axpy(g, n->in[1]->data, n->out->grad[0], (size_t)tensor_numel(n->in[0]), 1);
}

static double host_wsum(const float *a, const float *r, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += (double)a[i] * r[i];
    return s;
}

static struct tensor *weighted_sum(struct exec *x, struct tensor *in, struct tensor *r) {
    if (!in || !r) return NULL;
    struct tensor *l = exec_tensor(x, DTYPE_F32, 1, (int64_t[]){1});
    if (!l) return NULL;
    ((float *)l->data)[0] =
        (float)host_wsum(in->data, r->data, tensor_numel(in)); /* cpu: host memory */
    tape_record(x, "weighted sum", weighted_sum_backward, l, in, r, NULL, NULL);
    return l;
}

/* ---- the case table ---- */
enum init {
    SYM,     /* U(-a, a) on the grid, never 0 */
    AWAY,    /* lo <= |v| <= a: away from kinks (relu) and from rms ~ 0 (rmsnorm) */
    IDS,     /* i32 in [0, vmax), repeats when numel > vmax */
    TARGETS, /* i32 in [0, vmax), every third row -100 (row 0 always a real target) */
    MASK,    /* f32 [B, K]: 0, or -1e9 where k > 0 and (k + b) % 3 == 2. Key 0 is never masked,
              * so no row is fully masked: there every key scores -1e9 exactly in f32, the
              * forward no longer depends on the scores and fd says 0 where the analytic
              * gradient (as torch's) is that of a uniform softmax. */
};

struct arg {
    int ndim; /* 0: no such input (NULL) */
    int64_t shape[4];
    enum init init;
    double a, lo;
    int vmax;
    int grad; /* requires_grad: checked against finite differences */
};

struct gcase;
typedef struct tensor *(*fwd_fn)(struct exec *x, struct tensor **in, const struct gcase *c);

struct gcase {
    const char *name;
    fwd_fn fwd;
    struct arg in[MAX_IN];
    int heads, causal;
    float f;       /* eps, scale or dropout p */
    uint64_t seed; /* dropout */
    uint64_t offset;
    double atol, rtol;
};

/* clang-format off */
static struct tensor *f_linear(struct exec *x, struct tensor **in, const struct gcase *c) { return op_linear(x, in[0], in[1]); }
static struct tensor *f_embedding(struct exec *x, struct tensor **in, const struct gcase *c) { return op_embedding(x, in[0], in[1]); }
static struct tensor *f_rmsnorm(struct exec *x, struct tensor **in, const struct gcase *c) { return op_rmsnorm(x, in[0], in[1], c->f); }
static struct tensor *f_relu(struct exec *x, struct tensor **in, const struct gcase *c) { return op_relu(x, in[0]); }
static struct tensor *f_gelu(struct exec *x, struct tensor **in, const struct gcase *c) { return op_gelu_new(x, in[0]); }
static struct tensor *f_mul(struct exec *x, struct tensor **in, const struct gcase *c) { return op_mul(x, in[0], in[1]); }
static struct tensor *f_mul_self(struct exec *x, struct tensor **in, const struct gcase *c) { return op_mul(x, in[0], in[0]); }
static struct tensor *f_add(struct exec *x, struct tensor **in, const struct gcase *c) { return op_add(x, in[0], in[1]); }
static struct tensor *f_add_self(struct exec *x, struct tensor **in, const struct gcase *c) { return op_add(x, in[0], in[0]); }
static struct tensor *f_scale(struct exec *x, struct tensor **in, const struct gcase *c) { return op_scale(x, in[0], c->f); }
static struct tensor *f_scores(struct exec *x, struct tensor **in, const struct gcase *c) { return op_attn_scores(x, in[0], in[1], c->heads); }
static struct tensor *f_softmax(struct exec *x, struct tensor **in, const struct gcase *c) { return op_attn_softmax(x, in[0], in[1], in[2], c->causal); }
static struct tensor *f_context(struct exec *x, struct tensor **in, const struct gcase *c) { return op_attn_context(x, in[0], in[1]); }
static struct tensor *f_posbias(struct exec *x, struct tensor **in, const struct gcase *c) { return op_position_bias(x, in[0], in[1]); }
static struct tensor *f_xent(struct exec *x, struct tensor **in, const struct gcase *c) { return op_cross_entropy(x, in[0], in[1]); }

/* clang-format on */

/* training mode with the case's dropout stream: the mask is a function of (seed, offset),
 * so it is reset before every forward */
static void dropout_stream(struct exec *x, const struct gcase *c) {
    x->training = 1;
    x->seed = c->seed;
    x->rng_offset = c->offset;
}

static struct tensor *f_dropout(struct exec *x, struct tensor **in, const struct gcase *c) {
    /* the mask is a function of (seed, offset): reset the offset before every forward */
    dropout_stream(x, c);
    return op_dropout(x, in[0], c->f);
}

/* T5 attention: softmax(q k^T + position bias(table) + mask) v */
static struct tensor *f_attention(struct exec *x, struct tensor **in, const struct gcase *c) {
    struct tensor *s = op_attn_scores(x, in[0], in[1], c->heads);
    struct tensor *b = op_position_bias(x, in[3], in[4]);
    return op_attn_context(x, op_attn_softmax(x, s, b, in[5], c->causal), in[2]);
}

/* The same through op_attention with the probabilities recomputed in backward (the dropout
 * mask regenerated from its seed and offset), dropout c->f */
static struct tensor *f_attention_recompute(struct exec *x, struct tensor **in, const struct gcase *c) {
    dropout_stream(x, c);
    x->recompute_attention = EXEC_ATTN_RECOMPUTE_ALWAYS;
    struct tensor *b = in[3] ? op_position_bias(x, in[3], in[4]) : NULL;
    return op_attention(x, in[0], in[1], in[2], b, in[5], c->heads, c->causal, c->f);
}

/* T5 feed-forward with residual and a cross-entropy head:
 * xent(x + scale(linear(dropout(gelu(linear(rmsnorm(x), wi))), wo)), targets) */
static struct tensor *f_ffn(struct exec *x, struct tensor **in, const struct gcase *c) {
    dropout_stream(x, c);
    struct tensor *h = op_rmsnorm(x, in[0], in[1], 1e-6f);
    h = op_dropout(x, op_gelu_new(x, op_linear(x, h, in[2])), c->f);
    h = op_add(x, in[0], op_scale(x, op_linear(x, h, in[3]), 0.5f));
    return op_cross_entropy(x, h, in[4]);
}

/* inputs used twice (a == b, q == k == v): the first gradient write is outright (a new
 * buffer), the second adds onto it */
static struct tensor *f_bmm(struct exec *x, struct tensor **in, const struct gcase *c) { return op_bmm(x, in[0], in[1]); }
static struct tensor *f_bmm_self(struct exec *x, struct tensor **in, const struct gcase *c) { return op_bmm(x, in[0], in[0]); }
static struct tensor *f_scores_self(struct exec *x, struct tensor **in, const struct gcase *c) { return op_attn_scores(x, in[0], in[0], c->heads); }
static struct tensor *f_view_twice(struct exec *x, struct tensor **in, const struct gcase *c) {
    int64_t n = tensor_numel(in[0]);
    struct tensor *a = op_view(x, in[0], 1, &n), *b = op_view(x, in[0], 1, &n);
    return op_mul(x, op_scale(x, a, 0.5f), b);
}
static struct tensor *f_fwht(struct exec *x, struct tensor **in, const struct gcase *c) { return op_fwht(x, in[0], c->f); }
static struct tensor *f_relu_dropout(struct exec *x, struct tensor **in, const struct gcase *c) {
    dropout_stream(x, c);
    return op_relu_dropout(x, in[0], c->f);
}
static struct tensor *f_dropout_add_self(struct exec *x, struct tensor **in, const struct gcase *c) {
    dropout_stream(x, c);
    return op_dropout_add(x, in[0], in[0], c->f);
}
static struct tensor *f_attention_self(struct exec *x, struct tensor **in, const struct gcase *c) {
    struct tensor *qkv[MAX_IN] = {in[0], in[0], in[0], in[3], in[4], in[5]};
    return f_attention(x, qkv, c);
}
static struct tensor *f_attention_recompute_self(struct exec *x, struct tensor **in, const struct gcase *c) {
    dropout_stream(x, c);
    x->recompute_attention = EXEC_ATTN_RECOMPUTE_ALWAYS;
    struct tensor *b = in[3] ? op_position_bias(x, in[3], in[4]) : NULL;
    return op_attention(x, in[0], in[0], in[c->causal ? 0 : 2], b, in[5], c->heads, 0, c->f);
}

/* clang-format off */
#define T(...) {__VA_ARGS__}
#define A(nd, sh, ini, aa, g) {.ndim = nd, .shape = T sh, .init = ini, .a = aa, .lo = 0, .grad = g}
#define AW(nd, sh, lo_, aa, g) {.ndim = nd, .shape = T sh, .init = AWAY, .a = aa, .lo = lo_, .grad = g}
#define I(nd, sh, ini, vm) {.ndim = nd, .shape = T sh, .init = ini, .vmax = vm}
#define NONE {.ndim = 0}

/* Tolerances (atol, rtol) per op, against the fd noise estimate in the header comment:
 *   linear-in-input ops (linear, embedding, mul, add, scale, attention scores/context,
 *   position bias, dropout): fd has no truncation error, only rounding: 1e-4 + 1e-3|b|,
 *   2e-4 where one input element feeds many outputs of magnitude ~sqrt(k) (weights);
 *   relu, gelu_new, rmsnorm, softmax, cross-entropy: smooth nonlinear, 4th-order fd
 *   truncation < 1e-7: 1e-4 + 1e-3|b|;
 *   chains (attention, ffn): rounding of several ops compounds: 5e-4 + 2e-3|b|. */
static const struct gcase cases[] = {
    /* linear: y = x W^T */
    {"linear [3,5]x[4,5]", f_linear, {A(2, (3, 5), SYM, 1, 1), A(2, (4, 5), SYM, 1, 1)}, .atol = 2e-4, .rtol = 1e-3},
    {"linear [2,3,7]x[1,7]", f_linear, {A(3, (2, 3, 7), SYM, 1, 1), A(2, (1, 7), SYM, 1, 1)}, .atol = 2e-4, .rtol = 1e-3},
    {"linear [1,1]x[1,1]", f_linear, {A(2, (1, 1), SYM, 2, 1), A(2, (1, 1), SYM, 2, 1)}, .atol = 2e-4, .rtol = 1e-3},
    {"linear [2,1,4]x[3,4] frozen w", f_linear, {A(3, (2, 1, 4), SYM, 1, 1), A(2, (3, 4), SYM, 1, 0)}, .atol = 2e-4, .rtol = 1e-3},
    {"linear [9,3]x[6,3] frozen in", f_linear, {A(2, (9, 3), SYM, 1, 0), A(2, (6, 3), SYM, 1, 1)}, .atol = 2e-4, .rtol = 1e-3},
    {"linear [4,16]x[11,16]", f_linear, {A(2, (4, 16), SYM, 1, 1), A(2, (11, 16), SYM, 1, 1)}, .atol = 2e-4, .rtol = 1e-3},
    /* embedding: repeated ids accumulate into the same row */
    {"embedding [3,4] ids [2,5]", f_embedding, {A(2, (3, 4), SYM, 1, 1), I(2, (2, 5), IDS, 3)}, .atol = 1e-4, .rtol = 1e-3},
    {"embedding [5,1] ids [1,7]", f_embedding, {A(2, (5, 1), SYM, 1, 1), I(2, (1, 7), IDS, 5)}, .atol = 1e-4, .rtol = 1e-3},
    {"embedding [1,3] ids [2,2] all 0", f_embedding, {A(2, (1, 3), SYM, 1, 1), I(2, (2, 2), IDS, 1)}, .atol = 1e-4, .rtol = 1e-3},
    {"embedding [7,3] ids [3]", f_embedding, {A(2, (7, 3), SYM, 1, 1), I(1, (3), IDS, 7)}, .atol = 1e-4, .rtol = 1e-3},
    /* rmsnorm */
    {"rmsnorm [2,3,8] eps 1e-6", f_rmsnorm, {AW(3, (2, 3, 8), 0.25, 1.5, 1), A(1, (8), SYM, 1.5, 1)}, .f = 1e-6f, .atol = 1e-4, .rtol = 1e-3},
    {"rmsnorm [5,1] eps 1e-6", f_rmsnorm, {AW(2, (5, 1), 0.5, 1.5, 1), A(1, (1), SYM, 1.5, 1)}, .f = 1e-6f, .atol = 1e-4, .rtol = 1e-3},
    {"rmsnorm [3,7] eps 0.1", f_rmsnorm, {AW(2, (3, 7), 0.25, 1.5, 1), A(1, (7), SYM, 1.5, 1)}, .f = 0.1f, .atol = 1e-4, .rtol = 1e-3},
    {"rmsnorm [4,6] frozen w", f_rmsnorm, {AW(2, (4, 6), 0.25, 1.5, 1), A(1, (6), SYM, 1.5, 0)}, .f = 1e-6f, .atol = 1e-4, .rtol = 1e-3},
    {"rmsnorm [4,6] frozen in", f_rmsnorm, {AW(2, (4, 6), 0.25, 1.5, 0), A(1, (6), SYM, 1.5, 1)}, .f = 1e-6f, .atol = 1e-4, .rtol = 1e-3},
    /* relu: |x| >= 0.1 > 2h keeps every stencil on one side of the kink */
    {"relu [3,5]", f_relu, {AW(2, (3, 5), 0.1, 2, 1)}, .atol = 1e-4, .rtol = 1e-3},
    {"relu [1,1,9]", f_relu, {AW(3, (1, 1, 9), 0.1, 2, 1)}, .atol = 1e-4, .rtol = 1e-3},
    {"relu [7]", f_relu, {AW(1, (7), 0.1, 2, 1)}, .atol = 1e-4, .rtol = 1e-3},
    /* gelu_new */
    {"gelu_new [4,6]", f_gelu, {A(2, (4, 6), SYM, 3, 1)}, .atol = 1e-4, .rtol = 1e-3},
    {"gelu_new [1,13]", f_gelu, {A(2, (1, 13), SYM, 5, 1)}, .atol = 1e-4, .rtol = 1e-3},
    {"gelu_new [2,1,3]", f_gelu, {A(3, (2, 1, 3), SYM, 1, 1)}, .atol = 1e-4, .rtol = 1e-3},
    /* mul, add (and an input used twice: the two contributions accumulate) */
    {"mul [3,4]", f_mul, {A(2, (3, 4), SYM, 2, 1), A(2, (3, 4), SYM, 2, 1)}, .atol = 1e-4, .rtol = 1e-3},
    {"mul [1,5] frozen b", f_mul, {A(2, (1, 5), SYM, 2, 1), A(2, (1, 5), SYM, 2, 0)}, .atol = 1e-4, .rtol = 1e-3},
    {"mul [2,1,3] frozen a", f_mul, {A(3, (2, 1, 3), SYM, 2, 0), A(3, (2, 1, 3), SYM, 2, 1)}, .atol = 1e-4, .rtol = 1e-3},
    {"mul a*a [2,3]", f_mul_self, {A(2, (2, 3), SYM, 2, 1)}, .atol = 1e-4, .rtol = 1e-3},
    {"add [3,4]", f_add, {A(2, (3, 4), SYM, 2, 1), A(2, (3, 4), SYM, 2, 1)}, .atol = 1e-4, .rtol = 1e-3},
    {"add [7] frozen a", f_add, {A(1, (7), SYM, 2, 0), A(1, (7), SYM, 2, 1)}, .atol = 1e-4, .rtol = 1e-3},
    {"add a+a [5]", f_add_self, {A(1, (5), SYM, 2, 1)}, .atol = 1e-4, .rtol = 1e-3},
    /* scale */
    {"scale [3,5] by -0.75", f_scale, {A(2, (3, 5), SYM, 2, 1)}, .f = -0.75f, .atol = 1e-4, .rtol = 1e-3},
    {"scale [1] by 3", f_scale, {A(1, (1), SYM, 2, 1)}, .f = 3.0f, .atol = 1e-4, .rtol = 1e-3},
    {"scale [2,1,2] by 1e-3", f_scale, {A(3, (2, 1, 2), SYM, 2, 1)}, .f = 1e-3f, .atol = 1e-4, .rtol = 1e-3},
    /* attention scores: q [B, Tq, H dk], k [B, Tk, H dk] */
    {"attn_scores B2 Tq3 Tk5 H2 dk3", f_scores, {A(3, (2, 3, 6), SYM, 1, 1), A(3, (2, 5, 6), SYM, 1, 1)}, .heads = 2, .atol = 1e-4, .rtol = 1e-3},
    {"attn_scores B1 Tq1 Tk4 H1 dk1", f_scores, {A(3, (1, 1, 1), SYM, 1, 1), A(3, (1, 4, 1), SYM, 1, 1)}, .heads = 1, .atol = 1e-4, .rtol = 1e-3},
    {"attn_scores B3 Tq4 Tk2 H3 dk2", f_scores, {A(3, (3, 4, 6), SYM, 1, 1), A(3, (3, 2, 6), SYM, 1, 1)}, .heads = 3, .atol = 1e-4, .rtol = 1e-3},
    {"attn_scores B2 Tq2 Tk3 H2 frozen k", f_scores, {A(3, (2, 2, 4), SYM, 1, 1), A(3, (2, 3, 4), SYM, 1, 0)}, .heads = 2, .atol = 1e-4, .rtol = 1e-3},
    {"attn_scores B2 Tq3 Tk1 H4 frozen q", f_scores, {A(3, (2, 3, 4), SYM, 1, 0), A(3, (2, 1, 4), SYM, 1, 1)}, .heads = 4, .atol = 1e-4, .rtol = 1e-3},
    /* attention softmax: scores [B, H, Q, K], bias [H, Q, K], mask [B, K] */
    {"attn_softmax B2 H2 Q3 K5 bias mask", f_softmax, {A(4, (2, 2, 3, 5), SYM, 2, 1), A(3, (2, 3, 5), SYM, 1, 1), I(2, (2, 5), MASK, 0)}, .atol = 1e-4, .rtol = 1e-3},
    {"attn_softmax B2 H3 Q4 K4 bias causal", f_softmax, {A(4, (2, 3, 4, 4), SYM, 2, 1), A(3, (3, 4, 4), SYM, 1, 1), NONE}, .causal = 1, .atol = 1e-4, .rtol = 1e-3},
    {"attn_softmax B1 H1 Q1 K1 bias", f_softmax, {A(4, (1, 1, 1, 1), SYM, 2, 1), A(3, (1, 1, 1), SYM, 1, 1), NONE}, .atol = 1e-4, .rtol = 1e-3},
    {"attn_softmax B3 H1 Q5 K3 mask causal", f_softmax, {A(4, (3, 1, 5, 3), SYM, 2, 1), NONE, I(2, (3, 3), MASK, 0)}, .causal = 1, .atol = 1e-4, .rtol = 1e-3},
    {"attn_softmax B2 H2 Q2 K6 frozen bias", f_softmax, {A(4, (2, 2, 2, 6), SYM, 2, 1), A(3, (2, 2, 6), SYM, 1, 0), I(2, (2, 6), MASK, 0)}, .atol = 1e-4, .rtol = 1e-3},
    {"attn_softmax B2 H2 Q3 K4 all", f_softmax, {A(4, (2, 2, 3, 4), SYM, 2, 1), A(3, (2, 3, 4), SYM, 1, 1), I(2, (2, 4), MASK, 0)}, .causal = 1, .atol = 1e-4, .rtol = 1e-3},
    {"attn_softmax B2 H2 Q3 K4 frozen scores", f_softmax, {A(4, (2, 2, 3, 4), SYM, 2, 0), A(3, (2, 3, 4), SYM, 1, 1), I(2, (2, 4), MASK, 0)}, .atol = 1e-4, .rtol = 1e-3},
    /* attention context: probs [B, H, Tq, Tk], v [B, Tk, H dk] */
    {"attn_context B2 H2 Tq3 Tk5 dk3", f_context, {A(4, (2, 2, 3, 5), SYM, 1, 1), A(3, (2, 5, 6), SYM, 1, 1)}, .atol = 1e-4, .rtol = 1e-3},
    {"attn_context B1 H1 Tq1 Tk1 dk1", f_context, {A(4, (1, 1, 1, 1), SYM, 1, 1), A(3, (1, 1, 1), SYM, 1, 1)}, .atol = 1e-4, .rtol = 1e-3},
    {"attn_context B3 H3 Tq2 Tk4 dk1", f_context, {A(4, (3, 3, 2, 4), SYM, 1, 1), A(3, (3, 4, 3), SYM, 1, 1)}, .atol = 1e-4, .rtol = 1e-3},
    {"attn_context B2 H2 Tq4 Tk3 frozen v", f_context, {A(4, (2, 2, 4, 3), SYM, 1, 1), A(3, (2, 3, 4), SYM, 1, 0)}, .atol = 1e-4, .rtol = 1e-3},
    {"attn_context B1 H2 Tq2 Tk3 frozen probs", f_context, {A(4, (1, 2, 2, 3), SYM, 1, 0), A(3, (1, 3, 4), SYM, 1, 1)}, .atol = 1e-4, .rtol = 1e-3},
    /* position bias: table [buckets, H], bucket ids [Tq, Tk] (repeats accumulate) */
    {"position_bias [6,2] ids [3,5]", f_posbias, {A(2, (6, 2), SYM, 1, 1), I(2, (3, 5), IDS, 6)}, .atol = 1e-4, .rtol = 1e-3},
    {"position_bias [1,3] ids [2,2]", f_posbias, {A(2, (1, 3), SYM, 1, 1), I(2, (2, 2), IDS, 1)}, .atol = 1e-4, .rtol = 1e-3},
    {"position_bias [32,1] ids [1,7]", f_posbias, {A(2, (32, 1), SYM, 1, 1), I(2, (1, 7), IDS, 32)}, .atol = 1e-4, .rtol = 1e-3},
    /* cross-entropy: mean over rows whose target != -100 */
    {"cross_entropy [4,7] some -100", f_xent, {A(2, (4, 7), SYM, 2, 1), I(1, (4), TARGETS, 7)}, .atol = 1e-4, .rtol = 1e-3},
    {"cross_entropy [2,3,5] some -100", f_xent, {A(3, (2, 3, 5), SYM, 2, 1), I(2, (2, 3), TARGETS, 5)}, .atol = 1e-4, .rtol = 1e-3},
    {"cross_entropy [1,1]", f_xent, {A(2, (1, 1), SYM, 2, 1), I(1, (1), IDS, 1)}, .atol = 1e-4, .rtol = 1e-3},
    {"cross_entropy [5,2]", f_xent, {A(2, (5, 2), SYM, 2, 1), I(1, (5), IDS, 2)}, .atol = 1e-4, .rtol = 1e-3},
    {"cross_entropy [3,32]", f_xent, {A(2, (3, 32), SYM, 4, 1), I(1, (3), IDS, 32)}, .atol = 1e-4, .rtol = 1e-3},
    /* dropout (training, fixed seed and offset) */
    {"dropout [4,9] p 0.1", f_dropout, {A(2, (4, 9), SYM, 2, 1)}, .f = 0.1f, .seed = 1234, .offset = 7, .atol = 1e-4, .rtol = 1e-3},
    {"dropout [1,1] p 0.5", f_dropout, {A(2, (1, 1), SYM, 2, 1)}, .f = 0.5f, .seed = 99, .offset = 0, .atol = 1e-4, .rtol = 1e-3},
    {"dropout [3,5,7] p 0.5 64-bit seed/offset", f_dropout, {A(3, (3, 5, 7), SYM, 2, 1)}, .f = 0.5f,
     .seed = 0x123456789abcdefull, .offset = (1ull << 33) + 5, .atol = 1e-4, .rtol = 1e-3},
    {"dropout [13] p 0.9", f_dropout, {A(1, (13), SYM, 2, 1)}, .f = 0.9f, .seed = 5, .offset = 1, .atol = 1e-4, .rtol = 1e-3},
    /* chains */
    {"chain attention B2 T3x4 H2 dk3", f_attention,
     {A(3, (2, 3, 6), SYM, 1, 1), A(3, (2, 4, 6), SYM, 1, 1), A(3, (2, 4, 6), SYM, 1, 1), A(2, (5, 2), SYM, 1, 1),
      I(2, (3, 4), IDS, 5), I(2, (2, 4), MASK, 0)},
     .heads = 2, .atol = 5e-4, .rtol = 2e-3},
    {"chain attention causal frozen k", f_attention,
     {A(3, (1, 4, 4), SYM, 1, 1), A(3, (1, 4, 4), SYM, 1, 0), A(3, (1, 4, 4), SYM, 1, 1), A(2, (3, 1), SYM, 1, 1),
      I(2, (4, 4), IDS, 3), NONE},
     .heads = 1, .causal = 1, .atol = 5e-4, .rtol = 2e-3},
    {"attn recomputed p0.2 bias mask", f_attention_recompute,
     {A(3, (2, 3, 6), SYM, 1, 1), A(3, (2, 4, 6), SYM, 1, 1), A(3, (2, 4, 6), SYM, 1, 1), A(2, (5, 2), SYM, 1, 1),
      I(2, (3, 4), IDS, 5), I(2, (2, 4), MASK, 0)},
     .heads = 2, .f = 0.2f, .seed = 77, .offset = 9, .atol = 5e-4, .rtol = 2e-3},
    {"attn recomputed causal frozen k p0.5", f_attention_recompute,
     {A(3, (1, 4, 4), SYM, 1, 1), A(3, (1, 4, 4), SYM, 1, 0), A(3, (1, 4, 4), SYM, 1, 1), A(2, (3, 1), SYM, 1, 1),
      I(2, (4, 4), IDS, 3), NONE},
     .heads = 1, .causal = 1, .f = 0.5f, .seed = 5, .offset = 1, .atol = 5e-4, .rtol = 2e-3},
    {"attn recomputed cross only v p0.1", f_attention_recompute,
     {A(3, (2, 2, 4), SYM, 1, 0), A(3, (2, 5, 4), SYM, 1, 0), A(3, (2, 5, 4), SYM, 1, 1), NONE, NONE,
      I(2, (2, 5), MASK, 0)},
     .heads = 2, .f = 0.1f, .seed = 3, .offset = 0, .atol = 5e-4, .rtol = 2e-3},
    {"attn recomputed only the bias", f_attention_recompute,
     {A(3, (2, 3, 4), SYM, 1, 0), A(3, (2, 3, 4), SYM, 1, 0), A(3, (2, 3, 4), SYM, 1, 0), A(2, (4, 2), SYM, 1, 1),
      I(2, (3, 3), IDS, 4), I(2, (2, 3), MASK, 0)},
     .heads = 2, .atol = 5e-4, .rtol = 2e-3},
    {"chain ffn rows 5 d 6 ff 9", f_ffn,
     {AW(2, (5, 6), 0.25, 1.5, 1), A(1, (6), SYM, 1.5, 1), A(2, (9, 6), SYM, 1, 1), A(2, (6, 9), SYM, 1, 1),
      I(1, (5), TARGETS, 6)},
     .f = 0.1f, .seed = 42, .offset = 3, .atol = 5e-4, .rtol = 2e-3},
    {"bmm [2,3,4]x[2,4,5]", f_bmm, {A(3, (2, 3, 4), SYM, 1, 1), A(3, (2, 4, 5), SYM, 1, 1)}, .atol = 2e-4, .rtol = 1e-3},
    {"bmm a@a [2,3,3]", f_bmm_self, {A(3, (2, 3, 3), SYM, 1, 1)}, .atol = 2e-4, .rtol = 1e-3},
    {"bmm a@a [4,4]", f_bmm_self, {A(2, (4, 4), SYM, 1, 1)}, .atol = 2e-4, .rtol = 1e-3},
    {"attn_scores q==k B2 T3 H2", f_scores_self, {A(3, (2, 3, 4), SYM, 1, 1)}, .heads = 2, .atol = 2e-4, .rtol = 1e-3},
    {"view twice [3,4]", f_view_twice, {A(2, (3, 4), SYM, 2, 1)}, .atol = 1e-4, .rtol = 1e-3},
    {"fwht [3,8]", f_fwht, {A(2, (3, 8), SYM, 1, 1)}, .f = 1.0f, .atol = 2e-4, .rtol = 1e-3},
    {"relu_dropout [5,7] p 0.3", f_relu_dropout, {AW(2, (5, 7), 0.1, 2, 1)}, .f = 0.3f, .seed = 11, .offset = 3, .atol = 1e-4, .rtol = 1e-3},
    {"relu_dropout [70] p 0.5", f_relu_dropout, {AW(1, (70), 0.1, 2, 1)}, .f = 0.5f, .seed = 12, .offset = 0, .atol = 1e-4, .rtol = 1e-3},
    {"dropout_add h==in [4,9] p 0.2", f_dropout_add_self, {A(2, (4, 9), SYM, 2, 1)}, .f = 0.2f, .seed = 13, .offset = 5, .atol = 1e-4, .rtol = 1e-3},
    {"chain attention q==k==v B2 T4 H2", f_attention_self,
     {A(3, (2, 4, 6), SYM, 1, 1), NONE, NONE, A(2, (5, 2), SYM, 1, 1), I(2, (4, 4), IDS, 5), I(2, (2, 4), MASK, 0)},
     .heads = 2, .atol = 5e-4, .rtol = 2e-3},
    {"attn recomputed q==k==v p0.3", f_attention_recompute_self,
     {A(3, (2, 4, 6), SYM, 1, 1), NONE, NONE, A(2, (5, 2), SYM, 1, 1), I(2, (4, 4), IDS, 5), I(2, (2, 4), MASK, 0)},
     .heads = 2, .causal = 1, .f = 0.3f, .seed = 21, .offset = 2, .atol = 5e-4, .rtol = 2e-3},
    {"attn recomputed q==k, v p0.3", f_attention_recompute_self,
     {A(3, (2, 4, 6), SYM, 1, 1), NONE, A(3, (2, 4, 6), SYM, 1, 1), A(2, (5, 2), SYM, 1, 1), I(2, (4, 4), IDS, 5),
      I(2, (2, 4), MASK, 0)},
     .heads = 2, .f = 0.3f, .seed = 22, .offset = 4, .atol = 5e-4, .rtol = 2e-3},
    {"attn recomputed q==k, v p0", f_attention_recompute_self,
     {A(3, (2, 4, 6), SYM, 1, 1), NONE, A(3, (2, 4, 6), SYM, 1, 1), NONE, NONE, NONE},
     .heads = 3, .atol = 5e-4, .rtol = 2e-3},
};
/* clang-format on */

/* ---- the driver ---- */
static int64_t arg_numel(const struct arg *a) {
    int64_t n = 1;
    for (int i = 0; i < a->ndim; i++)
        n *= a->shape[i];
    return n;
}

static int is_int(const struct arg *a) {
    return a->init == IDS || a->init == TARGETS;
}

static void fill_arg(const struct arg *a, void *dst) {
    int64_t n = arg_numel(a);
    if (a->init == IDS || a->init == TARGETS) {
        int32_t *d = dst;
        for (int64_t i = 0; i < n; i++)
            d[i] = (int32_t)(rng_next() % (uint64_t)a->vmax);
        if (a->init == TARGETS)
            for (int64_t i = 2; i < n; i += 3)
                d[i] = -100;
    } else if (a->init == MASK) {
        float *d = dst;
        for (int64_t b = 0; b < a->shape[0]; b++)
            for (int64_t k = 0; k < a->shape[1]; k++)
                d[b * a->shape[1] + k] = k > 0 && (k + b) % 3 == 2 ? -1e9f : 0.0f;
    } else {
        float *d = dst;
        for (int64_t i = 0; i < n; i++)
            d[i] = rng_grid(a->init == AWAY ? a->lo : 0, a->a);
    }
}

struct run {
    const struct gcase *c;
    void *host[MAX_IN];
    struct tensor *t[MAX_IN];
    float *r; /* loss weights, numel of the output */
    int64_t out_n;
};

/* Upload the inputs (requires_grad as in the table when `grads`, else 0); optional
 * persistent gradient buffers. Returns the op's output or NULL. */
static struct tensor *forward(struct exec *x, struct run *R, int grads, float **pgrad) {
    for (int k = 0; k < MAX_IN; k++) {
        const struct arg *a = &R->c->in[k];
        R->t[k] = NULL;
        if (!a->ndim) continue;
        R->t[k] = exec_upload(x, is_int(a) ? DTYPE_I32 : DTYPE_F32, a->ndim, a->shape, R->host[k]);
        if (!R->t[k]) return NULL;
        R->t[k]->requires_grad = grads && a->grad;
        if (pgrad && pgrad[k]) R->t[k]->grad = pgrad[k];
    }
    return R->c->fwd(x, R->t, R->c);
}

static double loss_of(struct exec *x, struct run *R) {
    exec_reset(x);
    x->record = 0;
    struct tensor *y = forward(x, R, 0, NULL);
    if (!y || tensor_numel(y) != R->out_n) {
        fprintf(stderr, "forward failed: %s\n", error_message());
        return NAN;
    }
    return host_wsum(y->data, R->r, R->out_n);
}

/* Forward with the table's requires_grad and backward of sum(out * r). */
static int analytic(struct exec *x, struct run *R, float **pgrad) {
    exec_reset(x);
    x->record = 1;
    struct tensor *y = forward(x, R, 1, pgrad);
    struct tensor *rt = y ? exec_upload(x, DTYPE_F32, 1, (int64_t[]){R->out_n}, R->r) : NULL;
    struct tensor *loss = weighted_sum(x, y, rt);
    return loss && backward(x, loss) == 0 ? 0 : -1;
}

struct stats {
    double max_err, max_ratio;
    int n_cases, n_elems;
};

static void run_case(struct exec *x, const struct gcase *c, int idx, struct stats *st) {
    struct run R = {.c = c};
    rng_s = 0xC0FFEEull * (uint64_t)(idx + 1);
    for (int k = 0; k < MAX_IN; k++)
        if (c->in[k].ndim) {
            R.host[k] = malloc((size_t)arg_numel(&c->in[k]) * 4);
            fill_arg(&c->in[k], R.host[k]);
        }

    /* 1. shape of the output, loss weights */
    exec_reset(x);
    x->record = 0;
    struct tensor *y = forward(x, &R, 0, NULL);
    if (!y) {
        CHECK(0, "%s: forward: %s", c->name, error_message());
        goto out;
    }
    R.out_n = tensor_numel(y);
    R.r = malloc((size_t)R.out_n * sizeof(float));
    for (int64_t i = 0; i < R.out_n; i++)
        R.r[i] = rng_grid(0.25, 1);

    /* 2. nothing is recorded without inputs that need a gradient, or without x->record */
    exec_reset(x);
    x->record = 1;
    y = forward(x, &R, 0, NULL);
    CHECK(y && x->tape_len == 0 && !y->requires_grad,
          "%s: recorded %d nodes with no input requiring grad", c->name, x->tape_len);
    exec_reset(x);
    x->record = 0;
    y = forward(x, &R, 1, NULL);
    CHECK(y && x->tape_len == 0 && !y->requires_grad, "%s: recorded %d nodes with x->record 0",
          c->name, x->tape_len);

    /* 3. analytic gradients, buffers from grad_of (the arena) */
    if (analytic(x, &R, NULL)) {
        CHECK(0, "%s: backward: %s", c->name, error_message());
        goto out;
    }
    CHECK(x->tape_len > 0, "%s: nothing recorded", c->name);
    float *g[MAX_IN] = {0};
    for (int k = 0; k < MAX_IN; k++) {
        const struct arg *a = &c->in[k];
        if (!a->ndim) continue;
        if (!a->grad) {
            CHECK(R.t[k]->grad == NULL,
                  "%s: input %d does not require grad but got a gradient buffer", c->name, k);
            continue;
        }
        CHECK(R.t[k]->grad != NULL, "%s: input %d got no gradient", c->name, k);
        g[k] = calloc((size_t)arg_numel(a), sizeof(float));
        if (R.t[k]->grad) memcpy(g[k], R.t[k]->grad, (size_t)arg_numel(a) * sizeof(float));
    }

    /* 4. accumulation: two backward passes into persistent buffers = 2x one pass */
    float *pg[MAX_IN] = {0};
    for (int k = 0; k < MAX_IN; k++)
        if (g[k]) pg[k] = calloc((size_t)arg_numel(&c->in[k]), sizeof(float));
    for (int pass = 0; pass < 2; pass++)
        if (analytic(x, &R, pg))
            CHECK(0, "%s: backward (persistent grads): %s", c->name, error_message());
    for (int k = 0; k < MAX_IN; k++) {
        if (!g[k]) continue;
        int64_t n = arg_numel(&c->in[k]);
        double gmax = 0, worst = 0;
        for (int64_t i = 0; i < n; i++)
            gmax = fmax(gmax, fabs(g[k][i]));
        int bad = 0;
        for (int64_t i = 0; i < n; i++) {
            double d = fabs((double)pg[k][i] - 2.0 * g[k][i]);
            worst = fmax(worst, d);
            /* the second pass adds the same values onto the first: exact up to the BLAS
             * summation order with a nonzero C */
            if (d > 1e-6 * (gmax + fabs(2.0 * g[k][i]))) bad++;
        }
        CHECK(bad == 0,
              "%s: input %d: second backward is not 2x the first (%d elements, max diff %.3g)",
              c->name, k, bad, worst);
    }

    /* 5. finite differences */
    for (int k = 0; k < MAX_IN; k++) {
        if (!g[k]) continue;
        int64_t n = arg_numel(&c->in[k]);
        float *h = R.host[k];
        double worst = 0, worst_ratio = 0;
        int64_t bad = 0, worst_i = 0;
        double worst_fd = 0;
        for (int64_t i = 0; i < n; i++) {
            float x0 = h[i];
            double L[4];
            const int steps[4] = {-2, -1, 1, 2};
            for (int s = 0; s < 4; s++) {
                h[i] = (float)((double)x0 + steps[s] * FD_H); /* exact: x0 on the 1/4096 grid */
                L[s] = loss_of(x, &R);
            }
            h[i] = x0;
            double fd = (8.0 * (L[2] - L[1]) - (L[3] - L[0])) / (12.0 * FD_H);
            double err = fabs((double)g[k][i] - fd), lim = c->atol + c->rtol * fabs(fd);
            if (!(err <= lim)) bad++;
            if (err > worst || isnan(err)) {
                worst = err;
                worst_i = i;
                worst_fd = fd;
            }
            if (err / lim > worst_ratio) worst_ratio = err / lim;
        }
        CHECK(bad == 0,
              "%s: input %d: %lld/%lld elements off (atol %g rtol %g); worst [%lld] analytic %.9g "
              "fd %.9g",
              c->name, k, (long long)bad, (long long)n, c->atol, c->rtol, (long long)worst_i,
              g[k][worst_i], worst_fd);
        printf("  %s %-44s in%d n=%-4lld max|a-fd|=%.2e (%.2f of tol %g+%g|fd|)\n",
               bad ? "FAIL" : "ok  ", c->name, k, (long long)n, worst, worst_ratio, c->atol,
               c->rtol);
        st->max_err = fmax(st->max_err, worst);
        st->max_ratio = fmax(st->max_ratio, worst_ratio);
        st->n_elems += (int)n;
    }
    st->n_cases++;
    for (int k = 0; k < MAX_IN; k++) {
        free(g[k]);
        free(pg[k]);
    }
out:
    for (int k = 0; k < MAX_IN; k++)
        free(R.host[k]);
    free(R.r);
    x->training = 0;
}

/* op_linear as the reduction, for an output that is already [1, n]: same gradients as
 * the weighted-sum node (linear's backward hands dy * W = r to its input). */
static void check_linear_loss(struct exec *x) {
    enum { N = 11 };
    float in[N], r[N], g1[N], g2[N];
    rng_s = 777;
    for (int i = 0; i < N; i++) {
        in[i] = rng_grid(0, 3);
        r[i] = rng_grid(0.25, 1);
    }
    for (int pass = 0; pass < 2; pass++) {
        exec_reset(x);
        x->record = 1;
        struct tensor *t = exec_upload(x, DTYPE_F32, 2, (int64_t[]){1, N}, in);
        t->requires_grad = 1;
        struct tensor *y = op_gelu_new(x, t), *loss;
        if (pass == 0) {
            loss = op_linear(x, y, exec_upload(x, DTYPE_F32, 2, (int64_t[]){1, N}, r));
            CHECK(loss && tensor_numel(loss) == 1, "linear loss is not a scalar");
        } else {
            loss = weighted_sum(x, y, exec_upload(x, DTYPE_F32, 1, (int64_t[]){N}, r));
        }
        if (!loss || backward(x, loss)) {
            CHECK(0, "linear loss: %s", error_message());
            return;
        }
        memcpy(pass ? g2 : g1, t->grad, sizeof g1);
    }
    check_close_f32("gelu grad: op_linear loss vs weighted sum", g1, g2, N, 0, 1e-6);
}

/* backward() refuses a loss that depends on nothing trainable */
static void check_no_trainable(struct exec *x) {
    exec_reset(x);
    x->record = 1;
    float v[3] = {1, 2, 3};
    struct tensor *t = exec_upload(x, DTYPE_F32, 2, (int64_t[]){1, 3}, v);
    struct tensor *l = op_linear(x, t, t);
    CHECK(l && x->tape_len == 0, "linear of frozen tensors recorded");
    CHECK(backward(x, l) == -1, "backward of a loss with nothing trainable succeeded");
}

/* the CPU backend with new memory NaN-filled: a gradient element no op writes shows */
static void *nan_alloc(size_t bytes) {
    void *p = backend_cpu.alloc(bytes);
    if (p) backend_cpu.fill(p, NAN, bytes / sizeof(float));
    return p;
}

int main(void) {
    struct exec x;
    static struct backend nan_cpu;
    nan_cpu = backend_cpu;
    nan_cpu.alloc = nan_alloc;
    if (exec_init(&x, &nan_cpu)) {
        fprintf(stderr, "%s\n", error_message());
        return 1;
    }
    struct stats st = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&x, &cases[i], (int)i, &st);
    printf("  %d cases, %d gradient elements checked; max |analytic - fd| %.2e, max "
           "error/tolerance %.2f\n",
           st.n_cases, st.n_elems, st.max_err, st.max_ratio);
    check_linear_loss(&x);
    check_no_trainable(&x);
    exec_free(&x);
    CHECK_DONE();
}
