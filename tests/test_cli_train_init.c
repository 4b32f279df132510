/* test_cli_train_init.c: `compacter train --init FILE` starts from given method weights. With
 * the adapter fixtures' weights (tools/make_adapter_fixtures.py: PyTorch, from the spec) on the
 * fixture T5's reference batch, one AdamW step with dropout and clipping off leaves a first
 * moment of (1 - beta1) * gradient in the checkpoint: that gradient must be PyTorch's for
 * every trained tensor (the method's and the layer norms'), within the parity criterion
 * |a-b| <= 1e-6 + 1e-4|b| + 1e-5 max|b|. Without --init the method starts from its own
 * initialisation and the gradients differ. Bad uses: --init with --resume, a file written for
 * another method: a non-zero exit naming the problem. */
#include "tests/check.h"

#include <unistd.h>

#include "core/error.h"
#include "core/safetensors.h"

#define FIX "tests/fixtures"

static char tmp[128];

/* The reference batch of FIX/t5/<fam>-reference.safetensors as `compacter train` JSONL
 * (padding dropped). Returns the number of examples, 0 on error. */
static int write_batch(const char *fam, const char *path) {
    char ref[256];
    snprintf(ref, sizeof ref, FIX "/t5/%s-reference.safetensors", fam);
    struct st_file f;
    if (st_open(&f, ref)) return 0;
    const struct st_tensor *e = st_find(&f, "enc_ids"), *m = st_find(&f, "enc_mask"), *l = st_find(&f, "labels");
    const int32_t *ids = (const int32_t *)(f.map + f.data_start + e->begin),
                  *mask = (const int32_t *)(f.map + f.data_start + m->begin),
                  *lab = (const int32_t *)(f.map + f.data_start + l->begin);
    int B = (int)e->shape[0], S = (int)e->shape[1], T = (int)l->shape[1];
    FILE *o = fopen(path, "w");
    for (int b = 0; o && b < B; b++) {
        fprintf(o, "{\"source\": [");
        for (int s = 0, k = 0; s < S; s++)
            if (mask[b * S + s]) fprintf(o, "%s%d", k++ ? ", " : "", ids[b * S + s]);
        fprintf(o, "], \"target\": [");
        for (int t = 0, k = 0; t < T; t++)
            if (lab[b * T + t] >= 0) fprintf(o, "%s%d", k++ ? ", " : "", lab[b * T + t]);
        fprintf(o, "]}\n");
    }
    int ok = o && fclose(o) == 0;
    st_close(&f);
    return ok ? B : 0;
}

/* One step of `method` on fam's batch from the fixture weights (init 1) or the method's own
 * initialisation (init 0); compares the checkpoint's gradients with the fixture's. Returns the
 * number of tensors off (-1: the run failed). */
static int step_and_compare(const char *method, const char *fam, const char *options, int init) {
    char data[256], ck[256], cmd[2048], out[4096], path[256];
    snprintf(data, sizeof data, "%s/%s.jsonl", tmp, fam);
    snprintf(ck, sizeof ck, "%s/%s-%s-%d.safetensors", tmp, method, fam, init);
    int B = write_batch(fam, data);
    char init_arg[300] = "";
    if (init) snprintf(init_arg, sizeof init_arg, "--init " FIX "/methods/adapters/%s-%s.weights.safetensors", method, fam);
    snprintf(cmd, sizeof cmd,
             "%s train --device cpu --model " FIX "/t5/%s --train %s --method %s %s %s --batch %d --max-steps 1 "
             "--clip 0 --no-dropout --lr 1e-3 --save %s 2>&1",
             compacter_bin(), fam, data, method, options, init_arg, B, ck);
    if (!B || run_capture(cmd, out, sizeof out) != 0) {
        CHECK(0, "%s %s: %s", method, fam, out);
        return -1;
    }
    struct st_file got, want;
    snprintf(path, sizeof path, FIX "/methods/adapters/%s-%s.expect.safetensors", method, fam);
    if (st_open(&got, ck) || st_open(&want, path)) {
        CHECK(0, "%s", error_message());
        return -1;
    }
    int off = 0, n_grads = 0;
    for (int i = 0; i < want.n; i++) {
        const char *name = want.tensors[i].name;
        if (strncmp(name, "grad.", 5)) continue;
        n_grads++;
        char key[512];
        snprintf(key, sizeof key, "adam_m/%s", name + 5);
        const struct st_tensor *g = st_find(&got, key);
        int64_t n = st_numel(&want.tensors[i]);
        if (!g || st_numel(g) != n) {
            CHECK(0, "%s %s: %s missing from the checkpoint or of another size", method, fam, key);
            off++;
            continue;
        }
        float *a = malloc(sizeof(float) * (size_t)n), *b = malloc(sizeof(float) * (size_t)n);
        st_read_f32(&got, g, a);
        st_read_f32(&want, &want.tensors[i], b);
        for (int64_t j = 0; j < n; j++) a[j] /= 0.1f; /* m = (1 - beta1) g after one step */
        double worst = 0;
        off += grad_elements_off(a, b, n, NULL, &worst) > 0;
        free(a);
        free(b);
    }
    /* the checkpoint trains exactly the fixture's tensors */
    int n_m = 0;
    for (int i = 0; i < got.n; i++) n_m += !strncmp(got.tensors[i].name, "adam_m/", 7);
    CHECK(n_m == n_grads, "%s %s: %d trained tensors in the checkpoint, %d in the fixture", method, fam, n_m, n_grads);
    st_close(&got);
    st_close(&want);
    return off;
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/compacter-init-XXXXXX");
    if (!mkdtemp(tmp)) SKIP("cannot create a temporary folder");
    static const struct {
        const char *method, *fam, *options;
    } cases[] = {
        {"adapter", "v10", "--option reduction_factor=4"},
        {"compacter", "v11", "--option reduction_factor=3 --option phm_dim=4 --option phm_rank=2"},
        {"compacter++", "v11", "--option reduction_factor=3 --option phm_dim=4 --option non_linearity=relu"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int off = step_and_compare(cases[i].method, cases[i].fam, cases[i].options, 1);
        CHECK(off == 0, "%s %s --init: %d tensors' gradients differ from PyTorch's", cases[i].method, cases[i].fam, off);
        if (off == 0) printf("  ok %s %s: --init gives PyTorch's gradients for every trained tensor\n", cases[i].method, cases[i].fam);
    }
    /* the check can fail: the method's own initialisation gives other gradients */
    int off = step_and_compare("adapter", "v10", "--option reduction_factor=4", 0);
    CHECK(off > 0, "adapter v10 without --init: gradients equal the fixture's (%d off)", off);

    char cmd[1024], out[4096];
    snprintf(cmd, sizeof cmd,
             "%s train --device cpu --model " FIX "/t5/v10 --train %s/v10.jsonl --method pfeiffer --option "
             "reduction_factor=4 --init " FIX "/methods/adapters/adapter-v10.weights.safetensors --max-steps 1 2>&1",
             compacter_bin(), tmp);
    int rc = run_capture(cmd, out, sizeof out);
    CHECK(rc != 0 && strstr(out, "adapter-v10.weights.safetensors") && strstr(out, "written for method 'adapter', not 'pfeiffer'"),
          "--init for another method: rc %d, %s", rc, out);
    snprintf(cmd, sizeof cmd,
             "%s train --device cpu --model " FIX "/t5/v10 --train %s/v10.jsonl --method adapter --option "
             "reduction_factor=4 --init " FIX "/methods/adapters/adapter-v10.weights.safetensors --resume x --max-steps 1 2>&1",
             compacter_bin(), tmp);
    rc = run_capture(cmd, out, sizeof out);
    CHECK(rc != 0 && strstr(out, "--init and --resume"), "--init with --resume: rc %d, %s", rc, out);
    if (!check_failures) {
        snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
        if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmp);
    }
    CHECK_DONE();
}
