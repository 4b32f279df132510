/* cpu_dropout.c: dropout and its backward on the CPU, and fused with relu (before) or with
 * the residual add (after). The mask is the one of core/philox.h
 * (keep element i iff philox_uniform(seed, offset, i) >= p, the CUDA backend's very mask),
 * drawn for 8 Philox blocks (32 elements) at a time: with AVX2 where the CPU has it (8
 * blocks in the 8 lanes of a register, philox4x32_10's rounds in vector form), else block
 * by block. Drawn one block at a time, Philox was a third of a tiny-model training step.
 * Attention's softmax-and-dropout forward is here too (as the two ops in turn), and the
 * forward passes with bf16 input or output (cpu_bf16.c's relu_dropout_bf16, dropout_add_bf16):
 * each group widened into / narrowed out of 32-element f32 copies around the same code. */
#include <math.h>
#include <stdint.h>

#include "core/bf16.h"
#include "core/env.h"
#include "core/philox.h"
#include "kernels/cpu/cpu_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_PATH 1
#endif

#define LANES 8           /* Philox blocks per draw */
/* what a pass computes: y = dropout(x) (optionally h + it), y += dropout's backward of x (or
 * y = 0 + it, y's prior content not read), or y = dropout(relu(x)) (optionally with the bit
 * mask of y > 0) */
enum drop_mode { DROP_FORWARD, DROP_BACKWARD, DROP_BACKWARD_SET, DROP_RELU };
#define GROUP (4 * LANES) /* elements per draw */

/* The 4 output words of Philox blocks blk0 + l (l < LANES): w[k][l] is word k of the block
 * at counter offset + blk0 + l under key seed. */
static void philox_group(uint64_t seed, uint64_t offset, size_t blk0, uint32_t w[4][LANES]) {
    for (int l = 0; l < LANES; l++) {
        uint64_t ctr = offset + blk0 + (uint64_t)l;
        uint32_t c[4] = {(uint32_t)ctr, (uint32_t)(ctr >> 32), 0u, 0u};
        philox4x32_10(c, (uint32_t)seed, (uint32_t)(seed >> 32));
        for (int k = 0; k < 4; k++) w[k][l] = c[k];
    }
}

#ifdef HAVE_AVX2_PATH
/* the high 32 bits of the 8 products a[l] * m (unsigned 32 x 32 -> 64) */
__attribute__((target("avx2"))) static inline __m256i mulhi_epu32(__m256i a, __m256i m) {
    __m256i even = _mm256_mul_epu32(a, m);                        /* lanes 0, 2, 4, 6 */
    __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m); /* lanes 1, 3, 5, 7 */
    return _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

/* The keep masks (all ones: kept) of the GROUP elements from 4 * blk0, in element order:
 * out[q] holds elements 8q .. 8q + 7. philox_group with one lane per block, then the
 * 4 x 8 (word x block) transpose to element order 4 l + k. */
__attribute__((target("avx2"))) static void keep_masks_avx2(uint64_t seed, uint64_t offset, size_t blk0,
                                                            uint32_t thr, __m256i out[4]) {
    uint32_t lo[LANES], hi[LANES];
    for (int l = 0; l < LANES; l++) {
        uint64_t ctr = offset + blk0 + (uint64_t)l;
        lo[l] = (uint32_t)ctr, hi[l] = (uint32_t)(ctr >> 32);
    }
    __m256i c0 = _mm256_loadu_si256((const __m256i *)lo), c1 = _mm256_loadu_si256((const __m256i *)hi);
    __m256i c2 = _mm256_setzero_si256(), c3 = _mm256_setzero_si256();
    const __m256i m0 = _mm256_set1_epi32((int)PHILOX_M0), m1 = _mm256_set1_epi32((int)PHILOX_M1);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        __m256i h0 = mulhi_epu32(c0, m0), h1 = mulhi_epu32(c2, m1);
        __m256i l0 = _mm256_mullo_epi32(c0, m0), l1 = _mm256_mullo_epi32(c2, m1);
        c0 = _mm256_xor_si256(_mm256_xor_si256(h1, c1), _mm256_set1_epi32((int)k0));
        c2 = _mm256_xor_si256(_mm256_xor_si256(h0, c3), _mm256_set1_epi32((int)k1));
        c1 = l1;
        c3 = l0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    /* kept: top 24 bits >= thr, i.e. not thr > t (both below 2^31: a signed compare) */
    const __m256i t = _mm256_set1_epi32((int)thr), ones = _mm256_set1_epi32(-1);
    __m256i w0 = _mm256_xor_si256(_mm256_cmpgt_epi32(t, _mm256_srli_epi32(c0, 8)), ones);
    __m256i w1 = _mm256_xor_si256(_mm256_cmpgt_epi32(t, _mm256_srli_epi32(c1, 8)), ones);
    __m256i w2 = _mm256_xor_si256(_mm256_cmpgt_epi32(t, _mm256_srli_epi32(c2, 8)), ones);
    __m256i w3 = _mm256_xor_si256(_mm256_cmpgt_epi32(t, _mm256_srli_epi32(c3, 8)), ones);
    __m256i a = _mm256_unpacklo_epi32(w0, w1), b = _mm256_unpacklo_epi32(w2, w3); /* blocks 0,1 | 4,5 */
    __m256i c = _mm256_unpackhi_epi32(w0, w1), d = _mm256_unpackhi_epi32(w2, w3); /* blocks 2,3 | 6,7 */
    __m256i e = _mm256_unpacklo_epi64(a, b), f = _mm256_unpackhi_epi64(a, b);     /* block 0 | 4, 1 | 5 */
    __m256i g = _mm256_unpacklo_epi64(c, d), h = _mm256_unpackhi_epi64(c, d);     /* block 2 | 6, 3 | 7 */
    out[0] = _mm256_permute2x128_si256(e, f, 0x20); /* blocks 0, 1 */
    out[1] = _mm256_permute2x128_si256(g, h, 0x20); /* blocks 2, 3 */
    out[2] = _mm256_permute2x128_si256(e, f, 0x31); /* blocks 4, 5 */
    out[3] = _mm256_permute2x128_si256(g, h, 0x31); /* blocks 6, 7 */
}

/* One whole group from element 4 * blk0: forward y = kept ? x s : +0 (an AND: a dropped inf
 * or NaN gives 0, as the select of the scalar path), plus h[i] when h; DROP_BACKWARD (y = dx,
 * x = dy) dx += dy s where kept, dx untouched elsewhere (a blend, so even the sign of a zero
 * stays), DROP_BACKWARD_SET the same from dx = +0; DROP_RELU: the forward of relu(x) (max(x, 0) with x first: x > 0 ? x : +0, NaN
 * and -0 included), *bits (when given) the word of y > 0. */
__attribute__((target("avx2"))) static void dropout_group_avx2(float *y, const float *x, float s, uint64_t seed,
                                                               uint64_t offset, size_t blk0, uint32_t thr,
                                                               enum drop_mode mode, uint32_t *bits,
                                                               const float *h) {
    int backward = mode == DROP_BACKWARD || mode == DROP_BACKWARD_SET, set = mode == DROP_BACKWARD_SET,
        relu = mode == DROP_RELU;
    __m256i m[4];
    keep_masks_avx2(seed, offset, blk0, thr, m);
    const __m256 sv = _mm256_set1_ps(s), zero = _mm256_setzero_ps();
    uint32_t word = 0;
    for (int q = 0; q < 4; q++) {
        __m256 in = _mm256_loadu_ps(x + 8 * q);
        if (relu) in = _mm256_max_ps(in, zero);
        __m256 v = _mm256_mul_ps(in, sv), keep = _mm256_castsi256_ps(m[q]);
        if (!backward) {
            __m256 out = _mm256_and_ps(keep, v);
            if (h) out = _mm256_add_ps(_mm256_loadu_ps(h + 8 * q), out);
            _mm256_storeu_ps(y + 8 * q, out);
            if (bits) word |= (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(out, zero, _CMP_GT_OQ)) << (8 * q);
        } else {
            __m256 dx = set ? zero : _mm256_loadu_ps(y + 8 * q);
            _mm256_storeu_ps(y + 8 * q, _mm256_blendv_ps(dx, _mm256_add_ps(dx, v), keep));
        }
    }
    if (bits) *bits = word;
}

/* AVX2 when the CPU has it, unless COMPACTER_CPU_NO_AVX2 is set (tests of the other path) */
static int use_avx2(void) {
    if (env_flag("COMPACTER_CPU_NO_AVX2")) return 0;
    static int v = -1; /* a benign race: every thread computes the same value */
    if (v < 0) v = __builtin_cpu_supports("avx2") ? 1 : 0;
    return v;
}
#endif

/* philox_uniform's test u >= p with u = t 2^-24 (t the word's top 24 bits, exact in float)
 * is t >= p 2^24, i.e. t >= ceil(p 2^24) for integer t (p 2^24 is exact in double) */
static uint32_t keep_threshold(float p) {
    double t = ceil((double)p * 16777216.0);
    return t <= 0 ? 0u : t >= 16777216.0 ? 16777216u : (uint32_t)t;
}

/* the first len (<= GROUP) elements of the group from element 4 * blk0 (y, x, h point at
 * its first element), portable path */
static void dropout_group(float *y, const float *x, float s, uint64_t seed, uint64_t offset, size_t blk0,
                          uint32_t thr, enum drop_mode mode, uint32_t *bits, const float *h, size_t len) {
    int backward = mode == DROP_BACKWARD || mode == DROP_BACKWARD_SET, set = mode == DROP_BACKWARD_SET,
        relu = mode == DROP_RELU;
    uint32_t w[4][LANES], word = 0;
    philox_group(seed, offset, blk0, w);
    for (size_t i = 0; i < len; i++) {
        int keep = (w[i & 3][i >> 2] >> 8) >= thr;
        float v = relu ? (x[i] > 0 ? x[i] : 0.0f) : x[i];
        if (!backward) {
            float o = keep ? v * s : 0.0f;
            y[i] = h ? h[i] + o : o;
            word |= (uint32_t)(o > 0) << i;
        }
        else if (set)
            y[i] = keep ? 0.0f + x[i] * s : 0.0f;
        else if (keep)
            y[i] += x[i] * s;
    }
    if (bits) *bits = word;
}

/* One pass of `mode` over n elements; mask (DROP_RELU, may be NULL): bit i of mask[i / 32] =
 * y[i] > 0 (a group of GROUP = 32 elements is one mask word); h (DROP_FORWARD, may be NULL):
 * y = h + dropout(x). Forward modes only: xb (may be NULL) bf16 x, widened into a group's
 * f32 copy that the pass reads instead of x; yb (may be NULL) bf16 y, narrowed from the
 * group's f32 copy the pass writes instead of y. */
static void dropout_run(float *y, const float *x, size_t n, float p, uint64_t seed, uint64_t offset,
                        enum drop_mode mode, uint32_t *mask, const float *h, const uint16_t *xb, uint16_t *yb) {
    float s = 1.0f / (1.0f - p);
    uint32_t thr = keep_threshold(p);
    size_t groups = (n + GROUP - 1) / GROUP;
#ifdef HAVE_AVX2_PATH
    int avx2 = use_avx2();
#endif
#pragma omp parallel for schedule(static)
    for (size_t g = 0; g < groups; g++) {
        size_t i0 = g * GROUP, len = n - i0 < GROUP ? n - i0 : GROUP;
        float xs[GROUP], ys[GROUP];
        const float *xg = xb ? xs : x + i0;
        float *yg = yb ? ys : y + i0;
        if (xb)
            for (size_t j = 0; j < len; j++) xs[j] = bf16_widen(xb[i0 + j]);
#ifdef HAVE_AVX2_PATH
        if (avx2 && len == GROUP)
            dropout_group_avx2(yg, xg, s, seed, offset, g * LANES, thr, mode, mask ? mask + g : NULL,
                               h ? h + i0 : NULL);
        else
#endif
            dropout_group(yg, xg, s, seed, offset, g * LANES, thr, mode, mask ? mask + g : NULL,
                          h ? h + i0 : NULL, len);
        if (yb)
            for (size_t j = 0; j < len; j++) yb[i0 + j] = bf16_from_f32(ys[j]);
    }
}

int cpu_dropout(float *y, const float *x, size_t n, float p, uint64_t seed, uint64_t offset) {
    dropout_run(y, x, n, p, seed, offset, DROP_FORWARD, NULL, NULL, NULL, NULL);
    return 0;
}

int cpu_dropout_backward(float *dx, const float *dy, size_t n, float p, uint64_t seed, uint64_t offset,
                         int accumulate) {
    dropout_run(dx, dy, n, p, seed, offset, accumulate ? DROP_BACKWARD : DROP_BACKWARD_SET, NULL, NULL, NULL,
                NULL);
    return 0;
}

int cpu_relu_dropout(float *y, uint32_t *mask, const float *x, size_t n, float p, uint64_t seed,
                     uint64_t offset) {
    dropout_run(y, x, n, p, seed, offset, DROP_RELU, mask, NULL, NULL, NULL);
    return 0;
}

int cpu_dropout_add(float *y, const float *h, const float *x, size_t n, float p, uint64_t seed, uint64_t offset) {
    dropout_run(y, x, n, p, seed, offset, DROP_FORWARD, NULL, h, NULL, NULL);
    return 0;
}

void cpu_dropout_forward_bf16(float *y, uint16_t *yb, const float *x, const uint16_t *xb, size_t n, float p,
                              uint64_t seed, uint64_t offset, int relu, uint32_t *mask, const float *h) {
    dropout_run(y, x, n, p, seed, offset, relu ? DROP_RELU : DROP_FORWARD, relu ? mask : NULL, relu ? NULL : h, xb,
                yb);
}

#ifdef HAVE_AVX2_PATH
/* one whole mask word: the 4 x 8 bits as lane masks (bit l of each byte: lane l) */
__attribute__((target("avx2"))) static void relu_dropout_backward_word_avx2(float *dx, const float *dy, uint32_t m,
                                                                            float s, int acc) {
    const __m256i sel = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    const __m256 sv = _mm256_set1_ps(s), zero = _mm256_setzero_ps();
    for (int q = 0; q < 4; q++) {
        __m256i b = _mm256_and_si256(_mm256_set1_epi32((int)((m >> (8 * q)) & 0xffu)), sel);
        __m256 keep = _mm256_castsi256_ps(_mm256_cmpeq_epi32(b, sel));
        __m256 g = _mm256_add_ps(zero, _mm256_mul_ps(_mm256_loadu_ps(dy + 8 * q), sv));
        __m256 prior = acc ? _mm256_loadu_ps(dx + 8 * q) : zero;
        _mm256_storeu_ps(dx + 8 * q, _mm256_add_ps(prior, _mm256_and_ps(keep, g)));
    }
}
#endif

int cpu_relu_dropout_backward(float *dx, const float *dy, const uint32_t *mask, size_t n, float p, int accumulate) {
    float s = 1.0f / (1.0f - p);
    size_t words = (n + 31) / 32;
#ifdef HAVE_AVX2_PATH
    int avx2 = use_avx2();
#endif
#pragma omp parallel for schedule(static)
    for (size_t w = 0; w < words; w++) {
        uint32_t m = mask[w];
        size_t i0 = 32 * w, i1 = n - i0 < 32 ? n : i0 + 32;
#ifdef HAVE_AVX2_PATH
        if (avx2 && i1 - i0 == 32) {
            relu_dropout_backward_word_avx2(dx + i0, dy + i0, m, s, accumulate);
            continue;
        }
#endif
        for (size_t i = i0; i < i1; i++) {
            float g = 0.0f + dy[i] * s;
            dx[i] = (accumulate ? dx[i] : 0.0f) + ((m >> (i - i0)) & 1u ? g : 0.0f);
        }
    }
    return 0;
}

/* Attention's softmax and its dropout: the CPU runs the two ops in turn (on the CPU the
 * probabilities of a t5-small attention fit in cache either way). There is no fused backward
 * here: op_attention then runs the separate backward ops, which is all a CPU version would do
 * (tests/ref_attention.h composes one for the tests). */
int cpu_attn_softmax_dropout(float *scores, const float *bias, const float *mask, int causal, int64_t B,
                             int64_t H, int64_t Q, int64_t K, float p, uint64_t seed, uint64_t offset) {
    if (cpu_attn_softmax(scores, bias, mask, causal, B, H, Q, K)) return -1;
    return cpu_dropout(scores, scores, (size_t)(B * H * Q * K), p, seed, offset);
}
