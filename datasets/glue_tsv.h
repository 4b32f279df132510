/* glue_tsv.h: the GLUE TSV loader (official GLUE zip layout), read as the HF `glue`
 * script reads it: tab-separated, quoting disabled (csv.QUOTE_NONE: quotes are text),
 * columns by header name (CoLA: no header, label column 1, sentence column 3), a UTF-8
 * BOM dropped (MRPC), blank lines skipped, labels mapped to the HF ClassLabel ids.
 * QQP's malformed rows (missing columns or an empty label) are skipped as HF does;
 * in every other task such a row is an error naming file, line and field. */
#ifndef COMPACTER_DATASETS_GLUE_TSV_H
#define COMPACTER_DATASETS_GLUE_TSV_H

#include "datasets/task.h"

/* Append the rows of `path` to *out. Returns the number of rows skipped (QQP), or -1. */
long glue_load_tsv(const struct task *t, const char *path, struct example_set *out);

#endif
