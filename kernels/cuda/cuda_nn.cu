/* cuda_nn.cu: CUDA kernels for the T5 layers: embedding (also the row gather), RMSNorm,
 * attention softmax with relative bias, padding mask and causal mask (and, fused, the
 * dropout of the probabilities), position-bias
 * gather, cross-entropy and argmax; plus the deferred device-error word. The numerics
 * follow kernels/cpu/cpu_nn.c: double accumulation where the CPU accumulates in double,
 * the same float expressions elsewhere, and reductions in a fixed tree order so that
 * results are deterministic run to run. */
#include <cuda_runtime.h>
#include <float.h>
#include <limits.h>
#include <math.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_dropout_mask.h"
#include "kernels/cuda/cuda_op_math.h"
#include "kernels/cuda/cuda_reduce.h"

/* ---- deferred device errors ---- */

enum { DEV_ERR_NONE = 0, DEV_ERR_EMBEDDING_ID = 1, DEV_ERR_TARGET = 2 };
static __device__ int g_err_code = 0;
static __device__ long long g_err_index = 0;
static __device__ int g_err_value = 0;

static __device__ void record_error(int code, long long index, int value) {
    if (atomicCAS(&g_err_code, DEV_ERR_NONE, code) == DEV_ERR_NONE) {
        g_err_index = index;
        g_err_value = value;
    }
}

extern "C" int cuda_device_error_take(void) {
    int code = 0, value = 0;
    long long index = 0;
    CUDA_CHECK(cudaMemcpyFromSymbol(&code, g_err_code, sizeof code));
    if (code == DEV_ERR_NONE) return 0;
    CUDA_CHECK(cudaMemcpyFromSymbol(&index, g_err_index, sizeof index));
    CUDA_CHECK(cudaMemcpyFromSymbol(&value, g_err_value, sizeof value));
    const int none = DEV_ERR_NONE;
    CUDA_CHECK(cudaMemcpyToSymbol(g_err_code, &none, sizeof none));
    if (code == DEV_ERR_EMBEDDING_ID)
        return error_set("embedding (cuda): token id %d at position %lld is negative", value,
                         index);
    if (code == DEV_ERR_TARGET)
        return error_set("cross-entropy (cuda): target %d in row %lld is outside [0, vocab)", value,
                         index);
    return error_set("cuda: device error code %d at %lld", code, index);
}

static unsigned row_blocks(int64_t rows) {
    return (unsigned)(rows < CUDA_MAX_BLOCKS ? rows : CUDA_MAX_BLOCKS);
}

/* ---- embedding: out[i, :] = table[ids[i], :] ---- */

static __global__ void embedding_kernel(float *out, const float *table, const int32_t *ids,
                                        int64_t n, int64_t d) {
    GRID_STRIDE64(i, n * d) {
        int64_t row = i / d, j = i - row * d;
        int32_t id = ids[row];
        if (id < 0) {
            if (j == 0) record_error(DEV_ERR_EMBEDDING_ID, row, id);
            out[i] = NAN;
        } else {
            out[i] = table[(int64_t)id * d + j];
        }
    }
}

/* A negative id (the only check the CPU can make without the vocabulary size) is reported
 * by the next sync or download; the row is NaN. */
extern "C" int cuda_embedding(float *out, const float *table, const int32_t *ids, int64_t n,
                              int64_t d) {
    if (n < 0 || d < 0)
        return error_set("embedding: negative size n=%lld d=%lld", (long long)n, (long long)d);
    if (n == 0 || d == 0) return 0;
    embedding_kernel<<<cuda_ew_blocks((size_t)(n * d)), CUDA_EW_THREADS, 0, cuda_stream()>>>(
        out, table, ids, n, d);
    CUDA_CHECK_LAUNCH("embedding");
    return 0;
}

/* ---- RMSNorm: one block per row ---- */

static __global__ void rmsnorm_kernel(float *out, const float *x, const float *w, int64_t rows,
                                      int64_t d, float eps) {
    __shared__ double sh[CUDA_ROW_THREADS];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const float *xr = x + r * d;
        float *yr = out + r * d;
        float inv = rmsnorm_row_inv(xr, d, eps, sh); /* cuda_op_math.h, shared with rmsnorm_to_bf16 */
        for (int64_t j = threadIdx.x; j < d; j += blockDim.x)
            yr[j] = rmsnorm_value(w[j], xr[j], inv);
    }
}

extern "C" int cuda_rmsnorm(float *out, const float *x, const float *w, int64_t rows, int64_t d,
                            float eps) {
    if (rows < 0 || d <= 0)
        return error_set("rmsnorm: bad size rows=%lld d=%lld", (long long)rows, (long long)d);
    if (rows == 0) return 0;
    rmsnorm_kernel<<<row_blocks(rows), CUDA_ROW_THREADS, 0, cuda_stream()>>>(out, x, w, rows, d,
                                                                             eps);
    CUDA_CHECK_LAUNCH("rmsnorm");
    return 0;
}

/* ---- attention softmax: one warp per row of K, in place ---- */

#define WARPS_PER_BLOCK 4

/* With drop_p > 0 the probabilities are dropped out as they are written (dropout's kept ?
 * P scale : 0, the mask of element row K + k regenerated): bit for bit this kernel without
 * dropout followed by cuda_dropout in place. */
static __global__ void attn_softmax_kernel(float *s, const float *bias, const float *mask,
                                           int causal, int64_t B, int64_t H, int64_t Q, int64_t K,
                                           float drop_p, float scale, uint64_t seed, uint64_t offset) {
    const float masked = -1e9f;
    const unsigned full = 0xffffffffu;
    int lane = threadIdx.x & 31;
    int64_t warp = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int64_t n_warps = ((int64_t)gridDim.x * blockDim.x) >> 5;
    int64_t rows = B * H * Q;
    for (int64_t row = warp; row < rows; row += n_warps) { /* row is warp-uniform */
        int64_t q = row % Q, bh = row / Q, h = bh % H, b = bh / H;
        float *r = s + row * K;
        const float *brow = bias ? bias + (h * Q + q) * K : NULL;
        const float *mrow = mask ? mask + b * K : NULL;
        float mx = -FLT_MAX;
        for (int64_t k = lane; k < K; k += 32) {
            float v = r[k];
            if (brow) v += brow[k];
            if (mrow) v += mrow[k];
            if (causal && k > q) v += masked;
            r[k] = v;
            if (v > mx) mx = v;
        }
        for (int o = 16; o > 0; o >>= 1) {
            float other = __shfl_xor_sync(full, mx, o);
            if (other > mx) mx = other;
        }
        double sum = 0;
        for (int64_t k = lane; k < K; k += 32) {
            float e = expf(r[k] - mx);
            r[k] = e;
            sum += e;
        }
        for (int o = 16; o > 0; o >>= 1)
            sum += __shfl_xor_sync(full, sum, o);
        float inv = (float)(1.0 / sum);
        if (drop_p > 0.0f) { /* the keep flags a window of 128 at a time (cuda_dropout_mask.h) */
            struct keep_windows kw;
            keep_windows_init(&kw, row * K);
            for (int64_t j = 0; 32 * j < K; j++) { /* warp-uniform: every lane draws and votes */
                keep_windows_for(&kw, row * K, j, seed, offset, drop_p);
                int64_t k = lane + 32 * j;
                if (k < K) {
                    float v = __fmul_rn(r[k], inv);
                    r[k] = keep_windows_get(&kw, row * K + k) ? __fmul_rn(v, scale) : 0.0f;
                }
            }
        } else {
            for (int64_t k = lane; k < K; k += 32)
                r[k] = __fmul_rn(r[k], inv);
        }
    }
}

static int attn_softmax_launch(const char *what, float *s, const float *bias, const float *mask, int causal,
                               int64_t B, int64_t H, int64_t Q, int64_t K, float p, uint64_t seed, uint64_t offset) {
    if (B < 0 || H < 0 || Q < 0 || K <= 0)
        return error_set("%s: bad size B=%lld H=%lld Q=%lld K=%lld", what, (long long)B, (long long)H, (long long)Q,
                         (long long)K);
    int64_t rows = B * H * Q;
    if (rows == 0) return 0;
    float scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f; /* on the host, as cuda_dropout */
    int64_t blocks = (rows + WARPS_PER_BLOCK - 1) / WARPS_PER_BLOCK;
    attn_softmax_kernel<<<row_blocks(blocks), WARPS_PER_BLOCK * 32, 0, cuda_stream()>>>(s, bias, mask, causal, B, H,
                                                                                        Q, K, p, scale, seed, offset);
    CUDA_CHECK_LAUNCH(what);
    return 0;
}

extern "C" int cuda_attn_softmax(float *s, const float *bias, const float *mask, int causal, int64_t B, int64_t H,
                                 int64_t Q, int64_t K) {
    return attn_softmax_launch("attention softmax", s, bias, mask, causal, B, H, Q, K, 0.0f, 0, 0);
}

extern "C" int cuda_attn_softmax_dropout(float *s, const float *bias, const float *mask, int causal, int64_t B,
                                         int64_t H, int64_t Q, int64_t K, float p, uint64_t seed, uint64_t offset) {
    return attn_softmax_launch("attention softmax and dropout", s, bias, mask, causal, B, H, Q, K, p, seed, offset);
}

/* ---- position bias: out[h, i] = table[buckets[i] * H + h] ---- */

static __global__ void position_bias_kernel(float *out, const float *table, const int32_t *buckets,
                                            int64_t H, int64_t QK) {
    GRID_STRIDE64(i, H * QK) {
        int64_t h = i / QK, j = i - h * QK;
        out[i] = table[(int64_t)buckets[j] * H + h];
    }
}

extern "C" int cuda_position_bias(float *out, const float *table, const int32_t *buckets, int64_t H,
                                  int64_t QK) {
    if (H < 0 || QK < 0) return error_set("position bias: negative size");
    if (H == 0 || QK == 0) return 0;
    position_bias_kernel<<<cuda_ew_blocks((size_t)(H * QK)), CUDA_EW_THREADS, 0, cuda_stream()>>>(
        out, table, buckets, H, QK);
    CUDA_CHECK_LAUNCH("position_bias");
    return 0;
}

/* ---- cross-entropy: one block per row, then one block for the mean ---- */

static __global__ void cross_entropy_rows_kernel(float *loss, const float *logits,
                                                 const int32_t *targets, int64_t rows,
                                                 int64_t vocab) {
    __shared__ double shd[CUDA_ROW_THREADS];
    __shared__ float shf[CUDA_ROW_THREADS];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        int32_t t = targets[r]; /* block-uniform, so the early `continue`s keep the syncs matched */
        if (t == -100) {
            if (threadIdx.x == 0) loss[r] = 0;
            continue;
        }
        if (t < 0 || t >= vocab) {
            if (threadIdx.x == 0) {
                record_error(DEV_ERR_TARGET, r, t);
                loss[r] = NAN;
            }
            continue;
        }
        const float *x = logits + r * vocab;
        float mx = -FLT_MAX;
        for (int64_t v = threadIdx.x; v < vocab; v += blockDim.x)
            mx = x[v] > mx ? x[v] : mx;
        mx = block_max_float(mx, shf);
        double sum = 0;
        for (int64_t v = threadIdx.x; v < vocab; v += blockDim.x)
            sum += exp((double)(x[v] - mx));
        sum = block_sum_double(sum, shd);
        if (threadIdx.x == 0) loss[r] = (float)(log(sum) + mx - x[t]);
    }
}

/* mean over the rows whose target is not -100; NaN when there are none (as the CPU) */
static __global__ void cross_entropy_mean_kernel(float *mean_loss, const float *loss,
                                                 const int32_t *targets, int64_t rows) {
    __shared__ double sh[CUDA_ROW_THREADS];
    double total = 0, count = 0;
    for (int64_t r = threadIdx.x; r < rows; r += blockDim.x)
        if (targets[r] != -100) {
            total += loss[r];
            count += 1;
        }
    total = block_sum_double(total, sh);
    count = block_sum_double(count, sh); /* exact: integers below 2^53 */
    if (threadIdx.x == 0) mean_loss[0] = (float)(total / count);
}

/* A target outside [0, vocab) (other than -100) gives a NaN row loss and mean and is
 * reported by the next sync or download (the CPU reports it at once). */
extern "C" int cuda_cross_entropy(float *mean_loss, float *row_loss, const float *logits,
                                  const int32_t *targets, int64_t rows, int64_t vocab) {
    if (rows < 0 || vocab <= 0)
        return error_set("cross-entropy: bad size rows=%lld vocab=%lld", (long long)rows,
                         (long long)vocab);
    if (rows > 0) {
        cross_entropy_rows_kernel<<<row_blocks(rows), CUDA_ROW_THREADS, 0, cuda_stream()>>>(
            row_loss, logits, targets, rows, vocab);
        CUDA_CHECK_LAUNCH("cross_entropy rows");
    }
    cross_entropy_mean_kernel<<<1, CUDA_ROW_THREADS, 0, cuda_stream()>>>(mean_loss, row_loss,
                                                                         targets, rows);
    CUDA_CHECK_LAUNCH("cross_entropy mean");
    return 0;
}

/* ---- argmax: one block per row ----
 * The CPU keeps `best` from 0 and moves on `row[c] > row[best]`: the first index of the
 * largest non-NaN value, or 0 when row[0] is NaN (nothing compares greater). */

static __device__ int argmax_better(float v, long long i, float bv, long long bi) {
    if (i < 0) return 0;
    if (bi < 0) return 1;
    return v > bv || (v == bv && i < bi);
}

static __global__ void argmax_kernel(int32_t *out, const float *x, int64_t rows, int64_t cols) {
    __shared__ float shv[CUDA_ROW_THREADS];
    __shared__ long long shi[CUDA_ROW_THREADS];
    unsigned t = threadIdx.x;
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const float *row = x + r * cols;
        float bv = 0;
        long long bi = -1; /* none yet */
        for (int64_t c = t; c < cols; c += blockDim.x) {
            float v = row[c];
            if (!isnan(v) && (bi < 0 || v > bv)) {
                bv = v;
                bi = c;
            }
        }
        shv[t] = bv;
        shi[t] = bi;
        __syncthreads();
        for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
            if (t < s && argmax_better(shv[t + s], shi[t + s], shv[t], shi[t])) {
                shv[t] = shv[t + s];
                shi[t] = shi[t + s];
            }
            __syncthreads();
        }
        if (t == 0) out[r] = (shi[0] < 0 || isnan(row[0])) ? 0 : (int32_t)shi[0];
        __syncthreads(); /* shv/shi are rewritten for the next row */
    }
}

extern "C" int cuda_argmax(int32_t *out, const float *x, int64_t rows, int64_t cols) {
    if (rows < 0 || cols <= 0 || cols > INT_MAX)
        return error_set("argmax: bad size rows=%lld cols=%lld", (long long)rows, (long long)cols);
    if (rows == 0) return 0;
    argmax_kernel<<<row_blocks(rows), CUDA_ROW_THREADS, 0, cuda_stream()>>>(out, x, rows, cols);
    CUDA_CHECK_LAUNCH("argmax");
    return 0;
}
