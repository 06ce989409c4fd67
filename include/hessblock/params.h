/* libhessblock — parameter blocks.
 *
 * All parameters of a model live in ONE flat, contiguous vector of n scalars. A block
 * is a named view (name, kind, offset, shape) into it. Layout contract: blocks are
 * stored in the order they were added, back to back with no padding; each block is
 * row-major in its own shape; block b starts at offset sum_{j<b} numel(j). The
 * gradient buffer has exactly the same layout. Vectors handed to Hessian products
 * and optimizers use this layout too.
 *
 * Life cycle: hb_params_create → hb_params_add_block … → hb_params_finalize (allocates
 * both buffers, zero-filled) → use. Adding after finalize, or reading data before it,
 * is HB_ESTATE. */
#ifndef HESSBLOCK_PARAMS_H
#define HESSBLOCK_PARAMS_H

#include "hessblock/core.h"
#include "hessblock/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a block is, so spectra and optimizers can group blocks. Values are ABI. */
typedef enum hb_block_kind {
    HB_BLOCK_OTHER = 0,
    HB_BLOCK_EMBEDDING = 1,
    HB_BLOCK_ATTN_Q = 2,
    HB_BLOCK_ATTN_K = 3,
    HB_BLOCK_ATTN_V = 4,
    HB_BLOCK_ATTN_O = 5,
    HB_BLOCK_MLP_IN = 6,
    HB_BLOCK_MLP_OUT = 7,
    HB_BLOCK_NORM = 8,
    HB_BLOCK_BIAS = 9,
    HB_BLOCK_HEAD = 10,
    HB_BLOCK_CONV = 11,
    HB_BLOCK_LINEAR = 12
} hb_block_kind;

/* hb_block_kind_name: static lowercase name ("embedding", "attn_q", …), "?" if unknown. */
HB_API const char *hb_block_kind_name(hb_block_kind kind);

/* Maximum block name length in bytes, terminator excluded. */
#define HB_MAX_BLOCK_NAME 127

typedef struct hb_params hb_params;

/* hb_params_create: an empty builder whose buffers will hold `dtype` (f32, f64 or
 * bf16). For bf16 parameters the gradient buffer is f32 (documented in docs/design.md).
 * Returns HB_OK, HB_EINVAL, HB_EDTYPE, HB_ENOMEM. */
HB_API int hb_params_create(hb_context *ctx, hb_dtype dtype, hb_params **out);

/* hb_params_free: NULL is a no-op. Views handed out must be freed first or not used after. */
HB_API void hb_params_free(hb_params *p);

/* hb_params_add_block: append a block. name: 1..HB_MAX_BLOCK_NAME bytes, unique;
 * 1 <= ndim <= HB_MAX_DIMS; every dim >= 1. index (may be NULL) receives its index.
 * Returns HB_OK, HB_EINVAL (bad name, duplicate name, bad kind), HB_ESHAPE,
 * HB_EOVERFLOW, HB_ESTATE (already finalised), HB_ENOMEM. */
HB_API int hb_params_add_block(hb_params *p, const char *name, hb_block_kind kind,
                               int ndim, const int64_t *shape, size_t *index);

/* hb_params_finalize: allocate the flat parameter and gradient buffers (zero-filled).
 * Returns HB_OK, HB_ESTATE (already finalised or no blocks), HB_ENOMEM. */
HB_API int hb_params_finalize(hb_params *p);

/* Queries. hb_params_count is the flat length n (0 before finalize). */
HB_API int hb_params_is_finalized(const hb_params *p);
HB_API hb_dtype hb_params_dtype(const hb_params *p);
HB_API hb_dtype hb_params_grad_dtype(const hb_params *p);
HB_API size_t hb_params_count(const hb_params *p);
HB_API size_t hb_params_num_blocks(const hb_params *p);
HB_API hb_context *hb_params_context(const hb_params *p);

/* hb_params_find_block: index of the block called name.
 * Returns HB_OK, HB_EINVAL, HB_ENOTFOUND. */
HB_API int hb_params_find_block(const hb_params *p, const char *name, size_t *index);

/* hb_params_block_info: any output pointer may be NULL. shape receives ndim entries
 * (give room for HB_MAX_DIMS). Returns HB_OK, HB_EINVAL, HB_ERANGE. */
HB_API int hb_params_block_info(const hb_params *p, size_t index, const char **name,
                                hb_block_kind *kind, size_t *offset, size_t *numel,
                                int *ndim, int64_t *shape);

/* hb_params_block_name: the block's name (owned by p), or NULL when out of range. */
HB_API const char *hb_params_block_name(const hb_params *p, size_t index);

/* Raw flat buffers (NULL before finalize). Element type: hb_params_dtype /
 * hb_params_grad_dtype. Valid until hb_params_free. */
HB_API void *hb_params_data(hb_params *p);
HB_API void *hb_params_grad(hb_params *p);

/* Views as tensors (non-owning; free the view with hb_tensor_free; data stays p's).
 * block views have the block's shape; flat views are 1-d of length n.
 * Returns HB_OK, HB_EINVAL, HB_ERANGE, HB_ESTATE (not finalised), HB_ENOMEM. */
HB_API int hb_params_block_view(hb_params *p, size_t index, hb_tensor **out);
HB_API int hb_params_grad_block_view(hb_params *p, size_t index, hb_tensor **out);
HB_API int hb_params_flat_view(hb_params *p, hb_tensor **out);
HB_API int hb_params_grad_flat_view(hb_params *p, hb_tensor **out);

/* hb_params_zero_grad: set the whole gradient buffer to 0. Returns HB_OK, HB_EINVAL, HB_ESTATE. */
HB_API int hb_params_zero_grad(hb_params *p);

/* ---- Trainable and frozen blocks ------------------------------------------------
 * Every block is trainable when added. A frozen block (PyTorch's requires_grad=False as a
 * property of the block table) stays in the flat vector, is used by models, receives
 * gradients and is saved in checkpoints, but optimizers keep no state for it and never
 * change it (docs/optim.md). */

/* hb_params_set_trainable: mark block `index` trainable (1, the default for every block)
 * or frozen (0). A frozen block stays in the flat vector, is used by models, receives
 * gradients and is saved in checkpoints, but optimizers keep no state for it and never
 * change it. Allowed before and after hb_params_finalize; an optimizer sizes its state
 * from the flags when it is created, and its hb_optimizer_step fails with HB_ESTATE if the
 * flags changed since. Returns HB_OK, HB_EINVAL (NULL, trainable not 0/1), HB_ERANGE. */
HB_API int hb_params_set_trainable(hb_params *p, size_t index, int trainable);

/* hb_params_block_trainable: *trainable = 1 or 0. Returns HB_OK, HB_EINVAL, HB_ERANGE. */
HB_API int hb_params_block_trainable(const hb_params *p, size_t index, int *trainable);

/* hb_params_trainable_count: elements in trainable blocks (0 for NULL). Before
 * hb_params_finalize it counts the blocks added so far. */
HB_API size_t hb_params_trainable_count(const hb_params *p);

/* Initialisers. fan_in / fan_out follow PyTorch: for shape (out, in, k…),
 * fan_in = in·prod(k), fan_out = out·prod(k); a 1-d block has fan_in = fan_out = its length.
 * Values are ABI and never reused. The meaning of a and b per initialiser: */
typedef enum hb_init {
    HB_INIT_ZEROS = 1,           /* 0                                                  */
    HB_INIT_CONSTANT = 2,        /* a                                                  */
    HB_INIT_NORMAL = 3,          /* N(mean a, std b)                                   */
    HB_INIT_UNIFORM = 4,         /* U[a, b)                                            */
    HB_INIT_KAIMING_UNIFORM = 5, /* U(±gain·√(3/fan_in)), gain = √(2/(1+a²)), a = neg. slope */
    HB_INIT_KAIMING_NORMAL = 6,  /* N(0, gain/√fan_in), gain as above                  */
    HB_INIT_XAVIER_UNIFORM = 7,  /* U(±a·√(6/(fan_in+fan_out))), a = gain (0 → 1)      */
    HB_INIT_XAVIER_NORMAL = 8,   /* N(0, a·√(2/(fan_in+fan_out))), a = gain (0 → 1)    */
    HB_INIT_TORCH_LINEAR = 9,    /* nn.Linear weight: U(±1/√fan_in)                    */
    HB_INIT_TORCH_LINEAR_BIAS = 10, /* nn.Linear bias: U(±1/√a), a = the weight's fan_in */
    HB_INIT_TORCH_EMBEDDING = 11,   /* nn.Embedding: N(0, 1)                           */
    HB_INIT_TORCH_LAYERNORM_WEIGHT = 12, /* 1                                          */
    HB_INIT_TORCH_LAYERNORM_BIAS = 13    /* 0                                          */
} hb_init;

/* hb_params_init_block: fill block `index` by `init`, drawing from a fresh stream of
 * the context (so the result depends only on the seed and the order of init calls,
 * never on the thread count). bf16 parameters are rounded to nearest even.
 * Returns HB_OK, HB_EINVAL (bad init or parameters), HB_ERANGE, HB_ESTATE. */
HB_API int hb_params_init_block(hb_params *p, size_t index, hb_init init, double a, double b);

#ifdef __cplusplus
}
#endif
#endif /* HESSBLOCK_PARAMS_H */
