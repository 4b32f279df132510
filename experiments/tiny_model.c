/* tiny_model.c: make, pre-train and cache the tiny preset's T5. */
#include "experiments/tiny_model.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/safetensors.h"
#include "core/splitmix.h"
#include "core/tokenizer.h"
#include "core/trainable.h"
#include "datasets/cache.h"
#include "datasets/synthetic.h"
#include "experiments/trainer.h"

struct tiny_model_spec tiny_model_spec_default(void) {
    struct tiny_model_spec s = {64, 16, 256, 4, 2, 2, 400, 32, 64, 30, 3e-3, 0, 1};
    return s;
}

/* Field table: name, int or double, offset. */
struct field {
    const char *name;
    int is_double;
    size_t off;
    double lo;
};
#define F(n, d, lo)                                                                                \
    { #n, d, offsetof(struct tiny_model_spec, n), lo }
static const struct field fields[] = {
    F(d_model, 0, 1),         F(d_kv, 0, 1),           F(d_ff, 0, 1),
    F(num_heads, 0, 1),       F(num_layers, 0, 1),     F(num_decoder_layers, 0, 1),
    F(pretrain_steps, 0, 0),  F(pretrain_batch, 0, 1), F(pretrain_max_tokens, 0, 8),
    F(pretrain_warmup, 0, 0), F(pretrain_lr, 1, 0),    F(pretrain_supervised, 1, -1),
};
#undef F

static int task_bit(const char *name, size_t len) {
    for (size_t i = 0; i < synthetic_task_count(); i++) {
        const char *t = synthetic_task_name(i);
        if (strlen(t) == len && !strncmp(t, name, len)) return (int)i;
    }
    return -1;
}

static void task_names(char *buf, size_t cap) {
    buf[0] = 0;
    for (size_t i = 0; i < synthetic_task_count(); i++)
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", i ? ", " : "", synthetic_task_name(i));
}

static int add_task(uint32_t *mask, const char *name, size_t len, const char *where) {
    char known[256];
    int b = task_bit(name, len);
    if (b < 0) {
        task_names(known, sizeof known);
        return error_set("%s: unknown synthetic task '%.*s' (known: %s)", where, (int)len, name, known);
    }
    if (*mask & (1u << b)) return error_set("%s: task '%.*s' named twice", where, (int)len, name);
    *mask |= 1u << b;
    return 0;
}

int tiny_model_spec_set_tasks(struct tiny_model_spec *s, const char *names, const char *where) {
    uint32_t mask = 0;
    for (const char *p = names;;) {
        size_t len = strcspn(p, ",");
        if (len == 0) return error_set("%s: empty task name in '%s'", where, names);
        if (add_task(&mask, p, len, where)) return -1;
        if (!p[len]) break;
        p += len + 1;
    }
    s->pretrain_tasks = mask;
    return 0;
}

int tiny_model_spec_from_json(struct tiny_model_spec *s, const json_t *obj, const char *where) {
    if (!json_is_object(obj)) return error_set("%s: expected an object", where);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        if (!strcmp(k, "pretrain_tasks")) {
            char w[600];
            snprintf(w, sizeof w, "%s.pretrain_tasks", where);
            if (!json_is_array(v) || json_array_size(v) == 0)
                return error_set("%s: expected a non-empty array of synthetic task names", w);
            uint32_t mask = 0;
            for (size_t i = 0; i < json_array_size(v); i++) {
                json_t *e = json_array_get(v, i);
                if (!json_is_string(e)) return error_set("%s[%zu]: expected a task name", w, i);
                if (add_task(&mask, json_string_value(e), strlen(json_string_value(e)), w)) return -1;
            }
            s->pretrain_tasks = mask;
            continue;
        }
        if (!strcmp(k, "seed")) {
            if (!json_is_integer(v) || json_integer_value(v) < 0)
                return error_set("%s.seed: expected a non-negative integer", where);
            s->seed = (uint64_t)json_integer_value(v);
            continue;
        }
        const struct field *f = NULL;
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
            if (!strcmp(fields[i].name, k)) f = &fields[i];
        if (!f) {
            char names[512] = "seed, pretrain_tasks";
            for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
                snprintf(names + strlen(names), sizeof names - strlen(names), ", %s",
                         fields[i].name);
            return error_set("%s.%s: unknown field (known: %s)", where, k, names);
        }
        if (f->is_double) {
            if (!json_is_number(v) || !(json_number_value(v) > f->lo) ||
                !isfinite(json_number_value(v)) ||
                (f->lo < 0 && (json_number_value(v) < 0 || json_number_value(v) > 1))) /* a fraction */
                return error_set("%s.%s: expected a %s", where, k,
                                 f->lo < 0 ? "number in [0, 1]" : "positive number");
            *(double *)((char *)s + f->off) = json_number_value(v);
        } else {
            if (!json_is_integer(v) || json_integer_value(v) < (long long)f->lo ||
                json_integer_value(v) > 1000000)
                return error_set("%s.%s: expected an integer >= %g", where, k, f->lo);
            *(int *)((char *)s + f->off) = (int)json_integer_value(v);
        }
    }
    return 0;
}

void tiny_model_spec_text(const struct tiny_model_spec *s, char *buf, size_t cap) {
    int n = snprintf(buf, cap,
             "d_model %d d_kv %d d_ff %d num_heads %d num_layers %d num_decoder_layers %d "
             "pretrain_steps %d "
             "pretrain_batch %d pretrain_max_tokens %d pretrain_warmup %d pretrain_lr %.17g seed "
             "%llu format 1",
             s->d_model, s->d_kv, s->d_ff, s->num_heads, s->num_layers, s->num_decoder_layers,
             s->pretrain_steps, s->pretrain_batch, s->pretrain_max_tokens, s->pretrain_warmup,
             s->pretrain_lr, (unsigned long long)s->seed);
    /* the pre-training text comes from the synthetic grammar: a new data format is a new model */
    if (n > 0 && (size_t)n < cap) n += snprintf(buf + n, cap - (size_t)n, " data_format %d", SYNTHETIC_FORMAT);
    if (s->pretrain_supervised > 0 && n > 0 && (size_t)n < cap)
        n += snprintf(buf + n, cap - (size_t)n, " pretrain_supervised %.17g", s->pretrain_supervised);
    uint32_t all = (1u << synthetic_task_count()) - 1;
    if (s->pretrain_supervised > 0 && s->pretrain_tasks && s->pretrain_tasks != all && n > 0 &&
        (size_t)n < cap) {
        n += snprintf(buf + n, cap - (size_t)n, " pretrain_tasks");
        const char *sep = " ";
        for (size_t i = 0; i < synthetic_task_count() && n > 0 && (size_t)n < cap; i++)
            if (s->pretrain_tasks & (1u << i)) {
                n += snprintf(buf + n, cap - (size_t)n, "%s%s", sep, synthetic_task_name(i));
                sep = ",";
            }
    }
}

void tiny_model_cache_name(const struct tiny_model_spec *s, char *buf, size_t cap) {
    char text[1024];
    tiny_model_spec_text(s, text, sizeof text);
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const char *p = text; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    snprintf(buf, cap, "tiny-d%d-l%d-%016llx", s->d_model, s->num_layers, (unsigned long long)h);
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* transformers' T5PreTrainedModel._init_weights (initializer_factor 1). */
static double init_std(const struct t5_config *c, const char *name) {
    double d = c->d_model, inner = (double)c->num_heads * c->d_kv;
    if (ends_with(name, "layer_norm.weight")) return 0; /* ones */
    if (!strcmp(name, "shared.weight") || !strcmp(name, "lm_head.weight")) return 1.0;
    if (ends_with(name, ".q.weight")) return 1.0 / sqrt(d * c->d_kv);
    if (ends_with(name, ".k.weight") || ends_with(name, ".v.weight")) return 1.0 / sqrt(d);
    if (ends_with(name, ".o.weight")) return 1.0 / sqrt(inner);
    if (ends_with(name, ".wo.weight")) return 1.0 / sqrt((double)c->d_ff);
    if (strstr(name, ".wi")) return 1.0 / sqrt(d);
    if (ends_with(name, "relative_attention_bias.weight")) return 1.0 / sqrt(d);
    return 1.0 / sqrt(d);
}

int tiny_model_init_weights(struct t5_model *m, uint64_t seed) {
    float *host = malloc((size_t)m->n_elements * sizeof(float));
    if (!host) return error_set("out of memory");
    for (int i = 0; i < m->n_params; i++) {
        const struct tensor *t = &m->params[i];
        float *p = host + ((float *)t->data - m->storage);
        int64_t n = tensor_numel(t);
        double std = init_std(&m->cfg, t->name);
        uint64_t s = seed * 0x9E3779B97F4A7C15ull + (uint64_t)i * 0xD1B54A32D192ED03ull;
        for (int64_t j = 0; j < n; j += 2) { /* Box-Muller, one stream per tensor */
            if (std == 0) {
                p[j] = 1.0f;
                if (j + 1 < n) p[j + 1] = 1.0f;
                continue;
            }
            double u1 = ((double)(splitmix64(&s) >> 11) + 1.0) / 9007199254740993.0;
            double u2 = (double)(splitmix64(&s) >> 11) / 9007199254740992.0;
            double r = sqrt(-2 * log(u1));
            p[j] = (float)(std * r * cos(2 * M_PI * u2));
            if (j + 1 < n) p[j + 1] = (float)(std * r * sin(2 * M_PI * u2));
        }
    }
    int rc = m->be->upload(m->storage, host, (size_t)m->n_elements * sizeof(float));
    free(host);
    return rc;
}

static int write_config(const struct t5_config *c, const char *path) {
    json_t *o = json_pack(
        "{s:[s], s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:f, s:f, s:i, s:i, s:i, "
        "s:s, s:b, s:s}",
        "architectures", "T5ForConditionalGeneration", "vocab_size", c->vocab_size, "d_model",
        c->d_model, "d_kv", c->d_kv, "d_ff", c->d_ff, "num_heads", c->num_heads, "num_layers",
        c->num_layers, "num_decoder_layers", c->num_decoder_layers,
        "relative_attention_num_buckets", c->num_buckets, "relative_attention_max_distance",
        c->max_distance, "feed_forward_proj", "relu", "layer_norm_epsilon", 1e-6, "dropout_rate",
        0.1, "pad_token_id", c->pad_id, "eos_token_id", c->eos_id, "decoder_start_token_id",
        c->decoder_start_id, "model_type", "t5", "tie_word_embeddings", 1, "comment",
        "the compacter tiny preset's T5 (experiments/tiny_model.c), pre-trained with span "
        "corruption on the synthetic corpus");
    if (!o) return error_set("%s: cannot build config", path);
    int rc = json_dump_file(o, path, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(o);
    return rc ? error_set("cannot write %s", path) : 0;
}

static int write_text(const char *path, const char *text, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return error_set("cannot write %s: %s", path, strerror(errno));
    size_t w = fwrite(text, 1, n, f);
    int rc = fclose(f);
    return w != n || rc ? error_set("cannot write %s", path) : 0;
}

static int copy_file(const char *src, const char *dst) {
    FILE *f = fopen(src, "rb");
    if (!f) return error_set("cannot open %s: %s", src, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    int rc =
        (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) ? error_set("cannot read %s", src) : 0;
    fclose(f);
    if (!rc) rc = write_text(dst, buf, (size_t)n);
    free(buf);
    return rc;
}

static int fsync_path(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return error_set("cannot open %s: %s", path, strerror(errno));
    int rc = fsync(fd);
    close(fd);
    return rc ? error_set("fsync %s: %s", path, strerror(errno)) : 0;
}

static int save_weights(const struct t5_model *m, const char *path) {
    float *host = malloc((size_t)m->n_elements * sizeof(float));
    struct st_out *outs = calloc((size_t)m->n_params, sizeof *outs);
    int rc = !host || !outs ? error_set("out of memory") : 0;
    if (!rc) rc = m->be->download(host, m->storage, (size_t)m->n_elements * sizeof(float));
    for (int i = 0; i < m->n_params && !rc; i++) {
        const struct tensor *t = &m->params[i];
        outs[i].name = t->name;
        outs[i].dtype = ST_F32;
        outs[i].ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++)
            outs[i].shape[d] = t->shape[d];
        outs[i].data = host + ((float *)t->data - m->storage);
    }
    if (!rc) rc = st_write(path, outs, m->n_params, "{\"format\":\"pt\"}");
    free(outs);
    free(host);
    return rc;
}

static void say(tiny_model_log log, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(tiny_model_log log, void *ctx, const char *fmt, ...) {
    if (!log) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log(ctx, line);
}

struct pretrain_log {
    tiny_model_log log;
    void *ctx;
    double loss_sum;
    int n;
};

static void on_step(void *ctx, const struct step_info *s) {
    struct pretrain_log *p = ctx;
    p->loss_sum += s->loss;
    p->n++;
    if (s->warning) say(p->log, p->ctx, "tiny model: warning: %s", s->warning);
    if (s->step % 50 == 0 || s->step == s->total_steps) {
        say(p->log, p->ctx, "tiny model: pre-training step %lld/%lld span-corruption loss %.4f",
            (long long)s->step, (long long)s->total_steps, p->loss_sum / p->n);
        p->loss_sum = 0;
        p->n = 0;
    }
}

/* Pre-train every parameter with span corruption (noise density 0.15, mean span 3). */
static int pretrain(const struct tiny_model_spec *s, struct t5_model *m,
                    const struct tokenizer *tok, tiny_model_log log, void *ctx) {
    if (s->pretrain_steps == 0) return 0;
    struct seq2seq_data d = {0};
    int rc = 0;
    int n_ex = s->pretrain_steps * s->pretrain_batch;
    int n_sup = 0;
    for (int i = 0; i < n_ex && !rc; i++) {
        struct span_example e;
        /* supervised with probability pretrain_supervised, decided per example index */
        uint64_t h = s->seed * 0x9E3779B97F4A7C15ull ^ (uint64_t)i * 0xD1B54A32D192ED03ull;
        int sup = (double)(splitmix64(&h) >> 11) * 0x1.0p-53 < s->pretrain_supervised;
        n_sup += sup;
        if (sup)
            rc = synthetic_pretrain_task_example(tok, s->seed, (uint64_t)i, 0.05, s->pretrain_tasks, &e);
        else
            rc = synthetic_pretrain_example(tok, s->seed, (uint64_t)i,
                                            (size_t)s->pretrain_max_tokens, 0.15, 3.0, &e);
        if (!rc) rc = seq2seq_add(&d, e.source, (int)e.n_source, e.target, (int)e.n_target);
        if (!rc) span_example_free(&e);
    }
    struct trainable tr = {0};
    struct exec x;
    int have_x = 0;
    struct tensor **all = malloc(sizeof *all * (size_t)m->n_params);
    if (!rc && !all) rc = error_set("out of memory");
    for (int i = 0; !rc && i < m->n_params; i++)
        all[i] = &m->params[i];
    if (!rc) rc = trainable_init(&tr, m->be, all, m->n_params, no_decay_bias);
    if (!rc && !(rc = exec_init(&x, m->be))) have_x = 1;
    if (!rc) {
        struct train_config c = {
            .epochs = 1,
            .batch = s->pretrain_batch,
            .grad_accum = 1,
            .max_source_len = s->pretrain_max_tokens + 8,
            .max_target_len = s->pretrain_max_tokens,
            .seed = s->seed,
            .dropout = 0,
        };
        c.optim = optim_defaults(s->pretrain_lr, s->pretrain_warmup, 0);
        struct pretrain_log p = {log, ctx, 0, 0};
        say(log, ctx,
            "tiny model: pre-training %lld parameters for %d steps (batch %d, %d of %d examples "
            "supervised synthetic-task ones)",
            (long long)tr.numel, s->pretrain_steps, s->pretrain_batch, n_sup, n_ex);
        rc = trainer_run(&x, m, &tr, &d, &c, NULL, on_step, &p);
    }
    if (have_x) exec_free(&x);
    trainable_free(&tr);
    free(all);
    seq2seq_free(&d);
    return rc ? error_wrap("pre-training the tiny model: ") : 0;
}

int tiny_model_make(const struct tiny_model_spec *s, const char *tokenizer_path, const char *device,
                    const char *out_dir, tiny_model_log log, void *ctx) {
    const struct backend *be = backend_by_name(device ? device : "cpu");
    if (!be) return -1;
    struct tokenizer *tok = tokenizer_load(tokenizer_path);
    if (!tok) return -1;
    struct t5_config c = {0};
    c.vocab_size = tokenizer_vocab_size(tok);
    c.d_model = s->d_model;
    c.d_kv = s->d_kv;
    c.d_ff = s->d_ff;
    c.num_heads = s->num_heads;
    c.num_layers = s->num_layers;
    c.num_decoder_layers = s->num_decoder_layers;
    c.num_buckets = 32;
    c.max_distance = 128;
    c.layer_norm_eps = 1e-6f;
    c.dropout_rate = 0.1f;
    c.ffn = T5_FFN_RELU;
    c.tied = 1;
    c.pad_id = 0;
    c.eos_id = 1;
    c.decoder_start_id = 0;
    struct t5_model m;
    memset(&m, 0, sizeof m);
    char parent[4096], tmp[4096], path[4200], text[1024];
    snprintf(parent, sizeof parent, "%s", out_dir);
    char *slash = strrchr(parent, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(parent, sizeof parent, ".");
    int rc = t5_model_create(&m, &c, be);
    int have_model = !rc, have_tmp = 0;
    if (!rc) rc = tiny_model_init_weights(&m, s->seed);
    if (!rc) rc = pretrain(s, &m, tok, log, ctx);
    if (!rc && !(rc = temp_dir_in(parent, "tiny-model", tmp, sizeof tmp))) have_tmp = 1;
    if (!rc && !(rc = path_fmt(path, sizeof path, "%s/config.json", tmp)))
        rc = write_config(&c, path);
    if (!rc && !(rc = path_fmt(path, sizeof path, "%s/model.safetensors", tmp)))
        rc = save_weights(&m, path);
    if (!rc && !(rc = path_fmt(path, sizeof path, "%s/tokenizer.json", tmp)))
        rc = copy_file(tokenizer_path, path);
    if (!rc && !(rc = path_fmt(path, sizeof path, "%s/TINY_MODEL", tmp))) {
        tiny_model_spec_text(s, text, sizeof text);
        strcat(text, "\n");
        rc = write_text(path, text, strlen(text));
    }
    static const char *const files[] = {"config.json", "tokenizer.json", "TINY_MODEL"};
    for (int i = 0; i < 3 && !rc; i++) { /* model.safetensors is fsync'ed by st_write */
        path_fmt(path, sizeof path, "%s/%s", tmp, files[i]);
        rc = fsync_path(path);
    }
    if (!rc) rc = dir_sync(tmp);
    if (!rc && rename(tmp, out_dir) != 0) {
        if (errno == EEXIST ||
            errno == ENOTEMPTY) { /* made by someone else meanwhile: keep theirs */
            remove_tree(tmp);
        } else {
            rc = error_set("cannot rename %s to %s: %s", tmp, out_dir, strerror(errno));
        }
    } else if (!rc) {
        have_tmp = 0;
        rc = dir_sync(parent);
    }
    if (rc && have_tmp) remove_tree(tmp);
    if (have_model) t5_model_free(&m);
    tokenizer_free(tok);
    return rc;
}

int tiny_model_ensure(const struct tiny_model_spec *s, const char *tokenizer_path,
                      const char *device, char *dir_out, size_t cap, tiny_model_log log,
                      void *ctx) {
    char name[128], sub[200];
    tiny_model_cache_name(s, name, sizeof name);
    snprintf(sub, sizeof sub, "models/%s", name);
    if (cache_path(sub, dir_out, cap)) return -1;
    char stamp[4200];
    if (path_fmt(stamp, sizeof stamp, "%s/TINY_MODEL", dir_out)) return -1;
    if (path_is_file(stamp)) return 0;
    if (path_is_dir(dir_out))
        remove_tree(dir_out); /* a folder without its stamp is not ours to trust */
    char models[4096], lock[4400];
    if (cache_path("models", models, sizeof models) || mkdir_p(models)) return -1;
    /* one maker at a time (parallel shards of a grid): the others wait, then find it made */
    if (path_fmt(lock, sizeof lock, "%s.lock", dir_out)) return -1;
    int fd = open(lock, O_CREAT | O_RDWR, 0644);
    if (fd < 0) return error_set("cannot open %s: %s", lock, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        say(log, ctx, "tiny model: another process is making %s; waiting", dir_out);
        flock(fd, LOCK_EX);
    }
    int rc = 0;
    if (!path_is_file(stamp)) {
        if (path_is_dir(dir_out)) remove_tree(dir_out);
        say(log, ctx, "tiny model: making %s (done once, then cached)", dir_out);
        rc = tiny_model_make(s, tokenizer_path, device, dir_out, log, ctx);
    }
    close(fd); /* releases the lock */
    return rc;
}
