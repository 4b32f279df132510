/* splitmix.h: the splitmix64 generator (Steele, Lea, Flood 2014) used wherever the project
 * needs a small, seedable, reproducible stream (random weights, method initialisers, the
 * synthetic data, Intrinsic-SAID's projections: whose Python re-implementation in tools/
 * depends on exactly these constants). */
#ifndef COMPACTER_SPLITMIX_H
#define COMPACTER_SPLITMIX_H

#include <stdint.h>

#define SPLITMIX64_GAMMA 0x9E3779B97F4A7C15ull

/* The output function: a bijective mix of one 64-bit word. */
static inline uint64_t splitmix64_mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Advance *state by the gamma and return the next output. */
static inline uint64_t splitmix64(uint64_t *state) { return splitmix64_mix(*state += SPLITMIX64_GAMMA); }

/* The next output as a double uniform in [0, 1): its top 53 bits times 2^-53. */
static inline double splitmix64_unit(uint64_t *state) { return (double)(splitmix64(state) >> 11) * 0x1p-53; }

#endif
