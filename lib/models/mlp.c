/* Built-in model 'mlp': L hidden Linear+activation layers of width H, a linear head,
 * softmax cross-entropy.
 *
 *   a_0 = x (N, D);   z_i = a_i·W_iᵀ + b_i,   a_{i+1} = f(z_i)   (i < L);
 *   logits z_L = a_L·W_headᵀ + b_head (N, C);   loss = mean_n xent(z_L[n], t_n)
 *
 * Exact H·V (k directions) by the R-operator (lib/nn): the θ forward and backward are
 * shared, the R-forward runs from the first layer with a nonzero direction (`first`), the
 * R-backward down to it. block_hvp starts at the block's own layer (every layer below has
 * R = 0) and writes only that block's R(dW) or R(db).
 *
 * Synthetic data: a Gaussian mixture, class c ~ uniform, x = μ_c + ε, ε ~ N(0, I_D),
 * μ_c ~ N(0, (3/√D)² I_D) drawn once from the seed (so ‖μ_c − μ_c'‖ ≈ 4.2, overlapping
 * but learnable classes). Sample i of a stream uses RNG counter i (labels) and i·D + d
 * (features): it does not depend on how samples are batched. */
#include <stdio.h>

#include "models/builtins.h"
#include "models/common.h"
#include "nn/activation.h"
#include "nn/linear.h"
#include "nn/xent.h"

#define MLP_TAG 0x4D4C      /* samples */
#define MLP_MEAN_TAG 0x4D4D /* class means */

typedef struct mlp {
    int64_t D, H, L, C;
    int act;
    int64_t *in, *out;   /* per linear layer (L hidden + head) */
    size_t *wblk, *bblk; /* their block indices */
    double *means;       /* (C, D) */
    hb__workspace ws, wv; /* pass buffers; block-major directions and products */
} mlp;

static void mlp_destroy(hb_model *m) {
    mlp *p = m->impl;
    if (!p) return;
    hb__free(m->ctx, p->in);
    hb__free(m->ctx, p->out);
    hb__free(m->ctx, p->wblk);
    hb__free(m->ctx, p->bblk);
    hb__free(m->ctx, p->means);
    hb__free(m->ctx, p->ws.buf);
    hb__free(m->ctx, p->wv.buf);
    hb__free(m->ctx, p);
    m->impl = NULL;
}

/* One micro-batch through the network.
 *   loss: mean loss out; grad (may be NULL): += scale·∇ (flat, compute dtype);
 *   k > 0: R-pass. RWs[i], Rbs[i]: direction blocks (k, out, in) / (k, out) of linear i
 *   (NULL = zero); RdWs[i], Rdbs[i]: where to accumulate scale·(H·V) for those blocks
 *   (NULL = not wanted). first: lowest layer with a nonzero direction. */
enum { MAXLIN = 257 };

typedef struct rjob {
    size_t k, first;
    const void **RW, **Rb;
    void **RdW, **Rdb;
} rjob;

static int mlp_run(hb_model *m, const hb__batch *bt, double *loss, void *grad, double scale,
                   const rjob *r, size_t *correct) {
    mlp *p = m->impl;
    hb_context *ctx = m->ctx;
    hb_dtype dt = m->compute;
    size_t es = hb_dtype_size(dt);
    const hb_params *pr = m->params;
    const char *th = hb__model_theta(m);
    int64_t N = (int64_t)bt->n_samples, L = p->L, C = p->C;
    size_t k = r ? r->k : 0, first = r ? r->first : 0;
    bool back = grad != NULL || k > 0;

    const void *x0;
    void *xconv;
    HB_TRY(hb__batch_inputs(m, bt, &x0, &xconv));
    enum { MAXL = 258 };
    const void *a[MAXL];
    void *z[MAXL], *dz[MAXL] = {0}, *da[MAXL] = {0}, *Rz[MAXL] = {0}, *Ra[MAXL] = {0},
         *Rdz[MAXL] = {0}, *Rda[MAXL] = {0}, *probs = NULL;
    /* workspace: z_i, a_i written; dz_i, da_i accumulated; then the R buffers for a chunk
     * of kc directions (Rz, Ra written; Rdz, Rda accumulated, re-zeroed per chunk). The R
     * pass runs chunk by chunk so its buffers stay in cache (≈ 256 KiB per buffer). */
    int64_t wmax = C;
    for (int64_t i = 0; i <= L; i++) wmax = p->in[i] > wmax ? p->in[i] : wmax;
    size_t kc = k ? (size_t)((256 * 1024) / ((size_t)(N * wmax) * es)) : 0;
    kc = k ? (kc < 1 ? 1 : kc > k ? k : kc) : 0;
    hb__arena A = {.es = es};
    size_t rz0 = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && hb__arena_start(ctx, &p->ws, &A) != HB_OK) {
            hb__free(ctx, xconv);
            return HB_ENOMEM;
        }
        a[0] = x0;
        for (int64_t i = 0; i <= L; i++) {
            size_t zi = (size_t)(N * p->out[i]), ai = (size_t)(N * p->in[i]);
            z[i] = hb__take(&A, zi);
            if (i > 0) a[i] = hb__take(&A, ai);
            if (back) dz[i] = hb__takez(&A, zi), da[i] = i > 0 ? hb__takez(&A, ai) : NULL;
        }
        probs = hb__take(&A, (size_t)(N * C));
        rz0 = A.zused;
        for (int64_t i = 0; kc && i <= L; i++) {
            size_t zi = (size_t)(N * p->out[i]), ai = (size_t)(N * p->in[i]);
            Rz[i] = hb__take(&A, kc * zi), Rdz[i] = hb__takez(&A, kc * zi);
            if (i > 0) Ra[i] = hb__take(&A, kc * ai), Rda[i] = hb__takez(&A, kc * ai);
        }
    }
    char *rzero = A.base + (A.zstart + rz0) * es; /* the R accumulators, zeroed per chunk */
    size_t rzero_bytes = (A.zused - rz0) * es;
#define W_(i) (th + pr->blocks[p->wblk[i]].offset * es)
#define B_(i) (th + pr->blocks[p->bblk[i]].offset * es)
#define G_(blk) (grad ? (char *)grad + pr->blocks[blk].offset * es : NULL)
    const int32_t *t = bt->targets->data;
    int rc = HB_OK;
    /* θ forward */
    for (int64_t i = 0; i <= L && rc == HB_OK; i++) {
        rc = hb__linear_forward(ctx, dt, N, p->in[i], p->out[i], a[i], W_(i), B_(i), z[i]);
        if (rc == HB_OK && i < L)
            rc = hb__activation_forward(ctx, dt, p->act, N * p->out[i], z[i], (void *)a[i + 1]);
    }
    double l = 0;
    if (rc == HB_OK && correct) rc = hb__xent_correct(ctx, dt, N, C, z[L], t, correct);
    if (rc == HB_OK && !correct) rc = hb__xent_forward(ctx, dt, N, C, z[L], t, probs, &l);
    if (loss) *loss = l;
    /* θ backward (down to `first` only when no gradient is wanted) */
    if (rc == HB_OK && back) rc = hb__xent_backward(ctx, dt, N, C, probs, t, scale, dz[L]);
    int64_t stop = grad ? 0 : (int64_t)first;
    for (int64_t i = L; back && i >= stop && rc == HB_OK; i--) {
        rc = hb__linear_backward(ctx, dt, N, p->in[i], p->out[i], a[i], W_(i), dz[i],
                                 i > stop ? da[i] : NULL, G_(p->wblk[i]), G_(p->bblk[i]));
        if (rc == HB_OK && i > stop)
            rc = hb__activation_backward(ctx, dt, p->act, N * p->in[i], z[i - 1], da[i], dz[i - 1]);
    }
    /* R pass, kc directions at a time. Direction j of a block's (k, numel) slab starts at
     * j·numel, so a chunk is a contiguous sub-slab. */
    const void *RW[MAXLIN], *Rb[MAXLIN];
    void *RdW[MAXLIN], *Rdb[MAXLIN];
    for (size_t j0 = 0; j0 < k && rc == HB_OK; j0 += kc) {
        int64_t kk = (int64_t)(k - j0 < kc ? k - j0 : kc);
        if (j0 > 0) memset(rzero, 0, rzero_bytes);
        for (int64_t i = (int64_t)first; i <= L; i++) {
            size_t wn = pr->blocks[p->wblk[i]].numel * es * j0, bn = pr->blocks[p->bblk[i]].numel * es * j0;
            RW[i] = r->RW[i] ? (const char *)r->RW[i] + wn : NULL;
            Rb[i] = r->Rb[i] ? (const char *)r->Rb[i] + bn : NULL;
            RdW[i] = r->RdW[i] ? (char *)r->RdW[i] + wn : NULL;
            Rdb[i] = r->Rdb[i] ? (char *)r->Rdb[i] + bn : NULL;
        }
        /* R forward from `first` (below it every R quantity is 0) */
        for (int64_t i = (int64_t)first; i <= L && rc == HB_OK; i++) {
            rc = hb__linear_rop_forward(ctx, dt, N, p->in[i], p->out[i], kk, a[i], W_(i),
                                        i > (int64_t)first ? Ra[i] : NULL, RW[i], Rb[i], Rz[i]);
            if (rc == HB_OK && i < L)
                rc = hb__activation_rop_forward(ctx, dt, p->act, N * p->out[i], kk, z[i], Rz[i],
                                                Ra[i + 1]);
        }
        /* R backward down to `first` */
        if (rc == HB_OK) rc = hb__xent_rop_backward(ctx, dt, N, C, kk, probs, Rz[L], scale, Rdz[L]);
        for (int64_t i = L; i >= (int64_t)first && rc == HB_OK; i--) {
            bool below = i > (int64_t)first;
            rc = hb__linear_rop_backward(ctx, dt, N, p->in[i], p->out[i], kk, a[i], W_(i), dz[i],
                                         below ? Ra[i] : NULL, RW[i], Rdz[i], below ? Rda[i] : NULL,
                                         RdW[i], Rdb[i]);
            if (rc == HB_OK && below)
                rc = hb__activation_rop_backward(ctx, dt, p->act, N * p->in[i], kk, z[i - 1], da[i],
                                                 Rz[i - 1], Rda[i], Rdz[i - 1]);
        }
    }
#undef W_
#undef B_
#undef G_
    hb__free(ctx, xconv);
    return rc;
}

static int mlp_loss_grad(hb_model *m, const hb__batch *b, double *loss, void *grad, double scale) {
    return mlp_run(m, b, loss, grad, scale, NULL, NULL);
}

static int mlp_accuracy(hb_model *m, const hb__batch *b, size_t *correct, size_t *total) {
    *total = b->n_samples;
    return mlp_run(m, b, NULL, NULL, 1.0, NULL, correct);
}

static int mlp_hvp_multi(hb_model *m, const hb__batch *b, size_t k, const void *V, void *OUT,
                         double scale) {
    mlp *p = m->impl;
    const void *RW[MAXLIN], *Rb[MAXLIN];
    void *RdW[MAXLIN], *Rdb[MAXLIN];
    char *Ob;
    HB_TRY(hb__hvp_stage(m->ctx, &p->wv, m->params, hb_dtype_size(m->compute), k, V,
                         (size_t)p->L + 1, p->wblk, p->bblk, RW, Rb, RdW, Rdb, &Ob));
    rjob r = {k, 0, RW, Rb, RdW, Rdb};
    int rc = mlp_run(m, b, NULL, NULL, scale, &r, NULL);
    if (rc == HB_OK) hb__add_from_block_major(m->params, m->compute, k, Ob, OUT, 1.0, SIZE_MAX);
    return rc;
}

/* The R-pass starts at the block's layer; only the block's own R(d·) is written. */
static int mlp_block_hvp(hb_model *m, const hb__batch *b, size_t block, size_t k,
                         const void *V_b, void *OUT_b, double scale) {
    mlp *p = m->impl;
    const void *RW[MAXLIN] = {0}, *Rb[MAXLIN] = {0};
    void *RdW[MAXLIN] = {0}, *Rdb[MAXLIN] = {0};
    size_t first = 0;
    for (int64_t i = 0; i <= p->L; i++) {
        if (p->wblk[i] == block) RW[i] = V_b, RdW[i] = OUT_b, first = (size_t)i;
        if (p->bblk[i] == block) Rb[i] = V_b, Rdb[i] = OUT_b, first = (size_t)i;
    }
    rjob r = {k, first, RW, Rb, RdW, Rdb};
    return mlp_run(m, b, NULL, NULL, scale, &r, NULL);
}

static int mlp_check_batch(hb_model *m, const hb_tensor *x, const hb_tensor *y, size_t *n) {
    mlp *p = m->impl;
    int64_t dims[2] = {0, p->D};
    return hb__check_class_batch(m->ctx, "mlp", x, y, 2, dims, p->C, n);
}

static int mlp_synthetic(hb_model *m, size_t n, uint64_t stream, uint64_t first, hb_tensor **xo,
                         hb_tensor **yo) {
    mlp *p = m->impl;
    hb_context *ctx = m->ctx;
    uint64_t seed = (uint64_t)ctx->seed;
    int64_t xs[2] = {(int64_t)n, p->D}, ys[1] = {(int64_t)n};
    HB_TRY(hb_tensor_create(ctx, m->compute, 2, xs, xo));
    int rc = hb_tensor_create(ctx, HB_I32, 1, ys, yo);
    if (rc != HB_OK) {
        hb_tensor_free(*xo);
        *xo = NULL;
        return rc;
    }
    int32_t *t = (*yo)->data;
    uint64_t sl = HB__DATA_STREAM(MLP_TAG, stream, 1), sx = HB__DATA_STREAM(MLP_TAG, stream, 2);
    for (size_t s = 0; s < n; s++) {
        uint64_t i = first + s;
        int64_t c = (int64_t)(hb__uniform01(seed, sl, i) * (double)p->C);
        if (c >= p->C) c = p->C - 1;
        t[s] = (int32_t)c;
        for (int64_t d = 0; d < p->D; d++)
            hb__store(m->compute, (*xo)->data, s * (size_t)p->D + (size_t)d,
                      p->means[c * p->D + d] + hb__normal(seed, sx, i * (uint64_t)p->D + (uint64_t)d));
    }
    return HB_OK;
}

static const hb__model_vtable mlp_vtable = {
    .name = "mlp",
    .check_batch = mlp_check_batch,
    .loss_grad = mlp_loss_grad,
    .hvp_multi = mlp_hvp_multi,
    .block_hvp = mlp_block_hvp,
    .accuracy = mlp_accuracy,
    .synthetic = mlp_synthetic,
    .destroy = mlp_destroy,
};

int hb__mlp_create(hb_context *ctx, const hb_model_config *cfg, hb_model **out) {
    *out = NULL;
    int64_t D = hb__config_i64(cfg, HB_MK_INPUTS), H = hb__config_i64(cfg, HB_MK_WIDTH);
    int64_t L = hb__config_i64(cfg, HB_MK_LAYERS), C = hb__config_i64(cfg, HB_MK_CLASSES);
    HB_CHECK(ctx, L + 1 <= MAXLIN, HB_EINVAL, "mlp supports at most %d hidden layers", MAXLIN - 1);
    hb_params *pr = NULL;
    mlp *p = hb__calloc(ctx, 1, sizeof *p, "mlp model");
    int rc = p ? HB_OK : HB_ENOMEM;
    if (rc == HB_OK) {
        p->D = D, p->H = H, p->L = L, p->C = C;
        p->act = (int)hb__config_i64(cfg, HB_MK_ACTIVATION);
        p->in = hb__calloc(ctx, (size_t)L + 1, sizeof(int64_t), "mlp layer sizes");
        p->out = hb__calloc(ctx, (size_t)L + 1, sizeof(int64_t), "mlp layer sizes");
        p->wblk = hb__calloc(ctx, (size_t)L + 1, sizeof(size_t), "mlp block indices");
        p->bblk = hb__calloc(ctx, (size_t)L + 1, sizeof(size_t), "mlp block indices");
        size_t nm;
        rc = hb__mul_size((size_t)C, (size_t)D, &nm) ? HB_OK : hb__fail(ctx, HB_EOVERFLOW, "C x D overflows");
        if (rc == HB_OK) p->means = hb__calloc(ctx, nm, sizeof(double), "mlp class means");
        if (rc == HB_OK && !(p->in && p->out && p->wblk && p->bblk && p->means)) rc = HB_ENOMEM;
    }
    if (rc == HB_OK) rc = hb_params_create(ctx, (hb_dtype)hb__config_i64(cfg, HB_MK_DTYPE), &pr);
    for (int64_t i = 0; i <= L && rc == HB_OK; i++) {
        p->in[i] = i == 0 ? D : H;
        p->out[i] = i == L ? C : H;
        char wn[48], bn[48];
        if (i < L) {
            snprintf(wn, sizeof wn, "layers.%lld.weight", (long long)i);
            snprintf(bn, sizeof bn, "layers.%lld.bias", (long long)i);
        } else {
            snprintf(wn, sizeof wn, "head.weight");
            snprintf(bn, sizeof bn, "head.bias");
        }
        int64_t ws[2] = {p->out[i], p->in[i]}, bs[1] = {p->out[i]};
        rc = hb_params_add_block(pr, wn, i < L ? HB_BLOCK_LINEAR : HB_BLOCK_HEAD, 2, ws, &p->wblk[i]);
        if (rc == HB_OK)
            rc = hb_params_add_block(pr, bn, i < L ? HB_BLOCK_BIAS : HB_BLOCK_HEAD, 1, bs, &p->bblk[i]);
    }
    if (rc == HB_OK) rc = hb_params_finalize(pr);
    for (int64_t i = 0; i <= L && rc == HB_OK; i++) {
        rc = hb_params_init_block(pr, p->wblk[i], HB_INIT_TORCH_LINEAR, 0, 0);
        if (rc == HB_OK)
            rc = hb_params_init_block(pr, p->bblk[i], HB_INIT_TORCH_LINEAR_BIAS, (double)p->in[i], 0);
    }
    if (rc == HB_OK) {
        uint64_t seed = (uint64_t)ctx->seed, sm = HB__DATA_STREAM(MLP_MEAN_TAG, 0, 0);
        double sc = 3.0 / sqrt((double)D);
        for (size_t i = 0; i < (size_t)(C * D); i++) p->means[i] = sc * hb__normal(seed, sm, i);
        rc = hb__model_new(ctx, pr, &mlp_vtable, out);
    }
    if (rc != HB_OK) {
        hb_model tmp = {.ctx = ctx, .impl = p};
        mlp_destroy(&tmp);
        hb_params_free(pr);
        return rc;
    }
    (*out)->impl = p;
    return HB_OK;
}
