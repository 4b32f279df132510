/* backend.h: the backend op table. The model and the methods are written once against
 * these functions; kernels/cpu implements them in C + OpenBLAS (the reference) and
 * kernels/cuda with CUDA + cuBLAS. All tensors are row-major, f32 unless noted; pointers
 * are the backend's memory (host for cpu, device for cuda). Every op returns 0 or -1
 * with error_message() set. Backward ops are added alongside their forward. */
#ifndef COMPACTER_BACKEND_H
#define COMPACTER_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct backend {
    const char *name;
    /* memory */
    void *(*alloc)(size_t bytes); /* NULL + error on failure */
    void (*free)(void *p);
    int (*upload)(void *dst, const void *src, size_t bytes);   /* host -> backend */
    int (*download)(void *dst, const void *src, size_t bytes); /* backend -> host */
    int (*fill)(float *x, float value, size_t n);
    int (*sync)(void);

    /* C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b] for b < batch, op = transpose when
     * trans != 0; C is M x N, op(A) M x K, op(B) K x N; leading dimensions and batch
     * strides in elements. */
    int (*gemm)(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                int lda, int64_t stride_a, const float *b, int ldb, int64_t stride_b, float beta,
                float *c, int ldc, int64_t stride_c, int batch);

    /* out[i, :] = table[ids[i], :], ids i32 in [0, vocab). */
    int (*embedding)(float *out, const float *table, const int32_t *ids, int64_t n, int64_t d);
    /* T5 RMSNorm: out = w * x / sqrt(mean(x^2) + eps), per row of d. */
    int (*rmsnorm)(float *out, const float *x, const float *w, int64_t rows, int64_t d, float eps);
    /* In-place softmax over the last axis of scores [B, H, Q, K] after adding
     * bias [H, Q, K] (may be NULL) and mask [B, K] (additive, may be NULL); with causal,
     * keys k > q are masked too. */
    int (*attn_softmax)(float *scores, const float *bias, const float *mask, int causal, int64_t B,
                        int64_t H, int64_t Q, int64_t K);
    /* out[h, q, k] = table[buckets[q, k] * H + h]: the relative position bias. */
    int (*position_bias)(float *out, const float *table, const int32_t *buckets, int64_t H,
                         int64_t QK);

    /* elementwise, n elements */
    int (*relu)(float *y, const float *x, size_t n);
    int (*gelu_new)(float *y, const float *x, size_t n);
    int (*mul)(float *y, const float *a, const float *b, size_t n);
    int (*add)(float *y, const float *a, const float *b, size_t n);
    int (*scale)(float *y, const float *x, float s, size_t n);

    /* row_loss[r] = logsumexp(logits[r]) - logits[r, target[r]] (0 where target == -100);
     * mean_loss[0] = mean of row_loss over the rows whose target is not -100. */
    int (*cross_entropy)(float *mean_loss, float *row_loss, const float *logits,
                         const int32_t *targets, int64_t rows, int64_t vocab);
    /* out[r] = argmax_v x[r, v] (first index on ties, as torch). */
    int (*argmax)(int32_t *out, const float *x, int64_t rows, int64_t cols);
};

extern const struct backend backend_cpu;
#ifdef HAVE_CUDA
extern const struct backend backend_cuda;
/* 1 if a CUDA device can be used; otherwise 0 and error_message() says why. */
int cuda_available(void);
#endif

/* "cpu" or "cuda" ("auto": cuda when built and a device is present, else cpu). */
const struct backend *backend_by_name(const char *name);

#ifdef __cplusplus
}
#endif
#endif
