/* autograd.h: the tape. While an execution context records (x->record), every op whose
 * inputs require a gradient appends a node holding what its backward needs; the output
 * then requires a gradient too. Ops whose inputs need none record nothing, so frozen parts
 * of the network cost no backward work. backward() walks the tape newest-first.
 * Gradients accumulate: a parameter's grad points into its owner's persistent gradient
 * buffer (zeroed by the optimizer); an activation's grad is allocated from the arena on
 * first use, zero-filled. */
#ifndef COMPACTER_AUTOGRAD_H
#define COMPACTER_AUTOGRAD_H

#include "core/exec.h"

#define TAPE_MAX_INPUTS 4

struct tape_node {
    const char *op;                      /* for messages */
    int (*backward)(struct exec *x, struct tape_node *n);
    struct tensor *out;
    struct tensor *in[TAPE_MAX_INPUTS];
    float f[4];                          /* op scalars (eps, scale, p, ...) */
    int64_t i[4];                        /* op integers (heads, causal, seed, offset) */
    struct tape_node *prev;
};

/* Record a node for out = op(in...) if recording and any input requires a gradient.
 * Returns the node (fill in f/i) or NULL when nothing was recorded. */
struct tape_node *tape_record(struct exec *x, const char *op,
                              int (*backward)(struct exec *, struct tape_node *),
                              struct tensor *out, struct tensor *in0, struct tensor *in1,
                              struct tensor *in2, struct tensor *in3);

/* The gradient buffer of t (allocated zeroed from the arena if t has none yet). */
float *grad_of(struct exec *x, struct tensor *t);

/* Backpropagate from a scalar loss [1] (d loss = 1). Returns -1 with the failing op named. */
int backward(struct exec *x, struct tensor *loss);

#endif
