/* method.c: attaching a method to a model, options, parameter declaration and the
 * initialisers methods share. */
#include "methods/method.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/splitmix.h"

/* ---- options ---- */

const char *method_opt(const struct method_instance *mi, const char *name) {
    for (int i = 0; i < mi->n_options; i++)
        if (!strcmp(mi->opt_name[i], name)) return mi->opt_value[i];
    return NULL;
}

int method_opt_int(const struct method_instance *mi, const char *name, int *out) {
    const char *v = method_opt(mi, name);
    char *end;
    if (!v) return error_set("no option '%s'", name);
    long x = strtol(v, &end, 10);
    if (*end || end == v) return error_set("option %s=%s is not an integer", name, v);
    *out = (int)x;
    return 0;
}

int method_opt_float(const struct method_instance *mi, const char *name, double *out) {
    const char *v = method_opt(mi, name);
    char *end;
    if (!v) return error_set("no option '%s'", name);
    *out = strtod(v, &end);
    if (*end || end == v) return error_set("option %s=%s is not a number", name, v);
    return 0;
}

/* 1 for true / 1 / yes, 0 for false / 0 / no, -1 otherwise */
static int bool_text(const char *v) {
    if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes")) return 1;
    if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no")) return 0;
    return -1;
}

int method_opt_bool(const struct method_instance *mi, const char *name, int *out) {
    const char *v = method_opt(mi, name);
    if (!v) return error_set("no option '%s'", name);
    int b = bool_text(v);
    if (b < 0) return error_set("option %s=%s is not a boolean (true/false)", name, v);
    *out = b;
    return 0;
}

static int parses_num(const char *v) {
    char *end;
    (void)strtod(v, &end);
    return end != v && !*end;
}


int method_option_check(const struct method_option *op, const char *value) {
    const char *d = op->def ? op->def : "";
    /* a numeric default: a number (whether it must be an integer the method says at setup:
     * LoRA's alpha defaults to 16 and takes 0.5) */
    if (!strcmp(d, "true") || !strcmp(d, "false"))
        return bool_text(value) >= 0 ? 0 : error_set("option %s=%s is not a boolean (true/false)", op->name, value);
    if (parses_num(d) && !parses_num(value))
        return error_set("option %s=%s is not a number (its default is %s)", op->name, value, d);
    return 0;
}

/* ---- parameters ---- */

struct named_tensor {
    struct tensor t;
    char name[96];
};

struct tensor *method_param(struct method_instance *mi, const char *name, int ndim, const int64_t *shape) {
    if (mi->allocated) {
        error_set("method %s: parameter %s declared after method_alloc", mi->method->name, name);
        return NULL;
    }
    if (mi->n_params == mi->cap_params) {
        int cap = mi->cap_params ? 2 * mi->cap_params : 64;
        struct tensor **p = realloc(mi->params, sizeof *p * (size_t)cap);
        if (!p) {
            error_set("out of memory");
            return NULL;
        }
        mi->params = p;
        mi->cap_params = cap;
    }
    struct named_tensor *nt = calloc(1, sizeof *nt);
    if (!nt) {
        error_set("out of memory");
        return NULL;
    }
    struct tensor *t = &nt->t;
    tensor_init(t, DTYPE_F32, ndim, shape);
    snprintf(nt->name, sizeof nt->name, "%s", name);
    t->name = nt->name;
    t->data = (void *)(intptr_t)mi->n_elements; /* offset until method_alloc */
    mi->n_elements += tensor_numel(t);
    mi->params[mi->n_params++] = t;
    return t;
}

int method_alloc(struct method_instance *mi) {
    const struct backend *be = mi->model->be;
    mi->storage = be->alloc(sizeof(float) * (size_t)(mi->n_elements ? mi->n_elements : 1));
    if (!mi->storage) return error_wrap("method %s parameters: ", mi->method->name);
    for (int i = 0; i < mi->n_params; i++) mi->params[i]->data = mi->storage + (intptr_t)mi->params[i]->data;
    mi->allocated = 1;
    return be->fill(mi->storage, 0.0f, (size_t)mi->n_elements);
}

int method_train(struct method_instance *mi, struct tensor *t) {
    if (!t) return error_set("method %s: no tensor to train", mi->method->name);
    for (int i = 0; i < mi->n_train; i++)
        if (mi->train[i] == t) return 0;
    if (mi->n_train == mi->cap_train) {
        int cap = mi->cap_train ? 2 * mi->cap_train : 64;
        struct tensor **p = realloc(mi->train, sizeof *p * (size_t)cap);
        if (!p) return error_set("out of memory");
        mi->train = p;
        mi->cap_train = cap;
    }
    mi->train[mi->n_train++] = t;
    return 0;
}

int method_train_all_norms(struct method_instance *mi) {
    const struct t5_model *m = mi->model;
    for (int i = 0; i < m->n_params; i++)
        if (strstr(m->params[i].name, "layer_norm") && method_train(mi, &m->params[i])) return -1;
    return 0;
}

/* ---- lifecycle ---- */

int method_attach(struct method_instance *mi, const char *name, struct t5_model *m, const char **kv, int n_kv,
                  uint64_t seed) {
    memset(mi, 0, sizeof *mi);
    const struct method *me = method_find(name);
    if (!me) {
        char list[1024] = "";
        for (int i = 0; i < method_count(); i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", method_at(i)->name);
        return error_set("unknown method '%s' (known: %s)", name, list);
    }
    mi->method = me;
    mi->model = m;
    mi->seed = seed;
    for (const struct method_option *o = me->options; o && o->name; o++) {
        if (mi->n_options == METHOD_MAX_OPTIONS) return error_set("method %s: too many options", name);
        mi->opt_name[mi->n_options] = o->name;
        snprintf(mi->opt_value[mi->n_options], 64, "%s", o->def);
        mi->n_options++;
    }
    for (int i = 0; i < n_kv; i++) {
        const char *eq = strchr(kv[i], '=');
        if (!eq) return error_set("method option '%s' is not key=value", kv[i]);
        int j = 0;
        while (j < mi->n_options && (strlen(mi->opt_name[j]) != (size_t)(eq - kv[i]) ||
                                     strncmp(mi->opt_name[j], kv[i], (size_t)(eq - kv[i]))))
            j++;
        if (j == mi->n_options) return error_set("method %s has no option '%.*s'", name, (int)(eq - kv[i]), kv[i]);
        if (strlen(eq + 1) >= 64) return error_set("method option %s: value too long", kv[i]);
        snprintf(mi->opt_value[j], 64, "%s", eq + 1);
    }
    mi->hooks.ctx = mi;
    if (me->init(mi)) {
        error_wrap("method %s: ", name);
        method_detach(mi);
        return -1;
    }
    if (!mi->allocated && mi->n_params) {
        method_detach(mi);
        return error_set("method %s: parameters declared but never allocated", name);
    }
    m->hooks = &mi->hooks;
    /* bf16 storage: what stays frozen is read in bf16 only (core/ops.h) */
    if (backend_bf16_storage(m->be) && !m->storage_bf16 && t5_model_frozen_to_bf16(m, mi->train, mi->n_train)) {
        method_detach(mi);
        return -1;
    }
    return 0;
}

void method_detach(struct method_instance *mi) {
    if (mi->method && mi->method->free) mi->method->free(mi);
    if (mi->model && mi->model->hooks == &mi->hooks) mi->model->hooks = NULL;
    if (mi->storage) mi->model->be->free(mi->storage);
    for (int i = 0; i < mi->n_params; i++) free(mi->params[i]); /* the named_tensor block */
    free(mi->params);
    free(mi->train);
    memset(mi, 0, sizeof *mi);
}

int64_t method_trainable_count(const struct method_instance *mi) {
    int64_t n = 0;
    for (int i = 0; i < mi->n_train; i++) n += tensor_numel(mi->train[i]);
    return n;
}

int64_t method_total_count(const struct method_instance *mi) {
    int64_t n = mi->n_elements;
    for (int i = 0; i < mi->model->n_params; i++) n += tensor_numel(&mi->model->params[i]);
    return n;
}

/* ---- initialisers ---- */

/* A stream per (seed, parameter name): adding a parameter does not shift the others. */
static uint64_t stream(const struct method_instance *mi, const struct tensor *t) {
    uint64_t h = 1469598103934665603ull ^ mi->seed;
    for (const char *p = t->name ? t->name : ""; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h;
}

static double uniform01(uint64_t *s) { return ((splitmix64(s) >> 11) + 0.5) / 9007199254740992.0; }

static double gaussian(uint64_t *s) {
    return sqrt(-2.0 * log(uniform01(s))) * cos(6.283185307179586 * uniform01(s));
}

int method_upload(struct method_instance *mi, struct tensor *t, const float *host) {
    return mi->model->be->upload(t->data, host, tensor_bytes(t));
}

static int fill_with(struct method_instance *mi, struct tensor *t, double a, double b, int kind) {
    int64_t n = tensor_numel(t);
    float *h = malloc(sizeof(float) * (size_t)(n ? n : 1));
    if (!h) return error_set("out of memory");
    uint64_t s = stream(mi, t);
    for (int64_t i = 0; i < n; i++)
        h[i] = (float)(kind == 0 ? a + b * gaussian(&s) : kind == 1 ? a + (b - a) * uniform01(&s) : a);
    int rc = method_upload(mi, t, h);
    free(h);
    return rc;
}

int init_normal(struct method_instance *mi, struct tensor *t, double mean, double std) {
    return fill_with(mi, t, mean, std, 0);
}

int init_uniform(struct method_instance *mi, struct tensor *t, double lo, double hi) {
    return fill_with(mi, t, lo, hi, 1);
}

int init_constant(struct method_instance *mi, struct tensor *t, float v) { return fill_with(mi, t, v, 0, 2); }

static int glorot(struct method_instance *mi, struct tensor *t, double gain, int normal) {
    if (t->ndim < 2) return error_set("glorot init of %s needs a 2-D slice", t->name ? t->name : "?");
    int64_t rows = t->shape[t->ndim - 2], cols = t->shape[t->ndim - 1];
    double fan = (double)(rows + cols);
    return normal ? fill_with(mi, t, 0.0, gain * sqrt(2.0 / fan), 0)
                  : fill_with(mi, t, -gain * sqrt(6.0 / fan), gain * sqrt(6.0 / fan), 1);
}

int init_glorot_uniform(struct method_instance *mi, struct tensor *t, double gain) { return glorot(mi, t, gain, 0); }

int init_glorot_normal(struct method_instance *mi, struct tensor *t, double gain) { return glorot(mi, t, gain, 1); }
