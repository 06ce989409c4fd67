/* Thread-count independence and run-to-run reproducibility (issue 19): every result of the
 * library — loss, gradient, HVP, hvp_multi, SLQ spectra (whole model and per block), the
 * JS matrix of the block spectra, an optimizer trajectory with gradient clipping — is the
 * same to the last bit for 1, 2, 3, 7 and 16 threads, and across repeated runs in one
 * process. The models are sized so that the threaded paths really run: the cross-entropy
 * rows (N·C ≥ 65536), gemms above the per-thread threshold (HB__GEMM_FLOPS_PER_THREAD,
 * checked below with hb__gemm_threads), the gpt's attention (sequence, head) loop and its
 * GELU rows above theirs (HB__ATTN_FLOPS_PER_THREAD, HB__ELTWISE_PER_THREAD, checked with
 * hb__team: on 2 cores too), as well as the single-threaded small ones.
 * Every run rebuilds the model from the context's seed and records its results as a flat
 * list of doubles; the lists must be equal byte for byte. */
#include <stdint.h>
#include <omp.h>
#include <string.h>

#include "hb_net_check.h"
#include "hb_test.h"
#include "kernels/kernels.h"
#include "nn/attention.h"
#include "nn/elementwise.h"

enum { PROBES = 2, STEPS = 4, MULTI = 3, OPT_STEPS = 3, MAX_BLOCKS = 2, REPEATS = 2 };

typedef struct record {
    double *v;
    size_t n, cap;
} record;

static void put(record *r, const void *src, size_t count, hb_dtype dt) {
    if (r->n + count > r->cap) {
        r->cap = 2 * (r->n + count);
        r->v = realloc(r->v, r->cap * sizeof(double));
        ck_assert_ptr_nonnull(r->v);
    }
    for (size_t i = 0; i < count; i++)
        r->v[r->n++] = dt == HB_F64 ? ((const double *)src)[i] : (double)((const float *)src)[i];
}

#define OK(x) ck_assert_msg((x) == HB_OK, "%s: %s", #x, hb_context_last_error(ctx))

typedef enum { GPT, GPT_F32, MLP, CNN, NET, GPT_REF } model_case;
/* NET: batch 64 × (16, 64) → fc1 gemm 1024×256×64 (33.6 MFLOP), mse over 65536 outputs */
static const char *case_name[] = {"gpt f64", "gpt f32", "mlp", "cnn", "net (rmsnorm, silu, mse)",
                                   "gpt-ref f64"};

static hb_model *make_model(hb_context *ctx, model_case c) {
    hb_model *m = NULL;
    if (c == NET) {
        /* features (T, C) → linear → rmsnorm → silu → linear → mse: ops the built-ins lack */
        hb_net *net = NULL;
        OK(hb_net_create(ctx, HB_F64, &net));
        OK(hb_net_input_features(net, "x", 2, (int64_t[]){16, 64}));
        OK(hb_net_linear(net, "fc1", "x", "h", 256, 1, 0));
        OK(hb_net_rmsnorm(net, "norm", "h", "n", 1e-6));
        OK(hb_net_activation(net, HB_ACT_SILU, "n", "a"));
        OK(hb_net_linear(net, "fc2", "a", "y", 64, 1, HB_BLOCK_HEAD));
        OK(hb_net_loss_mse(net, "y"));
        OK(hb_model_create_net(net, &m));
        hb_tensor *x = NULL, *y = NULL;
        hb_net_check_batch(net, 64, 5, &x, &y); /* from the context's seed: same every run */
        OK(hb_model_set_batch(m, x, y));
        hb_tensor_free(x), hb_tensor_free(y);
        hb_net_free(net);
        return m;
    }
    hb_model_config *cfg = NULL;
    OK(hb_model_config_create(ctx, c == MLP ? HB_MODEL_MLP : c == CNN ? HB_MODEL_CNN : HB_MODEL_GPT,
                              &cfg));
    if (c == GPT || c == GPT_F32) {
        /* MLP gemms 512×256×64 (16.8 MFLOP: several BLIS threads), xent 512×128 rows */
        OK(hb_model_config_set_i64(cfg, HB_MK_DTYPE, c == GPT ? HB_F64 : HB_F32));
        OK(hb_model_config_set_i64(cfg, HB_MK_VOCAB, 128));
        OK(hb_model_config_set_i64(cfg, HB_MK_CONTEXT, 32));
        OK(hb_model_config_set_i64(cfg, HB_MK_WIDTH, 64));
        OK(hb_model_config_set_i64(cfg, HB_MK_HEADS, 2));
        OK(hb_model_config_set_i64(cfg, HB_MK_LAYERS, 1));
        OK(hb_model_config_set_i64(cfg, HB_MK_BATCH, 16));
    } else if (c == GPT_REF) {
        /* gpt-ref's widths (one layer): its f64 gemms (1024×128×128, weight gradients
         * 128×128 over k = 1024) are on BLIS's sup path, whose threaded runs summed in
         * another order than one thread before blis_kernels.c kept them on one thread;
         * the gpt case above did not show it (session 14). */
        OK(hb_model_config_set_i64(cfg, HB_MK_DTYPE, HB_F64));
        OK(hb_model_config_set_i64(cfg, HB_MK_VOCAB, 65));
        OK(hb_model_config_set_i64(cfg, HB_MK_CONTEXT, 64));
        OK(hb_model_config_set_i64(cfg, HB_MK_WIDTH, 128));
        OK(hb_model_config_set_i64(cfg, HB_MK_HEADS, 4));
        OK(hb_model_config_set_i64(cfg, HB_MK_LAYERS, 1));
        OK(hb_model_config_set_i64(cfg, HB_MK_BATCH, 16));
    } else if (c == MLP) {
        OK(hb_model_config_set_i64(cfg, HB_MK_BATCH, 256));
        OK(hb_model_config_set_i64(cfg, HB_MK_INPUTS, 128));
        OK(hb_model_config_set_i64(cfg, HB_MK_WIDTH, 128));
        OK(hb_model_config_set_i64(cfg, HB_MK_CLASSES, 256));
    } else {
        OK(hb_model_config_set_i64(cfg, HB_MK_BATCH, 32));
        OK(hb_model_config_set_i64(cfg, HB_MK_POOL, HB_POOL_MAX));
    }
    OK(hb_model_create(ctx, cfg, &m));
    hb_model_config_free(cfg);
    return m;
}

/* One whole run at `threads`: everything it computes, appended to *r. */
static void run_case(model_case c, int threads, record *r) {
    hb_context *ctx = hb_test_context(threads, 4242);
    hb_model *m = make_model(ctx, c);
    hb_params *p = hb_model_params(m);
    hb_dtype dt = hb_params_dtype(p);
    size_t n = hb_params_count(p);
    int64_t s1[1] = {(int64_t)n}, sk[2] = {MULTI, (int64_t)n};
    hb_tensor *v = NULL, *hv = NULL, *V = NULL, *HV = NULL;
    OK(hb_tensor_create(ctx, dt, 1, s1, &v));
    OK(hb_tensor_create(ctx, dt, 1, s1, &hv));
    OK(hb_tensor_create(ctx, dt, 2, sk, &V));
    OK(hb_tensor_create(ctx, dt, 2, sk, &HV));
    double *buf = malloc(MULTI * n * sizeof(double));
    ck_assert_ptr_nonnull(buf);
    OK(hb_random_fill_f64(ctx, 11, 0, HB_DIST_NORMAL, 0, 1, buf, MULTI * n));
    for (size_t i = 0; i < MULTI * n; i++) {
        OK(hb_tensor_set_f64(V, i, buf[i]));
        if (i < n) OK(hb_tensor_set_f64(v, i, buf[i] + 0.5));
    }
    free(buf);

    double loss;
    OK(hb_model_loss_grad(m, &loss));
    put(r, &loss, 1, HB_F64);
    put(r, hb_params_grad(p), n, hb_params_grad_dtype(p));
    OK(hb_model_hvp(m, v, hv));
    put(r, hb_tensor_data(hv), n, dt);
    OK(hb_model_hvp_multi(m, V, HV));
    put(r, hb_tensor_data(HV), MULTI * n, dt);

    hb_slq *slq = NULL;
    OK(hb_slq_create(ctx, &slq));
    OK(hb_slq_set_i64(slq, HB_SLQ_PROBES, PROBES));
    OK(hb_slq_set_i64(slq, HB_SLQ_STEPS, STEPS));
    size_t nb = hb_params_num_blocks(p) < MAX_BLOCKS ? hb_params_num_blocks(p) : MAX_BLOCKS;
    hb_spectrum *sp[MAX_BLOCKS + 1] = {NULL};
    /* groups of 1 probe (every probe a task) and explicit streams: the serial loop below is
     * then compared with the same runs as ONE hb_slq_run_model_blocks call */
    OK(hb_slq_set_i64(slq, HB_SLQ_GROUP, 1));
    size_t eb[MAX_BLOCKS + 1] = {HB_SLQ_FULL_HESSIAN};
    uint64_t es[MAX_BLOCKS + 1] = {90};
    for (size_t b = 0; b < nb; b++) {
        eb[b + 1] = b;
        es[b + 1] = 91 + b;
    }
    OK(hb_slq_set_i64(slq, HB_SLQ_STREAM, (int64_t)es[0]));
    OK(hb_slq_run_model(slq, m, &sp[0]));
    for (size_t b = 0; b < nb; b++) {
        OK(hb_slq_set_i64(slq, HB_SLQ_STREAM, (int64_t)es[b + 1]));
        OK(hb_slq_run_model_block(slq, m, b, &sp[b + 1]));
    }
    for (size_t i = 0; i <= nb; i++)
        for (size_t q = 0; q < PROBES; q++) {
            const double *nodes = NULL, *weights = NULL;
            size_t count = 0;
            OK(hb_spectrum_probe(sp[i], q, &nodes, &weights, &count, NULL));
            put(r, nodes, count, HB_F64);
            put(r, weights, count, HB_F64);
        }
    double js[MAX_BLOCKS * MAX_BLOCKS], mean;
    OK(hb_spectra_js_matrix((const hb_spectrum *const *)&sp[1], nb, NULL, js, &mean));
    put(r, js, nb * nb, HB_F64);
    put(r, &mean, 1, HB_F64);

    /* The same runs as ONE task run (hb_slq_run_model_blocks: the full Hessian and the
     * blocks concurrently): bit for bit the serial loop above, at every thread count. */
    hb_spectrum *many[MAX_BLOCKS + 1] = {NULL};
    OK(hb_slq_run_model_blocks(slq, m, eb, es, nb + 1, many, NULL, NULL));
    for (size_t i = 0; i <= nb; i++) {
        for (size_t q = 0; q < PROBES; q++) {
            const double *na = NULL, *wa = NULL, *nb1 = NULL, *wb = NULL;
            size_t ca = 0, cb = 0;
            OK(hb_spectrum_probe(many[i], q, &na, &wa, &ca, NULL));
            OK(hb_spectrum_probe(sp[i], q, &nb1, &wb, &cb, NULL));
            ck_assert_uint_eq(ca, cb);
            ck_assert_mem_eq(na, nb1, ca * sizeof *na);
            ck_assert_mem_eq(wa, wb, ca * sizeof *wa);
        }
        hb_spectrum_free(many[i]);
    }

    /* AdamW with clipping: the clipped norm is a reduction over the whole gradient */
    hb_optimizer *opt = NULL;
    OK(hb_optimizer_create(ctx, HB_OPTIM_ADAMW, p, &opt));
    OK(hb_optimizer_set_f64(opt, HB_OPT_LR, 1e-2));
    OK(hb_optimizer_set_f64(opt, HB_OPT_CLIP_NORM, 0.5));
    for (int t = 0; t < OPT_STEPS; t++) {
        OK(hb_model_loss_grad(m, &loss));
        put(r, &loss, 1, HB_F64);
        OK(hb_optimizer_step(opt));
    }
    put(r, hb_params_data(p), n, dt);

    hb_optimizer_free(opt);
    for (size_t i = 0; i <= nb; i++) hb_spectrum_free(sp[i]);
    hb_slq_free(slq);
    hb_tensor_free(v), hb_tensor_free(hv), hb_tensor_free(V), hb_tensor_free(HV);
    hb_model_free(m);
    hb_context_free(ctx);
}

static const int thread_counts[] = {1, 2, 3, 7, 16};

static void check_case(model_case c) {
    record ref = {0};
    run_case(c, 1, &ref);
    ck_assert_uint_gt(ref.n, 0);
    for (size_t i = 0; i < sizeof thread_counts / sizeof thread_counts[0]; i++)
        for (int rep = 0; rep < REPEATS; rep++) {
            int t = thread_counts[i];
            record r = {0};
            run_case(c, t, &r);
            ck_assert_uint_eq(r.n, ref.n);
            size_t first = r.n;
            for (size_t j = 0; j < r.n && first == r.n; j++)
                if (memcmp(&r.v[j], &ref.v[j], sizeof(double)) != 0) first = j;
            ck_assert_msg(first == r.n,
                          "%s, %d threads, run %d: result %zu of %zu is %.17g, at 1 thread %.17g",
                          case_name[c], t, rep + 1, first, r.n, r.v[first], ref.v[first]);
            free(r.v);
        }
    free(ref.v);
}

START_TEST(test_gemm_threads_policy) {
    /* The test models above exercise both sides of the threshold only if it is where
     * this test expects it; and the split never exceeds the context's threads. */
    hb_context *ctx = hb_test_context(7, 1);
    int procs = omp_get_num_procs(), cap = procs < 7 ? procs : 7;
    ck_assert_int_eq(hb__gemm_threads(ctx, 64, 64, 32), 1); /* attention, per head */
    ck_assert_int_eq(hb__gemm_threads(ctx, 512, 256, 64), cap < 4 ? cap : 4); /* gpt MLP */
    ck_assert_int_eq(hb__gemm_threads(ctx, 4096, 4096, 4096), cap);
    hb_context_free(ctx);
    ctx = hb_test_context(1, 1);
    ck_assert_int_eq(hb__gemm_threads(ctx, 4096, 4096, 4096), 1);
    hb_context_free(ctx);
    /* the gpt case: batch 16, context 32, width 64, 2 heads (32 items of 32 × 32 × 32; the
     * forward is 2 such products per item, the backward 4), MLP rows 512 × 256 */
    double unit = 2.0 * 32 * 32 * 32 * 32;
    ck_assert_int_eq(hb__team(7, 32, 2 * unit, HB__ATTN_FLOPS_PER_THREAD), cap < 4 ? cap : 4);
    ck_assert_int_eq(hb__team(7, 32, 4 * unit, HB__ATTN_FLOPS_PER_THREAD), cap < 8 ? cap : 8);
    ck_assert_int_eq(hb__team(7, 512 * 256, 512.0 * 256, HB__ELTWISE_PER_THREAD), cap < 2 ? cap : 2);
    ck_assert_int_eq(hb__team(1, 32, 1e12, HB__ATTN_FLOPS_PER_THREAD), 1);
}
END_TEST

/* The JS bootstrap (lib/slq/js_error.c) runs its replicates on the context's threads: the
 * CLI's size (37 blocks, 100 replicates), both conventions, one spectrum numerically zero. */
static void js_bootstrap_at(int threads, int normalize, double *S, double *se) {
    enum { K = 37 };
    hb_context *ctx = hb_test_context(threads, 4242);
    hb_spectrum *sp[K];
    hb_test_spectra(ctx, K, 19, 11, sp);
    hb_js_options o = HB_JS_OPTIONS_INIT;
    o.normalize = normalize;
    OK(hb_spectra_js_matrix_stderr((const hb_spectrum *const *)sp, K, &o, 100, 1, S, se));
    for (int i = 0; i < K; i++) hb_spectrum_free(sp[i]);
    hb_context_free(ctx);
}

START_TEST(test_repro_js_bootstrap) {
    enum { K = 37 };
    static double S0[K * K], S[K * K];
    for (int norm = 0; norm < 2; norm++) {
        double se0, se;
        js_bootstrap_at(1, norm, S0, &se0);
        ck_assert(se0 > 0);
        for (size_t i = 0; i < sizeof thread_counts / sizeof thread_counts[0]; i++)
            for (int rep = 0; rep < REPEATS; rep++) {
                js_bootstrap_at(thread_counts[i], norm, S, &se);
                ck_assert_msg(memcmp(S, S0, sizeof S) == 0 && memcmp(&se, &se0, sizeof se) == 0,
                              "normalize %d, %d threads, run %d: se %.17g, at 1 thread %.17g", norm,
                              thread_counts[i], rep + 1, se, se0);
            }
    }
}
END_TEST

START_TEST(test_repro_gpt) { check_case(GPT); }
END_TEST
START_TEST(test_repro_gpt_f32) { check_case(GPT_F32); }
END_TEST
START_TEST(test_repro_mlp) { check_case(MLP); }
END_TEST
START_TEST(test_repro_cnn) { check_case(CNN); }
END_TEST
START_TEST(test_repro_net) { check_case(NET); }
END_TEST

START_TEST(test_repro_gpt_ref) { check_case(GPT_REF); }
END_TEST

Suite *hb_suite_repro(void) {
    Suite *s = suite_create("repro");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_gemm_threads_policy);
    tcase_add_test(tc, test_repro_gpt);
    tcase_add_test(tc, test_repro_gpt_f32);
    tcase_add_test(tc, test_repro_mlp);
    tcase_add_test(tc, test_repro_cnn);
    tcase_add_test(tc, test_repro_net);
    tcase_add_test(tc, test_repro_gpt_ref);
    tcase_add_test(tc, test_repro_js_bootstrap);
    suite_add_tcase(s, tc);
    return s;
}
