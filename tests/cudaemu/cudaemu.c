/* cudaemu.c: the CUDA emulator's scheduler and runtime API (tests/cudaemu/README.md).
 *
 * A launch runs its blocks one after another. Each CUDA thread of a block is a coroutine on
 * its own stack: the scheduler resumes every runnable thread in turn (thread order, or the
 * reverse with CUDAEMU_ORDER=reverse), and a thread runs until it finishes or reaches
 * __syncthreads or a warp operation. A warp operation completes when all 32 lanes of the warp
 * have reached one; __syncthreads when every thread of the block has reached it.
 * Anything else (lanes of one warp at different operations, a warp operation with lanes that
 * have exited, a barrier some threads never reach) is a kernel bug on a GPU too, and stops the
 * program with the kernel's name (a barrier some threads skip by returning early is one of
 * them: undefined in CUDA, though current GPUs let it pass). Device memory is host memory
 * from malloc, filled with 0xff bytes (NaN as floats) as a GPU's is garbage; copies are
 * checked against the allocations. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cudaemu.h"
#include "emu_racecheck.h"
#undef warpSize /* the device-code constant; cudaDeviceProp has a field of that name */

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

uint3 emu_thread_idx, emu_block_idx;
dim3 emu_block_dim, emu_grid_dim;

/* ---------------------------------------------------------------- fatal errors */
static const char *g_kernel = "(no kernel)";

static void fatal(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cudaemu: kernel %s, block (%u,%u,%u), thread (%u,%u,%u): ", g_kernel,
            emu_block_idx.x, emu_block_idx.y, emu_block_idx.z, emu_thread_idx.x, emu_thread_idx.y,
            emu_thread_idx.z);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

/* ---------------------------------------------------------------- coroutines */
/* Each thread's stack (kernels keep small frames: ptxas reports 0-byte stack frames on sm_90),
 * above a guard page (thread_start) */
#define STACK_BYTES ((size_t)16 << 10)
#define MAX_THREADS 1024

#if defined(__x86_64__)
/* Save the callee-saved registers on the current stack, store the stack pointer in *from,
 * switch to `to` and restore its registers (System V x86-64: rbx, rbp, r12-r15). */
void emu_ctx_switch(void **from, void *to);
__asm__(".text\n"
        ".globl emu_ctx_switch\n"
        ".type emu_ctx_switch,@function\n"
        "emu_ctx_switch:\n"
        "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
        "  movq %rsp, (%rdi)\n"
        "  movq %rsi, %rsp\n"
        "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
        "  ret\n"
        ".size emu_ctx_switch, .-emu_ctx_switch\n"
        ".section .note.GNU-stack,\"\",@progbits\n"
        ".text\n");
#endif

enum thread_state { T_RUN, T_WAIT_BLOCK, T_WAIT_WARP, T_DONE };
enum warp_op { W_NONE, W_SHFL, W_BALLOT, W_SYNCWARP };

struct emu_thread {
#if defined(__x86_64__)
    void *sp;
#else
    ucontext_t ctx;
#endif
    uint3 tid;
    enum thread_state state;
    enum warp_op op; /* the warp operation a T_WAIT_WARP thread waits in */
    uint64_t word;   /* its contribution */
};

static struct emu_thread g_threads[MAX_THREADS];
static int g_nthreads, g_cur;
static emu_thunk_fn g_fn;
static void *g_args;
#if defined(__x86_64__)
static void *g_sched_sp;
#else
static ucontext_t g_sched_ctx;
#endif
static int g_reverse = -1; /* CUDAEMU_ORDER=reverse: threads and blocks in reverse order */
static unsigned long long g_launches, g_threads_run;

/* CUDAEMU_STATS=ops: how many times each kernel, cuBLAS call and memcpy/memset ran (by name;
 * names are string literals, compared by content) */
#define MAX_OP_NAMES 1024
struct op_count {
    const char *name;
    unsigned long long n;
};
static struct op_count g_ops[MAX_OP_NAMES];
static int g_n_ops;

void emu_count_op(const char *name) {
    for (int i = 0; i < g_n_ops; i++)
        if (g_ops[i].name == name || !strcmp(g_ops[i].name, name)) {
            g_ops[i].n++;
            return;
        }
    if (g_n_ops < MAX_OP_NAMES) g_ops[g_n_ops++] = (struct op_count){name, 1};
}

static int cmp_ops(const void *a, const void *b) {
    const struct op_count *x = a, *y = b;
    return x->n != y->n ? (x->n < y->n ? 1 : -1) : strcmp(x->name, y->name);
}

static void to_scheduler(void) {
    struct emu_thread *t = &g_threads[g_cur];
#if defined(__x86_64__)
    emu_ctx_switch(&t->sp, g_sched_sp);
#else
    swapcontext(&t->ctx, &g_sched_ctx);
#endif
}

static void thread_entry(void) {
    g_fn(g_args);
    g_threads[g_cur].state = T_DONE;
    to_scheduler();
    fatal("a finished thread was resumed"); /* the scheduler never does */
}

/* MAX_THREADS stacks, each above an inaccessible guard page: a thread overflowing its stack
 * faults there (reported by on_segv) instead of silently overwriting the stack of the thread
 * below it */
#define GUARD_BYTES ((size_t)64 << 10) /* PROT_NONE: address space only */
#define SLOT_BYTES (GUARD_BYTES + STACK_BYTES)
static char *g_stacks;

static void on_segv(int sig, siginfo_t *si, void *ctx) {
    (void)sig;
    (void)ctx;
    const char *a = si->si_addr;
    if (g_stacks && a >= g_stacks && a < g_stacks + MAX_THREADS * SLOT_BYTES &&
        (size_t)(a - g_stacks) % SLOT_BYTES < GUARD_BYTES) {
        static const char m1[] = "cudaemu: kernel ", m2[] = ": a thread overflowed its 16 KiB emulator stack\n";
        ssize_t r = write(2, m1, sizeof m1 - 1);
        r = write(2, g_kernel, strlen(g_kernel));
        r = write(2, m2, sizeof m2 - 1);
        (void)r;
    }
    /* SA_RESETHAND: returning re-runs the faulting access under the default action */
}

static void thread_start(struct emu_thread *t, int i) {
    if (!g_stacks) {
        void *m = mmap(NULL, MAX_THREADS * SLOT_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) fatal("out of host memory for the threads' stacks");
        g_stacks = m;
        for (size_t k = 0; k < MAX_THREADS; k++)
            if (mprotect(g_stacks + k * SLOT_BYTES, GUARD_BYTES, PROT_NONE)) fatal("mprotect of a guard page failed");
        struct sigaction old;
        if (!sigaction(SIGSEGV, NULL, &old) && old.sa_handler == SIG_DFL && !(old.sa_flags & SA_SIGINFO)) {
            static char alt[1 << 16]; /* the handler cannot run on the overflowed stack */
            stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0};
            struct sigaction sa = {0};
            sa.sa_sigaction = on_segv;
            sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
            sigemptyset(&sa.sa_mask);
            if (!sigaltstack(&ss, NULL)) sigaction(SIGSEGV, &sa, NULL);
        }
    }
    char *stack = g_stacks + (size_t)i * SLOT_BYTES + GUARD_BYTES;
#if defined(__x86_64__)
    void **sp = (void **)(((uintptr_t)(stack + STACK_BYTES)) & ~(uintptr_t)15);
    *--sp = NULL;                  /* thread_entry's return address: it never returns */
    *--sp = (void *)thread_entry;  /* emu_ctx_switch's ret goes there */
    for (int r = 0; r < 6; r++) *--sp = NULL; /* rbp rbx r12 r13 r14 r15 */
    t->sp = sp;
#else
    if (getcontext(&t->ctx)) fatal("getcontext failed");
    t->ctx.uc_stack.ss_sp = stack;
    t->ctx.uc_stack.ss_size = STACK_BYTES;
    t->ctx.uc_link = NULL;
    makecontext(&t->ctx, thread_entry, 0);
#endif
    t->state = T_RUN;
    t->op = W_NONE;
}

static void resume(int i) {
    g_cur = i;
    emu_race_thread((uint32_t)i);
    emu_thread_idx = g_threads[i].tid;
#if defined(__x86_64__)
    emu_ctx_switch(&g_sched_sp, g_threads[i].sp);
#else
    swapcontext(&g_sched_ctx, &g_threads[i].ctx);
#endif
}

/* Complete the warp operations and barriers every thread waits in: 1 when some threads can go
 * on, 0 when every thread has finished (none can go on otherwise: a deadlock, fatal). */
static int release_waits(void) {
    int n = g_nthreads, released = 0;
    for (int w0 = 0; w0 < n; w0 += 32) {
        int w1 = w0 + 32 < n ? w0 + 32 : n, waiting = 0, other = 0;
        enum warp_op op = W_NONE;
        for (int i = w0; i < w1; i++) {
            if (g_threads[i].state == T_WAIT_WARP) {
                if (waiting && g_threads[i].op != op)
                    fatal("lanes of warp %d wait in different warp operations", w0 / 32);
                op = g_threads[i].op;
                waiting++;
            } else {
                other++;
            }
        }
        if (!waiting) continue;
        if (other)
            fatal("warp %d: %d lanes wait in a warp operation with a full mask, %d have exited or "
                  "wait at __syncthreads",
                  w0 / 32, waiting, other);
        if (w1 - w0 < 32) fatal("a full-mask warp operation in a partial warp of %d lanes", w1 - w0);
        for (int i = w0; i < w1; i++) g_threads[i].state = T_RUN;
        if (op == W_SYNCWARP) emu_race_warp_sync((uint32_t)(w0 / 32));
        released = 1;
    }
    if (released) return 1;
    int done = 0, at_barrier = 0;
    for (int i = 0; i < n; i++) {
        done += g_threads[i].state == T_DONE;
        at_barrier += g_threads[i].state == T_WAIT_BLOCK;
    }
    if (done == n) return 0;
    if (done + at_barrier != n) fatal("deadlock: no thread can go on");
    /* CUDA: a __syncthreads some threads of the block skip is undefined (threads that have
     * exited happen to count as arrived on current GPUs; kernels here must not rely on it) */
    if (done) fatal("__syncthreads reached by %d threads while %d have exited", at_barrier, done);
    for (int i = 0; i < n; i++)
        if (g_threads[i].state == T_WAIT_BLOCK) g_threads[i].state = T_RUN;
    emu_race_barrier();
    return 1;
}

/* every __shared__ variable of the program (cudaemu.h), from the linker */
extern char __start_emu_shared[] __attribute__((weak)), __stop_emu_shared[] __attribute__((weak));

static void run_block(void) {
    int n = g_nthreads;
    /* a block's shared memory starts as garbage, as on a GPU: a kernel that reads what the
     * block has not written (or adds to it) shows NaN instead of zeros or the last block's */
    char *sh0 = __start_emu_shared, *sh1 = __stop_emu_shared;
    if (sh0 && sh1 > sh0) memset(sh0, 0xff, (size_t)(sh1 - sh0));
    emu_race_block(emu_block_idx.x + emu_grid_dim.x * (emu_block_idx.y + emu_grid_dim.y * emu_block_idx.z));
    for (int i = 0; i < n; i++) {
        struct emu_thread *t = &g_threads[i];
        t->tid.x = (unsigned)i % emu_block_dim.x;
        t->tid.y = ((unsigned)i / emu_block_dim.x) % emu_block_dim.y;
        t->tid.z = (unsigned)i / (emu_block_dim.x * emu_block_dim.y);
        thread_start(t, i);
    }
    for (;;) {
        for (int k = 0; k < n; k++) {
            int i = g_reverse ? n - 1 - k : k;
            if (g_threads[i].state == T_RUN) resume(i);
        }
        if (!release_waits()) break;
    }
    g_threads_run += (unsigned long long)n;
}

void __syncthreads(void) {
    g_threads[g_cur].state = T_WAIT_BLOCK;
    to_scheduler();
}

/* wait until every lane of the warp is in the same warp operation */
static void warp_wait(enum warp_op op, unsigned mask, uint64_t word) {
    if (mask != 0xffffffffu) fatal("warp operation with mask %#x: only full masks are emulated", mask);
    struct emu_thread *t = &g_threads[g_cur];
    t->op = op;
    t->word = word;
    t->state = T_WAIT_WARP;
    to_scheduler();
}

void emu_syncwarp(unsigned mask) { warp_wait(W_SYNCWARP, mask, 0); }

uint64_t emu_warp_exchange(unsigned mask, uint64_t word, int mode, int arg, int width) {
    if (width < 1 || width > 32 || (width & (width - 1))) fatal("shuffle width %d", width);
    warp_wait(W_SHFL, mask, word);
    /* PTX shfl.sync as CUDA's headers call it (c = ((32 - width) << 8) | clamp): the lane
     * argument counts with its 5 low bits only; idx wraps inside the caller's segment; up and
     * down return the caller's own word past its segment; xor reads any lower lane (an earlier
     * segment included, as the Programming Guide says) and its own word past its segment. */
    int lane = g_cur & 31, base = g_cur - lane, b = arg & 31, seg = lane & ~(width - 1),
        last = seg + width - 1, src = lane;
    switch (mode) {
    case EMU_SHFL_IDX: src = seg | (b & (width - 1)); break;
    case EMU_SHFL_XOR: src = lane ^ b; if (src > last) src = lane; break;
    case EMU_SHFL_DOWN: src = lane + b; if (src > last) src = lane; break;
    case EMU_SHFL_UP: src = lane - b; if (src < seg) src = lane; break;
    default: fatal("shuffle mode %d", mode);
    }
    uint64_t r = g_threads[base + src].word;
    warp_wait(W_SHFL, mask, word); /* every lane has read before any writes again */
    return r;
}

unsigned __ballot_sync(unsigned mask, int pred) {
    warp_wait(W_BALLOT, mask, pred != 0);
    int lane = g_cur & 31, base = g_cur - lane;
    unsigned r = 0;
    for (int l = 0; l < 32; l++) r |= (unsigned)(g_threads[base + l].word & 1u) << l;
    warp_wait(W_BALLOT, mask, pred != 0);
    return r;
}

/* ---------------------------------------------------------------- errors */
static cudaError_t g_last_error = cudaSuccess;

static cudaError_t fail(cudaError_t e) {
    g_last_error = e;
    return e;
}

cudaError_t cudaGetLastError(void) {
    cudaError_t e = g_last_error;
    g_last_error = cudaSuccess;
    return e;
}

cudaError_t cudaPeekAtLastError(void) { return g_last_error; }

static const struct {
    cudaError_t e;
    const char *name, *text;
} g_errors[] = {
    {cudaSuccess, "cudaSuccess", "no error"},
    {cudaErrorInvalidValue, "cudaErrorInvalidValue", "invalid argument"},
    {cudaErrorMemoryAllocation, "cudaErrorMemoryAllocation", "out of memory"},
    {cudaErrorInitializationError, "cudaErrorInitializationError", "initialization error"},
    {cudaErrorLaunchFailure, "cudaErrorLaunchFailure", "unspecified launch failure"},
    {cudaErrorInvalidConfiguration, "cudaErrorInvalidConfiguration", "invalid configuration argument"},
    {cudaErrorInvalidDevicePointer, "cudaErrorInvalidDevicePointer", "invalid device pointer"},
    {cudaErrorInvalidMemcpyDirection, "cudaErrorInvalidMemcpyDirection", "invalid copy direction for memcpy"},
    {cudaErrorNoDevice, "cudaErrorNoDevice", "no CUDA-capable device is detected"},
    {cudaErrorInvalidDevice, "cudaErrorInvalidDevice", "invalid device ordinal"},
    {cudaErrorInvalidResourceHandle, "cudaErrorInvalidResourceHandle", "invalid resource handle"},
};

const char *cudaGetErrorName(cudaError_t e) {
    for (size_t i = 0; i < sizeof g_errors / sizeof g_errors[0]; i++)
        if (g_errors[i].e == e) return g_errors[i].name;
    return "cudaErrorUnknown";
}

const char *cudaGetErrorString(cudaError_t e) {
    for (size_t i = 0; i < sizeof g_errors / sizeof g_errors[0]; i++)
        if (g_errors[i].e == e) return g_errors[i].text;
    return "unknown error";
}

/* ---------------------------------------------------------------- launches */
void emu_launch(const char *kernel, dim3 grid, dim3 block, size_t smem, cudaStream_t s,
                emu_thunk_fn fn, void *args) {
    (void)s;
    unsigned long long nt = (unsigned long long)block.x * block.y * block.z;
    if (nt == 0 || nt > MAX_THREADS || block.x > 1024 || block.y > 1024 || block.z > 64 ||
        grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > 2147483647u || grid.y > 65535 ||
        grid.z > 65535 || smem > 48 * 1024) {
        fail(cudaErrorInvalidConfiguration);
        return;
    }
    if (g_reverse < 0) {
        const char *o = getenv("CUDAEMU_ORDER");
        g_reverse = o && !strcmp(o, "reverse");
    }
    g_kernel = kernel;
    g_fn = fn;
    g_args = args;
    g_nthreads = (int)nt;
    emu_block_dim = block;
    emu_grid_dim = grid;
    unsigned long long blocks = (unsigned long long)grid.x * grid.y * grid.z;
    emu_race_launch(kernel);
    for (unsigned long long k = 0; k < blocks; k++) {
        unsigned long long b = g_reverse ? blocks - 1 - k : k;
        emu_block_idx.x = (unsigned)(b % grid.x);
        emu_block_idx.y = (unsigned)((b / grid.x) % grid.y);
        emu_block_idx.z = (unsigned)(b / ((unsigned long long)grid.x * grid.y));
        run_block();
    }
    emu_race_launch_end();
    g_launches++;
    emu_count_op(kernel);
    g_kernel = "(no kernel)";
}

/* ---------------------------------------------------------------- device and memory */
static struct emu_allocation *g_allocs; /* sorted by p */
static size_t g_nallocs, g_cap_allocs, g_allocated, g_peak, g_failed_allocs;
/* the allocations of the latest lookups (a kernel reads x and b and writes y, in turn: the
 * race detector looks up every access) */
#define RECENT 4
static size_t g_recent[RECENT];
static unsigned g_recent_next;
static size_t g_memory = 0; /* the emulated device's memory (CUDAEMU_MEMORY_MB, default 8 GiB) */

static size_t device_memory(void) {
    if (!g_memory) {
        const char *m = getenv("CUDAEMU_MEMORY_MB");
        long long mb = m ? atoll(m) : 8192;
        g_memory = (size_t)(mb > 0 ? mb : 8192) << 20;
    }
    return g_memory;
}

static void stats_at_exit(void) {
    const char *st = getenv("CUDAEMU_STATS");
    if (st)
        fprintf(stderr, "cudaemu: %llu launches, %llu threads, peak device memory %.1f MiB, %zu failed allocations\n",
                g_launches, g_threads_run, (double)g_peak / (1 << 20), g_failed_allocs);
    if (st && !strcmp(st, "ops")) {
        qsort(g_ops, (size_t)g_n_ops, sizeof g_ops[0], cmp_ops);
        for (int i = 0; i < g_n_ops; i++) fprintf(stderr, "cudaemu: %10llu %s\n", g_ops[i].n, g_ops[i].name);
    }
}

cudaError_t cudaGetDeviceCount(int *count) {
    static int registered = 0;
    if (!registered) registered = !atexit(stats_at_exit);
    const char *d = getenv("CUDAEMU_DEVICES");
    *count = d ? atoi(d) : 1;
    return *count > 0 ? cudaSuccess : fail(cudaErrorNoDevice);
}

cudaError_t cudaGetDevice(int *dev) {
    *dev = 0;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int dev) { return dev == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice); }

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *p, int dev) {
    if (dev != 0) return fail(cudaErrorInvalidDevice);
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "cudaemu (CPU emulation of an sm_90 device)");
    p->totalGlobalMem = device_memory();
    p->sharedMemPerBlock = 48 * 1024;
    p->regsPerBlock = 65536;
    p->warpSize = 32;
    p->maxThreadsPerBlock = 1024;
    p->maxThreadsDim[0] = p->maxThreadsDim[1] = 1024;
    p->maxThreadsDim[2] = 64;
    p->maxGridSize[0] = 2147483647;
    p->maxGridSize[1] = p->maxGridSize[2] = 65535;
    p->major = 9;
    p->minor = 0;
    p->multiProcessorCount = 132;
    return cudaSuccess;
}

cudaError_t cudaMalloc(void **p, size_t bytes) {
    *p = NULL;
    if (bytes > device_memory() - g_allocated) {
        g_failed_allocs++;
        return fail(cudaErrorMemoryAllocation);
    }
    if (g_nallocs == g_cap_allocs) {
        size_t cap = g_cap_allocs ? 2 * g_cap_allocs : 256;
        struct emu_allocation *a = realloc(g_allocs, cap * sizeof *a);
        if (!a) return fail(cudaErrorMemoryAllocation);
        g_allocs = a;
        g_cap_allocs = cap;
    }
    char *m = aligned_alloc(256, (bytes + 255) / 256 * 256 + 256);
    if (!m) return fail(cudaErrorMemoryAllocation);
    memset(m, 0xff, bytes); /* NaN as floats: a kernel that reads what nobody wrote shows it */
    size_t i = g_nallocs++;
    for (; i > 0 && g_allocs[i - 1].p > m; i--) g_allocs[i] = g_allocs[i - 1];
    g_allocs[i] = (struct emu_allocation){m, bytes, NULL, NULL};
    memset(g_recent, 0xff, sizeof g_recent);
    g_allocated += bytes;
    if (g_allocated > g_peak) g_peak = g_allocated;
    *p = m;
    return cudaSuccess;
}

cudaError_t cudaFree(void *p) {
    if (!p) return cudaSuccess;
    struct emu_allocation *a = emu_allocation_below(p);
    if (!a || a->p != (char *)p) return fail(cudaErrorInvalidDevicePointer);
    g_allocated -= a->bytes;
    emu_race_forget(a);
    free(p);
    memmove(a, a + 1, (size_t)(g_allocs + --g_nallocs - a) * sizeof *a);
    memset(g_recent, 0xff, sizeof g_recent);
    return cudaSuccess;
}

struct emu_allocation *emu_allocation_below(const void *p) {
    const char *c = p;
    for (int j = 0; j < RECENT; j++) { /* inside one: no other starts between it and c */
        size_t k = g_recent[j];
        if (k < g_nallocs && c >= g_allocs[k].p && c < g_allocs[k].p + g_allocs[k].bytes) return &g_allocs[k];
    }
    if (!g_nallocs || c < g_allocs[0].p) return NULL;
    size_t lo = 0, hi = g_nallocs;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (g_allocs[mid].p <= c) lo = mid;
        else hi = mid;
    }
    g_recent[g_recent_next++ % RECENT] = lo;
    return &g_allocs[lo];
}

/* 1 when [p, p + bytes) lies inside one allocation (p may be its end when bytes is 0) */
static int is_device(const void *p, size_t bytes) {
    const char *c = p;
    const struct emu_allocation *a = emu_allocation_below(p);
    return a && c <= a->p + a->bytes && bytes <= (size_t)(a->p + a->bytes - c);
}

void emu_check_pointer_arg(const char *kernel, int position, int is_pointer, const void *slot) {
    if (!is_pointer) return;
    const void *p;
    memcpy(&p, slot, sizeof p);
    if (p && !is_device(p, 0)) {
        fprintf(stderr, "cudaemu: kernel %s: argument %d (%p) is not device memory (a GPU faults on it)\n", kernel,
                position, p);
        abort();
    }
}

/* for the emulated cuBLAS: 1 when [p, p + bytes) lies inside one device allocation */
int emu_device_range(const void *p, size_t bytes) { return is_device(p, bytes); }

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind) {
    if (!bytes) return cudaSuccess;
    int dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    int src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if (kind == cudaMemcpyDefault) {
        /* a pointer that starts inside an allocation is a device pointer (UVA), and then its
         * whole range must lie inside it: a copy running past the allocation is no host copy */
        dst_dev = is_device(dst, 1);
        src_dev = is_device(src, 1);
    } else if (kind != cudaMemcpyHostToHost && !dst_dev && !src_dev) {
        return fail(cudaErrorInvalidMemcpyDirection);
    }
    if ((dst_dev && !is_device(dst, bytes)) || (src_dev && !is_device(src, bytes)))
        return fail(cudaErrorInvalidValue);
    emu_count_op(dst_dev && src_dev ? "cudaMemcpy device to device" : dst_dev ? "cudaMemcpy host to device"
                 : src_dev ? "cudaMemcpy device to host" : "cudaMemcpy host to host");
    memmove(dst, src, bytes);
    if (dst_dev) emu_race_mark_init(dst, bytes);
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind,
                            cudaStream_t s) {
    (void)s;
    return cudaMemcpy(dst, src, bytes, kind);
}

cudaError_t emu_memcpy_symbol(void *dst, const void *src, size_t bytes, size_t offset, size_t sym_bytes,
                              int kind, int to_symbol) {
    if (offset > sym_bytes || bytes > sym_bytes - offset) return fail(cudaErrorInvalidValue);
    if (kind != 0 && kind != cudaMemcpyDeviceToDevice && kind != cudaMemcpyDefault &&
        kind != (to_symbol ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost))
        return fail(cudaErrorInvalidMemcpyDirection);
    if (bytes) memcpy(dst, src, bytes);
    return cudaSuccess;
}

cudaError_t cudaMemset(void *p, int value, size_t bytes) {
    if (!bytes) return cudaSuccess;
    if (!is_device(p, bytes)) return fail(cudaErrorInvalidValue);
    emu_count_op("cudaMemset");
    memset(p, value, bytes);
    emu_race_mark_init(p, bytes);
    return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t s) {
    (void)s;
    return cudaMemset(p, value, bytes);
}

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes) {
    *total_bytes = device_memory();
    *free_bytes = device_memory() - g_allocated;
    return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
    (void)s;
    return cudaSuccess;
}

/* ---------------------------------------------------------------- events: host clock */
struct emu_event {
    double ms;
    int recorded;
};

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned flags) {
    (void)flags;
    *e = calloc(1, sizeof **e);
    return *e ? cudaSuccess : fail(cudaErrorMemoryAllocation);
}

cudaError_t cudaEventCreate(cudaEvent_t *e) { return cudaEventCreateWithFlags(e, 0); }

cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
    (void)s;
    if (!e) return fail(cudaErrorInvalidResourceHandle);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    e->ms = (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
    e->recorded = 1;
    return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t e) {
    return e ? cudaSuccess : fail(cudaErrorInvalidResourceHandle);
}

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t from, cudaEvent_t to) {
    if (!from || !to || !from->recorded || !to->recorded) return fail(cudaErrorInvalidResourceHandle);
    *ms = (float)(to->ms - from->ms);
    return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t e) {
    free(e);
    return cudaSuccess;
}
