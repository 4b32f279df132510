/* runner.h: `compacter run`: every run of an experiment grid (experiments/experiment.h),
 * each trained, evaluated on validation every epoch (or every eval_every steps), its best
 * validation state evaluated on test, and ONE line appended to
 * <results_dir>/<experiment>.jsonl (docs/RESULTS_FORMAT.md).
 *
 * Per run: the model (the preset's hub name via ensure_model, or the project's tiny T5,
 * made and cached on first use: experiments/tiny_model.h), the task data (real tasks via
 * ensure_task_data, synthetic syn-* tasks via synthetic_ensure into the cache), the method
 * (registry name, options + reduction_factor), the task-name prefix when the method wants
 * it, AdamW (transformers 4.6 variant) with linear warmup/decay, clip 1, dropout on.
 *
 * Training: one trainer_run per run; its period callback (every epoch, or every eval_every
 * steps) checkpoints, evaluates on validation, keeps the best method-only weights and
 * commits progress.json, in that order.
 *
 * Resumability: state lives in <results_dir>/runs/<run_id>/ (progress.json, the
 * checkpoint of the last evaluation point, the best method-only weights; see
 * run_state.h). A run killed at any point restarts from its last evaluation point; a run
 * whose id is in the results file is skipped; a truncated last line is cut and redone.
 *
 * Preset extensions read here (ignored by experiment.c): "tiny_model": {...}
 * (tiny_model_spec_from_json) and "synthetic": {"train": N, "dev": N, "seed": S,
 * "label_noise": P} (synthetic task sizes), "threads": N (CPU threads; the tiny model's
 * matrices are too small for a second thread to pay, and on a shared machine OpenMP's
 * spinning second thread costs several times more than it gains). */
#ifndef COMPACTER_EXPERIMENTS_RUNNER_H
#define COMPACTER_EXPERIMENTS_RUNNER_H

struct experiment_sets;

struct runner_options {
    const char *experiment_path; /* experiments/<name>.json */
    const char *preset;          /* "tiny" */
    const char *only, *shard;    /* NULL: all */
    const char *results_dir;     /* "results" */
    const char *device;          /* NULL: the preset's; "cpu", "cuda", "auto" */
    const char *data_dir;        /* NULL: the cache (real tasks: a folder the user has) */
    int tty;                     /* progress bar (else plain log lines) */
    int dry_run;                 /* validate and list the runs, train nothing */
    int threads;                 /* CPU threads; 0: the preset's "threads", else OpenMP's default */
    const struct experiment_sets *sets; /* --set overrides (experiment.h); NULL: none */
};

struct runner_summary {
    int n_runs, n_done_before, n_done_now, n_busy;
    char results_path[4096];
};

int runner_run(const struct runner_options *o, struct runner_summary *s);

#endif
