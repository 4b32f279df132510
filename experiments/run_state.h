/* run_state.h: what a run has done so far, kept in <run dir>/progress.json so a killed
 * run resumes where it was: the evaluations done (step, epoch, mean train loss, validation
 * metrics), the best one and its method-only weights file, the checkpoint of the last
 * evaluation point, accumulated train/eval time and peak memory, and the run's effective
 * configuration (a state made for another configuration is discarded).
 * progress.json is the commit point: it is written atomically after the checkpoint and
 * the best weights it names, so files it does not name are leftovers of a killed attempt. */
#ifndef COMPACTER_EXPERIMENTS_RUN_STATE_H
#define COMPACTER_EXPERIMENTS_RUN_STATE_H

#include <stdint.h>

struct run_eval {
    int epoch;
    int64_t step;
    double train_loss; /* mean of the step losses since the previous evaluation */
    int n_metrics;
    char names[2][32];
    double values[2];
    double score;
};

struct run_state {
    char *config; /* the effective configuration (JSON text) */
    struct run_eval *evals;
    int n, cap;
    int best;            /* index into evals; -1: none yet */
    char ckpt[128];      /* file in the run dir: the checkpoint after the last evaluation */
    char best_file[128]; /* file in the run dir: method-only weights of evals[best] */
    double train_time_s, eval_time_s;
    int64_t peak_bytes;
    int attempts; /* processes that worked on the run */
};

/* Absent file: an empty state (0). Unreadable or malformed: -1 naming the file. */
int run_state_load(struct run_state *s, const char *path);
int run_state_save(const struct run_state *s, const char *path);
int run_state_push(struct run_state *s, const struct run_eval *e);
void run_state_free(struct run_state *s);

#endif
