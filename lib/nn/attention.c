/* Causal multi-head self-attention: forward, backward and R-operator passes side by side.
 * Per sequence n and head h (Q, K, V: (T, d) column slices of q, k, v; c = 1/√d):
 *   S = c·Q·Kᵀ,  P = softmax_row(S) over s ≤ t (P[t,s] = 0 for s > t),  Y = P·V
 * Backward (gY given):
 *   gP = gY·Vᵀ,  gV = Pᵀ·gY,  gS = P ⊙ (gP − r),  r_t = Σ_s gP[t,s]·P[t,s]
 *   gQ = c·gS·K,  gK = c·gSᵀ·Q
 * R-forward (RQ, RK, RV given):
 *   RS = c·(RQ·Kᵀ + Q·RKᵀ),  RP = P ⊙ (RS − ρ),  ρ_t = Σ_s P[t,s]·RS[t,s]
 *   RY = RP·V + P·RV
 * R-backward (RgY given):
 *   RgP = RgY·Vᵀ + gY·RVᵀ,  RgV = RPᵀ·gY + Pᵀ·RgY
 *   RgS = RP ⊙ (gP − r) + P ⊙ (RgP − Rr),  Rr_t = Σ_s RgP·P + gP·RP
 *   RgQ = c·(RgS·K + gS·RK),  RgK = c·(RgSᵀ·Q + gSᵀ·RQ)
 * With nd directions interleaved per row, the (t, j) rows of RQ (and RgY, RS, RgP, RgS)
 * form one (T·nd, d) matrix with row stride C, so the products with θ-side matrices are
 * one gemm for all directions; products of two direction-dependent factors loop over j.
 * Template: the part under HB_NN_TEMPLATE is compiled once per dtype. */
#ifndef HB_NN_TEMPLATE
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"
#include "nn/attention.h"

#define HB_NN_TEMPLATE
#define real float
#define F(name) name##_f32
#define EXP expf
#include "attention.c"
#undef real
#undef F
#undef EXP
#define real double
#define F(name) name##_f64
#define EXP exp
#include "attention.c"
#undef real
#undef F
#undef EXP
#undef HB_NN_TEMPLATE

size_t hb__attention_scratch(const hb__attn_shape *s, size_t nd) {
    return (2 + nd) * s->T * s->T + s->T;
}

/* Shorthands: a (rows × cols) operand with row stride rs and unit column stride. */
#define GEMM(ta, tb, m_, n_, k_, al, A, rsa, B, rsb, be, Cp, rsc)                              \
    HB_TRY(hb__gemm_strided(ctx, dt, ta, tb, (int64_t)(m_), (int64_t)(n_), (int64_t)(k_), al, \
                            A, (int64_t)(rsa), 1, B, (int64_t)(rsb), 1, be, Cp, (int64_t)(rsc), 1))

#define CHECK_DT()                                                                                 \
    HB_CHECK(ctx, dt == HB_F32 || dt == HB_F64, HB_EDTYPE, "attention needs f32 or f64");        \
    HB_CHECK(ctx, s->H >= 1 && s->C % s->H == 0, HB_ESHAPE, "width %zu is not a multiple of %zu heads", \
             s->C, s->H)

int hb__attention_forward(hb_context *ctx, hb_dtype dt, const hb__attn_shape *s,
                          const void *q, const void *k, const void *v, void *P, void *y) {
    CHECK_DT();
    size_t T = s->T, C = s->C, d = C / s->H, es = hb_dtype_size(dt);
    double c = 1.0 / sqrt((double)d);
    for (size_t n = 0; n < s->N; n++)
        for (size_t h = 0; h < s->H; h++) {
            size_t o = (n * T * C + h * d) * es;
            char *Pnh = (char *)P + (n * s->H + h) * T * T * es;
            GEMM(false, true, T, T, d, c, (const char *)q + o, C, (const char *)k + o, C, 0.0, Pnh, T);
            if (dt == HB_F32) softmax_causal_f32(T, (float *)Pnh);
            else softmax_causal_f64(T, (double *)Pnh);
            GEMM(false, false, T, d, T, 1.0, Pnh, T, (const char *)v + o, C, 0.0, (char *)y + o, C);
        }
    return HB_OK;
}

int hb__attention_backward(hb_context *ctx, hb_dtype dt, const hb__attn_shape *s,
                           const void *q, const void *k, const void *v, const void *P,
                           const void *gy, void *gq, void *gk, void *gv, void *scratch) {
    CHECK_DT();
    size_t T = s->T, C = s->C, d = C / s->H, es = hb_dtype_size(dt);
    double c = 1.0 / sqrt((double)d);
    char *gP = scratch;
    for (size_t n = 0; n < s->N; n++)
        for (size_t h = 0; h < s->H; h++) {
            size_t o = (n * T * C + h * d) * es;
            const char *Pnh = (const char *)P + (n * s->H + h) * T * T * es;
            GEMM(false, true, T, T, d, 1.0, (const char *)gy + o, C, (const char *)v + o, C, 0.0, gP, T);
            GEMM(true, false, T, d, T, 1.0, Pnh, T, (const char *)gy + o, C, 0.0, (char *)gv + o, C);
            if (dt == HB_F32) softmax_back_f32(T, 1, (const float *)Pnh, (float *)gP, NULL);
            else softmax_back_f64(T, 1, (const double *)Pnh, (double *)gP, NULL);
            GEMM(false, false, T, d, T, c, gP, T, (const char *)k + o, C, 0.0, (char *)gq + o, C);
            GEMM(true, false, T, d, T, c, gP, T, (const char *)q + o, C, 0.0, (char *)gk + o, C);
        }
    return HB_OK;
}

int hb__attention_rforward(hb_context *ctx, hb_dtype dt, const hb__attn_shape *s, size_t nd,
                           const void *q, const void *k, const void *v, const void *P,
                           const void *Rq, const void *Rk, const void *Rv, void *RP, void *Ry) {
    CHECK_DT();
    size_t T = s->T, C = s->C, d = C / s->H, es = hb_dtype_size(dt);
    double c = 1.0 / sqrt((double)d);
    for (size_t n = 0; n < s->N; n++)
        for (size_t h = 0; h < s->H; h++) {
            size_t o = (n * T * C + h * d) * es;             /* θ-side (T, d) slice */
            size_t oR = (n * T * nd * C + h * d) * es;       /* R-side (T·nd, d) slice */
            const char *Pnh = (const char *)P + (n * s->H + h) * T * T * es;
            char *RPnh = (char *)RP + (n * s->H + h) * T * nd * T * es;
            /* RS(t,j) = c·RQ(t,j)·Kᵀ + c·Q·RK_jᵀ */
            GEMM(false, true, T * nd, T, d, c, (const char *)Rq + oR, C, (const char *)k + o, C, 0.0,
                 RPnh, T);
            for (size_t j = 0; j < nd; j++)
                GEMM(false, true, T, T, d, c, (const char *)q + o, C,
                     (const char *)Rk + oR + j * C * es, nd * C, 1.0, RPnh + j * T * es, nd * T);
            if (dt == HB_F32) rsoftmax_f32(T, nd, (const float *)Pnh, (float *)RPnh);
            else rsoftmax_f64(T, nd, (const double *)Pnh, (double *)RPnh);
            /* RY(t,j) = RP(t,j)·V + P·RV_j */
            GEMM(false, false, T * nd, d, T, 1.0, RPnh, T, (const char *)v + o, C, 0.0,
                 (char *)Ry + oR, C);
            for (size_t j = 0; j < nd; j++)
                GEMM(false, false, T, d, T, 1.0, Pnh, T, (const char *)Rv + oR + j * C * es, nd * C,
                     1.0, (char *)Ry + oR + j * C * es, nd * C);
        }
    return HB_OK;
}

int hb__attention_rbackward(hb_context *ctx, hb_dtype dt, const hb__attn_shape *s, size_t nd,
                            const void *q, const void *k, const void *v, const void *P,
                            const void *Rq, const void *Rk, const void *Rv, const void *RP,
                            const void *gy, const void *Rgy, void *Rgq, void *Rgk, void *Rgv,
                            void *scratch) {
    CHECK_DT();
    size_t T = s->T, C = s->C, d = C / s->H, es = hb_dtype_size(dt);
    double c = 1.0 / sqrt((double)d);
    char *gP = scratch, *gS = gP + T * T * es, *RgP = gS + T * T * es;
    char *r = RgP + nd * T * T * es;
    const char *cq = q, *ck = k, *cv = v, *cRq = Rq, *cRk = Rk, *cRv = Rv, *cgy = gy, *cRgy = Rgy;
    for (size_t n = 0; n < s->N; n++)
        for (size_t h = 0; h < s->H; h++) {
            size_t o = (n * T * C + h * d) * es, oR = (n * T * nd * C + h * d) * es;
            size_t jR = C * es; /* direction step inside an R-side slice */
            const char *Pnh = (const char *)P + (n * s->H + h) * T * T * es;
            const char *RPnh = (const char *)RP + (n * s->H + h) * T * nd * T * es;
            /* θ-side: gP = gY·Vᵀ, gS = P ⊙ (gP − r) */
            GEMM(false, true, T, T, d, 1.0, cgy + o, C, cv + o, C, 0.0, gP, T);
            memcpy(gS, gP, T * T * es);
            if (dt == HB_F32) softmax_back_f32(T, 1, (const float *)Pnh, (float *)gS, (float *)r);
            else softmax_back_f64(T, 1, (const double *)Pnh, (double *)gS, (double *)r);
            /* RgP(t,j) = RgY(t,j)·Vᵀ + gY·RV_jᵀ */
            GEMM(false, true, T * nd, T, d, 1.0, cRgy + oR, C, cv + o, C, 0.0, RgP, T);
            for (size_t j = 0; j < nd; j++)
                GEMM(false, true, T, T, d, 1.0, cgy + o, C, cRv + oR + j * jR, nd * C, 1.0,
                     RgP + j * T * es, nd * T);
            /* RgV_j = RP_jᵀ·gY + Pᵀ·RgY_j */
            for (size_t j = 0; j < nd; j++) {
                char *rgv = (char *)Rgv + oR + j * jR;
                GEMM(true, false, T, d, T, 1.0, RPnh + j * T * es, nd * T, cgy + o, C, 0.0, rgv, nd * C);
                GEMM(true, false, T, d, T, 1.0, Pnh, T, cRgy + oR + j * jR, nd * C, 1.0, rgv, nd * C);
            }
            /* RgS (in place of RgP) */
            if (dt == HB_F32)
                rsoftmax_back_f32(T, nd, (const float *)Pnh, (const float *)RPnh, (const float *)gP,
                                  (const float *)r, (float *)RgP);
            else
                rsoftmax_back_f64(T, nd, (const double *)Pnh, (const double *)RPnh,
                                  (const double *)gP, (const double *)r, (double *)RgP);
            /* RgQ(t,j) = c·RgS(t,j)·K + c·gS·RK_j */
            GEMM(false, false, T * nd, d, T, c, RgP, T, ck + o, C, 0.0, (char *)Rgq + oR, C);
            for (size_t j = 0; j < nd; j++)
                GEMM(false, false, T, d, T, c, gS, T, cRk + oR + j * jR, nd * C, 1.0,
                     (char *)Rgq + oR + j * jR, nd * C);
            /* RgK_j = c·RgS_jᵀ·Q + c·gSᵀ·RQ_j */
            for (size_t j = 0; j < nd; j++) {
                char *rgk = (char *)Rgk + oR + j * jR;
                GEMM(true, false, T, d, T, c, RgP + j * T * es, nd * T, cq + o, C, 0.0, rgk, nd * C);
                GEMM(true, false, T, d, T, c, gS, T, cRq + oR + j * jR, nd * C, 1.0, rgk, nd * C);
            }
        }
    return HB_OK;
}

#else /* ---- template body ---- */

/* Row-wise causal softmax in place on a (T, T) score matrix; zeros above the diagonal. */
static void F(softmax_causal)(size_t T, real *S) {
    for (size_t t = 0; t < T; t++) {
        real *row = S + t * T, mx = row[0], sum = 0;
        for (size_t s = 1; s <= t; s++) mx = row[s] > mx ? row[s] : mx;
        for (size_t s = 0; s <= t; s++) {
            row[s] = EXP(row[s] - mx);
            sum += row[s];
        }
        real inv = 1 / sum;
        for (size_t s = 0; s <= t; s++) row[s] *= inv;
        for (size_t s = t + 1; s < T; s++) row[s] = 0;
    }
}

/* g ← P ⊙ (g − r), r_t = Σ_s g[t,s]·P[t,s], for nd interleaved rows per t sharing P's row t
 * (only nd = 1 is used); r written to rout if non-NULL. */
static void F(softmax_back)(size_t T, size_t nd, const real *P, real *g, real *rout) {
    for (size_t t = 0; t < T; t++)
        for (size_t j = 0; j < nd; j++) {
            const real *p = P + t * T;
            real *row = g + (t * nd + j) * T, r = 0;
            for (size_t s = 0; s <= t; s++) r += row[s] * p[s];
            for (size_t s = 0; s <= t; s++) row[s] = p[s] * (row[s] - r);
            for (size_t s = t + 1; s < T; s++) row[s] = 0;
            if (rout) rout[t] = r;
        }
}

/* RP = P ⊙ (RS − ρ) in place on RS rows (t, j). */
static void F(rsoftmax)(size_t T, size_t nd, const real *P, real *RS) {
    F(softmax_back)(T, nd, P, RS, NULL);
}

/* RgS = RP ⊙ (gP − r) + P ⊙ (RgP − Rr), Rr = Σ_s RgP·P + gP·RP; in place on RgP rows (t, j). */
static void F(rsoftmax_back)(size_t T, size_t nd, const real *P, const real *RP, const real *gP,
                             const real *r, real *RgP) {
    for (size_t t = 0; t < T; t++)
        for (size_t j = 0; j < nd; j++) {
            const real *p = P + t * T, *gp = gP + t * T, *rp = RP + (t * nd + j) * T;
            real *row = RgP + (t * nd + j) * T, Rr = 0;
            for (size_t s = 0; s <= t; s++) Rr += row[s] * p[s] + gp[s] * rp[s];
            for (size_t s = 0; s <= t; s++) row[s] = rp[s] * (gp[s] - r[t]) + p[s] * (row[s] - Rr);
            for (size_t s = t + 1; s < T; s++) row[s] = 0;
        }
}

#endif
