/* adapter.c: Houlsby adapters (dense 768->24->768, gelu_new) after self-attention and FFN
 * (reference-spec.md sections 3). Built on the adapter family in methods/adapter_layer.h. */
#include "methods/adapter_layer.h"

static int init(struct method_instance *mi) {
    return adapter_family_init(mi, ADAPTER_DENSE);
}

const struct method method_adapter = {
    .name = "adapter",
    .summary = "Houlsby adapters (dense 768->24->768, gelu_new) after self-attention and FFN",
    .task_prefix = 0,
    .options = (const struct method_option[]){ADAPTER_OPTIONS("true", "true", "all", "all"), {0}},
    .init = init,
    .free = adapter_family_free,
};
