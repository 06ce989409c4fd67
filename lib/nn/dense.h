/* Dense (fully connected) layer y = x·Wᵀ + b with its backward and R-operator passes,
 * the R-passes batched over k directions INTERLEAVED per row: Rx (M, k, Cin),
 * Ry (M, k, Cout). With that layout every product of an R-pass is ONE gemm for all k
 * directions (x·[RW_1ᵀ … RW_kᵀ] is (M, k·Cout) = (M, k, Cout)); with a leading k
 * dimension the x·RWᵀ and gy·RW terms would need k separate products.
 * Shapes: x (M, Cin), W (Cout, Cin), b (Cout), y, gy (M, Cout), gx (M, Cin).
 * Parameter directions RW_j = RW + j·ldv, Rb_j = Rb + j·ldv (NULL = zero); R-gradient
 * outputs OW_j = OW + j·ldo, Ob_j = Ob + j·ldo (NULL = skipped). dt is HB_F32 or HB_F64.
 * The θ-side forward and backward are the shared hb__linear_forward / hb__linear_backward
 * (nn/linear.h); this file adds the interleaved R-passes (nn/linear.h has the leading-k
 * ones, whose parameter directions must also be contiguous (k, out, in)). */
#ifndef HB_NN_DENSE_H
#define HB_NN_DENSE_H

#include "core/internal.h"

/* Scratch elements needed by hb__dense_rforward / hb__dense_rbackward. */
size_t hb__dense_scratch(size_t Cin, size_t Cout, size_t k);

/* Ry = Rx·Wᵀ + x·RWᵀ + Rb (overwrites Ry; Rx NULL = zero). */
int hb__dense_rforward(hb_context *ctx, hb_dtype dt, size_t M, size_t Cin, size_t Cout,
                       size_t k, const void *x, const void *W, const void *Rx, const void *RW,
                       const void *Rb, size_t ldv, void *Ry, void *scratch);
/* R of the backward: Rgx += Rgy·W + gy·RW;  OW_j += Rgy_jᵀ·x + gyᵀ·Rx_j;
 * Ob_j += Σ_rows Rgy_j. */
int hb__dense_rbackward(hb_context *ctx, hb_dtype dt, size_t M, size_t Cin, size_t Cout,
                        size_t k, const void *x, const void *W, const void *gy, const void *Rx,
                        const void *RW, size_t ldv, const void *Rgy, void *Rgx, void *OW,
                        void *Ob, size_t ldo, void *scratch);

#endif
