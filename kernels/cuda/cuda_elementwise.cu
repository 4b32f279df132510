/* cuda_elementwise.cu: fill and the elementwise ops (relu, gelu_new, mul, add, scale) as
 * grid-stride kernels over n elements, and add_bias (rows x columns); the same formulas as
 * kernels/cpu/cpu_elementwise.c (add_bias: cpu_gemm.c).
 * In-place use (y == x or y == a) is fine: each element is read, then written, by one
 * thread. */
#include <cuda_runtime.h>

#include "core/bf16.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_op_math.h"

static __global__ void fill_kernel(float *x, float v, size_t n) {
    GRID_STRIDE(i, n) x[i] = v;
}

static __global__ void relu_kernel(float *y, const float *x, size_t n) {
    GRID_STRIDE(i, n) y[i] = x[i] > 0 ? x[i] : 0.0f;
}

/* gelu_new as the CPU (gelu_new_value, cuda_op_math.h: the _rn intrinsics keep nvcc from
 * contracting the multiply-adds into FMAs, so the rounding is the CPU's; only tanhf itself
 * may differ, CUDA's is within 2 ulp) */
static __global__ void gelu_new_kernel(float *y, const float *x, size_t n) {
    GRID_STRIDE(i, n) y[i] = gelu_new_value(x[i]);
}

/* gelu_new(a) g: gelu_new_kernel's expression, then the product (shared with gelu_mul_bf16) */
static __global__ void gelu_mul_kernel(float *y, const float *a, const float *g, size_t n) {
    GRID_STRIDE(i, n) y[i] = gelu_mul_value(a[i], g[i]);
}

static __global__ void mul_kernel(float *y, const float *a, const float *b, size_t n) {
    GRID_STRIDE(i, n) y[i] = a[i] * b[i];
}

static __global__ void add_kernel(float *y, const float *a, const float *b, size_t n) {
    GRID_STRIDE(i, n) y[i] = a[i] + b[i];
}

/* x + b[column], b as the GEMM reads it: blocks over rows, threads over a row's columns */
static __global__ void add_bias_kernel(float *y, const float *x, const float *b, int64_t rows, int64_t cols,
                                       int drop_bits) {
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x)
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
            y[r * cols + c] = x[r * cols + c] + f32_round_mantissa(b[c], drop_bits);
}

static __global__ void scale_kernel(float *y, const float *x, float s, size_t n) {
    GRID_STRIDE(i, n) y[i] = x[i] * s;
}

extern "C" int cuda_fill(float *x, float value, size_t n) {
    EW_LAUNCH(fill_kernel, n, x, value, n);
}
extern "C" int cuda_relu(float *y, const float *x, size_t n) {
    EW_LAUNCH(relu_kernel, n, y, x, n);
}
extern "C" int cuda_gelu_mul(float *y, const float *a, const float *g, size_t n) {
    EW_LAUNCH(gelu_mul_kernel, n, y, a, g, n);
}
extern "C" int cuda_gelu_new(float *y, const float *x, size_t n) {
    EW_LAUNCH(gelu_new_kernel, n, y, x, n);
}
extern "C" int cuda_mul(float *y, const float *a, const float *b, size_t n) {
    EW_LAUNCH(mul_kernel, n, y, a, b, n);
}
extern "C" int cuda_add(float *y, const float *a, const float *b, size_t n) {
    EW_LAUNCH(add_kernel, n, y, a, b, n);
}
extern "C" int cuda_add_bias(float *y, const float *x, const float *b, int64_t rows, int64_t cols) {
    if (rows < 0 || cols < 0)
        return error_set("cuda add_bias: negative size %lld x %lld", (long long)rows, (long long)cols);
    if (rows == 0 || cols == 0) return 0;
    unsigned threads = cols >= 256 ? 256u : (unsigned)((cols + 31) / 32 * 32);
    unsigned blocks = rows < 65536 ? (unsigned)rows : 65536u;
    add_bias_kernel<<<blocks, threads, 0, cuda_stream()>>>(y, x, b, rows, cols, cuda_gemm_drop_bits());
    CUDA_CHECK_LAUNCH("add_bias_kernel");
    return 0;
}
extern "C" int cuda_scale(float *y, const float *x, float s, size_t n) {
    EW_LAUNCH(scale_kernel, n, y, x, s, n);
}
