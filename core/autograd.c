/* autograd.c: tape recording and the backward walk. */
#include "core/autograd.h"

#include "core/error.h"

struct tape_node *tape_record(struct exec *x, const char *op,
                              int (*bw)(struct exec *, struct tape_node *), struct tensor *out,
                              struct tensor *in0, struct tensor *in1, struct tensor *in2,
                              struct tensor *in3) {
    if (!x->record || !out) return NULL;
    struct tensor *in[TAPE_MAX_INPUTS] = {in0, in1, in2, in3, NULL};
    int any = 0;
    for (int k = 0; k < 4; k++) any |= in[k] && in[k]->requires_grad;
    if (!any) return NULL;
    struct tape_node *n = arena_alloc(&x->meta, sizeof *n);
    if (!n) return NULL;
    *n = (struct tape_node){.op = op, .backward = bw, .out = out, .prev = x->tape};
    for (int k = 0; k < TAPE_MAX_INPUTS; k++) n->in[k] = in[k];
    out->requires_grad = 1;
    out->node = n;
    x->tape = n;
    x->tape_len++;
    return n;
}

int tape_save(struct exec *x, struct tape_node *n, const struct tensor *t) {
    if (!t || !pool_owns(&x->data, t->data)) return 0;
    for (int k = 0; k < n->n_saved; k++)
        if (n->saved[k] == t->data) return 0; /* one pin per node and memory */
    if (n->n_saved == TAPE_MAX_SAVED) return error_set("%s: more than %d saved tensors", n->op, TAPE_MAX_SAVED);
    pool_pin(&x->data, t->data);
    n->saved[n->n_saved++] = t->data;
    return 0;
}

void tape_unpin(struct exec *x, struct tape_node *n) {
    for (int k = 0; k < n->n_saved; k++) pool_unpin(&x->data, n->saved[k]);
    n->n_saved = 0;
}

float *grad_of(struct exec *x, struct tensor *t) {
    if (t->grad) return t->grad;
    t->grad = pool_alloc(&x->data, (size_t)tensor_numel(t) * sizeof(float));
    if (t->grad && x->be->fill(t->grad, 0.0f, (size_t)tensor_numel(t))) t->grad = NULL;
    return t->grad;
}

float *grad_for_overwrite(struct exec *x, struct tensor *t, int *fresh) {
    *fresh = !t->grad && x->overwrite_grads;
    if (!*fresh) return grad_of(x, t); /* an existing gradient, or the zero fill (A/B) */
    t->grad = pool_alloc(&x->data, (size_t)tensor_numel(t) * sizeof(float));
    return t->grad;
}

int grad_take(struct exec *x, struct tensor *t, struct tape_node *n) {
    float *g = n->out->grad;
    if (t->grad || !x->overwrite_grads || !g || tensor_numel(t) != tensor_numel(n->out) ||
        !pool_owns(&x->data, g))
        return 0;
    t->grad = g; /* backward() then drops nothing: n->out->grad is gone */
    n->out->grad = NULL;
    return 1;
}

/* Backends grow op by op: say which backward op is missing instead of crashing. */
static int backend_can_backward(const struct backend *be) {
    const struct { const void *fn; const char *name; } need[] = {
        {(const void *)be->embedding_backward, "embedding_backward"},
        {(const void *)be->rmsnorm_backward, "rmsnorm_backward"},
        {(const void *)be->attn_softmax_backward, "attn_softmax_backward"},
        {(const void *)be->position_bias_backward, "position_bias_backward"},
        {(const void *)be->relu_backward, "relu_backward"},
        {(const void *)be->gelu_new_backward, "gelu_new_backward"},
        {(const void *)be->mul_acc, "mul_acc"},
        {(const void *)be->axpy, "axpy"},
        {(const void *)be->cross_entropy_backward, "cross_entropy_backward"},
        {(const void *)be->dropout_backward, "dropout_backward"},
    };
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!need[i].fn) return error_set("backward: the %s backend has no %s yet", be->name, need[i].name);
    return 0;
}

int backward(struct exec *x, struct tensor *loss) {
    if (!loss) return -1;
    if (backend_can_backward(x->be)) return -1;
    if (!loss->requires_grad || !x->tape)
        return error_set("backward: the loss does not depend on any trainable tensor");
    float *g = grad_of(x, loss);
    if (!g || x->be->fill(g, 1.0f, 1)) return -1;
    for (struct tape_node *n = x->tape; n; n = n->prev) {
        /* a node without an output gradient: none reached it */
        if (n->out->grad && n->backward(x, n)) return error_wrap("backward of %s: ", n->op);
        /* every consumer of n->out is newer and has run: its gradient and what n kept go */
        if (pool_drop(&x->data, n->out->grad)) n->out->grad = NULL;
        tape_unpin(x, n);
    }
    return 0;
}
