/* t5_layers.h: the pieces of a T5 block shared by the forward pass (t5_forward.c) and
 * cached greedy decoding (t5_generate.c), each applying the model's method hooks. */
#ifndef COMPACTER_T5_LAYERS_H
#define COMPACTER_T5_LAYERS_H

#include "core/t5_model.h"

/* Additive mask value for hidden keys (equal to transformers' for any row with a visible key). */
#define T5_MASK_VALUE (-1e9f)

/* The tensor to use for base parameter p (the `param` hook). */
struct tensor *t5_param(struct exec *x, const struct t5_model *m, struct tensor *p);
/* in W^T through the `linear` hook for projection proj at site s. */
struct tensor *t5_linear(struct exec *x, const struct t5_model *m, struct t5_site s, enum t5_proj proj,
                         struct tensor *in, struct tensor *w);
struct tensor *t5_norm(struct exec *x, const struct t5_model *m, struct t5_site s, struct tensor *in,
                       struct tensor *w);
struct tensor *t5_sublayer_out(struct exec *x, const struct t5_model *m, struct t5_site s, struct tensor *y);
/* Self- or cross-attention of hq over hkv with bias [H, Tq, Tk] and mask [B, Tk] (either NULL). */
struct tensor *t5_attention(struct exec *x, const struct t5_model *m, struct t5_site s, const struct t5_attn *w,
                            struct tensor *hq, struct tensor *hkv, struct tensor *bias, struct tensor *mask,
                            int causal);
struct tensor *t5_ffn(struct exec *x, const struct t5_model *m, struct t5_site s, const struct t5_ffn *w,
                      struct tensor *h);
/* Relative position bias [H, Q, K] for queries 0..Q-1 and keys 0..K-1. */
struct tensor *t5_bias_for(struct exec *x, const struct t5_model *m, struct tensor *table, int Q, int K,
                           int bidirectional);

#endif
