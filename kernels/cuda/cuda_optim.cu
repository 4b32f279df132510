/* cuda_optim.cu: the optimizer ops of the CUDA backend, as kernels/cpu/cpu_optim.c.
 * sumsq: a deterministic two-pass reduction in double: a fixed number of blocks (a
 * function of n only, never of the device) write partial sums to the scratch, then one
 * block adds them in a fixed tree order and does out[0] += (float)total, like the CPU.
 * adamw: one elementwise kernel per call with the scalars of struct adamw_step, each
 * float expression in the CPU's order with the _rn intrinsics (no FMA contraction), so an
 * update rounds as the CPU's does (sqrtf and the divisions are IEEE: no fast-math). */
#include <cuda_runtime.h>

#include "core/backend.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_reduce.h"

/* most partial sums of sumsq's first pass (doubles in the scratch) */
#define SUMSQ_BLOCKS 512

static __global__ void sumsq_partial_kernel(double *partial, const float *x, size_t n) {
    __shared__ double sh[CUDA_ROW_THREADS];
    double acc = 0;
    GRID_STRIDE(i, n) acc = __dadd_rn(acc, __dmul_rn((double)x[i], (double)x[i]));
    acc = block_sum_double(acc, sh);
    if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

static __global__ void sumsq_final_kernel(float *out, const double *partial, unsigned parts) {
    __shared__ double sh[CUDA_ROW_THREADS];
    double acc = 0;
    for (unsigned i = threadIdx.x; i < parts; i += blockDim.x)
        acc = __dadd_rn(acc, partial[i]);
    acc = block_sum_double(acc, sh);
    if (threadIdx.x == 0) out[0] = __fadd_rn(out[0], (float)acc);
}

extern "C" int cuda_sumsq(float *out, const float *x, size_t n) {
    if (n == 0) return 0; /* the CPU adds 0 */
    size_t cap = 0;
    double *partial = (double *)cuda_scratch(&cap);
    if (!partial) return -1;
    size_t b = (n + CUDA_ROW_THREADS - 1) / CUDA_ROW_THREADS;
    unsigned parts = (unsigned)(b < SUMSQ_BLOCKS ? b : SUMSQ_BLOCKS);
    if ((size_t)parts * sizeof(double) > cap) return error_set("sumsq (cuda): scratch too small");
    sumsq_partial_kernel<<<parts, CUDA_ROW_THREADS, 0, cuda_stream()>>>(partial, x, n);
    CUDA_CHECK_LAUNCH("sumsq partial");
    sumsq_final_kernel<<<1, CUDA_ROW_THREADS, 0, cuda_stream()>>>(out, partial, parts);
    CUDA_CHECK_LAUNCH("sumsq final");
    return 0;
}

/* transformers 4.6 AdamW: m = m b1 + g c1; v = v b2 + g g c2; p -= step m / (sqrt(v) + eps);
 * then p -= decay p (decay = lr wd) */
static __global__ void adamw_hf_kernel(float *p, const float *g, float *m, float *v, size_t n,
                                       struct adamw_step a) {
    GRID_STRIDE(i, n) {
        float gi = __fmul_rn(g[i], a.grad_scale);
        float mi = __fadd_rn(__fmul_rn(m[i], a.beta1), __fmul_rn(gi, a.one_minus_beta1));
        float vi =
            __fadd_rn(__fmul_rn(v[i], a.beta2), __fmul_rn(__fmul_rn(gi, gi), a.one_minus_beta2));
        m[i] = mi;
        v[i] = vi;
        float pi = __fsub_rn(
            p[i], __fmul_rn(a.step_size, __fdiv_rn(mi, __fadd_rn(__fsqrt_rn(vi), a.eps))));
        if (a.decay != 0.0f) pi = __fsub_rn(pi, __fmul_rn(a.decay, pi));
        p[i] = pi;
    }
}

/* torch.optim.AdamW: p *= decay (= 1 - lr wd); m += (g - m) c1; v = v b2 + g g c2;
 * p -= step m / (sqrt(v) / sqrt(bc2) + eps) */
static __global__ void adamw_torch_kernel(float *p, const float *g, float *m, float *v, size_t n,
                                          struct adamw_step a) {
    GRID_STRIDE(i, n) {
        float gi = __fmul_rn(g[i], a.grad_scale);
        float pi = __fmul_rn(p[i], a.decay);
        float mi = __fadd_rn(m[i], __fmul_rn(__fsub_rn(gi, m[i]), a.one_minus_beta1));
        float vi =
            __fadd_rn(__fmul_rn(v[i], a.beta2), __fmul_rn(__fmul_rn(gi, gi), a.one_minus_beta2));
        m[i] = mi;
        v[i] = vi;
        float den = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), a.bc2_sqrt), a.eps);
        p[i] = __fsub_rn(pi, __fmul_rn(a.step_size, __fdiv_rn(mi, den)));
    }
}

extern "C" int cuda_adamw(float *p, const float *g, float *m, float *v, size_t n,
                          const struct adamw_step *a) {
    if (!a) return error_set("adamw (cuda): no step scalars");
    if (n == 0) return 0;
    if (a->hf_variant)
        adamw_hf_kernel<<<cuda_ew_blocks(n), CUDA_EW_THREADS, 0, cuda_stream()>>>(p, g, m, v, n,
                                                                                  *a);
    else
        adamw_torch_kernel<<<cuda_ew_blocks(n), CUDA_EW_THREADS, 0, cuda_stream()>>>(p, g, m, v, n,
                                                                                     *a);
    CUDA_CHECK_LAUNCH(a->hf_variant ? "adamw (transformers 4.6)" : "adamw (torch)");
    return 0;
}
