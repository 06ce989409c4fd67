/* Built-in model 'quadratic': L(θ) = ½θᵀHθ − hᵀθ with block-diagonal H (the paper's test
 * bed: per-block spectra are chosen, so heterogeneity is known exactly).
 *
 *   ∇L = Hθ − h,   H·v = H v (exact, no data),   block b: H_bb v_b.
 * Every block's H_b = Q_b·diag(λ_b)·Q_bᵀ (or a caller's dense matrix) is kept as an f64
 * matrix (the reference, symmetrised exactly) and, for f32 compute, an f32 copy used in
 * the products. Products are gemv/gemm per block through lib/kernels. */
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/kernels.h"
#include "model/model_internal.h"
#include "models/builtins.h"

typedef struct quad {
    size_t nb;
    size_t *size, *offset; /* per block; offset into θ */
    size_t *moff;          /* per block: offset of H_b in the matrix arrays */
    double *eig;           /* n: ascending eigenvalues, block after block */
    double *H64;           /* Σ size² doubles */
    void *H;               /* compute-dtype copy (aliases H64 for f64) */
    void *h;               /* n, compute dtype */
    void *tmp;             /* n, compute dtype: H θ */
} quad;

static void quad_destroy(hb_model *m) {
    quad *q = m->impl;
    if (!q) return;
    hb_context *ctx = m->ctx;
    if (q->H != q->H64) hb__free(ctx, q->H);
    hb__free(ctx, q->H64);
    hb__free(ctx, q->eig);
    hb__free(ctx, q->h);
    hb__free(ctx, q->tmp);
    hb__free(ctx, q->size);
    hb__free(ctx, q->offset);
    hb__free(ctx, q->moff);
    hb__free(ctx, q);
    m->impl = NULL;
}

#define ES(m) hb_dtype_size((m)->compute)
#define PTR(p, m, i) ((char *)(p) + (size_t)(i) * ES(m))

/* loss = ½θᵀHθ − hᵀθ, grad += scale·(Hθ − h) */
static int quad_loss_grad(hb_model *m, const hb__batch *b, double *loss, void *grad, double scale) {
    (void)b;
    quad *q = m->impl;
    hb_context *ctx = m->ctx;
    hb_dtype dt = m->compute;
    const void *th = hb__model_theta(m);
    size_t n = m->params->n;
    for (size_t i = 0; i < q->nb; i++) {
        int64_t s = (int64_t)q->size[i];
        HB_TRY(hb__gemv(ctx, dt, false, s, s, 1.0, PTR(q->H, m, q->moff[i]), s,
                        PTR(th, m, q->offset[i]), 1, 0.0, PTR(q->tmp, m, q->offset[i]), 1));
    }
    double l = 0;
    for (size_t i = 0; i < n; i++) {
        double t = hb__load(dt, th, i);
        l += t * (0.5 * hb__load(dt, q->tmp, i) - hb__load(dt, q->h, i));
    }
    *loss = l;
    if (grad) {
        HB_TRY(hb__axpy(ctx, dt, (int64_t)n, -1.0, q->h, 1, q->tmp, 1));
        HB_TRY(hb__axpy(ctx, dt, (int64_t)n, scale, q->tmp, 1, grad, 1));
    }
    return HB_OK;
}

/* OUT_b += scale·V_b·H_b for the k rows (H_b symmetric, so this is (H_b v)ᵀ per row).
 * ld: row length of V and OUT. */
static int block_product(hb_model *m, hb_context *ctx, size_t i, size_t k, const void *V, void *OUT,
                         int64_t ld, double scale) {
    quad *q = m->impl;
    int64_t s = (int64_t)q->size[i];
    return hb__gemm(ctx, m->compute, false, false, (int64_t)k, s, s, scale, V, ld,
                    PTR(q->H, m, q->moff[i]), s, 1.0, OUT, ld);
}

static int quad_hvp_multi(hb_model *m, hb__model_task *t, const hb__batch *b, size_t k, const void *V, void *OUT,
                          double scale) {
    (void)b;
    quad *q = m->impl;
    int64_t n = (int64_t)m->params->n;
    for (size_t i = 0; i < q->nb; i++)
        HB_TRY(block_product(m, t->ctx, i, k, PTR(V, m, q->offset[i]), PTR(OUT, m, q->offset[i]), n, scale));
    return HB_OK;
}

static int quad_block_hvp(hb_model *m, hb__model_task *t, const hb__batch *b, size_t block, size_t k,
                          const void *V_b, void *OUT_b, double scale) {
    (void)b;
    quad *q = m->impl;
    return block_product(m, t->ctx, block, k, V_b, OUT_b, (int64_t)q->size[block], scale);
}

static const hb__model_vtable quad_vtable = {
    .name = "quadratic",
    .loss_grad = quad_loss_grad,
    .hvp_multi = quad_hvp_multi,
    .block_hvp = quad_block_hvp,
    .destroy = quad_destroy,
};

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Random orthogonal s×s matrix Q (row-major) from stream: QR of a Gaussian matrix with
 * the signs of R's diagonal folded into Q (Haar distributed). LAPACK's _work routines
 * with our own workspace, so every allocation goes through the context. */
static int random_orthogonal(hb_context *ctx, size_t s, uint64_t stream, double *Q) {
    uint64_t seed = (uint64_t)ctx->seed;
    for (size_t i = 0; i < s * s; i++) Q[i] = hb__normal(seed, stream, i);
    lapack_int ns = (lapack_int)s, info;
    double wq = 0, wq2 = 0;
    info = LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, ns, ns, Q, ns, NULL, &wq, -1);
    HB_CHECK(ctx, info == 0, HB_EINVAL, "dgeqrf workspace query failed (%d)", (int)info);
    info = LAPACKE_dorgqr_work(LAPACK_COL_MAJOR, ns, ns, ns, Q, ns, NULL, &wq2, -1);
    HB_CHECK(ctx, info == 0, HB_EINVAL, "dorgqr workspace query failed (%d)", (int)info);
    size_t lwork = (size_t)fmax(fmax(wq, wq2), (double)s) + 1;
    double *work = hb__malloc(ctx, (lwork + 2 * s) * sizeof(double), "QR workspace");
    if (!work) return HB_ENOMEM;
    double *tau = work + lwork, *sign = tau + s;
    info = LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, ns, ns, Q, ns, tau, work, (lapack_int)lwork);
    for (size_t i = 0; i < s && info == 0; i++) sign[i] = Q[i * s + i] < 0 ? -1.0 : 1.0;
    if (info == 0)
        info = LAPACKE_dorgqr_work(LAPACK_COL_MAJOR, ns, ns, ns, Q, ns, tau, work, (lapack_int)lwork);
    if (info == 0) /* column i of the column-major Q is Q[i*s .. i*s+s) */
        for (size_t i = 0; i < s; i++)
            for (size_t r = 0; r < s; r++) Q[i * s + r] *= sign[i];
    hb__free(ctx, work);
    HB_CHECK(ctx, info == 0, HB_EINVAL, "QR factorisation failed (LAPACK info %d)", (int)info);
    return HB_OK;
}

/* Eigenvalues (ascending) of the symmetric s×s matrix A (copied) into w. */
static int sym_eigenvalues(hb_context *ctx, size_t s, const double *A, double *w) {
    lapack_int ns = (lapack_int)s, info;
    double wq = 0;
    info = LAPACKE_dsyev_work(LAPACK_COL_MAJOR, 'N', 'U', ns, NULL, ns, NULL, &wq, -1);
    HB_CHECK(ctx, info == 0, HB_EINVAL, "dsyev workspace query failed (%d)", (int)info);
    size_t lwork = (size_t)fmax(wq, 3.0 * (double)s) + 1;
    double *work = hb__malloc(ctx, (lwork + s * s) * sizeof(double), "eigenvalue workspace");
    if (!work) return HB_ENOMEM;
    double *a = work + lwork;
    memcpy(a, A, s * s * sizeof(double));
    info = LAPACKE_dsyev_work(LAPACK_COL_MAJOR, 'N', 'U', ns, a, ns, w, work, (lapack_int)lwork);
    hb__free(ctx, work);
    HB_CHECK(ctx, info == 0, HB_EINVAL, "symmetric eigenvalue solver failed (LAPACK info %d)",
             (int)info);
    return HB_OK;
}

/* Validated description of a quadratic model. eig_gen: generate eigenvalues from the
 * family instead of taking eigenvalues/dense; h_random: draw h ~ N(0, 1). */
typedef struct quad_spec {
    hb_dtype dtype;
    size_t nb;
    const size_t *sizes;
    const double *const *eigenvalues;
    const double *const *dense;
    const double *h;
    int family;   /* 0 = given */
    double cond;
    bool h_random;
} quad_spec;

static void family_eigenvalues(const quad_spec *sp, size_t b, size_t s, double *w) {
    double B = (double)sp->nb, lk = log(sp->cond);
    for (size_t j = 0; j < s; j++) {
        double t = s > 1 ? (double)j / (double)(s - 1) : 0.0; /* position in the block's range */
        double e = sp->family == HB_QUAD_HETEROGENEOUS ? ((double)b + t) / B : t;
        w[j] = exp(e * lk);
    }
}

static int quad_build(hb_context *ctx, const quad_spec *sp, hb_model **out) {
    *out = NULL;
    size_t nb = sp->nb, n = 0, nm = 0;
    for (size_t i = 0; i < nb; i++) {
        size_t s2;
        HB_CHECK(ctx, hb__add_size(n, sp->sizes[i], &n) && hb__mul_size(sp->sizes[i], sp->sizes[i], &s2) &&
                          hb__add_size(nm, s2, &nm) && nm <= SIZE_MAX / 2 / sizeof(double),
                 HB_EOVERFLOW, "quadratic model size overflows");
    }
    hb_params *p = NULL;
    quad *q = NULL;
    double *Qbuf = NULL;
    int rc = hb_params_create(ctx, sp->dtype, &p);
    for (size_t i = 0; i < nb && rc == HB_OK; i++) {
        char name[32];
        snprintf(name, sizeof name, "block.%zu", i);
        int64_t shape[1] = {(int64_t)sp->sizes[i]};
        rc = hb_params_add_block(p, name, HB_BLOCK_OTHER, 1, shape, NULL);
    }
    if (rc == HB_OK) rc = hb_params_finalize(p); /* θ = 0 */
    hb_dtype cd = sp->dtype == HB_F64 ? HB_F64 : HB_F32;
    size_t es = hb_dtype_size(cd), smax = 0;
    for (size_t i = 0; i < nb; i++) smax = sp->sizes[i] > smax ? sp->sizes[i] : smax;
    if (rc == HB_OK) {
        rc = HB_ENOMEM;
        q = hb__calloc(ctx, 1, sizeof *q, "quadratic model");
        if (q) {
            q->nb = nb;
            q->size = hb__calloc(ctx, nb, sizeof(size_t), "block sizes");
            q->offset = hb__calloc(ctx, nb, sizeof(size_t), "block offsets");
            q->moff = hb__calloc(ctx, nb, sizeof(size_t), "matrix offsets");
            q->eig = hb__calloc(ctx, n, sizeof(double), "eigenvalues");
            q->H64 = hb__calloc(ctx, nm, sizeof(double), "Hessian blocks");
            q->H = cd == HB_F64 ? q->H64 : hb__calloc(ctx, nm, es, "f32 Hessian blocks");
            q->h = hb__calloc(ctx, n, es, "linear term");
            q->tmp = hb__calloc(ctx, n, es, "quadratic scratch");
            Qbuf = hb__calloc(ctx, smax * smax, 2 * sizeof(double), "orthogonal factor");
            if (q->size && q->offset && q->moff && q->eig && q->H64 && q->H && q->h && q->tmp && Qbuf)
                rc = HB_OK;
        }
    }
    size_t off = 0, mo = 0;
    for (size_t i = 0; i < nb && rc == HB_OK; i++) {
        size_t s = sp->sizes[i];
        q->size[i] = s, q->offset[i] = off, q->moff[i] = mo;
        double *Hb = q->H64 + mo, *w = q->eig + off;
        const double *given = sp->family ? NULL : sp->eigenvalues ? sp->eigenvalues[i] : NULL;
        if (sp->family || given) {
            if (given) memcpy(w, given, s * sizeof(double));
            else family_eigenvalues(sp, i, s, w);
            uint64_t stream;
            rc = hb_context_next_stream(ctx, &stream);
            if (rc == HB_OK) rc = random_orthogonal(ctx, s, stream, Qbuf);
            if (rc != HB_OK) break;
            double *QL = Qbuf + smax * smax; /* Q·diag(λ) */
            for (size_t r = 0; r < s; r++)
                for (size_t c = 0; c < s; c++) QL[r * s + c] = Qbuf[r * s + c] * w[c];
            rc = hb__gemm(ctx, HB_F64, false, true, (int64_t)s, (int64_t)s, (int64_t)s, 1.0, QL,
                          (int64_t)s, Qbuf, (int64_t)s, 0.0, Hb, (int64_t)s);
            qsort(w, s, sizeof(double), cmp_double);
        } else {
            memcpy(Hb, sp->dense[i], s * s * sizeof(double));
            rc = sym_eigenvalues(ctx, s, Hb, w);
        }
        for (size_t r = 0; r < s; r++) /* exact symmetry: the HVP operator is symmetric */
            for (size_t c = r + 1; c < s; c++)
                Hb[r * s + c] = Hb[c * s + r] = 0.5 * (Hb[r * s + c] + Hb[c * s + r]);
        off += s, mo += s * s;
    }
    if (rc == HB_OK) {
        if (cd != HB_F64) hb__convert(ctx, cd, q->H, HB_F64, q->H64, nm);
        if (sp->h_random) {
            uint64_t stream;
            rc = hb_context_next_stream(ctx, &stream);
            for (size_t i = 0; i < n && rc == HB_OK; i++)
                hb__store(cd, q->h, i, hb__normal((uint64_t)ctx->seed, stream, i));
        } else if (sp->h) {
            hb__convert(ctx, cd, q->h, HB_F64, sp->h, n);
        }
    }
    hb__free(ctx, Qbuf);
    if (rc == HB_OK) rc = hb__model_new(ctx, p, &quad_vtable, out);
    if (rc != HB_OK) {
        hb_model tmp = {.ctx = ctx, .impl = q};
        quad_destroy(&tmp);
        hb_params_free(p);
        return rc;
    }
    (*out)->impl = q;
    (*out)->kind = HB_MODEL_QUADRATIC;
    (*out)->concurrent_hvp = true; /* products read H only */
    return HB_OK;
}

int hb__quadratic_create(hb_context *ctx, const hb_model_config *cfg, hb_model **out) {
    *out = NULL;
    size_t nb = (size_t)hb__config_i64(cfg, HB_MK_QUAD_BLOCKS);
    size_t s = (size_t)hb__config_i64(cfg, HB_MK_QUAD_BLOCK_SIZE);
    size_t *sizes = hb__calloc(ctx, nb, sizeof *sizes, "block sizes");
    if (!sizes) return HB_ENOMEM;
    for (size_t i = 0; i < nb; i++) sizes[i] = s;
    quad_spec sp = {
        .dtype = (hb_dtype)hb__config_i64(cfg, HB_MK_DTYPE),
        .nb = nb,
        .sizes = sizes,
        .family = (int)hb__config_i64(cfg, HB_MK_QUAD_FAMILY),
        .cond = hb__config_f64(cfg, HB_MK_QUAD_COND),
        .h_random = true,
    };
    int rc = quad_build(ctx, &sp, out);
    hb__free(ctx, sizes);
    return rc;
}

static bool all_finite(const double *a, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return false;
    return true;
}

int hb_model_create_quadratic(hb_context *ctx, hb_dtype dtype, size_t n_blocks,
                              const size_t *sizes, const double *const *eigenvalues,
                              const double *const *dense, const double *h, hb_model **out) {
    if (out) *out = NULL;
    if (!ctx) return HB_EINVAL;
    HB_CHECK(ctx, out != NULL && sizes != NULL, HB_EINVAL, "sizes or output pointer is NULL");
    HB_CHECK(ctx, dtype == HB_F32 || dtype == HB_F64 || dtype == HB_BF16, HB_EDTYPE,
             "quadratic model dtype must be f32, f64 or bf16, got %d", (int)dtype);
    HB_CHECK(ctx, n_blocks >= 1 && n_blocks <= (1u << 20), HB_EINVAL,
             "n_blocks must be in 1..2^20, got %zu", n_blocks);
    size_t n = 0;
    for (size_t i = 0; i < n_blocks; i++) {
        size_t s = sizes[i];
        HB_CHECK(ctx, s >= 1 && s <= (1u << 20), HB_EINVAL, "block %zu has size %zu (need 1..2^20)", i, s);
        HB_CHECK(ctx, hb__add_size(n, s, &n), HB_EOVERFLOW, "total size overflows");
        const double *e = eigenvalues ? eigenvalues[i] : NULL, *d = dense ? dense[i] : NULL;
        HB_CHECK(ctx, (e != NULL) != (d != NULL), HB_EINVAL,
                 "block %zu needs exactly one of eigenvalues or a dense matrix", i);
        if (e) HB_CHECK(ctx, all_finite(e, s), HB_ENONFINITE, "eigenvalues of block %zu are not finite", i);
        if (d) {
            HB_CHECK(ctx, all_finite(d, s * s), HB_ENONFINITE, "matrix of block %zu is not finite", i);
            double mx = 0;
            for (size_t r = 0; r < s * s; r++) mx = fmax(mx, fabs(d[r]));
            for (size_t r = 0; r < s; r++)
                for (size_t c = r + 1; c < s; c++)
                    HB_CHECK(ctx, fabs(d[r * s + c] - d[c * s + r]) <= 1e-12 * mx, HB_EINVAL,
                             "matrix of block %zu is not symmetric at (%zu, %zu)", i, r, c);
        }
    }
    if (h) HB_CHECK(ctx, all_finite(h, n), HB_ENONFINITE, "h is not finite");
    quad_spec sp = {.dtype = dtype, .nb = n_blocks, .sizes = sizes, .eigenvalues = eigenvalues,
                    .dense = dense, .h = h};
    return quad_build(ctx, &sp, out);
}

static int quad_query(const hb_model *m, size_t block, void *out, size_t n, quad **q) {
    if (!m) return HB_EINVAL;
    HB_CHECK(m->ctx, out != NULL, HB_EINVAL, "output pointer is NULL");
    HB_CHECK(m->ctx, m->vt == &quad_vtable, HB_EUNSUPPORTED, "a %s model is not quadratic",
             m->vt->name);
    *q = m->impl;
    HB_CHECK(m->ctx, block < (*q)->nb, HB_ERANGE, "block %zu out of range (%zu blocks)", block,
             (*q)->nb);
    return HB_OK;
}

int hb_model_quadratic_eigenvalues(const hb_model *m, size_t block, double *out, size_t n) {
    quad *q = NULL;
    HB_TRY(quad_query(m, block, out, n, &q));
    HB_CHECK(m->ctx, n == q->size[block], HB_ESHAPE, "block %zu has %zu eigenvalues, not %zu",
             block, q->size[block], n);
    memcpy(out, q->eig + q->offset[block], n * sizeof(double));
    return HB_OK;
}

int hb_model_quadratic_matrix(const hb_model *m, size_t block, double *out, size_t n) {
    quad *q = NULL;
    HB_TRY(quad_query(m, block, out, n, &q));
    size_t s = q->size[block];
    HB_CHECK(m->ctx, n == s * s, HB_ESHAPE, "block %zu matrix has %zu entries, not %zu", block,
             s * s, n);
    memcpy(out, q->H64 + q->moff[block], n * sizeof(double));
    return HB_OK;
}
