/* cmd_synthetic.c: `compacter synthetic`: write the synthetic GLUE-shaped tasks
 * (datasets/synthetic.h) in the official GLUE layout under --out DIR, or print the closed
 * vocabulary (--words) or pre-training corpus sentences (--corpus N). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "datasets/synthetic.h"
#include "datasets/task.h"

static int parse_num(const char *name, const char *v, double lo, double hi, double *out) {
    char *e;
    errno = 0;
    double x = strtod(v, &e);
    if (!*v || *e || errno || !(x >= lo && x <= hi))
        return error_set("--%s %s: expected a number in [%g, %g]", name, v, lo, hi);
    *out = x;
    return 0;
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int cmd_synthetic(int argc, char **argv) {
    struct arg args[] = {
        {.name = "out", .takes_value = 1, .help = "data dir to write (DIR/glue/<Task>/*.tsv, DIR/SYNTHETIC)"},
        {.name = "train", .takes_value = 1, .help = "rows of each train.tsv (default 2000)"},
        {.name = "dev", .takes_value = 1, .help = "rows of each dev file (default 400)"},
        {.name = "seed", .takes_value = 1, .help = "generator seed (default 1)"},
        {.name = "label-noise", .takes_value = 1, .help = "probability of a wrong class label (default 0.05)"},
        {.name = "task", .takes_value = 1, .help = "only this synthetic task (repeatable; default all)"},
        {.name = "if-missing", .help = "do nothing when DIR/SYNTHETIC records the same options"},
        {.name = "force", .help = "write even into a non-empty dir without DIR/SYNTHETIC"},
        {.name = "words", .help = "print the closed vocabulary, one word a line, and exit"},
        {.name = "corpus", .takes_value = 1, .help = "print N pre-training corpus sentences and exit"},
    };
    int n_args = (int)(sizeof args / sizeof args[0]);
    const char *usage = "compacter synthetic --out DIR [--train N] [--dev N] [--seed S] "
                        "[--label-noise P] [--task NAME]... [--if-missing] [--force] | --words | "
                        "--corpus N [--seed S]";
    int rc = args_parse(argc, argv, args, n_args, usage, NULL, 0, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    struct synthetic_options o = synthetic_options_default();
    double x;
    const char *v;
    if ((v = args_str(args, n_args, "train", NULL))) {
        if (parse_num("train", v, 1, 1e8, &x) < 0) return cli_fail("synthetic");
        o.n_train = (long)x;
    }
    if ((v = args_str(args, n_args, "dev", NULL))) {
        if (parse_num("dev", v, 1, 1e8, &x) < 0) return cli_fail("synthetic");
        o.n_dev = (long)x;
    }
    if ((v = args_str(args, n_args, "seed", NULL))) {
        char *e;
        errno = 0;
        unsigned long long s = strtoull(v, &e, 10);
        if (!*v || *e || errno || *v == '-') {
            error_set("--seed %s: expected a non-negative integer", v);
            return cli_fail("synthetic");
        }
        o.seed = s;
    }
    if ((v = args_str(args, n_args, "label-noise", NULL))) {
        if (parse_num("label-noise", v, 0, 1, &o.label_noise) < 0) return cli_fail("synthetic");
    }
    if (args_has(args, n_args, "words")) {
        for (size_t i = 0; i < synthetic_word_count(); i++)
            puts(synthetic_word(i));
        return 0;
    }
    if ((v = args_str(args, n_args, "corpus", NULL))) {
        if (parse_num("corpus", v, 0, 1e9, &x) < 0) return cli_fail("synthetic");
        char buf[1024];
        for (long i = 0; i < (long)x; i++) {
            if (synthetic_sentence(o.seed, (uint64_t)i, buf, sizeof buf) < 0)
                return cli_fail("synthetic");
            puts(buf);
        }
        return 0;
    }
    const char *dir = args_str(args, n_args, "out", NULL);
    if (!dir) {
        fprintf(stderr, "compacter: synthetic: --out DIR is required\nusage: %s\n", usage);
        return 2;
    }
    char stamp[4200];
    snprintf(stamp, sizeof stamp, "%s/SYNTHETIC", dir);
    if (!exists(stamp) && !args_has(args, n_args, "force")) {
        /* never write into a dir we did not make: it could be real GLUE / shared data */
        DIR *d = opendir(dir);
        struct dirent *de;
        while (d && (de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
                error_set("%s is not empty and has no SYNTHETIC stamp (it may hold real data); "
                          "choose a new or synthetic --out (or --force)",
                          dir);
                closedir(d);
                return cli_fail("synthetic");
            }
        if (d) closedir(d);
    }
    int n_tasks = 0;
    for (int i = 0; i < n_args; i++)
        if (!strcmp(args[i].name, "task")) n_tasks = args[i].n_values;
    if (n_tasks) {
        const struct arg *ta = NULL;
        for (int i = 0; i < n_args; i++)
            if (!strcmp(args[i].name, "task")) ta = &args[i];
        for (int k = 0; k < n_tasks; k++) {
            const struct task *t = task_find(ta->values[k]);
            if (!t) return cli_fail("synthetic");
            if (!synthetic_is_task(t)) {
                error_set("--task %s: not a synthetic task (syn-sst2, syn-cola, syn-mrpc, "
                          "syn-stsb, syn-rte, syn-mnli)",
                          ta->values[k]);
                return cli_fail("synthetic");
            }
            if (synthetic_write_task(t, dir, &o) < 0) return cli_fail("synthetic");
            printf("wrote %s/%s/%s (%s)\n", dir, t->source == TASK_GLUE_TSV ? "glue" : "superglue", t->dir, t->name);
        }
        return 0;
    }
    if (args_has(args, n_args, "if-missing")) {
        int w = synthetic_ensure(dir, &o);
        if (w < 0) return cli_fail("synthetic");
        printf("%s %s\n", w ? "wrote" : "up to date:", dir);
        return 0;
    }
    if (synthetic_write(dir, &o) < 0) return cli_fail("synthetic");
    for (size_t i = 0; i < synthetic_task_count(); i++) {
        const struct task *t = task_find(synthetic_task_name(i));
        printf("wrote %s/%s/%s (%s)\n", dir, t->source == TASK_GLUE_TSV ? "glue" : "superglue", t->dir, t->name);
    }
    return 0;
}
