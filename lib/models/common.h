/* Helpers shared by the built-in models (internal). */
#ifndef HB_MODELS_COMMON_H
#define HB_MODELS_COMMON_H

#include <math.h>
#include <string.h>

#include "model/model_internal.h"

/* Block-major layout of k directions: the vtable receives V as (k, n) rows; the layers
 * want every block's k directions contiguous, (k, numel_b), e.g. RW (k, out, in). Block b
 * of direction j lives at offset_b·k + j·numel_b. */
static inline void hb__to_block_major(const hb_params *p, size_t es, size_t k, const void *V,
                                      void *out) {
    for (size_t b = 0; b < p->n_blocks; b++) {
        const hb__block *B = &p->blocks[b];
        for (size_t j = 0; j < k; j++)
            memcpy((char *)out + (B->offset * k + j * B->numel) * es,
                   (const char *)V + (j * p->n + B->offset) * es, B->numel * es);
    }
}

/* OUT (k, n) += scale · block-major `in`, for block b only (b < n_blocks) or every block
 * (b = SIZE_MAX). */
static inline void hb__add_from_block_major(const hb_params *p, hb_dtype dt, size_t k,
                                            const void *in, void *OUT, double scale, size_t only) {
    for (size_t b = 0; b < p->n_blocks; b++) {
        if (only != SIZE_MAX && b != only) continue;
        const hb__block *B = &p->blocks[b];
        for (size_t j = 0; j < k; j++) {
            size_t src = B->offset * k + j * B->numel, dst = j * p->n + B->offset;
            if (dt == HB_F64)
                for (size_t e = 0; e < B->numel; e++)
                    ((double *)OUT)[dst + e] += scale * ((const double *)in)[src + e];
            else
                for (size_t e = 0; e < B->numel; e++)
                    ((float *)OUT)[dst + e] += (float)(scale * ((const float *)in)[src + e]);
        }
    }
}

/* Check a (N, …) f32/f64 input tensor with `ndim` dims whose trailing dims are dims[1..]
 * and an (N) i32 target tensor with classes in [0, classes); finiteness of inputs. */
static inline int hb__check_class_batch(hb_context *ctx, const char *model, const hb_tensor *x,
                                        const hb_tensor *y, int ndim, const int64_t *dims,
                                        int64_t classes, size_t *n_samples) {
    HB_CHECK(ctx, x->dtype == HB_F32 || x->dtype == HB_F64, HB_EDTYPE,
             "%s inputs must be f32 or f64, got dtype %d", model, (int)x->dtype);
    HB_CHECK(ctx, y->dtype == HB_I32, HB_EDTYPE, "%s targets must be i32 class ids, got dtype %d",
             model, (int)y->dtype);
    HB_CHECK(ctx, x->ndim == ndim, HB_ESHAPE, "%s inputs must have %d dimensions, got %d", model,
             ndim, x->ndim);
    for (int d = 1; d < ndim; d++)
        HB_CHECK(ctx, x->shape[d] == dims[d], HB_ESHAPE,
                 "%s inputs: dimension %d is %lld, the model needs %lld", model, d,
                 (long long)x->shape[d], (long long)dims[d]);
    HB_CHECK(ctx, y->ndim == 1 && y->shape[0] == x->shape[0], HB_ESHAPE,
             "%s targets must be (N) = (%lld)", model, (long long)x->shape[0]);
    const int32_t *t = y->data;
    for (int64_t i = 0; i < y->shape[0]; i++)
        HB_CHECK(ctx, t[i] >= 0 && t[i] < classes, HB_ERANGE,
                 "%s target %lld is %d, outside [0, %lld)", model, (long long)i, (int)t[i],
                 (long long)classes);
    for (size_t i = 0; i < x->numel; i++)
        HB_CHECK(ctx, isfinite(hb__load(x->dtype, x->data, i)), HB_ENONFINITE,
                 "%s inputs hold a non-finite value at element %zu", model, i);
    *n_samples = (size_t)x->shape[0];
    return HB_OK;
}

/* Inputs of a batch in the compute dtype: the batch's own buffer, or a converted copy in
 * *scratch (freed by the caller with hb__free). */
static inline int hb__batch_inputs(hb_model *m, const hb__batch *b, const void **x, void **scratch) {
    *scratch = NULL;
    if (b->inputs->dtype == m->compute) {
        *x = b->inputs->data;
        return HB_OK;
    }
    *scratch = hb__malloc(m->ctx, b->inputs->numel * hb_dtype_size(m->compute), "converted inputs");
    if (!*scratch) return HB_ENOMEM;
    hb__convert(m->ctx, m->compute, *scratch, b->inputs->dtype, b->inputs->data, b->inputs->numel);
    *x = *scratch;
    return HB_OK;
}

/* Reserved RNG streams of the synthetic data: high bits tag the model, so they never
 * meet the context's streams (0, 1, 2, …). Sample i always uses counter i (or i·width +
 * e), so a sample depends on (seed, stream, i) only, never on the batch size. */
#define HB__DATA_STREAM(tag, stream, purpose) \
    ((((uint64_t)(tag)) << 48) ^ ((uint64_t)(stream) << 4) ^ (uint64_t)(purpose))

/* A grow-only scratch buffer kept by a model between calls: large per-call allocations
 * would be fresh mmaps, paid again in page faults on every HVP. */
typedef struct hb__workspace {
    void *buf;
    size_t bytes;
} hb__workspace;

static inline void *hb__workspace_get(hb_context *ctx, hb__workspace *w, size_t bytes) {
    if (bytes > w->bytes || !w->buf) {
        void *nb = hb__malloc(ctx, bytes ? bytes : 1, "model workspace");
        if (!nb) return NULL;
        hb__free(ctx, w->buf);
        w->buf = nb;
        w->bytes = bytes;
    }
    return w->buf;
}

/* The staging shared by the layer models' hvp_multi (mlp, cnn): V (k interleaved
 * directions) is copied block-major into *Vb, *Ob (same layout) is zeroed for the
 * products, and for each of the n_lin linear layers (weight block wblk[i], bias block
 * bblk[i]) the four R-pass pointers are set into both. After the R-pass,
 * hb__add_from_block_major(p, dt, k, *Ob, OUT, 1.0, SIZE_MAX) writes the result. */
static inline int hb__hvp_stage(hb_context *ctx, hb__workspace *w, const hb_params *p, size_t es,
                                size_t k, const void *V, size_t n_lin, const size_t *wblk,
                                const size_t *bblk, const void **RW, const void **Rb, void **RdW,
                                void **Rdb, char **Ob) {
    char *Vb = hb__workspace_get(ctx, w, 2 * k * p->n * es);
    if (!Vb) return HB_ENOMEM;
    *Ob = Vb + k * p->n * es;
    memset(*Ob, 0, k * p->n * es);
    hb__to_block_major(p, es, k, V, Vb);
    for (size_t i = 0; i < n_lin; i++) {
        size_t wo = p->blocks[wblk[i]].offset * k * es, bo = p->blocks[bblk[i]].offset * k * es;
        RW[i] = Vb + wo, Rb[i] = Vb + bo, RdW[i] = *Ob + wo, Rdb[i] = *Ob + bo;
    }
    return HB_OK;
}

/* Bump allocator with two regions: buffers a pass writes before reading (take) and
 * buffers it accumulates into (takez), zeroed once per pass. With base == NULL it only
 * counts, so the same carving code sizes the workspace and then fills the pointers. */
typedef struct hb__arena {
    char *base;
    size_t es, used, zused, zstart;
} hb__arena;

static inline void *hb__take(hb__arena *a, size_t elems) {
    void *p = a->base ? a->base + a->used * a->es : NULL;
    a->used += elems;
    return p;
}
static inline void *hb__takez(hb__arena *a, size_t elems) {
    void *p = a->base ? a->base + (a->zstart + a->zused) * a->es : NULL;
    a->zused += elems;
    return p;
}
/* After a counting pass: take the workspace, reset the cursors, zero the second region.
 * Returns HB_ENOMEM (message set) when the workspace cannot grow. */
static inline int hb__arena_start(hb_context *ctx, hb__workspace *w, hb__arena *a) {
    size_t total = a->used + a->zused;
    char *b = hb__workspace_get(ctx, w, total * a->es);
    if (!b) return HB_ENOMEM;
    a->base = b;
    a->zstart = a->used;
    memset(b + a->zstart * a->es, 0, a->zused * a->es);
    a->used = a->zused = 0;
    return HB_OK;
}

#endif
