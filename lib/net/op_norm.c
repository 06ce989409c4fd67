/* Normalisation ops of hb_net over the last dimension of (F) or (T, C) activations:
 *
 *   layernorm:  y = (x − mean)·rstd·w + b,  rstd = 1/√(var + eps)     w, b (C)
 *   rmsnorm:    y = x·rstd·w,               rstd = 1/√(mean x² + eps)  w (C)
 * The math of every pass is in nn/layernorm.c and nn/rmsnorm.c. Rows are M = N·rows
 * (rows = T for a sequence, 1 for features). eps is op->farg[0]; the forward saves the
 * per-row statistics, which the other passes read instead of eps.
 * saved: layernorm (mean (M), rstd (M)); rmsnorm (rstd (M)). */
#include <math.h>

#include "net/op_seq_util.h"
#include "nn/layernorm.h"
#include "nn/rmsnorm.h"

#define HB__NORM_DEFAULT_EPS 1e-5 /* PyTorch's LayerNorm / RMSNorm default */

static size_t rows_of(const hb__net_op *op, const hb__act *acts, size_t N) {
    return N * acts[op->in[0]].rows;
}

/* ---- layernorm: W[0] = w, W[1] = b ---- */

static size_t ln_saved(const hb__net_op *op, const hb__act *acts, size_t N) {
    return 2 * rows_of(op, acts, N);
}

/* the saved state: mean (M) then rstd (M) */
static void *ln_rstd(const hb__op_call *c) {
    return (char *)c->saved + rows_of(c->op, c->acts, c->N) * hb_dtype_size(c->dt);
}

static int ln_forward(const hb__op_call *c) {
    size_t M = rows_of(c->op, c->acts, c->N), C = hb__seq_in(c, 0)->width;
    return hb__layernorm_forward(c->ctx, c->dt, M, C, c->op->farg[0], c->x[0], c->W[0], c->W[1],
                                 c->y, c->saved, ln_rstd(c));
}

/* gx += ∂/∂x, gw += Σ gy·xhat, gb += Σ gy */
static int ln_backward(const hb__op_call *c) {
    size_t M = rows_of(c->op, c->acts, c->N), C = hb__seq_in(c, 0)->width;
    return hb__layernorm_backward(c->ctx, c->dt, M, C, c->x[0], c->W[0], c->saved, ln_rstd(c),
                                  c->gy, c->gx[0], c->gW[0], c->gW[1]);
}

/* Ry = R(xhat)·w + xhat·Rw + Rb   (Rx, Ry (M, k, C)) */
static int ln_rforward(const hb__op_call *c) {
    size_t M = rows_of(c->op, c->acts, c->N), C = hb__seq_in(c, 0)->width;
    hb__dir Vw = c->V[0], Vb = c->V[1];
    bool one = hb__seq_one_ld(Vw, Vb);
    HB_TRY(hb__layernorm_rforward(c->ctx, c->dt, M, C, c->k, c->x[0], c->W[0], c->saved,
                                  ln_rstd(c), c->Rx[0], Vw.p, one ? Vb.p : NULL,
                                  hb__seq_ld(Vw, Vb), c->Ry));
    if (!one) hb__seq_add_dir_rows(c->dt, M, c->k, C, Vb, c->Ry);
    return HB_OK;
}

/* Rgx += R(gx), Ow += R(gw), Ob += R(gb) */
static int ln_rbackward(const hb__op_call *c) {
    size_t M = rows_of(c->op, c->acts, c->N), C = hb__seq_in(c, 0)->width;
    hb__dir Ow = c->O[0], Ob = c->O[1];
    bool one = hb__seq_one_ld(Ow, Ob);
    HB_TRY(hb__layernorm_rbackward(c->ctx, c->dt, M, C, c->k, c->x[0], c->W[0], c->saved,
                                   ln_rstd(c), c->gy, c->Rx[0], c->V[0].p, c->V[0].ld, c->Rgy,
                                   c->Rgx[0], Ow.p, one ? Ob.p : NULL, hb__seq_ld(Ow, Ob)));
    if (!one) hb__seq_sum_dir_rows(c->dt, M, c->k, C, c->Rgy, Ob);
    return HB_OK;
}

const hb__op_class hb__op_layernorm = {
    .name = "layernorm",
    .saved = ln_saved,
    .forward = ln_forward,
    .backward = ln_backward,
    .rforward = ln_rforward,
    .rbackward = ln_rbackward,
};

/* ---- rmsnorm: W[0] = w; saved rstd (M) ---- */

static int rms_forward(const hb__op_call *c) {
    size_t M = rows_of(c->op, c->acts, c->N), C = hb__seq_in(c, 0)->width;
    return hb__rmsnorm_forward(c->ctx, c->dt, M, C, c->op->farg[0], c->x[0], c->W[0], c->y,
                               c->saved);
}

/* gx += ∂/∂x, gw += Σ gy·xhat */
static int rms_backward(const hb__op_call *c) {
    size_t M = rows_of(c->op, c->acts, c->N), C = hb__seq_in(c, 0)->width;
    return hb__rmsnorm_backward(c->ctx, c->dt, M, C, c->x[0], c->W[0], c->saved, c->gy,
                                c->gx[0], c->gW[0]);
}

/* Ry = R(xhat)·w + xhat·Rw */
static int rms_rforward(const hb__op_call *c) {
    size_t M = rows_of(c->op, c->acts, c->N), C = hb__seq_in(c, 0)->width;
    return hb__rmsnorm_rforward(c->ctx, c->dt, M, C, c->k, c->x[0], c->W[0], c->saved,
                                c->Rx[0], c->V[0].p, c->V[0].ld, c->Ry);
}

/* Rgx += R(gx), Ow += R(gw) */
static int rms_rbackward(const hb__op_call *c) {
    size_t M = rows_of(c->op, c->acts, c->N), C = hb__seq_in(c, 0)->width;
    return hb__rmsnorm_rbackward(c->ctx, c->dt, M, C, c->k, c->x[0], c->W[0], c->saved, c->gy,
                                 c->Rx[0], c->V[0].p, c->V[0].ld, c->Rgy, c->Rgx[0], c->O[0].p,
                                 c->O[0].ld);
}

const hb__op_class hb__op_rmsnorm = {
    .name = "rmsnorm",
    .saved = rows_of,
    .forward = rms_forward,
    .backward = rms_backward,
    .rforward = rms_rforward,
    .rbackward = rms_rbackward,
};

/* ---- constructors ---- */

/* Shared by both: checks, the blocks (bias only for layernorm), the op. */
static int add_norm(hb_net *net, const hb__op_class *cls, const char *name, const char *in,
                    const char *out, double eps, bool bias) {
    if (!net) return HB_EINVAL;
    hb_context *ctx = hb__net_ctx(net);
    HB_CHECK(ctx, name && in && out, HB_EINVAL, "hb_net_%s: NULL name or activation", cls->name);
    HB_CHECK(ctx, isfinite(eps) && eps >= 0, HB_EINVAL,
             "%s '%s': eps %g must be finite and ≥ 0 (0: the default 1e-5)", cls->name, name, eps);
    char wname[HB_MAX_BLOCK_NAME + 1], bname[HB_MAX_BLOCK_NAME + 1], buf[96];
    HB_TRY(hb__seq_block_name(ctx, cls->name, name, ".weight", wname));
    if (bias) HB_TRY(hb__seq_block_name(ctx, cls->name, name, ".bias", bname));
    hb__net_op op;
    HB_TRY(hb__net_begin_op(net, cls, &in, 1, out, &op));
    const hb__act *a = hb__net_act(net, op.in[0]);
    HB_CHECK(ctx, !a->tokens && (a->ndim == 1 || a->ndim == 2), HB_ESHAPE,
             "%s '%s': input '%s' is %s, expected features (C) or a sequence (T, C)", cls->name,
             name, in, hb__net_shape_str(a, buf, sizeof buf));
    op.farg[0] = eps > 0 ? eps : HB__NORM_DEFAULT_EPS;
    int64_t C = a->dims[a->ndim - 1], dims[2] = {a->dims[0], a->ndim == 2 ? a->dims[1] : 0};
    HB_TRY(hb__net_add_block(net, &op, wname, HB_BLOCK_NORM, 1, &C,
                             HB_INIT_TORCH_LAYERNORM_WEIGHT, 0, 0));
    if (bias)
        HB_TRY(hb__net_add_block(net, &op, bname, HB_BLOCK_NORM, 1, &C,
                                 HB_INIT_TORCH_LAYERNORM_BIAS, 0, 0));
    return hb__net_commit_op(net, &op, a->ndim, dims);
}

int hb_net_layernorm(hb_net *net, const char *name, const char *in, const char *out,
                     double eps) {
    return add_norm(net, &hb__op_layernorm, name, in, out, eps, true);
}

int hb_net_rmsnorm(hb_net *net, const char *name, const char *in, const char *out, double eps) {
    return add_norm(net, &hb__op_rmsnorm, name, in, out, eps, false);
}
