/* Layer normalisation over the last dimension, with its backward and R-operator passes.
 * Rows are independent; every function takes (ctx, dt, …) with dt HB_F32 or HB_F64 and
 * element pointers of that dtype. eps is the forward's argument (HB__LN_EPS = 1e-5 is
 * PyTorch's default, used by the gpt model); the other passes read rstd instead.
 *
 * Shapes: x, y, gx, gy (M, C); w, b, gw, gb (C); mean, rstd (M).
 * R-passes: k directions interleaved per row, Rx, Ry, Rgx, Rgy (M, k, C); the parameter
 * directions Rw_j = Rw + j·ld (NULL = zero), and outputs Ow_j = Ow + j·ld (NULL = skip). */
#ifndef HB_NN_LAYERNORM_H
#define HB_NN_LAYERNORM_H

#include "core/internal.h"

#define HB__LN_EPS 1e-5

/* y = (x − mean)·rstd·w + b, rstd = 1/√(var + eps); writes mean and rstd per row. */
int hb__layernorm_forward(hb_context *ctx, hb_dtype dt, size_t M, size_t C, double eps,
                          const void *x, const void *w, const void *b, void *y, void *mean,
                          void *rstd);
/* gx += ∂/∂x, gw += Σ gy·xhat, gb += Σ gy (gx, gw, gb may be NULL: skipped). */
int hb__layernorm_backward(hb_context *ctx, hb_dtype dt, size_t M, size_t C, const void *x,
                           const void *w, const void *mean, const void *rstd, const void *gy,
                           void *gx, void *gw, void *gb);
/* Ry = R(xhat)·w + xhat·Rw + Rb (overwrites Ry); Rx NULL = zero. */
int hb__layernorm_rforward(hb_context *ctx, hb_dtype dt, size_t M, size_t C, size_t k,
                           const void *x, const void *w, const void *mean, const void *rstd,
                           const void *Rx, const void *Rw, const void *Rb, size_t ldv, void *Ry);
/* R of the backward: Rgx += R(gx) (NULL: skipped), Ow_j += R(gw)_j, Ob_j += R(gb)_j. */
int hb__layernorm_rbackward(hb_context *ctx, hb_dtype dt, size_t M, size_t C, size_t k,
                            const void *x, const void *w, const void *mean, const void *rstd,
                            const void *gy, const void *Rx, const void *Rw, size_t ldv,
                            const void *Rgy, void *Rgx, void *Ow, void *Ob, size_t ldo);

#endif
