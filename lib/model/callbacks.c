/* User objectives through callbacks (model.h, "User objectives"). loss_grad is required;
 * every product the caller does not give is built from those it does:
 *   hvp_multi  ← hvp per direction ← central difference of two gradients,
 *   block_hvp  ← the generic layer's zero padding (model.c) of the full product.
 * The vectors the callbacks see are in the model's compute dtype (f64, or f32 for f32 and
 * bf16 params), so the generic layer's conversions are the only ones. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"
#include "model/model_internal.h"
#include "tensor/tensor_internal.h"

/* A caller's struct_size above this is garbage, not a newer struct (Linux caps such
 * extensible structs at a page, e.g. sched_setattr). */
#define CALLBACKS_SIZE_MAX 4096

typedef struct cb_model {
    hb_model_callbacks cb;  /* the caller's, normalised: unset fields hold their defaults */
    hb__model_vtable vt;    /* the template with the entries the caller did not give NULLed */
    double fd_h;            /* relative finite-difference step h (model.h) */
    void *tmp;              /* n of the compute dtype: the gradient of loss_grad */
} cb_model;

/* The products' state, one per task (hb__model_task.impl). */
typedef struct cb_task {
    void *tmp;              /* 3n of the compute dtype: θ±εv, g+ (or g), g− */
    void *prod;             /* products of hvp_multi / block_hvp before scaling, grow-only */
    size_t prod_cap;        /* its capacity in elements */
} cb_task;

static size_t esize(const hb_model *m) { return hb_dtype_size(m->compute); }

static int callback_failed(hb_context *ctx, const char *which, int rc) {
    return hb__fail(ctx, HB_ECALLBACK, "the user's %s callback returned %d", which, rc);
}

/* Products written by the user must be finite: a NaN would silently poison a Lanczos run. */
static int check_finite(hb_model *m, hb_context *ctx, const void *x, size_t count,
                        const char *which) {
    for (size_t i = 0; i < count; i++)
        HB_CHECK(ctx, isfinite(hb__load(m->compute, x, i)), HB_ENONFINITE,
                 "the user's %s produced a non-finite value at element %zu", which, i);
    return HB_OK;
}

/* The task's state, made on its first product. */
static cb_task *task_state(hb_model *m, hb__model_task *t) {
    if (t->impl) return t->impl;
    cb_task *ts = hb__calloc(t->ctx, 1, sizeof *ts, "callback task");
    if (!ts) return NULL;
    ts->tmp = hb__calloc(t->ctx, m->params->n, 3 * esize(m), "callback model scratch");
    if (!ts->tmp) {
        hb__free(t->ctx, ts);
        return NULL;
    }
    t->impl = ts;
    return ts;
}

static void cb_task_free(hb_model *m, hb__model_task *t) {
    (void)m;
    cb_task *ts = t->impl;
    hb__free(t->ctx, ts->tmp);
    hb__free(t->ctx, ts->prod);
    hb__free(t->ctx, ts);
}

/* Scratch for `count` product elements (kept between calls: one per task). */
static void *prod_scratch(hb_model *m, hb__model_task *t, cb_task *ts, size_t count) {
    if (count > ts->prod_cap) {
        void *p = hb__calloc(t->ctx, count, esize(m), "callback products");
        if (!p) return NULL;
        hb__free(t->ctx, ts->prod);
        ts->prod = p;
        ts->prod_cap = count;
    }
    memset(ts->prod, 0, count * esize(m));
    return ts->prod;
}

static int call_loss_grad(hb_model *m, hb_context *ctx, const void *theta, double *loss,
                          void *grad) {
    cb_model *cb = m->impl;
    size_t n = m->params->n;
    memset(grad, 0, n * esize(m));
    int rc = cb->cb.loss_grad(cb->cb.user, theta, n, loss, grad);
    return rc == 0 ? HB_OK : callback_failed(ctx, "loss_grad", rc);
}

static int cb_loss_grad(hb_model *m, const hb__batch *b, double *loss, void *grad, double scale) {
    (void)b;
    cb_model *cb = m->impl;
    size_t n = m->params->n;
    void *g = cb->tmp;
    HB_TRY(call_loss_grad(m, m->ctx, hb__model_theta(m), loss, g));
    if (grad) HB_TRY(hb__axpy(m->ctx, m->compute, (int64_t)n, scale, g, 1, grad, 1));
    return HB_OK;
}

/* ---- the central difference, in the callbacks' dtype --------------------------------
 * dst = θ + ε·v rounded to the dtype; out = (g+ − g−)/(2ε), the difference formed in f64
 * (exact for f32 inputs) so the only rounding is the gradients' own and θ ± εv's. */
#define FD_KERNELS(T, suffix)                                                              \
    static double max_abs_##suffix(const T *x, size_t n) {                                 \
        double r = 0;                                                                      \
        for (size_t i = 0; i < n; i++) r = fmax(r, fabs((double)x[i]));                    \
        return r;                                                                          \
    }                                                                                      \
    static void shift_##suffix(T *dst, const T *theta, double eps, const T *v, size_t n) { \
        for (size_t i = 0; i < n; i++) dst[i] = (T)((double)theta[i] + eps * (double)v[i]); \
    }                                                                                      \
    static void central_##suffix(T *gp, const T *gm, double inv_2eps, size_t n) {          \
        for (size_t i = 0; i < n; i++) gp[i] = (T)(((double)gp[i] - (double)gm[i]) * inv_2eps); \
    }
FD_KERNELS(double, f64)
FD_KERNELS(float, f32)

static double max_abs(hb_dtype dt, const void *x, size_t n) {
    return dt == HB_F64 ? max_abs_f64(x, n) : max_abs_f32(x, n);
}

static void shift(hb_dtype dt, void *dst, const void *theta, double eps, const void *v, size_t n) {
    if (dt == HB_F64) shift_f64(dst, theta, eps, v, n);
    else shift_f32(dst, theta, eps, v, n);
}

/* out = H·v ≈ (∇L(θ+εv) − ∇L(θ−εv)) / 2ε, ε = h·(1 + ‖θ‖∞)/‖v‖∞ (model.h). out is
 * n elements of scratch distinct from tmp's first and last thirds. */
static int finite_difference(hb_model *m, hb_context *ctx, cb_task *ts, const void *theta,
                             const void *v, void *out) {
    cb_model *cb = m->impl;
    hb_dtype dt = m->compute;
    size_t n = m->params->n, es = esize(m);
    void *tp = ts->tmp, *gm = (char *)ts->tmp + 2 * n * es;
    double vmax = max_abs(dt, v, n), loss;
    if (vmax == 0) { /* H·0 = 0, no call */
        memset(out, 0, n * es);
        return HB_OK;
    }
    double eps = cb->fd_h * (1.0 + max_abs(dt, theta, n)) / vmax;
    shift(dt, tp, theta, eps, v, n);
    HB_TRY(call_loss_grad(m, ctx, tp, &loss, out));
    shift(dt, tp, theta, -eps, v, n);
    HB_TRY(call_loss_grad(m, ctx, tp, &loss, gm));
    if (dt == HB_F64) central_f64(out, gm, 0.5 / eps, n);
    else central_f32(out, gm, 0.5 / eps, n);
    return HB_OK;
}

/* ---- products ---- */

static int cb_hvp_multi(hb_model *m, hb__model_task *t, const hb__batch *b, size_t k,
                        const void *V, void *OUT, double scale) {
    (void)b;
    cb_model *cb = m->impl;
    hb_context *ctx = t->ctx;
    size_t n = m->params->n, es = esize(m);
    const void *theta = hb__model_theta(m);
    cb_task *ts = task_state(m, t);
    if (!ts) return ctx->last_status;
    if (cb->cb.hvp_multi && (k > 1 || !cb->cb.hvp)) { /* k directions in one call */
        void *R = prod_scratch(m, t, ts, k * n); /* k·n cannot overflow: the generic layer checked */
        if (!R) return ctx->last_status;
        int rc = cb->cb.hvp_multi(cb->cb.user, theta, n, k, V, R);
        if (rc != 0) return callback_failed(ctx, "hvp_multi", rc);
        HB_TRY(check_finite(m, ctx, R, k * n, "hvp_multi"));
        return hb__axpy(ctx, m->compute, (int64_t)(k * n), scale, R, 1, OUT, 1);
    }
    void *r = (char *)ts->tmp + n * es; /* one direction at a time */
    for (size_t j = 0; j < k; j++) {
        const void *v = (const char *)V + j * n * es;
        if (cb->cb.hvp) {
            memset(r, 0, n * es);
            int rc = cb->cb.hvp(cb->cb.user, theta, n, v, r);
            if (rc != 0) return callback_failed(ctx, "hvp", rc);
            HB_TRY(check_finite(m, ctx, r, n, "hvp"));
        } else {
            HB_TRY(finite_difference(m, ctx, ts, theta, v, r));
            HB_TRY(check_finite(m, ctx, r, n, "objective's finite-difference H·v"));
        }
        HB_TRY(hb__axpy(ctx, m->compute, (int64_t)n, scale, r, 1, (char *)OUT + j * n * es, 1));
    }
    return HB_OK;
}

/* Only in the vtable when the caller gave block_hvp (else model.c pads). */
static int cb_block_hvp(hb_model *m, hb__model_task *t, const hb__batch *b, size_t block,
                        size_t k, const void *V_b, void *OUT_b, double scale) {
    (void)b;
    cb_model *cb = m->impl;
    hb_context *ctx = t->ctx;
    size_t len = m->params->blocks[block].numel;
    cb_task *ts = task_state(m, t);
    void *R = ts ? prod_scratch(m, t, ts, k * len) : NULL;
    if (!R) return ctx->last_status;
    int rc = cb->cb.block_hvp(cb->cb.user, hb__model_theta(m), m->params->n, block, len, k, V_b, R);
    if (rc != 0) return callback_failed(ctx, "block_hvp", rc);
    HB_TRY(check_finite(m, ctx, R, k * len, "block_hvp"));
    return hb__axpy(ctx, m->compute, (int64_t)(k * len), scale, R, 1, OUT_b, 1);
}

/* Only in the vtable when the caller gave accuracy. */
static int cb_accuracy(hb_model *m, const hb__batch *b, size_t *correct, size_t *total) {
    (void)b;
    cb_model *cb = m->impl;
    *correct = *total = 0;
    int rc = cb->cb.accuracy(cb->cb.user, hb__model_theta(m), m->params->n, correct, total);
    if (rc != 0) return callback_failed(m->ctx, "accuracy", rc);
    HB_CHECK(m->ctx, *correct <= *total, HB_ECALLBACK,
             "the user's accuracy callback reported %zu correct of %zu", *correct, *total);
    return HB_OK;
}

static void free_impl(hb_context *ctx, cb_model *cb) {
    hb__free(ctx, cb->tmp);
    hb__free(ctx, cb);
}

static void cb_destroy(hb_model *m) {
    cb_model *cb = m->impl;
    if (!cb) return;
    if (cb->cb.destroy) cb->cb.destroy(cb->cb.user);
    free_impl(m->ctx, cb); /* m->vt points into cb: nothing reads it after destroy */
}

static const hb__model_vtable cb_vtable = {
    .name = "callbacks",
    .loss_grad = cb_loss_grad,
    .hvp_multi = cb_hvp_multi,
    .block_hvp = cb_block_hvp,
    .accuracy = cb_accuracy,
    .task_free = cb_task_free,
    .destroy = cb_destroy,
};

/* ---- the versioned struct ---------------------------------------------------------- */

#define FIELD_END(f) (offsetof(hb_model_callbacks, f) + sizeof(((hb_model_callbacks *)0)->f))

/* Copy the caller's struct into *c: the fields that lie wholly within its struct_size,
 * zero (the defaults) for the rest; a longer struct only when its extra bytes are zero. */
static int read_callbacks(hb_context *ctx, const hb_model_callbacks *in, hb_model_callbacks *c) {
    memset(c, 0, sizeof *c);
    size_t size = in->struct_size;
    HB_CHECK(ctx, size >= HB_MODEL_CALLBACKS_SIZE_MIN && size <= CALLBACKS_SIZE_MAX, HB_EINVAL,
             "hb_model_callbacks.struct_size is %zu: it must be sizeof(hb_model_callbacks) "
             "(%zu here), at least %zu and at most %d",
             size, sizeof *c, (size_t)HB_MODEL_CALLBACKS_SIZE_MIN, CALLBACKS_SIZE_MAX);
    if (size > sizeof *c) {
        const unsigned char *extra = (const unsigned char *)in;
        for (size_t i = sizeof *c; i < size; i++)
            HB_CHECK(ctx, extra[i] == 0, HB_EUNSUPPORTED,
                     "hb_model_callbacks has %zu bytes, this library knows %zu, and byte %zu "
                     "is set: a feature newer than this library was asked for",
                     size, sizeof *c, i);
    }
#define TAKE(f) \
    if (FIELD_END(f) <= size) c->f = in->f
    TAKE(dtype);
    TAKE(user);
    TAKE(loss_grad);
    TAKE(hvp);
    TAKE(hvp_multi);
    TAKE(block_hvp);
    TAKE(accuracy);
    TAKE(destroy);
    TAKE(fd_step);
    TAKE(thread_safe);
#undef TAKE
    c->struct_size = sizeof *c;
    if (c->dtype == 0) c->dtype = HB_F64;
    return HB_OK;
}

static int check_args(hb_context *ctx, const hb_params *params, const hb_model_callbacks *c) {
    HB_CHECK(ctx, c->loss_grad != NULL, HB_EINVAL, "the loss_grad callback is required");
    HB_CHECK(ctx, isfinite(c->fd_step) && c->fd_step >= 0, HB_EINVAL,
             "fd_step must be finite and >= 0 (0: the default), got %g", c->fd_step);
    HB_CHECK(ctx, c->thread_safe == 0 || c->thread_safe == 1, HB_EINVAL,
             "thread_safe must be 0 or 1, got %d", c->thread_safe);
    HB_CHECK(ctx, c->dtype == HB_F64 || c->dtype == HB_F32, HB_EDTYPE,
             "callbacks see f64 (%d) or f32 (%d) vectors, dtype %d asked for", (int)HB_F64,
             (int)HB_F32, c->dtype);
    HB_CHECK(ctx, params->ctx == ctx, HB_EINVAL, "params belong to another context");
    hb_dtype compute = params->dtype == HB_BF16 ? HB_F32 : params->dtype;
    HB_CHECK(ctx, c->dtype == (int)compute, HB_EDTYPE,
             "callbacks of dtype %s need params of the same compute dtype (%s%s), the params "
             "are %s", c->dtype == HB_F64 ? "f64" : "f32", c->dtype == HB_F64 ? "f64" : "f32",
             c->dtype == HB_F64 ? "" : " or bf16",
             params->dtype == HB_F64 ? "f64" : params->dtype == HB_F32 ? "f32" : "bf16");
    HB_CHECK(ctx, params->finalized, HB_ESTATE, "params must be finalised");
    return HB_OK;
}

int hb_model_create_callbacks_ex(hb_context *ctx, hb_params *params, const hb_model_callbacks *cbs,
                                 hb_model **out) {
    if (out) *out = NULL;
    if (!ctx) return HB_EINVAL;
    HB_CHECK(ctx, out != NULL && params != NULL && cbs != NULL, HB_EINVAL,
             "params, callbacks and out are required");
    hb_model_callbacks c;
    HB_TRY(read_callbacks(ctx, cbs, &c));
    HB_TRY(check_args(ctx, params, &c));
    size_t es = hb_dtype_size(c.dtype == HB_F64 ? HB_F64 : HB_F32);
    cb_model *cb = hb__calloc(ctx, 1, sizeof *cb, "callback model");
    if (!cb) return HB_ENOMEM;
    cb->tmp = hb__calloc(ctx, params->n, es, "callback model gradient");
    if (!cb->tmp) {
        free_impl(ctx, cb);
        return HB_ENOMEM;
    }
    cb->cb = c;
    cb->fd_h = c.fd_step > 0 ? c.fd_step : cbrt(c.dtype == HB_F64 ? DBL_EPSILON : FLT_EPSILON);
    cb->vt = cb_vtable;
    if (!c.block_hvp) cb->vt.block_hvp = NULL;
    if (!c.accuracy) cb->vt.accuracy = NULL;
    int rc = hb__model_new(ctx, params, &cb->vt, out);
    if (rc != HB_OK) {
        free_impl(ctx, cb);
        return rc;
    }
    (*out)->impl = cb;
    (*out)->exact_hvp = c.hvp != NULL || c.hvp_multi != NULL;
    (*out)->concurrent_hvp = c.thread_safe != 0; /* the caller's word: else products run serially */
    (*out)->kind = 0;
    return HB_OK;
}

/* ---- the first release's f64 interface, on top of the struct ------------------------
 * A small adapter owns the caller's two f64 callbacks: calling them through the
 * void-pointer types directly would be a call through an incompatible function type. */
typedef struct legacy_callbacks {
    hb_context *ctx;
    hb_loss_grad_fn loss_grad;
    hb_hvp_fn hvp;
    void *user;
} legacy_callbacks;

static int legacy_loss_grad(void *user, const void *theta, size_t n, double *loss, void *grad) {
    legacy_callbacks *l = user;
    return l->loss_grad(l->user, theta, n, loss, grad);
}

static int legacy_hvp(void *user, const void *theta, size_t n, const void *v, void *out) {
    legacy_callbacks *l = user;
    return l->hvp(l->user, theta, n, v, out);
}

static void legacy_destroy(void *user) {
    legacy_callbacks *l = user;
    hb__free(l->ctx, l);
}

int hb_model_create_callbacks(hb_context *ctx, hb_params *params, hb_loss_grad_fn loss_grad,
                              hb_hvp_fn hvp, void *user, hb_model **out) {
    if (out) *out = NULL;
    if (!ctx) return HB_EINVAL;
    HB_CHECK(ctx, out != NULL && params != NULL && loss_grad != NULL, HB_EINVAL,
             "params, loss_grad and out are required");
    HB_CHECK(ctx, params->dtype == HB_F64, HB_EDTYPE,
             "hb_model_create_callbacks needs f64 params (hb_model_create_callbacks_ex "
             "takes f32 callbacks for f32 and bf16 params)");
    legacy_callbacks *l = hb__calloc(ctx, 1, sizeof *l, "callback adapter");
    if (!l) return HB_ENOMEM;
    *l = (legacy_callbacks){ctx, loss_grad, hvp, user};
    hb_model_callbacks c = HB_MODEL_CALLBACKS_INIT;
    c.user = l;
    c.loss_grad = legacy_loss_grad;
    c.hvp = hvp ? legacy_hvp : NULL;
    c.destroy = legacy_destroy;
    int rc = hb_model_create_callbacks_ex(ctx, params, &c, out);
    if (rc != HB_OK) hb__free(ctx, l);
    return rc;
}
