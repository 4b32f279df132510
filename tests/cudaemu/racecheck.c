/* racecheck.c: the CUDA emulator's data-race detector (`make emu-race`; tests/cudaemu/README.md).
 *
 * The emulator runs one CUDA thread at a time, so a kernel that races on a GPU usually gives
 * the same result here whatever the order: two blocks adding to one element without an
 * atomic, a thread reading shared memory another warp writes with no __syncthreads between.
 * In the racecheck build the kernels' translation units are compiled with GCC's
 * -fsanitize=thread instrumentation, which calls __tsan_read4(addr), __tsan_write8(addr)...
 * before every load and store of memory that may be shared. This file is those functions
 * (ThreadSanitizer's own runtime is not linked): they look at accesses made while a kernel
 * runs, to device memory (cudaMalloc) or to a block's __shared__ memory, and apply CUDA's
 * ordering within one launch:
 *   - threads of different blocks are never ordered (no kernel here synchronises blocks);
 *   - threads of one block are ordered by a __syncthreads between the two accesses;
 *   - lanes of one warp also by a __syncwarp between them (warp shuffles and ballots exchange
 *     registers, not memory: they order nothing, as in the CUDA memory model).
 * Two accesses to the same 2-byte unit by different threads, at least one a write, that are
 * not ordered are a race: the program stops with the kernel's name, both threads, and where
 * (device allocation and offset, or shared memory). Launches are ordered among themselves (one
 * stream), so only accesses of the same launch are compared; atomics are not recorded.
 *
 * The same calls check where each access goes, as compute-sanitizer memcheck: an address that
 * is neither device nor shared memory nor one a kernel may use here (its own locals and
 * arguments, the program's statics, which hold __device__ and __constant__ variables) lies past
 * an allocation's end, in freed memory or behind a host pointer, and stops the program.
 *
 * And, as initcheck, that device memory read (by a kernel, or a cuBLAS call: cublasemu.c) has
 * been written since cudaMalloc (by a kernel, a copy, a memset or a GEMM).
 *
 * Each 2-byte unit of memory the kernels touch has a shadow cell: the launch (or, for shared
 * memory, the block run) it belongs to, its last writer and its two latest distinct readers,
 * each with the logical time of the access. Keeping two readers, not all of them, can miss a
 * race (a write after three readers checks two), never reports one that is not there. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cudaemu.h"
#include "emu_racecheck.h"

struct rc_rec {
    uint32_t who; /* (linear block << 10) | linear thread; blocks past 2^22 wrap (a miss at most) */
    uint32_t t;   /* logical time of the access in its launch; 0: no record */
};
struct rc_cell {
    uint32_t tag; /* the launch (device memory) or block run (shared memory) of the records */
    struct rc_rec w, r1, r2;
};

/* device allocations: cudaemu.c's table (struct emu_allocation); their cells are mapped at
 * the first access inside a kernel, their initcheck bits allocated at the first use */

static struct rc_cell *g_shared_shadow;

static int g_in_kernel;
static const char *g_launch_fp; /* emu_race_launch's frame, below the launching function's */
static const char *g_kernel;
static uint32_t g_launch, g_block_run, g_block, g_tid, g_now, g_block_sync;
static uint32_t g_warp_sync[32];

extern char __start_emu_shared[] __attribute__((weak)), __stop_emu_shared[] __attribute__((weak));
extern char __executable_start[], _end[]; /* the linker's: the program's image, its data and bss */

static void die(const char *what) {
    fprintf(stderr, "cudaemu racecheck: %s\n", what);
    abort();
}

static void *map_zeroed(size_t bytes) {
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) die("out of address space for shadow memory");
    return m;
}

/* the cells of an allocation of `bytes`: one per 2-byte unit */
static size_t shadow_bytes(size_t bytes) { return (bytes + 1) / 2 * sizeof(struct rc_cell); }

void emu_race_forget(struct emu_allocation *a) {
    if (a->shadow) munmap(a->shadow, shadow_bytes(a->bytes));
    free(a->init);
    a->shadow = NULL;
    a->init = NULL;
}

void emu_race_launch(const char *kernel) {
    g_launch_fp = __builtin_frame_address(0);
    g_kernel = kernel;
    g_launch++;
    g_now = 1;
    g_in_kernel = 1;
}

void emu_race_launch_end(void) { g_in_kernel = 0; }

void emu_race_block(uint32_t linear_block) {
    g_block = linear_block;
    g_block_run++;
    emu_race_barrier();
}

void emu_race_thread(uint32_t linear_thread) { g_tid = linear_thread; }

void emu_race_barrier(void) {
    g_block_sync = ++g_now;
    for (int w = 0; w < 32; w++) g_warp_sync[w] = g_now;
}

void emu_race_warp_sync(uint32_t warp) { g_warp_sync[warp & 31] = ++g_now; }

/* the device allocation holding a, or NULL */
static struct emu_allocation *find_alloc(const void *a) {
    struct emu_allocation *al = emu_allocation_below(a);
    return al && (const char *)a < al->p + al->bytes ? al : NULL;
}

/* ---------------------------------------------------------------- initcheck */
/* Device memory a kernel or a cuBLAS call reads must have been written since cudaMalloc (by a
 * kernel, a copy, a memset or a GEMM): compute-sanitizer initcheck's rule. Only in the
 * racecheck build, where kernel stores are seen. */
#ifdef CUDAEMU_RACECHECK
enum { RC_INITCHECK = 1 };
#else
enum { RC_INITCHECK = 0 };
#endif

static uint8_t *init_bits(struct emu_allocation *al) {
    if (!al->init && !(al->init = calloc((al->bytes / 2 + 8) / 8, 1))) die("out of host memory");
    return al->init;
}

/* the 2-byte units of [p, p + bytes) in al: [*u0, *u1) */
static void unit_span(const struct emu_allocation *al, const char *p, size_t bytes, size_t *u0, size_t *u1) {
    const char *end = p + bytes < al->p + al->bytes ? p + bytes : al->p + al->bytes;
    *u0 = (size_t)(p - al->p) / 2;
    *u1 = (size_t)(end - al->p + 1) / 2;
}

void emu_race_mark_init(const void *p, size_t bytes) {
    struct emu_allocation *al = RC_INITCHECK && bytes ? find_alloc(p) : NULL;
    if (!al) return;
    uint8_t *bits = init_bits(al);
    size_t u, u1;
    unit_span(al, p, bytes, &u, &u1);
    for (; u < u1 && (u & 7); u++) bits[u >> 3] |= (uint8_t)(1u << (u & 7));
    if (u1 - u >= 8) {
        memset(bits + (u >> 3), 0xff, (u1 - u) >> 3);
        u += (u1 - u) & ~(size_t)7;
    }
    for (; u < u1; u++) bits[u >> 3] |= (uint8_t)(1u << (u & 7));
}

static void report_uninit(const struct emu_allocation *al, size_t unit, const char *who) {
    fprintf(stderr,
            "cudaemu initcheck: %s reads device memory %p + %zu bytes (an allocation of %zu bytes), which "
            "nothing has written since cudaMalloc\n",
            who, (void *)al->p, unit * 2, al->bytes);
    abort();
}

void emu_race_check_init(const void *p, size_t bytes, const char *what) {
    struct emu_allocation *al = RC_INITCHECK && bytes ? find_alloc(p) : NULL;
    if (!al) return;
    const uint8_t *bits = init_bits(al);
    size_t u, u1;
    unit_span(al, p, bytes, &u, &u1);
    for (; u < u1; u++)
        if (!(bits[u >> 3] >> (u & 7) & 1)) report_uninit(al, u, what);
}

/* the cell of the 2-byte unit at a; NULL for the host memory a kernel may use here (its
 * locals and arguments, the program's variables), and NULL with *invalid = 1 for any other
 * address: outside every device allocation (past an end, freed, or a host pointer) */
static struct rc_cell *cell_of(const char *a, uint32_t *tag, int *shared, struct emu_allocation **in,
                               int *invalid) {
    char *s0 = __start_emu_shared, *s1 = __stop_emu_shared;
    if (s0 && a >= s0 && a < s1) {
        if (!g_shared_shadow) g_shared_shadow = map_zeroed(shadow_bytes((size_t)(s1 - s0)));
        *tag = g_block_run;
        *shared = 1;
        return &g_shared_shadow[(size_t)(a - s0) / 2];
    }
    /* the program's own variables (threadIdx and the other emulator globals the kernels read
     * all the time): never device memory, which comes from the heap or mmap */
    if (a >= __executable_start && a < _end) return NULL;
    /* the running thread's locals, on its stack above this frame (16 KiB stacks), and the
     * kernel's arguments, which each thread reads from the launching function's frame */
    const char *fp = __builtin_frame_address(0);
    if ((a >= fp && a < fp + ((size_t)16 << 10)) || (a >= g_launch_fp && a < g_launch_fp + ((size_t)1 << 20)))
        return NULL;
    struct emu_allocation *al = find_alloc(a);
    if (!al) {
        *invalid = 1;
        return NULL;
    }
    if (!al->shadow) al->shadow = map_zeroed(shadow_bytes(al->bytes));
    *tag = g_launch;
    *shared = 0;
    *in = al;
    return (struct rc_cell *)al->shadow + (size_t)(a - al->p) / 2;
}

/* 1 when the recorded access happens before the running thread's current access */
static int ordered(struct rc_rec r) {
    uint32_t me = g_block << 10 | g_tid;
    if (r.who == me) return 1;
    if (r.who >> 10 != (g_block & 0x3fffff)) return 0;
    if (r.t < g_block_sync) return 1;
    return ((r.who & 1023) >> 5) == (g_tid >> 5) && r.t < g_warp_sync[(g_tid >> 5) & 31];
}

static void coords(char *out, size_t cap, uint32_t block, uint32_t tid) {
    dim3 g = emu_grid_dim, b = emu_block_dim;
    snprintf(out, cap, "block (%u,%u,%u) thread (%u,%u,%u)", block % g.x, block / g.x % g.y,
             block / (g.x * g.y), tid % b.x, tid / b.x % b.y, tid / (b.x * b.y));
}

static void report(const char *a, size_t size, int write, int shared, const struct emu_allocation *al,
                   struct rc_rec other, int other_write) {
    char me[96], them[96], where[128];
    coords(me, sizeof me, g_block, g_tid);
    coords(them, sizeof them, other.who >> 10, other.who & 1023);
    if (shared)
        snprintf(where, sizeof where, "shared memory (byte %zu of the program's __shared__ section)",
                 (size_t)(a - __start_emu_shared));
    else
        snprintf(where, sizeof where, "device memory %p + %zu bytes (an allocation of %zu bytes)",
                 (void *)al->p, (size_t)(a - al->p), al->bytes);
    fprintf(stderr,
            "cudaemu racecheck: kernel %s: %s: a %zu-byte %s by %s races with a %s by %s in the same "
            "launch (%s)\n",
            g_kernel, where, size, write ? "write" : "read", me, other_write ? "write" : "read", them,
            (other.who >> 10) == (g_block & 0x3fffff) ? "no __syncthreads between them" : "different blocks");
    abort();
}

/* an access outside every device allocation: compute-sanitizer memcheck's "invalid __global__
 * read/write"; on a GPU it reads another allocation's data or faults */
static void report_invalid(const char *a, size_t size, int write) {
    char me[96], near[160] = "";
    coords(me, sizeof me, g_block, g_tid);
    const struct emu_allocation *below = emu_allocation_below(a);
    if (below)
        snprintf(near, sizeof near, ": %zu bytes past the end of the allocation at %p of %zu bytes",
                 (size_t)(a - (below->p + below->bytes)), (void *)below->p, below->bytes);
    fprintf(stderr,
            "cudaemu memcheck: kernel %s: a %zu-byte %s by %s at %p, which lies in no device "
            "allocation%s (past an end, freed, or a host pointer)\n",
            g_kernel, size, write ? "write" : "read", me, (void *)a, near);
    abort();
}

static void rc_access(const void *addr, size_t size, int write) {
    if (!g_in_kernel || !size) return;
    uint32_t me = g_block << 10 | g_tid;
    for (uintptr_t u = (uintptr_t)addr >> 1, u1 = ((uintptr_t)addr + size - 1) >> 1; u <= u1; u++) {
        const char *a = (const char *)(u << 1);
        uint32_t tag;
        int shared;
        struct emu_allocation *al = NULL;
        int invalid = 0;
        struct rc_cell *c = cell_of(a, &tag, &shared, &al, &invalid);
        if (invalid) report_invalid(a, size, write);
        if (!c) return; /* host memory (a kernel's locals, the emulator's variables) */
        if (c->tag != tag) {
            memset(c, 0, sizeof *c);
            c->tag = tag;
        }
        if (!shared) {
            uint8_t *bits = init_bits(al);
            size_t unit = (size_t)(a - al->p) / 2;
            if (write) {
                bits[unit >> 3] |= (uint8_t)(1u << (unit & 7));
            } else if (!(bits[unit >> 3] >> (unit & 7) & 1)) {
                char who[200], me[96];
                coords(me, sizeof me, g_block, g_tid);
                snprintf(who, sizeof who, "kernel %s: a %zu-byte read by %s", g_kernel, size, me);
                report_uninit(al, unit, who);
            }
        }
        if (c->w.t && !ordered(c->w)) report(a, size, write, shared, al, c->w, 1);
        if (write) {
            if (c->r1.t && !ordered(c->r1)) report(a, size, write, shared, al, c->r1, 0);
            if (c->r2.t && !ordered(c->r2)) report(a, size, write, shared, al, c->r2, 0);
            c->w = (struct rc_rec){me, g_now};
            c->r1.t = c->r2.t = 0;
        } else if (c->r1.t && c->r1.who == me) {
            c->r1.t = g_now;
        } else {
            c->r2 = c->r1;
            c->r1 = (struct rc_rec){me, g_now};
        }
    }
}

/* ---------------------------------------------------------------- GCC's instrumentation calls */
#define RC_SIZES(X) X(1) X(2) X(4) X(8) X(16)
#define RC_HOOKS(n)                                                                                \
    void __tsan_read##n(void *a) { rc_access(a, n, 0); }                                             \
    void __tsan_write##n(void *a) { rc_access(a, n, 1); }                                            \
    void __tsan_unaligned_read##n(void *a) { rc_access(a, n, 0); }                                   \
    void __tsan_unaligned_write##n(void *a) { rc_access(a, n, 1); }                                  \
    void __tsan_volatile_read##n(void *a) { rc_access(a, n, 0); }                                    \
    void __tsan_volatile_write##n(void *a) { rc_access(a, n, 1); }
/* declared here only: these are called by compiler-generated code */
#define RC_DECLS(n)                                                                                \
    void __tsan_read##n(void *a);                                                                  \
    void __tsan_write##n(void *a);                                                                 \
    void __tsan_unaligned_read##n(void *a);                                                        \
    void __tsan_unaligned_write##n(void *a);                                                       \
    void __tsan_volatile_read##n(void *a);                                                         \
    void __tsan_volatile_write##n(void *a);
RC_SIZES(RC_DECLS)
RC_SIZES(RC_HOOKS)
void __tsan_read_range(void *a, unsigned long n);
void __tsan_write_range(void *a, unsigned long n);
void __tsan_init(void);
void __tsan_func_entry(void *pc);
void __tsan_func_exit(void);
void __tsan_read_range(void *a, unsigned long n) { rc_access(a, n, 0); }
void __tsan_write_range(void *a, unsigned long n) { rc_access(a, n, 1); }
void __tsan_init(void) {}
void __tsan_func_entry(void *pc) { (void)pc; }
void __tsan_func_exit(void) {}
