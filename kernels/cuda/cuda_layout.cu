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

/* One butterfly stage of width h over every row: thread i handles pair (j, j+h). */
static __global__ void fwht_stage_kernel(float *x, int64_t rows, int64_t L, int64_t h) {
    int64_t pairs = rows * (L / 2);
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < pairs;
         i += (int64_t)blockDim.x * gridDim.x) {
        int64_t r = i / (L / 2), k = i % (L / 2);
        int64_t j = (k / h) * 2 * h + k % h;
        float *v = x + r * L;
        float a = v[j], b = v[j + h];
        v[j] = a + b;
        v[j + h] = a - b;
    }
}

extern "C" int cuda_fwht(float *x, int64_t rows, int64_t L) {
    if (L < 1 || (L & (L - 1))) return error_set("fwht: length %lld is not a power of two", (long long)L);
    if (rows == 0 || L == 1) return 0;
    size_t pairs = (size_t)(rows * (L / 2));
    for (int64_t h = 1; h < L; h <<= 1) { /* log2(L) launches, each a full pass */
        fwht_stage_kernel<<<cuda_ew_blocks(pairs), CUDA_EW_THREADS, 0, cuda_stream()>>>(x, rows, L, h);
        CUDA_CHECK_LAUNCH("fwht_stage_kernel");
    }
    return 0;
}
