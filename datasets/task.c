/* task.c: the task table, raw-split loading from the archive layout, and the
 * text-to-text formatting of the reference (see task.h). */
#include "datasets/task.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/error.h"
#include "datasets/glue_tsv.h"
#include "datasets/split.h"
#include "datasets/superglue_jsonl.h"

#define BIN                                                                                        \
    { "0", "1" }
static const struct task tasks[] = {
    {"cola",
     "cola",
     "CoLA",
     TASK_GLUE_TSV,
     TEMPLATE_PAIRS,
     1,
     {"sentence:"},
     2,
     {"unacceptable", "acceptable"},
     1,
     {METRIC_MATTHEWS},
     {"matthews_correlation"},
     SPLIT_SMALL},
    {"sst2",
     "sst2",
     "SST-2",
     TASK_GLUE_TSV,
     TEMPLATE_PAIRS,
     1,
     {"sentence:"},
     2,
     {"negative", "positive"},
     1,
     {METRIC_ACCURACY},
     {"accuracy"},
     SPLIT_LARGE},
    {"mrpc",
     "mrpc",
     "MRPC",
     TASK_GLUE_TSV,
     TEMPLATE_PAIRS,
     2,
     {"sentence1:", "sentence2:"},
     2,
     {"not_equivalent", "equivalent"},
     2,
     {METRIC_F1, METRIC_ACCURACY},
     {"f1", "accuracy"},
     SPLIT_SMALL},
    {"qqp",
     "qqp",
     "QQP",
     TASK_GLUE_TSV,
     TEMPLATE_PAIRS,
     2,
     {"question1:", "question2:"},
     2,
     {"not_duplicate", "duplicate"},
     2,
     {METRIC_F1, METRIC_ACCURACY},
     {"f1", "accuracy"},
     SPLIT_LARGE},
    {"stsb",
     "stsb",
     "STS-B",
     TASK_GLUE_TSV,
     TEMPLATE_PAIRS,
     2,
     {"sentence1:", "sentence2:"},
     0,
     {NULL},
     2,
     {METRIC_PEARSON, METRIC_SPEARMAN},
     {"pearson", "spearmanr"},
     SPLIT_SMALL},
    {"mnli",
     "mnli",
     "MNLI",
     TASK_GLUE_TSV,
     TEMPLATE_PAIRS,
     2,
     {"premise:", "hypothesis"},
     3,
     {"entailment", "neutral", "contradiction"},
     1,
     {METRIC_ACCURACY},
     {"accuracy"},
     SPLIT_MNLI},
    {"qnli",
     "qnli",
     "QNLI",
     TASK_GLUE_TSV,
     TEMPLATE_PAIRS,
     2,
     {"question:", "sentence:"},
     2,
     {"entailment", "not_entailment"},
     1,
     {METRIC_ACCURACY},
     {"accuracy"},
     SPLIT_LARGE},
    {"rte",
     "rte",
     "RTE",
     TASK_GLUE_TSV,
     TEMPLATE_PAIRS,
     2,
     {"sentence1:", "sentence2:"},
     2,
     {"entailment", "not_entailment"},
     1,
     {METRIC_ACCURACY},
     {"accuracy"},
     SPLIT_SMALL},
    {"wnli",
     "wnli",
     "WNLI",
     TASK_GLUE_TSV,
     TEMPLATE_PAIRS,
     2,
     {"sentence1:", "sentence2:"},
     2,
     {"not_entailment", "entailment"},
     1,
     {METRIC_ACCURACY},
     {"accuracy"},
     SPLIT_SMALL},
    {"boolq",
     "superglue-boolq",
     "BoolQ",
     TASK_SUPERGLUE_JSONL,
     TEMPLATE_PAIRS,
     2,
     {"question:", "passage:"},
     2,
     {"False", "True"},
     1,
     {METRIC_ACCURACY},
     {"accuracy"},
     SPLIT_SMALL},
    {"cb",
     "superglue-cb",
     "CB",
     TASK_SUPERGLUE_JSONL,
     TEMPLATE_PAIRS,
     2,
     {"premise:", "hypothesis:"},
     3,
     {"entailment", "contradiction", "neutral"},
     2,
     {METRIC_MACRO_F1, METRIC_ACCURACY},
     {"f1_multiclass", "accuracy"},
     SPLIT_SMALL},
    {"copa",
     "superglue-copa",
     "COPA",
     TASK_SUPERGLUE_JSONL,
     TEMPLATE_PAIRS,
     3,
     {"premise:", "choice1:", "choice2:"},
     2,
     {"choice1", "choice2"},
     1,
     {METRIC_ACCURACY},
     {"accuracy"},
     SPLIT_SMALL},
    {"multirc",
     "superglue-multirc",
     "MultiRC",
     TASK_SUPERGLUE_JSONL,
     TEMPLATE_MULTIRC,
     3,
     {"question:", "answer:", "paragraph:"},
     2,
     {"False", "True"},
     2,
     {METRIC_MULTIRC_F1, METRIC_MULTIRC_EM},
     {"f1", "em"},
     SPLIT_SMALL},
    {"record",
     "superglue-record",
     "ReCoRD",
     TASK_SUPERGLUE_JSONL,
     TEMPLATE_RECORD,
     3,
     {"record query:", "entities:", "passage:"},
     0,
     {NULL},
     2,
     {METRIC_SQUAD_EM, METRIC_SQUAD_F1},
     {"em", "f1"},
     SPLIT_LARGE},
    {"wic",
     "superglue-wic",
     "WiC",
     TASK_SUPERGLUE_JSONL,
     TEMPLATE_PAIRS,
     3,
     {"sentence1:", "sentence2:", "word:"},
     2,
     {"False", "True"},
     1,
     {METRIC_ACCURACY},
     {"accuracy"},
     SPLIT_SMALL},
    {"superglue-rte",
     "superglue-rte",
     "RTE",
     TASK_SUPERGLUE_JSONL,
     TEMPLATE_PAIRS,
     2,
     {"premise:", "hypothesis:"},
     2,
     {"entailment", "not_entailment"},
     1,
     {METRIC_ACCURACY},
     {"accuracy"},
     SPLIT_SMALL},
    /* ---- synthetic GLUE-shaped tasks (datasets/synthetic.h): each copies the real task's
     * prefix, folder, template, labels, metrics and split rule; their files live in a
     * data dir of their own (compacter synthetic --out DIR). */
    {"syn-sst2", "sst2", "SST-2", TASK_GLUE_TSV, TEMPLATE_PAIRS, 1, {"sentence:"}, 2,
     {"negative", "positive"}, 1, {METRIC_ACCURACY}, {"accuracy"}, SPLIT_LARGE},
    {"syn-cola", "cola", "CoLA", TASK_GLUE_TSV, TEMPLATE_PAIRS, 1, {"sentence:"}, 2,
     {"unacceptable", "acceptable"}, 1, {METRIC_MATTHEWS}, {"matthews_correlation"}, SPLIT_SMALL},
    {"syn-mrpc", "mrpc", "MRPC", TASK_GLUE_TSV, TEMPLATE_PAIRS, 2, {"sentence1:", "sentence2:"}, 2,
     {"not_equivalent", "equivalent"}, 2, {METRIC_F1, METRIC_ACCURACY}, {"f1", "accuracy"},
     SPLIT_SMALL},
    {"syn-stsb", "stsb", "STS-B", TASK_GLUE_TSV, TEMPLATE_PAIRS, 2, {"sentence1:", "sentence2:"}, 0,
     {NULL}, 2, {METRIC_PEARSON, METRIC_SPEARMAN}, {"pearson", "spearmanr"}, SPLIT_SMALL},
    {"syn-rte", "rte", "RTE", TASK_GLUE_TSV, TEMPLATE_PAIRS, 2, {"sentence1:", "sentence2:"}, 2,
     {"entailment", "not_entailment"}, 1, {METRIC_ACCURACY}, {"accuracy"}, SPLIT_SMALL},
    {"syn-mnli", "mnli", "MNLI", TASK_GLUE_TSV, TEMPLATE_PAIRS, 2, {"premise:", "hypothesis"}, 3,
     {"entailment", "neutral", "contradiction"}, 1, {METRIC_ACCURACY}, {"accuracy"}, SPLIT_MNLI},
    /* SuperGLUE-shaped: JSONL files under <dir>/superglue/<Task>/ (train.jsonl, val.jsonl) */
    {"syn-boolq", "superglue-boolq", "BoolQ", TASK_SUPERGLUE_JSONL, TEMPLATE_PAIRS, 2,
     {"question:", "passage:"}, 2, {"False", "True"}, 1, {METRIC_ACCURACY}, {"accuracy"},
     SPLIT_SMALL},
    {"syn-cb", "superglue-cb", "CB", TASK_SUPERGLUE_JSONL, TEMPLATE_PAIRS, 2,
     {"premise:", "hypothesis:"}, 3, {"entailment", "contradiction", "neutral"}, 2,
     {METRIC_MACRO_F1, METRIC_ACCURACY}, {"f1_multiclass", "accuracy"}, SPLIT_SMALL},
    /* ---- end of the synthetic tasks */
};
#undef BIN

struct task_options task_options_default(void) {
    struct task_options o = {0, 0.1, -1, 42};
    return o;
}

size_t task_count(void) {
    return sizeof tasks / sizeof tasks[0];
}

const struct task *task_at(size_t i) {
    return i < task_count() ? &tasks[i] : NULL;
}

const struct task *task_find(const char *name) {
    static const char *const aliases[][2] = {
        {"sst-2", "sst2"}, {"sts-b", "stsb"}, {"superglue-wic", "wic"}};
    for (size_t i = 0; i < task_count(); i++)
        if (!strcasecmp(name, tasks[i].name) || !strcasecmp(name, tasks[i].prefix))
            return &tasks[i];
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (!strcasecmp(name, aliases[i][0])) return task_find(aliases[i][1]);
    for (size_t i = 0; i < task_count(); i++) /* folder name; GLUE's RTE wins */
        if (!strcasecmp(name, tasks[i].dir)) return &tasks[i];
    char list[512] = "";
    for (size_t i = 0; i < task_count(); i++) {
        strcat(list, i ? ", " : "");
        strcat(list, tasks[i].name);
    }
    error_set("task %s: unknown (known: %s)", name, list);
    return NULL;
}

struct example *example_set_push(struct example_set *set) {
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 256;
        struct example *ex = realloc(set->ex, cap * sizeof *ex);
        if (!ex) return NULL;
        set->ex = ex;
        set->cap = cap;
    }
    struct example *e = &set->ex[set->n++];
    memset(e, 0, sizeof *e);
    e->label = -1;
    e->group = -1;
    return e;
}

void example_free(struct example *e) {
    for (int j = 0; j < TASK_MAX_FIELDS; j++)
        free(e->text[j]);
    for (int k = 0; k < e->n_answers; k++)
        free(e->answers[k]);
    free(e->answers);
    free(e->source);
    free(e->target);
    memset(e, 0, sizeof *e);
}

void example_set_free(struct example_set *set) {
    for (size_t i = 0; i < set->n; i++)
        example_free(&set->ex[i]);
    free(set->ex);
    set->ex = NULL;
    set->n = set->cap = 0;
    set->task = NULL;
}

int task_load_file(const struct task *t, const char *path, struct example_set *out) {
    if (out->task && out->task != t)
        return error_set("file %s: example set already holds task %s", path, out->task->name);
    out->task = t;
    if (t->source == TASK_GLUE_TSV) return glue_load_tsv(t, path, out) < 0 ? -1 : 0;
    return superglue_load_jsonl(t, path, out);
}

static const char *split_file(const struct task *t, const char *raw_split) {
    int glue = t->source == TASK_GLUE_TSV;
    if (!strcmp(raw_split, "train")) return glue ? "train.tsv" : "train.jsonl";
    int mnli = t->split == SPLIT_MNLI; /* mnli and syn-mnli */
    if (!strcmp(raw_split, "validation") && !mnli) return glue ? "dev.tsv" : "val.jsonl";
    if (mnli) {
        if (!strcmp(raw_split, "validation_matched")) return "dev_matched.tsv";
        if (!strcmp(raw_split, "validation_mismatched")) return "dev_mismatched.tsv";
    }
    return NULL;
}

int task_split_path(const struct task *t, const char *data_dir, const char *raw_split, char *buf,
                    size_t cap) {
    const char *file = split_file(t, raw_split);
    if (!file) return error_set("task %s: no raw split %s", t->name, raw_split);
    static const char *const glue_roots[] = {"glue/", "glue_data/", ""};
    static const char *const sg_roots[] = {"superglue/", "SuperGLUE/", ""};
    const char *const *roots = t->source == TASK_GLUE_TSV ? glue_roots : sg_roots;
    char tried[2048] = "";
    for (int i = 0; i < 3; i++) {
        snprintf(buf, cap, "%s/%s%s/%s", data_dir, roots[i], t->dir, file);
        struct stat st;
        if (stat(buf, &st) == 0 && S_ISREG(st.st_mode)) return 0;
        size_t n = strlen(tried);
        snprintf(tried + n, sizeof tried - n, "%s%s", i ? ", " : "", buf);
    }
    return error_set("task %s: split %s: no file (tried %s)", t->name, raw_split, tried);
}

int task_load_raw(const struct task *t, const char *data_dir, const char *raw_split,
                  struct example_set *out) {
    char path[4096];
    if (task_split_path(t, data_dir, raw_split, path, sizeof path) < 0) return -1;
    return task_load_file(t, path, out);
}

void task_stsb_target(double label, double step, char *buf, size_t cap) {
    double r;
    if (step > 0.15) /* the paper: nearest multiple of 0.2 */
        r = rint(label * 5.0) / 5.0;
    else /* the code: np.round((label * 5) / 5, decimals=1) */
        r = rint(((label * 5.0) / 5.0) * 10.0) / 10.0;
    snprintf(buf, cap, "%.1f", r);
}

/* A growing string. */
struct sbuf {
    char *s;
    size_t n, cap;
    int oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}
static void sb_str(struct sbuf *b, const char *s) {
    sb_add(b, s, strlen(s));
}
static void sb_piece(struct sbuf *b, const char *s) { /* ' '.join */
    if (b->n) sb_add(b, " ", 1);
    sb_str(b, s);
}

/* MultiRC remove_markup: re.sub('<br>', ' '), re.sub('<(/)?b>', ''). */
static void sb_piece_unmarked(struct sbuf *b, const char *s) {
    struct sbuf t = {0};
    sb_add(&t, "", 0);
    while (*s) {
        if (!strncmp(s, "<br>", 4)) {
            sb_add(&t, " ", 1);
            s += 4;
        } else if (!strncmp(s, "<b>", 3)) {
            s += 3;
        } else if (!strncmp(s, "</b>", 4)) {
            s += 4;
        } else {
            sb_add(&t, s, 1);
            s++;
        }
    }
    if (t.oom)
        b->oom = 1;
    else
        sb_piece(b, t.s);
    free(t.s);
}

/* ReCoRD passage: re.sub(r'(\.|\?|\!|\"|\')\n@highlight\n', r'\1 ') then
 * re.sub(r'\n@highlight\n', '. '). */
static void sb_record_passage(struct sbuf *b, const char *p) {
    static const char hl[] = "\n@highlight\n";
    const size_t hn = sizeof hl - 1;
    struct sbuf t = {0};
    sb_add(&t, "", 0);
    for (const char *s = p; *s;) { /* pass 1 */
        if (strchr(".?!\"'", *s) && !strncmp(s + 1, hl, hn)) {
            sb_add(&t, s, 1);
            sb_add(&t, " ", 1);
            s += 1 + hn;
        } else {
            sb_add(&t, s, 1);
            s++;
        }
    }
    if (!t.oom)
        for (const char *s = t.s; *s;) { /* pass 2 */
            if (!strncmp(s, hl, hn)) {
                sb_add(b, ". ", 2);
                s += hn;
            } else {
                sb_add(b, s, 1);
                s++;
            }
        }
    if (t.oom) b->oom = 1;
    free(t.s);
}

static char *format_source(const struct task *t, const struct example *e, int add_prefix) {
    struct sbuf b = {0};
    sb_add(&b, "", 0);
    if (add_prefix) sb_piece(&b, t->prefix);
    if (t->tmpl == TEMPLATE_RECORD) {
        sb_piece(&b, "record query: ");
        sb_str(&b, e->text[0]);
        sb_str(&b, " entities: ");
        sb_str(&b, e->text[1]);
        sb_str(&b, " passage: ");
        sb_record_passage(&b, e->text[2]);
    } else {
        for (int j = 0; j < t->n_fields; j++) {
            sb_piece(&b, t->keys[j]);
            if (t->tmpl == TEMPLATE_MULTIRC)
                sb_piece_unmarked(&b, e->text[j]);
            else
                sb_piece(&b, e->text[j]);
        }
    }
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

int task_format(struct example_set *set, const struct task_options *o) {
    const struct task *t = set->task;
    if (!t) return error_set("task_format: example set has no task");
    struct task_options d = task_options_default();
    if (!o) o = &d;
    if (t->tmpl == TEMPLATE_RECORD) { /* one example per answer */
        struct example_set out = {t, NULL, 0, 0};
        for (size_t i = 0; i < set->n; i++) {
            struct example *e = &set->ex[i];
            char *src = format_source(t, e, o->add_prefix);
            if (!src) goto oom_record;
            int copies = e->n_answers > 0 ? e->n_answers : 1;
            for (int k = 0; k < copies; k++) {
                struct example *c = example_set_push(&out);
                if (!c) {
                    free(src);
                    goto oom_record;
                }
                int ok = 1;
                for (int j = 0; j < t->n_fields; j++)
                    ok &= !!(c->text[j] = strdup(e->text[j]));
                c->answers = calloc((size_t)e->n_answers + 1, sizeof *c->answers);
                ok &= !!c->answers;
                for (int a = 0; ok && a < e->n_answers; a++, c->n_answers++)
                    ok &= !!(c->answers[a] = strdup(e->answers[a]));
                c->source = strdup(src);
                c->target = strdup(e->n_answers ? e->answers[k] : "<unk>");
                if (!ok || !c->source || !c->target) {
                    free(src);
                    goto oom_record;
                }
            }
            free(src);
        }
        example_set_free(set);
        *set = out;
        return 0;
    oom_record:
        example_set_free(&out);
        return error_set("task %s: out of memory formatting", t->name);
    }
    for (size_t i = 0; i < set->n; i++) {
        struct example *e = &set->ex[i];
        free(e->source);
        free(e->target);
        e->source = format_source(t, e, o->add_prefix);
        char lab[32];
        if (t->n_classes == 0)
            task_stsb_target(e->score, o->stsb_step, lab, sizeof lab);
        else
            snprintf(lab, sizeof lab, "%d", e->label);
        e->target = strdup(lab);
        if (!e->source || !e->target)
            return error_set("task %s: out of memory formatting", t->name);
    }
    return 0;
}

int task_get(const struct task *t, const char *data_dir, const char *split,
             const struct task_options *o, struct example_set *out) {
    struct task_options d = task_options_default();
    if (!o) o = &d;
    const char *raw = split_source(t, split);
    if (!raw) return -1;
    struct example_set set = {0};
    size_t *idx = NULL, n_idx = 0;
    if (task_load_raw(t, data_dir, raw, &set) < 0 ||
        split_select(t, split, set.n, o->seed, o->n_obs, &idx, &n_idx) < 0 ||
        example_set_select(&set, idx, n_idx) < 0 || task_format(&set, o) < 0) {
        free(idx);
        example_set_free(&set);
        return -1;
    }
    free(idx);
    *out = set;
    return 0;
}
