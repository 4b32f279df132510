/* task_test_util.h: helpers shared by the task-loader tests: load a file with a task's
 * loader and format it, and compare one formatted example with hand-written strings. */
#ifndef COMPACTER_TASK_TEST_UTIL_H
#define COMPACTER_TASK_TEST_UTIL_H

#include "core/error.h"
#include "datasets/task.h"
#include "tests/check.h"

static int load(const char *task, const char *path, struct example_set *s, int prefix) {
    struct task_options o = task_options_default();
    o.add_prefix = prefix;
    memset(s, 0, sizeof *s);
    if (task_load_file(task_find(task), path, s) < 0) return -1;
    return task_format(s, &o);
}

static void expect(const struct example_set *s, size_t i, const char *src, const char *tgt) {
    CHECK(i < s->n, "example %zu of %zu", i, s->n);
    if (i >= s->n) return;
    CHECK(!strcmp(s->ex[i].source, src), "%s[%zu] source\n  got:  %s\n  want: %s", s->task->name, i,
          s->ex[i].source, src);
    CHECK(!strcmp(s->ex[i].target, tgt), "%s[%zu] target got %s want %s", s->task->name, i,
          s->ex[i].target, tgt);
}

/* A bad input file and three fragments its error message must contain. */
struct bad_input {
    const char *file, *task, *want[3];
};

/* Each file of tests/fixtures/tasks/bad must fail to load as its task with one message
 * naming the file, the line and the field. */
static void check_bad_inputs(const struct bad_input *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char path[256];
        snprintf(path, sizeof path, "tests/fixtures/tasks/bad/%s", cases[i].file);
        struct example_set s = {0};
        error_clear();
        int rc = task_load_file(task_find(cases[i].task), path, &s);
        int all = 1;
        for (int k = 0; k < 3; k++) all &= strstr(error_message(), cases[i].want[k]) != NULL;
        CHECK(rc < 0 && all, "%s as %s: rc %d, message '%s'", cases[i].file, cases[i].task, rc, error_message());
        printf("  ok bad input %-20s -> %s\n", cases[i].file, error_message());
        example_set_free(&s);
    }
}

#endif
