/* cudaemu_race.h: the cases of tests/cudaemu_race_kernels.cu for tests/test_cudaemu_racecheck.c:
 * kernels with a race, or an access outside device memory, by construction, and race-free ones */
#ifndef COMPACTER_TESTS_CUDAEMU_RACE_H
#define COMPACTER_TESTS_CUDAEMU_RACE_H

enum { RACE_SYNC_NONE, RACE_SYNC_BARRIER, RACE_SYNC_WARP, RACE_SYNC_SHUFFLE };

enum race_case {
    /* racy by construction */
    RACE_SHARED_NO_SYNC,       /* thread 0 writes shared, thread 40 (another warp) reads, no barrier */
    RACE_WARP_NO_SYNC,         /* lane 0 writes shared, lane 1 reads, nothing between */
    RACE_WARP_SHUFFLE,         /* the same with a __shfl_sync between (it orders no memory) */
    RACE_BLOCKS_SAME_WORD,     /* 4 blocks write one word */
    RACE_BLOCKS_NEIGHBOUR,     /* block b reads the word block b + 1 writes */
    RACE_BLOCKS_READ_WRITE,    /* block 0 reads a word, then block 1 writes it */
    RACE_BLOCKS_READERS_WRITE, /* 3 threads of block 0 read a word, then block 1 writes it */
    /* outside every device allocation (memcheck's invalid accesses) */
    RACE_PAST_END,        /* 65 threads read a 64-int allocation */
    RACE_HOST_IN_STRUCT,  /* a host pointer inside a struct passed by value */
    /* device memory read before anything wrote it (initcheck) */
    RACE_UNINIT_READ, /* 64 threads read 64 ints of which cudaMemset wrote the first 32 */
    RACE_UNINIT_GEMM, /* the CUDA backend's gemm (cuBLAS) with a B nothing wrote */
    RACE_N_RACY,
    /* race-free */
    RACE_SHARED_BARRIER = RACE_N_RACY, /* the first case with __syncthreads between */
    RACE_WARP_SYNCWARP,                /* the second with __syncwarp between */
    RACE_CLEAN,        /* own elements, shared read-only input, adjacent 2-byte elements, atomics */
    RACE_TWO_LAUNCHES, /* one launch writes, the next reads */
    RACE_REDUCE_TWICE, /* a shared tree reduction twice over one buffer, barriers between */
    RACE_N_CASES
};

#ifdef __cplusplus
extern "C" {
#endif
/* Run case `which`; copy n_result ints of its output into result (RACE_CLEAN: n_result =
 * 2 half + 1: out[0..half), the 2-byte elements h[0..half) as ints, the atomic counter).
 * 0, or -1 with error_set. */
int race_run(int which, int *result, int n_result);
#ifdef __cplusplus
}
#endif
#endif
