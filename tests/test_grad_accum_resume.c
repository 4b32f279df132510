/* test_grad_accum_resume.c: the transformers 4.6 accumulation rule (floor(micro-batches /
 * accum) steps an epoch, the leftover micro-batches carried into the next epoch's first step)
 * resumed from the step alone: runs split at every step boundary (mid-epoch, at an epoch's
 * end, at a carried step) end bitwise where one uninterrupted run ends, with dropout on; for
 * grad_accum 3 over 11 micro-batches (the last one short) and an epoch of fewer micro-batches
 * than grad_accum. */
#include "tests/check.h"

#include <unistd.h>

#include "core/error.h"
#include "experiments/trainer.h"

static char dir[128];

static void make_data(struct seq2seq_data *d, int n) {
    unsigned s = 99;
    for (int i = 0; i < n; i++) {
        int32_t src[16], tgt[3];
        int len = 3 + (int)((s = s * 1103515245u + 12345u) >> 16) % 9;
        for (int j = 0; j < len; j++) src[j] = 2 + (int)((s = s * 1103515245u + 12345u) >> 16) % 90;
        src[len - 1] = 1;
        tgt[0] = src[0], tgt[1] = src[1], tgt[2] = 1;
        seq2seq_add(d, src, len, tgt, 3);
    }
}

/* one trainer_run from `resume` (NULL: the start) for at most `stop_after` steps (0: to the
 * end), checkpointed to `save`; the steps it took in *steps */
static int segment(int n_examples, int batch, int accum, int epochs, const char *resume, int64_t stop_after,
                   const char *save, int64_t *steps) {
    struct t5_model m;
    struct exec x;
    struct trainable tr;
    struct seq2seq_data d = {0};
    if (t5_model_load(&m, "tests/fixtures/t5/v10", &backend_cpu) || exec_init(&x, &backend_cpu)) return -1;
    make_data(&d, n_examples);
    struct tensor **ts = malloc(sizeof *ts * (size_t)m.n_params);
    for (int i = 0; i < m.n_params; i++) ts[i] = &m.params[i];
    int rc = trainable_init(&tr, &backend_cpu, ts, m.n_params, NULL);
    free(ts);
    struct train_config c = {.epochs = epochs, .batch = batch, .grad_accum = accum, .max_source_len = 32,
                             .max_target_len = 8, .stop_after = stop_after, .seed = 17, .dropout = 1,
                             .save_path = save, .config_json = "{}"};
    c.optim = optim_defaults(1e-2, 2, 0);
    *steps = trainer_total_steps(&c, d.n);
    if (!rc) rc = trainer_run(&x, &m, &tr, &d, &c, resume, NULL, NULL);
    trainable_free(&tr);
    seq2seq_free(&d);
    exec_free(&x);
    t5_model_free(&m);
    return rc;
}

static void check_splits(int n_examples, int batch, int accum, int epochs, int64_t want_steps) {
    char straight[256], split[256];
    snprintf(straight, sizeof straight, "%s/straight.safetensors", dir);
    snprintf(split, sizeof split, "%s/split.safetensors", dir);
    int64_t total = 0;
    CHECK(segment(n_examples, batch, accum, epochs, NULL, 0, straight, &total) == 0, "straight: %s", error_message());
    CHECK(total == want_steps, "%d examples, batch %d, accum %d, %d epochs: %lld steps, want %lld", n_examples, batch,
          accum, epochs, (long long)total, (long long)want_steps);
    /* every way of cutting the run in two, and a run of single steps */
    for (int64_t cut = 1; cut < total; cut++) {
        int64_t t;
        int rc = segment(n_examples, batch, accum, epochs, NULL, cut, split, &t) ||
                 segment(n_examples, batch, accum, epochs, split, 0, split, &t);
        CHECK(rc == 0, "split at %lld: %s", (long long)cut, error_message());
        CHECK(!rc && files_identical(straight, split), "%d examples, batch %d, accum %d: stopped after step %lld and "
              "resumed: not the uninterrupted run's checkpoint", n_examples, batch, accum, (long long)cut);
    }
    int rc = 0;
    for (int64_t s = 0; s < total && !rc; s++) {
        int64_t t;
        rc = segment(n_examples, batch, accum, epochs, s ? split : NULL, 1, split, &t);
    }
    CHECK(rc == 0 && files_identical(straight, split), "%d examples, accum %d: one step a call: %s", n_examples, accum,
          rc ? error_message() : "checkpoints differ");
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/compacter-accum-resume-%d", (int)getpid());
    mkdir(dir, 0755);
    check_splits(21, 2, 3, 3, 9); /* 11 micro-batches: 3 steps an epoch, 2 carried (one of 1 example) */
    check_splits(5, 2, 4, 3, 3);  /* 3 micro-batches < accum 4: 1 step an epoch of all 3 */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) fprintf(stderr, "cleanup failed\n");
    CHECK_DONE();
}
