/* cuda_runtime.h of the CUDA emulator (tests/cudaemu): see cudaemu.h */
#include "cudaemu.h"
