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
 * f, f', f'' are evaluated in double for both dtypes; the loops are serial (the models call
 * them per micro-batch; the gemms around them carry the threads). */
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

static int check(hb_context *ctx, hb_dtype dt, int act) {
    HB_CHECK(ctx, dt == HB_F32 || dt == HB_F64, HB_EDTYPE, "activation needs f32 or f64");
    HB_CHECK(ctx, act == HB_ACT_RELU || act == HB_ACT_GELU, HB_EINVAL, "unknown activation %d",
             act);
    return HB_OK;
}

/* The loops, instantiated for float and double. Blocks of BLK elements: f', f'' are
 * evaluated once per element into stack arrays, then applied to the k directions while
 * the block is in cache (direction j of element i is at j·n + i). */
#define BLK 256
#define DEFINE_LOOPS(T, S)                                                                  \
    static void fwd_##S(int act, int64_t n, const T *x, T *y) {                             \
        for (int64_t i = 0; i < n; i++) {                                                   \
            double f;                                                                       \
            act_eval(act, (double)x[i], &f, NULL, NULL);                                    \
            y[i] = (T)f;                                                                    \
        }                                                                                   \
    }                                                                                       \
    static void bwd_##S(int act, int64_t n, const T *x, const T *dy, T *dx) {               \
        for (int64_t i = 0; i < n; i++) {                                                   \
            double d1;                                                                      \
            act_eval(act, (double)x[i], NULL, &d1, NULL);                                   \
            dx[i] = (T)(dx[i] + d1 * dy[i]);                                                \
        }                                                                                   \
    }                                                                                       \
    static void rfwd_##S(int act, int64_t n, int64_t k, const T *x, const T *Rx, T *Ry) {   \
        T d1[BLK];                                                                          \
        for (int64_t i0 = 0; i0 < n; i0 += BLK) {                                           \
            int64_t m = n - i0 < BLK ? n - i0 : BLK;                                        \
            for (int64_t i = 0; i < m; i++) {                                               \
                double d;                                                                   \
                act_eval(act, (double)x[i0 + i], NULL, &d, NULL);                           \
                d1[i] = (T)d;                                                               \
            }                                                                               \
            for (int64_t j = 0; j < k; j++) {                                               \
                const T *r = Rx + j * n + i0;                                               \
                T *o = Ry + j * n + i0;                                                     \
                for (int64_t i = 0; i < m; i++) o[i] = d1[i] * r[i];                        \
            }                                                                               \
        }                                                                                   \
    }                                                                                       \
    static void rbwd_##S(int act, int64_t n, int64_t k, const T *x, const T *dy,            \
                         const T *Rx, const T *Rdy, T *Rdx) {                               \
        T d1[BLK], c2[BLK]; /* f'(x) and f''(x)·dy */                                       \
        for (int64_t i0 = 0; i0 < n; i0 += BLK) {                                           \
            int64_t m = n - i0 < BLK ? n - i0 : BLK;                                        \
            for (int64_t i = 0; i < m; i++) {                                               \
                double a, b;                                                                \
                act_eval(act, (double)x[i0 + i], NULL, &a, &b);                             \
                d1[i] = (T)a, c2[i] = (T)(b * dy[i0 + i]);                                  \
            }                                                                               \
            for (int64_t j = 0; j < k; j++) {                                               \
                const T *rd = Rdy + j * n + i0;                                             \
                T *o = Rdx + j * n + i0;                                                    \
                for (int64_t i = 0; i < m; i++) o[i] += d1[i] * rd[i];                      \
                if (Rx && act != HB_ACT_RELU) { /* ReLU: f'' = 0 */                         \
                    const T *r = Rx + j * n + i0;                                           \
                    for (int64_t i = 0; i < m; i++) o[i] += c2[i] * r[i];                   \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
    }
DEFINE_LOOPS(float, f32)
DEFINE_LOOPS(double, f64)

int hb__activation_forward(hb_context *ctx, hb_dtype dt, int act, int64_t n, const void *x,
                           void *y) {
    HB_TRY(check(ctx, dt, act));
    if (dt == HB_F64) fwd_f64(act, n, x, y);
    else fwd_f32(act, n, x, y);
    return HB_OK;
}

int hb__activation_backward(hb_context *ctx, hb_dtype dt, int act, int64_t n, const void *x,
                            const void *dy, void *dx) {
    HB_TRY(check(ctx, dt, act));
    if (dt == HB_F64) bwd_f64(act, n, x, dy, dx);
    else bwd_f32(act, n, x, dy, dx);
    return HB_OK;
}

int hb__activation_rop_forward(hb_context *ctx, hb_dtype dt, int act, int64_t n, int64_t k,
                               const void *x, const void *Rx, void *Ry) {
    HB_TRY(check(ctx, dt, act));
    if (dt == HB_F64) rfwd_f64(act, n, k, x, Rx, Ry);
    else rfwd_f32(act, n, k, x, Rx, Ry);
    return HB_OK;
}

int hb__activation_rop_backward(hb_context *ctx, hb_dtype dt, int act, int64_t n, int64_t k,
                                const void *x, const void *dy, const void *Rx, const void *Rdy,
                                void *Rdx) {
    HB_TRY(check(ctx, dt, act));
    if (dt == HB_F64) rbwd_f64(act, n, k, x, dy, Rx, Rdy, Rdx);
    else rbwd_f32(act, n, k, x, dy, Rx, Rdy, Rdx);
    return HB_OK;
}
