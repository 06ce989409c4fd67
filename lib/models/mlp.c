/* Built-in model 'mlp': L hidden Linear+activation layers of width H, a linear head,
 * softmax cross-entropy, defined on the public network builder (net.h), which gives it
 * exact gradients and Hessian-vector products (docs/models.md "## mlp"):
 *
 *   a_0 = x (N, D);   z_i = a_i·W_iᵀ + b_i,   a_{i+1} = f(z_i)   (i < L);
 *   logits z_L = a_L·W_headᵀ + b_head (N, C);   loss = mean_n xent(z_L[n], t_n)
 *
 * Synthetic data: a Gaussian mixture, class c ~ uniform, x = μ_c + ε, ε ~ N(0, I_D),
 * μ_c ~ N(0, (3/√D)² I_D) drawn once from the seed (so ‖μ_c − μ_c'‖ ≈ 4.2, overlapping
 * but learnable classes). Sample i of a stream uses RNG counter i (labels) and i·D + d
 * (features): it does not depend on how samples are batched. */
#include <stdio.h>

#include "models/builtins.h"
#include "models/common.h"
#include "net/net_internal.h"

#define MLP_TAG 0x4D4C      /* samples */
#define MLP_MEAN_TAG 0x4D4D /* class means */

typedef struct mlp_data {
    int64_t D, C;
    double means[]; /* (C, D) */
} mlp_data;

static int mlp_synthetic(hb_model *m, size_t n, uint64_t stream, uint64_t first, hb_tensor **xo,
                         hb_tensor **yo) {
    const mlp_data *p = hb__net_model_user(m);
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

/* Image data (hb_model_set_images): a flattened image of D pixels. */
static void mlp_image_shape(const hb_model *m, int *ndim, int64_t dims[3], int64_t *classes) {
    const mlp_data *p = hb__net_model_user(m);
    *ndim = 1;
    dims[0] = p->D;
    *classes = p->C;
}

static void mlp_free(hb_context *ctx, void *user) { hb__free(ctx, user); }

/* Blocks layers.{i}.weight/.bias (linear, bias), head.weight/.bias (both head), PyTorch's
 * nn.Linear init: the builder's defaults. */
static int define(hb_net *net, int64_t D, int64_t H, int64_t L, int64_t C, hb_activation act) {
    char nm[3][32];
    HB_TRY(hb_net_input_features(net, "a.0", 1, (int64_t[]){D}));
    for (int64_t i = 0; i < L; i++) {
        snprintf(nm[0], sizeof nm[0], "layers.%lld", (long long)i);
        snprintf(nm[1], sizeof nm[1], "a.%lld", (long long)i);
        snprintf(nm[2], sizeof nm[2], "z.%lld", (long long)i);
        HB_TRY(hb_net_linear(net, nm[0], nm[1], nm[2], H, 1, HB_BLOCK_LINEAR));
        snprintf(nm[1], sizeof nm[1], "a.%lld", (long long)i + 1);
        HB_TRY(hb_net_activation(net, act, nm[2], nm[1]));
    }
    snprintf(nm[1], sizeof nm[1], "a.%lld", (long long)L);
    HB_TRY(hb_net_linear(net, "head", nm[1], "logits", C, 1, HB_BLOCK_HEAD));
    HB_TRY(hb_net_set_block_kind(net, "head.bias", HB_BLOCK_HEAD));
    return hb_net_loss_xent(net, "logits");
}

int hb__mlp_create(hb_context *ctx, const hb_model_config *cfg, hb_model **out) {
    *out = NULL;
    int64_t D = hb__config_i64(cfg, HB_MK_INPUTS), H = hb__config_i64(cfg, HB_MK_WIDTH);
    int64_t L = hb__config_i64(cfg, HB_MK_LAYERS), C = hb__config_i64(cfg, HB_MK_CLASSES);
    size_t nm;
    HB_CHECK(ctx, hb__mul_size((size_t)C, (size_t)D, &nm) && nm <= (SIZE_MAX - sizeof(mlp_data)) / sizeof(double),
             HB_EOVERFLOW, "mlp classes x inputs overflows");
    mlp_data *p = hb__malloc(ctx, sizeof *p + nm * sizeof(double), "mlp class means");
    if (!p) return HB_ENOMEM;
    p->D = D, p->C = C;
    uint64_t seed = (uint64_t)ctx->seed, sm = HB__DATA_STREAM(MLP_MEAN_TAG, 0, 0);
    double sc = 3.0 / sqrt((double)D);
    for (size_t i = 0; i < nm; i++) p->means[i] = sc * hb__normal(seed, sm, i);
    hb_net *net = NULL;
    int rc = hb_net_create(ctx, (hb_dtype)hb__config_i64(cfg, HB_MK_DTYPE), &net);
    if (rc == HB_OK)
        rc = define(net, D, H, L, C, (hb_activation)hb__config_i64(cfg, HB_MK_ACTIVATION));
    hb__net_hooks hooks = {"mlp", HB_MODEL_MLP, mlp_synthetic, NULL, p, mlp_free, mlp_image_shape};
    if (rc == HB_OK) rc = hb__model_create_net_hooks(net, &hooks, out);
    hb_net_free(net);
    if (rc != HB_OK) hb__free(ctx, p);
    return rc;
}
