/* Parameter blocks over one flat buffer: the builder, lookups and views. */
#include <string.h>

#include "params/params_internal.h"

const char *hb_block_kind_name(hb_block_kind kind) {
    switch (kind) {
    case HB_BLOCK_OTHER: return "other";
    case HB_BLOCK_EMBEDDING: return "embedding";
    case HB_BLOCK_ATTN_Q: return "attn_q";
    case HB_BLOCK_ATTN_K: return "attn_k";
    case HB_BLOCK_ATTN_V: return "attn_v";
    case HB_BLOCK_ATTN_O: return "attn_o";
    case HB_BLOCK_MLP_IN: return "mlp_in";
    case HB_BLOCK_MLP_OUT: return "mlp_out";
    case HB_BLOCK_NORM: return "norm";
    case HB_BLOCK_BIAS: return "bias";
    case HB_BLOCK_HEAD: return "head";
    case HB_BLOCK_CONV: return "conv";
    case HB_BLOCK_LINEAR: return "linear";
    }
    return "?";
}

int hb_params_create(hb_context *ctx, hb_dtype dtype, hb_params **out) {
    if (out) *out = NULL;
    if (!ctx) return HB_EINVAL;
    HB_CHECK(ctx, out != NULL, HB_EINVAL, "output pointer is NULL");
    HB_CHECK(ctx, dtype == HB_F32 || dtype == HB_F64 || dtype == HB_BF16, HB_EDTYPE,
             "parameters must be f32, f64 or bf16, got dtype %d", (int)dtype);
    hb_params *p = hb__calloc(ctx, 1, sizeof *p, "params handle");
    if (!p) return HB_ENOMEM;
    p->ctx = ctx;
    p->dtype = dtype;
    p->grad_dtype = dtype == HB_BF16 ? HB_F32 : dtype;
    *out = p;
    return HB_OK;
}

void hb_params_free(hb_params *p) {
    if (!p) return;
    hb_context *ctx = p->ctx;
    hb__free(ctx, p->data);
    hb__free(ctx, p->grad);
    hb__free(ctx, p->blocks);
    hb__free(ctx, p);
}

int hb_params_add_block(hb_params *p, const char *name, hb_block_kind kind, int ndim,
                        const int64_t *shape, size_t *index) {
    if (!p) return HB_EINVAL;
    hb_context *ctx = p->ctx;
    HB_CHECK(ctx, !p->finalized, HB_ESTATE, "cannot add block '%s': params already finalised",
             name ? name : "(null)");
    HB_CHECK(ctx, name != NULL, HB_EINVAL, "block name is NULL");
    size_t len = strlen(name);
    HB_CHECK(ctx, len >= 1 && len <= HB_MAX_BLOCK_NAME, HB_EINVAL,
             "block name must have 1..%d bytes, got %zu", HB_MAX_BLOCK_NAME, len);
    HB_CHECK(ctx, strcmp(hb_block_kind_name(kind), "?") != 0, HB_EINVAL,
             "block '%s': unknown kind %d", name, (int)kind);
    for (size_t i = 0; i < p->n_blocks; i++)
        HB_CHECK(ctx, strcmp(p->blocks[i].name, name) != 0, HB_EINVAL,
                 "duplicate block name '%s'", name);
    size_t numel, bytes, total;
    HB_TRY(hb__check_shape(ctx, p->dtype, ndim, shape, &numel, &bytes));
    HB_CHECK(ctx, hb__add_size(p->n, numel, &total) &&
                      hb__mul_size(total, 8, &bytes) && bytes <= (size_t)PTRDIFF_MAX,
             HB_EOVERFLOW, "block '%s' makes the flat vector overflow", name);
    if (p->n_blocks == p->cap_blocks) {
        size_t cap = p->cap_blocks ? 2 * p->cap_blocks : 16;
        hb__block *nb = hb__calloc(ctx, cap, sizeof *nb, "block table");
        if (!nb) return HB_ENOMEM;
        if (p->n_blocks) memcpy(nb, p->blocks, p->n_blocks * sizeof *nb);
        hb__free(ctx, p->blocks);
        p->blocks = nb;
        p->cap_blocks = cap;
    }
    hb__block *b = &p->blocks[p->n_blocks];
    memset(b, 0, sizeof *b);
    memcpy(b->name, name, len + 1);
    b->kind = kind;
    b->ndim = ndim;
    for (int i = 0; i < ndim; i++) b->shape[i] = shape[i];
    b->offset = p->n;
    b->numel = numel;
    p->n = total;
    p->n_trainable += numel;
    if (index) *index = p->n_blocks;
    p->n_blocks++;
    return HB_OK;
}

int hb_params_finalize(hb_params *p) {
    if (!p) return HB_EINVAL;
    hb_context *ctx = p->ctx;
    HB_CHECK(ctx, !p->finalized, HB_ESTATE, "params already finalised");
    HB_CHECK(ctx, p->n_blocks > 0, HB_ESTATE, "cannot finalise params with no blocks");
    void *data = hb__calloc(ctx, p->n, hb_dtype_size(p->dtype), "parameter buffer");
    if (!data) return HB_ENOMEM;
    void *grad = hb__calloc(ctx, p->n, hb_dtype_size(p->grad_dtype), "gradient buffer");
    if (!grad) {
        hb__free(ctx, data);
        return HB_ENOMEM;
    }
    p->data = data;
    p->grad = grad;
    p->finalized = true;
    return HB_OK;
}

int hb_params_is_finalized(const hb_params *p) { return p ? (int)p->finalized : 0; }
hb_dtype hb_params_dtype(const hb_params *p) { return p ? p->dtype : (hb_dtype)0; }
hb_dtype hb_params_grad_dtype(const hb_params *p) { return p ? p->grad_dtype : (hb_dtype)0; }
size_t hb_params_count(const hb_params *p) { return (p && p->finalized) ? p->n : 0; }
size_t hb_params_num_blocks(const hb_params *p) { return p ? p->n_blocks : 0; }
hb_context *hb_params_context(const hb_params *p) { return p ? p->ctx : NULL; }
void *hb_params_data(hb_params *p) { return p ? p->data : NULL; }
void *hb_params_grad(hb_params *p) { return p ? p->grad : NULL; }

const char *hb_params_block_name(const hb_params *p, size_t index) {
    return (p && index < p->n_blocks) ? p->blocks[index].name : NULL;
}

int hb_params_find_block(const hb_params *p, const char *name, size_t *index) {
    if (!p) return HB_EINVAL;
    HB_CHECK(p->ctx, name != NULL && index != NULL, HB_EINVAL, "name or index pointer is NULL");
    for (size_t i = 0; i < p->n_blocks; i++)
        if (strcmp(p->blocks[i].name, name) == 0) {
            *index = i;
            return HB_OK;
        }
    return hb__fail(p->ctx, HB_ENOTFOUND, "no block named '%s'", name);
}

int hb_params_block_info(const hb_params *p, size_t index, const char **name, hb_block_kind *kind,
                         size_t *offset, size_t *numel, int *ndim, int64_t *shape) {
    if (!p) return HB_EINVAL;
    HB_CHECK(p->ctx, index < p->n_blocks, HB_ERANGE, "block index %zu out of range (%zu blocks)",
             index, p->n_blocks);
    const hb__block *b = &p->blocks[index];
    if (name) *name = b->name;
    if (kind) *kind = b->kind;
    if (offset) *offset = b->offset;
    if (numel) *numel = b->numel;
    if (ndim) *ndim = b->ndim;
    if (shape)
        for (int i = 0; i < b->ndim; i++) shape[i] = b->shape[i];
    return HB_OK;
}

static int view(hb_params *p, bool grad, size_t index, bool flat, hb_tensor **out) {
    if (out) *out = NULL;
    if (!p) return HB_EINVAL;
    hb_context *ctx = p->ctx;
    HB_CHECK(ctx, out != NULL, HB_EINVAL, "output pointer is NULL");
    HB_CHECK(ctx, p->finalized, HB_ESTATE, "params not finalised: no buffers to view yet");
    hb_dtype dt = grad ? p->grad_dtype : p->dtype;
    char *base = grad ? p->grad : p->data;
    if (flat) {
        int64_t n = (int64_t)p->n;
        return hb__tensor_view(ctx, dt, 1, &n, base, out);
    }
    HB_CHECK(ctx, index < p->n_blocks, HB_ERANGE, "block index %zu out of range (%zu blocks)",
             index, p->n_blocks);
    const hb__block *b = &p->blocks[index];
    return hb__tensor_view(ctx, dt, b->ndim, b->shape, base + b->offset * hb_dtype_size(dt), out);
}

int hb_params_block_view(hb_params *p, size_t i, hb_tensor **out) { return view(p, false, i, false, out); }
int hb_params_grad_block_view(hb_params *p, size_t i, hb_tensor **out) { return view(p, true, i, false, out); }
int hb_params_flat_view(hb_params *p, hb_tensor **out) { return view(p, false, 0, true, out); }
int hb_params_grad_flat_view(hb_params *p, hb_tensor **out) { return view(p, true, 0, true, out); }

int hb_params_set_trainable(hb_params *p, size_t index, int trainable) {
    if (!p) return HB_EINVAL;
    HB_CHECK(p->ctx, trainable == 0 || trainable == 1, HB_EINVAL,
             "trainable must be 0 or 1, got %d", trainable);
    HB_CHECK(p->ctx, index < p->n_blocks, HB_ERANGE, "block index %zu out of range (%zu blocks)",
             index, p->n_blocks);
    hb__block *b = &p->blocks[index];
    bool frozen = trainable == 0;
    if (b->frozen == frozen) return HB_OK;
    b->frozen = frozen;
    if (frozen) p->n_trainable -= b->numel;
    else p->n_trainable += b->numel;
    p->trainable_gen++;
    return HB_OK;
}

int hb_params_block_trainable(const hb_params *p, size_t index, int *trainable) {
    if (!p) return HB_EINVAL;
    HB_CHECK(p->ctx, trainable != NULL, HB_EINVAL, "trainable pointer is NULL");
    HB_CHECK(p->ctx, index < p->n_blocks, HB_ERANGE, "block index %zu out of range (%zu blocks)",
             index, p->n_blocks);
    *trainable = !p->blocks[index].frozen;
    return HB_OK;
}

size_t hb_params_trainable_count(const hb_params *p) { return p ? p->n_trainable : 0; }

int hb_params_zero_grad(hb_params *p) {
    if (!p) return HB_EINVAL;
    HB_CHECK(p->ctx, p->finalized, HB_ESTATE, "params not finalised");
    memset(p->grad, 0, p->n * hb_dtype_size(p->grad_dtype));
    return HB_OK;
}
