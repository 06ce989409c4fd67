/* libhessblock — networks: build your own model, with exact Hessian-vector products.
 *
 * An hb_net is a network DEFINITION: one input, a list of named operations over named
 * activations, and one loss. hb_model_create_net turns it into an ordinary hb_model, on
 * which every model call works (loss, gradient, exact HVP by the R-operator, hvp_multi,
 * block HVP, micro-batches, checkpoints, optimizers, SLQ, SST/LoRA wrapping). The net is
 * not consumed: it can make any number of models, each initialised afresh from the
 * context's RNG.
 *
 *     hb_net *net;  hb_model *m;
 *     hb_net_create(ctx, HB_F64, &net);
 *     hb_net_input_features(net, "x", 1, (int64_t[]){32});
 *     hb_net_linear(net, "fc1", "x", "h", 64, 1, 0);
 *     hb_net_activation(net, HB_ACT_RELU, "h", "a");
 *     hb_net_linear(net, "head", "a", "logits", 10, 1, HB_BLOCK_HEAD);
 *     hb_net_loss_xent(net, "logits");
 *     hb_model_create_net(net, &m);          // blocks fc1.weight, fc1.bias, head.weight, …
 *     hb_net_free(net);
 *
 * Activations. Every activation has a name and a PER-SAMPLE shape (the sample dimension N
 * is not part of it and is set by the data): (F) features, (T, C) a sequence of T
 * positions of width C, or (C, H, W) an image. Names are 1..HB_MAX_BLOCK_NAME bytes and
 * unique among activations; an op's output name must be new (activations are written
 * once, so the net is a DAG in the order of definition).
 *
 * Checking. Every op is checked when it is added: unknown input → HB_ENOTFOUND, an input
 * of the wrong shape → HB_ESHAPE with a message (hb_context_last_error) naming the op and
 * both shapes, a duplicate activation or block name → HB_EINVAL. A failed call changes
 * nothing, so a program may correct and continue. hb_model_create_net checks the net as a
 * whole (an input, exactly one loss) and computes nothing from an invalid net.
 *
 * Parameters. Parameterised ops create their blocks, in the order the ops are added, named
 * "<name>.weight" and "<name>.bias" (attention: "<name>.wq", "<name>.wq.bias", … "<name>.wo",
 * "<name>.wo.bias"), with the block kinds and PyTorch's default initialisation given at each
 * op. hb_net_rename_block, hb_net_set_block_kind and hb_net_set_init change them before a
 * model is made. Blocks are initialised in block order when the model is made.
 *
 * Data (hb_model_set_batch / hb_model_add_batch), N = samples of a micro-batch:
 *   inputs:  tokens input (N, T) i32 in [0, vocab); features input (N, shape…) f32/f64.
 *   targets: xent loss: i32 class ids with the logits' shape minus the last dimension,
 *            i.e. (N) for logits (V), (N, T) for logits (T, V);
 *            mse loss: f32/f64 with the prediction's shape (N, shape…).
 * The loss is the mean over all samples (xent: over all N·T positions; mse: over all
 * elements, as PyTorch's MSELoss), so micro-batches combine exactly.
 *
 * All functions return HB_OK or a negative HB_E* code; a NULL handle or name is HB_EINVAL.
 * Every op after a model was made is still allowed (the net is a definition). */
#ifndef HESSBLOCK_NET_H
#define HESSBLOCK_NET_H

#include "hessblock/core.h"
#include "hessblock/model.h"
#include "hessblock/params.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hb_net hb_net;

/* Pooling kinds of hb_net_pool2d. Values are ABI. */
typedef enum hb_net_pool {
    HB_POOL_AVG = 1, /* mean of each window */
    HB_POOL_MAX = 2  /* max of each window; its derivatives follow the forward's argmax
                        (first maximum in row-major window order on ties) */
} hb_net_pool;

/* hb_net_create: an empty net whose parameters will have `dtype` (f32, f64, or bf16,
 * computed in f32). Returns HB_OK, HB_EINVAL, HB_EDTYPE, HB_ENOMEM. */
HB_API int hb_net_create(hb_context *ctx, hb_dtype dtype, hb_net **out);
/* hb_net_free: NULL is a no-op. Models made from the net stay valid. */
HB_API void hb_net_free(hb_net *net);

/* ---- The input (exactly one per net) ------------------------------------------------ */
/* hb_net_input_tokens: activation `name` of per-sample shape (context) holding i32 token
 * ids in [0, vocab). Only hb_net_embedding reads it. context, vocab ≥ 1.
 * Returns HB_OK, HB_EINVAL (NULL, bad size), HB_ESTATE (the net has an input), HB_ENOMEM. */
HB_API int hb_net_input_tokens(hb_net *net, const char *name, int64_t context, int64_t vocab);
/* hb_net_input_features: activation `name` of per-sample shape shape[0..ndim), ndim 1..3
 * ((F), (T, C) or (C, H, W)), every dim ≥ 1. Data may be f32 or f64.
 * Returns HB_OK, HB_EINVAL, HB_ESHAPE, HB_ESTATE, HB_ENOMEM. */
HB_API int hb_net_input_features(hb_net *net, const char *name, int ndim, const int64_t *shape);

/* ---- Operations -----------------------------------------------------------------------
 * `in`, `a`, `b`: existing activations; `out`: a new activation; `name`: the block prefix
 * of a parameterised op. */

/* Token embedding: tokens (T) → (T, width); out[t] = W[id_t]. Block "<name>.weight"
 * (vocab, width), HB_BLOCK_EMBEDDING, init N(0, 1) (nn.Embedding). */
HB_API int hb_net_embedding(hb_net *net, const char *name, const char *in, const char *out,
                            int64_t width);
/* Learned positional embedding: (T, C) → (T, C); out[t] = in[t] + W[t]. Block
 * "<name>.weight" (T, C), HB_BLOCK_EMBEDDING, init N(0, 1). */
HB_API int hb_net_pos_embedding(hb_net *net, const char *name, const char *in, const char *out);
/* Linear layer over the last dimension: (…, in) → (…, out_features), out = x·Wᵀ + b.
 * Blocks "<name>.weight" (out_features, in) of `kind` (0 → HB_BLOCK_LINEAR), init
 * HB_INIT_TORCH_LINEAR; with bias ≠ 0 "<name>.bias" (out_features), HB_BLOCK_BIAS, init
 * HB_INIT_TORCH_LINEAR_BIAS. Inputs (F) or (T, C); an image needs hb_net_flatten first. */
HB_API int hb_net_linear(hb_net *net, const char *name, const char *in, const char *out,
                         int64_t out_features, int bias, hb_block_kind kind);
/* LayerNorm over the last dimension, eps (0 → 1e-5, PyTorch's default): (…, C) → (…, C).
 * Blocks "<name>.weight" (C) init 1, "<name>.bias" (C) init 0, HB_BLOCK_NORM. */
HB_API int hb_net_layernorm(hb_net *net, const char *name, const char *in, const char *out,
                            double eps);
/* RMSNorm over the last dimension: out = x/√(mean(x²) + eps)·w, eps (0 → 1e-5).
 * Block "<name>.weight" (C) init 1, HB_BLOCK_NORM. */
HB_API int hb_net_rmsnorm(hb_net *net, const char *name, const char *in, const char *out,
                          double eps);
/* Causal multi-head self-attention over a sequence (T, C) → (T, C), heads | C:
 * q, k, v = x·Wqᵀ + bq, …; per head softmax(q kᵀ/√(C/heads) + causal mask)·v; out = y·Woᵀ + bo.
 * Blocks "<name>.wq", "<name>.wk", "<name>.wv", "<name>.wo" (C, C) of kinds
 * HB_BLOCK_ATTN_Q/K/V/O, init HB_INIT_TORCH_LINEAR; with bias ≠ 0 each followed by its
 * "….bias" (C), HB_BLOCK_BIAS, init HB_INIT_TORCH_LINEAR_BIAS. */
HB_API int hb_net_attention(hb_net *net, const char *name, const char *in, const char *out,
                            int64_t heads, int bias);
/* Elementwise activation, any shape: HB_ACT_RELU, HB_ACT_GELU (tanh form), HB_ACT_GELU_ERF,
 * HB_ACT_SILU, HB_ACT_TANH. */
HB_API int hb_net_activation(hb_net *net, hb_activation act, const char *in, const char *out);
/* 2-d convolution, stride 1: (Cin, H, W) → (out_channels, H + 2·padding − kernel + 1, …),
 * zero padding. Blocks "<name>.weight" (out_channels, Cin, kernel, kernel), HB_BLOCK_CONV,
 * init HB_INIT_TORCH_LINEAR (fan_in = Cin·kernel²); with bias ≠ 0 "<name>.bias", HB_BLOCK_BIAS,
 * init HB_INIT_TORCH_LINEAR_BIAS. */
HB_API int hb_net_conv2d(hb_net *net, const char *name, const char *in, const char *out,
                         int64_t out_channels, int64_t kernel, int64_t padding, int bias);
/* 2-d pooling with window = stride = size: (C, H, W) → (C, H/size, W/size), remainders
 * dropped (as PyTorch). */
HB_API int hb_net_pool2d(hb_net *net, hb_net_pool kind, const char *in, const char *out,
                         int64_t size);
/* Flatten a sample: (C, H, W) → (C·H·W), (T, C) → (T·C). */
HB_API int hb_net_flatten(hb_net *net, const char *in, const char *out);
/* Residual add of two activations of equal shape. */
HB_API int hb_net_add(hb_net *net, const char *a, const char *b, const char *out);

/* ---- The loss (exactly one per net) ---------------------------------------------------- */
/* Softmax cross-entropy of logits (V) or (T, V) against i32 class ids; mean over all rows.
 * Returns also HB_ESTATE when the net already has a loss. */
HB_API int hb_net_loss_xent(hb_net *net, const char *logits);
/* Mean squared error of a prediction against f32/f64 targets of its shape; mean over all
 * elements. */
HB_API int hb_net_loss_mse(hb_net *net, const char *prediction);

/* ---- Blocks ------------------------------------------------------------------------------ */
/* hb_net_rename_block: rename a block the ops created (e.g. "lm_head.weight" →
 * "lm_head"). Returns HB_OK, HB_EINVAL (bad or duplicate new name), HB_ENOTFOUND. */
HB_API int hb_net_rename_block(hb_net *net, const char *block, const char *new_name);
/* hb_net_set_block_kind: Returns HB_OK, HB_EINVAL (bad kind), HB_ENOTFOUND. */
HB_API int hb_net_set_block_kind(hb_net *net, const char *block, hb_block_kind kind);
/* hb_net_set_init: initialise `block` by hb_params_init_block(…, init, a, b) instead of the
 * op's default. Returns HB_OK, HB_EINVAL (bad init), HB_ENOTFOUND. */
HB_API int hb_net_set_init(hb_net *net, const char *block, hb_init init, double a, double b);

/* ---- Queries ------------------------------------------------------------------------------ */
/* hb_net_op_count: operations added so far (the input and the loss included). */
HB_API size_t hb_net_op_count(const hb_net *net);
/* hb_net_activation_shape: per-sample shape of activation `name` into shape[0..*ndim)
 * (capacity 3). Returns HB_OK, HB_EINVAL, HB_ENOTFOUND. */
HB_API int hb_net_activation_shape(const hb_net *net, const char *name, int *ndim,
                                   int64_t shape[3]);

/* ---- Models -------------------------------------------------------------------------------- */
/* hb_model_create_net: a model of this net (hb_model_name "net", hb_model_kind_of 0): its
 * parameters are the net's blocks, initialised from the context's RNG; it holds no data
 * until hb_model_set_batch. HVPs are exact (hb_model_has_exact_hvp = 1).
 * Returns HB_OK, HB_EINVAL (NULL; no input; no loss; an activation nothing reads is fine),
 * HB_ENOMEM, and the init errors. */
HB_API int hb_model_create_net(const hb_net *net, hb_model **out);

#ifdef __cplusplus
}
#endif
#endif /* HESSBLOCK_NET_H */
