/* ops_backward.h: the backward function of every op in core/ops.c (tape callbacks). */
#ifndef COMPACTER_OPS_BACKWARD_H
#define COMPACTER_OPS_BACKWARD_H

#include "core/autograd.h"

int linear_backward(struct exec *x, struct tape_node *n);
int embedding_backward(struct exec *x, struct tape_node *n);
int rmsnorm_backward(struct exec *x, struct tape_node *n);
int relu_backward(struct exec *x, struct tape_node *n);
int gelu_new_backward(struct exec *x, struct tape_node *n);
int mul_backward(struct exec *x, struct tape_node *n);
int add_backward(struct exec *x, struct tape_node *n);
int scale_backward(struct exec *x, struct tape_node *n);
int attn_scores_backward(struct exec *x, struct tape_node *n);
int attn_softmax_backward(struct exec *x, struct tape_node *n);
int attn_context_backward(struct exec *x, struct tape_node *n);
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

#endif
