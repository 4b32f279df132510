/* adapter_layer.c: the adapter family (design note in adapter_layer.h). */
#include "methods/adapter_layer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/ops.h"

enum { ACT_GELU_NEW = 0, ACT_RELU };
enum { W_GLOROT_UNIFORM = 0, W_GLOROT_NORMAL, W_NORMAL };

struct adapter_proj {
    int64_t in, out;
    struct tensor *w; /* dense [out, in] */
    struct tensor *left,
        *right;           /* lowrank [in, r] [r, out]; factorised phm [n, in/n, r] [n, r, out/n] */
    struct tensor *W;     /* phm [n, in/n, out/n] */
    struct tensor *rule;  /* phm [n, n, n]: own or the shared one */
    struct tensor *b;     /* [out] */
    struct tensor *built; /* this forward's [in, out] weight (arena or the cache) */
    struct tensor cached; /* header over this projection's part of the cache */
};

struct adapter_site {
    int present;
    struct adapter_proj down, up;
};

struct adapter_state {
    enum adapter_kind kind;
    int act, n, factorized, shared;
    int n_layers[2];
    struct adapter_site *sites; /* [stack][layer][slot: 0 self-attention, 1 FFN] */
    /* built-weight cache for inference */
    float *cache; /* backend memory, sum of in*out over built projections */
    int64_t cache_numel;
    float *snapshot; /* host copy of the method's parameters when the cache was built */
    float *scratch;  /* host buffer for the comparison */
    int cache_valid, builds, hits;
    /* during a build pass: the last rule's A^T (a shared rule's is made once per pass, not
     * once per projection) */
    const struct tensor *at_rule;
    struct tensor *at;
};

static struct adapter_site *site_at(struct adapter_state *st, int stack, int layer, int slot) {
    return &st->sites[((size_t)(stack ? st->n_layers[0] : 0) + (size_t)layer) * 2 + (size_t)slot];
}

/* ---- options ---- */

static int parse_layers(const struct method_instance *mi, const char *key, int n, char *on) {
    const char *v = method_opt(mi, key);
    if (!v) return error_set("no option '%s'", key);
    memset(on, 0, (size_t)n);
    if (!strcmp(v, "all")) {
        memset(on, 1, (size_t)n);
        return 0;
    }
    if (!strcmp(v, "none") || !*v) return 0;
    const char *p = v;
    while (*p) {
        char *end;
        long l = strtol(p, &end, 10);
        if (end == p || l < 0)
            return error_set("option %s=%s: expected all, none or a list like 5,6,7", key, v);
        if (l < n) on[l] = 1; /* layers the model lacks are ignored, as in the reference */
        p = end;
        if (*p == ',')
            p++;
        else if (*p)
            return error_set("option %s=%s: expected all, none or a list like 5,6,7", key, v);
    }
    return 0;
}

static int opt_choice(const struct method_instance *mi, const char *key, const char *const *choices,
                      int *out) {
    const char *v = method_opt(mi, key);
    if (!v) return error_set("no option '%s'", key);
    char list[256] = "";
    for (int i = 0; choices[i]; i++) {
        if (!strcmp(v, choices[i])) {
            *out = i;
            return 0;
        }
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                 choices[i]);
    }
    return error_set("option %s=%s: expected one of %s", key, v, list);
}

/* ---- parameters ---- */

static struct tensor *param(struct method_instance *mi, const char *prefix, const char *name,
                            int ndim, int64_t d0, int64_t d1, int64_t d2) {
    char full[160];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    return method_param(mi, full, ndim, (int64_t[]){d0, d1, d2});
}

static int declare_proj(struct method_instance *mi, struct adapter_state *st,
                        struct adapter_proj *p, const char *prefix, int64_t in, int64_t out,
                        int rank, struct tensor *shared_rule) {
    p->in = in;
    p->out = out;
    int64_t n = st->n;
    switch (st->kind) {
    case ADAPTER_DENSE:
        if (!(p->w = param(mi, prefix, "weight", 2, out, in, 0))) return -1;
        break;
    case ADAPTER_LOWRANK:
        if (!(p->left = param(mi, prefix, "w_left", 2, in, rank, 0))) return -1;
        if (!(p->right = param(mi, prefix, "w_right", 2, rank, out, 0))) return -1;
        break;
    case ADAPTER_PHM:
        if (in % n || out % n)
            return error_set(
                "%s: phm_dim=%d must divide both sizes %lld -> %lld (choose phm_dim or "
                "reduction_factor accordingly)",
                prefix, st->n, (long long)in, (long long)out);
        p->rule = shared_rule;
        if (!p->rule && !(p->rule = param(mi, prefix, "phm_rule", 3, n, n, n))) return -1;
        if (st->factorized) {
            if (!(p->left = param(mi, prefix, "W_left", 3, n, in / n, rank))) return -1;
            if (!(p->right = param(mi, prefix, "W_right", 3, n, rank, out / n))) return -1;
        } else if (!(p->W = param(mi, prefix, "W", 3, n, in / n, out / n))) {
            return -1;
        }
        break;
    }
    p->b = param(mi, prefix, "bias", 1, out, 0, 0);
    return p->b ? 0 : -1;
}

/* ---- building H / W (once per forward) ---- */

static struct tensor *build_weight(struct exec *x, struct adapter_state *st, const struct adapter_proj *p) {
    if (st->kind == ADAPTER_LOWRANK) return op_bmm(x, p->left, p->right); /* [in, r] @ [r, out] */
    int64_t n = st->n, ri = p->in / n, so = p->out / n;
    struct tensor *W = st->factorized ? op_bmm(x, p->left, p->right) : p->W; /* [n, ri, so] */
    /* A^T: [(a, c), i] from rule [i, (a, c)] */
    if (st->at_rule != p->rule) {
        st->at = op_view(x, op_permute_0213(x, op_view(x, p->rule, 4, (int64_t[]){1, n, n * n, 1})), 2,
                         (int64_t[]){n * n, n});
        st->at_rule = p->rule;
    }
    struct tensor *At = st->at;
    /* K[(a, c), (r, s)] = sum_i A_i[a, c] W_i[r, s] */
    struct tensor *K = op_bmm(x, At, op_view(x, W, 2, (int64_t[]){n, ri * so}));
    /* [a, c, r, s] -> [a, r, c, s] = H[a*ri + r, c*so + s] */
    struct tensor *H = op_permute_0213(x, op_view(x, K, 4, (int64_t[]){n, n, ri, so}));
    return op_view(x, H, 2, (int64_t[]){p->in, p->out});
}

static int for_each_proj(struct adapter_state *st,
                         int (*fn)(struct adapter_state *, struct adapter_proj *, void *),
                         void *arg) {
    int total = 2 * (st->n_layers[0] + st->n_layers[1]);
    for (int i = 0; i < total; i++) {
        if (!st->sites[i].present) continue;
        if (fn(st, &st->sites[i].down, arg) || fn(st, &st->sites[i].up, arg)) return -1;
    }
    return 0;
}

static int build_one(struct adapter_state *st, struct adapter_proj *p, void *arg) {
    p->built = build_weight(arg, st, p);
    return p->built ? 0 : error_wrap("building %s: ", p->b->name);
}

/* Build every projection's weight (one pass: a shared rule's A^T made once) */
static int build_all(struct adapter_state *st, struct exec *x) {
    st->at_rule = NULL;
    int rc = for_each_proj(st, build_one, x);
    st->at_rule = NULL, st->at = NULL; /* exec memory: not kept past the pass */
    return rc;
}

struct cache_walk {
    struct exec *x;
    int64_t off;
    int store; /* 1: copy built into the cache; 0: point built at the cache */
};

static int cache_one(struct adapter_state *st, struct adapter_proj *p, void *arg) {
    struct cache_walk *w = arg;
    float *dst = st->cache + w->off;
    if (w->store && w->x->be->copy2d(dst, p->out, p->built->data, p->out, p->in, p->out, 0))
        return -1;
    tensor_init(&p->cached, DTYPE_F32, 2, (int64_t[]){p->in, p->out});
    p->cached.data = dst;
    p->built = &p->cached;
    w->off += p->in * p->out;
    return 0;
}

static int adapter_before_forward(void *ctx, struct exec *x) {
    struct method_instance *mi = ctx;
    struct adapter_state *st = mi->state;
    if (st->kind == ADAPTER_DENSE) return 0;
    size_t bytes = sizeof(float) * (size_t)mi->n_elements;
    if (x->record) { /* training: on the tape; the step that follows changes the parameters */
        st->cache_valid = 0;
        return build_all(st, x);
    }
    if (!st->snapshot) {
        st->snapshot = malloc(bytes ? bytes : 1);
        st->scratch = malloc(bytes ? bytes : 1);
        if (!st->snapshot || !st->scratch) return error_set("out of memory");
    }
    if (st->cache_valid) {
        if (x->be->download(st->scratch, mi->storage, bytes)) return -1;
        if (!memcmp(st->scratch, st->snapshot, bytes)) {
            struct cache_walk w = {x, 0, 0};
            st->hits++;
            return for_each_proj(st, cache_one, &w);
        }
    }
    if (!st->cache && !(st->cache = x->be->alloc(sizeof(float) * (size_t)st->cache_numel)))
        return -1;
    if (x->be->download(st->snapshot, mi->storage, bytes) || build_all(st, x))
        return -1;
    struct cache_walk w = {x, 0, 1};
    if (for_each_proj(st, cache_one, &w)) return -1;
    st->cache_valid = 1;
    st->builds++;
    return 0;
}

/* ---- the adapter ---- */

static struct tensor *apply(struct exec *x, const struct adapter_state *st,
                            const struct adapter_proj *p, struct tensor *in) {
    if (!in) return NULL;
    if (st->kind == ADAPTER_DENSE) return op_add_bias(x, op_linear(x, in, p->w), p->b);
    if (!p->built) {
        error_set("adapter %s: weight not built (the before_forward hook did not run)", p->b->name);
        return NULL;
    }
    int64_t shape[TENSOR_MAX_DIMS];
    for (int i = 0; i < in->ndim; i++)
        shape[i] = in->shape[i];
    shape[in->ndim - 1] = p->out;
    struct tensor *y = op_bmm(x, op_view(x, in, 2, (int64_t[]){tensor_rows(in), p->in}), p->built);
    return op_add_bias(x, op_view(x, y, in->ndim, shape), p->b);
}

static struct tensor *adapter_sublayer_out(void *ctx, struct exec *x, const struct t5_site *s,
                                           struct tensor *y) {
    struct method_instance *mi = ctx;
    struct adapter_state *st = mi->state;
    if (!y || s->sublayer == T5_CROSS_ATTN ||
        (s->sublayer != T5_SELF_ATTN && s->sublayer != T5_FFN))
        return y;
    int stack = s->stack == T5_DECODER;
    if (s->layer < 0 || s->layer >= st->n_layers[stack]) return y;
    struct adapter_site *a = site_at(st, stack, s->layer, s->sublayer == T5_FFN);
    if (!a->present) return y;
    struct tensor *h = apply(x, st, &a->down, y);
    h = st->act == ACT_RELU ? op_relu(x, h) : op_gelu_new(x, h);
    return op_add(x, apply(x, st, &a->up, h), y);
}

/* ---- init ---- */

static int init_proj(struct method_instance *mi, struct adapter_state *st, struct adapter_proj *p,
                     int w_init, int c_init, double init_range, int init_rule) {
    int rc = init_constant(mi, p->b, 0.0f);
    switch (st->kind) {
    case ADAPTER_DENSE:
        return rc || init_normal(mi, p->w, 0.0, 0.01);
    case ADAPTER_LOWRANK:
        if (w_init == W_GLOROT_NORMAL)
            return rc || init_glorot_normal(mi, p->left, sqrt(2.0)) ||
                   init_glorot_normal(mi, p->right, sqrt(2.0));
        return rc || init_glorot_uniform(mi, p->left, sqrt(2.0)) ||
               init_glorot_uniform(mi, p->right, sqrt(2.0));
    case ADAPTER_PHM:
        if (init_rule) /* a per-layer rule: hard-coded ranges */
            rc = rc || (c_init ? init_uniform(mi, p->rule, -0.01, 0.01)
                               : init_normal(mi, p->rule, 0.0, 0.01));
        for (int k = 0; k < 2 && !rc; k++) {
            struct tensor *t = st->factorized ? (k ? p->right : p->left) : (k ? NULL : p->W);
            if (!t) continue;
            rc = w_init == W_GLOROT_UNIFORM ? init_glorot_uniform(mi, t, sqrt(2.0))
                 : w_init == W_GLOROT_NORMAL
                     ? init_glorot_normal(mi, t, sqrt(2.0)) /* std 2/sqrt(fan) */
                     : init_normal(mi, t, 0.0, init_range);
        }
        return rc;
    }
    return rc;
}

struct train_walk {
    struct method_instance *mi;
    int learn_rule;
};

static int train_proj(struct adapter_state *st, struct adapter_proj *p, void *arg) {
    struct train_walk *w = arg;
    struct tensor *ts[] = {p->w, p->left, p->right, p->W, p->b};
    if (st->kind == ADAPTER_PHM && !st->shared && w->learn_rule && method_train(w->mi, p->rule))
        return -1;
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        if (ts[i] && method_train(w->mi, ts[i])) return -1;
    return 0;
}

int adapter_family_init(struct method_instance *mi, enum adapter_kind kind) {
    const struct t5_config *c = &mi->model->cfg;
    struct adapter_state *st = calloc(1, sizeof *st);
    if (!st) return error_set("out of memory");
    mi->state = st;
    st->kind = kind;
    st->n_layers[0] = c->num_layers;
    st->n_layers[1] = c->num_decoder_layers;
    int rf, self_attn, ffn, norms, rank = 1, w_init = W_GLOROT_UNIFORM, c_init = 0, learn_rule = 1;
    double init_range = 0.0001;
    static const char *const acts[] = {"gelu_new", "relu", NULL};
    if (method_opt_int(mi, "reduction_factor", &rf) ||
        opt_choice(mi, "non_linearity", acts, &st->act) ||
        method_opt_bool(mi, "add_after_self_attention", &self_attn) ||
        method_opt_bool(mi, "add_after_ffn", &ffn) ||
        method_opt_bool(mi, "unfreeze_layer_norms", &norms))
        return -1;
    if (rf < 1 || c->d_model / rf < 1)
        return error_set("reduction_factor=%d leaves no bottleneck for d_model %d", rf, c->d_model);
    int64_t d = c->d_model, bott = d / rf;
    if (kind == ADAPTER_LOWRANK) {
        static const char *const inits[] = {"glorot-uniform", "glorot-normal", NULL};
        if (method_opt_int(mi, "low_rank_rank", &rank) ||
            opt_choice(mi, "low_rank_w_init", inits, &w_init))
            return -1;
    }
    if (kind == ADAPTER_PHM) {
        static const char *const inits[] = {"glorot-uniform", "glorot-normal", "normal", NULL};
        static const char *const cinits[] = {"normal", "uniform", NULL};
        if (method_opt_int(mi, "phm_dim", &st->n) || method_opt_int(mi, "phm_rank", &rank) ||
            method_opt_bool(mi, "factorized_phm", &st->factorized) ||
            method_opt_bool(mi, "shared_phm_rule", &st->shared) ||
            opt_choice(mi, "phm_c_init", cinits, &c_init) ||
            method_opt_float(mi, "phm_init_range", &init_range) ||
            opt_choice(mi, "hypercomplex_nonlinearity", inits, &w_init) ||
            method_opt_bool(mi, "learn_phm", &learn_rule))
            return -1;
        if (st->n < 1) return error_set("phm_dim=%d must be >= 1", st->n);
    }
    if (rank < 1) return error_set("rank %d must be >= 1", rank);

    char *on[2] = {calloc((size_t)st->n_layers[0] + 1, 1), calloc((size_t)st->n_layers[1] + 1, 1)};
    st->sites = calloc((size_t)(st->n_layers[0] + st->n_layers[1]) * 2 + 1, sizeof *st->sites);
    int rc = (!on[0] || !on[1] || !st->sites) ? error_set("out of memory") : 0;
    rc = rc || parse_layers(mi, "task_adapter_layers_encoder", st->n_layers[0], on[0]) ||
         parse_layers(mi, "task_adapter_layers_decoder", st->n_layers[1], on[1]);

    /* declare */
    struct tensor *shared_rule = NULL;
    if (!rc && kind == ADAPTER_PHM && st->shared) {
        int64_t n = st->n;
        shared_rule = method_param(mi, "adapters.phm_rule", 3, (int64_t[]){n, n, n});
        rc = shared_rule ? 0 : -1;
    }
    for (int stack = 0; stack < 2 && !rc; stack++)
        for (int l = 0; l < st->n_layers[stack] && !rc; l++) {
            if (!on[stack][l]) continue;
            for (int slot = 0; slot < 2 && !rc; slot++) {
                if (!(slot ? ffn : self_attn)) continue;
                struct adapter_site *a = site_at(st, stack, l, slot);
                int hf_layer = slot == 0 ? 0 : stack == 0 ? 1 : 2;
                char pre[128];
                a->present = 1;
                snprintf(pre, sizeof pre, "%s.block.%d.layer.%d.adapter.down.",
                         stack ? "decoder" : "encoder", l, hf_layer);
                rc = declare_proj(mi, st, &a->down, pre, d, bott, rank, shared_rule);
                snprintf(pre, sizeof pre, "%s.block.%d.layer.%d.adapter.up.",
                         stack ? "decoder" : "encoder", l, hf_layer);
                rc = rc || declare_proj(mi, st, &a->up, pre, bott, d, rank, shared_rule);
                if (kind != ADAPTER_DENSE) st->cache_numel += 2 * d * bott;
            }
        }
    free(on[0]);
    free(on[1]);
    if (rc || method_alloc(mi)) return -1;

    /* initialise */
    if (shared_rule)
        rc = c_init ? init_uniform(mi, shared_rule, -1.0, 1.0)
                    : init_normal(mi, shared_rule, 0.0, init_range);
    int total = 2 * (st->n_layers[0] + st->n_layers[1]);
    for (int i = 0; i < total && !rc; i++) {
        if (!st->sites[i].present) continue;
        rc = init_proj(mi, st, &st->sites[i].down, w_init, c_init, init_range, !st->shared) ||
             init_proj(mi, st, &st->sites[i].up, w_init, c_init, init_range, !st->shared);
    }
    if (rc) return -1;

    /* trained tensors: the adapters (declaration order), the shared rule, layer norms */
    struct train_walk tw = {mi, learn_rule};
    if (shared_rule && learn_rule && method_train(mi, shared_rule)) return -1;
    if (for_each_proj(st, train_proj, &tw)) return -1;
    if (norms && method_train_all_norms(mi)) return -1;

    if (kind != ADAPTER_DENSE) mi->hooks.before_forward = adapter_before_forward;
    mi->hooks.sublayer_out = adapter_sublayer_out;
    return 0;
}

void adapter_family_free(struct method_instance *mi) {
    struct adapter_state *st = mi->state;
    if (!st) return;
    if (st->cache) mi->model->be->free(st->cache);
    free(st->snapshot);
    free(st->scratch);
    free(st->sites);
    free(st);
    mi->state = NULL;
}

int adapter_cache_stats(const struct method_instance *mi, int *builds, int *hits) {
    const struct adapter_state *st = mi->state;
    if (!st || !mi->method || mi->method->free != adapter_family_free)
        return error_set("not an adapter method");
    *builds = st->builds;
    *hits = st->hits;
    return 0;
}
