/* download_tasks.h: find a GLUE / SuperGLUE task's files, or fetch and unpack them on first
 * use, into the layout the task loaders read:
 *   <cache>/data/glue/<Task>/{train,dev,test}.tsv        (MNLI: dev_matched.tsv, ...)
 *   <cache>/data/superglue/<Task>/{train,val,test}.jsonl
 * Task names are matched ignoring case, '-' and '_' ("cola", "SST-2", "stsb", "boolq",
 * "ReCoRD"); "rte" is GLUE's RTE, "superglue/rte" SuperGLUE's ("glue/rte" also works);
 * "diagnostic" (GLUE AX), "axb", "axg" are the diagnostic sets. */
#ifndef COMPACTER_DOWNLOAD_TASKS_H
#define COMPACTER_DOWNLOAD_TASKS_H

#include <stddef.h>

#include "datasets/download_sources.h"

/* Resolve a task name. Returns 0 and sets *bench and *folder ("CoLA"), or -1. */
int task_lookup(const char *name, enum benchmark *bench, const char **folder);
/* The task folders of a benchmark that `compacter download glue|superglue` fetches (all
 * but the diagnostic sets); returns the count, fills up to cap names. */
int benchmark_tasks(enum benchmark bench, const char **folders, int cap);
const char *benchmark_name(enum benchmark bench); /* "glue" / "superglue" */

/* A folder the user already has, searched before the cache: DIR/<Task>/ or
 * DIR/<glue|superglue>/<Task>/ (so the classic glue_data/ works). NULL: none; the
 * environment variable COMPACTER_DATA_DIR is used when this was never called. */
void task_data_set_user_dir(const char *dir);

/* The folder holding the task's files, into dir_out: the user's folder, else the cache,
 * else downloaded (verified against the pinned sha256), unpacked and renamed into the cache.
 * Returns 0, or -1 with a message saying what could not be fetched, from where, and where to
 * put the files by hand. */
int ensure_task_data(const char *task, char *dir_out, size_t cap);

#endif
