/* test_fwht.c: the CPU backend's fast Walsh-Hadamard transform and the permutation scatter
 * of Intrinsic-SAID's Fastfood (kernels/cpu/cpu_layout.c, cpu_backward.c).
 *  - the test's own stage-by-stage transform (stage h = 1, 2, ..., L/2 over the whole row,
 *    the order the reference's butterfly takes) equals the dense Sylvester Hadamard
 *    product H[i][j] = (-1)^popcount(i & j), summed in double, for L <= 512;
 *  - backend fwht, which groups the stages into cache-sized blocks and tiles, is bit for
 *    bit the stage-by-stage transform for every L = 2^0 .. 2^22, one and several rows,
 *    on one thread and on all;
 *  - a length that is not a power of two is refused with a message naming it;
 *  - embedding_backward_unique (rows of a permutation scattered in parallel) is bit for bit
 *    embedding_backward on the same permutation, accumulating into non-zero gradients,
 *    d = 1 and d = 7; backend_embedding_backward_unique falls back to embedding_backward
 *    for a backend without the op. */
#include "tests/check.h"

#include <omp.h>
#include <stdint.h>

#include "core/backend.h"
#include "core/error.h"
#include "core/splitmix.h"

static const struct backend *CPU = &backend_cpu;

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float uniform(void) { return (float)(splitmix64_unit(&rng) * 2.0 - 1.0); }

static float *random_floats(size_t n) {
    float *v = malloc(sizeof(float) * (n ? n : 1));
    if (!v) exit(2);
    for (size_t i = 0; i < n; i++)
        v[i] = uniform();
    return v;
}

/* stage by stage over each whole row */
static void stagewise(float *x, int64_t rows, int64_t L) {
    for (int64_t r = 0; r < rows; r++) {
        float *v = x + r * L;
        for (int64_t h = 1; h < L; h <<= 1)
            for (int64_t i = 0; i < L; i += h << 1)
                for (int64_t j = i; j < i + h; j++) {
                    float a = v[j], b = v[j + h];
                    v[j] = a + b;
                    v[j + h] = a - b;
                }
    }
}

static void test_reference_is_hadamard(void) {
    for (int64_t L = 1; L <= 512; L <<= 1) {
        float *x = random_floats((size_t)L), *y = malloc(sizeof(float) * (size_t)L),
              *want = malloc(sizeof(float) * (size_t)L);
        memcpy(y, x, sizeof(float) * (size_t)L);
        stagewise(y, 1, L);
        for (int64_t i = 0; i < L; i++) {
            double s = 0;
            for (int64_t j = 0; j < L; j++)
                s += (__builtin_popcountll((uint64_t)(i & j)) & 1 ? -1.0 : 1.0) * x[j];
            want[i] = (float)s;
        }
        char what[64];
        snprintf(what, sizeof what, "stage-by-stage = dense H, L=%lld", (long long)L);
        check_close_f32(what, y, want, (size_t)L, 1e-5, 1e-5);
        free(x);
        free(y);
        free(want);
    }
}

/* backend fwht against stagewise, bitwise; returns the count of differing elements */
static size_t fwht_diff(int64_t rows, int64_t L) {
    size_t n = (size_t)(rows * L);
    float *x = random_floats(n), *want = malloc(sizeof(float) * n);
    memcpy(want, x, sizeof(float) * n);
    stagewise(want, rows, L);
    size_t bad = 0;
    if (CPU->fwht(x, rows, L)) {
        fprintf(stderr, "fwht rows %lld L %lld: %s\n", (long long)rows, (long long)L,
                error_message());
        bad = n ? n : 1;
    } else {
        for (size_t i = 0; i < n; i++)
            bad += memcmp(&x[i], &want[i], sizeof(float)) != 0;
    }
    free(x);
    free(want);
    return bad;
}

static void test_bitwise(int threads) {
    omp_set_num_threads(threads);
    size_t cases = 0, failed = 0;
    for (int lg = 0; lg <= 22; lg++) {
        int64_t L = (int64_t)1 << lg;
        int64_t rows_list[] = {1, 3};
        for (int r = 0; r < 2; r++) {
            int64_t rows = rows_list[r];
            if (rows * L > ((int64_t)1 << 22)) continue;
            size_t bad = fwht_diff(rows, L);
            cases++;
            CHECK(bad == 0,
                  "fwht (%d threads) rows %lld L 2^%d: %zu elements differ from stage-by-stage",
                  threads, (long long)rows, lg, bad);
            failed += bad != 0;
        }
    }
    printf("  %s fwht bit-identical to stage-by-stage on %d thread(s): %zu of %zu shapes\n",
           failed ? "FAIL" : "ok", threads, cases - failed, cases);
}

static void test_errors(void) {
    float v[12] = {0};
    CHECK(CPU->fwht(v, 1, 12) == -1 && strstr(error_message(), "12") &&
              strstr(error_message(), "power of two"),
          "L=12 refused naming it: %s", error_message());
    CHECK(CPU->fwht(v, 0, 8) == 0, "no rows: nothing to do");
}

static void test_unique_scatter(int64_t n, int64_t d) {
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        perm[i] = (int32_t)i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(splitmix64(&rng) % (uint64_t)(i + 1));
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    size_t m = (size_t)(n * d);
    float *dout = random_floats(m), *a = random_floats(m), *b = malloc(sizeof(float) * m),
          *c = malloc(sizeof(float) * m);
    memcpy(b, a, sizeof(float) * m);
    memcpy(c, a, sizeof(float) * m);
    CHECK(CPU->embedding_backward_unique(a, dout, perm, n, d) == 0, "%s", error_message());
    CHECK(CPU->embedding_backward(b, dout, perm, n, d) == 0, "%s", error_message());
    CHECK(!memcmp(a, b, sizeof(float) * m),
          "embedding_backward_unique n=%lld d=%lld differs from embedding_backward", (long long)n,
          (long long)d);
    int changed = 0;
    for (size_t i = 0; i < m; i++)
        changed += memcmp(&a[i], &c[i], sizeof(float)) != 0;
    CHECK(changed > (int)(m / 2), "the scatter changed only %d of %zu elements", changed, m);
    /* a backend without the op: the wrapper takes embedding_backward */
    struct backend plain = *CPU;
    plain.embedding_backward_unique = NULL;
    CHECK(backend_embedding_backward_unique(&plain, c, dout, perm, n, d) == 0, "%s",
          error_message());
    CHECK(!memcmp(c, b, sizeof(float) * m), "fallback n=%lld d=%lld differs", (long long)n,
          (long long)d);
    int32_t neg = -1;
    CHECK(CPU->embedding_backward_unique(c, dout, &neg, 1, d) == -1 &&
              strstr(error_message(), "negative"),
          "a negative id is refused: %s", error_message());
    printf("  ok embedding_backward_unique n=%lld d=%lld\n", (long long)n, (long long)d);
    free(perm);
    free(dout);
    free(a);
    free(b);
    free(c);
}

int main(void) {
    int all = omp_get_max_threads();
    test_reference_is_hadamard();
    test_bitwise(1);
    if (all > 1) test_bitwise(all);
    omp_set_num_threads(all);
    test_errors();
    test_unique_scatter(100000, 1);
    test_unique_scatter(3000, 7);
    CHECK_DONE();
}
