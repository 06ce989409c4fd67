/* Convolution by im2col + gemm, forward / backward / R-pass side by side.
 *
 * Per sample n, with col(x_n) the (Cin·K·K, So·So) matrix of input patches
 * (col[(c·K + ky)·K + kx, oy·So + ox] = x_n[c, oy + ky − P, ox + kx − P], 0 outside) and
 * W viewed as (Cout, Cin·K·K):
 *   y_n   = W·col(x_n) + b·1ᵀ
 *   dx_n  = col2im(Wᵀ·dy_n)        dW = Σ_n dy_n·col(x_n)ᵀ        db = Σ_n dy_n·1
 * R-pass (bilinear in (x, W) plus b):
 *   Ry_n  = W·col(Rx_n) + RW·col(x_n) + Rb·1ᵀ
 *   Rdx_n = col2im(Wᵀ·Rdy_n + RWᵀ·dy_n)
 *   RdW   = Σ_n Rdy_n·col(x_n)ᵀ + dy_n·col(Rx_n)ᵀ          Rdb = Σ_n Rdy_n·1
 * col2im is the adjoint of im2col (adds every patch entry back to its pixel).
 *
 * Layout (the network engine's): R quantities (N, k, …) interleaved per sample, parameter
 * directions at a stride. A chunk of B samples is processed at once, its patches side by
 * side (col of width B·Ho·Wo), so every gemm is wide even for small images:
 *   forward     y_B   = W·col(x_B) + b                            one gemm per chunk
 *   backward    gW   += gy_B·col(x_B)ᵀ,  gx_B += col2im(Wᵀ·gy_B)   (gy_B gathered (Cout, B·P))
 *   rforward    Ry    = W·col(Rx_{B,all j})  +  [RW_1; …; RW_k]·col(x_B)  + Rb_j
 *   rbackward   Rgx  += col2im(Wᵀ·Rgy_{B,all j} + [RW_1ᵀ; …; RW_kᵀ]·gy_B)
 *               RW-gradients: [Rgy_1; …; Rgy_k]·col(x_B)ᵀ + gy_B·[col(Rx_1) … col(Rx_k)]ᵀ
 *               Rb-gradients: row sums of Rgy
 * i.e. each term is ONE gemm over all k directions: the directions of R-images are columns
 * (W·…, Wᵀ·…), those of parameters are rows ([RW_j] stacked: k·Cout·Cin·K² copies per call).
 * Work goes in blocks whose buffers hold ≈ 2^16 elements (hb__conv2d_scratch): B samples
 * with all k directions while they fit, else one sample and a group of directions. Larger
 * blocks leave the cache in im2col and were up to 1.7× slower (docs/performance.md). */
#ifndef HB_NN_TEMPLATE
#include <string.h>

#include "kernels/kernels.h"
#include "nn/conv2d.h"

static inline int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

#define HB_NN_TEMPLATE
#define real float
#define F(name) name##_f32
#include "conv2d.c"
#undef real
#undef F
#define real double
#define F(name) name##_f64
#include "conv2d.c"
#undef real
#undef F
#undef HB_NN_TEMPLATE

#define CALL(fn, ...) (dt == HB_F32 ? fn##_f32(__VA_ARGS__) : fn##_f64(__VA_ARGS__))
#define ES(dt) ((int64_t)hb_dtype_size(dt))
#define AT(p, dt, off) ((const void *)((const char *)(p) + (int64_t)(off) * ES(dt)))
#define ATW(p, dt, off) ((void *)((char *)(p) + (int64_t)(off) * ES(dt)))

/* ---- Interleaved layout (lib/net) ------------------------------------------------------ */

#define CHUNK_ELEMS ((size_t)1 << 16) /* target size of a block's buffers, elements */

typedef struct lay {
    int64_t Pp, ckk, in_sz, out_sz; /* Ho·Wo, Cin·K², per-sample sizes of x and y */
} lay;

static lay lay_of(const hb__conv2d_geom *g) {
    lay l;
    l.Pp = hb__conv2d_out_h(g) * hb__conv2d_out_w(g);
    l.ckk = g->Cin * g->K * g->K;
    l.in_sz = g->Cin * g->H * g->W;
    l.out_sz = g->Cout * l.Pp;
    return l;
}

/* A block of the work: B samples × J directions (J = k: all at once). Its buffer elements,
 * at most: rbackward holds col(x) and gy of the B samples, and per direction col(Rx), two
 * gathers of Rgy and two col2im sources (one reusing col(Rx)):
 * ((2J + 1)·(ckk + Cout) + ckk)·Pp per sample (the ckk·Pp for the θ backward, J = 0). */
static size_t per_sample(const lay *l, int64_t Cout, size_t J) {
    return ((2 * J + 1) * (size_t)(l->ckk + Cout) + (size_t)l->ckk) * (size_t)l->Pp;
}

typedef struct plan {
    size_t B, J; /* samples per block, directions per block */
} plan;

/* Samples side by side while all k directions fit the budget, else one sample and as many
 * directions as fit (at least one): the buffers stay cache-sized, the gemms wide. */
static plan plan_of(const lay *l, int64_t Cout, size_t N, size_t k) {
    plan p = {1, k};
    size_t all = per_sample(l, Cout, k);
    if (all <= CHUNK_ELEMS) {
        p.B = CHUNK_ELEMS / all;
        if (p.B > N) p.B = N;
        if (p.B < 1) p.B = 1;
    } else {
        size_t base = per_sample(l, Cout, 0), dir = per_sample(l, Cout, 1) - base;
        p.J = CHUNK_ELEMS > base ? (CHUNK_ELEMS - base) / dir : 1;
        if (p.J < 1) p.J = 1;
        if (p.J > k) p.J = k;
    }
    return p;
}

size_t hb__conv2d_scratch(const hb__conv2d_geom *g, size_t N, size_t k) {
    lay l = lay_of(g);
    plan p = plan_of(&l, g->Cout, N, k);
    /* + three packed (k, Cout, ckk) parameter-direction arrays (rforward / rbackward) */
    return p.B * per_sample(&l, g->Cout, p.J) + 3 * k * (size_t)(g->Cout * l.ckk);
}

int hb__conv2d_check(hb_context *ctx, const hb__conv2d_geom *g) {
    HB_CHECK(ctx,
             g->Cin >= 1 && g->H >= 1 && g->W >= 1 && g->Cout >= 1 && g->K >= 1 && g->P >= 0 &&
                 hb__conv2d_out_h(g) >= 1 && hb__conv2d_out_w(g) >= 1,
             HB_ESHAPE,
             "conv2d: input (C=%lld, H=%lld, W=%lld) with %lld output channels, kernel %lld and "
             "padding %lld has no valid output",
             (long long)g->Cin, (long long)g->H, (long long)g->W, (long long)g->Cout,
             (long long)g->K, (long long)g->P);
    return HB_OK;
}

static int check_il(hb_context *ctx, hb_dtype dt, const hb__conv2d_geom *g) {
    HB_CHECK(ctx, dt == HB_F32 || dt == HB_F64, HB_EDTYPE, "conv2d needs f32 or f64");
    return hb__conv2d_check(ctx, g);
}

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

/* col(x) of samples x[0..B) side by side into col (ckk, B·Pp) */
static void im2col_samples(hb_dtype dt, const hb__conv2d_geom *g, const lay *l, size_t B,
                           const void *x, void *col) {
    for (size_t i = 0; i < B; i++)
        CALL(im2col, g, AT(x, dt, (int64_t)i * l->in_sz), ATW(col, dt, (int64_t)i * l->Pp),
             (int64_t)B * l->Pp);
}

int hb__conv2d_il_forward(hb_context *ctx, hb_dtype dt, const hb__conv2d_geom *g, size_t N,
                          const void *x, const void *W, const void *b, void *y, void *scratch) {
    HB_TRY(check_il(ctx, dt, g));
    lay l = lay_of(g);
    int64_t Co = g->Cout;
    size_t Bmax = plan_of(&l, Co, N, 0).B;
    void *col = scratch, *tmp = ATW(col, dt, (int64_t)Bmax * l.ckk * l.Pp);
    for (size_t n0 = 0; n0 < N; n0 += Bmax) {
        size_t B = min_sz(Bmax, N - n0);
        int64_t w = (int64_t)B * l.Pp;
        im2col_samples(dt, g, &l, B, AT(x, dt, (int64_t)n0 * l.in_sz), col);
        HB_TRY(hb__gemm(ctx, dt, false, false, Co, w, l.ckk, 1.0, W, l.ckk, col, w, 0.0, tmp, w));
        CALL(scatter_r, (int64_t)B, 1, 1, Co, l.Pp, tmp, NULL, b, 0, ATW(y, dt, (int64_t)n0 * l.out_sz));
    }
    return HB_OK;
}

int hb__conv2d_il_backward(hb_context *ctx, hb_dtype dt, const hb__conv2d_geom *g, size_t N,
                           const void *x, const void *W, const void *gy, void *gx, void *gW,
                           void *gb, void *scratch) {
    HB_TRY(check_il(ctx, dt, g));
    lay l = lay_of(g);
    int64_t Co = g->Cout;
    size_t Bmax = plan_of(&l, Co, N, 0).B;
    int64_t cw = (int64_t)Bmax * l.Pp;
    void *gyB = scratch, *colX = ATW(gyB, dt, Co * cw), *dcol = ATW(colX, dt, l.ckk * cw);
    for (size_t n0 = 0; n0 < N; n0 += Bmax) {
        size_t B = min_sz(Bmax, N - n0);
        int64_t w = (int64_t)B * l.Pp;
        CALL(gather_c, (int64_t)B, Co, l.Pp, AT(gy, dt, (int64_t)n0 * l.out_sz), gyB);
        if (gW) {
            im2col_samples(dt, g, &l, B, AT(x, dt, (int64_t)n0 * l.in_sz), colX);
            HB_TRY(hb__gemm(ctx, dt, false, true, Co, l.ckk, w, 1.0, gyB, w, colX, w, 1.0, gW, l.ckk));
        }
        if (gx) {
            HB_TRY(hb__gemm(ctx, dt, true, false, l.ckk, w, Co, 1.0, W, l.ckk, gyB, w, 0.0, dcol, w));
            for (size_t i = 0; i < B; i++)
                CALL(col2im, g, AT(dcol, dt, (int64_t)i * l.Pp), w, NULL, 0,
                     ATW(gx, dt, (int64_t)(n0 + i) * l.in_sz));
        }
        if (gb) CALL(row_sums, 1, Co, w, gyB, gb, 0);
    }
    return HB_OK;
}

/* (k, rows, cols) packed from blocks at p + j·ldp, transposed per block when `transpose`
 * (then (k, cols, rows)); the blocks themselves when they are already contiguous. */
static const void *pack_dirs(hb_dtype dt, size_t k, int64_t rows, int64_t cols, const void *p,
                             size_t ldp, bool transpose, void *buf) {
    if (!transpose && (k == 1 || ldp == (size_t)(rows * cols))) return p;
    CALL(pack, (int64_t)k, rows, cols, p, ldp, transpose, buf);
    return buf;
}

int hb__conv2d_il_rforward(hb_context *ctx, hb_dtype dt, const hb__conv2d_geom *g, size_t N,
                           size_t k, const void *x, const void *W, const void *Rx,
                           const void *RW, size_t ldw, const void *Rb, size_t ldb, void *Ry,
                           void *scratch) {
    HB_TRY(check_il(ctx, dt, g));
    lay l = lay_of(g);
    int64_t Co = g->Cout;
    plan pl = plan_of(&l, Co, N, k);
    int64_t cw = (int64_t)pl.B * l.Pp, cJ = (int64_t)pl.J;
    /* RWs (k·Co, ckk) | col(x) (ckk, B·Pp) | col(Rx) (ckk, B·J·Pp) | t1 (Co, B·J·Pp) |
     * t2 (J·Co, B·Pp) */
    void *RWs = scratch, *colX = ATW(RWs, dt, (int64_t)k * Co * l.ckk),
         *colR = ATW(colX, dt, l.ckk * cw), *t1 = ATW(colR, dt, cJ * l.ckk * cw),
         *t2 = ATW(t1, dt, cJ * Co * cw);
    const void *RWp = RW ? pack_dirs(dt, k, Co, l.ckk, RW, ldw, false, RWs) : NULL;
    for (size_t n0 = 0; n0 < N; n0 += pl.B) {
        size_t B = min_sz(pl.B, N - n0);
        int64_t w = (int64_t)B * l.Pp;
        if (RWp) im2col_samples(dt, g, &l, B, AT(x, dt, (int64_t)n0 * l.in_sz), colX);
        for (size_t j0 = 0; j0 < k; j0 += pl.J) {
            size_t J = min_sz(pl.J, k - j0);
            int64_t Jw = (int64_t)J * w;
            if (Rx) { /* t1 = W·[col(Rx[n, j])]: the B·J R-images side by side, (n, j) order */
                for (size_t i = 0; i < B; i++)
                    for (size_t jj = 0; jj < J; jj++)
                        CALL(im2col, g, AT(Rx, dt, (int64_t)((n0 + i) * k + j0 + jj) * l.in_sz),
                             ATW(colR, dt, (int64_t)(i * J + jj) * l.Pp), Jw);
                HB_TRY(hb__gemm(ctx, dt, false, false, Co, Jw, l.ckk, 1.0, W, l.ckk, colR, Jw, 0.0,
                                t1, Jw));
            }
            if (RWp) /* t2 = [RW_j0; …; RW_j0+J−1]·col(x_B) */
                HB_TRY(hb__gemm(ctx, dt, false, false, (int64_t)J * Co, w, l.ckk, 1.0,
                                AT(RWp, dt, (int64_t)j0 * Co * l.ckk), l.ckk, colX, w, 0.0, t2, w));
            CALL(scatter_r, (int64_t)B, (int64_t)J, (int64_t)k, Co, l.Pp, Rx ? t1 : NULL,
                 RWp ? t2 : NULL, Rb ? AT(Rb, dt, (int64_t)(j0 * ldb)) : NULL, ldb,
                 ATW(Ry, dt, ((int64_t)(n0 * k + j0)) * l.out_sz));
        }
    }
    return HB_OK;
}

int hb__conv2d_il_rbackward(hb_context *ctx, hb_dtype dt, const hb__conv2d_geom *g, size_t N,
                            size_t k, const void *x, const void *W, const void *gy,
                            const void *Rx, const void *RW, size_t ldw, const void *Rgy,
                            void *Rgx, void *OW, size_t ldow, void *Ob, size_t ldob,
                            void *scratch) {
    HB_TRY(check_il(ctx, dt, g));
    lay l = lay_of(g);
    int64_t Co = g->Cout, K = (int64_t)k, blk = Co * l.ckk;
    plan pl = plan_of(&l, Co, N, k);
    int64_t cw = (int64_t)pl.B * l.Pp, cJ = (int64_t)pl.J;
    /* RWt (k·ckk, Co) | OWp (k·Co, ckk) | OWq (Co, k·ckk) | col(x) (ckk, B·Pp) | gy_B (Co, B·Pp) |
     * col(Rx) = dcolB (J·ckk, B·Pp) | G1 (J·Co, B·Pp) | G2 (Co, B·J·Pp) | dcolA (ckk, B·J·Pp) */
    void *RWt = scratch, *OWp = ATW(RWt, dt, K * blk), *OWq = ATW(OWp, dt, K * blk),
         *colX = ATW(OWq, dt, K * blk), *gyB = ATW(colX, dt, l.ckk * cw),
         *colR = ATW(gyB, dt, Co * cw), *G1 = ATW(colR, dt, cJ * l.ckk * cw),
         *G2 = ATW(G1, dt, cJ * Co * cw), *dcolA = ATW(G2, dt, cJ * Co * cw);
    bool wantW = OW != NULL, dirW = RW != NULL && Rgx != NULL;
    bool useRgy = Rgy != NULL && (OW || Ob || Rgx), useRx = Rx != NULL && wantW;
    const void *RWtp = dirW ? pack_dirs(dt, k, Co, l.ckk, RW, ldw, true, RWt) : NULL;
    for (size_t n0 = 0; n0 < N; n0 += pl.B) {
        size_t B = min_sz(pl.B, N - n0);
        int64_t w = (int64_t)B * l.Pp;
        double beta = n0 == 0 ? 0.0 : 1.0; /* OWp / OWq: written by the first samples */
        if (useRx || dirW) CALL(gather_c, (int64_t)B, Co, l.Pp, AT(gy, dt, (int64_t)n0 * l.out_sz), gyB);
        if (wantW && useRgy) im2col_samples(dt, g, &l, B, AT(x, dt, (int64_t)n0 * l.in_sz), colX);
        for (size_t j0 = 0; j0 < k; j0 += pl.J) {
            size_t J = min_sz(pl.J, k - j0);
            int64_t Jw = (int64_t)J * w;
            const void *Rgy0 = useRgy ? AT(Rgy, dt, (int64_t)(n0 * k) * l.out_sz) : NULL;
            if (useRgy && (wantW || Ob))
                CALL(gather_jc, (int64_t)B, (int64_t)J, K, Co, l.Pp,
                     AT(Rgy0, dt, (int64_t)j0 * l.out_sz), G1);
            if (wantW && useRgy) /* OWp_J += [Rgy_j]·col(x_B)ᵀ */
                HB_TRY(hb__gemm(ctx, dt, false, true, (int64_t)J * Co, l.ckk, w, 1.0, G1, w, colX, w,
                                beta, ATW(OWp, dt, (int64_t)j0 * blk), l.ckk));
            if (useRx) { /* OWq_J += gy_B·[col(Rx_j)]ᵀ, col(Rx) stored (J·ckk, B·Pp) */
                for (size_t jj = 0; jj < J; jj++)
                    for (size_t i = 0; i < B; i++)
                        CALL(im2col, g, AT(Rx, dt, (int64_t)((n0 + i) * k + j0 + jj) * l.in_sz),
                             ATW(colR, dt, (int64_t)jj * l.ckk * w + (int64_t)i * l.Pp), w);
                HB_TRY(hb__gemm(ctx, dt, false, true, Co, (int64_t)J * l.ckk, w, 1.0, gyB, w, colR, w,
                                beta, ATW(OWq, dt, (int64_t)j0 * l.ckk), K * l.ckk));
            }
            if (Ob && useRgy)
                CALL(row_sums, (int64_t)J, Co, w, G1, ATW(Ob, dt, (int64_t)(j0 * ldob)), ldob);
            if (!Rgx || !(useRgy || dirW)) continue;
            if (useRgy) { /* dcolA = Wᵀ·[Rgy[n, j]], (ckk, B·J·Pp) in (n, j) order */
                for (size_t i = 0; i < B; i++)
                    CALL(gather_c_to, (int64_t)J, Co, l.Pp,
                         AT(Rgy0, dt, (int64_t)(i * k + j0) * l.out_sz), G2, Jw,
                         (int64_t)(i * J) * l.Pp);
                HB_TRY(hb__gemm(ctx, dt, true, false, l.ckk, Jw, Co, 1.0, W, l.ckk, G2, Jw, 0.0,
                                dcolA, Jw));
            }
            if (dirW) /* dcolB = [RW_jᵀ]·gy_B, (J·ckk, B·Pp), in col(Rx)'s place */
                HB_TRY(hb__gemm(ctx, dt, false, false, (int64_t)J * l.ckk, w, Co, 1.0,
                                AT(RWtp, dt, (int64_t)j0 * blk), Co, gyB, w, 0.0, colR, w));
            for (size_t i = 0; i < B; i++)
                for (size_t jj = 0; jj < J; jj++)
                    CALL(col2im, g, useRgy ? AT(dcolA, dt, (int64_t)(i * J + jj) * l.Pp) : NULL, Jw,
                         dirW ? AT(colR, dt, (int64_t)jj * l.ckk * w + (int64_t)i * l.Pp) : NULL, w,
                         ATW(Rgx, dt, (int64_t)((n0 + i) * k + j0 + jj) * l.in_sz));
        }
    }
    if (wantW && (useRgy || useRx) && N > 0)
        CALL(unpack_add, K, Co, l.ckk, useRgy ? OWp : NULL, useRx ? OWq : NULL, OW, ldow);
    return HB_OK;
}

#else /* ---- template body ---- */

/* col (Cin·K², Ho·Wo), row stride ldc: col[(c·K + ky)·K + kx][oy·Wo + ox] =
 * x[c, oy + ky − P, ox + kx − P], 0 outside the image. For each (c, ky, kx, oy) the valid
 * columns [ox0, ox1) (input column inside the image) are a contiguous copy. */
static void F(im2col)(const hb__conv2d_geom *g, const real *restrict x, real *restrict col,
                      int64_t ldc) {
    int64_t H = g->H, Wd = g->W, K = g->K, P = g->P;
    int64_t Ho = hb__conv2d_out_h(g), Wo = hb__conv2d_out_w(g);
    for (int64_t c = 0; c < g->Cin; c++)
        for (int64_t ky = 0; ky < K; ky++)
            for (int64_t kx = 0; kx < K; kx++) {
                real *row = col + ((c * K + ky) * K + kx) * ldc;
                int64_t ox0 = clamp64(P - kx, 0, Wo), ox1 = clamp64(Wd + P - kx, ox0, Wo);
                for (int64_t oy = 0; oy < Ho; oy++) {
                    int64_t iy = oy + ky - P;
                    real *o = row + oy * Wo;
                    if (iy < 0 || iy >= H) {
                        for (int64_t ox = 0; ox < Wo; ox++) o[ox] = 0;
                        continue;
                    }
                    const real *xr = x + (c * H + iy) * Wd; /* o[ox] = xr[ox + kx − P] */
                    for (int64_t ox = 0; ox < ox0; ox++) o[ox] = 0;
                    for (int64_t ox = ox0; ox < ox1; ox++) o[ox] = xr[ox + kx - P];
                    for (int64_t ox = ox1; ox < Wo; ox++) o[ox] = 0;
                }
            }
}

/* dx += col2im(a) + col2im(b): the adjoint of im2col, of one or two col matrices (row
 * strides lda, ldb; NULL = absent). */
static void F(col2im)(const hb__conv2d_geom *g, const real *restrict a, int64_t lda,
                      const real *restrict b, int64_t ldb, real *restrict dx) {
    int64_t H = g->H, Wd = g->W, K = g->K, P = g->P;
    int64_t Ho = hb__conv2d_out_h(g), Wo = hb__conv2d_out_w(g);
    for (int64_t c = 0; c < g->Cin; c++)
        for (int64_t ky = 0; ky < K; ky++)
            for (int64_t kx = 0; kx < K; kx++) {
                int64_t q = (c * K + ky) * K + kx;
                int64_t ox0 = clamp64(P - kx, 0, Wo), ox1 = clamp64(Wd + P - kx, ox0, Wo);
                for (int64_t oy = 0; oy < Ho; oy++) {
                    int64_t iy = oy + ky - P;
                    if (iy < 0 || iy >= H) continue;
                    real *xr = dx + (c * H + iy) * Wd + kx - P; /* xr[ox], ox ≥ ox0, is inside */
                    if (a) {
                        const real *o = a + q * lda + oy * Wo;
                        for (int64_t ox = ox0; ox < ox1; ox++) xr[ox] += o[ox];
                    }
                    if (b) {
                        const real *o = b + q * ldb + oy * Wo;
                        for (int64_t ox = ox0; ox < ox1; ox++) xr[ox] += o[ox];
                    }
                }
            }
}

/* n images (n, Co, Pp) → columns [off, off + n·Pp) of a channel-major (Co, ld) matrix */
static void F(gather_c_to)(int64_t n, int64_t Co, int64_t Pp, const real *src, real *dst,
                           int64_t ld, int64_t off) {
    for (int64_t i = 0; i < n; i++)
        for (int64_t c = 0; c < Co; c++)
            memcpy(dst + c * ld + off + i * Pp, src + (i * Co + c) * Pp, (size_t)Pp * sizeof(real));
}

/* Images (B, Co, Pp) → channel-major (Co, B·Pp). */
static void F(gather_c)(int64_t B, int64_t Co, int64_t Pp, const real *src, real *dst) {
    F(gather_c_to)(B, Co, Pp, src, dst, B * Pp, 0);
}

/* R-images (B, ·, Co, Pp), directions [0, J) of k per sample → (J·Co, B·Pp) */
static void F(gather_jc)(int64_t B, int64_t J, int64_t k, int64_t Co, int64_t Pp, const real *src,
                         real *dst) {
    for (int64_t i = 0; i < B; i++)
        for (int64_t j = 0; j < J; j++)
            for (int64_t c = 0; c < Co; c++)
                memcpy(dst + (j * Co + c) * B * Pp + i * Pp, src + ((i * k + j) * Co + c) * Pp,
                       (size_t)Pp * sizeof(real));
}

/* dst images (B, ·, Co, Pp), directions [0, J) of k per sample, = t1 + t2 + b_j, each term
 * optional (NULL): t1 (Co, B·J·Pp), image (i, j) at column (i·J + j)·Pp;
 * t2 (J·Co, B·Pp), row j·Co + c;  b_j = b + j·ldb (Co).
 * With J = k = 1 and t2 = NULL this is the forward's scatter. */
static void F(scatter_r)(int64_t B, int64_t J, int64_t k, int64_t Co, int64_t Pp, const real *t1,
                         const real *t2, const real *b, size_t ldb, real *dst) {
    for (int64_t i = 0; i < B; i++)
        for (int64_t j = 0; j < J; j++)
            for (int64_t c = 0; c < Co; c++) {
                real *o = dst + ((i * k + j) * Co + c) * Pp;
                real bc = b ? b[(size_t)j * ldb + (size_t)c] : (real)0;
                const real *a1 = t1 ? t1 + c * B * J * Pp + (i * J + j) * Pp : NULL;
                const real *a2 = t2 ? t2 + (j * Co + c) * B * Pp + i * Pp : NULL;
                if (a1 && a2)
                    for (int64_t p = 0; p < Pp; p++) o[p] = a1[p] + a2[p] + bc;
                else if (a1 || a2) {
                    const real *a = a1 ? a1 : a2;
                    for (int64_t p = 0; p < Pp; p++) o[p] = a[p] + bc;
                } else
                    for (int64_t p = 0; p < Pp; p++) o[p] = bc;
            }
}

/* out_j[c] += Σ_e G[(j·Co + c)·w + e]  (rows of w elements, summed in double) */
static void F(row_sums)(int64_t k, int64_t Co, int64_t w, const real *G, real *out, size_t ld) {
    for (int64_t j = 0; j < k; j++)
        for (int64_t c = 0; c < Co; c++) {
            const real *r = G + (j * Co + c) * w;
            double s = 0;
            for (int64_t e = 0; e < w; e++) s += r[e];
            out[(size_t)j * ld + (size_t)c] += (real)s;
        }
}

/* buf (k, rows, cols) = blocks p + j·ldp, or (k, cols, rows) transposed per block */
static void F(pack)(int64_t k, int64_t rows, int64_t cols, const real *p, size_t ldp,
                    bool transpose, real *buf) {
    for (int64_t j = 0; j < k; j++) {
        const real *s = p + (size_t)j * ldp;
        real *d = buf + j * rows * cols;
        if (!transpose) memcpy(d, s, (size_t)(rows * cols) * sizeof(real));
        else
            for (int64_t r = 0; r < rows; r++)
                for (int64_t q = 0; q < cols; q++) d[q * rows + r] = s[r * cols + q];
    }
}

/* OW_j[c·ckk + q] += OWp[(j·Co + c)·ckk + q] + OWq[c·k·ckk + j·ckk + q] (NULL = absent) */
static void F(unpack_add)(int64_t k, int64_t Co, int64_t ckk, const real *OWp, const real *OWq,
                          real *OW, size_t ld) {
    for (int64_t j = 0; j < k; j++)
        for (int64_t c = 0; c < Co; c++) {
            real *o = OW + (size_t)j * ld + (size_t)(c * ckk);
            if (OWp) {
                const real *a = OWp + (j * Co + c) * ckk;
                for (int64_t q = 0; q < ckk; q++) o[q] += a[q];
            }
            if (OWq) {
                const real *a = OWq + (c * k + j) * ckk;
                for (int64_t q = 0; q < ckk; q++) o[q] += a[q];
            }
        }
}

#endif
