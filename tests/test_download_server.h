/* test_download_server.h: shared by the tests/test_download*.c binaries: start and stop
 * tests/http_server.py on a free loopback port, read its request/byte counters, make a
 * scratch directory, write small files and zip archives (libarchive). */
#ifndef COMPACTER_TEST_DOWNLOAD_SERVER_H
#define COMPACTER_TEST_DOWNLOAD_SERVER_H

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "datasets/cache.h"
#include "datasets/download.h"

struct test_server {
    pid_t pid;
    int port;
    char base[64]; /* http://127.0.0.1:PORT */
};

/* Start the server serving root; 0 on success. It exits by itself after timeout_s. */
static int server_start(struct test_server *s, const char *root, int timeout_s) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        char t[32];
        snprintf(t, sizeof t, "%d", timeout_s);
        execlp("python3", "python3", "tests/http_server.py", "--root", root, "--timeout", t,
               (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[128] = "";
    int ok = f && fgets(line, sizeof line, f) && sscanf(line, "PORT %d", &s->port) == 1;
    if (f) fclose(f);
    if (!ok) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        return -1;
    }
    s->pid = pid;
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", s->port);
    return 0;
}

static void server_stop(struct test_server *s) {
    if (s->pid <= 0) return;
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

/* Point the GLUE, MRPC and SuperGLUE sources at base/glue, base/senteval, base/superglue
 * (the layout the tests' mirrors use). */
static inline void mirror_dataset_urls(const char *base) {
    static const char *const env[] = {"COMPACTER_GLUE_URL", "COMPACTER_MRPC_URL", "COMPACTER_SUPERGLUE_URL"};
    static const char *const dir[] = {"glue", "senteval", "superglue"};
    char url[1024];
    for (int i = 0; i < 3; i++) {
        snprintf(url, sizeof url, "%s/%s", base, dir[i]);
        setenv(env[i], url, 1);
    }
}

/* Fast, quiet options for tests. */
static struct download_opts test_opts(void) {
    struct download_opts o = download_opts_default();
    o.connect_timeout_s = 5;
    o.stall_timeout_s = 1;
    o.retries = 2;
    o.backoff_ms = 20;
    o.progress = NULL;
    return o;
}

/* The server's counters for one request path: requests, bytes sent, and the Range header
 * of the last request (into range_out). Returns 0 or -1. */
__attribute__((unused)) static int server_stats(const struct test_server *s, const char *path, long *requests, long *bytes,
                        char *range_out, size_t range_cap) {
    char url[256], *body = NULL;
    snprintf(url, sizeof url, "%s/_stats", s->base);
    struct download_opts o = test_opts();
    if (download_to_memory(url, &o, &body, NULL, NULL) != 0) return -1;
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    if (!j) return -1;
    *requests = (long)json_integer_value(json_object_get(json_object_get(j, "requests"), path));
    if (bytes) *bytes = (long)json_integer_value(json_object_get(json_object_get(j, "bytes"), path));
    if (range_out) {
        json_t *arr = json_object_get(json_object_get(j, "ranges"), path);
        size_t n = json_array_size(arr);
        snprintf(range_out, range_cap, "%s", n ? json_string_value(json_array_get(arr, n - 1)) : "");
    }
    json_decref(j);
    return 0;
}

__attribute__((unused)) static int write_file(const char *path, const void *data, size_t n) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        if (mkdir_p(dir) != 0) return -1;
    }
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

/* Deterministic pseudo-random bytes (so the archive does not compress away). */
__attribute__((unused)) static void fill_bytes(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (unsigned char)(seed >> 16);
    }
}

/* A zip at path holding names[i] -> contents[i] (NUL-terminated strings). */
__attribute__((unused)) static int write_zip(const char *path, const char **names, const char **contents, int n) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        if (mkdir_p(dir) != 0) return -1;
    }
    struct archive *a = archive_write_new();
    archive_write_set_format_zip(a);
    if (archive_write_open_filename(a, path) != ARCHIVE_OK) return -1;
    for (int i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, names[i]);
        size_t len = strlen(contents[i]);
        int is_dir = names[i][strlen(names[i]) - 1] == '/';
        archive_entry_set_filetype(e, is_dir ? AE_IFDIR : AE_IFREG);
        archive_entry_set_perm(e, is_dir ? 0755 : 0644);
        archive_entry_set_size(e, is_dir ? 0 : (la_int64_t)len);
        archive_write_header(a, e);
        if (!is_dir) archive_write_data(a, contents[i], len);
        archive_entry_free(e);
    }
    int rc = archive_write_close(a);
    archive_write_free(a);
    return rc == ARCHIVE_OK ? 0 : -1;
}

/* A fresh scratch directory under /tmp, name into out (removed by the caller). */
static int scratch_dir(char *out, size_t cap, const char *tag) {
    snprintf(out, cap, "/tmp/compacter-%s-XXXXXX", tag);
    return mkdtemp(out) ? 0 : -1;
}

#endif
