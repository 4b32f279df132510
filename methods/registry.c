/* registry.c: every method the program knows, by command-line name. Adding a method is one
 * file in methods/ and one line in each of the two lists below. */
#include <string.h>

#include "methods/method.h"

extern const struct method method_full;
extern const struct method method_adapter;
extern const struct method method_pfeiffer;
extern const struct method method_adapterdrop;
extern const struct method method_adapter_lowrank;
extern const struct method method_phm_adapter;
extern const struct method method_compacter;
extern const struct method method_compacter_pp;
extern const struct method method_prompt_tuning_r;
extern const struct method method_prompt_tuning_t;
extern const struct method method_bitfit;
extern const struct method method_intrinsic_said;
extern const struct method method_lora;
extern const struct method method_ia3;

static const struct method *const methods[] = {
    &method_full,
    &method_adapter,
    &method_pfeiffer,
    &method_adapterdrop,
    &method_adapter_lowrank,
    &method_phm_adapter,
    &method_compacter,
    &method_compacter_pp,
    &method_prompt_tuning_r,
    &method_prompt_tuning_t,
    &method_bitfit,
    &method_intrinsic_said,
    &method_lora,
    &method_ia3,
};

int method_count(void) { return (int)(sizeof methods / sizeof methods[0]); }

const struct method *method_at(int i) { return i >= 0 && i < method_count() ? methods[i] : NULL; }

const struct method *method_find(const char *name) {
    for (int i = 0; i < method_count(); i++)
        if (!strcmp(methods[i]->name, name)) return methods[i];
    return NULL;
}
