/* arena.c: chunked bump allocator with high-water mark. */
#include "core/arena.h"

#include <string.h>

#include "core/error.h"

static size_t round_up(size_t n) { return (n + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN; }

static int add_chunk(struct arena *a, size_t cap) {
    if (a->n_chunks == ARENA_MAX_CHUNKS)
        return error_set("activation arena: more than %d chunks", ARENA_MAX_CHUNKS);
    void *p = a->mem_alloc(cap);
    if (!p) return error_set("activation arena: cannot allocate %zu bytes", cap);
    a->n_system_allocs++;
    a->chunk[a->n_chunks] = p;
    a->chunk_cap[a->n_chunks] = cap;
    a->n_chunks++;
    a->chunk_used = 0;
    return 0;
}

int arena_init(struct arena *a, void *(*mem_alloc)(size_t), void (*mem_free)(void *), size_t initial) {
    memset(a, 0, sizeof *a);
    a->mem_alloc = mem_alloc;
    a->mem_free = mem_free;
    return initial ? add_chunk(a, round_up(initial)) : 0;
}

void *arena_alloc(struct arena *a, size_t bytes) {
    size_t n = round_up(bytes ? bytes : 1);
    if (a->n_chunks == 0 || a->chunk_used + n > a->chunk_cap[a->n_chunks - 1]) {
        /* each new chunk at least as large as all before it (64 MiB first): the first
         * step of a large model needs O(log) chunks, and reset coalesces them into one */
        size_t cap = (size_t)64 << 20, total = 0;
        for (int i = 0; i < a->n_chunks; i++) total += a->chunk_cap[i];
        if (cap < total) cap = total;
        if (cap < n) cap = n;
        if (a->n_chunks) { /* wasted tail of the old chunk counts as used */
            a->used += a->chunk_cap[a->n_chunks - 1] - a->chunk_used;
        }
        if (add_chunk(a, cap)) return NULL;
    }
    void *p = (char *)a->chunk[a->n_chunks - 1] + a->chunk_used;
    a->chunk_used += n;
    a->used += n;
    if (a->used > a->high_water) a->high_water = a->used;
    return p;
}

void arena_reset(struct arena *a) {
    if (a->n_chunks > 1) { /* coalesce into one block that fits the whole step */
        for (int i = 0; i < a->n_chunks; i++) a->mem_free(a->chunk[i]);
        a->n_chunks = 0;
        if (add_chunk(a, round_up(a->high_water))) a->n_chunks = 0; /* retried on demand */
    }
    a->used = 0;
    a->chunk_used = 0;
}

void arena_free(struct arena *a) {
    for (int i = 0; i < a->n_chunks; i++) a->mem_free(a->chunk[i]);
    a->n_chunks = 0;
    a->used = a->chunk_used = 0;
}

struct arena_mark arena_mark(const struct arena *a) {
    struct arena_mark m = {a->n_chunks, a->used, a->chunk_used};
    return m;
}

void arena_release(struct arena *a, struct arena_mark m) {
    /* chunks added after the mark stay allocated (reused after the next reset) */
    if (a->n_chunks != m.n_chunks) return;
    a->used = m.used;
    a->chunk_used = m.chunk_used;
}
