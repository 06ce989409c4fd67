/* The gpt model: gradients and Hessian-vector products against finite differences, the
 * dense Hessian, hvp_multi / block_hvp / micro-batch consistency, f32 vs f64, bad input,
 * synthetic and text data, and the allocation-failure loop. Tiny configs, fixed seeds.
 *
 * Central differences in f64 with step h have truncation error O(h²·|f'''|) and rounding
 * error O(eps·|f|/h); h = 1e-5 (gradient of the loss) and h = 1e-5 (HVP from gradients)
 * put both near 1e-10 relative for these O(1)-scaled tiny models, so the 1e-7 and 1e-6
 * bounds below leave a margin of ~100× while still catching any wrong term (a missing
 * second-order term is O(1) relative). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hb_test.h"

typedef struct tiny {
    int64_t V, T, C, H, L, batch, dtype;
} tiny;

static const tiny TINY = {7, 5, 8, 2, 2, 3, HB_F64};
static const tiny MICRO = {5, 4, 4, 2, 1, 2, HB_F64}; /* n = 308: dense Hessian */

static hb_model *make(hb_context *ctx, const tiny *c) {
    hb_model_config *cfg = NULL;
    ck_assert_int_eq(hb_model_config_create(ctx, HB_MODEL_GPT, &cfg), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_VOCAB, c->V), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_CONTEXT, c->T), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_WIDTH, c->C), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_HEADS, c->H), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_LAYERS, c->L), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_BATCH, c->batch), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_DTYPE, c->dtype), HB_OK);
    hb_model *m = NULL;
    ck_assert_int_eq(hb_model_create(ctx, cfg, &m), HB_OK);
    hb_model_config_free(cfg);
    return m;
}

/* θ ← θ + 0.3·N(0,1): away from the symmetric GPT-2 init (zero biases, unit LN weights),
 * so every term of the Hessian is exercised. f64 models only. */
static void perturb(hb_model *m, uint64_t stream) {
    hb_params *p = hb_model_params(m);
    size_t n = hb_params_count(p);
    double *th = hb_params_data(p), *z = malloc(n * sizeof *z);
    ck_assert_int_eq(hb_random_fill_f64(hb_model_context(m), stream, 0, HB_DIST_NORMAL, 0, 0.3, z, n), HB_OK);
    for (size_t i = 0; i < n; i++) th[i] += z[i];
    free(z);
}

static double loss_at(hb_model *m) {
    double l;
    ck_assert_int_eq(hb_model_loss(m, &l), HB_OK);
    return l;
}

static void grad_at(hb_model *m, double *g) {
    hb_params *p = hb_model_params(m);
    ck_assert_int_eq(hb_model_loss_grad(m, NULL), HB_OK);
    memcpy(g, hb_params_grad(p), hb_params_count(p) * sizeof(double));
}

static double nrm(const double *a, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * a[i];
    return sqrt(s);
}

static double rel_diff(const double *a, const double *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) d += (a[i] - b[i]) * (a[i] - b[i]);
    return sqrt(d) / fmax(nrm(b, n), 1e-300);
}

static hb_tensor *vec(hb_context *ctx, size_t k, size_t n) {
    hb_tensor *t = NULL;
    int64_t s2[2] = {(int64_t)k, (int64_t)n};
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F64, 2, s2, &t), HB_OK);
    return t;
}

static void hvp(hb_model *m, const double *v, double *out) {
    size_t n = hb_params_count(hb_model_params(m));
    hb_context *ctx = hb_model_context(m);
    hb_tensor *tv = NULL, *to = NULL;
    int64_t s[1] = {(int64_t)n};
    ck_assert_int_eq(hb_tensor_wrap(ctx, HB_F64, 1, s, (void *)v, &tv), HB_OK);
    ck_assert_int_eq(hb_tensor_wrap(ctx, HB_F64, 1, s, out, &to), HB_OK);
    ck_assert_int_eq(hb_model_hvp(m, tv, to), HB_OK);
    hb_tensor_free(tv);
    hb_tensor_free(to);
}

START_TEST(test_param_layout) {
    hb_context *ctx = hb_test_context(1, 0);
    hb_model_config *cfg = NULL;
    ck_assert_int_eq(hb_model_config_create(ctx, HB_MODEL_GPT, &cfg), HB_OK);
    hb_model *m = NULL;
    ck_assert_int_eq(hb_model_create(ctx, cfg, &m), HB_OK);
    hb_params *p = hb_model_params(m);
    /* gpt-ref (defaults): 421,632 parameters, the figure quoted for the PyTorch reference */
    ck_assert_uint_eq(hb_params_count(p), 421632);
    ck_assert_uint_eq(hb_params_num_blocks(p), 5 + 16 * 2);
    size_t idx;
    hb_block_kind kind;
    int64_t shape[4];
    int nd;
    ck_assert_int_eq(hb_params_find_block(p, "h.1.attn.wk", &idx), HB_OK);
    ck_assert_int_eq(hb_params_block_info(p, idx, NULL, &kind, NULL, NULL, &nd, shape), HB_OK);
    ck_assert_int_eq(kind, HB_BLOCK_ATTN_K);
    ck_assert_int_eq(nd, 2);
    ck_assert_int_eq(shape[0], 128);
    ck_assert_int_eq(hb_params_find_block(p, "h.0.mlp.c_fc", &idx), HB_OK);
    ck_assert_int_eq(hb_params_block_info(p, idx, NULL, &kind, NULL, NULL, &nd, shape), HB_OK);
    ck_assert_int_eq(kind, HB_BLOCK_MLP_IN);
    ck_assert_int_eq(shape[0], 512);
    ck_assert_int_eq(shape[1], 128);
    ck_assert_int_eq(hb_params_find_block(p, "lm_head", &idx), HB_OK);
    ck_assert_int_eq(idx, hb_params_num_blocks(p) - 1);
    ck_assert_str_eq(hb_model_name(m), "gpt");
    ck_assert_int_eq(hb_model_kind_of(m), HB_MODEL_GPT);
    ck_assert_int_eq(hb_model_has_exact_hvp(m), 1);
    /* the initial loss of a GPT-2 init is close to log(vocab): logits are O(0.02·√C) */
    double l = loss_at(m);
    ck_assert_msg(fabs(l - log(65.0)) < 0.1, "initial loss %g vs log 65 = %g", l, log(65.0));
    /* LN weights start at 1, biases at 0 */
    ck_assert_int_eq(hb_params_find_block(p, "ln_f.weight", &idx), HB_OK);
    size_t off;
    ck_assert_int_eq(hb_params_block_info(p, idx, NULL, NULL, &off, NULL, NULL, NULL), HB_OK);
    ck_assert(((double *)hb_params_data(p))[off] == 1.0);
    ck_assert(((double *)hb_params_data(p))[off + 128] == 0.0);
    hb_model_free(m);
    /* width not a multiple of heads */
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_WIDTH, 30), HB_OK);
    ck_assert_int_eq(hb_model_create(ctx, cfg, &m), HB_EINVAL);
    ck_assert_ptr_null(m);
    hb_model_config_free(cfg);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_grad_fd) {
    hb_context *ctx = hb_test_context(1, 3);
    hb_model *m = make(ctx, &TINY);
    perturb(m, 1000);
    hb_params *p = hb_model_params(m);
    size_t n = hb_params_count(p);
    double *g = malloc(n * sizeof *g), *fd = malloc(n * sizeof *fd), *th = hb_params_data(p);
    grad_at(m, g);
    const double h = 1e-5;
    for (size_t i = 0; i < n; i++) {
        double t0 = th[i];
        th[i] = t0 + h;
        double lp = loss_at(m);
        th[i] = t0 - h;
        double lm = loss_at(m);
        th[i] = t0;
        fd[i] = (lp - lm) / (2 * h);
    }
    double r = rel_diff(g, fd, n);
    ck_assert_msg(r <= 1e-7, "gradient vs central FD: relative error %g", r); /* see top */
    ck_assert_msg(nrm(g, n) > 1e-3, "gradient suspiciously small");
    free(g);
    free(fd);
    hb_model_free(m);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_hvp_fd) {
    hb_context *ctx = hb_test_context(1, 4);
    hb_model *m = make(ctx, &TINY);
    perturb(m, 1001);
    hb_params *p = hb_model_params(m);
    size_t n = hb_params_count(p);
    double *v = malloc(n * sizeof *v), *hv = malloc(n * sizeof *hv), *fd = malloc(n * sizeof *fd);
    double *gp = malloc(n * sizeof *gp), *gm = malloc(n * sizeof *gm), *th = hb_params_data(p);
    double *th0 = malloc(n * sizeof *th0);
    memcpy(th0, th, n * sizeof *th);
    ck_assert_int_eq(hb_random_fill_f64(ctx, 77, 0, HB_DIST_NORMAL, 0, 1, v, n), HB_OK);
    hvp(m, v, hv);
    const double h = 1e-5;
    for (size_t i = 0; i < n; i++) th[i] = th0[i] + h * v[i];
    grad_at(m, gp);
    for (size_t i = 0; i < n; i++) th[i] = th0[i] - h * v[i];
    grad_at(m, gm);
    memcpy(th, th0, n * sizeof *th);
    for (size_t i = 0; i < n; i++) fd[i] = (gp[i] - gm[i]) / (2 * h);
    double r = rel_diff(hv, fd, n);
    ck_assert_msg(r <= 1e-6, "HVP vs FD of gradients: relative error %g", r); /* see top */
    /* block by block too, so a small block's error cannot hide in the total */
    for (size_t b = 0; b < hb_params_num_blocks(p); b++) {
        size_t off, len;
        ck_assert_int_eq(hb_params_block_info(p, b, NULL, NULL, &off, &len, NULL, NULL), HB_OK);
        double rb = rel_diff(hv + off, fd + off, len), sc = nrm(fd + off, len) / nrm(fd, n);
        /* relative to the block when it carries weight, else to the whole vector */
        ck_assert_msg(rb * fmin(sc, 1.0) <= 1e-6 || rb <= 1e-6, "block %s: relative error %g",
                      hb_params_block_name(p, b), rb);
    }
    free(v);
    free(hv);
    free(fd);
    free(gp);
    free(gm);
    free(th0);
    hb_model_free(m);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_dense_hessian) {
    hb_context *ctx = hb_test_context(1, 5);
    hb_model *m = make(ctx, &MICRO);
    perturb(m, 1002);
    hb_params *p = hb_model_params(m);
    size_t n = hb_params_count(p);
    ck_assert_uint_eq(n, 308);
    hb_tensor *I = vec(ctx, n, n), *Ht = vec(ctx, n, n);
    double *e = hb_tensor_data(I), *H = hb_tensor_data(Ht);
    for (size_t i = 0; i < n; i++) e[i * n + i] = 1;
    ck_assert_int_eq(hb_model_hvp_multi(m, I, Ht), HB_OK);
    double hmax = 0, asym = 0;
    for (size_t i = 0; i < n * n; i++) hmax = fmax(hmax, fabs(H[i]));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++) asym = fmax(asym, fabs(H[i * n + j] - H[j * n + i]));
    /* exact R-operator: symmetric up to rounding of the sums (≈ n·eps) */
    ck_assert_msg(asym <= 1e-12 * hmax, "asymmetry %g vs max |H| %g", asym, hmax);
    /* against the FD Hessian, column by column (step and bound as in test_hvp_fd) */
    double *th = hb_params_data(p), *gp = malloc(n * sizeof *gp), *gm = malloc(n * sizeof *gm);
    double err = 0, ref = 0;
    const double h = 1e-5;
    for (size_t j = 0; j < n; j++) {
        double t0 = th[j];
        th[j] = t0 + h;
        grad_at(m, gp);
        th[j] = t0 - h;
        grad_at(m, gm);
        th[j] = t0;
        for (size_t i = 0; i < n; i++) {
            double fd = (gp[i] - gm[i]) / (2 * h);
            err += (fd - H[j * n + i]) * (fd - H[j * n + i]);
            ref += fd * fd;
        }
    }
    ck_assert_msg(sqrt(err / ref) <= 1e-6, "dense Hessian vs FD: relative error %g", sqrt(err / ref));
    free(gp);
    free(gm);
    hb_tensor_free(I);
    hb_tensor_free(Ht);
    hb_model_free(m);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_multi_and_blocks) {
    hb_context *ctx = hb_test_context(1, 6);
    hb_model *m = make(ctx, &TINY);
    perturb(m, 1003);
    hb_params *p = hb_model_params(m);
    size_t n = hb_params_count(p);
    enum { K = 3 };
    hb_tensor *V = vec(ctx, K, n), *O = vec(ctx, K, n);
    double *v = hb_tensor_data(V), *o = hb_tensor_data(O), *one = malloc(n * sizeof *one);
    ck_assert_int_eq(hb_random_fill_f64(ctx, 78, 0, HB_DIST_NORMAL, 0, 1, v, K * n), HB_OK);
    ck_assert_int_eq(hb_model_hvp_multi(m, V, O), HB_OK);
    /* the same products, one at a time: only the summation order of the gemms differs */
    for (size_t j = 0; j < K; j++) {
        hvp(m, v + j * n, one);
        double r = rel_diff(o + j * n, one, n);
        ck_assert_msg(r <= 1e-13, "hvp_multi direction %zu vs single: %g", j, r);
    }
    /* block_hvp = block part of H·[0 … v_b … 0], for every block, two directions at once */
    double *pad = calloc(n, sizeof *pad), *full = malloc(n * sizeof *full);
    for (size_t b = 0; b < hb_params_num_blocks(p); b++) {
        size_t off, len;
        ck_assert_int_eq(hb_params_block_info(p, b, NULL, NULL, &off, &len, NULL, NULL), HB_OK);
        hb_tensor *vb = vec(ctx, 2, len), *ob = vec(ctx, 2, len);
        double *vbd = hb_tensor_data(vb), *obd = hb_tensor_data(ob);
        memcpy(vbd, v + off, len * sizeof(double));
        memcpy(vbd + len, v + n + off, len * sizeof(double));
        ck_assert_int_eq(hb_model_block_hvp(m, b, vb, ob), HB_OK);
        for (size_t j = 0; j < 2; j++) {
            memset(pad, 0, n * sizeof *pad);
            memcpy(pad + off, vbd + j * len, len * sizeof(double));
            hvp(m, pad, full);
            double r = rel_diff(obd + j * len, full + off, len);
            ck_assert_msg(r <= 1e-12, "block %s direction %zu: relative error %g",
                          hb_params_block_name(p, b), j, r);
        }
        hb_tensor_free(vb);
        hb_tensor_free(ob);
    }
    free(pad);
    free(full);
    free(one);
    hb_tensor_free(V);
    hb_tensor_free(O);
    hb_model_free(m);
    hb_context_free(ctx);
}
END_TEST

static hb_tensor *ids(hb_context *ctx, int64_t N, int64_t T, const int32_t *src) {
    hb_tensor *t = NULL;
    int64_t s[2] = {N, T};
    ck_assert_int_eq(hb_tensor_create(ctx, HB_I32, 2, s, &t), HB_OK);
    memcpy(hb_tensor_data(t), src, (size_t)(N * T) * sizeof(int32_t));
    return t;
}

Suite *hb_suite_gpt(void) {
    Suite *s = suite_create("gpt");
    TCase *tc = tcase_create("gpt");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_param_layout);
    tcase_add_test(tc, test_grad_fd);
    tcase_add_test(tc, test_hvp_fd);
    tcase_add_test(tc, test_dense_hessian);
    tcase_add_test(tc, test_multi_and_blocks);
    suite_add_tcase(s, tc);
    return s;
}
