/* Causal multi-head self-attention (naive, exact) with its backward and R-operator passes.
 * Shapes (M = N·T rows, H heads of width d = C/H, head h = columns h·d … h·d+d−1):
 *   q, k, v, y, gq, gk, gv, gy: (N·T, C);  P: (N, H, T, T) softmax probabilities.
 * R-passes interleave nd directions per row: Rq, Rk, Rv, Ry, Rgy, Rgq, Rgk, Rgv
 * (N·T, nd, C); RP (N, H, T, nd, T). dt is HB_F32 or HB_F64. Every product goes through
 * hb__gemm_strided(_on), one (sequence, head) at a time; the (sequence, head) items run
 * on up to `threads` OpenMP threads (never more than the context's), each product then on
 * one BLIS thread, bit-identical for every thread count (nn/attention.c). */
#ifndef HB_NN_ATTENTION_H
#define HB_NN_ATTENTION_H

#include "core/internal.h"

typedef struct hb__attn_shape {
    size_t N, T, C, H;
    int threads; /* most threads of the (sequence, head) loop; the scratch holds one part per
                  * thread. 0 or 1: serial (tests that build a shape by hand) */
} hb__attn_shape;

/* Minimum flops per thread of the (sequence, head) loop: one OpenMP fork and join per pass
 * (no BLIS team per product), so far below hb__gemm's threshold (docs/performance.md,
 * "Attention's (sequence, head) loop on threads"). */
#ifndef HB__ATTN_FLOPS_PER_THREAD /* overridable (-D) to sweep it with bench_threads */
#define HB__ATTN_FLOPS_PER_THREAD 1.0e6
#endif

/* Scratch elements needed by the passes (per call, of dtype dt; for s->threads threads). */
size_t hb__attention_scratch(const hb__attn_shape *s, size_t nd);

/* y = softmax(q kᵀ/√d + causal mask) v per (sequence, head); writes P. */
int hb__attention_forward(hb_context *ctx, hb_dtype dt, const hb__attn_shape *s,
                          const void *q, const void *k, const void *v, void *P, void *y);
/* gq, gk, gv = ∂/∂(q, k, v) given gy (overwritten). */
int hb__attention_backward(hb_context *ctx, hb_dtype dt, const hb__attn_shape *s,
                           const void *q, const void *k, const void *v, const void *P,
                           const void *gy, void *gq, void *gk, void *gv, void *scratch);
/* RP and Ry (overwritten) from Rq, Rk, Rv. */
int hb__attention_rforward(hb_context *ctx, hb_dtype dt, const hb__attn_shape *s, size_t nd,
                           const void *q, const void *k, const void *v, const void *P,
                           const void *Rq, const void *Rk, const void *Rv, void *RP, void *Ry);
/* Rgq, Rgk, Rgv (overwritten) = R of the backward, given gy and Rgy. */
int hb__attention_rbackward(hb_context *ctx, hb_dtype dt, const hb__attn_shape *s, size_t nd,
                            const void *q, const void *k, const void *v, const void *P,
                            const void *Rq, const void *Rk, const void *Rv, const void *RP,
                            const void *gy, const void *Rgy, void *Rgq, void *Rgk, void *Rgv,
                            void *scratch);

#endif
