/* compacter_pp.c: Compacter++: Compacter after the FFN sublayer only (reference-spec.md sections
 * 1-2). Built on the adapter family in methods/adapter_layer.h. */
#include "methods/adapter_layer.h"

static int init(struct method_instance *mi) {
    return adapter_family_init(mi, ADAPTER_PHM);
}

const struct method method_compacter_pp = {
    .name = "compacter++",
    .summary = "Compacter++: Compacter after the FFN sublayer only",
    .task_prefix = 0,
    .options = (const struct method_option[]){ADAPTER_OPTIONS("false", "true", "all", "all"),
                                              PHM_OPTIONS("4", "true", "true"),
                                              {0}},
    .init = init,
    .free = adapter_family_free,
};
