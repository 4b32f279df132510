/* cublasemu.c: the CUDA emulator's cuBLAS (tests/cudaemu/README.md): column-major GEMMs on
 * the CPU through OpenBLAS, with cuBLAS's argument checks. Reduced-precision modes round the
 * operands as the tensor cores take them (bf16 for CUBLAS_COMPUTE_32F_FAST_16BF, tf32 for
 * CUBLAS_COMPUTE_32F_FAST_TF32 or the TF32 math mode on an fp32 GEMM; round to nearest even),
 * then multiply in fp32: the device's sums differ in order, not in what they sum. The Ex
 * calls also take bf16 matrices (CUDA_R_16BF A and B, C CUDA_R_16BF or CUDA_R_32F, under
 * CUBLAS_COMPUTE_32F): the operands are widened exactly, multiplied in fp32, beta applied in
 * fp32 to the widened C, and a bf16 C narrowed to nearest even (core/bf16.h). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/bf16.h"
#include "cublas_v2.h"
#include "emu_racecheck.h"

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

/* a matrix's element type: fp32, or bf16 (the Ex calls' CUDA_R_16BF) */
enum elem { ELEM_F32, ELEM_BF16 };

static size_t elem_bytes(enum elem e) { return e == ELEM_BF16 ? 2 : 4; }

/* element i of X, widened to fp32 (exact) */
static float elem_get(const void *X, enum elem e, size_t i) {
    return e == ELEM_BF16 ? bf16_widen(((const uint16_t *)X)[i]) : ((const float *)X)[i];
}

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

/* op(X) (rows x cols of the product's view) packed column-major, widened to fp32, rounded
 * (ROUND_NONE: as it is) */
static float *pack(const void *X, enum elem e, int ld, int trans, int rows, int cols, enum rounding r) {
    float *p = malloc((size_t)rows * (size_t)cols * sizeof *p + 1);
    if (!p) return NULL;
    int keep = r == ROUND_BF16 ? 7 : 10;
    for (int j = 0; j < cols; j++)
        for (int i = 0; i < rows; i++) {
            float v = elem_get(X, e, trans ? (size_t)i * ld + j : (size_t)j * ld + i);
            p[(size_t)j * rows + i] = r == ROUND_NONE ? v : round_mantissa(v, keep);
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
static int on_device(const char *what, const void *X, enum elem e, int rows, int cols, int ld) {
    if (rows == 0 || cols == 0) return 1;
    size_t elems = (size_t)(cols - 1) * (size_t)ld + (size_t)rows;
    if (emu_device_range(X, elems * elem_bytes(e))) return 1;
    fprintf(stderr, "cublasemu: %s (%d x %d, ld %d at %p) is not inside one device allocation\n", what, rows, cols,
            ld, (const void *)X);
    return 0;
}

static int operands_on_device(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const void *A,
                              int lda, const void *B, int ldb, enum elem ab, const void *C, int ldc, enum elem ct) {
    if (m == 0 || n == 0) return 1;
    return (k == 0 || (on_device("A", A, ab, transposed(ta) ? k : m, transposed(ta) ? m : k, lda) &&
                       on_device("B", B, ab, transposed(tb) ? n : k, transposed(tb) ? k : n, ldb))) &&
           on_device("C", C, ct, m, n, ldc);
}

/* a batched call's pointer arrays are read on the device too */
static int array_on_device(const void *arr, int batch) {
    if (batch == 0 || emu_device_range(arr, (size_t)batch * sizeof(void *))) return 1;
    fprintf(stderr, "cublasemu: a batched GEMM's pointer array (%d entries at %p) is not in device memory\n", batch,
            arr);
    return 0;
}

/* initcheck over a column-major rows x cols matrix: each column checked (mark 0) or marked
 * written (mark 1) */
static void init_columns(int mark, const char *what, const void *X, enum elem e, int rows, int cols, int ld) {
    size_t eb = elem_bytes(e);
    for (int j = 0; j < cols && rows > 0; j++) {
        const char *col = (const char *)X + (size_t)j * (size_t)ld * eb;
        if (mark) emu_race_mark_init(col, (size_t)rows * eb);
        else emu_race_check_init(col, (size_t)rows * eb, what);
    }
}

/* One GEMM: A and B of type ab, C of type ct. fp32 throughout: OpenBLAS on the matrices
 * themselves (ROUND_NONE) or on rounded packed copies. bf16 operands: packed widened copies;
 * a bf16 C: computed in an fp32 copy (the widened C when beta != 0; cuBLAS does not read C when
 * beta is 0, and OpenBLAS's beta 0 overwrites) and narrowed back, its padding untouched. */
static cublasStatus_t gemm1(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha,
                            const void *A, int lda, const void *B, int ldb, enum elem ab, float beta, void *C,
                            int ldc, enum elem ct, enum rounding r) {
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
    if (!operands_on_device(ta, tb, m, n, k, A, lda, B, ldb, ab, C, ldc, ct)) return CUBLAS_STATUS_EXECUTION_FAILED;
    /* initcheck (racecheck build): the operands read must have been written (gemm_batch marks C) */
    init_columns(0, "cuBLAS GEMM operand A", A, ab, transposed(ta) ? k : m, transposed(ta) ? m : k, lda);
    init_columns(0, "cuBLAS GEMM operand B", B, ab, transposed(tb) ? n : k, transposed(tb) ? k : n, ldb);
    if (beta != 0.0f) init_columns(0, "cuBLAS GEMM operand C (beta != 0)", C, ct, m, n, ldc);
    if (r == ROUND_NONE && ab == ELEM_F32 && ct == ELEM_F32) {
        cblas_sgemm(CblasColMajor, transposed(ta) ? CblasTrans : CblasNoTrans,
                    transposed(tb) ? CblasTrans : CblasNoTrans, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
        return CUBLAS_STATUS_SUCCESS;
    }
    float *pa = pack(A, ab, lda, transposed(ta), m, k, r), *pb = pack(B, ab, ldb, transposed(tb), k, n, r);
    float *pc = ct == ELEM_BF16 ? malloc((size_t)m * (size_t)n * sizeof *pc) : (float *)C;
    int ok = pa && pb && pc;
    if (ok && ct == ELEM_BF16)
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++)
                pc[(size_t)j * m + i] = beta != 0.0f ? elem_get(C, ELEM_BF16, (size_t)j * ldc + i) : 0.0f;
    if (ok)
        cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, n, k, alpha, pa, m > 1 ? m : 1, pb,
                    k > 1 ? k : 1, beta, pc, ct == ELEM_BF16 ? m : ldc);
    if (ok && ct == ELEM_BF16)
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++)
                ((uint16_t *)C)[(size_t)j * ldc + i] = bf16_from_f32(pc[(size_t)j * m + i]);
    free(pa);
    free(pb);
    if (ct == ELEM_BF16) free(pc);
    return ok ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_ALLOC_FAILED;
}

/* the Ex calls' types: fp32 throughout (every fp32 compute type but FAST_16F), or bf16 A and B
 * with a bf16 or fp32 C under CUBLAS_COMPUTE_32F; anything else is not emulated */
static cublasStatus_t ex_rounding(cudaDataType at, cudaDataType bt, cudaDataType ct, cublasComputeType_t c,
                                  enum rounding *r, enum elem *ab, enum elem *ce) {
    *ab = *ce = ELEM_F32;
    if (at == CUDA_R_16BF && bt == CUDA_R_16BF && (ct == CUDA_R_16BF || ct == CUDA_R_32F)) {
        if (c != CUBLAS_COMPUTE_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
        *ab = ELEM_BF16;
        *ce = ct == CUDA_R_16BF ? ELEM_BF16 : ELEM_F32;
        *r = ROUND_NONE; /* widening is exact */
        return CUBLAS_STATUS_SUCCESS;
    }
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
 * Bp, Cp (batched calls, which cuBLAS reads on the device) or else A, B, C plus i strides (in
 * elements of their types: ab for A and B, ct for C). */
static cublasStatus_t gemm_batch(cublasHandle_t h, cublasStatus_t s, enum rounding r, enum elem ab, enum elem ct,
                                 cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const void *alpha,
                                 const void *beta, int lda, int ldb, int ldc, int batch, const void *const *Ap,
                                 const void *const *Bp, void *const *Cp, const void *A, long long sa, const void *B,
                                 long long sb, void *C, long long sc) {
    if (s == CUBLAS_STATUS_SUCCESS) s = check(h, ta, tb, m, n, k, alpha, lda, ldb, beta, ldc, batch);
    if (s == CUBLAS_STATUS_SUCCESS && Ap &&
        (!array_on_device(Ap, batch) || !array_on_device(Bp, batch) || !array_on_device(Cp, batch)))
        s = CUBLAS_STATUS_EXECUTION_FAILED;
    size_t eab = elem_bytes(ab), ec = elem_bytes(ct);
    if (s == CUBLAS_STATUS_SUCCESS)
        emu_count_op(Ap ? (ab == ELEM_BF16 ? "cublasGemmBatchedEx bf16" : "cublas gemm batched")
                        : (ab == ELEM_BF16 ? "cublasGemmStridedBatchedEx bf16" : "cublas gemm strided"));
    for (int i = 0; i < batch && s == CUBLAS_STATUS_SUCCESS; i++) {
        void *Ci = Cp ? Cp[i] : (char *)C + i * sc * (long long)ec;
        s = gemm1(ta, tb, m, n, k, *(const float *)alpha, Ap ? Ap[i] : (const char *)A + i * sa * (long long)eab,
                  lda, Bp ? Bp[i] : (const char *)B + i * sb * (long long)eab, ldb, ab, *(const float *)beta, Ci,
                  ldc, ct, r);
        if (s == CUBLAS_STATUS_SUCCESS) init_columns(1, NULL, Ci, ct, m, n, ldc);
    }
    return s;
}

/* the fp32 calls: TF32 operands under CUBLAS_TF32_TENSOR_OP_MATH */
static enum rounding math_rounding(cublasHandle_t h) {
    return h && h->math == CUBLAS_TF32_TENSOR_OP_MATH ? ROUND_TF32 : ROUND_NONE;
}

/* the Ex calls: their types and algorithm */
static cublasStatus_t ex_status(cudaDataType at, cudaDataType bt, cudaDataType ct, cublasComputeType_t compute,
                                cublasGemmAlgo_t algo, enum rounding *r, enum elem *ab, enum elem *ce) {
    cublasStatus_t s = ex_rounding(at, bt, ct, compute, r, ab, ce);
    return s == CUBLAS_STATUS_SUCCESS && algo != CUBLAS_GEMM_DEFAULT ? CUBLAS_STATUS_NOT_SUPPORTED : s;
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                                         int n, int k, const float *alpha, const float *A, int lda,
                                         long long sa, const float *B, int ldb, long long sb,
                                         const float *beta, float *C, int ldc, long long sc, int batch) {
    return gemm_batch(h, CUBLAS_STATUS_SUCCESS, math_rounding(h), ELEM_F32, ELEM_F32, ta, tb, m, n, k, alpha, beta,
                      lda, ldb, ldc, batch, NULL, NULL, NULL, A, sa, B, sb, C, sc);
}

cublasStatus_t cublasSgemmBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                  int k, const float *alpha, const float *const A[], int lda,
                                  const float *const B[], int ldb, const float *beta, float *const C[],
                                  int ldc, int batch) {
    return gemm_batch(h, CUBLAS_STATUS_SUCCESS, math_rounding(h), ELEM_F32, ELEM_F32, ta, tb, m, n, k, alpha, beta,
                      lda, ldb, ldc, batch, (const void *const *)A, (const void *const *)B, (void *const *)C, NULL,
                      0, NULL, 0, NULL, 0);
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                                          int n, int k, const void *alpha, const void *A, cudaDataType at,
                                          int lda, long long sa, const void *B, cudaDataType bt, int ldb,
                                          long long sb, const void *beta, void *C, cudaDataType ct, int ldc,
                                          long long sc, int batch, cublasComputeType_t compute,
                                          cublasGemmAlgo_t algo) {
    enum rounding r = ROUND_NONE;
    enum elem ab, ce;
    cublasStatus_t s = ex_status(at, bt, ct, compute, algo, &r, &ab, &ce);
    return gemm_batch(h, s, r, ab, ce, ta, tb, m, n, k, alpha, beta, lda, ldb, ldc, batch, NULL, NULL, NULL, A, sa, B,
                      sb, C, sc);
}

cublasStatus_t cublasGemmBatchedEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                   int k, const void *alpha, const void *const A[], cudaDataType at, int lda,
                                   const void *const B[], cudaDataType bt, int ldb, const void *beta,
                                   void *const C[], cudaDataType ct, int ldc, int batch,
                                   cublasComputeType_t compute, cublasGemmAlgo_t algo) {
    enum rounding r = ROUND_NONE;
    enum elem ab, ce;
    cublasStatus_t s = ex_status(at, bt, ct, compute, algo, &r, &ab, &ce);
    return gemm_batch(h, s, r, ab, ce, ta, tb, m, n, k, alpha, beta, lda, ldb, ldc, batch, A, B, C, NULL, 0, NULL, 0,
                      NULL, 0);
}
