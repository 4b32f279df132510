/* t5_position.h: T5's relative position buckets (transformers' _relative_position_bucket,
 * evaluated in f32 as torch does on the CPU). */
#ifndef COMPACTER_T5_POSITION_H
#define COMPACTER_T5_POSITION_H

#include <stdint.h>

/* Bucket of relative position rp = key - query. */
int t5_position_bucket(int rp, int bidirectional, int num_buckets, int max_distance);
/* buckets[q * K + k] for q < Q, k < K. */
void t5_position_buckets(int32_t *buckets, int Q, int K, int bidirectional, int num_buckets,
                         int max_distance);

#endif
