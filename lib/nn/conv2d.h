/* 2-d convolution, stride 1, square kernel K×K with zero padding P (the cnn model uses
 * K = 3, P = 1: "same" size), by im2col + gemm; backward and R-operator passes.
 * Conventions as lib/nn/linear.h (forward written, backward accumulated, R quantities with
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

#endif
