/* profiler.c: phases, modes (cupti, cuda-events, cpu-timer), the record bookkeeping
 * (prof_summarize) and the memory accounting. See experiments/profiler.h for the design. */
#include "experiments/profiler.h"
#ifdef HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/exec.h"
#include "core/optimizer.h"
#include "core/t5_model.h"
#include "core/trainable.h"
#include "experiments/profiler_internal.h"
#include "methods/method.h"

enum { PROF_MODE_CPU = 0, PROF_MODE_EVENTS = 1, PROF_MODE_CUPTI = 2 };

static const char *const phase_names[PHASE_COUNT] = {"other", "forward", "backward", "optimizer",
                                                     "eval"};

const char *prof_phase_name(int phase) {
    if (phase == PHASE_NONE) return "none";
    return phase >= 0 && phase < PHASE_COUNT ? phase_names[phase] : "?";
}

/* ---------------------------------------------------------------- bookkeeping */

/* index of the last boundary with t <= ts, or -1 */
static long find_boundary(const struct prof_boundary *b, size_t nb, uint64_t ts) {
    size_t lo = 0, hi = nb; /* first index with t > ts in [lo, hi] */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b[mid].t <= ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long)lo - 1;
}

struct mem_ev {
    uint64_t t;
    size_t seq; /* input order: breaks timestamp ties */
    const struct prof_record *r;
};

static int mem_ev_cmp(const void *pa, const void *pb) {
    const struct mem_ev *a = pa, *b = pb;
    if (a->t != b->t) return a->t < b->t ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* live allocations: open addressing on the address, with tombstones */
struct live_map {
    uint64_t *addr;
    uint64_t *bytes;
    unsigned char *state; /* 0 empty, 1 used, 2 deleted */
    size_t cap;           /* power of two */
};

static size_t hash_addr(uint64_t a, size_t cap) {
    a ^= a >> 33;
    a *= 0xff51afd7ed558ccdULL;
    a ^= a >> 33;
    return (size_t)a & (cap - 1);
}

/* slot holding addr, or -1 */
static long live_find(const struct live_map *m, uint64_t addr) {
    size_t i = hash_addr(addr, m->cap);
    for (size_t k = 0; k < m->cap; k++, i = (i + 1) & (m->cap - 1)) {
        if (m->state[i] == 0) return -1;
        if (m->state[i] == 1 && m->addr[i] == addr) return (long)i;
    }
    return -1;
}

static void live_insert(struct live_map *m, uint64_t addr, uint64_t bytes) {
    /* the caller has checked addr is absent; the table holds at most n_alloc entries in a
     * capacity >= 2 n_alloc, so a free slot exists */
    size_t i = hash_addr(addr, m->cap);
    while (m->state[i] == 1) i = (i + 1) & (m->cap - 1);
    m->state[i] = 1;
    m->addr[i] = addr;
    m->bytes[i] = bytes;
}

struct named_ms {
    const char *name;
    double ms;
};

static int by_name(const void *a, const void *b) {
    const char *x = ((const struct named_ms *)a)->name, *y = ((const struct named_ms *)b)->name;
    if (!x || !y) return (x != NULL) - (y != NULL);
    return strcmp(x, y);
}

static int by_ms_desc(const void *a, const void *b) {
    double x = ((const struct prof_kernel_stat *)a)->ms, y = ((const struct prof_kernel_stat *)b)->ms;
    return (x < y) - (x > y);
}

/* the per-name totals of the kernels attributed to a phase (k of them in km) */
static int top_kernels(struct named_ms *km, size_t k, struct prof_summary *out) {
    qsort(km, k, sizeof *km, by_name);
    struct prof_kernel_stat *all = malloc((k ? k : 1) * sizeof *all);
    if (!all) return error_set("prof_summarize: out of memory (%zu kernels)", k);
    size_t n = 0;
    for (size_t i = 0; i < k; i++) {
        if (!n || by_name(&km[i], &km[i - 1])) all[n++] = (struct prof_kernel_stat){km[i].name, 0, 0};
        all[n - 1].ms += km[i].ms;
        all[n - 1].count++;
    }
    qsort(all, n, sizeof *all, by_ms_desc);
    out->distinct_kernels = (int64_t)n;
    out->n_top = n < PROF_TOP_KERNELS ? (int)n : PROF_TOP_KERNELS;
    memcpy(out->top, all, (size_t)out->n_top * sizeof *all);
    free(all);
    return 0;
}

int prof_summarize(const struct prof_record *r, size_t n, const struct prof_boundary *b, size_t nb,
                   int device_filter, uint64_t dropped, struct prof_summary *out) {
    if (!out || !b || nb == 0 || (n && !r))
        return error_set("prof_summarize: bad arguments (need at least one boundary)");
    memset(out, 0, sizeof *out);
    out->dropped = dropped;
    for (size_t i = 0; i < nb; i++) {
        if (i && b[i].t < b[i - 1].t)
            return error_set("prof_summarize: boundary %zu (t=%llu) is before boundary %zu (t=%llu)", i,
                             (unsigned long long)b[i].t, i - 1, (unsigned long long)b[i - 1].t);
        if (b[i].phase != PHASE_NONE && (b[i].phase < 0 || b[i].phase >= PHASE_COUNT))
            return error_set("prof_summarize: boundary %zu has phase %d", i, b[i].phase);
    }
    size_t n_mem = 0, n_alloc = 0;
    for (size_t i = 0; i < n; i++)
        if (r[i].kind == PROF_REC_ALLOC || r[i].kind == PROF_REC_FREE) n_mem++;
    struct mem_ev *ev = n_mem ? malloc(n_mem * sizeof *ev) : NULL;
    if (n_mem && !ev) return error_set("prof_summarize: out of memory (%zu records)", n_mem);
    struct named_ms *km = malloc((n - n_mem + 1) * sizeof *km);
    size_t n_km = 0;
    if (!km) {
        free(ev);
        return error_set("prof_summarize: out of memory (%zu records)", n);
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const struct prof_record *x = &r[i];
        if (x->kind != PROF_REC_KERNEL && x->kind != PROF_REC_ALLOC && x->kind != PROF_REC_FREE) {
            out->records_invalid++;
            continue;
        }
        if (device_filter >= 0 && x->device != (uint32_t)device_filter) {
            out->records_other_device++;
            continue;
        }
        if (x->kind != PROF_REC_KERNEL) {
            if (x->start == 0) {
                out->records_invalid++;
                continue;
            }
            /* allocations of pinned host, managed... memory are not device memory; frees are
             * matched by address whatever their kind says (an unmatched non-device free is
             * ignored) */
            if (!x->device_memory && x->kind == PROF_REC_ALLOC) continue;
            ev[m].t = x->start;
            ev[m].seq = i;
            ev[m].r = x;
            m++;
            if (x->kind == PROF_REC_ALLOC) n_alloc++;
            continue;
        }
        /* kernel: CUPTI writes 0 timestamps when it could not time one */
        if (x->start == 0 || x->end < x->start) {
            out->records_invalid++;
            continue;
        }
        long k = find_boundary(b, nb, x->start);
        if (k < 0 || b[k].phase == PHASE_NONE) {
            out->kernels_outside++;
            continue;
        }
        double ms = (double)(x->end - x->start) * 1e-6;
        out->phase_gpu_ms[b[k].phase] += ms;
        out->phase_kernels[b[k].phase]++;
        out->gpu_ms += ms;
        out->kernels++;
        km[n_km++] = (struct named_ms){x->name, ms};
        if ((size_t)k + 1 < nb && x->end > b[k + 1].t) out->kernels_straddling++;
    }
    int trc = top_kernels(km, n_km, out);
    free(km);
    if (trc) {
        free(ev);
        return -1;
    }

    /* device memory: replay allocs and frees in timestamp order */
    if (m) {
        qsort(ev, m, sizeof *ev, mem_ev_cmp);
        struct live_map lm = {0};
        lm.cap = 16;
        while (lm.cap < 2 * n_alloc + 2) lm.cap *= 2;
        lm.addr = malloc(lm.cap * sizeof *lm.addr);
        lm.bytes = malloc(lm.cap * sizeof *lm.bytes);
        lm.state = calloc(lm.cap, 1);
        if (!lm.addr || !lm.bytes || !lm.state) {
            free(lm.addr);
            free(lm.bytes);
            free(lm.state);
            free(ev);
            return error_set("prof_summarize: out of memory (%zu allocations)", n_alloc);
        }
        uint64_t live = 0;
        for (size_t i = 0; i < m; i++) {
            const struct prof_record *x = ev[i].r;
            long s = live_find(&lm, x->address);
            if (x->kind == PROF_REC_ALLOC) {
                out->mem_allocs++;
                if (s >= 0) { /* the free of the earlier block was not seen: replace it */
                    live -= lm.bytes[s];
                    lm.bytes[s] = x->bytes;
                } else {
                    live_insert(&lm, x->address, x->bytes);
                }
                live += x->bytes;
                if (live > out->mem_peak_live) out->mem_peak_live = live;
            } else {
                if (s < 0) { /* allocated before recording began (or not device memory) */
                    if (x->device_memory) {
                        out->mem_frees++;
                        out->mem_unmatched_frees++;
                    }
                    continue;
                }
                out->mem_frees++;
                live -= lm.bytes[s];
                lm.state[s] = 2;
            }
        }
        out->mem_live_end = live;
        free(lm.addr);
        free(lm.bytes);
        free(lm.state);
    }
    free(ev);
    return 0;
}

/* ---------------------------------------------------------------- the profiler */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void warn_append(char *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn_append(char *w, const char *fmt, ...) {
    size_t len = strlen(w);
    if (len + 3 >= PROF_WARNING_MAX) return;
    if (len) {
        memcpy(w + len, "; ", 3);
        len += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w + len, PROF_WARNING_MAX - len, fmt, ap);
    va_end(ap);
}

static int is_cuda_backend(const struct backend *be) {
    return be && be->name && !strcmp(be->name, "cuda");
}

int profiler_init(struct profiler *p, const struct backend *be, const char *mode) {
    memset(p, 0, sizeof *p);
    p->be = be;
    p->sync_phases = 1;
    if (!mode) mode = "auto";
    int cuda_ok = 0;
#ifdef HAVE_CUDA
    cuda_ok = is_cuda_backend(be) && cuda_available();
    if (!cuda_ok) error_clear();
#endif
    if (!strcmp(mode, "auto")) {
        p->mode = cuda_ok ? PROF_MODE_CUPTI : PROF_MODE_CPU;
    } else if (!strcmp(mode, "cpu-timer")) {
        p->mode = PROF_MODE_CPU;
        if (is_cuda_backend(be))
            warn_append(p->warning, "cpu-timer mode with the CUDA backend: phase times include "
                                    "only the host's launch time unless the backend syncs");
    } else if (!strcmp(mode, "cupti") || !strcmp(mode, "cuda-events")) {
        if (!cuda_ok)
            return error_set("profiler mode %s needs the CUDA backend and a device (backend %s%s)", mode,
                             be ? be->name : "none",
#ifdef HAVE_CUDA
                             ""
#else
                             ", and this build has no CUDA"
#endif
            );
        p->mode = !strcmp(mode, "cupti") ? PROF_MODE_CUPTI : PROF_MODE_EVENTS;
    } else {
        return error_set("profiler mode '%s': expected auto, cupti, cuda-events or cpu-timer", mode);
    }
    return 0;
}

const char *profiler_source(const struct profiler *p) {
    return p->mode == PROF_MODE_CUPTI ? "cupti" : p->mode == PROF_MODE_EVENTS ? "cuda-events" : "cpu-timer";
}

static int reserve(struct profiler *p, size_t need) {
    if (need <= p->cap_bounds) return 0;
    size_t cap = p->cap_bounds ? p->cap_bounds : 64;
    while (cap < need) cap *= 2;
    struct prof_boundary *b = realloc(p->bounds, cap * sizeof *b);
    if (!b) return error_set("profiler: out of memory (%zu phase marks)", cap);
    p->bounds = b;
    double *w = realloc(p->wall, cap * sizeof *w);
    if (!w) return error_set("profiler: out of memory (%zu phase marks)", cap);
    p->wall = w;
    void **e = realloc(p->events, cap * sizeof *e);
    if (!e) return error_set("profiler: out of memory (%zu phase marks)", cap);
    for (size_t i = p->cap_bounds; i < cap; i++) e[i] = NULL;
    p->events = e;
    p->cap_bounds = cap;
    return 0;
}

/* Append a boundary: the phase `phase` starts now. */
static int mark(struct profiler *p, int phase) {
    if (reserve(p, p->n_bounds + 1)) return -1;
    size_t i = p->n_bounds;
    uint64_t t = 0;
    switch (p->mode) {
#ifdef HAVE_CUDA
    case PROF_MODE_CUPTI:
        if (p->sync_phases && cudaprof_sync_stream()) return -1;
        if (prof_cupti_timestamp(&t)) return -1;
        break;
    case PROF_MODE_EVENTS:
        if (i >= p->n_events_created) {
            if (cudaprof_event_create(&p->events[i])) return -1;
            p->n_events_created = i + 1;
        }
        if (cudaprof_event_record(p->events[i])) return -1;
        t = i;
        break;
#endif
    default:
        t = i; /* cpu-timer: the wall clock below is the measurement */
        break;
    }
    p->wall[i] = now_s();
    p->bounds[i].t = t;
    p->bounds[i].phase = phase;
    p->n_bounds = i + 1;
    return 0;
}

int profiler_start(struct profiler *p) {
    if (p->running) return error_set("profiler_start: already running");
    p->n_bounds = 0;
    p->marks = 0;
#ifdef HAVE_CUDA
    if (p->mode == PROF_MODE_CUPTI && prof_cupti_begin()) {
        warn_append(p->warning, "CUPTI unavailable (%s): timing phases with CUDA events", error_message());
        error_clear();
        p->mode = PROF_MODE_EVENTS;
    }
    /* earlier work is not charged to the first phase */
    if (p->mode != PROF_MODE_CPU && cudaprof_sync_stream()) return -1;
#endif
    if (mark(p, PHASE_OTHER)) return -1;
    p->running = 1;
    return 0;
}

int profiler_phase(struct profiler *p, int phase) {
    if (!p->running) return error_set("profiler_phase: profiler not started");
    if (phase < 0 || phase >= PHASE_COUNT) return error_set("profiler_phase: bad phase %d", phase);
    p->marks++;
    return mark(p, phase);
}

int profiler_stop(struct profiler *p, struct profiler_report *r) {
    if (!p->running) return error_set("profiler_stop: profiler not started");
    memset(r, 0, sizeof *r);
    int rc = mark(p, PHASE_NONE);
    p->running = 0;
    r->source = profiler_source(p);
    snprintf(r->warning, sizeof r->warning, "%s", p->warning);
    r->marks = p->marks;
    r->kernels = -1;
    for (int k = 0; k < PHASE_COUNT; k++) r->phase_kernels[k] = -1;
    size_t nb = p->n_bounds;
    if (nb >= 2) r->wall_ms = (p->wall[nb - 1] - p->wall[0]) * 1e3;
    for (size_t i = 0; i + 1 < nb; i++)
        if (p->bounds[i].phase != PHASE_NONE)
            r->phase_wall_ms[p->bounds[i].phase] += (p->wall[i + 1] - p->wall[i]) * 1e3;
    if (p->mode == PROF_MODE_CPU) memcpy(r->phase_ms, r->phase_wall_ms, sizeof r->phase_ms);
#ifdef HAVE_CUDA
    if (p->mode == PROF_MODE_EVENTS && !rc) {
        rc = cudaprof_event_sync(p->events[nb - 1]);
        for (size_t i = 0; !rc && i + 1 < nb; i++) {
            float ms = 0;
            rc = cudaprof_event_elapsed_ms(p->events[i], p->events[i + 1], &ms);
            if (!rc && p->bounds[i].phase != PHASE_NONE) r->phase_ms[p->bounds[i].phase] += ms;
        }
    }
    if (p->mode == PROF_MODE_CUPTI) {
        /* end the CUPTI session even when the last mark failed */
        struct prof_record *recs = NULL;
        size_t n = 0;
        uint64_t dropped = 0;
        char cw[256] = "";
        int erc = prof_cupti_end(&recs, &n, &dropped, cw, sizeof cw);
        if (erc && !rc) rc = -1;
        int dev = -1;
        if (!rc && cudaprof_device(&dev, NULL, 0)) rc = -1;
        if (!rc) rc = prof_summarize(recs, n, p->bounds, nb, dev, dropped, &r->cupti);
        free(recs);
        if (!rc) {
            memcpy(r->phase_ms, r->cupti.phase_gpu_ms, sizeof r->phase_ms);
            memcpy(r->phase_kernels, r->cupti.phase_kernels, sizeof r->phase_kernels);
            r->kernels = r->cupti.kernels;
            if (r->cupti.dropped)
                warn_append(r->warning, "CUPTI dropped %llu records: kernel sums are low",
                            (unsigned long long)r->cupti.dropped);
            if (r->cupti.records_invalid)
                warn_append(r->warning, "%lld records without valid timestamps were skipped",
                            (long long)r->cupti.records_invalid);
            if (r->cupti.kernels_outside)
                warn_append(r->warning, "%lld kernels ran outside the profiled phases",
                            (long long)r->cupti.kernels_outside);
        }
        if (cw[0]) warn_append(r->warning, "%s", cw);
    }
#endif
    for (int k = 0; k < PHASE_COUNT; k++) r->total_ms += r->phase_ms[k];
    return rc;
}

void profiler_free(struct profiler *p) {
#ifdef HAVE_CUDA
    if (p->running && p->mode == PROF_MODE_CUPTI) {
        struct prof_record *recs = NULL;
        size_t n = 0;
        uint64_t d = 0;
        if (!prof_cupti_end(&recs, &n, &d, NULL, 0)) free(recs);
    }
    for (size_t i = 0; i < p->n_events_created; i++) cudaprof_event_destroy(p->events[i]);
#endif
    free(p->bounds);
    free(p->wall);
    free(p->events);
    memset(p, 0, sizeof *p);
}

void profiler_report_print(const struct profiler_report *r, void *fp) {
    FILE *f = fp ? fp : stdout;
    fprintf(f, "profile (%s): wall %.3f ms, phases %.3f ms", r->source, r->wall_ms, r->total_ms);
    if (r->kernels >= 0) fprintf(f, " in %lld kernels", (long long)r->kernels);
    fprintf(f, "\n");
    for (int k = 0; k < PHASE_COUNT; k++) {
        if (r->phase_ms[k] == 0 && r->phase_wall_ms[k] == 0 && r->phase_kernels[k] <= 0) continue;
        fprintf(f, "  %-9s %10.3f ms  (wall %10.3f ms)", prof_phase_name(k), r->phase_ms[k], r->phase_wall_ms[k]);
        if (r->phase_kernels[k] >= 0) fprintf(f, "  %lld kernels", (long long)r->phase_kernels[k]);
        fprintf(f, "\n");
    }
    if (!strcmp(r->source, "cupti") && r->cupti.mem_allocs)
        fprintf(f, "  device memory (CUPTI MEMORY2): peak live %.1f MiB over %lld allocs, %lld frees\n",
                (double)r->cupti.mem_peak_live / (1 << 20), (long long)r->cupti.mem_allocs,
                (long long)r->cupti.mem_frees);
    if (!strcmp(r->source, "cupti") && r->cupti.n_top) {
        fprintf(f, "  kernels by time (%lld distinct):\n", (long long)r->cupti.distinct_kernels);
        for (int i = 0; i < r->cupti.n_top; i++) {
            const struct prof_kernel_stat *k = &r->cupti.top[i];
            char nm[72];
            prof_kernel_short_name(k->name, nm, sizeof nm);
            fprintf(f, "    %5.1f%% %10.3f ms %8lld x  %s\n", r->total_ms > 0 ? 100 * k->ms / r->total_ms : 0.0, k->ms,
                    (long long)k->count, nm);
        }
    }
    if (r->warning[0]) fprintf(f, "  warning: %s\n", r->warning);
}

void prof_kernel_short_name(const char *mangled, char *buf, size_t cap) {
    if (!cap) return;
    const char *s = mangled ? mangled : "(unnamed)";
    size_t len = strlen(s);
    if (s[0] == '_' && s[1] == 'Z') { /* Itanium: _Z<len><identifier>...: keep the identifier */
        const char *p = s + 2;
        if (*p == 'N') p++; /* nested name: the first component is enough here */
        size_t k = 0;
        while (*p >= '0' && *p <= '9') k = 10 * k + (size_t)(*p++ - '0');
        if (k && k <= strlen(p)) {
            s = p;
            len = k;
        }
    }
    if (len >= cap) len = cap - 1;
    memcpy(buf, s, len);
    buf[len] = 0;
}

/* ---------------------------------------------------------------- memory */

int prof_device_memory(size_t *used, size_t *total) {
    *used = *total = 0;
#ifdef HAVE_CUDA
    size_t f = 0, t = 0;
    if (cudaprof_mem_info(&f, &t)) return -1;
    *used = t - f;
    *total = t;
#endif
    return 0;
}

int prof_device_name(char *buf, size_t cap) {
    if (!cap) return 0;
#ifdef HAVE_CUDA
    if (cuda_available()) return cudaprof_device(NULL, buf, cap);
    error_clear();
#endif
    snprintf(buf, cap, "none");
    return 0;
}

int prof_memory_fresh(const struct backend *be) {
#ifdef HAVE_CUDA
    if (is_cuda_backend(be) && cuda_available()) return cudaprof_release_caches();
#endif
    (void)be;
    return 0;
}

int prof_memory_account(struct prof_memory *out, const struct backend *be, const struct t5_model *m,
                        const struct method_instance *mi, const struct trainable *tr,
                        const struct optimizer *o, const struct exec *x) {
    memset(out, 0, sizeof *out);
    if (m) out->params = t5_model_param_bytes(m);
    if (mi && mi->allocated) out->method_params = (size_t)mi->n_elements * sizeof(float);
    if (tr && tr->grad) out->grads = (size_t)tr->numel * sizeof(float) + (size_t)tr->n * sizeof(float);
    if (o && o->m && o->tr) out->optimizer = 2 * (size_t)o->tr->numel * sizeof(float);
    /* live bytes, not the pool's extent: the allocator's fragmentation (best fit leaves
     * 1-10% of the extent in holes on the tiny preset, up to 18% for the adapters, whose
     * forward frees more between the tensors backward keeps) would otherwise count against
     * the methods; torch.cuda.max_memory_allocated, which the paper's figures would come
     * from, counts live bytes too. The extent is reported beside it. */
    if (x) {
        out->activations = exec_peak_bytes(x);
        out->activations_extent = exec_extent_bytes(x);
    }
#ifdef HAVE_CUDA
    if (is_cuda_backend(be)) {
        out->workspace = cuda_workspace_bytes();
        if (cudaprof_scratch_bytes(&out->scratch)) return -1;
        if (prof_device_memory(&out->device_used, &out->device_total)) return -1;
    }
#endif
    if (x) out->scratch += exec_ones_bytes(x);
    out->accounted = out->params + out->method_params + out->grads + out->optimizer + out->activations +
                     out->workspace + out->scratch;
    return 0;
}
