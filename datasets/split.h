/* split.h: the reference's split rule (AbstractTask.get with split_validation_test=True)
 * and the low-resource subsample, on indices into a loaded raw split.
 *   small tasks (CoLA, MRPC, STS-B, RTE, WNLI, BoolQ, CB, COPA, MultiRC, WiC, SuperGLUE RTE):
 *     train = train; validation/test = randperm(len(validation))[:n//2] / [n//2:]
 *   large tasks (SST-2, QQP, QNLI, ReCoRD):
 *     validation/train = randperm(len(train))[:1000] / [1000:]; test = validation
 *   MNLI: train; validation = validation_mismatched; test = validation_matched
 * Then, when n_obs >= 0, the first n_obs of those indices; in the plain branches
 * (small train, large test, MNLI) n_obs takes the first n_obs of randperm(n).
 * randperm is torch.randperm with a generator seeded `seed` (42). */
#ifndef COMPACTER_DATASETS_SPLIT_H
#define COMPACTER_DATASETS_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "datasets/task.h"

/* The raw split to load for train|validation|test: "train", "validation",
 * "validation_matched" or "validation_mismatched". NULL (error set) for another name. */
const char *split_source(const struct task *t, const char *split);

/* Indices into the loaded raw split of size n, in order. *idx is malloc'd. */
int split_select(const struct task *t, const char *split, size_t n, uint64_t seed, long n_obs,
                 size_t **idx, size_t *n_idx);

/* Low-resource subsample: the first n_obs (clamped to n) of randperm(n, seed). */
int split_subsample(size_t n, uint64_t seed, long n_obs, size_t **idx, size_t *n_idx);

/* Keep set->ex[idx[0..n_idx-1]] in that order (indices distinct), freeing the rest. */
int example_set_select(struct example_set *set, const size_t *idx, size_t n_idx);

#endif
