/* Softmax cross-entropy loss of hb_net over logits (V) or (T, V), i32 class targets (N) or
 * (N, T); the loss is the mean over the M = N·rows positions:
 *
 *   p = softmax(z) per row,   L = (1/M)·Σ_m −log p_m[t_m]                z, p (M, V)
 *   backward:    gz += scale·(p − onehot(t))/M
 *   R-backward:  Rgz += scale/M · p ⊙ (Rz − ⟨p, Rz⟩)   (the softmax Jacobian times Rz)
 * The loss value has no R-forward (H·v needs only the R of its gradient). Kernels:
 * nn/xent.c (forward, backward, accuracy) and nn/softmax_xent.c (R-backward, the gpt
 * model's numerics). saved: p (M, V). */
#include "net/op_seq_util.h"
#include "nn/xent.h"
#include "nn/xent.h"

static size_t rows_of(const hb__op_call *c) { return c->N * hb__seq_in(c, 0)->rows; }
static size_t classes_of(const hb__op_call *c) { return hb__seq_in(c, 0)->width; }

static size_t xent_saved(const hb__net_op *op, const hb__act *acts, size_t N) {
    return N * acts[op->in[0]].rows * acts[op->in[0]].width;
}

/* *loss = mean cross-entropy; p saved. HB_ERANGE for a target outside [0, V). */
static int xent_forward(const hb__op_call *c) {
    double loss = 0;
    HB_TRY(hb__xent_forward(c->ctx, c->dt, (int64_t)rows_of(c), (int64_t)classes_of(c), c->x[0],
                            c->targets, c->saved, &loss));
    if (c->loss) *c->loss = loss;
    return HB_OK;
}

/* gz += scale·(p − onehot)/M */
static int xent_backward(const hb__op_call *c) {
    if (!c->gx[0]) return HB_OK;
    return hb__xent_backward(c->ctx, c->dt, (int64_t)rows_of(c), (int64_t)classes_of(c),
                             c->saved, c->targets, c->scale, c->gx[0]);
}

/* nothing to propagate: a loss has no output activation */
static int xent_rforward(const hb__op_call *c) {
    (void)c;
    return HB_OK;
}

/* Rgz += scale/M · p ⊙ (Rz − ⟨p, Rz⟩); zero where Rz is */
static int xent_rbackward(const hb__op_call *c) {
    if (!c->Rgx[0] || !c->Rx[0]) return HB_OK;
    return hb__xent_rbackward(c->ctx, c->dt, rows_of(c), classes_of(c), c->k, c->saved,
                                   c->Rx[0], c->scale, c->Rgx[0]);
}

/* rows whose largest logit (the first on ties) is the target */
static int xent_accuracy(const hb__op_call *c, size_t *correct, size_t *total) {
    HB_TRY(hb__xent_correct(c->ctx, c->dt, (int64_t)rows_of(c), (int64_t)classes_of(c), c->x[0],
                            c->targets, correct));
    *total = rows_of(c);
    return HB_OK;
}

const hb__op_class hb__op_xent = {
    .name = "xent",
    .loss = true,
    .saved = xent_saved,
    .forward = xent_forward,
    .backward = xent_backward,
    .rforward = xent_rforward,
    .rbackward = xent_rbackward,
    .accuracy = xent_accuracy,
};

int hb_net_loss_xent(hb_net *net, const char *logits) {
    if (!net) return HB_EINVAL;
    hb_context *ctx = hb__net_ctx(net);
    HB_CHECK(ctx, logits, HB_EINVAL, "hb_net_loss_xent: NULL logits");
    char buf[96];
    hb__net_op op;
    HB_TRY(hb__net_begin_op(net, &hb__op_xent, &logits, 1, NULL, &op));
    const hb__act *a = hb__net_act(net, op.in[0]);
    HB_CHECK(ctx, !a->tokens && (a->ndim == 1 || a->ndim == 2), HB_ESHAPE,
             "loss_xent: logits '%s' are %s, expected (V) or (T, V)", logits,
             hb__net_shape_str(a, buf, sizeof buf));
    return hb__net_commit_op(net, &op, 0, NULL);
}
