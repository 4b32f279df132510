/* cpu_backend.c: the CPU backend's op table, its memory functions and GEMM (OpenBLAS). */
#include <cblas.h>
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

int cpu_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
             int64_t stride_a, const float *b, int ldb, int64_t stride_b, float beta, float *c,
             int ldc, int64_t stride_c, int batch) {
    enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
    for (int i = 0; i < batch; i++)
        cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b,
                    ldb, beta, c + i * stride_c, ldc);
    return 0;
}

static int cpu_set_precision(const char *mode) {
    if (mode && !strcmp(mode, "fp32")) return 0;
    return error_set("precision '%s' is not available on the cpu backend (fp32 only; tf32 and bf16 need --device cuda)",
                     mode ? mode : "?");
}

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
};
