/* randperm.c: torch's CPU mt19937 and randperm (see randperm.h). */
#include "datasets/randperm.h"

#include "core/error.h"

void mt19937_seed(struct mt19937 *g, uint64_t seed) {
    g->state[0] = (uint32_t)(seed & 0xFFFFFFFFu);
    for (uint32_t j = 1; j < 624; j++)
        g->state[j] = 1812433253u * (g->state[j - 1] ^ (g->state[j - 1] >> 30)) + j;
    g->next = 624;
}

static void mt19937_twist(struct mt19937 *g) {
    uint32_t *s = g->state;
    for (int i = 0; i < 624; i++) {
        uint32_t y = (s[i] & 0x80000000u) | (s[(i + 1) % 624] & 0x7FFFFFFFu);
        uint32_t v = s[(i + 397) % 624] ^ (y >> 1);
        if (y & 1u) v ^= 0x9908B0DFu;
        s[i] = v;
    }
    g->next = 0;
}

uint32_t mt19937_next(struct mt19937 *g) {
    if (g->next >= 624) mt19937_twist(g);
    uint32_t y = g->state[g->next++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9D2C5680u;
    y ^= (y << 15) & 0xEFC60000u;
    y ^= y >> 18;
    return y;
}

int randperm(size_t n, uint64_t seed, size_t *perm) {
    if (n >= RANDPERM_MAX_N)
        return error_set("randperm: n %zu is above torch's small-n bound %zu (not implemented)", n,
                         RANDPERM_MAX_N);
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    if (n < 2) return 0;
    struct mt19937 g;
    mt19937_seed(&g, seed);
    for (size_t i = 0; i + 1 < n; i++) {
        uint64_t z = (uint64_t)mt19937_next(&g) % (uint64_t)(n - i);
        size_t t = perm[i];
        perm[i] = perm[i + z];
        perm[i + z] = t;
    }
    return 0;
}
