/* seq2seq_data.c: example storage, JSONL loading and batch padding. */
#include "experiments/seq2seq_data.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/tokenizer.h"

int seq2seq_add(struct seq2seq_data *d, const int32_t *src, int src_len, const int32_t *tgt, int tgt_len) {
    if (d->n == d->cap) {
        int cap = d->cap ? 2 * d->cap : 256;
        struct seq2seq_example *e = realloc(d->ex, sizeof *e * (size_t)cap);
        if (!e) return error_set("out of memory");
        d->ex = e;
        d->cap = cap;
    }
    struct seq2seq_example *e = &d->ex[d->n];
    e->src = malloc(sizeof(int32_t) * (size_t)(src_len ? src_len : 1));
    e->tgt = malloc(sizeof(int32_t) * (size_t)(tgt_len ? tgt_len : 1));
    if (!e->src || !e->tgt) {
        free(e->src);
        free(e->tgt);
        return error_set("out of memory");
    }
    memcpy(e->src, src, sizeof(int32_t) * (size_t)src_len);
    memcpy(e->tgt, tgt, sizeof(int32_t) * (size_t)tgt_len);
    e->src_len = src_len;
    e->tgt_len = tgt_len;
    d->n++;
    return 0;
}

void seq2seq_free(struct seq2seq_data *d) {
    for (int i = 0; i < d->n; i++) {
        free(d->ex[i].src);
        free(d->ex[i].tgt);
    }
    free(d->ex);
    memset(d, 0, sizeof *d);
}

/* ids from a JSON array of integers or, with a tokenizer, a string (with </s>); each below
 * vocab (when > 0). On error *ids is NULL. */
static int field_ids(json_t *v, const struct tokenizer *tok, int vocab, const char *path, int line,
                     const char *field, int32_t **ids, int *n) {
    *ids = NULL;
    if (json_is_array(v)) {
        size_t k = json_array_size(v);
        *ids = malloc(sizeof(int32_t) * (k ? k : 1));
        if (!*ids) return error_set("out of memory");
        for (size_t i = 0; i < k; i++) {
            json_t *e = json_array_get(v, i);
            if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > INT32_MAX) {
                free(*ids);
                *ids = NULL;
                return error_set("%s: line %d: field '%s': element %zu is not a token id", path, line, field, i);
            }
            (*ids)[i] = (int32_t)json_integer_value(e);
        }
        *n = (int)k;
    } else if (json_is_string(v)) {
        if (!tok)
            return error_set("%s: line %d: field '%s' is text but no tokenizer was given (--tokenizer FILE)", path,
                             line, field);
        size_t k;
        if (tokenizer_encode(tok, json_string_value(v), json_string_length(v), ids, &k)) {
            *ids = NULL;
            return error_wrap("%s: line %d: field '%s': ", path, line, field);
        }
        *n = (int)k;
    } else {
        return error_set("%s: line %d: field '%s' missing or not a string / array of ids", path, line, field);
    }
    for (int i = 0; vocab > 0 && i < *n; i++)
        if ((*ids)[i] >= vocab) {
            int id = (*ids)[i];
            free(*ids);
            *ids = NULL;
            return error_set("%s: line %d: field '%s': element %d: token id %d is outside the model's vocabulary [0, %d)",
                             path, line, field, i, id, vocab);
        }
    return 0;
}

int seq2seq_load_jsonl(struct seq2seq_data *d, const char *path, const struct tokenizer *tok, int vocab_size) {
    FILE *f = fopen(path, "r");
    if (!f) return error_set("%s: cannot open", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = 0;
    while (!rc && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len == 0) continue;
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)len, 0, &je);
        if (!json_is_object(o)) {
            json_decref(o);
            rc = error_set("%s: line %d: not a JSON object (%s)", path, lineno, o ? "wrong type" : je.text);
            break;
        }
        int32_t *s = NULL, *t = NULL;
        int ns = 0, nt = 0;
        rc = field_ids(json_object_get(o, "source"), tok, vocab_size, path, lineno, "source", &s, &ns);
        if (!rc) rc = field_ids(json_object_get(o, "target"), tok, vocab_size, path, lineno, "target", &t, &nt);
        if (!rc && (ns == 0 || nt == 0)) rc = error_set("%s: line %d: empty source or target", path, lineno);
        if (!rc) rc = seq2seq_add(d, s, ns, t, nt);
        free(s);
        free(t);
        json_decref(o);
    }
    free(line);
    fclose(f);
    if (!rc && d->n == 0) rc = error_set("%s: no examples (empty file?)", path);
    return rc;
}

int seq2seq_make_batch(struct seq2seq_batch *out, const struct seq2seq_data *d, const int *idx, int n,
                       int max_source_len, int max_target_len, const struct t5_config *c) {
    int S = 1, T = 1;
    for (int i = 0; i < n; i++) {
        const struct seq2seq_example *e = &d->ex[idx[i]];
        int s = e->src_len < max_source_len ? e->src_len : max_source_len;
        int t = e->tgt_len < max_target_len ? e->tgt_len : max_target_len;
        S = s > S ? s : S;
        T = t > T ? t : T;
    }
    size_t ns = (size_t)n * (size_t)S, nt = (size_t)n * (size_t)T;
    if (ns > out->cap_src) {
        int32_t *a = realloc(out->enc_ids, sizeof(int32_t) * ns), *b = a ? realloc(out->enc_mask, sizeof(int32_t) * ns) : NULL;
        if (a) out->enc_ids = a;
        if (b) out->enc_mask = b;
        if (!a || !b) return error_set("out of memory");
        out->cap_src = ns;
    }
    if (nt > out->cap_tgt) {
        int32_t *a = realloc(out->dec_ids, sizeof(int32_t) * nt), *b = a ? realloc(out->labels, sizeof(int32_t) * nt) : NULL;
        if (a) out->dec_ids = a;
        if (b) out->labels = b;
        if (!a || !b) return error_set("out of memory");
        out->cap_tgt = nt;
    }
    out->n_tokens = 0;
    for (int i = 0; i < n; i++) {
        const struct seq2seq_example *e = &d->ex[idx[i]];
        int s = e->src_len < max_source_len ? e->src_len : max_source_len;
        int t = e->tgt_len < max_target_len ? e->tgt_len : max_target_len;
        for (int j = 0; j < S; j++) {
            out->enc_ids[i * S + j] = j < s ? e->src[j] : c->pad_id;
            out->enc_mask[i * S + j] = j < s;
        }
        /* truncation keeps the final </s> (tokenizers' truncation does the same) */
        if (s < e->src_len && s > 0) out->enc_ids[i * S + s - 1] = e->src[e->src_len - 1];
        for (int j = 0; j < T; j++) out->labels[i * T + j] = j < t ? e->tgt[j] : -100;
        if (t < e->tgt_len && t > 0) out->labels[i * T + t - 1] = e->tgt[e->tgt_len - 1];
        out->n_tokens += t;
    }
    t5_shift_right(c, out->labels, n, T, out->dec_ids);
    out->b = (struct t5_batch){n, S, T, out->enc_ids, out->enc_mask, out->dec_ids, out->labels};
    return 0;
}

void seq2seq_batch_free(struct seq2seq_batch *b) {
    free(b->enc_ids);
    free(b->enc_mask);
    free(b->dec_ids);
    free(b->labels);
    memset(b, 0, sizeof *b);
}
