/* cuda_tensor_list.h: tensor lists for the multi-tensor kernels of cuda_optim.cu, after
 * apex's multi_tensor_apply. A list is `count` tensors, each with `depth` pointers (sumsq:
 * x; AdamW: p, g, m, v), an element count and a one-byte tag (AdamW: the weight-decay
 * group), cut into blocks by the caller's rule (blocks_of(n), 0 for an empty tensor). The
 * host builds the block-to-tensor map and uploads it with the pointers, counts and tags, in
 * one copy, into device memory the cache keeps. A later call with the same pointers,
 * counts and tags uploads nothing (the comparison is on the host), so the steady state of
 * training copies no pointers to the device; a changed list is uploaded again (ordered
 * after the kernels that read the previous one: all run on cuda_stream()), and one larger
 * than the device buffer replaces it (cudaFree, which waits for the device, then
 * cudaMalloc: the only allocations of the optimizer ops). Not for callers outside
 * kernels/cuda. */
#ifndef COMPACTER_CUDA_TENSOR_LIST_H
#define COMPACTER_CUDA_TENSOR_LIST_H

#include <stddef.h>

#define TENSOR_LIST_MAX_DEPTH 4

/* What a kernel gets, by value: device arrays inside the cache's one allocation. Block b
 * works on tensor k = block_tensor[b], as block b - first[k] of that tensor's
 * first[k + 1] - first[k]. */
struct tensor_list {
    float *const *ptr;        /* [depth * count]: pointer d of tensor k is ptr[d * count + k] */
    const size_t *n;          /* [count] elements */
    const unsigned *first;    /* [count + 1] first block of each tensor; first[count] = blocks */
    const unsigned char *tag; /* [count] */
    const int *block_tensor;  /* [blocks] */
    int count;
    unsigned blocks;
};

/* One list kept across calls (zero-initialised before the first). */
struct tensor_list_cache {
    struct tensor_list list; /* the uploaded list, valid while host_bytes != 0 */
    int depth;
    unsigned (*blocks_of)(size_t n);
    unsigned char *host; /* the image last uploaded (the same layout as on the device) */
    size_t host_bytes, host_cap;
    void *dev;
    size_t dev_cap;
};

#ifdef __cplusplus
extern "C" {
#endif

/* Make c->list the list of tensors k < count (count > 0): slots[d] is a host array of
 * count pointers (d < depth <= TENSOR_LIST_MAX_DEPTH), n their element counts, tag their
 * tags (NULL: all 0). Uploads only when it differs from the list c holds. 0 or -1 + error
 * (the cache is then empty). */
int tensor_list_prepare(struct tensor_list_cache *c, int depth, const void *const *slots,
                        const size_t *n, const char *tag, int count,
                        unsigned (*blocks_of)(size_t n));

/* Free the cache's memory (cuda_shutdown); errors are recorded with error_set. */
void tensor_list_release(struct tensor_list_cache *c);

#ifdef __cplusplus
}
#endif
#endif
