/* cublasemu.c: the CUDA emulator's cuBLAS (tests/cudaemu/README.md): column-major GEMMs on
 * the CPU through OpenBLAS, with cuBLAS's argument checks. Reduced-precision modes round the
 * operands as the tensor cores take them (bf16 for CUBLAS_COMPUTE_32F_FAST_16BF, tf32 for
 * CUBLAS_COMPUTE_32F_FAST_TF32 or the TF32 math mode on an fp32 GEMM; round to nearest even),
 * then multiply in fp32: the device's sums differ in order, not in what they sum. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "cublas_v2.h"

struct emu_cublas {
    cublasMath_t math;
    cublasPointerMode_t pointer_mode;
};

cublasStatus_t cublasCreate(cublasHandle_t *h) {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count < 1) return CUBLAS_STATUS_NOT_INITIALIZED;
    *h = calloc(1, sizeof **h);
    return *h ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_ALLOC_FAILED;
}

cublasStatus_t cublasDestroy(cublasHandle_t h) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    free(h);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s) {
    (void)s;
    return h ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t cublasSetWorkspace(cublasHandle_t h, void *ws, size_t bytes) {
    (void)ws;
    (void)bytes;
    return h ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t cublasSetPointerMode(cublasHandle_t h, cublasPointerMode_t mode) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (mode != CUBLAS_POINTER_MODE_HOST) return CUBLAS_STATUS_NOT_SUPPORTED; /* not emulated */
    h->pointer_mode = mode;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetAtomicsMode(cublasHandle_t h, cublasAtomicsMode_t mode) {
    (void)mode;
    return h ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t mode) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (mode != CUBLAS_DEFAULT_MATH && mode != CUBLAS_TF32_TENSOR_OP_MATH) return CUBLAS_STATUS_INVALID_VALUE;
    h->math = mode;
    return CUBLAS_STATUS_SUCCESS;
}

const char *cublasGetStatusString(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "the operation completed successfully";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
    default: return "an internal operation failed";
    }
}

enum rounding { ROUND_NONE, ROUND_BF16, ROUND_TF32 };

/* round to nearest even keeping `keep` of the 23 mantissa bits (NaN and Inf pass) */
static float round_mantissa(float x, int keep) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) == 0x7f800000u) return x;
    int drop = 23 - keep;
    uint32_t half = 1u << (drop - 1), lsb = (u >> drop) & 1u;
    u = (u + half - 1 + lsb) & ~((1u << drop) - 1);
    memcpy(&x, &u, 4);
    return x;
}

/* op(X) (rows x cols of the product's view) packed column-major, rounded */
static float *pack(const float *X, int ld, int trans, int rows, int cols, enum rounding r) {
    float *p = malloc((size_t)rows * (size_t)cols * sizeof *p + 1);
    if (!p) return NULL;
    int keep = r == ROUND_BF16 ? 7 : 10;
    for (int j = 0; j < cols; j++)
        for (int i = 0; i < rows; i++) {
            float v = trans ? X[(size_t)i * ld + j] : X[(size_t)j * ld + i];
            p[(size_t)j * rows + i] = round_mantissa(v, keep);
        }
    return p;
}

/* CUBLAS_OP_C is CUBLAS_OP_T on real data (cuBLAS accepts it) */
static int transposed(cublasOperation_t op) { return op != CUBLAS_OP_N; }

static cublasStatus_t check(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void *alpha, int lda, int ldb, const void *beta, int ldc, int batch) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    int ops_ok = (ta == CUBLAS_OP_N || ta == CUBLAS_OP_T || ta == CUBLAS_OP_C) &&
                 (tb == CUBLAS_OP_N || tb == CUBLAS_OP_T || tb == CUBLAS_OP_C);
    if (!ops_ok || m < 0 || n < 0 || k < 0 || batch < 0 || !alpha || !beta ||
        lda < (!transposed(ta) ? (m > 1 ? m : 1) : (k > 1 ? k : 1)) ||
        ldb < (!transposed(tb) ? (k > 1 ? k : 1) : (n > 1 ? n : 1)) || ldc < (m > 1 ? m : 1))
        return CUBLAS_STATUS_INVALID_VALUE;
    return CUBLAS_STATUS_SUCCESS;
}

/* cuBLAS reads and writes the matrices on the device: a host pointer, or a matrix running past
 * its allocation, faults or reads garbage there, while here it would read host memory and
 * pass. rows x cols stored column-major with leading dimension ld (nothing when empty). */
static int on_device(const char *what, const float *X, int rows, int cols, int ld) {
    if (rows == 0 || cols == 0) return 1;
    size_t elems = (size_t)(cols - 1) * (size_t)ld + (size_t)rows;
    if (emu_device_range(X, elems * sizeof(float))) return 1;
    fprintf(stderr, "cublasemu: %s (%d x %d, ld %d at %p) is not inside one device allocation\n", what, rows, cols,
            ld, (const void *)X);
    return 0;
}

static int operands_on_device(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float *A,
                              int lda, const float *B, int ldb, const float *C, int ldc) {
    if (m == 0 || n == 0) return 1;
    return (k == 0 || (on_device("A", A, transposed(ta) ? k : m, transposed(ta) ? m : k, lda) &&
                       on_device("B", B, transposed(tb) ? n : k, transposed(tb) ? k : n, ldb))) &&
           on_device("C", C, m, n, ldc);
}

/* a batched call's pointer arrays are read on the device too */
static int array_on_device(const void *arr, int batch) {
    if (batch == 0 || emu_device_range(arr, (size_t)batch * sizeof(void *))) return 1;
    fprintf(stderr, "cublasemu: a batched GEMM's pointer array (%d entries at %p) is not in device memory\n", batch,
            arr);
    return 0;
}

static cublasStatus_t gemm1(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha,
                            const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc,
                            enum rounding r) {
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
    if (!operands_on_device(ta, tb, m, n, k, A, lda, B, ldb, C, ldc)) return CUBLAS_STATUS_EXECUTION_FAILED;
    if (r == ROUND_NONE) {
        cblas_sgemm(CblasColMajor, transposed(ta) ? CblasTrans : CblasNoTrans,
                    transposed(tb) ? CblasTrans : CblasNoTrans, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
        return CUBLAS_STATUS_SUCCESS;
    }
    float *pa = pack(A, lda, transposed(ta), m, k, r), *pb = pack(B, ldb, transposed(tb), k, n, r);
    if (pa && pb)
        cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, n, k, alpha, pa, m > 1 ? m : 1, pb,
                    k > 1 ? k : 1, beta, C, ldc);
    int ok = pa && pb;
    free(pa);
    free(pb);
    return ok ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_ALLOC_FAILED;
}

static cublasStatus_t ex_rounding(cudaDataType at, cudaDataType bt, cudaDataType ct, cublasComputeType_t c,
                                  enum rounding *r) {
    if (at != CUDA_R_32F || bt != CUDA_R_32F || ct != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
    switch (c) {
    case CUBLAS_COMPUTE_32F:
    case CUBLAS_COMPUTE_32F_PEDANTIC: *r = ROUND_NONE; return CUBLAS_STATUS_SUCCESS;
    case CUBLAS_COMPUTE_32F_FAST_16BF: *r = ROUND_BF16; return CUBLAS_STATUS_SUCCESS;
    case CUBLAS_COMPUTE_32F_FAST_TF32: *r = ROUND_TF32; return CUBLAS_STATUS_SUCCESS;
    default: return CUBLAS_STATUS_NOT_SUPPORTED; /* FAST_16F on fp32 data is not emulated */
    }
}

/* Every GEMM entry point: s (the status of the checks particular to the call) and the
 * argument checks, then gemm1 on each of the batch's matrices: from the pointer arrays Ap,
 * Bp, Cp (batched calls, which cuBLAS reads on the device) or else A, B, C plus i strides. */
static cublasStatus_t gemm_batch(cublasHandle_t h, cublasStatus_t s, enum rounding r, cublasOperation_t ta,
                                 cublasOperation_t tb, int m, int n, int k, const void *alpha, const void *beta,
                                 int lda, int ldb, int ldc, int batch, const void *const *Ap, const void *const *Bp,
                                 void *const *Cp, const float *A, long long sa, const float *B, long long sb,
                                 float *C, long long sc) {
    if (s == CUBLAS_STATUS_SUCCESS) s = check(h, ta, tb, m, n, k, alpha, lda, ldb, beta, ldc, batch);
    if (s == CUBLAS_STATUS_SUCCESS && Ap &&
        (!array_on_device(Ap, batch) || !array_on_device(Bp, batch) || !array_on_device(Cp, batch)))
        s = CUBLAS_STATUS_EXECUTION_FAILED;
    for (int i = 0; i < batch && s == CUBLAS_STATUS_SUCCESS; i++)
        s = gemm1(ta, tb, m, n, k, *(const float *)alpha, Ap ? (const float *)Ap[i] : A + i * sa, lda,
                  Bp ? (const float *)Bp[i] : B + i * sb, ldb, *(const float *)beta, Cp ? (float *)Cp[i] : C + i * sc,
                  ldc, r);
    return s;
}

/* the fp32 calls: TF32 operands under CUBLAS_TF32_TENSOR_OP_MATH */
static enum rounding math_rounding(cublasHandle_t h) {
    return h && h->math == CUBLAS_TF32_TENSOR_OP_MATH ? ROUND_TF32 : ROUND_NONE;
}

/* the Ex calls: their types and algorithm */
static cublasStatus_t ex_status(cudaDataType at, cudaDataType bt, cudaDataType ct, cublasComputeType_t compute,
                                cublasGemmAlgo_t algo, enum rounding *r) {
    cublasStatus_t s = ex_rounding(at, bt, ct, compute, r);
    return s == CUBLAS_STATUS_SUCCESS && algo != CUBLAS_GEMM_DEFAULT ? CUBLAS_STATUS_NOT_SUPPORTED : s;
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                                         int n, int k, const float *alpha, const float *A, int lda,
                                         long long sa, const float *B, int ldb, long long sb,
                                         const float *beta, float *C, int ldc, long long sc, int batch) {
    return gemm_batch(h, CUBLAS_STATUS_SUCCESS, math_rounding(h), ta, tb, m, n, k, alpha, beta, lda, ldb, ldc,
                      batch, NULL, NULL, NULL, A, sa, B, sb, C, sc);
}

cublasStatus_t cublasSgemmBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                  int k, const float *alpha, const float *const A[], int lda,
                                  const float *const B[], int ldb, const float *beta, float *const C[],
                                  int ldc, int batch) {
    return gemm_batch(h, CUBLAS_STATUS_SUCCESS, math_rounding(h), ta, tb, m, n, k, alpha, beta, lda, ldb, ldc,
                      batch, (const void *const *)A, (const void *const *)B, (void *const *)C, NULL, 0, NULL, 0,
                      NULL, 0);
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                                          int n, int k, const void *alpha, const void *A, cudaDataType at,
                                          int lda, long long sa, const void *B, cudaDataType bt, int ldb,
                                          long long sb, const void *beta, void *C, cudaDataType ct, int ldc,
                                          long long sc, int batch, cublasComputeType_t compute,
                                          cublasGemmAlgo_t algo) {
    enum rounding r = ROUND_NONE;
    cublasStatus_t s = ex_status(at, bt, ct, compute, algo, &r);
    return gemm_batch(h, s, r, ta, tb, m, n, k, alpha, beta, lda, ldb, ldc, batch, NULL, NULL, NULL, A, sa, B, sb,
                      C, sc);
}

cublasStatus_t cublasGemmBatchedEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                   int k, const void *alpha, const void *const A[], cudaDataType at, int lda,
                                   const void *const B[], cudaDataType bt, int ldb, const void *beta,
                                   void *const C[], cudaDataType ct, int ldc, int batch,
                                   cublasComputeType_t compute, cublasGemmAlgo_t algo) {
    enum rounding r = ROUND_NONE;
    cublasStatus_t s = ex_status(at, bt, ct, compute, algo, &r);
    return gemm_batch(h, s, r, ta, tb, m, n, k, alpha, beta, lda, ldb, ldc, batch, A, B, C, NULL, 0, NULL, 0, NULL,
                      0);
}
