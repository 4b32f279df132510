/* method_io.h: method-only weight files (safetensors): the method's own parameters and
 * every base tensor it trains (e.g. layer norms), a few hundred KB for an adapter, with
 * metadata naming the method, its options and the base model. */
#ifndef COMPACTER_METHOD_IO_H
#define COMPACTER_METHOD_IO_H

#include "methods/method.h"

int method_weights_save(const struct method_instance *mi, const char *path, const char *base_model);
/* Load by name into the method's parameters and the model's trained tensors; a missing,
 * unknown or mis-shaped tensor, or a file written for another method, is an error. */
int method_weights_load(struct method_instance *mi, const char *path);

#endif
