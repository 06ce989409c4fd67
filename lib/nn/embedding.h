/* Token + position embedding with its backward and R-operator passes; and the position
 * embedding alone, added to an input (hb_net_pos_embedding). The token embedding alone is
 * the fused one with wpe = NULL (hb_net_embedding).
 * Shapes: idx (N, T) i32 token ids in [0, V) (checked by the caller); wte (V, C);
 * wpe (T', C) with T' >= T; x, gx (N·T, C). R-passes interleave k directions per row:
 * Rx, Rgx (N·T, k, C); parameter directions Vte_j = Vte + j·ld (NULL = zero), outputs
 * Ote_j = Ote + j·ld (NULL = skip). dt is HB_F32 or HB_F64. */
#ifndef HB_NN_EMBEDDING_H
#define HB_NN_EMBEDDING_H

#include "core/internal.h"

/* x[n,t] = wte[idx[n,t]] + wpe[t] */
int hb__embedding_forward(hb_context *ctx, hb_dtype dt, size_t N, size_t T, size_t C,
                          const int32_t *idx, const void *wte, const void *wpe, void *x);
/* gwte[idx[n,t]] += gx[n,t];  gwpe[t] += gx[n,t]  (either may be NULL) */
int hb__embedding_backward(hb_context *ctx, hb_dtype dt, size_t N, size_t T, size_t C,
                           const int32_t *idx, const void *gx, void *gwte, void *gwpe);
/* Rx[n,t,j] = Vte_j[idx[n,t]] + Vpe_j[t]  (overwrites Rx) */
int hb__embedding_rforward(hb_context *ctx, hb_dtype dt, size_t N, size_t T, size_t C,
                           size_t k, const int32_t *idx, const void *Vte, const void *Vpe,
                           size_t ldv, void *Rx);
/* The embedding is linear in its parameters and has no input, so its R-backward is its
 * backward applied to Rgx: Ote_j[idx[n,t]] += Rgx[n,t,j];  Ope_j[t] += Rgx[n,t,j] */
int hb__embedding_rbackward(hb_context *ctx, hb_dtype dt, size_t N, size_t T, size_t C,
                            size_t k, const int32_t *idx, const void *Rgx, void *Ote,
                            void *Ope, size_t ldo);

/* Position embedding added to an input, k directions (the θ passes are k = 1, ld = 0):
 *   y[n,t,j] = x[n,t,j] + W_j[t]        x, y (N·T, k, C); W_j = W + j·ld (T', C), T' ≥ T
 * x NULL = zero, W NULL = zero (y written). The map is linear in (x, W): the R-forward is
 * this with (Rx, V), the R-backward hb__pos_embedding_backward with Rgy. */
int hb__pos_embedding_forward(hb_context *ctx, hb_dtype dt, size_t N, size_t T, size_t C,
                              size_t k, const void *x, const void *W, size_t ld, void *y);
/* gx += gy (NULL: skipped);  gW_j[t] += Σ_n gy[n,t,j] (NULL: skipped). */
int hb__pos_embedding_backward(hb_context *ctx, hb_dtype dt, size_t N, size_t T, size_t C,
                               size_t k, const void *gy, void *gx, void *gW, size_t ld);

#endif
