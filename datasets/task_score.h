/* task_score.h: score decoded predictions against formatted examples, as the reference's
 * compute_metrics does: predictions are stripped, then compared as strings with the
 * targets; a prediction that is not one of the label strings is an invalid class
 * (F1: counted as the opposite of the gold label; accuracy / Matthews: wrong, each
 * distinct invalid string its own class; CB macro-F1: a miss of the gold class);
 * STS-B parses floats (unparsable -> -1), gold = the rounded target; a NaN correlation
 * is 0; ReCoRD uses the gold answer list of each example; MultiRC groups by question.
 * Every metric is x100; the task score is their mean. */
#ifndef COMPACTER_DATASETS_TASK_SCORE_H
#define COMPACTER_DATASETS_TASK_SCORE_H

#include <stddef.h>

#include "datasets/task.h"

struct task_result {
    int n_metrics;
    const char *names[2]; /* the reference's keys: "accuracy", "f1", "pearson", ... */
    double values[2];     /* x100 */
    double score;         /* mean of values */
    size_t n_invalid;     /* predictions that were no label string / number */
};

int task_score(const struct example_set *set, const char *const *preds, size_t n_preds,
               struct task_result *out);

#endif
