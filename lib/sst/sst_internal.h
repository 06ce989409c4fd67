/* Internal hooks between the training loop (lib/train) and the SST/LoRA wrapper models
 * (lib/sst): the trainer drives a wrapper's schedule through these. */
#ifndef HB_SST_INTERNAL_H
#define HB_SST_INTERNAL_H

#include "model/model_internal.h"

/* hb__sst_is_wrapper: true for models made by hb_sst_create. */
bool hb__sst_is_wrapper(const hb_model *m);

/* hb__sst_begin_step: before the gradient of step `step`: when step / T3 differs from the
 * iteration the current selection belongs to, re-SVD, draw the active pairs for the new
 * iteration and reset opt's state of every N.Ua/N.Vta block (opt may be NULL); set opt's
 * HB_OPT_LR_MULT to the re-warm factor (1 outside a re-warm) and return it in *lr_scale.
 * LoRA wrappers: no-op, *lr_scale = 1 (opt untouched). No argument checks (hb_sst_begin_step
 * does them). */
int hb__sst_begin_step(hb_model *m, int64_t step, hb_optimizer *opt, double *lr_scale);

/* hb__sst_end_step: after the update: clamp s ≥ 0 (SST), nothing for LoRA. */
int hb__sst_end_step(hb_model *m);

#endif
