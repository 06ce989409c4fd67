/* Embedding ops of hb_net: the token embedding and the learned position embedding.
 *
 *   embedding:      tokens (T) → (T, C);   y[n,t] = W[id[n,t]]        W (vocab, C)
 *   pos_embedding:  (T, C) → (T, C);       y[n,t] = x[n,t] + W[t]     W (T, C)
 * Both are linear in (x, W) with no second-order term, so their R-forward is the forward
 * of the directions and their R-backward is the backward of R(gy) (nn/embedding.c).
 * The token ids (x[0], i32 (N, T)) have no gradient and no direction. A token embedding
 * followed by a position embedding gives the gpt model's fused embedding numbers exactly. */
#include "net/op_seq_util.h"
#include "nn/embedding.h"

/* ---- token embedding: x[0] ids (N·T) i32, y (N·T, C), W[0] (vocab, C) ---- */

static int emb_forward(const hb__op_call *c) {
    const hb__act *in = hb__seq_in(c, 0);
    size_t T = in->width, C = hb__seq_out(c)->width;
    const int32_t *id = c->x[0];
    /* the ids index W: out of range would read outside it */
    for (size_t i = 0; i < c->N * T; i++)
        HB_CHECK(c->ctx, id[i] >= 0 && id[i] < in->vocab, HB_ERANGE,
                 "embedding: token %d at position %zu is outside the vocabulary [0, %lld)",
                 (int)id[i], i, (long long)in->vocab);
    return hb__embedding_forward(c->ctx, c->dt, c->N, T, C, id, c->W[0], NULL, c->y);
}

/* gW[id] += gy */
static int emb_backward(const hb__op_call *c) {
    if (!c->gW[0]) return HB_OK;
    return hb__embedding_backward(c->ctx, c->dt, c->N, hb__seq_in(c, 0)->width,
                                  hb__seq_out(c)->width, c->x[0], c->gy, c->gW[0], NULL);
}

/* Ry_j = V_j[id]   (Ry (N·T, k, C); zero where V is NULL) */
static int emb_rforward(const hb__op_call *c) {
    return hb__embedding_rforward(c->ctx, c->dt, c->N, hb__seq_in(c, 0)->width,
                                  hb__seq_out(c)->width, c->k, c->x[0], c->V[0].p, NULL,
                                  c->V[0].ld, c->Ry);
}

/* O_j[id] += Rgy_j */
static int emb_rbackward(const hb__op_call *c) {
    if (!c->O[0].p) return HB_OK;
    return hb__embedding_rbackward(c->ctx, c->dt, c->N, hb__seq_in(c, 0)->width,
                                   hb__seq_out(c)->width, c->k, c->x[0], c->Rgy, c->O[0].p,
                                   NULL, c->O[0].ld);
}

const hb__op_class hb__op_embedding = {
    .name = "embedding",
    .forward = emb_forward,
    .backward = emb_backward,
    .rforward = emb_rforward,
    .rbackward = emb_rbackward,
};

/* ---- position embedding: x, y (N·T, C), W[0] (T, C) ---- */

static int pos_forward(const hb__op_call *c) {
    const hb__act *a = hb__seq_out(c);
    return hb__pos_embedding_forward(c->ctx, c->dt, c->N, a->rows, a->width, 1, c->x[0],
                                     c->W[0], 0, c->y);
}

/* gx += gy, gW[t] += Σ_n gy[n,t] */
static int pos_backward(const hb__op_call *c) {
    const hb__act *a = hb__seq_out(c);
    return hb__pos_embedding_backward(c->ctx, c->dt, c->N, a->rows, a->width, 1, c->gy,
                                      c->gx[0], c->gW[0], 0);
}

/* Ry_j = Rx_j + V_j[t]   (Rx, Ry (N·T, k, C)) */
static int pos_rforward(const hb__op_call *c) {
    const hb__act *a = hb__seq_out(c);
    return hb__pos_embedding_forward(c->ctx, c->dt, c->N, a->rows, a->width, c->k, c->Rx[0],
                                     c->V[0].p, c->V[0].ld, c->Ry);
}

/* Rgx_j += Rgy_j, O_j[t] += Σ_n Rgy_j[n,t] */
static int pos_rbackward(const hb__op_call *c) {
    const hb__act *a = hb__seq_out(c);
    return hb__pos_embedding_backward(c->ctx, c->dt, c->N, a->rows, a->width, c->k, c->Rgy,
                                      c->Rgx[0], c->O[0].p, c->O[0].ld);
}

const hb__op_class hb__op_pos_embedding = {
    .name = "pos_embedding",
    .forward = pos_forward,
    .backward = pos_backward,
    .rforward = pos_rforward,
    .rbackward = pos_rbackward,
};

/* ---- constructors ---- */

int hb_net_embedding(hb_net *net, const char *name, const char *in, const char *out,
                     int64_t width) {
    if (!net) return HB_EINVAL;
    hb_context *ctx = hb__net_ctx(net);
    HB_CHECK(ctx, name && in && out, HB_EINVAL, "hb_net_embedding: NULL name or activation");
    HB_CHECK(ctx, width >= 1, HB_EINVAL, "embedding '%s': width %lld must be ≥ 1", name,
             (long long)width);
    char wname[HB_MAX_BLOCK_NAME + 1], buf[96];
    HB_TRY(hb__seq_block_name(ctx, "embedding", name, ".weight", wname));
    hb__net_op op;
    HB_TRY(hb__net_begin_op(net, &hb__op_embedding, &in, 1, out, &op));
    const hb__act *a = hb__net_act(net, op.in[0]);
    HB_CHECK(ctx, a->tokens, HB_ESHAPE,
             "embedding '%s': input '%s' %s holds features, not token ids (hb_net_input_tokens)",
             name, in, hb__net_shape_str(a, buf, sizeof buf));
    int64_t T = a->dims[0];
    HB_TRY(hb__net_add_block(net, &op, wname, HB_BLOCK_EMBEDDING, 2, (int64_t[]){a->vocab, width},
                             HB_INIT_TORCH_EMBEDDING, 0, 0));
    return hb__net_commit_op(net, &op, 2, (int64_t[]){T, width});
}

int hb_net_pos_embedding(hb_net *net, const char *name, const char *in, const char *out) {
    if (!net) return HB_EINVAL;
    hb_context *ctx = hb__net_ctx(net);
    HB_CHECK(ctx, name && in && out, HB_EINVAL, "hb_net_pos_embedding: NULL name or activation");
    char wname[HB_MAX_BLOCK_NAME + 1], buf[96];
    HB_TRY(hb__seq_block_name(ctx, "pos_embedding", name, ".weight", wname));
    hb__net_op op;
    HB_TRY(hb__net_begin_op(net, &hb__op_pos_embedding, &in, 1, out, &op));
    const hb__act *a = hb__net_act(net, op.in[0]);
    HB_CHECK(ctx, !a->tokens && a->ndim == 2, HB_ESHAPE,
             "pos_embedding '%s': input '%s' is %s, expected a sequence (T, C)", name, in,
             hb__net_shape_str(a, buf, sizeof buf));
    const int64_t shape[2] = {a->dims[0], a->dims[1]};
    HB_TRY(hb__net_add_block(net, &op, wname, HB_BLOCK_EMBEDDING, 2, shape,
                             HB_INIT_TORCH_EMBEDDING, 0, 0));
    return hb__net_commit_op(net, &op, 2, shape);
}
