/* phm_adapter.c: PHM-Adapter: PHM projections (n=12, per-layer rules, unfactorised W)
 * (reference-spec.md sections 1-2). Built on the adapter family in methods/adapter_layer.h. */
#include "methods/adapter_layer.h"

static int init(struct method_instance *mi) {
    return adapter_family_init(mi, ADAPTER_PHM);
}

const struct method method_phm_adapter = {
    .name = "phm-adapter",
    .summary = "PHM-Adapter: PHM projections (n=12, per-layer rules, unfactorised W)",
    .task_prefix = 0,
    .options = (const struct method_option[]){ADAPTER_OPTIONS("true", "true", "all", "all"),
                                              PHM_OPTIONS("12", "false", "false"),
                                              {0}},
    .init = init,
    .free = adapter_family_free,
};
