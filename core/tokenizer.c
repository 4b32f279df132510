/* tokenizer.c: loading a HF tokenizer.json (jansson) and the encode/decode pipeline around
 * the charsmap normaliser (tokenizer_charsmap.c) and the unigram model
 * (tokenizer_unigram.c). See tokenizer.h for the supported subset. */
#include "core/tokenizer.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/tokenizer_internal.h"
#include "core/unicode_grapheme.h"

enum norm_kind { NORM_PRECOMPILED, NORM_STRIP, NORM_REPLACE_STRING, NORM_REPLACE_SPACE_RUNS };
enum prepend_scheme { PREPEND_NEVER, PREPEND_FIRST, PREPEND_ALWAYS };

struct norm_step {
    enum norm_kind kind;
    struct charsmap cm;          /* NORM_PRECOMPILED */
    int strip_left, strip_right; /* NORM_STRIP */
    char *pattern, *content;     /* NORM_REPLACE_* (pattern unused for space runs) */
};

struct metaspace {
    int present;
    char repl[8]; /* the replacement char, UTF-8 */
    size_t repl_len;
    enum prepend_scheme prepend;
    int split;
};

struct added_token {
    char *content;
    size_t len;
    int32_t id;
    int special;
};

/* A post-processor template item: a sequence (0 = A, 1 = B) or special-token ids. */
struct template_item {
    int sequence; /* -1 for special */
    int32_t *ids;
    size_t n_ids;
};
struct template {
    struct template_item *items;
    size_t n;
};

struct tokenizer {
    char *name;
    struct unigram uni;
    struct norm_step *norm;
    size_t n_norm;
    struct metaspace pre, dec;
    int whitespace_split; /* pre_tokenizer Sequence [WhitespaceSplit, Metaspace] (as
                             transformers 5 saves T5's tokenizer): words split on Unicode
                             White_Space first, then each through the Metaspace */
    struct added_token *added;
    size_t n_added;
    unsigned char added_first[256]; /* first bytes of added tokens */
    int has_template;
    struct template single, pair;
    int vocab_size;
};

/* ------------------------------------------------------------------ loading ---- */

static const char *json_str_field(json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int json_bool_field(json_t *obj, const char *key, int def) {
    json_t *v = json_object_get(obj, key);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

static int load_model(struct tokenizer *t, json_t *root) {
    const char *f = t->name;
    json_t *model = json_object_get(root, "model");
    if (!json_is_object(model)) return error_set("file %s: field model: missing or not an object", f);
    const char *type = json_str_field(model, "type");
    if (!type || strcmp(type, "Unigram"))
        return error_set("file %s: field model.type: expected \"Unigram\", got %s", f,
                         type ? type : "(none)");
    if (json_bool_field(model, "byte_fallback", 0))
        return error_set("file %s: field model.byte_fallback: true is not supported", f);
    json_t *vocab = json_object_get(model, "vocab");
    if (!json_is_array(vocab) || json_array_size(vocab) == 0)
        return error_set("file %s: field model.vocab: missing or not a non-empty array", f);
    json_t *unk = json_object_get(model, "unk_id");
    size_t n = json_array_size(vocab);
    if (!json_is_integer(unk) || json_integer_value(unk) < 0 ||
        (size_t)json_integer_value(unk) >= n)
        return error_set("file %s: field model.unk_id: missing or out of range", f);
    struct unigram *u = &t->uni;
    u->unk_id = (int32_t)json_integer_value(unk);
    u->pieces = calloc(n, sizeof *u->pieces);
    u->piece_len = calloc(n, sizeof *u->piece_len);
    u->scores = calloc(n, sizeof *u->scores);
    u->n_vocab = n;
    if (!u->pieces || !u->piece_len || !u->scores) return error_set("file %s: out of memory", f);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(vocab, i);
        json_t *p = json_array_get(e, 0), *s = json_array_get(e, 1);
        if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_string(p) || !json_is_number(s))
            return error_set("file %s: field model.vocab[%zu]: expected [piece, score]", f, i);
        size_t len = json_string_length(p);
        u->pieces[i] = malloc(len + 1);
        if (!u->pieces[i]) return error_set("file %s: out of memory", f);
        memcpy(u->pieces[i], json_string_value(p), len + 1);
        u->piece_len[i] = len;
        u->scores[i] = json_number_value(s);
    }
    return unigram_build(u, f);
}

static int load_norm_step(struct tokenizer *t, json_t *n, const char *field) {
    const char *f = t->name;
    const char *type = json_str_field(n, "type");
    struct norm_step *st = &t->norm[t->n_norm];
    memset(st, 0, sizeof *st);
    if (!type) return error_set("file %s: field %s.type: missing", f, field);
    if (!strcmp(type, "Precompiled")) {
        const char *b64 = json_str_field(n, "precompiled_charsmap");
        if (!b64)
            return error_set("file %s: field %s.precompiled_charsmap: missing or not a string", f,
                             field);
        st->kind = NORM_PRECOMPILED;
        if (charsmap_init(&st->cm, b64, f)) return -1;
    } else if (!strcmp(type, "Strip")) {
        st->kind = NORM_STRIP;
        st->strip_left = json_bool_field(n, "strip_left", 0);
        st->strip_right = json_bool_field(n, "strip_right", 0);
    } else if (!strcmp(type, "Replace")) {
        json_t *pat = json_object_get(n, "pattern");
        const char *content = json_str_field(n, "content");
        const char *s = json_str_field(pat, "String"), *re = json_str_field(pat, "Regex");
        if (!content) return error_set("file %s: field %s.content: missing", f, field);
        if (s && *s) {
            st->kind = NORM_REPLACE_STRING;
            st->pattern = strdup(s);
        } else if (re && !strcmp(re, " {2,}")) {
            st->kind = NORM_REPLACE_SPACE_RUNS;
        } else {
            return error_set("file %s: field %s.pattern: only String or Regex \" {2,}\" is supported",
                             f, field);
        }
        st->content = strdup(content);
        if (!st->content || (st->kind == NORM_REPLACE_STRING && !st->pattern)) {
            t->n_norm++;
            return error_set("file %s: out of memory", f);
        }
    } else {
        return error_set("file %s: field %s.type: normalizer \"%s\" is not supported", f, field, type);
    }
    t->n_norm++;
    return 0;
}

static int load_normalizer(struct tokenizer *t, json_t *root) {
    json_t *n = json_object_get(root, "normalizer");
    if (!n || json_is_null(n)) return 0;
    if (!json_is_object(n)) return error_set("file %s: field normalizer: not an object", t->name);
    const char *type = json_str_field(n, "type");
    if (type && !strcmp(type, "Sequence")) {
        json_t *list = json_object_get(n, "normalizers");
        if (!json_is_array(list))
            return error_set("file %s: field normalizer.normalizers: not an array", t->name);
        t->norm = calloc(json_array_size(list) + 1, sizeof *t->norm);
        if (!t->norm) return error_set("file %s: out of memory", t->name);
        for (size_t i = 0; i < json_array_size(list); i++) {
            char field[64];
            snprintf(field, sizeof field, "normalizer.normalizers[%zu]", i);
            if (load_norm_step(t, json_array_get(list, i), field)) return -1;
        }
        return 0;
    }
    t->norm = calloc(1, sizeof *t->norm);
    if (!t->norm) return error_set("file %s: out of memory", t->name);
    return load_norm_step(t, n, "normalizer");
}

/* A Metaspace object p (at JSON path `key`) into m. */
static int parse_metaspace(struct tokenizer *t, json_t *p, const char *key, struct metaspace *m) {
    const char *type = json_str_field(p, "type");
    if (!type || strcmp(type, "Metaspace"))
        return error_set("file %s: field %s.type: only Metaspace (or a Sequence of WhitespaceSplit and Metaspace) "
                         "is supported, got %s",
                         t->name, key, type ? type : "(none)");
    const char *r = json_str_field(p, "replacement");
    uint32_t cp;
    if (!r || !*r || strlen(r) >= sizeof m->repl ||
        utf8_decode((const unsigned char *)r, strlen(r), &cp) != (int)strlen(r))
        return error_set("file %s: field %s.replacement: expected one character", t->name, key);
    m->present = 1;
    strcpy(m->repl, r);
    m->repl_len = strlen(r);
    m->split = json_bool_field(p, "split", 1);
    const char *scheme = json_str_field(p, "prepend_scheme");
    if (!scheme)
        m->prepend = json_bool_field(p, "add_prefix_space", 1) ? PREPEND_ALWAYS : PREPEND_NEVER;
    else if (!strcmp(scheme, "first"))
        m->prepend = PREPEND_FIRST;
    else if (!strcmp(scheme, "always"))
        m->prepend = PREPEND_ALWAYS;
    else if (!strcmp(scheme, "never"))
        m->prepend = PREPEND_NEVER;
    else
        return error_set("file %s: field %s.prepend_scheme: unknown value \"%s\"", t->name, key, scheme);
    return 0;
}

/* root[key]: absent, a Metaspace, or (pre_tokenizer only) a Sequence [WhitespaceSplit, Metaspace]. */
static int load_metaspace(struct tokenizer *t, json_t *root, const char *key, struct metaspace *m) {
    json_t *p = json_object_get(root, key);
    if (!p || json_is_null(p)) return 0;
    const char *type = json_str_field(p, "type");
    if (type && !strcmp(type, "Sequence") && m == &t->pre) {
        json_t *list = json_object_get(p, "pretokenizers");
        const char *first = json_str_field(json_array_get(list, 0), "type");
        if (json_array_size(list) != 2 || !first || strcmp(first, "WhitespaceSplit"))
            return error_set("file %s: field %s.pretokenizers: only [WhitespaceSplit, Metaspace] is supported",
                             t->name, key);
        t->whitespace_split = 1;
        char field[64];
        snprintf(field, sizeof field, "%s.pretokenizers[1]", key);
        return parse_metaspace(t, json_array_get(list, 1), field, m);
    }
    return parse_metaspace(t, p, key, m);
}

static int load_added(struct tokenizer *t, json_t *root) {
    json_t *list = json_object_get(root, "added_tokens");
    if (!list || json_is_null(list)) return 0;
    if (!json_is_array(list)) return error_set("file %s: field added_tokens: not an array", t->name);
    t->added = calloc(json_array_size(list) + 1, sizeof *t->added);
    if (!t->added) return error_set("file %s: out of memory", t->name);
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *a = json_array_get(list, i);
        const char *c = json_str_field(a, "content");
        json_t *id = json_object_get(a, "id");
        if (!c || !*c || !json_is_integer(id) || json_integer_value(id) < 0 ||
            json_integer_value(id) > INT32_MAX)
            return error_set("file %s: field added_tokens[%zu]: needs content and id", t->name, i);
        if (json_bool_field(a, "lstrip", 0) || json_bool_field(a, "rstrip", 0) ||
            json_bool_field(a, "single_word", 0) || json_bool_field(a, "normalized", 0))
            return error_set("file %s: field added_tokens[%zu]: lstrip/rstrip/single_word/normalized "
                             "true is not supported",
                             t->name, i);
        struct added_token *at = &t->added[t->n_added++];
        at->content = strdup(c);
        if (!at->content) return error_set("file %s: out of memory", t->name);
        at->len = strlen(c);
        at->id = (int32_t)json_integer_value(id);
        at->special = json_bool_field(a, "special", 0);
        t->added_first[(unsigned char)c[0]] = 1;
        if (at->id + 1 > t->vocab_size) t->vocab_size = at->id + 1;
    }
    return 0;
}

static int load_template_list(struct tokenizer *t, json_t *pp, const char *key, struct template *tp) {
    json_t *list = json_object_get(pp, key);
    json_t *specials = json_object_get(pp, "special_tokens");
    if (!json_is_array(list))
        return error_set("file %s: field post_processor.%s: not an array", t->name, key);
    tp->items = calloc(json_array_size(list) + 1, sizeof *tp->items);
    if (!tp->items) return error_set("file %s: out of memory", t->name);
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *it = json_array_get(list, i);
        struct template_item *ti = &tp->items[tp->n++];
        json_t *seq = json_object_get(it, "Sequence"), *sp = json_object_get(it, "SpecialToken");
        if (seq) {
            const char *which = json_str_field(seq, "id");
            if (!which || (strcmp(which, "A") && strcmp(which, "B")))
                return error_set("file %s: field post_processor.%s[%zu].Sequence.id: expected A or B",
                                 t->name, key, i);
            ti->sequence = which[0] == 'A' ? 0 : 1;
        } else if (sp) {
            const char *name = json_str_field(sp, "id");
            json_t *ids = json_object_get(json_object_get(specials, name ? name : ""), "ids");
            if (!name || !json_is_array(ids))
                return error_set("file %s: field post_processor.special_tokens: no ids for %s",
                                 t->name, name ? name : "(none)");
            ti->sequence = -1;
            ti->ids = calloc(json_array_size(ids) + 1, sizeof *ti->ids);
            if (!ti->ids) return error_set("file %s: out of memory", t->name);
            for (size_t k = 0; k < json_array_size(ids); k++) {
                json_t *v = json_array_get(ids, k);
                if (!json_is_integer(v))
                    return error_set("file %s: field post_processor.special_tokens.%s.ids: not integers",
                                     t->name, name);
                ti->ids[ti->n_ids++] = (int32_t)json_integer_value(v);
            }
        } else {
            return error_set("file %s: field post_processor.%s[%zu]: expected Sequence or SpecialToken",
                             t->name, key, i);
        }
    }
    return 0;
}

static int load_post_processor(struct tokenizer *t, json_t *root) {
    json_t *pp = json_object_get(root, "post_processor");
    if (!pp || json_is_null(pp)) return 0;
    const char *type = json_str_field(pp, "type");
    if (!type || strcmp(type, "TemplateProcessing"))
        return error_set("file %s: field post_processor.type: only TemplateProcessing is supported",
                         t->name);
    t->has_template = 1;
    if (load_template_list(t, pp, "single", &t->single)) return -1;
    return load_template_list(t, pp, "pair", &t->pair);
}

struct tokenizer *tokenizer_load_json(const char *json, size_t len, const char *name) {
    struct tokenizer *t = calloc(1, sizeof *t);
    if (!t || !(t->name = strdup(name))) {
        free(t);
        error_set("file %s: out of memory", name);
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    if (!root) {
        error_set("file %s: not valid JSON (line %d: %s)", name, jerr.line, jerr.text);
        tokenizer_free(t);
        return NULL;
    }
    int rc = !json_is_object(root) ? error_set("file %s: top level is not a JSON object", name)
                                   : load_model(t, root);
    if (!rc) {
        t->vocab_size = (int)t->uni.n_vocab;
        rc = load_added(t, root);
    }
    if (!rc) rc = load_normalizer(t, root);
    if (!rc) rc = load_metaspace(t, root, "pre_tokenizer", &t->pre);
    if (!rc) rc = load_metaspace(t, root, "decoder", &t->dec);
    if (!rc) rc = load_post_processor(t, root);
    json_decref(root);
    if (rc) {
        tokenizer_free(t);
        return NULL;
    }
    return t;
}

struct tokenizer *tokenizer_load(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        error_set("file %s: cannot open", path);
        return NULL;
    }
    struct tok_buf b = {0};
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, fp)) > 0)
        if (tok_buf_put(&b, chunk, got)) {
            fclose(fp);
            tok_buf_free(&b);
            return NULL;
        }
    int bad = ferror(fp);
    fclose(fp);
    if (bad) {
        tok_buf_free(&b);
        error_set("file %s: read error", path);
        return NULL;
    }
    struct tokenizer *t = tokenizer_load_json(b.p ? b.p : "", b.n, path);
    tok_buf_free(&b);
    return t;
}

void tokenizer_free(struct tokenizer *t) {
    if (!t) return;
    unigram_free(&t->uni);
    for (size_t i = 0; i < t->n_norm; i++) {
        charsmap_free(&t->norm[i].cm);
        free(t->norm[i].pattern);
        free(t->norm[i].content);
    }
    free(t->norm);
    for (size_t i = 0; i < t->n_added; i++) free(t->added[i].content);
    free(t->added);
    struct template *tps[2] = {&t->single, &t->pair};
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < tps[k]->n; i++) free(tps[k]->items[i].ids);
        free(tps[k]->items);
    }
    free(t->name);
    free(t);
}

/* ----------------------------------------------------------------- encoding ---- */

/* Unicode White_Space (Rust char::is_whitespace: the Strip normaliser's and WhitespaceSplit's). */
static int is_white_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

/* Byte length of the valid-UTF-8 char that ends at s[n-1]. */
static size_t last_char_len(const char *s, size_t n) {
    size_t k = 1;
    while (k < n && k < 4 && ((unsigned char)s[n - k] & 0xC0) == 0x80) k++;
    return k;
}

static int apply_norm_step(const struct norm_step *st, const char *s, size_t n, struct tok_buf *out) {
    switch (st->kind) {
    case NORM_PRECOMPILED:
        return charsmap_normalize(&st->cm, s, n, out);
    case NORM_STRIP: {
        size_t a = 0, b = n;
        uint32_t cp;
        int len;
        if (st->strip_left)
            while (a < b && (len = utf8_decode((const unsigned char *)s + a, b - a, &cp)) > 0 &&
                   is_white_space(cp))
                a += (size_t)len;
        if (st->strip_right)
            while (b > a) {
                size_t k = last_char_len(s + a, b - a);
                if (utf8_decode((const unsigned char *)s + b - k, k, &cp) <= 0 || !is_white_space(cp))
                    break;
                b -= k;
            }
        return tok_buf_put(out, s + a, b - a);
    }
    case NORM_REPLACE_STRING:
    case NORM_REPLACE_SPACE_RUNS: {
        size_t plen = st->kind == NORM_REPLACE_STRING ? strlen(st->pattern) : 2;
        size_t clen = strlen(st->content), i = 0, last = 0;
        while (i < n) {
            size_t m = 0;
            if (st->kind == NORM_REPLACE_STRING) {
                if (n - i >= plen && !memcmp(s + i, st->pattern, plen)) m = plen;
            } else if (s[i] == ' ' && i + 1 < n && s[i + 1] == ' ') {
                m = 2;
                while (i + m < n && s[i + m] == ' ') m++;
            }
            if (m) {
                if (tok_buf_put(out, s + last, i - last) || tok_buf_put(out, st->content, clen))
                    return -1;
                i += m;
                last = i;
            } else {
                i++;
            }
        }
        (void)plen;
        return tok_buf_put(out, s + last, n - last);
    }
    }
    return 0;
}

/* The Metaspace pre-tokenizer on normalised text s[0..n) (n > 0), then unigram on each word;
 * b is scratch. */
static int metaspace_encode(const struct tokenizer *t, const char *s, size_t n, int at_start, struct tok_buf *b,
                            struct tok_ids *out) {
    const struct metaspace *m = &t->pre;
    b->n = 0;
    int rc = 0;
    /* spaces become the replacement first, then the prepend test */
    int starts = s[0] == ' ' || (n >= m->repl_len && !memcmp(s, m->repl, m->repl_len));
    if (!starts && (m->prepend == PREPEND_ALWAYS || (m->prepend == PREPEND_FIRST && at_start)))
        rc = tok_buf_put(b, m->repl, m->repl_len);
    for (size_t i = 0; !rc && i < n; i++)
        rc = s[i] == ' ' ? tok_buf_put(b, m->repl, m->repl_len) : tok_buf_put(b, s + i, 1);
    /* split "merged with next": every replacement char begins a new word */
    size_t w0 = 0;
    for (size_t i = 1; !rc && i <= b->n; i++) {
        if (i == b->n || (m->split && b->n - i >= m->repl_len && !memcmp(b->p + i, m->repl, m->repl_len))) {
            rc = unigram_encode_word(&t->uni, b->p + w0, i - w0, out);
            w0 = i;
        }
    }
    return rc;
}

/* Normalise, pre-tokenise and unigram-encode one piece of text between added tokens.
 * `at_start`: the piece begins at byte 0 of the input (Metaspace prepend_scheme first). */
static int encode_piece(const struct tokenizer *t, const char *s, size_t n, int at_start,
                        struct tok_ids *out) {
    struct tok_buf a = {0}, b = {0};
    int rc = tok_buf_put(&a, s, n);
    for (size_t k = 0; !rc && k < t->n_norm; k++) {
        b.n = 0;
        rc = apply_norm_step(&t->norm[k], a.p, a.n, &b);
        struct tok_buf tmp = a;
        a = b;
        b = tmp;
    }
    if (!rc && a.n && t->whitespace_split) {
        /* each run of characters that are not White_Space is a word of its own; the first
         * one is at the input's start when nothing white precedes it */
        size_t i = 0;
        while (!rc && i < a.n) {
            size_t w0 = i;
            uint32_t cp = 0;
            int len = 1;
            while (i < a.n) {
                len = utf8_decode((const unsigned char *)a.p + i, a.n - i, &cp);
                if (len > 0 && is_white_space(cp)) break;
                i += len > 0 ? (size_t)len : 1;
            }
            if (i > w0)
                rc = t->pre.present ? metaspace_encode(t, a.p + w0, i - w0, at_start && w0 == 0, &b, out)
                                    : unigram_encode_word(&t->uni, a.p + w0, i - w0, out);
            if (i < a.n) i += (size_t)len; /* the White_Space character */
        }
    } else if (!rc && a.n && t->pre.present) {
        rc = metaspace_encode(t, a.p, a.n, at_start, &b, out);
    } else if (!rc && a.n) {
        rc = unigram_encode_word(&t->uni, a.p, a.n, out);
    }
    tok_buf_free(&a);
    tok_buf_free(&b);
    return rc;
}

/* Split on added tokens (leftmost-longest on the raw text) and encode every part. */
static int encode_sequence(const struct tokenizer *t, const char *s, size_t n, struct tok_ids *out) {
    size_t bad = utf8_validate(s, n);
    if (bad != n) return error_set("tokenizer: input is not valid UTF-8 at byte %zu", bad);
    size_t i = 0, piece = 0;
    while (i < n) {
        const struct added_token *best = NULL;
        if (t->added_first[(unsigned char)s[i]])
            for (size_t k = 0; k < t->n_added; k++) {
                const struct added_token *at = &t->added[k];
                if (at->len <= n - i && (!best || at->len > best->len) &&
                    !memcmp(s + i, at->content, at->len))
                    best = at;
            }
        if (!best) {
            i++;
            continue;
        }
        if (i > piece && encode_piece(t, s + piece, i - piece, piece == 0, out)) return -1;
        if (tok_ids_push(out, best->id)) return -1;
        i += best->len;
        piece = i;
    }
    if (n > piece) return encode_piece(t, s + piece, n - piece, piece == 0, out);
    return 0;
}

static int encode_template(const struct tokenizer *t, const struct template *tp, const char *a,
                           size_t a_len, const char *b, size_t b_len, int32_t **ids, size_t *n) {
    struct tok_ids out = {0};
    int rc = 0;
    if (!t->has_template) {
        rc = encode_sequence(t, a, a_len, &out);
        if (!rc && b) rc = encode_sequence(t, b, b_len, &out);
    } else {
        for (size_t i = 0; !rc && i < tp->n; i++) {
            const struct template_item *it = &tp->items[i];
            if (it->sequence == 0)
                rc = encode_sequence(t, a, a_len, &out);
            else if (it->sequence == 1)
                rc = b ? encode_sequence(t, b, b_len, &out) : 0;
            else
                for (size_t k = 0; !rc && k < it->n_ids; k++) rc = tok_ids_push(&out, it->ids[k]);
        }
    }
    if (!rc && !out.p) rc = tok_ids_push(&out, 0), out.n = 0; /* never return NULL on success */
    if (rc) {
        free(out.p);
        return -1;
    }
    *ids = out.p;
    *n = out.n;
    return 0;
}

int tokenizer_encode(const struct tokenizer *t, const char *text, size_t len, int32_t **ids,
                     size_t *n) {
    return encode_template(t, &t->single, text, len, NULL, 0, ids, n);
}

int tokenizer_encode_pair(const struct tokenizer *t, const char *a, size_t a_len, const char *b,
                          size_t b_len, int32_t **ids, size_t *n) {
    return encode_template(t, &t->pair, a, a_len, b ? b : "", b_len, ids, n);
}

int tokenizer_encode_raw(const struct tokenizer *t, const char *text, size_t len, int32_t **ids,
                         size_t *n) {
    struct tokenizer copy = *t; /* shallow: only has_template differs */
    copy.has_template = 0;
    return encode_template(&copy, NULL, text, len, NULL, 0, ids, n);
}

/* ----------------------------------------------------------------- decoding ---- */

const char *tokenizer_id_token(const struct tokenizer *t, int32_t id) {
    if (id < 0) return NULL;
    for (size_t k = 0; k < t->n_added; k++)
        if (t->added[k].id == id) return t->added[k].content;
    if ((size_t)id < t->uni.n_vocab) return t->uni.pieces[id];
    return NULL;
}

static int is_special_token(const struct tokenizer *t, const char *tok) {
    for (size_t k = 0; k < t->n_added; k++)
        if (t->added[k].special && !strcmp(t->added[k].content, tok)) return 1;
    return 0;
}

/* In-place replace-all of `from` by the shorter-or-equal `to` (Python str.replace). */
static void replace_all(char *s, const char *from, const char *to) {
    size_t fl = strlen(from), tl = strlen(to);
    char *r = s, *w = s;
    while (*r) {
        if (!strncmp(r, from, fl)) {
            memmove(w, to, tl);
            w += tl;
            r += fl;
        } else {
            *w++ = *r++;
        }
    }
    *w = 0;
}

/* transformers' PreTrainedTokenizerBase.clean_up_tokenization, same order. */
static void clean_up_tokenization(char *s) {
    static const char *pairs[][2] = {{" .", "."},    {" ?", "?"},     {" !", "!"},   {" ,", ","},
                                     {" ' ", "'"},   {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"},
                                     {" 've", "'ve"}, {" 're", "'re"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) replace_all(s, pairs[i][0], pairs[i][1]);
}

char *tokenizer_decode(const struct tokenizer *t, const int32_t *ids, size_t n, int flags) {
    int skip_special = flags & TOKENIZER_DECODE_SKIP_SPECIAL;
    struct tok_buf out = {0};
    size_t kept = 0;
    int rc = tok_buf_put(&out, "", 0);
    for (size_t i = 0; !rc && i < n; i++) {
        const char *tok = tokenizer_id_token(t, ids[i]);
        if (!tok || (skip_special && is_special_token(t, tok))) continue;
        if (!t->dec.present) {
            if (kept && (rc = tok_buf_put(&out, " ", 1))) break;
            rc = tok_buf_put(&out, tok, strlen(tok));
        } else {
            const struct metaspace *m = &t->dec;
            size_t len = strlen(tok), j = 0, last = 0;
            while (!rc && j < len) {
                if (len - j >= m->repl_len && !memcmp(tok + j, m->repl, m->repl_len)) {
                    rc = tok_buf_put(&out, tok + last, j - last);
                    if (!rc && !(kept == 0 && m->prepend != PREPEND_NEVER))
                        rc = tok_buf_put(&out, " ", 1);
                    j += m->repl_len;
                    last = j;
                } else {
                    j++;
                }
            }
            if (!rc) rc = tok_buf_put(&out, tok + last, len - last);
        }
        kept++;
    }
    if (rc) {
        tok_buf_free(&out);
        return NULL;
    }
    if (flags & TOKENIZER_DECODE_CLEANUP) clean_up_tokenization(out.p);
    return out.p;
}

int tokenizer_vocab_size(const struct tokenizer *t) { return t->vocab_size; }

int32_t tokenizer_token_id(const struct tokenizer *t, const char *token) {
    for (size_t k = 0; k < t->n_added; k++)
        if (!strcmp(t->added[k].content, token)) return t->added[k].id;
    return unigram_piece_id(&t->uni, token, strlen(token));
}
