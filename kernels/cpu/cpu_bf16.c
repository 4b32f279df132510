/* cpu_bf16.c: the CPU backend's bf16-storage ops (core/backend.h, --precision bf16): a bf16
 * tensor is a uint16_t array of core/bf16.h values, widened exactly on load and narrowed
 * (to nearest, ties to even) on store, the arithmetic in between the f32 kernels' own, so
 * each op is bit for bit its f32 twin composed with the conversions:
 *  - rmsnorm_to_bf16, gelu_mul_bf16: the per-row / per-element functions the f32 kernels
 *    use (cpu_kernels.h), the result narrowed;
 *  - relu_dropout_bf16, dropout_add_bf16: the f32 dropout pass itself on 32-element f32
 *    copies of each group (cpu_dropout.c), so the Philox mask and both code paths (AVX2,
 *    portable) are the f32 ops';
 *  - gelu_mul_bf16_backward: cpu_gelu_mul_backward's per-element function on widened a, g;
 *  - gemm_bf16: the operands' spans widened into kept f32 buffers (as cpu_gemm's rounded
 *    copies), then cpu_gemm's BLAS calls in plain f32 whatever the precision mode (bf16
 *    values are exact in f32; sgemm's products and sums are f32), a bf16 C through an f32
 *    scratch narrowed.
 * Like cpu_gemm, the kept buffers assume the backend is used from one thread. */
#include <stdint.h>

#include "core/bf16.h"
#include "core/error.h"
#include "kernels/cpu/cpu_kernels.h"

int cpu_convert(void *dst, const void *src, size_t n, int to_bf16) {
    if (to_bf16) {
        uint16_t *d = dst;
        const float *s = src;
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) d[i] = bf16_from_f32(s[i]);
    } else {
        float *d = dst;
        const uint16_t *s = src;
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) d[i] = bf16_widen(s[i]);
    }
    return 0;
}

static struct cpu_buf g_wide[3]; /* A's and B's widened spans; C's f32 result when C is bf16 */

/* A widened copy, in *b, of a bf16 operand's span (as cpu_gemm's rounded_span); NULL + error
 * when out of memory. */
static const float *widened_span(struct cpu_buf *b, const uint16_t *x, int rows, int cols, int ld, int64_t stride,
                                 int batch) {
    size_t span = cpu_gemm_span(rows, cols, ld, stride, batch);
    float *w = cpu_buf_reserve(b, span, sizeof *w, "gemm_bf16 (cpu, widened operands)");
    if (!w) return NULL;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < span; i++) w[i] = bf16_widen(x[i]);
    return w;
}

int cpu_gemm_bf16(int trans_a, int trans_b, int m, int n, int k, float alpha, const uint16_t *a, int lda,
                  int64_t stride_a, const uint16_t *b, int ldb, int64_t stride_b, float beta, void *c, int c_bf16,
                  int ldc, int64_t stride_c, int batch) {
    if (m < 0 || n < 0 || k < 0 || batch < 0)
        return error_set("gemm_bf16: negative size m=%d n=%d k=%d batch=%d", m, n, k, batch);
    if (c_bf16 && beta != 0.0f)
        return error_set("gemm_bf16: beta = %g with a bf16 C (a bf16 C is written, never accumulated: beta must be 0)",
                         (double)beta);
    if (m == 0 || n == 0 || batch == 0) return 0;
    static const float unread = 0; /* k = 0: BLAS reads no operand */
    const float *wa = &unread, *wb = &unread;
    if (k > 0) {
        wa = widened_span(&g_wide[0], a, trans_a ? k : m, trans_a ? m : k, lda, stride_a, batch);
        wb = wa ? widened_span(&g_wide[1], b, trans_b ? n : k, trans_b ? k : n, ldb, stride_b, batch) : NULL;
        if (!wb) return -1;
    } else
        stride_a = stride_b = 0;
    if (!c_bf16) {
        cpu_sgemm_batch(trans_a, trans_b, m, n, k, alpha, wa, lda, stride_a, wb, ldb, stride_b, beta, c, ldc,
                        stride_c, batch);
        return 0;
    }
    /* C (bf16) = bf16_from_f32 of the f32 product: computed into a packed [batch, m, n] scratch */
    int64_t mn = (int64_t)m * n;
    float *cw = cpu_buf_reserve(&g_wide[2], (size_t)(mn * batch), sizeof *cw, "gemm_bf16 (cpu, f32 result)");
    if (!cw) return -1;
    cpu_sgemm_batch(trans_a, trans_b, m, n, k, alpha, wa, lda, stride_a, wb, ldb, stride_b, 0.0f, cw, n, mn, batch);
    uint16_t *cb = c;
    int b0 = stride_c == 0 ? batch - 1 : 0; /* one shared C: the last product is what stays */
#pragma omp parallel for collapse(2) schedule(static)
    for (int bi = b0; bi < batch; bi++)
        for (int i = 0; i < m; i++) {
            const float *src = cw + bi * mn + (int64_t)i * n;
            uint16_t *dst = cb + bi * stride_c + (int64_t)i * ldc;
            for (int j = 0; j < n; j++) dst[j] = bf16_from_f32(src[j]);
        }
    return 0;
}

int cpu_rmsnorm_to_bf16(uint16_t *out, const float *x, const float *w, int64_t rows, int64_t d, float eps) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * d;
        uint16_t *yr = out + r * d;
        float inv = cpu_rmsnorm_inv(xr, d, eps);
        for (int64_t j = 0; j < d; j++) yr[j] = bf16_from_f32(cpu_rmsnorm_1(w[j], xr[j], inv));
    }
    return 0;
}

int cpu_relu_dropout_bf16(uint16_t *y, uint32_t *mask, const uint16_t *x, size_t n, float p, uint64_t seed,
                          uint64_t offset) {
    cpu_dropout_forward_bf16(NULL, y, NULL, x, n, p, seed, offset, 1, mask, NULL);
    return 0;
}

int cpu_dropout_add_bf16(float *y, const float *h, const uint16_t *x, size_t n, float p, uint64_t seed,
                         uint64_t offset) {
    cpu_dropout_forward_bf16(y, NULL, NULL, x, n, p, seed, offset, 0, NULL, h);
    return 0;
}

int cpu_gelu_mul_bf16(uint16_t *y, const uint16_t *a, const uint16_t *g, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) y[i] = bf16_from_f32(cpu_gelu_new_1(bf16_widen(a[i])) * bf16_widen(g[i]));
    return 0;
}

int cpu_gelu_mul_bf16_backward(float *da, float *dg, const float *dy, const uint16_t *a, const uint16_t *g,
                               size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        cpu_gelu_mul_backward_1(da ? da + i : NULL, dg ? dg + i : NULL, dy[i], bf16_widen(a[i]),
                                da ? bf16_widen(g[i]) : 0.0f);
    return 0;
}
