/* profiler_internal.h: what profiler.c uses from its CUDA pieces (only in HAVE_CUDA builds):
 * kernels/cuda/cuda_events.cu (CUDA runtime: syncs, events, memory info) and
 * experiments/profiler_cupti.c (the CUPTI Activity API). Every function returns 0 or -1
 * with error_message() set (file, line, the call and the CUDA/CUPTI error string). */
#ifndef COMPACTER_PROFILER_INTERNAL_H
#define COMPACTER_PROFILER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "experiments/profiler.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef HAVE_CUDA
/* cuda_events.cu */
int cudaprof_sync_stream(void); /* cudaStreamSynchronize(cuda_stream()) */
int cudaprof_sync_device(void); /* cudaDeviceSynchronize() */
int cudaprof_mem_info(size_t *free_bytes, size_t *total_bytes);
int cudaprof_device(int *ordinal, char *name, size_t cap);
int cudaprof_scratch_bytes(size_t *bytes); /* the ops' scratch and gemm_2level's pointer ring */
int cudaprof_release_caches(void);         /* frees gemm_2level's pointer ring (prof_memory_fresh) */
/* events are cudaEvent_t, handled as void * from C */
int cudaprof_event_create(void **ev);
int cudaprof_event_record(void *ev); /* on cuda_stream() */
int cudaprof_event_sync(void *ev);
int cudaprof_event_elapsed_ms(void *from, void *to, float *ms);
void cudaprof_event_destroy(void *ev);

/* profiler_cupti.c. begin: register the buffer callbacks (once per process), enable
 * CONCURRENT_KERNEL and MEMORY2 and clear the collected records; -1 + error when CUPTI
 * cannot start (the caller falls back to events). end: cudaDeviceSynchronize, force-flush,
 * disable, read the dropped count; the records collected since begin are handed over
 * (*recs malloc'd, the caller frees). warn receives problems met inside the callbacks. */
int prof_cupti_begin(void);
int prof_cupti_timestamp(uint64_t *t);
int prof_cupti_end(struct prof_record **recs, size_t *n, uint64_t *dropped, char *warn, size_t cap);
#endif

#ifdef __cplusplus
}
#endif
#endif
