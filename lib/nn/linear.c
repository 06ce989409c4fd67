/* Linear layer: forward, backward and R-operator passes side by side.
 *
 *   y  = x·Wᵀ + b                          x (N,in)  W (out,in)  b (out)  y (N,out)
 *   dx = dy·W      dW = dyᵀ·x      db = Σ_n dy
 * R-pass (Pearlmutter: R{f} = d/dε f(θ + εv) at ε = 0), direction j of k:
 *   Ry   = Rx·Wᵀ + x·RWᵀ + Rb
 *   Rdx  = Rdy·W + dy·RW
 *   RdW  = Rdyᵀ·x + dyᵀ·Rx
 *   Rdb  = Σ_n Rdy
 * Products of an R quantity with a θ quantity on the left (Rx·Wᵀ, Rdy·W) are ONE gemm over
 * all k directions ((k·N) rows); the others are one gemm per direction (the (k, N, ·)
 * layout makes their stacked result non-strided). */
#include "nn/linear.h"

#include <string.h>

#include "kernels/kernels.h"

#define ES(dt) ((int64_t)hb_dtype_size(dt))
#define AT(p, dt, off) ((const char *)(p) + (int64_t)(off) * ES(dt))
#define ATW(p, dt, off) ((char *)(p) + (int64_t)(off) * ES(dt))

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

/* db[o] += Σ_r dy[r, o] (column sums, accumulated in double). */
static void add_colsum(hb_dtype dt, int64_t rows, int64_t out, const void *dy, void *db) {
    for (int64_t o = 0; o < out; o++) {
        double s = 0;
        if (dt == HB_F64)
            for (int64_t r = 0; r < rows; r++) s += ((const double *)dy)[r * out + o];
        else
            for (int64_t r = 0; r < rows; r++) s += ((const float *)dy)[r * out + o];
        if (dt == HB_F64) ((double *)db)[o] += s;
        else ((float *)db)[o] += (float)s;
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
    if (dx) HB_TRY(hb__gemm(ctx, dt, false, false, N, in, out, 1.0, dy, out, W, in, 1.0, dx, in));
    if (dW) HB_TRY(hb__gemm(ctx, dt, true, false, out, in, N, 1.0, dy, out, x, in, 1.0, dW, in));
    if (db) add_colsum(dt, N, out, dy, db);
    return HB_OK;
}

int hb__linear_rop_forward(hb_context *ctx, hb_dtype dt, int64_t N, int64_t in, int64_t out,
                           int64_t k, const void *x, const void *W, const void *Rx,
                           const void *RW, const void *Rb, void *Ry) {
    /* Ry = Rx·Wᵀ over all k·N rows at once (when Rx is given), then += x·RW_jᵀ, + Rb_j;
     * the first product to land in Ry overwrites it (beta = 0), none at all leaves 0. */
    if (Rx)
        HB_TRY(hb__gemm(ctx, dt, false, true, k * N, out, in, 1.0, Rx, in, W, in, 0.0, Ry, out));
    else if (!RW)
        memset(Ry, 0, (size_t)(k * N * out * ES(dt)));
    for (int64_t j = 0; j < k; j++) {
        void *Ryj = ATW(Ry, dt, j * N * out);
        if (RW)
            HB_TRY(hb__gemm(ctx, dt, false, true, N, out, in, 1.0, x, in, AT(RW, dt, j * out * in),
                            in, Rx ? 1.0 : 0.0, Ryj, out));
        if (Rb) add_bias(dt, N, out, AT(Rb, dt, j * out), Ryj);
    }
    return HB_OK;
}

int hb__linear_rop_backward(hb_context *ctx, hb_dtype dt, int64_t N, int64_t in, int64_t out,
                            int64_t k, const void *x, const void *W, const void *dy,
                            const void *Rx, const void *RW, const void *Rdy, void *Rdx,
                            void *RdW, void *Rdb) {
    if (Rdx) {
        /* Rdx += Rdy·W, all directions in one gemm of (k·N) rows */
        HB_TRY(hb__gemm(ctx, dt, false, false, k * N, in, out, 1.0, Rdy, out, W, in, 1.0, Rdx, in));
        if (RW)
            for (int64_t j = 0; j < k; j++)
                HB_TRY(hb__gemm(ctx, dt, false, false, N, in, out, 1.0, dy, out,
                                AT(RW, dt, j * out * in), in, 1.0, ATW(Rdx, dt, j * N * in), in));
    }
    for (int64_t j = 0; j < k; j++) {
        if (RdW) {
            void *RdWj = ATW(RdW, dt, j * out * in);
            HB_TRY(hb__gemm(ctx, dt, true, false, out, in, N, 1.0, AT(Rdy, dt, j * N * out), out, x,
                            in, 1.0, RdWj, in));
            if (Rx)
                HB_TRY(hb__gemm(ctx, dt, true, false, out, in, N, 1.0, dy, out,
                                AT(Rx, dt, j * N * in), in, 1.0, RdWj, in));
        }
        if (Rdb) add_colsum(dt, N, out, AT(Rdy, dt, j * N * out), ATW(Rdb, dt, j * out));
    }
    return HB_OK;
}
