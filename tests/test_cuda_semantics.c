/* test_cuda_semantics.c: a self-test of the CUDA emulator's semantics (tests/cudaemu) whose
 * kernels (tests/cuda_semantics_kernels.cu) also compile with nvcc: run on a GPU, the same
 * checks show that the emulator agrees with the hardware. Covered: a shared-memory tree
 * reduction with __syncthreads and a read of another thread's shared element after the
 * barrier; __shfl_sync (broadcast, gather, source lanes past the width), __shfl_xor_sync,
 * __shfl_down_sync and __shfl_up_sync at widths 1-32, on int, float and double, every lane's
 * result; warp reductions and a width-8 scan built from them; __ballot_sync (non-zero
 * predicates count as true); lane and warp numbering in 2D and 3D blocks (thread id x + y Dx +
 * z Dx Dy, lane = id % 32); blockIdx/gridDim of 3D grids and a grid-stride loop over them;
 * atomicAdd on int (tickets 0..n-1, each once) and atomicCAS (one winner per slot, an add
 * built from a CAS loop); a __device__ global set with cudaMemcpyToSymbol and read back with
 * cudaMemcpyFromSymbol; launch configurations CUDA refuses (2048 threads and the other
 * limits) reported by cudaGetLastError, which then clears it.
 * Every expected value is computed here by plain loops from the CUDA Programming Guide's
 * definitions, never by the kernels. Under the emulator (COMPACTER_CUDA_EMU) also: a
 * __syncthreads that only threads < 32 reach must stop the program (SIGABRT, "__syncthreads
 * reached by" on stderr), in a child process; undefined on a GPU, so not run there.
 * SKIPs without a CUDA build or without a device. */
#include "tests/check.h"

#ifndef HAVE_CUDA
int main(void) {
    SKIP("built without the CUDA backend (CUDA=0, or nvcc not found)");
    CHECK_DONE();
}
#else

#include <stdint.h>

#include "core/backend.h"
#include "core/error.h"

#include "tests/child_abort.h"
#include "tests/cuda_semantics.h"

enum { SHFL_IDX = 0, SHFL_XOR = 1, SHFL_DOWN = 2, SHFL_UP = 3 };
static const char *MODE_NAME[] = {"__shfl_sync", "__shfl_xor_sync", "__shfl_down_sync",
                                  "__shfl_up_sync"};

#ifdef COMPACTER_CUDA_EMU
static const int EMULATED = 1;
#else
static const int EMULATED = 0;
#endif

/* The lane whose value a shuffle returns to lane `lane` (0..31), by the Programming Guide
 * (Warp Shuffle Functions): the warp is split into segments of `width` lanes;
 * __shfl_sync reads lane srcLane modulo width of the caller's segment; __shfl_up_sync reads
 * lane - delta and __shfl_down_sync lane + delta, the caller's own value where that leaves the
 * segment ("the source lane index will not wrap around the value of width"); __shfl_xor_sync
 * reads lane ^ laneMask, which may lie in an earlier segment ("able to access elements from
 * earlier groups of threads"), the caller's own value when it lies in a later one. */
static int shfl_source(int mode, int lane, int arg, int width) {
    int seg = lane - lane % width, src;
    switch (mode) {
    case SHFL_IDX: return seg + arg % width;
    case SHFL_UP: src = lane - arg; return src < seg ? lane : src;
    case SHFL_DOWN: src = lane + arg; return src >= seg + width ? lane : src;
    default: src = lane ^ arg; return src >= seg + width ? lane : src;
    }
}

static int shfl_value_i(int t) { return 1000 + 7 * t; }

/* ---------------------------------------------------------------- shared-memory reduction */

static void check_block_reduce(int n, int threads) {
    int blocks = (n + threads - 1) / threads;
    int *in = malloc((size_t)n * sizeof *in), *rev = malloc((size_t)n * sizeof *rev);
    int *sums = malloc((size_t)blocks * sizeof *sums);
    for (int i = 0; i < n; i++) in[i] = (int)(((int64_t)i * 7919) % 2001) - 1000;
    int rc = sem_block_reduce(sums, rev, in, n, threads);
    CHECK(rc == 0, "%s", error_message());
    if (rc == 0) {
        int bad_sum = 0, bad_rev = 0, first = -1;
        for (int b = 0; b < blocks; b++) {
            int want = 0;
            for (int i = b * threads; i < n && i < (b + 1) * threads; i++) want += in[i];
            if (sums[b] != want) {
                if (first < 0) first = b;
                bad_sum++;
            }
        }
        CHECK(bad_sum == 0, "block sums, n %d, %d threads: %d of %d blocks wrong (first: block %d)",
              n, threads, bad_sum, blocks, first);
        first = -1;
        for (int i = 0; i < n; i++) {
            int b = i / threads, t = i % threads, src = b * threads + threads - 1 - t;
            int want = src < n ? in[src] : 0;
            if (rev[i] != want) {
                if (first < 0) first = i;
                bad_rev++;
            }
        }
        CHECK(bad_rev == 0, "reversed through shared memory, n %d, %d threads: %d wrong (first [%d])",
              n, threads, bad_rev, first);
        if (!bad_sum && !bad_rev)
            printf("  ok shared-memory reduction and reversal, n %d, %d threads a block\n", n,
                   threads);
    }
    free(in);
    free(rev);
    free(sums);
}

/* ---------------------------------------------------------------- one shuffle */

static void check_shuffle(int threads, int mode, int arg, int step, int width) {
    int *oi = malloc((size_t)threads * sizeof *oi);
    float *of = malloc((size_t)threads * sizeof *of);
    double *od = malloc((size_t)threads * sizeof *od);
    int rc = sem_shuffle(oi, of, od, threads, mode, arg, step, width);
    CHECK(rc == 0, "%s", error_message());
    if (rc == 0) {
        int bad = 0, first = -1, got = 0, want_v = 0;
        for (int t = 0; t < threads; t++) {
            int lane = t % 32, w0 = t - lane;
            int a = mode == SHFL_IDX ? arg + step * lane : arg;
            int src = w0 + shfl_source(mode, lane, a, width);
            int want = shfl_value_i(src);
            float wf = 0.5f * (float)want;
            double wd = (double)want + 0.25;
            if (oi[t] != want || of[t] != wf || od[t] != wd) {
                if (first < 0) {
                    first = t;
                    got = oi[t];
                    want_v = want;
                }
                bad++;
            }
        }
        char what[160];
        if (mode == SHFL_IDX && step)
            snprintf(what, sizeof what, "%s(v, %d + %d*lane, width %d) over %d threads",
                     MODE_NAME[mode], arg, step, width, threads);
        else
            snprintf(what, sizeof what, "%s(v, %d, width %d) over %d threads", MODE_NAME[mode],
                     arg, width, threads);
        CHECK(bad == 0, "%s: %d lanes wrong (first: thread %d got %d, want %d)", what, bad, first,
              got, want_v);
        if (!bad) printf("  ok %s\n", what);
    }
    free(oi);
    free(of);
    free(od);
}

/* ---------------------------------------------------------------- warp reductions */

static void check_warp_reduce(int threads) {
    size_t bytes = (size_t)threads * sizeof(int);
    int *in = malloc(bytes), *xs = malloc(bytes), *down = malloc(bytes), *scan = malloc(bytes);
    int *a = malloc(bytes), *b = malloc(bytes), *c = malloc(bytes), *nxt = malloc(bytes);
    for (int t = 0; t < threads; t++) in[t] = (t * 37) % 101 - 50;
    int rc = sem_warp_reduce(xs, down, scan, in, threads);
    CHECK(rc == 0, "%s", error_message());
    if (rc == 0) {
        /* the three loops of the kernel, step by step on the host from shfl_source */
        memcpy(a, in, bytes);
        memcpy(b, in, bytes);
        memcpy(c, in, bytes);
        for (int m = 16; m > 0; m /= 2) {
            for (int t = 0; t < threads; t++)
                nxt[t] = a[t] + a[t - t % 32 + shfl_source(SHFL_XOR, t % 32, m, 32)];
            memcpy(a, nxt, bytes);
        }
        for (int d = 16; d > 0; d /= 2) {
            for (int t = 0; t < threads; t++)
                nxt[t] = b[t] + b[t - t % 32 + shfl_source(SHFL_DOWN, t % 32, d, 32)];
            memcpy(b, nxt, bytes);
        }
        for (int d = 1; d < 8; d *= 2) {
            for (int t = 0; t < threads; t++)
                nxt[t] = c[t] + (t % 8 >= d ? c[t - t % 32 + shfl_source(SHFL_UP, t % 32, d, 8)] : 0);
            memcpy(c, nxt, bytes);
        }
        int bad_x = 0, bad_d = 0, bad_s = 0, bad_closed = 0;
        for (int t = 0; t < threads; t++) {
            int w0 = t - t % 32, s0 = t - t % 8, warp_sum = 0, prefix = 0;
            for (int l = 0; l < 32; l++) warp_sum += in[w0 + l];
            for (int l = s0; l <= t; l++) prefix += in[l];
            bad_x += xs[t] != a[t];
            bad_d += down[t] != b[t];
            bad_s += scan[t] != c[t];
            /* and the closed forms: every lane has the warp's sum after the butterfly, lane 0
             * after the shift-down reduction; the scan is the segment's inclusive prefix sum */
            bad_closed += a[t] != warp_sum || (t % 32 == 0 && b[t] != warp_sum) || c[t] != prefix;
        }
        CHECK(bad_closed == 0, "the host simulation disagrees with the closed forms in %d lanes",
              bad_closed);
        CHECK(bad_x == 0, "butterfly sum (__shfl_xor_sync 16..1): %d of %d lanes wrong", bad_x,
              threads);
        CHECK(bad_d == 0, "shift-down reduction (__shfl_down_sync 16..1): %d of %d lanes wrong",
              bad_d, threads);
        CHECK(bad_s == 0, "width-8 scan (__shfl_up_sync 1, 2, 4): %d of %d lanes wrong", bad_s,
              threads);
        if (!bad_x && !bad_d && !bad_s)
            printf("  ok warp reductions and width-8 scan over %d threads\n", threads);
    }
    free(in);
    free(xs);
    free(down);
    free(scan);
    free(a);
    free(b);
    free(c);
    free(nxt);
}

/* ---------------------------------------------------------------- lanes of 2D/3D blocks */

static void check_lanes(unsigned bx, unsigned by, unsigned bz) {
    unsigned n = bx * by * bz;
    unsigned *out = malloc((size_t)5 * n * sizeof *out);
    int rc = sem_lanes(out, bx, by, bz);
    CHECK(rc == 0, "%s", error_message());
    if (rc == 0) {
        int bad = 0;
        for (unsigned t = 0; t < n; t++) {
            /* thread id t = x + y Dx + z Dx Dy; lane t % 32, warp t / 32 */
            unsigned lane = t % 32, w0 = t - lane, want[5] = {w0, w0 + (lane ^ 9u), 0, 0, 0};
            for (unsigned l = 0; l < 32; l++) {
                unsigned u = w0 + l, x = u % bx, y = (u / bx) % by, z = u / (bx * by);
                want[2] |= (unsigned)(x == 0) << l;
                want[3] |= (y & 1u) << l;
                want[4] |= (z & 1u) << l;
            }
            for (int k = 0; k < 5; k++)
                if (out[5 * t + k] != want[k]) {
                    if (!bad)
                        fprintf(stderr, "  block (%u,%u,%u), thread id %u, item %d: got %#x, want %#x\n",
                                bx, by, bz, t, k, out[5 * t + k], want[k]);
                    bad++;
                }
        }
        CHECK(bad == 0, "lanes of a (%u,%u,%u) block: %d values wrong", bx, by, bz, bad);
        if (!bad)
            printf("  ok lanes of a (%u,%u,%u) block (lane = (x + %u y + %u z) %% 32; ballot of x == 0: "
                   "%#x)\n",
                   bx, by, bz, bx, bx * by, out[2]);
    }
    free(out);
}

/* ---------------------------------------------------------------- ballot */

static void check_ballot(void) {
    enum { N = 128 };
    int pred[N];
    unsigned out[N];
    for (int t = 0; t < N; t++) {
        pred[t] = t % 3 == 0 ? (t % 2 ? -5 : 2) : 0; /* any non-zero value is true */
        if (t == 40) pred[t] = 1;
        if (t >= 64 && t < 96) pred[t] = 7; /* warp 2: every lane */
        if (t >= 96) pred[t] = 0;           /* warp 3: none */
    }
    int rc = sem_ballot(out, pred, N);
    CHECK(rc == 0, "%s", error_message());
    if (rc == 0) {
        int bad = 0;
        for (int t = 0; t < N; t++) {
            unsigned want = 0;
            for (int l = 0; l < 32; l++) want |= (unsigned)(pred[t - t % 32 + l] != 0) << l;
            if (out[t] != want) {
                if (!bad) fprintf(stderr, "  ballot: thread %d got %#x, want %#x\n", t, out[t], want);
                bad++;
            }
        }
        CHECK(bad == 0, "__ballot_sync: %d of %d lanes wrong", bad, N);
        CHECK(out[64] == 0xffffffffu && out[96] == 0, "ballot of all (%#x) / none (%#x)", out[64],
              out[96]);
        if (!bad) printf("  ok __ballot_sync over %d threads (warp 0: %#x)\n", N, out[0]);
    }
}

/* ---------------------------------------------------------------- grids */

static void check_grid_stride(int n, unsigned gx, unsigned gy, unsigned gz, unsigned threads) {
    unsigned all = gx * gy * gz * threads;
    int *owner = malloc((size_t)n * sizeof *owner), *visits = malloc((size_t)n * sizeof *visits);
    unsigned *coords = malloc((size_t)6 * all * sizeof *coords);
    int rc = sem_grid_stride(owner, visits, coords, n, gx, gy, gz, threads);
    CHECK(rc == 0, "%s", error_message());
    if (rc == 0) {
        int bad_elem = 0, bad_coord = 0;
        for (int i = 0; i < n; i++) bad_elem += owner[i] != (int)((unsigned)i % all) || visits[i] != 1;
        for (unsigned g = 0; g < all; g++) {
            unsigned b = g / threads;
            unsigned want[6] = {b % gx, (b / gx) % gy, b / (gx * gy), gx, gy, gz};
            for (int k = 0; k < 6; k++) bad_coord += coords[6 * g + k] != want[k];
        }
        CHECK(bad_elem == 0, "grid-stride loop, grid (%u,%u,%u) x %u, n %d: %d elements wrong", gx,
              gy, gz, threads, n, bad_elem);
        CHECK(bad_coord == 0, "blockIdx/gridDim, grid (%u,%u,%u) x %u: %d values wrong", gx, gy, gz,
              threads, bad_coord);
        if (!bad_elem && !bad_coord)
            printf("  ok grid (%u,%u,%u) x %u threads, grid-stride over %d elements\n", gx, gy, gz,
                   threads, n);
    }
    free(owner);
    free(visits);
    free(coords);
}

/* ---------------------------------------------------------------- atomics */

static void check_atomics(int n) {
    int hist[7], counter = -1, claim[10], cas_sum = -1;
    int *ticket = malloc((size_t)n * sizeof *ticket), *won = malloc((size_t)n * sizeof *won);
    int *seen = calloc((size_t)n, sizeof *seen);
    int rc = sem_atomics(hist, &counter, ticket, claim, won, &cas_sum, n);
    CHECK(rc == 0, "%s", error_message());
    if (rc == 0) {
        int bad_hist = 0, bad_ticket = 0, bad_claim = 0;
        for (int k = 0; k < 7; k++) {
            int want = 0;
            for (int i = 0; i < n; i++) want += i % 7 == k;
            bad_hist += hist[k] != want;
        }
        for (int i = 0; i < n; i++) {
            if (ticket[i] < 0 || ticket[i] >= n || seen[ticket[i]]++) bad_ticket++;
        }
        for (int s = 0; s < 10; s++) {
            int winners = 0, winner = -1;
            for (int i = s; i < n; i += 10)
                if (won[i] == 1) {
                    winners++;
                    winner = i;
                } else if (won[i] != 0) {
                    winners += 100;
                }
            bad_claim += winners != 1 || claim[s] != winner;
        }
        CHECK(bad_hist == 0, "atomicAdd histogram: %d of 7 bins wrong", bad_hist);
        CHECK(counter == n, "atomicAdd counter %d, want %d", counter, n);
        CHECK(bad_ticket == 0, "atomicAdd's old values: %d not a permutation of 0..%d", bad_ticket,
              n - 1);
        CHECK(bad_claim == 0, "atomicCAS claims: %d of 10 slots without exactly one winner",
              bad_claim);
        CHECK(cas_sum == n * (n + 1) / 2, "atomicCAS loop sum %d, want %d", cas_sum,
              n * (n + 1) / 2);
        if (!bad_hist && counter == n && !bad_ticket && !bad_claim && cas_sum == n * (n + 1) / 2)
            printf("  ok atomicAdd (histogram, %d tickets) and atomicCAS (claims, CAS-loop sum %d)\n",
                   n, cas_sum);
    }
    free(ticket);
    free(won);
    free(seen);
}

static void check_device_global(void) {
    const int table[4] = {1, 2, 3, 4}, start = 100, n = 1000;
    int counter = 0, out[4] = {0, 0, 0, 0};
    int rc = sem_device_global(&counter, out, start, table, n);
    CHECK(rc == 0, "%s", error_message());
    if (rc == 0) {
        int want = start;
        for (int i = 0; i < n; i++) want += table[i % 4];
        CHECK(counter == want, "__device__ counter read with cudaMemcpyFromSymbol: %d, want %d",
              counter, want);
        CHECK(out[0] == 1 && out[1] == 2 && out[2] == 3 && out[3] == -77,
              "__device__ table: {%d, %d, %d, %d}, want {1, 2, 3, -77}", out[0], out[1], out[2],
              out[3]);
        if (counter == want)
            printf("  ok __device__ globals via cudaMemcpyToSymbol / FromSymbol (counter %d)\n",
                   counter);
    }
}

/* ---------------------------------------------------------------- launch configurations */

static void check_launch(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                         unsigned bz, int valid) {
    char e1[64], e2[64];
    int ran = -1;
    int rc = sem_launch_config(&ran, e1, e2, sizeof e1, gx, gy, gz, bx, by, bz);
    CHECK(rc == 0, "%s", error_message());
    if (rc != 0) return;
    long long threads = (long long)gx * gy * gz * bx * by * bz;
    const char *want = valid ? "cudaSuccess" : "cudaErrorInvalidConfiguration";
    int ok = !strcmp(e1, want) && !strcmp(e2, "cudaSuccess") && ran == (valid ? threads : 0);
    CHECK(ok, "launch <<<(%u,%u,%u), (%u,%u,%u)>>>: cudaGetLastError %s then %s, %d threads ran; "
              "want %s then cudaSuccess, %lld",
          gx, gy, gz, bx, by, bz, e1, e2, ran, want, valid ? threads : 0);
    if (ok)
        printf("  ok launch <<<(%u,%u,%u), (%u,%u,%u)>>>: %s, %d threads ran\n", gx, gy, gz, bx, by,
               bz, e1, ran);
}

/* ---------------------------------------------------------------- a divergent barrier */

static int run_divergent(void *arg) {
    (void)arg;
    int rc = sem_divergent_syncthreads();
    fprintf(stderr, "the divergent __syncthreads kernel returned %d (%s)\n", rc, error_message());
    return rc;
}

/* In a child process (stderr into a pipe, no core file): the emulator must abort. */
static void check_divergent_syncthreads(void) {
    char buf[4096], how[64];
    int aborted = run_expecting_abort(run_divergent, NULL, buf, sizeof buf, how, sizeof how);
    CHECK(aborted >= 0, "pipe or fork failed");
    if (aborted < 0) return;
    CHECK(aborted, "a __syncthreads only threads < 32 reach: %s, want SIGABRT (%d); its stderr: %s", how,
          SIGABRT, buf);
    CHECK(strstr(buf, "__syncthreads reached by") != NULL,
          "the emulator's message lacks \"__syncthreads reached by\": %s", buf);
    if (aborted) printf("  ok divergent __syncthreads aborts the emulator: %s", buf);
}

int main(void) {
    if (!cuda_available()) SKIP("%s", error_message());
    char name[256];
    CHECK(sem_device_name(name, sizeof name) == 0, "%s", error_message());
    printf("device: %s%s\n", name, EMULATED ? " (the CUDA emulator, tests/cudaemu)" : "");

    printf("__syncthreads and shared memory:\n");
    check_block_reduce(10000, 256);
    check_block_reduce(10000, 1024);
    check_block_reduce(1000, 32);
    check_block_reduce(1, 64);

    printf("warp shuffles, every lane (int, float, double):\n");
    static const struct {
        int mode, arg, step, width;
    } shfl[] = {
        {SHFL_IDX, 0, 0, 32},  {SHFL_IDX, 7, 0, 32},  {SHFL_IDX, 37, 0, 32}, {SHFL_IDX, 1, 3, 32},
        {SHFL_IDX, 5, 0, 8},   {SHFL_IDX, 11, 0, 8},  {SHFL_IDX, 2, 5, 8},   {SHFL_IDX, 3, 0, 16},
        {SHFL_IDX, 0, 0, 1},   {SHFL_XOR, 1, 0, 32},  {SHFL_XOR, 16, 0, 32}, {SHFL_XOR, 5, 0, 32},
        {SHFL_XOR, 31, 0, 32}, {SHFL_XOR, 1, 0, 8},   {SHFL_XOR, 4, 0, 8},   {SHFL_XOR, 7, 0, 8},
        {SHFL_XOR, 1, 0, 2},   {SHFL_XOR, 2, 0, 4},   {SHFL_DOWN, 1, 0, 32}, {SHFL_DOWN, 5, 0, 32},
        {SHFL_DOWN, 16, 0, 32}, {SHFL_DOWN, 2, 0, 8}, {SHFL_DOWN, 7, 0, 8},  {SHFL_DOWN, 1, 0, 4},
        {SHFL_UP, 1, 0, 32},   {SHFL_UP, 3, 0, 32},   {SHFL_UP, 16, 0, 32},  {SHFL_UP, 1, 0, 8},
        {SHFL_UP, 3, 0, 8},    {SHFL_UP, 2, 0, 16},
        /* laneMask >= width: lanes read an earlier segment, or keep their own value where
         * lane ^ laneMask lies in a later one */
        {SHFL_XOR, 8, 0, 8},   {SHFL_XOR, 16, 0, 8},  {SHFL_XOR, 12, 0, 8},
    };
    for (size_t k = 0; k < sizeof shfl / sizeof shfl[0]; k++)
        check_shuffle(64, shfl[k].mode, shfl[k].arg, shfl[k].step, shfl[k].width);

    printf("warp reductions built from shuffles:\n");
    check_warp_reduce(96);

    printf("__ballot_sync:\n");
    check_ballot();

    printf("lanes of 2D and 3D blocks:\n");
    check_lanes(8, 8, 1);
    check_lanes(4, 4, 4);
    check_lanes(16, 2, 3);
    check_lanes(1, 32, 2);
    check_lanes(2, 16, 4);

    printf("grids and grid-stride loops:\n");
    check_grid_stride(5000, 3, 2, 1, 128);
    check_grid_stride(1000, 2, 2, 2, 64);
    check_grid_stride(100, 4, 1, 3, 32);

    printf("atomics and __device__ globals:\n");
    check_atomics(1000);
    check_device_global();

    printf("launch configurations:\n");
    check_launch(1, 1, 1, 1024, 1, 1, 1);
    check_launch(2, 3, 1, 8, 8, 1, 1);
    check_launch(1, 1, 1, 1, 1, 64, 1);
    check_launch(70000, 1, 1, 1, 1, 1, 1);
    check_launch(1, 1, 1, 2048, 1, 1, 0);
    check_launch(1, 1, 1, 32, 64, 1, 0);
    check_launch(1, 1, 1, 1025, 1, 1, 0);
    check_launch(1, 1, 1, 1, 1, 65, 0);
    check_launch(0, 1, 1, 32, 1, 1, 0);
    check_launch(1, 65536, 1, 32, 1, 1, 0);
    check_launch(1, 1, 65536, 32, 1, 1, 0);
    /* the device still works after the refused launches */
    check_launch(1, 1, 1, 64, 1, 1, 1);

    if (EMULATED) {
        printf("emulator only: a __syncthreads some threads skip\n");
        check_divergent_syncthreads();
    } else {
        printf("(a __syncthreads some threads skip is undefined on a GPU: checked under the "
               "emulator only)\n");
    }
    CHECK_DONE();
}
#endif
