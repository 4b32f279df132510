/* checkpoint.h: training checkpoints in safetensors: every trained tensor
 * ("param/<name>"), the AdamW moments ("adam_m/<name>", "adam_v/<name>") and JSON metadata
 * (format, optimizer step, dropout stream position, seed, the run's configuration).
 * Written atomically (tmp + fsync + rename): the last good checkpoint is never lost. */
#ifndef COMPACTER_CHECKPOINT_H
#define COMPACTER_CHECKPOINT_H

#include <stdint.h>

#include "core/optimizer.h"

#define CHECKPOINT_FORMAT "compacter-checkpoint-1"

struct train_state {
    int64_t step;        /* optimizer steps taken */
    uint64_t seed;       /* data order and dropout */
    uint64_t rng_offset; /* dropout stream position */
};

/* config_json: any JSON object text describing the run (stored as a string), or NULL.
 * A state holding NaN or infinity is refused (error naming the tensor); path keeps what it
 * held. */
int checkpoint_save(const char *path, const struct trainable *tr, const struct optimizer *o,
                    const struct train_state *s, const char *config_json);
/* Restore into tensors of the same names and shapes. A missing, extra or mis-shaped tensor,
 * or a file of another format, is an error naming it. o may be NULL (weights only). */
int checkpoint_load(const char *path, struct trainable *tr, struct optimizer *o, struct train_state *s);

#endif
