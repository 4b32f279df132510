/* cuda_backward.cu: dropout and the backward ops of the CUDA backend, each the same
 * computation as kernels/cpu/cpu_backward.c. Every backward op ACCUMULATES into its
 * gradient outputs (dst += ...), like the CPU.
 *
 * Numerics: the float expressions are the CPU's, evaluated in the CPU's order with the
 * _rn intrinsics (which nvcc never contracts into FMAs; gcc on x86-64 does not contract
 * either), and the CPU's double accumulations are double here too. Where the CPU sums in
 * a fixed serial order into an output (the scatter-adds of embedding_backward and
 * position_bias_backward, rmsnorm_backward's dw) one GPU thread does the very same serial
 * sum, so those results are bit-identical to the CPU; the per-row dot products are block
 * or warp tree reductions in a fixed order (deterministic, equal to the CPU's to double
 * rounding). No float atomics anywhere: every result is the same run to run.
 *
 * Scratch: no op allocates. rmsnorm_backward (per-row inverse rms and dw's double
 * accumulators), attn_softmax_backward with dbias (per-row dots) and
 * cross_entropy_backward (the 1/count scale) keep their intermediates in the backend's
 * scratch buffer (cuda_scratch(), allocated once at backend start-up). */
#include <cuda_runtime.h>
#include <float.h>
#include <math.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_dropout_mask.h"
#include "kernels/cuda/cuda_op_math.h"
#include "kernels/cuda/cuda_reduce.h"

static unsigned row_blocks(int64_t rows) {
    return (unsigned)(rows < CUDA_MAX_BLOCKS ? rows : CUDA_MAX_BLOCKS);
}

/* ---- dropout: the mask is philox_uniform(seed, offset, i) >= p, the very function the
 * CPU calls (kernels/cuda/cuda_dropout_mask.h), so masks are bit-identical; one thread per
 * block of 4 elements ---- */

static __global__ void dropout_kernel(float *y, const float *x, size_t n, float p, float s,
                                      uint64_t seed, uint64_t offset) {
    size_t blocks = (n + 3) / 4;
    GRID_STRIDE(blk, blocks) {
        int keep[4];
        dropout_keep4(seed, offset, blk, p, keep);
        for (size_t i = blk * 4; i < blk * 4 + 4 && i < n; i++) y[i] = keep[i & 3] ? __fmul_rn(x[i], s) : 0.0f;
    }
}

/* dx += kept ? dy s : 0; with acc 0, dx = kept ? 0 + dy s : 0 (dx not read) */
static __global__ void dropout_backward_kernel(float *dx, const float *dy, size_t n, float p,
                                               float s, uint64_t seed, uint64_t offset, int acc) {
    size_t blocks = (n + 3) / 4;
    GRID_STRIDE(blk, blocks) {
        int keep[4];
        dropout_keep4(seed, offset, blk, p, keep);
        for (size_t i = blk * 4; i < blk * 4 + 4 && i < n; i++)
            if (keep[i & 3])
                dx[i] = __fadd_rn(acc ? dx[i] : 0.0f, __fmul_rn(dy[i], s));
            else if (!acc)
                dx[i] = 0.0f;
    }
}

extern "C" int cuda_dropout(float *y, const float *x, size_t n, float p, uint64_t seed,
                            uint64_t offset) {
    float s = 1.0f / (1.0f - p); /* on the host, as the CPU */
    EW_LAUNCH(dropout_kernel, (n + 3) / 4, y, x, n, p, s, seed, offset);
}

extern "C" int cuda_dropout_backward(float *dx, const float *dy, size_t n, float p, uint64_t seed,
                                     uint64_t offset, int accumulate) {
    float s = 1.0f / (1.0f - p);
    EW_LAUNCH(dropout_backward_kernel, (n + 3) / 4, dx, dy, n, p, s, seed, offset, accumulate);
}

/* relu + dropout fused: y = kept ? relu(x) s : 0 (relu as relu_kernel: x > 0 ? x : 0), and
 * the mask word of y > 0 for each 32 elements: one thread per element (coalesced), the
 * warp's ballot is the word (a warp's lanes hold 32 consecutive elements, a multiple of 32
 * apart from 0, so bit = lane; the loop runs over n rounded up to 32 so that every lane
 * takes part). Each lane draws its own element's Philox block (4 lanes share one). The
 * element and the word: cuda_op_math.h, shared with relu_dropout_bf16. */
static __global__ void relu_dropout_kernel(float *y, uint32_t *mask, const float *x, size_t n, float p,
                                           float s, uint64_t seed, uint64_t offset) {
    size_t padded = (n + 31) / 32 * 32;
    GRID_STRIDE(i, padded) {
        float o = 0.0f;
        if (i < n) {
            o = relu_dropout_value(x[i], dropout_keep1(seed, offset, i, p), s);
            y[i] = o;
        }
        relu_dropout_mask_word(mask, i, o);
    }
}

/* dx += bit ? 0 + dy s : 0: dropout's backward into the zeroed relu-output gradient, then
 * relu's backward (the bit is y > 0: kept and relu(x) > 0); acc 0: from dx = 0 (not read) */
static __global__ void relu_dropout_backward_kernel(float *dx, const float *dy, const uint32_t *mask,
                                                    size_t n, float s, int acc) {
    GRID_STRIDE(i, n) {
        int bit = (mask[i >> 5] >> (i & 31)) & 1u;
        dx[i] = __fadd_rn(acc ? dx[i] : 0.0f, bit ? __fadd_rn(0.0f, __fmul_rn(dy[i], s)) : 0.0f);
    }
}

/* y = h + (kept ? x s : 0): dropout then the residual add (dropout_add_value, cuda_op_math.h,
 * shared with dropout_add_bf16) */
static __global__ void dropout_add_kernel(float *y, const float *h, const float *x, size_t n, float p, float s,
                                          uint64_t seed, uint64_t offset) {
    size_t blocks = (n + 3) / 4;
    GRID_STRIDE(blk, blocks) {
        int keep[4];
        dropout_keep4(seed, offset, blk, p, keep);
        for (size_t i = blk * 4; i < blk * 4 + 4 && i < n; i++)
            y[i] = dropout_add_value(h[i], x[i], keep[i & 3], s);
    }
}

extern "C" int cuda_dropout_add(float *y, const float *h, const float *x, size_t n, float p, uint64_t seed,
                                uint64_t offset) {
    float s = 1.0f / (1.0f - p);
    EW_LAUNCH(dropout_add_kernel, (n + 3) / 4, y, h, x, n, p, s, seed, offset);
}

extern "C" int cuda_relu_dropout(float *y, uint32_t *mask, const float *x, size_t n, float p,
                                 uint64_t seed, uint64_t offset) {
    float s = 1.0f / (1.0f - p);
    /* blocks of CUDA_EW_THREADS (a multiple of 32): the ballot's lanes, see the kernel */
    EW_LAUNCH(relu_dropout_kernel, (n + 31) / 32 * 32, y, mask, x, n, p, s, seed, offset);
}

extern "C" int cuda_relu_dropout_backward(float *dx, const float *dy, const uint32_t *mask, size_t n,
                                          float p, int accumulate) {
    float s = 1.0f / (1.0f - p);
    EW_LAUNCH(relu_dropout_backward_kernel, n, dx, dy, mask, n, s, accumulate);
}

/* ---- elementwise backward ---- */

static __global__ void relu_backward_kernel(float *dx, const float *dy, const float *y, size_t n) {
    GRID_STRIDE(i, n) dx[i] = __fadd_rn(dx[i], y[i] > 0 ? dy[i] : 0.0f);
}

/* the CPU's expression tree (gelu_new_grad, cuda_op_math.h): t = tanh(c (v + ((k v) v) v)),
 * dt = ((1 - t t) c) (1 + ((3k) v) v), dx += dy (0.5 (1 + t) + (0.5 v) dt); acc 0: dx = 0 + ... */
static __global__ void gelu_new_backward_kernel(float *dx, const float *dy, const float *x, size_t n, int acc) {
    GRID_STRIDE(i, n) dx[i] = __fadd_rn(acc ? dx[i] : 0.0f, __fmul_rn(dy[i], gelu_new_grad(x[i])));
}

/* gelu_mul's backward: dg += dy gelu_new(a) (gelu_mul_kernel's expression), da += (0 + dy g)
 * gelu_new'(a) (gelu_new_backward_kernel's expression tree); the terms: cuda_op_math.h,
 * shared with gelu_mul_bf16_backward */
static __global__ void gelu_mul_backward_kernel(float *da, float *dg, const float *dy, const float *a,
                                                const float *g, size_t n) {
    GRID_STRIDE(i, n) {
        float v = a[i];
        if (dg) dg[i] = __fadd_rn(dg[i], gelu_mul_dg_term(dy[i], v));
        if (da) da[i] = __fadd_rn(da[i], gelu_mul_da_term(dy[i], v, g[i]));
    }
}

extern "C" int cuda_gelu_mul_backward(float *da, float *dg, const float *dy, const float *a, const float *g,
                                      size_t n) {
    if (!da && !dg) return 0;
    EW_LAUNCH(gelu_mul_backward_kernel, n, da, dg, dy, a, g, n);
}

static __global__ void mul_acc_kernel(float *y, const float *a, const float *b, size_t n) {
    GRID_STRIDE(i, n) y[i] = __fadd_rn(y[i], __fmul_rn(a[i], b[i]));
}

static __global__ void axpy_kernel(float *y, const float *x, float alpha, size_t n, int acc) {
    GRID_STRIDE(i, n) y[i] = __fadd_rn(acc ? y[i] : 0.0f, __fmul_rn(alpha, x[i]));
}

extern "C" int cuda_relu_backward(float *dx, const float *dy, const float *y, size_t n) {
    EW_LAUNCH(relu_backward_kernel, n, dx, dy, y, n);
}
extern "C" int cuda_gelu_new_backward(float *dx, const float *dy, const float *x, size_t n, int accumulate) {
    EW_LAUNCH(gelu_new_backward_kernel, n, dx, dy, x, n, accumulate);
}
extern "C" int cuda_mul_acc(float *y, const float *a, const float *b, size_t n) {
    EW_LAUNCH(mul_acc_kernel, n, y, a, b, n);
}
extern "C" int cuda_axpy(float *y, const float *x, float alpha, size_t n, int accumulate) {
    EW_LAUNCH(axpy_kernel, n, y, x, alpha, n, accumulate);
}

/* ---- scatter-adds: embedding_backward and position_bias_backward ----
 * Repeated ids (buckets) send several rows to one table row. The CPU adds them in row
 * order, one column per thread. Here a thread owns (column j, slice s) and walks ALL the
 * rows in order, adding those whose id is congruent to s modulo SCATTER_SLICES: every
 * table element has exactly one owner thread (no races, no atomics), and its sum is the
 * CPU's serial float sum in the CPU's order, so the result is bit-identical to the CPU.
 * The slices only add parallelism (each thread reads the whole id list, cheaply: the
 * warp's lanes read the same id); the serial walk is O(rows) per thread. */
#define SCATTER_SLICES 64

/* thread (j, s) = (blockIdx.x * blockDim.x + threadIdx.x, blockIdx.y) */
static __global__ void embedding_backward_kernel(float *dtable, const float *dout,
                                                 const int32_t *ids, int64_t n, int64_t d) {
    int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    int s = (int)blockIdx.y;
    if (j >= d) return;
    for (int64_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        /* a negative id is skipped (the forward's embedding recorded it as a device error);
         * an id past the vocabulary cannot be seen here, as on the CPU */
        if (id < 0 || id % SCATTER_SLICES != s) continue;
        float *t = dtable + (int64_t)id * d + j;
        *t = __fadd_rn(*t, dout[i * d + j]);
    }
}

static int scatter_sizes(int64_t n, int64_t d) {
    return n < 0 || d < 0 ? error_set("embedding backward: negative size n=%lld d=%lld", (long long)n, (long long)d)
                          : 0;
}

extern "C" int cuda_embedding_backward(float *dtable, const float *dout, const int32_t *ids,
                                       int64_t n, int64_t d) {
    if (scatter_sizes(n, d)) return -1;
    if (n == 0 || d == 0) return 0;
    int64_t bx = (d + CUDA_EW_THREADS - 1) / CUDA_EW_THREADS;
    if (bx > 0x7fffffff) return error_set("embedding backward: d=%lld too large", (long long)d);
    dim3 grid((unsigned)bx, SCATTER_SLICES);
    embedding_backward_kernel<<<grid, CUDA_EW_THREADS, 0, cuda_stream()>>>(dtable, dout, ids, n, d);
    CUDA_CHECK_LAUNCH("embedding_backward");
    return 0;
}

/* ids that do not repeat (a permutation): one thread per element, each destination written
 * by exactly one thread with one add, as the CPU's serial walk adds it: bit-identical */
static __global__ void embedding_backward_unique_kernel(float *dtable, const float *dout,
                                                        const int32_t *ids, int64_t n, int64_t d) {
    GRID_STRIDE64(e, n * d) {
        int64_t i = d == 1 ? e : e / d, j = e - i * d;
        int32_t id = ids[i];
        if (id < 0) continue; /* recorded by the forward's embedding, as above */
        float *t = dtable + (int64_t)id * d + j;
        *t = __fadd_rn(*t, dout[e]);
    }
}

extern "C" int cuda_embedding_backward_unique(float *dtable, const float *dout, const int32_t *ids,
                                              int64_t n, int64_t d) {
    if (scatter_sizes(n, d)) return -1;
    EW_LAUNCH(embedding_backward_unique_kernel, (size_t)(n * d), dtable, dout, ids, n, d);
}

/* thread (h, s): dtable[b * H + h] += dbias[h * QK + i] for the i (in order) whose bucket
 * b is congruent to s; T5 has 32 buckets, so each thread owns at most one table entry */
static __global__ void position_bias_backward_kernel(float *dtable, const float *dbias,
                                                     const int32_t *buckets, int64_t H,
                                                     int64_t QK) {
    int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= H * SCATTER_SLICES) return;
    int64_t h = t / SCATTER_SLICES;
    int s = (int)(t % SCATTER_SLICES);
    const float *src = dbias + h * QK;
    for (int64_t i = 0; i < QK; i++) {
        int32_t b = buckets[i];
        if (b < 0 || b % SCATTER_SLICES != s) continue;
        float *dst = dtable + (int64_t)b * H + h;
        *dst = __fadd_rn(*dst, src[i]);
    }
}

extern "C" int cuda_position_bias_backward(float *dtable, const float *dbias,
                                           const int32_t *buckets, int64_t H, int64_t QK) {
    if (H < 0 || QK < 0) return error_set("position bias backward: negative size");
    if (H == 0 || QK == 0) return 0;
    int64_t threads = H * SCATTER_SLICES;
    int64_t blocks = (threads + CUDA_EW_THREADS - 1) / CUDA_EW_THREADS;
    if (blocks > 0x7fffffff)
        return error_set("position bias backward: H=%lld too large", (long long)H);
    position_bias_backward_kernel<<<(unsigned)blocks, CUDA_EW_THREADS, 0, cuda_stream()>>>(
        dtable, dbias, buckets, H, QK);
    CUDA_CHECK_LAUNCH("position_bias_backward");
    return 0;
}

/* ---- RMSNorm backward ----
 * y_j = w_j x_j r, r = (mean x^2 + eps)^-1/2
 * dx_j += r w_j dy_j - x_j c, c = r^3 / d sum_k w_k dy_k x_k   (one block per row; accumulate
 *                                                              0: dx_j = 0 + ...)
 * dw_j += sum_rows dy_j x_j r                                  (two passes, below)
 * The row kernel writes r of each row to the scratch when dw is wanted; dw's column sums
 * are double accumulators in the scratch, so rows can go in chunks that fit it. The sum is
 * in double in a fixed order (not the CPU's serial order: equal to it after rounding to
 * float except in rare ties). */

static __global__ void rmsnorm_backward_rows_kernel(float *dx, float *rinv, const float *dy,
                                                    const float *x, const float *w, int64_t r0,
                                                    int64_t rows, int64_t d, float eps, int accumulate) {
    __shared__ double sh[CUDA_ROW_THREADS];
    for (int64_t rr = blockIdx.x; rr < rows; rr += gridDim.x) { /* block-uniform */
        int64_t r = r0 + rr;
        const float *xr = x + r * d, *gr = dy + r * d;
        double ss = 0;
        for (int64_t j = threadIdx.x; j < d; j += blockDim.x)
            ss = __dadd_rn(ss, __dmul_rn((double)xr[j], (double)xr[j]));
        ss = block_sum_double(ss, sh);
        float inv = 1.0f / sqrtf((float)(ss / (double)d) + eps);
        if (rinv && threadIdx.x == 0) rinv[rr] = inv;
        if (!dx) continue;
        double dot = 0;
        for (int64_t j = threadIdx.x; j < d; j += blockDim.x)
            dot = __dadd_rn(dot, __dmul_rn(__dmul_rn((double)w[j], (double)gr[j]), (double)xr[j]));
        dot = block_sum_double(dot, sh);
        double di = (double)inv;
        float c = (float)(__dmul_rn(__dmul_rn(__dmul_rn(dot, di), di), di) / (double)d);
        float *o = dx + r * d;
        for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
            float a = __fmul_rn(__fmul_rn(inv, w[j]), gr[j]);
            o[j] = __fadd_rn(accumulate ? o[j] : 0.0f, __fsub_rn(a, __fmul_rn(xr[j], c)));
        }
    }
}

/* dw's column sums in two deterministic passes (a fixed order whatever the launch):
 * 1. block (column tile of 32, chunk c of rpc rows): thread (tx, ty) sums rows ty, ty + 8, ...
 *    of the chunk in double, then ty = 0 adds the 8 partial sums in order into part[c][j]
 *    (a warp reads 32 consecutive floats of a row: coalesced);
 * 2. one thread per column adds part[0..chunks)[j] in order to its sum so far (0 in the
 *    first pass of rows through the scratch, acc[j] after), keeps it in acc[j], and in the
 *    last pass (the only one at any realistic batch) adds it to dw[j] instead.
 * (One thread per column looping over every row, the first version, took 1.2 ms per call
 * for t5-base at batch 100: 20% of a training step on an H100.) */
#define DW_TILE 32
#define DW_LANES 8
#define DW_MAX_CHUNKS 256

static __global__ void rmsnorm_backward_dw_part_kernel(double *part, const float *rinv, const float *dy,
                                                       const float *x, int64_t r0, int64_t rows, int64_t rpc,
                                                       int64_t d) {
    __shared__ double sh[DW_LANES][DW_TILE + 1];
    int64_t j = (int64_t)blockIdx.x * DW_TILE + threadIdx.x;
    int64_t c = blockIdx.y, lo = c * rpc, hi = lo + rpc < rows ? lo + rpc : rows;
    double a = 0;
    if (j < d)
        for (int64_t rr = lo + threadIdx.y; rr < hi; rr += DW_LANES) {
            int64_t e = (r0 + rr) * d + j;
            a = __dadd_rn(a, __dmul_rn(__dmul_rn((double)dy[e], (double)x[e]), (double)rinv[rr]));
        }
    sh[threadIdx.y][threadIdx.x] = a;
    __syncthreads();
    if (threadIdx.y == 0 && j < d) {
        double t = 0;
        for (int l = 0; l < DW_LANES; l++) t = __dadd_rn(t, sh[l][threadIdx.x]);
        part[c * d + j] = t;
    }
}

static __global__ void rmsnorm_backward_dw_sum_kernel(double *acc, int first, float *dw, const double *part,
                                                      int64_t chunks, int64_t d) {
    GRID_STRIDE64(j, d) {
        double a = first ? 0.0 : acc[j];
        for (int64_t c = 0; c < chunks; c++) a = __dadd_rn(a, part[c * d + j]);
        if (dw) dw[j] = __fadd_rn(dw[j], (float)a);
        else acc[j] = a;
    }
}

extern "C" int cuda_rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x,
                                     const float *w, int64_t rows, int64_t d, float eps, int accumulate) {
    if (rows < 0 || d <= 0)
        return error_set("rmsnorm backward: bad size rows=%lld d=%lld", (long long)rows,
                         (long long)d);
    if (rows == 0 || (!dx && !dw)) return 0;
    if (!dw) {
        rmsnorm_backward_rows_kernel<<<row_blocks(rows), CUDA_ROW_THREADS, 0, cuda_stream()>>>(
            dx, NULL, dy, x, w, 0, rows, d, eps, accumulate);
        CUDA_CHECK_LAUNCH("rmsnorm_backward rows");
        return 0;
    }
    size_t cap = 0;
    char *scratch = (char *)cuda_scratch(&cap);
    if (!scratch) return -1;
    size_t acc_bytes = ((size_t)d * sizeof(double) + 255) / 256 * 256;
    /* partial sums: up to DW_MAX_CHUNKS rows of d doubles, within half the scratch */
    int64_t max_chunks = acc_bytes < cap / 2 ? (int64_t)((cap / 2 - acc_bytes) / ((size_t)d * sizeof(double))) : 0;
    if (max_chunks > DW_MAX_CHUNKS) max_chunks = DW_MAX_CHUNKS;
    size_t part_bytes = ((size_t)max_chunks * (size_t)d * sizeof(double) + 255) / 256 * 256;
    if (max_chunks < 1 || acc_bytes + part_bytes + 256 * sizeof(float) > cap)
        return error_set("rmsnorm backward (cuda): d=%lld is too wide for the %zu-byte scratch",
                         (long long)d, cap);
    double *acc = (double *)scratch;
    double *part = (double *)(scratch + acc_bytes);
    float *rinv = (float *)(scratch + acc_bytes + part_bytes);
    int64_t chunk = (int64_t)((cap - acc_bytes - part_bytes) / sizeof(float));
    unsigned col_blocks = cuda_ew_blocks((size_t)d);
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
        int64_t cr = rows - r0 < chunk ? rows - r0 : chunk;
        rmsnorm_backward_rows_kernel<<<row_blocks(cr), CUDA_ROW_THREADS, 0, cuda_stream()>>>(
            dx, rinv, dy, x, w, r0, cr, d, eps, accumulate);
        CUDA_CHECK_LAUNCH("rmsnorm_backward rows");
        int64_t rpc = (cr + max_chunks - 1) / max_chunks;
        if (rpc < 64) rpc = 64;
        int64_t chunks = (cr + rpc - 1) / rpc;
        dim3 grid((unsigned)((d + DW_TILE - 1) / DW_TILE), (unsigned)chunks), block(DW_TILE, DW_LANES);
        rmsnorm_backward_dw_part_kernel<<<grid, block, 0, cuda_stream()>>>(part, rinv, dy, x, r0, cr, rpc, d);
        CUDA_CHECK_LAUNCH("rmsnorm_backward dw partial sums");
        int last = r0 + cr >= rows;
        rmsnorm_backward_dw_sum_kernel<<<col_blocks, CUDA_EW_THREADS, 0, cuda_stream()>>>(
            acc, r0 == 0, last ? dw : NULL, part, chunks, d);
        CUDA_CHECK_LAUNCH("rmsnorm_backward dw sum");
    }
    return 0;
}

/* ---- attention softmax backward ----
 * dscores += P (dP - dot), dot = sum_k dP P per row (one warp per row, as the forward);
 * dbias[h, q, k] += sum over b (in order, in double) of the same term (one thread per
 * (h, q, k)), reading the rows' dots from the scratch.
 * Fused with the dropout's backward (drop_p > 0): the kernels read d dropped probs and take
 * dP = kept ? 0 + dD s : 0 (dropout_backward's value in a zero-filled buffer, the mask
 * regenerated per element), and with drop_probs overwrite P by its dropped copy (dropout's
 * kept ? P s : 0) once read: the rows kernel when there is no bias gradient, else the bias
 * kernel (which reads every P of the batch after the rows kernel). */

#define WARPS_PER_BLOCK 4

/* dP from d dropped P and the element's keep flag: 0 + dD s where kept, else 0 (dropout's
 * backward into zeros); without dropout (drop_p <= 0: keep 1, s 1) dP is dp itself */
static __device__ __forceinline__ float softmax_dp(float dpe, int keep, float drop_p, float s) {
    if (drop_p <= 0.0f) return dpe;
    return keep ? __fadd_rn(0.0f, __fmul_rn(dpe, s)) : 0.0f;
}

/* The rows kernel regenerates the keep flags a window of 128 elements at a time, one Philox
 * call per lane per window (cuda_dropout_mask.h), in each of its two passes over a row; the
 * bias kernel draws once per element it visits. */
static __global__ void attn_softmax_backward_rows_kernel(float *ds, float *dots, const float *dp, float *p,
                                                         int64_t rows, int64_t K, float drop_p, float s,
                                                         uint64_t seed, uint64_t offset, int drop_probs,
                                                         int accumulate) {
    const unsigned full = 0xffffffffu;
    int lane = threadIdx.x & 31;
    int64_t warp = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int64_t n_warps = ((int64_t)gridDim.x * blockDim.x) >> 5;
    int dropout = drop_p > 0.0f;
    for (int64_t row = warp; row < rows; row += n_warps) { /* row is warp-uniform */
        float *pr = p + row * K;
        const float *dpr = dp + row * K;
        struct keep_windows kw;
        keep_windows_init(&kw, row * K);
        double sum = 0;
        for (int64_t j = 0; 32 * j < K; j++) { /* warp-uniform: every lane draws and votes */
            if (dropout) keep_windows_for(&kw, row * K, j, seed, offset, drop_p);
            int64_t k = lane + 32 * j;
            if (k < K) {
                int keep = !dropout || keep_windows_get(&kw, row * K + k);
                sum = __dadd_rn(sum, __dmul_rn((double)softmax_dp(dpr[k], keep, drop_p, s), (double)pr[k]));
            }
        }
        for (int o = 16; o > 0; o >>= 1) /* butterfly: every lane ends with the same sum */
            sum = __dadd_rn(sum, __shfl_xor_sync(full, sum, o));
        float dot = (float)sum;
        if (dots && lane == 0) dots[row] = dot;
        float *o = ds + row * K;
        keep_windows_init(&kw, row * K);
        for (int64_t j = 0; 32 * j < K; j++) {
            if (dropout) keep_windows_for(&kw, row * K, j, seed, offset, drop_p);
            int64_t k = lane + 32 * j;
            if (k < K) {
                int keep = !dropout || keep_windows_get(&kw, row * K + k);
                float d = softmax_dp(dpr[k], keep, drop_p, s);
                o[k] = __fadd_rn(accumulate ? o[k] : 0.0f, __fmul_rn(pr[k], __fsub_rn(d, dot)));
                /* P for dv, dropped in place (dropout's kept ? P s : 0): this lane's own element */
                if (drop_probs) pr[k] = keep ? __fmul_rn(pr[k], s) : 0.0f;
            }
        }
    }
}

static __global__ void attn_softmax_backward_bias_kernel(float *dbias, const float *dots, const float *dp, float *p,
                                                         int64_t B, int64_t HQ, int64_t K, float drop_p, float s,
                                                         uint64_t seed, uint64_t offset, int drop_probs) {
    int dropout = drop_p > 0.0f;
    GRID_STRIDE64(i, HQ * K) {
        int64_t hq = i / K, k = i - hq * K;
        double sum = 0;
        for (int64_t b = 0; b < B; b++) {
            int64_t r = b * HQ + hq, e = r * K + k;
            int keep = !dropout || dropout_keep1(seed, offset, (size_t)e, drop_p);
            sum = __dadd_rn(sum, (double)__fmul_rn(p[e], __fsub_rn(softmax_dp(dp[e], keep, drop_p, s), dots[r])));
            if (drop_probs) p[e] = keep ? __fmul_rn(p[e], s) : 0.0f; /* read by this thread alone */
        }
        dbias[i] = __fadd_rn(dbias[i], (float)sum);
    }
}

static int softmax_backward_launch(const char *what, float *ds, float *dbias, const float *dp, float *p, int64_t B,
                                   int64_t H, int64_t Q, int64_t K, float drop_p, uint64_t seed, uint64_t offset,
                                   int drop_probs, int accumulate) {
    if (B < 0 || H < 0 || Q < 0 || K <= 0)
        return error_set("%s: bad size B=%lld H=%lld Q=%lld K=%lld", what, (long long)B, (long long)H, (long long)Q,
                         (long long)K);
    int64_t rows = B * H * Q;
    if (rows == 0) return 0;
    float s = drop_p > 0.0f ? 1.0f / (1.0f - drop_p) : 1.0f; /* on the host, as the CPU's dropout */
    float *dots = NULL;
    if (dbias) {
        size_t cap = 0;
        dots = (float *)cuda_scratch(&cap);
        if (!dots) return -1;
        if ((size_t)rows * sizeof(float) > cap)
            return error_set("%s (cuda): %lld rows need more than the %zu-byte scratch for the bias gradient", what,
                             (long long)rows, cap);
    }
    int64_t blocks = (rows + WARPS_PER_BLOCK - 1) / WARPS_PER_BLOCK;
    attn_softmax_backward_rows_kernel<<<row_blocks(blocks), WARPS_PER_BLOCK * 32, 0, cuda_stream()>>>(
        ds, dots, dp, p, rows, K, drop_p, s, seed, offset, drop_probs && !dbias, accumulate);
    CUDA_CHECK_LAUNCH("attn_softmax_backward rows");
    if (dbias) {
        attn_softmax_backward_bias_kernel<<<cuda_ew_blocks((size_t)(H * Q * K)), CUDA_EW_THREADS, 0, cuda_stream()>>>(
            dbias, dots, dp, p, B, H * Q, K, drop_p, s, seed, offset, drop_probs);
        CUDA_CHECK_LAUNCH("attn_softmax_backward bias");
    }
    return 0;
}

extern "C" int cuda_attn_softmax_backward(float *ds, float *dbias, const float *dp, const float *p, int64_t B,
                                          int64_t H, int64_t Q, int64_t K, int accumulate) {
    /* p is only read (drop_probs 0) */
    return softmax_backward_launch("attention softmax backward", ds, dbias, dp, (float *)p, B, H, Q, K, 0.0f, 0, 0,
                                   0, accumulate);
}

extern "C" int cuda_attn_softmax_dropout_backward(float *ds, float *dbias, const float *ddropped, float *probs,
                                                  int64_t B, int64_t H, int64_t Q, int64_t K, float p, uint64_t seed,
                                                  uint64_t offset, int drop_probs, int accumulate) {
    return softmax_backward_launch("attention softmax and dropout backward", ds, dbias, ddropped, probs, B, H, Q, K,
                                   p, seed, offset, drop_probs, accumulate);
}

/* ---- cross-entropy backward ----
 * dlogits[r] += (softmax(logits[r]) - onehot(target[r])) * dmean[0] / count, count = rows
 * whose target is not -100, computed here (one block, into the scratch: [0] the scale,
 * [1] 1 when count > 0); then one block per row. */

static __global__ void cross_entropy_backward_scale_kernel(float *out, const int32_t *targets,
                                                           const float *dmean, int64_t rows) {
    __shared__ double sh[CUDA_ROW_THREADS];
    double count = 0;
    for (int64_t r = threadIdx.x; r < rows; r += blockDim.x)
        count += targets[r] != -100;
    count = block_sum_double(count, sh); /* exact: integers below 2^53 */
    if (threadIdx.x == 0) {
        out[0] = count > 0 ? dmean[0] / (float)(long long)count : 0.0f;
        out[1] = count > 0 ? 1.0f : 0.0f;
    }
}

static __global__ void cross_entropy_backward_rows_kernel(float *dlogits, const float *logits,
                                                          const int32_t *targets,
                                                          const float *scale_in, int64_t rows,
                                                          int64_t vocab) {
    __shared__ double shd[CUDA_ROW_THREADS];
    __shared__ float shf[CUDA_ROW_THREADS];
    if (scale_in[1] == 0.0f) return; /* no counted row: nothing, as the CPU */
    const float scale = scale_in[0];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        int32_t t = targets[r]; /* block-uniform, so the `continue`s keep the syncs matched */
        /* -100 is ignored; a target outside [0, vocab) is skipped (the forward's
         * cross_entropy recorded it as a device error and its loss is NaN) */
        if (t == -100 || t < 0 || t >= vocab) continue;
        const float *x = logits + r * vocab;
        float *g = dlogits + r * vocab;
        float mx = x[0]; /* the CPU's start, so a NaN in x[0] propagates as there */
        for (int64_t v = threadIdx.x; v < vocab; v += blockDim.x)
            mx = x[v] > mx ? x[v] : mx;
        mx = block_max_float(mx, shf);
        double sum = 0;
        for (int64_t v = threadIdx.x; v < vocab; v += blockDim.x)
            sum = __dadd_rn(sum, exp((double)(x[v] - mx)));
        sum = block_sum_double(sum, shd);
        for (int64_t v = threadIdx.x; v < vocab; v += blockDim.x) {
            float pv = (float)(exp((double)(x[v] - mx)) / sum);
            float gv = __fadd_rn(g[v], __fmul_rn(pv, scale));
            if (v == t) gv = __fsub_rn(gv, scale); /* the CPU's second, separate update */
            g[v] = gv;
        }
    }
}

extern "C" int cuda_cross_entropy_backward(float *dlogits, const float *logits,
                                           const int32_t *targets, const float *dmean, int64_t rows,
                                           int64_t vocab) {
    if (rows < 0 || vocab <= 0)
        return error_set("cross-entropy backward: bad size rows=%lld vocab=%lld", (long long)rows,
                         (long long)vocab);
    if (rows == 0) return 0;
    size_t cap = 0;
    float *scale = (float *)cuda_scratch(&cap);
    if (!scale) return -1;
    cross_entropy_backward_scale_kernel<<<1, CUDA_ROW_THREADS, 0, cuda_stream()>>>(scale, targets,
                                                                                   dmean, rows);
    CUDA_CHECK_LAUNCH("cross_entropy_backward scale");
    cross_entropy_backward_rows_kernel<<<row_blocks(rows), CUDA_ROW_THREADS, 0, cuda_stream()>>>(
        dlogits, logits, targets, scale, rows, vocab);
    CUDA_CHECK_LAUNCH("cross_entropy_backward rows");
    return 0;
}
