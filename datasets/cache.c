/* cache.c: the cache root, and atomic file placement (fsync + rename) helpers. */
#include "datasets/cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

const char *cache_dir(void) {
    static _Thread_local char buf[4096];
    const char *env = getenv("COMPACTER_CACHE");
    if (env && *env) {
        snprintf(buf, sizeof buf, "%s", env);
    } else if ((env = getenv("XDG_CACHE_HOME")) && *env) {
        snprintf(buf, sizeof buf, "%s/compacter", env);
    } else {
        const char *home = getenv("HOME");
        snprintf(buf, sizeof buf, "%s/.cache/compacter", home && *home ? home : ".");
    }
    return buf;
}

int cache_path(const char *sub, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s/%s", cache_dir(), sub);
    if (n < 0 || (size_t)n >= cap) return error_set("cache path too long: %s/%s", cache_dir(), sub);
    return 0;
}

int path_fmt(char *out, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) return error_set("path too long: %.200s...", out);
    return 0;
}

int path_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int path_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int mkdir_p(const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return error_set("mkdir: bad path '%s'", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char c = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return error_set("cannot create directory %s: %s", buf, strerror(errno));
        buf[i] = c;
    }
    if (!path_is_dir(path)) return error_set("%s exists and is not a directory", path);
    return 0;
}

int dir_sync(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return error_set("cannot open directory %s: %s", dir, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0 && e != EINVAL) return error_set("fsync %s: %s", dir, strerror(e));
    return 0;
}

int file_commit(const char *tmp, const char *dst) {
    int fd = open(tmp, O_RDONLY);
    if (fd < 0) return error_set("cannot open %s: %s", tmp, strerror(errno));
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return error_set("fsync %s: %s", tmp, strerror(e));
    }
    close(fd);
    if (rename(tmp, dst) != 0) return error_set("cannot rename %s to %s: %s", tmp, dst, strerror(errno));
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", dst);
    char *slash = strrchr(dir, '/');
    if (slash) {
        if (slash == dir) slash[1] = 0;
        else *slash = 0;
    } else {
        strcpy(dir, ".");
    }
    return dir_sync(dir);
}

int remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : error_set("%s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
        if (unlink(path) != 0) return error_set("cannot remove %s: %s", path, strerror(errno));
        return 0;
    }
    DIR *d = opendir(path);
    if (!d) return error_set("cannot open directory %s: %s", path, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char child[4096];
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        if (remove_tree(child) != 0) rc = -1;
    }
    closedir(d);
    if (rmdir(path) != 0) return error_set("cannot remove %s: %s", path, strerror(errno));
    return rc;
}

int temp_dir_in(const char *parent, const char *tag, char *out, size_t cap) {
    if (mkdir_p(parent) != 0) return -1;
    int n = snprintf(out, cap, "%s/.tmp-%s-XXXXXX", parent, tag);
    if (n < 0 || (size_t)n >= cap) return error_set("temporary path too long under %s", parent);
    if (!mkdtemp(out)) return error_set("cannot create a temporary directory in %s: %s", parent, strerror(errno));
    return 0;
}
