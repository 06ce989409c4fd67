/* The generic model layer, through callback models on a known objective:
 *   L(θ) = ½ θᵀAθ − bᵀθ + c·Σ θ_i⁴/4   (A symmetric), so ∇L = Aθ − b + c·θ³ and
 *   H = A + 3c·diag(θ²) exactly. */
#include <string.h>

#include "hb_test.h"

enum { N = 7 };
typedef struct { double A[N * N], b[N], c; int fail; int calls; } quartic;

static int q_loss_grad(void *user, const double *th, size_t n, double *loss, double *grad) {
    quartic *q = user;
    q->calls++;
    if (q->fail) return 42;
    double l = 0;
    for (size_t i = 0; i < n; i++) {
        double ai = 0;
        for (size_t j = 0; j < n; j++) ai += q->A[i * n + j] * th[j];
        l += 0.5 * th[i] * ai - q->b[i] * th[i] + q->c * pow(th[i], 4) / 4;
        grad[i] = ai - q->b[i] + q->c * pow(th[i], 3);
    }
    *loss = l;
    return 0;
}

static int q_hvp(void *user, const double *th, size_t n, const double *v, double *out) {
    quartic *q = user;
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < n; j++) s += q->A[i * n + j] * v[j];
        out[i] = s + 3 * q->c * th[i] * th[i] * v[i];
    }
    return 0;
}

static hb_params *two_blocks(hb_context *ctx) {
    hb_params *p = NULL;
    int64_t s1[1] = {3}, s2[2] = {2, 2};
    ck_assert_int_eq(hb_params_create(ctx, HB_F64, &p), HB_OK);
    ck_assert_int_eq(hb_params_add_block(p, "a", HB_BLOCK_OTHER, 1, s1, NULL), HB_OK);
    ck_assert_int_eq(hb_params_add_block(p, "b", HB_BLOCK_OTHER, 2, s2, NULL), HB_OK);
    ck_assert_int_eq(hb_params_finalize(p), HB_OK);
    ck_assert_int_eq(hb_params_init_block(p, 0, HB_INIT_NORMAL, 0, 1), HB_OK);
    ck_assert_int_eq(hb_params_init_block(p, 1, HB_INIT_NORMAL, 0, 1), HB_OK);
    return p;
}

static void make_quartic(quartic *q) {
    memset(q, 0, sizeof *q);
    for (int i = 0; i < N; i++) {
        q->b[i] = cos(i + 1.0);
        for (int j = 0; j <= i; j++) q->A[i * N + j] = q->A[j * N + i] = sin(1.0 + i * N + j);
        q->A[i * N + i] += 4;
    }
    q->c = 0.3;
}

static void dense_H(const quartic *q, const double *th, double *H) {
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) H[i * N + j] = q->A[i * N + j] + (i == j ? 3 * q->c * th[i] * th[i] : 0);
}

START_TEST(test_callbacks_exact_and_fd) {
    hb_context *ctx = hb_test_context(1, 11);
    quartic q;
    make_quartic(&q);
    hb_model *exact = NULL, *fd = NULL;
    hb_params *p1 = two_blocks(ctx), *p2 = two_blocks(ctx);
    memcpy(hb_params_data(p2), hb_params_data(p1), N * sizeof(double)); /* same θ */
    ck_assert_int_eq(hb_model_create_callbacks(ctx, p1, q_loss_grad, q_hvp, &q, &exact), HB_OK);
    ck_assert_int_eq(hb_model_create_callbacks(ctx, p2, q_loss_grad, NULL, &q, &fd), HB_OK);
    ck_assert_int_eq(hb_model_has_exact_hvp(exact), 1);
    ck_assert_int_eq(hb_model_has_exact_hvp(fd), 0);
    ck_assert_str_eq(hb_model_name(fd), "callbacks");
    ck_assert_int_eq(hb_model_kind_of(fd), 0);
    ck_assert_ptr_eq(hb_model_params(exact), p1);
    ck_assert_ptr_eq(hb_model_context(exact), ctx);
    /* loss and gradient land where documented */
    double loss, ref_loss, g[N];
    ck_assert_int_eq(hb_model_loss_grad(exact, &loss), HB_OK);
    ck_assert_int_eq(q_loss_grad(&q, hb_params_data(p1), N, &ref_loss, g), 0);
    ck_assert(loss == ref_loss);
    ck_assert_int_eq(memcmp(hb_params_grad(p1), g, sizeof g), 0);
    ck_assert_int_eq(hb_model_loss(exact, &loss), HB_OK);
    ck_assert(loss == ref_loss);
    /* H·v against the dense Hessian, for every basis vector, via hvp_multi (k = N) */
    double H[N * N];
    dense_H(&q, hb_params_data(p1), H);
    int64_t sh[2] = {N, N};
    hb_tensor *I = NULL, *HV = NULL, *HF = NULL;
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F64, 2, sh, &I), HB_OK);
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F32, 2, sh, &HF), HB_OK); /* f32 output converts */
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F64, 2, sh, &HV), HB_OK);
    for (int i = 0; i < N; i++) ck_assert_int_eq(hb_tensor_set_f64(I, i * N + i, 1.0), HB_OK);
    ck_assert_int_eq(hb_model_hvp_multi(exact, I, HV), HB_OK);
    const double *hv = hb_tensor_data(HV);
    for (int i = 0; i < N * N; i++) ck_assert(hv[i] == H[i]); /* columns of a symmetric H */
    /* finite-difference fallback: documented accuracy ~1e-10 relative at this scale */
    ck_assert_int_eq(hb_model_hvp_multi(fd, I, HF), HB_OK);
    ck_assert_int_eq(hb_model_hvp_multi(fd, I, HV), HB_OK);
    for (int i = 0; i < N * N; i++) {
        HB_ASSERT_CLOSE(hv[i], H[i], 1e-8);
        HB_ASSERT_CLOSE(((float *)hb_tensor_data(HF))[i], H[i], 1e-6);
    }
    /* block_hvp = block part of H·[0 … v_b … 0]: block "b" is elements 3..6 */
    int64_t s4[1] = {4};
    hb_tensor *vb = NULL, *ob = NULL;
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F64, 1, s4, &vb), HB_OK);
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F64, 1, s4, &ob), HB_OK);
    double vv[4] = {0.5, -1, 2, 0.25};
    memcpy(hb_tensor_data(vb), vv, sizeof vv);
    ck_assert_int_eq(hb_model_block_hvp(exact, 1, vb, ob), HB_OK);
    for (int i = 0; i < 4; i++) {
        double s = 0;
        for (int j = 0; j < 4; j++) s += H[(3 + i) * N + 3 + j] * vv[j];
        HB_ASSERT_CLOSE(((double *)hb_tensor_data(ob))[i], s, 1e-14);
    }
    /* the generic layer reuses its scratch: a repeat after larger calls must not see
       stale directions or accumulate onto the previous result */
    double first[4];
    memcpy(first, hb_tensor_data(ob), sizeof first);
    ck_assert_int_eq(hb_model_hvp_multi(exact, I, HV), HB_OK);
    ck_assert_int_eq(hb_model_block_hvp(exact, 1, vb, ob), HB_OK);
    ck_assert_int_eq(memcmp(first, hb_tensor_data(ob), sizeof first), 0);
    ck_assert_int_eq(hb_model_block_hvp(exact, 2, vb, ob), HB_ERANGE);
    ck_assert_int_eq(hb_model_block_hvp(exact, 0, vb, ob), HB_ESHAPE);
    /* quadratic callbacks have no data and no synthetic data / accuracy */
    ck_assert_int_eq(hb_model_set_batch(exact, I, I), HB_EUNSUPPORTED);
    ck_assert_int_eq(hb_model_set_synthetic(exact, 1, 0, 0), HB_EUNSUPPORTED);
    double acc;
    ck_assert_int_eq(hb_model_accuracy(exact, &acc), HB_EUNSUPPORTED);
    ck_assert_uint_eq(hb_model_num_batches(exact), 0);
    hb_tensor_free(vb);
    hb_tensor_free(ob);
    hb_tensor_free(I);
    hb_tensor_free(HV);
    hb_tensor_free(HF);
    hb_model_free(exact);
    hb_model_free(fd);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_bad_input_writes_nothing) {
    hb_context *ctx = hb_test_context(1, 1);
    quartic q;
    make_quartic(&q);
    hb_params *p = two_blocks(ctx);
    hb_model *m = NULL;
    ck_assert_int_eq(hb_model_create_callbacks(NULL, p, q_loss_grad, NULL, &q, &m), HB_EINVAL);
    ck_assert_int_eq(hb_model_create_callbacks(ctx, p, NULL, NULL, &q, &m), HB_EINVAL);
    ck_assert_int_eq(hb_model_create_callbacks(ctx, p, q_loss_grad, NULL, &q, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_model_create_callbacks(ctx, p, q_loss_grad, NULL, &q, &m), HB_OK);
    int64_t s[1] = {N}, s6[1] = {6};
    hb_tensor *v = NULL, *out = NULL, *short_v = NULL, *bf = NULL;
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F64, 1, s, &v), HB_OK);
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F64, 1, s, &out), HB_OK);
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F64, 1, s6, &short_v), HB_OK);
    ck_assert_int_eq(hb_tensor_create(ctx, HB_BF16, 1, s, &bf), HB_OK);
    ck_assert_int_eq(hb_tensor_fill(out, 123.0), HB_OK);
    ck_assert_int_eq(hb_model_hvp(m, short_v, out), HB_ESHAPE);
    ck_assert_int_eq(hb_model_hvp(m, bf, out), HB_EDTYPE);
    ck_assert_int_eq(hb_model_hvp(m, NULL, out), HB_EINVAL);
    ck_assert_int_eq(hb_model_hvp(NULL, v, out), HB_EINVAL);
    ck_assert_int_eq(hb_model_hvp_multi(m, v, out), HB_ESHAPE); /* 1-d is not (k, n) */
    ck_assert_int_eq(hb_tensor_set_f64(v, 2, NAN), HB_OK);
    ck_assert_int_eq(hb_model_hvp(m, v, out), HB_ENONFINITE);
    for (int i = 0; i < N; i++) ck_assert(((double *)hb_tensor_data(out))[i] == 123.0);
    /* a failing callback is HB_ECALLBACK, with the code in the message */
    ck_assert_int_eq(hb_tensor_set_f64(v, 2, 1.0), HB_OK);
    q.fail = 1;
    double loss;
    ck_assert_int_eq(hb_model_loss(m, &loss), HB_ECALLBACK);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "42"));
    ck_assert_int_eq(hb_model_hvp(m, v, out), HB_ECALLBACK);
    q.fail = 0;
    ck_assert_int_eq(hb_model_loss(m, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_model_loss_grad(NULL, &loss), HB_EINVAL);
    hb_tensor_free(v);
    hb_tensor_free(out);
    hb_tensor_free(short_v);
    hb_tensor_free(bf);
    hb_model_free(m);
    hb_model_free(NULL);
    /* params of the wrong kind are refused and stay the caller's */
    hb_params *p32 = NULL, *unfinished = NULL;
    int64_t s2[1] = {2};
    ck_assert_int_eq(hb_params_create(ctx, HB_F32, &p32), HB_OK);
    ck_assert_int_eq(hb_params_add_block(p32, "x", HB_BLOCK_OTHER, 1, s2, NULL), HB_OK);
    ck_assert_int_eq(hb_params_finalize(p32), HB_OK);
    ck_assert_int_eq(hb_model_create_callbacks(ctx, p32, q_loss_grad, NULL, &q, &m), HB_EDTYPE);
    ck_assert_int_eq(hb_params_create(ctx, HB_F64, &unfinished), HB_OK);
    ck_assert_int_eq(hb_model_create_callbacks(ctx, unfinished, q_loss_grad, NULL, &q, &m), HB_ESTATE);
    hb_params_free(p32);
    hb_params_free(unfinished);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_config) {
    hb_context *ctx = hb_test_context(1, 0);
    hb_model_config *c = NULL;
    ck_assert_int_eq(hb_model_config_create(ctx, (hb_model_kind)99, &c), HB_EINVAL);
    ck_assert_int_eq(hb_model_config_create(NULL, HB_MODEL_GPT, &c), HB_EINVAL);
    ck_assert_int_eq(hb_model_config_create(ctx, HB_MODEL_GPT, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_model_config_create(ctx, HB_MODEL_GPT, &c), HB_OK);
    int64_t v;
    double d;
    ck_assert_int_eq(hb_model_config_get_i64(c, HB_MK_VOCAB, &v), HB_OK);
    ck_assert_int_eq(v, 65);
    ck_assert_int_eq(hb_model_config_get_i64(c, HB_MK_DTYPE, &v), HB_OK);
    ck_assert_int_eq(v, HB_F64);
    ck_assert_int_eq(hb_model_config_set_i64(c, HB_MK_CLASSES, 3), HB_EINVAL); /* not a gpt key */
    ck_assert_int_eq(hb_model_config_set_i64(c, HB_MK_WIDTH, 0), HB_EINVAL);
    ck_assert_int_eq(hb_model_config_set_f64(c, HB_MK_WIDTH, 8), HB_EINVAL);  /* integer key */
    ck_assert_int_eq(hb_model_config_set_i64(c, HB_MK_DTYPE, HB_I32), HB_EDTYPE);
    ck_assert_int_eq(hb_model_config_set_i64(c, HB_MK_WIDTH, 32), HB_OK);
    ck_assert_int_eq(hb_model_config_get_i64(c, HB_MK_WIDTH, &v), HB_OK);
    ck_assert_int_eq(v, 32);
    ck_assert_int_eq(hb_model_config_get_f64(c, HB_MK_WIDTH, &d), HB_EINVAL);
    ck_assert_int_eq(hb_model_config_get_i64(c, HB_MK_WIDTH, NULL), HB_EINVAL);
    hb_model_config_free(c);
    ck_assert_int_eq(hb_model_config_create(ctx, HB_MODEL_QUADRATIC, &c), HB_OK);
    ck_assert_int_eq(hb_model_config_get_f64(c, HB_MK_QUAD_COND, &d), HB_OK);
    ck_assert(d == 5000);
    ck_assert_int_eq(hb_model_config_set_f64(c, HB_MK_QUAD_COND, 0.5), HB_EINVAL);
    ck_assert_int_eq(hb_model_config_set_f64(c, HB_MK_QUAD_COND, NAN), HB_EINVAL);
    ck_assert_int_eq(hb_model_config_set_i64(NULL, HB_MK_BATCH, 1), HB_EINVAL);
    ck_assert_int_eq(hb_model_config_set_f64(NULL, HB_MK_QUAD_COND, 1), HB_EINVAL);
    ck_assert_int_eq(hb_model_config_get_i64(NULL, HB_MK_BATCH, &v), HB_EINVAL);
    ck_assert_int_eq(hb_model_config_get_f64(NULL, HB_MK_QUAD_COND, &d), HB_EINVAL);
    hb_model *m = NULL;
    ck_assert_int_eq(hb_model_create(ctx, NULL, &m), HB_EINVAL);
    ck_assert_int_eq(hb_model_create(NULL, c, &m), HB_EINVAL);
    hb_model_config_free(c);
    hb_model_config_free(NULL);
    hb_context_free(ctx);
}
END_TEST

static int create_callback_model(hb_context *ctx, void *arg) {
    hb_params *p = NULL;
    int64_t s[1] = {N};
    int rc = hb_params_create(ctx, HB_F64, &p);
    if (rc == HB_OK) rc = hb_params_add_block(p, "x", HB_BLOCK_OTHER, 1, s, NULL);
    if (rc == HB_OK) rc = hb_params_finalize(p);
    hb_model *m = NULL;
    if (rc == HB_OK) rc = hb_model_create_callbacks(ctx, p, q_loss_grad, NULL, arg, &m);
    if (rc != HB_OK) {
        hb_params_free(p); /* not taken on failure */
        return rc;
    }
    hb_tensor *v = NULL, *o = NULL;
    rc = hb_tensor_create(ctx, HB_F64, 1, s, &v);
    if (rc == HB_OK) rc = hb_tensor_create(ctx, HB_F32, 1, s, &o);
    if (rc == HB_OK) rc = hb_tensor_fill(v, 1.0);
    if (rc == HB_OK) rc = hb_model_hvp(m, v, o);
    hb_tensor_free(v);
    hb_tensor_free(o);
    hb_model_free(m);
    return rc;
}

static int create_config(hb_context *ctx, void *arg) {
    (void)arg;
    hb_model_config *c = NULL;
    int rc = hb_model_config_create(ctx, HB_MODEL_MLP, &c);
    hb_model_config_free(c);
    return rc;
}

START_TEST(test_model_oom) {
    quartic q;
    make_quartic(&q);
    ck_assert_int_ge(hb_test_oom_loop(create_callback_model, &q), 8);
    ck_assert_int_ge(hb_test_oom_loop(create_config, NULL), 2);
}
END_TEST

/* Issue 12.5: the data a model holds can be read back (count, shapes, copies). */
START_TEST(test_batch_getters) {
    hb_context *ctx = hb_test_context(1, 77);
    hb_model_config *c = NULL;
    hb_model *m = NULL;
    ck_assert_int_eq(hb_model_config_create(ctx, HB_MODEL_MLP, &c), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(c, HB_MK_INPUTS, 3), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(c, HB_MK_CLASSES, 2), HB_OK);
    ck_assert_int_eq(hb_model_create(ctx, c, &m), HB_OK);
    double x0[4 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, x1[3] = {-1, 0.5, 2};
    int32_t y0[4] = {0, 1, 1, 0}, y1[1] = {1};
    hb_tensor *tx0 = NULL, *ty0 = NULL, *tx1 = NULL, *ty1 = NULL;
    int64_t s0[2] = {4, 3}, n0[1] = {4}, s1[2] = {1, 3}, n1[1] = {1};
    ck_assert_int_eq(hb_tensor_wrap(ctx, HB_F64, 2, s0, x0, &tx0), HB_OK);
    ck_assert_int_eq(hb_tensor_wrap(ctx, HB_I32, 1, n0, y0, &ty0), HB_OK);
    ck_assert_int_eq(hb_tensor_wrap(ctx, HB_F64, 2, s1, x1, &tx1), HB_OK);
    ck_assert_int_eq(hb_tensor_wrap(ctx, HB_I32, 1, n1, y1, &ty1), HB_OK);
    ck_assert_int_eq(hb_model_set_batch(m, tx0, ty0), HB_OK);
    ck_assert_int_eq(hb_model_add_batch(m, tx1, ty1), HB_OK);
    ck_assert_uint_eq(hb_model_num_batches(m), 2);
    hb_dtype dt;
    int nd;
    int64_t sh[HB_MAX_DIMS];
    ck_assert_int_eq(hb_model_batch_shape(m, 0, HB_BATCH_INPUTS, &dt, &nd, sh), HB_OK);
    ck_assert(dt == HB_F64 && nd == 2 && sh[0] == 4 && sh[1] == 3 && sh[2] == 1 && sh[3] == 1);
    ck_assert_int_eq(hb_model_batch_shape(m, 1, HB_BATCH_TARGETS, &dt, &nd, sh), HB_OK);
    ck_assert(dt == HB_I32 && nd == 1 && sh[0] == 1);
    ck_assert_int_eq(hb_model_batch_shape(m, 1, HB_BATCH_INPUTS, NULL, NULL, NULL), HB_OK);
    double gx[12];
    int32_t gy[4];
    ck_assert_int_eq(hb_model_batch_copy(m, 0, HB_BATCH_INPUTS, gx, sizeof gx), HB_OK);
    ck_assert(memcmp(gx, x0, sizeof x0) == 0);
    ck_assert_int_eq(hb_model_batch_copy(m, 0, HB_BATCH_TARGETS, gy, sizeof gy), HB_OK);
    ck_assert(memcmp(gy, y0, sizeof y0) == 0);
    ck_assert_int_eq(hb_model_batch_copy(m, 1, HB_BATCH_INPUTS, gx, 3 * sizeof(double)), HB_OK);
    ck_assert(memcmp(gx, x1, sizeof x1) == 0);
    /* errors: index, part, buffer (nothing written), NULLs; each with a message */
    ck_assert_int_eq(hb_model_batch_shape(m, 2, HB_BATCH_INPUTS, &dt, &nd, sh), HB_ERANGE);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "micro-batch 2"));
    ck_assert_int_eq(hb_model_batch_copy(m, 2, HB_BATCH_INPUTS, gx, sizeof gx), HB_ERANGE);
    ck_assert_int_eq(hb_model_batch_shape(m, 0, (hb_batch_part)3, &dt, &nd, sh), HB_EINVAL);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "got 3"));
    gx[0] = -7;
    ck_assert_int_eq(hb_model_batch_copy(m, 0, HB_BATCH_INPUTS, gx, sizeof gx - 1), HB_EINVAL);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "96 needed"));
    ck_assert(gx[0] == -7);
    ck_assert_int_eq(hb_model_batch_copy(m, 0, HB_BATCH_INPUTS, NULL, 96), HB_EINVAL);
    ck_assert_int_eq(hb_model_batch_copy(NULL, 0, HB_BATCH_INPUTS, gx, sizeof gx), HB_EINVAL);
    ck_assert_int_eq(hb_model_batch_shape(NULL, 0, HB_BATCH_INPUTS, &dt, &nd, sh), HB_EINVAL);
    /* the synthetic data is readable too: one batch of HB_MK_BATCH samples after create */
    ck_assert_int_eq(hb_model_set_synthetic(m, 3, 5, 0), HB_OK);
    ck_assert_uint_eq(hb_model_num_batches(m), 3);
    ck_assert_int_eq(hb_model_batch_shape(m, 2, HB_BATCH_INPUTS, &dt, &nd, sh), HB_OK);
    ck_assert(nd == 2 && sh[0] == 16 && sh[1] == 3); /* default HB_MK_BATCH = 16 */
    hb_tensor_free(tx0);
    hb_tensor_free(ty0);
    hb_tensor_free(tx1);
    hb_tensor_free(ty1);
    hb_model_free(m);
    hb_model_config_free(c);
    /* a model without data holds no batch */
    ck_assert_int_eq(hb_model_config_create(ctx, HB_MODEL_QUADRATIC, &c), HB_OK);
    ck_assert_int_eq(hb_model_create(ctx, c, &m), HB_OK);
    ck_assert_uint_eq(hb_model_num_batches(m), 0);
    ck_assert_int_eq(hb_model_batch_shape(m, 0, HB_BATCH_TARGETS, &dt, &nd, sh), HB_ERANGE);
    hb_model_free(m);
    hb_model_config_free(c);
    hb_context_free(ctx);
}
END_TEST

Suite *hb_suite_model(void) {
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_callbacks_exact_and_fd);
    tcase_add_test(tc, test_bad_input_writes_nothing);
    tcase_add_test(tc, test_config);
    tcase_add_test(tc, test_model_oom);
    tcase_add_test(tc, test_batch_getters);
    suite_add_tcase(s, tc);
    return s;
}
