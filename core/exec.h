/* exec.h: an execution context: the backend, the per-step activation arena (backend
 * memory) and the arena for tensor headers (host memory). Ops allocate their outputs
 * here; exec_reset() ends a step. */
#ifndef COMPACTER_EXEC_H
#define COMPACTER_EXEC_H

#include "core/arena.h"
#include "core/backend.h"
#include "core/tensor.h"

struct exec {
    const struct backend *be;
    struct arena data; /* activations, backend memory */
    struct arena meta; /* tensor headers, host memory */
    int training;      /* dropout on */
    int record;        /* autograd: record the tape (core/autograd.h) */
    struct tape_node *tape; /* newest node; reset with the arena */
    int tape_len;
    uint64_t seed;          /* dropout stream (core/philox.h) */
    uint64_t rng_offset;    /* advanced by every dropout op */
};

int exec_init(struct exec *x, const struct backend *be);
void exec_reset(struct exec *x);
void exec_free(struct exec *x);
struct exec_mark {
    struct arena_mark data, meta;
    struct tape_node *tape;
    int tape_len;
};
struct exec_mark exec_mark(const struct exec *x);
void exec_release(struct exec *x, struct exec_mark m);

/* A new activation tensor of the given shape (uninitialised), or NULL + error. */
struct tensor *exec_tensor(struct exec *x, enum dtype dtype, int ndim, const int64_t *shape);
/* A tensor filled from host memory. */
struct tensor *exec_upload(struct exec *x, enum dtype dtype, int ndim, const int64_t *shape,
                           const void *host);
/* Copy a tensor's data to host memory (tensor_bytes(t) bytes). */
int exec_download(struct exec *x, const struct tensor *t, void *host);

#endif
