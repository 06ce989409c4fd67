/* Average and max pooling with window = stride = s: forward, backward and R-passes, the k
 * directions interleaved per sample (the network engine's layout, docs/design.md
 * "Layers: one convention"). */
#ifndef HB_NN_POOL_H
#define HB_NN_POOL_H

#include "core/internal.h"

/* Window = stride = s over each (H, W) plane; remainders dropped (as PyTorch's
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
