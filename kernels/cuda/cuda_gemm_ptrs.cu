/* cuda_gemm_ptrs.cu: the device pointer arrays of gemm_2level (cublasSgemmBatched and
 * cublasGemmBatchedEx take one pointer per matrix), kept from call to call.
 *
 * A 2-level batch is `outer` groups of `inner` matrices: matrix (o, i) of A starts at
 * a + o * osa + i * sa, and so for B and C. A kernel writes the three arrays. Training
 * repeats the same calls step after step (the activation pool hands out the same addresses
 * once its block has reached its high water), so the arrays are kept in a ring of device
 * memory with a host-side table keyed by the call's pointers, strides and counts: a call
 * seen before, whose arrays the ring has not overwritten since, launches nothing. Every
 * kernel and GEMM runs on cuda_stream(), so a region overwritten for a new call is written
 * after the GEMMs that read its old arrays. Calls whose arrays do not fit the ring, and
 * every call with COMPACTER_GEMM_PTR_CACHE=0, build them in the ops' scratch as before.
 * The ring is allocated by the first call (a first step) and freed by cuda_shutdown. */
#include <cuda_runtime.h>
#include <stdint.h>
#include <string.h>

#include "core/env.h"
#include "core/error.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_check.h"

#define RING_BYTES ((size_t)16 << 20)
#define RING_PTRS (RING_BYTES / sizeof(void *))
#define SLOTS 4096 /* a power of two */
#define PROBES 8

struct key {
    const float *a, *b;
    float *c;
    int64_t sa, osa, sb, osb, sc, osc;
    int64_t inner, outer;
};

struct slot {
    struct key k;
    uint64_t start; /* position of its arrays in the ring's write sequence */
    int used;
};

static void **g_ring = NULL;
static uint64_t g_written = 0; /* pointers written to the ring so far, wraps included */
static struct slot g_slots[SLOTS];
static int g_enabled = -1; /* -1: COMPACTER_GEMM_PTR_CACHE not read yet */
static uint64_t g_hits, g_misses;

static __global__ void gemm_2level_ptrs_kernel(const float **pa, const float **pb, float **pc, const float *a,
                                               const float *b, float *c, int64_t sa, int64_t osa, int64_t sb,
                                               int64_t osb, int64_t sc, int64_t osc, int inner, int total) {
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= total) return;
    int64_t o = t / inner, i = t % inner;
    pa[t] = a + o * osa + i * sa;
    pb[t] = b + o * osb + i * sb;
    pc[t] = c + o * osc + i * sc;
}

static int build(void **arrays, const struct key *k, int total) {
    const float **pa = (const float **)arrays, **pb = pa + total;
    float **pc = (float **)(pb + total);
    gemm_2level_ptrs_kernel<<<(unsigned)((total + 255) / 256), 256, 0, cuda_stream()>>>(
        pa, pb, pc, k->a, k->b, k->c, k->sa, k->osa, k->sb, k->osb, k->sc, k->osc, (int)k->inner, total);
    CUDA_CHECK_LAUNCH("gemm_2level pointers");
    return 0;
}

static uint64_t key_hash(const struct key *k) {
    const unsigned char *p = (const unsigned char *)k;
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < sizeof *k; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* a slot's arrays are intact while the ring has not come round to them again */
static int intact(const struct slot *s) { return g_written - s->start <= RING_PTRS; }

extern "C" int cuda_gemm_ptrs(void ***arrays, const float *a, int64_t sa, int64_t osa, const float *b, int64_t sb,
                              int64_t osb, float *c, int64_t sc, int64_t osc, int inner, int outer) {
    int total = inner * outer; /* the caller checked it fits an int */
    size_t need = (size_t)total * 3;
    struct key k;
    memset(&k, 0, sizeof k); /* the padding too: the hash and the comparison read every byte */
    k.a = a, k.b = b, k.c = c, k.sa = sa, k.osa = osa, k.sb = sb, k.osb = osb, k.sc = sc, k.osc = osc;
    k.inner = inner, k.outer = outer;
    if (g_enabled < 0) g_enabled = !env_off("COMPACTER_GEMM_PTR_CACHE");
    if (!g_enabled || need > RING_PTRS) {
        size_t cap = 0;
        void *scratch = cuda_scratch(&cap);
        if (!scratch) return -1;
        if (need * sizeof(void *) > cap)
            return error_set("gemm_2level (cuda): batch %d needs %zu bytes of pointers, scratch has %zu", total,
                             need * sizeof(void *), cap);
        *arrays = (void **)scratch;
        return build(*arrays, &k, total);
    }
    if (!g_ring) {
        void *p = NULL;
        CUDA_CHECK(cudaMalloc(&p, RING_BYTES));
        g_ring = (void **)p;
    }
    uint64_t h = key_hash(&k);
    struct slot *victim = NULL;
    for (int j = 0; j < PROBES; j++) {
        struct slot *s = &g_slots[(h + (uint64_t)j) & (SLOTS - 1)];
        if (s->used && !memcmp(&s->k, &k, sizeof k) && intact(s)) {
            g_hits++;
            *arrays = g_ring + s->start % RING_PTRS;
            return 0;
        }
        if (!victim && (!s->used || !intact(s))) victim = s;
    }
    if (!victim) victim = &g_slots[h & (SLOTS - 1)];
    /* the arrays stay contiguous: one that would cross the ring's end starts the next lap */
    uint64_t at = g_written % RING_PTRS;
    if (at + need > RING_PTRS) g_written += RING_PTRS - at;
    victim->k = k;
    victim->start = g_written;
    victim->used = 1;
    g_written += need;
    g_misses++;
    *arrays = g_ring + victim->start % RING_PTRS;
    return build(*arrays, &k, total);
}

extern "C" size_t cuda_gemm_ptrs_bytes(void) { return g_ring ? RING_BYTES : 0; }

extern "C" void cuda_gemm_ptrs_stats(uint64_t *hits, uint64_t *misses) {
    *hits = g_hits;
    *misses = g_misses;
}

extern "C" int cuda_gemm_ptrs_release(void) {
    cudaError_t e = g_ring ? cudaFree(g_ring) : cudaSuccess;
    g_ring = NULL;
    memset(g_slots, 0, sizeof g_slots);
    g_written = 0;
    g_hits = g_misses = 0;
    g_enabled = -1;
    return e == cudaSuccess ? 0 : error_set("%s:%d: cudaFree: %s", __FILE__, __LINE__, cudaGetErrorString(e));
}
