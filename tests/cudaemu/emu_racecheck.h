/* emu_racecheck.h: between the emulator's runtime (cudaemu.c, cublasemu.c) and its race,
 * bounds and initialisation checker (racecheck.c): the device allocation table they share and
 * what the scheduler tells the checker about the kernel it runs. Called in every emulator
 * build; only the racecheck build (`make emu-race`: kernels compiled with -fsanitize=thread)
 * records accesses. */
#ifndef COMPACTER_EMU_RACECHECK_H
#define COMPACTER_EMU_RACECHECK_H

#include <stddef.h>
#include <stdint.h>

/* A device allocation, in cudaemu.c's table (sorted by p); shadow and init belong to
 * racecheck.c, which fills them at the first access and frees them in emu_race_forget. */
struct emu_allocation {
    char *p;
    size_t bytes;
    void *shadow; /* racecheck's cells, a mapping of emu_race_shadow_bytes(bytes) */
    uint8_t *init; /* initcheck: a bit per 2-byte unit written since cudaMalloc */
};
/* cudaemu.c: the allocation starting closest at or below p (a candidate: p may lie past its
 * end), or NULL */
struct emu_allocation *emu_allocation_below(const void *p);

void emu_race_forget(struct emu_allocation *a); /* cudaFree: racecheck's memory for a goes */
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
