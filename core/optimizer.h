/* optimizer.h: AdamW with a linear warmup then linear decay to 0, global grad-norm
 * clipping, as the reference trains (HF Trainer defaults of transformers 4.6).
 * Two AdamW variants: the reference's transformers 4.6 AdamW (default, "paper mode") and
 * torch.optim.AdamW. They differ in where eps enters and when weight decay is applied. */
#ifndef COMPACTER_OPTIMIZER_H
#define COMPACTER_OPTIMIZER_H

#include "core/trainable.h"

enum adamw_variant { ADAMW_HF46 = 1, ADAMW_TORCH = 0 };

struct optim_config {
    double lr, beta1, beta2, eps, weight_decay; /* double, as the Python floats of the reference */
    double max_grad_norm;                       /* <= 0: no clipping */
    int warmup_steps, total_steps;
    enum adamw_variant variant;
};

/* The reference's defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0, clip 1.0. */
struct optim_config optim_defaults(double lr, int warmup_steps, int total_steps);

struct optimizer {
    struct optim_config c;
    struct trainable *tr;
    float *m, *v; /* backend memory, tr->numel each */
    /* host, tr->n each: views of tensor i's moments into m and v (with tr->data_list and
     * tr->grad_list, the multi-tensor update's lists) */
    float **m_list, **v_list;
    int step;     /* optimizer steps taken */
    double last_grad_norm;
    double last_lr;
};

int optimizer_init(struct optimizer *o, struct trainable *tr, const struct optim_config *c);
/* The learning rate the next step uses (lr x the linear schedule at o->step). */
double optimizer_lr(const struct optimizer *o);
/* Clip, update every trained tensor, advance the schedule; gradients are left as they are
 * (zero them before the next accumulation). One multi-tensor sumsq and one multi-tensor
 * AdamW for all tensors (per tensor with COMPACTER_OPTIM_PER_TENSOR=1: trainable.h). */
int optimizer_step(struct optimizer *o);
void optimizer_free(struct optimizer *o);

#endif
