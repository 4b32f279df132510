/* bench_train_cpu.c: one training step (forward, backward, AdamW) of this program on a
 * t5-small-shaped model with random weights, full fine-tuning or any registered method
 * (--method). Prints one line:
 *   compacter train step: [method M ]batch B src S tgt T threads N: X ms/step, Y tokens/s
 * then the peak activation memory and the parameter bytes (the method is named unless it is
 * full fine-tuning; --precision bf16 stores activations and frozen weights in bf16)
 * bench/train_cpu/run.sh runs it beside PyTorch on the same shapes and threads. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/autograd.h"
#include "bench/cpu_bench_common.h"
#include "core/error.h"
#include "core/optimizer.h"
#include "core/t5_forward.h"
#include "methods/method.h"

int main(int argc, char **argv) {
    struct bench_args ba;
    if (bench_parse(argc, argv, &ba)) return 2;
    int B = ba.batch, S = ba.src, T = ba.tgt, iters = ba.iters;
    struct t5_config c = bench_t5_config(ba.tiny);
    struct t5_model m;
    struct exec x;
    struct trainable tr;
    struct optimizer o;
    if (backend_set_precision(&backend_cpu, ba.precision) || t5_model_create(&m, &c, &backend_cpu) ||
        t5_model_randomize(&m, 1, 0.05f) || exec_init(&x, &backend_cpu)) {
        fprintf(stderr, "bench: %s\n", error_message());
        return 1;
    }
    struct method_instance mi;
    if (method_attach(&mi, ba.method, &m, NULL, 0, 42)) {
        fprintf(stderr, "bench: %s\n", error_message());
        return 1;
    }
    struct optim_config oc = optim_defaults(1e-4, 0, 1000);
    if (trainable_init(&tr, &backend_cpu, mi.train, mi.n_train, NULL) || optimizer_init(&o, &tr, &oc)) {
        fprintf(stderr, "bench: %s\n", error_message());
        return 1;
    }
    int32_t *enc = malloc(sizeof(int32_t) * (size_t)(B * S)), *lab = malloc(sizeof(int32_t) * (size_t)(B * T)),
            *dec = malloc(sizeof(int32_t) * (size_t)(B * T));
    srand(1);
    for (int i = 0; i < B * S; i++) enc[i] = bench_token(&c);
    for (int i = 0; i < B * T; i++) lab[i] = bench_token(&c);
    t5_shift_right(&c, lab, B, T, dec);
    struct t5_batch b = {B, S, T, enc, NULL, dec, lab};
    struct t5_outputs out;
    x.record = 1;
    x.training = 1;
    double best = 1e30;
    for (int it = 0; it < iters + 1; it++) { /* first is warm-up */
        double t0 = bench_now();
        if (trainable_zero_grad(&tr) || t5_forward(&x, &m, &b, &out) || backward(&x, out.loss) || optimizer_step(&o)) {
            fprintf(stderr, "bench: %s\n", error_message());
            return 1;
        }
        exec_reset(&x);
        double dt = bench_now() - t0;
        if (it > 0 && dt < best) best = dt;
    }
    char named[160] = "";
    if (strcmp(ba.method, "full")) snprintf(named, sizeof named, "method %s ", ba.method);
    if (strcmp(ba.precision, "fp32")) snprintf(named + strlen(named), sizeof named - strlen(named), "%s ", ba.precision);
    printf("compacter train step: %sbatch %d src %d tgt %d threads %d: %.1f ms/step, %.0f tokens/s, "
           "activations peak %.1f MiB, parameters %.1f MiB\n",
           named, B, S, T, omp_get_max_threads(), best * 1e3, (double)B * (S + T) / best,
           (double)exec_peak_bytes(&x) / (1 << 20), (double)t5_model_param_bytes(&m) / (1 << 20));
    return 0;
}
