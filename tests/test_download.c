/* test_download.c: download_file() against tests/http_server.py on 127.0.0.1: a clean
 * transfer then a cache hit, a transfer cut half-way and resumed (in the same call and in
 * a later call), a server ignoring Range, a stale partial file, a checksum mismatch, 404,
 * 503 then success, connection refused, a stalled server, and a full disk (RLIMIT_FSIZE). */
#include <errno.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "core/error.h"
#include "datasets/sha256.h"
#include "tests/check.h"
#include "tests/test_download_server.h"

#define BLOB_SIZE (256 * 1024)

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        close(fd);
        return -1;
    }
    close(fd); /* nobody listens there now */
    return ntohs(a.sin_port);
}

int main(void) {
    char tmp[256], root[300], cache[300], path[512];
    if (scratch_dir(tmp, sizeof tmp, "dl") != 0) SKIP("cannot create a scratch dir in /tmp");
    snprintf(root, sizeof root, "%s/www", tmp);
    snprintf(cache, sizeof cache, "%s/cache", tmp);
    static unsigned char blob[BLOB_SIZE], other[BLOB_SIZE];
    fill_bytes(blob, sizeof blob, 7);
    fill_bytes(other, sizeof other, 8);
    snprintf(path, sizeof path, "%s/files/blob.bin", root);
    CHECK(write_file(path, blob, sizeof blob) == 0, "writing %s", path);
    char sha[65], wrong_sha[65];
    sha256_hex(blob, sizeof blob, sha);
    sha256_hex(other, sizeof other, wrong_sha);

    struct test_server srv;
    if (server_start(&srv, root, 60) != 0) SKIP("cannot start python3 tests/http_server.py");
    struct download_opts o = test_opts();
    struct download_expect ex = {.size = BLOB_SIZE, .sha256 = sha};
    struct download_result r;
    char url[512], dest[512], part[600], range[64];
    long reqs = 0, bytes = 0;

    /* 1. clean download, then a cache hit with no second request */
    snprintf(url, sizeof url, "%s/files/blob.bin", srv.base);
    snprintf(dest, sizeof dest, "%s/a/blob.bin", cache);
    int rc = download_file(url, dest, &ex, &o, &r);
    CHECK(rc == 0, "clean download: %s", error_message());
    CHECK(r.bytes_fetched == BLOB_SIZE && r.requests == 1 && !r.cached, "fetched %lld in %d requests",
          (long long)r.bytes_fetched, r.requests);
    CHECK(!strcmp(r.sha256, sha), "sha %s", r.sha256);
    snprintf(part, sizeof part, "%s.part", dest);
    CHECK(exists(dest) && !exists(part), "dest present, no .part left");
    rc = download_file(url, dest, &ex, &o, &r);
    CHECK(rc == 0 && r.cached && r.requests == 0 && r.bytes_fetched == 0, "second call is a cache hit");
    server_stats(&srv, "/files/blob.bin", &reqs, &bytes, NULL, 0);
    CHECK(reqs == 1 && bytes == BLOB_SIZE, "server saw %ld requests, %ld bytes (want 1, %d)", reqs, bytes, BLOB_SIZE);
    printf("  clean: 1 request, %ld bytes; cache hit: 0 requests\n", bytes);

    /* 2. cut half-way, resumed by the retry in the same call with a Range request */
    snprintf(url, sizeof url, "%s/cut/files/blob.bin", srv.base);
    snprintf(dest, sizeof dest, "%s/b/blob.bin", cache);
    rc = download_file(url, dest, &ex, &o, &r);
    CHECK(rc == 0, "cut+resume: %s", error_message());
    CHECK(r.resumed && r.requests == 2 && r.bytes_fetched == BLOB_SIZE, "resumed=%d requests=%d fetched=%lld",
          r.resumed, r.requests, (long long)r.bytes_fetched);
    server_stats(&srv, "/cut/files/blob.bin", &reqs, &bytes, range, sizeof range);
    char want_range[64];
    snprintf(want_range, sizeof want_range, "bytes=%d-", BLOB_SIZE / 2);
    CHECK(reqs == 2 && bytes == BLOB_SIZE && !strcmp(range, want_range),
          "server: %ld requests, %ld bytes, last Range '%s' (want 2, %d, '%s')", reqs, bytes, range,
          BLOB_SIZE, want_range);
    printf("  cut: 2 requests, second '%s', %ld bytes total\n", range, bytes);

    /* 3. cut with no retries: the call fails, keeps the part; the next call resumes it */
    struct download_opts o0 = o;
    o0.retries = 0;
    snprintf(dest, sizeof dest, "%s/c/blob.bin", cache);
    snprintf(part, sizeof part, "%s.part", dest);
    rc = download_file(url, dest, &ex, &o0, &r);
    struct stat st;
    CHECK(rc == -1 && strstr(error_message(), "kept for resuming"), "interrupted: %s", error_message());
    CHECK(!exists(dest) && stat(part, &st) == 0 && st.st_size == BLOB_SIZE / 2, "half a part kept");
    rc = download_file(url, dest, &ex, &o0, &r);
    CHECK(rc == 0 && r.resumed && r.bytes_fetched == BLOB_SIZE - BLOB_SIZE / 2,
          "resumed in a later call: rc %d fetched %lld (%s)", rc, (long long)r.bytes_fetched, error_message());
    CHECK(exists(dest) && !exists(part), "complete after resume");

    /* 4. a server that ignores Range: the part is restarted from zero */
    snprintf(url, sizeof url, "%s/norange/files/blob.bin", srv.base);
    snprintf(dest, sizeof dest, "%s/d/blob.bin", cache);
    snprintf(part, sizeof part, "%s.part", dest);
    write_file(part, blob, 1000);
    rc = download_file(url, dest, &ex, &o, &r);
    CHECK(rc == 0 && r.bytes_fetched == BLOB_SIZE, "norange: rc %d fetched %lld (%s)", rc,
          (long long)r.bytes_fetched, error_message());

    /* 5. a stale part of another file: resumed, fails verification, restarted once */
    snprintf(url, sizeof url, "%s/files/blob.bin", srv.base);
    snprintf(dest, sizeof dest, "%s/e/blob.bin", cache);
    snprintf(part, sizeof part, "%s.part", dest);
    write_file(part, other, 5000);
    rc = download_file(url, dest, &ex, &o, &r);
    CHECK(rc == 0 && r.requests == 2 && r.bytes_fetched == BLOB_SIZE - 5000 + BLOB_SIZE,
          "stale part: rc %d requests %d fetched %lld (%s)", rc, r.requests, (long long)r.bytes_fetched,
          error_message());

    /* 6. checksum mismatch: error, nothing left */
    snprintf(dest, sizeof dest, "%s/f/blob.bin", cache);
    snprintf(part, sizeof part, "%s.part", dest);
    struct download_expect bad = {.size = BLOB_SIZE, .sha256 = wrong_sha};
    rc = download_file(url, dest, &bad, &o, &r);
    CHECK(rc == -1 && strstr(error_message(), "sha256 mismatch") && strstr(error_message(), wrong_sha),
          "mismatch: %s", error_message());
    CHECK(!exists(dest) && !exists(part), "nothing kept after a mismatch");
    struct download_expect bad_size = {.size = BLOB_SIZE + 1, .sha256 = sha};
    rc = download_file(url, dest, &bad_size, &o, &r);
    CHECK(rc == -1 && strstr(error_message(), "size mismatch"), "size: %s", error_message());
    CHECK(!exists(dest) && !exists(part), "nothing kept after a size mismatch");

    /* 7. 404: one request (not retried), a message naming the URL */
    snprintf(url, sizeof url, "%s/files/missing.bin", srv.base);
    snprintf(dest, sizeof dest, "%s/g/missing.bin", cache);
    snprintf(part, sizeof part, "%s.part", dest);
    rc = download_file(url, dest, &ex, &o, &r);
    CHECK(rc == -1 && strstr(error_message(), "404") && strstr(error_message(), url), "404: %s", error_message());
    CHECK(r.requests == 1 && !exists(dest) && !exists(part), "404 not retried, nothing left");

    /* 8. 503 once, then success after a backoff */
    snprintf(url, sizeof url, "%s/flaky/files/blob.bin", srv.base);
    snprintf(dest, sizeof dest, "%s/h/blob.bin", cache);
    rc = download_file(url, dest, &ex, &o, &r);
    CHECK(rc == 0 && r.requests == 2, "flaky: rc %d requests %d (%s)", rc, r.requests, error_message());

    /* 9. connection refused: retried, then a clear error */
    int port = free_port();
    snprintf(url, sizeof url, "http://127.0.0.1:%d/blob.bin", port);
    snprintf(dest, sizeof dest, "%s/i/blob.bin", cache);
    double t0 = now_s();
    rc = download_file(url, dest, &ex, &o, &r);
    double dt = now_s() - t0;
    CHECK(rc == -1 && r.requests == 3 && strstr(error_message(), "3 attempts") && strstr(error_message(), url),
          "refused: %d requests: %s", r.requests, error_message());
    CHECK(!exists(dest), "nothing after refused");
    printf("  refused: %d attempts in %.2fs: %s\n", r.requests, dt, error_message());

    /* 10. a stalled server: the stall timeout ends it */
    snprintf(url, sizeof url, "%s/stall/files/blob.bin", srv.base);
    snprintf(dest, sizeof dest, "%s/j/blob.bin", cache);
    t0 = now_s();
    rc = download_file(url, dest, &ex, &o0, &r);
    dt = now_s() - t0;
    CHECK(rc == -1 && strstr(error_message(), "stalled"), "stall: %s", error_message());
    CHECK(dt < 5.0 && !exists(dest), "stall aborted after %.2fs (stall timeout 1 s)", dt);
    printf("  stall: aborted after %.2fs: %s\n", dt, error_message());

    /* 11. a full disk: in a child with RLIMIT_FSIZE = 64 KiB */
    snprintf(url, sizeof url, "%s/files/blob.bin", srv.base);
    snprintf(dest, sizeof dest, "%s/k/blob.bin", cache);
    snprintf(part, sizeof part, "%s.part", dest);
    mkdir_p(cache);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim = {64 * 1024, 64 * 1024};
        setrlimit(RLIMIT_FSIZE, &lim);
        int c = download_file(url, dest, &ex, &o, NULL);
        int full = strstr(error_message(), "File too large") || strstr(error_message(), "No space");
        fprintf(stderr, "  full disk child: %s\n", error_message());
        _exit(c == -1 && full ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "full disk: child status %d", status);
    CHECK(!exists(dest) && !exists(part), "nothing half-written after a write failure");

    /* 12. small GET into memory, and its 404 */
    char *body = NULL;
    size_t len = 0;
    long code = 0;
    snprintf(url, sizeof url, "%s/files/blob.bin", srv.base);
    rc = download_to_memory(url, &o, &body, &len, &code);
    CHECK(rc == 0 && len == BLOB_SIZE && code == 200 && !memcmp(body, blob, len), "to_memory");
    free(body);
    snprintf(url, sizeof url, "%s/files/nothing", srv.base);
    rc = download_to_memory(url, &o, &body, &len, &code);
    CHECK(rc == -1 && code == 404, "to_memory 404: %s", error_message());

    server_stop(&srv);
    remove_tree(tmp);
    CHECK_DONE();
}
