/* intrinsic_said.c: Intrinsic-SAID (Aghajanyan et al. 2021) as the reference trains it
 * (reference-spec.md section 3). Every named T5 tensor theta0^(j) (j in the model's
 * Hugging Face parameter order, 257 on t5-base) is re-parameterised on every forward pass:
 *     theta^(j) = theta0^(j) + lambda_j * FF_j(theta_d)
 * with theta_d = "intrinsic_parameter" (length d - (n + 1), zeros) and lambda =
 * "intrinsic_parameter_said" (n + 1 entries, ones; the last is unused, as the reference).
 * Only these two train (d in all: 20,000 = 19,742 + 258 on t5-base); theta0 stays frozen
 * and gets no gradient of its own. A tied lm_head keeps the original embedding (the core
 * does not re-parameterise it, as the reference's lm_head keeps pointing at the original).
 *
 * Fastfood for a tensor of D elements: L = 2^ceil(log2 D); x = theta_d zero-padded (or
 * truncated) to L; FF(x) = first D entries of H G Pi H B x / sqrt(D * sum G^2), H the
 * UNnormalised Walsh-Hadamard transform (op_fwht), B = +-1, (Pi v)[i] = v[Pi[i]] (a row
 * gather: op_gather_unique, whose backward scatter-adds every row at once, Pi being a
 * permutation), G ~ N(0, 1).
 *
 * Gradient (option said_gradient): "reference" (default) reproduces the reference's FWHT
 * autograd function, whose backward is H g / sqrt(L): each of the two transforms is given
 * backward_scale 1/sqrt(L), so theta_d's gradient through tensor j is 1/L times the true
 * one (lambda's gradient is exact: it multiplies the output). "true" uses backward_scale 1.
 *
 * The random structures are not stored in weight files (about 12 bytes per padded element:
 * 4.6 GB on t5-base, which is also what the reference keeps on the GPU); they are rebuilt
 * from the method seed by this counter-based generator, re-implemented in
 * tools/make_method2_fixtures.py:
 *   splitmix64_mix(z)          = the splitmix64 finaliser (z ^= z>>30; z *= 0xBF58476D1CE4E5B9;
 *                     z ^= z>>27; z *= 0x94D049BB133111EB; z ^= z>>31), uint64 arithmetic
 *   key(j, kind)    = splitmix64_mix(seed + GOLD * (3j + kind + 1)), GOLD = 0x9E3779B97F4A7C15
 *   draw(j, kind, k)= splitmix64_mix(key(j, kind) + GOLD * (k + 1))
 *   B[i]  = +1 if draw(j, 0, i) >> 63 else -1
 *   Pi    = identity, then for i = L-1 down to 1: swap Pi[i], Pi[draw(j, 1, L-1-i) % (i+1)]
 *   G[i]  = sqrt(-2 ln u1) cos(2 pi u2), u = ((draw(j, 2, 2i (+1)) >> 11) + 0.5) / 2^53,
 *           in double, stored as float; sum G^2 over the float values, in double.
 * They are generated and uploaded on the first forward pass (so `compacter params` stays
 * cheap); theta is rebuilt on every forward in the activation arena: about 6 floats per
 * padded element plus 4 per element (~13 GB on t5-base, where sum L = 386M and the model
 * has 223M elements), and about as much again for the backward's gradients.
 * Options: intrinsic_dim (20000), said_gradient (reference|true). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/ops.h"
#include "core/splitmix.h"
#include "methods/method.h"

#define GOLD 0x9E3779B97F4A7C15ull

struct ff {
    int64_t D, L;
    struct tensor B, G, Pi; /* [1, L] f32, [1, L] f32, [1, L] i32, backend memory */
    float inv_div;          /* 1 / sqrt(D * sum G^2) */
};

struct said_state {
    int n;         /* base tensors */
    int reference; /* said_gradient=reference */
    struct tensor *theta_d, *lambda;
    struct ff *ff; /* [n], built on the first forward */
    int built;
    struct tensor **theta; /* [n] this forward's re-parameterised tensors */
};

static uint64_t key(uint64_t seed, int j, int kind) {
    return splitmix64_mix(seed + GOLD * (uint64_t)(3 * j + kind + 1));
}
static uint64_t draw(uint64_t k, uint64_t i) {
    return splitmix64_mix(k + GOLD * (i + 1));
}

static int build_ff(struct method_instance *mi, struct said_state *s) {
    const struct backend *be = mi->model->be;
    for (int j = 0; j < s->n; j++) {
        struct ff *f = &s->ff[j];
        int64_t L = f->L;
        float *hb = malloc(sizeof(float) * (size_t)L), *hg = malloc(sizeof(float) * (size_t)L);
        int32_t *hp = malloc(sizeof(int32_t) * (size_t)L);
        int rc = (!hb || !hg || !hp) ? error_set("out of memory") : 0;
        if (!rc) {
            uint64_t kb = key(mi->seed, j, 0), kp = key(mi->seed, j, 1), kg = key(mi->seed, j, 2);
            double sum = 0;
            for (int64_t i = 0; i < L; i++) {
                hb[i] = draw(kb, (uint64_t)i) >> 63 ? 1.0f : -1.0f;
                hp[i] = (int32_t)i;
                double u1 = ((double)(draw(kg, 2 * (uint64_t)i) >> 11) + 0.5) / 9007199254740992.0;
                double u2 =
                    ((double)(draw(kg, 2 * (uint64_t)i + 1) >> 11) + 0.5) / 9007199254740992.0;
                hg[i] = (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
                sum += (double)hg[i] * hg[i];
            }
            for (int64_t i = L - 1; i >= 1; i--) {
                int64_t r = (int64_t)(draw(kp, (uint64_t)(L - 1 - i)) % (uint64_t)(i + 1));
                int32_t t = hp[i];
                hp[i] = hp[r];
                hp[r] = t;
            }
            f->inv_div = (float)(1.0 / sqrt((double)f->D * sum));
            tensor_init(&f->B, DTYPE_F32, 2, (int64_t[]){1, L});
            tensor_init(&f->G, DTYPE_F32, 2, (int64_t[]){1, L});
            tensor_init(&f->Pi, DTYPE_I32, 2, (int64_t[]){1, L});
            f->B.data = be->alloc(sizeof(float) * (size_t)L);
            f->G.data = be->alloc(sizeof(float) * (size_t)L);
            f->Pi.data = be->alloc(sizeof(int32_t) * (size_t)L);
            if (!f->B.data || !f->G.data || !f->Pi.data)
                rc = error_wrap("Intrinsic-SAID fastfood state of tensor %d: ", j);
            else if (be->upload(f->B.data, hb, sizeof(float) * (size_t)L) ||
                     be->upload(f->G.data, hg, sizeof(float) * (size_t)L) ||
                     be->upload(f->Pi.data, hp, sizeof(int32_t) * (size_t)L))
                rc = -1;
        }
        free(hb);
        free(hg);
        free(hp);
        if (rc) return -1;
    }
    s->built = 1;
    return 0;
}

/* theta0 + lambda_j * FF_j(theta_d), shaped like p */
static struct tensor *reparam(struct exec *x, struct said_state *s, int j, struct tensor *p) {
    const struct ff *f = &s->ff[j];
    int64_t L = f->L, D = f->D;
    float bs = s->reference ? (float)(1.0 / sqrt((double)L)) : 1.0f;
    struct tensor *v =
        op_resize_cols(x, op_view(x, s->theta_d, 2, (int64_t[]){1, s->theta_d->shape[0]}), L);
    v = op_fwht(x, op_mul(x, v, (struct tensor *)&f->B), bs); /* H B x */
    v = op_gather_unique(x, op_view(x, v, 2, (int64_t[]){L, 1}),
                         (struct tensor *)&f->Pi); /* Pi: [1, L, 1] */
    v = op_mul(x, op_view(x, v, 2, (int64_t[]){1, L}), (struct tensor *)&f->G);
    v = op_scale(x, op_resize_cols(x, op_fwht(x, v, bs), D),
                 f->inv_div); /* first D of H G Pi H B x / div */
    int32_t jj = j;
    struct tensor *ids = exec_upload(x, DTYPE_I32, 1, (int64_t[]){1}, &jj);
    struct tensor *lam =
        op_embedding(x, op_view(x, s->lambda, 2, (int64_t[]){s->lambda->shape[0], 1}), ids);
    struct tensor *u =
        op_bmm(x, op_view(x, v, 2, (int64_t[]){D, 1}), op_view(x, lam, 2, (int64_t[]){1, 1}));
    struct tensor *t = op_add(x, op_view(x, p, 2, (int64_t[]){D, 1}), u);
    return op_view(x, t, p->ndim, p->shape);
}

static int said_before_forward(void *ctx, struct exec *x) {
    struct method_instance *mi = ctx;
    struct said_state *s = mi->state;
    if (!s->built && build_ff(mi, s)) return -1;
    for (int j = 0; j < s->n; j++)
        if (!(s->theta[j] = reparam(x, s, j, &mi->model->params[j])))
            return error_wrap("Intrinsic-SAID, %s: ", mi->model->params[j].name);
    return 0;
}

static struct tensor *said_param(void *ctx, struct exec *x, struct tensor *p) {
    struct method_instance *mi = ctx;
    struct said_state *s = mi->state;
    ptrdiff_t j = p - mi->model->params;
    return j >= 0 && j < s->n && s->theta[j] ? s->theta[j] : p;
}

static int said_init(struct method_instance *mi) {
    const struct t5_model *m = mi->model;
    int d;
    if (method_opt_int(mi, "intrinsic_dim", &d)) return -1;
    const char *g = method_opt(mi, "said_gradient");
    if (strcmp(g, "reference") && strcmp(g, "true"))
        return error_set("said_gradient=%s: use reference or true", g);
    struct said_state *s = calloc(1, sizeof *s);
    if (!s) return error_set("out of memory");
    mi->state = s;
    s->n = m->n_params;
    s->reference = !strcmp(g, "reference");
    int64_t dd = (int64_t)d - (s->n + 1);
    if (dd < 1)
        return error_set(
            "intrinsic_dim %d leaves no theta_d: it must exceed the %d tensors + 1 lambdas", d,
            s->n);
    s->ff = calloc((size_t)s->n, sizeof *s->ff);
    s->theta = calloc((size_t)s->n, sizeof *s->theta);
    if (!s->ff || !s->theta) return error_set("out of memory");
    for (int j = 0; j < s->n; j++) {
        int64_t D = tensor_numel(&m->params[j]), L = 1;
        while (L < D)
            L *= 2;
        s->ff[j].D = D;
        s->ff[j].L = L;
    }
    s->theta_d = method_param(mi, "intrinsic_parameter", 1, (int64_t[]){dd});
    s->lambda = method_param(mi, "intrinsic_parameter_said", 1, (int64_t[]){s->n + 1});
    if (!s->theta_d || !s->lambda || method_alloc(mi) || init_constant(mi, s->lambda, 1.0f) ||
        method_train(mi, s->theta_d) || method_train(mi, s->lambda))
        return -1; /* theta_d stays zero (method_alloc) */
    mi->hooks.before_forward = said_before_forward;
    mi->hooks.param = said_param;
    return 0;
}

static void said_free(struct method_instance *mi) {
    struct said_state *s = mi->state;
    if (s) {
        for (int j = 0; s->ff && j < s->n; j++) {
            if (s->ff[j].B.data) mi->model->be->free(s->ff[j].B.data);
            if (s->ff[j].G.data) mi->model->be->free(s->ff[j].G.data);
            if (s->ff[j].Pi.data) mi->model->be->free(s->ff[j].Pi.data);
        }
        free(s->ff);
        free(s->theta);
        free(s);
    }
    mi->state = NULL;
}

const struct method method_intrinsic_said = {
    .name = "intrinsic-said",
    .summary = "Intrinsic-SAID: every T5 tensor re-parameterised through per-tensor Fastfood "
               "projections of d",
    .task_prefix = 1,
    .options =
        (const struct method_option[]){
            {"intrinsic_dim", "20000",
             "d: theta_d (d - tensors - 1) plus one lambda per tensor plus one"},
            {"said_gradient", "reference",
             "reference: theta_d's gradient scaled by 1/L per tensor as the reference's FWHT "
             "backward; true: exact"},
            {0},
        },
    .init = said_init,
    .free = said_free,
};
