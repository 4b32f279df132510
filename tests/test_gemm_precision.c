/* test_gemm_precision.c: the CPU backend's precision modes (kernels/cpu/cpu_gemm.c).
 *  - cpu_round_mantissa against values worked out by hand: bf16 keeps 7 stored mantissa
 *    bits (ulp 2^-7 at 1), tf32 10 (ulp 2^-10); to nearest, ties to even, a carry into the
 *    exponent, negative values, inf and NaN kept;
 *  - over 10^6 random values of every magnitude, cpu_round_mantissa equals this test's own
 *    rounding (scaling by a power of two, rint in the default to-nearest-even mode, and
 *    back: no bit manipulation);
 *  - gemm in "bf16" / "tf32" equals, bit for bit, sgemm in "fp32" of operands rounded by
 *    this test's own rounding element by element (every transpose pair, padded leading dimensions, a strided batch,
 *    a shared B of stride 0), and differs from the fp32 result (the mode is in effect);
 *  - add_bias (x + b per row) equals, bit for bit in each mode, what op_add_bias ran before it:
 *    a copy and gemm's rank-1 update with a column of ones (b rounded as a gemm operand),
 *    also in place, and x + b rounded by this test's own rounding; in bf16 / tf32 it differs
 *    from fp32's x + b;
 *  - an unknown mode is refused with a message naming it, and "fp32" restores sgemm;
 *  - one forward + backward of the v1.0 fixture T5 (full fine-tuning, dropout off) in bf16:
 *    the loss within 1e-2 relative of fp32's and not equal to it, every gradient finite. */
#include "tests/check.h"

#include <stdint.h>

#include "core/autograd.h"
#include "core/backend.h"
#include "core/error.h"
#include "core/exec.h"
#include "core/safetensors.h"
#include "core/t5_forward.h"
#include "core/t5_model.h"
#include "core/trainable.h"
#include "kernels/cpu/cpu_kernels.h"

static const struct backend *CPU = &backend_cpu;

/* x with its significand rounded to 24 - drop bits, to nearest even, by arithmetic (x
 * finite and normal, as every operand here) */
static float ref_round(float x, int drop) {
    if (x == 0.0f) return x;
    int e;
    frexpf(x, &e); /* |x| in [2^(e-1), 2^e) */
    int bits = 24 - drop;
    double scaled = ldexp((double)x, bits - e); /* the kept bits left of the point */
    return (float)ldexp(rint(scaled), e - bits);
}

static void check_rounding(void) {
    struct {
        float x;
        int drop;
        float want;
        const char *why;
    } cs[] = {
        {1.0f, 16, 1.0f, "bf16 1 stays"},
        {1.00390625f, 16, 1.0f, "bf16 1 + 2^-8: a tie, to the even 1"},
        {1.01171875f, 16, 1.015625f, "bf16 1 + 3 2^-8: a tie, to the even 1 + 2^-6"},
        {1.0039062f + 1e-6f, 16, 1.0078125f, "bf16 just above the tie: up"},
        {1.0038f, 16, 1.0f, "bf16 just below the tie: down"},
        {-1.01171875f, 16, -1.015625f, "bf16 negative tie"},
        {1.99609375f, 16, 2.0f, "bf16 2 - 2^-8: a tie, carried into the exponent"},
        {1.00048828125f, 13, 1.0f, "tf32 1 + 2^-11: a tie, to the even 1"},
        {1.00146484375f, 13, 1.001953125f, "tf32 1 + 3 2^-11: a tie, to 1 + 2^-9"},
        {3.0f, 13, 3.0f, "tf32 3 stays"},
    };
    int ok = 0, n = (int)(sizeof cs / sizeof cs[0]);
    for (int i = 0; i < n; i++) {
        float got = cpu_round_mantissa(cs[i].x, cs[i].drop);
        CHECK(got == cs[i].want, "%s: %.9g -> %.9g, want %.9g", cs[i].why, cs[i].x, got, cs[i].want);
        ok += got == cs[i].want;
    }
    CHECK(isinf(cpu_round_mantissa(INFINITY, 16)) && isnan(cpu_round_mantissa(NAN, 16)), "inf and NaN kept");
    printf("  ok rounding: %d/%d hand-worked values, inf and NaN kept\n", ok, n);
    for (int i = 0; i < n; i++) CHECK(ref_round(cs[i].x, cs[i].drop) == cs[i].want, "the test's own rounding: %s", cs[i].why);
    /* random values of every magnitude (exponents -60..60), against the arithmetic rounding */
    uint64_t r = 777;
    long bad = 0, total = 0;
    for (int i = 0; i < 1000000; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        float x = ldexpf((float)((double)(r >> 40) / 16777216.0) + 1.0f, (int)((r >> 8) % 121) - 60);
        if (r & 1) x = -x;
        for (int d = 13; d <= 16; d += 3, total++) bad += cpu_round_mantissa(x, d) != ref_round(x, d);
    }
    CHECK(bad == 0, "cpu_round_mantissa differs from the arithmetic rounding in %ld of %ld cases", bad, total);
    printf("  ok rounding: %ld random cases equal to the arithmetic rounding\n", total);
}

static uint64_t st = 12345;
static float rnd(void) {
    st = st * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(st >> 11) / 9007199254740992.0 * 2 - 1);
}

/* gemm in mode against fp32 sgemm of operands rounded here, bit for bit */
static void check_gemm(const char *mode, int drop, int ta, int tb, int m, int n, int k, int batch, int pad,
                       int shared_b) {
    int ra = ta ? k : m, ca = ta ? m : k, rb = tb ? n : k, cb = tb ? k : n;
    int lda = ca + pad, ldb = cb + pad, ldc = n + pad;
    int64_t sa = (int64_t)ra * lda + pad, sb = shared_b ? 0 : (int64_t)rb * ldb + pad, sc = (int64_t)m * ldc + pad;
    size_t na = (size_t)((batch - 1) * sa + (int64_t)ra * lda), nb = (size_t)((batch - 1) * sb + (int64_t)rb * ldb),
           nc = (size_t)((batch - 1) * sc + (int64_t)m * ldc);
    float *a = malloc(na * 4), *b = malloc(nb * 4), *ar = malloc(na * 4), *br = malloc(nb * 4);
    float *c0 = malloc(nc * 4), *c1 = malloc(nc * 4), *c2 = malloc(nc * 4);
    for (size_t i = 0; i < na; i++) a[i] = rnd(), ar[i] = ref_round(a[i], drop);
    for (size_t i = 0; i < nb; i++) b[i] = rnd(), br[i] = ref_round(b[i], drop);
    for (size_t i = 0; i < nc; i++) c0[i] = c1[i] = c2[i] = rnd();
    CHECK(CPU->set_precision(mode) == 0, "%s: %s", mode, error_message());
    CHECK(CPU->gemm(ta, tb, m, n, k, 0.75f, a, lda, sa, b, ldb, sb, 0.5f, c0, ldc, sc, batch) == 0, "gemm %s", mode);
    CHECK(CPU->set_precision("fp32") == 0, "fp32");
    CHECK(CPU->gemm(ta, tb, m, n, k, 0.75f, ar, lda, sa, br, ldb, sb, 0.5f, c1, ldc, sc, batch) == 0, "gemm rounded");
    CHECK(CPU->gemm(ta, tb, m, n, k, 0.75f, a, lda, sa, b, ldb, sb, 0.5f, c2, ldc, sc, batch) == 0, "gemm fp32");
    CHECK(memcmp(c0, c1, nc * 4) == 0, "%s ta=%d tb=%d %dx%dx%d batch %d pad %d%s: not sgemm of rounded operands",
          mode, ta, tb, m, n, k, batch, pad, shared_b ? " shared B" : "");
    CHECK(memcmp(c0, c2, nc * 4) != 0, "%s ta=%d tb=%d: the same as fp32 (no rounding happened)", mode, ta, tb);
    free(a), free(b), free(ar), free(br), free(c0), free(c1), free(c2);
}

static void check_modes(void) {
    int cases = 0;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            check_gemm("bf16", 16, ta, tb, 17, 23, 31, 3, 3, 0);
            check_gemm("bf16", 16, ta, tb, 9, 5, 13, 4, 1, 1);
            check_gemm("tf32", 13, ta, tb, 17, 23, 31, 3, 3, 0);
            cases += 3;
        }
    error_clear();
    CHECK(CPU->set_precision("fp16") == -1 && strstr(error_message(), "'fp16'"), "fp16 refused: %s", error_message());
    CHECK(CPU->set_precision("fp32") == 0, "fp32 back");
    printf("  ok gemm: %d cases in bf16 / tf32 bitwise sgemm of rounded operands and unlike fp32\n", cases);
}

static void check_add_bias(const char *mode, int drop, int64_t rows, int64_t cols) {
    size_t n = (size_t)(rows * cols);
    float *x = malloc(n * 4), *b = malloc((size_t)cols * 4), *ones = malloc((size_t)rows * 4);
    float *want = malloc(n * 4), *got = malloc(n * 4), *inplace = malloc(n * 4), *plain = malloc(n * 4);
    for (size_t i = 0; i < n; i++) x[i] = rnd(), got[i] = NAN;
    for (int64_t c = 0; c < cols; c++) b[c] = rnd();
    for (int64_t r = 0; r < rows; r++) ones[r] = 1.0f;
    memcpy(want, x, n * 4);
    memcpy(inplace, x, n * 4);
    CHECK(CPU->set_precision(mode) == 0, "%s: %s", mode, error_message());
    CHECK(CPU->gemm(0, 0, (int)rows, (int)cols, 1, 1.0f, ones, 1, 0, b, (int)cols, 0, 1.0f, want, (int)cols, 0, 1) == 0,
          "rank-1 gemm %s", mode);
    CHECK(CPU->add_bias(got, x, b, rows, cols) == 0 && CPU->add_bias(inplace, inplace, b, rows, cols) == 0,
          "add_bias %s: %s", mode, error_message());
    CHECK(CPU->set_precision("fp32") == 0, "fp32");
    CHECK(CPU->add_bias(plain, x, b, rows, cols) == 0, "add_bias fp32");
    CHECK(memcmp(got, want, n * 4) == 0 && memcmp(inplace, want, n * 4) == 0,
          "add_bias %s %lldx%lld: not the copy + rank-1 gemm's bits", mode, (long long)rows, (long long)cols);
    CHECK(!strcmp(mode, "fp32") || memcmp(got, plain, n * 4) != 0, "add_bias %s: the same as fp32 (b not rounded)",
          mode);
    /* and x + b rounded by this test's own arithmetic rounding, one f32 add */
    size_t off = 0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            float w = x[r * cols + c] + (drop ? ref_round(b[c], drop) : b[c]);
            off += memcmp(&w, &got[r * cols + c], 4) != 0;
        }
    CHECK(off == 0, "add_bias %s: %zu elements differ from x + the arithmetically rounded b", mode, off);
    free(x), free(b), free(ones), free(want), free(got), free(inplace), free(plain);
}

static void check_add_bias_modes(void) {
    const char *modes[] = {"fp32", "tf32", "bf16"};
    const int drops[] = {0, 13, 16};
    for (int i = 0; i < 3; i++) {
        check_add_bias(modes[i], drops[i], 37, 53);
        check_add_bias(modes[i], drops[i], 1000, 24);
        check_add_bias(modes[i], drops[i], 3, 3000);
    }
    printf("  ok add_bias: copy + rank-1 gemm bit for bit in fp32, tf32, bf16 (3 shapes, also in place)\n");
}

/* loss and gradients of one forward + backward of the v1.0 fixture (every parameter trained) */
static int step(const char *mode, float *loss, float **grads, int64_t *numel) {
    struct t5_model m;
    struct trainable tr;
    struct exec x;
    if (t5_model_load(&m, "tests/fixtures/t5/v10", CPU)) return -1;
    struct tensor **ts = malloc(sizeof *ts * (size_t)m.n_params);
    for (int i = 0; i < m.n_params; i++) ts[i] = &m.params[i];
    int rc = trainable_init(&tr, CPU, ts, m.n_params, NULL) || exec_init(&x, CPU);
    struct st_file rf;
    rc = rc || st_open(&rf, "tests/fixtures/t5/v10-reference.safetensors");
    if (!rc) {
        const struct st_tensor *et = st_find(&rf, "enc_ids"), *lt = st_find(&rf, "labels");
        int B = (int)et->shape[0], S = (int)et->shape[1], T = (int)lt->shape[1];
        const int32_t *labels = (const int32_t *)(rf.map + rf.data_start + lt->begin);
        int32_t *dec = malloc(sizeof(int32_t) * (size_t)(B * T));
        t5_shift_right(&m.cfg, labels, B, T, dec);
        struct t5_batch b = {B, S, T, (const int32_t *)(rf.map + rf.data_start + et->begin),
                             (const int32_t *)(rf.map + rf.data_start + st_find(&rf, "enc_mask")->begin), dec, labels};
        x.record = 1;
        struct t5_outputs o;
        rc = CPU->set_precision(mode) || t5_forward(&x, &m, &b, &o) || backward(&x, o.loss) ||
             exec_download(&x, o.loss, loss) || CPU->set_precision("fp32");
        *numel = tr.numel;
        *grads = malloc((size_t)tr.numel * 4);
        if (!rc) memcpy(*grads, tr.grad, (size_t)tr.numel * 4);
        free(dec);
        st_close(&rf);
    }
    exec_free(&x);
    trainable_free(&tr);
    free(ts);
    t5_model_free(&m);
    return rc ? -1 : 0;
}

static void check_training(void) {
    float l32 = NAN, l16 = NAN, *g32 = NULL, *g16 = NULL;
    int64_t n32 = 0, n16 = 0;
    if (step("fp32", &l32, &g32, &n32) || step("bf16", &l16, &g16, &n16)) {
        CHECK(0, "training step: %s", error_message());
    } else {
        double rel = fabs((double)l16 - l32) / fabs((double)l32);
        CHECK(rel <= 1e-2 && l16 != l32, "bf16 loss %.9g vs fp32 %.9g (relative %.3g)", l16, l32, rel);
        int64_t bad = 0;
        for (int64_t i = 0; i < n16; i++) bad += !isfinite(g16[i]);
        CHECK(n16 == n32 && bad == 0, "bf16 gradients: %lld of %lld not finite", (long long)bad, (long long)n16);
        printf("  ok v1.0 fixture step in bf16: loss %.7g vs fp32 %.7g (relative %.2g), %lld gradients finite\n", l16,
               l32, rel, (long long)n16);
    }
    free(g32), free(g16);
}

int main(void) {
    check_rounding();
    check_modes();
    check_add_bias_modes();
    check_training();
    CHECK_DONE();
}
