/* optimizer.c: AdamW, the linear schedule and grad-norm clipping. */
#include "core/optimizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

struct optim_config optim_defaults(double lr, int warmup_steps, int total_steps) {
    struct optim_config c = {lr, 0.9, 0.999, 1e-8, 0.0, 1.0, warmup_steps, total_steps, ADAMW_HF46};
    return c;
}

int optimizer_init(struct optimizer *o, struct trainable *tr, const struct optim_config *c) {
    memset(o, 0, sizeof *o);
    o->c = *c;
    o->tr = tr;
    if (!tr->be->adamw || !tr->be->sumsq) return error_set("optimizer: the %s backend has no adamw/sumsq yet", tr->be->name);
    size_t bytes = (size_t)(tr->numel ? tr->numel : 1) * sizeof(float);
    o->m = tr->be->alloc(bytes);
    o->v = tr->be->alloc(bytes);
    if (!o->m || !o->v) {
        optimizer_free(o);
        return error_wrap("optimizer state: ");
    }
    size_t lists = (size_t)tr->n + 1;
    o->m_list = calloc(lists, sizeof *o->m_list);
    o->v_list = calloc(lists, sizeof *o->v_list);
    if (!o->m_list || !o->v_list) {
        optimizer_free(o);
        return error_set("optimizer: out of host memory");
    }
    int64_t off = 0;
    for (int i = 0; i < tr->n; i++) {
        o->m_list[i] = o->m + off;
        o->v_list[i] = o->v + off;
        off += (int64_t)tr->numel_list[i];
    }
    if (tr->be->fill(o->m, 0.0f, (size_t)tr->numel) || tr->be->fill(o->v, 0.0f, (size_t)tr->numel)) return -1;
    return 0;
}

/* transformers.get_linear_schedule_with_warmup */
static double schedule(const struct optim_config *c, int s) {
    int w = c->warmup_steps, t = c->total_steps;
    if (s < w) return (double)s / (double)(w > 1 ? w : 1);
    return fmax(0.0, (double)(t - s) / (double)(t - w > 1 ? t - w : 1));
}

double optimizer_lr(const struct optimizer *o) { return o->c.lr * schedule(&o->c, o->step); }

int optimizer_step(struct optimizer *o) {
    struct trainable *tr = o->tr;
    double sumsq;
    if (trainable_grad_sumsq(tr, &sumsq)) return -1;
    double norm = sqrt(sumsq);
    o->last_grad_norm = norm;
    if (!isfinite(norm)) return error_set("gradient norm is %s at step %d (NaN or overflow in the loss?)", isnan(norm) ? "NaN" : "inf", o->step + 1);
    float scale = 1.0f;
    if (o->c.max_grad_norm > 0) { /* torch: coef = max / (norm + 1e-6) in f32, clamped to 1 */
        float coef = (float)o->c.max_grad_norm / ((float)norm + 1e-6f);
        scale = coef < 1.0f ? coef : 1.0f;
    }
    double lr = optimizer_lr(o);
    o->step++;
    double bc1 = 1.0 - pow(o->c.beta1, o->step), bc2 = 1.0 - pow(o->c.beta2, o->step);
    int hf = o->c.variant == ADAMW_HF46;
    /* a[0]: the tensors without weight decay, a[1]: the others */
    struct adamw_step a[2];
    for (int d = 0; d < 2; d++) {
        double wd = d ? o->c.weight_decay : 0.0;
        a[d] = (struct adamw_step){
            .beta1 = (float)o->c.beta1,
            .beta2 = (float)o->c.beta2,
            .one_minus_beta1 = (float)(1.0 - o->c.beta1),
            .one_minus_beta2 = (float)(1.0 - o->c.beta2),
            .eps = (float)o->c.eps,
            .grad_scale = scale,
            .step_size = (float)(hf ? lr * sqrt(bc2) / bc1 : lr / bc1),
            .bc2_sqrt = (float)sqrt(bc2),
            .decay = (float)(hf ? lr * wd : 1.0 - lr * wd),
            .hf_variant = hf,
        };
    }
    o->last_lr = lr;
    return (tr->per_tensor ? backend_adamw_per_tensor : backend_adamw_multi)(
        tr->be, tr->data_list, tr->grad_list, o->m_list, o->v_list, tr->numel_list, tr->decay, tr->n, a);
}

void optimizer_free(struct optimizer *o) {
    if (o->tr && o->m) o->tr->be->free(o->m);
    if (o->tr && o->v) o->tr->be->free(o->v);
    o->m = o->v = NULL;
    free(o->m_list);
    free(o->v_list);
    o->m_list = o->v_list = NULL;
}
