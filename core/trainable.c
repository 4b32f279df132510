/* trainable.c: trained-tensor sets and their gradient buffers. */
#include "core/trainable.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/env.h"
#include "core/error.h"

int no_decay_bias(const char *name) { return name && strstr(name, "bias") != NULL; }

int no_decay_bias_and_norms(const char *name) {
    return no_decay_bias(name) || (name && (strstr(name, "layer_norm") || strstr(name, "LayerNorm")));
}

int trainable_init(struct trainable *tr, const struct backend *be, struct tensor **ts, int n,
                   int (*no_decay)(const char *name)) {
    memset(tr, 0, sizeof *tr);
    tr->be = be;
    tr->t = calloc((size_t)n + 1, sizeof *tr->t);
    tr->decay = calloc((size_t)n + 1, 1);
    if (!tr->t || !tr->decay) {
        trainable_free(tr);
        return error_set("out of memory");
    }
    for (int i = 0; i < n; i++) {
        int dup = 0;
        for (int j = 0; j < tr->n; j++) dup |= tr->t[j] == ts[i];
        if (dup) continue;
        if (ts[i]->dtype != DTYPE_F32) {
            trainable_free(tr);
            return error_set("trainable tensor '%s' is not f32", ts[i]->name ? ts[i]->name : "?");
        }
        tr->decay[tr->n] = !(no_decay && no_decay(ts[i]->name));
        tr->t[tr->n++] = ts[i];
        tr->numel += tensor_numel(ts[i]);
    }
    tr->grad = be->alloc((size_t)(tr->numel ? tr->numel : 1) * sizeof(float));
    tr->norms = be->alloc((size_t)(tr->n ? tr->n : 1) * sizeof(float));
    tr->norms_host = malloc((size_t)(tr->n ? tr->n : 1) * sizeof(float));
    tr->got_grad = calloc((size_t)(tr->n ? tr->n : 1), 1);
    tr->data_list = calloc((size_t)tr->n + 1, sizeof *tr->data_list);
    tr->grad_list = calloc((size_t)tr->n + 1, sizeof *tr->grad_list);
    tr->numel_list = calloc((size_t)tr->n + 1, sizeof *tr->numel_list);
    if (!tr->grad || !tr->norms || !tr->norms_host || !tr->got_grad || !tr->data_list || !tr->grad_list || !tr->numel_list) {
        trainable_free(tr);
        return error_wrap("gradients of %lld trained parameters: ", (long long)tr->numel);
    }
    int64_t off = 0;
    for (int i = 0; i < tr->n; i++) {
        tr->t[i]->requires_grad = 1;
        tr->t[i]->grad = tr->grad + off;
        tr->data_list[i] = tr->t[i]->data;
        tr->grad_list[i] = tr->t[i]->grad;
        tr->numel_list[i] = (size_t)tensor_numel(tr->t[i]);
        off += tensor_numel(tr->t[i]);
    }
    tr->per_tensor = env_flag("COMPACTER_OPTIM_PER_TENSOR");
    return trainable_zero_grad(tr);
}

int trainable_zero_grad(struct trainable *tr) { return tr->be->fill(tr->grad, 0.0f, (size_t)tr->numel); }

int trainable_grad_sumsq(struct trainable *tr, double *out) {
    /* one norm per tensor, then the norm of norms, as torch.nn.utils.clip_grad_norm_;
     * one download for all of them */
    float *h = tr->norms_host;
    int rc = tr->be->fill(tr->norms, 0.0f, (size_t)tr->n);
    if (!rc)
        rc = (tr->per_tensor ? backend_sumsq_per_tensor : backend_sumsq_multi)(
            tr->be, tr->norms, tr->grad_list, tr->numel_list, tr->n);
    if (!rc) rc = tr->be->download(h, tr->norms, sizeof(float) * (size_t)tr->n);
    double total = 0;
    for (int i = 0; i < tr->n && !rc; i++) {
        total += (double)h[i];
        if (h[i] != 0.0f) tr->got_grad[i] = 1;
    }
    *out = total;
    return rc ? -1 : 0;
}

int trainable_without_grad(const struct trainable *tr, char *names, size_t cap) {
    int count = 0;
    if (cap) names[0] = 0;
    for (int i = 0; i < tr->n; i++) {
        if (tr->got_grad[i]) continue;
        size_t l = strlen(names);
        if (count < 3 && l + 1 < cap)
            snprintf(names + l, cap - l, "%s%s", count ? ", " : "", tr->t[i]->name ? tr->t[i]->name : "?");
        count++;
    }
    return count;
}

void trainable_free(struct trainable *tr) {
    for (int i = 0; i < tr->n; i++) {
        tr->t[i]->requires_grad = 0;
        tr->t[i]->grad = NULL;
    }
    if (tr->grad) tr->be->free(tr->grad);
    if (tr->norms) tr->be->free(tr->norms);
    free(tr->norms_host);
    free(tr->got_grad);
    free(tr->data_list);
    free(tr->grad_list);
    free(tr->numel_list);
    free(tr->t);
    free(tr->decay);
    memset(tr, 0, sizeof *tr);
}
