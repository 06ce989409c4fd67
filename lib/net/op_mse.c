/* Mean squared error loss (PyTorch's MSELoss, reduction 'mean'):
 *   L = (1/E)·Σ (x − t)²,   x, t (M, C), E = M·C = all elements of the micro-batch
 * Backward:   gx  += scale·(2/E)·(x − t)
 * R-backward: Rgx += scale·(2/E)·Rx       (∂²L/∂x² = (2/E)·I)       Rx, Rgx (M, k, C)
 * Targets are in the compute dtype (the engine converts). No output, no R-forward. */
#include "kernels/kernels.h"
#include "net/net_internal.h"

static size_t elements(const hb__op_call *c) {
    const hb__act *x = &c->acts[c->op->in[0]];
    return c->N * x->rows * x->width;
}

/* *loss = (1/E)·Σ (x − t)², accumulated in double */
static int mse_forward(const hb__op_call *c) {
    size_t E = elements(c);
    double s = 0;
    if (c->dt == HB_F64) {
        const double *x = c->x[0], *t = c->targets;
        for (size_t i = 0; i < E; i++) s += (x[i] - t[i]) * (x[i] - t[i]);
    } else {
        const float *x = c->x[0], *t = c->targets;
        for (size_t i = 0; i < E; i++) s += ((double)x[i] - t[i]) * ((double)x[i] - t[i]);
    }
    *c->loss = s / (double)E;
    return HB_OK;
}

/* gx (M, C) += scale·(2/E)·(x − t) */
static int mse_backward(const hb__op_call *c) {
    if (!c->gx[0]) return HB_OK;
    size_t E = elements(c);
    double f = c->scale * 2.0 / (double)E;
    if (c->dt == HB_F64) {
        const double *x = c->x[0], *t = c->targets;
        double *g = c->gx[0];
        for (size_t i = 0; i < E; i++) g[i] += f * (x[i] - t[i]);
    } else {
        const float *x = c->x[0], *t = c->targets;
        float *g = c->gx[0];
        for (size_t i = 0; i < E; i++) g[i] += (float)(f * ((double)x[i] - t[i]));
    }
    return HB_OK;
}

/* Rgx (M, k, C) += scale·(2/E)·Rx */
static int mse_rbackward(const hb__op_call *c) {
    if (!c->Rgx[0] || !c->Rx[0]) return HB_OK;
    size_t E = elements(c);
    return hb__axpy(c->ctx, c->dt, (int64_t)(E * c->k), c->scale * 2.0 / (double)E, c->Rx[0], 1,
                    c->Rgx[0], 1);
}

const hb__op_class hb__op_mse = {
    .name = "mse",
    .loss = true,
    .forward = mse_forward,
    .backward = mse_backward,
    .rbackward = mse_rbackward,
};

int hb_net_loss_mse(hb_net *net, const char *prediction) {
    if (!net) return HB_EINVAL;
    hb__net_op op;
    HB_TRY(hb__net_begin_op(net, &hb__op_mse, &prediction, 1, NULL, &op));
    return hb__net_commit_op(net, &op, 0, NULL);
}
