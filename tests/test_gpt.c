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
#include "model/model_internal.h"
#include "models/builtins.h"
#include "net/net_build.h"

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
    /* chunks of at most 2 directions (3 = 2 + 1): the same products */
    ck_assert_int_eq(hb__net_model_set_max_chunk(m, 2), HB_OK);
    hb_tensor *O2 = vec(ctx, K, n);
    ck_assert_int_eq(hb_model_hvp_multi(m, V, O2), HB_OK);
    ck_assert_int_eq(hb__net_model_set_max_chunk(m, 0), HB_OK);
    double rc = rel_diff(hb_tensor_data(O2), o, K * n);
    ck_assert_msg(rc <= 1e-13, "chunked hvp_multi: %g", rc);
    hb_tensor_free(O2);
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

static hb_model *make_like(hb_context *ctx, const hb_model *src, int64_t batch) {
    tiny c = TINY;
    c.batch = batch;
    hb_model *m = make(ctx, &c);
    size_t n = hb_params_count(((hb_model *)src)->params);
    memcpy(hb_params_data(m->params), ((hb_model *)src)->params->data, n * sizeof(double));
    return m;
}

START_TEST(test_micro_batches) {
    hb_context *ctx = hb_test_context(1, 7);
    hb_model *m5 = make(ctx, &(tiny){7, 5, 8, 2, 2, 5, HB_F64});
    perturb(m5, 1004);
    size_t n = hb_params_count(hb_model_params(m5));
    ck_assert_int_eq(hb_model_set_synthetic(m5, 1, 9, 0), HB_OK);
    const int32_t *x5 = m5->batches[0].inputs->data, *y5 = m5->batches[0].targets->data;
    /* a sample depends on its index only, never on the batch size */
    hb_model *m3 = make_like(ctx, m5, 3);
    ck_assert_int_eq(hb_model_set_synthetic(m3, 1, 9, 0), HB_OK);
    ck_assert_int_eq(memcmp(m3->batches[0].inputs->data, x5, 3 * 5 * sizeof(int32_t)), 0);
    ck_assert_int_eq(hb_model_set_synthetic(m3, 2, 9, 1), HB_OK); /* samples 1..6 */
    ck_assert_int_eq(memcmp(m3->batches[0].inputs->data, x5 + 5, 3 * 5 * sizeof(int32_t)), 0);
    ck_assert_int_eq(memcmp(m3->batches[0].targets->data, y5 + 5, 3 * 5 * sizeof(int32_t)), 0);
    /* two micro-batches (2 + 3 sequences) = their concatenation (5) */
    hb_tensor *xa = ids(ctx, 2, 5, x5), *ya = ids(ctx, 2, 5, y5);
    hb_tensor *xb = ids(ctx, 3, 5, x5 + 10), *yb = ids(ctx, 3, 5, y5 + 10);
    hb_model *mm = make_like(ctx, m5, 5);
    ck_assert_int_eq(hb_model_set_batch(mm, xa, ya), HB_OK);
    ck_assert_int_eq(hb_model_add_batch(mm, xb, yb), HB_OK);
    ck_assert_uint_eq(hb_model_num_batches(mm), 2);
    ck_assert_uint_eq(hb_model_num_samples(mm), 5);
    double l5 = loss_at(m5), lm = loss_at(mm);
    HB_ASSERT_CLOSE(lm, l5, 1e-14); /* weighted mean of two means: rounding only */
    double *g5 = malloc(n * sizeof *g5), *gm = malloc(n * sizeof *gm), *v = malloc(n * sizeof *v);
    grad_at(m5, g5);
    grad_at(mm, gm);
    ck_assert_msg(rel_diff(gm, g5, n) <= 1e-13, "grad: %g", rel_diff(gm, g5, n));
    ck_assert_int_eq(hb_random_fill_f64(ctx, 79, 0, HB_DIST_NORMAL, 0, 1, v, n), HB_OK);
    hvp(m5, v, g5);
    hvp(mm, v, gm);
    ck_assert_msg(rel_diff(gm, g5, n) <= 1e-13, "hvp: %g", rel_diff(gm, g5, n));
    double a5, am;
    ck_assert_int_eq(hb_model_accuracy(m5, &a5), HB_OK);
    ck_assert_int_eq(hb_model_accuracy(mm, &am), HB_OK);
    ck_assert(a5 == am && a5 >= 0 && a5 <= 1);
    free(g5);
    free(gm);
    free(v);
    hb_tensor_free(xa);
    hb_tensor_free(ya);
    hb_tensor_free(xb);
    hb_tensor_free(yb);
    hb_model_free(m3);
    hb_model_free(mm);
    hb_model_free(m5);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_f32_vs_f64) {
    hb_context *ctx = hb_test_context(1, 8);
    hb_model *m = make(ctx, &TINY);
    perturb(m, 1005);
    tiny c32 = TINY;
    c32.dtype = HB_F32;
    hb_model *s = make(ctx, &c32);
    size_t n = hb_params_count(m->params);
    const double *th = m->params->data;
    float *ts = s->params->data;
    for (size_t i = 0; i < n; i++) ts[i] = (float)th[i];
    ck_assert_int_eq(hb_model_set_synthetic(m, 1, 3, 0), HB_OK);
    ck_assert_int_eq(hb_model_set_synthetic(s, 1, 3, 0), HB_OK);
    /* f32 rounding: θ itself carries ~6e-8 relative error and every op adds a few eps;
     * 1e-5 (loss), 1e-4 (gradient, HVP: differences of O(1) terms) is f32 accuracy */
    HB_ASSERT_CLOSE(loss_at(s), loss_at(m), 1e-5);
    double *g = malloc(n * sizeof *g), *gs = malloc(n * sizeof *gs), *v = malloc(n * sizeof *v);
    grad_at(m, g);
    ck_assert_int_eq(hb_model_loss_grad(s, NULL), HB_OK);
    for (size_t i = 0; i < n; i++) gs[i] = ((float *)s->params->grad)[i];
    ck_assert_msg(rel_diff(gs, g, n) <= 1e-4, "f32 grad: %g", rel_diff(gs, g, n));
    ck_assert_int_eq(hb_random_fill_f64(ctx, 80, 0, HB_DIST_NORMAL, 0, 1, v, n), HB_OK);
    hvp(m, v, g);
    hvp(s, v, gs); /* f64 vectors in and out, f32 compute */
    ck_assert_msg(rel_diff(gs, g, n) <= 1e-4, "f32 hvp: %g", rel_diff(gs, g, n));
    /* bf16 parameters compute in f32 */
    tiny cb = TINY;
    cb.dtype = HB_BF16;
    hb_model *b = make(ctx, &cb);
    ck_assert(isfinite(loss_at(b)));
    hvp(b, v, gs);
    ck_assert(isfinite(nrm(gs, n)));
    hb_model_free(b);
    free(g);
    free(gs);
    free(v);
    hb_model_free(s);
    hb_model_free(m);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_bad_input) {
    hb_context *ctx = hb_test_context(1, 9);
    hb_model *m = make(ctx, &TINY);
    double l0 = loss_at(m);
    int32_t good[2 * 5] = {0, 1, 2, 3, 4, 5, 6, 0, 1, 2};
    int32_t bad[2 * 5] = {0, 1, 2, 3, 4, 5, 7, 0, 1, 2};
    int32_t neg[2 * 5] = {0, 1, 2, 3, 4, 5, -1, 0, 1, 2};
    hb_tensor *xg = ids(ctx, 2, 5, good), *xb = ids(ctx, 2, 5, bad), *xn = ids(ctx, 2, 5, neg);
    hb_tensor *x4 = ids(ctx, 2, 4, good), *x1 = ids(ctx, 1, 5, good), *xf = NULL, *x3d = NULL;
    int64_t s2[2] = {2, 5}, s3[3] = {1, 2, 5};
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F64, 2, s2, &xf), HB_OK);
    ck_assert_int_eq(hb_tensor_create(ctx, HB_I32, 3, s3, &x3d), HB_OK);
    ck_assert_int_eq(hb_model_set_batch(m, xb, xg), HB_ERANGE);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "vocabulary"));
    ck_assert_int_eq(hb_model_set_batch(m, xg, xb), HB_ERANGE);
    ck_assert_int_eq(hb_model_set_batch(m, xn, xg), HB_ERANGE);
    ck_assert_int_eq(hb_model_set_batch(m, x4, x4), HB_ESHAPE);  /* wrong length T */
    ck_assert_int_eq(hb_model_set_batch(m, xg, x1), HB_ESHAPE);  /* targets shape */
    ck_assert_int_eq(hb_model_add_batch(m, x3d, x3d), HB_ESHAPE); /* wrong rank */
    ck_assert_int_eq(hb_model_set_batch(m, xf, xg), HB_EDTYPE);
    ck_assert_int_eq(hb_model_set_batch(m, xg, NULL), HB_EINVAL);
    /* nothing written: the synthetic batch is still there */
    ck_assert_uint_eq(hb_model_num_batches(m), 1);
    ck_assert_uint_eq(hb_model_num_samples(m), 3);
    ck_assert(loss_at(m) == l0);
    ck_assert_int_eq(hb_model_set_batch(m, xg, xg), HB_OK);
    ck_assert_uint_eq(hb_model_num_samples(m), 2);
    /* hvp with a wrong length or NaN writes nothing */
    size_t n = hb_params_count(m->params);
    hb_tensor *v = vec(ctx, 1, n), *o = vec(ctx, 1, n), *o2 = vec(ctx, 1, n - 1);
    ck_assert_int_eq(hb_tensor_fill(o, 5.0), HB_OK);
    ck_assert_int_eq(hb_tensor_set_f64(v, 3, NAN), HB_OK);
    ck_assert_int_eq(hb_model_hvp_multi(m, v, o), HB_ENONFINITE);
    ck_assert_int_eq(hb_model_hvp_multi(m, o, o2), HB_ESHAPE);
    for (size_t i = 0; i < n; i++) ck_assert(((double *)hb_tensor_data(o))[i] == 5.0);
    ck_assert_int_eq(hb_model_block_hvp(m, 99, v, o), HB_ERANGE);
    hb_tensor_free(v);
    hb_tensor_free(o);
    hb_tensor_free(o2);
    hb_tensor_free(xg);
    hb_tensor_free(xb);
    hb_tensor_free(xn);
    hb_tensor_free(x4);
    hb_tensor_free(x1);
    hb_tensor_free(xf);
    hb_tensor_free(x3d);
    hb_model_free(m);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_text) {
    hb_context *ctx = hb_test_context(1, 10);
    tiny c = TINY;
    c.V = 128; /* ASCII */
    c.batch = 2;
    hb_model *m = make(ctx, &c);
    char path[] = "/tmp/hb_gpt_textXXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *text = "hello, world: a tiny corpus.\n";
    ck_assert_int_eq(write(fd, text, strlen(text)), (long)strlen(text));
    close(fd);
    ck_assert_int_eq(hb_model_set_text(m, path, 3, 1), HB_OK);
    ck_assert_uint_eq(hb_model_num_batches(m), 3);
    ck_assert_uint_eq(hb_model_num_samples(m), 6);
    /* sample 1 starts at byte 1·T = 5 */
    const int32_t *x = m->batches[0].inputs->data, *y = m->batches[0].targets->data;
    for (int t = 0; t < 5; t++) {
        ck_assert_int_eq(x[t], (unsigned char)text[5 + t]);
        ck_assert_int_eq(y[t], (unsigned char)text[6 + t]);
    }
    ck_assert(isfinite(loss_at(m)));
    {   /* an SST wrapper of the gpt takes the same windows, and computes the same loss */
        hb_sst_config *sc = NULL;
        hb_model *w = NULL;
        ck_assert_int_eq(hb_sst_config_create(ctx, HB_SST_METHOD_SPECTRAL, &sc), HB_OK);
        ck_assert_int_eq(hb_sst_config_add_kind(sc, HB_BLOCK_MLP_IN), HB_OK);
        ck_assert_int_eq(hb_sst_create(m, sc, &w), HB_OK);
        hb_sst_config_free(sc);
        ck_assert_int_eq(hb_model_set_text(w, path, 3, 1), HB_OK);
        ck_assert_uint_eq(hb_model_num_samples(w), 6);
        const int32_t *wx = w->batches[2].inputs->data, *mx = m->batches[2].inputs->data;
        for (int t = 0; t < 10; t++) ck_assert_int_eq(wx[t], mx[t]);
        double lw;
        ck_assert_int_eq(hb_model_loss(w, &lw), HB_OK);
        HB_ASSERT_CLOSE(lw, loss_at(m), 1e-12); /* zero distortion, same data */
        hb_model_free(w);
    }
    /* errors: nothing changes */
    ck_assert_int_eq(hb_model_set_text(m, "/nonexistent/dir/corpus.txt", 1, 0), HB_EIO);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "/nonexistent/dir/corpus.txt"));
    ck_assert_int_eq(hb_model_set_text(m, "/tmp", 1, 0), HB_EIO); /* a directory */
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "/tmp"));
    ck_assert_int_eq(hb_model_set_text(m, NULL, 1, 0), HB_EINVAL);
    ck_assert_int_eq(hb_model_set_text(m, path, 0, 0), HB_EINVAL);
    ck_assert_int_eq(hb_model_set_text(NULL, path, 1, 0), HB_EINVAL);
    {
        hb_model_config *mc = NULL;
        hb_model *mlp = NULL;
        ck_assert_int_eq(hb_model_config_create(ctx, HB_MODEL_MLP, &mc), HB_OK);
        ck_assert_int_eq(hb_model_create(ctx, mc, &mlp), HB_OK);
        ck_assert_int_eq(hb_model_set_text(mlp, path, 1, 0), HB_EUNSUPPORTED);
        hb_model_free(mlp);
        hb_model_config_free(mc);
    }
    FILE *f = fopen(path, "wb");
    fputs("abc", f);
    fclose(f);
    ck_assert_int_eq(hb_model_set_text(m, path, 1, 0), HB_EFORMAT); /* < T + 1 bytes */
    f = fopen(path, "wb");
    fputs("abcdefgh\xc3\xa9", f); /* é: bytes >= 128 */
    fclose(f);
    ck_assert_int_eq(hb_model_set_text(m, path, 1, 0), HB_ERANGE);
    ck_assert_uint_eq(hb_model_num_samples(m), 6);
    remove(path);
    hb_model_free(m);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_synthetic) {
    hb_context *ctx = hb_test_context(1, 11);
    tiny c = {16, 32, 8, 2, 1, 64, HB_F64};
    hb_model *m = make(ctx, &c);
    ck_assert_int_eq(hb_model_set_synthetic(m, 1, 2, 0), HB_OK);
    const int32_t *x = m->batches[0].inputs->data, *y = m->batches[0].targets->data;
    /* the grammar: each token has at most 4 successors, except where the copy rule
     * (token 8 back) fires; so the successor sets observed are small and targets shift */
    int succ[16][16] = {{0}};
    size_t copies = 0, total = 0;
    for (int i = 0; i < 64; i++)
        for (int t = 0; t < 32; t++) {
            ck_assert(x[i * 32 + t] >= 0 && x[i * 32 + t] < 16);
            if (t + 1 < 32) ck_assert_int_eq(y[i * 32 + t], x[i * 32 + t + 1]);
            if (t >= 8) {
                total++;
                if (y[i * 32 + t] == x[i * 32 + t - 7]) copies++;
                else succ[x[i * 32 + t]][y[i * 32 + t]] = 1;
            }
        }
    for (int a = 0; a < 16; a++) {
        int k = 0;
        for (int b = 0; b < 16; b++) k += succ[a][b];
        ck_assert_int_le(k, 4);
    }
    /* copy rule probability 1/8 plus chance agreement: between 0.1 and 0.45 */
    double frac = (double)copies / (double)total;
    ck_assert_msg(frac > 0.1 && frac < 0.45, "copy fraction %g", frac);
    /* different streams differ; the same stream reproduces */
    hb_tensor *keep = NULL;
    ck_assert_int_eq(hb_tensor_create(ctx, HB_I32, 2, (int64_t[]){64, 32}, &keep), HB_OK);
    ck_assert_int_eq(hb_tensor_copy(keep, m->batches[0].inputs), HB_OK);
    ck_assert_int_eq(hb_model_set_synthetic(m, 1, 3, 0), HB_OK);
    ck_assert_int_ne(memcmp(hb_tensor_data(keep), m->batches[0].inputs->data, 64 * 32 * 4), 0);
    ck_assert_int_eq(hb_model_set_synthetic(m, 1, 2, 0), HB_OK);
    ck_assert_int_eq(memcmp(hb_tensor_data(keep), m->batches[0].inputs->data, 64 * 32 * 4), 0);
    hb_tensor_free(keep);
    hb_model_free(m);
    hb_context_free(ctx);
}
END_TEST

/* Edge shapes: one position, one head, head width 1, three layers. Gradient and HVP vs FD
 * (bounds as at the top). */
START_TEST(test_edge_configs) {
    const tiny cfgs[] = {{3, 1, 2, 1, 1, 1, HB_F64}, {4, 3, 3, 3, 3, 2, HB_F64}};
    for (size_t c = 0; c < 2; c++) {
        hb_context *ctx = hb_test_context(1, 13 + (int64_t)c);
        hb_model *m = make(ctx, &cfgs[c]);
        perturb(m, 1010);
        size_t n = hb_params_count(m->params);
        double *th = m->params->data, *g = malloc(n * sizeof *g), *fd = malloc(n * sizeof *fd);
        double *v = malloc(n * sizeof *v), *hv = malloc(n * sizeof *hv), *gp = malloc(n * sizeof *gp);
        const double h = 1e-5;
        grad_at(m, g);
        for (size_t i = 0; i < n; i++) {
            double t0 = th[i];
            th[i] = t0 + h;
            double lp = loss_at(m);
            th[i] = t0 - h;
            fd[i] = (lp - loss_at(m)) / (2 * h);
            th[i] = t0;
        }
        ck_assert_msg(rel_diff(g, fd, n) <= 1e-7, "config %zu grad: %g", c, rel_diff(g, fd, n));
        ck_assert_int_eq(hb_random_fill_f64(ctx, 81, 0, HB_DIST_NORMAL, 0, 1, v, n), HB_OK);
        hvp(m, v, hv);
        for (size_t i = 0; i < n; i++) th[i] += h * v[i];
        grad_at(m, gp);
        for (size_t i = 0; i < n; i++) th[i] -= 2 * h * v[i];
        grad_at(m, g);
        for (size_t i = 0; i < n; i++) {
            th[i] += h * v[i];
            fd[i] = (gp[i] - g[i]) / (2 * h);
        }
        ck_assert_msg(rel_diff(hv, fd, n) <= 1e-6, "config %zu hvp: %g", c, rel_diff(hv, fd, n));
        free(g), free(fd), free(v), free(hv), free(gp);
        hb_model_free(m);
        hb_context_free(ctx);
    }
}
END_TEST

/* Two threads (BLIS) give the same products up to the summation order. */
START_TEST(test_threads) {
    hb_context *c1 = hb_test_context(1, 12), *c2 = hb_test_context(2, 12);
    hb_model *m1 = make(c1, &TINY), *m2 = make(c2, &TINY);
    size_t n = hb_params_count(m1->params);
    ck_assert_int_eq(memcmp(m1->params->data, m2->params->data, n * sizeof(double)), 0);
    ck_assert_int_eq(memcmp(m1->batches[0].inputs->data, m2->batches[0].inputs->data,
                            3 * 5 * sizeof(int32_t)), 0);
    double *v = malloc(n * sizeof *v), *o1 = malloc(n * sizeof *o1), *o2 = malloc(n * sizeof *o2);
    for (size_t i = 0; i < n; i++) v[i] = sin((double)i);
    hvp(m1, v, o1);
    hvp(m2, v, o2);
    ck_assert_msg(rel_diff(o2, o1, n) <= 1e-13, "threads: %g", rel_diff(o2, o1, n));
    free(v), free(o1), free(o2);
    hb_model_free(m1);
    hb_model_free(m2);
    hb_context_free(c1);
    hb_context_free(c2);
}
END_TEST

static int create_and_use(hb_context *ctx, void *arg) {
    (void)arg;
    hb_model_config *cfg = NULL;
    int rc = hb_model_config_create(ctx, HB_MODEL_GPT, &cfg);
    if (rc == HB_OK) rc = hb_model_config_set_i64(cfg, HB_MK_WIDTH, 8);
    if (rc == HB_OK) rc = hb_model_config_set_i64(cfg, HB_MK_CONTEXT, 4);
    if (rc == HB_OK) rc = hb_model_config_set_i64(cfg, HB_MK_VOCAB, 6);
    if (rc == HB_OK) rc = hb_model_config_set_i64(cfg, HB_MK_BATCH, 2);
    hb_model *m = NULL;
    if (rc == HB_OK) rc = hb_model_create(ctx, cfg, &m);
    hb_model_config_free(cfg);
    if (rc != HB_OK) return rc;
    size_t n = hb_params_count(hb_model_params(m));
    hb_tensor *v = NULL, *o = NULL;
    int64_t s[2] = {2, (int64_t)n};
    rc = hb_tensor_create(ctx, HB_F64, 2, s, &v);
    if (rc == HB_OK) rc = hb_tensor_create(ctx, HB_F64, 2, s, &o);
    if (rc == HB_OK) rc = hb_tensor_fill(v, 0.5);
    if (rc == HB_OK) rc = hb_model_loss_grad(m, NULL);
    if (rc == HB_OK) rc = hb_model_hvp_multi(m, v, o);
    double acc;
    if (rc == HB_OK) rc = hb_model_accuracy(m, &acc);
    hb_tensor_free(v);
    hb_tensor_free(o);
    hb_model_free(m);
    return rc;
}

/* set_text under allocation failure: a failure leaves the previous (synthetic) data. */
static int text_oom(hb_context *ctx, void *arg) {
    hb_model_config *cfg = NULL;
    int rc = hb_model_config_create(ctx, HB_MODEL_GPT, &cfg);
    if (rc == HB_OK) rc = hb_model_config_set_i64(cfg, HB_MK_WIDTH, 8);
    if (rc == HB_OK) rc = hb_model_config_set_i64(cfg, HB_MK_CONTEXT, 4);
    if (rc == HB_OK) rc = hb_model_config_set_i64(cfg, HB_MK_VOCAB, 128);
    if (rc == HB_OK) rc = hb_model_config_set_i64(cfg, HB_MK_BATCH, 2);
    hb_model *m = NULL;
    if (rc == HB_OK) rc = hb_model_create(ctx, cfg, &m);
    hb_model_config_free(cfg);
    if (rc != HB_OK) return rc;
    rc = hb_model_set_text(m, arg, 3, 0);
    if (rc == HB_ENOMEM) ck_assert_uint_eq(hb_model_num_samples(m), 2); /* unchanged */
    else ck_assert_uint_eq(hb_model_num_samples(m), 6);
    hb_model_free(m);
    return rc;
}

START_TEST(test_oom) {
    ck_assert_int_ge(hb_test_oom_loop(create_and_use, NULL), 20);
    char path[] = "/tmp/hb_gpt_oomXXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "abcdefghijklmnop", 16), 16);
    close(fd);
    ck_assert_int_ge(hb_test_oom_loop(text_oom, path), 10);
    remove(path);
}
END_TEST

Suite *hb_suite_gpt(void) {
    Suite *s = suite_create("gpt");
    TCase *tc = tcase_create("gpt");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_param_layout);
    tcase_add_test(tc, test_grad_fd);
    tcase_add_test(tc, test_hvp_fd);
    tcase_add_test(tc, test_dense_hessian);
    tcase_add_test(tc, test_multi_and_blocks);
    tcase_add_test(tc, test_micro_batches);
    tcase_add_test(tc, test_f32_vs_f64);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_text);
    tcase_add_test(tc, test_synthetic);
    tcase_add_test(tc, test_oom);
    tcase_add_test(tc, test_threads);
    tcase_add_test(tc, test_edge_configs);
    suite_add_tcase(s, tc);
    return s;
}
