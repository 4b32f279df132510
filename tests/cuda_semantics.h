/* cuda_semantics.h: the host wrappers of tests/cuda_semantics_kernels.cu, for
 * tests/test_cuda_semantics.c (CUDA builds only). Each returns 0, or -1 with error_set. */
#ifndef COMPACTER_TESTS_CUDA_SEMANTICS_H
#define COMPACTER_TESTS_CUDA_SEMANTICS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

int sem_device_name(char *name, size_t cap);
int sem_block_reduce(int *sums, int *reversed, const int *in, int n, int threads);
int sem_shuffle(int *oi, float *of, double *od, int threads, int mode, int arg, int step,
                int width);
int sem_warp_reduce(int *xor_sum, int *down, int *scan8, const int *in, int threads);
int sem_lanes(unsigned *out, unsigned bx, unsigned by, unsigned bz);
int sem_ballot(unsigned *out, const int *pred, int threads);
int sem_grid_stride(int *owner, int *visits, unsigned *coords, int n, unsigned gx, unsigned gy,
                    unsigned gz, unsigned threads);
int sem_atomics(int *hist, int *counter, int *ticket, int *claim, int *won, int *cas_sum, int n);
int sem_device_global(int *counter, int *table_out, int start, const int *table_in, int n);
int sem_launch_config(int *ran, char *err1, char *err2, size_t cap, unsigned gx, unsigned gy,
                      unsigned gz, unsigned bx, unsigned by, unsigned bz);
int sem_divergent_syncthreads(void);

#ifdef __cplusplus
}
#endif
#endif
