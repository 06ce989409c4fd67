/* Softmax cross-entropy with integer targets, mean over rows, with backward and R-pass.
 * Conventions as lib/nn/linear.h.
 *
 * Shapes: logits, probs, dlogits (N, C); targets (N) int32 in [0, C);
 *         Rlogits, Rdlogits (k, N, C). */
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

/* R-backward: Rdlogits_j += dloss·J·Rlogits_j/N row-wise, J = diag(p) − p·pᵀ the softmax
 * Jacobian, i.e. p ⊙ (Rz − ⟨p, Rz⟩)·dloss/N. */
int hb__xent_rop_backward(hb_context *ctx, hb_dtype dt, int64_t N, int64_t C, int64_t k,
                          const void *probs, const void *Rlogits, double dloss, void *Rdlogits);

/* Argmax per row equal to the target: number of such rows into *correct. */
int hb__xent_correct(hb_context *ctx, hb_dtype dt, int64_t N, int64_t C, const void *logits,
                     const int32_t *targets, size_t *correct);

#endif
