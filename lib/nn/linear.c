/* Linear layer: forward, backward and R-operator passes side by side.
 *
 *   y = x·Wᵀ + b                                 x (M, Cin), W (Cout, Cin), y (M, Cout)
 * Backward:   gx = gy·W,  gW = gyᵀ·x,  gb = Σ_rows gy
 * R-forward:  Ry = Rx·Wᵀ + x·RWᵀ + Rb
 * R-backward: R(gx) = Rgy·W + gy·RW,  R(gW) = Rgyᵀ·x + gyᵀ·Rx,  R(gb) = Σ_rows Rgy
 * (Pearlmutter: R{f} = d/dε f(θ + εv) at ε = 0.) The k directions are interleaved per row
 * (see linear.h): each R term is one gemm over all k, after packing the k parameter
 * directions side by side (k·Cout·Cin copies, negligible next to the M·k·Cout·Cin
 * multiply-adds). Template part compiled once per dtype. */
#ifndef HB_NN_TEMPLATE
#include <string.h>

#include "kernels/kernels.h"
#include "nn/linear.h"

#define HB_NN_TEMPLATE
#define real float
#define F(name) name##_f32
#include "linear.c"
#undef real
#undef F
#define real double
#define F(name) name##_f64
#include "linear.c"
#undef real
#undef F
#undef HB_NN_TEMPLATE

#define CALL(fn, ...) (dt == HB_F32 ? fn##_f32(__VA_ARGS__) : fn##_f64(__VA_ARGS__))
#define I64(x) ((int64_t)(x))

/* y[n,:] += b for every row n (b: (out)). */
static void add_bias(hb_dtype dt, int64_t rows, int64_t out, const void *b, void *y) {
    if (dt == HB_F64) {
        const double *bb = b;
        double *yy = y;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t o = 0; o < out; o++) yy[r * out + o] += bb[o];
    } else {
        const float *bb = b;
        float *yy = y;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t o = 0; o < out; o++) yy[r * out + o] += bb[o];
    }
}

/* db[o] += Σ_r dy[r, o] (column sums, accumulated in double). Row by row into a block of
 * double accumulators: each column's sum still adds rows 0, 1, 2, … in order (the same bits
 * as one column at a time), but reads dy contiguously and vectorises, where a column walk
 * touched one cache line per row (5 % of a gpt-ref f32 gradient, perf). */
enum { COLSUM_BLOCK = 512 };
static void add_colsum(hb_dtype dt, int64_t rows, int64_t out, const void *dy, void *db) {
    double s[COLSUM_BLOCK];
    for (int64_t o0 = 0; o0 < out; o0 += COLSUM_BLOCK) {
        int64_t nb = out - o0 < COLSUM_BLOCK ? out - o0 : COLSUM_BLOCK;
        for (int64_t o = 0; o < nb; o++) s[o] = 0;
        if (dt == HB_F64)
            for (int64_t r = 0; r < rows; r++) {
                const double *row = (const double *)dy + r * out + o0;
                for (int64_t o = 0; o < nb; o++) s[o] += row[o];
            }
        else
            for (int64_t r = 0; r < rows; r++) {
                const float *row = (const float *)dy + r * out + o0;
                for (int64_t o = 0; o < nb; o++) s[o] += (double)row[o];
            }
        if (dt == HB_F64)
            for (int64_t o = 0; o < nb; o++) ((double *)db)[o0 + o] += s[o];
        else
            for (int64_t o = 0; o < nb; o++) ((float *)db)[o0 + o] += (float)s[o];
    }
}

int hb__linear_forward(hb_context *ctx, hb_dtype dt, int64_t N, int64_t in, int64_t out,
                       const void *x, const void *W, const void *b, void *y) {
    HB_TRY(hb__gemm(ctx, dt, false, true, N, out, in, 1.0, x, in, W, in, 0.0, y, out));
    if (b) add_bias(dt, N, out, b, y);
    return HB_OK;
}

int hb__linear_backward(hb_context *ctx, hb_dtype dt, int64_t N, int64_t in, int64_t out,
                        const void *x, const void *W, const void *dy, void *dx, void *dW,
                        void *db) {
    return hb__linear_backward_to(ctx, dt, N, in, out, x, W, dy, dx, false, dW, db);
}

int hb__linear_backward_to(hb_context *ctx, hb_dtype dt, int64_t N, int64_t in, int64_t out,
                           const void *x, const void *W, const void *dy, void *dx, bool dx_write,
                           void *dW, void *db) {
    /* beta 0 on a first write: the same sums as accumulating into zeros, without them */
    if (dx)
        HB_TRY(hb__gemm(ctx, dt, false, false, N, in, out, 1.0, dy, out, W, in, dx_write ? 0.0 : 1.0,
                        dx, in));
    if (dW) HB_TRY(hb__gemm(ctx, dt, true, false, out, in, N, 1.0, dy, out, x, in, 1.0, dW, in));
    if (db) add_colsum(dt, N, out, dy, db);
    return HB_OK;
}

size_t hb__linear_rscratch(size_t Cin, size_t Cout, size_t k) { return 2 * k * Cout * Cin; }

int hb__linear_rforward(hb_context *ctx, hb_dtype dt, size_t M, size_t Cin, size_t Cout,
                       size_t k, const void *x, const void *W, const void *Rx, const void *RW,
                       const void *Rb, size_t ldv, void *Ry, void *scratch) {
    size_t es = hb_dtype_size(dt);
    if (Rx)
        HB_TRY(hb__gemm(ctx, dt, false, true, I64(M * k), I64(Cout), I64(Cin), 1.0, Rx, I64(Cin),
                        W, I64(Cin), 0.0, Ry, I64(Cout)));
    else
        memset(Ry, 0, M * k * Cout * es);
    if (RW) {
        /* x·[RW_1ᵀ … RW_kᵀ]: B stored (k·Cout, Cin), packed unless already contiguous */
        const void *B = RW;
        if (k > 1 && ldv != Cout * Cin) {
            for (size_t j = 0; j < k; j++)
                memcpy((char *)scratch + j * Cout * Cin * es, (const char *)RW + j * ldv * es,
                       Cout * Cin * es);
            B = scratch;
        }
        HB_TRY(hb__gemm(ctx, dt, false, true, I64(M), I64(k * Cout), I64(Cin), 1.0, x, I64(Cin), B,
                        I64(Cin), 1.0, Ry, I64(k * Cout)));
    }
    if (Rb) CALL(add_rows, M, k, Cout, Rb, ldv, Ry);
    return HB_OK;
}

int hb__linear_rbackward(hb_context *ctx, hb_dtype dt, size_t M, size_t Cin, size_t Cout,
                        size_t k, const void *x, const void *W, const void *gy, const void *Rx,
                        const void *RW, size_t ldv, const void *Rgy, void *Rgx, void *OW,
                        void *Ob, size_t ldo, void *scratch) {
    return hb__linear_rbackward_to(ctx, dt, M, Cin, Cout, k, x, W, gy, Rx, RW, ldv, Rgy, Rgx,
                                   false, OW, Ob, ldo, scratch);
}

int hb__linear_rbackward_to(hb_context *ctx, hb_dtype dt, size_t M, size_t Cin, size_t Cout,
                            size_t k, const void *x, const void *W, const void *gy, const void *Rx,
                            const void *RW, size_t ldv, const void *Rgy, void *Rgx, bool Rgx_write,
                            void *OW, void *Ob, size_t ldo, void *scratch) {
    size_t es = hb_dtype_size(dt), blk = Cout * Cin;
    char *S = scratch;
    if (Rgx) {
        HB_TRY(hb__gemm(ctx, dt, false, false, I64(M * k), I64(Cin), I64(Cout), 1.0, Rgy, I64(Cout),
                        W, I64(Cin), Rgx_write ? 0.0 : 1.0, Rgx, I64(Cin)));
        if (RW) {
            /* gy·[RW_1 … RW_k]: B stored (Cout, k·Cin), B[o, j·Cin + i] = RW_j[o, i] */
            for (size_t j = 0; j < k; j++)
                for (size_t o = 0; o < Cout; o++)
                    memcpy(S + (o * k + j) * Cin * es, (const char *)RW + (j * ldv + o * Cin) * es,
                           Cin * es);
            HB_TRY(hb__gemm(ctx, dt, false, false, I64(M), I64(k * Cin), I64(Cout), 1.0, gy,
                            I64(Cout), S, I64(k * Cin), 1.0, Rgx, I64(k * Cin)));
        }
    }
    if (OW) {
        /* Rgyᵀ·x: (k·Cout, M)·(M, Cin) = the k blocks stacked */
        bool direct = k == 1 || ldo == blk;
        HB_TRY(hb__gemm(ctx, dt, true, false, I64(k * Cout), I64(Cin), I64(M), 1.0, Rgy,
                        I64(k * Cout), x, I64(Cin), direct ? 1.0 : 0.0, direct ? OW : S, I64(Cin)));
        if (!direct) CALL(add_blocks, k, blk, (void *)S, OW, ldo);
        if (Rx) {
            /* gyᵀ·Rx: (Cout, M)·(M, k·Cin) = (Cout, k, Cin) */
            HB_TRY(hb__gemm(ctx, dt, true, false, I64(Cout), I64(k * Cin), I64(M), 1.0, gy, I64(Cout),
                            Rx, I64(k * Cin), 0.0, S, I64(k * Cin)));
            CALL(add_interleaved, k, Cout, Cin, (void *)S, OW, ldo);
        }
    }
    if (Ob) CALL(col_sums, M, k, Cout, Rgy, Ob, ldo);
    return HB_OK;
}

#else /* ---- template body ---- */

/* y[m, j, :] += b + j·ld for rows m, directions j */
static int F(add_rows)(size_t M, size_t k, size_t C, const real *b, size_t ld, real *y) {
    for (size_t m = 0; m < M; m++)
        for (size_t j = 0; j < k; j++) {
            real *r = y + (m * k + j) * C;
            const real *bj = b + j * ld;
            for (size_t c = 0; c < C; c++) r[c] += bj[c];
        }
    return 0;
}

/* out_j[c] += Σ_m g[m, j, c] */
static int F(col_sums)(size_t M, size_t k, size_t C, const real *g, real *out, size_t ld) {
    for (size_t m = 0; m < M; m++)
        for (size_t j = 0; j < k; j++) {
            const real *r = g + (m * k + j) * C;
            real *o = out + j * ld;
            for (size_t c = 0; c < C; c++) o[c] += r[c];
        }
    return 0;
}

/* out_j[i] += S[j·blk + i] */
static int F(add_blocks)(size_t k, size_t blk, const real *S, real *out, size_t ld) {
    for (size_t j = 0; j < k; j++)
        for (size_t i = 0; i < blk; i++) out[j * ld + i] += S[j * blk + i];
    return 0;
}

/* out_j[o, i] += S[o, j, i] */
static int F(add_interleaved)(size_t k, size_t Cout, size_t Cin, const real *S, real *out,
                              size_t ld) {
    for (size_t o = 0; o < Cout; o++)
        for (size_t j = 0; j < k; j++)
            for (size_t i = 0; i < Cin; i++) out[j * ld + o * Cin + i] += S[(o * k + j) * Cin + i];
    return 0;
}

#endif
