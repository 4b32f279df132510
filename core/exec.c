/* exec.c: execution contexts, activation allocation and scopes. */
#include "core/exec.h"

#include <stdlib.h>
#include <string.h>

#include "core/autograd.h"
#include "core/env.h"
#include "core/error.h"

static void *host_alloc(size_t n) {
    void *p = malloc(n);
    if (!p) error_set("out of host memory allocating %zu bytes", n);
    return p;
}

int exec_init(struct exec *x, const struct backend *be) {
    memset(x, 0, sizeof *x);
    x->be = be;
    if (pool_init(&x->data, be->alloc, be->free, be->fill, !strcmp(be->name, "cpu"))) return -1;
    x->data.poison = env_flag("COMPACTER_POISON_FREED");
    x->recompute_attention = env_flag("COMPACTER_KEEP_ATTENTION_PROBS") ? EXEC_ATTN_KEEP : EXEC_ATTN_RECOMPUTE;
    x->fuse = !env_flag("COMPACTER_NO_FUSION");
    x->overwrite_grads = !env_flag("COMPACTER_ZERO_FILL_GRADS");
    x->bf16 = backend_bf16_storage(be);
    if (arena_init(&x->meta, host_alloc, free, (size_t)1 << 20)) {
        pool_destroy(&x->data);
        return -1;
    }
    return 0;
}

int exec_reset(struct exec *x) {
    x->tape = NULL;
    x->tape_len = 0;
    arena_reset(&x->meta);
    return pool_reset(&x->data);
}

void exec_free(struct exec *x) {
    if (x->ones) x->be->free(x->ones);
    x->ones = NULL, x->ones_n = 0;
    pool_destroy(&x->data);
    arena_free(&x->meta);
}

const float *exec_ones(struct exec *x, int64_t n) {
    if (x->ones && n <= x->ones_n) return x->ones;
    int64_t want = n < 1024 ? 1024 : n;
    /* the old column may still be read by queued work: freeing is ordered after it (the
     * backends' free synchronises or reuses memory in stream order) */
    if (x->ones) x->be->free(x->ones);
    x->ones_n = 0;
    if (!(x->ones = x->be->alloc(sizeof(float) * (size_t)want))) return NULL;
    if (x->be->fill(x->ones, 1.0f, (size_t)want)) {
        x->be->free(x->ones);
        x->ones = NULL;
        return NULL;
    }
    x->ones_n = want;
    return x->ones;
}

size_t exec_ones_bytes(const struct exec *x) { return sizeof(float) * (size_t)x->ones_n; }

size_t exec_peak_bytes(const struct exec *x) { return x->data.live_peak; }

size_t exec_extent_bytes(const struct exec *x) { return x->data.extent_peak; }

struct tensor *exec_tensor(struct exec *x, enum dtype dtype, int ndim, const int64_t *shape) {
    if (ndim < 1 || ndim > TENSOR_MAX_DIMS) {
        error_set("tensor with %d dimensions (1..%d supported)", ndim, TENSOR_MAX_DIMS);
        return NULL;
    }
    struct tensor *t = arena_alloc(&x->meta, sizeof *t);
    if (!t) return NULL;
    tensor_init(t, dtype, ndim, shape);
    t->data = pool_alloc(&x->data, tensor_bytes(t));
    return t->data ? t : NULL;
}

struct tensor *exec_upload(struct exec *x, enum dtype dtype, int ndim, const int64_t *shape,
                           const void *host) {
    struct tensor *t = exec_tensor(x, dtype, ndim, shape);
    if (!t || x->be->upload(t->data, host, tensor_bytes(t))) return NULL;
    return t;
}

int exec_download(struct exec *x, const struct tensor *t, void *host) {
    return x->be->download(host, t->data, tensor_bytes(t));
}

void *exec_scratch(struct exec *x, size_t bytes) { return pool_alloc(&x->data, bytes); }

void exec_scratch_done(struct exec *x, void *p) { pool_drop(&x->data, p); }

struct exec_mark exec_mark(const struct exec *x) {
    struct exec_mark m = {pool_mark(&x->data), arena_mark(&x->meta), x->tape, x->tape_len};
    return m;
}

void exec_release(struct exec *x, struct exec_mark m) {
    /* nodes recorded after the mark go: their pins first (they may pin older memory) */
    for (struct tape_node *n = x->tape; n && n != m.tape; n = n->prev) tape_unpin(x, n);
    pool_free_since(&x->data, m.data);
    arena_release(&x->meta, m.meta);
    x->tape = m.tape; /* nodes recorded after the mark lived in the released memory */
    x->tape_len = m.tape_len;
}

struct exec_scope exec_scope_begin(const struct exec *x) {
    struct exec_scope s = {pool_mark(&x->data)};
    return s;
}

void exec_scope_end_keep(struct exec *x, struct exec_scope s, struct tensor *const *keep,
                         int n_keep) {
    const void *ptr[EXEC_MAX_KEEP];
    int n = 0;
    for (int i = 0; i < n_keep && n < EXEC_MAX_KEEP; i++)
        if (keep[i]) ptr[n++] = keep[i]->data;
    pool_drop_since(&x->data, s.mark, ptr, n);
}

struct tensor *exec_scope_end(struct exec *x, struct exec_scope s, struct tensor *keep) {
    exec_scope_end_keep(x, s, &keep, 1);
    return keep;
}

void exec_drop(struct exec *x, struct tensor *t) {
    if (t) pool_drop(&x->data, t->data);
}
