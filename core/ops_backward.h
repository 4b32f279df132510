/* ops_backward.h: the backward function of every op in core/ops.c (tape callbacks). */
#ifndef COMPACTER_OPS_BACKWARD_H
#define COMPACTER_OPS_BACKWARD_H

#include "core/autograd.h"

int linear_backward(struct exec *x, struct tape_node *n);
int convert_backward(struct exec *x, struct tape_node *n);
/* t (f32) narrowed to bf16 into scratch memory (exec_scratch_done when done), or NULL */
uint16_t *narrowed_scratch(struct exec *x, const struct tensor *t);
/* q, k, v's f32 data for attention: their own, or (all three bf16: op_attention under bf16
 * storage keeps them so) widened copies in one scratch block *scratch (exec_scratch_done it;
 * NULL when none). 0 or -1. */
int attention_inputs_f32(struct exec *x, const struct tensor *q, const struct tensor *k, const struct tensor *v,
                         const float **qd, const float **kd, const float **vd, float **scratch);
int embedding_backward(struct exec *x, struct tape_node *n);
int embedding_unique_backward(struct exec *x, struct tape_node *n);
int rmsnorm_backward(struct exec *x, struct tape_node *n);
int relu_backward(struct exec *x, struct tape_node *n);
int relu_dropout_backward(struct exec *x, struct tape_node *n);
int dropout_add_backward(struct exec *x, struct tape_node *n);
int gelu_mul_backward(struct exec *x, struct tape_node *n);
int gelu_new_backward(struct exec *x, struct tape_node *n);
int mul_backward(struct exec *x, struct tape_node *n);
int add_backward(struct exec *x, struct tape_node *n);
int scale_backward(struct exec *x, struct tape_node *n);
int attn_scores_backward(struct exec *x, struct tape_node *n);
int attn_softmax_backward(struct exec *x, struct tape_node *n);
int attn_context_backward(struct exec *x, struct tape_node *n);
int attention_backward(struct exec *x, struct tape_node *n);
int position_bias_backward(struct exec *x, struct tape_node *n);
int cross_entropy_backward(struct exec *x, struct tape_node *n);
int dropout_backward(struct exec *x, struct tape_node *n);
int add_bias_backward(struct exec *x, struct tape_node *n);
int prepend_backward(struct exec *x, struct tape_node *n);
int permute_0213_backward(struct exec *x, struct tape_node *n);
int bmm_backward(struct exec *x, struct tape_node *n);
int view_backward(struct exec *x, struct tape_node *n);
int fwht_backward(struct exec *x, struct tape_node *n);
int resize_cols_backward(struct exec *x, struct tape_node *n);

/* Attention's backend calls, written once for the op-by-op attention (op_attn_scores,
 * op_attn_softmax, op_attn_context) and op_attention, which recomputes the probabilities in
 * backward: both paths make the very same calls, so their results are bitwise equal.
 * Shapes: q [B, Tq, inner], k and v [B, Tk, inner], inner = H dk, scores and probs
 * [B, H, Tq, Tk], context [B, Tq, inner]. The forward GEMMs overwrite; each gradient output
 * is scaled by its beta first (1: accumulate; 0: overwrite a new buffer, which may hold
 * anything); a NULL gradient output is skipped. */
int attn_scores_gemm(const struct backend *be, float *s, const float *q, const float *k, int64_t B, int64_t H,
                     int64_t Tq, int64_t Tk, int64_t inner);
int attn_context_gemm(const struct backend *be, float *c, const float *p, const float *v, int64_t B, int64_t H,
                      int64_t Tq, int64_t Tk, int64_t inner);
int attn_scores_grad(const struct backend *be, float *dq, float beta_q, float *dk, float beta_k, const float *ds,
                     const float *q, const float *k, int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t inner);
int attn_context_grad(const struct backend *be, float *dp, float beta_p, float *dv, float beta_v, const float *dc,
                      const float *p, const float *v, int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t inner);
/* probs = dropout(softmax(q k^T + bias + mask (+ causal)), p) (p = 0: no dropout; seed and
 * offset: the dropout stream's, as be->dropout's), bias and mask may be NULL. With fuse and the
 * backend's attn_softmax_dropout the softmax and the dropout are one pass, bit for bit the
 * two (be->attn_softmax, then be->dropout in place). */
int attn_probs(const struct backend *be, int fuse, float *probs, const float *q, const float *k, const float *bias,
               const float *mask, int causal, int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t inner, float p,
               uint64_t seed, uint64_t offset);

#endif
