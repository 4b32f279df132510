/* test_cudaemu_racecheck.c: the CUDA emulator's race and access checker
 * (tests/cudaemu/racecheck.c) on kernels built to race, to reach outside device memory or to
 * read memory nothing wrote, and on race-free ones (tests/cudaemu_race_kernels.cu). Each faulty
 * case runs in a child process that must stop with SIGABRT and a "cudaemu racecheck: kernel K"
 * message naming the kind of race (shared memory with no __syncthreads between, or device
 * memory used by different blocks), "cudaemu memcheck: kernel K" for a read one element past an
 * allocation's end or through a host pointer inside a struct argument, or "cudaemu initcheck:
 * kernel K" for a read of the half of an allocation no memset wrote (and "cudaemu initcheck:
 * cuBLAS GEMM operand" for a GEMM on a buffer nothing wrote); each race-free case runs here and
 * must finish with the results its kernel's definition gives (written out below by hand). Only
 * the racecheck build of the emulator (`make emu-race`) checks accesses: SKIPs in every other
 * build. */
#include "tests/check.h"

#if !defined(COMPACTER_CUDA_EMU) || !defined(CUDAEMU_RACECHECK)
int main(void) {
    SKIP("the race detector is in the emulator's racecheck build only (make emu-race)");
    CHECK_DONE();
}
#else

#include "core/backend.h"
#include "core/error.h"
#include "tests/child_abort.h"
#include "tests/cudaemu_race.h"

static const struct {
    int which;
    const char *check, *kernel, *phrase;
} RACY[RACE_N_RACY] = {
    {RACE_SHARED_NO_SYNC, "racecheck", "shared_handoff_kernel", "no __syncthreads between them"},
    {RACE_WARP_NO_SYNC, "racecheck", "shared_handoff_kernel", "no __syncthreads between them"},
    {RACE_WARP_SHUFFLE, "racecheck", "shared_handoff_kernel", "no __syncthreads between them"},
    {RACE_BLOCKS_SAME_WORD, "racecheck", "same_word_kernel", "different blocks"},
    {RACE_BLOCKS_NEIGHBOUR, "racecheck", "neighbour_kernel", "different blocks"},
    {RACE_BLOCKS_READ_WRITE, "racecheck", "read_then_write_kernel", "different blocks"},
    {RACE_BLOCKS_READERS_WRITE, "racecheck", "readers_then_write_kernel", "different blocks"},
    {RACE_PAST_END, "memcheck", "past_end_kernel", "a 4-byte read by block (0,0,0) thread (64,0,0)"},
    {RACE_HOST_IN_STRUCT, "memcheck", "host_in_struct_kernel", "lies in no device allocation"},
    {RACE_UNINIT_READ, "initcheck", "past_end_kernel", "by block (0,0,0) thread (32,0,0) reads device memory"},
    /* the row-major backend gemm passes our b to cuBLAS as its A: the 16-byte allocation */
    {RACE_UNINIT_GEMM, "initcheck", "cuBLAS GEMM operand", "(an allocation of 16 bytes), which nothing has written"},
};

/* the child's work: run the case; returning means nothing stopped it */
static int run_racy(void *arg) {
    int k = *(const int *)arg, out[8];
    int rc = race_run(RACY[k].which, out, 8);
    fprintf(stderr, "the case returned %d (%s)\n", rc, rc ? error_message() : "no error");
    return rc;
}

/* run a racy case in a child: it must abort with the detector's message */
static void check_racy(int k) {
    char buf[4096], how[64], want[128];
    int aborted = run_expecting_abort(run_racy, &k, buf, sizeof buf, how, sizeof how);
    CHECK(aborted >= 0, "pipe or fork failed");
    if (aborted < 0) return;
    snprintf(want, sizeof want, "cudaemu %s: %s%s", RACY[k].check, strncmp(RACY[k].kernel, "cuBLAS", 6) ? "kernel " : "",
             RACY[k].kernel);
    CHECK(aborted, "faulty case %d (%s): %s, want SIGABRT; its stderr: %s", k, RACY[k].kernel, how, buf);
    CHECK(strstr(buf, want) && strstr(buf, RACY[k].phrase), "faulty case %d: want \"%s\" and \"%s\" in: %s", k,
          want, RACY[k].phrase, buf);
    if (aborted) printf("  ok faulty case %d stopped: %s", k, buf);
}

static void check_clean(int which, const char *what, const int *want, int n) {
    int got[4200];
    int rc = race_run(which, got, n);
    CHECK(rc == 0, "%s: %s", what, error_message());
    if (rc) return;
    int bad = 0;
    for (int i = 0; i < n && !bad; i++)
        if (got[i] != want[i]) {
            CHECK(0, "%s: result [%d] is %d, want %d", what, i, got[i], want[i]);
            bad = 1;
        }
    if (!bad) {
        check_count++;
        printf("  ok race-free: %s (%d results as defined)\n", what, n);
    }
}

int main(void) {
    if (!cuda_available()) SKIP("%s", error_message());
    printf("racy kernels and accesses outside device memory (each in a child process):\n");
    for (int k = 0; k < RACE_N_RACY; k++) check_racy(k);

    printf("race-free kernels:\n");
    int want[4200];
    want[0] = 7;
    check_clean(RACE_SHARED_BARRIER, "shared word handed over with __syncthreads", want, 1);
    check_clean(RACE_WARP_SYNCWARP, "shared word handed over within a warp with __syncwarp", want, 1);
    /* clean_kernel over n = 2000: out[i] = in[i % 4] * 2 + i + 1 with in = {3, 5, 7, 9};
     * h[i] = i; the counter: 2000 atomic adds to 0 */
    const int in[4] = {3, 5, 7, 9}, n = 2000;
    for (int i = 0; i < n; i++) {
        want[i] = in[i % 4] * 2 + i + 1;
        want[n + i] = i;
    }
    want[2 * n] = n;
    check_clean(RACE_CLEAN, "own elements, read-only input, adjacent 2-byte elements, atomics", want,
                2 * n + 1);
    want[0] = 11;
    want[1] = 11;
    check_clean(RACE_TWO_LAUNCHES, "one launch writes, the next reads", want, 2);
    want[0] = 256;
    want[1] = 512;
    check_clean(RACE_REDUCE_TWICE, "a shared tree reduction twice over one buffer", want, 2);
    CHECK_DONE();
}
#endif
