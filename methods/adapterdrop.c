/* adapterdrop.c: AdapterDrop: dense adapters in layers 5-11 of encoder and decoder only
 * (reference-spec.md sections 3). Built on the adapter family in methods/adapter_layer.h. */
#include "methods/adapter_layer.h"

static int init(struct method_instance *mi) {
    return adapter_family_init(mi, ADAPTER_DENSE);
}

const struct method method_adapterdrop = {
    .name = "adapterdrop",
    .summary = "AdapterDrop: dense adapters in layers 5-11 of encoder and decoder only",
    .task_prefix = 0,
    .options =
        (const struct method_option[]){
            ADAPTER_OPTIONS("true", "true", "5,6,7,8,9,10,11", "5,6,7,8,9,10,11"), {0}},
    .init = init,
    .free = adapter_family_free,
};
