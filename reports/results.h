/* results.h: reading a results file (results/<experiment>.jsonl, one JSON object per
 * finished run; format in docs/RESULTS_FORMAT.md) into flat records. A last line without
 * its newline that does not parse is a run killed while writing: it is skipped with a
 * warning. Any other malformed line, or a line missing a field the report needs, is an
 * error naming the file, the line and the field. */
#ifndef COMPACTER_REPORTS_RESULTS_H
#define COMPACTER_REPORTS_RESULTS_H

#include <stddef.h>

#define RESULT_MAX_METRICS 4

struct result_run {
    int line; /* 1-based line in the file */
    const char *experiment, *preset, *model, *method, *task, *device, *precision, *date;
    const char *label; /* "label" when given, else method: the report's row key */
    char config[512];  /* lr / reduction factor / batch / options / overrides: one grid point */
    char overrides[256]; /* the run's --set overrides, "key=value,..." sorted by key; "" none */
    int seed;
    long train_size; /* -1 when absent */
    long long trainable_params, base_params, peak_memory_bytes; /* peak -1 when absent */
    /* table1/table2/lowresource */
    double val_score, test_score;
    int n_metrics;
    const char *metric_names[RESULT_MAX_METRICS];
    double metric_values[RESULT_MAX_METRICS];
    /* efficiency */
    double epoch_time_s;
    long batch_size;
};

struct results {
    const char *path;
    struct result_run *runs;
    size_t n;
    void **docs; /* the parsed lines (own the strings above) */
    size_t n_docs;
    int truncated_line; /* 0, or the line number of a skipped truncated last line */
};

/* Load and validate every line. Lines of experiment "efficiency" need the Table 3 fields,
 * the others the table fields (validation.score, test.score, test.metrics). */
int results_load(const char *path, struct results *out);
void results_free(struct results *r);

#endif
