/* cmd_tokenize.c: `compacter tokenize`: text lines on stdin -> one line of space-separated
 * token ids per input line on stdout (with the post-processor's </s>), or with --decode
 * id lines -> text lines. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/tokenizer.h"

static void put_ids(const int32_t *ids, size_t n) {
    char buf[16];
    for (size_t i = 0; i < n; i++) {
        int len = 0;
        uint32_t v = (uint32_t)ids[i]; /* ids are never negative */
        do buf[sizeof buf - 1 - len++] = (char)('0' + v % 10);
        while ((v /= 10) && len < 15);
        if (i) putchar_unlocked(' ');
        fwrite(buf + sizeof buf - len, 1, (size_t)len, stdout);
    }
    putchar_unlocked('\n');
}

static int parse_ids(const char *line, size_t lineno, int32_t **ids, size_t *n, size_t *cap) {
    *n = 0;
    const char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r') p++;
        if (!*p) return 0;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX || (*end && *end != ' ' && *end != '\t' && *end != '\r'))
            return error_set("stdin line %zu: expected space-separated non-negative ids", lineno);
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            int32_t *q = realloc(*ids, *cap * sizeof *q);
            if (!q) return error_set("out of memory");
            *ids = q;
        }
        (*ids)[(*n)++] = (int32_t)v;
        p = end;
    }
}

int cmd_tokenize(int argc, char **argv) {
    struct arg args[] = {
        {.name = "tokenizer", .takes_value = 1, .help = "tokenizer.json (Hugging Face format; T5 SentencePiece unigram)"},
        {.name = "decode", .help = "read lines of ids, print the decoded text of each"},
        {.name = "keep-special", .help = "with --decode: keep special tokens (</s>, <pad>, <extra_id_N>) "
                            "(default: skip them, as tokenizers' decode does)"},
        {.name = "cleanup", .help = "with --decode: also apply transformers' "
                                    "clean_up_tokenization_spaces (\" .\" -> \".\", ...), as T5's "
                                    "transformers tokenizer.decode does"},
        {.name = "pair", .help = "encode each line as a pair: text before the first TAB is A, after it B"},
        {.name = "no-template", .help = "encode without the post-processor (no </s>)"},
    };
    int n_args = (int)(sizeof args / sizeof args[0]);
    int rc = args_parse(argc, argv, args, n_args,
                        "compacter tokenize --tokenizer FILE [--decode [--keep-special] [--cleanup]] "
                        "[--pair] [--no-template] < lines",
                        NULL, 0, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    const char *path = args_str(args, n_args, "tokenizer", NULL);
    if (!path) {
        fprintf(stderr, "compacter: tokenize: --tokenizer FILE is required\n");
        return 2;
    }
    struct tokenizer *tok = tokenizer_load(path);
    if (!tok) return cli_fail("tokenize");
    int decode = args_has(args, n_args, "decode"), keep = args_has(args, n_args, "keep-special");
    int flags = (keep ? 0 : TOKENIZER_DECODE_SKIP_SPECIAL) |
                (args_has(args, n_args, "cleanup") ? TOKENIZER_DECODE_CLEANUP : 0);
    int pair = args_has(args, n_args, "pair"), raw = args_has(args, n_args, "no-template");
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    char *line = NULL;
    size_t line_cap = 0, lineno = 0, n, cap = 0;
    int32_t *ids = NULL;
    ssize_t got;
    rc = 0;
    while ((got = getline(&line, &line_cap, stdin)) >= 0) {
        lineno++;
        size_t len = (size_t)got;
        if (len && line[len - 1] == '\n') line[--len] = 0;
        if (decode) {
            if (parse_ids(line, lineno, &ids, &n, &cap)) {
                rc = cli_fail("tokenize");
                break;
            }
            char *text = tokenizer_decode(tok, ids, n, flags);
            if (!text) {
                rc = cli_fail("tokenize");
                break;
            }
            fputs(text, stdout);
            putchar_unlocked('\n');
            free(text);
            continue;
        }
        int32_t *out;
        int e;
        char *tab = pair ? memchr(line, '\t', len) : NULL;
        if (tab)
            e = tokenizer_encode_pair(tok, line, (size_t)(tab - line), tab + 1,
                                      len - (size_t)(tab - line) - 1, &out, &n);
        else if (raw)
            e = tokenizer_encode_raw(tok, line, len, &out, &n);
        else
            e = tokenizer_encode(tok, line, len, &out, &n);
        if (e) {
            error_wrap("stdin line %zu: ", lineno);
            rc = cli_fail("tokenize");
            break;
        }
        put_ids(out, n);
        free(out);
    }
    free(line);
    free(ids);
    tokenizer_free(tok);
    if (fflush(stdout) != 0 && !rc) {
        error_set("writing stdout failed");
        rc = cli_fail("tokenize");
    }
    return rc;
}
