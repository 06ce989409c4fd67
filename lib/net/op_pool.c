/* 2-d pooling op, window = stride = s, remainders dropped (nn/pool.c, interleaved layout):
 * x (N, C, H, W) → y (N, C, ⌊H/s⌋, ⌊W/s⌋).
 * Average: linear (y = A·x), so gx += Aᵀ·gy, Ry = A·Rx, Rgx += Aᵀ·Rgy (over N·k images).
 * Max: the forward saves the first argmax a of every window (int32, in the op's saved
 * state: one entry of the compute dtype per output element holds one int32); then
 * gx[a] += gy, Ry = Rx[a], Rgx[a] += Rgy — the derivatives with the selection fixed at θ,
 * exact wherever the window maximum is unique. iarg = {kind, s}. */
#include <string.h>

#include "net/net_internal.h"
#include "nn/pool.h"

static hb__pool_geom geom(const hb__net_op *op, const hb__act *acts) {
    const hb__act *x = &acts[op->in[0]];
    return (hb__pool_geom){x->dims[0], x->dims[1], x->dims[2], op->iarg[1]};
}

static bool is_max(const hb__net_op *op) { return op->iarg[0] == HB_POOL_MAX; }

/* max: the argmax per output element (int32 in an element of the compute dtype) */
static size_t pool_saved(const hb__net_op *op, const hb__act *acts, size_t N) {
    return is_max(op) ? N * acts[op->out].width : 0;
}

static int pool_forward(const hb__op_call *c) {
    hb__pool_geom g = geom(c->op, c->acts);
    if (is_max(c->op)) return hb__maxpool_forward(c->ctx, c->dt, &g, c->N, c->x[0], c->y, c->saved);
    return hb__avgpool_forward(c->ctx, c->dt, &g, c->N, c->x[0], c->y);
}

static int pool_backward(const hb__op_call *c) {
    if (!c->gx[0]) return HB_OK;
    hb__pool_geom g = geom(c->op, c->acts);
    if (is_max(c->op)) return hb__maxpool_backward(c->ctx, c->dt, &g, c->N, c->saved, c->gy, c->gx[0]);
    return hb__avgpool_backward(c->ctx, c->dt, &g, c->N, c->gy, c->gx[0]);
}

static int pool_rforward(const hb__op_call *c) {
    hb__pool_geom g = geom(c->op, c->acts);
    if (is_max(c->op))
        return hb__maxpool_rforward(c->ctx, c->dt, &g, c->N, c->k, c->saved, c->Rx[0], c->Ry);
    if (c->Rx[0]) return hb__avgpool_forward(c->ctx, c->dt, &g, c->N * c->k, c->Rx[0], c->Ry);
    memset(c->Ry, 0, c->N * c->k * c->acts[c->op->out].width * hb_dtype_size(c->dt));
    return HB_OK;
}

static int pool_rbackward(const hb__op_call *c) {
    if (!c->Rgx[0] || !c->Rgy) return HB_OK;
    hb__pool_geom g = geom(c->op, c->acts);
    if (is_max(c->op))
        return hb__maxpool_rbackward(c->ctx, c->dt, &g, c->N, c->k, c->saved, c->Rgy, c->Rgx[0]);
    return hb__avgpool_backward(c->ctx, c->dt, &g, c->N * c->k, c->Rgy, c->Rgx[0]);
}

const hb__op_class hb__op_pool2d = {
    .name = "pool2d",
    .saved = pool_saved,
    .forward = pool_forward,
    .backward = pool_backward,
    .rforward = pool_rforward,
    .rbackward = pool_rbackward,
};

int hb_net_pool2d(hb_net *net, hb_net_pool kind, const char *in, const char *out, int64_t size) {
    if (!net) return HB_EINVAL;
    hb_context *ctx = hb__net_ctx(net);
    char sh[96];
    HB_CHECK(ctx, kind == HB_POOL_AVG || kind == HB_POOL_MAX, HB_EINVAL,
             "pool2d: unknown pooling kind %d", (int)kind);
    HB_CHECK(ctx, size >= 1, HB_EINVAL, "pool2d: size %lld must be >= 1", (long long)size);
    hb__net_op op;
    HB_TRY(hb__net_begin_op(net, &hb__op_pool2d, &in, 1, out, &op));
    const hb__act *x = hb__net_act(net, op.in[0]);
    HB_CHECK(ctx, x->ndim == 3 && !x->tokens, HB_ESHAPE,
             "pool2d: input '%s' has shape %s, needs an image (C, H, W)", in,
             hb__net_shape_str(x, sh, sizeof sh));
    HB_CHECK(ctx, size <= x->dims[1] && size <= x->dims[2], HB_ESHAPE,
             "pool2d: window %lld does not fit input '%s' of shape %s", (long long)size, in,
             hb__net_shape_str(x, sh, sizeof sh));
    HB_CHECK(ctx, x->dims[1] * x->dims[2] < INT32_MAX, HB_ESHAPE,
             "pool2d: input '%s' of shape %s has 2^31 or more pixels per channel", in,
             hb__net_shape_str(x, sh, sizeof sh));
    op.iarg[0] = kind, op.iarg[1] = size;
    return hb__net_commit_op(net, &op, 3,
                             (int64_t[]){x->dims[0], x->dims[1] / size, x->dims[2] / size});
}
