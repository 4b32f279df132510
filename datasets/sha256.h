/* sha256.h: file and buffer digests used to verify downloads (a thin wrapper over
 * OpenSSL's libcrypto, which libcurl already loads): SHA-256, and the git blob SHA-1 the
 * Hugging Face hub reports as the ETag of small (non-LFS) files. Digests are lower-case
 * hex strings. */
#ifndef COMPACTER_SHA256_H
#define COMPACTER_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_HEX_LEN 64
#define SHA1_HEX_LEN 40

/* SHA-256 of a buffer into hex[65]. */
void sha256_hex(const void *data, size_t n, char hex[SHA256_HEX_LEN + 1]);
/* SHA-256 of a whole file into hex[65]; *size_out (if not NULL) gets its size.
 * Returns 0, or -1 with the error naming the file. */
int sha256_file(const char *path, char hex[SHA256_HEX_LEN + 1], int64_t *size_out);
/* git's blob id of a file: SHA-1 of "blob <size>\0" + content, into hex[41]. */
int git_blob_sha1_file(const char *path, char hex[SHA1_HEX_LEN + 1]);
/* 1 when s is exactly n lower- or upper-case hex digits. */
int is_hex_digest(const char *s, size_t n);

#endif
