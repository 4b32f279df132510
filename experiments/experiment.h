/* experiment.h: experiment files (experiments/<name>.json) and their expansion into run
 * specs. A file holds named presets ("paper", "tiny"); each preset gives the model,
 * device, precision, seeds, shared hyper-parameters, a task list (with epochs) and a
 * method list where every method entry carries its own learning rates, reduction factors,
 * options and optional overrides (batch, grad_accum, warmup). The grid is
 * methods x tasks x train sizes x lrs x reduction factors x seeds, in that nesting order,
 * so run ids and their order are stable. Format: docs/RESULTS_FORMAT.md (section
 * "Experiment files"). */
#ifndef COMPACTER_EXPERIMENTS_EXPERIMENT_H
#define COMPACTER_EXPERIMENTS_EXPERIMENT_H

#include <stddef.h>

#define RUN_MAX_OPTIONS 16
#define RUN_NAME_CAP 64

struct run_option {
    char key[RUN_NAME_CAP];
    char value[128]; /* JSON strings as is; numbers as %.17g trimmed; booleans true/false */
};

struct run_spec {
    char run_id[320]; /* experiment/preset/label/task[/n<size>]/lr<lr>[/rf<rf>]/seed<seed>
                         [/batch-common|/batch-own (batch 0)][/set-<overrides>] */
    char experiment[RUN_NAME_CAP];
    char preset[RUN_NAME_CAP];
    char model[128];
    char method[RUN_NAME_CAP]; /* registry name */
    char label[RUN_NAME_CAP];  /* the method entry's "label" (default: method) */
    char task[RUN_NAME_CAP];
    char device[32];    /* "cpu", "cuda" */
    char precision[16]; /* "fp32", "bf16" */
    int seed;
    double lr;
    int reduction_factor; /* 0: not applicable to the method */
    int epochs;
    int batch;      /* 0: largest batch that fits memory_budget_bytes (efficiency) */
    /* with batch 0, the preset's "batch_policy": 1 "common" (the default: every run of a
     * task and seed at the largest batch all the preset's methods fit, so that memory and
     * time compare at one batch, as the paper's Table 3), 0 "per_method" (each run at the
     * largest batch it fits itself) */
    int batch_common;
    int grad_accum;
    int warmup;
    int max_source_length;
    /* STS-B's target rounding: 0.1 (the reference code's, which made the published numbers;
     * the default) or 0.2 (the paper's text: 21 classes), the preset's "stsb_step"; 0 for the
     * other tasks */
    double stsb_step;
    int eval_every;  /* steps; 0: every epoch */
    long train_size; /* -1: the whole training split */
    long long memory_budget_bytes; /* 0: none */
    long long max_steps;           /* --set max_steps: optimizer steps in all; 0: all epochs */
    long max_train_samples;        /* --set max_train_samples: training subsample; 0: all */
    char overrides[256]; /* the --set overrides, "key=value,..." sorted by key; "" when none */
    int n_options;
    struct run_option options[RUN_MAX_OPTIONS];
};

struct experiment_grid {
    char experiment[RUN_NAME_CAP];
    char preset[RUN_NAME_CAP];
    struct run_spec *runs;
    size_t n;
};

/* `--set key=value` overrides of a preset's fields, applied to every run of the grid after
 * expansion (over the preset's, the task's and the method entry's own values). Keys:
 * precision (fp32, tf32 or bf16: replaces the preset's "precision"), and integers: epochs
 * (>= 1; replaces every task's / train size's epochs), batch (>= 1), grad_accum (>= 1), warmup (>= 0), max_source_length (>= 1), eval_every (>= 0), max_steps
 * (>= 1: optimizer steps in all, sets the schedule), max_train_samples (>= 1: the first N of
 * the training split in the reference's seeded order, its --max_train_samples, the same
 * n_obs as the low-resource sizes; the efficiency grid times one epoch whatever epochs),
 * memory_budget_bytes (>= 1, up to 2^50: the budget of the batch search, so only for runs
 * with batch 0; an error on a run with a fixed batch). The
 * overrides are part of each run's identity: run_id gains "/set-<key=value,...>" (sorted by
 * key), so a results line of an overridden run never stands for the preset's own run. */
#define EXPERIMENT_MAX_SETS 16
struct experiment_sets {
    int n;
    char key[EXPERIMENT_MAX_SETS][32];
    char text[EXPERIMENT_MAX_SETS][32]; /* the value in canonical text ("2", "bf16") */
    long long value[EXPERIMENT_MAX_SETS]; /* integer keys' value; 0 for precision */
};
/* The overrides as the canonical "key=value,..." (sorted by key, as parsed) that run ids
 * and results lines carry; "" when none. 0 or -1 + error when it does not fit. */
int experiment_sets_text(const struct experiment_sets *s, char *out, size_t cap);
/* Parse items[i] = "key=value" (or "k=v,k=v"); a key given twice, an unknown key or a value
 * out of range is an error naming it. */
int experiment_parse_sets(const char *const *items, int n_items, struct experiment_sets *out);

/* Load `path`, pick `preset`, expand, then keep the runs matching `only` (NULL: all;
 * "key=value,key=value": the same key repeated is an OR, different keys an AND; keys
 * method, label, task, seed, lr, rf, train_size) and then the shard `shard` (NULL: all;
 * "k/N": every N-th run starting at the k-th, 1-based). Errors name the file and the
 * JSON path ("presets.tiny.methods[2].lr"). A filter that keeps no run is an error. */
int experiment_expand(const char *path, const char *preset, const char *only, const char *shard,
                      struct experiment_grid *out);
/* The same with --set overrides applied before --only and --shard (sets may be NULL). */
int experiment_expand_set(const char *path, const char *preset, const struct experiment_sets *sets,
                          const char *only, const char *shard, struct experiment_grid *out);
void experiment_grid_free(struct experiment_grid *g);

/* "k/N" -> k, N with 1 <= k <= N. */
int experiment_parse_shard(const char *s, int *k, int *n);

/* The value of option `key` of a run, NULL when absent. */
const char *run_spec_option(const struct run_spec *r, const char *key);

#endif
