/* download_sources.h: where the benchmark data comes from: the one table of official
 * archive URLs with their pinned size and sha256, and the base URL of each source
 * (overridable for mirrors: by environment or by source_set_mirror(), e.g. from --mirror). */
#ifndef COMPACTER_DOWNLOAD_SOURCES_H
#define COMPACTER_DOWNLOAD_SOURCES_H

#include <stddef.h>
#include <stdint.h>

enum download_source {
    SOURCE_GLUE,      /* https://dl.fbaipublicfiles.com/glue/data          COMPACTER_GLUE_URL */
    SOURCE_MRPC,      /* https://dl.fbaipublicfiles.com/senteval/senteval_data  COMPACTER_MRPC_URL */
    SOURCE_SUPERGLUE, /* https://dl.fbaipublicfiles.com/glue/superglue/data/v2  COMPACTER_SUPERGLUE_URL */
    SOURCE_HF,        /* https://huggingface.co   COMPACTER_HF_ENDPOINT, then HF_ENDPOINT */
    SOURCE_COUNT
};

enum benchmark { BENCH_GLUE, BENCH_SUPERGLUE };

enum dataset_file_kind {
    FILE_ZIP, /* an archive whose top folder is the task folder */
    FILE_RAW  /* a plain file, placed (or processed, MRPC) by download_tasks.c */
};

struct dataset_file {
    enum benchmark bench;
    const char *task;            /* the task folder: "CoLA", "MNLI", "BoolQ" ... */
    enum download_source source;
    const char *file;            /* name under the source's base URL */
    enum dataset_file_kind kind;
    int64_t size;                /* pinned size in bytes, -1 when unpinned */
    const char *sha256;          /* pinned 64-hex sha256, NULL when unpinned */
    const char *unpinned_reason; /* why there is no pin (NULL when pinned) */
    const char *pin_origin;      /* NULL: the official pin; else where the override came from */
};

/* The whole table and its length. */
const struct dataset_file *dataset_table(size_t *n);
/* The base URL a source is fetched from now (mirror, environment or default; no trailing
 * slash). Static storage per source. */
const char *source_base_url(enum download_source s);
/* Override a source's base URL for this process (NULL: back to environment/default). */
void source_set_mirror(enum download_source s, const char *url);
const char *source_name(enum download_source s);
/* "<base>/<file>" into out; 0 or -1 when it does not fit. */
int dataset_file_url(const struct dataset_file *f, char *out, size_t cap);
/* Replace the pin of the table entry (source, file) (tests serve their own small archives).
 * Returns 0, or -1 when no entry has that file name. */
int dataset_pin_override(enum download_source source, const char *file, int64_t size,
                         const char *sha256);

/* $COMPACTER_DATASET_PINS: the path of a file of pin overrides for a mirror whose files
 * differ from the official ones (re-packed archives, a rehearsal's own small archives), one
 * "<source> <file> <size> <sha256>" per line (source: glue, mrpc, superglue; '#' starts a
 * comment). Only the files listed change; each is still verified, against its line. Read
 * once per process (later calls return the first result); unset or empty: nothing changes.
 * Returns the number of overrides, or -1 with an error naming the file and line. */
int dataset_pins_from_env(void);
/* The same for one file (what dataset_pins_from_env reads); callable more than once. A line
 * that fails leaves the lines before it applied. */
int dataset_pins_load(const char *path);

#endif
