/* t5_forward.c: T5 encoder and decoder stacks. */
#include "core/t5_forward.h"

#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/ops.h"
#include "core/t5_layers.h"
#include "core/t5_position.h"

#define MASK_VALUE T5_MASK_VALUE

/* Memory: each sublayer runs in a scope. At its end everything it allocated is freed except
 * the new residual stream and what the tape pinned for backward, and the stream it consumed
 * is dropped too (pinned if a norm or a trainable projection reads it in backward). */
static struct tensor *sublayer_end(struct exec *x, struct exec_scope s, struct tensor *in, struct tensor *out) {
    out = exec_scope_end(x, s, out);
    exec_drop(x, in);
    return out;
}

static int check_ids(const struct t5_config *c, const int32_t *ids, int64_t n, const char *what) {
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return error_set("%s: token id %d at position %lld is outside the vocabulary [0, %d)", what, ids[i],
                             (long long)i, c->vocab_size);
    return 0;
}

struct tensor *t5_encode(struct exec *x, const struct t5_model *m, int batch, int src_len,
                         const int32_t *enc_ids, const int32_t *enc_mask,
                         struct tensor **enc_mask_add) {
    const struct t5_config *c = &m->cfg;
    const struct t5_hooks *hk = m->hooks;
    *enc_mask_add = NULL;
    if (check_ids(c, enc_ids, (int64_t)batch * src_len, "encoder input")) return NULL;
    const float p = c->dropout_rate;
    struct exec_scope sc = exec_scope_begin(x);
    struct tensor *ids = exec_upload(x, DTYPE_I32, 2, (int64_t[]){batch, src_len}, enc_ids);
    struct tensor *h = op_embedding(x, t5_param(x, m, m->shared), ids);
    int prefix = 0;
    if (hk && hk->input_embeds && h) h = hk->input_embeds(hk->ctx, x, h, &prefix);
    int S = src_len + prefix;
    /* additive mask over the (possibly extended) sequence: prefix positions are visible */
    float *mask = arena_alloc(&x->meta, sizeof(float) * (size_t)batch * (size_t)S); /* freed with the step */
    if (!mask) {
        error_set("out of memory");
        return NULL;
    }
    for (int b = 0; b < batch; b++)
        for (int t = 0; t < S; t++)
            mask[b * S + t] = (t < prefix || !enc_mask || enc_mask[b * src_len + t - prefix]) ? 0.0f : MASK_VALUE;
    h = exec_scope_end(x, sc, op_dropout(x, h, p));
    struct tensor *madd = exec_upload(x, DTYPE_F32, 2, (int64_t[]){batch, S}, mask);
    struct tensor *bias = t5_bias_for(x, m, m->enc_bias_table, S, S, 1);
    for (int l = 0; l < c->num_layers; l++) {
        const struct t5_block *b = &m->enc[l];
        struct t5_site sa = {T5_ENCODER, l, T5_SELF_ATTN, T5_NO_PROJ}, ff = {T5_ENCODER, l, T5_FFN, T5_NO_PROJ};
        sc = exec_scope_begin(x);
        struct tensor *n = t5_norm(x, m, sa, h, b->ln_self);
        struct tensor *y = t5_sublayer_out(x, m, sa, t5_attention(x, m, sa, &b->self, n, n, bias, madd, 0));
        h = sublayer_end(x, sc, h, op_dropout_add(x, h, y, p));
        sc = exec_scope_begin(x);
        n = t5_norm(x, m, ff, h, b->ln_ff);
        y = t5_sublayer_out(x, m, ff, t5_ffn(x, m, ff, &b->ff, n));
        h = sublayer_end(x, sc, h, op_dropout_add(x, h, y, p));
    }
    exec_drop(x, bias);
    *enc_mask_add = madd;
    struct t5_site fin = {T5_ENCODER, -1, T5_FINAL, T5_NO_PROJ};
    sc = exec_scope_begin(x);
    return sublayer_end(x, sc, h, op_dropout(x, t5_norm(x, m, fin, h, m->enc_final_ln), p));
}

struct tensor *t5_decode(struct exec *x, const struct t5_model *m, struct tensor *enc_out,
                         struct tensor *enc_mask_add, int tgt_len, const int32_t *dec_ids,
                         int last_only) {
    const struct t5_config *c = &m->cfg;
    if (!enc_out) return NULL;
    int batch = (int)enc_out->shape[0];
    if (check_ids(c, dec_ids, (int64_t)batch * tgt_len, "decoder input")) return NULL;
    const float p = c->dropout_rate;
    struct exec_scope sc = exec_scope_begin(x);
    struct tensor *ids = exec_upload(x, DTYPE_I32, 2, (int64_t[]){batch, tgt_len}, dec_ids);
    struct tensor *h = exec_scope_end(x, sc, op_dropout(x, op_embedding(x, t5_param(x, m, m->shared), ids), p));
    struct tensor *bias = t5_bias_for(x, m, m->dec_bias_table, tgt_len, tgt_len, 0);
    /* bf16 storage: the encoder output narrowed once for every layer's cross-attention k and
     * v (each linear would narrow, and keep, its own copy) */
    struct tensor *enc_kv = op_convert(x, enc_out, x->bf16 ? DTYPE_BF16 : enc_out->dtype);
    for (int l = 0; l < c->num_decoder_layers; l++) {
        const struct t5_block *b = &m->dec[l];
        struct t5_site sa = {T5_DECODER, l, T5_SELF_ATTN, T5_NO_PROJ}, ca = {T5_DECODER, l, T5_CROSS_ATTN, T5_NO_PROJ},
                       ff = {T5_DECODER, l, T5_FFN, T5_NO_PROJ};
        sc = exec_scope_begin(x);
        struct tensor *n = t5_norm(x, m, sa, h, b->ln_self);
        struct tensor *y = t5_sublayer_out(x, m, sa, t5_attention(x, m, sa, &b->self, n, n, bias, NULL, 1));
        h = sublayer_end(x, sc, h, op_dropout_add(x, h, y, p));
        sc = exec_scope_begin(x);
        n = t5_norm(x, m, ca, h, b->ln_cross);
        y = t5_attention(x, m, ca, &b->cross, n, enc_kv, NULL, enc_mask_add, 0);
        h = sublayer_end(x, sc, h, op_dropout_add(x, h, t5_sublayer_out(x, m, ca, y), p));
        sc = exec_scope_begin(x);
        n = t5_norm(x, m, ff, h, b->ln_ff);
        y = t5_sublayer_out(x, m, ff, t5_ffn(x, m, ff, &b->ff, n));
        h = sublayer_end(x, sc, h, op_dropout_add(x, h, y, p));
    }
    exec_drop(x, bias);
    if (enc_kv != enc_out) exec_drop(x, enc_kv);
    if (last_only && h) { /* gather row tgt_len-1 of each sequence */
        int32_t *rows = arena_alloc(&x->meta, sizeof(int32_t) * (size_t)batch);
        if (!rows) return NULL;
        for (int b = 0; b < batch; b++) rows[b] = b * tgt_len + tgt_len - 1;
        sc = exec_scope_begin(x);
        struct tensor *idx = exec_upload(x, DTYPE_I32, 2, (int64_t[]){batch, 1}, rows);
        struct tensor flat = *h;
        flat.ndim = 2;
        flat.shape[0] = (int64_t)batch * tgt_len;
        flat.shape[1] = c->d_model;
        h = sublayer_end(x, sc, h, op_embedding(x, &flat, idx));
    }
    struct t5_site fin = {T5_DECODER, -1, T5_FINAL, T5_NO_PROJ}, head = {T5_DECODER, -1, T5_HEAD, T5_LM_HEAD};
    sc = exec_scope_begin(x);
    struct tensor *in = h;
    h = op_dropout(x, t5_norm(x, m, fin, h, m->dec_final_ln), p);
    if (t5_head_scaled(c)) h = op_scale(x, h, t5_tied_head_scale(c->d_model));
    /* a tied head stays the original embedding even under re-parameterisation: the
     * reference's Intrinsic-SAID keeps lm_head pointing at the frozen original */
    struct tensor *w = c->tied ? m->lm_head : t5_param(x, m, m->lm_head);
    const struct t5_hooks *hk = m->hooks;
    struct tensor *logits = hk && hk->linear ? hk->linear(hk->ctx, x, &head, h, w) : op_linear(x, h, w);
    return sublayer_end(x, sc, in, op_convert(x, logits, DTYPE_F32)); /* bf16 storage: logits f32 */
}

float t5_tied_head_scale(int d_model) { return (float)pow((double)d_model, -0.5); }

void t5_shift_right(const struct t5_config *c, const int32_t *labels, int batch, int tgt_len,
                    int32_t *dec_ids) {
    for (int b = 0; b < batch; b++) {
        dec_ids[b * tgt_len] = c->decoder_start_id;
        for (int t = 1; t < tgt_len; t++) {
            int32_t v = labels[b * tgt_len + t - 1];
            dec_ids[b * tgt_len + t] = v == -100 ? c->pad_id : v;
        }
    }
}

int t5_forward(struct exec *x, const struct t5_model *m, const struct t5_batch *b,
               struct t5_outputs *out) {
    struct tensor *madd;
    out->loss = NULL;
    /* at the end only the outputs stay held (what the method built in before_forward, the
     * masks and the biases go unless backward needs them) */
    struct exec_scope sc = exec_scope_begin(x);
    if (m->hooks && m->hooks->before_forward && m->hooks->before_forward(m->hooks->ctx, x)) return -1;
    out->enc_out = t5_encode(x, m, b->batch, b->src_len, b->enc_ids, b->enc_mask, &madd);
    out->logits = t5_decode(x, m, out->enc_out, madd, b->tgt_len, b->dec_ids, 0);
    if (!out->logits) return -1;
    if (b->labels) {
        for (int64_t i = 0; i < (int64_t)b->batch * b->tgt_len; i++)
            if (b->labels[i] != -100 && (b->labels[i] < 0 || b->labels[i] >= m->cfg.vocab_size))
                return error_set("labels: id %d at position %lld is outside the vocabulary", b->labels[i], (long long)i);
        struct tensor *t = exec_upload(x, DTYPE_I32, 2, (int64_t[]){b->batch, b->tgt_len}, b->labels);
        out->loss = op_cross_entropy(x, out->logits, t);
        if (!out->loss) return -1;
    }
    exec_scope_end_keep(x, sc, (struct tensor *[]){out->enc_out, out->logits, out->loss}, 3);
    return 0;
}
