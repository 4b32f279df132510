/* profiler_cupti.c: the CUPTI Activity API side of the profiler (HAVE_CUDA builds only):
 * buffer callbacks that turn CONCURRENT_KERNEL (CUpti_ActivityKernel10 in CUDA 13) and
 * MEMORY2 (CUpti_ActivityMemory4) records into plain struct prof_record, collected in a
 * host array for prof_summarize. Activity buffers are host memory (aligned_alloc, 8-byte
 * aligned as CUPTI requires), so profiling does not change the device memory it measures.
 *
 * CUPTI's buffer callbacks are process-wide and may run on CUPTI's own thread: the
 * collected records sit in one static array behind a mutex, and one profiling session runs
 * at a time (prof_cupti_begin refuses a second). Records of CUPTI newer than the headers
 * may be larger structs; the fields read here (kind .. streamId) keep their offsets across
 * the record versions. */
#ifdef HAVE_CUDA
#include <cupti.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "experiments/profiler_internal.h"

/* `call` returns CUptiResult; on failure record it (file, line, call, CUPTI's string) and
 * return -1 from the caller. */
#define CUPTI_CHECK(call)                                                                          \
    do {                                                                                           \
        CUptiResult r_ = (call);                                                                   \
        if (r_ != CUPTI_SUCCESS) return cupti_fail(__FILE__, __LINE__, #call, r_);                 \
    } while (0)

#define CUPTI_BUFFER_BYTES ((size_t)8 << 20)
#define CUPTI_BUFFER_ALIGN 8

static int cupti_fail(const char *file, int line, const char *call, CUptiResult r) {
    const char *s = NULL;
    if (cuptiGetResultString(r, &s) != CUPTI_SUCCESS || !s) s = "unknown CUPTI error";
    return error_set("%s:%d: %s: %s (CUptiResult %d)", file, line, call, s, (int)r);
}

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct prof_record *g_recs = NULL; /* collected since prof_cupti_begin */
static size_t g_n = 0, g_cap = 0;
static char g_warn[256];        /* first problem met inside a callback */
static int g_registered = 0;    /* callbacks registered (once per process) */
static int g_active = 0;        /* a session is running */
static int g_memory_enabled = 0;

static void warn_once(const char *msg) { /* called with g_lock held */
    if (!g_warn[0]) snprintf(g_warn, sizeof g_warn, "%s", msg);
}

static void push(const struct prof_record *r) { /* g_lock held */
    if (g_n == g_cap) {
        size_t cap = g_cap ? 2 * g_cap : 4096;
        struct prof_record *p = realloc(g_recs, cap * sizeof *p);
        if (!p) {
            warn_once("CUPTI records lost: out of host memory collecting them");
            return;
        }
        g_recs = p;
        g_cap = cap;
    }
    g_recs[g_n++] = *r;
}

static void take(const CUpti_Activity *a) { /* g_lock held */
    struct prof_record r;
    memset(&r, 0, sizeof r);
    if (a->kind == CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) {
        const CUpti_ActivityKernel10 *k = (const CUpti_ActivityKernel10 *)a;
        r.kind = PROF_REC_KERNEL;
        r.device = k->deviceId;
        r.context = k->contextId;
        r.stream = k->streamId;
        r.start = k->start; /* 0 when CUPTI could not time it (prof_summarize counts it invalid) */
        r.end = k->end;
        r.name = k->name;
    } else if (a->kind == CUPTI_ACTIVITY_KIND_MEMORY2) {
        const CUpti_ActivityMemory4 *m = (const CUpti_ActivityMemory4 *)a;
        if (m->memoryOperationType == CUPTI_ACTIVITY_MEMORY_OPERATION_TYPE_ALLOCATION)
            r.kind = PROF_REC_ALLOC;
        else if (m->memoryOperationType == CUPTI_ACTIVITY_MEMORY_OPERATION_TYPE_RELEASE)
            r.kind = PROF_REC_FREE;
        else
            r.kind = 0; /* invalid: counted by prof_summarize */
        r.device = m->deviceId;
        r.context = m->contextId;
        r.stream = m->streamId;
        r.start = r.end = m->timestamp;
        r.address = m->address;
        r.bytes = m->bytes;
        r.device_memory = m->memoryKind == CUPTI_ACTIVITY_MEMORY_KIND_DEVICE;
    } else {
        return; /* other kinds are not enabled by us */
    }
    push(&r);
}

static void CUPTIAPI buffer_requested(uint8_t **buffer, size_t *size, size_t *max_records) {
    *max_records = 0; /* as many as fit */
    *buffer = aligned_alloc(CUPTI_BUFFER_ALIGN, CUPTI_BUFFER_BYTES);
    *size = *buffer ? CUPTI_BUFFER_BYTES : 0;
    if (!*buffer) { /* CUPTI drops records and counts them (cuptiActivityGetNumDroppedRecords) */
        pthread_mutex_lock(&g_lock);
        warn_once("CUPTI activity buffer allocation failed (records dropped)");
        pthread_mutex_unlock(&g_lock);
    }
}

static void CUPTIAPI buffer_completed(CUcontext ctx, uint32_t stream, uint8_t *buffer, size_t size,
                                      size_t valid) {
    (void)ctx;
    (void)stream;
    (void)size;
    pthread_mutex_lock(&g_lock);
    CUpti_Activity *rec = NULL;
    for (;;) {
        CUptiResult st = cuptiActivityGetNextRecord(buffer, valid, &rec);
        if (st == CUPTI_SUCCESS) {
            if (g_active) take(rec);
            continue;
        }
        if (st != CUPTI_ERROR_MAX_LIMIT_REACHED) {
            const char *s = NULL;
            if (cuptiGetResultString(st, &s) != CUPTI_SUCCESS || !s) s = "unknown";
            char msg[200];
            snprintf(msg, sizeof msg, "cuptiActivityGetNextRecord: %s (rest of a buffer skipped)", s);
            warn_once(msg);
        }
        break;
    }
    pthread_mutex_unlock(&g_lock);
    free(buffer);
}

int prof_cupti_timestamp(uint64_t *t) {
    uint64_t v = 0;
    CUPTI_CHECK(cuptiGetTimestamp(&v));
    *t = v;
    return 0;
}

int prof_cupti_begin(void) {
    if (g_active) return error_set("CUPTI: a profiling session is already running in this process");
    if (!g_registered) {
        CUPTI_CHECK(cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed));
        g_registered = 1;
    }
    pthread_mutex_lock(&g_lock);
    g_n = 0;
    g_warn[0] = 0;
    g_active = 1;
    pthread_mutex_unlock(&g_lock);
    CUptiResult r = cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL);
    /* reset the dropped counter (it counts since the last call); its result is not needed */
    size_t stale = 0;
    if (r == CUPTI_SUCCESS) (void)cuptiActivityGetNumDroppedRecords(NULL, 0, &stale);
    if (r != CUPTI_SUCCESS) {
        pthread_mutex_lock(&g_lock);
        g_active = 0;
        pthread_mutex_unlock(&g_lock);
        return cupti_fail(__FILE__, __LINE__, "cuptiActivityEnable(CONCURRENT_KERNEL)", r);
    }
    /* memory records are a bonus: without them the kernel times still stand */
    r = cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MEMORY2);
    g_memory_enabled = r == CUPTI_SUCCESS;
    if (!g_memory_enabled) {
        const char *s = NULL;
        if (cuptiGetResultString(r, &s) != CUPTI_SUCCESS || !s) s = "unknown";
        pthread_mutex_lock(&g_lock);
        char msg[200];
        snprintf(msg, sizeof msg, "cuptiActivityEnable(MEMORY2): %s: no memory records", s);
        warn_once(msg);
        pthread_mutex_unlock(&g_lock);
    }
    return 0;
}

int prof_cupti_end(struct prof_record **recs, size_t *n, uint64_t *dropped, char *warn, size_t cap) {
    *recs = NULL;
    *n = 0;
    *dropped = 0;
    if (!g_active) return error_set("CUPTI: no profiling session to end");
    int rc = 0;
    /* records are complete only once the work is done: sync, then force the flush */
    if (cudaprof_sync_device()) rc = -1;
    CUptiResult r = cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
    if (r != CUPTI_SUCCESS && !rc) rc = cupti_fail(__FILE__, __LINE__, "cuptiActivityFlushAll", r);
    r = cuptiActivityDisable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL);
    if (r != CUPTI_SUCCESS && !rc) rc = cupti_fail(__FILE__, __LINE__, "cuptiActivityDisable(CONCURRENT_KERNEL)", r);
    if (g_memory_enabled) {
        r = cuptiActivityDisable(CUPTI_ACTIVITY_KIND_MEMORY2);
        if (r != CUPTI_SUCCESS && !rc) rc = cupti_fail(__FILE__, __LINE__, "cuptiActivityDisable(MEMORY2)", r);
        g_memory_enabled = 0;
    }
    size_t d = 0;
    r = cuptiActivityGetNumDroppedRecords(NULL, 0, &d);
    if (r != CUPTI_SUCCESS && !rc) rc = cupti_fail(__FILE__, __LINE__, "cuptiActivityGetNumDroppedRecords", r);
    pthread_mutex_lock(&g_lock);
    g_active = 0;
    *recs = g_recs; /* hand the array over; the next session starts a new one */
    *n = g_n;
    g_recs = NULL;
    g_n = g_cap = 0;
    if (warn && cap) snprintf(warn, cap, "%s", g_warn);
    pthread_mutex_unlock(&g_lock);
    *dropped = d;
    return rc;
}
#else
/* keep the translation unit non-empty in builds without CUDA (-Werror -pedantic-safe) */
typedef int profiler_cupti_unused;
#endif
