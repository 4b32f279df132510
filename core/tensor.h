/* tensor.h: the tensor header (shape, dtype, where the data lives) shared by the model,
 * the methods and the backends. Data may be host or device memory: the backend that
 * owns the execution decides. Parameters are views into one allocation per owner;
 * activations come from the per-step arena (core/arena.h). */
#ifndef COMPACTER_TENSOR_H
#define COMPACTER_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum dtype {
    DTYPE_F32 = 0,
    DTYPE_BF16, /* reserved for the CUDA bf16 mode */
    DTYPE_I32,  /* token ids, targets, buckets */
};

#define TENSOR_MAX_DIMS 4

struct tape_node;

struct tensor {
    void *data;
    enum dtype dtype;
    int ndim;
    int64_t shape[TENSOR_MAX_DIMS];
    const char *name; /* parameters: the Hugging Face name; activations: NULL */
    /* autograd: set for trainable parameters and for values computed from them */
    int requires_grad;
    float *grad;
    struct tape_node *node;
};

size_t dtype_size(enum dtype t);
const char *dtype_name(enum dtype t);
int64_t tensor_numel(const struct tensor *t);
size_t tensor_bytes(const struct tensor *t);
/* Size of the last dimension and the product of all the others. */
int64_t tensor_cols(const struct tensor *t);
int64_t tensor_rows(const struct tensor *t);
/* "[2, 3, 5]" into buf. */
const char *tensor_shape_str(const struct tensor *t, char *buf, size_t cap);
/* Fill a header (no data) with ndim dims from shape[]. */
void tensor_init(struct tensor *t, enum dtype dtype, int ndim, const int64_t *shape);

/* f16 to f32, for f16 files on disk (bf16: core/bf16.h bf16_widen). */
float f16_to_f32(uint16_t h);

#ifdef __cplusplus
}
#endif
#endif
