/* test_cli_model.c: the model commands' contracts, run as a user would: `compacter
 * logits` with several ';'-separated sequences (padded by the program) against Hugging
 * Face logits, `compacter generate` against HF greedy ids, `compacter info`, and a bad
 * id list giving a non-zero exit with a message naming the flag. */
#include "tests/check.h"

#include <unistd.h>

#include "core/error.h"
#include "core/safetensors.h"

static void ids_arg(char *buf, size_t cap, const int32_t *ids, const int32_t *mask, int n, int len) {
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        for (int t = 0; t < len; t++)
            if (!mask || mask[i * len + t])
                k += (size_t)snprintf(buf + k, cap - k, "%s%d", t ? "," : "", ids[i * len + t]);
        if (i + 1 < n) k += (size_t)snprintf(buf + k, cap - k, ";");
    }
}

static int run(const char *cmd, char *out, size_t cap) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    return pclose(p);
}

int main(void) {
    if (access(compacter_bin(), X_OK)) SKIP("%s not built", compacter_bin());
    struct st_file rf;
    /* a committed fixture: missing is a broken checkout, a failure, not a skip */
    if (st_open(&rf, "tests/fixtures/t5/v11-reference.safetensors")) {
        CHECK(0, "%s", error_message());
        CHECK_DONE();
    }
    const struct st_tensor *e = st_find(&rf, "enc_ids"), *d = st_find(&rf, "dec_ids");
    int B = (int)e->shape[0], S = (int)e->shape[1], T = (int)d->shape[1];
    const int32_t *enc = (const int32_t *)(rf.map + rf.data_start + e->begin);
    const int32_t *mask = (const int32_t *)(rf.map + rf.data_start + st_find(&rf, "enc_mask")->begin);
    const int32_t *dec = (const int32_t *)(rf.map + rf.data_start + d->begin);
    char encs[2048], decs[1024], cmd[4096], out[4096], tmp[256];
    ids_arg(encs, sizeof encs, enc, mask, B, S);
    ids_arg(decs, sizeof decs, dec, NULL, B, T);
    snprintf(tmp, sizeof tmp, "/tmp/compacter-cli-%d.safetensors", (int)getpid());
    snprintf(cmd, sizeof cmd, "%s logits --device cpu --model tests/fixtures/t5/v11 --encoder-ids '%s' --decoder-ids '%s' --out %s",
             compacter_bin(), encs, decs, tmp);
    CHECK(run(cmd, out, sizeof out) == 0, "logits command failed: %s", cmd);
    struct st_file lf;
    if (st_open(&lf, tmp) == 0) {
        const struct st_tensor *l = st_find(&lf, "logits"), *want = st_find(&rf, "logits");
        CHECK(l && l->ndim == 3 && l->shape[0] == B && l->shape[1] == T && l->dtype == ST_F32, "logits shape");
        CHECK(l && st_numel(l) == st_numel(want), "logits: %lld elements, HF %lld", l ? (long long)st_numel(l) : -1LL,
              (long long)st_numel(want));
        if (l && st_numel(l) == st_numel(want))
            check_close_f32("cli logits (3 padded sequences)", (const float *)(lf.map + lf.data_start + l->begin),
                            (const float *)(rf.map + rf.data_start + want->begin), (size_t)st_numel(l), 1e-5, 1e-4);
        st_close(&lf);
    } else {
        CHECK(0, "%s", error_message());
    }
    unlink(tmp);

    /* one sequence: [dec_len, vocab] */
    snprintf(cmd, sizeof cmd, "%s logits --device cpu --model tests/fixtures/t5/v11 --encoder-ids 13,8,1 --decoder-ids 0,5 --out %s",
             compacter_bin(), tmp);
    CHECK(run(cmd, out, sizeof out) == 0, "single-sequence logits failed");
    if (st_open(&lf, tmp) == 0) {
        const struct st_tensor *l = st_find(&lf, "logits");
        CHECK(l && l->ndim == 2 && l->shape[0] == 2 && l->shape[1] == 100, "single sequence gives [dec_len, vocab]");
        st_close(&lf);
    } else {
        CHECK(0, "single-sequence logits: no output file: %s", error_message());
    }
    unlink(tmp);

    /* generate: HF greedy ids, one line per sequence */
    const struct st_tensor *g = st_find(&rf, "generated");
    int L = (int)g->shape[1];
    const int32_t *gen = (const int32_t *)(rf.map + rf.data_start + g->begin);
    snprintf(cmd, sizeof cmd, "%s generate --device cpu --model tests/fixtures/t5/v11 --encoder-ids '%s' --max-length %d",
             compacter_bin(), encs, L);
    CHECK(run(cmd, out, sizeof out) == 0, "generate failed");
    char want[2048];
    size_t k = 0;
    for (int i = 0; i < B; i++)
        for (int t = 0; t < L; t++) k += (size_t)snprintf(want + k, sizeof want - k, "%d%c", gen[i * L + t], t + 1 == L ? '\n' : ' ');
    CHECK(strcmp(out, want) == 0, "generate printed\n%s\nHF gives\n%s", out, want);

    snprintf(cmd, sizeof cmd, "%s info --model tests/fixtures/t5/v10", compacter_bin());
    CHECK(run(cmd, out, sizeof out) == 0 && strstr(out, "vocab_size       96"), "info output: %s", out);

    snprintf(cmd, sizeof cmd, "%s logits --model tests/fixtures/t5/v10 --encoder-ids 1,,x --decoder-ids 0 --out %s 2>&1", compacter_bin(), tmp);
    int rc = run(cmd, out, sizeof out);
    CHECK(rc != 0 && strstr(out, "--encoder-ids"), "bad ids: rc %d, message %s", rc, out);
    CHECK(access(tmp, F_OK) != 0, "no output file written on error");
    snprintf(cmd, sizeof cmd, "%s logits --model tests/fixtures/t5/v10 --encoder-ids 1,500 --decoder-ids 0 --out %s 2>&1", compacter_bin(), tmp);
    rc = run(cmd, out, sizeof out);
    CHECK(rc != 0 && strstr(out, "outside the vocabulary"), "id past vocab: rc %d, message %s", rc, out);
    st_close(&rf);
    CHECK_DONE();
}
