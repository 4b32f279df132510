/* progress.c: progress bar / log lines for the runner. */
#include "experiments/progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_format_seconds(double s, char *buf, int cap) {
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, (size_t)cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        snprintf(buf, (size_t)cap, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, (size_t)cap, "%lds", t);
}

void progress_begin(struct progress *p, int tty, int run_index, int n_runs, const char *run_id,
                    int64_t step, int64_t total_steps) {
    memset(p, 0, sizeof *p);
    p->tty = tty;
    p->run_index = run_index;
    p->n_runs = n_runs;
    p->run_id = run_id;
    p->step = p->first_step = step;
    p->total_steps = total_steps;
    p->t_start = now();
}

static void eta(const struct progress *p, char *buf, int cap) {
    int64_t done = p->step - p->first_step;
    if (done <= 0) {
        snprintf(buf, (size_t)cap, "?");
        return;
    }
    double per = (now() - p->t_start) / (double)done;
    progress_format_seconds(per * (double)(p->total_steps - p->step), buf, cap);
}

static void draw(struct progress *p) {
    char e[32];
    eta(p, e, sizeof e);
    int w = 20, fill = p->total_steps ? (int)(w * p->step / p->total_steps) : w;
    fprintf(stderr, "\r\033[K[%d/%d] %s [%.*s%*s] step %lld/%lld loss %.4f eta %s", p->run_index,
            p->n_runs, p->run_id, fill, "####################", w - fill, "", (long long)p->step,
            (long long)p->total_steps, p->loss, e);
    fflush(stderr);
    p->drawn = 1;
    p->last_draw = now();
}

void progress_step(struct progress *p, int64_t step, double loss) {
    p->step = step;
    p->loss = loss;
    if (p->tty) {
        if (now() - p->last_draw > 0.1 || step == p->total_steps) draw(p);
        return;
    }
    int64_t every = p->total_steps / 10 > 0 ? p->total_steps / 10 : 1;
    if (step % every == 0 || step == p->total_steps) {
        char e[32];
        eta(p, e, sizeof e);
        fprintf(stderr, "[%d/%d] %s: step %lld/%lld loss %.4f eta %s\n", p->run_index, p->n_runs,
                p->run_id, (long long)step, (long long)p->total_steps, loss, e);
    }
}

void progress_log(struct progress *p, const char *fmt, ...) {
    if (p->tty && p->drawn) fprintf(stderr, "\r\033[K");
    fprintf(stderr, "[%d/%d] %s: ", p->run_index, p->n_runs, p->run_id);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (p->tty && p->drawn) draw(p);
}

void progress_end(struct progress *p) {
    if (p->tty && p->drawn) fprintf(stderr, "\r\033[K");
    p->drawn = 0;
}
