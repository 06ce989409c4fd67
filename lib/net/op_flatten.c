/* Flatten op: one sample (T, C) → (T·C), (C, H, W) → (C·H·W), (F) → (F).
 * θ side: the layout is the same bytes ((N·T, C) row-major = (N, T·C)): y = x, gx += gy.
 * R side: (N·T, k, C) → (N, k, T·C), a permutation (identity when rows = 1):
 *   Ry[n, j, t·C + c] = Rx[n·T + t, j, c];  Rgx[n·T + t, j, c] += Rgy[n, j, t·C + c]. */
#include <string.h>

#include "kernels/kernels.h"
#include "net/net_internal.h"

static size_t numel(const hb__op_call *c) {
    const hb__act *y = &c->acts[c->op->out];
    return c->N * y->rows * y->width;
}

/* y (N, T·C) = x (N·T, C) */
static int flatten_forward(const hb__op_call *c) {
    memcpy(c->y, c->x[0], numel(c) * hb_dtype_size(c->dt));
    return HB_OK;
}

/* gx (N·T, C) += gy (N, T·C) */
static int flatten_backward(const hb__op_call *c) {
    if (!c->gx[0]) return HB_OK;
    return hb__axpy(c->ctx, c->dt, (int64_t)numel(c), 1.0, c->gy, 1, c->gx[0], 1);
}

/* Ry (N, k, T·C) = Rx (N·T, k, C) permuted */
static int flatten_rforward(const hb__op_call *c) {
    const hb__act *x = &c->acts[c->op->in[0]];
    size_t es = hb_dtype_size(c->dt), T = x->rows, C = x->width, k = c->k;
    if (!c->Rx[0]) {
        memset(c->Ry, 0, numel(c) * k * es);
        return HB_OK;
    }
    if (T == 1) {
        memcpy(c->Ry, c->Rx[0], numel(c) * k * es);
        return HB_OK;
    }
    for (size_t n = 0; n < c->N; n++)
        for (size_t j = 0; j < k; j++)
            for (size_t t = 0; t < T; t++)
                memcpy((char *)c->Ry + ((n * k + j) * T * C + t * C) * es,
                       (const char *)c->Rx[0] + (((n * T + t) * k + j) * C) * es, C * es);
    return HB_OK;
}

/* Rgx (N·T, k, C) += Rgy (N, k, T·C) permuted */
static int flatten_rbackward(const hb__op_call *c) {
    if (!c->Rgx[0]) return HB_OK;
    const hb__act *x = &c->acts[c->op->in[0]];
    size_t es = hb_dtype_size(c->dt), T = x->rows, C = x->width, k = c->k;
    if (T == 1) return hb__axpy(c->ctx, c->dt, (int64_t)(numel(c) * k), 1.0, c->Rgy, 1, c->Rgx[0], 1);
    for (size_t n = 0; n < c->N; n++)
        for (size_t j = 0; j < k; j++)
            for (size_t t = 0; t < T; t++)
                HB_TRY(hb__axpy(c->ctx, c->dt, (int64_t)C, 1.0,
                                (const char *)c->Rgy + ((n * k + j) * T * C + t * C) * es, 1,
                                (char *)c->Rgx[0] + (((n * T + t) * k + j) * C) * es, 1));
    return HB_OK;
}

const hb__op_class hb__op_flatten = {
    .name = "flatten",
    .forward = flatten_forward,
    .backward = flatten_backward,
    .rforward = flatten_rforward,
    .rbackward = flatten_rbackward,
};

int hb_net_flatten(hb_net *net, const char *in, const char *out) {
    if (!net) return HB_EINVAL;
    hb__net_op op;
    HB_TRY(hb__net_begin_op(net, &hb__op_flatten, &in, 1, out, &op));
    const hb__act *x = hb__net_act(net, op.in[0]);
    int64_t n = (int64_t)(x->rows * x->width);
    return hb__net_commit_op(net, &op, 1, &n);
}
