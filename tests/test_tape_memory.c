/* test_tape_memory.c: activation memory with liveness (core/pool.h, core/autograd.h).
 *  1. A chain of K linears on an input that requires a gradient, loss = cross-entropy: with
 *     frozen weights no linear keeps its input, with trained ones each does. Live bytes after
 *     the forward, their peak and the pool's extent are derived by hand below.
 *  2. Steady state: the same step again makes no allocation (backend or host) after the
 *     first; the pool then has one block; exec_mark/exec_release give back what was taken.
 *  3. Poisoning: freed memory reads as NaN (or, under AddressSanitizer, is poisoned).
 *  4. T5, dropout on: full fine-tuning vs the frozen base with compacter++ and with only the
 *     decoder's final layer norm trained: fewer tape nodes, a lower peak, no gradient for
 *     frozen tensors, steps settle to no allocation; each with the attention probabilities
 *     kept until backward and recomputed there (core/exec.h), recomputing peaking lower.
 *     On the fixture T5 (v10, v11) attention probabilities, when kept (by every method),
 *     outweigh the rest (3-5 heads x 21 positions against d_model 36-40), so compacter++
 *     saves little there; a random T5 with t5-base's proportions (heads x positions =
 *     2 d_model, d_ff = 4 d_model) shows the saving the paper measures. */
#include "tests/check.h"

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "core/safetensors.h"
#include "core/t5_forward.h"
#include "core/trainable.h"
#include "methods/method.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define UNDER_ASAN 1
#else
#define UNDER_ASAN 0
#endif

/* ---- 1. the chain ---- */

enum { R = 8, D = 64, K = 4 };
#define A ((size_t)R * D * 4) /* one activation: 2048 bytes, a multiple of POOL_ALIGN */
#define SMALL ((size_t)POOL_ALIGN) /* targets (8 i32), loss [1], row losses [8]: one unit each */

struct chain_figures {
    size_t live_fwd, live_peak, extent_peak, allocs;
};

/* weights as parameters: host memory outside the pool (the CPU backend's memory) */
static float W[K][D * D], dW[K][D * D];

static int chain_step(struct exec *x, int trained, struct chain_figures *f) {
    static float in[R * D];
    int32_t tg[R];
    for (int i = 0; i < R * D; i++) in[i] = (float)((i * 37) % 17 - 8) / 16.0f;
    for (int i = 0; i < R; i++) tg[i] = (i * 5) % D;
    struct tensor w[K];
    for (int k = 0; k < K; k++) {
        tensor_init(&w[k], DTYPE_F32, 2, (int64_t[]){D, D});
        w[k].data = W[k];
        w[k].name = "w";
        w[k].requires_grad = trained;
        w[k].grad = trained ? dW[k] : NULL;
    }
    x->record = 1;
    struct tensor *X = exec_upload(x, DTYPE_F32, 2, (int64_t[]){R, D}, in);
    if (!X) return -1;
    X->requires_grad = 1;
    struct tensor *y = X;
    for (int k = 0; k < K; k++) {
        struct tensor *prev = y;
        y = op_linear(x, y, &w[k]);
        if (prev != X) exec_drop(x, prev); /* the forward is done with it */
    }
    f->live_fwd = x->data.live;
    struct tensor *t = exec_upload(x, DTYPE_I32, 1, (int64_t[]){R}, tg);
    struct tensor *loss = op_cross_entropy(x, y, t);
    int rc = loss ? backward(x, loss) : -1;
    f->live_peak = x->data.live_peak;
    f->extent_peak = x->data.extent_peak;
    f->allocs = x->data.n_system_allocs + x->meta.n_system_allocs;
    x->record = 0;
    return rc;
}

static void test_chain(void) {
    for (int k = 0; k < K; k++)
        for (int i = 0; i < D * D; i++) W[k][i] = (float)((i * 13 + k) % 11 - 5) / 64.0f;
    struct chain_figures fz, tr;
    struct exec x;
    CHECK(exec_init(&x, &backend_cpu) == 0 && chain_step(&x, 0, &fz) == 0, "frozen chain: %s", error_message());
    exec_free(&x);
    CHECK(exec_init(&x, &backend_cpu) == 0 && chain_step(&x, 1, &tr) == 0, "trained chain: %s", error_message());
    exec_free(&x);
    printf("  chain of %d linears [%d x %d]: frozen weights: %zu live after forward, peak %zu live, extent %zu; "
           "trained: %zu, %zu, %zu\n",
           K, R, D, fz.live_fwd, fz.live_peak, fz.extent_peak, tr.live_fwd, tr.live_peak, tr.extent_peak);
    /* Frozen: linear k keeps neither input (dx = dy W needs W only). After the forward only
     * X (held by the caller) and y_K (the logits) are live. */
    CHECK(fz.live_fwd == 2 * A, "frozen: %zu bytes live after the forward, want %zu", fz.live_fwd, 2 * A);
    /* Trained: linear k keeps y_{k-1} for dW_k = dy^T y_{k-1}: X, y_1..y_K. */
    CHECK(tr.live_fwd == (K + 1) * A, "trained: %zu bytes live after the forward, want %zu", tr.live_fwd,
          (size_t)(K + 1) * A);
    /* Frozen peak: in backward of linear k, X, y_K, targets, loss, row losses, dy_k and
     * dy_{k-1} (dy_k goes once linear k has run): 4A + 3 small. The forward's most is 3A. */
    CHECK(fz.live_peak == 4 * A + 3 * SMALL, "frozen peak %zu, want %zu", fz.live_peak, 4 * A + 3 * SMALL);
    /* Trained peak: backward of linear K: X, y_1..y_K, the three small ones, dy_K, dy_{K-1}. */
    CHECK(tr.live_peak == (K + 3) * A + 3 * SMALL, "trained peak %zu, want %zu", tr.live_peak,
          (size_t)(K + 3) * A + 3 * SMALL);
    /* Extent (best fit, else the top; holes reused newest first). Frozen: y_3 reuses y_1's
     * place, y_4 y_2's: X@0 y4@2A, top 3A; the small three fill y_3's hole from A; dy_4@3A,
     * dy_3@4A: the top reaches 5A; then dy_2 takes dy_4's place and dy_1 and dX alternate
     * below 5A. Trained: X..y_4 at 0..4A, the small three and the loss gradient up to
     * 5A + 4 small, dy_4 and dy_3 above: 7A + 4 small; the rest fits in freed places. */
    CHECK(fz.extent_peak == 5 * A, "frozen extent %zu, want %zu", fz.extent_peak, 5 * A);
    CHECK(tr.extent_peak == 7 * A + 4 * SMALL, "trained extent %zu, want %zu", tr.extent_peak, 7 * A + 4 * SMALL);
}

/* ---- 2. steady state, marks ---- */

static void test_steady(void) {
    struct exec x;
    struct chain_figures f[3];
    int rc = exec_init(&x, &backend_cpu);
    for (int s = 0; s < 3 && !rc; s++) {
        rc = chain_step(&x, s & 1, &f[s]) || exec_reset(&x);
        f[s].allocs = x.data.n_system_allocs + x.meta.n_system_allocs;
    }
    CHECK(rc == 0, "steps: %s", error_message());
    /* step 1 placed everything beyond the (empty) block, each allocation its own; the
     * reset made one block for its extent, rounded up to POOL_BLOCK_ROUND, and the later
     * steps (the trained chain's extent is larger) fit in it */
    CHECK(x.data.cap == POOL_BLOCK_ROUND && x.data.block, "one block of %zu bytes, not %zu", POOL_BLOCK_ROUND,
          x.data.cap);
    size_t before = f[2].allocs, overflow = x.data.n_overflow;
    for (int s = 0; s < 3 && !rc; s++) rc = chain_step(&x, s & 1, &f[0]) || exec_reset(&x);
    CHECK(rc == 0 && x.data.n_system_allocs + x.meta.n_system_allocs == before && x.data.n_overflow == overflow,
          "steady steps made %zu allocations", x.data.n_system_allocs + x.meta.n_system_allocs - before);

    /* a mark gives back memory, holds, pins and nodes taken after it */
    x.record = 1;
    struct tensor *a = exec_tensor(&x, DTYPE_F32, 2, (int64_t[]){R, D});
    a->requires_grad = 1;
    size_t live = x.data.live, top = x.data.top;
    struct exec_mark m = exec_mark(&x);
    struct tensor *b = op_gelu_new(&x, a); /* pins a */
    struct tensor *c = op_gelu_new(&x, b);
    exec_drop(&x, b);
    CHECK(c && x.tape_len == 2 && x.data.live == live + 2 * A, "after the mark: %zu live", x.data.live);
    exec_release(&x, m);
    CHECK(x.tape_len == 0 && x.data.live == live && x.data.top == top && x.data.n_live == 1,
          "release: %zu live (want %zu), top %zu (want %zu)", x.data.live, live, x.data.top, top);
    exec_drop(&x, a);
    CHECK(x.data.live == 0 && x.data.top == 0 && x.data.n_live == 0, "everything dropped: %zu live", x.data.live);

    /* scopes: everything but keep and what nodes pinned */
    a = exec_tensor(&x, DTYPE_F32, 2, (int64_t[]){R, D});
    a->requires_grad = 1;
    struct exec_scope sc = exec_scope_begin(&x);
    b = op_relu(&x, op_gelu_new(&x, a)); /* gelu pins a (outside), relu its output b */
    c = op_scale(&x, b, 2.0f);           /* pins nothing */
    struct tensor *d = op_scale(&x, c, 0.5f);
    exec_scope_end(&x, sc, d);
    CHECK(x.data.live == 3 * A && pool_owns(&x.data, b->data) && !pool_owns(&x.data, c->data),
          "scope: %zu live (a, b pinned by relu, d kept), want %zu", x.data.live, 3 * A);
    x.record = 0;
    exec_reset(&x);
    exec_free(&x);
}

/* ---- 3. poisoning ---- */

static void test_poison(void) {
    struct exec x;
    if (exec_init(&x, &backend_cpu)) {
        CHECK(0, "%s", error_message());
        return;
    }
    x.data.poison = 1;
    for (int step = 0; step < 2; step++) { /* beyond the block, then in it */
        struct tensor *t = exec_tensor(&x, DTYPE_F32, 1, (int64_t[]){1000});
        struct tensor *keep = exec_tensor(&x, DTYPE_F32, 1, (int64_t[]){1000}); /* t not at the top */
        CHECK(t && keep && backend_cpu.fill(t->data, 1.0f, 1000) == 0, "%s", error_message());
        float *p = t->data;
        exec_drop(&x, t);
        if (step == 1) {
#if UNDER_ASAN
            CHECK(__asan_address_is_poisoned(p) && __asan_address_is_poisoned(p + 999), "freed memory not poisoned");
#else
            int nan = 0;
            for (int i = 0; i < 1000; i++) nan += isnan(p[i]) != 0;
            CHECK(nan == 1000, "%d of 1000 freed floats are NaN", nan);
#endif
        }
        exec_reset(&x);
    }
    printf("  ok freed memory %s\n", UNDER_ASAN ? "poisoned for AddressSanitizer" : "reads as NaN");
    exec_free(&x);
}

/* ---- 4. the fixture T5 ---- */

struct figures {
    int tape;
    size_t live_fwd, live_peak, extent_peak, steady_allocs;
};

/* t5-base's proportions at a twelfth of its width, 2 + 2 layers, random weights */
static const struct t5_config BASE_SHAPED = {
    .vocab_size = 500, .d_model = 64, .d_kv = 16, .d_ff = 256, .num_heads = 4, .num_layers = 2,
    .num_decoder_layers = 2, .num_buckets = 32, .max_distance = 128, .layer_norm_eps = 1e-6f,
    .dropout_rate = 0.1f, .ffn = T5_FFN_RELU, .tied = 1, .decoder_start_id = 0, .pad_id = 0, .eos_id = 1};
enum { BS_B = 4, BS_S = 32, BS_T = 8 };

/* fam: a fixture family with its reference batch, or NULL: BASE_SHAPED on a fixed random
 * batch. what: "full", "compacter++" or the name of the one trained base tensor. */
static int measure(const char *fam, const char *what, int mode, struct figures *f) {
    char dir[64], ref[96];
    snprintf(dir, sizeof dir, "tests/fixtures/t5/%s", fam ? fam : "");
    snprintf(ref, sizeof ref, "tests/fixtures/t5/%s-reference.safetensors", fam ? fam : "v10");
    struct st_file rf;
    struct t5_model m;
    struct exec x;
    struct trainable tr = {0};
    struct method_instance mi = {0};
    if (st_open(&rf, ref) ||
        (fam ? t5_model_load(&m, dir, &backend_cpu)
             : t5_model_create(&m, &BASE_SHAPED, &backend_cpu) || t5_model_randomize(&m, 3, 0.05f)) ||
        exec_init(&x, &backend_cpu))
        return -1;
    x.recompute_attention = mode;
    struct tensor **ts = malloc(sizeof *ts * (size_t)m.n_params);
    int n = 0, rc = ts ? 0 : error_set("out of memory");
    /* the paper's setting for the base-shaped model (reduction factor 32 at d 768 leaves 24;
     * 8 leaves 8 here), sizes that divide for the fixtures */
    const char *opts[] = {!fam ? "reduction_factor=8" : strcmp(fam, "v10") ? "reduction_factor=3" : "reduction_factor=4",
                          !fam ? "phm_dim=4" : "phm_dim=2"};
    if (!rc && !strcmp(what, "compacter++")) {
        rc = method_attach(&mi, "compacter++", &m, opts, 2, 42) ||
             trainable_init(&tr, &backend_cpu, mi.train, mi.n_train, NULL);
    } else if (!rc) {
        for (int i = 0; i < m.n_params; i++)
            if (!strcmp(what, "full") || !strcmp(m.params[i].name, what)) ts[n++] = &m.params[i];
        rc = trainable_init(&tr, &backend_cpu, ts, n, NULL);
    }
    const struct st_tensor *e = st_find(&rf, "enc_ids"), *l = st_find(&rf, "labels");
    const char *base = (const char *)rf.map + rf.data_start;
    struct t5_batch b = {(int)e->shape[0], (int)e->shape[1], (int)l->shape[1], (const int32_t *)(base + e->begin),
                         (const int32_t *)(base + st_find(&rf, "enc_mask")->begin),
                         (const int32_t *)(base + st_find(&rf, "dec_ids")->begin),
                         (const int32_t *)(base + l->begin)};
    static int32_t enc[BS_B * BS_S], dec[BS_B * BS_T], lab[BS_B * BS_T];
    if (!fam) {
        for (int i = 0; i < BS_B * BS_S; i++) enc[i] = 2 + (i * 7919) % (BASE_SHAPED.vocab_size - 2);
        for (int i = 0; i < BS_B * BS_T; i++) lab[i] = 2 + (i * 104729) % (BASE_SHAPED.vocab_size - 2);
        t5_shift_right(&m.cfg, lab, BS_B, BS_T, dec);
        b = (struct t5_batch){BS_B, BS_S, BS_T, enc, NULL, dec, lab};
    }
    struct t5_outputs o;
    x.record = 1;
    x.training = 1; /* dropout on, as in training */
    x.seed = 42;
    size_t allocs = 0;
    for (int step = 0; step < 4 && !rc; step++) {
        if (step == 2) allocs = x.data.n_system_allocs + x.meta.n_system_allocs;
        rc = trainable_zero_grad(&tr) || t5_forward(&x, &m, &b, &o);
        if (!rc && step == 0) {
            f->live_fwd = x.data.live;
            f->tape = x.tape_len;
        }
        if (!rc) rc = backward(&x, o.loss);
        if (!rc && step == 0) {
            f->live_peak = x.data.live_peak;
            f->extent_peak = x.data.extent_peak;
        }
        if (!rc) rc = exec_reset(&x);
    }
    f->steady_allocs = x.data.n_system_allocs + x.meta.n_system_allocs - allocs;
    if (!rc && strcmp(what, "full") && strcmp(what, "compacter++")) {
        int others = 0;
        for (int i = 0; i < m.n_params; i++) others += strcmp(m.params[i].name, what) && m.params[i].grad != NULL;
        CHECK(others == 0, "%d frozen tensors got a gradient", others);
    }
    free(ts);
    trainable_free(&tr);
    if (mi.method) method_detach(&mi);
    exec_free(&x);
    t5_model_free(&m);
    st_close(&rf);
    return rc;
}

static void test_t5(const char *fam, double max_ratio, int mode, struct figures out[2]) {
    struct figures full, cpp, ln;
    if (measure(fam, "full", mode, &full) || measure(fam, "compacter++", mode, &cpp) ||
        measure(fam, "decoder.final_layer_norm.weight", mode, &ln)) {
        CHECK(0, "%s: %s", fam ? fam : "base-shaped", error_message());
        return;
    }
    out[0] = full;
    out[1] = cpp;
    if (!fam) fam = "base-shaped";
    const struct figures *fs[] = {&full, &cpp, &ln};
    const char *names[] = {"full fine-tuning", "compacter++", "final norm only"};
    printf("  attention probabilities %s:\n", mode == EXEC_ATTN_KEEP ? "kept" : "recomputed");
    for (int i = 0; i < 3; i++)
        printf("  %-11s %-17s %4d tape nodes, %7zu bytes live after forward, peak %7zu live (%.2fx full), extent %7zu\n",
               fam, names[i], fs[i]->tape, fs[i]->live_fwd, fs[i]->live_peak,
               (double)fs[i]->live_peak / (double)full.live_peak, fs[i]->extent_peak);
    CHECK(ln.tape * 10 < full.tape, "%s: the final norm alone records %d nodes vs %d", fam, ln.tape, full.tape);
    CHECK(cpp.live_fwd < full.live_fwd * max_ratio, "%s: compacter++ keeps %zu bytes after the forward vs %zu", fam,
          cpp.live_fwd, full.live_fwd);
    CHECK(cpp.live_peak < full.live_peak * max_ratio, "%s: compacter++ peak %zu vs full %zu (at most %.2fx)", fam,
          cpp.live_peak, full.live_peak, max_ratio);
    CHECK(cpp.extent_peak < full.extent_peak * max_ratio, "%s: compacter++ extent %zu vs full %zu (at most %.2fx)",
          fam, cpp.extent_peak, full.extent_peak, max_ratio);
    CHECK(ln.extent_peak < cpp.extent_peak, "%s: final norm peak %zu vs compacter++ %zu", fam, ln.extent_peak,
          cpp.extent_peak);
    for (int i = 0; i < 3; i++)
        CHECK(fs[i]->steady_allocs == 0, "%s %s: steps 3-4 made %zu allocations", fam, names[i], fs[i]->steady_allocs);
}

int main(void) {
    test_chain();
    test_steady();
    test_poison();
    const char *fams[] = {"v10", "v11", NULL};
    const double max_ratio[] = {0.95, 0.96, 0.82};
    for (int f = 0; f < 3; f++) {
        struct figures keep[2] = {{0}}, rec[2] = {{0}};
        test_t5(fams[f], max_ratio[f], EXEC_ATTN_KEEP, keep);
        test_t5(fams[f], max_ratio[f], EXEC_ATTN_RECOMPUTE, rec);
        for (int i = 0; i < 2; i++)
            CHECK(rec[i].live_peak < keep[i].live_peak && rec[i].live_fwd < keep[i].live_fwd,
                  "%s %s: recomputing peaks at %zu (%zu after forward), keeping at %zu (%zu)",
                  fams[f] ? fams[f] : "base-shaped", i ? "compacter++" : "full", rec[i].live_peak, rec[i].live_fwd,
                  keep[i].live_peak, keep[i].live_fwd);
    }
    CHECK_DONE();
}
