/* bench_forward_cpu.c: encoder+decoder forward throughput of this program on a
 * t5-small-shaped model with random weights (no download). Prints one line:
 *   compacter forward: batch B src S tgt T threads N: X ms/forward, Y tokens/s
 * bench/forward_cpu/run.sh runs it beside PyTorch on the same shapes and threads. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/cpu_bench_common.h"
#include "core/error.h"
#include "core/t5_forward.h"

int main(int argc, char **argv) {
    struct bench_args ba;
    if (bench_parse(argc, argv, &ba)) return 2;
    int B = ba.batch, S = ba.src, T = ba.tgt, iters = ba.iters;
    struct t5_config c = bench_t5_config(ba.tiny);
    struct t5_model m;
    struct exec x;
    if (t5_model_create(&m, &c, &backend_cpu) || t5_model_randomize(&m, 1, 0.05f) || exec_init(&x, &backend_cpu)) {
        fprintf(stderr, "bench: %s\n", error_message());
        return 1;
    }
    int32_t *enc = malloc(sizeof(int32_t) * (size_t)(B * S)), *dec = malloc(sizeof(int32_t) * (size_t)(B * T));
    srand(1);
    for (int i = 0; i < B * S; i++) enc[i] = bench_token(&c);
    for (int i = 0; i < B * T; i++) dec[i] = i % T == 0 ? 0 : bench_token(&c);
    struct t5_batch b = {B, S, T, enc, NULL, dec, NULL};
    struct t5_outputs o;
    double best = 1e30;
    for (int it = 0; it < iters + 1; it++) { /* first is warm-up */
        double t0 = bench_now();
        if (t5_forward(&x, &m, &b, &o)) {
            fprintf(stderr, "bench: %s\n", error_message());
            return 1;
        }
        double dt = bench_now() - t0;
        if (it > 0 && dt < best) best = dt;
        exec_reset(&x);
    }
    printf("compacter forward: batch %d src %d tgt %d threads %d: %.1f ms/forward, %.0f tokens/s\n", B, S, T,
           omp_get_max_threads(), best * 1e3, (double)B * (S + T) / best);
    free(enc);
    free(dec);
    exec_free(&x);
    t5_model_free(&m);
    return 0;
}
