/* The training loop: the built-in GD step on a callback quadratic against the hand-written
 * iteration, records, evaluation, caller data, synthetic streams, cancel, bad input, OOM. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hb_fake_model.h"
#include "hb_test.h"

/* L(θ) = ½θᵀAθ − bᵀθ over θ = [a (3) | c (2)], A SPD with eigenvalues in about [1, 4]. */
enum { N = 5 };
typedef struct {
    double A[N * N], b[N];
    int nan_at_call, calls;
    long data_calls;
    int data_fail;
} quad;

static int qg(void *user, const double *th, size_t n, double *loss, double *grad) {
    quad *q = user;
    q->calls++;
    double l = 0;
    for (size_t i = 0; i < n; i++) {
        double ai = 0;
        for (size_t j = 0; j < n; j++) ai += q->A[i * n + j] * th[j];
        l += 0.5 * th[i] * ai - q->b[i] * th[i];
        grad[i] = ai - q->b[i];
    }
    if (q->nan_at_call && q->calls == q->nan_at_call) grad[2] = NAN;
    *loss = l;
    return 0;
}

static void make_quad(quad *q) {
    memset(q, 0, sizeof *q);
    for (int i = 0; i < N; i++) {
        q->b[i] = sin(2.0 + i);
        for (int j = 0; j <= i; j++) q->A[i * N + j] = q->A[j * N + i] = 0.3 * cos(1.0 + i * N + j);
        q->A[i * N + i] += 2.5;
    }
}

static hb_model *quad_model(hb_context *ctx, quad *q) {
    hb_params *p = NULL;
    int64_t s1[1] = {3}, s2[1] = {2};
    ck_assert_int_eq(hb_params_create(ctx, HB_F64, &p), HB_OK);
    ck_assert_int_eq(hb_params_add_block(p, "a", HB_BLOCK_OTHER, 1, s1, NULL), HB_OK);
    ck_assert_int_eq(hb_params_add_block(p, "c", HB_BLOCK_OTHER, 1, s2, NULL), HB_OK);
    ck_assert_int_eq(hb_params_finalize(p), HB_OK);
    ck_assert_int_eq(hb_params_init_block(p, 0, HB_INIT_NORMAL, 0, 1), HB_OK);
    ck_assert_int_eq(hb_params_init_block(p, 1, HB_INIT_NORMAL, 0, 1), HB_OK);
    hb_model *m = NULL;
    ck_assert_int_eq(hb_model_create_callbacks(ctx, p, qg, NULL, q, &m), HB_OK);
    return m;
}

static double quad_loss(const quad *q, const double *th, double *g) {
    double l = 0;
    for (int i = 0; i < N; i++) {
        double ai = 0;
        for (int j = 0; j < N; j++) ai += q->A[i * N + j] * th[j];
        l += 0.5 * th[i] * ai - q->b[i] * th[i];
        g[i] = ai - q->b[i];
    }
    return l;
}

START_TEST(test_gd_matches_hand_iteration) {
    hb_context *ctx = hb_test_context(1, 3);
    quad q;
    make_quad(&q);
    hb_model *m = quad_model(ctx, &q);
    double th[N], g[N];
    memcpy(th, hb_params_data(hb_model_params(m)), sizeof th);
    hb_trainer *tr = NULL;
    ck_assert_int_eq(hb_trainer_create(m, NULL, &tr), HB_OK);
    const double lr = 0.2;
    ck_assert_int_eq(hb_trainer_set_f64(tr, HB_TR_LR, lr), HB_OK);
    ck_assert_int_eq(hb_trainer_run(tr, 30), HB_OK);
    ck_assert_int_eq(hb_trainer_run(tr, 270), HB_OK); /* a second run continues */
    ck_assert_int_eq(hb_trainer_step(tr), 300);
    ck_assert_uint_eq(hb_trainer_num_records(tr), 300);
    for (int t = 0; t < 300; t++) {
        double l = quad_loss(&q, th, g), gn = 0, wn = 0, wa = 0, v;
        for (int i = 0; i < N; i++) gn += g[i] * g[i], wn += th[i] * th[i];
        for (int i = 0; i < 3; i++) wa += th[i] * th[i];
        /* The library sums in a different order (BLIS): agreement to a few ulps of the
         * terms, amplified at most by the iteration's contraction (< 1): 1e-12. */
        ck_assert_int_eq(hb_trainer_record_f64(tr, (size_t)t, HB_REC_LOSS, &v), HB_OK);
        HB_ASSERT_CLOSE(v, l, 1e-12);
        ck_assert_int_eq(hb_trainer_record_f64(tr, (size_t)t, HB_REC_GRAD_NORM, &v), HB_OK);
        HB_ASSERT_CLOSE(v, sqrt(gn), 1e-12);
        ck_assert_int_eq(hb_trainer_record_f64(tr, (size_t)t, HB_REC_WEIGHT_NORM, &v), HB_OK);
        HB_ASSERT_CLOSE(v, sqrt(wn), 1e-12);
        ck_assert_int_eq(hb_trainer_record_block_norm(tr, (size_t)t, 0, &v), HB_OK);
        HB_ASSERT_CLOSE(v, sqrt(wa), 1e-12);
        ck_assert_int_eq(hb_trainer_record_f64(tr, (size_t)t, HB_REC_LR, &v), HB_OK);
        ck_assert(v == lr);
        ck_assert_int_eq(hb_trainer_record_f64(tr, (size_t)t, HB_REC_STEP, &v), HB_OK);
        ck_assert(v == t);
        ck_assert_int_eq(hb_trainer_record_f64(tr, (size_t)t, HB_REC_EVAL_LOSS, &v), HB_OK);
        ck_assert(isnan(v));
        for (int i = 0; i < N; i++) th[i] -= lr * g[i];
    }
    const double *got = hb_params_data(hb_model_params(m));
    for (int i = 0; i < N; i++) HB_ASSERT_CLOSE(got[i], th[i], 1e-12);
    /* Converged: A·θ = b. Contraction ≤ 1 − lr·λ_min(A) ≈ 0.6 per step, 300 steps: the
     * residual is at rounding level; 1e-10 leaves room for the conditioning of A. */
    quad_loss(&q, got, g);
    for (int i = 0; i < N; i++) ck_assert_msg(fabs(g[i]) < 1e-10, "residual %g", g[i]);
    double buf[300];
    ck_assert_int_eq(hb_trainer_records_f64(tr, HB_REC_LOSS, 0, 300, buf), HB_OK);
    ck_assert(buf[299] < buf[0]);
    hb_trainer_free(tr);
    hb_model_free(m);
    hb_context_free(ctx);
}
END_TEST

/* Caller data: the callback changes b before step t to b·(1 + t/10). */
static int data_fn(void *user, hb_model *m, int64_t step) {
    (void)m;
    quad *q = user;
    q->data_calls++;
    if (q->data_fail) return 5;
    double base[N];
    for (int i = 0; i < N; i++) base[i] = sin(2.0 + i);
    for (int i = 0; i < N; i++) q->b[i] = base[i] * (1.0 + (double)step / 10.0);
    return 0;
}

START_TEST(test_caller_data_and_eval) {
    hb_context *ctx = hb_test_context(1, 4);
    quad q;
    make_quad(&q);
    hb_model *m = quad_model(ctx, &q);
    double th[N], g[N];
    memcpy(th, hb_params_data(hb_model_params(m)), sizeof th);
    hb_trainer *tr = NULL;
    ck_assert_int_eq(hb_trainer_create(m, NULL, &tr), HB_OK);
    ck_assert_int_eq(hb_trainer_set_f64(tr, HB_TR_LR, 0.1), HB_OK);
    ck_assert_int_eq(hb_trainer_set_data_fn(tr, data_fn, &q), HB_OK);
    ck_assert_int_eq(hb_trainer_set_i64(tr, HB_TR_EVAL_EVERY, 4), HB_OK);
    ck_assert_int_eq(hb_trainer_run(tr, 10), HB_OK);
    ck_assert_int_eq(q.data_calls, 10);
    for (int t = 0; t < 10; t++) {
        quad qq = q;
        for (int i = 0; i < N; i++) qq.b[i] = sin(2.0 + i) * (1.0 + t / 10.0);
        double l = quad_loss(&qq, th, g), v;
        ck_assert_int_eq(hb_trainer_record_f64(tr, (size_t)t, HB_REC_LOSS, &v), HB_OK);
        HB_ASSERT_CLOSE(v, l, 1e-12); /* as above */
        for (int i = 0; i < N; i++) th[i] -= 0.1 * g[i];
        /* Evaluation after steps 3, 7 and the last (9), of θ_{t+1}, on the data last set
         * (no eval callback, no synthetic data): b of step t. */
        ck_assert_int_eq(hb_trainer_record_f64(tr, (size_t)t, HB_REC_EVAL_LOSS, &v), HB_OK);
        if (t == 3 || t == 7 || t == 9) {
            HB_ASSERT_CLOSE(v, quad_loss(&qq, th, g), 1e-12);
            ck_assert_int_eq(hb_trainer_record_f64(tr, (size_t)t, HB_REC_EVAL_ACCURACY, &v), HB_OK);
            ck_assert(isnan(v)); /* callback models have no accuracy */
        } else {
            ck_assert(isnan(v));
        }
    }
    /* A failing data callback fails the run before the step. */
    q.data_fail = 1;
    ck_assert_int_eq(hb_trainer_run(tr, 3), HB_ECALLBACK);
    ck_assert_int_eq(hb_trainer_step(tr), 10);
    hb_trainer_free(tr);
    hb_model_free(m);
    hb_context_free(ctx);
}
END_TEST

/* Synthetic data: a fresh batch per step from the training stream, held-out data from the
 * offset; records the eval accuracy; training a separable problem lowers the eval loss. */
START_TEST(test_synthetic_streams) {
    hb_context *ctx = hb_test_context(1, 5);
    hb_model *m = NULL;
    ck_assert_int_eq(fake_model_create(ctx, 4, 6, 8, &m), HB_OK);
    fake_model *f = m->impl;
    hb_trainer *tr = NULL;
    ck_assert_int_eq(hb_trainer_create(m, NULL, &tr), HB_OK);
    ck_assert_int_eq(hb_trainer_set_f64(tr, HB_TR_LR, 0.2), HB_OK);
    ck_assert_int_eq(hb_trainer_set_i64(tr, HB_TR_TRAIN_BATCHES, 2), HB_OK);
    ck_assert_int_eq(hb_trainer_set_i64(tr, HB_TR_DATA_STREAM, 3), HB_OK);
    ck_assert_int_eq(hb_trainer_set_i64(tr, HB_TR_EVAL_OFFSET, 1000000), HB_OK);
    double l0, a0;
    ck_assert_int_eq(hb_trainer_evaluate(tr, &l0, &a0), HB_OK);
    ck_assert_uint_eq(f->last_stream, 3);
    ck_assert_uint_eq(f->last_first, 1000000 + 3 * 8); /* 4 eval micro-batches of 8 */
    ck_assert_int_eq(hb_model_num_samples(m), 32);
    ck_assert_int_eq(hb_trainer_set_i64(tr, HB_TR_EVAL_EVERY, 0), HB_OK);
    ck_assert_int_eq(hb_trainer_run(tr, 5), HB_OK);
    /* step 4 used samples [4·16, 5·16): the last micro-batch starts at 4·16 + 8 */
    ck_assert_uint_eq(f->last_first, 4 * 16 + 8);
    ck_assert_int_eq(hb_model_num_samples(m), 16);
    ck_assert_int_eq(hb_trainer_set_i64(tr, HB_TR_EVAL_EVERY, 20), HB_OK);
    ck_assert_int_eq(hb_trainer_run(tr, 95), HB_OK);
    double l1, a1;
    ck_assert_int_eq(hb_trainer_record_f64(tr, 99, HB_REC_EVAL_LOSS, &l1), HB_OK);
    ck_assert_int_eq(hb_trainer_record_f64(tr, 99, HB_REC_EVAL_ACCURACY, &a1), HB_OK);
    ck_assert_uint_eq(f->last_first, 1000000 + 3 * 8);
    /* The classes are separated by 1.5·(distinct cosine patterns) against unit noise in 6
     * dimensions: 100 GD steps must lower the held-out loss (not a tuned threshold). */
    ck_assert_msg(l1 < l0, "eval loss %g -> %g", l0, l1);
    ck_assert(a1 >= 0 && a1 <= 1);
    double t;
    ck_assert_int_eq(hb_trainer_record_f64(tr, 10, HB_REC_TIME, &t), HB_OK);
    ck_assert(t >= 0);
    hb_trainer_free(tr);
    hb_model_free(m);
    hb_context_free(ctx);
}
END_TEST

/* With an SGD optimizer (no momentum) the loop is the same GD iteration; a cosine schedule's
 * factor shows in the recorded lr; periodic checkpoints hold the latest parameters. */
START_TEST(test_optimizer_and_checkpoint) {
    hb_context *ctx = hb_test_context(1, 8);
    quad q;
    make_quad(&q);
    hb_model *m = quad_model(ctx, &q);
    double th[N], g[N];
    memcpy(th, hb_params_data(hb_model_params(m)), sizeof th);
    hb_optimizer *opt = NULL;
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_SGD, hb_model_params(m), &opt), HB_OK);
    ck_assert_int_eq(hb_optimizer_set_f64(opt, HB_OPT_LR, 0.2), HB_OK);
    ck_assert_int_eq(hb_optimizer_schedule_cosine(opt, 4, 20, 0.1), HB_OK);
    hb_trainer *tr = NULL;
    ck_assert_int_eq(hb_trainer_create(m, opt, &tr), HB_OK);
    char path[64];
    snprintf(path, sizeof path, "/tmp/hb_test_train_%ld.ckpt", (long)getpid());
    ck_assert_int_eq(hb_trainer_set_i64(tr, HB_TR_CHECKPOINT_EVERY, 3), HB_ESTATE);
    ck_assert_int_eq(hb_trainer_set_checkpoint(tr, path, 4), HB_OK);
    ck_assert_int_eq(hb_trainer_run(tr, 10), HB_OK);
    double saved8[N];
    for (int t = 0; t < 10; t++) {
        double f, v;
        ck_assert_int_eq(hb_optimizer_lr_factor(opt, t + 1, &f), HB_OK);
        double l = quad_loss(&q, th, g);
        ck_assert_int_eq(hb_trainer_record_f64(tr, (size_t)t, HB_REC_LOSS, &v), HB_OK);
        HB_ASSERT_CLOSE(v, l, 1e-12); /* as in test_gd_matches_hand_iteration */
        ck_assert_int_eq(hb_trainer_record_f64(tr, (size_t)t, HB_REC_LR, &v), HB_OK);
        HB_ASSERT_CLOSE(v, 0.2 * f, 1e-15);
        for (int i = 0; i < N; i++) th[i] -= 0.2 * f * g[i];
        if (t == 7) memcpy(saved8, th, sizeof th);
    }
    const double *got = hb_params_data(hb_model_params(m));
    for (int i = 0; i < N; i++) HB_ASSERT_CLOSE(got[i], th[i], 1e-12);
    /* the file holds θ after 8 steps (saved after steps 4 and 8; 10 is not a multiple) */
    hb_params *p2 = NULL;
    int64_t s1[1] = {3}, s2[1] = {2};
    ck_assert_int_eq(hb_params_create(ctx, HB_F64, &p2), HB_OK);
    ck_assert_int_eq(hb_params_add_block(p2, "a", HB_BLOCK_OTHER, 1, s1, NULL), HB_OK);
    ck_assert_int_eq(hb_params_add_block(p2, "c", HB_BLOCK_OTHER, 1, s2, NULL), HB_OK);
    ck_assert_int_eq(hb_params_finalize(p2), HB_OK);
    ck_assert_int_eq(hb_checkpoint_load(path, p2, NULL), HB_OK);
    for (int i = 0; i < N; i++) HB_ASSERT_CLOSE(((double *)hb_params_data(p2))[i], saved8[i], 1e-12);
    unlink(path);
    ck_assert_int_eq(hb_trainer_set_checkpoint(tr, NULL, 0), HB_OK);
    ck_assert_int_eq(hb_trainer_set_checkpoint(tr, NULL, 2), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_set_checkpoint(tr, "x", -1), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_set_checkpoint(NULL, "x", 1), HB_EINVAL);
    /* an optimizer over other params */
    hb_optimizer *other = NULL;
    hb_trainer *tr2 = NULL;
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_SGD, p2, &other), HB_OK);
    ck_assert_int_eq(hb_trainer_create(m, other, &tr2), HB_EINVAL);
    ck_assert_ptr_null(tr2);
    hb_optimizer_free(other);
    hb_params_free(p2);
    hb_trainer_free(tr);
    hb_optimizer_free(opt);
    hb_model_free(m);
    hb_context_free(ctx);
}
END_TEST

/* The built-in GD step leaves a frozen block alone (as an optimizer does); a trainer with an
 * optimizer continues from the optimizer's step count (resume after a checkpoint load). */
START_TEST(test_frozen_and_resume) {
    hb_context *ctx = hb_test_context(1, 9);
    quad q;
    make_quad(&q);
    hb_model *m = quad_model(ctx, &q);
    hb_params *p = hb_model_params(m);
    ck_assert_int_eq(hb_params_set_trainable(p, 1, 0), HB_OK); /* block "c" */
    double th[N], g[N];
    memcpy(th, hb_params_data(p), sizeof th);
    hb_trainer *tr = NULL;
    ck_assert_int_eq(hb_trainer_create(m, NULL, &tr), HB_OK);
    ck_assert_int_eq(hb_trainer_set_f64(tr, HB_TR_LR, 0.1), HB_OK);
    ck_assert_int_eq(hb_trainer_run(tr, 5), HB_OK);
    for (int t = 0; t < 5; t++) {
        quad_loss(&q, th, g);
        for (int i = 0; i < 3; i++) th[i] -= 0.1 * g[i]; /* only block "a" moves */
    }
    const double *got = hb_params_data(p);
    for (int i = 0; i < 3; i++) HB_ASSERT_CLOSE(got[i], th[i], 1e-12); /* as in the GD test */
    for (int i = 3; i < N; i++) ck_assert(got[i] == th[i]);               /* bit for bit */
    hb_trainer_free(tr);
    ck_assert_int_eq(hb_params_set_trainable(p, 1, 1), HB_OK);

    hb_optimizer *opt = NULL;
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_SGD, p, &opt), HB_OK);
    ck_assert_int_eq(hb_optimizer_set_f64(opt, HB_OPT_LR, 0.2), HB_OK);
    ck_assert_int_eq(hb_optimizer_schedule_cosine(opt, 2, 20, 0.1), HB_OK);
    ck_assert_int_eq(hb_trainer_create(m, opt, &tr), HB_OK);
    ck_assert_int_eq(hb_trainer_run(tr, 4), HB_OK);
    size_t len;
    ck_assert_int_eq(hb_checkpoint_size(p, opt, &len), HB_OK);
    void *buf = malloc(len);
    ck_assert_int_eq(hb_checkpoint_save_buffer(p, opt, buf, len, NULL), HB_OK);
    ck_assert_int_eq(hb_trainer_run(tr, 3), HB_OK);
    double after7[N];
    memcpy(after7, hb_params_data(p), sizeof after7);
    hb_trainer_free(tr);
    /* Back to step 4 from the checkpoint: a NEW trainer continues at step 4. */
    ck_assert_int_eq(hb_checkpoint_load_buffer(buf, len, p, opt), HB_OK);
    free(buf);
    ck_assert_int_eq(hb_trainer_create(m, opt, &tr), HB_OK);
    ck_assert_int_eq(hb_trainer_run(tr, 3), HB_OK);
    ck_assert_int_eq(hb_trainer_step(tr), 7);
    for (size_t i = 0; i < 3; i++) {
        double st, lr, f;
        ck_assert_int_eq(hb_trainer_record_f64(tr, i, HB_REC_STEP, &st), HB_OK);
        ck_assert(st == 4.0 + (double)i);
        ck_assert_int_eq(hb_trainer_record_f64(tr, i, HB_REC_LR, &lr), HB_OK);
        ck_assert_int_eq(hb_optimizer_lr_factor(opt, 5 + (int64_t)i, &f), HB_OK);
        HB_ASSERT_CLOSE(lr, 0.2 * f, 1e-15);
    }
    ck_assert(memcmp(after7, hb_params_data(p), sizeof after7) == 0);
    hb_trainer_free(tr);
    hb_optimizer_free(opt);
    hb_model_free(m);
    hb_context_free(ctx);
}
END_TEST

static int cancel_at(void *user, const char *task, int64_t done, int64_t total) {
    (void)total;
    ck_assert_str_eq(task, "train");
    return done == *(int64_t *)user;
}

START_TEST(test_cancel_and_nonfinite) {
    hb_context *ctx = hb_test_context(1, 6);
    quad q;
    make_quad(&q);
    hb_model *m = quad_model(ctx, &q);
    hb_trainer *tr = NULL;
    ck_assert_int_eq(hb_trainer_create(m, NULL, &tr), HB_OK);
    int64_t stop = 7;
    ck_assert_int_eq(hb_context_set_progress(ctx, cancel_at, &stop), HB_OK);
    ck_assert_int_eq(hb_trainer_run(tr, 20), HB_ECANCELED);
    ck_assert_int_eq(hb_trainer_step(tr), 7);
    ck_assert_uint_eq(hb_trainer_num_records(tr), 7);
    ck_assert_int_eq(hb_context_set_progress(ctx, NULL, NULL), HB_OK);
    /* A NaN gradient at the 3rd call from now: two steps applied, the third not. */
    double before[N];
    q.calls = 0;
    q.nan_at_call = 3;
    ck_assert_int_eq(hb_trainer_run(tr, 5), HB_ENONFINITE);
    ck_assert_int_eq(hb_trainer_step(tr), 9);
    memcpy(before, hb_params_data(hb_model_params(m)), sizeof before);
    ck_assert_uint_eq(hb_trainer_num_records(tr), 9);
    for (int i = 0; i < N; i++) ck_assert(isfinite(before[i]));
    hb_trainer_free(tr);
    hb_model_free(m);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_bad_input) {
    hb_context *ctx = hb_test_context(1, 7);
    quad q;
    make_quad(&q);
    hb_model *m = quad_model(ctx, &q);
    hb_trainer *tr = (hb_trainer *)&q;
    ck_assert_int_eq(hb_trainer_create(NULL, NULL, &tr), HB_EINVAL);
    ck_assert_ptr_null(tr);
    ck_assert_int_eq(hb_trainer_create(m, NULL, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_create(m, NULL, &tr), HB_OK);
    double v;
    int64_t i;
    ck_assert_int_eq(hb_trainer_run(NULL, 1), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_run(tr, 0), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_set_f64(tr, HB_TR_LR, 0), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_set_f64(tr, HB_TR_LR, NAN), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_set_f64(tr, HB_TR_EVAL_EVERY, 1), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_set_i64(tr, HB_TR_LR, 1), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_set_i64(tr, HB_TR_EVAL_EVERY, -1), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_set_i64(tr, HB_TR_EVAL_BATCHES, 0), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_set_i64(tr, HB_TR_TRAIN_BATCHES, 0), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_set_i64(tr, HB_TR_EVAL_OFFSET, -1), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_set_i64(tr, HB_TR_DATA_STREAM, -1), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_set_i64(tr, HB_TR_BLOCK_NORMS, 2), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_set_i64(tr, (hb_trainer_opt)99, 2), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_set_i64(NULL, HB_TR_EVAL_EVERY, 1), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_set_f64(NULL, HB_TR_LR, 1), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_get_i64(tr, HB_TR_EVAL_BATCHES, &i), HB_OK);
    ck_assert_int_eq(i, 4);
    ck_assert_int_eq(hb_trainer_get_i64(tr, HB_TR_LR, &i), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_get_i64(tr, HB_TR_EVAL_EVERY, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_get_f64(tr, HB_TR_LR, &v), HB_OK);
    ck_assert(v == 0.01);
    ck_assert_int_eq(hb_trainer_get_f64(tr, HB_TR_EVAL_EVERY, &v), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_get_f64(NULL, HB_TR_LR, &v), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_get_i64(NULL, HB_TR_EVAL_EVERY, &i), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_set_data_fn(NULL, NULL, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_set_eval_fn(NULL, NULL, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_evaluate(NULL, &v, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_evaluate(tr, NULL, NULL), HB_EINVAL);
    /* records: none yet */
    ck_assert_int_eq(hb_trainer_record_f64(tr, 0, HB_REC_LOSS, &v), HB_ERANGE);
    ck_assert_int_eq(hb_trainer_record_block_norm(tr, 0, 0, &v), HB_ERANGE);
    ck_assert_int_eq(hb_trainer_records_f64(tr, HB_REC_LOSS, 0, 1, &v), HB_ERANGE);
    ck_assert_int_eq(hb_trainer_set_i64(tr, HB_TR_BLOCK_NORMS, 0), HB_OK);
    ck_assert_int_eq(hb_trainer_run(tr, 2), HB_OK);
    ck_assert_int_eq(hb_trainer_record_f64(tr, 1, (hb_record_key)0, &v), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_record_f64(tr, 1, HB_REC_LOSS, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_record_f64(NULL, 1, HB_REC_LOSS, &v), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_record_block_norm(tr, 1, 0, &v), HB_ESTATE);
    ck_assert_int_eq(hb_trainer_record_block_norm(tr, 1, 2, &v), HB_ERANGE);
    ck_assert_int_eq(hb_trainer_record_block_norm(tr, 1, 0, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_record_block_norm(NULL, 1, 0, &v), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_records_f64(tr, (hb_record_key)42, 0, 1, &v), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_records_f64(tr, HB_REC_LOSS, 1, 2, &v), HB_ERANGE);
    ck_assert_int_eq(hb_trainer_records_f64(tr, HB_REC_LOSS, 0, 1, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_trainer_records_f64(NULL, HB_REC_LOSS, 0, 1, &v), HB_EINVAL);
    ck_assert_uint_eq(hb_trainer_num_records(NULL), 0);
    ck_assert_int_eq(hb_trainer_step(NULL), 0);
    hb_trainer_free(NULL);
    hb_trainer_free(tr);
    hb_model_free(m);
    hb_context_free(ctx);
}
END_TEST

static int create_and_run(hb_context *ctx, void *arg) {
    (void)arg;
    hb_model *m = NULL;
    hb_trainer *tr = NULL;
    hb_optimizer *opt = NULL;
    int rc = fake_model_create(ctx, 3, 4, 4, &m);
    if (rc == HB_OK && arg) rc = hb_optimizer_create(ctx, HB_OPTIM_ADAMW, hb_model_params(m), &opt);
    if (rc == HB_OK) rc = hb_trainer_create(m, opt, &tr);
    if (rc == HB_OK) rc = hb_trainer_set_i64(tr, HB_TR_EVAL_EVERY, 2);
    if (rc == HB_OK) rc = hb_trainer_run(tr, 3);
    hb_trainer_free(tr);
    hb_optimizer_free(opt);
    hb_model_free(m);
    return rc;
}

static char ctx_marker[1];

START_TEST(test_train_oom) {
    ck_assert_int_ge(hb_test_oom_loop(create_and_run, NULL), 5);
    ck_assert_int_ge(hb_test_oom_loop(create_and_run, ctx_marker), 7);
}
END_TEST

Suite *hb_suite_train(void) {
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("train");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_gd_matches_hand_iteration);
    tcase_add_test(tc, test_caller_data_and_eval);
    tcase_add_test(tc, test_synthetic_streams);
    tcase_add_test(tc, test_optimizer_and_checkpoint);
    tcase_add_test(tc, test_frozen_and_resume);
    tcase_add_test(tc, test_cancel_and_nonfinite);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_train_oom);
    suite_add_tcase(s, tc);
    return s;
}
