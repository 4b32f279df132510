/* t5_model.h: T5 weights (one backend allocation, llm.c style, each parameter a named
 * tensor view into it) and loading them from a Hugging Face model folder. */
#ifndef COMPACTER_T5_MODEL_H
#define COMPACTER_T5_MODEL_H

#include "core/backend.h"
#include "core/t5_config.h"
#include "core/t5_hooks.h"
#include "core/tensor.h"

struct t5_attn {
    struct tensor *q, *k, *v, *o; /* q,k,v (H*dk, d); o (d, H*dk) */
};

struct t5_ffn {
    struct tensor *wi;   /* (d_ff, d); wi_0 when gated */
    struct tensor *wi_1; /* (d_ff, d), gated only */
    struct tensor *wo;   /* (d, d_ff) */
};

struct t5_block {
    struct tensor *ln_self;  /* (d) layer.0.layer_norm */
    struct tensor *ln_cross; /* (d) decoder layer.1.layer_norm */
    struct tensor *ln_ff;    /* (d) */
    struct t5_attn self, cross;
    struct t5_ffn ff;
};

struct t5_model {
    struct t5_config cfg;
    const struct backend *be;
    /* every parameter, in Hugging Face order and naming; data views into storage */
    struct tensor *params;
    int n_params;
    float *storage; /* backend memory, n_elements floats */
    int64_t n_elements;
    /* the frozen linear weights once stored bf16 (t5_model_frozen_to_bf16), or NULL */
    uint16_t *storage_bf16;
    int64_t n_bf16;
    /* named views */
    struct tensor *shared;                        /* (V, d) */
    struct tensor *enc_bias_table, *dec_bias_table; /* (num_buckets, H) */
    struct t5_block *enc, *dec;
    struct tensor *enc_final_ln, *dec_final_ln; /* (d) */
    struct tensor *lm_head;                     /* (V, d); == shared when tied */
    const struct t5_hooks *hooks;               /* the active method's, or NULL */
};

/* Lay out the parameters of a model with this config on backend be (contents undefined). */
int t5_model_create(struct t5_model *m, const struct t5_config *c, const struct backend *be);
/* Load dir/config.json and dir/model.safetensors (or the shards listed in
 * dir/model.safetensors.index.json); F32, F16 and BF16 on disk. Every tensor is checked by
 * name, shape and dtype; a missing, unexpected or mis-shaped tensor is an error naming it. */
int t5_model_load(struct t5_model *m, const char *dir, const struct backend *be);
/* For a transformers 5 config (t5_config_transformers5; a no-op otherwise): set c->tied as
 * t5_model_load decides it, from the checkpoint in dir (untied when its lm_head.weight
 * differs from shared.weight). *resolved = 1 when a checkpoint was read; without one c is
 * left as it is (tied). -1 on a corrupt checkpoint, with the error naming it. */
int t5_config_tie_from_checkpoint(struct t5_config *c, const char *dir, int *resolved);
/* Fill every parameter with N(0, std) from a fixed seed (benchmarks, synthetic models). */
int t5_model_randomize(struct t5_model *m, uint64_t seed, float std);
struct tensor *t5_model_param(const struct t5_model *m, const char *name);
/* Keep only the first `vocab` rows of the embedding (and of an untied head), as
 * transformers' resize_token_embeddings(len(tokenizer)) does in the reference before
 * training: T5 checkpoints pad their 32,100-piece vocabulary to 32,128 rows, which would
 * otherwise take part in every softmax and be trained by full fine-tuning. The model is
 * rebuilt with cfg.vocab_size = vocab (its tensors move; pointers into the old storage are
 * invalid). vocab >= cfg.vocab_size: nothing changes. */
int t5_model_cut_vocab(struct t5_model *m, int vocab);
/* bf16 storage (core/ops.h): every linear weight (attention q, k, v, o; FFN wi, wi_1, wo;
 * an untied lm_head) not among the n_train tensors of train moves to storage_bf16, rounded
 * to nearest even (core/bf16.h), and leaves the f32 storage, which shrinks to the rest (its
 * pointers move). Call once, with the method's final list of what trains. */
int t5_model_frozen_to_bf16(struct t5_model *m, struct tensor *const *train, int n_train);
/* Bytes of parameter storage: n_elements f32 and n_bf16 bf16. */
size_t t5_model_param_bytes(const struct t5_model *m);
void t5_model_free(struct t5_model *m);

#endif
