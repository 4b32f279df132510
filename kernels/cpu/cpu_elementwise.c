/* cpu_elementwise.c: CPU elementwise kernels (relu, gelu_new, mul, add, scale). */
#include <math.h>

#include "kernels/cpu/cpu_kernels.h"

int cpu_relu(float *y, const float *x, size_t n) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0.0f;
    return 0;
}

/* gelu_new as transformers evaluates it: (0.5x) * (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3))),
 * x^3 = (x*x)*x, constants rounded to f32. */
int cpu_gelu_new(float *y, const float *x, size_t n) {
    const float c = 0.7978845608028654f, k = 0.044715f;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float inner = c * (v + k * ((v * v) * v));
        y[i] = (0.5f * v) * (1.0f + tanhf(inner));
    }
    return 0;
}

int cpu_gelu_mul(float *y, const float *a, const float *g, size_t n) {
    const float c = 0.7978845608028654f, k = 0.044715f;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float v = a[i];
        float inner = c * (v + k * ((v * v) * v));
        float act = (0.5f * v) * (1.0f + tanhf(inner)); /* cpu_gelu_new's expression */
        y[i] = act * g[i];
    }
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
