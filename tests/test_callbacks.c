/* Callback models through the versioned struct (hb_model_create_callbacks_ex, issue 14.3)
 * on a known objective over n = 7 parameters in two blocks (a: 3, b: 2×2):
 *   L(θ) = ½θᵀAθ − bᵀθ + c·Σθ_i⁴/4 + e·Σexp(θ_i),   A symmetric,
 *   ∇L = Aθ − b + c·θ³ + e·exp(θ),   H = A + diag(3c·θ² + e·exp(θ))   (exact, in f64).
 * c = e = 0 is a quadratic. The same callbacks serve f64 and f32 vectors (dtype field). */
#include <float.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "hb_test.h"

enum { N = 7 };
static const size_t block_off[2] = {0, 3}, block_len[2] = {3, 4};

typedef struct obj {
    int dtype; /* of the vectors the callbacks see */
    double A[N * N], b[N], c, e;
    int fail_lg, fail_hvp, fail_multi, fail_block, fail_acc; /* nonzero: returned */
    int nan_hvp;                                             /* write a NaN into H·v */
    size_t correct, total;                                   /* what accuracy reports */
    int calls_lg, calls_hvp, calls_multi, calls_block, calls_acc, destroyed;
    size_t last_k;
} obj;

static double ld(const obj *o, const void *x, size_t i) {
    return o->dtype == HB_F32 ? (double)((const float *)x)[i] : ((const double *)x)[i];
}

static void st(const obj *o, void *x, size_t i, double value) {
    if (o->dtype == HB_F32) ((float *)x)[i] = (float)value;
    else ((double *)x)[i] = value;
}

/* The dense H(θ) in f64, θ given in the callbacks' dtype. */
static void dense_H(const obj *o, const void *theta, double *H) {
    for (int i = 0; i < N; i++) {
        double t = ld(o, theta, (size_t)i);
        for (int j = 0; j < N; j++) H[i * N + j] = o->A[i * N + j];
        H[i * N + i] += 3 * o->c * t * t + o->e * exp(t);
    }
}

static int o_loss_grad(void *user, const void *theta, size_t n, double *loss, void *grad) {
    obj *o = user;
    o->calls_lg++;
    if (o->fail_lg) return o->fail_lg;
    double l = 0;
    for (size_t i = 0; i < n; i++) {
        double ai = 0, t = ld(o, theta, i);
        for (size_t j = 0; j < n; j++) ai += o->A[i * n + j] * ld(o, theta, j);
        l += 0.5 * t * ai - o->b[i] * t + o->c * pow(t, 4) / 4 + o->e * exp(t);
        st(o, grad, i, ai - o->b[i] + o->c * pow(t, 3) + o->e * exp(t));
    }
    *loss = l;
    return 0;
}

/* OUT_rows = H[rows, cols]·V for k directions over a column range (the full H: 0, N). */
static void apply(const obj *o, const void *theta, size_t off, size_t len, size_t k, const void *V,
                  void *OUT) {
    double H[N * N];
    dense_H(o, theta, H);
    for (size_t j = 0; j < k; j++)
        for (size_t r = 0; r < len; r++) {
            double s = 0;
            for (size_t c = 0; c < len; c++) s += H[(off + r) * N + off + c] * ld(o, V, j * len + c);
            st(o, OUT, j * len + r, s);
        }
}

static int o_hvp(void *user, const void *theta, size_t n, const void *v, void *out) {
    obj *o = user;
    o->calls_hvp++;
    if (o->fail_hvp) return o->fail_hvp;
    apply(o, theta, 0, n, 1, v, out);
    if (o->nan_hvp) st(o, out, 2, NAN);
    return 0;
}

static int o_hvp_multi(void *user, const void *theta, size_t n, size_t k, const void *V, void *OUT) {
    obj *o = user;
    o->calls_multi++;
    o->last_k = k;
    if (o->fail_multi) return o->fail_multi;
    apply(o, theta, 0, n, k, V, OUT);
    return 0;
}

static int o_block_hvp(void *user, const void *theta, size_t n, size_t block, size_t len, size_t k,
                       const void *V_b, void *OUT_b) {
    obj *o = user;
    o->calls_block++;
    o->last_k = k;
    if (o->fail_block) return o->fail_block;
    if (n != N || block > 1 || len != block_len[block]) return -99;
    apply(o, theta, block_off[block], len, k, V_b, OUT_b);
    return 0;
}

static int o_accuracy(void *user, const void *theta, size_t n, size_t *correct, size_t *total) {
    obj *o = user;
    (void)theta;
    (void)n;
    o->calls_acc++;
    if (o->fail_acc) return o->fail_acc;
    *correct = o->correct;
    *total = o->total;
    return 0;
}

static void o_destroy(void *user) { ((obj *)user)->destroyed++; }

static void make_obj(obj *o, int dtype, double c, double e) {
    memset(o, 0, sizeof *o);
    o->dtype = dtype;
    for (int i = 0; i < N; i++) {
        o->b[i] = cos(i + 1.0);
        for (int j = 0; j <= i; j++) o->A[i * N + j] = o->A[j * N + i] = sin(1.0 + i * N + j);
        o->A[i * N + i] += 4;
    }
    o->c = c;
    o->e = e;
    o->correct = 3;
    o->total = 4;
}

/* Two blocks (3) and (2, 2) of `dtype`, θ_i = 0.8·sin(3i + 1) (|θ| < 1). */
static hb_params *make_params(hb_context *ctx, hb_dtype dtype) {
    hb_params *p = NULL;
    int64_t s1[1] = {3}, s2[2] = {2, 2};
    ck_assert_int_eq(hb_params_create(ctx, dtype, &p), HB_OK);
    ck_assert_int_eq(hb_params_add_block(p, "a", HB_BLOCK_OTHER, 1, s1, NULL), HB_OK);
    ck_assert_int_eq(hb_params_add_block(p, "b", HB_BLOCK_OTHER, 2, s2, NULL), HB_OK);
    ck_assert_int_eq(hb_params_finalize(p), HB_OK);
    hb_tensor *flat = NULL;
    ck_assert_int_eq(hb_params_flat_view(p, &flat), HB_OK);
    for (size_t i = 0; i < N; i++) ck_assert_int_eq(hb_tensor_set_f64(flat, i, 0.8 * sin(3.0 * i + 1)), HB_OK);
    hb_tensor_free(flat);
    return p;
}

static hb_model_callbacks all_callbacks(obj *o) {
    hb_model_callbacks c = HB_MODEL_CALLBACKS_INIT;
    c.dtype = o->dtype;
    c.user = o;
    c.loss_grad = o_loss_grad;
    return c;
}

static hb_model *create(hb_context *ctx, hb_dtype pdtype, const hb_model_callbacks *c) {
    hb_params *p = make_params(ctx, pdtype);
    hb_model *m = NULL;
    int rc = hb_model_create_callbacks_ex(ctx, p, c, &m);
    ck_assert_msg(rc == HB_OK, "create: %d %s", rc, hb_context_last_error(ctx));
    return m;
}

/* A (k, len) tensor (k = 0: 1-d, len) of dtype dt with entries f(j, i) = cos(1.7·(j·len+i)+j). */
static hb_tensor *directions(hb_context *ctx, hb_dtype dt, int64_t k, int64_t len) {
    hb_tensor *t = NULL;
    int64_t s2[2] = {k, len}, s1[1] = {len};
    ck_assert_int_eq(k ? hb_tensor_create(ctx, dt, 2, s2, &t) : hb_tensor_create(ctx, dt, 1, s1, &t), HB_OK);
    for (size_t i = 0; i < hb_tensor_numel(t); i++)
        ck_assert_int_eq(hb_tensor_set_f64(t, i, cos(1.7 * (double)i + (double)(i / (size_t)len))), HB_OK);
    return t;
}

static hb_tensor *like(hb_context *ctx, const hb_tensor *v, hb_dtype dt) {
    hb_tensor *t = NULL;
    int64_t s[4];
    for (int d = 0; d < hb_tensor_ndim(v); d++) s[d] = hb_tensor_dim(v, d);
    ck_assert_int_eq(hb_tensor_create(ctx, dt, hb_tensor_ndim(v), s, &t), HB_OK);
    ck_assert_int_eq(hb_tensor_fill(t, 0.0), HB_OK);
    return t;
}

static double at(const hb_tensor *t, size_t i) {
    double x;
    ck_assert_int_eq(hb_tensor_get_f64(t, i, &x), HB_OK);
    return x;
}

/* max |OUT − H_sub·V| / max |H_sub·V| with H in f64 at the model's θ (read as f64). */
static double rel_err_vs_dense(hb_model *m, const obj *o, size_t off, size_t len,
                               const hb_tensor *V, const hb_tensor *OUT) {
    hb_params *p = hb_model_params(m);
    hb_tensor *flat = NULL;
    ck_assert_int_eq(hb_params_flat_view(p, &flat), HB_OK);
    double theta[N], H[N * N];
    for (size_t i = 0; i < N; i++) theta[i] = at(flat, i);
    hb_tensor_free(flat);
    obj o64 = *o;
    o64.dtype = HB_F64;
    dense_H(&o64, theta, H);
    size_t k = hb_tensor_numel(V) / len;
    double err = 0, scale = 0;
    for (size_t j = 0; j < k; j++)
        for (size_t r = 0; r < len; r++) {
            double s = 0;
            for (size_t c = 0; c < len; c++) s += H[(off + r) * N + off + c] * at(V, j * len + c);
            err = fmax(err, fabs(at(OUT, j * len + r) - s));
            scale = fmax(scale, fabs(s));
        }
    return err / scale;
}

/* ---- every product, whatever the caller gives ------------------------------------------ */

/* Which callbacks a configuration gives: bit 0 hvp, 1 hvp_multi, 2 block_hvp. */
static hb_model_callbacks config(obj *o, int bits) {
    hb_model_callbacks c = all_callbacks(o);
    if (bits & 1) c.hvp = o_hvp;
    if (bits & 2) c.hvp_multi = o_hvp_multi;
    if (bits & 4) c.block_hvp = o_block_hvp;
    return c;
}

START_TEST(test_every_subset_gives_every_product) {
    /* f64 and f32 callbacks, every subset of {hvp, hvp_multi, block_hvp}: hvp, hvp_multi
     * and block_hvp of the model equal the dense H (exact paths to rounding, finite
     * differences to their documented u^(2/3) accuracy, with slack for the scale). */
    hb_context *ctx = hb_test_context(1, 3);
    for (int dt = HB_F32; dt <= HB_F64; dt++) {
        double u = dt == HB_F64 ? DBL_EPSILON : FLT_EPSILON;
        for (int bits = 0; bits < 8; bits++) {
            obj o;
            make_obj(&o, dt, 0.3, 0.2);
            hb_model_callbacks c = config(&o, bits);
            hb_model *m = create(ctx, (hb_dtype)dt, &c);
            bool exact = (bits & 3) != 0;
            ck_assert_int_eq(hb_model_has_exact_hvp(m), exact);
            double tol = exact ? 20 * u : 100 * pow(u, 2.0 / 3.0);
            /* one direction, three, and three of each block (f64 tensors in and out) */
            hb_tensor *v = directions(ctx, HB_F64, 0, N), *V = directions(ctx, HB_F64, 3, N);
            hb_tensor *out = like(ctx, v, HB_F64), *OUT = like(ctx, V, HB_F64);
            ck_assert_int_eq(hb_model_hvp(m, v, out), HB_OK);
            ck_assert_double_le(rel_err_vs_dense(m, &o, 0, N, v, out), tol);
            ck_assert_int_eq(hb_model_hvp_multi(m, V, OUT), HB_OK);
            ck_assert_double_le(rel_err_vs_dense(m, &o, 0, N, V, OUT), tol);
            /* the batched callback is called once for all k directions; one direction
             * goes to hvp where given */
            if (bits & 2) ck_assert(o.calls_multi == ((bits & 1) ? 1 : 2) && o.last_k == 3);
            if ((bits & 3) == 3) ck_assert_int_eq(o.calls_hvp, 1);
            if (bits == 1) ck_assert_int_eq(o.calls_hvp, 4); /* 1 + 3 single calls */
            if (!exact) ck_assert_int_eq(o.calls_lg, 2 * 4);  /* two gradients a direction */
            for (size_t b = 0; b < 2; b++) {
                int calls_before = o.calls_block;
                hb_tensor *Vb = directions(ctx, HB_F64, 3, (int64_t)block_len[b]);
                hb_tensor *Ob = like(ctx, Vb, HB_F64);
                ck_assert_int_eq(hb_model_block_hvp(m, b, Vb, Ob), HB_OK);
                double btol = (bits & 4) ? 20 * u : tol;
                ck_assert_double_le(rel_err_vs_dense(m, &o, block_off[b], block_len[b], Vb, Ob), btol);
                ck_assert_int_eq(o.calls_block - calls_before, (bits & 4) ? 1 : 0);
                hb_tensor_free(Vb);
                hb_tensor_free(Ob);
            }
            hb_tensor_free(v);
            hb_tensor_free(V);
            hb_tensor_free(out);
            hb_tensor_free(OUT);
            hb_model_free(m);
        }
    }
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_f32_callbacks_match_f64) {
    /* The same objective through f32 and f64 callbacks (f32 params: the callbacks see the
     * params' f32 buffer): loss, gradient, hvp and hvp_multi agree to f32 accuracy. bf16
     * params give the f32 callbacks their f32 copy of θ. */
    hb_context *ctx = hb_test_context(1, 4);
    obj o32, o64, o16;
    make_obj(&o32, HB_F32, 0.3, 0.2);
    make_obj(&o64, HB_F64, 0.3, 0.2);
    make_obj(&o16, HB_F32, 0.3, 0.2);
    hb_model_callbacks c32 = config(&o32, 3), c64 = config(&o64, 3), c16 = config(&o16, 3);
    hb_model *m32 = create(ctx, HB_F32, &c32), *m64 = create(ctx, HB_F64, &c64);
    hb_model *m16 = create(ctx, HB_BF16, &c16);
    ck_assert_int_eq(hb_params_grad_dtype(hb_model_params(m32)), HB_F32);
    double l32, l64, l16;
    ck_assert_int_eq(hb_model_loss_grad(m32, &l32), HB_OK);
    ck_assert_int_eq(hb_model_loss_grad(m64, &l64), HB_OK);
    ck_assert_int_eq(hb_model_loss_grad(m16, &l16), HB_OK);
    HB_ASSERT_CLOSE(l32, l64, 1e-6);
    HB_ASSERT_CLOSE(l16, l64, 2e-2); /* θ rounded to bf16 (8 bits) */
    const float *g32 = hb_params_grad(hb_model_params(m32));
    const double *g64 = hb_params_grad(hb_model_params(m64));
    for (int i = 0; i < N; i++) HB_ASSERT_CLOSE(g32[i], g64[i], 1e-5);
    hb_tensor *V = directions(ctx, HB_F64, 2, N);
    hb_tensor *O32 = like(ctx, V, HB_F64), *O64 = like(ctx, V, HB_F64), *O16 = like(ctx, V, HB_F32);
    ck_assert_int_eq(hb_model_hvp_multi(m32, V, O32), HB_OK);
    ck_assert_int_eq(hb_model_hvp_multi(m64, V, O64), HB_OK);
    ck_assert_int_eq(hb_model_hvp_multi(m16, V, O16), HB_OK);
    for (size_t i = 0; i < 2 * N; i++) HB_ASSERT_CLOSE(at(O32, i), at(O64, i), 1e-5);
    /* the bf16 model's products are exact at its own (rounded) θ */
    ck_assert_double_le(rel_err_vs_dense(m16, &o16, 0, N, V, O16), 20 * FLT_EPSILON);
    hb_tensor_free(V);
    hb_tensor_free(O32);
    hb_tensor_free(O64);
    hb_tensor_free(O16);
    hb_model_free(m32);
    hb_model_free(m64);
    hb_model_free(m16);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_accuracy_and_destroy) {
    hb_context *ctx = hb_test_context(1, 5);
    obj o;
    make_obj(&o, HB_F64, 0, 0);
    hb_model_callbacks c = all_callbacks(&o);
    c.destroy = o_destroy;
    hb_model *m = create(ctx, HB_F64, &c);
    double acc;
    ck_assert_int_eq(hb_model_accuracy(m, &acc), HB_EUNSUPPORTED); /* none given */
    hb_model_free(m);
    ck_assert_int_eq(o.destroyed, 1);
    c.accuracy = o_accuracy;
    m = create(ctx, HB_F64, &c);
    ck_assert_int_eq(hb_model_accuracy(m, &acc), HB_OK);
    ck_assert(acc == 0.75);
    o.total = 0, o.correct = 0;
    ck_assert_int_eq(hb_model_accuracy(m, &acc), HB_OK);
    ck_assert(acc == 0.0);
    o.correct = 5; /* more correct than predictions: the callback is wrong */
    ck_assert_int_eq(hb_model_accuracy(m, &acc), HB_ECALLBACK);
    o.fail_acc = 9;
    ck_assert_int_eq(hb_model_accuracy(m, &acc), HB_ECALLBACK);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "accuracy callback returned 9"));
    ck_assert_int_eq(o.destroyed, 1);
    hb_model_free(m);
    ck_assert_int_eq(o.destroyed, 2);
    hb_context_free(ctx);
}
END_TEST

/* ---- the finite-difference step ------------------------------------------------------ */

/* Relative error (∞-norm) of the model's H·v against the exact product, v = directions. */
static double fd_error(hb_context *ctx, obj *o, double fd_step) {
    hb_model_callbacks c = all_callbacks(o); /* no hvp: finite differences */
    c.fd_step = fd_step;
    hb_model *m = create(ctx, (hb_dtype)o->dtype, &c);
    ck_assert_int_eq(hb_model_has_exact_hvp(m), 0);
    hb_tensor *v = directions(ctx, HB_F64, 0, N), *out = like(ctx, v, HB_F64);
    ck_assert_int_eq(hb_model_hvp(m, v, out), HB_OK);
    double e = rel_err_vs_dense(m, o, 0, N, v, out);
    hb_tensor_free(v);
    hb_tensor_free(out);
    hb_model_free(m);
    return e;
}

START_TEST(test_fd_default_step_accuracy) {
    /* The error model of model.h: relative error ≈ h²/6·(third-derivative scale) +
     * u/h·(gradient and θ scale) with h = ∛u, so ≈ u^(2/3) (4e-11 f64, 2.4e-5 f32).
     * Here ‖θ‖∞ < 1, H's entries are O(1) to O(5), the third derivatives (6cθ + e·exp θ)
     * O(1): the prediction is C·u^(2/3) with C of a few units; 10 is the bound.
     * Quadratic (c = e = 0): no truncation, rounding only. Non-quadratic: both, and the
     * default is near the optimum: 100× larger or smaller steps are each worse. */
    hb_context *ctx = hb_test_context(1, 6);
    for (int dt = HB_F32; dt <= HB_F64; dt++) {
        double u = dt == HB_F64 ? DBL_EPSILON : FLT_EPSILON, h = cbrt(u);
        double bound = 10 * pow(u, 2.0 / 3.0);
        obj quad, cubic;
        make_obj(&quad, dt, 0, 0);
        make_obj(&cubic, dt, 0.3, 0.2);
        double eq = fd_error(ctx, &quad, 0), ec = fd_error(ctx, &cubic, 0);
        ck_assert_msg(eq <= bound, "%s quadratic: %g > %g", dt == HB_F64 ? "f64" : "f32", eq, bound);
        ck_assert_msg(ec <= bound, "%s non-quadratic: %g > %g", dt == HB_F64 ? "f64" : "f32", ec, bound);
        ck_assert(fd_error(ctx, &cubic, 0) == fd_error(ctx, &cubic, h)); /* 0 means ∛u */
        double big = fd_error(ctx, &cubic, 100 * h), small = fd_error(ctx, &cubic, h / 100);
        ck_assert_msg(big > 10 * ec && small > 10 * ec, "%s: errors %g (100h), %g (h), %g (h/100)",
                      dt == HB_F64 ? "f64" : "f32", big, ec, small);
    }
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_fd_step_is_the_documented_one) {
    /* A separable exponential L = e·Σexp(θ_i) has the central difference in closed form:
     * (g_i(θ+εv) − g_i(θ−εv))/2ε = e·exp(θ_i)·v_i·sinh(εv_i)/(εv_i), so with a large set
     * step (truncation ≫ rounding) the result pins ε = h·(1 + ‖θ‖∞)/‖v‖∞ exactly. */
    hb_context *ctx = hb_test_context(1, 7);
    obj o;
    make_obj(&o, HB_F64, 0, 1.0);
    memset(o.A, 0, sizeof o.A);
    memset(o.b, 0, sizeof o.b);
    double h = 0.05;
    hb_model_callbacks c = all_callbacks(&o);
    c.fd_step = h;
    hb_model *m = create(ctx, HB_F64, &c);
    hb_tensor *v = directions(ctx, HB_F64, 0, N), *out = like(ctx, v, HB_F64);
    ck_assert_int_eq(hb_tensor_set_f64(v, 1, 3.0), HB_OK); /* ‖v‖∞ = 3 */
    for (int scale = 0; scale < 2; scale++) {                /* and v scaled by 1e3 */
        ck_assert_int_eq(hb_model_hvp(m, v, out), HB_OK);
        const double *th = hb_params_data(hb_model_params(m));
        double tmax = 0, vmax = 0;
        for (size_t i = 0; i < N; i++) tmax = fmax(tmax, fabs(th[i])), vmax = fmax(vmax, fabs(at(v, i)));
        double eps = h * (1 + tmax) / vmax;
        for (size_t i = 0; i < N; i++) {
            double vi = at(v, i), x = eps * vi;
            double want = exp(th[i]) * vi * (x == 0 ? 1 : sinh(x) / x);
            HB_ASSERT_CLOSE(at(out, i), want, 1e-9);
        }
        /* the largest |v_i| moves θ_i by h·(1 + ‖θ‖∞): truncation ≈ x²/6 ≫ 1e-9 shows */
        double x1 = h * (1 + tmax);
        ck_assert(fabs(at(out, 1) / (exp(th[1]) * at(v, 1)) - 1) > 0.5 * x1 * x1 / 6);
        for (size_t i = 0; i < N; i++) ck_assert_int_eq(hb_tensor_set_f64(v, i, 1e3 * at(v, i)), HB_OK);
    }
    /* v = 0: H·0 = 0 without a gradient call */
    int before = o.calls_lg;
    ck_assert_int_eq(hb_tensor_fill(v, 0.0), HB_OK);
    ck_assert_int_eq(hb_tensor_fill(out, 5.0), HB_OK);
    ck_assert_int_eq(hb_model_hvp(m, v, out), HB_OK);
    ck_assert_int_eq(o.calls_lg, before);
    for (size_t i = 0; i < N; i++) ck_assert(at(out, i) == 0.0);
    hb_tensor_free(v);
    hb_tensor_free(out);
    hb_model_free(m);
    hb_context_free(ctx);
}
END_TEST

/* ---- struct_size: older and newer callers ----------------------------------------------- */

START_TEST(test_older_shorter_struct) {
    /* A caller compiled when the struct ended before hvp_multi: the fields past its
     * struct_size are never read, whatever the memory there holds (here: callbacks that
     * fail and a negative fd_step, which would be refused if read). */
    hb_context *ctx = hb_test_context(1, 8);
    obj o;
    make_obj(&o, HB_F64, 0.3, 0.2);
    hb_model_callbacks c = config(&o, 7);
    c.accuracy = o_accuracy;
    c.destroy = o_destroy;
    c.fd_step = -1;
    o.fail_multi = o.fail_block = o.fail_acc = 5;
    c.struct_size = offsetof(hb_model_callbacks, hvp_multi);
    hb_model *m = create(ctx, HB_F64, &c);
    ck_assert_int_eq(hb_model_has_exact_hvp(m), 1);
    hb_tensor *V = directions(ctx, HB_F64, 2, N), *OUT = like(ctx, V, HB_F64);
    ck_assert_int_eq(hb_model_hvp_multi(m, V, OUT), HB_OK); /* through hvp, twice */
    ck_assert_int_eq(o.calls_hvp, 2);
    ck_assert_int_eq(o.calls_multi, 0);
    hb_tensor *Vb = directions(ctx, HB_F64, 0, 4), *Ob = like(ctx, Vb, HB_F64);
    ck_assert_int_eq(hb_model_block_hvp(m, 1, Vb, Ob), HB_OK); /* padded */
    ck_assert_int_eq(o.calls_block, 0);
    ck_assert_double_le(rel_err_vs_dense(m, &o, 3, 4, Vb, Ob), 20 * DBL_EPSILON);
    double acc;
    ck_assert_int_eq(hb_model_accuracy(m, &acc), HB_EUNSUPPORTED);
    hb_model_free(m);
    ck_assert_int_eq(o.destroyed, 0); /* destroy lay beyond the struct */
    /* the smallest struct: dtype, user, loss_grad; a size inside a field drops that field */
    c.struct_size = HB_MODEL_CALLBACKS_SIZE_MIN;
    m = create(ctx, HB_F64, &c);
    ck_assert_int_eq(hb_model_has_exact_hvp(m), 0);
    ck_assert_int_eq(hb_model_hvp_multi(m, V, OUT), HB_OK);
    ck_assert_double_le(rel_err_vs_dense(m, &o, 0, N, V, OUT), 10 * pow(DBL_EPSILON, 2.0 / 3.0));
    hb_model_free(m);
    c.struct_size = offsetof(hb_model_callbacks, hvp_multi) + 4; /* half of hvp_multi */
    m = create(ctx, HB_F64, &c);
    ck_assert_int_eq(hb_model_hvp_multi(m, V, OUT), HB_OK);
    hb_model_free(m);
    hb_tensor_free(V);
    hb_tensor_free(OUT);
    hb_tensor_free(Vb);
    hb_tensor_free(Ob);
    hb_context_free(ctx);
}
END_TEST

/* A caller compiled against a newer header: the struct this library knows, then more. */
typedef struct newer_callbacks {
    hb_model_callbacks known;
    double future_option;
    void *future_callback;
} newer_callbacks;

START_TEST(test_newer_longer_struct) {
    hb_context *ctx = hb_test_context(1, 9);
    obj o;
    make_obj(&o, HB_F64, 0, 0);
    newer_callbacks nc;
    memset(&nc, 0, sizeof nc);
    nc.known = config(&o, 1);
    nc.known.struct_size = sizeof nc;
    hb_model *m = create(ctx, HB_F64, &nc.known); /* the newer fields unused: accepted */
    ck_assert_int_eq(hb_model_has_exact_hvp(m), 1);
    hb_model_free(m);
    nc.future_option = 0.5; /* a newer feature asked for: refused, nothing taken */
    hb_params *p = make_params(ctx, HB_F64);
    ck_assert_int_eq(hb_model_create_callbacks_ex(ctx, p, &nc.known, &m), HB_EUNSUPPORTED);
    ck_assert_ptr_null(m);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "newer than this library"));
    nc.future_option = 0;
    nc.future_callback = &nc;
    ck_assert_int_eq(hb_model_create_callbacks_ex(ctx, p, &nc.known, &m), HB_EUNSUPPORTED);
    /* sizes that are no struct at all */
    nc.future_callback = NULL;
    size_t bad[] = {0, 1, HB_MODEL_CALLBACKS_SIZE_MIN - 1, 4097, (size_t)-1};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        nc.known.struct_size = bad[i];
        ck_assert_int_eq(hb_model_create_callbacks_ex(ctx, p, &nc.known, &m), HB_EINVAL);
        ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "struct_size"));
    }
    hb_params_free(p); /* never taken */
    hb_context_free(ctx);
}
END_TEST

/* ---- bad input and failing callbacks ------------------------------------------------------ */

START_TEST(test_bad_input_is_refused) {
    hb_context *ctx = hb_test_context(1, 10);
    obj o;
    make_obj(&o, HB_F64, 0, 0);
    hb_model_callbacks c = config(&o, 7);
    c.destroy = o_destroy;
    hb_params *p = make_params(ctx, HB_F64), *p32 = make_params(ctx, HB_F32);
    hb_params *p16 = make_params(ctx, HB_BF16), *unfinished = NULL;
    ck_assert_int_eq(hb_params_create(ctx, HB_F64, &unfinished), HB_OK);
    hb_context *other = hb_test_context(1, 10);
    hb_params *p_other = make_params(other, HB_F64);
    hb_model *m = (hb_model *)&o; /* set to NULL on every failure */
    ck_assert_int_eq(hb_model_create_callbacks_ex(NULL, p, &c, &m), HB_EINVAL);
    ck_assert_int_eq(hb_model_create_callbacks_ex(ctx, NULL, &c, &m), HB_EINVAL);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(hb_model_create_callbacks_ex(ctx, p, NULL, &m), HB_EINVAL);
    ck_assert_int_eq(hb_model_create_callbacks_ex(ctx, p, &c, NULL), HB_EINVAL);
    hb_model_callbacks bad = c;
    bad.loss_grad = NULL;
    ck_assert_int_eq(hb_model_create_callbacks_ex(ctx, p, &bad, &m), HB_EINVAL);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "loss_grad"));
    double steps[] = {-1e-3, NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 4; i++) {
        bad = c;
        bad.fd_step = steps[i];
        ck_assert_int_eq(hb_model_create_callbacks_ex(ctx, p, &bad, &m), HB_EINVAL);
    }
    int dtypes[] = {HB_BF16, HB_I32, -1, 99};
    for (int i = 0; i < 4; i++) {
        bad = c;
        bad.dtype = dtypes[i];
        ck_assert_int_eq(hb_model_create_callbacks_ex(ctx, p, &bad, &m), HB_EDTYPE);
    }
    /* dtype against the params' compute dtype */
    bad = c;
    bad.dtype = HB_F32;
    ck_assert_int_eq(hb_model_create_callbacks_ex(ctx, p, &bad, &m), HB_EDTYPE);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "params are f64"));
    ck_assert_int_eq(hb_model_create_callbacks_ex(ctx, p32, &c, &m), HB_EDTYPE);
    ck_assert_int_eq(hb_model_create_callbacks_ex(ctx, p16, &c, &m), HB_EDTYPE);
    bad.dtype = 0; /* 0 means f64 */
    ck_assert_int_eq(hb_model_create_callbacks_ex(ctx, p32, &bad, &m), HB_EDTYPE);
    ck_assert_int_eq(hb_model_create_callbacks_ex(ctx, unfinished, &c, &m), HB_ESTATE);
    ck_assert_int_eq(hb_model_create_callbacks_ex(ctx, p_other, &c, &m), HB_EINVAL);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(o.destroyed, 0); /* failures take nothing */
    ck_assert_int_eq(hb_model_create_callbacks(ctx, p32, NULL, NULL, &o, &m), HB_EINVAL);
    hb_params_free(p32);
    hb_params_free(p16);
    hb_params_free(unfinished);
    hb_params_free(p_other);
    hb_context_free(other);
    /* dtype 0 is f64 and works */
    bad = c;
    bad.dtype = 0;
    ck_assert_int_eq(hb_model_create_callbacks_ex(ctx, p, &bad, &m), HB_OK);
    hb_model_free(m);
    ck_assert_int_eq(o.destroyed, 1);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_failing_callbacks) {
    /* Every callback's failure is HB_ECALLBACK naming it and its code; a non-finite
     * product is HB_ENONFINITE; the caller's output stays untouched in both cases. */
    hb_context *ctx = hb_test_context(1, 11);
    for (int dt = HB_F32; dt <= HB_F64; dt++) {
        obj o;
        make_obj(&o, dt, 0, 0);
        hb_model_callbacks c = config(&o, 7);
        hb_model *m = create(ctx, (hb_dtype)dt, &c);
        hb_model_callbacks cfd = all_callbacks(&o);
        hb_model *fd = create(ctx, (hb_dtype)dt, &cfd);
        hb_tensor *v = directions(ctx, HB_F64, 0, N), *V = directions(ctx, HB_F64, 2, N);
        hb_tensor *out = like(ctx, v, HB_F64), *OUT = like(ctx, V, HB_F64);
        hb_tensor *vb = directions(ctx, HB_F64, 0, 3), *ob = like(ctx, vb, HB_F64);
        ck_assert_int_eq(hb_tensor_fill(out, 7.0), HB_OK);
        double loss;
        o.fail_lg = 3;
        ck_assert_int_eq(hb_model_loss(m, &loss), HB_ECALLBACK);
        ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "loss_grad callback returned 3"));
        ck_assert_int_eq(hb_model_hvp(fd, v, out), HB_ECALLBACK); /* the FD's gradients */
        o.fail_lg = 0;
        o.fail_multi = -4;
        ck_assert_int_eq(hb_model_hvp_multi(m, V, OUT), HB_ECALLBACK);
        ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "hvp_multi callback returned -4"));
        o.fail_multi = 0;
        o.fail_block = 6;
        ck_assert_int_eq(hb_model_block_hvp(m, 0, vb, ob), HB_ECALLBACK);
        ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "block_hvp callback returned 6"));
        o.fail_block = 0;
        for (size_t i = 0; i < N; i++) ck_assert(at(out, i) == 7.0);
        hb_model_free(m);
        /* hvp alone: its failure and its NaN */
        c = config(&o, 1);
        m = create(ctx, (hb_dtype)dt, &c);
        o.fail_hvp = 8;
        ck_assert_int_eq(hb_model_hvp_multi(m, V, OUT), HB_ECALLBACK);
        ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "hvp callback returned 8"));
        o.fail_hvp = 0;
        o.nan_hvp = 1;
        ck_assert_int_eq(hb_model_hvp(m, v, out), HB_ENONFINITE);
        ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "element 2"));
        for (size_t i = 0; i < N; i++) ck_assert(at(out, i) == 7.0);
        o.nan_hvp = 0;
        ck_assert_int_eq(hb_model_hvp(m, v, out), HB_OK);
        hb_model_free(m);
        hb_model_free(fd);
        hb_tensor_free(v);
        hb_tensor_free(V);
        hb_tensor_free(out);
        hb_tensor_free(OUT);
        hb_tensor_free(vb);
        hb_tensor_free(ob);
    }
    hb_context_free(ctx);
}
END_TEST

/* Allocation failure on the create path and on the first products (scratch growth). */
static int create_and_use(hb_context *ctx, void *arg) {
    obj *o = arg;
    hb_params *p = NULL;
    int64_t s[1] = {N}, s2[2] = {4, N};
    int rc = hb_params_create(ctx, HB_F64, &p);
    if (rc == HB_OK) rc = hb_params_add_block(p, "x", HB_BLOCK_OTHER, 1, s, NULL);
    if (rc == HB_OK) rc = hb_params_finalize(p);
    hb_model_callbacks c = config(o, 6);
    hb_model *m = NULL;
    if (rc == HB_OK) rc = hb_model_create_callbacks_ex(ctx, p, &c, &m);
    if (rc != HB_OK) {
        hb_params_free(p); /* not taken on failure */
        return rc;
    }
    hb_tensor *V = NULL, *O = NULL;
    rc = hb_tensor_create(ctx, HB_F64, 2, s2, &V);
    if (rc == HB_OK) rc = hb_tensor_create(ctx, HB_F64, 2, s2, &O);
    if (rc == HB_OK) rc = hb_tensor_fill(V, 1.0);
    if (rc == HB_OK) rc = hb_model_hvp_multi(m, V, O);
    hb_tensor_free(V);
    hb_tensor_free(O);
    hb_model_free(m);
    return rc;
}

START_TEST(test_oom) {
    obj o;
    make_obj(&o, HB_F64, 0.3, 0.2);
    ck_assert_int_gt(hb_test_oom_loop(create_and_use, &o), 4);
}
END_TEST

Suite *hb_suite_callbacks(void) {
    Suite *s = suite_create("callbacks");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_every_subset_gives_every_product);
    tcase_add_test(tc, test_f32_callbacks_match_f64);
    tcase_add_test(tc, test_accuracy_and_destroy);
    tcase_add_test(tc, test_fd_default_step_accuracy);
    tcase_add_test(tc, test_fd_step_is_the_documented_one);
    tcase_add_test(tc, test_older_shorter_struct);
    tcase_add_test(tc, test_newer_longer_struct);
    tcase_add_test(tc, test_bad_input_is_refused);
    tcase_add_test(tc, test_failing_callbacks);
    tcase_add_test(tc, test_oom);
    suite_add_tcase(s, tc);
    return s;
}
