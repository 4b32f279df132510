/* cuda_op_math.h: the per-element and per-row arithmetic of the f32 kernels that have a
 * bf16-storage twin (cuda_bf16.cu), one __device__ function each, called by both (device
 * code, .cu files only). A twin widens its bf16 inputs exactly (bf16_widen), calls the very
 * function its f32 kernel calls and narrows on store (bf16_from_f32), so on one device it is
 * bit for bit the f32 kernel followed by narrowing: one expression, compiled once per call
 * site from the same source, and the _rn intrinsics keep nvcc from contracting any
 * multiply-add into an FMA (the CPU's rounding, kernels/cpu/cpu_kernels.h). */
#ifndef COMPACTER_CUDA_OP_MATH_H
#define COMPACTER_CUDA_OP_MATH_H

#ifndef __CUDACC__
#error "kernels/cuda/cuda_op_math.h is device code: include it from .cu files only"
#endif

#include <stdint.h>

#include "kernels/cuda/cuda_reduce.h"

/* gelu_new as the CPU: (0.5x) * (1 + tanh(c (x + k (x*x)*x))); only tanhf itself may differ
 * from the CPU's (CUDA's is within 2 ulp) */
static __device__ __forceinline__ float gelu_new_value(float v) {
    const float c = 0.7978845608028654f, k = 0.044715f;
    float cube = __fmul_rn(__fmul_rn(v, v), v);
    float inner = __fmul_rn(c, __fadd_rn(v, __fmul_rn(k, cube)));
    return __fmul_rn(__fmul_rn(0.5f, v), __fadd_rn(1.0f, tanhf(inner)));
}

/* gelu_new'(v) in the CPU's expression tree of the backward: t = tanh(c (v + ((k v) v) v)),
 * dt = ((1 - t t) c) (1 + ((3k) v) v), 0.5 (1 + t) + (0.5 v) dt */
static __device__ __forceinline__ float gelu_new_grad(float v) {
    const float c = 0.7978845608028654f, k = 0.044715f, k3 = 3.0f * k;
    float cube = __fmul_rn(__fmul_rn(__fmul_rn(k, v), v), v);
    float t = tanhf(__fmul_rn(c, __fadd_rn(v, cube)));
    float dt = __fmul_rn(__fmul_rn(__fsub_rn(1.0f, __fmul_rn(t, t)), c),
                         __fadd_rn(1.0f, __fmul_rn(__fmul_rn(k3, v), v)));
    return __fadd_rn(__fmul_rn(0.5f, __fadd_rn(1.0f, t)), __fmul_rn(__fmul_rn(0.5f, v), dt));
}

/* gelu_mul: gelu_new(a) g */
static __device__ __forceinline__ float gelu_mul_value(float a, float g) {
    return __fmul_rn(gelu_new_value(a), g);
}

/* gelu_mul's backward terms: dg's dy gelu_new(a); da's (0 + dy g) gelu_new'(a) */
static __device__ __forceinline__ float gelu_mul_dg_term(float dy, float a) {
    return __fmul_rn(dy, gelu_new_value(a));
}
static __device__ __forceinline__ float gelu_mul_da_term(float dy, float a, float g) {
    return __fmul_rn(__fadd_rn(0.0f, __fmul_rn(dy, g)), gelu_new_grad(a));
}

/* relu then dropout of one element: kept ? relu(x) s : 0 (relu as relu_kernel: x > 0 ? x : 0) */
static __device__ __forceinline__ float relu_dropout_value(float x, int keep, float s) {
    float v = x > 0 ? x : 0.0f;
    return keep ? __fmul_rn(v, s) : 0.0f;
}

/* relu_dropout's mask: the warp's ballot of y > 0 is the word of its 32 consecutive elements
 * (i: this lane's element of a loop over n rounded up to 32; every lane must call it) */
static __device__ __forceinline__ void relu_dropout_mask_word(uint32_t *mask, size_t i, float y) {
    unsigned bits = __ballot_sync(0xffffffffu, y > 0);
    if ((threadIdx.x & 31) == 0) mask[i >> 5] = bits;
}

/* dropout then the residual add of one element: h + (kept ? x s : 0) */
static __device__ __forceinline__ float dropout_add_value(float h, float x, int keep, float s) {
    return __fadd_rn(h, keep ? __fmul_rn(x, s) : 0.0f);
}

/* RMSNorm's 1 / sqrt(mean(x^2) + eps) of one row of d, the sum of squares in double over the
 * block (CUDA_ROW_THREADS threads, fixed tree order; sh: CUDA_ROW_THREADS doubles of shared
 * memory); every thread of the block gets it */
static __device__ __forceinline__ float rmsnorm_row_inv(const float *xr, int64_t d, float eps, double *sh) {
    double ss = 0;
    /* a float times a float is exact in double, so FMA contraction changes nothing */
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x)
        ss += (double)xr[j] * xr[j];
    ss = block_sum_double(ss, sh);
    float var = (float)(ss / (double)d);
    return 1.0f / sqrtf(var + eps);
}

/* one output element of RMSNorm: w (x inv) */
static __device__ __forceinline__ float rmsnorm_value(float w, float x, float inv) {
    return w * (x * inv);
}

#endif
