/* Internal hooks between the training loop (lib/train) and the SST/LoRA wrapper models
 * (lib/sst): the trainer drives a wrapper's schedule through these. */
#ifndef HB_SST_INTERNAL_H
#define HB_SST_INTERNAL_H

#include "model/model_internal.h"

/* Zero the optimizer state of the flat range [offset, offset+len) of the wrapper's params. */
typedef int (*hb__state_reset_fn)(void *user, size_t offset, size_t len);

/* hb__optim_zero_range: an hb__state_reset_fn over an hb_optimizer (user; NULL = no-op). */
int hb__optim_zero_range(void *user, size_t offset, size_t len);

/* hb__sst_is_wrapper: true for models made by hb_sst_create. */
bool hb__sst_is_wrapper(const hb_model *m);

/* hb__sst_begin_step: before the gradient of step `step`: at an iteration boundary
 * (step % T3 == 0) re-SVD (step > 0), draw the active pairs and reset the optimizer state
 * of every U/Vᵀ block through reset (may be NULL); *lr_scale receives the re-warm factor
 * of the learning rate (1 outside a re-warm). LoRA wrappers: no-op, *lr_scale = 1. */
int hb__sst_begin_step(hb_model *m, int64_t step, hb__state_reset_fn reset, void *user,
                       double *lr_scale);

/* hb__sst_end_step: after the update: clamp s ≥ 0 (SST), nothing for LoRA. */
int hb__sst_end_step(hb_model *m);

#endif
