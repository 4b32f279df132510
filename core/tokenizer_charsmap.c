/* tokenizer_charsmap.c: the Precompiled normaliser of HF tokenizers: base64 decoding of
 * the sentencepiece charsmap, darts-clone commonPrefixSearch, and the per-grapheme-cluster
 * replacement rule (exact-behaviours.md section 1). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/tokenizer_internal.h"
#include "core/unicode_grapheme.h"

int tok_buf_put(struct tok_buf *b, const void *data, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return error_set("tokenizer: out of memory (%zu bytes)", cap);
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

void tok_buf_free(struct tok_buf *b) {
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

int tok_ids_push(struct tok_ids *v, int32_t id) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 32;
        int32_t *p = realloc(v->p, cap * sizeof *p);
        if (!p) return error_set("tokenizer: out of memory (%zu ids)", cap);
        v->p = p;
        v->cap = cap;
    }
    v->p[v->n++] = id;
    return 0;
}

static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Standard base64 with optional '=' padding; returns malloc'd bytes or NULL (error set). */
static uint8_t *b64_decode(const char *s, size_t *out_len, const char *file) {
    size_t n = strlen(s);
    while (n && s[n - 1] == '=') n--;
    if (n % 4 == 1)
        return error_set("file %s: field normalizer.precompiled_charsmap: bad base64 length", file),
               NULL;
    uint8_t *out = malloc(n / 4 * 3 + 3);
    if (!out) return error_set("file %s: out of memory", file), NULL;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0) {
            free(out);
            return error_set("file %s: field normalizer.precompiled_charsmap: invalid base64 "
                             "character at offset %zu",
                             file, i),
                   NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    *out_len = o;
    return out;
}

int charsmap_init(struct charsmap *cm, const char *b64, const char *file) {
    memset(cm, 0, sizeof *cm);
    size_t len;
    cm->data = b64_decode(b64, &len, file);
    if (!cm->data) return -1;
    if (len < 4) goto bad;
    uint32_t trie_size = (uint32_t)cm->data[0] | (uint32_t)cm->data[1] << 8 |
                         (uint32_t)cm->data[2] << 16 | (uint32_t)cm->data[3] << 24;
    if (trie_size % 4 || trie_size == 0 || (size_t)trie_size > len - 4) goto bad;
    cm->n_units = trie_size / 4;
    cm->units = malloc(cm->n_units * sizeof *cm->units);
    if (!cm->units) {
        charsmap_free(cm);
        return error_set("file %s: out of memory", file);
    }
    const uint8_t *t = cm->data + 4;
    for (size_t i = 0; i < cm->n_units; i++)
        cm->units[i] = (uint32_t)t[4 * i] | (uint32_t)t[4 * i + 1] << 8 |
                       (uint32_t)t[4 * i + 2] << 16 | (uint32_t)t[4 * i + 3] << 24;
    cm->blob = (const char *)cm->data + 4 + trie_size;
    cm->blob_len = len - 4 - trie_size;
    return 0;
bad:
    charsmap_free(cm);
    return error_set("file %s: field normalizer.precompiled_charsmap: corrupt charsmap "
                     "(decoded %zu bytes; bad trie size)",
                     file, len);
}

void charsmap_free(struct charsmap *cm) {
    free(cm->data);
    free(cm->units);
    memset(cm, 0, sizeof *cm);
}

#define DA_HAS_LEAF(u) (((u) >> 8) & 1)
#define DA_VALUE(u) ((u)&0x7FFFFFFFu)
#define DA_LABEL(u) ((u)&0x800000FFu)
#define DA_OFFSET(u) (((u) >> 10) << (((u)&0x200) ? 8 : 0))

size_t charsmap_lookup(const struct charsmap *cm, const char *s, size_t n, const char **out,
                       size_t *out_len) {
    const unsigned char *k = (const unsigned char *)s;
    size_t pos = DA_OFFSET(cm->units[0]);
    for (size_t i = 0; i < n; i++) {
        unsigned c = k[i];
        if (c == 0) return 0;
        pos ^= c;
        if (pos >= cm->n_units) return 0;
        uint32_t unit = cm->units[pos];
        if (DA_LABEL(unit) != c) return 0;
        pos ^= DA_OFFSET(unit);
        if (pos >= cm->n_units) return 0;
        if (DA_HAS_LEAF(unit)) {
            size_t off = DA_VALUE(cm->units[pos]);
            /* A corrupt offset (outside the blob or unterminated) is treated as no match. */
            if (off >= cm->blob_len) return 0;
            const char *end = memchr(cm->blob + off, 0, cm->blob_len - off);
            if (!end) return 0;
            *out = cm->blob + off;
            *out_len = (size_t)(end - (cm->blob + off));
            return i + 1;
        }
    }
    return 0;
}

int charsmap_normalize(const struct charsmap *cm, const char *s, size_t n, struct tok_buf *out) {
    size_t i = 0;
    while (i < n) {
        size_t g = grapheme_next(s + i, n - i);
        const char *rep;
        size_t rep_len;
        if (g < 6 && charsmap_lookup(cm, s + i, g, &rep, &rep_len)) {
            if (tok_buf_put(out, rep, rep_len)) return -1;
        } else {
            /* char by char: each char is looked up alone */
            size_t j = i;
            while (j < i + g) {
                uint32_t cp;
                int len = utf8_decode((const unsigned char *)s + j, i + g - j, &cp);
                if (len <= 0) len = 1;
                size_t m = charsmap_lookup(cm, s + j, (size_t)len, &rep, &rep_len);
                if (m) {
                    if (tok_buf_put(out, rep, rep_len)) return -1;
                } else {
                    if (tok_buf_put(out, s + j, (size_t)len)) return -1;
                }
                j += (size_t)len;
            }
        }
        i += g;
    }
    return 0;
}
