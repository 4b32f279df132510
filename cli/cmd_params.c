/* cmd_params.c: `compacter params --config FILE --method NAME [--option k=v ...]` prints
 * `trainable N total M percent P` (percent of the base model, as the paper's tables), and
 * with --verbose one line per trained tensor. Like the reference, the vocabulary is cut to
 * the tokenizer's 32,100 rows unless --vocab says otherwise. No weights are read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "methods/method.h"

int cmd_params(int argc, char **argv) {
    struct arg a[] = {
        {"config", 1, "a T5 config.json (or a model folder holding one)"},
        {"method", 1, "method name (--list shows them; default full)"},
        {"list", 0, "list every method with its options and defaults"},
        {"option", 1, "method option key=value (repeatable)"},
        {"vocab", 1, "vocabulary rows (default 32100, the T5 tokenizer's size, as the reference)"},
        {"verbose", 0, "list every trained tensor"},
    };
    int n = (int)(sizeof a / sizeof a[0]);
    int r = args_parse(argc, argv, a, n, "compacter params --config FILE [--method NAME] [--option k=v ...]", NULL, 0,
                       NULL);
    if (r) return r == 1 ? 0 : r;
    if (args_has(a, n, "list")) {
        for (int i = 0; i < method_count(); i++) {
            const struct method *me = method_at(i);
            printf("%-16s %s\n", me->name, me->summary);
            for (const struct method_option *o = me->options; o && o->name; o++)
                printf("    %s=%s  %s\n", o->name, o->def, o->help ? o->help : "");
        }
        return 0;
    }
    const char *cfg_path = args_str(a, n, "config", NULL);
    if (!cfg_path) {
        fprintf(stderr, "compacter params: --config is required\n");
        return 2;
    }
    char path[4096], dir[4096];
    struct stat st;
    if (stat(cfg_path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(path, sizeof path, "%s/config.json", cfg_path);
        cfg_path = path;
    }
    struct t5_config c;
    if (t5_config_load(&c, cfg_path)) return cli_fail("params");
    /* transformers 5 configs leave the head's tying to the checkpoint beside them */
    snprintf(dir, sizeof dir, "%s", cfg_path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else strcpy(dir, ".");
    int resolved = 0;
    if (t5_config_tie_from_checkpoint(&c, dir, &resolved)) return cli_fail("params");
    if (t5_config_transformers5(&c) && !resolved)
        fprintf(stderr, "note: %s is a transformers 5 config with no checkpoint beside it: its head is counted as tied "
                        "(an lm_head.weight in the checkpoint would untie it)\n", cfg_path);
    long long vocab;
    if (args_int(a, n, "vocab", 32100, 1, 1 << 30, &vocab)) {
        fprintf(stderr, "compacter params: %s\n", error_message());
        return 2;
    }
    c.vocab_size = (int)vocab;
    struct t5_model m;
    struct method_instance mi;
    /* parameters are laid out but never touched: the allocation stays virtual */
    if (t5_model_create(&m, &c, &backend_cpu)) return cli_fail("params");
    const char *name = args_str(a, n, "method", "full");
    struct arg *opt = NULL;
    for (int i = 0; i < n; i++)
        if (!strcmp(a[i].name, "option")) opt = &a[i];
    if (method_attach(&mi, name, &m, opt->values, opt->n_values, 42)) {
        t5_model_free(&m);
        return cli_fail("params");
    }
    int64_t base = 0;
    for (int i = 0; i < m.n_params; i++) base += tensor_numel(&m.params[i]);
    int64_t trainable = method_trainable_count(&mi), total = method_total_count(&mi);
    printf("trainable %lld total %lld percent %.3f\n", (long long)trainable, (long long)total,
           100.0 * (double)trainable / (double)base);
    if (args_has(a, n, "verbose")) {
        printf("method %s, base model %lld parameters (vocabulary %d)\n", name, (long long)base, c.vocab_size);
        for (int i = 0; i < mi.n_options; i++) printf("option %s=%s\n", mi.opt_name[i], mi.opt_value[i]);
        for (int i = 0; i < mi.n_train; i++) {
            char s[64];
            printf("  %-64s %-16s %lld\n", mi.train[i]->name ? mi.train[i]->name : "?",
                   tensor_shape_str(mi.train[i], s, sizeof s), (long long)tensor_numel(mi.train[i]));
        }
    }
    method_detach(&mi);
    t5_model_free(&m);
    return 0;
}
