/* results_file.c: index and durable append of results lines. */
#include "experiments/results_file.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "datasets/cache.h"

static int add_id(struct results_index *ix, const char *id) {
    if (ix->n == ix->cap) {
        size_t cap = ix->cap ? 2 * ix->cap : 64;
        char **p = realloc(ix->ids, cap * sizeof *p);
        if (!p) return error_set("out of memory");
        ix->ids = p;
        ix->cap = cap;
    }
    if (!(ix->ids[ix->n] = strdup(id))) return error_set("out of memory");
    ix->n++;
    return 0;
}

int jsonl_each(const char *path, int (*fn)(json_t *o, int lineno, void *ctx), void *ctx, int *truncated) {
    if (truncated) *truncated = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT ? 0 : error_set("%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = 0;
    while (!rc && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (len == 0 || line[len - 1] != '\n') { /* the last line, cut short */
            if (truncated) *truncated = 1;
            break;
        }
        line[--len] = 0;
        if (len == 0) continue;
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)len, 0, &je);
        if (!json_is_object(o))
            rc = error_set("%s:%d: not a JSON object (%s); fix or remove the line", path, lineno,
                           o ? "wrong type" : je.text);
        else
            rc = fn(o, lineno, ctx);
        json_decref(o);
    }
    free(line);
    fclose(f);
    return rc;
}

static int index_line(json_t *o, int lineno, void *ctx) {
    (void)lineno;
    json_t *id = json_object_get(o, "run_id");
    return json_is_string(id) ? add_id(ctx, json_string_value(id)) : 0;
}

int results_index_load(struct results_index *ix, const char *path) {
    memset(ix, 0, sizeof *ix);
    int rc = jsonl_each(path, index_line, ix, &ix->truncated_tail);
    if (rc) results_index_free(ix);
    return rc;
}

int results_index_has(const struct results_index *ix, const char *run_id) {
    for (size_t i = 0; i < ix->n; i++)
        if (!strcmp(ix->ids[i], run_id)) return 1;
    return 0;
}

void results_index_free(struct results_index *ix) {
    for (size_t i = 0; i < ix->n; i++)
        free(ix->ids[i]);
    free(ix->ids);
    memset(ix, 0, sizeof *ix);
}

/* Offset just after the last '\n' of the file (0 when none). */
static int last_newline_end(int fd, off_t size, off_t *out) {
    char buf[4096];
    off_t end = size;
    while (end > 0) {
        off_t start = end > (off_t)sizeof buf ? end - (off_t)sizeof buf : 0;
        ssize_t n = pread(fd, buf, (size_t)(end - start), start);
        if (n != end - start) return -1;
        for (ssize_t i = n - 1; i >= 0; i--)
            if (buf[i] == '\n') {
                *out = start + i + 1;
                return 0;
            }
        end = start;
    }
    *out = 0;
    return 0;
}

int results_append(const char *path, const char *line, long *cut_bytes) {
    if (cut_bytes) *cut_bytes = 0;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    if (mkdir_p(dir)) return -1;
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND, 0644);
    if (fd < 0) return error_set("%s: cannot open for appending: %s", path, strerror(errno));
    int rc = 0;
    if (flock(fd, LOCK_EX)) rc = error_set("%s: cannot lock: %s", path, strerror(errno));
    struct stat st;
    if (!rc && fstat(fd, &st)) rc = error_set("%s: %s", path, strerror(errno));
    off_t start = rc ? 0 : st.st_size; /* where this line begins */
    if (!rc && st.st_size > 0) {
        char last;
        if (pread(fd, &last, 1, st.st_size - 1) != 1)
            rc = error_set("%s: cannot read: %s", path, strerror(errno));
        else if (last != '\n') { /* a truncated line of a killed writer: cut it */
            off_t keep;
            if (last_newline_end(fd, st.st_size, &keep) || ftruncate(fd, keep))
                rc = error_set("%s: cannot cut the truncated last line: %s", path, strerror(errno));
            else {
                start = keep;
                if (cut_bytes) *cut_bytes = (long)(st.st_size - keep);
            }
        }
    }
    size_t n = strlen(line);
    char *buf = rc ? NULL : malloc(n + 1);
    if (!rc && !buf) rc = error_set("out of memory");
    if (!rc) {
        memcpy(buf, line, n);
        buf[n] = '\n';
        size_t done = 0; /* one write() in practice; loop for the pathological case */
        while (done < n + 1 && !rc) {
            ssize_t w = write(fd, buf + done, n + 1 - done);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0)
                rc = error_set("%s: write failed: %s", path, strerror(errno));
            else
                done += (size_t)w;
        }
        if (!rc && fsync(fd)) rc = error_set("%s: fsync: %s", path, strerror(errno));
        /* a line cut short (full disk) leaves the file as it was; its error is the one reported */
        if (rc && ftruncate(fd, start) == 0) fsync(fd);
    }
    free(buf);
    close(fd); /* releases the lock */
    if (!rc) rc = dir_sync(dir);
    return rc;
}
