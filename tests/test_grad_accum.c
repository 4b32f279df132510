/* test_grad_accum.c: gradient accumulation. With every target of the same length, 2
 * micro-batches of 2 examples accumulated (each loss scaled by 1/2, as the HF Trainer
 * does) must give the gradient of one batch of 4 (|a-b| <= 1e-6 + 1e-4|b|; only the order
 * of float sums differs). The trainer leaves the last step's gradient in place. */
#include "tests/check.h"

#include "core/error.h"
#include "experiments/trainer.h"

static int run(int batch, int accum, float **params_out, int64_t *n_out) {
    struct t5_model m;
    struct exec x;
    struct trainable tr;
    struct seq2seq_data d = {0};
    if (t5_model_load(&m, "tests/fixtures/t5/v11", &backend_cpu) || exec_init(&x, &backend_cpu)) return -1;
    unsigned s = 7;
    for (int i = 0; i < 12; i++) {
        int32_t src[12], tgt[3];
        int len = 4 + i % 7;
        for (int j = 0; j < len; j++) src[j] = 2 + (int)((s = s * 1103515245u + 12345u) >> 16) % 90;
        src[len - 1] = 1;
        tgt[0] = src[0], tgt[1] = src[1], tgt[2] = 1;
        if (seq2seq_add(&d, src, len, tgt, 3)) return -1;
    }
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
    CHECK_DONE();
}
