/* test_grad_reach.c: the trainer's check that the loss reaches every trained tensor
 * (trainable_without_grad, TRAINER_GRAD_CHECK), the field's "adapter weights silently not
 * updated" failure: a method that declares a parameter and trains it but never uses it in
 * the forward pass.
 *  - full fine-tuning of the v1.0 fixture plus one extra trained tensor that the forward
 *    never reads: at step TRAINER_GRAD_CHECK the step callback gets one warning, naming that
 *    tensor (and only at that step); the tensor is unchanged after training, every model
 *    parameter got a gradient;
 *  - the same without the extra tensor, and LoRA (whose A gets no gradient at step 1, B being
 *    zero): no warning;
 *  - a run shorter than TRAINER_GRAD_CHECK checks at its last step. */
#include "tests/check.h"

#include "core/error.h"
#include "experiments/trainer.h"
#include "methods/method.h"

#define FIX "tests/fixtures/t5/v10"

struct probe {
    int warnings;
    int64_t at;
    char text[600];
};

static void on_step(void *ctx, const struct step_info *s) {
    struct probe *p = ctx;
    if (!s->warning) return;
    if (!p->warnings++) {
        p->at = s->step;
        snprintf(p->text, sizeof p->text, "%s", s->warning);
    }
}

static int data(struct seq2seq_data *d) {
    unsigned s = 5;
    for (int i = 0; i < 12; i++) {
        int32_t src[10], tgt[3];
        int len = 4 + i % 6;
        for (int j = 0; j < len; j++)
            src[j] = 2 + (int)((s = s * 1103515245u + 12345u) >> 16) % 90;
        src[len - 1] = 1;
        tgt[0] = src[0], tgt[1] = src[1], tgt[2] = 1;
        if (seq2seq_add(d, src, len, tgt, 3)) return -1;
    }
    return 0;
}

/* train method (with `extra`: one more trained tensor, unused by the forward) for `steps` */
static int run(const char *method, const char *const *opts, int n_opts, int extra, int64_t steps,
               struct probe *p, int *extra_unchanged) {
    struct t5_model m;
    struct exec x;
    struct trainable tr;
    struct seq2seq_data d = {0};
    struct method_instance mi;
    memset(p, 0, sizeof *p);
    if (t5_model_load(&m, FIX, &backend_cpu)) return -1;
    if (exec_init(&x, &backend_cpu) || data(&d) ||
        method_attach(&mi, method, &m, (const char **)opts, n_opts, 3))
        return -1;
    float unused_data[5] = {0.5f, -1, 2, 0.25f, 3}, before[5];
    memcpy(before, unused_data, sizeof before);
    struct tensor unused;
    tensor_init(&unused, DTYPE_F32, 1, (int64_t[]){5});
    unused.data = unused_data;
    unused.name = "method.unused_weight";
    struct tensor **ts = malloc(sizeof *ts * (size_t)(mi.n_train + 1));
    for (int i = 0; i < mi.n_train; i++)
        ts[i] = mi.train[i];
    if (extra) ts[mi.n_train] = &unused;
    int rc = trainable_init(&tr, &backend_cpu, ts, mi.n_train + extra, NULL);
    free(ts);
    struct train_config c = {.epochs = 100,
                             .batch = 4,
                             .grad_accum = 1,
                             .max_source_len = 16,
                             .max_target_len = 4,
                             .max_steps = steps,
                             .seed = 2,
                             .dropout = 1};
    c.optim = optim_defaults(1e-2, 2, 0);
    if (!rc) rc = trainer_run(&x, &m, &tr, &d, &c, NULL, on_step, p);
    if (!rc && extra) {
        char names[256];
        int n = trainable_without_grad(&tr, names, sizeof names);
        CHECK(n == 1 && !strcmp(names, "method.unused_weight"),
              "after training: %d without gradient (%s)", n, names);
    }
    *extra_unchanged = !memcmp(before, unused_data, sizeof before);
    trainable_free(&tr);
    method_detach(&mi);
    seq2seq_free(&d);
    exec_free(&x);
    t5_model_free(&m);
    return rc;
}

int main(void) {
    struct stat st;
    /* a committed fixture: missing is a broken checkout, a failure, not a skip */
    CHECK(stat(FIX "/model.safetensors", &st) == 0, "fixture %s missing", FIX);
    if (check_failures) CHECK_DONE();
    struct probe p;
    int unchanged;

    CHECK(run("full", NULL, 0, 1, 30, &p, &unchanged) == 0, "%s", error_message());
    CHECK(p.warnings == 1 && p.at == TRAINER_GRAD_CHECK,
          "an unused trained tensor: %d warnings, the first at step %lld", p.warnings,
          (long long)p.at);
    CHECK(strstr(p.text, "method.unused_weight") && strstr(p.text, "1 of") &&
              strstr(p.text, "no gradient"),
          "the warning names the tensor: %s", p.text);
    CHECK(unchanged, "the unused tensor changed");
    printf("  ok unused trained tensor: warning at step %lld: %s\n", (long long)p.at, p.text);

    CHECK(run("full", NULL, 0, 0, 30, &p, &unchanged) == 0, "%s", error_message());
    CHECK(p.warnings == 0, "full fine-tuning: a warning: %s", p.text);
    const char *lora[] = {"targets=q,v"};
    CHECK(run("lora", lora, 1, 0, 30, &p, &unchanged) == 0, "%s", error_message());
    CHECK(p.warnings == 0, "lora (A without gradient at step 1 only): a warning: %s", p.text);
    printf("  ok full fine-tuning and LoRA: no warning\n");

    CHECK(run("full", NULL, 0, 1, 5, &p, &unchanged) == 0, "%s", error_message());
    CHECK(p.warnings == 1 && p.at == 5, "a 5-step run: %d warnings, the first at step %lld",
          p.warnings, (long long)p.at);
    printf("  ok a 5-step run checks at its last step\n");
    CHECK_DONE();
}
