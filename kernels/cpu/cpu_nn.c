/* cpu_nn.c: CPU kernels for the T5 layers: embedding, RMSNorm, attention softmax with
 * relative bias and masks, position-bias gather, cross-entropy and argmax. */
#include <float.h>
#include <math.h>

#include "core/error.h"
#include "kernels/cpu/cpu_kernels.h"

int cpu_embedding(float *out, const float *table, const int32_t *ids, int64_t n, int64_t d) {
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0) return error_set("embedding: token id %d at position %lld is negative", ids[i], (long long)i);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float *src = table + (int64_t)ids[i] * d;
        float *dst = out + i * d;
        for (int64_t j = 0; j < d; j++) dst[j] = src[j];
    }
    return 0;
}

int cpu_rmsnorm(float *out, const float *x, const float *w, int64_t rows, int64_t d, float eps) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * d;
        float *yr = out + r * d;
        float inv = cpu_rmsnorm_inv(xr, d, eps);
        for (int64_t j = 0; j < d; j++) yr[j] = cpu_rmsnorm_1(w[j], xr[j], inv);
    }
    return 0;
}

int cpu_attn_softmax(float *s, const float *bias, const float *mask, int causal, int64_t B,
                     int64_t H, int64_t Q, int64_t K) {
    const float masked = -1e9f;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t q = 0; q < Q; q++) {
                float *row = s + ((b * H + h) * Q + q) * K;
                const float *brow = bias ? bias + (h * Q + q) * K : NULL;
                const float *mrow = mask ? mask + b * K : NULL;
                float mx = -FLT_MAX;
                for (int64_t k = 0; k < K; k++) {
                    float v = row[k];
                    if (brow) v += brow[k];
                    if (mrow) v += mrow[k];
                    if (causal && k > q) v += masked;
                    row[k] = v;
                    if (v > mx) mx = v;
                }
                double sum = 0;
                for (int64_t k = 0; k < K; k++) {
                    float e = expf(row[k] - mx);
                    row[k] = e;
                    sum += e;
                }
                float inv = (float)(1.0 / sum);
                for (int64_t k = 0; k < K; k++) row[k] *= inv;
            }
    return 0;
}

int cpu_position_bias(float *out, const float *table, const int32_t *buckets, int64_t H,
                      int64_t QK) {
#pragma omp parallel for schedule(static)
    for (int64_t h = 0; h < H; h++)
        for (int64_t i = 0; i < QK; i++) out[h * QK + i] = table[(int64_t)buckets[i] * H + h];
    return 0;
}

int cpu_cross_entropy(float *mean_loss, float *loss, const float *logits, const int32_t *targets, int64_t rows,
                      int64_t vocab) {
    for (int64_t r = 0; r < rows; r++)
        if (targets[r] != -100 && (targets[r] < 0 || targets[r] >= vocab))
            return error_set("cross-entropy: target %d in row %lld is outside [0, %lld)", targets[r],
                             (long long)r, (long long)vocab);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        if (targets[r] == -100) {
            loss[r] = 0;
            continue;
        }
        const float *x = logits + r * vocab;
        float mx = -FLT_MAX;
        for (int64_t v = 0; v < vocab; v++) mx = x[v] > mx ? x[v] : mx;
        double sum = 0;
        for (int64_t v = 0; v < vocab; v++) sum += exp((double)(x[v] - mx));
        loss[r] = (float)(log(sum) + mx - x[targets[r]]);
    }
    double total = 0;
    int64_t count = 0;
    for (int64_t r = 0; r < rows; r++)
        if (targets[r] != -100) {
            total += loss[r];
            count++;
        }
    mean_loss[0] = (float)(total / (double)count); /* NaN when every target is ignored, as torch */
    return 0;
}

int cpu_argmax(int32_t *out, const float *x, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *row = x + r * cols;
        int64_t best = 0;
        for (int64_t c = 1; c < cols; c++)
            if (row[c] > row[best]) best = c;
        out[r] = (int32_t)best;
    }
    return 0;
}
