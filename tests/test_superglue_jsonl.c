/* test_superglue_jsonl.c: the SuperGLUE JSONL loader and templates. Hand-written
 * fixtures in the official layout (tests/fixtures/tasks/data/superglue: MultiRC with
 * <br>/<b> markup, ReCoRD with @highlight, non-ASCII code-point entity spans and
 * duplicate answers), bad inputs, and when present the real SuperGLUE val sets in
 * ../shared/data. Expected strings are written by hand from reference-spec.md section 5. */
#include "core/error.h"
#include "datasets/task.h"
#include "tests/check.h"
#include "tests/task_test_util.h"

#define DIR "tests/fixtures/tasks/data"

static void check_fixtures(void) {
    struct example_set s;
    CHECK(load("boolq", DIR "/superglue/BoolQ/val.jsonl", &s, 1) == 0 && s.n == 2, "%s",
          error_message());
    expect(&s, 0,
           "superglue-boolq question: does ethanol take more energy make that produces passage: "
           "Ethanol fuel -- All biomass goes through at least some of these steps.",
           "0");
    expect(&s, 1,
           "superglue-boolq question: is house tax and property tax are same passage: Property tax "
           "-- Property tax or 'house tax' is a local tax on buildings.",
           "1");
    example_set_free(&s);

    /* CB: entailment 0, contradiction 1, neutral 2 */
    CHECK(load("cb", DIR "/superglue/CB/val.jsonl", &s, 0) == 0 && s.n == 3, "%s", error_message());
    expect(&s, 0,
           "premise: Valence the void-brain, Valence the virtuous valet. Did he think he was "
           "helping? hypothesis: Valence was helping",
           "1");
    expect(&s, 1,
           "premise: ``Who knows? The point is, do we go with it or not?'' Do we assume there is a "
           "shipment? hypothesis: there is a shipment",
           "2");
    expect(&s, 2, "premise: It rained. The ground is wet. hypothesis: the ground is wet", "0");
    example_set_free(&s);

    CHECK(load("copa", DIR "/superglue/COPA/val.jsonl", &s, 0) == 0 && s.n == 2, "%s",
          error_message());
    expect(&s, 0,
           "premise: The man turned on the faucet. choice1: The toilet filled with water. choice2: "
           "Water flowed from the spout.",
           "1");
    expect(&s, 1,
           "premise: The woman retired. choice1: She received her pension. choice2: She paid off "
           "her mortgage.",
           "0");
    example_set_free(&s);

    CHECK(load("wic", DIR "/superglue/WiC/val.jsonl", &s, 0) == 0 && s.n == 2, "%s",
          error_message());
    expect(&s, 1,
           "sentence1: Do you want to come over to my place later? sentence2: A political system "
           "with no place for the less prominent groups. word: place",
           "1");
    example_set_free(&s);

    /* MultiRC: one example per answer, markup removed, grouped by question idx */
    CHECK(load("multirc", DIR "/superglue/MultiRC/val.jsonl", &s, 1) == 0 && s.n == 5, "%s",
          error_message());
    expect(&s, 0,
           "superglue-multirc question: What does Timothy like? answer: Sports paragraph: Sent 1: "
           "Timothy likes to play sports. Sent 2: He plays baseball. ",
           "1");
    expect(&s, 1,
           "superglue-multirc question: What does Timothy like? answer: Chess paragraph: Sent 1: "
           "Timothy likes to play sports. Sent 2: He plays baseball. ",
           "0");
    expect(&s, 4,
           "superglue-multirc question: Who sings? answer: John paragraph: Sent 1: Mary sings.",
           "0");
    long groups[] = {0, 0, 1, 2, 2};
    for (size_t k = 0; k < 5 && s.n == 5; k++)
        CHECK(s.ex[k].group == groups[k], "multirc group %zu", k);
    example_set_free(&s);

    /* ReCoRD: entities = unique spans (code-point offsets) sorted; @highlight -> ". " or " "
     * after punctuation; one example per unique answer */
    CHECK(load("record", DIR "/superglue/ReCoRD/val.jsonl", &s, 0) == 0 && s.n == 3, "%s",
          error_message());
    const char *passage =
        "passage: Zo\xc3\xab Ball\xe2\x80\x99s caf\xc3\xa9 opened. Zo\xc3\xab Ball opens "
        "caf\xc3\xa9. Caf\xc3\xa9 draws crowds";
    const char *ents = "entities: Caf\xc3\xa9, Zo\xc3\xab Ball, caf\xc3\xa9 ";
    char want[512];
    snprintf(want, sizeof want, "record query: @placeholder opened a caf\xc3\xa9. %s%s", ents,
             passage);
    expect(&s, 0, want, "Zo\xc3\xab Ball");
    snprintf(want, sizeof want, "record query: The @placeholder drew crowds. %s%s", ents, passage);
    expect(&s, 1, want, "Caf\xc3\xa9");
    expect(&s, 2, want, "caf\xc3\xa9");
    CHECK(s.n == 3 && s.ex[0].n_answers == 1 && s.ex[2].n_answers == 2, "gold answer lists kept");
    example_set_free(&s);
    CHECK(load("record", DIR "/superglue/ReCoRD/val.jsonl", &s, 1) == 0 && s.n == 3 &&
              !strncmp(s.ex[0].source, "superglue-record record query: ", 31),
          "record prefix");
    example_set_free(&s);
    printf("  ok SuperGLUE fixtures: BoolQ, CB, COPA, WiC, MultiRC, ReCoRD\n");
}

static void check_bad(void) {
    static const struct bad_input cases[] = {
        {"not_json.jsonl", "cb", {"not_json.jsonl", "line 2", "not a JSON object"}},
        {"unknown_label.jsonl",
         "cb",
         {"unknown_label.jsonl", "line 2", "field label: unknown label 'perhaps'"}},
        {"missing_field.jsonl",
         "cb",
         {"missing_field.jsonl", "line 1", "field hypothesis: missing"}},
        {"empty.jsonl", "cb", {"empty.jsonl", "no examples", "line 0"}},
        {"unknown_label.jsonl",
         "multirc",
         {"unknown_label.jsonl", "line 1", "field passage: missing"}},
        {"unknown_label.jsonl",
         "boolq",
         {"unknown_label.jsonl", "line 1", "field question: missing"}},
        /* an inclusive end of INT64_MAX: its + 1 overflowed (UBSan, found by test_fuzz_inputs) */
        {"record_span_overflow.jsonl",
         "record",
         {"record_span_overflow.jsonl", "line 1",
          "field passage.entities[0]: span [0, 9223372036854775807] outside the passage (23 characters)"}},
    };
    check_bad_inputs(cases, sizeof cases / sizeof cases[0]);
}

static void check_real(void) {
    static const struct {
        const char *task, *dir;
        size_t n;
    } real[] = {{"boolq", "BoolQ", 3270},     {"cb", "CB", 56},    {"copa", "COPA", 100},
                {"multirc", "MultiRC", 4848}, {"wic", "WiC", 638}, {"superglue-rte", "RTE", 277}};
    if (!shared_data("superglue-val")) {
        if (check_failures) return; /* report the fixture failures, not a skip */
        SKIP("real SuperGLUE val sets: ../shared/data/superglue-val absent (fixtures passed)");
    }
    struct example_set s;
    for (size_t i = 0; i < sizeof real / sizeof real[0]; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "superglue-val/%s/val.jsonl", real[i].dir);
        const char *p = shared_data(rel);
        CHECK(p && load(real[i].task, p, &s, 0) == 0, "%s: %s", rel, error_message());
        CHECK(s.n == real[i].n, "%s: %zu examples, want %zu", rel, s.n, real[i].n);
        const char *t = real[i].task;
        if (!strcmp(t, "cb")) {
            expect(&s, 0,
                   "premise: Valence the void-brain, Valence the virtuous valet. Why couldn't the "
                   "figger choose his own portion of titanic anatomy to shaft? Did he think he was "
                   "helping? hypothesis: Valence was helping",
                   "1");
            expect(&s, 1,
                   "premise: ``Who knows? The point is, do we go with it or not?'' Do we assume "
                   "there is a shipment? hypothesis: there is a shipment",
                   "2");
        }
        if (!strcmp(t, "copa"))
            expect(&s, 0,
                   "premise: The man turned on the faucet. choice1: The toilet filled with water. "
                   "choice2: Water flowed from the spout.",
                   "1");
        if (!strcmp(t, "wic"))
            expect(
                &s, 0,
                "sentence1: An emerging professional class. sentence2: Apologizing for losing "
                "your temper, even though you were badly provoked, showed real class. word: class",
                "0");
        if (!strcmp(t, "superglue-rte"))
            expect(
                &s, 0,
                "premise: Dana Reeve, the widow of the actor Christopher Reeve, has died of lung "
                "cancer at age 44, according to the Christopher Reeve Foundation. hypothesis: "
                "Christopher Reeve had an accident.",
                "1");
        if (!strcmp(t, "boolq") && s.n) {
            const char *w = "question: does ethanol take more energy make that produces passage: "
                            "Ethanol fuel -- ";
            CHECK(!strncmp(s.ex[0].source, w, strlen(w)) && !strcmp(s.ex[0].target, "0"),
                  "boolq[0] %s", s.ex[0].source);
        }
        if (!strcmp(t, "multirc") && s.n) {
            const char *w =
                "question: Would the mass of a baseball affect how much force you have to use to "
                "pick it up? answer: No paragraph: What causes a change in motion? The application "
                "of a force.";
            CHECK(!strncmp(s.ex[0].source, w, strlen(w)) && !strcmp(s.ex[0].target, "0"),
                  "multirc[0] %s", s.ex[0].source);
            CHECK(!strcmp(s.ex[1].target, "1"), "multirc[1] 'Yes' is true");
            size_t passages = 0, questions = 0;
            for (size_t k = 0; k < s.n; k++) {
                passages += k == 0 || strcmp(s.ex[k].text[2], s.ex[k - 1].text[2]) != 0;
                questions += k == 0 || s.ex[k].group != s.ex[k - 1].group;
            }
            CHECK(passages == 83, "multirc passages %zu want 83", passages);
            printf("  ok real MultiRC: 83 passages, %zu questions, %zu answers\n", questions, s.n);
            for (size_t k = 0; k < s.n; k++)
                CHECK(!strstr(s.ex[k].source, "<br>") && !strstr(s.ex[k].source, "<b>"),
                      "markup left in %zu", k);
        }
        printf("  ok real %-7s val: %zu examples\n", real[i].dir, s.n);
        example_set_free(&s);
    }
}

int main(void) {
    check_fixtures();
    check_bad();
    check_real();
    CHECK_DONE();
}
