/* args.c: long-flag parsing for the sub-commands. */
#include "cli/args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static struct arg *find(struct arg *args, int n, const char *name, size_t len) {
    for (int i = 0; i < n; i++)
        if (strlen(args[i].name) == len && !strncmp(args[i].name, name, len)) return &args[i];
    return NULL;
}

static void print_help(const char *usage, const struct arg *args, int n) {
    printf("usage: %s\n\noptions:\n", usage);
    for (int i = 0; i < n; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s", args[i].name, args[i].takes_value ? " VALUE" : "");
        printf("  %-26s %s\n", left, args[i].help);
    }
}

int args_parse(int argc, char **argv, struct arg *args, int n_args, const char *usage,
               const char **pos, int max_pos, int *n_pos) {
    if (n_pos) *n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            print_help(usage, args, n_args);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            if (!pos || !n_pos || *n_pos >= max_pos) {
                fprintf(stderr, "compacter: unexpected argument '%s'\nusage: %s\n", a, usage);
                return 2;
            }
            pos[(*n_pos)++] = a;
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        struct arg *o = find(args, n_args, name, len);
        if (!o) {
            fprintf(stderr, "compacter: unknown option '%.*s' (see --help)\n", (int)len + 2, a);
            return 2;
        }
        const char *val = NULL;
        if (o->takes_value) {
            if (eq) val = eq + 1;
            else if (i + 1 < argc) val = argv[++i];
            else {
                fprintf(stderr, "compacter: option --%s needs a value\n", o->name);
                return 2;
            }
            if (o->n_values < ARG_MAX_REPEAT) o->values[o->n_values++] = val;
        } else if (eq) {
            fprintf(stderr, "compacter: option --%s takes no value\n", o->name);
            return 2;
        }
        o->present = 1;
        o->value = val;
    }
    return 0;
}

const char *args_str(const struct arg *args, int n_args, const char *name, const char *def) {
    for (int i = 0; i < n_args; i++)
        if (!strcmp(args[i].name, name)) return args[i].present && args[i].value ? args[i].value : def;
    return def;
}

int args_has(const struct arg *args, int n_args, const char *name) {
    for (int i = 0; i < n_args; i++)
        if (!strcmp(args[i].name, name)) return args[i].present;
    return 0;
}

int args_int(const struct arg *args, int n_args, const char *name, long long def, long long lo, long long hi,
             long long *out) {
    const char *v = args_str(args, n_args, name, NULL);
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno || x < lo || x > hi)
        return error_set("--%s: '%s' is not an integer from %lld to %lld", name, v, lo, hi);
    *out = x;
    return 0;
}

int args_num(const struct arg *args, int n_args, const char *name, double def, double *out) {
    const char *v = args_str(args, n_args, name, NULL);
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !isfinite(x)) return error_set("--%s: '%s' is not a finite number", name, v);
    *out = x;
    return 0;
}

int cli_fail(const char *command) {
    fprintf(stderr, "compacter: %s: %s\n", command, error_message());
    return 1;
}
