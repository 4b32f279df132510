/* test_optimizer.c: weight-decay groups and the schedule, by hand-computed values. With zero
 * gradients AdamW only decays: torch's variant multiplies by (1 - lr wd) before the update,
 * transformers 4.6's subtracts lr wd p after it (the same here, as the update is 0); exempt
 * tensors (biases; with the second rule also layer norms) stay put. The schedule is
 * get_linear_schedule_with_warmup: lr * s/w while s < w, then lr * (T - s)/(T - w).
 * The multi-tensor ops of the CPU backend (sumsq_multi, adamw_multi in both variants, with
 * grad_scale != 1 and both weight-decay groups) are bitwise equal to the single-tensor ops
 * over a list of assorted sizes (0, 1, odd, across the CUDA kernels' block and chunk
 * sizes, > 1M elements) laid out in one buffer with NaN gaps that must stay untouched; so
 * is the loop the backend_* wrappers fall back to. Whole optimizer steps (clipping on) with
 * the multi-tensor ops and with COMPACTER_OPTIM_PER_TENSOR=1 end bitwise equal. */
#include "tests/check.h"

#include <stdint.h>

#include "core/error.h"
#include "core/optimizer.h"
#include "core/splitmix.h"

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

/* ---- the multi-tensor ops against the single-tensor ones ---- */

#define MAX_TENSORS 64
#define GAP 5 /* NaN elements before, between and after the tensors */

static uint64_t rng = 0x243f6a8885a308d3ull;

static float urand(float lo, float hi) {
    return lo + (hi - lo) * (float)splitmix64_unit(&rng);
}

/* count tensors in one buffer of total floats: tensor k at off[k], n[k] elements */
struct tensor_set {
    int count;
    size_t n[MAX_TENSORS], off[MAX_TENSORS], total;
    char decay[MAX_TENSORS];
};

/* empty, one element, odd, around the CUDA kernels' 256-thread blocks, 512-block sumsq and
 * 8192-element AdamW chunks, more than 1M; then random odd sizes */
static void set_make(struct tensor_set *s) {
    static const size_t fixed[] = {
        0,    1,      3,     7,     255,   256,    257,    1000,
        8191, 8192,   8193,  0,     65537, 131071, 131072, (1u << 20) + 3,
        1,    131073, 12345, 24577, 16383};
    s->count = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        s->n[s->count++] = fixed[i];
    while (s->count < 48)
        s->n[s->count++] = 2 * (splitmix64(&rng) % 1500) + 1;
    s->total = GAP;
    for (int k = 0; k < s->count; k++) {
        s->off[k] = s->total;
        s->total += s->n[k] + GAP;
        s->decay[k] = (char)(splitmix64(&rng) % 2);
    }
}

/* a buffer of the set: NaN in the gaps, uniform [lo, hi) in the tensors */
static float *set_buffer(const struct tensor_set *s, float lo, float hi) {
    float *b = malloc(s->total * sizeof *b);
    if (!b) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < s->total; i++)
        b[i] = NAN;
    for (int k = 0; k < s->count; k++)
        for (size_t i = 0; i < s->n[k]; i++)
            b[s->off[k] + i] = urand(lo, hi);
    return b;
}

static float *set_copy(const struct tensor_set *s, const float *src) {
    float *b = malloc(s->total * sizeof *b);
    if (!b) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    memcpy(b, src, s->total * sizeof *b);
    return b;
}

static void set_views(const struct tensor_set *s, float *b, float **views) {
    for (int k = 0; k < s->count; k++)
        views[k] = b + s->off[k];
}

/* 1 when every gap element is still NaN */
static int gaps_untouched(const struct tensor_set *s, const float *b) {
    for (int k = 0; k <= s->count; k++) {
        size_t begin = k ? s->off[k - 1] + s->n[k - 1] : 0;
        for (size_t i = begin; i < begin + GAP; i++)
            if (!isnan(b[i])) return 0;
    }
    return 1;
}

/* the CPU backend without its multi-tensor ops: the wrappers' fallback loop */
static struct backend cpu_without_multi;

static void test_sumsq_multi(const struct tensor_set *s) {
    float *x = set_buffer(s, -2, 2), *xv[MAX_TENSORS];
    set_views(s, x, xv);
    const float *xs[MAX_TENSORS];
    float init[MAX_TENSORS], multi[MAX_TENSORS], single[MAX_TENSORS], fallback[MAX_TENSORS];
    for (int k = 0; k < s->count; k++) {
        xs[k] = xv[k];
        init[k] = urand(0.25f, 1.0f); /* out[k] += ... */
    }
    memcpy(multi, init, sizeof init);
    memcpy(single, init, sizeof init);
    memcpy(fallback, init, sizeof init);
    CHECK(backend_cpu.sumsq_multi(multi, xs, s->n, s->count) == 0, "%s", error_message());
    for (int k = 0; k < s->count; k++)
        CHECK(backend_cpu.sumsq(single + k, xs[k], s->n[k]) == 0, "%s", error_message());
    CHECK(backend_sumsq_multi(&cpu_without_multi, fallback, xs, s->n, s->count) == 0, "%s",
          error_message());
    size_t bytes = (size_t)s->count * sizeof(float);
    CHECK(memcmp(multi, single, bytes) == 0, "sumsq_multi differs from sumsq per tensor");
    CHECK(memcmp(fallback, single, bytes) == 0,
          "backend_sumsq_multi's fallback differs from sumsq per tensor");
    int empty_kept = 1, added = 1;
    for (int k = 0; k < s->count; k++) {
        if (s->n[k] == 0)
            empty_kept &= memcmp(&multi[k], &init[k], sizeof(float)) == 0;
        else
            added &= multi[k] > init[k];
    }
    CHECK(empty_kept, "sumsq_multi changed the result of an empty tensor");
    CHECK(added, "sumsq_multi did not add to a result");
    printf("  ok sumsq_multi == sumsq per tensor (%d tensors, %zu floats)\n", s->count, s->total);
    free(x);
}

/* the scalars as core/optimizer.c computes them */
static void adamw_scalars(struct adamw_step a[2], int hf, int step, double lr, double wd,
                          float grad_scale) {
    double bc1 = 1.0 - pow(0.9, step), bc2 = 1.0 - pow(0.999, step);
    for (int d = 0; d < 2; d++) {
        double w = d ? wd : 0.0;
        a[d] = (struct adamw_step){.beta1 = 0.9f,
                                   .beta2 = 0.999f,
                                   .one_minus_beta1 = (float)(1.0 - 0.9),
                                   .one_minus_beta2 = (float)(1.0 - 0.999),
                                   .eps = 1e-8f,
                                   .grad_scale = grad_scale,
                                   .step_size = (float)(hf ? lr * sqrt(bc2) / bc1 : lr / bc1),
                                   .bc2_sqrt = (float)sqrt(bc2),
                                   .decay = (float)(hf ? lr * w : 1.0 - lr * w),
                                   .hf_variant = hf};
    }
}

/* three copies of (p, m, v): the multi op, the single op per tensor, the wrapper's fallback */
static void test_adamw_multi(const struct tensor_set *s, int hf) {
    enum { MULTI, SINGLE, FALLBACK, COPIES };
    float *p[COPIES], *m[COPIES], *v[COPIES];
    p[0] = set_buffer(s, -1, 1);
    m[0] = set_buffer(s, -0.01f, 0.01f);
    v[0] = set_buffer(s, 0, 1e-4f);
    float *p0 = set_copy(s, p[0]);
    for (int c = 1; c < COPIES; c++)
        p[c] = set_copy(s, p[0]), m[c] = set_copy(s, m[0]), v[c] = set_copy(s, v[0]);
    float *pv[COPIES][MAX_TENSORS], *mv[COPIES][MAX_TENSORS], *vv[COPIES][MAX_TENSORS],
        *gv[MAX_TENSORS];
    for (int c = 0; c < COPIES; c++)
        set_views(s, p[c], pv[c]), set_views(s, m[c], mv[c]), set_views(s, v[c], vv[c]);
    const float *gs[MAX_TENSORS];
    for (int step = 1; step <= 3; step++) {
        float *g = set_buffer(s, -0.1f, 0.1f);
        set_views(s, g, gv);
        for (int k = 0; k < s->count; k++)
            gs[k] = gv[k];
        struct adamw_step a[2];
        adamw_scalars(a, hf, step, 1e-3, 0.01, 0.37f); /* as if clipped */
        CHECK(backend_cpu.adamw_multi(pv[MULTI], gs, mv[MULTI], vv[MULTI], s->n, s->decay, s->count,
                                      a) == 0,
              "%s", error_message());
        for (int k = 0; k < s->count; k++)
            CHECK(backend_cpu.adamw(pv[SINGLE][k], gs[k], mv[SINGLE][k], vv[SINGLE][k], s->n[k],
                                    &a[s->decay[k] ? 1 : 0]) == 0,
                  "%s", error_message());
        CHECK(backend_adamw_multi(&cpu_without_multi, pv[FALLBACK], gs, mv[FALLBACK], vv[FALLBACK],
                                  s->n, s->decay, s->count, a) == 0,
              "%s", error_message());
        free(g);
    }
    const char *var = hf ? "transformers 4.6" : "torch";
    size_t bytes = s->total * sizeof(float);
    const int checked[2] = {MULTI, FALLBACK};
    for (int i = 0; i < 2; i++) {
        int c = checked[i];
        const char *who = c == MULTI ? "adamw_multi" : "backend_adamw_multi's fallback";
        CHECK(memcmp(p[c], p[SINGLE], bytes) == 0, "%s (%s): p differs from adamw per tensor", who,
              var);
        CHECK(memcmp(m[c], m[SINGLE], bytes) == 0, "%s (%s): m differs from adamw per tensor", who,
              var);
        CHECK(memcmp(v[c], v[SINGLE], bytes) == 0, "%s (%s): v differs from adamw per tensor", who,
              var);
    }
    CHECK(gaps_untouched(s, p[MULTI]) && gaps_untouched(s, m[MULTI]) && gaps_untouched(s, v[MULTI]),
          "adamw_multi (%s) wrote outside the tensors", var);
    /* every non-empty tensor moved (else the comparison would be vacuous) */
    int moved = 1;
    for (int k = 0; k < s->count; k++)
        if (s->n[k])
            moved &= memcmp(p[MULTI] + s->off[k], p0 + s->off[k], s->n[k] * sizeof(float)) != 0;
    CHECK(moved, "adamw_multi (%s): a tensor did not move", var);
    printf("  ok adamw_multi (%s) == adamw per tensor, 3 steps (%d tensors, %zu floats)\n", var,
           s->count, s->total);
    for (int c = 0; c < COPIES; c++)
        free(p[c]), free(m[c]), free(v[c]);
    free(p0);
}

/* Three optimizer steps over the set's tensors (biases exempt from decay, clipping active),
 * once with the multi-tensor ops and once with COMPACTER_OPTIM_PER_TENSOR=1: bitwise the same. */
static void test_step_modes(const struct tensor_set *s, enum adamw_variant variant) {
    static char names[MAX_TENSORS][32];
    struct tensor t[2][MAX_TENSORS], *tp[MAX_TENSORS];
    struct trainable tr[2];
    struct optimizer o[2];
    float *data[2];
    double norm[2][3];
    data[0] = set_buffer(s, -1, 1);
    data[1] = set_copy(s, data[0]);
    struct optim_config c = optim_defaults(1e-2, 1, 10);
    c.weight_decay = 0.01;
    c.variant = variant;
    for (int mode = 0; mode < 2; mode++) {
        if (mode)
            setenv("COMPACTER_OPTIM_PER_TENSOR", "1", 1);
        else
            unsetenv("COMPACTER_OPTIM_PER_TENSOR");
        for (int k = 0; k < s->count; k++) {
            snprintf(names[k], sizeof names[k], k % 3 ? "t%d.weight" : "t%d.bias", k);
            tensor_init(&t[mode][k], DTYPE_F32, 1, (int64_t[]){(int64_t)s->n[k]});
            t[mode][k].name = names[k];
            t[mode][k].data = data[mode] + s->off[k];
            tp[k] = &t[mode][k];
        }
        if (trainable_init(&tr[mode], &backend_cpu, tp, s->count, no_decay_bias) ||
            optimizer_init(&o[mode], &tr[mode], &c)) {
            CHECK(0, "%s", error_message());
            return;
        }
        CHECK(tr[mode].per_tensor == mode, "COMPACTER_OPTIM_PER_TENSOR=%d: per_tensor %d", mode,
              tr[mode].per_tensor);
        uint64_t seed = rng;
        for (int step = 0; step < 3; step++) {
            uint64_t r = seed + (uint64_t)step;
            for (int64_t i = 0; i < tr[mode].numel; i++)
                tr[mode].grad[i] =
                    (float)((double)(splitmix64(&r) >> 11) / 9007199254740992.0) - 0.5f;
            CHECK(optimizer_step(&o[mode]) == 0, "%s", error_message());
            norm[mode][step] = o[mode].last_grad_norm;
        }
    }
    unsetenv("COMPACTER_OPTIM_PER_TENSOR");
    const char *var = variant == ADAMW_HF46 ? "transformers 4.6" : "torch";
    CHECK(norm[0][0] > 1.0, "the gradient norm %g does not clip", norm[0][0]);
    CHECK(memcmp(norm[0], norm[1], sizeof norm[0]) == 0, "%s: grad norms differ between the modes",
          var);
    CHECK(memcmp(data[0], data[1], s->total * sizeof(float)) == 0,
          "%s: parameters differ between the modes", var);
    size_t state = (size_t)tr[0].numel * sizeof(float);
    CHECK(memcmp(o[0].m, o[1].m, state) == 0 && memcmp(o[0].v, o[1].v, state) == 0,
          "%s: AdamW moments differ between the modes", var);
    printf("  ok optimizer_step (%s): multi-tensor == COMPACTER_OPTIM_PER_TENSOR=1, 3 steps, grad "
           "norm %.6g\n",
           var, norm[0][0]);
    for (int mode = 0; mode < 2; mode++) {
        optimizer_free(&o[mode]);
        trainable_free(&tr[mode]);
        free(data[mode]);
    }
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

    cpu_without_multi = backend_cpu;
    cpu_without_multi.sumsq_multi = NULL;
    cpu_without_multi.adamw_multi = NULL;
    struct tensor_set set;
    set_make(&set);
    test_sumsq_multi(&set);
    test_adamw_multi(&set, 1);
    test_adamw_multi(&set, 0);
    test_step_modes(&set, ADAMW_HF46);
    test_step_modes(&set, ADAMW_TORCH);
    CHECK_DONE();
}
