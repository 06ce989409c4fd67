/* Dense layer: the R-operator passes with k directions interleaved per row (the forward
 * and backward, for reference below, are nn/linear.c).
 *   y = x·Wᵀ + b                                 x (M, Cin), W (Cout, Cin), y (M, Cout)
 * Backward:   gx = gy·W,  gW = gyᵀ·x,  gb = Σ_rows gy     (nn/linear.c: hb__linear_backward)
 * R-forward:  Ry = Rx·Wᵀ + x·RWᵀ + Rb
 * R-backward: R(gx) = Rgy·W + gy·RW,  R(gW) = Rgyᵀ·x + gyᵀ·Rx,  R(gb) = Σ_rows Rgy
 * k directions interleaved per row (see dense.h): each term is one gemm over all k,
 * after packing the k parameter directions side by side (k·Cout·Cin copies, negligible
 * next to the M·k·Cout·Cin multiply-adds). Template part compiled once per dtype. */
#ifndef HB_NN_TEMPLATE
#include <string.h>

#include "kernels/kernels.h"
#include "nn/dense.h"

#define HB_NN_TEMPLATE
#define real float
#define F(name) name##_f32
#include "dense.c"
#undef real
#undef F
#define real double
#define F(name) name##_f64
#include "dense.c"
#undef real
#undef F
#undef HB_NN_TEMPLATE

#define CALL(fn, ...) (dt == HB_F32 ? fn##_f32(__VA_ARGS__) : fn##_f64(__VA_ARGS__))
#define I64(x) ((int64_t)(x))

size_t hb__dense_scratch(size_t Cin, size_t Cout, size_t k) { return 2 * k * Cout * Cin; }

int hb__dense_rforward(hb_context *ctx, hb_dtype dt, size_t M, size_t Cin, size_t Cout,
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

int hb__dense_rbackward(hb_context *ctx, hb_dtype dt, size_t M, size_t Cin, size_t Cout,
                        size_t k, const void *x, const void *W, const void *gy, const void *Rx,
                        const void *RW, size_t ldv, const void *Rgy, void *Rgx, void *OW,
                        void *Ob, size_t ldo, void *scratch) {
    size_t es = hb_dtype_size(dt), blk = Cout * Cin;
    char *S = scratch;
    if (Rgx) {
        HB_TRY(hb__gemm(ctx, dt, false, false, I64(M * k), I64(Cin), I64(Cout), 1.0, Rgy, I64(Cout),
                        W, I64(Cin), 1.0, Rgx, I64(Cin)));
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
