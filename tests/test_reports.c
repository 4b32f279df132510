/* test_reports.c: `compacter report` on hand-written results fixtures
 * (tests/fixtures/reports/): the Markdown and CSV of Table 1 and Table 3 must equal the
 * hand-written expected files byte for byte; the low-resource table; error paths
 * (missing file, malformed middle line, missing field, mixed presets); gnuplot failing
 * or absent (through $COMPACTER_GNUPLOT, so this test needs no gnuplot). */
#include <stdlib.h>
#include <unistd.h>

#include "core/error.h"
#include "reports/report.h"
#include "tests/check.h"

#define FIX "tests/fixtures/reports/"


static void same_file(const char *got_path, const char *want_path) {
    char *got = file_text(got_path, NULL), *want = file_text(want_path, NULL);
    CHECK(got && want, "read %s and %s", got_path, want_path);
    if (got && want) {
        int same = !strcmp(got, want);
        CHECK(same, "%s differs from %s", got_path, want_path);
        if (!same) fprintf(stderr, "---- got:\n%s---- want:\n%s----\n", got, want);
    }
    free(got);
    free(want);
}

static int has_note(const struct report_summary *s, const char *frag) {
    for (int i = 0; i < s->n_notes; i++)
        if (strstr(s->notes[i], frag)) return 1;
    return 0;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void expect_error(const char *dir, const char *text, const char *frag) {
    char path[600];
    snprintf(path, sizeof path, "%s/bad.jsonl", dir);
    write_text(path, text);
    struct report_options o;
    report_options_default(&o);
    o.out_dir = dir;
    o.figures = 0;
    struct report_summary s;
    error_clear();
    CHECK(report_results_file(path, &o, &s) == -1, "expected failure: %s", frag);
    CHECK(strstr(error_message(), frag) != NULL, "message '%s' lacks '%s'", error_message(), frag);
    CHECK(strstr(error_message(), path) != NULL, "message '%s' lacks the file", error_message());
}

#define LINE(method, task, extra)                                                                 \
    "{\"experiment\":\"table1\",\"preset\":\"tiny\",\"method\":\"" method "\",\"task\":\"" task     \
    "\",\"base_params\":10,\"trainable_params\":1,\"validation\":{\"score\":1},\"test\":{"        \
    "\"score\":1,\"metrics\":{\"accuracy\":1}}" extra "}\n"

int main(void) {
    char dir[] = "/tmp/test_reports_XXXXXX";
    if (!mkdtemp(dir)) SKIP("cannot create a temporary folder");
    char path[600], want[600];
    struct report_options o;
    struct report_summary s;
    report_options_default(&o);
    o.out_dir = dir;
    o.figures = 0;

    /* Table 1: selection by validation, seeds averaged, truncated last line skipped. */
    CHECK(report_results_file(FIX "table1.jsonl", &o, &s) == 0, "%s", error_message());
    CHECK(has_note(&s, "table1.jsonl:15: truncated last line"), "truncated-line warning");
    snprintf(path, sizeof path, "%s/table1.md", dir);
    same_file(path, FIX "expected_table1.md");
    snprintf(path, sizeof path, "%s/table1.csv", dir);
    same_file(path, FIX "expected_table1.csv");
    snprintf(path, sizeof path, "%s/table1.tex", dir);
    char *tex = file_text(path, NULL);
    CHECK(tex && strstr(tex, "Adapter & 1.006 & 0.300\\% & 84.25/81.50 & 61.25 & 72.06 \\\\"),
          "LaTeX row");
    CHECK(tex && strstr(tex, "\\#Total params") && strstr(tex, "\\label{tab:table1}"), "LaTeX head");
    free(tex);

    /* Table 3. */
    CHECK(report_results_file(FIX "efficiency.jsonl", &o, &s) == 0, "%s", error_message());
    snprintf(path, sizeof path, "%s/efficiency.md", dir);
    same_file(path, FIX "expected_efficiency.md");
    snprintf(path, sizeof path, "%s/efficiency.csv", dir);
    same_file(path, FIX "expected_efficiency.csv");

    /* Low-resource: one task, scores 50 + n/100 (+5 for compacter). */
    o.md = o.tex = 0;
    CHECK(report_results_file(FIX "lowresource.jsonl", &o, &s) == 0, "%s", error_message());
    snprintf(path, sizeof path, "%s/lowresource.csv", dir);
    char *csv = file_text(path, NULL);
    CHECK(csv && strstr(csv, "method,n100,n500\nfull,51.00,55.00\ncompacter,56.00,60.00\n"),
          "lowresource csv: %s", csv ? csv : "(none)");
    free(csv);
    snprintf(path, sizeof path, "%s/lowresource.md", dir);
    CHECK(access(path, F_OK) != 0, "--format csv wrote no Markdown");
    o.md = o.tex = 1;

    /* --format parsing. */
    struct report_options f;
    report_options_default(&f);
    CHECK(report_parse_formats("md,csv", &f) == 0 && f.md && !f.tex && f.csv, "md,csv");
    CHECK(report_parse_formats("md,pdf", &f) == -1 && strstr(error_message(), "md,pdf"), "pdf");

    /* Error paths. */
    CHECK(report_results_file("/nonexistent/r.jsonl", &o, &s) == -1 &&
              strstr(error_message(), "/nonexistent/r.jsonl"),
          "missing file: %s", error_message());
    expect_error(dir, LINE("full", "rte", "") "{\"experiment\":\"table1\",oops}\n" LINE("full", "mrpc", ""),
                 "bad.jsonl:2: malformed JSON");
    /* A malformed last line that did end with its newline is an error, not a truncation. */
    expect_error(dir, LINE("full", "rte", "") "{\"experiment\":\n", "bad.jsonl:2: malformed JSON");
    expect_error(dir, LINE("full", "rte", "") "[1,2]\n", "bad.jsonl:2: expected a JSON object");
    expect_error(dir,
                 "{\"experiment\":\"table1\",\"method\":\"full\",\"task\":\"rte\","
                 "\"base_params\":10,\"trainable_params\":1,\"validation\":{\"score\":1},"
                 "\"test\":{\"metrics\":{\"accuracy\":1}}}\n",
                 "bad.jsonl:1: missing field test.score");
    expect_error(dir, LINE("full", "rte", ",\"trainable_params\":\"1\""),
                 "bad.jsonl:1: field trainable_params: expected an integer");
    expect_error(dir, LINE("full", "rte", "") LINE("adapter", "rte", ",\"preset\":\"paper\""),
                 "choose one with --preset");
    expect_error(dir, "", "no finished runs");

    /* gnuplot failing is an error naming gnuplot and the script; the tables are written. */
    o.figures = 1;
    setenv("COMPACTER_GNUPLOT", "/bin/false", 1);
    snprintf(path, sizeof path, "%s/table1.md", dir);
    unlink(path);
    CHECK(report_results_file(FIX "table1.jsonl", &o, &s) == -1, "gnuplot failure reported");
    CHECK(strstr(error_message(), "gnuplot") && strstr(error_message(), "exit status 1") &&
              strstr(error_message(), "figure2_table1.gp"),
          "%s", error_message());
    CHECK(access(path, F_OK) == 0, "tables written before the figure");
    /* gnuplot absent: a warning, the script is kept, success. */
    setenv("COMPACTER_GNUPLOT", "/nonexistent/gnuplot", 1);
    CHECK(report_results_file(FIX "table1.jsonl", &o, &s) == 0, "%s", error_message());
    CHECK(has_note(&s, "gnuplot not found"), "missing-gnuplot warning");
    snprintf(want, sizeof want, "%s/figure2_table1.gp", dir);
    CHECK(access(want, F_OK) == 0, "script written");

    /* --set overrides: lines of one preset with different overrides are never mixed; the
     * report picks one set (none: the preset's own runs) and its title names it */
    unsetenv("COMPACTER_GNUPLOT");
    expect_error(dir, LINE("full", "rte", "") LINE("full", "rte", ",\"overrides\":{\"epochs\":2}"),
                 "different --set overrides");
    snprintf(path, sizeof path, "%s/mixed.jsonl", dir);
    write_text(path, LINE("full", "rte", ",\"overrides\":{\"max_train_samples\":32,\"epochs\":2}")
                         LINE("full", "rte", ""));
    o.overrides = "epochs=2,max_train_samples=32";
    CHECK(report_results_file(path, &o, &s) == 0, "%s", error_message());
    snprintf(want, sizeof want, "%s/table1.md", dir);
    char *md = file_text(want, NULL);
    CHECK(md && strstr(md, "preset tiny --set epochs=2,max_train_samples=32"), "title names the overrides");
    free(md);
    o.overrides = "";
    CHECK(report_results_file(path, &o, &s) == 0, "%s", error_message());
    md = file_text(want, NULL);
    CHECK(md && strstr(md, "# Table 1: table1, preset tiny\n"), "the preset's own runs: %.80s", md ? md : "");
    free(md);
    o.overrides = "epochs=3";
    CHECK(report_results_file(path, &o, &s) == -1 && strstr(error_message(), "with --set epochs=3"), "%s",
          error_message());
    /* a word-valued override (precision) keeps apart from the integer ones */
    write_text(path, LINE("full", "rte", ",\"overrides\":{\"precision\":\"bf16\",\"epochs\":2}")
                         LINE("full", "rte", ",\"overrides\":{\"epochs\":2}"));
    o.overrides = "epochs=2,precision=bf16";
    CHECK(report_results_file(path, &o, &s) == 0, "%s", error_message());
    md = file_text(want, NULL);
    CHECK(md && strstr(md, "preset tiny --set epochs=2,precision=bf16"), "title names the precision override");
    free(md);
    o.overrides = NULL;
    expect_error(dir, LINE("full", "rte", ",\"overrides\":[1]"), "field overrides: expected an object");
    expect_error(dir, LINE("full", "rte", ",\"overrides\":{\"precision\":true}"),
                 "field overrides.precision: expected an integer or a string");

    /* STS-B under the code's and the paper's rounding (config.stsb_step 0.1 and 0.2) are two
     * configurations, never pooled as seeds: the better validation one is reported (80, not
     * the mean 70) */
#define STSB(step, val, test)                                                                                    \
    "{\"experiment\":\"table1\",\"preset\":\"tiny\",\"method\":\"full\",\"task\":\"stsb\",\"base_params\":10,"           \
    "\"trainable_params\":1,\"config\":{\"stsb_step\":" step "},\"validation\":{\"score\":" val "},\"test\":{\"score\":" \
    test ",\"metrics\":{\"pearson\":" test ",\"spearmanr\":" test "}}}\n"
    write_text(path, STSB("0.1", "50", "60") STSB("0.2", "70", "80"));
    CHECK(report_results_file(path, &o, &s) == 0, "%s", error_message());
    md = file_text(want, NULL);
    CHECK(md && strstr(md, "80.00/80.00") && !strstr(md, "70.00"), "STS-B roundings pooled: %s", md ? md : "");
    free(md);

    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
    CHECK_DONE();
}
