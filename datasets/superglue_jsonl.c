/* superglue_jsonl.c: SuperGLUE JSONL files -> raw examples (see superglue_jsonl.h). */
#include "datasets/superglue_jsonl.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

struct ctx {
    const char *path;
    long line;
    char where[96]; /* field path prefix, e.g. "passage.questions[3]." */
};

static const char *get_str(struct ctx *c, json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v)) {
        error_set("file %s: line %ld: field %s%s: %s", c->path, c->line, c->where, key,
                  v ? "not a string" : "missing");
        return NULL;
    }
    return json_string_value(v);
}

static json_t *get_typed(struct ctx *c, json_t *obj, const char *key, json_type type,
                         const char *what) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_typeof(v) != type) {
        error_set("file %s: line %ld: field %s%s: %s", c->path, c->line, c->where, key,
                  v ? what : "missing");
        return NULL;
    }
    return v;
}

/* bool -> 0/1, integer in range, or a class name. */
static int get_label(struct ctx *c, const struct task *t, json_t *obj, const char *key, int *id) {
    json_t *v = json_object_get(obj, key);
    if (!v)
        return error_set("file %s: line %ld: field %s%s: missing", c->path, c->line, c->where, key);
    if (json_is_boolean(v) && t->n_classes == 2) {
        *id = json_is_true(v) ? 1 : 0;
        return 0;
    }
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x >= 0 && x < t->n_classes) {
            *id = (int)x;
            return 0;
        }
        return error_set("file %s: line %ld: field %s%s: unknown label %lld", c->path, c->line,
                         c->where, key, (long long)x);
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        for (int k = 0; k < t->n_classes; k++)
            if (!strcmp(s, t->classes[k])) {
                *id = k;
                return 0;
            }
        return error_set("file %s: line %ld: field %s%s: unknown label '%s'", c->path, c->line,
                         c->where, key, s);
    }
    return error_set("file %s: line %ld: field %s%s: unknown label (not a bool, integer or string)",
                     c->path, c->line, c->where, key);
}

static int oom(struct ctx *c) {
    return error_set("file %s: line %ld: out of memory", c->path, c->line);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort and drop duplicates in place; returns the new count. */
static int sort_unique(char **v, int n) {
    if (n == 0) return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_str);
    int m = 1;
    for (int i = 1; i < n; i++) {
        if (!strcmp(v[i], v[m - 1]))
            free(v[i]);
        else
            v[m++] = v[i];
    }
    return m;
}

/* Byte offset of every code point of a UTF-8 string (plus the end). */
static size_t *codepoint_offsets(const char *s, size_t *ncp) {
    size_t len = strlen(s), n = 0;
    size_t *off = malloc((len + 1) * sizeof *off);
    if (!off) return NULL;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) off[n++] = i;
    off[n] = len;
    *ncp = n;
    return off;
}

static int load_pairs(struct ctx *c, const struct task *t, json_t *o, struct example_set *out) {
    static const char *const fields_by_dir[][3] = {
        {"BoolQ", "question", "passage"},
        {"CB", "premise", "hypothesis"},
        {"RTE", "premise", "hypothesis"},
        {"WiC", "sentence1", "sentence2"},
    };
    const char *names[TASK_MAX_FIELDS] = {0};
    if (!strcmp(t->dir, "COPA")) {
        names[0] = "premise", names[1] = "choice1", names[2] = "choice2";
    } else {
        for (size_t i = 0; i < sizeof fields_by_dir / sizeof fields_by_dir[0]; i++)
            if (!strcmp(t->dir, fields_by_dir[i][0]))
                names[0] = fields_by_dir[i][1], names[1] = fields_by_dir[i][2];
        if (!strcmp(t->dir, "WiC")) names[2] = "word";
    }
    const char *vals[TASK_MAX_FIELDS];
    for (int j = 0; j < t->n_fields; j++)
        if (!(vals[j] = get_str(c, o, names[j]))) return -1;
    int id;
    if (get_label(c, t, o, "label", &id) < 0) return -1;
    struct example *e = example_set_push(out);
    if (!e) return oom(c);
    e->label = id;
    for (int j = 0; j < t->n_fields; j++)
        if (!(e->text[j] = strdup(vals[j]))) return oom(c);
    return 0;
}

static int load_multirc(struct ctx *c, const struct task *t, json_t *o, struct example_set *out) {
    json_t *passage = get_typed(c, o, "passage", JSON_OBJECT, "not an object");
    if (!passage) return -1;
    strcpy(c->where, "passage.");
    const char *text = get_str(c, passage, "text");
    if (!text) return -1;
    json_t *qs = get_typed(c, passage, "questions", JSON_ARRAY, "not an array");
    if (!qs) return -1;
    size_t i, k;
    json_t *q, *a;
    json_array_foreach(qs, i, q) {
        snprintf(c->where, sizeof c->where, "passage.questions[%zu].", i);
        const char *question = get_str(c, q, "question");
        json_t *qidx = question ? get_typed(c, q, "idx", JSON_INTEGER, "not an integer") : NULL;
        json_t *ans = qidx ? get_typed(c, q, "answers", JSON_ARRAY, "not an array") : NULL;
        if (!ans) return -1;
        json_array_foreach(ans, k, a) {
            snprintf(c->where, sizeof c->where, "passage.questions[%zu].answers[%zu].", i, k);
            const char *atext = get_str(c, a, "text");
            int id;
            if (!atext || get_label(c, t, a, "label", &id) < 0) return -1;
            struct example *e = example_set_push(out);
            if (!e) return oom(c);
            e->label = id;
            e->group = (long)json_integer_value(qidx);
            if (!(e->text[0] = strdup(question)) || !(e->text[1] = strdup(atext)) ||
                !(e->text[2] = strdup(text)))
                return oom(c);
        }
    }
    return 0;
}

static int load_record(struct ctx *c, const struct task *t, json_t *o, struct example_set *out) {
    (void)t;
    json_t *passage = get_typed(c, o, "passage", JSON_OBJECT, "not an object");
    if (!passage) return -1;
    strcpy(c->where, "passage.");
    const char *text = get_str(c, passage, "text");
    json_t *ents = text ? get_typed(c, passage, "entities", JSON_ARRAY, "not an array") : NULL;
    c->where[0] = 0;
    json_t *qas = ents ? get_typed(c, o, "qas", JSON_ARRAY, "not an array") : NULL;
    if (!qas) return -1;
    size_t ncp, ne = json_array_size(ents);
    size_t *off = codepoint_offsets(text, &ncp);
    char **ev = calloc(ne + 1, sizeof *ev);
    char *joined = NULL;
    int rc = -1, n_ent = 0;
    if (!off || !ev) {
        oom(c);
        goto done;
    }
    size_t i;
    json_t *x;
    json_array_foreach(ents, i, x) {
        json_t *s = json_object_get(x, "start"), *en = json_object_get(x, "end");
        if (!json_is_integer(s) || !json_is_integer(en)) {
            error_set("file %s: line %ld: field passage.entities[%zu].start/end: missing or not "
                      "an integer",
                      c->path, c->line, i);
            goto done;
        }
        /* end is inclusive; checked before the + 1, which INT64_MAX would overflow */
        json_int_t a = json_integer_value(s), e = json_integer_value(en);
        if (a < 0 || e < a - 1 || e >= (json_int_t)ncp) {
            error_set("file %s: line %ld: field passage.entities[%zu]: span [%lld, %lld] outside "
                      "the passage (%zu characters)",
                      c->path, c->line, i, (long long)a, (long long)e, ncp);
            goto done;
        }
        json_int_t b = e + 1;
        size_t b0 = off[a], b1 = off[b];
        if (!(ev[n_ent] = strndup(text + b0, b1 - b0))) {
            oom(c);
            goto done;
        }
        n_ent++;
    }
    n_ent = sort_unique(ev, n_ent);
    size_t jl = 1;
    for (int k = 0; k < n_ent; k++)
        jl += strlen(ev[k]) + 2;
    if (!(joined = malloc(jl))) {
        oom(c);
        goto done;
    }
    joined[0] = 0;
    for (int k = 0, pos = 0; k < n_ent; k++) {
        pos += sprintf(joined + pos, "%s%s", k ? ", " : "", ev[k]);
    }
    json_array_foreach(qas, i, x) {
        snprintf(c->where, sizeof c->where, "qas[%zu].", i);
        const char *query = get_str(c, x, "query");
        if (!query) goto done;
        struct example *e = example_set_push(out);
        if (!e || !(e->text[0] = strdup(query)) || !(e->text[1] = strdup(joined)) ||
            !(e->text[2] = strdup(text))) {
            oom(c);
            goto done;
        }
        json_t *ans = json_object_get(x, "answers"); /* absent in the test split */
        size_t na = json_is_array(ans) ? json_array_size(ans) : 0;
        e->answers = calloc(na + 1, sizeof *e->answers);
        if (!e->answers) {
            oom(c);
            goto done;
        }
        size_t k;
        json_t *a;
        if (na) json_array_foreach(ans, k, a) {
                snprintf(c->where, sizeof c->where, "qas[%zu].answers[%zu].", i, k);
                const char *at = get_str(c, a, "text");
                if (!at) goto done;
                if (!(e->answers[e->n_answers++] = strdup(at))) {
                    oom(c);
                    goto done;
                }
            }
        e->n_answers = sort_unique(e->answers, e->n_answers);
    }
    rc = 0;
done:
    if (ev)
        for (int k = 0; k < n_ent; k++)
            free(ev[k]);
    free(ev);
    free(off);
    free(joined);
    return rc;
}

int superglue_load_jsonl(const struct task *t, const char *path, struct example_set *out) {
    FILE *f = fopen(path, "rb");
    if (!f) return error_set("file %s: cannot open: %s", path, strerror(errno));
    struct ctx c = {path, 0, ""};
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0;
    size_t before = out->n;
    while ((len = getline(&line, &cap, f)) >= 0) {
        c.line++;
        size_t n = (size_t)len;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (c.line == 1 && n >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3)) {
            memmove(line, line + 3, n - 3);
            n -= 3;
        }
        size_t s = 0;
        while (s < n && (line[s] == ' ' || line[s] == '\t'))
            s++;
        if (s == n) continue;
        json_error_t err;
        json_t *o = json_loadb(line, n, 0, &err);
        if (!o || !json_is_object(o)) {
            rc = error_set("file %s: line %ld: field (line): not a JSON object%s%s", path, c.line,
                           o ? "" : ": ", o ? "" : err.text);
            json_decref(o);
            break;
        }
        if (t->tmpl == TEMPLATE_MULTIRC)
            rc = load_multirc(&c, t, o, out);
        else if (t->tmpl == TEMPLATE_RECORD)
            rc = load_record(&c, t, o, out);
        else
            rc = load_pairs(&c, t, o, out);
        json_decref(o);
        c.where[0] = 0;
        if (rc < 0) break;
    }
    free(line);
    if (rc == 0 && ferror(f)) rc = error_set("file %s: read error", path);
    fclose(f);
    if (rc == 0 && out->n == before) rc = error_set("file %s: line %ld: no examples", path, c.line);
    return rc;
}
