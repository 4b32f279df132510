/* test_cuda_ops.c: every op of the CUDA backend against the CPU backend (the reference)
 * on fresh fixed-seed random inputs, outputs poisoned with NaN first: relative error
 * ||cuda - cpu|| / ||cpu|| <= 1e-5 (fp32), exact for copies and argmax (ties included);
 * GEMM with every transpose combination, padded leading dimensions and batch strides;
 * softmax with every bias/mask/causal combination; cross-entropy with ignored rows; the
 * deferred device errors. Then the whole T5 forward of both fixture families on CUDA
 * against the CPU backend (1e-5 relative) and against Hugging Face (test_t5_forward's
 * tolerances), greedy ids identical, and run-to-run bitwise determinism.
 * SKIPs without a CUDA build or without a device. */
#include "tests/check.h"

#ifndef HAVE_CUDA
int main(void) {
    SKIP("built without the CUDA backend (CUDA=0, or nvcc not found)");
    CHECK_DONE();
}
#else

#include <stdint.h>

#include "core/backend.h"
#include "core/error.h"
#include "core/exec.h"
#include "core/safetensors.h"
#include "core/t5_forward.h"
#include "core/t5_model.h"
#include "kernels/cuda/cuda_backend.h"

#define FIX "tests/fixtures/t5"
#define TOL 1e-5

static const struct backend *CPU = &backend_cpu;
static const struct backend *GPU = &backend_cuda;

/* ---- fixed-seed random numbers (splitmix64) ---- */

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* uniform in [lo, hi), never exactly 0 */
static float rnd(float lo, float hi) {
    float v;
    do
        v = lo + (hi - lo) * (float)((double)(rng_next() >> 11) / 9007199254740992.0);
    while (v == 0.0f);
    return v;
}

static int rnd_int(int n) {
    return (int)(rng_next() % (uint64_t)n);
}

static void die(const char *what) {
    fprintf(stderr, "FATAL %s: %s\n", what, error_message());
    exit(1);
}

static float *hrand(size_t n, float lo, float hi) {
    float *p = malloc(n * sizeof *p + 1);
    if (!p) die("malloc");
    for (size_t i = 0; i < n; i++)
        p[i] = rnd(lo, hi);
    return p;
}

static float *hnan(size_t n) {
    float *p = malloc(n * sizeof *p + 1);
    if (!p) die("malloc");
    for (size_t i = 0; i < n; i++)
        p[i] = NAN;
    return p;
}

static float *hcopy(const float *src, size_t n) {
    float *p = malloc(n * sizeof *p + 1);
    if (!p) die("malloc");
    memcpy(p, src, n * sizeof *p);
    return p;
}

/* device copy of host memory */
static void *dup_dev(const void *host, size_t bytes) {
    void *d = GPU->alloc(bytes);
    if (!d) die("cuda alloc");
    if (GPU->upload(d, host, bytes)) die("cuda upload");
    return d;
}

/* a device buffer of n NaNs (by upload, independent of the fill op) */
static float *dev_nan(size_t n) {
    float *h = hnan(n);
    float *d = dup_dev(h, n * sizeof(float));
    free(h);
    return d;
}

static void to_host(void *host, const void *dev, size_t bytes) {
    if (GPU->download(host, dev, bytes)) die("cuda download");
}

static double rel_err(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* ||a - b|| / ||b|| <= tol (NaN fails) */
static void check_rel(const char *what, const float *got, const float *want, size_t n, double tol) {
    double e = rel_err(got, want, n);
    check_count++;
    if (!(e <= tol)) {
        check_failures++;
        size_t worst = 0;
        double wd = -1;
        for (size_t i = 0; i < n; i++) {
            double d = fabs((double)got[i] - (double)want[i]);
            if (isnan(d) || d > wd) {
                wd = isnan(d) ? INFINITY : d;
                worst = i;
            }
        }
        fprintf(stderr,
                "FAIL %s: relative error %.3g > %.1g (n=%zu; worst [%zu] cuda %.9g cpu %.9g)\n",
                what, e, tol, n, worst, got[worst], want[worst]);
    } else {
        printf("  ok %-52s n=%-8zu rel %.3g\n", what, n, e);
    }
}

static void check_op(const char *what, int rc) {
    CHECK(rc == 0, "%s returned %d: %s", what, rc, error_message());
}

/* ---- memory, fill ---- */

static void test_memory_fill(void) {
    size_t n = 1001;
    float *h = hrand(n, -1, 1), *back = hnan(n);
    float *d = dup_dev(h, n * sizeof(float));
    to_host(back, d, n * sizeof(float));
    CHECK(memcmp(h, back, n * sizeof(float)) == 0, "upload/download round trip differs");
    check_op("fill", GPU->fill(d, 3.25f, n));
    to_host(back, d, n * sizeof(float));
    int ok = 1;
    for (size_t i = 0; i < n; i++)
        ok &= back[i] == 3.25f;
    CHECK(ok, "fill 3.25 over %zu elements", n);
    if (ok) printf("  ok upload/download round trip, fill\n");
    check_op("sync", GPU->sync());
    GPU->free(d);
    free(h);
    free(back);
}

/* ---- GEMM ---- */

struct gemm_case {
    int ta, tb, m, n, k, batch;
    int lda, ldb, ldc;
    int64_t sa, sb, sc;
    float alpha, beta;
};

/* padded layout: leading dimension = stored columns + pad, batch stride = one matrix + pad
 * (stride_b_zero: every batch shares B) */
static struct gemm_case gemm_padded(int ta, int tb, int m, int n, int k, int batch, int pad,
                                    float alpha, float beta, int stride_b_zero) {
    struct gemm_case g = {ta, tb, m, n, k, batch, 0, 0, 0, 0, 0, 0, alpha, beta};
    int ra = ta ? k : m, ca = ta ? m : k, rb = tb ? n : k, cb = tb ? k : n;
    g.lda = ca + pad;
    g.ldb = cb + pad;
    g.ldc = n + pad;
    g.sa = (int64_t)ra * g.lda + pad;
    g.sb = stride_b_zero ? 0 : (int64_t)rb * g.ldb + pad;
    g.sc = (int64_t)m * g.ldc + pad;
    return g;
}

static size_t span(int rows, int ld, int64_t stride, int batch) {
    return (size_t)((int64_t)(batch - 1) * stride + (int64_t)(rows - 1) * ld + ld);
}

static void run_gemm_case(const char *label, struct gemm_case g) {
    int ra = g.ta ? g.k : g.m, rb = g.tb ? g.n : g.k;
    size_t na = span(ra, g.lda, g.sa, g.batch), nb = span(rb, g.ldb, g.sb, g.batch);
    size_t nc = span(g.m, g.ldc, g.sc, g.batch);
    float *a = hrand(na, -1, 1), *b = hrand(nb, -1, 1);
    /* C: NaN everywhere (beta == 0 must not read it) or random logical elements, NaN in
     * the padding (which neither backend may touch) */
    unsigned char *logical = calloc(nc, 1);
    for (int bt = 0; bt < g.batch; bt++)
        for (int i = 0; i < g.m; i++)
            for (int j = 0; j < g.n; j++)
                logical[(size_t)(bt * g.sc + (int64_t)i * g.ldc + j)] = 1;
    float *c_cpu = hnan(nc);
    if (g.beta != 0)
        for (size_t i = 0; i < nc; i++)
            if (logical[i]) c_cpu[i] = rnd(-1, 1);
    float *c_gpu_init = hcopy(c_cpu, nc);
    float *da = dup_dev(a, na * 4), *db = dup_dev(b, nb * 4), *dc = dup_dev(c_gpu_init, nc * 4);

    check_op("cpu gemm", CPU->gemm(g.ta, g.tb, g.m, g.n, g.k, g.alpha, a, g.lda, g.sa, b, g.ldb,
                                   g.sb, g.beta, c_cpu, g.ldc, g.sc, g.batch));
    check_op("cuda gemm", GPU->gemm(g.ta, g.tb, g.m, g.n, g.k, g.alpha, da, g.lda, g.sa, db, g.ldb,
                                    g.sb, g.beta, dc, g.ldc, g.sc, g.batch));
    float *c_gpu = hnan(nc);
    to_host(c_gpu, dc, nc * 4);

    /* compare the logical elements; the padding must still be NaN */
    size_t nl = 0, pad_written = 0;
    float *gl = malloc(nc * 4 + 1), *cl = malloc(nc * 4 + 1);
    for (size_t i = 0; i < nc; i++) {
        if (logical[i]) {
            gl[nl] = c_gpu[i];
            cl[nl++] = c_cpu[i];
        } else if (!isnan(c_gpu[i])) {
            pad_written++;
        }
    }
    char what[160];
    snprintf(what, sizeof what, "gemm %s ta=%d tb=%d %dx%dx%d b=%d beta=%g", label, g.ta, g.tb, g.m,
             g.n, g.k, g.batch, g.beta);
    check_rel(what, gl, cl, nl, TOL);
    CHECK(pad_written == 0, "%s: %zu elements outside C written", what, pad_written);
    GPU->free(da);
    GPU->free(db);
    GPU->free(dc);
    free(a), free(b), free(c_cpu), free(c_gpu_init), free(c_gpu), free(gl), free(cl), free(logical);
}

static void test_gemm(void) {
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            run_gemm_case("padded batched", gemm_padded(ta, tb, 17, 23, 31, 3, 3, 0.75f, 0.0f, 0));
            run_gemm_case("padded batched", gemm_padded(ta, tb, 17, 23, 31, 3, 3, 0.75f, 0.5f, 0));
            run_gemm_case("shared B (stride 0)",
                          gemm_padded(ta, tb, 9, 5, 13, 4, 1, 1.0f, 0.0f, 1));
            run_gemm_case("large", gemm_padded(ta, tb, 128, 96, 256, 1, 0, 1.0f, 0.0f, 0));
            run_gemm_case("k=1", gemm_padded(ta, tb, 6, 7, 1, 2, 0, 1.0f, 0.0f, 0));
        }
    /* the attention layouts of core/ops.c: heads interleaved in the rows, batch = heads */
    int Tq = 7, Tk = 9, H = 3, dk = 12, inner = H * dk;
    struct gemm_case scores = {0,    1,   Tq, Tk, dk, H, inner, inner, Tk, dk, dk, (int64_t)Tq * Tk,
                               1.0f, 0.0f};
    run_gemm_case("attention scores (q k^T)", scores);
    struct gemm_case context = {0,  0,  Tq,   dk,  Tk, H, Tk, inner, inner, (int64_t)Tq * Tk,
                                dk, dk, 1.0f, 0.0f};
    run_gemm_case("attention context (p v)", context);
    /* linear as op_linear: y = x W^T */
    struct gemm_case linear = {0, 1, 37, 56, 40, 1, 40, 40, 56, 0, 0, 0, 1.0f, 0.0f};
    run_gemm_case("linear (x W^T)", linear);
}

static void test_precision_switch(void) {
    CHECK(cuda_set_precision("bogus") == -1, "an unknown precision is refused");
    CHECK(cuda_set_precision("tf32") == 0, "tf32: %s", error_message());
    CHECK(!strcmp(cuda_precision(), "tf32"), "precision reads back tf32");
    /* tf32 is allowed to be off by ~1e-3; it must still be a GEMM */
    int m = 64, n = 64, k = 512;
    float *a = hrand((size_t)m * k, -1, 1), *b = hrand((size_t)k * n, -1, 1),
          *c = hnan((size_t)m * n);
    float *got = hnan((size_t)m * n);
    float *da = dup_dev(a, (size_t)m * k * 4), *db = dup_dev(b, (size_t)k * n * 4),
          *dc = dev_nan((size_t)m * n);
    check_op("cpu gemm", CPU->gemm(0, 0, m, n, k, 1, a, k, 0, b, n, 0, 0, c, n, 0, 1));
    check_op("cuda gemm tf32", GPU->gemm(0, 0, m, n, k, 1, da, k, 0, db, n, 0, 0, dc, n, 0, 1));
    to_host(got, dc, (size_t)m * n * 4);
    check_rel("gemm with tf32 allowed (tol 1e-2)", got, c, (size_t)m * n, 1e-2);
    CHECK(cuda_set_precision("fp32") == 0, "fp32: %s", error_message());
    CHECK(!strcmp(cuda_precision(), "fp32"), "precision reads back fp32");
    check_op("cuda gemm fp32", GPU->gemm(0, 0, m, n, k, 1, da, k, 0, db, n, 0, 0, dc, n, 0, 1));
    to_host(got, dc, (size_t)m * n * 4);
    check_rel("gemm back on fp32", got, c, (size_t)m * n, TOL);
    GPU->free(da), GPU->free(db), GPU->free(dc);
    free(a), free(b), free(c), free(got);
}

/* ---- embedding, position bias ---- */

static void test_embedding(int64_t vocab, int64_t n, int64_t d) {
    float *table = hrand((size_t)(vocab * d), -1, 1);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        ids[i] = rnd_int((int)vocab);
    ids[0] = (int32_t)(vocab - 1);
    size_t no = (size_t)(n * d);
    float *want = hnan(no), *got = hnan(no);
    float *dt = dup_dev(table, (size_t)(vocab * d) * 4), *dout = dev_nan(no);
    int32_t *dids = dup_dev(ids, sizeof(int32_t) * (size_t)n);
    check_op("cpu embedding", CPU->embedding(want, table, ids, n, d));
    check_op("cuda embedding", GPU->embedding(dout, dt, dids, n, d));
    to_host(got, dout, no * 4);
    char what[96];
    snprintf(what, sizeof what, "embedding V=%lld n=%lld d=%lld (exact)", (long long)vocab,
             (long long)n, (long long)d);
    check_rel(what, got, want, no, 0.0);
    CHECK(memcmp(got, want, no * 4) == 0, "%s: not bitwise equal", what);

    /* a negative id: reported by the next sync (deferred), then cleared */
    ids[n / 2] = -3;
    if (GPU->upload(dids, ids, sizeof(int32_t) * (size_t)n)) die("cuda upload");
    check_op("cuda embedding (bad id)", GPU->embedding(dout, dt, dids, n, d));
    int rc = GPU->sync();
    CHECK(rc == -1 && strstr(error_message(), "negative"),
          "negative id reported at sync (rc %d, '%s')", rc, error_message());
    CHECK(GPU->sync() == 0, "the device error is cleared once reported: %s", error_message());
    GPU->free(dt), GPU->free(dout), GPU->free(dids);
    free(table), free(ids), free(want), free(got);
}

static void test_position_bias(void) {
    int64_t H = 3, Q = 6, K = 8, nb = 16, QK = Q * K;
    float *table = hrand((size_t)(nb * H), -1, 1);
    int32_t *buckets = malloc(sizeof(int32_t) * (size_t)QK);
    for (int64_t i = 0; i < QK; i++)
        buckets[i] = rnd_int((int)nb);
    float *want = hnan((size_t)(H * QK)), *got = hnan((size_t)(H * QK));
    float *dt = dup_dev(table, (size_t)(nb * H) * 4), *dout = dev_nan((size_t)(H * QK));
    int32_t *db = dup_dev(buckets, sizeof(int32_t) * (size_t)QK);
    check_op("cpu position_bias", CPU->position_bias(want, table, buckets, H, QK));
    check_op("cuda position_bias", GPU->position_bias(dout, dt, db, H, QK));
    to_host(got, dout, (size_t)(H * QK) * 4);
    check_rel("position_bias H=3 Q=6 K=8 (exact)", got, want, (size_t)(H * QK), 0.0);
    GPU->free(dt), GPU->free(dout), GPU->free(db);
    free(table), free(buckets), free(want), free(got);
}

/* ---- RMSNorm ---- */

static void test_rmsnorm(int64_t rows, int64_t d) {
    size_t n = (size_t)(rows * d);
    float *x = hrand(n, -3, 3), *w = hrand((size_t)d, 0.5f, 1.5f);
    float *want = hnan(n), *got = hnan(n);
    float *dx = dup_dev(x, n * 4), *dw = dup_dev(w, (size_t)d * 4), *dout = dev_nan(n);
    check_op("cpu rmsnorm", CPU->rmsnorm(want, x, w, rows, d, 1e-6f));
    check_op("cuda rmsnorm", GPU->rmsnorm(dout, dx, dw, rows, d, 1e-6f));
    to_host(got, dout, n * 4);
    char what[96];
    snprintf(what, sizeof what, "rmsnorm rows=%lld d=%lld", (long long)rows, (long long)d);
    check_rel(what, got, want, n, TOL);
    GPU->free(dx), GPU->free(dw), GPU->free(dout);
    free(x), free(w), free(want), free(got);
}

/* ---- attention softmax ---- */

static void test_softmax(int64_t B, int64_t H, int64_t Q, int64_t K, int use_bias, int use_mask,
                         int causal) {
    size_t n = (size_t)(B * H * Q * K), nbias = (size_t)(H * Q * K), nmask = (size_t)(B * K);
    float *s = hrand(n, -4, 4), *bias = hrand(nbias, -2, 2), *mask = hrand(nmask, -1, 1);
    /* padding: the last keys of every sequence but the first get the additive -1e9 */
    for (int64_t b = 1; b < B; b++)
        for (int64_t k = K - b; k < K; k++)
            if (k > 0) mask[b * K + k] = -1e9f;
    float *want = hcopy(s, n), *got = hnan(n);
    float *ds = dup_dev(s, n * 4), *dbias = dup_dev(bias, nbias * 4),
          *dmask = dup_dev(mask, nmask * 4);
    check_op("cpu attn_softmax", CPU->attn_softmax(want, use_bias ? bias : NULL,
                                                   use_mask ? mask : NULL, causal, B, H, Q, K));
    check_op("cuda attn_softmax", GPU->attn_softmax(ds, use_bias ? dbias : NULL,
                                                    use_mask ? dmask : NULL, causal, B, H, Q, K));
    to_host(got, ds, n * 4);
    char what[128];
    snprintf(what, sizeof what,
             "attn_softmax B=%lld H=%lld Q=%lld K=%lld bias=%d mask=%d causal=%d", (long long)B,
             (long long)H, (long long)Q, (long long)K, use_bias, use_mask, causal);
    check_rel(what, got, want, n, TOL);
    GPU->free(ds), GPU->free(dbias), GPU->free(dmask);
    free(s), free(bias), free(mask), free(want), free(got);
}

/* ---- elementwise ---- */

enum ew { EW_RELU, EW_GELU, EW_MUL, EW_ADD, EW_SCALE, EW_ADD_INPLACE };

static void test_elementwise(enum ew op, size_t n) {
    static const char *names[] = {"relu", "gelu_new", "mul",
                                  "add",  "scale",    "add in place (y == a)"};
    float *a = hrand(n, -6, 6), *b = hrand(n, -2, 2);
    float *want = op == EW_ADD_INPLACE ? hcopy(a, n) : hnan(n), *got = hnan(n);
    float *da = dup_dev(a, n * 4), *db = dup_dev(b, n * 4),
          *dy = op == EW_ADD_INPLACE ? da : dev_nan(n);
    int rc_cpu = 0, rc_gpu = 0;
    switch (op) {
    case EW_RELU:
        rc_cpu = CPU->relu(want, a, n), rc_gpu = GPU->relu(dy, da, n);
        break;
    case EW_GELU:
        rc_cpu = CPU->gelu_new(want, a, n), rc_gpu = GPU->gelu_new(dy, da, n);
        break;
    case EW_MUL:
        rc_cpu = CPU->mul(want, a, b, n), rc_gpu = GPU->mul(dy, da, db, n);
        break;
    case EW_ADD:
        rc_cpu = CPU->add(want, a, b, n), rc_gpu = GPU->add(dy, da, db, n);
        break;
    case EW_SCALE:
        rc_cpu = CPU->scale(want, a, 0.37f, n), rc_gpu = GPU->scale(dy, da, 0.37f, n);
        break;
    case EW_ADD_INPLACE:
        rc_cpu = CPU->add(want, want, b, n), rc_gpu = GPU->add(da, da, db, n);
        break;
    }
    check_op("cpu elementwise", rc_cpu);
    check_op("cuda elementwise", rc_gpu);
    to_host(got, dy, n * 4);
    char what[96];
    snprintf(what, sizeof what, "%s n=%zu", names[op], n);
    check_rel(what, got, want, n, TOL);
    GPU->free(da), GPU->free(db);
    if (dy != da) GPU->free(dy);
    free(a), free(b), free(want), free(got);
}

/* ---- cross-entropy ---- */

static void test_cross_entropy(int64_t rows, int64_t vocab, int all_ignored) {
    size_t n = (size_t)(rows * vocab);
    float *logits = hrand(n, -5, 5);
    int32_t *t = malloc(sizeof(int32_t) * (size_t)rows);
    for (int64_t r = 0; r < rows; r++)
        t[r] = (all_ignored || r % 4 == 2) ? -100 : rnd_int((int)vocab);
    if (!all_ignored) t[0] = (int32_t)(vocab - 1);
    float mean_cpu = NAN, mean_gpu = NAN, *rl_cpu = hnan((size_t)rows),
          *rl_gpu = hnan((size_t)rows);
    float *dl = dup_dev(logits, n * 4), *drl = dev_nan((size_t)rows), *dmean = dev_nan(1);
    int32_t *dt = dup_dev(t, sizeof(int32_t) * (size_t)rows);
    check_op("cpu cross_entropy", CPU->cross_entropy(&mean_cpu, rl_cpu, logits, t, rows, vocab));
    check_op("cuda cross_entropy", GPU->cross_entropy(dmean, drl, dl, dt, rows, vocab));
    to_host(rl_gpu, drl, (size_t)rows * 4);
    to_host(&mean_gpu, dmean, 4);
    char what[128];
    snprintf(what, sizeof what, "cross_entropy rows=%lld V=%lld%s row losses", (long long)rows,
             (long long)vocab, all_ignored ? " all ignored" : "");
    if (all_ignored) {
        int zeros = 1;
        for (int64_t r = 0; r < rows; r++)
            zeros &= rl_gpu[r] == 0.0f;
        CHECK(zeros, "%s: ignored rows have loss 0", what);
        CHECK(isnan(mean_cpu) && isnan(mean_gpu), "%s: mean is NaN on both (cpu %g cuda %g)", what,
              mean_cpu, mean_gpu);
    } else {
        check_rel(what, rl_gpu, rl_cpu, (size_t)rows, TOL);
        snprintf(what, sizeof what, "cross_entropy rows=%lld V=%lld mean", (long long)rows,
                 (long long)vocab);
        check_rel(what, &mean_gpu, &mean_cpu, 1, TOL);

        /* a target out of range: deferred to the next download, NaN mean, then cleared */
        t[rows - 1] = (int32_t)vocab;
        if (GPU->upload(dt, t, sizeof(int32_t) * (size_t)rows)) die("cuda upload");
        check_op("cuda cross_entropy (bad target)",
                 GPU->cross_entropy(dmean, drl, dl, dt, rows, vocab));
        int rc = GPU->download(&mean_gpu, dmean, 4);
        CHECK(rc == -1 && strstr(error_message(), "target"),
              "bad target reported at download (rc %d, '%s')", rc, error_message());
        CHECK(isnan(mean_gpu), "mean is NaN after a bad target (%g)", mean_gpu);
        CHECK(GPU->sync() == 0, "the device error is cleared once reported: %s", error_message());
    }
    GPU->free(dl), GPU->free(drl), GPU->free(dmean), GPU->free(dt);
    free(logits), free(t), free(rl_cpu), free(rl_gpu);
}

/* ---- argmax ---- */

static void test_argmax(int64_t rows, int64_t cols, int levels) {
    size_t n = (size_t)(rows * cols);
    float *x = hrand(n, -1, 1);
    /* levels > 0: values from {1..levels}, so ties everywhere (first index must win) */
    if (levels)
        for (size_t i = 0; i < n; i++)
            x[i] = (float)(1 + rnd_int(levels));
    if (rows >= 6 && cols >= 8) {
        float *r;
        r = x + 0 * cols; /* the same maximum twice: the first */
        r[cols - 2] = 9, r[3] = 9;
        r = x + 1 * cols; /* all equal: 0 */
        for (int64_t c = 0; c < cols; c++)
            r[c] = 0.5f;
        r = x + 2 * cols; /* maximum at the last index */
        r[cols - 1] = 10;
        r = x + 3 * cols; /* all -inf: 0 */
        for (int64_t c = 0; c < cols; c++)
            r[c] = -INFINITY;
        r = x + 4 * cols; /* NaN first: 0, as the CPU's comparisons */
        r[0] = NAN, r[5] = 11;
        r = x + 5 * cols; /* NaN in the middle is passed over */
        r[2] = NAN, r[6] = 12, r[cols - 1] = 12;
    }
    int32_t *want = malloc(sizeof(int32_t) * (size_t)rows),
            *got = malloc(sizeof(int32_t) * (size_t)rows);
    for (int64_t r = 0; r < rows; r++)
        want[r] = got[r] = -7;
    float *dx = dup_dev(x, n * 4);
    int32_t *dout = dup_dev(got, sizeof(int32_t) * (size_t)rows);
    check_op("cpu argmax", CPU->argmax(want, x, rows, cols));
    check_op("cuda argmax", GPU->argmax(dout, dx, rows, cols));
    to_host(got, dout, sizeof(int32_t) * (size_t)rows);
    int64_t bad = 0, first = -1;
    for (int64_t r = 0; r < rows; r++)
        if (got[r] != want[r]) {
            if (first < 0) first = r;
            bad++;
        }
    CHECK(bad == 0, "argmax rows=%lld cols=%lld: %lld rows differ (first row %lld: cuda %d cpu %d)",
          (long long)rows, (long long)cols, (long long)bad, (long long)first,
          first >= 0 ? got[first] : 0, first >= 0 ? want[first] : 0);
    if (!bad)
        printf("  ok argmax rows=%lld cols=%lld%s (exact)\n", (long long)rows, (long long)cols,
               levels ? " with ties" : "");
    GPU->free(dx), GPU->free(dout);
    free(x), free(want), free(got);
}

/* ---- the whole model ---- */

static const void *ref_data(struct st_file *f, const char *name, int64_t *numel) {
    const struct st_tensor *t = st_find(f, name);
    if (!t) {
        fprintf(stderr, "reference tensor %s missing\n", name);
        exit(1);
    }
    if (numel) *numel = st_numel(t);
    return f->map + f->data_start + t->begin;
}

struct fwd_result {
    float *enc, *logits, loss;
    size_t n_enc, n_logits;
};

static int forward_on(const struct backend *be, const char *dir, const struct t5_batch *b,
                      struct fwd_result *r) {
    struct t5_model m;
    struct exec x;
    if (t5_model_load(&m, dir, be)) return -1;
    if (exec_init(&x, be)) {
        t5_model_free(&m);
        return -1;
    }
    struct t5_outputs out;
    int rc = t5_forward(&x, &m, b, &out);
    if (!rc) {
        r->n_enc = (size_t)tensor_numel(out.enc_out);
        r->n_logits = (size_t)tensor_numel(out.logits);
        r->enc = malloc(tensor_bytes(out.enc_out));
        r->logits = malloc(tensor_bytes(out.logits));
        rc = exec_download(&x, out.enc_out, r->enc) || exec_download(&x, out.logits, r->logits) ||
             exec_download(&x, out.loss, &r->loss);
    }
    exec_free(&x);
    t5_model_free(&m);
    return rc ? -1 : 0;
}

static int generate_on(const struct backend *be, const char *dir, int B, int S, const int32_t *ids,
                       const int32_t *mask, int L, int32_t *gen, int *len) {
    struct t5_model m;
    struct exec x;
    if (t5_model_load(&m, dir, be)) return -1;
    if (exec_init(&x, be)) {
        t5_model_free(&m);
        return -1;
    }
    int rc = t5_generate_greedy(&x, &m, B, S, ids, mask, L, gen, len);
    exec_free(&x);
    t5_model_free(&m);
    return rc;
}

static void test_model(const char *fam) {
    char dir[256], path[256], what[128];
    struct st_file rf;
    snprintf(path, sizeof path, FIX "/%s-reference.safetensors", fam);
    snprintf(dir, sizeof dir, FIX "/%s", fam);
    if (st_open(&rf, path)) {
        CHECK(0, "%s", error_message());
        return;
    }
    const struct st_tensor *ids_t = st_find(&rf, "enc_ids"), *lab_t = st_find(&rf, "labels");
    int B = (int)ids_t->shape[0], S = (int)ids_t->shape[1], T = (int)lab_t->shape[1];
    const int32_t *enc_ids = ref_data(&rf, "enc_ids", NULL),
                  *enc_mask = ref_data(&rf, "enc_mask", NULL);
    const int32_t *labels = ref_data(&rf, "labels", NULL);
    struct t5_config cfg;
    {
        struct t5_model tmp;
        if (t5_model_load(&tmp, dir, &backend_cpu)) die("load cpu model");
        cfg = tmp.cfg;
        t5_model_free(&tmp);
    }
    int32_t *dec_ids = malloc(sizeof(int32_t) * (size_t)(B * T));
    t5_shift_right(&cfg, labels, B, T, dec_ids);
    struct t5_batch b = {B, S, T, enc_ids, enc_mask, dec_ids, labels};

    struct fwd_result cpu = {0}, gpu = {0}, gpu2 = {0};
    if (forward_on(CPU, dir, &b, &cpu)) {
        CHECK(0, "%s cpu forward: %s", fam, error_message());
        goto done;
    }
    if (forward_on(GPU, dir, &b, &gpu) || forward_on(GPU, dir, &b, &gpu2)) {
        CHECK(0, "%s cuda forward: %s", fam, error_message());
        goto done;
    }
    snprintf(what, sizeof what, "%s model: encoder states cuda vs cpu", fam);
    check_rel(what, gpu.enc, cpu.enc, cpu.n_enc, TOL);
    snprintf(what, sizeof what, "%s model: logits cuda vs cpu", fam);
    check_rel(what, gpu.logits, cpu.logits, cpu.n_logits, TOL);
    snprintf(what, sizeof what, "%s model: loss cuda vs cpu", fam);
    check_rel(what, &gpu.loss, &cpu.loss, 1, TOL);
    CHECK(memcmp(gpu.logits, gpu2.logits, cpu.n_logits * 4) == 0 && gpu.loss == gpu2.loss,
          "%s: two CUDA forwards differ (not deterministic)", fam);
    int64_t n;
    const float *want = ref_data(&rf, "enc_out", &n);
    snprintf(what, sizeof what, "%s cuda encoder states vs HF", fam);
    check_close_f32(what, gpu.enc, want, (size_t)n, 1e-5, 1e-4);
    want = ref_data(&rf, "logits", &n);
    snprintf(what, sizeof what, "%s cuda logits vs HF", fam);
    check_close_f32(what, gpu.logits, want, (size_t)n, 1e-5, 1e-4);
    want = ref_data(&rf, "loss", NULL);
    snprintf(what, sizeof what, "%s cuda loss vs HF", fam);
    check_close_f32(what, &gpu.loss, want, 1, 0, 1e-5);

    /* greedy decoding: identical ids on both backends and as HF */
    const struct st_tensor *gen_t = st_find(&rf, "generated");
    int L = (int)gen_t->shape[1];
    const int32_t *gen_ref = ref_data(&rf, "generated", NULL);
    int32_t *gen_cpu = calloc((size_t)(B * L), sizeof(int32_t)),
            *gen_gpu = calloc((size_t)(B * L), sizeof(int32_t));
    int len_cpu = 0, len_gpu = 0;
    if (generate_on(CPU, dir, B, S, enc_ids, enc_mask, L, gen_cpu, &len_cpu) ||
        generate_on(GPU, dir, B, S, enc_ids, enc_mask, L, gen_gpu, &len_gpu)) {
        CHECK(0, "%s generate: %s", fam, error_message());
    } else {
        CHECK(len_gpu == len_cpu && len_gpu == L, "%s: cuda generated %d columns, cpu %d, HF %d",
              fam, len_gpu, len_cpu, L);
        int same_cpu = 1, same_hf = 1;
        for (int i = 0; i < B; i++)
            for (int t = 0; t < len_gpu && t < L; t++) {
                same_cpu &= gen_gpu[i * L + t] == gen_cpu[i * L + t];
                same_hf &= gen_gpu[i * L + t] == gen_ref[i * L + t];
            }
        CHECK(same_cpu, "%s: cuda greedy ids differ from cpu", fam);
        CHECK(same_hf, "%s: cuda greedy ids differ from HF", fam);
        if (same_cpu && same_hf)
            printf("  ok %s cuda greedy ids identical to cpu and HF (%d x %d)\n", fam, B, L);
    }
    free(gen_cpu), free(gen_gpu);
done:
    free(cpu.enc), free(cpu.logits), free(gpu.enc), free(gpu.logits), free(gpu2.enc),
        free(gpu2.logits);
    free(dec_ids);
    st_close(&rf);
}

int main(void) {
    if (!cuda_available()) SKIP("%s", error_message());
    if (cuda_set_precision("fp32")) die("cuda_set_precision");

    test_memory_fill();
    test_gemm();
    test_precision_switch();

    test_embedding(96, 37, 40);
    test_embedding(1000, 70001, 3); /* many short rows */
    test_position_bias();

    test_rmsnorm(13, 40);
    test_rmsnorm(5, 777);
    test_rmsnorm(70001, 8); /* more rows than blocks: the row loop */

    for (int mask = 0; mask < 8; mask++) {
        test_softmax(2, 3, 5, 7, mask & 1, (mask >> 1) & 1, (mask >> 2) & 1);
        test_softmax(3, 2, 9, 70, mask & 1, (mask >> 1) & 1, (mask >> 2) & 1);
    }
    test_softmax(2, 2, 6, 6, 1, 1, 1);      /* self-attention shape */
    test_softmax(1, 1, 300000, 3, 0, 0, 1); /* more rows than warps in the grid */

    for (int op = EW_RELU; op <= EW_ADD_INPLACE; op++)
        test_elementwise((enum ew)op, 100003);
    test_elementwise(EW_ADD,
                     (size_t)17000003); /* more than blocks x threads: the grid-stride loop */

    test_cross_entropy(11, 96, 0);
    test_cross_entropy(6, 32128, 0);
    test_cross_entropy(70001, 5, 0);
    test_cross_entropy(4, 96, 1);

    test_argmax(9, 1000, 0);
    test_argmax(9, 1000, 4);
    test_argmax(70001, 7, 3);
    test_argmax(3, 32128, 0);

    test_model("v10");
    test_model("v11");

    cuda_shutdown();
    CHECK_DONE();
}
#endif
