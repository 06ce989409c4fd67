/* Built-in model 'cnn': `stages` × [conv 3×3 (padding 1) → ReLU → 2×2 pool (average, or
 * max with HB_MK_POOL)], width·2^i channels in stage i, then flatten and a linear head;
 * softmax cross-entropy. Defined on the public network builder (net.h), which gives it
 * exact gradients and Hessian-vector products (docs/models.md "## cnn").
 *
 *   x_0 = images (N, Cin, S, S)
 *   z_i = conv(x_i; W_i, b_i)  (N, C_i, S_i, S_i);  r_i = relu(z_i);  x_{i+1} = pool(r_i)
 *   logits = flat(x_L)·W_headᵀ + b_head
 *
 * Synthetic data: oriented stripes. Class c has orientation α_c = π·c/C; a sample is
 * sin(2π·f·(x·cos α_c + y·sin α_c)/S + φ) with f = 2 cycles per image side and a random
 * phase φ ~ U[0, 2π), the same on every channel, plus N(0, 0.5²) pixel noise. Sample i uses
 * RNG counters i (class, phase) and i·(Cin·S·S) + e (noise): independent of batching. */
#include <stdio.h>

#include "models/builtins.h"
#include "models/common.h"
#include "net/net_internal.h"

#define CNN_TAG 0x434E
enum { CNN_MAX_STAGES = 12 };

typedef struct cnn_data {
    int64_t C, S, Cin; /* classes, image side, input channels */
} cnn_data;

static int cnn_synthetic(hb_model *m, size_t n, uint64_t stream, uint64_t first, hb_tensor **xo,
                         hb_tensor **yo) {
    const cnn_data *p = hb__net_model_user(m);
    hb_context *ctx = m->ctx;
    uint64_t seed = (uint64_t)ctx->seed;
    int64_t S = p->S, per = p->Cin * S * S;
    int64_t xs[4] = {(int64_t)n, p->Cin, S, S}, ys[1] = {(int64_t)n};
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

/* Image data (hb_model_set_images): Cin × S × S. */
static void cnn_image_shape(const hb_model *m, int *ndim, int64_t dims[3], int64_t *classes) {
    const cnn_data *p = hb__net_model_user(m);
    *ndim = 3;
    dims[0] = p->Cin, dims[1] = p->S, dims[2] = p->S;
    *classes = p->C;
}

static void cnn_free(hb_context *ctx, void *user) { hb__free(ctx, user); }

/* Blocks features.{i}.weight (conv) / .bias (bias), head.weight/.bias (both head), PyTorch's
 * Conv2d/Linear init: the builder's defaults. */
static int define(hb_net *net, const cnn_data *p, int64_t width, int64_t stages, hb_net_pool pool) {
    char nm[4][32];
    HB_TRY(hb_net_input_features(net, "x.0", 3, (int64_t[]){p->Cin, p->S, p->S}));
    for (int64_t i = 0; i < stages; i++) {
        long long s = (long long)i;
        snprintf(nm[0], sizeof nm[0], "features.%lld", s);
        snprintf(nm[1], sizeof nm[1], "x.%lld", s);
        snprintf(nm[2], sizeof nm[2], "z.%lld", s);
        snprintf(nm[3], sizeof nm[3], "r.%lld", s);
        HB_TRY(hb_net_conv2d(net, nm[0], nm[1], nm[2], width << i, 3, 1, 1));
        HB_TRY(hb_net_activation(net, HB_ACT_RELU, nm[2], nm[3]));
        snprintf(nm[1], sizeof nm[1], "x.%lld", s + 1);
        HB_TRY(hb_net_pool2d(net, pool, nm[3], nm[1], 2));
    }
    HB_TRY(hb_net_flatten(net, nm[1], "flat"));
    HB_TRY(hb_net_linear(net, "head", "flat", "logits", p->C, 1, HB_BLOCK_HEAD));
    HB_TRY(hb_net_set_block_kind(net, "head.bias", HB_BLOCK_HEAD));
    return hb_net_loss_xent(net, "logits");
}

int hb__cnn_create(hb_context *ctx, const hb_model_config *cfg, hb_model **out) {
    *out = NULL;
    int64_t C = hb__config_i64(cfg, HB_MK_CLASSES), S = hb__config_i64(cfg, HB_MK_IMAGE_SIZE);
    int64_t Cin = hb__config_i64(cfg, HB_MK_CHANNELS), Wd = hb__config_i64(cfg, HB_MK_CONV_WIDTH);
    int64_t L = hb__config_i64(cfg, HB_MK_CONV_STAGES);
    HB_CHECK(ctx, L >= 1 && L <= CNN_MAX_STAGES, HB_EINVAL, "cnn stages must be in 1..%d", CNN_MAX_STAGES);
    HB_CHECK(ctx, (S >> L) >= 1, HB_EINVAL,
             "image side %lld is too small for %lld 2x2-pooling stages", (long long)S, (long long)L);
    HB_CHECK(ctx, Wd <= ((int64_t)1 << 20) >> (L - 1), HB_EINVAL, "cnn width %lld doubled %lld times is too wide",
             (long long)Wd, (long long)(L - 1));
    cnn_data *p = hb__malloc(ctx, sizeof *p, "cnn model");
    if (!p) return HB_ENOMEM;
    p->C = C, p->S = S, p->Cin = Cin;
    hb_net *net = NULL;
    int rc = hb_net_create(ctx, (hb_dtype)hb__config_i64(cfg, HB_MK_DTYPE), &net);
    if (rc == HB_OK) rc = define(net, p, Wd, L, (hb_net_pool)hb__config_i64(cfg, HB_MK_POOL));
    hb__net_hooks hooks = {"cnn", HB_MODEL_CNN, cnn_synthetic, NULL, p, cnn_free, cnn_image_shape};
    if (rc == HB_OK) rc = hb__model_create_net_hooks(net, &hooks, out);
    hb_net_free(net);
    if (rc != HB_OK) hb__free(ctx, p);
    return rc;
}
