/* 2×2 average pooling, stride 2 (odd sides drop their last row/column, as PyTorch's
 * AvgPool2d(2)), with backward and R-passes. Average pooling is LINEAR, y = A·x, so the
 * R-forward is the forward applied to R(x) and the R-backward the backward applied to
 * R(dy); no second-order term exists. (Average rather than max: the model is then smooth
 * in everything except the ReLU pattern, and the exact HVP has no second selection to fix.)
 *
 * Shapes: x (planes, S, S) → y (planes, S/2, S/2), planes = N·C; R versions have planes =
 * k·N·C. Conventions as lib/nn/linear.h. */
#ifndef HB_NN_POOL_H
#define HB_NN_POOL_H

#include "core/internal.h"

/* y = avgpool(x) (written) */
int hb__avgpool2_forward(hb_context *ctx, hb_dtype dt, int64_t planes, int64_t S, const void *x,
                         void *y);
/* dx += Aᵀ·dy: each dy entry spread as dy/4 over its 2×2 window */
int hb__avgpool2_backward(hb_context *ctx, hb_dtype dt, int64_t planes, int64_t S, const void *dy,
                          void *dx);
/* Ry_j = A·Rx_j (written) */
int hb__avgpool2_rop_forward(hb_context *ctx, hb_dtype dt, int64_t planes, int64_t S, int64_t k,
                             const void *Rx, void *Ry);
/* Rdx_j += Aᵀ·Rdy_j */
int hb__avgpool2_rop_backward(hb_context *ctx, hb_dtype dt, int64_t planes, int64_t S, int64_t k,
                              const void *Rdy, void *Rdx);

#endif
