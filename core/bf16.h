/* bf16.h: bfloat16 storage, the same bits on the host and on the device. A bf16 value is the
 * upper half of an f32 (uint16_t in memory): widening is exact; narrowing rounds to nearest,
 * ties to even, and keeps NaN a quiet NaN of the same sign (as __float2bfloat16_rn). The CPU
 * backend, the CUDA kernels and the tests all convert with these two functions, so a kernel
 * that widens, computes in f32 and narrows on store is bit for bit its f32 twin followed by
 * bf16_from_f32. */
#ifndef COMPACTER_BF16_H
#define COMPACTER_BF16_H

#include <stdint.h>

#if defined(__CUDACC__)
#define BF16_INLINE static __host__ __device__ __forceinline__
#else
#define BF16_INLINE static inline
#endif

BF16_INLINE float bf16_widen(uint16_t h) {
    union {
        uint32_t u;
        float f;
    } v;
    v.u = (uint32_t)h << 16;
    return v.f;
}

BF16_INLINE uint16_t bf16_from_f32(float f) {
    union {
        float f;
        uint32_t u;
    } v;
    v.f = f;
    if ((v.u & 0x7f800000u) == 0x7f800000u && (v.u & 0x007fffffu)) /* NaN: quiet, sign kept */
        return (uint16_t)((v.u >> 16) | 0x0040u);
    v.u += 0x7fffu + ((v.u >> 16) & 1u); /* to nearest, ties to even (may carry to inf) */
    return (uint16_t)(v.u >> 16);
}

/* x with its drop_bits low mantissa bits rounded away, to nearest, ties to even (may carry
 * into the exponent), kept as an f32; inf and NaN as they are; drop_bits <= 0: x. The GEMM
 * precision modes round operands so (16: bf16, 13: tf32): the CPU backend's gemm and both
 * backends' add_bias. */
BF16_INLINE float f32_round_mantissa(float x, int drop_bits) {
    union {
        float f;
        uint32_t u;
    } v;
    v.f = x;
    if (drop_bits <= 0 || (v.u & 0x7f800000u) == 0x7f800000u) return x;
    v.u += (1u << (drop_bits - 1)) - 1u + ((v.u >> drop_bits) & 1u);
    v.u &= ~((1u << drop_bits) - 1u);
    return v.f;
}

#endif
