/* Residual add of two activations of equal shape: y = a + b.
 *   a, b, y (M, C);  R side (M, k, C)
 * Backward:   ga += gy,  gb += gy        (= on a first write, gx_first)
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

/* y = a + b over n elements, one pass (a copy then an axpy would read y twice). */
static void sum(hb_dtype dt, size_t n, const void *a, const void *b, void *y) {
    if (dt == HB_F64) {
        const double *p = a, *q = b;
        double *o = y;
        for (size_t i = 0; i < n; i++) o[i] = p[i] + q[i];
    } else {
        const float *p = a, *q = b;
        float *o = y;
        for (size_t i = 0; i < n; i++) o[i] = p[i] + q[i];
    }
}

/* y (M, C) = a + b */
static int add_forward(const hb__op_call *c) {
    sum(c->dt, numel(c, 1), c->x[0], c->x[1], c->y);
    return HB_OK;
}

/* g += gy over n elements, or g = gy on the buffer's first write (writes_first: a copy
 * instead of the engine's memset and an axpy onto zeros). */
static int pass_on(const hb__op_call *c, size_t n, const void *gy, void *g, bool first) {
    if (first) {
        memcpy(g, gy, n * hb_dtype_size(c->dt));
        return HB_OK;
    }
    return hb__axpy(c->ctx, c->dt, (int64_t)n, 1.0, gy, 1, g, 1);
}

/* ga, gb (M, C) += gy (input 0 first: with a = b, gx_first[1] is false) */
static int add_backward(const hb__op_call *c) {
    for (int i = 0; i < 2; i++)
        if (c->gx[i]) HB_TRY(pass_on(c, numel(c, 1), c->gy, c->gx[i], c->gx_first[i]));
    return HB_OK;
}

/* Ry (M, k, C) = Ra + Rb */
static int add_rforward(const hb__op_call *c) {
    size_t n = numel(c, c->k), es = hb_dtype_size(c->dt);
    if (c->Rx[0] && c->Rx[1]) sum(c->dt, n, c->Rx[0], c->Rx[1], c->Ry);
    else if (c->Rx[0] || c->Rx[1]) memcpy(c->Ry, c->Rx[0] ? c->Rx[0] : c->Rx[1], n * es);
    else memset(c->Ry, 0, n * es);
    return HB_OK;
}

/* Rga, Rgb (M, k, C) += Rgy */
static int add_rbackward(const hb__op_call *c) {
    for (int i = 0; i < 2; i++)
        if (c->Rgx[i]) HB_TRY(pass_on(c, numel(c, c->k), c->Rgy, c->Rgx[i], c->Rgx_first[i]));
    return HB_OK;
}

const hb__op_class hb__op_add = {
    .name = "add",
    .writes_first = true, /* pass_on copies on a first write */
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
