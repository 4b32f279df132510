/* task_score.c: per-task metrics over decoded prediction strings (see task_score.h). */
#include "datasets/task_score.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "datasets/metrics.h"

/* Python str.strip() for ASCII whitespace; returns a malloc'd copy. */
static char *strip_copy(const char *s) {
    while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || (s[n - 1] >= '\t' && s[n - 1] <= '\r')))
        n--;
    return strndup(s, n);
}

/* Python float(): the whole string must parse; no hex. */
static double string_to_float(const char *s, int *ok) {
    char *e;
    *ok = 0;
    if (!*s || strpbrk(s, "xXpP")) return -1.0;
    double v = strtod(s, &e);
    if (*e) return -1.0;
    *ok = 1;
    return v;
}

int task_score(const struct example_set *set, const char *const *preds, size_t n_preds,
               struct task_result *out) {
    const struct task *t = set->task;
    size_t n = set->n;
    if (!t) return error_set("task_score: example set has no task");
    if (n_preds != n)
        return error_set("task %s: %zu predictions for %zu examples", t->name, n_preds, n);
    memset(out, 0, sizeof *out);
    char **p = calloc(n ? n : 1, sizeof *p);
    int *pid = malloc((n ? n : 1) * sizeof *pid), *gid = malloc((n ? n : 1) * sizeof *gid);
    double *px = malloc((n ? n : 1) * sizeof *px), *gx = malloc((n ? n : 1) * sizeof *gx);
    long *grp = malloc((n ? n : 1) * sizeof *grp);
    int rc = -1;
    if (!p || !pid || !gid || !px || !gx || !grp) {
        error_set("task %s: out of memory scoring", t->name);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (!set->ex[i].target) {
            error_set("task %s: example %zu is not formatted", t->name, i);
            goto done;
        }
        if (!(p[i] = strip_copy(preds[i] ? preds[i] : ""))) {
            error_set("task %s: out of memory scoring", t->name);
            goto done;
        }
        grp[i] = set->ex[i].group;
    }
    if (t->n_classes > 0) {
        /* label strings are "0".."k-1"; invalid strings get distinct ids -1, -2, ... */
        int n_bad = 0;
        for (size_t i = 0; i < n; i++) {
            gid[i] = set->ex[i].label;
            pid[i] = 0;
            int found = 0;
            for (int c = 0; c < t->n_classes && !found; c++) {
                char lab[16];
                snprintf(lab, sizeof lab, "%d", c);
                if (!strcmp(p[i], lab)) pid[i] = c, found = 1;
            }
            if (found) continue;
            out->n_invalid++;
            for (size_t j = 0; j < i && !found; j++)
                if (pid[j] < 0 && !strcmp(p[j], p[i])) pid[i] = pid[j], found = 1;
            if (!found) pid[i] = -(++n_bad);
        }
    } else if (t->tmpl != TEMPLATE_RECORD) {
        for (size_t i = 0; i < n; i++) {
            int ok;
            px[i] = string_to_float(p[i], &ok);
            out->n_invalid += !ok;
            gx[i] = string_to_float(set->ex[i].target, &ok);
        }
    }
    out->n_metrics = t->n_metrics;
    double sum = 0;
    for (int m = 0; m < t->n_metrics; m++) {
        double v = NAN;
        switch (t->metrics[m]) {
        case METRIC_ACCURACY:
            v = metric_accuracy(pid, gid, n);
            break;
        case METRIC_F1:
        case METRIC_MULTIRC_F1:
            v = metric_f1_binary(pid, gid, n);
            break;
        case METRIC_MACRO_F1:
            v = metric_f1_macro(pid, gid, n, t->n_classes);
            break;
        case METRIC_MATTHEWS:
            v = metric_matthews(pid, gid, n);
            break;
        case METRIC_PEARSON:
            v = metric_pearson(px, gx, n);
            break;
        case METRIC_SPEARMAN:
            v = metric_spearman(px, gx, n);
            break;
        case METRIC_MULTIRC_EM:
            v = metric_group_exact_match(pid, gid, grp, n);
            break;
        case METRIC_SQUAD_EM:
        case METRIC_SQUAD_F1: {
            double s = 0;
            int f1 = t->metrics[m] == METRIC_SQUAD_F1;
            for (size_t i = 0; i < n; i++) {
                const struct example *e = &set->ex[i];
                const char *const *g = (const char *const *)e->answers;
                s += f1 ? metric_squad_f1(p[i], g, e->n_answers)
                        : metric_squad_em(p[i], g, e->n_answers);
            }
            v = n ? s / (double)n : NAN;
            break;
        }
        }
        if (isnan(v) && (t->metrics[m] == METRIC_PEARSON || t->metrics[m] == METRIC_SPEARMAN))
            v = 0;
        out->names[m] = t->metric_names[m];
        out->values[m] = 100.0 * v;
        sum += out->values[m];
    }
    out->score = t->n_metrics ? sum / t->n_metrics : NAN;
    rc = 0;
done:
    if (p)
        for (size_t i = 0; i < n; i++)
            free(p[i]);
    free(p);
    free(pid);
    free(gid);
    free(px);
    free(gx);
    free(grp);
    return rc;
}
