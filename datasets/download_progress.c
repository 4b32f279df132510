/* download_progress.c: the terminal progress bar for downloads. */
#include "datasets/download_progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void human(double b, char *out, size_t cap) {
    const char *u[] = {"B", "kB", "MB", "GB", "TB"};
    int i = 0;
    while (b >= 1000 && i < 4) b /= 1000, i++;
    snprintf(out, cap, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

void download_progress_bar(void *user, const char *label, int64_t done, int64_t total, int final) {
    static char cur[256];
    static double t_start, t_last;
    static int64_t first_done;
    if (!isatty(STDERR_FILENO)) return;
    double t = now_s();
    if (strncmp(cur, label, sizeof cur - 1) != 0) { /* a new file */
        snprintf(cur, sizeof cur, "%s", label);
        t_start = t;
        t_last = 0;
        first_done = done;
    }
    if (!final && t - t_last < 0.1) return;
    t_last = t;
    double el = t - t_start, rate = el > 0 ? (double)(done - first_done) / el : 0;
    char d[32], tot[32], r[32], eta[32] = "";
    human((double)done, d, sizeof d);
    human(total > 0 ? (double)total : 0, tot, sizeof tot);
    human(rate, r, sizeof r);
    char bar[31];
    int w = 30, fill = total > 0 ? (int)((double)done / (double)total * w) : 0;
    if (fill > w) fill = w;
    for (int i = 0; i < w; i++) bar[i] = i < fill ? '=' : ' ';
    bar[w] = 0;
    if (total > 0 && rate > 0 && !final) {
        long s = (long)((double)(total - done) / rate);
        snprintf(eta, sizeof eta, " ETA %ld:%02ld", s / 60, s % 60);
    }
    fprintf(stderr, "\r%-28.28s [%s] %s / %s  %s/s%s\033[K", label, bar, d, total > 0 ? tot : "?", r,
            eta);
    if (final) {
        fputc('\n', stderr);
        cur[0] = 0;
    }
    fflush(stderr);
}
