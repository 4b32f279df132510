/* download.c: one URL -> one verified file, with libcurl (resume, retries, stall timeout,
 * checksum, atomic rename). See download.h for the contract. */
#include "datasets/download.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "datasets/cache.h"
#include "datasets/sha256.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static long env_long(const char *name, long def) {
    const char *v = getenv(name);
    if (!v || !*v) return def;
    char *end;
    long x = strtol(v, &end, 10);
    return (*end == 0 && x >= 0) ? x : def;
}

struct download_opts download_opts_default(void) {
    struct download_opts o = {0};
    o.connect_timeout_s = env_long("COMPACTER_CONNECT_TIMEOUT", 15);
    o.stall_timeout_s = env_long("COMPACTER_DOWNLOAD_TIMEOUT", 30);
    o.retries = (int)env_long("COMPACTER_DOWNLOAD_RETRIES", 4);
    o.backoff_ms = env_long("COMPACTER_DOWNLOAD_BACKOFF_MS", 1000);
    return o;
}

static struct download_opts g_defaults;
static int g_defaults_set = 0;

void download_set_defaults(const struct download_opts *o) {
    g_defaults = *o;
    g_defaults_set = 1;
}

const struct download_opts *download_defaults(void) {
    if (!g_defaults_set) {
        g_defaults = download_opts_default();
        g_defaults_set = 1;
    }
    return &g_defaults;
}

/* ---- one transfer ---------------------------------------------------------------- */

struct xfer {
    CURL *curl;
    const char *label;
    int fd;            /* file sink, or -1 for memory */
    char *mem;         /* memory sink */
    size_t mem_len, mem_cap;
    int64_t offset;    /* bytes already in the file when the request started */
    int64_t received;  /* body bytes received in this request */
    int write_errno;   /* local write failure */
    int bad_status;    /* response status not 200/206: body discarded */
    long status;       /* HTTP status of the final response */
    int stalled;       /* aborted: no byte for stall_timeout_s */
    curl_off_t last_bytes;
    double last_change;
    int restarted;     /* asked for a range, got the whole file: truncated */
    /* response headers (the redirect hop's X-Linked-* are kept across hops) */
    char etag[160], linked_etag[160];
    int64_t linked_size;
    const struct download_opts *opts;
};

static void header_value(const char *line, size_t n, char *out, size_t cap) {
    const char *colon = memchr(line, ':', n);
    if (!colon) return;
    const char *v = colon + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
    /* strip W/ and quotes of an ETag */
    if (end - v >= 2 && v[0] == 'W' && v[1] == '/') v += 2;
    if (end > v && *v == '"') v++;
    if (end > v && end[-1] == '"') end--;
    size_t len = (size_t)(end - v);
    if (len >= cap) len = cap - 1;
    memcpy(out, v, len);
    out[len] = 0;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud) {
    struct xfer *x = ud;
    size_t n = size * nitems;
    if (n >= 5 && !strncmp(buf, "HTTP/", 5)) x->etag[0] = 0; /* a new response */
    else if (n > 14 && !strncasecmp(buf, "x-linked-etag:", 14))
        header_value(buf, n, x->linked_etag, sizeof x->linked_etag);
    else if (n > 14 && !strncasecmp(buf, "x-linked-size:", 14)) {
        char v[64] = "";
        header_value(buf, n, v, sizeof v);
        x->linked_size = strtoll(v, NULL, 10);
    } else if (n > 5 && !strncasecmp(buf, "etag:", 5))
        header_value(buf, n, x->etag, sizeof x->etag);
    return n;
}

static int write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static size_t on_body(char *buf, size_t size, size_t nmemb, void *ud) {
    struct xfer *x = ud;
    size_t n = size * nmemb;
    if (x->received == 0 && !x->bad_status) {
        long code = 0;
        curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
        if (code != 200 && code != 206) x->bad_status = 1;
        else if (code == 200 && x->offset > 0 && x->fd >= 0) {
            /* the server ignored our Range: start the file over */
            if (ftruncate(x->fd, 0) != 0 || lseek(x->fd, 0, SEEK_SET) != 0) {
                x->write_errno = errno;
                return 0;
            }
            x->offset = 0;
            x->restarted = 1;
        }
    }
    if (x->bad_status) return n; /* an error page: discard */
    if (x->fd >= 0) {
        if (write_all(x->fd, buf, n) != 0) {
            x->write_errno = errno ? errno : EIO;
            return 0;
        }
    } else {
        if (x->mem_len + n + 1 > x->mem_cap) {
            size_t cap = x->mem_cap ? x->mem_cap : 4096;
            while (cap < x->mem_len + n + 1) cap *= 2;
            char *m = realloc(x->mem, cap);
            if (!m) {
                x->write_errno = ENOMEM;
                return 0;
            }
            x->mem = m;
            x->mem_cap = cap;
        }
        memcpy(x->mem + x->mem_len, buf, n);
        x->mem_len += n;
        x->mem[x->mem_len] = 0;
    }
    x->received += (int64_t)n;
    return n;
}

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* libcurl calls this at least about once a second, also while nothing arrives; its own
 * low-speed check averages over a multi-second window, so the stall timeout lives here. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
    struct xfer *x = ud;
    double t = mono_s();
    if (dlnow != x->last_bytes) {
        x->last_bytes = dlnow;
        x->last_change = t;
    } else if (x->opts->stall_timeout_s > 0 && t - x->last_change >= (double)x->opts->stall_timeout_s) {
        x->stalled = 1;
        return 1;
    }
    if (x->opts->progress && !x->bad_status)
        x->opts->progress(x->opts->progress_user, x->label, x->offset + dlnow,
                          dltotal > 0 ? x->offset + dltotal : -1, 0);
    return 0;
}

/* Perform one request; returns the curl code. */
static CURLcode perform(struct xfer *x, const char *url, int64_t from) {
    CURL *c = curl_easy_init();
    if (!c) return CURLE_FAILED_INIT;
    x->curl = c;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "compacter/0.1 (libcurl)");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, x->opts->connect_timeout_s);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "identity");
    char range[48];
    if (from > 0) {
        /* CURLOPT_RANGE rather than RESUME_FROM: a server that ignores it answers 200 and
         * on_body starts the file over instead of libcurl failing the transfer */
        snprintf(range, sizeof range, "%" PRId64 "-", from);
        curl_easy_setopt(c, CURLOPT_RANGE, range);
    }
    x->last_bytes = -1;
    x->last_change = mono_s();
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->status);
    curl_easy_cleanup(c);
    x->curl = NULL;
    return rc;
}

static int transient_curl(CURLcode rc) {
    switch (rc) {
    case CURLE_ABORTED_BY_CALLBACK: /* only the stall check aborts */
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
        return 1;
    default:
        return 0;
    }
}

static int transient_status(long code) { return code == 408 || code == 429 || code >= 500; }

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static const char *status_words(long code) {
    switch (code) {
    case 401: return "unauthorized (gated or private?)";
    case 403: return "forbidden";
    case 404: return "not found";
    case 410: return "gone";
    case 416: return "range not satisfiable";
    case 429: return "too many requests";
    default: return code >= 500 ? "server error" : "unexpected status";
    }
}

static int64_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

/* Compare the finished part file with what is expected. 0 ok, 1 mismatch (message set),
 * -1 error. */
static int verify(const char *url, const char *part, const struct download_expect *e,
                  const struct xfer *x, struct download_result *res) {
    char hex[65];
    int64_t size;
    if (sha256_file(part, hex, &size) != 0) return -1;
    memcpy(res->sha256, hex, sizeof hex);
    res->size = size;
    int64_t want_size = e ? e->size : -1;
    const char *want_sha = e ? e->sha256 : NULL, *want_git = e ? e->git_sha1 : NULL;
    if (e && e->headers_give_digest) {
        if (want_size < 0 && x->linked_size > 0) want_size = x->linked_size;
        if (!want_sha && !want_git) {
            if (is_hex_digest(x->linked_etag, 64)) want_sha = x->linked_etag;
            else if (is_hex_digest(x->etag, 64)) want_sha = x->etag;
            else if (is_hex_digest(x->etag, 40)) want_git = x->etag;
        }
    }
    if (want_size >= 0 && size != want_size) {
        error_set("%s: size mismatch: expected %" PRId64 " bytes, got %" PRId64, url, want_size, size);
        return 1;
    }
    if (want_sha && strcasecmp(want_sha, hex) != 0) {
        error_set("%s: sha256 mismatch: expected %s, got %s", url, want_sha, hex);
        return 1;
    }
    if (want_git) {
        char g[41];
        if (git_blob_sha1_file(part, g) != 0) return -1;
        if (strcasecmp(want_git, g) != 0) {
            error_set("%s: git blob sha1 mismatch: expected %s, got %s", url, want_git, g);
            return 1;
        }
    }
    if (e && e->require_digest && !want_sha && !want_git) {
        error_set("%s: no checksum to verify against (no pin, no X-Linked-Etag / sha ETag)", url);
        return 1;
    }
    return 0;
}

int download_file(const char *url, const char *dest, const struct download_expect *expect,
                  const struct download_opts *opts, struct download_result *res_out) {
    pthread_once(&curl_once, curl_init_once);
    struct download_result res_local;
    struct download_result *res = res_out ? res_out : &res_local;
    memset(res, 0, sizeof *res);
    if (!opts) opts = download_defaults();
    const int64_t want_size = expect ? expect->size : -1;

    int64_t have = file_size(dest);
    if (have >= 0 && (want_size < 0 || have == want_size)) {
        res->cached = 1;
        res->size = have;
        return 0;
    }
    char dir[4096], part[4200];
    snprintf(dir, sizeof dir, "%s", dest);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        if (mkdir_p(dir) != 0) return -1;
    }
    snprintf(part, sizeof part, "%s.part", dest);
    const char *label = strrchr(dest, '/') ? strrchr(dest, '/') + 1 : dest;

    int may_restart = file_size(part) > 0; /* a part left by an earlier run */
    long backoff = opts->backoff_ms;
    for (int attempt = 0;; attempt++) {
        int64_t offset = file_size(part);
        if (offset < 0) offset = 0;
        if (want_size >= 0 && offset > want_size) {
            unlink(part);
            offset = 0;
        }
        struct xfer x = {0};
        x.fd = -1;
        x.label = label;
        x.opts = opts;
        x.linked_size = -1;
        int whole = want_size > 0 && offset == want_size; /* nothing left to fetch */
        if (!whole) {
            x.fd = open(part, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (x.fd < 0) return error_set("cannot create %s: %s", part, strerror(errno));
            x.offset = offset;
            res->requests++;
            if (offset > 0) res->resumed = 1;
            CURLcode rc = perform(&x, url, offset);
            if (close(x.fd) != 0 && !x.write_errno) x.write_errno = errno;
            res->bytes_fetched += x.received;
            res->http_status = x.status;
            if (x.write_errno) {
                unlink(part);
                return error_set("writing %s (from %s): %s; the partial file was removed", part,
                                 url, strerror(x.write_errno));
            }
            int ok_status = x.status == 200 || x.status == 206;
            if (!(rc == CURLE_OK && ok_status) && !(x.status == 416 && offset > 0)) {
                char why[512];
                int transient;
                if (rc == CURLE_OK || (x.status >= 300 && !ok_status)) {
                    transient = transient_status(x.status);
                    snprintf(why, sizeof why, "HTTP %ld %s", x.status, status_words(x.status));
                } else if (x.stalled) {
                    transient = 1;
                    snprintf(why, sizeof why, "stalled: no data for %ld s (timeout; see --timeout)",
                             opts->stall_timeout_s);
                } else {
                    transient = transient_curl(rc);
                    snprintf(why, sizeof why, "%s", curl_easy_strerror(rc));
                }
                if (!transient) unlink(part);
                if (transient && attempt < opts->retries) {
                    sleep_ms(backoff);
                    backoff = backoff * 2 > 30000 ? 30000 : backoff * 2;
                    continue;
                }
                int64_t kept = file_size(part);
                if (kept == 0) unlink(part);
                return error_set("could not fetch %s: %s (after %d attempt%s)%s", url, why,
                                 attempt + 1, attempt ? "s" : "",
                                 kept > 0 ? "; the partial download is kept for resuming" : "");
            }
            /* 416 on a resumed request: the part may already be whole; verify it */
        }
        int v = verify(url, part, expect, &x, res);
        if (v == 0) {
            if (opts->progress) opts->progress(opts->progress_user, label, res->size, res->size, 1);
            return file_commit(part, dest);
        }
        unlink(part);
        if (v < 0) return -1;
        if (may_restart && offset > 0) {
            /* the old part may belong to another version of the file: start over once */
            may_restart = 0;
            continue;
        }
        return error_wrap("verification failed, nothing was kept: ");
    }
}

int download_to_memory(const char *url, const struct download_opts *opts, char **body, size_t *len,
                       long *http_status) {
    pthread_once(&curl_once, curl_init_once);
    if (!opts) opts = download_defaults();
    long backoff = opts->backoff_ms;
    *body = NULL;
    if (len) *len = 0;
    for (int attempt = 0;; attempt++) {
        struct xfer x = {0};
        x.fd = -1;
        x.label = url;
        struct download_opts quiet = *opts;
        quiet.progress = NULL;
        x.opts = &quiet;
        CURLcode rc = perform(&x, url, 0);
        if (http_status) *http_status = x.status;
        char why[256];
        int transient;
        if (rc == CURLE_OK && x.status == 200) {
            if (!x.mem) x.mem = calloc(1, 1);
            *body = x.mem;
            if (len) *len = x.mem_len;
            return 0;
        }
        free(x.mem);
        if (rc == CURLE_OK) {
            transient = transient_status(x.status);
            snprintf(why, sizeof why, "HTTP %ld %s", x.status, status_words(x.status));
        } else if (x.stalled) {
            transient = 1;
            snprintf(why, sizeof why, "stalled: no data for %ld s (timeout)", opts->stall_timeout_s);
        } else {
            transient = transient_curl(rc);
            snprintf(why, sizeof why, "%s", curl_easy_strerror(rc));
        }
        if (transient && attempt < opts->retries) {
            sleep_ms(backoff);
            backoff = backoff * 2 > 30000 ? 30000 : backoff * 2;
            continue;
        }
        return error_set("could not fetch %s: %s (after %d attempt%s)", url, why, attempt + 1,
                         attempt ? "s" : "");
    }
}
