/* test_bad_input.c: bad input to the `compacter` program, as a user gives it: every case
 * must end with a non-zero exit (no signal), ONE error line naming the file and the field
 * (or flag), and nothing written before damaged or left half-written. Cases not covered by
 * the other tests (test_safetensors, test_experiment, test_glue_tsv, test_runner, ...):
 *  - config.json: wrong-typed feed_forward_proj / tie_word_embeddings / scale_decoder_outputs,
 *    feed_forward_proj "gelu" (erf GELU, not implemented), sizes below their
 *    minimum named one by one, token ids outside the vocabulary, too few position buckets
 *    or a max distance the bucket formula divides by zero with (generate crashed), negative
 *    layer_norm_epsilon / dropout_rate, sizes too large to allocate (a double free);
 *  - safetensors: overlapping data_offsets, an end before its begin;
 *  - train: a JSONL line with a non-integer id (a double free) or an id outside the
 *    vocabulary, a malformed line; numeric flags that are not numbers (atoi's silent 0);
 *    a method option of the wrong type (its message said "method X:" twice); an unknown
 *    method reported as such when a tokenizer is also bad;
 *  - a run that diverges (--lr 1e39): the non-finite state is not saved over the last good
 *    checkpoint, and the NaN message names a checkpoint only when there is one;
 *  - experiment files: unknown fields at every level, unknown device / precision, an
 *    experiment name that would put the results file elsewhere, a method option whose value
 *    is not of its kind (a number for phm_dim), a missing file;
 *  - a full disk (RLIMIT_FSIZE, SIGXFSZ ignored: writes fail with EFBIG): train --save,
 *    report --out, the results line of `compacter run` (was left cut short), progress.json;
 *  - an output path that is not a regular file (a FIFO standing in for /dev/full, which
 *    the temporary's rename replaced): refused, left as it is.
 * Fixtures are made here, in a temporary folder, from tests/fixtures/t5/v10. */
#include "tests/check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "core/safetensors.h"
#include "experiments/run_state.h"

static char dir[256], out[1 << 16];
static const char *FIX = "tests/fixtures/t5/v10";

/* Run `compacter ARGS...` (NULL-terminated) with stdout and stderr into out. fsize >= 0: the
 * largest file it may write (RLIMIT_FSIZE, SIGXFSZ ignored: a full disk's EFBIG). Returns the
 * wait status. */
static int cli(long fsize, ...) {
    const char *argv[64] = {compacter_bin()};
    int n = 1;
    va_list ap;
    va_start(ap, fsize);
    while (n < 63 && (argv[n] = va_arg(ap, const char *)))
        n++;
    va_end(ap);
    argv[n] = NULL;
    int fd[2];
    if (pipe(fd)) return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        dup2(fd[1], 2);
        close(fd[0]);
        close(fd[1]);
        if (fsize >= 0) {
            struct rlimit rl = {(rlim_t)fsize, (rlim_t)fsize};
            setrlimit(RLIMIT_FSIZE, &rl);
            signal(SIGXFSZ, SIG_IGN);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fd[1]);
    size_t got = 0;
    ssize_t r;
    while ((r = read(fd[0], out + got, sizeof out - 1 - got)) > 0 || (r < 0 && errno == EINTR))
        if (r > 0) got += (size_t)r;
    out[got] = 0;
    close(fd[0]);
    int st = -1;
    waitpid(pid, &st, 0);
    return st;
}

/* Lines of out that start with "compacter" (the program's error lines); *first: the first. */
static int error_lines(const char **first) {
    int n = 0;
    for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, "compacter", 9) && n++ == 0 && first) *first = p;
    return n;
}

/* The last run failed cleanly: exit code `code` (0: any non-zero), no signal, one error
 * line, containing every needle (NULL-terminated). */
static void expect_fail(const char *what, int st, int code, const char *const *needles) {
    int sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0, rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    CHECK(!sig, "%s: killed by signal %d: %s", what, sig, out);
    CHECK(!strstr(out, "ERROR: AddressSanitizer") && !strstr(out, "ERROR: LeakSanitizer") &&
              !strstr(out, "runtime error:"),
          "%s: sanitizer report: %s", what, out);
    CHECK(rc > 0 && rc < 126 && (!code || rc == code), "%s: exit %d (want %d): %s", what, rc, code,
          out);
    const char *e = NULL;
    int lines = error_lines(&e);
    CHECK(lines == 1, "%s: %d error lines: %s", what, lines, out);
    for (const char *const *n = needles; *n; n++)
        CHECK(strstr(out, *n) != NULL, "%s: message lacks '%s': %s", what, *n, out);
    printf("  ok %-34s exit %d: %.*s\n", what, rc, e ? (int)strcspn(e, "\n") : 0, e ? e : "");
}
#define NEEDLES(...) ((const char *const[]){__VA_ARGS__, NULL})

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

static void write_str(const char *path, const char *s) {
    write_bytes(path, s, strlen(s));
}

/* Any file in folder d whose name contains ".tmp" (a temporary left behind). */
static int temp_left(const char *d) {
    DIR *dp = opendir(d);
    int n = 0;
    struct dirent *e;
    while (dp && (e = readdir(dp)))
        if (strstr(e->d_name, ".tmp")) {
            fprintf(stderr, "  left behind: %s/%s\n", d, e->d_name);
            n++;
        }
    if (dp) closedir(dp);
    return n;
}

static void copy(const char *from, const char *to) {
    size_t n;
    char *b = file_text(from, &n);
    if (!b) {
        perror(from);
        exit(1);
    }
    write_bytes(to, b, n);
    free(b);
}

/* DIR/<name>/: the v10 fixture's weights (a link) and its config.json with `key` set to the
 * JSON value `value`. Returns the folder (static buffer). */
static const char *model_with(const char *name, const char *key, const char *value) {
    static char m[512];
    char p[600], weights[PATH_MAX];
    snprintf(m, sizeof m, "%s/%s", dir, name);
    mkdir(m, 0755);
    snprintf(p, sizeof p, "%s/model.safetensors", m);
    if (!realpath("tests/fixtures/t5/v10/model.safetensors", weights) || symlink(weights, p)) {
        perror(p);
        exit(1);
    }
    json_error_t je;
    json_t *c = json_load_file("tests/fixtures/t5/v10/config.json", 0, &je),
           *v = json_loads(value, JSON_DECODE_ANY, &je);
    if (!c || !v) {
        fprintf(stderr, "config %s=%s: %s\n", key, value, je.text);
        exit(1);
    }
    json_object_set_new(c, key, v);
    snprintf(p, sizeof p, "%s/config.json", m);
    json_dump_file(c, p, JSON_INDENT(1));
    json_decref(c);
    return m;
}

static void config_cases(void) {
    /* fields `compacter info` refuses: folder, field, value, what the message names */
    static const struct {
        const char *dir, *field, *value, *needle;
    } info[] = {
        {"ffn-type", "feed_forward_proj", "7", "'feed_forward_proj' is not a string"},
        {"tie-type", "tie_word_embeddings", "\"no\"", "'tie_word_embeddings'"},
        {"scale-type", "scale_decoder_outputs", "1", "'scale_decoder_outputs' is not true or false"},
        /* transformers' "gelu" is the erf form; only gelu_new (tanh) is implemented */
        {"ffn-gelu", "feed_forward_proj", "\"gelu\"", "'gelu' is the exact (erf) GELU"},
        {"dkv0", "d_kv", "0", "'d_kv' is 0"},
        {"buckets1", "relative_attention_num_buckets", "1", "'relative_attention_num_buckets'"},
        {"pad5000", "pad_token_id", "5000", "'pad_token_id'"},
        {"dropout", "dropout_rate", "1.5", "'dropout_rate'"},
    };
    const char *m;
    for (size_t i = 0; i < sizeof info / sizeof info[0]; i++) {
        char what[128], file[64];
        snprintf(what, sizeof what, "config: %s %s", info[i].field, info[i].value);
        snprintf(file, sizeof file, "%s/config.json", info[i].dir);
        m = model_with(info[i].dir, info[i].field, info[i].value);
        expect_fail(what, cli(-1, "info", "--model", m, NULL), 1, NEEDLES(file, info[i].needle));
    }
    /* 16 buckets: max_exact 8 in the decoder; a max distance of 8 divided by log(1) = 0 and
     * indexed the bias table with INT_MIN (generate died of SIGSEGV) */
    m = model_with("distance8", "relative_attention_max_distance", "8");
    expect_fail("config: max distance 8 (SIGSEGV)",
                cli(-1, "generate", "--device", "cpu", "--model", m, "--encoder-ids",
                    "5,6,7,8,9,10,11,12,13,14,15,1", "--max-length", "12", NULL),
                1, NEEDLES("distance8/config.json", "'relative_attention_max_distance'"));
    /* ids outside the 96-row vocabulary: generate printed them with exit 0 */
    m = model_with("start96", "decoder_start_token_id", "96");
    expect_fail("config: decoder_start_token_id 96",
                cli(-1, "generate", "--device", "cpu", "--model", m, "--encoder-ids", "5,1", NULL),
                1, NEEDLES("start96/config.json", "'decoder_start_token_id' is 96", "[0, 96)"));
    m = model_with("eps-neg", "layer_norm_epsilon", "-1");
    expect_fail("config: layer_norm_epsilon -1",
                cli(-1, "generate", "--device", "cpu", "--model", m, "--encoder-ids", "5,1", NULL),
                1, NEEDLES("eps-neg/config.json", "'layer_norm_epsilon'"));
    /* 2^30-wide FFN: the parameter allocation fails (t5_model_create freed the names
     * block twice: abort); under ASan it must return NULL rather than abort */
    setenv("ASAN_OPTIONS", "allocator_may_return_null=1", 1);
    m = model_with("huge", "d_ff", "1073741824");
    expect_fail("config: d_ff 2^30 (double free)", cli(-1, "info", "--model", m, NULL), 1,
                NEEDLES("huge/config.json"));
    unsetenv("ASAN_OPTIONS");
}

static void write_raw(const char *path, const char *header, size_t data_bytes) {
    size_t h = strlen(header);
    unsigned char *buf = calloc(1, 8 + h + data_bytes);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, header, h);
    write_bytes(path, buf, 8 + h + data_bytes);
    free(buf);
}

static void st_expect(const char *what, const char *path, const char *n1, const char *n2) {
    struct st_file f;
    int rc = st_open(&f, path);
    CHECK(rc == -1, "%s: accepted", what);
    if (rc == 0) {
        st_close(&f);
        return;
    }
    const char *msg = error_message();
    CHECK(strstr(msg, path) && strstr(msg, n1) && (!n2 || strstr(msg, n2)), "%s: '%s'", what, msg);
    printf("  ok %-34s %s\n", what, msg);
}

static void safetensors_cases(void) {
    char p[400];
    snprintf(p, sizeof p, "%s/overlap.safetensors", dir);
    write_raw(p,
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
              12);
    st_expect("safetensors: overlapping offsets", p, "overlaps tensor 'a' [0, 8]", "'b'");
    snprintf(p, sizeof p, "%s/backwards.safetensors", dir);
    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8);
    st_expect("safetensors: end before begin", p, "'data_offsets' [8, 4] ends before it begins",
              NULL);
    /* a tensor of no bytes shares its offset with its neighbour: not an overlap */
    snprintf(p, sizeof p, "%s/empty-tensor.safetensors", dir);
    write_raw(p,
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}",
              8);
    struct st_file f;
    CHECK(st_open(&f, p) == 0, "an empty tensor inside another's range: %s", error_message());
    if (!f.path) return;
    st_close(&f);
}

static void train_cases(void) {
    char bad[400], ok[400], ck[400], keep[400], ck2[400];
    snprintf(ok, sizeof ok, "%s/ok.jsonl", dir);
    write_str(ok,
              "{\"source\":[5,6,1],\"target\":[7,1]}\n{\"source\":[8,9,10,1],\"target\":[11,1]}\n"
              "{\"source\":[12,1],\"target\":[13,14,1]}\n");
    snprintf(bad, sizeof bad, "%s/bad.jsonl", dir);
    write_str(bad,
              "{\"source\":[5,6,1],\"target\":[7,1]}\n{\"source\":[5,\"a\"],\"target\":[7,1]}\n");
    expect_fail("train: id \"a\" (double free)",
                cli(-1, "train", "--device", "cpu", "--model", FIX, "--train", bad, NULL), 1,
                NEEDLES("bad.jsonl: line 2", "field 'source'", "element 1"));
    write_str(bad,
              "{\"source\":[5,6,1],\"target\":[7,1]}\n{\"source\":[5,500,1],\"target\":[7,1]}\n");
    expect_fail("train: id 500 of a 96-row vocabulary",
                cli(-1, "train", "--device", "cpu", "--model", FIX, "--train", bad, NULL), 1,
                NEEDLES("bad.jsonl: line 2", "field 'source'", "token id 500", "[0, 96)"));
    write_str(bad, "{\"source\":[5,6,1],\"target\":[7,1]}\n{\"source\":[5,1],\"target\":[7,1]\n");
    expect_fail("train: malformed line",
                cli(-1, "train", "--device", "cpu", "--model", FIX, "--train", bad, NULL), 1,
                NEEDLES("bad.jsonl: line 2", "not a JSON object"));

    /* numbers: atoi/atof read "abc" as 0 and "2x" as 2 (exit 0) */
    expect_fail("train --lr abc",
                cli(-1, "train", "--model", FIX, "--train", ok, "--lr", "abc", NULL), 2,
                NEEDLES("--lr", "'abc'"));
    expect_fail("train --lr inf",
                cli(-1, "train", "--model", FIX, "--train", ok, "--lr", "inf", NULL), 2,
                NEEDLES("--lr"));
    expect_fail("train --epochs 2x",
                cli(-1, "train", "--model", FIX, "--train", ok, "--epochs", "2x", NULL), 2,
                NEEDLES("--epochs", "'2x'"));
    expect_fail(
        "generate --max-length 3x",
        cli(-1, "generate", "--model", FIX, "--encoder-ids", "5,1", "--max-length", "3x", NULL), 2,
        NEEDLES("--max-length", "'3x'"));
    expect_fail("params --vocab x", cli(-1, "params", "--config", FIX, "--vocab", "x", NULL), 2,
                NEEDLES("--vocab", "'x'"));
    expect_fail("run --threads x",
                cli(-1, "run", "experiments/table1.json", "--threads", "x", "--dry-run", NULL), 2,
                NEEDLES("--threads", "'x'"));
    expect_fail("download --retries x",
                cli(-1, "download", "--retries", "x", "--quiet", "rte", NULL), 2,
                NEEDLES("--retries", "'x'"));

    /* the method's own prefix once, not "method compacter: method compacter: ..." */
    expect_fail(
        "train: option of the wrong type",
        cli(-1, "train", "--device", "cpu", "--model", FIX, "--train", ok, "--method", "compacter",
            "--option", "reduction_factor=abc", NULL),
        1,
        NEEDLES(
            "compacter: train: method compacter: option reduction_factor=abc is not an integer"));
    CHECK(!strstr(strstr(out, "method compacter") + 1, "method compacter"), "prefix twice: %s",
          out);
    /* the first error is the one reported (a bad tokenizer used to replace it) */
    expect_fail("train: unknown method + bad tokenizer",
                cli(-1, "train", "--device", "cpu", "--model", FIX, "--train", ok, "--method",
                    "nope", "--tokenizer", "/nonexistent/t.json", NULL),
                1, NEEDLES("unknown method 'nope'"));

    /* divergence: step 1's loss is finite, its update leaves infinities; --save-every 1 used
     * to write them over the good checkpoint, then blame NaN and call that file good */
    snprintf(ck, sizeof ck, "%s/ck.safetensors", dir);
    snprintf(keep, sizeof keep, "%s/keep.safetensors", dir);
    int st = cli(-1, "train", "--device", "cpu", "--model", FIX, "--train", ok, "--batch", "1",
                 "--save", ck, NULL);
    CHECK(st == 0, "a good checkpoint: %s", out);
    copy(ck, keep);
    expect_fail("train --lr 1e39 --save-every 1",
                cli(-1, "train", "--device", "cpu", "--model", FIX, "--train", ok, "--batch", "1",
                    "--epochs", "2", "--lr", "1e39", "--save", ck, "--save-every", "1", NULL),
                1, NEEDLES(ck, "not written", "diverged"));
    CHECK(files_identical(ck, keep), "the last good checkpoint was overwritten by a diverged one");
    CHECK(temp_left(dir) == 0, "temporary file left beside %s", ck);
    snprintf(ck2, sizeof ck2, "%s/never.safetensors", dir);
    expect_fail("train --lr 1e39 (NaN loss)",
                cli(-1, "train", "--device", "cpu", "--model", FIX, "--train", ok, "--batch", "1",
                    "--epochs", "2", "--lr", "1e39", "--save", ck2, NULL),
                1, NEEDLES("loss is NaN", "at step 2"));
    CHECK(!strstr(out, "last good checkpoint") && access(ck2, F_OK) != 0,
          "a checkpoint that does not exist named: %s", out);

    /* full disk while saving: the previous checkpoint survives, no temporary is left */
    expect_fail("train --save on a full disk",
                cli(64 << 10, "train", "--device", "cpu", "--model", FIX, "--train", ok, "--batch",
                    "1", "--save", ck, NULL),
                1, NEEDLES(ck, "File too large"));
    CHECK(files_identical(ck, keep), "the checkpoint was damaged by a failed save");
    CHECK(temp_left(dir) == 0, "temporary file left beside %s", ck);
}

/* experiments: each error names the file and the JSON path; --dry-run creates nothing */
static void experiment_cases(void) {
    static const struct {
        const char *what, *from, *to, *needle;
    } c[] = {
        {"experiment: unknown top field", "\"presets\"", "\"colour\": 1, \"presets\"",
         "$.colour: unknown field"},
        {"experiment: unknown preset field", "\"warmup\"", "\"warmpu\": 1, \"warmup\"",
         "presets.tiny.warmpu: unknown field"},
        {"experiment: unknown method field", "\"lr\"", "\"reduction_factr\": [8], \"lr\"",
         "presets.tiny.methods[0].reduction_factr: unknown field"},
        {"experiment: unknown task field", "\"epochs\"", "\"epoch\": 2, \"epochs\"",
         "presets.tiny.tasks[0].epoch: unknown field"},
        {"experiment: unknown train_sizes field", "\"tasks\"",
         "\"train_sizes\": [{\"size\": 10, \"epochs\": 1, \"n\": 1}], \"tasks\"",
         "presets.tiny.train_sizes[0].n: unknown field"},
        {"experiment: device tpu", "\"warmup\"", "\"device\": \"tpu\", \"warmup\"",
         "presets.tiny.device: 'tpu'"},
        {"experiment: precision fp8", "\"warmup\"", "\"precision\": \"fp8\", \"warmup\"",
         "presets.tiny.precision: 'fp8'"},
        {"experiment: name ../x", "\"x\"", "\"../x\"", "$.experiment: '../x'"},
        {"experiment: method option of the wrong kind", "\"name\": \"full\"",
         "\"name\": \"compacter\", \"options\": {\"phm_dim\": \"x\"}", "option phm_dim=x is not a number"},
    };
    const char *good = "{\"experiment\": \"x\", \"presets\": {\"tiny\": {\"model\": \"tiny\", "
                       "\"seeds\": [42], \"batch\": 8, "
                       "\"warmup\": 0, \"tasks\": [{\"name\": \"syn-rte\", \"epochs\": 1}], "
                       "\"methods\": [{\"name\": \"full\", \"lr\": [0.003]}]}}}";
    char grid[400], res[400], text[1024];
    snprintf(grid, sizeof grid, "%s/grid.json", dir);
    snprintf(res, sizeof res, "%s/res-dry", dir);
    write_str(grid, good);
    CHECK(cli(-1, "run", grid, "--dry-run", "--results", res, NULL) == 0, "the good grid: %s", out);
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        const char *at = strstr(good, c[i].from);
        snprintf(text, sizeof text, "%.*s%s%s", (int)(at - good), good, c[i].to,
                 at + strlen(c[i].from));
        write_str(grid, text);
        expect_fail(c[i].what, cli(-1, "run", grid, "--dry-run", "--results", res, NULL), 1,
                    NEEDLES("grid.json", c[i].needle));
        CHECK(access(res, F_OK) != 0, "%s: %s was created", c[i].what, res);
    }
    snprintf(grid, sizeof grid, "%s/missing.json", dir);
    expect_fail("experiment: missing file",
                cli(-1, "run", grid, "--dry-run", "--results", res, NULL), 1, NEEDLES(grid));
    CHECK(!strstr(out, ":-1:-1"), "no line numbers for a file that was never read: %s", out);
}

/* full disk: report outputs and the results line of `compacter run` keep their content */
static void full_disk_cases(void) {
    char rep[400], keep[400], part[400], a[600], b[600];
    snprintf(rep, sizeof rep, "%s/report", dir);
    snprintf(keep, sizeof keep, "%s/report-keep", dir);
    mkdir(keep, 0755);
    /* a first report from part of the results, then one from all of them that cannot be written */
    snprintf(part, sizeof part, "%s/part.jsonl", dir);
    char *all = file_text("tests/fixtures/reports/table1.jsonl", NULL), *cut = all;
    for (int i = 0; cut && i < 6; i++)
        cut = strchr(cut, '\n') ? strchr(cut, '\n') + 1 : NULL;
    if (all && cut) write_bytes(part, all, (size_t)(cut - all));
    free(all);
    CHECK(cli(-1, "report", part, "--out", rep, "--no-figures", NULL) == 0, "report: %s", out);
    const char *files[] = {"table1.md", "table1.tex", "table1.csv"};
    for (int i = 0; i < 3; i++) {
        snprintf(a, sizeof a, "%s/%s", rep, files[i]);
        snprintf(b, sizeof b, "%s/%s", keep, files[i]);
        copy(a, b);
    }
    expect_fail(
        "report --out on a full disk",
        cli(0, "report", "tests/fixtures/reports/table1.jsonl", "--out", rep, "--no-figures", NULL),
        1, NEEDLES(rep, "File too large"));
    for (int i = 0; i < 3; i++) {
        snprintf(a, sizeof a, "%s/%s", rep, files[i]);
        snprintf(b, sizeof b, "%s/%s", keep, files[i]);
        CHECK(files_identical(a, b), "report: %s damaged", a);
    }
    CHECK(temp_left(rep) == 0, "report: temporary left");

    /* an output path that is a device or a FIFO: the temporary's rename replaced it with a
     * regular file (`--out /dev/full` as root turned /dev/full into one); a FIFO stands in for
     * the device here */
    char fifo[400];
    snprintf(fifo, sizeof fifo, "%s/logits.fifo", dir);
    struct stat sb;
    if (mkfifo(fifo, 0644) == 0) {
        expect_fail("logits --out FIFO",
                    cli(-1, "logits", "--device", "cpu", "--model", FIX, "--encoder-ids", "5,1",
                        "--decoder-ids", "0", "--out", fifo, NULL),
                    1, NEEDLES(fifo, "not a regular file"));
        CHECK(stat(fifo, &sb) == 0 && S_ISFIFO(sb.st_mode), "logits: the FIFO was replaced");
        snprintf(a, sizeof a, "%s/table1.md", rep);
        unlink(a);
        CHECK(mkfifo(a, 0644) == 0, "mkfifo %s", a);
        expect_fail("report: table1.md a FIFO",
                    cli(-1, "report", part, "--out", rep, "--no-figures", NULL), 1,
                    NEEDLES(a, "not a regular file"));
        CHECK(stat(a, &sb) == 0 && S_ISFIFO(sb.st_mode), "report: the FIFO was replaced");
        CHECK(temp_left(rep) == 0 && temp_left(dir) == 0, "FIFO: temporary left");
    } else {
        printf("  (FIFO cases not run: mkfifo: %s)\n", strerror(errno));
    }

    /* the results line: a minuscule run (a 1+1-layer tiny model, 40 examples) whose line
     * does not fit below the limit; the old code left its first bytes as a cut-short line */
    char cache[400], grid[400], res[400], results[600], saved[600];
    snprintf(cache, sizeof cache, "%s/cache", dir);
    setenv("COMPACTER_CACHE", cache, 1);
    snprintf(grid, sizeof grid, "%s/tiny.json", dir);
    write_str(grid, "{\"experiment\": \"rtest\", \"presets\": {\"tiny\": {\"model\": \"tiny\", "
                    "\"seeds\": [42], \"batch\": 8, "
                    "\"warmup\": 0, \"max_source_length\": 48, \"threads\": 1, \"tiny_model\": "
                    "{\"d_model\": 16, \"d_kv\": 4, "
                    "\"d_ff\": 32, \"num_heads\": 2, \"num_layers\": 1, \"num_decoder_layers\": 1, "
                    "\"pretrain_steps\": 2, "
                    "\"pretrain_batch\": 4}, \"synthetic\": {\"train\": 40, \"dev\": 20}, "
                    "\"tasks\": [{\"name\": \"syn-rte\", \"epochs\": 1}], \"methods\": [{\"name\": "
                    "\"full\", \"lr\": [0.003]}]}}}");
    snprintf(res, sizeof res, "%s/results", dir);
    mkdir(res, 0755);
    snprintf(results, sizeof results, "%s/rtest.jsonl", res);
    snprintf(saved, sizeof saved, "%s/rtest.keep", dir);
    const long limit = 1 << 20; /* above the run's checkpoints (about 170 kB) */
    FILE *f = fopen(results, "w");
    for (int i = 0; f && ftell(f) < limit - 200; i++)
        fprintf(f, "{\"run_id\": \"other/%d\", \"pad\": \"%0900d\"}\n", i, 0);
    if (f) fclose(f);
    copy(results, saved);
    expect_fail("run: results line on a full disk",
                cli(limit, "run", grid, "--results", res, "--no-progress-bar", NULL), 1,
                NEEDLES(results, "File too large"));
    CHECK(strstr(out, "step 5/5") != NULL, "the run did not get as far as its results line: %s",
          out);
    CHECK(files_identical(results, saved), "the results file was left with a cut-short line");
    unsetenv("COMPACTER_CACHE");

    /* progress.json: json_dump_file's temporary was left behind */
    char rs_dir[400], rs[600];
    snprintf(rs_dir, sizeof rs_dir, "%s/runstate", dir);
    mkdir(rs_dir, 0755);
    snprintf(rs, sizeof rs, "%s/progress.json", rs_dir);
    write_str(rs, "{\"previous\": true}\n");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = {16, 16};
        setrlimit(RLIMIT_FSIZE, &rl);
        signal(SIGXFSZ, SIG_IGN);
        struct run_state s = {.config = "{\"a\": 1}", .best = -1};
        int rc = run_state_save(&s, rs);
        fprintf(stderr, "  run_state_save on a full disk: %d: %s\n", rc, error_message());
        _exit(rc == -1 && strstr(error_message(), "progress.json.tmp") ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "run_state_save on a full disk did not fail naming its file");
    char *t = file_text(rs, NULL);
    CHECK(t && !strcmp(t, "{\"previous\": true}\n"), "progress.json damaged: %s",
          t ? t : "(absent)");
    free(t);
    CHECK(temp_left(rs_dir) == 0, "progress.json: temporary left");
}

int main(void) {
    if (access(compacter_bin(), X_OK)) SKIP("%s not built", compacter_bin());
    snprintf(dir, sizeof dir, "/tmp/compacter-bad-XXXXXX");
    if (!mkdtemp(dir)) SKIP("mkdtemp: %s", strerror(errno));
    setenv("OMP_NUM_THREADS", "1", 1);
    config_cases();
    safetensors_cases();
    train_cases();
    experiment_cases();
    full_disk_cases();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (!check_failures && system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
    CHECK_DONE();
}
