/* ref_attention.h: the fused attention softmax + dropout backward (core/backend.h
 * attn_softmax_dropout_backward) composed from the CPU backend's separate ops, the reference
 * the fused kernels are checked against (tests/test_fusion.c, tests/test_cuda_ops.c). The CPU
 * backend has no fused backward of its own: composed, it would only add an allocation per
 * call. */
#ifndef COMPACTER_TESTS_REF_ATTENTION_H
#define COMPACTER_TESTS_REF_ATTENTION_H

#include <stdlib.h>

#include "core/backend.h"
#include "core/error.h"

/* dropout_backward of ddropped into zeros, attn_softmax_backward of that, then (drop_probs)
 * probs dropped in place */
static inline int ref_softmax_dropout_backward(float *ds, float *dbias, const float *ddropped, float *probs,
                                               int64_t B, int64_t H, int64_t Q, int64_t K, float p, uint64_t seed,
                                               uint64_t offset, int drop_probs, int accumulate) {
    const struct backend *be = &backend_cpu;
    size_t n = (size_t)(B * H * Q * K);
    float *dprobs = malloc((n ? n : 1) * sizeof(float));
    if (!dprobs) return error_set("reference softmax and dropout backward: out of memory");
    int rc = be->dropout_backward(dprobs, ddropped, n, p, seed, offset, 0) ||
             be->attn_softmax_backward(ds, dbias, dprobs, probs, B, H, Q, K, accumulate) ||
             (drop_probs && be->dropout(probs, probs, n, p, seed, offset));
    free(dprobs);
    return rc ? -1 : 0;
}

#endif
