/* User objectives through callbacks. θ is the params' f64 buffer; loss_grad is required,
 * hvp optional: without it H·v is a central difference of gradients (documented in
 * model.h, tested against exact quadratics in tests/test_model.c). */
#include <float.h>
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"
#include "model/model_internal.h"

typedef struct cb_model {
    hb_loss_grad_fn loss_grad;
    hb_hvp_fn hvp;
    void *user;
    double *tmp; /* 3n scratch: θ±εv, g+, g− (or g) */
} cb_model;

static int call_loss_grad(hb_model *m, const double *theta, double *loss, double *grad) {
    cb_model *cb = m->impl;
    size_t n = m->params->n;
    int rc = cb->loss_grad(cb->user, theta, n, loss, grad);
    HB_CHECK(m->ctx, rc == 0, HB_ECALLBACK, "the user's loss_grad callback returned %d", rc);
    return HB_OK;
}

static int cb_loss_grad(hb_model *m, const hb__batch *b, double *loss, void *grad, double scale) {
    (void)b;
    cb_model *cb = m->impl;
    size_t n = m->params->n;
    double *g = cb->tmp + n;
    memset(g, 0, n * sizeof *g);
    HB_TRY(call_loss_grad(m, m->params->data, loss, g));
    if (grad) HB_TRY(hb__axpy(m->ctx, HB_F64, (int64_t)n, scale, g, 1, grad, 1));
    return HB_OK;
}

static int cb_hvp_multi(hb_model *m, const hb__batch *b, size_t k, const void *V, void *OUT,
                        double scale) {
    (void)b;
    cb_model *cb = m->impl;
    size_t n = m->params->n;
    const double *theta = m->params->data;
    double *tp = cb->tmp, *gp = cb->tmp + n, *gm = cb->tmp + 2 * n;
    for (size_t j = 0; j < k; j++) {
        const double *v = (const double *)V + j * n;
        double *out = (double *)OUT + j * n;
        if (cb->hvp) {
            memset(gp, 0, n * sizeof *gp);
            int rc = cb->hvp(cb->user, theta, n, v, gp);
            HB_CHECK(m->ctx, rc == 0, HB_ECALLBACK, "the user's hvp callback returned %d", rc);
        } else {
            double tmax = 0, vmax = 0, loss;
            for (size_t i = 0; i < n; i++) tmax = fmax(tmax, fabs(theta[i])), vmax = fmax(vmax, fabs(v[i]));
            if (vmax == 0) continue; /* H·0 = 0 */
            double eps = cbrt(DBL_EPSILON) * (1.0 + tmax) / vmax;
            for (size_t i = 0; i < n; i++) tp[i] = theta[i] + eps * v[i];
            HB_TRY(call_loss_grad(m, tp, &loss, gp));
            for (size_t i = 0; i < n; i++) tp[i] = theta[i] - eps * v[i];
            HB_TRY(call_loss_grad(m, tp, &loss, gm));
            for (size_t i = 0; i < n; i++) gp[i] = (gp[i] - gm[i]) / (2 * eps);
        }
        for (size_t i = 0; i < n; i++)
            HB_CHECK(m->ctx, isfinite(gp[i]), HB_ENONFINITE,
                     "the user's objective produced a non-finite H·v at element %zu", i);
        HB_TRY(hb__axpy(m->ctx, HB_F64, (int64_t)n, scale, gp, 1, out, 1));
    }
    return HB_OK;
}

static void cb_destroy(hb_model *m) {
    cb_model *cb = m->impl;
    if (!cb) return;
    hb__free(m->ctx, cb->tmp);
    hb__free(m->ctx, cb);
}

static const hb__model_vtable cb_vtable = {
    .name = "callbacks",
    .loss_grad = cb_loss_grad,
    .hvp_multi = cb_hvp_multi,
    .destroy = cb_destroy,
};

int hb_model_create_callbacks(hb_context *ctx, hb_params *params, hb_loss_grad_fn loss_grad,
                              hb_hvp_fn hvp, void *user, hb_model **out) {
    if (out) *out = NULL;
    if (!ctx) return HB_EINVAL;
    HB_CHECK(ctx, out != NULL && params != NULL && loss_grad != NULL, HB_EINVAL,
             "params, loss_grad and out are required");
    HB_CHECK(ctx, params->ctx == ctx, HB_EINVAL, "params belong to another context");
    HB_CHECK(ctx, params->dtype == HB_F64, HB_EDTYPE, "callback models need f64 params");
    HB_CHECK(ctx, params->finalized, HB_ESTATE, "params must be finalised");
    cb_model *cb = hb__calloc(ctx, 1, sizeof *cb, "callback model");
    if (!cb) return HB_ENOMEM;
    cb->tmp = hb__calloc(ctx, params->n, 3 * sizeof(double), "callback model scratch");
    if (!cb->tmp) {
        hb__free(ctx, cb);
        return HB_ENOMEM;
    }
    cb->loss_grad = loss_grad;
    cb->hvp = hvp;
    cb->user = user;
    int rc = hb__model_new(ctx, params, &cb_vtable, out);
    if (rc != HB_OK) {
        hb__free(ctx, cb->tmp);
        hb__free(ctx, cb);
        return rc;
    }
    (*out)->impl = cb;
    (*out)->exact_hvp = hvp != NULL;
    (*out)->kind = 0;
    return HB_OK;
}
