/* runner.c: run an experiment grid, resumably, into a results file. */
#include "experiments/runner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/tokenizer.h"
#include "datasets/cache.h"
#include "datasets/download.h"
#include "datasets/download_progress.h"
#include "datasets/download_tasks.h"
#include "datasets/hub.h"
#include "datasets/synthetic.h"
#include "experiments/evaluate.h"
#include "experiments/experiment.h"
#include "experiments/profiler.h"
#include "experiments/progress.h"
#include "experiments/results_file.h"
#include "experiments/run_state.h"
#include "experiments/tiny_model.h"
#include "experiments/trainer.h"
#include "methods/method.h"
#include "methods/method_io.h"

#define TINY_TOKENIZER "assets/tiny/tokenizer.json"
#define MAX_TARGET_LENGTH 128

struct runner {
    const struct runner_options *o;
    struct tiny_model_spec tiny;
    struct synthetic_options syn;
    char tiny_dir[4096], tiny_name[128];
    int tiny_ready;
    char syn_dir[4096];
    int syn_ready;
    char git_rev[64];
    char results_path[4096];
    char search_path[4096]; /* <results_dir>/<experiment>.batch_search.jsonl */
    int threads; /* the preset's "threads" (0: OpenMP's default) */
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void utc_now(char *buf, size_t cap) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void git_revision(char *buf, size_t cap) {
    snprintf(buf, cap, "unknown");
    FILE *p = popen("git rev-parse HEAD 2>/dev/null", "r");
    if (!p) return;
    char line[128] = "";
    int ok = 0;
    if (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\r\n")] = 0;
        if (strlen(line) == 40 && cap > 40) memcpy(buf, line, 41), ok = 1; /* a full SHA-1 */
    }
    pclose(p);
    /* code changed since that commit: the line must not claim the commit's code */
    if (ok && cap > 46 && (p = popen("git status --porcelain --untracked-files=no 2>/dev/null", "r"))) {
        if (fgets(line, sizeof line, p)) strcat(buf, "-dirty");
        pclose(p);
    }
}

/* The preset's "tiny_model" and "synthetic" objects (experiment.c ignores them). */
static int load_extensions(struct runner *R, const char *path, const char *preset) {
    R->tiny = tiny_model_spec_default();
    R->syn = synthetic_options_default();
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) return error_set("%s:%d:%d: %s", path, je.line, je.column, je.text);
    json_t *p = json_object_get(json_object_get(root, "presets"), preset);
    json_t *tm = json_object_get(p, "tiny_model"), *sy = json_object_get(p, "synthetic"),
           *th = json_object_get(p, "threads");
    char where[512];
    int rc = 0;
    if (th &&
        !(json_is_integer(th) && json_integer_value(th) >= 0 && json_integer_value(th) <= 1024))
        rc = error_set("%s: presets.%s.threads: expected an integer >= 0 (0: all cores)", path,
                       preset);
    else if (th)
        R->threads = (int)json_integer_value(th);
    if (!rc && tm) {
        snprintf(where, sizeof where, "%s: presets.%s.tiny_model", path, preset);
        rc = tiny_model_spec_from_json(&R->tiny, tm, where);
    }
    if (!rc && sy) {
        const char *k;
        json_t *v;
        if (!json_is_object(sy))
            rc = error_set("%s: presets.%s.synthetic: expected an object", path, preset);
        if (!rc) json_object_foreach(sy, k, v) {
                int is_int = json_is_integer(v) && json_integer_value(v) >= 1;
                if (!strcmp(k, "train") && is_int)
                    R->syn.n_train = (long)json_integer_value(v);
                else if (!strcmp(k, "dev") && is_int)
                    R->syn.n_dev = (long)json_integer_value(v);
                else if (!strcmp(k, "seed") && json_is_integer(v) && json_integer_value(v) >= 0)
                    R->syn.seed = (uint64_t)json_integer_value(v);
                else if (!strcmp(k, "label_noise") && json_is_number(v) &&
                         json_number_value(v) >= 0 && json_number_value(v) <= 1)
                    R->syn.label_noise = json_number_value(v);
                else {
                    rc = error_set(
                        "%s: presets.%s.synthetic.%s: unknown field or bad value (train, dev: "
                        "integers >= 1; seed: integer >= 0; label_noise: number in [0, 1])",
                        path, preset, k);
                    break;
                }
            }
    }
    json_decref(root);
    return rc;
}

/* Every method, option and task of the grid exists: checked before anything trains. */
static int validate_grid(const char *path, const struct experiment_grid *g) {
    for (size_t i = 0; i < g->n; i++) {
        const struct run_spec *r = &g->runs[i];
        const struct method *me = method_find(r->method);
        if (!me) {
            char list[1024] = "";
            for (int k = 0; k < method_count(); k++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "",
                         method_at(k)->name);
            return error_set(
                "%s: preset %s: unknown method '%s' (this build has: %s); nothing was trained",
                path, g->preset, r->method, list);
        }
        for (int k = 0; k <= r->n_options; k++) {
            const char *key = k < r->n_options
                                  ? r->options[k].key
                                  : (r->reduction_factor > 0 ? "reduction_factor" : NULL);
            if (!key) continue;
            const struct method_option *found = NULL;
            for (const struct method_option *op = me->options; op && op->name && !found; op++)
                if (!strcmp(op->name, key)) found = op;
            if (!found)
                return error_set(
                    "%s: preset %s: method %s has no option '%s' (run %s); nothing was trained",
                    path, g->preset, r->method, key, r->run_id);
            if (k < r->n_options && method_option_check(found, r->options[k].value))
                return error_wrap("%s: preset %s: method %s (run %s): ", path, g->preset, r->method, r->run_id);
        }
        if (!task_find(r->task))
            return error_wrap("%s: preset %s: run %s: ", path, g->preset, r->run_id);
        if (r->batch < 1 && r->memory_budget_bytes <= 0)
            return error_set("%s: preset %s: run %s: batch %d needs memory_budget_bytes (the largest "
                             "batch that fits it is searched for)",
                             path, g->preset, r->run_id, r->batch);
    }
    return 0;
}

static void log_line(void *ctx, const char *line) {
    (void)ctx;
    fprintf(stderr, "%s\n", line);
}

/* The model folder of a run (the tiny model is made once per invocation, then cached). */
static int model_dir(struct runner *R, const struct run_spec *r, const char *device, char *dir,
                     size_t cap, char *name, size_t name_cap) {
    if (!strcmp(r->model, "tiny")) {
        if (!R->tiny_ready) {
            /* pre-training's 32x64-token batches use every core (a run's small ones do not) */
            int threads = omp_get_max_threads();
            omp_set_num_threads(omp_get_num_procs());
            int rc = tiny_model_ensure(&R->tiny, TINY_TOKENIZER, device, R->tiny_dir,
                                       sizeof R->tiny_dir, log_line, NULL);
            omp_set_num_threads(threads);
            if (rc) return error_wrap("the tiny model: ");
            tiny_model_cache_name(&R->tiny, R->tiny_name, sizeof R->tiny_name);
            R->tiny_ready = 1;
        }
        snprintf(dir, cap, "%s", R->tiny_dir);
        snprintf(name, name_cap, "%s", R->tiny_name);
        return 0;
    }
    snprintf(name, name_cap, "%s", r->model);
    return ensure_model(r->model, dir, cap);
}

/* The data root for task t (task_get's data_dir). */
static int data_root(struct runner *R, const struct task *t, char *dir, size_t cap) {
    if (synthetic_is_task(t)) {
        if (!R->syn_ready) {
            char sub[256];
            snprintf(sub, sizeof sub, "data/synthetic/train%ld-dev%ld-seed%llu-noise%g",
                     R->syn.n_train, R->syn.n_dev, (unsigned long long)R->syn.seed,
                     R->syn.label_noise);
            if (cache_path(sub, R->syn_dir, sizeof R->syn_dir)) return -1;
            if (!path_is_dir(
                    R->syn_dir)) { /* written aside and renamed: a kill leaves no half folder */
                char parent[4096], tmp[4200];
                snprintf(parent, sizeof parent, "%s", R->syn_dir);
                *strrchr(parent, '/') = 0;
                if (temp_dir_in(parent, "synthetic", tmp, sizeof tmp)) return -1;
                if (synthetic_write(tmp, &R->syn) < 0) {
                    remove_tree(tmp);
                    return error_wrap("synthetic data: ");
                }
                if (rename(tmp, R->syn_dir) != 0) {
                    remove_tree(tmp);
                    if (errno != EEXIST && errno != ENOTEMPTY)
                        return error_set("cannot rename %s to %s: %s", tmp, R->syn_dir,
                                         strerror(errno));
                }
                dir_sync(parent);
            }
            if (synthetic_ensure(R->syn_dir, &R->syn) < 0) return error_wrap("synthetic data: ");
            R->syn_ready = 1;
        }
        snprintf(dir, cap, "%s", R->syn_dir);
        return 0;
    }
    char name[128], folder[4096];
    snprintf(name, sizeof name, "%s/%s", t->source == TASK_GLUE_TSV ? "glue" : "superglue", t->dir);
    if (ensure_task_data(name, folder, sizeof folder)) return -1;
    char *slash = strrchr(folder, '/'); /* the loader looks in <root>/<Task>/ */
    if (slash) *slash = 0;
    snprintf(dir, cap, "%s", folder);
    return 0;
}

/* Remove files of the run dir other than the lock, progress.json and the two named. */
static void clean_run_dir(const char *dir, const char *keep1, const char *keep2) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, "lock") ||
            !strcmp(n, "progress.json"))
            continue;
        if ((keep1 && !strcmp(n, keep1)) || (keep2 && !strcmp(n, keep2))) continue;
        if (strncmp(n, "ckpt-", 5) && strncmp(n, "best-", 5) && !strstr(n, ".tmp")) continue;
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dir, n);
        unlink(p);
    }
    closedir(d);
}

struct step_ctx {
    struct progress *p;
    double loss_sum;
    int n;
    char warning[512]; /* the trainer's (a trained tensor without gradient), for the results line */
};

static void on_step(void *ctx, const struct step_info *s) {
    struct step_ctx *c = ctx;
    c->loss_sum += s->loss;
    c->n++;
    progress_step(c->p, s->step, s->loss);
    if (s->warning) {
        fprintf(stderr, "\nwarning: %s\n", s->warning);
        snprintf(c->warning, sizeof c->warning, "%s", s->warning);
    }
}

static json_t *metrics_json(int n, const char names[][32], const double *values, double score) {
    json_t *m = json_object();
    for (int k = 0; k < n; k++)
        json_object_set_new(m, names[k], json_real(values[k]));
    return json_pack("{s:f, s:o}", "score", score, "metrics", m);
}

static void eval_from_result(struct run_eval *e, const struct task_result *t) {
    e->n_metrics = t->n_metrics;
    for (int k = 0; k < t->n_metrics; k++) {
        snprintf(e->names[k], sizeof e->names[k], "%s", t->names[k]);
        e->values[k] = t->values[k];
    }
    e->score = t->score;
}

static json_t *options_json(const struct run_spec *r) {
    json_t *o = json_object();
    for (int i = 0; i < r->n_options; i++)
        json_object_set_new(o, r->options[i].key, json_string(r->options[i].value));
    return o;
}

/* The --set overrides of a run as an object ({"epochs": 2, "precision": "bf16", ...}):
 * integer values as integers, words (precision) as strings. */
static json_t *overrides_json(const struct run_spec *r) {
    json_t *o = json_object();
    char buf[sizeof r->overrides];
    snprintf(buf, sizeof buf, "%s", r->overrides);
    for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) continue;
        *eq = 0;
        char *end;
        long long v = strtoll(eq + 1, &end, 10);
        json_object_set_new(o, kv, end != eq + 1 && !*end ? json_integer((json_int_t)v) : json_string(eq + 1));
    }
    return o;
}

/* Everything that determines the run's numbers (and what the line reports as config). */
static json_t *effective_config(const struct runner *R, const struct run_spec *r,
                                const struct method_instance *mi, const char *model_name,
                                const char *model_path, const char *backend,
                                const struct train_config *c, int64_t total, int chunk, int n_train,
                                int n_val, int n_test) {
    json_t *mo = json_object();
    for (int i = 0; i < mi->n_options; i++)
        json_object_set_new(mo, mi->opt_name[i], json_string(mi->opt_value[i]));
    json_t *cfg = json_pack(
        "{s:s, s:s, s:s, s:s, s:o, s:b, s:s, s:I, s:f, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:I, "
        "s:i, s:i, s:i, s:i, "
        "s:{s:s, s:f, s:f, s:f, s:f, s:f, s:s}, s:f, s:s, s:s, s:s, s:i, s:i, s:i}",
        "model", model_name, "model_dir", model_path, "tokenizer", "model_dir/tokenizer.json",
        "method", r->method, "method_options", mo, "task_prefix", mi->method->task_prefix, "task",
        r->task, "train_size", (json_int_t)r->train_size, "lr", r->lr, "reduction_factor",
        r->reduction_factor, "seed", r->seed, "epochs", r->epochs, "batch", c->batch, "grad_accum",
        c->grad_accum, "warmup", c->optim.warmup_steps, "max_source_length", c->max_source_len,
        "total_steps", (json_int_t)total, "eval_every_steps", chunk, "eval_every", r->eval_every,
        "max_target_length", c->max_target_len, "eval_max_length", EVAL_MAX_LENGTH, "optimizer",
        "name", "adamw-hf4.6", "beta1", c->optim.beta1, "beta2", c->optim.beta2, "eps",
        c->optim.eps, "weight_decay", c->optim.weight_decay, "max_grad_norm",
        c->optim.max_grad_norm, "schedule", "linear warmup, linear decay to 0", "dropout", 0.1,
        "decoding", "greedy, skip special tokens, clean-up", "device", backend, "precision",
        r->precision, "n_train", n_train, "n_validation", n_val, "n_test", n_test);
    if (!cfg) return NULL;
    if (r->stsb_step > 0) /* STS-B's runs only: the others' configuration does not change with it */
        json_object_set_new(cfg, "stsb_step", json_real(r->stsb_step));
    json_object_set_new(cfg, "grad_accum_tail",
                        json_string("floor(micro-batches / grad_accum) steps an epoch; the rest carried into the "
                                    "next epoch's first step (transformers 4.6 Trainer)"));
    if (!strcmp(r->model, "tiny")) {
        char spec[1024];
        tiny_model_spec_text(&R->tiny, spec, sizeof spec);
        json_object_set_new(cfg, "tiny_model", json_string(spec));
    }
    if (R->syn_ready && strncmp(r->task, "syn-", 4) == 0)
        json_object_set_new(cfg, "synthetic",
                            json_pack("{s:I, s:I, s:I, s:f}", "train", (json_int_t)R->syn.n_train,
                                      "dev", (json_int_t)R->syn.n_dev, "seed",
                                      (json_int_t)R->syn.seed, "label_noise", R->syn.label_noise));
    /* --set overrides (their effective values are in the fields above); absent without them,
     * so the configuration text of runs without overrides is what it always was */
    if (r->overrides[0]) json_object_set_new(cfg, "overrides", overrides_json(r));
    if (r->max_steps > 0) json_object_set_new(cfg, "max_steps", json_integer((json_int_t)r->max_steps));
    if (r->max_train_samples > 0)
        json_object_set_new(cfg, "max_train_samples", json_integer((json_int_t)r->max_train_samples));
    json_object_set_new(
        cfg, "peak_memory_counts",
        json_string("activation bytes live high-water (training and evaluation) + model and method "
                    "parameters + gradients + AdamW moments"));
    return cfg;
}

struct run_resources {
    struct t5_model m;
    int have_model;
    struct tokenizer *tok;
    struct method_instance mi;
    struct task_split train, val, test;
    struct trainable tr;
    struct exec x;
    int have_exec;
    struct run_state st;
    json_t *cfg;
    char *cfg_text;
    int lock_fd;
};

static void release(struct run_resources *q) {
    if (q->have_exec) exec_free(&q->x);
    trainable_free(&q->tr);
    if (q->mi.method) method_detach(&q->mi);
    task_split_free(&q->train);
    task_split_free(&q->val);
    task_split_free(&q->test);
    tokenizer_free(q->tok);
    if (q->have_model) t5_model_free(&q->m);
    run_state_free(&q->st);
    json_decref(q->cfg);
    free(q->cfg_text);
    if (q->lock_fd >= 0) close(q->lock_fd);
}

/* Everything a run needs before training: backend (and its precision), model, tokenizer,
 * method with its options and reduction factor, and the task's splits (validation and
 * test only when eval_splits). */
static int run_setup(struct runner *R, const struct run_spec *r, struct run_resources *q, int eval_splits,
                     const struct backend **be_out, char *model_path, char *model_name) {
    int rc = 0;
    char path[4400], data[4096];
    const char *device = R->o->device ? R->o->device : r->device;
    const struct backend *be = backend_by_name(device);
    if (!be) return -1;
    rc = model_dir(R, r, be->name, model_path, 4096, model_name, 128);
    if (!rc && !(rc = t5_model_load(&q->m, model_path, be))) q->have_model = 1;
    if (!rc && !(rc = path_fmt(path, sizeof path, "%s/tokenizer.json", model_path)) &&
        !(q->tok = tokenizer_load(path)))
        rc = -1;
    /* the embedding cut to the tokenizer's pieces (t5-base: 32,128 rows -> 32,100), as the
     * reference's resize_token_embeddings(len(tokenizer)) */
    if (!rc) rc = t5_model_cut_vocab(&q->m, tokenizer_vocab_size(q->tok));
    /* the method: its options, then reduction_factor from the grid */
    const char *kv[RUN_MAX_OPTIONS + 1];
    char kvbuf[RUN_MAX_OPTIONS + 1][200];
    int n_kv = 0;
    for (int i = 0; i < r->n_options; i++) {
        snprintf(kvbuf[n_kv], sizeof kvbuf[n_kv], "%s=%s", r->options[i].key, r->options[i].value);
        kv[n_kv] = kvbuf[n_kv];
        n_kv++;
    }
    if (r->reduction_factor > 0) {
        snprintf(kvbuf[n_kv], sizeof kvbuf[n_kv], "reduction_factor=%d", r->reduction_factor);
        kv[n_kv] = kvbuf[n_kv];
        n_kv++;
    }
    if (!rc) rc = method_attach(&q->mi, r->method, &q->m, kv, n_kv, (uint64_t)r->seed);
    const struct task *t = rc ? NULL : task_find(r->task);
    if (!rc && !t) rc = -1;
    if (!rc) rc = data_root(R, t, data, sizeof data);
    struct task_options to = task_options_default();
    if (!rc) to.add_prefix = q->mi.method->task_prefix;
    if (r->stsb_step > 0) to.stsb_step = r->stsb_step;
    if (!rc) {
        struct task_options tt = to;
        tt.n_obs = r->train_size; /* the low-resource size, capped by --set max_train_samples */
        if (r->max_train_samples > 0 && (tt.n_obs < 0 || r->max_train_samples < tt.n_obs))
            tt.n_obs = r->max_train_samples;
        rc = task_split_load(&q->train, t, data, "train", &tt, q->tok);
        /* as the reference's n_obs: a size above the split takes all of it, with a warning */
        if (!rc && tt.n_obs > q->train.ids.n)
            fprintf(stderr,
                    "warning: run %s: %ld training examples asked for, %s has %d: all %d are used "
                    "(config.n_train in the results line)\n",
                    r->run_id, tt.n_obs, r->task, q->train.ids.n, q->train.ids.n);
    }
    if (!rc && eval_splits) rc = task_split_load(&q->val, t, data, "validation", &to, q->tok);
    if (!rc && eval_splits) rc = task_split_load(&q->test, t, data, "test", &to, q->tok);
    if (!rc && backend_set_precision(be, r->precision[0] ? r->precision : "fp32")) rc = -1;
    *be_out = be;
    return rc;
}

/* The runner's state at an evaluation point (trainer period callback). */
struct eval_point_ctx {
    struct run_resources *q;
    const char *run_dir, *state_path, *model_name;
    int64_t static_bytes;
    int spe;            /* optimizer steps per epoch */
    struct step_ctx sc; /* the period's step losses and the progress display */
    double t0;          /* when the period's training began */
};

/* Checkpoint, evaluate on validation, keep the best method-only weights, then commit
 * progress.json (naming the checkpoint and the best weights, both already on disk) and
 * remove what it no longer names. A kill anywhere before the commit resumes from the
 * previous evaluation point. */
static int on_eval_point(void *ctx, const struct trainer_point *tp) {
    struct eval_point_ctx *ec = ctx;
    struct run_resources *q = ec->q;
    int64_t next = tp->step;
    char ck[128], save[4400];
    snprintf(ck, sizeof ck, "ckpt-%lld.safetensors", (long long)next);
    if (path_fmt(save, sizeof save, "%s/%s", ec->run_dir, ck) || trainer_checkpoint(tp, save)) return -1;
    double t1 = now();
    struct task_result vr;
    const struct train_config *c = tp->c;
    if (evaluate_split(&q->x, &q->m, q->tok, &q->val, c->batch, c->max_source_len, &vr)) return -1;
    q->st.train_time_s += t1 - ec->t0;
    q->st.eval_time_s += now() - t1;
    struct run_eval e = {.epoch = (int)((next + ec->spe - 1) / ec->spe),
                         .step = next,
                         .train_loss = ec->sc.n ? ec->sc.loss_sum / ec->sc.n : 0};
    eval_from_result(&e, &vr);
    if (run_state_push(&q->st, &e)) return -1;
    /* strictly greater, as transformers' load_best_model_at_end: the first of equal scores
     * stays */
    if (q->st.best < 0 || e.score > q->st.evals[q->st.best].score) {
        char bf[128], bp[4400];
        snprintf(bf, sizeof bf, "best-%lld.safetensors", (long long)next);
        if (path_fmt(bp, sizeof bp, "%s/%s", ec->run_dir, bf) ||
            method_weights_save(&q->mi, bp, ec->model_name))
            return -1;
        q->st.best = q->st.n - 1;
        snprintf(q->st.best_file, sizeof q->st.best_file, "%s", bf);
    }
    snprintf(q->st.ckpt, sizeof q->st.ckpt, "%s", ck);
    int64_t peak = (int64_t)exec_peak_bytes(&q->x) + ec->static_bytes;
    if (peak > q->st.peak_bytes) q->st.peak_bytes = peak;
    if (run_state_save(&q->st, ec->state_path)) return -1;
    clean_run_dir(ec->run_dir, q->st.ckpt, q->st.best_file);
    const struct run_eval *b = &q->st.evals[q->st.best];
    progress_log(ec->sc.p, "epoch %d step %lld/%lld train loss %.4f validation %.2f (best %.2f, epoch %d)",
                 e.epoch, (long long)next, (long long)tp->total_steps, e.train_loss, e.score, b->score,
                 b->epoch);
    ec->sc.loss_sum = 0;
    ec->sc.n = 0;
    ec->t0 = now();
    return 0;
}

static int run_one(struct runner *R, const struct run_spec *r, int index, int n_runs,
                   struct runner_summary *sum) {
    struct run_resources q;
    memset(&q, 0, sizeof q);
    q.lock_fd = -1;
    q.st.best = -1;
    char run_dir[4096], path[4400], model_path[4096], model_name[128];
    int rc = path_fmt(run_dir, sizeof run_dir, "%s/runs/%s", R->o->results_dir, r->run_id);
    if (!rc) rc = mkdir_p(run_dir);
    if (!rc && !(rc = path_fmt(path, sizeof path, "%s/lock", run_dir))) {
        q.lock_fd = open(path, O_CREAT | O_RDWR, 0644);
        if (q.lock_fd < 0)
            rc = error_set("%s: %s", path, strerror(errno));
        else if (flock(q.lock_fd, LOCK_EX | LOCK_NB)) {
            fprintf(stderr, "[%d/%d] %s: another process is running it; skipped\n", index, n_runs,
                    r->run_id);
            sum->n_busy++;
            release(&q);
            return 0;
        }
    }
    /* processes sharing a grid (make's JOBS) take free runs in turn: one that another
     * process finished since this one read the results file is not run again (its line is
     * durable before its lock is released) */
    struct results_index ix = {0};
    if (!rc) rc = results_index_load(&ix, R->results_path);
    int done = !rc && results_index_has(&ix, r->run_id);
    results_index_free(&ix);
    if (done) {
        fprintf(stderr, "[%d/%d] %s: finished by another process; skipped\n", index, n_runs, r->run_id);
        sum->n_busy++;
        release(&q);
        return 0;
    }
    const struct backend *be = NULL;
    if (!rc) rc = run_setup(R, r, &q, 1, &be, model_path, model_name);
    if (rc) {
        error_wrap("run %s: ", r->run_id);
        release(&q);
        return -1;
    }

    struct train_config c = {
        .epochs = r->epochs,
        .batch = r->batch,
        .grad_accum = r->grad_accum,
        .max_source_len = r->max_source_length,
        .max_target_len = MAX_TARGET_LENGTH,
        .seed = (uint64_t)r->seed,
        .dropout = 1,
        .max_steps = r->max_steps,
    };
    c.optim = optim_defaults(r->lr, r->warmup, 0);
    c.optim.variant = ADAMW_HF46;
    int n_train = q.train.ids.n;
    int64_t total = trainer_total_steps(&c, n_train);
    int spe = trainer_steps_per_epoch(&c, n_train);
    int chunk = r->eval_every > 0 ? r->eval_every : spe;
    q.cfg = effective_config(R, r, &q.mi, model_name, model_path, be->name, &c, total, chunk,
                             n_train, q.val.ids.n, q.test.ids.n);
    q.cfg_text = q.cfg ? json_dumps(q.cfg, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (!q.cfg_text) rc = error_set("out of memory");
    c.config_json = q.cfg_text;

    /* resume from progress.json when it was made for this configuration */
    char state_path[4400];
    if (!rc) rc = path_fmt(state_path, sizeof state_path, "%s/progress.json", run_dir);
    if (!rc) rc = run_state_load(&q.st, state_path);
    if (!rc && q.st.config && strcmp(q.st.config, q.cfg_text)) {
        fprintf(
            stderr,
            "[%d/%d] %s: the configuration changed since the last attempt; starting the run over\n",
            index, n_runs, r->run_id);
        run_state_free(&q.st);
        unlink(state_path);
    }
    if (!rc && !q.st.config && !(q.st.config = strdup(q.cfg_text))) rc = error_set("out of memory");
    if (!rc) clean_run_dir(run_dir, q.st.ckpt, q.st.best_file);
    q.st.attempts++;
    if (!rc) rc = trainable_init(&q.tr, be, q.mi.train, q.mi.n_train, no_decay_bias);
    if (!rc && !(rc = exec_init(&q.x, be))) q.have_exec = 1;
    int64_t static_bytes =
        (int64_t)t5_model_param_bytes(&q.m) + (q.mi.n_elements + 3 * q.tr.numel) * (int64_t)sizeof(float);

    struct progress p;
    int64_t step = q.st.n ? q.st.evals[q.st.n - 1].step : 0;
    progress_begin(&p, R->o->tty, index, n_runs, r->run_id, step, total);
    if (!rc)
        progress_log(&p,
                     "%s on %s (%d train, %d validation, %d test examples), %lld trainable "
                     "parameters, %lld steps",
                     r->method, r->task, n_train, q.val.ids.n, q.test.ids.n, (long long)q.tr.numel,
                     (long long)total);
    if (!rc && step)
        progress_log(&p, "resumed at step %lld/%lld", (long long)step, (long long)total);
    /* one trainer_run for the whole run; at every evaluation point (epoch or eval_every
     * steps) on_eval_point checkpoints, evaluates, keeps the best weights and commits
     * progress.json */
    char resume[4400];
    if (!rc && q.st.ckpt[0]) rc = path_fmt(resume, sizeof resume, "%s/%s", run_dir, q.st.ckpt);
    struct eval_point_ctx ec = {.q = &q, .run_dir = run_dir, .state_path = state_path,
                                .model_name = model_name, .static_bytes = static_bytes,
                                .spe = spe, .sc = {&p, 0, 0, ""}};
    c.on_period = on_eval_point;
    c.period_ctx = &ec;
    c.period = chunk;
    /* as the reference's Trainer: with eval_every, evaluations fall at its multiples only (a
     * low-resource size of 2,600 steps evaluated every 250 has no step-2,600 candidate); every
     * epoch, also at an epoch cut short by max_steps (the Trainer's epoch strategy) */
    c.period_multiples_only = r->eval_every > 0;
    if (!rc && step < total) {
        ec.t0 = now();
        rc = trainer_run(&q.x, &q.m, &q.tr, &q.train.ids, &c, q.st.ckpt[0] ? resume : NULL, on_step,
                         &ec.sc);
        if (!rc) q.st.train_time_s += now() - ec.t0; /* steps after the last evaluation */
    }
    /* the best validation state on test */
    struct task_result tr_test;
    if (!rc && q.st.best < 0) rc = error_set("no evaluation was made");
    if (!rc && !(rc = path_fmt(path, sizeof path, "%s/%s", run_dir, q.st.best_file)))
        rc = method_weights_load(&q.mi, path);
    double t2 = now();
    if (!rc) rc = evaluate_split(&q.x, &q.m, q.tok, &q.test, c.batch, c.max_source_len, &tr_test);
    if (!rc) {
        q.st.eval_time_s += now() - t2;
        int64_t peak = (int64_t)exec_peak_bytes(&q.x) + static_bytes;
        if (peak > q.st.peak_bytes) q.st.peak_bytes = peak;
    }
    progress_end(&p);
    if (rc) {
        error_wrap("run %s: ", r->run_id);
        release(&q);
        return -1;
    }

    /* the results line */
    struct t5_config bc =
        q.m.cfg; /* base parameters with the vocabulary cut to the tokenizer's, as the reference */
    int tv = tokenizer_vocab_size(q.tok);
    if (tv > 0 && tv < bc.vocab_size) bc.vocab_size = tv;
    json_t *epochs = json_array();
    for (int i = 0; i < q.st.n; i++) {
        const struct run_eval *e = &q.st.evals[i];
        json_array_append_new(
            epochs, json_pack("{s:i, s:I, s:f, s:o}", "epoch", e->epoch, "step",
                              (json_int_t)e->step, "train_loss", e->train_loss, "validation",
                              metrics_json(e->n_metrics, e->names, e->values, e->score)));
    }
    const struct run_eval *b = &q.st.evals[q.st.best];
    struct run_eval te = {0};
    eval_from_result(&te, &tr_test);
    char date[64], device_label[128] = "cpu";
    utc_now(date, sizeof date);
    if (strcmp(be->name, "cpu") && prof_device_name(device_label, sizeof device_label)) {
        snprintf(device_label, sizeof device_label, "%s", be->name);
        error_clear();
    }
    json_t *line = json_pack(
        "{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:i, s:f, s:i, s:o, s:O, s:I, s:I, s:o, s:i, s:I, "
        "s:o, s:o, s:f, s:f, s:I, s:s, s:s, s:s, s:s, s:s}",
        "experiment", r->experiment, "preset", r->preset, "model", model_name, "base_params",
        (json_int_t)t5_config_param_count(&bc), "method", r->method, "label", r->label, "task",
        r->task, "seed", r->seed, "lr", r->lr, "reduction_factor", r->reduction_factor, "options",
        options_json(r), "config", q.cfg, "trainable_params",
        (json_int_t)method_trainable_count(&q.mi), "total_params",
        (json_int_t)method_total_count(&q.mi), "epochs", epochs, "best_epoch", b->epoch,
        "best_step", (json_int_t)b->step, "validation",
        metrics_json(b->n_metrics, b->names, b->values, b->score), "test",
        metrics_json(te.n_metrics, te.names, te.values, te.score), "train_time_s",
        q.st.train_time_s, "eval_time_s", q.st.eval_time_s, "peak_memory_bytes",
        (json_int_t)q.st.peak_bytes, "device", device_label, "precision", r->precision[0] ? r->precision : "fp32", "git_rev", R->git_rev,
        "date", date, "run_id", r->run_id);
    if (line && r->train_size >= 0)
        json_object_set_new(line, "train_size", json_integer(r->train_size));
    if (line && r->overrides[0]) json_object_set_new(line, "overrides", overrides_json(r));
    if (line && ec.sc.warning[0]) json_object_set_new(line, "warnings", json_pack("[s]", ec.sc.warning));
    char *text = line ? json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(line);
    long cut = 0;
    rc = text ? results_append(R->results_path, text, &cut)
              : error_set("out of memory building the results line");
    free(text);
    if (!rc && cut)
        fprintf(stderr,
                "warning: %s ended with a truncated line (%ld bytes, a run killed while writing); "
                "cut it\n",
                R->results_path, cut);
    if (!rc) {
        fprintf(
            stderr,
            "[%d/%d] %s: done: validation %.2f (epoch %d), test %.2f; train %.1fs, eval %.1fs\n",
            index, n_runs, r->run_id, b->score, b->epoch, te.score, q.st.train_time_s,
            q.st.eval_time_s);
        clean_run_dir(run_dir, NULL,
                      q.st.best_file); /* keep the best method-only weights and progress.json */
        sum->n_done_now++;
    }
    release(&q);
    return rc;
}


/* ---- Table 3: memory and time of one epoch at the largest batch that fits ---- */

static int by_length_desc(const void *a, const void *b) {
    const struct seq2seq_example *x = a, *y = b;
    return (y->src_len + y->tgt_len) - (x->src_len + x->tgt_len);
}

/* One training step at `batch` on the longest examples (the worst case of the epoch), with
 * lr 0 so the weights do not move. *peak: the activations' live-bytes high water + parameters, method
 * parameters, gradients and the AdamW moments (+ the CUDA backend's workspace and scratch).
 * A failed allocation is "does not fit", not a crash. */
static int probe_batch(struct run_resources *q, const struct backend *be, struct train_config c, int batch,
                       const struct seq2seq_data *longest, int64_t *peak) {
    struct exec x;
    if (exec_init(&x, be)) return -1;
    struct seq2seq_data d = *longest;
    d.n = batch;
    c.batch = batch;
    c.grad_accum = 1;
    c.epochs = 1;
    c.max_steps = 0;
    c.stop_after = 1;
    c.save_path = NULL;
    c.optim.lr = 0.0;
    int rc = prof_memory_fresh(be);
    if (!rc) rc = trainer_run(&x, &q->m, &q->tr, &d, &c, NULL, NULL, NULL);
    struct prof_memory pm;
    if (!rc) rc = prof_memory_account(&pm, be, &q->m, &q->mi, &q->tr, NULL, &x);
    *peak = rc ? -1 : (int64_t)(pm.accounted + 2 * (size_t)q->tr.numel * sizeof(float));
    exec_free(&x);
    return rc;
}

/* The largest batch whose measured step peak fits budget (*best), with that peak. -1 +
 * error when none does; *too_big (may be NULL) is then 1 if batch 1 ran but needs more than
 * the budget (*best_peak: what it needs), 0 if its step failed. */
static int search_batch(struct run_resources *q, const struct backend *be, const struct train_config *c,
                        int64_t budget, int *best, int64_t *best_peak, int *too_big) {
    if (too_big) *too_big = 0;
    int n = q->train.ids.n, lo = 0, hi = 0;
    struct seq2seq_data longest = q->train.ids;
    longest.ex = malloc(sizeof *longest.ex * (size_t)n);
    if (!longest.ex) return error_set("out of memory");
    memcpy(longest.ex, q->train.ids.ex, sizeof *longest.ex * (size_t)n);
    qsort(longest.ex, (size_t)n, sizeof *longest.ex, by_length_desc);
    int64_t peak = 0, peak1 = -1;
    char why1[512] = ""; /* why batch 1 failed, when its step did (not just its size) */
    *best_peak = 0;
    for (int b = 1; b <= n; b *= 2) { /* doubling, then bisection between the last fit and the first miss */
        int prc = probe_batch(q, be, *c, b, &longest, &peak);
        if (b == 1) {
            peak1 = prc ? -1 : peak;
            if (prc) snprintf(why1, sizeof why1, "%s", error_message());
        }
        if (prc == 0 && peak <= budget) {
            lo = b;
            *best_peak = peak;
        } else {
            hi = b;
            break;
        }
    }
    if (!hi) hi = n + 1;
    while (lo && hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        if (probe_batch(q, be, *c, mid, &longest, &peak) == 0 && peak <= budget) {
            lo = mid;
            *best_peak = peak;
        } else {
            hi = mid;
        }
    }
    free(longest.ex);
    error_clear();
    if (!lo && peak1 >= 0 && too_big) *too_big = 1, *best_peak = peak1; /* what batch 1 needs */
    if (!lo && peak1 >= 0)
        return error_set("not even a batch of 1 fits the memory budget of %lld bytes: batch 1 (the longest "
                         "example) needs %lld bytes (%.1f MB)",
                         (long long)budget, (long long)peak1, (double)peak1 / 1e6);
    if (!lo)
        return error_set("not even a batch of 1 fits the memory budget of %lld bytes: the training step at "
                         "batch 1 failed: %s",
                         (long long)budget, why1);
    *best = lo;
    return 0;
}

/* One timed epoch of an efficiency run (gradient accumulation 1, no evaluation). */
static struct train_config efficiency_config(const struct run_spec *r) {
    struct train_config c = {.epochs = 1, .batch = r->batch, .grad_accum = 1,
                             .max_source_len = r->max_source_length, .max_target_len = MAX_TARGET_LENGTH,
                             .seed = (uint64_t)r->seed, .dropout = 1, .max_steps = r->max_steps};
    c.optim = optim_defaults(r->lr, r->warmup, 0);
    return c;
}

/* An efficiency run's model, method, data and trainable set (release(q) in any case). */
static int efficiency_setup(struct runner *R, const struct run_spec *r, struct run_resources *q,
                            const struct backend **be, char *model_name) {
    memset(q, 0, sizeof *q);
    q->lock_fd = -1;
    char model_path[4096];
    int rc = run_setup(R, r, q, 0, be, model_path, model_name);
    if (!rc) rc = trainable_init(&q->tr, *be, q->mi.train, q->mi.n_train, no_decay_bias);
    return rc;
}

/* ---- Table 3's batch: each run's own largest batch, and the common one ---- */

struct batch_found {
    char run_id[320];
    int batch;
    long long peak;
};

struct batch_table {
    struct batch_found *v;
    size_t n, cap;
};

static int batch_table_add(struct batch_table *t, const char *run_id, int batch, long long peak) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 32;
        struct batch_found *p = realloc(t->v, cap * sizeof *p);
        if (!p) return error_set("out of memory");
        t->v = p;
        t->cap = cap;
    }
    struct batch_found *b = &t->v[t->n++];
    snprintf(b->run_id, sizeof b->run_id, "%s", run_id);
    b->batch = batch;
    b->peak = peak;
    return 0;
}

static const struct batch_found *batch_table_find(const struct batch_table *t, const char *run_id) {
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->v[i].run_id, run_id)) return &t->v[i];
    return NULL;
}

/* The searches recorded in path (one JSON line each: run_id, batch (0: not even batch 1
 * fits; peak_bytes is then what batch 1 needs), peak_bytes); a missing
 * file is an empty table, a cut last line (a killed writer) is ignored, anything else
 * malformed is an error naming the line. */
struct batch_load {
    struct batch_table *t;
    const char *path;
};

static int batch_line(json_t *o, int lineno, void *ctx) {
    struct batch_load *L = ctx;
    json_t *id = json_object_get(o, "run_id"), *b = json_object_get(o, "batch"), *pk = json_object_get(o, "peak_bytes");
    if (!json_is_string(id) || !json_is_integer(b) || json_integer_value(b) < 0 || !json_is_integer(pk))
        return error_set("%s:%d: expected {\"run_id\": string, \"batch\": integer >= 0, \"peak_bytes\": integer}; "
                         "fix or remove the line",
                         L->path, lineno);
    if (batch_table_find(L->t, json_string_value(id))) return 0; /* two processes searched it: the first counts */
    return batch_table_add(L->t, json_string_value(id), (int)json_integer_value(b), (long long)json_integer_value(pk));
}

static int batch_table_load(struct batch_table *t, const char *path) {
    memset(t, 0, sizeof *t);
    struct batch_load L = {t, path};
    int rc = jsonl_each(path, batch_line, &L, NULL);
    if (rc) free(t->v), memset(t, 0, sizeof *t);
    return rc;
}

/* Run f's own largest batch within its budget: recorded in t (from R->search_path), or
 * searched now and recorded there. */
static int own_max_batch(struct runner *R, struct batch_table *t, const struct run_spec *f, const char *why,
                         const struct batch_found **out) {
    if ((*out = batch_table_find(t, f->run_id))) return 0;
    struct run_resources q;
    char model_name[128];
    const struct backend *be = NULL;
    int rc = efficiency_setup(R, f, &q, &be, model_name);
    struct train_config c = efficiency_config(f);
    int batch = 0, too_big = 0;
    int64_t peak = 0;
    if (!rc) {
        fprintf(stderr, "%s: searching the largest batch within %.2f GB%s\n", f->run_id,
                (double)f->memory_budget_bytes / 1e9, why);
        rc = search_batch(&q, be, &c, f->memory_budget_bytes, &batch, &peak, &too_big);
    }
    release(&q);
    if (rc && !too_big) return error_wrap("run %s: ", f->run_id);
    if (rc) { /* recorded as batch 0: no batch fits (the message says what batch 1 needs) */
        fprintf(stderr, "%s: %s\n", f->run_id, error_message());
        error_clear();
        batch = 0;
    }
    json_t *line = json_pack("{s:s, s:i, s:I}", "run_id", f->run_id, "batch", batch, "peak_bytes", (json_int_t)peak);
    char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    json_decref(line);
    long cut = 0;
    rc = text ? results_append(R->search_path, text, &cut) : error_set("out of memory");
    free(text);
    if (!rc) rc = batch_table_add(t, f->run_id, batch, peak);
    if (!rc) *out = &t->v[t->n - 1];
    return rc;
}

/* The common batch of run r (batch 0, "common" policy): the least own largest batch over
 * the runs of the whole grid (--only and --shard do not narrow it, so every process and
 * every slice agrees) with r's task, seed and training size, leaving out runs that fit no
 * batch at all or fail to set up (with a warning); *n_over: how many runs that is. */
static int common_batch(struct runner *R, struct batch_table *t, const struct experiment_grid *full,
                        const struct run_spec *r, int *batch, int *n_over) {
    *batch = 0;
    *n_over = 0;
    for (size_t i = 0; i < full->n; i++) {
        const struct run_spec *f = &full->runs[i];
        if (f->batch > 0 || !f->batch_common || strcmp(f->task, r->task) || f->seed != r->seed ||
            f->train_size != r->train_size)
            continue;
        const struct batch_found *b;
        if (own_max_batch(R, t, f, " (for the common batch)", &b)) {
            if (!strcmp(f->run_id, r->run_id)) return -1;
            /* another run that cannot even be set up (a method option the model does not
             * allow, say) must not stop this one: it is left out, loudly, and fails itself */
            fprintf(stderr, "warning: %s is left out of the common batch: %s\n", f->run_id, error_message());
            error_clear();
            continue;
        }
        if (b->batch == 0) continue; /* it fits no batch: left out, and fails when it runs itself */
        if (!*batch || b->batch < *batch) *batch = b->batch;
        ++*n_over;
    }
    if (!*n_over)
        return error_set("run %s: no run of its task and seed fits even a batch of 1 within %lld bytes", r->run_id,
                         (long long)r->memory_budget_bytes);
    return 0;
}

/* common_batch_size > 0: run at that batch (r's own largest batch is own->batch);
 * otherwise r's batch, or its own search when that is 0 */
static int efficiency_one(struct runner *R, const struct run_spec *r, int index, int n_runs, int common_batch_size,
                          int n_over, const struct batch_found *own, struct runner_summary *sum) {
    struct run_resources q;
    char model_name[128];
    const struct backend *be = NULL;
    int rc = efficiency_setup(R, r, &q, &be, model_name);
    struct train_config c = efficiency_config(r);
    int64_t peak = own ? own->peak : 0;
    if (common_batch_size > 0) {
        c.batch = common_batch_size;
        fprintf(stderr, "[%d/%d] %s: the common batch %d (the least of %d runs' largest; its own: %d)\n", index,
                n_runs, r->run_id, c.batch, n_over, own ? own->batch : 0);
    } else if (!rc && c.batch < 1) {
        fprintf(stderr, "[%d/%d] %s: searching the largest batch within %.2f GB\n", index, n_runs, r->run_id,
                (double)r->memory_budget_bytes / 1e9);
        rc = search_batch(&q, be, &c, r->memory_budget_bytes, &c.batch, &peak, NULL);
    }
    /* one epoch at that batch, timed; the memory figure is that epoch's own */
    double t0 = now(), t1 = t0;
    if (!rc && !(rc = prof_memory_fresh(be)) && !(rc = exec_init(&q.x, be))) {
        q.have_exec = 1;
        rc = trainer_run(&q.x, &q.m, &q.tr, &q.train.ids, &c, NULL, NULL, NULL);
        if (!rc) rc = be->sync();
        t1 = now();
    }
    struct prof_memory pm;
    if (!rc) rc = prof_memory_account(&pm, be, &q.m, &q.mi, &q.tr, NULL, &q.x);
    char device[128] = "cpu";
    if (!rc && strcmp(be->name, "cpu")) prof_device_name(device, sizeof device);
    if (rc) {
        error_wrap("run %s: ", r->run_id);
        release(&q);
        return -1;
    }
    int64_t epoch_peak = (int64_t)(pm.accounted + 2 * (size_t)q.tr.numel * sizeof(float));
    struct t5_config bc = q.m.cfg;
    int tv = tokenizer_vocab_size(q.tok);
    if (tv > 0 && tv < bc.vocab_size) bc.vocab_size = tv;
    char date[64];
    utc_now(date, sizeof date);
    json_t *line = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:f, s:i, s:o, s:i, s:I, s:I, s:I, s:I, s:I, s:f, s:i, s:s, s:s, "
        "s:s, s:s, s:s}",
        "experiment", r->experiment, "preset", r->preset, "model", model_name, "method", r->method, "label",
        r->label, "task", r->task, "seed", r->seed, "lr", r->lr, "reduction_factor", r->reduction_factor,
        "options", options_json(r), "batch_size", c.batch, "memory_budget_bytes",
        (json_int_t)r->memory_budget_bytes, "trainable_params", (json_int_t)method_trainable_count(&q.mi),
        "base_params", (json_int_t)t5_config_param_count(&bc), "peak_memory_bytes", (json_int_t)epoch_peak,
        "search_peak_bytes", (json_int_t)peak, "epoch_time_s", t1 - t0, "train_examples", q.train.ids.n,
        "device", device, "precision", r->precision[0] ? r->precision : "fp32", "git_rev", R->git_rev,
        "date", date, "run_id", r->run_id);
    if (line && pm.device_used) json_object_set_new(line, "device_used_bytes", json_integer((json_int_t)pm.device_used));
    if (line && r->batch < 1) {
        json_object_set_new(line, "batch_policy", json_string(common_batch_size > 0 ? "common" : "per_method"));
        json_object_set_new(line, "own_max_batch", json_integer(common_batch_size > 0 && own ? own->batch : c.batch));
        if (common_batch_size > 0) json_object_set_new(line, "common_batch_runs", json_integer(n_over));
    }
    if (line && r->overrides[0]) json_object_set_new(line, "overrides", overrides_json(r));
    /* the epoch's activation memory alone: the most bytes live at once (in peak_memory_bytes)
     * and the pool's extent (the difference is the allocator's fragmentation) */
    if (line)
        json_object_set_new(line, "activation_bytes", json_integer((json_int_t)pm.activations));
    if (line)
        json_object_set_new(line, "activation_extent_bytes", json_integer((json_int_t)pm.activations_extent));
    char *text = line ? json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(line);
    long cut = 0;
    rc = text ? results_append(R->results_path, text, &cut) : error_set("out of memory building the results line");
    free(text);
    if (!rc) {
        fprintf(stderr, "[%d/%d] %s: batch %d, peak %.1f MB, epoch %.1fs\n", index, n_runs, r->run_id, c.batch,
                (double)epoch_peak / (1 << 20), t1 - t0);
        sum->n_done_now++;
    }
    release(&q);
    return rc;
}

int runner_run(const struct runner_options *o, struct runner_summary *s) {
    memset(s, 0, sizeof *s);
    struct runner R;
    memset(&R, 0, sizeof R);
    R.o = o;
    struct experiment_grid g;
    if (experiment_expand_set(o->experiment_path, o->preset, o->sets, o->only, o->shard, &g))
        return -1;
    int rc = validate_grid(o->experiment_path, &g);
    if (!rc) rc = load_extensions(&R, o->experiment_path, o->preset);
    if (!rc)
        rc = path_fmt(R.results_path, sizeof R.results_path, "%s/%s.jsonl", o->results_dir,
                      g.experiment);
    if (!rc && o->data_dir) task_data_set_user_dir(o->data_dir);
    if (!rc && o->tty) { /* a first run fetches the model and the data: show the transfers */
        struct download_opts d = *download_defaults();
        d.progress = download_progress_bar;
        download_set_defaults(&d);
    }
    int threads = o->threads > 0 ? o->threads : R.threads;
    if (!rc && threads > 0) omp_set_num_threads(threads);
    struct results_index ix = {0};
    if (!rc) rc = results_index_load(&ix, R.results_path);
    if (!rc) {
        snprintf(s->results_path, sizeof s->results_path, "%s", R.results_path);
        git_revision(R.git_rev, sizeof R.git_rev);
        s->n_runs = (int)g.n;
        for (size_t i = 0; i < g.n; i++)
            s->n_done_before += results_index_has(&ix, g.runs[i].run_id);
        fprintf(stderr, "%s, preset %s: %zu runs, %d already in %s%s\n", g.experiment, g.preset,
                g.n, s->n_done_before, R.results_path,
                ix.truncated_tail ? " (its truncated last line will be redone)" : "");
    }
    /* Table 3's common batch needs every run of the grid, --only and --shard aside */
    struct experiment_grid full = {0};
    struct batch_table found = {0};
    int efficiency = !strcmp(g.experiment, "efficiency");
    if (!rc && efficiency) {
        rc = path_fmt(R.search_path, sizeof R.search_path, "%s/%s.batch_search.jsonl", o->results_dir, g.experiment);
        if (!rc) rc = batch_table_load(&found, R.search_path);
        if (!rc) rc = experiment_expand_set(o->experiment_path, o->preset, o->sets, NULL, NULL, &full);
    }
    for (size_t i = 0; !rc && i < g.n; i++) {
        const struct run_spec *r = &g.runs[i];
        if (results_index_has(&ix, r->run_id)) continue;
        if (o->dry_run) {
            printf("%s\n", r->run_id);
            continue;
        }
        if (!efficiency) {
            rc = run_one(&R, r, (int)i + 1, (int)g.n, s);
            continue;
        }
        int common = 0, n_over = 0;
        const struct batch_found *own = NULL;
        if (r->batch < 1 && r->batch_common) {
            rc = common_batch(&R, &found, &full, r, &common, &n_over) || own_max_batch(&R, &found, r, "", &own);
            if (!rc && own->batch == 0)
                rc = error_set("run %s: not even a batch of 1 fits the memory budget of %lld bytes: batch 1 (the "
                               "longest example) needs %lld bytes (%.1f MB)",
                               r->run_id, (long long)r->memory_budget_bytes, own->peak, (double)own->peak / 1e6);
        }
        if (!rc) rc = efficiency_one(&R, r, (int)i + 1, (int)g.n, common, n_over, own, s);
    }
    free(found.v);
    experiment_grid_free(&full);
    results_index_free(&ix);
    experiment_grid_free(&g);
    return rc;
}
