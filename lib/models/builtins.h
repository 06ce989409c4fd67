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

/* Tests only (lib/models/gpt.c): cap the directions per R-operator chunk of gpt model m
 * (0 = no cap) so the chunk loop runs on tiny models. HB_EINVAL if m is not a gpt. */
int hb__gpt_set_max_chunk(hb_model *m, size_t max_chunk);

#endif
