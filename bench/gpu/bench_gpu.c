/* bench_gpu.c: training steps (forward, backward, AdamW) of this program on the GPU with a
 * t5-base-shaped model of random weights (no download), per method and GEMM precision:
 * step time, tokens/s, model FLOP/s and MFU against the device's peak rate, peak device
 * memory, and the forward/backward/optimizer split from the profiler (CUPTI when it can
 * start). One result line per (method, precision):
 *   compacter gpu step: method M prec P batch B src S tgt T: X ms/step, Y tokens/s,
 *     Z TFLOP/s, MFU W% | memory MiB: cupti-peak A accounted B device-used C
 * (A and W are n/a when CUPTI could not start or the device's peak rate is unknown)
 * bench/gpu/run.sh runs it beside PyTorch (bench_torch.py) and prints the ratios.
 *
 * Methods that this build's registry does not know (method_find) are skipped with a
 * message. bf16 is the backend's bf16 GEMM mode (bf16 tensor cores, fp32 storage: see
 * kernels/cuda/cuda_backend.h), so its MFU is against the bf16 dense peak while the
 * elementwise ops still move fp32. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/autograd.h"
#include "core/error.h"
#include "core/optimizer.h"
#include "core/t5_forward.h"
#include "experiments/profiler.h"
#include "methods/method.h"
#ifdef HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#endif

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Dense peak rates in TFLOP/s (no 2:4 sparsity), from NVIDIA's datasheets:
 *  - H100 SXM5 / PCIe / NVL: "NVIDIA H100 Tensor Core GPU" datasheet (2023): FP32 67 / 51 /
 *    60; TF32 Tensor Core 989 / 756 / 835 and BF16 1979 / 1513 / 1671 "with sparsity",
 *    i.e. dense TF32 494.7 / 378 / 417.5 and BF16 989.4 / 756.5 / 835.5.
 *  - H200 SXM / NVL: "NVIDIA H200 Tensor Core GPU" datasheet (2024): FP32 67 / 60; TF32
 *    989 / 835 and BF16 1979 / 1671 with sparsity -> dense 494.7 / 417.5 and 989.4 / 835.5.
 *  - A100 (SXM4 and PCIe, 40 and 80 GB): "NVIDIA A100 Tensor Core GPU" datasheet (2021):
 *    FP32 19.5, TF32 156 (312 sparse), BF16 312 (624 sparse).
 * Matched by substring of cudaDeviceProp.name, most specific first. */
struct peak {
    const char *match;
    const char *label;
    double fp32, tf32, bf16;
};
static const struct peak peaks[] = {
    {"H100 PCIe", "H100 PCIe", 51.0, 378.0, 756.5},
    {"H100 NVL", "H100 NVL", 60.0, 417.5, 835.5},
    {"H100", "H100 SXM5", 67.0, 494.7, 989.4},
    {"H200 NVL", "H200 NVL", 60.0, 417.5, 835.5},
    {"H200", "H200 SXM", 67.0, 494.7, 989.4},
    {"A100", "A100", 19.5, 156.0, 312.0},
};

static const struct peak *find_peak(const char *device) {
    for (size_t i = 0; i < sizeof peaks / sizeof peaks[0]; i++)
        if (strstr(device, peaks[i].match)) return &peaks[i];
    return NULL;
}

/* Forward FLOPs (2 per multiply-add) of the GEMMs and attention products of one batch; the
 * elementwise ops are left out (the usual MFU convention). */
static double forward_flops(const struct t5_config *c, double B, double S, double T) {
    double d = c->d_model, hd = (double)c->num_heads * c->d_kv, ff = c->d_ff, V = c->vocab_size;
    double wi = c->gated ? 2 : 1;
    double ne = B * S, nd = B * T;
    double enc = c->num_layers * (2 * ne * d * hd * 4      /* q k v o */
                                  + 2 * 2 * B * S * S * hd /* scores, context */
                                  + 2 * ne * d * ff * (wi + 1));
    double dec = c->num_decoder_layers * (2 * nd * d * hd * 4                             /* self q k v o */
                                          + 2 * 2 * B * T * T * hd                        /* self attention */
                                          + 2 * nd * d * hd * 2 + 2 * ne * d * hd * 2     /* cross q o, k v */
                                          + 2 * 2 * B * T * S * hd                        /* cross attention */
                                          + 2 * nd * d * ff * (wi + 1));
    return enc + dec + 2 * nd * d * V; /* lm head */
}

static int in_list(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p += n)
        if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == 0)) return 1;
    return 0;
}

#ifdef HAVE_CUDA
struct run {
    struct t5_model m;
    struct method_instance mi;
    struct trainable tr;
    struct optimizer o;
    struct exec x;
    int have_m, have_mi, have_tr, have_o, have_x;
};

static void run_free(struct run *r) {
    if (r->have_x) exec_free(&r->x);
    if (r->have_o) optimizer_free(&r->o);
    if (r->have_tr) trainable_free(&r->tr);
    if (r->have_mi) method_detach(&r->mi);
    if (r->have_m) t5_model_free(&r->m);
    memset(r, 0, sizeof *r);
}

static int step(struct run *r, const struct t5_batch *b, struct profiler *p) {
    struct t5_outputs out;
    if (p && profiler_phase(p, PHASE_FORWARD)) return -1;
    if (trainable_zero_grad(&r->tr) || t5_forward(&r->x, &r->m, b, &out)) return -1;
    if (p && profiler_phase(p, PHASE_BACKWARD)) return -1;
    if (backward(&r->x, out.loss)) return -1;
    if (p && profiler_phase(p, PHASE_OPTIMIZER)) return -1;
    if (optimizer_step(&r->o)) return -1;
    exec_reset(&r->x);
    return 0;
}

static int bench_one(const char *method, const char *prec, const struct t5_config *c, const struct t5_batch *b,
                     int iters, const char *device, int phases) {
    const struct backend *be = &backend_cuda;
    struct run r;
    memset(&r, 0, sizeof r);
    struct profiler p;
    struct profiler_report rep;
    int rc = -1;
    /* the handle, workspace and scratch are made again by the first alloc, inside the
     * setup session, so that CUPTI's MEMORY2 records see every allocation of this run */
    cuda_shutdown();
    if (backend_set_precision(be, prec)) return -1;
    if (profiler_init(&p, be, "auto") || profiler_start(&p)) return -1;
    if (t5_model_create(&r.m, c, be)) goto done;
    r.have_m = 1;
    if (t5_model_randomize(&r.m, 1, 0.05f)) goto done;
    if (method_attach(&r.mi, method, &r.m, NULL, 0, 42)) goto done;
    r.have_mi = 1;
    if (trainable_init(&r.tr, be, r.mi.train, r.mi.n_train, no_decay_bias)) goto done;
    r.have_tr = 1;
    struct optim_config oc = optim_defaults(3e-4, 0, 1000000);
    if (optimizer_init(&r.o, &r.tr, &oc)) goto done;
    r.have_o = 1;
    if (prof_memory_fresh(be) || exec_init(&r.x, be)) goto done; /* this method's memory only */
    r.have_x = 1;
    r.x.record = 1;
    r.x.training = 1;
    if (step(&r, b, NULL)) goto done; /* the first step: the arena reaches its high water */
    if (profiler_stop(&p, &rep)) goto done;
    double cupti_peak = !strcmp(rep.source, "cupti") ? (double)rep.cupti.mem_peak_live : -1;
    struct prof_memory pm;
    if (prof_memory_account(&pm, be, &r.m, &r.mi, &r.tr, &r.o, &r.x)) goto done;

    if (step(&r, b, NULL) || be->sync()) goto done; /* warm-up */
    uint64_t hits0, misses0, hits1, misses1;
    cuda_gemm_ptrs_stats(&hits0, &misses0);
    double t0 = now();
    for (int i = 0; i < iters; i++)
        if (step(&r, b, NULL)) goto done;
    if (be->sync()) goto done;
    double dt = (now() - t0) / iters;
    cuda_gemm_ptrs_stats(&hits1, &misses1);

    int prompt = !strncmp(method, "prompt-tuning", 13);
    double S_eff = b->src_len + (prompt ? 100 : 0); /* the prompt is prepended to the encoder input */
    double F = forward_flops(c, b->batch, S_eff, b->tgt_len);
    /* full fine-tuning: forward + input gradients + weight gradients ~ 3F; with frozen
     * weights the weight-gradient GEMMs are skipped: ~2F (the methods' own small GEMMs are
     * left out) */
    double train_flops = (!strcmp(method, "full") ? 3 : 2) * F;
    double tflops = train_flops / dt * 1e-12;
    const struct peak *pk = find_peak(device);
    double peak = pk ? (!strcmp(prec, "tf32") ? pk->tf32 : !strcmp(prec, "bf16") ? pk->bf16 : pk->fp32) : 0;
    double mib = 1024.0 * 1024.0;
    char mfu[32] = "n/a", cupti_mib[32] = "n/a"; /* n/a: no peak rate known; CUPTI did not run */
    if (pk) snprintf(mfu, sizeof mfu, "%.1f%%", 100 * tflops / peak);
    if (cupti_peak >= 0) snprintf(cupti_mib, sizeof cupti_mib, "%.1f", cupti_peak / mib);
    printf("compacter gpu step: method %s prec %s batch %d src %d tgt %d: %.2f ms/step, %.0f tokens/s, "
           "%.1f TFLOP/s, MFU %s | memory MiB: cupti-peak %s accounted %.1f device-used %.1f | "
           "trainable %lld\n",
           method, prec, b->batch, b->src_len, b->tgt_len, dt * 1e3, b->batch * (double)(b->src_len + b->tgt_len) / dt,
           tflops, mfu, cupti_mib, pm.accounted / mib, pm.device_used / mib, (long long)r.tr.numel);
    if (pk)
        printf("  MFU against %s %s dense peak %.1f TFLOP/s (model FLOPs %.3f TFLOP/step)\n", pk->label, prec, peak,
               train_flops * 1e-12);
    else
        printf("  MFU n/a: no peak rate known for '%s' (model FLOPs %.3f TFLOP/step)\n", device, train_flops * 1e-12);
    printf("  memory: params %.1f method %.1f grads %.1f adam %.1f activations %.1f cublas-ws %.1f scratch %.1f MiB\n",
           pm.params / mib, pm.method_params / mib, pm.grads / mib, pm.optimizer / mib, pm.activations / mib,
           pm.workspace / mib, pm.scratch / mib);
    printf("  gemm_2level pointer arrays in the timed steps: %llu kept, %llu built\n",
           (unsigned long long)(hits1 - hits0), (unsigned long long)(misses1 - misses0));
    if (rep.warning[0]) printf("  profiler: %s\n", rep.warning);

    if (phases) { /* the phase split of a few steps, apart from the timed ones */
        if (profiler_start(&p)) goto done;
        for (int i = 0; i < 3; i++)
            if (step(&r, b, &p)) goto done;
        if (profiler_stop(&p, &rep)) goto done;
        printf("  phases over 3 steps:\n");
        profiler_report_print(&rep, stdout);
    }
    rc = 0;
done:
    if (rc) fprintf(stderr, "bench_gpu: method %s prec %s: %s\n", method, prec, error_message());
    profiler_free(&p);
    run_free(&r);
    return rc;
}
#endif

int main(int argc, char **argv) {
    int B = 100, S = 128, T = 3, iters = 5, phases = 1;
    const char *methods = "full,adapter,compacter++,bitfit,prompt-tuning-r,intrinsic-said";
    const char *precs = "fp32,tf32,bf16";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--no-phases")) {
            phases = 0;
            continue;
        }
        if (i + 1 >= argc) goto usage;
        if (!strcmp(argv[i], "--batch")) B = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--src")) S = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tgt")) T = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iters")) iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--methods")) methods = argv[++i];
        else if (!strcmp(argv[i], "--precisions")) precs = argv[++i];
        else goto usage;
    }
    if (B < 1 || S < 1 || T < 1 || iters < 1) goto usage;
#ifndef HAVE_CUDA
    fprintf(stderr, "bench_gpu: this build has no CUDA backend (build with nvcc present, CUDA=1)\n");
    (void)in_list;
    (void)methods;
    (void)precs;
    (void)phases;
    (void)forward_flops;
    (void)find_peak;
    (void)now;
    return 2;
#else
    if (!cuda_available()) {
        fprintf(stderr, "bench_gpu: no usable GPU: %s\n", error_message());
        return 2;
    }
    char device[256];
    if (prof_device_name(device, sizeof device)) {
        fprintf(stderr, "bench_gpu: %s\n", error_message());
        return 1;
    }
    /* t5-base (d 768, d_ff 3072, 12 + 12 layers, 12 heads of 64, tied head, ReLU FFN) */
    struct t5_config c = {.vocab_size = 32128, .d_model = 768, .d_kv = 64, .d_ff = 3072, .num_heads = 12,
                          .num_layers = 12, .num_decoder_layers = 12, .num_buckets = 32, .max_distance = 128,
                          .layer_norm_eps = 1e-6f, .dropout_rate = 0.1f, .ffn = T5_FFN_RELU, .tied = 1,
                          .pad_id = 0, .eos_id = 1, .decoder_start_id = 0};
    int32_t *enc = malloc(sizeof(int32_t) * (size_t)B * S), *lab = malloc(sizeof(int32_t) * (size_t)B * T),
            *dec = malloc(sizeof(int32_t) * (size_t)B * T);
    if (!enc || !lab || !dec) return 1;
    srand(1);
    for (int i = 0; i < B * S; i++) enc[i] = 2 + rand() % 32000;
    for (int i = 0; i < B * T; i++) lab[i] = 2 + rand() % 32000;
    t5_shift_right(&c, lab, B, T, dec);
    struct t5_batch b = {B, S, T, enc, NULL, dec, lab};
    printf("device: %s; t5-base shape, random weights; batch %d src %d tgt %d; %d timed steps after 2\n", device, B,
           S, T, iters);
    static const char *const all_methods[] = {"full", "adapter", "compacter++", "bitfit", "prompt-tuning-r",
                                              "intrinsic-said"};
    static const char *const all_precs[] = {"fp32", "tf32", "bf16"};
    int failed = 0;
    for (size_t pi = 0; pi < 3; pi++) {
        if (!in_list(precs, all_precs[pi])) continue;
        for (size_t mi = 0; mi < sizeof all_methods / sizeof all_methods[0]; mi++) {
            const char *m = all_methods[mi];
            if (!in_list(methods, m)) continue;
            if (!method_find(m)) {
                printf("method %s prec %s: skipped: this build does not have the method (method_find)\n", m,
                       all_precs[pi]);
                continue;
            }
            fflush(stdout);
            if (bench_one(m, all_precs[pi], &c, &b, iters, device, phases)) failed++;
            fflush(stdout);
        }
    }
    free(enc);
    free(lab);
    free(dec);
    cuda_shutdown();
    return failed ? 1 : 0;
#endif
usage:
    fprintf(stderr,
            "usage: %s [--batch 100] [--src 128] [--tgt 3] [--iters 5] [--methods a,b,...]\n"
            "          [--precisions fp32,tf32,bf16] [--no-phases]\n",
            argv[0]);
    return 2;
}
