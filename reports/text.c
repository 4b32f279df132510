/* text.c: text buffers, atomic writes and table rendering for the reports. */
#include "reports/text.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

void sb_printf(struct sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0) return;
    if (b->n + (size_t)need + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 1024;
        while (nc < b->n + (size_t)need + 1) nc *= 2;
        char *p = realloc(b->p, nc);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = nc;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    b->n += (size_t)need;
}

void sb_free(struct sbuf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

int write_atomic(const char *path, const char *data, size_t n) {
    /* the rename below would replace a device or a FIFO at path */
    struct stat pst;
    if (stat(path, &pst) == 0 && !S_ISREG(pst.st_mode))
        return error_set("%s: exists and is not a regular file; not replacing it", path);
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp)
        return error_set("%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return error_set("%s: cannot create: %s", tmp, strerror(errno));
    int rc = 0;
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, data + off, n - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            rc = error_set("%s: write failed: %s", tmp, strerror(errno));
            break;
        }
        off += (size_t)w;
    }
    if (!rc && fsync(fd)) rc = error_set("%s: fsync failed: %s", tmp, strerror(errno));
    if (close(fd) && !rc) rc = error_set("%s: close failed: %s", tmp, strerror(errno));
    if (!rc && rename(tmp, path)) rc = error_set("%s: rename to %s failed: %s", tmp, path, strerror(errno));
    if (rc) {
        unlink(tmp);
        return rc;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    int dfd = open(dir, O_RDONLY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

int make_dirs(const char *path) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return error_set("%s: path too long", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0755) && errno != EEXIST)
                return error_set("%s: cannot create directory: %s", buf, strerror(errno));
            *p = c;
            if (!c) break;
        }
    }
    struct stat st;
    if (stat(path, &st) || !S_ISDIR(st.st_mode)) return error_set("%s: not a directory", path);
    return 0;
}

void rtable_init(struct rtable *t, int n_cols, const char *align) {
    memset(t, 0, sizeof *t);
    t->n_cols = n_cols > RTABLE_MAX_COLS ? RTABLE_MAX_COLS : n_cols;
    /* align may be shorter than n_cols (the rest is 'r'): read no further than its NUL */
    size_t na = align ? strlen(align) : 0;
    for (int c = 0; c < t->n_cols; c++) t->align[c] = (size_t)c < na ? align[c] : 'r';
}

int rtable_add_row(struct rtable *t) {
    if (t->n_rows == t->cap_rows) {
        int nc = t->cap_rows ? 2 * t->cap_rows : 16;
        char **p = realloc(t->cells, (size_t)nc * (size_t)t->n_cols * sizeof *p);
        if (!p) return -1;
        t->cells = p;
        t->cap_rows = nc;
    }
    for (int c = 0; c < t->n_cols; c++) t->cells[(size_t)t->n_rows * t->n_cols + c] = NULL;
    return t->n_rows++;
}

void rtable_set(struct rtable *t, int row, int col, const char *fmt, ...) {
    if (row < 0 || row >= t->n_rows || col < 0 || col >= t->n_cols) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **cell = &t->cells[(size_t)row * t->n_cols + col];
    free(*cell);
    *cell = strdup(buf);
}

const char *rtable_get(const struct rtable *t, int row, int col) {
    const char *s = t->cells[(size_t)row * t->n_cols + col];
    return s ? s : "";
}

void rtable_free(struct rtable *t) {
    for (size_t i = 0; i < (size_t)t->n_rows * t->n_cols; i++) free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

void rtable_markdown(const struct rtable *t, const char *title, const char *caption,
                     struct sbuf *out) {
    sb_printf(out, "# %s\n\n%s\n\n", title, caption);
    for (int r = 0; r < t->n_rows; r++) {
        sb_printf(out, "|");
        for (int c = 0; c < t->n_cols; c++) {
            const char *s = rtable_get(t, r, c);
            sb_printf(out, " ");
            for (; *s; s++) sb_printf(out, *s == '|' ? "\\|" : "%c", *s);
            sb_printf(out, " |");
        }
        sb_printf(out, "\n");
        if (r == 0) {
            sb_printf(out, "|");
            for (int c = 0; c < t->n_cols; c++)
                sb_printf(out, "%s|", t->align[c] == 'l' ? ":---" : "---:");
            sb_printf(out, "\n");
        }
    }
}

static void latex_escape(const char *s, struct sbuf *out) {
    for (; *s; s++) {
        switch (*s) {
        case '%': case '&': case '#': case '_': case '$': case '{': case '}':
            sb_printf(out, "\\%c", *s);
            break;
        case '~': sb_printf(out, "\\textasciitilde{}"); break;
        case '^': sb_printf(out, "\\textasciicircum{}"); break;
        case '\\': sb_printf(out, "\\textbackslash{}"); break;
        default: sb_printf(out, "%c", *s);
        }
    }
}

void rtable_latex(const struct rtable *t, const char *caption, const char *label,
                  struct sbuf *out) {
    sb_printf(out, "%% generated by `compacter report`; needs \\usepackage{booktabs}\n");
    sb_printf(out, "\\begin{table}[t]\n\\centering\n\\small\n\\caption{");
    latex_escape(caption, out);
    sb_printf(out, "}\n\\label{%s}\n\\begin{tabular}{", label);
    for (int c = 0; c < t->n_cols; c++) sb_printf(out, "%c", t->align[c]);
    sb_printf(out, "}\n\\toprule\n");
    for (int r = 0; r < t->n_rows; r++) {
        for (int c = 0; c < t->n_cols; c++) {
            if (c) sb_printf(out, " & ");
            latex_escape(rtable_get(t, r, c), out);
        }
        sb_printf(out, " \\\\\n");
        if (r == 0) sb_printf(out, "\\midrule\n");
    }
    sb_printf(out, "\\bottomrule\n\\end{tabular}\n\\end{table}\n");
}

static void csv_field(const char *s, struct sbuf *out) {
    if (!strpbrk(s, ",\"\n\r")) {
        sb_printf(out, "%s", s);
        return;
    }
    sb_printf(out, "\"");
    for (; *s; s++) sb_printf(out, *s == '"' ? "\"\"" : "%c", *s);
    sb_printf(out, "\"");
}

void rtable_csv(const struct rtable *t, const char *const *comments, int n_comments,
                struct sbuf *out) {
    for (int i = 0; i < n_comments; i++) sb_printf(out, "# %s\n", comments[i]);
    for (int r = 0; r < t->n_rows; r++) {
        for (int c = 0; c < t->n_cols; c++) {
            if (c) sb_printf(out, ",");
            csv_field(rtable_get(t, r, c), out);
        }
        sb_printf(out, "\n");
    }
}
