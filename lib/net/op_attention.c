/* Causal multi-head self-attention of hb_net, its Q, K, V, O projections included:
 *
 *   q = x·Wqᵀ + bq,  k = x·Wkᵀ + bk,  v = x·Wvᵀ + bv              x, q, k, v (N·T, C)
 *   y = per (sequence, head) softmax(q kᵀ/√d + causal mask)·v      P (N, H, T, T), d = C/H
 *   out = y·Woᵀ + bo                                               out (N·T, C)
 * The projections are nn/linear.c, the
 * attention core nn/attention.c; their equations are there. The passes call the kernels
 * in the order of lib/models/gpt.c (forward, backward, rpass: one block's attention), so a
 * gpt rebuilt from ops gives its numbers exactly.
 *
 * Blocks (op->blk, W/V/O index): 0 wq, 1 wq.bias, 2 wk, 3 wk.bias, 4 wv, 5 wv.bias, 6 wo,
 * 7 wo.bias (biases absent: NULL). iarg[0] = heads, iarg[1] = bias.
 * saved  (compute dtype): q, k, v (N·T, C) each, P (N, H, T, T), y (N·T, C); then
 *          g_y, g_q, g_k, g_v (N·T, C), written by the backward for the R-backward.
 * rsaved (k directions):  Rq, Rk, Rv (N·T, k, C) each, RP (N, H, T, k, T), Ry (N·T, k, C).
 * scratch: Rg_y, Rg_q, Rg_k, Rg_v (N·T, k, C); then the attention or dense kernels'
 *          scratch. The R-backward reuses g_y … g_v when the θ backward of this call left
 *          them (c->bwd_ran with an input gradient: every chunk of a full HVP, like the
 *          hand-written gpt); only when that backward did not need them (block HVPs of
 *          this op's own Q/K/V blocks, whose input has no gradient) does the R-backward
 *          form them (one C×C product and an attention backward per chunk).
 * Liveness (as gpt.c's lo/sop logic): with no direction into q, k, v (Rx and the Q/K/V
 * directions all NULL) the R-forward runs only the output projection, with Ry = 0; with
 * nothing wanted below y (Rgx and the Q/K/V outputs all NULL) the R-backward stops after
 * the output projection. */
#include "kernels/kernels.h"
#include "net/op_seq_util.h"
#include "nn/attention.h"
#include "nn/linear.h"
#include "nn/linear.h"

enum { WQ = 0, BQ, WK, BK, WV, BV, WO, BO };

typedef struct attn_dims {
    hb__attn_shape sh;
    size_t M, MC, PP; /* rows N·T; elements of (N·T, C) and of P */
} attn_dims;

/* threads: the (sequence, head) loop's most threads (hb__op_call.threads; the scratch is
 * sized for them) */
static attn_dims dims_of(const hb__net_op *op, const hb__act *acts, size_t N, int threads) {
    const hb__act *a = &acts[op->in[0]];
    attn_dims d;
    d.sh = (hb__attn_shape){N, a->rows, a->width, (size_t)op->iarg[0], threads};
    d.M = N * a->rows;
    d.MC = d.M * a->width;
    d.PP = N * d.sh.H * a->rows * a->rows;
    return d;
}

/* q, k, v, y and P; the gradients of y, q, k, v after them (saved only) */
static size_t five(const hb__net_op *op, const hb__act *acts, size_t N) {
    attn_dims d = dims_of(op, acts, N, 1);
    return 4 * d.MC + d.PP;
}

static size_t attn_saved(const hb__net_op *op, const hb__act *acts, size_t N) {
    return five(op, acts, N) + 4 * dims_of(op, acts, N, 1).MC;
}

static size_t attn_rsaved(const hb__net_op *op, const hb__act *acts, size_t N) {
    return five(op, acts, N); /* the five forward arrays, per direction */
}

/* kernel scratch after the gradient buffers: attention's (one part per thread) or dense's,
 * used one at a time */
static size_t kernel_scratch(const attn_dims *d, size_t k) {
    size_t a = hb__attention_scratch(&d->sh, k ? k : 1), b = hb__linear_rscratch(d->sh.C, d->sh.C, k);
    return a > b ? a : b;
}

static size_t attn_scratch(const hb__net_op *op, const hb__act *acts, size_t N, size_t k,
                           int threads) {
    attn_dims d = dims_of(op, acts, N, threads);
    return 4 * k * d.MC + kernel_scratch(&d, k);
}

/* Pointers into saved / rsaved / scratch (k = 0: the θ passes' scratch layout). */
typedef struct attn_bufs {
    char *q, *k, *v, *P, *y;      /* saved */
    char *Rq, *Rk, *Rv, *RP, *Ry; /* rsaved */
    char *gy_, *gq, *gk, *gv;     /* saved: θ gradients of y, q, k, v */
    char *Rgy_, *Rgq, *Rgk, *Rgv; /* scratch: their R versions */
    char *ws;                     /* scratch: the kernels' */
} attn_bufs;

static attn_bufs bufs_of(const hb__op_call *c, const attn_dims *d, size_t k) {
    size_t es = hb_dtype_size(c->dt), MC = d->MC * es;
    attn_bufs b = {0};
    char *s = c->saved, *r = c->rsaved, *w = c->scratch;
    if (s) {
        b.q = s, b.k = s + MC, b.v = s + 2 * MC, b.P = s + 3 * MC;
        b.y = b.P + d->PP * es;
        b.gy_ = b.y + MC, b.gq = b.gy_ + MC, b.gk = b.gy_ + 2 * MC, b.gv = b.gy_ + 3 * MC;
    }
    if (r) {
        b.Rq = r, b.Rk = r + k * MC, b.Rv = r + 2 * k * MC, b.RP = r + 3 * k * MC;
        b.Ry = b.RP + k * d->PP * es;
    }
    if (w) {
        b.Rgy_ = w, b.Rgq = b.Rgy_ + k * MC, b.Rgk = b.Rgy_ + 2 * k * MC;
        b.Rgv = b.Rgy_ + 3 * k * MC;
        b.ws = b.Rgy_ + 4 * k * MC;
    }
    return b;
}

static bool any_dir(const hb__dir *D, int from, int to) {
    for (int i = from; i <= to; i++)
        if (D[i].p) return true;
    return false;
}
static bool any_ptr(void *const *p, int from, int to) {
    for (int i = from; i <= to; i++)
        if (p[i]) return true;
    return false;
}

/* ---- forward: q, k, v, P, y saved; out written ---- */
static int attn_forward(const hb__op_call *c) {
    attn_dims d = dims_of(c->op, c->acts, c->N, c->threads);
    attn_bufs b = bufs_of(c, &d, 0);
    int64_t M = (int64_t)d.M, C = (int64_t)d.sh.C;
    HB_TRY(hb__linear_forward(c->ctx, c->dt, M, C, C, c->x[0], c->W[WQ], c->W[BQ], b.q));
    HB_TRY(hb__linear_forward(c->ctx, c->dt, M, C, C, c->x[0], c->W[WK], c->W[BK], b.k));
    HB_TRY(hb__linear_forward(c->ctx, c->dt, M, C, C, c->x[0], c->W[WV], c->W[BV], b.v));
    HB_TRY(hb__attention_forward(c->ctx, c->dt, &d.sh, b.q, b.k, b.v, b.P, b.y));
    return hb__linear_forward(c->ctx, c->dt, M, C, C, b.y, c->W[WO], c->W[BO], c->y);
}

/* g_y, then g_q, g_k, g_v from gy (all overwritten); gWo, gbo += when given */
static int grads_of_y_qkv(const hb__op_call *c, const attn_dims *d, const attn_bufs *b,
                          void *gWo, void *gbo) {
    int64_t M = (int64_t)d->M, C = (int64_t)d->sh.C;
    HB_TRY(hb__linear_backward_to(c->ctx, c->dt, M, C, C, b->y, c->W[WO], c->gy, b->gy_, true,
                                  gWo, gbo));
    return hb__attention_backward(c->ctx, c->dt, &d->sh, b->q, b->k, b->v, b->P, b->gy_, b->gq,
                                  b->gk, b->gv, b->ws);
}

/* ---- backward: gx += ∂/∂x, gW += ∂/∂W (those not NULL) ---- */
static int attn_backward(const hb__op_call *c) {
    attn_dims d = dims_of(c->op, c->acts, c->N, c->threads);
    attn_bufs b = bufs_of(c, &d, 0);
    int64_t M = (int64_t)d.M, C = (int64_t)d.sh.C;
    bool below = c->gx[0] || any_ptr(c->gW, WQ, BV); /* anything under y wanted */
    if (!below)
        return hb__linear_backward(c->ctx, c->dt, M, C, C, b.y, c->W[WO], c->gy, NULL, c->gW[WO],
                                   c->gW[BO]);
    HB_TRY(grads_of_y_qkv(c, &d, &b, c->gW[WO], c->gW[BO]));
    const char *g[3] = {b.gq, b.gk, b.gv};
    for (int p = 0; p < 3; p++) /* the Q projection writes gx on its first write */
        HB_TRY(hb__linear_backward_to(c->ctx, c->dt, M, C, C, c->x[0], c->W[WQ + 2 * p], g[p],
                                      c->gx[0], p == 0 && c->gx_first[0], c->gW[WQ + 2 * p],
                                      c->gW[BQ + 2 * p]));
    return HB_OK;
}

/* Ry = Rx·Wᵀ + x·RWᵀ + Rb for projection `w` (bias w + 1), k directions */
static int proj_rforward(const hb__op_call *c, const attn_dims *d, int w, const void *x,
                         const void *Rx, void *Ry, void *ws) {
    hb__dir Vw = c->V[w], Vb = c->V[w + 1];
    bool one = hb__seq_one_ld(Vw, Vb);
    HB_TRY(hb__linear_rforward(c->ctx, c->dt, d->M, d->sh.C, d->sh.C, c->k, x, c->W[w], Rx, Vw.p,
                              one ? Vb.p : NULL, hb__seq_ld(Vw, Vb), Ry, ws));
    if (!one) hb__seq_add_dir_rows(c->dt, d->M, c->k, d->sh.C, Vb, Ry);
    return HB_OK;
}

/* ---- R-forward: Rq, Rk, Rv, RP, Ry saved (when q, k, v have a direction); Rout written ---- */
static int attn_rforward(const hb__op_call *c) {
    attn_dims d = dims_of(c->op, c->acts, c->N, c->threads);
    attn_bufs b = bufs_of(c, &d, c->k);
    bool rqkv = c->Rx[0] || any_dir(c->V, WQ, BV);
    if (rqkv) {
        HB_TRY(proj_rforward(c, &d, WQ, c->x[0], c->Rx[0], b.Rq, b.ws));
        HB_TRY(proj_rforward(c, &d, WK, c->x[0], c->Rx[0], b.Rk, b.ws));
        HB_TRY(proj_rforward(c, &d, WV, c->x[0], c->Rx[0], b.Rv, b.ws));
        HB_TRY(hb__attention_rforward(c->ctx, c->dt, &d.sh, c->k, b.q, b.k, b.v, b.P, b.Rq, b.Rk,
                                      b.Rv, b.RP, b.Ry));
    }
    return proj_rforward(c, &d, WO, b.y, rqkv ? b.Ry : NULL, c->Ry, b.ws);
}

/* R of projection `w`'s backward: Rgx += Rgy·W + gy·RW (= when write; Rgx non-NULL),
 * O_w += …, O_b += … */
static int proj_rbackward(const hb__op_call *c, const attn_dims *d, int w, const void *x,
                          const void *gy, const void *Rx, const void *Rgy, void *Rgx, bool write,
                          void *ws) {
    hb__dir Ow = c->O[w], Ob = c->O[w + 1];
    bool one = hb__seq_one_ld(Ow, Ob);
    HB_TRY(hb__linear_rbackward_to(c->ctx, c->dt, d->M, d->sh.C, d->sh.C, c->k, x, c->W[w], gy,
                                   Rx, c->V[w].p, c->V[w].ld, Rgy, Rgx, write, Ow.p,
                                   one ? Ob.p : NULL, hb__seq_ld(Ow, Ob), ws));
    if (!one) hb__seq_sum_dir_rows(c->dt, d->M, c->k, d->sh.C, Rgy, Ob);
    return HB_OK;
}

/* ---- R-backward: Rgx += R(gx), O += R(gW) (those not NULL) ---- */
static int attn_rbackward(const hb__op_call *c) {
    attn_dims d = dims_of(c->op, c->acts, c->N, c->threads);
    attn_bufs b = bufs_of(c, &d, c->k);
    size_t es = hb_dtype_size(c->dt), RMC = c->k * d.MC * es;
    bool rqkv = c->Rx[0] || any_dir(c->V, WQ, BV);
    bool below = c->Rgx[0] || any_dir(c->O, WQ, BV);
    /* g_y … g_v are in saved when this call's θ backward formed them: it did whenever it
     * had an input gradient (c->Rgx[0] non-NULL implies gx[0] was, net_internal.h) */
    if (below && !(c->bwd_ran && c->Rgx[0])) HB_TRY(grads_of_y_qkv(c, &d, &b, NULL, NULL));
    HB_TRY(proj_rbackward(c, &d, WO, b.y, c->gy, rqkv ? b.Ry : NULL, c->Rgy,
                          below ? b.Rgy_ : NULL, true, b.ws));
    if (!below) return HB_OK;
    if (!rqkv) /* the R-forward stopped at the output projection: Rq … RP are zero */
        memset(b.Rq, 0, 3 * RMC + c->k * d.PP * es);
    HB_TRY(hb__attention_rbackward(c->ctx, c->dt, &d.sh, c->k, b.q, b.k, b.v, b.P, b.Rq, b.Rk,
                                   b.Rv, b.RP, b.gy_, b.Rgy_, b.Rgq, b.Rgk, b.Rgv, b.ws));
    HB_TRY(proj_rbackward(c, &d, WQ, c->x[0], b.gq, c->Rx[0], b.Rgq, c->Rgx[0], c->Rgx_first[0],
                          b.ws));
    HB_TRY(proj_rbackward(c, &d, WK, c->x[0], b.gk, c->Rx[0], b.Rgk, c->Rgx[0], false, b.ws));
    return proj_rbackward(c, &d, WV, c->x[0], b.gv, c->Rx[0], b.Rgv, c->Rgx[0], false, b.ws);
}

const hb__op_class hb__op_attention = {
    .name = "attention",
    .saved = attn_saved,
    .rsaved = attn_rsaved,
    .scratch = attn_scratch,
    .writes_first = true, /* the Q projection writes gx / Rgx on a first write */
    .forward = attn_forward,
    .backward = attn_backward,
    .rforward = attn_rforward,
    .rbackward = attn_rbackward,
};

/* ---- constructor ---- */

int hb_net_attention(hb_net *net, const char *name, const char *in, const char *out,
                     int64_t heads, int bias) {
    if (!net) return HB_EINVAL;
    hb_context *ctx = hb__net_ctx(net);
    HB_CHECK(ctx, name && in && out, HB_EINVAL, "hb_net_attention: NULL name or activation");
    HB_CHECK(ctx, heads >= 1, HB_EINVAL, "attention '%s': heads %lld must be ≥ 1", name,
             (long long)heads);
    static const char *const proj[4] = {".wq", ".wk", ".wv", ".wo"};
    static const hb_block_kind kind[4] = {HB_BLOCK_ATTN_Q, HB_BLOCK_ATTN_K, HB_BLOCK_ATTN_V,
                                          HB_BLOCK_ATTN_O};
    char names[8][HB_MAX_BLOCK_NAME + 1], suffix[16], buf[96];
    for (int p = 0; p < 4; p++) {
        snprintf(suffix, sizeof suffix, "%s.bias", proj[p]);
        HB_TRY(hb__seq_block_name(ctx, "attention", name, proj[p], names[2 * p]));
        HB_TRY(hb__seq_block_name(ctx, "attention", name, suffix, names[2 * p + 1]));
    }
    hb__net_op op;
    HB_TRY(hb__net_begin_op(net, &hb__op_attention, &in, 1, out, &op));
    const hb__act *a = hb__net_act(net, op.in[0]);
    HB_CHECK(ctx, !a->tokens && a->ndim == 2, HB_ESHAPE,
             "attention '%s': input '%s' is %s, expected a sequence (T, C)", name, in,
             hb__net_shape_str(a, buf, sizeof buf));
    int64_t T = a->dims[0], C = a->dims[1];
    HB_CHECK(ctx, C % heads == 0, HB_ESHAPE,
             "attention '%s': width C = %lld of input '%s' is not a multiple of %lld heads", name,
             (long long)C, in, (long long)heads);
    op.iarg[0] = heads;
    op.iarg[1] = bias != 0;
    for (int p = 0; p < 4; p++) {
        HB_TRY(hb__net_add_block(net, &op, names[2 * p], kind[p], 2, (int64_t[]){C, C},
                                 HB_INIT_TORCH_LINEAR, 0, 0));
        HB_TRY(hb__net_add_block(net, &op, bias ? names[2 * p + 1] : NULL, HB_BLOCK_BIAS, 1, &C,
                                 HB_INIT_TORCH_LINEAR_BIAS, (double)C, 0));
    }
    return hb__net_commit_op(net, &op, 2, (int64_t[]){T, C});
}
