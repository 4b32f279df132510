/* tokenizer.h: the T5 SentencePiece-unigram tokenizer, read from a Hugging Face
 * tokenizer.json and reproducing HF `tokenizers` (>= 0.19) ids exactly
 * (/work/shared/docs/exact-behaviours.md sections 1-3):
 *   added/special tokens matched on the raw text (leftmost-longest) ->
 *   per piece: Precompiled charsmap (per grapheme cluster) -> Strip -> Replace ->
 *   Metaspace pre-tokenizer (prepend_scheme first/always/never) -> unigram Viterbi ->
 *   TemplateProcessing (T5: `$A </s>`, pair `$A </s> $B </s>`).
 * Supported tokenizer.json subset: model Unigram (byte_fallback false); normalizer null,
 * Precompiled, Strip, Replace (String, or Regex " {2,}") or a Sequence of them;
 * pre_tokenizer Metaspace (or null); decoder Metaspace (or null); post_processor
 * TemplateProcessing (or null). Anything else is refused at load with an error.
 * A loaded tokenizer is immutable: concurrent encode/decode calls are thread-safe. */
#ifndef COMPACTER_TOKENIZER_H
#define COMPACTER_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

struct tokenizer;

/* Load tokenizer.json. NULL with error_message() naming the file and field on failure. */
struct tokenizer *tokenizer_load(const char *path);
/* Same from JSON text already in memory (`name` is used in error messages). */
struct tokenizer *tokenizer_load_json(const char *json, size_t len, const char *name);
void tokenizer_free(struct tokenizer *tok);

/* Encode UTF-8 text[0..len) with the single-sequence template (T5: appends </s> = 1).
 * *ids is malloc'd (caller frees), *n its length. Returns 0, or -1 (invalid UTF-8,
 * out of memory) with an error message. */
int tokenizer_encode(const struct tokenizer *tok, const char *text, size_t len, int32_t **ids,
                     size_t *n);
/* Pair template (T5: A </s> B </s>). */
int tokenizer_encode_pair(const struct tokenizer *tok, const char *a, size_t a_len,
                          const char *b, size_t b_len, int32_t **ids, size_t *n);
/* Without any template (no </s>). */
int tokenizer_encode_raw(const struct tokenizer *tok, const char *text, size_t len,
                         int32_t **ids, size_t *n);

/* Decode flags. */
enum {
    TOKENIZER_DECODE_SKIP_SPECIAL = 1, /* drop special added tokens (</s>, <pad>, <extra_id_N>) */
    TOKENIZER_DECODE_CLEANUP = 2,      /* transformers' clean_up_tokenization_spaces (" ." -> ".",
                                          " ?", " !", " ,", " ' ", " n't", " 'm", " 's", " 've",
                                          " 're"), which T5's tokenizer_config.json switches on */
};
/* Decode ids to text like HF `tokenizers` Tokenizer.decode(ids, skip_special_tokens):
 * ids outside the vocabulary are dropped, special added tokens are dropped with
 * TOKENIZER_DECODE_SKIP_SPECIAL, then the Metaspace decoder ('\u2581' -> ' ', every '\u2581'
 * of the first kept token removed). With TOKENIZER_DECODE_CLEANUP too it equals transformers'
 * T5 `tokenizer.decode(ids, skip_special_tokens=...)` (its default clean-up on).
 * Returns a malloc'd NUL-terminated string, or NULL (out of memory) with an error message. */
char *tokenizer_decode(const struct tokenizer *tok, const int32_t *ids, size_t n, int flags);

/* Number of ids (model vocabulary and added tokens): 32100 for T5. */
int tokenizer_vocab_size(const struct tokenizer *tok);
/* Id of a token string (added tokens first, then vocabulary pieces), or -1. */
int32_t tokenizer_token_id(const struct tokenizer *tok, const char *token);
/* The string of an id (added token or piece), or NULL when out of range. */
const char *tokenizer_id_token(const struct tokenizer *tok, int32_t id);

#endif
