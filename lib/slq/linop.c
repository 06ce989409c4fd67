/* Symmetric linear operators y = A·x on f64 vectors, k vectors per call (k×n row-major).
 *   dense:     Y = X·Aᵀ = X·A   (one gemm, A symmetric; gemv for k = 1)
 *   callback:  y_i = fn(x_i), one call per vector
 *   model:     Y = H·X through ONE hb_model_hvp_multi / hb_model_block_hvp call */
#include <float.h>
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"
#include "slq/slq_internal.h"

static int linop_new(hb_context *ctx, hb__linop_kind kind, size_t n, hb_linop **out) {
    hb_linop *op = hb__calloc(ctx, 1, sizeof *op, "linop");
    if (!op) return HB_ENOMEM;
    op->ctx = ctx;
    op->kind = kind;
    op->n = n;
    *out = op;
    return HB_OK;
}

int hb_linop_create_dense(hb_context *ctx, const double *A, size_t n, int copy, hb_linop **out) {
    if (!ctx) return HB_EINVAL;
    HB_CHECK(ctx, out != NULL, HB_EINVAL, "out is NULL");
    *out = NULL;
    HB_CHECK(ctx, A != NULL, HB_EINVAL, "matrix is NULL");
    HB_CHECK(ctx, n > 0, HB_EINVAL, "operator of size 0");
    HB_CHECK(ctx, copy == 0 || copy == 1, HB_EINVAL, "copy must be 0 or 1, got %d", copy);
    size_t nn, bytes;
    HB_CHECK(ctx, hb__mul_size(n, n, &nn) && hb__mul_size(nn, sizeof(double), &bytes) &&
                      n <= (size_t)INT64_MAX / 2,
             HB_EOVERFLOW, "%zu x %zu matrix overflows", n, n);
    double amax = 0;
    for (size_t i = 0; i < nn; i++) {
        HB_CHECK(ctx, isfinite(A[i]), HB_ENONFINITE, "matrix entry (%zu, %zu) is not finite",
                 i / n, i % n);
        amax = fmax(amax, fabs(A[i]));
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            HB_CHECK(ctx, fabs(A[i * n + j] - A[j * n + i]) <= 1e-12 * amax, HB_EINVAL,
                     "matrix is not symmetric: A[%zu][%zu] = %.17g, A[%zu][%zu] = %.17g", i, j,
                     A[i * n + j], j, i, A[j * n + i]);
    hb_linop *op = NULL;
    HB_TRY(linop_new(ctx, HB__LINOP_DENSE, n, &op));
    if (copy) {
        op->A_owned = hb__malloc(ctx, bytes, "dense operator copy");
        if (!op->A_owned) {
            hb__free(ctx, op);
            return HB_ENOMEM;
        }
        memcpy(op->A_owned, A, bytes);
        op->A = op->A_owned;
    } else {
        op->A = A;
    }
    *out = op;
    return HB_OK;
}

int hb_linop_create_callback(hb_context *ctx, size_t n, hb_linop_fn fn, void *user,
                             hb_linop **out) {
    if (!ctx) return HB_EINVAL;
    HB_CHECK(ctx, out != NULL, HB_EINVAL, "out is NULL");
    *out = NULL;
    HB_CHECK(ctx, fn != NULL, HB_EINVAL, "callback is NULL");
    HB_CHECK(ctx, n > 0, HB_EINVAL, "operator of size 0");
    hb_linop *op = NULL;
    HB_TRY(linop_new(ctx, HB__LINOP_CALLBACK, n, &op));
    op->fn = fn;
    op->user = user;
    *out = op;
    return HB_OK;
}

int hb_linop_create_model_hessian(hb_model *m, hb_linop **out) {
    if (!m) return HB_EINVAL;
    HB_CHECK(m->ctx, out != NULL, HB_EINVAL, "out is NULL");
    *out = NULL;
    HB_CHECK(m->ctx, m->params->n > 0, HB_EINVAL, "model has no parameters");
    hb_linop *op = NULL;
    HB_TRY(linop_new(m->ctx, HB__LINOP_MODEL, m->params->n, &op));
    op->model = m;
    *out = op;
    return HB_OK;
}

int hb_linop_create_model_block(hb_model *m, size_t block, hb_linop **out) {
    if (!m) return HB_EINVAL;
    HB_CHECK(m->ctx, out != NULL, HB_EINVAL, "out is NULL");
    *out = NULL;
    HB_CHECK(m->ctx, block < m->params->n_blocks, HB_ERANGE, "block %zu out of range (%zu blocks)",
             block, m->params->n_blocks);
    hb_linop *op = NULL;
    HB_TRY(linop_new(m->ctx, HB__LINOP_MODEL_BLOCK, m->params->blocks[block].numel, &op));
    op->model = m;
    op->block = block;
    *out = op;
    return HB_OK;
}

void hb_linop_free(hb_linop *op) {
    if (!op) return;
    hb__free(op->ctx, op->A_owned);
    hb__free(op->ctx, op);
}

size_t hb_linop_size(const hb_linop *op) { return op ? op->n : 0; }

/* Dense and callback operators count as f64 (a callback's own precision is unknown; a
 * caller who knows better passes hb_js_options.zero_rel_tol). A model's products are in its
 * compute dtype; a central difference of gradients with step ∝ u^(1/3) (lib/model/
 * callbacks.c) is accurate to about u^(2/3) relative, not u. */
double hb__linop_unit_roundoff(const hb_linop *op) {
    double u = DBL_EPSILON / 2;
    if (op->kind == HB__LINOP_MODEL || op->kind == HB__LINOP_MODEL_BLOCK) {
        if (op->model->compute == HB_F32) u = FLT_EPSILON / 2;
        if (!op->model->exact_hvp) u = cbrt(u) * cbrt(u);
    }
    return u;
}

static int apply_model(hb_linop *op, size_t k, const double *X, double *Y) {
    hb_context *ctx = op->ctx;
    int64_t shape[2] = {(int64_t)k, (int64_t)op->n};
    hb_tensor *tx = NULL, *ty = NULL;
    int rc = hb_tensor_wrap(ctx, HB_F64, 2, shape, (void *)X, &tx);
    if (rc == HB_OK) rc = hb_tensor_wrap(ctx, HB_F64, 2, shape, Y, &ty);
    if (rc == HB_OK)
        rc = op->kind == HB__LINOP_MODEL ? hb_model_hvp_multi(op->model, tx, ty)
                                         : hb_model_block_hvp(op->model, op->block, tx, ty);
    hb_tensor_free(tx);
    hb_tensor_free(ty);
    return rc;
}

int hb_linop_apply(hb_linop *op, size_t k, const double *X, double *Y) {
    if (!op) return HB_EINVAL;
    hb_context *ctx = op->ctx;
    HB_CHECK(ctx, X != NULL && Y != NULL, HB_EINVAL, "X or Y is NULL");
    HB_CHECK(ctx, k > 0, HB_EINVAL, "k = 0 vectors");
    size_t kn;
    HB_CHECK(ctx, hb__mul_size(k, op->n, &kn) && k <= (size_t)INT64_MAX, HB_EOVERFLOW,
             "k x n overflows");
    if (op->kind == HB__LINOP_MODEL || op->kind == HB__LINOP_MODEL_BLOCK)
        return apply_model(op, k, X, Y);
    /* dense and callback operators keep no per-task state */
    return hb__linop_apply_task(ctx, op, NULL, k, X, Y);
}

bool hb__linop_serial(const hb_linop *op) {
    if (op->kind == HB__LINOP_CALLBACK) return true; /* hb_linop_fn: no thread-safety promise */
    /* a data-parallel model's products are collectives: one at a time, on the caller's
     * thread (the one that may communicate), in task order — the same on every rank */
    if (op->kind == HB__LINOP_MODEL || op->kind == HB__LINOP_MODEL_BLOCK)
        return !op->model->concurrent_hvp || hb__model_collective(op->model);
    return false;
}

bool hb__linop_collective(const hb_linop *op) {
    return (op->kind == HB__LINOP_MODEL || op->kind == HB__LINOP_MODEL_BLOCK) &&
           hb__model_collective(op->model);
}

int hb__linop_prepare(hb_linop *op) {
    if (op->kind == HB__LINOP_MODEL || op->kind == HB__LINOP_MODEL_BLOCK)
        return hb__model_tasks_prepare(op->model);
    return HB_OK;
}

int hb__linop_apply_task(hb_context *ctx, hb_linop *op, hb__model_task *mt, size_t k,
                         const double *X, double *Y) {
    switch (op->kind) {
    case HB__LINOP_DENSE: /* Y(k×n) = X(k×n)·A(n×n), A symmetric; one vector: gemv (no packing) */
        if (k == 1)
            return hb__gemv(ctx, HB_F64, false, (int64_t)op->n, (int64_t)op->n, 1.0, op->A,
                            (int64_t)op->n, X, 1, 0.0, Y, 1);
        return hb__gemm(ctx, HB_F64, false, false, (int64_t)k, (int64_t)op->n, (int64_t)op->n, 1.0,
                        X, (int64_t)op->n, op->A, (int64_t)op->n, 0.0, Y, (int64_t)op->n);
    case HB__LINOP_CALLBACK:
        for (size_t i = 0; i < k; i++) {
            int r = op->fn(op->user, X + i * op->n, Y + i * op->n, op->n);
            HB_CHECK(ctx, r == 0, HB_ECALLBACK, "operator callback failed (returned %d) on vector %zu",
                     r, i);
        }
        return HB_OK;
    case HB__LINOP_MODEL:
        return hb__model_hvp_task(op->model, mt, SIZE_MAX, k, X, Y);
    case HB__LINOP_MODEL_BLOCK:
        return hb__model_hvp_task(op->model, mt, op->block, k, X, Y);
    }
    return hb__fail(ctx, HB_EINVAL, "corrupt linop");
}
