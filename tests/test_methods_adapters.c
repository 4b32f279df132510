/* test_methods_adapters.c: the adapter family (adapter, pfeiffer, adapterdrop,
 * adapter-lowrank, phm-adapter, compacter, compacter++) against an independent PyTorch
 * reference written from reference-spec.md (tools/make_adapter_fixtures.py, fixtures in
 * tests/fixtures/methods/adapters), on both fixture T5 families, fp32, dropout off:
 *  1. logits (1e-5 + 1e-4|b|, as test_t5_forward) and loss, in inference mode (the built-weight
 * cache: build, then reuse) and while recording; every trained tensor's gradient within |a-b| <=
 * 1e-6 + 1e-4|b|; no other tensor gets a gradient; one AdamW step changes every trained tensor and
 * no frozen one; the cache is rebuilt after a step and after a direct parameter write;
 *  2. `compacter params` on t5-base equals the spec's table (section 0);
 *  3. initialisation statistics (N(0,0.01), glorot-uniform bounds, rule inits, zero bias);
 *  4. option errors. */
#include "tests/check.h"

#include <omp.h>
#include <unistd.h>

#include "core/autograd.h"
#include "core/error.h"
#include "core/optimizer.h"
#include "core/safetensors.h"
#include "core/t5_config.h"
#include "core/t5_forward.h"
#include "methods/adapter_layer.h"
#include "methods/method_io.h"

#define FIX "tests/fixtures"
/* logits reach |22| on v11: fp32 rounding of near-zero logits then is ~1e-5 absolute, so the
 * logits use test_t5_forward's 1e-5 + 1e-4|b|; gradients use 1e-6 + 1e-4|b| */
#define LOGIT_ATOL 1e-5

/* Must equal CASES in tools/make_adapter_fixtures.py. */
static const struct tcase {
    const char *method, *fam;
    const char *opts[4];
} CASES[] = {
    {"adapter", "v10", {"reduction_factor=4"}},
    {"adapter", "v11", {"reduction_factor=4", "non_linearity=relu"}},
    {"pfeiffer", "v10", {"reduction_factor=4"}},
    {"pfeiffer", "v11", {"reduction_factor=3"}},
    {"adapterdrop",
     "v10",
     {"reduction_factor=4", "task_adapter_layers_encoder=1", "task_adapter_layers_decoder=1,2"}},
    {"adapterdrop",
     "v11",
     {"reduction_factor=4", "task_adapter_layers_encoder=0", "task_adapter_layers_decoder=2"}},
    {"adapter-lowrank", "v10", {"reduction_factor=4"}},
    {"adapter-lowrank", "v11", {"reduction_factor=4", "low_rank_rank=2"}},
    {"phm-adapter", "v10", {"reduction_factor=4", "phm_dim=2"}},
    {"phm-adapter", "v11", {"reduction_factor=4", "phm_dim=3", "learn_phm=false"}},
    {"compacter", "v10", {"reduction_factor=5", "phm_dim=4"}},
    {"compacter", "v11", {"reduction_factor=3", "phm_dim=4", "phm_rank=2"}},
    {"compacter++", "v10", {"reduction_factor=4", "phm_dim=2"}},
    {"compacter++", "v11", {"reduction_factor=3", "phm_dim=4", "non_linearity=relu"}},
};

static const float *ref(struct st_file *f, const char *name, int64_t *numel) {
    const struct st_tensor *t = st_find(f, name);
    if (!t) return NULL;
    if (numel) *numel = st_numel(t);
    return (const float *)(f->map + f->data_start + t->begin);
}

static int n_opts(const struct tcase *c) {
    int n = 0;
    while (n < 4 && c->opts[n])
        n++;
    return n;
}

static int is_trained(const struct method_instance *mi, const struct tensor *t) {
    for (int i = 0; i < mi->n_train; i++)
        if (mi->train[i] == t) return 1;
    return 0;
}

/* Every tensor the test watches: the model's and the method's own. */
static int all_tensors(const struct method_instance *mi, struct tensor ***out) {
    const struct t5_model *m = mi->model;
    struct tensor **t = malloc(sizeof *t * (size_t)(m->n_params + mi->n_params));
    int n = 0;
    for (int i = 0; i < m->n_params; i++) {
        int dup = 0; /* tied head: the same tensor twice is fine, pointer differs */
        for (int j = 0; j < n; j++)
            dup |= t[j]->data == m->params[i].data;
        if (!dup) t[n++] = &m->params[i];
    }
    for (int i = 0; i < mi->n_params; i++)
        t[n++] = mi->params[i];
    *out = t;
    return n;
}

static float *snapshot(struct tensor **ts, int n) {
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += (size_t)tensor_numel(ts[i]);
    float *s = malloc(sizeof(float) * (total + 1)), *p = s;
    for (int i = 0; i < n; i++) {
        memcpy(p, ts[i]->data, tensor_bytes(ts[i]));
        p += tensor_numel(ts[i]);
    }
    return s;
}

static void parity(const struct tcase *c) {
    char path[256], what[256];
    struct st_file rf, ef;
    struct t5_model m;
    struct method_instance mi;
    struct trainable tr;
    struct exec x;
    snprintf(path, sizeof path, FIX "/t5/%s-reference.safetensors", c->fam);
    if (st_open(&rf, path)) {
        CHECK(0, "%s", error_message());
        return;
    }
    snprintf(path, sizeof path, FIX "/methods/adapters/%s-%s.expect.safetensors", c->method,
             c->fam);
    if (st_open(&ef, path)) {
        CHECK(0, "%s", error_message());
        st_close(&rf);
        return;
    }
    snprintf(path, sizeof path, FIX "/t5/%s", c->fam);
    if (t5_model_load(&m, path, &backend_cpu) ||
        method_attach(&mi, c->method, &m, (const char **)c->opts, n_opts(c), 7)) {
        CHECK(0, "%s %s: %s", c->method, c->fam, error_message());
        return;
    }
    snprintf(path, sizeof path, FIX "/methods/adapters/%s-%s.weights.safetensors", c->method,
             c->fam);
    if (method_weights_load(&mi, path) ||
        trainable_init(&tr, &backend_cpu, mi.train, mi.n_train, NULL) ||
        exec_init(&x, &backend_cpu)) {
        CHECK(0, "%s %s: %s", c->method, c->fam, error_message());
        return;
    }
    const struct st_tensor *et = st_find(&rf, "enc_ids"), *lt = st_find(&rf, "labels");
    int B = (int)et->shape[0], S = (int)et->shape[1], T = (int)lt->shape[1];
    const int32_t *labels = (const int32_t *)ref(&rf, "labels", NULL);
    int32_t dec[256];
    t5_shift_right(&m.cfg, labels, B, T, dec);
    struct t5_batch b = {B,
                         S,
                         T,
                         (const int32_t *)ref(&rf, "enc_ids", NULL),
                         (const int32_t *)ref(&rf, "enc_mask", NULL),
                         dec,
                         labels};
    struct t5_outputs o;
    int64_t nl = 0;
    const float *want_logits = ref(&ef, "logits", &nl), *want_loss = ref(&ef, "loss", NULL);
    if (!want_logits || !want_loss) {
        CHECK(0, "%s %s: reference lacks logits/loss", c->method, c->fam);
        return;
    }
    int built = strcmp(c->method, "adapter") && strcmp(c->method, "pfeiffer") &&
                strcmp(c->method, "adapterdrop");
    int builds, hits;

    /* inference, twice: the second forward reuses the built weights */
    for (int k = 0; k < 2; k++) {
        x.record = 0;
        if (t5_forward(&x, &m, &b, &o)) {
            CHECK(0, "%s", error_message());
            break;
        }
        snprintf(what, sizeof what, "%s %s logits (inference %d)", c->method, c->fam, k + 1);
        check_close_f32(what, o.logits->data, want_logits, (size_t)nl, LOGIT_ATOL, 1e-4);
        exec_reset(&x);
    }
    adapter_cache_stats(&mi, &builds, &hits);
    CHECK(builds == built && hits == built, "%s %s: cache builds %d hits %d", c->method, c->fam,
          builds, hits);

    /* recording: logits, loss, gradients */
    x.record = 1;
    if (t5_forward(&x, &m, &b, &o) || backward(&x, o.loss)) {
        CHECK(0, "%s %s: %s", c->method, c->fam, error_message());
        return;
    }
    snprintf(what, sizeof what, "%s %s logits", c->method, c->fam);
    check_close_f32(what, o.logits->data, want_logits, (size_t)nl, LOGIT_ATOL, 1e-4);
    snprintf(what, sizeof what, "%s %s loss", c->method, c->fam);
    check_close_f32(what, o.loss->data, want_loss, 1, 1e-6, 1e-5);
    int n_ok = 0, n_ref = 0;
    double worst = 0;
    for (int i = 0; i < ef.n; i++)
        n_ref += !strncmp(ef.tensors[i].name, "grad.", 5);
    CHECK(n_ref == mi.n_train, "%s %s: %d trained tensors, the reference trains %d", c->method,
          c->fam, mi.n_train, n_ref);
    for (int i = 0; i < mi.n_train; i++) {
        struct tensor *t = mi.train[i];
        char name[200];
        snprintf(name, sizeof name, "grad.%s", t->name);
        int64_t n;
        const float *want = ref(&ef, name, &n);
        CHECK(want && n == tensor_numel(t), "%s %s: no reference %s", c->method, c->fam, name);
        if (!want || !t->grad) {
            CHECK(t->grad, "%s: no gradient", t->name);
            continue;
        }
        int bad = 0;
        for (int64_t j = 0; j < n; j++) {
            double d = fabs((double)t->grad[j] - want[j]);
            if (!(d <= 1e-6 + 1e-4 * fabs(want[j]))) bad++;
            if (d > worst) worst = d;
        }
        CHECK(bad == 0, "%s %s %s: %d elements off", c->method, c->fam, name, bad);
        n_ok += bad == 0;
    }
    printf("  ok %s %s: %d/%d trained gradients within 1e-6 + 1e-4|b| (max |a-b| %.3g)\n",
           c->method, c->fam, n_ok, mi.n_train, worst);
    struct tensor **all;
    int n_all = all_tensors(&mi, &all);
    int leaks = 0;
    for (int i = 0; i < n_all; i++)
        if (!is_trained(&mi, all[i]) && (all[i]->grad || all[i]->requires_grad)) {
            leaks++;
            fprintf(stderr, "frozen %s has a gradient\n", all[i]->name);
        }
    CHECK(leaks == 0, "%s %s: %d frozen tensors with gradients", c->method, c->fam, leaks);

    /* one optimizer step: every trained tensor moves, no frozen one does */
    struct optimizer opt;
    struct optim_config oc = optim_defaults(1e-2, 0, 10);
    float *before = snapshot(all, n_all);
    if (optimizer_init(&opt, &tr, &oc) || optimizer_step(&opt)) CHECK(0, "%s", error_message());
    exec_reset(&x);
    float *after = snapshot(all, n_all);
    int64_t off = 0;
    int stuck = 0, moved = 0;
    for (int i = 0; i < n_all; i++) {
        int64_t n = tensor_numel(all[i]);
        int same = !memcmp(before + off, after + off, sizeof(float) * (size_t)n);
        if (is_trained(&mi, all[i]) && same) {
            stuck++;
            fprintf(stderr, "trained %s did not change\n", all[i]->name);
        }
        if (!is_trained(&mi, all[i]) && !same) {
            moved++;
            fprintf(stderr, "frozen %s changed\n", all[i]->name);
        }
        off += n;
    }
    CHECK(stuck == 0 && moved == 0, "%s %s after a step: %d trained unchanged, %d frozen changed",
          c->method, c->fam, stuck, moved);

    /* the cache after a step: rebuilt (the recording forward invalidated it), equal to a
     * recording forward on the new parameters; a direct parameter write rebuilds it too */
    float *rec = malloc(sizeof(float) * (size_t)nl), *inf = malloc(sizeof(float) * (size_t)nl);
    x.record = 1;
    if (!t5_forward(&x, &m, &b, &o)) memcpy(rec, o.logits->data, sizeof(float) * (size_t)nl);
    exec_reset(&x);
    x.record = 0;
    if (!t5_forward(&x, &m, &b, &o)) memcpy(inf, o.logits->data, sizeof(float) * (size_t)nl);
    exec_reset(&x);
    snprintf(what, sizeof what, "%s %s inference after a step", c->method, c->fam);
    check_close_f32(what, inf, rec, (size_t)nl, 1e-6, 1e-5);
    if (built) {
        float *w = mi.params[0]->data; /* a rule, W or w_left: part of every built weight */
        w[0] += 0.25f;
        if (!t5_forward(&x, &m, &b, &o)) {
            int changed = memcmp(inf, o.logits->data, sizeof(float) * (size_t)nl) != 0;
            CHECK(changed, "%s %s: inference after a parameter write reused a stale weight",
                  c->method, c->fam);
        }
        exec_reset(&x);
        adapter_cache_stats(&mi, &builds, &hits);
        CHECK(builds == 3 && hits == 1, "%s %s: cache builds %d hits %d, want 3 and 1", c->method,
              c->fam, builds, hits);
    }
    free(rec);
    free(inf);
    free(before);
    free(after);
    free(all);
    optimizer_free(&opt);
    trainable_free(&tr);
    method_detach(&mi);
    t5_model_free(&m);
    exec_free(&x);
    st_close(&rf);
    st_close(&ef);
}

/* ---- 2. compacter params on t5-base ---- */

static int run_params(const char *args, char *out, size_t cap) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s params --config " FIX "/configs/t5-base.json %s 2>&1", compacter_bin(),
             args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    return pclose(p);
}

static void params(void) {
    if (access(compacter_bin(), X_OK)) {
        printf("  (%s not built: params contract not checked here)\n", compacter_bin());
        return;
    }
    /* spec section 0; total = 222,882,048 + the method's own parameters */
    static const struct {
        const char *args;
        long long trainable, own;
        const char *pct;
    } want[] = {
        {"--method adapter", 1855104, 1855104 - 47616, "0.832"},
        {"--method pfeiffer", 951360, 951360 - 47616, "0.427"},
        {"--method adapterdrop", 1101984, 1101984 - 47616, "0.494"},
        {"--method adapter-lowrank", 161664, 161664 - 47616, "0.073"},
        {"--method phm-adapter", 398976, 398976 - 47616, "0.179"},
        {"--method compacter", 161728, 161728 - 47616, "0.073"},
        {"--method compacter++", 104704, 104704 - 47616, "0.047"},
        /* frozen rules still exist: 96 x 12^3 not trained */
        {"--method phm-adapter --option learn_phm=false", 398976 - 96 * 1728, 398976 - 47616,
         "0.105"},
        {"--method adapter --option reduction_factor=16", 48 * (768 * 48 * 2 + 48 + 768) + 47616,
         48 * (768 * 48 * 2 + 48 + 768), "1.627"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char out[512], exp[256];
        snprintf(exp, sizeof exp, "trainable %lld total %lld percent %s\n", want[i].trainable,
                 222882048LL + want[i].own, want[i].pct);
        int rc = run_params(want[i].args, out, sizeof out);
        CHECK(rc == 0 && !strcmp(out, exp), "params %s: got '%s' want '%s'", want[i].args, out,
              exp);
        if (rc == 0 && !strcmp(out, exp)) printf("  ok params %-48s %s", want[i].args, out);
    }
}

/* ---- 3. init statistics on t5-base ---- */

struct stats {
    double n, sum, sumsq, maxabs;
};

static void add(struct stats *s, const float *v, int64_t n, double scale) {
    for (int64_t i = 0; i < n; i++) {
        double a = v[i] / scale;
        s->n++;
        s->sum += a;
        s->sumsq += a * a;
        if (fabs(a) > s->maxabs) s->maxabs = fabs(a);
    }
}

static double sd(const struct stats *s) {
    return sqrt(s->sumsq / s->n - (s->sum / s->n) * (s->sum / s->n));
}

static int ends(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* Collect the tensors whose name ends with suffix, each value divided by scale(t). */
static struct stats collect(const struct method_instance *mi, const char *suffix,
                            double (*scale)(const struct tensor *)) {
    struct stats s = {0};
    for (int i = 0; i < mi->n_params; i++)
        if (ends(mi->params[i]->name, suffix))
            add(&s, mi->params[i]->data, tensor_numel(mi->params[i]),
                scale ? scale(mi->params[i]) : 1.0);
    return s;
}

static double fan(const struct tensor *t) {
    return (double)(t->shape[t->ndim - 2] + t->shape[t->ndim - 1]);
}
static double glorot_u_bound(const struct tensor *t) {
    return sqrt(12.0 / fan(t));
} /* gain sqrt 2 */
static double glorot_n_std(const struct tensor *t) {
    return 2.0 / sqrt(fan(t));
}

/* mean ~ 0, std within rel of want, |x| <= bound (0: unbounded) */
static void expect_dist(const char *what, struct stats s, double want_sd, double rel,
                        double bound) {
    double mean = s.sum / s.n, sdev = sd(&s);
    int ok = s.n > 0 && fabs(mean) < 4 * want_sd / sqrt(s.n) + 1e-12 &&
             fabs(sdev / want_sd - 1) < rel &&
             (bound == 0 || (s.maxabs <= bound * (1 + 1e-6) && s.maxabs > 0.9 * bound));
    CHECK(ok, "%s: n %.0f mean %.3g std %.4g (want %.4g +-%.0f%%) max|x| %.4g (bound %.4g)", what,
          s.n, mean, sdev, want_sd, rel * 100, s.maxabs, bound);
    if (ok) printf("  ok init %-44s n=%-8.0f std %.4g (want %.4g)\n", what, s.n, sdev, want_sd);
}

static int attach_base(struct t5_model *m, struct method_instance *mi, const char *method,
                       const char **kv, int n) {
    struct t5_config c;
    if (t5_config_load(&c, FIX "/configs/t5-base.json")) return -1;
    c.vocab_size = 32100;
    if (t5_model_create(m, &c, &backend_cpu)) return -1;
    if (method_attach(mi, method, m, kv, n, 42)) {
        t5_model_free(m);
        return -1;
    }
    return 0;
}

static void init_case(const char *method, const char **kv, int n) {
    struct t5_model m;
    struct method_instance mi;
    char what[160];
    if (attach_base(&m, &mi, method, kv, n)) {
        CHECK(0, "%s: %s", method, error_message());
        return;
    }
    const char *opt = n ? kv[0] : "defaults";
    struct stats bias = collect(&mi, ".bias", NULL);
    CHECK(bias.n > 0 && bias.maxabs == 0, "%s: biases not zero", method);
    double range;
    method_opt_float(&mi, "phm_init_range", &range);
    const char *w_init = method_opt(&mi, "hypercomplex_nonlinearity");
    const char *c_init = method_opt(&mi, "phm_c_init");
    int shared = 0;
    method_opt_bool(&mi, "shared_phm_rule", &shared);
    if (!strcmp(method, "adapter") || !strcmp(method, "pfeiffer") ||
        !strcmp(method, "adapterdrop")) {
        snprintf(what, sizeof what, "%s weight N(0,0.01)", method);
        expect_dist(what, collect(&mi, ".weight", NULL), 0.01, 0.01, 0);
    } else if (!strcmp(method, "adapter-lowrank")) {
        int normal = !strcmp(method_opt(&mi, "low_rank_w_init"), "glorot-normal");
        for (int k = 0; k < 2; k++) {
            const char *sfx = k ? ".w_right" : ".w_left";
            snprintf(what, sizeof what, "%s %s %s", method, sfx + 1,
                     normal ? "glorot-normal" : "glorot-uniform");
            if (normal)
                expect_dist(what, collect(&mi, sfx, glorot_n_std), 1.0, 0.02, 0);
            else
                expect_dist(what, collect(&mi, sfx, glorot_u_bound), 1 / sqrt(3.0), 0.02, 1.0);
        }
    } else {
        int fact = 0;
        method_opt_bool(&mi, "factorized_phm", &fact);
        for (int k = 0; k < (fact ? 2 : 1); k++) {
            const char *sfx = fact ? (k ? ".W_right" : ".W_left") : ".W";
            snprintf(what, sizeof what, "%s %s %s (%s)", method, sfx + 1, w_init, opt);
            if (!strcmp(w_init, "glorot-uniform"))
                expect_dist(what, collect(&mi, sfx, glorot_u_bound), 1 / sqrt(3.0), 0.03, 1);
            else if (!strcmp(w_init, "glorot-normal"))
                expect_dist(what, collect(&mi, sfx, glorot_n_std), 1, 0.03, 0);
            else
                expect_dist(what, collect(&mi, sfx, NULL), range, 0.03, 0);
        }
        int uni = !strcmp(c_init, "uniform");
        snprintf(what, sizeof what, "%s %s rule %s (%s)", method, shared ? "shared" : "per-layer",
                 c_init, opt);
        struct stats r = collect(&mi, "phm_rule", NULL);
        if (shared) { /* 4^3 = 64 values: loose */
            CHECK(r.n == 64, "%s: shared rule of %.0f values", method, r.n);
            if (uni)
                expect_dist(what, r, 1 / sqrt(3.0), 0.3, 1.0);
            else
                expect_dist(what, r, range, 0.35, 0);
        } else if (uni) {
            expect_dist(what, r, 0.01 / sqrt(3.0), 0.02, 0.01);
        } else {
            expect_dist(what, r, 0.01, 0.02, 0);
        }
    }
    /* layer norms train, lm_head and everything else of the base do not */
    int norms = 0, others = 0;
    for (int i = 0; i < mi.n_train; i++) {
        const char *nm = mi.train[i]->name;
        if (strstr(nm, "layer_norm"))
            norms++;
        else if (!strstr(nm, ".adapter.") && strcmp(nm, "adapters.phm_rule"))
            others++;
    }
    CHECK(norms == 62 && others == 0, "%s: %d layer norms trained (want 62), %d other base tensors",
          method, norms, others);
    /* never cross-attention */
    for (int i = 0; i < mi.n_params; i++)
        CHECK(!strstr(mi.params[i]->name, "decoder.") ||
                  !strstr(mi.params[i]->name, ".layer.1.adapter"),
              "%s: cross-attention adapter %s", method, mi.params[i]->name);
    method_detach(&mi);
    t5_model_free(&m);
}

static void inits(void) {
    const char *none[1] = {NULL};
    const char *methods[] = {"adapter",     "pfeiffer",  "adapterdrop", "adapter-lowrank",
                             "phm-adapter", "compacter", "compacter++"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        init_case(methods[i], none, 0);
    const char *a[] = {"low_rank_w_init=glorot-normal"};
    init_case("adapter-lowrank", a, 1);
    const char *b[] = {"phm_c_init=uniform"};
    init_case("phm-adapter", b, 1);
    init_case("compacter", b, 1);
    const char *c[] = {"hypercomplex_nonlinearity=glorot-normal"};
    init_case("compacter", c, 1);
    const char *d[] = {"hypercomplex_nonlinearity=normal", "phm_init_range=0.01"};
    init_case("phm-adapter", d, 2);
}

/* ---- 4. option errors ---- */

static void errors(void) {
    static const struct {
        const char *method, *opt, *msg;
    } bad[] = {
        {"compacter", "phm_dim=5", "must divide"},
        {"adapter", "non_linearity=tanh", "expected one of gelu_new, relu"},
        {"adapterdrop", "task_adapter_layers_encoder=5;6", "expected all, none or a list"},
        {"phm-adapter", "phm_c_init=xavier", "expected one of normal, uniform"},
        {"adapter", "reduction_factor=1000", "no bottleneck"},
        {"pfeiffer", "phm_dim=4", "no option 'phm_dim'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct t5_model m;
        struct method_instance mi;
        const char *kv[1] = {bad[i].opt};
        int rc = attach_base(&m, &mi, bad[i].method, kv, 1);
        CHECK(rc != 0 && strstr(error_message(), bad[i].msg), "%s %s: rc %d, '%s'", bad[i].method,
              bad[i].opt, rc, error_message());
        if (!rc) {
            method_detach(&mi);
            t5_model_free(&m);
        }
    }
    /* layers beyond the model are ignored (AdapterDrop's 5..11 on a 2-layer model: none) */
    struct t5_model m;
    struct method_instance mi;
    if (t5_model_load(&m, FIX "/t5/v10", &backend_cpu) ||
        method_attach(&mi, "adapterdrop", &m, NULL, 0, 1)) {
        CHECK(0, "%s", error_message());
        return;
    }
    CHECK(mi.n_params == 0, "adapterdrop on a 2+3-layer model: %d parameters", mi.n_params);
    method_detach(&mi);
    t5_model_free(&m);
}

int main(void) {
    omp_set_num_threads(1); /* tiny matrices: OpenMP spinning costs 10x on a busy 2-core machine */
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
        parity(&CASES[i]);
    params();
    inits();
    errors();
    CHECK_DONE();
}
