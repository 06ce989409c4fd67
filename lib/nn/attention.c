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
#include <omp.h>
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

/* The (sequence, head) loop. Every item reads its own slices of q, k, v, P (…) and writes
 * only its own slices of the outputs, with its own scratch: no sum runs across items, so
 * any split of the items over threads gives the same bits. A team of one runs the items
 * in order with the context's BLIS threads (the serial code path of a 1-thread context);
 * a team of several runs item 0 alone first (it validates every operand: the others
 * differ only in offsets, so they cannot fail and no two threads write the context's
 * error at once), then the rest in a static split, each product on one BLIS thread. */
typedef struct attn_args {
    hb_dtype dt;
    const hb__attn_shape *s;
    size_t nd, d, es, ws_bytes; /* directions; head width; element size; scratch per thread */
    double c;                   /* 1/√d */
    const char *q, *k, *v, *P, *Rq, *Rk, *Rv, *RP, *gy, *Rgy;
    char *Pout, *y, *gq, *gk, *gv, *RPout, *Ry, *Rgq, *Rgk, *Rgv, *scratch;
} attn_args;

typedef int (*attn_item)(hb_context *ctx, int bt, const attn_args *a, size_t i, char *ws);

/* Flops of one item, in units of one (T × T × d) product: forward 2, backward 4,
 * R-forward 4·nd, R-backward 8·nd + 1. */
static int run_items(hb_context *ctx, const attn_args *a, attn_item f, double units) {
    const hb__attn_shape *s = a->s;
    size_t items = s->N * s->H;
    int cap = s->threads < hb__threads(ctx) ? s->threads : hb__threads(ctx);
    double work = units * 2.0 * (double)(s->T * s->T * a->d) * (double)items;
    int team = hb__team(cap, items, work, HB__ATTN_FLOPS_PER_THREAD);
    if (team <= 1) {
        for (size_t i = 0; i < items; i++) HB_TRY(f(ctx, 0, a, i, a->scratch));
        return HB_OK;
    }
    HB_TRY(f(ctx, 1, a, 0, a->scratch));
    int rc = HB_OK;
#pragma omp parallel for num_threads(team) schedule(static)
    for (size_t i = 1; i < items; i++) {
        char *ws = a->scratch ? a->scratch + (size_t)omp_get_thread_num() * a->ws_bytes : NULL;
        int r = f(ctx, 1, a, i, ws);
        if (r != HB_OK) {
#pragma omp atomic write
            rc = r;
        }
    }
    return rc;
}

/* One part per thread that can have an item: min(threads, items) (run_items' team never
 * exceeds either), so a context of many threads does not size parts no item would use. */
size_t hb__attention_scratch(const hb__attn_shape *s, size_t nd) {
    size_t parts = s->threads > 1 ? (size_t)s->threads : 1, items = s->N * s->H;
    if (parts > items) parts = items ? items : 1;
    return parts * ((2 + nd) * s->T * s->T + s->T);
}

/* Shorthands: a (rows × cols) operand with row stride rs and unit column stride, on bt
 * BLIS threads (0: the context's choice). */
#define GEMM(ta, tb, m_, n_, k_, al, A, rsa, B, rsb, be, Cp, rsc)                               \
    HB_TRY(hb__gemm_strided_on(ctx, bt, dt, ta, tb, (int64_t)(m_), (int64_t)(n_), (int64_t)(k_), \
                               al, A, (int64_t)(rsa), 1, B, (int64_t)(rsb), 1, be, Cp,          \
                               (int64_t)(rsc), 1))

#define CHECK_DT()                                                                                 \
    HB_CHECK(ctx, dt == HB_F32 || dt == HB_F64, HB_EDTYPE, "attention needs f32 or f64");        \
    HB_CHECK(ctx, s->H >= 1 && s->C % s->H == 0, HB_ESHAPE, "width %zu is not a multiple of %zu heads", \
             s->C, s->H)

/* The common part of every pass's arguments. */
static attn_args args_of(hb_dtype dt, const hb__attn_shape *s, size_t nd, void *scratch,
                         size_t ws_elems) {
    attn_args a = {.dt = dt, .s = s, .nd = nd, .d = s->C / s->H, .es = hb_dtype_size(dt)};
    a.c = 1.0 / sqrt((double)a.d);
    a.scratch = scratch;
    a.ws_bytes = ws_elems * a.es;
    return a;
}

/* The unpacking every item starts with: shapes, its sequence n and head h, the θ-side
 * (T, d) slice offset o and the R-side (T·nd, d) slice offset oR, in bytes. */
#define ITEM_VARS()                                                                        \
    hb_dtype dt = a->dt;                                                                   \
    size_t T = a->s->T, C = a->s->C, d = a->d, es = a->es, nd = a->nd;                     \
    size_t n = i / a->s->H, h = i % a->s->H;                                               \
    size_t o = (n * T * C + h * d) * es, oR = (n * T * nd * C + h * d) * es;               \
    double c = a->c;                                                                       \
    (void)o, (void)oR, (void)c, (void)ws

static int fwd_item(hb_context *ctx, int bt, const attn_args *a, size_t i, char *ws) {
    ITEM_VARS();
    char *Pnh = a->Pout + i * T * T * es;
    GEMM(false, true, T, T, d, c, a->q + o, C, a->k + o, C, 0.0, Pnh, T);
    if (dt == HB_F32) softmax_causal_f32(T, (float *)Pnh);
    else softmax_causal_f64(T, (double *)Pnh);
    GEMM(false, false, T, d, T, 1.0, Pnh, T, a->v + o, C, 0.0, a->y + o, C);
    return HB_OK;
}

int hb__attention_forward(hb_context *ctx, hb_dtype dt, const hb__attn_shape *s,
                          const void *q, const void *k, const void *v, void *P, void *y) {
    CHECK_DT();
    attn_args a = args_of(dt, s, 1, NULL, 0);
    a.q = q, a.k = k, a.v = v, a.Pout = P, a.y = y;
    return run_items(ctx, &a, fwd_item, 2);
}

static int bwd_item(hb_context *ctx, int bt, const attn_args *a, size_t i, char *ws) {
    ITEM_VARS();
    char *gP = ws;
    const char *Pnh = a->P + i * T * T * es;
    GEMM(false, true, T, T, d, 1.0, a->gy + o, C, a->v + o, C, 0.0, gP, T);
    GEMM(true, false, T, d, T, 1.0, Pnh, T, a->gy + o, C, 0.0, a->gv + o, C);
    if (dt == HB_F32) softmax_back_f32(T, 1, (const float *)Pnh, (float *)gP, NULL);
    else softmax_back_f64(T, 1, (const double *)Pnh, (double *)gP, NULL);
    GEMM(false, false, T, d, T, c, gP, T, a->k + o, C, 0.0, a->gq + o, C);
    GEMM(true, false, T, d, T, c, gP, T, a->q + o, C, 0.0, a->gk + o, C);
    return HB_OK;
}

int hb__attention_backward(hb_context *ctx, hb_dtype dt, const hb__attn_shape *s,
                           const void *q, const void *k, const void *v, const void *P,
                           const void *gy, void *gq, void *gk, void *gv, void *scratch) {
    CHECK_DT();
    /* a thread's part: its gP (T × T), at the R-backward's stride for nd = 1 */
    attn_args a = args_of(dt, s, 1, scratch, 3 * s->T * s->T + s->T);
    a.q = q, a.k = k, a.v = v, a.P = P, a.gy = gy, a.gq = gq, a.gk = gk, a.gv = gv;
    return run_items(ctx, &a, bwd_item, 4);
}

static int rfwd_item(hb_context *ctx, int bt, const attn_args *a, size_t i, char *ws) {
    ITEM_VARS();
    const char *Pnh = a->P + i * T * T * es;
    char *RPnh = a->RPout + i * T * nd * T * es;
    /* RS(t,j) = c·RQ(t,j)·Kᵀ + c·Q·RK_jᵀ */
    GEMM(false, true, T * nd, T, d, c, a->Rq + oR, C, a->k + o, C, 0.0, RPnh, T);
    for (size_t j = 0; j < nd; j++)
        GEMM(false, true, T, T, d, c, a->q + o, C, a->Rk + oR + j * C * es, nd * C, 1.0,
             RPnh + j * T * es, nd * T);
    if (dt == HB_F32) rsoftmax_f32(T, nd, (const float *)Pnh, (float *)RPnh);
    else rsoftmax_f64(T, nd, (const double *)Pnh, (double *)RPnh);
    /* RY(t,j) = RP(t,j)·V + P·RV_j */
    GEMM(false, false, T * nd, d, T, 1.0, RPnh, T, a->v + o, C, 0.0, a->Ry + oR, C);
    for (size_t j = 0; j < nd; j++)
        GEMM(false, false, T, d, T, 1.0, Pnh, T, a->Rv + oR + j * C * es, nd * C, 1.0,
             a->Ry + oR + j * C * es, nd * C);
    return HB_OK;
}

int hb__attention_rforward(hb_context *ctx, hb_dtype dt, const hb__attn_shape *s, size_t nd,
                           const void *q, const void *k, const void *v, const void *P,
                           const void *Rq, const void *Rk, const void *Rv, void *RP, void *Ry) {
    CHECK_DT();
    attn_args a = args_of(dt, s, nd, NULL, 0);
    a.q = q, a.k = k, a.v = v, a.P = P, a.Rq = Rq, a.Rk = Rk, a.Rv = Rv, a.RPout = RP, a.Ry = Ry;
    return run_items(ctx, &a, rfwd_item, 4.0 * (double)nd);
}

static int rbwd_item(hb_context *ctx, int bt, const attn_args *a, size_t i, char *ws) {
    ITEM_VARS();
    char *gP = ws, *gS = gP + T * T * es, *RgP = gS + T * T * es;
    char *r = RgP + nd * T * T * es;
    size_t jR = C * es; /* direction step inside an R-side slice */
    const char *Pnh = a->P + i * T * T * es;
    const char *RPnh = a->RP + i * T * nd * T * es;
    /* θ-side: gP = gY·Vᵀ, gS = P ⊙ (gP − r) */
    GEMM(false, true, T, T, d, 1.0, a->gy + o, C, a->v + o, C, 0.0, gP, T);
    memcpy(gS, gP, T * T * es);
    if (dt == HB_F32) softmax_back_f32(T, 1, (const float *)Pnh, (float *)gS, (float *)r);
    else softmax_back_f64(T, 1, (const double *)Pnh, (double *)gS, (double *)r);
    /* RgP(t,j) = RgY(t,j)·Vᵀ + gY·RV_jᵀ */
    GEMM(false, true, T * nd, T, d, 1.0, a->Rgy + oR, C, a->v + o, C, 0.0, RgP, T);
    for (size_t j = 0; j < nd; j++)
        GEMM(false, true, T, T, d, 1.0, a->gy + o, C, a->Rv + oR + j * jR, nd * C, 1.0,
             RgP + j * T * es, nd * T);
    /* RgV_j = RP_jᵀ·gY + Pᵀ·RgY_j */
    for (size_t j = 0; j < nd; j++) {
        char *rgv = a->Rgv + oR + j * jR;
        GEMM(true, false, T, d, T, 1.0, RPnh + j * T * es, nd * T, a->gy + o, C, 0.0, rgv, nd * C);
        GEMM(true, false, T, d, T, 1.0, Pnh, T, a->Rgy + oR + j * jR, nd * C, 1.0, rgv, nd * C);
    }
    /* RgS (in place of RgP) */
    if (dt == HB_F32)
        rsoftmax_back_f32(T, nd, (const float *)Pnh, (const float *)RPnh, (const float *)gP,
                          (const float *)r, (float *)RgP);
    else
        rsoftmax_back_f64(T, nd, (const double *)Pnh, (const double *)RPnh, (const double *)gP,
                          (const double *)r, (double *)RgP);
    /* RgQ(t,j) = c·RgS(t,j)·K + c·gS·RK_j */
    GEMM(false, false, T * nd, d, T, c, RgP, T, a->k + o, C, 0.0, a->Rgq + oR, C);
    for (size_t j = 0; j < nd; j++)
        GEMM(false, false, T, d, T, c, gS, T, a->Rk + oR + j * jR, nd * C, 1.0,
             a->Rgq + oR + j * jR, nd * C);
    /* RgK_j = c·RgS_jᵀ·Q + c·gSᵀ·RQ_j */
    for (size_t j = 0; j < nd; j++) {
        char *rgk = a->Rgk + oR + j * jR;
        GEMM(true, false, T, d, T, c, RgP + j * T * es, nd * T, a->q + o, C, 0.0, rgk, nd * C);
        GEMM(true, false, T, d, T, c, gS, T, a->Rq + oR + j * jR, nd * C, 1.0, rgk, nd * C);
    }
    return HB_OK;
}

int hb__attention_rbackward(hb_context *ctx, hb_dtype dt, const hb__attn_shape *s, size_t nd,
                            const void *q, const void *k, const void *v, const void *P,
                            const void *Rq, const void *Rk, const void *Rv, const void *RP,
                            const void *gy, const void *Rgy, void *Rgq, void *Rgk, void *Rgv,
                            void *scratch) {
    CHECK_DT();
    attn_args a = args_of(dt, s, nd, scratch, (2 + nd) * s->T * s->T + s->T);
    a.q = q, a.k = k, a.v = v, a.P = P, a.Rq = Rq, a.Rk = Rk, a.Rv = Rv, a.RP = RP;
    a.gy = gy, a.Rgy = Rgy, a.Rgq = Rgq, a.Rgk = Rgk, a.Rgv = Rgv;
    return run_items(ctx, &a, rbwd_item, 8.0 * (double)nd + 1.0);
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
