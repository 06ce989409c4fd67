/* RMS normalisation over the last dimension (no centring, no bias), with its backward and
 * R-operator passes. Rows are independent; every function takes (ctx, dt, …) with dt
 * HB_F32 or HB_F64 and element pointers of that dtype. eps enters only the forward, which
 * stores rstd for the other passes.
 *
 * Shapes: x, y, gx, gy (M, C); w, gw (C); rstd (M).
 * R-passes: k directions interleaved per row, Rx, Ry, Rgx, Rgy (M, k, C); the parameter
 * directions Rw_j = Rw + j·ldv (NULL = zero), outputs Ow_j = Ow + j·ldo (NULL = skip). */
#ifndef HB_NN_RMSNORM_H
#define HB_NN_RMSNORM_H

#include "core/internal.h"

/* y = x·rstd·w, rstd = 1/√(mean(x²) + eps); writes rstd per row. */
int hb__rmsnorm_forward(hb_context *ctx, hb_dtype dt, size_t M, size_t C, double eps,
                        const void *x, const void *w, void *y, void *rstd);
/* gx += ∂/∂x (NULL: skipped), gw += Σ_rows gy·xhat (NULL: skipped). */
int hb__rmsnorm_backward(hb_context *ctx, hb_dtype dt, size_t M, size_t C, const void *x,
                         const void *w, const void *rstd, const void *gy, void *gx, void *gw);
/* Ry = R(xhat)·w + xhat·Rw (overwrites Ry); Rx NULL = zero. */
int hb__rmsnorm_rforward(hb_context *ctx, hb_dtype dt, size_t M, size_t C, size_t k,
                         const void *x, const void *w, const void *rstd, const void *Rx,
                         const void *Rw, size_t ldv, void *Ry);
/* R of the backward: Rgx += R(gx) (NULL: skipped), Ow_j += R(gw)_j. Rx, Rw NULL = zero. */
int hb__rmsnorm_rbackward(hb_context *ctx, hb_dtype dt, size_t M, size_t C, size_t k,
                          const void *x, const void *w, const void *rstd, const void *gy,
                          const void *Rx, const void *Rw, size_t ldv, const void *Rgy, void *Rgx,
                          void *Ow, size_t ldo);

#endif
