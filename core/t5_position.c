/* t5_position.c: relative position buckets. */
#include "core/t5_position.h"

#include <math.h>

int t5_position_bucket(int rp, int bidirectional, int num_buckets, int max_distance) {
    int base = 0, n;
    if (bidirectional) {
        num_buckets /= 2;
        if (rp > 0) base = num_buckets;
        n = rp < 0 ? -rp : rp;
    } else {
        n = rp < 0 ? -rp : 0;
    }
    int max_exact = num_buckets / 2;
    if (n < max_exact) return base + n;
    /* every step rounded to f32, as torch computes it on f32 tensors */
    float ratio = (float)n / (float)max_exact;
    float lg = logf(ratio);
    float denom = (float)log((double)max_distance / (double)max_exact);
    float v = lg / denom;
    v = v * (float)(num_buckets - max_exact);
    int large = max_exact + (int)v; /* .to(long) truncates toward zero */
    if (large > num_buckets - 1) large = num_buckets - 1;
    return base + large;
}

void t5_position_buckets(int32_t *buckets, int Q, int K, int bidirectional, int num_buckets,
                         int max_distance) {
    for (int q = 0; q < Q; q++)
        for (int k = 0; k < K; k++)
            buckets[q * K + k] = t5_position_bucket(k - q, bidirectional, num_buckets, max_distance);
}
