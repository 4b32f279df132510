/* cpu_optim.c: CPU optimizer kernels: sum of squares (grad norm) and AdamW, and their
 * multi-tensor forms (the reference for the CUDA ones): a loop over the single-tensor
 * kernels, so bit-identical to them by construction. */
#include <math.h>

#include "core/backend.h"
#include "kernels/cpu/cpu_kernels.h"

int cpu_sumsq(float *out, const float *x, size_t n) {
    double acc = 0;
#pragma omp parallel for reduction(+ : acc) schedule(static)
    for (size_t i = 0; i < n; i++) acc += (double)x[i] * x[i];
    out[0] += (float)acc;
    return 0;
}

int cpu_adamw(float *p, const float *g, float *m, float *v, size_t n, const struct adamw_step *a) {
    const float b1 = a->beta1, b2 = a->beta2, c1 = a->one_minus_beta1, c2 = a->one_minus_beta2, eps = a->eps;
    const float gs = a->grad_scale, step = a->step_size, decay = a->decay;
    if (a->hf_variant) {
        /* transformers 4.6 AdamW: m = m b1 + g c1; v = v b2 + g g c2; p -= step m / (sqrt(v) + eps);
         * then p -= lr wd p */
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) {
            float gi = g[i] * gs;
            m[i] = m[i] * b1 + gi * c1;
            v[i] = v[i] * b2 + gi * gi * c2;
            p[i] -= step * (m[i] / (sqrtf(v[i]) + eps));
            if (decay != 0.0f) p[i] -= decay * p[i];
        }
    } else {
        /* torch.optim.AdamW: p *= 1 - lr wd; m = lerp(m, g, c1); v = v b2 + g g c2;
         * p -= step m / (sqrt(v) / sqrt(bc2) + eps) */
        const float bc2s = a->bc2_sqrt;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) {
            float gi = g[i] * gs;
            p[i] *= decay;
            m[i] += (gi - m[i]) * c1;
            v[i] = v[i] * b2 + gi * gi * c2;
            p[i] -= step * (m[i] / (sqrtf(v[i]) / bc2s + eps));
        }
    }
    return 0;
}

int cpu_sumsq_multi(float *out, const float *const *x, const size_t *n, int count) {
    for (int k = 0; k < count; k++)
        if (cpu_sumsq(out + k, x[k], n[k])) return -1;
    return 0;
}

int cpu_adamw_multi(float *const *p, const float *const *g, float *const *m, float *const *v,
                    const size_t *n, const char *decay, int count, const struct adamw_step *step) {
    for (int k = 0; k < count; k++)
        if (cpu_adamw(p[k], g[k], m[k], v[k], n[k], &step[decay[k] ? 1 : 0])) return -1;
    return 0;
}
