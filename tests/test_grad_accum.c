/* test_grad_accum.c: gradient accumulation. With every target of the same length, 2
 * micro-batches of 2 examples accumulated (each loss scaled by 1/2, as the HF Trainer
 * does) must give the gradient of one batch of 4 (|a-b| <= 1e-6 + 1e-4|b|; only the order
 * of float sums differs). The trainer leaves the last step's gradient in place.
 * The epoch's tail as the reference's transformers 4.6 Trainer handles it: 12 examples at
 * batch 4 with 2 accumulated are 3 micro-batches an epoch, so 1 step an epoch (floor), the
 * third micro-batch's gradient carried into the next epoch's step. With lr 0 (parameters
 * fixed), the second step's gradient must be (g(epoch 1's micro-batch 3) + g(epoch 2's 1) +
 * g(epoch 2's 2)) / 2, each g computed here by a forward and backward of its own on the
 * examples torch.randperm(12, seed + epoch) puts there (not through the trainer's loop);
 * and the step counts of a few shapes, counted by hand. */
#include "tests/check.h"

#include "core/error.h"
#include "core/autograd.h"
#include "core/ops.h"
#include "core/t5_forward.h"
#include "datasets/randperm.h"
#include "experiments/trainer.h"

static void make_data(struct seq2seq_data *d, int same_len) {
    unsigned s = 7;
    for (int i = 0; i < 12; i++) {
        int32_t src[12], tgt[3];
        int len = same_len ? 4 + i % 7 : 3 + i % 9;
        for (int j = 0; j < len; j++) src[j] = 2 + (int)((s = s * 1103515245u + 12345u) >> 16) % 90;
        src[len - 1] = 1;
        tgt[0] = src[0], tgt[1] = src[1], tgt[2] = 1;
        seq2seq_add(d, src, len, tgt, 3);
    }
}

/* the carried tail, against micro-batch gradients made here one by one */
static void check_tail(void) {
    struct t5_model m;
    struct exec x;
    struct trainable tr;
    struct seq2seq_data d = {0};
    if (t5_model_load(&m, "tests/fixtures/t5/v11", &backend_cpu) || exec_init(&x, &backend_cpu)) {
        CHECK(0, "%s", error_message());
        return;
    }
    make_data(&d, 0);
    struct tensor **ts = malloc(sizeof *ts * (size_t)m.n_params);
    for (int i = 0; i < m.n_params; i++) ts[i] = &m.params[i];
    CHECK(trainable_init(&tr, &backend_cpu, ts, m.n_params, NULL) == 0, "%s", error_message());
    free(ts);
    struct train_config c = {.epochs = 2, .batch = 4, .grad_accum = 2, .max_source_len = 32, .max_target_len = 8,
                             .seed = 5, .dropout = 0};
    c.optim = optim_defaults(0.0, 0, 0); /* lr 0: the parameters stay, so gradients can be redone */
    CHECK(trainer_total_steps(&c, d.n) == 2, "3 micro-batches, 2 accumulated, 2 epochs: %lld steps, want 2",
          (long long)trainer_total_steps(&c, d.n));
    int rc = trainer_run(&x, &m, &tr, &d, &c, NULL, NULL, NULL);
    CHECK(rc == 0, "trainer: %s", error_message());
    float *got = malloc(sizeof(float) * (size_t)tr.numel);
    memcpy(got, tr.grad, sizeof(float) * (size_t)tr.numel);
    /* the same step by hand: epoch 1's third micro-batch, then epoch 2's first two */
    size_t perm[2][12];
    CHECK(randperm(12, 5, perm[0]) == 0 && randperm(12, 6, perm[1]) == 0, "randperm");
    const struct { int epoch, batch; } mbs[3] = {{0, 2}, {1, 0}, {1, 1}};
    struct seq2seq_batch b = {0};
    rc = rc || trainable_zero_grad(&tr);
    x.record = 1;
    x.training = 0;
    for (int k = 0; k < 3 && !rc; k++) {
        int idx[4];
        for (int i = 0; i < 4; i++) idx[i] = (int)perm[mbs[k].epoch][mbs[k].batch * 4 + i];
        struct t5_outputs out;
        rc = seq2seq_make_batch(&b, &d, idx, 4, 32, 8, &m.cfg) || t5_forward(&x, &m, &b.b, &out) ||
             backward(&x, op_scale(&x, out.loss, 0.5f));
        exec_reset(&x);
    }
    CHECK(rc == 0, "by hand: %s", error_message());
    if (!rc) check_close_f32("carried tail: the second step's gradient vs 3 micro-batches by hand", got, tr.grad,
                             (size_t)tr.numel, 1e-6, 1e-4);
    free(got);
    seq2seq_batch_free(&b);
    trainable_free(&tr);
    seq2seq_free(&d);
    exec_free(&x);
    t5_model_free(&m);
    /* steps by hand: floor(batches / accum) an epoch, at least 1 */
    static const struct { int n, batch, accum, epochs, steps; } cnt[] = {
        {12, 4, 2, 3, 3}, {12, 2, 4, 2, 2}, {12, 2, 2, 1, 3}, {5, 8, 2, 4, 4}, {40, 8, 2, 3, 6}, {41, 8, 3, 2, 4}};
    /* max_steps is the count whatever the epochs (the Trainer's max_steps overrides them) */
    struct train_config ms = {.epochs = 1, .batch = 4, .grad_accum = 1, .max_steps = 10};
    CHECK(trainer_total_steps(&ms, 12) == 10, "max_steps 10 over 1 epoch of 3 steps: %lld steps",
          (long long)trainer_total_steps(&ms, 12));
    ms.max_steps = 2;
    CHECK(trainer_total_steps(&ms, 12) == 2, "max_steps 2: %lld steps", (long long)trainer_total_steps(&ms, 12));
    for (size_t i = 0; i < sizeof cnt / sizeof cnt[0]; i++) {
        struct train_config cc = {.epochs = cnt[i].epochs, .batch = cnt[i].batch, .grad_accum = cnt[i].accum};
        CHECK(trainer_total_steps(&cc, cnt[i].n) == cnt[i].steps, "%d examples, batch %d, accum %d, %d epochs: %lld steps, want %d",
              cnt[i].n, cnt[i].batch, cnt[i].accum, cnt[i].epochs, (long long)trainer_total_steps(&cc, cnt[i].n),
              cnt[i].steps);
    }
}

static int run(int batch, int accum, float **params_out, int64_t *n_out) {
    struct t5_model m;
    struct exec x;
    struct trainable tr;
    struct seq2seq_data d = {0};
    if (t5_model_load(&m, "tests/fixtures/t5/v11", &backend_cpu) || exec_init(&x, &backend_cpu)) return -1;
    make_data(&d, 1);
    struct tensor **ts = malloc(sizeof *ts * (size_t)m.n_params);
    for (int i = 0; i < m.n_params; i++) ts[i] = &m.params[i];
    if (trainable_init(&tr, &backend_cpu, ts, m.n_params, NULL)) return -1;
    free(ts);
    struct train_config c = {.epochs = 1, .batch = batch, .grad_accum = accum, .max_source_len = 32,
                             .max_target_len = 8, .max_steps = 1, .seed = 5, .dropout = 0};
    c.optim = optim_defaults(1e-3, 0, 0);
    int rc = trainer_run(&x, &m, &tr, &d, &c, NULL, NULL, NULL);
    *n_out = tr.numel;
    *params_out = malloc(sizeof(float) * (size_t)tr.numel);
    memcpy(*params_out, tr.grad, sizeof(float) * (size_t)tr.numel);
    trainable_free(&tr);
    seq2seq_free(&d);
    exec_free(&x);
    t5_model_free(&m);
    return rc;
}

int main(void) {
    float *a, *b;
    int64_t na, nb;
    if (run(4, 1, &a, &na) || run(2, 2, &b, &nb)) {
        CHECK(0, "%s", error_message());
        CHECK_DONE();
    }
    CHECK(na == nb, "sizes");
    check_close_f32("gradient: batch 4 vs 2 x accumulation 2", b, a, (size_t)na, 1e-6, 1e-4);
    double norm = 0;
    for (int64_t i = 0; i < na; i++) norm += (double)a[i] * a[i];
    CHECK(norm > 1e-6, "the gradient is zero");
    free(a);
    free(b);
    check_tail();
    CHECK_DONE();
}
