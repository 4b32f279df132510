/* cmd_download.c: `compacter download glue|superglue|TASK|MODEL ...`: fill the cache (or
 * check a user's folders) through ensure_task_data() / ensure_model(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "datasets/cache.h"
#include "datasets/download.h"
#include "datasets/download_progress.h"
#include "datasets/download_sources.h"
#include "datasets/download_tasks.h"
#include "datasets/hub.h"

static const char *usage =
    "compacter download [options] glue|superglue|TASK|MODEL...\n"
    "  TASK: cola sst2 mrpc qqp stsb mnli qnli rte wnli diagnostic | boolq cb copa multirc record\n"
    "        wic wsc superglue/rte axb axg\n"
    "  MODEL: a Hugging Face repo id (t5-small, t5-base, google/t5-v1_1-base, google/flan-t5-base)\n"
    "  files go to $COMPACTER_CACHE (default $XDG_CACHE_HOME/compacter, else ~/.cache/compacter): data/glue/<Task>/*.tsv,\n"
    "  data/superglue/<Task>/*.jsonl, models/<org>--<name>/";

static int one_task(const char *name) {
    char dir[4096];
    if (ensure_task_data(name, dir, sizeof dir) != 0) return -1;
    printf("%-12s %s\n", name, dir);
    return 0;
}

int cmd_download(int argc, char **argv) {
    struct arg args[] = {
        {.name = "cache", .takes_value = 1, .help = "cache folder (default $COMPACTER_CACHE, else $XDG_CACHE_HOME/compacter, else ~/.cache/compacter)"},
        {.name = "data-dir", .takes_value = 1, .help = "a folder you already have (DIR/<Task>/, e.g. glue_data/): used, not fetched"},
        {.name = "mirror", .takes_value = 1, .help = "base URL replacing the official one for the sources named on this line"},
        {.name = "timeout", .takes_value = 1, .help = "seconds without data before a transfer is abandoned (default 30)"},
        {.name = "retries", .takes_value = 1, .help = "retries after transient failures (default 4)"},
        {.name = "quiet", .takes_value = 0, .help = "no progress bar"},
    };
    int n_args = sizeof args / sizeof args[0];
    const char *pos[64];
    int n_pos = 0;
    int pr = args_parse(argc, argv, args, n_args, usage, pos, 64, &n_pos);
    if (pr == 1) return 0;
    if (pr) return 2;
    if (n_pos == 0) {
        fprintf(stderr, "compacter: download: name what to download\nusage: %s\n", usage);
        return 2;
    }
    const char *cache = args_str(args, n_args, "cache", NULL);
    if (cache) setenv("COMPACTER_CACHE", cache, 1);
    const char *dd = args_str(args, n_args, "data-dir", NULL);
    if (dd) task_data_set_user_dir(dd);
    struct download_opts o = download_opts_default();
    long long timeout, retries;
    if (args_int(args, n_args, "timeout", o.stall_timeout_s, 0, 86400, &timeout) ||
        args_int(args, n_args, "retries", o.retries, 0, 1000, &retries)) {
        fprintf(stderr, "compacter: download: %s\n", error_message());
        return 2;
    }
    o.stall_timeout_s = (long)timeout;
    o.retries = (int)retries;
    if (!args_has(args, n_args, "quiet")) o.progress = download_progress_bar;
    download_set_defaults(&o);
    const char *mirror = args_str(args, n_args, "mirror", NULL);

    for (int i = 0; i < n_pos; i++) {
        const char *name = pos[i];
        enum benchmark b;
        const char *folder;
        int is_glue = !strcasecmp(name, "glue"), is_super = !strcasecmp(name, "superglue");
        if (is_glue || is_super) {
            b = is_glue ? BENCH_GLUE : BENCH_SUPERGLUE;
            if (mirror) {
                source_set_mirror(is_glue ? SOURCE_GLUE : SOURCE_SUPERGLUE, mirror);
                if (is_glue) source_set_mirror(SOURCE_MRPC, mirror);
            }
            const char *names[32];
            int n = benchmark_tasks(b, names, 32);
            for (int k = 0; k < n && k < 32; k++) {
                char full[64];
                snprintf(full, sizeof full, "%s/%s", benchmark_name(b), names[k]);
                if (one_task(full) != 0) return cli_fail("download");
            }
        } else if (task_lookup(name, &b, &folder) == 0) {
            if (mirror) {
                source_set_mirror(b == BENCH_GLUE ? SOURCE_GLUE : SOURCE_SUPERGLUE, mirror);
                if (b == BENCH_GLUE) source_set_mirror(SOURCE_MRPC, mirror);
            }
            if (one_task(name) != 0) return cli_fail("download");
        } else {
            char dir[4096];
            if (mirror) source_set_mirror(SOURCE_HF, mirror);
            error_clear();
            if (ensure_model(name, dir, sizeof dir) != 0) return cli_fail("download");
            printf("%-12s %s\n", name, dir);
        }
    }
    return 0;
}
