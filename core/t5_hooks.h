/* t5_hooks.h: the sites where a PEFT method plugs into the T5 forward pass. The core calls
 * these and knows nothing of any method (methods/ implements them). Every hook is optional:
 * NULL means the plain T5 behaviour. Hooks write forward code only; the tape gives them
 * their backward. */
#ifndef COMPACTER_T5_HOOKS_H
#define COMPACTER_T5_HOOKS_H

#include "core/exec.h"

enum t5_stack { T5_ENCODER = 0, T5_DECODER = 1 };
enum t5_sublayer { T5_SELF_ATTN = 0, T5_CROSS_ATTN = 1, T5_FFN = 2, T5_FINAL = 3, T5_HEAD = 4 };
enum t5_proj { T5_Q = 0, T5_K, T5_V, T5_O, T5_WI, T5_WI_1, T5_WO, T5_LM_HEAD, T5_NO_PROJ };

/* Where in the network a hook is called. layer is -1 for the final norm and the head. */
struct t5_site {
    enum t5_stack stack;
    int layer;
    enum t5_sublayer sublayer;
    enum t5_proj proj; /* linear hooks only */
};

struct t5_hooks {
    void *ctx;
    /* Once per forward pass, before anything else (build PHM weights, re-parameterise). */
    int (*before_forward)(void *ctx, struct exec *x);
    /* The tensor to use in place of base parameter p (Intrinsic-SAID); default p. */
    struct tensor *(*param)(void *ctx, struct exec *x, struct tensor *p);
    /* Encoder input embeddings [B, S, d] before embedding dropout; may prepend positions
     * (prompt tuning): returns [B, S + *n_prefix, d] and sets *n_prefix. */
    struct tensor *(*input_embeds)(void *ctx, struct exec *x, struct tensor *h, int *n_prefix);
    /* A projection: must return in W^T plus whatever the method adds (LoRA, BitFit bias,
     * (IA)^3 scaling); call op_linear for the plain part. */
    struct tensor *(*linear)(void *ctx, struct exec *x, const struct t5_site *s, struct tensor *in,
                             struct tensor *w);
    /* A layer norm's output (BitFit adds a bias). */
    struct tensor *(*norm_out)(void *ctx, struct exec *x, const struct t5_site *s, struct tensor *y);
    /* A sublayer's output before dropout and the residual add (adapters):
     * h' = h + Dropout(sublayer_out(y)). Called for self-attention, cross-attention and FFN. */
    struct tensor *(*sublayer_out)(void *ctx, struct exec *x, const struct t5_site *s,
                                   struct tensor *y);
};

#endif
