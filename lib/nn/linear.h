/* Linear layer  y = x·Wᵀ + b  (PyTorch nn.Linear layout), with its backward and its
 * R-operator passes for k directions at once.
 *
 * Shapes (row-major, contiguous):  x (N, in)   W (out, in)   b (out) or NULL   y (N, out)
 * R quantities carry a leading direction dimension k:
 *   Rx (k, N, in)   RW (k, out, in)   Rb (k, out)   Ry (k, N, out)
 * Any R input may be NULL, meaning zero (e.g. Rx = 0 for the first layer, RW = 0 for a
 * frozen block).
 *
 * Conventions shared by every lib/nn layer: forward outputs (y, Ry) are WRITTEN; backward
 * outputs (dx, dW, db and their R versions) are ACCUMULATED (the caller zeroes), so
 * micro-batches, residual branches and shared parameters need no special case. Every
 * function takes (ctx, dt) with dt = HB_F32 or HB_F64 and returns HB_OK or the kernels'
 * status. */
#ifndef HB_NN_LINEAR_H
#define HB_NN_LINEAR_H

#include "core/internal.h"

/* y = x·Wᵀ + b */
int hb__linear_forward(hb_context *ctx, hb_dtype dt, int64_t N, int64_t in, int64_t out,
                       const void *x, const void *W, const void *b, void *y);

/* dx += dy·W,  dW += dyᵀ·x,  db += Σ_n dy[n,:]   (any of dx, dW, db may be NULL) */
int hb__linear_backward(hb_context *ctx, hb_dtype dt, int64_t N, int64_t in, int64_t out,
                        const void *x, const void *W, const void *dy, void *dx, void *dW,
                        void *db);

/* R-forward:  Ry_j = Rx_j·Wᵀ + x·RW_jᵀ + Rb_j      (written) */
int hb__linear_rop_forward(hb_context *ctx, hb_dtype dt, int64_t N, int64_t in, int64_t out,
                           int64_t k, const void *x, const void *W, const void *Rx,
                           const void *RW, const void *Rb, void *Ry);

/* R-backward (the directional derivative of the backward):
 *   R(dx)_j += R(dy)_j·W + dy·RW_j
 *   R(dW)_j += R(dy)_jᵀ·x + dyᵀ·Rx_j
 *   R(db)_j += Σ_n R(dy)_j[n,:]
 * Rdy (k, N, out); outputs Rdx (k, N, in), RdW (k, out, in), Rdb (k, out), each may be
 * NULL (not wanted); RW, Rx may be NULL (zero). */
int hb__linear_rop_backward(hb_context *ctx, hb_dtype dt, int64_t N, int64_t in, int64_t out,
                            int64_t k, const void *x, const void *W, const void *dy,
                            const void *Rx, const void *RW, const void *Rdy, void *Rdx,
                            void *RdW, void *Rdb);

#endif
