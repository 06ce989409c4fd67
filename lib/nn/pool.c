/* Pooling, forward / backward / R-pass side by side.
 * s×s pooling, R quantities interleaved per sample (the network engine), window w(i, j) = [s·i, s·i+s) × [s·j, s·j+s):
 *   average  y[p, i, j] = s⁻² Σ_w x[p, ·]      gx[p, w] += s⁻² gy[p, i, j]
 *            Ry = avg(Rx), Rgx += spread(Rgy)  (linear: the R-passes are the θ passes)
 *   max      y[p, i, j] = x[p, a(p, i, j)],    a = first argmax over w (row-major)
 *            gx[p, a] += gy[p, i, j];   Ry[p, i, j] = Rx[p, a];   Rgx[p, a] += Rgy[p, i, j]
 *            (the selection a is fixed at θ: the map is linear in x near θ wherever the
 *            maximum is unique, so these are its exact derivatives there) */
#ifndef HB_NN_TEMPLATE
#include "nn/pool.h"

#include <string.h>

#define HB_NN_TEMPLATE
#define real float
#define F(name) name##_f32
#include "pool.c"
#undef real
#undef F
#define real double
#define F(name) name##_f64
#include "pool.c"
#undef real
#undef F
#undef HB_NN_TEMPLATE

#define CALL(fn, ...) (dt == HB_F32 ? fn##_f32(__VA_ARGS__) : fn##_f64(__VA_ARGS__))

int hb__pool_check(hb_context *ctx, const hb__pool_geom *g) {
    HB_CHECK(ctx, g->C >= 1 && g->s >= 1 && g->s <= g->H && g->s <= g->W && g->H * g->W < INT32_MAX,
             HB_ESHAPE, "pool2d: window %lld does not fit the image (C=%lld, H=%lld, W=%lld)",
             (long long)g->s, (long long)g->C, (long long)g->H, (long long)g->W);
    return HB_OK;
}

static int check_il(hb_context *ctx, hb_dtype dt, const hb__pool_geom *g) {
    HB_CHECK(ctx, dt == HB_F32 || dt == HB_F64, HB_EDTYPE, "pooling needs f32 or f64");
    return hb__pool_check(ctx, g);
}

int hb__avgpool_forward(hb_context *ctx, hb_dtype dt, const hb__pool_geom *g, size_t n,
                        const void *x, void *y) {
    HB_TRY(check_il(ctx, dt, g));
    CALL(avg_fwd, g, (int64_t)n * g->C, x, y);
    return HB_OK;
}

int hb__avgpool_backward(hb_context *ctx, hb_dtype dt, const hb__pool_geom *g, size_t n,
                         const void *gy, void *gx) {
    HB_TRY(check_il(ctx, dt, g));
    CALL(avg_bwd, g, (int64_t)n * g->C, gy, gx);
    return HB_OK;
}

int hb__maxpool_forward(hb_context *ctx, hb_dtype dt, const hb__pool_geom *g, size_t N,
                        const void *x, void *y, int32_t *idx) {
    HB_TRY(check_il(ctx, dt, g));
    CALL(max_fwd, g, (int64_t)N * g->C, x, y, idx);
    return HB_OK;
}

int hb__maxpool_backward(hb_context *ctx, hb_dtype dt, const hb__pool_geom *g, size_t N,
                         const int32_t *idx, const void *gy, void *gx) {
    HB_TRY(check_il(ctx, dt, g));
    CALL(max_scatter, g, (int64_t)N, 1, idx, gy, gx);
    return HB_OK;
}

int hb__maxpool_rforward(hb_context *ctx, hb_dtype dt, const hb__pool_geom *g, size_t N,
                         size_t k, const int32_t *idx, const void *Rx, void *Ry) {
    HB_TRY(check_il(ctx, dt, g));
    if (Rx) CALL(max_select, g, (int64_t)N, (int64_t)k, idx, Rx, Ry);
    else
        memset(Ry, 0, N * k * (size_t)(g->C * (g->H / g->s) * (g->W / g->s)) * hb_dtype_size(dt));
    return HB_OK;
}

int hb__maxpool_rbackward(hb_context *ctx, hb_dtype dt, const hb__pool_geom *g, size_t N,
                          size_t k, const int32_t *idx, const void *Rgy, void *Rgx) {
    HB_TRY(check_il(ctx, dt, g));
    CALL(max_scatter, g, (int64_t)N, (int64_t)k, idx, Rgy, Rgx);
    return HB_OK;
}

#else /* ---- template body ---- */

/* planes (H, W) → (Ho, Wo) window means */
static void F(avg_fwd)(const hb__pool_geom *g, int64_t planes, const real *x, real *y) {
    int64_t H = g->H, W = g->W, s = g->s, Ho = H / s, Wo = W / s;
    double inv = 1.0 / (double)(s * s);
    for (int64_t p = 0; p < planes; p++)
        for (int64_t i = 0; i < Ho; i++)
            for (int64_t j = 0; j < Wo; j++) {
                const real *w = x + (p * H + i * s) * W + j * s;
                double sum = 0;
                for (int64_t a = 0; a < s; a++)
                    for (int64_t b = 0; b < s; b++) sum += w[a * W + b];
                y[(p * Ho + i) * Wo + j] = (real)(sum * inv);
            }
}

static void F(avg_bwd)(const hb__pool_geom *g, int64_t planes, const real *gy, real *gx) {
    int64_t H = g->H, W = g->W, s = g->s, Ho = H / s, Wo = W / s;
    double inv = 1.0 / (double)(s * s);
    for (int64_t p = 0; p < planes; p++)
        for (int64_t i = 0; i < Ho; i++)
            for (int64_t j = 0; j < Wo; j++) {
                real v = (real)(gy[(p * Ho + i) * Wo + j] * inv);
                real *w = gx + (p * H + i * s) * W + j * s;
                for (int64_t a = 0; a < s; a++)
                    for (int64_t b = 0; b < s; b++) w[a * W + b] += v;
            }
}

/* y = window max, idx = in-plane index of its first maximum (strict >: ties keep the
 * earlier; a NaN never replaces the current best, so idx is always inside the window) */
static void F(max_fwd)(const hb__pool_geom *g, int64_t planes, const real *x, real *y,
                       int32_t *idx) {
    int64_t H = g->H, W = g->W, s = g->s, Ho = H / s, Wo = W / s;
    for (int64_t p = 0; p < planes; p++) {
        const real *xp = x + p * H * W;
        for (int64_t i = 0; i < Ho; i++)
            for (int64_t j = 0; j < Wo; j++) {
                int64_t best = i * s * W + j * s;
                for (int64_t a = 0; a < s; a++)
                    for (int64_t b = 0; b < s; b++) {
                        int64_t e = (i * s + a) * W + j * s + b;
                        /* the first NaN of a window wins (NaN propagates, as in
                         * PyTorch); without NaN: the first maximum, as always */
                        if (xp[e] > xp[best] || (xp[e] != xp[e] && xp[best] == xp[best]))
                            best = e;
                    }
                y[(p * Ho + i) * Wo + j] = xp[best];
                idx[(p * Ho + i) * Wo + j] = (int32_t)best;
            }
    }
}

/* Ry[n, j, c] = Rx[n, j, c] at idx[n, c]  (k images per sample share the sample's idx) */
static void F(max_select)(const hb__pool_geom *g, int64_t N, int64_t k, const int32_t *idx,
                          const real *Rx, real *Ry) {
    int64_t C = g->C, HW = g->H * g->W, Po = (g->H / g->s) * (g->W / g->s);
    for (int64_t n = 0; n < N; n++)
        for (int64_t j = 0; j < k; j++)
            for (int64_t c = 0; c < C; c++) {
                const int32_t *ic = idx + (n * C + c) * Po;
                const real *xp = Rx + ((n * k + j) * C + c) * HW;
                real *yp = Ry + ((n * k + j) * C + c) * Po;
                for (int64_t o = 0; o < Po; o++) yp[o] = xp[ic[o]];
            }
}

/* Rgx[n, j, c] at idx[n, c] += Rgy[n, j, c]  (k = 1: the θ backward) */
static void F(max_scatter)(const hb__pool_geom *g, int64_t N, int64_t k, const int32_t *idx,
                           const real *Rgy, real *Rgx) {
    int64_t C = g->C, HW = g->H * g->W, Po = (g->H / g->s) * (g->W / g->s);
    for (int64_t n = 0; n < N; n++)
        for (int64_t j = 0; j < k; j++)
            for (int64_t c = 0; c < C; c++) {
                const int32_t *ic = idx + (n * C + c) * Po;
                const real *gp = Rgy + ((n * k + j) * C + c) * Po;
                real *xp = Rgx + ((n * k + j) * C + c) * HW;
                for (int64_t o = 0; o < Po; o++) xp[ic[o]] += gp[o];
            }
}

#endif
