/* trainer.c: the training loop. */
#include "experiments/trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "datasets/randperm.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int batches_per_epoch(const struct train_config *c, int n) { return (n + c->batch - 1) / c->batch; }

/* Gradient accumulation as the reference's transformers 4.6 Trainer does it: an epoch of bpe
 * micro-batches makes floor(bpe / accum) optimizer steps (one when bpe <= accum, from all of
 * them); every micro-batch's loss is scaled by 1 / accum; the bpe % accum micro-batches left at
 * an epoch's end (bpe > accum) add their gradients to the next epoch's first step (the
 * Trainer zeroes gradients only after a step), and those of the last epoch are never used. */
static int steps_per_epoch(const struct train_config *c, int n) {
    int s = batches_per_epoch(c, n) / c->grad_accum;
    return s > 0 ? s : 1;
}

int trainer_steps_per_epoch(const struct train_config *c, int n_examples) { return steps_per_epoch(c, n_examples); }

int64_t trainer_total_steps(const struct train_config *c, int n_examples) {
    /* max_steps, when set, is the number of steps whatever the epochs (as the Trainer's
     * max_steps overrides num_train_epochs): epochs go on, each a fresh order, until it */
    return c->max_steps > 0 ? c->max_steps : (int64_t)c->epochs * steps_per_epoch(c, n_examples);
}

static int save_to(const char *path, const struct train_config *c, const struct trainable *tr,
                   const struct optimizer *o, const struct exec *x, int64_t step) {
    struct train_state s = {step, c->seed, x->rng_offset};
    return checkpoint_save(path, tr, o, &s, c->config_json);
}

static int save(const struct train_config *c, const struct trainable *tr, const struct optimizer *o,
                const struct exec *x, int64_t step) {
    return c->save_path ? save_to(c->save_path, c, tr, o, x, step) : 0;
}

int trainer_checkpoint(const struct trainer_point *p, const char *path) {
    if (!p || !p->c || !path) return error_set("trainer_checkpoint: no training state or path");
    return save_to(path, p->c, p->tr, p->o, p->x, p->step);
}

/* on_period with training switched off, the dropout stream put back after it. */
static int period_end(struct exec *x, const struct train_config *c, const struct trainable *tr,
                      const struct optimizer *o, int64_t step, int64_t total, int epoch) {
    struct trainer_point p = {step, total, epoch, c, tr, o, x};
    int training = x->training, record = x->record;
    uint64_t seed = x->seed, offset = x->rng_offset;
    x->training = 0;
    x->record = 0;
    int rc = c->on_period(c->period_ctx, &p);
    exec_reset(x); /* whatever the callback left in the arenas */
    x->training = training;
    x->record = record;
    x->seed = seed;
    x->rng_offset = offset;
    return rc ? -1 : 0;
}

int trainer_run(struct exec *x, struct t5_model *m, struct trainable *tr, const struct seq2seq_data *d,
                const struct train_config *cin, const char *resume, step_callback cb, void *ctx) {
    struct train_config c = *cin;
    if (c.batch < 1 || c.grad_accum < 1 || c.epochs < 1) return error_set("batch, grad_accum and epochs must be >= 1");
    if (d->n == 0) return error_set("no training examples");
    int64_t total = trainer_total_steps(&c, d->n);
    if (c.optim.total_steps == 0) c.optim.total_steps = (int)total;
    struct optimizer o;
    if (optimizer_init(&o, tr, &c.optim)) return -1;
    x->seed = c.seed;
    x->rng_offset = 0;
    int64_t step = 0;
    if (resume) {
        struct train_state s;
        if (checkpoint_load(resume, tr, &o, &s)) {
            optimizer_free(&o);
            return -1;
        }
        if (s.seed != c.seed) {
            optimizer_free(&o);
            return error_set("%s: checkpoint was trained with seed %llu, this run uses %llu", resume,
                             (unsigned long long)s.seed, (unsigned long long)c.seed);
        }
        step = s.step;
        x->rng_offset = s.rng_offset;
    }
    const int64_t first_step = step; /* the gradient check looks at this call's steps */
    int bpe = batches_per_epoch(&c, d->n), spe = steps_per_epoch(&c, d->n);
    int tail = bpe > c.grad_accum ? bpe % c.grad_accum : 0; /* carried into the next epoch */
    size_t *perm = malloc(sizeof(size_t) * (size_t)d->n), *perm_prev = tail ? malloc(sizeof(size_t) * (size_t)d->n) : NULL;
    int *idx = malloc(sizeof(int) * (size_t)c.batch);
    int rc = (!perm || !idx || (tail && !perm_prev)) ? error_set("out of memory") : 0;
    int perm_epoch = -1;
    struct seq2seq_batch b = {0}; /* host arrays reused by every micro-batch */
    int64_t stop = c.stop_after > 0 && step + c.stop_after < total ? step + c.stop_after : total;
    int64_t period = c.period > 0 ? c.period : spe;
    x->training = c.dropout;
    x->record = 1;
    while (!rc && step < stop) {
        int epoch = (int)(step / spe);
        if (epoch != perm_epoch) { /* a fresh seeded order per epoch: resumable from the step alone */
            if ((rc = randperm((size_t)d->n, c.seed + (uint64_t)epoch, perm))) break;
            perm_epoch = epoch;
        }
        int first_batch = (int)(step % spe) * c.grad_accum;
        int n_micro = bpe <= c.grad_accum ? bpe : c.grad_accum;
        /* the previous epoch's last micro-batches first (a fresh order per epoch: resumable) */
        int carried = tail && step % spe == 0 && epoch > 0 ? tail : 0;
        if (carried && (rc = randperm((size_t)d->n, c.seed + (uint64_t)(epoch - 1), perm_prev))) break;
        double t0 = now(), loss_sum = 0;
        if ((rc = trainable_zero_grad(tr))) break;
        for (int mb = -carried; mb < n_micro && !rc; mb++) {
            const size_t *order = mb < 0 ? perm_prev : perm;
            int batch_no = mb < 0 ? spe * c.grad_accum + carried + mb : first_batch + mb;
            int start = batch_no * c.batch, n = d->n - start < c.batch ? d->n - start : c.batch;
            for (int i = 0; i < n; i++) idx[i] = (int)order[start + i];
            if ((rc = seq2seq_make_batch(&b, d, idx, n, c.max_source_len, c.max_target_len, &m->cfg))) break;
            struct t5_outputs out;
            rc = t5_forward(x, m, &b.b, &out);
            float loss = NAN;
            if (!rc) rc = exec_download(x, out.loss, &loss);
            if (!rc && !isfinite(loss)) {
                /* checkpoints are never written with non-finite values: one at save_path is good */
                int kept = c.save_path && access(c.save_path, F_OK) == 0;
                rc = error_set("loss is %s at step %lld (epoch %d)%s%s", isnan(loss) ? "NaN" : loss > 0 ? "inf" : "-inf",
                               (long long)step + 1, epoch + 1, kept ? "; the last good checkpoint is " : "",
                               kept ? c.save_path : "");
            }
            if (!rc) rc = backward(x, c.grad_accum > 1 ? op_scale(x, out.loss, 1.0f / (float)c.grad_accum) : out.loss);
            loss_sum += loss;
            exec_reset(x);
        }
        if (rc) break;
        struct step_info si = {step + 1, total, epoch + 1, loss_sum / (n_micro + carried), optimizer_lr(&o), 0, 0};
        if ((rc = optimizer_step(&o))) break;
        step++;
        si.grad_norm = o.last_grad_norm;
        si.seconds = now() - t0;
        char warning[512], names[256];
        int64_t check = total < TRAINER_GRAD_CHECK ? total : TRAINER_GRAD_CHECK;
        int missing = step == check && step > first_step ? trainable_without_grad(tr, names, sizeof names) : 0;
        if (missing) {
            snprintf(warning, sizeof warning,
                     "%d of %d trained tensors got no gradient in %lld steps (%s%s): the loss does not reach them, "
                     "so training leaves them as they are (a method that does not use its parameters?)",
                     missing, tr->n, (long long)step, names, missing > 3 ? ", ..." : "");
            si.warning = warning;
        }
        if (cb) cb(ctx, &si);
        if (c.save_every > 0 && step % c.save_every == 0 && step < stop) rc = save(&c, tr, &o, x, step);
        int at_end = step == total && (!c.period_multiples_only || total < period);
        if (!rc && c.on_period && (step % period == 0 || at_end))
            rc = period_end(x, &c, tr, &o, step, total, epoch + 1);
    }
    x->record = 0;
    x->training = 0;
    if (!rc) rc = save(&c, tr, &o, x, step);
    seq2seq_batch_free(&b);
    free(perm);
    free(perm_prev);
    free(idx);
    optimizer_free(&o);
    return rc;
}
