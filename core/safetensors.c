/* safetensors.c: safetensors reader (mmap + validation) and atomic writer. */
#include "core/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/bf16.h"
#include "core/error.h"
#include "core/tensor.h"

static const struct {
    const char *name;
    enum st_dtype dtype;
    size_t size;
} st_dtypes[] = {
    {"F64", ST_F64, 8},   {"F32", ST_F32, 4},   {"F16", ST_F16, 2},       {"BF16", ST_BF16, 2},
    {"I64", ST_I64, 8},   {"I32", ST_I32, 4},   {"I16", ST_I16, 2},       {"I8", ST_I8, 1},
    {"U8", ST_U8, 1},     {"BOOL", ST_BOOL, 1}, {"F8_E4M3", ST_F8_E4M3, 1}, {"F8_E5M2", ST_F8_E5M2, 1},
    {"U16", ST_U16, 2},   {"U32", ST_U32, 4},   {"U64", ST_U64, 8},
};
#define N_DTYPES (sizeof st_dtypes / sizeof st_dtypes[0])

const char *st_dtype_name(enum st_dtype t) {
    for (size_t i = 0; i < N_DTYPES; i++)
        if (st_dtypes[i].dtype == t) return st_dtypes[i].name;
    return "?";
}

size_t st_dtype_size(enum st_dtype t) {
    for (size_t i = 0; i < N_DTYPES; i++)
        if (st_dtypes[i].dtype == t) return st_dtypes[i].size;
    return 0;
}

int64_t st_numel(const struct st_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

void st_close(struct st_file *f) {
    if (f->map) munmap((void *)f->map, f->size);
    for (int i = 0; i < f->n; i++) free(f->tensors[i].name);
    free(f->tensors);
    free(f->metadata_json);
    free(f->path);
    memset(f, 0, sizeof *f);
}

static int parse_entry(struct st_file *f, const char *name, json_t *v, size_t data_size,
                       struct st_tensor *t) {
    const char *p = f->path;
    if (!json_is_object(v))
        return error_set("%s: tensor '%s': header entry is not a JSON object", p, name);
    json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape"),
           *jo = json_object_get(v, "data_offsets");
    if (!json_is_string(jd)) return error_set("%s: tensor '%s': field 'dtype' missing or not a string", p, name);
    size_t i;
    for (i = 0; i < N_DTYPES; i++)
        if (!strcmp(st_dtypes[i].name, json_string_value(jd))) break;
    if (i == N_DTYPES)
        return error_set("%s: tensor '%s': field 'dtype': unknown dtype '%s'", p, name, json_string_value(jd));
    t->dtype = st_dtypes[i].dtype;
    if (!json_is_array(js) || json_array_size(js) > ST_MAX_DIMS)
        return error_set("%s: tensor '%s': field 'shape' missing, not an array, or more than %d dims", p, name, ST_MAX_DIMS);
    t->ndim = (int)json_array_size(js);
    uint64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        json_t *e = json_array_get(js, (size_t)d);
        if (!json_is_integer(e) || json_integer_value(e) < 0)
            return error_set("%s: tensor '%s': field 'shape': dimension %d is not a non-negative integer", p, name, d);
        t->shape[d] = json_integer_value(e);
        if (t->shape[d] && numel > (UINT64_MAX >> 4) / (uint64_t)t->shape[d])
            return error_set("%s: tensor '%s': field 'shape': too many elements", p, name);
        numel *= (uint64_t)t->shape[d];
    }
    if (!json_is_array(jo) || json_array_size(jo) != 2 || !json_is_integer(json_array_get(jo, 0)) ||
        !json_is_integer(json_array_get(jo, 1)))
        return error_set("%s: tensor '%s': field 'data_offsets' must be [begin, end]", p, name);
    json_int_t b = json_integer_value(json_array_get(jo, 0)), e = json_integer_value(json_array_get(jo, 1));
    if (b >= 0 && e < b)
        return error_set("%s: tensor '%s': field 'data_offsets' [%lld, %lld] ends before it begins", p, name,
                         (long long)b, (long long)e);
    if (b < 0 || (uint64_t)e > data_size)
        return error_set("%s: tensor '%s': field 'data_offsets' [%lld, %lld] outside the data section of %zu bytes (file truncated?)",
                         p, name, (long long)b, (long long)e, data_size);
    if ((uint64_t)(e - b) != numel * st_dtypes[i].size)
        return error_set("%s: tensor '%s': data_offsets span %lld bytes but shape x dtype needs %llu", p, name,
                         (long long)(e - b), (unsigned long long)(numel * st_dtypes[i].size));
    t->begin = (size_t)b;
    t->end = (size_t)e;
    t->name = strdup(name);
    return t->name ? 0 : error_set("out of memory");
}

static int by_begin(const void *a, const void *b) {
    const struct st_tensor *x = *(const struct st_tensor *const *)a, *y = *(const struct st_tensor *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

/* No two tensors share bytes (safetensors' rule; a hand-edited or corrupt header could
 * otherwise alias one tensor's data as another's). Empty tensors take no bytes. */
static int check_overlaps(const struct st_file *f) {
    const struct st_tensor **v = malloc(sizeof *v * (size_t)(f->n ? f->n : 1));
    if (!v) return error_set("out of memory");
    int n = 0, rc = 0;
    for (int i = 0; i < f->n; i++)
        if (f->tensors[i].end > f->tensors[i].begin) v[n++] = &f->tensors[i];
    qsort(v, (size_t)n, sizeof *v, by_begin);
    for (int i = 1; i < n && !rc; i++)
        if (v[i]->begin < v[i - 1]->end)
            rc = error_set("%s: tensor '%s': field 'data_offsets' [%zu, %zu] overlaps tensor '%s' [%zu, %zu]", f->path,
                           v[i]->name, v[i]->begin, v[i]->end, v[i - 1]->name, v[i - 1]->begin, v[i - 1]->end);
    free(v);
    return rc;
}

int st_open(struct st_file *f, const char *path) {
    memset(f, 0, sizeof *f);
    f->path = strdup(path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        error_set("%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        error_set("%s: not a regular file", path);
        goto fail;
    }
    f->size = (size_t)st.st_size;
    if (f->size < 8) {
        close(fd);
        error_set("%s: %zu bytes is too short for a safetensors file (truncated?)", path, f->size);
        goto fail;
    }
    void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        error_set("%s: mmap failed: %s", path, strerror(errno));
        goto fail;
    }
    f->map = m;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | f->map[i];
    if (hlen > f->size - 8 || hlen > ((uint64_t)100 << 20)) {
        error_set("%s: header length %llu exceeds the file size %zu (truncated or not safetensors)", path,
                  (unsigned long long)hlen, f->size);
        goto fail;
    }
    f->data_start = 8 + (size_t)hlen;
    json_error_t jerr;
    json_t *root = json_loadb((const char *)f->map + 8, (size_t)hlen, 0, &jerr);
    if (!root) {
        error_set("%s: header is not valid JSON (byte %d: %s)", path, jerr.position, jerr.text);
        goto fail;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        error_set("%s: header is not a JSON object", path);
        goto fail;
    }
    f->tensors = calloc(json_object_size(root) + 1, sizeof *f->tensors);
    const char *key;
    json_t *val;
    int rc = 0;
    json_object_foreach(root, key, val) {
        if (!strcmp(key, "__metadata__")) {
            if (!json_is_object(val)) {
                rc = error_set("%s: field '__metadata__' is not an object", path);
                break;
            }
            f->metadata_json = json_dumps(val, JSON_COMPACT | JSON_SORT_KEYS);
            continue;
        }
        if ((rc = parse_entry(f, key, val, f->size - f->data_start, &f->tensors[f->n]))) break;
        f->n++;
    }
    json_decref(root);
    if (!rc) rc = check_overlaps(f);
    if (rc) goto fail;
    return 0;
fail:
    st_close(f);
    return -1;
}

const struct st_tensor *st_find(const struct st_file *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

int st_read_f32(const struct st_file *f, const struct st_tensor *t, float *dst) {
    const uint8_t *src = f->map + f->data_start + t->begin;
    int64_t n = st_numel(t);
    switch (t->dtype) {
    case ST_F32: memcpy(dst, src, (size_t)n * 4); return 0;
    case ST_F16:
        for (int64_t i = 0; i < n; i++) dst[i] = f16_to_f32((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
        return 0;
    case ST_BF16:
        for (int64_t i = 0; i < n; i++) dst[i] = bf16_widen((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
        return 0;
    default:
        return error_set("%s: tensor '%s' has dtype %s; expected F32, F16 or BF16", f->path, t->name,
                         st_dtype_name(t->dtype));
    }
}

/* ---- writing ---- */

static int write_all(int fd, const void *buf, size_t n, const char *path) {
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return error_set("%s: write failed: %s", path, strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int st_write(const char *path, const struct st_out *ts, int n, const char *metadata_json) {
    /* the rename below would replace a device (--out /dev/full, /dev/null as root) or a FIFO */
    struct stat pst;
    if (stat(path, &pst) == 0 && !S_ISREG(pst.st_mode))
        return error_set("%s: exists and is not a regular file; not replacing it", path);
    json_t *hdr = json_object();
    size_t off = 0;
    if (metadata_json) {
        json_error_t e;
        json_t *m = json_loads(metadata_json, 0, &e);
        if (!json_is_object(m)) {
            json_decref(m);
            json_decref(hdr);
            return error_set("%s: metadata is not a JSON object", path);
        }
        json_object_set_new(hdr, "__metadata__", m);
    }
    for (int i = 0; i < n; i++) {
        json_t *e = json_object(), *shape = json_array();
        int64_t numel = 1;
        for (int d = 0; d < ts[i].ndim; d++) {
            json_array_append_new(shape, json_integer(ts[i].shape[d]));
            numel *= ts[i].shape[d];
        }
        size_t bytes = (size_t)numel * st_dtype_size(ts[i].dtype);
        json_object_set_new(e, "dtype", json_string(st_dtype_name(ts[i].dtype)));
        json_object_set_new(e, "shape", shape);
        json_object_set_new(e, "data_offsets", json_pack("[II]", (json_int_t)off, (json_int_t)(off + bytes)));
        json_object_set_new(hdr, ts[i].name, e);
        off += bytes;
    }
    char *text = json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(hdr);
    if (!text) return error_set("%s: cannot serialise the header", path);
    size_t hlen = strlen(text), padded = (hlen + 7) / 8 * 8;

    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        free(text);
        return error_set("%s: cannot create: %s", tmp, strerror(errno));
    }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    int rc = write_all(fd, len8, 8, tmp) || write_all(fd, text, hlen, tmp) ||
             write_all(fd, "        ", padded - hlen, tmp);
    free(text);
    for (int i = 0; i < n && !rc; i++) {
        int64_t numel = 1;
        for (int d = 0; d < ts[i].ndim; d++) numel *= ts[i].shape[d];
        rc = write_all(fd, ts[i].data, (size_t)numel * st_dtype_size(ts[i].dtype), tmp);
    }
    if (!rc && fsync(fd)) rc = error_set("%s: fsync failed: %s", tmp, strerror(errno));
    if (close(fd) && !rc) rc = error_set("%s: close failed: %s", tmp, strerror(errno));
    if (!rc && rename(tmp, path)) rc = error_set("%s: rename to %s failed: %s", tmp, path, strerror(errno));
    if (rc) {
        unlink(tmp);
        return -1;
    }
    /* make the rename durable */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}
