/* GELU (tanh form): forward, backward and R-operator passes side by side.
 *   g(x)   = ½·x·(1 + th),  th = tanh(u),  u = s·(x + a·x³),  s = √(2/π), a = 0.044715
 *   g'(x)  = ½·(1 + th) + ½·x·(1 − th²)·u',            u' = s·(1 + 3a·x²)
 *   g''(x) = (1 − th²)·(u' − x·th·u'² + ½·x·u''),       u'' = 6·s·a·x
 * Backward:   gx = g'(x)·gy       (g', g'' computed once by the forward, kept by the caller)
 * R-forward:  Ry = g'(x)·Rx
 * R-backward: R(gx) = g''(x)·Rx·gy + g'(x)·Rgy
 * Template part compiled once per dtype. */
#ifndef HB_NN_TEMPLATE
#include <math.h>

#include "nn/gelu.h"

#define GELU_S 0.7978845608028654 /* √(2/π) */
#define GELU_A 0.044715

#define HB_NN_TEMPLATE
#define real float
#define F(name) name##_f32
#define TANH tanhf /* f32 in f32: ≈ 4× cheaper than double tanh, accurate to an ulp */
#include "gelu.c"
#undef real
#undef F
#undef TANH
#define real double
#define F(name) name##_f64
#define TANH tanh
#include "gelu.c"
#undef real
#undef F
#undef TANH
#undef HB_NN_TEMPLATE

#define DISPATCH(call32, call64)                                                         \
    do {                                                                                 \
        HB_CHECK(ctx, dt == HB_F32 || dt == HB_F64, HB_EDTYPE, "gelu needs f32 or f64"); \
        if (dt == HB_F32) call32;                                                        \
        else call64;                                                                     \
        return HB_OK;                                                                    \
    } while (0)

int hb__gelu_forward(hb_context *ctx, hb_dtype dt, size_t n, const void *x, void *y, void *d1,
                     void *d2) {
    DISPATCH(fwd_f32(n, x, y, d1, d2), fwd_f64(n, x, y, d1, d2));
}
int hb__gelu_backward(hb_context *ctx, hb_dtype dt, size_t n, const void *d1, const void *gy,
                      void *gx) {
    DISPATCH(rfwd_f32(n, 1, 1, d1, gy, gx), rfwd_f64(n, 1, 1, d1, gy, gx));
}
int hb__gelu_rforward(hb_context *ctx, hb_dtype dt, size_t M, size_t k, size_t C,
                      const void *d1, const void *Rx, void *Ry) {
    DISPATCH(rfwd_f32(M, k, C, d1, Rx, Ry), rfwd_f64(M, k, C, d1, Rx, Ry));
}
int hb__gelu_rbackward(hb_context *ctx, hb_dtype dt, size_t M, size_t k, size_t C,
                       const void *d1, const void *d2, const void *gy, const void *Rx,
                       const void *Rgy, void *Rgx) {
    DISPATCH(rbwd_f32(M, k, C, d1, d2, gy, Rx, Rgy, Rgx), rbwd_f64(M, k, C, d1, d2, gy, Rx, Rgy, Rgx));
}

#else /* ---- template body ---- */

static void F(fwd)(size_t n, const real *x, real *y, real *d1, real *d2) {
    const real s = (real)GELU_S, a = (real)GELU_A, h = (real)0.5;
    for (size_t i = 0; i < n; i++) {
        real v = x[i], th = TANH(s * (v + a * v * v * v)), sech2 = 1 - th * th;
        real u1 = s * (1 + 3 * a * v * v), u2 = 6 * s * a * v;
        y[i] = h * v * (1 + th);
        if (d1) d1[i] = h * (1 + th) + h * v * sech2 * u1;
        if (d2) d2[i] = sech2 * (u1 - v * th * u1 * u1 + h * v * u2);
    }
}

/* Ry[m,j,c] = g'(x[m,c])·Rx[m,j,c]; also the backward (k = 1, C = 1). */
static void F(rfwd)(size_t M, size_t k, size_t C, const real *d1, const real *Rx, real *Ry) {
    for (size_t m = 0; m < M; m++)
        for (size_t j = 0; j < k; j++) {
            const real *d = d1 + m * C, *rx = Rx + (m * k + j) * C;
            real *ry = Ry + (m * k + j) * C;
            for (size_t c = 0; c < C; c++) ry[c] = d[c] * rx[c];
        }
}

static void F(rbwd)(size_t M, size_t k, size_t C, const real *d1, const real *d2, const real *gy,
                    const real *Rx, const real *Rgy, real *Rgx) {
    for (size_t m = 0; m < M; m++)
        for (size_t j = 0; j < k; j++) {
            const real *a = d1 + m * C, *b = d2 + m * C, *g = gy + m * C;
            const real *rx = Rx + (m * k + j) * C, *rg = Rgy + (m * k + j) * C;
            real *o = Rgx + (m * k + j) * C;
            for (size_t c = 0; c < C; c++) o[c] = b[c] * g[c] * rx[c] + a[c] * rg[c];
        }
}

#endif
