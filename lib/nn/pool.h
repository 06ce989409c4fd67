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

/* ---- Interleaved layout (the network engine, lib/net) --------------------------------
 * Window = stride = s over each (H, W) plane; remainders dropped (as PyTorch's
 * AvgPool2d(s) / MaxPool2d(s)): an image (C, H, W) → (C, Ho, Wo), Ho = ⌊H/s⌋, Wo = ⌊W/s⌋.
 * θ side (n, C, H, W); R side (N, k, C, H, W), i.e. N·k images, so the R-passes of the
 * (linear) average pool are its θ passes over N·k images.
 * Max pooling keeps the argmax of every window, idx (N, C, Ho, Wo) int32: the in-plane
 * index h·W + w of the FIRST maximum in row-major window order; backward and R-passes
 * follow it (the R-operator of a piecewise-linear map with its selection fixed at θ:
 * exact wherever the maximum is unique). Forward and rforward write, the others accumulate;
 * Rx NULL = zero. */
typedef struct hb__pool_geom {
    int64_t C, H, W, s;
} hb__pool_geom;

/* HB_OK, or HB_ESHAPE naming the sizes unless 1 ≤ s ≤ H, W (and H·W < 2^31). */
int hb__pool_check(hb_context *ctx, const hb__pool_geom *g);

/* y = mean of each window, over n images */
int hb__avgpool_forward(hb_context *ctx, hb_dtype dt, const hb__pool_geom *g, size_t n,
                        const void *x, void *y);
/* gx += each gy entry spread as gy/s² over its window, over n images */
int hb__avgpool_backward(hb_context *ctx, hb_dtype dt, const hb__pool_geom *g, size_t n,
                         const void *gy, void *gx);
/* y = max of each window, idx = its first argmax */
int hb__maxpool_forward(hb_context *ctx, hb_dtype dt, const hb__pool_geom *g, size_t N,
                        const void *x, void *y, int32_t *idx);
/* gx[idx] += gy */
int hb__maxpool_backward(hb_context *ctx, hb_dtype dt, const hb__pool_geom *g, size_t N,
                         const int32_t *idx, const void *gy, void *gx);
/* Ry[n, j] = Rx[n, j] at idx[n]  (written; Rx NULL → 0) */
int hb__maxpool_rforward(hb_context *ctx, hb_dtype dt, const hb__pool_geom *g, size_t N,
                         size_t k, const int32_t *idx, const void *Rx, void *Ry);
/* Rgx[n, j] at idx[n] += Rgy[n, j] */
int hb__maxpool_rbackward(hb_context *ctx, hb_dtype dt, const hb__pool_geom *g, size_t N,
                          size_t k, const int32_t *idx, const void *Rgy, void *Rgx);

#endif
