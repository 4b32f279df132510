/* report.h: `compacter report`: from one results file to the paper's tables and figures.
 * The experiment field of the lines picks the report: "efficiency" -> Table 3;
 * "lowresource" (or lines with train_size) -> score vs training-set size table + Figure 4;
 * anything else (table1, table2) -> the Table 1/2 layout + Figure 2. Selection: per
 * method (the line's "label", else "method") and task (and train size), the grid point
 * (lr, reduction factor, options) with the best validation score, averaged over seeds,
 * reports its test scores averaged over the same seeds. Outputs go to
 * <out_dir>/<experiment>.{md,tex,csv} (atomic writes) and figures to
 * <out_dir>/figure{2,4}_<experiment>.{dat,gp,png,svg}. A report covers one preset and one set
 * of `compacter run --set` overrides (the lines' "overrides"): runs shrunk by overrides are
 * never mixed with the preset's own, and the title names the overrides. */
#ifndef COMPACTER_REPORTS_REPORT_H
#define COMPACTER_REPORTS_REPORT_H

struct report_options {
    const char *out_dir; /* "reports/out" */
    int md, tex, csv;    /* formats to write */
    int figures;         /* run gnuplot */
    const char *preset;  /* NULL: the file must hold one preset */
    const char *overrides; /* NULL: the file (or the preset's lines) must hold one set of --set
                              overrides; "" lines without overrides; else "key=value,..."
                              sorted by key (experiment_parse_sets' canonical order) */
};
void report_options_default(struct report_options *o);
/* "md,tex,csv" (any subset). */
int report_parse_formats(const char *s, struct report_options *o);

#define REPORT_MAX_NOTES 16
struct report_summary {
    int n_notes;
    char notes[REPORT_MAX_NOTES][1400]; /* "wrote ...", "warning: ..." lines for the user */
};

/* 0 on success (the notes say what was written and any warning: a skipped truncated last
 * line, gnuplot not installed); -1 with the error set otherwise (a gnuplot failure is an
 * error, after the tables were written). */
int report_results_file(const char *results_path, const struct report_options *o,
                        struct report_summary *s);

#endif
