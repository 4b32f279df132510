/* test_glue_tsv.c: the GLUE TSV loader and templates. Hand-written fixtures in the
 * official layout (tests/fixtures/tasks/data/glue: CoLA without header, MRPC with a BOM
 * and bare quotes, QQP with malformed rows, MNLI dev_matched/dev_mismatched), bad inputs
 * (tests/fixtures/tasks/bad), and when present the real GLUE dev sets in ../shared/data.
 * Expected strings are written by hand from reference-spec.md section 5. */
#include "core/error.h"
#include "datasets/glue_tsv.h"
#include "datasets/task.h"
#include "tests/check.h"
#include "tests/task_test_util.h"

#define DIR "tests/fixtures/tasks/data"

static void check_fixtures(void) {
    struct example_set s;
    CHECK(load("cola", DIR "/glue/CoLA/dev.tsv", &s, 0) == 0 && s.n == 3, "%s", error_message());
    expect(&s, 0, "sentence: The sailors rode the breeze clear of the rocks.", "1");
    expect(&s, 1, "sentence: The more does Bill smoke, the more Susan hates him.", "0");
    expect(&s, 2, "sentence: He said \"that\" twice.", "1");
    example_set_free(&s);

    CHECK(load("mrpc", DIR "/glue/MRPC/dev.tsv", &s, 1) == 0 && s.n == 2, "%s", error_message());
    expect(&s, 0,
           "mrpc sentence1: He said the foodservice pie business doesn 't fit the company 's "
           "long-term growth strategy . sentence2: \" The foodservice pie business does not fit "
           "our long-term growth strategy .",
           "1");
    expect(&s, 1,
           "mrpc sentence1: Magnarelli said Racicot hated the Iraqi regime . sentence2: His "
           "wife said he was \" 100 percent behind George Bush \" .",
           "0");
    example_set_free(&s);

    /* QQP: 5 rows, 3 malformed (missing label column, 2 columns, empty label) skipped */
    memset(&s, 0, sizeof s);
    long skipped = glue_load_tsv(task_find("qqp"), DIR "/glue/QQP/dev.tsv", &s);
    CHECK(skipped == 3 && s.n == 2, "qqp skipped %ld kept %zu: %s", skipped, s.n, error_message());
    s.task = task_find("qqp");
    task_format(&s, NULL);
    expect(&s, 0,
           "question1: Why are African-Americans so beautiful? question2: Why are hispanics so "
           "beautiful?",
           "0");
    expect(
        &s, 1,
        "question1: What is the best way to learn Python? question2: How do I learn Python well?",
        "1");
    example_set_free(&s);

    CHECK(load("mnli", DIR "/glue/MNLI/dev_matched.tsv", &s, 0) == 0 && s.n == 3, "%s",
          error_message());
    expect(&s, 0,
           "premise: The new rights are nice enough hypothesis Everyone really likes the newest "
           "benefits ",
           "1");
    expect(&s, 1,
           "premise: This site includes a list of all award winners. hypothesis The Government "
           "Executive articles housed on the website are not able to be searched.",
           "2");
    expect(&s, 2,
           "premise: uh i don't know i i have mixed emotions about him hypothesis I like him for "
           "the most part.",
           "0");
    example_set_free(&s);

    CHECK(load("qnli", DIR "/glue/QNLI/dev.tsv", &s, 0) == 0 && s.n == 2, "%s", error_message());
    expect(&s, 1,
           "question: What is the first major city in the stream of the Rhine? sentence: The "
           "most important tributaries in this area are the Ill below of Strasbourg.",
           "1");
    example_set_free(&s);

    CHECK(load("rte", DIR "/glue/RTE/dev.tsv", &s, 1) == 0 && s.n == 4, "%s", error_message());
    expect(&s, 0,
           "rte sentence1: Dana Reeve, the widow of the actor Christopher Reeve, has died of lung "
           "cancer at age 44, according to the Christopher Reeve Foundation. sentence2: "
           "Christopher Reeve had an accident.",
           "1");
    expect(&s, 3, "rte sentence1: The \"Kid\" said 'no'. sentence2: Someone spoke.", "0");
    example_set_free(&s);

    CHECK(load("wnli", DIR "/glue/WNLI/dev.tsv", &s, 0) == 0 && s.n == 2, "%s", error_message());
    expect(&s, 1,
           "sentence1: Jane knocked on the door, and Susan answered it. She invited her to come "
           "out. sentence2: Susan invited her to come out.",
           "1");
    example_set_free(&s);

    CHECK(load("sst2", DIR "/glue/SST-2/dev.tsv", &s, 1) == 0 && s.n == 2, "%s", error_message());
    expect(&s, 0, "sst2 sentence: it 's a charming and often affecting journey . ", "1");
    example_set_free(&s);

    /* STS-B: 0.1 steps (code) and 0.2 steps (paper) */
    CHECK(load("stsb", DIR "/glue/STS-B/dev.tsv", &s, 0) == 0 && s.n == 5, "%s", error_message());
    expect(&s, 0,
           "sentence1: A man with a hard hat is dancing. sentence2: A man wearing a hard hat is "
           "dancing.",
           "5.0");
    CHECK(fabs(s.ex[1].score - 4.75) < 1e-6, "stsb score kept");
    struct task_options o = task_options_default();
    o.stsb_step = 0.2;
    task_format(&s, &o);
    const char *want02[] = {"5.0", "4.8", "2.2", "0.4", "1.8"};
    for (size_t k = 0; k < 5; k++)
        CHECK(!strcmp(s.ex[k].target, want02[k]), "0.2 step target %zu %s", k, s.ex[k].target);
    example_set_free(&s);

    /* layouts: <dir>/glue/<Task>, <dir>/glue_data/<Task>, <dir>/<Task> */
    char path[512];
    CHECK(task_split_path(task_find("rte"), DIR, "validation", path, sizeof path) == 0 &&
              !strcmp(path, DIR "/glue/RTE/dev.tsv"),
          "glue/ layout: %s", path);
    CHECK(task_split_path(task_find("rte"), "tests/fixtures/tasks/layout2", "validation", path,
                          sizeof path) == 0,
          "glue_data/ layout: %s", error_message());
    CHECK(task_split_path(task_find("rte"), DIR "/glue", "train", path, sizeof path) == 0,
          "plain layout");
    CHECK(task_split_path(task_find("mnli"), DIR, "validation_mismatched", path, sizeof path) ==
                  0 &&
              strstr(path, "dev_mismatched.tsv"),
          "mnli mismatched file name");
    CHECK(task_split_path(task_find("cola"), DIR, "train", path, sizeof path) < 0 &&
              strstr(error_message(), "CoLA/train.tsv"),
          "missing split names the paths: %s", error_message());
    printf(
        "  ok GLUE fixtures: 9 tasks, quirks (no header, BOM, quotes, QQP malformed), layouts\n");
}

static void check_bad(void) {
    static const struct bad_input cases[] = {
        {"missing_column.tsv", "rte", {"missing_column.tsv", "line 3", "field label: missing"}},
        {"unknown_label.tsv", "rte", {"unknown_label.tsv", "line 3", "unknown label 'maybe'"}},
        {"missing_header.tsv", "rte", {"missing_header.tsv", "line 1", "field sentence2"}},
        {"empty.tsv", "rte", {"empty.tsv", "line 1", "empty file"}},
        {"empty.tsv", "cola", {"empty.tsv", "no examples", "line"}},
        {"unknown_label.tsv",
         "stsb",
         {"unknown_label.tsv", "line 1", "field score: missing from the header"}},
    };
    check_bad_inputs(cases, sizeof cases / sizeof cases[0]);
    struct example_set s = {0};
    CHECK(task_load_file(task_find("rte"), "tests/fixtures/tasks/bad/nonexistent.tsv", &s) < 0 &&
              strstr(error_message(), "nonexistent.tsv"),
          "missing file");
}

static void check_real(void) {
    static const struct {
        const char *task, *dir;
        size_t n;
    } real[] = {{"cola", "CoLA", 1043}, {"sst2", "SST-2", 872}, {"mrpc", "MRPC", 408},
                {"qnli", "QNLI", 5463}, {"rte", "RTE", 277},    {"stsb", "STS-B", 1500}};
    if (!shared_data("glue-dev")) {
        if (check_failures) return; /* report the fixture failures, not a skip */
        SKIP("real GLUE dev sets: ../shared/data/glue-dev absent (fixtures passed)");
    }
    struct example_set s;
    for (size_t i = 0; i < sizeof real / sizeof real[0]; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "glue-dev/%s/dev.tsv", real[i].dir);
        const char *p = shared_data(rel);
        CHECK(p && load(real[i].task, p, &s, 0) == 0, "%s: %s", rel, error_message());
        CHECK(s.n == real[i].n, "%s: %zu examples, want %zu", rel, s.n, real[i].n);
        if (!strcmp(real[i].task, "cola"))
            expect(&s, 0, "sentence: The sailors rode the breeze clear of the rocks.", "1");
        if (!strcmp(real[i].task, "sst2"))
            expect(&s, 0, "sentence: one long string of cliches .", "0");
        if (!strcmp(real[i].task, "mrpc")) {
            expect(
                &s, 0,
                "sentence1: He said the foodservice pie business doesn 't fit the company 's "
                "long-term growth strategy . sentence2: \" The foodservice pie business does not "
                "fit our long-term growth strategy .",
                "1");
            expect(
                &s, 1,
                "sentence1: Magnarelli said Racicot hated the Iraqi regime and looked forward to "
                "using his long years of training in the war . sentence2: His wife said he was \" "
                "100 percent behind George Bush \" and looked forward to using his years of "
                "training in the war .",
                "0");
        }
        if (!strcmp(real[i].task, "qnli")) {
            expect(
                &s, 0,
                "question: What came into force after the new constitution was herald? sentence: "
                "As "
                "of that day, the new constitution heralding the Second Republic came into force.",
                "0");
            expect(
                &s, 1,
                "question: What is the first major city in the stream of the Rhine? sentence: The "
                "most important tributaries in this area are the Ill below of Strasbourg, the "
                "Neckar in Mannheim and the Main across from Mainz.",
                "1");
        }
        if (!strcmp(real[i].task, "rte")) {
            expect(
                &s, 0,
                "sentence1: Dana Reeve, the widow of the actor Christopher Reeve, has died of lung "
                "cancer at age 44, according to the Christopher Reeve Foundation. sentence2: "
                "Christopher Reeve had an accident.",
                "1");
            expect(
                &s, 1,
                "sentence1: Yet, we now are discovering that antibiotics are losing their "
                "effectiveness against illness. Disease-causing bacteria are mutating faster than "
                "we can come up with new antibiotics to fight the new variations. sentence2: "
                "Bacteria is winning the war against antibiotics.",
                "0");
        }
        if (!strcmp(real[i].task, "stsb")) {
            expect(&s, 0,
                   "sentence1: A man with a hard hat is dancing. sentence2: A man wearing a hard "
                   "hat is dancing.",
                   "5.0");
            expect(
                &s, 1,
                "sentence1: A young child is riding a horse. sentence2: A child is riding a horse.",
                "4.8");
        }
        printf("  ok real %-6s dev: %zu examples\n", real[i].dir, s.n);
        example_set_free(&s);
    }
}

int main(void) {
    check_fixtures();
    check_bad();
    check_real();
    CHECK_DONE();
}
