/* test_fuzz_inputs.c: random corruption of every kind of file the program reads. Each
 * target starts from a valid file (a fixture, or one written here by the program's own
 * writer), corrupts a copy in 1-4 random edits (bit flips, special bytes, deleted,
 * duplicated or inserted ranges, numbers and JSON tokens put in, truncation) and loads it,
 * then uses what loaded (encodes text with a tokenizer, formats a task's examples, writes a
 * report). Every load must either succeed or fail with an error that names the file; a
 * crash, a hang (alarm) or a sanitizer report (`make asan`: ASan and UBSan, which this file
 * makes fatal) fails the test. Each target runs in its own child process; a crash keeps the
 * input that caused it and prints how to rerun that one case.
 *
 * Targets: safetensors (st_open + every tensor read), a model folder (t5_model_load with a
 * corrupt model.safetensors or config.json), tokenizer.json (JSON and, separately, the
 * binary darts-clone charsmap inside it), GLUE TSV and SuperGLUE JSONL files of every task,
 * experiment files, results files (report), progress.json (run_state), training
 * checkpoints, method weights, `compacter train` JSONL data, dataset pin files, and zip and
 * tar.gz archives (also checked: nothing is written outside the destination).
 *
 * Environment: COMPACTER_FUZZ_ITERS (inputs per target, default 150), COMPACTER_FUZZ_SEED
 * (default 1), COMPACTER_FUZZ_ONLY (one target's name), COMPACTER_FUZZ_FROM (first input
 * index: with ITERS=1 it reruns one case), COMPACTER_FUZZ_VERBOSE=1 (print each input's
 * outcome). */
#include "tests/check.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/checkpoint.h"
#include "core/error.h"
#include "core/optimizer.h"
#include "core/safetensors.h"
#include "core/splitmix.h"
#include "core/t5_config.h"
#include "core/t5_model.h"
#include "core/tokenizer.h"
#include "core/trainable.h"
#include "datasets/archive_unpack.h"
#include "datasets/download_sources.h"
#include "datasets/task.h"
#include "experiments/experiment.h"
#include "experiments/results_file.h"
#include "experiments/run_state.h"
#include "experiments/seq2seq_data.h"
#include "methods/method.h"
#include "methods/method_io.h"
#include "reports/report.h"

/* UBSan findings stop the program (the default prints and goes on, which no test sees). */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static char tmp[256]; /* the test's folder */

/* ---- the corrupter ---- */

static uint64_t rng;
static size_t below(size_t n) { return n ? (size_t)(splitmix64(&rng) % n) : 0; }

static const char *const TOKENS[] = {
    "0",  "-1",  "1e309", "-1e309", "4294967296", "9223372036854775808", "18446744073709551615",
    "2147483647", "2147483648", "-2147483649", "NaN", "null", "true", "\"\"", "[]", "{}", "[[",
    "\"\\u0000\"", "\\", "\xc3", "\xff\xfe", "\t", "\n", "\r\n", "\"", "{", "}", "[", "]", ",", ":",
    "1.5", "1e-45", "\xe2\x80\xa8", "\xf0\x9f\x98\x80", "\xcc\x81", " ", "/", "../", "%s%n"};
#define N_TOKENS (sizeof TOKENS / sizeof TOKENS[0])

struct bytes {
    unsigned char *p;
    size_t n, cap;
};

static void put(struct bytes *b, size_t at, const void *src, size_t len) {
    if (b->n + len > b->cap) len = b->cap - b->n;
    memmove(b->p + at + len, b->p + at, b->n - at);
    memcpy(b->p + at, src, len);
    b->n += len;
}

/* A position: 3 times in 4 within the first `hot` bytes (the header of a binary file). */
static size_t pos(const struct bytes *b, size_t hot) {
    size_t lim = hot && hot < b->n && below(4) ? hot : b->n;
    return below(lim + 1);
}

/* 1-4 random edits of b (capacity b->cap >= b->n + 4096). */
static void corrupt(struct bytes *b, size_t hot) {
    int edits = 1 + (int)below(4);
    for (int e = 0; e < edits; e++) {
        size_t at = pos(b, hot);
        switch (below(8)) {
        case 0: /* flip a bit */
            if (at < b->n) b->p[at] ^= (unsigned char)(1u << below(8));
            break;
        case 1: { /* a special or random byte */
            static const unsigned char special[] = {0, 0xff, 0x7f, 0x80, '"', '\\', '\t', '\n', '0', '9', '-', '.', 'e'};
            if (at < b->n) b->p[at] = below(2) ? special[below(sizeof special)] : (unsigned char)below(256);
            break;
        }
        case 2: { /* delete a range */
            size_t len = below(3) ? 1 + below(16) : 1 + below(b->n / 4 + 1);
            if (at + len > b->n) len = b->n - at;
            memmove(b->p + at, b->p + at + len, b->n - at - len);
            b->n -= len;
            break;
        }
        case 3: { /* duplicate a range */
            size_t from = below(b->n + 1), len = 1 + below(64);
            if (from + len > b->n) len = b->n - from;
            unsigned char chunk[64];
            memcpy(chunk, b->p + from, len);
            put(b, at, chunk, len);
            break;
        }
        case 4: /* insert a token */
        {
            const char *t = TOKENS[below(N_TOKENS)];
            put(b, at, t, strlen(t));
            break;
        }
        case 5: /* truncate */
            if (below(2)) b->n = at;
            break;
        case 6: { /* replace the number at or after `at` with another */
            size_t i = at;
            while (i < b->n && !(b->p[i] >= '0' && b->p[i] <= '9')) i++;
            size_t j = i;
            while (j < b->n && ((b->p[j] >= '0' && b->p[j] <= '9') || b->p[j] == '.')) j++;
            if (i == b->n) break;
            memmove(b->p + i, b->p + j, b->n - j);
            b->n -= j - i;
            static const char *const nums[] = {"0", "1", "-1", "7", "65535", "4294967295", "4294967296",
                                               "9223372036854775807", "99999999999999999999", "1e30", "0.5"};
            const char *t = nums[below(sizeof nums / sizeof nums[0])];
            put(b, i, t, strlen(t));
            break;
        }
        default: { /* overwrite 1-8 bytes with random ones */
            size_t len = 1 + below(8);
            for (size_t k = 0; k < len && at + k < b->n; k++) b->p[at + k] = (unsigned char)below(256);
            break;
        }
        }
    }
}

/* ---- files ---- */

static int read_all(const char *path, struct bytes *b) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b->cap = (size_t)n + 4096;
    b->p = malloc(b->cap);
    b->n = fread(b->p, 1, (size_t)n, f);
    fclose(f);
    return b->n == (size_t)n ? 0 : -1;
}

static int write_all(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(p, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}
static void rm_tree(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* ---- the targets' loaders: 0 loaded (and used), -1 refused with the error set ---- */

static struct tokenizer *tiny_tok; /* the fixture tokenizer, for the JSONL data target */

static int load_safetensors(const char *path) {
    struct st_file f;
    if (st_open(&f, path)) return -1;
    int rc = 0;
    for (int i = 0; i < f.n && !rc; i++) {
        int64_t n = st_numel(&f.tensors[i]);
        float *dst = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
        rc = st_read_f32(&f, &f.tensors[i], dst);
        free(dst);
    }
    st_close(&f);
    return rc;
}

/* t5_model_load of the folder holding path */
static int load_model_dir(const char *path) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    struct t5_model m;
    if (t5_model_load(&m, dir, &backend_cpu)) return -1;
    t5_model_free(&m);
    return 0;
}

static int load_model(const char *path) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    struct t5_config c;
    char cfg[600];
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    if (t5_config_load(&c, cfg)) return -1;
    /* a corrupt config may ask for a model far larger than the fixture's: its allocation is
     * test_bad_input's concern; here the loader must refuse shapes the file does not hold */
    if (t5_config_param_count(&c) > 4 * 150000) return 0;
    return load_model_dir(path);
}

static const char *const TEXTS[] = {"The house is wonderful.", "ﬁne Ａ résumé  café\u00a0x", "a\xcc\x81 b",
                                    "", "   ", "unknown ⌘ 😀 tokens 1234567", "hello world"};

static int use_tokenizer(struct tokenizer *t) {
    int rc = 0;
    for (size_t i = 0; i < sizeof TEXTS / sizeof TEXTS[0] && !rc; i++) {
        int32_t *ids = NULL;
        size_t n = 0;
        rc = tokenizer_encode(t, TEXTS[i], strlen(TEXTS[i]), &ids, &n);
        if (!rc) {
            char *s = tokenizer_decode(t, ids, n, 0);
            free(s);
        }
        free(ids);
    }
    int v = tokenizer_vocab_size(t);
    for (int i = 0; i < v; i++) (void)tokenizer_id_token(t, i);
    return rc;
}

static int load_tokenizer(const char *path) {
    struct tokenizer *t = tokenizer_load(path);
    if (!t) return -1;
    int rc = use_tokenizer(t);
    tokenizer_free(t);
    return rc;
}

static const struct task *task_for_file(const char *path) {
    /* .../<Folder>/<file>: the first task whose folder and file kind match */
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    char *slash = strrchr(buf, '/');
    *slash = 0;
    const char *folder = strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf;
    int jsonl = strstr(slash + 1, ".jsonl") != NULL;
    for (size_t i = 0; task_at(i); i++) {
        const struct task *t = task_at(i);
        if (!strcmp(t->dir, folder) && (t->source == TASK_SUPERGLUE_JSONL) == jsonl) return t;
    }
    return NULL;
}

static int load_task_file(const char *path) {
    const struct task *t = task_for_file(path);
    struct example_set set = {0};
    if (task_load_file(t, path, &set)) {
        example_set_free(&set);
        return -1;
    }
    struct task_options o = task_options_default();
    int rc = task_format(&set, &o);
    example_set_free(&set);
    return rc;
}

static int load_experiment(const char *path) {
    struct experiment_grid g;
    int rc = experiment_expand(path, (rng & 1) ? "paper" : "tiny", NULL, NULL, &g);
    if (!rc) experiment_grid_free(&g);
    return rc;
}

static int load_results(const char *path) {
    struct report_options o;
    report_options_default(&o);
    char out[512];
    snprintf(out, sizeof out, "%s/report-out", tmp);
    o.out_dir = out;
    o.figures = 0;
    struct report_summary s;
    return report_results_file(path, &o, &s);
}

static int load_run_state(const char *path) {
    struct run_state s;
    int rc = run_state_load(&s, path);
    if (!rc) run_state_free(&s);
    return rc;
}

static struct t5_model ck_model;
static struct method_instance ck_method;
static struct trainable ck_tr;
static struct optimizer ck_opt;

static int load_checkpoint(const char *path) {
    struct train_state s;
    return checkpoint_load(path, &ck_tr, &ck_opt, &s);
}

static int load_method_weights(const char *path) { return method_weights_load(&ck_method, path); }

static int load_jsonl_data(const char *path) {
    struct seq2seq_data d = {0};
    int rc = seq2seq_load_jsonl(&d, path, tiny_tok, tokenizer_vocab_size(tiny_tok));
    seq2seq_free(&d);
    return rc;
}

static int load_results_resume(const char *path) {
    struct results_index ix = {0};
    int rc = results_index_load(&ix, path);
    results_index_free(&ix);
    return rc ? rc : results_append(path, "{\"run_id\":\"fuzz\"}", NULL);
}

static int load_pins(const char *path) { return dataset_pins_load(path) < 0 ? -1 : 0; }

static int load_archive(const char *path) {
    char parent[512], dest[600];
    snprintf(parent, sizeof parent, "%s/unpack", tmp);
    snprintf(dest, sizeof dest, "%s/dest", parent);
    rm_tree(parent);
    if (mkdir(parent, 0755) || mkdir(dest, 0755)) return error_set("test: cannot make %s", dest), -2;
    int rc = archive_unpack(path, dest);
    /* nothing may land beside the destination: that is a failure whatever rc says */
    DIR *d = opendir(parent);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "dest")) {
            error_set("test: %s wrote %s/%s outside its destination", path, parent, e->d_name);
            rc = -2;
        }
    if (d) closedir(d);
    return rc >= 0 ? 0 : rc;
}

/* ---- seeds written here ---- */

static int write_archive(const char *path, int zip) {
    struct archive *a = archive_write_new();
    if (zip)
        archive_write_set_format_zip(a);
    else {
        archive_write_set_format_pax_restricted(a);
        archive_write_add_filter_gzip(a);
    }
    if (archive_write_open_filename(a, path) != ARCHIVE_OK) return -1;
    static const char *const names[] = {"RTE/", "RTE/train.tsv", "RTE/dev.tsv"};
    static const char *const bodies[] = {NULL, "index\tsentence1\tsentence2\tlabel\n0\tA dog.\tAn animal.\tentailment\n",
                                         "index\tsentence1\tsentence2\tlabel\n0\tIt rains.\tIt is dry.\tnot_entailment\n"};
    for (int i = 0; i < 3; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, names[i]);
        archive_entry_set_filetype(e, bodies[i] ? AE_IFREG : AE_IFDIR);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, bodies[i] ? (la_int64_t)strlen(bodies[i]) : 0);
        archive_write_header(a, e);
        if (bodies[i]) archive_write_data(a, bodies[i], strlen(bodies[i]));
        archive_entry_free(e);
    }
    int rc = archive_write_close(a) == ARCHIVE_OK ? 0 : -1;
    archive_write_free(a);
    return rc;
}

static int write_text(const char *path, const char *text) { return write_all(path, text, strlen(text)); }

/* tiny_tokenizer.json with its precompiled charsmap (base64 of the binary trie + blob) replaced
 * by a corrupted copy: the JSON stays valid, the binary inside it does not. */
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64_decode(const char *s, unsigned char *out) {
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (; *s && *s != '='; s++) {
        const char *c = strchr(B64, *s);
        if (!c) continue;
        acc = acc << 6 | (uint32_t)(c - B64);
        if ((bits += 6) >= 8) out[n++] = (unsigned char)(acc >> (bits -= 8));
    }
    return n;
}

static char *b64_encode(const unsigned char *p, size_t n) {
    char *s = malloc(4 * (n / 3 + 1) + 1), *o = s;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        *o++ = B64[v >> 18 & 63];
        *o++ = B64[v >> 12 & 63];
        *o++ = i + 1 < n ? B64[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? B64[v & 63] : '=';
    }
    *o = 0;
    return s;
}

/* A tokenizer.json, its normalizer holding precompiled_charsmap and the charsmap decoded. */
struct charsmap_seed {
    json_t *doc, *node;
    struct bytes bin;
};

static json_t *find_charsmap(json_t *n) {
    if (json_is_object(n) && json_is_string(json_object_get(n, "precompiled_charsmap"))) return n;
    json_t *v, *found = NULL;
    size_t i;
    const char *k;
    if (json_is_array(n)) json_array_foreach(n, i, v) if ((found = find_charsmap(v))) return found;
    if (json_is_object(n)) json_object_foreach(n, k, v) if ((found = find_charsmap(v))) return found;
    return NULL;
}

static int charsmap_seed_load(struct charsmap_seed *c, const char *path) {
    json_error_t err;
    if (!(c->doc = json_load_file(path, 0, &err)) || !(c->node = find_charsmap(c->doc))) return -1;
    const char *b64 = json_string_value(json_object_get(c->node, "precompiled_charsmap"));
    c->bin.cap = strlen(b64) + 4096;
    c->bin.p = malloc(c->bin.cap);
    c->bin.n = b64_decode(b64, c->bin.p);
    return 0;
}

static void charsmap_seed_free(struct charsmap_seed *c) {
    json_decref(c->doc);
    free(c->bin.p);
}

/* ---- the driver ---- */

struct target {
    const char *name;
    const char *seed;  /* the valid file */
    const char *file;  /* name of the corrupted copy in its case folder (loaders may read beside it) */
    int header;        /* binary with a JSON header: corrupt mostly the first 8 + header bytes */
    const struct charsmap_seed *charsmap; /* corrupt the decoded charsmap inside this
                          tokenizer.json instead (whose lookups treat a corrupt entry as no
                          match: few inputs are refused) */
    int (*load)(const char *path);
    const char *beside[8]; /* files copied next to the corrupted one (a model's config) */
    int slow;              /* inputs per target divided by this (a large seed) */
};

struct shared_progress {
    long iteration; /* the input being loaded (the child writes it before each load) */
    long loaded, refused, bad_errors;
    char first_bad[2048];
};

static struct shared_progress *progress;
static int verbose; /* COMPACTER_FUZZ_VERBOSE: print each input's outcome */

/* The child's loop: exit 0 (all checks passed), 3 (a check failed). */
static void fuzz_child(const struct target *t, const char *casedir, long from, long iters, uint64_t seed) {
    struct bytes orig = {0};
    if (t->charsmap) {
        orig.n = t->charsmap->bin.n, orig.cap = t->charsmap->bin.n + 4096;
        orig.p = malloc(orig.cap);
        memcpy(orig.p, t->charsmap->bin.p, orig.n);
    } else if (read_all(t->seed, &orig)) {
        fprintf(stderr, "cannot read %s\n", t->seed);
        exit(3);
    }
    size_t hot = 0;
    if (t->header && orig.n >= 8) {
        uint64_t h = 0;
        for (int i = 7; i >= 0; i--) h = h << 8 | orig.p[i];
        hot = 8 + (size_t)h + 64;
    }
    char path[600];
    snprintf(path, sizeof path, "%s/%s", casedir, t->file);
    struct bytes b = {malloc(orig.cap), 0, orig.cap};
    int bad = 0;
    for (long i = from; i < from + iters; i++) {
        rng = splitmix64_mix(seed ^ splitmix64_mix((uint64_t)i * 0x100000001b3ull ^ (uint64_t)strlen(t->name) << 56));
        for (const char *c = t->name; *c; c++) rng = splitmix64_mix(rng ^ (uint64_t)(unsigned char)*c);
        memcpy(b.p, orig.p, orig.n);
        b.n = orig.n;
        corrupt(&b, hot);
        int wrc;
        if (t->charsmap) {
            char *enc = b64_encode(b.p, b.n);
            json_object_set_new(t->charsmap->node, "precompiled_charsmap", json_string(enc));
            free(enc);
            wrc = json_dump_file(t->charsmap->doc, path, JSON_COMPACT);
        } else {
            wrc = write_all(path, b.p, b.n);
        }
        if (wrc) {
            fprintf(stderr, "cannot write %s\n", path);
            exit(3);
        }
        progress->iteration = i;
        error_clear();
        int rc = t->load(path);
        const char *msg = error_message();
        if (verbose) printf("    %s input %ld: %s\n", t->name, i, rc == 0 ? "loaded" : msg);
        if (rc == 0) {
            progress->loaded++;
        } else if (rc == -1 && msg && *msg && strstr(msg, casedir)) {
            progress->refused++;
        } else {
            progress->bad_errors++;
            if (!bad++)
                snprintf(progress->first_bad, sizeof progress->first_bad, "input %ld: returned %d, error '%s' (must name %s)",
                         i, rc, msg ? msg : "(none)", path);
        }
    }
    free(b.p);
    free(orig.p);
    exit(bad ? 3 : 0);
}

static void copy_file(const char *from, const char *to) {
    struct bytes b = {0};
    if (read_all(from, &b) || write_all(to, b.p, b.n)) {
        fprintf(stderr, "cannot copy %s to %s\n", from, to);
        exit(1);
    }
    free(b.p);
}

static void fuzz(const struct target *t, long from, long iters, uint64_t seed) {
    char casedir[400], sub[600];
    snprintf(casedir, sizeof casedir, "%s/case-%s", tmp, t->name);
    mkdir(casedir, 0755);
    if (strchr(t->file, '/')) { /* a task file: in its task's folder */
        snprintf(sub, sizeof sub, "%s/%.*s", casedir, (int)(strchr(t->file, '/') - t->file), t->file);
        mkdir(sub, 0755);
    }
    for (int k = 0; k < 8 && t->beside[k]; k++) {
        char to[600];
        snprintf(to, sizeof to, "%s/%s", casedir, strrchr(t->beside[k], '/') + 1);
        copy_file(t->beside[k], to);
    }
    memset(progress, 0, sizeof *progress);
    progress->iteration = -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit none = {0, 0};
        setrlimit(RLIMIT_CORE, &none);
        alarm(600); /* a hang is a failure */
        fuzz_child(t, casedir, from, iters, seed);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    int ok_exit = WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 3);
    CHECK(ok_exit, "%s: input %ld %s %d (the input is kept in %s; rerun it with COMPACTER_FUZZ_ONLY=%s "
          "COMPACTER_FUZZ_FROM=%ld COMPACTER_FUZZ_ITERS=1 COMPACTER_FUZZ_SEED=%llu)",
          t->name, progress->iteration, WIFSIGNALED(status) ? "killed the loader with signal" : "ended the child with exit",
          WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), casedir, t->name, progress->iteration,
          (unsigned long long)seed);
    CHECK(progress->bad_errors == 0, "%s: %ld inputs failed without an error naming the file; first: %s", t->name,
          progress->bad_errors, progress->first_bad);
    /* the corrupter must reach the loader's checks: at least 1 input in 10 is refused (1 in
     * 50 for the charsmap) */
    long done = progress->loaded + progress->refused + progress->bad_errors;
    if (ok_exit)
        CHECK(done < 50 || progress->refused * (t->charsmap ? 50 : 10) >= done, "%s: only %ld of %ld inputs refused",
              t->name, progress->refused, done);
    printf("  fuzz %-22s %5ld inputs: %5ld loaded, %5ld refused with the file named\n", t->name, done,
           progress->loaded, progress->refused);
    if (ok_exit) rm_tree(casedir);
}

/* tmp/name, in storage that lives as long as the program */
static const char *in_tmp(const char *name) {
    static char paths[8][400];
    static int used;
    if (used == 8) abort();
    snprintf(paths[used], sizeof paths[used], "%s/%s", tmp, name);
    return paths[used++];
}

static long env_long(const char *name, long def) {
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : def;
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/compacter-fuzz-XXXXXX");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    progress = mmap(NULL, sizeof *progress, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (progress == MAP_FAILED) return 1;
    long iters = env_long("COMPACTER_FUZZ_ITERS", 150), from = env_long("COMPACTER_FUZZ_FROM", 0);
    uint64_t seed = (uint64_t)env_long("COMPACTER_FUZZ_SEED", 1);
    const char *only = getenv("COMPACTER_FUZZ_ONLY");
    verbose = env_long("COMPACTER_FUZZ_VERBOSE", 0) != 0;

    /* seeds written by the program's own writers */
    const char *p_ckpt = in_tmp("seed-checkpoint.safetensors"), *p_weights = in_tmp("seed-weights.safetensors"),
               *p_state = in_tmp("seed-progress.json"), *p_data = in_tmp("seed-data.jsonl"),
               *p_pins = in_tmp("seed-pins.txt"), *p_zip = in_tmp("seed.zip"), *p_tgz = in_tmp("seed.tar.gz");
    const char *opts[] = {"reduction_factor=4"};
    struct optim_config oc = optim_defaults(1e-3, 0, 100);
    struct train_state ts = {3, 42, 7};
    if (t5_model_load(&ck_model, "tests/fixtures/t5/v10", &backend_cpu) ||
        method_attach(&ck_method, "adapter", &ck_model, opts, 1, 5) ||
        trainable_init(&ck_tr, &backend_cpu, ck_method.train, ck_method.n_train, NULL) ||
        optimizer_init(&ck_opt, &ck_tr, &oc) || checkpoint_save(p_ckpt, &ck_tr, &ck_opt, &ts, "{\"lr\":0.001}") ||
        method_weights_save(&ck_method, p_weights, "tests/fixtures/t5/v10")) {
        fprintf(stderr, "setup: %s\n", error_message());
        return 1;
    }
    struct run_state rs = {.config = strdup("{\"method\":\"adapter\",\"lr\":0.001}"), .best = -1};
    struct run_eval e1 = {1, 10, 2.5, 1, {"accuracy"}, {0.5}, 0.5}, e2 = {2, 20, 1.5, 2, {"f1", "accuracy"}, {0.7, 0.6}, 0.65};
    run_state_push(&rs, &e1);
    run_state_push(&rs, &e2);
    rs.best = 1;
    snprintf(rs.ckpt, sizeof rs.ckpt, "checkpoint-20.safetensors");
    snprintf(rs.best_file, sizeof rs.best_file, "best-20.safetensors");
    rs.train_time_s = 12.5, rs.peak_bytes = 123456789, rs.attempts = 2;
    tiny_tok = tokenizer_load("tests/fixtures/tokenizer/tiny_tokenizer.json");
    struct charsmap_seed cm_tiny, cm_t5 = {0};
    if (run_state_save(&rs, p_state) || !tiny_tok ||
        write_text(p_data, "{\"source\": \"premise: a dog hypothesis: an animal\", \"target\": \"entailment\"}\n"
                           "{\"source\": [5, 6, 7, 1], \"target\": [8, 1]}\n"
                           "{\"source\": \"x\", \"target\": [3]}\n") ||
        write_text(p_pins, "# pins\nglue RTE.zip 123 "
                           "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
                           "mrpc msr_paraphrase_train.txt 1047044 "
                           "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210\n") ||
        write_archive(p_zip, 1) || write_archive(p_tgz, 0) ||
        charsmap_seed_load(&cm_tiny, "tests/fixtures/tokenizer/tiny_tokenizer.json")) {
        fprintf(stderr, "setup: %s\n", error_message());
        return 1;
    }
    run_state_free(&rs);
    /* the real T5 tokenizer (../shared/data), when present */
    char t5_tok[512];
    const char *shared = getenv("COMPACTER_SHARED_DATA");
    snprintf(t5_tok, sizeof t5_tok, "%s/t5-tokenizer/tokenizer.json", shared && *shared ? shared : "../shared/data");
    int have_t5 = access(t5_tok, R_OK) == 0 && charsmap_seed_load(&cm_t5, t5_tok) == 0;
    if (!have_t5) printf("  (the real T5 tokenizer is absent: %s; its two targets are skipped)\n", t5_tok);
    const char *sharded[8] = {"tests/fixtures/t5/v11-sharded/config.json"};
    for (int k = 1; k <= 6; k++) {
        static char names[6][128];
        snprintf(names[k - 1], sizeof names[k - 1], "tests/fixtures/t5/v11-sharded/model-%05d-of-00006.safetensors", k);
        sharded[k] = names[k - 1];
    }

    const struct target targets[] = {
        {"safetensors", "tests/fixtures/t5/v10/model.safetensors", "model.safetensors", 1, 0, load_safetensors, {0}},
        {"model-weights", "tests/fixtures/t5/v10/model.safetensors", "model.safetensors", 1, 0, load_model,
         {"tests/fixtures/t5/v10/config.json"}},
        {"model-config", "tests/fixtures/t5/v10/config.json", "config.json", 0, 0, load_model,
         {"tests/fixtures/t5/v10/model.safetensors"}},
        {"tokenizer", "tests/fixtures/tokenizer/tiny_tokenizer.json", "tokenizer.json", 0, 0, load_tokenizer, {0}},
        {"tokenizer-charsmap", NULL, "tokenizer.json", 0, &cm_tiny, load_tokenizer, {0}},
        {"tokenizer-t5", have_t5 ? t5_tok : NULL, "tokenizer.json", 0, 0, load_tokenizer, {0}, 20},
        {"tokenizer-t5-charsmap", NULL, "tokenizer.json", 0, have_t5 ? &cm_t5 : NULL, load_tokenizer, {0}, 20},
        {"model-sharded-index", "tests/fixtures/t5/v11-sharded/model.safetensors.index.json",
         "model.safetensors.index.json", 0, 0, load_model_dir, {sharded[0], sharded[1], sharded[2], sharded[3], sharded[4], sharded[5], sharded[6]}},
        {"glue-rte", "tests/fixtures/tasks/data/glue/RTE/dev.tsv", "RTE/dev.tsv", 0, 0, load_task_file, {0}},
        {"glue-mnli", "tests/fixtures/tasks/data/glue/MNLI/dev_matched.tsv", "MNLI/dev_matched.tsv", 0, 0, load_task_file, {0}},
        {"glue-stsb", "tests/fixtures/tasks/data/glue/STS-B/dev.tsv", "STS-B/dev.tsv", 0, 0, load_task_file, {0}},
        {"glue-cola", "tests/fixtures/tasks/data/glue/CoLA/dev.tsv", "CoLA/dev.tsv", 0, 0, load_task_file, {0}},
        {"glue-qqp", "tests/fixtures/tasks/data/glue/QQP/dev.tsv", "QQP/dev.tsv", 0, 0, load_task_file, {0}},
        {"superglue-boolq", "tests/fixtures/tasks/data/superglue/BoolQ/val.jsonl", "BoolQ/val.jsonl", 0, 0, load_task_file, {0}},
        {"superglue-multirc", "tests/fixtures/tasks/data/superglue/MultiRC/val.jsonl", "MultiRC/val.jsonl", 0, 0, load_task_file, {0}},
        {"superglue-record", "tests/fixtures/tasks/data/superglue/ReCoRD/val.jsonl", "ReCoRD/val.jsonl", 0, 0, load_task_file, {0}},
        {"superglue-copa", "tests/fixtures/tasks/data/superglue/COPA/val.jsonl", "COPA/val.jsonl", 0, 0, load_task_file, {0}},
        {"superglue-wic", "tests/fixtures/tasks/data/superglue/WiC/val.jsonl", "WiC/val.jsonl", 0, 0, load_task_file, {0}},
        {"superglue-cb", "tests/fixtures/tasks/data/superglue/CB/val.jsonl", "CB/val.jsonl", 0, 0, load_task_file, {0}},
        {"experiment-table1", "experiments/table1.json", "table1.json", 0, 0, load_experiment, {0}},
        {"experiment-lowresource", "experiments/lowresource.json", "lowresource.json", 0, 0, load_experiment, {0}},
        {"results-table1", "tests/fixtures/reports/table1.jsonl", "table1.jsonl", 0, 0, load_results, {0}},
        {"results-efficiency", "tests/fixtures/reports/efficiency.jsonl", "efficiency.jsonl", 0, 0, load_results, {0}},
        {"results-lowresource", "tests/fixtures/reports/lowresource.jsonl", "lowresource.jsonl", 0, 0, load_results, {0}},
        {"results-resume", "tests/fixtures/reports/table1.jsonl", "table1.jsonl", 0, 0, load_results_resume, {0}},
        {"progress-json", p_state, "progress.json", 0, 0, load_run_state, {0}},
        {"checkpoint", p_ckpt, "checkpoint.safetensors", 1, 0, load_checkpoint, {0}},
        {"method-weights", p_weights, "weights.safetensors", 1, 0, load_method_weights, {0}},
        {"train-jsonl", p_data, "data.jsonl", 0, 0, load_jsonl_data, {0}},
        {"dataset-pins", p_pins, "pins.txt", 0, 0, load_pins, {0}},
        {"archive-zip", p_zip, "RTE.zip", 0, 0, load_archive, {0}},
        {"archive-tar-gz", p_tgz, "RTE.tar.gz", 0, 0, load_archive, {0}},
    };
    int ran = 0;
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        const struct target *t = &targets[i];
        if (only && strcmp(only, t->name)) continue;
        if (!t->seed && !t->charsmap) continue; /* the real T5 tokenizer's, when absent */
        fuzz(t, from, t->slow > 1 ? (iters + t->slow - 1) / t->slow : iters, seed);
        ran++;
    }
    CHECK(ran > 0, "no target named '%s'", only ? only : "");
    charsmap_seed_free(&cm_tiny);
    if (have_t5) charsmap_seed_free(&cm_t5);
    tokenizer_free(tiny_tok);
    if (!check_failures) rm_tree(tmp);
    CHECK_DONE();
}
