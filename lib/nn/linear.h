/* Linear (dense) layer  y = x·Wᵀ + b  (PyTorch nn.Linear layout): forward, backward and
 * the R-operator passes for k directions INTERLEAVED per row: Rx (M, k, Cin),
 * Ry (M, k, Cout). With that layout every product of an R-pass is ONE gemm for all k
 * directions (x·[RW_1ᵀ … RW_kᵀ] is (M, k·Cout) = (M, k, Cout)).
 *
 * Shapes (row-major): x (M, Cin), W (Cout, Cin), b (Cout) or NULL, y, gy (M, Cout),
 * gx (M, Cin). Parameter directions RW_j = RW + j·ldv, Rb_j = Rb + j·ldv (NULL = zero);
 * R-gradient outputs OW_j = OW + j·ldo, Ob_j = Ob + j·ldo (NULL = skipped).
 *
 * Conventions shared by every lib/nn layer: forward outputs (y, Ry) are WRITTEN; backward
 * outputs (gx, gW, gb and their R versions) are ACCUMULATED (the caller zeroes), so
 * micro-batches, residual branches and shared parameters need no special case. dt is
 * HB_F32 or HB_F64; every function returns HB_OK or the kernels' status. */
#ifndef HB_NN_LINEAR_H
#define HB_NN_LINEAR_H

#include "core/internal.h"

/* y = x·Wᵀ + b   (N = M rows; in = Cin, out = Cout) */
int hb__linear_forward(hb_context *ctx, hb_dtype dt, int64_t N, int64_t in, int64_t out,
                       const void *x, const void *W, const void *b, void *y);

/* dx += dy·W,  dW += dyᵀ·x,  db += Σ_n dy[n,:]   (any of dx, dW, db may be NULL) */
int hb__linear_backward(hb_context *ctx, hb_dtype dt, int64_t N, int64_t in, int64_t out,
                        const void *x, const void *W, const void *dy, void *dx, void *dW,
                        void *db);
/* As hb__linear_backward, but dx_write: dx = dy·W (overwritten, for the first writer of a
 * gradient buffer: no zeroing needed before). */
int hb__linear_backward_to(hb_context *ctx, hb_dtype dt, int64_t N, int64_t in, int64_t out,
                           const void *x, const void *W, const void *dy, void *dx, bool dx_write,
                           void *dW, void *db);

/* Scratch elements needed by hb__linear_rforward / hb__linear_rbackward. */
size_t hb__linear_rscratch(size_t Cin, size_t Cout, size_t k);

/* Ry = Rx·Wᵀ + x·RWᵀ + Rb (overwrites Ry; Rx NULL = zero). */
int hb__linear_rforward(hb_context *ctx, hb_dtype dt, size_t M, size_t Cin, size_t Cout,
                        size_t k, const void *x, const void *W, const void *Rx, const void *RW,
                        const void *Rb, size_t ldv, void *Ry, void *scratch);
/* R of the backward: Rgx += Rgy·W + gy·RW;  OW_j += Rgy_jᵀ·x + gyᵀ·Rx_j;
 * Ob_j += Σ_rows Rgy_j. */
int hb__linear_rbackward(hb_context *ctx, hb_dtype dt, size_t M, size_t Cin, size_t Cout,
                         size_t k, const void *x, const void *W, const void *gy, const void *Rx,
                         const void *RW, size_t ldv, const void *Rgy, void *Rgx, void *OW,
                         void *Ob, size_t ldo, void *scratch);
/* As hb__linear_rbackward, but Rgx_write: Rgx = Rgy·W + gy·RW (overwritten). */
int hb__linear_rbackward_to(hb_context *ctx, hb_dtype dt, size_t M, size_t Cin, size_t Cout,
                            size_t k, const void *x, const void *W, const void *gy, const void *Rx,
                            const void *RW, size_t ldv, const void *Rgy, void *Rgx, bool Rgx_write,
                            void *OW, void *Ob, size_t ldo, void *scratch);

#endif
