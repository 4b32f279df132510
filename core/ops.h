/* ops.h: tensor operations on an execution context. Each op checks shapes, allocates its
 * output from the arena and calls the backend. NULL in, NULL out: an op given a NULL input
 * returns NULL without touching the error message, so a forward pass can be written as
 * straight-line code and checked once at the end. While x->record is set, each op whose
 * inputs require a gradient records its backward on the tape (core/autograd.h); the
 * backward functions live in core/ops_backward.c. */
#ifndef COMPACTER_OPS_H
#define COMPACTER_OPS_H

#include "core/exec.h"

/* bf16 storage (x->bf16: --precision bf16, core/backend.h backend_bf16_storage), after
 * torch.autocast(bfloat16): every linear runs on bf16 operands (f32 sums) and stores its
 * output bf16; RMSNorm stores bf16 where its reader is a projection (op_rmsnorm_to, chosen
 * by the model); the FFN's activation ops keep a bf16 input bf16 (op_relu_dropout,
 * op_gelu_mul); frozen linear weights are stored bf16 (t5_model_frozen_to_bf16) and
 * trainable ones narrowed into scratch memory at each use (forward and backward: no copy is
 * kept). Stay f32: the residual stream (op_dropout_add widens into it), attention (scores,
 * probabilities, context; recomputing, its node keeps q, k, v bf16 and widens them when
 * needed), the logits and the loss, every gradient, the parameters that train and the
 * optimizer state. The other GEMMs (attention's, the methods' op_bmm) take f32 operands and
 * round them to bf16 inside the GEMM (the backend's bf16 precision mode), f32 sums and
 * outputs. Any other op given a bf16 tensor widens it first (op_convert), so methods work
 * unchanged. A bf16 tensor may reach an op with x->bf16 0 only through a bf16 weight.
 * tests/test_bf16_storage.c checks all this against a PyTorch reference. */
/* f32 <-> bf16 (nearest even, core/bf16.h); in itself when it has that dtype. The gradient
 * (f32 either way) passes through unchanged. */
struct tensor *op_convert(struct exec *x, struct tensor *in, enum dtype to);
/* y[..., out] = x[..., in] W^T with W [out, in] (torch.nn.Linear without bias). */
struct tensor *op_linear(struct exec *x, struct tensor *in, struct tensor *w);
/* out [B, T, d] = table[ids] with ids i32 [B, T], table [V, d]. */
struct tensor *op_embedding(struct exec *x, struct tensor *table, struct tensor *ids);
/* op_embedding for ids that do not repeat (a permutation of rows): its backward scatters all
 * rows at once (backend embedding_backward_unique), bit-identical to op_embedding's.
 * Repeated ids are the caller's error and are not detected. */
struct tensor *op_gather_unique(struct exec *x, struct tensor *table, struct tensor *ids);
struct tensor *op_rmsnorm(struct exec *x, struct tensor *in, struct tensor *w, float eps);
/* op_rmsnorm with its output stored as out (DTYPE_F32 or DTYPE_BF16: narrowed on store). */
struct tensor *op_rmsnorm_to(struct exec *x, struct tensor *in, struct tensor *w, float eps, enum dtype out);
struct tensor *op_relu(struct exec *x, struct tensor *in);
struct tensor *op_gelu_new(struct exec *x, struct tensor *in);
/* op_dropout(op_relu(in), p), bit for bit, in one pass where the backend has the fused op
 * (and x->fuse): one tensor made and kept for backward instead of two. */
struct tensor *op_relu_dropout(struct exec *x, struct tensor *in, float p);
/* op_add(h, op_dropout(in, p)), bit for bit, in one pass where the backend has the fused op
 * (and x->fuse): the dropped-out tensor is never made. */
struct tensor *op_dropout_add(struct exec *x, struct tensor *h, struct tensor *in, float p);
/* op_mul(op_gelu_new(a), g), bit for bit, in one pass where the backend has the fused op
 * (and x->fuse): gelu's output is never stored (its backward recomputes it from a). */
struct tensor *op_gelu_mul(struct exec *x, struct tensor *a, struct tensor *g);
struct tensor *op_mul(struct exec *x, struct tensor *a, struct tensor *b);
struct tensor *op_add(struct exec *x, struct tensor *a, struct tensor *b);
struct tensor *op_scale(struct exec *x, struct tensor *in, float s);

/* scores [B, H, Tq, Tk] = Q K^T per head; q [B, Tq, H*dk], k [B, Tk, H*dk]. No scaling. */
struct tensor *op_attn_scores(struct exec *x, struct tensor *q, struct tensor *k, int heads);
/* Softmax over keys after adding bias [H, Tq, Tk] (or NULL), mask [B, Tk] (additive, or
 * NULL) and, if causal, the causal mask. Works in place: returns scores, now the probs. */
struct tensor *op_attn_softmax(struct exec *x, struct tensor *scores, struct tensor *bias,
                               struct tensor *mask, int causal);
/* ctx [B, Tq, H*dk] = probs [B, H, Tq, Tk] V; v [B, Tk, H*dk]. */
struct tensor *op_attn_context(struct exec *x, struct tensor *probs, struct tensor *v);
/* T5 attention: ctx [B, Tq, H*dk] = dropout(softmax(q k^T + bias + mask (+ causal)), p) v, the
 * chain op_attn_scores -> op_attn_softmax -> op_dropout -> op_attn_context with bitwise the
 * same results and gradients. Under autograd, per x->recompute_attention (core/exec.h), it
 * either records that chain (which keeps the probabilities [B, H, Tq, Tk], and the dropped
 * ones, until backward) or one node that keeps only q, k, v, bias and mask and recomputes the
 * probabilities in backward (the dropout mask from its Philox seed and offset). bias, mask:
 * as op_attn_softmax, either may be NULL; the mask gets no gradient. */
struct tensor *op_attention(struct exec *x, struct tensor *q, struct tensor *k, struct tensor *v,
                            struct tensor *bias, struct tensor *mask, int heads, int causal, float p);
/* bias [H, Tq, Tk] from table [num_buckets, H] and buckets i32 [Tq, Tk]. */
struct tensor *op_position_bias(struct exec *x, struct tensor *table, struct tensor *buckets);
/* Mean cross-entropy over rows of logits [.., V] whose target (i32, same rows) != -100;
 * returns a [1] tensor. */
struct tensor *op_cross_entropy(struct exec *x, struct tensor *logits, struct tensor *targets);
/* Inverted dropout with probability p when x->training (identity otherwise); the mask
 * comes from Philox(x->seed, x->rng_offset) and is regenerated, not stored, for backward. */
struct tensor *op_dropout(struct exec *x, struct tensor *in, float p);
/* i32 [rows] argmax over the last axis. */
struct tensor *op_argmax(struct exec *x, struct tensor *in);

#endif

/* ---- ops for methods (all with backward) ---- */
/* y[..., n] = in[..., n] + b[n] (bias broadcast over rows). */
struct tensor *op_add_bias(struct exec *x, struct tensor *in, struct tensor *b);
/* [B, P+S, d]: prefix [P, d] (shared by the batch) before each sequence of h [B, S, d]. */
struct tensor *op_prepend(struct exec *x, struct tensor *prefix, struct tensor *h);
/* [d0, d2, d1, d3] from in [d0, d1, d2, d3]. */
struct tensor *op_permute_0213(struct exec *x, struct tensor *in);
/* Batched product: a [bt, m, k] @ b [bt, k, n] -> [bt, m, n] (bt may be 1; 2-D inputs are
 * taken as bt = 1). */
struct tensor *op_bmm(struct exec *x, struct tensor *a, struct tensor *b);
/* The same data seen with another shape (same element count); its gradient flows back. */
struct tensor *op_view(struct exec *x, struct tensor *in, int ndim, const int64_t *shape);
/* Unnormalised Walsh-Hadamard transform of each row of in [rows, L]; backward_scale
 * multiplies the gradient (1 = the true gradient). */
struct tensor *op_fwht(struct exec *x, struct tensor *in, float backward_scale);
/* Row slice / zero-padded copy of a [rows, n] tensor into [rows, m] (first min(n, m)
 * columns copied, the rest zero). */
struct tensor *op_resize_cols(struct exec *x, struct tensor *in, int64_t m);
