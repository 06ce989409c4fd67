/* Kept θ parts (lib/net/engine.c, "Kept θ parts"): a task whose θ and data are fixed (the
 * worker tasks of an SLQ run or trace) keeps the θ passes of each micro-batch between its
 * products and runs only the R passes. That must change no bit of any result: every check
 * here compares the kept path with the recomputing one (budget 0, or the public API's
 * task, which never keeps) by memcmp, on gpt (f64, f32), mlp (with an f32-input batch of
 * another size: the converted-input path) and cnn, each with several micro-batches. And a
 * run after θ changed (written directly, or an optimizer step) sees the new θ. */
#include <string.h>

#include "hb_test.h"
#include "model/model_internal.h"
#include "net/engine.h"

#define OK(x) ck_assert_msg((x) == HB_OK, "%s: %s", #x, hb_context_last_error(ctx))

typedef enum { GPT, GPT_F32, MLP, CNN, N_CASES } model_case;
static const char *case_name[] = {"gpt f64", "gpt f32", "mlp", "cnn"};

/* A tiny model of case c with three micro-batches. */
static hb_model *make_model(hb_context *ctx, model_case c) {
    hb_model_config *cfg = NULL;
    hb_model *m = NULL;
    OK(hb_model_config_create(ctx, c == MLP ? HB_MODEL_MLP : c == CNN ? HB_MODEL_CNN : HB_MODEL_GPT,
                              &cfg));
    if (c == GPT || c == GPT_F32) {
        OK(hb_model_config_set_i64(cfg, HB_MK_DTYPE, c == GPT ? HB_F64 : HB_F32));
        OK(hb_model_config_set_i64(cfg, HB_MK_VOCAB, 16));
        OK(hb_model_config_set_i64(cfg, HB_MK_CONTEXT, 8));
        OK(hb_model_config_set_i64(cfg, HB_MK_WIDTH, 16));
        OK(hb_model_config_set_i64(cfg, HB_MK_HEADS, 2));
        OK(hb_model_config_set_i64(cfg, HB_MK_LAYERS, 2));
        OK(hb_model_config_set_i64(cfg, HB_MK_BATCH, 3));
    } else if (c == MLP) {
        OK(hb_model_config_set_i64(cfg, HB_MK_BATCH, 6));
        OK(hb_model_config_set_i64(cfg, HB_MK_INPUTS, 12));
        OK(hb_model_config_set_i64(cfg, HB_MK_WIDTH, 10));
        OK(hb_model_config_set_i64(cfg, HB_MK_CLASSES, 5));
    } else {
        OK(hb_model_config_set_i64(cfg, HB_MK_BATCH, 3));
        OK(hb_model_config_set_i64(cfg, HB_MK_POOL, HB_POOL_MAX));
    }
    OK(hb_model_create(ctx, cfg, &m));
    hb_model_config_free(cfg);
    if (c != MLP) {
        OK(hb_model_set_synthetic(m, 3, 7, 0));
        return m;
    }
    OK(hb_model_set_synthetic(m, 2, 7, 0));
    /* a third batch of 4 samples with f32 features: converted to f64 in the θ part */
    hb_tensor *x = NULL, *y = NULL;
    OK(hb_tensor_create(ctx, HB_F32, 2, (int64_t[]){4, 12}, &x));
    OK(hb_tensor_create(ctx, HB_I32, 1, (int64_t[]){4}, &y));
    double f[48];
    OK(hb_random_fill_f64(ctx, 77, 0, HB_DIST_NORMAL, 0, 1, f, 48));
    for (size_t i = 0; i < 48; i++) ((float *)hb_tensor_data(x))[i] = (float)f[i];
    for (int i = 0; i < 4; i++) ((int32_t *)hb_tensor_data(y))[i] = (i * 3) % 5;
    OK(hb_model_add_batch(m, x, y));
    hb_tensor_free(x);
    hb_tensor_free(y);
    return m;
}

static void same_spectrum(const hb_spectrum *a, const hb_spectrum *b, const char *what) {
    ck_assert_uint_eq(hb_spectrum_num_probes(a), hb_spectrum_num_probes(b));
    for (size_t p = 0; p < hb_spectrum_num_probes(a); p++) {
        const double *na, *wa, *nb, *wb;
        size_t ca, cb;
        ck_assert_int_eq(hb_spectrum_probe(a, p, &na, &wa, &ca, NULL), HB_OK);
        ck_assert_int_eq(hb_spectrum_probe(b, p, &nb, &wb, &cb, NULL), HB_OK);
        ck_assert_uint_eq(ca, cb);
        ck_assert_msg(!memcmp(na, nb, ca * sizeof *na) && !memcmp(wa, wb, ca * sizeof *wa),
                      "%s: probe %zu differs between kept and recomputed θ passes", what, p);
    }
}

static hb_slq *make_slq(hb_context *ctx, int64_t probes, int64_t steps, int64_t group) {
    hb_slq *s = NULL;
    OK(hb_slq_create(ctx, &s));
    OK(hb_slq_set_i64(s, HB_SLQ_PROBES, probes));
    OK(hb_slq_set_i64(s, HB_SLQ_STEPS, steps));
    OK(hb_slq_set_i64(s, HB_SLQ_GROUP, group));
    OK(hb_slq_set_i64(s, HB_SLQ_STREAM, 5));
    return s;
}

/* The full-Hessian run and a per-block run (blocks revisited, the full H between them)
 * with keeping on, then with it off: bit for bit the same. */
static void runs_kept_vs_recomputed(model_case c, int threads) {
    hb_context *ctx = hb_test_context(threads, 31);
    hb_model *m = make_model(ctx, c);
    size_t nb = hb_params_num_blocks(hb_model_params(m));
    size_t blocks[] = {0, nb - 1, HB_SLQ_FULL_HESSIAN, 0, 1, nb - 1};
    enum { NE = sizeof blocks / sizeof *blocks };
    hb_slq *s = make_slq(ctx, 4, 6, 2);
    hb_spectrum *full[2] = {NULL, NULL}, *per[2][NE];
    for (int pass = 0; pass < 2; pass++) { /* pass 0 keeps (the default), pass 1 does not */
        ck_assert_int_eq(hb__net_model_set_theta_budget(m, pass ? 0 : SIZE_MAX), HB_OK);
        OK(hb_slq_run_model(s, m, &full[pass]));
        OK(hb_slq_run_model_blocks(s, m, blocks, NULL, NE, per[pass], NULL, NULL));
    }
    char what[96];
    snprintf(what, sizeof what, "%s, %d threads, full H", case_name[c], threads);
    same_spectrum(full[0], full[1], what);
    for (size_t i = 0; i < NE; i++) {
        snprintf(what, sizeof what, "%s, %d threads, entry %zu", case_name[c], threads, i);
        same_spectrum(per[0][i], per[1][i], what);
        hb_spectrum_free(per[0][i]);
        hb_spectrum_free(per[1][i]);
    }
    hb_spectrum_free(full[0]);
    hb_spectrum_free(full[1]);
    hb_slq_free(s);
    hb_model_free(m);
    hb_context_free(ctx);
}

START_TEST(slq_runs_bit_identical) {
    for (model_case c = 0; c < N_CASES; c++) {
        runs_kept_vs_recomputed(c, 1);
        runs_kept_vs_recomputed(c, 2);
    }
}
END_TEST

/* Hutchinson traces (one product per probe group: a worker's second group hits). */
START_TEST(traces_bit_identical) {
    for (model_case c = 0; c < N_CASES; c++) {
        hb_context *ctx = hb_test_context(1, 32);
        hb_model *m = make_model(ctx, c);
        hb_slq *s = make_slq(ctx, 6, 1, 2);
        hb_linop *full = NULL, *blk = NULL;
        OK(hb_linop_create_model_hessian(m, &full));
        OK(hb_linop_create_model_block(m, 1, &blk));
        double t[2][2], e[2][2];
        for (int pass = 0; pass < 2; pass++) {
            ck_assert_int_eq(hb__net_model_set_theta_budget(m, pass ? 0 : SIZE_MAX), HB_OK);
            OK(hb_slq_trace(s, full, &t[pass][0], &e[pass][0]));
            OK(hb_slq_trace(s, blk, &t[pass][1], &e[pass][1]));
        }
        ck_assert_msg(!memcmp(t[0], t[1], sizeof t[0]) && !memcmp(e[0], e[1], sizeof e[0]),
                      "%s: traces differ", case_name[c]);
        hb_linop_free(full);
        hb_linop_free(blk);
        hb_slq_free(s);
        hb_model_free(m);
        hb_context_free(ctx);
    }
}
END_TEST

/* hb_model_hvp_multi / hb_model_block_hvp (task0: recomputes) of V into OUT, f64. */
static void public_products(hb_context *ctx, hb_model *m, size_t block, size_t k, const double *V,
                            double *OUT) {
    hb_params *p = hb_model_params(m);
    size_t len = block == SIZE_MAX ? hb_params_count(p) : 0;
    if (block != SIZE_MAX) OK(hb_params_block_info(p, block, NULL, NULL, NULL, &len, NULL, NULL));
    hb_tensor *tv = NULL, *to = NULL;
    int64_t sh[2] = {(int64_t)k, (int64_t)len};
    OK(hb_tensor_wrap(ctx, HB_F64, 2, sh, (void *)V, &tv));
    OK(hb_tensor_wrap(ctx, HB_F64, 2, sh, OUT, &to));
    if (block == SIZE_MAX) OK(hb_model_hvp_multi(m, tv, to));
    else OK(hb_model_block_hvp(m, block, tv, to));
    hb_tensor_free(tv);
    hb_tensor_free(to);
}

/* Products on one theta_fixed task, alternating the full H and blocks (so kept parts are
 * replaced and made again), each equal bit for bit to the public call; the kept parts
 * are there after the calls, one per micro-batch. */
START_TEST(task_products_bit_identical) {
    const size_t K = 3;
    for (model_case c = 0; c < N_CASES; c++) {
        hb_context *ctx = hb_test_context(1, 33);
        hb_model *m = make_model(ctx, c);
        hb_params *p = hb_model_params(m);
        size_t n = hb_params_count(p), nb = hb_params_num_blocks(p);
        double *V = malloc(K * n * sizeof *V), *A = malloc(K * n * sizeof *A),
               *B = malloc(K * n * sizeof *B);
        ck_assert(V && A && B);
        hb__model_task t;
        hb__model_task_init(&t, ctx);
        t.theta_fixed = true;
        OK(hb__model_tasks_prepare(m));
        size_t seq[] = {SIZE_MAX, SIZE_MAX, 0, 0, SIZE_MAX, nb - 1, 0, nb - 1, nb - 1, SIZE_MAX};
        for (size_t i = 0; i < sizeof seq / sizeof *seq; i++) {
            size_t len = n;
            if (seq[i] != SIZE_MAX) OK(hb_params_block_info(p, seq[i], NULL, NULL, NULL, &len, NULL, NULL));
            OK(hb_random_fill_f64(ctx, 90 + i, 0, HB_DIST_NORMAL, 0, 1, V, K * len));
            OK(hb__model_hvp_task(m, &t, seq[i], K, V, A));
            public_products(ctx, m, seq[i], K, V, B);
            ck_assert_msg(!memcmp(A, B, K * len * sizeof *A), "%s: call %zu (block %zd) differs",
                          case_name[c], i, seq[i] == SIZE_MAX ? (ssize_t)-1 : (ssize_t)seq[i]);
            const hb__net_state *st = t.impl;
            ck_assert_uint_eq(st->n_kept, hb_model_num_batches(m));
            for (size_t j = 0; j < st->n_kept; j++)
                ck_assert_msg(st->kept[j].valid && st->kept[j].block == (seq[i] == SIZE_MAX ? SIZE_MAX : seq[i]),
                              "%s: batch %zu's θ part is not kept after call %zu", case_name[c], j, i);
        }
        hb__model_task_free(m, &t);
        free(V), free(A), free(B);
        hb_model_free(m);
        hb_context_free(ctx);
    }
}
END_TEST

/* Past the budget, a batch is recomputed (kept: only the batches that fit), same bits. */
START_TEST(budget_keeps_what_fits) {
    const size_t K = 2;
    hb_context *ctx = hb_test_context(1, 34);
    hb_model *m = make_model(ctx, GPT);
    size_t n = hb_params_count(hb_model_params(m));
    double *V = malloc(K * n * sizeof *V), *A = malloc(K * n * sizeof *A), *B = malloc(K * n * sizeof *B);
    ck_assert(V && A && B);
    OK(hb_random_fill_f64(ctx, 3, 0, HB_DIST_NORMAL, 0, 1, V, K * n));
    OK(hb__model_tasks_prepare(m));
    hb__model_task t;
    hb__model_task_init(&t, ctx);
    t.theta_fixed = true;
    OK(hb__model_hvp_task(m, &t, SIZE_MAX, K, V, A));
    const hb__net_state *st = t.impl;
    size_t part = st->kept[0].ws.cap / sizeof(double); /* elements of one batch's θ part */
    ck_assert_uint_gt(part, 0);
    hb__model_task_free(m, &t);
    OK(hb__net_model_set_theta_budget(m, part + part / 2)); /* room for one part */
    hb__model_task_init(&t, ctx);
    t.theta_fixed = true;
    for (int call = 0; call < 3; call++) {
        OK(hb__model_hvp_task(m, &t, SIZE_MAX, K, V, A));
        public_products(ctx, m, SIZE_MAX, K, V, B);
        ck_assert(!memcmp(A, B, K * n * sizeof *A));
        st = t.impl;
        ck_assert(st->kept[0].valid && !st->kept[1].valid && !st->kept[2].valid);
        ck_assert_uint_eq(st->kept[1].ws.cap + st->kept[2].ws.cap, 0);
    }
    hb__model_task_free(m, &t);
    free(V), free(A), free(B);
    hb_model_free(m);
    hb_context_free(ctx);
}
END_TEST

/* A run after θ changed gives the new θ's spectrum: equal to a recomputing run after the
 * change, different from the run before it. */
START_TEST(runs_see_new_theta) {
    for (model_case c = 0; c < N_CASES; c++) {
        hb_context *ctx = hb_test_context(2, 35);
        hb_model *m = make_model(ctx, c);
        hb_params *p = hb_model_params(m);
        hb_slq *s = make_slq(ctx, 2, 5, 1);
        hb_optimizer *opt = NULL;
        OK(hb_optimizer_create(ctx, HB_OPTIM_SGD, p, &opt));
        OK(hb_optimizer_set_f64(opt, HB_OPT_LR, 0.5));
        for (int change = 0; change < 2; change++) {
            hb_spectrum *before = NULL, *kept = NULL, *fresh = NULL, *blk = NULL, *blk_fresh = NULL;
            OK(hb_slq_run_model(s, m, &before));
            if (change == 0) { /* θ written directly */
                void *d = hb_params_data(p);
                size_t n = hb_params_count(p);
                for (size_t i = 0; i < n; i += 3) {
                    if (hb_params_dtype(p) == HB_F64) ((double *)d)[i] *= 1.25;
                    else ((float *)d)[i] *= 1.25f;
                }
            } else { /* an optimizer step */
                double loss;
                OK(hb_model_loss_grad(m, &loss));
                OK(hb_optimizer_step(opt));
            }
            OK(hb_slq_run_model(s, m, &kept));
            OK(hb_slq_run_model_block(s, m, 1, &blk));
            OK(hb__net_model_set_theta_budget(m, 0));
            OK(hb_slq_run_model(s, m, &fresh));
            OK(hb_slq_run_model_block(s, m, 1, &blk_fresh));
            OK(hb__net_model_set_theta_budget(m, SIZE_MAX));
            same_spectrum(kept, fresh, case_name[c]);
            same_spectrum(blk, blk_fresh, case_name[c]);
            const double *n0, *n1;
            size_t c0, c1;
            OK(hb_spectrum_probe(before, 0, &n0, NULL, &c0, NULL));
            OK(hb_spectrum_probe(kept, 0, &n1, NULL, &c1, NULL));
            ck_assert_msg(c0 != c1 || memcmp(n0, n1, c0 * sizeof *n0),
                          "%s: the spectrum did not change with θ", case_name[c]);
            hb_spectrum_free(before), hb_spectrum_free(kept), hb_spectrum_free(fresh);
            hb_spectrum_free(blk), hb_spectrum_free(blk_fresh);
        }
        hb_optimizer_free(opt);
        hb_slq_free(s);
        hb_model_free(m);
        hb_context_free(ctx);
    }
}
END_TEST

/* A task that is not theta_fixed (the public API's kind) keeps nothing. */
START_TEST(plain_task_keeps_nothing) {
    hb_context *ctx = hb_test_context(1, 36);
    hb_model *m = make_model(ctx, MLP);
    size_t n = hb_params_count(hb_model_params(m));
    double *V = malloc(n * sizeof *V), *A = malloc(n * sizeof *A);
    ck_assert(V && A);
    OK(hb_random_fill_f64(ctx, 4, 0, HB_DIST_NORMAL, 0, 1, V, n));
    OK(hb__model_tasks_prepare(m));
    hb__model_task t;
    hb__model_task_init(&t, ctx);
    OK(hb__model_hvp_task(m, &t, SIZE_MAX, 1, V, A));
    OK(hb__model_hvp_task(m, &t, SIZE_MAX, 1, V, A));
    ck_assert_uint_eq(((const hb__net_state *)t.impl)->n_kept, 0);
    hb__model_task_free(m, &t);
    free(V), free(A);
    hb_model_free(m);
    hb_context_free(ctx);
}
END_TEST

Suite *hb_suite_theta_keep(void) {
    Suite *s = suite_create("theta_keep");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, slq_runs_bit_identical);
    tcase_add_test(tc, traces_bit_identical);
    tcase_add_test(tc, task_products_bit_identical);
    tcase_add_test(tc, budget_keeps_what_fits);
    tcase_add_test(tc, runs_see_new_theta);
    tcase_add_test(tc, plain_task_keeps_nothing);
    suite_add_tcase(s, tc);
    return s;
}
