/* libhessblock — models: objectives with exact gradients and Hessian-vector products.
 *
 * A model is an objective L(θ) over one flat parameter vector θ (its hb_params) and the
 * data it currently holds. The data is a list of micro-batches; L is the MEAN loss over
 * all samples of all micro-batches (each micro-batch weighted by its sample count), so
 * the gradient and the Hessian are those of that mean. A large analysis batch is thus
 * split into micro-batches that never need to be in memory as one.
 *
 * Vectors (v, H·v, gradients) use the flat layout of params.h. Hessian-vector products
 * are exact (Pearlmutter's R-operator) for built-in models; user objectives without an
 * HVP callback get a central finite difference of gradients (see hb_model_create_callbacks_ex).
 *
 * Dtypes: a model computes in its params' dtype (f32 or f64; bf16 parameters compute in
 * f32). Vectors passed in may be f32 or f64 and are converted; outputs are written in the
 * dtype of the output tensor. */
#ifndef HESSBLOCK_MODEL_H
#define HESSBLOCK_MODEL_H

#include "hessblock/core.h"
#include "hessblock/params.h"
#include "hessblock/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hb_model hb_model;

/* ---- Built-in model configuration ----------------------------------------------------
 * A config is an enum-keyed bag of options for one model kind, created with that kind's
 * defaults. Keys not used by the kind are rejected with HB_EINVAL. */
typedef enum hb_model_kind {
    HB_MODEL_QUADRATIC = 1, /* ½θᵀHθ − hᵀθ, block-diagonal H (the paper's test bed) */
    HB_MODEL_MLP = 2,       /* Linear/activation stack, softmax cross-entropy */
    HB_MODEL_GPT = 3,       /* decoder-only transformer, pre-LN, causal attention */
    HB_MODEL_CNN = 4        /* conv/ReLU/pool stack + linear head, softmax cross-entropy */
} hb_model_kind;

/* Config keys. Values are ABI and never reused. Defaults in brackets. */
typedef enum hb_model_key {
    HB_MK_DTYPE = 1,        /* hb_dtype of the parameters [HB_F64]                       all */
    HB_MK_BATCH = 2,        /* samples per synthetic batch [16]                         all */
    HB_MK_VOCAB = 10,       /* gpt: vocabulary size [65]                                     */
    HB_MK_CONTEXT = 11,     /* gpt: sequence length [64]                                     */
    HB_MK_WIDTH = 12,       /* gpt: embedding width [128]; mlp: hidden width [128]           */
    HB_MK_HEADS = 13,       /* gpt: attention heads [4]                                      */
    HB_MK_LAYERS = 14,      /* gpt: transformer blocks [2]; mlp: hidden layers [2]           */
    HB_MK_INPUTS = 20,      /* mlp: input features [32]                                      */
    HB_MK_CLASSES = 21,     /* mlp, cnn: classes [10]                                        */
    HB_MK_ACTIVATION = 22,  /* mlp: hb_activation [HB_ACT_RELU]                              */
    HB_MK_IMAGE_SIZE = 30,  /* cnn: square image side [16]                                   */
    HB_MK_CHANNELS = 31,    /* cnn: input channels [1]                                       */
    HB_MK_CONV_WIDTH = 32,  /* cnn: channels of the first conv layer, doubled per stage [8]  */
    HB_MK_CONV_STAGES = 33, /* cnn: conv(3x3)+ReLU+pool(2x2) stages [2]                      */
    HB_MK_POOL = 34,        /* cnn: pooling, hb_net_pool (net.h) [HB_POOL_AVG = 1]; max = 2  */
    HB_MK_QUAD_BLOCKS = 40, /* quadratic: number of blocks [4]                               */
    HB_MK_QUAD_BLOCK_SIZE = 41, /* quadratic: size of every block [25]                       */
    HB_MK_QUAD_FAMILY = 42, /* quadratic: hb_quadratic_family [HB_QUAD_HETEROGENEOUS]        */
    HB_MK_QUAD_COND = 43    /* quadratic: overall condition number κ (f64) [5000]            */
} hb_model_key;

typedef enum hb_activation {
    HB_ACT_RELU = 1,
    HB_ACT_GELU = 2,        /* tanh form, as GPT-2 */
    HB_ACT_GELU_ERF = 3,    /* exact form x·Φ(x) (nn.GELU()); hb_net only */
    HB_ACT_SILU = 4,        /* x·σ(x); hb_net only */
    HB_ACT_TANH = 5         /* hb_net only */
} hb_activation;

typedef enum hb_quadratic_family {
    HB_QUAD_HETEROGENEOUS = 1, /* block i of B: eigenvalues log-spaced in [κ^(i/B), κ^((i+1)/B)] */
    HB_QUAD_HOMOGENEOUS = 2    /* every block: eigenvalues log-spaced in [1, κ]                 */
} hb_quadratic_family;

typedef struct hb_model_config hb_model_config;

/* hb_model_config_create: defaults of `kind`. Returns HB_OK, HB_EINVAL, HB_ENOMEM. */
HB_API int hb_model_config_create(hb_context *ctx, hb_model_kind kind, hb_model_config **out);
HB_API void hb_model_config_free(hb_model_config *cfg);
/* Setters/getters. Returns HB_OK, HB_EINVAL (NULL, key not used by this kind, value out
 * of range), HB_EDTYPE (HB_MK_DTYPE not a parameter dtype). Integer keys take i64, real
 * keys (HB_MK_QUAD_COND) f64; the wrong setter is HB_EINVAL. */
HB_API int hb_model_config_set_i64(hb_model_config *cfg, hb_model_key key, int64_t value);
HB_API int hb_model_config_set_f64(hb_model_config *cfg, hb_model_key key, double value);
HB_API int hb_model_config_get_i64(const hb_model_config *cfg, hb_model_key key, int64_t *value);
HB_API int hb_model_config_get_f64(const hb_model_config *cfg, hb_model_key key, double *value);

/* hb_model_create: build the model, its parameter blocks (PyTorch-style names; layout in
 * docs/models.md) initialised from the context's RNG, and one synthetic batch
 * (hb_model_set_synthetic). Returns HB_OK, HB_EINVAL, HB_ENOMEM, and the config's errors. */
HB_API int hb_model_create(hb_context *ctx, const hb_model_config *cfg, hb_model **out);

/* hb_model_free: frees the model and its params. NULL is a no-op. */
HB_API void hb_model_free(hb_model *m);

/* ---- Quadratic models with given spectra -------------------------------------------
 * L(θ) = ½θᵀHθ − hᵀθ, H = diag(H_0, …, H_{B−1}) block-diagonal, blocks "block.0", …
 * (kind HB_BLOCK_OTHER), θ initialised to 0. The exact spectrum of every block is known,
 * which makes these the reference objectives for SLQ and Jensen–Shannon tests. */

/* hb_model_create_quadratic: a quadratic model whose parameters have `dtype` (f32, f64,
 * bf16). n_blocks ≥ 1 blocks of sizes[b] ≥ 1 parameters. Block b is given by EXACTLY ONE
 * of
 *   eigenvalues[b]: sizes[b] doubles; H_b = Q_b·diag(λ)·Q_bᵀ with Q_b a random orthogonal
 *                   matrix (QR of a Gaussian matrix, drawn from the context's RNG);
 *   dense[b]:       sizes[b]² doubles, row-major, symmetric (|a_ij − a_ji| ≤ 1e-12·max|a|).
 * eigenvalues or dense may be NULL as a whole (then the other gives every block).
 * h: n = Σ sizes doubles, or NULL for h = 0. All values must be finite.
 * Returns HB_OK, HB_EINVAL (NULL, zero sizes, both or neither source for a block, dense
 * block not symmetric), HB_EDTYPE, HB_ENONFINITE, HB_EOVERFLOW, HB_ENOMEM. */
HB_API int hb_model_create_quadratic(hb_context *ctx, hb_dtype dtype, size_t n_blocks,
                                     const size_t *sizes, const double *const *eigenvalues,
                                     const double *const *dense, const double *h,
                                     hb_model **out);

/* hb_model_quadratic_eigenvalues: the exact eigenvalues of H_b, ascending, into
 * out[0..n) (n must equal the block's size). For blocks given by eigenvalues these are
 * the given values (sorted); for dense blocks and generated ones, LAPACK's dsyev of the
 * f64 matrix (generated blocks: the generating values). Works for every quadratic model
 * (hb_model_create with HB_MODEL_QUADRATIC too).
 * Returns HB_OK, HB_EINVAL, HB_EUNSUPPORTED (not a quadratic model), HB_ERANGE (block),
 * HB_ESHAPE (n ≠ block size). */
HB_API int hb_model_quadratic_eigenvalues(const hb_model *m, size_t block, double *out,
                                          size_t n);

/* hb_model_quadratic_matrix: the f64 matrix H_b (row-major, n = size² doubles) the model
 * uses (in f32/bf16 models H_b is rounded to f32 for the products).
 * Same returns as hb_model_quadratic_eigenvalues. */
HB_API int hb_model_quadratic_matrix(const hb_model *m, size_t block, double *out, size_t n);

/* ---- Queries ------------------------------------------------------------------------- */
/* hb_model_params: the model's parameters (borrowed; valid until hb_model_free). */
HB_API hb_params *hb_model_params(hb_model *m);
HB_API hb_context *hb_model_context(const hb_model *m);
/* hb_model_kind_of: the kind, or 0 for a callback model. */
HB_API int hb_model_kind_of(const hb_model *m);
/* hb_model_name: static short name ("gpt", "mlp", "cnn", "quadratic", "callbacks"). */
HB_API const char *hb_model_name(const hb_model *m);
/* hb_model_has_exact_hvp: 1 for exact HVPs, 0 for the finite-difference fallback. */
HB_API int hb_model_has_exact_hvp(const hb_model *m);

/* ---- Data ---------------------------------------------------------------------------
 * Inputs and targets per kind (N = samples of the micro-batch):
 *   gpt:  inputs (N, T) i32 token ids in [0, vocab), targets (N, T) i32 next tokens
 *   mlp:  inputs (N, inputs) f32/f64, targets (N) i32 classes in [0, classes)
 *   cnn:  inputs (N, channels, S, S) f32/f64, targets (N) i32 classes
 *   quadratic: no data (the batch calls return HB_EUNSUPPORTED)
 * Batches are copied; the caller keeps its tensors. */

/* hb_model_set_batch: replace all micro-batches by this one.
 * Returns HB_OK, HB_EINVAL, HB_ESHAPE, HB_EDTYPE, HB_ERANGE (token id or class out of
 * range), HB_ENONFINITE (NaN/Inf in inputs), HB_ENOMEM, HB_EUNSUPPORTED. Nothing changes
 * on failure. */
HB_API int hb_model_set_batch(hb_model *m, const hb_tensor *inputs, const hb_tensor *targets);
/* hb_model_add_batch: append one more micro-batch (same checks). */
HB_API int hb_model_add_batch(hb_model *m, const hb_tensor *inputs, const hb_tensor *targets);
/* hb_model_num_batches / hb_model_num_samples: micro-batches held, samples in total. */
HB_API size_t hb_model_num_batches(const hb_model *m);
HB_API size_t hb_model_num_samples(const hb_model *m);

/* Reading the data back (issue 12.5): what a model computes on can be inspected and
 * compared, e.g. to check that data built elsewhere is the same (docs/cli.md, "How the
 * CLI makes its data"). Micro-batches are numbered 0 … hb_model_num_batches(m) − 1 in
 * the order they were set or added; each has two parts. Values are ABI. */
typedef enum hb_batch_part {
    HB_BATCH_INPUTS = 1, /* gpt: i32 token ids; mlp/cnn: f32/f64 features */
    HB_BATCH_TARGETS = 2 /* i32: next tokens (gpt) or classes (mlp, cnn) */
} hb_batch_part;

/* hb_model_batch_shape: dtype, rank and shape of one part of micro-batch i (any of the
 * outputs may be NULL; shape receives ndim entries, the rest of its HB_MAX_DIMS set to 1).
 * The part holds prod(shape) elements of hb_dtype_size(dtype) bytes, row-major.
 * Returns HB_OK, HB_EINVAL (NULL m, unknown part), HB_ERANGE (i >= number of batches;
 * a model without data, such as quadratic, holds none). */
HB_API int hb_model_batch_shape(const hb_model *m, size_t i, hb_batch_part part,
                                hb_dtype *dtype, int *ndim, int64_t shape[HB_MAX_DIMS]);

/* hb_model_batch_copy: copy one part of micro-batch i (row-major, its own dtype) into buf,
 * which holds `bytes` bytes. Returns HB_OK, HB_EINVAL (NULL m or buf, unknown part, bytes
 * smaller than the part: the message says how many are needed), HB_ERANGE (i out of
 * range). Nothing is written on failure. */
HB_API int hb_model_batch_copy(const hb_model *m, size_t i, hb_batch_part part, void *buf,
                               size_t bytes);

/* hb_model_set_synthetic: replace the data by n_batches micro-batches of the model's
 * built-in synthetic data (HB_MK_BATCH samples each), drawn deterministically from
 * (context seed, stream, first sample index). Different `first` give disjoint samples of
 * the same distribution (use first = 0 for training, a large offset for held-out data). */
HB_API int hb_model_set_synthetic(hb_model *m, size_t n_batches, uint64_t stream, uint64_t first);

/* hb_model_set_text (a gpt, or an SST/LoRA wrapper of one): replace the data by n_batches
 * micro-batches of HB_MK_BATCH byte sequences read from the file at path (byte-level
 * vocabulary: each byte is a token id, so the vocabulary must exceed every byte of the
 * file). Sample s (s = first, first + 1, …) is the window of context + 1 bytes starting at
 * byte (s·context) mod (file length − context): inputs are its first context bytes,
 * targets the same shifted by one. Returns HB_OK, HB_EINVAL, HB_EUNSUPPORTED (neither a
 * gpt nor a wrapper of one), HB_EIO (the file cannot be opened or read; the message names
 * it), HB_EFORMAT (fewer than context + 1 bytes), HB_ERANGE (a byte >= vocabulary),
 * HB_EOVERFLOW (more than HB_TEXT_MAX_BYTES bytes, hessblock/text.h: refused before
 * reading), HB_ENOMEM. Nothing changes on failure. For several files, a character-level
 * vocabulary and a train/validation split see hb_model_set_corpus (text.h). */
HB_API int hb_model_set_text(hb_model *m, const char *path, size_t n_batches, uint64_t first);

/* ---- Evaluation ---------------------------------------------------------------------- */
/* hb_model_loss: L(θ) over the current data. Returns HB_OK, HB_EINVAL, HB_ESTATE (no
 * data), HB_ENONFINITE (the loss is not finite; *loss is still written). */
HB_API int hb_model_loss(hb_model *m, double *loss);
/* hb_model_loss_grad: L(θ) and ∇L(θ), written (not accumulated) into the params'
 * gradient buffer. loss may be NULL. Same returns as hb_model_loss. */
HB_API int hb_model_loss_grad(hb_model *m, double *loss);
/* hb_model_accuracy: fraction of correct argmax predictions (classifiers and gpt;
 * HB_EUNSUPPORTED for quadratic). */
HB_API int hb_model_accuracy(hb_model *m, double *accuracy);

/* hb_model_hvp: out = H·v. v and out are 1-d tensors of length n (f32 or f64).
 * Returns HB_OK, HB_EINVAL, HB_ESHAPE (length ≠ n), HB_EDTYPE, HB_ENONFINITE (v holds
 * NaN/Inf; out untouched), HB_ESTATE (no data), HB_ENOMEM. */
HB_API int hb_model_hvp(hb_model *m, const hb_tensor *v, hb_tensor *out);
/* hb_model_hvp_multi: OUT = H·V for k directions at once. V and OUT are (k, n) tensors,
 * one direction per row. Shares the forward/backward pass among the k directions and
 * batches their R-passes into wider matrix products. Same returns as hb_model_hvp. */
HB_API int hb_model_hvp_multi(hb_model *m, const hb_tensor *V, hb_tensor *out);
/* hb_model_block_hvp: out_b = H_bb·v_b, the principal sub-block of block b: the block
 * part of H·[0 … v_b … 0]. v_b and out_b have numel(b) elements (any shape with that
 * many, or (k, numel(b)) for k directions at once). Returns as hb_model_hvp plus HB_ERANGE. */
HB_API int hb_model_block_hvp(hb_model *m, size_t block, const hb_tensor *v_b, hb_tensor *out_b);

/* ---- Data across ranks (issue 13; docs/scale-out.md "Data across ranks") -------------
 * Under mpirun (or any communicator, comm.h) each rank may hold a SHARD of the
 * micro-batches: the model's data are this rank's part of one global batch. With
 * data-parallel on and a communicator of size R > 1 on the model's context, every call
 * that sums over micro-batches — hb_model_loss, hb_model_loss_grad, hb_model_accuracy,
 * hb_model_hvp, hb_model_hvp_multi, hb_model_block_hvp (and the SLQ runs, traces, top-k
 * and trainers over the model) — sums this rank's batches, then sums over the ranks with
 * ONE allreduce_sum (f64: status, sample count, loss and the gradient or products packed
 * together), and divides by the GLOBAL sample count, learnt in that same allreduce at
 * every call (so each rank may change its data at any time, and shards may be uneven; a
 * rank may hold no data). Results are the mean over all samples, as one process over the
 * union of the shards computes it, to rounding (a few ulps), and the same bits on every
 * rank: optimizer steps on them stay in sync with no more communication.
 * Every such call is COLLECTIVE (comm.h's rule): every rank makes it, in the same order,
 * with the same θ and arguments. A failure on one rank during the call (a failing layer,
 * a non-finite value) is reported in the allreduce: every rank returns that status, the
 * others with "rank r failed". A rank that returns before the allreduce (a bad argument
 * on that rank only, an allocation failure) leaves the others waiting.
 * Off (the default), without a communicator, or of size 1: nothing is communicated, the
 * single-process code path, bit for bit. Checkpoints: a trainer writes them on rank 0
 * only (train.h); hb_checkpoint_save called directly writes on every rank that calls it.
 * hb_model_set_data_parallel: on = 1 (shard) or 0. Returns HB_OK, HB_EINVAL (NULL, on
 * not 0 or 1), HB_EUNSUPPORTED (a model that takes no data: quadratic, callbacks).
 * Allocates nothing; communicates nothing. */
HB_API int hb_model_set_data_parallel(hb_model *m, int on);

/* ---- User objectives ------------------------------------------------------------------
 * A callback model is an objective the caller computes: the library asks for L(θ) and
 * ∇L(θ) (required) and, when given, for Hessian-vector products, and runs everything
 * else (SLQ, traces, optimizers, trainers) on it as on a built-in model. Callback models
 * take no data (the batch calls return HB_EUNSUPPORTED): the objective is whatever the
 * callbacks compute. θ is passed in, read-only, valid during the call only; it is the
 * params' buffer (or, for bf16 params, the model's f32 copy of it).
 * A callback returns 0 on success and nonzero on failure; the model call then returns
 * HB_ECALLBACK with a message naming the callback and its return value. Products the
 * callbacks return are checked: a NaN or Inf is HB_ENONFINITE.
 * Callback models are NOT safe for concurrent products (one scratch per model): keep the
 * context's threads at 1 for analyses of them (the default).
 *
 * The f64 interface of the first release: */

/* loss_grad(user, theta, n, loss, grad): write L(theta) to *loss and ∇L to grad[0..n).
 * hvp(user, theta, n, v, out): write H(theta)·v to out (optional).
 * theta/v/grad/out are f64 arrays of n elements. */
typedef int (*hb_loss_grad_fn)(void *user, const double *theta, size_t n, double *loss,
                               double *grad);
typedef int (*hb_hvp_fn)(void *user, const double *theta, size_t n, const double *v,
                         double *out);

/* hb_model_create_callbacks: a model over `params` (f64, finalised; the model takes
 * ownership and frees them) whose objective is the user's: hb_model_create_callbacks_ex
 * with dtype HB_F64, these two callbacks and the default finite-difference step (below).
 * Returns HB_OK, HB_EINVAL, HB_EDTYPE, HB_ESTATE (params not finalised), HB_ENOMEM. On
 * failure the params are NOT taken (the caller still owns them). */
HB_API int hb_model_create_callbacks(hb_context *ctx, hb_params *params,
                                     hb_loss_grad_fn loss_grad, hb_hvp_fn hvp, void *user,
                                     hb_model **out);

/* ---- User objectives, any dtype, any subset of products (issue 14.3) ------------------
 * Every vector a callback sees or writes (theta, grad, v, out, V, OUT) holds elements of
 * the callbacks' dtype `dtype` (HB_F64: double, HB_F32: float), which must be the model's
 * compute dtype: HB_F64 for f64 params, HB_F32 for f32 or bf16 params (HB_EDTYPE
 * otherwise). Vectors are flat in the params' layout; several directions are (k, n)
 * row-major, one direction per row. The loss is always a double.
 *
 *   loss_grad (required)  L(θ) into *loss, ∇L(θ) into grad[0..n).
 *   hvp       (optional)  out = H(θ)·v, one direction.
 *   hvp_multi (optional)  OUT = H(θ)·V for k ≥ 1 directions at once, V and OUT (k, n):
 *                         share one forward/backward among the k products.
 *   block_hvp (optional)  OUT_b = H_bb(θ)·V_b for k directions of block `block` only
 *                         (hb_params_block_* give its offset): V_b and OUT_b are
 *                         (k, block_len), block_len = numel of the block; H_bb is the
 *                         principal sub-block (the block part of H·[0 … v_b … 0]).
 *   accuracy  (optional)  *correct of *total predictions correct (hb_model_accuracy
 *                         reports correct/total, 0 when total = 0).
 *   destroy   (optional)  destroy(user) once, when the model is freed (not when the
 *                         create call fails: then the caller keeps the user pointer).
 *
 * Whatever subset is given, every model call works:
 *   hb_model_hvp          hvp; else hvp_multi with k = 1; else the finite difference.
 *   hb_model_hvp_multi    hvp_multi (k = 1: hvp when given); else hvp per direction;
 *                         else finite differences.
 *   hb_model_block_hvp    block_hvp; else the full product of the zero-padded directions
 *                         (through hvp_multi, hvp or finite differences as above),
 *                         restricted to the block.
 *   hb_model_has_exact_hvp  1 when hvp or hvp_multi is given, else 0 (block_hvp alone
 *                         makes block products exact but not full ones).
 *
 * Finite differences (no hvp and no hvp_multi): H·v ≈ (∇L(θ+εv) − ∇L(θ−εv)) / 2ε, two
 * gradients per direction, with
 *     ε = h·(1 + ‖θ‖∞)/‖v‖∞,   h = fd_step if fd_step > 0, else the default h = ∛u,
 * u the machine epsilon of the callbacks' dtype (2^-52 for f64: h ≈ 6.1e-6; 2^-23 for
 * f32: h ≈ 4.9e-3). ‖εv‖∞ = h·(1 + ‖θ‖∞) is the largest change of any coordinate: h is
 * a step relative to the parameters' scale (absolute near θ = 0), and the product does
 * not depend on the norm of v (H is linear; only the step must be). Why ∛u: the central
 * difference's truncation error is ε²/6·∂³L[v,v,·] (relative ≈ h²/6 for a smooth
 * objective varying on the scale of θ), its rounding error u·(|∇L| + |H|·|θ|)/ε
 * (relative ≈ u/h: the gradients are computed to ≈ u, θ ± εv is rounded to u·|θ|);
 * h = ∛u balances the two at a relative error of ≈ u^(2/3): ≈ 4e-11 in f64, ≈ 2.4e-5 in
 * f32 (docs/api.md, "Finite-difference step", has the derivation and the tests). A
 * quadratic has no truncation error; set fd_step larger for noisy objectives. v = 0
 * gives 0 without a call.
 *
 * Versioning: the struct begins with struct_size = sizeof(hb_model_callbacks) as the
 * CALLER compiled it; fields are only ever appended. The library reads the fields that
 * lie entirely within struct_size and uses the zero value (= the default) for the rest,
 * so a caller compiled against an older, shorter struct keeps working. A struct_size
 * larger than this library's struct (a caller compiled against a newer header) is
 * accepted when every byte beyond the fields this library knows is zero (the caller uses
 * none of the newer features) and refused with HB_EUNSUPPORTED otherwise — the Linux
 * copy_struct_from_user rule. struct_size below HB_MODEL_CALLBACKS_SIZE_MIN (the struct
 * up to and including loss_grad) or above 4096 is HB_EINVAL. Zero-initialise the struct
 * (or start from HB_MODEL_CALLBACKS_INIT) so unset fields take their defaults.
 *
 * Threads (thread_safe, appended in 0.2): the spectral functions (slq.h) run the probes
 * of one SLQ run and the blocks of a per-block analysis as concurrent tasks on the
 * context's threads. With thread_safe = 1 the caller declares that hvp, hvp_multi,
 * block_hvp and (for finite differences) loss_grad may be called from several threads at
 * once, on the same θ (read-only) and the same user pointer, with distinct v and out
 * buffers; the library then runs those tasks concurrently. With 0 (the default, and what
 * a caller compiled against the older struct gets) every callback is called from one
 * thread at a time, the tasks running one after another. Results are bit-identical either
 * way (docs/design.md, "Threads"). Values other than 0 and 1 are HB_EINVAL. */
typedef int (*hb_callback_loss_grad_fn)(void *user, const void *theta, size_t n,
                                        double *loss, void *grad);
typedef int (*hb_callback_hvp_fn)(void *user, const void *theta, size_t n, const void *v,
                                  void *out);
typedef int (*hb_callback_hvp_multi_fn)(void *user, const void *theta, size_t n, size_t k,
                                        const void *V, void *OUT);
typedef int (*hb_callback_block_hvp_fn)(void *user, const void *theta, size_t n,
                                        size_t block, size_t block_len, size_t k,
                                        const void *V_b, void *OUT_b);
typedef int (*hb_callback_accuracy_fn)(void *user, const void *theta, size_t n,
                                       size_t *correct, size_t *total);
typedef void (*hb_callback_destroy_fn)(void *user);

typedef struct hb_model_callbacks {
    size_t struct_size;                 /* sizeof(hb_model_callbacks) */
    int dtype;                          /* hb_dtype of the vectors: HB_F64, HB_F32; 0 = HB_F64 */
    void *user;                         /* passed to every callback */
    hb_callback_loss_grad_fn loss_grad; /* required */
    hb_callback_hvp_fn hvp;             /* optional */
    hb_callback_hvp_multi_fn hvp_multi; /* optional */
    hb_callback_block_hvp_fn block_hvp; /* optional */
    hb_callback_accuracy_fn accuracy;   /* optional */
    hb_callback_destroy_fn destroy;     /* optional: destroy(user) when the model is freed */
    double fd_step;                     /* h > 0 of the finite difference; 0 = ∛u [0] */
    int thread_safe;                    /* 1: callbacks may run concurrently (above) [0] */
} hb_model_callbacks;

#define HB_MODEL_CALLBACKS_INIT \
    { sizeof(hb_model_callbacks), HB_F64, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0.0, 0 }
/* The smallest struct_size accepted: every field up to and including loss_grad. */
#define HB_MODEL_CALLBACKS_SIZE_MIN \
    (offsetof(hb_model_callbacks, loss_grad) + sizeof(hb_callback_loss_grad_fn))

/* hb_model_create_callbacks_ex: a model over `params` (finalised; f64, f32 or bf16 as
 * the dtype rule above says; the model takes ownership and frees them) whose objective
 * is the callbacks' (copied: the caller's struct need not outlive the call; `user`
 * must, until the model is freed).
 * Returns HB_OK; HB_EINVAL (NULL ctx, params, cb or out; no loss_grad; struct_size out
 * of range; fd_step negative, NaN or Inf; params of another context); HB_EUNSUPPORTED
 * (struct_size larger than this library's struct with nonzero bytes beyond it); HB_EDTYPE
 * (dtype not HB_F64/HB_F32, or not the params' compute dtype); HB_ESTATE (params not
 * finalised); HB_ENOMEM. On failure nothing is taken: the caller still owns the params
 * and the user pointer, and destroy is not called. */
HB_API int hb_model_create_callbacks_ex(hb_context *ctx, hb_params *params,
                                        const hb_model_callbacks *cb, hb_model **out);

#ifdef __cplusplus
}
#endif
#endif /* HESSBLOCK_MODEL_H */
