/* metrics.c: classification, correlation and SQuAD-style metrics (see metrics.h). */
#include "datasets/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double metric_accuracy(const int *pred, const int *gold, size_t n) {
    if (!n) return NAN;
    size_t ok = 0;
    for (size_t i = 0; i < n; i++)
        ok += pred[i] == gold[i];
    return (double)ok / (double)n;
}

static double f1_from_counts(size_t tp, size_t fp, size_t fn) {
    size_t d = 2 * tp + fp + fn;
    return d ? 2.0 * (double)tp / (double)d : 0.0;
}

double metric_f1_binary(const int *pred, const int *gold, size_t n) {
    size_t tp = 0, fp = 0, fn = 0;
    for (size_t i = 0; i < n; i++) {
        int p = pred[i];
        if (p != 0 && p != 1) p = gold[i] == 1 ? 0 : 1;
        tp += p == 1 && gold[i] == 1;
        fp += p == 1 && gold[i] != 1;
        fn += p != 1 && gold[i] == 1;
    }
    return f1_from_counts(tp, fp, fn);
}

double metric_f1_macro(const int *pred, const int *gold, size_t n, int n_classes) {
    if (n_classes <= 0) return NAN;
    double sum = 0;
    for (int c = 0; c < n_classes; c++) {
        size_t tp = 0, fp = 0, fn = 0;
        for (size_t i = 0; i < n; i++) {
            tp += pred[i] == c && gold[i] == c;
            fp += pred[i] == c && gold[i] != c;
            fn += pred[i] != c && gold[i] == c;
        }
        sum += f1_from_counts(tp, fp, fn);
    }
    return sum / n_classes;
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static size_t find_int(const int *v, size_t n, int x) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

double metric_matthews(const int *pred, const int *gold, size_t n) {
    if (!n) return 0;
    int *lab = malloc(2 * n * sizeof *lab);
    double *t = calloc(2 * n, sizeof *t), *p = t ? t + n : NULL;
    if (!lab || !t) {
        free(lab);
        free(t);
        return NAN;
    }
    memcpy(lab, pred, n * sizeof *lab);
    memcpy(lab + n, gold, n * sizeof *lab);
    qsort(lab, 2 * n, sizeof *lab, cmp_int);
    size_t k = 0;
    for (size_t i = 0; i < 2 * n; i++)
        if (!k || lab[i] != lab[k - 1]) lab[k++] = lab[i];
    double c = 0, s = (double)n;
    for (size_t i = 0; i < n; i++) {
        t[find_int(lab, k, gold[i])] += 1;
        p[find_int(lab, k, pred[i])] += 1;
        c += pred[i] == gold[i];
    }
    double tp = 0, pp = 0, tt = 0;
    for (size_t j = 0; j < k; j++) {
        tp += t[j] * p[j];
        pp += p[j] * p[j];
        tt += t[j] * t[j];
    }
    free(lab);
    free(t);
    double cov_ytyp = c * s - tp, cov_ypyp = s * s - pp, cov_ytyt = s * s - tt;
    if (cov_ypyp * cov_ytyt == 0) return 0.0;
    return cov_ytyp / sqrt(cov_ytyt * cov_ypyp);
}

double metric_pearson(const double *x, const double *y, size_t n) {
    if (n < 2) return NAN;
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++)
        mx += x[i], my += y[i];
    mx /= (double)n;
    my /= (double)n;
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        double dx = x[i] - mx, dy = y[i] - my;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if (sxx == 0 || syy == 0) return NAN;
    double r = sxy / (sqrt(sxx) * sqrt(syy));
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

static const double *rank_keys;
static int cmp_by_key(const void *a, const void *b) {
    double x = rank_keys[*(const size_t *)a], y = rank_keys[*(const size_t *)b];
    if (x < y) return -1;
    if (x > y) return 1;
    return (*(const size_t *)a > *(const size_t *)b) - (*(const size_t *)a < *(const size_t *)b);
}

int metric_rank_average(const double *x, size_t n, double *rank) {
    size_t *o = malloc((n ? n : 1) * sizeof *o);
    if (!o) return -1;
    for (size_t i = 0; i < n; i++)
        o[i] = i;
    rank_keys = x; /* not thread-safe; qsort has no context argument in C11 */
    qsort(o, n, sizeof *o, cmp_by_key);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && x[o[j]] == x[o[i]])
            j++;
        double r = 0.5 * (double)(i + 1 + j); /* mean of ranks i+1 .. j */
        for (size_t k = i; k < j; k++)
            rank[o[k]] = r;
        i = j;
    }
    free(o);
    return 0;
}

double metric_spearman(const double *x, const double *y, size_t n) {
    double *rx = malloc((n ? 2 * n : 1) * sizeof *rx);
    if (!rx) return NAN;
    double *ry = rx + n, r = NAN;
    if (metric_rank_average(x, n, rx) == 0 && metric_rank_average(y, n, ry) == 0)
        r = metric_pearson(rx, ry, n);
    free(rx);
    return r;
}

/* ---- SQuAD-style normalisation (T5 qa_utils) ---- */

static int is_alnum_ascii(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
/* string.punctuation: the 32 printable ASCII characters that are not letters/digits. */
static int is_punct(unsigned char c) {
    return c > 0x20 && c < 0x7F && !is_alnum_ascii(c);
}
static int is_space(unsigned char c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1C && c <= 0x1F);
}
/* \w after punctuation removal: letters, digits, and (approximation) any non-ASCII byte. */
static int is_word(unsigned char c) {
    return is_alnum_ascii(c) || c == '_' || c >= 0x80;
}

char *metric_squad_normalize(const char *s) {
    size_t n = strlen(s);
    char *a = malloc(n + 1), *b = malloc(n + 1);
    if (!a || !b) {
        free(a);
        free(b);
        return NULL;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) { /* lower, drop punctuation */
        unsigned char c = (unsigned char)s[i];
        if (is_punct(c)) continue;
        a[m++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    a[m] = 0;
    for (size_t i = 0; i < m; i++) { /* \b(a|an|the)\b -> " " */
        int at_start = i == 0 || !is_word((unsigned char)a[i - 1]);
        size_t len = 0;
        if (at_start) {
            if (!strncmp(a + i, "the", 3))
                len = 3;
            else if (!strncmp(a + i, "an", 2))
                len = 2;
            else if (a[i] == 'a')
                len = 1;
            if (len && i + len < m && is_word((unsigned char)a[i + len])) {
                len = 0;
                /* "an" failed: "a" alone can still not match (next char 'n' is a word char) */
            }
        }
        if (len) {
            a[i] = ' ';
            memset(a + i + 1, 1, len - 1); /* marks to delete */
            i += len - 1;
        }
    }
    size_t k = 0;
    int pending = 0;
    for (size_t i = 0; i < m; i++) { /* " ".join(s.split()) */
        unsigned char c = (unsigned char)a[i];
        if (c == 1) continue;
        if (is_space(c)) {
            pending = k > 0;
            continue;
        }
        if (pending) b[k++] = ' ';
        pending = 0;
        b[k++] = (char)c;
    }
    b[k] = 0;
    free(a);
    return b;
}

static double f1_tokens(const char *pred, const char *gold) {
    /* both normalised: tokens separated by single spaces */
    char *p = strdup(pred), *g = strdup(gold);
    double f1 = 0;
    if (!p || !g) goto out;
    char *pt[512], *gt[512];
    int np = 0, ng = 0;
    char *save;
    for (char *t = strtok_r(p, " ", &save); t && np < 512; t = strtok_r(NULL, " ", &save))
        pt[np++] = t;
    for (char *t = strtok_r(g, " ", &save); t && ng < 512; t = strtok_r(NULL, " ", &save))
        gt[ng++] = t;
    char used[512] = {0};
    int same = 0;
    for (int i = 0; i < np; i++)
        for (int j = 0; j < ng; j++)
            if (!used[j] && !strcmp(pt[i], gt[j])) {
                used[j] = 1;
                same++;
                break;
            }
    if (same) {
        double prec = (double)same / np, rec = (double)same / ng;
        f1 = 2 * prec * rec / (prec + rec);
    }
out:
    free(p);
    free(g);
    return f1;
}

static double squad_max(const char *pred, const char *const *golds, int n_golds, int f1) {
    char *p = metric_squad_normalize(pred);
    double best = 0;
    if (!p) return NAN;
    for (int i = 0; i < n_golds; i++) {
        char *g = metric_squad_normalize(golds[i]);
        if (!g) {
            free(p);
            return NAN;
        }
        double v = f1 ? f1_tokens(p, g) : (double)!strcmp(p, g);
        if (v > best) best = v;
        free(g);
    }
    free(p);
    return best;
}

double metric_squad_em(const char *pred, const char *const *golds, int n_golds) {
    return squad_max(pred, golds, n_golds, 0);
}

double metric_squad_f1(const char *pred, const char *const *golds, int n_golds) {
    return squad_max(pred, golds, n_golds, 1);
}

double metric_group_exact_match(const int *pred, const int *gold, const long *group, size_t n) {
    /* groups in order of first appearance; a group is right when all its items are */
    char *done = calloc(n ? n : 1, 1);
    if (!done) return NAN;
    size_t groups = 0, right = 0;
    for (size_t i = 0; i < n; i++) {
        if (done[i]) continue;
        int ok = 1;
        for (size_t j = i; j < n; j++)
            if (!done[j] && group[j] == group[i]) {
                done[j] = 1;
                ok &= pred[j] == gold[j];
            }
        groups++;
        right += ok;
    }
    free(done);
    return groups ? (double)right / (double)groups : NAN;
}
