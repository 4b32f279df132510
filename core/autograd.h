/* autograd.h: the tape. While an execution context records (x->record), every op whose
 * inputs require a gradient appends a node; the output then requires a gradient too. Ops
 * whose inputs need none record nothing, so frozen parts of the network cost no backward
 * work. backward() walks the tape newest-first.
 * Memory: a node keeps alive (pins, core/pool.h) only the tensors its backward reads,
 * decided when it is recorded from which inputs need a gradient (tape_save): a frozen
 * linear y = x W^T whose x needs a gradient keeps W (a parameter: nothing to pin) but not x.
 * Everything else is freed as soon as the forward code is done with it (exec scopes).
 * During backward, once a node has run, its pins are released and its output's gradient is
 * freed.
 * Gradients accumulate: a parameter's grad points into its owner's persistent gradient
 * buffer (zeroed by the optimizer); an activation's grad is allocated from the pool on
 * first use, zero-filled, or left unfilled for an op that writes all of it outright
 * (grad_for_overwrite: GEMMs with beta 0, kernels with accumulate 0). Only leaves (tensors
 * without a node) keep theirs after backward. */
#ifndef COMPACTER_AUTOGRAD_H
#define COMPACTER_AUTOGRAD_H

#include "core/exec.h"

#define TAPE_MAX_INPUTS 5 /* tape_record takes 4; an op may add a 5th that takes no gradient */
#define TAPE_MAX_SAVED 5

struct tape_node {
    const char *op;                      /* for messages */
    int (*backward)(struct exec *x, struct tape_node *n);
    struct tensor *out;
    struct tensor *in[TAPE_MAX_INPUTS]; /* in[4]: set by the op after recording (never a gradient) */
    float f[4];                          /* op scalars (eps, scale, p, ...) */
    int64_t i[4];                        /* op integers (heads, causal, seed, offset) */
    const void *saved[TAPE_MAX_SAVED];   /* memory pinned for backward */
    int n_saved;
    struct tape_node *prev;
};

/* Record a node for out = op(in...) if recording and any input requires a gradient.
 * Returns the node (fill in f/i, tape_save what backward reads) or NULL when nothing was
 * recorded. Nothing is pinned by default. */
struct tape_node *tape_record(struct exec *x, const char *op,
                              int (*backward)(struct exec *, struct tape_node *),
                              struct tensor *out, struct tensor *in0, struct tensor *in1,
                              struct tensor *in2, struct tensor *in3);
/* Keep t's memory until n's backward has run (no-op for parameters and NULL). 0 or -1. */
int tape_save(struct exec *x, struct tape_node *n, const struct tensor *t);
/* Release n's pins (backward does it after running n; exec_release for dropped nodes). */
void tape_unpin(struct exec *x, struct tape_node *n);

/* The gradient buffer of t (allocated zeroed from the pool if t has none yet). */
float *grad_of(struct exec *x, struct tensor *t);
/* grad_of for an op that can overwrite the whole gradient: when t has no gradient yet, a new
 * buffer left unfilled and *fresh = 1, and the op must write every element as if it added
 * into zeros (a GEMM with beta 0: the zero fill and the read of it saved); otherwise t's
 * buffer and *fresh = 0 (accumulate). With x->overwrite_grads 0 (COMPACTER_ZERO_FILL_GRADS=1),
 * always grad_of's buffer and *fresh = 0. NULL on failure. */
float *grad_for_overwrite(struct exec *x, struct tensor *t, int *fresh);

/* For a backward whose gradient for input t is exactly n's output gradient (view, convert,
 * one side of add, dropout_add's residual, add_bias's input): when t has no gradient yet,
 * hand it n->out's buffer (pool memory, same element count) instead of copying, and return
 * 1; n->out->grad becomes NULL, so the backward must not read it afterwards. Returns 0 (copy
 * or add as usual) when t has a gradient already (a parameter's, or another consumer's),
 * and with x->overwrite_grads 0 (COMPACTER_ZERO_FILL_GRADS=1: the copies, for A/B). */
int grad_take(struct exec *x, struct tensor *t, struct tape_node *n);

/* Backpropagate from a scalar loss [1] (d loss = 1). Returns -1 with the failing op named.
 * Consumes the tape's pins: call it once per recorded forward. */
int backward(struct exec *x, struct tensor *loss);

#endif
