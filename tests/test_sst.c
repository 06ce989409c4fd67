/* SST spectral layers and LoRA wrappers, on the test-only softmax-regression model
 * (tests/hb_fake_model.h), f64: zero distortion, gradients against finite differences and
 * against their formulas, re-SVD orthonormality, sampling frequencies, the schedule. */
#include <stdlib.h>
#include <string.h>

#include "hb_fake_model.h"
#include "optim/optim_internal.h"
#include "sst/sst_internal.h"
#include "hb_test.h"

/* The wrapper over fake(C, D) with every LINEAR block converted. */
static hb_model *wrap(hb_context *ctx, hb_model *inner, hb_sst_method method, int64_t r,
                      int64_t grad_mode, int64_t iteration) {
    hb_sst_config *cfg = NULL;
    hb_model *w = NULL;
    ck_assert_int_eq(hb_sst_config_create(ctx, method, &cfg), HB_OK);
    ck_assert_int_eq(hb_sst_config_add_kind(cfg, HB_BLOCK_LINEAR), HB_OK);
    ck_assert_int_eq(hb_sst_config_set_i64(cfg, HB_SST_RANK, r), HB_OK);
    if (method == HB_SST_METHOD_SPECTRAL) {
        ck_assert_int_eq(hb_sst_config_set_i64(cfg, HB_SST_GRADIENT, grad_mode), HB_OK);
        ck_assert_int_eq(hb_sst_config_set_i64(cfg, HB_SST_ITERATION, iteration), HB_OK);
    }
    ck_assert_int_eq(hb_sst_create(inner, cfg, &w), HB_OK);
    hb_sst_config_free(cfg);
    return w;
}

/* An SST wrapper (enhanced gradient) over every LINEAR block with r active pairs,
 * iteration T3 and re-warm length `rewarm`. */
static hb_model *wrap_sched(hb_context *ctx, hb_model *inner, int64_t r, int64_t iteration,
                            int64_t rewarm) {
    hb_sst_config *cfg = NULL;
    hb_model *w = NULL;
    ck_assert_int_eq(hb_sst_config_create(ctx, HB_SST_METHOD_SPECTRAL, &cfg), HB_OK);
    ck_assert_int_eq(hb_sst_config_add_kind(cfg, HB_BLOCK_LINEAR), HB_OK);
    ck_assert_int_eq(hb_sst_config_set_i64(cfg, HB_SST_RANK, r), HB_OK);
    ck_assert_int_eq(hb_sst_config_set_i64(cfg, HB_SST_ITERATION, iteration), HB_OK);
    ck_assert_int_eq(hb_sst_config_set_i64(cfg, HB_SST_REWARM, rewarm), HB_OK);
    ck_assert_int_eq(hb_sst_create(inner, cfg, &w), HB_OK);
    hb_sst_config_free(cfg);
    return w;
}

static double *block_ptr(hb_model *m, const char *name, size_t *numel) {
    hb_params *p = hb_model_params(m);
    size_t b, off;
    ck_assert_int_eq(hb_params_find_block(p, name, &b), HB_OK);
    ck_assert_int_eq(hb_params_block_info(p, b, NULL, NULL, &off, numel, NULL, NULL), HB_OK);
    return (double *)hb_params_data(p) + off;
}

static double *grad_ptr(hb_model *m, const char *name) {
    hb_params *p = hb_model_params(m);
    size_t b, off;
    ck_assert_int_eq(hb_params_find_block(p, name, &b), HB_OK);
    ck_assert_int_eq(hb_params_block_info(p, b, NULL, NULL, &off, NULL, NULL, NULL), HB_OK);
    return (double *)hb_params_grad(p) + off;
}

static double max_abs(const double *x, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}

/* The wrapper gradient of layer "fc.weight" (C×D, k, r active pairs) against the chain
 * rule on the inner gradient G: ∇s_i = u_iᵀGv_i for all i; ∇Ua[:,j] = f·G·v_{idx_j},
 * ∇Vta[j,:] = f·u_{idx_j}ᵀ·G with f = s_{idx_j} (exact) or 1 (enhanced); the frozen
 * blocks U, Vt, idx get exactly 0; Ua/Vta hold the active columns/rows of U/Vt. */
static void check_pair_grads(hb_model *w, const double *G, int64_t C, int64_t D, int64_t k,
                             int64_t r, bool exact) {
    size_t n;
    double *U = block_ptr(w, "fc.weight.U", &n), *s = block_ptr(w, "fc.weight.s", &n),
           *Vt = block_ptr(w, "fc.weight.Vt", &n), *Ua = block_ptr(w, "fc.weight.Ua", &n),
           *Vta = block_ptr(w, "fc.weight.Vta", &n), *idx = block_ptr(w, "fc.weight.idx", &n);
    ck_assert_uint_eq(n, (size_t)r);
    double *gU = grad_ptr(w, "fc.weight.U"), *gs = grad_ptr(w, "fc.weight.s"),
           *gV = grad_ptr(w, "fc.weight.Vt"), *gUa = grad_ptr(w, "fc.weight.Ua"),
           *gVa = grad_ptr(w, "fc.weight.Vta"), *gi = grad_ptr(w, "fc.weight.idx");
    int64_t act[64];
    ck_assert_int_eq(hb_sst_active(w, 0, act), HB_OK);
    for (int64_t j = 0; j < r; j++) ck_assert(idx[j] == (double)act[j]);
    double gmax = max_abs(G, (size_t)(C * D));
    for (int64_t i = 0; i < k; i++) {
        double si = 0;
        for (int64_t a = 0; a < C; a++)
            for (int64_t j = 0; j < D; j++) si += U[a * k + i] * G[a * D + j] * Vt[i * D + j];
        /* sums of C·D products of O(gmax) terms: 1e-12 relative to gmax */
        ck_assert_msg(fabs(gs[i] - si) <= 1e-12 * gmax * C * D, "grad s[%ld]", (long)i);
    }
    for (size_t i = 0; i < (size_t)(C * k); i++) ck_assert(gU[i] == 0);
    for (size_t i = 0; i < (size_t)(k * D); i++) ck_assert(gV[i] == 0);
    for (int64_t j = 0; j < r; j++) ck_assert(gi[j] == 0);
    for (int64_t j = 0; j < r; j++) {
        int64_t i = act[j];
        double f = exact ? s[i] : 1.0;
        for (int64_t a = 0; a < C; a++) {
            ck_assert(Ua[a * r + j] == U[a * k + i]);
            double e = 0;
            for (int64_t q = 0; q < D; q++) e += G[a * D + q] * Vt[i * D + q];
            ck_assert(fabs(gUa[a * r + j] - e * f) <= 1e-12 * gmax * D * fmax(1, s[0]));
        }
        for (int64_t q = 0; q < D; q++) {
            ck_assert(Vta[j * D + q] == Vt[i * D + q]);
            double e = 0;
            for (int64_t a = 0; a < C; a++) e += U[a * k + i] * G[a * D + q];
            ck_assert(fabs(gVa[j * D + q] - e * f) <= 1e-12 * gmax * C * fmax(1, s[0]));
        }
    }
}

/* Zero distortion at init, tall and wide, 3 micro-batches; the exact-mode gradient equals
 * the chain rule applied to the dense model's G. */
static void zero_distortion(int64_t C, int64_t D) {
    hb_context *ctx = hb_test_context(1, 21);
    hb_model *inner = NULL;
    ck_assert_int_eq(fake_model_create(ctx, C, D, 6, &inner), HB_OK);
    ck_assert_int_eq(hb_model_set_synthetic(inner, 3, 2, 100), HB_OK);
    size_t nw, nb;
    double *W = block_ptr(inner, "fc.weight", &nw);
    block_ptr(inner, "fc.bias", &nb);
    double W0[64 * 64], G[64 * 64], gb[64], l_dense, l_wrap;
    memcpy(W0, W, nw * sizeof *W);
    ck_assert_int_eq(hb_model_loss_grad(inner, &l_dense), HB_OK);
    memcpy(G, grad_ptr(inner, "fc.weight"), nw * sizeof *G);
    memcpy(gb, grad_ptr(inner, "fc.bias"), nb * sizeof *gb);

    hb_model *w = wrap(ctx, inner, HB_SST_METHOD_SPECTRAL, 2, HB_SST_GRAD_EXACT, 200);
    ck_assert_int_eq(hb_sst_is_wrapper(w), 1);
    ck_assert_int_eq(hb_sst_is_wrapper(inner), 0);
    ck_assert_str_eq(hb_model_name(w), "sst");
    ck_assert_int_eq(hb_model_set_synthetic(w, 3, 2, 100), HB_OK);
    ck_assert_int_eq(hb_model_loss_grad(w, &l_wrap), HB_OK);
    /* SVD reconstruction: W = U·S·Vᵀ up to O(k·eps·‖W‖); the loss is Lipschitz in W with a
     * constant of order ‖x‖ ≈ 3: 1e-12 relative is ~100 ulps of room. */
    HB_ASSERT_CLOSE(l_wrap, l_dense, 1e-12);
    double scale = max_abs(W0, nw);
    for (size_t i = 0; i < nw; i++)
        ck_assert_msg(fabs(W[i] - W0[i]) <= 1e-13 * scale, "W[%zu] moved by %g", i, W[i] - W0[i]);
    double *gbw = grad_ptr(w, "fc.bias");
    for (size_t i = 0; i < nb; i++) HB_ASSERT_CLOSE(gbw[i], gb[i], 1e-12);
    /* Exact gradient = chain rule on G, for s and the active pairs:
     * ∇s_i = u_iᵀGv_i, ∇Ua[:,j] = s_{idx_j}·G·v_{idx_j}, ∇Vta[j,:] = s_{idx_j}·u_{idx_j}ᵀG. */
    size_t nu, ns, nv;
    int64_t k = C < D ? C : D;
    block_ptr(w, "fc.weight.U", &nu);
    block_ptr(w, "fc.weight.s", &ns);
    block_ptr(w, "fc.weight.Vt", &nv);
    ck_assert_uint_eq(nu, (size_t)(C * k));
    ck_assert_uint_eq(ns, (size_t)k);
    ck_assert_uint_eq(nv, (size_t)(k * D));
    check_pair_grads(w, G, C, D, k, 2, true);
    hb_model_free(w);
    hb_model_free(inner);
    hb_context_free(ctx);
}

/* The built-in mlp, f64 and f32 (sgesdd path): the wrapper over its LINEAR blocks starts
 * at the dense model's loss and unconverted-block gradients. */
static void mlp_zero_distortion(hb_dtype dt, double tol) {
    hb_context *ctx = hb_test_context(1, 28);
    hb_model_config *cfg = NULL;
    hb_model *dense = NULL, *w = NULL;
    ck_assert_int_eq(hb_model_config_create(ctx, HB_MODEL_MLP, &cfg), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_DTYPE, dt), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_INPUTS, 12), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_WIDTH, 10), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_CLASSES, 5), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_BATCH, 8), HB_OK);
    ck_assert_int_eq(hb_model_create(ctx, cfg, &dense), HB_OK);
    ck_assert_int_eq(hb_model_set_synthetic(dense, 2, 0, 0), HB_OK);
    hb_params *dp = hb_model_params(dense);
    size_t n = hb_params_count(dp), nb = hb_params_num_blocks(dp);
    double ld, lw, gd[2048], th[2048];
    ck_assert(n <= 2048);
    ck_assert_int_eq(hb_model_loss_grad(dense, &ld), HB_OK);
    for (size_t i = 0; i < n; i++) {
        gd[i] = dt == HB_F64 ? ((double *)hb_params_grad(dp))[i] : ((float *)hb_params_grad(dp))[i];
        th[i] = dt == HB_F64 ? ((double *)hb_params_data(dp))[i] : ((float *)hb_params_data(dp))[i];
    }
    hb_sst_config *scfg = NULL;
    ck_assert_int_eq(hb_sst_config_create(ctx, HB_SST_METHOD_SPECTRAL, &scfg), HB_OK);
    ck_assert_int_eq(hb_sst_config_add_kind(scfg, HB_BLOCK_LINEAR), HB_OK);
    ck_assert_int_eq(hb_sst_create(dense, scfg, &w), HB_OK);
    size_t nl;
    ck_assert_int_eq(hb_sst_num_layers(w, &nl), HB_OK);
    ck_assert_uint_eq(nl, 2); /* layers.0.weight (10×12), layers.1.weight (10×10) */
    ck_assert_int_eq(hb_model_set_synthetic(w, 2, 0, 0), HB_OK);
    ck_assert_int_eq(hb_model_loss_grad(w, &lw), HB_OK);
    HB_ASSERT_CLOSE(lw, ld, tol);
    hb_params *wp = hb_model_params(w);
    for (size_t b = 0; b < nb; b++) { /* unconverted blocks: same gradient */
        const char *name = hb_params_block_name(dp, b);
        size_t wb, off, num, woff;
        if (hb_params_find_block(wp, name, &wb) != HB_OK) continue;
        hb_params_block_info(dp, b, NULL, NULL, &off, &num, NULL, NULL);
        hb_params_block_info(wp, wb, NULL, NULL, &woff, NULL, NULL, NULL);
        for (size_t i = 0; i < num; i++) {
            double g = dt == HB_F64 ? ((double *)hb_params_grad(wp))[woff + i]
                                    : ((float *)hb_params_grad(wp))[woff + i];
            HB_ASSERT_CLOSE(g, gd[off + i], tol);
        }
    }
    ck_assert_int_eq(hb_sst_sync(w), HB_OK); /* the inner W is the original one */
    for (size_t i = 0; i < n; i++) {
        double v = dt == HB_F64 ? ((double *)hb_params_data(dp))[i] : ((float *)hb_params_data(dp))[i];
        ck_assert_msg(fabs(v - th[i]) <= tol, "θ[%zu] %g vs %g", i, v, th[i]);
    }
    hb_sst_config_free(scfg);
    hb_model_free(w);
    hb_model_free(dense);
    hb_model_config_free(cfg);
    hb_context_free(ctx);
}

/* f64: SVD reconstruction error O(k·eps·‖W‖) ≈ 1e-15 propagated through two layers and a
 * softmax: 1e-12. f32: the same with eps_f32 ≈ 6e-8 times k = 10 and the depth: 2e-5. */
START_TEST(test_mlp_zero_distortion) {
    mlp_zero_distortion(HB_F64, 1e-12);
    mlp_zero_distortion(HB_F32, 2e-5);
}
END_TEST

START_TEST(test_zero_distortion_wide) { zero_distortion(5, 7); }
END_TEST
START_TEST(test_zero_distortion_tall) { zero_distortion(7, 4); }
END_TEST

/* Central differences of the wrapper's loss in every U, s, Vᵀ (and LoRA A, B) scalar. */
static void check_fd(hb_model *w, const char *const *blocks, size_t n_blocks) {
    double l;
    ck_assert_int_eq(hb_model_loss_grad(w, &l), HB_OK);
    for (size_t b = 0; b < n_blocks; b++) {
        size_t n;
        double *x = block_ptr(w, blocks[b], &n), *g = grad_ptr(w, blocks[b]);
        double gcopy[512];
        ck_assert(n <= 512);
        memcpy(gcopy, g, n * sizeof *g);
        for (size_t i = 0; i < n; i++) {
            const double h = 1e-5, x0 = x[i];
            double lp, lm;
            x[i] = x0 + h;
            ck_assert_int_eq(hb_model_loss(w, &lp), HB_OK);
            x[i] = x0 - h;
            ck_assert_int_eq(hb_model_loss(w, &lm), HB_OK);
            x[i] = x0;
            double fd = (lp - lm) / (2 * h);
            /* truncation h²·L'''/6 ≈ 1e-10, rounding eps·L/h ≈ 1e-11: 1e-8 absolute/relative */
            ck_assert_msg(fabs(fd - gcopy[i]) <= 1e-8 * fmax(1, fabs(fd)), "%s[%zu]: fd %.12g vs %.12g",
                          blocks[b], i, fd, gcopy[i]);
        }
    }
}

START_TEST(test_gradients_fd_and_enhanced) {
    hb_context *ctx = hb_test_context(1, 22);
    hb_model *inner = NULL;
    ck_assert_int_eq(fake_model_create(ctx, 4, 6, 8, &inner), HB_OK);
    /* Exact mode: the gradient of L(Ua, s, Vta) by central differences, with 2 of 4 pairs
       active and with every pair active (rank = k: U, s, Vᵀ in full). */
    const char *names[] = {"fc.weight.Ua", "fc.weight.s", "fc.weight.Vta", "fc.bias"};
    for (int64_t r = 2; r <= 4; r += 2) {
        hb_model *w = wrap(ctx, inner, HB_SST_METHOD_SPECTRAL, r, HB_SST_GRAD_EXACT, 200);
        ck_assert_int_eq(hb_model_set_synthetic(w, 2, 0, 0), HB_OK);
        check_fd(w, names, 4);
        hb_model_free(w);
    }

    /* Enhanced form against its formula, with the active set the wrapper reports. */
    hb_model *w = wrap(ctx, inner, HB_SST_METHOD_SPECTRAL, 2, HB_SST_GRAD_ENHANCED, 200);
    ck_assert_int_eq(hb_model_set_synthetic(w, 2, 0, 0), HB_OK);
    double l;
    ck_assert_int_eq(hb_model_loss_grad(w, &l), HB_OK);
    const double *G = hb_params_grad(hb_model_params(hb_sst_inner(w))); /* fc.weight first */
    int64_t act[2];
    ck_assert_int_eq(hb_sst_active(w, 0, act), HB_OK);
    ck_assert(act[0] < act[1] && act[0] >= 0 && act[1] < 4);
    check_pair_grads(w, G, 4, 6, 4, 2, false);
    hb_model_free(w);
    hb_model_free(inner);
    hb_context_free(ctx);
}
END_TEST

static void check_orthonormal(hb_model *w, int64_t out, int64_t in, int64_t k, double tol) {
    size_t n;
    double *U = block_ptr(w, "fc.weight.U", &n), *Vt = block_ptr(w, "fc.weight.Vt", &n),
           *s = block_ptr(w, "fc.weight.s", &n);
    for (int64_t i = 0; i < k; i++) {
        if (i + 1 < k) ck_assert(s[i] >= s[i + 1]);
        ck_assert(s[i] >= 0);
        for (int64_t j = 0; j < k; j++) {
            double uu = 0, vv = 0;
            for (int64_t a = 0; a < out; a++) uu += U[a * k + i] * U[a * k + j];
            for (int64_t a = 0; a < in; a++) vv += Vt[i * in + a] * Vt[j * in + a];
            ck_assert_msg(fabs(uu - (i == j)) <= tol && fabs(vv - (i == j)) <= tol,
                          "UᵀU[%ld,%ld] = %.3e, VᵀV = %.3e", (long)i, (long)j, uu, vv);
        }
    }
}

START_TEST(test_resvd_and_schedule) {
    hb_context *ctx = hb_test_context(1, 23);
    hb_model *inner = NULL;
    ck_assert_int_eq(fake_model_create(ctx, 5, 7, 8, &inner), HB_OK);
    /* Exact gradients move U and V off orthonormality; re-SVD restores it. */
    hb_model *w = wrap(ctx, inner, HB_SST_METHOD_SPECTRAL, 5, HB_SST_GRAD_EXACT, 1000);
    check_orthonormal(w, 5, 7, 5, 1e-13);
    hb_trainer *tr = NULL;
    ck_assert_int_eq(hb_trainer_create(w, NULL, &tr), HB_OK);
    ck_assert_int_eq(hb_trainer_set_f64(tr, HB_TR_LR, 0.3), HB_OK);
    ck_assert_int_eq(hb_trainer_run(tr, 20), HB_OK);
    ck_assert_int_eq(hb_sst_sync(w), HB_OK); /* N.U/N.Vt current */
    size_t n;
    double *U = block_ptr(w, "fc.weight.U", &n);
    double uu = 0;
    for (int a = 0; a < 5; a++) uu += U[a * 5] * U[a * 5];
    ck_assert_msg(fabs(uu - 1) > 1e-8, "training did not move U off the sphere (%g)", uu);
    double Wb[35], W2[35];
    ck_assert_int_eq(hb_sst_sync(w), HB_OK);
    memcpy(Wb, block_ptr(inner, "fc.weight", &n), sizeof Wb);
    double lb, la;
    ck_assert_int_eq(hb_model_loss(w, &lb), HB_OK);
    ck_assert_int_eq(hb_sst_resvd(w), HB_OK);
    /* LAPACK's SVD is backward stable: orthonormality to O(k·eps) — 1e-12 as required. */
    check_orthonormal(w, 5, 7, 5, 1e-12);
    ck_assert_int_eq(hb_sst_sync(w), HB_OK);
    memcpy(W2, block_ptr(inner, "fc.weight", &n), sizeof W2);
    double sc = max_abs(Wb, 35);
    for (int i = 0; i < 35; i++) ck_assert(fabs(W2[i] - Wb[i]) <= 1e-13 * sc); /* rounding only */
    ck_assert_int_eq(hb_model_loss(w, &la), HB_OK);
    HB_ASSERT_CLOSE(la, lb, 1e-12);
    hb_trainer_free(tr);
    hb_model_free(w);

    /* Enhanced mode, T3 = 30, re-warm 10: inactive pairs are bit-for-bit frozen during an
     * iteration, active ones move, s ≥ 0; at step 30 the boundary re-SVDs and redraws. */
    w = wrap_sched(ctx, inner, 2, 30, 10);
    double U0[25], V0[35], s0[5];
    memcpy(U0, block_ptr(w, "fc.weight.U", &n), sizeof U0);
    memcpy(V0, block_ptr(w, "fc.weight.Vt", &n), sizeof V0);
    memcpy(s0, block_ptr(w, "fc.weight.s", &n), sizeof s0);
    int64_t act[2];
    ck_assert_int_eq(hb_sst_active(w, 0, act), HB_OK);
    ck_assert_int_eq(hb_trainer_create(w, NULL, &tr), HB_OK);
    ck_assert_int_eq(hb_trainer_set_f64(tr, HB_TR_LR, 0.3), HB_OK);
    ck_assert_int_eq(hb_trainer_run(tr, 30), HB_OK);
    U = block_ptr(w, "fc.weight.U", &n);
    double *Vt = block_ptr(w, "fc.weight.Vt", &n), *s = block_ptr(w, "fc.weight.s", &n);
    ck_assert_int_eq(hb_sst_sync(w), HB_OK);
    int moved = 0, s_moved = 0;
    for (int i = 0; i < 5; i++) {
        bool on = i == act[0] || i == act[1];
        for (int a = 0; a < 5; a++) {
            if (!on) ck_assert(U[a * 5 + i] == U0[a * 5 + i]);
            else moved += U[a * 5 + i] != U0[a * 5 + i];
        }
        for (int a = 0; a < 7; a++) {
            if (!on) ck_assert(Vt[i * 7 + a] == V0[i * 7 + a]);
            else moved += Vt[i * 7 + a] != V0[i * 7 + a];
        }
        s_moved += s[i] != s0[i];
        ck_assert(s[i] >= 0);
    }
    ck_assert_int_gt(moved, 20);
    ck_assert_int_eq(s_moved, 5);
    double lr;
    ck_assert_int_eq(hb_trainer_record_f64(tr, 29, HB_REC_LR, &lr), HB_OK);
    ck_assert(lr == 0.3);
    ck_assert_int_eq(hb_trainer_run(tr, 12), HB_OK); /* steps 30..41: boundary at 30 */
    for (int t = 30; t < 42; t++) { /* re-warm: lr·min(1, (t−30+1)/10) */
        ck_assert_int_eq(hb_trainer_record_f64(tr, (size_t)t, HB_REC_LR, &lr), HB_OK);
        HB_ASSERT_CLOSE(lr, 0.3 * fmin(1.0, (t - 30 + 1) / 10.0), 1e-15);
    }
    ck_assert(block_ptr(w, "sst.iteration", &n)[0] == 1);
    /* s clamp */
    ck_assert_int_eq(hb_sst_begin_step(w, 42, NULL, NULL), HB_OK);
    s = block_ptr(w, "fc.weight.s", &n);
    s[4] = -0.5;
    ck_assert_int_eq(hb_sst_end_step(w), HB_OK);
    ck_assert(s[4] == 0);
    double scale;
    ck_assert_int_eq(hb_sst_begin_step(w, 45, NULL, &scale), HB_OK);
    ck_assert(scale == 1);
    /* A selection block written by hand with garbage is refused, not used. */
    double *idx = block_ptr(w, "fc.weight.idx", &n), keep = idx[1];
    idx[1] = idx[0];
    ck_assert_int_eq(hb_model_loss(w, &la), HB_ESTATE);
    ck_assert_int_eq(hb_sst_begin_step(w, 46, NULL, NULL), HB_ESTATE);
    ck_assert_int_eq(hb_sst_active(w, 0, act), HB_ESTATE);
    idx[1] = 7.5;
    ck_assert_int_eq(hb_sst_resvd(w), HB_ESTATE);
    idx[1] = keep;
    ck_assert_int_eq(hb_model_loss(w, &la), HB_OK);
    hb_trainer_free(tr);
    hb_model_free(w);
    hb_model_free(inner);
    hb_context_free(ctx);
}
END_TEST

/* Sampling ∝ s: with r = 1 each iteration draws one index from the multinomial law
 * p_i = (1−μ)s_i/Σs + μ/k; chi-square over 20000 boundaries, fixed seed. With r = 2 the
 * inclusion probability π_i = p_i + Σ_{j≠i} p_j·p_i/(1−p_j) (sequential draws). */
static void sampling(int64_t r, double mix) {
    hb_context *ctx = hb_test_context(1, 24);
    hb_model *inner = NULL, *w = NULL;
    ck_assert_int_eq(fake_model_create(ctx, 5, 7, 4, &inner), HB_OK);
    hb_sst_config *cfg = NULL;
    ck_assert_int_eq(hb_sst_config_create(ctx, HB_SST_METHOD_SPECTRAL, &cfg), HB_OK);
    ck_assert_int_eq(hb_sst_config_add_kind(cfg, HB_BLOCK_LINEAR), HB_OK);
    ck_assert_int_eq(hb_sst_config_set_i64(cfg, HB_SST_RANK, r), HB_OK);
    ck_assert_int_eq(hb_sst_config_set_i64(cfg, HB_SST_ITERATION, 1), HB_OK);
    ck_assert_int_eq(hb_sst_config_set_f64(cfg, HB_SST_UNIFORM_MIX, mix), HB_OK);
    ck_assert_int_eq(hb_sst_create(inner, cfg, &w), HB_OK);
    hb_sst_config_free(cfg);
    size_t n;
    double *s = block_ptr(w, "fc.weight.s", &n);
    const double sv[5] = {5, 4, 3, 2, 1}; /* sorted: re-SVD keeps them (to rounding) */
    memcpy(s, sv, sizeof sv);
    double p[5], pi[5];
    for (int i = 0; i < 5; i++) p[i] = (1 - mix) * sv[i] / 15.0 + mix / 5.0;
    for (int i = 0; i < 5; i++) {
        pi[i] = p[i];
        if (r == 2)
            for (int j = 0; j < 5; j++)
                if (j != i) pi[i] += p[j] * p[i] / (1 - p[j]);
    }
    const int T = 20000;
    long count[5] = {0};
    for (int t = 1; t <= T; t++) {
        int64_t act[2];
        ck_assert_int_eq(hb_sst_begin_step(w, t, NULL, NULL), HB_OK);
        ck_assert_int_eq(hb_sst_active(w, 0, act), HB_OK);
        for (int j = 0; j < r; j++) count[act[j]]++;
    }
    s = block_ptr(w, "fc.weight.s", &n);
    for (int i = 0; i < 5; i++) HB_ASSERT_CLOSE(s[i], sv[i], 1e-10); /* re-SVD drift */
    if (r == 1) {
        double chi2 = 0;
        for (int i = 0; i < 5; i++) chi2 += pow(count[i] - T * p[i], 2) / (T * p[i]);
        /* 4 degrees of freedom: P(χ² > 18.47) = 0.001 */
        ck_assert_msg(chi2 < 18.47, "chi-square %g", chi2);
    } else {
        for (int i = 0; i < 5; i++) { /* each inclusion count is binomial(T, π_i): 4.5 σ */
            double sd = sqrt(T * pi[i] * (1 - pi[i]));
            ck_assert_msg(fabs(count[i] - T * pi[i]) < 4.5 * sd, "index %d: %ld vs %g", i, count[i],
                          T * pi[i]);
        }
    }
    hb_model_free(w);
    hb_model_free(inner);
    hb_context_free(ctx);
}

START_TEST(test_sampling_multinomial) { sampling(1, 0.0); }
END_TEST
START_TEST(test_sampling_mixed_pairs) {
    sampling(1, 0.4);
    sampling(2, 0.0);
}
END_TEST

static size_t block_index(hb_model *w, const char *name) {
    size_t b;
    ck_assert_int_eq(hb_params_find_block(hb_model_params(w), name, &b), HB_OK);
    return b;
}

/* AdamW with weight decay on every block: the optimizer holds state for s and the active
 * pairs only; inactive pairs stay bit-for-bit unchanged within an iteration; at a boundary
 * the state of Ua/Vta is zeroed (s keeps its own) and the re-warm goes through
 * HB_OPT_LR_MULT. */
START_TEST(test_with_optimizer) {
    hb_context *ctx = hb_test_context(1, 27);
    hb_model *inner = NULL, *w = NULL;
    ck_assert_int_eq(fake_model_create(ctx, 5, 7, 8, &inner), HB_OK);
    w = wrap_sched(ctx, inner, 2, 10, 5);
    hb_params *wp = hb_model_params(w);
    hb_optimizer *opt = NULL;
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_ADAMW, wp, &opt), HB_OK);
    ck_assert_int_eq(hb_optimizer_set_f64(opt, HB_OPT_LR, 0.01), HB_OK);
    ck_assert_int_eq(hb_optimizer_set_f64(opt, HB_OPT_WEIGHT_DECAY, 0.1), HB_OK);
    ck_assert_int_eq(hb_optimizer_set_i64(opt, HB_OPT_DECAY_NORMS_BIASES, 1), HB_OK);
    /* State only for s and the active pairs (+ the bias): 2 moments × f64 × count. */
    size_t tc, bytes;
    ck_assert_int_eq(hb_sst_trainable_count(w, &tc), HB_OK);
    ck_assert_uint_eq(tc, 5 + 2 * (5 + 7) + 5);
    ck_assert_uint_eq(hb_params_trainable_count(wp), tc);
    ck_assert_int_eq(hb_optimizer_state_bytes(opt, &bytes), HB_OK);
    ck_assert_uint_eq(bytes, 2 * sizeof(double) * tc);
    const char *frozen[] = {"fc.weight.U", "fc.weight.Vt", "fc.weight.idx", "sst.iteration"};
    for (int i = 0; i < 4; i++) {
        int tr = -1;
        ck_assert_int_eq(hb_params_block_trainable(wp, block_index(w, frozen[i]), &tr), HB_OK);
        ck_assert_int_eq(tr, 0);
    }
    hb_trainer *tr = NULL;
    ck_assert_int_eq(hb_trainer_create(w, opt, &tr), HB_OK);
    size_t n;
    double U0[25], V0[35];
    int64_t act[2];
    memcpy(U0, block_ptr(w, "fc.weight.U", &n), sizeof U0);
    memcpy(V0, block_ptr(w, "fc.weight.Vt", &n), sizeof V0);
    ck_assert_int_eq(hb_sst_active(w, 0, act), HB_OK);
    ck_assert_int_eq(hb_trainer_run(tr, 10), HB_OK);
    ck_assert_int_eq(hb_sst_sync(w), HB_OK);
    double *U = block_ptr(w, "fc.weight.U", &n), *Vt = block_ptr(w, "fc.weight.Vt", &n);
    int moved = 0;
    for (int i = 0; i < 5; i++) {
        bool on = i == act[0] || i == act[1];
        for (int a = 0; a < 5; a++) {
            if (!on) ck_assert(U[a * 5 + i] == U0[a * 5 + i]);
            else moved += U[a * 5 + i] != U0[a * 5 + i];
        }
        for (int a = 0; a < 7; a++) {
            if (!on) ck_assert(Vt[i * 7 + a] == V0[i * 7 + a]);
            else moved += Vt[i * 7 + a] != V0[i * 7 + a];
        }
    }
    ck_assert_int_gt(moved, 20);
    /* boundary of iteration 1, by hand: the Ua/Vta state is zeroed, s keeps its state */
    const double *mom = opt->m;
    size_t bua = block_index(w, "fc.weight.Ua"), bva = block_index(w, "fc.weight.Vta"),
           bs = block_index(w, "fc.weight.s");
    double sc, mult;
    ck_assert_int_eq(hb_sst_begin_step(w, 10, opt, &sc), HB_OK);
    HB_ASSERT_CLOSE(sc, 1.0 / 5.0, 1e-15);
    ck_assert_int_eq(hb_optimizer_get_f64(opt, HB_OPT_LR_MULT, &mult), HB_OK);
    ck_assert(mult == sc);
    for (size_t i = opt->soff[bua]; i < opt->soff[bua + 1]; i++) ck_assert(mom[i] == 0);
    for (size_t i = opt->soff[bva]; i < opt->soff[bva + 1]; i++) ck_assert(mom[i] == 0);
    ck_assert_uint_eq(opt->soff[bua + 1] - opt->soff[bua], 10);
    int s_state = 0;
    for (size_t i = opt->soff[bs]; i < opt->soff[bs + 1]; i++) s_state += mom[i] != 0;
    ck_assert_int_eq(s_state, 5);
    check_orthonormal(w, 5, 7, 5, 1e-12); /* re-SVD'd */
    ck_assert_int_eq(hb_trainer_run(tr, 3), HB_OK);
    double lr, f;
    ck_assert_int_eq(hb_trainer_record_f64(tr, 11, HB_REC_LR, &lr), HB_OK);
    ck_assert_int_eq(hb_optimizer_lr_factor(opt, 12, &f), HB_OK);
    HB_ASSERT_CLOSE(lr, 0.01 * f * 2.0 / 5.0, 1e-15);
    double gl;
    ck_assert_int_eq(hb_optimizer_get_f64(opt, HB_OPT_LR, &gl), HB_OK);
    ck_assert(gl == 0.01); /* the global lr itself is never touched */
    ck_assert_int_eq(hb_optimizer_get_f64(opt, HB_OPT_LR_MULT, &mult), HB_OK);
    HB_ASSERT_CLOSE(mult, 3.0 / 5.0, 1e-15); /* step 12 */
    hb_trainer_free(tr);
    hb_optimizer_free(opt);

    /* Adam-mini: Ua has one partition per output row; the boundary zeroes them, s keeps
       its own; the frozen U and Vt have none. */
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_ADAM_MINI, wp, &opt), HB_OK);
    double l;
    ck_assert_int_eq(hb_model_loss_grad(w, &l), HB_OK);
    ck_assert_int_eq(hb_optimizer_step(opt), HB_OK);
    const double *v = opt->v;
    size_t bu = block_index(w, "fc.weight.U");
    ck_assert_uint_eq(opt->part_first[bu + 1], opt->part_first[bu]);
    ck_assert_uint_eq(opt->part_first[bua + 1] - opt->part_first[bua], 5);
    ck_assert_int_eq(hb_sst_begin_step(w, 20, opt, NULL), HB_OK);
    for (size_t i = opt->part_first[bua]; i < opt->part_first[bua + 1]; i++) ck_assert(v[i] == 0);
    for (size_t i = opt->part_first[bs]; i < opt->part_first[bs + 1]; i++) ck_assert(v[i] != 0);
    /* a foreign optimizer is refused */
    hb_optimizer *other = NULL;
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_SGD, hb_model_params(inner), &other), HB_OK);
    ck_assert_int_eq(hb_sst_begin_step(w, 0, other, NULL), HB_EINVAL);
    hb_optimizer_free(other);
    hb_optimizer_free(opt);
    hb_model_free(w);
    hb_model_free(inner);
    hb_context_free(ctx);
}
END_TEST

/* HB_SST_RESET: with RESTART the boundary restarts the Ua/Vta blocks' own step (bias
 * correction from 1), with MOMENTS (default) they keep the global step; s never restarts. */
START_TEST(test_reset_modes) {
    for (int mode = HB_SST_RESET_MOMENTS; mode <= HB_SST_RESET_RESTART; mode++) {
        hb_context *ctx = hb_test_context(1, 30);
        hb_model *inner = NULL, *w = NULL;
        ck_assert_int_eq(fake_model_create(ctx, 5, 7, 8, &inner), HB_OK);
        hb_sst_config *cfg = NULL;
        ck_assert_int_eq(hb_sst_config_create(ctx, HB_SST_METHOD_SPECTRAL, &cfg), HB_OK);
        ck_assert_int_eq(hb_sst_config_add_kind(cfg, HB_BLOCK_LINEAR), HB_OK);
        ck_assert_int_eq(hb_sst_config_set_i64(cfg, HB_SST_RANK, 2), HB_OK);
        ck_assert_int_eq(hb_sst_config_set_i64(cfg, HB_SST_ITERATION, 10), HB_OK);
        ck_assert_int_eq(hb_sst_config_set_i64(cfg, HB_SST_RESET, mode), HB_OK);
        ck_assert_int_eq(hb_sst_config_set_i64(cfg, HB_SST_RESET, 3), HB_EINVAL);
        ck_assert_int_eq(hb_sst_create(inner, cfg, &w), HB_OK);
        hb_sst_config_free(cfg);
        hb_optimizer *opt = NULL;
        ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_ADAMW, hb_model_params(w), &opt), HB_OK);
        hb_trainer *tr = NULL;
        ck_assert_int_eq(hb_trainer_create(w, opt, &tr), HB_OK);
        ck_assert_int_eq(hb_trainer_run(tr, 12), HB_OK); /* boundary at step 10 */
        int64_t sua, sva, ss;
        ck_assert_int_eq(hb_optimizer_block_step_count(opt, block_index(w, "fc.weight.Ua"), &sua), HB_OK);
        ck_assert_int_eq(hb_optimizer_block_step_count(opt, block_index(w, "fc.weight.Vta"), &sva), HB_OK);
        ck_assert_int_eq(hb_optimizer_block_step_count(opt, block_index(w, "fc.weight.s"), &ss), HB_OK);
        int64_t want = mode == HB_SST_RESET_RESTART ? 2 : 12;
        ck_assert(sua == want && sva == want && ss == 12);
        hb_trainer_free(tr);
        hb_optimizer_free(opt);
        hb_model_free(w);
        hb_model_free(inner);
        hb_context_free(ctx);
    }
}
END_TEST

/* One SST training run of `steps` steps with AdamW, a per-block lr override and the
 * trainer, from a fresh context of fixed seed; optionally checkpointing after `ckpt_at`
 * steps into *buf, or starting from the checkpoint in buf. Returns the wrapper's params. */
static void resume_run(int64_t steps, int64_t ckpt_at, void **buf, size_t *len, bool load,
                       double *out, size_t cap) {
    hb_context *ctx = hb_test_context(1, 28);
    hb_model *inner = NULL, *w = NULL;
    ck_assert_int_eq(fake_model_create(ctx, 5, 7, 8, &inner), HB_OK);
    w = wrap_sched(ctx, inner, 2, 7, 3);
    hb_params *wp = hb_model_params(w);
    hb_optimizer *opt = NULL;
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_ADAMW, wp, &opt), HB_OK);
    ck_assert_int_eq(hb_optimizer_set_f64(opt, HB_OPT_LR, 0.02), HB_OK);
    ck_assert_int_eq(hb_optimizer_override_f64(opt, "fc.weight.s", HB_OPT_LR, 0.05), HB_OK);
    ck_assert_int_eq(hb_optimizer_schedule_cosine(opt, 2, 30, 0.1), HB_OK);
    if (load) ck_assert_int_eq(hb_checkpoint_load_buffer(*buf, *len, wp, opt), HB_OK);
    hb_trainer *tr = NULL;
    ck_assert_int_eq(hb_trainer_create(w, opt, &tr), HB_OK);
    if (ckpt_at > 0) {
        ck_assert_int_eq(hb_trainer_run(tr, ckpt_at), HB_OK);
        ck_assert_int_eq(hb_checkpoint_size(wp, opt, len), HB_OK);
        *buf = malloc(*len);
        ck_assert_int_eq(hb_checkpoint_save_buffer(wp, opt, *buf, *len, NULL), HB_OK);
        steps -= ckpt_at;
    }
    ck_assert_int_eq(hb_trainer_run(tr, steps), HB_OK);
    ck_assert_int_eq(hb_sst_sync(w), HB_OK);
    ck_assert_uint_eq(hb_params_count(wp), cap);
    memcpy(out, hb_params_data(wp), cap * sizeof *out);
    hb_trainer_free(tr);
    hb_optimizer_free(opt);
    hb_model_free(w);
    hb_model_free(inner);
    hb_context_free(ctx);
}

/* A run interrupted at step 10 (inside iteration 1, during nothing special) and resumed
 * from its checkpoint in a fresh context ends bit-for-bit where the uninterrupted run
 * ends (selection, iteration, optimizer state and data stream all restored); so does one
 * interrupted exactly at a boundary (step 14). */
START_TEST(test_checkpoint_resume) {
    enum { NP = 25 + 5 + 35 + 10 + 14 + 2 + 5 + 1 };
    double full[NP], resumed[NP], first[NP];
    void *buf = NULL;
    size_t len = 0;
    resume_run(25, 0, NULL, NULL, false, full, NP);
    for (int64_t at = 10; at <= 14; at += 4) {
        resume_run(25, at, &buf, &len, false, first, NP);
        ck_assert(memcmp(first, full, sizeof full) == 0); /* checkpointing changes nothing */
        resume_run(25 - at, 0, &buf, &len, true, resumed, NP);
        for (int i = 0; i < NP; i++)
            ck_assert_msg(resumed[i] == full[i], "at %lld: param %d: %.17g vs %.17g", (long long)at,
                          i, resumed[i], full[i]);
        free(buf);
        buf = NULL;
    }
}
END_TEST

/* Every optimizer kind drives an SST wrapper over a small gpt (Q, K, V, O and both MLP
 * projections converted; Adam-mini with 4 heads needs the head-grouped U/Ua rows and LINEAR
 * s/Vt/Vta factors of Q and K), across an iteration boundary, with finite losses and no
 * change to the frozen blocks' trainability. */
START_TEST(test_every_optimizer_on_gpt) {
    const hb_optimizer_kind kinds[] = {HB_OPTIM_SGD, HB_OPTIM_ADAM, HB_OPTIM_ADAMW, HB_OPTIM_ADAM_MINI};
    for (int q = 0; q < 4; q++) {
        hb_context *ctx = hb_test_context(1, 29);
        hb_model_config *mc = NULL;
        hb_model *g = NULL, *w = NULL;
        ck_assert_int_eq(hb_model_config_create(ctx, HB_MODEL_GPT, &mc), HB_OK);
        ck_assert_int_eq(hb_model_config_set_i64(mc, HB_MK_VOCAB, 11), HB_OK);
        ck_assert_int_eq(hb_model_config_set_i64(mc, HB_MK_CONTEXT, 6), HB_OK);
        ck_assert_int_eq(hb_model_config_set_i64(mc, HB_MK_WIDTH, 16), HB_OK);
        ck_assert_int_eq(hb_model_config_set_i64(mc, HB_MK_HEADS, 4), HB_OK);
        ck_assert_int_eq(hb_model_config_set_i64(mc, HB_MK_LAYERS, 1), HB_OK);
        ck_assert_int_eq(hb_model_config_set_i64(mc, HB_MK_BATCH, 3), HB_OK);
        ck_assert_int_eq(hb_model_create(ctx, mc, &g), HB_OK);
        hb_model_config_free(mc);
        hb_sst_config *cfg = NULL;
        ck_assert_int_eq(hb_sst_config_create(ctx, HB_SST_METHOD_SPECTRAL, &cfg), HB_OK);
        const hb_block_kind conv[] = {HB_BLOCK_ATTN_Q, HB_BLOCK_ATTN_K, HB_BLOCK_ATTN_V,
                                      HB_BLOCK_ATTN_O, HB_BLOCK_MLP_IN, HB_BLOCK_MLP_OUT};
        for (int i = 0; i < 6; i++) ck_assert_int_eq(hb_sst_config_add_kind(cfg, conv[i]), HB_OK);
        ck_assert_int_eq(hb_sst_config_set_i64(cfg, HB_SST_RANK, 3), HB_OK);
        ck_assert_int_eq(hb_sst_config_set_i64(cfg, HB_SST_ITERATION, 2), HB_OK);
        ck_assert_int_eq(hb_sst_create(g, cfg, &w), HB_OK);
        hb_sst_config_free(cfg);
        size_t nl;
        ck_assert_int_eq(hb_sst_num_layers(w, &nl), HB_OK);
        ck_assert_uint_eq(nl, 6);
        hb_optimizer *opt = NULL;
        ck_assert_int_eq(hb_optimizer_create(ctx, kinds[q], hb_model_params(w), &opt), HB_OK);
        if (kinds[q] == HB_OPTIM_ADAM_MINI) ck_assert_int_eq(hb_optimizer_set_i64(opt, HB_OPT_HEADS, 4), HB_OK);
        hb_trainer *tr = NULL;
        ck_assert_int_eq(hb_trainer_create(w, opt, &tr), HB_OK);
        ck_assert_int_eq(hb_trainer_run(tr, 5), HB_OK); /* boundaries at steps 2 and 4 */
        for (size_t i = 0; i < 5; i++) {
            double l;
            ck_assert_int_eq(hb_trainer_record_f64(tr, i, HB_REC_LOSS, &l), HB_OK);
            ck_assert(isfinite(l));
        }
        size_t tc, bytes;
        ck_assert_int_eq(hb_sst_trainable_count(w, &tc), HB_OK);
        ck_assert_uint_eq(tc, hb_params_trainable_count(hb_model_params(w)));
        ck_assert_int_eq(hb_optimizer_state_bytes(opt, &bytes), HB_OK);
        if (kinds[q] == HB_OPTIM_ADAM || kinds[q] == HB_OPTIM_ADAMW)
            ck_assert_uint_eq(bytes, 2 * sizeof(double) * tc); /* m and v, trainable only */
        else /* SGD without momentum: none; Adam-mini: m + one v per partition (≤ tc) */
            ck_assert_uint_le(bytes, 2 * sizeof(double) * tc);
        hb_trainer_free(tr);
        hb_optimizer_free(opt);
        hb_model_free(w);
        hb_model_free(g);
        hb_context_free(ctx);
    }
}
END_TEST

START_TEST(test_lora) {
    hb_context *ctx = hb_test_context(1, 25);
    hb_model *inner = NULL, *w = NULL;
    ck_assert_int_eq(fake_model_create(ctx, 5, 7, 8, &inner), HB_OK);
    ck_assert_int_eq(hb_model_set_synthetic(inner, 2, 1, 0), HB_OK);
    double l_dense, l, W0[35], bias0[5];
    size_t n;
    memcpy(W0, block_ptr(inner, "fc.weight", &n), sizeof W0);
    memcpy(bias0, block_ptr(inner, "fc.bias", &n), sizeof bias0);
    ck_assert_int_eq(hb_model_loss(inner, &l_dense), HB_OK);
    hb_sst_config *cfg = NULL;
    ck_assert_int_eq(hb_sst_config_create(ctx, HB_SST_METHOD_LORA, &cfg), HB_OK);
    ck_assert_int_eq(hb_sst_config_add_block(cfg, "fc.weight"), HB_OK);
    ck_assert_int_eq(hb_sst_config_set_i64(cfg, HB_SST_RANK, 3), HB_OK);
    ck_assert_int_eq(hb_sst_config_set_f64(cfg, HB_SST_LORA_ALPHA, 6.0), HB_OK); /* c = 2 */
    ck_assert_int_eq(hb_sst_config_set_i64(cfg, HB_SST_FREEZE_OTHERS, 1), HB_OK);
    ck_assert_int_eq(hb_sst_create(inner, cfg, &w), HB_OK);
    hb_sst_config_free(cfg);
    ck_assert_str_eq(hb_model_name(w), "lora");
    ck_assert_int_eq(hb_sst_method_of(w), HB_SST_METHOD_LORA);
    ck_assert_int_eq(hb_model_set_synthetic(w, 2, 1, 0), HB_OK);
    ck_assert_int_eq(hb_model_loss_grad(w, &l), HB_OK);
    ck_assert(l == l_dense); /* B = 0: W₀ + 0 is W₀ exactly */
    double *A = block_ptr(w, "fc.weight.A", &n);
    ck_assert_uint_eq(n, 21);
    double *B = block_ptr(w, "fc.weight.B", &n);
    ck_assert_uint_eq(n, 15);
    for (int i = 0; i < 15; i++) ck_assert(B[i] == 0);
    for (int i = 0; i < 21; i++) ck_assert(fabs(A[i]) <= 1 / sqrt(7.0)); /* U(±1/√in) */
    /* ∇B = c·G·Aᵀ, ∇A = c·Bᵀ·G (= 0 at init) */
    const double *G = hb_params_grad(hb_model_params(inner));
    double *gA = grad_ptr(w, "fc.weight.A"), *gB = grad_ptr(w, "fc.weight.B");
    for (int a = 0; a < 5; a++)
        for (int j = 0; j < 3; j++) {
            double e = 0;
            for (int q = 0; q < 7; q++) e += G[a * 7 + q] * A[j * 7 + q];
            ck_assert(fabs(gB[a * 3 + j] - 2 * e) <= 1e-13); /* 7 products of O(1): rounding */
        }
    for (int i = 0; i < 21; i++) ck_assert(gA[i] == 0);
    ck_assert(grad_ptr(w, "fc.bias")[0] == 0); /* frozen */
    /* FD at a point with B ≠ 0 */
    for (int i = 0; i < 15; i++) B[i] = 0.1 * sin(1.0 + i);
    const char *names[] = {"fc.weight.A", "fc.weight.B"};
    check_fd(w, names, 2);
    /* Training: only A and B change; W₀ stays (W − c·B·A = W₀). */
    hb_trainer *tr = NULL;
    double A0[21], B0[15];
    memcpy(A0, A, sizeof A0);
    memcpy(B0, B, sizeof B0);
    ck_assert_int_eq(hb_trainer_create(w, NULL, &tr), HB_OK);
    ck_assert_int_eq(hb_trainer_set_f64(tr, HB_TR_LR, 0.1), HB_OK);
    ck_assert_int_eq(hb_trainer_run(tr, 10), HB_OK);
    double *bias = block_ptr(w, "fc.bias", &n);
    for (int i = 0; i < 5; i++) ck_assert(bias[i] == bias0[i]);
    ck_assert(memcmp(A, A0, sizeof A0) != 0 && memcmp(B, B0, sizeof B0) != 0);
    ck_assert_int_eq(hb_sst_sync(w), HB_OK);
    const double *W = block_ptr(inner, "fc.weight", &n);
    for (int a = 0; a < 5; a++)
        for (int q = 0; q < 7; q++) {
            double ba = 0;
            for (int j = 0; j < 3; j++) ba += B[a * 3 + j] * A[j * 7 + q];
            ck_assert(fabs(W[a * 7 + q] - 2 * ba - W0[a * 7 + q]) <= 1e-13);
        }
    size_t tc;
    ck_assert_int_eq(hb_sst_trainable_count(w, &tc), HB_OK);
    ck_assert_uint_eq(tc, 3 * (5 + 7)); /* others frozen */
    /* W₀ is the frozen block N.W0: it is what the wrapper forms from, and a checkpoint of
       the wrapper carries it, so a wrapper over a DIFFERENT inner model loaded from it
       computes exactly the same loss. */
    {
        size_t nw0;
        double *w0 = block_ptr(w, "fc.weight.W0", &nw0);
        ck_assert_uint_eq(nw0, 35);
        ck_assert(memcmp(w0, W0, sizeof W0) == 0);
        int trn = -1;
        ck_assert_int_eq(hb_params_block_trainable(hb_model_params(w), block_index(w, "fc.weight.W0"), &trn), HB_OK);
        ck_assert_int_eq(trn, 0);
        size_t len;
        ck_assert_int_eq(hb_checkpoint_size(hb_model_params(w), NULL, &len), HB_OK);
        void *img = malloc(len);
        ck_assert_int_eq(hb_checkpoint_save_buffer(hb_model_params(w), NULL, img, len, NULL), HB_OK);
        hb_context *ctx2 = hb_test_context(1, 99);
        hb_model *inner2 = NULL, *w2 = NULL;
        ck_assert_int_eq(fake_model_create(ctx2, 5, 7, 8, &inner2), HB_OK);
        ck_assert(memcmp(block_ptr(inner2, "fc.weight", &n), W0, sizeof W0) != 0); /* other W */
        hb_sst_config *c2 = NULL;
        ck_assert_int_eq(hb_sst_config_create(ctx2, HB_SST_METHOD_LORA, &c2), HB_OK);
        ck_assert_int_eq(hb_sst_config_add_block(c2, "fc.weight"), HB_OK);
        ck_assert_int_eq(hb_sst_config_set_i64(c2, HB_SST_RANK, 3), HB_OK);
        ck_assert_int_eq(hb_sst_config_set_f64(c2, HB_SST_LORA_ALPHA, 6.0), HB_OK);
        ck_assert_int_eq(hb_sst_config_set_i64(c2, HB_SST_FREEZE_OTHERS, 1), HB_OK);
        ck_assert_int_eq(hb_sst_create(inner2, c2, &w2), HB_OK);
        hb_sst_config_free(c2);
        ck_assert_int_eq(hb_checkpoint_load_buffer(img, len, hb_model_params(w2), NULL), HB_OK);
        /* the two wrappers now form the same inner model, bit for bit */
        ck_assert_int_eq(hb_sst_sync(w), HB_OK);
        ck_assert_int_eq(hb_sst_sync(w2), HB_OK);
        hb_params *ip1 = hb_model_params(inner), *ip2 = hb_model_params(inner2);
        ck_assert_uint_eq(hb_params_count(ip1), hb_params_count(ip2));
        ck_assert(memcmp(hb_params_data(ip1), hb_params_data(ip2),
                         hb_params_count(ip1) * sizeof(double)) == 0);
        free(img);
        hb_model_free(w2);
        hb_model_free(inner2);
        hb_context_free(ctx2);
    }
    ck_assert_int_eq(hb_sst_resvd(w), HB_EINVAL);
    int64_t act[3];
    ck_assert_int_eq(hb_sst_active(w, 0, act), HB_EINVAL);
    double sc;
    ck_assert_int_eq(hb_sst_begin_step(w, 1000, NULL, &sc), HB_OK);
    ck_assert(sc == 1);
    hb_trainer_free(tr);
    hb_model_free(w);
    hb_model_free(inner);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_bad_input) {
    hb_context *ctx = hb_test_context(1, 26);
    hb_model *inner = NULL, *w = NULL;
    ck_assert_int_eq(fake_model_create(ctx, 5, 7, 4, &inner), HB_OK);
    hb_sst_config *cfg = NULL;
    ck_assert_int_eq(hb_sst_config_create(NULL, HB_SST_METHOD_SPECTRAL, &cfg), HB_EINVAL);
    ck_assert_int_eq(hb_sst_config_create(ctx, (hb_sst_method)9, &cfg), HB_EINVAL);
    ck_assert_ptr_null(cfg);
    ck_assert_int_eq(hb_sst_config_create(ctx, HB_SST_METHOD_SPECTRAL, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_sst_config_create(ctx, HB_SST_METHOD_SPECTRAL, &cfg), HB_OK);
    ck_assert_int_eq(hb_sst_config_set_i64(cfg, HB_SST_RANK, 0), HB_EINVAL);
    ck_assert_int_eq(hb_sst_config_set_i64(cfg, HB_SST_ITERATION, 0), HB_EINVAL);
    ck_assert_int_eq(hb_sst_config_set_i64(cfg, HB_SST_REWARM, -1), HB_EINVAL);
    ck_assert_int_eq(hb_sst_config_set_i64(cfg, HB_SST_GRADIENT, 3), HB_EINVAL);
    ck_assert_int_eq(hb_sst_config_set_i64(cfg, HB_SST_FREEZE_OTHERS, 2), HB_EINVAL);
    ck_assert_int_eq(hb_sst_config_set_i64(cfg, HB_SST_UNIFORM_MIX, 0), HB_EINVAL);
    ck_assert_int_eq(hb_sst_config_set_f64(cfg, HB_SST_UNIFORM_MIX, 1.5), HB_EINVAL);
    ck_assert_int_eq(hb_sst_config_set_f64(cfg, HB_SST_LORA_ALPHA, -1), HB_EINVAL);
    ck_assert_int_eq(hb_sst_config_set_f64(cfg, HB_SST_RANK, 1), HB_EINVAL);
    ck_assert_int_eq(hb_sst_config_set_i64(NULL, HB_SST_RANK, 1), HB_EINVAL);
    ck_assert_int_eq(hb_sst_config_set_f64(NULL, HB_SST_UNIFORM_MIX, 0), HB_EINVAL);
    ck_assert_int_eq(hb_sst_config_add_block(cfg, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_sst_config_add_block(cfg, ""), HB_EINVAL);
    char longname[HB_MAX_BLOCK_NAME + 2];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    ck_assert_int_eq(hb_sst_config_add_block(cfg, longname), HB_EINVAL);
    ck_assert_int_eq(hb_sst_config_add_block(NULL, "a"), HB_EINVAL);
    ck_assert_int_eq(hb_sst_config_add_kind(cfg, (hb_block_kind)99), HB_EINVAL);
    ck_assert_int_eq(hb_sst_config_add_kind(NULL, HB_BLOCK_LINEAR), HB_EINVAL);
    /* nothing selected */
    ck_assert_int_eq(hb_sst_create(inner, cfg, &w), HB_ESHAPE);
    ck_assert_ptr_null(w);
    ck_assert_int_eq(hb_sst_config_add_kind(cfg, HB_BLOCK_BIAS), HB_OK); /* 1-d: never */
    ck_assert_int_eq(hb_sst_create(inner, cfg, &w), HB_ESHAPE);
    ck_assert_int_eq(hb_sst_config_add_block(cfg, "nope"), HB_OK);
    ck_assert_int_eq(hb_sst_create(inner, cfg, &w), HB_ENOTFOUND);
    hb_sst_config_free(cfg);
    ck_assert_int_eq(hb_sst_config_create(ctx, HB_SST_METHOD_SPECTRAL, &cfg), HB_OK);
    ck_assert_int_eq(hb_sst_config_add_block(cfg, "fc.bias"), HB_OK);
    ck_assert_int_eq(hb_sst_create(inner, cfg, &w), HB_ESHAPE);
    hb_sst_config_free(cfg);
    ck_assert_int_eq(hb_sst_config_create(ctx, HB_SST_METHOD_SPECTRAL, &cfg), HB_OK);
    ck_assert_int_eq(hb_sst_config_add_block(cfg, "fc.weight"), HB_OK);
    ck_assert_int_eq(hb_sst_create(NULL, cfg, &w), HB_EINVAL);
    ck_assert_int_eq(hb_sst_create(inner, NULL, &w), HB_EINVAL);
    ck_assert_int_eq(hb_sst_create(inner, cfg, NULL), HB_EINVAL);
    double *W = block_ptr(inner, "fc.weight", &(size_t){0});
    double keep = W[3];
    W[3] = NAN;
    ck_assert_int_eq(hb_sst_create(inner, cfg, &w), HB_ENONFINITE);
    W[3] = keep;
    ck_assert_int_eq(hb_sst_create(inner, cfg, &w), HB_OK);
    hb_model *w2 = NULL;
    ck_assert_int_eq(hb_sst_create(w, cfg, &w2), HB_EINVAL); /* no wrapper of a wrapper */
    hb_context *other = hb_test_context(1, 0);
    hb_sst_config *ocfg = NULL;
    ck_assert_int_eq(hb_sst_config_create(other, HB_SST_METHOD_LORA, &ocfg), HB_OK);
    ck_assert_int_eq(hb_sst_create(inner, ocfg, &w2), HB_EINVAL);
    hb_sst_config_free(ocfg);
    hb_context_free(other);
    hb_sst_config_free(cfg);
    /* queries */
    size_t nl;
    int64_t o, i, k, r;
    const char *name;
    ck_assert_int_eq(hb_sst_num_layers(inner, &nl), HB_EINVAL);
    ck_assert_int_eq(hb_sst_num_layers(NULL, &nl), HB_EINVAL);
    ck_assert_int_eq(hb_sst_num_layers(w, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_sst_num_layers(w, &nl), HB_OK);
    ck_assert_uint_eq(nl, 1);
    ck_assert_int_eq(hb_sst_layer_info(w, 0, &name, &o, &i, &k, &r), HB_OK);
    ck_assert_str_eq(name, "fc.weight");
    ck_assert(o == 5 && i == 7 && k == 5 && r == 5); /* default rank 8 clamped to k */
    ck_assert_int_eq(hb_sst_layer_info(w, 1, &name, &o, &i, &k, &r), HB_ERANGE);
    ck_assert_int_eq(hb_sst_layer_info(inner, 0, &name, &o, &i, &k, &r), HB_EINVAL);
    int64_t act[8];
    ck_assert_int_eq(hb_sst_active(w, 1, act), HB_ERANGE);
    ck_assert_int_eq(hb_sst_active(w, 0, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_sst_active(inner, 0, act), HB_EINVAL);
    ck_assert_int_eq(hb_sst_trainable_count(w, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_sst_trainable_count(inner, &nl), HB_EINVAL);
    ck_assert_int_eq(hb_sst_trainable_count(w, &nl), HB_OK);
    ck_assert_uint_eq(nl, 5 + 5 * 12 + 5); /* k + r(out+in) + bias */
    ck_assert_int_eq(hb_sst_sync(inner), HB_EINVAL);
    ck_assert_int_eq(hb_sst_resvd(inner), HB_EINVAL);
    ck_assert_int_eq(hb_sst_resvd(NULL), HB_EINVAL);
    ck_assert_int_eq(hb_sst_begin_step(w, -1, NULL, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_sst_begin_step(inner, 0, NULL, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_sst_end_step(inner), HB_EINVAL);
    ck_assert_int_eq(hb_sst_end_step(NULL), HB_EINVAL);
    ck_assert_int_eq(hb_sst_method_of(inner), 0);
    ck_assert_ptr_null(hb_sst_inner(inner));
    ck_assert_ptr_eq(hb_sst_inner(w), inner);
    /* no Hessian products through a wrapper */
    hb_tensor *v = NULL, *hv = NULL;
    int64_t shape[1] = {(int64_t)hb_params_count(hb_model_params(w))};
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F64, 1, shape, &v), HB_OK);
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F64, 1, shape, &hv), HB_OK);
    ck_assert_int_eq(hb_tensor_fill(v, 1.0), HB_OK);
    ck_assert_int_eq(hb_model_hvp(w, v, hv), HB_EUNSUPPORTED);
    ck_assert_int_eq(hb_model_has_exact_hvp(w), 0);
    hb_tensor_free(v);
    hb_tensor_free(hv);
    hb_sst_config_free(NULL);
    hb_model_free(w);
    hb_model_free(inner);
    hb_context_free(ctx);
}
END_TEST

static int create_wrappers(hb_context *ctx, void *arg) {
    hb_sst_method method = *(hb_sst_method *)arg;
    hb_model *inner = NULL, *w = NULL;
    hb_sst_config *cfg = NULL;
    double l;
    int rc = fake_model_create(ctx, 4, 6, 4, &inner);
    if (rc == HB_OK) rc = hb_sst_config_create(ctx, method, &cfg);
    if (rc == HB_OK) rc = hb_sst_config_add_block(cfg, "fc.weight");
    if (rc == HB_OK) rc = hb_sst_config_set_i64(cfg, HB_SST_RANK, 2);
    if (rc == HB_OK) rc = hb_sst_create(inner, cfg, &w);
    if (rc == HB_OK) rc = hb_model_loss_grad(w, &l);
    if (rc == HB_OK && method == HB_SST_METHOD_SPECTRAL) rc = hb_sst_resvd(w);
    hb_model_free(w);
    hb_sst_config_free(cfg);
    hb_model_free(inner);
    return rc;
}

START_TEST(test_sst_oom) {
    hb_sst_method m1 = HB_SST_METHOD_SPECTRAL, m2 = HB_SST_METHOD_LORA;
    ck_assert_int_ge(hb_test_oom_loop(create_wrappers, &m1), 10);
    ck_assert_int_ge(hb_test_oom_loop(create_wrappers, &m2), 10);
}
END_TEST

Suite *hb_suite_sst(void) {
    Suite *s = suite_create("sst");
    TCase *tc = tcase_create("sst");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_zero_distortion_wide);
    tcase_add_test(tc, test_mlp_zero_distortion);
    tcase_add_test(tc, test_zero_distortion_tall);
    tcase_add_test(tc, test_gradients_fd_and_enhanced);
    tcase_add_test(tc, test_resvd_and_schedule);
    tcase_add_test(tc, test_sampling_multinomial);
    tcase_add_test(tc, test_sampling_mixed_pairs);
    tcase_add_test(tc, test_with_optimizer);
    tcase_add_test(tc, test_checkpoint_resume);
    tcase_add_test(tc, test_reset_modes);
    tcase_add_test(tc, test_every_optimizer_on_gpt);
    tcase_add_test(tc, test_lora);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_sst_oom);
    suite_add_tcase(s, tc);
    return s;
}
