/* test_synthetic.c: the synthetic GLUE-shaped tasks (datasets/synthetic.h): determinism,
 * label balance, the written files read back by the real loaders (task_get) with the
 * expected counts and rows, hand-checked formatted examples (their labels follow the
 * documented grammar), the pair tasks' direct lexical cues measured from the words,
 * independent re-derivation of syn-mnli colour hypotheses and of every syn-boolq label (no
 * word of a question deciding it alone), the committed tiny tokenizer covering every text,
 * and T5 span-corruption invariants. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <unistd.h>

#include "core/error.h"
#include "core/tokenizer.h"
#include "datasets/synthetic.h"
#include "datasets/task.h"
#include "tests/check.h"

#define TOKENIZER "assets/tiny/tokenizer.json"

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
    (void)st, (void)flag, (void)f;
    return remove(p);
}
static void rm_rf(const char *dir) {
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}


static const char *const files[] = {
    "glue/SST-2/train.tsv", "glue/SST-2/dev.tsv",     "glue/CoLA/train.tsv",
    "glue/CoLA/dev.tsv",    "glue/MRPC/train.tsv",    "glue/MRPC/dev.tsv",
    "glue/STS-B/train.tsv", "glue/STS-B/dev.tsv",     "glue/RTE/train.tsv",
    "glue/RTE/dev.tsv",     "glue/MNLI/train.tsv",    "glue/MNLI/dev_matched.tsv",
    "glue/MNLI/dev_mismatched.tsv", "superglue/BoolQ/train.jsonl", "superglue/BoolQ/val.jsonl",
    "superglue/CB/train.jsonl",    "superglue/CB/val.jsonl"};
#define N_FILES (sizeof files / sizeof files[0])

/* 1 when every file of a and b is byte-identical; counts differing files in *n_diff. */
static int same_files(const char *a, const char *b, size_t *n_diff) {
    *n_diff = 0;
    for (size_t i = 0; i < N_FILES; i++) {
        char pa[512], pb[512];
        snprintf(pa, sizeof pa, "%s/%s", a, files[i]);
        snprintf(pb, sizeof pb, "%s/%s", b, files[i]);
        size_t na = 0, nb = 0;
        char *x = file_text(pa, &na), *y = file_text(pb, &nb);
        CHECK(x && y, "%s and %s exist", pa, pb);
        if (!x || !y || na != nb || memcmp(x, y, na)) (*n_diff)++;
        free(x);
        free(y);
    }
    return *n_diff == 0;
}

static void check_determinism(const char *root) {
    char a[512], b[512], c[512];
    snprintf(a, sizeof a, "%s/a", root);
    snprintf(b, sizeof b, "%s/b", root);
    snprintf(c, sizeof c, "%s/c", root);
    struct synthetic_options o = synthetic_options_default();
    o.n_train = 300, o.n_dev = 60;
    CHECK(synthetic_write(a, &o) == 0, "write a: %s", error_message());
    CHECK(synthetic_write(b, &o) == 0, "write b: %s", error_message());
    o.seed = 2;
    CHECK(synthetic_write(c, &o) == 0, "write c: %s", error_message());
    size_t nd;
    CHECK(same_files(a, b, &nd), "same seed: %zu files differ", nd);
    same_files(a, c, &nd);
    CHECK(nd == N_FILES, "different seed: only %zu of %zu files differ", nd, N_FILES);
    /* rows do not depend on the sizes asked for: the first 60 train rows of a 300-row
     * generation equal a 60-row generation */
    o.seed = 1;
    for (size_t i = 0; i < synthetic_task_count(); i++) {
        const struct task *t = task_find(synthetic_task_name(i));
        struct example_set big = {0}, small = {0};
        struct synthetic_options s = o;
        s.n_train = 60;
        CHECK(synthetic_generate(t, "train", &o, &big) == 0, "%s", error_message());
        CHECK(synthetic_generate(t, "train", &s, &small) == 0, "%s", error_message());
        size_t extra = t->split == SPLIT_LARGE ? 1000 : 0; /* SST-2's carved-off rows */
        int same = small.n == 60 + extra && big.n == 300 + extra;
        for (size_t k = 0; same && k < small.n; k++)
            same = !strcmp(big.ex[k].text[0], small.ex[k].text[0]) &&
                   big.ex[k].label == small.ex[k].label;
        CHECK(same, "%s: rows depend on n_train", t->name);
        example_set_free(&big);
        example_set_free(&small);
    }
    /* synthetic_ensure: writes once, then finds the stamp */
    char d[512];
    snprintf(d, sizeof d, "%s/ensure", root);
    o.n_train = 50, o.n_dev = 20;
    CHECK(synthetic_ensure(d, &o) == 1, "first ensure writes: %s", error_message());
    CHECK(synthetic_ensure(d, &o) == 0, "second ensure finds the files");
    o.seed = 9;
    CHECK(synthetic_ensure(d, &o) == 1, "other options rewrite");
    char stamp[600];
    snprintf(stamp, sizeof stamp, "%s/SYNTHETIC", d);
    remove(stamp);
    CHECK(synthetic_ensure(d, &o) == -1, "a non-empty dir without a stamp is refused");
}

/* Load every split with the real loader: counts, and rows equal to the generator's. */
static void check_loading(const char *dir, const struct synthetic_options *o) {
    static const struct {
        const char *name;
        long train, val, test; /* expected with n_train 2000, n_dev 400 */
    } want[] = {{"syn-sst2", 2000, 1000, 400}, {"syn-cola", 2000, 200, 200},
                {"syn-mrpc", 2000, 200, 200},  {"syn-stsb", 2000, 200, 200},
                {"syn-rte", 2000, 200, 200},   {"syn-mnli", 2000, 400, 400},
                {"syn-boolq", 2000, 200, 200}, {"syn-cb", 2000, 200, 200}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct task *t = task_find(want[i].name);
        CHECK(t != NULL, "task %s registered", want[i].name);
        if (!t) continue;
        CHECK(synthetic_is_task(t), "%s is synthetic", t->name);
        const char *splits[3] = {"train", "validation", "test"};
        long n[3] = {want[i].train, want[i].val, want[i].test};
        for (int s = 0; s < 3; s++) {
            struct example_set set = {0};
            int rc = task_get(t, dir, splits[s], NULL, &set);
            CHECK(rc == 0, "%s %s: %s", t->name, splits[s], error_message());
            CHECK((long)set.n == n[s], "%s %s: %zu rows, want %ld", t->name, splits[s], set.n,
                  n[s]);
            example_set_free(&set);
        }
        const char *raws[3] = {"train", t->split == SPLIT_MNLI ? "validation_matched" : "validation",
                               "validation_mismatched"};
        for (int s = 0; s < (t->split == SPLIT_MNLI ? 3 : 2); s++) {
            struct example_set file = {0}, gen = {0};
            CHECK(task_load_raw(t, dir, raws[s], &file) == 0, "%s", error_message());
            CHECK(synthetic_generate(t, raws[s], o, &gen) == 0, "%s", error_message());
            int same = file.n == gen.n;
            for (size_t k = 0; same && k < file.n; k++) {
                for (int j = 0; j < t->n_fields; j++)
                    same &= !strcmp(file.ex[k].text[j], gen.ex[k].text[j]);
                same &= file.ex[k].label == gen.ex[k].label && file.ex[k].score == gen.ex[k].score;
            }
            CHECK(same, "%s %s: file rows differ from the generator's", t->name, raws[s]);
            example_set_free(&file);
            example_set_free(&gen);
        }
    }
}

static void check_balance(const struct synthetic_options *o) {
    static const struct {
        const char *name;
        double lo[3], hi[3];
    } want[] = {{"syn-sst2", {0.45, 0.45}, {0.55, 0.55}},
                {"syn-cola", {0.28, 0.57}, {0.43, 0.72}},
                {"syn-mrpc", {0.28, 0.57}, {0.43, 0.72}},
                {"syn-rte", {0.44, 0.44}, {0.56, 0.56}},
                {"syn-mnli", {0.28, 0.28, 0.28}, {0.39, 0.39, 0.39}},
                {"syn-boolq", {0.33, 0.55}, {0.45, 0.67}},
                {"syn-cb", {0.38, 0.38, 0.07}, {0.50, 0.50, 0.17}}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct task *t = task_find(want[i].name);
        struct example_set set = {0};
        CHECK(synthetic_generate(t, "train", o, &set) == 0, "%s", error_message());
        size_t count[3] = {0};
        for (size_t k = 0; k < set.n; k++)
            if (set.ex[k].label >= 0 && set.ex[k].label < 3) count[set.ex[k].label]++;
        for (int c = 0; c < t->n_classes; c++) {
            double f = (double)count[c] / (double)set.n;
            CHECK(f >= want[i].lo[c] && f <= want[i].hi[c], "%s class %d: fraction %.3f", t->name,
                  c, f);
        }
        example_set_free(&set);
    }
    /* STS-B: scores in [0, 5], spread over the range */
    struct example_set set = {0};
    CHECK(synthetic_generate(task_find("syn-stsb"), "train", o, &set) == 0, "%s", error_message());
    double sum = 0, sq = 0, lo = 5, hi = 0;
    size_t bins[5] = {0};
    for (size_t k = 0; k < set.n; k++) {
        double s = set.ex[k].score;
        sum += s, sq += s * s;
        lo = s < lo ? s : lo, hi = s > hi ? s : hi;
        bins[s >= 5 ? 4 : (int)s]++;
    }
    double mean = sum / (double)set.n, sd = sqrt(sq / (double)set.n - mean * mean);
    CHECK(lo >= 0 && hi <= 5, "stsb scores in [%g, %g]", lo, hi);
    CHECK(mean > 1.2 && mean < 3.8 && sd > 1.5, "stsb mean %.2f sd %.2f", mean, sd);
    /* direct rows at 0 and 5 (about 40% each), the harder rows spread over the range */
    CHECK(bins[0] > set.n / 3 && bins[4] > set.n / 3, "stsb bins [0,1) %zu, [4,5] %zu", bins[0],
          bins[4]);
    for (int b = 1; b < 4; b++)
        CHECK(bins[b] > set.n / 50, "stsb bin [%d,%d): %zu scores", b, b + 1, bins[b]);
    example_set_free(&set);
}

/* Formatted examples of seed 1, checked by hand against the grammar (synthetic.h). */
static void check_examples(const char *dir) {
    static const struct {
        const char *task, *split;
        size_t row;
        const char *source, *target;
    } ex[] = {
        /* "never" + negative -> positive */
        {"syn-sst2", "test", 19, "sentence: this humor is never boring .", "1"},
        /* "A and B" with both positive -> positive */
        {"syn-sst2", "test", 2, "sentence: the music is good and funny .", "1"},
        /* "although X , Y": Y's polarity */
        {"syn-sst2", "test", 11,
         "sentence: although this ending is beautiful , the music is so weak .", "0"},
        /* "did not" + positive verb -> negative */
        {"syn-sst2", "test", 14, "sentence: i did not admire the story .", "0"},
        {"syn-cola", "train", 0, "sentence: the white doctor is big .", "1"},
        /* agreement error */
        {"syn-cola", "train", 1, "sentence: the women is happy .", "0"},
        {"syn-cola", "train", 3, "sentence: the singer quickly drop the kites .", "0"},
        /* direct paraphrase: the same passive rendering, synonyms moves/shifts, happy/glad,
         * child/kid */
        {"syn-mrpc", "raw-validation", 1,
         "sentence1: the red plate is quickly moved by the happy child beside the chair . "
         "sentence2: the red plate is quickly shifted by the glad kid beside the chair .",
         "1"},
        /* direct paraphrase, fronted: sofa/couch, big/large, quietly/silently */
        {"syn-mrpc", "raw-validation", 2,
         "sentence1: under the sofa , the big farmer quietly carries the white key . sentence2: "
         "under the couch , the large farmer silently carries the white key .",
         "1"},
        /* direct: the same event, the same rendering, taken/grabbed -> 5 */
        {"syn-stsb", "train", 0,
         "sentence1: the black clock is quietly taken by the happy girl behind the bed . "
         "sentence2: the black clock is quietly grabbed by the happy girl behind the bed .",
         "5.0"},
        /* direct: an event sharing no slot -> 0 */
        {"syn-stsb", "train", 1,
         "sentence1: near the table , the happy doctor paints the red box . sentence2: under the "
         "shelf , the tall student washes the pink key .",
         "0.0"},
        /* harder rows: kept verb (1.5), subject adjective, colour (0.5 each) = 2.5 of 6
         * -> 2.08 - jitter (1.942) */
        {"syn-stsb", "train", 6,
         "sentence1: near the floor , the tall doctor finds the gray hat . sentence2: the tall "
         "girl finds the gray vase on the door .",
         "1.9"},
        /* direct: a premise fact verbatim: entailment */
        {"syn-rte", "raw-validation", 2,
         "sentence1: the white bag is near the table , the orange box is on the table , and the "
         "blue vase is behind the sofa . sentence2: the white bag is near the table .",
         "0"},
        /* direct: an unmentioned object with a size: not_entailment */
        {"syn-rte", "raw-validation", 1,
         "sentence1: the blue basket is on the desk , the gray kite is on the door , and the pink "
         "clock is behind the chair . sentence2: the small cup is behind the window .",
         "1"},
        /* direct: a fact with "never": not_entailment */
        {"syn-rte", "raw-validation", 3,
         "sentence1: the red basket is on the table , and the black bag is behind the bench . "
         "sentence2: the red basket is never on the table .",
         "1"},
        /* the harder grammar: "is not" a wrong colour: entailment */
        {"syn-rte", "raw-validation", 7,
         "sentence1: the green cup is beside the bench , the yellow kite is under the sofa , and "
         "the white basket is beside the sofa . sentence2: the cup is not orange .",
         "0"},
        /* direct False: an object the passage does not mention, with a size */
        {"syn-boolq", "test", 5,
         "question: is the small pink plate behind the floor passage: the lamp behind the floor "
         "is pink , and the box behind the sofa is gray .",
         "0"},
        /* False with the other fact's colour: every word is in the passage */
        {"syn-boolq", "test", 34,
         "question: is the box white passage: the box on the chair is green , and the key near "
         "the bed is white .",
         "0"},
        /* False with a colour the passage does not mention */
        {"syn-boolq", "test", 55,
         "question: is the red lamp under the sofa passage: the lamp under the sofa is orange , "
         "and the plate beside the shelf is pink .",
         "0"},
        /* True, the other frame */
        {"syn-boolq", "test", 1,
         "question: is the bottle yellow passage: the book on the shelf is red , and the bottle "
         "beside the bed is yellow .",
         "1"},
        /* the colour of the other object: contradiction; MNLI's key has no colon */
        {"syn-mnli", "test", 0,
         "premise: the black lamp is beside the floor , and the brown shoe is on the table . "
         "hypothesis the lamp is brown .",
         "2"},
        /* dev_mismatched frame "the OBJ PREP the PLACE is COLOR"; unmentioned object */
        {"syn-mnli", "validation", 2,
         "premise: the book under the door is green , and the bottle beside the desk is blue . "
         "hypothesis the bag is beside the bench .",
         "1"},
    };
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        const struct task *t = task_find(ex[i].task);
        struct example_set set = {0};
        int rc;
        if (!strncmp(ex[i].split, "raw-", 4)) {
            rc = task_load_raw(t, dir, ex[i].split + 4, &set);
            if (rc == 0) rc = task_format(&set, NULL);
        } else if (t->split == SPLIT_MNLI && !strcmp(ex[i].split, "validation")) {
            rc = task_load_raw(t, dir, "validation_mismatched", &set); /* unshuffled */
            if (rc == 0) rc = task_format(&set, NULL);
        } else {
            rc = task_get(t, dir, ex[i].split, NULL, &set);
        }
        CHECK(rc == 0 && set.n > ex[i].row, "%s %s: %s", ex[i].task, ex[i].split, error_message());
        if (rc == 0 && set.n > ex[i].row) {
            const struct example *e = &set.ex[ex[i].row];
            CHECK(!strcmp(e->source, ex[i].source), "%s row %zu source\n  got  %s\n  want %s",
                  ex[i].task, ex[i].row, e->source, ex[i].source);
            CHECK(!strcmp(e->target, ex[i].target), "%s row %zu target %s, want %s", ex[i].task,
                  ex[i].row, e->target, ex[i].target);
        }
        example_set_free(&set);
    }
    /* with the prefix (methods without task adapters) */
    struct task_options to = task_options_default();
    to.add_prefix = 1;
    struct example_set set = {0};
    CHECK(task_get(task_find("syn-sst2"), dir, "test", &to, &set) == 0, "%s", error_message());
    CHECK(set.n && !strcmp(set.ex[0].source, "sst2 sentence: the music is rather brilliant ."),
          "prefixed source %s", set.n ? set.ex[0].source : "");
    example_set_free(&set);
}

/* syn-mnli hypotheses "the X is COLOUR ." re-derived from the premise without the
 * generator: entailment if the premise says "the COLOUR X is", neutral if X is not in the
 * premise, contradiction otherwise. */
static void check_mnli_logic(void) {
    static const char *const colors[] = {"red",   "blue",  "green", "yellow", "black",
                                         "white", "brown", "pink",  "gray",   "orange"};
    struct synthetic_options o = synthetic_options_default();
    o.label_noise = 0;
    struct example_set set = {0};
    const struct task *t = task_find("syn-mnli");
    CHECK(synthetic_generate(t, "train", &o, &set) == 0, "%s", error_message());
    size_t checked = 0, agree = 0;
    for (size_t k = 0; k < set.n; k++) {
        char obj[64], col[64], tail[8];
        const char *h = set.ex[k].text[1];
        if (sscanf(h, "the %63s is %63s %7s", obj, col, tail) != 3 || strcmp(tail, ".")) continue;
        int is_color = 0;
        for (size_t c = 0; c < sizeof colors / sizeof colors[0]; c++)
            is_color |= !strcmp(col, colors[c]);
        if (!is_color) continue;
        char stated[160], mention[80];
        snprintf(stated, sizeof stated, "the %s %s is ", col, obj);
        snprintf(mention, sizeof mention, " %s is ", obj);
        int label = strstr(set.ex[k].text[0], stated) ? 0 : strstr(set.ex[k].text[0], mention) ? 2 : 1;
        checked++;
        agree += label == set.ex[k].label;
    }
    CHECK(checked > 300 && agree == checked, "mnli colour hypotheses: %zu of %zu agree", agree,
          checked);
    example_set_free(&set);
}

/* syn-boolq re-derived from the words, without the generator, at label noise 0: the
 * passage's facts ("the COLOR OBJ is PREP the PLACE" or "the OBJ PREP the PLACE is COLOR",
 * one per object) read as a closed world; a question is True iff it names no size, its
 * object is in the passage and every colour, preposition and place it gives is that fact's.
 * Then: no False question differs from its fact by the preposition alone ("near" and
 * "beside" the same place overlap; the first generator wrote 41 of 2000 train rows so), and
 * no question word occurs only in False questions while marking more than a tenth of the
 * rows (the first generator's "big" and "small", 15% each: every method of the tiny preset
 * learned those two words and nothing else, and all scored 87.00). */
static int word_in(const char *w, const char *const *set, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(w, set[i])) return 1;
    return 0;
}
static void check_boolq_logic(void) {
    static const char *const colors[] = {"red",   "blue",  "green", "yellow", "black",
                                         "white", "brown", "pink",  "gray",   "orange"};
    static const char *const sizes[] = {"big", "small", "large", "little"};
#define NC (sizeof colors / sizeof colors[0])
    struct synthetic_options o = synthetic_options_default();
    o.label_noise = 0;
    struct example_set set = {0};
    CHECK(synthetic_generate(task_find("syn-boolq"), "train", &o, &set) == 0, "%s",
          error_message());
    size_t agree = 0, prep_only = 0, n_false = 0, parsed = 0;
    /* per question word: rows holding it, and how many of them are True */
    enum { MAXQW = 128 };
    char qw[MAXQW][24];
    size_t qn = 0, rows[MAXQW] = {0}, rows_true[MAXQW] = {0};
    for (size_t k = 0; k < set.n; k++) {
        const struct example *e = &set.ex[k];
        char pbuf[1024], qbuf[256], *w[128], *q[32];
        int n = 0, m = 0;
        snprintf(pbuf, sizeof pbuf, "%s", e->text[1]);
        snprintf(qbuf, sizeof qbuf, "%s", e->text[0]);
        for (char *sv = NULL, *t = strtok_r(pbuf, " ", &sv); t && n < 128; t = strtok_r(NULL, " ", &sv))
            w[n++] = t;
        for (char *sv = NULL, *t = strtok_r(qbuf, " ", &sv); t && m < 32; t = strtok_r(NULL, " ", &sv))
            q[m++] = t;
        struct {
            const char *obj, *col, *prep, *place;
        } f[3];
        int nf = 0, ok = 1;
        for (int i = 0; i + 6 < n && nf < 3; i++) {
            if (strcmp(w[i], "the") || (i > 0 && strcmp(w[i - 1], ",") && strcmp(w[i - 1], "and")))
                continue;
            if (word_in(w[i + 1], colors, NC)) /* the COLOR OBJ is PREP the PLACE */
                f[nf].col = w[i + 1], f[nf].obj = w[i + 2], f[nf].prep = w[i + 4], f[nf].place = w[i + 6];
            else /* the OBJ PREP the PLACE is COLOR */
                f[nf].obj = w[i + 1], f[nf].prep = w[i + 2], f[nf].place = w[i + 4], f[nf].col = w[i + 6];
            nf++;
        }
        ok &= nf >= 2 && m >= 4 && !strcmp(q[0], "is") && !strcmp(q[1], "the");
        int j = 2;
        const char *size = NULL, *col = NULL, *obj = NULL, *prep = NULL, *place = NULL;
        if (ok && word_in(q[j], sizes, 4)) size = q[j++];
        if (ok && word_in(q[j], colors, NC)) col = q[j++];
        if (ok) obj = q[j++];
        if (ok && j < m && !col && word_in(q[j], colors, NC)) col = q[j++];
        if (ok && j < m) { /* PREP the PLACE */
            ok &= j + 2 < m && !strcmp(q[j + 1], "the");
            if (ok) prep = q[j], place = q[j + 2];
            j += 3;
        }
        ok &= j == m;
        if (!ok) continue;
        parsed++;
        int fi = -1;
        for (int a = 0; a < nf; a++)
            if (!strcmp(f[a].obj, obj)) fi = a;
        int truth = !size && fi >= 0 && (!col || !strcmp(col, f[fi].col)) &&
                    (!prep || (!strcmp(prep, f[fi].prep) && !strcmp(place, f[fi].place)));
        agree += truth == e->label;
        n_false += !truth;
        prep_only += !truth && !size && fi >= 0 && (!col || !strcmp(col, f[fi].col)) && prep &&
                     !strcmp(place, f[fi].place);
        for (int a = 2; a < m; a++) { /* each word once per row */
            int seen = 0;
            for (int b = 2; b < a; b++)
                seen |= !strcmp(q[a], q[b]);
            if (seen || !strcmp(q[a], "the")) continue;
            size_t x = 0;
            while (x < qn && strcmp(qw[x], q[a])) x++;
            if (x == qn && qn < MAXQW) snprintf(qw[qn++], sizeof qw[0], "%s", q[a]);
            if (x < qn) rows[x]++, rows_true[x] += e->label == 1;
        }
    }
    CHECK(parsed == set.n && agree == parsed, "boolq: %zu of %zu rows parsed, %zu labels agree",
          parsed, set.n, agree);
    CHECK(n_false > set.n / 4, "boolq: %zu False rows of %zu", n_false, set.n);
    CHECK(prep_only == 0, "boolq: %zu False questions differ from their fact by the preposition alone",
          prep_only);
    for (size_t x = 0; x < qn; x++)
        CHECK(rows_true[x] > 0 || rows[x] * 10 <= set.n,
              "boolq: \"%s\" is in %zu questions (%.1f%%), all False", qw[x], rows[x],
              100.0 * (double)rows[x] / (double)set.n);
    example_set_free(&set);
#undef NC
}

static int has_unk(const struct tokenizer *tok, const char *text) {
    int32_t *ids;
    size_t n;
    if (tokenizer_encode(tok, text, strlen(text), &ids, &n) < 0) return 1;
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        bad |= ids[i] == 2;
    free(ids);
    return bad;
}

static void check_tokenizer(const struct tokenizer *tok, const char *dir) {
    CHECK(tokenizer_token_id(tok, "<pad>") == 0 && tokenizer_token_id(tok, "</s>") == 1 &&
              tokenizer_token_id(tok, "<unk>") == 2,
          "T5 special ids");
    CHECK(tokenizer_token_id(tok, "<extra_id_0>") == tokenizer_vocab_size(tok) - 1,
          "<extra_id_0> is the last id");
    size_t bad = 0, single = 0;
    for (size_t i = 0; i < synthetic_word_count(); i++) {
        const char *w = synthetic_word(i);
        bad += has_unk(tok, w);
        int32_t *ids;
        size_t n;
        if (tokenizer_encode_raw(tok, w, strlen(w), &ids, &n) == 0) {
            single += n == 1;
            free(ids);
        }
    }
    CHECK(synthetic_word_count() > 200, "%zu words", synthetic_word_count());
    CHECK(bad == 0, "%zu words hit <unk>", bad);
    CHECK(single == synthetic_word_count(), "%zu of %zu words are one token", single,
          synthetic_word_count());
    /* every formatted source and target of every split, with and without the prefix */
    struct task_options to = task_options_default();
    for (int prefix = 0; prefix < 2; prefix++) {
        to.add_prefix = prefix;
        for (size_t i = 0; i < synthetic_task_count(); i++) {
            const struct task *t = task_find(synthetic_task_name(i));
            const char *splits[3] = {"train", "validation", "test"};
            for (int s = 0; s < 3; s++) {
                struct example_set set = {0};
                if (task_get(t, dir, splits[s], &to, &set) < 0) {
                    CHECK(0, "%s", error_message());
                    continue;
                }
                size_t unk = 0;
                for (size_t k = 0; k < set.n; k++)
                    unk += has_unk(tok, set.ex[k].source) + has_unk(tok, set.ex[k].target);
                CHECK(unk == 0, "%s %s: %zu texts hit <unk>", t->name, splits[s], unk);
                example_set_free(&set);
            }
        }
    }
    /* every word of the generator is in synthetic_word() (the corpus too) */
    size_t missing = 0;
    char buf[1024];
    for (uint64_t i = 0; i < 3000; i++) {
        if (synthetic_sentence(7, i, buf, sizeof buf) < 0) {
            missing++;
            continue;
        }
        bad = has_unk(tok, buf);
        for (char *w = strtok(buf, " "); w; w = strtok(NULL, " ")) {
            int found = 0;
            for (size_t j = 0; j < synthetic_word_count() && !found; j++)
                found = !strcmp(w, synthetic_word(j));
            missing += !found;
        }
        missing += (size_t)bad;
    }
    CHECK(missing == 0, "corpus: %zu words outside the vocabulary or <unk>", missing);
}

/* Span corruption on ids 1000..1000+n-1 (distinct, so reconstruction is unambiguous). */
static void check_span_one(const struct tokenizer *tok, size_t n, uint64_t seed) {
    int32_t ids[512];
    for (size_t i = 0; i < n; i++)
        ids[i] = (int32_t)(1000 + i);
    struct span_example s;
    int rc = synthetic_span_corrupt(tok, ids, n, seed, 0.15, 3.0, &s);
    CHECK(rc == 0, "span corrupt n=%zu: %s", n, error_message());
    if (rc) return;
    size_t want_noise = (size_t)llround((double)n * 0.15);
    if (want_noise < 1) want_noise = 1;
    size_t want_spans = (size_t)llround((double)want_noise / 3.0);
    if (want_spans < 1) want_spans = 1;
    int32_t eos = 1, first_sentinel = tokenizer_token_id(tok, "<extra_id_0>");
    CHECK(s.n_source && s.source[s.n_source - 1] == eos, "source ends with </s>");
    CHECK(s.n_target && s.target[s.n_target - 1] == eos, "target ends with </s>");
    CHECK(s.target[0] == first_sentinel, "target starts with <extra_id_0>");
    /* reconstruct: walk the source; a sentinel k is replaced by the target's span k */
    int32_t rec[600];
    size_t nr = 0, spans = 0, noise = 0, ok = 1;
    for (size_t i = 0; i + 1 < s.n_source; i++) {
        int32_t x = s.source[i];
        if (x < 1000) {
            ok &= x == first_sentinel - (int32_t)spans; /* <extra_id_k> = last id - k */
            size_t j = 0;
            while (j < s.n_target && s.target[j] != x) j++;
            ok &= j < s.n_target;
            size_t run = 0;
            for (j++; j + 1 < s.n_target && s.target[j] >= 1000; j++, run++)
                rec[nr++] = s.target[j];
            ok &= run > 0;
            noise += run;
            spans++;
        } else {
            rec[nr++] = x;
        }
    }
    CHECK(ok, "n=%zu seed %llu: sentinels in order, each with a non-empty span", n,
          (unsigned long long)seed);
    CHECK(nr == n && !memcmp(rec, ids, n * sizeof *ids), "n=%zu: source+target reconstruct the input", n);
    CHECK(noise == want_noise, "n=%zu: %zu noise tokens, want %zu", n, noise, want_noise);
    CHECK(spans == want_spans, "n=%zu: %zu spans, want %zu", n, spans, want_spans);
    CHECK(s.n_source == n - noise + spans + 1 && s.n_target == noise + spans + 1, "lengths");
    CHECK(s.source[0] >= 1000, "n=%zu: starts with a non-noise token", n);
    span_example_free(&s);
}

static void check_spans(const struct tokenizer *tok) {
    size_t ns[] = {2, 3, 7, 20, 64, 100, 255, 500};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        for (uint64_t seed = 0; seed < 5; seed++)
            check_span_one(tok, ns[i], seed);
    /* determinism and seed dependence */
    int32_t ids[100];
    for (int i = 0; i < 100; i++)
        ids[i] = 1000 + i;
    struct span_example a, b, c;
    CHECK(synthetic_span_corrupt(tok, ids, 100, 3, 0.15, 3, &a) == 0, "%s", error_message());
    CHECK(synthetic_span_corrupt(tok, ids, 100, 3, 0.15, 3, &b) == 0, "%s", error_message());
    CHECK(synthetic_span_corrupt(tok, ids, 100, 4, 0.15, 3, &c) == 0, "%s", error_message());
    CHECK(a.n_source == b.n_source && !memcmp(a.source, b.source, a.n_source * 4), "same seed");
    CHECK(a.n_source != c.n_source || memcmp(a.source, c.source, a.n_source * 4),
          "another seed, other spans");
    span_example_free(&a), span_example_free(&b), span_example_free(&c);
    /* pre-training examples: fit, decode to corpus words, no <unk> */
    for (uint64_t i = 0; i < 20; i++) {
        struct span_example s;
        int rc = synthetic_pretrain_example(tok, 1, i, 64, 0.15, 3.0, &s);
        CHECK(rc == 0, "pretrain %llu: %s", (unsigned long long)i, error_message());
        if (rc) continue;
        CHECK(s.n_source <= 64 && s.n_source > 20, "pretrain %llu: %zu source tokens",
              (unsigned long long)i, s.n_source);
        size_t unk = 0;
        for (size_t k = 0; k < s.n_source; k++)
            unk += s.source[k] == 2;
        for (size_t k = 0; k < s.n_target; k++)
            unk += s.target[k] == 2;
        CHECK(unk == 0, "pretrain %llu: <unk>", (unsigned long long)i);
        span_example_free(&s);
    }
}

/* The direct lexical cues of the pair tasks (synthetic.h): measured independently, from the
 * words alone. Content words = words other than "the is , . by" (and "and"). */
static int is_function(const char *w) {
    static const char *const fw[] = {"the", "is", ",", ".", "by", "and"};
    for (size_t i = 0; i < sizeof fw / sizeof fw[0]; i++)
        if (!strcmp(w, fw[i])) return 1;
    return 0;
}
/* Share of b's content words that occur in a (0 when b has none). */
static double overlap(const char *a, const char *b) {
    char ca[1024], cb[1024];
    snprintf(ca, sizeof ca, " %s ", a);
    snprintf(cb, sizeof cb, "%s", b);
    int n = 0, hit = 0;
    for (char *save = NULL, *w = strtok_r(cb, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        if (is_function(w)) continue;
        char key[64];
        snprintf(key, sizeof key, " %s ", w);
        n++, hit += strstr(ca, key) != NULL;
    }
    return n ? (double)hit / n : 0;
}
static int has_word(const char *s, const char *w) {
    char cs[1024], key[64];
    snprintf(cs, sizeof cs, " %s ", s);
    snprintf(key, sizeof key, " %s ", w);
    return strstr(cs, key) != NULL;
}
static void check_cues(const struct synthetic_options *o) {
    /* syn-mrpc: equivalent iff overlap >= 0.7; syn-rte: entailment iff every content word
     * of the hypothesis is in the premise and it has no "never"; syn-boolq: True iff every
     * content word of the question is in the passage; syn-cb: contradiction iff "never",
     * else entailment iff full overlap, else neutral when a size word is there */
    static const char *const names[] = {"syn-mrpc", "syn-rte", "syn-boolq", "syn-cb"};
    for (size_t i = 0; i < 4; i++) {
        const struct task *t = task_find(names[i]);
        struct example_set set = {0};
        CHECK(synthetic_generate(t, "train", o, &set) == 0, "%s", error_message());
        size_t agree = 0;
        for (size_t k = 0; k < set.n; k++) {
            const struct example *e = &set.ex[k];
            /* boolq: text[0] question, text[1] passage */
            const char *prem = i == 2 ? e->text[1] : e->text[0], *hyp = i == 2 ? e->text[0] : e->text[1];
            double ov = i == 0 ? overlap(e->text[0], e->text[1]) : overlap(prem, hyp);
            int guess;
            if (i == 0) guess = ov >= 0.7;
            else if (i == 1) guess = ov == 1.0 && !has_word(hyp, "never") ? 0 : 1;
            else if (i == 2) guess = ov == 1.0;
            else guess = has_word(hyp, "never") ? 1 : ov == 1.0 ? 0 : 2;
            agree += guess == e->label;
        }
        double f = (double)agree / (double)set.n;
        /* about 80% direct rows, right less 5% noise, plus the other rows' share */
        CHECK(f >= 0.78 && f <= 0.97, "%s: the lexical cue gives %.3f of the labels", t->name, f);
        example_set_free(&set);
    }
    /* syn-stsb: the score follows the overlap (Pearson) */
    struct example_set set = {0};
    CHECK(synthetic_generate(task_find("syn-stsb"), "train", o, &set) == 0, "%s", error_message());
    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0, n = (double)set.n;
    for (size_t k = 0; k < set.n; k++) {
        double x = overlap(set.ex[k].text[0], set.ex[k].text[1]), y = set.ex[k].score;
        sx += x, sy += y, sxx += x * x, syy += y * y, sxy += x * y;
    }
    double r = (sxy - sx * sy / n) / sqrt((sxx - sx * sx / n) * (syy - sy * sy / n));
    CHECK(r > 0.8 && r < 0.99, "syn-stsb: overlap-score correlation %.3f", r);
    example_set_free(&set);
}

int main(void) {
    char root[] = "/tmp/test_synthetic_XXXXXX";
    if (!mkdtemp(root)) SKIP("cannot create a temporary directory");
    check_determinism(root);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/full", root);
    struct synthetic_options o = synthetic_options_default();
    CHECK(synthetic_write(dir, &o) == 0, "write defaults: %s", error_message());
    check_loading(dir, &o);
    check_balance(&o);
    check_cues(&o);
    check_examples(dir);
    check_mnli_logic();
    check_boolq_logic();
    struct tokenizer *tok = tokenizer_load(TOKENIZER);
    CHECK(tok != NULL, "load %s: %s", TOKENIZER, error_message());
    if (tok) {
        check_tokenizer(tok, dir);
        check_spans(tok);
        tokenizer_free(tok);
    }
    rm_rf(root);
    CHECK_DONE();
}
