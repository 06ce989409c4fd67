/* libhessblock — SST spectral layers and the LoRA baseline.
 *
 * Both are *reparametrising wrapper models*: hb_sst_create takes a model (the inner model)
 * and returns a new hb_model whose parameters are the inner model's unconverted blocks
 * plus, for every converted 2-d block N = W (out×in, k = min(out, in), r = min(rank, k)):
 *
 *   SST  (Sparse Spectral Training):  W = U·diag(s)·Vᵀ, initialised by a thin SVD of the
 *        block's current W (zero distortion). Blocks, in this order:
 *          "N.U"   (out, k) frozen     all left singular vectors
 *          "N.s"   (k)      trainable  the singular values
 *          "N.Vt"  (k, in)  frozen     all right singular vectors (rows)
 *          "N.Ua"  (out, r) trainable  the r ACTIVE columns of U (the live values)
 *          "N.Vta" (r, in)  trainable  the r active rows of Vᵀ (the live values)
 *          "N.idx" (r)      frozen     the active indices, ascending, as exact integers
 *        and after all blocks one frozen "sst.iteration" (1): the iteration the selection
 *        belongs to. Frozen blocks (hb_params_set_trainable) get no optimizer state and are
 *        never changed by an optimizer, so the optimizer holds state for s and the active
 *        pairs only, and inactive pairs cannot move during an iteration. The wrapper copies
 *        N.Ua/N.Vta into the active columns/rows of N.U/N.Vt whenever it evaluates, so
 *        N.U/N.Vt are current after any evaluation and in every checkpoint; a checkpoint of
 *        the wrapper's params (with its optimizer) holds the whole schedule state.
 *        Factor blocks keep the inner block's kind, except that s, Vᵀ and Vta of an
 *        ATTN_Q/ATTN_K block are LINEAR (their rows are not head-grouped outputs, which
 *        Adam-mini's per-head partition needs); N.idx and sst.iteration are OTHER.
 *   LoRA: W = W₀ + (α/r)·B·A, W₀ = the block's current W: "N.W0" (out, in), frozen, so
 *        checkpoints of the wrapper carry it;
 *        "N.A" (r, in) kaiming-uniform(a=√5) as PyTorch's LoRA, "N.B" (out, r) zeros.
 *
 * Evaluating the wrapper forms W into the inner model's parameters and runs the inner
 * model (the inner model is the wrapper's workspace: its converted blocks are overwritten;
 * it must outlive the wrapper and not be used concurrently). The gradient G = ∂L/∂W of
 * the inner model is mapped to the wrapper's trainable blocks (frozen blocks get 0):
 *   SST enhanced (default):  ∇s_i = u_iᵀ·G·v_i for ALL i; for the active pairs
 *                            ∇Ua[:,j] = G·v_{idx_j}, ∇Vta[j,:] = (Gᵀ·u_{idx_j})ᵀ (no s factor);
 *   SST exact (HB_SST_GRAD_EXACT): the same times s_{idx_j} for Ua and Vta, i.e. the true
 *                            gradient of L(U, s, Vᵀ) restricted to s and the active pairs
 *                            (rank = k makes every pair active);
 *   LoRA:                    ∇B = (α/r)·G·Aᵀ, ∇A = (α/r)·Bᵀ·G.
 * Unconverted blocks get the inner gradient (with HB_SST_FREEZE_OTHERS they are frozen
 * blocks and get 0).
 *
 * The SST schedule (driven by hb_trainer automatically, or by hb_sst_begin_step /
 * hb_sst_end_step in a hand-written loop): an iteration is T3 = HB_SST_ITERATION steps;
 * step t belongs to iteration t / T3. When it differs from sst.iteration, every layer is
 * re-SVD'd ([U,s,Vᵀ] = svd(U·diag(s)·Vᵀ)), draws r of its k indices without replacement,
 * with probability ∝ (1−μ)·s_i/Σs + μ/k (μ = HB_SST_UNIFORM_MIX), from the context seed,
 * the wrapper's RNG stream and counters that depend only on the iteration (a resumed run
 * draws what the uninterrupted run drew), the optimizer state of every N.Ua/N.Vta block is
 * zeroed (HB_SST_RESET: keeping or restarting the blocks' own step), and the learning rate is re-warmed linearly over HB_SST_REWARM steps through
 * the optimizer's HB_OPT_LR_MULT (so per-block lr overrides are re-warmed too). After
 * every update s is clamped to ≥ 0.
 *
 * Hessian products of a wrapper are not provided (HB_EUNSUPPORTED): analyse the inner
 * model after hb_sst_sync. Parameters must be f32 or f64 (bf16: HB_EDTYPE). */
#ifndef HESSBLOCK_SST_H
#define HESSBLOCK_SST_H

#include "hessblock/core.h"
#include "hessblock/model.h"
#include "hessblock/optim.h"
#include "hessblock/params.h"

#ifdef __cplusplus
extern "C" {
#endif


typedef enum hb_sst_method {
    HB_SST_METHOD_SPECTRAL = 1, /* SST: U·diag(s)·Vᵀ, full rank, r active pairs per iteration */
    HB_SST_METHOD_LORA = 2      /* LoRA: W₀ + (α/r)·B·A                                     */
} hb_sst_method;

/* Options. Values are ABI and never reused. Defaults in brackets. */
typedef enum hb_sst_opt {
    HB_SST_RANK = 1,          /* i64 r: active pairs (SST) / LoRA rank, clamped to k per layer [8] */
    HB_SST_ITERATION = 2,     /* i64 T3: steps per iteration [200]                         */
    HB_SST_REWARM = 3,        /* i64 re-warm steps after each boundary, 0 = none [20]      */
    HB_SST_UNIFORM_MIX = 4,   /* f64 μ in [0,1]: mix of the uniform law into ∝ s [0]       */
    HB_SST_GRADIENT = 5,      /* i64 hb_sst_gradient [HB_SST_GRAD_ENHANCED]                */
    HB_SST_LORA_ALPHA = 6,    /* f64 α > 0 (LoRA scale α/r); 0 = use α = r (scale 1) [0]   */
    HB_SST_FREEZE_OTHERS = 7, /* i64 0/1: unconverted blocks are frozen [0]                 */
    HB_SST_RESET = 8          /* i64 hb_sst_reset: the optimizer-state reset at a boundary
                                 [HB_SST_RESET_MOMENTS]                                    */
} hb_sst_opt;

/* What the boundary does to the optimizer state of the N.Ua/N.Vta blocks (the newly
 * selected pairs). Values are ABI and never reused. */
typedef enum hb_sst_reset {
    HB_SST_RESET_MOMENTS = 1, /* zero the moments (hb_optimizer_reset_range); the blocks keep
                                 the global step, so Adam's bias correction is ≈ 1 while the
                                 fresh second moment is small: larger steps for a while,
                                 which the lr re-warm is there to damp                     */
    HB_SST_RESET_RESTART = 2  /* zero the moments AND restart the blocks' step
                                 (hb_optimizer_reset_block): bias correction from 1 again,
                                 as deleting the parameters' state in torch.optim          */
} hb_sst_reset;

typedef enum hb_sst_gradient {
    HB_SST_GRAD_ENHANCED = 1, /* SST training gradient (see above)                    */
    HB_SST_GRAD_EXACT = 2     /* the true gradient of L(U, s, Vᵀ) for every pair       */
} hb_sst_gradient;

/* ---- Configuration ------------------------------------------------------------------
 * Which blocks to convert (by name and/or by kind; only 2-d blocks qualify) and the
 * options above. */
typedef struct hb_sst_config hb_sst_config;

/* hb_sst_config_create: defaults for `method`. Returns HB_OK, HB_EINVAL, HB_ENOMEM. */
HB_API int hb_sst_config_create(hb_context *ctx, hb_sst_method method, hb_sst_config **out);
HB_API void hb_sst_config_free(hb_sst_config *cfg);
/* Returns HB_OK, HB_EINVAL (NULL, unknown key, wrong setter, value out of range). */
HB_API int hb_sst_config_set_i64(hb_sst_config *cfg, hb_sst_opt key, int64_t value);
HB_API int hb_sst_config_set_f64(hb_sst_config *cfg, hb_sst_opt key, double value);
/* hb_sst_config_add_block: convert the block called name (it must exist and be 2-d when
 * hb_sst_create runs). hb_sst_config_add_kind: convert every 2-d block of this kind.
 * Returns HB_OK, HB_EINVAL (NULL, bad name or kind), HB_ENOMEM. */
HB_API int hb_sst_config_add_block(hb_sst_config *cfg, const char *name);
HB_API int hb_sst_config_add_kind(hb_sst_config *cfg, hb_block_kind kind);

/* hb_sst_create: the wrapper model over `inner` (borrowed). Draws from the context's
 * RNG (LoRA's A; SST's first selection). Returns HB_OK, HB_EINVAL (NULL, inner is itself
 * a wrapper, a name longer than HB_MAX_BLOCK_NAME−4), HB_ENOTFOUND (a named block does not
 * exist), HB_ESHAPE (a named block is not 2-d; no block selected), HB_EDTYPE (bf16),
 * HB_ENONFINITE (a converted block holds NaN/Inf), HB_ENOMEM. */
HB_API int hb_sst_create(hb_model *inner, const hb_sst_config *cfg, hb_model **out);

/* ---- Queries on a wrapper -------------------------------------------------------------
 * All return HB_EINVAL when m is not a wrapper made by hb_sst_create. */
/* hb_sst_is_wrapper: 1 for a wrapper, 0 otherwise (NULL included). */
HB_API int hb_sst_is_wrapper(const hb_model *m);
/* hb_sst_method_of: HB_SST_METHOD_SPECTRAL or HB_SST_METHOD_LORA, 0 for anything else. */
HB_API int hb_sst_method_of(const hb_model *m);
HB_API hb_model *hb_sst_inner(hb_model *m);
/* hb_sst_num_layers: converted blocks. */
HB_API int hb_sst_num_layers(const hb_model *m, size_t *n);
/* hb_sst_layer_info: any output may be NULL. name is the inner block's name (owned by the
 * inner params); r is the effective rank min(HB_SST_RANK, k). Returns HB_OK, HB_EINVAL,
 * HB_ERANGE. */
HB_API int hb_sst_layer_info(const hb_model *m, size_t layer, const char **name, int64_t *out_dim,
                             int64_t *in_dim, int64_t *k, int64_t *r);
/* hb_sst_active: the r active indices of an SST layer (ascending) into idx[0..r).
 * Returns HB_OK, HB_EINVAL (LoRA, NULL idx), HB_ERANGE, HB_ESTATE (the N.idx block does
 * not hold r ascending integers in [0, k), e.g. after writing the params by hand). */
HB_API int hb_sst_active(const hb_model *m, size_t layer, int64_t *idx);
/* hb_sst_trainable_count: scalars that receive a nonzero gradient in a step:
 * SST Σ(k + r(out+in)), LoRA Σ r(out+in), plus the unconverted blocks unless frozen —
 * the same as hb_params_trainable_count of the wrapper's params, so an optimizer with q
 * state scalars per parameter holds q·count of state. */
HB_API int hb_sst_trainable_count(const hb_model *m, size_t *n);
/* hb_sst_sync: form every W into the inner model's parameters now, so the inner model
 * (e.g. for Hessian analysis) computes what the wrapper computes. */
HB_API int hb_sst_sync(hb_model *m);
/* hb_sst_resvd: [U, s, Vᵀ] = svd(U·diag(s)·Vᵀ) for every SST layer now; the active
 * indices are kept (N.Ua/N.Vta receive the new vectors at those indices). LoRA:
 * HB_EINVAL. Returns HB_OK, HB_EINVAL, HB_ESTATE (corrupt N.idx), HB_ENONFINITE (LAPACK
 * failed to converge; that layer is unchanged). */
HB_API int hb_sst_resvd(hb_model *m);

/* ---- The schedule in a hand-written loop ------------------------------------------------
 * hb_sst_begin_step before computing the gradient of step `step` (0, 1, 2, …): at a new
 * iteration re-SVD, redraw, zero opt's state of the N.Ua/N.Vta blocks (opt may be NULL:
 * no state); sets opt's HB_OPT_LR_MULT to the re-warm factor (1 outside a re-warm;
 * a multiplier of your own is overwritten) and returns it in *lr_scale (may be NULL; use
 * it to scale the lr of a hand-written update). hb_sst_end_step after the update: s ≥ 0.
 * LoRA: both are no-ops (*lr_scale = 1). The step count of opt is kept (bias correction
 * continues). Returns HB_OK, HB_EINVAL (step < 0, opt not over m's params), HB_ERANGE
 * (iteration beyond 2^24 with f32 params: the selection block cannot hold it exactly),
 * HB_ESTATE (corrupt N.idx), and the errors of hb_sst_resvd. */
HB_API int hb_sst_begin_step(hb_model *m, int64_t step, hb_optimizer *opt, double *lr_scale);
HB_API int hb_sst_end_step(hb_model *m);

#ifdef __cplusplus
}
#endif
#endif /* HESSBLOCK_SST_H */
