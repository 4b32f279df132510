/* t5_generate.c: greedy decoding with a key/value cache. The encoder runs once; each
 * decoder layer keeps the keys and values of the positions decoded so far, and the
 * cross-attention keys and values are projected once from the encoder output, so step t
 * costs one position per layer instead of t. Method hooks apply as in the forward pass
 * (they act per position). */
#include "core/t5_forward.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/ops.h"
#include "core/t5_layers.h"
#include "core/t5_position.h"

/* Position bias [H, 1, t+1] for the query at position t over keys 0..t (causal buckets). */
static struct tensor *bias_row(struct exec *x, const struct t5_model *m, int t) {
    int32_t *b = malloc(sizeof(int32_t) * (size_t)(t + 1));
    if (!b) {
        error_set("out of memory");
        return NULL;
    }
    for (int k = 0; k <= t; k++) b[k] = t5_position_bucket(k - t, 0, m->cfg.num_buckets, m->cfg.max_distance);
    struct tensor *buckets = exec_upload(x, DTYPE_I32, 2, (int64_t[]){1, t + 1}, b);
    free(b);
    return op_position_bias(x, t5_param(x, m, m->dec_bias_table), buckets);
}

/* Append this step's [B, 1, inner] keys or values at row t of cache [B, cap, inner] and
 * return the filled part as a contiguous [B, t+1, inner] tensor. */
static struct tensor *cache_append(struct exec *x, struct tensor *cache, struct tensor *step, int t) {
    if (!cache || !step) return NULL;
    int64_t B = cache->shape[0], cap = cache->shape[1], inner = cache->shape[2];
    float *c = cache->data;
    struct tensor *wide = op_convert(x, step, DTYPE_F32); /* bf16 storage: the cache is f32 */
    if (!wide || x->be->copy2d(c + (int64_t)t * inner, cap * inner, wide->data, inner, B, inner, 0)) return NULL;
    if (wide != step) exec_drop(x, wide);
    struct tensor *out = exec_tensor(x, DTYPE_F32, 3, (int64_t[]){B, t + 1, inner});
    if (!out || x->be->copy2d(out->data, (t + 1) * inner, c, cap * inner, B, (t + 1) * inner, 0)) return NULL;
    return out;
}

static struct tensor *attend(struct exec *x, const struct t5_model *m, struct t5_site s, const struct t5_attn *w,
                             struct tensor *q, struct tensor *k, struct tensor *v, struct tensor *bias,
                             struct tensor *mask) {
    struct tensor *p = op_attn_softmax(x, op_attn_scores(x, q, k, m->cfg.num_heads), bias, mask, 0);
    return t5_linear(x, m, s, T5_O, op_attn_context(x, p, v), w->o);
}

int t5_generate_greedy(struct exec *x, const struct t5_model *m, int batch, int src_len,
                       const int32_t *enc_ids, const int32_t *enc_mask, int max_length,
                       int32_t *out, int *out_len) {
    const struct t5_config *c = &m->cfg;
    const int L = c->num_decoder_layers;
    const int64_t inner = (int64_t)c->num_heads * c->d_kv;
    if (max_length < 1) return error_set("generate: max_length must be >= 1");
    if (m->hooks && m->hooks->before_forward && m->hooks->before_forward(m->hooks->ctx, x)) return -1;
    struct tensor *madd;
    struct tensor *enc = t5_encode(x, m, batch, src_len, enc_ids, enc_mask, &madd);
    struct tensor **ck = calloc((size_t)L, sizeof *ck), **cv = calloc((size_t)L, sizeof *cv);
    struct tensor **sk = calloc((size_t)L, sizeof *sk), **sv = calloc((size_t)L, sizeof *sv);
    int32_t *next = malloc(sizeof(int32_t) * (size_t)batch), *cur = malloc(sizeof(int32_t) * (size_t)batch);
    char *done = calloc((size_t)batch, 1);
    int rc = (!enc || !ck || !cv || !sk || !sv || !next || !cur || !done) ? -1 : 0;
    if (rc && !enc) {
        /* error already set by the encoder */
    } else if (rc) {
        error_set("out of memory");
    }
    for (int l = 0; l < L && !rc; l++) {
        struct t5_site ca = {T5_DECODER, l, T5_CROSS_ATTN, T5_NO_PROJ};
        ck[l] = t5_linear(x, m, ca, T5_K, enc, m->dec[l].cross.k);
        cv[l] = t5_linear(x, m, ca, T5_V, enc, m->dec[l].cross.v);
        sk[l] = exec_tensor(x, DTYPE_F32, 3, (int64_t[]){batch, max_length, inner});
        sv[l] = exec_tensor(x, DTYPE_F32, 3, (int64_t[]){batch, max_length, inner});
        if (!ck[l] || !cv[l] || !sk[l] || !sv[l]) rc = -1;
    }
    for (int b = 0; b < batch; b++) out[b * max_length] = c->decoder_start_id;
    int len = 1;
    for (int t = 0; !rc && t + 1 < max_length; t++) {
        struct exec_mark mk = exec_mark(x);
        for (int b = 0; b < batch; b++) cur[b] = out[b * max_length + t];
        struct tensor *ids = exec_upload(x, DTYPE_I32, 2, (int64_t[]){batch, 1}, cur);
        struct tensor *h = op_embedding(x, t5_param(x, m, m->shared), ids);
        struct tensor *bias = bias_row(x, m, t);
        for (int l = 0; l < L; l++) {
            const struct t5_block *blk = &m->dec[l];
            struct t5_site sa = {T5_DECODER, l, T5_SELF_ATTN, T5_NO_PROJ}, ca = {T5_DECODER, l, T5_CROSS_ATTN, T5_NO_PROJ},
                           ff = {T5_DECODER, l, T5_FFN, T5_NO_PROJ};
            struct tensor *n = t5_norm(x, m, sa, h, blk->ln_self);
            struct tensor *q = t5_linear(x, m, sa, T5_Q, n, blk->self.q);
            struct tensor *k = cache_append(x, sk[l], t5_linear(x, m, sa, T5_K, n, blk->self.k), t);
            struct tensor *v = cache_append(x, sv[l], t5_linear(x, m, sa, T5_V, n, blk->self.v), t);
            h = op_add(x, h, t5_sublayer_out(x, m, sa, attend(x, m, sa, &blk->self, q, k, v, bias, NULL)));
            n = t5_norm(x, m, ca, h, blk->ln_cross);
            q = t5_linear(x, m, ca, T5_Q, n, blk->cross.q);
            h = op_add(x, h, t5_sublayer_out(x, m, ca, attend(x, m, ca, &blk->cross, q, ck[l], cv[l], NULL, madd)));
            n = t5_norm(x, m, ff, h, blk->ln_ff);
            h = op_add(x, h, t5_sublayer_out(x, m, ff, t5_ffn(x, m, ff, &blk->ff, n)));
        }
        struct t5_site fin = {T5_DECODER, -1, T5_FINAL, T5_NO_PROJ}, head = {T5_DECODER, -1, T5_HEAD, T5_LM_HEAD};
        h = t5_norm(x, m, fin, h, m->dec_final_ln);
        if (t5_head_scaled(c)) h = op_scale(x, h, t5_tied_head_scale(c->d_model));
        struct tensor *w = c->tied ? m->lm_head : t5_param(x, m, m->lm_head);
        const struct t5_hooks *hk = m->hooks;
        struct tensor *logits = hk && hk->linear ? hk->linear(hk->ctx, x, &head, h, w) : op_linear(x, h, w);
        struct tensor *am = op_argmax(x, logits);
        rc = am ? exec_download(x, am, next) : -1;
        exec_release(x, mk);
        if (rc) break;
        int all_done = 1;
        for (int b = 0; b < batch; b++) {
            out[b * max_length + t + 1] = done[b] ? c->pad_id : next[b];
            if (!done[b] && next[b] == c->eos_id) done[b] = 1;
            all_done &= done[b];
        }
        len = t + 2;
        if (all_done) break;
    }
    *out_len = len;
    free(ck);
    free(cv);
    free(sk);
    free(sv);
    free(next);
    free(cur);
    free(done);
    return rc;
}
