/* cpu_layout.c: CPU layout kernels: strided 2-D copy, the [a,b,c,d] -> [a,c,b,d] permute,
 * and the fast Walsh-Hadamard transform. */
#include "core/error.h"
#include "kernels/cpu/cpu_kernels.h"

int cpu_copy2d(float *dst, int64_t ld_dst, const float *src, int64_t ld_src, int64_t rows, int64_t cols,
               int accumulate) {
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
    for (int64_t r = 0; r < rows; r++) {
        float *d = dst + r * ld_dst;
        const float *s = src + r * ld_src;
        if (accumulate)
            for (int64_t c = 0; c < cols; c++) d[c] += s[c];
        else
            for (int64_t c = 0; c < cols; c++) d[c] = s[c];
    }
    return 0;
}

int cpu_permute_0213(float *out, const float *in, int64_t d0, int64_t d1, int64_t d2, int64_t d3, int accumulate) {
#pragma omp parallel for collapse(2) schedule(static) if (d0 * d1 * d2 * d3 > 65536)
    for (int64_t a = 0; a < d0; a++)
        for (int64_t b = 0; b < d1; b++)
            for (int64_t c = 0; c < d2; c++) {
                const float *s = in + ((a * d1 + b) * d2 + c) * d3;
                float *d = out + ((a * d2 + c) * d1 + b) * d3;
                if (accumulate)
                    for (int64_t e = 0; e < d3; e++) d[e] += s[e];
                else
                    for (int64_t e = 0; e < d3; e++) d[e] = s[e];
            }
    return 0;
}

int cpu_fwht(float *x, int64_t rows, int64_t L) {
    if (L < 1 || (L & (L - 1))) return error_set("fwht: length %lld is not a power of two", (long long)L);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        float *v = x + r * L;
        for (int64_t h = 1; h < L; h <<= 1)
            for (int64_t i = 0; i < L; i += h << 1)
                for (int64_t j = i; j < i + h; j++) {
                    float a = v[j], b = v[j + h];
                    v[j] = a + b;
                    v[j + h] = a - b;
                }
    }
    return 0;
}
