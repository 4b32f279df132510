/* test_paper_rehearsal.c: the `paper` preset's own code path end to end, offline, on the CPU,
 * in seconds: what `make table1 PRESET=paper` / `make table2 PRESET=paper` do on a GPU machine
 * with network, against a local mirror instead of the internet.
 *
 *   tests/paper_mirror.py   builds the mirror from the real T5 tokenizer and GLUE/SuperGLUE
 *                           dev sets in ../shared/data: the hub layout of t5-base (a small
 *                           model of t5-base's architecture and vocabulary, grown from the
 *                           fixture tests/fixtures/t5/v10; under the renamed id
 *                           google-t5/t5-base), RTE.zip, MRPC's raw files, CB.zip and BoolQ.zip
 *                           in the official layouts. REHEARSAL DATA: each "train" split is a
 *                           slice of the official dev set.
 *   tests/http_server.py    serves it (hub API, resolve + CDN redirects, renamed-repo 307s)
 *   build/compacter run experiments/table1.json --preset paper --device cpu
 *       --only method=full,method=compacter++,task=rte,task=mrpc,rf=0,rf=32
 *       --set epochs=2 --set max_train_samples=32
 *                           with COMPACTER_HF_ENDPOINT, COMPACTER_GLUE_URL, COMPACTER_MRPC_URL,
 *                           COMPACTER_SUPERGLUE_URL pointing at the mirror and
 *                           COMPACTER_DATASET_PINS naming the mirror's own pins for its six
 *                           data files; run twice (the second finds every run done)
 *   build/compacter run experiments/table2.json ... --only method=compacter,task=cb,task=boolq
 *   build/compacter report on both results files
 *
 * Checks: every file was downloaded exactly once (then came from the cache) and nothing else
 * was requested; the runs finished with finite metrics; each results line carries the paper
 * preset's hyper-parameters as experiments/table{1,2}.json give them (lr, reduction factor,
 * options, batch, grad_accum, warmup, max source length 128), apart from the two overridden
 * fields, which the line records (config.overrides, overrides, the run id's /set- suffix);
 * full fine-tuning trains exactly the base parameters with the vocabulary cut to the
 * tokenizer's 32,100 rows (the reference's resize_token_embeddings); the report writes the
 * Table 1 / Table 2 files, titled with the overrides.
 *
 * Not covered (cannot be, offline on a CPU): t5-base's real weights and scale, a GPU, the
 * real hub and the official archives' bytes (their pinned sha256 are replaced for the six
 * mirror files only), training long enough for meaningful scores.
 *
 * SKIPs when ../shared/data (or $COMPACTER_SHARED_DATA) or python3 is absent.
 * COMPACTER_REHEARSAL_VERBOSE=1 prints every command and its output;
 * COMPACTER_REHEARSAL_KEEP=1 keeps the scratch folder (results, report, cache, mirror). */
#include <jansson.h>
#include <math.h>

#include "core/error.h"
#include "tests/check.h"
#include "tests/test_download_server.h"

#define SET_ARGS "--set epochs=2 --set max_train_samples=32"
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

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) n = 0;
    if (b) b[n] = 0;
    fclose(f);
    return b;
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

/* Check every line of a results file against the paper preset of experiment `xp`. */
static int check_results(const char *results, const char *xp, const char *const *tasks, int n_tasks,
                         const char *const *methods, int n_methods) {
    char path[512];
    snprintf(path, sizeof path, "experiments/%s.json", xp);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    json_t *preset = json_object_get(json_object_get(root, "presets"), "paper");
    CHECK(preset != NULL, "%s: no paper preset", path);
    char *text = slurp(results);
    CHECK(text != NULL, "no results file %s", results);
    int n_lines = 0;
    for (char *save = NULL, *l = text ? strtok_r(text, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
        n_lines++;
        json_t *o = json_loads(l, 0, &je);
        CHECK(o != NULL, "%s:%d: not JSON", results, n_lines);
        if (!o) continue;
        const char *method = json_string_value(json_object_get(o, "method"));
        const char *task = json_string_value(json_object_get(o, "task"));
        const char *run_id = json_string_value(json_object_get(o, "run_id"));
        json_t *cfg = json_object_get(o, "config"), *m = paper_method(preset, method ? method : "");
        printf("  %s\n", run_id ? run_id : "(no run id)");
        CHECK(m != NULL, "%s: method %s is not in the paper preset", results, method);
        int t_ok = 0, m_ok = 0;
        for (int i = 0; i < n_tasks; i++) t_ok |= task && !strcmp(task, tasks[i]);
        for (int i = 0; i < n_methods; i++) m_ok |= method && !strcmp(method, methods[i]);
        CHECK(t_ok && m_ok, "%s: unexpected run %s", results, run_id);
        CHECK(!strcmp(json_string_value(json_object_get(o, "experiment")), xp) &&
                  !strcmp(json_string_value(json_object_get(o, "preset")), "paper") &&
                  !strcmp(json_string_value(json_object_get(o, "model")), "t5-base") &&
                  !strcmp(json_string_value(json_object_get(o, "device")), "cpu"),
              "%s: experiment/preset/model/device", run_id);
        /* the preset's hyper-parameters, from the experiment file itself */
        double lr = json_number_value(json_array_get(json_object_get(m, "lr"), 0));
        CHECK(json_number_value(json_object_get(o, "lr")) == lr && json_number_value(json_object_get(cfg, "lr")) == lr,
              "%s: lr %g, the preset's %g", run_id, json_number_value(json_object_get(o, "lr")), lr);
        json_t *rfs = json_object_get(m, "reduction_factor");
        long long rf = int_or(o, "reduction_factor", -1);
        CHECK(rfs ? rf == json_integer_value(json_array_get(rfs, 0)) : rf == 0, "%s: reduction factor %lld", run_id, rf);
        CHECK(int_or(cfg, "reduction_factor", -1) == rf, "%s: config.reduction_factor", run_id);
        json_t *opts = json_object_get(m, "options");
        const char *k;
        json_t *v;
        json_object_foreach(opts, k, v) {
            char want[32];
            snprintf(want, sizeof want, "%lld", (long long)json_integer_value(v));
            const char *got = json_string_value(json_object_get(json_object_get(o, "options"), k));
            CHECK(got && !strcmp(got, want), "%s: option %s = %s, the preset's %s", run_id, k, got ? got : "-", want);
        }
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
    free(text);
    json_decref(root);
    return n_lines;
}

/* Every path the server saw, each exactly once, and nothing else. */
static void check_requests(const struct test_server *srv) {
    const char *C = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; /* the mirror listing's commit */
    char want[20][160];
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
    const char *data[] = {"/glue/RTE.zip", "/glue/mrpc_dev_ids.tsv", "/senteval/msr_paraphrase_train.txt",
                          "/senteval/msr_paraphrase_test.txt", "/superglue/CB.zip", "/superglue/BoolQ.zip"};
    for (int i = 0; i < 6; i++) snprintf(want[n++], 160, "%s", data[i]);
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

static void check_report(const char *md_path, const char *title, const char *const *has, int n_has) {
    char *md = slurp(md_path);
    CHECK(md != NULL, "no %s", md_path);
    if (!md) return;
    CHECK(strstr(md, title) != NULL, "%s: no title '%s'", md_path, title);
    CHECK(strstr(md, "preset paper --set " SET_CANON) != NULL, "%s: the title names the overrides", md_path);
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
    if (server_start(&srv, www, 300) != 0) SKIP("cannot start python3 tests/http_server.py");
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
             "%s run experiments/table1.json --preset paper --device cpu --results %s --only %s " SET_ARGS
             " --no-progress-bar",
             compacter_bin(), results, t1_only);
    rc = run_logged(cmd, log);
    CHECK(rc == 0, "compacter run table1 (exit %d)", rc);
    char *text = slurp(log);
    CHECK(text && strstr(text, "4 runs finished now, 0 were already done"), "table1: 4 runs finished");
    CHECK(text && strstr(text, "verified against the pin in") && strstr(text, "pins.txt"),
          "the overridden pins are announced");
    free(text);
    rc = run_logged(cmd, log);
    text = slurp(log);
    CHECK(rc == 0 && text && strstr(text, "0 runs finished now, 4 were already done"), "table1 again: nothing to do");
    free(text);

    /* Table 2: Compacter on CB and BoolQ */
    snprintf(cmd, sizeof cmd,
             "%s run experiments/table2.json --preset paper --device cpu --results %s "
             "--only method=compacter,task=cb,task=boolq,rf=32 " SET_ARGS " --no-progress-bar",
             compacter_bin(), results);
    rc = run_logged(cmd, log);
    text = slurp(log);
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

    /* downloads: each file once, then the cache; the cache holds them complete */
    check_requests(&srv);
    const char *cached[] = {"models/t5-base/.compacter-complete", "models/t5-base/model.safetensors",
                            "models/t5-base/tokenizer.json",     "data/glue/RTE/train.tsv",
                            "data/glue/MRPC/train.tsv",          "data/glue/MRPC/dev.tsv",
                            "data/superglue/CB/val.jsonl",       "data/superglue/BoolQ/train.jsonl"};
    for (int i = 0; i < 8; i++) {
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
    check_report(path, "# Table 1: table1", t1_has, 5);
    const char *t2_has[] = {"| Compacter |", "BoolQ", "CB"};
    snprintf(path, sizeof path, "%s/table2.md", out);
    check_report(path, "# Table 2: table2", t2_has, 3);

    server_stop(&srv);
    const char *keep = getenv("COMPACTER_REHEARSAL_KEEP");
    if (keep && !strcmp(keep, "1")) printf("kept %s (mirror www/, cache/, results/, report/)\n", tmp);
    else remove_tree(tmp);
    CHECK_DONE();
}
