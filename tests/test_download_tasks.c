/* test_download_tasks.c: ensure_task_data() end to end against tests/http_server.py with
 * small archives in the official layouts made here (pins overridden to their sha256): a GLUE
 * zip unpacked to data/glue/CoLA/ (tsv files) then a cache hit with no request, QNLIv2.zip ->
 * QNLI/, MRPC built from the raw corpus + dev ids like download_glue_data.py, a SuperGLUE zip
 * -> data/superglue/CB/ (jsonl), a zip-slip archive refused, a wrong top folder, a checksum
 * mismatch, an unreachable mirror (the message says where to put files by hand), and
 * --data-dir with a classic glue_data/ folder; and a zip entry that fails its CRC. */
#include "core/error.h"
#include "datasets/archive_unpack.h"
#include "datasets/download_tasks.h"
#include "datasets/sha256.h"
#include "tests/check.h"
#include "tests/test_download_server.h"

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

/* Pin (source, file) to the sha256 and size of the fixture at path. */
static void pin(enum download_source s, const char *file, const char *path) {
    static char shas[16][65];
    static int k = 0;
    int64_t size = 0;
    if (sha256_file(path, shas[k], &size) != 0 || dataset_pin_override(s, file, size, shas[k]) != 0)
        fprintf(stderr, "pin %s: %s\n", file, error_message());
    k++;
}

/* A stored (uncompressed) zip entry with one byte changed fails its CRC: the error names the
 * archive and the entry (the name was read after libarchive had freed it; found by
 * test_fuzz_inputs under ASan). */
static void check_corrupt_entry(const char *tmp) {
    char zip[400], dest[400];
    snprintf(zip, sizeof zip, "%s/corrupt.zip", tmp);
    snprintf(dest, sizeof dest, "%s/corrupt-out", tmp);
    const char *body = "index\tsentence1\tsentence2\tlabel\n0\tA dog.\tAn animal.\tentailment\n";
    struct archive *a = archive_write_new();
    archive_write_set_format_zip(a);
    archive_write_set_format_option(a, "zip", "compression", "store");
    int ok = archive_write_open_filename(a, zip) == ARCHIVE_OK;
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "RTE/train.tsv");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)strlen(body));
    ok = ok && archive_write_header(a, e) == ARCHIVE_OK && archive_write_data(a, body, strlen(body)) == (la_ssize_t)strlen(body);
    archive_entry_free(e);
    ok = archive_write_close(a) == ARCHIVE_OK && ok;
    archive_write_free(a);
    /* "A dog." -> "A dug." inside the stored data */
    FILE *f = fopen(zip, "r+b");
    char buf[4096];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    char *at = memmem(buf, n, "A dog.", 6);
    ok = ok && at && fseek(f, (long)(at - buf) + 3, SEEK_SET) == 0 && fputc('u', f) == 'u';
    if (f) fclose(f);
    mkdir_p(dest);
    error_clear();
    int rc = archive_unpack(zip, dest);
    CHECK(ok && rc == -1 && strstr(error_message(), "corrupt.zip: corrupt entry RTE/train.tsv"),
          "corrupt entry: rc %d, '%s'", rc, error_message());
}

int main(void) {
    char tmp[256], root[300], cache[300], p[8192], dir[4096];
    if (scratch_dir(tmp, sizeof tmp, "dltasks") != 0) SKIP("cannot create a scratch dir in /tmp");
    snprintf(root, sizeof root, "%s/www", tmp);
    snprintf(cache, sizeof cache, "%s/cache", tmp);

    /* fixtures in the official layouts */
    const char *cola_n[] = {"CoLA/", "CoLA/train.tsv", "CoLA/dev.tsv", "CoLA/test.tsv", "CoLA/original/raw.tsv",
                            "__MACOSX/CoLA/._train.tsv"};
    const char *cola_c[] = {"", "gj04\t1\t\tOur friends won't buy this analysis.\n", "gj04\t1\t\tThe sailors rode the breeze.\n",
                            "index\tsentence\n0\tBill whistled.\n", "raw\n", "junk"};
    snprintf(p, sizeof p, "%s/glue/CoLA.zip", root);
    write_zip(p, cola_n, cola_c, 6);
    pin(SOURCE_GLUE, "CoLA.zip", p);
    const char *qnli_n[] = {"QNLI/train.tsv", "QNLI/dev.tsv", "QNLI/test.tsv"};
    const char *qnli_c[] = {"index\tquestion\tsentence\tlabel\n", "index\tquestion\tsentence\tlabel\n", "index\tquestion\tsentence\n"};
    snprintf(p, sizeof p, "%s/glue/QNLIv2.zip", root);
    write_zip(p, qnli_n, qnli_c, 3);
    pin(SOURCE_GLUE, "QNLIv2.zip", p);
    const char *cb_n[] = {"CB/train.jsonl", "CB/val.jsonl", "CB/test.jsonl"};
    const char *cb_c[] = {"{\"premise\": \"a\", \"label\": \"neutral\", \"idx\": 0}\n", "{\"premise\": \"v\", \"idx\": 0}\n", "{}\n"};
    snprintf(p, sizeof p, "%s/superglue/CB.zip", root);
    write_zip(p, cb_n, cb_c, 3);
    pin(SOURCE_SUPERGLUE, "CB.zip", p);
    const char *evil_n[] = {"RTE/train.tsv", "../../evil.txt"};
    const char *evil_c[] = {"x\n", "pwned\n"};
    snprintf(p, sizeof p, "%s/glue/RTE.zip", root);
    write_zip(p, evil_n, evil_c, 2);
    pin(SOURCE_GLUE, "RTE.zip", p);
    const char *wrong_n[] = {"Wrong/train.tsv"};
    const char *wrong_c[] = {"x\n"};
    snprintf(p, sizeof p, "%s/glue/WNLI.zip", root);
    write_zip(p, wrong_n, wrong_c, 1);
    pin(SOURCE_GLUE, "WNLI.zip", p);
    snprintf(p, sizeof p, "%s/glue/STS-B.zip", root);
    write_zip(p, wrong_n, wrong_c, 1); /* left with its real pin: a checksum mismatch */
    /* MRPC: the raw corpus (BOM, CRLF) + dev ids */
    const char *ids = "1000\t1001\n";
    const char *train = "\xef\xbb\xbfQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n"
                        "1\t1000\t1001\tA a.\tB b.\r\n0\t2000\t2001\tC c.\tD d.\r\n";
    const char *test = "\xef\xbb\xbfQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n1\t3000\t3001\tE.\tF.\r\n";
    snprintf(p, sizeof p, "%s/glue/mrpc_dev_ids.tsv", root);
    write_file(p, ids, strlen(ids));
    pin(SOURCE_GLUE, "mrpc_dev_ids.tsv", p);
    snprintf(p, sizeof p, "%s/senteval/msr_paraphrase_train.txt", root);
    write_file(p, train, strlen(train));
    pin(SOURCE_MRPC, "msr_paraphrase_train.txt", p);
    snprintf(p, sizeof p, "%s/senteval/msr_paraphrase_test.txt", root);
    write_file(p, test, strlen(test));
    pin(SOURCE_MRPC, "msr_paraphrase_test.txt", p);

    struct test_server srv;
    if (server_start(&srv, root, 60) != 0) SKIP("cannot start python3 tests/http_server.py");
    setenv("COMPACTER_CACHE", cache, 1);
    unsetenv("COMPACTER_DATA_DIR");
    mirror_dataset_urls(srv.base);
    struct download_opts o = test_opts();
    download_set_defaults(&o);
    long reqs = 0;

    /* GLUE zip -> data/glue/CoLA, junk skipped, archive removed; then a cache hit */
    int rc = ensure_task_data("cola", dir, sizeof dir);
    snprintf(p, sizeof p, "%s/data/glue/CoLA", cache);
    CHECK(rc == 0 && !strcmp(dir, p), "cola -> %s (%s)", dir, error_message());
    snprintf(p, sizeof p, "%s/train.tsv", dir);
    char *s = slurp(p);
    CHECK(s && !strcmp(s, cola_c[1]), "CoLA/train.tsv content");
    snprintf(p, sizeof p, "%s/data/glue/__MACOSX", cache);
    CHECK(!path_is_dir(p), "__MACOSX skipped");
    snprintf(p, sizeof p, "%s/downloads/glue/CoLA.zip", cache);
    CHECK(!path_is_file(p), "archive removed after unpacking");
    rc = ensure_task_data("CoLA", dir, sizeof dir);
    server_stats(&srv, "/glue/CoLA.zip", &reqs, NULL, NULL, 0);
    CHECK(rc == 0 && reqs == 1, "second ensure: %ld requests in all (want 1)", reqs);

    /* QNLIv2.zip unpacks to QNLI/ */
    rc = ensure_task_data("qnli", dir, sizeof dir);
    snprintf(p, sizeof p, "%s/dev.tsv", dir);
    CHECK(rc == 0 && strstr(dir, "/data/glue/QNLI") && path_is_file(p), "qnli: %s (%s)", dir, error_message());

    /* MRPC as download_glue_data.py makes it */
    rc = ensure_task_data("mrpc", dir, sizeof dir);
    CHECK(rc == 0 && strstr(dir, "/data/glue/MRPC"), "mrpc: %s", error_message());
    snprintf(p, sizeof p, "%s/train.tsv", dir);
    s = slurp(p);
    CHECK(s && !strcmp(s, "\xef\xbb\xbfQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n0\t2000\t2001\tC c.\tD d.\n"),
          "MRPC/train.tsv: [%s]", s ? s : "(missing)");
    snprintf(p, sizeof p, "%s/dev.tsv", dir);
    s = slurp(p);
    CHECK(s && !strcmp(s, "\xef\xbb\xbfQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1000\t1001\tA a.\tB b.\n"),
          "MRPC/dev.tsv: [%s]", s ? s : "(missing)");
    snprintf(p, sizeof p, "%s/test.tsv", dir);
    s = slurp(p);
    CHECK(s && !strcmp(s, "index\t#1 ID\t#2 ID\t#1 String\t#2 String\n0\t3000\t3001\tE.\tF.\n"),
          "MRPC/test.tsv: [%s]", s ? s : "(missing)");
    snprintf(p, sizeof p, "%s/dev_ids.tsv", dir);
    CHECK(path_is_file(p), "raw dev_ids kept in MRPC/");

    /* SuperGLUE zip -> data/superglue/CB */
    rc = ensure_task_data("cb", dir, sizeof dir);
    snprintf(p, sizeof p, "%s/val.jsonl", dir);
    s = rc == 0 ? slurp(p) : NULL;
    CHECK(s && !strcmp(s, cb_c[1]) && strstr(dir, "/data/superglue/CB"), "cb: %s (%s)", dir, error_message());

    /* zip-slip refused: nothing placed, nothing outside */
    rc = ensure_task_data("rte", dir, sizeof dir);
    CHECK(rc == -1 && strstr(error_message(), "evil.txt"), "zip slip: %s", error_message());
    snprintf(p, sizeof p, "%s/data/glue/RTE", cache);
    CHECK(!path_is_dir(p), "no RTE folder");
    snprintf(p, sizeof p, "%s/evil.txt", cache);
    CHECK(!path_is_file(p), "nothing written outside");

    /* an archive without the expected top folder */
    rc = ensure_task_data("wnli", dir, sizeof dir);
    CHECK(rc == -1 && strstr(error_message(), "no folder WNLI/"), "wrong layout: %s", error_message());

    /* checksum mismatch: error, nothing in the cache */
    rc = ensure_task_data("stsb", dir, sizeof dir);
    CHECK(rc == -1 && strstr(error_message(), "mismatch"), "mismatch: %s", error_message());
    snprintf(p, sizeof p, "%s/data/glue/STS-B", cache);
    CHECK(!path_is_dir(p), "no STS-B folder");
    snprintf(p, sizeof p, "%s/downloads/glue/STS-B.zip", cache);
    CHECK(!path_is_file(p), "no archive");
    snprintf(p, sizeof p, "%s/downloads/glue/STS-B.zip.part", cache);
    CHECK(!path_is_file(p), "no part");
    /* no leftover temporary folders */
    snprintf(p, sizeof p, "ls -a %s/data/glue | grep -q '^\\.tmp-'", cache);
    CHECK(system(p) != 0, "no .tmp- folders left in data/glue");

    /* unreachable mirror: one message with the URL and where to put the files */
    source_set_mirror(SOURCE_GLUE, "http://127.0.0.1:1/glue");
    rc = ensure_task_data("sst2", dir, sizeof dir);
    CHECK(rc == -1 && strstr(error_message(), "http://127.0.0.1:1/glue/SST-2.zip") &&
              strstr(error_message(), "--data-dir") && strstr(error_message(), "data/glue/SST-2"),
          "offline message: %s", error_message());
    printf("  offline: %s\n", error_message());

    /* --data-dir: a classic glue_data/ folder is used as is */
    char gd[400];
    snprintf(gd, sizeof gd, "%s/glue_data", tmp);
    snprintf(p, sizeof p, "%s/SST-2/train.tsv", gd);
    write_file(p, "sentence\tlabel\n", 15);
    task_data_set_user_dir(gd);
    rc = ensure_task_data("sst2", dir, sizeof dir);
    snprintf(p, sizeof p, "%s/SST-2", gd);
    CHECK(rc == 0 && !strcmp(dir, p), "--data-dir: %s (%s)", dir, error_message());
    task_data_set_user_dir(NULL);

    check_corrupt_entry(tmp);

    server_stop(&srv);
    remove_tree(tmp);
    CHECK_DONE();
}
