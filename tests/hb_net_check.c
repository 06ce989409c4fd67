/* The net checker (see hb_net_check.h). */
#include "hb_net_check.h"

#include <string.h>

#include "net/engine.h"

/* ---- small helpers ---- */

static double *vec(size_t n) {
    double *v = calloc(n ? n : 1, sizeof *v);
    ck_assert_ptr_nonnull(v);
    return v;
}

static double *rnd(hb_context *ctx, size_t n, uint64_t stream) {
    double *v = vec(n);
    ck_assert_int_eq(hb_random_fill_f64(ctx, stream, 0, HB_DIST_NORMAL, 0, 1, v, n), HB_OK);
    return v;
}

static double norm2(const double *a, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * a[i];
    return sqrt(s);
}

/* ‖a − b‖ / max(‖b‖, tiny) */
static double rel_err(const double *a, const double *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) d += (a[i] - b[i]) * (a[i] - b[i]);
    return sqrt(d) / fmax(norm2(b, n), 1e-300);
}

/* A (k, len) f64 tensor over caller memory. */
static hb_tensor *wrap(hb_context *ctx, double *data, size_t k, size_t len) {
    hb_tensor *t = NULL;
    int64_t sh[2] = {(int64_t)k, (int64_t)len};
    ck_assert_int_eq(hb_tensor_wrap(ctx, HB_F64, k > 1 ? 2 : 1, k > 1 ? sh : sh + 1, data, &t), HB_OK);
    return t;
}

typedef struct checker {
    hb_model *m;
    hb_context *ctx;
    hb_params *p;
    size_t n;
    double *theta; /* the model's parameters (f64) */
    const char *label;
    hb_net_check_tol tol;
} checker;

static double loss_at(checker *c) {
    double l = 0;
    int rc = hb_model_loss(c->m, &l);
    ck_assert_msg(rc == HB_OK, "%s: loss: %s", c->label, hb_context_last_error(c->ctx));
    return l;
}

static void grad_at(checker *c, double *g) {
    double l;
    int rc = hb_model_loss_grad(c->m, &l);
    ck_assert_msg(rc == HB_OK, "%s: loss_grad: %s", c->label, hb_context_last_error(c->ctx));
    memcpy(g, hb_params_grad(c->p), c->n * sizeof *g);
}

/* out (k, n) = H·V through hvp_multi (k = 1: hb_model_hvp). */
static void hvp(checker *c, const double *V, double *out, size_t k) {
    hb_tensor *tv = wrap(c->ctx, (double *)V, k, c->n), *to = wrap(c->ctx, out, k, c->n);
    int rc = k > 1 ? hb_model_hvp_multi(c->m, tv, to) : hb_model_hvp(c->m, tv, to);
    ck_assert_msg(rc == HB_OK, "%s: hvp: %s", c->label, hb_context_last_error(c->ctx));
    hb_tensor_free(tv);
    hb_tensor_free(to);
}

/* Tried in order until one agrees (hb_net_check.h): 1e-7 only matters for a sharp smooth
 * net, whose truncation error ∝ h² is still above the tolerance at 1e-6. */
static const double STEPS[4] = {1e-4, 1e-5, 1e-6, 1e-7};
enum { NSTEPS = 4 };

/* Name of the block holding parameter i. */
static const char *block_at(checker *c, size_t i) {
    for (size_t b = 0; b < hb_params_num_blocks(c->p); b++) {
        size_t off, len;
        hb_params_block_info(c->p, b, NULL, NULL, &off, &len, NULL, NULL);
        if (i >= off && i < off + len) return hb_params_block_name(c->p, b);
    }
    return "?";
}

/* ---- (a) gradient vs central differences of the loss ---- */
static void check_grad(checker *c) {
    double *g = vec(c->n);
    grad_at(c, g);
    double gmax = 0;
    for (size_t i = 0; i < c->n; i++) gmax = fmax(gmax, fabs(g[i]));
    size_t stride = c->n > 400 ? c->n / 400 + 1 : 1; /* at most ~400 coordinates */
    for (size_t i = 0; i < c->n; i += stride) {
        double best = INFINITY, t0 = c->theta[i];
        for (int s = 0; s < NSTEPS && best > c->tol.grad_fd * fmax(gmax, 1e-8); s++) {
            double h = STEPS[s] * fmax(1.0, fabs(t0));
            c->theta[i] = t0 + h;
            double lp = loss_at(c);
            c->theta[i] = t0 - h;
            double lm = loss_at(c);
            c->theta[i] = t0;
            best = fmin(best, fabs((lp - lm) / (2 * h) - g[i]));
        }
        ck_assert_msg(best <= c->tol.grad_fd * fmax(gmax, 1e-8),
                      "%s: (a) gradient element %zu (block %s) = %.12g differs from the central "
                      "difference by %.3g (max |g| %.3g)", c->label, i,
                      block_at(c, i), g[i], best, gmax);
    }
    free(g);
}

/* ---- (b) HVP vs central differences of gradients ---- */
static void check_hvp_fd(checker *c) {
    double *v = rnd(c->ctx, c->n, 0x4E45540001ull), *Hv = vec(c->n), *gp = vec(c->n),
           *gm = vec(c->n), *fd = vec(c->n), *t0 = vec(c->n);
    hvp(c, v, Hv, 1);
    memcpy(t0, c->theta, c->n * sizeof *t0);
    double best = INFINITY;
    for (int s = 0; s < NSTEPS && best > c->tol.hvp_fd; s++) {
        double h = STEPS[s];
        for (size_t i = 0; i < c->n; i++) c->theta[i] = t0[i] + h * v[i];
        grad_at(c, gp);
        for (size_t i = 0; i < c->n; i++) c->theta[i] = t0[i] - h * v[i];
        grad_at(c, gm);
        for (size_t i = 0; i < c->n; i++) fd[i] = (gp[i] - gm[i]) / (2 * h);
        best = fmin(best, rel_err(Hv, fd, c->n));
    }
    memcpy(c->theta, t0, c->n * sizeof *t0);
    ck_assert_msg(best <= c->tol.hvp_fd || norm2(Hv, c->n) < 1e-12,
                  "%s: (b) HVP differs from the central difference of gradients by %.3g (rel)",
                  c->label, best);
    free(v), free(Hv), free(gp), free(gm), free(fd), free(t0);
}

/* ---- (c) dense Hessian from hvp_multi: symmetric ---- */
static double *dense_hessian(checker *c) {
    size_t n = c->n;
    double *I = vec(n * n), *H = vec(n * n);
    for (size_t i = 0; i < n; i++) I[i * n + i] = 1;
    hvp(c, I, H, n); /* row i = H·e_i */
    double hmax = 0, asym = 0;
    for (size_t i = 0; i < n * n; i++) hmax = fmax(hmax, fabs(H[i]));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++) asym = fmax(asym, fabs(H[i * n + j] - H[j * n + i]));
    ck_assert_msg(asym <= c->tol.sym * hmax || hmax < 1e-14,
                  "%s: (c) max |H - Hᵀ| = %.3g, max |H| = %.3g", c->label, asym, hmax);
    free(I);
    return H;
}

/* ---- (d) block_hvp vs the dense Hessian's diagonal blocks ---- */
static void check_blocks(checker *c, const double *H, size_t max_chunk) {
    size_t nb = hb_params_num_blocks(c->p), k = 3;
    double hmax = 0;
    for (size_t i = 0; i < c->n * c->n; i++) hmax = fmax(hmax, fabs(H[i]));
    ck_assert_int_eq(hb__net_model_set_max_chunk(c->m, max_chunk), HB_OK);
    for (size_t b = 0; b < nb; b++) {
        size_t off, len;
        ck_assert_int_eq(hb_params_block_info(c->p, b, NULL, NULL, &off, &len, NULL, NULL), HB_OK);
        double *v = rnd(c->ctx, k * len, 0x4E45540100ull + b), *o = vec(k * len), *ref = vec(k * len);
        hb_tensor *tv = wrap(c->ctx, v, k, len), *to = wrap(c->ctx, o, k, len);
        int rc = hb_model_block_hvp(c->m, b, tv, to);
        ck_assert_msg(rc == HB_OK, "%s: block_hvp: %s", c->label, hb_context_last_error(c->ctx));
        for (size_t j = 0; j < k; j++)
            for (size_t r = 0; r < len; r++) {
                double s = 0;
                for (size_t q = 0; q < len; q++) s += H[(off + r) * c->n + off + q] * v[j * len + q];
                ref[j * len + r] = s;
            }
        double e = rel_err(o, ref, k * len), scale = c->tol.block_floor * hmax * norm2(v, k * len);
        if (norm2(ref, k * len) < scale) e *= norm2(ref, k * len) / scale;
        ck_assert_msg(e <= c->tol.exact || norm2(ref, k * len) < 1e-14,
                      "%s: (d) block_hvp of block %zu (%s), chunk cap %zu, differs from the dense "
                      "Hessian's block by %.3g (rel; block_floor %g)", c->label, b,
                      hb_params_block_name(c->p, b), max_chunk, e, c->tol.block_floor);
        hb_tensor_free(tv), hb_tensor_free(to);
        free(v), free(o), free(ref);
    }
    ck_assert_int_eq(hb__net_model_set_max_chunk(c->m, 0), HB_OK);
}

/* ---- (e) hvp_multi(k) vs k single HVPs ---- */
static void check_multi(checker *c) {
    size_t k = 5, n = c->n;
    double *V = rnd(c->ctx, k * n, 0x4E45540200ull), *M1 = vec(k * n), *M2 = vec(k * n),
           *S = vec(k * n);
    for (size_t j = 0; j < k; j++) hvp(c, V + j * n, S + j * n, 1);
    hvp(c, V, M1, k);
    ck_assert_int_eq(hb__net_model_set_max_chunk(c->m, 2), HB_OK);
    hvp(c, V, M2, k);
    ck_assert_int_eq(hb__net_model_set_max_chunk(c->m, 0), HB_OK);
    double e1 = rel_err(M1, S, k * n), e2 = rel_err(M2, S, k * n);
    bool zero = norm2(S, k * n) < 1e-14; /* a Hessian zero up to roundoff */
    ck_assert_msg((e1 <= c->tol.exact && e2 <= c->tol.exact) || zero,
                  "%s: (e) hvp_multi(%zu) differs from single HVPs by %.3g (one chunk), %.3g "
                  "(chunks of 2)", c->label, k, e1, e2);
    free(V), free(M1), free(M2), free(S);
}

/* ---- (f) two micro-batches vs one ---- */
static hb_tensor *rows(hb_context *ctx, const hb_tensor *t, int64_t first, int64_t count) {
    int nd = hb_tensor_ndim(t);
    int64_t sh[HB_MAX_DIMS];
    size_t row = hb_tensor_nbytes(t) / (size_t)hb_tensor_dim(t, 0);
    for (int d = 0; d < nd; d++) sh[d] = hb_tensor_dim(t, d);
    sh[0] = count;
    hb_tensor *o = NULL;
    ck_assert_int_eq(hb_tensor_create(ctx, hb_tensor_dtype(t), nd, sh, &o), HB_OK);
    memcpy(hb_tensor_data(o), (const char *)hb_tensor_data_const(t) + (size_t)first * row,
           (size_t)count * row);
    return o;
}

static void check_split(checker *c, const hb_tensor *x, const hb_tensor *y) {
    size_t n = c->n;
    int64_t N = hb_tensor_dim(x, 0), N1 = N / 2;
    double *v = rnd(c->ctx, n, 0x4E45540300ull), *g1 = vec(n), *g2 = vec(n), *h1 = vec(n),
           *h2 = vec(n);
    double l1 = loss_at(c);
    grad_at(c, g1);
    hvp(c, v, h1, 1);
    hb_tensor *xa = rows(c->ctx, x, 0, N1), *xb = rows(c->ctx, x, N1, N - N1);
    hb_tensor *ya = rows(c->ctx, y, 0, N1), *yb = rows(c->ctx, y, N1, N - N1);
    ck_assert_int_eq(hb_model_set_batch(c->m, xa, ya), HB_OK);
    ck_assert_int_eq(hb_model_add_batch(c->m, xb, yb), HB_OK);
    double l2 = loss_at(c);
    grad_at(c, g2);
    hvp(c, v, h2, 1);
    ck_assert_msg(fabs(l1 - l2) <= c->tol.exact * fmax(fabs(l1), 1e-300) &&
                      (rel_err(g2, g1, n) <= c->tol.exact || norm2(g1, n) < 1e-14) &&
                      (rel_err(h2, h1, n) <= c->tol.exact || norm2(h1, n) < 1e-14),
                  "%s: (f) two micro-batches differ from one: loss %.17g vs %.17g, gradient %.3g, "
                  "HVP %.3g (rel)", c->label, l2, l1, rel_err(g2, g1, n), rel_err(h2, h1, n));
    ck_assert_int_eq(hb_model_set_batch(c->m, x, y), HB_OK);
    hb_tensor_free(xa), hb_tensor_free(xb), hb_tensor_free(ya), hb_tensor_free(yb);
    free(v), free(g1), free(g2), free(h1), free(h2);
}

void hb_net_check_model(hb_model *m, const hb_tensor *inputs, const hb_tensor *targets,
                        const hb_net_check_tol *tol, const char *label) {
    checker c = {m, hb_model_context(m), hb_model_params(m), 0, NULL, label, {1e-6, 1e-6, 1e-12, 1e-11, 0}};
    if (tol) {
        if (tol->grad_fd > 0) c.tol.grad_fd = tol->grad_fd;
        if (tol->hvp_fd > 0) c.tol.hvp_fd = tol->hvp_fd;
        if (tol->sym > 0) c.tol.sym = tol->sym;
        if (tol->exact > 0) c.tol.exact = tol->exact;
        if (tol->block_floor > 0) c.tol.block_floor = tol->block_floor;
    }
    ck_assert_int_eq(hb_params_dtype(c.p), HB_F64);
    ck_assert_int_ge(hb_tensor_dim(inputs, 0), 2);
    c.n = hb_params_count(c.p);
    c.theta = hb_params_data(c.p);
    int rc = hb_model_set_batch(m, inputs, targets);
    ck_assert_msg(rc == HB_OK, "%s: set_batch: %s", label, hb_context_last_error(c.ctx));
    check_grad(&c);
    check_hvp_fd(&c);
    ck_assert_msg(c.n <= 2000, "%s: %zu parameters: too many for a dense Hessian", label, c.n);
    double *H = dense_hessian(&c);
    check_blocks(&c, H, 0);
    check_blocks(&c, H, 1);
    free(H);
    check_multi(&c);
    check_split(&c, inputs, targets);
}

/* ---- random batches ---- */

void hb_net_check_batch(const hb_net *net, size_t N, uint64_t stream, hb_tensor **inputs,
                        hb_tensor **targets) {
    hb_context *ctx = net->ctx;
    const hb__act *in = &net->acts[net->input];
    const hb__net_op *loss = &net->ops[net->loss];
    const hb__act *pred = &net->acts[loss->in[0]];
    bool mse = loss->cls == &hb__op_mse;
    int64_t sh[4] = {(int64_t)N};
    for (int d = 0; d < in->ndim; d++) sh[d + 1] = in->dims[d];
    ck_assert_int_eq(hb_tensor_create(ctx, in->tokens ? HB_I32 : HB_F64, in->ndim + 1, sh, inputs),
                     HB_OK);
    size_t nx = hb_tensor_numel(*inputs);
    double *u = vec(nx);
    ck_assert_int_eq(hb_random_fill_f64(ctx, stream, 0, in->tokens ? HB_DIST_UNIFORM : HB_DIST_NORMAL,
                                        0, in->tokens ? 1 : 1, u, nx), HB_OK);
    for (size_t i = 0; i < nx; i++)
        if (in->tokens) ((int32_t *)hb_tensor_data(*inputs))[i] = (int32_t)(u[i] * (double)in->vocab);
        else ((double *)hb_tensor_data(*inputs))[i] = u[i];
    free(u);
    int nd = mse ? pred->ndim : pred->ndim - 1;
    for (int d = 0; d < nd; d++) sh[d + 1] = pred->dims[d];
    ck_assert_int_eq(hb_tensor_create(ctx, mse ? HB_F64 : HB_I32, nd + 1, sh, targets), HB_OK);
    size_t ny = hb_tensor_numel(*targets);
    u = vec(ny);
    ck_assert_int_eq(hb_random_fill_f64(ctx, stream + 1, 0, mse ? HB_DIST_NORMAL : HB_DIST_UNIFORM,
                                        0, 1, u, ny), HB_OK);
    int64_t classes = pred->dims[pred->ndim - 1];
    for (size_t i = 0; i < ny; i++)
        if (mse) ((double *)hb_tensor_data(*targets))[i] = u[i];
        else ((int32_t *)hb_tensor_data(*targets))[i] = (int32_t)(u[i] * (double)classes);
    free(u);
}

void hb_net_check(const hb_net *net, size_t N, uint64_t stream, const char *label) {
    ck_assert_int_eq(net->dtype, HB_F64);
    hb_model *m = NULL;
    int rc = hb_model_create_net(net, &m);
    ck_assert_msg(rc == HB_OK, "%s: create: %s", label, hb_context_last_error(net->ctx));
    hb_tensor *x = NULL, *y = NULL;
    hb_net_check_batch(net, N, stream, &x, &y);
    hb_net_check_model(m, x, y, NULL, label);
    hb_tensor_free(x);
    hb_tensor_free(y);
    hb_model_free(m);
}
