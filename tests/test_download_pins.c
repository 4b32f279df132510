/* test_download_pins.c: the pinned table: every GLUE / SuperGLUE task the runner can ask for
 * has a source; every entry has an https URL under the official base and a 64-hex sha256
 * with a size, or is explicitly marked unpinned with a reason; mirrors override base URLs. */
#include <ctype.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/error.h"
#include "datasets/download_sources.h"
#include "datasets/download_tasks.h"
#include "datasets/sha256.h"
#include "tests/check.h"

int main(void) {
    unsetenv("COMPACTER_GLUE_URL");
    unsetenv("COMPACTER_MRPC_URL");
    unsetenv("COMPACTER_SUPERGLUE_URL");
    unsetenv("COMPACTER_HF_ENDPOINT");
    unsetenv("HF_ENDPOINT");
    size_t n;
    const struct dataset_file *t = dataset_table(&n);
    CHECK(n >= 20, "table has %zu entries", n);
    int pinned = 0, unpinned = 0;
    for (size_t i = 0; i < n; i++) {
        char url[2048];
        CHECK(dataset_file_url(&t[i], url, sizeof url) == 0, "url of %s", t[i].file);
        CHECK(!strncmp(url, "https://dl.fbaipublicfiles.com/", 31), "%s: official URL %s", t[i].task, url);
        if (t[i].sha256) {
            pinned++;
            CHECK(is_hex_digest(t[i].sha256, 64), "%s: sha256 '%s' is 64 hex", t[i].file, t[i].sha256);
            for (const char *p = t[i].sha256; *p; p++) CHECK(!isupper((unsigned char)*p), "lower-case hex");
            CHECK(t[i].size > 0, "%s: pinned size %lld", t[i].file, (long long)t[i].size);
            CHECK(t[i].unpinned_reason == NULL, "%s: pinned but has a reason", t[i].file);
        } else {
            unpinned++;
            CHECK(t[i].unpinned_reason && *t[i].unpinned_reason, "%s: unpinned without a reason", t[i].file);
        }
        for (size_t j = 0; j < i; j++)
            CHECK(t[j].source != t[i].source || strcmp(t[j].file, t[i].file), "duplicate %s", t[i].file);
    }
    printf("  %d pinned, %d unpinned of %zu entries\n", pinned, unpinned, n);
    /* every task name resolves and has at least one table entry */
    const char *names[] = {"cola", "SST-2", "sst2", "mrpc", "qqp", "STS-B", "mnli", "qnli", "rte", "wnli",
                           "diagnostic", "boolq", "CB", "copa", "MultiRC", "record", "superglue/rte",
                           "wic", "wsc", "axb", "axg"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        enum benchmark b;
        const char *folder = NULL;
        CHECK(task_lookup(names[k], &b, &folder) == 0, "lookup %s: %s", names[k], error_message());
        int found = 0;
        for (size_t i = 0; folder && i < n; i++) found += t[i].bench == b && !strcmp(t[i].task, folder);
        CHECK(found >= 1, "%s (%s) has a source", names[k], folder ? folder : "?");
    }
    enum benchmark b;
    const char *folder;
    CHECK(task_lookup("rte", &b, &folder) == 0 && b == BENCH_GLUE, "bare rte is GLUE's");
    CHECK(task_lookup("superglue/rte", &b, &folder) == 0 && b == BENCH_SUPERGLUE && !strcmp(folder, "RTE"),
          "superglue/rte");
    CHECK(task_lookup("mnli", &b, &folder) == 0 && !strcmp(folder, "MNLI"), "mnli folder");
    CHECK(task_lookup("nope", &b, &folder) == -1 && strstr(error_message(), "nope"), "unknown task named");
    const char *all[32];
    CHECK(benchmark_tasks(BENCH_GLUE, all, 32) == 9, "glue = 9 tasks without the diagnostic");
    CHECK(benchmark_tasks(BENCH_SUPERGLUE, all, 32) == 8, "superglue = 8 tasks without AX-b/AX-g");
    /* known values from the published checksum files (HF datasets / tfds) */
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t[i].file, "CoLA.zip"))
            CHECK(t[i].size == 376971 && !strcmp(t[i].sha256, "f212fcd832b8f7b435fb991f101abf89f96b933ab400603bf198960dfc32cbff"),
                  "CoLA pin");
    /* mirrors: environment, then source_set_mirror, trailing slashes dropped */
    CHECK(!strcmp(source_base_url(SOURCE_HF), "https://huggingface.co"), "hf default");
    setenv("HF_ENDPOINT", "http://mirror.example/", 1);
    CHECK(!strcmp(source_base_url(SOURCE_HF), "http://mirror.example"), "HF_ENDPOINT: %s", source_base_url(SOURCE_HF));
    setenv("COMPACTER_HF_ENDPOINT", "http://other", 1);
    CHECK(!strcmp(source_base_url(SOURCE_HF), "http://other"), "COMPACTER_HF_ENDPOINT wins");
    source_set_mirror(SOURCE_GLUE, "http://127.0.0.1:9/glue//");
    CHECK(!strcmp(source_base_url(SOURCE_GLUE), "http://127.0.0.1:9/glue"), "--mirror: %s", source_base_url(SOURCE_GLUE));
    source_set_mirror(SOURCE_GLUE, NULL);
    CHECK(!strcmp(source_base_url(SOURCE_GLUE), "https://dl.fbaipublicfiles.com/glue/data"), "mirror cleared");

    /* pin overrides from a file ($COMPACTER_DATASET_PINS): only the listed files change, a
     * bad line names the file and line */
    char pins[] = "/tmp/test_pins_XXXXXX";
    int fd = mkstemp(pins);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f) {
        fprintf(f, "# a mirror's own archives\nsuperglue RTE.zip 1234 %s\n\n",
                "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
        fclose(f);
    }
    CHECK(dataset_pins_load(pins) == 1, "pins file: %s", error_message());
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(t[i].file, "RTE.zip") && t[i].source == SOURCE_SUPERGLUE)
            CHECK(t[i].size == 1234 && !strcmp(t[i].sha256, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789") &&
                      t[i].pin_origin && !strcmp(t[i].pin_origin, pins),
                  "SuperGLUE RTE.zip overridden");
        if (!strcmp(t[i].file, "RTE.zip") && t[i].source == SOURCE_GLUE)
            CHECK(t[i].size == 697150 && !t[i].pin_origin, "GLUE RTE.zip keeps its official pin");
    }
    f = fopen(pins, "w");
    if (f) {
        fprintf(f, "glue CoLA.zip 10 %s\nglue CoLA.zip ten deadbeef\n",
                "0000000000000000000000000000000000000000000000000000000000000000");
        fclose(f);
    }
    char where[300];
    snprintf(where, sizeof where, "%s:2:", pins);
    CHECK(dataset_pins_load(pins) == -1 && strstr(error_message(), where), "bad line: %s", error_message());
    f = fopen(pins, "w");
    if (f) {
        fprintf(f, "mrpc CoLA.zip 10 %s\n", "0000000000000000000000000000000000000000000000000000000000000000");
        fclose(f);
    }
    CHECK(dataset_pins_load(pins) == -1 && strstr(error_message(), "no dataset file CoLA.zip"), "%s", error_message());
    unlink(pins);
    CHECK(dataset_pins_load("/nonexistent/pins.txt") == -1 && strstr(error_message(), "/nonexistent/pins.txt"), "%s",
          error_message());
    CHECK_DONE();
}
