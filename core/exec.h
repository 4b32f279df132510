/* exec.h: an execution context: the backend, the activation pool (backend memory,
 * core/pool.h) and the arena for tensor headers and tape nodes (host memory). Ops allocate
 * their outputs here; exec_reset() ends a step.
 *
 * Liveness: a new activation is held by the forward code that made it. Scopes end holds in
 * bulk: exec_scope_end() frees everything allocated since exec_scope_begin() except the
 * tensors kept and what the tape pinned for backward (core/autograd.h); exec_drop() ends the
 * hold of one tensor. Tensor headers stay valid until exec_reset (only their data is freed). */
#ifndef COMPACTER_EXEC_H
#define COMPACTER_EXEC_H

#include "core/arena.h"
#include "core/backend.h"
#include "core/pool.h"
#include "core/tensor.h"

struct exec {
    const struct backend *be;
    struct pool data;  /* activations and their gradients, backend memory */
    struct arena meta; /* tensor headers and tape nodes, host memory */
    int training;      /* dropout on */
    int record;        /* autograd: record the tape (core/autograd.h) */
    struct tape_node *tape; /* newest node; reset with the arena */
    int tape_len;
    uint64_t seed;          /* dropout stream (core/philox.h) */
    uint64_t rng_offset;    /* advanced by every dropout op */
    /* Attention probabilities under autograd (op_attention, core/ops.h): EXEC_ATTN_KEEP keeps
     * them from forward to backward; EXEC_ATTN_RECOMPUTE (the default) keeps only q, k, v,
     * bias and mask and recomputes them in backward wherever that keeps fewer bytes;
     * EXEC_ATTN_RECOMPUTE_ALWAYS recomputes everywhere (tests). The results are bitwise
     * the same; only memory and time differ. */
    int recompute_attention;
    /* Fused kernels where the backend has them (op_relu_dropout): 1 by default, 0 with
     * COMPACTER_NO_FUSION=1 (the separate ops: bitwise the same results, for comparisons). */
    int fuse;
    /* New activation gradients written outright by their first op (core/autograd.h
     * grad_for_overwrite) or taken from the op's output (grad_take): 1 by default, 0 with
     * COMPACTER_ZERO_FILL_GRADS=1 (zero-filled, copied and accumulated into: bitwise the
     * same results, for comparisons). */
    int overwrite_grads;
    /* bf16 storage (core/ops.h): set by exec_init from backend_bf16_storage (--precision
     * bf16 on a backend with the bf16 ops, COMPACTER_BF16_STORAGE not 0) */
    int bf16;
    /* a column of ones (exec_ones), backend memory kept across steps */
    float *ones;
    int64_t ones_n;
};

enum { EXEC_ATTN_KEEP = 0, EXEC_ATTN_RECOMPUTE = 1, EXEC_ATTN_RECOMPUTE_ALWAYS = 2 };

/* With the environment variable COMPACTER_POISON_FREED=1, freed activation memory is
 * filled with NaN (any backend): a read of memory freed too early then shows in the
 * results. tests/run_tests.sh sets it. recompute_attention starts as EXEC_ATTN_RECOMPUTE,
 * or EXEC_ATTN_KEEP with COMPACTER_KEEP_ATTENTION_PROBS=1. */
int exec_init(struct exec *x, const struct backend *be);
/* End of a step: every activation is freed (0, or -1 + error if the pool could not get its
 * new block; the next step then allocates on demand). */
int exec_reset(struct exec *x);
void exec_free(struct exec *x);
/* The activation memory the steps so far needed: the most bytes live at once (as
 * torch.cuda.max_memory_allocated; what the methods need, whatever the allocator). */
size_t exec_peak_bytes(const struct exec *x);
/* The high-water mark of the pool's extent: the size its block gets once steps repeat
 * (what the device holds, less the rounding to POOL_BLOCK_ROUND); the difference to
 * exec_peak_bytes is fragmentation. */
size_t exec_extent_bytes(const struct exec *x);

/* Scoped use inside a step (one decoding step): everything allocated after the mark,
 * held or pinned, is freed by exec_release, and nodes recorded after it are dropped. */
struct exec_mark {
    uint64_t data;
    struct arena_mark meta;
    struct tape_node *tape;
    int tape_len;
};
struct exec_mark exec_mark(const struct exec *x);
void exec_release(struct exec *x, struct exec_mark m);

struct exec_scope {
    uint64_t mark;
};
struct exec_scope exec_scope_begin(const struct exec *x);
/* Ends the hold on every activation allocated since s except keep (may be NULL), which
 * stays held (by the enclosing code); returns keep. */
struct tensor *exec_scope_end(struct exec *x, struct exec_scope s, struct tensor *keep);
/* The same with several tensors kept (at most EXEC_MAX_KEEP; NULL entries allowed). */
#define EXEC_MAX_KEEP 8
void exec_scope_end_keep(struct exec *x, struct exec_scope s, struct tensor *const *keep,
                         int n_keep);
/* The caller is done with t: its memory is freed unless the tape pinned it. Views share
 * their base's memory, so dropping one ends the hold on both. NULL and tensors that are not
 * activations (parameters) are ignored. */
void exec_drop(struct exec *x, struct tensor *t);

/* A new activation tensor of the given shape (uninitialised), or NULL + error. */
struct tensor *exec_tensor(struct exec *x, enum dtype dtype, int ndim, const int64_t *shape);
/* A tensor filled from host memory. */
struct tensor *exec_upload(struct exec *x, enum dtype dtype, int ndim, const int64_t *shape,
                           const void *host);
/* Copy a tensor's data to host memory (tensor_bytes(t) bytes). */
int exec_download(struct exec *x, const struct tensor *t, void *host);
/* At least n ones in backend memory (gemm's column of ones for a sum over rows, as
 * add_bias's backward): made or grown on first use and kept until exec_free, so a step
 * fills it once at most; NULL + error on failure. Its bytes: exec_ones_bytes. */
const float *exec_ones(struct exec *x, int64_t n);
size_t exec_ones_bytes(const struct exec *x);
/* Scratch memory for a backward function; give it back with exec_scratch_done. */
void *exec_scratch(struct exec *x, size_t bytes);
void exec_scratch_done(struct exec *x, void *p);

#endif
