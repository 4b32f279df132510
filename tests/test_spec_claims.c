/* test_spec_claims.c: facts of ../shared/docs/reference-spec.md and exact-behaviours.md that
 * no other test pins down, each checked against a value typed in here from the spec (or,
 * for the head factor, computed with numpy/torch and quoted below), never one produced by
 * the code under test:
 *  1. the tied head's factor f32(d_model ** -0.5) (exact-behaviours.md section 5);
 *  2. the task-name prefix only for methods without task adapters (reference-spec.md 5);
 *  3. Intrinsic-SAID on t5-base: all 257 named tensors, theta_d 19,742 zeros, lambda 258
 *     ones, nothing else trains (section 3);
 *  4. BitFit on t5-base: zero biases on q, k, v, o (self and cross), wi, wo, every block
 *     layer norm (not the final ones) and the lm_head; only they train (section 3);
 *  5. the paper presets of experiments/{table1,table2,lowresource,efficiency}.json against sections 2-4, 6 and 7: per method lr,
 *     batch x grad-accum, reduction-factor grid and phm_dim; per task epochs; warmup, seed,
 *     source length, precision, evaluation period, low-resource sizes and epochs. */
#include "tests/check.h"

#include <stdint.h>

#include "core/error.h"
#include "core/t5_config.h"
#include "core/t5_forward.h"
#include "experiments/experiment.h"
#include "methods/method.h"

#define FIX "tests/fixtures"

/* ---- 1. tied head factor ---- */

static void head_scale(void) {
    /* numpy: np.float32(d ** -0.5); torch's `x * d ** -0.5` on an f32 tensor equals x times
     * that f32 value bit for bit (checked with torch 2.x on 1e5 random values for 384, 96,
     * 768). 1.0f / sqrtf(d) gives 0x3d5105eb and 0x3dd105eb for 384 and 96. */
    static const struct {
        int d;
        uint32_t bits;
    } want[] = {{768, 0x3d13cd3a}, {512, 0x3d3504f3}, {384, 0x3d5105ec}, {96, 0x3dd105ec},
                {1024, 0x3d000000}, {36, 0x3e2aaaab}, {40, 0x3e21e89b}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        float f = t5_tied_head_scale(want[i].d);
        uint32_t u;
        memcpy(&u, &f, sizeof u);
        CHECK(u == want[i].bits, "d_model %d: head factor 0x%08x, want 0x%08x", want[i].d, u,
              want[i].bits);
    }
}

/* ---- 2. task prefix ---- */

static void task_prefix(void) {
    /* reference-spec.md 5: prefix for full FT, BitFit, prompt tuning, SAID; none for the
     * methods with task adapters */
    static const struct {
        const char *method;
        int prefix;
    } want[] = {{"full", 1},           {"bitfit", 1},          {"prompt-tuning-r", 1},
                {"prompt-tuning-t", 1}, {"intrinsic-said", 1},  {"adapter", 0},
                {"pfeiffer", 0},        {"adapterdrop", 0},     {"adapter-lowrank", 0},
                {"phm-adapter", 0},     {"compacter", 0},       {"compacter++", 0}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct method *me = method_find(want[i].method);
        CHECK(me != NULL, "method %s missing", want[i].method);
        if (me)
            CHECK(me->task_prefix == want[i].prefix, "%s: task_prefix %d, want %d", want[i].method,
                  me->task_prefix, want[i].prefix);
    }
}

/* ---- 3, 4. SAID and BitFit on t5-base ---- */

static int ends(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static int all_equal(const struct tensor *t, float v) {
    const float *p = t->data;
    for (int64_t i = 0; i < tensor_numel(t); i++)
        if (p[i] != v) return 0;
    return 1;
}

static void said(struct t5_model *m) {
    struct method_instance mi;
    if (method_attach(&mi, "intrinsic-said", m, NULL, 0, 42)) {
        CHECK(0, "intrinsic-said: %s", error_message());
        return;
    }
    /* t5-base: shared + encoder (12 x 8 + relative bias + final norm = 98) + decoder
     * (12 x 13 + relative bias + final norm = 158) = 257, lm_head tied (not a tensor of
     * its own), as len(list(T5ForConditionalGeneration.named_parameters())) */
    CHECK(m->n_params == 257, "t5-base has %d named tensors, want 257", m->n_params);
    const struct tensor *theta = NULL, *lambda = NULL;
    for (int i = 0; i < mi.n_params; i++) {
        if (!strcmp(mi.params[i]->name, "intrinsic_parameter")) theta = mi.params[i];
        if (!strcmp(mi.params[i]->name, "intrinsic_parameter_said")) lambda = mi.params[i];
    }
    CHECK(theta && tensor_numel(theta) == 19742 && all_equal(theta, 0.0f),
          "theta_d: want 19,742 zeros");
    CHECK(lambda && tensor_numel(lambda) == 258 && all_equal(lambda, 1.0f),
          "lambda: want 258 ones");
    CHECK(mi.n_train == 2 && method_trainable_count(&mi) == 20000,
          "SAID trains %d tensors (%lld values), want theta_d and lambda (20,000)", mi.n_train,
          (long long)method_trainable_count(&mi));
    method_detach(&mi);
}

static void bitfit(struct t5_model *m) {
    struct method_instance mi;
    if (method_attach(&mi, "bitfit", m, NULL, 0, 42)) {
        CHECK(0, "bitfit: %s", error_message());
        return;
    }
    int n_q = 0, n_cross = 0, n_wi = 0, n_wo = 0, n_ln = 0, n_head = 0, n_final = 0, zero = 1;
    for (int i = 0; i < mi.n_params; i++) {
        const char *nm = mi.params[i]->name;
        n_q += ends(nm, "Attention.q.bias") || ends(nm, "Attention.k.bias") ||
               ends(nm, "Attention.v.bias") || ends(nm, "Attention.o.bias");
        n_cross += strstr(nm, "EncDecAttention.") != NULL;
        n_wi += ends(nm, "DenseReluDense.wi.bias");
        n_wo += ends(nm, "DenseReluDense.wo.bias");
        n_ln += strstr(nm, "block.") && ends(nm, "layer_norm.bias");
        n_head += !strcmp(nm, "lm_head.bias") && tensor_numel(mi.params[i]) == 32100;
        n_final += strstr(nm, "final_layer_norm") != NULL;
        zero &= all_equal(mi.params[i], 0.0f);
    }
    /* 4 projections x (12 encoder self + 12 decoder self + 12 cross) = 144, 48 of them
     * cross; one wi and one wo per block (24); 2 + 3 layer norms per encoder / decoder
     * block (60); one lm_head bias of the cut vocabulary */
    CHECK(n_q == 144 && n_cross == 48 && n_wi == 24 && n_wo == 24 && n_ln == 60 &&
              n_head == 1 && n_final == 0,
          "bitfit biases: attention %d (cross %d), wi %d, wo %d, block norms %d, head %d, final "
          "norms %d",
          n_q, n_cross, n_wi, n_wo, n_ln, n_head, n_final);
    CHECK(mi.n_params == 144 + 24 + 24 + 60 + 1, "bitfit declares %d tensors, want 253", mi.n_params);
    CHECK(zero, "bitfit biases not zero-initialised");
    int only_own = mi.n_train == mi.n_params;
    for (int i = 0; i < mi.n_train && only_own; i++) only_own = ends(mi.train[i]->name, ".bias");
    CHECK(only_own && method_trainable_count(&mi) == 280932,
          "bitfit must train its biases only (280,932 values): %d tensors, %lld values", mi.n_train,
          (long long)method_trainable_count(&mi));
    method_detach(&mi);
}

static void t5_base_methods(void) {
    struct t5_config c;
    struct t5_model m;
    if (t5_config_load(&c, FIX "/configs/t5-base.json")) {
        CHECK(0, "%s", error_message());
        return;
    }
    c.vocab_size = 32100;
    if (t5_model_create(&m, &c, &backend_cpu)) {
        CHECK(0, "%s", error_message());
        return;
    }
    said(&m);
    bitfit(&m);
    t5_model_free(&m);
}

/* ---- 5. paper presets ---- */

struct method_want {
    const char *name;
    double lr;
    int batch, grad_accum, rf_grid; /* rf_grid: runs per task (3 = rf 32, 16, 8; 1 = none) */
    const char *phm_dim;            /* NULL: not a PHM method */
};

/* reference-spec.md 2-4: lr per method; batch 100 (SAID, prompt tuning 50 x 2); adapter-style
 * methods search rf {32, 16, 8}; phm-adapter n = 12, compacter / compacter++ n = 4 */
static const struct method_want METHODS[] = {
    {"full", 3e-4, 100, 1, 1, NULL},
    {"adapter", 3e-4, 100, 1, 3, NULL},
    {"pfeiffer", 3e-4, 100, 1, 3, NULL},
    {"adapterdrop", 3e-4, 100, 1, 3, NULL},
    {"adapter-lowrank", 3e-3, 100, 1, 3, NULL},
    {"prompt-tuning-r", 3e-2, 50, 2, 1, NULL},
    {"prompt-tuning-t", 3e-1, 50, 2, 1, NULL},
    {"intrinsic-said", 3e-2, 50, 2, 1, NULL},
    {"bitfit", 3e-4, 100, 1, 1, NULL},
    {"phm-adapter", 3e-3, 100, 1, 3, "12"},
    {"compacter", 3e-3, 100, 1, 3, "4"},
    {"compacter++", 3e-3, 100, 1, 3, "4"},
};

/* The option as the run will see it: the run's own value, else the method's default. */
static const char *effective_option(const struct run_spec *r, const char *key) {
    const char *v = run_spec_option(r, key);
    if (v) return v;
    const struct method *me = method_find(r->method);
    for (const struct method_option *o = me ? me->options : NULL; o && o->name; o++)
        if (!strcmp(o->name, key)) return o->def;
    return NULL;
}

static int close_to(double a, double b) { return fabs(a - b) <= 1e-12 * fabs(b); }

static void check_method(const char *file, const struct run_spec *r, const struct method_want *w,
                         int batch_check) {
    CHECK(close_to(r->lr, w->lr), "%s %s: lr %g, want %g", file, r->run_id, r->lr, w->lr);
    if (batch_check)
        CHECK(r->batch == w->batch && r->grad_accum == w->grad_accum,
              "%s %s: batch %d x %d, want %d x %d", file, r->run_id, r->batch, r->grad_accum,
              w->batch, w->grad_accum);
    if (w->phm_dim) {
        const char *n = effective_option(r, "phm_dim");
        CHECK(n && !strcmp(n, w->phm_dim), "%s %s: phm_dim %s, want %s", file, r->run_id,
              n ? n : "(none)", w->phm_dim);
    }
    CHECK(r->seed == 42 && r->warmup == (batch_check ? 500 : r->warmup) &&
              r->max_source_length == 128 && !strcmp(r->precision, "fp32") &&
              !strcmp(r->model, "t5-base"),
          "%s %s: seed %d warmup %d source %d precision %s model %s", file, r->run_id, r->seed,
          r->warmup, r->max_source_length, r->precision, r->model);
}

static const struct method_want *method_want(const char *name) {
    for (size_t i = 0; i < sizeof METHODS / sizeof METHODS[0]; i++)
        if (!strcmp(METHODS[i].name, name)) return &METHODS[i];
    return NULL;
}

/* Tables 1 and 2: every (method, task, rf) once, with the spec's values. */
static void table(const char *file, const char *const *tasks, const int *epochs, int n_tasks) {
    struct experiment_grid g;
    if (experiment_expand(file, "paper", NULL, NULL, &g)) {
        CHECK(0, "%s: %s", file, error_message());
        return;
    }
    int seen[16][16] = {{0}}; /* [method][task]: runs */
    int rf_seen[16][16] = {{0}}; /* bit 0: 32, 1: 16, 2: 8 */
    for (size_t i = 0; i < g.n; i++) {
        const struct run_spec *r = &g.runs[i];
        const struct method_want *w = method_want(r->method);
        int t = 0;
        while (t < n_tasks && strcmp(tasks[t], r->task)) t++;
        CHECK(w && t < n_tasks, "%s: unexpected run %s", file, r->run_id);
        if (!w || t == n_tasks) continue;
        int mi = (int)(w - METHODS);
        seen[mi][t]++;
        check_method(file, r, w, 1);
        CHECK(r->epochs == epochs[t] && r->eval_every == 0 && r->train_size == -1,
              "%s %s: epochs %d eval_every %d train_size %ld, want %d, 0 (every epoch), -1", file,
              r->run_id, r->epochs, r->eval_every, r->train_size, epochs[t]);
        if (w->rf_grid == 3)
            rf_seen[mi][t] |= r->reduction_factor == 32 ? 1 : r->reduction_factor == 16 ? 2
                              : r->reduction_factor == 8  ? 4
                                                          : 8;
        else
            CHECK(r->reduction_factor == 0, "%s %s: rf %d on a method without adapters", file,
                  r->run_id, r->reduction_factor);
    }
    for (size_t k = 0; k < sizeof METHODS / sizeof METHODS[0]; k++)
        for (int t = 0; t < n_tasks; t++) {
            CHECK(seen[k][t] == METHODS[k].rf_grid, "%s: %s on %s: %d runs, want %d", file,
                  METHODS[k].name, tasks[t], seen[k][t], METHODS[k].rf_grid);
            if (METHODS[k].rf_grid == 3)
                CHECK(rf_seen[k][t] == 7, "%s: %s on %s: rf grid is not {32, 16, 8}", file,
                      METHODS[k].name, tasks[t]);
        }
    experiment_grid_free(&g);
}

static void presets(void) {
    /* reference-spec.md 4: 20 epochs for the small tasks (MRPC, CoLA, STS-B, RTE and the
     * small SuperGLUE tasks), 3 for the large ones (SST-2, QQP, MNLI, QNLI, ReCoRD) */
    static const char *const t1[] = {"cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte"};
    static const int e1[] = {20, 3, 20, 3, 20, 3, 3, 20};
    table("experiments/table1.json", t1, e1, 8);
    static const char *const t2[] = {"boolq", "cb", "copa", "multirc", "record", "wic"};
    static const int e2[] = {20, 20, 20, 20, 3, 20};
    table("experiments/table2.json", t2, e2, 6);

    /* reference-spec.md 7: sizes 100, 500, 1000, 2000, 4000 with 1000, 200, 100, 50, 25
     * epochs; evaluation every 250 steps; batch 40; warmup 0; the GLUE tasks */
    struct experiment_grid g;
    if (experiment_expand("experiments/lowresource.json", "paper", NULL, NULL, &g)) {
        CHECK(0, "lowresource: %s", error_message());
    } else {
        static const long size[] = {100, 500, 1000, 2000, 4000};
        static const int ep[] = {1000, 200, 100, 50, 25};
        int per_size[5] = {0};
        for (size_t i = 0; i < g.n; i++) {
            const struct run_spec *r = &g.runs[i];
            int k = 0;
            while (k < 5 && size[k] != r->train_size) k++;
            CHECK(k < 5, "lowresource %s: train size %ld", r->run_id, r->train_size);
            if (k == 5) continue;
            per_size[k]++;
            static const char *const glue[] = {"cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte"};
            int is_glue = 0;
            for (int t = 0; t < 8; t++) is_glue |= !strcmp(glue[t], r->task);
            CHECK(is_glue, "lowresource %s: task %s is not a GLUE task", r->run_id, r->task);
            const struct method_want *w = method_want(r->method);
            CHECK(w != NULL, "lowresource: unexpected method %s", r->method);
            if (w) check_method("lowresource", r, w, 0);
            CHECK(r->epochs == ep[k] && r->batch == 40 && r->grad_accum == 1 && r->warmup == 0 &&
                      r->eval_every == 250,
                  "lowresource %s: epochs %d batch %d x %d warmup %d eval_every %d", r->run_id,
                  r->epochs, r->batch, r->grad_accum, r->warmup, r->eval_every);
        }
        for (int k = 1; k < 5; k++)
            CHECK(per_size[k] == per_size[0] && per_size[0] > 0,
                  "lowresource: size %ld has %d runs, size 100 %d", size[k], per_size[k],
                  per_size[0]);
        experiment_grid_free(&g);
    }

    /* reference-spec.md 6: one epoch of MNLI, adapter size 24 (rf 32), prompt length 100,
     * SAID d 20,000, the largest batch within a 24 GB budget */
    if (experiment_expand("experiments/efficiency.json", "paper", NULL, NULL, &g)) {
        CHECK(0, "efficiency: %s", error_message());
    } else {
        CHECK(g.n == sizeof METHODS / sizeof METHODS[0], "efficiency: %zu runs, want one per method",
              g.n);
        for (size_t i = 0; i < g.n; i++) {
            const struct run_spec *r = &g.runs[i];
            const struct method_want *w = method_want(r->method);
            CHECK(w != NULL, "efficiency: unexpected method %s", r->method);
            if (w) check_method("efficiency", r, w, 0);
            CHECK(!strcmp(r->task, "mnli") && r->epochs == 1 && r->batch == 0 &&
                      r->memory_budget_bytes == 24000000000LL,
                  "efficiency %s: task %s epochs %d batch %d budget %lld", r->run_id, r->task,
                  r->epochs, r->batch, r->memory_budget_bytes);
            CHECK(r->reduction_factor == (w && w->rf_grid == 3 ? 32 : 0), "efficiency %s: rf %d",
                  r->run_id, r->reduction_factor);
            const char *pl = effective_option(r, "prompt_length");
            const char *d = effective_option(r, "intrinsic_dim");
            CHECK(!pl || !strcmp(pl, "100"), "efficiency %s: prompt_length %s", r->run_id, pl);
            CHECK(!d || !strcmp(d, "20000"), "efficiency %s: intrinsic_dim %s", r->run_id, d);
        }
        experiment_grid_free(&g);
    }
}

int main(void) {
    head_scale();
    task_prefix();
    t5_base_methods();
    presets();
    CHECK_DONE();
}
