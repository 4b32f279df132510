/* evaluate.h: a task split as the runner uses it (formatted examples and their token ids),
 * and scoring a model on it by greedy decoding, as the reference's evaluation does:
 * generate(max_length 20, greedy), batch_decode(skip_special_tokens=True) with
 * transformers' clean-up, then the task's metrics (datasets/task_score.h). */
#ifndef COMPACTER_EXPERIMENTS_EVALUATE_H
#define COMPACTER_EXPERIMENTS_EVALUATE_H

#include "core/exec.h"
#include "core/t5_model.h"
#include "datasets/task.h"
#include "datasets/task_score.h"
#include "experiments/seq2seq_data.h"

struct tokenizer;

struct task_split {
    struct example_set ex;   /* formatted source/target strings (and what the metrics need) */
    struct seq2seq_data ids; /* the same examples tokenized (source and target end with </s>) */
};

/* task_get(t, data_dir, split, o) then tokenize every source and target with tok. */
int task_split_load(struct task_split *s, const struct task *t, const char *data_dir,
                    const char *split, const struct task_options *o, const struct tokenizer *tok);
void task_split_free(struct task_split *s);

#define EVAL_MAX_LENGTH 20 /* the reference's generation max_length */

/* Greedy-decode every example (batches of `batch`, sources truncated to max_source_len),
 * decode, score. Dropout and the tape are off; the exec's activations are reset after each batch. */
int evaluate_split(struct exec *x, const struct t5_model *m, const struct tokenizer *tok,
                   const struct task_split *s, int batch, int max_source_len,
                   struct task_result *out);

#endif
