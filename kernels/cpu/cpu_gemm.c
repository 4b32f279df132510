/* cpu_gemm.c: the CPU backend's GEMM (OpenBLAS) and its precision modes. "fp32" is plain
 * sgemm. "bf16" and "tf32" emulate the CUDA backend's tensor-core modes for checking them
 * and their effect on training here: every operand element is rounded to bf16 (8 bits of
 * mantissa) or tf32 (11) to nearest, ties to even, then multiplied and accumulated in fp32
 * by sgemm, as cuBLAS's CUBLAS_COMPUTE_32F_FAST_16BF / TF32 tensor cores do (up to their
 * summation order and own conversion). Slow: each call copies its operands (into two
 * buffers that grow to the largest operands and are kept; the backend is used from one
 * thread); no speed-up. The bf16-storage GEMM (cpu_bf16.c) widens its operands into such
 * buffers too and shares the span and the BLAS calls here. */
#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/bf16.h"
#include "core/error.h"
#include "kernels/cpu/cpu_kernels.h"

static int g_drop_bits = 0; /* low mantissa bits rounded away: 0 fp32, 13 tf32, 16 bf16 */

int cpu_set_precision(const char *mode) {
    if (mode && !strcmp(mode, "fp32")) g_drop_bits = 0;
    else if (mode && !strcmp(mode, "tf32")) g_drop_bits = 13;
    else if (mode && !strcmp(mode, "bf16")) g_drop_bits = 16;
    else return error_set("precision '%s' is not available on the cpu backend (fp32, or tf32 / bf16 emulated)", mode ? mode : "?");
    return 0;
}

float cpu_round_mantissa(float x, int drop_bits) { return f32_round_mantissa(x, drop_bits); }

void *cpu_buf_reserve(struct cpu_buf *b, size_t n, size_t size, const char *what) {
    if (n * size > b->cap) {
        void *p = realloc(b->p, n * size);
        if (!p) {
            error_set("%s: out of memory for %zu elements", what, n);
            return NULL;
        }
        b->p = p;
        b->cap = n * size;
    }
    return b->p;
}

size_t cpu_gemm_span(int rows, int cols, int ld, int64_t stride, int batch) {
    return (size_t)((int64_t)(batch - 1) * stride + (int64_t)(rows - 1) * ld + cols);
}

static struct cpu_buf g_span[2]; /* A's and B's rounded copies */

/* A rounded copy, in *sb, of the operand's span: batch matrices of `rows` x `cols` at
 * leading dimension ld, stride apart (0: one shared matrix); NULL + error when out of
 * memory. */
static float *rounded_span(struct cpu_buf *sb, const float *x, int rows, int cols, int ld, int64_t stride,
                           int batch, int drop) {
    size_t span = cpu_gemm_span(rows, cols, ld, stride, batch);
    float *r = cpu_buf_reserve(sb, span, sizeof *r, "gemm (cpu, rounded operands)");
    if (!r) return NULL;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < span; i++) r[i] = cpu_round_mantissa(x[i], drop);
    return r;
}

void cpu_sgemm_batch(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                     int64_t stride_a, const float *b, int ldb, int64_t stride_b, float beta, float *c, int ldc,
                     int64_t stride_c, int batch) {
    enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
    for (int i = 0; i < batch; i++)
        cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b,
                    ldb, beta, c + i * stride_c, ldc);
}

int cpu_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
             int64_t stride_a, const float *b, int ldb, int64_t stride_b, float beta, float *c,
             int ldc, int64_t stride_c, int batch) {
    if (m < 0 || n < 0 || k < 0 || batch < 0)
        return error_set("gemm: negative size m=%d n=%d k=%d batch=%d", m, n, k, batch);
    if (m == 0 || n == 0 || batch == 0) return 0;
    if (g_drop_bits && k > 0) {
        const float *ra = rounded_span(&g_span[0], a, trans_a ? k : m, trans_a ? m : k, lda, stride_a, batch,
                                       g_drop_bits);
        const float *rb = ra ? rounded_span(&g_span[1], b, trans_b ? n : k, trans_b ? k : n, ldb, stride_b, batch,
                                            g_drop_bits)
                             : NULL;
        if (!rb) return -1;
        a = ra, b = rb;
    }
    cpu_sgemm_batch(trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc, stride_c,
                    batch);
    return 0;
}

/* gemm's rank-1 update x + ones b with b read as gemm reads operands (rounded into the same
 * kept buffer as gemm's B): one rounding of x + b' */
int cpu_add_bias(float *y, const float *x, const float *b, int64_t rows, int64_t cols) {
    if (rows <= 0 || cols <= 0) return rows < 0 || cols < 0 ? error_set("add_bias: negative size") : 0;
    if (g_drop_bits && !(b = rounded_span(&g_span[1], b, 1, (int)cols, (int)cols, 0, 1, g_drop_bits))) return -1;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
#pragma omp simd
        for (int64_t c = 0; c < cols; c++) yr[c] = xr[c] + b[c];
    }
    return 0;
}
