/* test_trainer_period.c: the trainer's period callback (train_config.on_period), which the
 * runner uses to evaluate every epoch inside one trainer_run.
 *  - it is called at every multiple of `period` steps and after the last step, counted from
 *    step 0 of the run (a resumed run keeps the same points), and at every epoch's end
 *    when period is 0; with period_multiples_only, after the last step only when the run is
 *    shorter than one period;
 *  - what the callback runs does not change training: a callback that runs a forward pass
 *    with dropout forced on (advancing the dropout stream) leaves the final checkpoint
 *    bitwise identical to a run without callback (dropout on, so the stream matters);
 *  - trainer_checkpoint() inside the callback makes a checkpoint that resumes to the same
 *    final state, bitwise;
 *  - a failing callback stops training with its error.
 * Expected values: the straight run without callback (the property is that the callback
 * changes nothing) and the period rule itself. */
#include "tests/check.h"

#include <unistd.h>

#include "core/error.h"
#include "experiments/trainer.h"

static char dir[128];

struct fixture {
    struct t5_model m;
    struct exec x;
    struct trainable tr;
    struct seq2seq_data d;
};

static int setup(struct fixture *f) {
    memset(f, 0, sizeof *f);
    if (t5_model_load(&f->m, "tests/fixtures/t5/v10", &backend_cpu) || exec_init(&f->x, &backend_cpu)) return -1;
    unsigned s = 7;
    for (int i = 0; i < 14; i++) { /* copy the first two tokens */
        int32_t src[12], tgt[3];
        int len = 4 + i % 7;
        for (int j = 0; j < len; j++) src[j] = 2 + (int)((s = s * 1103515245u + 12345u) >> 16) % 90;
        src[len - 1] = 1;
        tgt[0] = src[0], tgt[1] = src[1], tgt[2] = 1;
        if (seq2seq_add(&f->d, src, len, tgt, 3)) return -1;
    }
    struct tensor **ts = malloc(sizeof *ts * (size_t)f->m.n_params);
    if (!ts) return -1;
    for (int i = 0; i < f->m.n_params; i++) ts[i] = &f->m.params[i];
    int rc = trainable_init(&f->tr, &backend_cpu, ts, f->m.n_params, NULL);
    free(ts);
    return rc;
}

static void teardown(struct fixture *f) {
    trainable_free(&f->tr);
    seq2seq_free(&f->d);
    exec_free(&f->x);
    t5_model_free(&f->m);
}

/* 14 examples, batch 4: 4 steps an epoch; 2 epochs capped at 7 steps. Dropout on. */
static struct train_config config(const char *save) {
    struct train_config c = {.epochs = 2, .batch = 4, .grad_accum = 1, .max_source_len = 32,
                             .max_target_len = 8, .max_steps = 7, .seed = 11, .dropout = 1, .save_path = save};
    c.optim = optim_defaults(1e-2, 2, 0);
    return c;
}

struct probe {
    struct fixture *f;
    int64_t steps[16];
    int epochs[16];
    int n;
    const char *ckpt_path; /* trainer_checkpoint here at ckpt_step */
    int64_t ckpt_step;
    int fail_at; /* return an error at this call (1-based; 0: never) */
    int forward; /* run a forward pass with dropout forced on */
    int saw_training, saw_record;
};

static int on_period(void *ctx, const struct trainer_point *p) {
    struct probe *pr = ctx;
    if (pr->n < 16) {
        pr->steps[pr->n] = p->step;
        pr->epochs[pr->n] = p->epoch;
    }
    pr->n++;
    pr->saw_training |= pr->f->x.training;
    pr->saw_record |= pr->f->x.record;
    if (pr->fail_at == pr->n) return error_set("probe: failing at step %lld", (long long)p->step);
    if (pr->ckpt_path && p->step == pr->ckpt_step && trainer_checkpoint(p, pr->ckpt_path)) return -1;
    if (pr->forward) { /* an evaluation that (wrongly) leaves dropout on: it must not matter */
        struct seq2seq_batch b = {0};
        int idx[3] = {0, 5, 9};
        struct t5_outputs out;
        pr->f->x.training = 1;
        int rc = seq2seq_make_batch(&b, &pr->f->d, idx, 3, 32, 8, &pr->f->m.cfg);
        if (!rc) rc = t5_forward(&pr->f->x, &pr->f->m, &b.b, &out);
        seq2seq_batch_free(&b);
        if (rc) return -1;
    }
    return 0;
}

/* One trainer_run on a fresh model; probe (may be NULL) as the period callback. */
static int multiples_only; /* train_config.period_multiples_only for the next train() */

static int train(const char *save, const char *resume, int64_t period, struct probe *pr) {
    struct fixture f;
    if (setup(&f)) {
        teardown(&f);
        return -1;
    }
    struct train_config c = config(save);
    if (pr) {
        pr->f = &f;
        c.on_period = on_period;
        c.period_ctx = pr;
        c.period = period;
        c.period_multiples_only = multiples_only;
    }
    int rc = trainer_run(&f.x, &f.m, &f.tr, &f.d, &c, resume, NULL, NULL);
    if (pr) pr->f = NULL;
    teardown(&f);
    return rc;
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/compacter-period-%d", (int)getpid());
    mkdir(dir, 0755);
    char straight[256], with_cb[256], mid[256], resumed[256];
    snprintf(straight, sizeof straight, "%s/straight.safetensors", dir);
    snprintf(with_cb, sizeof with_cb, "%s/callback.safetensors", dir);
    snprintf(mid, sizeof mid, "%s/mid.safetensors", dir);
    snprintf(resumed, sizeof resumed, "%s/resumed.safetensors", dir);

    CHECK(train(straight, NULL, 0, NULL) == 0, "straight run: %s", error_message());

    /* every 2 steps of 7: 2, 4, 6 and the last, 7; a forward pass with dropout in each */
    struct probe p = {.ckpt_path = mid, .ckpt_step = 4, .forward = 1};
    CHECK(train(with_cb, NULL, 2, &p) == 0, "run with callback: %s", error_message());
    CHECK(p.n == 4 && p.steps[0] == 2 && p.steps[1] == 4 && p.steps[2] == 6 && p.steps[3] == 7,
          "period 2: %d calls (%lld %lld %lld %lld)", p.n, (long long)p.steps[0], (long long)p.steps[1],
          (long long)p.steps[2], (long long)p.steps[3]);
    CHECK(p.epochs[0] == 1 && p.epochs[1] == 1 && p.epochs[2] == 2 && p.epochs[3] == 2, "epochs %d %d %d %d",
          p.epochs[0], p.epochs[1], p.epochs[2], p.epochs[3]);
    /* multiples only (the Trainer's eval_steps): 2, 4, 6, not the last (7); a period past the
     * run (8): the last step only */
    multiples_only = 1;
    struct probe pm = {0}, pl = {0};
    CHECK(train(NULL, NULL, 2, &pm) == 0 && train(NULL, NULL, 8, &pl) == 0, "multiples only: %s", error_message());
    multiples_only = 0;
    CHECK(pm.n == 3 && pm.steps[0] == 2 && pm.steps[1] == 4 && pm.steps[2] == 6, "multiples only, period 2: %d calls",
          pm.n);
    CHECK(pl.n == 1 && pl.steps[0] == 7, "multiples only, period 8 over 7 steps: %d calls (first at %lld)", pl.n,
          (long long)pl.steps[0]);
    CHECK(!p.saw_training && !p.saw_record, "the callback ran with dropout %d / recording %d on", p.saw_training,
          p.saw_record);
    CHECK(files_identical(straight, with_cb), "a callback that ran a dropout forward pass changed training");
    printf("  ok period 2: called at steps 2 4 6 7; final checkpoint identical to the straight run\n");

    /* resumed from the callback's checkpoint at step 4, period 3: points 6 and 7 (multiples
     * of 3 from step 0 of the run, not of this call), the same final state */
    struct probe q = {0};
    CHECK(train(resumed, mid, 3, &q) == 0, "resumed run: %s", error_message());
    CHECK(q.n == 2 && q.steps[0] == 6 && q.steps[1] == 7, "resumed, period 3: %d calls (%lld %lld)", q.n,
          (long long)q.steps[0], (long long)q.steps[1]);
    CHECK(files_identical(straight, resumed), "resumed from trainer_checkpoint at step 4: a different final state");
    printf("  ok trainer_checkpoint at step 4 resumes to the same final state\n");

    /* period 0: every epoch's end (4 steps an epoch) and the last step */
    struct probe e = {0};
    CHECK(train(NULL, NULL, 0, &e) == 0, "epoch run: %s", error_message());
    CHECK(e.n == 2 && e.steps[0] == 4 && e.steps[1] == 7, "period 0: %d calls (%lld %lld)", e.n,
          (long long)e.steps[0], (long long)e.steps[1]);

    /* a failing callback stops training with its error */
    struct probe bad = {.fail_at = 2};
    CHECK(train(NULL, NULL, 0, &bad) != 0 && bad.n == 2 && strstr(error_message(), "probe: failing at step 7"),
          "a failing callback: %d calls, error '%s'", bad.n, error_message());
    printf("  ok period 0: every epoch's end; a failing callback stops the run\n");

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) fprintf(stderr, "cleanup failed\n");
    CHECK_DONE();
}
