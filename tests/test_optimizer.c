/* test_optimizer.c: weight-decay groups and the schedule, by hand-computed values. With zero
 * gradients AdamW only decays: torch's variant multiplies by (1 - lr wd) before the update,
 * transformers 4.6's subtracts lr wd p after it (the same here, as the update is 0); exempt
 * tensors (biases; with the second rule also layer norms) stay put. The schedule is
 * get_linear_schedule_with_warmup: lr * s/w while s < w, then lr * (T - s)/(T - w). */
#include "tests/check.h"

#include "core/error.h"
#include "core/optimizer.h"

static float data[3][4];
static struct tensor ts[3];

static void setup(void) {
    const char *names[3] = {"encoder.block.0.layer.0.SelfAttention.q.weight", "decoder.final_layer_norm.weight",
                            "encoder.block.0.layer.0.SelfAttention.q.bias"};
    for (int i = 0; i < 3; i++) {
        tensor_init(&ts[i], DTYPE_F32, 1, (int64_t[]){4});
        ts[i].name = names[i];
        ts[i].data = data[i];
        for (int j = 0; j < 4; j++) data[i][j] = 1.0f + (float)j;
    }
}

static void run(int (*rule)(const char *), enum adamw_variant v, const int decayed[3]) {
    setup();
    struct tensor *p[3] = {&ts[0], &ts[1], &ts[2]};
    struct trainable tr;
    struct optimizer o;
    struct optim_config c = optim_defaults(0.5, 0, 10);
    c.weight_decay = 0.1;
    c.variant = v;
    if (trainable_init(&tr, &backend_cpu, p, 3, rule) || optimizer_init(&o, &tr, &c) || optimizer_step(&o)) {
        CHECK(0, "%s", error_message());
        return;
    }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) {
            float want = decayed[i] ? (1.0f + (float)j) * (1.0f - 0.5f * 0.1f) : 1.0f + (float)j;
            CHECK(fabsf(data[i][j] - want) <= 1e-6f, "%s %s: %g want %g", ts[i].name,
                  v == ADAMW_TORCH ? "torch" : "hf", (double)data[i][j], (double)want);
        }
    optimizer_free(&o);
    trainable_free(&tr);
}

int main(void) {
    run(no_decay_bias, ADAMW_TORCH, (const int[]){1, 1, 0});
    run(no_decay_bias, ADAMW_HF46, (const int[]){1, 1, 0});
    run(no_decay_bias_and_norms, ADAMW_TORCH, (const int[]){1, 0, 0});
    run(NULL, ADAMW_HF46, (const int[]){1, 1, 1});

    struct optimizer o = {.c = optim_defaults(1.0, 4, 12)};
    const double want[] = {0, 0.25, 0.5, 0.75, 1, 7.0 / 8, 6.0 / 8, 5.0 / 8, 4.0 / 8, 3.0 / 8, 2.0 / 8, 1.0 / 8, 0, 0};
    for (int s = 0; s < 14; s++) {
        o.step = s;
        CHECK(fabs(optimizer_lr(&o) - want[s]) < 1e-15, "lr at step %d: %g want %g", s, optimizer_lr(&o), want[s]);
    }
    CHECK_DONE();
}
