/* results_file.h: the runner's side of results/<experiment>.jsonl (docs/RESULTS_FORMAT.md):
 * which run ids it already holds, and appending one line durably. A line counts only when
 * it is complete (ends with a newline and parses as a JSON object with a "run_id"); a
 * truncated last line (a run killed while writing) is cut off before the next append, so
 * that run is redone and its line written once. Appends hold an flock on the file (shards
 * in several processes may share it) and fsync the file and its directory. */
#ifndef COMPACTER_EXPERIMENTS_RESULTS_FILE_H
#define COMPACTER_EXPERIMENTS_RESULTS_FILE_H

#include <jansson.h>
#include <stddef.h>

struct results_index {
    char **ids;
    size_t n, cap;
    int truncated_tail; /* the file ends with an incomplete line */
};

/* fn(object, line number, ctx) for each complete line of the JSON-lines file path (absent:
 * none; empty lines skipped), stopping at fn's first non-zero return; a cut last line (a
 * killed writer) is skipped and sets *truncated (may be NULL); a complete line that is not
 * a JSON object is an error naming the file and line. */
int jsonl_each(const char *path, int (*fn)(json_t *o, int lineno, void *ctx), void *ctx, int *truncated);

/* Read path (absent = empty). A complete line that is not a JSON object is an error naming
 * the file and line. */
int results_index_load(struct results_index *ix, const char *path);
int results_index_has(const struct results_index *ix, const char *run_id);
void results_index_free(struct results_index *ix);

/* Append line (no newline inside; one is added) to path, creating it and its folder.
 * *cut_bytes (may be NULL) receives how many bytes of a truncated tail were removed. A
 * write that fails part way (full disk) is cut off again: the file keeps its earlier lines. */
int results_append(const char *path, const char *line, long *cut_bytes);

#endif
