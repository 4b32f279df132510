/* arena.h: the per-step bump allocator for tensor headers and tape nodes (host memory),
 * with a high-water mark (activations use the pool, core/pool.h).
 * Memory comes from a backend (host or device) in chunks. The first step may add
 * chunks; arena_reset() then coalesces them into one block of the high-water size, so
 * later steps of the same shape allocate nothing. */
#ifndef COMPACTER_ARENA_H
#define COMPACTER_ARENA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ARENA_ALIGN 256
#define ARENA_MAX_CHUNKS 32

struct arena {
    void *(*mem_alloc)(size_t bytes); /* backend allocator; NULL on failure */
    void (*mem_free)(void *p);
    void *chunk[ARENA_MAX_CHUNKS];
    size_t chunk_cap[ARENA_MAX_CHUNKS];
    int n_chunks;
    size_t used;       /* bytes handed out this step (sum over chunks, with padding) */
    size_t high_water; /* max of used over the arena's life */
    size_t chunk_used; /* in the current (last) chunk */
    size_t n_system_allocs; /* how many times mem_alloc was called (tests: 0 in steady state) */
};

/* initial may be 0 (first chunk sized on demand). */
int arena_init(struct arena *a, void *(*mem_alloc)(size_t), void (*mem_free)(void *), size_t initial);
void *arena_alloc(struct arena *a, size_t bytes);
void arena_reset(struct arena *a);
/* Scoped use inside a step (e.g. one decoding step): everything allocated after the mark
 * is released by arena_release. */
struct arena_mark {
    int n_chunks;
    size_t used, chunk_used;
};
struct arena_mark arena_mark(const struct arena *a);
void arena_release(struct arena *a, struct arena_mark m);
void arena_free(struct arena *a);

#ifdef __cplusplus
}
#endif
#endif
