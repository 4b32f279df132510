/* tokenizer_internal.h: pieces shared by the tokenizer's files (not a public API):
 * a growable byte buffer, the Precompiled charsmap normaliser (tokenizer_charsmap.c) and
 * the unigram vocabulary trie + Viterbi (tokenizer_unigram.c). */
#ifndef COMPACTER_TOKENIZER_INTERNAL_H
#define COMPACTER_TOKENIZER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* ---- growable buffers (return -1 with error set on allocation failure) ---- */
struct tok_buf {
    char *p;
    size_t n, cap;
};
int tok_buf_put(struct tok_buf *b, const void *data, size_t n);
void tok_buf_free(struct tok_buf *b);

struct tok_ids {
    int32_t *p;
    size_t n, cap;
};
int tok_ids_push(struct tok_ids *v, int32_t id);

/* ---- Precompiled charsmap (sentencepiece darts-clone trie + replacement blob) ---- */
struct charsmap {
    uint8_t *data;   /* the decoded base64 (owned) */
    uint32_t *units; /* the double-array units in host order (owned) */
    size_t n_units;
    const char *blob; /* into data: the normalised strings, each NUL-terminated */
    size_t blob_len;
};
/* Decode `b64` (the tokenizer.json field precompiled_charsmap). Errors name `file`. */
int charsmap_init(struct charsmap *cm, const char *b64, const char *file);
void charsmap_free(struct charsmap *cm);
/* Replacement of the shortest key that is a prefix of s[0..n): sets *out, *out_len and
 * returns the key length, or 0 when no key is a prefix. */
size_t charsmap_lookup(const struct charsmap *cm, const char *s, size_t n, const char **out,
                       size_t *out_len);
/* The HF Precompiled normaliser on s[0..n) (valid UTF-8), appended to out. */
int charsmap_normalize(const struct charsmap *cm, const char *s, size_t n, struct tok_buf *out);

/* ---- unigram model ---- */
struct vocab_trie_node {
    int32_t id;       /* piece id ending here, or -1 */
    uint32_t edge0;   /* first edge index */
    uint32_t n_edges; /* edges sorted by byte */
};
struct vocab_trie_edge {
    uint8_t byte;
    uint32_t child;
};
struct unigram {
    size_t n_vocab;
    char **pieces; /* NUL-terminated copies */
    size_t *piece_len;
    double *scores;
    int32_t unk_id;
    double unk_score; /* min score - 10 */
    struct vocab_trie_node *nodes;
    size_t n_nodes;
    struct vocab_trie_edge *edges;
    size_t n_edges;
    int32_t root_child[256]; /* node index of each first byte, or -1 */
};
/* Build the trie over pieces already stored in u (pieces, piece_len, scores, unk_id). */
int unigram_build(struct unigram *u, const char *file);
void unigram_free(struct unigram *u);
/* Id of the piece exactly equal to s[0..n), or -1. */
int32_t unigram_piece_id(const struct unigram *u, const char *s, size_t n);
/* Viterbi-segment one pre-tokenised word and append its ids (unknowns fused, HF rules). */
int unigram_encode_word(const struct unigram *u, const char *w, size_t n, struct tok_ids *out);

#endif
