/* method_io.c: saving and loading method-only weights. */
#include "methods/method_io.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/safetensors.h"

/* Own parameters first, then trained base tensors not already listed. */
static int collect(const struct method_instance *mi, struct tensor ***out) {
    struct tensor **t = malloc(sizeof *t * (size_t)(mi->n_params + mi->n_train + 1));
    if (!t) return -1;
    int n = 0;
    for (int i = 0; i < mi->n_params; i++) t[n++] = mi->params[i];
    for (int i = 0; i < mi->n_train; i++) {
        int dup = 0;
        for (int j = 0; j < n; j++) dup |= t[j] == mi->train[i];
        if (!dup) t[n++] = mi->train[i];
    }
    *out = t;
    return n;
}

int method_weights_save(const struct method_instance *mi, const char *path, const char *base_model) {
    struct tensor **ts;
    int n = collect(mi, &ts);
    if (n < 0) return error_set("out of memory");
    struct st_out *outs = calloc((size_t)n + 1, sizeof *outs);
    float **host = calloc((size_t)n + 1, sizeof *host);
    int rc = (!outs || !host) ? error_set("out of memory") : 0;
    for (int i = 0; i < n && !rc; i++) {
        host[i] = malloc(tensor_bytes(ts[i]) + 4);
        if (!host[i]) rc = error_set("out of memory");
        else rc = mi->model->be->download(host[i], ts[i]->data, tensor_bytes(ts[i]));
        outs[i].name = ts[i]->name;
        outs[i].dtype = ST_F32;
        outs[i].ndim = ts[i]->ndim;
        for (int d = 0; d < ts[i]->ndim; d++) outs[i].shape[d] = ts[i]->shape[d];
        outs[i].data = host[i];
    }
    if (!rc) {
        json_t *meta = json_object();
        json_object_set_new(meta, "format", json_string("compacter-method-1"));
        json_object_set_new(meta, "method", json_string(mi->method->name));
        json_object_set_new(meta, "base_model", json_string(base_model ? base_model : ""));
        json_t *opts = json_object();
        for (int i = 0; i < mi->n_options; i++) json_object_set_new(opts, mi->opt_name[i], json_string(mi->opt_value[i]));
        char *o = json_dumps(opts, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(opts);
        json_object_set_new(meta, "options", json_string(o ? o : "{}"));
        free(o);
        char *text = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(meta);
        rc = st_write(path, outs, n, text);
        free(text);
    }
    for (int i = 0; i < n && host; i++) free(host[i]);
    free(host);
    free(outs);
    free(ts);
    return rc;
}

int method_weights_load(struct method_instance *mi, const char *path) {
    struct st_file f;
    if (st_open(&f, path)) return -1;
    int rc = 0;
    json_t *meta = f.metadata_json ? json_loads(f.metadata_json, 0, NULL) : NULL;
    json_t *me = meta ? json_object_get(meta, "method") : NULL;
    if (!json_is_string(me) || strcmp(json_string_value(me), mi->method->name)) {
        rc = error_set("%s: written for method '%s', not '%s'", path, json_is_string(me) ? json_string_value(me) : "?",
                       mi->method->name);
        goto out;
    }
    struct tensor **ts;
    int n = collect(mi, &ts);
    if (n < 0) {
        rc = error_set("out of memory");
        goto out;
    }
    for (int i = 0; i < n && !rc; i++) {
        const struct st_tensor *st = st_find(&f, ts[i]->name);
        if (!st) {
            rc = error_set("%s: tensor '%s' is missing", path, ts[i]->name);
            break;
        }
        int ok = st->ndim == ts[i]->ndim && st->dtype == ST_F32;
        for (int d = 0; ok && d < st->ndim; d++) ok = st->shape[d] == ts[i]->shape[d];
        if (!ok) {
            char s[64];
            rc = error_set("%s: tensor '%s' does not match %s f32 (other options or base model?)", path, ts[i]->name,
                           tensor_shape_str(ts[i], s, sizeof s));
            break;
        }
        rc = mi->model->be->upload(ts[i]->data, f.map + f.data_start + st->begin, st->end - st->begin);
    }
    if (!rc && f.n != n) rc = error_set("%s: holds %d tensors, the method has %d", path, f.n, n);
    free(ts);
out:
    json_decref(meta);
    st_close(&f);
    return rc;
}
