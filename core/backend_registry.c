/* backend_registry.c: pick a backend by name ("cpu", "cuda", "auto"); helpers over the table. */
#include <string.h>

#include "core/backend.h"
#include "core/env.h"
#include "core/error.h"

/* the backends whose precision is "bf16" (set through backend_set_precision) */
static const struct backend *g_bf16[4];

int backend_set_precision(const struct backend *be, const char *mode) {
    if (be->set_precision(mode)) return -1;
    int is_bf16 = mode && !strcmp(mode, "bf16"), slot = -1;
    for (int i = 0; i < 4; i++) {
        if (g_bf16[i] == be) g_bf16[i] = NULL;
        if (!g_bf16[i] && slot < 0) slot = i;
    }
    if (is_bf16) g_bf16[slot] = be;
    return 0;
}

int backend_bf16_storage(const struct backend *be) {
    int set = 0;
    for (int i = 0; i < 4; i++) set |= g_bf16[i] == be;
    return set && be->convert && be->gemm_bf16 && !env_off("COMPACTER_BF16_STORAGE");
}

const struct backend *backend_by_name(const char *name) {
    if (!name || !strcmp(name, "auto")) {
#ifdef HAVE_CUDA
        if (cuda_available()) return &backend_cuda;
#endif
        return &backend_cpu;
    }
    if (!strcmp(name, "cpu")) return &backend_cpu;
    if (!strcmp(name, "cuda")) {
#ifdef HAVE_CUDA
        if (cuda_available()) return &backend_cuda;
        error_wrap("--device cuda: ");
        return NULL;
#else
        error_set("--device cuda: this build has no CUDA backend (rebuild with nvcc present, CUDA=1)");
        return NULL;
#endif
    }
    error_set("unknown device '%s' (expected cpu, cuda or auto)", name);
    return NULL;
}

int backend_gemm_2level(const struct backend *be, int trans_a, int trans_b, int m, int n, int k, float alpha,
                        const float *a, int lda, int64_t stride_a, int64_t outer_stride_a, const float *b, int ldb,
                        int64_t stride_b, int64_t outer_stride_b, float beta, float *c, int ldc, int64_t stride_c,
                        int64_t outer_stride_c, int inner, int outer) {
    if (be->gemm_2level)
        return be->gemm_2level(trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, outer_stride_a, b, ldb, stride_b,
                               outer_stride_b, beta, c, ldc, stride_c, outer_stride_c, inner, outer);
    for (int o = 0; o < outer; o++)
        if (be->gemm(trans_a, trans_b, m, n, k, alpha, a + o * outer_stride_a, lda, stride_a, b + o * outer_stride_b,
                     ldb, stride_b, beta, c + o * outer_stride_c, ldc, stride_c, inner))
            return -1;
    return 0;
}

int backend_sumsq_per_tensor(const struct backend *be, float *out, const float *const *x,
                             const size_t *n, int count) {
    for (int k = 0; k < count; k++)
        if (be->sumsq(out + k, x[k], n[k])) return -1;
    return 0;
}

int backend_sumsq_multi(const struct backend *be, float *out, const float *const *x,
                        const size_t *n, int count) {
    if (be->sumsq_multi) return be->sumsq_multi(out, x, n, count);
    return backend_sumsq_per_tensor(be, out, x, n, count);
}

int backend_adamw_per_tensor(const struct backend *be, float *const *p, const float *const *g,
                             float *const *m, float *const *v, const size_t *n, const char *decay,
                             int count, const struct adamw_step step[2]) {
    for (int k = 0; k < count; k++)
        if (be->adamw(p[k], g[k], m[k], v[k], n[k], &step[decay[k] ? 1 : 0])) return -1;
    return 0;
}

int backend_adamw_multi(const struct backend *be, float *const *p, const float *const *g,
                        float *const *m, float *const *v, const size_t *n, const char *decay,
                        int count, const struct adamw_step step[2]) {
    if (be->adamw_multi) return be->adamw_multi(p, g, m, v, n, decay, count, step);
    return backend_adamw_per_tensor(be, p, g, m, v, n, decay, count, step);
}

int backend_embedding_backward_unique(const struct backend *be, float *dtable, const float *dout,
                                      const int32_t *ids, int64_t n, int64_t d) {
    return be->embedding_backward_unique ? be->embedding_backward_unique(dtable, dout, ids, n, d)
                                         : be->embedding_backward(dtable, dout, ids, n, d);
}
