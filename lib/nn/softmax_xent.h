/* R-backward of the mean softmax cross-entropy over M rows of V logits, k directions
 * interleaved per row. The forward and backward are nn/xent.c (hb__xent_forward,
 * hb__xent_backward), whose R-pass takes a leading k dimension instead.
 * z (M, V) logits, targets (M) i32 in [0, V) (checked by the caller); p (M, V) the
 * probabilities; R-passes: Rz, Rgz (M, k, V). dt is HB_F32 or HB_F64.
 */
#ifndef HB_NN_SOFTMAX_XENT_H
#define HB_NN_SOFTMAX_XENT_H

#include "core/internal.h"

/* R(gz) = scale/M · p ⊙ (Rz − ⟨p, Rz⟩) per row and direction; Rgz may alias Rz. */
int hb__sxent_rbackward(hb_context *ctx, hb_dtype dt, size_t M, size_t V, size_t k,
                        const void *p, const void *Rz, double scale, void *Rgz);
/* The same, accumulated: Rgz += scale/M · p ⊙ (Rz − ⟨p, Rz⟩) (the net engine's convention;
 * into a zeroed Rgz it gives hb__sxent_rbackward's numbers exactly). Rgz must not alias Rz. */
int hb__sxent_rbackward_add(hb_context *ctx, hb_dtype dt, size_t M, size_t V, size_t k,
                            const void *p, const void *Rz, double scale, void *Rgz);

#endif
