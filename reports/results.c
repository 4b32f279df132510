/* results.c: parse results/<experiment>.jsonl into struct result_run records. */
#include "reports/results.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        error_set("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
        if (n + 1 == cap) {
            char *p = realloc(buf, cap * 2);
            if (!p) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = p;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        error_set("%s: read failed", path);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* Follow a dotted path ("test.metrics") through nested objects. */
static json_t *dig(json_t *o, const char *dotted) {
    char key[64];
    const char *p = dotted;
    while (o && *p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l >= sizeof key) return NULL;
        memcpy(key, p, l);
        key[l] = 0;
        o = json_is_object(o) ? json_object_get(o, key) : NULL;
        p += l + (dot ? 1 : 0);
    }
    return o;
}

struct ctx {
    const char *path;
    int line;
    json_t *o;
};

static int need(const struct ctx *c, const char *field, json_t **v, int (*is)(const json_t *),
                const char *what) {
    *v = dig(c->o, field);
    if (!*v) return error_set("%s:%d: missing field %s", c->path, c->line, field);
    if (!is(*v)) return error_set("%s:%d: field %s: expected %s", c->path, c->line, field, what);
    return 0;
}
static int is_str(const json_t *v) { return json_is_string(v); }
static int is_num(const json_t *v) { return json_is_number(v); }
static int is_int(const json_t *v) { return json_is_integer(v); }
static int is_obj(const json_t *v) { return json_is_object(v); }

static const char *opt_str(json_t *o, const char *key, const char *def) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : def;
}

static int parse_overrides(const struct ctx *c, struct result_run *r);

static int parse_run(const struct ctx *c, struct result_run *r) {
    json_t *v;
    memset(r, 0, sizeof *r);
    r->line = c->line;
    if (need(c, "experiment", &v, is_str, "a string")) return -1;
    r->experiment = json_string_value(v);
    if (need(c, "method", &v, is_str, "a string")) return -1;
    r->method = json_string_value(v);
    if (need(c, "task", &v, is_str, "a string")) return -1;
    r->task = json_string_value(v);
    if (need(c, "trainable_params", &v, is_int, "an integer")) return -1;
    r->trainable_params = json_integer_value(v);
    if (need(c, "base_params", &v, is_int, "an integer")) return -1;
    r->base_params = json_integer_value(v);
    if (r->base_params <= 0)
        return error_set("%s:%d: field base_params: must be positive", c->path, c->line);
    r->label = opt_str(c->o, "label", r->method);
    r->preset = opt_str(c->o, "preset", "");
    r->model = opt_str(c->o, "model", "");
    r->device = opt_str(c->o, "device", "");
    r->precision = opt_str(c->o, "precision", "");
    r->date = opt_str(c->o, "date", "");
    v = json_object_get(c->o, "peak_memory_bytes");
    r->peak_memory_bytes = json_is_integer(v) ? json_integer_value(v) : -1;
    v = json_object_get(c->o, "seed");
    r->seed = json_is_integer(v) ? (int)json_integer_value(v) : 0;
    v = json_object_get(c->o, "train_size");
    r->train_size = json_is_integer(v) ? (long)json_integer_value(v) : -1;
    if (parse_overrides(c, r)) return -1;
    if (!strcmp(r->experiment, "efficiency")) {
        if (need(c, "epoch_time_s", &v, is_num, "a number")) return -1;
        r->epoch_time_s = json_number_value(v);
        if (need(c, "peak_memory_bytes", &v, is_int, "an integer")) return -1;
        v = json_object_get(c->o, "batch_size");
        r->batch_size = json_is_integer(v) ? (long)json_integer_value(v) : 0;
        return 0;
    }
    if (!strcmp(r->experiment, "lowresource") && r->train_size < 0)
        return error_set("%s:%d: missing field train_size", c->path, c->line);
    if (need(c, "validation.score", &v, is_num, "a number")) return -1;
    r->val_score = json_number_value(v);
    if (need(c, "test.score", &v, is_num, "a number")) return -1;
    r->test_score = json_number_value(v);
    json_t *m;
    if (need(c, "test.metrics", &m, is_obj, "an object")) return -1;
    const char *k;
    json_object_foreach(m, k, v) {
        if (!json_is_number(v))
            return error_set("%s:%d: field test.metrics.%s: expected a number", c->path, c->line, k);
        if (r->n_metrics == RESULT_MAX_METRICS)
            return error_set("%s:%d: test.metrics: more than %d metrics", c->path, c->line,
                             RESULT_MAX_METRICS);
        r->metric_names[r->n_metrics] = k;
        r->metric_values[r->n_metrics++] = json_number_value(v);
    }
    if (r->n_metrics == 0) return error_set("%s:%d: test.metrics: empty", c->path, c->line);
    /* The grid point: everything that tells two configurations of a method apart. */
    char *opts = json_dumps(json_object_get(c->o, "options"), JSON_SORT_KEYS | JSON_COMPACT);
    v = json_object_get(c->o, "lr");
    json_t *rf = json_object_get(c->o, "reduction_factor");
    /* the paper's STS-B rounding (config.stsb_step 0.2) is another configuration */
    json_t *cf = json_object_get(c->o, "config"), *st = json_is_object(cf) ? json_object_get(cf, "stsb_step") : NULL;
    char stsb[32] = "";
    if (json_is_number(st) && json_number_value(st) != 0.1)
        snprintf(stsb, sizeof stsb, " stsb_step=%g", json_number_value(st));
    snprintf(r->config, sizeof r->config, "lr=%.17g rf=%lld options=%s set=%s%s",
             json_is_number(v) ? json_number_value(v) : 0.0,
             json_is_integer(rf) ? (long long)json_integer_value(rf) : 0LL, opts ? opts : "{}",
             r->overrides, stsb);
    free(opts);
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "overrides": {"epochs": 2, "precision": "bf16", ...} -> "epochs=2,precision=bf16,..."
 * (sorted by key) */
static int parse_overrides(const struct ctx *c, struct result_run *r) {
    json_t *o = json_object_get(c->o, "overrides");
    r->overrides[0] = 0;
    if (!o) return 0;
    if (!json_is_object(o))
        return error_set("%s:%d: field overrides: expected an object", c->path, c->line);
    const char *keys[64], *k;
    size_t n = 0;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (!json_is_integer(v) && !json_is_string(v))
            return error_set("%s:%d: field overrides.%s: expected an integer or a string", c->path, c->line, k);
        if (n < 64) keys[n++] = k;
    }
    qsort(keys, n, sizeof keys[0], cmp_str);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *val = json_object_get(o, keys[i]);
        char num[32];
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(val));
        int w = snprintf(r->overrides + len, sizeof r->overrides - len, "%s%s=%s", i ? "," : "",
                         keys[i], json_is_string(val) ? json_string_value(val) : num);
        if (w < 0 || (size_t)w >= sizeof r->overrides - len)
            return error_set("%s:%d: field overrides: too long", c->path, c->line);
        len += (size_t)w;
    }
    return 0;
}

int results_load(const char *path, struct results *out) {
    memset(out, 0, sizeof *out);
    out->path = path;
    size_t len;
    char *text = read_all(path, &len);
    if (!text) return -1;
    size_t n_lines = 1;
    for (size_t i = 0; i < len; i++) n_lines += text[i] == '\n';
    out->runs = calloc(n_lines, sizeof *out->runs);
    out->docs = calloc(n_lines, sizeof *out->docs);
    if (!out->runs || !out->docs) {
        free(text);
        results_free(out);
        return error_set("%s: out of memory", path);
    }
    int rc = 0, line = 0;
    char *p = text;
    while (p < text + len && !rc) {
        line++;
        char *nl = memchr(p, '\n', (size_t)(text + len - p));
        int complete = nl != NULL;
        size_t l = nl ? (size_t)(nl - p) : (size_t)(text + len - p);
        char *next = nl ? nl + 1 : text + len;
        size_t s = 0;
        while (s < l && (p[s] == ' ' || p[s] == '\t' || p[s] == '\r')) s++;
        if (s == l) { /* blank line */
            p = next;
            continue;
        }
        json_error_t je;
        json_t *o = json_loadb(p, l, 0, &je);
        if (!o || !json_is_object(o)) {
            if (!complete) { /* the writer was killed mid-line */
                out->truncated_line = line;
                json_decref(o);
                break;
            }
            rc = o ? error_set("%s:%d: expected a JSON object", path, line)
                   : error_set("%s:%d: malformed JSON (column %d): %s", path, line, je.column,
                               je.text);
            json_decref(o);
            break;
        }
        out->docs[out->n_docs++] = o;
        struct ctx c = {path, line, o};
        rc = parse_run(&c, &out->runs[out->n]);
        if (!rc) out->n++;
        p = next;
    }
    free(text);
    if (!rc && out->n == 0) rc = error_set("%s: no finished runs in the file", path);
    if (rc) results_free(out);
    return rc;
}

void results_free(struct results *r) {
    for (size_t i = 0; i < r->n_docs; i++) json_decref(r->docs[i]);
    free(r->docs);
    free(r->runs);
    r->docs = NULL;
    r->runs = NULL;
    r->n = r->n_docs = 0;
}
