/* Softmax cross-entropy with integer targets, mean over rows, with backward and R-pass.
 * Conventions as lib/nn/linear.h.
 *
 * Shapes: logits, probs, dlogits (N, C); targets (N) int32 in [0, C);
 *         R-side Rz, Rgz (M = N rows, k directions interleaved per row, V = C). */
#ifndef HB_NN_XENT_H
#define HB_NN_XENT_H

#include "core/internal.h"

/* probs = softmax(logits) row-wise (written; kept for backward), *loss = mean_n of
 * −log probs[n, targets[n]] (computed as logsumexp − logit, in double).
 * Returns HB_ERANGE if a target is outside [0, C). */
int hb__xent_forward(hb_context *ctx, hb_dtype dt, int64_t N, int64_t C, const void *logits,
                     const int32_t *targets, void *probs, double *loss);

/* dlogits += dloss·(probs − onehot(targets))/N   (dloss = ∂(outer objective)/∂loss) */
int hb__xent_backward(hb_context *ctx, hb_dtype dt, int64_t N, int64_t C, const void *probs,
                      const int32_t *targets, double dloss, void *dlogits);

/* Argmax per row equal to the target: number of such rows into *correct. */
int hb__xent_correct(hb_context *ctx, hb_dtype dt, int64_t N, int64_t C, const void *logits,
                     const int32_t *targets, size_t *correct);

/* R-backward, accumulated: Rgz += scale/M · p ⊙ (Rz − ⟨p, Rz⟩) per row and direction
 * (the Jacobian of the softmax applied to Rz). Rgz must not alias Rz. */
int hb__xent_rbackward(hb_context *ctx, hb_dtype dt, size_t M, size_t V, size_t k,
                       const void *p, const void *Rz, double scale, void *Rgz);

#endif
