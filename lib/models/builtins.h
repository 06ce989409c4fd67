/* The built-in model kinds' constructors, for their registration table
 * (lib/models/registry.c) only: the model core reaches them through that table. */
#ifndef HB_MODELS_BUILTINS_H
#define HB_MODELS_BUILTINS_H

#include "model/model_internal.h"

/* Each reads its keys from cfg and builds params + impl (hb__model_builtin.create). */
int hb__quadratic_create(hb_context *ctx, const hb_model_config *cfg, hb_model **out);
int hb__mlp_create(hb_context *ctx, const hb_model_config *cfg, hb_model **out);
int hb__gpt_create(hb_context *ctx, const hb_model_config *cfg, hb_model **out);
int hb__cnn_create(hb_context *ctx, const hb_model_config *cfg, hb_model **out);

#endif
