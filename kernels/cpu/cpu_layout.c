/* cpu_layout.c: CPU layout kernels: strided 2-D copy, the [a,b,c,d] -> [a,c,b,d] permute,
 * and the fast Walsh-Hadamard transform. */
#include "core/error.h"
#include "kernels/cpu/cpu_kernels.h"

int cpu_copy2d(float *dst, int64_t ld_dst, const float *src, int64_t ld_src, int64_t rows, int64_t cols,
               int accumulate) {
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
    for (int64_t r = 0; r < rows; r++) {
        float *d = dst + r * ld_dst;
        const float *s = src + r * ld_src;
        if (accumulate)
            for (int64_t c = 0; c < cols; c++) d[c] += s[c];
        else
            for (int64_t c = 0; c < cols; c++) d[c] = s[c];
    }
    return 0;
}

int cpu_permute_0213(float *out, const float *in, int64_t d0, int64_t d1, int64_t d2, int64_t d3, int accumulate) {
#pragma omp parallel for collapse(2) schedule(static) if (d0 * d1 * d2 * d3 > 65536)
    for (int64_t a = 0; a < d0; a++)
        for (int64_t b = 0; b < d1; b++)
            for (int64_t c = 0; c < d2; c++) {
                const float *s = in + ((a * d1 + b) * d2 + c) * d3;
                float *d = out + ((a * d2 + c) * d1 + b) * d3;
                if (accumulate)
                    for (int64_t e = 0; e < d3; e++) d[e] += s[e];
                else
                    for (int64_t e = 0; e < d3; e++) d[e] = s[e];
            }
    return 0;
}

/* The transform is log2(L) butterfly stages h = 1, 2, 4, ..., L/2 (stage h: v[j], v[j+h] <-
 * v[j] + v[j+h], v[j] - v[j+h]). Done a stage at a time over the whole row, a row of 2^25
 * (t5-base's embedding under Intrinsic-SAID) makes 25 passes through memory. Here the
 * stages run in groups that each take one pass:
 *  - group 0, stages 1 .. FWHT_BLOCK/2, on each block of FWHT_BLOCK contiguous elements
 *    (L1-sized), which those stages never leave;
 *  - then groups of up to FWHT_TILE_LOG stages h0 .. h0 2^(t-1): they mix only the 2^t
 *    elements base + k h0 (k < 2^t) of a super-block of h0 2^t, so a tile of FWHT_TILE_W
 *    adjacent columns of those is gathered into a contiguous buffer, transformed, and put
 *    back.
 * Every butterfly adds and subtracts the same two values as in the stage-by-stage order
 * (a stage's butterflies are independent, and the stages keep their order for every
 * element), so the result is bit-identical to it (tests/test_fwht.c checks). Blocks and
 * tiles are independent: the threads share them. */
#define FWHT_BLOCK_LOG 13 /* 8192 floats: 32 KB */
#define FWHT_TILE_W 64    /* columns per tile: 256-byte runs */
#define FWHT_TILE_LOG 7   /* 128 rows x 64 columns: 32 KB */

/* stages 1, 2 and 4 of 8 contiguous elements, in registers */
static inline void fwht8(float *v) {
    float a0 = v[0] + v[1], a1 = v[0] - v[1], a2 = v[2] + v[3], a3 = v[2] - v[3];
    float a4 = v[4] + v[5], a5 = v[4] - v[5], a6 = v[6] + v[7], a7 = v[6] - v[7];
    float b0 = a0 + a2, b2 = a0 - a2, b1 = a1 + a3, b3 = a1 - a3;
    float b4 = a4 + a6, b6 = a4 - a6, b5 = a5 + a7, b7 = a5 - a7;
    v[0] = b0 + b4, v[4] = b0 - b4, v[1] = b1 + b5, v[5] = b1 - b5;
    v[2] = b2 + b6, v[6] = b2 - b6, v[3] = b3 + b7, v[7] = b3 - b7;
}

/* stages 1 .. n/2 of one contiguous block of n */
static void fwht_block(float *v, int64_t n) {
    int64_t h = 1;
    if (n >= 8) {
        for (int64_t i = 0; i < n; i += 8) fwht8(v + i);
        h = 8;
    }
    for (; h < n; h <<= 1)
        for (int64_t i = 0; i < n; i += h << 1) {
            float *x = v + i, *y = v + i + h;
#pragma omp simd
            for (int64_t j = 0; j < h; j++) {
                float a = x[j], b = y[j];
                x[j] = a + b;
                y[j] = a - b;
            }
        }
}

/* stages h0 .. h0 2^(t-1) of the tile of columns [0, FWHT_TILE_W) at v (rows k h0) */
static void fwht_tile(float *v, int64_t h0, int t, float *buf) {
    const int64_t R = (int64_t)1 << t, W = FWHT_TILE_W;
    for (int64_t k = 0; k < R; k++)
        for (int64_t c = 0; c < W; c++) buf[k * W + c] = v[k * h0 + c];
    for (int64_t h = 1; h < R; h <<= 1) /* stage h h0 */
        for (int64_t i = 0; i < R; i += h << 1)
            for (int64_t k = i; k < i + h; k++) {
                float *x = buf + k * W, *y = buf + (k + h) * W;
#pragma omp simd
                for (int64_t c = 0; c < W; c++) {
                    float a = x[c], b = y[c];
                    x[c] = a + b;
                    y[c] = a - b;
                }
            }
    for (int64_t k = 0; k < R; k++)
        for (int64_t c = 0; c < W; c++) v[k * h0 + c] = buf[k * W + c];
}

int cpu_fwht(float *x, int64_t rows, int64_t L) {
    if (L < 1 || (L & (L - 1))) return error_set("fwht: length %lld is not a power of two", (long long)L);
    if (rows <= 0 || L == 1) return 0;
    int64_t nb = L < ((int64_t)1 << FWHT_BLOCK_LOG) ? L : (int64_t)1 << FWHT_BLOCK_LOG;
    int64_t blocks = rows * (L / nb); /* rows are contiguous: block b starts at b nb */
#pragma omp parallel for schedule(static) if (rows * L >= 65536)
    for (int64_t b = 0; b < blocks; b++) fwht_block(x + b * nb, nb);
    /* the stages left, h0 = nb, 2^FWHT_TILE_LOG nb, ... (h0 >= FWHT_TILE_W here) */
    for (int64_t h0 = nb; h0 < L;) {
        int t = 0;
        while (t < FWHT_TILE_LOG && (h0 << (t + 1)) <= L) t++;
        int64_t super = h0 << t, per_super = h0 / FWHT_TILE_W, tiles = rows * (L / super) * per_super;
#pragma omp parallel
        {
            float buf[FWHT_TILE_W << FWHT_TILE_LOG];
#pragma omp for schedule(static)
            for (int64_t i = 0; i < tiles; i++)
                fwht_tile(x + (i / per_super) * super + (i % per_super) * FWHT_TILE_W, h0, t, buf);
        }
        h0 = super;
    }
    return 0;
}
