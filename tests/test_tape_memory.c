/* test_tape_memory.c: the tape's PEFT saving, on the arena's own counters. With the whole
 * base frozen except the decoder's final layer norm, the forward records far fewer nodes and
 * the backward allocates far fewer activation-gradient bytes than full fine-tuning on the
 * same batch; a frozen tensor gets no gradient. Prints both figures. */
#include "tests/check.h"

#include "core/autograd.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "core/t5_forward.h"
#include "core/trainable.h"

struct figures {
    size_t high_water, after_forward;
    int tape;
};

static int measure(const char *only, struct figures *f) {
    struct st_file rf;
    struct t5_model m;
    struct exec x;
    struct trainable tr;
    if (st_open(&rf, "tests/fixtures/t5/v11-reference.safetensors") ||
        t5_model_load(&m, "tests/fixtures/t5/v11", &backend_cpu) || exec_init(&x, &backend_cpu))
        return -1;
    struct tensor **ts = malloc(sizeof *ts * (size_t)m.n_params);
    int n = 0;
    for (int i = 0; i < m.n_params; i++)
        if (!only || !strcmp(m.params[i].name, only)) ts[n++] = &m.params[i];
    if (trainable_init(&tr, &backend_cpu, ts, n, NULL)) return -1;
    const struct st_tensor *e = st_find(&rf, "enc_ids"), *l = st_find(&rf, "labels");
    int B = (int)e->shape[0], S = (int)e->shape[1], T = (int)l->shape[1];
    const void *base = rf.map + rf.data_start;
    struct t5_batch b = {B, S, T, (const int32_t *)((const char *)base + e->begin),
                         (const int32_t *)((const char *)base + st_find(&rf, "enc_mask")->begin),
                         (const int32_t *)((const char *)base + st_find(&rf, "dec_ids")->begin),
                         (const int32_t *)((const char *)base + l->begin)};
    struct t5_outputs o;
    x.record = 1;
    int rc = t5_forward(&x, &m, &b, &o);
    f->after_forward = x.data.live;
    f->tape = x.tape_len;
    if (!rc) rc = backward(&x, o.loss);
    f->high_water = exec_peak_bytes(&x);
    if (only && !rc) {
        int others = 0;
        for (int i = 0; i < m.n_params; i++) others += strcmp(m.params[i].name, only) && m.params[i].grad != NULL;
        CHECK(others == 0, "%d frozen tensors got a gradient", others);
    }
    free(ts);
    trainable_free(&tr);
    exec_free(&x);
    t5_model_free(&m);
    st_close(&rf);
    return rc;
}

int main(void) {
    struct figures full, peft;
    if (measure(NULL, &full) || measure("decoder.final_layer_norm.weight", &peft)) {
        CHECK(0, "%s", error_message());
        CHECK_DONE();
    }
    printf("  full fine-tuning: %d tape nodes, arena %zu bytes after forward, %zu peak\n", full.tape,
           full.after_forward, full.high_water);
    printf("  frozen base:      %d tape nodes, arena %zu bytes after forward, %zu peak\n", peft.tape,
           peft.after_forward, peft.high_water);
    CHECK(peft.tape * 10 < full.tape, "frozen base records %d nodes vs %d", peft.tape, full.tape);
    CHECK(peft.high_water < full.high_water, "frozen base peak %zu vs full %zu", peft.high_water, full.high_water);
    size_t bw_full = full.high_water - full.after_forward, bw_peft = peft.high_water - peft.after_forward;
    CHECK(bw_peft * 4 < bw_full, "backward bytes %zu (frozen base) vs %zu (full)", bw_peft, bw_full);
    CHECK_DONE();
}
