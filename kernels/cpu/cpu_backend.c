/* cpu_backend.c: the CPU backend's op table and its memory functions. */
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "core/error.h"
#include "kernels/cpu/cpu_kernels.h"

static void *cpu_alloc(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64)) {
        error_set("out of host memory allocating %zu bytes", bytes);
        return NULL;
    }
    return p;
}

static void cpu_free(void *p) { free(p); }

static int cpu_copy(void *dst, const void *src, size_t bytes) {
    memcpy(dst, src, bytes);
    return 0;
}

static int cpu_fill(float *x, float v, size_t n) {
    uint32_t bits;
    memcpy(&bits, &v, 4);
    if (bits == 0) { /* +0.0f: all bytes zero (gradient buffers: most calls) */
        memset(x, 0, n * sizeof *x);
        return 0;
    }
    for (size_t i = 0; i < n; i++) x[i] = v;
    return 0;
}

static int cpu_sync(void) { return 0; }

const struct backend backend_cpu = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .fill = cpu_fill,
    .sync = cpu_sync,
    .gemm = cpu_gemm,
    .embedding = cpu_embedding,
    .rmsnorm = cpu_rmsnorm,
    .attn_softmax = cpu_attn_softmax,
    .position_bias = cpu_position_bias,
    .relu = cpu_relu,
    .gelu_new = cpu_gelu_new,
    .mul = cpu_mul,
    .add = cpu_add,
    .scale = cpu_scale,
    .cross_entropy = cpu_cross_entropy,
    .argmax = cpu_argmax,
    .copy2d = cpu_copy2d,
    .permute_0213 = cpu_permute_0213,
    .fwht = cpu_fwht,
    .dropout = cpu_dropout,
    .embedding_backward = cpu_embedding_backward,
    .rmsnorm_backward = cpu_rmsnorm_backward,
    .attn_softmax_backward = cpu_attn_softmax_backward,
    .position_bias_backward = cpu_position_bias_backward,
    .relu_backward = cpu_relu_backward,
    .gelu_new_backward = cpu_gelu_new_backward,
    .mul_acc = cpu_mul_acc,
    .axpy = cpu_axpy,
    .cross_entropy_backward = cpu_cross_entropy_backward,
    .dropout_backward = cpu_dropout_backward,
    .sumsq = cpu_sumsq,
    .adamw = cpu_adamw,
    .set_precision = cpu_set_precision,
    .sumsq_multi = cpu_sumsq_multi,
    .adamw_multi = cpu_adamw_multi,
    .embedding_backward_unique = cpu_embedding_backward_unique,
    .relu_dropout = cpu_relu_dropout,
    .relu_dropout_backward = cpu_relu_dropout_backward,
    .dropout_add = cpu_dropout_add,
    .gelu_mul = cpu_gelu_mul,
    .gelu_mul_backward = cpu_gelu_mul_backward,
    .attn_softmax_dropout = cpu_attn_softmax_dropout,
    .convert = cpu_convert,
    .gemm_bf16 = cpu_gemm_bf16,
    .rmsnorm_to_bf16 = cpu_rmsnorm_to_bf16,
    .relu_dropout_bf16 = cpu_relu_dropout_bf16,
    .gelu_mul_bf16 = cpu_gelu_mul_bf16,
    .gelu_mul_bf16_backward = cpu_gelu_mul_bf16_backward,
    .dropout_add_bf16 = cpu_dropout_add_bf16,
    .add_bias = cpu_add_bias,
};
