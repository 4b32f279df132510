/* cupti_unavailable.c: the CUDA emulator's stand-in for experiments/profiler_cupti.c. CUPTI
 * needs a GPU; under the emulator it cannot start, so the profiler takes its documented
 * fallback (CUDA events, with a warning in the results), which the emulated tests exercise. */
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "experiments/profiler_internal.h"

int prof_cupti_begin(void) { return error_set("CUPTI is not available under the CUDA emulator (tests/cudaemu)"); }

int prof_cupti_timestamp(uint64_t *t) {
    *t = 0;
    return error_set("CUPTI is not available under the CUDA emulator (tests/cudaemu)");
}

int prof_cupti_end(struct prof_record **recs, size_t *n, uint64_t *dropped, char *warn, size_t cap) {
    (void)warn;
    (void)cap;
    *recs = NULL;
    *n = 0;
    *dropped = 0;
    return error_set("CUPTI is not available under the CUDA emulator (tests/cudaemu)");
}
