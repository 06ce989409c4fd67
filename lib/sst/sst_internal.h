/* Internals of the SST/LoRA wrapper models shared with their tests. The trainer drives a
 * wrapper's schedule through the generic vtable hooks begin_step/end_step, not by name. */
#ifndef HB_SST_INTERNAL_H
#define HB_SST_INTERNAL_H

#include "model/model_internal.h"

/* hb__sst_is_wrapper: true for models made by hb_sst_create. */
bool hb__sst_is_wrapper(const hb_model *m);

#endif
