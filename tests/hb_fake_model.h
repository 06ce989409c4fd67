/* A small test-only model with data, implemented on the internal model vtable, for the
 * training-loop and SST tests (the built-in models live on other branches):
 *   softmax regression  z = W·x + b, W (C, D) kind LINEAR, b (C) kind BIAS, f64,
 *   loss = mean over samples of −log softmax(z)_y.
 * Synthetic sample i of stream s: y = i mod C, x_j = 1.5·cos(1 + y·D + j) + N(0,1) drawn
 * as number i·D + j of stream s. Every synthetic call records (stream, first). */
#ifndef HB_FAKE_MODEL_H
#define HB_FAKE_MODEL_H

#include <math.h>
#include <string.h>

#include "model/model_internal.h"

typedef struct fake_model {
    int64_t C, D;
    uint64_t last_stream, last_first;
    long n_synthetic;
} fake_model;

static int fk_check(hb_model *m, const hb_tensor *x, const hb_tensor *y, size_t *n) {
    fake_model *f = m->impl;
    HB_CHECK(m->ctx, x->dtype == HB_F64 && x->ndim == 2 && x->shape[1] == f->D, HB_ESHAPE, "x");
    HB_CHECK(m->ctx, y->dtype == HB_I32 && y->ndim == 1 && y->shape[0] == x->shape[0], HB_ESHAPE, "y");
    for (int64_t i = 0; i < y->shape[0]; i++)
        HB_CHECK(m->ctx, ((const int32_t *)y->data)[i] >= 0 && ((const int32_t *)y->data)[i] < f->C,
                 HB_ERANGE, "class");
    *n = (size_t)x->shape[0];
    return HB_OK;
}

static void fk_logits(const fake_model *f, const double *th, const double *x, double *z) {
    for (int64_t c = 0; c < f->C; c++) {
        z[c] = th[f->C * f->D + c];
        for (int64_t j = 0; j < f->D; j++) z[c] += th[c * f->D + j] * x[j];
    }
}

static int fk_loss_grad(hb_model *m, const hb__batch *b, double *loss, void *grad, double scale) {
    fake_model *f = m->impl;
    const double *th = m->params->data, *X = b->inputs->data;
    const int32_t *Y = b->targets->data;
    double *g = grad, z[64], l = 0;
    size_t N = b->n_samples;
    for (size_t i = 0; i < N; i++) {
        const double *x = X + i * (size_t)f->D;
        fk_logits(f, th, x, z);
        double mx = z[0], se = 0;
        for (int64_t c = 1; c < f->C; c++) mx = fmax(mx, z[c]);
        for (int64_t c = 0; c < f->C; c++) se += exp(z[c] - mx);
        l += mx + log(se) - z[Y[i]];
        if (!g) continue;
        for (int64_t c = 0; c < f->C; c++) {
            double p = exp(z[c] - mx) / se - (c == Y[i] ? 1.0 : 0.0);
            p *= scale / (double)N;
            for (int64_t j = 0; j < f->D; j++) g[c * f->D + j] += p * x[j];
            g[f->C * f->D + c] += p;
        }
    }
    *loss = l / (double)N;
    return HB_OK;
}

static int fk_hvp(hb_model *m, hb__model_task *t, const hb__batch *b, size_t k, const void *V,
                  void *OUT, double s) {
    (void)m, (void)b, (void)k, (void)V, (void)OUT, (void)s;
    return hb__fail(t->ctx, HB_EUNSUPPORTED, "fake model: no HVP");
}

static int fk_accuracy(hb_model *m, const hb__batch *b, size_t *correct, size_t *total) {
    fake_model *f = m->impl;
    double z[64];
    *correct = 0;
    for (size_t i = 0; i < b->n_samples; i++) {
        fk_logits(f, m->params->data, (const double *)b->inputs->data + i * (size_t)f->D, z);
        int64_t best = 0;
        for (int64_t c = 1; c < f->C; c++)
            if (z[c] > z[best]) best = c;
        *correct += best == ((const int32_t *)b->targets->data)[i];
    }
    *total = b->n_samples;
    return HB_OK;
}

static int fk_synthetic(hb_model *m, size_t n, uint64_t stream, uint64_t first, hb_tensor **x,
                        hb_tensor **y) {
    fake_model *f = m->impl;
    int64_t sx[2] = {(int64_t)n, f->D}, sy[1] = {(int64_t)n};
    HB_TRY(hb_tensor_create(m->ctx, HB_F64, 2, sx, x));
    int rc = hb_tensor_create(m->ctx, HB_I32, 1, sy, y);
    if (rc != HB_OK) {
        hb_tensor_free(*x);
        *x = NULL;
        return rc;
    }
    double *X = (*x)->data;
    int32_t *Y = (*y)->data;
    for (size_t i = 0; i < n; i++) {
        uint64_t idx = first + i;
        Y[i] = (int32_t)(idx % (uint64_t)f->C);
        for (int64_t j = 0; j < f->D; j++)
            X[i * (size_t)f->D + (size_t)j] = 1.5 * cos(1.0 + (double)(Y[i] * f->D + j)) +
                hb__normal((uint64_t)m->ctx->seed, stream, idx * (uint64_t)f->D + (uint64_t)j);
    }
    f->last_stream = stream;
    f->last_first = first;
    f->n_synthetic++;
    return HB_OK;
}

static void fk_destroy(hb_model *m) { hb__free(m->ctx, m->impl); }

static const hb__model_vtable fk_vtable = {
    .name = "fake", .check_batch = fk_check, .loss_grad = fk_loss_grad, .hvp_multi = fk_hvp,
    .accuracy = fk_accuracy, .synthetic = fk_synthetic, .destroy = fk_destroy,
};

/* C ≤ 64 classes, D inputs, `batch` samples per synthetic micro-batch. */
static int fake_model_create(hb_context *ctx, int64_t C, int64_t D, int64_t batch, hb_model **out) {
    *out = NULL;
    hb_params *p = NULL;
    int64_t sw[2] = {C, D}, sb[1] = {C};
    HB_TRY(hb_params_create(ctx, HB_F64, &p));
    int rc = hb_params_add_block(p, "fc.weight", HB_BLOCK_LINEAR, 2, sw, NULL);
    if (rc == HB_OK) rc = hb_params_add_block(p, "fc.bias", HB_BLOCK_BIAS, 1, sb, NULL);
    if (rc == HB_OK) rc = hb_params_finalize(p);
    if (rc == HB_OK) rc = hb_params_init_block(p, 0, HB_INIT_NORMAL, 0, 0.5);
    if (rc == HB_OK) rc = hb_params_init_block(p, 1, HB_INIT_NORMAL, 0, 0.1);
    fake_model *f = rc == HB_OK ? hb__calloc(ctx, 1, sizeof *f, "fake model") : NULL;
    if (rc == HB_OK && !f) rc = HB_ENOMEM;
    if (rc == HB_OK) rc = hb__model_new(ctx, p, &fk_vtable, out);
    if (rc != HB_OK) {
        hb__free(ctx, f);
        hb_params_free(p);
        return rc;
    }
    f->C = C;
    f->D = D;
    (*out)->impl = f;
    (*out)->default_batch = batch;
    rc = hb_model_set_synthetic(*out, 1, 0, 0);
    if (rc != HB_OK) {
        hb_model_free(*out);
        *out = NULL;
    }
    return rc;
}

#endif
