/* safetensors.h: reading and writing the safetensors format (8-byte little-endian header
 * length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then
 * the raw data). Reading maps the file and validates every entry; writing goes to a
 * temporary file that is fsynced and renamed, so a file is either complete or absent. */
#ifndef COMPACTER_SAFETENSORS_H
#define COMPACTER_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

enum st_dtype { ST_F64, ST_F32, ST_F16, ST_BF16, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL,
                ST_F8_E4M3, ST_F8_E5M2, ST_U16, ST_U32, ST_U64 };

#define ST_MAX_DIMS 8

struct st_tensor {
    char *name;
    enum st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t begin, end; /* byte offsets into the data section */
};

struct st_file {
    char *path;
    const uint8_t *map; /* the whole file */
    size_t size;
    size_t data_start;
    int n;
    struct st_tensor *tensors;
    char *metadata_json; /* the "__metadata__" object serialised, or NULL */
};

const char *st_dtype_name(enum st_dtype t);
size_t st_dtype_size(enum st_dtype t);

/* Open and validate; on error returns -1 with a message naming the file and the field. */
int st_open(struct st_file *f, const char *path);
void st_close(struct st_file *f);
const struct st_tensor *st_find(const struct st_file *f, const char *name);
int64_t st_numel(const struct st_tensor *t);
/* Convert an F32, F16 or BF16 tensor to f32 into dst (st_numel elements). */
int st_read_f32(const struct st_file *f, const struct st_tensor *t, float *dst);

/* A tensor to write: host data of the given dtype (F32, I32, I64, BF16, F16). */
struct st_out {
    const char *name;
    enum st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data;
};

/* Write atomically (tmp + fsync + rename); an existing path that is not a regular file (a
 * device such as /dev/full, a FIFO) is an error, never replaced. metadata: NULL or a flat
 * JSON object of string values (safetensors' rule), serialised, e.g. "{\"method\":\"compacter\"}". */
int st_write(const char *path, const struct st_out *tensors, int n, const char *metadata_json);

#endif
