/* Built-in models quadratic, mlp, cnn against finite differences and dense references.
 *
 * Generic checks (any f64 model):
 *   - gradient vs central differences of the loss (ε = 1e-5: truncation O(ε²) ≈ 1e-10,
 *     rounding O(eps·|L|/ε) ≈ 1e-11; 1e-7 relative leaves room only for a wrong formula);
 *   - H·v vs central differences of gradients (same error budget, one order more room,
 *     1e-6, because the gradient's rounding is amplified by 1/ε);
 *   - the dense Hessian from n HVPs is symmetric to 1e-12 (the R-pass computes H·e_i and
 *     H·e_j by different routes; only rounding, ≈ 1e-15·‖H‖, separates H_ij from H_ji);
 *   - hvp_multi = k single HVPs, block_hvp = block part of H·[0…v_b…0] (same arithmetic
 *     regrouped: 1e-13);
 *   - loss/grad/HVP over two micro-batches = over their concatenation (1e-13).
 * ReLU networks are piecewise smooth; with the fixed seeds below no pre-activation lies
 * within the FD stencil of its kink (a crossing would show up as an O(1) mismatch). */
#include <stdbool.h>
#include <string.h>

#include "hb_test.h"

#define EPS 1e-5

static double rel_err(const double *a, const double *b, size_t n) {
    double d = 0, s = 1e-300;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs(a[i] - b[i])), s = fmax(s, fabs(b[i]));
    return d / s;
}

static void fill(double *a, size_t n, double seed) {
    for (size_t i = 0; i < n; i++) a[i] = sin(seed * 12.9898 + (double)i * 78.233);
}

static size_t nparams(hb_model *m) { return hb_params_count(hb_model_params(m)); }
static double *theta(hb_model *m) { return hb_params_data(hb_model_params(m)); }

static double loss_of(hb_model *m) {
    double l;
    ck_assert_int_eq(hb_model_loss(m, &l), HB_OK);
    return l;
}

static void grad_of(hb_model *m, double *g, double *loss) {
    ck_assert_int_eq(hb_model_loss_grad(m, loss), HB_OK);
    memcpy(g, hb_params_grad(hb_model_params(m)), nparams(m) * sizeof(double));
}

/* out = H·V for k directions (f64 buffers). */
static void hvp_k(hb_model *m, size_t k, const double *V, double *out) {
    hb_context *ctx = hb_model_context(m);
    int64_t sh[2] = {(int64_t)k, (int64_t)nparams(m)};
    hb_tensor *tv = NULL, *to = NULL;
    ck_assert_int_eq(hb_tensor_wrap(ctx, HB_F64, 2, sh, (void *)V, &tv), HB_OK);
    ck_assert_int_eq(hb_tensor_wrap(ctx, HB_F64, 2, sh, out, &to), HB_OK);
    ck_assert_int_eq(k == 1 ? hb_model_hvp(m, tv, to) : hb_model_hvp_multi(m, tv, to), HB_OK);
    hb_tensor_free(tv);
    hb_tensor_free(to);
}

static void check_grad_fd(hb_model *m) {
    size_t n = nparams(m);
    double *g = malloc(n * sizeof *g), *fd = malloc(n * sizeof *fd), *th = theta(m), l0;
    grad_of(m, g, &l0);
    for (size_t i = 0; i < n; i++) {
        double keep = th[i];
        th[i] = keep + EPS;
        double lp = loss_of(m);
        th[i] = keep - EPS;
        double lm = loss_of(m);
        th[i] = keep;
        fd[i] = (lp - lm) / (2 * EPS);
    }
    double e = rel_err(g, fd, n);
    ck_assert_msg(e <= 1e-7, "%s: gradient vs FD relative error %g", hb_model_name(m), e);
    free(g), free(fd);
}

/* H·v vs FD of gradients along v; also the dense Hessian (n HVPs) symmetric and equal to
 * the dense FD Hessian when dense != 0. */
static void check_hvp_fd(hb_model *m, bool dense) {
    size_t n = nparams(m);
    double *v = malloc(n * sizeof *v), *hv = malloc(n * sizeof *hv), *gp = malloc(n * sizeof *gp),
           *gm = malloc(n * sizeof *gm), *th = theta(m), *th0 = malloc(n * sizeof *th0), l;
    memcpy(th0, th, n * sizeof *th);
    fill(v, n, 3.7);
    hvp_k(m, 1, v, hv);
    for (size_t i = 0; i < n; i++) th[i] = th0[i] + EPS * v[i];
    grad_of(m, gp, &l);
    for (size_t i = 0; i < n; i++) th[i] = th0[i] - EPS * v[i];
    grad_of(m, gm, &l);
    memcpy(th, th0, n * sizeof *th);
    for (size_t i = 0; i < n; i++) gp[i] = (gp[i] - gm[i]) / (2 * EPS);
    double e = rel_err(hv, gp, n);
    ck_assert_msg(e <= 1e-6, "%s: H·v vs FD relative error %g", hb_model_name(m), e);
    if (dense) {
        double *H = calloc(n * n, sizeof *H), *E = calloc(n * n, sizeof *E), *F = malloc(n * n * sizeof *F);
        for (size_t i = 0; i < n; i++) E[i * n + i] = 1;
        hvp_k(m, n, E, H); /* row i = H·e_i, all n directions in one hvp_multi */
        double asym = 0, hmax = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                asym = fmax(asym, fabs(H[i * n + j] - H[j * n + i])), hmax = fmax(hmax, fabs(H[i * n + j]));
        ck_assert_msg(asym <= 1e-12 * hmax, "%s: Hessian asymmetry %g of %g", hb_model_name(m), asym, hmax);
        for (size_t i = 0; i < n; i++) {
            th[i] = th0[i] + EPS;
            grad_of(m, gp, &l);
            th[i] = th0[i] - EPS;
            grad_of(m, gm, &l);
            th[i] = th0[i];
            for (size_t j = 0; j < n; j++) F[i * n + j] = (gp[j] - gm[j]) / (2 * EPS);
        }
        e = rel_err(H, F, n * n);
        ck_assert_msg(e <= 1e-6, "%s: dense Hessian vs FD relative error %g", hb_model_name(m), e);
        free(H), free(E), free(F);
    }
    free(v), free(hv), free(gp), free(gm), free(th0);
}

/* hvp_multi = k single HVPs; block_hvp = block part of the full HVP of the padded vector,
 * for every block, with k = 1 and k = 2. */
static void check_multi_and_block(hb_model *m) {
    enum { K = 3 };
    size_t n = nparams(m);
    hb_params *p = hb_model_params(m);
    hb_context *ctx = hb_model_context(m);
    double *V = malloc(K * n * sizeof *V), *O = malloc(K * n * sizeof *O), *o1 = malloc(n * sizeof *o1);
    fill(V, K * n, 5.1);
    hvp_k(m, K, V, O);
    for (size_t j = 0; j < K; j++) {
        hvp_k(m, 1, V + j * n, o1);
        double e = rel_err(O + j * n, o1, n);
        ck_assert_msg(e <= 1e-13, "%s: hvp_multi row %zu differs by %g", hb_model_name(m), j, e);
    }
    for (size_t b = 0; b < hb_params_num_blocks(p); b++) {
        size_t off, len;
        ck_assert_int_eq(hb_params_block_info(p, b, NULL, NULL, &off, &len, NULL, NULL), HB_OK);
        double *pad = calloc(2 * n, sizeof *pad), *full = malloc(2 * n * sizeof *full);
        double *vb = malloc(2 * len * sizeof *vb), *ob = malloc(2 * len * sizeof *ob);
        for (size_t j = 0; j < 2; j++) {
            memcpy(vb + j * len, V + j * n + off, len * sizeof *vb);
            memcpy(pad + j * n + off, vb + j * len, len * sizeof *vb);
        }
        hvp_k(m, 2, pad, full);
        int64_t sh[2] = {2, (int64_t)len};
        hb_tensor *tv = NULL, *to = NULL;
        ck_assert_int_eq(hb_tensor_wrap(ctx, HB_F64, 2, sh, vb, &tv), HB_OK);
        ck_assert_int_eq(hb_tensor_wrap(ctx, HB_F64, 2, sh, ob, &to), HB_OK);
        ck_assert_int_eq(hb_model_block_hvp(m, b, tv, to), HB_OK);
        for (size_t j = 0; j < 2; j++) {
            double e = rel_err(ob + j * len, full + j * n + off, len);
            ck_assert_msg(e <= 1e-13, "%s: block_hvp of block %s differs by %g", hb_model_name(m),
                          hb_params_block_name(p, b), e);
        }
        hb_tensor_free(tv), hb_tensor_free(to);
        free(pad), free(full), free(vb), free(ob);
    }
    free(V), free(O), free(o1);
}

static hb_model *make_model(hb_context *ctx, hb_model_kind kind, const int64_t *kv, size_t nkv) {
    hb_model_config *c = NULL;
    ck_assert_int_eq(hb_model_config_create(ctx, kind, &c), HB_OK);
    for (size_t i = 0; i < nkv; i++)
        ck_assert_int_eq(hb_model_config_set_i64(c, (hb_model_key)kv[2 * i], kv[2 * i + 1]), HB_OK);
    hb_model *m = NULL;
    int rc = hb_model_create(ctx, c, &m);
    ck_assert_msg(rc == HB_OK, "create: %s", hb_context_last_error(ctx));
    hb_model_config_free(c);
    return m;
}

/* ---- quadratic ------------------------------------------------------------------- */

/* Two dense blocks (3 and 2) and h; H·v and the gradient against plain loops. */
START_TEST(test_quadratic_dense_exact) {
    hb_context *ctx = hb_test_context(1, 3);
    double A[9] = {4, 1, -2, 1, 3, 0.5, -2, 0.5, 5}, B[4] = {2, -1, -1, 7}, h[5] = {1, -2, 0.5, 3, -1};
    size_t sizes[2] = {3, 2};
    const double *dense[2] = {A, B};
    hb_model *m = NULL;
    ck_assert_int_eq(hb_model_create_quadratic(ctx, HB_F64, 2, sizes, NULL, dense, h, &m), HB_OK);
    ck_assert_str_eq(hb_model_name(m), "quadratic");
    ck_assert_int_eq(hb_model_kind_of(m), HB_MODEL_QUADRATIC);
    ck_assert_int_eq(hb_model_has_exact_hvp(m), 1);
    ck_assert_str_eq(hb_params_block_name(hb_model_params(m), 1), "block.1");
    double *th = theta(m);
    for (int i = 0; i < 5; i++) ck_assert(th[i] == 0.0); /* documented initial θ */
    double v[5] = {0.3, -1, 2, 0.7, -0.2}, hv[5], ref[5] = {0};
    for (int i = 0; i < 3; i++) for (int j = 0; j < 3; j++) ref[i] += A[i * 3 + j] * v[j];
    for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++) ref[3 + i] += B[i * 2 + j] * v[3 + j];
    hvp_k(m, 1, v, hv);
    /* exact up to the summation order of ≤ 3 terms: a few ulps */
    for (int i = 0; i < 5; i++) HB_ASSERT_CLOSE(hv[i], ref[i], 4e-16 * 8);
    /* at θ = v: L = ½vᵀHv − hᵀv, ∇L = Hv − h */
    memcpy(th, v, sizeof v);
    double g[5], l, lref = 0;
    grad_of(m, g, &l);
    for (int i = 0; i < 5; i++) {
        lref += 0.5 * v[i] * ref[i] - h[i] * v[i];
        HB_ASSERT_CLOSE(g[i], ref[i] - h[i], 1e-15 * 8);
    }
    HB_ASSERT_CLOSE(l, lref, 1e-15 * 8);
    /* eigenvalues of dense blocks: B = [[2,-1],[-1,7]] → 4.5 ∓ √(6.25 + 1) */
    double w[2], Hb[4];
    ck_assert_int_eq(hb_model_quadratic_eigenvalues(m, 1, w, 2), HB_OK);
    HB_ASSERT_CLOSE(w[0], 4.5 - sqrt(7.25), 1e-14);
    HB_ASSERT_CLOSE(w[1], 4.5 + sqrt(7.25), 1e-14);
    ck_assert_int_eq(hb_model_quadratic_matrix(m, 1, Hb, 4), HB_OK);
    for (int i = 0; i < 4; i++) ck_assert(Hb[i] == B[i]);
    /* bad input */
    ck_assert_int_eq(hb_model_quadratic_eigenvalues(m, 2, w, 2), HB_ERANGE);
    ck_assert_int_eq(hb_model_quadratic_eigenvalues(m, 1, w, 3), HB_ESHAPE);
    ck_assert_int_eq(hb_model_quadratic_eigenvalues(m, 1, NULL, 2), HB_EINVAL);
    ck_assert_int_eq(hb_model_quadratic_matrix(m, 0, Hb, 4), HB_ESHAPE);
    ck_assert_int_eq(hb_model_quadratic_eigenvalues(NULL, 0, w, 2), HB_EINVAL);
    ck_assert_int_eq(hb_model_set_synthetic(m, 1, 0, 0), HB_EUNSUPPORTED);
    double acc;
    ck_assert_int_eq(hb_model_accuracy(m, &acc), HB_EUNSUPPORTED);
    check_grad_fd(m);
    check_hvp_fd(m, true);
    check_multi_and_block(m);
    hb_model_free(m);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_quadratic_create_bad_input) {
    hb_context *ctx = hb_test_context(1, 3);
    double A[4] = {1, 2, 2.5, 1}, e2[2] = {1, 2}, nanv[2] = {1, NAN};
    size_t sizes[1] = {2}, zero[1] = {0};
    const double *dense[1] = {A}, *eig[1] = {e2}, *bad[1] = {nanv}, *none[1] = {NULL};
    hb_model *m = (hb_model *)1;
    ck_assert_int_eq(hb_model_create_quadratic(ctx, HB_F64, 1, sizes, NULL, dense, NULL, &m), HB_EINVAL);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(hb_model_create_quadratic(ctx, HB_F64, 1, sizes, eig, dense, NULL, &m), HB_EINVAL);
    ck_assert_int_eq(hb_model_create_quadratic(ctx, HB_F64, 1, sizes, none, NULL, NULL, &m), HB_EINVAL);
    ck_assert_int_eq(hb_model_create_quadratic(ctx, HB_F64, 1, sizes, bad, NULL, NULL, &m), HB_ENONFINITE);
    ck_assert_int_eq(hb_model_create_quadratic(ctx, HB_F64, 1, sizes, eig, NULL, nanv, &m), HB_ENONFINITE);
    ck_assert_int_eq(hb_model_create_quadratic(ctx, HB_F64, 1, zero, eig, NULL, NULL, &m), HB_EINVAL);
    ck_assert_int_eq(hb_model_create_quadratic(ctx, HB_F64, 0, sizes, eig, NULL, NULL, &m), HB_EINVAL);
    ck_assert_int_eq(hb_model_create_quadratic(ctx, HB_I32, 1, sizes, eig, NULL, NULL, &m), HB_EDTYPE);
    ck_assert_int_eq(hb_model_create_quadratic(ctx, HB_F64, 1, NULL, eig, NULL, NULL, &m), HB_EINVAL);
    ck_assert_int_eq(hb_model_create_quadratic(NULL, HB_F64, 1, sizes, eig, NULL, NULL, &m), HB_EINVAL);
    ck_assert_int_eq(hb_model_create_quadratic(ctx, HB_F64, 1, sizes, eig, NULL, NULL, NULL), HB_EINVAL);
    /* given eigenvalues come back sorted, and H has exactly them: trace and trace(H²) */
    double e3[3] = {5, -1, 2}, w[3], H[9];
    size_t s3[1] = {3};
    const double *eg[1] = {e3};
    ck_assert_int_eq(hb_model_create_quadratic(ctx, HB_F64, 1, s3, eg, NULL, NULL, &m), HB_OK);
    ck_assert_int_eq(hb_model_quadratic_eigenvalues(m, 0, w, 3), HB_OK);
    ck_assert(w[0] == -1 && w[1] == 2 && w[2] == 5);
    ck_assert_int_eq(hb_model_quadratic_matrix(m, 0, H, 9), HB_OK);
    double tr = H[0] + H[4] + H[8], tr2 = 0;
    for (int i = 0; i < 9; i++) tr2 += H[i] * H[i];
    HB_ASSERT_CLOSE(tr, 6.0, 1e-14);   /* rounding of Q·Λ·Qᵀ: ≈ 10 ulps of 5 */
    HB_ASSERT_CLOSE(tr2, 30.0, 1e-14);
    /* the vector checks of the generic layer, on a data-free model */
    double v[3] = {1, 2, 3}, o[3];
    int64_t s2[1] = {2}, s3d[1] = {3};
    hb_tensor *tv = NULL, *to = NULL;
    ck_assert_int_eq(hb_tensor_wrap(ctx, HB_F64, 1, s2, v, &tv), HB_OK);
    ck_assert_int_eq(hb_tensor_wrap(ctx, HB_F64, 1, s3d, o, &to), HB_OK);
    ck_assert_int_eq(hb_model_hvp(m, tv, to), HB_ESHAPE);
    hb_tensor_free(tv);
    hb_model_free(m);
    hb_tensor_free(to);
    hb_context_free(ctx);
}
END_TEST

/* Generated families: the spectra are what model.h promises and the operator has them. */
START_TEST(test_quadratic_families) {
    hb_context *ctx = hb_test_context(1, 5);
    for (int fam = HB_QUAD_HETEROGENEOUS; fam <= HB_QUAD_HOMOGENEOUS; fam++) {
        hb_model_config *c = NULL;
        ck_assert_int_eq(hb_model_config_create(ctx, HB_MODEL_QUADRATIC, &c), HB_OK);
        ck_assert_int_eq(hb_model_config_set_i64(c, HB_MK_QUAD_BLOCKS, 3), HB_OK);
        ck_assert_int_eq(hb_model_config_set_i64(c, HB_MK_QUAD_BLOCK_SIZE, 6), HB_OK);
        ck_assert_int_eq(hb_model_config_set_i64(c, HB_MK_QUAD_FAMILY, fam), HB_OK);
        ck_assert_int_eq(hb_model_config_set_f64(c, HB_MK_QUAD_COND, 1000.0), HB_OK);
        hb_model *m = NULL;
        ck_assert_int_eq(hb_model_create(ctx, c, &m), HB_OK);
        hb_model_config_free(c);
        ck_assert_uint_eq(nparams(m), 18);
        double lo = INFINITY, hi = 0;
        for (size_t b = 0; b < 3; b++) {
            double w[6], H[36];
            ck_assert_int_eq(hb_model_quadratic_eigenvalues(m, b, w, 6), HB_OK);
            ck_assert_int_eq(hb_model_quadratic_matrix(m, b, H, 36), HB_OK);
            double tr = 0, tr2 = 0, s = 0, s2 = 0;
            for (int i = 0; i < 6; i++) {
                /* log-spaced: κ^((b + i/5)/3) or κ^(i/5) */
                double e = fam == HB_QUAD_HETEROGENEOUS ? ((double)b + i / 5.0) / 3.0 : i / 5.0;
                HB_ASSERT_CLOSE(w[i], pow(1000.0, e), 1e-13);
                tr += H[i * 6 + i], s += w[i], s2 += w[i] * w[i];
                lo = fmin(lo, w[i]), hi = fmax(hi, w[i]);
            }
            for (int i = 0; i < 36; i++) tr2 += H[i] * H[i];
            /* orthogonal similarity keeps trace and Frobenius norm; 1e-12: rounding of a
             * 6×6 product with entries up to 1000 */
            HB_ASSERT_CLOSE(tr / s, 1.0, 1e-12);
            HB_ASSERT_CLOSE(tr2 / s2, 1.0, 1e-12);
        }
        HB_ASSERT_CLOSE(hi / lo, 1000.0, 1e-12); /* overall condition number κ */
        /* quadratic: the loss is exactly quadratic, so FD checks hold at any θ */
        fill(theta(m), 18, 0.9);
        check_grad_fd(m);
        check_hvp_fd(m, true);
        check_multi_and_block(m);
        hb_model_free(m);
    }
    /* same seed, same model; f32 model agrees with f64 to f32 accuracy */
    hb_context *c1 = hb_test_context(1, 9), *c2 = hb_test_context(1, 9);
    int64_t kv32[] = {HB_MK_DTYPE, HB_F32}, kv16[] = {HB_MK_DTYPE, HB_BF16};
    hb_model *m64 = make_model(c1, HB_MODEL_QUADRATIC, NULL, 0);
    hb_model *m32 = make_model(c2, HB_MODEL_QUADRATIC, kv32, 1);
    size_t n = nparams(m64);
    double *v = malloc(n * sizeof *v), *o64 = malloc(n * sizeof *o64), *o32 = malloc(n * sizeof *o32);
    fill(v, n, 1.1);
    hvp_k(m64, 1, v, o64);
    hvp_k(m32, 1, v, o32);
    /* f32 products of 25 terms with entries up to κ = 5000: ~25·6e-8 relative to ‖H‖ */
    ck_assert_msg(rel_err(o32, o64, n) <= 1e-5, "f32 vs f64 %g", rel_err(o32, o64, n));
    hb_context *c3 = hb_test_context(1, 9); /* fresh streams: the same H as m64 */
    hb_model *m16 = make_model(c3, HB_MODEL_QUADRATIC, kv16, 1);
    double l;
    ck_assert_int_eq(hb_model_loss_grad(m16, &l), HB_OK);
    ck_assert(l == 0.0); /* θ = 0 */
    hvp_k(m16, 1, v, o32);
    ck_assert_msg(rel_err(o32, o64, n) <= 1e-5, "bf16 model vs f64 %g", rel_err(o32, o64, n));
    free(v), free(o64), free(o32);
    hb_model_free(m64), hb_model_free(m32), hb_model_free(m16);
    hb_context_free(c1), hb_context_free(c2), hb_context_free(c3);
    hb_context_free(ctx);
}
END_TEST

static int create_kind(hb_context *ctx, void *arg) {
    const int64_t *kv = arg; /* kind, n pairs, pairs… */
    hb_model_config *c = NULL;
    int rc = hb_model_config_create(ctx, (hb_model_kind)kv[0], &c);
    for (int64_t i = 0; i < kv[1] && rc == HB_OK; i++)
        rc = hb_model_config_set_i64(c, (hb_model_key)kv[2 + 2 * i], kv[3 + 2 * i]);
    hb_model *m = NULL;
    if (rc == HB_OK) rc = hb_model_create(ctx, c, &m);
    double l;
    if (rc == HB_OK) rc = hb_model_loss_grad(m, &l);
    hb_model_free(m);
    hb_model_config_free(c);
    return rc;
}

static int create_quadratic_given(hb_context *ctx, void *arg) {
    (void)arg;
    double e[2] = {1, 3}, A[1] = {2};
    size_t sizes[2] = {2, 1};
    const double *eig[2] = {e, NULL}, *dense[2] = {NULL, A};
    hb_model *m = NULL;
    int rc = hb_model_create_quadratic(ctx, HB_F32, 2, sizes, eig, dense, NULL, &m);
    hb_model_free(m);
    return rc;
}

START_TEST(test_quadratic_oom) {
    int64_t q[] = {HB_MODEL_QUADRATIC, 2, HB_MK_QUAD_BLOCKS, 3, HB_MK_QUAD_BLOCK_SIZE, 4};
    ck_assert_int_ge(hb_test_oom_loop(create_kind, q), 10);
    ck_assert_int_ge(hb_test_oom_loop(create_quadratic_given, NULL), 10);
}
END_TEST


/* ---- classifiers (mlp, cnn) ------------------------------------------------------- */

/* Block names, kinds and shapes in order. */
typedef struct { const char *name; hb_block_kind kind; int ndim; int64_t shape[4]; } blk;

static void check_blocks(hb_model *m, const blk *want, size_t count) {
    hb_params *p = hb_model_params(m);
    ck_assert_uint_eq(hb_params_num_blocks(p), count);
    size_t off = 0;
    for (size_t b = 0; b < count; b++) {
        const char *name;
        hb_block_kind kind;
        size_t o, numel;
        int nd;
        int64_t sh[4];
        ck_assert_int_eq(hb_params_block_info(p, b, &name, &kind, &o, &numel, &nd, sh), HB_OK);
        ck_assert_str_eq(name, want[b].name);
        ck_assert_int_eq(kind, want[b].kind);
        ck_assert_int_eq(nd, want[b].ndim);
        size_t ne = 1;
        for (int d = 0; d < nd; d++) {
            ck_assert_int_eq(sh[d], want[b].shape[d]);
            ne *= (size_t)sh[d];
        }
        ck_assert_uint_eq(o, off); /* back to back, no padding */
        off += ne;
    }
    ck_assert_uint_eq(off, nparams(m));
}

/* Two micro-batches of B samples vs one batch of 2B: a model created with HB_MK_BATCH = 2B
 * from the same seed has the same θ, and its first synthetic batch holds samples 0..2B−1,
 * i.e. the concatenation (samples depend on their index only). Loss, gradient and H·v
 * agree to rounding (different summation grouping: 1e-13). */
static void check_micro_batches(hb_model_kind kind, const int64_t *kv, size_t nkv, int64_t B) {
    hb_context *c1 = hb_test_context(1, 21), *c2 = hb_test_context(1, 21);
    int64_t kv1[32], kv2[32];
    memcpy(kv1, kv, 2 * nkv * sizeof *kv), memcpy(kv2, kv, 2 * nkv * sizeof *kv);
    kv1[2 * nkv] = kv2[2 * nkv] = HB_MK_BATCH;
    kv1[2 * nkv + 1] = B, kv2[2 * nkv + 1] = 2 * B;
    hb_model *m1 = make_model(c1, kind, kv1, nkv + 1), *m2 = make_model(c2, kind, kv2, nkv + 1);
    ck_assert_int_eq(hb_model_set_synthetic(m1, 2, 7, 100), HB_OK);
    ck_assert_int_eq(hb_model_set_synthetic(m2, 1, 7, 100), HB_OK);
    ck_assert_uint_eq(hb_model_num_batches(m1), 2);
    ck_assert_uint_eq(hb_model_num_samples(m1), (size_t)(2 * B));
    size_t n = nparams(m1);
    ck_assert(memcmp(theta(m1), theta(m2), n * sizeof(double)) == 0);
    double *g1 = malloc(n * sizeof *g1), *g2 = malloc(n * sizeof *g2), l1, l2;
    double *v = malloc(n * sizeof *v), *h1 = malloc(n * sizeof *h1), *h2 = malloc(n * sizeof *h2);
    grad_of(m1, g1, &l1);
    grad_of(m2, g2, &l2);
    HB_ASSERT_CLOSE(l1, l2, 1e-13);
    ck_assert_msg(rel_err(g1, g2, n) <= 1e-13, "micro-batch grad %g", rel_err(g1, g2, n));
    fill(v, n, 2.2);
    hvp_k(m1, 1, v, h1);
    hvp_k(m2, 1, v, h2);
    ck_assert_msg(rel_err(h1, h2, n) <= 1e-13, "micro-batch hvp %g", rel_err(h1, h2, n));
    /* a different stream gives different data */
    ck_assert_int_eq(hb_model_set_synthetic(m2, 1, 8, 100), HB_OK);
    grad_of(m2, g2, &l2);
    ck_assert(fabs(l1 - l2) > 1e-6);
    free(g1), free(g2), free(v), free(h1), free(h2);
    hb_model_free(m1), hb_model_free(m2);
    hb_context_free(c1), hb_context_free(c2);
}

/* f32 and bf16 models from the same seed agree with the f64 one to their accuracy. */
static void check_precisions(hb_model_kind kind, const int64_t *kv, size_t nkv) {
    hb_context *c[3] = {hb_test_context(1, 4), hb_test_context(1, 4), hb_test_context(1, 4)};
    hb_dtype dts[3] = {HB_F64, HB_F32, HB_BF16};
    hb_model *m[3];
    for (int i = 0; i < 3; i++) {
        int64_t kvd[32];
        memcpy(kvd, kv, 2 * nkv * sizeof *kv);
        kvd[2 * nkv] = HB_MK_DTYPE, kvd[2 * nkv + 1] = dts[i];
        m[i] = make_model(c[i], kind, kvd, nkv + 1);
    }
    size_t n = nparams(m[0]);
    double *v = malloc(n * sizeof *v), *h64 = malloc(n * sizeof *h64), *h = malloc(n * sizeof *h);
    double *g64 = malloc(n * sizeof *g64), *g = malloc(n * sizeof *g);
    fill(v, n, 0.4);
    double l64, l;
    grad_of(m[0], g64, &l64);
    hvp_k(m[0], 1, v, h64);
    /* f32: same θ (rounded), same data; sums of ≤ a few hundred f32 products:
     * errors ≈ 1e-6 relative; 1e-4 still catches any f32-specific bug (those are O(1)). */
    ck_assert_int_eq(hb_model_loss_grad(m[1], &l), HB_OK);
    HB_ASSERT_CLOSE(l, l64, 1e-5);
    const float *gf = hb_params_grad(hb_model_params(m[1]));
    for (size_t i = 0; i < n; i++) g[i] = gf[i];
    ck_assert_msg(rel_err(g, g64, n) <= 1e-4, "f32 grad %g", rel_err(g, g64, n));
    hvp_k(m[1], 1, v, h);
    ck_assert_msg(rel_err(h, h64, n) <= 1e-4, "f32 hvp %g", rel_err(h, h64, n));
    /* bf16 parameters (θ rounded to 8 bits of mantissa, compute in f32): a different
     * model, so only "runs and is finite, and roughly the f64 loss" is asserted. */
    ck_assert_int_eq(hb_model_loss_grad(m[2], &l), HB_OK);
    ck_assert(fabs(l - l64) <= 0.05 * fabs(l64));
    hvp_k(m[2], 1, v, h);
    for (size_t i = 0; i < n; i++) ck_assert(isfinite(h[i]));
    ck_assert_int_eq(hb_params_grad_dtype(hb_model_params(m[2])), HB_F32);
    free(v), free(h64), free(h), free(g64), free(g);
    for (int i = 0; i < 3; i++) hb_model_free(m[i]), hb_context_free(c[i]);
}

/* Bad batches and vectors: clear status, nothing written. x_shape: a valid input shape. */
static void check_bad_input(hb_model *m, int nd, const int64_t *x_shape, int32_t classes) {
    hb_context *ctx = hb_model_context(m);
    size_t n = nparams(m), n0 = hb_model_num_samples(m);
    double l0 = loss_of(m);
    hb_tensor *x = NULL, *y = NULL, *bad = NULL;
    int64_t N = x_shape[0], ys[1] = {N};
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F64, nd, x_shape, &x), HB_OK);
    ck_assert_int_eq(hb_tensor_create(ctx, HB_I32, 1, ys, &y), HB_OK);
    ck_assert_int_eq(hb_tensor_fill(x, 0.25), HB_OK);
    ck_assert_int_eq(hb_tensor_fill(y, 1), HB_OK);
    ck_assert_int_eq(hb_model_add_batch(m, x, y), HB_OK); /* valid: accepted */
    ck_assert_uint_eq(hb_model_num_samples(m), n0 + (size_t)N);
    ck_assert_int_eq(hb_model_set_synthetic(m, 1, 0, 0), HB_OK);
    /* class out of range, both ends */
    ck_assert_int_eq(hb_tensor_set_f64(y, 0, classes), HB_OK);
    ck_assert_int_eq(hb_model_add_batch(m, x, y), HB_ERANGE);
    ck_assert_int_eq(hb_tensor_set_f64(y, 0, -1), HB_OK);
    ck_assert_int_eq(hb_model_set_batch(m, x, y), HB_ERANGE);
    ck_assert_int_eq(hb_tensor_set_f64(y, 0, 0), HB_OK);
    /* NaN / Inf in the inputs */
    ck_assert_int_eq(hb_tensor_set_f64(x, 3, NAN), HB_OK);
    ck_assert_int_eq(hb_model_set_batch(m, x, y), HB_ENONFINITE);
    ck_assert_int_eq(hb_tensor_set_f64(x, 3, INFINITY), HB_OK);
    ck_assert_int_eq(hb_model_add_batch(m, x, y), HB_ENONFINITE);
    ck_assert_int_eq(hb_tensor_set_f64(x, 3, 0.25), HB_OK);
    /* wrong dtypes: i32 inputs (of the right shape: a wrong shape is HB_ESHAPE first),
     * f64 targets */
    hb_tensor *xi = NULL;
    ck_assert_int_eq(hb_tensor_create(ctx, HB_I32, nd, x_shape, &xi), HB_OK);
    ck_assert_int_eq(hb_model_set_batch(m, xi, y), HB_EDTYPE);
    hb_tensor_free(xi);
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F64, 1, ys, &xi), HB_OK);
    ck_assert_int_eq(hb_model_set_batch(m, x, xi), HB_EDTYPE);
    hb_tensor_free(xi);
    /* wrong shapes: a trailing dimension off by one; targets of the wrong length; ndim */
    int64_t sh[4];
    memcpy(sh, x_shape, (size_t)nd * sizeof *sh);
    sh[nd - 1] += 1;
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F64, nd, sh, &bad), HB_OK);
    ck_assert_int_eq(hb_tensor_fill(bad, 0.1), HB_OK);
    ck_assert_int_eq(hb_model_set_batch(m, bad, y), HB_ESHAPE);
    hb_tensor_free(bad);
    sh[nd - 1] -= 1, sh[0] += 1;
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F64, nd, sh, &bad), HB_OK);
    ck_assert_int_eq(hb_tensor_fill(bad, 0.1), HB_OK);
    ck_assert_int_eq(hb_model_set_batch(m, bad, y), HB_ESHAPE);
    hb_tensor_free(bad);
    int64_t flat[1] = {(int64_t)hb_tensor_numel(x)};
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F64, 1, flat, &bad), HB_OK);
    ck_assert_int_eq(hb_tensor_fill(bad, 0.1), HB_OK);
    ck_assert_int_eq(hb_model_set_batch(m, bad, y), HB_ESHAPE);
    hb_tensor_free(bad);
    /* nothing changed */
    ck_assert_uint_eq(hb_model_num_samples(m), n0);
    ck_assert(loss_of(m) == l0);
    /* vectors: wrong length, wrong dtype, NaN → out untouched */
    double *v = calloc(n + 1, sizeof *v), *o = malloc((n + 1) * sizeof *o);
    for (size_t i = 0; i <= n; i++) o[i] = 123.0;
    int64_t s1[1] = {(int64_t)n + 1}, s0[1] = {(int64_t)n};
    hb_tensor *tv = NULL, *to = NULL, *ti = NULL;
    ck_assert_int_eq(hb_tensor_wrap(ctx, HB_F64, 1, s1, v, &tv), HB_OK);
    ck_assert_int_eq(hb_tensor_wrap(ctx, HB_F64, 1, s1, o, &to), HB_OK);
    ck_assert_int_eq(hb_model_hvp(m, tv, to), HB_ESHAPE);
    hb_tensor_free(tv), hb_tensor_free(to);
    ck_assert_int_eq(hb_tensor_wrap(ctx, HB_F64, 1, s0, v, &tv), HB_OK);
    ck_assert_int_eq(hb_tensor_wrap(ctx, HB_F64, 1, s0, o, &to), HB_OK);
    ck_assert_int_eq(hb_tensor_create(ctx, HB_I32, 1, s0, &ti), HB_OK);
    ck_assert_int_eq(hb_model_hvp(m, ti, to), HB_EDTYPE);
    v[2] = NAN;
    ck_assert_int_eq(hb_model_hvp(m, tv, to), HB_ENONFINITE);
    ck_assert_int_eq(hb_model_block_hvp(m, 99, tv, to), HB_ERANGE);
    for (size_t i = 0; i <= n; i++) ck_assert(o[i] == 123.0);
    hb_tensor_free(tv), hb_tensor_free(to), hb_tensor_free(ti);
    hb_tensor_free(x), hb_tensor_free(y);
    free(v), free(o);
}

/* Plain gradient descent on the synthetic data lowers the loss and lifts the accuracy
 * above chance: the data is learnable and the gradient is a descent direction. */
static void check_learns(hb_model *m, double lr, int steps, size_t classes) {
    ck_assert_int_eq(hb_model_set_synthetic(m, 4, 1, 0), HB_OK);
    size_t n = nparams(m);
    double *th = theta(m), l0, l = 0, acc;
    ck_assert_int_eq(hb_model_loss(m, &l0), HB_OK);
    for (int s = 0; s < steps; s++) {
        ck_assert_int_eq(hb_model_loss_grad(m, &l), HB_OK);
        const double *g = hb_params_grad(hb_model_params(m));
        for (size_t i = 0; i < n; i++) th[i] -= lr * g[i];
    }
    ck_assert_int_eq(hb_model_loss(m, &l), HB_OK);
    ck_assert_int_eq(hb_model_accuracy(m, &acc), HB_OK);
    ck_assert_msg(l < 0.7 * l0 && acc > 2.0 / (double)classes, "%s: loss %g -> %g, accuracy %g",
                  hb_model_name(m), l0, l, acc);
}

/* ---- mlp ------------------------------------------------------------------------- */

START_TEST(test_mlp_exact) {
    for (int act = HB_ACT_RELU; act <= HB_ACT_GELU; act++) {
        hb_context *ctx = hb_test_context(1, 13);
        int64_t kv[] = {HB_MK_INPUTS, 4, HB_MK_WIDTH, 5, HB_MK_LAYERS, 2, HB_MK_CLASSES, 3,
                        HB_MK_ACTIVATION, act, HB_MK_BATCH, 6};
        hb_model *m = make_model(ctx, HB_MODEL_MLP, kv, 6);
        ck_assert_str_eq(hb_model_name(m), "mlp");
        ck_assert_int_eq(hb_model_kind_of(m), HB_MODEL_MLP);
        blk want[] = {{"layers.0.weight", HB_BLOCK_LINEAR, 2, {5, 4}}, {"layers.0.bias", HB_BLOCK_BIAS, 1, {5}},
                      {"layers.1.weight", HB_BLOCK_LINEAR, 2, {5, 5}}, {"layers.1.bias", HB_BLOCK_BIAS, 1, {5}},
                      {"head.weight", HB_BLOCK_HEAD, 2, {3, 5}}, {"head.bias", HB_BLOCK_HEAD, 1, {3}}};
        check_blocks(m, want, 6);
        /* PyTorch init: |W| ≤ 1/√fan_in */
        const double *th = theta(m);
        for (size_t i = 0; i < 20; i++) ck_assert(fabs(th[i]) <= 0.5);
        check_grad_fd(m);
        check_hvp_fd(m, true);
        check_multi_and_block(m);
        hb_model_free(m);
        hb_context_free(ctx);
    }
    /* no hidden layer: logistic regression */
    hb_context *ctx = hb_test_context(1, 13);
    int64_t kv0[] = {HB_MK_INPUTS, 3, HB_MK_LAYERS, 0, HB_MK_CLASSES, 4, HB_MK_BATCH, 5};
    hb_model *m = make_model(ctx, HB_MODEL_MLP, kv0, 4);
    ck_assert_uint_eq(nparams(m), 16);
    check_grad_fd(m);
    check_hvp_fd(m, true);
    check_multi_and_block(m);
    hb_model_free(m);
    hb_context_free(ctx);
}
END_TEST

static const int64_t mlp_small[] = {HB_MK_INPUTS, 6, HB_MK_WIDTH, 7, HB_MK_LAYERS, 2,
                                    HB_MK_CLASSES, 4, HB_MK_ACTIVATION, HB_ACT_GELU};

START_TEST(test_mlp_batches_precisions) {
    check_micro_batches(HB_MODEL_MLP, mlp_small, 5, 5);
    check_precisions(HB_MODEL_MLP, mlp_small, 5);
}
END_TEST

START_TEST(test_mlp_bad_input_and_learning) {
    hb_context *ctx = hb_test_context(1, 17);
    hb_model *m = make_model(ctx, HB_MODEL_MLP, mlp_small, 5);
    int64_t xs[2] = {3, 6};
    check_bad_input(m, 2, xs, 4);
    check_learns(m, 0.5, 60, 4);
    hb_model_free(m);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_mlp_oom) {
    int64_t q[] = {HB_MODEL_MLP, 4, HB_MK_INPUTS, 3, HB_MK_WIDTH, 4, HB_MK_LAYERS, 1, HB_MK_BATCH, 4};
    ck_assert_int_ge(hb_test_oom_loop(create_kind, q), 10);
}
END_TEST

/* ---- cnn ------------------------------------------------------------------------- */

static const int64_t cnn_tiny[] = {HB_MK_IMAGE_SIZE, 4, HB_MK_CHANNELS, 2, HB_MK_CONV_WIDTH, 2,
                                   HB_MK_CONV_STAGES, 2, HB_MK_CLASSES, 3, HB_MK_BATCH, 3};

START_TEST(test_cnn_exact) {
    hb_context *ctx = hb_test_context(1, 19);
    hb_model *m = make_model(ctx, HB_MODEL_CNN, cnn_tiny, 6);
    ck_assert_str_eq(hb_model_name(m), "cnn");
    ck_assert_int_eq(hb_model_kind_of(m), HB_MODEL_CNN);
    /* sides 4 → 2 → 1, channels 2 → 2 → 4, head over 4·1·1 features */
    blk want[] = {{"features.0.weight", HB_BLOCK_CONV, 4, {2, 2, 3, 3}}, {"features.0.bias", HB_BLOCK_BIAS, 1, {2}},
                  {"features.1.weight", HB_BLOCK_CONV, 4, {4, 2, 3, 3}}, {"features.1.bias", HB_BLOCK_BIAS, 1, {4}},
                  {"head.weight", HB_BLOCK_HEAD, 2, {3, 4}}, {"head.bias", HB_BLOCK_HEAD, 1, {3}}};
    check_blocks(m, want, 6);
    check_grad_fd(m);
    check_hvp_fd(m, true);
    check_multi_and_block(m);
    hb_model_free(m);
    /* one stage, odd side (5 → 2: the last row/column is dropped by the pool) */
    int64_t kv1[] = {HB_MK_IMAGE_SIZE, 5, HB_MK_CONV_WIDTH, 3, HB_MK_CONV_STAGES, 1, HB_MK_CLASSES, 2,
                     HB_MK_BATCH, 4};
    m = make_model(ctx, HB_MODEL_CNN, kv1, 5);
    ck_assert_uint_eq(nparams(m), 3 * 9 + 3 + 2 * 12 + 2);
    check_grad_fd(m);
    check_hvp_fd(m, false);
    check_multi_and_block(m);
    hb_model_free(m);
    /* too many stages for the image */
    hb_model_config *c = NULL;
    ck_assert_int_eq(hb_model_config_create(ctx, HB_MODEL_CNN, &c), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(c, HB_MK_IMAGE_SIZE, 4), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(c, HB_MK_CONV_STAGES, 3), HB_OK);
    m = (hb_model *)1;
    ck_assert_int_eq(hb_model_create(ctx, c, &m), HB_EINVAL);
    ck_assert_ptr_null(m);
    hb_model_config_free(c);
    hb_context_free(ctx);
}
END_TEST

/* HB_MK_POOL = HB_POOL_MAX: same blocks, another function (the loss differs from the
 * average-pooling cnn's), gradient and HVP exact against differences (with this seed no
 * window's two largest values lie within the stencil of each other), the dense Hessian
 * symmetric; an unknown pooling is HB_EINVAL at the setter. */
START_TEST(test_cnn_max_pool) {
    hb_context *ctx = hb_test_context(1, 19);
    int64_t kv[16];
    memcpy(kv, cnn_tiny, sizeof cnn_tiny);
    kv[12] = HB_MK_POOL, kv[13] = HB_POOL_MAX;
    hb_model *mx = make_model(ctx, HB_MODEL_CNN, kv, 7), *ma = make_model(ctx, HB_MODEL_CNN, cnn_tiny, 6);
    ck_assert_uint_eq(nparams(mx), nparams(ma));
    memcpy(theta(mx), theta(ma), nparams(ma) * sizeof(double));
    ck_assert(fabs(loss_of(mx) - loss_of(ma)) > 1e-6);
    check_grad_fd(mx);
    check_hvp_fd(mx, true);
    check_multi_and_block(mx);
    hb_model_free(mx), hb_model_free(ma);
    hb_model_config *c = NULL;
    ck_assert_int_eq(hb_model_config_create(ctx, HB_MODEL_CNN, &c), HB_OK);
    int64_t v = 0;
    ck_assert_int_eq(hb_model_config_get_i64(c, HB_MK_POOL, &v), HB_OK);
    ck_assert_int_eq(v, HB_POOL_AVG);
    ck_assert_int_eq(hb_model_config_set_i64(c, HB_MK_POOL, 3), HB_EINVAL);
    hb_model_config_free(c);
    ck_assert_int_eq(hb_model_config_create(ctx, HB_MODEL_MLP, &c), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(c, HB_MK_POOL, HB_POOL_MAX), HB_EINVAL);
    hb_model_config_free(c);
    hb_context_free(ctx);
}
END_TEST

static const int64_t cnn_small[] = {HB_MK_IMAGE_SIZE, 6, HB_MK_CONV_WIDTH, 2, HB_MK_CONV_STAGES, 2,
                                    HB_MK_CLASSES, 3};

START_TEST(test_cnn_batches_precisions) {
    check_micro_batches(HB_MODEL_CNN, cnn_small, 4, 4);
    check_precisions(HB_MODEL_CNN, cnn_small, 4);
}
END_TEST

START_TEST(test_cnn_bad_input_and_learning) {
    hb_context *ctx = hb_test_context(1, 23);
    int64_t kv[] = {HB_MK_IMAGE_SIZE, 8, HB_MK_CONV_WIDTH, 4, HB_MK_CONV_STAGES, 2, HB_MK_CLASSES, 3};
    hb_model *m = make_model(ctx, HB_MODEL_CNN, kv, 4);
    int64_t xs[4] = {2, 1, 8, 8};
    check_bad_input(m, 4, xs, 3);
    check_learns(m, 0.5, 60, 3);
    hb_model_free(m);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_cnn_oom) {
    int64_t q[] = {HB_MODEL_CNN, 4, HB_MK_IMAGE_SIZE, 4, HB_MK_CONV_WIDTH, 2, HB_MK_CONV_STAGES, 1,
                   HB_MK_BATCH, 2};
    ck_assert_int_ge(hb_test_oom_loop(create_kind, q), 10);
}
END_TEST

/* hvp_multi with more directions than the models' cache-sized chunks (mlp: ≈ 256 KiB of
 * R activations per buffer, cnn: ≈ 4 MiB), so several chunks and a remainder run: every
 * row must equal its single HVP (1e-13), and a k-direction block_hvp its padded rows. */
static void check_multi_rows(hb_model *m, size_t K) {
    size_t n = nparams(m);
    double *V = malloc(K * n * sizeof *V), *O = malloc(K * n * sizeof *O), *o1 = malloc(n * sizeof *o1);
    fill(V, K * n, 6.3);
    hvp_k(m, K, V, O);
    for (size_t j = 0; j < K; j++) {
        hvp_k(m, 1, V + j * n, o1);
        double e = rel_err(O + j * n, o1, n);
        ck_assert_msg(e <= 1e-13, "%s: chunked hvp_multi row %zu differs by %g", hb_model_name(m), j, e);
    }
    free(V), free(O), free(o1);
}

START_TEST(test_chunked_multi) {
    hb_context *ctx = hb_test_context(1, 29);
    /* mlp: N·width·8 B = 128·64·8 = 64 KiB → 4 directions per chunk; k = 10 → 4 + 4 + 2 */
    int64_t kv[] = {HB_MK_INPUTS, 4, HB_MK_WIDTH, 64, HB_MK_LAYERS, 1, HB_MK_CLASSES, 3, HB_MK_BATCH, 128};
    hb_model *m = make_model(ctx, HB_MODEL_MLP, kv, 5);
    check_multi_rows(m, 10);
    hb_model_free(m);
    /* cnn: N·C·S²·8 B = 16·8·256·8 = 256 KiB → 16 per chunk; k = 20 → 16 + 4 */
    int64_t kc[] = {HB_MK_IMAGE_SIZE, 16, HB_MK_CONV_WIDTH, 8, HB_MK_CONV_STAGES, 1, HB_MK_CLASSES, 3,
                    HB_MK_BATCH, 16};
    m = make_model(ctx, HB_MODEL_CNN, kc, 5);
    check_multi_rows(m, 20);
    hb_model_free(m);
    hb_context_free(ctx);
}
END_TEST

/* Two threads (BLIS and OpenMP loops) give the same loss, gradient and H·V as one, up to
 * summation order (1e-12). */
START_TEST(test_threads) {
    hb_model_kind kinds[2] = {HB_MODEL_MLP, HB_MODEL_CNN};
    int64_t kv[2][4] = {{HB_MK_WIDTH, 48, HB_MK_BATCH, 32}, {HB_MK_IMAGE_SIZE, 8, HB_MK_BATCH, 16}};
    for (int t = 0; t < 2; t++) {
        hb_context *c1 = hb_test_context(1, 31), *c2 = hb_test_context(2, 31);
        hb_model *m1 = make_model(c1, kinds[t], kv[t], 2), *m2 = make_model(c2, kinds[t], kv[t], 2);
        size_t n = nparams(m1), K = 3;
        double *g1 = malloc(n * sizeof *g1), *g2 = malloc(n * sizeof *g2), l1, l2;
        double *V = malloc(K * n * sizeof *V), *O1 = malloc(K * n * sizeof *O1), *O2 = malloc(K * n * sizeof *O2);
        grad_of(m1, g1, &l1);
        grad_of(m2, g2, &l2);
        HB_ASSERT_CLOSE(l1, l2, 1e-12);
        ck_assert(rel_err(g2, g1, n) <= 1e-12);
        fill(V, K * n, 7.7);
        hvp_k(m1, K, V, O1);
        hvp_k(m2, K, V, O2);
        ck_assert_msg(rel_err(O2, O1, K * n) <= 1e-12, "%s threads: %g", hb_model_name(m1),
                      rel_err(O2, O1, K * n));
        free(g1), free(g2), free(V), free(O1), free(O2);
        hb_model_free(m1), hb_model_free(m2);
        hb_context_free(c1), hb_context_free(c2);
    }
}
END_TEST

/* Inputs in the other float dtype are converted: an f32 batch gives exactly the loss of
 * the f64 batch holding the same (f32-representable) values. Quadratic queries on a
 * non-quadratic model are HB_EUNSUPPORTED. */
START_TEST(test_input_dtype_conversion) {
    hb_context *ctx = hb_test_context(1, 37);
    hb_model *m = make_model(ctx, HB_MODEL_MLP, mlp_small, 5);
    int64_t xs[2] = {5, 6}, ys[1] = {5};
    hb_tensor *x64 = NULL, *x32 = NULL, *y = NULL;
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F64, 2, xs, &x64), HB_OK);
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F32, 2, xs, &x32), HB_OK);
    ck_assert_int_eq(hb_tensor_create(ctx, HB_I32, 1, ys, &y), HB_OK);
    for (size_t i = 0; i < 30; i++) {
        double v = (double)(float)sin(1.0 + (double)i);
        ck_assert_int_eq(hb_tensor_set_f64(x64, i, v), HB_OK);
        ck_assert_int_eq(hb_tensor_set_f64(x32, i, v), HB_OK);
    }
    for (size_t i = 0; i < 5; i++) ck_assert_int_eq(hb_tensor_set_f64(y, i, (double)(i % 4)), HB_OK);
    ck_assert_int_eq(hb_model_set_batch(m, x64, y), HB_OK);
    double l64 = loss_of(m);
    ck_assert_int_eq(hb_model_set_batch(m, x32, y), HB_OK);
    ck_assert(loss_of(m) == l64);
    double w[1];
    ck_assert_int_eq(hb_model_quadratic_eigenvalues(m, 0, w, 1), HB_EUNSUPPORTED);
    ck_assert_int_eq(hb_model_quadratic_matrix(m, 0, w, 1), HB_EUNSUPPORTED);
    hb_tensor_free(x64), hb_tensor_free(x32), hb_tensor_free(y);
    hb_model_free(m);
    hb_context_free(ctx);
}
END_TEST

Suite *hb_suite_models(void) {
    Suite *s = suite_create("models");
    TCase *tq = tcase_create("quadratic");
    tcase_add_test(tq, test_quadratic_dense_exact);
    tcase_add_test(tq, test_quadratic_create_bad_input);
    tcase_add_test(tq, test_quadratic_families);
    tcase_add_test(tq, test_quadratic_oom);
    suite_add_tcase(s, tq);
    TCase *tm = tcase_create("mlp");
    tcase_add_test(tm, test_mlp_exact);
    tcase_add_test(tm, test_mlp_batches_precisions);
    tcase_add_test(tm, test_mlp_bad_input_and_learning);
    tcase_add_test(tm, test_mlp_oom);
    tcase_add_test(tm, test_input_dtype_conversion);
    suite_add_tcase(s, tm);
    TCase *tc = tcase_create("cnn");
    tcase_add_test(tc, test_cnn_exact);
    tcase_add_test(tc, test_cnn_max_pool);
    tcase_add_test(tc, test_cnn_batches_precisions);
    tcase_add_test(tc, test_cnn_bad_input_and_learning);
    tcase_add_test(tc, test_cnn_oom);
    tcase_add_test(tc, test_chunked_multi);
    suite_add_tcase(s, tc);
    TCase *tt = tcase_create("threads");
    tcase_add_test(tt, test_threads);
    suite_add_tcase(s, tt);
    return s;
}
