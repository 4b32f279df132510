/* test_fusion.c: the fused ops against the ops they replace: T5 v1.0's FFN activation and
 * dropout (op_relu_dropout, backend relu_dropout / relu_dropout_backward), T5 v1.1's gated
 * GELU (op_gelu_mul, backend gelu_mul / gelu_mul_backward) and the residual add of a
 * dropped-out sublayer output (op_dropout_add, backend dropout_add).
 *  1. Kernels, CPU backend, AVX2 and portable paths (COMPACTER_CPU_NO_AVX2), lengths around
 *     the 32-element Philox groups: relu_dropout(x) is bit for bit dropout(relu(x)) with
 *     the same seed and offset, over inputs holding -0, +0, NaN, +-inf, subnormals and
 *     ordinary values, and its mask has bit i set exactly where y[i] > 0 (every word
 *     written); relu_dropout_backward(dx, dy, mask) is bit for bit dropout_backward into a
 *     zeroed buffer followed by relu_backward, into a pre-filled dx; dropout_add(h, x) is bit
 *     for bit add(h, dropout(x)); gelu_mul(a, g) is bit for bit mul(gelu_new(a), g) and its
 *     backward mul_acc into a zeroed buffer then gelu_new_backward (da), and mul_acc (dg).
 *  2. Whole steps of the v1.0 fixture T5 (ReLU FFN) at batch 8, dropout on, two forward +
 *     backward passes each: full fine-tuning, Compacter++ and LoRA, fused (x->fuse = 1,
 *     the default, with new gradients written outright, x->overwrite_grads = 1) and not (both
 *     0: separate ops, every new gradient zero-filled): the loss, the logits, every trained
 *     gradient and the dropout
 *     stream's offset bitwise the same; the tape holds one relu_dropout node per FFN and
 *     one dropout_add node per sublayer when fused and none otherwise. The same for full
 *     fine-tuning and Compacter++ of the v1.1 fixture (gated-GELU: gelu_mul, dropout_add).
 *     All of it again under bf16 storage (--precision bf16): the fused nodes must output
 *     bf16, the unfused path (the f32 ops composed with the conversions) give the same bits.
 *  3. Memory: the bytes live after the forward drop by exactly one [tokens, d_ff] float
 *     tensor per ReLU FFN (the relu output the unfused relu kept for its backward) less the
 *     bit mask kept instead (ceil(tokens d_ff / 32) words, in 256-byte pool units), whether
 *     wo trains (full fine-tuning: its input, y, is kept either way) or not; per gated-GELU
 *     FFN exactly gelu's output (mul kept it; gelu_mul recomputes it); dropout_add keeps
 *     nothing, as add and dropout did.
 *  4. Attention's softmax and its dropout (backend attn_softmax_dropout and its backward,
 *     through op_attention with the probabilities recomputed): the output and the gradients
 *     of q, k, v and the bias are bit for bit those of the separate ops (x->fuse = 0), for
 *     7 cases of shape, masks and trained inputs (only v: the probabilities recomputed
 *     already dropped; the bias with and without v: the backward's in-place drop), and the
 *     fused ops ran exactly as often as expected (a counting wrapper over the CPU backend).
 *  5. The backward kernels' accumulate 0 (a new gradient written outright, core/autograd.h
 *     grad_for_overwrite): relu_dropout_backward (both paths), axpy, gelu_new_backward,
 *     rmsnorm's and the softmax backward over NaN give bit for bit what accumulating into zeros
 *     gives. The fused attention
 *     backward is the CPU's separate ops composed (tests/ref_attention.h; the CPU backend has
 *     none), counted through the wrapper. */
#include "tests/check.h"

#include <stdint.h>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "core/splitmix.h"
#include "core/t5_forward.h"
#include "core/trainable.h"
#include "methods/method.h"
#include "tests/ref_attention.h"

#define FIX "tests/fixtures/t5"
enum { B = 8, S = 24, T = 6, STEPS = 2 };

static const struct backend *CPU = &backend_cpu;

static uint64_t rng = 0x853c49e6748fea9bull;
static float uniform(void) { return (float)(splitmix64_unit(&rng) * 4.0 - 2.0); }

/* random values with the special ones sprinkled in */
static float *inputs(size_t n) {
    static const float special[] = {0.0f, -0.0f, NAN, INFINITY, -INFINITY, 1e-40f, -1e-40f, 1e30f};
    float *v = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        v[i] = i % 7 == 3 ? special[(i / 7) % 8] : uniform();
    return v;
}

static size_t bit_diff(const float *a, const float *b, size_t n) {
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        d += memcmp(&a[i], &b[i], sizeof(float)) != 0;
    return d;
}

static void test_kernels(size_t n, float p, const char *path) {
    uint64_t seed = 0x1234567890abcdefull, offset = 77;
    float *x = inputs(n), *relu = malloc(4 * n), *want = malloc(4 * n), *got = malloc(4 * n);
    size_t words = (n + 31) / 32;
    uint32_t *mask = malloc(4 * words);
    memset(mask, 0xA5, 4 * words);
    CHECK(CPU->relu(relu, x, n) == 0 && CPU->dropout(want, relu, n, p, seed, offset) == 0, "%s",
          error_message());
    CHECK(CPU->relu_dropout(got, mask, x, n, p, seed, offset) == 0, "%s", error_message());
    size_t d = bit_diff(got, want, n);
    CHECK(d == 0, "relu_dropout n=%zu p=%g (%s): %zu elements differ from dropout(relu)", n, p,
          path, d);
    size_t wrong_bits = 0;
    for (size_t i = 0; i < 32 * words; i++)
        wrong_bits += ((mask[i / 32] >> (i % 32)) & 1u) != (i < n && want[i] > 0);
    CHECK(wrong_bits == 0, "relu_dropout n=%zu p=%g (%s): %zu mask bits are not y > 0", n, p, path,
          wrong_bits);

    /* backward, from y = the fused output */
    float *dy = inputs(n), *dx0 = inputs(n), *tmp = calloc(n ? n : 1, 4), *dx_want = malloc(4 * n),
          *dx_got = malloc(4 * n);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(dy[i])) dy[i] = uniform(); /* gradients are finite */
    for (size_t i = 0; i < n; i++)
        if (!isfinite(dx0[i])) dx0[i] = -0.0f;
    memcpy(dx_want, dx0, 4 * n);
    memcpy(dx_got, dx0, 4 * n);
    CHECK(CPU->dropout_backward(tmp, dy, n, p, seed, offset, 1) == 0 &&
              CPU->relu_backward(dx_want, tmp, relu, n) == 0,
          "%s", error_message());
    CHECK(CPU->relu_dropout_backward(dx_got, dy, mask, n, p, 1) == 0, "%s", error_message());
    d = bit_diff(dx_got, dx_want, n);
    CHECK(d == 0,
          "relu_dropout_backward n=%zu p=%g (%s): %zu elements differ from the two backward ops", n,
          p, path, d);
    /* accumulate 0 over NaN: bitwise the two backward ops into a zero-filled dx */
    float *zero = calloc(n ? n : 1, 4), *tmp0 = calloc(n ? n : 1, 4);
    for (size_t i = 0; i < n; i++) dx_got[i] = NAN;
    CHECK(CPU->dropout_backward(tmp0, dy, n, p, seed, offset, 1) == 0 && CPU->relu_backward(zero, tmp0, relu, n) == 0 &&
              CPU->relu_dropout_backward(dx_got, dy, mask, n, p, 0) == 0,
          "%s", error_message());
    d = bit_diff(dx_got, zero, n);
    CHECK(d == 0, "relu_dropout_backward n=%zu p=%g (%s, overwrite): %zu elements differ from into zeros", n, p, path,
          d);
    free(zero), free(tmp0);
    /* axpy, accumulate 0 over NaN: bitwise accumulating into zeros */
    float *ax_want = calloc(n ? n : 1, 4), *ax_got = malloc(4 * (n ? n : 1));
    for (size_t i = 0; i < n; i++) ax_got[i] = NAN;
    CHECK(CPU->axpy(ax_want, dy, -0.37f, n, 1) == 0 && CPU->axpy(ax_got, dy, -0.37f, n, 0) == 0, "%s",
          error_message());
    d = bit_diff(ax_got, ax_want, n);
    CHECK(d == 0, "axpy n=%zu (overwrite): %zu elements differ from into zeros", n, d);
    /* gelu_new_backward, the same */
    memset(ax_want, 0, 4 * (n ? n : 1));
    for (size_t i = 0; i < n; i++) ax_got[i] = NAN;
    CHECK(CPU->gelu_new_backward(ax_want, dy, x, n, 1) == 0 && CPU->gelu_new_backward(ax_got, dy, x, n, 0) == 0, "%s",
          error_message());
    d = bit_diff(ax_got, ax_want, n);
    CHECK(d == 0, "gelu_new_backward n=%zu (overwrite): %zu elements differ from into zeros", n, d);
    free(ax_want), free(ax_got);
    /* dropout_add: y = h + dropout(x) */
    float *h = inputs(n), *dropped = malloc(4 * n);
    CHECK(CPU->dropout(dropped, x, n, p, seed, offset) == 0 && CPU->add(want, h, dropped, n) == 0,
          "%s", error_message());
    CHECK(CPU->dropout_add(got, h, x, n, p, seed, offset) == 0, "%s", error_message());
    d = bit_diff(got, want, n);
    CHECK(d == 0, "dropout_add n=%zu p=%g (%s): %zu elements differ from add(h, dropout(x))", n, p,
          path, d);
    free(h), free(dropped);

    /* gelu_mul: y = gelu_new(a) g; backward = mul's then gelu_new's */
    float *g = inputs(n), *act = malloc(4 * n), *dga = malloc(4 * n), *dgg = malloc(4 * n),
          *dact = calloc(n ? n : 1, 4), *da_want = malloc(4 * n), *dg_want = malloc(4 * n);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(g[i])) g[i] = uniform();
    float *a = inputs(n);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i]) || fabsf(a[i]) > 1e10f) a[i] = uniform(); /* activations are finite */
    CHECK(CPU->gelu_new(act, a, n) == 0 && CPU->mul(want, act, g, n) == 0 &&
              CPU->gelu_mul(got, a, g, n) == 0,
          "%s", error_message());
    d = bit_diff(got, want, n);
    CHECK(d == 0, "gelu_mul n=%zu: %zu elements differ from mul(gelu_new(a), g)", n, d);
    memcpy(da_want, dx0, 4 * n), memcpy(dga, dx0, 4 * n), memcpy(dg_want, dx0, 4 * n),
        memcpy(dgg, dx0, 4 * n);
    CHECK(CPU->mul_acc(dact, dy, g, n) == 0 && CPU->mul_acc(dg_want, dy, act, n) == 0 &&
              CPU->gelu_new_backward(da_want, dact, a, n, 1) == 0,
          "%s", error_message());
    CHECK(CPU->gelu_mul_backward(dga, dgg, dy, a, g, n) == 0, "%s", error_message());
    size_t da_diff = bit_diff(dga, da_want, n), dg_diff = bit_diff(dgg, dg_want, n);
    CHECK(da_diff == 0 && dg_diff == 0,
          "gelu_mul_backward n=%zu: %zu da and %zu dg elements differ", n, da_diff, dg_diff);
    memcpy(dga, dx0, 4 * n);
    CHECK(CPU->gelu_mul_backward(dga, NULL, dy, a, g, n) == 0 && bit_diff(dga, da_want, n) == 0,
          "gelu_mul_backward n=%zu, da only", n);
    free(g), free(act), free(dga), free(dgg), free(dact), free(da_want), free(dg_want), free(a);
    printf("  ok relu_dropout and its backward, dropout_add, gelu_mul and its backward, n=%zu p=%g "
           "(%s): bit for "
           "bit the separate ops\n",
           n, p, path);
    free(x), free(relu), free(want), free(got), free(dy), free(dx0), free(tmp), free(dx_want),
        free(dx_got), free(mask);
}

/* ---- attention: softmax and its dropout fused (op_attention, probabilities recomputed) ----
 * The CPU backend under a wrapper that counts the fused calls, so that a silent fallback to
 * the separate ops fails the test as surely as a wrong value. */
static struct backend counting;
static int n_fused_fwd, n_fused_bwd;

static int count_fwd(float *s, const float *bias, const float *mask, int causal, int64_t b, int64_t h, int64_t q,
                     int64_t k, float p, uint64_t seed, uint64_t offset) {
    n_fused_fwd++;
    return backend_cpu.attn_softmax_dropout(s, bias, mask, causal, b, h, q, k, p, seed, offset);
}

static int count_bwd(float *ds, float *dbias, const float *dd, float *probs, int64_t b, int64_t h, int64_t q,
                     int64_t k, float p, uint64_t seed, uint64_t offset, int drop_probs, int accumulate) {
    n_fused_bwd++;
    return ref_softmax_dropout_backward(ds, dbias, dd, probs, b, h, q, k, p, seed, offset, drop_probs, accumulate);
}

struct attn_case {
    const char *name;
    int b, h, tq, tk, dk, causal, mask, bias;
    int gq, gk, gv, gb; /* which inputs train */
    float p;
    int fwd, bwd; /* fused calls expected (forward's and backward's together; backward) */
};

/* out, then the gradients of q, k, v, bias in turn (those that train), into *res */
static int attn_run(const struct attn_case *c, int fuse, float **res, size_t *len) {
    struct exec x;
    if (exec_init(&x, &counting)) return -1;
    x.fuse = fuse;
    x.overwrite_grads = fuse; /* the unfused run also zero-fills every new gradient: the old way */
    x.record = 1;
    x.training = 1;
    x.seed = 0x5eedull + (uint64_t)c->b;
    x.rng_offset = 12345;
    x.recompute_attention = EXEC_ATTN_RECOMPUTE_ALWAYS;
    int64_t inner = (int64_t)c->h * c->dk, nq = (int64_t)c->b * c->tq * inner, nk = (int64_t)c->b * c->tk * inner;
    int64_t nb = (int64_t)c->h * c->tq * c->tk, nout = nq;
    float *hq = malloc(4 * (size_t)nq), *hk = malloc(4 * (size_t)nk), *hv = malloc(4 * (size_t)nk),
          *hb = malloc(4 * (size_t)nb), *hm = malloc(4 * (size_t)(c->b * c->tk)), *hr = malloc(4 * (size_t)nout);
    rng = 0x853c49e6748fea9bull; /* the same inputs for the fused and the separate run */
    for (int64_t i = 0; i < nq; i++) hq[i] = uniform();
    for (int64_t i = 0; i < nk; i++) hk[i] = uniform(), hv[i] = uniform();
    for (int64_t i = 0; i < nb; i++) hb[i] = uniform();
    for (int64_t i = 0; i < (int64_t)c->b * c->tk; i++) hm[i] = (i % c->tk) >= c->tk - (i / c->tk) ? -1e9f : 0.0f;
    for (int64_t i = 0; i < nout; i++) hr[i] = uniform();
    struct tensor *q = exec_upload(&x, DTYPE_F32, 3, (int64_t[]){c->b, c->tq, inner}, hq),
                  *k = exec_upload(&x, DTYPE_F32, 3, (int64_t[]){c->b, c->tk, inner}, hk),
                  *v = exec_upload(&x, DTYPE_F32, 3, (int64_t[]){c->b, c->tk, inner}, hv),
                  *bias = c->bias ? exec_upload(&x, DTYPE_F32, 3, (int64_t[]){c->h, c->tq, c->tk}, hb) : NULL,
                  *mask = c->mask ? exec_upload(&x, DTYPE_F32, 2, (int64_t[]){c->b, c->tk}, hm) : NULL,
                  *r = exec_upload(&x, DTYPE_F32, 2, (int64_t[]){1, nout}, hr);
    int rc = !q || !k || !v || (c->bias && !bias) || (c->mask && !mask) || !r;
    if (!rc) {
        q->requires_grad = c->gq, k->requires_grad = c->gk, v->requires_grad = c->gv;
        if (bias) bias->requires_grad = c->gb;
        struct tensor *out = op_attention(&x, q, k, v, bias, mask, c->h, c->causal, c->p);
        struct tensor *loss = op_linear(&x, op_view(&x, out, 2, (int64_t[]){1, nout}), r); /* sum(out r) */
        rc = !loss;
        *len = (size_t)nout + (size_t)(c->gq * nq + c->gk * nk + c->gv * nk + c->gb * nb);
        *res = malloc(4 * *len);
        if (!rc) memcpy(*res, out->data, 4 * (size_t)nout);
        rc = rc || backward(&x, loss);
        float *o = *res + nout;
        struct tensor *ts[] = {q, k, v, bias};
        for (int t = 0; t < 4 && !rc; t++)
            if (ts[t] && ts[t]->requires_grad) {
                size_t nt = (size_t)tensor_numel(ts[t]);
                memcpy(o, ts[t]->grad, 4 * nt);
                o += nt;
            }
    }
    free(hq), free(hk), free(hv), free(hb), free(hm), free(hr);
    exec_free(&x);
    return rc ? -1 : 0;
}

/* The softmax backward with accumulate 0 over NaN: bitwise accumulate 1 into zeros */
static void test_softmax_overwrite(int64_t b, int64_t h, int64_t q, int64_t k) {
    size_t n = (size_t)(b * h * q * k);
    float *probs = malloc(4 * n), *dp = malloc(4 * n), *want = calloc(n, 4), *got = malloc(4 * n);
    for (size_t i = 0; i < n; i++) probs[i] = uniform(), dp[i] = uniform();
    CHECK(CPU->attn_softmax(probs, NULL, NULL, 0, b, h, q, k) == 0, "%s", error_message());
    for (size_t i = 0; i < n; i++) got[i] = NAN;
    CHECK(CPU->attn_softmax_backward(want, NULL, dp, probs, b, h, q, k, 1) == 0 &&
              CPU->attn_softmax_backward(got, NULL, dp, probs, b, h, q, k, 0) == 0,
          "%s", error_message());
    size_t d = bit_diff(got, want, n);
    CHECK(d == 0, "softmax backward [%lld,%lld,%lld,%lld] overwrite: %zu values differ", (long long)b, (long long)h,
          (long long)q, (long long)k, d);
    printf("  ok attn_softmax_backward, accumulate 0 over NaN = accumulate into zeros, bit for bit (%zu values)\n", n);
    free(probs), free(dp), free(want), free(got);
}

/* rmsnorm's backward with accumulate 0 (dx over NaN; dw accumulates either way): bitwise
 * accumulate 1 into zeros */
static void test_rmsnorm_overwrite(int64_t rows, int64_t d) {
    size_t n = (size_t)(rows * d);
    float *xs = malloc(4 * n), *dy = malloc(4 * n), *w = malloc(4 * (size_t)d), *want = calloc(n, 4),
          *got = malloc(4 * n), *dw_want = calloc((size_t)d, 4), *dw_got = calloc((size_t)d, 4);
    for (size_t i = 0; i < n; i++) xs[i] = uniform(), dy[i] = uniform(), got[i] = NAN;
    for (int64_t j = 0; j < d; j++) w[j] = uniform();
    CHECK(CPU->rmsnorm_backward(want, dw_want, dy, xs, w, rows, d, 1e-6f, 1) == 0 &&
              CPU->rmsnorm_backward(got, dw_got, dy, xs, w, rows, d, 1e-6f, 0) == 0,
          "%s", error_message());
    size_t dd = bit_diff(got, want, n), dwd = bit_diff(dw_got, dw_want, (size_t)d);
    CHECK(dd == 0 && dwd == 0, "rmsnorm backward [%lld,%lld] overwrite: %zu dx, %zu dw values differ",
          (long long)rows, (long long)d, dd, dwd);
    printf("  ok rmsnorm_backward, accumulate 0 over NaN = accumulate into zeros, bit for bit (%zu values)\n", n);
    free(xs), free(dy), free(w), free(want), free(got), free(dw_want), free(dw_got);
}

static void test_attention(void) {
    test_rmsnorm_overwrite(7, 40);
    test_rmsnorm_overwrite(300, 512);
    test_softmax_overwrite(2, 3, 5, 7);
    test_softmax_overwrite(1, 2, 4, 33);
    counting = backend_cpu;
    counting.attn_softmax_dropout = count_fwd;
    counting.attn_softmax_dropout_backward = count_bwd;
    static const struct attn_case cases[] = {
        /* name                               b  h tq tk dk cau msk bia  gq gk gv gb  p    fwd bwd */
        {"self, bias and mask, all train", 2, 3, 5, 7, 4, 0, 1, 1, 1, 1, 1, 1, 0.1f, 1, 1},
        {"causal, frozen k, no bias", 2, 2, 6, 6, 3, 1, 0, 0, 1, 0, 1, 0, 0.5f, 1, 1},
        {"cross, only v trains", 3, 2, 3, 9, 4, 0, 1, 0, 0, 0, 1, 0, 0.1f, 2, 0},
        {"only the bias trains", 2, 3, 4, 5, 2, 0, 1, 1, 0, 0, 0, 1, 0.2f, 1, 1},
        {"bias and v train", 2, 3, 4, 5, 2, 0, 0, 1, 0, 0, 1, 1, 0.2f, 1, 1},
        {"q only, 33 keys", 1, 1, 2, 33, 5, 0, 1, 0, 1, 0, 0, 0, 0.3f, 1, 1},
        {"no dropout", 2, 2, 3, 4, 2, 0, 1, 1, 1, 1, 1, 1, 0.0f, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct attn_case *c = &cases[i];
        float *fu = NULL, *se = NULL;
        size_t nf = 0, ns = 0;
        n_fused_fwd = n_fused_bwd = 0;
        int rc = attn_run(c, 1, &fu, &nf);
        int fwd = n_fused_fwd, bwd = n_fused_bwd;
        n_fused_fwd = n_fused_bwd = 0;
        rc = rc || attn_run(c, 0, &se, &ns);
        CHECK(!rc, "attention %s: %s", c->name, error_message());
        if (!rc) {
            size_t d = bit_diff(fu, se, nf);
            CHECK(nf == ns && d == 0, "attention %s: %zu of %zu values (output, then gradients) differ", c->name, d,
                  nf);
            CHECK(fwd == c->fwd && bwd == c->bwd && n_fused_fwd == 0 && n_fused_bwd == 0,
                  "attention %s: %d/%d fused forward/backward calls (expected %d/%d), %d/%d unfused", c->name,
                  fwd, bwd, c->fwd, c->bwd, n_fused_fwd, n_fused_bwd);
            printf("  ok attention %s, p=%g: fused = separate ops bit for bit (%zu values), %d + %d fused calls\n",
                   c->name, c->p, nf, fwd, bwd);
        }
        free(fu), free(se);
    }
}

/* ---- whole steps ---- */

struct run {
    float loss[STEPS];
    float *logits[STEPS];
    int64_t n_logits;
    float *grads[STEPS]; /* all trained gradients, concatenated */
    int64_t n_grads;
    uint64_t rng_offset[STEPS];
    size_t live_fwd;   /* bytes live after the first forward */
    int fused_nodes;   /* relu_dropout nodes on the first tape */
    int add_nodes;     /* dropout_add nodes on the first tape */
    int64_t tokens_ff; /* sum over FFNs of tokens x d_ff */
    int64_t
        mask_bytes; /* the masks kept instead: each ceil(tokens d_ff / 32) words, pool-rounded */
    int gelu_mul;   /* the model's FFN is gated-GELU */
    int gm_nodes;   /* gelu_mul nodes on the first tape */
    int bf16_nodes; /* relu_dropout and gelu_mul nodes whose output is bf16 */
};

static int32_t enc_ids[B * S], enc_mask[B * S], labels[B * T], dec_ids[B * T];

static int run_case(const char *fam, const char *method, const char *const *opts, int n_opts,
                    int fuse, const char *precision, struct run *r) {
    struct t5_model m;
    struct method_instance mi = {0};
    struct trainable tr = {0};
    struct exec x;
    memset(r, 0, sizeof *r);
    char dir[64];
    snprintf(dir, sizeof dir, FIX "/%s", fam);
    if (t5_model_load(&m, dir, CPU)) return -1;
    if (backend_set_precision(CPU, precision) || exec_init(&x, CPU)) { /* exec_init reads the precision */
        t5_model_free(&m);
        return -1;
    }
    const struct t5_config *c = &m.cfg;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < S; t++) {
            int real = t < S - 2 * b;
            enc_ids[b * S + t] = real ? 2 + (b * 131 + t * 17) % (c->vocab_size - 2) : c->pad_id;
            enc_mask[b * S + t] = real;
        }
    for (int i = 0; i < B * T; i++)
        labels[i] = 2 + (i * 29) % (c->vocab_size - 2);
    t5_shift_right(c, labels, B, T, dec_ids);
    int relu = c->ffn == T5_FFN_RELU; /* relu_dropout; gated-GELU: gelu_mul */
    r->gelu_mul = c->ffn == T5_FFN_GATED_GELU;
    r->tokens_ff =
        ((int64_t)c->num_layers * B * S + (int64_t)c->num_decoder_layers * B * T) * c->d_ff;
    int64_t enc_mask_b = ((int64_t)B * S * c->d_ff + 31) / 32 * 4,
            dec_mask_b = ((int64_t)B * T * c->d_ff + 31) / 32 * 4;
    enc_mask_b = (enc_mask_b + 255) / 256 * 256, dec_mask_b = (dec_mask_b + 255) / 256 * 256;
    r->mask_bytes = relu ? c->num_layers * enc_mask_b + c->num_decoder_layers * dec_mask_b : 0;
    int rc = method_attach(&mi, method, &m, (const char **)opts, n_opts, 42) ||
             trainable_init(&tr, CPU, mi.train, mi.n_train, NULL);
    struct t5_batch batch = {B, S, T, enc_ids, enc_mask, dec_ids, labels};
    x.data.poison = 1; /* a read of freed memory shows as NaN */
    x.fuse = fuse;
    x.record = 1;
    x.training = 1;
    x.seed = 99;
    for (int s = 0; s < STEPS && !rc; s++) {
        struct t5_outputs o;
        rc = trainable_zero_grad(&tr) || t5_forward(&x, &m, &batch, &o);
        if (rc) break;
        if (s == 0) {
            r->live_fwd = x.data.live;
            for (const struct tape_node *n = x.tape; n; n = n->prev) {
                r->fused_nodes += !strcmp(n->op, "relu_dropout");
                r->add_nodes += !strcmp(n->op, "dropout_add");
                r->gm_nodes += !strcmp(n->op, "gelu_mul");
                r->bf16_nodes += (!strcmp(n->op, "gelu_mul") || !strcmp(n->op, "relu_dropout")) &&
                                 n->out->dtype == DTYPE_BF16;
            }
        }
        r->loss[s] = *(const float *)o.loss->data;
        r->n_logits = tensor_numel(o.logits);
        r->logits[s] = malloc(tensor_bytes(o.logits));
        memcpy(r->logits[s], o.logits->data, tensor_bytes(o.logits));
        if ((rc = backward(&x, o.loss))) break;
        r->n_grads = tr.numel;
        r->grads[s] = malloc(sizeof(float) * (size_t)tr.numel);
        memcpy(r->grads[s], tr.grad, sizeof(float) * (size_t)tr.numel);
        r->rng_offset[s] = x.rng_offset;
        rc = exec_reset(&x);
    }
    trainable_free(&tr);
    method_detach(&mi);
    exec_free(&x);
    t5_model_free(&m);
    if (backend_set_precision(CPU, "fp32")) rc = -1;
    return rc;
}

static void run_free(struct run *r) {
    for (int s = 0; s < STEPS; s++)
        free(r->logits[s]), free(r->grads[s]);
}

/* precision "bf16": bf16 storage (core/ops.h), whose fused ops keep a bf16 output and whose
 * unfused ones compose the f32 ops with the conversions: the same bits again */
static void test_steps(const char *fam, const char *method, const char *const *opts, int n_opts,
                       const char *precision) {
    struct run f, u;
    int bf16 = !strcmp(precision, "bf16");
    if (run_case(fam, method, opts, n_opts, 1, precision, &f) || run_case(fam, method, opts, n_opts, 0, precision, &u)) {
        CHECK(0, "%s: %s", method, error_message());
        return;
    }
    for (int s = 0; s < STEPS; s++) {
        CHECK(memcmp(&f.loss[s], &u.loss[s], 4) == 0 && isfinite(f.loss[s]),
              "%s step %d: loss %.9g fused, %.9g not", method, s + 1, f.loss[s], u.loss[s]);
        CHECK(bit_diff(f.logits[s], u.logits[s], (size_t)f.n_logits) == 0,
              "%s step %d: logits differ", method, s + 1);
        size_t d = bit_diff(f.grads[s], u.grads[s], (size_t)f.n_grads);
        CHECK(d == 0, "%s step %d: %zu of %lld gradient elements differ", method, s + 1, d,
              (long long)f.n_grads);
        CHECK(f.rng_offset[s] == u.rng_offset[s], "%s step %d: dropout offset %llu fused, %llu not",
              method, s + 1, (unsigned long long)f.rng_offset[s],
              (unsigned long long)u.rng_offset[s]);
    }
    CHECK((f.fused_nodes > 0) == !f.gelu_mul && u.fused_nodes == 0,
          "%s %s: %d relu_dropout nodes fused, %d not", fam, method, f.fused_nodes, u.fused_nodes);
    CHECK((f.gm_nodes > 0) == f.gelu_mul && u.gm_nodes == 0,
          "%s %s: %d gelu_mul nodes fused, %d not", fam, method, f.gm_nodes, u.gm_nodes);
    CHECK(f.add_nodes > 0 && u.add_nodes == 0, "%s %s: %d dropout_add nodes fused, %d not", fam,
          method, f.add_nodes, u.add_nodes);
    CHECK(f.bf16_nodes == (bf16 ? f.fused_nodes + f.gm_nodes : 0), "%s %s %s: %d of %d fused FFN nodes output bf16",
          fam, method, precision, f.bf16_nodes, f.fused_nodes + f.gm_nodes);
    /* relu: the relu output less its bit mask; gated-GELU: gelu's output (mul kept it); not
     * counted under bf16 (the unfused ops compose with conversions there) */
    size_t want_saved = (size_t)f.tokens_ff * sizeof(float) - (size_t)f.mask_bytes;
    CHECK(bf16 || u.live_fwd - f.live_fwd == want_saved,
          "%s: live bytes after the forward %zu fused, %zu not (expected %zu less)", method,
          f.live_fwd, u.live_fwd, want_saved);
    printf("  ok %s %s %s, dropout on, %d steps: fused = not fused bit for bit (loss, logits, %lld "
           "gradient elements, dropout offset); %d relu_dropout, %d gelu_mul (%d bf16) and %d dropout_add "
           "nodes; live after forward %zu vs %zu bytes\n",
           fam, method, precision, STEPS, (long long)f.n_grads, f.fused_nodes, f.gm_nodes, f.bf16_nodes,
           f.add_nodes, f.live_fwd, u.live_fwd);
    run_free(&f);
    run_free(&u);
}

int main(void) {
    const size_t lens[] = {1, 31, 32, 33, 100003};
    for (int path = 0; path < 2; path++) {
        setenv("COMPACTER_CPU_NO_AVX2", path ? "1" : "0", 1);
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            test_kernels(lens[i], 0.1f, path ? "portable" : "avx2 where the cpu has it");
            test_kernels(lens[i], 0.5f, path ? "portable" : "avx2 where the cpu has it");
        }
    }
    unsetenv("COMPACTER_CPU_NO_AVX2");
    test_attention();

    struct stat st;
    if (stat(FIX "/v10/model.safetensors", &st) != 0) {
        printf("  (fixture %s/v10 missing: whole-step checks not run)\n", FIX);
        CHECK(0, "fixture %s/v10 missing", FIX);
        CHECK_DONE();
    }
    const char *phm[] = {"reduction_factor=2", "phm_dim=2"}, *lora[] = {"targets=q,v"};
    for (int b = 0; b < 2; b++) {
        const char *prec = b ? "bf16" : "fp32";
        test_steps("v10", "full", NULL, 0, prec);
        test_steps("v10", "compacter++", phm, 2, prec);
        test_steps("v10", "lora", lora, 1, prec);
        test_steps("v11", "full", NULL, 0, prec);
        test_steps("v11", "compacter++", phm, 2, prec);
    }
    CHECK_DONE();
}
