/* test_dropout.c: op_dropout on the CPU backend and the Philox4x32-10 generator behind it.
 *  - Philox4x32-10 (core/philox.h) against the published Random123 known-answer vectors;
 *  - philox_uniform's stream layout: element i of (seed, offset) is word i % 4 of the
 *    block at counter offset + i / 4, key = seed, top 24 bits;
 *  - statistics at p = 0.1 and 0.5 on 1e6 elements: kept fraction within 4 sigma of
 *    1 - p, kept values exactly x * (1 / (1 - p)) in f32, dropped values exactly +0;
 *  - the mask is a function of (seed, offset) only: same pair, same mask; other seeds
 *    or non-overlapping offsets (and consecutive dropout ops) agree only by chance;
 *  - training off (or p = 0) is the identity and records nothing;
 *  - backward regenerates the forward's mask: dx is nonzero exactly where y is;
 *  - the CPU kernels bit for bit against the per-element definition (y = x / (1 - p)
 *    where philox_uniform >= p, else +0; dx += dy / (1 - p) there, untouched elsewhere)
 *    over lengths that cut the kernels' 32-element groups anywhere, offsets whose counter
 *    crosses 2^32 inside a group, 64-bit seeds, p = 0 .. 0.9, inf and NaN inputs, -0 in dx,
 *    on the CPU's best path (AVX2 where it has it) and with COMPACTER_CPU_NO_AVX2=1. */
#include "tests/check.h"

#include <stdint.h>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "core/philox.h"

#define N 1000000

/* Known-answer vectors of philox4x32_10 from Random123's tests/kat_vectors
 * ("philox4x32 10 <counter x4> <key x2> <output x4>"), as embedded in
 * tensorflow/tensorflow tensorflow/compiler/tests/stateful_random_ops_test.py
 * (testPhilox4x32, citing DEShawResearch/Random123-Boost libs/random/test/test_philox.cpp
 * lines 50-52) and in Random123's own known-answer test (dokat<philox4x32_prf<10>>). */
static void check_kat(void) {
    static const struct {
        uint32_t ctr[4], key[2], out[4];
    } kat[] = {
        {{0x00000000, 0x00000000, 0x00000000, 0x00000000},
         {0x00000000, 0x00000000},
         {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
         {0xffffffff, 0xffffffff},
         {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
         {0xa4093822, 0x299f31d0},
         {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    };
    for (int v = 0; v < 3; v++) {
        uint32_t c[4];
        memcpy(c, kat[v].ctr, sizeof c);
        philox4x32_10(c, kat[v].key[0], kat[v].key[1]);
        CHECK(memcmp(c, kat[v].out, sizeof c) == 0,
              "philox4x32_10 KAT %d: got %08x %08x %08x %08x, want %08x %08x %08x %08x", v, c[0],
              c[1], c[2], c[3], kat[v].out[0], kat[v].out[1], kat[v].out[2], kat[v].out[3]);
    }
    printf("  ok philox4x32_10: 3 Random123 known-answer vectors\n");
}

/* element i of stream (seed, offset) = top 24 bits of word i % 4 at counter offset + i / 4 */
static void check_stream_layout(void) {
    const uint64_t seeds[] = {0, 42, 0xfedcba9876543210ull};
    const uint64_t offsets[] = {0, 5, 0xffffffffull, (1ull << 40) + 3};
    int bad = 0, out_of_range = 0;
    for (int s = 0; s < 3; s++)
        for (int o = 0; o < 4; o++)
            for (uint64_t i = 0; i < 37; i++) {
                uint64_t ctr = offsets[o] + i / 4; /* 64-bit counter: carries into word 1 */
                uint32_t c[4] = {(uint32_t)ctr, (uint32_t)(ctr >> 32), 0, 0};
                philox4x32_10(c, (uint32_t)seeds[s], (uint32_t)(seeds[s] >> 32));
                float want = (float)(c[i % 4] >> 8) / 16777216.0f;
                float got = philox_uniform(seeds[s], offsets[o], i);
                bad += got != want;
                out_of_range += !(got >= 0.0f && got < 1.0f);
            }
    CHECK(bad == 0 && out_of_range == 0,
          "philox_uniform: %d values differ from the layout, %d outside [0, 1)", bad, out_of_range);
    /* uniformity of the stream: mean and variance of 1e6 draws within 4 sigma */
    double sum = 0, sumsq = 0;
    for (uint64_t i = 0; i < N; i++) {
        double u = philox_uniform(7, 0, i);
        sum += u;
        sumsq += u * u;
    }
    double mean = sum / N, var = sumsq / N - mean * mean;
    CHECK(fabs(mean - 0.5) < 4 * sqrt(1.0 / 12 / N), "philox_uniform mean %.6f", mean);
    CHECK(fabs(var - 1.0 / 12) < 4 * sqrt(1.0 / 180 / N), "philox_uniform variance %.6f",
          var); /* Var((u-1/2)^2) = 1/180 */
    printf("  ok philox_uniform: stream layout, range, mean %.5f, variance %.5f (1e6 draws)\n",
           mean, var);
}

static float *random_input(uint64_t seed) {
    float *h = malloc(sizeof(float) * N);
    uint64_t s = seed;
    for (int i = 0; i < N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        float m = 0.5f + (float)(s >> 40) / 16777216.0f; /* |x| in [0.5, 1.5): never 0 */
        h[i] = (s >> 20) & 1 ? m : -m;
    }
    return h;
}

/* y = dropout(x) with the given seed and offset, downloaded into out */
static int run_dropout(struct exec *x, struct tensor *in, float p, uint64_t seed, uint64_t offset,
                       float *out) {
    x->training = 1;
    x->seed = seed;
    x->rng_offset = offset;
    struct tensor *y = op_dropout(x, in, p);
    if (!y || exec_download(x, y, out)) {
        CHECK(0, "dropout: %s", error_message());
        return -1;
    }
    return 0;
}

static void check_statistics(struct exec *x, const float *h, float p) {
    exec_reset(x);
    struct tensor *in = exec_upload(x, DTYPE_F32, 2, (int64_t[]){1000, 1000}, h);
    float *y = malloc(sizeof(float) * N);
    const uint64_t seed = 20211028, offset = 12345;
    if (!in || run_dropout(x, in, p, seed, offset, y)) {
        free(y);
        return;
    }
    CHECK(x->rng_offset == offset + (N + 3) / 4, "rng_offset advanced to %llu",
          (unsigned long long)x->rng_offset);
    const float s = 1.0f / (1.0f - p); /* the scale as backend.h defines it, in f32 */
    long kept = 0, bad_scale = 0, bad_zero = 0, bad_mask = 0;
    for (int i = 0; i < N; i++) {
        int keep = philox_uniform(seed, offset, (uint64_t)i) >= p;
        if (y[i] != 0.0f) {
            kept++;
            bad_scale += y[i] != h[i] * s;
        } else {
            bad_zero += signbit(y[i]) != 0; /* dropped: exactly +0 */
        }
        bad_mask += keep != (y[i] != 0.0f);
    }
    double expect = (double)N * (1 - p), sigma = sqrt((double)N * p * (1 - p));
    CHECK(fabs(kept - expect) <= 4 * sigma,
          "p %.1f: kept %ld of %d, expected %.0f +- %.0f (4 sigma)", p, kept, N, expect, 4 * sigma);
    CHECK(bad_scale == 0, "p %.1f: %ld kept values not exactly x * %.9g", p, bad_scale, s);
    CHECK(bad_zero == 0, "p %.1f: %ld dropped values are -0", p, bad_zero);
    CHECK(bad_mask == 0, "p %.1f: %ld elements disagree with philox_uniform(seed, offset, i) >= p",
          p, bad_mask);
    /* the f32 scale is 1/(1-p) to within half an ulp of the f32 result */
    CHECK(fabs((double)s - 1.0 / (1.0 - (double)p)) <= 1.2e-7 * s, "p %.1f: scale %.9g", p, s);
    printf("  ok p=%.1f: kept %ld/%d (expected %.0f, %.2f sigma), kept = x * %.9g exactly, dropped "
           "= +0\n",
           p, kept, N, expect, (kept - expect) / sigma, s);
    free(y);
}

/* fraction of positions where two masks agree */
static double agreement(const float *a, const float *b, int n) {
    long same = 0;
    for (int i = 0; i < n; i++)
        same += (a[i] != 0.0f) == (b[i] != 0.0f);
    return (double)same / n;
}

static void check_masks(struct exec *x, const float *h) {
    const float p = 0.5f;
    exec_reset(x);
    struct tensor *in = exec_upload(x, DTYPE_F32, 1, (int64_t[]){N}, h);
    float *a = malloc(sizeof(float) * N), *b = malloc(sizeof(float) * N);
    /* independent masks agree with probability p^2 + (1-p)^2 = 0.5 */
    const double q = p * p + (1 - p) * (1 - p), tol = 4 * sqrt(q * (1 - q) / N);

    run_dropout(x, in, p, 1, 0, a);
    run_dropout(x, in, p, 1, 0, b);
    CHECK(memcmp(a, b, sizeof(float) * N) == 0, "same (seed, offset) gave different outputs");

    run_dropout(x, in, p, 2, 0, b);
    double ag = agreement(a, b, N);
    CHECK(fabs(ag - q) <= tol, "seeds 1 and 2: masks agree on %.4f (independent: %.4f +- %.4f)", ag,
          q, tol);
    printf("  ok same (seed, offset): identical; seeds 1 vs 2: masks agree on %.4f (independent "
           "%.2f)\n",
           ag, q);

    run_dropout(x, in, p, 1, (N + 3) / 4, b); /* the next non-overlapping offset */
    ag = agreement(a, b, N);
    CHECK(fabs(ag - q) <= tol, "offsets 0 and n/4: masks agree on %.4f", ag);
    run_dropout(x, in, p, 1ull << 32, 0, b); /* seed differing only in the key's high word */
    double ag_hi = agreement(a, b, N);
    CHECK(fabs(ag_hi - q) <= tol, "seeds 1 and 2^32: masks agree on %.4f", ag_hi);
    printf("  ok offsets 0 vs n/4: agree on %.4f; seeds 1 vs 2^32: %.4f\n", ag, ag_hi);

    /* offsets count blocks of four: offset + 1 is the same stream four elements on, so
     * overlapping offsets give shifted copies (op_dropout advances by (n + 3) / 4) */
    run_dropout(x, in, p, 1, 1, b);
    long shifted = 0;
    for (int i = 0; i + 4 < N; i++)
        shifted += (b[i] != 0.0f) != (a[i + 4] != 0.0f);
    CHECK(shifted == 0, "mask at offset 1 is not the offset-0 mask shifted by 4 (%ld differ)",
          shifted);
    ag = agreement(a, b, N);
    CHECK(fabs(ag - q) <= tol, "offsets 0 and 1: masks agree on %.4f at the same positions", ag);

    /* two dropout ops in a row: the second starts where the first ended */
    x->training = 1;
    x->seed = 3;
    x->rng_offset = 0;
    struct tensor *y1 = op_dropout(x, in, p), *y2 = op_dropout(x, in, p);
    CHECK(y1 && y2 && x->rng_offset == 2 * ((N + 3) / 4), "two dropouts: rng_offset %llu",
          (unsigned long long)x->rng_offset);
    if (y1 && y2) {
        ag = agreement(y1->data, y2->data, N);
        CHECK(fabs(ag - q) <= tol, "consecutive dropouts: masks agree on %.4f", ag);
        printf("  ok consecutive dropout ops: offset advanced by %d blocks each, masks agree on "
               "%.4f\n",
               (N + 3) / 4, ag);
    }
    free(a);
    free(b);
}

static void check_identity(struct exec *x, const float *h) {
    exec_reset(x);
    x->record = 1;
    struct tensor *in = exec_upload(x, DTYPE_F32, 1, (int64_t[]){1000}, h);
    in->requires_grad = 1;
    x->seed = 9;
    x->rng_offset = 77;
    x->training = 0;
    struct tensor *y = op_dropout(x, in, 0.5f);
    CHECK(y == in && x->tape_len == 0 && x->rng_offset == 77,
          "training 0: not the identity (or recorded, or drew)");
    x->training = 1;
    y = op_dropout(x, in, 0.0f);
    CHECK(y == in && x->tape_len == 0 && x->rng_offset == 77, "p 0: not the identity");
    y = op_dropout(x, in, 0.5f);
    CHECK(y && y != in && x->tape_len == 1 && x->rng_offset == 77 + 250,
          "training 1: dropout not applied/recorded");
    x->record = 0;
    x->training = 0;
    printf("  ok training 0 and p 0: identity, nothing recorded, no draws\n");
}

/* backward regenerates the forward's mask: with loss = y . r (op_linear with r [1, n]),
 * dx = r * s where y was kept and 0 where it was dropped, bit for bit. */
static void check_backward(struct exec *x, const float *h, float p) {
    exec_reset(x);
    x->record = 1;
    x->training = 1;
    x->seed = 0x5eed;
    x->rng_offset = 1001;
    float *r = random_input(99);
    struct tensor *in = exec_upload(x, DTYPE_F32, 2, (int64_t[]){1, N}, h);
    in->requires_grad = 1;
    struct tensor *y = op_dropout(x, in, p);
    struct tensor *loss = op_linear(x, y, exec_upload(x, DTYPE_F32, 2, (int64_t[]){1, N}, r));
    if (!loss || backward(x, loss)) {
        CHECK(0, "dropout backward: %s", error_message());
        free(r);
        return;
    }
    const float s = 1.0f / (1.0f - p), *yd = y->data, *dx = in->grad;
    long mismatch = 0, bad_value = 0, nonzero = 0;
    for (int i = 0; i < N; i++) {
        mismatch += (dx[i] != 0.0f) != (yd[i] != 0.0f);
        bad_value += dx[i] != (yd[i] != 0.0f ? r[i] * s : 0.0f);
        nonzero += dx[i] != 0.0f;
    }
    CHECK(mismatch == 0, "p %.1f: dx nonzero where y is zero or vice versa at %ld elements", p,
          mismatch);
    CHECK(bad_value == 0, "p %.1f: %ld elements of dx are not r * %.9g (or 0)", p, bad_value, s);
    printf("  ok p=%.1f backward: dx nonzero at exactly the %ld kept elements, dx = dy * %.9g\n", p,
           nonzero, s);
    x->record = 0;
    x->training = 0;
    free(r);
}

static uint64_t lcg(uint64_t *st) {
    *st = *st * 6364136223846793005ull + 1442695040888963407ull;
    return *st >> 11;
}

static void check_kernels_exact(const char *path) {
    static const size_t ns[] = {1, 3, 31, 32, 33, 64, 95, 1000, 100003};
    static const float ps[] = {0.0f, 0.1f, 0.5f, 0.9f};
    static const uint64_t seeds[] = {42, 0xfedcba9876543210ull};
    static const uint64_t offsets[] = {0, 7, 0xfffffff5ull, (1ull << 40) + 3};
    uint64_t st = 99;
    long cases = 0, bad = 0;
    size_t nmax = 100003;
    float *x = malloc(nmax * 4), *y = malloc(nmax * 4), *dx = malloc(nmax * 4), *want = malloc(nmax * 4),
          *dx0 = malloc(nmax * 4);
    for (size_t i = 0; i < nmax; i++) {
        x[i] = (float)((double)lcg(&st) / 9007199254740992.0 * 4 - 2);
        dx0[i] = (float)((double)lcg(&st) / 9007199254740992.0 * 2 - 1);
        if (i % 97 == 5) dx0[i] = -0.0f;
    }
    x[10] = INFINITY, x[11] = -INFINITY, x[12] = NAN, x[40] = NAN;
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++)
        for (size_t b = 0; b < sizeof ps / sizeof ps[0]; b++)
            for (size_t c = 0; c < sizeof seeds / sizeof seeds[0]; c++)
                for (size_t d = 0; d < sizeof offsets / sizeof offsets[0]; d++) {
                    size_t n = ns[a];
                    float p = ps[b], sc = 1.0f / (1.0f - p);
                    uint64_t seed = seeds[c], off = offsets[d];
                    cases++;
                    if (backend_cpu.dropout(y, x, n, p, seed, off)) bad++;
                    for (size_t i = 0; i < n; i++) want[i] = philox_uniform(seed, off, i) >= p ? x[i] * sc : 0.0f;
                    if (memcmp(y, want, n * 4)) bad++;
                    memcpy(dx, dx0, n * 4);
                    if (backend_cpu.dropout_backward(dx, x, n, p, seed, off, 1)) bad++;
                    for (size_t i = 0; i < n; i++)
                        want[i] = philox_uniform(seed, off, i) >= p ? dx0[i] + x[i] * sc : dx0[i];
                    if (memcmp(dx, want, n * 4)) bad++;
                    /* accumulate 0: written outright (dx's NaN never read) as into zeros */
                    for (size_t i = 0; i < n; i++) dx[i] = NAN;
                    if (backend_cpu.dropout_backward(dx, x, n, p, seed, off, 0)) bad++;
                    for (size_t i = 0; i < n; i++) want[i] = philox_uniform(seed, off, i) >= p ? 0.0f + x[i] * sc : 0.0f;
                    if (memcmp(dx, want, n * 4)) bad++;
                }
    CHECK(bad == 0, "dropout kernels (%s): %ld of %ld cases differ bitwise from the per-element definition", path,
          bad, cases * 3);
    printf("  ok dropout and dropout_backward (accumulating and not) kernels (%s) bitwise equal to the per-element "
           "definition in %ld cases\n",
           path, cases * 3);
    free(x), free(y), free(dx), free(want), free(dx0);
}

int main(void) {
    check_kat();
    check_kernels_exact("the CPU's best path");
    setenv("COMPACTER_CPU_NO_AVX2", "1", 1); /* the portable path for whole groups too */
    check_kernels_exact("COMPACTER_CPU_NO_AVX2=1");
    unsetenv("COMPACTER_CPU_NO_AVX2");
    check_stream_layout();
    struct exec x;
    if (exec_init(&x, &backend_cpu)) {
        fprintf(stderr, "%s\n", error_message());
        return 1;
    }
    float *h = random_input(1);
    check_statistics(&x, h, 0.1f);
    check_statistics(&x, h, 0.5f);
    check_masks(&x, h);
    check_identity(&x, h);
    check_backward(&x, h, 0.1f);
    check_backward(&x, h, 0.5f);
    free(h);
    exec_free(&x);
    CHECK_DONE();
}
