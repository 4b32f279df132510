/* backend_registry.c: pick a backend by name ("cpu", "cuda", "auto"). */
#include <string.h>

#include "core/backend.h"
#include "core/error.h"

const struct backend *backend_by_name(const char *name) {
    if (!name || !strcmp(name, "auto")) {
#ifdef HAVE_CUDA
        if (cuda_available()) return &backend_cuda;
#endif
        return &backend_cpu;
    }
    if (!strcmp(name, "cpu")) return &backend_cpu;
    if (!strcmp(name, "cuda")) {
#ifdef HAVE_CUDA
        if (cuda_available()) return &backend_cuda;
        error_wrap("--device cuda: ");
        return NULL;
#else
        error_set("--device cuda: this build has no CUDA backend (rebuild with nvcc present, CUDA=1)");
        return NULL;
#endif
    }
    error_set("unknown device '%s' (expected cpu, cuda or auto)", name);
    return NULL;
}
