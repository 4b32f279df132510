/* download_tasks.c: task name -> folder of the task's files (user folder, cache, or fetched,
 * verified, unpacked and renamed into the cache); MRPC's split into train/dev/test. */
#include "datasets/download_tasks.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/error.h"
#include "datasets/archive_unpack.h"
#include "datasets/cache.h"
#include "datasets/download.h"

struct task_name {
    const char *key; /* lower case, no '-' or '_' */
    enum benchmark bench;
    const char *folder;
    const char *probe; /* a file whose presence marks a usable folder */
    int in_all;        /* fetched by `download glue|superglue` */
};

static const struct task_name tasks[] = {
    {"cola", BENCH_GLUE, "CoLA", "train.tsv", 1},
    {"sst2", BENCH_GLUE, "SST-2", "train.tsv", 1},
    {"mrpc", BENCH_GLUE, "MRPC", "train.tsv", 1},
    {"qqp", BENCH_GLUE, "QQP", "train.tsv", 1},
    {"stsb", BENCH_GLUE, "STS-B", "train.tsv", 1},
    {"mnli", BENCH_GLUE, "MNLI", "train.tsv", 1},
    {"qnli", BENCH_GLUE, "QNLI", "train.tsv", 1},
    {"rte", BENCH_GLUE, "RTE", "train.tsv", 1},
    {"wnli", BENCH_GLUE, "WNLI", "train.tsv", 1},
    {"diagnostic", BENCH_GLUE, "diagnostic", "diagnostic.tsv", 0},
    {"ax", BENCH_GLUE, "diagnostic", "diagnostic.tsv", 0},
    {"boolq", BENCH_SUPERGLUE, "BoolQ", "val.jsonl", 1},
    {"cb", BENCH_SUPERGLUE, "CB", "val.jsonl", 1},
    {"copa", BENCH_SUPERGLUE, "COPA", "val.jsonl", 1},
    {"multirc", BENCH_SUPERGLUE, "MultiRC", "val.jsonl", 1},
    {"record", BENCH_SUPERGLUE, "ReCoRD", "val.jsonl", 1},
    {"superglue/rte", BENCH_SUPERGLUE, "RTE", "val.jsonl", 1},
    {"wic", BENCH_SUPERGLUE, "WiC", "val.jsonl", 1},
    {"wsc", BENCH_SUPERGLUE, "WSC", "val.jsonl", 1},
    {"axb", BENCH_SUPERGLUE, "AX-b", "AX-b.jsonl", 0},
    {"axg", BENCH_SUPERGLUE, "AX-g", "AX-g.jsonl", 0},
};
#define N_TASKS (sizeof tasks / sizeof tasks[0])

static const struct task_name *find_task(const char *name) {
    char key[64];
    size_t k = 0;
    const char *p = name;
    int super = 0;
    if (!strncasecmp(p, "superglue/", 10)) super = 1, p += 10;
    else if (!strncasecmp(p, "glue/", 5)) p += 5;
    for (; *p && k + 1 < sizeof key; p++)
        if (*p != '-' && *p != '_') key[k++] = (char)tolower((unsigned char)*p);
    key[k] = 0;
    for (size_t i = 0; i < N_TASKS; i++) {
        const char *tk = tasks[i].key;
        if (super && !strncmp(tk, "superglue/", 10)) tk += 10;
        if (!strcmp(tk, key) && (!super || tasks[i].bench == BENCH_SUPERGLUE)) return &tasks[i];
    }
    return NULL;
}

int task_lookup(const char *name, enum benchmark *bench, const char **folder) {
    const struct task_name *t = find_task(name);
    if (!t) return error_set("unknown task '%s' (GLUE: cola sst2 mrpc qqp stsb mnli qnli rte wnli; "
                             "SuperGLUE: boolq cb copa multirc record wic wsc superglue/rte)", name);
    if (bench) *bench = t->bench;
    if (folder) *folder = t->folder;
    return 0;
}

int benchmark_tasks(enum benchmark bench, const char **folders, int cap) {
    int n = 0;
    for (size_t i = 0; i < N_TASKS; i++)
        if (tasks[i].bench == bench && tasks[i].in_all) {
            if (n < cap) folders[n] = tasks[i].folder;
            n++;
        }
    return n;
}

const char *benchmark_name(enum benchmark bench) { return bench == BENCH_GLUE ? "glue" : "superglue"; }

static char user_dir[4096];
static int user_dir_set = 0;

void task_data_set_user_dir(const char *dir) {
    snprintf(user_dir, sizeof user_dir, "%s", dir ? dir : "");
    user_dir_set = 1;
}

static int probe_dir(const char *dir, const char *probe) {
    char p[4200];
    path_fmt(p, sizeof p, "%s/%s", dir, probe);
    return path_is_file(p);
}

static int put(char *out, size_t cap, const char *s) {
    if (strlen(s) >= cap) return error_set("path too long: %s", s);
    strcpy(out, s);
    return 0;
}

/* ---- MRPC, as the classic download_glue_data.py builds it ---------------------------- */

static char *trim(char *s) {
    while (*s && isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
    return s;
}

/* Split a tab-separated line into exactly 5 fields (in place). */
static int split5(char *line, char *f[5]) {
    int n = 0;
    f[n++] = line;
    for (char *p = line; *p; p++)
        if (*p == '\t') {
            if (n == 5) return -1;
            *p = 0;
            f[n++] = p + 1;
        }
    return n == 5 ? 0 : -1;
}

static int mrpc_build(const char *ids_path, const char *train_path, const char *test_path,
                      const char *out_dir) {
    int rc = -1;
    char **ids = NULL; /* "id1\tid2" */
    size_t n_ids = 0, cap_ids = 0;
    char *line = NULL;
    size_t lcap = 0;
    FILE *fi = NULL, *fd = NULL, *ft = NULL, *fv = NULL, *fs = NULL;
    char p[4200];
    if (!(fi = fopen(ids_path, "r"))) {
        error_set("%s: %s", ids_path, strerror(errno));
        goto done;
    }
    while (getline(&line, &lcap, fi) > 0) {
        char *t = trim(line);
        if (!*t) continue;
        if (n_ids == cap_ids) {
            cap_ids = cap_ids ? 2 * cap_ids : 512;
            char **m = realloc(ids, cap_ids * sizeof *ids);
            if (!m) goto oom;
            ids = m;
        }
        if (!(ids[n_ids++] = strdup(t))) goto oom;
    }
    if (!(fd = fopen(train_path, "r"))) {
        error_set("%s: %s", train_path, strerror(errno));
        goto done;
    }
    path_fmt(p, sizeof p, "%s/train.tsv", out_dir);
    ft = fopen(p, "w");
    path_fmt(p, sizeof p, "%s/dev.tsv", out_dir);
    fv = fopen(p, "w");
    if (!ft || !fv) {
        error_set("cannot create %s: %s", p, strerror(errno));
        goto done;
    }
    long lineno = 0;
    while (getline(&line, &lcap, fd) > 0) {
        lineno++;
        if (lineno == 1) { /* the header, kept as is */
            size_t n = strlen(line);
            while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
            fprintf(ft, "%s\n", line);
            fprintf(fv, "%s\n", line);
            continue;
        }
        char *f[5], *t = trim(line);
        if (!*t) continue;
        if (split5(t, f) != 0) {
            error_set("%s:%ld: expected 5 tab-separated fields", train_path, lineno);
            goto done;
        }
        int dev = 0;
        for (size_t i = 0; i < n_ids && !dev; i++) {
            size_t l1 = strlen(f[1]);
            dev = !strncmp(ids[i], f[1], l1) && ids[i][l1] == '\t' && !strcmp(ids[i] + l1 + 1, f[2]);
        }
        fprintf(dev ? fv : ft, "%s\t%s\t%s\t%s\t%s\n", f[0], f[1], f[2], f[3], f[4]);
    }
    if (!(fs = fopen(test_path, "r"))) {
        error_set("%s: %s", test_path, strerror(errno));
        goto done;
    }
    FILE *fo;
    path_fmt(p, sizeof p, "%s/test.tsv", out_dir);
    if (!(fo = fopen(p, "w"))) {
        error_set("cannot create %s: %s", p, strerror(errno));
        goto done;
    }
    fprintf(fo, "index\t#1 ID\t#2 ID\t#1 String\t#2 String\n");
    lineno = 0;
    long idx = 0;
    int bad = 0;
    while (getline(&line, &lcap, fs) > 0) {
        if (++lineno == 1) continue;
        char *f[5], *t = trim(line);
        if (!*t) continue;
        if (split5(t, f) != 0) {
            bad = 1;
            break;
        }
        fprintf(fo, "%ld\t%s\t%s\t%s\t%s\n", idx++, f[1], f[2], f[3], f[4]);
    }
    if (fclose(fo) != 0 || bad) {
        error_set("%s: %s", bad ? test_path : p, bad ? "expected 5 tab-separated fields" : strerror(errno));
        goto done;
    }
    rc = 0;
    goto done;
oom:
    error_set("out of memory reading %s", ids_path);
done:
    if (ft && fclose(ft) != 0 && rc == 0) rc = error_set("writing %s/train.tsv: %s", out_dir, strerror(errno));
    if (fv && fclose(fv) != 0 && rc == 0) rc = error_set("writing %s/dev.tsv: %s", out_dir, strerror(errno));
    if (fi) fclose(fi);
    if (fd) fclose(fd);
    if (fs) fclose(fs);
    for (size_t i = 0; i < n_ids; i++) free(ids[i]);
    free(ids);
    free(line);
    return rc;
}

/* ---- fetch + place -------------------------------------------------------------------- */

static int by_hand_hint(const struct task_name *t, const char *final_dir) {
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", error_message());
    const char *files = t->bench == BENCH_GLUE ? "train.tsv, dev.tsv, test.tsv"
                                               : "train.jsonl, val.jsonl, test.jsonl";
    return error_set("%s\n  to work offline, put the %s %s files (%s) in %s/ by hand, or pass "
                     "--data-dir DIR where DIR/%s/ holds them (the classic glue_data/ layout "
                     "works), or point %s / --mirror at a reachable copy",
                     msg, benchmark_name(t->bench), t->folder, files, final_dir, t->folder,
                     t->bench == BENCH_GLUE ? "COMPACTER_GLUE_URL (and COMPACTER_MRPC_URL)"
                                            : "COMPACTER_SUPERGLUE_URL");
}

int ensure_task_data(const char *task, char *dir_out, size_t cap) {
    const struct task_name *t = find_task(task);
    if (!t) return task_lookup(task, NULL, NULL);
    if (dataset_pins_from_env() < 0) return -1;
    const char *bench = benchmark_name(t->bench);
    char path[4200];

    const char *ud = user_dir_set ? user_dir : getenv("COMPACTER_DATA_DIR");
    if (ud && *ud) {
        path_fmt(path, sizeof path, "%s/%s", ud, t->folder);
        if (probe_dir(path, t->probe)) return put(dir_out, cap, path);
        path_fmt(path, sizeof path, "%s/%s/%s", ud, bench, t->folder);
        if (probe_dir(path, t->probe)) return put(dir_out, cap, path);
    }

    char final_dir[4096], parent[4096], dl_dir[4096], sub[256];
    snprintf(sub, sizeof sub, "data/%s", bench);
    if (cache_path(sub, parent, sizeof parent) != 0) return -1;
    path_fmt(final_dir, sizeof final_dir, "%s/%s", parent, t->folder);
    if (path_is_dir(final_dir)) return put(dir_out, cap, final_dir);
    snprintf(sub, sizeof sub, "downloads/%s", bench);
    if (cache_path(sub, dl_dir, sizeof dl_dir) != 0) return -1;

    size_t n_table;
    const struct dataset_file *table = dataset_table(&n_table);
    const struct dataset_file *mine[4];
    char local[4][4200];
    int n = 0;
    for (size_t i = 0; i < n_table && n < 4; i++)
        if (table[i].bench == t->bench && !strcmp(table[i].task, t->folder)) mine[n++] = &table[i];
    if (n == 0) return error_set("no download source for %s task %s", bench, t->folder);

    for (int i = 0; i < n; i++) {
        const struct dataset_file *f = mine[i];
        char url[2048];
        if (dataset_file_url(f, url, sizeof url) != 0) return -1;
        const char *allow = getenv("COMPACTER_ALLOW_UNPINNED");
        if (!f->sha256 && !(allow && !strcmp(allow, "1")))
            return error_set("%s has no pinned sha256 (%s); set COMPACTER_ALLOW_UNPINNED=1 to fetch "
                             "it unverified", url, f->unpinned_reason ? f->unpinned_reason : "unpinned");
        path_fmt(local[i], sizeof local[i], "%s/%s", dl_dir, f->file);
        struct download_expect ex = {.size = f->size, .sha256 = f->sha256, .require_digest = f->sha256 != NULL};
        if (f->pin_origin && f->sha256 && !path_is_file(local[i]))
            fprintf(stderr, "note: %s is verified against the pin in %s, not the official one\n", url,
                    f->pin_origin);
        if (download_file(url, local[i], &ex, download_defaults(), NULL) != 0)
            return by_hand_hint(t, final_dir);
    }

    char tmp[4096], built[4200];
    if (temp_dir_in(parent, t->folder, tmp, sizeof tmp) != 0) return -1;
    path_fmt(built, sizeof built, "%s/%s", tmp, t->folder);
    int rc = 0;
    if (mine[0]->kind == FILE_ZIP) {
        rc = archive_unpack(local[0], tmp) < 0 ? -1 : 0;
        if (rc == 0 && !path_is_dir(built))
            rc = error_set("%s: the archive has no folder %s/ at its top", local[0], t->folder);
    } else if (!strcmp(t->folder, "MRPC")) {
        /* the three downloads, in table order: dev ids, train, test */
        rc = mkdir_p(built);
        if (rc == 0) rc = mrpc_build(local[0], local[1], local[2], built);
        char dst[4300];
        for (int i = 0; rc == 0 && i < 3; i++) {
            path_fmt(dst, sizeof dst, "%s/%s", built, i == 0 ? "dev_ids.tsv" : mine[i]->file);
            if (rename(local[i], dst) != 0) rc = error_set("rename %s: %s", local[i], strerror(errno));
        }
        for (int i = 0; rc == 0 && i < 3; i++) {
            path_fmt(dst, sizeof dst, "%s/%s", built, i == 0 ? "train.tsv" : i == 1 ? "dev.tsv" : "test.tsv");
            int fd_ok = path_is_file(dst);
            if (!fd_ok) rc = error_set("MRPC: %s was not written", dst);
        }
    } else { /* a single plain file: GLUE's diagnostic AX.tsv */
        char dst[4300];
        rc = mkdir_p(built);
        path_fmt(dst, sizeof dst, "%s/%s", built, t->probe);
        if (rc == 0 && rename(local[0], dst) != 0) rc = error_set("rename %s: %s", local[0], strerror(errno));
    }
    if (rc == 0) rc = dir_sync(built);
    if (rc == 0 && rename(built, final_dir) != 0) {
        if (!path_is_dir(final_dir)) rc = error_set("cannot rename %s to %s: %s", built, final_dir, strerror(errno));
        /* else: another process placed it first; theirs is as good */
    }
    if (rc == 0) rc = dir_sync(parent);
    remove_tree(tmp);
    if (rc != 0) return error_wrap("placing %s %s: ", bench, t->folder);
    for (int i = 0; i < n; i++) unlink(local[i]); /* the unpacked folder is the cache */
    return put(dir_out, cap, final_dir);
}
