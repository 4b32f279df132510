/* split.c: train/validation/test selection and subsampling (see split.h). */
#include "datasets/split.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "datasets/randperm.h"

#define LARGE_VALIDATION_SIZE 1000

const char *split_source(const struct task *t, const char *split) {
    int tr = !strcmp(split, "train"), va = !strcmp(split, "validation"),
        te = !strcmp(split, "test");
    if (!tr && !va && !te) {
        error_set("split %s: unknown (expected train, validation or test)", split);
        return NULL;
    }
    if (tr) return "train";
    switch (t->split) {
    case SPLIT_SMALL:
        return "validation";
    case SPLIT_LARGE:
        return va ? "train" : "validation";
    case SPLIT_MNLI:
        return va ? "validation_mismatched" : "validation_matched";
    }
    return NULL;
}

static size_t clamp_obs(long n_obs, size_t n) {
    return (n_obs < 0 || (size_t)n_obs > n) ? n : (size_t)n_obs;
}

int split_subsample(size_t n, uint64_t seed, long n_obs, size_t **idx, size_t *n_idx) {
    size_t *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) return error_set("split: out of memory for %zu indices", n);
    if (randperm(n, seed, p) < 0) {
        free(p);
        return -1;
    }
    *idx = p;
    *n_idx = clamp_obs(n_obs, n);
    return 0;
}

int split_select(const struct task *t, const char *split, size_t n, uint64_t seed, long n_obs,
                 size_t **idx, size_t *n_idx) {
    if (!split_source(t, split)) return -1;
    int tr = !strcmp(split, "train"), va = !strcmp(split, "validation");
    size_t lo, hi;
    if (t->split == SPLIT_SMALL && !tr) {
        lo = va ? 0 : n / 2;
        hi = va ? n / 2 : n;
    } else if (t->split == SPLIT_LARGE && (tr || va)) {
        size_t v = n < LARGE_VALIDATION_SIZE ? n : LARGE_VALIDATION_SIZE;
        lo = va ? 0 : v;
        hi = va ? v : n;
    } else if (n_obs >= 0) {
        return split_subsample(n, seed, n_obs, idx, n_idx);
    } else {
        size_t *p = malloc((n ? n : 1) * sizeof *p);
        if (!p) return error_set("split: out of memory for %zu indices", n);
        for (size_t i = 0; i < n; i++)
            p[i] = i;
        *idx = p;
        *n_idx = n;
        return 0;
    }
    size_t *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) return error_set("split: out of memory for %zu indices", n);
    if (randperm(n, seed, p) < 0) {
        free(p);
        return -1;
    }
    memmove(p, p + lo, (hi - lo) * sizeof *p);
    *idx = p;
    *n_idx = clamp_obs(n_obs, hi - lo);
    return 0;
}

int example_set_select(struct example_set *set, const size_t *idx, size_t n_idx) {
    struct example *ex = calloc(n_idx ? n_idx : 1, sizeof *ex);
    char *used = calloc(set->n ? set->n : 1, 1);
    if (!ex || !used) {
        free(ex);
        free(used);
        return error_set("split: out of memory");
    }
    for (size_t i = 0; i < n_idx; i++) {
        if (idx[i] >= set->n || used[idx[i]]) {
            free(ex);
            free(used);
            return error_set("split: index %zu out of range or repeated (set of %zu)", idx[i],
                             set->n);
        }
        used[idx[i]] = 1;
        ex[i] = set->ex[idx[i]];
    }
    for (size_t i = 0; i < set->n; i++)
        if (!used[i]) example_free(&set->ex[i]);
    free(used);
    free(set->ex);
    set->ex = ex;
    set->n = set->cap = n_idx;
    return 0;
}
