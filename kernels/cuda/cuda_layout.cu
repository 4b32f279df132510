/* cuda_layout.cu: strided 2-D copy, the [a,b,c,d] -> [a,c,b,d] permute and the fast
 * Walsh-Hadamard transform; the same semantics as kernels/cpu/cpu_layout.c. */
#include <cuda_runtime.h>

#include "core/error.h"
#include "kernels/cuda/cuda_check.h"

static __global__ void copy2d_kernel(float *dst, int64_t ldd, const float *src, int64_t lds, int64_t rows,
                                     int64_t cols, int accumulate) {
    int64_t n = rows * cols;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)blockDim.x * gridDim.x) {
        int64_t r = i / cols, c = i % cols;
        float v = src[r * lds + c];
        if (accumulate) dst[r * ldd + c] += v;
        else dst[r * ldd + c] = v;
    }
}

extern "C" int cuda_copy2d(float *dst, int64_t ld_dst, const float *src, int64_t ld_src, int64_t rows,
                           int64_t cols, int accumulate) {
    int64_t n = rows * cols;
    if (n == 0) return 0;
    if (accumulate && ld_dst == 0 && rows > 1)
        return error_set("cuda copy2d: accumulating several rows into one (ld_dst 0) would race");
    copy2d_kernel<<<cuda_ew_blocks((size_t)n), CUDA_EW_THREADS, 0, cuda_stream()>>>(dst, ld_dst, src, ld_src, rows,
                                                                                     cols, accumulate);
    CUDA_CHECK_LAUNCH("copy2d_kernel");
    return 0;
}

static __global__ void permute_kernel(float *out, const float *in, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                                      int accumulate) {
    int64_t n = d0 * d1 * d2 * d3;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)blockDim.x * gridDim.x) {
        int64_t e = i % d3, t = i / d3, c = t % d2, t2 = t / d2, b = t2 % d1, a = t2 / d1;
        int64_t o = ((a * d2 + c) * d1 + b) * d3 + e;
        if (accumulate) out[o] += in[i];
        else out[o] = in[i];
    }
}

extern "C" int cuda_permute_0213(float *out, const float *in, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                                 int accumulate) {
    int64_t n = d0 * d1 * d2 * d3;
    if (n == 0) return 0;
    permute_kernel<<<cuda_ew_blocks((size_t)n), CUDA_EW_THREADS, 0, cuda_stream()>>>(out, in, d0, d1, d2, d3,
                                                                                      accumulate);
    CUDA_CHECK_LAUNCH("permute_kernel");
    return 0;
}

/* ---- fast Walsh-Hadamard transform: cpu_layout.c's stage groups, in shared memory ----
 * Group 0, stages 1 .. 2^(s-1) (s = min(log2 L, FWHT_SH_LOG)): one CUDA block per chunk of
 * 2^FWHT_SH_LOG contiguous elements (several rows when L is smaller). Then groups of up to
 * FWHT_TILE_LOG stages h0 .. h0 2^(t-1): one CUDA block per tile of FWHT_TILE_W adjacent
 * columns x 2^t rows of stride h0 (a warp reads a row's 32 floats: coalesced). A pass
 * through memory per group: 3 for L = 2^25 instead of 25. Every butterfly is __fadd_rn /
 * __fsub_rn of the very two values the stage-by-stage order combines, so the result is
 * bit-identical to the CPU's (which groups the stages differently). */
#define FWHT_SH_LOG 12    /* 4096 floats: 16 KB */
#define FWHT_TILE_W_LOG 5 /* 32 columns */
#define FWHT_TILE_LOG 7   /* 128 rows x 32 columns: 16 KB */
#define FWHT_THREADS 256

/* stages 1 .. 2^(log_stages-1) of the chunk of (at most) 2^log_chunk elements at
 * blockIdx.x 2^log_chunk of x[0, total) (total and the chunk: multiples of 2^log_stages) */
static __global__ void fwht_chunk_kernel(float *x, int64_t total, int log_chunk, int log_stages) {
    __shared__ float sh[1 << FWHT_SH_LOG];
    int64_t start = (int64_t)blockIdx.x << log_chunk;
    int n = (int)(total - start < ((int64_t)1 << log_chunk) ? total - start : (int64_t)1 << log_chunk);
    float *v = x + start;
    for (int i = threadIdx.x; i < n; i += blockDim.x) sh[i] = v[i];
    __syncthreads();
    for (int lh = 0; lh < log_stages; lh++) {
        int h = 1 << lh;
        for (int p = threadIdx.x; p < n / 2; p += blockDim.x) {
            int j = ((p >> lh) << (lh + 1)) | (p & (h - 1));
            float a = sh[j], b = sh[j + h];
            sh[j] = __fadd_rn(a, b);
            sh[j + h] = __fsub_rn(a, b);
        }
        __syncthreads();
    }
    for (int i = threadIdx.x; i < n; i += blockDim.x) v[i] = sh[i];
}

/* stages h0 .. h0 2^(t-1), h0 = 2^log_h0 >= FWHT_TILE_W: block b is column tile
 * b mod (h0 / W) of super-block b / (h0 / W) (super-blocks of h0 2^t elements, rows
 * included); its elements are base + k h0 + c, k < 2^t, c < W */
static __global__ void fwht_tile_kernel(float *x, int log_h0, int t) {
    __shared__ float sh[1 << (FWHT_TILE_W_LOG + FWHT_TILE_LOG)];
    const int W = 1 << FWHT_TILE_W_LOG, R = 1 << t;
    const int c = threadIdx.x & (W - 1), r0 = threadIdx.x >> FWHT_TILE_W_LOG,
              rstep = blockDim.x >> FWHT_TILE_W_LOG;
    const int log_tiles = log_h0 - FWHT_TILE_W_LOG;
    int64_t b = blockIdx.x, sb = b >> log_tiles, ct = b & (((int64_t)1 << log_tiles) - 1);
    float *v = x + (sb << (log_h0 + t)) + (ct << FWHT_TILE_W_LOG);
    for (int k = r0; k < R; k += rstep) sh[k * W + c] = v[((int64_t)k << log_h0) + c];
    __syncthreads();
    for (int lh = 0; lh < t; lh++) {
        int h = 1 << lh;
        for (int p = r0; p < R / 2; p += rstep) {
            int k = ((p >> lh) << (lh + 1)) | (p & (h - 1));
            float a = sh[k * W + c], bb = sh[(k + h) * W + c];
            sh[k * W + c] = __fadd_rn(a, bb);
            sh[(k + h) * W + c] = __fsub_rn(a, bb);
        }
        __syncthreads();
    }
    for (int k = r0; k < R; k += rstep) v[((int64_t)k << log_h0) + c] = sh[k * W + c];
}

extern "C" int cuda_fwht(float *x, int64_t rows, int64_t L) {
    if (L < 1 || (L & (L - 1))) return error_set("fwht: length %lld is not a power of two", (long long)L);
    if (rows <= 0 || L == 1) return 0;
    int log_L = 0;
    while (((int64_t)1 << log_L) < L) log_L++;
    int log_s = log_L < FWHT_SH_LOG ? log_L : FWHT_SH_LOG;
    int64_t total = rows * L, chunks = (total + ((int64_t)1 << FWHT_SH_LOG) - 1) >> FWHT_SH_LOG;
    if (chunks > 0x7fffffff) return error_set("fwht: %lld rows of %lld too large", (long long)rows, (long long)L);
    fwht_chunk_kernel<<<(unsigned)chunks, FWHT_THREADS, 0, cuda_stream()>>>(x, total, FWHT_SH_LOG, log_s);
    CUDA_CHECK_LAUNCH("fwht_chunk_kernel");
    for (int log_h0 = log_s; log_h0 < log_L;) {
        int t = log_L - log_h0 < FWHT_TILE_LOG ? log_L - log_h0 : FWHT_TILE_LOG;
        int64_t tiles = rows << (log_L - t - FWHT_TILE_W_LOG); /* rows L / (2^t W) */
        if (tiles > 0x7fffffff) return error_set("fwht: %lld rows of %lld too large", (long long)rows, (long long)L);
        fwht_tile_kernel<<<(unsigned)tiles, FWHT_THREADS, 0, cuda_stream()>>>(x, log_h0, t);
        CUDA_CHECK_LAUNCH("fwht_tile_kernel");
        log_h0 += t;
    }
    return 0;
}
