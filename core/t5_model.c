/* t5_model.c: parameter layout and loading from Hugging Face folders. */
#include "core/t5_model.h"

#include <jansson.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/bf16.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "core/splitmix.h"

#define NAME_CAP 96

/* ---- layout ---- */

struct layout {
    struct t5_model *m;
    char (*names)[NAME_CAP];
    int64_t offset;
};

static struct tensor *add(struct layout *L, int64_t d0, int64_t d1, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static struct tensor *add(struct layout *L, int64_t d0, int64_t d1, const char *fmt, ...) {
    struct t5_model *m = L->m;
    struct tensor *t = &m->params[m->n_params];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(L->names[m->n_params], NAME_CAP, fmt, ap);
    va_end(ap);
    int64_t shape[2] = {d0, d1};
    tensor_init(t, DTYPE_F32, d1 ? 2 : 1, shape);
    t->name = L->names[m->n_params];
    t->data = (void *)(intptr_t)L->offset; /* patched to a pointer once storage exists */
    L->offset += tensor_numel(t);
    m->n_params++;
    return t;
}

static void add_attn(struct layout *L, struct t5_attn *a, const char *prefix) {
    const struct t5_config *c = &L->m->cfg;
    int64_t d = c->d_model, inner = (int64_t)c->num_heads * c->d_kv;
    a->q = add(L, inner, d, "%s.q.weight", prefix);
    a->k = add(L, inner, d, "%s.k.weight", prefix);
    a->v = add(L, inner, d, "%s.v.weight", prefix);
    a->o = add(L, d, inner, "%s.o.weight", prefix);
}

static void add_ffn(struct layout *L, struct t5_ffn *f, const char *prefix) {
    const struct t5_config *c = &L->m->cfg;
    /* Hugging Face names the module DenseReluDense for every activation */
    if (c->gated) {
        f->wi = add(L, c->d_ff, c->d_model, "%s.DenseReluDense.wi_0.weight", prefix);
        f->wi_1 = add(L, c->d_ff, c->d_model, "%s.DenseReluDense.wi_1.weight", prefix);
    } else {
        f->wi = add(L, c->d_ff, c->d_model, "%s.DenseReluDense.wi.weight", prefix);
    }
    f->wo = add(L, c->d_model, c->d_ff, "%s.DenseReluDense.wo.weight", prefix);
}

int t5_model_create(struct t5_model *m, const struct t5_config *c, const struct backend *be) {
    memset(m, 0, sizeof *m);
    m->cfg = *c;
    m->be = be;
    size_t max_params = 8 + (size_t)c->num_layers * 12 + (size_t)c->num_decoder_layers * 18;
    m->params = calloc(max_params, sizeof *m->params);
    struct layout L = {m, calloc(max_params, NAME_CAP), 0};
    m->enc = calloc((size_t)c->num_layers, sizeof *m->enc);
    m->dec = calloc((size_t)c->num_decoder_layers, sizeof *m->dec);
    if (!m->params || !L.names || !m->enc || !m->dec) {
        free(L.names);
        t5_model_free(m);
        return error_set("out of memory laying out the model");
    }
    int64_t d = c->d_model;
    char p[NAME_CAP];
    m->shared = add(&L, c->vocab_size, d, "shared.weight");
    for (int i = 0; i < c->num_layers; i++) {
        struct t5_block *b = &m->enc[i];
        snprintf(p, sizeof p, "encoder.block.%d.layer.0.SelfAttention", i);
        add_attn(&L, &b->self, p);
        if (i == 0) m->enc_bias_table = add(&L, c->num_buckets, c->num_heads, "%s.relative_attention_bias.weight", p);
        b->ln_self = add(&L, d, 0, "encoder.block.%d.layer.0.layer_norm.weight", i);
        snprintf(p, sizeof p, "encoder.block.%d.layer.1", i);
        add_ffn(&L, &b->ff, p);
        b->ln_ff = add(&L, d, 0, "encoder.block.%d.layer.1.layer_norm.weight", i);
    }
    m->enc_final_ln = add(&L, d, 0, "encoder.final_layer_norm.weight");
    for (int i = 0; i < c->num_decoder_layers; i++) {
        struct t5_block *b = &m->dec[i];
        snprintf(p, sizeof p, "decoder.block.%d.layer.0.SelfAttention", i);
        add_attn(&L, &b->self, p);
        if (i == 0) m->dec_bias_table = add(&L, c->num_buckets, c->num_heads, "%s.relative_attention_bias.weight", p);
        b->ln_self = add(&L, d, 0, "decoder.block.%d.layer.0.layer_norm.weight", i);
        snprintf(p, sizeof p, "decoder.block.%d.layer.1.EncDecAttention", i);
        add_attn(&L, &b->cross, p);
        b->ln_cross = add(&L, d, 0, "decoder.block.%d.layer.1.layer_norm.weight", i);
        snprintf(p, sizeof p, "decoder.block.%d.layer.2", i);
        add_ffn(&L, &b->ff, p);
        b->ln_ff = add(&L, d, 0, "decoder.block.%d.layer.2.layer_norm.weight", i);
    }
    m->dec_final_ln = add(&L, d, 0, "decoder.final_layer_norm.weight");
    m->lm_head = c->tied ? m->shared : add(&L, c->vocab_size, d, "lm_head.weight");
    /* names live as long as the model: keep the block, owned via params[0].name */
    m->n_elements = L.offset;
    m->storage = be->alloc((size_t)m->n_elements * sizeof(float));
    if (!m->storage) { /* the names block is params[0].name now: t5_model_free frees it */
        error_wrap("model parameters (%lld floats): ", (long long)m->n_elements);
        t5_model_free(m);
        return -1;
    }
    for (int i = 0; i < m->n_params; i++)
        m->params[i].data = m->storage + (intptr_t)m->params[i].data;
    return 0;
}

/* the linear weights of block b (NULL for those the config lacks) */
static int block_linears(const struct t5_block *b, struct tensor **out) {
    const struct t5_attn *at[2] = {&b->self, &b->cross};
    int n = 0;
    for (int i = 0; i < 2; i++) {
        out[n++] = at[i]->q;
        out[n++] = at[i]->k;
        out[n++] = at[i]->v;
        out[n++] = at[i]->o;
    }
    out[n++] = b->ff.wi;
    out[n++] = b->ff.wi_1;
    out[n++] = b->ff.wo;
    return n;
}

int t5_model_frozen_to_bf16(struct t5_model *m, struct tensor *const *train, int n_train) {
    if (m->storage_bf16) return error_set("t5_model_frozen_to_bf16: the model is converted already");
    char *mark = calloc((size_t)m->n_params, 1), *trains = calloc((size_t)m->n_params, 1);
    if (!mark || !trains) {
        free(mark);
        free(trains);
        return error_set("out of memory");
    }
    for (int i = 0; i < n_train; i++)
        if (train[i] >= m->params && train[i] < m->params + m->n_params) trains[train[i] - m->params] = 1;
    int64_t n16 = 0;
    for (int s = 0; s < 2; s++) {
        const struct t5_block *blocks = s ? m->dec : m->enc;
        int nb = s ? m->cfg.num_decoder_layers : m->cfg.num_layers;
        for (int l = 0; l < nb; l++) {
            struct tensor *ws[16];
            int n = block_linears(&blocks[l], ws);
            for (int i = 0; i < n; i++)
                if (ws[i] && !trains[ws[i] - m->params] && !mark[ws[i] - m->params]) {
                    mark[ws[i] - m->params] = 1;
                    n16 += tensor_numel(ws[i]);
                }
        }
    }
    if (!m->cfg.tied && !trains[m->lm_head - m->params]) {
        mark[m->lm_head - m->params] = 1;
        n16 += tensor_numel(m->lm_head);
    }
    int rc = 0;
    int64_t n32 = m->n_elements - n16;
    float *host = n16 ? malloc((size_t)m->n_elements * sizeof(float)) : NULL;
    float *h32 = n16 ? malloc((size_t)(n32 ? n32 : 1) * sizeof(float)) : NULL;
    uint16_t *h16 = n16 ? malloc((size_t)n16 * sizeof(uint16_t)) : NULL;
    float *d32 = NULL;
    uint16_t *d16 = NULL;
    if (!n16) goto done;
    if (!host || !h32 || !h16) {
        rc = error_set("bf16 weights: out of host memory for %lld parameters", (long long)m->n_elements);
        goto done;
    }
    rc = m->be->download(host, m->storage, (size_t)m->n_elements * sizeof(float));
    if (!rc && !(d32 = m->be->alloc((size_t)(n32 ? n32 : 1) * sizeof(float)))) rc = -1;
    if (!rc && !(d16 = m->be->alloc((size_t)n16 * sizeof(uint16_t)))) rc = -1;
    if (rc) {
        error_wrap("bf16 weights (%lld of %lld parameters): ", (long long)n16, (long long)m->n_elements);
        goto done;
    }
    int64_t o32 = 0, o16 = 0;
    for (int i = 0; i < m->n_params; i++) { /* host offsets first, device pointers below */
        struct tensor *t = &m->params[i];
        const float *src = host + ((const float *)t->data - m->storage);
        int64_t n = tensor_numel(t);
        if (mark[i]) {
            for (int64_t j = 0; j < n; j++) h16[o16 + j] = bf16_from_f32(src[j]);
            t->data = (void *)(intptr_t)o16;
            o16 += n;
        } else {
            memcpy(h32 + o32, src, (size_t)n * sizeof(float));
            t->data = (void *)(intptr_t)o32;
            o32 += n;
        }
    }
    rc = m->be->upload(d32, h32, (size_t)n32 * sizeof(float)) || m->be->upload(d16, h16, (size_t)n16 * sizeof(uint16_t));
    for (int i = 0; i < m->n_params; i++) {
        struct tensor *t = &m->params[i];
        if (mark[i]) t->dtype = DTYPE_BF16;
        t->data = mark[i] ? (void *)(d16 + (intptr_t)t->data) : (void *)(d32 + (intptr_t)t->data);
    }
    m->be->free(m->storage);
    m->storage = d32;
    m->n_elements = n32;
    m->storage_bf16 = d16;
    m->n_bf16 = n16;
    d32 = NULL;
    d16 = NULL;
    if (rc) error_wrap("bf16 weights: ");
done:
    if (d32) m->be->free(d32);
    if (d16) m->be->free(d16);
    free(host);
    free(h32);
    free(h16);
    free(mark);
    free(trains);
    return rc ? -1 : 0;
}

size_t t5_model_param_bytes(const struct t5_model *m) {
    return (size_t)m->n_elements * sizeof(float) + (size_t)m->n_bf16 * sizeof(uint16_t);
}

void t5_model_free(struct t5_model *m) {
    if (m->storage && m->be) m->be->free(m->storage);
    if (m->storage_bf16 && m->be) m->be->free(m->storage_bf16);
    if (m->params && m->n_params) free((void *)m->params[0].name); /* the names block */
    free(m->params);
    free(m->enc);
    free(m->dec);
    memset(m, 0, sizeof *m);
}

struct tensor *t5_model_param(const struct t5_model *m, const char *name) {
    for (int i = 0; i < m->n_params; i++)
        if (!strcmp(m->params[i].name, name)) return &m->params[i];
    return NULL;
}

int t5_model_cut_vocab(struct t5_model *m, int vocab) {
    if (vocab <= 0 || vocab >= m->cfg.vocab_size) return 0;
    struct t5_config c = m->cfg;
    c.vocab_size = vocab;
    struct t5_model n;
    if (t5_model_create(&n, &c, m->be)) return -1;
    for (int i = 0; i < n.n_params; i++) { /* same names in the same order; row-major prefixes */
        struct tensor *dst = &n.params[i], *src = &m->params[i];
        int64_t rows = dst->ndim == 2 ? dst->shape[0] : 1, cols = dst->ndim == 2 ? dst->shape[1] : dst->shape[0];
        if (strcmp(dst->name, src->name) ||
            m->be->copy2d((float *)dst->data, cols, (const float *)src->data, cols, rows, cols, 0)) {
            t5_model_free(&n);
            return error_set("cutting the vocabulary to %d rows: %s", vocab,
                             strcmp(dst->name, src->name) ? "layouts differ" : error_message());
        }
    }
    if (m->be->sync && m->be->sync()) {
        t5_model_free(&n);
        return -1;
    }
    t5_model_free(m);
    *m = n;
    return 0;
}

/* ---- random init ---- */

int t5_model_randomize(struct t5_model *m, uint64_t seed, float std) {
    float *host = malloc((size_t)m->n_elements * sizeof(float));
    if (!host) return error_set("out of memory");
    uint64_t s = seed;
    for (int64_t i = 0; i < m->n_elements; i += 2) { /* Box-Muller */
        double u1 = ((splitmix64(&s) >> 11) + 1.0) / 9007199254740993.0;
        double u2 = (splitmix64(&s) >> 11) / 9007199254740992.0;
        double r = sqrt(-2 * log(u1));
        host[i] = (float)(std * r * cos(2 * M_PI * u2));
        if (i + 1 < m->n_elements) host[i + 1] = (float)(std * r * sin(2 * M_PI * u2));
    }
    for (int i = 0; i < m->n_params; i++) /* layer norms start at one, as in T5 */
        if (m->params[i].ndim == 1) {
            float *p = host + ((float *)m->params[i].data - m->storage);
            for (int64_t j = 0; j < m->params[i].shape[0]; j++) p[j] = 1.0f;
        }
    int rc = m->be->upload(m->storage, host, (size_t)m->n_elements * sizeof(float));
    free(host);
    return rc;
}

/* ---- loading ---- */

/* Tensors a checkpoint may hold that alias another (tied embeddings). */
static int is_alias(const struct t5_model *m, const char *name) {
    return !strcmp(name, "encoder.embed_tokens.weight") || !strcmp(name, "decoder.embed_tokens.weight") ||
           (m->cfg.tied && !strcmp(name, "lm_head.weight"));
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* The shard file names: either model.safetensors or those of the index, deduplicated. */
static int list_shards(const char *dir, char ***out, int *n_out) {
    char path[4096];
    *out = NULL;
    *n_out = 0;
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    if (!file_exists(path)) {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        if (!file_exists(path)) {
            char alt[4096];
            snprintf(alt, sizeof alt, "%s/pytorch_model.bin", dir);
            if (file_exists(alt))
                return error_set("%s: only pytorch_model.bin found; convert it to model.safetensors "
                                 "(e.g. transformers save_pretrained(safe_serialization=True))", dir);
            return error_set("%s: no model.safetensors or model.safetensors.index.json", dir);
        }
        *out = malloc(sizeof(char *));
        (*out)[0] = strdup("model.safetensors");
        *n_out = 1;
        return 0;
    }
    json_error_t e;
    json_t *root = json_load_file(path, 0, &e);
    if (!root) return error_set("%s: not valid JSON (line %d: %s)", path, e.line, e.text);
    json_t *wm = json_object_get(root, "weight_map");
    if (!json_is_object(wm)) {
        json_decref(root);
        return error_set("%s: field 'weight_map' missing or not an object", path);
    }
    char **names = calloc(json_object_size(wm) + 1, sizeof *names);
    int n = 0;
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(wm, key, v) {
        if (!json_is_string(v) || strchr(json_string_value(v), '/')) {
            rc = error_set("%s: field 'weight_map.%s' is not a plain file name", path, key);
            break;
        }
        int seen = 0;
        for (int i = 0; i < n; i++) seen |= !strcmp(names[i], json_string_value(v));
        if (!seen) names[n++] = strdup(json_string_value(v));
    }
    json_decref(root);
    if (rc || n == 0) {
        for (int i = 0; i < n; i++) free(names[i]);
        free(names);
        return rc ? rc : error_set("%s: field 'weight_map' is empty", path);
    }
    *out = names;
    *n_out = n;
    return 0;
}

/* The first tensor named `name` in the shards, opened into *f (closed by the caller); NULL
 * when none holds it (f then closed) or on error (*err = -1). */
static const struct st_tensor *find_in_shards(const char *dir, char **shards, int n_shards, const char *name,
                                              struct st_file *f, int *err) {
    char path[4096];
    for (int s = 0; s < n_shards; s++) {
        snprintf(path, sizeof path, "%s/%s", dir, shards[s]);
        if (st_open(f, path)) {
            *err = -1;
            return NULL;
        }
        const struct st_tensor *t = st_find(f, name);
        if (t) return t;
        st_close(f);
    }
    return NULL;
}

/* transformers 5 writes tie_word_embeddings true for every T5 and ties the head only when the
 * checkpoint's lm_head.weight is absent or equal to shared.weight (a v1.1 model it loaded
 * untied and saved again keeps both): the same decision here, comparing the stored bytes in
 * place (a head stored in another dtype than the embedding counts as different). */
static int untie_if_checkpoint_differs(const char *dir, char **shards, int n_shards, struct t5_config *c) {
    static const char *const names[] = {"shared.weight", "encoder.embed_tokens.weight", "decoder.embed_tokens.weight"};
    struct st_file fh, fs;
    int err = 0;
    const struct st_tensor *h = find_in_shards(dir, shards, n_shards, "lm_head.weight", &fh, &err), *e = NULL;
    if (!h) return err;
    for (int k = 0; k < 3 && !e && !err; k++) e = find_in_shards(dir, shards, n_shards, names[k], &fs, &err);
    size_t bytes = h->end - h->begin;
    int same = e && e->dtype == h->dtype && e->ndim == h->ndim &&
               !memcmp(e->shape, h->shape, sizeof(int64_t) * (size_t)h->ndim) && e->end - e->begin == bytes &&
               !memcmp(fs.map + fs.data_start + e->begin, fh.map + fh.data_start + h->begin, bytes);
    if (!err && !same) c->tied = 0;
    if (e) st_close(&fs);
    st_close(&fh);
    return err;
}

static void free_shards(char **shards, int n) {
    for (int s = 0; s < n; s++) free(shards[s]);
    free(shards);
}

int t5_config_tie_from_checkpoint(struct t5_config *c, const char *dir, int *resolved) {
    *resolved = 0;
    if (!t5_config_transformers5(c)) return 0;
    char **shards = NULL;
    int n_shards = 0;
    if (list_shards(dir, &shards, &n_shards)) { /* no checkpoint: nothing to decide by */
        error_clear();
        return 0;
    }
    int rc = untie_if_checkpoint_differs(dir, shards, n_shards, c);
    free_shards(shards, n_shards);
    *resolved = rc == 0;
    return rc;
}

int t5_model_load(struct t5_model *m, const char *dir, const struct backend *be) {
    char path[4096];
    struct t5_config c;
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (!file_exists(path)) return error_set("%s: missing (is %s a Hugging Face model folder?)", path, dir);
    int resolved;
    if (t5_config_load(&c, path) || t5_config_tie_from_checkpoint(&c, dir, &resolved)) return -1;
    char **shards = NULL;
    int n_shards = 0;
    if (list_shards(dir, &shards, &n_shards)) return -1;
    if (t5_model_create(m, &c, be)) { /* sizes the file asks for */
        free_shards(shards, n_shards);
        return error_wrap("%s: ", path);
    }
    char *found = calloc((size_t)m->n_params, 1);
    float *host = malloc((size_t)m->n_elements * sizeof(float));
    int rc = (!found || !host) ? error_set("out of memory loading %s", dir) : 0;
    for (int s = 0; s < n_shards && !rc; s++) {
        struct st_file f;
        snprintf(path, sizeof path, "%s/%s", dir, shards[s]);
        if (st_open(&f, path)) {
            rc = -1;
            break;
        }
        for (int i = 0; i < f.n && !rc; i++) {
            const struct st_tensor *t = &f.tensors[i];
            int j = 0;
            while (j < m->n_params && strcmp(m->params[j].name, t->name)) j++;
            const struct tensor *want = j < m->n_params ? &m->params[j] : (is_alias(m, t->name) ? m->shared : NULL);
            if (!want) {
                rc = error_set("%s: unexpected tensor '%s' (not part of a T5 with this config.json)", path, t->name);
                break;
            }
            int ok = t->ndim == want->ndim;
            for (int d = 0; ok && d < t->ndim; d++) ok = t->shape[d] == want->shape[d];
            if (!ok) {
                char ws[64], gs[128] = "[";
                for (int d = 0; d < t->ndim; d++)
                    snprintf(gs + strlen(gs), sizeof gs - strlen(gs), "%s%lld", d ? ", " : "", (long long)t->shape[d]);
                strcat(gs, "]");
                rc = error_set("%s: tensor '%s' has shape %s; config.json implies %s", path, t->name, gs,
                               tensor_shape_str(want, ws, sizeof ws));
                break;
            }
            if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16) {
                rc = error_set("%s: tensor '%s' has dtype %s; expected F32, F16 or BF16", path, t->name,
                               st_dtype_name(t->dtype));
                break;
            }
            if (j == m->n_params) continue; /* alias of shared: checked, not loaded */
            if (found[j]) {
                rc = error_set("%s: tensor '%s' appears twice", path, t->name);
                break;
            }
            rc = st_read_f32(&f, t, host + ((float *)m->params[j].data - m->storage));
            found[j] = 1;
        }
        st_close(&f);
    }
    if (!rc && !found[0]) { /* some exports keep the embedding only under an alias name */
        struct st_file f;
        const struct st_tensor *t = find_in_shards(dir, shards, n_shards, "encoder.embed_tokens.weight", &f, &rc);
        if (t) {
            if (!(rc = st_read_f32(&f, t, host))) found[0] = 1;
            st_close(&f);
        }
    }
    for (int j = 0; j < m->n_params && !rc; j++)
        if (!found[j]) rc = error_set("%s: tensor '%s' is missing from the checkpoint", dir, m->params[j].name);
    if (!rc) rc = be->upload(m->storage, host, (size_t)m->n_elements * sizeof(float));
    free_shards(shards, n_shards);
    free(found);
    free(host);
    if (rc) t5_model_free(m);
    return rc;
}
