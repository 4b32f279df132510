/* cmd_train.c: `compacter train --model DIR --train FILE.jsonl --epochs N --lr X --batch B`:
 * fine-tune on (source, target) pairs, printing the loss of every step (a progress line on
 * a terminal, plain lines otherwise); checkpoints with --save, resume with --resume. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli_model.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/tokenizer.h"
#include "experiments/trainer.h"
#include "methods/method.h"
#include "methods/method_io.h"

struct progress {
    int tty;
};

static void on_step(void *ctx, const struct step_info *s) {
    const struct progress *p = ctx;
    if (p->tty) {
        int w = 30, done = (int)(w * s->step / (s->total_steps ? s->total_steps : 1));
        double eta = s->seconds * (double)(s->total_steps - s->step);
        fprintf(stderr, "\r[%.*s%*s] step %lld/%lld epoch %d loss %.4f lr %.2e eta %.0fs   ", done,
                "##############################", w - done, "", (long long)s->step, (long long)s->total_steps,
                s->epoch, s->loss, s->lr, eta);
        if (s->step == s->total_steps) fputc('\n', stderr);
    }
    /* the full-precision line always goes to stdout (logs, determinism checks) */
    printf("step %lld epoch %d loss %.9g lr %.6g grad_norm %.6g time %.3fs\n", (long long)s->step, s->epoch, s->loss,
           s->lr, s->grad_norm, s->seconds);
    fflush(stdout);
    if (s->warning) fprintf(stderr, "%swarning: %s\n", p->tty ? "\n" : "", s->warning);
}

int cmd_train(int argc, char **argv) {
    struct arg a[] = {
        {"model", 1, "Hugging Face model folder to fine-tune"},
        {"train", 1, "JSONL of {\"source\": ..., \"target\": ...} (token-id arrays or text)"},
        {"tokenizer", 1, "tokenizer.json for text fields (default: MODEL/tokenizer.json if present)"},
        {"epochs", 1, "epochs (default 1)"},
        {"lr", 1, "peak learning rate (default 3e-4)"},
        {"batch", 1, "examples per micro-batch (default 8)"},
        {"grad-accum", 1, "micro-batches per optimizer step (default 1; an epoch makes floor(batches / N) steps, the rest carried into the next epoch, as the transformers 4.6 Trainer)"},
        {"warmup", 1, "linear warmup steps (default 0)"},
        {"max-steps", 1, "train for this many optimizer steps in all, whatever --epochs (as transformers' max_steps; sets the schedule)"},
        {"stop-after", 1, "leave after N steps of this invocation (checkpointed with --save)"},
        {"max-source-length", 1, "truncate sources (default 128)"},
        {"max-target-length", 1, "truncate targets (default 128)"},
        {"weight-decay", 1, "AdamW weight decay (default 0)"},
        {"no-decay", 1, "tensors exempt from weight decay: bias (the reference's rule, default), bias+norms, none"},
        {"adamw", 1, "hf (transformers 4.6, the reference's; default) or torch"},
        {"clip", 1, "max gradient norm (default 1.0; 0 disables)"},
        {"seed", 1, "data order and dropout seed (default 42)"},
        {"no-dropout", 0, "train with dropout off"},
        {"save", 1, "write the final (and periodic) checkpoint here"},
        {"save-every", 1, "also checkpoint every N steps"},
        {"resume", 1, "resume from this checkpoint"},
        {"init", 1, "start from these method weights instead of the method's initialisation (a method-only file, e.g. a run's best weights: the method's tensors and the base tensors it trains; same method and options)"},
        {"method", 1, "PEFT method (default full; compacter params --help lists them)"},
        {"option", 1, "method option key=value (repeatable)"},
        {"device", 1, "cpu, cuda or auto (default auto)"},
        {"precision", 1, "fp32 (default, strict), tf32 or bf16 (activations and frozen weights stored bf16, GEMMs on bf16 operands with f32 sums; the same bits emulated on cpu)"},
    };
    int n = (int)(sizeof a / sizeof a[0]);
    int r = args_parse(argc, argv, a, n,
                       "compacter train --model DIR --train FILE.jsonl [--epochs N] [--lr X] [--batch B] ...", NULL, 0,
                       NULL);
    if (r) return r == 1 ? 0 : r;
    const char *dir = args_str(a, n, "model", NULL), *train = args_str(a, n, "train", NULL);
    if (!dir || !train) {
        fprintf(stderr, "compacter train: --model and --train are required (see --help)\n");
        return 2;
    }
    /* numbers: a malformed or out-of-range value is a usage error naming the flag */
    long long epochs, batch, accum, src_len, tgt_len, max_steps, stop_after, seed, save_every, warmup;
    double lr, wd, clip;
    const long long IMAX = 2147483647;
    if (args_int(a, n, "epochs", 1, 1, IMAX, &epochs) || args_int(a, n, "batch", 8, 1, IMAX, &batch) ||
        args_int(a, n, "grad-accum", 1, 1, IMAX, &accum) ||
        args_int(a, n, "max-source-length", 128, 1, IMAX, &src_len) ||
        args_int(a, n, "max-target-length", 128, 1, IMAX, &tgt_len) ||
        args_int(a, n, "max-steps", 0, 0, IMAX, &max_steps) || args_int(a, n, "stop-after", 0, 0, IMAX, &stop_after) ||
        args_int(a, n, "seed", 42, 0, 9223372036854775807LL, &seed) ||
        args_int(a, n, "save-every", 0, 0, IMAX, &save_every) || args_int(a, n, "warmup", 0, 0, IMAX, &warmup) ||
        args_num(a, n, "lr", 3e-4, &lr) || args_num(a, n, "weight-decay", 0, &wd) || args_num(a, n, "clip", 1.0, &clip)) {
        fprintf(stderr, "compacter train: %s\n", error_message());
        return 2;
    }
    if (!(lr > 0) || wd < 0 || clip < 0) {
        fprintf(stderr, "compacter train: --lr must be > 0, --weight-decay and --clip >= 0 (clip 0 disables it)\n");
        return 2;
    }
    struct train_config c = {
        .epochs = (int)epochs,
        .batch = (int)batch,
        .grad_accum = (int)accum,
        .max_source_len = (int)src_len,
        .max_target_len = (int)tgt_len,
        .max_steps = max_steps,
        .stop_after = stop_after,
        .seed = (uint64_t)seed,
        .dropout = !args_has(a, n, "no-dropout"),
        .save_path = args_str(a, n, "save", NULL),
        .save_every = (int)save_every,
    };
    c.optim = optim_defaults(lr, (int)warmup, 0);
    c.optim.weight_decay = wd;
    c.optim.max_grad_norm = clip;
    const char *variant = args_str(a, n, "adamw", "hf");
    if (strcmp(variant, "hf") && strcmp(variant, "torch")) {
        fprintf(stderr, "compacter train: --adamw must be hf or torch\n");
        return 2;
    }
    c.optim.variant = strcmp(variant, "hf") ? ADAMW_TORCH : ADAMW_HF46;
    struct t5_model m;
    if (open_model(&m, dir, args_str(a, n, "device", "auto"), args_str(a, n, "precision", "fp32"))) return cli_fail("train");
    const char *tok_path = args_str(a, n, "tokenizer", NULL);
    char buf[4096];
    struct stat st;
    if (!tok_path) {
        snprintf(buf, sizeof buf, "%s/tokenizer.json", dir);
        if (stat(buf, &st) == 0) tok_path = buf;
    }
    struct tokenizer *tok = NULL;
    struct seq2seq_data d = {0};
    struct trainable tr = {0};
    struct method_instance mi = {0};
    struct exec x;
    int rc = 0, have_exec = 0;
    struct arg *opt = NULL;
    for (int i = 0; i < n; i++)
        if (!strcmp(a[i].name, "option")) opt = &a[i];
    rc = method_attach(&mi, args_str(a, n, "method", "full"), &m, opt->values, opt->n_values, c.seed);
    const char *init = args_str(a, n, "init", NULL);
    if (!rc && init && args_str(a, n, "resume", NULL)) rc = error_set("--init and --resume: give one (a checkpoint holds the weights)");
    if (!rc && init) rc = method_weights_load(&mi, init);
    if (!rc && tok_path && !(tok = tokenizer_load(tok_path))) rc = -1;
    if (!rc) rc = seq2seq_load_jsonl(&d, train, tok, m.cfg.vocab_size);
    const char *nd = args_str(a, n, "no-decay", "bias");
    int (*no_decay)(const char *) = !strcmp(nd, "bias") ? no_decay_bias
                                    : !strcmp(nd, "bias+norms") ? no_decay_bias_and_norms
                                    : NULL;
    if (!rc && strcmp(nd, "bias") && strcmp(nd, "bias+norms") && strcmp(nd, "none"))
        rc = error_set("--no-decay: '%s' is not bias, bias+norms or none", nd);
    if (!rc) rc = trainable_init(&tr, m.be, mi.train, mi.n_train, no_decay);
    if (!rc && !(rc = exec_init(&x, m.be))) have_exec = 1;
    if (!rc) {
        struct progress p = {isatty(2)};
        fprintf(stderr, "training %lld parameters on %d examples for %lld steps\n", (long long)tr.numel, d.n,
                (long long)trainer_total_steps(&c, d.n));
        rc = trainer_run(&x, &m, &tr, &d, &c, args_str(a, n, "resume", NULL), on_step, &p);
    }
    if (have_exec) exec_free(&x);
    trainable_free(&tr);
    if (mi.method) method_detach(&mi);
    seq2seq_free(&d);
    tokenizer_free(tok);
    t5_model_free(&m);
    return rc ? cli_fail("train") : 0;
}
