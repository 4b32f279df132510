/* cpu_elementwise.c: CPU elementwise kernels (relu, gelu_new, mul, add, scale). */

#include "kernels/cpu/cpu_kernels.h"

int cpu_relu(float *y, const float *x, size_t n) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0.0f;
    return 0;
}

/* gelu_new as transformers evaluates it (cpu_gelu_new_1, cpu_kernels.h) */
int cpu_gelu_new(float *y, const float *x, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) y[i] = cpu_gelu_new_1(x[i]);
    return 0;
}

int cpu_gelu_mul(float *y, const float *a, const float *g, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) y[i] = cpu_gelu_new_1(a[i]) * g[i];
    return 0;
}

int cpu_mul(float *y, const float *a, const float *b, size_t n) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) y[i] = a[i] * b[i];
    return 0;
}

int cpu_add(float *y, const float *a, const float *b, size_t n) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
    return 0;
}

int cpu_scale(float *y, const float *x, float s, size_t n) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) y[i] = x[i] * s;
    return 0;
}
