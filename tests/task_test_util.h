/* task_test_util.h: helpers shared by the task-loader tests: load a file with a task's
 * loader and format it, and compare one formatted example with hand-written strings. */
#ifndef COMPACTER_TASK_TEST_UTIL_H
#define COMPACTER_TASK_TEST_UTIL_H

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

#endif
