/* pfeiffer.c: Pfeiffer adapters: dense adapters after self-attention only (reference-spec.md
 * sections 3). Built on the adapter family in methods/adapter_layer.h. */
#include "methods/adapter_layer.h"

static int init(struct method_instance *mi) {
    return adapter_family_init(mi, ADAPTER_DENSE);
}

const struct method method_pfeiffer = {
    .name = "pfeiffer",
    .summary = "Pfeiffer adapters: dense adapters after self-attention only",
    .task_prefix = 0,
    .options = (const struct method_option[]){ADAPTER_OPTIONS("true", "false", "all", "all"), {0}},
    .init = init,
    .free = adapter_family_free,
};
