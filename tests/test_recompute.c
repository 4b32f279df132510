/* test_recompute.c: attention probabilities recomputed in backward (op_attention,
 * x->recompute_attention in core/exec.h) against the op-by-op chain that keeps them.
 *  1. Parity, on the fixture T5s of both families (v1.0 ReLU, v1.1 gated-GELU) at batch 8,
 *     source 32 (padded: the mask matters), target 8 (some labels -100): full fine-tuning,
 *     compacter++, prompt tuning (a longer encoder sequence) and LoRA on q, v (some attentions
 *     whose k needs no gradient: the per-node choice then keeps some chains), dropout off and
 *     on, two steps each. With the probabilities kept (EXEC_ATTN_KEEP), recomputed where it
 *     saves memory (EXEC_ATTN_RECOMPUTE, the default) and recomputed everywhere
 *     (EXEC_ATTN_RECOMPUTE_ALWAYS): the loss, the logits, every trained tensor's gradient and
 *     the dropout stream's offset are bitwise the same, and finite with freed memory
 *     poisoned (NaN): nothing reads memory freed too early. The tape is checked to hold
 *     recomputing nodes of every kind (encoder self-attention with the position bias,
 *     decoder self-attention with the causal mask, cross-attention with the encoder mask).
 *  2. Memory, v1.0 full fine-tuning with dropout at that shape: the bytes live after the
 *     forward drop by exactly the kept probabilities (two per attention with dropout:
 *     B*H*Q*K*4 bytes each, derived below from the shapes) less the bias and mask
 *     recomputation pins, and the step's live peak (exec_peak_bytes) drops by at least the
 *     amount derived below; the peak never rises in any configuration of part 1. */
#include "tests/check.h"

#include "core/autograd.h"
#include "core/error.h"
#include "core/t5_forward.h"
#include "core/trainable.h"
#include "methods/method.h"

#define FIX "tests/fixtures/t5"
enum { B = 8, S = 32, T = 8, STEPS = 2 };

/* what one step produced */
struct step {
    float loss;
    float *logits;
    int64_t n_logits;
    int n_grad;
    float **grad; /* every trained tensor's gradient, in the method's order */
    int64_t *grad_n;
    char **grad_name;
    uint64_t rng_offset;
    int64_t nonfinite;
};

struct run {
    struct step step[STEPS];
    int fused[3]; /* recomputing nodes: encoder self, decoder self (causal), cross (no bias) */
    int chain;    /* "attention context" nodes of the op-by-op chain */
    size_t live_fwd, peak;
};

static void run_free(struct run *r) {
    for (int s = 0; s < STEPS; s++) {
        struct step *st = &r->step[s];
        free(st->logits);
        for (int i = 0; i < st->n_grad; i++) {
            free(st->grad[i]);
            free(st->grad_name[i]);
        }
        free(st->grad);
        free(st->grad_n);
        free(st->grad_name);
    }
    memset(r, 0, sizeof *r);
}

static int64_t count_nonfinite(const float *p, int64_t n) {
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++)
        bad += !isfinite(p[i]);
    return bad;
}

static float *copy_of(const void *src, size_t bytes) {
    float *d = malloc(bytes ? bytes : 1);
    if (d) memcpy(d, src, bytes);
    return d;
}

/* The fixed batch: sequence b has S - 3b real tokens, target row b its last b/2 labels -100. */
static int32_t enc_ids[B * S], enc_mask[B * S], labels[B * T], dec_ids[B * T];

static void make_batch(const struct t5_config *c) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < S; t++) {
            int real = t < S - 3 * b;
            enc_ids[b * S + t] = real ? 2 + (b * 131 + t * 17) % (c->vocab_size - 2) : c->pad_id;
            enc_mask[b * S + t] = real;
        }
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            labels[b * T + t] = t >= T - b / 2 ? -100 : 2 + (b * 29 + t * 7) % (c->vocab_size - 2);
    t5_shift_right(c, labels, B, T, dec_ids);
}

/* STEPS training steps (forward + backward, gradients zeroed before each; no optimizer step,
 * so each step sees the same weights and a new dropout stream position). */
static int run_case(const char *fam, const char *method, const char *const *opts, int n_opts,
                    int mode, int dropout, struct run *r) {
    char dir[64];
    snprintf(dir, sizeof dir, FIX "/%s", fam);
    struct t5_model m;
    struct method_instance mi = {0};
    struct trainable tr = {0};
    struct exec x;
    memset(r, 0, sizeof *r);
    if (t5_model_load(&m, dir, &backend_cpu)) return -1;
    if (exec_init(&x, &backend_cpu)) {
        t5_model_free(&m);
        return -1;
    }
    int rc = method_attach(&mi, method, &m, (const char **)opts, n_opts, 42) ||
             trainable_init(&tr, &backend_cpu, mi.train, mi.n_train, NULL);
    make_batch(&m.cfg);
    struct t5_batch batch = {B, S, T, enc_ids, enc_mask, dec_ids, labels};
    x.data.poison = 1; /* whatever the environment says: a read of freed memory shows as NaN */
    x.recompute_attention = mode;
    x.record = 1;
    x.training = dropout;
    x.seed = 1234;
    for (int s = 0; s < STEPS && !rc; s++) {
        struct t5_outputs o;
        struct step *st = &r->step[s];
        rc = trainable_zero_grad(&tr) || t5_forward(&x, &m, &batch, &o);
        if (rc) break;
        if (s == 0) {
            r->live_fwd = x.data.live;
            for (const struct tape_node *n = x.tape; n; n = n->prev)
                if (!strcmp(n->op, "attention"))
                    r->fused[n->i[1] ? 1 : n->in[3] ? 0 : 2]++;
                else if (!strcmp(n->op, "attention context"))
                    r->chain++;
        }
        if ((rc = backward(&x, o.loss))) break;
        if (s == 0) r->peak = x.data.live_peak;
        st->loss = *(const float *)o.loss->data;
        st->n_logits = tensor_numel(o.logits);
        st->logits = copy_of(o.logits->data, tensor_bytes(o.logits));
        st->nonfinite = !isfinite(st->loss) + count_nonfinite(st->logits, st->n_logits);
        st->n_grad = mi.n_train;
        st->grad = calloc((size_t)mi.n_train, sizeof *st->grad);
        st->grad_n = calloc((size_t)mi.n_train, sizeof *st->grad_n);
        st->grad_name = calloc((size_t)mi.n_train, sizeof *st->grad_name);
        for (int i = 0; i < mi.n_train; i++) {
            const struct tensor *t = mi.train[i];
            st->grad_n[i] = t->grad ? tensor_numel(t) : 0;
            st->grad[i] = copy_of(t->grad, (size_t)st->grad_n[i] * sizeof(float));
            st->grad_name[i] = strdup(t->name ? t->name : "?");
            st->nonfinite += count_nonfinite(st->grad[i], st->grad_n[i]);
        }
        st->rng_offset = x.rng_offset;
        rc = exec_reset(&x);
    }
    trainable_free(&tr);
    if (mi.method) method_detach(&mi);
    exec_free(&x);
    t5_model_free(&m);
    return rc;
}

/* Bitwise comparison of two runs; returns the number of differences found (each reported)
 * and adds the gradient elements compared to *n_el. */
static int differences(const char *what, const struct run *a, const struct run *b, int64_t *n_el) {
    int diff = 0;
    for (int s = 0; s < STEPS; s++) {
        const struct step *x = &a->step[s], *y = &b->step[s];
        if (memcmp(&x->loss, &y->loss, sizeof x->loss)) {
            fprintf(stderr, "  %s step %d: loss %.9g vs %.9g\n", what, s, x->loss, y->loss);
            diff++;
        }
        if (x->n_logits != y->n_logits ||
            memcmp(x->logits, y->logits, (size_t)x->n_logits * sizeof(float))) {
            fprintf(stderr, "  %s step %d: logits differ\n", what, s);
            diff++;
        }
        if (x->rng_offset != y->rng_offset) {
            fprintf(stderr, "  %s step %d: dropout offset %llu vs %llu\n", what, s,
                    (unsigned long long)x->rng_offset, (unsigned long long)y->rng_offset);
            diff++;
        }
        if (x->n_grad != y->n_grad) {
            fprintf(stderr, "  %s step %d: %d vs %d trained tensors\n", what, s, x->n_grad,
                    y->n_grad);
            diff++;
            continue;
        }
        for (int i = 0; i < x->n_grad; i++) {
            int64_t n = x->grad_n[i], j = 0;
            if (n != y->grad_n[i] || n == 0) {
                fprintf(stderr, "  %s step %d: %s: %lld vs %lld gradient elements\n", what, s,
                        x->grad_name[i], (long long)n, (long long)y->grad_n[i]);
                diff++;
                continue;
            }
            while (j < n && !memcmp(&x->grad[i][j], &y->grad[i][j], sizeof(float)))
                j++;
            if (j < n) {
                fprintf(stderr, "  %s step %d: d %s [%lld] %.9g vs %.9g\n", what, s,
                        x->grad_name[i], (long long)j, x->grad[i][j], y->grad[i][j]);
                diff++;
            }
            *n_el += n;
        }
    }
    return diff;
}

struct method_case {
    const char *name;
    const char *opts[3];
    int n_opts;
};

static const char *const MODE[] = {"keep", "recompute", "always"};

/* part 2 reads these */
static struct run v10_full_drop[3];

static void parity(const char *fam, const struct t5_config *c, const struct method_case *mc,
                   int dropout) {
    struct run r[3];
    char what[160];
    snprintf(what, sizeof what, "%s %s dropout %s", fam, mc->name, dropout ? "on" : "off");
    for (int mode = 0; mode < 3; mode++)
        if (run_case(fam, mc->name, mc->opts, mc->n_opts, mode, dropout, &r[mode])) {
            CHECK(0, "%s, %s: %s", what, MODE[mode], error_message());
            for (int k = 0; k < mode; k++)
                run_free(&r[k]);
            return;
        }
    int64_t n_el = 0;
    for (int mode = 0; mode < 3; mode++) {
        for (int s = 0; s < STEPS; s++)
            CHECK(r[mode].step[s].nonfinite == 0,
                  "%s, %s, step %d: %lld non-finite values (freed memory read?)", what, MODE[mode],
                  s, (long long)r[mode].step[s].nonfinite);
        if (mode == EXEC_ATTN_KEEP) continue;
        char w[200];
        snprintf(w, sizeof w, "%s, %s vs keep", what, MODE[mode]);
        int d = differences(w, &r[mode], &r[EXEC_ATTN_KEEP], &n_el);
        CHECK(d == 0, "%s: %d differences", w, d);
    }
    /* the tapes: keep records only chains; always only recomputing nodes; the default
     * recomputes every kind of attention at least once (prompt tuning's first decoder
     * layer records no self-attention: nothing below it trains) */
    const struct run *k = &r[EXEC_ATTN_KEEP], *d = &r[EXEC_ATTN_RECOMPUTE],
                     *a = &r[EXEC_ATTN_RECOMPUTE_ALWAYS];
    int total = k->chain;
    CHECK(k->fused[0] + k->fused[1] + k->fused[2] == 0, "%s: keep recorded recomputing nodes",
          what);
    CHECK(a->chain == 0 && a->fused[0] + a->fused[1] + a->fused[2] == total,
          "%s: always: %d chains, %d recomputing nodes of %d", what, a->chain,
          a->fused[0] + a->fused[1] + a->fused[2], total);
    CHECK(d->chain + d->fused[0] + d->fused[1] + d->fused[2] == total,
          "%s: the default recorded %d + %d of %d", what, d->chain,
          d->fused[0] + d->fused[1] + d->fused[2], total);
    for (int kind = 0; kind < 3; kind++)
        CHECK(d->fused[kind] > 0, "%s: no recomputing node of kind %d", what, kind);
    if (!strcmp(mc->name, "full"))
        CHECK(a->fused[0] == c->num_layers && a->fused[1] == c->num_decoder_layers &&
                  a->fused[2] == c->num_decoder_layers,
              "%s: recomputing nodes %d/%d/%d", what, a->fused[0], a->fused[1], a->fused[2]);
    /* memory: the default never keeps more or peaks higher than keeping */
    CHECK(d->live_fwd <= k->live_fwd && d->peak <= k->peak,
          "%s: recompute %zu live after forward, peak %zu; keep %zu, %zu", what, d->live_fwd,
          d->peak, k->live_fwd, k->peak);
    printf("  ok %-40s bitwise equal over %d steps (%lld gradient elements a step); attention "
           "nodes %d: "
           "recomputed enc/dec/cross %d/%d/%d (always %d/%d/%d); live after forward %zu -> %zu, "
           "peak %zu -> %zu "
           "(%.2fx)\n",
           what, STEPS, (long long)n_el / (2 * STEPS), total, d->fused[0], d->fused[1], d->fused[2],
           a->fused[0], a->fused[1], a->fused[2], k->live_fwd, d->live_fwd, k->peak, d->peak,
           (double)d->peak / (double)k->peak);
    if (!strcmp(fam, "v10") && !strcmp(mc->name, "full") && dropout) {
        memcpy(v10_full_drop, r, sizeof r);
        return;
    }
    for (int mode = 0; mode < 3; mode++)
        run_free(&r[mode]);
}

/* Part 2: v1.0, full fine-tuning, dropout on, at B x S x T. Every trained attention keeps, in
 * the chain, its probabilities [B, H, Q, K] (the softmax node) and the dropped ones (the
 * context node): 2 B H Q K 4 bytes. Recomputation keeps instead the position biases [H, Q, K]
 * (one per stack) and the encoder mask [B, S] (the chain frees them after the forward). */
static void memory(const struct t5_config *c) {
    const struct run *k = &v10_full_drop[EXEC_ATTN_KEEP], *r = &v10_full_drop[EXEC_ATTN_RECOMPUTE];
    if (!k->peak || !r->peak) {
        CHECK(0, "no v10 full fine-tuning runs to measure");
        return;
    }
    const size_t H = (size_t)c->num_heads, f4 = sizeof(float);
    const size_t enc_self = B * H * S * S * f4, dec_self = B * H * T * T * f4,
                 cross = B * H * T * S * f4;
    const size_t kept =
        2 * ((size_t)c->num_layers * enc_self + (size_t)c->num_decoder_layers * (dec_self + cross));
    const size_t pins = H * S * S * f4 + H * T * T * f4 + (size_t)B * S * f4;
    /* all multiples of the pool's alignment: no rounding to add */
    CHECK(enc_self % POOL_ALIGN == 0 && dec_self % POOL_ALIGN == 0 && cross % POOL_ALIGN == 0 &&
              (H * S * S * f4) % POOL_ALIGN == 0 && (H * T * T * f4) % POOL_ALIGN == 0 &&
              (B * S * f4) % POOL_ALIGN == 0,
          "sizes are not multiples of %d", POOL_ALIGN);
    const size_t saving = kept - pins;
    /* The peak: the chain's step reaches its peak when backward starts, every probability
     * still kept; the recomputing step is then `saving` lower, and its backward adds at most
     * three probability buffers of one attention at a time (probs, d dropped probs, d probs;
     * later probs, d probs, d scores), the encoder's being the largest. */
    const size_t transient = 3 * enc_self;
    printf("  v10 full fine-tuning, dropout on, batch %d src %d tgt %d, %d heads, %d+%d layers:\n"
           "    kept probabilities %zu bytes (per attention 2 x %zu encoder self, 2 x %zu decoder "
           "self, 2 x %zu "
           "cross), recompute pins %zu: live after forward %zu -> %zu (-%zu, expected -%zu)\n"
           "    live peak (exec_peak_bytes) %zu -> %zu (-%zu, %.2fx; at least -%zu expected)\n",
           B, S, T, c->num_heads, c->num_layers, c->num_decoder_layers, kept, enc_self, dec_self,
           cross, pins, k->live_fwd, r->live_fwd, k->live_fwd - r->live_fwd, saving, k->peak,
           r->peak, k->peak - r->peak, (double)r->peak / (double)k->peak, saving - transient);
    CHECK(k->live_fwd - r->live_fwd == saving, "live after forward: %zu saved, expected %zu",
          k->live_fwd - r->live_fwd, saving);
    CHECK(r->peak + saving - transient <= k->peak, "peak %zu -> %zu: less than %zu saved", k->peak,
          r->peak, saving - transient);
}

int main(void) {
    static const struct method_case methods[2][4] = {
        {{"full", {0}, 0},
         {"compacter++", {"reduction_factor=4", "phm_dim=2"}, 2},
         {"prompt-tuning-r", {"prompt_length=5"}, 1},
         {"lora", {"rank=2"}, 1}},
        {{"full", {0}, 0},
         {"compacter++", {"reduction_factor=3", "phm_dim=2"}, 2},
         {"prompt-tuning-r", {"prompt_length=5"}, 1},
         {"lora", {"rank=2"}, 1}},
    };
    const char *fams[2] = {"v10", "v11"};
    for (int f = 0; f < 2; f++) {
        char dir[64];
        struct t5_config c;
        snprintf(dir, sizeof dir, FIX "/%s/config.json", fams[f]);
        if (t5_config_load(&c, dir)) {
            CHECK(0, "%s: %s", fams[f], error_message());
            continue;
        }
        for (int mth = 0; mth < 4; mth++)
            for (int dropout = 0; dropout < 2; dropout++)
                parity(fams[f], &c, &methods[f][mth], dropout);
        if (f == 0) memory(&c);
    }
    for (int mode = 0; mode < 3; mode++)
        run_free(&v10_full_drop[mode]);
    CHECK_DONE();
}
