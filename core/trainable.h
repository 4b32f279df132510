/* trainable.h: the set of tensors being trained, with their gradient buffers in one
 * backend allocation (so zeroing, clipping and saving are one pass each). Tensors not in
 * the set stay frozen: requires_grad 0, no gradient memory, nothing recorded for them.
 * The gradient norm and the AdamW update (optimizer.h) go through the backend's
 * multi-tensor ops (backend_sumsq_multi, backend_adamw_multi: O(1) launches for all
 * tensors); with COMPACTER_OPTIM_PER_TENSOR=1 in the environment at trainable_init they
 * make one single-tensor call per tensor instead (the same results, bit for bit). */
#ifndef COMPACTER_TRAINABLE_H
#define COMPACTER_TRAINABLE_H

#include "core/backend.h"
#include "core/tensor.h"

struct trainable {
    const struct backend *be;
    struct tensor **t; /* the trained tensors (parameters of the model and of methods) */
    char *decay;       /* per tensor: 1 if weight decay applies */
    int n;
    int64_t numel;
    float *grad; /* backend memory, numel floats; t[i]->grad points inside */
    float *norms; /* backend memory, n floats: per-tensor squared norms (clipping) */
    float *norms_host; /* their host copy */
    /* host, n each, fixed at trainable_init: the tensors' data and gradients (the lists of
     * the multi-tensor sumsq and AdamW) */
    float **data_list;
    const float **grad_list;
    size_t *numel_list;      /* host, n: each tensor's element count */
    unsigned char *got_grad; /* host, n: 1 once a step gave the tensor a non-zero gradient */
    int per_tensor;          /* COMPACTER_OPTIM_PER_TENSOR=1: the optimizer ops tensor by tensor */
};

/* Take tensors ts[0..n) (duplicates are kept once), mark them requires_grad and give
 * each a gradient view. Weight decay applies to all unless no_decay(name) says otherwise. */
int trainable_init(struct trainable *tr, const struct backend *be, struct tensor **ts, int n,
                   int (*no_decay)(const char *name));
int trainable_zero_grad(struct trainable *tr);
/* Sum over tensors of the squared L2 norm of the gradients (each tensor's in one
 * multi-tensor sumsq, then added in double on the host, in tensor order). */
int trainable_grad_sumsq(struct trainable *tr, double *out);
/* The trained tensors that no step so far (trainable_grad_sumsq) gave a non-zero gradient:
 * their count, and the first names, comma-separated, in names (cap bytes). A tensor the
 * loss does not reach never changes: a method that does not use its parameter. */
int trainable_without_grad(const struct trainable *tr, char *names, size_t cap);
void trainable_free(struct trainable *tr);

/* The reference's rule (HF Trainer): no decay for names containing "bias" (T5's own
 * RMSNorm is not nn.LayerNorm, so its weights are decayed). */
int no_decay_bias(const char *name);
/* Also exempt layer norms. */
int no_decay_bias_and_norms(const char *name);

#endif
