/* test_safetensors.c: the safetensors reader/writer and the model loader's error paths.
 * Every corrupt input must give one clear error naming the file and the field or tensor,
 * never a crash (CI runs this under AddressSanitizer). */
#include "tests/check.h"

#include <stdint.h>
#include <unistd.h>

#include "core/error.h"
#include "core/safetensors.h"
#include "core/t5_model.h"

static char tmpdir[256];

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) { perror(path); exit(1); }
    fclose(f);
}

static void write_str(const char *path, const char *s) { write_bytes(path, s, strlen(s)); }

static void write_raw(const char *path, const char *header, size_t data_bytes) {
    size_t h = strlen(header);
    uint8_t *buf = calloc(1, 8 + h + data_bytes);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, header, h);
    write_bytes(path, buf, 8 + h + data_bytes);
    free(buf);
}

/* st_open must fail and the message must contain `needle`. */
static void expect_open_error(const char *what, const char *path, const char *needle) {
    struct st_file f;
    int rc = st_open(&f, path);
    CHECK(rc == -1, "%s: st_open accepted a bad file", what);
    if (rc == 0) { st_close(&f); return; }
    CHECK(strstr(error_message(), needle) != NULL, "%s: error '%s' lacks '%s'", what, error_message(), needle);
    CHECK(strstr(error_message(), path) != NULL, "%s: error '%s' does not name the file", what, error_message());
    printf("  ok %-28s -> %s\n", what, error_message());
}

static void expect_load_error(const char *what, const char *dir, const char *needle) {
    struct t5_model m;
    int rc = t5_model_load(&m, dir, &backend_cpu);
    CHECK(rc == -1, "%s: model load accepted it", what);
    if (rc == 0) { t5_model_free(&m); return; }
    CHECK(strstr(error_message(), needle) != NULL, "%s: error '%s' lacks '%s'", what, error_message(), needle);
    printf("  ok %-28s -> %s\n", what, error_message());
}

static void copy_file(const char *from, const char *to) {
    FILE *f = fopen(from, "rb");
    if (!f) { perror(from); exit(1); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)n);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) exit(1);
    fclose(f);
    write_bytes(to, b, (size_t)n);
    free(b);
}

/* Rewrite the v10 fixture into dir, changing one tensor: mode 0 drop it, 1 reshape it,
 * 2 add an extra tensor, 3 store it as I32, 4 store it under the name
 * encoder.embed_tokens.weight. */
static void mutate_model(const char *dir, const char *victim, int mode) {
    char p[512];
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/config.json", dir);
    copy_file("tests/fixtures/t5/v10/config.json", p);
    struct st_file f;
    if (st_open(&f, "tests/fixtures/t5/v10/model.safetensors")) { fprintf(stderr, "%s\n", error_message()); exit(1); }
    struct st_out *outs = calloc((size_t)f.n + 1, sizeof *outs);
    int n = 0;
    for (int i = 0; i < f.n; i++) {
        const struct st_tensor *t = &f.tensors[i];
        if (mode == 0 && !strcmp(t->name, victim)) continue;
        struct st_out *o = &outs[n++];
        o->name = t->name;
        o->dtype = t->dtype;
        o->ndim = t->ndim;
        memcpy(o->shape, t->shape, sizeof o->shape);
        o->data = f.map + f.data_start + t->begin;
        if (!strcmp(t->name, victim) && mode == 1) { o->shape[0] /= 2; o->shape[1] *= 2; }
        if (!strcmp(t->name, victim) && mode == 3) o->dtype = ST_I32;
        if (!strcmp(t->name, victim) && mode == 4) o->name = "encoder.embed_tokens.weight";
    }
    if (mode == 2) outs[n++] = (struct st_out){"encoder.block.9.extra.weight", ST_F32, 1, {4}, f.map + f.data_start};
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    if (st_write(p, outs, n, NULL)) { fprintf(stderr, "%s\n", error_message()); exit(1); }
    free(outs);
    st_close(&f);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/compacter-st-%d", (int)getpid());
    mkdir(tmpdir, 0755);
    char p[512], q[600];

    /* round trip through the writer, with metadata */
    float a[6] = {1, -2, 3.5f, 4, 5, 6};
    int32_t ids[3] = {7, -100, 9};
    struct st_out outs[2] = {{"a", ST_F32, 2, {2, 3}, a}, {"ids", ST_I32, 1, {3}, ids}};
    snprintf(p, sizeof p, "%s/ok.safetensors", tmpdir);
    CHECK(st_write(p, outs, 2, "{\"method\":\"compacter\"}") == 0, "write: %s", error_message());
    struct st_file f;
    CHECK(st_open(&f, p) == 0, "reopen: %s", error_message());
    const struct st_tensor *t = st_find(&f, "a");
    CHECK(t && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 && t->dtype == ST_F32, "tensor a header");
    float back[6] = {0};
    if (t) st_read_f32(&f, t, back);
    CHECK(memcmp(back, a, sizeof a) == 0, "tensor a data");
    t = st_find(&f, "ids");
    CHECK(t && !memcmp(f.map + f.data_start + t->begin, ids, sizeof ids), "tensor ids data");
    CHECK(f.metadata_json && strstr(f.metadata_json, "compacter"), "metadata kept");
    CHECK((f.data_start % 8) == 0, "data section aligned to 8");
    st_close(&f);
    snprintf(q, sizeof q, "%s/ok.safetensors.tmp.%d", tmpdir, (int)getpid());
    CHECK(access(q, F_OK) != 0, "no temp file left behind");

    /* reader error paths */
    snprintf(p, sizeof p, "%s/missing.safetensors", tmpdir);
    expect_open_error("missing file", p, "cannot open");
    snprintf(p, sizeof p, "%s/short.safetensors", tmpdir);
    write_bytes(p, "abc", 3);
    expect_open_error("3-byte file", p, "too short");
    snprintf(p, sizeof p, "%s/hugeheader.safetensors", tmpdir);
    write_bytes(p, "\xff\xff\xff\xff\x00\x00\x00\x00{}", 10);
    expect_open_error("header length past EOF", p, "header length");
    snprintf(p, sizeof p, "%s/badjson.safetensors", tmpdir);
    write_raw(p, "{\"a\": {\"dtype\": \"F32\", ", 0);
    expect_open_error("bad JSON header", p, "not valid JSON");
    snprintf(p, sizeof p, "%s/notobject.safetensors", tmpdir);
    write_raw(p, "[1, 2]", 0);
    expect_open_error("header not an object", p, "not a JSON object");
    snprintf(p, sizeof p, "%s/dtype.safetensors", tmpdir);
    write_raw(p, "{\"a\":{\"dtype\":\"F12\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
    expect_open_error("unknown dtype", p, "unknown dtype 'F12'");
    snprintf(p, sizeof p, "%s/trunc.safetensors", tmpdir);
    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8);
    expect_open_error("truncated data", p, "truncated");
    snprintf(p, sizeof p, "%s/span.safetensors", tmpdir);
    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
    expect_open_error("offsets vs shape", p, "needs 12");
    snprintf(p, sizeof p, "%s/shape.safetensors", tmpdir);
    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,8]}}", 8);
    expect_open_error("negative dimension", p, "field 'shape'");
    snprintf(p, sizeof p, "%s/nooff.safetensors", tmpdir);
    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8);
    expect_open_error("missing data_offsets", p, "data_offsets");

    /* model loader error paths */
    snprintf(p, sizeof p, "%s/m-missing", tmpdir);
    mutate_model(p, "decoder.block.2.layer.1.EncDecAttention.k.weight", 0);
    expect_load_error("missing tensor", p, "'decoder.block.2.layer.1.EncDecAttention.k.weight' is missing");
    snprintf(p, sizeof p, "%s/m-shape", tmpdir);
    mutate_model(p, "encoder.block.1.layer.1.DenseReluDense.wo.weight", 1);
    expect_load_error("mis-shaped tensor", p, "'encoder.block.1.layer.1.DenseReluDense.wo.weight' has shape [20, 112]");
    snprintf(p, sizeof p, "%s/m-extra", tmpdir);
    mutate_model(p, "", 2);
    expect_load_error("unexpected tensor", p, "unexpected tensor 'encoder.block.9.extra.weight'");
    snprintf(p, sizeof p, "%s/m-dtype", tmpdir);
    mutate_model(p, "encoder.final_layer_norm.weight", 3);
    expect_load_error("integer weights", p, "has dtype I32");
    /* an export that keeps the embedding only under its alias: loaded as shared.weight, the
     * same values as the fixture's (read here from the fixture file itself) */
    snprintf(p, sizeof p, "%s/m-alias", tmpdir);
    mutate_model(p, "shared.weight", 4);
    {
        struct t5_model m;
        struct st_file f;
        int ok = t5_model_load(&m, p, &backend_cpu) == 0;
        CHECK(ok, "embedding under its alias: %s", error_message());
        if (ok && st_open(&f, "tests/fixtures/t5/v10/model.safetensors") == 0) {
            const struct st_tensor *t = st_find(&f, "shared.weight");
            float *want = malloc(sizeof(float) * (size_t)st_numel(t));
            CHECK(want && st_read_f32(&f, t, want) == 0 && tensor_numel(m.shared) == st_numel(t) &&
                      !memcmp(m.shared->data, want, sizeof(float) * (size_t)st_numel(t)),
                  "embedding under its alias: values differ from shared.weight's");
            free(want);
            st_close(&f);
        }
        if (ok) t5_model_free(&m);
    }
    snprintf(p, sizeof p, "%s/m-noweights", tmpdir);
    mkdir(p, 0755);
    snprintf(q, sizeof q, "%s/config.json", p);
    copy_file("tests/fixtures/t5/v10/config.json", q);
    expect_load_error("no weights file", p, "no model.safetensors");
    snprintf(q, sizeof q, "%s/config.json", p);
    write_str(q, "{\"d_model\": 8");
    expect_load_error("corrupt config.json", p, "not valid JSON");
    write_str(q, "{\"d_model\": 8}");
    expect_load_error("config without vocab_size", p, "field 'vocab_size' is missing");
    write_str(q, "{\"vocab_size\":8,\"d_model\":8,\"d_kv\":2,\"d_ff\":8,\"num_heads\":2,\"num_layers\":1,\"feed_forward_proj\":\"swish\"}");
    expect_load_error("unknown activation", p, "feed_forward_proj");

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmpdir);
    CHECK_DONE();
}
