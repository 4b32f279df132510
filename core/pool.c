/* pool.c: best-fit activation allocator with coalescing, holds and pins (see pool.h). */
#include "core/pool.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* AddressSanitizer: freed pool memory on the host is poisoned, so a read of an activation
 * freed too early is reported even though the block itself stays allocated. */
#if defined(__SANITIZE_ADDRESS__)
#define POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_ASAN 1
#endif
#endif
#ifdef POOL_ASAN
#include <sanitizer/asan_interface.h>
#define ASAN_POISON(p, a, n) do { if ((p)->host) ASAN_POISON_MEMORY_REGION((a), (n)); } while (0)
#define ASAN_UNPOISON(p, a, n) do { if ((p)->host) ASAN_UNPOISON_MEMORY_REGION((a), (n)); } while (0)
#else
#define ASAN_POISON(p, a, n) ((void)0)
#define ASAN_UNPOISON(p, a, n) ((void)0)
#endif

struct pool_seg {
    size_t off, size; /* the virtual range */
    char *ptr;        /* physical address of a used segment (in the block or its own) */
    void *raw;        /* an own allocation as the backend returned it (ptr is aligned) */
    uint64_t seq;     /* allocation number */
    int below, above; /* neighbours in address order, -1 at the ends */
    int prev, next;   /* used: the live list; free: the hole list; unused: the spare list */
    int pins;
    unsigned used : 1, held : 1, overflow : 1;
};

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

/* Backend memory aligned to POOL_ALIGN whatever the backend's own alignment (the CPU's is
 * 64 bytes, cudaMalloc's 256): POOL_ALIGN more bytes, the start rounded up. */
static char *backend_alloc(struct pool *p, size_t bytes, void **raw) {
    *raw = p->mem_alloc(bytes + POOL_ALIGN);
    if (!*raw) return NULL;
    p->n_system_allocs++;
    return (char *)*raw + (POOL_ALIGN - (uintptr_t)*raw % POOL_ALIGN) % POOL_ALIGN;
}

/* ---- descriptors ---- */

static int desc_new(struct pool *p) {
    if (p->spare >= 0) {
        int s = p->spare;
        p->spare = p->seg[s].next;
        return s;
    }
    if (p->n_seg == p->cap_seg) {
        int cap = p->cap_seg ? 2 * p->cap_seg : 256;
        struct pool_seg *g = realloc(p->seg, sizeof *g * (size_t)cap);
        if (!g) {
            error_set("activation pool: out of host memory for %d descriptors", cap);
            return -1;
        }
        p->seg = g;
        p->cap_seg = cap;
        p->n_system_allocs++;
    }
    return p->n_seg++;
}

static void desc_release(struct pool *p, int s) {
    p->seg[s].next = p->spare;
    p->spare = s;
}

/* ---- lists ---- */

static void hole_push(struct pool *p, int s) {
    p->seg[s].prev = -1;
    p->seg[s].next = p->holes;
    if (p->holes >= 0) p->seg[p->holes].prev = s;
    p->holes = s;
}

static void hole_remove(struct pool *p, int s) {
    struct pool_seg *g = &p->seg[s];
    if (g->prev >= 0) p->seg[g->prev].next = g->next;
    else p->holes = g->next;
    if (g->next >= 0) p->seg[g->next].prev = g->prev;
}

static void live_push(struct pool *p, int s) {
    p->seg[s].prev = p->live_tail;
    p->seg[s].next = -1;
    if (p->live_tail >= 0) p->seg[p->live_tail].next = s;
    p->live_tail = s;
}

static void live_remove(struct pool *p, int s) {
    struct pool_seg *g = &p->seg[s];
    if (g->prev >= 0) p->seg[g->prev].next = g->next;
    if (g->next >= 0) p->seg[g->next].prev = g->prev;
    else p->live_tail = g->prev;
}

/* ---- pointer -> descriptor ---- */

static size_t slot_of(const struct pool *p, const void *ptr) {
    uint64_t h = ((uint64_t)(uintptr_t)ptr >> 6) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (p->hash_cap - 1);
}

static int lookup(const struct pool *p, const void *ptr) {
    if (!ptr || !p->hash_cap) return -1;
    for (size_t i = slot_of(p, ptr);; i = (i + 1) & (p->hash_cap - 1)) {
        int v = p->hash[i];
        if (!v) return -1;
        if (p->seg[v - 1].ptr == ptr) return v - 1;
    }
}

static void hash_put(struct pool *p, int s) {
    size_t i = slot_of(p, p->seg[s].ptr);
    while (p->hash[i]) i = (i + 1) & (p->hash_cap - 1);
    p->hash[i] = s + 1;
}

static int hash_grow(struct pool *p) {
    size_t cap = p->hash_cap ? 2 * p->hash_cap : 1024;
    int *h = calloc(cap, sizeof *h);
    if (!h) return error_set("activation pool: out of host memory for the hash table");
    p->n_system_allocs++;
    free(p->hash);
    p->hash = h;
    p->hash_cap = cap;
    for (int s = p->live_tail; s >= 0; s = p->seg[s].prev) hash_put(p, s);
    return 0;
}

/* Remove with backward shift (linear probing keeps no tombstones). */
static void hash_remove(struct pool *p, const void *ptr) {
    size_t mask = p->hash_cap - 1, i = slot_of(p, ptr);
    while (p->seg[p->hash[i] - 1].ptr != ptr) i = (i + 1) & mask;
    for (size_t j = (i + 1) & mask; p->hash[j]; j = (j + 1) & mask) {
        size_t home = slot_of(p, p->seg[p->hash[j] - 1].ptr);
        /* move j into the gap at i unless its home lies cyclically in (i, j] */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            p->hash[i] = p->hash[j];
            i = j;
        }
    }
    p->hash[i] = 0;
}

/* ---- the virtual range ---- */

/* hi (free) joins lo (its lower neighbour); hi's descriptor is released. */
static void absorb(struct pool *p, int lo, int hi) {
    struct pool_seg *l = &p->seg[lo], *h = &p->seg[hi];
    l->size += h->size;
    l->above = h->above;
    if (h->above >= 0) p->seg[h->above].below = lo;
    else p->top_seg = lo;
    desc_release(p, hi);
}

/* A debugging aid (off unless asked for): NaN for floats; for i32 tensors 0x7fc00000, an id
 * outside any vocabulary. A failed fill leaves the memory as it was and is not an error. */
static void poison(struct pool *p, char *ptr, size_t bytes) {
    if (p->poison && p->mem_fill) (void)p->mem_fill((float *)ptr, NAN, bytes / sizeof(float));
}

/* s (no longer used) returns to the range: joined with free neighbours, or the top comes
 * down. */
static void release_range(struct pool *p, int s) {
    int b = p->seg[s].below;
    if (b >= 0 && !p->seg[b].used) {
        hole_remove(p, b);
        absorb(p, b, s);
        s = b;
    }
    int a = p->seg[s].above;
    if (a >= 0 && !p->seg[a].used) {
        hole_remove(p, a);
        absorb(p, s, a);
    }
    if (p->seg[s].above < 0) {
        int below = p->seg[s].below;
        p->top_seg = below;
        if (below >= 0) p->seg[below].above = -1;
        p->top = p->seg[s].off;
        desc_release(p, s);
    } else {
        hole_push(p, s);
    }
}

static void free_seg(struct pool *p, int s) {
    struct pool_seg *g = &p->seg[s];
    hash_remove(p, g->ptr);
    live_remove(p, s);
    p->n_live--;
    p->live -= g->size;
    poison(p, g->ptr, g->size);
    if (g->overflow) p->mem_free(g->raw);
    else ASAN_POISON(p, g->ptr, g->size);
    g->used = g->held = g->overflow = 0;
    g->ptr = NULL;
    g->raw = NULL;
    release_range(p, s);
}

/* ---- public ---- */

int pool_init(struct pool *p, void *(*mem_alloc)(size_t), void (*mem_free)(void *),
              int (*mem_fill)(float *, float, size_t), int host) {
    memset(p, 0, sizeof *p);
    p->mem_alloc = mem_alloc;
    p->mem_free = mem_free;
    p->mem_fill = mem_fill;
    p->host = host;
    p->spare = p->top_seg = p->holes = p->live_tail = -1;
    return 0;
}

void *pool_alloc(struct pool *p, size_t bytes) {
    size_t n = round_up(bytes ? bytes : 1, POOL_ALIGN);
    if ((p->n_live + 1) * 2 > p->hash_cap && hash_grow(p)) return NULL;
    int best = -1;
    for (int h = p->holes; h >= 0; h = p->seg[h].next) {
        size_t sz = p->seg[h].size;
        if (sz >= n && (best < 0 || sz < p->seg[best].size)) {
            best = h;
            if (sz == n) break;
        }
    }
    int s;
    if (best >= 0) {
        hole_remove(p, best);
        if (p->seg[best].size > n) { /* the rest stays a hole just above */
            int r = desc_new(p);
            if (r < 0) {
                hole_push(p, best);
                return NULL;
            }
            struct pool_seg *b = &p->seg[best];
            p->seg[r] = (struct pool_seg){
                .off = b->off + n, .size = b->size - n, .below = best, .above = b->above};
            p->seg[b->above].below = r; /* a hole always has a segment above it */
            b->above = r;
            b->size = n;
            hole_push(p, r);
        }
        s = best;
    } else {
        if ((s = desc_new(p)) < 0) return NULL;
        p->seg[s] = (struct pool_seg){.off = p->top, .size = n, .below = p->top_seg, .above = -1};
        if (p->top_seg >= 0) p->seg[p->top_seg].above = s;
        p->top_seg = s;
        p->top += n;
    }
    struct pool_seg *g = &p->seg[s];
    g->used = g->held = 1;
    g->pins = 0;
    g->seq = p->seq++;
    if (g->off + n <= p->cap) {
        g->ptr = p->block + g->off;
        g->overflow = 0;
        ASAN_UNPOISON(p, g->ptr, n);
    } else { /* beyond the block: its own backend allocation, until the next reset */
        void *raw;
        char *ptr = backend_alloc(p, n, &raw);
        g = &p->seg[s];
        if (!ptr) {
            error_wrap("activation pool: ");
            g->used = g->held = 0;
            release_range(p, s);
            return NULL;
        }
        g->ptr = ptr;
        g->raw = raw;
        g->overflow = 1;
        p->n_overflow++;
    }
    live_push(p, s);
    hash_put(p, s);
    p->n_live++;
    p->live += n;
    if (p->live > p->live_peak) p->live_peak = p->live;
    if (p->top > p->extent_peak) p->extent_peak = p->top;
    return p->seg[s].ptr;
}

int pool_owns(const struct pool *p, const void *ptr) { return lookup(p, ptr) >= 0; }

int pool_drop(struct pool *p, const void *ptr) {
    int s = lookup(p, ptr);
    if (s < 0) return 0;
    if (p->seg[s].held) {
        p->seg[s].held = 0;
        if (!p->seg[s].pins) free_seg(p, s);
    }
    return 1;
}

int pool_pin(struct pool *p, const void *ptr) {
    int s = lookup(p, ptr);
    if (s < 0) return 0;
    p->seg[s].pins++;
    return 1;
}

void pool_unpin(struct pool *p, const void *ptr) {
    int s = lookup(p, ptr);
    if (s < 0 || p->seg[s].pins <= 0) return;
    if (--p->seg[s].pins == 0 && !p->seg[s].held) free_seg(p, s);
}

uint64_t pool_mark(const struct pool *p) { return p->seq; }

void pool_drop_since(struct pool *p, uint64_t mark, const void *const *keep, int n_keep) {
    for (int s = p->live_tail, prev; s >= 0 && p->seg[s].seq >= mark; s = prev) {
        prev = p->seg[s].prev;
        if (!p->seg[s].held) continue;
        int kept = 0;
        for (int k = 0; k < n_keep && !kept; k++) kept = keep[k] == p->seg[s].ptr;
        if (kept) continue;
        p->seg[s].held = 0;
        if (!p->seg[s].pins) free_seg(p, s);
    }
}

void pool_free_since(struct pool *p, uint64_t mark) {
    for (int s = p->live_tail, prev; s >= 0 && p->seg[s].seq >= mark; s = prev) {
        prev = p->seg[s].prev;
        free_seg(p, s);
    }
}

int pool_reset(struct pool *p) {
    for (int s = p->live_tail; s >= 0; s = p->seg[s].prev)
        if (p->seg[s].overflow) p->mem_free(p->seg[s].raw);
    p->n_seg = 0;
    p->spare = p->top_seg = p->holes = p->live_tail = -1;
    if (p->hash) memset(p->hash, 0, sizeof *p->hash * p->hash_cap);
    p->n_live = p->live = p->top = 0;
    if (p->extent_peak > p->cap) { /* one block for the largest step seen */
        size_t cap = round_up(p->extent_peak, POOL_BLOCK_ROUND);
        if (p->block) {
            ASAN_UNPOISON(p, p->block, p->cap);
            p->mem_free(p->block_raw);
        }
        p->cap = 0;
        if (!(p->block = backend_alloc(p, cap, &p->block_raw))) return error_wrap("activation pool: ");
        p->cap = cap;
    }
    if (p->block) {
        ASAN_UNPOISON(p, p->block, p->cap); /* for the NaN fill */
        poison(p, p->block, p->cap);
        ASAN_POISON(p, p->block, p->cap);
    }
    return 0;
}

void pool_destroy(struct pool *p) {
    for (int s = p->live_tail; s >= 0; s = p->seg[s].prev)
        if (p->seg[s].overflow) p->mem_free(p->seg[s].raw);
    if (p->block) {
        ASAN_UNPOISON(p, p->block, p->cap);
        p->mem_free(p->block_raw);
    }
    free(p->seg);
    free(p->hash);
    memset(p, 0, sizeof *p);
}
