/* test_bf16_ops.c: bf16 storage on the CPU backend (core/bf16.h, the "bf16 storage" ops of
 * core/backend.h).
 *  1. The conversions: bf16_from_f32 against hand-written bit patterns (1, ties with an even
 *     and an odd bf16 below, above a tie, a carry into the exponent, -0, +-inf, FLT_MAX
 *     overflowing to inf, NaNs of both signs staying quiet NaNs, the smallest f32 and bf16
 *     subnormals, a subnormal tie); against an independent nearest-even reference (the two
 *     bf16 neighbours compared in double) on 2^20 random f32 bit patterns; bf16_widen is the
 *     upper half and bf16_from_f32 round-trips each of the 65536 bf16 patterns but NaNs.
 *  2. convert both ways: bitwise the two functions over all 65536 bf16 patterns and over
 *     random f32 with ties, NaN, inf and subnormals.
 *  3. The kernels (rmsnorm_to_bf16, relu_dropout_bf16 with its mask words, gelu_mul_bf16,
 *     gelu_mul_bf16_backward with da and dg, dg NULL, da NULL, dropout_add_bf16), called
 *     through backend_cpu: bitwise (memcmp) the backend's f32 op on inputs this test widens,
 *     narrowed by this test; dropout at p = 0, 0.1 and 0.2, AVX2 and portable paths
 *     (COMPACTER_CPU_NO_AVX2), lengths off the 32-element groups; the narrowing met ties
 *     (an f32 result halfway between two bf16) in every op that narrows.
 *  4. gemm_bf16: against a double-precision triple loop over the widened operands, the 4
 *     transpose combinations, batch 3 with padded leading dimensions and batch strides (NaN
 *     in the padding, which must not be read), a shared B (stride 0), m=5 n=7 k=33 and
 *     other shapes: f32 C within 1e-6 relative per element (beta 0, and beta 1 adding to C),
 *     bf16 C within 1 bf16 ulp of the rounded double result, C's padding untouched; a bf16 C
 *     with beta != 0 is refused (-1 and a message naming gemm_bf16, C untouched).
 * Random inputs are never zero; their magnitudes span many binades. */
#include "tests/check.h"

#include <float.h>
#include <stdint.h>

#include "core/backend.h"
#include "core/bf16.h"
#include "core/error.h"
#include "core/splitmix.h"

static const struct backend *CPU = &backend_cpu;
static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static int bf16_is_nan(uint16_t h) { return (h & 0x7f80u) == 0x7f80u && (h & 0x007fu); }

/* a nonzero f32: sign random, magnitude 2^[-lo_exp, hi_exp), every 97th one a tie of bf16
 * rounding (low half 0x8000) */
static float rand_f32(int lo_exp, int hi_exp) {
    uint64_t r = splitmix64(&rng);
    double m = 1.0 + (double)(r >> 11) * 0x1p-53; /* [1, 2) */
    int e = -lo_exp + (int)(splitmix64(&rng) % (uint64_t)(lo_exp + hi_exp));
    float f = (float)ldexp(m, e);
    if (r & 1) f = -f;
    if (r % 97 == 5) f = u2f((f2u(f) & 0xffff0000u) | 0x8000u);
    return f;
}
/* a nonzero, finite bf16 of magnitude 2^[-lo_exp, hi_exp) (positive when pos) */
static uint16_t rand_bf16(int lo_exp, int hi_exp, int pos) {
    float f = rand_f32(lo_exp, hi_exp);
    uint16_t h = bf16_from_f32(pos ? fabsf(f) : f);
    return (h & 0x7fffu) ? h : (uint16_t)(h | 1u);
}

static float *f32s(size_t n, int lo_exp, int hi_exp) {
    float *v = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) v[i] = rand_f32(lo_exp, hi_exp);
    return v;
}
static uint16_t *bf16s(size_t n, int lo_exp, int hi_exp) {
    uint16_t *v = malloc(sizeof(uint16_t) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) v[i] = rand_bf16(lo_exp, hi_exp, 0);
    return v;
}
static float *widened(const uint16_t *h, size_t n) {
    float *v = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) v[i] = bf16_widen(h[i]);
    return v;
}
/* the f32 results narrowed by this test; *ties += those halfway between two bf16 */
static uint16_t *narrowed(const float *f, size_t n, size_t *ties) {
    uint16_t *v = malloc(sizeof(uint16_t) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        v[i] = bf16_from_f32(f[i]);
        if (ties && (f2u(f[i]) & 0xffffu) == 0x8000u) (*ties)++;
    }
    return v;
}
/* elements that differ bitwise (size bytes each); *first: the first of them */
static size_t bytes_diff(const void *a, const void *b, size_t n, size_t size, size_t *first) {
    size_t d = 0;
    *first = 0;
    for (size_t i = 0; i < n; i++)
        if (memcmp((const char *)a + i * size, (const char *)b + i * size, size)) {
            if (!d) *first = i;
            d++;
        }
    return d;
}

/* ---- 1. the conversions ---- */

/* bf16 nearest to finite x, ties to even, by comparing the distances to its two bf16
 * neighbours in double (inf as 2^128 for rounding), not by bit arithmetic */
static uint16_t ref_from_f32(float x) {
    uint32_t u = f2u(x), sign = u & 0x80000000u, mag = u & 0x7fffffffu;
    uint32_t lo = mag & 0xffff0000u, hi = lo + 0x10000u;
    double ax = fabs((double)x), dl = ax - (double)u2f(lo);
    double dh = (hi >= 0x7f800000u ? ldexp(1.0, 128) : (double)u2f(hi)) - ax;
    uint32_t r = dl < dh ? lo : dh < dl ? hi : ((lo >> 16) & 1u) ? hi : lo;
    return (uint16_t)((sign | r) >> 16);
}

static void test_conversions(void) {
    static const struct {
        uint32_t in;
        uint16_t want;
        const char *what;
    } cases[] = {
        {0x3f800000u, 0x3f80, "1.0"},
        {0x3f808000u, 0x3f80, "tie, even below: down"},
        {0x3f818000u, 0x3f82, "tie, odd below: up"},
        {0x3f80c000u, 0x3f81, "above the tie: up"},
        {0x3f807fffu, 0x3f80, "below the tie: down"},
        {0xbf818000u, 0xbf82, "negative tie, odd below: away from zero"},
        {0x3fffffffu, 0x4000, "carry into the exponent"},
        {0x80000000u, 0x8000, "-0"},
        {0x00000000u, 0x0000, "+0"},
        {0x7f800000u, 0x7f80, "+inf"},
        {0xff800000u, 0xff80, "-inf"},
        {0x7f7fffffu, 0x7f80, "FLT_MAX overflows to inf"},
        {0xff7fffffu, 0xff80, "-FLT_MAX overflows to -inf"},
        {0x7f7f7fffu, 0x7f7f, "largest finite bf16 stays"},
        {0x00000001u, 0x0000, "smallest f32 subnormal: to +0"},
        {0x80000001u, 0x8000, "-smallest f32 subnormal: to -0"},
        {0x00010000u, 0x0001, "smallest bf16 subnormal"},
        {0x00008000u, 0x0000, "half the smallest bf16 subnormal: tie to even 0"},
        {0x00018000u, 0x0002, "subnormal tie, odd below: up"},
        {0x00008001u, 0x0001, "above half the smallest subnormal: up"},
    };
    int bad = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint16_t got = bf16_from_f32(u2f(cases[c].in));
        CHECK(got == cases[c].want, "bf16_from_f32(0x%08x) %s: 0x%04x, want 0x%04x", cases[c].in, cases[c].what, got,
              cases[c].want);
        bad += got != cases[c].want;
    }
    static const uint32_t nans[] = {0x7f800001u, 0xff800001u, 0x7fc00000u, 0x7fffffffu, 0xffbfffffu};
    for (size_t c = 0; c < sizeof nans / sizeof nans[0]; c++) {
        uint16_t got = bf16_from_f32(u2f(nans[c]));
        int ok = bf16_is_nan(got) && (got & 0x0040u) && (got & 0x8000u) == (nans[c] >> 16 & 0x8000u);
        CHECK(ok, "bf16_from_f32(0x%08x, a NaN): 0x%04x, want a quiet NaN of the same sign", nans[c], got);
        bad += !ok;
    }
    printf("  ok bf16_from_f32: %zu hand-written patterns (%d wrong)\n",
           sizeof cases / sizeof cases[0] + sizeof nans / sizeof nans[0], bad);

    /* against the reference on random bit patterns (every finite f32 class) */
    size_t wrong = 0, ties = 0;
    uint32_t first = 0;
    for (int i = 0; i < (1 << 20); i++) {
        uint32_t u = (uint32_t)splitmix64(&rng);
        if (i % 8 == 1) u = (u & 0xffff0000u) | 0x8000u; /* ties */
        if ((u & 0x7f800000u) == 0x7f800000u) continue;  /* inf / NaN: above */
        ties += (u & 0xffffu) == 0x8000u;
        if (bf16_from_f32(u2f(u)) != ref_from_f32(u2f(u)) && !wrong++) first = u;
    }
    CHECK(wrong == 0, "bf16_from_f32: %zu of 2^20 random f32 not the nearest bf16 (ties to even); first 0x%08x",
          wrong, first);
    printf("  ok bf16_from_f32: 2^20 random f32 (%zu ties) the nearest bf16\n", ties);

    /* every bf16: widening is the upper half; narrowing the widened value gives it back */
    size_t widen_bad = 0, trip_bad = 0, finite = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float w = bf16_widen((uint16_t)h);
        widen_bad += f2u(w) != h << 16;
        if (bf16_is_nan((uint16_t)h)) continue;
        finite++;
        float back = bf16_widen(bf16_from_f32(w));
        trip_bad += memcmp(&back, &w, 4) != 0;
    }
    CHECK(widen_bad == 0, "bf16_widen: %zu of 65536 patterns not the upper half of the f32", widen_bad);
    CHECK(trip_bad == 0 && finite == 65536 - 254, "round trip: %zu of %zu non-NaN bf16 patterns changed", trip_bad,
          finite);
    printf("  ok bf16_widen exact, round trip of the %zu non-NaN bf16 patterns\n", finite);
}

/* ---- 2. convert ---- */

static void test_convert(void) {
    /* bf16 -> f32: every pattern */
    uint16_t *all = malloc(65536 * sizeof *all);
    for (uint32_t h = 0; h < 65536; h++) all[h] = (uint16_t)h;
    float *want32 = widened(all, 65536), *got32 = malloc(65536 * sizeof *got32);
    memset(got32, 0xA5, 65536 * sizeof *got32);
    size_t first, d;
    CHECK(CPU->convert(got32, all, 65536, 0) == 0, "%s", error_message());
    d = bytes_diff(got32, want32, 65536, 4, &first);
    CHECK(d == 0, "convert bf16 -> f32: %zu of 65536 differ from bf16_widen (first %zu)", d, first);

    /* f32 -> bf16: random, ties, NaN, inf, subnormals; n odd */
    size_t n = 100003;
    float *x = f32s(n, 140, 128);
    for (size_t i = 0; i < n; i += 101) x[i] = u2f((uint32_t)splitmix64(&rng)); /* any pattern, NaN too */
    x[7] = INFINITY, x[8] = -INFINITY, x[9] = NAN, x[10] = u2f(0x00018000u), x[11] = FLT_MAX;
    size_t ties = 0;
    uint16_t *want16 = narrowed(x, n, &ties), *got16 = malloc(n * sizeof *got16);
    memset(got16, 0xA5, n * sizeof *got16);
    CHECK(CPU->convert(got16, x, n, 1) == 0, "%s", error_message());
    d = bytes_diff(got16, want16, n, 2, &first);
    CHECK(d == 0, "convert f32 -> bf16: %zu of %zu differ from bf16_from_f32 (first %zu: 0x%08x)", d, n, first,
          f2u(x[first]));
    printf("  ok convert: bf16 -> f32 (65536 patterns), f32 -> bf16 (n=%zu, %zu ties)\n", n, ties);
    free(all), free(want32), free(got32), free(x), free(want16), free(got16);
}

/* ---- 3. the kernels against the f32 ops ---- */

static void test_rmsnorm(int64_t rows, int64_t d, float eps, int ones_rows) {
    size_t n = (size_t)(rows * d), first, ties = 0;
    float *x = f32s(n, 20, 20), *w = f32s((size_t)d, 10, 10), *y32 = malloc(4 * (n ? n : 1));
    /* rows of +-2 with eps 0: inv = 1/2 exactly, so out = +-w, whose ties reach the narrowing */
    for (int64_t r = 0; r < rows && ones_rows; r += 2)
        for (int64_t j = 0; j < d; j++) x[r * d + j] = (j + r) % 3 ? 2.0f : -2.0f;
    for (int64_t j = 0; j < d && ones_rows; j += 3) w[j] = u2f((f2u(w[j]) & 0xffff0000u) | 0x8000u);
    uint16_t *got = malloc(2 * (n ? n : 1));
    CHECK(CPU->rmsnorm(y32, x, w, rows, d, eps) == 0 && CPU->rmsnorm_to_bf16(got, x, w, rows, d, eps) == 0, "%s",
          error_message());
    uint16_t *want = narrowed(y32, n, &ties);
    size_t diff = bytes_diff(got, want, n, 2, &first);
    CHECK(diff == 0, "rmsnorm_to_bf16 rows=%lld d=%lld: %zu of %zu differ from bf16(rmsnorm) (first %zu)",
          (long long)rows, (long long)d, diff, n, first);
    if (ones_rows) CHECK(ties > 0, "rmsnorm_to_bf16 rows=%lld d=%lld: no tie reached the narrowing", (long long)rows,
                         (long long)d);
    printf("  ok rmsnorm_to_bf16 rows=%lld d=%lld eps=%g (%zu ties)\n", (long long)rows, (long long)d, eps, ties);
    free(x), free(w), free(y32), free(got), free(want);
}

static void test_dropout_ops(size_t n, float p, const char *path, size_t *ties) {
    uint64_t seed = 0xfedcba9876543210ull, offset = 0xfffffff0ull + n % 5; /* the counter crosses 2^32 */
    uint16_t *xb = bf16s(n, 30, 30);
    float *x = widened(xb, n), *y32 = malloc(4 * (n ? n : 1));
    size_t words = (n + 31) / 32, first, d;
    uint32_t *mask_want = malloc(4 * (words ? words : 1)), *mask_got = malloc(4 * (words ? words : 1));
    memset(mask_want, 0xA5, 4 * words);
    memset(mask_got, 0x5A, 4 * words);
    uint16_t *got = malloc(2 * (n ? n : 1));
    CHECK(CPU->relu_dropout(y32, mask_want, x, n, p, seed, offset) == 0 &&
              CPU->relu_dropout_bf16(got, mask_got, xb, n, p, seed, offset) == 0,
          "%s", error_message());
    uint16_t *want = narrowed(y32, n, ties);
    d = bytes_diff(got, want, n, 2, &first);
    CHECK(d == 0, "relu_dropout_bf16 n=%zu p=%g (%s): %zu of y differ from bf16(relu_dropout) (first %zu)", n, p, path,
          d, first);
    d = bytes_diff(mask_got, mask_want, words, 4, &first);
    CHECK(d == 0, "relu_dropout_bf16 n=%zu p=%g (%s): %zu of %zu mask words differ from relu_dropout's (first %zu)", n,
          p, path, d, words, first);

    float *h = f32s(n, 30, 30), *add_want = malloc(4 * (n ? n : 1)), *add_got = malloc(4 * (n ? n : 1));
    CHECK(CPU->dropout_add(add_want, h, x, n, p, seed, offset) == 0 &&
              CPU->dropout_add_bf16(add_got, h, xb, n, p, seed, offset) == 0,
          "%s", error_message());
    d = bytes_diff(add_got, add_want, n, 4, &first);
    CHECK(d == 0, "dropout_add_bf16 n=%zu p=%g (%s): %zu of %zu differ from dropout_add(h, widen(x)) (first %zu)", n, p,
          path, d, n, first);
    free(xb), free(x), free(y32), free(mask_want), free(mask_got), free(got), free(want), free(h), free(add_want),
        free(add_got);
}

static void test_gelu_mul(size_t n) {
    uint16_t *ab = bf16s(n, 8, 4), *gb = bf16s(n, 8, 8);
    float *a = widened(ab, n), *g = widened(gb, n), *y32 = malloc(4 * n);
    uint16_t *got = malloc(2 * n);
    size_t ties = 0, first, d;
    CHECK(CPU->gelu_mul(y32, a, g, n) == 0 && CPU->gelu_mul_bf16(got, ab, gb, n) == 0, "%s", error_message());
    uint16_t *want = narrowed(y32, n, &ties);
    d = bytes_diff(got, want, n, 2, &first);
    CHECK(d == 0, "gelu_mul_bf16 n=%zu: %zu differ from bf16(gelu_mul) (first %zu)", n, d, first);
    if (n > 100000) CHECK(ties > 0, "gelu_mul_bf16 n=%zu: no tie reached the narrowing", n);
    printf("  ok gelu_mul_bf16 n=%zu (%zu ties)\n", n, ties);

    /* backward: into prefilled da, dg (it accumulates), and with either one NULL */
    float *dy = f32s(n, 10, 10), *da0 = f32s(n, 10, 10), *dg0 = f32s(n, 10, 10);
    float *da_want = malloc(4 * n), *dg_want = malloc(4 * n), *da_got = malloc(4 * n), *dg_got = malloc(4 * n);
    static const char *which[] = {"da and dg", "da only (dg NULL)", "dg only (da NULL)"};
    for (int c = 0; c < 3; c++) {
        memcpy(da_want, da0, 4 * n), memcpy(da_got, da0, 4 * n);
        memcpy(dg_want, dg0, 4 * n), memcpy(dg_got, dg0, 4 * n);
        int with_da = c != 2, with_dg = c != 1;
        CHECK(CPU->gelu_mul_backward(with_da ? da_want : NULL, with_dg ? dg_want : NULL, dy, a, g, n) == 0 &&
                  CPU->gelu_mul_bf16_backward(with_da ? da_got : NULL, with_dg ? dg_got : NULL, dy, ab, gb, n) == 0,
              "%s", error_message());
        d = bytes_diff(da_got, da_want, n, 4, &first);
        CHECK(d == 0, "gelu_mul_bf16_backward n=%zu %s: %zu of da differ from gelu_mul_backward's (first %zu)", n,
              which[c], d, first);
        d = bytes_diff(dg_got, dg_want, n, 4, &first);
        CHECK(d == 0, "gelu_mul_bf16_backward n=%zu %s: %zu of dg differ from gelu_mul_backward's (first %zu)", n,
              which[c], d, first);
        /* the f32 op did change what it was given (else the comparison above proves little) */
        CHECK(bytes_diff(with_da ? da_want : dg_want, with_da ? da0 : dg0, n, 4, &first) > n / 2,
              "gelu_mul_backward n=%zu %s: the reference left its gradient as it was", n, which[c]);
    }
    printf("  ok gelu_mul_bf16_backward n=%zu: da and dg, dg NULL, da NULL\n", n);
    free(ab), free(gb), free(a), free(g), free(y32), free(got), free(want), free(dy), free(da0), free(dg0),
        free(da_want), free(dg_want), free(da_got), free(dg_got);
}

static void test_kernels(void) {
    test_rmsnorm(37, 515, 1e-6f, 0);
    test_rmsnorm(2048, 512, 1e-6f, 0); /* 1M elements: an f32 result 1 ulp off shows after narrowing */
    test_rmsnorm(64, 512, 0.0f, 1);
    test_rmsnorm(3, 1, 1e-6f, 0);
    test_rmsnorm(0, 8, 1e-6f, 0);
    static const size_t lengths[] = {1, 31, 33, 1000, 1048576 + 45};
    /* p = 0.2: 1 / (1 - p) is 1.25 in f32, so x 1.25 of an 8-bit x is often a tie to narrow */
    static const float ps[] = {0.0f, 0.1f, 0.2f};
    for (int path = 0; path < 2; path++) {
        const char *name = path ? "portable" : "best path";
        if (path) setenv("COMPACTER_CPU_NO_AVX2", "1", 1);
        else unsetenv("COMPACTER_CPU_NO_AVX2");
        for (int pi = 0; pi < 3; pi++) {
            size_t ties = 0;
            for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) test_dropout_ops(lengths[l], ps[pi], name,
                                                                                             &ties);
            if (ps[pi] == 0.2f) CHECK(ties > 0, "relu_dropout_bf16 p=%g (%s): no tie reached the narrowing", ps[pi], name);
            printf("  ok relu_dropout_bf16 (y, mask), dropout_add_bf16 p=%g %s, n up to %zu (%zu ties)\n", ps[pi], name,
                   lengths[4], ties);
        }
    }
    unsetenv("COMPACTER_CPU_NO_AVX2");
    test_gelu_mul((1 << 20) + 77); /* > 64K: the backward's chunks */
    test_gelu_mul(5);
}

/* ---- 4. gemm_bf16 ---- */

struct gemm_case {
    int ta, tb, m, n, k, batch, shared_b;
};

/* a [batch] of rows x cols bf16 matrices at leading dimension cols + 3, stride rows*ld + 11
 * (0 when shared), NaN in the padding; positive values of 2^[-6, 6) */
static uint16_t *operand(int rows, int cols, int batch, int shared, int *ld, int64_t *stride) {
    *ld = cols + 3;
    int64_t st = (int64_t)rows * *ld + 11;
    *stride = shared ? 0 : st;
    size_t total = (size_t)(st * batch);
    uint16_t *v = malloc(2 * total);
    for (size_t i = 0; i < total; i++) v[i] = 0x7fc0; /* NaN */
    for (int b = 0; b < (shared ? 1 : batch); b++)
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) v[b * st + (int64_t)r * *ld + c] = rand_bf16(6, 6, 1);
    return v;
}

static void test_gemm_case(struct gemm_case g) {
    int lda, ldb, ldc = g.n + 2;
    int64_t sa, sb, sc = (int64_t)g.m * ldc + 5;
    uint16_t *a = operand(g.ta ? g.k : g.m, g.ta ? g.m : g.k, g.batch, 0, &lda, &sa);
    uint16_t *b = operand(g.tb ? g.n : g.k, g.tb ? g.k : g.n, g.batch, g.shared_b, &ldb, &sb);
    size_t ctotal = (size_t)(sc * g.batch);
    const float alpha = 0.75f, sentinel = -12345.0f;
    const uint16_t sentinel16 = 0xdead;
    double *ref = malloc(sizeof(double) * (size_t)(g.batch * g.m * g.n));
    for (int bi = 0; bi < g.batch; bi++)
        for (int i = 0; i < g.m; i++)
            for (int j = 0; j < g.n; j++) {
                double s = 0;
                for (int p = 0; p < g.k; p++) {
                    uint16_t av = g.ta ? a[bi * sa + (int64_t)p * lda + i] : a[bi * sa + (int64_t)i * lda + p];
                    uint16_t bv = g.tb ? b[bi * sb + (int64_t)j * ldb + p] : b[bi * sb + (int64_t)p * ldb + j];
                    s += (double)bf16_widen(av) * (double)bf16_widen(bv);
                }
                ref[((size_t)bi * g.m + i) * g.n + j] = alpha * s;
            }
    char what[128];
    snprintf(what, sizeof what, "gemm_bf16 ta=%d tb=%d m=%d n=%d k=%d batch=%d%s", g.ta, g.tb, g.m, g.n, g.k, g.batch,
             g.shared_b ? " (B shared)" : "");

    /* f32 C, beta 0 then beta 1 (C = its previous value + the product) */
    float *c = malloc(4 * ctotal), *c0 = malloc(4 * ctotal);
    for (size_t i = 0; i < ctotal; i++) c0[i] = sentinel;
    for (int bi = 0; bi < g.batch; bi++)
        for (int i = 0; i < g.m; i++)
            for (int j = 0; j < g.n; j++) c0[bi * sc + (int64_t)i * ldc + j] = fabsf(rand_f32(4, 4));
    for (int beta = 0; beta < 2; beta++) {
        memcpy(c, c0, 4 * ctotal);
        CHECK(CPU->gemm_bf16(g.ta, g.tb, g.m, g.n, g.k, alpha, a, lda, sa, b, ldb, sb, (float)beta, c, 0, ldc, sc,
                             g.batch) == 0,
              "%s", error_message());
        size_t bad = 0, pad = 0;
        double worst = 0;
        for (int bi = 0; bi < g.batch; bi++)
            for (int i = 0; i < g.m; i++)
                for (int j = 0; j < g.n; j++) {
                    int64_t at = bi * sc + (int64_t)i * ldc + j;
                    double want = ref[((size_t)bi * g.m + i) * g.n + j] + (beta ? (double)c0[at] : 0.0);
                    double rel = fabs((double)c[at] - want) / fabs(want);
                    if (!(rel <= 1e-6)) bad++;
                    if (!(rel <= worst)) worst = rel;
                }
        for (size_t i = 0; i < ctotal; i++) pad += c0[i] == sentinel && memcmp(&c[i], &sentinel, 4);
        CHECK(bad == 0, "%s, f32 C, beta %d: %zu elements beyond 1e-6 relative (worst %.3g)", what, beta, bad, worst);
        CHECK(pad == 0, "%s, f32 C, beta %d: %zu padding elements of C written", what, beta, pad);
        printf("  ok %s, f32 C beta %d: worst relative error %.2g\n", what, beta, worst);
    }

    /* bf16 C: within 1 bf16 ulp of the rounded double result (all positive: patterns are ordered) */
    uint16_t *ch = malloc(2 * ctotal);
    for (size_t i = 0; i < ctotal; i++) ch[i] = sentinel16;
    CHECK(CPU->gemm_bf16(g.ta, g.tb, g.m, g.n, g.k, alpha, a, lda, sa, b, ldb, sb, 0.0f, ch, 1, ldc, sc, g.batch) == 0,
          "%s", error_message());
    size_t bad = 0, exact = 0, total = 0, pad = 0;
    for (int bi = 0; bi < g.batch; bi++)
        for (int i = 0; i < g.m; i++)
            for (int j = 0; j < g.n; j++) {
                int64_t at = bi * sc + (int64_t)i * ldc + j;
                int want = bf16_from_f32((float)ref[((size_t)bi * g.m + i) * g.n + j]);
                int diff = abs((int)ch[at] - want);
                bad += diff > 1 || bf16_is_nan(ch[at]);
                exact += diff == 0;
                total++;
                ch[at] = sentinel16; /* what is left must be the sentinel */
            }
    for (size_t i = 0; i < ctotal; i++) pad += ch[i] != sentinel16;
    CHECK(bad == 0, "%s, bf16 C: %zu of %zu elements beyond 1 bf16 ulp of the rounded exact result", what, bad, total);
    CHECK(pad == 0, "%s, bf16 C: %zu padding elements of C written", what, pad);
    printf("  ok %s, bf16 C: %zu of %zu the rounded exact result, the others 1 ulp off\n", what, exact, total);

    /* a bf16 C with beta != 0: refused, C untouched */
    error_clear();
    int rc = CPU->gemm_bf16(g.ta, g.tb, g.m, g.n, g.k, alpha, a, lda, sa, b, ldb, sb, 1.0f, ch, 1, ldc, sc, g.batch);
    pad = 0;
    for (size_t i = 0; i < ctotal; i++) pad += ch[i] != sentinel16;
    CHECK(rc == -1 && strstr(error_message(), "gemm_bf16") && pad == 0,
          "%s, bf16 C, beta 1: rc %d, message '%s', %zu elements of C written; want -1, a message naming gemm_bf16, none",
          what, rc, error_message(), pad);
    free(a), free(b), free(ref), free(c), free(c0), free(ch);
}

static void test_gemm(void) {
    for (int t = 0; t < 4; t++) test_gemm_case((struct gemm_case){t & 1, t >> 1, 5, 7, 33, 3, 0});
    test_gemm_case((struct gemm_case){1, 0, 5, 7, 33, 3, 1});
    test_gemm_case((struct gemm_case){0, 1, 64, 48, 200, 2, 0});
    test_gemm_case((struct gemm_case){1, 1, 1, 1, 1, 1, 0});
}

int main(void) {
    test_conversions();
    test_convert();
    test_kernels();
    test_gemm();
    CHECK_DONE();
}
