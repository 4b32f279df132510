/* test_profiler.c: experiments/profiler.
 * 1. The bookkeeping (prof_summarize) on hand-made record streams: kernels out of order,
 *    across phase boundaries, before the first mark, in a gap, on another device, without
 *    timestamps; alloc/free pairs with a known peak (reuse of an address, a free of memory
 *    allocated before recording, pinned memory, a missed free); dropped records; bad
 *    boundaries. Expected values are worked out by hand in the comments. Then a random
 *    stream against a brute-force attribution.
 * 2. cpu-timer mode around real CPU training steps (fixture tests/fixtures/t5/v10, random
 *    batch): the phases' times sum to within 5% of the wall clock of the steps.
 * 3. On a GPU (SKIP otherwise): a t5-small-shaped random model, batch 64: CUPTI kernel time
 *    sums to within 5% of the event-timed steps; profiling costs < 5% of step time; MEMORY2
 *    sees known allocations with their peak; the memory accounting is below cudaMemGetInfo. */
#include "tests/check.h"

#include <stdint.h>
#include <time.h>

#include "core/autograd.h"
#include "core/error.h"
#include "core/optimizer.h"
#include "core/t5_forward.h"
#include "experiments/profiler.h"
#include "experiments/profiler_internal.h"

#define NEAR(a, b) (fabs((double)(a) - (double)(b)) <= 1e-9 * (1 + fabs((double)(b))))

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static struct prof_record kern(uint32_t dev, uint64_t start, uint64_t end) {
    struct prof_record r = {0};
    r.kind = PROF_REC_KERNEL;
    r.device = dev;
    r.start = start;
    r.end = end;
    return r;
}

static struct prof_record mem(int kind, uint64_t t, uint64_t addr, uint64_t bytes, int device_memory) {
    struct prof_record r = {0};
    r.kind = kind;
    r.start = r.end = t;
    r.address = addr;
    r.bytes = bytes;
    r.device_memory = device_memory;
    return r;
}

static void test_bookkeeping(void) {
    /* phases: other [1000,2000) forward [2000,5000) backward [5000,9000)
     * optimizer [9000,10000) gap [10000,12000) eval [12000,13000) then nothing */
    const struct prof_boundary b[] = {{1000, PHASE_OTHER},     {2000, PHASE_FORWARD}, {5000, PHASE_BACKWARD},
                                      {9000, PHASE_OPTIMIZER}, {10000, PHASE_NONE},   {12000, PHASE_EVAL},
                                      {13000, PHASE_NONE}};
    struct prof_record r[] = {
        kern(0, 8000, 8400),   /* backward 400 */
        kern(0, 2100, 2600),   /* forward 500 */
        kern(0, 9100, 9300),   /* optimizer 200 */
        kern(0, 4800, 5300),   /* starts in forward, ends in backward: forward 500, straddling */
        kern(0, 5000, 6500),   /* starts on the boundary: backward 1500 */
        kern(0, 500, 700),     /* before the first mark: outside */
        kern(0, 10500, 10600), /* in the gap: outside */
        kern(0, 12100, 12400), /* eval 300 */
        kern(0, 1500, 1600),   /* other 100 */
        kern(1, 3000, 3100),   /* another device: skipped */
        kern(0, 0, 0),         /* no timing: invalid */
        kern(0, 3000, 2000),   /* end before start: invalid */
        kern(0, 13500, 13600), /* after the last mark: outside */
        /* memory, shuffled; in time order (device 0, device memory):
         *   100 alloc A 100 -> 100; 200 alloc B 200 -> 300; 300 free A -> 200;
         *   400 alloc C 50 -> 250; 500 alloc D 400 -> 650; 600 free B -> 450;
         *   650 free E (never seen) -> unmatched; 700 free D -> 50;
         *   800 alloc A again 1000 -> 1050 (the peak); 900 free C -> 1000;
         *   1100 alloc F 20 -> 1020; 1200 alloc F 30 without a free: replaces -> 1030.
         * Not counted: pinned alloc at 450 (10000 bytes), device-1 alloc at 460, t=0 alloc. */
        mem(PROF_REC_FREE, 700, 0xD, 400, 1),
        mem(PROF_REC_ALLOC, 800, 0xA, 1000, 1),
        mem(PROF_REC_ALLOC, 100, 0xA, 100, 1),
        mem(PROF_REC_ALLOC, 450, 0x99, 10000, 0),
        mem(PROF_REC_FREE, 300, 0xA, 100, 1),
        mem(PROF_REC_ALLOC, 1200, 0xF, 30, 1),
        mem(PROF_REC_ALLOC, 500, 0xD, 400, 1),
        mem(PROF_REC_ALLOC, 200, 0xB, 200, 1),
        mem(PROF_REC_FREE, 900, 0xC, 50, 1),
        mem(PROF_REC_ALLOC, 400, 0xC, 50, 1),
        mem(PROF_REC_FREE, 650, 0xE, 77, 1),
        mem(PROF_REC_FREE, 600, 0xB, 200, 1),
        mem(PROF_REC_ALLOC, 1100, 0xF, 20, 1),
        mem(PROF_REC_ALLOC, 0, 0x77, 5, 1), /* no timestamp: invalid */
        mem(PROF_REC_FREE, 460, 0x99, 10000, 0), /* the pinned block's free: not counted */
        {.kind = 99, .start = 3000, .end = 3100}, /* unknown kind: invalid */
    };
    struct prof_record dev1 = mem(PROF_REC_ALLOC, 460, 0x55, 123456, 1);
    dev1.device = 1;
    struct prof_record all[64];
    size_t n = sizeof r / sizeof r[0];
    memcpy(all, r, sizeof r);
    all[n++] = dev1;

    struct prof_summary s;
    int rc = prof_summarize(all, n, b, sizeof b / sizeof b[0], 0, 42, &s);
    CHECK(rc == 0, "prof_summarize: %s", error_message());
    CHECK(NEAR(s.phase_gpu_ms[PHASE_OTHER], 100e-6), "other %.9f ms", s.phase_gpu_ms[PHASE_OTHER]);
    CHECK(NEAR(s.phase_gpu_ms[PHASE_FORWARD], 1000e-6), "forward %.9f ms", s.phase_gpu_ms[PHASE_FORWARD]);
    CHECK(NEAR(s.phase_gpu_ms[PHASE_BACKWARD], 1900e-6), "backward %.9f ms", s.phase_gpu_ms[PHASE_BACKWARD]);
    CHECK(NEAR(s.phase_gpu_ms[PHASE_OPTIMIZER], 200e-6), "optimizer %.9f ms", s.phase_gpu_ms[PHASE_OPTIMIZER]);
    CHECK(NEAR(s.phase_gpu_ms[PHASE_EVAL], 300e-6), "eval %.9f ms", s.phase_gpu_ms[PHASE_EVAL]);
    CHECK(NEAR(s.gpu_ms, 3500e-6), "total %.9f ms", s.gpu_ms);
    CHECK(s.phase_kernels[PHASE_OTHER] == 1 && s.phase_kernels[PHASE_FORWARD] == 2 &&
              s.phase_kernels[PHASE_BACKWARD] == 2 && s.phase_kernels[PHASE_OPTIMIZER] == 1 &&
              s.phase_kernels[PHASE_EVAL] == 1,
          "kernels per phase %lld %lld %lld %lld %lld", (long long)s.phase_kernels[0], (long long)s.phase_kernels[1],
          (long long)s.phase_kernels[2], (long long)s.phase_kernels[3], (long long)s.phase_kernels[4]);
    CHECK(s.kernels == 7, "kernels %lld", (long long)s.kernels);
    CHECK(s.kernels_outside == 3, "outside %lld", (long long)s.kernels_outside);
    CHECK(s.kernels_straddling == 1, "straddling %lld", (long long)s.kernels_straddling);
    CHECK(s.records_other_device == 2, "other device %lld", (long long)s.records_other_device);
    CHECK(s.records_invalid == 4, "invalid %lld", (long long)s.records_invalid);
    CHECK(s.dropped == 42, "dropped %llu", (unsigned long long)s.dropped);
    CHECK(s.mem_peak_live == 1050, "peak live %llu", (unsigned long long)s.mem_peak_live);
    CHECK(s.mem_live_end == 1030, "live at end %llu", (unsigned long long)s.mem_live_end);
    CHECK(s.mem_allocs == 7, "allocs %lld", (long long)s.mem_allocs);
    CHECK(s.mem_frees == 5, "frees %lld", (long long)s.mem_frees);
    CHECK(s.mem_unmatched_frees == 1, "unmatched frees %lld", (long long)s.mem_unmatched_frees);
    printf("  ok hand-made stream: phases, outside/straddling/invalid/other-device counts, peak live\n");

    /* no device filter: the device-1 kernel (3000, forward, 100) and alloc count too:
     * the alloc at 460 (123456 bytes) is live from 460 to the end, so the peak is
     * 1050 + 123456 */
    rc = prof_summarize(all, n, b, sizeof b / sizeof b[0], -1, 0, &s);
    CHECK(rc == 0 && NEAR(s.phase_gpu_ms[PHASE_FORWARD], 1100e-6) && s.kernels == 8,
          "no filter: forward %.9f kernels %lld", s.phase_gpu_ms[PHASE_FORWARD], (long long)s.kernels);
    CHECK(s.mem_peak_live == 1050 + 123456, "no filter: peak %llu", (unsigned long long)s.mem_peak_live);

    /* the same records in another order give the same sums */
    struct prof_record rev[64];
    for (size_t i = 0; i < n; i++) rev[i] = all[n - 1 - i];
    struct prof_summary s2;
    rc = prof_summarize(rev, n, b, sizeof b / sizeof b[0], 0, 42, &s2);
    CHECK(rc == 0, "reversed: %s", error_message());
    prof_summarize(all, n, b, sizeof b / sizeof b[0], 0, 42, &s);
    CHECK(!memcmp(s.phase_kernels, s2.phase_kernels, sizeof s.phase_kernels) && NEAR(s.gpu_ms, s2.gpu_ms) &&
              s.mem_peak_live == s2.mem_peak_live && s.mem_live_end == s2.mem_live_end,
          "reversed order changes the summary");

    /* equal timestamps keep input order: alloc then free at t=5 peaks at 64, free then
     * alloc (the free unmatched) ends with 64 live */
    struct prof_record tie[] = {mem(PROF_REC_ALLOC, 5, 1, 64, 1), mem(PROF_REC_FREE, 5, 1, 64, 1)};
    const struct prof_boundary one[] = {{0, PHASE_OTHER}};
    prof_summarize(tie, 2, one, 1, -1, 0, &s);
    CHECK(s.mem_peak_live == 64 && s.mem_live_end == 0 && s.mem_unmatched_frees == 0, "tie a/f");
    struct prof_record tie2[] = {mem(PROF_REC_FREE, 5, 1, 64, 1), mem(PROF_REC_ALLOC, 5, 1, 64, 1)};
    prof_summarize(tie2, 2, one, 1, -1, 0, &s);
    CHECK(s.mem_live_end == 64 && s.mem_unmatched_frees == 1, "tie f/a");

    /* empty stream; errors */
    CHECK(prof_summarize(NULL, 0, b, 7, 0, 3, &s) == 0 && s.kernels == 0 && s.gpu_ms == 0 && s.dropped == 3,
          "empty stream");
    const struct prof_boundary bad[] = {{5, PHASE_FORWARD}, {4, PHASE_BACKWARD}};
    CHECK(prof_summarize(all, n, bad, 2, 0, 0, &s) == -1, "unsorted boundaries accepted");
    CHECK(strstr(error_message(), "before boundary") != NULL, "message: %s", error_message());
    const struct prof_boundary badp[] = {{5, 17}};
    CHECK(prof_summarize(all, n, badp, 1, 0, 0, &s) == -1, "bad phase accepted");
    CHECK(prof_summarize(all, n, b, 0, 0, 0, &s) == -1, "no boundaries accepted");
    error_clear();
}

/* A random stream against a linear-scan attribution. */
static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_random_stream(void) {
    enum { NB = 301, NK = 20000 };
    static struct prof_boundary b[NB];
    static struct prof_record r[NK];
    uint64_t t = 1000;
    for (int i = 0; i < NB; i++) {
        b[i].t = t;
        b[i].phase = i == NB - 1 ? PHASE_NONE : (rnd() % 7 == 0 ? PHASE_NONE : (int)(rnd() % PHASE_COUNT));
        t += 1 + rnd() % 5000;
        if (rnd() % 10 == 0) t -= t > b[i].t ? (t - b[i].t) : 0; /* equal boundary times happen */
    }
    double want_ms[PHASE_COUNT] = {0};
    int64_t want_k[PHASE_COUNT] = {0}, want_out = 0;
    for (int i = 0; i < NK; i++) {
        uint64_t s = rnd() % (t + 2000);
        r[i] = kern(0, s, s + rnd() % 3000);
        if (s == 0) continue; /* invalid; not attributed */
        int k = -1;
        for (int j = 0; j < NB; j++)
            if (b[j].t <= s) k = j; /* the last boundary at or before the start */
        if (k < 0 || b[k].phase == PHASE_NONE) {
            want_out++;
            continue;
        }
        want_ms[b[k].phase] += (double)(r[i].end - r[i].start) * 1e-6;
        want_k[b[k].phase]++;
    }
    struct prof_summary s;
    CHECK(prof_summarize(r, NK, b, NB, 0, 0, &s) == 0, "%s", error_message());
    int ok = s.kernels_outside == want_out;
    for (int p = 0; p < PHASE_COUNT; p++)
        ok &= s.phase_kernels[p] == want_k[p] && fabs(s.phase_gpu_ms[p] - want_ms[p]) <= 1e-9 * (1 + want_ms[p]);
    CHECK(ok, "random stream: summary differs from the linear scan");
    if (ok) printf("  ok random stream: %d kernels over %d boundaries match a linear scan\n", NK, NB);

    /* time per kernel name: the records get one of 20 names (equal strings at different
     * addresses must merge), totals against a direct sum over the attributed kernels */
    static char names[40][32];
    double name_ms[20] = {0};
    int64_t name_n[20] = {0};
    for (int j = 0; j < 40; j++) snprintf(names[j], sizeof names[j], "_Z9kernel_%02dPKfPfi", j % 20);
    for (int i = 0; i < NK; i++) {
        int j = (int)(rnd() % 40);
        r[i].name = names[j];
        uint64_t st = r[i].start;
        if (st == 0) continue;
        int k = -1;
        for (int q = 0; q < NB; q++)
            if (b[q].t <= st) k = q;
        if (k < 0 || b[k].phase == PHASE_NONE) continue;
        name_ms[j % 20] += (double)(r[i].end - r[i].start) * 1e-6;
        name_n[j % 20]++;
    }
    CHECK(prof_summarize(r, NK, b, NB, 0, 0, &s) == 0, "%s", error_message());
    int distinct = 0;
    for (int j = 0; j < 20; j++) distinct += name_n[j] > 0;
    ok = s.distinct_kernels == distinct && s.n_top == PROF_TOP_KERNELS;
    for (int i = 0; ok && i < s.n_top; i++) {
        int j = atoi(s.top[i].name + strlen("_Z9kernel_"));
        ok = s.top[i].count == name_n[j] && fabs(s.top[i].ms - name_ms[j]) <= 1e-9 * (1 + name_ms[j]) &&
             (i == 0 || s.top[i].ms <= s.top[i - 1].ms);
        for (int q = 0; ok && q < 20; q++) /* nothing left out is larger than the last one kept */
            if (i == s.n_top - 1 && name_ms[q] > s.top[i].ms) {
                int kept = 0;
                for (int t2 = 0; t2 < s.n_top; t2++) kept |= atoi(s.top[t2].name + strlen("_Z9kernel_")) == q;
                ok = kept;
            }
    }
    CHECK(ok, "per-name kernel totals differ from a direct sum");
    char nm[64];
    prof_kernel_short_name("_Z9kernel_07PKfPfi", nm, sizeof nm);
    CHECK(!strcmp(nm, "kernel_07"), "short name %s", nm);
    prof_kernel_short_name("sm90_xmma_gemm_f32f32_tf32f32_f32_nt_n_tilesize128x128x32", nm, 16);
    CHECK(!strcmp(nm, "sm90_xmma_gemm_"), "short name %s", nm);
    prof_kernel_short_name(NULL, nm, sizeof nm);
    CHECK(!strcmp(nm, "(unnamed)"), "short name %s", nm);
    if (ok) printf("  ok per-name totals: %d names (equal strings at different addresses merged), top %d sorted\n",
                   distinct, s.n_top);
}

/* ---- training steps ---- */

struct rig {
    struct t5_model m;
    struct trainable tr;
    struct optimizer o;
    struct exec x;
    struct t5_batch b;
    int32_t *ids; /* enc, dec, labels */
};

static int rig_init(struct rig *g, const struct backend *be, const struct t5_config *c, const char *dir, int B,
                    int S, int T) {
    memset(g, 0, sizeof *g);
    if (dir ? t5_model_load(&g->m, dir, be) : (t5_model_create(&g->m, c, be) || t5_model_randomize(&g->m, 1, 0.05f)))
        return -1;
    struct tensor **ts = malloc(sizeof *ts * (size_t)g->m.n_params);
    for (int i = 0; i < g->m.n_params; i++) ts[i] = &g->m.params[i];
    struct optim_config oc = optim_defaults(1e-4, 0, 1000);
    int rc = trainable_init(&g->tr, be, ts, g->m.n_params, NULL) || optimizer_init(&g->o, &g->tr, &oc) ||
             exec_init(&g->x, be);
    free(ts);
    if (rc) return -1;
    g->ids = malloc(sizeof(int32_t) * (size_t)(B * S + 2 * B * T));
    int32_t *enc = g->ids, *dec = enc + B * S, *lab = dec + B * T;
    int V = g->m.cfg.vocab_size;
    for (int i = 0; i < B * S; i++) enc[i] = 2 + (int32_t)(rnd() % (uint64_t)(V - 2));
    for (int i = 0; i < B * T; i++) lab[i] = 2 + (int32_t)(rnd() % (uint64_t)(V - 2));
    t5_shift_right(&g->m.cfg, lab, B, T, dec);
    g->b = (struct t5_batch){B, S, T, enc, NULL, dec, lab};
    g->x.record = 1;
    g->x.training = 1;
    return 0;
}

static void rig_free(struct rig *g) {
    optimizer_free(&g->o);
    trainable_free(&g->tr);
    exec_free(&g->x);
    t5_model_free(&g->m);
    free(g->ids);
}

/* One training step, with phase marks when p is not NULL. */
static int step(struct rig *g, struct profiler *p) {
    struct t5_outputs out;
    if (p && profiler_phase(p, PHASE_FORWARD)) return -1;
    if (trainable_zero_grad(&g->tr) || t5_forward(&g->x, &g->m, &g->b, &out)) return -1;
    if (p && profiler_phase(p, PHASE_BACKWARD)) return -1;
    if (backward(&g->x, out.loss)) return -1;
    if (p && profiler_phase(p, PHASE_OPTIMIZER)) return -1;
    if (optimizer_step(&g->o)) return -1;
    exec_reset(&g->x);
    return 0;
}

static void test_cpu_timer(void) {
    struct profiler p;
    CHECK(profiler_init(&p, &backend_cpu, "cupti") == -1, "cupti accepted with the CPU backend");
    CHECK(profiler_init(&p, &backend_cpu, "bogus") == -1, "bad mode accepted");
    error_clear();
    struct rig g;
    if (rig_init(&g, &backend_cpu, NULL, "tests/fixtures/t5/v10", 4, 16, 4)) {
        CHECK(0, "rig: %s", error_message());
        return;
    }
    CHECK(profiler_init(&p, &backend_cpu, "auto") == 0, "%s", error_message());
    CHECK(!strcmp(profiler_source(&p), "cpu-timer"), "auto on the CPU backend: %s", profiler_source(&p));
    CHECK(profiler_phase(&p, PHASE_FORWARD) == -1, "phase before start accepted");
    CHECK(profiler_start(&p) == 0, "%s", error_message());
    CHECK(profiler_phase(&p, PHASE_COUNT) == -1, "bad phase accepted");
    error_clear();
    CHECK(step(&g, NULL) == 0, "warm-up: %s", error_message()); /* in "other" */
    struct profiler_report r;
    profiler_stop(&p, &r);

    const int steps = 5;
    double t0 = now_s();
    int rc = profiler_start(&p);
    for (int i = 0; !rc && i < steps; i++) rc = step(&g, &p);
    if (!rc) rc = profiler_stop(&p, &r);
    double wall = (now_s() - t0) * 1e3;
    CHECK(rc == 0, "profiled steps: %s", error_message());
    profiler_report_print(&r, stdout);
    double sum = r.phase_ms[PHASE_FORWARD] + r.phase_ms[PHASE_BACKWARD] + r.phase_ms[PHASE_OPTIMIZER];
    CHECK(!strcmp(r.source, "cpu-timer") && r.kernels == -1 && r.marks == 3 * steps, "source %s kernels %lld marks %d",
          r.source, (long long)r.kernels, r.marks);
    CHECK(r.phase_ms[PHASE_FORWARD] > 0 && r.phase_ms[PHASE_BACKWARD] > 0 && r.phase_ms[PHASE_OPTIMIZER] > 0,
          "a phase took no time");
    CHECK(fabs(sum - wall) <= 0.05 * wall, "phases sum to %.3f ms, the steps took %.3f ms", sum, wall);
    CHECK(fabs(r.total_ms - r.wall_ms) <= 1e-6 * r.wall_ms + 1e-9, "total %.6f vs wall %.6f", r.total_ms,
          r.wall_ms);
    printf("  ok cpu-timer: %d steps, phases %.3f ms vs wall clock %.3f ms (%.2f%%)\n", steps, sum, wall,
           100 * fabs(sum - wall) / wall);

    struct prof_memory pm;
    CHECK(prof_memory_account(&pm, &backend_cpu, &g.m, NULL, &g.tr, &g.o, &g.x) == 0, "%s", error_message());
    size_t P = (size_t)g.m.n_elements * 4;
    CHECK(pm.params == P && pm.grads == P + (size_t)g.tr.n * 4 && pm.optimizer == 2 * P && pm.activations > 0 &&
              pm.workspace == 0 && pm.device_used == 0 &&
              pm.accounted == pm.params + pm.grads + pm.optimizer + pm.activations,
          "memory accounting on the CPU");
    profiler_free(&p);
    rig_free(&g);
}

#ifdef HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"

static void test_gpu(void) {
    const struct backend *be = &backend_cuda;
    /* t5-small shape, batch 64: enough work per kernel that the GPU, not the launches, sets
     * the pace */
    struct t5_config c = {.vocab_size = 32128, .d_model = 512, .d_kv = 64, .d_ff = 2048, .num_heads = 8,
                          .num_layers = 6, .num_decoder_layers = 6, .num_buckets = 32, .max_distance = 128,
                          .layer_norm_eps = 1e-6f, .dropout_rate = 0.1f, .ffn = T5_FFN_RELU, .tied = 1};
    struct rig g;
    if (rig_init(&g, be, &c, NULL, 64, 128, 16)) {
        CHECK(0, "gpu rig: %s", error_message());
        return;
    }
    for (int i = 0; i < 2; i++)
        if (step(&g, NULL)) { /* nothing below can run */
            CHECK(0, "warm-up: %s", error_message());
            rig_free(&g);
            return;
        }
    CHECK(be->sync() == 0, "%s", error_message());

    /* memory accounting after the first steps */
    struct prof_memory pm;
    CHECK(prof_memory_account(&pm, be, &g.m, NULL, &g.tr, &g.o, &g.x) == 0, "%s", error_message());
    printf("  memory: accounted %.1f MiB (params %.1f grads %.1f adam %.1f activations %.1f ws %.1f scratch %.1f), "
           "cudaMemGetInfo used %.1f MiB of %.1f\n",
           pm.accounted / 1048576.0, pm.params / 1048576.0, pm.grads / 1048576.0, pm.optimizer / 1048576.0,
           pm.activations / 1048576.0, pm.workspace / 1048576.0, pm.scratch / 1048576.0,
           pm.device_used / 1048576.0, pm.device_total / 1048576.0);
    CHECK(pm.accounted > 0 && pm.accounted <= pm.device_used, "accounted %zu > device used %zu", pm.accounted,
          pm.device_used);

    const int steps = 5;
    struct profiler p;
    struct profiler_report r;
    CHECK(profiler_init(&p, be, "auto") == 0, "%s", error_message());
    /* one profiled step to pay CUPTI's one-time start-up outside the timings */
    CHECK(profiler_start(&p) == 0 && step(&g, &p) == 0 && profiler_stop(&p, &r) == 0, "%s", error_message());

    /* a. kernel sum vs the event-timed steps of the same session */
    void *e0 = NULL, *e1 = NULL;
    int rc = cudaprof_event_create(&e0) || cudaprof_event_create(&e1) || profiler_start(&p) || cudaprof_event_record(e0);
    for (int i = 0; !rc && i < steps; i++) rc = step(&g, &p);
    rc = rc || cudaprof_event_record(e1) || profiler_stop(&p, &r) || cudaprof_event_sync(e1);
    float ev_ms = 0;
    rc = rc || cudaprof_event_elapsed_ms(e0, e1, &ev_ms);
    if (rc) { /* the report was not filled in */
        CHECK(0, "profiled GPU steps: %s", error_message());
        rig_free(&g);
        return;
    }
    profiler_report_print(&r, stdout);
    double sum = r.phase_ms[PHASE_FORWARD] + r.phase_ms[PHASE_BACKWARD] + r.phase_ms[PHASE_OPTIMIZER];
    if (!strcmp(r.source, "cupti")) {
        CHECK(fabs(sum - ev_ms) <= 0.05 * ev_ms, "kernel time %.3f ms vs event-timed %.3f ms", sum, ev_ms);
        CHECK(sum <= ev_ms * 1.01, "kernels %.3f ms exceed the event time %.3f ms on one stream", sum, ev_ms);
        CHECK(r.kernels > 0 && r.cupti.dropped == 0 && r.cupti.records_invalid == 0, "kernels %lld dropped %llu",
              (long long)r.kernels, (unsigned long long)r.cupti.dropped);
        printf("  ok cupti: kernel time %.3f ms vs event-timed %.3f ms (%.2f%%)\n", sum, ev_ms,
               100 * fabs(sum - ev_ms) / ev_ms);
    } else {
        printf("  note: CUPTI not available (%s): kernel-sum check not run\n", r.warning);
        CHECK(fabs(r.total_ms - ev_ms) <= 0.05 * ev_ms, "events %.3f ms vs %.3f ms", r.total_ms, ev_ms);
    }

    /* b. overhead: best of 3 runs of `steps` steps, with and without the profiler running */
    double best_plain = 1e30, best_prof = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now_s();
        for (int i = 0; i < steps; i++) CHECK(step(&g, NULL) == 0, "%s", error_message());
        CHECK(cudaprof_sync_device() == 0, "%s", error_message());
        double dt = now_s() - t0;
        if (dt < best_plain) best_plain = dt;
        CHECK(profiler_start(&p) == 0, "%s", error_message());
        t0 = now_s();
        for (int i = 0; i < steps; i++) CHECK(step(&g, &p) == 0, "%s", error_message());
        CHECK(cudaprof_sync_device() == 0, "%s", error_message());
        dt = now_s() - t0;
        double t1 = now_s();
        CHECK(profiler_stop(&p, &r) == 0, "%s", error_message());
        double stop_ms = (now_s() - t1) * 1e3;
        if (dt < best_prof) best_prof = dt;
        if (rep == 0) printf("  profiler_stop (flush + summary of %d steps): %.3f ms\n", steps, stop_ms);
    }
    double ovh = best_prof / best_plain - 1;
    CHECK(ovh < 0.05, "profiling costs %.1f%% (%.3f vs %.3f ms/step)", 100 * ovh, best_prof * 1e3 / steps,
          best_plain * 1e3 / steps);
    printf("  %s profiler overhead (%s): %.2f%% (%.3f vs %.3f ms/step)\n", ovh < 0.05 ? "ok" : "FAIL", r.source,
           100 * ovh, best_prof * 1e3 / steps, best_plain * 1e3 / steps);

    /* c. MEMORY2: known allocations; 1 + 2 + 4 MiB, free the 2, then 8: peak 13 MiB */
    if (!strcmp(profiler_source(&p), "cupti")) {
        size_t MiB = (size_t)1 << 20;
        CHECK(profiler_start(&p) == 0, "%s", error_message());
        void *a = be->alloc(MiB), *b2 = be->alloc(2 * MiB), *c4 = be->alloc(4 * MiB);
        be->free(b2);
        void *d8 = be->alloc(8 * MiB);
        be->free(a);
        be->free(c4);
        be->free(d8);
        CHECK(a && b2 && c4 && d8, "alloc: %s", error_message());
        CHECK(profiler_stop(&p, &r) == 0, "%s", error_message());
        CHECK(r.cupti.mem_allocs == 4 && r.cupti.mem_frees == 4 && r.cupti.mem_live_end == 0,
              "MEMORY2 allocs %lld frees %lld live at end %llu", (long long)r.cupti.mem_allocs,
              (long long)r.cupti.mem_frees, (unsigned long long)r.cupti.mem_live_end);
        CHECK(r.cupti.mem_peak_live == 13 * MiB, "MEMORY2 peak %llu, want %zu", (unsigned long long)r.cupti.mem_peak_live,
              13 * MiB);
    }
    cudaprof_event_destroy(e0);
    cudaprof_event_destroy(e1);
    profiler_free(&p);

    /* d. the cuda-events mode on its own */
    CHECK(profiler_init(&p, be, "cuda-events") == 0, "%s", error_message());
    CHECK(profiler_start(&p) == 0 && step(&g, &p) == 0 && profiler_stop(&p, &r) == 0, "%s", error_message());
    CHECK(!strcmp(r.source, "cuda-events") && r.phase_ms[PHASE_FORWARD] > 0 && r.phase_ms[PHASE_BACKWARD] > 0 &&
              r.phase_ms[PHASE_OPTIMIZER] > 0 && r.kernels == -1,
          "cuda-events report (%s)", r.source);
    profiler_free(&p);
    rig_free(&g);
}
#endif

int main(void) {
    test_bookkeeping();
    test_random_stream();
    test_cpu_timer();
#ifdef HAVE_CUDA
    if (!cuda_available()) {
        printf("  (GPU part not run: %s)\n", error_message());
        if (check_failures) CHECK_DONE();
        SKIP("GPU part needs a CUDA device (%s); CPU part: %d checks, %d failed", error_message(), check_count,
             check_failures);
    }
    test_gpu();
#else
    if (check_failures) CHECK_DONE();
    SKIP("GPU part needs a CUDA build (CUDA=1) and a device; CPU part: %d checks passed", check_count);
#endif
    CHECK_DONE();
}
