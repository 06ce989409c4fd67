/* 2×2 average pooling, forward / backward / R-pass side by side.
 *   y[p, i, j]  = ¼ Σ_{a,b∈{0,1}} x[p, 2i+a, 2j+b]          (i, j < ⌊S/2⌋)
 *   dx[p, 2i+a, 2j+b] += ¼ dy[p, i, j]
 *   Ry = avgpool(Rx),  Rdx += ¼-spread of Rdy   (linear layer: no curvature term) */
#include "nn/pool.h"

static int check(hb_context *ctx, hb_dtype dt, int64_t S) {
    HB_CHECK(ctx, dt == HB_F32 || dt == HB_F64, HB_EDTYPE, "pooling needs f32 or f64");
    HB_CHECK(ctx, S >= 2, HB_ESHAPE, "2x2 pooling needs a side >= 2, got %lld", (long long)S);
    return HB_OK;
}

#define POOL_LOOPS(T)                                                                      \
    do {                                                                                   \
        for (int64_t p = 0; p < planes; p++) {                                             \
            const T *xp = (const T *)x + p * S * S;                                        \
            T *yp = (T *)y + p * So * So;                                                  \
            for (int64_t i = 0; i < So; i++)                                               \
                for (int64_t j = 0; j < So; j++) {                                         \
                    const T *w = xp + 2 * i * S + 2 * j;                                   \
                    yp[i * So + j] = (T)(0.25 * ((double)w[0] + w[1] + w[S] + w[S + 1]));  \
                }                                                                          \
        }                                                                                  \
    } while (0)

#define UNPOOL_LOOPS(T)                                                                    \
    do {                                                                                   \
        for (int64_t p = 0; p < planes; p++) {                                             \
            const T *gp = (const T *)dy + p * So * So;                                     \
            T *xp = (T *)dx + p * S * S;                                                   \
            for (int64_t i = 0; i < So; i++)                                               \
                for (int64_t j = 0; j < So; j++) {                                         \
                    T g = (T)(0.25 * gp[i * So + j]);                                      \
                    T *w = xp + 2 * i * S + 2 * j;                                         \
                    w[0] += g, w[1] += g, w[S] += g, w[S + 1] += g;                        \
                }                                                                          \
        }                                                                                  \
    } while (0)

int hb__avgpool2_forward(hb_context *ctx, hb_dtype dt, int64_t planes, int64_t S, const void *x,
                         void *y) {
    HB_TRY(check(ctx, dt, S));
    int64_t So = S / 2;
    if (dt == HB_F64) POOL_LOOPS(double);
    else POOL_LOOPS(float);
    return HB_OK;
}

int hb__avgpool2_backward(hb_context *ctx, hb_dtype dt, int64_t planes, int64_t S, const void *dy,
                          void *dx) {
    HB_TRY(check(ctx, dt, S));
    int64_t So = S / 2;
    if (dt == HB_F64) UNPOOL_LOOPS(double);
    else UNPOOL_LOOPS(float);
    return HB_OK;
}

int hb__avgpool2_rop_forward(hb_context *ctx, hb_dtype dt, int64_t planes, int64_t S, int64_t k,
                             const void *Rx, void *Ry) {
    return hb__avgpool2_forward(ctx, dt, k * planes, S, Rx, Ry);
}

int hb__avgpool2_rop_backward(hb_context *ctx, hb_dtype dt, int64_t planes, int64_t S, int64_t k,
                              const void *Rdy, void *Rdx) {
    return hb__avgpool2_backward(ctx, dt, k * planes, S, Rdy, Rdx);
}
