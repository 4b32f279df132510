/* test_spec_claims.c: facts of ../shared/docs/reference-spec.md and exact-behaviours.md that
 * no other test pins down, each checked against a value typed in here from the spec (or,
 * for the head factor, computed with numpy/torch and quoted below), never one produced by
 * the code under test:
 *  1. the tied head's factor f32(d_model ** -0.5) (exact-behaviours.md section 5);
 *  2. the task-name prefix only for methods without task adapters (reference-spec.md 5);
 *  3. Intrinsic-SAID on t5-base: all 257 named tensors, theta_d 19,742 zeros, lambda 258
 *     ones, nothing else trains (section 3);
 *  4. BitFit on t5-base: zero biases on q, k, v, o (self and cross), wi, wo, every block
 *     layer norm (not the final ones) and the lm_head; only they train (section 3). */
#include "tests/check.h"

#include <stdint.h>

#include "core/error.h"
#include "core/t5_config.h"
#include "core/t5_forward.h"
#include "experiments/experiment.h"
#include "methods/method.h"

#define FIX "tests/fixtures"

/* ---- 1. tied head factor ---- */

static void head_scale(void) {
    /* numpy: np.float32(d ** -0.5); torch's `x * d ** -0.5` on an f32 tensor equals x times
     * that f32 value bit for bit (checked with torch 2.x on 1e5 random values for 384, 96,
     * 768). 1.0f / sqrtf(d) gives 0x3d5105eb and 0x3dd105eb for 384 and 96. */
    static const struct {
        int d;
        uint32_t bits;
    } want[] = {{768, 0x3d13cd3a}, {512, 0x3d3504f3}, {384, 0x3d5105ec}, {96, 0x3dd105ec},
                {1024, 0x3d000000}, {36, 0x3e2aaaab}, {40, 0x3e21e89b}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        float f = t5_tied_head_scale(want[i].d);
        uint32_t u;
        memcpy(&u, &f, sizeof u);
        CHECK(u == want[i].bits, "d_model %d: head factor 0x%08x, want 0x%08x", want[i].d, u,
              want[i].bits);
    }
}

/* ---- 2. task prefix ---- */

static void task_prefix(void) {
    /* reference-spec.md 5: prefix for full FT, BitFit, prompt tuning, SAID; none for the
     * methods with task adapters */
    static const struct {
        const char *method;
        int prefix;
    } want[] = {{"full", 1},           {"bitfit", 1},          {"prompt-tuning-r", 1},
                {"prompt-tuning-t", 1}, {"intrinsic-said", 1},  {"adapter", 0},
                {"pfeiffer", 0},        {"adapterdrop", 0},     {"adapter-lowrank", 0},
                {"phm-adapter", 0},     {"compacter", 0},       {"compacter++", 0}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct method *me = method_find(want[i].method);
        CHECK(me != NULL, "method %s missing", want[i].method);
        if (me)
            CHECK(me->task_prefix == want[i].prefix, "%s: task_prefix %d, want %d", want[i].method,
                  me->task_prefix, want[i].prefix);
    }
}

/* ---- 3, 4. SAID and BitFit on t5-base ---- */

static int ends(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static int all_equal(const struct tensor *t, float v) {
    const float *p = t->data;
    for (int64_t i = 0; i < tensor_numel(t); i++)
        if (p[i] != v) return 0;
    return 1;
}

static void said(struct t5_model *m) {
    struct method_instance mi;
    if (method_attach(&mi, "intrinsic-said", m, NULL, 0, 42)) {
        CHECK(0, "intrinsic-said: %s", error_message());
        return;
    }
    /* t5-base: shared + encoder (12 x 8 + relative bias + final norm = 98) + decoder
     * (12 x 13 + relative bias + final norm = 158) = 257, lm_head tied (not a tensor of
     * its own), as len(list(T5ForConditionalGeneration.named_parameters())) */
    CHECK(m->n_params == 257, "t5-base has %d named tensors, want 257", m->n_params);
    const struct tensor *theta = NULL, *lambda = NULL;
    for (int i = 0; i < mi.n_params; i++) {
        if (!strcmp(mi.params[i]->name, "intrinsic_parameter")) theta = mi.params[i];
        if (!strcmp(mi.params[i]->name, "intrinsic_parameter_said")) lambda = mi.params[i];
    }
    CHECK(theta && tensor_numel(theta) == 19742 && all_equal(theta, 0.0f),
          "theta_d: want 19,742 zeros");
    CHECK(lambda && tensor_numel(lambda) == 258 && all_equal(lambda, 1.0f),
          "lambda: want 258 ones");
    CHECK(mi.n_train == 2 && method_trainable_count(&mi) == 20000,
          "SAID trains %d tensors (%lld values), want theta_d and lambda (20,000)", mi.n_train,
          (long long)method_trainable_count(&mi));
    method_detach(&mi);
}

static void bitfit(struct t5_model *m) {
    struct method_instance mi;
    if (method_attach(&mi, "bitfit", m, NULL, 0, 42)) {
        CHECK(0, "bitfit: %s", error_message());
        return;
    }
    int n_q = 0, n_cross = 0, n_wi = 0, n_wo = 0, n_ln = 0, n_head = 0, n_final = 0, zero = 1;
    for (int i = 0; i < mi.n_params; i++) {
        const char *nm = mi.params[i]->name;
        n_q += ends(nm, "Attention.q.bias") || ends(nm, "Attention.k.bias") ||
               ends(nm, "Attention.v.bias") || ends(nm, "Attention.o.bias");
        n_cross += strstr(nm, "EncDecAttention.") != NULL;
        n_wi += ends(nm, "DenseReluDense.wi.bias");
        n_wo += ends(nm, "DenseReluDense.wo.bias");
        n_ln += strstr(nm, "block.") && ends(nm, "layer_norm.bias");
        n_head += !strcmp(nm, "lm_head.bias") && tensor_numel(mi.params[i]) == 32100;
        n_final += strstr(nm, "final_layer_norm") != NULL;
        zero &= all_equal(mi.params[i], 0.0f);
    }
    /* 4 projections x (12 encoder self + 12 decoder self + 12 cross) = 144, 48 of them
     * cross; one wi and one wo per block (24); 2 + 3 layer norms per encoder / decoder
     * block (60); one lm_head bias of the cut vocabulary */
    CHECK(n_q == 144 && n_cross == 48 && n_wi == 24 && n_wo == 24 && n_ln == 60 &&
              n_head == 1 && n_final == 0,
          "bitfit biases: attention %d (cross %d), wi %d, wo %d, block norms %d, head %d, final "
          "norms %d",
          n_q, n_cross, n_wi, n_wo, n_ln, n_head, n_final);
    CHECK(mi.n_params == 144 + 24 + 24 + 60 + 1, "bitfit declares %d tensors, want 253", mi.n_params);
    CHECK(zero, "bitfit biases not zero-initialised");
    int only_own = mi.n_train == mi.n_params;
    for (int i = 0; i < mi.n_train && only_own; i++) only_own = ends(mi.train[i]->name, ".bias");
    CHECK(only_own && method_trainable_count(&mi) == 280932,
          "bitfit must train its biases only (280,932 values): %d tensors, %lld values", mi.n_train,
          (long long)method_trainable_count(&mi));
    method_detach(&mi);
}

static void t5_base_methods(void) {
    struct t5_config c;
    struct t5_model m;
    if (t5_config_load(&c, FIX "/configs/t5-base.json")) {
        CHECK(0, "%s", error_message());
        return;
    }
    c.vocab_size = 32100;
    if (t5_model_create(&m, &c, &backend_cpu)) {
        CHECK(0, "%s", error_message());
        return;
    }
    said(&m);
    bitfit(&m);
    t5_model_free(&m);
}

int main(void) {
    head_scale();
    task_prefix();
    t5_base_methods();
    CHECK_DONE();
}
