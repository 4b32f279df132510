/* test_metrics.c: metrics against scikit-learn / scipy / the reference's T5 qa_utils on
 * random inputs (tests/fixtures/tasks/metrics.json from tools/make_task_fixtures.py),
 * STS-B target rounding against numpy (stsb.json), and task_score on hand-made
 * predictions whose expected values are worked out by hand in the comments. */
#include <jansson.h>

#include "core/error.h"
#include "datasets/metrics.h"
#include "datasets/task.h"
#include "datasets/task_score.h"
#include "tests/check.h"

#define TOL 1e-9

static int *ints(json_t *a) {
    size_t n = json_array_size(a);
    int *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = (int)json_integer_value(json_array_get(a, i));
    return v;
}
static double *reals(json_t *a) {
    size_t n = json_array_size(a);
    double *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = json_number_value(json_array_get(a, i));
    return v;
}
static double num(json_t *o, const char *k) {
    return json_number_value(json_object_get(o, k));
}

static double worst = 0;
static void close_to(const char *what, size_t i, double got, double want) {
    double d = fabs(got - want);
    if (d > worst) worst = d;
    CHECK(d <= TOL, "%s case %zu: %.15g vs reference %.15g", what, i, got, want);
}

static void check_fixture(json_t *fx) {
    size_t i, counts[4] = {0}, n_group = 0;
    json_t *c;
    json_array_foreach(json_object_get(fx, "cases"), i, c) {
        const char *kind = json_string_value(json_object_get(c, "kind"));
        if (!strcmp(kind, "correlation")) {
            json_t *xa = json_object_get(c, "x");
            size_t n = json_array_size(xa);
            double *x = reals(xa), *y = reals(json_object_get(c, "y")),
                   *rx = reals(json_object_get(c, "rank_x"));
            double *r = malloc(n * sizeof *r);
            metric_rank_average(x, n, r);
            for (size_t k = 0; k < n; k++)
                close_to("rankdata", i, r[k], rx[k]);
            close_to("pearson", i, metric_pearson(x, y, n), num(c, "pearson"));
            close_to("spearman", i, metric_spearman(x, y, n), num(c, "spearman"));
            free(x), free(y), free(rx), free(r);
            counts[2]++;
            continue;
        }
        json_t *pa = json_object_get(c, "pred");
        size_t n = json_array_size(pa);
        int *p = ints(pa), *g = ints(json_object_get(c, "gold"));
        close_to("accuracy", i, metric_accuracy(p, g, n), num(c, "accuracy"));
        close_to("matthews", i, metric_matthews(p, g, n), num(c, "matthews"));
        if (!strcmp(kind, "binary")) {
            close_to("f1 (invalid -> opposite)", i, metric_f1_binary(p, g, n), num(c, "f1"));
            counts[0]++;
        } else {
            close_to("macro f1", i, metric_f1_macro(p, g, n, 3), num(c, "macro_f1"));
            counts[1]++;
        }
        free(p), free(g);
    }
    json_array_foreach(json_object_get(fx, "squad"), i, c) {
        const char *pred = json_string_value(json_object_get(c, "pred"));
        json_t *ga = json_object_get(c, "golds");
        const char *golds[8];
        int ng = (int)json_array_size(ga);
        for (int k = 0; k < ng && k < 8; k++)
            golds[k] = json_string_value(json_array_get(ga, k));
        char *norm = metric_squad_normalize(pred);
        CHECK(norm && !strcmp(norm, json_string_value(json_object_get(c, "normalized"))),
              "normalize '%s' -> '%s'", pred, norm);
        free(norm);
        close_to("squad em", i, metric_squad_em(pred, golds, ng), num(c, "em"));
        close_to("squad f1", i, metric_squad_f1(pred, golds, ng), num(c, "f1"));
        counts[3]++;
    }
    json_array_foreach(json_object_get(fx, "group_em"), i, c) {
        json_t *ga = json_object_get(c, "group");
        size_t n = json_array_size(ga);
        long *grp = malloc(n * sizeof *grp);
        for (size_t k = 0; k < n; k++)
            grp[k] = (long)json_integer_value(json_array_get(ga, k));
        int *p = ints(json_object_get(c, "pred")), *g = ints(json_object_get(c, "gold"));
        close_to("group em", i, metric_group_exact_match(p, g, grp, n), num(c, "em"));
        free(grp), free(p), free(g);
        n_group++;
    }
    /* what tools/make_task_fixtures.py writes: a fixture missing a section (renamed, emptied)
     * fails here instead of running its loop zero times */
    CHECK(counts[0] >= 7 && counts[1] >= 5 && counts[2] >= 6 && counts[3] >= 11 && n_group >= 3,
          "metrics.json: %zu binary, %zu multiclass, %zu correlation, %zu squad, %zu group_em cases; "
          "want at least 7, 5, 6, 11, 3",
          counts[0], counts[1], counts[2], counts[3], n_group);
    printf("  ok vs sklearn/scipy/T5: %zu binary, %zu multiclass, %zu correlation, %zu squad; "
           "max|diff| %.3g (tol %g)\n",
           counts[0], counts[1], counts[2], counts[3], worst, TOL);
}

static void check_stsb(json_t *fx) {
    size_t i, bad = 0;
    json_t *c;
    json_array_foreach(json_object_get(fx, "labels"), i, c) {
        float x = strtof(json_string_value(json_object_get(c, "text")), NULL);
        char b1[16], b2[16];
        task_stsb_target((double)x, 0.1, b1, sizeof b1);
        task_stsb_target((double)x, 0.2, b2, sizeof b2);
        int ok = !strcmp(b1, json_string_value(json_object_get(c, "code"))) &&
                 !strcmp(b2, json_string_value(json_object_get(c, "paper")));
        if (!ok)
            fprintf(stderr, "stsb %s -> %s / %s\n", json_string_value(json_object_get(c, "text")),
                    b1, b2);
        bad += !ok;
    }
    CHECK(bad == 0, "%zu STS-B targets differ from numpy", bad);
    CHECK(json_array_size(json_object_get(fx, "labels")) >= 1144, "stsb.json: %zu labels, want at least 1144",
          json_array_size(json_object_get(fx, "labels")));
    printf("  ok STS-B rounding (0.1 code, 0.2 paper) vs numpy on %zu labels\n", i);
}

/* task_score end to end on the fixture archive. */
static void check_task_score(void) {
    const char *dir = "tests/fixtures/tasks/data";
    struct task_options o = task_options_default();
    struct task_result r;
    struct example_set s = {0};
    /* MRPC dev (targets 1, 0) in file order via the raw loader */
    CHECK(task_load_raw(task_find("mrpc"), dir, "validation", &s) == 0, "%s", error_message());
    CHECK(task_format(&s, &o) == 0, "%s", error_message());
    const char *p1[] = {" 1 ", "yes"}; /* right; invalid -> counted as 1 (opposite of 0) */
    CHECK(task_score(&s, p1, 2, &r) == 0, "%s", error_message());
    /* f1: tp 1, fp 1 -> 2/3; accuracy: 1/2 */
    CHECK(r.n_metrics == 2 && !strcmp(r.names[0], "f1") && fabs(r.values[0] - 200.0 / 3) < 1e-9 &&
              fabs(r.values[1] - 50) < 1e-9 && fabs(r.score - (200.0 / 3 + 50) / 2) < 1e-9 &&
              r.n_invalid == 1,
          "mrpc score f1 %g acc %g", r.values[0], r.values[1]);
    CHECK(task_score(&s, p1, 1, &r) < 0, "count mismatch is an error");
    example_set_free(&s);

    /* STS-B dev targets 5.0 4.8 2.2 0.3 1.7 (hand-rounded: 4.75->4.8, 2.25->2.2 half-even,
     * 0.35 as float32 0.3499.. -> 0.3, 1.714 -> 1.7) */
    CHECK(task_load_raw(task_find("stsb"), dir, "validation", &s) == 0 && task_format(&s, &o) == 0,
          "%s", error_message());
    const char *want[] = {"5.0", "4.8", "2.2", "0.3", "1.7"};
    for (size_t k = 0; k < 5 && s.n == 5; k++)
        CHECK(!strcmp(s.ex[k].target, want[k]), "stsb target %zu: %s", k, s.ex[k].target);
    const char *p2[] = {"5.0", "4.8", "2.2", "0.3", "1.7"};
    CHECK(task_score(&s, p2, 5, &r) == 0 && fabs(r.values[0] - 100) < 1e-9 &&
              fabs(r.values[1] - 100) < 1e-9,
          "perfect stsb");
    const char *p3[] = {"3.0", "3.0", "3.0", "3.0", "3.0"}; /* constant -> NaN -> 0 */
    CHECK(task_score(&s, p3, 5, &r) == 0 && r.values[0] == 0 && r.values[1] == 0, "constant -> 0");
    const char *p4[] = {"5.0", "4.8", "2.2", "n/a", "1.7"}; /* n/a -> -1: ranks equal the gold's */
    CHECK(task_score(&s, p4, 5, &r) == 0 && fabs(r.values[1] - 100) < 1e-9 && r.values[0] < 99 &&
              r.n_invalid == 1,
          "spearman with an unparsable prediction %g", r.values[1]);
    example_set_free(&s);

    /* MultiRC: answers 1,0 | 1 | 1,0 (questions 0, 1, 2) */
    CHECK(task_load_raw(task_find("multirc"), dir, "validation", &s) == 0 &&
              task_format(&s, &o) == 0,
          "%s", error_message());
    const char *p5[] = {"1", "1", "1", "1", "0"}; /* q0 wrong, q1 right, q2 right */
    CHECK(s.n == 5 && task_score(&s, p5, 5, &r) == 0, "%s", error_message());
    /* f1: tp 3 fp 1 fn 0 -> 6/7; em 2/3 */
    CHECK(fabs(r.values[0] - 600.0 / 7) < 1e-9 && fabs(r.values[1] - 200.0 / 3) < 1e-9,
          "multirc f1 %g em %g", r.values[0], r.values[1]);
    example_set_free(&s);

    /* ReCoRD: 2 queries x 1 unique answer... see test_superglue_jsonl for the expansion */
    CHECK(task_load_raw(task_find("record"), dir, "validation", &s) == 0 &&
              task_format(&s, &o) == 0,
          "%s", error_message());
    const char *p6[] = {"zoë ball", "the cafe", "Café"};
    CHECK(s.n == 3 && task_score(&s, p6, 3, &r) == 0, "%s", error_message());
    /* em: 1, 0, 1 -> 2/3; f1: 1, 0, 1 */
    CHECK(fabs(r.values[0] - 200.0 / 3) < 1e-9 && fabs(r.values[1] - 200.0 / 3) < 1e-9,
          "record em %g f1 %g", r.values[0], r.values[1]);
    example_set_free(&s);

    /* CoLA Matthews with an invalid prediction as its own class: gold 1 0 1, pred 1 1 "2":
     * sklearn-style C: t=(1,2,0) p=(0,2,1) over labels (0,1,2); c=1, s=3:
     * (3 - 4) / sqrt((9-5)(9-5)) = -0.25 */
    CHECK(task_load_raw(task_find("cola"), dir, "validation", &s) == 0 && task_format(&s, &o) == 0,
          "%s", error_message());
    const char *p7[] = {"1", "1", "2"};
    CHECK(s.n == 3 && task_score(&s, p7, 3, &r) == 0 && fabs(r.values[0] + 25) < 1e-9,
          "cola mcc %g", r.values[0]);
    example_set_free(&s);
    printf("  ok task_score on MRPC, STS-B, MultiRC, ReCoRD, CoLA fixtures\n");
}

int main(void) {
    json_error_t err;
    json_t *m = json_load_file("tests/fixtures/tasks/metrics.json", 0, &err);
    json_t *st = json_load_file("tests/fixtures/tasks/stsb.json", 0, &err);
    CHECK(m && st, "fixtures: %s", err.text);
    if (!m || !st) CHECK_DONE();
    check_fixture(m);
    check_stsb(st);
    check_task_score();
    json_decref(m);
    json_decref(st);
    CHECK_DONE();
}
