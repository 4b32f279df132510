/* t5_config.c: parse a Hugging Face T5 config.json. */
#include "core/t5_config.h"

#include <jansson.h>
#include <string.h>

#include "core/error.h"

static int get_int(json_t *root, const char *path, const char *key, int required, int def, int *out) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) {
        if (required) return error_set("%s: field '%s' is missing", path, key);
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > (1 << 30))
        return error_set("%s: field '%s' is not a non-negative integer", path, key);
    *out = (int)json_integer_value(v);
    return 0;
}

static int get_float(json_t *root, const char *path, const char *key, float def, float *out) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_number(v)) return error_set("%s: field '%s' is not a number", path, key);
    *out = (float)json_number_value(v);
    return 0;
}

const char *t5_ffn_name(enum t5_ffn_kind k) {
    switch (k) {
    case T5_FFN_RELU: return "relu";
    case T5_FFN_GATED_GELU: return "gated-gelu";
    case T5_FFN_GELU: return "gelu_new";
    case T5_FFN_GATED_RELU: return "gated-relu";
    }
    return "?";
}

int t5_config_load(struct t5_config *c, const char *path) {
    memset(c, 0, sizeof *c);
    json_error_t e;
    json_t *root = json_load_file(path, 0, &e);
    if (!root) return error_set("%s: not valid JSON (line %d: %s)", path, e.line, e.text);
    int rc = -1;
    if (!json_is_object(root)) {
        error_set("%s: not a JSON object", path);
        goto out;
    }
    if (get_int(root, path, "vocab_size", 1, 0, &c->vocab_size) ||
        get_int(root, path, "d_model", 1, 0, &c->d_model) ||
        get_int(root, path, "d_kv", 1, 0, &c->d_kv) || get_int(root, path, "d_ff", 1, 0, &c->d_ff) ||
        get_int(root, path, "num_heads", 1, 0, &c->num_heads) ||
        get_int(root, path, "num_layers", 1, 0, &c->num_layers) ||
        get_int(root, path, "num_decoder_layers", 0, c->num_layers, &c->num_decoder_layers) ||
        get_int(root, path, "relative_attention_num_buckets", 0, 32, &c->num_buckets) ||
        get_int(root, path, "relative_attention_max_distance", 0, 128, &c->max_distance) ||
        get_int(root, path, "pad_token_id", 0, 0, &c->pad_id) ||
        get_int(root, path, "eos_token_id", 0, 1, &c->eos_id) ||
        get_int(root, path, "decoder_start_token_id", 0, c->pad_id, &c->decoder_start_id) ||
        get_float(root, path, "layer_norm_epsilon", 1e-6f, &c->layer_norm_eps) ||
        get_float(root, path, "dropout_rate", 0.1f, &c->dropout_rate))
        goto out;
    /* sizes: each named on its own, so the message points at the field */
    const struct {
        const char *key;
        int value, min;
    } lo[] = {{"vocab_size", c->vocab_size, 1}, {"d_model", c->d_model, 1}, {"d_kv", c->d_kv, 1},
              {"d_ff", c->d_ff, 1}, {"num_heads", c->num_heads, 1}, {"num_layers", c->num_layers, 1},
              /* the position buckets: a quarter of them exact (bidirectional), at least one */
              {"relative_attention_num_buckets", c->num_buckets, 4}};
    for (size_t i = 0; i < sizeof lo / sizeof lo[0]; i++)
        if (lo[i].value < lo[i].min) {
            error_set("%s: field '%s' is %d; it must be >= %d", path, lo[i].key, lo[i].value, lo[i].min);
            goto out;
        }
    /* the bucket formula divides by log(max_distance / max_exact), max_exact = num_buckets/2 at
     * most: a smaller distance gives a non-positive log and bucket indices out of range */
    if (c->max_distance <= c->num_buckets / 2) {
        error_set("%s: field 'relative_attention_max_distance' is %d; it must be > relative_attention_num_buckets / 2 = %d",
                  path, c->max_distance, c->num_buckets / 2);
        goto out;
    }
    const struct {
        const char *key;
        int value;
    } ids[] = {{"pad_token_id", c->pad_id}, {"eos_token_id", c->eos_id}, {"decoder_start_token_id", c->decoder_start_id}};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (ids[i].value >= c->vocab_size) {
            error_set("%s: field '%s' is %d, outside the vocabulary [0, %d)", path, ids[i].key, ids[i].value,
                      c->vocab_size);
            goto out;
        }
    if (!(c->layer_norm_eps >= 0)) {
        error_set("%s: field 'layer_norm_epsilon' is %g; it must be >= 0", path, (double)c->layer_norm_eps);
        goto out;
    }
    if (!(c->dropout_rate >= 0 && c->dropout_rate < 1)) {
        error_set("%s: field 'dropout_rate' is %g; it must be in [0, 1)", path, (double)c->dropout_rate);
        goto out;
    }
    json_t *ff = json_object_get(root, "feed_forward_proj");
    if (ff && !json_is_null(ff) && !json_is_string(ff)) {
        error_set("%s: field 'feed_forward_proj' is not a string", path);
        goto out;
    }
    const char *ffs = json_is_string(ff) ? json_string_value(ff) : "relu";
    if (!strcmp(ffs, "relu")) c->ffn = T5_FFN_RELU;
    else if (!strcmp(ffs, "gated-gelu")) c->ffn = T5_FFN_GATED_GELU;
    else if (!strcmp(ffs, "gelu_new")) c->ffn = T5_FFN_GELU;
    else if (!strcmp(ffs, "gated-relu")) c->ffn = T5_FFN_GATED_RELU;
    else if (!strcmp(ffs, "gelu")) { /* transformers maps it to the erf form, not gelu_new */
        error_set("%s: field 'feed_forward_proj': 'gelu' is the exact (erf) GELU in transformers, which this program "
                  "does not implement; it has 'gelu_new' (the tanh approximation T5 v1.1 uses), 'gated-gelu', "
                  "'relu' and 'gated-relu'", path);
        goto out;
    } else {
        error_set("%s: field 'feed_forward_proj': unsupported value '%s' (relu, gated-gelu, gelu_new, gated-relu)", path, ffs);
        goto out;
    }
    c->gated = c->ffn == T5_FFN_GATED_GELU || c->ffn == T5_FFN_GATED_RELU;
    json_t *tie = json_object_get(root, "tie_word_embeddings");
    if (tie && !json_is_null(tie) && !json_is_boolean(tie)) {
        error_set("%s: field 'tie_word_embeddings' is not true or false", path);
        goto out;
    }
    c->tied = tie && json_is_boolean(tie) ? json_is_true(tie) : 1;
    json_t *scale = json_object_get(root, "scale_decoder_outputs");
    if (scale && !json_is_null(scale) && !json_is_boolean(scale)) {
        error_set("%s: field 'scale_decoder_outputs' is not true or false", path);
        goto out;
    }
    if (json_is_boolean(scale)) /* transformers 5 */
        c->head_scale = json_is_true(scale) ? T5_HEAD_SCALE_ON : T5_HEAD_SCALE_OFF;
    rc = 0;
out:
    json_decref(root);
    return rc;
}

int64_t t5_config_param_count(const struct t5_config *c) {
    int64_t d = c->d_model, inner = (int64_t)c->num_heads * c->d_kv, ff = c->d_ff;
    int64_t attn = 4 * d * inner, ffn = (c->gated ? 3 : 2) * d * ff;
    int64_t enc = c->num_layers * (attn + ffn + 2 * d), dec = c->num_decoder_layers * (2 * attn + ffn + 3 * d);
    int64_t n = (int64_t)c->vocab_size * d + enc + dec + 2 * d + 2 * (int64_t)c->num_buckets * c->num_heads;
    if (!c->tied) n += (int64_t)c->vocab_size * d;
    return n;
}
