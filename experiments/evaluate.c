/* evaluate.c: load and tokenize a task split; greedy-decode and score it. */
#include "experiments/evaluate.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/tokenizer.h"

int task_split_load(struct task_split *s, const struct task *t, const char *data_dir,
                    const char *split, const struct task_options *o, const struct tokenizer *tok) {
    memset(s, 0, sizeof *s);
    if (task_get(t, data_dir, split, o, &s->ex))
        return error_wrap("task %s, split %s: ", t->name, split);
    for (size_t i = 0; i < s->ex.n; i++) {
        const struct example *e = &s->ex.ex[i];
        int32_t *src = NULL, *tgt = NULL;
        size_t ns = 0, nt = 0;
        int rc = tokenizer_encode(tok, e->source, strlen(e->source), &src, &ns);
        if (!rc) rc = tokenizer_encode(tok, e->target, strlen(e->target), &tgt, &nt);
        if (!rc) rc = seq2seq_add(&s->ids, src, (int)ns, tgt, (int)nt);
        free(src);
        free(tgt);
        if (rc) {
            task_split_free(s);
            return error_wrap("task %s, split %s, example %zu: ", t->name, split, i);
        }
    }
    if (s->ex.n == 0) {
        task_split_free(s);
        return error_set("task %s, split %s: no examples", t->name, split);
    }
    return 0;
}

void task_split_free(struct task_split *s) {
    example_set_free(&s->ex);
    seq2seq_free(&s->ids);
}

int evaluate_split(struct exec *x, const struct t5_model *m, const struct tokenizer *tok,
                   const struct task_split *s, int batch, int max_source_len,
                   struct task_result *out) {
    int n = s->ids.n;
    char **preds = calloc((size_t)n, sizeof *preds);
    int *idx = malloc(sizeof(int) * (size_t)batch);
    int32_t *gen = malloc(sizeof(int32_t) * (size_t)batch * EVAL_MAX_LENGTH);
    int rc = (!preds || !idx || !gen) ? error_set("out of memory") : 0;
    int was_training = x->training, was_recording = x->record;
    x->training = 0;
    x->record = 0;
    struct seq2seq_batch b = {0}; /* reused by every batch */
    for (int start = 0; start < n && !rc; start += batch) {
        int nb = n - start < batch ? n - start : batch;
        for (int i = 0; i < nb; i++)
            idx[i] = start + i;
        if ((rc = seq2seq_make_batch(&b, &s->ids, idx, nb, max_source_len, 1, &m->cfg))) break;
        int len = 0;
        rc = t5_generate_greedy(x, m, nb, b.b.src_len, b.enc_ids, b.enc_mask, EVAL_MAX_LENGTH, gen,
                                &len);
        exec_reset(x);
        for (int i = 0; i < nb && !rc; i++) {
            /* skip the decoder start token; decode drops </s>, <pad> and other special tokens */
            preds[start + i] =
                tokenizer_decode(tok, gen + (size_t)i * EVAL_MAX_LENGTH + 1, (size_t)(len - 1),
                                 TOKENIZER_DECODE_SKIP_SPECIAL | TOKENIZER_DECODE_CLEANUP);
            if (!preds[start + i]) rc = -1;
        }
    }
    x->training = was_training;
    x->record = was_recording;
    if (!rc) rc = task_score(&s->ex, (const char *const *)preds, (size_t)n, out);
    for (int i = 0; preds && i < n; i++)
        free(preds[i]);
    free(preds);
    seq2seq_batch_free(&b);
    free(idx);
    free(gen);
    return rc;
}
