/* cuda_dropout_mask.h: the dropout mask on the device (device code, .cu files only): element
 * i is kept iff philox_uniform(seed, offset, i) >= p (core/philox.h, compiled for both the
 * CPU and the device), so every CUDA dropout, fused or not, and the CPU's draw the same mask. */
#ifndef COMPACTER_CUDA_DROPOUT_MASK_H
#define COMPACTER_CUDA_DROPOUT_MASK_H

#ifndef __CUDACC__
#error "kernels/cuda/cuda_dropout_mask.h is device code: include it from .cu files only"
#endif

#include <stdint.h>

#include "core/philox.h"

/* The keep flags of the 4 elements of Philox block blk (elements 4 blk .. 4 blk + 3): one
 * Philox call gives the four draws philox_uniform gives one at a time (counter offset + i/4,
 * word i%4). */
static __device__ __forceinline__ void dropout_keep4(uint64_t seed, uint64_t offset, size_t blk, float p,
                                                     int keep[4]) {
    uint64_t ctr = offset + blk;
    uint32_t c[4] = {(uint32_t)ctr, (uint32_t)(ctr >> 32), 0u, 0u};
    philox4x32_10(c, (uint32_t)seed, (uint32_t)(seed >> 32));
    for (int j = 0; j < 4; j++) keep[j] = (float)(c[j] >> 8) * (1.0f / 16777216.0f) >= p;
}

/* The keep flag of element i alone (a thread per element: 4 threads share a block's call). */
static __device__ __forceinline__ int dropout_keep1(uint64_t seed, uint64_t offset, size_t i, float p) {
    int keep[4];
    dropout_keep4(seed, offset, i / 4, p, keep);
    return keep[i & 3];
}

#endif
