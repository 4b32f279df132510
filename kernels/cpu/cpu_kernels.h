/* cpu_kernels.h: the CPU backend's kernels (fp32 reference; OpenMP across rows). */
#ifndef COMPACTER_CPU_KERNELS_H
#define COMPACTER_CPU_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* "fp32", or "tf32" / "bf16": GEMM operands rounded to that format first (cpu_gemm.c) */
int cpu_set_precision(const char *mode);
/* x rounded to nearest (ties to even) with its drop_bits low mantissa bits cleared */
float cpu_round_mantissa(float x, int drop_bits);
int cpu_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
             int64_t stride_a, const float *b, int ldb, int64_t stride_b, float beta, float *c,
             int ldc, int64_t stride_c, int batch);
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
                         int64_t d, float eps);
int cpu_attn_softmax_backward(float *ds, float *dbias, const float *dp, const float *p, int64_t B, int64_t H,
                              int64_t Q, int64_t K, int accumulate);
int cpu_position_bias_backward(float *dtable, const float *dbias, const int32_t *buckets, int64_t H, int64_t QK);
int cpu_relu_backward(float *dx, const float *dy, const float *y, size_t n);
int cpu_gelu_new_backward(float *dx, const float *dy, const float *x, size_t n);
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

#endif
