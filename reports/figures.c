/* figures.c: write gnuplot data + script, run gnuplot, move the images into place. */
#include "reports/figures.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "reports/text.h"

const char *figure_gnuplot_path(void) {
    static char buf[4096];
    const char *g = getenv("COMPACTER_GNUPLOT");
    if (!g || !*g) g = "gnuplot";
    if (strchr(g, '/')) return access(g, X_OK) == 0 ? g : NULL;
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t l = colon ? (size_t)(colon - path) : strlen(path);
        snprintf(buf, sizeof buf, "%.*s/%s", (int)l, l ? path : ".", g);
        struct stat st;
        if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0) return buf;
        path += l + (colon ? 1 : 0);
    }
    return NULL;
}

/* First line of `path` that mentions an error (else its first line). */
static void first_error_line(const char *path, char *out, size_t cap) {
    out[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!out[0] && line[0]) snprintf(out, cap, "%s", line);
        if (strstr(line, "rror") || strstr(line, "annot")) {
            snprintf(out, cap, "%s", line);
            break;
        }
    }
    fclose(f);
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

int figure_render(const char *out_dir, const char *base, const char *dat, const char *plot_body,
                  char *note, size_t note_cap) {
    char path[4096], log[4096];
    snprintf(path, sizeof path, "%s/%s.dat", out_dir, base);
    if (write_atomic(path, dat, strlen(dat))) return -1;
    struct sbuf gp = {0};
    sb_printf(&gp,
              "# %s.gp: written by `compacter report`; run `gnuplot %s.gp` in this folder.\n"
              "if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {\n"
              "    set terminal pngcairo size 900,600 noenhanced font \"sans,10\"\n"
              "} else {\n"
              "    set terminal png size 900,600 noenhanced\n"
              "}\n"
              "set output \"%s.png.tmp\"\n"
              "%s"
              "set terminal svg size 900,600 noenhanced\n"
              "set output \"%s.svg.tmp\"\n"
              "replot\n"
              "unset output\n",
              base, base, base, plot_body, base);
    snprintf(path, sizeof path, "%s/%s.gp", out_dir, base);
    int rc = gp.oom ? error_set("%s: out of memory", path) : write_atomic(path, gp.p, gp.n);
    sb_free(&gp);
    if (rc) return -1;

    const char *g = figure_gnuplot_path();
    if (!g) {
        snprintf(note, note_cap,
                 "gnuplot not found (install gnuplot-nox, or set COMPACTER_GNUPLOT): %s/%s.png "
                 "and .svg not drawn; the script is %s/%s.gp",
                 out_dir, base, out_dir, base);
        return 1;
    }
    char gbin[4096], script[512];
    snprintf(gbin, sizeof gbin, "%s", g);
    snprintf(script, sizeof script, "%s.gp", base);
    snprintf(log, sizeof log, "%s/%s.gnuplot.log", out_dir, base);
    pid_t pid = fork();
    if (pid < 0) return error_set("fork for gnuplot failed: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        if (chdir(out_dir)) _exit(126);
        execl(gbin, gbin, script, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return error_set("waitpid for gnuplot failed: %s", strerror(errno));
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    char png_tmp[4096], svg_tmp[4096], png[4096], svg[4096];
    snprintf(png_tmp, sizeof png_tmp, "%s/%s.png.tmp", out_dir, base);
    snprintf(svg_tmp, sizeof svg_tmp, "%s/%s.svg.tmp", out_dir, base);
    snprintf(png, sizeof png, "%s/%s.png", out_dir, base);
    snprintf(svg, sizeof svg, "%s/%s.svg", out_dir, base);
    if (code != 0 || file_size(png_tmp) <= 0 || file_size(svg_tmp) <= 0) {
        char first[512];
        first_error_line(log, first, sizeof first);
        unlink(png_tmp);
        unlink(svg_tmp);
        if (code != 0)
            return error_set("gnuplot (%s) failed on %s/%s.gp with exit status %d: %s (full log: "
                             "%s)",
                             gbin, out_dir, base, code, first[0] ? first : "no output", log);
        return error_set("gnuplot (%s) wrote no image for %s/%s.gp: %s (full log: %s)", gbin,
                         out_dir, base, first[0] ? first : "no output", log);
    }
    if (rename(png_tmp, png) || rename(svg_tmp, svg))
        return error_set("%s: cannot move the image into place: %s", png, strerror(errno));
    unlink(log);
    snprintf(note, note_cap, "%s/%s.png and .svg", out_dir, base);
    return 0;
}
