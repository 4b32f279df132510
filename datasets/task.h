/* task.h: the GLUE / SuperGLUE task suite of the Compacter reference
 * (seq2seq/data/tasks.py): the task table (archive folder, fields, HF label names,
 * text-to-text template, metrics, split rule), the example representation, loading a
 * split from the official archive layout, and formatting examples into source/target.
 *
 * Labels mirror the Hugging Face `datasets` versions (glue / super_glue) that the
 * reference loads: label = the ClassLabel integer, target = str(label):
 *   CoLA 0 unacceptable 1 acceptable | SST-2 0 negative 1 positive
 *   MRPC 0 not_equivalent 1 equivalent | QQP 0 not_duplicate 1 duplicate
 *   MNLI 0 entailment 1 neutral 2 contradiction | QNLI, RTE 0 entailment 1 not_entailment
 *   WNLI 0 not_entailment 1 entailment | BoolQ, WiC, MultiRC, WSC 0 False 1 True
 *   CB 0 entailment 1 contradiction 2 neutral (not MNLI's order) | COPA 0 choice1 1 choice2
 *   STS-B: the float score, target rounded (0.1 steps as the code, 0.2 as the paper)
 *   ReCoRD: no label; one example per gold answer, target = that answer. */
#ifndef COMPACTER_DATASETS_TASK_H
#define COMPACTER_DATASETS_TASK_H

#include <stddef.h>
#include <stdint.h>

#define TASK_MAX_FIELDS 4

enum task_source { TASK_GLUE_TSV, TASK_SUPERGLUE_JSONL };
enum task_template { TEMPLATE_PAIRS, TEMPLATE_MULTIRC, TEMPLATE_RECORD, TEMPLATE_WSC };
enum task_split_rule {
    SPLIT_SMALL, /* validation halved: first half validation, rest test; train as is */
    SPLIT_LARGE, /* first 1000 of shuffled train -> validation, rest train; validation -> test */
    SPLIT_MNLI   /* validation_mismatched -> validation, validation_matched -> test */
};
enum task_metric {
    METRIC_ACCURACY,
    METRIC_F1,       /* binary, positive class "1"; invalid -> opposite of gold */
    METRIC_MACRO_F1, /* mean F1 over classes 0..n_classes-1 (CB) */
    METRIC_MATTHEWS,
    METRIC_PEARSON,
    METRIC_SPEARMAN,
    METRIC_MULTIRC_F1, /* binary F1 over all answers */
    METRIC_MULTIRC_EM, /* per-question exact match, mean over questions */
    METRIC_SQUAD_EM,   /* ReCoRD: normalised EM, max over gold answers */
    METRIC_SQUAD_F1    /* ReCoRD: normalised token F1, max over gold answers */
};

struct task {
    const char *name;   /* CLI name: "rte", "boolq" */
    const char *prefix; /* the reference's task name, prepended by --prefix */
    const char *dir;    /* folder in the archive: "RTE", "ReCoRD" */
    enum task_source source;
    enum task_template tmpl;
    int n_fields;
    const char *keys[TASK_MAX_FIELDS]; /* template keys, in order ("hypothesis" in MNLI) */
    int n_classes;                     /* 0: regression (STS-B) or span (ReCoRD) */
    const char *classes[3];            /* HF ClassLabel names, id = index */
    int n_metrics;
    enum task_metric metrics[2];
    const char *metric_names[2]; /* as the reference's result keys */
    enum task_split_rule split;
};

/* One Hugging Face row (MultiRC: one answer; ReCoRD: one query), formatted on demand. */
struct example {
    char *text[TASK_MAX_FIELDS]; /* raw field texts in template order (ReCoRD: query,
                                    entities joined by ", " (sorted, unique), passage) */
    int label;                   /* HF ClassLabel id; -1 when none (STS-B, ReCoRD) */
    double score;                /* STS-B: the label as HF stores it (float32, widened) */
    long group;                  /* MultiRC: the question's idx; -1 otherwise */
    char **answers;              /* ReCoRD: gold answers (sorted, unique) */
    int n_answers;
    char *source, *target; /* after task_format() */
};

struct example_set {
    const struct task *task;
    struct example *ex;
    size_t n, cap;
};

struct task_options {
    int add_prefix;   /* prepend task->prefix (methods without task adapters) */
    double stsb_step; /* STS-B target rounding: 0.1 (reference code, default) or 0.2 */
    long n_obs;       /* low-resource: keep the first n_obs of the selected indices; <0 all */
    uint64_t seed;    /* split shuffle seed (42) */
};
/* {add_prefix 0, stsb_step 0.1, n_obs -1, seed 42} */
struct task_options task_options_default(void);

size_t task_count(void);
const struct task *task_at(size_t i);
/* By CLI name, reference name ("superglue-cb", "sst2", "stsb") or folder name
 * ("SST-2", case-insensitive). NULL (error set) when unknown. */
const struct task *task_find(const char *name);

/* Read one official file (GLUE .tsv or SuperGLUE .jsonl) into raw examples
 * (appended to *out, which must be zeroed or already hold this task's examples). */
int task_load_file(const struct task *t, const char *path, struct example_set *out);

/* Path of a raw split ("train", "validation", "validation_matched",
 * "validation_mismatched") under data_dir, trying <dir>/glue/<Task>/, <dir>/glue_data/<Task>/,
 * <dir>/<Task>/ (SuperGLUE: <dir>/superglue/<Task>/, <dir>/<Task>/). Returns 0 and writes
 * buf, or -1 naming every path tried. */
int task_split_path(const struct task *t, const char *data_dir, const char *raw_split, char *buf,
                    size_t cap);
int task_load_raw(const struct task *t, const char *data_dir, const char *raw_split,
                  struct example_set *out);

/* The reference's AbstractTask.get(split, add_prefix, n_obs, split_validation_test=True):
 * load, select the split (see split.h), subsample, format. split: train|validation|test. */
int task_get(const struct task *t, const char *data_dir, const char *split,
             const struct task_options *o, struct example_set *out);

/* Fill source/target of every example (ReCoRD: replaced by one example per answer;
 * no answer -> one example with target "<unk>"). */
int task_format(struct example_set *set, const struct task_options *o);

/* STS-B target string: np.round((label*5)/5, 1) (step 0.1) or round(label*5)/5 (0.2). */
void task_stsb_target(double label, double step, char *buf, size_t cap);

/* Internal helpers shared by the loaders. */
struct example *example_set_push(struct example_set *set);
void example_free(struct example *e);
void example_set_free(struct example_set *set);

#endif
