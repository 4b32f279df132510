/* cuda_tensor_list.cu: building, caching and uploading the tensor lists of the multi-tensor
 * kernels (cuda_tensor_list.h). The image is laid out the same on the host and on the
 * device, so one cudaMemcpy uploads it, and the host copy is the key the next call is
 * compared with. */
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_tensor_list.h"

/* byte offsets of the arrays in the image */
struct list_layout {
    size_t ptr, n, first, tag, block_tensor, bytes;
};

static struct list_layout list_layout_of(int depth, int count, unsigned blocks) {
    struct list_layout l;
    l.ptr = 0;
    l.n = l.ptr + (size_t)depth * (size_t)count * sizeof(float *);
    l.first = l.n + (size_t)count * sizeof(size_t);
    l.tag = l.first + ((size_t)count + 1) * sizeof(unsigned);
    l.block_tensor = (l.tag + (size_t)count + 7) & ~(size_t)7;
    l.bytes = l.block_tensor + (size_t)blocks * sizeof(int);
    return l;
}

/* 1 if c holds exactly this list */
static int same_list(const struct tensor_list_cache *c, int depth, const void *const *slots,
                     const size_t *n, const char *tag, int count, unsigned (*blocks_of)(size_t n)) {
    if (!c->host_bytes || c->depth != depth || c->list.count != count || c->blocks_of != blocks_of)
        return 0;
    struct list_layout l = list_layout_of(depth, count, c->list.blocks);
    size_t slot_bytes = (size_t)count * sizeof(float *);
    for (int d = 0; d < depth; d++)
        if (memcmp(c->host + l.ptr + (size_t)d * slot_bytes, slots[d], slot_bytes)) return 0;
    if (memcmp(c->host + l.n, n, (size_t)count * sizeof(size_t))) return 0;
    const unsigned char *t = c->host + l.tag;
    for (int k = 0; k < count; k++)
        if (t[k] != (tag ? (unsigned char)tag[k] : 0)) return 0;
    return 1;
}

/* the device buffer holds at least `bytes` (growing by half again, so that a list that
 * grows step by step does not reallocate every time) */
static int reserve_device(struct tensor_list_cache *c, size_t bytes) {
    if (bytes <= c->dev_cap) return 0;
    void *old = c->dev;
    c->dev = NULL;
    c->dev_cap = 0;
    if (old) CUDA_CHECK(cudaFree(old)); /* waits for the kernels that read it */
    size_t cap = bytes + bytes / 2;
    void *d = NULL;
    cudaError_t e = cudaMalloc(&d, cap);
    if (e != cudaSuccess) {
        (void)cudaGetLastError(); /* an allocation failure is not sticky: clear it */
        return error_set("%s:%d: cudaMalloc of %zu bytes (tensor list): %s (%s)", __FILE__,
                         __LINE__, cap, cudaGetErrorString(e), cudaGetErrorName(e));
    }
    c->dev = d;
    c->dev_cap = cap;
    return 0;
}

extern "C" int tensor_list_prepare(struct tensor_list_cache *c, int depth, const void *const *slots,
                                   const size_t *n, const char *tag, int count,
                                   unsigned (*blocks_of)(size_t n)) {
    if (depth < 1 || depth > TENSOR_LIST_MAX_DEPTH || count < 1)
        return error_set("tensor list: depth %d, count %d (expected 1..%d, >= 1)", depth, count,
                         TENSOR_LIST_MAX_DEPTH);
    if (same_list(c, depth, slots, n, tag, count, blocks_of)) return 0;
    c->host_bytes = 0; /* empty until the new list is on the device */

    uint64_t blocks = 0;
    for (int k = 0; k < count; k++)
        blocks += blocks_of(n[k]);
    if (blocks > INT32_MAX)
        return error_set("tensor list: %llu blocks for %d tensors (at most %d in one launch)",
                         (unsigned long long)blocks, count, INT32_MAX);
    struct list_layout l = list_layout_of(depth, count, (unsigned)blocks);
    if (l.bytes > c->host_cap) {
        unsigned char *h = (unsigned char *)realloc(c->host, l.bytes);
        if (!h) return error_set("tensor list: out of host memory (%zu bytes)", l.bytes);
        c->host = h;
        c->host_cap = l.bytes;
    }
    unsigned char *h = c->host;
    size_t slot_bytes = (size_t)count * sizeof(float *);
    for (int d = 0; d < depth; d++)
        memcpy(h + l.ptr + (size_t)d * slot_bytes, slots[d], slot_bytes);
    memcpy(h + l.n, n, (size_t)count * sizeof(size_t));
    unsigned *first = (unsigned *)(h + l.first);
    int *block_tensor = (int *)(h + l.block_tensor);
    unsigned b = 0;
    for (int k = 0; k < count; k++) {
        h[l.tag + (size_t)k] = tag ? (unsigned char)tag[k] : 0;
        first[k] = b;
        for (unsigned e = b + blocks_of(n[k]); b < e; b++)
            block_tensor[b] = k;
    }
    first[count] = b;
    memset(h + l.tag + (size_t)count, 0, l.block_tensor - l.tag - (size_t)count); /* the padding */

    if (reserve_device(c, l.bytes)) return -1;
    /* on cuda_stream() (the legacy default stream): after the kernels that read the
     * previous list; the host image may change as soon as this returns */
    CUDA_CHECK(cudaMemcpy(c->dev, h, l.bytes, cudaMemcpyHostToDevice));
    char *dev = (char *)c->dev;
    c->list.ptr = (float *const *)(dev + l.ptr);
    c->list.n = (const size_t *)(dev + l.n);
    c->list.first = (const unsigned *)(dev + l.first);
    c->list.tag = (const unsigned char *)(dev + l.tag);
    c->list.block_tensor = (const int *)(dev + l.block_tensor);
    c->list.count = count;
    c->list.blocks = b;
    c->depth = depth;
    c->blocks_of = blocks_of;
    c->host_bytes = l.bytes;
    return 0;
}

extern "C" void tensor_list_release(struct tensor_list_cache *c) {
    if (c->dev) {
        cudaError_t e = cudaFree(c->dev);
        if (e != cudaSuccess)
            error_set("%s:%d: cudaFree: %s", __FILE__, __LINE__, cudaGetErrorString(e));
    }
    free(c->host);
    memset(c, 0, sizeof *c);
}
