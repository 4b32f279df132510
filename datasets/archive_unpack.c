/* archive_unpack.c: safe extraction with libarchive (see archive_unpack.h). */
#include "datasets/archive_unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "datasets/cache.h"

static int is_junk(const char *name) {
    if (!strncmp(name, "__MACOSX/", 9) || !strcmp(name, "__MACOSX")) return 1;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    return !strncmp(base, "._", 2) || !strcmp(base, ".DS_Store");
}

static int unsafe_name(const char *name) {
    if (name[0] == '/' || name[0] == 0) return 1;
    const char *p = name;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.') return 1;
        if (!slash) break;
        p = slash + 1;
    }
    return 0;
}

static int sync_path(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int archive_unpack(const char *archive_path, const char *dest_dir) {
    struct archive *in = archive_read_new();
    archive_read_support_format_all(in);
    archive_read_support_filter_all(in);
    struct archive *out = archive_write_disk_new();
    /* entry names are checked here (unsafe_name); the targets are dest_dir-prefixed, so
     * libarchive's NOABSOLUTEPATHS / NODOTDOT would reject a legitimate dest_dir */
    archive_write_disk_set_options(out, ARCHIVE_EXTRACT_SECURE_SYMLINKS);
    int rc = -1, files = 0;
    if (archive_read_open_filename(in, archive_path, 1 << 16) != ARCHIVE_OK) {
        error_set("%s: not a readable archive: %s", archive_path, archive_error_string(in));
        goto done;
    }
    struct archive_entry *e;
    int r;
    while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
        const char *entry_name = archive_entry_pathname(e);
        if (!entry_name || is_junk(entry_name)) continue;
        /* a copy: archive_entry_set_pathname below frees the entry's own string, and the
         * error messages after it name the entry */
        char name[4096];
        if (strlen(entry_name) >= sizeof name) {
            error_set("%s: entry name too long: %.200s...", archive_path, entry_name);
            goto done;
        }
        strcpy(name, entry_name);
        if (unsafe_name(name)) {
            error_set("%s: refusing entry '%s' (outside the destination)", archive_path, name);
            goto done;
        }
        int type = archive_entry_filetype(e);
        if (type != AE_IFREG && type != AE_IFDIR) continue; /* no links, devices */
        char target[4096];
        int n = snprintf(target, sizeof target, "%s/%s", dest_dir, name);
        if (n < 0 || (size_t)n >= sizeof target) {
            error_set("%s: entry path too long: %s", archive_path, name);
            goto done;
        }
        archive_entry_set_pathname(e, target);
        archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
        if (archive_write_header(out, e) != ARCHIVE_OK) {
            error_set("%s: cannot create %s: %s", archive_path, target, archive_error_string(out));
            goto done;
        }
        if (type == AE_IFREG) {
            const void *buf;
            size_t size;
            la_int64_t off;
            int dr;
            while ((dr = archive_read_data_block(in, &buf, &size, &off)) == ARCHIVE_OK) {
                if (archive_write_data_block(out, buf, size, off) != ARCHIVE_OK) {
                    error_set("%s: writing %s: %s", archive_path, target, archive_error_string(out));
                    goto done;
                }
            }
            if (dr != ARCHIVE_EOF) {
                error_set("%s: corrupt entry %s: %s", archive_path, name, archive_error_string(in));
                goto done;
            }
        }
        if (archive_write_finish_entry(out) != ARCHIVE_OK) {
            error_set("%s: finishing %s: %s", archive_path, target, archive_error_string(out));
            goto done;
        }
        if (type == AE_IFREG) {
            if (sync_path(target) != 0) {
                error_set("%s: fsync %s failed", archive_path, target);
                goto done;
            }
            files++;
        }
    }
    if (r != ARCHIVE_EOF) {
        error_set("%s: corrupt archive: %s", archive_path, archive_error_string(in));
        goto done;
    }
    rc = files;
done:
    archive_read_free(in);
    if (archive_write_close(out) != ARCHIVE_OK && rc >= 0) {
        error_set("%s: %s", archive_path, archive_error_string(out));
        rc = -1;
    }
    archive_write_free(out);
    return rc;
}
