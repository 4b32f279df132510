/* test_pool.c: the activation pool (core/pool.h) on host memory, against its contract:
 *  1. a random sequence of allocations, drops, pins and unpins (sizes from 1 byte to 64 KiB,
 *     thousands live at once): every live allocation keeps its own bytes (each is filled with
 *     its number and checked after every operation batch: overlap would show), is 256-byte
 *     aligned and known to pool_owns; live bytes add up; freeing everything brings the
 *     range back to empty (holes coalesce, the top comes down);
 *  2. the same sequence after pool_reset lands at the same addresses inside one block and
 *     makes no allocation of any kind; the extent equals the first run's;
 *  3. pool_drop_since / pool_free_since against marks;
 *  4. a failing backend allocation returns NULL with a message and leaves the pool usable. */
#include "tests/check.h"

#include <stdint.h>

#include "core/error.h"
#include "core/pool.h"

static int fail_alloc; /* make the next backend allocations fail */
static void *host_alloc(size_t n) {
    if (fail_alloc) {
        error_set("test: refused %zu bytes", n);
        return NULL;
    }
    return malloc(n);
}
static int host_fill(float *p, float v, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = v;
    return 0;
}

static uint64_t rng = 12345;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

enum { SLOTS = 3000, OPS = 60000 };
struct slot {
    unsigned char *p;
    size_t n;
    int pins, held;
    uint64_t tag;
};

static size_t fill_tag(struct slot *s) {
    memset(s->p, (int)(s->tag & 0xff), s->n);
    return s->n;
}
static int tag_ok(const struct slot *s) {
    for (size_t i = 0; i < s->n; i++)
        if (s->p[i] != (unsigned char)(s->tag & 0xff)) return 0;
    return 1;
}
static size_t rounded(size_t n) { return (n ? n + POOL_ALIGN - 1 : POOL_ALIGN) / POOL_ALIGN * POOL_ALIGN; }

/* One run of the random sequence; the pointers of allocation k go to ptrs[k] (if not NULL). */
static int run(struct pool *p, uint64_t seed, void **ptrs, int *n_allocs) {
    static struct slot s[SLOTS];
    memset(s, 0, sizeof s);
    rng = seed;
    int bad = 0, k = 0;
    size_t live = 0;
    for (int op = 0; op < OPS; op++) {
        struct slot *t = &s[next() % SLOTS];
        uint64_t r = next() % 10;
        if (!t->p) { /* allocate: sizes spread over five orders of magnitude */
            size_t n = (size_t)1 << (next() % 17);
            n += next() % n;
            t->p = pool_alloc(p, n);
            if (!t->p) return -1;
            t->n = n;
            t->held = 1;
            t->pins = 0;
            t->tag = (uint64_t)k;
            if (ptrs) ptrs[k] = t->p;
            k++;
            bad += ((uintptr_t)t->p % POOL_ALIGN) != 0;
            fill_tag(t);
            live += rounded(n);
        } else if (r < 3 && t->pins < 3) {
            pool_pin(p, t->p);
            t->pins++;
        } else if (r < 6 && t->pins) {
            pool_unpin(p, t->p);
            t->pins--;
        } else if (t->held) {
            pool_drop(p, t->p);
            t->held = 0;
        }
        if (t->p && !t->held && !t->pins) { /* freed by the pool */
            live -= rounded(t->n);
            t->p = NULL;
        }
        if (op % 1000 == 999) {
            for (int i = 0; i < SLOTS; i++)
                if (s[i].p) bad += !tag_ok(&s[i]) + !pool_owns(p, s[i].p);
            bad += p->live != live;
        }
    }
    CHECK(bad == 0, "%d bad checks (overlap, alignment, ownership or live bytes)", bad);
    for (int i = 0; i < SLOTS; i++) { /* everything goes: unpin, drop */
        if (!s[i].p) continue;
        while (s[i].pins--) pool_unpin(p, s[i].p);
        if (s[i].held) pool_drop(p, s[i].p);
        CHECK(!pool_owns(p, s[i].p), "slot %d still owned after its last reference", i);
    }
    *n_allocs = k;
    return 0;
}

int main(void) {
    struct pool p;
    pool_init(&p, host_alloc, free, host_fill, 1);
    p.poison = 1;
    int n1 = 0, n2 = 0;
    void **a = malloc(sizeof(void *) * OPS), **b = malloc(sizeof(void *) * OPS);
    /* 1. */
    CHECK(run(&p, 777, a, &n1) == 0, "run 1: %s", error_message());
    CHECK(p.live == 0 && p.top == 0 && p.n_live == 0 && p.holes < 0 && p.top_seg < 0,
          "after freeing everything: live %zu top %zu, %zu allocations", p.live, p.top, p.n_live);
    printf("  ok %d allocations, peak %zu bytes live, extent %zu (%.1f%% fragmentation), %zu beyond the block\n", n1,
           p.live_peak, p.extent_peak, 100.0 * ((double)p.extent_peak / (double)p.live_peak - 1), p.n_overflow);
    size_t extent = p.extent_peak;
    /* 2. */
    CHECK(pool_reset(&p) == 0 && p.cap >= extent && p.block, "reset: %s", error_message());
    size_t sys = p.n_system_allocs, over = p.n_overflow;
    CHECK(run(&p, 777, b, &n2) == 0 && n2 == n1, "run 2: %s", error_message());
    int inside = 0; /* (the first run's addresses were each its own backend allocation) */
    for (int k = 0; k < n1; k++) inside += (char *)b[k] >= p.block && (char *)b[k] < p.block + p.cap;
    CHECK(inside == n1, "%d of %d allocations of the repeat inside the block", inside, n1);
    CHECK(p.n_system_allocs == sys && p.n_overflow == over && p.extent_peak == extent,
          "the repeat made %zu allocations (%zu beyond the block), extent %zu vs %zu", p.n_system_allocs - sys,
          p.n_overflow - over, p.extent_peak, extent);
    /* the same offsets again: a third run against the second's addresses */
    CHECK(pool_reset(&p) == 0 && run(&p, 777, a, &n2) == 0, "run 3: %s", error_message());
    int moved = 0;
    for (int k = 0; k < n1; k++) moved += a[k] != b[k];
    CHECK(moved == 0, "%d allocations moved between identical steps", moved);

    /* 3. marks */
    CHECK(pool_reset(&p) == 0, "%s", error_message());
    void *x0 = pool_alloc(&p, 1000);
    uint64_t m = pool_mark(&p);
    void *x1 = pool_alloc(&p, 1000), *x2 = pool_alloc(&p, 1000), *x3 = pool_alloc(&p, 1000);
    pool_pin(&p, x2);
    const void *keep[] = {x3};
    pool_drop_since(&p, m, keep, 1);
    CHECK(pool_owns(&p, x0) && !pool_owns(&p, x1) && pool_owns(&p, x2) && pool_owns(&p, x3),
          "drop_since: x0 (before the mark) and x3 (kept) held, x2 pinned, x1 freed");
    pool_drop(&p, x2); /* no hold any more: nothing changes */
    CHECK(pool_owns(&p, x2), "a second drop freed a pinned allocation");
    pool_free_since(&p, m);
    CHECK(pool_owns(&p, x0) && !pool_owns(&p, x2) && !pool_owns(&p, x3) && p.live == rounded(1000),
          "free_since: only x0 left (%zu bytes live)", p.live);
    pool_drop(&p, x0);
    CHECK(p.live == 0 && p.top == 0, "empty again");

    /* 4. failure beyond the block */
    fail_alloc = 1;
    void *big = pool_alloc(&p, p.cap + 1);
    CHECK(!big && strstr(error_message(), "refused"), "failing backend: %p, '%s'", big, error_message());
    CHECK(p.live == 0 && p.top == 0 && p.n_live == 0, "a failed allocation left %zu bytes", p.live);
    fail_alloc = 0;
    void *small = pool_alloc(&p, 100);
    CHECK(small && pool_owns(&p, small), "usable after a failure");
    pool_drop(&p, small);
    CHECK(pool_owns(&p, (char *)a[0] + 1) == 0 && pool_drop(&p, &p) == 0 && pool_pin(&p, NULL) == 0,
          "foreign pointers are not the pool's");
    pool_destroy(&p);
    free(a);
    free(b);
    CHECK_DONE();
}
