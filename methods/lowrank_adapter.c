/* lowrank_adapter.c: Adapter-LowRank: each projection W = w_left (in x 1) outer w_right (1 x out)
 * (reference-spec.md sections 3). Built on the adapter family in methods/adapter_layer.h. */
#include "methods/adapter_layer.h"

static int init(struct method_instance *mi) {
    return adapter_family_init(mi, ADAPTER_LOWRANK);
}

const struct method method_adapter_lowrank = {
    .name = "adapter-lowrank",
    .summary = "Adapter-LowRank: each projection W = w_left (in x 1) outer w_right (1 x out)",
    .task_prefix = 0,
    .options = (const struct method_option[]){ADAPTER_OPTIONS("true", "true", "all", "all"),
                                              LOWRANK_OPTIONS,
                                              {0}},
    .init = init,
    .free = adapter_family_free,
};
