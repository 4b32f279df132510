/* test_vs_pytorch.c: the differential fuzz tools of tools/, run briefly with fixed seeds
 * where a python with torch, transformers and tokenizers is at hand (a developer's machine;
 * CI has none and this test SKIPs there, saying so): this build's `compacter` against the
 * references on random inputs nobody wrote by hand.
 *  - tokenize / decode against HF tokenizers: the tiny fixture tokenizer, the tiny tokenizer as
 *    transformers 5 saves it, and the real T5 tokenizer when ../shared/data has it;
 *  - logits against transformers on random T5 shapes (tools/fuzz_t5_vs_hf.py);
 *  - full fine-tuning's gradients, and every method's with random options, against PyTorch
 *    autograd in float64 (tools/fuzz_t5_grads_vs_torch.py, tools/fuzz_methods_grads_vs_torch.py).
 * The tools say how they judge; each exits non-zero on any case off. The python is
 * $COMPACTER_PYTHON, else ~/.venvs/ref/bin/python, else python3. */
#include "tests/check.h"

#include <ctype.h>
#include <unistd.h>

static char python[600];

static int has_python_refs(void) {
    static char home_py[512];
    const char *env = getenv("COMPACTER_PYTHON"), *home = getenv("HOME"), *cands[3];
    int n = 0;
    if (env && *env) cands[n++] = env;
    if (home) {
        snprintf(home_py, sizeof home_py, "%.400s/.venvs/ref/bin/python", home);
        cands[n++] = home_py;
    }
    cands[n++] = "python3";
    for (int i = 0; i < n; i++) {
        char cmd[1024], out[256];
        snprintf(cmd, sizeof cmd, "'%.500s' -c 'import torch, transformers, tokenizers, safetensors' 2>/dev/null && echo yes",
                 cands[i]);
        if (run_capture(cmd, out, sizeof out) == 0 && !strncmp(out, "yes", 3)) {
            snprintf(python, sizeof python, "%.500s", cands[i]);
            return 1;
        }
    }
    return 0;
}

/* Run one tool with arguments; CHECK its exit status and print its summary lines. */
static void tool(const char *what, const char *script, const char *args) {
    char cmd[4096], out[1 << 16];
    snprintf(cmd, sizeof cmd, "'%s' tools/%s --bin '%s' %s 2>&1", python, script, compacter_bin(), args);
    int rc = run_capture(cmd, out, sizeof out);
    CHECK(rc == 0, "%s: %s exited with %d:\n%s", what, script, rc, out);
    /* the tools' summary lines: "encode: N cases, 0 differ", "N cases, 0 failed, ..." */
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
        if (strstr(line, " cases, ") && (!strncmp(line, "encode", 6) || !strncmp(line, "decode", 6) ||
                                          isdigit((unsigned char)line[0])))
            printf("  %s %-28s %s\n", rc == 0 ? "ok" : "FAIL", what, line);
}

int main(void) {
    if (access(compacter_bin(), X_OK)) SKIP("%s not built", compacter_bin());
    if (!has_python_refs())
        SKIP("no python with torch, transformers and tokenizers ($COMPACTER_PYTHON, ~/.venvs/ref/bin/python, "
             "python3): the differential fuzz needs the references");
    printf("  python: %s\n", python);
    tool("tokenizer (tiny)", "fuzz_tokenizer_vs_hf.py", "--tokenizer tests/fixtures/tokenizer/tiny_tokenizer.json --n 3000 --seed 1");
    tool("tokenizer (tiny, tf5 save)", "fuzz_tokenizer_vs_hf.py",
         "--tokenizer tests/fixtures/tokenizer/tiny_tf5_tokenizer.json --n 3000 --seed 2");
    const char *t5 = shared_data("t5-tokenizer/tokenizer.json");
    if (t5) {
        char args[4200];
        snprintf(args, sizeof args, "--tokenizer '%s' --n 3000 --seed 3", t5);
        tool("tokenizer (T5)", "fuzz_tokenizer_vs_hf.py", args);
    } else {
        printf("  SKIP tokenizer (T5): ../shared/data/t5-tokenizer/tokenizer.json absent\n");
    }
    tool("logits", "fuzz_t5_vs_hf.py", "--cases 8 --seed 101");
    tool("full fine-tuning gradients", "fuzz_t5_grads_vs_torch.py", "--cases 6 --seed 102");
    tool("method gradients", "fuzz_methods_grads_vs_torch.py", "--cases 14 --seed 103");
    CHECK_DONE();
}
