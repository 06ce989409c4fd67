/* SST spectral layers and the LoRA baseline as reparametrising wrapper models.
 *
 * SST layer (out×in, k = min(out, in)):   W = U·diag(s)·Vᵀ,   U (out,k), s (k), Vᵀ (k,in)
 * Blocks of the wrapper per layer (name N of the inner block):
 *   N.U (out,k) frozen, N.s (k) trainable, N.Vt (k,in) frozen,
 *   N.Ua (out,r) trainable = the r active columns of U, N.Vta (r,in) trainable = the
 *   active rows of Vᵀ, N.idx (r) frozen = the active indices (exact integers);
 * and one frozen block "sst.iteration" (1): the iteration the selection belongs to.
 * Why this layout: the optimizer keeps state only for trainable blocks, so it holds state
 * for s and the active pairs and nothing else; inactive pairs cannot change during an
 * iteration because no optimizer writes a frozen block; and a checkpoint of the wrapper's
 * params carries the whole schedule state (U, Vᵀ, selection, iteration), so a resumed run
 * continues exactly. The live values of the active pairs are in N.Ua/N.Vta; they are
 * scattered into N.U/N.Vt before every use (cheap: r·(out+in)).
 *   forward:  W is formed into the inner model's block (out·in·k flops, once per evaluation)
 *   backward: G = ∂L/∂W from the inner model; M2 = Uᵀ·G (k×in), M1a = G·Vtaᵀ (out×r)
 *             ∇s_i = Σ_j M2[i,j]·Vᵀ[i,j] = u_iᵀ·G·v_i                       (all i)
 *             ∇Ua[:,j] = f_j·M1a[:,j], ∇Vta[j,:] = f_j·M2[idx_j,:]          (active pairs)
 *             f_j = 1 (enhanced) or s_{idx_j} (exact)
 * LoRA layer: W = W₀ + c·B·A, c = α/r,    A (r,in), B (out,r)
 *   backward: ∇B = c·G·Aᵀ,  ∇A = c·Bᵀ·G
 * Why form W instead of applying U, s, Vᵀ as three skinny products at every position:
 * for full rank (k = min(out,in)) the factored product costs (out+in)·k ≥ out·in flops per
 * position, more than the dense out·in, while forming W costs out·in·k once per evaluation,
 * i.e. less than k positions' worth of the dense product. With batch·positions ≫ k the
 * forming is noise (docs/sst.md). Re-SVD uses LAPACK ?gesdd on the column-major view of the
 * row-major W (Wᵀ = V·S·Uᵀ), so LAPACK's U is our Vᵀ and its Vᵀ our U, with no transposes
 * and no allocation outside the context's allocator. */
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/kernels.h"
#include "sst/sst_internal.h"

#define HB_NUM_KINDS 13

struct hb_sst_config {
    hb_context *ctx;
    hb_sst_method method;
    int64_t rank, iteration, rewarm, gradient, freeze, reset;
    double mix, alpha;
    char (*names)[HB_MAX_BLOCK_NAME + 1];
    size_t n_names, cap_names;
    bool kinds[HB_NUM_KINDS];
};

typedef struct layer {
    size_t inner_block, inner_off;
    int64_t out, in, k, r;
    size_t off_u, off_s, off_vt, off_ua, off_vta, off_idx; /* SST, in the wrapper's vector */
    size_t blk_ua, blk_vta;                                /* SST: their block indices */
    size_t off_a, off_b;                                   /* LoRA */
    size_t off_w0;               /* LoRA: the frozen block N.W0 (out·in) */
    int64_t *active;             /* SST: cache of N.idx (r indices, ascending) */
    unsigned char *mask;         /* SST: k flags, the same selection */
} layer;

typedef struct other {
    size_t inner_off, outer_off, numel;
} other;

typedef struct sst {
    hb__model_vtable vt; /* per wrapper: forwards only what the inner model supports */
    hb_model *inner;
    hb_sst_method method;
    int64_t rank, iteration, rewarm, gradient, freeze, reset;
    double mix, scale; /* LoRA: α/r */
    layer *layers;
    size_t n_layers;
    other *others;
    size_t n_others;
    void *scratch;     /* compute dtype */
    void *work;        /* ?gesdd workspace */
    lapack_int lwork;
    lapack_int *iwork;
    double *weights;   /* sampling weights, max k */
    size_t off_iter;   /* SST: the "sst.iteration" block */
    uint64_t stream;   /* RNG stream of the selection */
    uint64_t sum_r;    /* Σ r over the layers: uniforms drawn per selection */
} sst;

/* Largest integer a selection block holds exactly in the parameter dtype. */
static double exact_int_limit(hb_dtype dt) { return dt == HB_F64 ? 9007199254740992.0 : 16777216.0; }

/* ---------------------------------------------------------------- configuration ---- */

int hb_sst_config_create(hb_context *ctx, hb_sst_method method, hb_sst_config **out) {
    if (out) *out = NULL;
    if (!ctx) return HB_EINVAL;
    HB_CHECK(ctx, out != NULL, HB_EINVAL, "output pointer is NULL");
    HB_CHECK(ctx, method == HB_SST_METHOD_SPECTRAL || method == HB_SST_METHOD_LORA, HB_EINVAL,
             "unknown SST method %d", (int)method);
    hb_sst_config *c = hb__calloc(ctx, 1, sizeof *c, "SST config");
    if (!c) return HB_ENOMEM;
    c->ctx = ctx;
    c->method = method;
    c->rank = 8;
    c->iteration = 200;
    c->rewarm = 20;
    c->gradient = HB_SST_GRAD_ENHANCED;
    c->reset = HB_SST_RESET_MOMENTS;
    *out = c;
    return HB_OK;
}

void hb_sst_config_free(hb_sst_config *c) {
    if (!c) return;
    hb__free(c->ctx, c->names);
    hb__free(c->ctx, c);
}

int hb_sst_config_set_i64(hb_sst_config *c, hb_sst_opt key, int64_t v) {
    if (!c) return HB_EINVAL;
    hb_context *ctx = c->ctx;
    switch (key) {
    case HB_SST_RANK:
        HB_CHECK(ctx, v >= 1 && v <= (1 << 24), HB_EINVAL, "HB_SST_RANK must be in 1..2^24");
        c->rank = v;
        return HB_OK;
    case HB_SST_ITERATION:
        HB_CHECK(ctx, v >= 1, HB_EINVAL, "HB_SST_ITERATION must be >= 1");
        c->iteration = v;
        return HB_OK;
    case HB_SST_REWARM:
        HB_CHECK(ctx, v >= 0, HB_EINVAL, "HB_SST_REWARM must be >= 0");
        c->rewarm = v;
        return HB_OK;
    case HB_SST_GRADIENT:
        HB_CHECK(ctx, v == HB_SST_GRAD_ENHANCED || v == HB_SST_GRAD_EXACT, HB_EINVAL,
                 "HB_SST_GRADIENT must be HB_SST_GRAD_ENHANCED or HB_SST_GRAD_EXACT");
        c->gradient = v;
        return HB_OK;
    case HB_SST_RESET:
        HB_CHECK(ctx, v == HB_SST_RESET_MOMENTS || v == HB_SST_RESET_RESTART, HB_EINVAL,
                 "HB_SST_RESET must be HB_SST_RESET_MOMENTS or HB_SST_RESET_RESTART");
        c->reset = v;
        return HB_OK;
    case HB_SST_FREEZE_OTHERS:
        HB_CHECK(ctx, v == 0 || v == 1, HB_EINVAL, "HB_SST_FREEZE_OTHERS must be 0 or 1");
        c->freeze = v;
        return HB_OK;
    default:
        return hb__fail(ctx, HB_EINVAL, "SST key %d is not an integer option", (int)key);
    }
}

int hb_sst_config_set_f64(hb_sst_config *c, hb_sst_opt key, double v) {
    if (!c) return HB_EINVAL;
    hb_context *ctx = c->ctx;
    switch (key) {
    case HB_SST_UNIFORM_MIX:
        HB_CHECK(ctx, v >= 0 && v <= 1, HB_EINVAL, "HB_SST_UNIFORM_MIX must be in [0,1], got %g", v);
        c->mix = v;
        return HB_OK;
    case HB_SST_LORA_ALPHA:
        HB_CHECK(ctx, isfinite(v) && v >= 0, HB_EINVAL, "HB_SST_LORA_ALPHA must be finite and >= 0");
        c->alpha = v;
        return HB_OK;
    default:
        return hb__fail(ctx, HB_EINVAL, "SST key %d is not a real option", (int)key);
    }
}

int hb_sst_config_add_block(hb_sst_config *c, const char *name) {
    if (!c) return HB_EINVAL;
    hb_context *ctx = c->ctx;
    HB_CHECK(ctx, name != NULL, HB_EINVAL, "block name is NULL");
    size_t len = strlen(name);
    HB_CHECK(ctx, len >= 1 && len <= HB_MAX_BLOCK_NAME - 4, HB_EINVAL,
             "block name must have 1..%d bytes (room for the '.Vta' suffix)", HB_MAX_BLOCK_NAME - 4);
    if (c->n_names == c->cap_names) {
        size_t cap = c->cap_names ? 2 * c->cap_names : 4;
        char(*nn)[HB_MAX_BLOCK_NAME + 1] = hb__calloc(ctx, cap, sizeof *nn, "SST block names");
        if (!nn) return HB_ENOMEM;
        if (c->n_names) memcpy(nn, c->names, c->n_names * sizeof *nn);
        hb__free(ctx, c->names);
        c->names = nn;
        c->cap_names = cap;
    }
    memcpy(c->names[c->n_names++], name, len + 1);
    return HB_OK;
}

int hb_sst_config_add_kind(hb_sst_config *c, hb_block_kind kind) {
    if (!c) return HB_EINVAL;
    HB_CHECK(c->ctx, (int)kind >= 0 && (int)kind < HB_NUM_KINDS, HB_EINVAL, "unknown block kind %d",
             (int)kind);
    c->kinds[kind] = true;
    return HB_OK;
}

/* ---------------------------------------------------------------- helpers ---- */

static sst *sst_of(const hb_model *m) {
    return hb__sst_is_wrapper(m) ? (sst *)m->impl : NULL;
}

static void destroy_sst(hb_context *ctx, sst *S) {
    if (!S) return;
    for (size_t l = 0; l < S->n_layers; l++) {
        hb__free(ctx, S->layers[l].active);
        hb__free(ctx, S->layers[l].mask);
    }
    hb__free(ctx, S->layers);
    hb__free(ctx, S->others);
    hb__free(ctx, S->scratch);
    hb__free(ctx, S->work);
    hb__free(ctx, S->iwork);
    hb__free(ctx, S->weights);
    hb__free(ctx, S);
}

static void sst_destroy(hb_model *m) { destroy_sst(m->ctx, m->impl); }

/* dst = base + suffix (base is at most HB_MAX_BLOCK_NAME − 4 bytes, checked at create). */
static void suffixed(char *dst, const char *base, const char *suffix) {
    size_t a = strlen(base), b = strlen(suffix);
    memcpy(dst, base, a);
    memcpy(dst + a, suffix, b + 1);
}

static void *at(hb_dtype dt, void *base, size_t off) { return (char *)base + off * hb_dtype_size(dt); }

/* Element loops of the forming, the gradient map and the active-pair copies, typed (one
 * dtype switch per call, not per element). */
#define HB_SST_KERNELS(T, SFX)                                                             \
    static void scale_cols_##SFX(const T *U, const T *s, T *US, int64_t out, int64_t k) {  \
        for (int64_t a = 0; a < out; a++)                                                  \
            for (int64_t i = 0; i < k; i++) US[a * k + i] = U[a * k + i] * s[i];           \
    }                                                                                      \
    /* ∇s_i += Σ_j M2[i,j]·Vᵀ[i,j]; ∇Vta[j,:] += f_j·M2[idx_j,:]; ∇Ua[:,j] += f_j·M1a[:,j] */ \
    static void map_sst_##SFX(const T *s, const T *Vt, const T *M1a, const T *M2,          \
                              const int64_t *idx, bool exact, T *gUa, T *gs, T *gVta,      \
                              int64_t out, int64_t in, int64_t k, int64_t r) {             \
        for (int64_t i = 0; i < k; i++) {                                                  \
            double d = 0;                                                                  \
            for (int64_t j = 0; j < in; j++) d += (double)M2[i * in + j] * (double)Vt[i * in + j]; \
            gs[i] += (T)d;                                                                 \
        }                                                                                  \
        for (int64_t j = 0; j < r; j++) {                                                  \
            T f = exact ? s[idx[j]] : (T)1;                                                \
            for (int64_t c = 0; c < in; c++) gVta[j * in + c] += f * M2[idx[j] * in + c];  \
        }                                                                                  \
        for (int64_t a = 0; a < out; a++)                                                  \
            for (int64_t j = 0; j < r; j++) {                                              \
                T f = exact ? s[idx[j]] : (T)1;                                            \
                gUa[a * r + j] += f * M1a[a * r + j];                                      \
            }                                                                              \
    }                                                                                      \
    /* to_full: U[:,idx_j] = Ua[:,j], Vᵀ[idx_j,:] = Vta[j,:]; otherwise the reverse. */  \
    static void copy_pairs_##SFX(T *U, T *Vt, T *Ua, T *Vta, const int64_t *idx,           \
                                 int64_t out, int64_t in, int64_t k, int64_t r,            \
                                 bool to_full) {                                           \
        for (int64_t a = 0; a < out; a++)                                                  \
            for (int64_t j = 0; j < r; j++) {                                              \
                if (to_full) U[a * k + idx[j]] = Ua[a * r + j];                            \
                else Ua[a * r + j] = U[a * k + idx[j]];                                    \
            }                                                                              \
        for (int64_t j = 0; j < r; j++) {                                                  \
            if (to_full) memcpy(Vt + idx[j] * in, Vta + j * in, (size_t)in * sizeof(T));   \
            else memcpy(Vta + j * in, Vt + idx[j] * in, (size_t)in * sizeof(T));           \
        }                                                                                  \
    }
HB_SST_KERNELS(double, f64)
HB_SST_KERNELS(float, f32)

/* gesdd on the column-major view of row-major W (out×in): Wᵀ = V·S·Uᵀ. A is destroyed.
 * lwork = -1 is the workspace query (result in *work). */
static lapack_int gesdd(hb_dtype dt, int64_t out, int64_t in, void *A, void *s, void *Vt, void *U,
                        void *work, lapack_int lwork, lapack_int *iwork) {
    lapack_int m = (lapack_int)in, n = (lapack_int)out, k = m < n ? m : n;
    if (dt == HB_F64)
        return LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', m, n, A, m, s, Vt, m, U, k, work, lwork,
                                   iwork);
    return LAPACKE_sgesdd_work(LAPACK_COL_MAJOR, 'S', m, n, A, m, s, Vt, m, U, k, work, lwork, iwork);
}

/* [U, s, Vᵀ] = svd(W) of layer L (W out×in row-major, any buffer), written into the
 * wrapper's blocks only on success. Scratch: A (out·in) | Vt (k·in) | s (k) | U (out·k). */
static int svd_layer(hb_model *m, sst *S, layer *L, const void *W) {
    hb_dtype dt = m->compute;
    size_t es = hb_dtype_size(dt), oi = (size_t)(L->out * L->in), ki = (size_t)(L->k * L->in),
           ok = (size_t)(L->out * L->k), k = (size_t)L->k;
    char *A = S->scratch, *vt = A + oi * es, *sv = vt + ki * es, *u = sv + k * es;
    memcpy(A, W, oi * es);
    lapack_int info = gesdd(dt, L->out, L->in, A, sv, vt, u, S->work, S->lwork, S->iwork);
    HB_CHECK(m->ctx, info == 0, HB_ENONFINITE, "?gesdd failed (info %d) on layer '%s'", (int)info,
             S->inner->params->blocks[L->inner_block].name);
    void *P = m->params->data;
    memcpy(at(dt, P, L->off_u), u, ok * es);
    memcpy(at(dt, P, L->off_s), sv, k * es);
    memcpy(at(dt, P, L->off_vt), vt, ki * es);
    return HB_OK;
}

/* Form W of layer L into dst (out×in). SST: dst = (U·diag(s))·Vᵀ; LoRA: dst = W₀ + c·B·A. */
static int form_layer(hb_model *m, sst *S, layer *L, void *dst) {
    hb_dtype dt = m->compute;
    void *P = m->params->data;
    if (S->method == HB_SST_METHOD_LORA) {
        memcpy(dst, at(dt, P, L->off_w0), (size_t)(L->out * L->in) * hb_dtype_size(dt));
        return hb__gemm(m->ctx, dt, false, false, L->out, L->in, L->r, S->scale,
                        at(dt, P, L->off_b), L->r, at(dt, P, L->off_a), L->in, 1.0, dst, L->in);
    }
    const void *U = at(dt, P, L->off_u), *s = at(dt, P, L->off_s);
    void *US = S->scratch;
    if (dt == HB_F64) scale_cols_f64(U, s, US, L->out, L->k);
    else scale_cols_f32(U, s, US, L->out, L->k);
    return hb__gemm(m->ctx, dt, false, false, L->out, L->in, L->k, 1.0, US, L->k,
                    at(dt, P, L->off_vt), L->in, 0.0, dst, L->in);
}

/* Read the selection blocks (N.idx) into the layer caches, checking them: they are plain
 * parameter values, so a caller (or a checkpoint of another wrapper) may have put anything
 * there. Integer, in [0, k), strictly ascending, else HB_ESTATE (nothing is used). */
static int load_selection(hb_model *m, sst *S) {
    if (S->method != HB_SST_METHOD_SPECTRAL) return HB_OK;
    hb_dtype dt = m->compute;
    const void *P = m->params->data;
    for (size_t l = 0; l < S->n_layers; l++) {
        layer *L = &S->layers[l];
        double prev = -1;
        for (int64_t j = 0; j < L->r; j++) {
            double v = hb__load(dt, P, L->off_idx + (size_t)j);
            HB_CHECK(m->ctx, v == floor(v) && v > prev && v < (double)L->k, HB_ESTATE,
                     "the SST selection block '%s.idx' is corrupt (entry %lld = %g)",
                     S->inner->params->blocks[L->inner_block].name, (long long)j, v);
            prev = v;
        }
        memset(L->mask, 0, (size_t)L->k);
        for (int64_t j = 0; j < L->r; j++) {
            L->active[j] = (int64_t)hb__load(dt, P, L->off_idx + (size_t)j);
            L->mask[L->active[j]] = 1;
        }
    }
    return HB_OK;
}

/* Copy the active pairs between N.Ua/N.Vta and N.U/N.Vt (to_full: into U and Vᵀ). */
static void copy_pairs(hb_model *m, layer *L, bool to_full) {
    hb_dtype dt = m->compute;
    void *P = m->params->data;
    void *U = at(dt, P, L->off_u), *Vt = at(dt, P, L->off_vt), *Ua = at(dt, P, L->off_ua),
         *Vta = at(dt, P, L->off_vta);
    if (dt == HB_F64) copy_pairs_f64(U, Vt, Ua, Vta, L->active, L->out, L->in, L->k, L->r, to_full);
    else copy_pairs_f32(U, Vt, Ua, Vta, L->active, L->out, L->in, L->k, L->r, to_full);
}

/* Make N.U and N.Vt current (the live active pairs are in N.Ua and N.Vta). */
static int scatter_all(hb_model *m, sst *S) {
    if (S->method != HB_SST_METHOD_SPECTRAL) return HB_OK;
    HB_TRY(load_selection(m, S));
    for (size_t l = 0; l < S->n_layers; l++) copy_pairs(m, &S->layers[l], true);
    return HB_OK;
}

/* Copy the wrapper's unconverted blocks into the inner params and form every W there. */
static int sync_inner(hb_model *m, sst *S) {
    hb_dtype dt = m->compute;
    size_t es = hb_dtype_size(dt);
    hb_params *ip = S->inner->params;
    HB_TRY(scatter_all(m, S));
    for (size_t j = 0; j < S->n_others; j++)
        memcpy(at(dt, ip->data, S->others[j].inner_off), at(dt, m->params->data, S->others[j].outer_off),
               S->others[j].numel * es);
    for (size_t l = 0; l < S->n_layers; l++)
        HB_TRY(form_layer(m, S, &S->layers[l], at(dt, ip->data, S->layers[l].inner_off)));
    return HB_OK;
}

/* ACCUMULATE the wrapper gradient from the inner gradient (already scaled and summed).
 * Frozen blocks (N.U, N.Vt, N.idx, sst.iteration, and with HB_SST_FREEZE_OTHERS the
 * unconverted blocks) get nothing. Needs N.U/N.Vt current (sync_inner ran). */
static int map_grad(hb_model *m, sst *S, void *grad) {
    hb_context *ctx = m->ctx;
    hb_dtype dt = m->compute;
    size_t es = hb_dtype_size(dt);
    hb_params *ip = S->inner->params;
    void *P = m->params->data;
    for (size_t j = 0; j < S->n_others; j++)
        if (!S->freeze)
            HB_TRY(hb__axpy(ctx, dt, (int64_t)S->others[j].numel, 1.0,
                            at(dt, ip->grad, S->others[j].inner_off), 1,
                            at(dt, grad, S->others[j].outer_off), 1));
    for (size_t l = 0; l < S->n_layers; l++) {
        layer *L = &S->layers[l];
        const void *G = at(dt, ip->grad, L->inner_off);
        if (S->method == HB_SST_METHOD_LORA) {
            HB_TRY(hb__gemm(ctx, dt, false, true, L->out, L->r, L->in, S->scale, G, L->in,
                            at(dt, P, L->off_a), L->in, 1.0, at(dt, grad, L->off_b), L->r));
            HB_TRY(hb__gemm(ctx, dt, true, false, L->r, L->in, L->out, S->scale,
                            at(dt, P, L->off_b), L->r, G, L->in, 1.0, at(dt, grad, L->off_a), L->in));
            continue;
        }
        const void *U = at(dt, P, L->off_u), *s = at(dt, P, L->off_s), *Vt = at(dt, P, L->off_vt),
                   *Vta = at(dt, P, L->off_vta);
        void *gUa = at(dt, grad, L->off_ua), *gs = at(dt, grad, L->off_s),
             *gVta = at(dt, grad, L->off_vta);
        char *M2 = S->scratch, *M1a = M2 + (size_t)(L->k * L->in) * es;
        bool exact = S->gradient == HB_SST_GRAD_EXACT;
        HB_TRY(hb__gemm(ctx, dt, true, false, L->k, L->in, L->out, 1.0, U, L->k, G, L->in, 0.0, M2,
                        L->in));
        HB_TRY(hb__gemm(ctx, dt, false, true, L->out, L->r, L->in, 1.0, G, L->in, Vta, L->in, 0.0,
                        M1a, L->r));
        if (dt == HB_F64)
            map_sst_f64(s, Vt, (const double *)M1a, (const double *)M2, L->active, exact, gUa, gs,
                        gVta, L->out, L->in, L->k, L->r);
        else
            map_sst_f32(s, Vt, (const float *)M1a, (const float *)M2, L->active, exact, gUa, gs,
                        gVta, L->out, L->in, L->k, L->r);
    }
    return HB_OK;
}

/* ---------------------------------------------------------------- vtable ---- */

static bool is_first(const hb_model *m, const hb__batch *b) { return !b || b == &m->batches[0]; }
static bool is_last(const hb_model *m, const hb__batch *b) {
    return !b || b == &m->batches[m->n_batches - 1];
}

static int w_check_batch(hb_model *m, const hb_tensor *x, const hb_tensor *y, size_t *n) {
    hb_model *in = ((sst *)m->impl)->inner;
    return in->vt->check_batch(in, x, y, n);
}

static int w_loss_grad(hb_model *m, const hb__batch *b, double *loss, void *grad, double scale) {
    sst *S = m->impl;
    hb_model *in = S->inner;
    if (is_first(m, b)) {
        HB_TRY(sync_inner(m, S));
        if (grad) HB_TRY(hb_params_zero_grad(in->params));
    }
    HB_TRY(in->vt->loss_grad(in, b, loss, grad ? in->params->grad : NULL, scale));
    if (grad && is_last(m, b)) HB_TRY(map_grad(m, S, grad));
    return HB_OK;
}

static int w_hvp_multi(hb_model *m, hb__model_task *t, const hb__batch *b, size_t k,
                       const void *V, void *OUT, double scale) {
    (void)m, (void)b, (void)k, (void)V, (void)OUT, (void)scale;
    return hb__fail(t->ctx, HB_EUNSUPPORTED,
                    "Hessian products of SST/LoRA wrappers are not provided: call hb_sst_sync and "
                    "analyse the inner model");
}

static int w_accuracy(hb_model *m, const hb__batch *b, size_t *correct, size_t *total) {
    sst *S = m->impl;
    if (is_first(m, b)) HB_TRY(sync_inner(m, S));
    return S->inner->vt->accuracy(S->inner, b, correct, total);
}

static int w_synthetic(hb_model *m, size_t n, uint64_t stream, uint64_t first, hb_tensor **x,
                       hb_tensor **y) {
    hb_model *in = ((sst *)m->impl)->inner;
    return in->vt->synthetic(in, n, stream, first, x, y);
}

/* The wrapper takes the text data of the model it wraps (the batches go to the wrapper,
 * which hands them to the inner model when it runs). */
static void w_text_shape(const hb_model *m, size_t *vocab, size_t *context) {
    const hb_model *in = ((const sst *)m->impl)->inner;
    in->vt->text_shape(in, vocab, context);
}

static int sst_begin_step(hb_model *m, int64_t step, hb_optimizer *opt, double *lr_scale);
static int sst_end_step(hb_model *m);

bool hb__sst_is_wrapper(const hb_model *m) { return m && m->vt && m->vt->destroy == sst_destroy; }

/* ---------------------------------------------------------------- selection ---- */

/* Draw r of k indices without replacement, sequentially, each draw ∝ the weights of the
 * indices not yet drawn; weights (1−μ)·s_i/Σs + μ/k (uniform if Σs is 0). The uniforms
 * are numbers *draw, *draw + 1, … of the wrapper's stream: a selection of iteration `it`
 * starts at it·Σr, so it never depends on how often the wrapper was created or resumed.
 * Writes N.idx and copies the chosen pairs of N.U/N.Vt into N.Ua/N.Vta. */
static void select_layer(hb_model *m, sst *S, layer *L, uint64_t *draw) {
    hb_dtype dt = m->compute;
    const void *s = at(dt, m->params->data, L->off_s);
    size_t k = (size_t)L->k;
    double sum = 0, *w = S->weights;
    for (size_t i = 0; i < k; i++) sum += fmax(0.0, hb__load(dt, s, i));
    for (size_t i = 0; i < k; i++)
        w[i] = (sum > 0 && isfinite(sum) ? (1 - S->mix) * fmax(0.0, hb__load(dt, s, i)) / sum : 0) +
               (sum > 0 && isfinite(sum) ? S->mix / (double)k : 1.0 / (double)k);
    memset(L->mask, 0, k);
    for (int64_t d = 0; d < L->r; d++) {
        double total = 0;
        size_t last = k;
        for (size_t i = 0; i < k; i++)
            if (!L->mask[i]) {
                total += w[i];
                last = i;
            }
        double u = hb__uniform01((uint64_t)m->ctx->seed, S->stream, (*draw)++) * total, c = 0;
        size_t pick = last;
        if (total > 0) {
            for (size_t i = 0; i < k; i++)
                if (!L->mask[i] && w[i] > 0) {
                    c += w[i];
                    if (u < c) {
                        pick = i;
                        break;
                    }
                }
        } else { /* every remaining weight is 0: take the first remaining index */
            for (size_t i = 0; i < k; i++)
                if (!L->mask[i]) {
                    pick = i;
                    break;
                }
        }
        L->mask[pick] = 1;
    }
    int64_t j = 0;
    for (size_t i = 0; i < k; i++)
        if (L->mask[i]) {
            hb__store(dt, m->params->data, L->off_idx + (size_t)j, (double)i);
            L->active[j++] = (int64_t)i;
        }
    copy_pairs(m, L, false);
}

/* A new selection for iteration `it` in every layer (N.U, s, N.Vt current). */
static void select_all(hb_model *m, sst *S, int64_t it) {
    uint64_t draw = (uint64_t)it * S->sum_r;
    for (size_t l = 0; l < S->n_layers; l++) select_layer(m, S, &S->layers[l], &draw);
    hb__store(m->compute, m->params->data, S->off_iter, (double)it);
}

/* ---------------------------------------------------------------- create ---- */

static bool wanted_by_name(const hb_sst_config *c, const char *name) {
    for (size_t i = 0; i < c->n_names; i++)
        if (strcmp(c->names[i], name) == 0) return true;
    return false;
}

/* The kind of a factor block: the inner block's, except that Q/K factors whose rows are
 * not the head-grouped output features (s, Vᵀ) become LINEAR — Adam-mini cuts ATTN_Q/K
 * blocks by heads along the rows, which is meaningful for U (rows = outputs) only. */
static hb_block_kind factor_kind(hb_block_kind inner, bool rows_are_outputs) {
    if ((inner == HB_BLOCK_ATTN_Q || inner == HB_BLOCK_ATTN_K) && !rows_are_outputs)
        return HB_BLOCK_LINEAR;
    return inner;
}

/* Add a block to the wrapper's params, frozen when !trainable. */
static int add_block(hb_params *wp, const char *base, const char *suffix, hb_block_kind kind,
                     int ndim, const int64_t *shape, bool trainable) {
    char nm[HB_MAX_BLOCK_NAME + 8];
    suffixed(nm, base, suffix);
    HB_TRY(hb_params_add_block(wp, nm, kind, ndim, shape, NULL));
    if (!trainable) HB_TRY(hb_params_set_trainable(wp, hb_params_num_blocks(wp) - 1, 0));
    return HB_OK;
}

/* hb_sst_create in named steps: validate → new_state → lay_out (add_layer_blocks,
 * record_offsets) → allocate_workspaces → copy_frozen → (model shell) → initialise. */

/* Whether inner block B becomes SST/LoRA factors under cfg. */
static bool converts(const hb_sst_config *cfg, const hb__block *B) {
    return B->ndim == 2 && (wanted_by_name(cfg, B->name) || cfg->kinds[B->kind]);
}

/* Step 1: cfg against inner (context, dtype, named blocks, every block to convert);
 * *n_layers = the number of blocks to convert, at least one. */
static int validate(hb_model *inner, const hb_sst_config *cfg, size_t *n_layers) {
    hb_context *ctx = inner->ctx;
    HB_CHECK(ctx, cfg->ctx == ctx, HB_EINVAL, "the config belongs to another context");
    HB_CHECK(ctx, !hb__sst_is_wrapper(inner), HB_EINVAL, "the inner model is already a wrapper");
    hb_params *ip = inner->params;
    hb_dtype dt = ip->dtype;
    HB_CHECK(ctx, dt == HB_F32 || dt == HB_F64, HB_EDTYPE, "SST/LoRA wrappers need f32 or f64 params");
    for (size_t i = 0; i < cfg->n_names; i++) {
        size_t b;
        HB_CHECK(ctx, hb_params_find_block(ip, cfg->names[i], &b) == HB_OK, HB_ENOTFOUND,
                 "the model has no block '%s'", cfg->names[i]);
        HB_CHECK(ctx, ip->blocks[b].ndim == 2, HB_ESHAPE, "block '%s' is %d-d, not a 2-d linear block",
                 cfg->names[i], ip->blocks[b].ndim);
    }
    *n_layers = 0;
    for (size_t b = 0; b < ip->n_blocks; b++) {
        const hb__block *B = &ip->blocks[b];
        if (!converts(cfg, B)) continue;
        HB_CHECK(ctx, strlen(B->name) <= HB_MAX_BLOCK_NAME - 4, HB_EINVAL,
                 "block name '%s' leaves no room for the '.Vta' suffix", B->name);
        HB_CHECK(ctx, (double)(B->shape[0] < B->shape[1] ? B->shape[0] : B->shape[1]) <= exact_int_limit(dt),
                 HB_ESHAPE, "block '%s' is too large for exact indices in its dtype", B->name);
        for (size_t i = 0; i < (size_t)(B->shape[0] * B->shape[1]); i++)
            HB_CHECK(ctx, isfinite(hb__load(dt, ip->data, B->offset + i)), HB_ENONFINITE,
                     "block '%s' holds a non-finite value", B->name);
        (*n_layers)++;
    }
    HB_CHECK(ctx, *n_layers > 0, HB_ESHAPE, "no 2-d block of the model matches the configuration");
    return HB_OK;
}

/* Step 2: the wrapper's state: its vtable (forwarding only what inner supports), the
 * options of cfg, and empty tables for n_layers layers and the other blocks. */
static int new_state(hb_model *inner, const hb_sst_config *cfg, size_t n_layers, sst **out) {
    hb_context *ctx = inner->ctx;
    *out = NULL;
    sst *S = hb__calloc(ctx, 1, sizeof *S, "SST wrapper");
    if (!S) return HB_ENOMEM;
    S->vt = (hb__model_vtable){
        .name = cfg->method == HB_SST_METHOD_LORA ? "lora" : "sst",
        .check_batch = inner->vt->check_batch ? w_check_batch : NULL,
        .loss_grad = w_loss_grad,
        .hvp_multi = w_hvp_multi,
        .accuracy = inner->vt->accuracy ? w_accuracy : NULL,
        .synthetic = inner->vt->synthetic ? w_synthetic : NULL,
        .text_shape = inner->vt->text_shape ? w_text_shape : NULL,
        .begin_step = sst_begin_step,
        .end_step = sst_end_step,
        .destroy = sst_destroy,
    };
    S->inner = inner;
    S->method = cfg->method;
    S->rank = cfg->rank;
    S->iteration = cfg->iteration;
    S->rewarm = cfg->rewarm;
    S->gradient = cfg->gradient;
    S->freeze = cfg->freeze;
    S->reset = cfg->reset;
    S->mix = cfg->mix;
    if (S->method == HB_SST_METHOD_LORA)
        S->scale = (cfg->alpha > 0 ? cfg->alpha : (double)S->rank) / (double)S->rank;
    S->layers = hb__calloc(ctx, n_layers, sizeof *S->layers, "SST layers");
    S->others = hb__calloc(ctx, inner->params->n_blocks - n_layers + 1, sizeof *S->others,
                           "SST block map");
    if (!S->layers || !S->others) {
        destroy_sst(ctx, S);
        return HB_ENOMEM;
    }
    *out = S;
    return HB_OK;
}

/* Step 3a: the next layer of S from inner block B (index b) and its factor blocks in wp
 * (SST: N.U N.s N.Vt N.Ua N.Vta N.idx; LoRA: N.W0 N.A N.B). */
static int add_layer_blocks(sst *S, hb_params *wp, const hb__block *B, size_t b) {
    layer *L = &S->layers[S->n_layers++];
    L->inner_block = b;
    L->inner_off = B->offset;
    L->out = B->shape[0];
    L->in = B->shape[1];
    L->k = L->out < L->in ? L->out : L->in;
    L->r = S->rank < L->k ? S->rank : L->k;
    int rc;
    if (S->method == HB_SST_METHOD_SPECTRAL) {
        int64_t su[2] = {L->out, L->k}, ss[1] = {L->k}, sv[2] = {L->k, L->in},
                sua[2] = {L->out, L->r}, sva[2] = {L->r, L->in}, si[1] = {L->r};
        rc = add_block(wp, B->name, ".U", factor_kind(B->kind, true), 2, su, false);
        if (rc == HB_OK) rc = add_block(wp, B->name, ".s", factor_kind(B->kind, false), 1, ss, true);
        if (rc == HB_OK) rc = add_block(wp, B->name, ".Vt", factor_kind(B->kind, false), 2, sv, false);
        if (rc == HB_OK) rc = add_block(wp, B->name, ".Ua", factor_kind(B->kind, true), 2, sua, true);
        if (rc == HB_OK) rc = add_block(wp, B->name, ".Vta", factor_kind(B->kind, false), 2, sva, true);
        if (rc == HB_OK) rc = add_block(wp, B->name, ".idx", HB_BLOCK_OTHER, 1, si, false);
        S->sum_r += (uint64_t)L->r;
    } else {
        int64_t sw[2] = {L->out, L->in}, sa[2] = {L->r, L->in}, sb[2] = {L->out, L->r};
        rc = add_block(wp, B->name, ".W0", B->kind, 2, sw, false);
        if (rc == HB_OK) rc = add_block(wp, B->name, ".A", B->kind, 2, sa, true);
        if (rc == HB_OK) rc = add_block(wp, B->name, ".B", B->kind, 2, sb, true);
    }
    return rc;
}

/* Step 3b: after wp is finalised, the wrapper offsets of every layer's factors and every
 * other block; first_block[b] = wp's index of the first block made from inner block b. */
static void record_offsets(sst *S, const hb_params *ip, const hb_params *wp,
                           const size_t *first_block, size_t iter_block) {
    bool spectral = S->method == HB_SST_METHOD_SPECTRAL;
    for (size_t l = 0, o = 0; l < S->n_layers || o < S->n_others;) {
        /* layers and others are both in inner block order */
        if (l < S->n_layers && (o >= S->n_others || S->layers[l].inner_off < S->others[o].inner_off)) {
            layer *L = &S->layers[l++];
            size_t wb = first_block[L->inner_block];
            if (spectral) {
                L->off_u = wp->blocks[wb].offset;
                L->off_s = wp->blocks[wb + 1].offset;
                L->off_vt = wp->blocks[wb + 2].offset;
                L->off_ua = wp->blocks[wb + 3].offset;
                L->off_vta = wp->blocks[wb + 4].offset;
                L->off_idx = wp->blocks[wb + 5].offset;
                L->blk_ua = wb + 3;
                L->blk_vta = wb + 4;
            } else {
                L->off_w0 = wp->blocks[wb].offset;
                L->off_a = wp->blocks[wb + 1].offset;
                L->off_b = wp->blocks[wb + 2].offset;
            }
        } else {
            other *O = &S->others[o++];
            for (size_t b = 0; b < ip->n_blocks; b++)
                if (ip->blocks[b].offset == O->inner_off && ip->blocks[b].numel == O->numel)
                    O->outer_off = wp->blocks[first_block[b]].offset;
        }
    }
    if (spectral) S->off_iter = wp->blocks[iter_block].offset;
}

/* Step 3: lay out the wrapper's parameters (*wp_out, finalised): inner's blocks in
 * order, each converted one replaced in place by its factors, then sst.iteration (SST).
 * *max_k, *max_scratch: the largest k and per-layer scratch, for the workspaces. */
static int lay_out(sst *S, const hb_sst_config *cfg, hb_params **wp_out, size_t *max_k,
                   size_t *max_scratch) {
    hb_context *ctx = S->inner->ctx;
    const hb_params *ip = S->inner->params;
    *wp_out = NULL;
    hb_params *wp = NULL;
    HB_TRY(hb_params_create(ctx, ip->dtype, &wp));
    /* The wrapper's block index of each inner block, to find the offsets once finalised. */
    size_t *first_block = hb__calloc(ctx, ip->n_blocks, sizeof *first_block, "SST block index");
    int rc = first_block ? HB_OK : HB_ENOMEM;
    for (size_t b = 0; b < ip->n_blocks && rc == HB_OK; b++) {
        const hb__block *B = &ip->blocks[b];
        first_block[b] = hb_params_num_blocks(wp);
        if (!converts(cfg, B)) {
            S->others[S->n_others].inner_off = B->offset;
            S->others[S->n_others].numel = B->numel;
            rc = add_block(wp, B->name, "", B->kind, B->ndim, B->shape, !S->freeze);
            S->n_others++;
            continue;
        }
        rc = add_layer_blocks(S, wp, B, b);
        const layer *L = &S->layers[S->n_layers - 1];
        if ((size_t)L->k > *max_k) *max_k = (size_t)L->k;
        size_t need = (size_t)(L->out * L->in + L->out * L->k + L->k + L->k * L->in);
        if (need > *max_scratch) *max_scratch = need;
    }
    size_t iter_block = 0;
    if (rc == HB_OK && S->method == HB_SST_METHOD_SPECTRAL) {
        int64_t one[1] = {1};
        iter_block = hb_params_num_blocks(wp);
        rc = add_block(wp, "sst.iteration", "", HB_BLOCK_OTHER, 1, one, false);
    }
    if (rc == HB_OK) rc = hb_params_finalize(wp);
    if (rc == HB_OK) record_offsets(S, ip, wp, first_block, iter_block);
    hb__free(ctx, first_block);
    if (rc != HB_OK) {
        hb_params_free(wp);
        return rc;
    }
    *wp_out = wp;
    return HB_OK;
}

/* Step 4: scratch, sampling weights, per-layer selection arrays and (SST) the ?gesdd
 * workspace, sized by the largest query over the layers. */
static int allocate_workspaces(sst *S, size_t max_k, size_t max_scratch) {
    hb_context *ctx = S->inner->ctx;
    hb_dtype dt = S->inner->params->dtype;
    size_t es = hb_dtype_size(dt);
    S->scratch = hb__calloc(ctx, max_scratch, es, "SST scratch");
    S->weights = hb__calloc(ctx, max_k, sizeof(double), "SST sampling weights");
    if (!S->scratch || !S->weights) return HB_ENOMEM;
    if (S->method != HB_SST_METHOD_SPECTRAL) return HB_OK;
    for (size_t l = 0; l < S->n_layers; l++) {
        layer *L = &S->layers[l];
        L->active = hb__calloc(ctx, (size_t)L->r, sizeof *L->active, "SST active indices");
        L->mask = hb__calloc(ctx, (size_t)L->k, 1, "SST active mask");
        if (!L->active || !L->mask) return HB_ENOMEM;
    }
    lapack_int lwork = 1;
    for (size_t l = 0; l < S->n_layers; l++) {
        layer *L = &S->layers[l];
        double q = 0;
        float qf = 0;
        lapack_int dummy_i = 0;
        lapack_int info = gesdd(dt, L->out, L->in, S->scratch, S->scratch, S->scratch, S->scratch,
                                dt == HB_F64 ? (void *)&q : (void *)&qf, -1, &dummy_i);
        if (info != 0)
            return hb__fail(ctx, HB_EUNSUPPORTED, "?gesdd workspace query failed (info %d)", (int)info);
        lapack_int need = (lapack_int)(dt == HB_F64 ? q : (double)qf) + 1;
        if (need > lwork) lwork = need;
    }
    S->lwork = lwork;
    S->work = hb__calloc(ctx, (size_t)lwork, es, "?gesdd workspace");
    S->iwork = hb__calloc(ctx, 8 * max_k, sizeof *S->iwork, "?gesdd integer workspace");
    return S->work && S->iwork ? HB_OK : HB_ENOMEM;
}

/* Step 5: the values that pass through unchanged: every other block, and (LoRA) W0. */
static void copy_frozen(const sst *S, hb_params *wp) {
    const hb_params *ip = S->inner->params;
    hb_dtype dt = ip->dtype;
    size_t es = hb_dtype_size(dt);
    if (S->method != HB_SST_METHOD_SPECTRAL)
        for (size_t l = 0; l < S->n_layers; l++) {
            const layer *L = &S->layers[l];
            memcpy(at(dt, wp->data, L->off_w0), at(dt, ip->data, L->inner_off),
                   (size_t)(L->out * L->in) * es);
        }
    for (size_t j = 0; j < S->n_others; j++)
        memcpy(at(dt, wp->data, S->others[j].outer_off), at(dt, ip->data, S->others[j].inner_off),
               S->others[j].numel * es);
}

/* Step 6, on the wrapper model m: SST factors by a thin SVD of each W (zero distortion)
 * and the first selection; LoRA's A by PyTorch's linear init (B stays zero). */
static int initialise(hb_model *m, sst *S) {
    const hb_params *ip = S->inner->params;
    hb_dtype dt = ip->dtype;
    int rc = HB_OK;
    if (S->method == HB_SST_METHOD_SPECTRAL) {
        for (size_t l = 0; l < S->n_layers && rc == HB_OK; l++)
            rc = svd_layer(m, S, &S->layers[l], at(dt, ip->data, S->layers[l].inner_off));
        if (rc == HB_OK) rc = hb_context_next_stream(m->ctx, &S->stream);
        if (rc == HB_OK) select_all(m, S, 0);
        return rc;
    }
    for (size_t l = 0; l < S->n_layers && rc == HB_OK; l++) {
        size_t bi;
        char nm[HB_MAX_BLOCK_NAME + 8];
        suffixed(nm, ip->blocks[S->layers[l].inner_block].name, ".A");
        rc = hb_params_find_block(m->params, nm, &bi);
        if (rc == HB_OK) rc = hb_params_init_block(m->params, bi, HB_INIT_TORCH_LINEAR, 0, 0);
    }
    return rc;
}

int hb_sst_create(hb_model *inner, const hb_sst_config *cfg, hb_model **out) {
    if (out) *out = NULL;
    if (!inner) return HB_EINVAL;
    hb_context *ctx = inner->ctx;
    HB_CHECK(ctx, cfg != NULL && out != NULL, HB_EINVAL, "config or output pointer is NULL");
    size_t n_layers = 0;
    HB_TRY(validate(inner, cfg, &n_layers));
    sst *S = NULL;
    HB_TRY(new_state(inner, cfg, n_layers, &S));
    hb_params *wp = NULL;
    hb_model *m = NULL;
    size_t max_k = 1, max_scratch = 1;
    int rc = lay_out(S, cfg, &wp, &max_k, &max_scratch);
    if (rc == HB_OK) rc = allocate_workspaces(S, max_k, max_scratch);
    if (rc == HB_OK) copy_frozen(S, wp);
    if (rc == HB_OK) rc = hb__model_new(ctx, wp, &S->vt, &m);
    if (rc != HB_OK) {
        hb_params_free(wp);
        destroy_sst(ctx, S);
        return rc;
    }
    m->impl = S; /* m owns wp and S from here: hb_model_free frees S through destroy */
    m->kind = inner->kind;
    m->exact_hvp = false;
    m->default_batch = inner->default_batch;
    rc = initialise(m, S);
    /* A copy of inner's current data, so the wrapper starts with the same batches. */
    for (size_t i = 0; i < inner->n_batches && rc == HB_OK; i++)
        rc = hb_model_add_batch(m, inner->batches[i].inputs, inner->batches[i].targets);
    if (rc != HB_OK) {
        hb_model_free(m);
        return rc;
    }
    *out = m;
    return HB_OK;
}

/* ---------------------------------------------------------------- schedule ---- */

/* Re-SVD every layer from its current U·diag(s)·Vᵀ (N.U/N.Vt current), keeping the
 * selection: N.Ua/N.Vta receive the new vectors at the same indices. */
static int resvd_all(hb_model *m, sst *S) {
    hb_dtype dt = m->compute;
    hb_params *ip = S->inner->params;
    HB_TRY(scatter_all(m, S));
    for (size_t l = 0; l < S->n_layers; l++) {
        layer *L = &S->layers[l];
        void *W = at(dt, ip->data, L->inner_off);
        HB_TRY(form_layer(m, S, L, W));
        HB_TRY(svd_layer(m, S, L, W));
        copy_pairs(m, L, false);
    }
    return HB_OK;
}

/* sst_begin_step (vtable begin_step): before the gradient of step `step`: when step / T3
 * differs from the iteration the current selection belongs to, re-SVD, draw the active
 * pairs for the new iteration and reset opt's state of every N.Ua/N.Vta block (opt may be
 * NULL); set opt's HB_OPT_LR_MULT to the re-warm factor (1 outside a re-warm) and return
 * it in *lr_scale. LoRA wrappers: no-op, *lr_scale = 1 (opt untouched). No argument
 * checks (hb_sst_begin_step does them). */
static int sst_begin_step(hb_model *m, int64_t step, hb_optimizer *opt, double *lr_scale) {
    sst *S = sst_of(m);
    if (lr_scale) *lr_scale = 1.0;
    if (!S || S->method != HB_SST_METHOD_SPECTRAL) return HB_OK;
    hb_dtype dt = m->compute;
    int64_t it = step / S->iteration;
    HB_CHECK(m->ctx, (double)it < exact_int_limit(dt), HB_ERANGE,
             "iteration %lld does not fit the selection block exactly in this dtype", (long long)it);
    HB_TRY(load_selection(m, S));
    double stored = hb__load(dt, m->params->data, S->off_iter);
    if (stored != (double)it) {
        HB_TRY(resvd_all(m, S));
        select_all(m, S, it);
        if (opt)
            for (size_t l = 0; l < S->n_layers; l++) {
                layer *L = &S->layers[l];
                if (S->reset == HB_SST_RESET_RESTART) {
                    HB_TRY(hb_optimizer_reset_block(opt, L->blk_ua));
                    HB_TRY(hb_optimizer_reset_block(opt, L->blk_vta));
                    continue;
                }
                HB_TRY(hb_optimizer_reset_range(opt, L->off_ua, (size_t)(L->out * L->r)));
                HB_TRY(hb_optimizer_reset_range(opt, L->off_vta, (size_t)(L->r * L->in)));
            }
    }
    double f = 1.0;
    if (it > 0 && S->rewarm > 0) {
        f = (double)(step - it * S->iteration + 1) / (double)S->rewarm;
        if (f > 1) f = 1;
    }
    if (opt) HB_TRY(hb_optimizer_set_f64(opt, HB_OPT_LR_MULT, f));
    if (lr_scale) *lr_scale = f;
    return HB_OK;
}

/* sst_end_step (vtable end_step): after the update: clamp s >= 0 (SST), nothing for LoRA. */
static int sst_end_step(hb_model *m) {
    sst *S = sst_of(m);
    if (!S || S->method != HB_SST_METHOD_SPECTRAL) return HB_OK;
    hb_dtype dt = m->compute;
    for (size_t l = 0; l < S->n_layers; l++) {
        layer *L = &S->layers[l];
        void *s = at(dt, m->params->data, L->off_s);
        for (int64_t i = 0; i < L->k; i++)
            if (!(hb__load(dt, s, (size_t)i) >= 0)) hb__store(dt, s, (size_t)i, 0.0);
    }
    return HB_OK;
}

/* ---------------------------------------------------------------- public queries ---- */

#define WRAPPER_OR_FAIL(m, S)                                                              \
    if (!(m)) return HB_EINVAL;                                                            \
    sst *S = sst_of(m);                                                                    \
    HB_CHECK((m)->ctx, S != NULL, HB_EINVAL, "the model is not an SST/LoRA wrapper")

int hb_sst_is_wrapper(const hb_model *m) { return hb__sst_is_wrapper(m) ? 1 : 0; }
int hb_sst_method_of(const hb_model *m) {
    sst *S = sst_of(m);
    return S ? (int)S->method : 0;
}
hb_model *hb_sst_inner(hb_model *m) {
    sst *S = sst_of(m);
    return S ? S->inner : NULL;
}

int hb_sst_num_layers(const hb_model *m, size_t *n) {
    WRAPPER_OR_FAIL(m, S);
    HB_CHECK(m->ctx, n != NULL, HB_EINVAL, "n is NULL");
    *n = S->n_layers;
    return HB_OK;
}

int hb_sst_layer_info(const hb_model *m, size_t layer_i, const char **name, int64_t *out_dim,
                      int64_t *in_dim, int64_t *k, int64_t *r) {
    WRAPPER_OR_FAIL(m, S);
    HB_CHECK(m->ctx, layer_i < S->n_layers, HB_ERANGE, "layer %zu out of range (%zu layers)", layer_i,
             S->n_layers);
    const layer *L = &S->layers[layer_i];
    if (name) *name = S->inner->params->blocks[L->inner_block].name;
    if (out_dim) *out_dim = L->out;
    if (in_dim) *in_dim = L->in;
    if (k) *k = L->k;
    if (r) *r = L->r;
    return HB_OK;
}

int hb_sst_active(const hb_model *m, size_t layer_i, int64_t *idx) {
    WRAPPER_OR_FAIL(m, S);
    HB_CHECK(m->ctx, S->method == HB_SST_METHOD_SPECTRAL, HB_EINVAL, "LoRA layers have no active pairs");
    HB_CHECK(m->ctx, idx != NULL, HB_EINVAL, "idx is NULL");
    HB_CHECK(m->ctx, layer_i < S->n_layers, HB_ERANGE, "layer %zu out of range (%zu layers)", layer_i,
             S->n_layers);
    HB_TRY(load_selection((hb_model *)m, S));
    memcpy(idx, S->layers[layer_i].active, (size_t)S->layers[layer_i].r * sizeof *idx);
    return HB_OK;
}

int hb_sst_trainable_count(const hb_model *m, size_t *n) {
    WRAPPER_OR_FAIL(m, S);
    HB_CHECK(m->ctx, n != NULL, HB_EINVAL, "n is NULL");
    size_t c = 0;
    if (!S->freeze)
        for (size_t j = 0; j < S->n_others; j++) c += S->others[j].numel;
    for (size_t l = 0; l < S->n_layers; l++) {
        const layer *L = &S->layers[l];
        c += (size_t)(L->r * (L->out + L->in));
        if (S->method == HB_SST_METHOD_SPECTRAL) c += (size_t)L->k;
    }
    *n = c;
    return HB_OK;
}

int hb_sst_sync(hb_model *m) {
    WRAPPER_OR_FAIL(m, S);
    return sync_inner(m, S);
}

int hb_sst_resvd(hb_model *m) {
    WRAPPER_OR_FAIL(m, S);
    HB_CHECK(m->ctx, S->method == HB_SST_METHOD_SPECTRAL, HB_EINVAL, "re-SVD applies to SST layers only");
    return resvd_all(m, S);
}

int hb_sst_begin_step(hb_model *m, int64_t step, hb_optimizer *opt, double *lr_scale) {
    WRAPPER_OR_FAIL(m, S);
    (void)S;
    HB_CHECK(m->ctx, step >= 0, HB_EINVAL, "step must be >= 0");
    HB_CHECK(m->ctx, opt == NULL || hb_optimizer_params(opt) == m->params, HB_EINVAL,
             "the optimizer is not over the wrapper's parameters");
    return sst_begin_step(m, step, opt, lr_scale);
}

int hb_sst_end_step(hb_model *m) {
    WRAPPER_OR_FAIL(m, S);
    (void)S;
    return sst_end_step(m);
}
