/* full.c: full fine-tuning as a method: every parameter of the model trains, no hooks. */
#include "methods/method.h"

static int full_init(struct method_instance *mi) {
    for (int i = 0; i < mi->model->n_params; i++)
        if (method_train(mi, &mi->model->params[i])) return -1;
    return 0;
}

const struct method method_full = {
    .name = "full",
    .summary = "full fine-tuning: every parameter trains",
    .task_prefix = 1,
    .options = (const struct method_option[]){{0}},
    .init = full_init,
};
