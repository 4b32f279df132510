/* cuda_semantics_kernels.cu: small kernels for tests/test_cuda_semantics.c, a self-test of the
 * CUDA emulator (tests/cudaemu) that compiles with real nvcc too, so that the same test on a
 * GPU shows the emulator agrees with the hardware. Each extern "C" wrapper launches one kernel
 * over a device buffer and copies the results back into host arrays; the test computes what
 * they must hold from the CUDA Programming Guide's definitions, never from these kernels.
 * Linked only into test_cuda_semantics (Makefile), never into libcompacter.a; prototypes in
 * tests/cuda_semantics.h. Every wrapper returns 0, or -1 with error_set (CUDA_CHECK). */
#include <cuda_runtime.h>
#include <stddef.h>
#include <string.h>

#include "core/error.h"
#include "kernels/cuda/cuda_check.h"
#include "tests/cuda_semantics.h"

#define FULL_MASK 0xffffffffu

/* ---------------------------------------------------------------- device name */

extern "C" int sem_device_name(char *name, size_t cap) {
    int dev = 0;
    CUDA_CHECK(cudaGetDevice(&dev));
    struct cudaDeviceProp p;
    CUDA_CHECK(cudaGetDeviceProperties(&p, dev));
    strncpy(name, p.name, cap - 1);
    name[cap - 1] = 0;
    return 0;
}

/* ---------------------------------------------------------------- shared-memory reduction */

#define SEM_MAX_THREADS 1024

/* One block per chunk of blockDim.x elements: a tree reduction in shared memory with a
 * barrier between levels (blockDim.x a power of two); sums[b] = the chunk's sum. And
 * reversed[i] = the chunk read backwards through shared memory: thread t reads what thread
 * blockDim.x - 1 - t wrote before the barrier (0 past n). */
static __global__ void block_reduce_kernel(int *sums, int *reversed, const int *in, int n) {
    __shared__ int s[SEM_MAX_THREADS];
    __shared__ int r[SEM_MAX_THREADS];
    int t = (int)threadIdx.x, nt = (int)blockDim.x;
    int i = (int)blockIdx.x * nt + t;
    int v = i < n ? in[i] : 0;
    s[t] = v;
    r[t] = v;
    __syncthreads();
    if (i < n) reversed[i] = r[nt - 1 - t];
    for (int half = nt / 2; half > 0; half /= 2) {
        if (t < half) s[t] += s[t + half];
        __syncthreads();
    }
    if (t == 0) sums[blockIdx.x] = s[0];
}

/* in[n] -> sums[ceil(n / threads)], reversed[n] (threads: a power of two <= 1024) */
extern "C" int sem_block_reduce(int *sums, int *reversed, const int *in, int n, int threads) {
    int blocks = (n + threads - 1) / threads;
    int *d_in = NULL, *d_sums = NULL, *d_rev = NULL;
    CUDA_CHECK(cudaMalloc((void **)&d_in, (size_t)n * sizeof(int)));
    CUDA_CHECK(cudaMalloc((void **)&d_sums, (size_t)blocks * sizeof(int)));
    CUDA_CHECK(cudaMalloc((void **)&d_rev, (size_t)n * sizeof(int)));
    CUDA_CHECK(cudaMemcpy(d_in, in, (size_t)n * sizeof(int), cudaMemcpyHostToDevice));
    block_reduce_kernel<<<blocks, threads, 0, cuda_stream()>>>(d_sums, d_rev, d_in, n);
    CUDA_CHECK_LAUNCH("block_reduce_kernel");
    CUDA_CHECK(cudaMemcpy(sums, d_sums, (size_t)blocks * sizeof(int), cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(reversed, d_rev, (size_t)n * sizeof(int), cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaFree(d_in));
    CUDA_CHECK(cudaFree(d_sums));
    CUDA_CHECK(cudaFree(d_rev));
    return 0;
}

/* ---------------------------------------------------------------- one shuffle, every lane */

enum { SEM_SHFL_IDX = 0, SEM_SHFL_XOR = 1, SEM_SHFL_DOWN = 2, SEM_SHFL_UP = 3 };

/* Thread t holds 1000 + 7t (int), the same times 0.5 (float) and plus 0.25 (double); each is
 * shuffled once with the same mode and argument (for __shfl_sync the source lane is
 * arg + step * lane: a broadcast for step 0, a gather otherwise). */
static __global__ void shuffle_kernel(int *oi, float *of, double *od, int mode, int arg, int step,
                                      int width) {
    int t = (int)threadIdx.x, lane = t % 32;
    int vi = 1000 + 7 * t;
    float vf = 0.5f * (float)vi;
    double vd = (double)vi + 0.25;
    int ri = 0;
    float rf = 0;
    double rd = 0;
    switch (mode) {
    case SEM_SHFL_IDX:
        ri = __shfl_sync(FULL_MASK, vi, arg + step * lane, width);
        rf = __shfl_sync(FULL_MASK, vf, arg + step * lane, width);
        rd = __shfl_sync(FULL_MASK, vd, arg + step * lane, width);
        break;
    case SEM_SHFL_XOR:
        ri = __shfl_xor_sync(FULL_MASK, vi, arg, width);
        rf = __shfl_xor_sync(FULL_MASK, vf, arg, width);
        rd = __shfl_xor_sync(FULL_MASK, vd, arg, width);
        break;
    case SEM_SHFL_DOWN:
        ri = __shfl_down_sync(FULL_MASK, vi, (unsigned)arg, width);
        rf = __shfl_down_sync(FULL_MASK, vf, (unsigned)arg, width);
        rd = __shfl_down_sync(FULL_MASK, vd, (unsigned)arg, width);
        break;
    default:
        ri = __shfl_up_sync(FULL_MASK, vi, (unsigned)arg, width);
        rf = __shfl_up_sync(FULL_MASK, vf, (unsigned)arg, width);
        rd = __shfl_up_sync(FULL_MASK, vd, (unsigned)arg, width);
        break;
    }
    oi[t] = ri;
    of[t] = rf;
    od[t] = rd;
}

/* threads (a multiple of 32) threads of one block -> oi/of/od[threads] */
extern "C" int sem_shuffle(int *oi, float *of, double *od, int threads, int mode, int arg,
                           int step, int width) {
    int *d_i = NULL;
    float *d_f = NULL;
    double *d_d = NULL;
    CUDA_CHECK(cudaMalloc((void **)&d_i, (size_t)threads * sizeof(int)));
    CUDA_CHECK(cudaMalloc((void **)&d_f, (size_t)threads * sizeof(float)));
    CUDA_CHECK(cudaMalloc((void **)&d_d, (size_t)threads * sizeof(double)));
    shuffle_kernel<<<1, threads, 0, cuda_stream()>>>(d_i, d_f, d_d, mode, arg, step, width);
    CUDA_CHECK_LAUNCH("shuffle_kernel");
    CUDA_CHECK(cudaMemcpy(oi, d_i, (size_t)threads * sizeof(int), cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(of, d_f, (size_t)threads * sizeof(float), cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(od, d_d, (size_t)threads * sizeof(double), cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaFree(d_i));
    CUDA_CHECK(cudaFree(d_f));
    CUDA_CHECK(cudaFree(d_d));
    return 0;
}

/* ---------------------------------------------------------------- warp reductions, scans */

/* Thread t holds in[t]. xor_sum: the butterfly (__shfl_xor_sync, masks 16..1) leaves every
 * lane with its warp's sum; down: the shift-down reduction (offsets 16..1), every lane's final
 * value (lane 0's is the sum, the others partial sums that include lanes' own values where
 * the source was past the end); scan8: the shift-up inclusive scan within segments of 8
 * lanes (width 8, offsets 1, 2, 4). */
static __global__ void warp_reduce_kernel(int *xor_sum, int *down, int *scan8, const int *in) {
    int t = (int)threadIdx.x, lane = t % 32;
    int a = in[t], b = a, c = a;
    for (int m = 16; m > 0; m /= 2) a += __shfl_xor_sync(FULL_MASK, a, m);
    for (int d = 16; d > 0; d /= 2) b += __shfl_down_sync(FULL_MASK, b, (unsigned)d);
    for (int d = 1; d < 8; d *= 2) {
        int y = __shfl_up_sync(FULL_MASK, c, (unsigned)d, 8);
        if (lane % 8 >= d) c += y;
    }
    xor_sum[t] = a;
    down[t] = b;
    scan8[t] = c;
}

extern "C" int sem_warp_reduce(int *xor_sum, int *down, int *scan8, const int *in, int threads) {
    size_t bytes = (size_t)threads * sizeof(int);
    int *d_in = NULL, *d_x = NULL, *d_d = NULL, *d_s = NULL;
    CUDA_CHECK(cudaMalloc((void **)&d_in, bytes));
    CUDA_CHECK(cudaMalloc((void **)&d_x, bytes));
    CUDA_CHECK(cudaMalloc((void **)&d_d, bytes));
    CUDA_CHECK(cudaMalloc((void **)&d_s, bytes));
    CUDA_CHECK(cudaMemcpy(d_in, in, bytes, cudaMemcpyHostToDevice));
    warp_reduce_kernel<<<1, threads, 0, cuda_stream()>>>(d_x, d_d, d_s, d_in);
    CUDA_CHECK_LAUNCH("warp_reduce_kernel");
    CUDA_CHECK(cudaMemcpy(xor_sum, d_x, bytes, cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(down, d_d, bytes, cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(scan8, d_s, bytes, cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaFree(d_in));
    CUDA_CHECK(cudaFree(d_x));
    CUDA_CHECK(cudaFree(d_d));
    CUDA_CHECK(cudaFree(d_s));
    return 0;
}

/* ---------------------------------------------------------------- lanes of a 2D/3D block */

/* For the thread of linear id t = x + y Dx + z Dx Dy (the Programming Guide's thread ID),
 * out[5t..5t+4] = its lane's view: the t of lane 0 of its warp (__shfl_sync from lane 0), the
 * t of lane ^ 9 (__shfl_xor_sync), and the ballots of threadIdx.x == 0, of threadIdx.y odd and
 * of threadIdx.z odd. */
static __global__ void lanes_kernel(unsigned *out) {
    unsigned t = threadIdx.x + threadIdx.y * blockDim.x + threadIdx.z * blockDim.x * blockDim.y;
    unsigned *o = out + 5 * t;
    o[0] = __shfl_sync(FULL_MASK, t, 0);
    o[1] = __shfl_xor_sync(FULL_MASK, t, 9);
    o[2] = __ballot_sync(FULL_MASK, threadIdx.x == 0);
    o[3] = __ballot_sync(FULL_MASK, threadIdx.y & 1);
    o[4] = __ballot_sync(FULL_MASK, threadIdx.z & 1);
}

/* one block of bx x by x bz threads (a multiple of 32) -> out[5 bx by bz] */
extern "C" int sem_lanes(unsigned *out, unsigned bx, unsigned by, unsigned bz) {
    size_t bytes = (size_t)5 * bx * by * bz * sizeof(unsigned);
    unsigned *d = NULL;
    CUDA_CHECK(cudaMalloc((void **)&d, bytes));
    dim3 block(bx, by, bz);
    lanes_kernel<<<1, block, 0, cuda_stream()>>>(d);
    CUDA_CHECK_LAUNCH("lanes_kernel");
    CUDA_CHECK(cudaMemcpy(out, d, bytes, cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaFree(d));
    return 0;
}

/* ---------------------------------------------------------------- ballot */

/* thread t votes pred[t]; out[t] = its warp's ballot */
static __global__ void ballot_kernel(unsigned *out, const int *pred) {
    int t = (int)threadIdx.x;
    out[t] = __ballot_sync(FULL_MASK, pred[t]);
}

extern "C" int sem_ballot(unsigned *out, const int *pred, int threads) {
    int *d_p = NULL;
    unsigned *d_o = NULL;
    CUDA_CHECK(cudaMalloc((void **)&d_p, (size_t)threads * sizeof(int)));
    CUDA_CHECK(cudaMalloc((void **)&d_o, (size_t)threads * sizeof(unsigned)));
    CUDA_CHECK(cudaMemcpy(d_p, pred, (size_t)threads * sizeof(int), cudaMemcpyHostToDevice));
    ballot_kernel<<<1, threads, 0, cuda_stream()>>>(d_o, d_p);
    CUDA_CHECK_LAUNCH("ballot_kernel");
    CUDA_CHECK(cudaMemcpy(out, d_o, (size_t)threads * sizeof(unsigned), cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaFree(d_p));
    CUDA_CHECK(cudaFree(d_o));
    return 0;
}

/* ---------------------------------------------------------------- 2D/3D grid, grid stride */

/* A grid-stride loop over n elements with the blocks of a 3D grid numbered x-fastest:
 * element i is written by the thread g = (linear block id) blockDim.x + threadIdx.x with
 * g = i mod (total threads): owner[i] = g, visits[i] counts the writes (atomicAdd), and
 * coords[6g..6g+5] = blockIdx.x, .y, .z, gridDim.x, .y, .z as that thread saw them. */
static __global__ void grid_stride_kernel(int *owner, int *visits, unsigned *coords, int n) {
    unsigned b = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    unsigned g = b * blockDim.x + threadIdx.x;
    unsigned stride = blockDim.x * gridDim.x * gridDim.y * gridDim.z;
    unsigned *c = coords + 6 * g;
    c[0] = blockIdx.x;
    c[1] = blockIdx.y;
    c[2] = blockIdx.z;
    c[3] = gridDim.x;
    c[4] = gridDim.y;
    c[5] = gridDim.z;
    for (unsigned i = g; i < (unsigned)n; i += stride) {
        owner[i] = (int)g;
        atomicAdd(&visits[i], 1);
    }
}

/* grid gx x gy x gz of 1D blocks of `threads` -> owner[n], visits[n], coords[6 * all threads] */
extern "C" int sem_grid_stride(int *owner, int *visits, unsigned *coords, int n, unsigned gx,
                               unsigned gy, unsigned gz, unsigned threads) {
    size_t all = (size_t)gx * gy * gz * threads;
    int *d_o = NULL, *d_v = NULL;
    unsigned *d_c = NULL;
    CUDA_CHECK(cudaMalloc((void **)&d_o, (size_t)n * sizeof(int)));
    CUDA_CHECK(cudaMalloc((void **)&d_v, (size_t)n * sizeof(int)));
    CUDA_CHECK(cudaMalloc((void **)&d_c, 6 * all * sizeof(unsigned)));
    CUDA_CHECK(cudaMemset(d_v, 0, (size_t)n * sizeof(int)));
    dim3 grid(gx, gy, gz);
    grid_stride_kernel<<<grid, threads, 0, cuda_stream()>>>(d_o, d_v, d_c, n);
    CUDA_CHECK_LAUNCH("grid_stride_kernel");
    CUDA_CHECK(cudaMemcpy(owner, d_o, (size_t)n * sizeof(int), cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(visits, d_v, (size_t)n * sizeof(int), cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(coords, d_c, 6 * all * sizeof(unsigned), cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaFree(d_o));
    CUDA_CHECK(cudaFree(d_v));
    CUDA_CHECK(cudaFree(d_c));
    return 0;
}

/* ---------------------------------------------------------------- atomics */

#define SEM_BINS 7
#define SEM_SLOTS 10

/* Element i (one thread each, n of them over several blocks): hist[i % 7] += 1 and
 * ticket[i] = the old value of a shared counter (atomicAdd: tickets are 0..n-1, each once);
 * claim[i % 10] = i for one i per slot (atomicCAS from -1: won[i] = 1 for that one); cas_sum
 * += i + 1 through an atomicCAS retry loop (an add built from CAS). */
static __global__ void atomics_kernel(int *hist, int *counter, int *ticket, int *claim, int *won,
                                      int *cas_sum, int n) {
    int i = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (i >= n) return;
    atomicAdd(&hist[i % SEM_BINS], 1);
    ticket[i] = atomicAdd(counter, 1);
    won[i] = atomicCAS(&claim[i % SEM_SLOTS], -1, i) == -1;
    int old = *cas_sum, assumed;
    do {
        assumed = old;
        old = atomicCAS(cas_sum, assumed, assumed + i + 1);
    } while (old != assumed);
}

/* hist[7], *counter, ticket[n], claim[10], won[n], *cas_sum */
extern "C" int sem_atomics(int *hist, int *counter, int *ticket, int *claim, int *won,
                           int *cas_sum, int n) {
    /* one allocation: hist, counter, cas_sum, claim, then ticket[n], won[n] */
    size_t head = SEM_BINS + 2 + SEM_SLOTS, words = head + 2 * (size_t)n;
    int *d = NULL;
    CUDA_CHECK(cudaMalloc((void **)&d, words * sizeof(int)));
    CUDA_CHECK(cudaMemset(d, 0, (SEM_BINS + 2) * sizeof(int)));
    CUDA_CHECK(cudaMemset(d + SEM_BINS + 2, 0xff, SEM_SLOTS * sizeof(int))); /* -1 */
    int *d_hist = d, *d_counter = d + SEM_BINS, *d_sum = d + SEM_BINS + 1;
    int *d_claim = d + SEM_BINS + 2, *d_ticket = d + head, *d_won = d + head + n;
    int threads = 128, blocks = (n + threads - 1) / threads;
    atomics_kernel<<<blocks, threads, 0, cuda_stream()>>>(d_hist, d_counter, d_ticket, d_claim,
                                                          d_won, d_sum, n);
    CUDA_CHECK_LAUNCH("atomics_kernel");
    CUDA_CHECK(cudaMemcpy(hist, d_hist, SEM_BINS * sizeof(int), cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(counter, d_counter, sizeof(int), cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(cas_sum, d_sum, sizeof(int), cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(claim, d_claim, SEM_SLOTS * sizeof(int), cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(ticket, d_ticket, (size_t)n * sizeof(int), cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(won, d_won, (size_t)n * sizeof(int), cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaFree(d));
    return 0;
}

/* ---------------------------------------------------------------- __device__ globals */

static __device__ int sem_dev_counter;
static __device__ int sem_dev_table[4];

/* every thread i < n adds table[i % 4] to the counter (the table is only read here: the
 * write is a second launch, after every block of this one) */
static __global__ void device_global_kernel(int n) {
    int i = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (i < n) atomicAdd(&sem_dev_counter, sem_dev_table[i % 4]);
}

/* table[3] = v */
static __global__ void device_global_write_kernel(int v) {
    if (blockIdx.x == 0 && threadIdx.x == 0) sem_dev_table[3] = v;
}

/* counter := start, table := table_in (cudaMemcpyToSymbol); the kernels; then both read back
 * with cudaMemcpyFromSymbol into *counter, table_out[4] */
extern "C" int sem_device_global(int *counter, int *table_out, int start, const int *table_in,
                                 int n) {
    CUDA_CHECK(cudaMemcpyToSymbol(sem_dev_counter, &start, sizeof start));
    CUDA_CHECK(cudaMemcpyToSymbol(sem_dev_table, table_in, 4 * sizeof(int)));
    device_global_kernel<<<(n + 63) / 64, 64, 0, cuda_stream()>>>(n);
    CUDA_CHECK_LAUNCH("device_global_kernel");
    device_global_write_kernel<<<1, 32, 0, cuda_stream()>>>(-77);
    CUDA_CHECK_LAUNCH("device_global_write_kernel");
    CUDA_CHECK(cudaMemcpyFromSymbol(counter, sem_dev_counter, sizeof(int)));
    CUDA_CHECK(cudaMemcpyFromSymbol(table_out, sem_dev_table, 4 * sizeof(int)));
    return 0;
}

/* ---------------------------------------------------------------- launch configurations */

static __global__ void count_threads_kernel(int *count) { atomicAdd(count, 1); }

/* Launch count_threads_kernel with grid g and block b: *ran = the threads that ran (0 when the
 * launch was refused), err1 = the name of cudaGetLastError() right after the launch, err2 =
 * that of a second cudaGetLastError() (reading the error clears it). The wrapper itself fails
 * only when a CUDA call other than the launch does. */
extern "C" int sem_launch_config(int *ran, char *err1, char *err2, size_t cap, unsigned gx,
                                 unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz) {
    int *d = NULL;
    (void)cudaGetLastError(); /* nothing earlier may show up here */
    CUDA_CHECK(cudaMalloc((void **)&d, sizeof(int)));
    CUDA_CHECK(cudaMemset(d, 0, sizeof(int)));
    dim3 grid(gx, gy, gz), block(bx, by, bz);
    count_threads_kernel<<<grid, block, 0, cuda_stream()>>>(d);
    cudaError_t e1 = cudaGetLastError();
    cudaError_t e2 = cudaGetLastError();
    strncpy(err1, cudaGetErrorName(e1), cap - 1);
    err1[cap - 1] = 0;
    strncpy(err2, cudaGetErrorName(e2), cap - 1);
    err2[cap - 1] = 0;
    CUDA_CHECK(cudaDeviceSynchronize());
    CUDA_CHECK(cudaMemcpy(ran, d, sizeof(int), cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaFree(d));
    return 0;
}

/* ---------------------------------------------------------------- a divergent barrier */

/* Only threads < 32 of the block reach __syncthreads: undefined behaviour in CUDA, which
 * the emulator must stop with "__syncthreads reached by ...". For the emulator only (the
 * test calls it in a child process under COMPACTER_CUDA_EMU, never on a GPU). */
static __global__ void divergent_syncthreads_kernel(int *out) {
    if (threadIdx.x < 32) __syncthreads();
    out[threadIdx.x] = 1;
}

extern "C" int sem_divergent_syncthreads(void) {
    int *d = NULL;
    CUDA_CHECK(cudaMalloc((void **)&d, 64 * sizeof(int)));
    divergent_syncthreads_kernel<<<1, 64, 0, cuda_stream()>>>(d);
    CUDA_CHECK_LAUNCH("divergent_syncthreads_kernel");
    CUDA_CHECK(cudaDeviceSynchronize());
    CUDA_CHECK(cudaFree(d));
    return 0;
}
