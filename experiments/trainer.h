/* trainer.h: the training loop shared by `compacter train` and the runner: epochs over a
 * seq2seq dataset in a seeded order, gradient accumulation, AdamW with the linear schedule,
 * clipping, dropout from a resumable stream, checkpoints, a NaN guard. */
#ifndef COMPACTER_TRAINER_H
#define COMPACTER_TRAINER_H

#include "core/checkpoint.h"
#include "core/exec.h"
#include "core/t5_model.h"
#include "experiments/seq2seq_data.h"

struct train_config {
    int epochs;
    int batch;      /* examples per micro-batch */
    int grad_accum; /* micro-batches per optimizer step */
    int max_source_len, max_target_len;
    int64_t max_steps;  /* train for this many optimizer steps in all (0: all epochs); sets the schedule */
    int64_t stop_after; /* leave after this many steps of this call (checkpointed; resume later) */
    uint64_t seed;
    int dropout;       /* 1: dropout on (training), 0: off */
    struct optim_config optim; /* total_steps is filled in by trainer_run when 0 */
    const char *save_path;     /* checkpoint written here (atomically) */
    int save_every;            /* steps between checkpoints (0: only at the end) */
    const char *config_json;   /* stored in checkpoints */
};

struct step_info {
    int64_t step, total_steps;
    int epoch;
    double loss;    /* mean of the micro-batch losses of this step */
    double lr, grad_norm;
    double seconds; /* wall time of this step */
};

typedef void (*step_callback)(void *ctx, const struct step_info *s);

/* Number of optimizer steps trainer_run takes for these data and settings. */
int64_t trainer_total_steps(const struct train_config *c, int n_examples);

/* Train tr's tensors of model m (plus whatever the forward uses) on d. resume: a checkpoint
 * path or NULL. The last step's state is checkpointed to c->save_path if set. */
int trainer_run(struct exec *x, struct t5_model *m, struct trainable *tr, const struct seq2seq_data *d,
                const struct train_config *c, const char *resume, step_callback cb, void *ctx);

#endif
