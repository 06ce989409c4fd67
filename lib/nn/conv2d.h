/* 2-d convolution, stride 1, square kernel K×K with zero padding P, by im2col + gemm:
 * forward, backward and R-operator passes with the k directions interleaved per sample
 * (the network engine's layout, docs/design.md "Layers: one convention"). */
#ifndef HB_NN_CONV2D_H
#define HB_NN_CONV2D_H

#include "core/internal.h"

/* Per-sample geometry: x (Cin, H, W) → y (Cout, Ho, Wo), Ho = H + 2P − K + 1,
 * Wo = W + 2P − K + 1 (rectangular images; any K ≥ 1, P ≥ 0 with Ho, Wo ≥ 1).
 * Shapes for N samples and k directions (R quantities interleaved per sample):
 *   x, gx (N, Cin, H, W)     y, gy (N, Cout, Ho, Wo)     W, gW (Cout, Cin, K, K)   b (Cout)
 *   Rx, Rgx (N, k, Cin, H, W)   Ry, Rgy (N, k, Cout, Ho, Wo)
 *   parameter directions RW_j = RW + j·ldw, Rb_j = Rb + j·ldb (NULL = zero); R-gradient
 *   outputs OW_j = OW + j·ldow, Ob_j = Ob + j·ldob (NULL = not wanted).
 * Conventions as nn/linear.h: forward and rforward write, backward and rbackward accumulate;
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
