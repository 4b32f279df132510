/* philox.h: Philox4x32-10 (Salmon et al. 2011), the counter-based RNG behind dropout.
 * The same function compiles for the host and for CUDA devices, so a mask depends only on
 * (seed, offset, element index), never on the backend or the thread layout. */
#ifndef COMPACTER_PHILOX_H
#define COMPACTER_PHILOX_H

#include <stdint.h>

#ifdef __CUDACC__
#define PHILOX_FN __host__ __device__ static inline
#else
#define PHILOX_FN static inline
#endif

/* Philox4x32's multipliers and Weyl key increments */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

/* Four 32-bit outputs for counter (c0..c3) and key (k0, k1). */
PHILOX_FN void philox4x32_10(uint32_t c[4], uint32_t k0, uint32_t k1) {
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c[0], p1 = (uint64_t)PHILOX_M1 * c[2];
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k1;
        c[1] = (uint32_t)p1;
        c[3] = (uint32_t)p0;
        c[0] = n0;
        c[2] = n2;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
}

/* Uniform in [0, 1) with 24 random bits for element i of stream (seed, offset). */
PHILOX_FN float philox_uniform(uint64_t seed, uint64_t offset, uint64_t i) {
    uint64_t ctr = offset + (i >> 2);
    uint32_t c[4] = {(uint32_t)ctr, (uint32_t)(ctr >> 32), 0u, 0u};
    philox4x32_10(c, (uint32_t)seed, (uint32_t)(seed >> 32));
    return (float)(c[i & 3] >> 8) * (1.0f / 16777216.0f);
}

#endif
