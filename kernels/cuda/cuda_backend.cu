/* cuda_backend.cu: the CUDA backend's op table, device checks, memory (cudaMalloc in
 * alloc only; the activation pool, core/pool.c, calls it for its block and for what lies
 * beyond it on a first step), uploads/downloads, the ops' scratch buffer
 * (cuda_scratch(), allocated once beside the cuBLAS workspace), and GEMM through cuBLAS
 * with its handle, workspace and precision switch. Ops run asynchronously on
 * cuda_stream(); download and sync synchronise. */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <string.h>

#include "core/backend.h"
#include "core/error.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_check.h"

/* Oldest compute capability this build has code for (Makefile: sm_80, sm_90, PTX 9.0). */
#define CUDA_MIN_MAJOR 8
/* cuBLAS workspace, allocated once with the handle (NVIDIA's recommendation for Hopper is
 * 32 MiB); with it set, cuBLAS does not allocate inside a GEMM. */
#define CUBLAS_WORKSPACE_BYTES ((size_t)32 << 20)
/* The ops' scratch (cuda_scratch()), allocated once with the handle. */
#define CUDA_SCRATCH_BYTES ((size_t)16 << 20)

/* Backend state: created by the first alloc, from one thread (the program's main thread:
 * the backend is not meant to be initialised concurrently); the ops hold no other host
 * state but the multi-tensor optimizer ops' cached tensor lists (cuda_optim.cu, freed by
 * cuda_shutdown) and gemm_2level's pointer arrays (cuda_gemm_ptrs.cu, also freed there). */
static cublasHandle_t g_cublas = NULL;
static void *g_workspace = NULL;
static void *g_scratch = NULL;
/* the precision switch (GEMMs only; storage stays fp32) */
enum gemm_precision { GEMM_FP32, GEMM_TF32, GEMM_BF16 };
static enum gemm_precision g_prec = GEMM_FP32;
static const char *const g_prec_names[] = {"fp32", "tf32", "bf16"};
static int g_ready = 0; /* handle and workspace set up */

extern "C" cudaStream_t cuda_stream(void) {
    return (cudaStream_t)0;
}

extern "C" unsigned cuda_ew_blocks(size_t n) {
    size_t b = (n + CUDA_EW_THREADS - 1) / CUDA_EW_THREADS;
    return (unsigned)(b < CUDA_MAX_BLOCKS ? b : CUDA_MAX_BLOCKS);
}

extern "C" int cuda_available(void) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        (void)cudaGetLastError(); /* clear it so later calls do not see it */
        error_set("no usable CUDA device: cudaGetDeviceCount: %s (%s)", cudaGetErrorString(e),
                  cudaGetErrorName(e));
        return 0;
    }
    if (count == 0) {
        error_set("no CUDA device present (cudaGetDeviceCount returned 0)");
        return 0;
    }
    int dev = 0;
    struct cudaDeviceProp p;
    if ((e = cudaGetDevice(&dev)) != cudaSuccess ||
        (e = cudaGetDeviceProperties(&p, dev)) != cudaSuccess) {
        (void)cudaGetLastError();
        error_set("CUDA device query failed: %s", cudaGetErrorString(e));
        return 0;
    }
    if (p.major < CUDA_MIN_MAJOR) {
        error_set("CUDA device %d (%s) has compute capability %d.%d; this build has code for "
                  "sm_80 and newer only",
                  dev, p.name, p.major, p.minor);
        return 0;
    }
    return 1;
}

static int apply_math_mode(void) {
    /* fp32: CUBLAS_DEFAULT_MATH never uses TF32 for fp32 GEMMs (that takes
     * CUBLAS_TF32_TENSOR_OP_MATH or NVIDIA_TF32_OVERRIDE=1). bf16 keeps the default math
     * mode: its GEMMs pass CUBLAS_COMPUTE_32F_FAST_16BF to the Ex calls. */
    CUBLAS_CHECK(cublasSetMathMode(g_cublas, g_prec == GEMM_TF32 ? CUBLAS_TF32_TENSOR_OP_MATH
                                                                  : CUBLAS_DEFAULT_MATH));
    return 0;
}

/* Device check, cuBLAS handle and workspace. Run by the first alloc (the model load or
 * exec_init come before any op), so that no op allocates; gemm repeats it as a fallback. */
static int cuda_backend_setup(void) {
    cublasHandle_t h = NULL;
    CUBLAS_CHECK(cublasCreate(&h));
    g_cublas = h;
    /* setStream resets the workspace to cuBLAS's own pool, so it comes first */
    CUBLAS_CHECK(cublasSetStream(g_cublas, cuda_stream()));
    void *ws = NULL;
    CUDA_CHECK(cudaMalloc(&ws, CUBLAS_WORKSPACE_BYTES));
    g_workspace = ws;
    CUBLAS_CHECK(cublasSetWorkspace(g_cublas, g_workspace, CUBLAS_WORKSPACE_BYTES));
    CUBLAS_CHECK(cublasSetPointerMode(g_cublas, CUBLAS_POINTER_MODE_HOST));
    /* deterministic: no atomics-based reductions */
    CUBLAS_CHECK(cublasSetAtomicsMode(g_cublas, CUBLAS_ATOMICS_NOT_ALLOWED));
    void *scratch = NULL;
    CUDA_CHECK(cudaMalloc(&scratch, CUDA_SCRATCH_BYTES));
    g_scratch = scratch;
    return apply_math_mode();
}

static int cuda_backend_init(void) {
    if (g_ready) return 0;
    if (!cuda_available()) return -1;
    if (cuda_backend_setup()) {
        cuda_shutdown(); /* undo a partial setup */
        return -1;
    }
    g_ready = 1;
    return 0;
}

extern "C" void *cuda_scratch(size_t *bytes) {
    *bytes = 0;
    if (cuda_backend_init()) return NULL; /* a fallback: the first alloc has done it */
    *bytes = CUDA_SCRATCH_BYTES;
    return g_scratch;
}

extern "C" int cuda_set_precision(const char *mode) {
    if (!mode) return error_set("cuda precision: NULL mode");
    int found = -1;
    for (int i = 0; i < 3 && found < 0; i++)
        if (!strcmp(mode, g_prec_names[i])) found = i;
    if (found < 0) return error_set("cuda precision '%s': expected fp32, tf32 or bf16", mode);
    g_prec = (enum gemm_precision)found;
    return g_ready ? apply_math_mode() : 0;
}

extern "C" size_t cuda_workspace_bytes(void) { return CUBLAS_WORKSPACE_BYTES; }

extern "C" int cuda_gemm_drop_bits(void) { return g_prec == GEMM_BF16 ? 16 : g_prec == GEMM_TF32 ? 13 : 0; }

extern "C" const char *cuda_precision(void) {
    return g_prec_names[g_prec];
}

extern "C" void cuda_shutdown(void) {
    g_ready = 0;
    cuda_optim_release();
    (void)cuda_gemm_ptrs_release(); /* an error is set for the caller to see */
    if (g_cublas) {
        cublasStatus_t s = cublasDestroy(g_cublas);
        if (s != CUBLAS_STATUS_SUCCESS)
            error_set("%s:%d: cublasDestroy: %s", __FILE__, __LINE__, cublasGetStatusString(s));
        g_cublas = NULL;
    }
    if (g_workspace) {
        cudaError_t e = cudaFree(g_workspace);
        if (e != cudaSuccess)
            error_set("%s:%d: cudaFree: %s", __FILE__, __LINE__, cudaGetErrorString(e));
        g_workspace = NULL;
    }
    if (g_scratch) {
        cudaError_t e = cudaFree(g_scratch);
        if (e != cudaSuccess)
            error_set("%s:%d: cudaFree: %s", __FILE__, __LINE__, cudaGetErrorString(e));
        g_scratch = NULL;
    }
}

/* ---- memory ---- */

static void *cuda_alloc(size_t bytes) {
    void *p = NULL;
    if (cuda_backend_init()) return NULL;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 256);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        error_set("%s:%d: cudaMalloc of %zu bytes: %s (%s)", __FILE__, __LINE__, bytes,
                  cudaGetErrorString(e), cudaGetErrorName(e));
        return NULL;
    }
    return p;
}

/* The table's free cannot fail; a failure is recorded as the error message. */
static void cuda_free(void *p) {
    if (!p) return;
    cudaError_t e = cudaFree(p);
    if (e != cudaSuccess)
        error_set("%s:%d: cudaFree: %s", __FILE__, __LINE__, cudaGetErrorString(e));
}

static int cuda_upload(void *dst, const void *src, size_t bytes) {
    if (!bytes) return 0;
    /* ordered after earlier work on the legacy default stream; the host buffer may be
     * reused as soon as this returns */
    CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
    return 0;
}

static int cuda_download(void *dst, const void *src, size_t bytes) {
    if (bytes) CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaStreamSynchronize(cuda_stream()));
    return cuda_device_error_take();
}

static int cuda_sync(void) {
    CUDA_CHECK(cudaStreamSynchronize(cuda_stream()));
    CUDA_CHECK(cudaGetLastError());
    return cuda_device_error_take();
}

/* ---- GEMM ----
 * Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, and a row-major matrix
 * read as column-major (same pointer and leading dimension) is its transpose. So call
 * column-major cuBLAS with the operands swapped: (op_b, op_a, n, m, k, B, A), each op
 * keeping its own transpose flag. Leading dimensions and batch strides carry over as is. */
static int cuda_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                     int lda, int64_t stride_a, const float *b, int ldb, int64_t stride_b,
                     float beta, float *c, int ldc, int64_t stride_c, int batch) {
    if (m < 0 || n < 0 || k < 0 || batch < 0)
        return error_set("gemm: negative size m=%d n=%d k=%d batch=%d", m, n, k, batch);
    if (m == 0 || n == 0 || batch == 0) return 0;
    if (cuda_backend_init()) return -1;
    cublasOperation_t ta = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t tb = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (g_prec == GEMM_BF16) {
        CUBLAS_CHECK(cublasGemmStridedBatchedEx(g_cublas, tb, ta, n, m, k, &alpha, b, CUDA_R_32F, ldb,
                                                (long long)stride_b, a, CUDA_R_32F, lda, (long long)stride_a,
                                                &beta, c, CUDA_R_32F, ldc, (long long)stride_c, batch,
                                                CUBLAS_COMPUTE_32F_FAST_16BF, CUBLAS_GEMM_DEFAULT));
        return 0;
    }
    CUBLAS_CHECK(cublasSgemmStridedBatched(g_cublas, tb, ta, n, m, k, &alpha, b, ldb,
                                           (long long)stride_b, a, lda, (long long)stride_a, &beta,
                                           c, ldc, (long long)stride_c, batch));
    return 0;
}

/* gemm with bf16 operands (core/backend.h gemm_bf16): A and B CUDA_R_16BF, C CUDA_R_32F or
 * (c_bf16) CUDA_R_16BF, products summed in fp32 (CUBLAS_COMPUTE_32F: the operands are bf16
 * already, so the precision switch has nothing to round), operands swapped as cuda_gemm. A
 * bf16 C is written, never read: beta must be 0. */
static int cuda_gemm_bf16(int trans_a, int trans_b, int m, int n, int k, float alpha, const uint16_t *a, int lda,
                          int64_t stride_a, const uint16_t *b, int ldb, int64_t stride_b, float beta, void *c,
                          int c_bf16, int ldc, int64_t stride_c, int batch) {
    if (m < 0 || n < 0 || k < 0 || batch < 0)
        return error_set("gemm_bf16: negative size m=%d n=%d k=%d batch=%d", m, n, k, batch);
    if (c_bf16 && beta != 0.0f)
        return error_set("gemm_bf16: beta %g with a bf16 C (must be 0: a bf16 C is not accumulated into)",
                         (double)beta);
    if (m == 0 || n == 0 || batch == 0) return 0;
    if (cuda_backend_init()) return -1;
    cublasOperation_t ta = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t tb = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    CUBLAS_CHECK(cublasGemmStridedBatchedEx(g_cublas, tb, ta, n, m, k, &alpha, b, CUDA_R_16BF, ldb,
                                            (long long)stride_b, a, CUDA_R_16BF, lda, (long long)stride_a, &beta, c,
                                            c_bf16 ? CUDA_R_16BF : CUDA_R_32F, ldc, (long long)stride_c, batch,
                                            CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return 0;
}

/* a two-level batch: one batched GEMM over the pointer arrays of cuda_gemm_ptrs.cu (entry
 * o * inner + i) */
static int cuda_gemm_2level(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                            int64_t stride_a, int64_t outer_stride_a, const float *b, int ldb, int64_t stride_b,
                            int64_t outer_stride_b, float beta, float *c, int ldc, int64_t stride_c,
                            int64_t outer_stride_c, int inner, int outer) {
    if (inner < 0 || outer < 0) return error_set("gemm_2level: negative batch %d x %d", outer, inner);
    if (outer <= 1)
        return cuda_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc, stride_c,
                         outer == 1 ? inner : 0);
    if (m == 0 || n == 0 || inner == 0) return 0;
    if (m < 0 || n < 0 || k < 0) return error_set("gemm_2level: negative size m=%d n=%d k=%d", m, n, k);
    if (cuda_backend_init()) return -1;
    int64_t total = (int64_t)inner * outer;
    if (total > INT32_MAX) return error_set("gemm_2level: batch %d x %d is too large", outer, inner);
    void **arrays = NULL; /* cuda_gemm_ptrs.cu: pa, pb, pc, total each */
    if (cuda_gemm_ptrs(&arrays, a, stride_a, outer_stride_a, b, stride_b, outer_stride_b, c, stride_c, outer_stride_c,
                       inner, outer))
        return -1;
    const float **pa = (const float **)arrays, **pb = pa + total;
    float **pc = (float **)(pb + total);
    cublasOperation_t ta = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t tb = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    /* row-major C = A B is column-major C^T = B^T A^T, as in cuda_gemm */
    if (g_prec == GEMM_BF16) {
        CUBLAS_CHECK(cublasGemmBatchedEx(g_cublas, tb, ta, n, m, k, &alpha, (const void *const *)pb, CUDA_R_32F,
                                         ldb, (const void *const *)pa, CUDA_R_32F, lda, &beta, (void *const *)pc,
                                         CUDA_R_32F, ldc, (int)total, CUBLAS_COMPUTE_32F_FAST_16BF,
                                         CUBLAS_GEMM_DEFAULT));
        return 0;
    }
    CUBLAS_CHECK(cublasSgemmBatched(g_cublas, tb, ta, n, m, k, &alpha, pb, ldb, pa, lda, &beta, pc, ldc, (int)total));
    return 0;
}

extern "C" const struct backend backend_cuda = {
    /* .name = */ "cuda",
    /* .alloc = */ cuda_alloc,
    /* .free = */ cuda_free,
    /* .upload = */ cuda_upload,
    /* .download = */ cuda_download,
    /* .fill = */ cuda_fill,
    /* .sync = */ cuda_sync,
    /* .gemm = */ cuda_gemm,
    /* .embedding = */ cuda_embedding,
    /* .rmsnorm = */ cuda_rmsnorm,
    /* .attn_softmax = */ cuda_attn_softmax,
    /* .position_bias = */ cuda_position_bias,
    /* .relu = */ cuda_relu,
    /* .gelu_new = */ cuda_gelu_new,
    /* .mul = */ cuda_mul,
    /* .add = */ cuda_add,
    /* .scale = */ cuda_scale,
    /* .cross_entropy = */ cuda_cross_entropy,
    /* .argmax = */ cuda_argmax,
    /* .copy2d = */ cuda_copy2d,
    /* .permute_0213 = */ cuda_permute_0213,
    /* .fwht = */ cuda_fwht,
    /* .dropout = */ cuda_dropout,
    /* .embedding_backward = */ cuda_embedding_backward,
    /* .rmsnorm_backward = */ cuda_rmsnorm_backward,
    /* .attn_softmax_backward = */ cuda_attn_softmax_backward,
    /* .position_bias_backward = */ cuda_position_bias_backward,
    /* .relu_backward = */ cuda_relu_backward,
    /* .gelu_new_backward = */ cuda_gelu_new_backward,
    /* .mul_acc = */ cuda_mul_acc,
    /* .axpy = */ cuda_axpy,
    /* .cross_entropy_backward = */ cuda_cross_entropy_backward,
    /* .dropout_backward = */ cuda_dropout_backward,
    /* .sumsq = */ cuda_sumsq,
    /* .adamw = */ cuda_adamw,
    /* .set_precision = */ cuda_set_precision,
    /* .gemm_2level = */ cuda_gemm_2level,
    /* .sumsq_multi = */ cuda_sumsq_multi,
    /* .adamw_multi = */ cuda_adamw_multi,
    /* .embedding_backward_unique = */ cuda_embedding_backward_unique,
    /* .relu_dropout = */ cuda_relu_dropout,
    /* .relu_dropout_backward = */ cuda_relu_dropout_backward,
    /* .dropout_add = */ cuda_dropout_add,
    /* .gelu_mul = */ cuda_gelu_mul,
    /* .gelu_mul_backward = */ cuda_gelu_mul_backward,
    /* .attn_softmax_dropout = */ cuda_attn_softmax_dropout,
    /* .attn_softmax_dropout_backward = */ cuda_attn_softmax_dropout_backward,
    /* .convert = */ cuda_convert,
    /* .gemm_bf16 = */ cuda_gemm_bf16,
    /* .rmsnorm_to_bf16 = */ cuda_rmsnorm_to_bf16,
    /* .relu_dropout_bf16 = */ cuda_relu_dropout_bf16,
    /* .gelu_mul_bf16 = */ cuda_gelu_mul_bf16,
    /* .gelu_mul_bf16_backward = */ cuda_gelu_mul_bf16_backward,
    /* .dropout_add_bf16 = */ cuda_dropout_add_bf16,
    /* .add_bias = */ cuda_add_bias,
};
