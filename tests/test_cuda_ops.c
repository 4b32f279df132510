/* test_cuda_ops.c: every op of the CUDA backend against the CPU backend (the reference)
 * on fresh fixed-seed random inputs, outputs poisoned with NaN first: relative error
 * ||cuda - cpu|| / ||cpu|| <= 1e-5 (fp32), exact for copies and argmax (ties included);
 * GEMM with every transpose combination, padded leading dimensions and batch strides;
 * softmax with every bias/mask/causal combination; cross-entropy with ignored rows; the
 * deferred device errors. Then the whole T5 forward of both fixture families on CUDA
 * against the CPU backend (1e-5 relative) and against Hugging Face (test_t5_forward's
 * tolerances), greedy ids identical, and run-to-run bitwise determinism.
 * Training: dropout (y bit-identical to the CPU: the same Philox stream), relu + dropout
 * fused and its backward, dropout + residual add fused (bit-identical to the CPU), gelu
 * times the gate fused and its backward (bit-identical to the CUDA separate ops), the
 * attention softmax and its dropout fused, forward and backward (bit-identical to the CUDA
 * separate ops, 1e-5 of the CPU), every
 * backward op
 * and the optimizer ops (sumsq, AdamW of both variants over several steps) on fresh
 * random inputs with their outputs pre-filled with the same random values on both
 * backends, so that the accumulation (dst += ...) is checked: 1e-5 relative, outputs that
 * must stay untouched (a NULL dw/dbias, all targets ignored) exactly; repeated embedding
 * ids; sumsq run to run bitwise. The multi-tensor ops (sumsq_multi, adamw_multi of both
 * variants) over a list of 317 tensors of assorted sizes (0, 1, odd, around the kernels'
 * block and chunk boundaries, > 1M) in one buffer with NaN gaps, their out[] with a NaN
 * guard: bitwise equal to the CUDA single-tensor ops, the gaps and guard untouched, sumsq
 * run to run bitwise, 1e-5 relative to the CPU; AdamW over 5 steps whose list changes
 * (the cached device list is replaced) and changes back; a list of 17 first, so that the
 * cached lists grow. Then whole training steps of
 * both fixture families with every parameter trainable: the gradients of one backward
 * (dropout off) against PyTorch (tests/fixtures/t5/<fam>-train.safetensors,
 * |a-b| <= 1e-6 + 1e-4|b|) and the CPU backend, and 3 steps of forward + backward + AdamW
 * (the multi-tensor ops) with dropout on (fixed seed): losses 1e-5
 * relative, final parameters 1e-5 relative per tensor, CUDA run to run bitwise, and with
 * attention probabilities recomputed in backward (the default) or kept, bitwise the same;
 * Compacter++ and Intrinsic-SAID (fwht, the permutation scatter) steps against the CPU.
 * The layout ops (copy2d, permute_0213, fwht up to L = 2^25) and the permutation scatter
 * (embedding_backward_unique) bitwise against the CPU; add_bias in fp32, tf32 and bf16 (its
 * bias rounded as a GEMM operand), also in place, bitwise against the CPU.
 * bf16 mode (GEMMs on bf16 tensor cores, fp32 storage): every GEMM case above within 1e-2
 * of the CPU's fp32 and measurably not fp32; one backward's loss and gradients within 1e-2
 * (full fine-tuning), 3 Compacter++ steps' losses within 1e-2.
 * bf16 storage (the bf16 ops of core/backend.h): convert both ways bitwise core/bf16.h;
 * rmsnorm_to_bf16, relu_dropout_bf16 (its mask identical), gelu_mul_bf16 and its backward,
 * dropout_add_bf16 against the CPU's f32 op on the widened inputs, narrowed where bf16 is
 * stored (1e-2, bitwise under the emulator) and bitwise against the CUDA f32 op narrowed;
 * gemm_bf16 (every transpose, batched and strided, C f32 with beta 0 and 1, C bf16) against a
 * double loop (1e-5 f32, 1e-2 bf16; under the emulator within 1 bf16 ulp, or the f32 sum's
 * own error bound k 2^-24 sum |a b| where terms cancel).
 * gemm_2level's pointer arrays kept across calls: results after the ring wraps, hits and
 * misses counted as the ring's order says, and the same results with the cache off.
 * SKIPs without a CUDA build or without a device. Built with -DCUDA_OPS_SELFTEST_ON_CPU
 * the training part runs with the CPU backend on both sides (a check of the test itself on
 * machines without a GPU). */
#include "tests/check.h"

#ifndef HAVE_CUDA
int main(void) {
    SKIP("built without the CUDA backend (CUDA=0, or nvcc not found)");
    CHECK_DONE();
}
#else

#include <stdint.h>

#include "core/autograd.h"
#include "core/backend.h"
#include "core/bf16.h"
#include "core/error.h"
#include "core/exec.h"
#include "core/optimizer.h"
#include "methods/method.h"
#include "core/safetensors.h"
#include "tests/ref_attention.h"
#include "core/t5_forward.h"
#include "core/t5_model.h"
#include "experiments/profiler.h"
#include "experiments/profiler_internal.h"
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

/* n random floats in [lo, hi) uploaded; *host gets the host copy (caller frees) */
static float *dev_rand(size_t n, float lo, float hi, float **host) {
    float *h = hrand(n, lo, hi);
    float *d = dup_dev(h, n * sizeof(float));
    *host = h;
    return d;
}

static void to_host(void *host, const void *dev, size_t bytes) {
    if (GPU->download(host, dev, bytes)) die("cuda download");
}


/* ||a - b|| / ||b|| <= tol (NaN fails) */
static void check_rel(const char *what, const float *got, const float *want, size_t n, double tol) {
    double e = rel_l2_err(got, want, n);
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

/* GEMM tolerance of the current precision: fp32 strict, or 1e-2 (the issue's bound for
 * bf16, and loose for tf32's ~1e-3) when cuBLAS may use tensor cores */
static double gemm_tol(void) { return strcmp(cuda_precision(), "fp32") ? 1e-2 : TOL; }

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
    snprintf(what, sizeof what, "gemm %s %s ta=%d tb=%d %dx%dx%d b=%d beta=%g", cuda_precision(), label, g.ta,
             g.tb, g.m, g.n, g.k, g.batch, g.beta);
    check_rel(what, gl, cl, nl, gemm_tol());
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

/* gemm_2level over (batch, heads) in the four attention layouts of core/ops.c and
 * core/ops_backward.c (scores, context, and the transposed backward products with beta 1),
 * against the CPU backend's loop of gemm */
static void test_gemm_2level(void) {
    const int B = 5, H = 3, Tq = 7, Tk = 9, dk = 12, inner = H * dk;
    struct {
        const char *what;
        int ta, tb, m, n, k, lda, ldb, ldc;
        int64_t sa, osa, sb, osb, sc, osc;
        size_t na, nb, nc;
        float beta;
    } cs[] = {
        {"scores q k^T", 0, 1, Tq, Tk, dk, inner, inner, Tk, dk, (int64_t)Tq * inner, dk, (int64_t)Tk * inner,
         (int64_t)Tq * Tk, (int64_t)H * Tq * Tk, (size_t)B * Tq * inner, (size_t)B * Tk * inner,
         (size_t)B * H * Tq * Tk, 0.0f},
        {"context p v", 0, 0, Tq, dk, Tk, Tk, inner, inner, (int64_t)Tq * Tk, (int64_t)H * Tq * Tk, dk,
         (int64_t)Tk * inner, dk, (int64_t)Tq * inner, (size_t)B * H * Tq * Tk, (size_t)B * Tk * inner,
         (size_t)B * Tq * inner, 0.0f},
        {"dk = ds^T q (beta 1)", 1, 0, Tk, dk, Tq, Tk, inner, inner, (int64_t)Tq * Tk, (int64_t)H * Tq * Tk, dk,
         (int64_t)Tq * inner, dk, (int64_t)Tk * inner, (size_t)B * H * Tq * Tk, (size_t)B * Tq * inner,
         (size_t)B * Tk * inner, 1.0f},
        {"dp = dc v^T (beta 1)", 0, 1, Tq, Tk, dk, inner, inner, Tk, dk, (int64_t)Tq * inner, dk,
         (int64_t)Tk * inner, (int64_t)Tq * Tk, (int64_t)H * Tq * Tk, (size_t)B * Tq * inner,
         (size_t)B * Tk * inner, (size_t)B * H * Tq * Tk, 1.0f},
    };
    for (size_t t = 0; t < sizeof cs / sizeof cs[0]; t++) {
        float *a = hrand(cs[t].na, -1, 1), *b = hrand(cs[t].nb, -1, 1), *c = hrand(cs[t].nc, -1, 1);
        float *got = hnan(cs[t].nc);
        float *da = dup_dev(a, cs[t].na * 4), *db = dup_dev(b, cs[t].nb * 4), *dc = dup_dev(c, cs[t].nc * 4);
        check_op("cpu gemm_2level (loop)",
                 backend_gemm_2level(CPU, cs[t].ta, cs[t].tb, cs[t].m, cs[t].n, cs[t].k, 0.5f, a, cs[t].lda, cs[t].sa,
                                     cs[t].osa, b, cs[t].ldb, cs[t].sb, cs[t].osb, cs[t].beta, c, cs[t].ldc, cs[t].sc,
                                     cs[t].osc, H, B));
        check_op("cuda gemm_2level",
                 backend_gemm_2level(GPU, cs[t].ta, cs[t].tb, cs[t].m, cs[t].n, cs[t].k, 0.5f, da, cs[t].lda,
                                     cs[t].sa, cs[t].osa, db, cs[t].ldb, cs[t].sb, cs[t].osb, cs[t].beta, dc,
                                     cs[t].ldc, cs[t].sc, cs[t].osc, H, B));
        to_host(got, dc, cs[t].nc * 4);
        char what[96];
        snprintf(what, sizeof what, "gemm_2level %s %s (%d x %d)", cuda_precision(), cs[t].what, B, H);
        check_rel(what, got, c, cs[t].nc, gemm_tol());
        GPU->free(da), GPU->free(db), GPU->free(dc);
        free(a), free(b), free(c), free(got);
    }
}

/* gemm_2level's kept pointer arrays (cuda_gemm_ptrs.cu): 10 calls of 100,000 small matrices
 * (2.4 MB of pointers each, 24 MB in all: the 16 MB ring wraps) into 10 output buffers,
 * each poisoned first and then equal to the CPU's; then calls whose arrays are still in the
 * ring (counted as hits: nothing built) and calls whose arrays were overwritten (built
 * again); and with COMPACTER_GEMM_PTR_CACHE=0, neither counted. */
static void test_gemm_ptr_cache(void) {
    enum { INNER = 1000, OUTER = 100, CALLS = 10 };
    const size_t n = (size_t)INNER * OUTER * 4; /* 2 x 2 matrices */
    float *a, *b;
    float *da = dev_rand(n, -1, 1, &a), *db = dev_rand(n, -1, 1, &b), *dc[CALLS];
    float *want = hnan(n), *got = hnan(n);
    check_op("cpu gemm_2level (loop)", backend_gemm_2level(CPU, 0, 1, 2, 2, 2, 1.0f, a, 2, 4, 4 * INNER, b, 2, 4,
                                                           4 * INNER, 0.0f, want, 2, 4, 4 * INNER, INNER, OUTER));
    for (int j = 0; j < CALLS; j++) dc[j] = dev_nan(n);
    /* the ring holds 2,097,152 pointers, a call takes 300,000: calls 0-5 fill the first lap,
     * 6-9 overwrite 0-3 (6 starts the next lap), 0 again overwrites 4, 4 again 5; 6 stays */
    int order[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 8, 9, 0, 4, 6};
    int kept[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1};
    uint64_t h0, m0, h1, m1;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) { /* off: the arrays are built in the scratch every time */
            setenv("COMPACTER_GEMM_PTR_CACHE", "0", 1);
            cuda_shutdown();
        }
        int calls = pass ? 3 : (int)(sizeof order / sizeof order[0]);
        for (int t = 0; t < calls; t++) {
            int j = order[t];
            float *poison = hnan(n);
            if (GPU->upload(dc[j], poison, n * 4)) die("cuda upload");
            free(poison);
            cuda_gemm_ptrs_stats(&h0, &m0);
            check_op("cuda gemm_2level", backend_gemm_2level(GPU, 0, 1, 2, 2, 2, 1.0f, da, 2, 4, 4 * INNER, db, 2, 4,
                                                             4 * INNER, 0.0f, dc[j], 2, 4, 4 * INNER, INNER, OUTER));
            cuda_gemm_ptrs_stats(&h1, &m1);
            to_host(got, dc[j], n * 4);
            char what[96];
            snprintf(what, sizeof what, "gemm_2level pointer cache %s call %d (buffer %d)", pass ? "off" : "on", t, j);
            check_rel(what, got, want, n, TOL);
            if (pass)
                CHECK(h1 == h0 && m1 == m0, "%s: counted with the cache off", what);
            else
                CHECK(h1 - h0 == (uint64_t)kept[t] && m1 - m0 == (uint64_t)!kept[t],
                      "%s: %s expected, %llu hits %llu misses", what, kept[t] ? "kept" : "built",
                      (unsigned long long)(h1 - h0), (unsigned long long)(m1 - m0));
        }
    }
    unsetenv("COMPACTER_GEMM_PTR_CACHE");
    /* the ring (2,097,152 pointers, 16 MiB) is in the memory figure's scratch while allocated;
     * prof_memory_fresh frees it, so a run's figure holds only what that run allocates */
    cuda_shutdown(); /* the cache on again: one call allocates the ring */
    check_op("cuda gemm_2level (cache on again)",
             backend_gemm_2level(GPU, 0, 1, 2, 2, 2, 1.0f, da, 2, 4, 4 * INNER, db, 2, 4, 4 * INNER, 0.0f, dc[0], 2, 4,
                                 4 * INNER, INNER, OUTER));
    size_t with_ring = 0, fresh = 0;
    int freed = cudaprof_scratch_bytes(&with_ring) == 0 && prof_memory_fresh(GPU) == 0 &&
                cudaprof_scratch_bytes(&fresh) == 0 && with_ring - fresh == (size_t)2097152 * sizeof(void *);
    CHECK(freed, "prof_memory_fresh: scratch %zu bytes with the ring, %zu after (want 16 MiB less): %s", with_ring,
          fresh, error_message());
    if (freed) printf("  ok prof_memory_fresh frees the pointer ring: scratch %zu -> %zu bytes\n", with_ring, fresh);
    cuda_shutdown();
    for (int j = 0; j < CALLS; j++) GPU->free(dc[j]);
    GPU->free(da), GPU->free(db);
    free(a), free(b), free(want), free(got);
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

/* x rounded to the nearest bf16 (ties to even), as a float; inputs here are finite */
static float bf16_round(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    memcpy(&x, &u, 4);
    return x;
}

/* bf16 GEMMs: every GEMM case and attention layout of the fp32 tests within 1e-2 of the
 * CPU's fp32; then evidence that the mode is in effect (further from fp32 than fp32
 * rounding) and how close it is to an fp32 GEMM of bf16-rounded operands (printed: the
 * conversion cuBLAS uses inside CUBLAS_COMPUTE_32F_FAST_16BF). */
static void test_bf16_gemm(void) {
    CHECK(cuda_set_precision("bf16") == 0, "bf16: %s", error_message());
    CHECK(!strcmp(cuda_precision(), "bf16"), "precision reads back bf16");
    test_gemm();
    test_gemm_2level();
    int m = 64, n = 64, k = 512;
    float *a = hrand((size_t)m * k, -1, 1), *b = hrand((size_t)k * n, -1, 1), *c = hnan((size_t)m * n);
    float *ar = hcopy(a, (size_t)m * k), *br = hcopy(b, (size_t)k * n), *cr = hnan((size_t)m * n);
    for (size_t i = 0; i < (size_t)m * k; i++) ar[i] = bf16_round(ar[i]);
    for (size_t i = 0; i < (size_t)k * n; i++) br[i] = bf16_round(br[i]);
    float *got = hnan((size_t)m * n);
    float *da = dup_dev(a, (size_t)m * k * 4), *db = dup_dev(b, (size_t)k * n * 4), *dc = dev_nan((size_t)m * n);
    check_op("cpu gemm", CPU->gemm(0, 0, m, n, k, 1, a, k, 0, b, n, 0, 0, c, n, 0, 1));
    check_op("cpu gemm of bf16-rounded operands", CPU->gemm(0, 0, m, n, k, 1, ar, k, 0, br, n, 0, 0, cr, n, 0, 1));
    check_op("cuda gemm bf16", GPU->gemm(0, 0, m, n, k, 1, da, k, 0, db, n, 0, 0, dc, n, 0, 1));
    to_host(got, dc, (size_t)m * n * 4);
    double e32 = rel_l2_err(got, c, (size_t)m * n), e16 = rel_l2_err(got, cr, (size_t)m * n);
    CHECK(e32 <= 1e-2, "bf16 gemm %dx%dx%d: relative error %.3g vs fp32 (tol 1e-2)", m, n, k, e32);
    CHECK(e32 > 1e-5, "bf16 gemm %dx%dx%d: relative error %.3g vs fp32: no bf16 rounding happened", m, n, k, e32);
    printf("  ok bf16 gemm %dx%dx%d: relative error %.3g vs the fp32 GEMM, %.3g vs an fp32 GEMM of "
           "bf16-rounded (nearest-even) operands\n",
           m, n, k, e32, e16);
    CHECK(cuda_set_precision("fp32") == 0, "fp32: %s", error_message());
    GPU->free(da), GPU->free(db), GPU->free(dc);
    free(a), free(b), free(c), free(ar), free(br), free(cr), free(got);
}

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

/* ---- dropout and the backward ops: outputs pre-filled with the same random values on
 * both backends, so the accumulation (dst += ...) is checked too ---- */


static void check_dev_rel(const char *what, const float *dev, const float *want, size_t n,
                          double tol) {
    float *got = hnan(n);
    to_host(got, dev, n * 4);
    check_rel(what, got, want, n, tol);
    free(got);
}

static void test_dropout(size_t n, float p, uint64_t seed, uint64_t offset) {
    float *x = hrand(n, -2, 2), *y_cpu = hnan(n), *y_gpu = hnan(n);
    float *dx = dup_dev(x, n * 4), *dy = dev_nan(n);
    check_op("cpu dropout", CPU->dropout(y_cpu, x, n, p, seed, offset));
    check_op("cuda dropout", GPU->dropout(dy, dx, n, p, seed, offset));
    to_host(y_gpu, dy, n * 4);
    size_t differ = 0, kept = 0;
    for (size_t i = 0; i < n; i++) {
        differ += memcmp(&y_cpu[i], &y_gpu[i], sizeof(float)) != 0;
        kept += y_cpu[i] != 0.0f;
    }
    double frac = (double)kept / (double)n;
    CHECK(differ == 0, "dropout n=%zu p=%g: %zu elements differ from the cpu (must be identical)",
          n, p, differ);
    /* the CPU's own mask is a Philox draw: about 1 - p kept (a sanity check of the test) */
    CHECK(fabs(frac - (1.0 - p)) < 0.02 || n < 1000, "dropout p=%g kept %.4f of %zu", p, frac, n);
    if (!differ)
        printf("  ok dropout n=%-8zu p=%.2f offset=%-6llu identical to cpu (kept %.4f)\n", n, p,
               (unsigned long long)offset, frac);
    /* in place (y == x, as op_attention drops out its probabilities): the same values */
    check_op("cuda dropout in place", GPU->dropout(dx, dx, n, p, seed, offset));
    to_host(y_gpu, dx, n * 4);
    differ = 0;
    for (size_t i = 0; i < n; i++) differ += memcmp(&y_cpu[i], &y_gpu[i], sizeof(float)) != 0;
    CHECK(differ == 0, "dropout in place n=%zu p=%g: %zu elements differ from the cpu", n, p, differ);

    /* backward: dx += dy * keep / (1 - p), dx pre-filled */
    float *g0, *gy;
    float *dg = dev_rand(n, -1, 1, &g0), *ddy = dev_rand(n, -1, 1, &gy);
    float *g_cpu = hcopy(g0, n), *g_gpu = hnan(n);
    check_op("cpu dropout_backward", CPU->dropout_backward(g_cpu, gy, n, p, seed, offset, 1));
    check_op("cuda dropout_backward", GPU->dropout_backward(dg, ddy, n, p, seed, offset, 1));
    to_host(g_gpu, dg, n * 4);
    char what[128];
    snprintf(what, sizeof what, "dropout_backward n=%zu p=%.2f (accumulating)", n, p);
    check_rel(what, g_gpu, g_cpu, n, TOL);
    size_t mask_differ = 0; /* the untouched elements are the dropped ones, on both */
    for (size_t i = 0; i < n; i++)
        mask_differ += (g_gpu[i] == g0[i]) != (g_cpu[i] == g0[i]);
    CHECK(mask_differ == 0, "%s: the dropped sets differ in %zu elements", what, mask_differ);
    /* accumulate 0: written outright over NaN, bitwise the CPU's accumulation into zeros */
    float *dz = dev_nan(n), *z_cpu = calloc(n ? n : 1, 4);
    check_op("cpu dropout_backward into zeros", CPU->dropout_backward(z_cpu, gy, n, p, seed, offset, 1));
    check_op("cuda dropout_backward overwrite", GPU->dropout_backward(dz, ddy, n, p, seed, offset, 0));
    to_host(g_gpu, dz, n * 4);
    differ = 0;
    for (size_t i = 0; i < n; i++) differ += memcmp(&z_cpu[i], &g_gpu[i], sizeof(float)) != 0;
    CHECK(differ == 0, "dropout_backward n=%zu p=%g (overwrite): %zu elements differ from the cpu's into zeros", n,
          p, differ);
    GPU->free(dz), free(z_cpu);
    GPU->free(dx), GPU->free(dy), GPU->free(dg), GPU->free(ddy);
    free(x), free(y_cpu), free(y_gpu), free(g0), free(gy), free(g_cpu), free(g_gpu);
}

enum bw { BW_RELU, BW_GELU, BW_MUL_ACC, BW_AXPY };

static void test_elementwise_backward(enum bw op, size_t n) {
    static const char *names[] = {"relu_backward", "gelu_new_backward", "mul_acc", "axpy"};
    float *a, *b, *g0;
    float *da = dev_rand(n, -6, 6, &a), *db = dev_rand(n, -2, 2, &b);
    if (op == BW_RELU) { /* a is relu's output y: zeros and positives */
        for (size_t i = 0; i < n; i++)
            a[i] = a[i] > 0 && i % 7 ? a[i] : 0.0f;
        if (GPU->upload(da, a, n * 4)) die("cuda upload");
    }
    float *dg = dev_rand(n, -1, 1, &g0), *want = hcopy(g0, n);
    int rc_cpu = 0, rc_gpu = 0;
    switch (op) {
    case BW_RELU: /* dx += y > 0 ? dy : 0 with dy = b, y = a */
        rc_cpu = CPU->relu_backward(want, b, a, n), rc_gpu = GPU->relu_backward(dg, db, da, n);
        break;
    case BW_GELU: /* dx += dy gelu'(x) with dy = b, x = a */
        rc_cpu = CPU->gelu_new_backward(want, b, a, n, 1);
        rc_gpu = GPU->gelu_new_backward(dg, db, da, n, 1);
        break;
    case BW_MUL_ACC:
        rc_cpu = CPU->mul_acc(want, a, b, n), rc_gpu = GPU->mul_acc(dg, da, db, n);
        break;
    case BW_AXPY:
        rc_cpu = CPU->axpy(want, a, -0.37f, n, 1), rc_gpu = GPU->axpy(dg, da, -0.37f, n, 1);
        break;
    }
    check_op("cpu elementwise backward", rc_cpu);
    check_op("cuda elementwise backward", rc_gpu);
    char what[96];
    snprintf(what, sizeof what, "%s n=%zu (accumulating)", names[op], n);
    check_dev_rel(what, dg, want, n, TOL);
    GPU->free(da), GPU->free(db), GPU->free(dg);
    free(a), free(b), free(g0), free(want);
}

/* dev (n floats) bitwise equal to want: the count of differing elements, checked */
static void check_dev_exact(const char *what, const float *dev, const float *want, size_t n) {
    float *got = hnan(n);
    to_host(got, dev, n * 4);
    size_t differ = 0;
    for (size_t i = 0; i < n; i++) differ += memcmp(&got[i], &want[i], sizeof(float)) != 0;
    CHECK(differ == 0, "%s: %zu of %zu elements differ from the cpu", what, differ, n);
    if (!differ) printf("  ok %-52s n=%-8zu (bitwise)\n", what, n);
    free(got);
}

/* axpy with accumulate 0 (a new gradient written outright): over NaN, bitwise the CPU's
 * accumulation into zeros */
static void test_axpy_overwrite(size_t n) {
    float *x, *zero = calloc(n ? n : 1, 4);
    float *dx = dev_rand(n, -2, 2, &x), *dy = dev_nan(n);
    check_op("cpu axpy into zeros", CPU->axpy(zero, x, -0.37f, n, 1));
    check_op("cuda axpy overwrite", GPU->axpy(dy, dx, -0.37f, n, 0));
    char what[96];
    snprintf(what, sizeof what, "axpy n=%zu (overwrite)", n);
    check_dev_exact(what, dy, zero, n);
    /* gelu_new_backward: dy gelu'(x) into zeros (cpu) against overwriting NaN (cuda) */
    float *g, *zero2 = calloc(n ? n : 1, 4), *dg = dev_rand(n, -1, 1, &g);
    check_op("cpu gelu_new_backward into zeros", CPU->gelu_new_backward(zero2, g, x, n, 1));
    GPU->free(dy);
    dy = dev_nan(n);
    check_op("cuda gelu_new_backward overwrite", GPU->gelu_new_backward(dy, dg, dx, n, 0));
    snprintf(what, sizeof what, "gelu_new_backward n=%zu (overwrite)", n);
    check_dev_rel(what, dy, zero2, n, TOL);
    GPU->free(dx), GPU->free(dy), GPU->free(dg);
    free(x), free(zero), free(g), free(zero2);
}

/* relu + dropout fused (T5 v1.0's FFN): y and its bit mask, and the backward from the mask,
 * bitwise the CPU's fused op (itself bitwise the two ops: tests/test_fusion.c) */
static void test_relu_dropout(size_t n, float p, uint64_t seed, uint64_t offset) {
    size_t words = (n + 31) / 32;
    float *x, *g0, *dy_h;
    float *dx = dev_rand(n, -2, 2, &x), *dg = dev_rand(n, -1, 1, &g0), *ddy = dev_rand(n, -1, 1, &dy_h);
    float *y_cpu = hnan(n), *dy = dev_nan(n), *want = hcopy(g0, n);
    uint32_t *m_cpu = calloc(words, 4), *m_gpu = calloc(words, 4), *dm = dup_dev(m_gpu, words * 4);
    memset(m_cpu, 0xA5, words * 4); /* every word must be written */
    if (GPU->upload(dm, m_cpu, words * 4)) die("cuda upload");
    check_op("cpu relu_dropout", CPU->relu_dropout(y_cpu, m_cpu, x, n, p, seed, offset));
    check_op("cuda relu_dropout", GPU->relu_dropout(dy, dm, dx, n, p, seed, offset));
    char what[128];
    snprintf(what, sizeof what, "relu_dropout n=%zu p=%g", n, p);
    check_dev_exact(what, dy, y_cpu, n);
    to_host(m_gpu, dm, words * 4);
    CHECK(memcmp(m_gpu, m_cpu, words * 4) == 0, "%s: the bit masks differ", what);
    check_op("cpu relu_dropout_backward", CPU->relu_dropout_backward(want, dy_h, m_cpu, n, p, 1));
    check_op("cuda relu_dropout_backward", GPU->relu_dropout_backward(dg, ddy, dm, n, p, 1));
    snprintf(what, sizeof what, "relu_dropout_backward n=%zu p=%g (accumulating)", n, p);
    check_dev_exact(what, dg, want, n);
    /* accumulate 0: over NaN, bitwise the CPU's into zeros */
    float *zero_cpu = calloc(n ? n : 1, 4), *dz = dev_nan(n);
    check_op("cpu relu_dropout_backward into zeros", CPU->relu_dropout_backward(zero_cpu, dy_h, m_cpu, n, p, 1));
    check_op("cuda relu_dropout_backward overwrite", GPU->relu_dropout_backward(dz, ddy, dm, n, p, 0));
    snprintf(what, sizeof what, "relu_dropout_backward n=%zu p=%g (overwrite)", n, p);
    check_dev_exact(what, dz, zero_cpu, n);
    GPU->free(dz), free(zero_cpu);
    GPU->free(dx), GPU->free(dg), GPU->free(ddy), GPU->free(dy), GPU->free(dm);
    free(x), free(g0), free(dy_h), free(y_cpu), free(want), free(m_cpu), free(m_gpu);
}

/* the residual add of a dropped-out sublayer output: bitwise the CPU's */
static void test_dropout_add(size_t n, float p, uint64_t seed, uint64_t offset) {
    float *x, *h;
    float *dx = dev_rand(n, -2, 2, &x), *dh = dev_rand(n, -2, 2, &h);
    float *y_cpu = hnan(n), *dy = dev_nan(n);
    check_op("cpu dropout_add", CPU->dropout_add(y_cpu, h, x, n, p, seed, offset));
    check_op("cuda dropout_add", GPU->dropout_add(dy, dh, dx, n, p, seed, offset));
    char what[96];
    snprintf(what, sizeof what, "dropout_add n=%zu p=%g", n, p);
    check_dev_exact(what, dy, y_cpu, n);
    GPU->free(dx), GPU->free(dh), GPU->free(dy);
    free(x), free(h), free(y_cpu);
}

/* gelu_mul (T5 v1.1's gated FFN) and its backward: bitwise the CUDA backend's own separate
 * ops (gelu_new, mul; mul_acc, gelu_new_backward), and within 1e-5 of the CPU (tanhf may
 * differ by 2 ulp between the two) */
static void test_gelu_mul(size_t n) {
    float *a, *g, *dy_h, *g0;
    float *da_ = dev_rand(n, -4, 4, &a), *dg_ = dev_rand(n, -2, 2, &g), *ddy = dev_rand(n, -1, 1, &dy_h);
    g0 = hrand(n, -1, 1); /* the gradients' prior content */
    float *act = dev_nan(n), *chain = dev_nan(n), *fused = dev_nan(n), *zero = dev_nan(n);
    float *da_chain = dup_dev(g0, n * 4), *dg_chain = dup_dev(g0, n * 4), *da_fused = dup_dev(g0, n * 4),
          *dg_fused = dup_dev(g0, n * 4);
    check_op("cuda gelu_new", GPU->gelu_new(act, da_, n));
    check_op("cuda mul", GPU->mul(chain, act, dg_, n));
    check_op("cuda gelu_mul", GPU->gelu_mul(fused, da_, dg_, n));
    float *want = hnan(n), *y_cpu = hnan(n);
    to_host(want, chain, n * 4);
    char what[128];
    snprintf(what, sizeof what, "gelu_mul n=%zu, against cuda gelu_new + mul", n);
    check_dev_exact(what, fused, want, n);
    check_op("cpu gelu_mul", CPU->gelu_mul(y_cpu, a, g, n));
    snprintf(what, sizeof what, "gelu_mul n=%zu, against the cpu", n);
    check_dev_rel(what, fused, y_cpu, n, TOL);
    /* backward: the chain's zeroed buffer for gelu's output gradient */
    check_op("cuda fill", GPU->fill(zero, 0.0f, n));
    check_op("cuda mul_acc", GPU->mul_acc(zero, ddy, dg_, n));
    check_op("cuda mul_acc", GPU->mul_acc(dg_chain, ddy, act, n));
    check_op("cuda gelu_new_backward", GPU->gelu_new_backward(da_chain, zero, da_, n, 1));
    check_op("cuda gelu_mul_backward", GPU->gelu_mul_backward(da_fused, dg_fused, ddy, da_, dg_, n));
    float *da_want = hnan(n), *dg_want = hnan(n), *da_cpu = hcopy(g0, n), *dg_cpu = hcopy(g0, n);
    to_host(da_want, da_chain, n * 4);
    to_host(dg_want, dg_chain, n * 4);
    snprintf(what, sizeof what, "gelu_mul_backward da n=%zu, against the cuda chain", n);
    check_dev_exact(what, da_fused, da_want, n);
    snprintf(what, sizeof what, "gelu_mul_backward dg n=%zu, against the cuda chain", n);
    check_dev_exact(what, dg_fused, dg_want, n);
    check_op("cpu gelu_mul_backward", CPU->gelu_mul_backward(da_cpu, dg_cpu, dy_h, a, g, n));
    snprintf(what, sizeof what, "gelu_mul_backward da n=%zu, against the cpu", n);
    check_dev_rel(what, da_fused, da_cpu, n, TOL);
    snprintf(what, sizeof what, "gelu_mul_backward dg n=%zu, against the cpu", n);
    check_dev_rel(what, dg_fused, dg_cpu, n, TOL);
    GPU->free(da_), GPU->free(dg_), GPU->free(ddy), GPU->free(act), GPU->free(chain);
    GPU->free(fused), GPU->free(zero), GPU->free(da_chain), GPU->free(dg_chain), GPU->free(da_fused);
    GPU->free(dg_fused);
    free(a), free(g), free(dy_h), free(g0), free(want), free(y_cpu), free(da_want), free(dg_want), free(da_cpu);
    free(dg_cpu);
}

/* embedding_backward with many repeated ids (vocab < n) and ids spread over more than the
 * kernel's 64 slices; with `unique`, the ids are a permutation of n rows (vocab = n:
 * Intrinsic-SAID's Fastfood) and embedding_backward_unique must give the CPU's
 * embedding_backward bit for bit (one add per destination) */
static void test_embedding_backward(int64_t vocab, int64_t n, int64_t d, int unique) {
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)n);
    if (unique) {
        vocab = n;
        for (int64_t i = 0; i < n; i++) ids[i] = (int32_t)i;
        for (int64_t i = n - 1; i > 0; i--) {
            int j = rnd_int((int)(i + 1));
            int32_t t = ids[i];
            ids[i] = ids[j];
            ids[j] = t;
        }
    } else {
        for (int64_t i = 0; i < n; i++) ids[i] = rnd_int((int)vocab);
        ids[0] = ids[n - 1] = (int32_t)(vocab - 1); /* the last row, repeated */
    }
    float *t0, *dout;
    float *dt = dev_rand((size_t)(vocab * d), -1, 1, &t0);
    float *dd = dev_rand((size_t)(n * d), -1, 1, &dout);
    int32_t *dids = dup_dev(ids, sizeof(int32_t) * (size_t)n);
    float *want = hcopy(t0, (size_t)(vocab * d));
    check_op("cpu embedding_backward", CPU->embedding_backward(want, dout, ids, n, d));
    check_op(unique ? "cuda embedding_backward_unique" : "cuda embedding_backward",
             (unique ? GPU->embedding_backward_unique : GPU->embedding_backward)(dt, dd, dids, n, d));
    char what[128];
    snprintf(what, sizeof what, "embedding_backward%s V=%lld n=%lld d=%lld (%s)", unique ? "_unique" : "",
             (long long)vocab, (long long)n, (long long)d, unique ? "a permutation" : "repeated ids");
    if (unique)
        check_dev_exact(what, dt, want, (size_t)(vocab * d));
    else
        check_dev_rel(what, dt, want, (size_t)(vocab * d), TOL);
    GPU->free(dt), GPU->free(dd), GPU->free(dids);
    free(ids), free(t0), free(dout), free(want);
}

/* the Walsh-Hadamard transform in place: bitwise the CPU's (the same butterflies, grouped
 * differently) */
static void test_fwht(int64_t rows, int64_t L) {
    size_t n = (size_t)(rows * L);
    float *x;
    float *dx = dev_rand(n, -1, 1, &x);
    float *want = hcopy(x, n);
    check_op("cpu fwht", CPU->fwht(want, rows, L));
    check_op("cuda fwht", GPU->fwht(dx, rows, L));
    char what[128];
    snprintf(what, sizeof what, "fwht rows=%lld L=%lld", (long long)rows, (long long)L);
    check_dev_exact(what, dx, want, n);
    GPU->free(dx);
    free(x), free(want);
}

/* add_bias in a GEMM precision mode, into poisoned memory and in place: bitwise the CPU's
 * (one f32 add of x and b rounded as a GEMM operand; test_gemm_precision checks the CPU's
 * against copy + rank-1 gemm) */
static void test_add_bias(const char *mode, int64_t rows, int64_t cols) {
    size_t n = (size_t)(rows * cols);
    float *x, *b;
    float *dx = dev_rand(n, -2, 2, &x), *db = dev_rand((size_t)cols, -2, 2, &b), *dy = dev_nan(n);
    float *want = hnan(n);
    check_op("cpu precision", CPU->set_precision(mode));
    check_op("cuda precision", cuda_set_precision(mode));
    check_op("cpu add_bias", CPU->add_bias(want, x, b, rows, cols));
    check_op("cuda add_bias", GPU->add_bias(dy, dx, db, rows, cols));
    char what[128];
    snprintf(what, sizeof what, "add_bias %s %lldx%lld", mode, (long long)rows, (long long)cols);
    check_dev_exact(what, dy, want, n);
    check_op("cuda add_bias in place", GPU->add_bias(dx, dx, db, rows, cols));
    snprintf(what, sizeof what, "add_bias %s %lldx%lld in place", mode, (long long)rows, (long long)cols);
    check_dev_exact(what, dx, want, n);
    check_op("cpu fp32", CPU->set_precision("fp32"));
    check_op("cuda fp32", cuda_set_precision("fp32"));
    GPU->free(dx), GPU->free(db), GPU->free(dy);
    free(x), free(b), free(want);
}

/* copy2d (padded leading dimensions, copy and accumulate) and permute_0213 (copy and
 * accumulate): bitwise the CPU's */
static void test_layout(int accumulate) {
    const int64_t rows = 37, cols = 53, lds = 61, ldd = 59;
    float *src, *dst0;
    float *ds = dev_rand((size_t)(rows * lds), -1, 1, &src);
    float *dd = dev_rand((size_t)(rows * ldd), -1, 1, &dst0);
    float *want = hcopy(dst0, (size_t)(rows * ldd));
    check_op("cpu copy2d", CPU->copy2d(want, ldd, src, lds, rows, cols, accumulate));
    check_op("cuda copy2d", GPU->copy2d(dd, ldd, ds, lds, rows, cols, accumulate));
    char what[128];
    snprintf(what, sizeof what, "copy2d %lldx%lld lds %lld ldd %lld%s", (long long)rows, (long long)cols,
             (long long)lds, (long long)ldd, accumulate ? " accumulate" : "");
    check_dev_exact(what, dd, want, (size_t)(rows * ldd));
    GPU->free(ds), GPU->free(dd);
    free(src), free(dst0), free(want);

    const int64_t d0 = 3, d1 = 5, d2 = 7, d3 = 9, n = d0 * d1 * d2 * d3;
    float *in, *out0;
    float *di = dev_rand((size_t)n, -1, 1, &in);
    float *dout = dev_rand((size_t)n, -1, 1, &out0);
    want = hcopy(out0, (size_t)n);
    check_op("cpu permute_0213", CPU->permute_0213(want, in, d0, d1, d2, d3, accumulate));
    check_op("cuda permute_0213", GPU->permute_0213(dout, di, d0, d1, d2, d3, accumulate));
    snprintf(what, sizeof what, "permute_0213 [3,5,7,9]%s", accumulate ? " accumulate" : "");
    check_dev_exact(what, dout, want, (size_t)n);
    GPU->free(di), GPU->free(dout);
    free(in), free(out0), free(want);
}

static void test_position_bias_backward(int64_t H, int64_t Q, int64_t K, int buckets_n) {
    int64_t QK = Q * K;
    int32_t *bk = malloc(sizeof(int32_t) * (size_t)QK);
    for (int64_t i = 0; i < QK; i++)
        bk[i] = rnd_int(buckets_n);
    float *t0, *g;
    float *dt = dev_rand((size_t)(buckets_n * H), -1, 1, &t0);
    float *dg = dev_rand((size_t)(H * QK), -1, 1, &g);
    int32_t *dbk = dup_dev(bk, sizeof(int32_t) * (size_t)QK);
    float *want = hcopy(t0, (size_t)(buckets_n * H));
    check_op("cpu position_bias_backward", CPU->position_bias_backward(want, g, bk, H, QK));
    check_op("cuda position_bias_backward", GPU->position_bias_backward(dt, dg, dbk, H, QK));
    char what[128];
    snprintf(what, sizeof what, "position_bias_backward H=%lld Q=%lld K=%lld buckets=%d",
             (long long)H, (long long)Q, (long long)K, buckets_n);
    check_dev_rel(what, dt, want, (size_t)(buckets_n * H), TOL);
    GPU->free(dt), GPU->free(dg), GPU->free(dbk);
    free(bk), free(t0), free(g), free(want);
}

/* which: 1 dx only, 2 dw only, 3 both */
static void test_rmsnorm_backward(int64_t rows, int64_t d, int which) {
    size_t n = (size_t)(rows * d);
    float *x, *w, *dy, *gx0, *gw0;
    float *dx_in = dev_rand(n, -3, 3, &x), *dw_in = dev_rand((size_t)d, 0.5f, 1.5f, &w);
    float *ddy = dev_rand(n, -1, 1, &dy);
    float *dgx = dev_rand(n, -1, 1, &gx0), *dgw = dev_rand((size_t)d, -1, 1, &gw0);
    float *gx = hcopy(gx0, n), *gw = hcopy(gw0, (size_t)d);
    check_op("cpu rmsnorm_backward",
             CPU->rmsnorm_backward(which & 1 ? gx : NULL, which & 2 ? gw : NULL, dy, x, w, rows, d,
                                   1e-6f, 1));
    check_op("cuda rmsnorm_backward",
             GPU->rmsnorm_backward(which & 1 ? dgx : NULL, which & 2 ? dgw : NULL, ddy, dx_in,
                                   dw_in, rows, d, 1e-6f, 1));
    char what[128];
    snprintf(what, sizeof what, "rmsnorm_backward rows=%lld d=%lld dx", (long long)rows,
             (long long)d);
    check_dev_rel(what, dgx, gx, n, which & 1 ? TOL : 0.0); /* untouched when NULL */
    snprintf(what, sizeof what, "rmsnorm_backward rows=%lld d=%lld dw", (long long)rows,
             (long long)d);
    check_dev_rel(what, dgw, gw, (size_t)d, which & 2 ? TOL : 0.0);
    if (which & 1) { /* accumulate 0: dx over NaN, the CPU's into zeros (dw accumulates still) */
        float *zx = calloc(n, 4), *dzx = dev_nan(n);
        check_op("cpu rmsnorm_backward into zeros",
                 CPU->rmsnorm_backward(zx, which & 2 ? gw : NULL, dy, x, w, rows, d, 1e-6f, 1));
        check_op("cuda rmsnorm_backward overwrite",
                 GPU->rmsnorm_backward(dzx, which & 2 ? dgw : NULL, ddy, dx_in, dw_in, rows, d, 1e-6f, 0));
        snprintf(what, sizeof what, "rmsnorm_backward rows=%lld d=%lld dx (overwrite)", (long long)rows,
                 (long long)d);
        check_dev_rel(what, dzx, zx, n, TOL);
        snprintf(what, sizeof what, "rmsnorm_backward rows=%lld d=%lld dw (accumulated twice)", (long long)rows,
                 (long long)d);
        check_dev_rel(what, dgw, gw, (size_t)d, which & 2 ? TOL : 0.0);
        GPU->free(dzx), free(zx);
    }
    GPU->free(dx_in), GPU->free(dw_in), GPU->free(ddy), GPU->free(dgx), GPU->free(dgw);
    free(x), free(w), free(dy), free(gx0), free(gw0), free(gx), free(gw);
}

static void test_softmax_backward(int64_t B, int64_t H, int64_t Q, int64_t K, int with_bias) {
    size_t n = (size_t)(B * H * Q * K), nb = (size_t)(H * Q * K);
    /* probabilities: a real softmax of random scores (on the CPU), causal for variety */
    float *p = hrand(n, -4, 4);
    check_op("cpu attn_softmax", CPU->attn_softmax(p, NULL, NULL, (int)(Q == K), B, H, Q, K));
    float *dp, *gs0, *gb0;
    float *dprobs = dup_dev(p, n * 4), *ddp = dev_rand(n, -1, 1, &dp);
    float *dgs = dev_rand(n, -1, 1, &gs0), *dgb = dev_rand(nb, -1, 1, &gb0);
    float *gs = hcopy(gs0, n), *gb = hcopy(gb0, nb);
    check_op("cpu attn_softmax_backward",
             CPU->attn_softmax_backward(gs, with_bias ? gb : NULL, dp, p, B, H, Q, K, 1));
    check_op("cuda attn_softmax_backward",
             GPU->attn_softmax_backward(dgs, with_bias ? dgb : NULL, ddp, dprobs, B, H, Q, K, 1));
    char what[128];
    snprintf(what, sizeof what, "attn_softmax_backward B=%lld H=%lld Q=%lld K=%lld dscores",
             (long long)B, (long long)H, (long long)Q, (long long)K);
    check_dev_rel(what, dgs, gs, n, TOL);
    snprintf(what, sizeof what, "attn_softmax_backward B=%lld H=%lld Q=%lld K=%lld dbias%s",
             (long long)B, (long long)H, (long long)Q, (long long)K,
             with_bias ? "" : " (NULL: untouched)");
    check_dev_rel(what, dgb, gb, nb, with_bias ? TOL : 0.0);
    /* accumulate 0 (dscores over NaN; dbias still accumulates): the CPU's into zeros */
    float *zs = calloc(n, 4), *dzs = dev_nan(n);
    check_op("cpu attn_softmax_backward into zeros", CPU->attn_softmax_backward(zs, NULL, dp, p, B, H, Q, K, 1));
    check_op("cuda attn_softmax_backward overwrite", GPU->attn_softmax_backward(dzs, NULL, ddp, dprobs, B, H, Q, K, 0));
    snprintf(what, sizeof what, "attn_softmax_backward B=%lld H=%lld Q=%lld K=%lld dscores (overwrite)", (long long)B,
             (long long)H, (long long)Q, (long long)K);
    check_dev_rel(what, dzs, zs, n, TOL);
    GPU->free(dzs), free(zs);
    GPU->free(dprobs), GPU->free(ddp), GPU->free(dgs), GPU->free(dgb);
    free(p), free(dp), free(gs0), free(gb0), free(gs), free(gb);
}

/* attention's softmax and its dropout fused, forward and backward: bitwise the CUDA
 * backend's own separate ops (attn_softmax then dropout in place; a zero-filled dP,
 * dropout_backward, attn_softmax_backward, then dropout of the probabilities in place), and
 * within 1e-5 of the CPU's fused ops (the dropped probabilities for dv bitwise: the same
 * products of the same inputs) */
static void test_attn_softmax_dropout(int64_t B, int64_t H, int64_t Q, int64_t K, float p, int with_bias,
                                      int drop_probs) {
    size_t n = (size_t)(B * H * Q * K), nb = (size_t)(H * Q * K), nm = (size_t)(B * K);
    uint64_t seed = 0xfeedface12345ull, offset = 4242;
    float *s, *bias, *mask = hrand(nm, -1, 1);
    for (int64_t b = 1; b < B; b++) /* padding, as test_softmax */
        for (int64_t k = K - b; k < K; k++)
            if (k > 0) mask[b * K + k] = -1e9f;
    float *ds_f = dev_rand(n, -4, 4, &s), *dbias = dev_rand(nb, -2, 2, &bias), *dmask = dup_dev(mask, nm * 4);
    float *ds_c = dup_dev(s, n * 4), *want = hnan(n), *cpu = hcopy(s, n);
    int causal = Q == K;
    check_op("cuda attn_softmax_dropout",
             GPU->attn_softmax_dropout(ds_f, with_bias ? dbias : NULL, dmask, causal, B, H, Q, K, p, seed, offset));
    check_op("cuda attn_softmax", GPU->attn_softmax(ds_c, with_bias ? dbias : NULL, dmask, causal, B, H, Q, K));
    check_op("cuda dropout", GPU->dropout(ds_c, ds_c, n, p, seed, offset));
    to_host(want, ds_c, n * 4);
    char what[160];
    snprintf(what, sizeof what, "attn_softmax_dropout B=%lld H=%lld Q=%lld K=%lld p=%g bias=%d, against cuda's two",
             (long long)B, (long long)H, (long long)Q, (long long)K, p, with_bias);
    check_dev_exact(what, ds_f, want, n);
    check_op("cpu attn_softmax_dropout",
             CPU->attn_softmax_dropout(cpu, with_bias ? bias : NULL, mask, causal, B, H, Q, K, p, seed, offset));
    snprintf(what, sizeof what, "attn_softmax_dropout B=%lld H=%lld Q=%lld K=%lld p=%g, against the cpu", (long long)B,
             (long long)H, (long long)Q, (long long)K, p);
    check_dev_rel(what, ds_f, cpu, n, TOL);

    /* backward from the CPU's undropped probabilities, into pre-filled gradients */
    float *probs = hrand(n, -4, 4);
    check_op("cpu attn_softmax", CPU->attn_softmax(probs, NULL, NULL, causal, B, H, Q, K));
    float *dd, *g0, *gb0;
    float *d_dd = dev_rand(n, -1, 1, &dd), *g_f = dev_rand(n, -1, 1, &g0), *gb_f = dev_rand(nb, -1, 1, &gb0);
    float *g_c = dup_dev(g0, n * 4), *gb_c = dup_dev(gb0, nb * 4), *pr_f = dup_dev(probs, n * 4),
          *pr_c = dup_dev(probs, n * 4), *dp = dev_nan(n);
    check_op("cuda attn_softmax_dropout_backward",
             GPU->attn_softmax_dropout_backward(g_f, with_bias ? gb_f : NULL, d_dd, pr_f, B, H, Q, K, p, seed, offset,
                                                drop_probs, 1));
    check_op("cuda fill", GPU->fill(dp, 0.0f, n));
    check_op("cuda dropout_backward", GPU->dropout_backward(dp, d_dd, n, p, seed, offset, 1));
    check_op("cuda attn_softmax_backward",
             GPU->attn_softmax_backward(g_c, with_bias ? gb_c : NULL, dp, pr_c, B, H, Q, K, 1));
    if (drop_probs) check_op("cuda dropout", GPU->dropout(pr_c, pr_c, n, p, seed, offset));
    float *h_g = hnan(n), *h_gb = hnan(nb), *h_pr = hnan(n);
    to_host(h_g, g_c, n * 4), to_host(h_gb, gb_c, nb * 4), to_host(h_pr, pr_c, n * 4);
    const char *tag = drop_probs ? "probs dropped" : "probs kept";
    snprintf(what, sizeof what, "attn_softmax_dropout_backward ds (bias=%d, %s), against cuda's", with_bias, tag);
    check_dev_exact(what, g_f, h_g, n);
    snprintf(what, sizeof what, "attn_softmax_dropout_backward dbias (bias=%d, %s), against cuda's", with_bias, tag);
    check_dev_exact(what, gb_f, h_gb, nb);
    snprintf(what, sizeof what, "attn_softmax_dropout_backward probs (bias=%d, %s), against cuda's", with_bias, tag);
    check_dev_exact(what, pr_f, h_pr, n);
    float *c_g = hcopy(g0, n), *c_gb = hcopy(gb0, nb), *c_pr = hcopy(probs, n);
    check_op("cpu attn_softmax_dropout_backward",
             ref_softmax_dropout_backward(c_g, with_bias ? c_gb : NULL, dd, c_pr, B, H, Q, K, p, seed, offset,
                                          drop_probs, 1));
    snprintf(what, sizeof what, "attn_softmax_dropout_backward ds (bias=%d), against the cpu", with_bias);
    check_dev_rel(what, g_f, c_g, n, TOL);
    snprintf(what, sizeof what, "attn_softmax_dropout_backward dbias (bias=%d), against the cpu", with_bias);
    check_dev_rel(what, gb_f, c_gb, nb, with_bias ? TOL : 0.0);
    snprintf(what, sizeof what, "attn_softmax_dropout_backward probs (%s), against the cpu", tag);
    check_dev_exact(what, pr_f, c_pr, n);
    /* accumulate 0: ds over NaN, bitwise CUDA's own accumulation into zeros */
    float *ds_z = dev_nan(n), *ds_acc = dev_nan(n), *pr_z = dup_dev(probs, n * 4), *pr_acc = dup_dev(probs, n * 4);
    check_op("cuda fill", GPU->fill(ds_acc, 0.0f, n));
    check_op("cuda attn_softmax_dropout_backward overwrite",
             GPU->attn_softmax_dropout_backward(ds_z, NULL, d_dd, pr_z, B, H, Q, K, p, seed, offset, drop_probs, 0));
    check_op("cuda attn_softmax_dropout_backward into zeros",
             GPU->attn_softmax_dropout_backward(ds_acc, NULL, d_dd, pr_acc, B, H, Q, K, p, seed, offset, drop_probs, 1));
    float *h_acc = hnan(n);
    to_host(h_acc, ds_acc, n * 4);
    snprintf(what, sizeof what, "attn_softmax_dropout_backward ds (overwrite, %s), against into zeros", tag);
    check_dev_exact(what, ds_z, h_acc, n);
    GPU->free(ds_z), GPU->free(ds_acc), GPU->free(pr_z), GPU->free(pr_acc), free(h_acc);
    GPU->free(ds_f), GPU->free(dbias), GPU->free(dmask), GPU->free(ds_c), GPU->free(d_dd), GPU->free(g_f);
    GPU->free(gb_f), GPU->free(g_c), GPU->free(gb_c), GPU->free(pr_f), GPU->free(pr_c), GPU->free(dp);
    free(s), free(bias), free(mask), free(want), free(cpu), free(probs), free(dd), free(g0), free(gb0), free(h_g);
    free(h_gb), free(h_pr), free(c_g), free(c_gb), free(c_pr);
}

static void test_cross_entropy_backward(int64_t rows, int64_t vocab, int all_ignored) {
    size_t n = (size_t)(rows * vocab);
    float *logits, *g0;
    float *dl = dev_rand(n, -5, 5, &logits), *dg = dev_rand(n, -1, 1, &g0);
    int32_t *t = malloc(sizeof(int32_t) * (size_t)rows);
    for (int64_t r = 0; r < rows; r++)
        t[r] = (all_ignored || r % 4 == 2) ? -100 : rnd_int((int)vocab);
    if (!all_ignored) t[0] = (int32_t)(vocab - 1);
    int32_t *dt = dup_dev(t, sizeof(int32_t) * (size_t)rows);
    float dmean = 0.7f, *ddmean = dup_dev(&dmean, sizeof dmean);
    float *want = hcopy(g0, n);
    check_op("cpu cross_entropy_backward",
             CPU->cross_entropy_backward(want, logits, t, &dmean, rows, vocab));
    check_op("cuda cross_entropy_backward",
             GPU->cross_entropy_backward(dg, dl, dt, ddmean, rows, vocab));
    char what[128];
    snprintf(what, sizeof what, "cross_entropy_backward rows=%lld V=%lld%s", (long long)rows,
             (long long)vocab, all_ignored ? " all ignored (untouched)" : "");
    check_dev_rel(what, dg, want, n, all_ignored ? 0.0 : TOL);
    GPU->free(dl), GPU->free(dg), GPU->free(dt), GPU->free(ddmean);
    free(logits), free(g0), free(t), free(want);
}

static void test_sumsq(size_t n) {
    float *x, init = 0.625f;
    float *dx = dev_rand(n, -2, 2, &x), *dout = dup_dev(&init, 4);
    float want = init, got = NAN, again = NAN;
    check_op("cpu sumsq", CPU->sumsq(&want, x, n));
    check_op("cuda sumsq", GPU->sumsq(dout, dx, n));
    to_host(&got, dout, 4);
    /* a second run from the same start: bitwise the same (deterministic reduction) */
    if (GPU->upload(dout, &init, 4)) die("cuda upload");
    check_op("cuda sumsq again", GPU->sumsq(dout, dx, n));
    to_host(&again, dout, 4);
    char what[96];
    snprintf(what, sizeof what, "sumsq n=%zu (out += ...)", n);
    check_rel(what, &got, &want, 1, TOL);
    CHECK(memcmp(&got, &again, 4) == 0, "sumsq n=%zu: two runs differ (%.9g vs %.9g)", n, got,
          again);
    GPU->free(dx), GPU->free(dout);
    free(x);
}

/* the step scalars as core/optimizer.c computes them (lr constant here) */
static struct adamw_step adamw_scalars(int hf, int step, double lr, double wd, float clip) {
    double b1 = 0.9, b2 = 0.999, bc1 = 1.0 - pow(b1, step), bc2 = 1.0 - pow(b2, step);
    struct adamw_step a = {
        .beta1 = (float)b1,
        .beta2 = (float)b2,
        .one_minus_beta1 = (float)(1.0 - b1),
        .one_minus_beta2 = (float)(1.0 - b2),
        .eps = 1e-8f,
        .grad_scale = clip,
        .step_size = (float)(hf ? lr * sqrt(bc2) / bc1 : lr / bc1),
        .bc2_sqrt = (float)sqrt(bc2),
        .decay = (float)(hf ? lr * wd : 1.0 - lr * wd),
        .hf_variant = hf,
    };
    return a;
}

static void test_adamw(int hf, double wd, size_t n, int steps) {
    float *p0 = hrand(n, -1, 1);
    float *p = hcopy(p0, n), *m = calloc(n, 4), *v = calloc(n, 4);
    float *dp = dup_dev(p0, n * 4), *dm = dup_dev(m, n * 4), *dv = dup_dev(v, n * 4);
    float *dg = GPU->alloc(n * 4);
    if (!dg) die("cuda alloc");
    for (int s = 1; s <= steps; s++) {
        float *g = hrand(n, -0.1f, 0.1f);
        if (GPU->upload(dg, g, n * 4)) die("cuda upload");
        struct adamw_step a = adamw_scalars(hf, s, 1e-3, wd, s == 2 ? 0.5f : 1.0f);
        check_op("cpu adamw", CPU->adamw(p, g, m, v, n, &a));
        check_op("cuda adamw", GPU->adamw(dp, dg, dm, dv, n, &a));
        free(g);
    }
    char what[128];
    const char *var = hf ? "transformers 4.6" : "torch";
    snprintf(what, sizeof what, "adamw (%s, wd %g) %d steps n=%zu: p", var, wd, steps, n);
    check_dev_rel(what, dp, p, n, TOL);
    snprintf(what, sizeof what, "adamw (%s, wd %g) %d steps n=%zu: m", var, wd, steps, n);
    check_dev_rel(what, dm, m, n, TOL);
    snprintf(what, sizeof what, "adamw (%s, wd %g) %d steps n=%zu: v", var, wd, steps, n);
    check_dev_rel(what, dv, v, n, TOL);
    /* the parameters moved (else the check above would be vacuous) */
    CHECK(rel_l2_err(p, p0, n) > 1e-4, "adamw %s: parameters did not move", var);
    GPU->free(dp), GPU->free(dm), GPU->free(dv), GPU->free(dg);
    free(p0), free(p), free(m), free(v);
}

/* ---- the multi-tensor optimizer ops: bitwise equal to the CUDA single-tensor ops, and
 * against the CPU ---- */

#define MT_MAX 400
#define MT_GAP 3 /* NaN floats around each tensor, which no op may write */

/* a tensor list inside one buffer of `total` floats, as the trained set's gradients are
 * (views at odd offsets), with NaN gaps */
struct mt_set {
    int count;
    size_t n[MT_MAX], off[MT_MAX], total;
    char decay[MT_MAX];
};

/* sizes around the kernels' boundaries (256-thread blocks, sumsq's cap of 512 blocks from
 * 131072 elements on, AdamW's 8192-element chunks), empty tensors, > 1M, then `small`
 * random ones of 1 to 4096 elements (t5-small trains 131 to 394 tensors) */
static void mt_set_make(struct mt_set *s, int small) {
    static const size_t fixed[] = {0,    1, 3,      255,    256,    257,    8191,  8192,
                                   8193, 0, 131071, 131072, 131073, 393221, 16385, (1u << 22) + 1,
                                   1};
    s->count = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        s->n[s->count++] = fixed[i];
    for (int i = 0; i < small && s->count < MT_MAX; i++)
        s->n[s->count++] = 1 + (size_t)rnd_int(4096);
    s->total = MT_GAP;
    for (int k = 0; k < s->count; k++) {
        s->off[k] = s->total;
        s->total += s->n[k] + MT_GAP;
        s->decay[k] = (char)rnd_int(2);
    }
}

/* host buffer of the set: NaN in the gaps, uniform [lo, hi) in the tensors */
static float *mt_host(const struct mt_set *s, float lo, float hi) {
    float *b = hnan(s->total);
    for (int k = 0; k < s->count; k++)
        for (size_t i = 0; i < s->n[k]; i++)
            b[s->off[k] + i] = rnd(lo, hi);
    return b;
}

static int mt_gaps_nan(const struct mt_set *s, const float *b) {
    for (int k = 0; k <= s->count; k++) {
        size_t begin = k ? s->off[k - 1] + s->n[k - 1] : 0;
        for (size_t i = begin; i < begin + MT_GAP; i++)
            if (!isnan(b[i])) return 0;
    }
    return 1;
}

/* check_rel over the tensors' elements only (the gaps hold NaN) */
static void mt_check_rel(const char *what, const struct mt_set *s, const float *got,
                         const float *want) {
    size_t numel = 0;
    for (int k = 0; k < s->count; k++)
        numel += s->n[k];
    float *a = hnan(numel), *b = hnan(numel);
    for (int k = 0, j = 0; k < s->count; j += (int)s->n[k], k++) {
        memcpy(a + j, got + s->off[k], s->n[k] * sizeof(float));
        memcpy(b + j, want + s->off[k], s->n[k] * sizeof(float));
    }
    check_rel(what, a, b, numel, TOL);
    free(a), free(b);
}

/* largest |a - b| / |b| over n values (the bound, should bitwise equality fail) */
static double max_rel_diff(const float *a, const float *b, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]) / fmax(fabs((double)b[i]), 1e-30);
        if (!(d <= worst)) worst = d;
    }
    return worst;
}

/* out[k] pre-filled with the same random values for every run (out += ...), one NaN guard
 * after the last: the multi op against sumsq per tensor on CUDA (bitwise), run to run
 * (bitwise), and against the CPU (1e-5 relative per tensor) */
static void test_sumsq_multi(const struct mt_set *s) {
    int K = s->count;
    size_t out_bytes = ((size_t)K + 1) * sizeof(float);
    float *x = mt_host(s, -2, 2), *dx = dup_dev(x, s->total * sizeof(float));
    const float *xs[MT_MAX], *hx[MT_MAX];
    for (int k = 0; k < K; k++) {
        xs[k] = dx + s->off[k];
        hx[k] = x + s->off[k];
    }
    float *init = hrand((size_t)K + 1, 0.25f, 1.0f);
    init[K] = NAN;
    float *want = hcopy(init, (size_t)K + 1), *multi = hnan((size_t)K + 1),
          *single = hnan((size_t)K + 1), *again = hnan((size_t)K + 1);
    float *d_multi = dup_dev(init, out_bytes), *d_single = dup_dev(init, out_bytes);
    check_op("cuda sumsq_multi", GPU->sumsq_multi(d_multi, xs, s->n, K));
    for (int k = 0; k < K; k++) {
        check_op("cuda sumsq", GPU->sumsq(d_single + k, xs[k], s->n[k]));
        check_op("cpu sumsq", CPU->sumsq(want + k, hx[k], s->n[k]));
    }
    to_host(multi, d_multi, out_bytes);
    to_host(single, d_single, out_bytes);
    if (GPU->upload(d_multi, init, out_bytes)) die("cuda upload");
    check_op("cuda sumsq_multi again", GPU->sumsq_multi(d_multi, xs, s->n, K));
    to_host(again, d_multi, out_bytes);

    CHECK(
        memcmp(multi, single, (size_t)K * sizeof(float)) == 0,
        "sumsq_multi (%d tensors) differs from cuda sumsq per tensor: max relative difference %.3g",
        K, max_rel_diff(multi, single, (size_t)K));
    CHECK(memcmp(multi, again, (size_t)K * sizeof(float)) == 0, "sumsq_multi: two runs differ");
    CHECK(isnan(multi[K]), "sumsq_multi wrote past out[%d]", K - 1);
    int empty_kept = 1;
    for (int k = 0; k < K; k++)
        if (s->n[k] == 0) empty_kept &= memcmp(&multi[k], &init[k], sizeof(float)) == 0;
    CHECK(empty_kept, "sumsq_multi changed an empty tensor's out[k]");
    char what[96];
    snprintf(what, sizeof what, "sumsq_multi %d tensors vs cpu (out += ...)", K);
    check_close_f32(what, multi, want, (size_t)K, 0, TOL);
    printf("  ok sumsq_multi == cuda sumsq per tensor, run to run bitwise (%d tensors)\n", K);
    GPU->free(dx), GPU->free(d_multi), GPU->free(d_single);
    free(x), free(init), free(want), free(multi), free(single), free(again);
}

/* 5 steps over the set (steps 2 and 3 clipped): steps 1-3 and 5 on the whole list, step 4
 * on every other tensor in reverse order (the cached list changes and changes back). The
 * multi op on one device copy of p, m, v, the single op per tensor on another, the CPU on
 * the host: the device copies bitwise equal (gaps included), the CPU within 1e-5. */
static void test_adamw_multi(const struct mt_set *s, int hf, double wd) {
    enum { MULTI, SINGLE };
    float *p = mt_host(s, -1, 1), *m = mt_host(s, -0.01f, 0.01f), *v = mt_host(s, 0, 1e-4f);
    float *p0 = hcopy(p, s->total);
    size_t bytes = s->total * sizeof(float);
    float *dp[2], *dm[2], *dv[2];
    for (int c = 0; c < 2; c++) {
        dp[c] = dup_dev(p, bytes);
        dm[c] = dup_dev(m, bytes);
        dv[c] = dup_dev(v, bytes);
    }
    float *dg = dev_nan(s->total);
    int idx[MT_MAX];
    for (int step = 1; step <= 5; step++) {
        int count = 0;
        if (step == 4)
            for (int k = s->count - 1; k >= 0; k -= 2)
                idx[count++] = k;
        else
            for (int k = 0; k < s->count; k++)
                idx[count++] = k;
        float *g = mt_host(s, -0.1f, 0.1f);
        if (GPU->upload(dg, g, bytes)) die("cuda upload");
        float clip = step == 2 ? 0.37f : step == 3 ? 0.5f : 1.0f;
        struct adamw_step a[2] = {adamw_scalars(hf, step, 1e-3, 0.0, clip),
                                  adamw_scalars(hf, step, 1e-3, wd, clip)};
        float *lp[MT_MAX], *lm[MT_MAX], *lv[MT_MAX];
        const float *lg[MT_MAX];
        size_t ln[MT_MAX];
        char ld[MT_MAX];
        for (int j = 0; j < count; j++) {
            size_t off = s->off[idx[j]];
            lp[j] = dp[MULTI] + off, lm[j] = dm[MULTI] + off, lv[j] = dv[MULTI] + off,
            lg[j] = dg + off;
            ln[j] = s->n[idx[j]];
            ld[j] = s->decay[idx[j]];
        }
        check_op("cuda adamw_multi", GPU->adamw_multi(lp, lg, lm, lv, ln, ld, count, a));
        for (int j = 0; j < count; j++) {
            size_t off = s->off[idx[j]];
            const struct adamw_step *aj = &a[ld[j] ? 1 : 0];
            check_op("cuda adamw", GPU->adamw(dp[SINGLE] + off, dg + off, dm[SINGLE] + off,
                                              dv[SINGLE] + off, ln[j], aj));
            check_op("cpu adamw", CPU->adamw(p + off, g + off, m + off, v + off, ln[j], aj));
        }
        free(g);
    }
    const char *var = hf ? "transformers 4.6" : "torch";
    const char *name[3] = {"p", "m", "v"};
    float *dev[3][2] = {{dp[0], dp[1]}, {dm[0], dm[1]}, {dv[0], dv[1]}}, *cpu[3] = {p, m, v};
    for (int t = 0; t < 3; t++) {
        float *got = hnan(s->total), *ref = hnan(s->total);
        to_host(got, dev[t][MULTI], bytes);
        to_host(ref, dev[t][SINGLE], bytes);
        CHECK(memcmp(got, ref, bytes) == 0,
              "adamw_multi (%s, wd %g) %s differs from cuda adamw per tensor", var, wd, name[t]);
        CHECK(mt_gaps_nan(s, got), "adamw_multi (%s) wrote outside the tensors of %s", var,
              name[t]);
        char what[128];
        snprintf(what, sizeof what, "adamw_multi (%s, wd %g) 5 steps, %d tensors: %s", var, wd,
                 s->count, name[t]);
        mt_check_rel(what, s, got, cpu[t]);
        free(got), free(ref);
    }
    int moved = 1; /* every non-empty tensor (else the comparisons would be vacuous) */
    for (int k = 0; k < s->count; k++)
        if (s->n[k]) moved &= memcmp(p + s->off[k], p0 + s->off[k], s->n[k] * sizeof(float)) != 0;
    CHECK(moved, "adamw_multi %s: a tensor did not move", var);
    printf(
        "  ok adamw_multi (%s, wd %g) == cuda adamw per tensor, bitwise, list changed and back\n",
        var, wd);
    for (int c = 0; c < 2; c++)
        GPU->free(dp[c]), GPU->free(dm[c]), GPU->free(dv[c]);
    GPU->free(dg);
    free(p), free(m), free(v), free(p0);
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

/* ---- training: forward + backward + AdamW, every parameter trainable ---- */

#define TRAIN_STEPS 3
#define TRAIN_SEED 0x5eedf00dull

/* attention probabilities in train_on: recomputed in backward (the default) or kept */
static int train_attention = EXEC_ATTN_RECOMPUTE;

struct train_run {
    int n;         /* trained tensors, in model order */
    char **names;  /* their names */
    int64_t *off;  /* offsets into params / grads */
    int64_t numel; /* all of them */
    float loss[TRAIN_STEPS];
    float *grads;  /* gradients after the first backward */
    float *params; /* parameters at the end */
};

static void train_run_free(struct train_run *r) {
    for (int i = 0; i < r->n; i++)
        free(r->names[i]);
    free(r->names), free(r->off), free(r->grads), free(r->params);
    memset(r, 0, sizeof *r);
}

/* Load fam on be, make every parameter trainable, then `steps` times: zero the gradients,
 * t5_forward, backward, (the first time: keep the gradients), optimizer_step when
 * `optimize`; dropout on when `training` (x.seed fixed, so both backends draw the same
 * masks). */
static int train_on(const struct backend *be, const char *fam, const char *method,
                    const struct t5_batch *b, int training, int steps, int optimize,
                    enum adamw_variant variant, struct train_run *r) {
    char dir[128];
    snprintf(dir, sizeof dir, FIX "/%s", fam);
    memset(r, 0, sizeof *r);
    struct t5_model m;
    struct trainable tr;
    struct exec x;
    struct optimizer opt;
    memset(&opt, 0, sizeof opt);
    struct method_instance mi;
    if (t5_model_load(&m, dir, be)) return -1;
    /* the method's parameters come from its seeded initialiser: the same on both backends */
    /* the fixtures' d_model (40, 36) needs a bottleneck and n that divide it */
    const char *phm_opts[] = {"reduction_factor=2", "phm_dim=2"};
    int is_phm = strstr(method, "compacter") != NULL;
    if (method_attach(&mi, method, &m, is_phm ? phm_opts : NULL, is_phm ? 2 : 0, 7)) {
        t5_model_free(&m);
        return -1;
    }
    int rc = trainable_init(&tr, be, mi.train, mi.n_train, NULL);
    if (rc) {
        method_detach(&mi);
        t5_model_free(&m);
        return -1;
    }
    if (exec_init(&x, be)) {
        trainable_free(&tr);
        method_detach(&mi);
        t5_model_free(&m);
        return -1;
    }
    x.record = 1;
    x.training = training;
    x.seed = TRAIN_SEED;
    x.recompute_attention = train_attention;
    struct optim_config c = optim_defaults(1e-3, 2, 6);
    c.weight_decay = 0.01;
    c.variant = variant;
    rc = optimize ? optimizer_init(&opt, &tr, &c) : 0;
    r->n = tr.n;
    r->numel = tr.numel;
    r->names = calloc((size_t)tr.n, sizeof *r->names);
    r->off = calloc((size_t)tr.n, sizeof *r->off);
    r->grads = malloc((size_t)tr.numel * 4 + 1);
    r->params = malloc((size_t)tr.numel * 4 + 1);
    int64_t off = 0;
    for (int i = 0; i < tr.n; i++) {
        r->names[i] = strdup(tr.t[i]->name ? tr.t[i]->name : "?");
        r->off[i] = off;
        off += tensor_numel(tr.t[i]);
    }
    for (int k = 0; k < steps && !rc; k++) {
        struct t5_outputs o;
        rc = trainable_zero_grad(&tr) || t5_forward(&x, &m, b, &o) || backward(&x, o.loss) ||
             (k == 0 && be->download(r->grads, tr.grad, (size_t)tr.numel * 4)) ||
             (optimize && optimizer_step(&opt)) || exec_download(&x, o.loss, &r->loss[k]);
        exec_reset(&x);
    }
    for (int i = 0; i < tr.n && !rc; i++)
        rc = be->download(r->params + r->off[i], tr.t[i]->data, tensor_bytes(tr.t[i]));
    if (optimize) optimizer_free(&opt);
    exec_free(&x);
    trainable_free(&tr);
    method_detach(&mi);
    t5_model_free(&m);
    return rc ? -1 : 0;
}

/* elementwise |a - b| <= atol + rtol |b| over one tensor, quietly; returns the bad count */
static int64_t count_off(const float *a, const float *b, int64_t n, double atol, double rtol,
                         double *worst) {
    int64_t bad = 0;
    for (int64_t j = 0; j < n; j++) {
        double d = fabs((double)a[j] - (double)b[j]);
        if (!(d <= atol + rtol * fabs((double)b[j]))) bad++;
        if (!(d <= *worst)) *worst = isnan(d) ? INFINITY : d;
    }
    return bad;
}

/* The training batch of fam's reference fixture (its arrays point into rf, opened here;
 * *dec is allocated). 0, or -1 after a failed CHECK. */
static int fixture_batch(const char *fam, struct st_file *rf, struct t5_batch *b, int32_t **dec) {
    char path[256];
    snprintf(path, sizeof path, FIX "/%s-reference.safetensors", fam);
    if (st_open(rf, path)) {
        CHECK(0, "%s", error_message());
        return -1;
    }
    const struct st_tensor *et = st_find(rf, "enc_ids"), *lt = st_find(rf, "labels");
    int B = (int)et->shape[0], S = (int)et->shape[1], T = (int)lt->shape[1];
    const int32_t *labels = ref_data(rf, "labels", NULL);
    struct t5_config cfg;
    {
        char dir[128];
        snprintf(dir, sizeof dir, FIX "/%s", fam);
        struct t5_model tmp;
        if (t5_model_load(&tmp, dir, &backend_cpu)) die("load cpu model");
        cfg = tmp.cfg;
        t5_model_free(&tmp);
    }
    *dec = malloc(sizeof(int32_t) * (size_t)(B * T));
    t5_shift_right(&cfg, labels, B, T, *dec);
    *b = (struct t5_batch){B, S, T, ref_data(rf, "enc_ids", NULL), ref_data(rf, "enc_mask", NULL), *dec, labels};
    return 0;
}

/* Per trained tensor of r, ||got - want|| / ||want|| (got, want: r's layout, e.g. r->params
 * and another run's): a failed CHECK "<what> <tensor>: ..." for each above tol (tol < 0:
 * none, only finiteness is required). Returns how many are within tol; *worst is the
 * largest error (inf for NaN). */
static int per_tensor_rel(const struct train_run *r, const float *got, const float *want, double tol,
                          const char *what, double *worst) {
    int ok = 0;
    *worst = 0;
    for (int i = 0; i < r->n; i++) {
        int64_t n = (i + 1 < r->n ? r->off[i + 1] : r->numel) - r->off[i];
        double e = rel_l2_err(got + r->off[i], want + r->off[i], (size_t)n);
        if (!(e <= *worst)) *worst = isnan(e) ? INFINITY : e;
        if (tol < 0)
            CHECK(isfinite(e), "%s %s: not finite", what, r->names[i]);
        else
            CHECK(e <= tol, "%s %s: relative error %.3g (tol %.0e)", what, r->names[i], e, tol);
        ok += tol < 0 ? isfinite(e) : e <= tol;
    }
    return ok;
}

static void test_training(const char *fam, enum adamw_variant variant) {
    char path[256], what[200];
    struct st_file rf, tf;
    struct t5_batch b;
    int32_t *dec = NULL;
    if (fixture_batch(fam, &rf, &b, &dec)) return;
    snprintf(path, sizeof path, FIX "/%s-train.safetensors", fam);
    if (st_open(&tf, path)) {
        CHECK(0, "%s", error_message());
        st_close(&rf);
        free(dec);
        return;
    }
    const char *var = variant == ADAMW_HF46 ? "transformers 4.6" : "torch";

    /* 1. gradients of every parameter after one backward, dropout off: CUDA against the
     * PyTorch reference (test_train's tolerance) and against the CPU backend */
    struct train_run gc = {0}, gg = {0};
    if (train_on(CPU, fam, "full", &b, 0, 1, 0, variant, &gc) ||
        train_on(GPU, fam, "full", &b, 0, 1, 0, variant, &gg)) {
        CHECK(0, "%s gradients: %s", fam, error_message());
    } else {
        int ok_ref = 0, ok_cpu = 0;
        double worst_ref = 0, worst_cpu = 0;
        for (int i = 0; i < gg.n; i++) {
            int64_t n = (i + 1 < gg.n ? gg.off[i + 1] : gg.numel) - gg.off[i], nref = 0;
            snprintf(what, sizeof what, "grad.%s", gg.names[i]);
            const struct st_tensor *rt = st_find(&tf, what);
            const float *want = rt ? (const float *)(tf.map + tf.data_start + rt->begin) : NULL;
            if (rt) nref = st_numel(rt);
            CHECK(want && nref == n, "%s: no reference gradient %s of %lld elements", fam, what,
                  (long long)n);
            const float *g = gg.grads + gg.off[i];
            if (want && nref == n) {
                /* test_train's criterion (one element of v11's shared.weight gradient needs
                 * its 1e-5 max|b| term on both backends with some CPUs' BLAS) */
                int64_t bad = grad_elements_off(g, want, n, NULL, &worst_ref);
                CHECK(bad == 0, "%s cuda %s vs PyTorch: %lld of %lld elements off", fam, what,
                      (long long)bad, (long long)n);
                ok_ref += bad == 0;
            }
            int64_t bad = count_off(g, gc.grads + gc.off[i], n, 1e-6, 1e-4, &worst_cpu);
            CHECK(bad == 0, "%s cuda %s vs cpu: %lld of %lld elements off", fam, what,
                  (long long)bad, (long long)n);
            ok_cpu += bad == 0;
        }
        printf("  ok %s cuda gradients: %d/%d within 1e-6 + 1e-4|b| + 1e-5 max|b| of PyTorch (max |a-b| %.3g), "
               "%d/%d of the cpu backend (max %.3g)\n",
               fam, ok_ref, gg.n, worst_ref, ok_cpu, gg.n, worst_cpu);
        snprintf(what, sizeof what, "%s loss with dropout off, cuda vs cpu", fam);
        check_rel(what, &gg.loss[0], &gc.loss[0], 1, TOL);
    }

    /* 2. TRAIN_STEPS optimizer steps with dropout on, on both backends (and CUDA twice) */
    struct train_run tc = {0}, tg = {0}, tg2 = {0};
    if (train_on(CPU, fam, "full", &b, 1, TRAIN_STEPS, 1, variant, &tc) ||
        train_on(GPU, fam, "full", &b, 1, TRAIN_STEPS, 1, variant, &tg) ||
        train_on(GPU, fam, "full", &b, 1, TRAIN_STEPS, 1, variant, &tg2)) {
        CHECK(0, "%s training: %s", fam, error_message());
    } else {
        for (int k = 0; k < TRAIN_STEPS; k++) {
            snprintf(what, sizeof what, "%s %s AdamW, dropout on: loss of step %d", fam, var,
                     k + 1);
            check_rel(what, &tg.loss[k], &tc.loss[k], 1, TOL);
        }
        /* dropout really was on: the first loss differs from the dropout-off loss */
        if (gc.params)
            CHECK(tc.loss[0] != gc.loss[0], "%s: dropout seems off (loss %.9g either way)", fam,
                  tc.loss[0]);
        double worst;
        snprintf(what, sizeof what, "%s after %d steps, cuda vs cpu:", fam, TRAIN_STEPS);
        int ok = per_tensor_rel(&tg, tg.params, tc.params, TOL, what, &worst);
        printf("  ok %s (%s AdamW, dropout on): %d/%d parameters within %.0e relative of the cpu "
               "after %d steps (worst %.3g)\n",
               fam, var, ok, tg.n, TOL, TRAIN_STEPS, worst);
        if (gc.params)
            CHECK(rel_l2_err(tc.params, gc.params, (size_t)tc.numel) > 0,
                  "%s: the parameters did not move", fam);
        CHECK(memcmp(tg.params, tg2.params, (size_t)tg.numel * 4) == 0 &&
                  memcmp(tg.loss, tg2.loss, sizeof tg.loss) == 0,
              "%s: two CUDA training runs differ (not deterministic)", fam);
    }
    /* the attention probabilities kept instead of recomputed: the same calls on the same
     * values, so bitwise the same gradients, losses and parameters */
    struct train_run tk = {0};
    train_attention = EXEC_ATTN_KEEP;
    if (!tg.params || train_on(GPU, fam, "full", &b, 1, TRAIN_STEPS, 1, variant, &tk)) {
        CHECK(0, "%s training, probabilities kept: %s", fam, error_message());
    } else {
        CHECK(memcmp(tk.grads, tg.grads, (size_t)tg.numel * 4) == 0 && memcmp(tk.loss, tg.loss, sizeof tg.loss) == 0 &&
                  memcmp(tk.params, tg.params, (size_t)tg.numel * 4) == 0,
              "%s: CUDA training with attention probabilities kept differs from recomputing them", fam);
        printf("  ok %s cuda, dropout on: attention probabilities kept or recomputed, bitwise the same gradients, "
               "losses and parameters after %d steps\n",
               fam, TRAIN_STEPS);
    }
    train_attention = EXEC_ATTN_RECOMPUTE;
    train_run_free(&gc), train_run_free(&gg);
    train_run_free(&tc), train_run_free(&tg), train_run_free(&tg2), train_run_free(&tk);

    /* 3. the same with Compacter++ (PHM weights built per step, base frozen, layer norms
     * trained): TRAIN_STEPS steps with dropout on, CUDA against the CPU */
    struct train_run pc = {0}, pg = {0};
    if (train_on(CPU, fam, "compacter++", &b, 1, TRAIN_STEPS, 1, variant, &pc) ||
        train_on(GPU, fam, "compacter++", &b, 1, TRAIN_STEPS, 1, variant, &pg)) {
        CHECK(0, "%s compacter++ training: %s", fam, error_message());
    } else {
        for (int k = 0; k < TRAIN_STEPS; k++) {
            snprintf(what, sizeof what, "%s compacter++, dropout on: loss of step %d", fam, k + 1);
            check_rel(what, &pg.loss[k], &pc.loss[k], 1, TOL);
        }
        double worst;
        snprintf(what, sizeof what, "%s compacter++ after %d steps, cuda vs cpu:", fam, TRAIN_STEPS);
        int ok = per_tensor_rel(&pg, pg.params, pc.params, TOL, what, &worst);
        printf("  ok %s compacter++: %d/%d trained tensors within %.0e of the cpu after %d steps\n",
               fam, ok, pg.n, TOL, TRAIN_STEPS);
    }
    train_run_free(&pc), train_run_free(&pg);

    /* 4. Intrinsic-SAID (every tensor re-parameterised through Fastfood: fwht and the
     * permutation scatter): one backward's gradients with dropout off, then TRAIN_STEPS
     * steps with dropout on, CUDA against the CPU */
    struct train_run sc = {0}, sg = {0}, tsc = {0}, tsg = {0};
    if (train_on(CPU, fam, "intrinsic-said", &b, 0, 1, 0, variant, &sc) ||
        train_on(GPU, fam, "intrinsic-said", &b, 0, 1, 0, variant, &sg) ||
        train_on(CPU, fam, "intrinsic-said", &b, 1, TRAIN_STEPS, 1, variant, &tsc) ||
        train_on(GPU, fam, "intrinsic-said", &b, 1, TRAIN_STEPS, 1, variant, &tsg)) {
        CHECK(0, "%s intrinsic-said: %s", fam, error_message());
    } else {
        double worst;
        snprintf(what, sizeof what, "%s intrinsic-said gradient, cuda vs cpu:", fam);
        int ok = per_tensor_rel(&sg, sg.grads, sc.grads, TOL, what, &worst);
        printf("  ok %s intrinsic-said gradients: %d/%d within %.0e relative of the cpu (worst %.3g)\n", fam, ok,
               sg.n, TOL, worst);
        for (int k = 0; k < TRAIN_STEPS; k++) {
            snprintf(what, sizeof what, "%s intrinsic-said, dropout on: loss of step %d", fam, k + 1);
            check_rel(what, &tsg.loss[k], &tsc.loss[k], 1, TOL);
        }
        snprintf(what, sizeof what, "%s intrinsic-said after %d steps, cuda vs cpu:", fam, TRAIN_STEPS);
        ok = per_tensor_rel(&tsg, tsg.params, tsc.params, TOL, what, &worst);
        printf("  ok %s intrinsic-said: %d/%d trained tensors within %.0e of the cpu after %d steps\n", fam, ok,
               tsg.n, TOL, TRAIN_STEPS);
    }
    train_run_free(&sc), train_run_free(&sg), train_run_free(&tsc), train_run_free(&tsg);
    free(dec);
    st_close(&rf);
    st_close(&tf);
}

/* bf16 GEMMs in whole training steps of fam. The reference is the CPU backend in its bf16
 * mode (kernels/cpu/cpu_gemm.c: every GEMM operand rounded to bf16 as the tensor cores take
 * it, fp32 accumulation): the loss and every parameter's gradient of one backward (dropout
 * off, full fine-tuning) within BF16_STEP_TOL relative, then TRAIN_STEPS steps of Compacter++
 * with dropout on, each loss within BF16_STEP_TOL. Against the CPU's fp32 only the loss is
 * bounded (the issue's 1e-2); the gradients' distance from fp32 is printed, not bounded:
 * bf16 operands move a whole backward's gradients of the fixture models by 1-15% per tensor
 * (measured under the CUDA emulator, which rounds as the CPU's bf16 mode does), so the
 * per-op 1e-2 cannot hold for them. The trained tensors' distance after the steps is
 * printed too (AdamW normalises updates: a rounding that flips a small gradient's sign
 * moves an element by 2 lr, so no fixed bound holds). */
#define BF16_STEP_TOL 1e-3
static void test_bf16_training(const char *fam, enum adamw_variant variant) {
    struct st_file rf;
    struct t5_batch b;
    int32_t *dec = NULL;
    char what[200];
    if (fixture_batch(fam, &rf, &b, &dec)) return;
    struct train_run gc = {0}, gcb = {0}, gg = {0}, pcb = {0}, pg = {0};
    int rc = train_on(CPU, fam, "full", &b, 0, 1, 0, variant, &gc);
    CHECK(CPU->set_precision("bf16") == 0, "cpu bf16: %s", error_message());
    rc = rc || train_on(CPU, fam, "full", &b, 0, 1, 0, variant, &gcb) ||
         train_on(CPU, fam, "compacter++", &b, 1, TRAIN_STEPS, 1, variant, &pcb);
    CHECK(CPU->set_precision("fp32") == 0, "cpu fp32: %s", error_message());
    CHECK(GPU->set_precision("bf16") == 0, "bf16: %s", error_message());
    rc = rc || train_on(GPU, fam, "full", &b, 0, 1, 0, variant, &gg) ||
         train_on(GPU, fam, "compacter++", &b, 1, TRAIN_STEPS, 1, variant, &pg);
    CHECK(GPU->set_precision("fp32") == 0, "fp32: %s", error_message());
    if (rc) {
        CHECK(0, "%s bf16 training: %s", fam, error_message());
    } else {
        snprintf(what, sizeof what, "%s bf16 loss with dropout off, cuda vs cpu bf16", fam);
        check_rel(what, &gg.loss[0], &gcb.loss[0], 1, BF16_STEP_TOL);
        snprintf(what, sizeof what, "%s bf16 loss with dropout off, cuda vs cpu fp32", fam);
        check_rel(what, &gg.loss[0], &gc.loss[0], 1, 1e-2);
        double worst, worst32;
        snprintf(what, sizeof what, "%s bf16 gradient, cuda vs cpu bf16:", fam);
        int ok = per_tensor_rel(&gg, gg.grads, gcb.grads, BF16_STEP_TOL, what, &worst);
        snprintf(what, sizeof what, "%s bf16 gradient vs cpu fp32:", fam);
        per_tensor_rel(&gg, gg.grads, gc.grads, -1, what, &worst32);
        printf("  ok %s bf16 gradients: %d/%d within %.0e relative of the cpu's bf16 mode (worst %.3g); "
               "worst distance from the cpu fp32 %.3g (measured, not bounded)\n",
               fam, ok, gg.n, BF16_STEP_TOL, worst, worst32);
        for (int k = 0; k < TRAIN_STEPS; k++) {
            snprintf(what, sizeof what, "%s bf16 compacter++, dropout on: loss of step %d, cuda vs cpu bf16", fam,
                     k + 1);
            check_rel(what, &pg.loss[k], &pcb.loss[k], 1, BF16_STEP_TOL);
        }
        double pworst;
        snprintf(what, sizeof what, "%s bf16 compacter++ after %d steps:", fam, TRAIN_STEPS);
        per_tensor_rel(&pg, pg.params, pcb.params, -1, what, &pworst);
        printf("  ok %s bf16 compacter++: %d trained tensors finite after %d steps; worst relative distance "
               "from the cpu's bf16 mode %.3g (measured, not bounded)\n",
               fam, pg.n, TRAIN_STEPS, pworst);
    }
    train_run_free(&gc), train_run_free(&gcb), train_run_free(&gg), train_run_free(&pcb), train_run_free(&pg);
    free(dec);
    st_close(&rf);
}

/* ---- bf16 storage (core/backend.h: convert, gemm_bf16 and the bf16 twins of rmsnorm,
 * relu_dropout, gelu_mul (+ backward), dropout_add) ----
 * Each op on random non-zero inputs against a host reference: the CPU backend's f32 op on the
 * test's own exact widening of the bf16 inputs (bf16_widen), narrowed (bf16_from_f32) where
 * the op stores bf16; relative error <= BF16_STORE_TOL (the issue's bf16 tolerance), the count
 * of bitwise-equal elements printed, and under the emulator (glibc's tanhf on both sides, the
 * same sums) every element bitwise equal. Then the definition itself, on any device: bit for
 * bit the CUDA backend's f32 op on the widened inputs, narrowed. gemm_bf16 against a double
 * loop over the widened operands: 1e-5 with an f32 C, 1e-2 with a bf16 C (under the emulator,
 * every bf16 element within 1 bf16 ulp of the narrowed double result, or the f32 sum's error
 * bound). Outputs are poisoned
 * with NaN first (bf16 0xffff), masks with 0xA5 bytes. */
#define BF16_STORE_TOL 1e-2

#ifdef COMPACTER_CUDA_EMU
#define BF16_EMU 1
#else
#define BF16_EMU 0
#endif

/* n random bf16 values in [lo, hi), none zero (rnd never gives 0; |v| >= 2^-126 narrows to
 * non-zero) */
static uint16_t *hbf16_rand(size_t n, float lo, float hi) {
    uint16_t *p = malloc(n * sizeof *p + 1);
    if (!p) die("malloc");
    for (size_t i = 0; i < n; i++) {
        do
            p[i] = bf16_from_f32(rnd(lo, hi));
        while ((p[i] & 0x7fffu) == 0);
    }
    return p;
}

static uint16_t *hbf16_nan(size_t n) {
    uint16_t *p = malloc(n * sizeof *p + 1);
    if (!p) die("malloc");
    for (size_t i = 0; i < n; i++) p[i] = 0xffffu; /* a NaN */
    return p;
}

static float *hwiden(const uint16_t *x, size_t n) {
    float *p = malloc(n * sizeof *p + 1);
    if (!p) die("malloc");
    for (size_t i = 0; i < n; i++) p[i] = bf16_widen(x[i]);
    return p;
}

static uint16_t *hnarrow(const float *x, size_t n) {
    uint16_t *p = malloc(n * sizeof *p + 1);
    if (!p) die("malloc");
    for (size_t i = 0; i < n; i++) p[i] = bf16_from_f32(x[i]);
    return p;
}

/* a device buffer of n bf16 NaNs */
static uint16_t *dev_bf16_nan(size_t n) {
    uint16_t *h = hbf16_nan(n);
    uint16_t *d = dup_dev(h, n * 2);
    free(h);
    return d;
}

/* dev (n elements of `bytes` bytes: 2 bf16, 4 f32) against want: relative error <= tol (of
 * the widened values for bf16), the bitwise-equal count printed, and all equal under the
 * emulator (or wherever `exact`) */
static void check_store(const char *what, const void *dev, const void *want, size_t n, int bytes, double tol,
                        int exact) {
    void *got = malloc(n * (size_t)bytes + 1);
    if (!got) die("malloc");
    to_host(got, dev, n * (size_t)bytes);
    size_t same = 0;
    for (size_t i = 0; i < n; i++)
        same += memcmp((const char *)got + i * bytes, (const char *)want + i * bytes, (size_t)bytes) == 0;
    float *g = bytes == 2 ? hwiden(got, n) : (float *)got, *w = bytes == 2 ? hwiden(want, n) : (float *)want;
    double e = rel_l2_err(g, w, n);
    CHECK(e <= tol, "%s: relative error %.3g > %g (%zu of %zu bitwise equal)", what, e, tol, same, n);
    if (exact)
        CHECK(same == n, "%s: %zu of %zu elements differ bitwise (must be identical%s)", what, n - same, n,
              BF16_EMU ? " under the emulator" : "");
    if (e <= tol && (!exact || same == n))
        printf("  ok %-60s n=%-8zu rel %.3g, %zu/%zu bitwise equal%s\n", what, n, e, same, n,
               exact ? " (required)" : "");
    if (bytes == 2) free(g), free(w);
    free(got);
}

/* convert both ways against core/bf16.h on the host, bitwise on any device (integer
 * arithmetic): random values and the special ones (zeros, infinities, NaNs, subnormals,
 * rounding ties, the largest finite values and what rounds past them) */
static void test_bf16_convert(size_t n) {
    float *x = hrand(n, -3, 3);
    static const uint32_t special[] = {0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u,
                                       0xffc00001u, 0x7f800001u, 0x00000001u, 0x80008000u, 0x00018000u,
                                       0x3f808000u, 0x3f818000u, 0x3f80c000u, 0x7f7f0000u, 0x7f7f8000u,
                                       0x7f7fffffu, 0x00800000u, 0x007fffffu};
    size_t ns = sizeof special / sizeof special[0];
    for (size_t i = 0; i < ns && i < n; i++) memcpy(&x[i * (n / ns)], &special[i], 4);
    uint16_t *want = hnarrow(x, n), *b = hbf16_rand(n, -3, 3);
    for (size_t i = 0; i < ns && i < n; i++) b[i * (n / ns) + (n > ns)] = (uint16_t)(special[i] >> 16);
    float *back = hwiden(b, n);
    float *dx = dup_dev(x, n * 4), *dback = dev_nan(n);
    uint16_t *dn = dev_bf16_nan(n), *db = dup_dev(b, n * 2);
    check_op("cuda convert to bf16", GPU->convert(dn, dx, n, 1));
    check_op("cuda convert to f32", GPU->convert(dback, db, n, 0));
    uint16_t *got = hbf16_nan(n);
    float *gotf = hnan(n);
    to_host(got, dn, n * 2);
    to_host(gotf, dback, n * 4);
    size_t d1 = 0, d2 = 0;
    for (size_t i = 0; i < n; i++) {
        d1 += got[i] != want[i];
        d2 += memcmp(&gotf[i], &back[i], 4) != 0;
    }
    CHECK(d1 == 0, "convert to bf16 n=%zu: %zu elements differ from bf16_from_f32", n, d1);
    CHECK(d2 == 0, "convert to f32 n=%zu: %zu elements differ from bf16_widen", n, d2);
    if (!d1 && !d2) printf("  ok convert n=%-8zu both ways, bitwise core/bf16.h (specials included)\n", n);
    GPU->free(dx), GPU->free(dback), GPU->free(dn), GPU->free(db);
    free(x), free(want), free(b), free(back), free(got), free(gotf);
}

static void test_rmsnorm_to_bf16(int64_t rows, int64_t d) {
    size_t n = (size_t)(rows * d);
    float *x = hrand(n, -3, 3), *w = hrand((size_t)d, 0.5f, 1.5f), *ref = hnan(n), *f32 = hnan(n);
    float *dx = dup_dev(x, n * 4), *dw = dup_dev(w, (size_t)d * 4), *dref = dev_nan(n);
    uint16_t *dout = dev_bf16_nan(n);
    check_op("cpu rmsnorm", CPU->rmsnorm(ref, x, w, rows, d, 1e-6f));
    check_op("cuda rmsnorm_to_bf16", GPU->rmsnorm_to_bf16(dout, dx, dw, rows, d, 1e-6f));
    uint16_t *want = hnarrow(ref, n);
    char what[128];
    snprintf(what, sizeof what, "rmsnorm_to_bf16 rows=%lld d=%lld vs cpu rmsnorm narrowed", (long long)rows,
             (long long)d);
    check_store(what, dout, want, n, 2, BF16_STORE_TOL, BF16_EMU);
    check_op("cuda rmsnorm", GPU->rmsnorm(dref, dx, dw, rows, d, 1e-6f));
    to_host(f32, dref, n * 4);
    uint16_t *want_dev = hnarrow(f32, n);
    snprintf(what, sizeof what, "rmsnorm_to_bf16 rows=%lld d=%lld vs cuda rmsnorm narrowed", (long long)rows,
             (long long)d);
    check_store(what, dout, want_dev, n, 2, 0.0, 1);
    GPU->free(dx), GPU->free(dw), GPU->free(dref), GPU->free(dout);
    free(x), free(w), free(ref), free(f32), free(want), free(want_dev);
}

static void test_relu_dropout_bf16(size_t n, float p, uint64_t seed, uint64_t offset) {
    size_t words = (n + 31) / 32;
    uint16_t *x = hbf16_rand(n, -2, 2);
    float *xw = hwiden(x, n), *ref = hnan(n), *f32 = hnan(n);
    uint32_t *m_ref = malloc(words * 4 + 1), *m_got = malloc(words * 4 + 1), *m_dev = malloc(words * 4 + 1);
    memset(m_ref, 0xA5, words * 4); /* every word must be written */
    memset(m_got, 0xA5, words * 4);
    uint16_t *dx = dup_dev(x, n * 2), *dy = dev_bf16_nan(n);
    uint32_t *dm = dup_dev(m_got, words * 4), *dm32 = dup_dev(m_got, words * 4);
    float *dxw = dup_dev(xw, n * 4), *dy32 = dev_nan(n);
    check_op("cpu relu_dropout", CPU->relu_dropout(ref, m_ref, xw, n, p, seed, offset));
    check_op("cuda relu_dropout_bf16", GPU->relu_dropout_bf16(dy, dm, dx, n, p, seed, offset));
    uint16_t *want = hnarrow(ref, n);
    char what[128];
    snprintf(what, sizeof what, "relu_dropout_bf16 n=%zu p=%g vs cpu relu_dropout narrowed", n, p);
    check_store(what, dy, want, n, 2, BF16_STORE_TOL, BF16_EMU);
    to_host(m_got, dm, words * 4);
    CHECK(memcmp(m_got, m_ref, words * 4) == 0, "%s: the bit masks differ", what);
    check_op("cuda relu_dropout", GPU->relu_dropout(dy32, dm32, dxw, n, p, seed, offset));
    to_host(f32, dy32, n * 4);
    to_host(m_dev, dm32, words * 4);
    uint16_t *want_dev = hnarrow(f32, n);
    snprintf(what, sizeof what, "relu_dropout_bf16 n=%zu p=%g vs cuda relu_dropout narrowed", n, p);
    check_store(what, dy, want_dev, n, 2, 0.0, 1);
    CHECK(memcmp(m_got, m_dev, words * 4) == 0, "%s: the bit masks differ", what);
    GPU->free(dx), GPU->free(dy), GPU->free(dm), GPU->free(dm32), GPU->free(dxw), GPU->free(dy32);
    free(x), free(xw), free(ref), free(f32), free(m_ref), free(m_got), free(m_dev), free(want), free(want_dev);
}

static void test_gelu_mul_bf16(size_t n) {
    uint16_t *a = hbf16_rand(n, -4, 4), *g = hbf16_rand(n, -2, 2);
    float *aw = hwiden(a, n), *gw = hwiden(g, n), *ref = hnan(n), *f32 = hnan(n);
    uint16_t *da = dup_dev(a, n * 2), *dg = dup_dev(g, n * 2), *dy = dev_bf16_nan(n);
    float *daw = dup_dev(aw, n * 4), *dgw = dup_dev(gw, n * 4), *dy32 = dev_nan(n);
    check_op("cpu gelu_mul", CPU->gelu_mul(ref, aw, gw, n));
    check_op("cuda gelu_mul_bf16", GPU->gelu_mul_bf16(dy, da, dg, n));
    uint16_t *want = hnarrow(ref, n);
    char what[128];
    snprintf(what, sizeof what, "gelu_mul_bf16 n=%zu vs cpu gelu_mul narrowed", n);
    check_store(what, dy, want, n, 2, BF16_STORE_TOL, BF16_EMU);
    check_op("cuda gelu_mul", GPU->gelu_mul(dy32, daw, dgw, n));
    to_host(f32, dy32, n * 4);
    uint16_t *want_dev = hnarrow(f32, n);
    snprintf(what, sizeof what, "gelu_mul_bf16 n=%zu vs cuda gelu_mul narrowed", n);
    check_store(what, dy, want_dev, n, 2, 0.0, 1);

    /* backward: da, dg (f32) pre-filled with the same random values everywhere (accumulated
     * into); which 1: da only, 2: dg only, 3: both */
    float *dyh = hrand(n, -1, 1), *g0 = hrand(n, -1, 1);
    float *ddy = dup_dev(dyh, n * 4);
    for (int which = 3; which >= 1; which--) {
        if (which != 3 && n > 1000) break; /* the single-output branches: small sizes only */
        int wa = which & 1, wg = which & 2;
        float *da_cpu = hcopy(g0, n), *dg_cpu = hcopy(g0, n);
        float *ga = dup_dev(g0, n * 4), *gg = dup_dev(g0, n * 4), *ga32 = dup_dev(g0, n * 4),
              *gg32 = dup_dev(g0, n * 4);
        check_op("cpu gelu_mul_backward",
                 CPU->gelu_mul_backward(wa ? da_cpu : NULL, wg ? dg_cpu : NULL, dyh, aw, gw, n));
        check_op("cuda gelu_mul_bf16_backward",
                 GPU->gelu_mul_bf16_backward(wa ? ga : NULL, wg ? gg : NULL, ddy, da, dg, n));
        check_op("cuda gelu_mul_backward",
                 GPU->gelu_mul_backward(wa ? ga32 : NULL, wg ? gg32 : NULL, ddy, daw, dgw, n));
        float *dev_a = hnan(n), *dev_g = hnan(n);
        to_host(dev_a, ga32, n * 4);
        to_host(dev_g, gg32, n * 4);
        const char *outs = which == 3 ? "da, dg" : wa ? "da only" : "dg only";
        snprintf(what, sizeof what, "gelu_mul_bf16_backward da n=%zu (%s) vs cpu", n, outs);
        check_store(what, ga, da_cpu, n, 4, BF16_STORE_TOL, BF16_EMU);
        snprintf(what, sizeof what, "gelu_mul_bf16_backward dg n=%zu (%s) vs cpu", n, outs);
        check_store(what, gg, dg_cpu, n, 4, BF16_STORE_TOL, BF16_EMU);
        snprintf(what, sizeof what, "gelu_mul_bf16_backward da n=%zu (%s) vs cuda f32", n, outs);
        check_store(what, ga, dev_a, n, 4, 0.0, 1);
        snprintf(what, sizeof what, "gelu_mul_bf16_backward dg n=%zu (%s) vs cuda f32", n, outs);
        check_store(what, gg, dev_g, n, 4, 0.0, 1);
        GPU->free(ga), GPU->free(gg), GPU->free(ga32), GPU->free(gg32);
        free(da_cpu), free(dg_cpu), free(dev_a), free(dev_g);
    }
    GPU->free(da), GPU->free(dg), GPU->free(dy), GPU->free(daw), GPU->free(dgw), GPU->free(dy32), GPU->free(ddy);
    free(a), free(g), free(aw), free(gw), free(ref), free(f32), free(want), free(want_dev), free(dyh), free(g0);
}

static void test_dropout_add_bf16(size_t n, float p, uint64_t seed, uint64_t offset) {
    uint16_t *x = hbf16_rand(n, -2, 2);
    float *xw = hwiden(x, n), *h = hrand(n, -2, 2), *ref = hnan(n), *f32 = hnan(n);
    uint16_t *dx = dup_dev(x, n * 2);
    float *dh = dup_dev(h, n * 4), *dxw = dup_dev(xw, n * 4), *dy = dev_nan(n), *dy32 = dev_nan(n);
    check_op("cpu dropout_add", CPU->dropout_add(ref, h, xw, n, p, seed, offset));
    check_op("cuda dropout_add_bf16", GPU->dropout_add_bf16(dy, dh, dx, n, p, seed, offset));
    char what[128];
    snprintf(what, sizeof what, "dropout_add_bf16 n=%zu p=%g vs cpu dropout_add", n, p);
    check_store(what, dy, ref, n, 4, BF16_STORE_TOL, BF16_EMU);
    check_op("cuda dropout_add", GPU->dropout_add(dy32, dh, dxw, n, p, seed, offset));
    to_host(f32, dy32, n * 4);
    snprintf(what, sizeof what, "dropout_add_bf16 n=%zu p=%g vs cuda dropout_add", n, p);
    check_store(what, dy, f32, n, 4, 0.0, 1);
    GPU->free(dx), GPU->free(dh), GPU->free(dxw), GPU->free(dy), GPU->free(dy32);
    free(x), free(xw), free(h), free(ref), free(f32);
}

/* a bf16 value's position on the number line (adjacent values differ by 1; +0 and -0 are 0) */
static int bf16_ordinal(uint16_t u) {
    return u & 0x8000u ? -(int)(u & 0x7fffu) : (int)u;
}

/* gemm_bf16 of case g (c_bf16: C bf16, beta must be 0) against a double loop over the
 * widened operands; C's padding (NaN) must stay untouched */
static void run_gemm_bf16_case(const char *label, struct gemm_case g, int c_bf16) {
    int ra = g.ta ? g.k : g.m, rb = g.tb ? g.n : g.k;
    size_t na = span(ra, g.lda, g.sa, g.batch), nb = span(rb, g.ldb, g.sb, g.batch);
    size_t nc = span(g.m, g.ldc, g.sc, g.batch), nl = (size_t)g.m * g.n * g.batch;
    uint16_t *a = hbf16_rand(na, -1, 1), *b = hbf16_rand(nb, -1, 1);
    float *c0 = hnan(nc); /* f32 C: NaN padding, random logical elements when beta != 0 */
    unsigned char *logical = calloc(nc, 1);
    for (int bt = 0; bt < g.batch; bt++)
        for (int i = 0; i < g.m; i++)
            for (int j = 0; j < g.n; j++) {
                size_t e = (size_t)(bt * g.sc + (int64_t)i * g.ldc + j);
                logical[e] = 1;
                if (g.beta != 0) c0[e] = rnd(-1, 1);
            }
    /* the reference: alpha sum_k A B in double (+ beta C0), rounded to f32; and the bound on
     * an f32 sum's own rounding error, k 2^-24 |alpha| sum_k |A B| (where terms cancel, it
     * may exceed the result's half ulp) */
    float *ref = malloc(nl * 4 + 1);
    double *f32_err = malloc(nl * sizeof(double) + 1);
    size_t at = 0;
    for (int bt = 0; bt < g.batch; bt++)
        for (int i = 0; i < g.m; i++)
            for (int j = 0; j < g.n; j++) {
                double s = 0, s_abs = 0;
                for (int kk = 0; kk < g.k; kk++) {
                    int64_t ea = bt * g.sa + (g.ta ? (int64_t)kk * g.lda + i : (int64_t)i * g.lda + kk);
                    int64_t eb = bt * g.sb + (g.tb ? (int64_t)j * g.ldb + kk : (int64_t)kk * g.ldb + j);
                    double prod = (double)bf16_widen(a[ea]) * (double)bf16_widen(b[eb]);
                    s += prod;
                    s_abs += fabs(prod);
                }
                s *= g.alpha;
                f32_err[at] = g.k * ldexp(1.0, -24) * fabs((double)g.alpha) * s_abs;
                if (g.beta != 0) s += (double)g.beta * c0[(size_t)(bt * g.sc + (int64_t)i * g.ldc + j)];
                ref[at++] = (float)s;
            }
    uint16_t *da = dup_dev(a, na * 2), *db = dup_dev(b, nb * 2);
    void *dc = c_bf16 ? (void *)dev_bf16_nan(nc) : dup_dev(c0, nc * 4);
    check_op("cuda gemm_bf16", GPU->gemm_bf16(g.ta, g.tb, g.m, g.n, g.k, g.alpha, da, g.lda, g.sa, db, g.ldb, g.sb,
                                             g.beta, dc, c_bf16, g.ldc, g.sc, g.batch));
    char what[160];
    snprintf(what, sizeof what, "gemm_bf16 %s ta=%d tb=%d %dx%dx%d b=%d beta=%g C %s", label, g.ta, g.tb, g.m, g.n,
             g.k, g.batch, g.beta, c_bf16 ? "bf16" : "f32");
    float *got = malloc(nl * 4 + 1);
    size_t pad_written = 0, off_ulp = 0, same = 0;
    at = 0;
    if (c_bf16) {
        uint16_t *c = hbf16_nan(nc);
        to_host(c, dc, nc * 2);
        for (size_t e = 0; e < nc; e++) {
            if (!logical[e]) {
                pad_written += c[e] != 0xffffu;
                continue;
            }
            uint16_t want = bf16_from_f32(ref[at]);
            int dist = abs(bf16_ordinal(c[e]) - bf16_ordinal(want));
            /* beyond 1 ulp counts unless the f32 sum's own error bound reaches that far */
            double ulp = fabs(bf16_widen((uint16_t)(want | 1u)) - bf16_widen((uint16_t)(want & ~1u)));
            int beyond = dist > 1 && fabs((double)bf16_widen(c[e]) - ref[at]) > ulp + f32_err[at];
            off_ulp += (c[e] & 0x7f80u) == 0x7f80u || beyond; /* NaN/Inf or beyond 1 ulp */
            same += c[e] == want;
            got[at++] = bf16_widen(c[e]);
        }
        free(c);
    } else {
        float *c = hnan(nc);
        to_host(c, dc, nc * 4);
        for (size_t e = 0; e < nc; e++) {
            if (!logical[e]) {
                pad_written += !isnan(c[e]);
                continue;
            }
            same += memcmp(&c[e], &ref[at], 4) == 0;
            got[at++] = c[e];
        }
        free(c);
    }
    double tol = c_bf16 ? BF16_STORE_TOL : TOL, e = rel_l2_err(got, ref, nl);
    CHECK(e <= tol, "%s: relative error %.3g > %g", what, e, tol);
    CHECK(pad_written == 0, "%s: %zu elements outside C written", what, pad_written);
    if (c_bf16 && BF16_EMU) {
        CHECK(off_ulp == 0,
              "%s: %zu of %zu elements more than 1 bf16 ulp and the f32 sum's error bound from the narrowed double "
              "result",
              what, off_ulp, nl);
        /* an f32 sum narrowed to nearest is the narrowed double but where the f32 rounding
         * crosses a bf16 rounding boundary (a few in 10^4 here); a narrowing that truncates
         * stays within 1 ulp too, but misses about half */
        CHECK(same * 100 >= nl * 99, "%s: %zu of %zu elements equal to the narrowed double result (< 99%%)", what,
              same, nl);
    }
    if (e <= tol && !pad_written)
        printf("  ok %-60s rel %.3g, %zu/%zu equal to the %s reference%s\n", what, e, same, nl,
               c_bf16 ? "narrowed double" : "f32-rounded double",
               c_bf16 ? (off_ulp ? ", some beyond 1 ulp" : ", all within 1 ulp") : "");
    GPU->free(da), GPU->free(db), GPU->free(dc);
    free(a), free(b), free(c0), free(logical), free(ref), free(f32_err), free(got);
}

static void test_gemm_bf16(void) {
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            run_gemm_bf16_case("padded batched", gemm_padded(ta, tb, 17, 23, 31, 3, 3, 0.75f, 0.0f, 0), 0);
            run_gemm_bf16_case("padded batched", gemm_padded(ta, tb, 17, 23, 31, 3, 3, 0.75f, 1.0f, 0), 0);
            run_gemm_bf16_case("padded batched", gemm_padded(ta, tb, 17, 23, 31, 3, 3, 0.75f, 0.0f, 0), 1);
        }
    run_gemm_bf16_case("shared B (stride 0)", gemm_padded(0, 1, 9, 5, 13, 4, 1, 1.0f, 0.0f, 1), 1);
    run_gemm_bf16_case("large", gemm_padded(0, 1, 128, 96, 256, 1, 0, 1.0f, 0.0f, 0), 0);
    run_gemm_bf16_case("large", gemm_padded(0, 1, 128, 96, 256, 1, 0, 1.0f, 0.0f, 0), 1);
    /* linear as op_linear (y = x W^T) with a bf16 output */
    struct gemm_case linear = {0, 1, 37, 56, 40, 1, 40, 40, 56, 0, 0, 0, 1.0f, 0.0f};
    run_gemm_bf16_case("linear (x W^T)", linear, 1);
    /* a bf16 C with beta != 0 is refused, naming the op, and C is left alone */
    uint16_t *d1 = dev_bf16_nan(4), *c = hbf16_nan(4);
    int rc = GPU->gemm_bf16(0, 0, 2, 2, 2, 1.0f, d1, 2, 0, d1, 2, 0, 1.0f, d1, 1, 2, 0, 1);
    CHECK(rc == -1 && strstr(error_message(), "gemm_bf16"), "gemm_bf16 with a bf16 C and beta 1: rc %d, '%s'", rc,
          error_message());
    to_host(c, d1, 8);
    CHECK(c[0] == 0xffffu && c[3] == 0xffffu, "gemm_bf16 refused with beta 1 but wrote C");
    GPU->free(d1), free(c);
}

static void run_bf16_storage_tests(void) {
    int checks0 = check_count, failures0 = check_failures;
    test_bf16_convert(100003);
    test_bf16_convert(37);
    test_bf16_convert((size_t)17000003); /* the grid-stride loop */
    test_gemm_bf16();
    test_rmsnorm_to_bf16(64, 512);
    test_rmsnorm_to_bf16(33, 768);
    test_rmsnorm_to_bf16(5, 777);
    test_rmsnorm_to_bf16(70001, 8); /* more rows than blocks: the row loop */
    test_relu_dropout_bf16(100003, 0.1f, 42, 5);
    test_relu_dropout_bf16(7, 0.5f, 3, 0);
    test_relu_dropout_bf16((size_t)17000003, 0.1f, 9, 1); /* the grid-stride loop, a partial last word */
    test_gelu_mul_bf16(100003);
    test_gelu_mul_bf16(5);
    test_dropout_add_bf16(100003, 0.1f, 42, 9);
    test_dropout_add_bf16(6, 0.5f, 1, 0);
    printf("  bf16 storage: %d checks, %d failed\n", check_count - checks0, check_failures - failures0);
}

/* dropout, the backward ops, the optimizer ops and whole training steps */
static void run_backward_tests(void) {
    test_dropout(100003, 0.1f, 42, 0);
    test_dropout(100003, 0.5f, 0x123456789abcdefull, 777); /* a 64-bit seed, an offset */
    test_dropout(5, 0.1f, 7, 3);                           /* a partial Philox block */
    test_dropout((size_t)17000003, 0.1f, 9, 1);            /* the grid-stride loop */
    test_axpy_overwrite(1), test_axpy_overwrite(100003);
    test_relu_dropout(100003, 0.1f, 42, 5);
    test_relu_dropout(7, 0.5f, 3, 0);
    /* the grid-stride loop: the second pass's warps must still hold 32 consecutive elements
     * from a multiple of 32 (the ballot's word), and its last word is partial */
    test_relu_dropout((size_t)17000003, 0.1f, 9, 1);
    test_dropout_add(100003, 0.1f, 42, 9);
    test_dropout_add(6, 0.5f, 1, 0);
    test_gelu_mul(100003);
    test_gelu_mul(5);

    for (int op = BW_RELU; op <= BW_AXPY; op++)
        test_elementwise_backward((enum bw)op, 100003);
    test_elementwise_backward(BW_AXPY, (size_t)17000003);

    test_embedding_backward(37, 96, 40, 0);     /* every id repeated */
    test_embedding_backward(500, 3000, 300, 0); /* ids across all slices, d over one block */
    test_embedding_backward(70001, 1000, 3, 0);
    test_embedding_backward(0, 1 << 20, 1, 1); /* Intrinsic-SAID's shape */
    test_embedding_backward(0, 3001, 7, 1);
    test_layout(0);
    test_layout(1);
    /* one chunk kernel, several rows per chunk with a partial last chunk, then the tile
     * kernels (L > 4096: 1, 2 and 3 stage groups) */
    test_fwht(1, 1);
    test_fwht(5, 2);
    test_fwht(1000, 16);
    test_fwht(7, 4096);
    test_fwht(3, 8192);
    test_fwht(2, 1 << 16);
    test_fwht(1, 1 << 19);
    test_fwht(1, 1 << 25); /* t5-base's embedding under Intrinsic-SAID: 3 groups */
    test_position_bias_backward(3, 6, 8, 32);
    test_position_bias_backward(12, 33, 47, 32);
    test_position_bias_backward(2, 9, 9, 200); /* more buckets than slices */

    for (int which = 1; which <= 3; which++) {
        test_rmsnorm_backward(13, 40, which);
        test_rmsnorm_backward(5, 777, which);
    }
    test_rmsnorm_backward(70001, 8, 3);            /* more rows than blocks */
#ifndef COMPACTER_CUDA_EMU /* 10^9 emulated threads: hours on the CPU */
    test_rmsnorm_backward((1 << 22) + 1001, 2, 3); /* more rows than the scratch: chunks */
#endif
    test_rmsnorm_backward(12800, 768, 3);          /* t5-base at batch 100: 200 row chunks of 64 */

    for (int with_bias = 0; with_bias < 2; with_bias++) {
        test_softmax_backward(2, 3, 5, 7, with_bias);
        test_softmax_backward(3, 2, 9, 70, with_bias);
        test_softmax_backward(2, 2, 6, 6, with_bias);
    }
    test_softmax_backward(1, 1, 300000, 3, 1); /* more rows than warps in the grid */
    for (int with_bias = 0; with_bias < 2; with_bias++)
        for (int drop_probs = 0; drop_probs < 2; drop_probs++) {
            test_attn_softmax_dropout(2, 3, 5, 7, 0.1f, with_bias, drop_probs);
            test_attn_softmax_dropout(3, 2, 9, 70, 0.5f, with_bias, drop_probs);
            test_attn_softmax_dropout(2, 2, 6, 6, 0.1f, with_bias, drop_probs);
        }
    /* rows longer than a 128-element keep window, starting off a multiple of 4: iterations
     * straddling two windows, and windows replaced as the warp walks the row
     * (cuda_dropout_mask.h keep_windows); K = 70 above never leaves window 0 */
    for (int drop_probs = 0; drop_probs < 2; drop_probs++) {
        test_attn_softmax_dropout(2, 3, 5, 301, 0.3f, drop_probs, drop_probs);
        test_attn_softmax_dropout(1, 2, 3, 1029, 0.1f, 1 - drop_probs, drop_probs);
    }
    test_attn_softmax_dropout(1, 1, 300000, 3, 0.1f, 1, 1); /* more rows than warps in the grid */
    test_attn_softmax_dropout(4, 12, 128, 128, 0.1f, 1, 1);  /* t5-base's encoder self-attention, batch 4 */

    test_cross_entropy_backward(11, 96, 0);
    test_cross_entropy_backward(6, 32128, 0);
    test_cross_entropy_backward(70001, 5, 0);
    test_cross_entropy_backward(4, 96, 1);

    test_sumsq(1);
    test_sumsq(1000);
    test_sumsq(100003);
    test_sumsq((size_t)17000003);

    test_adamw(1, 0.01, 100003, 5);
    test_adamw(1, 0.0, 100003, 5); /* decay 0: the update without the decay step */
    test_adamw(0, 0.01, 100003, 5);
    test_adamw(0, 0.0, 1001, 3);

    /* the small list first, so that the large one outgrows the cached device lists */
    static struct mt_set small, set;
    mt_set_make(&small, 0);
    mt_set_make(&set, 300);
    test_sumsq_multi(&small);
    test_sumsq_multi(&set);
    test_adamw_multi(&small, 0, 0.01);
    test_adamw_multi(&set, 1, 0.01);
    test_adamw_multi(&set, 0, 0.01);
    test_adamw_multi(&set, 1, 0.0); /* decay 0: the update without the decay step */

    test_training("v10", ADAMW_TORCH);
    test_training("v11", ADAMW_HF46);
}

/* the bf16 precision mode (GEMMs on bf16 tensor cores, fp32 storage) */
static void run_bf16_tests(void) {
    test_bf16_gemm();
    test_bf16_training("v10", ADAMW_TORCH);
    test_bf16_training("v11", ADAMW_HF46);
}

#ifdef CUDA_OPS_SELFTEST_ON_CPU
/* A check of this test's own code on a machine without a GPU: build with
 *   cc -DCUDA_OPS_SELFTEST_ON_CPU -Wno-unused-function ... tests/test_cuda_ops.c (the
 *   Makefile's command plus these two flags)
 * and the "cuda" side is the CPU backend; every comparison must then pass, exactly. */
int main(void) {
    static struct backend cpu_as_gpu;
    cpu_as_gpu = backend_cpu;
    cpu_as_gpu.attn_softmax_dropout_backward = ref_softmax_dropout_backward; /* the CPU backend has none */
    GPU = &cpu_as_gpu;
    run_backward_tests();
    test_bf16_training("v10", ADAMW_TORCH); /* the "bf16" side is the cpu's fp32 here */
    CHECK_DONE();
}
#else
int main(void) {
    if (!cuda_available()) SKIP("%s", error_message());
    if (cuda_set_precision("fp32")) die("cuda_set_precision");

    test_memory_fill();
    test_gemm();
    test_gemm_2level();
    test_gemm_ptr_cache();
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

    const char *modes[] = {"fp32", "tf32", "bf16"};
    for (int i = 0; i < 3; i++) {
        test_add_bias(modes[i], 37, 53);
        test_add_bias(modes[i], 5, 3000);   /* columns over one block's threads */
        test_add_bias(modes[i], 70001, 24); /* more rows than blocks: the row loop */
    }

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

    run_backward_tests();
    run_bf16_tests();
    run_bf16_storage_tests();

    cuda_shutdown();
    CHECK_DONE();
}
#endif /* CUDA_OPS_SELFTEST_ON_CPU */
#endif
