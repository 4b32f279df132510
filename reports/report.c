/* report.c: results file -> Table 1/2, Table 3, low-resource table, Figures 2 and 4. */
#include "reports/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "datasets/task.h"
#include "reports/figures.h"
#include "reports/results.h"
#include "reports/text.h"

#define MAX_KEYS 64

/* The paper's method order and names (rows of Tables 1-3). Unknown ids come after, as is. */
static const char *const method_ids[] = {"full",        "adapter",  "pfeiffer", "adapterdrop",
                                         "adapter-lowrank", "prompt-r", "prompt-t", "said",
                                         "bitfit",      "phm-adapter", "compacter", "compacter++"};
static const char *const method_names[] = {"Full fine-tuning", "Adapter", "Pfeiffer-Adapter",
                                           "AdapterDrop", "Adapter-LowRank", "Prompt Tuning-R",
                                           "Prompt Tuning-T", "Intrinsic-SAID", "BitFit",
                                           "PHM-Adapter", "Compacter", "Compacter++"};
#define N_KNOWN_METHODS (sizeof method_ids / sizeof method_ids[0])

static int method_rank(const char *id) {
    for (size_t i = 0; i < N_KNOWN_METHODS; i++)
        if (!strcmp(id, method_ids[i])) return (int)i;
    return (int)N_KNOWN_METHODS;
}
static const char *method_display(const char *id) {
    int r = method_rank(id);
    return r < (int)N_KNOWN_METHODS ? method_names[r] : id;
}
static const struct task *known_task(const char *name) {
    for (size_t i = 0; i < task_count(); i++)
        if (!strcmp(task_at(i)->name, name)) return task_at(i);
    return NULL;
}
static int task_rank(const char *name) {
    for (size_t i = 0; i < task_count(); i++)
        if (!strcmp(task_at(i)->name, name)) return (int)i;
    return (int)task_count();
}
static const char *task_display(const char *name) {
    const struct task *t = known_task(name);
    return t ? t->dir : name;
}

/* Unique keys in a stable order: by rank, then first appearance. */
struct keys {
    const char *k[MAX_KEYS];
    int n;
};
static int keys_add(struct keys *ks, const char *k) {
    for (int i = 0; i < ks->n; i++)
        if (!strcmp(ks->k[i], k)) return 0;
    if (ks->n == MAX_KEYS) return error_set("report: more than %d distinct methods or tasks", MAX_KEYS);
    ks->k[ks->n++] = k;
    return 0;
}
static void keys_sort(struct keys *ks, int (*rank)(const char *)) {
    for (int i = 1; i < ks->n; i++) /* stable insertion sort */
        for (int j = i; j > 0 && rank(ks->k[j]) < rank(ks->k[j - 1]); j--) {
            const char *t = ks->k[j];
            ks->k[j] = ks->k[j - 1];
            ks->k[j - 1] = t;
        }
}

/* The selected configuration of one (method, task, train size). */
struct pick {
    int found, n_seeds, n_metrics;
    double val, test;
    const char *names[RESULT_MAX_METRICS];
    double values[RESULT_MAX_METRICS];
    long long trainable, base, peak;
};

static void pick_best(const struct results *R, const char *label, const char *task, long size,
                      struct pick *p) {
    memset(p, 0, sizeof *p);
    p->peak = -1;
    const char *best_cfg = NULL;
    double best_val = -INFINITY;
    for (size_t i = 0; i < R->n; i++) { /* each distinct config, at its first line */
        const struct result_run *r = &R->runs[i];
        if (strcmp(r->label, label) || strcmp(r->task, task) || r->train_size != size) continue;
        int first = 1;
        for (size_t j = 0; j < i && first; j++) {
            const struct result_run *q = &R->runs[j];
            if (!strcmp(q->label, label) && !strcmp(q->task, task) && q->train_size == size &&
                !strcmp(q->config, r->config))
                first = 0;
        }
        if (!first) continue;
        double sum = 0;
        int n = 0;
        for (size_t j = i; j < R->n; j++) {
            const struct result_run *q = &R->runs[j];
            if (!strcmp(q->label, label) && !strcmp(q->task, task) && q->train_size == size &&
                !strcmp(q->config, r->config)) {
                sum += q->val_score;
                n++;
            }
        }
        if (sum / n > best_val) {
            best_val = sum / n;
            best_cfg = r->config;
        }
    }
    if (!best_cfg) return;
    p->found = 1;
    p->val = best_val;
    for (size_t j = 0; j < R->n; j++) {
        const struct result_run *q = &R->runs[j];
        if (strcmp(q->label, label) || strcmp(q->task, task) || q->train_size != size ||
            strcmp(q->config, best_cfg))
            continue;
        if (!p->n_seeds) {
            p->n_metrics = q->n_metrics;
            for (int m = 0; m < q->n_metrics; m++) p->names[m] = q->metric_names[m];
            p->trainable = q->trainable_params;
            p->base = q->base_params;
        }
        p->n_seeds++;
        p->test += q->test_score;
        for (int m = 0; m < p->n_metrics; m++)
            for (int k = 0; k < q->n_metrics; k++)
                if (!strcmp(q->metric_names[k], p->names[m])) p->values[m] += q->metric_values[k];
        if (q->peak_memory_bytes > p->peak) p->peak = q->peak_memory_bytes;
    }
    p->test /= p->n_seeds;
    for (int m = 0; m < p->n_metrics; m++) p->values[m] /= p->n_seeds;
}

/* Metric order of a cell: the task table's order when the task is known, else the file's. */
static int metric_order(const char *task, const struct pick *p, int *idx) {
    const struct task *t = known_task(task);
    int n = 0;
    if (t)
        for (int a = 0; a < t->n_metrics; a++)
            for (int m = 0; m < p->n_metrics; m++)
                if (!strcmp(p->names[m], t->metric_names[a])) idx[n++] = m;
    if (n != p->n_metrics) /* unknown task or other names: the file's order */
        for (n = 0; n < p->n_metrics; n++) idx[n] = n;
    return n;
}

/* Caption facts shared by every report. */
struct meta {
    char experiment[64], preset[340], model[256], device[256], precision[128], seeds[256],
        dates[64], tasks[512];
};

static void join_unique(char *out, size_t cap, const struct results *R,
                        const char *(*get)(const struct result_run *)) {
    out[0] = 0;
    struct keys ks = {0};
    for (size_t i = 0; i < R->n; i++)
        if (*get(&R->runs[i])) keys_add(&ks, get(&R->runs[i]));
    for (int i = 0; i < ks.n; i++) {
        size_t l = strlen(out);
        snprintf(out + l, cap - l, "%s%s", i ? ", " : "", ks.k[i]);
    }
    if (!out[0]) snprintf(out, cap, "unknown");
}
static const char *g_model(const struct result_run *r) { return r->model; }
static const char *g_device(const struct result_run *r) { return r->device; }
static const char *g_precision(const struct result_run *r) { return r->precision; }
static const char *g_task(const struct result_run *r) { return r->task; }

static void make_meta(const struct results *R, struct meta *m) {
    memset(m, 0, sizeof *m);
    snprintf(m->experiment, sizeof m->experiment, "%s", R->runs[0].experiment);
    snprintf(m->preset, sizeof m->preset, "%s%s%s", *R->runs[0].preset ? R->runs[0].preset : "unknown",
             R->runs[0].overrides[0] ? " --set " : "", R->runs[0].overrides);
    join_unique(m->model, sizeof m->model, R, g_model);
    join_unique(m->device, sizeof m->device, R, g_device);
    join_unique(m->precision, sizeof m->precision, R, g_precision);
    join_unique(m->tasks, sizeof m->tasks, R, g_task);
    int seeds[MAX_KEYS], ns = 0;
    for (size_t i = 0; i < R->n; i++) {
        int s = R->runs[i].seed, j = 0;
        while (j < ns && seeds[j] != s) j++;
        if (j == ns && ns < MAX_KEYS) seeds[ns++] = s;
    }
    for (int i = 1; i < ns; i++)
        for (int j = i; j > 0 && seeds[j] < seeds[j - 1]; j--) {
            int t = seeds[j];
            seeds[j] = seeds[j - 1];
            seeds[j - 1] = t;
        }
    for (int i = 0; i < ns; i++) {
        size_t l = strlen(m->seeds);
        snprintf(m->seeds + l, sizeof m->seeds - l, "%s%d", i ? ", " : "", seeds[i]);
    }
    char lo[16] = "", hi[16] = "";
    for (size_t i = 0; i < R->n; i++) {
        char d[16];
        snprintf(d, sizeof d, "%.10s", R->runs[i].date);
        if (!d[0]) continue;
        if (!lo[0] || strcmp(d, lo) < 0) memcpy(lo, d, sizeof d);
        if (!hi[0] || strcmp(d, hi) > 0) memcpy(hi, d, sizeof d);
    }
    if (!lo[0]) snprintf(m->dates, sizeof m->dates, "date unknown");
    else if (!strcmp(lo, hi)) snprintf(m->dates, sizeof m->dates, "date %s", lo);
    else snprintf(m->dates, sizeof m->dates, "dates %s to %s", lo, hi);
}

static void note(struct report_summary *s, const char *fmt, const char *a, const char *b) {
    if (s->n_notes < REPORT_MAX_NOTES) snprintf(s->notes[s->n_notes++], sizeof s->notes[0], fmt, a, b);
}

/* Write the enabled formats of one table. */
static int write_table(const struct report_options *o, struct report_summary *s,
                       const char *experiment, const struct rtable *disp,
                       const struct rtable *csv, const char *title, const char *caption,
                       const char *const *comments, int n_comments) {
    char path[1024];
    for (int f = 0; f < 3; f++) {
        if (!(f == 0 ? o->md : f == 1 ? o->tex : o->csv)) continue;
        struct sbuf b = {0};
        const char *ext = f == 0 ? "md" : f == 1 ? "tex" : "csv";
        if (f == 0) rtable_markdown(disp, title, caption, &b);
        if (f == 1) {
            char full[4096], label[128];
            snprintf(full, sizeof full, "%s. %s", title, caption);
            snprintf(label, sizeof label, "tab:%s", experiment);
            rtable_latex(disp, full, label, &b);
        }
        if (f == 2) rtable_csv(csv, comments, n_comments, &b);
        snprintf(path, sizeof path, "%s/%s.%s", o->out_dir, experiment, ext);
        int rc = b.oom ? error_set("%s: out of memory", path) : write_atomic(path, b.p, b.n);
        sb_free(&b);
        if (rc) return -1;
        note(s, "wrote %s%s", path, "");
    }
    return 0;
}

static void comments_of(const struct meta *m, const char *title, char lines[7][600],
                        const char **ptr) {
    snprintf(lines[0], 600, "%s", title);
    snprintf(lines[1], 600, "model: %s", m->model);
    snprintf(lines[2], 600, "device: %s", m->device);
    snprintf(lines[3], 600, "precision: %s", m->precision);
    snprintf(lines[4], 600, "seeds: %s", m->seeds);
    const char *sp = strchr(m->dates, ' '); /* "dates a to b" -> "dates: a to b" */
    snprintf(lines[5], 600, "%.*s:%s", (int)(sp - m->dates), m->dates, sp);
    for (int i = 0; i < 6; i++) ptr[i] = lines[i];
}

static int figure(const struct report_options *o, struct report_summary *s, const char *base,
                  const char *dat, const char *body) {
    char msg[1100];
    int rc = figure_render(o->out_dir, base, dat, body, msg, sizeof msg);
    if (rc < 0) return -1;
    note(s, rc == 0 ? "wrote %s%s" : "warning: %s%s", msg, "");
    return 0;
}

/* Table 1 / Table 2 layout, plus Figure 2. */
static int report_tables(const struct results *R, const struct report_options *o,
                         struct report_summary *s) {
    struct meta m;
    make_meta(R, &m);
    struct keys methods = {0}, tasks = {0};
    for (size_t i = 0; i < R->n; i++)
        if (keys_add(&methods, R->runs[i].label) || keys_add(&tasks, R->runs[i].task)) return -1;
    keys_sort(&methods, method_rank);
    keys_sort(&tasks, task_rank);
    int T = tasks.n;
    static struct pick picks[MAX_KEYS][MAX_KEYS];
    for (int a = 0; a < methods.n; a++)
        for (int t = 0; t < T; t++) pick_best(R, methods.k[a], tasks.k[t], -1, &picks[a][t]);

    /* Display columns: Method, #Total, Trained %, tasks, Avg. CSV: one column per metric. */
    char align[RTABLE_MAX_COLS] = "lrr";
    struct rtable disp, csv;
    if (T + 4 > RTABLE_MAX_COLS) return error_set("report: too many tasks (%d)", T);
    memset(align + 3, 'r', (size_t)T + 1);
    rtable_init(&disp, T + 4, align);
    int task_metrics[MAX_KEYS], idx[RESULT_MAX_METRICS], n_csv = 4;
    const struct pick *proto[MAX_KEYS];
    for (int t = 0; t < T; t++) {
        proto[t] = NULL;
        for (int a = 0; a < methods.n && !proto[t]; a++)
            if (picks[a][t].found) proto[t] = &picks[a][t];
        task_metrics[t] = proto[t]->n_metrics;
        n_csv += task_metrics[t];
    }
    if (n_csv > RTABLE_MAX_COLS) return error_set("report: too many metric columns (%d)", n_csv);
    rtable_init(&csv, n_csv, NULL);
    int h = rtable_add_row(&disp), hc = rtable_add_row(&csv);
    rtable_set(&disp, h, 0, "Method");
    rtable_set(&disp, h, 1, "#Total params");
    rtable_set(&disp, h, 2, "Trained params/per task");
    rtable_set(&csv, hc, 0, "method");
    rtable_set(&csv, hc, 1, "total_params");
    rtable_set(&csv, hc, 2, "trained_params_pct");
    char legend[512] = "";
    for (int t = 0, c = 3; t < T; t++) {
        rtable_set(&disp, h, 3 + t, "%s", task_display(tasks.k[t]));
        int n = metric_order(tasks.k[t], proto[t], idx);
        if (n > 1) {
            size_t l = strlen(legend);
            snprintf(legend + l, sizeof legend - l, "%s%s ", l ? "; " : "", task_display(tasks.k[t]));
            for (int k = 0; k < n; k++) {
                l = strlen(legend);
                snprintf(legend + l, sizeof legend - l, "%s%s", k ? "/" : "", proto[t]->names[idx[k]]);
            }
        }
        for (int k = 0; k < n; k++) rtable_set(&csv, hc, c++, "%s.%s", tasks.k[t], proto[t]->names[idx[k]]);
    }
    rtable_set(&disp, h, 3 + T, "Avg");
    rtable_set(&csv, hc, n_csv - 1, "avg");

    struct sbuf dat = {0};
    sb_printf(&dat, "# trained_params_pct avg_score memory_mb point_size \"label\"\n");
    double max_mb = 0;
    for (int a = 0; a < methods.n; a++)
        for (int t = 0; t < T; t++)
            if (picks[a][t].found && picks[a][t].peak / 1048576.0 > max_mb)
                max_mb = picks[a][t].peak / 1048576.0;
    long long base = 0;
    for (int a = 0; a < methods.n; a++) {
        int r = rtable_add_row(&disp), rc = rtable_add_row(&csv);
        rtable_set(&disp, r, 0, "%s", method_display(methods.k[a]));
        rtable_set(&csv, rc, 0, "%s", methods.k[a]);
        double sum_trainable = 0, sum_score = 0, mb = -1;
        int n_found = 0, all_full = 1;
        for (int t = 0, c = 3; t < T; t++) {
            const struct pick *p = &picks[a][t];
            if (!p->found) {
                rtable_set(&disp, r, 3 + t, "-");
                c += task_metrics[t];
                continue;
            }
            base = p->base;
            n_found++;
            sum_trainable += (double)p->trainable;
            sum_score += p->test;
            if (p->trainable < p->base) all_full = 0;
            if (p->peak / 1048576.0 > mb) mb = p->peak / 1048576.0;
            int n = metric_order(tasks.k[t], p, idx);
            char cell[128] = "";
            for (int k = 0; k < n; k++) {
                size_t l = strlen(cell);
                snprintf(cell + l, sizeof cell - l, "%s%.2f", k ? "/" : "", p->values[idx[k]]);
                rtable_set(&csv, rc, c++, "%.2f", p->values[idx[k]]);
            }
            rtable_set(&disp, r, 3 + t, "%s", cell);
        }
        if (!n_found) continue;
        /* One base model shared by T task-specific parameter sets; full fine-tuning keeps
         * T whole models, so nothing is shared. */
        double total = ((all_full ? 0 : (double)base) + sum_trainable * T / n_found) / (double)base;
        double pct = 100.0 * sum_trainable / n_found / (double)base;
        rtable_set(&disp, r, 1, "%.3f", total);
        rtable_set(&disp, r, 2, "%.3f%%", pct);
        rtable_set(&csv, rc, 1, "%.3f", total);
        rtable_set(&csv, rc, 2, "%.3f", pct);
        if (n_found == T) {
            rtable_set(&disp, r, 3 + T, "%.2f", sum_score / T);
            rtable_set(&csv, rc, n_csv - 1, "%.2f", sum_score / T);
            double size = mb > 0 && max_mb > 0 ? 1.0 + 3.0 * sqrt(mb / max_mb) : 1.5;
            char mem[64] = "";
            if (mb > 0) snprintf(mem, sizeof mem, " (%.0f MB)", mb);
            sb_printf(&dat, "%.6g %.4f %.2f %.3f \"%s%s\"\n", pct, sum_score / T, mb > 0 ? mb : 0,
                      size, method_display(methods.k[a]), mem);
        } else {
            rtable_set(&disp, r, 3 + T, "-");
        }
    }

    char title[512], caption[4096];
    if (!strcmp(m.experiment, "table1")) snprintf(title, sizeof title, "Table 1: %s, preset %s", m.experiment, m.preset);
    else if (!strcmp(m.experiment, "table2")) snprintf(title, sizeof title, "Table 2: %s, preset %s", m.experiment, m.preset);
    else snprintf(title, sizeof title, "Table: %s, preset %s", m.experiment, m.preset);
    snprintf(caption, sizeof caption,
             "Model %s; device %s; precision %s; seeds %s; %s. Test scores of the configuration "
             "with the best validation score per method and task (means over seeds)%s%s. "
             "#Total params = (base + sum of the T = %d per-task trained parameters) / base, "
             "base = %lld parameters (full fine-tuning: sum / base).",
             m.model, m.device, m.precision, m.seeds, m.dates, legend[0] ? "; two-metric cells: " : "",
             legend, T, base);
    char lines[7][600];
    const char *cm[7];
    comments_of(&m, title, lines, cm);
    int rc = write_table(o, s, m.experiment, &disp, &csv, title, caption, cm, 6);
    rtable_free(&disp);
    rtable_free(&csv);
    if (!rc && o->figures && !dat.oom) {
        char base_name[128], body[4096];
        snprintf(base_name, sizeof base_name, "figure2_%s", m.experiment);
        snprintf(body, sizeof body,
                 "set title \"Figure 2 (%s, preset %s, model %s)\\naverage score vs trained "
                 "parameters; point size = peak memory\"\n"
                 "set logscale x\n"
                 "set xlabel \"trained parameters per task (%%, log scale)\"\n"
                 "set ylabel \"average test score\"\n"
                 "set grid\n"
                 "set offsets graph 0.05, graph 0.15, graph 0.1, graph 0.1\n"
                 "plot \"%s.dat\" using 1:2:4 with points pt 7 ps variable notitle, \\\n"
                 "     \"%s.dat\" using 1:2:5 with labels offset 0,1.5 notitle\n",
                 m.experiment, m.preset, m.model, base_name, base_name);
        rc = figure(o, s, base_name, dat.p, body);
    }
    sb_free(&dat);
    return rc;
}

/* Table 3: memory and time per epoch relative to full fine-tuning (last line per method). */
static int report_efficiency(const struct results *R, const struct report_options *o,
                             struct report_summary *s) {
    struct meta m;
    make_meta(R, &m);
    struct keys methods = {0};
    for (size_t i = 0; i < R->n; i++)
        if (keys_add(&methods, R->runs[i].label)) return -1;
    keys_sort(&methods, method_rank);
    const struct result_run *last[MAX_KEYS], *full = NULL;
    for (int a = 0; a < methods.n; a++) {
        last[a] = NULL;
        for (size_t i = 0; i < R->n; i++)
            if (!strcmp(R->runs[i].label, methods.k[a])) last[a] = &R->runs[i];
        if (!strcmp(methods.k[a], "full")) full = last[a];
    }
    struct rtable disp, csv;
    rtable_init(&disp, 6, "lrrrrr");
    rtable_init(&csv, 7, NULL);
    int h = rtable_add_row(&disp), hc = rtable_add_row(&csv);
    const char *dh[] = {"Method", "%Trained params", "Memory (MB)", "Memory vs full",
                        "Time/epoch (min)", "Time vs full"};
    const char *ch[] = {"method", "trained_params_pct", "memory_mb", "memory_rel_pct",
                        "time_per_epoch_min", "time_rel_pct", "batch_size"};
    for (int c = 0; c < 6; c++) rtable_set(&disp, h, c, "%s", dh[c]);
    for (int c = 0; c < 7; c++) rtable_set(&csv, hc, c, "%s", ch[c]);
    for (int a = 0; a < methods.n; a++) {
        const struct result_run *r = last[a];
        int d = rtable_add_row(&disp), c = rtable_add_row(&csv);
        double pct = 100.0 * (double)r->trainable_params / (double)r->base_params;
        double mb = (double)r->peak_memory_bytes / 1048576.0, min = r->epoch_time_s / 60.0;
        rtable_set(&disp, d, 0, "%s", method_display(r->label));
        rtable_set(&disp, d, 1, "%.3f%%", pct);
        rtable_set(&disp, d, 2, "%.2f", mb);
        rtable_set(&disp, d, 4, "%.2f", min);
        rtable_set(&csv, c, 0, "%s", r->label);
        rtable_set(&csv, c, 1, "%.3f", pct);
        rtable_set(&csv, c, 2, "%.2f", mb);
        rtable_set(&csv, c, 4, "%.2f", min);
        rtable_set(&csv, c, 6, "%ld", r->batch_size);
        if (full && r != full && full->peak_memory_bytes > 0 && full->epoch_time_s > 0) {
            double dm = 100.0 * ((double)r->peak_memory_bytes / (double)full->peak_memory_bytes - 1);
            double dt = 100.0 * (r->epoch_time_s / full->epoch_time_s - 1);
            rtable_set(&disp, d, 3, "%+.2f%%", dm);
            rtable_set(&disp, d, 5, "%+.2f%%", dt);
            rtable_set(&csv, c, 3, "%.2f", dm);
            rtable_set(&csv, c, 5, "%.2f", dt);
        } else {
            rtable_set(&disp, d, 3, "-");
            rtable_set(&disp, d, 5, "-");
        }
    }
    /* one batch for every row (the runner's "common" policy), or each its own */
    long batch = methods.n ? last[0]->batch_size : 0;
    for (int a = 1; a < methods.n; a++)
        if (last[a]->batch_size != batch) batch = -1;
    char batch_note[160];
    if (batch > 0)
        snprintf(batch_note, sizeof batch_note, " Every method at batch %ld.", batch);
    else
        snprintf(batch_note, sizeof batch_note,
                 " Each method at its own batch (the CSV's batch_size), so the columns do not compare at "
                 "one batch.");
    char title[512], caption[4096];
    snprintf(title, sizeof title, "Table 3: %s, preset %s", m.experiment, m.preset);
    snprintf(caption, sizeof caption,
             "Model %s; device %s; precision %s; %s; task %s. Peak memory in MB (2^20 bytes; the "
             "reference's script prints bytes / 2^20 / 1000) and time per training epoch, relative "
             "columns against full fine-tuning; the last line of each method counts.%s",
             m.model, m.device, m.precision, m.dates, m.tasks, batch_note);
    char lines[7][600];
    const char *cm[7];
    comments_of(&m, title, lines, cm);
    snprintf(lines[4], 600, "task: %s", m.tasks);
    int rc = write_table(o, s, m.experiment, &disp, &csv, title, caption, cm, 6);
    rtable_free(&disp);
    rtable_free(&csv);
    return rc;
}

/* Low-resource: average test score over tasks per method and training-set size; Figure 4. */
static int report_lowresource(const struct results *R, const struct report_options *o,
                              struct report_summary *s) {
    struct meta m;
    make_meta(R, &m);
    struct keys methods = {0}, tasks = {0};
    long sizes[MAX_KEYS];
    int ns = 0;
    for (size_t i = 0; i < R->n; i++) {
        if (keys_add(&methods, R->runs[i].label) || keys_add(&tasks, R->runs[i].task)) return -1;
        int j = 0;
        while (j < ns && sizes[j] != R->runs[i].train_size) j++;
        if (j == ns) {
            if (ns == MAX_KEYS) return error_set("report: more than %d train sizes", MAX_KEYS);
            sizes[ns++] = R->runs[i].train_size;
        }
    }
    keys_sort(&methods, method_rank);
    keys_sort(&tasks, task_rank);
    for (int i = 1; i < ns; i++)
        for (int j = i; j > 0 && sizes[j] < sizes[j - 1]; j--) {
            long t = sizes[j];
            sizes[j] = sizes[j - 1];
            sizes[j - 1] = t;
        }
    if (ns + 1 > RTABLE_MAX_COLS || methods.n + 1 > RTABLE_MAX_COLS)
        return error_set("report: too many train sizes or methods");
    static double avg[MAX_KEYS][MAX_KEYS];
    struct rtable disp, csv;
    rtable_init(&disp, ns + 1, "l");
    rtable_init(&csv, ns + 1, NULL);
    int h = rtable_add_row(&disp), hc = rtable_add_row(&csv);
    rtable_set(&disp, h, 0, "Method");
    rtable_set(&csv, hc, 0, "method");
    for (int z = 0; z < ns; z++) {
        rtable_set(&disp, h, z + 1, "n=%ld", sizes[z]);
        rtable_set(&csv, hc, z + 1, "n%ld", sizes[z]);
    }
    for (int a = 0; a < methods.n; a++) {
        int d = rtable_add_row(&disp), c = rtable_add_row(&csv);
        rtable_set(&disp, d, 0, "%s", method_display(methods.k[a]));
        rtable_set(&csv, c, 0, "%s", methods.k[a]);
        for (int z = 0; z < ns; z++) {
            double sum = 0;
            int n = 0;
            for (int t = 0; t < tasks.n; t++) {
                struct pick p;
                pick_best(R, methods.k[a], tasks.k[t], sizes[z], &p);
                if (p.found) sum += p.test, n++;
            }
            avg[a][z] = n == tasks.n ? sum / n : NAN;
            if (n == tasks.n) {
                rtable_set(&disp, d, z + 1, "%.2f", avg[a][z]);
                rtable_set(&csv, c, z + 1, "%.2f", avg[a][z]);
            } else rtable_set(&disp, d, z + 1, "-");
        }
    }
    char title[512], caption[4096];
    snprintf(title, sizeof title, "Figure 4 data: %s, preset %s", m.experiment, m.preset);
    snprintf(caption, sizeof caption,
             "Model %s; device %s; precision %s; seeds %s; %s. Average test score over the "
             "tasks %s per training-set size, each from the configuration with the best "
             "validation score (means over seeds).",
             m.model, m.device, m.precision, m.seeds, m.dates, m.tasks);
    char lines[7][600];
    const char *cm[7];
    comments_of(&m, title, lines, cm);
    int rc = write_table(o, s, m.experiment, &disp, &csv, title, caption, cm, 6);
    rtable_free(&disp);
    rtable_free(&csv);
    if (rc || !o->figures) return rc;
    struct sbuf dat = {0}, body = {0};
    sb_printf(&dat, "train_size");
    for (int a = 0; a < methods.n; a++) sb_printf(&dat, " \"%s\"", method_display(methods.k[a]));
    sb_printf(&dat, "\n");
    for (int z = 0; z < ns; z++) {
        sb_printf(&dat, "%ld", sizes[z]);
        for (int a = 0; a < methods.n; a++)
            isnan(avg[a][z]) ? sb_printf(&dat, " ?") : sb_printf(&dat, " %.4f", avg[a][z]);
        sb_printf(&dat, "\n");
    }
    char base_name[128];
    snprintf(base_name, sizeof base_name, "figure4_%s", m.experiment);
    sb_printf(&body,
              "set title \"Figure 4 (%s, preset %s, model %s): score vs training-set size\"\n"
              "set datafile missing \"?\"\n"
              "set logscale x\n"
              "set xlabel \"training examples per task (log scale)\"\n"
              "set ylabel \"average test score\"\n"
              "set key bottom right\n"
              "set grid\n"
              "plot for [i=2:%d] \"%s.dat\" using 1:i with linespoints lw 2 pt 7 title columnheader(i)\n",
              m.experiment, m.preset, m.model, methods.n + 1, base_name);
    rc = dat.oom || body.oom ? error_set("report: out of memory")
                             : figure(o, s, base_name, dat.p, body.p);
    sb_free(&dat);
    sb_free(&body);
    return rc;
}

void report_options_default(struct report_options *o) {
    o->out_dir = "reports/out";
    o->md = o->tex = o->csv = 1;
    o->figures = 1;
    o->preset = NULL;
    o->overrides = NULL;
}

int report_parse_formats(const char *s, struct report_options *o) {
    o->md = o->tex = o->csv = 0;
    const char *p = s;
    while (*p) {
        size_t l = strcspn(p, ",");
        if (l == 2 && !strncmp(p, "md", 2)) o->md = 1;
        else if (l == 3 && !strncmp(p, "tex", 3)) o->tex = 1;
        else if (l == 3 && !strncmp(p, "csv", 3)) o->csv = 1;
        else return error_set("--format '%s': expected a list of md, tex, csv", s);
        p += l;
        if (*p == ',') p++;
    }
    if (!o->md && !o->tex && !o->csv) return error_set("--format '%s': no format", s);
    return 0;
}

int report_results_file(const char *path, const struct report_options *o,
                        struct report_summary *s) {
    memset(s, 0, sizeof *s);
    struct results R;
    if (results_load(path, &R)) return -1;
    int rc = 0;
    char line[32];
    if (R.truncated_line) {
        snprintf(line, sizeof line, "%d", R.truncated_line);
        note(s, "warning: %s:%s: truncated last line (a run killed while writing) skipped", path, line);
    }
    /* One preset, one set of --set overrides and one experiment per report. */
    size_t kept = 0;
    for (size_t i = 0; i < R.n; i++) {
        const struct result_run *r = &R.runs[i];
        if (o->preset && strcmp(r->preset, o->preset)) continue;
        if (o->overrides && strcmp(r->overrides, o->overrides)) continue;
        if (kept && strcmp(r->preset, R.runs[0].preset)) {
            rc = error_set("%s: lines of presets '%s' (line %d) and '%s' (line %d): choose one "
                           "with --preset",
                           path, R.runs[0].preset, R.runs[0].line, r->preset, r->line);
            goto done;
        }
        if (kept && strcmp(r->overrides, R.runs[0].overrides)) {
            rc = error_set("%s: lines of preset '%s' run with different --set overrides ('%s' line "
                           "%d, '%s' line %d): choose with --set k=v,... (--set none: the preset's "
                           "own runs)",
                           path, r->preset, R.runs[0].overrides, R.runs[0].line, r->overrides,
                           r->line);
            goto done;
        }
        R.runs[kept++] = *r;
    }
    R.n = kept;
    if (!R.n) {
        rc = error_set("%s: no line of preset '%s'%s%s", path, o->preset ? o->preset : "(any)",
                       o->overrides ? " with --set " : "", o->overrides ? o->overrides : "");
        goto done;
    }
    for (size_t i = 1; i < R.n; i++)
        if (strcmp(R.runs[i].experiment, R.runs[0].experiment)) {
            rc = error_set("%s:%d: experiment '%s' in a file of '%s' (line %d)", path,
                           R.runs[i].line, R.runs[i].experiment, R.runs[0].experiment,
                           R.runs[0].line);
            goto done;
        }
    if (make_dirs(o->out_dir)) {
        rc = -1;
        goto done;
    }
    int lowres = !strcmp(R.runs[0].experiment, "lowresource");
    for (size_t i = 0; i < R.n; i++) lowres |= R.runs[i].train_size >= 0;
    if (!strcmp(R.runs[0].experiment, "efficiency")) rc = report_efficiency(&R, o, s);
    else if (lowres) {
        for (size_t i = 0; i < R.n && !rc; i++)
            if (R.runs[i].train_size < 0)
                rc = error_set("%s:%d: missing field train_size", path, R.runs[i].line);
        if (!rc) rc = report_lowresource(&R, o, s);
    } else rc = report_tables(&R, o, s);
done:
    results_free(&R);
    return rc;
}
