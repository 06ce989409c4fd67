/* Elementwise activations: forward, backward and R-operator passes side by side
 * (formulas in nn/elementwise.h).
 * Backward:   gx  += f'(x)·gy
 * R-forward:  Ry   = f'(x)·Rx
 * R-backward: Rgx += f''(x)·gy·Rx + f'(x)·Rgy
 * GELU (tanh) uses nn/gelu.c's expressions term for term; its tanh (and the tanh
 * activation's) is nn/vtanh.h's, not libm's, so the loops vectorise. Template part compiled
 * once per dtype. */
#ifndef HB_NN_TEMPLATE
/* Without it GCC will not if-convert nn/vtanh.h's selects (its divisions could trap on
 * the unselected side), and the activation loops stay scalar. No value changes: the
 * option only drops the assumption that floating-point flags are observed. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
/* An AVX2 copy of the forward, chosen at run time (GCC on x86-64 only; see F(fwd)). Needs
 * contraction off, which ISO C mode (c_std=c11) gives GCC by default. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__AVX2__) && \
    !defined(HB__NO_AVX2_CLONE)
#define HB__ELTWISE_AVX2 1
#else
#define HB__ELTWISE_AVX2 0
#endif
#include <math.h>
#include <omp.h>
#include <string.h>

#include "kernels/kernels.h"
#include "nn/elementwise.h"
#include "nn/vtanh.h"

#define GELU_S 0.7978845608028654  /* √(2/π) */
#define GELU_A 0.044715
#define INV_SQRT2 0.7071067811865476 /* 1/√2 */
#define INV_SQRT2PI 0.3989422804014327 /* 1/√(2π) */

#define HB_NN_TEMPLATE
#define real float
#define F(name) name##_f32
#define TANH(x) ((float)hb__vtanh((double)(x))) /* rounded once: see nn/vtanh.h */
#define EXP expf
#define ERF erff
#include "elementwise.c"
#undef real
#undef F
#undef TANH
#undef EXP
#undef ERF
#define real double
#define F(name) name##_f64
#define TANH hb__vtanh
#define EXP exp
#define ERF erf
#include "elementwise.c"
#undef real
#undef F
#undef TANH
#undef EXP
#undef ERF
#undef HB_NN_TEMPLATE

bool hb__eltwise_valid(int act) { return act >= HB_ACT_RELU && act <= HB_ACT_TANH; }
bool hb__eltwise_has_d2(int act) { return act != HB_ACT_RELU; }

/* Rows [lo, hi) of `rows` for thread t of `team`: contiguous, fixed by (rows, team). */
#define ROW_RANGE(rows, t, team) size_t lo = (rows) * (size_t)(t) / (size_t)(team), \
                                        hi = (rows) * ((size_t)(t) + 1) / (size_t)(team)

/* Run body(lo, hi) over rows [0, rows) of `per_row` elements: serially (one call,
 * lo = 0, hi = rows: the code path of a 1-thread context) below the threshold, else split
 * statically over an OpenMP team. Every element is computed by the same expression
 * whatever the split (no sums across elements), so the bits never depend on the team. */
#define SPLIT_ROWS(ctx, rows, per_row, body)                                                 \
    do {                                                                                     \
        int team_ = hb__team(hb__threads(ctx), (rows), (double)(rows) * (double)(per_row), \
                             HB__ELTWISE_PER_THREAD);                                        \
        if (team_ <= 1) {                                                                    \
            size_t lo = 0, hi = (rows);                                                      \
            body;                                                                            \
        } else {                                                                             \
            _Pragma("omp parallel num_threads(team_)") {                                     \
                ROW_RANGE((rows), omp_get_thread_num(), omp_get_num_threads());              \
                body;                                                                        \
            }                                                                                \
        }                                                                                    \
    } while (0)

#define DTYPE_CHECK()                                                                     \
    HB_CHECK(ctx, dt == HB_F32 || dt == HB_F64, HB_EDTYPE,                                \
             "elementwise activation needs f32 or f64, got dtype %d", (int)dt)

/* element i of a buffer of the call's dtype (NULL stays NULL) */
#define AT(p, i) ((p) ? (void *)((char *)(p) + (i) * es) : NULL)
#define CAT(p, i) ((p) ? (const void *)((const char *)(p) + (i) * es) : NULL)

int hb__eltwise_forward(hb_context *ctx, hb_dtype dt, int act, size_t n, const void *x, void *y,
                        void *d1, void *d2) {
    HB_CHECK(ctx, hb__eltwise_valid(act), HB_EINVAL, "unknown activation %d", act);
    DTYPE_CHECK();
    size_t es = hb_dtype_size(dt);
    SPLIT_ROWS(ctx, n, 1,
               if (dt == HB_F32) fwd_f32(act, hi - lo, CAT(x, lo), AT(y, lo), AT(d1, lo), AT(d2, lo));
               else fwd_f64(act, hi - lo, CAT(x, lo), AT(y, lo), AT(d1, lo), AT(d2, lo)));
    return HB_OK;
}

void hb__eltwise_forward_baseline(hb_dtype dt, int act, size_t n, const void *x, void *y,
                                  void *d1, void *d2) {
    if (dt == HB_F32) fwd_body_f32(act, n, x, y, d1, d2);
    else fwd_body_f64(act, n, x, y, d1, d2);
}

int hb__eltwise_backward(hb_context *ctx, hb_dtype dt, size_t n, const void *d1, const void *gy,
                         void *gx, bool write) {
    DTYPE_CHECK();
    size_t es = hb_dtype_size(dt);
    if (write) /* gx = d1·gy: the R-forward's product with k = 1, C = 1 */
        SPLIT_ROWS(ctx, n, 1,
                   if (dt == HB_F32) rfwd_f32(hi - lo, 1, 1, CAT(d1, lo), CAT(gy, lo), AT(gx, lo));
                   else rfwd_f64(hi - lo, 1, 1, CAT(d1, lo), CAT(gy, lo), AT(gx, lo)));
    else
        SPLIT_ROWS(ctx, n, 1,
                   if (dt == HB_F32) bwd_f32(hi - lo, CAT(d1, lo), CAT(gy, lo), AT(gx, lo));
                   else bwd_f64(hi - lo, CAT(d1, lo), CAT(gy, lo), AT(gx, lo)));
    return HB_OK;
}

int hb__eltwise_rforward(hb_context *ctx, hb_dtype dt, size_t M, size_t k, size_t C,
                         const void *d1, const void *Rx, void *Ry) {
    if (!Rx) {
        memset(Ry, 0, M * k * C * hb_dtype_size(dt));
        return HB_OK;
    }
    DTYPE_CHECK();
    size_t es = hb_dtype_size(dt), kC = k * C;
    SPLIT_ROWS(ctx, M, kC,
               if (dt == HB_F32) rfwd_f32(hi - lo, k, C, CAT(d1, lo * C), CAT(Rx, lo * kC), AT(Ry, lo * kC));
               else rfwd_f64(hi - lo, k, C, CAT(d1, lo * C), CAT(Rx, lo * kC), AT(Ry, lo * kC)));
    return HB_OK;
}

int hb__eltwise_rbackward(hb_context *ctx, hb_dtype dt, size_t M, size_t k, size_t C,
                          const void *d1, const void *d2, const void *gy, const void *Rx,
                          const void *Rgy, void *Rgx, bool write) {
    if (!Rx) d2 = NULL;
    DTYPE_CHECK();
    size_t es = hb_dtype_size(dt), kC = k * C;
    SPLIT_ROWS(ctx, M, kC,
               if (dt == HB_F32)
                   rbwd_f32(hi - lo, k, C, CAT(d1, lo * C), CAT(d2, lo * C), CAT(gy, lo * C),
                            CAT(Rx, lo * kC), CAT(Rgy, lo * kC), AT(Rgx, lo * kC), write);
               else
                   rbwd_f64(hi - lo, k, C, CAT(d1, lo * C), CAT(d2, lo * C), CAT(gy, lo * C),
                            CAT(Rx, lo * kC), CAT(Rgy, lo * kC), AT(Rgx, lo * kC), write));
    return HB_OK;
}

#else /* ---- template body ---- */

/* y = f(x), d1 = f'(x), d2 = f''(x) (either NULL: not stored). One loop per activation
 * (a switch inside the loop kept ReLU from vectorising). */
#define F_LOOP(body)                                                                        \
    if (d1 && d2) /* the net's case: a loop without branches, which vectorises */           \
        for (size_t i = 0; i < n; i++) {                                                    \
            real v = x[i], f, p, q;                                                         \
            body;                                                                           \
            y[i] = f;                                                                       \
            d1[i] = p;                                                                      \
            d2[i] = q;                                                                      \
        }                                                                                   \
    else                                                                                    \
        for (size_t i = 0; i < n; i++) {                                                    \
            real v = x[i], f, p, q;                                                         \
            body;                                                                           \
            y[i] = f;                                                                       \
            if (d1) d1[i] = p;                                                              \
            if (d2) d2[i] = q;                                                              \
        }
static inline __attribute__((always_inline)) void F(fwd_body)(int act, size_t n, const real *x,
                                                              real *y, real *d1, real *d2) {
    const real s = (real)GELU_S, a = (real)GELU_A, h = (real)0.5;
    switch (act) {
    case HB_ACT_RELU:
        /* NaN passes through (as in PyTorch): a NaN pre-activation must not come out as a
         * finite 0 and hide a diverged run; every other input keeps its bits. */
        if (d1 && !d2)
            for (size_t i = 0; i < n; i++) {
                real v = x[i];
                y[i] = v > 0 || v != v ? v : 0;
                d1[i] = v > 0 ? 1 : 0;
            }
        else
            F_LOOP(f = v > 0 || v != v ? v : 0; p = v > 0 ? 1 : 0; q = 0)
        break;
    case HB_ACT_GELU: /* nn/gelu.c, term for term */
        F_LOOP(real th = TANH(s * (v + a * v * v * v)); real sech2 = 1 - th * th;
               real u1 = s * (1 + 3 * a * v * v); real u2 = 6 * s * a * v;
               f = h * v * (1 + th); p = h * (1 + th) + h * v * sech2 * u1;
               q = sech2 * (u1 - v * th * u1 * u1 + h * v * u2))
        break;
    case HB_ACT_GELU_ERF:
        F_LOOP(real Phi = h * (1 + ERF(v * (real)INV_SQRT2));
               real phi = (real)INV_SQRT2PI * EXP(-h * v * v);
               f = v * Phi; p = Phi + v * phi; q = phi * (2 - v * v))
        break;
    case HB_ACT_SILU:
        F_LOOP(real sg = 1 / (1 + EXP(-v)); f = v * sg; p = sg * (1 + v * (1 - sg));
               q = sg * (1 - sg) * (2 + v * (1 - 2 * sg)))
        break;
    default: /* HB_ACT_TANH */
        F_LOOP(real t = TANH(v); f = t; p = 1 - t * t; q = -2 * t * p)
        break;
    }
}
#undef F_LOOP

/* The forward twice: for the build's baseline ISA and, on x86 with GCC, for AVX2 (twice the
 * vector width for nn/vtanh.h: 2.0× on GELU). The bits are the same: both run the same
 * IEEE operations element by element (ISO C mode: no FMA contraction, -ffp-contract=off),
 * so the choice, made once per call from the processor, never shows in a result. */
#if HB__ELTWISE_AVX2
__attribute__((target("avx2"))) static void F(fwd_avx2)(int act, size_t n, const real *x,
                                                         real *y, real *d1, real *d2) {
    F(fwd_body)(act, n, x, y, d1, d2);
}
#endif
static void F(fwd)(int act, size_t n, const real *x, real *y, real *d1, real *d2) {
#if HB__ELTWISE_AVX2
    if (__builtin_cpu_supports("avx2")) {
        F(fwd_avx2)(act, n, x, y, d1, d2);
        return;
    }
#endif
    F(fwd_body)(act, n, x, y, d1, d2);
}

/* gx[i] += d1[i]·gy[i] */
static void F(bwd)(size_t n, const real *d1, const real *gy, real *gx) {
    for (size_t i = 0; i < n; i++) gx[i] += d1[i] * gy[i];
}

/* Ry[m,j,c] = d1[m,c]·Rx[m,j,c] */
static void F(rfwd)(size_t M, size_t k, size_t C, const real *d1, const real *Rx, real *Ry) {
    for (size_t m = 0; m < M; m++)
        for (size_t j = 0; j < k; j++) {
            const real *d = d1 + m * C, *rx = Rx + (m * k + j) * C;
            real *ry = Ry + (m * k + j) * C;
            for (size_t c = 0; c < C; c++) ry[c] = d[c] * rx[c];
        }
}

/* Rgx[m,j,c] += d2[m,c]·gy[m,c]·Rx[m,j,c] + d1[m,c]·Rgy[m,j,c] (d2 NULL: second term only;
 * write: = instead of +=, as nn/gelu.c's R-backward did) */
static void F(rbwd)(size_t M, size_t k, size_t C, const real *d1, const real *d2, const real *gy,
                    const real *Rx, const real *Rgy, real *Rgx, bool write) {
    for (size_t m = 0; m < M; m++)
        for (size_t j = 0; j < k; j++) {
            const real *a = d1 + m * C, *rg = Rgy + (m * k + j) * C;
            real *o = Rgx + (m * k + j) * C;
            if (d2) {
                const real *b = d2 + m * C, *g = gy + m * C, *rx = Rx + (m * k + j) * C;
                if (write)
                    for (size_t c = 0; c < C; c++) o[c] = b[c] * g[c] * rx[c] + a[c] * rg[c];
                else
                    for (size_t c = 0; c < C; c++) o[c] += b[c] * g[c] * rx[c] + a[c] * rg[c];
            } else if (write) {
                for (size_t c = 0; c < C; c++) o[c] = a[c] * rg[c];
            } else {
                for (size_t c = 0; c < C; c++) o[c] += a[c] * rg[c];
            }
        }
}

#endif
