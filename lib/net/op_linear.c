/* Linear op over the last dimension: y = x·Wᵀ + b.
 *   x (M, Cin), W (Cout, Cin), b (Cout), y (M, Cout),  M = N·rows (rows = T or 1)
 * Backward:   gx += gy·W (gx = on the first write, gx_first),  gW += gyᵀ·x,  gb += Σ_rows gy         (nn/linear.c)
 * R-forward:  Ry = Rx·Wᵀ + x·RWᵀ + Rb                             (nn/linear.c)
 * R-backward: Rgx += Rgy·W + gy·RW,  OW += Rgyᵀ·x + gyᵀ·Rx,  Ob += Σ_rows Rgy
 * R quantities (M, k, ·) interleaved; blk[0] = weight, blk[1] = bias or absent.
 * nn/linear.c takes ONE stride for the weight's and the bias's directions (and one for
 * their outputs): the engine passes the same stride to every block of a call. */
#include <stdio.h>
#include <string.h>

#include "net/net_internal.h"
#include "nn/linear.h"
#include "nn/linear.h"

/* Shapes of a call: M rows, Cin → Cout. */
static void dims(const hb__op_call *c, size_t *M, size_t *Cin, size_t *Cout) {
    const hb__act *x = &c->acts[c->op->in[0]], *y = &c->acts[c->op->out];
    *M = c->N * x->rows;
    *Cin = x->width;
    *Cout = y->width;
}

/* The one stride of the weight's and bias's entries in d (0 when neither is given). */
static int one_ld(const hb__op_call *c, const hb__dir *d, size_t *ld) {
    *ld = d[0].p ? d[0].ld : d[1].p ? d[1].ld : 0;
    HB_CHECK(c->ctx, !d[0].p || !d[1].p || d[0].ld == d[1].ld, HB_EINVAL,
             "linear: weight and bias directions with different strides (%zu, %zu)", d[0].ld,
             d[1].ld);
    return HB_OK;
}

/* scratch of the R-passes: the k parameter directions packed side by side (nn/linear.h) */
static size_t linear_scratch(const hb__net_op *op, const hb__act *acts, size_t N, size_t k,
                             int threads) {
    (void)N, (void)threads;
    return k ? hb__linear_rscratch(acts[op->in[0]].width, acts[op->out].width, k) : 0;
}

/* y (M, Cout) = x (M, Cin)·Wᵀ + b */
static int linear_forward(const hb__op_call *c) {
    size_t M, Cin, Cout;
    dims(c, &M, &Cin, &Cout);
    return hb__linear_forward(c->ctx, c->dt, (int64_t)M, (int64_t)Cin, (int64_t)Cout, c->x[0],
                              c->W[0], c->W[1], c->y);
}

/* gx (M, Cin) += gy·W;  gW (Cout, Cin) += gyᵀ·x;  gb (Cout) += Σ_rows gy */
static int linear_backward(const hb__op_call *c) {
    size_t M, Cin, Cout;
    dims(c, &M, &Cin, &Cout);
    return hb__linear_backward_to(c->ctx, c->dt, (int64_t)M, (int64_t)Cin, (int64_t)Cout,
                                  c->x[0], c->W[0], c->gy, c->gx[0], c->gx_first[0], c->gW[0],
                                  c->gW[1]);
}

/* Ry (M, k, Cout) = Rx (M, k, Cin)·Wᵀ + x·RW_jᵀ + Rb_j */
static int linear_rforward(const hb__op_call *c) {
    size_t M, Cin, Cout, ld;
    dims(c, &M, &Cin, &Cout);
    HB_TRY(one_ld(c, c->V, &ld));
    return hb__linear_rforward(c->ctx, c->dt, M, Cin, Cout, c->k, c->x[0], c->W[0], c->Rx[0],
                              c->V[0].p, c->V[1].p, ld, c->Ry, c->scratch);
}

/* Rgx (M, k, Cin) += Rgy·W + gy·RW_j;  O_W,j (Cout, Cin) += Rgy_jᵀ·x + gyᵀ·Rx_j;
 * O_b,j (Cout) += Σ_rows Rgy_j */
static int linear_rbackward(const hb__op_call *c) {
    size_t M, Cin, Cout, ldv, ldo;
    dims(c, &M, &Cin, &Cout);
    HB_TRY(one_ld(c, c->V, &ldv));
    HB_TRY(one_ld(c, c->O, &ldo));
    return hb__linear_rbackward_to(c->ctx, c->dt, M, Cin, Cout, c->k, c->x[0], c->W[0], c->gy,
                                   c->Rx[0], c->V[0].p, ldv, c->Rgy, c->Rgx[0], c->Rgx_first[0],
                                   c->O[0].p, c->O[1].p, ldo, c->scratch);
}

const hb__op_class hb__op_linear = {
    .name = "linear",
    .scratch = linear_scratch,
    .writes_first = true, /* gx / Rgx by gemm with beta 0 on a first write */
    .forward = linear_forward,
    .backward = linear_backward,
    .rforward = linear_rforward,
    .rbackward = linear_rbackward,
};

int hb_net_linear(hb_net *net, const char *name, const char *in, const char *out,
                  int64_t out_features, int bias, hb_block_kind kind) {
    if (!net) return HB_EINVAL;
    hb_context *ctx = hb__net_ctx(net);
    char wname[HB_MAX_BLOCK_NAME + 8], bname[HB_MAX_BLOCK_NAME + 8];
    HB_CHECK(ctx, name != NULL && name[0] != '\0' && strlen(name) + 7 <= HB_MAX_BLOCK_NAME,
             HB_EINVAL, "linear: the name must be 1..%d bytes (it prefixes '.weight')",
             HB_MAX_BLOCK_NAME - 7);
    HB_CHECK(ctx, out_features >= 1 && out_features <= INT32_MAX, HB_EINVAL,
             "linear '%s': out_features %lld must be in 1..2^31-1", name, (long long)out_features);
    HB_CHECK(ctx, kind >= HB_BLOCK_OTHER && kind <= HB_BLOCK_LINEAR, HB_EINVAL,
             "linear '%s': unknown block kind %d", name, (int)kind);
    hb__net_op op;
    HB_TRY(hb__net_begin_op(net, &hb__op_linear, &in, 1, out, &op));
    const hb__act *x = hb__net_act(net, op.in[0]);
    char sh[96];
    HB_CHECK(ctx, x->ndim <= 2, HB_ESHAPE,
             "linear '%s': input '%s' has shape %s, needs (F) or (T, C) (flatten an image first)",
             name, in, hb__net_shape_str(x, sh, sizeof sh));
    int64_t Cin = (int64_t)x->width;
    snprintf(wname, sizeof wname, "%s.weight", name);
    snprintf(bname, sizeof bname, "%s.bias", name);
    HB_TRY(hb__net_add_block(net, &op, wname, kind ? kind : HB_BLOCK_LINEAR, 2,
                             (int64_t[]){out_features, Cin}, HB_INIT_TORCH_LINEAR, 0, 0));
    HB_TRY(hb__net_add_block(net, &op, bias ? bname : NULL, HB_BLOCK_BIAS, 1,
                             (int64_t[]){out_features}, HB_INIT_TORCH_LINEAR_BIAS, (double)Cin, 0));
    int64_t yd[2] = {x->dims[0], out_features};
    return x->ndim == 1 ? hb__net_commit_op(net, &op, 1, &out_features)
                        : hb__net_commit_op(net, &op, 2, yd);
}
