/* text.h: what every report writer shares: a growable text buffer, atomic file writes
 * (tmp + fsync + rename + directory fsync), mkdir -p, and a rendered table of strings
 * with its Markdown, LaTeX and CSV forms. */
#ifndef COMPACTER_REPORTS_TEXT_H
#define COMPACTER_REPORTS_TEXT_H

#include <stddef.h>

struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
};
void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_free(struct sbuf *b);

/* Write `n` bytes to `path` atomically. -1 (error set, naming the path) on failure, or when
 * path exists and is not a regular file (a device or FIFO is never replaced). */
int write_atomic(const char *path, const char *data, size_t n);
/* mkdir -p. */
int make_dirs(const char *path);

/* A table of strings: row 0 is the header. align[c] is 'l' or 'r'. */
#define RTABLE_MAX_COLS 48
struct rtable {
    int n_cols, n_rows;
    char align[RTABLE_MAX_COLS];
    char **cells; /* n_rows * n_cols, row-major, owned */
    int cap_rows;
};
void rtable_init(struct rtable *t, int n_cols, const char *align);
/* Append a row; NULL or missing trailing cells become "". Returns the row index. */
int rtable_add_row(struct rtable *t);
void rtable_set(struct rtable *t, int row, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const char *rtable_get(const struct rtable *t, int row, int col);
void rtable_free(struct rtable *t);

/* Markdown: "# title\n\n" + caption paragraph + pipe table. */
void rtable_markdown(const struct rtable *t, const char *title, const char *caption,
                     struct sbuf *out);
/* LaTeX table environment (booktabs) with caption and label; cells escaped. */
void rtable_latex(const struct rtable *t, const char *caption, const char *label,
                  struct sbuf *out);
/* CSV (RFC 4180 quoting) preceded by "# " comment lines (the caption lines). */
void rtable_csv(const struct rtable *t, const char *const *comments, int n_comments,
                struct sbuf *out);

#endif
