/* cuda_optim.cu: the optimizer ops of the CUDA backend, as kernels/cpu/cpu_optim.c.
 * sumsq: a deterministic two-pass reduction in double: a fixed number of blocks (a
 * function of n only, never of the device) write partial sums to the scratch, then one
 * block adds them in a fixed tree order and does out[0] += (float)total, like the CPU.
 * adamw: one elementwise kernel per call with the scalars of struct adamw_step, each
 * float expression in the CPU's order with the _rn intrinsics (no FMA contraction), so an
 * update rounds as the CPU's does (sqrtf and the divisions are IEEE: no fast-math).
 * The multi-tensor forms take a tensor list (cuda_tensor_list.h, kept across calls: the
 * steady state uploads nothing) and run the same device functions, so each tensor's result
 * is bit-identical to the single-tensor op's. sumsq_multi: two launches for all tensors;
 * the first pass gives tensor k the blocks cuda_sumsq would (sumsq_blocks) and each block
 * sums exactly the elements it would there, the second has one block per tensor (as
 * cuda_sumsq's final kernel). adamw_multi: one launch, one block per chunk of
 * ADAMW_CHUNK elements of a tensor. */
#include <cuda_runtime.h>

#include "core/backend.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_reduce.h"
#include "kernels/cuda/cuda_tensor_list.h"

/* most partial sums of sumsq's first pass (doubles in the scratch) */
#define SUMSQ_BLOCKS 512
/* elements per block of adamw_multi (32 per thread) */
#define ADAMW_CHUNK (32 * CUDA_EW_THREADS)

/* blocks of sumsq's first pass over n elements */
static unsigned sumsq_blocks(size_t n) {
    size_t b = (n + CUDA_ROW_THREADS - 1) / CUDA_ROW_THREADS;
    return (unsigned)(b < SUMSQ_BLOCKS ? b : SUMSQ_BLOCKS);
}

/* block j of a first pass of `parts` blocks over x[0, n): each thread's grid-stride share
 * in double, then the block's fixed tree */
static __device__ double sumsq_part(const float *x, size_t n, size_t j, size_t parts, double *sh) {
    double acc = 0;
    for (size_t i = j * blockDim.x + threadIdx.x; i < n; i += parts * blockDim.x)
        acc = __dadd_rn(acc, __dmul_rn((double)x[i], (double)x[i]));
    return block_sum_double(acc, sh);
}

/* the second pass: out[0] += (float)(sum of partial[0, parts)) */
static __device__ void sumsq_total(float *out, const double *partial, unsigned parts, double *sh) {
    double acc = 0;
    for (unsigned i = threadIdx.x; i < parts; i += blockDim.x)
        acc = __dadd_rn(acc, partial[i]);
    acc = block_sum_double(acc, sh);
    if (threadIdx.x == 0) out[0] = __fadd_rn(out[0], (float)acc);
}

static __global__ void sumsq_partial_kernel(double *partial, const float *x, size_t n) {
    __shared__ double sh[CUDA_ROW_THREADS];
    double acc = sumsq_part(x, n, blockIdx.x, gridDim.x, sh);
    if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

static __global__ void sumsq_final_kernel(float *out, const double *partial, unsigned parts) {
    __shared__ double sh[CUDA_ROW_THREADS];
    sumsq_total(out, partial, parts, sh);
}

extern "C" int cuda_sumsq(float *out, const float *x, size_t n) {
    if (n == 0) return 0; /* the CPU adds 0 */
    size_t cap = 0;
    double *partial = (double *)cuda_scratch(&cap);
    if (!partial) return -1;
    unsigned parts = sumsq_blocks(n);
    if ((size_t)parts * sizeof(double) > cap) return error_set("sumsq (cuda): scratch too small");
    sumsq_partial_kernel<<<parts, CUDA_ROW_THREADS, 0, cuda_stream()>>>(partial, x, n);
    CUDA_CHECK_LAUNCH("sumsq partial");
    sumsq_final_kernel<<<1, CUDA_ROW_THREADS, 0, cuda_stream()>>>(out, partial, parts);
    CUDA_CHECK_LAUNCH("sumsq final");
    return 0;
}

/* transformers 4.6 AdamW: m = m b1 + g c1; v = v b2 + g g c2; p -= step m / (sqrt(v) + eps);
 * then p -= decay p (decay = lr wd) */
static __device__ __forceinline__ void adamw_hf_element(float *p, const float *g, float *m,
                                                        float *v, size_t i, struct adamw_step a) {
    float gi = __fmul_rn(g[i], a.grad_scale);
    float mi = __fadd_rn(__fmul_rn(m[i], a.beta1), __fmul_rn(gi, a.one_minus_beta1));
    float vi = __fadd_rn(__fmul_rn(v[i], a.beta2), __fmul_rn(__fmul_rn(gi, gi), a.one_minus_beta2));
    m[i] = mi;
    v[i] = vi;
    float pi =
        __fsub_rn(p[i], __fmul_rn(a.step_size, __fdiv_rn(mi, __fadd_rn(__fsqrt_rn(vi), a.eps))));
    if (a.decay != 0.0f) pi = __fsub_rn(pi, __fmul_rn(a.decay, pi));
    p[i] = pi;
}

/* torch.optim.AdamW: p *= decay (= 1 - lr wd); m += (g - m) c1; v = v b2 + g g c2;
 * p -= step m / (sqrt(v) / sqrt(bc2) + eps) */
static __device__ __forceinline__ void
adamw_torch_element(float *p, const float *g, float *m, float *v, size_t i, struct adamw_step a) {
    float gi = __fmul_rn(g[i], a.grad_scale);
    float pi = __fmul_rn(p[i], a.decay);
    float mi = __fadd_rn(m[i], __fmul_rn(__fsub_rn(gi, m[i]), a.one_minus_beta1));
    float vi = __fadd_rn(__fmul_rn(v[i], a.beta2), __fmul_rn(__fmul_rn(gi, gi), a.one_minus_beta2));
    m[i] = mi;
    v[i] = vi;
    float den = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), a.bc2_sqrt), a.eps);
    p[i] = __fsub_rn(pi, __fmul_rn(a.step_size, __fdiv_rn(mi, den)));
}

static __global__ void adamw_hf_kernel(float *p, const float *g, float *m, float *v, size_t n,
                                       struct adamw_step a) {
    GRID_STRIDE(i, n) adamw_hf_element(p, g, m, v, i, a);
}

static __global__ void adamw_torch_kernel(float *p, const float *g, float *m, float *v, size_t n,
                                          struct adamw_step a) {
    GRID_STRIDE(i, n) adamw_torch_element(p, g, m, v, i, a);
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

/* ---- multi-tensor forms: one list each, kept across calls ---- */

static struct tensor_list_cache g_sumsq_list, g_adamw_list;

/* first pass: block b is block b - first[k] of the sumsq_blocks(n[k]) cuda_sumsq would
 * launch for tensor k; partial[b] is that block's sum */
static __global__ void sumsq_multi_partial_kernel(double *partial, struct tensor_list l) {
    __shared__ double sh[CUDA_ROW_THREADS];
    int k = l.block_tensor[blockIdx.x];
    unsigned first = l.first[k], parts = l.first[k + 1] - first;
    double acc = sumsq_part(l.ptr[k], l.n[k], blockIdx.x - first, parts, sh);
    if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

/* second pass: block k adds tensor k's partial sums into out[k] (an empty tensor: none) */
static __global__ void sumsq_multi_final_kernel(float *out, const double *partial,
                                                struct tensor_list l) {
    __shared__ double sh[CUDA_ROW_THREADS];
    unsigned k = blockIdx.x, first = l.first[k], parts = l.first[k + 1] - first;
    if (parts == 0) return; /* the whole block: cuda_sumsq leaves out untouched for n == 0 */
    sumsq_total(out + k, partial + first, parts, sh);
}

static unsigned adamw_blocks(size_t n) {
    return (unsigned)((n + ADAMW_CHUNK - 1) / ADAMW_CHUNK);
}

/* block b: chunk b - first[k] of tensor k, with step[tag[k] != 0] */
static __global__ void adamw_multi_kernel(struct tensor_list l, struct adamw_step s0,
                                          struct adamw_step s1) {
    int k = l.block_tensor[blockIdx.x], c = l.count;
    size_t n = l.n[k], begin = (size_t)(blockIdx.x - l.first[k]) * ADAMW_CHUNK;
    size_t end = n - begin < ADAMW_CHUNK ? n : begin + ADAMW_CHUNK;
    float *p = l.ptr[k], *m = l.ptr[2 * c + k], *v = l.ptr[3 * c + k];
    const float *g = l.ptr[c + k];
    struct adamw_step a = l.tag[k] ? s1 : s0;
    if (a.hf_variant)
        for (size_t i = begin + threadIdx.x; i < end; i += blockDim.x)
            adamw_hf_element(p, g, m, v, i, a);
    else
        for (size_t i = begin + threadIdx.x; i < end; i += blockDim.x)
            adamw_torch_element(p, g, m, v, i, a);
}

extern "C" int cuda_sumsq_multi(float *out, const float *const *x, const size_t *n, int count) {
    if (count < 0) return error_set("sumsq_multi (cuda): count %d", count);
    if (count == 0) return 0;
    const void *slots[1] = {x};
    if (tensor_list_prepare(&g_sumsq_list, 1, slots, n, NULL, count, sumsq_blocks))
        return error_wrap("sumsq_multi (cuda): ");
    const struct tensor_list *l = &g_sumsq_list.list;
    if (l->blocks == 0) return 0; /* every tensor empty */
    size_t cap = 0;
    double *partial = (double *)cuda_scratch(&cap);
    if (!partial) return -1;
    if ((size_t)l->blocks * sizeof(double) > cap)
        return error_set(
            "sumsq_multi (cuda): %u partial sums for %d tensors exceed the scratch (%zu bytes)",
            l->blocks, count, cap);
    sumsq_multi_partial_kernel<<<l->blocks, CUDA_ROW_THREADS, 0, cuda_stream()>>>(partial, *l);
    CUDA_CHECK_LAUNCH("sumsq_multi partial");
    sumsq_multi_final_kernel<<<(unsigned)count, CUDA_ROW_THREADS, 0, cuda_stream()>>>(out, partial,
                                                                                      *l);
    CUDA_CHECK_LAUNCH("sumsq_multi final");
    return 0;
}

extern "C" int cuda_adamw_multi(float *const *p, const float *const *g, float *const *m,
                                float *const *v, const size_t *n, const char *decay, int count,
                                const struct adamw_step *step) {
    if (!step) return error_set("adamw_multi (cuda): no step scalars");
    if (count < 0) return error_set("adamw_multi (cuda): count %d", count);
    if (count == 0) return 0;
    const void *slots[4] = {p, g, m, v};
    if (tensor_list_prepare(&g_adamw_list, 4, slots, n, decay, count, adamw_blocks))
        return error_wrap("adamw_multi (cuda): ");
    const struct tensor_list *l = &g_adamw_list.list;
    if (l->blocks == 0) return 0;
    adamw_multi_kernel<<<l->blocks, CUDA_EW_THREADS, 0, cuda_stream()>>>(*l, step[0], step[1]);
    CUDA_CHECK_LAUNCH("adamw_multi");
    return 0;
}

extern "C" void cuda_optim_release(void) {
    tensor_list_release(&g_sumsq_list);
    tensor_list_release(&g_adamw_list);
}
