/* bench_slq: where the time of SLQ goes, with references measured in the same run.
 *
 *   bench_slq [threads] [dense_n]
 *
 * 1. Dense symmetric n×n (default n = 2000), n_v = 10, m = 80:
 *    - reference: BLIS dgemm of the operator's shape (10×n times n×n), GFLOP/s;
 *    - batched SLQ (one operator call per step with k = 10), f64 and f32 basis, and no reorth:
 *      total time, time inside the operator, share outside it (reorth + recurrence + tridiagonal);
 *    - unbatched: 10 runs with n_v = 1 (one matrix-vector product per call).
 * 2. gpt-ref (HB_MODEL_GPT defaults: vocab 65, context 64, width 128, 4 heads, 2 layers, batch 16):
 *    full-Hessian SLQ n_v = 10, m = 30, batched (one hb_model_hvp_multi per step, k = 10) vs
 *    unbatched probes (n_v = 1, timed for 2 probes and compared per HVP vector).
 *    If the build has no gpt model (HB_EUNSUPPORTED) it says so and goes on.
 * Memory of full reorthogonalisation: n_v·m·n·8 bytes (·4 with an f32 basis). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hessblock/hessblock.h"
#include "kernels/kernels.h"

static double now(void) {
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#include "bench_check.h"

typedef struct { double total, apply; int64_t calls, vectors; } run_stats;

static run_stats run(hb_context *ctx, hb_linop *op, hb_model *m, int64_t nv, int64_t steps,
                     int64_t reorth, int64_t basis) {
    hb_slq *s = NULL;
    CHECK(hb_slq_create(ctx, &s));
    CHECK(hb_slq_set_i64(s, HB_SLQ_PROBES, nv));
    CHECK(hb_slq_set_i64(s, HB_SLQ_STEPS, steps));
    CHECK(hb_slq_set_i64(s, HB_SLQ_REORTH, reorth));
    CHECK(hb_slq_set_i64(s, HB_SLQ_BASIS_DTYPE, basis));
    hb_spectrum *sp = NULL;
    if (m) CHECK(hb_slq_run_model(s, m, &sp));
    else CHECK(hb_slq_run(s, op, &sp));
    run_stats r;
    CHECK(hb_slq_get_f64(s, HB_SLQ_STAT_TOTAL_SECONDS, &r.total));
    CHECK(hb_slq_get_f64(s, HB_SLQ_STAT_APPLY_SECONDS, &r.apply));
    CHECK(hb_slq_get_i64(s, HB_SLQ_STAT_APPLY_CALLS, &r.calls));
    CHECK(hb_slq_get_i64(s, HB_SLQ_STAT_APPLY_VECTORS, &r.vectors));
    hb_spectrum_free(sp);
    hb_slq_free(s);
    return r;
}

static void report(const char *what, run_stats r) {
    printf("  %-34s total %8.3f s  operator %8.3f s  outside %5.1f%%  (%lld calls, %lld vectors)\n",
           what, r.total, r.apply, 100 * (r.total - r.apply) / r.total, (long long)r.calls,
           (long long)r.vectors);
}

static void dense_case(hb_context *ctx, size_t n) {
    const int64_t nv = 10, m = 80;
    printf("dense symmetric n = %zu, n_v = %lld, m = %lld\n", n, (long long)nv, (long long)m);
    double *A = malloc(n * n * sizeof *A), *X = malloc(nv * n * sizeof *X), *Y = malloc(nv * n * sizeof *Y);
    if (!A || !X || !Y) exit(1);
    CHECK(hb_random_fill_f64(ctx, 1, 0, HB_DIST_NORMAL, 0, 1, A, n * n));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++) A[i * n + j] = A[j * n + i];
    CHECK(hb_random_fill_f64(ctx, 2, 0, HB_DIST_NORMAL, 0, 1, X, nv * n));
    /* reference: the same product as one batched operator call, straight to BLIS */
    int reps = 20;
    double t0 = now();
    for (int r = 0; r < reps; r++)
        CHECK(hb__gemm(ctx, HB_F64, false, false, nv, (int64_t)n, (int64_t)n, 1.0, X, (int64_t)n, A,
                       (int64_t)n, 0.0, Y, (int64_t)n));
    double t_gemm = (now() - t0) / reps;
    double flops = 2.0 * (double)nv * (double)n * (double)n;
    printf("  reference BLIS dgemm %lldx%zu * %zux%zu: %.3f ms, %.1f GFLOP/s\n", (long long)nv, n, n, n,
           1e3 * t_gemm, flops / t_gemm * 1e-9);
    hb_linop *op = NULL;
    CHECK(hb_linop_create_dense(ctx, A, n, 0, &op));
    run_stats full = run(ctx, op, NULL, nv, m, HB_REORTH_FULL, HB_F64);
    report("batched, full reorth, f64 basis", full);
    printf("  operator throughput in SLQ: %.1f GFLOP/s (%.2f x reference)\n",
           flops * (double)full.calls / full.apply * 1e-9, t_gemm * (double)full.calls / full.apply);
    report("batched, full reorth, f32 basis", run(ctx, op, NULL, nv, m, HB_REORTH_FULL, HB_F32));
    report("batched, no reorth", run(ctx, op, NULL, nv, m, HB_REORTH_NONE, HB_F64));
    run_stats un = {0, 0, 0, 0};
    for (int p = 0; p < nv; p++) {
        run_stats r = run(ctx, op, NULL, 1, m, HB_REORTH_FULL, HB_F64);
        un.total += r.total;
        un.apply += r.apply;
        un.calls += r.calls;
        un.vectors += r.vectors;
    }
    report("unbatched (10 x n_v=1), full reorth", un);
    printf("  batched speed-up: %.2f x total, %.2f x operator time\n", un.total / full.total,
           un.apply / full.apply);
    printf("  basis memory (full reorth): %.1f MB f64, %.1f MB f32 (n_v*m*n*8 / *4)\n",
           (double)nv * (double)m * (double)n * 8 / 1e6, (double)nv * (double)m * (double)n * 4 / 1e6);
    hb_linop_free(op);
    free(A);
    free(X);
    free(Y);
}

static void gpt_case(hb_context *ctx) {
    const int64_t nv = 10, m = 30;
    hb_model_config *cfg = NULL;
    hb_model *model = NULL;
    int rc = hb_model_config_create(ctx, HB_MODEL_GPT, &cfg);
    if (rc == HB_OK) rc = hb_model_create(ctx, cfg, &model);
    hb_model_config_free(cfg);
    if (rc == HB_EUNSUPPORTED) {
        printf("gpt model not available\n");
        return;
    }
    CHECK(rc);
    size_t n = hb_params_count(hb_model_params(model));
    printf("gpt-ref: %zu parameters, %zu blocks, batch %zu samples; n_v = %lld, m = %lld\n", n,
           hb_params_num_blocks(hb_model_params(model)), hb_model_num_samples(model), (long long)nv,
           (long long)m);
    run_stats b = run(ctx, NULL, model, nv, m, HB_REORTH_FULL, HB_F64);
    report("batched, full reorth, f64 basis", b);
    run_stats b32 = run(ctx, NULL, model, nv, m, HB_REORTH_FULL, HB_F32);
    report("batched, full reorth, f32 basis", b32);
    run_stats un = {0, 0, 0, 0};
    const int probes = 2;
    for (int p = 0; p < probes; p++) {
        run_stats r = run(ctx, NULL, model, 1, m, HB_REORTH_FULL, HB_F64);
        un.total += r.total;
        un.apply += r.apply;
        un.calls += r.calls;
        un.vectors += r.vectors;
    }
    report("unbatched (2 x n_v=1)", un);
    double per_b = b.apply / (double)b.vectors, per_u = un.apply / (double)un.vectors;
    printf("  HVP time per vector: batched %.1f ms, unbatched %.1f ms (%.2f x)\n", 1e3 * per_b,
           1e3 * per_u, per_u / per_b);
    printf("  estimated unbatched n_v = 10 run: %.1f s vs batched %.1f s\n", un.total / probes * nv,
           b.total);
    printf("  basis memory (full reorth): %.1f MB f64, %.1f MB f32\n",
           (double)nv * (double)m * (double)n * 8 / 1e6, (double)nv * (double)m * (double)n * 4 / 1e6);
    hb_model_free(model);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    size_t n = argc > 2 ? (size_t)atol(argv[2]) : 2000;
    hb_context *ctx = NULL;
    if (hb_context_create(&ctx) != HB_OK) return 1;
    CHECK(hb_context_set_i64(ctx, HB_CTX_THREADS, threads));
    printf("bench_slq: threads %d\n", threads);
    dense_case(ctx, n);
    gpt_case(ctx);
    hb_context_free(ctx);
    return 0;
}
