/* pool.h: the activation allocator. Backend memory (host or device) that can be freed in
 * any order within a step, with liveness kept by its users:
 *  - an allocation starts "held" by its owner (the forward code); pool_drop ends the hold;
 *  - pins (tape nodes that read the memory in backward) keep it alive after the hold ends;
 *  - memory is freed when it is neither held nor pinned; pool_reset ends a step (frees all).
 * Placement: best fit over the holes with coalescing, else at the top, in one virtual
 * address range whose extent depends only on the sequence of allocations and frees. The
 * range is backed by one block from the backend; what lies beyond the block (the first
 * step, a larger shape) gets its own backend allocation, and pool_reset then replaces the
 * block by one of the extent's high-water mark (rounded up to POOL_BLOCK_ROUND). Later steps
 * of the same shapes therefore make no backend allocation. All bookkeeping is host memory
 * (the block may be device memory): descriptors and a pointer -> descriptor hash table. */
#ifndef COMPACTER_POOL_H
#define COMPACTER_POOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define POOL_ALIGN 256
#define POOL_BLOCK_ROUND ((size_t)2 << 20) /* cudaMalloc's large-page granularity */

struct pool_seg; /* private to pool.c */

struct pool {
    void *(*mem_alloc)(size_t bytes); /* backend allocator; NULL + error on failure */
    void (*mem_free)(void *p);
    int (*mem_fill)(float *p, float v, size_t n); /* for poisoning freed memory */
    int host;   /* the memory is host memory (AddressSanitizer poisoning applies) */
    int poison; /* fill freed memory with NaN (debugging: reads of freed memory show) */
    char *block; /* aligned to POOL_ALIGN within block_raw (as the backend returned it) */
    void *block_raw;
    size_t cap;
    /* descriptors (host memory, grown as needed, reused) */
    struct pool_seg *seg;
    int n_seg, cap_seg, spare; /* spare: list of unused descriptors */
    int top_seg;               /* the segment that ends at the top, -1 if none */
    int holes;                 /* list of free segments below the top */
    int live_tail;             /* live segments in allocation order, newest last */
    int *hash;                 /* pointer -> descriptor index + 1 (0: empty), open addressing */
    size_t hash_cap, n_live;
    uint64_t seq; /* allocations so far (marks and scopes compare against it) */
    /* accounting, bytes (multiples of POOL_ALIGN) */
    size_t live, live_peak;     /* allocated now / the most ever allocated at once */
    size_t top, extent_peak;    /* extent of the virtual range now / its high-water mark */
    size_t n_system_allocs;     /* backend and host allocations made (0 per step in steady state) */
    size_t n_overflow;          /* allocations beyond the block (each its own backend call) */
};

/* fill may be NULL (no poisoning possible); host: the backend's memory is host memory. */
int pool_init(struct pool *p, void *(*mem_alloc)(size_t), void (*mem_free)(void *),
              int (*mem_fill)(float *, float, size_t), int host);
/* bytes (0 allowed) rounded up to POOL_ALIGN, at an address aligned to POOL_ALIGN; held by
 * the caller; NULL + error. */
void *pool_alloc(struct pool *p, size_t bytes);
/* 1 if ptr is the start of a live allocation of this pool, else 0. */
int pool_owns(const struct pool *p, const void *ptr);
/* End the owner's hold on ptr (freed now if unpinned). Returns 1 if ptr is this pool's,
 * 0 otherwise (nothing done: parameters and caller-owned buffers pass through). */
int pool_drop(struct pool *p, const void *ptr);
/* Pin / unpin ptr (no-op, returning 0, for memory that is not this pool's). */
int pool_pin(struct pool *p, const void *ptr);
void pool_unpin(struct pool *p, const void *ptr);
/* The mark of the next allocation. */
uint64_t pool_mark(const struct pool *p);
/* Drop the hold of every allocation made since mark, except those starting at keep[i]. */
void pool_drop_since(struct pool *p, uint64_t mark, const void *const *keep, int n_keep);
/* Free every allocation made since mark, held or pinned (the caller discards them all). */
void pool_free_since(struct pool *p, uint64_t mark);
/* End of step: free everything; replace the block if the extent outgrew it. 0 or -1 + error
 * (the pool stays usable: the block is then allocated again on demand). */
int pool_reset(struct pool *p);
void pool_destroy(struct pool *p);

#ifdef __cplusplus
}
#endif
#endif
