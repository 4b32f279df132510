/* exec.c: execution contexts and activation allocation. */
#include "core/exec.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static void *host_alloc(size_t n) {
    void *p = malloc(n);
    if (!p) error_set("out of host memory allocating %zu bytes", n);
    return p;
}

int exec_init(struct exec *x, const struct backend *be) {
    memset(x, 0, sizeof *x);
    x->be = be;
    if (arena_init(&x->data, be->alloc, be->free, 0)) return -1;
    return arena_init(&x->meta, host_alloc, free, (size_t)1 << 20);
}

void exec_reset(struct exec *x) {
    x->tape = NULL;
    x->tape_len = 0;
    arena_reset(&x->data);
    arena_reset(&x->meta);
}

void exec_free(struct exec *x) {
    arena_free(&x->data);
    arena_free(&x->meta);
}

struct tensor *exec_tensor(struct exec *x, enum dtype dtype, int ndim, const int64_t *shape) {
    if (ndim < 1 || ndim > TENSOR_MAX_DIMS) {
        error_set("tensor with %d dimensions (1..%d supported)", ndim, TENSOR_MAX_DIMS);
        return NULL;
    }
    struct tensor *t = arena_alloc(&x->meta, sizeof *t);
    if (!t) return NULL;
    tensor_init(t, dtype, ndim, shape);
    t->data = arena_alloc(&x->data, tensor_bytes(t));
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

struct exec_mark exec_mark(const struct exec *x) {
    struct exec_mark m = {arena_mark(&x->data), arena_mark(&x->meta), x->tape, x->tape_len};
    return m;
}

void exec_release(struct exec *x, struct exec_mark m) {
    arena_release(&x->data, m.data);
    arena_release(&x->meta, m.meta);
    x->tape = m.tape; /* nodes recorded after the mark lived in the released memory */
    x->tape_len = m.tape_len;
}
