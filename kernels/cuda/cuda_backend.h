/* cuda_backend.h: the CUDA backend's own controls, beside its op table (backend_cuda in
 * core/backend.h). Usable from C; only declared in builds with HAVE_CUDA. */
#ifndef COMPACTER_CUDA_BACKEND_H
#define COMPACTER_CUDA_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* GEMM precision. "fp32" (the default): strict fp32, cuBLAS CUBLAS_DEFAULT_MATH with
 * TF32 off, so results match the CPU reference within fp32 rounding. "tf32": cuBLAS may
 * use TF32 tensor cores (CUBLAS_TF32_TENSOR_OP_MATH; about 1e-3 relative). "bf16": every
 * fp32 GEMM's operands are rounded to bf16 inside cuBLAS (CUBLAS_COMPUTE_32F_FAST_16BF) and
 * multiplied on bf16 tensor cores with fp32 accumulation and fp32 output (about 4e-3
 * relative). The mode concerns the fp32 GEMMs only; bf16 storage (core/ops.h: set through
 * backend_set_precision) adds gemm_bf16 on bf16 tensors (CUBLAS_COMPUTE_32F) and the bf16
 * kernels of cuda_bf16.cu. May be called before or after the first op. 0 or -1 + error. */
int cuda_set_precision(const char *mode);
const char *cuda_precision(void);

/* Bytes of the cuBLAS workspace the backend allocates once (part of the memory figure). */
size_t cuda_workspace_bytes(void);

/* gemm_2level's pointer arrays (kernels/cuda/cuda_gemm_ptrs.cu): calls that found their
 * arrays kept (nothing launched) and calls that built them, since the backend started. */
void cuda_gemm_ptrs_stats(uint64_t *hits, uint64_t *misses);

/* Release the cuBLAS handle, its workspace, the ops' scratch, the optimizer's cached
 * tensor lists and gemm_2level's pointer arrays (all created on first use). The backend may be used again afterwards
 * (they are created anew). */
void cuda_shutdown(void);

#ifdef __cplusplus
}
#endif
#endif
