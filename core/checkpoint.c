/* checkpoint.c: save and restore the trained state. */
#include "core/checkpoint.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/safetensors.h"

int checkpoint_save(const char *path, const struct trainable *tr, const struct optimizer *o,
                    const struct train_state *s, const char *config_json) {
    int per = o ? 3 : 1, n = tr->n * per, rc = 0;
    struct st_out *outs = calloc((size_t)n + 1, sizeof *outs);
    char (*names)[192] = calloc((size_t)n + 1, sizeof *names);
    float *host = malloc(sizeof(float) * (size_t)(tr->numel ? tr->numel : 1) * (size_t)per);
    if (!outs || !names || !host) {
        rc = error_set("out of memory saving %s", path);
        goto out;
    }
    int64_t off = 0;
    for (int i = 0; i < tr->n && !rc; i++) {
        const struct tensor *t = tr->t[i];
        int64_t k = tensor_numel(t);
        const void *src[3] = {t->data, o ? o->m + off : NULL, o ? o->v + off : NULL};
        static const char *kind[3] = {"param", "adam_m", "adam_v"};
        for (int j = 0; j < per && !rc; j++) {
            float *h = host + (int64_t)j * tr->numel + off;
            rc = tr->be->download(h, src[j], sizeof(float) * (size_t)k);
            struct st_out *so = &outs[i * per + j];
            snprintf(names[i * per + j], sizeof names[0], "%s/%s", kind[j], t->name ? t->name : "?");
            /* a diverged state would overwrite the last good checkpoint: refuse it */
            for (int64_t e = 0; !rc && e < k; e++)
                if (!isfinite(h[e]))
                    rc = error_set("%s: not written: tensor '%s' holds %g at step %lld (training diverged); the file "
                                   "keeps its previous content",
                                   path, names[i * per + j], (double)h[e], (long long)s->step);
            so->name = names[i * per + j];
            so->dtype = ST_F32;
            so->ndim = t->ndim;
            for (int d = 0; d < t->ndim; d++) so->shape[d] = t->shape[d];
            so->data = h;
        }
        off += k;
    }
    if (!rc) {
        json_t *meta = json_object();
        char buf[64];
        json_object_set_new(meta, "format", json_string(CHECKPOINT_FORMAT));
        snprintf(buf, sizeof buf, "%" PRId64, s->step);
        json_object_set_new(meta, "step", json_string(buf));
        snprintf(buf, sizeof buf, "%" PRIu64, s->seed);
        json_object_set_new(meta, "seed", json_string(buf));
        snprintf(buf, sizeof buf, "%" PRIu64, s->rng_offset);
        json_object_set_new(meta, "rng_offset", json_string(buf));
        json_object_set_new(meta, "optimizer", json_string(o ? "adamw" : "none"));
        if (config_json) json_object_set_new(meta, "config", json_string(config_json));
        char *text = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(meta);
        rc = st_write(path, outs, n, text);
        free(text);
    }
out:
    free(outs);
    free(names);
    free(host);
    return rc;
}

static int meta_u64(json_t *meta, const char *path, const char *key, uint64_t *out) {
    json_t *v = json_object_get(meta, key);
    char *end;
    if (!json_is_string(v)) return error_set("%s: metadata field '%s' missing", path, key);
    *out = strtoull(json_string_value(v), &end, 10);
    if (*end) return error_set("%s: metadata field '%s' is not a number", path, key);
    return 0;
}

int checkpoint_load(const char *path, struct trainable *tr, struct optimizer *o, struct train_state *s) {
    struct st_file f;
    if (st_open(&f, path)) return -1;
    int rc = 0;
    json_t *meta = f.metadata_json ? json_loads(f.metadata_json, 0, NULL) : NULL;
    json_t *fmt = meta ? json_object_get(meta, "format") : NULL;
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), CHECKPOINT_FORMAT)) {
        rc = error_set("%s: not a compacter training checkpoint (metadata 'format' is not %s)", path, CHECKPOINT_FORMAT);
        goto out;
    }
    uint64_t step = 0;
    if ((rc = meta_u64(meta, path, "step", &step)) || (rc = meta_u64(meta, path, "seed", &s->seed)) ||
        (rc = meta_u64(meta, path, "rng_offset", &s->rng_offset)))
        goto out;
    s->step = (int64_t)step;
    int per = o ? 3 : 1, expected = 0;
    static const char *kind[3] = {"param", "adam_m", "adam_v"};
    int64_t off = 0;
    for (int i = 0; i < tr->n && !rc; i++) {
        const struct tensor *t = tr->t[i];
        for (int j = 0; j < per && !rc; j++) {
            char name[192];
            snprintf(name, sizeof name, "%s/%s", kind[j], t->name ? t->name : "?");
            const struct st_tensor *st = st_find(&f, name);
            if (!st) {
                rc = error_set("%s: tensor '%s' is missing (checkpoint of another model or method?)", path, name);
                break;
            }
            int ok = st->ndim == t->ndim && st->dtype == ST_F32;
            for (int d = 0; ok && d < t->ndim; d++) ok = st->shape[d] == t->shape[d];
            if (!ok) {
                char ws[64];
                rc = error_set("%s: tensor '%s' does not match the model's %s f32", path, name,
                               tensor_shape_str(t, ws, sizeof ws));
                break;
            }
            void *dst = j == 0 ? t->data : (j == 1 ? (void *)(o->m + off) : (void *)(o->v + off));
            rc = tr->be->upload(dst, f.map + f.data_start + st->begin, st->end - st->begin);
            expected++;
        }
        off += tensor_numel(t);
    }
    if (!rc) {
        int params_only = 0;
        for (int i = 0; i < f.n; i++) params_only += !strncmp(f.tensors[i].name, "param/", 6);
        int have = o ? f.n : params_only;
        if (have != expected)
            rc = error_set("%s: holds %d tensors but this run trains %d (extra tensors: another method?)", path,
                           have, expected);
    }
    if (!rc && o) o->step = (int)step;
out:
    json_decref(meta);
    st_close(&f);
    return rc;
}
