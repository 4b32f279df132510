/* tiny_model.h: the project's own small T5 for the offline `tiny` preset. A T5 v1.0
 * layout (ReLU FFN, tied head) over the tiny tokenizer (assets/tiny/tokenizer.json), with
 * transformers' per-tensor initialisation (T5PreTrainedModel._init_weights, factor 1:
 * embeddings N(0,1); q N(0,(d*d_kv)^-1/2); k, v N(0,d^-1/2); o N(0,(H*d_kv)^-1/2);
 * wi N(0,d^-1/2); wo N(0,d_ff^-1/2); position bias N(0,d^-1/2); norms 1), then
 * PRE-TRAINED with T5's span-corruption objective on the synthetic corpus
 * (datasets/synthetic.h) for a fixed number of steps, so that methods that freeze the base
 * (adapters, prompts) start from meaningful features.
 *
 * Everything is determined by the spec (seeded), so the folder is cached once under
 * <cache>/models/tiny-<hash of the spec>/ (config.json, model.safetensors, tokenizer.json,
 * TINY_MODEL = the spec), written in a temporary folder and renamed into place. */
#ifndef COMPACTER_EXPERIMENTS_TINY_MODEL_H
#define COMPACTER_EXPERIMENTS_TINY_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/t5_model.h"

struct json_t;

struct tiny_model_spec {
    int d_model, d_kv, d_ff, num_heads, num_layers, num_decoder_layers;
    int pretrain_steps, pretrain_batch, pretrain_max_tokens, pretrain_warmup;
    double pretrain_lr;
    double pretrain_supervised; /* fraction of pre-training examples that are supervised
                                   synthetic-task examples (0: span corruption only) */
    uint64_t seed;
    uint32_t pretrain_tasks; /* the synthetic tasks of the supervised examples, bit i:
                                synthetic_task_name(i); 0: all of them */
};

/* {d_model 64, d_kv 16, d_ff 256, heads 4, layers 2+2, 400 steps of batch 32, 64-token
 * inputs, warmup 30, lr 3e-3, seed 1}: 270k parameters, pre-trained in about 35 s on one
 * CPU core (span-corruption loss from 6.5 to about 2.3). */
struct tiny_model_spec tiny_model_spec_default(void);

/* Override fields of s from a JSON object {"d_model": 64, "pretrain_steps": 0,
 * "pretrain_tasks": ["syn-cola", "syn-mnli"], ...}; unknown keys or bad values are errors
 * naming `where` (e.g. "file: presets.tiny.tiny_model"). */
int tiny_model_spec_from_json(struct tiny_model_spec *s, const struct json_t *obj,
                              const char *where);

/* "syn-cola,syn-mnli" -> s->pretrain_tasks (names of synthetic tasks, comma-separated);
 * an unknown or repeated name is an error naming `where`. */
int tiny_model_spec_set_tasks(struct tiny_model_spec *s, const char *names, const char *where);

/* The spec as one line of "key value" pairs (the cache stamp) and its cache folder name.
 * pretrain_tasks appears only when it is a strict subset and pretrain_supervised > 0, so
 * the specs that existed before it keep their names. */
void tiny_model_spec_text(const struct tiny_model_spec *s, char *buf, size_t cap);
void tiny_model_cache_name(const struct tiny_model_spec *s, char *buf, size_t cap);

/* Initialise every parameter of m with T5's per-tensor scheme from `seed`. */
int tiny_model_init_weights(struct t5_model *m, uint64_t seed);

typedef void (*tiny_model_log)(void *ctx, const char *line);

/* Build the model (init + pre-training on backend `device`) into out_dir (must not exist;
 * created through a temporary sibling and renamed). log may be NULL. */
int tiny_model_make(const struct tiny_model_spec *s, const char *tokenizer_path, const char *device,
                    const char *out_dir, tiny_model_log log, void *ctx);

/* The cached folder for the spec, made on first use (another process making it at the same
 * time is fine: the first rename wins). */
int tiny_model_ensure(const struct tiny_model_spec *s, const char *tokenizer_path,
                      const char *device, char *dir_out, size_t cap, tiny_model_log log, void *ctx);

#endif
