/* emu_racecheck.h: what the emulator's scheduler (cudaemu.c) tells the race detector
 * (racecheck.c) about the kernel it runs. Called in every emulator build; only the racecheck
 * build (`make emu-race`: kernels compiled with -fsanitize=thread) records accesses. */
#ifndef COMPACTER_EMU_RACECHECK_H
#define COMPACTER_EMU_RACECHECK_H

#include <stddef.h>
#include <stdint.h>

void emu_race_alloc(void *p, size_t bytes); /* cudaMalloc */
void emu_race_free(void *p);                /* cudaFree */
void emu_race_launch(const char *kernel);   /* a launch begins */
void emu_race_launch_end(void);
void emu_race_block(uint32_t linear_block); /* a block begins (its shared memory is new) */
void emu_race_thread(uint32_t linear_thread); /* the scheduler resumes this thread */
void emu_race_barrier(void);                  /* a __syncthreads completes */
void emu_race_warp_sync(uint32_t warp);       /* a __syncwarp of this warp completes */
/* initcheck (racecheck build only; no-ops otherwise): [p, p + bytes) of device memory is
 * written (a copy, a memset, a GEMM's output), or is read by `what`, which stops the program
 * if any of it was never written since cudaMalloc */
void emu_race_mark_init(const void *p, size_t bytes);
void emu_race_check_init(const void *p, size_t bytes, const char *what);

#endif
