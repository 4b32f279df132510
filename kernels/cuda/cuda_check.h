/* cuda_check.h: the CUDA backend's internals shared by its .cu files: the check macros
 * (every CUDA and cuBLAS call records file and line via error_set and makes the op return
 * -1), the launch geometry and the op functions each file defines. Not for callers
 * outside kernels/cuda (they use core/backend.h and kernels/cuda/cuda_backend.h). */
#ifndef COMPACTER_CUDA_CHECK_H
#define COMPACTER_CUDA_CHECK_H

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* `call` returns cudaError_t; on failure record it and return -1 from the caller. */
#define CUDA_CHECK(call)                                                                           \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess)                                                                     \
            return error_set("%s:%d: %s: %s (%s)", __FILE__, __LINE__, #call,                      \
                             cudaGetErrorString(e_), cudaGetErrorName(e_));                        \
    } while (0)

/* After a kernel launch: configuration errors show up here (execution errors at the next
 * synchronising call). */
#define CUDA_CHECK_LAUNCH(what)                                                                    \
    do {                                                                                           \
        cudaError_t e_ = cudaGetLastError();                                                       \
        if (e_ != cudaSuccess)                                                                     \
            return error_set("%s:%d: launching %s: %s (%s)", __FILE__, __LINE__, what,             \
                             cudaGetErrorString(e_), cudaGetErrorName(e_));                        \
    } while (0)

/* `call` returns cublasStatus_t. */
#define CUBLAS_CHECK(call)                                                                         \
    do {                                                                                           \
        cublasStatus_t s_ = (call);                                                                \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                           \
            return error_set("%s:%d: %s: %s", __FILE__, __LINE__, #call,                           \
                             cublasGetStatusString(s_));                                           \
    } while (0)

/* Threads per block for row kernels (a power of two: the reductions rely on it) and for
 * the grid-stride elementwise kernels. */
#define CUDA_ROW_THREADS 256
#define CUDA_EW_THREADS 256
#define CUDA_MAX_BLOCKS 65535

#ifdef __cplusplus
extern "C" {
#endif

/* The stream every op runs on: the legacy default stream, so uploads (cudaMemcpy) and
 * kernels are ordered without extra synchronisation. One place to change it. */
cudaStream_t cuda_stream(void);

/* The low mantissa bits the GEMM precision mode rounds operands to: 0 fp32, 13 tf32, 16 bf16
 * (cuda_backend.cu; add_bias reads its bias so) */
int cuda_gemm_drop_bits(void);

/* cuda_gemm_ptrs.cu: gemm_2level's device pointer arrays (*arrays: A's, B's and C's, inner *
 * outer each, in one array), kept from call to call; nothing launched for a call seen before.
 * The ring's bytes (0 before the first call) and release (cuda_shutdown); the counters are
 * in cuda_backend.h. */
int cuda_gemm_ptrs(void ***arrays, const float *a, int64_t sa, int64_t osa, const float *b, int64_t sb, int64_t osb,
                   float *c, int64_t sc, int64_t osc, int inner, int outer);
size_t cuda_gemm_ptrs_bytes(void);
int cuda_gemm_ptrs_release(void); /* frees the ring, forgets every slot; 0 or -1 + error */

/* Blocks for a grid-stride loop over n elements (n > 0). */
unsigned cuda_ew_blocks(size_t n);

/* The ops' scratch buffer: device memory of *bytes bytes (16 MiB), allocated once with the
 * cuBLAS handle by the first alloc, so that no op calls cudaMalloc. Ops use it for
 * per-row intermediates and partial sums between their kernels; every op runs on
 * cuda_stream(), so one op's use of it is finished before the next op's kernels start (the
 * backend is single-stream, single-thread). NULL + error when the backend cannot start. */
void *cuda_scratch(size_t *bytes);

/* Deferred device-side errors (cuda_nn.cu): kernels that find a bad index (a negative
 * embedding id, a target outside [0, vocab)) record the first one in a device word and
 * write NaN; cuda_device_error_take() (called by sync and download, after the device has
 * finished) reports it with error_set and clears it. Returns 0 when nothing was recorded. */
int cuda_device_error_take(void);

/* cuda_elementwise.cu */
int cuda_fill(float *x, float value, size_t n);
int cuda_relu(float *y, const float *x, size_t n);
int cuda_gelu_new(float *y, const float *x, size_t n);
int cuda_mul(float *y, const float *a, const float *b, size_t n);
int cuda_add(float *y, const float *a, const float *b, size_t n);
int cuda_add_bias(float *y, const float *x, const float *b, int64_t rows, int64_t cols);
int cuda_scale(float *y, const float *x, float s, size_t n);

/* cuda_nn.cu */
int cuda_embedding(float *out, const float *table, const int32_t *ids, int64_t n, int64_t d);
int cuda_rmsnorm(float *out, const float *x, const float *w, int64_t rows, int64_t d, float eps);
int cuda_attn_softmax(float *s, const float *bias, const float *mask, int causal, int64_t B,
                      int64_t H, int64_t Q, int64_t K);
int cuda_position_bias(float *out, const float *table, const int32_t *buckets, int64_t H,
                       int64_t QK);
int cuda_cross_entropy(float *mean_loss, float *row_loss, const float *logits,
                       const int32_t *targets, int64_t rows, int64_t vocab);
int cuda_argmax(int32_t *out, const float *x, int64_t rows, int64_t cols);

/* cuda_layout.cu */
int cuda_copy2d(float *dst, int64_t ld_dst, const float *src, int64_t ld_src, int64_t rows, int64_t cols,
                int accumulate);
int cuda_permute_0213(float *out, const float *in, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                      int accumulate);
int cuda_fwht(float *x, int64_t rows, int64_t L);

/* cuda_backward.cu */
int cuda_dropout(float *y, const float *x, size_t n, float p, uint64_t seed, uint64_t offset);
int cuda_embedding_backward_unique(float *dtable, const float *dout, const int32_t *ids,
                                   int64_t n, int64_t d);
int cuda_embedding_backward(float *dtable, const float *dout, const int32_t *ids, int64_t n,
                            int64_t d);
int cuda_rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x, const float *w,
                          int64_t rows, int64_t d, float eps, int accumulate);
int cuda_attn_softmax_backward(float *dscores, float *dbias, const float *dprobs,
                               const float *probs, int64_t B, int64_t H, int64_t Q, int64_t K, int accumulate);
int cuda_position_bias_backward(float *dtable, const float *dbias, const int32_t *buckets,
                                int64_t H, int64_t QK);
int cuda_relu_backward(float *dx, const float *dy, const float *y, size_t n);
int cuda_gelu_new_backward(float *dx, const float *dy, const float *x, size_t n, int accumulate);
int cuda_mul_acc(float *y, const float *a, const float *b, size_t n);
int cuda_axpy(float *y, const float *x, float alpha, size_t n, int accumulate);
int cuda_cross_entropy_backward(float *dlogits, const float *logits, const int32_t *targets,
                                const float *dmean, int64_t rows, int64_t vocab);
int cuda_dropout_backward(float *dx, const float *dy, size_t n, float p, uint64_t seed,
                          uint64_t offset, int accumulate);
int cuda_relu_dropout(float *y, uint32_t *mask, const float *x, size_t n, float p, uint64_t seed,
                      uint64_t offset);
int cuda_relu_dropout_backward(float *dx, const float *dy, const uint32_t *mask, size_t n, float p,
                               int accumulate);
int cuda_dropout_add(float *y, const float *h, const float *x, size_t n, float p, uint64_t seed,
                     uint64_t offset);
int cuda_gelu_mul(float *y, const float *a, const float *g, size_t n);
int cuda_gelu_mul_backward(float *da, float *dg, const float *dy, const float *a, const float *g, size_t n);
int cuda_attn_softmax_dropout(float *s, const float *bias, const float *mask, int causal, int64_t B, int64_t H,
                              int64_t Q, int64_t K, float p, uint64_t seed, uint64_t offset);
int cuda_attn_softmax_dropout_backward(float *ds, float *dbias, const float *ddropped, float *probs, int64_t B,
                                       int64_t H, int64_t Q, int64_t K, float p, uint64_t seed, uint64_t offset,
                                       int drop_probs, int accumulate);

/* cuda_bf16.cu: the bf16-storage ops (core/backend.h; gemm_bf16 is cuda_backend.cu's) */
int cuda_convert(void *dst, const void *src, size_t n, int to_bf16);
int cuda_rmsnorm_to_bf16(uint16_t *out, const float *x, const float *w, int64_t rows, int64_t d, float eps);
int cuda_relu_dropout_bf16(uint16_t *y, uint32_t *mask, const uint16_t *x, size_t n, float p, uint64_t seed,
                           uint64_t offset);
int cuda_gelu_mul_bf16(uint16_t *y, const uint16_t *a, const uint16_t *g, size_t n);
int cuda_gelu_mul_bf16_backward(float *da, float *dg, const float *dy, const uint16_t *a, const uint16_t *g,
                                size_t n);
int cuda_dropout_add_bf16(float *y, const float *h, const uint16_t *x, size_t n, float p, uint64_t seed,
                          uint64_t offset);

/* cuda_optim.cu */
struct adamw_step;
int cuda_sumsq(float *out, const float *x, size_t n);
int cuda_adamw(float *p, const float *g, float *m, float *v, size_t n, const struct adamw_step *a);
int cuda_sumsq_multi(float *out, const float *const *x, const size_t *n, int count);
int cuda_adamw_multi(float *const *p, const float *const *g, float *const *m, float *const *v,
                     const size_t *n, const char *decay, int count, const struct adamw_step *step);
/* Free the multi-tensor ops' cached tensor lists (cuda_shutdown). */
void cuda_optim_release(void);

#ifdef __cplusplus
}
#endif

/* Loops and launches shared by the kernel files (device code: only in .cu files). */
#ifdef __CUDACC__
#define GRID_STRIDE(i, n)                                                                          \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                        \
         i += (size_t)blockDim.x * gridDim.x)

#define GRID_STRIDE64(i, n)                                                                        \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                      \
         i += (int64_t)blockDim.x * gridDim.x)

/* launch `kernel` over n elements (nothing for n == 0: a 0-block launch is an error) and
 * return from the calling op */
#define EW_LAUNCH(kernel, n, ...)                                                                  \
    do {                                                                                           \
        if ((n) == 0) return 0;                                                                    \
        kernel<<<cuda_ew_blocks(n), CUDA_EW_THREADS, 0, cuda_stream()>>>(__VA_ARGS__);             \
        CUDA_CHECK_LAUNCH(#kernel);                                                                \
        return 0;                                                                                  \
    } while (0)
#endif

#endif
