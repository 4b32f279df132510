/* experiment.c: load and validate an experiment file, expand a preset into run specs,
 * filter them (--only) and shard them (--shard k/N). */
#include "experiments/experiment.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "datasets/task.h"

/* Everything a preset fixes before the per-method loops. */
struct preset_common {
    const char *path;
    char jp[256]; /* JSON path of the preset: "presets.tiny" */
    const char *experiment, *preset, *model, *device, *precision;
    int batch, grad_accum, warmup, max_source_length, eval_every, batch_common;
    double stsb_step;
    long long memory_budget_bytes;
    json_t *seeds, *tasks, *sizes;
};

static int bad(const char *path, const char *jp, const char *what) {
    return error_set("%s: %s: %s", path, jp, what);
}

static json_t *get(const char *path, const char *jp, json_t *obj, const char *key, int required) {
    json_t *v = json_object_get(obj, key);
    if (!v && required) {
        error_set("%s: %s.%s: missing field", path, jp, key);
        return NULL;
    }
    return v;
}

/* A string field: NULL (error set) when required and missing or not a string. */
static const char *get_str(const char *path, const char *jp, json_t *obj, const char *key,
                           const char *def, size_t cap, int *err) {
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (!def) {
            error_set("%s: %s.%s: missing field", path, jp, key);
            *err = 1;
        }
        return def;
    }
    if (!json_is_string(v)) {
        error_set("%s: %s.%s: expected a string", path, jp, key);
        *err = 1;
        return NULL;
    }
    const char *s = json_string_value(v);
    if (!*s || strlen(s) >= cap) {
        error_set("%s: %s.%s: string empty or longer than %zu bytes", path, jp, key, cap - 1);
        *err = 1;
        return NULL;
    }
    return s;
}

/* An integer field >= lo; `def` when absent and `required` is 0. */
static long long get_int(const char *path, const char *jp, json_t *obj, const char *key,
                         long long def, int required, long long lo, int *err) {
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required) {
            error_set("%s: %s.%s: missing field", path, jp, key);
            *err = 1;
        }
        return def;
    }
    if (!json_is_integer(v)) {
        error_set("%s: %s.%s: expected an integer", path, jp, key);
        *err = 1;
        return def;
    }
    long long x = json_integer_value(v);
    if (x < lo) {
        error_set("%s: %s.%s: %lld is below the minimum %lld", path, jp, key, x, lo);
        *err = 1;
        return def;
    }
    return x;
}

/* A non-empty array whose elements pass `is`; `what` names the element kind. */
static json_t *get_array(const char *path, const char *jp, json_t *obj, const char *key,
                         int (*is)(const json_t *), const char *what, int required, int *err) {
    json_t *a = json_object_get(obj, key);
    if (!a) {
        if (required) {
            error_set("%s: %s.%s: missing field", path, jp, key);
            *err = 1;
        }
        return NULL;
    }
    if (!json_is_array(a) || json_array_size(a) == 0) {
        error_set("%s: %s.%s: expected a non-empty array of %s", path, jp, key, what);
        *err = 1;
        return NULL;
    }
    for (size_t i = 0; i < json_array_size(a); i++)
        if (!is(json_array_get(a, i))) {
            error_set("%s: %s.%s[%zu]: expected %s", path, jp, key, i, what);
            *err = 1;
            return NULL;
        }
    return a;
}

/* Every key of obj is one of known (NULL-terminated): a misspelt field would otherwise be
 * ignored and its default used without a word. */
static int check_keys(const char *path, const char *jp, json_t *obj, const char *const *known) {
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        int ok = 0;
        for (const char *const *q = known; *q && !ok; q++) ok = !strcmp(*q, k);
        if (ok) continue;
        char list[512] = "";
        for (const char *const *q = known; *q; q++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", q == known ? "" : ", ", *q);
        return error_set("%s: %s.%s: unknown field (known: %s)", path, jp, k, list);
    }
    return 0;
}

static const char *const top_keys[] = {"experiment", "description", "presets", NULL};
/* tiny_model, synthetic and threads are read by the runner (experiments/runner.c) */
/* the preset's "precision" and `--set precision=` */
static const char *const precision_choices[] = {"fp32", "tf32", "bf16", NULL};

static const char *const preset_keys[] = {"model", "device", "precision", "seeds", "batch", "grad_accum", "warmup",
                                          "max_source_length", "stsb_step", "eval_every", "memory_budget_bytes",
                                          "batch_policy",
                                          "tasks", "train_sizes", "methods", "tiny_model", "synthetic", "threads",
                                          NULL};
static const char *const method_keys[] = {"name", "label", "lr", "reduction_factor", "batch", "grad_accum",
                                          "warmup", "options", NULL};
static const char *const task_keys[] = {"name", "epochs", NULL};
static const char *const size_keys[] = {"size", "epochs", NULL};

/* value is one of the NULL-terminated list */
static int check_choice(const char *path, const char *jp, const char *key, const char *value,
                        const char *const *choices) {
    char list[128] = "";
    for (const char *const *q = choices; *q; q++) {
        if (!strcmp(*q, value)) return 0;
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", q == choices ? "" : ", ", *q);
    }
    return error_set("%s: %s.%s: '%s': expected one of %s", path, jp, key, value, list);
}

static int is_number(const json_t *v) { return json_is_number(v); }
static int is_posint(const json_t *v) { return json_is_integer(v) && json_integer_value(v) >= 0; }
static int is_object(const json_t *v) { return json_is_object(v); }

/* Shortest %g that reads back to the same double: 0.003, 0.0003, 0.3, 1e-05. */
static void fmt_double(double x, char *buf, size_t cap) {
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, cap, "%.*g", p, x);
        if (strtod(buf, NULL) == x) return;
    }
}

static int copy(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src);
    if (n >= cap) return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

static int read_options(const char *path, const char *jp, json_t *m, struct run_spec *r) {
    json_t *o = json_object_get(m, "options");
    r->n_options = 0;
    if (!o) return 0;
    if (!json_is_object(o)) return bad(path, jp, "options: expected an object");
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (r->n_options == RUN_MAX_OPTIONS)
            return error_set("%s: %s.options: more than %d options", path, jp, RUN_MAX_OPTIONS);
        struct run_option *op = &r->options[r->n_options++];
        char num[64];
        const char *s;
        if (json_is_string(v)) s = json_string_value(v);
        else if (json_is_integer(v)) {
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
            s = num;
        } else if (json_is_real(v)) {
            fmt_double(json_real_value(v), num, sizeof num);
            s = num;
        } else if (json_is_boolean(v)) s = json_is_true(v) ? "true" : "false";
        else return error_set("%s: %s.options.%s: expected a string, number or boolean", path, jp, k);
        if (copy(op->key, sizeof op->key, k) || copy(op->value, sizeof op->value, s))
            return error_set("%s: %s.options.%s: key or value too long", path, jp, k);
    }
    return 0;
}

static int push(struct experiment_grid *g, size_t *cap, const struct run_spec *r) {
    if (g->n == *cap) {
        size_t nc = *cap ? 2 * *cap : 64;
        struct run_spec *p = realloc(g->runs, nc * sizeof *p);
        if (!p) return error_set("experiment: out of memory for %zu runs", nc);
        g->runs = p;
        *cap = nc;
    }
    g->runs[g->n++] = *r;
    return 0;
}

static int set_run_id(struct run_spec *r) {
    char lr[32], size[32] = "", rf[32] = "", set[sizeof r->overrides + 8] = "";
    fmt_double(r->lr, lr, sizeof lr);
    if (r->train_size >= 0) snprintf(size, sizeof size, "/n%ld", r->train_size);
    if (r->reduction_factor > 0) snprintf(rf, sizeof rf, "/rf%d", r->reduction_factor);
    if (r->overrides[0]) snprintf(set, sizeof set, "/set-%s", r->overrides);
    const char *policy = r->batch > 0 ? "" : r->batch_common ? "/batch-common" : "/batch-own";
    const char *stsb = r->stsb_step == 0.2 ? "/stsb-step0.2" : ""; /* the paper's STS-B rounding */
    int n = snprintf(r->run_id, sizeof r->run_id, "%s/%s/%s/%s%s%s/lr%s%s/seed%d%s%s", r->experiment,
                     r->preset, r->label, r->task, size, stsb, lr, rf, r->seed, policy, set);
    if (n < 0 || (size_t)n >= sizeof r->run_id) return error_set("run id too long: %s", r->run_id);
    return 0;
}

/* ---- --set overrides ---- */

/* Integer keys take a value in [lo, hi]; keys with choices take one of the words. */
static const struct {
    const char *key;
    long long lo, hi;
    const char *const *choices;
} set_keys[] = {
    {"batch", 1, 1000000000LL, NULL},
    {"epochs", 1, 1000000000LL, NULL},
    {"eval_every", 0, 1000000000LL, NULL},
    {"grad_accum", 1, 1000000000LL, NULL},
    {"max_source_length", 1, 1000000000LL, NULL},
    {"max_steps", 1, 1000000000LL, NULL},
    {"max_train_samples", 1, 1000000000LL, NULL},
    {"memory_budget_bytes", 1, 1LL << 50, NULL}, /* bytes, up to 1 PiB */
    {"precision", 0, 0, precision_choices},
    {"warmup", 0, 1000000000LL, NULL},
};
#define N_SET_KEYS (sizeof set_keys / sizeof set_keys[0])

static int set_key_index(const char *key) {
    for (size_t i = 0; i < N_SET_KEYS; i++)
        if (!strcmp(set_keys[i].key, key)) return (int)i;
    return -1;
}

static int parse_one_set(const char *item, size_t len, struct experiment_sets *out) {
    const char *eq = memchr(item, '=', len);
    if (!eq || eq == item || eq == item + len - 1)
        return error_set("--set '%.*s': expected key=value", (int)len, item);
    size_t kl = (size_t)(eq - item), vl = len - kl - 1;
    char key[32], val[32];
    if (kl >= sizeof key || vl >= sizeof val)
        return error_set("--set '%.*s': key or value too long", (int)len, item);
    memcpy(key, item, kl);
    key[kl] = 0;
    memcpy(val, eq + 1, vl);
    val[vl] = 0;
    int k = set_key_index(key);
    if (k < 0) {
        char list[256] = "";
        for (size_t i = 0; i < N_SET_KEYS; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                     set_keys[i].key);
        return error_set("--set: unknown key '%s' (keys: %s)", key, list);
    }
    long long v = 0;
    if (set_keys[k].choices) {
        const char *const *c = set_keys[k].choices;
        while (*c && strcmp(*c, val)) c++;
        if (!*c) {
            char list[64] = "";
            for (c = set_keys[k].choices; *c; c++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                         c == set_keys[k].choices ? "" : ", ", *c);
            return error_set("--set %s=%s: expected one of %s", key, val, list);
        }
    } else {
        char *end;
        errno = 0;
        v = strtoll(val, &end, 10);
        if (end == val || *end || errno || v < set_keys[k].lo || v > set_keys[k].hi)
            return error_set("--set %s=%s: expected an integer from %lld to %lld", key, val, set_keys[k].lo,
                             set_keys[k].hi);
        snprintf(val, sizeof val, "%lld", v); /* canonical: "epochs=02" is "epochs=2" */
    }
    for (int i = 0; i < out->n; i++)
        if (!strcmp(out->key[i], key)) return error_set("--set: %s given twice", key);
    if (out->n == EXPERIMENT_MAX_SETS) return error_set("--set: more than %d overrides", EXPERIMENT_MAX_SETS);
    /* kept sorted by key: the run id's suffix is canonical whatever the order given */
    int at = out->n;
    while (at > 0 && strcmp(out->key[at - 1], key) > 0) {
        memcpy(out->key[at], out->key[at - 1], sizeof out->key[at]);
        memcpy(out->text[at], out->text[at - 1], sizeof out->text[at]);
        out->value[at] = out->value[at - 1];
        at--;
    }
    snprintf(out->key[at], sizeof out->key[at], "%s", key);
    snprintf(out->text[at], sizeof out->text[at], "%s", val);
    out->value[at] = v;
    out->n++;
    return 0;
}

int experiment_parse_sets(const char *const *items, int n_items, struct experiment_sets *out) {
    memset(out, 0, sizeof *out);
    for (int i = 0; i < n_items; i++) {
        const char *p = items[i];
        if (!*p) return error_set("--set: empty value (expected key=value)");
        while (*p) {
            size_t l = strcspn(p, ",");
            if (parse_one_set(p, l, out)) return -1;
            p += l;
            if (*p == ',') p++;
        }
    }
    return 0;
}

int experiment_sets_text(const struct experiment_sets *s, char *out, size_t cap) {
    size_t k = 0;
    if (cap) out[0] = 0;
    for (int i = 0; i < s->n; i++) {
        int n = snprintf(out + k, cap - k, "%s%s=%s", i ? "," : "", s->key[i], s->text[i]);
        if (n < 0 || (size_t)n >= cap - k) return error_set("--set: overrides too long");
        k += (size_t)n;
    }
    return 0;
}

/* Apply the overrides to one run and give it its /set- run id suffix. */
static int apply_sets(struct run_spec *r, const struct experiment_sets *s) {
    for (int i = 0; i < s->n; i++) {
        const char *key = s->key[i];
        long long v = s->value[i];
        if (!strcmp(key, "batch")) r->batch = (int)v;
        else if (!strcmp(key, "epochs")) r->epochs = (int)v;
        else if (!strcmp(key, "eval_every")) r->eval_every = (int)v;
        else if (!strcmp(key, "grad_accum")) r->grad_accum = (int)v;
        else if (!strcmp(key, "max_source_length")) r->max_source_length = (int)v;
        else if (!strcmp(key, "max_steps")) r->max_steps = v;
        else if (!strcmp(key, "max_train_samples")) r->max_train_samples = (long)v;
        else if (!strcmp(key, "memory_budget_bytes")) r->memory_budget_bytes = v;
        else if (!strcmp(key, "warmup")) r->warmup = (int)v;
        else if (!strcmp(key, "precision")) snprintf(r->precision, sizeof r->precision, "%s", s->text[i]);
    }
    return experiment_sets_text(s, r->overrides, sizeof r->overrides) || set_run_id(r) ? -1 : 0;
}

/* Expand one method entry over tasks x sizes x lrs x rfs x seeds. */
static int expand_method(const struct preset_common *c, json_t *m, size_t mi,
                         struct experiment_grid *g, size_t *cap) {
    char jp[300];
    snprintf(jp, sizeof jp, "%s.methods[%zu]", c->jp, mi);
    if (!json_is_object(m)) return bad(c->path, jp, "expected an object");
    if (check_keys(c->path, jp, m, method_keys)) return -1;
    int err = 0;
    struct run_spec r;
    memset(&r, 0, sizeof r);
    const char *name = get_str(c->path, jp, m, "name", NULL, sizeof r.method, &err);
    if (err) return -1;
    const char *label = get_str(c->path, jp, m, "label", name, sizeof r.label, &err);
    json_t *lrs = get_array(c->path, jp, m, "lr", is_number, "numbers", 1, &err);
    if (err) return -1;
    json_t *rfs = get_array(c->path, jp, m, "reduction_factor", is_posint,
                            "non-negative integers", 0, &err);
    if (err) return -1;
    r.batch = (int)get_int(c->path, jp, m, "batch", c->batch, 0, 0, &err);
    r.grad_accum = (int)get_int(c->path, jp, m, "grad_accum", c->grad_accum, 0, 1, &err);
    r.warmup = (int)get_int(c->path, jp, m, "warmup", c->warmup, 0, 0, &err);
    if (err) return -1;
    if (read_options(c->path, jp, m, &r)) return -1;
    copy(r.experiment, sizeof r.experiment, c->experiment);
    copy(r.preset, sizeof r.preset, c->preset);
    copy(r.model, sizeof r.model, c->model);
    copy(r.method, sizeof r.method, name);
    copy(r.label, sizeof r.label, label);
    copy(r.device, sizeof r.device, c->device);
    copy(r.precision, sizeof r.precision, c->precision);
    r.max_source_length = c->max_source_length;
    r.eval_every = c->eval_every;
    r.memory_budget_bytes = c->memory_budget_bytes;
    r.batch_common = c->batch_common;
    for (size_t ti = 0; ti < json_array_size(c->tasks); ti++) {
        json_t *t = json_array_get(c->tasks, ti);
        char tjp[300];
        snprintf(tjp, sizeof tjp, "%s.tasks[%zu]", c->jp, ti);
        if (check_keys(c->path, tjp, t, task_keys)) return -1;
        const char *tname = get_str(c->path, tjp, t, "name", NULL, sizeof r.task, &err);
        int task_epochs = (int)get_int(c->path, tjp, t, "epochs", 0, c->sizes == NULL, 1, &err);
        if (err) return -1;
        copy(r.task, sizeof r.task, tname);
        /* the rounding is STS-B's alone (an unknown task fails at validation) */
        const struct task *tk = task_find(tname);
        r.stsb_step = tk && !strcmp(tk->name, "stsb") ? c->stsb_step : 0.0;
        size_t n_sizes = c->sizes ? json_array_size(c->sizes) : 1;
        for (size_t si = 0; si < n_sizes; si++) {
            r.train_size = -1;
            r.epochs = task_epochs;
            if (c->sizes) {
                json_t *s = json_array_get(c->sizes, si);
                char sjp[300];
                snprintf(sjp, sizeof sjp, "%s.train_sizes[%zu]", c->jp, si);
                if (check_keys(c->path, sjp, s, size_keys)) return -1;
                r.train_size = (long)get_int(c->path, sjp, s, "size", 0, 1, 1, &err);
                r.epochs = (int)get_int(c->path, sjp, s, "epochs", 0, 1, 1, &err);
                if (err) return -1;
            }
            for (size_t li = 0; li < json_array_size(lrs); li++) {
                r.lr = json_number_value(json_array_get(lrs, li));
                if (!(r.lr > 0) || !isfinite(r.lr))
                    return error_set("%s: %s.lr[%zu]: learning rate must be positive", c->path,
                                     jp, li);
                size_t n_rf = rfs ? json_array_size(rfs) : 1;
                for (size_t fi = 0; fi < n_rf; fi++) {
                    r.reduction_factor = rfs ? (int)json_integer_value(json_array_get(rfs, fi)) : 0;
                    for (size_t ki = 0; ki < json_array_size(c->seeds); ki++) {
                        r.seed = (int)json_integer_value(json_array_get(c->seeds, ki));
                        if (set_run_id(&r) || push(g, cap, &r)) return -1;
                    }
                }
            }
        }
    }
    return 0;
}

/* --only: does run r pass every key of the filter? */
struct filter_term {
    char key[32];
    char value[128];
};

static int run_field(const struct run_spec *r, const char *key, char *buf, size_t cap) {
    if (!strcmp(key, "method")) snprintf(buf, cap, "%s", r->method);
    else if (!strcmp(key, "label")) snprintf(buf, cap, "%s", r->label);
    else if (!strcmp(key, "task")) snprintf(buf, cap, "%s", r->task);
    else if (!strcmp(key, "seed")) snprintf(buf, cap, "%d", r->seed);
    else if (!strcmp(key, "lr")) fmt_double(r->lr, buf, cap);
    else if (!strcmp(key, "rf") || !strcmp(key, "reduction_factor"))
        snprintf(buf, cap, "%d", r->reduction_factor);
    else if (!strcmp(key, "train_size")) snprintf(buf, cap, "%ld", r->train_size);
    else return -1;
    return 0;
}

static int parse_filter(const char *only, struct filter_term *terms, int max, int *n) {
    *n = 0;
    const char *p = only;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (!eq || eq == p || eq == p + len - 1)
            return error_set("--only '%s': expected key=value[,key=value...]", only);
        if (*n == max) return error_set("--only '%s': more than %d terms", only, max);
        struct filter_term *t = &terms[(*n)++];
        size_t kl = (size_t)(eq - p), vl = len - kl - 1;
        if (kl >= sizeof t->key || vl >= sizeof t->value)
            return error_set("--only '%s': term too long", only);
        memcpy(t->key, p, kl);
        t->key[kl] = 0;
        memcpy(t->value, eq + 1, vl);
        t->value[vl] = 0;
        char probe[8];
        struct run_spec dummy = {0};
        if (run_field(&dummy, t->key, probe, sizeof probe))
            return error_set("--only: unknown key '%s' (method, label, task, seed, lr, rf, "
                             "train_size)",
                             t->key);
        p += len;
        if (*p == ',') p++;
    }
    if (*n == 0) return error_set("--only: empty filter");
    return 0;
}

static int filter_match(const struct run_spec *r, const struct filter_term *t, int n) {
    for (int i = 0; i < n; i++) {
        int seen = 0, hit = 0;
        /* Terms with the same key form one OR-group; evaluate each group at its first term. */
        for (int j = 0; j < i; j++)
            if (!strcmp(t[j].key, t[i].key)) seen = 1;
        if (seen) continue;
        char v[128];
        run_field(r, t[i].key, v, sizeof v);
        for (int j = i; j < n; j++)
            if (!strcmp(t[j].key, t[i].key) && !strcmp(t[j].value, v)) hit = 1;
        if (!hit) return 0;
    }
    return 1;
}

int experiment_parse_shard(const char *s, int *k, int *n) {
    char *end;
    errno = 0;
    long a = strtol(s, &end, 10);
    if (end == s || *end != '/') return error_set("--shard '%s': expected k/N", s);
    const char *q = end + 1;
    long b = strtol(q, &end, 10);
    if (end == q || *end || errno || b < 1 || a < 1 || a > b || b > 1000000)
        return error_set("--shard '%s': expected k/N with 1 <= k <= N", s);
    *k = (int)a;
    *n = (int)b;
    return 0;
}

static int load_preset(const char *path, json_t *root, const char *preset,
                       struct preset_common *c) {
    memset(c, 0, sizeof *c);
    c->path = path;
    int err = 0;
    if (!json_is_object(root)) return error_set("%s: expected a JSON object at the top", path);
    if (check_keys(path, "$", root, top_keys)) return -1;
    c->experiment = get_str(path, "$", root, "experiment", NULL, RUN_NAME_CAP, &err);
    if (err) return -1;
    /* it names the results file <results>/<experiment>.jsonl and the runs' folders */
    if (strchr(c->experiment, '/') || c->experiment[0] == '.')
        return error_set("%s: $.experiment: '%s': expected a plain name (no '/', not starting with '.')", path,
                         c->experiment);
    json_t *presets = get(path, "$", root, "presets", 1);
    if (!presets) return -1;
    if (!json_is_object(presets)) return bad(path, "presets", "expected an object");
    json_t *p = json_object_get(presets, preset);
    if (!p) {
        char names[512] = "";
        const char *k;
        json_t *v;
        json_object_foreach(presets, k, v) {
            size_t l = strlen(names);
            snprintf(names + l, sizeof names - l, "%s%s", l ? ", " : "", k);
        }
        return error_set("%s: presets: unknown preset '%s' (the file has: %s)", path, preset,
                         names);
    }
    if (strlen(preset) >= RUN_NAME_CAP)
        return error_set("%s: preset name too long: %s", path, preset);
    c->preset = preset;
    snprintf(c->jp, sizeof c->jp, "presets.%s", preset);
    if (!json_is_object(p)) return bad(path, c->jp, "expected an object");
    if (check_keys(path, c->jp, p, preset_keys)) return -1;
    c->model = get_str(path, c->jp, p, "model", NULL, 128, &err);
    if (err) return -1;
    c->device = get_str(path, c->jp, p, "device", "cpu", 32, &err);
    static const char *const devices[] = {"cpu", "cuda", "auto", NULL};
    if (err || check_choice(path, c->jp, "device", c->device, devices)) return -1;
    c->precision = get_str(path, c->jp, p, "precision", "fp32", 16, &err);
    if (err || check_choice(path, c->jp, "precision", c->precision, precision_choices)) return -1;
    c->seeds = get_array(path, c->jp, p, "seeds", is_posint, "non-negative integers", 1, &err);
    if (err) return -1;
    c->batch = (int)get_int(path, c->jp, p, "batch", 0, 1, 0, &err);
    c->grad_accum = (int)get_int(path, c->jp, p, "grad_accum", 1, 0, 1, &err);
    c->warmup = (int)get_int(path, c->jp, p, "warmup", 0, 1, 0, &err);
    c->max_source_length = (int)get_int(path, c->jp, p, "max_source_length", 128, 0, 1, &err);
    c->eval_every = (int)get_int(path, c->jp, p, "eval_every", 0, 0, 0, &err);
    c->stsb_step = 0.1;
    json_t *step = json_object_get(p, "stsb_step");
    if (step && (!json_is_number(step) || (json_number_value(step) != 0.1 && json_number_value(step) != 0.2)))
        return error_set("%s: %s.stsb_step: expected 0.1 (the reference code's rounding) or 0.2 (the paper's)", path,
                         c->jp);
    if (step) c->stsb_step = json_number_value(step);
    c->memory_budget_bytes = get_int(path, c->jp, p, "memory_budget_bytes", 0, 0, 0, &err);
    if (err) return -1;
    const char *policy = get_str(path, c->jp, p, "batch_policy", "common", 16, &err);
    if (err) return -1;
    if (strcmp(policy, "common") && strcmp(policy, "per_method"))
        return error_set("%s: %s.batch_policy: '%s': expected \"common\" or \"per_method\"", path, c->jp, policy);
    c->batch_common = !strcmp(policy, "common");
    c->tasks = get_array(path, c->jp, p, "tasks", is_object, "objects", 1, &err);
    if (err) return -1;
    c->sizes = get_array(path, c->jp, p, "train_sizes", is_object, "objects", 0, &err);
    if (err) return -1;
    return 0;
}

int experiment_expand(const char *path, const char *preset, const char *only, const char *shard,
                      struct experiment_grid *out) {
    return experiment_expand_set(path, preset, NULL, only, shard, out);
}

int experiment_expand_set(const char *path, const char *preset, const struct experiment_sets *sets,
                          const char *only, const char *shard, struct experiment_grid *out) {
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) /* no line when the file could not be read at all */
        return je.line < 1 ? error_set("%s: %s", path, je.text)
                           : error_set("%s:%d:%d: %s", path, je.line, je.column, je.text);
    struct preset_common c;
    size_t cap = 0;
    int rc = -1;
    struct filter_term terms[32];
    int n_terms = 0, sk = 1, sn = 1;
    if (load_preset(path, root, preset, &c)) goto done;
    int err = 0;
    json_t *methods = get_array(path, c.jp, json_object_get(json_object_get(root, "presets"), preset),
                        "methods", is_object, "objects", 1, &err);
    if (err) goto done;
    for (size_t i = 0; i < json_array_size(methods); i++)
        if (expand_method(&c, json_array_get(methods, i), i, out, &cap)) goto done;
    for (size_t i = 0; sets && sets->n && i < out->n; i++)
        if (apply_sets(&out->runs[i], sets)) goto done;
    for (size_t i = 0; i < out->n; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(out->runs[i].run_id, out->runs[j].run_id)) {
                error_set("%s: %s: duplicate run %s (give one of the method entries a distinct "
                          "\"label\")",
                          path, c.jp, out->runs[i].run_id);
                goto done;
            }
    copy(out->experiment, sizeof out->experiment, c.experiment);
    copy(out->preset, sizeof out->preset, preset);
    if (only && parse_filter(only, terms, 32, &n_terms)) goto done;
    if (shard && experiment_parse_shard(shard, &sk, &sn)) goto done;
    size_t kept = 0, matched = 0;
    for (size_t i = 0; i < out->n; i++) {
        if (n_terms && !filter_match(&out->runs[i], terms, n_terms)) continue;
        if (matched++ % (size_t)sn == (size_t)(sk - 1)) out->runs[kept++] = out->runs[i];
    }
    if (n_terms && matched == 0) {
        error_set("%s: preset %s: --only '%s' matches none of its %zu runs", path, preset, only,
                  out->n);
        goto done;
    }
    out->n = kept;
    /* a memory budget only bounds the batch search (batch 0, the efficiency grid): on a run
     * with a fixed batch it would change nothing but the run id */
    for (int i = 0; sets && i < sets->n; i++)
        for (size_t j = 0; !strcmp(sets->key[i], "memory_budget_bytes") && j < out->n; j++)
            if (out->runs[j].batch >= 1) {
                error_set("%s: %s: --set memory_budget_bytes: run %s has batch %d (a memory "
                          "budget only bounds the batch search of batch 0 runs: the efficiency "
                          "grid)",
                          path, c.jp, out->runs[j].run_id, out->runs[j].batch);
                goto done;
            }
    rc = 0;
done:
    json_decref(root);
    if (rc) experiment_grid_free(out);
    return rc;
}

void experiment_grid_free(struct experiment_grid *g) {
    free(g->runs);
    g->runs = NULL;
    g->n = 0;
}

const char *run_spec_option(const struct run_spec *r, const char *key) {
    for (int i = 0; i < r->n_options; i++)
        if (!strcmp(r->options[i].key, key)) return r->options[i].value;
    return NULL;
}
