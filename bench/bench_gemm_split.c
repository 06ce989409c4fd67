/* bench_gemm_split: BLIS's own threads against our row/column panels, per gemm shape.
 *
 *   bench_gemm_split [--dtype f32|f64] [--reps R] [--series 1,2,4,...] [--model ref|10m]
 *
 * For the gemms of one gpt gradient (the linear layers: forward N·T×out×in with Bᵀ, the
 * input gradient N·T×in×out, the weight gradient out×in×N·T with Aᵀ; --model ref: gpt-ref,
 * 10m: width 384, context 256, see bench_threads) and every thread count T of the series:
 *   (c) "1 thr": one single-threaded BLIS call (the rate every way starts from),
 *   (a) "blis":  one BLIS call on T threads (hb__gemm_strided_way, HB__GEMM_BLIS),
 *   (b) "split": C cut into a grid of at most T tiles ("tiles", rows × columns of the
 *                grid), one single-threaded BLIS call per tile on an OpenMP team
 *                (HB__GEMM_SPLIT).
 * With --dtype f64 every one of these products is on BLIS's "sup" path, which the library
 * never threads through BLIS (not bit-identical, kernels.h): there "blis" is the one-thread
 * call too, "split" is our sup tiles ("sup" after the grid), and "split/1" is their speed-up
 * over one thread.
 * GFLOP/s of wall medians of R rounds; in each round (a) and (b) alternate, batch by batch,
 * so both see the same load. "split/blis" > 1: the panels are faster (wall); "cpu b/s":
 * process CPU time of blis over split's (BLIS's threads spin at its barriers, so > 1 is
 * CPU spent waiting; on a loaded machine it is the less noisy of the two). Every result is
 * checked bit for bit against the one-thread call. Run it pinned (taskset) on a quiet
 * machine and give the load (uptime) with the figures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hessblock/hessblock.h"
#include "kernels/kernels.h"
#include "bench_time.h"

#define MAXR 101

typedef struct shape {
    const char *what;
    bool ta, tb;
    int64_t m, n, k;
} shape;

static void *alloc_filled(hb_dtype dt, size_t n) {
    char *p = malloc(n * hb_dtype_size(dt));
    if (!p) exit(1);
    for (size_t i = 0; i < n; i++) {
        double v = 0.01 * (double)(i % 101) - 0.5;
        if (dt == HB_F64) ((double *)p)[i] = v;
        else ((float *)p)[i] = (float)v;
    }
    return p;
}

/* seconds of `calls` products by `way` on `threads` threads */
static double batch(hb_context *ctx, hb__gemm_way way, int threads, hb_dtype dt, const shape *s,
                    const void *A, const void *B, void *C, int calls, double *cpu) {
    int64_t lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
    double t0 = bench_wall(), c0 = bench_cpu();
    for (int c = 0; c < calls; c++)
        if (hb__gemm_strided_way(ctx, threads, way, dt, s->ta, s->tb, s->m, s->n, s->k, 1.0, A,
                                 lda, 1, B, ldb, 1, 0.0, C, s->n, 1))
            exit(1);
    if (cpu) *cpu = (bench_cpu() - c0) / calls;
    return (bench_wall() - t0) / calls;
}

int main(int argc, char **argv) {
    int reps = 9, series[16], ns = 0;
    hb_dtype dt = HB_F32;
    int64_t M = 1024, Cw = 128, V = 65; /* gpt-ref: batch 16 × context 64, width 128 */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dtype") && i + 1 < argc)
            dt = !strcmp(argv[++i], "f64") ? HB_F64 : HB_F32;
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) {
            const char *m = argv[++i];
            if (!strcmp(m, "10m")) M = 16 * 256, Cw = 384;
            else if (strcmp(m, "ref")) return fprintf(stderr, "--model ref|10m\n"), 2;
        } else if (!strcmp(argv[i], "--series") && i + 1 < argc) {
            for (char *t = strtok(argv[++i], ","); t && ns < 16; t = strtok(NULL, ","))
                series[ns++] = atoi(t);
        } else {
            fprintf(stderr, "usage: %s [--dtype f32|f64] [--reps R] [--series 1,2,4,...] "
                            "[--model ref|10m]\n", argv[0]);
            return 2;
        }
    }
    if (reps < 1 || reps > MAXR) return fprintf(stderr, "1 <= reps <= %d\n", MAXR), 2;
    for (int i = 0; i < ns; i++)
        if (series[i] < 1) return fprintf(stderr, "--series: thread counts >= 1\n"), 2;
    if (!ns) series[ns++] = 1, series[ns++] = 2;
    const shape shapes[] = {
        {"fwd qkvo", false, true, M, Cw, Cw},      {"fwd fc", false, true, M, 4 * Cw, Cw},
        {"fwd proj", false, true, M, Cw, 4 * Cw},  {"fwd head", false, true, M, V, Cw},
        {"dx qkvo", false, false, M, Cw, Cw},      {"dx fc", false, false, M, Cw, 4 * Cw},
        {"dx proj", false, false, M, 4 * Cw, Cw},  {"dx head", false, false, M, Cw, V},
        {"dW qkvo", true, false, Cw, Cw, M},       {"dW fc", true, false, 4 * Cw, Cw, M},
        {"dW proj", true, false, Cw, 4 * Cw, M},   {"dW head", true, false, V, Cw, M},
    };
    size_t cap = (size_t)(M * 4 * Cw);
    void *A = alloc_filled(dt, cap), *B = alloc_filled(dt, cap);
    char *C = malloc(cap * hb_dtype_size(dt)), *R = malloc(cap * hb_dtype_size(dt));
    hb_context *ctx = NULL;
    if (!C || !R || hb_context_create(&ctx)) return 1;
    printf("%s gemm: 1 thread, BLIS's threads, our panels; GFLOP/s of wall medians of %d, "
           "threading threshold %.3g flops per thread (not applied here)\n",
           dt == HB_F64 ? "f64" : "f32", reps, HB__GEMM_FLOPS_PER_THREAD);
    printf("%-9s %5s %5s %5s %7s %7s %9s %7s %8s %8s %10s %9s %8s\n", "gemm", "m", "n", "k",
           "MFLOP", "threads", "tiles", "1 thr", "blis", "split", "split/blis", "cpu b/s",
           "split/1");
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        const shape *s = &shapes[i];
        double flops = 2.0 * (double)s->m * (double)s->n * (double)s->k;
        int calls = flops < 1e7 ? 50 : flops < 1e8 ? 10 : 3;
        size_t cn = (size_t)(s->m * s->n), es = hb_dtype_size(dt);
        double t1s[MAXR];
        batch(ctx, HB__GEMM_BLIS, 1, dt, s, A, B, R, 1, NULL);
        for (int r = 0; r < reps; r++)
            t1s[r] = batch(ctx, HB__GEMM_BLIS, 1, dt, s, A, B, R, calls, NULL);
        double t1 = bench_median(t1s, reps);
        for (int j = 0; j < ns; j++) {
            int T = series[j];
            if (T == 1) continue;
            double ta[MAXR], tb[MAXR], ca[MAXR], cb[MAXR];
            batch(ctx, HB__GEMM_BLIS, T, dt, s, A, B, C, 1, NULL); /* warm: teams, buffers */
            batch(ctx, HB__GEMM_SPLIT, T, dt, s, A, B, C, 1, NULL);
            for (int r = 0; r < reps; r++) {
                ta[r] = batch(ctx, HB__GEMM_BLIS, T, dt, s, A, B, C, calls, &ca[r]);
                tb[r] = batch(ctx, HB__GEMM_SPLIT, T, dt, s, A, B, C, calls, &cb[r]);
            }
            if (memcmp(C, R, cn * es)) {
                fprintf(stderr, "%s on %d threads: split differs from 1 thread\n", s->what, T);
                return 1;
            }
            double a = bench_median(ta, reps), b = bench_median(tb, reps);
            int pr, pc;
            bool sup;
            int64_t lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
            hb__gemm_split_tiles(dt, s->ta, s->tb, s->m, s->n, s->k, lda, 1, ldb, 1, s->n, 1, T,
                                 &pr, &pc, &sup);
            char grid[32];
            snprintf(grid, sizeof grid, "%dx%d%s", pr, pc, sup ? " sup" : "");
            double cpu_a = bench_median(ca, reps), cpu_b = bench_median(cb, reps);
            printf("%-9s %5lld %5lld %5lld %7.1f %7d %9s %7.1f %8.1f %8.1f %10.2f %9.2f %8.2f\n",
                   s->what, (long long)s->m, (long long)s->n, (long long)s->k, flops * 1e-6, T,
                   grid, flops / t1 * 1e-9, flops / a * 1e-9, flops / b * 1e-9, a / b,
                   cpu_a / cpu_b, t1 / b);
            fflush(stdout);
        }
    }
    hb_context_free(ctx);
    free(A), free(B), free(C), free(R);
    return 0;
}
