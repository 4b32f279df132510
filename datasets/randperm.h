/* randperm.h: torch.randperm(n, generator=torch.Generator().manual_seed(seed)) in C.
 * The generator is torch's CPU mt19937 (Matsumoto-Nishimura init_genrand, one 32-bit
 * draw per random()); the shuffle is randperm_cpu's small-n loop
 * (for i in 0..n-2: z = random() % (n-i); swap r[i], r[i+z]), as
 * docs exact-behaviours.md section 4 describes. Only n < 214748364 (torch switches
 * algorithm above that). */
#ifndef COMPACTER_DATASETS_RANDPERM_H
#define COMPACTER_DATASETS_RANDPERM_H

#include <stddef.h>
#include <stdint.h>

struct mt19937 {
    uint32_t state[624];
    int next; /* index of the next word; 624 = regenerate before the next draw */
};

/* Seed like at::mt19937(seed): only the low 32 bits of the seed are used. */
void mt19937_seed(struct mt19937 *g, uint64_t seed);
uint32_t mt19937_next(struct mt19937 *g);

/* The largest n randperm() handles (torch's small-n bound, UINT32_MAX/20). */
#define RANDPERM_MAX_N ((size_t)214748364)

/* Fill perm[0..n-1] with torch.randperm(n) for a generator seeded `seed`.
 * Returns 0, or -1 (error set) when n is too large. */
int randperm(size_t n, uint64_t seed, size_t *perm);

#endif
