/* cuda_backend.h: the CUDA backend's own controls, beside its op table (backend_cuda in
 * core/backend.h). Usable from C; only declared in builds with HAVE_CUDA. */
#ifndef COMPACTER_CUDA_BACKEND_H
#define COMPACTER_CUDA_BACKEND_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* GEMM precision. "fp32" (the default): strict fp32, cuBLAS CUBLAS_DEFAULT_MATH with
 * TF32 off, so results match the CPU reference within fp32 rounding. "tf32": cuBLAS may
 * use TF32 tensor cores (CUBLAS_TF32_TENSOR_OP_MATH; about 1e-3 relative). Other modes
 * (bf16) come later. May be called before or after the first op. 0 or -1 + error. */
int cuda_set_precision(const char *mode);
const char *cuda_precision(void);

/* Bytes of the cuBLAS workspace the backend allocates once (part of the memory figure). */
size_t cuda_workspace_bytes(void);

/* Release the cuBLAS handle, its workspace, the ops' scratch and the optimizer's cached
 * tensor lists (all created on first use). The backend may be used again afterwards
 * (they are created anew). */
void cuda_shutdown(void);

#ifdef __cplusplus
}
#endif
#endif
