/* t5_config.h: a T5 configuration read from a Hugging Face config.json, covering v1.0
 * (ReLU FFN, tied head scaled by d^-0.5) and v1.1/flan (gated-GELU, untied head), as saved by
 * transformers 4 or by transformers 5 (which always writes tie_word_embeddings true and keeps
 * the scaling in scale_decoder_outputs; the checkpoint then says whether the head is tied). */
#ifndef COMPACTER_T5_CONFIG_H
#define COMPACTER_T5_CONFIG_H

#include <stdint.h>

enum t5_ffn_kind { T5_FFN_RELU, T5_FFN_GATED_GELU, T5_FFN_GELU, T5_FFN_GATED_RELU };

struct t5_config {
    int vocab_size;
    int d_model, d_kv, d_ff, num_heads;
    int num_layers, num_decoder_layers;
    int num_buckets, max_distance;
    float layer_norm_eps, dropout_rate;
    enum t5_ffn_kind ffn;
    int gated;  /* wi_0/wi_1 */
    int tied;   /* lm_head = shared (tie_word_embeddings; see t5_config_transformers5) */
    int head_scale; /* the decoder output is scaled by d^-0.5 before the head: T5_HEAD_SCALE_IF_TIED
                       (transformers 4: tie_word_embeddings decides), _ON or _OFF
                       (transformers 5's scale_decoder_outputs); read it with t5_head_scaled */
    int pad_id, eos_id, decoder_start_id;
};

enum { T5_HEAD_SCALE_IF_TIED = 0, T5_HEAD_SCALE_ON, T5_HEAD_SCALE_OFF };

static inline int t5_head_scaled(const struct t5_config *c) {
    return c->head_scale == T5_HEAD_SCALE_IF_TIED ? c->tied : c->head_scale == T5_HEAD_SCALE_ON;
}

/* A config saved by transformers 5 (it has scale_decoder_outputs): its tie_word_embeddings is
 * always true, and t5_model_load unties the head when the checkpoint's lm_head.weight differs
 * from shared.weight (t5_config_tie_from_checkpoint). */
static inline int t5_config_transformers5(const struct t5_config *c) { return c->head_scale != T5_HEAD_SCALE_IF_TIED; }

/* Parse path (config.json). Unknown feed_forward_proj, missing or wrong-typed fields and
 * values the model cannot run with (ids outside the vocabulary, too few position buckets,
 * ...) are errors naming the file and field. */
int t5_config_load(struct t5_config *c, const char *path);
const char *t5_ffn_name(enum t5_ffn_kind k);
/* Number of parameters of the model (shared embedding counted once). */
int64_t t5_config_param_count(const struct t5_config *c);

#endif
