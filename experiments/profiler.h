/* profiler.h: GPU time per training phase, kernel counts and device memory around
 * training steps (Table 3, efficiency), in one of three modes:
 *
 *   "cupti"       CUPTI Activity API: CONCURRENT_KERNEL records (never the serialising
 *                 KERNEL kind) summed per phase, MEMORY2 alloc/free records (peak of live
 *                 bytes), dropped-record count. Activity buffers are host memory
 *                 (aligned_alloc), so they do not show in the device memory figures.
 *   "cuda-events" the fallback when CUPTI cannot start (insufficient privileges, another
 *                 profiler attached, any error): a CUDA event recorded on cuda_stream()
 *                 at every phase mark; a phase's time is the GPU timeline between its two
 *                 events (kernel time plus any GPU idle gap); no kernel count, no memory
 *                 records. The report's `warning` says why CUPTI was not used.
 *   "cpu-timer"   builds without CUDA, no device, or the CPU backend: wall clock per phase.
 *
 * Phase attribution (cupti): profiler_phase() synchronises cuda_stream()
 * (cudaStreamSynchronize) and then takes a CUPTI timestamp (cuptiGetTimestamp, the clock of
 * the activity records). Since every op of the backend runs on that one stream, every kernel
 * of the previous phase has ended before the boundary and every kernel of the next phase
 * starts after it: attributing a kernel by its start timestamp to the phase interval holding
 * it is then exact. A kernel from another stream that crosses a boundary is counted whole
 * in the phase where it started (and counted in `kernels_straddling`). Overhead: one stream
 * sync per mark (the GPU idles for the first launch of the next phase, ~5-20 us per mark;
 * 3-4 marks per step of tens to hundreds of ms) plus CUPTI's per-launch tracing cost.
 * With sync_phases = 0 no sync is done and attribution is by start time only (kernels
 * launched in one phase may then run after the next mark and be charged to it).
 *
 * The bookkeeping is a pure function over plain records (prof_summarize), fed from CUPTI
 * on a GPU and from hand-made streams in tests/test_profiler.c.
 *
 * Usage around steps:
 *   struct profiler p;
 *   profiler_init(&p, be, "auto");
 *   profiler_start(&p);
 *   for each step: profiler_phase(&p, PHASE_FORWARD); forward...
 *                  profiler_phase(&p, PHASE_BACKWARD); backward...
 *                  profiler_phase(&p, PHASE_OPTIMIZER); optimizer step...
 *   profiler_stop(&p, &report);   (start/stop may repeat; each stop reports its interval)
 *   profiler_free(&p);
 */
#ifndef COMPACTER_PROFILER_H
#define COMPACTER_PROFILER_H

#include <stddef.h>
#include <stdint.h>

#include "core/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

enum prof_phase {
    PHASE_OTHER = 0, /* from profiler_start to the first mark, and anything unmarked */
    PHASE_FORWARD,
    PHASE_BACKWARD,
    PHASE_OPTIMIZER,
    PHASE_EVAL,
    PHASE_COUNT,
    PHASE_NONE = -1 /* no phase: before start / after stop (boundary of a gap) */
};
const char *prof_phase_name(int phase); /* "forward", ... */

/* ---- the bookkeeping: plain records -> sums (pure, CPU-testable) ---- */

enum prof_rec_kind { PROF_REC_KERNEL = 1, PROF_REC_ALLOC, PROF_REC_FREE };

/* One activity record, converted from CUPTI (or made by hand in tests). Timestamps in ns
 * in one clock domain (CUPTI's); a kernel spans [start, end); alloc/free use start only. */
struct prof_record {
    int kind;           /* enum prof_rec_kind */
    uint32_t device;    /* device ordinal */
    uint32_t context;   /* CUPTI context id (informational) */
    uint32_t stream;    /* CUPTI stream id (informational) */
    uint64_t start, end;
    uint64_t address;   /* alloc/free */
    uint64_t bytes;     /* alloc/free (a free's own size is not trusted: the matching alloc's is used) */
    int device_memory;  /* alloc/free: 1 for device memory, 0 for pinned/managed/other (not counted) */
    const char *name;   /* kernel: its (mangled) name, owned by CUPTI and shared by every record of
                         * that kernel; NULL when unknown */
};

/* Time per kernel name, the largest first (cupti only). */
#define PROF_TOP_KERNELS 15
struct prof_kernel_stat {
    const char *name; /* as in the records (NULL: unnamed) */
    double ms;
    int64_t count;
};

/* A phase boundary: from `t` on, phase `phase` runs (PHASE_NONE: nothing is profiled). */
struct prof_boundary {
    uint64_t t;
    int phase;
};

struct prof_summary {
    double phase_gpu_ms[PHASE_COUNT]; /* sum of kernel durations per phase */
    int64_t phase_kernels[PHASE_COUNT];
    double gpu_ms;                    /* over all phases */
    int64_t kernels;                  /* attributed to a phase */
    int64_t kernels_outside;          /* started before the first boundary or in a PHASE_NONE gap */
    int64_t kernels_straddling;       /* counted in a phase but ending after its interval */
    int64_t records_other_device;     /* skipped: device != the filter (kernels and memory) */
    int64_t records_invalid;          /* zero or reversed timestamps (CUPTI: no timing), unknown kind */
    uint64_t dropped;                 /* records CUPTI dropped (passed in) */
    /* device memory from alloc/free records, in timestamp order */
    uint64_t mem_peak_live;           /* peak of live bytes allocated during the records */
    uint64_t mem_live_end;            /* still live after the last record */
    int64_t mem_allocs, mem_frees;
    int64_t mem_unmatched_frees;      /* frees of addresses allocated before recording began */
    /* kernels attributed to a phase, summed per name; the PROF_TOP_KERNELS largest */
    struct prof_kernel_stat top[PROF_TOP_KERNELS];
    int n_top;
    int64_t distinct_kernels;         /* distinct names among them */
};

/* Summarise n records against nb boundaries (sorted by t; nb >= 1). Records may come in any
 * order. device_filter < 0 keeps every device. dropped is copied into the summary. Returns
 * 0, or -1 + error (bad arguments, boundaries not sorted, out of memory). */
int prof_summarize(const struct prof_record *r, size_t n, const struct prof_boundary *b, size_t nb,
                   int device_filter, uint64_t dropped, struct prof_summary *out);

/* ---- the profiler ---- */

#define PROF_WARNING_MAX 512

struct profiler_report {
    const char *source;               /* "cupti" | "cuda-events" | "cpu-timer" */
    char warning[PROF_WARNING_MAX];   /* "" when none: why CUPTI was not used, dropped records... */
    double wall_ms;                   /* host wall clock from start to stop */
    double phase_wall_ms[PHASE_COUNT]; /* host wall clock per phase (every mode) */
    /* per phase: cupti: kernel time; cuda-events: GPU timeline between marks;
     * cpu-timer: the wall clock again */
    double phase_ms[PHASE_COUNT];
    double total_ms;                  /* sum of phase_ms */
    int64_t phase_kernels[PHASE_COUNT]; /* cupti only; -1 otherwise */
    int64_t kernels;                    /* cupti only; -1 otherwise */
    int marks;                          /* profiler_phase calls */
    struct prof_summary cupti;          /* cupti: the full summary (memory, dropped, ...) */
};

struct profiler {
    const struct backend *be;
    int mode;        /* internal: PROF_MODE_* of profiler.c */
    int running;
    int sync_phases; /* cupti: sync the stream at every mark (default 1) */
    char warning[PROF_WARNING_MAX];
    struct prof_boundary *bounds; /* CUPTI or event-index timestamps */
    size_t n_bounds, cap_bounds;
    double *wall;                 /* host seconds at each boundary */
    void **events;                /* cuda-events: one per boundary (reused across runs) */
    size_t n_events_created;
    int marks;
};

/* mode: "auto" (cupti when be is the CUDA backend and a device is present, falling back to
 * cuda-events; cpu-timer otherwise), "cupti", "cuda-events" or "cpu-timer". be may be NULL
 * (cpu-timer). Asking for cupti or cuda-events without a usable device is an error. */
int profiler_init(struct profiler *p, const struct backend *be, const char *mode);
int profiler_start(struct profiler *p);
int profiler_phase(struct profiler *p, int phase);
int profiler_stop(struct profiler *p, struct profiler_report *r);
void profiler_free(struct profiler *p);
/* The mode in use ("cupti", "cuda-events", "cpu-timer"); may change from cupti to
 * cuda-events at profiler_start when CUPTI cannot start. */
const char *profiler_source(const struct profiler *p);
/* One line per phase to f (FILE *), for logs and benches. */
void profiler_report_print(const struct profiler_report *r, void *f);
/* A kernel name for people: the identifier of an Itanium-mangled name (_Z12rmsnorm_fwdPKf...
 * gives rmsnorm_fwd), other names as they are; cut to cap - 1 characters. */
void prof_kernel_short_name(const char *mangled, char *buf, size_t cap);

/* ---- memory accounting ---- */

/* Size of the cuBLAS workspace the CUDA backend allocates once (kernels/cuda/cuda_backend.cu,
 * CUBLAS_WORKSPACE_BYTES; keep in step). */

struct t5_model;
struct trainable;
struct optimizer;
struct exec;
struct method_instance;

/* Peak device memory as the program accounts for it, and what the driver says. */
struct prof_memory {
    size_t params;        /* model parameters */
    size_t method_params; /* the method's own parameters */
    size_t grads;         /* trainable gradient buffer + per-tensor norms */
    size_t optimizer;     /* AdamW m and v */
    size_t activations;   /* activations: the most bytes live at once (exec_peak_bytes) */
    size_t activations_extent; /* the pool's extent high water (not in accounted: the block
                                * the device holds; minus activations = fragmentation) */
    size_t workspace;     /* cuBLAS workspace (CUDA backend only) */
    size_t scratch;       /* the ops' scratch buffer and gemm_2level's pointer ring, once allocated
                           * (CUDA backend), and the exec's ones column */
    size_t accounted;     /* the sum of the above */
    /* cudaMemGetInfo: total - free (includes the CUDA context, cuBLAS's own allocations and
     * the allocator's rounding); 0 without a device */
    size_t device_used, device_total;
};

/* Fill *out from the objects (any may be NULL). The device figures need the CUDA backend;
 * call after the first step so the activation pool has reached its high water. 0 or -1 + error. */
int prof_memory_account(struct prof_memory *out, const struct backend *be, const struct t5_model *m,
                        const struct method_instance *mi, const struct trainable *tr,
                        const struct optimizer *o, const struct exec *x);

/* Before a run whose memory is measured: frees what the backend keeps from run to run for
 * speed (the CUDA backend's gemm_2level pointer ring, 16 MiB), so that the run's figure holds
 * what the run itself allocates and not what an earlier run in the same process did (it is
 * allocated again when the run needs it). 0 or -1 + error. */
int prof_memory_fresh(const struct backend *be);

/* cudaMemGetInfo total - free and total (0, 0 without CUDA). 0 or -1 + error. */
int prof_device_memory(size_t *used, size_t *total);
/* The device's name ("NVIDIA H100 80GB HBM3"), or "cpu"/"none" without one. */
int prof_device_name(char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
