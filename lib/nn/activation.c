/* Activations, forward / backward / R-pass side by side.
 *
 * ReLU:  f = max(x, 0),  f' = [x > 0],  f'' = 0 (the kink at 0 has measure zero; at θ the
 *        selection is fixed, so the exact Hessian of the piecewise-linear network is used).
 * GELU (tanh form, GPT-2):  f = ½x(1 + t),  t = tanh(u),  u = c(x + a x³),  c = √(2/π),
 *        a = 0.044715
 *        f'  = ½(1 + t) + ½x(1 − t²)u',               u'  = c(1 + 3a x²)
 *        f'' = (1 − t²)·(u' − x t u'² + ½x u''),       u'' = 6 c a x
 * Backward:   dx  = f'(x)·dy
 * R-forward:  Ry  = f'(x)·Rx
 * R-backward: Rdx = f''(x)·Rx·dy + f'(x)·Rdy
 * Elementwise math is done in double for both dtypes. */
#include <math.h>

#include "nn/activation.h"

#define GELU_C 0.7978845608028654 /* √(2/π) */
#define GELU_A 0.044715

/* f, f', f'' of x into the three outputs (any may be NULL). */
static inline void act_eval(int act, double x, double *f, double *d1, double *d2) {
    if (act == HB_ACT_RELU) {
        if (f) *f = x > 0 ? x : 0;
        if (d1) *d1 = x > 0 ? 1 : 0;
        if (d2) *d2 = 0;
        return;
    }
    double u = GELU_C * (x + GELU_A * x * x * x), t = tanh(u), s = 1 - t * t;
    double u1 = GELU_C * (1 + 3 * GELU_A * x * x), u2 = 6 * GELU_C * GELU_A * x;
    if (f) *f = 0.5 * x * (1 + t);
    if (d1) *d1 = 0.5 * (1 + t) + 0.5 * x * s * u1;
    if (d2) *d2 = s * (u1 - x * t * u1 * u1 + 0.5 * x * u2);
}

static double ld(hb_dtype dt, const void *p, int64_t i) {
    return dt == HB_F64 ? ((const double *)p)[i] : (double)((const float *)p)[i];
}
static void st(hb_dtype dt, void *p, int64_t i, double v) {
    if (dt == HB_F64) ((double *)p)[i] = v;
    else ((float *)p)[i] = (float)v;
}

static int check(hb_context *ctx, hb_dtype dt, int act) {
    HB_CHECK(ctx, dt == HB_F32 || dt == HB_F64, HB_EDTYPE, "activation needs f32 or f64");
    HB_CHECK(ctx, act == HB_ACT_RELU || act == HB_ACT_GELU, HB_EINVAL, "unknown activation %d",
             act);
    return HB_OK;
}

int hb__activation_forward(hb_context *ctx, hb_dtype dt, int act, int64_t n, const void *x,
                           void *y) {
    HB_TRY(check(ctx, dt, act));
#pragma omp parallel for num_threads(hb__threads(ctx)) schedule(static) if (n >= 65536)
    for (int64_t i = 0; i < n; i++) {
        double f;
        act_eval(act, ld(dt, x, i), &f, NULL, NULL);
        st(dt, y, i, f);
    }
    return HB_OK;
}

int hb__activation_backward(hb_context *ctx, hb_dtype dt, int act, int64_t n, const void *x,
                            const void *dy, void *dx) {
    HB_TRY(check(ctx, dt, act));
#pragma omp parallel for num_threads(hb__threads(ctx)) schedule(static) if (n >= 65536)
    for (int64_t i = 0; i < n; i++) {
        double d1;
        act_eval(act, ld(dt, x, i), NULL, &d1, NULL);
        st(dt, dx, i, ld(dt, dx, i) + d1 * ld(dt, dy, i));
    }
    return HB_OK;
}

int hb__activation_rop_forward(hb_context *ctx, hb_dtype dt, int act, int64_t n, int64_t k,
                               const void *x, const void *Rx, void *Ry) {
    HB_TRY(check(ctx, dt, act));
#pragma omp parallel for num_threads(hb__threads(ctx)) schedule(static) if (n >= 65536)
    for (int64_t i = 0; i < n; i++) {
        double d1;
        act_eval(act, ld(dt, x, i), NULL, &d1, NULL);
        for (int64_t j = 0; j < k; j++) st(dt, Ry, j * n + i, d1 * ld(dt, Rx, j * n + i));
    }
    return HB_OK;
}

int hb__activation_rop_backward(hb_context *ctx, hb_dtype dt, int act, int64_t n, int64_t k,
                                const void *x, const void *dy, const void *Rx, const void *Rdy,
                                void *Rdx) {
    HB_TRY(check(ctx, dt, act));
#pragma omp parallel for num_threads(hb__threads(ctx)) schedule(static) if (n >= 65536)
    for (int64_t i = 0; i < n; i++) {
        double d1, d2;
        act_eval(act, ld(dt, x, i), NULL, &d1, &d2);
        double g = ld(dt, dy, i);
        for (int64_t j = 0; j < k; j++) {
            int64_t o = j * n + i;
            double r = d1 * ld(dt, Rdy, o);
            if (Rx) r += d2 * ld(dt, Rx, o) * g;
            st(dt, Rdx, o, ld(dt, Rdx, o) + r);
        }
    }
    return HB_OK;
}
