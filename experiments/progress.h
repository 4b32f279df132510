/* progress.h: the runner's progress display on stderr: on a terminal one line per run
 * redrawn in place (run i/N, id, bar, step, loss, ETA); otherwise plain log lines (a few
 * per run, every tenth of its steps) that read well in a log file. */
#ifndef COMPACTER_EXPERIMENTS_PROGRESS_H
#define COMPACTER_EXPERIMENTS_PROGRESS_H

#include <stdint.h>

struct progress {
    int tty;
    int run_index, n_runs; /* 1-based */
    const char *run_id;
    int64_t step, total_steps, first_step; /* first_step: where this process started */
    double loss;                           /* last step's loss */
    double t_start, last_draw;
    int drawn; /* a partial line is on the terminal */
};

void progress_begin(struct progress *p, int tty, int run_index, int n_runs, const char *run_id,
                    int64_t step, int64_t total_steps);
void progress_step(struct progress *p, int64_t step, double loss);
/* A full line (the partial bar line is cleared first and redrawn later). */
void progress_log(struct progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void progress_end(struct progress *p);
/* "1m05s", "42s", "2h03m" */
void progress_format_seconds(double s, char *buf, int cap);

#endif
