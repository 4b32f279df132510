/* cmd_run.c: `compacter run experiments/<name>.json [--preset P] [--only k=v,...]
 * [--shard k/N] [--set key=value]... [--results DIR] [--device cpu|cuda|auto]`: train and
 * evaluate every run of an experiment grid that is not yet in DIR/<experiment>.jsonl,
 * appending one line per finished run (experiments/runner.h). Interrupt it at any time: the
 * next invocation resumes each unfinished run from its last evaluation point. --set
 * overrides preset fields for every run (experiments/experiment.h); the overrides become
 * part of each run's id and results line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "experiments/experiment.h"
#include "experiments/runner.h"

int cmd_run(int argc, char **argv) {
    struct arg a[] = {
        {"preset", 1, "preset of the experiment file (default tiny)"},
        {"only", 1,
         "keep runs matching key=value[,key=value] (method, label, task, seed, lr, rf, "
         "train_size)"},
        {"shard", 1, "k/N: run every N-th run of the grid starting at the k-th (several machines)"},
        {"set", 1,
         "key=value (repeatable, or k=v,k=v): override a preset field for every run: epochs, "
         "batch, grad_accum, warmup, max_source_length, eval_every, max_steps, "
         "max_train_samples, memory_budget_bytes (the batch search's bound, batch 0 runs), "
         "precision (fp32, tf32, bf16); "
         "recorded in the results line and part of the run id"},
        {"results", 1,
         "results folder (default results): DIR/<experiment>.jsonl and DIR/runs/<run id>/"},
        {"device", 1, "cpu, cuda or auto (default: the preset's device)"},
        {"data-dir", 1,
         "a folder holding GLUE/SuperGLUE task folders (default: the cache, downloading)"},
        {"threads", 1, "CPU threads (default: the preset's \"threads\", else all cores)"},
        {"dry-run", 0, "check the grid and list the runs still to do; train nothing"},
        {"no-progress-bar", 0, "plain log lines even on a terminal"},
    };
    int n = (int)(sizeof a / sizeof a[0]);
    const char *pos[1];
    int n_pos = 0;
    int r = args_parse(
        argc, argv, a, n,
        "compacter run EXPERIMENT.json [--preset P] [--only k=v,...] [--shard k/N] "
        "[--set key=value]... [--results DIR] [--device D]",
        pos, 1, &n_pos);
    if (r) return r == 1 ? 0 : r;
    if (n_pos != 1) {
        fprintf(stderr, "compacter run: expected one experiment file (see --help)\n");
        return 2;
    }
    const char *dev = args_str(a, n, "device", NULL);
    if (dev && strcmp(dev, "cpu") && strcmp(dev, "cuda") && strcmp(dev, "auto")) {
        fprintf(stderr, "compacter run: --device must be cpu, cuda or auto\n");
        return 2;
    }
    struct experiment_sets sets = {0};
    for (int i = 0; i < n; i++)
        if (!strcmp(a[i].name, "set") && experiment_parse_sets(a[i].values, a[i].n_values, &sets)) {
            fprintf(stderr, "compacter run: %s\n", error_message());
            return 2;
        }
    struct runner_options o = {
        .experiment_path = pos[0],
        .preset = args_str(a, n, "preset", "tiny"),
        .only = args_str(a, n, "only", NULL),
        .shard = args_str(a, n, "shard", NULL),
        .results_dir = args_str(a, n, "results", "results"),
        .device = dev,
        .data_dir = args_str(a, n, "data-dir", NULL),
        .tty = isatty(2) && !args_has(a, n, "no-progress-bar"),
        .dry_run = args_has(a, n, "dry-run"),
        .sets = &sets,
    };
    long long threads;
    if (args_int(a, n, "threads", 0, 0, 4096, &threads)) {
        fprintf(stderr, "compacter run: %s\n", error_message());
        return 2;
    }
    o.threads = (int)threads;
    struct runner_summary s;
    if (runner_run(&o, &s)) return cli_fail("run");
    if (!o.dry_run)
        fprintf(stderr, "%d runs finished now, %d were already done%s%s; results: %s\n",
                s.n_done_now, s.n_done_before, s.n_busy ? ", busy elsewhere: " : "",
                s.n_busy ? "some" : "", s.results_path);
    return 0;
}
