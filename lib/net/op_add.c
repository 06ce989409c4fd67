/* Residual add of two activations of equal shape: y = a + b.
 *   a, b, y (M, C);  R side (M, k, C)
 * Backward:   ga += gy,  gb += gy
 * R-forward:  Ry = Ra + Rb                (NULL = zero)
 * R-backward: Rga += Rgy,  Rgb += Rgy
 * a and b may be the same activation (y = 2a): its gradient then receives both terms. */
#include <string.h>

#include "kernels/kernels.h"
#include "net/net_internal.h"

static size_t numel(const hb__op_call *c, size_t k) {
    const hb__act *y = &c->acts[c->op->out];
    return c->N * y->rows * y->width * k;
}

/* y (M, C) = a + b */
static int add_forward(const hb__op_call *c) {
    size_t n = numel(c, 1);
    memcpy(c->y, c->x[0], n * hb_dtype_size(c->dt));
    return hb__axpy(c->ctx, c->dt, (int64_t)n, 1.0, c->x[1], 1, c->y, 1);
}

/* ga, gb (M, C) += gy */
static int add_backward(const hb__op_call *c) {
    for (int i = 0; i < 2; i++)
        if (c->gx[i]) HB_TRY(hb__axpy(c->ctx, c->dt, (int64_t)numel(c, 1), 1.0, c->gy, 1, c->gx[i], 1));
    return HB_OK;
}

/* Ry (M, k, C) = Ra + Rb */
static int add_rforward(const hb__op_call *c) {
    size_t n = numel(c, c->k);
    const void *first = c->Rx[0] ? c->Rx[0] : c->Rx[1], *second = c->Rx[0] ? c->Rx[1] : NULL;
    if (!first) memset(c->Ry, 0, n * hb_dtype_size(c->dt));
    else memcpy(c->Ry, first, n * hb_dtype_size(c->dt));
    return second ? hb__axpy(c->ctx, c->dt, (int64_t)n, 1.0, second, 1, c->Ry, 1) : HB_OK;
}

/* Rga, Rgb (M, k, C) += Rgy */
static int add_rbackward(const hb__op_call *c) {
    for (int i = 0; i < 2; i++)
        if (c->Rgx[i])
            HB_TRY(hb__axpy(c->ctx, c->dt, (int64_t)numel(c, c->k), 1.0, c->Rgy, 1, c->Rgx[i], 1));
    return HB_OK;
}

const hb__op_class hb__op_add = {
    .name = "add",
    .forward = add_forward,
    .backward = add_backward,
    .rforward = add_rforward,
    .rbackward = add_rbackward,
};

int hb_net_add(hb_net *net, const char *a, const char *b, const char *out) {
    if (!net) return HB_EINVAL;
    hb__net_op op;
    const char *in[2] = {a, b};
    HB_TRY(hb__net_begin_op(net, &hb__op_add, in, 2, out, &op));
    const hb__act *x = hb__net_act(net, op.in[0]), *z = hb__net_act(net, op.in[1]);
    bool same = x->ndim == z->ndim;
    for (int d = 0; d < x->ndim && same; d++) same = x->dims[d] == z->dims[d];
    char s1[96], s2[96];
    HB_CHECK(hb__net_ctx(net), same, HB_ESHAPE,
             "add -> '%s': '%s' has shape %s but '%s' has shape %s", out, a,
             hb__net_shape_str(x, s1, sizeof s1), b, hb__net_shape_str(z, s2, sizeof s2));
    return hb__net_commit_op(net, &op, x->ndim, x->dims);
}
