/* libhessblock — optimizers and learning-rate schedules.
 *
 * An optimizer updates the flat parameter vector of an hb_params from its gradient
 * buffer, one fused pass over memory per step (plus one read-only pass over the
 * gradient that checks it is finite and, when clipping is on, takes its norm).
 * Semantics follow torch.optim's documented single-tensor CPU path:
 *
 *   SGD    d = g + wd·p;  buf = d (first step) else buf·μ + (1−dampening)·d;
 *          d = d + μ·buf (Nesterov) else buf;  p = p − lr·d        (buf only if μ ≠ 0)
 *   Adam   g = g + wd·p (coupled L2);   AdamW  p = p·(1 − lr·wd) first (decoupled);
 *          m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;
 *          bc1 = 1−β1^t, bc2 = 1−β2^t (double);  p = p − (lr/bc1)·m / (√v/√bc2 + eps)
 *   Adam-mini  as AdamW, but v is one scalar per *partition* of a block, updated with
 *          the mean of g² over the partition: per head for HB_BLOCK_ATTN_Q/ATTN_K
 *          (2-d, rows grouped by head: rows divisible by HB_OPT_HEADS), per output row
 *          (shape[0]) for ATTN_V, ATTN_O, MLP_IN, MLP_OUT, EMBEDDING, HEAD, LINEAR, CONV,
 *          per element for BIAS, per tensor for NORM and OTHER.
 *
 * t is the 1-based number of the step being taken (for a block restarted with
 * hb_optimizer_reset_block, the bias corrections and SGD's first step use the block's own
 * τ = t − the step of its restart instead). f64 parameters compute in f64 with
 * f64 state; f32 and bf16 parameters compute in f32 with f32 state. bf16 parameters
 * are written back rounded to nearest even (or stochastically, HB_OPT_STOCHASTIC_ROUNDING,
 * with the context's counter-based RNG, so runs are reproducible), optionally from an
 * f32 master copy (HB_OPT_MASTER_COPY). Results never depend on the thread count.
 *
 * Hyperparameters are global (hb_optimizer_set_f64) with per-block overrides selected
 * by an fnmatch-style glob on the block name or by block kind; the effective value of a
 * block is the global one, then every matching override in the order they were added.
 * Blocks of kind HB_BLOCK_NORM and HB_BLOCK_BIAS get weight decay 0 unless an override
 * sets their weight decay or HB_OPT_DECAY_NORMS_BIASES is 1.
 *
 * Frozen blocks (hb_params_set_trainable(p, b, 0)): an optimizer keeps state (momentum,
 * moments, Adam-mini partitions, master copy) only for the blocks that are trainable when
 * it is created, packed in block order, and never writes a frozen block (not even weight
 * decay). Their gradients are ignored: the finiteness check and the clip norm run over the
 * trainable blocks only. Each trainable block gets exactly the update it would get from an
 * optimizer over params holding only the trainable blocks. Changing a flag after
 * hb_optimizer_create (even changing it back) makes hb_optimizer_step fail with
 * HB_ESTATE: create a new optimizer for the new set of trainable blocks. */
#ifndef HESSBLOCK_OPTIM_H
#define HESSBLOCK_OPTIM_H

#include "hessblock/core.h"
#include "hessblock/params.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hb_optimizer hb_optimizer;

/* Optimizer kinds. Values are ABI and never reused. */
typedef enum hb_optimizer_kind {
    HB_OPTIM_SGD = 1,
    HB_OPTIM_ADAM = 2,
    HB_OPTIM_ADAMW = 3,
    HB_OPTIM_ADAM_MINI = 4
} hb_optimizer_kind;

/* hb_optimizer_kind_name: static lowercase name ("sgd", "adam", "adamw", "adam_mini"),
 * "?" if unknown. */
HB_API const char *hb_optimizer_kind_name(hb_optimizer_kind kind);

/* Options. Values are ABI and never reused. "block" marks options that may be
 * overridden per block; the others are global only. Defaults are torch.optim's. */
typedef enum hb_optimizer_opt {
    HB_OPT_LR = 1,            /* f64 >= 0, block. Default 1e-3 (SGD: 1e-3 too)            */
    HB_OPT_WEIGHT_DECAY = 2,  /* f64 >= 0, block. Default 0; AdamW 1e-2 (torch), Adam-mini
                                 0.1 (its reference implementation)                      */
    HB_OPT_MOMENTUM = 3,      /* f64 in [0, 1), block. SGD only. Default 0                */
    HB_OPT_DAMPENING = 4,     /* f64 in [0, 1], block. SGD only. Default 0                */
    HB_OPT_NESTEROV = 5,      /* i64 0/1, global. SGD only; needs momentum > 0 and
                                 dampening 0 on every block (checked at step). Default 0 */
    HB_OPT_BETA1 = 6,         /* f64 in [0, 1), block. Adam family. Default 0.9           */
    HB_OPT_BETA2 = 7,         /* f64 in [0, 1), block. Adam family. Default 0.999         */
    HB_OPT_EPS = 8,           /* f64 >= 0, block. Adam family. Default 1e-8               */
    HB_OPT_HEADS = 9,         /* i64 >= 1, global. Adam-mini heads of Q/K blocks. Default 1.
                                 Fixed once the first step was taken (HB_ESTATE)          */
    HB_OPT_CLIP_NORM = 10,    /* f64 >= 0, global. Clip by global L2 norm of the gradient
                                 (torch.nn.utils.clip_grad_norm_: g·min(1, c/(‖g‖+1e-6)));
                                 the gradient buffer is not modified. 0 = off (default)   */
    HB_OPT_STOCHASTIC_ROUNDING = 11, /* i64 0/1, global. bf16 params only. Default 0      */
    HB_OPT_MASTER_COPY = 12,  /* i64 0/1, global. bf16 params only: keep an f32 master copy,
                                 taken from the parameters at the first step. Fixed once
                                 the first step was taken (HB_ESTATE). Default 0           */
    HB_OPT_DECAY_NORMS_BIASES = 13, /* i64 0/1, global. 1 = norms and biases are decayed too.
                                      Default 0                                           */
    HB_OPT_LR_MULT = 14       /* f64 >= 0 and finite, global. An extra factor on the learning rate of
                                 every block, applied after the schedule factor and the
                                 per-block overrides (re-warms driven from outside, e.g.
                                 SST). Not saved in checkpoints. Default 1                */
} hb_optimizer_opt;

/* hb_optimizer_create: an optimizer of `kind` over the finalised params p (borrowed:
 * p must outlive the optimizer). State is zero, step count 0; it is sized for the blocks
 * trainable now (hb_params_set_trainable).
 * Returns HB_OK, HB_EINVAL (NULL, bad kind), HB_ESTATE (p not finalised), HB_ENOMEM.
 * *out is NULL on failure. */
HB_API int hb_optimizer_create(hb_context *ctx, hb_optimizer_kind kind, hb_params *p,
                               hb_optimizer **out);

/* hb_optimizer_free: NULL is a no-op. */
HB_API void hb_optimizer_free(hb_optimizer *opt);

/* Setters and getters of global options. f64 options through _f64, integer ones
 * (NESTEROV, HEADS, STOCHASTIC_ROUNDING, MASTER_COPY, DECAY_NORMS_BIASES) through _i64.
 * Returns HB_OK, HB_EINVAL (NULL, unknown key, wrong setter for the key, value out of
 * range or not finite; the message says which), HB_EUNSUPPORTED (key meaningless for
 * this kind or dtype, e.g. MOMENTUM on Adam, STOCHASTIC_ROUNDING on f32 params),
 * HB_ESTATE (HEADS or MASTER_COPY after the first step). Nothing changes on failure. */
HB_API int hb_optimizer_set_f64(hb_optimizer *opt, hb_optimizer_opt key, double value);
HB_API int hb_optimizer_get_f64(const hb_optimizer *opt, hb_optimizer_opt key, double *value);
HB_API int hb_optimizer_set_i64(hb_optimizer *opt, hb_optimizer_opt key, int64_t value);
HB_API int hb_optimizer_get_i64(const hb_optimizer *opt, hb_optimizer_opt key, int64_t *value);

/* hb_optimizer_override_f64: for every block whose name matches the fnmatch-style glob
 * `pattern` ('*', '?', '[...]'; an exact name matches itself), use `value` for the
 * block option `key` instead of the global one. Overrides apply in the order added;
 * a pattern that matches no block is HB_ENOTFOUND (typos do not pass silently).
 * Returns HB_OK, HB_EINVAL (NULL, key not per-block, bad value), HB_EUNSUPPORTED,
 * HB_ENOTFOUND, HB_ENOMEM. */
HB_API int hb_optimizer_override_f64(hb_optimizer *opt, const char *pattern,
                                     hb_optimizer_opt key, double value);

/* hb_optimizer_override_kind_f64: the same for every block of `kind` (no block of that
 * kind is HB_ENOTFOUND). */
HB_API int hb_optimizer_override_kind_f64(hb_optimizer *opt, hb_block_kind kind,
                                          hb_optimizer_opt key, double value);

/* hb_optimizer_set_block_f64: set block option `key` of block `index` to `value`,
 * replacing any value set for that block and key before. It wins over the global value,
 * the norm/bias weight-decay default and every override (whatever their order); calling
 * it again for the same block and key replaces the value in place, so a caller that
 * refreshes per-block values every N steps (e.g. learning rates from each block's
 * Hessian, `hessblock train --optimizer sgd-blockhess`) keeps a table of fixed size,
 * where hb_optimizer_override_f64 would append one more override per call. It takes
 * effect at the next hb_optimizer_step; like overrides it is configuration, not saved in
 * checkpoints. Returns HB_OK, HB_EINVAL (NULL, key not per-block, bad value),
 * HB_EUNSUPPORTED (key meaningless for this kind), HB_ERANGE (index >= blocks),
 * HB_ENOMEM. Nothing changes on failure. */
HB_API int hb_optimizer_set_block_f64(hb_optimizer *opt, size_t index, hb_optimizer_opt key,
                                      double value);

/* hb_optimizer_block_f64: the effective value of block option `key` for block `index`
 * (global, defaults for norms/biases, overrides, hb_optimizer_set_block_f64; LR without
 * the schedule factor and without HB_OPT_LR_MULT).
 * Returns HB_OK, HB_EINVAL, HB_ERANGE, HB_EUNSUPPORTED. */
HB_API int hb_optimizer_block_f64(const hb_optimizer *opt, size_t index,
                                  hb_optimizer_opt key, double *value);

/* ---- Learning-rate schedules ---------------------------------------------------
 * A schedule gives a factor f(t) for step t (1-based); the learning rate of every block
 * at step t is f(t)·(its lr)·HB_OPT_LR_MULT. Constant: f = 1 (default). Warmup + cosine:
 *   f = t / warmup                                         for t <= warmup,
 *   f = floor + (1 − floor)·½·(1 + cos(π·min(1, (t − warmup)/(total − warmup))))  after.
 * A callback may give anything finite and >= 0 (else the step fails with HB_ECALLBACK). */
typedef double (*hb_lr_schedule_fn)(void *user, int64_t step);

/* hb_optimizer_schedule_constant: f = 1. Returns HB_OK, HB_EINVAL. */
HB_API int hb_optimizer_schedule_constant(hb_optimizer *opt);

/* hb_optimizer_schedule_cosine: warmup >= 0, total > warmup, floor in [0, 1] (a fraction
 * of the lr). Returns HB_OK, HB_EINVAL. */
HB_API int hb_optimizer_schedule_cosine(hb_optimizer *opt, int64_t warmup, int64_t total,
                                        double floor);

/* hb_optimizer_schedule_callback: f = fn(user, t). fn NULL is HB_EINVAL. */
HB_API int hb_optimizer_schedule_callback(hb_optimizer *opt, hb_lr_schedule_fn fn, void *user);

/* hb_optimizer_lr_factor: the factor the schedule gives for step t >= 1.
 * Returns HB_OK, HB_EINVAL, HB_ECALLBACK. */
HB_API int hb_optimizer_lr_factor(hb_optimizer *opt, int64_t step, double *factor);

/* ---- Stepping --------------------------------------------------------------------- */

/* hb_optimizer_step: one update of the trainable blocks from the gradient buffer.
 * Returns HB_OK; HB_ENONFINITE if any gradient entry of a trainable block is NaN or ±Inf
 * — then parameters, state and step count are exactly as before; HB_ESTATE (the params'
 * trainable flags changed since hb_optimizer_create; Nesterov with μ = 0 or dampening ≠ 0
 * on a trainable block) — nothing changed; HB_ESHAPE (Adam-mini Q/K block not 2-d with rows divisible by the
 * heads); HB_ECALLBACK (schedule callback gave a bad factor); HB_ENOMEM (first step of
 * Adam-mini or with a master copy allocates its state; nothing changed), HB_EOVERFLOW
 * (step count at INT64_MAX). */
HB_API int hb_optimizer_step(hb_optimizer *opt);

/* hb_optimizer_step_count: steps taken so far (restored by checkpoint loads). */
HB_API int64_t hb_optimizer_step_count(const hb_optimizer *opt);

HB_API hb_optimizer_kind hb_optimizer_kind_of(const hb_optimizer *opt);
HB_API hb_params *hb_optimizer_params(const hb_optimizer *opt);

/* hb_optimizer_reset: zero the state and the step count (parameters untouched).
 * Returns HB_OK, HB_EINVAL. */
HB_API int hb_optimizer_reset(hb_optimizer *opt);

/* hb_optimizer_reset_range: zero the state of the flat range [offset, offset + len) —
 * momentum buffer, first and second moments — leaving the parameters, the rest of the
 * state and the step count untouched (SST resets the state of re-selected singular
 * vectors this way). For Adam-mini, every second-moment partition that intersects the
 * range is zeroed. Parts of the range in frozen blocks have no state and are skipped. Returns HB_OK, HB_EINVAL (NULL), HB_ERANGE (range outside the params). */
HB_API int hb_optimizer_reset_range(hb_optimizer *opt, size_t offset, size_t len);

/* hb_optimizer_reset_block: zero the state of block `index` (as hb_optimizer_reset_range
 * over the block) AND restart its step: its next update is its first, so Adam's bias
 * correction (1 − β^τ) and SGD's first-step rule (buf = d) count from there, τ = steps
 * since the restart — what deleting a parameter's state does in torch.optim. The global
 * step count (schedules, stochastic rounding) continues. Restart points are saved in
 * checkpoints. A frozen block has no state: HB_OK, only its restart point moves.
 * Returns HB_OK, HB_EINVAL (NULL), HB_ERANGE. */
HB_API int hb_optimizer_reset_block(hb_optimizer *opt, size_t index);

/* hb_optimizer_block_step_count: *steps = the block's own step count τ (the global step
 * count minus the step of its last hb_optimizer_reset_block). Returns HB_OK, HB_EINVAL,
 * HB_ERANGE. */
HB_API int hb_optimizer_block_step_count(const hb_optimizer *opt, size_t index, int64_t *steps);

/* hb_optimizer_partitions: Adam-mini partition table of block `index`: its block is cut
 * into *count partitions of *size consecutive elements each (count·size = numel).
 * Other kinds: one element per partition (count = numel, size = 1). A frozen block gets
 * the same answer (the layout it would have), though no state exists for it.
 * Returns HB_OK, HB_EINVAL, HB_ERANGE, HB_ESHAPE (Q/K block incompatible with HEADS). */
HB_API int hb_optimizer_partitions(const hb_optimizer *opt, size_t index, size_t *count,
                                   size_t *size);

/* hb_optimizer_state_bytes: bytes of optimizer state (moments, master copy) as allocated
 * now (trainable blocks only). Returns HB_OK, HB_EINVAL. */
HB_API int hb_optimizer_state_bytes(const hb_optimizer *opt, size_t *bytes);

#ifdef __cplusplus
}
#endif
#endif /* HESSBLOCK_OPTIM_H */
