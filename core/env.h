/* env.h: on/off switches read from the environment (debugging and A/B settings such as
 * COMPACTER_POISON_FREED, COMPACTER_KEEP_ATTENTION_PROBS, COMPACTER_OPTIM_PER_TENSOR). */
#ifndef COMPACTER_ENV_H
#define COMPACTER_ENV_H

#include <stdlib.h>
#include <string.h>

/* 1 if the variable is set to something other than "" or "0" */
static inline int env_flag(const char *name) {
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

/* 1 if the variable is set to exactly "0": a switch that is on by default turned off
 * (COMPACTER_BF16_STORAGE, COMPACTER_GEMM_PTR_CACHE) */
static inline int env_off(const char *name) {
    const char *v = getenv(name);
    return v && !strcmp(v, "0");
}

#endif
