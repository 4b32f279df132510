/* download.h: fetch one URL into one file with libcurl: resume with HTTP Range after an
 * interruption (in this run or a previous one: the bytes so far live in "<dest>.part"),
 * retries with exponential backoff on transient failures, a stall timeout, verification
 * against an expected size / SHA-256 / git blob SHA-1, then fsync + rename so that <dest>
 * only ever exists complete and verified. Nothing is printed; progress goes to an optional
 * callback (datasets/download_progress.h has a terminal bar). */
#ifndef COMPACTER_DOWNLOAD_H
#define COMPACTER_DOWNLOAD_H

#include <stddef.h>
#include <stdint.h>

/* done/total in bytes of the whole file (total -1 when unknown); final=1 on the last call. */
typedef void (*download_progress_fn)(void *user, const char *label, int64_t done, int64_t total,
                                     int final);

struct download_opts {
    long connect_timeout_s; /* TCP/TLS connect limit */
    long stall_timeout_s;   /* abort a transfer that moves < 1 byte/s for this long */
    int retries;            /* further attempts after a transient failure */
    long backoff_ms;        /* wait before the first retry, doubled each time (capped at 30 s) */
    download_progress_fn progress;
    void *progress_user;
};

/* What the file must be. size -1 / NULL digests: not checked. With headers_give_digest the
 * digest may instead come from the response headers: X-Linked-Etag (the hub's LFS
 * sha256), X-Linked-Size, else an ETag that is 64 hex (sha256) or 40 hex (git blob sha1). */
struct download_expect {
    int64_t size;
    const char *sha256;
    const char *git_sha1;
    int headers_give_digest;
    int require_digest; /* fail when no digest is known from either source */
};

struct download_result {
    int cached;            /* dest already existed: nothing fetched */
    int requests;          /* HTTP requests made (redirect hops not counted) */
    int resumed;           /* a Range request continued a partial file */
    int64_t bytes_fetched; /* body bytes received over the network */
    int64_t size;          /* final size */
    char sha256[65];       /* of the final file (when it was fetched now) */
    long http_status;      /* of the last response */
};

/* Defaults: connect 15 s, stall 30 s, 4 retries, 1000 ms backoff, no progress; each may be
 * overridden from the environment: COMPACTER_CONNECT_TIMEOUT, COMPACTER_DOWNLOAD_TIMEOUT
 * (stall seconds), COMPACTER_DOWNLOAD_RETRIES, COMPACTER_DOWNLOAD_BACKOFF_MS. */
struct download_opts download_opts_default(void);
/* Process-wide options used by the ensure_*() helpers (the CLI sets its flags here). */
void download_set_defaults(const struct download_opts *o);
const struct download_opts *download_defaults(void);

/* Fetch url into dest. If dest exists (with the expected size, when known) it is a cache
 * hit. Returns 0, or -1 with an error naming the URL and what went wrong; on a failed
 * verification or a local write error nothing is left behind; after a network failure the
 * partial "<dest>.part" is kept so the next call resumes it. res may be NULL. */
int download_file(const char *url, const char *dest, const struct download_expect *expect,
                  const struct download_opts *opts, struct download_result *res);

/* GET url into a malloc'd NUL-terminated buffer (for small JSON answers), with the same
 * retry policy. *http_status gets the final status. Returns 0 or -1. */
int download_to_memory(const char *url, const struct download_opts *opts, char **body,
                       size_t *len, long *http_status);

#endif
