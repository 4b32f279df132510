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
    char run_id[256]; /* experiment/preset/label/task[/n<size>]/lr<lr>[/rf<rf>]/seed<seed> */
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
    int grad_accum;
    int warmup;
    int max_source_length;
    int eval_every;  /* steps; 0: every epoch */
    long train_size; /* -1: the whole training split */
    long long memory_budget_bytes; /* 0: none */
    int n_options;
    struct run_option options[RUN_MAX_OPTIONS];
};

struct experiment_grid {
    char experiment[RUN_NAME_CAP];
    char preset[RUN_NAME_CAP];
    struct run_spec *runs;
    size_t n;
};

/* Load `path`, pick `preset`, expand, then keep the runs matching `only` (NULL: all;
 * "key=value,key=value": the same key repeated is an OR, different keys an AND; keys
 * method, label, task, seed, lr, rf, train_size) and then the shard `shard` (NULL: all;
 * "k/N": every N-th run starting at the k-th, 1-based). Errors name the file and the
 * JSON path ("presets.tiny.methods[2].lr"). A filter that keeps no run is an error. */
int experiment_expand(const char *path, const char *preset, const char *only, const char *shard,
                      struct experiment_grid *out);
void experiment_grid_free(struct experiment_grid *g);

/* "k/N" -> k, N with 1 <= k <= N. */
int experiment_parse_shard(const char *s, int *k, int *n);

/* The value of option `key` of a run, NULL when absent. */
const char *run_spec_option(const struct run_spec *r, const char *key);

#endif
