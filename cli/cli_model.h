/* cli_model.h: helpers shared by the model commands: id-list parsing and model opening. */
#ifndef COMPACTER_CLI_MODEL_H
#define COMPACTER_CLI_MODEL_H

#include <stdint.h>

#include "core/t5_model.h"

/* Parse "13,8,1;5,6,1" into a padded [n_seq, max_len] matrix (pad value `pad`), the
 * lengths and a 0/1 mask. Returns -1 with a message naming the flag on bad input. */
int parse_id_lists(const char *flag, const char *text, int32_t pad, int32_t **ids, int32_t **mask,
                   int *n_seq, int *max_len, int **lens);

/* Resolve --device (cpu, cuda, auto) and --precision (fp32, tf32; NULL = fp32) and load --model:
 * a model folder, or a Hugging Face id found in the cache or downloaded on first use. */
int open_model(struct t5_model *m, const char *dir, const char *device, const char *precision);

#endif
