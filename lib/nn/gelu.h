/* GELU, tanh form (GPT-2), with its backward and R-operator passes, elementwise.
 * x, y, gx, gy: n elements (θ side, shape (M, C) with n = M·C); R-passes: Rx, Ry, Rgx,
 * Rgy (M, k, C), each direction j of row m paired with element (m, c) of x.
 * dt is HB_F32 or HB_F64. (Written for the gpt model; lib/nn/activation.c is shared.) */
#ifndef HB_NN_GELU_H
#define HB_NN_GELU_H

#include "core/internal.h"

/* y = gelu(x); d1 = gelu'(x), d2 = gelu''(x) when non-NULL. The other passes take x
 * only through d1 and d2, so tanh is evaluated once per element, in the forward. */
int hb__gelu_forward(hb_context *ctx, hb_dtype dt, size_t n, const void *x, void *y, void *d1,
                     void *d2);
/* gx = gelu'(x)·gy (overwrites gx) */
int hb__gelu_backward(hb_context *ctx, hb_dtype dt, size_t n, const void *d1, const void *gy,
                      void *gx);
/* Ry = gelu'(x)·Rx (overwrites Ry) */
int hb__gelu_rforward(hb_context *ctx, hb_dtype dt, size_t M, size_t k, size_t C,
                      const void *d1, const void *Rx, void *Ry);
/* Rgx = gelu''(x)·Rx·gy + gelu'(x)·Rgy (overwrites Rgx) */
int hb__gelu_rbackward(hb_context *ctx, hb_dtype dt, size_t M, size_t k, size_t C,
                       const void *d1, const void *d2, const void *gy, const void *Rx,
                       const void *Rgy, void *Rgx);

#endif
