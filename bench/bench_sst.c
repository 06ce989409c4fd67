/* SST forward: form W = U·diag(s)·Vᵀ once and apply the dense product, versus applying the
 * three factors at every position, Y = ((X·Vᵀᵀ)·diag(s))·Uᵀ. Full rank k = min(out, in).
 * Prints seconds per forward and the ratio (factored / formed); the dense product alone is
 * the reference measured in the same run.
 *   usage: bench_sst [out] [in] [positions] [reps]   (defaults 256 256 2048 20) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kernels/kernels.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    int64_t out = argc > 1 ? atoll(argv[1]) : 256, in = argc > 2 ? atoll(argv[2]) : 256,
            P = argc > 3 ? atoll(argv[3]) : 2048, reps = argc > 4 ? atoll(argv[4]) : 20;
    int64_t k = out < in ? out : in;
    hb_context *ctx = NULL;
    if (hb_context_create(&ctx) != HB_OK) return 1;
    float *U = calloc((size_t)(out * k), 4), *s = calloc((size_t)k, 4), *Vt = calloc((size_t)(k * in), 4),
          *W = calloc((size_t)(out * in), 4), *US = calloc((size_t)(out * k), 4),
          *X = calloc((size_t)(P * in), 4), *Y = calloc((size_t)(P * out), 4),
          *T = calloc((size_t)(P * k), 4);
    if (!U || !s || !Vt || !W || !US || !X || !Y || !T) return 1;
    for (int64_t i = 0; i < out * k; i++) U[i] = (float)((i % 7) - 3) * 0.1f;
    for (int64_t i = 0; i < k * in; i++) Vt[i] = (float)((i % 5) - 2) * 0.1f;
    for (int64_t i = 0; i < k; i++) s[i] = 1.0f / (float)(1 + i);
    for (int64_t i = 0; i < P * in; i++) X[i] = (float)((i % 11) - 5) * 0.01f;
    int rc = 0;
    double t_dense = 1e30, t_formed = 1e30, t_fact = 1e30;
    for (int64_t r = 0; r < reps; r++) {
        double t0 = now();
        rc |= hb__gemm(ctx, HB_F32, false, true, P, out, in, 1.0, X, in, W, in, 0.0, Y, out);
        double t1 = now();
        for (int64_t j = 0; j < out; j++)
            for (int64_t i = 0; i < k; i++) US[j * k + i] = U[j * k + i] * s[i];
        rc |= hb__gemm(ctx, HB_F32, false, false, out, in, k, 1.0, US, k, Vt, in, 0.0, W, in);
        rc |= hb__gemm(ctx, HB_F32, false, true, P, out, in, 1.0, X, in, W, in, 0.0, Y, out);
        double t2 = now();
        rc |= hb__gemm(ctx, HB_F32, false, true, P, k, in, 1.0, X, in, Vt, in, 0.0, T, k);
        for (int64_t p = 0; p < P; p++)
            for (int64_t i = 0; i < k; i++) T[p * k + i] *= s[i];
        rc |= hb__gemm(ctx, HB_F32, false, true, P, out, k, 1.0, T, k, U, k, 0.0, Y, out);
        double t3 = now();
        if (t1 - t0 < t_dense) t_dense = t1 - t0;
        if (t2 - t1 < t_formed) t_formed = t2 - t1;
        if (t3 - t2 < t_fact) t_fact = t3 - t2;
    }
    double fl = 2.0 * (double)P * (double)out * (double)in;
    printf("SST forward, f32, out=%lld in=%lld k=%lld positions=%lld (best of %lld, 1 thread)\n",
           (long long)out, (long long)in, (long long)k, (long long)P, (long long)reps);
    printf("  dense X·Wᵀ alone (reference):  %.3e s  (%.1f GFLOP/s)\n", t_dense, fl / t_dense * 1e-9);
    printf("  form W + dense:                %.3e s  (%.2fx the reference)\n", t_formed,
           t_formed / t_dense);
    printf("  factored (X·V)·S·Uᵀ:           %.3e s  (%.2fx the reference)\n", t_fact, t_fact / t_dense);
    printf("  factored / formed:             %.2f\n", t_fact / t_formed);
    free(U), free(s), free(Vt), free(W), free(US), free(X), free(Y), free(T);
    hb_context_free(ctx);
    return rc != 0;
}
