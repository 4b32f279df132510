/* cpu_kernels.h: the CPU backend's kernels (fp32 reference; OpenMP across rows). */
#ifndef COMPACTER_CPU_KERNELS_H
#define COMPACTER_CPU_KERNELS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* "fp32", or "tf32" / "bf16": GEMM operands rounded to that format first (cpu_gemm.c) */
int cpu_set_precision(const char *mode);
/* x rounded to nearest (ties to even) with its drop_bits low mantissa bits cleared
 * (core/bf16.h's f32_round_mantissa, which the CUDA add_bias shares) */
float cpu_round_mantissa(float x, int drop_bits);
int cpu_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
             int64_t stride_a, const float *b, int ldb, int64_t stride_b, float beta, float *c,
             int ldc, int64_t stride_c, int batch);
/* x + b per row, b rounded as cpu_gemm rounds operands (the rank-1 update's bits) */
int cpu_add_bias(float *y, const float *x, const float *b, int64_t rows, int64_t cols);
/* The elements a gemm operand spans: batch matrices of rows x cols (all > 0) at leading
 * dimension ld, stride apart (0: one shared matrix) */
size_t cpu_gemm_span(int rows, int cols, int ld, int64_t stride, int batch);
/* A host buffer that grows and is kept between calls (the backend is used from one thread):
 * cpu_buf_reserve returns b->p with room for n elements of size bytes, or NULL + error
 * ("<what>: out of memory ...") */
struct cpu_buf {
    void *p;
    size_t cap; /* bytes */
};
void *cpu_buf_reserve(struct cpu_buf *b, size_t n, size_t size, const char *what);
/* cpu_gemm's BLAS calls, plain f32 whatever the precision mode: cblas_sgemm per batch */
void cpu_sgemm_batch(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                     int64_t stride_a, const float *b, int ldb, int64_t stride_b, float beta, float *c, int ldc,
                     int64_t stride_c, int batch);
int cpu_embedding(float *out, const float *table, const int32_t *ids, int64_t n, int64_t d);
int cpu_rmsnorm(float *out, const float *x, const float *w, int64_t rows, int64_t d, float eps);
int cpu_attn_softmax(float *s, const float *bias, const float *mask, int causal, int64_t B,
                     int64_t H, int64_t Q, int64_t K);
int cpu_position_bias(float *out, const float *table, const int32_t *buckets, int64_t H,
                      int64_t QK);
int cpu_relu(float *y, const float *x, size_t n);
int cpu_gelu_new(float *y, const float *x, size_t n);
int cpu_mul(float *y, const float *a, const float *b, size_t n);
int cpu_add(float *y, const float *a, const float *b, size_t n);
int cpu_scale(float *y, const float *x, float s, size_t n);
int cpu_cross_entropy(float *mean_loss, float *loss, const float *logits, const int32_t *targets, int64_t rows,
                      int64_t vocab);
int cpu_argmax(int32_t *out, const float *x, int64_t rows, int64_t cols);

int cpu_copy2d(float *dst, int64_t ld_dst, const float *src, int64_t ld_src, int64_t rows, int64_t cols,
               int accumulate);
int cpu_permute_0213(float *out, const float *in, int64_t d0, int64_t d1, int64_t d2, int64_t d3, int accumulate);
int cpu_fwht(float *x, int64_t rows, int64_t L);
int cpu_dropout(float *y, const float *x, size_t n, float p, uint64_t seed, uint64_t offset);
int cpu_embedding_backward(float *dtable, const float *dout, const int32_t *ids, int64_t n, int64_t d);
int cpu_embedding_backward_unique(float *dtable, const float *dout, const int32_t *ids, int64_t n,
                                  int64_t d);
int cpu_rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x, const float *w, int64_t rows,
                         int64_t d, float eps, int accumulate);
int cpu_attn_softmax_backward(float *ds, float *dbias, const float *dp, const float *p, int64_t B, int64_t H,
                              int64_t Q, int64_t K, int accumulate);
int cpu_position_bias_backward(float *dtable, const float *dbias, const int32_t *buckets, int64_t H, int64_t QK);
int cpu_relu_backward(float *dx, const float *dy, const float *y, size_t n);
int cpu_gelu_new_backward(float *dx, const float *dy, const float *x, size_t n, int accumulate);
int cpu_mul_acc(float *y, const float *a, const float *b, size_t n);
int cpu_axpy(float *y, const float *x, float alpha, size_t n, int accumulate);
int cpu_cross_entropy_backward(float *dlogits, const float *logits, const int32_t *targets, const float *dmean,
                               int64_t rows, int64_t vocab);
int cpu_dropout_backward(float *dx, const float *dy, size_t n, float p, uint64_t seed, uint64_t offset,
                         int accumulate);
int cpu_relu_dropout(float *y, uint32_t *mask, const float *x, size_t n, float p, uint64_t seed,
                     uint64_t offset);
int cpu_relu_dropout_backward(float *dx, const float *dy, const uint32_t *mask, size_t n, float p, int accumulate);
int cpu_dropout_add(float *y, const float *h, const float *x, size_t n, float p, uint64_t seed, uint64_t offset);
int cpu_gelu_mul(float *y, const float *a, const float *g, size_t n);
int cpu_gelu_mul_backward(float *da, float *dg, const float *dy, const float *a, const float *g, size_t n);
int cpu_attn_softmax_dropout(float *scores, const float *bias, const float *mask, int causal, int64_t B,
                             int64_t H, int64_t Q, int64_t K, float p, uint64_t seed, uint64_t offset);
struct adamw_step;
int cpu_sumsq(float *out, const float *x, size_t n);
int cpu_adamw(float *p, const float *g, float *m, float *v, size_t n, const struct adamw_step *a);
int cpu_sumsq_multi(float *out, const float *const *x, const size_t *n, int count);
int cpu_adamw_multi(float *const *p, const float *const *g, float *const *m, float *const *v,
                    const size_t *n, const char *decay, int count, const struct adamw_step *step);

/* bf16 storage (cpu_bf16.c; core/backend.h): the f32 kernels composed with core/bf16.h's
 * conversions, bit for bit */
int cpu_convert(void *dst, const void *src, size_t n, int to_bf16);
int cpu_gemm_bf16(int trans_a, int trans_b, int m, int n, int k, float alpha, const uint16_t *a, int lda,
                  int64_t stride_a, const uint16_t *b, int ldb, int64_t stride_b, float beta, void *c, int c_bf16,
                  int ldc, int64_t stride_c, int batch);
int cpu_rmsnorm_to_bf16(uint16_t *out, const float *x, const float *w, int64_t rows, int64_t d, float eps);
int cpu_relu_dropout_bf16(uint16_t *y, uint32_t *mask, const uint16_t *x, size_t n, float p, uint64_t seed,
                          uint64_t offset);
int cpu_gelu_mul_bf16(uint16_t *y, const uint16_t *a, const uint16_t *g, size_t n);
int cpu_gelu_mul_bf16_backward(float *da, float *dg, const float *dy, const uint16_t *a, const uint16_t *g,
                               size_t n);
int cpu_dropout_add_bf16(float *y, const float *h, const uint16_t *x, size_t n, float p, uint64_t seed,
                         uint64_t offset);
/* dropout's forward pass (relu 0: y = h + dropout(x), h may be NULL) or relu_dropout's (relu
 * 1; mask may be NULL) with x read from xb (bf16, widened) when xb is not NULL and y written
 * to yb (bf16, narrowed) when yb is not NULL (x, y unused then): the same arithmetic as the
 * f32 ops, on 32-element f32 copies (cpu_dropout.c) */
void cpu_dropout_forward_bf16(float *y, uint16_t *yb, const float *x, const uint16_t *xb, size_t n, float p,
                              uint64_t seed, uint64_t offset, int relu, uint32_t *mask, const float *h);

/* ---- per-element and per-row arithmetic of the f32 kernels, shared with their bf16 twins
 * (one expression, so bit for bit the same: the build contracts nothing, -std=c11) ---- */
/* gelu_new as transformers evaluates it: (0.5x) * (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3))),
 * x^3 = (x*x)*x, constants rounded to f32 (cpu_gelu_new, cpu_gelu_mul) */
static inline float cpu_gelu_new_1(float v) {
    const float c = 0.7978845608028654f, k = 0.044715f;
    float inner = c * (v + k * ((v * v) * v));
    return (0.5f * v) * (1.0f + tanhf(inner));
}
/* gelu_new's derivative at v, as cpu_gelu_new_backward evaluates it */
static inline float cpu_gelu_new_slope(float v) {
    const float c = 0.7978845608028654f, k = 0.044715f;
    float t = tanhf(c * (v + k * v * v * v));
    float dt = (1.0f - t * t) * c * (1.0f + 3.0f * k * v * v);
    return 0.5f * (1.0f + t) + 0.5f * v * dt;
}
/* one element of gelu_mul's backward (cpu_gelu_mul_backward): dg += dy gelu_new(v) (dg not
 * NULL), da += (0 + dy g) gelu_new'(v) (da not NULL) */
static inline void cpu_gelu_mul_backward_1(float *da, float *dg, float dy, float v, float g) {
    if (dg) *dg += dy * cpu_gelu_new_1(v); /* mul's backward for g */
    if (da) *da += (0.0f + dy * g) * cpu_gelu_new_slope(v); /* mul's into zero, then gelu_new's */
}
/* RMSNorm's 1 / sqrt(mean(x^2) + eps) of one row of d (the sum of squares in double) */
static inline float cpu_rmsnorm_inv(const float *xr, int64_t d, float eps) {
    double ss = 0;
    for (int64_t j = 0; j < d; j++) ss += (double)xr[j] * xr[j];
    float var = (float)(ss / (double)d);
    return 1.0f / sqrtf(var + eps);
}
/* one output element of RMSNorm: w * (x * inv) */
static inline float cpu_rmsnorm_1(float w, float x, float inv) { return w * (x * inv); }

#endif
