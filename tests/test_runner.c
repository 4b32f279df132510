/* test_runner.c: `compacter run` as a user runs it, on a minuscule tiny model (1+1 layers,
 * d_model 16, 5 pre-training steps) and a 2 x 2 grid (full fine-tuning at two learning
 * rates, under two labels, x syn-rte, syn-mrpc; 4 epochs of 120 examples).
 *  - an uninterrupted run writes 4 lines, one per run id, with the fields the report needs;
 *  - a second run killed with SIGKILL at random points (fork/exec, kill after a random
 *    delay, up to 5 times), then completed: every run id exactly once and the same report
 *    table (rows) as the uninterrupted run (the metrics are deterministic);
 *  - a results file whose last line was cut short: that run is redone, the line is not
 *    duplicated, the table is unchanged;
 *  - two processes over the same grid at once (no --shard): every run id once, the same
 *    table;
 *  - an unknown method or task fails before anything trains, with a clear message.
 * Expected values: run ids from the grid rule of docs/RESULTS_FORMAT.md, tables from the
 * uninterrupted run (the property under test is that interruption changes nothing). */
#include "tests/check.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[256], cmd[8192], out[65536];

static const char *GRID_FMT =
    "{\"experiment\": \"rtest\", \"presets\": {\"tiny\": {\n"
    "  \"model\": \"tiny\", \"seeds\": [42], \"batch\": 8, \"warmup\": 2, \"max_source_length\": "
    "48, "
    "\"threads\": 1,\n"
    "  \"tiny_model\": {\"d_model\": 16, \"d_kv\": 4, \"d_ff\": 32, \"num_heads\": 2, "
    "\"num_layers\": 1,\n"
    "                 \"num_decoder_layers\": 1, \"pretrain_steps\": 5, \"pretrain_batch\": 4},\n"
    "  \"synthetic\": {\"train\": 120, \"dev\": 40},\n"
    "  \"tasks\": [{\"name\": \"syn-rte\", \"epochs\": 4}, {\"name\": \"%s\", \"epochs\": 4}],\n"
    "  \"methods\": [{\"name\": \"full\", \"lr\": [0.003]},\n"
    "              {\"name\": \"%s\", \"label\": \"full-hi\", \"lr\": [0.01]}]\n"
    "}}}\n";

static void write_grid(const char *path, const char *task2, const char *method2) {
    FILE *f = fopen(path, "w");
    fprintf(f, GRID_FMT, task2, method2);
    fclose(f);
}

static const char *const ids[4] = {
    "rtest/tiny/full/syn-rte/lr0.003/seed42", "rtest/tiny/full/syn-mrpc/lr0.003/seed42",
    "rtest/tiny/full-hi/syn-rte/lr0.01/seed42", "rtest/tiny/full-hi/syn-mrpc/lr0.01/seed42"};

/* Lines of the file, and how often each expected run id occurs as "run_id":"<id>". */
static int count_lines(const char *path, int counts[4], int *complete, int *partial) {
    FILE *f = fopen(path, "r");
    memset(counts, 0, 4 * sizeof *counts);
    *complete = *partial = 0;
    if (!f) return -1;
    static char line[1 << 16];
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        if (n && line[n - 1] == '\n')
            (*complete)++;
        else
            (*partial)++;
        for (int i = 0; i < 4; i++) {
            char key[300];
            snprintf(key, sizeof key, "\"run_id\":\"%s\"", ids[i]);
            if (strstr(line, key)) counts[i]++;
        }
    }
    fclose(f);
    return 0;
}

/* The table rows ("|" lines) of the Markdown report of a results file. */
static int report_rows(const char *results, const char *outdir, char *rows, size_t cap) {
    snprintf(cmd, sizeof cmd, "%s report %s --out %s --format md --no-figures 2>&1", compacter_bin(),
             results, outdir);
    if (run_capture(cmd, out, sizeof out) != 0) return -1;
    char md[600];
    snprintf(md, sizeof md, "%s/rtest.md", outdir);
    FILE *f = fopen(md, "r");
    if (!f) return -1;
    char line[4096];
    rows[0] = 0;
    while (fgets(line, sizeof line, f))
        if (line[0] == '|' && strlen(rows) + strlen(line) < cap) strcat(rows, line);
    fclose(f);
    return 0;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Start `compacter run GRID --results RES` and SIGKILL it after `delay` seconds; returns 1 if
 * it was killed, 0 if it had finished by then. */
static int run_and_kill(const char *grid, const char *res, double delay) {
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execl(compacter_bin(), compacter_bin(), "run", grid, "--results", res, (char *)NULL);
        _exit(127);
    }
    double t0 = now();
    int status;
    while (now() - t0 < delay) {
        if (waitpid(pid, &status, WNOHANG) == pid) return 0;
        usleep(2000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return WIFSIGNALED(status) ? 1 : 0;
}

int main(void) {
    if (access(compacter_bin(), X_OK)) SKIP("%s not built", compacter_bin());
    snprintf(dir, sizeof dir, "/tmp/compacter-runner-%d", (int)getpid());
    mkdir(dir, 0755);
    char cache[300], grid[300], resA[300], resB[300], resC[300], fileA[400], fileB[400], fileC[400],
        outA[300], outB[300], outC[300];
    snprintf(cache, sizeof cache, "%s/cache", dir);
    setenv("COMPACTER_CACHE", cache, 1);
    snprintf(grid, sizeof grid, "%s/grid.json", dir);
    write_grid(grid, "syn-mrpc", "full");
    snprintf(resA, sizeof resA, "%s/A", dir);
    snprintf(resB, sizeof resB, "%s/B", dir);
    snprintf(resC, sizeof resC, "%s/C", dir);
    snprintf(fileA, sizeof fileA, "%s/rtest.jsonl", resA);
    snprintf(fileB, sizeof fileB, "%s/rtest.jsonl", resB);
    snprintf(fileC, sizeof fileC, "%s/rtest.jsonl", resC);
    snprintf(outA, sizeof outA, "%s/outA", dir);
    snprintf(outB, sizeof outB, "%s/outB", dir);
    snprintf(outC, sizeof outC, "%s/outC", dir);
    int counts[4], complete, partial;

    /* 1. uninterrupted (the cache is made here: tiny model, synthetic data) */
    snprintf(cmd, sizeof cmd, "%s run %s --results %s 2>&1", compacter_bin(), grid, resA);
    double t0 = now();
    int rc = run_capture(cmd, out, sizeof out);
    double dur = now() - t0;
    CHECK(rc == 0, "uninterrupted run failed: %s", out);
    count_lines(fileA, counts, &complete, &partial);
    CHECK(complete == 4 && partial == 0, "expected 4 complete lines, got %d (+%d partial)",
          complete, partial);
    for (int i = 0; i < 4; i++)
        CHECK(counts[i] == 1, "run %s appears %d times", ids[i], counts[i]);
    snprintf(cmd, sizeof cmd,
             "grep -c '\"best_epoch\":[1-4],.*\"validation\":{\"score\":.*\"test\":{\"score\":' %s",
             fileA);
    CHECK(run_capture(cmd, out, sizeof out) == 0 && atoi(out) == 4, "lines lack best_epoch/validation/test: %s", out);
    snprintf(cmd, sizeof cmd,
             "grep -c "
             "'\"base_params\":[1-9].*\"trainable_params\":[1-9].*\"epochs\":\\[{\"epoch\":1,.*{"
             "\"epoch\":2,"
             ".*\"peak_memory_bytes\":[1-9].*\"precision\":\"fp32\".*\"git_rev\":\"' %s",
             fileA);
    CHECK(run_capture(cmd, out, sizeof out) == 0 && atoi(out) == 4, "lines lack params/epochs/memory/git_rev: %s", out);
    static char rowsA[16384], rowsB[16384], rowsC[16384];
    CHECK(report_rows(fileA, outA, rowsA, sizeof rowsA) == 0, "report A failed: %s", out);
    CHECK(strstr(rowsA, "| RTE |"), "report A has no rte column:\n%s", rowsA);
    printf("  ok uninterrupted: 4 runs in %.1fs\n%s", dur, rowsA);

    /* a second invocation does nothing */
    snprintf(cmd, sizeof cmd, "%s run %s --results %s 2>&1", compacter_bin(), grid, resA);
    CHECK(run_capture(cmd, out, sizeof out) == 0 && strstr(out, "4 already in") && strstr(out, "0 runs finished now"),
          "rerun: %s", out);
    count_lines(fileA, counts, &complete, &partial);
    CHECK(complete == 4, "rerun added lines: %d", complete);

    /* 2. killed at random points, then completed */
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    srand(seed);
    int kills = 0;
    for (int k = 0; k < 5; k++) {
        double delay = 0.05 + (dur * 0.7) * (double)rand() / RAND_MAX;
        int killed = run_and_kill(grid, resB, delay);
        printf("  kill %d after %.2fs (seed %u): %s\n", k + 1, delay, seed,
               killed ? "killed" : "had finished");
        kills += killed;
        count_lines(fileB, counts, &complete, &partial);
        for (int i = 0; i < 4; i++)
            CHECK(counts[i] <= 1, "after kill %d run %s appears %d times", k + 1, ids[i],
                  counts[i]);
    }
    snprintf(cmd, sizeof cmd, "%s run %s --results %s 2>&1", compacter_bin(), grid, resB);
    CHECK(run_capture(cmd, out, sizeof out) == 0, "completing run failed: %s", out);
    count_lines(fileB, counts, &complete, &partial);
    CHECK(complete == 4 && partial == 0, "after kills: %d complete lines, %d partial", complete,
          partial);
    for (int i = 0; i < 4; i++)
        CHECK(counts[i] == 1, "after kills run %s appears %d times", ids[i], counts[i]);
    CHECK(report_rows(fileB, outB, rowsB, sizeof rowsB) == 0, "report B failed: %s", out);
    CHECK(!strcmp(rowsA, rowsB), "killed+resumed table differs:\n%s\nvs uninterrupted\n%s", rowsB,
          rowsA);
    printf("  ok %d kills, resumed: every run once, identical table\n", kills);

    /* 3. a truncated last line: cut it, redo that run, do not duplicate */
    snprintf(cmd, sizeof cmd,
             "cp -r %s %s && f=%s && sz=$(stat -c %%s $f) && last=$(tail -n 1 $f | wc -c) && "
             "truncate -s $((sz - last / 2)) $f",
             resA, resC, fileC);
    CHECK(system(cmd) == 0, "making the truncated file");
    count_lines(fileC, counts, &complete, &partial);
    CHECK(complete == 3 && partial == 1, "truncation setup: %d complete, %d partial", complete,
          partial);
    snprintf(cmd, sizeof cmd, "%s run %s --results %s 2>&1", compacter_bin(), grid, resC);
    CHECK(run_capture(cmd, out, sizeof out) == 0 && strstr(out, "1 runs finished now") && strstr(out, "truncated"),
          "truncated: %s", out);
    count_lines(fileC, counts, &complete, &partial);
    CHECK(complete == 4 && partial == 0, "after truncation: %d complete, %d partial", complete,
          partial);
    for (int i = 0; i < 4; i++)
        CHECK(counts[i] == 1, "after truncation run %s appears %d times", ids[i], counts[i]);
    CHECK(report_rows(fileC, outC, rowsC, sizeof rowsC) == 0 && !strcmp(rowsA, rowsC),
          "table after the redo differs:\n%s", rowsC);
    printf("  ok truncated last line: cut, the run redone once\n");

    /* 3b. two processes over the same grid (make's JOBS, no --shard): they share its runs
     * through the run locks; each run is done once, by one of them */
    char resE[300], fileE[400], outE[300];
    static char rowsE[16384];
    snprintf(resE, sizeof resE, "%s/E", dir);
    snprintf(fileE, sizeof fileE, "%s/rtest.jsonl", resE);
    snprintf(outE, sizeof outE, "%s/outE", dir);
    snprintf(cmd, sizeof cmd, "(%s run %s --results %s --no-progress-bar & %s run %s --results %s --no-progress-bar & wait) 2>&1",
             compacter_bin(), grid, resE, compacter_bin(), grid, resE);
    CHECK(run_capture(cmd, out, sizeof out) == 0, "two processes: %s", out);
    count_lines(fileE, counts, &complete, &partial);
    CHECK(complete == 4 && partial == 0, "two processes: %d complete lines, %d partial", complete, partial);
    for (int i = 0; i < 4; i++)
        CHECK(counts[i] == 1, "two processes: run %s appears %d times", ids[i], counts[i]);
    CHECK(report_rows(fileE, outE, rowsE, sizeof rowsE) == 0 && !strcmp(rowsA, rowsE),
          "two processes: the table differs:\n%s", rowsE);
    printf("  ok two processes sharing the grid: every run once, identical table\n");

    /* 4. unknown method / task: a clear error before anything trains */
    char bad[300], resD[300];
    snprintf(bad, sizeof bad, "%s/bad.json", dir);
    snprintf(resD, sizeof resD, "%s/D", dir);
    write_grid(bad, "syn-mrpc", "adapterx");
    snprintf(cmd, sizeof cmd, "%s run %s --results %s 2>&1", compacter_bin(), bad, resD);
    CHECK(run_capture(cmd, out, sizeof out) != 0 && strstr(out, "unknown method 'adapterx'") &&
              strstr(out, "nothing was trained"),
          "unknown method: %s", out);
    CHECK(access(resD, F_OK) != 0, "unknown method: %s was created", resD);
    write_grid(bad, "syn-nope", "full");
    CHECK(run_capture(cmd, out, sizeof out) != 0 && strstr(out, "syn-nope") && strstr(out, "unknown"), "unknown task: %s",
          out);
    CHECK(access(resD, F_OK) != 0, "unknown task: %s was created", resD);
    printf("  ok unknown method / task refused before training\n");

    /* 5. accumulation with an odd number of micro-batches: 120 examples at batch 8 are 15, so
     * 2 accumulated make 7 steps an epoch (transformers 4.6's floor, the 15th carried): the
     * evaluations fall at the epochs' ends, steps 7 and 14 of 14 */
    {
        char acc[300], resE[300], fileE[400];
        snprintf(acc, sizeof acc, "%s/accum.json", dir);
        snprintf(resE, sizeof resE, "%s/E", dir);
        snprintf(fileE, sizeof fileE, "%s/atest.jsonl", resE);
        FILE *f = fopen(acc, "w");
        fprintf(f, "{\"experiment\": \"atest\", \"presets\": {\"tiny\": {\n"
                   "  \"model\": \"tiny\", \"seeds\": [42], \"batch\": 8, \"warmup\": 2, \"max_source_length\": 48,\n"
                   "  \"threads\": 1, \"tiny_model\": {\"d_model\": 16, \"d_kv\": 4, \"d_ff\": 32, \"num_heads\": 2,\n"
                   "  \"num_layers\": 1, \"num_decoder_layers\": 1, \"pretrain_steps\": 5, \"pretrain_batch\": 4},\n"
                   "  \"synthetic\": {\"train\": 120, \"dev\": 40},\n"
                   "  \"tasks\": [{\"name\": \"syn-rte\", \"epochs\": 2}],\n"
                   "  \"methods\": [{\"name\": \"full\", \"lr\": [0.003], \"grad_accum\": 2}]\n}}}\n");
        fclose(f);
        snprintf(cmd, sizeof cmd, "%s run %s --results %s --no-progress-bar 2>&1", compacter_bin(), acc, resE);
        CHECK(run_capture(cmd, out, sizeof out) == 0, "accumulation grid: %s", out);
        static char line[1 << 16];
        FILE *r = fopen(fileE, "r");
        int got = r && fgets(line, sizeof line, r) != NULL;
        if (r) fclose(r);
        CHECK(got && strstr(line, "\"total_steps\":14") && strstr(line, "{\"epoch\":1,\"step\":7") &&
                  strstr(line, "{\"epoch\":2,\"step\":14") && !strstr(line, "\"epoch\":3"),
              "accumulation: evaluations not at steps 7 and 14 of 14: %s", got ? line : "(no results line)");
        printf("  ok grad_accum 2 over 15 micro-batches: 7 steps an epoch, evaluated at steps 7 and 14\n");

        /* 6. eval_every 4 over 15 steps: evaluations at 4, 8 and 12 only (the reference's
         * Trainer never evaluates the steps after the last multiple); eval_every 20: only the
         * last step, nothing having been evaluated before it */
        const int every[2] = {4, 20};
        for (int k = 0; k < 2; k++) {
            char resF[300], fileF[400];
            snprintf(resF, sizeof resF, "%s/F%d", dir, k);
            snprintf(fileF, sizeof fileF, "%s/atest.jsonl", resF);
            f = fopen(acc, "w");
            fprintf(f,
                    "{\"experiment\": \"atest\", \"presets\": {\"tiny\": {\n"
                    "  \"model\": \"tiny\", \"seeds\": [42], \"batch\": 8, \"warmup\": 2, \"max_source_length\": 48,\n"
                    "  \"eval_every\": %d, \"threads\": 1, \"tiny_model\": {\"d_model\": 16, \"d_kv\": 4, \"d_ff\": 32,\n"
                    "  \"num_heads\": 2, \"num_layers\": 1, \"num_decoder_layers\": 1, \"pretrain_steps\": 5,\n"
                    "  \"pretrain_batch\": 4}, \"synthetic\": {\"train\": 120, \"dev\": 40},\n"
                    "  \"tasks\": [{\"name\": \"syn-rte\", \"epochs\": 1}],\n"
                    "  \"methods\": [{\"name\": \"full\", \"lr\": [0.003]}]\n}}}\n",
                    every[k]);
            fclose(f);
            snprintf(cmd, sizeof cmd, "%s run %s --results %s --no-progress-bar 2>&1", compacter_bin(), acc, resF);
            CHECK(run_capture(cmd, out, sizeof out) == 0, "eval_every %d grid: %s", every[k], out);
            r = fopen(fileF, "r");
            got = r && fgets(line, sizeof line, r) != NULL;
            if (r) fclose(r);
            int ok = got && strstr(line, "\"total_steps\":15");
            if (k == 0)
                ok = ok && strstr(line, "\"step\":4,") && strstr(line, "\"step\":8,") && strstr(line, "\"step\":12,") &&
                     !strstr(line, "\"step\":15,");
            else
                ok = ok && strstr(line, "\"step\":15,") && !strstr(line, "\"step\":4,");
            CHECK(ok, "eval_every %d over 15 steps: wrong evaluation points: %s", every[k],
                  got ? line : "(no results line)");
        }
        printf("  ok eval_every 4 over 15 steps: evaluated at 4, 8, 12 (not 15); eval_every 20: at 15\n");
    }

    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) fprintf(stderr, "cleanup failed\n");
    CHECK_DONE();
}
