/* test_bf16_storage.c: bf16 storage (--precision bf16, core/ops.h) on the CPU backend against
 * a PyTorch reference of its rounding points (tools/make_bf16_storage_fixtures.py: a T5
 * written from scratch in f32 torch, operands and outputs narrowed where bf16 storage narrows
 * them), on the fixture T5s of both families, dropout off:
 *  1. method "full" (every parameter trains, nothing frozen): logits, loss and the gradient
 *     of every parameter; one AdamW step stays finite;
 *  2. only the layer norms train, the linear weights frozen and stored bf16
 *     (t5_model_frozen_to_bf16): their dtype, the parameter bytes saved, logits, loss and the
 *     layer norms' gradients.
 * What may differ is f32 summation order flipping an occasional bf16 rounding (in the
 * gradients amplified: see the tolerances below). Each tolerance is at least 10x below the
 * distance of the bf16 reference from the fp32 one (<fam>-reference.safetensors,
 * <fam>-train.safetensors), which is checked too: the test tells bf16 storage from fp32.
 * Attention's two GEMMs round their operands to bf16 (the f32 GEMMs of the bf16 precision
 * mode) with f32 outputs; the reference does the same. */
#include "tests/check.h"

#include "core/autograd.h"
#include "core/error.h"
#include "core/optimizer.h"
#include "core/safetensors.h"
#include "core/t5_forward.h"
#include "core/trainable.h"
#include "methods/method.h"

#define FIX "tests/fixtures/t5"

/* Tolerances, from measurements (first made with attention's GEMMs in plain f32 on both
 * sides; with their operands rounded, as now, the C code agrees closer still: logits 0,
 * gradients together 2.6e-8 (v10) and 2.0e-7 (v11)), and a reference with split-k f32 sums
 * as a second sample of the summation-order noise, which another BLAS may bring:
 *  - logits, max|a-b| / max|b|: measured 0 (both families); the fp32 reference 3.8e-3 (v10)
 *    and 9.0e-3 (v11) away;
 *  - loss, relative: measured 0 and 1.4e-7; the fp32 reference 1.8e-4 and 9.5e-4 away;
 *  - gradients: a bf16 rounding that f32 summation order flips is one bf16 ulp (2^-8
 *    relative) in one element of a narrowed dy, and everything upstream of it inherits the
 *    change: the parameters near the loss agree to ~1e-7, the encoder's to ~3e-3 per tensor
 *    (max|a-b|/max|b|). So the 10x criterion applies to all gradients together,
 *    ||a-b|| / ||b|| over every trained tensor concatenated: measured 5.1e-4 (v10), 7.0e-4
 *    (v11), a reference with split-k sums up to 9.1e-4; the fp32 reference 4.2e-2 and 1.8e-2
 *    away (layer norms only: 3.7e-2, 1.6e-2). Not narrowing dy in the linears' backward moves
 *    them by 2.9e-3 / 3.8e-3. Each tensor alone must be within TOL_GRAD_TENSOR (||a-b|| /
 *    ||b||; measured up to 2.2e-3, split-k references 2.9e-3): a gross-error check (a
 *    missing, zero or doubled gradient), not 10x below the fp32 distance of every tensor
 *    (5.7e-3 at least). */
#define TOL_LOGITS 1e-5
#define TOL_LOSS 1e-5
#define TOL_GRAD 1.5e-3
#define TOL_GRAD_TENSOR 6e-3
#define SEPARATION 10.0 /* the fp32 reference must be this many tolerances away */

static const float *ref(struct st_file *f, const char *name, int64_t *numel) {
    const struct st_tensor *t = st_find(f, name);
    if (!t) return NULL;
    if (numel) *numel = st_numel(t);
    return (const float *)(f->map + f->data_start + t->begin);
}

/* max|a-b| / max|b| in double (NaN or a zero b: inf unless a == b) */
static double rel_max(const float *a, const float *b, int64_t n) {
    double d = 0, mb = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        if (!(e <= d)) d = isnan(e) ? INFINITY : e;
        if (fabs((double)b[i]) > mb) mb = fabs((double)b[i]);
    }
    return mb > 0 ? d / mb : (d > 0 ? INFINITY : 0);
}

/* the batch of <fam>-reference.safetensors */
struct batch {
    struct t5_batch b;
    int32_t dec[256];
};

static void make_batch(struct st_file *rf, const struct t5_config *c, struct batch *bt) {
    const struct st_tensor *et = st_find(rf, "enc_ids"), *lt = st_find(rf, "labels");
    int B = (int)et->shape[0], S = (int)et->shape[1], T = (int)lt->shape[1];
    const int32_t *labels = (const int32_t *)ref(rf, "labels", NULL);
    t5_shift_right(c, labels, B, T, bt->dec);
    bt->b = (struct t5_batch){B, S, T, (const int32_t *)ref(rf, "enc_ids", NULL),
                              (const int32_t *)ref(rf, "enc_mask", NULL), bt->dec, labels};
}

/* logits and loss against the bf16 reference (prefix "" or "ln."), and the bf16 reference
 * against the fp32 one */
static void check_outputs(const char *what, const struct t5_outputs *o, struct st_file *bf, const char *prefix,
                          struct st_file *rf) {
    char name[64];
    int64_t n = 0, n32 = 0;
    snprintf(name, sizeof name, "%slogits", prefix);
    const float *want = ref(bf, name, &n), *want32 = ref(rf, "logits", &n32);
    CHECK(want && want32 && n == tensor_numel(o->logits) && n32 == n, "%s: reference logits missing or misshapen",
          what);
    if (!want || !want32 || n != tensor_numel(o->logits) || n32 != n) return;
    CHECK(o->logits->dtype == DTYPE_F32, "%s: logits are %s, not f32", what, dtype_name(o->logits->dtype));
    double d = rel_max(o->logits->data, want, n), sep = rel_max(want, want32, n);
    double d32 = rel_max(o->logits->data, want32, n);
    CHECK(d <= TOL_LOGITS, "%s logits: max|a-b|/max|b| %.3g > %g (%.3g from the fp32 reference)", what, d,
          TOL_LOGITS, d32);
    CHECK(sep >= SEPARATION * TOL_LOGITS, "%s logits: bf16 and fp32 references only %.3g apart", what, sep);
    printf("  %s %s logits: max|a-b|/max|b| %.3g vs the bf16 reference (tolerance %g), %.3g vs fp32 "
           "(references %.3g apart)\n",
           d <= TOL_LOGITS ? "ok" : "--", what, d, TOL_LOGITS, d32, sep);
    snprintf(name, sizeof name, "%sloss", prefix);
    const float *loss = ref(bf, name, NULL), *loss32 = ref(rf, "loss", NULL);
    CHECK(loss && loss32, "%s: reference loss missing", what);
    if (!loss || !loss32) return;
    const float *got = o->loss->data;
    d = fabs((double)*got - *loss) / fabs((double)*loss);
    sep = fabs((double)*loss - *loss32) / fabs((double)*loss32);
    CHECK(d <= TOL_LOSS, "%s loss %.9g vs %.9g: relative %.3g > %g", what, *got, *loss, d, TOL_LOSS);
    CHECK(sep >= SEPARATION * TOL_LOSS, "%s loss: bf16 and fp32 references only %.3g apart", what, sep);
    printf("  %s %s loss %.7f: relative %.3g vs the bf16 reference %.7f (tolerance %g); fp32 %.7f (%.3g apart)\n",
           d <= TOL_LOSS ? "ok" : "--", what, *got, d, *loss, TOL_LOSS, *loss32, sep);
}

/* Each trained tensor's gradient against <prefix>grad.<name> (||a-b|| / ||b|| within
 * TOL_GRAD_TENSOR), all of them together (within TOL_GRAD), and the bf16 reference's against
 * the fp32 one (grad.<name> of <fam>-train.safetensors; together SEPARATION x TOL_GRAD away
 * at least). */
static void check_grads(const char *what, struct tensor **ts, int n_ts, struct st_file *bf, const char *prefix,
                        struct st_file *tf) {
    int ok = 0;
    double num = 0, den = 0, num32 = 0, den32 = 0, worst = 0, worst_max = 0, least_sep = INFINITY;
    const char *worst_name = "", *least_name = "";
    for (int i = 0; i < n_ts; i++) {
        struct tensor *t = ts[i];
        char name[200], name32[200];
        snprintf(name, sizeof name, "%sgrad.%s", prefix, t->name);
        snprintf(name32, sizeof name32, "grad.%s", t->name);
        int64_t n = 0, n32 = 0;
        const float *want = ref(bf, name, &n), *want32 = ref(tf, name32, &n32);
        CHECK(want && want32 && n == tensor_numel(t) && n32 == n && t->grad, "%s: no gradient or reference for %s",
              what, t->name);
        if (!want || !want32 || n != tensor_numel(t) || n32 != n || !t->grad) continue;
        const float *g = t->grad;
        double tn = 0, td = 0, sn = 0;
        for (int64_t j = 0; j < n; j++) {
            double e = (double)g[j] - want[j], e32 = (double)want[j] - want32[j];
            tn += e * e;
            td += (double)want[j] * want[j];
            sn += e32 * e32;
            num32 += e32 * e32;
            den32 += (double)want32[j] * want32[j];
        }
        num += tn;
        den += td;
        double d = td > 0 ? sqrt(tn / td) : sqrt(tn), sep = td > 0 ? sqrt(sn / td) : sqrt(sn);
        if (isnan(d)) d = INFINITY;
        CHECK(d <= TOL_GRAD_TENSOR, "%s gradient %s: ||a-b||/||b|| %.3g > %g (max|a-b|/max|b| %.3g)", what, t->name,
              d, TOL_GRAD_TENSOR, rel_max(g, want, n));
        ok += d <= TOL_GRAD_TENSOR;
        if (d > worst) worst = d, worst_name = t->name;
        double dm = rel_max(g, want, n);
        if (dm > worst_max) worst_max = dm;
        if (sep < least_sep) least_sep = sep, least_name = t->name;
    }
    double all = den > 0 ? sqrt(num / den) : sqrt(num), all32 = den32 > 0 ? sqrt(num32 / den32) : sqrt(num32);
    if (isnan(all)) all = INFINITY;
    CHECK(all <= TOL_GRAD, "%s gradients together: ||a-b||/||b|| %.3g > %g", what, all, TOL_GRAD);
    CHECK(all32 >= SEPARATION * TOL_GRAD, "%s gradients: bf16 and fp32 references only %.3g apart", what, all32);
    printf("  %s %s: %d gradients, together ||a-b||/||b|| %.3g vs the bf16 reference (tolerance %g; fp32 "
           "reference %.3g away); per tensor worst %.3g (%s; tolerance %g), max|a-b|/max|b| <= %.3g; "
           "references >= %.3g apart per tensor (%s)\n",
           all <= TOL_GRAD && ok == n_ts ? "ok" : "--", what, n_ts, all, TOL_GRAD, all32, worst, worst_name,
           TOL_GRAD_TENSOR, worst_max, least_sep, least_name);
}

static int all_finite(const float *p, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(p[i])) return 0;
    return 1;
}

/* the fixture model of fam on the CPU, its case named "<fam> <label>" in what; 0, or -1 after
 * a failed check */
static int load_case(const char *fam, const char *label, char *what, size_t cap, struct t5_model *m) {
    char dir[128];
    snprintf(what, cap, "%s %s", fam, label);
    snprintf(dir, sizeof dir, FIX "/%s", fam);
    int rc = t5_model_load(m, dir, &backend_cpu);
    CHECK(rc == 0, "load %s: %s", dir, error_message());
    return rc;
}

/* 1. full fine-tuning through method "full"; then one AdamW step */
static void case_full(const char *fam, struct st_file *rf, struct st_file *tf, struct st_file *bf) {
    char what[64];
    struct t5_model m;
    struct method_instance mi;
    struct trainable tr;
    struct exec x;
    if (load_case(fam, "full", what, sizeof what, &m)) return;
    size_t bytes = t5_model_param_bytes(&m);
    if (method_attach(&mi, "full", &m, NULL, 0, 1) ||
        trainable_init(&tr, &backend_cpu, mi.train, mi.n_train, NULL) || exec_init(&x, &backend_cpu)) {
        CHECK(0, "%s: %s", what, error_message());
        t5_model_free(&m);
        return;
    }
    CHECK(x.bf16 == 1, "%s: exec_init did not turn bf16 storage on", what);
    /* everything trains: nothing is frozen, so nothing moves to bf16 */
    CHECK(!m.storage_bf16 && m.n_bf16 == 0 && t5_model_param_bytes(&m) == bytes,
          "%s: %lld weights stored bf16 with every parameter training", what, (long long)m.n_bf16);
    struct batch bt;
    make_batch(rf, &m.cfg, &bt);
    struct t5_outputs o;
    x.record = 1; /* training 0: dropout off, as in the reference */
    if (t5_forward(&x, &m, &bt.b, &o) || backward(&x, o.loss)) {
        CHECK(0, "%s: %s", what, error_message());
    } else {
        check_outputs(what, &o, bf, "", rf);
        check_grads(what, mi.train, mi.n_train, bf, "", tf);
    }
    exec_reset(&x);

    /* one AdamW step (gradients of the pass above): parameters and the next loss finite */
    struct optimizer opt;
    struct optim_config c = optim_defaults(1e-3, 0, 10);
    c.weight_decay = 0.01;
    float loss0 = NAN;
    if (optimizer_init(&opt, &tr, &c)) {
        CHECK(0, "%s optimizer: %s", what, error_message());
    } else {
        trainable_zero_grad(&tr);
        int rc = t5_forward(&x, &m, &bt.b, &o) || backward(&x, o.loss);
        if (!rc) loss0 = *(const float *)o.loss->data;
        rc = rc || optimizer_step(&opt);
        exec_reset(&x);
        rc = rc || t5_forward(&x, &m, &bt.b, &o);
        if (rc) {
            CHECK(0, "%s step: %s", what, error_message());
        } else {
            int finite = 1;
            for (int i = 0; i < m.n_params; i++) finite &= all_finite(m.params[i].data, tensor_numel(&m.params[i]));
            float loss1 = *(const float *)o.loss->data;
            int logits_ok = all_finite(o.logits->data, tensor_numel(o.logits));
            int loss_ok = isfinite(loss0) && isfinite(loss1) && loss1 != loss0;
            CHECK(finite, "%s: a parameter is not finite after one AdamW step", what);
            CHECK(loss_ok && logits_ok, "%s: loss %g before the step, %g after (logits finite: %d)", what, loss0,
                  loss1, logits_ok);
            if (finite && loss_ok && logits_ok)
                printf("  ok %s: one AdamW step, parameters and logits finite (loss %.6f -> %.6f)\n", what, loss0,
                       loss1);
        }
        exec_reset(&x);
        optimizer_free(&opt);
    }
    trainable_free(&tr);
    method_detach(&mi);
    t5_model_free(&m);
    exec_free(&x);
}

static int is_linear_weight(const struct t5_model *m, const char *name) {
    static const char *const suffix[] = {".q.weight", ".k.weight", ".v.weight", ".o.weight",
                                         ".wi.weight", ".wi_0.weight", ".wi_1.weight", ".wo.weight"};
    size_t len = strlen(name);
    for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
        size_t k = strlen(suffix[i]);
        if (len >= k && !strcmp(name + len - k, suffix[i])) return 1;
    }
    return !m->cfg.tied && !strcmp(name, "lm_head.weight");
}

/* 2. the layer norms train, every linear weight frozen and stored bf16 */
static void case_norms(const char *fam, struct st_file *rf, struct st_file *tf, struct st_file *bf) {
    char what[64];
    struct t5_model m;
    struct trainable tr;
    struct exec x;
    if (load_case(fam, "norms only", what, sizeof what, &m)) return;
    size_t bytes = t5_model_param_bytes(&m);
    struct tensor **ln = malloc(sizeof *ln * (size_t)m.n_params);
    int n_ln = 0;
    int64_t n_lin = 0, n_lin_tensors = 0;
    for (int i = 0; i < m.n_params; i++) {
        if (strstr(m.params[i].name, "layer_norm")) ln[n_ln++] = &m.params[i];
        if (is_linear_weight(&m, m.params[i].name)) n_lin += tensor_numel(&m.params[i]), n_lin_tensors++;
    }
    if (t5_model_frozen_to_bf16(&m, ln, n_ln)) {
        CHECK(0, "%s: t5_model_frozen_to_bf16: %s", what, error_message());
        free(ln);
        t5_model_free(&m);
        return;
    }
    int dtypes_ok = 1;
    for (int i = 0; i < m.n_params; i++) {
        enum dtype want = is_linear_weight(&m, m.params[i].name) ? DTYPE_BF16 : DTYPE_F32;
        if (m.params[i].dtype != want) {
            dtypes_ok = 0;
            CHECK(0, "%s: %s is %s, not %s", what, m.params[i].name, dtype_name(m.params[i].dtype), dtype_name(want));
        }
    }
    size_t after = t5_model_param_bytes(&m);
    int bytes_ok = m.n_bf16 == n_lin && n_lin > 0 && bytes - after == (size_t)n_lin * 2;
    CHECK(bytes_ok, "%s: %lld bf16 elements (want %lld), %zu -> %zu bytes (want -%lld)", what, (long long)m.n_bf16,
          (long long)n_lin, bytes, after, (long long)n_lin * 2);
    if (dtypes_ok && bytes_ok)
        printf("  ok %s: %lld linear weights bf16 (%lld elements), the rest f32; parameters %zu -> %zu bytes (-2 per "
               "element)\n", what,
               (long long)n_lin_tensors, (long long)n_lin, bytes, after);
    if (trainable_init(&tr, &backend_cpu, ln, n_ln, NULL) || exec_init(&x, &backend_cpu)) {
        CHECK(0, "%s: %s", what, error_message());
        free(ln);
        t5_model_free(&m);
        return;
    }
    struct batch bt;
    make_batch(rf, &m.cfg, &bt);
    struct t5_outputs o;
    x.record = 1;
    if (t5_forward(&x, &m, &bt.b, &o) || backward(&x, o.loss)) {
        CHECK(0, "%s: %s", what, error_message());
    } else {
        check_outputs(what, &o, bf, "ln.", rf);
        check_grads(what, ln, n_ln, bf, "ln.", tf);
    }
    exec_reset(&x);
    trainable_free(&tr);
    free(ln);
    t5_model_free(&m);
    exec_free(&x);
}

static void run_family(const char *fam) {
    char path[128];
    struct st_file rf, tf, bf;
    snprintf(path, sizeof path, FIX "/%s-reference.safetensors", fam);
    if (st_open(&rf, path)) {
        CHECK(0, "%s", error_message());
        return;
    }
    snprintf(path, sizeof path, FIX "/%s-train.safetensors", fam);
    if (st_open(&tf, path)) {
        CHECK(0, "%s", error_message());
        st_close(&rf);
        return;
    }
    snprintf(path, sizeof path, FIX "/%s-bf16-storage.safetensors", fam);
    if (st_open(&bf, path)) {
        CHECK(0, "%s", error_message());
        st_close(&rf);
        st_close(&tf);
        return;
    }
    case_full(fam, &rf, &tf, &bf);
    case_norms(fam, &rf, &tf, &bf);
    st_close(&rf);
    st_close(&tf);
    st_close(&bf);
}

int main(void) {
    /* before any exec_init and method_attach: they read it back (backend_bf16_storage) */
    if (backend_set_precision(&backend_cpu, "bf16")) {
        CHECK(0, "backend_set_precision bf16: %s", error_message());
        CHECK_DONE();
    }
    if (!backend_bf16_storage(&backend_cpu)) {
        const char *env = getenv("COMPACTER_BF16_STORAGE");
        backend_set_precision(&backend_cpu, "fp32");
        if (env && !strcmp(env, "0")) SKIP("COMPACTER_BF16_STORAGE=0 turns bf16 storage off");
        CHECK(0, "the cpu backend has no bf16 storage");
        CHECK_DONE();
    }
    run_family("v10");
    run_family("v11");
    CHECK(backend_set_precision(&backend_cpu, "fp32") == 0 && !backend_bf16_storage(&backend_cpu),
          "precision back to fp32");
    CHECK_DONE();
}
