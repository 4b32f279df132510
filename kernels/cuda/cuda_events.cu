/* cuda_events.cu: the CUDA runtime calls of the profiler (experiments/profiler.c), as C
 * functions declared in experiments/profiler_internal.h: stream and device syncs, CUDA
 * events on cuda_stream() (the cuda-events fallback mode), memory info and the device's
 * name. Every call is checked (CUDA_CHECK: file, line, call, error string). */
#include <cuda_runtime.h>
#include <string.h>

#include "core/error.h"
#include "experiments/profiler_internal.h"
#include "kernels/cuda/cuda_check.h"

extern "C" int cudaprof_sync_stream(void) {
    CUDA_CHECK(cudaStreamSynchronize(cuda_stream()));
    return 0;
}

extern "C" int cudaprof_sync_device(void) {
    CUDA_CHECK(cudaDeviceSynchronize());
    return 0;
}

extern "C" int cudaprof_mem_info(size_t *free_bytes, size_t *total_bytes) {
    size_t f = 0, t = 0;
    CUDA_CHECK(cudaMemGetInfo(&f, &t));
    *free_bytes = f;
    *total_bytes = t;
    return 0;
}

extern "C" int cudaprof_device(int *ordinal, char *name, size_t cap) {
    int dev = 0;
    CUDA_CHECK(cudaGetDevice(&dev));
    struct cudaDeviceProp p;
    CUDA_CHECK(cudaGetDeviceProperties(&p, dev));
    if (ordinal) *ordinal = dev;
    if (name && cap) {
        strncpy(name, p.name, cap - 1);
        name[cap - 1] = 0;
    }
    return 0;
}

extern "C" int cudaprof_scratch_bytes(size_t *bytes) {
    if (!cuda_scratch(bytes)) return -1;
    *bytes += cuda_gemm_ptrs_bytes(); /* gemm_2level's pointer ring, once allocated */
    return 0;
}

extern "C" int cudaprof_release_caches(void) { return cuda_gemm_ptrs_release(); }

extern "C" int cudaprof_event_create(void **ev) {
    cudaEvent_t e = NULL;
    CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDefault));
    *ev = (void *)e;
    return 0;
}

extern "C" int cudaprof_event_record(void *ev) {
    CUDA_CHECK(cudaEventRecord((cudaEvent_t)ev, cuda_stream()));
    return 0;
}

extern "C" int cudaprof_event_sync(void *ev) {
    CUDA_CHECK(cudaEventSynchronize((cudaEvent_t)ev));
    return 0;
}

extern "C" int cudaprof_event_elapsed_ms(void *from, void *to, float *ms) {
    float v = 0;
    CUDA_CHECK(cudaEventElapsedTime(&v, (cudaEvent_t)from, (cudaEvent_t)to));
    *ms = v;
    return 0;
}

extern "C" void cudaprof_event_destroy(void *ev) {
    if (!ev) return;
    cudaError_t e = cudaEventDestroy((cudaEvent_t)ev);
    if (e != cudaSuccess)
        error_set("%s:%d: cudaEventDestroy: %s (%s)", __FILE__, __LINE__, cudaGetErrorString(e),
                  cudaGetErrorName(e));
}
