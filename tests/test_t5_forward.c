/* test_t5_forward.c: the T5 forward pass against Hugging Face transformers on the tiny
 * fixture models of both families (tools/make_fixtures.py): encoder states and logits
 * within |a-b| <= 1e-5 + 1e-4|b|, loss within 1e-5 relative, greedy ids identical;
 * bf16, f16 and sharded checkpoints load and give HF's logits for those weights; so do
 * checkpoints saved by transformers 5 (tied or untied head, scaled or not). */
#include "tests/check.h"

#include "core/error.h"
#include "core/exec.h"
#include "core/safetensors.h"
#include "core/t5_forward.h"
#include "core/t5_model.h"

#define FIX "tests/fixtures/t5"

static const void *ref_data(struct st_file *f, const char *name, int64_t *numel) {
    const struct st_tensor *t = st_find(f, name);
    if (!t) {
        fprintf(stderr, "reference tensor %s missing\n", name);
        exit(1);
    }
    if (numel) *numel = st_numel(t);
    return f->map + f->data_start + t->begin;
}

static const struct st_tensor *ref_tensor(struct st_file *f, const char *name) { return st_find(f, name); }

static void run_family(const char *fam) {
    char dir[256], path[256];
    struct st_file rf;
    snprintf(path, sizeof path, FIX "/%s-reference.safetensors", fam);
    if (st_open(&rf, path)) {
        CHECK(0, "%s", error_message());
        return;
    }
    const struct st_tensor *ids_t = ref_tensor(&rf, "enc_ids"), *lab_t = ref_tensor(&rf, "labels");
    int B = (int)ids_t->shape[0], S = (int)ids_t->shape[1], T = (int)lab_t->shape[1];
    const int32_t *enc_ids = ref_data(&rf, "enc_ids", NULL), *enc_mask = ref_data(&rf, "enc_mask", NULL);
    const int32_t *labels = ref_data(&rf, "labels", NULL), *dec_ref = ref_data(&rf, "dec_ids", NULL);

    struct t5_model m;
    snprintf(dir, sizeof dir, FIX "/%s", fam);
    if (t5_model_load(&m, dir, &backend_cpu)) {
        CHECK(0, "load %s: %s", dir, error_message());
        st_close(&rf);
        return;
    }
    struct exec x;
    CHECK(exec_init(&x, &backend_cpu) == 0, "exec_init");

    int32_t dec_ids[64];
    t5_shift_right(&m.cfg, labels, B, T, dec_ids);
    CHECK(memcmp(dec_ids, dec_ref, sizeof(int32_t) * (size_t)(B * T)) == 0, "%s: shift_right differs from HF", fam);

    struct t5_batch b = {B, S, T, enc_ids, enc_mask, dec_ids, labels};
    struct t5_outputs out;
    char what[128];
    if (t5_forward(&x, &m, &b, &out)) {
        CHECK(0, "%s forward: %s", fam, error_message());
    } else {
        int64_t n;
        const float *want = ref_data(&rf, "enc_out", &n);
        snprintf(what, sizeof what, "%s encoder states", fam);
        check_close_f32(what, out.enc_out->data, want, (size_t)n, 1e-5, 1e-4);
        want = ref_data(&rf, "logits", &n);
        snprintf(what, sizeof what, "%s logits", fam);
        check_close_f32(what, out.logits->data, want, (size_t)n, 1e-5, 1e-4);
        want = ref_data(&rf, "loss", NULL);
        snprintf(what, sizeof what, "%s loss", fam);
        check_close_f32(what, out.loss->data, want, 1, 0, 1e-5);
    }
    exec_reset(&x);

    /* greedy decoding */
    const struct st_tensor *gen_t = ref_tensor(&rf, "generated");
    int L = (int)gen_t->shape[1];
    const int32_t *gen_ref = ref_data(&rf, "generated", NULL);
    int32_t gen[256];
    int len = 0;
    if (t5_generate_greedy(&x, &m, B, S, enc_ids, enc_mask, L, gen, &len)) {
        CHECK(0, "%s generate: %s", fam, error_message());
    } else {
        CHECK(len == L, "%s: generated %d columns, HF %d", fam, len, L);
        int same = 1;
        for (int i = 0; i < B; i++)
            for (int t = 0; t < len && t < L; t++) same &= gen[i * L + t] == gen_ref[i * L + t];
        CHECK(same, "%s: greedy ids differ from HF", fam);
        if (same) printf("  ok %s greedy ids identical (%d x %d)\n", fam, B, L);
    }
    exec_reset(&x);

    /* the vocabulary cut to fewer rows (the runner's resize to the tokenizer's size): the
     * logits of the rows kept are HF's, for the tied and the untied head alike */
    int V = m.cfg.vocab_size, max_id = 0;
    for (int i = 0; i < B * S; i++) max_id = enc_ids[i] > max_id ? enc_ids[i] : max_id;
    for (int i = 0; i < B * T; i++) max_id = labels[i] > max_id ? labels[i] : max_id;
    int Vc = max_id + 1; /* the fewest rows the fixture's ids allow */
    CHECK(Vc < V, "%s: fixture ids reach %d of %d rows: nothing to cut", fam, max_id, V);
    CHECK(t5_model_cut_vocab(&m, Vc) == 0 && m.cfg.vocab_size == Vc && m.shared->shape[0] == Vc &&
              m.lm_head->shape[0] == Vc,
          "%s: cut to %d rows: %s", fam, Vc, error_message());
    if (!t5_forward(&x, &m, &b, &out)) {
        int64_t n;
        const float *want = ref_data(&rf, "logits", &n);
        float *cut = malloc(sizeof(float) * (size_t)(B * T) * (size_t)Vc);
        for (int r = 0; cut && r < B * T; r++) memcpy(cut + (size_t)r * Vc, want + (size_t)r * V, sizeof(float) * (size_t)Vc);
        snprintf(what, sizeof what, "%s logits, vocabulary cut", fam);
        if (cut) check_close_f32(what, out.logits->data, cut, (size_t)(B * T) * (size_t)Vc, 1e-5, 1e-4);
        free(cut);
    } else {
        CHECK(0, "%s forward after the cut: %s", fam, error_message());
    }
    exec_reset(&x);
    t5_model_free(&m);

    /* half-precision and sharded checkpoints: the committed copies (tests/fixtures/t5/), each
     * required, so a missing one fails instead of being skipped; only v11 has a sharded copy */
    static const char *variants[][2] = {{"bf16", "logits_bf16"}, {"f16", "logits_f16"}, {"sharded", "logits"}};
    int n_variants = strcmp(fam, "v11") ? 2 : 3;
    for (int v = 0; v < n_variants; v++) {
        snprintf(dir, sizeof dir, FIX "/%s-%s", fam, variants[v][0]);
        if (t5_model_load(&m, dir, &backend_cpu)) {
            CHECK(0, "load %s: %s", dir, error_message());
            continue;
        }
        if (t5_forward(&x, &m, &b, &out)) {
            CHECK(0, "%s forward: %s", dir, error_message());
        } else {
            int64_t n;
            const float *want = ref_data(&rf, variants[v][1], &n);
            snprintf(what, sizeof what, "%s-%s logits", fam, variants[v][0]);
            check_close_f32(what, out.logits->data, want, (size_t)n, 1e-5, 1e-4);
        }
        exec_reset(&x);
        t5_model_free(&m);
    }
    exec_free(&x);
    st_close(&rf);
}

/* Checkpoints saved by transformers 5 (tools/make_hf5_fixtures.py): its config.json always
 * says tie_word_embeddings true and keeps the head's scaling in scale_decoder_outputs; a
 * checkpoint with its own lm_head.weight is untied. Logits within 1e-5 + 1e-4|b|. */
static void run_hf5(const char *name, int want_tied, int want_scaled) {
    char dir[256], path[256], what[128];
    struct st_file rf;
    snprintf(path, sizeof path, FIX "/hf5-%s-reference.safetensors", name);
    snprintf(dir, sizeof dir, FIX "/hf5-%s", name);
    struct t5_model m;
    struct exec x;
    if (st_open(&rf, path) || t5_model_load(&m, dir, &backend_cpu)) {
        CHECK(0, "%s: %s", dir, error_message());
        return;
    }
    CHECK(m.cfg.tied == want_tied && t5_head_scaled(&m.cfg) == want_scaled, "%s: tied %d scaled %d, want %d %d", dir,
          m.cfg.tied, t5_head_scaled(&m.cfg), want_tied, want_scaled);
    /* the same decision from the config and the checkpoint alone (compacter params, info) */
    struct t5_config c;
    int resolved = 0;
    char cfg[300];
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    CHECK(t5_config_load(&c, cfg) == 0 && c.tied == 1 && t5_config_transformers5(&c) &&
              t5_config_tie_from_checkpoint(&c, dir, &resolved) == 0 && resolved && c.tied == want_tied,
          "%s: t5_config_tie_from_checkpoint: tied %d resolved %d (%s)", dir, c.tied, resolved, error_message());
    const struct st_tensor *ids_t = ref_tensor(&rf, "enc_ids"), *dec_t = ref_tensor(&rf, "dec_ids");
    int B = (int)ids_t->shape[0], S = (int)ids_t->shape[1], T = (int)dec_t->shape[1];
    struct t5_batch b = {B, S, T, ref_data(&rf, "enc_ids", NULL), ref_data(&rf, "enc_mask", NULL),
                         ref_data(&rf, "dec_ids", NULL), NULL};
    struct t5_outputs out;
    if (exec_init(&x, &backend_cpu) || t5_forward(&x, &m, &b, &out)) {
        CHECK(0, "%s forward: %s", dir, error_message());
    } else {
        int64_t n;
        const float *want = ref_data(&rf, "logits", &n);
        snprintf(what, sizeof what, "hf5-%s logits", name);
        check_close_f32(what, out.logits->data, want, (size_t)n, 1e-5, 1e-4);
    }
    exec_free(&x);
    t5_model_free(&m);
    st_close(&rf);
}

/* A transformers 5 checkpoint holding an lm_head.weight equal to shared.weight (bytes and
 * dtype) stays tied, as transformers 5 ties it: hf5-tied-unscaled with the head written out. */
static void check_hf5_equal_head(void) {
    char dir[] = "/tmp/compacter-hf5-XXXXXX", path[300];
    struct st_file f;
    if (!mkdtemp(dir) || st_open(&f, FIX "/hf5-tied-unscaled/model.safetensors")) {
        CHECK(0, "hf5 equal head: setup: %s", error_message());
        return;
    }
    struct st_out *outs = calloc((size_t)f.n + 1, sizeof *outs);
    for (int i = 0; i < f.n; i++) {
        const struct st_tensor *t = &f.tensors[i];
        outs[i] = (struct st_out){t->name, t->dtype, t->ndim, {0}, f.map + f.data_start + t->begin};
        memcpy(outs[i].shape, t->shape, sizeof outs[i].shape);
        if (!strcmp(t->name, "shared.weight")) outs[f.n] = outs[i], outs[f.n].name = "lm_head.weight";
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    int ok = outs[f.n].name && st_write(path, outs, f.n + 1, NULL) == 0;
    snprintf(path, sizeof path, "cp " FIX "/hf5-tied-unscaled/config.json %s/", dir);
    ok = ok && system(path) == 0;
    struct t5_model m;
    ok = ok && t5_model_load(&m, dir, &backend_cpu) == 0;
    CHECK(ok && m.cfg.tied && m.lm_head == m.shared, "hf5 equal head: loaded %d, tied %d (%s)", ok, ok && m.cfg.tied,
          error_message());
    if (ok) {
        printf("  ok hf5 checkpoint with lm_head.weight == shared.weight loads tied\n");
        t5_model_free(&m);
    }
    free(outs);
    st_close(&f);
    snprintf(path, sizeof path, "rm -rf %s", dir);
    if (system(path)) fprintf(stderr, "could not remove %s\n", dir);
}

int main(void) {
    run_family("v10");
    run_family("v11");
    run_hf5("v10", 1, 1);
    run_hf5("tied-unscaled", 1, 0);
    run_hf5("untied", 0, 0);
    check_hf5_equal_head();
    CHECK_DONE();
}
