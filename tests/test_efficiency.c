/* test_efficiency.c: the Table 3 runs of `compacter run` (experiment "efficiency"). On a
 * minuscule tiny model: with batch 0 the runner searches the largest batch whose measured
 * peak fits memory_budget_bytes; the chosen batch fits, the next one up (measured the same
 * way, as a fixed-batch run) does not; a budget below batch 1 fails with a clear message
 * saying what batch 1 needs, and no line; every line carries the fields the Table 3 report
 * reads, and the report renders. Two methods: with the default "common" batch policy both run
 * at the least of their own largest batches (each line says its own), the searches are kept
 * in <results>/efficiency.batch_search.jsonl (a rerun searches nothing) and the report's
 * caption names the one batch; with "per_method" each runs at its own. */
#include "tests/check.h"

#include <unistd.h>

static char dir[256], cmd[8192], out[65536];

static const char *GRID =
    "{\"experiment\": \"efficiency\", \"presets\": {\"tiny\": {\n"
    "  \"model\": \"tiny\", \"seeds\": [42], \"batch\": %d, \"warmup\": 0, \"max_source_length\": 48,\n"
    "  \"threads\": 1, \"memory_budget_bytes\": %lld%s,\n"
    "  \"tiny_model\": {\"d_model\": 16, \"d_kv\": 4, \"d_ff\": 32, \"num_heads\": 2, \"num_layers\": 1,\n"
    "                 \"num_decoder_layers\": 1, \"pretrain_steps\": 2, \"pretrain_batch\": 4},\n"
    "  \"synthetic\": {\"train\": 300, \"dev\": 40},\n"
    "  \"tasks\": [{\"name\": \"syn-rte\", \"epochs\": 1}],\n"
    "  \"methods\": [%s]\n"
    "}}}\n";

#define FULL_ONLY "{\"name\": \"full\", \"lr\": [0.001]}"

static void write_grid_with(const char *path, int batch, long long budget, const char *policy, const char *methods) {
    FILE *f = fopen(path, "w");
    fprintf(f, GRID, batch, budget, policy, methods);
    fclose(f);
}

static void write_grid(const char *path, int batch, long long budget) {
    write_grid_with(path, batch, budget, "", FULL_ONLY);
}

/* line k (0-based) of a file, in buf */
static int nth_line(const char *text, int k, char *buf, size_t cap) {
    for (int i = 0; i < k && text; i++) {
        text = strchr(text, '\n');
        if (text) text++;
    }
    if (!text || !*text) return -1;
    size_t n = strcspn(text, "\n");
    if (n >= cap) n = cap - 1;
    memcpy(buf, text, n);
    buf[n] = 0;
    return 0;
}

static long long field(const char *text, const char *key) {
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(text, k);
    return p ? atoll(p + strlen(k)) : -1;
}

static int read_file(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
    return 0;
}

int main(void) {
    if (access(compacter_bin(), X_OK)) SKIP("%s not built", compacter_bin());
    snprintf(dir, sizeof dir, "/tmp/compacter-eff-%d", (int)getpid());
    snprintf(cmd, sizeof cmd, "mkdir -p %s/cache", dir);
    if (system(cmd)) SKIP("cannot make %s", dir);
    snprintf(cmd, sizeof cmd, "%s/cache", dir);
    setenv("COMPACTER_CACHE", cmd, 1);
    char grid[300], res[300], line[8192];
    snprintf(grid, sizeof grid, "%s/efficiency.json", dir);

    /* 1. search within 12 MB (batch 300, every example, peaks at about 21 MB) */
    long long budget = 12LL << 20;
    write_grid(grid, 0, budget);
    snprintf(res, sizeof res, "%s/r1", dir);
    snprintf(cmd, sizeof cmd, "%s run %s --results %s --no-progress-bar 2>&1", compacter_bin(), grid, res);
    CHECK(run_capture(cmd, out, sizeof out) == 0, "search run failed: %s", out);
    snprintf(cmd, sizeof cmd, "%s/efficiency.jsonl", res);
    CHECK(read_file(cmd, line, sizeof line) == 0, "no results file");
    long long b = field(line, "batch_size"), peak = field(line, "search_peak_bytes"), epeak = field(line, "peak_memory_bytes");
    CHECK(b >= 1 && b <= 300, "batch %lld", b);
    CHECK(peak > 0 && peak <= budget, "search peak %lld vs budget %lld", peak, budget);
    CHECK(epeak > 0 && epeak <= budget, "epoch peak %lld vs budget %lld", epeak, budget);
    CHECK(field(line, "epoch_time_s") >= 0 && strstr(line, "\"trainable_params\":") && strstr(line, "\"base_params\":"),
          "fields: %s", line);
    printf("  ok search: batch %lld, search peak %lld, epoch peak %lld (budget %lld)\n", b, peak, epeak, budget);

    /* 2. the next batch up does not fit: the same measurement, as a fixed-batch run */
    if (b < 300) {
        write_grid(grid, (int)b + 1, budget);
        snprintf(res, sizeof res, "%s/r2", dir);
        snprintf(cmd, sizeof cmd, "%s run %s --results %s --no-progress-bar 2>&1", compacter_bin(), grid, res);
        CHECK(run_capture(cmd, out, sizeof out) == 0, "fixed run failed: %s", out);
        snprintf(cmd, sizeof cmd, "%s/efficiency.jsonl", res);
        CHECK(read_file(cmd, line, sizeof line) == 0, "no results file");
        /* the epoch's peak is measured over all its batches; the search used the longest examples */
        CHECK(field(line, "peak_memory_bytes") > peak, "batch %lld+1 peak %lld not above %lld", b,
              field(line, "peak_memory_bytes"), peak);
    }

    /* 3. a budget below batch 1 */
    write_grid(grid, 0, 1000);
    snprintf(res, sizeof res, "%s/r3", dir);
    snprintf(cmd, sizeof cmd, "%s run %s --results %s --no-progress-bar 2>&1", compacter_bin(), grid, res);
    CHECK(run_capture(cmd, out, sizeof out) != 0 && strstr(out, "not even a batch of 1 fits"), "tiny budget: %s", out);
    /* ... saying what batch 1 needs (more than the budget, less than batch b's peak above) */
    const char *needs = strstr(out, "batch 1 (the longest example) needs ");
    long long need1 = needs ? atoll(needs + strlen("batch 1 (the longest example) needs ")) : -1;
    CHECK(need1 > 1000 && need1 <= peak, "batch 1 needs %lld bytes (budget 1000, batch %lld peaks at %lld): %s", need1,
          b, peak, out);

    /* 4. the report renders Table 3 */
    snprintf(cmd, sizeof cmd, "%s report %s/r1/efficiency.jsonl --out %s/out --no-figures 2>&1", compacter_bin(), dir, dir);
    CHECK(run_capture(cmd, out, sizeof out) == 0, "report: %s", out);
    snprintf(cmd, sizeof cmd, "%s/out/efficiency.md", dir);
    CHECK(read_file(cmd, line, sizeof line) == 0 && strstr(line, "full"), "table 3: %s", line);

    /* 5. two methods, the default "common" policy: both at the least of their own largest
     * batches, each line saying its own; the searches are kept (a rerun searches nothing) */
    const char *two = FULL_ONLY ", {\"name\": \"bitfit\", \"lr\": [0.001]}";
    static char text[65536];
    for (int pol = 0; pol < 2; pol++) {
        write_grid_with(grid, 0, budget, pol ? ", \"batch_policy\": \"per_method\"" : "", two);
        snprintf(res, sizeof res, "%s/r5%d", dir, pol);
        snprintf(cmd, sizeof cmd, "%s run %s --results %s --no-progress-bar 2>&1", compacter_bin(), grid, res);
        CHECK(run_capture(cmd, out, sizeof out) == 0, "two-method run (policy %d) failed: %s", pol, out);
        snprintf(cmd, sizeof cmd, "%s/efficiency.jsonl", res);
        CHECK(read_file(cmd, text, sizeof text) == 0, "no results file");
        char l0[8192] = "", l1[8192] = "";
        CHECK(nth_line(text, 0, l0, sizeof l0) == 0 && nth_line(text, 1, l1, sizeof l1) == 0, "two lines: %s", text);
        long long b0 = field(l0, "batch_size"), b1 = field(l1, "batch_size");
        long long o0 = field(l0, "own_max_batch"), o1 = field(l1, "own_max_batch");
        CHECK(o0 >= 1 && o1 >= 1, "own largest batches %lld, %lld", o0, o1);
        /* each own batch was measured within the budget (its search step) */
        CHECK(field(l0, "search_peak_bytes") > 0 && field(l0, "search_peak_bytes") <= budget &&
                  field(l1, "search_peak_bytes") > 0 && field(l1, "search_peak_bytes") <= budget,
              "own batches' search peaks %lld, %lld (budget %lld)", field(l0, "search_peak_bytes"),
              field(l1, "search_peak_bytes"), budget);
        if (!pol) {
            long long least = o0 < o1 ? o0 : o1;
            CHECK(b0 == least && b1 == least, "common: batches %lld, %lld; own %lld, %lld", b0, b1, o0, o1);
            CHECK(strstr(l0, "\"batch_policy\":\"common\"") && field(l0, "common_batch_runs") == 2 &&
                      strstr(l0, "/batch-common\""),
                  "common fields: %s", l0);
            snprintf(cmd, sizeof cmd, "%s/efficiency.batch_search.jsonl", res);
            CHECK(read_file(cmd, text, sizeof text) == 0 && nth_line(text, 1, l1, sizeof l1) == 0 &&
                      nth_line(text, 2, l1, sizeof l1) != 0,
                  "two searches recorded: %s", text);
            snprintf(cmd, sizeof cmd, "%s run %s --results %s --no-progress-bar 2>&1", compacter_bin(), grid, res);
            CHECK(run_capture(cmd, out, sizeof out) == 0 && strstr(out, "0 runs finished now, 2 were already done") &&
                      !strstr(out, "searching"),
                  "rerun: %s", out);
            snprintf(cmd, sizeof cmd, "%s report %s/efficiency.jsonl --out %s/out5 --no-figures 2>&1", compacter_bin(),
                     res, dir);
            CHECK(run_capture(cmd, out, sizeof out) == 0, "report: %s", out);
            snprintf(cmd, sizeof cmd, "%s/out5/efficiency.md", dir);
            char want[64];
            snprintf(want, sizeof want, "Every method at batch %lld.", least);
            CHECK(read_file(cmd, text, sizeof text) == 0 && strstr(text, want), "caption lacks '%s': %s", want, text);
            printf("  ok common batch %lld (own: full %lld, bitfit %lld), searches kept, caption\n", least, o0, o1);
        } else {
            CHECK(b0 == o0 && b1 == o1 && strstr(l0, "\"batch_policy\":\"per_method\"") && strstr(l0, "/batch-own\""),
                  "per_method: batches %lld, %lld; own %lld, %lld: %s", b0, b1, o0, o1, l0);
            printf("  ok per_method: batches %lld, %lld\n", b0, b1);
        }
    }

    /* 6. a damaged record of the searches: one error naming the file and line, no run */
    snprintf(cmd, sizeof cmd, "%s/r50/efficiency.batch_search.jsonl", dir);
    FILE *bf = fopen(cmd, "w");
    if (bf) fputs("{\"run_id\": \"x\", \"batch\": \"seven\", \"peak_bytes\": 1}\n", bf), fclose(bf);
    write_grid_with(grid, 0, budget, "", two);
    snprintf(cmd, sizeof cmd, "%s run %s --results %s/r50 --no-progress-bar 2>&1", compacter_bin(), grid, dir);
    CHECK(run_capture(cmd, out, sizeof out) != 0 && strstr(out, "efficiency.batch_search.jsonl:1:") &&
              strstr(out, "\"batch\": integer >= 0"),
          "damaged batch_search.jsonl: %s", out);

    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) fprintf(stderr, "cleanup failed\n");
    CHECK_DONE();
}
