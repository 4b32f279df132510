/* t5_forward.h: the T5 encoder-decoder forward pass (v1.0 and v1.1/flan) over the ops of
 * core/ops.h: relative position bias from layer 0 shared by the stack, no 1/sqrt(d_kv)
 * scaling, RMSNorm, padding and causal masks, cross-attention, tied-head scaling,
 * cross-entropy with -100 ignored. */
#ifndef COMPACTER_T5_FORWARD_H
#define COMPACTER_T5_FORWARD_H

#include "core/exec.h"
#include "core/t5_model.h"

/* A batch on the host. Sequences are padded to the same length; enc_mask marks real
 * tokens (1) and padding (0). labels may be NULL (no loss); -100 entries are ignored. */
struct t5_batch {
    int batch, src_len, tgt_len;
    const int32_t *enc_ids;  /* [batch, src_len] */
    const int32_t *enc_mask; /* [batch, src_len], or NULL for all ones */
    const int32_t *dec_ids;  /* [batch, tgt_len] decoder inputs (start token first) */
    const int32_t *labels;   /* [batch, tgt_len] or NULL */
};

struct t5_outputs {
    struct tensor *enc_out; /* [batch, src_len, d] after the final norm */
    struct tensor *logits;  /* [batch, tgt_len, vocab] */
    struct tensor *loss;    /* [1], NULL without labels */
};

/* Upload the masks and ids, run the encoder. enc_mask_add receives the additive
 * [batch, src_len] mask for the decoder's cross-attention. */
struct tensor *t5_encode(struct exec *x, const struct t5_model *m, int batch, int src_len,
                         const int32_t *enc_ids, const int32_t *enc_mask,
                         struct tensor **enc_mask_add);
/* Decoder over dec_ids [batch, tgt_len] (host), returns logits [batch, tgt_len, vocab], or
 * with last_only the logits of the last position only, [batch, 1, vocab]. */
struct tensor *t5_decode(struct exec *x, const struct t5_model *m, struct tensor *enc_out,
                         struct tensor *enc_mask_add, int tgt_len, const int32_t *dec_ids,
                         int last_only);
/* Greedy decoding as transformers' generate(num_beams=1, do_sample=False): out
 * [batch, max_length] starts with the decoder start token; a finished sequence (eos) is
 * padded with pad; stops early when all are finished (*out_len = columns produced). */
int t5_generate_greedy(struct exec *x, const struct t5_model *m, int batch, int src_len,
                       const int32_t *enc_ids, const int32_t *enc_mask, int max_length,
                       int32_t *out, int *out_len);
int t5_forward(struct exec *x, const struct t5_model *m, const struct t5_batch *b,
               struct t5_outputs *out);

/* The factor a tied head's input is multiplied by: transformers' `d_model ** -0.5`, a
 * Python double that the f32 tensor op rounds to f32 (exact-behaviours.md section 5:
 * 0x3D13CD3A for d = 768). 1.0f / sqrtf(d) is one ulp off it for some d (384, 96). */
float t5_tied_head_scale(int d_model);

/* Shift labels right into decoder inputs as transformers does (start token first,
 * -100 replaced by pad). */
void t5_shift_right(const struct t5_config *c, const int32_t *labels, int batch, int tgt_len,
                    int32_t *dec_ids);

#endif
