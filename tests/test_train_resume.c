/* test_train_resume.c: `compacter train` as a user runs it. Determinism: 6 steps straight vs
 * 4 steps, checkpoint, a new process resuming for the rest: the final checkpoints are
 * bitwise identical (parameters, AdamW moments, dropout stream position). 40 examples at
 * batch 8 are 5 micro-batches an epoch; with 2 accumulated that is 2 steps an epoch (the
 * transformers 4.6 Trainer's count), the fifth micro-batch carried into the next epoch's
 * first step: step 5, where the resumed process starts, begins with epoch 2's carried one. Bad input: an
 * empty training file, a corrupt checkpoint, another model's checkpoint, a NaN loss (clear
 * error, non-zero exit, the last good checkpoint kept). */
#include "tests/check.h"
#include "tests/toy_task.h"

#include <unistd.h>

#include "core/safetensors.h"

static char dir[128], train[256], cmd[4096], out[8192];

static int run(const char *args) {
    snprintf(cmd, sizeof cmd, "%s train --device cpu --train %s --epochs 3 --lr 1e-2 --batch 8 --grad-accum 2 %s 2>&1",
             compacter_bin(), train, args);
    FILE *p = popen(cmd, "r");
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    return pclose(p);
}

static long file_size(const char *p) {
    FILE *f = fopen(p, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

int main(void) {
    if (access(compacter_bin(), X_OK)) SKIP("%s not built", compacter_bin());
    snprintf(dir, sizeof dir, "/tmp/compacter-resume-%d", (int)getpid());
    mkdir(dir, 0755);
    snprintf(train, sizeof train, "%s/train.jsonl", dir);
    if (write_copy_task(train)) {
        fprintf(stderr, "cannot write %s\n", train);
        return 1;
    }
    char a1[1024], a2[1024], ck_straight[256], ck_resumed[256];
    snprintf(ck_straight, sizeof ck_straight, "%s/straight.safetensors", dir);
    snprintf(ck_resumed, sizeof ck_resumed, "%s/resumed.safetensors", dir);

    snprintf(a1, sizeof a1, "--model tests/fixtures/t5/v10 --save %s", ck_straight);
    CHECK(run(a1) == 0, "straight run failed: %s", out);
    CHECK(strstr(out, "for 6 steps") && strstr(out, "step 6 epoch 3 "), "3 epochs of 5 micro-batches, 2 accumulated: not 6 steps: %s", out);
    snprintf(a1, sizeof a1, "--model tests/fixtures/t5/v10 --save %s --stop-after 4", ck_resumed);
    CHECK(run(a1) == 0, "first half failed: %s", out);
    CHECK(strstr(out, "step 4 ") && !strstr(out, "step 5 "), "first half did not stop after 4 steps: %s", out);
    snprintf(a2, sizeof a2, "--model tests/fixtures/t5/v10 --save %s --resume %s", ck_resumed, ck_resumed);
    CHECK(run(a2) == 0, "resumed run failed: %s", out);
    CHECK(strstr(out, "step 5 ") && !strstr(out, "step 4 "), "resume did not continue at step 5: %s", out);
    CHECK(files_identical(ck_straight, ck_resumed), "6 steps straight and 4 + resume + 2 give different checkpoints");
    struct st_file sf;
    if (st_open(&sf, ck_resumed) == 0) {
        CHECK(st_find(&sf, "adam_m/shared.weight") && st_find(&sf, "param/lm_head.weight") == NULL,
              "checkpoint holds the moments and the tied head once");
        CHECK(sf.metadata_json && strstr(sf.metadata_json, "\"step\":\"6\""), "metadata step: %s", sf.metadata_json);
        st_close(&sf);
    }
    printf("  ok resume: final checkpoints bitwise identical (%ld bytes)\n", file_size(ck_resumed));

    /* bad input */
    char empty[256];
    snprintf(empty, sizeof empty, "%s/empty.jsonl", dir);
    fclose(fopen(empty, "w"));
    snprintf(cmd, sizeof cmd, "%s train --device cpu --model tests/fixtures/t5/v10 --train %s 2>&1", compacter_bin(), empty);
    FILE *p = popen(cmd, "r");
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    CHECK(pclose(p) != 0 && strstr(out, "no examples"), "empty file: %s", out);

    snprintf(a1, sizeof a1, "--model tests/fixtures/t5/v11 --resume %s", ck_straight);
    CHECK(run(a1) != 0 && strstr(out, "does not match the model"), "another model's checkpoint accepted: %s", out);

    char trunc[256];
    snprintf(trunc, sizeof trunc, "%s/trunc.safetensors", dir);
    snprintf(cmd, sizeof cmd, "head -c 5000 %s > %s", ck_straight, trunc);
    CHECK(system(cmd) == 0, "head");
    snprintf(a1, sizeof a1, "--model tests/fixtures/t5/v10 --resume %s", trunc);
    CHECK(run(a1) != 0 && strstr(out, trunc), "truncated checkpoint: %s", out);

    /* a NaN loss: a model whose final layer norm holds a NaN; --save points at a good
     * checkpoint from before, which must survive untouched */
    char nandir[256], p2[300];
    snprintf(nandir, sizeof nandir, "%s/nanmodel", dir);
    mkdir(nandir, 0755);
    snprintf(cmd, sizeof cmd, "cp tests/fixtures/t5/v10/config.json %s/", nandir);
    CHECK(system(cmd) == 0, "cp");
    struct st_file mf;
    if (st_open(&mf, "tests/fixtures/t5/v10/model.safetensors") == 0) {
        struct st_out *o = calloc((size_t)mf.n, sizeof *o);
        float *copy = malloc(mf.size);
        memcpy(copy, mf.map + mf.data_start, mf.size - mf.data_start);
        for (int i = 0; i < mf.n; i++) {
            const struct st_tensor *t = &mf.tensors[i];
            o[i] = (struct st_out){t->name, t->dtype, t->ndim, {0}, (char *)copy + t->begin};
            memcpy(o[i].shape, t->shape, sizeof o[i].shape);
            if (!strcmp(t->name, "decoder.final_layer_norm.weight")) ((float *)((char *)copy + t->begin))[3] = NAN;
        }
        snprintf(p2, sizeof p2, "%s/model.safetensors", nandir);
        CHECK(st_write(p2, o, mf.n, NULL) == 0, "write NaN model");
        free(o);
        free(copy);
        st_close(&mf);
    }
    char keep[256];
    snprintf(keep, sizeof keep, "%s/keep.safetensors", dir);
    snprintf(cmd, sizeof cmd, "cp %s %s", ck_straight, keep);
    CHECK(system(cmd) == 0, "cp");
    snprintf(a1, sizeof a1, "--model %s --save %s --save-every 1", nandir, keep);
    int rc = run(a1);
    CHECK(rc != 0 && strstr(out, "loss is NaN at step 1"), "NaN loss not stopped: rc %d %s", rc, out);
    CHECK(strstr(out, keep) != NULL, "error does not name the last good checkpoint: %s", out);
    CHECK(files_identical(keep, ck_straight), "the last good checkpoint was overwritten");

    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) fprintf(stderr, "cleanup failed\n");
    CHECK_DONE();
}
