/* t5_config.h: a T5 configuration read from a Hugging Face config.json, covering v1.0
 * (ReLU FFN, tied head scaled by d^-0.5) and v1.1/flan (gated-GELU, untied head). */
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
    int tied;   /* tie_word_embeddings: lm_head = shared, input scaled by d^-0.5 */
    int pad_id, eos_id, decoder_start_id;
};

/* Parse path (config.json). Unknown feed_forward_proj, missing or wrong-typed fields and
 * values the model cannot run with (ids outside the vocabulary, too few position buckets,
 * ...) are errors naming the file and field. */
int t5_config_load(struct t5_config *c, const char *path);
const char *t5_ffn_name(enum t5_ffn_kind k);
/* Number of parameters of the model (shared embedding counted once). */
int64_t t5_config_param_count(const struct t5_config *c);

#endif
