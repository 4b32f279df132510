/* backend.h: the backend op table. The model and the methods are written once against
 * these functions; kernels/cpu implements them in C + OpenBLAS (the reference) and
 * kernels/cuda with CUDA + cuBLAS. All tensors are row-major, f32 unless noted; pointers
 * are the backend's memory (host for cpu, device for cuda). Every op returns 0 or -1
 * with error_message() set. Backward ops are added alongside their forward. */
#ifndef COMPACTER_BACKEND_H
#define COMPACTER_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One AdamW step's scalars, computed in double on the host as torch does and rounded to
 * f32 where torch rounds them (core/optimizer.c fills it). */
struct adamw_step {
    float beta1, beta2, one_minus_beta1, one_minus_beta2, eps;
    float grad_scale; /* multiplies the gradient (clipping) */
    float step_size;  /* hf: lr sqrt(bc2)/bc1; torch: lr/bc1 */
    float bc2_sqrt;   /* torch variant: sqrt(1 - beta2^t) */
    float decay;      /* hf: lr*wd, applied after the update; torch: 1 - lr*wd, before */
    int hf_variant;   /* 1: transformers 4.6 AdamW (the reference); 0: torch.optim.AdamW */
};

struct backend {
    const char *name;
    /* memory */
    void *(*alloc)(size_t bytes); /* NULL + error on failure */
    void (*free)(void *p);
    int (*upload)(void *dst, const void *src, size_t bytes);   /* host -> backend */
    int (*download)(void *dst, const void *src, size_t bytes); /* backend -> host */
    int (*fill)(float *x, float value, size_t n);
    int (*sync)(void);

    /* C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b] for b < batch, op = transpose when
     * trans != 0; C is M x N, op(A) M x K, op(B) K x N; leading dimensions and batch
     * strides in elements. */
    int (*gemm)(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                int lda, int64_t stride_a, const float *b, int ldb, int64_t stride_b, float beta,
                float *c, int ldc, int64_t stride_c, int batch);

    /* out[i, :] = table[ids[i], :], ids i32 in [0, vocab). */
    int (*embedding)(float *out, const float *table, const int32_t *ids, int64_t n, int64_t d);
    /* T5 RMSNorm: out = w * x / sqrt(mean(x^2) + eps), per row of d. */
    int (*rmsnorm)(float *out, const float *x, const float *w, int64_t rows, int64_t d, float eps);
    /* In-place softmax over the last axis of scores [B, H, Q, K] after adding
     * bias [H, Q, K] (may be NULL) and mask [B, K] (additive, may be NULL); with causal,
     * keys k > q are masked too. */
    int (*attn_softmax)(float *scores, const float *bias, const float *mask, int causal, int64_t B,
                        int64_t H, int64_t Q, int64_t K);
    /* out[h, q, k] = table[buckets[q, k] * H + h]: the relative position bias. */
    int (*position_bias)(float *out, const float *table, const int32_t *buckets, int64_t H,
                         int64_t QK);

    /* elementwise, n elements */
    int (*relu)(float *y, const float *x, size_t n);
    int (*gelu_new)(float *y, const float *x, size_t n);
    int (*mul)(float *y, const float *a, const float *b, size_t n);
    int (*add)(float *y, const float *a, const float *b, size_t n);
    int (*scale)(float *y, const float *x, float s, size_t n);

    /* row_loss[r] = logsumexp(logits[r]) - logits[r, target[r]] (0 where target == -100);
     * mean_loss[0] = mean of row_loss over the rows whose target is not -100. */
    int (*cross_entropy)(float *mean_loss, float *row_loss, const float *logits,
                         const int32_t *targets, int64_t rows, int64_t vocab);
    /* out[r] = argmax_v x[r, v] (first index on ties, as torch). */
    int (*argmax)(int32_t *out, const float *x, int64_t rows, int64_t cols);
    /* dst[r, c] (+)= src[r, c] for r < rows, c < cols, with leading dimensions (elements);
     * accumulate: 0 copy, 1 add */
    int (*copy2d)(float *dst, int64_t ld_dst, const float *src, int64_t ld_src, int64_t rows,
                  int64_t cols, int accumulate);
    /* out[a, c, b, d] (+)= in[a, b, c, d] for in of shape [d0, d1, d2, d3] */
    int (*permute_0213)(float *out, const float *in, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                        int accumulate);
    /* In-place unnormalised fast Walsh-Hadamard transform of each row of x [rows, L],
     * L a power of two (its own transpose: the backward is the same transform). */
    int (*fwht)(float *x, int64_t rows, int64_t L);
    /* y = x * keep / (1 - p), keep = philox_uniform(seed, offset, i) >= p (core/philox.h);
     * y may be x (in place: op_attention drops out its probabilities so) */
    int (*dropout)(float *y, const float *x, size_t n, float p, uint64_t seed, uint64_t offset);

    /* ---- backward: every op ACCUMULATES into its gradient outputs (dst += ...); those with an
     * `accumulate` flag, given 0, instead write dst = 0 + ... for every element (bitwise what a
     * zero-filled dst holds after accumulating; dst's prior content, which may be anything, is
     * not read): a new gradient buffer needs no zero fill (core/autograd.h grad_for_overwrite) */
    int (*embedding_backward)(float *dtable, const float *dout, const int32_t *ids, int64_t n,
                              int64_t d);
    /* dx and/or dw (either may be NULL) of out = w * x / rms(x), added to them (accumulate 0:
     * dx = 0 + ...; dw always accumulates) */
    int (*rmsnorm_backward)(float *dx, float *dw, const float *dy, const float *x, const float *w,
                            int64_t rows, int64_t d, float eps, int accumulate);
    /* dscores += P (dP - rowsum(dP P)) (accumulate 0: dscores = 0 + ...); dbias (may be NULL)
     * += the same summed over B (always accumulated) */
    int (*attn_softmax_backward)(float *dscores, float *dbias, const float *dprobs,
                                 const float *probs, int64_t B, int64_t H, int64_t Q, int64_t K, int accumulate);
    int (*position_bias_backward)(float *dtable, const float *dbias, const int32_t *buckets,
                                  int64_t H, int64_t QK);
    int (*relu_backward)(float *dx, const float *dy, const float *y, size_t n);
    /* dx += dy gelu_new'(x) (accumulate 0: dx = 0 + ...) */
    int (*gelu_new_backward)(float *dx, const float *dy, const float *x, size_t n, int accumulate);
    int (*mul_acc)(float *y, const float *a, const float *b, size_t n); /* y += a * b */
    /* y += alpha x (accumulate 0: y = 0 + alpha x) */
    int (*axpy)(float *y, const float *x, float alpha, size_t n, int accumulate);
    /* dlogits += (softmax(logits) - onehot(target)) * dmean[0] / (rows with target != -100) */
    int (*cross_entropy_backward)(float *dlogits, const float *logits, const int32_t *targets,
                                  const float *dmean, int64_t rows, int64_t vocab);
    /* dx += kept ? dy / (1 - p) : 0 (accumulate 0: dx = kept ? 0 + dy / (1 - p) : 0) */
    int (*dropout_backward)(float *dx, const float *dy, size_t n, float p, uint64_t seed,
                            uint64_t offset, int accumulate);

    /* ---- optimizer ---- */
    /* out[0] += sum of x^2 (accumulated in double on the CPU) */
    int (*sumsq)(float *out, const float *x, size_t n);
    /* One AdamW update of n parameters; see core/optimizer.h for the two variants. */
    int (*adamw)(float *p, const float *g, float *m, float *v, size_t n, const struct adamw_step *a);

    /* Numeric mode: "fp32" (strict), "tf32" or "bf16" (CUDA: GEMMs on tensor cores, fp32
     * storage, kernels/cuda/cuda_backend.h; CPU: the same operand rounding emulated,
     * kernels/cpu/cpu_gemm.c); an unsupported mode is an error naming the backend. */
    int (*set_precision)(const char *mode);

    /* gemm over a two-level batch (attention over batch x heads in one call): for o < outer
     * and i < inner, X[o][i] = x + o * outer_stride_x + i * stride_x, then as gemm. May be
     * NULL: backend_gemm_2level() then loops over gemm. */
    int (*gemm_2level)(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                       int64_t stride_a, int64_t outer_stride_a, const float *b, int ldb, int64_t stride_b,
                       int64_t outer_stride_b, float beta, float *c, int ldc, int64_t stride_c,
                       int64_t outer_stride_c, int inner, int outer);

    /* ---- multi-tensor optimizer ops: the whole optimizer phase in O(1) launches ----
     * count tensors; the arrays are host memory (count entries), the pointers in them and
     * `out` the backend's. Each result is bit-identical to the single-tensor op's on the
     * same backend. The tensors must not overlap. Both may be NULL: the backend_* wrappers
     * below then loop over the single-tensor ops. */
    /* out[k] += sum of x[k]^2 for k < count, each as sumsq(out + k, x[k], n[k]) */
    int (*sumsq_multi)(float *out, const float *const *x, const size_t *n, int count);
    /* adamw(p[k], g[k], m[k], v[k], n[k], &step[decay[k] ? 1 : 0]) for k < count: step[0]
     * holds the scalars of the tensors without weight decay, step[1] those of the others
     * (core/optimizer.c makes them differ only in .decay) */
    int (*adamw_multi)(float *const *p, const float *const *g, float *const *m, float *const *v,
                       const size_t *n, const char *decay, int count,
                       const struct adamw_step step[2]);

    /* embedding_backward for ids that do not repeat (a permutation's rows: Intrinsic-SAID's
     * Fastfood): every destination row gets one add, so the rows run in parallel and the
     * result is bit-identical to embedding_backward's. Repeated ids are the caller's error
     * (not detected). May be NULL: backend_embedding_backward_unique then calls
     * embedding_backward. */
    int (*embedding_backward_unique)(float *dtable, const float *dout, const int32_t *ids,
                                     int64_t n, int64_t d);

    /* T5's FFN activation and its dropout in one pass: y = dropout(relu(x)), bit for bit
     * relu then dropout (the same mask: seed, offset as dropout), and mask[i / 32] bit i % 32
     * = (y[i] > 0), ceil(n / 32) words: all that the backward needs (so the tape keeps 1 bit
     * per element, not y): dx += bit ? 0 + dy / (1 - p) : 0, bit for bit the two backward
     * ops in turn (the "0 +" is the zeroed gradient of the relu output that dropout's
     * backward adds into). Both may be NULL: op_relu_dropout then runs the two ops. */
    int (*relu_dropout)(float *y, uint32_t *mask, const float *x, size_t n, float p, uint64_t seed,
                        uint64_t offset);
    int (*relu_dropout_backward)(float *dx, const float *dy, const uint32_t *mask, size_t n, float p,
                                 int accumulate);
    /* T5's residual add of a dropped-out sublayer output: y = h + dropout(x), bit for bit
     * dropout then add (the same mask: seed, offset as dropout). Its backward is add's and
     * dropout's (axpy, dropout_backward). May be NULL: op_dropout_add then runs the two ops. */
    int (*dropout_add)(float *y, const float *h, const float *x, size_t n, float p, uint64_t seed,
                       uint64_t offset);
    /* T5 v1.1's gated FFN: y = gelu_new(a) * g, bit for bit gelu_new then mul. Backward,
     * from a and g alone (gelu_new(a) is recomputed): dg += dy gelu_new(a) (if dg), and
     * da += (0 + dy g) gelu_new'(a) (if da), bit for bit mul's and gelu_new's backward in
     * turn (the "0 +" is the zeroed gradient of gelu's output that mul's backward adds
     * into). Both may be NULL: op_gelu_mul then runs the two ops. */
    int (*gelu_mul)(float *y, const float *a, const float *g, size_t n);
    int (*gelu_mul_backward)(float *da, float *dg, const float *dy, const float *a, const float *g, size_t n);
    /* T5's attention probabilities and their dropout in one pass, in place: scores become
     * dropout(softmax(scores + bias + mask (+ causal)), p), bit for bit attn_softmax then
     * dropout(scores, scores, B H Q K, p, seed, offset) (element i of the [B, H, Q, K] tensor
     * takes draw i). Backward, from the undropped probabilities: ds (and dbias) +=
     * attn_softmax_backward of dprobs = dropout_backward of ddropped into zeros, bit for bit
     * those ops in turn with dprobs zero-filled first (accumulate: ds's, as attn_softmax_backward);
     * then, if drop_probs, probs becomes its
     * dropped copy (bit for bit dropout(probs, probs, ...): what dv = dropped^T dctx reads).
     * Both may be NULL: op_attention then runs the separate ops. */
    int (*attn_softmax_dropout)(float *scores, const float *bias, const float *mask, int causal, int64_t B,
                                int64_t H, int64_t Q, int64_t K, float p, uint64_t seed, uint64_t offset);
    int (*attn_softmax_dropout_backward)(float *ds, float *dbias, const float *ddropped, float *probs,
                                         int64_t B, int64_t H, int64_t Q, int64_t K, float p, uint64_t seed,
                                         uint64_t offset, int drop_probs, int accumulate);

    /* ---- bf16 storage (--precision bf16; core/ops.h describes what is stored so) ----
     * A bf16 tensor is a uint16_t array of core/bf16.h values. Each kernel below widens its
     * bf16 inputs exactly (bf16_widen), computes in f32 exactly as the f32 op named, and
     * narrows on store (bf16_from_f32): bit for bit that f32 op composed with the
     * conversions. convert and gemm_bf16 are what a backend needs for bf16 storage; the
     * others may be NULL (core/ops.c then composes them from convert and the f32 ops). */
    /* to_bf16 1: dst (bf16) = bf16_from_f32(src (f32)); 0: dst (f32) = bf16_widen(src (bf16)) */
    int (*convert)(void *dst, const void *src, size_t n, int to_bf16);
    /* gemm with bf16 A and B (widened exactly), products summed in f32 (any order: on the
     * device cuBLAS's tensor cores, CUBLAS_COMPUTE_32F). c_bf16 0: C is f32, C = alpha op(A)
     * op(B) + beta C; c_bf16 1: C is bf16 and beta must be 0, C = bf16_from_f32(alpha op(A)
     * op(B)). Shapes, leading dimensions and strides as gemm. */
    int (*gemm_bf16)(int trans_a, int trans_b, int m, int n, int k, float alpha, const uint16_t *a, int lda,
                     int64_t stride_a, const uint16_t *b, int ldb, int64_t stride_b, float beta, void *c,
                     int c_bf16, int ldc, int64_t stride_c, int batch);
    /* out (bf16) = rmsnorm(x, w) narrowed */
    int (*rmsnorm_to_bf16)(uint16_t *out, const float *x, const float *w, int64_t rows, int64_t d, float eps);
    /* y (bf16), mask = relu_dropout(widen(x)) with y narrowed; relu_dropout_backward serves */
    int (*relu_dropout_bf16)(uint16_t *y, uint32_t *mask, const uint16_t *x, size_t n, float p, uint64_t seed,
                             uint64_t offset);
    /* y (bf16) = gelu_mul(widen(a), widen(g)) narrowed; backward: gelu_mul_backward with
     * widen(a), widen(g) (da, dg, dy f32) */
    int (*gelu_mul_bf16)(uint16_t *y, const uint16_t *a, const uint16_t *g, size_t n);
    int (*gelu_mul_bf16_backward)(float *da, float *dg, const float *dy, const uint16_t *a, const uint16_t *g,
                                  size_t n);
    /* y (f32) = dropout_add(h, widen(x)): the residual stream stays f32 */
    int (*dropout_add_bf16)(float *y, const float *h, const uint16_t *x, size_t n, float p, uint64_t seed,
                            uint64_t offset);

    /* y[r, c] = x[r, c] + b[c] over rows x cols (row-major, contiguous); y may be x. b enters
     * as gemm reads an operand under the precision mode (rounded to tf32 or bf16 there): bit
     * for bit a copy followed by gemm's rank-1 update with a column of ones, what op_add_bias
     * ran before this op (tests/test_gemm_precision.c checks the CPU's against it). */
    int (*add_bias)(float *y, const float *x, const float *b, int64_t rows, int64_t cols);
};

/* be->gemm_2level, or a loop of be->gemm over the outer batch where the backend has none. */
int backend_gemm_2level(const struct backend *be, int trans_a, int trans_b, int m, int n, int k, float alpha,
                        const float *a, int lda, int64_t stride_a, int64_t outer_stride_a, const float *b, int ldb,
                        int64_t stride_b, int64_t outer_stride_b, float beta, float *c, int ldc, int64_t stride_c,
                        int64_t outer_stride_c, int inner, int outer);

/* be->sumsq_multi, or backend_sumsq_per_tensor where the backend has none. */
int backend_sumsq_multi(const struct backend *be, float *out, const float *const *x,
                        const size_t *n, int count);
/* The same as one be->sumsq per tensor (COMPACTER_OPTIM_PER_TENSOR=1 uses it). */
int backend_sumsq_per_tensor(const struct backend *be, float *out, const float *const *x,
                             const size_t *n, int count);
/* be->adamw_multi, or backend_adamw_per_tensor where the backend has none. */
int backend_adamw_multi(const struct backend *be, float *const *p, const float *const *g,
                        float *const *m, float *const *v, const size_t *n, const char *decay,
                        int count, const struct adamw_step step[2]);
/* The same as one be->adamw per tensor (COMPACTER_OPTIM_PER_TENSOR=1 uses it). */
int backend_adamw_per_tensor(const struct backend *be, float *const *p, const float *const *g,
                             float *const *m, float *const *v, const size_t *n, const char *decay,
                             int count, const struct adamw_step step[2]);

/* be->embedding_backward_unique, or be->embedding_backward where the backend has none. */
int backend_embedding_backward_unique(const struct backend *be, float *dtable, const float *dout,
                                      const int32_t *ids, int64_t n, int64_t d);

extern const struct backend backend_cpu;
#ifdef HAVE_CUDA
extern const struct backend backend_cuda;
/* 1 if a CUDA device can be used; otherwise 0 and error_message() says why. */
int cuda_available(void);
#endif

/* be->set_precision(mode), remembered: exec_init reads it back (backend_bf16_storage). */
int backend_set_precision(const struct backend *be, const char *mode);
/* 1 when be's precision was last set to "bf16" through backend_set_precision, it has the
 * bf16-storage ops (convert, gemm_bf16) and COMPACTER_BF16_STORAGE is not 0: activations and
 * frozen linear weights are then stored bf16 (core/ops.h); else 0 (with "bf16", the GEMMs
 * alone then round their operands, and storage stays f32). */
int backend_bf16_storage(const struct backend *be);

/* "cpu" or "cuda" ("auto": cuda when built and a device is present, else cpu). */
const struct backend *backend_by_name(const char *name);

#ifdef __cplusplus
}
#endif
#endif
