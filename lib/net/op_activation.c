/* Elementwise activation op, any shape: y = f(x), f = iarg[0] (an hb_activation).
 *   x, y (M, C) with M = N·rows, C = width;  R side (M, k, C)
 * Saved by the forward: d1 = f'(x) (M, C), then d2 = f''(x) (M, C) unless ReLU.
 * Backward:   gx  += f'·gy          (= on a first write: gx_first, Rgx_first)
 * R-forward:  Ry   = f'·Rx
 * R-backward: Rgx += f''·gy·Rx + f'·Rgy                         (nn/elementwise.c) */
#include "net/net_internal.h"
#include "nn/elementwise.h"

/* Elements of one θ-side activation of the op for N samples (M·C). */
static size_t numel(const hb__net_op *op, const hb__act *acts, size_t N) {
    return N * acts[op->out].rows * acts[op->out].width;
}

static size_t act_saved(const hb__net_op *op, const hb__act *acts, size_t N) {
    return (hb__eltwise_has_d2((int)op->iarg[0]) ? 2 : 1) * numel(op, acts, N);
}

/* d1, d2 inside the saved state (d2 NULL for ReLU). */
static void derivs(const hb__op_call *c, const void **d1, const void **d2) {
    size_t n = numel(c->op, c->acts, c->N);
    *d1 = c->saved;
    *d2 = hb__eltwise_has_d2((int)c->op->iarg[0])
              ? (const char *)c->saved + n * hb_dtype_size(c->dt) : NULL;
}

/* y (M, C) = f(x); saved d1, d2 */
static int act_forward(const hb__op_call *c) {
    const void *d1, *d2;
    derivs(c, &d1, &d2);
    return hb__eltwise_forward(c->ctx, c->dt, (int)c->op->iarg[0], numel(c->op, c->acts, c->N),
                               c->x[0], c->y, (void *)d1, (void *)d2);
}

/* gx (M, C) += d1·gy */
static int act_backward(const hb__op_call *c) {
    if (!c->gx[0]) return HB_OK;
    return hb__eltwise_backward(c->ctx, c->dt, numel(c->op, c->acts, c->N), c->saved, c->gy,
                                c->gx[0], c->gx_first[0]);
}

/* Ry (M, k, C) = d1·Rx */
static int act_rforward(const hb__op_call *c) {
    const hb__act *y = &c->acts[c->op->out];
    return hb__eltwise_rforward(c->ctx, c->dt, c->N * y->rows, c->k, y->width, c->saved,
                                c->Rx[0], c->Ry);
}

/* Rgx (M, k, C) += d2·gy·Rx + d1·Rgy */
static int act_rbackward(const hb__op_call *c) {
    if (!c->Rgx[0]) return HB_OK;
    const hb__act *y = &c->acts[c->op->out];
    const void *d1, *d2;
    derivs(c, &d1, &d2);
    return hb__eltwise_rbackward(c->ctx, c->dt, c->N * y->rows, c->k, y->width, d1, d2, c->gy,
                                 c->Rx[0], c->Rgy, c->Rgx[0], c->Rgx_first[0]);
}

const hb__op_class hb__op_activation = {
    .name = "activation",
    .saved = act_saved,
    .writes_first = true, /* = instead of += on a first write */
    .forward = act_forward,
    .backward = act_backward,
    .rforward = act_rforward,
    .rbackward = act_rbackward,
};

int hb_net_activation(hb_net *net, hb_activation act, const char *in, const char *out) {
    if (!net) return HB_EINVAL;
    HB_CHECK(hb__net_ctx(net), hb__eltwise_valid((int)act), HB_EINVAL,
             "activation -> '%s': unknown activation %d (HB_ACT_RELU .. HB_ACT_TANH)",
             out ? out : "?", (int)act);
    hb__net_op op;
    HB_TRY(hb__net_begin_op(net, &hb__op_activation, &in, 1, out, &op));
    op.iarg[0] = act;
    const hb__act *x = hb__net_act(net, op.in[0]);
    return hb__net_commit_op(net, &op, x->ndim, x->dims);
}
