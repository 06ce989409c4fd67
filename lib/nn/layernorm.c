/* Layer normalisation: forward, backward and R-operator passes side by side.
 *
 *   xhat = (x − μ)·ρ,  μ = mean(x),  ρ = 1/√(var(x) + eps)            x, y: (M, C) rows
 * (eps enters only the forward: the other passes read ρ, which the forward stored)
 *   y    = xhat·w + b                                                   w, b: (C)
 * Backward (gy given):
 *   gxhat = gy·w,  A = mean(gxhat),  B = mean(gxhat·xhat)
 *   gx = ρ·(gxhat − A − xhat·B),  gw = Σ_rows gy·xhat,  gb = Σ_rows gy
 * R-forward (direction Rx, Rw, Rb):
 *   R(xhat) = ρ·(Rx − mean(Rx) − xhat·mean(xhat·Rx)),  Rρ/ρ = −ρ·mean(xhat·Rx)
 *   Ry = R(xhat)·w + xhat·Rw + Rb
 * R-backward (Rgy given):
 *   R(gxhat) = Rgy·w + gy·Rw,  RA = mean(R(gxhat)),  RB = mean(R(gxhat)·xhat + gxhat·R(xhat))
 *   R(gx) = (Rρ/ρ)·gx + ρ·(R(gxhat) − RA − R(xhat)·B − xhat·RB)
 *   R(gw) = Σ_rows Rgy·xhat + gy·R(xhat),  R(gb) = Σ_rows Rgy
 * The file is a template: the part under HB_NN_TEMPLATE is compiled once per dtype. */
#ifndef HB_NN_TEMPLATE
#include <math.h>

#include "nn/layernorm.h"

/* The forward and R-forward take rows in blocks of NR: their per-row sums (mean, variance;
 * mean(Rx), mean(xhat·Rx)) are sequential chains (one add after another in element order:
 * reordering them would change the bits), so one row at a time ran at the adder's
 * latency; NR rows side by side give NR independent chains (GCC puts them in the lanes of
 * one vector). Every row's sums keep their order: the same bits as row by row. A tail of
 * fewer than NR rows runs the same code with nr = 1. Measured (1024 × 128, min of 301,
 * load 20+): forward f32 230 → 175 µs, f64 245 → 175; R-forward f32 145 → 138, f64
 * 200 → 175. The backward and R-backward were SLOWER blocked (f32 140 → 225, 650 → 990 µs:
 * their rows also update gw, gb / Ow, Ob and recompute more per element), so they stay row
 * by row. */
enum { NR = 4 };

#define HB_NN_TEMPLATE
#define real float
#define F(name) name##_f32
#include "layernorm.c"
#undef real
#undef F
#define real double
#define F(name) name##_f64
#include "layernorm.c"
#undef real
#undef F
#undef HB_NN_TEMPLATE

int hb__layernorm_forward(hb_context *ctx, hb_dtype dt, size_t M, size_t C, double eps,
                          const void *x, const void *w, const void *b, void *y, void *mean,
                          void *rstd) {
    HB_CHECK(ctx, dt == HB_F32 || dt == HB_F64, HB_EDTYPE, "layernorm needs f32 or f64");
    if (dt == HB_F32) fwd_f32(M, C, eps, x, w, b, y, mean, rstd);
    else fwd_f64(M, C, eps, x, w, b, y, mean, rstd);
    return HB_OK;
}

int hb__layernorm_backward(hb_context *ctx, hb_dtype dt, size_t M, size_t C, const void *x,
                           const void *w, const void *mean, const void *rstd, const void *gy,
                           void *gx, void *gw, void *gb) {
    HB_CHECK(ctx, dt == HB_F32 || dt == HB_F64, HB_EDTYPE, "layernorm needs f32 or f64");
    if (dt == HB_F32) bwd_f32(M, C, x, w, mean, rstd, gy, gx, gw, gb);
    else bwd_f64(M, C, x, w, mean, rstd, gy, gx, gw, gb);
    return HB_OK;
}

int hb__layernorm_rforward(hb_context *ctx, hb_dtype dt, size_t M, size_t C, size_t k,
                           const void *x, const void *w, const void *mean, const void *rstd,
                           const void *Rx, const void *Rw, const void *Rb, size_t ldv, void *Ry) {
    HB_CHECK(ctx, dt == HB_F32 || dt == HB_F64, HB_EDTYPE, "layernorm needs f32 or f64");
    if (dt == HB_F32) rfwd_f32(M, C, k, x, w, mean, rstd, Rx, Rw, Rb, ldv, Ry);
    else rfwd_f64(M, C, k, x, w, mean, rstd, Rx, Rw, Rb, ldv, Ry);
    return HB_OK;
}

int hb__layernorm_rbackward(hb_context *ctx, hb_dtype dt, size_t M, size_t C, size_t k,
                            const void *x, const void *w, const void *mean, const void *rstd,
                            const void *gy, const void *Rx, const void *Rw, size_t ldv,
                            const void *Rgy, void *Rgx, void *Ow, void *Ob, size_t ldo) {
    HB_CHECK(ctx, dt == HB_F32 || dt == HB_F64, HB_EDTYPE, "layernorm needs f32 or f64");
    if (dt == HB_F32) rbwd_f32(M, C, k, x, w, mean, rstd, gy, Rx, Rw, ldv, Rgy, Rgx, Ow, Ob, ldo);
    else rbwd_f64(M, C, k, x, w, mean, rstd, gy, Rx, Rw, ldv, Rgy, Rgx, Ow, Ob, ldo);
    return HB_OK;
}

#else /* ---- template body: real, F(name) ---- */

static inline __attribute__((always_inline)) void F(fwd_rows)(size_t nr, size_t C, double eps,
                                                              const real *x, const real *w,
                                                              const real *b, real *y,
                                                              real *mean, real *rstd) {
    double mu[NR] = {0}, var[NR] = {0};
    for (size_t c = 0; c < C; c++)
        for (size_t i = 0; i < nr; i++) mu[i] += x[i * C + c];
    for (size_t i = 0; i < nr; i++) mu[i] /= (double)C;
    for (size_t c = 0; c < C; c++)
        for (size_t i = 0; i < nr; i++)
            var[i] += ((double)x[i * C + c] - mu[i]) * ((double)x[i * C + c] - mu[i]);
    for (size_t i = 0; i < nr; i++) {
        var[i] /= (double)C;
        real r = (real)(1.0 / sqrt(var[i] + eps)), mur = (real)mu[i];
        mean[i] = mur;
        rstd[i] = r;
        const real *xm = x + i * C;
        real *ym = y + i * C;
        for (size_t c = 0; c < C; c++) ym[c] = (xm[c] - mur) * r * w[c] + b[c];
    }
}

static void F(fwd)(size_t M, size_t C, double eps, const real *x, const real *w, const real *b,
                   real *y, real *mean, real *rstd) {
    size_t m = 0;
    for (; m + NR <= M; m += NR)
        F(fwd_rows)(NR, C, eps, x + m * C, w, b, y + m * C, mean + m, rstd + m);
    for (; m < M; m++) F(fwd_rows)(1, C, eps, x + m * C, w, b, y + m * C, mean + m, rstd + m);
}

static void F(bwd)(size_t M, size_t C, const real *x, const real *w, const real *mean,
                   const real *rstd, const real *gy, real *gx, real *gw, real *gb) {
    for (size_t m = 0; m < M; m++) {
        const real *xm = x + m * C, *g = gy + m * C;
        real mu = mean[m], r = rstd[m], A = 0, B = 0;
        for (size_t c = 0; c < C; c++) {
            real xh = (xm[c] - mu) * r, gxh = g[c] * w[c];
            A += gxh;
            B += gxh * xh;
            if (gw) gw[c] += g[c] * xh;
            if (gb) gb[c] += g[c];
        }
        A /= (real)C;
        B /= (real)C;
        if (gx)
            for (size_t c = 0; c < C; c++) {
                real xh = (xm[c] - mu) * r;
                gx[m * C + c] += r * (g[c] * w[c] - A - xh * B);
            }
    }
}

static inline __attribute__((always_inline)) void F(rfwd_rows)(
    size_t nr, size_t C, size_t k, const real *x, const real *w, const real *mean,
    const real *rstd, const real *Rx, const real *Rw, const real *Rb, size_t ldv, real *Ry) {
    for (size_t j = 0; j < k; j++) {
        const real *rw = Rw ? Rw + j * ldv : NULL, *rb = Rb ? Rb + j * ldv : NULL;
        real mR[NR] = {0}, mxR[NR] = {0};
        if (Rx) {
            for (size_t c = 0; c < C; c++)
                for (size_t i = 0; i < nr; i++) {
                    const real *rx = Rx + (i * k + j) * C;
                    mR[i] += rx[c];
                    mxR[i] += (x[i * C + c] - mean[i]) * rstd[i] * rx[c];
                }
            for (size_t i = 0; i < nr; i++) mR[i] /= (real)C, mxR[i] /= (real)C;
        }
        for (size_t i = 0; i < nr; i++) {
            const real *xm = x + i * C, *rx = Rx ? Rx + (i * k + j) * C : NULL;
            real *ry = Ry + (i * k + j) * C, mu = mean[i], r = rstd[i];
            for (size_t c = 0; c < C; c++) {
                real xh = (xm[c] - mu) * r;
                real v = rx ? r * (rx[c] - mR[i] - xh * mxR[i]) * w[c] : 0;
                if (rw) v += xh * rw[c];
                if (rb) v += rb[c];
                ry[c] = v;
            }
        }
    }
}

static void F(rfwd)(size_t M, size_t C, size_t k, const real *x, const real *w,
                    const real *mean, const real *rstd, const real *Rx, const real *Rw,
                    const real *Rb, size_t ldv, real *Ry) {
    size_t m = 0;
    for (; m + NR <= M; m += NR)
        F(rfwd_rows)(NR, C, k, x + m * C, w, mean + m, rstd + m, Rx ? Rx + m * k * C : NULL, Rw,
                     Rb, ldv, Ry + m * k * C);
    for (; m < M; m++)
        F(rfwd_rows)(1, C, k, x + m * C, w, mean + m, rstd + m, Rx ? Rx + m * k * C : NULL, Rw,
                     Rb, ldv, Ry + m * k * C);
}

static void F(rbwd)(size_t M, size_t C, size_t k, const real *x, const real *w,
                    const real *mean, const real *rstd, const real *gy, const real *Rx,
                    const real *Rw, size_t ldv, const real *Rgy, real *Rgx, real *Ow,
                    real *Ob, size_t ldo) {
    for (size_t m = 0; m < M; m++) {
        const real *xm = x + m * C, *g = gy + m * C;
        real mu = mean[m], r = rstd[m], A = 0, B = 0;
        for (size_t c = 0; c < C; c++) {
            real xh = (xm[c] - mu) * r, gxh = g[c] * w[c];
            A += gxh;
            B += gxh * xh;
        }
        A /= (real)C;
        B /= (real)C;
        for (size_t j = 0; j < k; j++) {
            const real *rx = Rx ? Rx + (m * k + j) * C : NULL;
            const real *rw = Rw ? Rw + j * ldv : NULL;
            const real *rgy = Rgy + (m * k + j) * C;
            real mR = 0, mxR = 0;
            if (rx) {
                for (size_t c = 0; c < C; c++) {
                    mR += rx[c];
                    mxR += (xm[c] - mu) * r * rx[c];
                }
                mR /= (real)C;
                mxR /= (real)C;
            }
            /* R(xhat)_c = r·(rx_c − mR − xh_c·mxR) */
            real RA = 0, RB = 0;
            for (size_t c = 0; c < C; c++) {
                real xh = (xm[c] - mu) * r;
                real rxh = rx ? r * (rx[c] - mR - xh * mxR) : 0;
                real rgxh = rgy[c] * w[c] + (rw ? g[c] * rw[c] : 0);
                RA += rgxh;
                RB += rgxh * xh + g[c] * w[c] * rxh;
            }
            /* Ow, Ob in loops of their own: without the RA, RB chains in them they vectorise
             * (same expressions, same bits; f32 R-backward 650-900 -> 480-570 µs on 1024 ×
             * 128; the backward's gw, gb split the same way was slower, so it stays fused) */
            if (Ow)
                for (size_t c = 0; c < C; c++) {
                    real xh = (xm[c] - mu) * r;
                    real rxh = rx ? r * (rx[c] - mR - xh * mxR) : 0;
                    Ow[j * ldo + c] += rgy[c] * xh + g[c] * rxh;
                }
            if (Ob)
                for (size_t c = 0; c < C; c++) Ob[j * ldo + c] += rgy[c];
            RA /= (real)C;
            RB /= (real)C;
            if (Rgx) {
                real *rgx = Rgx + (m * k + j) * C;
                real rr = -r * mxR; /* Rρ/ρ */
                for (size_t c = 0; c < C; c++) {
                    real xh = (xm[c] - mu) * r;
                    real rxh = rx ? r * (rx[c] - mR - xh * mxR) : 0;
                    real rgxh = rgy[c] * w[c] + (rw ? g[c] * rw[c] : 0);
                    real gx = r * (g[c] * w[c] - A - xh * B);
                    rgx[c] += rr * gx + r * (rgxh - RA - rxh * B - xh * RB);
                }
            }
        }
    }
}

#endif
