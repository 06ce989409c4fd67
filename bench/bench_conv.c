/* conv2d R-passes: the interleaved kernels of the network engine (hb__conv2d_il_*, chunks of
 * samples side by side, one gemm per term over all k directions) against the leading-k
 * kernels the built-in cnn uses (hb__conv2d_rop_*, one im2col and gemm per sample and
 * direction), on the default cnn's two convolutions (batch 64, 16×16×1 → 8 channels,
 * 8×8×8 → 16 channels, kernel 3, padding 1). Same data, all R inputs present (the full HVP
 * case). Times are process CPU time, best of `repeats`; the ratio old / new is > 1 when
 * the interleaved passes are faster. The θ passes (forward + backward) are compared too.
 * Usage: bench_conv [repeats] [threads]   (defaults 20, 1). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/internal.h"
#include "nn/conv2d.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double *vec(size_t n) {
    double *a = malloc((n ? n : 1) * sizeof *a);
    if (!a) exit(1);
    for (size_t i = 0; i < n; i++) a[i] = sin((double)i * 0.37) * 0.5;
    return a;
}

#define CHECK(call)                                                                  \
    do {                                                                             \
        if ((call) != HB_OK) {                                                       \
            fprintf(stderr, "%s failed: %s\n", #call, hb_context_last_error(ctx));   \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

static void run(hb_context *ctx, int64_t N, int64_t Cin, int64_t S, int64_t Cout, size_t k, int reps) {
    hb__conv2d_shape old = {N, Cin, Cout, S, 3, 1};
    hb__conv2d_geom g = {Cin, S, S, Cout, 3, 1};
    size_t nx = (size_t)(N * Cin * S * S), ny = (size_t)(N * Cout * S * S), nw = (size_t)(Cout * Cin * 9);
    double *x = vec(nx), *W = vec(nw), *b = vec((size_t)Cout), *gy = vec(ny), *Rx = vec(k * nx);
    double *RW = vec(k * nw), *Rb = vec(k * (size_t)Cout), *Rgy = vec(k * ny), *y = vec(ny);
    double *gx = vec(nx), *gW = vec(nw), *gb = vec((size_t)Cout), *Ry = vec(k * ny);
    double *Rgx = vec(k * nx), *OW = vec(k * nw), *Ob = vec(k * (size_t)Cout);
    size_t ns = hb__conv2d_scratch(&g, (size_t)N, k), ns0 = hb__conv2d_scratch(&g, (size_t)N, 0);
    double *S_ = vec(ns > ns0 ? ns : ns0);
    double t_old = 1e30, t_new = 1e30, f_old = 1e30, f_new = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        CHECK(hb__conv2d_rop_forward(ctx, HB_F64, &old, (int64_t)k, x, W, Rx, RW, Rb, Ry));
        CHECK(hb__conv2d_rop_backward(ctx, HB_F64, &old, (int64_t)k, x, W, gy, Rx, RW, Rgy, Rgx, OW, Ob));
        double t1 = now();
        CHECK(hb__conv2d_il_rforward(ctx, HB_F64, &g, (size_t)N, k, x, W, Rx, RW, nw, Rb,
                                     (size_t)Cout, Ry, S_));
        CHECK(hb__conv2d_il_rbackward(ctx, HB_F64, &g, (size_t)N, k, x, W, gy, Rx, RW, nw, Rgy, Rgx,
                                      OW, nw, Ob, (size_t)Cout, S_));
        double t2 = now();
        CHECK(hb__conv2d_forward(ctx, HB_F64, &old, x, W, b, y));
        CHECK(hb__conv2d_backward(ctx, HB_F64, &old, x, W, gy, gx, gW, gb));
        double t3 = now();
        CHECK(hb__conv2d_il_forward(ctx, HB_F64, &g, (size_t)N, x, W, b, y, S_));
        CHECK(hb__conv2d_il_backward(ctx, HB_F64, &g, (size_t)N, x, W, gy, gx, gW, gb, S_));
        double t4 = now();
        t_old = fmin(t_old, t1 - t0), t_new = fmin(t_new, t2 - t1);
        f_old = fmin(f_old, t3 - t2), f_new = fmin(f_new, t4 - t3);
    }
    printf("N=%-3lld %2lldx%-2lldx%-2lld -> %-2lld k=%-3zu | R-pass leading-k %8.3f ms  interleaved %8.3f ms"
           "  ratio %5.2f | theta %7.3f / %7.3f ms  ratio %5.2f\n",
           (long long)N, (long long)Cin, (long long)S, (long long)S, (long long)Cout, k, 1e3 * t_old,
           1e3 * t_new, t_old / t_new, 1e3 * f_old, 1e3 * f_new, f_old / f_new);
    free(x), free(W), free(b), free(gy), free(Rx), free(RW), free(Rb), free(Rgy), free(y), free(gx);
    free(gW), free(gb), free(Ry), free(Rgx), free(OW), free(Ob), free(S_);
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 20, threads = argc > 2 ? atoi(argv[2]) : 1;
    if (reps < 1 || threads < 1) return 2;
    hb_context *ctx = NULL;
    if (hb_context_create(&ctx) != HB_OK || hb_context_set_i64(ctx, HB_CTX_THREADS, threads) != HB_OK) return 1;
    static const size_t ks[] = {1, 16, 64};
    for (size_t i = 0; i < sizeof ks / sizeof *ks; i++) {
        run(ctx, 64, 1, 16, 8, ks[i], reps);  /* cnn stage 0 */
        run(ctx, 64, 8, 8, 16, ks[i], reps);  /* cnn stage 1 */
    }
    hb_context_free(ctx);
    return 0;
}
