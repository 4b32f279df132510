/* method.h: the PEFT method plug-in interface. A method is one file in methods/ exporting
 * one `const struct method`, listed once in methods/registry.c. Its init() adds its own
 * parameters (in one backend allocation, like the model's), chooses which tensors train
 * (its own and/or base tensors), and fills in the T5 hooks (core/t5_hooks.h) it needs.
 * It writes forward code only: every op it uses has its backward on the tape.
 * docs/ADDING_A_METHOD.md walks through writing one. */
#ifndef COMPACTER_METHOD_H
#define COMPACTER_METHOD_H

#include <stdint.h>

#include "core/t5_model.h"

#define METHOD_MAX_OPTIONS 32

struct method_option {
    const char *name; /* e.g. "reduction_factor" */
    const char *def;  /* default value, as text (the reference's default) */
    const char *help;
};

struct method;

/* A method attached to one model: its parameters, trained tensors and hook table. */
struct method_instance {
    const struct method *method;
    struct t5_model *model;
    /* effective options: every option of the method, defaults overridden by the user */
    int n_options;
    const char *opt_name[METHOD_MAX_OPTIONS];
    char opt_value[METHOD_MAX_OPTIONS][64];
    uint64_t seed; /* for the method's initialisation */
    /* the method's own parameters: declared with method_param() (pointers stay valid),
     * then allocated in one block by method_alloc() */
    struct tensor **params;
    int n_params, cap_params;
    float *storage;
    int64_t n_elements;
    int allocated;
    /* tensors to train (own and/or base), filled by init */
    struct tensor **train;
    int n_train, cap_train;
    struct t5_hooks hooks;
    void *state; /* the method's private data, freed by method->free */
};

struct method {
    const char *name;    /* the command-line name: "compacter++" */
    const char *summary; /* one line */
    /* the reference prefixes the task name to the source only for methods without task
     * adapters (full fine-tuning, BitFit, prompt tuning, Intrinsic-SAID) */
    int task_prefix;
    const struct method_option *options; /* terminated by {NULL} */
    /* Declare parameters (method_param), call method_alloc, initialise them, list the
     * trained tensors (method_train), set mi->hooks. */
    int (*init)(struct method_instance *mi);
    void (*free)(struct method_instance *mi); /* may be NULL */
};

/* ---- registry (methods/registry.c) ---- */
const struct method *method_find(const char *name);
int method_count(void);
const struct method *method_at(int i);

/* ---- lifecycle ---- */
/* Attach method `name` to model m with user options "k=v" (unknown keys are errors). */
int method_attach(struct method_instance *mi, const char *name, struct t5_model *m, const char **kv, int n_kv,
                  uint64_t seed);
void method_detach(struct method_instance *mi);
/* Trainable parameter count, and the total (base + method parameters). */
int64_t method_trainable_count(const struct method_instance *mi);
int64_t method_total_count(const struct method_instance *mi);

/* ---- helpers for init() ---- */
const char *method_opt(const struct method_instance *mi, const char *name);
int method_opt_int(const struct method_instance *mi, const char *name, int *out);
int method_opt_float(const struct method_instance *mi, const char *name, double *out);
int method_opt_bool(const struct method_instance *mi, const char *name, int *out);
/* value has the kind of op's default (a number for a numeric default, true/false for a
 * boolean one; any text for a text default): 0, or -1 with an error naming the option and
 * the value. Lets a grid be checked before anything trains (the methods read their options,
 * and check integer-ness and ranges, at setup). */
int method_option_check(const struct method_option *op, const char *value);
/* Declare a parameter (1-4 dims); its data exists after method_alloc(). */
struct tensor *method_param(struct method_instance *mi, const char *name, int ndim, const int64_t *shape);
int method_alloc(struct method_instance *mi);
/* Mark a tensor (own or the model's) as trained. */
int method_train(struct method_instance *mi, struct tensor *t);
int method_train_all_norms(struct method_instance *mi); /* every T5 layer-norm weight */

/* Initialisers (host RNG from mi->seed and the parameter's name, then uploaded). */
int init_normal(struct method_instance *mi, struct tensor *t, double mean, double std);
int init_uniform(struct method_instance *mi, struct tensor *t, double lo, double hi);
int init_constant(struct method_instance *mi, struct tensor *t, float v);
/* Per 2-D slice [rows, cols] of t (the last two dims): glorot uniform with gain,
 * U(+-gain*sqrt(6/(fan_in+fan_out))), fan_in = cols, fan_out = rows (torch's convention
 * for a [rows, cols] tensor). */
int init_glorot_uniform(struct method_instance *mi, struct tensor *t, double gain);
int init_glorot_normal(struct method_instance *mi, struct tensor *t, double gain);
/* Copy host values into a tensor. */
int method_upload(struct method_instance *mi, struct tensor *t, const float *host);

#endif
