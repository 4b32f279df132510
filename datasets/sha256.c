/* sha256.c: SHA-256 / git blob SHA-1 of buffers and files through libcrypto's EVP API. */
#include "datasets/sha256.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"

static void to_hex(const unsigned char *d, unsigned n, char *hex) {
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[2 * n] = 0;
}

void sha256_hex(const void *data, size_t n, char hex[SHA256_HEX_LEN + 1]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_Digest(data, n, md, &len, EVP_sha256(), NULL);
    to_hex(md, len, hex);
}

/* Digest `prefix` (may be empty) then the file's bytes with `md`. */
static int digest_file(const char *path, const EVP_MD *md, const char *prefix, size_t prefix_len,
                       char *hex, int64_t *size_out) {
    FILE *f = fopen(path, "rb");
    if (!f) return error_set("%s: cannot open for checksum: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, md, NULL)) {
        fclose(f);
        EVP_MD_CTX_free(ctx);
        return error_set("%s: libcrypto digest init failed", path);
    }
    if (prefix_len) EVP_DigestUpdate(ctx, prefix, prefix_len);
    static _Thread_local unsigned char buf[1 << 16];
    int64_t total = 0;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        EVP_DigestUpdate(ctx, buf, n);
        total += (int64_t)n;
    }
    int bad = ferror(f);
    fclose(f);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx, out, &len);
    EVP_MD_CTX_free(ctx);
    if (bad) return error_set("%s: read error while computing checksum", path);
    to_hex(out, len, hex);
    if (size_out) *size_out = total;
    return 0;
}

int sha256_file(const char *path, char hex[SHA256_HEX_LEN + 1], int64_t *size_out) {
    return digest_file(path, EVP_sha256(), "", 0, hex, size_out);
}

int git_blob_sha1_file(const char *path, char hex[SHA1_HEX_LEN + 1]) {
    struct stat st;
    if (stat(path, &st) != 0) return error_set("%s: %s", path, strerror(errno));
    char prefix[64];
    int n = snprintf(prefix, sizeof prefix, "blob %" PRId64, (int64_t)st.st_size);
    return digest_file(path, EVP_sha1(), prefix, (size_t)n + 1, hex, NULL);
}

int is_hex_digest(const char *s, size_t n) {
    if (!s || strlen(s) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i])) return 0;
    return 1;
}
