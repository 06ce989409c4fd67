/* Mean softmax cross-entropy over M rows of V logits, with its backward and R-backward.
 * z (M, V) logits, targets (M) i32 in [0, V) (checked by the caller); p (M, V) the
 * probabilities; R-passes: Rz, Rgz (M, k, V). dt is HB_F32 or HB_F64.
 * (Written for the gpt model; lib/nn/xent.c is the shared version.) */
#ifndef HB_NN_SOFTMAX_XENT_H
#define HB_NN_SOFTMAX_XENT_H

#include "core/internal.h"

/* loss = (1/M)·Σ_m (logsumexp(z_m) − z_m[target_m]); overwrites z by p = softmax(z);
 * correct (may be NULL) += number of rows whose argmax is the target. */
int hb__sxent_forward(hb_context *ctx, hb_dtype dt, size_t M, size_t V, void *z,
                      const int32_t *targets, double *loss, size_t *correct);
/* gz = scale·(p − onehot)/M (overwrites gz) */
int hb__sxent_backward(hb_context *ctx, hb_dtype dt, size_t M, size_t V, const void *p,
                       const int32_t *targets, double scale, void *gz);
/* R(gz) = scale/M · p ⊙ (Rz − ⟨p, Rz⟩) per row and direction; Rgz may alias Rz. */
int hb__sxent_rbackward(hb_context *ctx, hb_dtype dt, size_t M, size_t V, size_t k,
                        const void *p, const void *Rz, double scale, void *Rgz);

#endif
