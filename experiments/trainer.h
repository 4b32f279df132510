/* trainer.h: the training loop shared by `compacter train` and the runner: epochs over a
 * seq2seq dataset in a seeded order, gradient accumulation, AdamW with the linear schedule,
 * clipping, dropout from a resumable stream, checkpoints, a NaN guard. */
#ifndef COMPACTER_TRAINER_H
#define COMPACTER_TRAINER_H

#include "core/checkpoint.h"
#include "core/exec.h"
#include "core/t5_model.h"
#include "experiments/seq2seq_data.h"

struct trainer_point;
/* Called at the end of every period (see train_config.period) with the training state
 * consistent: the callback may evaluate the model (dropout and tape recording are off
 * during the call; the dropout stream's seed and position are restored after it, so what
 * the callback runs does not change training) and checkpoint it with trainer_checkpoint().
 * A non-zero return (with the error set) ends trainer_run with -1. */
typedef int (*period_callback)(void *ctx, const struct trainer_point *p);

struct train_config {
    int epochs;
    int batch;      /* examples per micro-batch */
    int grad_accum; /* micro-batches per optimizer step */
    int max_source_len, max_target_len;
    int64_t max_steps;  /* train for this many optimizer steps in all, whatever epochs (0: all epochs); sets the schedule */
    int64_t stop_after; /* leave after this many steps of this call (checkpointed; resume later) */
    uint64_t seed;
    int dropout;       /* 1: dropout on (training), 0: off */
    struct optim_config optim; /* total_steps is filled in by trainer_run when 0 */
    const char *save_path;     /* checkpoint written here (atomically) */
    int save_every;            /* steps between checkpoints (0: only at the end) */
    const char *config_json;   /* stored in checkpoints */
    period_callback on_period; /* NULL: none */
    void *period_ctx;
    int64_t period; /* steps between on_period calls, counted from step 0 of the run (not of
                       this call); 0: one epoch. on_period also follows the last step... */
    int period_multiples_only; /* ...unless this is set and the last step is past a multiple
                                  (the Trainer's eval_steps: its best checkpoint is chosen
                                  among the multiples; a run shorter than one period still
                                  gets the call after its last step) */
};

/* Where training is when on_period is called. */
struct trainer_point {
    int64_t step, total_steps; /* optimizer steps taken so far, in all */
    int epoch;                 /* epoch of the last step (1-based) */
    /* the training state, for trainer_checkpoint */
    const struct train_config *c;
    const struct trainable *tr;
    const struct optimizer *o;
    const struct exec *x;
};

/* Checkpoint the state at p (trained tensors, AdamW moments, step, dropout position) to
 * path (atomically); trainer_run(resume = path) continues from it bit for bit. */
int trainer_checkpoint(const struct trainer_point *p, const char *path);

struct step_info {
    int64_t step, total_steps;
    int epoch;
    double loss;    /* mean of the micro-batch losses of this step */
    double lr, grad_norm;
    double seconds; /* wall time of this step */
    /* NULL, or a warning to show once (at step TRAINER_GRAD_CHECK, or the last step if
     * fewer): trained tensors that no step gave a gradient */
    const char *warning;
};

/* The step after which trainer_run checks that every trained tensor got a gradient (LoRA's
 * A gets none at step 1, while B is zero: a few steps are needed). */
#define TRAINER_GRAD_CHECK 20

typedef void (*step_callback)(void *ctx, const struct step_info *s);

/* Number of optimizer steps trainer_run takes for these data and settings. */
int64_t trainer_total_steps(const struct train_config *c, int n_examples);
/* Optimizer steps in one epoch: floor(micro-batches / grad_accum), at least 1 (the
 * transformers 4.6 Trainer's count; the micro-batches left over go into the next epoch's
 * first step). */
int trainer_steps_per_epoch(const struct train_config *c, int n_examples);

/* Train tr's tensors of model m (plus whatever the forward uses) on d. resume: a checkpoint
 * path or NULL. The last step's state is checkpointed to c->save_path if set. c->on_period,
 * if set, is called at every period's end (a run evaluated every epoch is one call). */
int trainer_run(struct exec *x, struct t5_model *m, struct trainable *tr, const struct seq2seq_data *d,
                const struct train_config *c, const char *resume, step_callback cb, void *ctx);

#endif
