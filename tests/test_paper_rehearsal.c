/* test_paper_rehearsal.c: the `paper` preset's own code path end to end, offline, on the CPU,
 * in seconds: what `make table1|table2|efficiency|lowresource PRESET=paper` do on a GPU
 * machine with network, against a local mirror instead of the internet.
 *
 *   tests/paper_mirror.py   builds the mirror from the real T5 tokenizer and GLUE/SuperGLUE
 *                           dev sets in ../shared/data: the hub layout of t5-base (a small
 *                           model of t5-base's architecture and vocabulary, grown from the
 *                           fixture tests/fixtures/t5/v10; under the renamed id
 *                           google-t5/t5-base), RTE.zip, MNLI.zip, MRPC's raw files, CB.zip
 *                           and BoolQ.zip in the official layouts. REHEARSAL DATA: each
 *                           "train" split is a slice of the official dev set; MNLI.zip (whose
 *                           dev sets are not in the shared folder) holds CB's and RTE's pairs.
 *   tests/http_server.py    serves it (hub API, resolve + CDN redirects, renamed-repo 307s)
 *   build/compacter run experiments/table1.json --preset paper --device cpu
 *       --only method=full,method=compacter++,task=rte,task=mrpc,rf=0,rf=32
 *       --set epochs=2 --set max_train_samples=32
 *                           with COMPACTER_HF_ENDPOINT, COMPACTER_GLUE_URL, COMPACTER_MRPC_URL,
 *                           COMPACTER_SUPERGLUE_URL pointing at the mirror and
 *                           COMPACTER_DATASET_PINS naming the mirror's own pins for its seven
 *                           data files; run twice (the second finds every run done)
 *   build/compacter run experiments/table2.json ... --only method=compacter,task=cb,task=boolq
 *   build/compacter run experiments/efficiency.json ... --only method=full,method=compacter++,
 *       method=bitfit --set max_train_samples=32 --set memory_budget_bytes=90000000   (twice)
 *   build/compacter run experiments/lowresource.json ... --only method=full,method=compacter++,
 *       task=rte,train_size=100 --set epochs=1, then --only method=compacter++,task=rte,
 *       train_size=500 (more than the mirror's 100 RTE training rows)
 *   build/compacter report on the four results files
 *
 * Checks: every file was downloaded exactly once (then came from the cache) and nothing else
 * was requested; the runs finished with finite metrics; each results line carries the paper
 * preset's hyper-parameters as experiments/<experiment>.json give them (lr, reduction factor,
 * options; for the tables and the low-resource grid batch, grad_accum, warmup, eval_every,
 * max source length 128), apart from the overridden fields, which the line records
 * (overrides, config.overrides, the run id's /set- suffix); full fine-tuning trains exactly
 * the base parameters with the vocabulary cut to the tokenizer's 32,100 rows (the reference's
 * resize_token_embeddings), Compacter++ its hand count (3,184);
 * Table 3: the preset searches (batch 0) with the default "common" batch policy: each
 * line holds its own largest batch (1..32, its measured search step within the budget) and
 * the one batch all three ran at (the least over the preset's methods), whose epoch peak fits
 * the budget, a positive finite epoch time, the budget and sample cap of the overrides; the
 * budget binds full fine-tuning's own batch (< 32; its state alone is 4 x 4 bytes x base =
 * 76 MB of the 90), the PEFT methods' own batches are over twice it, and at the one batch
 * their peaks are below full fine-tuning's; the report's rows (trained %, MB, (x / full - 1) * 100 relative columns,
 * full's "-") and CSV batch sizes agree with the lines;
 * Figure 4: each line's train size is one of the preset's two smallest (in the line, config
 * and run id), n_train = min(size, 100 rows) with the runner's warning above it, the preset's
 * batch 40 / warmup 0 / eval_every 250, one evaluation at the hand-counted last step; the
 * report's table and .dat hold the lines' test scores (full has no point at 500) and, when
 * gnuplot is there, a PNG and an SVG (else the report's "gnuplot not found" warning);
 * the report titles name the overrides.
 *
 * Not covered (cannot be, offline on a CPU): t5-base's real weights and scale, a GPU (CUDA's
 * allocator and out-of-memory path in the batch search), the real hub and the official
 * archives' bytes (their pinned sha256 are replaced for the seven mirror files only), MNLI's
 * real text and size, training long enough for meaningful scores.
 *
 * SKIPs when ../shared/data (or $COMPACTER_SHARED_DATA) or python3 is absent.
 * COMPACTER_REHEARSAL_DEVICE=cuda runs the same on a GPU (tools/gpu/check.sh does, with
 * the efficiency budget raised by the CUDA backend's fixed 48 MiB of cuBLAS workspace and
 * scratch, which the memory figure counts);
 * COMPACTER_REHEARSAL_VERBOSE=1 prints every command and its output;
 * COMPACTER_REHEARSAL_KEEP=1 keeps the scratch folder (results, report, cache, mirror). */
#include <jansson.h>
#include <math.h>

#include "core/error.h"
#include "tests/check.h"
#include "tests/test_download_server.h"

#define SET_ARGS "--set epochs=2 --set max_train_samples=32"
/* efficiency: the first 32 MNLI rows, a 90 MB budget (on CUDA plus the backend's fixed
 * cuBLAS workspace and scratch, which the memory figure counts) */
#define EFF_TRAIN 32
#define EFF_BUDGET 90000000LL
#define CUDA_FIXED_BYTES (48LL << 20)

/* COMPACTER_REHEARSAL_DEVICE: cpu (default) or cuda (a GPU machine: tools/gpu/check.sh) */
static const char *device = "cpu";
static long long eff_budget = EFF_BUDGET;

/* a results line's device: "cpu", or a GPU's name on cuda */
static int device_ok(json_t *o) {
    const char *d = json_string_value(json_object_get(o, "device"));
    return d && (!strcmp(device, "cpu") ? !strcmp(d, "cpu") : *d && strcmp(d, "cpu") != 0);
}
/* the mirror's RTE train split: the first 100 rows of the dev set (tests/paper_mirror.py) */
#define MIRROR_RTE_TRAIN 100
#define SET_CANON "epochs=2,max_train_samples=32"

static int verbose = 0;
static char tmp[256];

/* Run cmd with its stdout and stderr into log; print both when verbose. Returns the status. */
static int run_logged(const char *cmd, const char *log) {
    char full[8192];
    snprintf(full, sizeof full, "%s >%s 2>&1", cmd, log);
    if (verbose) printf("$ %s\n", cmd);
    int rc = system(full);
    if (verbose || rc) {
        FILE *f = fopen(log, "r");
        char line[1024];
        while (f && fgets(line, sizeof line, f)) printf("    %s", line);
        if (f) fclose(f);
    }
    return rc;
}


static int finite_num(json_t *v) { return json_is_number(v) && isfinite(json_number_value(v)); }

/* The method entry `name` of experiments/<file>'s paper preset. */
static json_t *paper_method(json_t *preset, const char *name) {
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(preset, "methods"), i, m) {
        if (!strcmp(json_string_value(json_object_get(m, "name")), name)) return m;
    }
    return NULL;
}

static long long int_or(json_t *o, const char *k, long long def) {
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? json_integer_value(v) : def;
}

/* The base parameters of the mirror's model (tests/paper_mirror.py DIMS, v1.0, tied head)
 * with the vocabulary cut to the tokenizer's 32,100 rows. */
static long long mirror_base_params(void) {
    const long long V = 32100, d = 128, inner = 4 * 32, ff = 256, L = 2, buckets = 32, heads = 4;
    long long enc = 4 * d * inner + 2 * d * ff + 2 * d, dec = 8 * d * inner + 2 * d * ff + 3 * d;
    return V * d + L * enc + L * dec + 2 * buckets * heads + 2 * d;
}

/* Compacter++'s trainable parameters on the mirror model, by hand (the presets: rf 32,
 * phm_dim 4; the reference's defaults: factorized PHM of rank 1, one shared 4x4x4 rule, after
 * the FFN only, layer norms trained): bottleneck 128 / 32 = 4; per adapter, down 128 -> 4 is
 * 4 kernels of s (32x1) + t (1x1) = 132 plus bias 4, up 4 -> 128 is 4 x (1x1 + 1x32) = 132
 * plus bias 128, so 396; 4 blocks (2 encoder + 2 decoder) = 1,584; the shared rule 64; the
 * 12 layer norms (2 + 3 per encoder / decoder block, 2 final) x 128 = 1,536. */
static long long mirror_compacterpp_params(void) { return 4 * (132 + 4 + 132 + 128) + 64 + 12 * 128; }

/* The paper preset of experiments/<xp>.json; *root holds the file (json_decref it). */
static json_t *paper_preset(const char *xp, json_t **root) {
    char path[512];
    snprintf(path, sizeof path, "experiments/%s.json", xp);
    json_error_t je;
    *root = json_load_file(path, 0, &je);
    json_t *preset = json_object_get(json_object_get(*root, "presets"), "paper");
    CHECK(preset != NULL, "%s: no paper preset (%s)", path, je.text);
    return preset;
}

/* The JSON objects of a results file's lines, one per lines_next (NULL at the end; a line
 * that is not JSON fails a CHECK and is skipped; L.n counts the lines). */
struct lines {
    const char *path;
    char *text, *save;
    int n;
};

static void lines_open(struct lines *L, const char *path) {
    *L = (struct lines){path, file_text(path, NULL), NULL, 0};
    CHECK(L->text != NULL, "no results file %s", path);
}

static json_t *lines_next(struct lines *L) {
    for (char *l; L->text && (l = strtok_r(L->n ? NULL : L->text, "\n", &L->save));) {
        L->n++;
        json_error_t je;
        json_t *o = json_loads(l, 0, &je);
        CHECK(o != NULL, "%s:%d: not JSON (%s)", L->path, L->n, je.text);
        if (o) return o;
    }
    return NULL;
}

/* The line's lr, reduction factor and options are the method entry m's (its first lr / rf). */
static void check_method_fields(json_t *o, json_t *m, const char *run_id) {
    double lr = json_number_value(json_array_get(json_object_get(m, "lr"), 0));
    CHECK(json_number_value(json_object_get(o, "lr")) == lr, "%s: lr %g, the preset's %g", run_id,
          json_number_value(json_object_get(o, "lr")), lr);
    json_t *rfs = json_object_get(m, "reduction_factor");
    long long rf = int_or(o, "reduction_factor", -1);
    CHECK(rfs ? rf == json_integer_value(json_array_get(rfs, 0)) : rf == 0, "%s: reduction factor %lld", run_id, rf);
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(m, "options"), k, v) {
        char want[32];
        snprintf(want, sizeof want, "%lld", (long long)json_integer_value(v));
        const char *got = json_string_value(json_object_get(json_object_get(o, "options"), k));
        CHECK(got && !strcmp(got, want), "%s: option %s = %s, the preset's %s", run_id, k, got ? got : "-", want);
    }
}

/* The run id ends with "/set-" + canon, and the line records exactly the overrides `want`. */
static void check_overrides(json_t *o, const char *run_id, const char *canon, json_t *want) {
    char sfx[256];
    snprintf(sfx, sizeof sfx, "/set-%s", canon);
    CHECK(run_id && strlen(run_id) > strlen(sfx) && !strcmp(run_id + strlen(run_id) - strlen(sfx), sfx),
          "%s: run id ends with %s", run_id, sfx);
    CHECK(json_equal(json_object_get(o, "overrides"), want), "%s: overrides recorded in the line", run_id);
    json_decref(want);
}

static int is_one_of(const char *x, const char *const *set, int n) {
    for (int i = 0; x && i < n; i++)
        if (!strcmp(x, set[i])) return 1;
    return 0;
}

/* o's string field key is want (a missing or non-string field is not) */
static int str_is(json_t *o, const char *key, const char *want) {
    const char *v = json_string_value(json_object_get(o, key));
    return v && want && !strcmp(v, want);
}

/* what every paper-preset line of experiment xp holds: experiment, preset, model, device
 * (and the task, when given) */
static int paper_line(json_t *o, const char *xp, const char *task) {
    return str_is(o, "experiment", xp) && str_is(o, "preset", "paper") && str_is(o, "model", "t5-base") &&
           device_ok(o) && (!task || str_is(o, "task", task));
}

/* Check every line of a results file against the paper preset of experiment `xp`. */
static int check_results(const char *results, const char *xp, const char *const *tasks, int n_tasks,
                         const char *const *methods, int n_methods) {
    json_t *root, *preset = paper_preset(xp, &root);
    struct lines L;
    lines_open(&L, results);
    for (json_t *o; (o = lines_next(&L));) {
        const char *method = json_string_value(json_object_get(o, "method"));
        const char *task = json_string_value(json_object_get(o, "task"));
        const char *run_id = json_string_value(json_object_get(o, "run_id"));
        json_t *cfg = json_object_get(o, "config"), *m = paper_method(preset, method ? method : "");
        printf("  %s\n", run_id ? run_id : "(no run id)");
        CHECK(m != NULL, "%s: method %s is not in the paper preset", results, method);
        CHECK(is_one_of(task, tasks, n_tasks) && is_one_of(method, methods, n_methods), "%s: unexpected run %s",
              results, run_id);
        CHECK(paper_line(o, xp, NULL), "%s: experiment/preset/model/device", run_id);
        /* the preset's hyper-parameters, from the experiment file itself */
        check_method_fields(o, m, run_id);
        CHECK(json_number_value(json_object_get(cfg, "lr")) == json_number_value(json_object_get(o, "lr")),
              "%s: config.lr", run_id);
        long long rf = int_or(o, "reduction_factor", -1);
        CHECK(int_or(cfg, "reduction_factor", -1) == rf, "%s: config.reduction_factor", run_id);
        const char *k;
        json_t *v;
        long long batch = int_or(m, "batch", int_or(preset, "batch", -1));
        CHECK(int_or(cfg, "batch", -2) == batch, "%s: batch %lld, the preset's %lld", run_id, int_or(cfg, "batch", -2), batch);
        CHECK(int_or(cfg, "grad_accum", -2) == int_or(m, "grad_accum", int_or(preset, "grad_accum", 1)), "%s: grad_accum", run_id);
        CHECK(int_or(cfg, "warmup", -2) == int_or(m, "warmup", int_or(preset, "warmup", -1)) && int_or(cfg, "warmup", 0) == 500,
              "%s: warmup %lld", run_id, int_or(cfg, "warmup", -2));
        CHECK(int_or(cfg, "max_source_length", -2) == int_or(preset, "max_source_length", -1) &&
                  int_or(cfg, "max_source_length", 0) == 128,
              "%s: max_source_length %lld", run_id, int_or(cfg, "max_source_length", -2));
        CHECK(int_or(cfg, "eval_every", -2) == int_or(preset, "eval_every", 0), "%s: eval_every", run_id);
        CHECK(json_real_value(json_object_get(json_object_get(cfg, "optimizer"), "weight_decay")) == 0.0 &&
                  json_real_value(json_object_get(json_object_get(cfg, "optimizer"), "max_grad_norm")) == 1.0,
              "%s: optimizer", run_id);
        CHECK(!strcmp(json_string_value(json_object_get(cfg, "precision")), "fp32"), "%s: precision", run_id);
        /* the overridden fields: the override's value, recorded as such */
        size_t ti;
        json_t *t;
        long long task_epochs = -1;
        json_array_foreach(json_object_get(preset, "tasks"), ti, t) {
            if (task && !strcmp(json_string_value(json_object_get(t, "name")), task)) task_epochs = int_or(t, "epochs", -1);
        }
        CHECK(task_epochs > 2 && int_or(cfg, "epochs", -1) == 2, "%s: epochs %lld (the preset's %lld, --set 2)", run_id,
              int_or(cfg, "epochs", -1), task_epochs);
        CHECK(int_or(cfg, "max_train_samples", -1) == 32 && int_or(cfg, "n_train", -1) <= 32 && int_or(cfg, "n_train", 0) >= 30,
              "%s: max_train_samples %lld, n_train %lld", run_id, int_or(cfg, "max_train_samples", -1), int_or(cfg, "n_train", -1));
        json_t *want_ov = json_pack("{s:i, s:i}", "epochs", 2, "max_train_samples", 32);
        CHECK(json_equal(json_object_get(o, "overrides"), want_ov) && json_equal(json_object_get(cfg, "overrides"), want_ov),
              "%s: overrides recorded in the line and its config", run_id);
        json_decref(want_ov);
        CHECK(run_id && strlen(run_id) > strlen("/set-" SET_CANON) &&
                  !strcmp(run_id + strlen(run_id) - strlen("/set-" SET_CANON), "/set-" SET_CANON),
              "%s: run id ends with /set-" SET_CANON, run_id);
        /* finished, with finite metrics */
        json_t *epochs = json_object_get(o, "epochs");
        CHECK(json_array_size(epochs) == 2, "%s: %zu evaluations (want 2)", run_id, json_array_size(epochs));
        size_t ei;
        json_t *e;
        json_array_foreach(epochs, ei, e) {
            CHECK(finite_num(json_object_get(e, "train_loss")) && finite_num(json_object_get(json_object_get(e, "validation"), "score")),
                  "%s: evaluation %zu not finite", run_id, ei);
        }
        CHECK(finite_num(json_object_get(json_object_get(o, "validation"), "score")) &&
                  finite_num(json_object_get(json_object_get(o, "test"), "score")),
              "%s: validation/test scores", run_id);
        json_t *tm = json_object_get(json_object_get(o, "test"), "metrics");
        CHECK(json_object_size(tm) >= 1, "%s: test metrics", run_id);
        json_object_foreach(tm, k, v) CHECK(finite_num(v), "%s: test metric %s", run_id, k);
        /* parameters: base = the mirror model with the vocabulary cut to 32,100 rows */
        long long base = int_or(o, "base_params", -1), trained = int_or(o, "trainable_params", -1);
        CHECK(base == mirror_base_params(), "%s: base_params %lld, want %lld", run_id, base, mirror_base_params());
        if (method && !strcmp(method, "full"))
            CHECK(trained == base && int_or(o, "total_params", -1) == base,
                  "%s: full fine-tuning trains %lld of %lld (the embedding cut to the tokenizer's rows)", run_id, trained, base);
        else CHECK(trained > 0 && trained < base / 100, "%s: %lld trained parameters", run_id, trained);
        json_decref(o);
    }
    free(L.text);
    json_decref(root);
    return L.n;
}

/* Table 3: the efficiency lines. Each method's line: the preset's lr / rf / options, the
 * overridden budget and sample cap, a batch the search found (1..n, its measured step within
 * the budget), an epoch timed and measured; full fine-tuning trains the base, Compacter++
 * its hand count. got[i]: the batch, peak and epoch time of methods[i]. */
struct eff_line {
    long long batch, peak, trainable;
    double time;
    long long own; /* the run's own largest batch within the budget */
};
static int check_efficiency(const char *results, const char *const *methods, int n_methods, long long budget,
                            int n_train, struct eff_line *got) {
    json_t *root, *preset = paper_preset("efficiency", &root);
    const char *task = json_string_value(json_object_get(json_array_get(json_object_get(preset, "tasks"), 0), "name"));
    struct lines L;
    lines_open(&L, results);
    for (json_t *o; (o = lines_next(&L));) {
        const char *method = json_string_value(json_object_get(o, "method"));
        const char *run_id = json_string_value(json_object_get(o, "run_id"));
        json_t *m = paper_method(preset, method ? method : "");
        printf("  %s\n", run_id ? run_id : "(no run id)");
        CHECK(m != NULL && is_one_of(method, methods, n_methods), "%s: unexpected method %s", results, method);
        if (!m) {
            json_decref(o);
            continue;
        }
        CHECK(task && paper_line(o, "efficiency", task) && str_is(o, "precision", "fp32"),
              "%s: experiment/preset/model/device/precision/task (the preset's %s)", run_id, task);
        check_method_fields(o, m, run_id);
        /* the budget is the override's, not the preset's own */
        CHECK(int_or(preset, "memory_budget_bytes", 0) > budget && int_or(o, "memory_budget_bytes", -1) == budget,
              "%s: memory_budget_bytes %lld (the preset's %lld, --set %lld)", run_id,
              int_or(o, "memory_budget_bytes", -1), int_or(preset, "memory_budget_bytes", 0), budget);
        char canon[128];
        snprintf(canon, sizeof canon, "max_train_samples=%d,memory_budget_bytes=%lld", n_train, budget);
        check_overrides(o, run_id, canon,
                        json_pack("{s:i, s:I}", "max_train_samples", n_train, "memory_budget_bytes",
                                  (json_int_t)budget));
        CHECK(int_or(o, "train_examples", -1) == n_train, "%s: %lld training examples (want %d)", run_id,
              int_or(o, "train_examples", -1), n_train);
        /* the search: the preset's batch is 0 (search), the line holds what it found */
        CHECK(int_or(m, "batch", int_or(preset, "batch", -1)) == 0, "%s: the preset does not search", run_id);
        long long b = int_or(o, "batch_size", -1), sp = int_or(o, "search_peak_bytes", -1),
                  pk = int_or(o, "peak_memory_bytes", -1);
        long long own = int_or(o, "own_max_batch", -1);
        CHECK(b >= 1 && b <= own && own <= n_train, "%s: batch %lld, its own largest %lld (1..%d)", run_id, b, own,
              n_train);
        /* the preset's default policy: one batch for every method ("common") */
        CHECK(json_is_string(json_object_get(o, "batch_policy")) &&
                  !strcmp(json_string_value(json_object_get(o, "batch_policy")), "common") &&
                  int_or(o, "common_batch_runs", -1) >= 3 && strstr(run_id, "/batch-common/"),
              "%s: the common batch policy", run_id);
        CHECK(sp > 0 && sp <= budget, "%s: the search's step at its own batch %lld measured %lld bytes (budget %lld)",
              run_id, own, sp, budget);
        CHECK(pk > 0 && pk <= budget, "%s: the epoch's peak %lld bytes (budget %lld)", run_id, pk, budget);
        CHECK(int_or(o, "activation_bytes", -1) > 0 && int_or(o, "activation_bytes", -1) < pk,
              "%s: activation_bytes %lld", run_id, int_or(o, "activation_bytes", -1));
        json_t *t = json_object_get(o, "epoch_time_s");
        CHECK(finite_num(t) && json_number_value(t) > 0, "%s: epoch_time_s", run_id);
        /* parameters: base = the mirror model with the vocabulary cut to 32,100 rows */
        long long base = int_or(o, "base_params", -1), trained = int_or(o, "trainable_params", -1);
        CHECK(base == mirror_base_params(), "%s: base_params %lld, want %lld", run_id, base, mirror_base_params());
        if (!strcmp(method, "full")) CHECK(trained == base, "%s: full trains %lld of %lld", run_id, trained, base);
        else if (!strcmp(method, "compacter++"))
            CHECK(trained == mirror_compacterpp_params(), "%s: %lld trained (by hand %lld)", run_id, trained,
                  mirror_compacterpp_params());
        else CHECK(trained > 0 && trained < base / 100, "%s: %lld trained parameters", run_id, trained);
        for (int i = 0; i < n_methods; i++)
            if (!strcmp(method, methods[i])) got[i] = (struct eff_line){b, pk, trained, json_number_value(t), own};
        json_decref(o);
    }
    free(L.text);
    json_decref(root);
    return L.n;
}

/* Figure 4: the low-resource lines: one of the preset's two smallest train sizes (the split
 * has n_rows: a larger size takes them all, as the reference's n_obs), its hyper-parameters
 * (batch 40, warmup 0, eval_every 250, max source length 128) and the overridden epochs.
 * test_score[method][size index]: the line's test score. */
static int check_lowresource(const char *results, const char *task, const char *const *methods, int n_methods,
                             int epochs, int n_rows, double test_score[][2]) {
    json_t *root, *preset = paper_preset("lowresource", &root);
    struct lines L;
    lines_open(&L, results);
    for (json_t *o; (o = lines_next(&L));) {
        const char *method = json_string_value(json_object_get(o, "method"));
        const char *run_id = json_string_value(json_object_get(o, "run_id"));
        json_t *cfg = json_object_get(o, "config"), *m = paper_method(preset, method ? method : "");
        printf("  %s\n", run_id ? run_id : "(no run id)");
        CHECK(m != NULL && is_one_of(method, methods, n_methods), "%s: unexpected method %s", results, method);
        if (!m) {
            json_decref(o);
            continue;
        }
        CHECK(paper_line(o, "lowresource", task),
              "%s: experiment/preset/model/device/task", run_id);
        check_method_fields(o, m, run_id);
        /* the train size: one of the preset's two smallest, in the line, its config, its run id */
        int zi = -1;
        long long size = int_or(o, "train_size", -1), size_epochs = -1;
        for (int z = 0; z < 2; z++) {
            json_t *sz = json_array_get(json_object_get(preset, "train_sizes"), (size_t)z);
            if (int_or(sz, "size", -2) == size) zi = z, size_epochs = int_or(sz, "epochs", -1);
        }
        char seg[64];
        snprintf(seg, sizeof seg, "/%s/n%lld/", task, size);
        CHECK(zi >= 0 && int_or(cfg, "train_size", -1) == size && run_id && strstr(run_id, seg),
              "%s: train_size %lld (the preset's first two sizes)", run_id, size);
        long long n = int_or(cfg, "n_train", -1);
        CHECK(n == (size < n_rows ? size : n_rows), "%s: n_train %lld (size %lld, %d rows)", run_id, n, size, n_rows);
        /* the preset's fields, from the file */
        long long batch = int_or(m, "batch", int_or(preset, "batch", -1));
        CHECK(batch == 40 && int_or(cfg, "batch", -1) == batch, "%s: batch %lld (the preset's %lld)", run_id,
              int_or(cfg, "batch", -1), batch);
        CHECK(int_or(cfg, "grad_accum", -1) == int_or(preset, "grad_accum", 1), "%s: grad_accum", run_id);
        CHECK(int_or(cfg, "warmup", -1) == int_or(preset, "warmup", -1) && int_or(cfg, "warmup", -1) == 0,
              "%s: warmup %lld", run_id, int_or(cfg, "warmup", -1));
        CHECK(int_or(cfg, "eval_every", -1) == int_or(preset, "eval_every", -1) && int_or(cfg, "eval_every", -1) == 250,
              "%s: eval_every %lld", run_id, int_or(cfg, "eval_every", -1));
        CHECK(int_or(cfg, "max_source_length", -1) == int_or(preset, "max_source_length", -1) &&
                  int_or(cfg, "max_source_length", -1) == 128,
              "%s: max_source_length", run_id);
        /* the overridden epochs; steps by hand: ceil(n_train / 40) per epoch */
        CHECK(size_epochs > epochs && int_or(cfg, "epochs", -1) == epochs,
              "%s: epochs %lld (the preset's %lld, --set %d)", run_id, int_or(cfg, "epochs", -1), size_epochs, epochs);
        char canon[64];
        snprintf(canon, sizeof canon, "epochs=%d", epochs);
        check_overrides(o, run_id, canon, json_pack("{s:i}", "epochs", epochs));
        long long steps = epochs * ((n + 39) / 40);
        CHECK(int_or(cfg, "total_steps", -1) == steps, "%s: total_steps %lld (want %lld)", run_id,
              int_or(cfg, "total_steps", -1), steps);
        /* fewer steps than eval_every: one evaluation, at the end */
        json_t *ev = json_object_get(o, "epochs");
        CHECK(json_array_size(ev) == 1 && int_or(json_array_get(ev, 0), "step", -1) == steps,
              "%s: %zu evaluations (want 1, at step %lld)", run_id, json_array_size(ev), steps);
        json_t *vs = json_object_get(json_object_get(o, "validation"), "score"),
               *ts = json_object_get(json_object_get(o, "test"), "score");
        CHECK(finite_num(vs) && finite_num(ts) && finite_num(json_object_get(json_array_get(ev, 0), "train_loss")),
              "%s: scores and loss finite", run_id);
        long long base = int_or(o, "base_params", -1), trained = int_or(o, "trainable_params", -1);
        CHECK(base == mirror_base_params(), "%s: base_params %lld", run_id, base);
        if (!strcmp(method, "full")) CHECK(trained == base, "%s: full trains %lld", run_id, trained);
        else if (!strcmp(method, "compacter++"))
            CHECK(trained == mirror_compacterpp_params(), "%s: %lld trained (by hand %lld)", run_id, trained,
                  mirror_compacterpp_params());
        for (int i = 0; i < n_methods && zi >= 0; i++)
            if (!strcmp(method, methods[i])) test_score[i][zi] = json_number_value(ts);
        json_decref(o);
    }
    free(L.text);
    json_decref(root);
    return L.n;
}

/* Every path the server saw, each exactly once, and nothing else. */
static void check_requests(const struct test_server *srv) {
    const char *C = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; /* the mirror listing's commit */
    char want[32][160]; /* 21 used */
    int n = 0;
    snprintf(want[n++], 160, "/api/models/t5-base/revision/main"); /* 307: the repo was renamed */
    snprintf(want[n++], 160, "/api/models/google-t5/t5-base/revision/main");
    const char *files[] = {"config.json", "model.safetensors", "tokenizer.json", "spiece.model", "generation_config.json"};
    for (int i = 0; i < 5; i++) {
        snprintf(want[n++], 160, "/t5-base/resolve/%s/%s", C, files[i]);
        snprintf(want[n++], 160, "/google-t5/t5-base/resolve/%s/%s", C, files[i]);
    }
    snprintf(want[n++], 160, "/cdn/google-t5/t5-base/model.safetensors"); /* LFS: 302 to the CDN */
    snprintf(want[n++], 160, "/cdn/google-t5/t5-base/spiece.model");
    const char *data[] = {"/glue/RTE.zip",     "/glue/MNLI.zip",     "/glue/mrpc_dev_ids.tsv",
                          "/senteval/msr_paraphrase_train.txt", "/senteval/msr_paraphrase_test.txt",
                          "/superglue/CB.zip", "/superglue/BoolQ.zip"};
    for (int i = 0; i < 7; i++) snprintf(want[n++], 160, "%s", data[i]);
    char url[128], *body = NULL;
    snprintf(url, sizeof url, "%s/_stats", srv->base);
    struct download_opts o = test_opts();
    CHECK(download_to_memory(url, &o, &body, NULL, NULL) == 0, "server stats: %s", error_message());
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    free(body);
    json_t *req = json_object_get(j, "requests");
    for (int i = 0; i < n; i++) {
        long long c = int_or(req, want[i], 0);
        CHECK(c == 1, "%s requested %lld times (want once: then the cache)", want[i], c);
    }
    const char *k;
    json_t *v;
    json_object_foreach(req, k, v) {
        int expected = 0;
        for (int i = 0; i < n; i++) expected |= !strcmp(k, want[i]);
        CHECK(expected, "unexpected request %s (%lld times)", k, (long long)json_integer_value(v));
    }
    json_decref(j);
}

static void check_report(const char *md_path, const char *title, const char *canon, const char *const *has,
                         int n_has) {
    char *md = file_text(md_path, NULL);
    CHECK(md != NULL, "no %s", md_path);
    if (!md) return;
    char named[256];
    snprintf(named, sizeof named, "%s, preset paper --set %s\n", title, canon);
    CHECK(strstr(md, named) != NULL, "%s: no title '%s' naming the overrides", md_path, named);
    for (int i = 0; i < n_has; i++) CHECK(strstr(md, has[i]) != NULL, "%s: lacks '%s'", md_path, has[i]);
    if (verbose) printf("%s", md);
    free(md);
    char other[600];
    for (int f = 0; f < 2; f++) {
        snprintf(other, sizeof other, "%.*s.%s", (int)(strlen(md_path) - 3), md_path, f ? "csv" : "tex");
        CHECK(path_is_file(other), "no %s", other);
    }
}

int main(void) {
    verbose = getenv("COMPACTER_REHEARSAL_VERBOSE") && !strcmp(getenv("COMPACTER_REHEARSAL_VERBOSE"), "1");
    const char *dev_env = getenv("COMPACTER_REHEARSAL_DEVICE");
    if (dev_env && *dev_env) {
        if (strcmp(dev_env, "cpu") && strcmp(dev_env, "cuda")) {
            fprintf(stderr, "COMPACTER_REHEARSAL_DEVICE=%s: expected cpu or cuda\n", dev_env);
            return 2;
        }
        device = dev_env;
        if (!strcmp(device, "cuda")) eff_budget = EFF_BUDGET + CUDA_FIXED_BYTES;
    }
    const char *need[] = {"t5-tokenizer/tokenizer.json", "glue-dev/RTE/dev.tsv", "glue-dev/MRPC/dev.tsv",
                          "superglue-val/CB/val.jsonl", "superglue-val/BoolQ/val.jsonl"};
    char shared[4096] = "";
    for (int i = 0; i < 5; i++) {
        const char *p = shared_data(need[i]);
        if (!p) SKIP("the paper-preset rehearsal needs the real T5 vocabulary and GLUE/SuperGLUE dev sets: %s absent "
                     "(../shared/data or $COMPACTER_SHARED_DATA)", need[i]);
        if (i == 0) snprintf(shared, sizeof shared, "%.*s", (int)(strlen(p) - strlen(need[0]) - 1), p);
    }
    if (system("python3 -c 'import zipfile, hashlib' >/dev/null 2>&1") != 0)
        SKIP("the paper-preset rehearsal needs python3 (tests/paper_mirror.py, tests/http_server.py)");
    if (!path_is_file(compacter_bin())) SKIP("%s not built", compacter_bin());
    if (scratch_dir(tmp, sizeof tmp, "rehearsal") != 0) SKIP("cannot create a scratch dir in /tmp");
    char cmd[8192], log[512], www[400], cache[400], results[400], out[400];
    snprintf(www, sizeof www, "%s/www", tmp);
    snprintf(cache, sizeof cache, "%s/cache", tmp);
    snprintf(results, sizeof results, "%s/results", tmp);
    snprintf(out, sizeof out, "%s/report", tmp);
    snprintf(log, sizeof log, "%s/log.txt", tmp);

    /* the mirror */
    snprintf(cmd, sizeof cmd, "python3 tests/paper_mirror.py --shared '%s' --out %s", shared, www);
    int rc = run_logged(cmd, log);
    CHECK(rc == 0, "building the mirror (exit %d)", rc);
    if (rc) CHECK_DONE();
    struct test_server srv;
    /* the server outlives the whole rehearsal (it also stops when this process ends): 11 min
     * under the CUDA emulator (make emu), where a 300 s life ended before the final stats */
    if (server_start(&srv, www, 3600) != 0) SKIP("cannot start python3 tests/http_server.py");
    setenv("COMPACTER_CACHE", cache, 1);
    setenv("COMPACTER_HF_ENDPOINT", srv.base, 1);
    unsetenv("HF_ENDPOINT");
    unsetenv("COMPACTER_HF_REVISION");
    unsetenv("COMPACTER_DATA_DIR");
    unsetenv("COMPACTER_ALLOW_UNPINNED");
    mirror_dataset_urls(srv.base);
    snprintf(cmd, sizeof cmd, "%s/pins.txt", www);
    setenv("COMPACTER_DATASET_PINS", cmd, 1);
    setenv("COMPACTER_DOWNLOAD_RETRIES", "1", 1);
    setenv("COMPACTER_DOWNLOAD_BACKOFF_MS", "50", 1);
    if (verbose)
        printf("mirror %s served at %s; cache %s\n", www, srv.base, cache);

    /* Table 1: 2 methods x 2 tasks, then again (every run already done) */
    const char *t1_only = "method=full,method=compacter++,task=rte,task=mrpc,rf=0,rf=32";
    snprintf(cmd, sizeof cmd,
             "%s run experiments/table1.json --preset paper --device %s --results %s --only %s " SET_ARGS
             " --no-progress-bar",
             compacter_bin(), device, results, t1_only);
    rc = run_logged(cmd, log);
    CHECK(rc == 0, "compacter run table1 (exit %d)", rc);
    char *text = file_text(log, NULL);
    CHECK(text && strstr(text, "4 runs finished now, 0 were already done"), "table1: 4 runs finished");
    CHECK(text && strstr(text, "verified against the pin in") && strstr(text, "pins.txt"),
          "the overridden pins are announced");
    free(text);
    rc = run_logged(cmd, log);
    text = file_text(log, NULL);
    CHECK(rc == 0 && text && strstr(text, "0 runs finished now, 4 were already done"), "table1 again: nothing to do");
    free(text);

    /* Table 2: Compacter on CB and BoolQ */
    snprintf(cmd, sizeof cmd,
             "%s run experiments/table2.json --preset paper --device %s --results %s "
             "--only method=compacter,task=cb,task=boolq,rf=32 " SET_ARGS " --no-progress-bar",
             compacter_bin(), device, results);
    rc = run_logged(cmd, log);
    text = file_text(log, NULL);
    CHECK(rc == 0 && text && strstr(text, "2 runs finished now"), "compacter run table2 (exit %d)", rc);
    free(text);

    /* the results lines */
    char path[600];
    const char *t1_tasks[] = {"rte", "mrpc"}, *t1_methods[] = {"full", "compacter++"};
    snprintf(path, sizeof path, "%s/table1.jsonl", results);
    int n1 = check_results(path, "table1", t1_tasks, 2, t1_methods, 2);
    CHECK(n1 == 4, "table1: %d lines (want 4)", n1);
    const char *t2_tasks[] = {"cb", "boolq"}, *t2_methods[] = {"compacter"};
    snprintf(path, sizeof path, "%s/table2.jsonl", results);
    int n2 = check_results(path, "table2", t2_tasks, 2, t2_methods, 1);
    CHECK(n2 == 2, "table2: %d lines (want 2)", n2);

    /* Table 3: the batch search within a budget that full fine-tuning's parameters, gradients
     * and AdamW moments alone nearly fill (4 x 4 bytes x base = 76 MB of 90), then again */
    const char *eff_methods[] = {"full", "bitfit", "compacter++"};
    struct eff_line eff[3] = {{0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}};
    CHECK(16 * mirror_base_params() < EFF_BUDGET && 16 * mirror_base_params() > EFF_BUDGET * 3 / 4,
          "the budget %lld bytes (+ the backend's fixed) is not just above full fine-tuning's static %lld", EFF_BUDGET,
          16 * mirror_base_params());
    snprintf(cmd, sizeof cmd,
             "%s run experiments/efficiency.json --preset paper --device %s --results %s "
             "--only method=full,method=compacter++,method=bitfit --set max_train_samples=%d "
             "--set memory_budget_bytes=%lld --no-progress-bar",
             compacter_bin(), device, results, EFF_TRAIN, eff_budget);
    rc = run_logged(cmd, log);
    text = file_text(log, NULL);
    CHECK(rc == 0 && text && strstr(text, "3 runs finished now, 0 were already done") &&
              strstr(text, "searching the largest batch within "),
          "compacter run efficiency (exit %d)", rc);
    free(text);
    rc = run_logged(cmd, log);
    text = file_text(log, NULL);
    CHECK(rc == 0 && text && strstr(text, "0 runs finished now, 3 were already done"),
          "efficiency again: nothing to do");
    free(text);
    snprintf(path, sizeof path, "%s/efficiency.jsonl", results);
    int n3 = check_efficiency(path, eff_methods, 3, eff_budget, EFF_TRAIN, eff);
    CHECK(n3 == 3, "efficiency: %d lines (want 3)", n3);
    /* the budget bound full fine-tuning's own search; the PEFT methods' small states leave
     * room for larger batches; all three ran at one batch (the least over the preset's
     * methods), where the PEFT methods need less memory than full fine-tuning */
    CHECK(eff[0].own >= 1 && eff[0].own < EFF_TRAIN, "full: own batch %lld (the budget should bind below %d)",
          eff[0].own, EFF_TRAIN);
    CHECK(eff[2].own > 2 * eff[0].own && eff[1].own > 2 * eff[0].own,
          "own batches: full %lld, bitfit %lld, compacter++ %lld", eff[0].own, eff[1].own, eff[2].own);
    CHECK(eff[0].batch >= 1 && eff[0].batch == eff[1].batch && eff[1].batch == eff[2].batch,
          "one batch: full %lld, bitfit %lld, compacter++ %lld", eff[0].batch, eff[1].batch, eff[2].batch);
    CHECK(eff[1].peak < eff[0].peak && eff[2].peak < eff[0].peak,
          "peaks at one batch: full %lld, bitfit %lld, compacter++ %lld", eff[0].peak, eff[1].peak, eff[2].peak);

    /* Figure 4: RTE at the preset's smallest train size (100) for full fine-tuning and
     * Compacter++, and at the next (500, more than the mirror's 100 rows: all are used, with
     * a warning, as the reference) for Compacter++; one epoch each (of 1,000 and 200) */
    const char *lr_methods[] = {"full", "compacter++"};
    double lr_test[2][2] = {{NAN, NAN}, {NAN, NAN}};
    const char *lr_only[] = {"method=full,method=compacter++,task=rte,train_size=100",
                             "method=compacter++,task=rte,train_size=500"};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd,
                 "%s run experiments/lowresource.json --preset paper --device %s --results %s --only %s "
                 "--set epochs=1 --no-progress-bar",
                 compacter_bin(), device, results, lr_only[i]);
        rc = run_logged(cmd, log);
        text = file_text(log, NULL);
        CHECK(rc == 0 && text && strstr(text, i ? "1 runs finished now" : "2 runs finished now"),
              "compacter run lowresource --only %s (exit %d)", lr_only[i], rc);
        if (i)
            CHECK(text && strstr(text, "500 training examples asked for, rte has 100: all 100 are used"),
                  "lowresource n500: the warning that the split is smaller");
        else CHECK(text && !strstr(text, "training examples asked for"), "lowresource n100: no warning");
        free(text);
    }
    snprintf(path, sizeof path, "%s/lowresource.jsonl", results);
    int n4 = check_lowresource(path, "rte", lr_methods, 2, 1, MIRROR_RTE_TRAIN, lr_test);
    CHECK(n4 == 3, "lowresource: %d lines (want 3)", n4);

    /* downloads: each file once, then the cache; the cache holds them complete */
    check_requests(&srv);
    const char *cached[] = {"models/t5-base/.compacter-complete", "models/t5-base/model.safetensors",
                            "models/t5-base/tokenizer.json",     "data/glue/RTE/train.tsv",
                            "data/glue/MRPC/train.tsv",          "data/glue/MRPC/dev.tsv",
                            "data/superglue/CB/val.jsonl",       "data/superglue/BoolQ/train.jsonl",
                            "data/glue/MNLI/train.tsv",          "data/glue/MNLI/dev_mismatched.tsv"};
    for (int i = 0; i < 10; i++) {
        snprintf(path, sizeof path, "%s/%s", cache, cached[i]);
        CHECK(path_is_file(path), "cache: no %s", cached[i]);
    }
    snprintf(path, sizeof path, "%s/models/t5-base/pytorch_model.bin", cache);
    CHECK(!path_is_file(path), "pytorch_model.bin fetched");

    /* the reports */
    for (int t = 1; t <= 2; t++) {
        snprintf(cmd, sizeof cmd, "%s report %s/table%d.jsonl --out %s", compacter_bin(), results, t, out);
        rc = run_logged(cmd, log);
        CHECK(rc == 0, "compacter report table%d (exit %d)", t, rc);
    }
    const char *t1_has[] = {"| Full fine-tuning |", "| Compacter++ |", "MRPC", "RTE", "100.000%"};
    snprintf(path, sizeof path, "%s/table1.md", out);
    check_report(path, "# Table 1: table1", SET_CANON, t1_has, 5);
    const char *t2_has[] = {"| Compacter |", "BoolQ", "CB"};
    snprintf(path, sizeof path, "%s/table2.md", out);
    check_report(path, "# Table 2: table2", SET_CANON, t2_has, 3);

    /* Table 3: the found batches and relative columns, (x / full - 1) * 100, from the lines */
    snprintf(cmd, sizeof cmd, "%s report %s/efficiency.jsonl --out %s", compacter_bin(), results, out);
    rc = run_logged(cmd, log);
    CHECK(rc == 0, "compacter report efficiency (exit %d)", rc);
    char rows[3][256], canon[128];
    const char *names[] = {"Full fine-tuning", "BitFit", "Compacter++"};
    for (int i = 0; i < 3; i++) { /* trained %: full and Compacter++ by hand (checked above), BitFit its line's */
        int k = snprintf(rows[i], sizeof rows[i], "| %s | %.3f%% | %.2f | ", names[i],
                         100.0 * (double)eff[i].trainable / (double)mirror_base_params(),
                         (double)eff[i].peak / 1048576.0);
        if (i == 0) snprintf(rows[i] + k, sizeof rows[i] - k, "- | %.2f | - |", eff[0].time / 60.0);
        else
            snprintf(rows[i] + k, sizeof rows[i] - k, "%+.2f%% | %.2f | %+.2f%% |",
                     100.0 * ((double)eff[i].peak / (double)eff[0].peak - 1), eff[i].time / 60.0,
                     100.0 * (eff[i].time / eff[0].time - 1));
    }
    const char *t3_has[] = {
        "| Method | %Trained params | Memory (MB) | Memory vs full | Time/epoch (min) | Time vs full |", rows[0],
        rows[1], rows[2], "task mnli"};
    snprintf(canon, sizeof canon, "max_train_samples=%d,memory_budget_bytes=%lld", EFF_TRAIN, eff_budget);
    snprintf(path, sizeof path, "%s/efficiency.md", out);
    check_report(path, "# Table 3: efficiency", canon, t3_has, 5);
    {
        char want[64], *md;
        snprintf(want, sizeof want, "Every method at batch %lld.", eff[0].batch);
        snprintf(path, sizeof path, "%s/efficiency.md", out);
        md = file_text(path, NULL);
        CHECK(md && strstr(md, want), "Table 3's caption lacks '%s'", want);
        free(md);
    }
    snprintf(path, sizeof path, "%s/efficiency.csv", out);
    char *csv = file_text(path, NULL);
    for (int i = 0; i < 3; i++) {
        char row[128];
        snprintf(row, sizeof row, "\n%s,", eff_methods[i]);
        char *at = csv ? strstr(csv, row) : NULL;
        char *eol = at ? strchr(at + 1, '\n') : NULL, tail[64];
        snprintf(tail, sizeof tail, ",%lld", eff[i].batch);
        CHECK(at && eol && eol - at > (long)strlen(tail) && !strncmp(eol - strlen(tail), tail, strlen(tail)),
              "%s: %s's batch_size %lld", path, eff_methods[i], eff[i].batch);
    }
    free(csv);

    /* Figure 4: its table (the one task's test score per method) and its figure */
    snprintf(cmd, sizeof cmd, "%s report %s/lowresource.jsonl --out %s", compacter_bin(), results, out);
    rc = run_logged(cmd, log);
    CHECK(rc == 0, "compacter report lowresource (exit %d)", rc);
    char lrows[2][128], dat500[64];
    snprintf(lrows[0], sizeof lrows[0], "| Full fine-tuning | %.2f | - |", lr_test[0][0]);
    snprintf(lrows[1], sizeof lrows[1], "| Compacter++ | %.2f | %.2f |", lr_test[1][0], lr_test[1][1]);
    const char *f4_has[] = {"| Method | n=100 | n=500 |", lrows[0], lrows[1], "tasks rte"};
    snprintf(path, sizeof path, "%s/lowresource.md", out);
    check_report(path, "# Figure 4 data: lowresource", "epochs=1", f4_has, 4);
    /* the figure's data: full fine-tuning has no point at 500 */
    snprintf(path, sizeof path, "%s/figure4_lowresource.dat", out);
    snprintf(dat500, sizeof dat500, "\n500 ? %.4f\n", lr_test[1][1]);
    text = file_text(path, NULL);
    CHECK(text && strstr(text, dat500), "%s: no line '%s'", path, dat500 + 1);
    free(text);
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/figure4_lowresource.%s", out, i ? "gp" : "dat");
        CHECK(path_is_file(path), "no %s", path);
    }
    if (system("command -v \"${COMPACTER_GNUPLOT:-gnuplot}\" >/dev/null 2>&1") == 0) {
        for (int i = 0; i < 2; i++) {
            snprintf(path, sizeof path, "%s/figure4_lowresource.%s", out, i ? "svg" : "png");
            char *img = file_text(path, NULL);
            CHECK(img && (i ? strstr(img, "<svg") != NULL : !memcmp(img, "\x89PNG", 4)), "%s: not a %s", path,
                  i ? "SVG" : "PNG");
            free(img);
        }
    } else {
        text = file_text(log, NULL);
        CHECK(text && strstr(text, "gnuplot not found"), "no gnuplot: the report says so");
        free(text);
        printf("  gnuplot not installed: Figure 4's .dat and .gp only (the report's documented behaviour)\n");
    }

    server_stop(&srv);
    const char *keep = getenv("COMPACTER_REHEARSAL_KEEP");
    if (keep && !strcmp(keep, "1")) printf("kept %s (mirror www/, cache/, results/, report/)\n", tmp);
    else remove_tree(tmp);
    CHECK_DONE();
}
