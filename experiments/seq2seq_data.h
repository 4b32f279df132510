/* seq2seq_data.h: tokenised (source, target) examples and padded batches for training and
 * evaluation. Sources are truncated to max_source_len (keeping the final </s>), targets to
 * max_target_len; labels are the target ids with padding set to -100; decoder inputs are
 * the labels shifted right behind the start token, as transformers does. */
#ifndef COMPACTER_SEQ2SEQ_DATA_H
#define COMPACTER_SEQ2SEQ_DATA_H

#include <stdint.h>

#include "core/t5_forward.h"

struct tokenizer;

struct seq2seq_example {
    int32_t *src, *tgt;
    int src_len, tgt_len;
};

struct seq2seq_data {
    struct seq2seq_example *ex;
    int n, cap;
};

/* Append one example (ids copied). */
int seq2seq_add(struct seq2seq_data *d, const int32_t *src, int src_len, const int32_t *tgt, int tgt_len);
/* Read JSONL lines {"source": S, "target": T} where S and T are arrays of token ids or
 * strings (strings need tok, which may be NULL otherwise); ids must be below vocab_size
 * (0: unchecked). Errors name file, line and field. */
int seq2seq_load_jsonl(struct seq2seq_data *d, const char *path, const struct tokenizer *tok, int vocab_size);
void seq2seq_free(struct seq2seq_data *d);

/* A padded batch built from examples idx[0..n): host arrays owned by the batch, kept and
 * reused by the next seq2seq_make_batch (they only grow), so a training loop allocates
 * nothing per step once the largest batch has been seen. Zero-initialise before first use. */
struct seq2seq_batch {
    struct t5_batch b; /* points into the arrays below */
    int32_t *enc_ids, *enc_mask, *dec_ids, *labels;
    size_t cap_src, cap_tgt; /* capacity of the arrays, in ids */
    int n_tokens;      /* target tokens that count in the loss */
};

int seq2seq_make_batch(struct seq2seq_batch *out, const struct seq2seq_data *d, const int *idx, int n,
                       int max_source_len, int max_target_len, const struct t5_config *c);
void seq2seq_batch_free(struct seq2seq_batch *b);

#endif
