/* cli_model.c: id-list parsing and model opening for the model commands. */
#include "cli/cli_model.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "datasets/hub.h"

int parse_id_lists(const char *flag, const char *text, int32_t pad, int32_t **ids, int32_t **mask,
                   int *n_seq, int *max_len, int **lens) {
    int n = 1, cap = 0;
    for (const char *p = text; *p; p++) n += *p == ';';
    int *ln = calloc((size_t)n, sizeof *ln);
    int32_t *vals = malloc(sizeof(int32_t) * (strlen(text) + 1));
    if (!ln || !vals) {
        free(ln);
        free(vals);
        return error_set("out of memory");
    }
    int s = 0, total = 0;
    const char *p = text;
    while (1) {
        while (*p == ' ') p++;
        if (*p == ';' || *p == 0) {
            if (ln[s] == 0) {
                free(ln);
                free(vals);
                return error_set("--%s: sequence %d is empty", flag, s + 1);
            }
            if (*p == 0) break;
            s++;
            p++;
            continue;
        }
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX) {
            free(ln);
            free(vals);
            return error_set("--%s: '%.20s' is not a token id (expected comma-separated integers, ';' between sequences)", flag, p);
        }
        vals[total++] = (int32_t)v;
        ln[s]++;
        p = end;
        while (*p == ' ') p++;
        if (*p == ',') p++;
    }
    for (int i = 0; i < n; i++) cap = ln[i] > cap ? ln[i] : cap;
    *ids = malloc(sizeof(int32_t) * (size_t)n * (size_t)cap);
    *mask = malloc(sizeof(int32_t) * (size_t)n * (size_t)cap);
    if (!*ids || !*mask) {
        free(ln);
        free(vals);
        return error_set("out of memory");
    }
    int k = 0;
    for (int i = 0; i < n; i++)
        for (int t = 0; t < cap; t++) {
            (*ids)[i * cap + t] = t < ln[i] ? vals[k + t] : pad;
            (*mask)[i * cap + t] = t < ln[i];
            if (t == cap - 1) k += ln[i];
        }
    free(vals);
    *n_seq = n;
    *max_len = cap;
    if (lens) *lens = ln;
    else free(ln);
    return 0;
}

int open_model(struct t5_model *m, const char *dir, const char *device, const char *precision) {
    const struct backend *be = backend_by_name(device);
    if (!be) return -1;
    if (backend_set_precision(be, precision ? precision : "fp32")) return error_wrap("--precision: ");
    if (!dir) return error_set("--model is required (a folder with config.json and model.safetensors, or a hub id)");
    /* a folder is used as it is; anything else is a hub id, found in the cache or fetched */
    char resolved[4096];
    if (ensure_model(dir, resolved, sizeof resolved)) return -1;
    return t5_model_load(m, resolved, be);
}
