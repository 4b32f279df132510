/* cpu_backward.c: CPU backward kernels. Each accumulates into its gradient outputs. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/cpu/cpu_kernels.h"

int cpu_embedding_backward(float *dtable, const float *dout, const int32_t *ids, int64_t n, int64_t d) {
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0) return error_set("embedding backward: negative id %d at %lld", ids[i], (long long)i);
    /* rows may repeat: parallel over columns, serial over rows, so no two threads collide */
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < d; j++)
        for (int64_t i = 0; i < n; i++) dtable[(int64_t)ids[i] * d + j] += dout[i * d + j];
    return 0;
}

int cpu_embedding_backward_unique(float *dtable, const float *dout, const int32_t *ids, int64_t n,
                                  int64_t d) {
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0) return error_set("embedding backward: negative id %d at %lld", ids[i], (long long)i);
    /* no two rows share a destination: parallel over rows */
#pragma omp parallel for schedule(static) if (n * d >= 65536)
    for (int64_t i = 0; i < n; i++) {
        float *t = dtable + (int64_t)ids[i] * d;
        const float *g = dout + i * d;
        for (int64_t j = 0; j < d; j++) t[j] += g[j];
    }
    return 0;
}

int cpu_rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x, const float *w, int64_t rows,
                         int64_t d, float eps, int accumulate) {
    /* y_j = w_j x_j r, r = (mean x^2 + eps)^-1/2
     * dx_j = r (w_j dy_j) - x_j r^3 / d * sum_k w_k dy_k x_k ;  dw_j = sum_rows dy_j x_j r */
    float *rinv = malloc(sizeof(float) * (size_t)rows);
    if (!rinv) return error_set("rmsnorm backward: out of memory");
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * d, *gr = dy + r * d;
        double ss = 0, dot = 0;
        for (int64_t j = 0; j < d; j++) ss += (double)xr[j] * xr[j];
        float inv = 1.0f / sqrtf((float)(ss / (double)d) + eps);
        rinv[r] = inv;
        if (!dx) continue;
        for (int64_t j = 0; j < d; j++) dot += (double)w[j] * gr[j] * xr[j];
        float c = (float)(dot * inv * inv * inv / (double)d);
        float *o = dx + r * d;
        if (accumulate)
            for (int64_t j = 0; j < d; j++) o[j] += inv * w[j] * gr[j] - xr[j] * c;
        else
            for (int64_t j = 0; j < d; j++) o[j] = 0.0f + (inv * w[j] * gr[j] - xr[j] * c);
    }
    if (dw) {
#pragma omp parallel for schedule(static)
        for (int64_t j = 0; j < d; j++) {
            double acc = 0;
            for (int64_t r = 0; r < rows; r++) acc += (double)dy[r * d + j] * x[r * d + j] * rinv[r];
            dw[j] += (float)acc;
        }
    }
    free(rinv);
    return 0;
}

int cpu_attn_softmax_backward(float *ds, float *dbias, const float *dp, const float *p, int64_t B, int64_t H,
                              int64_t Q, int64_t K, int accumulate) {
    int64_t rows = B * H * Q;
    /* one allocation: the rows' dot products, then (bias gradient) a row of double sums per
     * thread */
    int threads = dbias ? omp_get_max_threads() : 0;
    double *acc_all = malloc(sizeof(double) * (size_t)(rows + (int64_t)threads * K));
    if (!acc_all) return error_set("softmax backward: out of memory");
    float *dot = (float *)(acc_all + (int64_t)threads * K); /* doubles first: alignment */
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *dpr = dp + r * K, *pr = p + r * K;
        double acc = 0;
        for (int64_t k = 0; k < K; k++) acc += (double)dpr[k] * pr[k];
        dot[r] = (float)acc;
        float *o = ds + r * K;
        for (int64_t k = 0; k < K; k++) o[k] = (accumulate ? o[k] : 0.0f) + pr[k] * (dpr[k] - dot[r]);
    }
    if (dbias) { /* the bias [H, Q, K] is shared across the batch: per element, the sum over
                  * b in order, in double; row by row (contiguous in k) */
#pragma omp parallel num_threads(threads)
        {
            double *acc = acc_all + (int64_t)omp_get_thread_num() * K;
#pragma omp for schedule(static)
            for (int64_t hq = 0; hq < H * Q; hq++) {
                for (int64_t k = 0; k < K; k++) acc[k] = 0;
                for (int64_t b = 0; b < B; b++) {
                    int64_t r = b * H * Q + hq;
                    const float *pr = p + r * K, *dpr = dp + r * K;
                    float d = dot[r];
                    for (int64_t k = 0; k < K; k++) acc[k] += pr[k] * (dpr[k] - d);
                }
                for (int64_t k = 0; k < K; k++) dbias[hq * K + k] += (float)acc[k];
            }
        }
    }
    free(acc_all);
    return 0;
}

int cpu_position_bias_backward(float *dtable, const float *dbias, const int32_t *buckets, int64_t H, int64_t QK) {
#pragma omp parallel for schedule(static)
    for (int64_t h = 0; h < H; h++)
        for (int64_t i = 0; i < QK; i++) dtable[(int64_t)buckets[i] * H + h] += dbias[h * QK + i];
    return 0;
}

int cpu_relu_backward(float *dx, const float *dy, const float *y, size_t n) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = dy[i];
        dx[i] += y[i] > 0 ? g : 0.0f; /* a select the compiler vectorises */
    }
    return 0;
}

int cpu_gelu_new_backward(float *dx, const float *dy, const float *x, size_t n, int accumulate) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) dx[i] = (accumulate ? dx[i] : 0.0f) + dy[i] * cpu_gelu_new_slope(x[i]);
    return 0;
}

int cpu_gelu_mul_backward(float *da, float *dg, const float *dy, const float *a, const float *g, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        cpu_gelu_mul_backward_1(da ? da + i : NULL, dg ? dg + i : NULL, dy[i], a[i], da ? g[i] : 0.0f);
    return 0;
}

int cpu_mul_acc(float *y, const float *a, const float *b, size_t n) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) y[i] += a[i] * b[i];
    return 0;
}

int cpu_axpy(float *y, const float *x, float alpha, size_t n, int accumulate) {
    if (!accumulate) { /* y = 0 + alpha x: what a zero-filled y holds after the add */
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) y[i] = 0.0f + alpha * x[i];
        return 0;
    }
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
    return 0;
}

int cpu_cross_entropy_backward(float *dlogits, const float *logits, const int32_t *targets, const float *dmean,
                               int64_t rows, int64_t vocab) {
    int64_t count = 0;
    for (int64_t r = 0; r < rows; r++) count += targets[r] != -100;
    if (!count) return 0;
    float scale = dmean[0] / (float)count;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        if (targets[r] == -100) continue;
        const float *x = logits + r * vocab;
        float *g = dlogits + r * vocab, mx = x[0];
        for (int64_t v = 1; v < vocab; v++) mx = x[v] > mx ? x[v] : mx;
        double sum = 0;
        for (int64_t v = 0; v < vocab; v++) sum += exp((double)(x[v] - mx));
        for (int64_t v = 0; v < vocab; v++) g[v] += (float)(exp((double)(x[v] - mx)) / sum) * scale;
        g[targets[r]] -= scale;
    }
    return 0;
}
