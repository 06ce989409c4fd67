/* Built-in model 'cnn': `stages` × [conv 3×3 (padding 1) → ReLU → 2×2 average pool], with
 * width·2^i channels in stage i, then flatten and a linear head; softmax cross-entropy.
 *
 *   x_0 = images (N, Cin, S, S)
 *   z_i = conv(x_i; W_i, b_i)  (N, C_i, S_i, S_i);  r_i = relu(z_i);  x_{i+1} = avgpool(r_i)
 *   logits = flat(x_L)·W_headᵀ + b_head
 *
 * Exact H·V by the R-operator through lib/nn (conv2d, activation, pool, linear, xent),
 * structured as the mlp: shared θ pass, R-forward from the first layer holding a
 * direction, R-backward down to it; block_hvp starts at the block's layer. ReLU makes the
 * loss piecewise smooth: the HVP is the Hessian with the ReLU pattern fixed at θ; average
 * pooling is linear, so it adds no selection of its own (see lib/nn/pool.h).
 *
 * Synthetic data: oriented stripes. Class c has orientation α_c = π·c/C; a sample is
 * sin(2π·f·(x·cos α_c + y·sin α_c)/S + φ) with f = 2 cycles per image side and a random
 * phase φ ~ U[0, 2π), the same on every channel, plus N(0, 0.5²) pixel noise. Sample i uses
 * RNG counters i (class, phase) and i·(Cin·S·S) + e (noise): independent of batching. */
#include <stdio.h>

#include "models/builtins.h"
#include "models/common.h"
#include "nn/activation.h"
#include "nn/conv2d.h"
#include "nn/linear.h"
#include "nn/pool.h"
#include "nn/xent.h"

#define CNN_TAG 0x434E
enum { CNN_MAXL = 13 }; /* 12 stages + head */

typedef struct cnn {
    int64_t C, S0, Cin0, L;            /* classes, image side, input channels, stages */
    int64_t cin[CNN_MAXL], cout[CNN_MAXL], side[CNN_MAXL + 1];
    int64_t F;                         /* head inputs */
    size_t wblk[CNN_MAXL], bblk[CNN_MAXL];
    hb__workspace ws, wv; /* pass buffers; block-major directions and products */
} cnn;

static void cnn_destroy(hb_model *m) {
    cnn *p = m->impl;
    if (!p) return;
    hb__free(m->ctx, p->ws.buf);
    hb__free(m->ctx, p->wv.buf);
    hb__free(m->ctx, p);
    m->impl = NULL;
}

typedef struct rjob {
    size_t k, first;
    const void *RW[CNN_MAXL], *Rb[CNN_MAXL];
    void *RdW[CNN_MAXL], *Rdb[CNN_MAXL];
} rjob;

static int cnn_run(hb_model *m, const hb__batch *bt, double *loss, void *grad, double scale,
                   const rjob *r, size_t *correct) {
    cnn *p = m->impl;
    hb_context *ctx = m->ctx;
    hb_dtype dt = m->compute;
    size_t es = hb_dtype_size(dt);
    const hb_params *pr = m->params;
    const char *th = hb__model_theta(m);
    int64_t N = (int64_t)bt->n_samples, L = p->L, C = p->C;
    size_t k = r ? r->k : 0;
    int64_t first = r ? (int64_t)r->first : 0;
    bool back = grad != NULL || k > 0;
    size_t xs[CNN_MAXL + 1], zs[CNN_MAXL]; /* per-sample sizes */
    for (int64_t i = 0; i <= L; i++) xs[i] = (size_t)(i < L ? p->cin[i] : p->F) * (i < L ? (size_t)(p->side[i] * p->side[i]) : 1);
    for (int64_t i = 0; i < L; i++) zs[i] = (size_t)(p->cout[i] * p->side[i] * p->side[i]);
    const void *x0;
    void *xconv;
    HB_TRY(hb__batch_inputs(m, bt, &x0, &xconv));
    const void *x[CNN_MAXL + 1];
    void *z[CNN_MAXL], *rl[CNN_MAXL], *dx[CNN_MAXL + 1] = {0}, *dz[CNN_MAXL] = {0}, *dr[CNN_MAXL] = {0};
    void *Rx[CNN_MAXL + 1] = {0}, *Rz[CNN_MAXL] = {0}, *Rr[CNN_MAXL] = {0};
    void *Rdx[CNN_MAXL + 1] = {0}, *Rdz[CNN_MAXL] = {0}, *Rdr[CNN_MAXL] = {0};
    void *logits = NULL, *probs = NULL, *dlogits = NULL, *Rlogits = NULL, *Rdlogits = NULL;
    /* workspace: forward quantities written (take), backward ones accumulated (takez);
     * then R buffers for a chunk of kc directions (R accumulators re-zeroed per chunk).
     * kc bounds the R memory to ≈ 4 MiB per buffer (k·N·C·S² scalars would otherwise
     * grow with the number of SLQ probes) while keeping im2col(x) shared by kc directions. */
    size_t zmax = (size_t)N * (size_t)C;
    for (int64_t i = 0; i < L; i++) zmax = (size_t)N * zs[i] > zmax ? (size_t)N * zs[i] : zmax;
    size_t kc = k ? (4u << 20) / (zmax * es) : 0;
    kc = k ? (kc < 1 ? 1 : kc > k ? k : kc) : 0;
    hb__arena A = {.es = es};
    size_t rz0 = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && hb__arena_start(ctx, &p->ws, &A) != HB_OK) {
            hb__free(ctx, xconv);
            return HB_ENOMEM;
        }
        x[0] = x0;
        for (int64_t i = 0; i <= L; i++) {
            size_t xn = (size_t)N * xs[i];
            if (i > 0) {
                x[i] = hb__take(&A, xn);
                if (back) dx[i] = hb__takez(&A, xn);
            }
            if (i < L) {
                size_t zn = (size_t)N * zs[i];
                z[i] = hb__take(&A, zn), rl[i] = hb__take(&A, zn);
                if (back) dz[i] = hb__takez(&A, zn), dr[i] = hb__takez(&A, zn);
            }
        }
        logits = hb__take(&A, (size_t)(N * C)), probs = hb__take(&A, (size_t)(N * C));
        dlogits = back ? hb__takez(&A, (size_t)(N * C)) : NULL;
        rz0 = A.zused;
        for (int64_t i = 0; kc && i <= L; i++) {
            size_t xn = (size_t)N * xs[i];
            if (i > 0) Rx[i] = hb__take(&A, kc * xn), Rdx[i] = hb__takez(&A, kc * xn);
            if (i < L) {
                size_t zn = (size_t)N * zs[i];
                Rz[i] = hb__take(&A, kc * zn), Rr[i] = hb__take(&A, kc * zn),
                Rdz[i] = hb__takez(&A, kc * zn), Rdr[i] = hb__takez(&A, kc * zn);
            }
        }
        Rlogits = kc ? hb__take(&A, kc * (size_t)(N * C)) : NULL;
        Rdlogits = kc ? hb__takez(&A, kc * (size_t)(N * C)) : NULL;
    }
    char *rzero = A.base + (A.zstart + rz0) * es;
    size_t rzero_bytes = (A.zused - rz0) * es;
#define W_(i) (th + pr->blocks[p->wblk[i]].offset * es)
#define B_(i) (th + pr->blocks[p->bblk[i]].offset * es)
#define G_(blk) (grad ? (char *)grad + pr->blocks[blk].offset * es : NULL)
#define SHAPE(i) {N, p->cin[i], p->cout[i], p->side[i], 3, 1}
    const int32_t *t = bt->targets->data;
    int rc = HB_OK;
    /* θ forward */
    for (int64_t i = 0; i < L && rc == HB_OK; i++) {
        hb__conv2d_shape s = SHAPE(i);
        int64_t zn = N * (int64_t)zs[i];
        rc = hb__conv2d_forward(ctx, dt, &s, x[i], W_(i), B_(i), z[i]);
        if (rc == HB_OK) rc = hb__activation_forward(ctx, dt, HB_ACT_RELU, zn, z[i], rl[i]);
        if (rc == HB_OK) rc = hb__avgpool2_forward(ctx, dt, N * p->cout[i], p->side[i], rl[i], (void *)x[i + 1]);
    }
    if (rc == HB_OK) rc = hb__linear_forward(ctx, dt, N, p->F, C, x[L], W_(L), B_(L), logits);
    double l = 0;
    if (rc == HB_OK && correct) rc = hb__xent_correct(ctx, dt, N, C, logits, t, correct);
    if (rc == HB_OK && !correct) rc = hb__xent_forward(ctx, dt, N, C, logits, t, probs, &l);
    if (loss) *loss = l;
    /* θ backward, down to `first` when only an HVP is wanted */
    int64_t stop = grad ? 0 : first;
    if (rc == HB_OK && back) {
        rc = hb__xent_backward(ctx, dt, N, C, probs, t, scale, dlogits);
        if (rc == HB_OK)
            rc = hb__linear_backward(ctx, dt, N, p->F, C, x[L], W_(L), dlogits, L > stop ? dx[L] : NULL,
                                     G_(p->wblk[L]), G_(p->bblk[L]));
    }
    for (int64_t i = L - 1; back && i >= stop && rc == HB_OK; i--) {
        hb__conv2d_shape s = SHAPE(i);
        rc = hb__avgpool2_backward(ctx, dt, N * p->cout[i], p->side[i], dx[i + 1], dr[i]);
        if (rc == HB_OK) rc = hb__activation_backward(ctx, dt, HB_ACT_RELU, N * (int64_t)zs[i], z[i], dr[i], dz[i]);
        if (rc == HB_OK)
            rc = hb__conv2d_backward(ctx, dt, &s, x[i], W_(i), dz[i], i > stop ? dx[i] : NULL,
                                     G_(p->wblk[i]), G_(p->bblk[i]));
    }
    /* R pass, kc directions at a time (a chunk is a contiguous sub-slab of every block's
     * (k, numel) directions). */
    const void *RW[CNN_MAXL], *Rb[CNN_MAXL];
    void *RdW[CNN_MAXL], *Rdb[CNN_MAXL];
    for (size_t j0 = 0; j0 < k && rc == HB_OK; j0 += kc) {
        int64_t kk = (int64_t)(k - j0 < kc ? k - j0 : kc);
        if (j0 > 0) memset(rzero, 0, rzero_bytes);
        for (int64_t i = first; i <= L; i++) {
            size_t wn = pr->blocks[p->wblk[i]].numel * es * j0, bn = pr->blocks[p->bblk[i]].numel * es * j0;
            RW[i] = r->RW[i] ? (const char *)r->RW[i] + wn : NULL;
            Rb[i] = r->Rb[i] ? (const char *)r->Rb[i] + bn : NULL;
            RdW[i] = r->RdW[i] ? (char *)r->RdW[i] + wn : NULL;
            Rdb[i] = r->Rdb[i] ? (char *)r->Rdb[i] + bn : NULL;
        }
        /* R forward from `first` */
        for (int64_t i = first; i < L && rc == HB_OK; i++) {
            hb__conv2d_shape s = SHAPE(i);
            int64_t zn = N * (int64_t)zs[i];
            rc = hb__conv2d_rop_forward(ctx, dt, &s, kk, x[i], W_(i), i > first ? Rx[i] : NULL,
                                        RW[i], Rb[i], Rz[i]);
            if (rc == HB_OK) rc = hb__activation_rop_forward(ctx, dt, HB_ACT_RELU, zn, kk, z[i], Rz[i], Rr[i]);
            if (rc == HB_OK)
                rc = hb__avgpool2_rop_forward(ctx, dt, N * p->cout[i], p->side[i], kk, Rr[i], Rx[i + 1]);
        }
        if (rc == HB_OK)
            rc = hb__linear_rop_forward(ctx, dt, N, p->F, C, kk, x[L], W_(L), L > first ? Rx[L] : NULL,
                                        RW[L], Rb[L], Rlogits);
        /* R backward down to `first` */
        if (rc == HB_OK) rc = hb__xent_rop_backward(ctx, dt, N, C, kk, probs, Rlogits, scale, Rdlogits);
        if (rc == HB_OK)
            rc = hb__linear_rop_backward(ctx, dt, N, p->F, C, kk, x[L], W_(L), dlogits,
                                         L > first ? Rx[L] : NULL, RW[L], Rdlogits,
                                         L > first ? Rdx[L] : NULL, RdW[L], Rdb[L]);
        for (int64_t i = L - 1; i >= first && rc == HB_OK; i--) {
            hb__conv2d_shape s = SHAPE(i);
            bool below = i > first;
            rc = hb__avgpool2_rop_backward(ctx, dt, N * p->cout[i], p->side[i], kk, Rdx[i + 1], Rdr[i]);
            if (rc == HB_OK)
                rc = hb__activation_rop_backward(ctx, dt, HB_ACT_RELU, N * (int64_t)zs[i], kk, z[i], dr[i],
                                                 Rz[i], Rdr[i], Rdz[i]);
            if (rc == HB_OK)
                rc = hb__conv2d_rop_backward(ctx, dt, &s, kk, x[i], W_(i), dz[i], below ? Rx[i] : NULL,
                                             RW[i], Rdz[i], below ? Rdx[i] : NULL, RdW[i], Rdb[i]);
        }
    }
#undef W_
#undef B_
#undef G_
#undef SHAPE
    hb__free(ctx, xconv);
    return rc;
}

static int cnn_loss_grad(hb_model *m, const hb__batch *b, double *loss, void *grad, double scale) {
    return cnn_run(m, b, loss, grad, scale, NULL, NULL);
}

static int cnn_accuracy(hb_model *m, const hb__batch *b, size_t *correct, size_t *total) {
    *total = b->n_samples;
    return cnn_run(m, b, NULL, NULL, 1.0, NULL, correct);
}

static int cnn_hvp_multi(hb_model *m, const hb__batch *b, size_t k, const void *V, void *OUT,
                         double scale) {
    cnn *p = m->impl;
    rjob r = {.k = k, .first = 0};
    char *Ob;
    HB_TRY(hb__hvp_stage(m->ctx, &p->wv, m->params, hb_dtype_size(m->compute), k, V,
                         (size_t)p->L + 1, p->wblk, p->bblk, r.RW, r.Rb, r.RdW, r.Rdb, &Ob));
    int rc = cnn_run(m, b, NULL, NULL, scale, &r, NULL);
    if (rc == HB_OK) hb__add_from_block_major(m->params, m->compute, k, Ob, OUT, 1.0, SIZE_MAX);
    return rc;
}

static int cnn_block_hvp(hb_model *m, const hb__batch *b, size_t block, size_t k,
                         const void *V_b, void *OUT_b, double scale) {
    cnn *p = m->impl;
    rjob r = {.k = k, .first = 0};
    for (int64_t i = 0; i <= p->L; i++) {
        if (p->wblk[i] == block) r.RW[i] = V_b, r.RdW[i] = OUT_b, r.first = (size_t)i;
        if (p->bblk[i] == block) r.Rb[i] = V_b, r.Rdb[i] = OUT_b, r.first = (size_t)i;
    }
    return cnn_run(m, b, NULL, NULL, scale, &r, NULL);
}

static int cnn_check_batch(hb_model *m, const hb_tensor *x, const hb_tensor *y, size_t *n) {
    cnn *p = m->impl;
    int64_t dims[4] = {0, p->Cin0, p->S0, p->S0};
    return hb__check_class_batch(m->ctx, "cnn", x, y, 4, dims, p->C, n);
}

static int cnn_synthetic(hb_model *m, size_t n, uint64_t stream, uint64_t first, hb_tensor **xo,
                         hb_tensor **yo) {
    cnn *p = m->impl;
    hb_context *ctx = m->ctx;
    uint64_t seed = (uint64_t)ctx->seed;
    int64_t S = p->S0, per = p->Cin0 * S * S;
    int64_t xs[4] = {(int64_t)n, p->Cin0, S, S}, ys[1] = {(int64_t)n};
    HB_TRY(hb_tensor_create(ctx, m->compute, 4, xs, xo));
    int rc = hb_tensor_create(ctx, HB_I32, 1, ys, yo);
    if (rc != HB_OK) {
        hb_tensor_free(*xo);
        *xo = NULL;
        return rc;
    }
    int32_t *t = (*yo)->data;
    uint64_t sl = HB__DATA_STREAM(CNN_TAG, stream, 1), sp = HB__DATA_STREAM(CNN_TAG, stream, 2),
             sn = HB__DATA_STREAM(CNN_TAG, stream, 3);
    const double two_pi = 6.283185307179586, f = 2.0;
    for (size_t s = 0; s < n; s++) {
        uint64_t i = first + s;
        int64_t c = (int64_t)(hb__uniform01(seed, sl, i) * (double)p->C);
        if (c >= p->C) c = p->C - 1;
        t[s] = (int32_t)c;
        double a = 0.5 * two_pi * (double)c / (double)p->C, phi = two_pi * hb__uniform01(seed, sp, i);
        double ca = cos(a), sa = sin(a);
        for (int64_t e = 0; e < per; e++) {
            int64_t yy = (e / S) % S, xx = e % S;
            double v = sin(two_pi * f * ((double)xx * ca + (double)yy * sa) / (double)S + phi) +
                       0.5 * hb__normal(seed, sn, i * (uint64_t)per + (uint64_t)e);
            hb__store(m->compute, (*xo)->data, s * (size_t)per + (size_t)e, v);
        }
    }
    return HB_OK;
}

static const hb__model_vtable cnn_vtable = {
    .name = "cnn",
    .check_batch = cnn_check_batch,
    .loss_grad = cnn_loss_grad,
    .hvp_multi = cnn_hvp_multi,
    .block_hvp = cnn_block_hvp,
    .accuracy = cnn_accuracy,
    .synthetic = cnn_synthetic,
    .destroy = cnn_destroy,
};

int hb__cnn_create(hb_context *ctx, const hb_model_config *cfg, hb_model **out) {
    *out = NULL;
    int64_t C = hb__config_i64(cfg, HB_MK_CLASSES), S0 = hb__config_i64(cfg, HB_MK_IMAGE_SIZE);
    int64_t Cin0 = hb__config_i64(cfg, HB_MK_CHANNELS), Wd = hb__config_i64(cfg, HB_MK_CONV_WIDTH);
    int64_t L = hb__config_i64(cfg, HB_MK_CONV_STAGES);
    HB_CHECK(ctx, L >= 1 && L < CNN_MAXL, HB_EINVAL, "cnn stages must be in 1..%d", CNN_MAXL - 1);
    HB_CHECK(ctx, (S0 >> L) >= 1, HB_EINVAL,
             "image side %lld is too small for %lld 2x2-pooling stages", (long long)S0, (long long)L);
    HB_CHECK(ctx, Wd <= ((int64_t)1 << 20) >> (L - 1), HB_EINVAL, "cnn width %lld doubled %lld times is too wide",
             (long long)Wd, (long long)(L - 1));
    cnn *p = hb__calloc(ctx, 1, sizeof *p, "cnn model");
    if (!p) return HB_ENOMEM;
    p->C = C, p->S0 = S0, p->Cin0 = Cin0, p->L = L;
    p->side[0] = S0;
    for (int64_t i = 0; i < L; i++) {
        p->cin[i] = i == 0 ? Cin0 : p->cout[i - 1];
        p->cout[i] = Wd << i;
        p->side[i + 1] = p->side[i] / 2;
    }
    p->F = p->cout[L - 1] * p->side[L] * p->side[L];
    hb_params *pr = NULL;
    int rc = hb_params_create(ctx, (hb_dtype)hb__config_i64(cfg, HB_MK_DTYPE), &pr);
    for (int64_t i = 0; i <= L && rc == HB_OK; i++) {
        char wn[48], bn[48];
        if (i < L) {
            snprintf(wn, sizeof wn, "features.%lld.weight", (long long)i);
            snprintf(bn, sizeof bn, "features.%lld.bias", (long long)i);
            int64_t ws[4] = {p->cout[i], p->cin[i], 3, 3}, bs[1] = {p->cout[i]};
            rc = hb_params_add_block(pr, wn, HB_BLOCK_CONV, 4, ws, &p->wblk[i]);
            if (rc == HB_OK) rc = hb_params_add_block(pr, bn, HB_BLOCK_BIAS, 1, bs, &p->bblk[i]);
        } else {
            int64_t ws[2] = {C, p->F}, bs[1] = {C};
            rc = hb_params_add_block(pr, "head.weight", HB_BLOCK_HEAD, 2, ws, &p->wblk[i]);
            if (rc == HB_OK) rc = hb_params_add_block(pr, "head.bias", HB_BLOCK_HEAD, 1, bs, &p->bblk[i]);
        }
    }
    if (rc == HB_OK) rc = hb_params_finalize(pr);
    for (int64_t i = 0; i <= L && rc == HB_OK; i++) {
        double fan_in = i < L ? (double)(p->cin[i] * 9) : (double)p->F;
        rc = hb_params_init_block(pr, p->wblk[i], HB_INIT_TORCH_LINEAR, 0, 0);
        if (rc == HB_OK) rc = hb_params_init_block(pr, p->bblk[i], HB_INIT_TORCH_LINEAR_BIAS, fan_in, 0);
    }
    if (rc == HB_OK) rc = hb__model_new(ctx, pr, &cnn_vtable, out);
    if (rc != HB_OK) {
        hb__free(ctx, p);
        hb_params_free(pr);
        return rc;
    }
    (*out)->impl = p;
    return HB_OK;
}
