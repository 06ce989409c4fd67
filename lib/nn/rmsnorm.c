/* RMS normalisation: forward, backward and R-operator passes side by side.
 *
 *   xhat = x·ρ,  ρ = 1/√(mean(x²) + eps)                              x, y: (M, C) rows
 *   y    = xhat·w                                                      w: (C)
 * (∂xhat_c/∂x_d = ρ·(δ_cd − xhat_c·xhat_d/C): layer normalisation without the centring.)
 * Backward (gy given):
 *   gxhat = gy·w,  B = mean(gxhat·xhat)
 *   gx = ρ·(gxhat − xhat·B),  gw = Σ_rows gy·xhat
 * R-forward (direction Rx, Rw):
 *   R(xhat) = ρ·(Rx − xhat·mean(xhat·Rx)),  Rρ/ρ = −ρ·mean(xhat·Rx)
 *   Ry = R(xhat)·w + xhat·Rw
 * R-backward (Rgy given):
 *   R(gxhat) = Rgy·w + gy·Rw,  RB = mean(R(gxhat)·xhat + gxhat·R(xhat))
 *   R(gx) = (Rρ/ρ)·gx + ρ·(R(gxhat) − R(xhat)·B − xhat·RB)
 *   R(gw) = Σ_rows Rgy·xhat + gy·R(xhat)
 * The mean of squares is accumulated in double for both dtypes (as layernorm's variance).
 * The file is a template: the part under HB_NN_TEMPLATE is compiled once per dtype. */
#ifndef HB_NN_TEMPLATE
#include <math.h>

#include "nn/rmsnorm.h"

#define HB_NN_TEMPLATE
#define real float
#define F(name) name##_f32
#include "rmsnorm.c"
#undef real
#undef F
#define real double
#define F(name) name##_f64
#include "rmsnorm.c"
#undef real
#undef F
#undef HB_NN_TEMPLATE

#define DISPATCH(call32, call64)                                                            \
    do {                                                                                    \
        HB_CHECK(ctx, dt == HB_F32 || dt == HB_F64, HB_EDTYPE, "rmsnorm needs f32 or f64"); \
        if (dt == HB_F32) call32;                                                           \
        else call64;                                                                        \
        return HB_OK;                                                                       \
    } while (0)

int hb__rmsnorm_forward(hb_context *ctx, hb_dtype dt, size_t M, size_t C, double eps,
                        const void *x, const void *w, void *y, void *rstd) {
    DISPATCH(fwd_f32(M, C, eps, x, w, y, rstd), fwd_f64(M, C, eps, x, w, y, rstd));
}

int hb__rmsnorm_backward(hb_context *ctx, hb_dtype dt, size_t M, size_t C, const void *x,
                         const void *w, const void *rstd, const void *gy, void *gx, void *gw) {
    DISPATCH(bwd_f32(M, C, x, w, rstd, gy, gx, gw), bwd_f64(M, C, x, w, rstd, gy, gx, gw));
}

int hb__rmsnorm_rforward(hb_context *ctx, hb_dtype dt, size_t M, size_t C, size_t k,
                         const void *x, const void *w, const void *rstd, const void *Rx,
                         const void *Rw, size_t ldv, void *Ry) {
    DISPATCH(rfwd_f32(M, C, k, x, w, rstd, Rx, Rw, ldv, Ry),
             rfwd_f64(M, C, k, x, w, rstd, Rx, Rw, ldv, Ry));
}

int hb__rmsnorm_rbackward(hb_context *ctx, hb_dtype dt, size_t M, size_t C, size_t k,
                          const void *x, const void *w, const void *rstd, const void *gy,
                          const void *Rx, const void *Rw, size_t ldv, const void *Rgy, void *Rgx,
                          void *Ow, size_t ldo) {
    DISPATCH(rbwd_f32(M, C, k, x, w, rstd, gy, Rx, Rw, ldv, Rgy, Rgx, Ow, ldo),
             rbwd_f64(M, C, k, x, w, rstd, gy, Rx, Rw, ldv, Rgy, Rgx, Ow, ldo));
}

#else /* ---- template body: real, F(name) ---- */

static void F(fwd)(size_t M, size_t C, double eps, const real *x, const real *w, real *y,
                   real *rstd) {
    for (size_t m = 0; m < M; m++) {
        const real *xm = x + m * C;
        double ms = 0;
        for (size_t c = 0; c < C; c++) ms += (double)xm[c] * (double)xm[c];
        real r = (real)(1.0 / sqrt(ms / (double)C + eps));
        rstd[m] = r;
        for (size_t c = 0; c < C; c++) y[m * C + c] = xm[c] * r * w[c];
    }
}

/* B = mean(gy·w·xhat) of row m */
static real F(mean_gxh_xh)(size_t C, const real *xm, real r, const real *w, const real *g) {
    real B = 0;
    for (size_t c = 0; c < C; c++) B += g[c] * w[c] * (xm[c] * r);
    return B / (real)C;
}

static void F(bwd)(size_t M, size_t C, const real *x, const real *w, const real *rstd,
                   const real *gy, real *gx, real *gw) {
    for (size_t m = 0; m < M; m++) {
        const real *xm = x + m * C, *g = gy + m * C;
        real r = rstd[m];
        if (gw)
            for (size_t c = 0; c < C; c++) gw[c] += g[c] * (xm[c] * r);
        if (!gx) continue;
        real B = F(mean_gxh_xh)(C, xm, r, w, g);
        for (size_t c = 0; c < C; c++) gx[m * C + c] += r * (g[c] * w[c] - xm[c] * r * B);
    }
}

/* mean(xhat·Rx) of row m, direction rx (0 for rx NULL) */
static real F(mean_xh_rx)(size_t C, const real *xm, real r, const real *rx) {
    real s = 0;
    if (!rx) return 0;
    for (size_t c = 0; c < C; c++) s += xm[c] * r * rx[c];
    return s / (real)C;
}

static void F(rfwd)(size_t M, size_t C, size_t k, const real *x, const real *w,
                    const real *rstd, const real *Rx, const real *Rw, size_t ldv, real *Ry) {
    for (size_t m = 0; m < M; m++) {
        const real *xm = x + m * C;
        real r = rstd[m];
        for (size_t j = 0; j < k; j++) {
            const real *rx = Rx ? Rx + (m * k + j) * C : NULL, *rw = Rw ? Rw + j * ldv : NULL;
            real *ry = Ry + (m * k + j) * C, mxR = F(mean_xh_rx)(C, xm, r, rx);
            for (size_t c = 0; c < C; c++) {
                real xh = xm[c] * r;
                real v = rx ? r * (rx[c] - xh * mxR) * w[c] : 0;
                if (rw) v += xh * rw[c];
                ry[c] = v;
            }
        }
    }
}

static void F(rbwd)(size_t M, size_t C, size_t k, const real *x, const real *w,
                    const real *rstd, const real *gy, const real *Rx, const real *Rw, size_t ldv,
                    const real *Rgy, real *Rgx, real *Ow, size_t ldo) {
    for (size_t m = 0; m < M; m++) {
        const real *xm = x + m * C, *g = gy + m * C;
        real r = rstd[m], B = F(mean_gxh_xh)(C, xm, r, w, g);
        for (size_t j = 0; j < k; j++) {
            const real *rx = Rx ? Rx + (m * k + j) * C : NULL, *rw = Rw ? Rw + j * ldv : NULL;
            const real *rgy = Rgy + (m * k + j) * C;
            real mxR = F(mean_xh_rx)(C, xm, r, rx), RB = 0;
            for (size_t c = 0; c < C; c++) {
                real xh = xm[c] * r, rxh = rx ? r * (rx[c] - xh * mxR) : 0;
                real rgxh = rgy[c] * w[c] + (rw ? g[c] * rw[c] : 0);
                RB += rgxh * xh + g[c] * w[c] * rxh;
                if (Ow) Ow[j * ldo + c] += rgy[c] * xh + g[c] * rxh;
            }
            RB /= (real)C;
            if (!Rgx) continue;
            real *rgx = Rgx + (m * k + j) * C, rr = -r * mxR; /* Rρ/ρ */
            for (size_t c = 0; c < C; c++) {
                real xh = xm[c] * r, rxh = rx ? r * (rx[c] - xh * mxR) : 0;
                real rgxh = rgy[c] * w[c] + (rw ? g[c] * rw[c] : 0);
                real gx = r * (g[c] * w[c] - xh * B);
                rgx[c] += rr * gx + r * (rgxh - rxh * B - xh * RB);
            }
        }
    }
}

#endif
