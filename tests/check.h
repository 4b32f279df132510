/* check.h: the tiny test harness every tests/test_*.c includes.
 * A test binary exits 0 when all checks pass, 1 when any fails, 77 when skipped
 * (tests/run_tests.sh prints SKIP with the reason). Expected values come from reference
 * files (tests/fixtures, written by tools/ with PyTorch / HF / scipy), never from the
 * code under test. */
#ifndef COMPACTER_CHECK_H
#define COMPACTER_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int check_failures = 0;
static int check_count = 0;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        check_count++;                                                                             \
        if (!(cond)) {                                                                             \
            check_failures++;                                                                      \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
        }                                                                                          \
    } while (0)

/* |a-b| <= atol + rtol*|b| elementwise; reports the worst element. Returns 1 if ok. */
static inline int check_close_f32(const char *what, const float *a, const float *b, size_t n,
                                  double atol, double rtol) {
    size_t worst = 0, bad = 0;
    double worst_excess = -1e300, max_abs = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double lim = atol + rtol * fabs((double)b[i]);
        if (d > max_abs) max_abs = d;
        if (!(d <= lim)) bad++;
        if (d - lim > worst_excess || isnan(d)) {
            worst_excess = d - lim;
            worst = i;
        }
    }
    check_count++;
    if (bad) {
        check_failures++;
        fprintf(stderr, "FAIL %s: %zu/%zu elements out of tolerance (atol %g rtol %g); worst [%zu] %.9g vs %.9g\n",
                what, bad, n, atol, rtol, worst, a[worst], b[worst]);
        return 0;
    }
    printf("  ok %-40s n=%zu max|a-b|=%.3g\n", what, n, max_abs);
    return 1;
}

/* Exit with the conventional "skipped" status and a reason. */
#define SKIP(...)                                                                                  \
    do {                                                                                           \
        printf("SKIP: ");                                                                          \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
        exit(77);                                                                                  \
    } while (0)

/* The gradient criterion of the parity tests (fp32 against a PyTorch reference):
 * |a-b| <= 1e-6 + 1e-4|b| + 1e-5 max|b|. The last term, 1e-5 of the tensor's largest
 * magnitude, is for fp32 cancellation in near-zero elements, whose error scales with the
 * summands rather than the result. Returns the count of elements beyond it (NaN counts);
 * *strict (may be NULL) += the elements beyond the bare 1e-6 + 1e-4|b|; *worst = max of
 * itself and |a-b|. */
static inline int64_t grad_elements_off(const float *a, const float *b, int64_t n, int64_t *strict,
                                        double *worst) {
    double maxb = 0;
    for (int64_t j = 0; j < n; j++)
        if (fabs((double)b[j]) > maxb) maxb = fabs((double)b[j]);
    int64_t bad = 0;
    for (int64_t j = 0; j < n; j++) {
        double d = fabs((double)a[j] - (double)b[j]), lim = 1e-6 + 1e-4 * fabs((double)b[j]);
        if (strict && !(d <= lim)) (*strict)++;
        if (!(d <= lim + 1e-5 * maxb)) bad++;
        if (!(d <= *worst)) *worst = isnan(d) ? INFINITY : d;
    }
    return bad;
}

/* 1 when both files exist and hold the same bytes. */
static inline int files_identical(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) same = 0;
        if (ca == EOF || cb == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

/* The whole file at path, NUL-terminated, malloc'd (*n, may be NULL: its length); NULL if
 * it cannot be read. */
static inline char *file_text(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *b = NULL;
    long len = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (len >= 0 && fseek(f, 0, SEEK_SET) == 0 && (b = malloc((size_t)len + 1))) {
        size_t got = fread(b, 1, (size_t)len, f);
        b[got] = 0;
        if (n) *n = got;
    }
    fclose(f);
    return b;
}

/* Path of a file under ../shared/data (or $COMPACTER_SHARED_DATA); NULL if it is absent,
 * so the caller can SKIP visibly. Returns a static buffer. */
static inline const char *shared_data(const char *rel) {
    static char buf[4096];
    const char *root = getenv("COMPACTER_SHARED_DATA");
    if (!root || !*root) root = "../shared/data";
    snprintf(buf, sizeof buf, "%s/%s", root, rel);
    struct stat st;
    return stat(buf, &st) == 0 ? buf : NULL;
}

/* ||a - b|| / ||b|| in double (||a - b|| when b is all zeros; NaN propagates) */
static inline double rel_l2_err(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* The `compacter` program of this build ($BUILD/compacter, BUILD set by tests/run_tests.sh). */
static inline const char *compacter_bin(void) {
    static char buf[512];
    const char *b = getenv("BUILD");
    snprintf(buf, sizeof buf, "%s/compacter", b && *b ? b : "build");
    return buf;
}

/* Run a shell command, capturing stdout (and whatever the command redirects) into out.
 * Returns the exit status as pclose gives it (0 = success). */
static inline int run_capture(const char *cmd, char *out, size_t cap) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    return pclose(p);
}

#define CHECK_DONE()                                                                               \
    do {                                                                                           \
        printf("%d checks, %d failed\n", check_count, check_failures);                             \
        return check_failures ? 1 : 0;                                                             \
    } while (0)

#endif
