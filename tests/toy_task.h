/* toy_task.h: the toy training task of the tests that run `compacter train` (test_train_resume,
 * test_cli_cuda): 40 JSONL examples of 3-12 token ids, the target copying the first two, from a
 * fixed LCG, so every run sees the same data. */
#ifndef COMPACTER_TESTS_TOY_TASK_H
#define COMPACTER_TESTS_TOY_TASK_H

#include <stdio.h>

/* Write the task to path; 0, or -1 when the file cannot be written. */
static inline int write_copy_task(const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    unsigned s = 12345;
    for (int i = 0; i < 40; i++) {
        int len = 3 + (int)((s = s * 1103515245u + 12345u) >> 16) % 10, a[16];
        for (int j = 0; j < len; j++) a[j] = 2 + (int)((s = s * 1103515245u + 12345u) >> 16) % 90;
        fprintf(f, "{\"source\": [");
        for (int j = 0; j < len; j++) fprintf(f, "%d,", a[j]);
        fprintf(f, "1], \"target\": [%d, %d, 1]}\n", a[0], a[1]);
    }
    return fclose(f) ? -1 : 0;
}

#endif
