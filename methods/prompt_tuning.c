/* prompt_tuning.c: prompt tuning (Lester et al. 2021) as the Compacter paper's baseline
 * (reference-spec.md section 3). A prompt "encoder.prompt" of prompt_length x d_model
 * vectors is prepended to the encoder's token embeddings before embedding dropout (the
 * input_embeds hook, op_prepend); the core extends the attention mask with ones, so the
 * encoder's self-attention and the decoder's cross-attention see the prompt. Only the
 * prompt trains (layer norms stay frozen).
 *   prompt-tuning-r: U(-0.5, 0.5) init (reference lr 3e-2)
 *   prompt-tuning-t: rows of the embedding matrix (reference lr 3e-1): prompt_init_rows=first
 *     copies token ids 0..P-1 (the reference); =sampled copies P distinct ids drawn
 *     uniformly from the vocabulary (partial Fisher-Yates over [0, V) driven by splitmix64
 *     seeded with the method seed), as Lester et al.'s sampled-vocabulary init; =normal
 *     draws N(0, 1) (reference-spec.md's quirk: under transformers 4.6's fast init the
 *     reference probably copied rows of a freshly initialised embedding, T5's N(0, 1)).
 * Options: prompt_length (100). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/ops.h"
#include "core/splitmix.h"
#include "methods/method.h"

struct prompt_state {
    struct tensor *prompt;
};

static struct tensor *prompt_input_embeds(void *ctx, struct exec *x, struct tensor *h,
                                          int *n_prefix) {
    struct method_instance *mi = ctx;
    struct prompt_state *s = mi->state;
    *n_prefix = (int)s->prompt->shape[0];
    return op_prepend(x, s->prompt, h);
}

static int prompt_common(struct method_instance *mi, int from_vocab) {
    const struct t5_config *c = &mi->model->cfg;
    int P;
    if (method_opt_int(mi, "prompt_length", &P)) return -1;
    if (P < 1) return error_set("prompt_length must be >= 1 (got %d)", P);
    struct prompt_state *s = calloc(1, sizeof *s);
    if (!s) return error_set("out of memory");
    mi->state = s;
    s->prompt = method_param(mi, "encoder.prompt", 2, (int64_t[]){P, c->d_model});
    if (!s->prompt || method_alloc(mi) || method_train(mi, s->prompt)) return -1;
    mi->hooks.input_embeds = prompt_input_embeds;
    if (!from_vocab) return init_uniform(mi, s->prompt, -0.5, 0.5);

    const char *rows = method_opt(mi, "prompt_init_rows");
    if (!strcmp(rows, "normal")) return init_normal(mi, s->prompt, 0.0, 1.0);
    int sampled = !strcmp(rows, "sampled");
    if (!sampled && strcmp(rows, "first"))
        return error_set("prompt_init_rows=%s: use first, sampled or normal", rows);
    if (P > c->vocab_size)
        return error_set("prompt_length %d exceeds the vocabulary (%d rows) to copy from", P,
                         c->vocab_size);
    const struct backend *be = mi->model->be;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)c->vocab_size);
    float *row = malloc(sizeof(float) * (size_t)c->d_model);
    int rc = (!ids || !row) ? error_set("out of memory") : 0;
    for (int i = 0; !rc && i < c->vocab_size; i++)
        ids[i] = i;
    if (!rc && sampled) { /* first P positions of a Fisher-Yates shuffle */
        uint64_t st = mi->seed;
        for (int i = 0; i < P; i++) {
            int j = i + (int)(splitmix64(&st) % (uint64_t)(c->vocab_size - i));
            int32_t t = ids[i];
            ids[i] = ids[j];
            ids[j] = t;
        }
    }
    const float *table = mi->model->shared->data;
    float *dst = s->prompt->data;
    for (int i = 0; !rc && i < P; i++) {
        rc = be->download(row, table + (size_t)ids[i] * (size_t)c->d_model,
                          sizeof(float) * (size_t)c->d_model);
        if (!rc)
            rc = be->upload(dst + (size_t)i * (size_t)c->d_model, row,
                            sizeof(float) * (size_t)c->d_model);
    }
    free(ids);
    free(row);
    return rc;
}

static int prompt_r_init(struct method_instance *mi) {
    return prompt_common(mi, 0);
}
static int prompt_t_init(struct method_instance *mi) {
    return prompt_common(mi, 1);
}

static void prompt_free(struct method_instance *mi) {
    free(mi->state);
    mi->state = NULL;
}

const struct method method_prompt_tuning_r = {
    .name = "prompt-tuning-r",
    .summary = "prompt tuning: P trained vectors before the encoder input, U(-0.5, 0.5) init",
    .task_prefix = 1,
    .options =
        (const struct method_option[]){
            {"prompt_length", "100", "number of prompt vectors prepended to the encoder input"},
            {0},
        },
    .init = prompt_r_init,
    .free = prompt_free,
};

const struct method method_prompt_tuning_t = {
    .name = "prompt-tuning-t",
    .summary = "prompt tuning: P trained vectors before the encoder input, initialised from "
               "vocabulary rows",
    .task_prefix = 1,
    .options =
        (const struct method_option[]){
            {"prompt_length", "100", "number of prompt vectors prepended to the encoder input"},
            {"prompt_init_rows", "first",
             "first: embedding rows of token ids 0..P-1 (reference); sampled: P "
             "distinct random vocabulary rows; normal: N(0, 1), the rows the reference "
             "probably copied under transformers 4.6's fast init"},
            {0},
        },
    .init = prompt_t_init,
    .free = prompt_free,
};
