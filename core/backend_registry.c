/* backend_registry.c: pick a backend by name ("cpu", "cuda", "auto"); helpers over the table. */
#include <string.h>

#include "core/backend.h"
#include "core/error.h"

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
