/* test_params.c: `compacter params` for full fine-tuning on the t5-base and flan-t5-base
 * configs against the reference-spec counts (222,882,048 = t5-base with the vocabulary cut
 * to 32,100), transformers 5 configs whose head's tying the checkpoint beside them decides, and
 * the contract's output format. Per-method counts live in the methods'
 * own tests. */
#include "tests/check.h"

#include <unistd.h>

static int run(const char *args, char *out, size_t cap) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s params %s 2>&1", compacter_bin(), args);
    FILE *p = popen(cmd, "r");
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    return pclose(p);
}

int main(void) {
    if (access(compacter_bin(), X_OK)) SKIP("%s not built", compacter_bin());
    char out[4096];
    CHECK(run("--config tests/fixtures/configs/t5-base.json --method full", out, sizeof out) == 0, "%s", out);
    CHECK(!strcmp(out, "trainable 222882048 total 222882048 percent 100.000\n"), "t5-base full: %s", out);
    /* the checkpoint's own vocabulary: 32,128 rows */
    CHECK(run("--config tests/fixtures/configs/t5-base.json --vocab 32128", out, sizeof out) == 0, "%s", out);
    CHECK(!strcmp(out, "trainable 222903552 total 222903552 percent 100.000\n"), "t5-base 32128: %s", out);
    /* flan-t5-base, vocabulary 32,100: 2 x 32100 x 768 (untied head) + 12 x 7,079,424 (encoder
     * layers: 4 x 768^2 + 3 x 768 x 2048 + 2 x 768) + 12 x 9,439,488 (decoder) + 1,536 + 768 */
    CHECK(run("--config tests/fixtures/configs/flan-t5-base.json", out, sizeof out) == 0, "%s", out);
    CHECK(!strcmp(out, "trainable 247534848 total 247534848 percent 100.000\n"), "flan-t5-base: %s", out);
    /* saved by transformers 5 (tie_word_embeddings always true): the checkpoint beside the
     * config decides. d 24, 2 heads x 8, d_ff 40 gated, 2 + 2 layers, 8 buckets, 64 rows:
     * 2 x 4,464 (encoder layers: 4 x 24 x 16 + 3 x 24 x 40 + 2 x 24) + 2 x 6,024 (decoder:
     * 8 x 24 x 16 + 3 x 24 x 40 + 3 x 24) + 2 x 16 (position biases) + 2 x 24 (final norms)
     * + 1,536 (embedding) = 22,592, + 1,536 for an lm_head of its own */
    CHECK(run("--config tests/fixtures/t5/hf5-untied --vocab 64", out, sizeof out) == 0 &&
              !strcmp(out, "trainable 24128 total 24128 percent 100.000\n"),
          "transformers 5, untied head: %s", out);
    CHECK(run("--config tests/fixtures/t5/hf5-tied-unscaled/config.json --vocab 64", out, sizeof out) == 0 &&
              !strcmp(out, "trainable 22592 total 22592 percent 100.000\n"),
          "transformers 5, tied head: %s", out);
    CHECK(run("--config tests/fixtures/configs/t5-base.json --method nope", out, sizeof out) != 0 &&
              strstr(out, "unknown method 'nope'"),
          "unknown method: %s", out);
    CHECK(run("--config tests/fixtures/configs/t5-base.json --method full --option rank=2", out, sizeof out) != 0 &&
              strstr(out, "no option 'rank'"),
          "unknown option: %s", out);
    CHECK(run("--config /nonexistent.json", out, sizeof out) != 0 && strstr(out, "/nonexistent.json"), "missing: %s",
          out);
    CHECK_DONE();
}
