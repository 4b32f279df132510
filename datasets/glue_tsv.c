/* glue_tsv.c: GLUE TSV files -> raw examples (see glue_tsv.h). */
#include "datasets/glue_tsv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* Which columns feed which template field, per GLUE folder. */
struct glue_layout {
    const char *dir;
    int header;          /* 0: CoLA (fixed column numbers) */
    const char *cols[3]; /* text columns in template order */
    const char *label;   /* label column */
    int cola_cols[2];    /* CoLA: label column, sentence column */
    int skip_malformed;  /* QQP */
};

static const struct glue_layout layouts[] = {
    {"CoLA", 0, {NULL}, NULL, {1, 3}, 0},
    {"SST-2", 1, {"sentence"}, "label", {0, 0}, 0},
    {"MRPC", 1, {"#1 String", "#2 String"}, "Quality", {0, 0}, 0},
    {"QQP", 1, {"question1", "question2"}, "is_duplicate", {0, 0}, 1},
    {"STS-B", 1, {"sentence1", "sentence2"}, "score", {0, 0}, 0},
    {"MNLI", 1, {"sentence1", "sentence2"}, "gold_label", {0, 0}, 0},
    {"QNLI", 1, {"question", "sentence"}, "label", {0, 0}, 0},
    {"RTE", 1, {"sentence1", "sentence2"}, "label", {0, 0}, 0},
    {"WNLI", 1, {"sentence1", "sentence2"}, "label", {0, 0}, 0},
};

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        error_set("file %s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (!buf) break;
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        cap *= 2;
        char *nb = realloc(buf, cap + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
        } else
            buf = nb;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) {
        error_set("file %s: out of memory", path);
        return NULL;
    }
    if (bad) {
        free(buf);
        error_set("file %s: read error", path);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* Split the line starting at *p (ending at \n, \r\n or \r) into tab-separated fields,
 * NUL-terminating them in place. Advances *p past the terminator. */
static int split_line(char **p, char *end, char **fields, int max_fields) {
    char *s = *p;
    int nf = 0;
    fields[nf++] = s;
    while (s < end && *s != '\n' && *s != '\r') {
        if (*s == '\t') {
            *s = 0;
            if (nf < max_fields) fields[nf] = s + 1;
            nf++;
        }
        s++;
    }
    if (s < end) {
        if (*s == '\r' && s + 1 < end && s[1] == '\n') *s++ = 0;
        *s++ = 0;
    }
    *p = s;
    return nf;
}

static int parse_label(const struct task *t, const char *v, int *id) {
    for (int c = 0; c < t->n_classes; c++)
        if (!strcmp(v, t->classes[c])) {
            *id = c;
            return 0;
        }
    char *e;
    errno = 0;
    long x = strtol(v, &e, 10);
    if (*v && !*e && !errno && x >= 0 && x < t->n_classes) {
        *id = (int)x;
        return 0;
    }
    return -1;
}

#define MAX_COLS 64

/* Record the message (its arguments may point into buf), then free buf. Returns -1. */
#define fail_free(buf, ...) (error_set(__VA_ARGS__), free(buf), -1)

long glue_load_tsv(const struct task *t, const char *path, struct example_set *out) {
    const struct glue_layout *L = NULL;
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++)
        if (!strcmp(layouts[i].dir, t->dir)) L = &layouts[i];
    if (!L) return error_set("file %s: task %s is not a GLUE TSV task", path, t->name);
    size_t len;
    char *buf = slurp(path, &len);
    if (!buf) return -1;
    char *p = buf, *end = buf + len;
    if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3;

    char *f[MAX_COLS];
    int col[3] = {-1, -1, -1}, lab = -1, need = 0;
    long line = 0, skipped = 0, rows = 0;
    int n_text = t->n_fields;
    if (!L->header) {
        lab = L->cola_cols[0];
        col[0] = L->cola_cols[1];
        need = col[0] > lab ? col[0] : lab;
    } else {
        /* header: the first line */
        line++;
        if (p >= end) {
            return fail_free(buf, "file %s: line 1: field header: empty file", path);
        }
        int nf = split_line(&p, end, f, MAX_COLS);
        if (nf > MAX_COLS) nf = MAX_COLS;
        for (int k = 0; k < nf; k++) {
            for (int j = 0; j < n_text; j++)
                if (!strcmp(f[k], L->cols[j]) && col[j] < 0) col[j] = k;
            if (!strcmp(f[k], L->label) && lab < 0) lab = k;
        }
        for (int j = 0; j < n_text; j++)
            if (col[j] < 0) {
                return fail_free(buf, "file %s: line 1: field %s: missing from the header", path,
                                 L->cols[j]);
            }
        if (lab < 0) {
            return fail_free(buf, "file %s: line 1: field %s: missing from the header", path,
                             L->label);
        }
        need = lab;
        for (int j = 0; j < n_text; j++)
            if (col[j] > need) need = col[j];
    }
    while (p < end) {
        line++;
        int nf = split_line(&p, end, f, MAX_COLS);
        if (nf == 1 && f[0][0] == 0) continue; /* blank line */
        const char *missing = NULL;
        if (nf <= need) {
            for (int j = 0; j < n_text && !missing; j++)
                if (col[j] >= nf) missing = L->header ? L->cols[j] : "sentence";
            if (!missing) missing = L->header ? L->label : "label";
        } else if (need >= MAX_COLS) {
            missing = "(column beyond 64)";
        }
        if (missing) {
            if (L->skip_malformed) {
                skipped++;
                continue;
            }
            return fail_free(buf,
                             "file %s: line %ld: field %s: missing (row has %d columns, need %d)",
                             path, line, missing, nf, need + 1);
        }
        const char *lv = f[lab];
        const char *lname = L->header ? L->label : "label";
        if (!*lv && L->skip_malformed) {
            skipped++;
            continue;
        }
        int id = -1;
        double score = 0;
        if (t->n_classes == 0) {
            char *e;
            errno = 0;
            float x = strtof(lv, &e);
            if (!*lv || *e || errno) {
                return fail_free(buf, "file %s: line %ld: field %s: '%s' is not a number", path,
                                 line, lname, lv);
            }
            score = (double)x;
        } else if (parse_label(t, lv, &id) < 0) {
            return fail_free(buf, "file %s: line %ld: field %s: unknown label '%s'", path, line,
                             lname, lv);
        }
        struct example *e = example_set_push(out);
        if (!e) {
            return fail_free(buf, "file %s: out of memory", path);
        }
        e->label = id;
        e->score = score;
        for (int j = 0; j < n_text; j++) {
            e->text[j] = strdup(f[col[j]]);
            if (!e->text[j]) {
                return fail_free(buf, "file %s: out of memory", path);
            }
        }
        rows++;
    }
    free(buf);
    if (rows == 0) return error_set("file %s: line %ld: no examples", path, line);
    return skipped;
}
