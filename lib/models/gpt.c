/* Built-in model 'gpt': a decoder-only transformer (GPT-2 / nanoGPT shape), defined on
 * the public network builder (include/hessblock/net.h), which gives it exact gradients
 * and Hessian-vector products (docs/models.md "## gpt"):
 *
 *   x₀ = wte[idx] + wpe[t]                                   (N·T rows, width C)
 *   for each block i:  x ← x + attn(LN₁(x)),  x ← x + mlp(LN₂(x))    (pre-LN)
 *     attn: causal multi-head self-attention with q/k/v/o projections and biases
 *     mlp(b) = gelu(b·c_fcᵀ + b_fc)·c_projᵀ + b_proj          (F = 4C, GELU tanh form)
 *   z = LN_f(x)·lm_headᵀ  (untied, no bias),   L = mean over the N·T positions of xent
 *
 * This file holds only what the builder cannot know: GPT-2's block names and
 * initialisation, and the synthetic grammar / text data. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model/model_internal.h"
#include "models/builtins.h"
#include "net/net_internal.h"

/* Synthetic data: grammar constants (docs/models.md "## gpt"). */
#define GRAMMAR_STREAM 0x4750545F47524D52ull /* "GPT_GRMR", top bit clear */
#define SUCCESSORS 4                         /* successors per token */
#define COPY_LAG 8                           /* the copy rule looks this far back */
#define COPY_PROB 0.125                      /* probability of the copy rule */

typedef struct gpt_data {
    size_t V, T;
    uint64_t grammar_seed;
} gpt_data;

/* Token t+1 of synthetic sequence `sample` given the tokens so far (docs/models.md). */
static int32_t next_token(const gpt_data *g, uint64_t seed, uint64_t stream, uint64_t sample,
                          size_t t, const int32_t *seq) {
    uint64_t ctr = (sample * (uint64_t)(g->T + 1) + t) * 2;
    double u1 = hb__uniform01(seed, stream, ctr), u2 = hb__uniform01(seed, stream, ctr + 1);
    if (t == 0) return (int32_t)(u1 * (double)g->V);
    if (t >= COPY_LAG && u1 < COPY_PROB) return seq[t - COPY_LAG];
    /* successor i of token a has weight 1/(i+1) */
    double total = 0;
    for (int i = 0; i < SUCCESSORS; i++) total += 1.0 / (i + 1);
    double acc = 0, target = u2 * total;
    int pick = SUCCESSORS - 1;
    for (int i = 0; i < SUCCESSORS; i++) {
        acc += 1.0 / (i + 1);
        if (target < acc) {
            pick = i;
            break;
        }
    }
    uint64_t a = (uint64_t)seq[t - 1];
    double us = hb__uniform01(g->grammar_seed, GRAMMAR_STREAM, a * SUCCESSORS + (uint64_t)pick);
    return (int32_t)(us * (double)g->V);
}

static int gpt_synthetic(hb_model *m, size_t n, uint64_t stream, uint64_t first,
                         hb_tensor **inputs, hb_tensor **targets) {
    const gpt_data *g = hb__net_model_user(m);
    int64_t shape[2] = {(int64_t)n, (int64_t)g->T};
    *inputs = *targets = NULL;
    HB_TRY(hb_tensor_create(m->ctx, HB_I32, 2, shape, inputs));
    int rc = hb_tensor_create(m->ctx, HB_I32, 2, shape, targets);
    int32_t *seq = rc == HB_OK ? hb__malloc(m->ctx, (g->T + 1) * sizeof(int32_t), "sequence") : NULL;
    if (rc == HB_OK && !seq) rc = HB_ENOMEM;
    if (rc != HB_OK) {
        hb_tensor_free(*inputs);
        hb_tensor_free(*targets);
        *inputs = *targets = NULL;
        return rc;
    }
    uint64_t seed = (uint64_t)m->ctx->seed;
    int32_t *x = (*inputs)->data, *y = (*targets)->data;
    for (size_t i = 0; i < n; i++) {
        for (size_t t = 0; t <= g->T; t++) seq[t] = next_token(g, seed, stream, first + i, t, seq);
        memcpy(x + i * g->T, seq, g->T * sizeof(int32_t));
        memcpy(y + i * g->T, seq + 1, g->T * sizeof(int32_t));
    }
    hb__free(m->ctx, seq);
    return HB_OK;
}

/* Text data (hb_model_set_text): windows of T bytes, each byte a token < V. */
static void gpt_text_shape(const hb_model *m, size_t *vocab, size_t *context) {
    const gpt_data *g = hb__net_model_user(m);
    *vocab = g->V;
    *context = g->T;
}

static void gpt_free(hb_context *ctx, void *user) { hb__free(ctx, user); }

#define NAME(i, ...) (snprintf(nm[i], sizeof nm[i], __VA_ARGS__), nm[i])

/* The network, GPT-2's block names and init: N(0, 0.02) for embeddings and weights,
 * N(0, 0.02/√(2L)) for the two projections into the residual stream (attn.wo,
 * mlp.c_proj), biases 0, LayerNorm (1, 0). */
static int define(hb_net *net, int64_t V, int64_t T, int64_t C, int64_t H, int64_t L) {
    char nm[4][HB_MAX_BLOCK_NAME + 1];
    double proj_std = 0.02 / sqrt(2.0 * (double)L);
    HB_TRY(hb_net_input_tokens(net, "idx", T, V));
    HB_TRY(hb_net_embedding(net, "wte", "idx", "tok", C));
    HB_TRY(hb_net_pos_embedding(net, "wpe", "tok", "x.0"));
    HB_TRY(hb_net_rename_block(net, "wte.weight", "wte"));
    HB_TRY(hb_net_rename_block(net, "wpe.weight", "wpe"));
    HB_TRY(hb_net_set_init(net, "wte", HB_INIT_NORMAL, 0, 0.02));
    HB_TRY(hb_net_set_init(net, "wpe", HB_INIT_NORMAL, 0, 0.02));
    for (int64_t l = 0; l < L; l++) {
        long long i = (long long)l;
        HB_TRY(hb_net_layernorm(net, NAME(0, "h.%lld.ln_1", i), NAME(1, "x.%lld", i),
                                NAME(2, "h.%lld.a", i), 1e-5));
        HB_TRY(hb_net_attention(net, NAME(0, "h.%lld.attn", i), NAME(1, "h.%lld.a", i),
                                NAME(2, "h.%lld.y", i), H, 1));
        HB_TRY(hb_net_add(net, NAME(0, "x.%lld", i), NAME(1, "h.%lld.y", i), NAME(2, "h.%lld.xm", i)));
        HB_TRY(hb_net_layernorm(net, NAME(0, "h.%lld.ln_2", i), NAME(1, "h.%lld.xm", i),
                                NAME(2, "h.%lld.b", i), 1e-5));
        HB_TRY(hb_net_linear(net, NAME(0, "h.%lld.mlp.c_fc", i), NAME(1, "h.%lld.b", i),
                             NAME(2, "h.%lld.f", i), 4 * C, 1, HB_BLOCK_MLP_IN));
        HB_TRY(hb_net_activation(net, HB_ACT_GELU, NAME(0, "h.%lld.f", i), NAME(1, "h.%lld.g", i)));
        HB_TRY(hb_net_linear(net, NAME(0, "h.%lld.mlp.c_proj", i), NAME(1, "h.%lld.g", i),
                             NAME(2, "h.%lld.p", i), C, 1, HB_BLOCK_MLP_OUT));
        HB_TRY(hb_net_add(net, NAME(0, "h.%lld.xm", i), NAME(1, "h.%lld.p", i), NAME(2, "x.%lld", i + 1)));
        static const char *const w[] = {"attn.wq", "attn.wk", "attn.wv", "attn.wo"};
        for (int j = 0; j < 4; j++) {
            HB_TRY(hb_net_set_init(net, NAME(0, "h.%lld.%s", i, w[j]), HB_INIT_NORMAL, 0, j == 3 ? proj_std : 0.02));
            HB_TRY(hb_net_set_init(net, NAME(0, "h.%lld.%s.bias", i, w[j]), HB_INIT_ZEROS, 0, 0));
        }
        HB_TRY(hb_net_rename_block(net, NAME(0, "h.%lld.mlp.c_fc.weight", i), NAME(1, "h.%lld.mlp.c_fc", i)));
        HB_TRY(hb_net_rename_block(net, NAME(0, "h.%lld.mlp.c_proj.weight", i), NAME(1, "h.%lld.mlp.c_proj", i)));
        HB_TRY(hb_net_set_init(net, NAME(0, "h.%lld.mlp.c_fc", i), HB_INIT_NORMAL, 0, 0.02));
        HB_TRY(hb_net_set_init(net, NAME(0, "h.%lld.mlp.c_proj", i), HB_INIT_NORMAL, 0, proj_std));
        HB_TRY(hb_net_set_init(net, NAME(0, "h.%lld.mlp.c_fc.bias", i), HB_INIT_ZEROS, 0, 0));
        HB_TRY(hb_net_set_init(net, NAME(0, "h.%lld.mlp.c_proj.bias", i), HB_INIT_ZEROS, 0, 0));
    }
    HB_TRY(hb_net_layernorm(net, "ln_f", NAME(0, "x.%lld", (long long)L), "xf", 1e-5));
    HB_TRY(hb_net_linear(net, "lm_head", "xf", "logits", V, 0, HB_BLOCK_HEAD));
    HB_TRY(hb_net_rename_block(net, "lm_head.weight", "lm_head"));
    HB_TRY(hb_net_set_init(net, "lm_head", HB_INIT_NORMAL, 0, 0.02));
    return hb_net_loss_xent(net, "logits");
}

int hb__gpt_create(hb_context *ctx, const hb_model_config *cfg, hb_model **out) {
    *out = NULL;
    int64_t V = hb__config_i64(cfg, HB_MK_VOCAB), T = hb__config_i64(cfg, HB_MK_CONTEXT);
    int64_t C = hb__config_i64(cfg, HB_MK_WIDTH), H = hb__config_i64(cfg, HB_MK_HEADS);
    int64_t L = hb__config_i64(cfg, HB_MK_LAYERS);
    HB_CHECK(ctx, C % H == 0, HB_EINVAL, "gpt width %lld must be a multiple of the %lld heads",
             (long long)C, (long long)H);
    gpt_data *g = hb__calloc(ctx, 1, sizeof *g, "gpt model");
    if (!g) return HB_ENOMEM;
    g->V = (size_t)V, g->T = (size_t)T, g->grammar_seed = (uint64_t)ctx->seed;
    hb_net *net = NULL;
    int rc = hb_net_create(ctx, (hb_dtype)hb__config_i64(cfg, HB_MK_DTYPE), &net);
    if (rc == HB_OK) rc = define(net, V, T, C, H, L);
    hb__net_hooks hooks = {"gpt", HB_MODEL_GPT, gpt_synthetic, gpt_text_shape, g, gpt_free, NULL};
    if (rc == HB_OK) rc = hb__model_create_net_hooks(net, &hooks, out);
    hb_net_free(net);
    if (rc != HB_OK) hb__free(ctx, g);
    return rc;
}
