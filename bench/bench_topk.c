/* bench_topk: the cost of hb_slq_topk (restarted Lanczos with deflation, docs/spectral.md
 * "Top-k") on a model Hessian and on a dense matrix, as operator calls and seconds.
 *
 *   bench_topk [threads]
 *
 * 1. mlp (HB_MODEL_MLP defaults: 32 inputs, hidden width 128, batch 16) full Hessian at
 *    initialisation: k = 1, 5, 10, largest and smallest.
 * 2. Dense GOE matrix n = 1000 (Gaussian entries, symmetrised; semicircle edges converge only
 *    algebraically: a hard case for Lanczos): k = 1, 5, 10, largest.
 * Uses the public API only, so the same source measures an older library (the figures in
 * docs/performance.md compare with the single-run algorithm of d923de5). Every operator
 * call is one vector; "calls" is HB_SLQ_STAT_APPLY_CALLS. */
#include <stdio.h>
#include <stdlib.h>

#include "hessblock/hessblock.h"

#include "bench_check.h"

static void topk_case(hb_context *ctx, hb_linop *op, size_t k, hb_eig_which which,
                      const char *what) {
    hb_slq *s = NULL;
    CHECK(hb_slq_create(ctx, &s));
    CHECK(hb_slq_set_i64(s, HB_SLQ_STREAM, 7)); /* the same start for every library version */
    double *vals = malloc(k * sizeof *vals), total = 0, apply = 0;
    size_t conv = 0;
    int64_t calls = 0;
    CHECK(hb_slq_topk(s, op, k, which, vals, NULL, NULL, &conv));
    CHECK(hb_slq_get_f64(s, HB_SLQ_STAT_TOTAL_SECONDS, &total));
    CHECK(hb_slq_get_f64(s, HB_SLQ_STAT_APPLY_SECONDS, &apply));
    CHECK(hb_slq_get_i64(s, HB_SLQ_STAT_APPLY_CALLS, &calls));
    printf("  %-9s k = %2zu  calls %5lld  total %7.3f s  operator %7.3f s  converged %2zu  "
           "values[0] %.10g  values[k-1] %.10g\n",
           what, k, (long long)calls, total, apply, conv, vals[0], vals[k - 1]);
    free(vals);
    hb_slq_free(s);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    hb_context *ctx = NULL;
    if (hb_context_create(&ctx) != HB_OK) return 1;
    CHECK(hb_context_set_i64(ctx, HB_CTX_THREADS, threads));
    const size_t ks[3] = {1, 5, 10};

    hb_model_config *cfg = NULL;
    hb_model *model = NULL;
    hb_linop *op = NULL;
    CHECK(hb_model_config_create(ctx, HB_MODEL_MLP, &cfg));
    CHECK(hb_model_create(ctx, cfg, &model));
    hb_model_config_free(cfg);
    CHECK(hb_linop_create_model_hessian(model, &op));
    printf("bench_topk: threads %d\nmlp defaults: %zu parameters, full Hessian\n", threads,
           hb_linop_size(op));
    for (int i = 0; i < 3; i++) topk_case(ctx, op, ks[i], HB_EIG_LARGEST, "largest");
    for (int i = 0; i < 3; i++) topk_case(ctx, op, ks[i], HB_EIG_SMALLEST, "smallest");
    hb_linop_free(op);
    hb_model_free(model);

    const size_t n = 1000;
    double *A = malloc(n * n * sizeof *A);
    CHECK(hb_random_fill_f64(ctx, 3, 0, HB_DIST_NORMAL, 0, 1, A, n * n));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++) A[i * n + j] = A[j * n + i] = 0.5 * (A[i * n + j] + A[j * n + i]);
    CHECK(hb_linop_create_dense(ctx, A, n, 0, &op));
    printf("dense GOE n = %zu\n", n);
    for (int i = 0; i < 3; i++) topk_case(ctx, op, ks[i], HB_EIG_LARGEST, "largest");
    hb_linop_free(op);
    free(A);
    hb_context_free(ctx);
    return 0;
}
