/* cudaemu_race_kernels.cu: kernels for tests/test_cudaemu_racecheck.c, each with or without a
 * data race by construction, to show that the emulator's race detector
 * (tests/cudaemu/racecheck.c, `make emu-race`) stops the racy ones and passes the others.
 * Compiles with nvcc too (CUDA builds link it into that test, which SKIPs there); linked only
 * into test_cudaemu_racecheck. Prototypes in tests/cudaemu_race.h. */
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/backend.h"
#include "core/error.h"
#include "kernels/cuda/cuda_check.h"
#include "tests/cudaemu_race.h"

#define FULL_MASK 0xffffffffu

/* out[0] = what thread `reader` read from the shared word thread 0 wrote (value 7), with the
 * case's synchronisation between them (RACE_SYNC_*), in one block of 64 threads */
static __global__ void shared_handoff_kernel(int *out, int reader, int sync) {
    __shared__ int s[2];
    int t = (int)threadIdx.x;
    if (t == 0) s[0] = 7;
    if (sync == RACE_SYNC_BARRIER) __syncthreads();
    if (sync == RACE_SYNC_WARP) __syncwarp();
    if (sync == RACE_SYNC_SHUFFLE) (void)__shfl_sync(FULL_MASK, t, 0);
    if (t == reader) out[0] = s[0];
}

/* every block's thread 0 writes out[0] = its block index */
static __global__ void same_word_kernel(int *out) {
    if (threadIdx.x == 0) out[0] = (int)blockIdx.x;
}

/* block b writes out[b] = b + 1, then reads its neighbour's out[(b + 1) % nb] into
 * out[nb + b]: another block's write, with nothing ordering the blocks */
static __global__ void neighbour_kernel(int *out) {
    int b = (int)blockIdx.x, nb = (int)gridDim.x;
    if (threadIdx.x == 0) {
        out[b] = b + 1;
        out[nb + b] = out[(b + 1) % nb];
    }
}

/* block 0's thread 0 reads data[5] into out[0]; block 1's thread 0 writes data[5] = 9 */
static __global__ void read_then_write_kernel(int *out, int *data) {
    if (threadIdx.x != 0) return;
    if (blockIdx.x == 0) out[0] = data[5];
    if (blockIdx.x == 1) data[5] = 9;
}

/* threads 0..2 of block 0 read data[0] into out[t]; thread 0 of block 1 writes data[0] */
static __global__ void readers_then_write_kernel(int *out, int *data) {
    int t = (int)threadIdx.x;
    if (blockIdx.x == 0 && t < 3) out[t] = data[0];
    if (blockIdx.x == 1 && t == 0) data[0] = 5;
}

/* thread i < n reads in[i] into out[i]: the caller makes `in` one int short */
static __global__ void past_end_kernel(int *out, const int *in, int n) {
    int i = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (i < n) out[i] = in[i];
}

/* a struct passed by value whose pointer is a host address: a GPU faults on it */
struct race_holder {
    const int *p;
};
static __global__ void host_in_struct_kernel(int *out, struct race_holder h) {
    if (threadIdx.x == 0) out[0] = h.p[0];
}

/* race-free: thread i of the grid writes out[i] = in[i % 4] * 2 + i, reads it back and adds
 * 1; every thread reads the shared input in[0..3]; 2-byte halves h[i] written by adjacent
 * threads (each thread its own 2-byte element); all threads add 1 to counter[0] atomically */
static __global__ void clean_kernel(int *out, const int *in, uint16_t *h, int *counter, int n) {
    int i = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (i >= n) return;
    out[i] = in[i % 4] * 2 + i;
    out[i] = out[i] + 1;
    h[i] = (uint16_t)i;
    atomicAdd(counter, 1);
}

/* race-free across launches: launch 1's block 0 writes out[0] = 11; launch 2's block 1 reads it
 * into out[1] (launches on one stream are ordered) */
static __global__ void first_launch_kernel(int *out) {
    if (blockIdx.x == 0 && threadIdx.x == 0) out[0] = 11;
}
static __global__ void second_launch_kernel(int *out) {
    if (blockIdx.x == 1 && threadIdx.x == 0) out[1] = out[0];
}

/* a shared-memory tree reduction of 256 ones with a barrier between levels, then the same
 * buffer reused for a second sum after a barrier: race-free; out[0..1] = 256, 512 */
static __global__ void reduce_twice_kernel(int *out) {
    __shared__ int s[256];
    int t = (int)threadIdx.x;
    for (int round = 1; round <= 2; round++) {
        s[t] = round;
        __syncthreads();
        for (int half = 128; half > 0; half >>= 1) {
            if (t < half) s[t] += s[t + half];
            __syncthreads();
        }
        if (t == 0) out[round - 1] = s[0];
        __syncthreads(); /* everyone has read s[0] before the next round writes s[] */
    }
}

/* past_end_kernel over a fresh allocation of `have` ints whose first `written` are zeroed,
 * reading `n` of them */
static int read_ints(int *out, int have, int written, int n) {
    int *in = NULL;
    CUDA_CHECK(cudaMalloc((void **)&in, (size_t)have * sizeof(int)));
    CUDA_CHECK(cudaMemset(in, 0, (size_t)written * sizeof(int)));
    past_end_kernel<<<1, (n + 31) / 32 * 32, 0, cuda_stream()>>>(out, in, n);
    CUDA_CHECK_LAUNCH("past_end_kernel");
    CUDA_CHECK(cudaFree(in));
    return 0;
}

extern "C" int race_run(int which, int *result, int n_result) {
    enum { WORDS = 4096 };
    int *d = NULL;
    uint16_t *h = NULL;
    CUDA_CHECK(cudaMalloc((void **)&d, 2 * WORDS * sizeof(int)));
    CUDA_CHECK(cudaMalloc((void **)&h, WORDS * sizeof(uint16_t)));
    CUDA_CHECK(cudaMemset(d, 0, 2 * WORDS * sizeof(int)));
    int *out = d, *data = d + WORDS;
    switch (which) {
    case RACE_SHARED_NO_SYNC: shared_handoff_kernel<<<1, 64, 0, cuda_stream()>>>(out, 40, RACE_SYNC_NONE); break;
    case RACE_SHARED_BARRIER: shared_handoff_kernel<<<1, 64, 0, cuda_stream()>>>(out, 40, RACE_SYNC_BARRIER); break;
    case RACE_WARP_NO_SYNC: shared_handoff_kernel<<<1, 64, 0, cuda_stream()>>>(out, 1, RACE_SYNC_NONE); break;
    case RACE_WARP_SYNCWARP: shared_handoff_kernel<<<1, 64, 0, cuda_stream()>>>(out, 1, RACE_SYNC_WARP); break;
    case RACE_WARP_SHUFFLE: shared_handoff_kernel<<<1, 64, 0, cuda_stream()>>>(out, 1, RACE_SYNC_SHUFFLE); break;
    case RACE_BLOCKS_SAME_WORD: same_word_kernel<<<4, 32, 0, cuda_stream()>>>(out); break;
    case RACE_BLOCKS_NEIGHBOUR: neighbour_kernel<<<4, 32, 0, cuda_stream()>>>(out); break;
    case RACE_BLOCKS_READ_WRITE: read_then_write_kernel<<<2, 32, 0, cuda_stream()>>>(out, data); break;
    case RACE_BLOCKS_READERS_WRITE: readers_then_write_kernel<<<2, 32, 0, cuda_stream()>>>(out, data); break;
    case RACE_PAST_END: if (read_ints(out, 64, 64, 65)) return -1; break;
    case RACE_HOST_IN_STRUCT: {
        static int *host;
        host = (int *)calloc(4, sizeof(int)); /* heap memory, never freed: the run aborts */
        struct race_holder hold = {host};
        host_in_struct_kernel<<<1, 32, 0, cuda_stream()>>>(out, hold);
        break;
    }
    case RACE_UNINIT_READ: if (read_ints(out, 64, 32, 64)) return -1; break;
    case RACE_UNINIT_GEMM: { /* out[0..4) = A [2x2] x B [2x2]: A zeros, B never written */
        float *b = NULL;
        CUDA_CHECK(cudaMalloc((void **)&b, 4 * sizeof(float)));
        int rc = backend_cuda.gemm(0, 0, 2, 2, 2, 1.0f, (const float *)data, 2, 0, b, 2, 0, 0.0f, (float *)out, 2, 0, 1);
        CUDA_CHECK(cudaFree(b));
        if (rc) return -1;
        break;
    }
    case RACE_CLEAN: {
        const int in[4] = {3, 5, 7, 9};
        CUDA_CHECK(cudaMemcpy(data, in, sizeof in, cudaMemcpyHostToDevice));
        clean_kernel<<<8, 256, 0, cuda_stream()>>>(out, data, h, data + 8, 2000);
        break;
    }
    case RACE_TWO_LAUNCHES:
        first_launch_kernel<<<2, 32, 0, cuda_stream()>>>(out);
        CUDA_CHECK_LAUNCH("first_launch_kernel");
        second_launch_kernel<<<2, 32, 0, cuda_stream()>>>(out);
        break;
    case RACE_REDUCE_TWICE: reduce_twice_kernel<<<1, 256, 0, cuda_stream()>>>(out); break;
    default: CUDA_CHECK(cudaFree(d)); CUDA_CHECK(cudaFree(h)); error_set("race_run: no case %d", which); return -1;
    }
    CUDA_CHECK_LAUNCH("race case kernel");
    CUDA_CHECK(cudaDeviceSynchronize());
    if (which == RACE_CLEAN) {
        /* result: out[0..half), then the 2-byte halves h[0..half), then the counter */
        int half = (n_result - 1) / 2;
        CUDA_CHECK(cudaMemcpy(result, out, (size_t)half * sizeof(int), cudaMemcpyDeviceToHost));
        uint16_t hh[WORDS];
        CUDA_CHECK(cudaMemcpy(hh, h, (size_t)half * sizeof(uint16_t), cudaMemcpyDeviceToHost));
        for (int i = 0; i < half; i++) result[half + i] = hh[i];
        CUDA_CHECK(cudaMemcpy(result + 2 * half, data + 8, sizeof(int), cudaMemcpyDeviceToHost));
    } else {
        CUDA_CHECK(cudaMemcpy(result, out, (size_t)n_result * sizeof(int), cudaMemcpyDeviceToHost));
    }
    CUDA_CHECK(cudaFree(d));
    CUDA_CHECK(cudaFree(h));
    return 0;
}
