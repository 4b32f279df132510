/* cuda_reduce.h: block reductions shared by the CUDA kernels (device code, .cu files only).
 * CUDA_ROW_THREADS threads (a power of two), fixed tree order, so the result depends only
 * on the inputs and the block size, never on timing; every thread gets the result and sh
 * may be reused right after. */
#ifndef COMPACTER_CUDA_REDUCE_H
#define COMPACTER_CUDA_REDUCE_H

#ifndef __CUDACC__
#error "kernels/cuda/cuda_reduce.h is device code: include it from .cu files only"
#endif

#include "kernels/cuda/cuda_check.h"

static __device__ __forceinline__ double block_sum_double(double v, double *sh) {
    unsigned t = threadIdx.x;
    sh[t] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (t < s) sh[t] = __dadd_rn(sh[t], sh[t + s]);
        __syncthreads();
    }
    double r = sh[0];
    __syncthreads();
    return r;
}

/* max ignoring NaN, as the CPU's `if (v > mx) mx = v` from -FLT_MAX */
static __device__ __forceinline__ float block_max_float(float v, float *sh) {
    unsigned t = threadIdx.x;
    sh[t] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (t < s && sh[t + s] > sh[t]) sh[t] = sh[t + s];
        __syncthreads();
    }
    float r = sh[0];
    __syncthreads();
    return r;
}

#endif
