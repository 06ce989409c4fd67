/* `hessblock train --optimizer sgd-blockhess` (tools/hessblock/blockhess.c, linked here as
 * the tool links it): the per-block learning rates against an independent computation
 * (dense block Hessians by unit-vector products, eigenvalues by LAPACK), and the
 * trajectory against plain SGD with the same per-block rates set by hand as overrides. */
#include <check.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../tools/hessblock/blockhess.h"
#include "hb_test.h"

/* a tiny mlp on its synthetic data: 4 inputs, 6 wide, 1 hidden layer, 3 classes */
static hb_model *tiny_mlp(hb_context *ctx) {
    hb_model_config *cfg = NULL;
    hb_model *m = NULL;
    ck_assert_int_eq(hb_model_config_create(ctx, HB_MODEL_MLP, &cfg), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_INPUTS, 4), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_WIDTH, 6), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_LAYERS, 1), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_CLASSES, 3), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_BATCH, 16), HB_OK);
    ck_assert_int_eq(hb_model_create(ctx, cfg, &m), HB_OK);
    hb_model_config_free(cfg);
    return m;
}

/* λ_max of block b's sub-Hessian: H_bb column by column (H_bb·e_j), symmetrised, LAPACK */
static double dense_lambda_max(hb_context *ctx, hb_model *m, size_t b) {
    size_t off = 0, n = 0;
    ck_assert_int_eq(hb_params_block_info(hb_model_params(m), b, NULL, NULL, &off, &n, NULL, NULL), HB_OK);
    double *H = calloc(n * n, sizeof *H), *e = calloc(n, sizeof *e), *col = calloc(n, sizeof *col);
    double *w = calloc(n, sizeof *w);
    ck_assert(H && e && col && w);
    hb_tensor *te = NULL, *tc = NULL;
    int64_t shape[1] = {(int64_t)n};
    ck_assert_int_eq(hb_tensor_wrap(ctx, HB_F64, 1, shape, e, &te), HB_OK);
    ck_assert_int_eq(hb_tensor_wrap(ctx, HB_F64, 1, shape, col, &tc), HB_OK);
    for (size_t j = 0; j < n; j++) {
        memset(e, 0, n * sizeof *e);
        e[j] = 1;
        ck_assert_int_eq(hb_model_block_hvp(m, b, te, tc), HB_OK);
        for (size_t i = 0; i < n; i++) H[i * n + j] = col[i];
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++) H[i * n + j] = H[j * n + i] = 0.5 * (H[i * n + j] + H[j * n + i]);
    ck_assert_int_eq(LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'U', (lapack_int)n, H, (lapack_int)n, w), 0);
    double top = w[n - 1];
    hb_tensor_free(te);
    hb_tensor_free(tc);
    free(H); free(e); free(col); free(w);
    return top;
}

/* The factors by their definition (blockhess.h), written out independently. */
static void reference_factors(const double *lam, size_t n, double floor_rel, double *f) {
    double top = lam[0];
    for (size_t b = 1; b < n; b++) top = lam[b] > top ? lam[b] : top;
    double *inv = malloc(n * sizeof *inv);
    for (size_t b = 0; b < n; b++) inv[b] = 1.0 / fmax(lam[b], floor_rel * top);
    double *sorted = malloc(n * sizeof *sorted);
    memcpy(sorted, inv, n * sizeof *sorted);
    for (size_t i = 0; i < n; i++) /* insertion sort: n is tiny */
        for (size_t j = i; j > 0 && sorted[j] < sorted[j - 1]; j--) {
            double t = sorted[j]; sorted[j] = sorted[j - 1]; sorted[j - 1] = t;
        }
    double med = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    for (size_t b = 0; b < n; b++) f[b] = inv[b] / med;
    free(inv);
    free(sorted);
}

START_TEST(test_factors_arith) {
    /* odd count, one capped (negative) and one below the floor */
    const double lam[5] = {10, 2, -1, 0.01, 5};
    double f[5], ref[5], c;
    int capped[5];
    blockhess_factors(lam, 5, 0.01, f, capped, &c);
    reference_factors(lam, 5, 0.01, ref);
    for (int b = 0; b < 5; b++) HB_ASSERT_CLOSE(f[b], ref[b], 1e-15);
    ck_assert(!capped[0] && !capped[1] && capped[2] && capped[3] && !capped[4]);
    HB_ASSERT_CLOSE(f[1], 1.0, 1e-15); /* the median block (λ̂ = 0.1, 0.1, 2, 5, 10: λ = 2) keeps lr */
    HB_ASSERT_CLOSE(c, 2.0, 1e-15);
    /* even count: the mean of the two middle 1/λ */
    const double lam2[4] = {1, 2, 4, 8};
    double f2[4], ref2[4];
    int cap2[4];
    blockhess_factors(lam2, 4, 0.01, f2, cap2, &c);
    reference_factors(lam2, 4, 0.01, ref2);
    for (int b = 0; b < 4; b++) HB_ASSERT_CLOSE(f2[b], ref2[b], 1e-15);
    /* no positive curvature anywhere: every factor 1 */
    const double lam3[3] = {-1, 0, -2};
    double f3[3];
    int cap3[3];
    blockhess_factors(lam3, 3, 0.01, f3, cap3, &c);
    for (int b = 0; b < 3; b++) ck_assert(f3[b] == 1.0 && cap3[b]);
}
END_TEST

START_TEST(test_rates_and_trajectory) {
    hb_context *ctx = hb_test_context(1, 11);
    hb_model *m = tiny_mlp(ctx), *m2 = tiny_mlp(ctx);
    hb_params *p = hb_model_params(m), *p2 = hb_model_params(m2);
    const size_t nb = hb_params_num_blocks(p), n = hb_params_count(p);
    memcpy(hb_params_data(p2), hb_params_data(p), n * sizeof(double)); /* the same start */
    ck_assert_int_eq(hb_model_set_synthetic(m2, 1, 0, 0), HB_OK); /* the same data */
    ck_assert_int_eq(hb_model_set_synthetic(m, 1, 0, 0), HB_OK);
    hb_optimizer *o = NULL, *ref = NULL;
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_SGD, p, &o), HB_OK);
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_SGD, p2, &ref), HB_OK);
    const double lr = 0.05;
    for (hb_optimizer *x = o; x; x = x == o ? ref : NULL) {
        ck_assert_int_eq(hb_optimizer_set_f64(x, HB_OPT_LR, lr), HB_OK);
        ck_assert_int_eq(hb_optimizer_set_f64(x, HB_OPT_MOMENTUM, 0.9), HB_OK);
    }
    blockhess bh;
    blockhess_opts opts = blockhess_defaults();
    opts.lanczos_steps = 200; /* the blocks are small: Lanczos is exact here */
    opts.tol = 1e-10;
    ck_assert_int_eq(blockhess_init(&bh, m, lr), HB_OK);
    ck_assert_int_eq(blockhess_refresh(&bh, &opts, m, o, 0), HB_OK);
    ck_assert_uint_eq(bh.converged, nb);
    double lam[16], f[16];
    ck_assert(nb <= 16);
    for (size_t b = 0; b < nb; b++) {
        lam[b] = dense_lambda_max(ctx, m, b);
        HB_ASSERT_CLOSE(bh.lambda[b], lam[b], 1e-8 * fabs(lam[b]) + 1e-12);
    }
    reference_factors(lam, nb, opts.floor_rel, f);
    for (size_t b = 0; b < nb; b++) {
        double got;
        ck_assert_int_eq(hb_optimizer_block_f64(o, b, HB_OPT_LR, &got), HB_OK);
        HB_ASSERT_CLOSE(got, lr * f[b], 1e-7 * lr * f[b]);
        /* by hand on the reference: the override by the block's name */
        const char *name = NULL;
        ck_assert_int_eq(hb_params_block_info(p2, b, &name, NULL, NULL, NULL, NULL, NULL), HB_OK);
        ck_assert_int_eq(hb_optimizer_override_f64(ref, name, HB_OPT_LR, got), HB_OK);
    }
    /* five steps each (one refresh interval): the same trajectory, bit for bit */
    for (int t = 0; t < 5; t++) {
        ck_assert_int_eq(hb_model_loss_grad(m, NULL), HB_OK);
        ck_assert_int_eq(hb_optimizer_step(o), HB_OK);
        ck_assert_int_eq(hb_model_loss_grad(m2, NULL), HB_OK);
        ck_assert_int_eq(hb_optimizer_step(ref), HB_OK);
    }
    ck_assert(memcmp(hb_params_data(p), hb_params_data(p2), n * sizeof(double)) == 0);
    /* a second refresh replaces the values (the optimizer's table does not grow) and is
     * recorded in the history */
    ck_assert_int_eq(blockhess_refresh(&bh, &opts, m, o, 5), HB_OK);
    ck_assert_uint_eq(bh.nhist, 2);
    ck_assert_int_eq(bh.hist_step[1], 5);
    for (size_t b = 0; b < nb; b++) {
        double got;
        ck_assert_int_eq(hb_optimizer_block_f64(o, b, HB_OPT_LR, &got), HB_OK);
        ck_assert(got == lr * bh.factor[b]);
    }
    blockhess_free(&bh);
    hb_optimizer_free(o);
    hb_optimizer_free(ref);
    hb_model_free(m);
    hb_model_free(m2);
    hb_context_free(ctx);
}
END_TEST

Suite *hb_suite_blockhess(void) {
    Suite *s = suite_create("blockhess");
    TCase *tc = tcase_create("blockhess");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_factors_arith);
    tcase_add_test(tc, test_rates_and_trajectory);
    suite_add_tcase(s, tc);
    return s;
}
