/* 2-d convolution op, stride 1, zero padding P, kernel K×K (nn/conv2d.c, interleaved layout).
 *   x (N, Cin, H, W), W (Cout, Cin, K, K), b (Cout), y (N, Cout, Ho, Wo),
 *   Ho = H + 2P − K + 1, Wo = W + 2P − K + 1;  y = W ⋆ x + b
 * Backward:   gx += W ⋆ᵀ gy,  gW += gy ⊗ x,  gb += Σ_{n, pixels} gy
 * R-forward:  Ry[n, j] = W ⋆ Rx[n, j] + RW_j ⋆ x[n] + Rb_j
 * R-backward: Rgx[n, j] += W ⋆ᵀ Rgy[n, j] + RW_j ⋆ᵀ gy[n];
 *             OW_j += Σ_n Rgy[n, j] ⊗ x[n] + gy[n] ⊗ Rx[n, j];  Ob_j += Σ Rgy[n, j]
 * An image is one row of width C·H·W in the layout, so R quantities are (N, k, C, H, W).
 * blk[0] = weight, blk[1] = bias or absent; iarg = {Cout, K, P}. */
#include <stdio.h>
#include <string.h>

#include "net/net_internal.h"
#include "nn/conv2d.h"

static hb__conv2d_geom geom(const hb__net_op *op, const hb__act *acts) {
    const hb__act *x = &acts[op->in[0]];
    return (hb__conv2d_geom){x->dims[0], x->dims[1], x->dims[2], op->iarg[0], op->iarg[1],
                             op->iarg[2]};
}

static size_t conv_scratch(const hb__net_op *op, const hb__act *acts, size_t N, size_t k,
                           int threads) {
    (void)threads;
    hb__conv2d_geom g = geom(op, acts);
    return hb__conv2d_scratch(&g, N, k);
}

static int conv_forward(const hb__op_call *c) {
    hb__conv2d_geom g = geom(c->op, c->acts);
    return hb__conv2d_il_forward(c->ctx, c->dt, &g, c->N, c->x[0], c->W[0], c->W[1], c->y,
                                 c->scratch);
}

static int conv_backward(const hb__op_call *c) {
    hb__conv2d_geom g = geom(c->op, c->acts);
    return hb__conv2d_il_backward(c->ctx, c->dt, &g, c->N, c->x[0], c->W[0], c->gy, c->gx[0],
                                  c->gW[0], c->gW[1], c->scratch);
}

static int conv_rforward(const hb__op_call *c) {
    hb__conv2d_geom g = geom(c->op, c->acts);
    return hb__conv2d_il_rforward(c->ctx, c->dt, &g, c->N, c->k, c->x[0], c->W[0], c->Rx[0],
                                  c->V[0].p, c->V[0].ld, c->V[1].p, c->V[1].ld, c->Ry,
                                  c->scratch);
}

static int conv_rbackward(const hb__op_call *c) {
    hb__conv2d_geom g = geom(c->op, c->acts);
    return hb__conv2d_il_rbackward(c->ctx, c->dt, &g, c->N, c->k, c->x[0], c->W[0], c->gy,
                                   c->Rx[0], c->V[0].p, c->V[0].ld, c->Rgy, c->Rgx[0], c->O[0].p,
                                   c->O[0].ld, c->O[1].p, c->O[1].ld, c->scratch);
}

const hb__op_class hb__op_conv2d = {
    .name = "conv2d",
    .scratch = conv_scratch,
    .forward = conv_forward,
    .backward = conv_backward,
    .rforward = conv_rforward,
    .rbackward = conv_rbackward,
};

int hb_net_conv2d(hb_net *net, const char *name, const char *in, const char *out,
                  int64_t out_channels, int64_t kernel, int64_t padding, int bias) {
    if (!net) return HB_EINVAL;
    hb_context *ctx = hb__net_ctx(net);
    char wname[HB_MAX_BLOCK_NAME + 8], bname[HB_MAX_BLOCK_NAME + 8], sh[96];
    HB_CHECK(ctx, name != NULL && name[0] != '\0' && strlen(name) + 7 <= HB_MAX_BLOCK_NAME,
             HB_EINVAL, "conv2d: the name must be 1..%d bytes (it prefixes '.weight')",
             HB_MAX_BLOCK_NAME - 7);
    HB_CHECK(ctx, out_channels >= 1 && out_channels <= INT32_MAX, HB_EINVAL,
             "conv2d '%s': out_channels %lld must be in 1..2^31-1", name, (long long)out_channels);
    HB_CHECK(ctx, kernel >= 1 && kernel <= INT32_MAX && padding >= 0 && padding <= INT32_MAX,
             HB_EINVAL, "conv2d '%s': kernel %lld must be >= 1 and padding %lld >= 0", name,
             (long long)kernel, (long long)padding);
    hb__net_op op;
    HB_TRY(hb__net_begin_op(net, &hb__op_conv2d, &in, 1, out, &op));
    const hb__act *x = hb__net_act(net, op.in[0]);
    HB_CHECK(ctx, x->ndim == 3 && !x->tokens, HB_ESHAPE,
             "conv2d '%s': input '%s' has shape %s, needs an image (C, H, W)", name, in,
             hb__net_shape_str(x, sh, sizeof sh));
    hb__conv2d_geom g = {x->dims[0], x->dims[1], x->dims[2], out_channels, kernel, padding};
    int64_t Ho = hb__conv2d_out_h(&g), Wo = hb__conv2d_out_w(&g);
    HB_CHECK(ctx, Ho >= 1 && Wo >= 1, HB_ESHAPE,
             "conv2d '%s': input '%s' of shape %s is smaller than the kernel %lld with padding "
             "%lld: the output would be (C=%lld, H=%lld, W=%lld)",
             name, in, hb__net_shape_str(x, sh, sizeof sh), (long long)kernel, (long long)padding,
             (long long)out_channels, (long long)Ho, (long long)Wo);
    op.iarg[0] = out_channels, op.iarg[1] = kernel, op.iarg[2] = padding;
    int64_t fan_in = g.Cin * kernel * kernel;
    snprintf(wname, sizeof wname, "%s.weight", name);
    snprintf(bname, sizeof bname, "%s.bias", name);
    HB_TRY(hb__net_add_block(net, &op, wname, HB_BLOCK_CONV, 4,
                             (int64_t[]){out_channels, g.Cin, kernel, kernel},
                             HB_INIT_TORCH_LINEAR, 0, 0));
    HB_TRY(hb__net_add_block(net, &op, bias ? bname : NULL, HB_BLOCK_BIAS, 1,
                             (int64_t[]){out_channels}, HB_INIT_TORCH_LINEAR_BIAS, (double)fan_in,
                             0));
    return hb__net_commit_op(net, &op, 3, (int64_t[]){out_channels, Ho, Wo});
}
