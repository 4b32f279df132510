/* args.h: long-flag parsing shared by every sub-command (--name VALUE, --name=VALUE,
 * boolean --flag, repeatable options collected in order, --help generated). */
#ifndef COMPACTER_CLI_ARGS_H
#define COMPACTER_CLI_ARGS_H

#define ARG_MAX_REPEAT 64

struct arg {
    const char *name;  /* without the leading "--" */
    int takes_value;   /* 0: boolean flag */
    const char *help;
    /* filled by args_parse */
    int present;
    const char *value;                   /* last value given */
    const char *values[ARG_MAX_REPEAT];  /* every value, for repeatable options */
    int n_values;
};

/* Parse argv[1..]; positional arguments are collected into *pos (up to max_pos).
 * Returns 0 on success, 1 when --help was printed (caller returns 0), 2 on a usage error
 * (message printed to stderr). */
int args_parse(int argc, char **argv, struct arg *args, int n_args, const char *usage,
               const char **pos, int max_pos, int *n_pos);

/* The value of option `name` or `def` when absent. */
const char *args_str(const struct arg *args, int n_args, const char *name, const char *def);
int args_has(const struct arg *args, int n_args, const char *name);

/* Option `name` as an integer in [lo, hi], or as a finite number (args_num); *out = def
 * when the option is absent. -1 with an error naming the flag and its value otherwise
 * ("--lr: 'abc' is not a number"), instead of atoi's silent 0. */
int args_int(const struct arg *args, int n_args, const char *name, long long def, long long lo, long long hi,
             long long *out);
int args_num(const struct arg *args, int n_args, const char *name, double def, double *out);

/* Print "compacter: <command>: <error_message()>" to stderr and return 1. */
int cli_fail(const char *command);

#endif
