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
    int keep[4], w = (int)(i & 3);
    dropout_keep4(seed, offset, i / 4, p, keep);
    return w == 0 ? keep[0] : w == 1 ? keep[1] : w == 2 ? keep[2] : keep[3]; /* selects: keep stays in registers */
}

/* A warp walking a row of elements in order (a softmax row: lane + 32 j): the keep flags of
 * 128-element windows aligned to Philox blocks, one block per lane and one ballot per word, so
 * that the warp makes one Philox call per lane per 128 elements instead of one per element.
 * Window t covers elements a0 + 128 t .. + 127 (a0: the row's first element rounded down to a
 * multiple of 4); element a0 + 128 t + 4 m + w is bit m of b[w]. Two windows are held, so an
 * iteration of 32 elements straddling two windows finds both. Every lane of the warp must
 * make the same keep_window_need calls (warp-uniform arguments: the ballots need all 32).
 * The ballots are indexed by constants or chosen by selects only, so they stay in registers. */
struct keep_windows {
    int64_t a0;
    int64_t t0, t1;           /* the windows held (-1: none) */
    uint32_t b0[4], b1[4];    /* their ballots */
    int older;                /* the slot to replace next */
};

static __device__ __forceinline__ void keep_windows_init(struct keep_windows *kw, int64_t first) {
    kw->a0 = first - (first & 3);
    kw->t0 = kw->t1 = -1;
    kw->older = 0;
}

/* make window t held (warp-uniform t) */
static __device__ __forceinline__ void keep_window_need(struct keep_windows *kw, int64_t t, uint64_t seed,
                                                        uint64_t offset, float p) {
    if (kw->t0 == t || kw->t1 == t) return;
    int keep[4];
    dropout_keep4(seed, offset, (size_t)((kw->a0 >> 2) + 32 * t + (threadIdx.x & 31)), p, keep);
#pragma unroll
    for (int w = 0; w < 4; w++) {
        uint32_t v = __ballot_sync(0xffffffffu, keep[w]);
        if (kw->older == 0)
            kw->b0[w] = v;
        else
            kw->b1[w] = v;
    }
    if (kw->older == 0)
        kw->t0 = t;
    else
        kw->t1 = t;
    kw->older ^= 1;
}

/* The windows iteration j of a row (elements first + 32 j .. + 31) needs: call before it. */
static __device__ __forceinline__ void keep_windows_for(struct keep_windows *kw, int64_t first, int64_t j,
                                                        uint64_t seed, uint64_t offset, float p) {
    int64_t lo = first + 32 * j - kw->a0;
    keep_window_need(kw, lo >> 7, seed, offset, p);
    keep_window_need(kw, (lo + 31) >> 7, seed, offset, p);
}

/* The keep flag of element e (held by one of the two windows) */
static __device__ __forceinline__ int keep_windows_get(const struct keep_windows *kw, int64_t e) {
    int64_t r = e - kw->a0, t = r >> 7;
    int i = (int)(r & 127), w = i & 3, first = kw->t0 == t;
    uint32_t v0 = first ? kw->b0[0] : kw->b1[0], v1 = first ? kw->b0[1] : kw->b1[1],
             v2 = first ? kw->b0[2] : kw->b1[2], v3 = first ? kw->b0[3] : kw->b1[3];
    uint32_t v = w == 0 ? v0 : w == 1 ? v1 : w == 2 ? v2 : v3;
    return (int)((v >> (i >> 2)) & 1u);
}

#endif
