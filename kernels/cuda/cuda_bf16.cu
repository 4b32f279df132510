/* cuda_bf16.cu: the CUDA backend's bf16-storage ops (core/backend.h "bf16 storage"): convert,
 * and the twins of rmsnorm, relu_dropout, gelu_mul (and its backward) and dropout_add that
 * read or write bf16 (uint16_t, converted with core/bf16.h only). Each twin runs its f32
 * kernel's loop and launch geometry and calls the very arithmetic that kernel calls
 * (kernels/cuda/cuda_op_math.h) on exactly widened inputs, narrowing on store: on one device,
 * bit for bit the f32 op followed by bf16_from_f32. gemm_bf16 lives in cuda_backend.cu, with
 * the cuBLAS handle. No op allocates; in-place use is as the f32 twins' where the types
 * agree (gelu_mul_bf16: y == a), never across types (convert's dst and src must not
 * overlap). */
#include <cuda_runtime.h>

#include "core/bf16.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_dropout_mask.h"
#include "kernels/cuda/cuda_op_math.h"

static unsigned row_blocks(int64_t rows) {
    return (unsigned)(rows < CUDA_MAX_BLOCKS ? rows : CUDA_MAX_BLOCKS);
}

/* ---- convert: one grid-stride kernel each way ---- */

static __global__ void f32_to_bf16_kernel(uint16_t *dst, const float *src, size_t n) {
    GRID_STRIDE(i, n) dst[i] = bf16_from_f32(src[i]);
}

static __global__ void bf16_to_f32_kernel(float *dst, const uint16_t *src, size_t n) {
    GRID_STRIDE(i, n) dst[i] = bf16_widen(src[i]);
}

extern "C" int cuda_convert(void *dst, const void *src, size_t n, int to_bf16) {
    if (to_bf16) EW_LAUNCH(f32_to_bf16_kernel, n, (uint16_t *)dst, (const float *)src, n);
    EW_LAUNCH(bf16_to_f32_kernel, n, (float *)dst, (const uint16_t *)src, n);
}

/* ---- rmsnorm_to_bf16: rmsnorm_kernel (cuda_nn.cu), one block per row, stored narrowed ---- */

static __global__ void rmsnorm_bf16_kernel(uint16_t *out, const float *x, const float *w, int64_t rows,
                                           int64_t d, float eps) {
    __shared__ double sh[CUDA_ROW_THREADS];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const float *xr = x + r * d;
        uint16_t *yr = out + r * d;
        float inv = rmsnorm_row_inv(xr, d, eps, sh);
        for (int64_t j = threadIdx.x; j < d; j += blockDim.x)
            yr[j] = bf16_from_f32(rmsnorm_value(w[j], xr[j], inv));
    }
}

extern "C" int cuda_rmsnorm_to_bf16(uint16_t *out, const float *x, const float *w, int64_t rows, int64_t d,
                                    float eps) {
    if (rows < 0 || d <= 0)
        return error_set("rmsnorm_to_bf16: bad size rows=%lld d=%lld", (long long)rows, (long long)d);
    if (rows == 0) return 0;
    rmsnorm_bf16_kernel<<<row_blocks(rows), CUDA_ROW_THREADS, 0, cuda_stream()>>>(out, x, w, rows, d, eps);
    CUDA_CHECK_LAUNCH("rmsnorm_to_bf16");
    return 0;
}

/* ---- relu_dropout_bf16: relu_dropout_kernel (cuda_backward.cu) on widened x, y narrowed;
 * the mask is the f32 op's (y > 0 before narrowing: the same bits, as a positive product of
 * a bf16 value and s >= 1 never narrows to 0) ---- */

static __global__ void relu_dropout_bf16_kernel(uint16_t *y, uint32_t *mask, const uint16_t *x, size_t n,
                                                float p, float s, uint64_t seed, uint64_t offset) {
    size_t padded = (n + 31) / 32 * 32;
    GRID_STRIDE(i, padded) {
        float o = 0.0f;
        if (i < n) {
            o = relu_dropout_value(bf16_widen(x[i]), dropout_keep1(seed, offset, i, p), s);
            y[i] = bf16_from_f32(o);
        }
        relu_dropout_mask_word(mask, i, o);
    }
}

extern "C" int cuda_relu_dropout_bf16(uint16_t *y, uint32_t *mask, const uint16_t *x, size_t n, float p,
                                      uint64_t seed, uint64_t offset) {
    float s = 1.0f / (1.0f - p); /* on the host, as cuda_relu_dropout */
    /* blocks of CUDA_EW_THREADS (a multiple of 32): the ballot's lanes */
    EW_LAUNCH(relu_dropout_bf16_kernel, (n + 31) / 32 * 32, y, mask, x, n, p, s, seed, offset);
}

/* ---- gelu_mul_bf16 and its backward: gelu_mul_kernel (cuda_elementwise.cu) and
 * gelu_mul_backward_kernel (cuda_backward.cu) on widened a, g ---- */

static __global__ void gelu_mul_bf16_kernel(uint16_t *y, const uint16_t *a, const uint16_t *g, size_t n) {
    GRID_STRIDE(i, n) y[i] = bf16_from_f32(gelu_mul_value(bf16_widen(a[i]), bf16_widen(g[i])));
}

extern "C" int cuda_gelu_mul_bf16(uint16_t *y, const uint16_t *a, const uint16_t *g, size_t n) {
    EW_LAUNCH(gelu_mul_bf16_kernel, n, y, a, g, n);
}

static __global__ void gelu_mul_bf16_backward_kernel(float *da, float *dg, const float *dy, const uint16_t *a,
                                                     const uint16_t *g, size_t n) {
    GRID_STRIDE(i, n) {
        float v = bf16_widen(a[i]);
        if (dg) dg[i] = __fadd_rn(dg[i], gelu_mul_dg_term(dy[i], v));
        if (da) da[i] = __fadd_rn(da[i], gelu_mul_da_term(dy[i], v, bf16_widen(g[i])));
    }
}

extern "C" int cuda_gelu_mul_bf16_backward(float *da, float *dg, const float *dy, const uint16_t *a,
                                           const uint16_t *g, size_t n) {
    if (!da && !dg) return 0;
    EW_LAUNCH(gelu_mul_bf16_backward_kernel, n, da, dg, dy, a, g, n);
}

/* ---- dropout_add_bf16: dropout_add_kernel (cuda_backward.cu) on widened x; y, h f32 ---- */

static __global__ void dropout_add_bf16_kernel(float *y, const float *h, const uint16_t *x, size_t n, float p,
                                               float s, uint64_t seed, uint64_t offset) {
    size_t blocks = (n + 3) / 4;
    GRID_STRIDE(blk, blocks) {
        int keep[4];
        dropout_keep4(seed, offset, blk, p, keep);
        for (size_t i = blk * 4; i < blk * 4 + 4 && i < n; i++)
            y[i] = dropout_add_value(h[i], bf16_widen(x[i]), keep[i & 3], s);
    }
}

extern "C" int cuda_dropout_add_bf16(float *y, const float *h, const uint16_t *x, size_t n, float p,
                                     uint64_t seed, uint64_t offset) {
    float s = 1.0f / (1.0f - p); /* on the host, as cuda_dropout_add */
    EW_LAUNCH(dropout_add_bf16_kernel, (n + 3) / 4, y, h, x, n, p, s, seed, offset);
}
