/* test_report_figures.c: gnuplot draws Figure 2 (from the Table 1 fixture) and Figure 4
 * (from the low-resource fixture) as non-empty PNG and SVG files. SKIPs when gnuplot is not
 * installed. */
#include <stdlib.h>
#include <unistd.h>

#include "core/error.h"
#include "reports/figures.h"
#include "reports/report.h"
#include "tests/check.h"

static void image_ok(const char *dir, const char *name, const char *magic) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    char head[512] = {0};
    size_t n = f ? fread(head, 1, sizeof head - 1, f) : 0;
    if (f) fclose(f);
    CHECK(n > 0, "%s is missing or empty", path);
    CHECK(n > 0 && memmem(head, n, magic, strlen(magic)) != NULL, "%s does not start as expected",
          path);
}

int main(void) {
    unsetenv("COMPACTER_GNUPLOT");
    if (!figure_gnuplot_path()) SKIP("gnuplot is not installed (Debian: gnuplot-nox)");
    char dir[] = "/tmp/test_report_figures_XXXXXX";
    if (!mkdtemp(dir)) SKIP("cannot create a temporary folder");
    struct report_options o;
    struct report_summary s;
    report_options_default(&o);
    o.out_dir = dir;
    o.md = o.tex = 0;
    CHECK(report_results_file("tests/fixtures/reports/table1.jsonl", &o, &s) == 0, "%s",
          error_message());
    image_ok(dir, "figure2_table1.png", "PNG");
    image_ok(dir, "figure2_table1.svg", "<svg");
    CHECK(report_results_file("tests/fixtures/reports/lowresource.jsonl", &o, &s) == 0, "%s",
          error_message());
    image_ok(dir, "figure4_lowresource.png", "PNG");
    image_ok(dir, "figure4_lowresource.svg", "<svg");
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
    CHECK_DONE();
}
