/* tokenizer_unigram.c: the SentencePiece unigram model as HF tokenizers runs it
 * (models/unigram "optimized" encode): a byte trie over the vocabulary, a Viterbi pass
 * with f64 scores and HF's tie rules, unknown chars scored min-10 and fused
 * (exact-behaviours.md section 3). Read-only after unigram_build, so thread-safe. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/tokenizer_internal.h"
#include "core/unicode_grapheme.h"

/* Build-time trie: first-child / next-sibling lists, compacted afterwards. */
struct build_node {
    int32_t id;
    int32_t child, sibling;
    uint8_t byte;
};

int unigram_build(struct unigram *u, const char *file) {
    size_t cap = 1024, n = 1;
    struct build_node *b = malloc(cap * sizeof *b);
    if (!b) return error_set("file %s: out of memory", file);
    b[0] = (struct build_node){-1, -1, -1, 0};
    double min_score = 0;
    for (size_t i = 0; i < u->n_vocab; i++) {
        if (i == 0 || u->scores[i] < min_score) min_score = u->scores[i];
        const unsigned char *p = (const unsigned char *)u->pieces[i];
        int32_t node = 0;
        for (size_t k = 0; k < u->piece_len[i]; k++) {
            int32_t *link = &b[node].child;
            while (*link >= 0 && b[*link].byte < p[k]) link = &b[*link].sibling;
            if (*link < 0 || b[*link].byte != p[k]) {
                if (n == cap) {
                    /* link points into the array: keep it as an offset across realloc */
                    size_t off = (size_t)((char *)link - (char *)b);
                    cap *= 2;
                    struct build_node *nb = realloc(b, cap * sizeof *b);
                    if (!nb) {
                        free(b);
                        return error_set("file %s: out of memory", file);
                    }
                    b = nb;
                    link = (int32_t *)((char *)b + off);
                }
                b[n] = (struct build_node){-1, -1, *link, p[k]};
                *link = (int32_t)n++;
            }
            node = *link;
        }
        b[node].id = (int32_t)i; /* a later duplicate wins, as in HF's token->id map */
    }
    /* A piece that is the empty string cannot be matched by HF either: ignore it. */
    b[0].id = -1;
    u->unk_score = min_score - 10.0;
    u->nodes = malloc(n * sizeof *u->nodes);
    u->edges = malloc((n ? n - 1 : 0) * sizeof *u->edges + 1);
    if (!u->nodes || !u->edges) {
        free(b);
        return error_set("file %s: out of memory", file);
    }
    /* Node numbers are kept; edges of a node are laid out contiguously, already sorted. */
    size_t e = 0;
    for (size_t i = 0; i < n; i++) {
        u->nodes[i].id = b[i].id;
        u->nodes[i].edge0 = (uint32_t)e;
        uint32_t k = 0;
        for (int32_t c = b[i].child; c >= 0; c = b[c].sibling, k++)
            u->edges[e++] = (struct vocab_trie_edge){b[c].byte, (uint32_t)c};
        u->nodes[i].n_edges = k;
    }
    u->n_nodes = n;
    u->n_edges = e;
    for (int c = 0; c < 256; c++) u->root_child[c] = -1;
    for (uint32_t k = 0; k < u->nodes[0].n_edges; k++)
        u->root_child[u->edges[k].byte] = (int32_t)u->edges[k].child;
    free(b);
    return 0;
}

void unigram_free(struct unigram *u) {
    if (u->pieces)
        for (size_t i = 0; i < u->n_vocab; i++) free(u->pieces[i]);
    free(u->pieces);
    free(u->piece_len);
    free(u->scores);
    free(u->nodes);
    free(u->edges);
    memset(u, 0, sizeof *u);
}

/* Child of node for byte c, or -1. */
static inline int32_t trie_step(const struct unigram *u, int32_t node, unsigned char c) {
    if (node == 0) return u->root_child[c];
    const struct vocab_trie_edge *e = u->edges + u->nodes[node].edge0;
    uint32_t lo = 0, hi = u->nodes[node].n_edges;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (e[mid].byte < c)
            lo = mid + 1;
        else if (e[mid].byte > c)
            hi = mid;
        else
            return (int32_t)e[mid].child;
    }
    return -1;
}

int32_t unigram_piece_id(const struct unigram *u, const char *s, size_t n) {
    int32_t node = 0;
    for (size_t i = 0; i < n && node >= 0; i++) node = trie_step(u, node, (unsigned char)s[i]);
    return node > 0 ? u->nodes[node].id : -1;
}

struct lattice_node {
    double score;
    size_t start; /* SIZE_MAX: not reached */
    int32_t id;
};

int unigram_encode_word(const struct unigram *u, const char *w, size_t n, struct tok_ids *out) {
    if (n == 0) return 0;
    struct lattice_node *best = malloc((n + 1) * sizeof *best);
    if (!best) return error_set("tokenizer: out of memory (word of %zu bytes)", n);
    for (size_t i = 0; i <= n; i++) best[i] = (struct lattice_node){0.0, SIZE_MAX, -1};
    const unsigned char *s = (const unsigned char *)w;
    size_t pos = 0;
    while (pos < n) {
        uint32_t cp;
        int mb = utf8_decode(s + pos, n - pos, &cp);
        if (mb <= 0) mb = 1;
        double here = best[pos].score;
        int has_single = 0;
        int32_t node = 0;
        for (size_t k = pos; k < n; k++) {
            node = trie_step(u, node, s[k]);
            if (node < 0) break;
            int32_t id = u->nodes[node].id;
            if (id < 0) continue;
            size_t end = k + 1;
            double cand = u->scores[id] + here;
            if (best[end].start == SIZE_MAX || cand > best[end].score)
                best[end] = (struct lattice_node){cand, pos, id};
            if (end - pos == (size_t)mb) has_single = 1;
        }
        if (!has_single) {
            size_t end = pos + (size_t)mb;
            double cand = u->unk_score + here;
            if (best[end].start == SIZE_MAX || cand > best[end].score)
                best[end] = (struct lattice_node){cand, pos, u->unk_id};
        }
        pos += (size_t)mb;
    }
    /* Backtrack; runs of unk nodes are fused into one string, then looked up. */
    size_t first = out->n;
    size_t end = n, unk_end = SIZE_MAX;
    int rc = 0;
    while (end > 0) {
        const struct lattice_node *nd = &best[end];
        size_t start = nd->start;
        if (nd->id == u->unk_id) {
            if (unk_end == SIZE_MAX) unk_end = end;
        } else {
            if (unk_end != SIZE_MAX) {
                int32_t id = unigram_piece_id(u, w + end, unk_end - end);
                if ((rc = tok_ids_push(out, id >= 0 ? id : u->unk_id))) break;
                unk_end = SIZE_MAX;
            }
            if ((rc = tok_ids_push(out, nd->id))) break;
        }
        end = start;
    }
    if (!rc && unk_end != SIZE_MAX) {
        int32_t id = unigram_piece_id(u, w, unk_end);
        rc = tok_ids_push(out, id >= 0 ? id : u->unk_id);
    }
    free(best);
    if (rc) return -1;
    /* ids were pushed last-first */
    for (size_t i = first, j = out->n - 1; i < j; i++, j--) {
        int32_t t = out->p[i];
        out->p[i] = out->p[j];
        out->p[j] = t;
    }
    return 0;
}
