/* run_state.c: progress.json of a run directory. */
#include "experiments/run_state.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "datasets/cache.h"

int run_state_push(struct run_state *s, const struct run_eval *e) {
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 16;
        struct run_eval *p = realloc(s->evals, sizeof *p * (size_t)cap);
        if (!p) return error_set("out of memory");
        s->evals = p;
        s->cap = cap;
    }
    s->evals[s->n++] = *e;
    return 0;
}

void run_state_free(struct run_state *s) {
    free(s->config);
    free(s->evals);
    memset(s, 0, sizeof *s);
    s->best = -1;
}

static int str_field(json_t *o, const char *k, char *dst, size_t cap) {
    json_t *v = json_object_get(o, k);
    if (!json_is_string(v) || json_string_length(v) >= cap) return -1;
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

int run_state_load(struct run_state *s, const char *path) {
    memset(s, 0, sizeof *s);
    s->best = -1;
    struct stat st;
    if (stat(path, &st) != 0)
        return errno == ENOENT ? 0 : error_set("%s: %s", path, strerror(errno));
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    if (!o)
        return error_set("%s: %s (delete the run directory to start the run over)", path, je.text);
    int bad = !json_is_object(o);
    json_t *cfg = bad ? NULL : json_object_get(o, "config");
    json_t *ev = bad ? NULL : json_object_get(o, "evals");
    bad = bad || !json_is_string(cfg) || !json_is_array(ev) ||
          str_field(o, "ckpt", s->ckpt, sizeof s->ckpt) ||
          str_field(o, "best_file", s->best_file, sizeof s->best_file);
    if (!bad) {
        s->config = strdup(json_string_value(cfg));
        s->best = (int)json_integer_value(json_object_get(o, "best"));
        s->train_time_s = json_number_value(json_object_get(o, "train_time_s"));
        s->eval_time_s = json_number_value(json_object_get(o, "eval_time_s"));
        s->peak_bytes = json_integer_value(json_object_get(o, "peak_bytes"));
        s->attempts = (int)json_integer_value(json_object_get(o, "attempts"));
        for (size_t i = 0; i < json_array_size(ev) && !bad; i++) {
            json_t *e = json_array_get(ev, i), *names = json_object_get(e, "names"),
                   *values = json_object_get(e, "values");
            struct run_eval r = {0};
            r.epoch = (int)json_integer_value(json_object_get(e, "epoch"));
            r.step = json_integer_value(json_object_get(e, "step"));
            r.train_loss = json_number_value(json_object_get(e, "train_loss"));
            r.score = json_number_value(json_object_get(e, "score"));
            r.n_metrics = (int)json_array_size(names);
            if (!json_is_array(names) || !json_is_array(values) || r.n_metrics > 2 ||
                json_array_size(values) != (size_t)r.n_metrics) {
                bad = 1;
                break;
            }
            for (int k = 0; k < r.n_metrics; k++) {
                snprintf(r.names[k], sizeof r.names[k], "%s",
                         json_string_value(json_array_get(names, k)));
                r.values[k] = json_number_value(json_array_get(values, k));
            }
            if (run_state_push(s, &r)) bad = 1;
        }
        if (s->best < -1 || s->best >= s->n) bad = 1;
    }
    json_decref(o);
    if (bad || !s->config) {
        run_state_free(s);
        return error_set("%s: malformed run state (delete the run directory to start the run over)",
                         path);
    }
    return 0;
}

int run_state_save(const struct run_state *s, const char *path) {
    json_t *ev = json_array();
    for (int i = 0; i < s->n; i++) {
        const struct run_eval *r = &s->evals[i];
        json_t *names = json_array(), *values = json_array();
        for (int k = 0; k < r->n_metrics; k++) {
            json_array_append_new(names, json_string(r->names[k]));
            json_array_append_new(values, json_real(r->values[k]));
        }
        json_array_append_new(ev,
                              json_pack("{s:i, s:I, s:f, s:o, s:o, s:f}", "epoch", r->epoch, "step",
                                        (json_int_t)r->step, "train_loss", r->train_loss, "names",
                                        names, "values", values, "score", r->score));
    }
    json_t *o =
        json_pack("{s:s, s:o, s:i, s:s, s:s, s:f, s:f, s:I, s:i}", "config",
                  s->config ? s->config : "", "evals", ev, "best", s->best, "ckpt", s->ckpt,
                  "best_file", s->best_file, "train_time_s", s->train_time_s, "eval_time_s",
                  s->eval_time_s, "peak_bytes", (json_int_t)s->peak_bytes, "attempts", s->attempts);
    if (!o) return error_set("%s: cannot build the run state", path);
    char tmp[4200];
    if (path_fmt(tmp, sizeof tmp, "%s.tmp", path)) {
        json_decref(o);
        return -1;
    }
    /* REAL_PRECISION 17: the scores read back bit for bit */
    errno = 0;
    int rc = json_dump_file(o, tmp, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (rc) {
        error_set("%s: cannot write%s%s", tmp, errno ? ": " : "", errno ? strerror(errno) : "");
        unlink(tmp); /* path keeps its previous state */
        return -1;
    }
    return file_commit(tmp, path);
}
