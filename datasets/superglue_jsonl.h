/* superglue_jsonl.h: the SuperGLUE JSONL loader (official SuperGLUE v2 zip layout), giving
 * the rows the HF `super_glue` script gives:
 *   BoolQ/CB/COPA/RTE/WiC: one row per line, label -> ClassLabel id (bool: False 0 True 1);
 *   MultiRC: one row per answer (passage.text, questions[].question/idx,
 *            answers[].text/label), group = the question's idx;
 *   ReCoRD: one row per query (qas[]): entities = the unique passage spans
 *            text[start:end+1] (code-point offsets), sorted; answers sorted, unique.
 * A line that is not JSON, a missing or mistyped field, or an unknown label is an
 * error naming file, line and field. */
#ifndef COMPACTER_DATASETS_SUPERGLUE_JSONL_H
#define COMPACTER_DATASETS_SUPERGLUE_JSONL_H

#include "datasets/task.h"

int superglue_load_jsonl(const struct task *t, const char *path, struct example_set *out);

#endif
