/* Helpers shared by the sequence op classes (op_embedding.c, op_norm.c, op_attention.c,
 * op_xent.c): block names, the shapes of an op's activations, and parameter directions
 * whose weight and bias come with different strides. */
#ifndef HB_NET_OP_SEQ_UTIL_H
#define HB_NET_OP_SEQ_UTIL_H

#include <stdio.h>
#include <string.h>

#include "net/net_internal.h"

/* "<name><suffix>" into buf (HB_MAX_BLOCK_NAME + 1 bytes); HB_EINVAL when too long. */
static inline int hb__seq_block_name(hb_context *ctx, const char *op, const char *name,
                                     const char *suffix, char *buf) {
    size_t n = strlen(name), s = strlen(suffix);
    HB_CHECK(ctx, n >= 1 && n + s <= HB_MAX_BLOCK_NAME, HB_EINVAL,
             "%s '%s': the block name '%s%s' must be 1..%d bytes", op, name, name, suffix,
             HB_MAX_BLOCK_NAME);
    memcpy(buf, name, n);
    memcpy(buf + n, suffix, s + 1);
    return HB_OK;
}

/* The activation an op reads (input i) or writes. */
static inline const hb__act *hb__seq_in(const hb__op_call *c, int i) {
    return &c->acts[c->op->in[i]];
}
static inline const hb__act *hb__seq_out(const hb__op_call *c) { return &c->acts[c->op->out]; }

/* Direction j of d, or NULL. */
static inline const void *hb__seq_dir(hb__dir d, size_t j, size_t es) {
    return d.p ? (const char *)d.p + j * d.ld * es : NULL;
}

/* A weight and its bias travel through one kernel call with one stride; when both have a
 * direction (or an output) and their strides differ, the kernel gets the weight alone
 * and the bias is applied by the two helpers below (same sums in the same order). */
static inline bool hb__seq_one_ld(hb__dir w, hb__dir b) { return !w.p || !b.p || w.ld == b.ld; }
static inline size_t hb__seq_ld(hb__dir w, hb__dir b) { return w.p ? w.ld : b.ld; }

/* y[m, j, :] += b_j for rows m < M, directions j < k; b_j = b + j·ld.   y (M, k, C) */
static inline void hb__seq_add_dir_rows(hb_dtype dt, size_t M, size_t k, size_t C, hb__dir b,
                                        void *y) {
    for (size_t m = 0; m < M; m++)
        for (size_t j = 0; j < k; j++)
            for (size_t c = 0; c < C; c++) {
                size_t i = (m * k + j) * C + c, o = j * b.ld + c;
                if (dt == HB_F64) ((double *)y)[i] += ((const double *)b.p)[o];
                else ((float *)y)[i] += ((const float *)b.p)[o];
            }
}

/* out_j += Σ_m g[m, j, :] for directions j < k; out_j = out + j·ld.   g (M, k, C) */
static inline void hb__seq_sum_dir_rows(hb_dtype dt, size_t M, size_t k, size_t C,
                                        const void *g, hb__dir out) {
    for (size_t m = 0; m < M; m++)
        for (size_t j = 0; j < k; j++)
            for (size_t c = 0; c < C; c++) {
                size_t i = (m * k + j) * C + c, o = j * out.ld + c;
                if (dt == HB_F64) ((double *)out.p)[o] += ((const double *)g)[i];
                else ((float *)out.p)[o] += ((const float *)g)[i];
            }
}

#endif
