/* bench_threads: where a second (third, …) thread pays, and what it gives gpt-ref.
 *
 *   bench_threads [--threads P] [--reps R] [--dtype f32|f64] [--no-model]
 *
 * Part 1, the threshold: for the gemm shapes one gpt-ref gradient/HVP issues (counted with
 * an LD_PRELOAD shim on bli_?gemm_ex, docs/performance.md) and a few larger ones, the wall
 * time of one BLIS call with 1 thread and with P threads (per-call rntm, as the library
 * passes it), median of R batches, and the ratio t1 / tP (> 1: threading pays). The library
 * threads a gemm only when 2mnk ≥ 2·HB__GEMM_FLOPS_PER_THREAD (the column "lib threads").
 * Part 2, the effect: gpt-ref loss+gradient and one HVP through the library with 1 and P
 * threads, wall medians, ratio t1 / tP. Wall time, so run it on a quiet machine and say
 * the load (uptime) with the figures. */
#include <blis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hessblock/hessblock.h"
#include "kernels/kernels.h"

static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
#define MAXR 101

/* seconds per call of an m×n×k gemm with `threads` BLIS threads, median of reps batches */
static double time_gemm(hb_dtype dt, int64_t m, int64_t n, int64_t k, int threads, int reps,
                        void *A, void *B, void *C) {
    double flops = 2.0 * (double)m * (double)n * (double)k;
    int calls = flops < 1e6 ? 200 : flops < 1e8 ? 20 : 2;
    double ts[MAXR];
    rntm_t rntm;
    bli_rntm_init(&rntm);
    bli_rntm_set_num_threads(threads, &rntm);
    for (int r = -1; r < reps; r++) {
        double t0 = wall();
        for (int c = 0; c < calls; c++) {
            if (dt == HB_F64) {
                double al = 1, be = 0;
                bli_dgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &al, A, k, 1, B, n, 1,
                             &be, C, n, 1, NULL, &rntm);
            } else {
                float al = 1, be = 0;
                rntm_t r2 = rntm;
                bli_rntm_disable_l3_sup(&r2); /* as the library does for f32 */
                bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &al, A, k, 1, B, n, 1,
                             &be, C, n, 1, NULL, &r2);
            }
        }
        if (r >= 0) ts[r] = (wall() - t0) / calls;
    }
    qsort(ts, (size_t)reps, sizeof(double), cmp);
    return ts[reps / 2];
}

static double time_model(hb_dtype dt, int threads, int reps, int hvp) {
    hb_context *ctx = NULL;
    hb_model_config *cfg = NULL;
    hb_model *m = NULL;
    hb_tensor *v = NULL, *o = NULL;
    if (hb_context_create(&ctx) || hb_context_set_i64(ctx, HB_CTX_THREADS, threads) ||
        hb_model_config_create(ctx, HB_MODEL_GPT, &cfg) ||
        hb_model_config_set_i64(cfg, HB_MK_DTYPE, dt) || hb_model_create(ctx, cfg, &m)) {
        fprintf(stderr, "model: %s\n", ctx ? hb_context_last_error(ctx) : "no context");
        exit(1);
    }
    int64_t s[1] = {(int64_t)hb_params_count(hb_model_params(m))};
    if (hb_tensor_create(ctx, dt, 1, s, &v) || hb_tensor_create(ctx, dt, 1, s, &o) ||
        hb_tensor_fill(v, 0.01))
        exit(1);
    double ts[MAXR], loss;
    for (int r = -1; r < reps; r++) {
        double t0 = wall();
        int rc = hvp ? hb_model_hvp(m, v, o) : hb_model_loss_grad(m, &loss);
        if (rc) exit(1);
        if (r >= 0) ts[r] = wall() - t0;
    }
    qsort(ts, (size_t)reps, sizeof(double), cmp);
    hb_tensor_free(v), hb_tensor_free(o), hb_model_free(m), hb_model_config_free(cfg);
    hb_context_free(ctx);
    return ts[reps / 2];
}

int main(int argc, char **argv) {
    int P = 2, reps = 9, model = 1;
    hb_dtype dt = HB_F64;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) P = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dtype") && i + 1 < argc)
            dt = !strcmp(argv[++i], "f32") ? HB_F32 : HB_F64;
        else if (!strcmp(argv[i], "--no-model")) model = 0;
        else {
            fprintf(stderr, "usage: %s [--threads P] [--reps R] [--dtype f32|f64] [--no-model]\n",
                    argv[0]);
            return 2;
        }
    }
    if (P < 2 || reps < 1 || reps > MAXR) {
        fprintf(stderr, "need --threads >= 2 and 1 <= reps <= %d\n", MAXR);
        return 2;
    }
    static const int64_t shapes[][3] = {
        /* gpt-ref: attention per (sequence, head), then the linear layers */
        {64, 64, 32}, {64, 32, 64}, {128, 128, 64}, {256, 128, 128}, {1024, 65, 128},
        {1024, 128, 128}, {128, 128, 1024}, {1024, 512, 128}, {1024, 128, 512},
        {2048, 512, 512}};
    size_t ns = sizeof shapes / sizeof shapes[0];
    size_t es = dt == HB_F64 ? 8 : 4, cap = 2048 * 512;
    void *A = calloc(cap, es), *B = calloc(cap, es), *C = calloc(cap, es);
    if (!A || !B || !C) return 1;
    hb_context *ctx = NULL;
    if (hb_context_create(&ctx) || hb_context_set_i64(ctx, HB_CTX_THREADS, P)) return 1;
    printf("BLIS %s gemm, one call, wall median of %d; threshold %.3g flops per thread\n",
           dt == HB_F64 ? "f64" : "f32", reps, HB__GEMM_FLOPS_PER_THREAD);
    printf("%6s %6s %6s %10s %12s %12s %10s %12s\n", "m", "n", "k", "MFLOP", "1 thread us",
           "P thread us", "t1/tP", "lib threads");
    for (size_t i = 0; i < ns; i++) {
        int64_t m = shapes[i][0], n = shapes[i][1], k = shapes[i][2];
        double t1 = time_gemm(dt, m, n, k, 1, reps, A, B, C);
        double tp = time_gemm(dt, m, n, k, P, reps, A, B, C);
        printf("%6lld %6lld %6lld %10.2f %12.1f %12.1f %10.2f %12d\n", (long long)m, (long long)n,
               (long long)k, 2e-6 * (double)m * (double)n * (double)k, t1 * 1e6, tp * 1e6,
               t1 / tp, hb__gemm_threads(ctx, m, n, k));
    }
    if (model) {
        printf("gpt-ref %s through the library, wall median of %d (ratio t1/tP > 1: P threads faster)\n",
               dt == HB_F64 ? "f64" : "f32", reps);
        for (int h = 0; h < 2; h++) {
            double t1 = time_model(dt, 1, reps, h), tp = time_model(dt, P, reps, h);
            printf("  %-5s 1 thread %8.1f ms   %d threads %8.1f ms   t1/tP %.2f\n",
                   h ? "HVP" : "grad", t1 * 1e3, P, tp * 1e3, t1 / tp);
        }
    }
    hb_context_free(ctx);
    free(A), free(B), free(C);
    return 0;
}
