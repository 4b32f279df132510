/* metrics.h: the evaluation metrics of the reference (seq2seq/metrics/metrics.py, itself
 * from T5's t5/evaluation/metrics.py), on parsed values, as fractions (not x100):
 * accuracy, binary F1 (sklearn f1_score, positive class 1), macro F1 over a fixed label
 * range (sklearn fbeta_score beta=1 average="macro" labels=range(k)), Matthews
 * correlation (sklearn, multiclass form, label set = union of gold and predicted),
 * Pearson and Spearman (scipy; ties get average ranks; NaN when undefined), SQuAD
 * normalisation and EM / token F1 (T5 qa_utils), and the per-group exact match used
 * for MultiRC (T5 mean_group_metric(exact_match)). Undefined F1 (0/0) is 0, as sklearn's
 * zero_division default; Matthews with a zero denominator is 0, as sklearn. */
#ifndef COMPACTER_DATASETS_METRICS_H
#define COMPACTER_DATASETS_METRICS_H

#include <stddef.h>

double metric_accuracy(const int *pred, const int *gold, size_t n);
/* A prediction other than 0 or 1 counts as the opposite of its gold label. */
double metric_f1_binary(const int *pred, const int *gold, size_t n);
/* Predictions outside 0..n_classes-1 count as misses of their gold class only. */
double metric_f1_macro(const int *pred, const int *gold, size_t n, int n_classes);
double metric_matthews(const int *pred, const int *gold, size_t n);
double metric_pearson(const double *x, const double *y, size_t n);
double metric_spearman(const double *x, const double *y, size_t n);
/* 1-based ranks, ties averaged (scipy.stats.rankdata "average"). Returns -1 on OOM. */
int metric_rank_average(const double *x, size_t n, double *rank);

/* T5 normalize_squad: lower-case, drop string.punctuation, articles (a|an|the as words)
 * -> space, collapse whitespace. ASCII only: other bytes are kept as word characters.
 * Returns a malloc'd string (NULL on OOM). */
char *metric_squad_normalize(const char *s);
/* Max over gold answers of exact match / token F1 of the normalised strings. 0 when
 * there is no gold answer. */
double metric_squad_em(const char *pred, const char *const *golds, int n_golds);
double metric_squad_f1(const char *pred, const char *const *golds, int n_golds);

/* Mean over groups (in order of first appearance) of [all pred == gold in the group]. */
double metric_group_exact_match(const int *pred, const int *gold, const long *group, size_t n);

#endif
