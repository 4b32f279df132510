/* test_experiment.c: experiment files and grid expansion. Expected counts are computed by
 * hand from reference-spec.md (see the comments), not by the code under test. */
#include <unistd.h>

#include "core/error.h"
#include "experiments/experiment.h"
#include "tests/check.h"

static size_t count(const char *file, const char *preset, const char *only, const char *shard) {
    struct experiment_grid g;
    if (experiment_expand(file, preset, only, shard, &g)) {
        fprintf(stderr, "  %s %s: %s\n", file, preset, error_message());
        return (size_t)-1;
    }
    size_t n = g.n;
    experiment_grid_free(&g);
    return n;
}

static const struct run_spec *find(const struct experiment_grid *g, const char *id) {
    for (size_t i = 0; i < g->n; i++)
        if (!strcmp(g->runs[i].run_id, id)) return &g->runs[i];
    return NULL;
}

/* Write `text` to a temporary file; returns its path (static buffer, one at a time). */
static const char *tmp_json(const char *text) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/test_experiment_XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) return NULL;
    size_t n = strlen(text);
    if (write(fd, text, n) != (ssize_t)n) n = 0;
    close(fd);
    return path;
}

/* Expansion must fail and the message must contain every given fragment. */
static void expect_error(const char *text, const char *preset, const char *only, const char *shard,
                         const char *frag1, const char *frag2) {
    const char *path = tmp_json(text);
    struct experiment_grid g;
    error_clear();
    int rc = experiment_expand(path, preset, only, shard, &g);
    const char *msg = error_message();
    CHECK(rc == -1, "expected failure for %s", frag1);
    CHECK(strstr(msg, frag1) != NULL, "message '%s' lacks '%s'", msg, frag1);
    if (frag2) CHECK(strstr(msg, frag2) != NULL, "message '%s' lacks '%s'", msg, frag2);
    if (!shard && !only) CHECK(strstr(msg, path) != NULL, "message '%s' lacks the file name", msg);
    if (rc == 0) experiment_grid_free(&g);
    unlink(path);
}

#define GOOD_HEAD                                                                                 \
    "{\"experiment\":\"x\",\"presets\":{\"p\":{\"model\":\"tiny\",\"seeds\":[1,2],\"batch\":4,"   \
    "\"warmup\":0,\"tasks\":[{\"name\":\"t1\",\"epochs\":2}],"

int main(void) {
    /* table1 paper: 8 GLUE tasks x (5 single-config methods: full, prompt-tuning-r, prompt-tuning-t, intrinsic-said,
     * bitfit + 7 adapter-style methods x 3 reduction factors) = 8 x 26 = 208. */
    CHECK(count("experiments/table1.json", "paper", NULL, NULL) == 208, "table1 paper");
    /* table2 paper: 6 SuperGLUE tasks (BoolQ CB COPA MultiRC ReCoRD WiC) x 26 = 156. */
    CHECK(count("experiments/table2.json", "paper", NULL, NULL) == 156, "table2 paper");
    /* efficiency paper: 12 methods x MNLI x rf 32 only = 12. */
    CHECK(count("experiments/efficiency.json", "paper", NULL, NULL) == 12, "efficiency paper");
    /* lowresource paper: 4 methods x 8 tasks x 5 sizes = 160. */
    CHECK(count("experiments/lowresource.json", "paper", NULL, NULL) == 160, "lowresource");
    /* tiny: table1 5 methods x 4 synthetic tasks x 1 config = 20 (table2: 4 x 2 SuperGLUE-shaped); lowresource 2 x 2 tasks x 3 sizes. */
    CHECK(count("experiments/table1.json", "tiny", NULL, NULL) == 20, "table1 tiny");
    CHECK(count("experiments/table2.json", "tiny", NULL, NULL) == 8, "table2 tiny");
    CHECK(count("experiments/efficiency.json", "tiny", NULL, NULL) == 4, "efficiency tiny");
    CHECK(count("experiments/lowresource.json", "tiny", NULL, NULL) == 12, "lowresource tiny");

    /* Filters: compacter = 8 tasks x 3 rf; + task=rte = 3; two methods OR-ed = 6;
     * lr 0.003 = 4 methods (lowrank, phm-adapter, compacter, compacter++) x 3 x 8 = 96;
     * rf 16 = 7 adapter-style methods x 8 = 56. */
    CHECK(count("experiments/table1.json", "paper", "method=compacter", NULL) == 24, "only 1");
    CHECK(count("experiments/table1.json", "paper", "method=compacter,task=rte", NULL) == 3,
          "only 2");
    CHECK(count("experiments/table1.json", "paper", "method=compacter,task=rte,method=adapter",
                NULL) == 6,
          "only OR");
    CHECK(count("experiments/table1.json", "paper", "lr=0.003", NULL) == 96, "only lr");
    CHECK(count("experiments/table1.json", "paper", "rf=16", NULL) == 56, "only rf");

    struct experiment_grid g;
    CHECK(experiment_expand("experiments/table1.json", "paper", NULL, NULL, &g) == 0, "%s",
          error_message());
    if (g.n) {
        CHECK(!strcmp(g.runs[0].run_id, "table1/paper/full/cola/lr0.0003/seed42"), "first %s",
              g.runs[0].run_id);
        CHECK(g.runs[0].epochs == 20 && g.runs[0].batch == 100 && g.runs[0].grad_accum == 1 &&
                  g.runs[0].warmup == 500 && g.runs[0].max_source_length == 128 &&
                  g.runs[0].reduction_factor == 0 && g.runs[0].train_size == -1,
              "full/cola fields");
        CHECK(!strcmp(g.runs[0].model, "t5-base") && !strcmp(g.runs[0].device, "cuda") &&
                  !strcmp(g.runs[0].precision, "fp32"),
              "model/device/precision");
        const struct run_spec *r = find(&g, "table1/paper/compacter/rte/lr0.003/rf32/seed42");
        CHECK(r != NULL, "compacter rte run present");
        if (r) {
            CHECK(r->lr == 3e-3 && r->epochs == 20 && r->reduction_factor == 32, "compacter rte");
            CHECK(run_spec_option(r, "phm_dim") && !strcmp(run_spec_option(r, "phm_dim"), "4"),
                  "phm_dim option");
        }
        r = find(&g, "table1/paper/prompt-tuning-r/mnli/lr0.03/seed42");
        CHECK(r && r->batch == 50 && r->grad_accum == 2 && r->epochs == 3, "prompt-tuning-r overrides");
        r = find(&g, "table1/paper/adapter/sst2/lr0.0003/rf8/seed42");
        CHECK(r && r->epochs == 3 && r->lr == 3e-4, "adapter sst2 rf8");
        CHECK(find(&g, "table1/paper/intrinsic-said/qqp/lr0.03/seed42") != NULL, "said");
        CHECK(find(&g, "table1/paper/prompt-tuning-t/qnli/lr0.3/seed42") != NULL, "prompt-t");

        /* Shards: every shard of a partition is disjoint from the others; together they
         * are the whole grid, in order. */
        int ns[] = {1, 3, 7, 300};
        for (int t = 0; t < 4; t++) {
            int N = ns[t];
            size_t total = 0;
            int *seen = calloc(g.n, sizeof *seen);
            for (int k = 1; k <= N; k++) {
                char s[32];
                snprintf(s, sizeof s, "%d/%d", k, N);
                struct experiment_grid sh;
                if (experiment_expand("experiments/table1.json", "paper", NULL, s, &sh)) {
                    CHECK(0, "shard %s: %s", s, error_message());
                    continue;
                }
                for (size_t i = 0; i < sh.n; i++) {
                    /* run j of the shard is run (k-1) + j*N of the whole grid */
                    size_t j = (size_t)(k - 1) + i * (size_t)N;
                    CHECK(j < g.n && !strcmp(sh.runs[i].run_id, g.runs[j].run_id),
                          "shard %s run %zu", s, i);
                    if (j < g.n) seen[j]++;
                }
                total += sh.n;
                experiment_grid_free(&sh);
            }
            size_t once = 0;
            for (size_t i = 0; i < g.n; i++) once += seen[i] == 1;
            CHECK(total == g.n && once == g.n, "N=%d: %zu runs, %zu seen once of %zu", N, total,
                  once, g.n);
            free(seen);
        }
        /* Filter then shard: 24 compacter runs / 5 -> 5,5,5,5,4. */
        CHECK(count("experiments/table1.json", "paper", "method=compacter", "5/5") == 4, "f+s");
        CHECK(count("experiments/table1.json", "paper", "method=compacter", "1/5") == 5, "f+s");
        /* run ids are unique */
        size_t dup = 0;
        for (size_t i = 0; i < g.n; i++)
            for (size_t j = 0; j < i; j++) dup += !strcmp(g.runs[i].run_id, g.runs[j].run_id);
        CHECK(dup == 0, "%zu duplicate run ids", dup);
        experiment_grid_free(&g);
    }

    CHECK(experiment_expand("experiments/lowresource.json", "paper", "task=rte,method=full",
                            NULL, &g) == 0,
          "%s", error_message());
    CHECK(g.n == 5, "lowresource rte full: %zu", g.n);
    if (g.n == 5) {
        CHECK(!strcmp(g.runs[0].run_id, "lowresource/paper/full/rte/n100/lr0.0003/seed42"), "%s",
              g.runs[0].run_id);
        CHECK(g.runs[0].train_size == 100 && g.runs[0].epochs == 1000 && g.runs[0].batch == 40 &&
                  g.runs[0].warmup == 0 && g.runs[0].eval_every == 250,
              "lowresource n100 fields");
        CHECK(g.runs[4].train_size == 4000 && g.runs[4].epochs == 25, "lowresource n4000");
    }
    experiment_grid_free(&g);
    CHECK(experiment_expand("experiments/efficiency.json", "paper", "method=intrinsic-said", NULL, &g) == 0,
          "%s", error_message());
    CHECK(g.n == 1 && g.runs[0].batch == 0 && g.runs[0].memory_budget_bytes == 24000000000LL &&
              g.runs[0].epochs == 1 && !strcmp(g.runs[0].task, "mnli"),
          "efficiency said");
    experiment_grid_free(&g);

    /* A small hand-made file: 2 seeds x 2 lrs x 1 task = 4, option kinds, label. */
    const char *good = GOOD_HEAD "\"methods\":[{\"name\":\"m\",\"label\":\"m-a\",\"lr\":[0.1,1e-5],"
                                 "\"options\":{\"s\":\"v\",\"i\":3,\"r\":0.25,\"b\":true}}]}}}";
    const char *path = tmp_json(good);
    CHECK(experiment_expand(path, "p", NULL, NULL, &g) == 0, "%s", error_message());
    CHECK(g.n == 4, "good: %zu", g.n);
    if (g.n == 4) {
        CHECK(!strcmp(g.runs[0].run_id, "x/p/m-a/t1/lr0.1/seed1"), "%s", g.runs[0].run_id);
        CHECK(!strcmp(g.runs[3].run_id, "x/p/m-a/t1/lr1e-05/seed2"), "%s", g.runs[3].run_id);
        CHECK(!strcmp(g.runs[0].method, "m") && !strcmp(g.runs[0].device, "cpu") &&
                  g.runs[0].max_source_length == 128,
              "defaults");
        CHECK(g.runs[0].n_options == 4 && !strcmp(run_spec_option(&g.runs[0], "s"), "v") &&
                  !strcmp(run_spec_option(&g.runs[0], "i"), "3") &&
                  !strcmp(run_spec_option(&g.runs[0], "r"), "0.25") &&
                  !strcmp(run_spec_option(&g.runs[0], "b"), "true"),
              "options");
    }
    experiment_grid_free(&g);
    unlink(path);

    /* Error paths: each names the file (checked in expect_error) and the JSON path. */
    const char *one = GOOD_HEAD "\"methods\":[{\"name\":\"m\",\"lr\":[0.1]}]}}}";
    expect_error(one, "nope", NULL, NULL, "unknown preset 'nope'", "the file has: p");
    /* batch_policy (batch 0 only): "common" (default) or "per_method", in the run id */
    {
        const char *pol[] = {"", ",\"batch_policy\":\"common\"", ",\"batch_policy\":\"per_method\""};
        const char *want[] = {"/seed1/batch-common", "/seed1/batch-common", "/seed1/batch-own"};
        for (int i = 0; i < 3; i++) {
            char text[512];
            snprintf(text, sizeof text,
                     "{\"experiment\":\"efficiency\",\"presets\":{\"p\":{\"model\":\"tiny\",\"seeds\":[1],"
                     "\"batch\":0,\"warmup\":0,\"memory_budget_bytes\":1000000%s,\"tasks\":[{\"name\":\"t1\",\"epochs\":1}],"
                     "\"methods\":[{\"name\":\"m\",\"lr\":[0.1]}]}}}",
                     pol[i]);
            const char *path = tmp_json(text);
            struct experiment_grid pg;
            int rc = experiment_expand(path, "p", NULL, NULL, &pg);
            CHECK(rc == 0 && pg.n == 1 && pg.runs[0].batch_common == (i < 2) &&
                      strlen(pg.runs[0].run_id) > strlen(want[i]) &&
                      !strcmp(pg.runs[0].run_id + strlen(pg.runs[0].run_id) - strlen(want[i]), want[i]),
                  "batch_policy %d: %s", i, rc ? error_message() : pg.runs[0].run_id);
            if (rc == 0) experiment_grid_free(&pg);
            unlink(path);
        }
        expect_error("{\"experiment\":\"efficiency\",\"presets\":{\"p\":{\"model\":\"tiny\",\"seeds\":[1],"
                     "\"batch\":0,\"warmup\":0,\"batch_policy\":\"each\",\"tasks\":[{\"name\":\"t1\",\"epochs\":1}],"
                     "\"methods\":[{\"name\":\"m\",\"lr\":[0.1]}]}}}",
                     "p", NULL, NULL, "presets.p.batch_policy: 'each'", "\"per_method\"");
    }
    expect_error(GOOD_HEAD "\"methods\":[{\"name\":\"m\"}]}}}", "p", NULL, NULL,
                 "presets.p.methods[0].lr: missing field", NULL);
    expect_error(GOOD_HEAD "\"methods\":[{\"name\":\"m\",\"lr\":\"0.1\"}]}}}", "p", NULL, NULL,
                 "presets.p.methods[0].lr: expected a non-empty array of numbers", NULL);
    expect_error(GOOD_HEAD "\"methods\":[{\"name\":\"m\",\"lr\":[0.1,\"x\"]}]}}}", "p", NULL,
                 NULL, "presets.p.methods[0].lr[1]: expected numbers", NULL);
    expect_error(GOOD_HEAD "\"methods\":[{\"name\":\"m\",\"lr\":[0.1],\"batch\":2.5}]}}}", "p",
                 NULL, NULL, "presets.p.methods[0].batch: expected an integer", NULL);
    expect_error(GOOD_HEAD "\"methods\":[{\"name\":7,\"lr\":[0.1]}]}}}", "p", NULL, NULL,
                 "presets.p.methods[0].name: expected a string", NULL);
    expect_error(GOOD_HEAD "\"methods\":[{\"name\":\"m\",\"lr\":[0.1]},{\"name\":\"m\",\"lr\":[0.1]}]}}}",
                 "p", NULL, NULL, "duplicate run x/p/m/t1/lr0.1/seed1", "label");
    expect_error("{\"experiment\":\"x\",\"presets\":{\"p\":{\"seeds\":[1],\"batch\":1,\"warmup\":0,"
                 "\"tasks\":[],\"methods\":[]}}}",
                 "p", NULL, NULL, "presets.p.model: missing field", NULL);
    expect_error("{\"experiment\":\"x\",\"presets\":{\"p\":{\"model\":\"m\",\"seeds\":[1],"
                 "\"batch\":1,\"warmup\":0,\"tasks\":[{\"name\":\"t\"}],\"methods\":[{\"name\":"
                 "\"m\",\"lr\":[1]}]}}}",
                 "p", NULL, NULL, "presets.p.tasks[0].epochs: missing field", NULL);
    expect_error("{\"experiment\":\"x\",\"presets\":{\"p\":{\"model\":\"m\",\"seeds\":[-1]}}}", "p",
                 NULL, NULL, "presets.p.seeds[0]: expected non-negative integers", NULL);
    expect_error("{\"experiment\":\"x\",\"presets\":[]}", "p", NULL, NULL, "presets: expected an object",
                 NULL);
    expect_error("{\"experiment\": \"x\",\n \"presets\": {,}}", "p", NULL, NULL, ":2:", NULL);
    expect_error(one, "p", NULL, "0/3", "--shard '0/3'", NULL);
    expect_error(one, "p", NULL, "4/3", "--shard '4/3'", NULL);
    expect_error(one, "p", NULL, "a/b", "--shard 'a/b'", NULL);
    expect_error(one, "p", NULL, "1/3x", "--shard '1/3x'", NULL);
    expect_error(one, "p", "colour=red", NULL, "unknown key 'colour'", NULL);
    expect_error(one, "p", "method", NULL, "expected key=value", NULL);
    expect_error(one, "p", "method=nothing", NULL, "matches none of its 2 runs", NULL);

    /* STS-B rounding (reference-spec.md 5): 0.1 (the code's) by default; the paper's 0.2 is a
     * preset field that makes the STS-B runs, and only them, other runs (their id says so) */
    {
        const char *step2 =
            "{\"experiment\":\"x\",\"presets\":{\"p\":{\"model\":\"tiny\",\"seeds\":[1],\"batch\":4,"
            "\"warmup\":0,\"stsb_step\":0.2,\"tasks\":[{\"name\":\"stsb\",\"epochs\":2},"
            "{\"name\":\"rte\",\"epochs\":2}],\"methods\":[{\"name\":\"full\",\"lr\":[0.001]}]}}}";
        const char *path = tmp_json(step2);
        struct experiment_grid sg;
        CHECK(path && experiment_expand(path, "p", NULL, NULL, &sg) == 0, "stsb_step 0.2: %s", error_message());
        if (path) unlink(path);
        if (sg.n == 2) {
            const struct run_spec *st = find(&sg, "x/p/full/stsb/stsb-step0.2/lr0.001/seed1"),
                                  *rt = find(&sg, "x/p/full/rte/lr0.001/seed1");
            CHECK(st && st->stsb_step == 0.2, "stsb_step 0.2: the STS-B run %s", sg.runs[0].run_id);
            CHECK(rt && rt->stsb_step == 0.0, "stsb_step 0.2: the RTE run keeps its id, no rounding (%s)",
                  sg.runs[1].run_id);
        } else {
            CHECK(0, "stsb_step 0.2: %zu runs, want 2", sg.n);
        }
        if (sg.n) experiment_grid_free(&sg);
        struct experiment_grid t1;
        CHECK(experiment_expand("experiments/table1.json", "paper", "method=full,task=stsb", NULL, &t1) == 0 &&
                  t1.n == 1,
              "table1 paper full stsb: %s", error_message());
        if (t1.n == 1)
            CHECK(t1.runs[0].stsb_step == 0.1 && !strcmp(t1.runs[0].run_id, "table1/paper/full/stsb/lr0.0003/seed42"),
                  "table1 paper: STS-B rounds to 0.1 by default (%s)", t1.runs[0].run_id);
        if (t1.n) experiment_grid_free(&t1);
        const char *step3 =
            "{\"experiment\":\"x\",\"presets\":{\"p\":{\"model\":\"tiny\",\"seeds\":[1],\"batch\":4,"
            "\"warmup\":0,\"stsb_step\":0.3,\"tasks\":[{\"name\":\"stsb\",\"epochs\":2}],"
            "\"methods\":[{\"name\":\"full\",\"lr\":[0.001]}]}}}";
        expect_error(step3, "p", NULL, NULL, "presets.p.stsb_step", "0.2 (the paper's)");
    }
    /* --set: overrides every run (over the task's epochs and a method's own batch), the run id
     * gains a canonical /set- suffix (sorted by key, whatever the order given), --only applies
     * after; parse errors name the key */
    struct experiment_sets sets;
    const char *items[] = {"max_train_samples=32,epochs=2", "batch=8"};
    CHECK(experiment_parse_sets(items, 2, &sets) == 0 && sets.n == 3 && !strcmp(sets.key[0], "batch") &&
              !strcmp(sets.key[1], "epochs") && !strcmp(sets.key[2], "max_train_samples"),
          "parse sets: %s", error_message());
    CHECK(experiment_expand_set("experiments/table1.json", "paper", &sets,
                                "method=prompt-tuning-t,method=compacter,task=rte,rf=32,rf=0", NULL, &g) == 0,
          "%s", error_message());
    CHECK(g.n == 2, "table1 paper --set, 2 runs: %zu", g.n);
    for (size_t i = 0; i < g.n; i++) {
        const struct run_spec *r = &g.runs[i];
        CHECK(r->epochs == 2 && r->batch == 8 && r->max_train_samples == 32 && r->warmup == 500 &&
                  r->max_source_length == 128 && r->train_size == -1,
              "%s: overridden fields", r->run_id);
        CHECK(!strcmp(r->overrides, "batch=8,epochs=2,max_train_samples=32"), "%s", r->overrides);
    }
    if (g.n == 2) {
        CHECK(!strcmp(g.runs[0].run_id,
                      "table1/paper/prompt-tuning-t/rte/lr0.3/seed42/set-batch=8,epochs=2,max_train_samples=32"),
              "%s", g.runs[0].run_id);
        CHECK(g.runs[0].grad_accum == 2, "the method's own grad_accum stays: %d", g.runs[0].grad_accum);
        CHECK(!strcmp(g.runs[1].run_id,
                      "table1/paper/compacter/rte/lr0.003/rf32/seed42/set-batch=8,epochs=2,max_train_samples=32"),
              "%s", g.runs[1].run_id);
    }
    experiment_grid_free(&g);
    const char *steps[] = {"max_steps=3"};
    CHECK(experiment_parse_sets(steps, 1, &sets) == 0 &&
              experiment_expand_set("experiments/table2.json", "paper", &sets, "method=full,task=cb", NULL, &g) == 0 &&
              g.n == 1 && g.runs[0].max_steps == 3 && g.runs[0].epochs == 20 &&
              !strcmp(g.runs[0].run_id, "table2/paper/full/cb/lr0.0003/seed42/set-max_steps=3"),
          "max_steps: %s", g.n ? g.runs[0].run_id : error_message());
    experiment_grid_free(&g);
    /* memory_budget_bytes: the efficiency grid's batch search bound (batch 0 runs only) */
    const char *budget[] = {"memory_budget_bytes=150000000", "max_train_samples=64"};
    CHECK(experiment_parse_sets(budget, 2, &sets) == 0 &&
              experiment_expand_set("experiments/efficiency.json", "paper", &sets, "method=full,method=bitfit",
                                    NULL, &g) == 0 &&
              g.n == 2,
          "efficiency --set memory_budget_bytes: %s", error_message());
    for (size_t i = 0; i < g.n; i++) {
        const struct run_spec *r = &g.runs[i];
        CHECK(r->memory_budget_bytes == 150000000LL && r->batch == 0 && r->max_train_samples == 64,
              "%s: budget %lld, batch %d", r->run_id, r->memory_budget_bytes, r->batch);
        const char *sfx = "/seed42/batch-common/set-max_train_samples=64,memory_budget_bytes=150000000";
        CHECK(strlen(r->run_id) > strlen(sfx) && !strcmp(r->run_id + strlen(r->run_id) - strlen(sfx), sfx), "%s",
              r->run_id);
    }
    experiment_grid_free(&g);
    const char *big[] = {"memory_budget_bytes=80000000000"}; /* 80 GB: above the other keys' 10^9 */
    CHECK(experiment_parse_sets(big, 1, &sets) == 0 && sets.value[0] == 80000000000LL, "80 GB budget: %s",
          error_message());
    const char *budget_batch[] = {"memory_budget_bytes=150000000", "batch=8"};
    CHECK(experiment_parse_sets(budget_batch, 2, &sets) == 0 &&
              experiment_expand_set("experiments/efficiency.json", "paper", &sets, "method=full", NULL, &g) == -1 &&
              strstr(error_message(), "experiments/efficiency.json") &&
              strstr(error_message(), "--set memory_budget_bytes") && strstr(error_message(), "batch 8"),
          "budget with a fixed batch: %s", error_message());
    CHECK(experiment_parse_sets(budget, 1, &sets) == 0 &&
              experiment_expand_set("experiments/table1.json", "paper", &sets, "method=compacter,task=rte", NULL,
                                    &g) == -1 &&
              strstr(error_message(), "experiments/table1.json") && strstr(error_message(), "memory_budget_bytes"),
          "budget on table1: %s", error_message());
    /* a filtered-out run with a fixed batch does not count */
    const char *budget_only[] = {"memory_budget_bytes=150000000"};
    CHECK(experiment_parse_sets(budget_only, 1, &sets) == 0 &&
              experiment_expand_set("experiments/efficiency.json", "paper", &sets, "method=compacter++", NULL, &g) ==
                  0 &&
              g.n == 1,
          "%s", error_message());
    experiment_grid_free(&g);
    const char *budget_low[] = {"memory_budget_bytes=0"}, *budget_high[] = {"memory_budget_bytes=2000000000000000"};
    CHECK(experiment_parse_sets(budget_low, 1, &sets) == -1 && strstr(error_message(), "memory_budget_bytes=0"), "%s",
          error_message());
    CHECK(experiment_parse_sets(budget_high, 1, &sets) == -1 &&
              strstr(error_message(), "memory_budget_bytes=2000000000000000"),
          "%s", error_message());
    /* precision takes a word; integers keep their canonical text ("02" is "2") */
    const char *prec[] = {"precision=bf16,epochs=02"}, *bad_prec[] = {"precision=fp16"};
    CHECK(experiment_parse_sets(prec, 1, &sets) == 0 && sets.n == 2 && !strcmp(sets.key[1], "precision") &&
              !strcmp(sets.text[1], "bf16") && sets.value[0] == 2,
          "parse precision: %s", error_message());
    CHECK(experiment_expand_set("experiments/table1.json", "tiny", &sets, "method=full,task=syn-rte", NULL, &g) == 0 &&
              g.n >= 1,
          "%s", error_message());
    for (size_t i = 0; i < g.n; i++) {
        CHECK(!strcmp(g.runs[i].precision, "bf16") && g.runs[i].epochs == 2, "%s: precision %s", g.runs[i].run_id,
              g.runs[i].precision);
        CHECK(strstr(g.runs[i].run_id, "/set-epochs=2,precision=bf16") != NULL, "%s", g.runs[i].run_id);
    }
    experiment_grid_free(&g);
    CHECK(experiment_parse_sets(bad_prec, 1, &sets) == -1 &&
              strstr(error_message(), "precision=fp16: expected one of fp32, tf32, bf16"),
          "%s", error_message());
    const char *bad_key[] = {"colour=red"}, *twice[] = {"epochs=1", "epochs=2"}, *low[] = {"epochs=0"},
               *nan_v[] = {"batch=lots"}, *no_eq[] = {"epochs"};
    CHECK(experiment_parse_sets(bad_key, 1, &sets) == -1 && strstr(error_message(), "unknown key 'colour'") &&
              strstr(error_message(), "max_train_samples"),
          "%s", error_message());
    CHECK(experiment_parse_sets(twice, 2, &sets) == -1 && strstr(error_message(), "epochs given twice"), "%s",
          error_message());
    CHECK(experiment_parse_sets(low, 1, &sets) == -1 && strstr(error_message(), "epochs=0"), "%s", error_message());
    CHECK(experiment_parse_sets(nan_v, 1, &sets) == -1 && strstr(error_message(), "batch=lots"), "%s",
          error_message());
    CHECK(experiment_parse_sets(no_eq, 1, &sets) == -1 && strstr(error_message(), "expected key=value"), "%s",
          error_message());

    CHECK(count("/nonexistent/x.json", "p", NULL, NULL) == (size_t)-1, "missing file");
    CHECK(strstr(error_message(), "/nonexistent/x.json") != NULL, "%s", error_message());
    CHECK_DONE();
}
