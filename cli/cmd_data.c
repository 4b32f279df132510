/* cmd_data.c: `compacter data show|list`: print formatted source/target pairs of a
 * GLUE/SuperGLUE split (after the reference's split rule) or list the task table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "datasets/cache.h"
#include "datasets/download_tasks.h"
#include "datasets/synthetic.h"
#include "datasets/task.h"

/* The cache's data folder, after making sure the task is there: a real task is fetched on
 * first use (datasets/download_tasks.h); synthetic tasks need --data-dir (compacter
 * synthetic --out DIR writes them). */
static const char *default_data_dir(const struct task *t, char *buf, size_t cap) {
    char task_dir[4096];
    if (!synthetic_is_task(t) && ensure_task_data(t->name, task_dir, sizeof task_dir)) return NULL;
    if (cache_path("data", buf, cap)) return NULL;
    return buf;
}

static int data_list(void) {
    printf("%-14s %-18s %-8s %-6s %s\n", "task", "prefix", "folder", "split", "metrics");
    static const char *rules[] = {"small", "large", "mnli"};
    for (size_t i = 0; i < task_count(); i++) {
        const struct task *t = task_at(i);
        printf("%-14s %-18s %-8s %-6s %s%s%s\n", t->name, t->prefix, t->dir, rules[t->split],
               t->metric_names[0], t->n_metrics > 1 ? "," : "",
               t->n_metrics > 1 ? t->metric_names[1] : "");
    }
    return 0;
}

int cmd_data(int argc, char **argv) {
    struct arg args[] = {
        {.name = "task", .takes_value = 1, .help = "task name (compacter data list)"},
        {.name = "split",
         .takes_value = 1,
         .help = "train | validation | test (default validation)"},
        {.name = "limit", .takes_value = 1, .help = "print at most N examples (default 3)"},
        {.name = "data-dir",
         .takes_value = 1,
         .help = "folder with glue/<Task>/*.tsv and superglue/<Task>/*.jsonl "
                 "(default: the cache, $COMPACTER_CACHE/data, downloading the task on first use)"},
        {.name = "prefix",
         .takes_value = 0,
         .help = "prepend the task name (methods without task adapters)"},
        {.name = "stsb-step",
         .takes_value = 1,
         .help = "STS-B target rounding: 0.1 (code, default) or 0.2 (paper)"},
        {.name = "n-obs",
         .takes_value = 1,
         .help = "low-resource: keep the first N of the seed-42 shuffle"},
    };
    const int na = sizeof args / sizeof args[0];
    const char *pos[2];
    int n_pos = 0;
    int r = args_parse(argc, argv, args, na,
                       "compacter data show --task NAME [--split S] [--limit N] [--data-dir DIR] "
                       "[--prefix]\n       compacter data list",
                       pos, 2, &n_pos);
    if (r == 1) return 0;
    if (r) return 2;
    if (n_pos != 1 || (strcmp(pos[0], "show") && strcmp(pos[0], "list"))) {
        fprintf(stderr, "compacter data: expected 'show' or 'list' (see --help)\n");
        return 2;
    }
    if (!strcmp(pos[0], "list")) return data_list();
    const char *name = args_str(args, na, "task", NULL);
    if (!name) {
        fprintf(stderr, "compacter data show: --task is required\n");
        return 2;
    }
    const struct task *t = task_find(name);
    if (!t) return cli_fail("data");
    char dbuf[4096];
    const char *dir = args_str(args, na, "data-dir", NULL);
    if (!dir && !(dir = default_data_dir(t, dbuf, sizeof dbuf))) return cli_fail("data");
    const char *split = args_str(args, na, "split", "validation");
    char *e;
    long limit = strtol(args_str(args, na, "limit", "3"), &e, 10);
    if (*e || limit < 0) {
        fprintf(stderr, "compacter data show: --limit must be a non-negative integer\n");
        return 2;
    }
    struct task_options o = task_options_default();
    o.add_prefix = args_has(args, na, "prefix");
    o.stsb_step = strtod(args_str(args, na, "stsb-step", "0.1"), &e);
    if (*e || (o.stsb_step != 0.1 && o.stsb_step != 0.2)) {
        fprintf(stderr, "compacter data show: --stsb-step must be 0.1 or 0.2\n");
        return 2;
    }
    o.n_obs = strtol(args_str(args, na, "n-obs", "-1"), &e, 10);
    if (*e) {
        fprintf(stderr, "compacter data show: --n-obs must be an integer\n");
        return 2;
    }
    struct example_set set = {0};
    if (task_get(t, dir, split, &o, &set) < 0) return cli_fail("data");
    printf("# task %s, split %s: %zu examples (data dir %s)\n", t->name, split, set.n, dir);
    for (size_t i = 0; i < set.n && (long)i < limit; i++) {
        printf("[%zu] source: %s\n", i, set.ex[i].source);
        printf("[%zu] target: %s\n", i, set.ex[i].target);
    }
    example_set_free(&set);
    return 0;
}
