/* cpu_kernels.h: the CPU backend's kernels (fp32 reference; OpenMP across rows). */
#ifndef COMPACTER_CPU_KERNELS_H
#define COMPACTER_CPU_KERNELS_H

#include <stddef.h>
#include <stdint.h>

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

#endif
