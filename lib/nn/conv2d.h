/* 2-d convolution, stride 1, square kernel K×K with zero padding P (the cnn model uses
 * K = 3, P = 1: "same" size), by im2col + gemm; backward and R-operator passes, in two
 * R layouts: leading k (below; lib/models/cnn.c) and interleaved (hb__conv2d_il_*, at the
 * end; the network engine).
 * Leading-k conventions as lib/nn/linear.h (forward written, backward accumulated, R quantities with
 * a leading k dimension, NULL R inputs are zero, NULL outputs are skipped).
 *
 * Shapes:  x (N, Cin, S, S)   W (Cout, Cin, K, K)   b (Cout) or NULL   y (N, Cout, So, So)
 *          So = S + 2P − K + 1
 *          Rx (k, N, Cin, S, S)  RW (k, Cout, Cin, K, K)  Rb (k, Cout)  Ry (k, N, Cout, So, So)
 * The functions allocate their im2col buffers through ctx (HB_ENOMEM on failure). */
#ifndef HB_NN_CONV2D_H
#define HB_NN_CONV2D_H

#include "core/internal.h"

typedef struct hb__conv2d_shape {
    int64_t N, Cin, Cout, S, K, P;
} hb__conv2d_shape;

/* Output side So (≥ 1 for valid shapes). */
static inline int64_t hb__conv2d_out_side(const hb__conv2d_shape *s) {
    return s->S + 2 * s->P - s->K + 1;
}

/* y = W ⋆ x + b */
int hb__conv2d_forward(hb_context *ctx, hb_dtype dt, const hb__conv2d_shape *s, const void *x,
                       const void *W, const void *b, void *y);
/* dx += W ⋆ᵀ dy,  dW += dy ⊗ x (correlation),  db += Σ dy over n and pixels */
int hb__conv2d_backward(hb_context *ctx, hb_dtype dt, const hb__conv2d_shape *s, const void *x,
                        const void *W, const void *dy, void *dx, void *dW, void *db);
/* Ry_j = W ⋆ Rx_j + RW_j ⋆ x + Rb_j   (written) */
int hb__conv2d_rop_forward(hb_context *ctx, hb_dtype dt, const hb__conv2d_shape *s, int64_t k,
                           const void *x, const void *W, const void *Rx, const void *RW,
                           const void *Rb, void *Ry);
/* Rdx_j += W ⋆ᵀ Rdy_j + RW_j ⋆ᵀ dy;  RdW_j += Rdy_j ⊗ x + dy ⊗ Rx_j;  Rdb_j += Σ Rdy_j */
int hb__conv2d_rop_backward(hb_context *ctx, hb_dtype dt, const hb__conv2d_shape *s, int64_t k,
                            const void *x, const void *W, const void *dy, const void *Rx,
                            const void *RW, const void *Rdy, void *Rdx, void *RdW, void *Rdb);

/* ---- Interleaved layout (the network engine, lib/net) --------------------------------
 * Per-sample geometry: x (Cin, H, W) → y (Cout, Ho, Wo), Ho = H + 2P − K + 1,
 * Wo = W + 2P − K + 1 (rectangular images; any K ≥ 1, P ≥ 0 with Ho, Wo ≥ 1).
 * Shapes for N samples and k directions (R quantities interleaved per sample):
 *   x, gx (N, Cin, H, W)     y, gy (N, Cout, Ho, Wo)     W, gW (Cout, Cin, K, K)   b (Cout)
 *   Rx, Rgx (N, k, Cin, H, W)   Ry, Rgy (N, k, Cout, Ho, Wo)
 *   parameter directions RW_j = RW + j·ldw, Rb_j = Rb + j·ldb (NULL = zero); R-gradient
 *   outputs OW_j = OW + j·ldow, Ob_j = Ob + j·ldob (NULL = not wanted).
 * Conventions as nn/dense.h: forward and rforward write, backward and rbackward accumulate;
 * NULL inputs are zero, NULL outputs skipped. Each call takes a scratch buffer of
 * hb__conv2d_scratch(g, N, k) elements of dt (k = 0 for the θ passes). */
typedef struct hb__conv2d_geom {
    int64_t Cin, H, W, Cout, K, P;
} hb__conv2d_geom;

static inline int64_t hb__conv2d_out_h(const hb__conv2d_geom *g) { return g->H + 2 * g->P - g->K + 1; }
static inline int64_t hb__conv2d_out_w(const hb__conv2d_geom *g) { return g->W + 2 * g->P - g->K + 1; }

/* HB_OK, or HB_ESHAPE naming the sizes when a size is < 1 (P < 0) or the output is empty. */
int hb__conv2d_check(hb_context *ctx, const hb__conv2d_geom *g);
/* Scratch elements for N samples and k directions (0 for the θ passes). */
size_t hb__conv2d_scratch(const hb__conv2d_geom *g, size_t N, size_t k);

/* y = W ⋆ x + b  (b NULL = 0) */
int hb__conv2d_il_forward(hb_context *ctx, hb_dtype dt, const hb__conv2d_geom *g, size_t N,
                          const void *x, const void *W, const void *b, void *y, void *scratch);
/* gx += W ⋆ᵀ gy,  gW += gy ⊗ x,  gb += Σ_{n, pixels} gy */
int hb__conv2d_il_backward(hb_context *ctx, hb_dtype dt, const hb__conv2d_geom *g, size_t N,
                           const void *x, const void *W, const void *gy, void *gx, void *gW,
                           void *gb, void *scratch);
/* Ry[n, j] = W ⋆ Rx[n, j] + RW_j ⋆ x[n] + Rb_j  (written) */
int hb__conv2d_il_rforward(hb_context *ctx, hb_dtype dt, const hb__conv2d_geom *g, size_t N,
                           size_t k, const void *x, const void *W, const void *Rx,
                           const void *RW, size_t ldw, const void *Rb, size_t ldb, void *Ry,
                           void *scratch);
/* Rgx[n, j] += W ⋆ᵀ Rgy[n, j] + RW_j ⋆ᵀ gy[n];  OW_j += Σ_n Rgy[n, j] ⊗ x[n] + gy[n] ⊗ Rx[n, j];
 * Ob_j += Σ_{n, pixels} Rgy[n, j] */
int hb__conv2d_il_rbackward(hb_context *ctx, hb_dtype dt, const hb__conv2d_geom *g, size_t N,
                            size_t k, const void *x, const void *W, const void *gy,
                            const void *Rx, const void *RW, size_t ldw, const void *Rgy,
                            void *Rgx, void *OW, size_t ldow, void *Ob, size_t ldob,
                            void *scratch);

#endif
