/* Optimizer step time against a triad loop (a[i] = b[i] + s·c[i]) measured in the same run.
 *   build/bench/bench_optim [n_params=10000000] [threads=1] [reps=10]
 * Effective bandwidth of a step = (bytes moved per parameter, from the formulas) · n / time:
 *   AdamW f32: read p, g, m, v + write p, m, v = 28 B (the gradient check pass re-reads g:
 *   +4 B not counted, so the ratio is conservative); SGD+momentum 20 B; Adam-mini 20 B;
 *   AdamW bf16: 2+4+4+4 read, 2+4+4 write = 24 B. Triad: 12 B per element.
 * The machine may be shared: each repetition times one triad and then one step, so both
 * see the same load; medians and minima over the repetitions are printed. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hessblock/hessblock.h"
#include "bench_time.h"

typedef struct triad_arrays { float *a, *b, *c; size_t n; } triad_arrays;

static double triad_once(triad_arrays *t, float s) {
    double t0 = bench_wall();
    float *restrict a = t->a;
    const float *restrict b = t->b, *restrict c = t->c;
    for (size_t i = 0; i < t->n; i++) a[i] = b[i] + s * c[i];
    return bench_wall() - t0;
}

static int run(hb_optimizer_kind kind, hb_dtype dt, size_t n, int threads, int reps,
               triad_arrays *ta, double *sec, double *tri) {
    hb_context *ctx = NULL;
    hb_params *p = NULL;
    hb_optimizer *o = NULL;
    /* (n/1000, 1000) when possible: Adam-mini then has one v per row of 1000, as for a
     * linear layer with 1000 inputs */
    int64_t sh[2] = {(int64_t)n, 1};
    int nd = 1;
    if (n % 1000 == 0) { sh[0] = (int64_t)(n / 1000); sh[1] = 1000; nd = 2; }
    int rc = hb_context_create(&ctx);
    if (!rc) rc = hb_context_set_i64(ctx, HB_CTX_THREADS, threads);
    if (!rc) rc = hb_params_create(ctx, dt, &p);
    if (!rc) rc = hb_params_add_block(p, "w", HB_BLOCK_LINEAR, nd, sh, NULL);
    if (!rc) rc = hb_params_finalize(p);
    if (!rc) rc = hb_params_init_block(p, 0, HB_INIT_NORMAL, 0, 1);
    if (!rc) rc = hb_optimizer_create(ctx, kind, p, &o);
    if (!rc && kind == HB_OPTIM_SGD) rc = hb_optimizer_set_f64(o, HB_OPT_MOMENTUM, 0.9);
    if (!rc) {
        float *g = hb_params_grad(p);
        for (size_t i = 0; i < n; i++) g[i] = (float)((i % 17) - 8) * 1e-3f;
    }
    double *t = malloc(sizeof(double) * 2 * (size_t)reps), *u = t + reps;
    for (int r = -1; !rc && r < reps; r++) {
        double tt = triad_once(ta, 0.5f + (float)r);
        double t0 = bench_wall();
        rc = hb_optimizer_step(o);
        if (r >= 0) { t[r] = bench_wall() - t0; u[r] = tt; }
    }
    if (rc) fprintf(stderr, "error %d: %s\n", rc, hb_context_last_error(ctx));
    else {
        bench_median(t, reps);
        bench_median(u, reps);
        sec[0] = t[reps / 2]; sec[1] = t[0];  /* median, min */
        tri[0] = u[reps / 2]; tri[1] = u[0];
    }
    free(t);
    hb_optimizer_free(o);
    hb_params_free(p);
    hb_context_free(ctx);
    return rc;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? (size_t)atoll(argv[1]) : 10000000;
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    int reps = argc > 3 ? atoi(argv[3]) : 10;
    if (n < 1 || threads < 1 || reps < 1) { fprintf(stderr, "bad arguments\n"); return 2; }
    triad_arrays ta = {malloc(n * 4), malloc(n * 4), malloc(n * 4), n};
    if (!ta.a || !ta.b || !ta.c) { fprintf(stderr, "out of memory\n"); return 1; }
    for (size_t i = 0; i < n; i++) { ta.a[i] = 0; ta.b[i] = (float)i; ta.c[i] = 1; }
    printf("n = %zu parameters, %d thread(s), %d repetitions (triad, step) interleaved\n", n,
           threads, reps);
    printf("%-16s %8s %8s %8s %8s  %s\n", "case", "step ms", "GB/s", "triad ms", "GB/s",
           "step/triad bandwidth (median; min-based)");
    struct { const char *name; hb_optimizer_kind k; hb_dtype dt; double bytes; } cases[] = {
        {"adamw f32", HB_OPTIM_ADAMW, HB_F32, 28},
        {"adam f32", HB_OPTIM_ADAM, HB_F32, 28},
        {"sgd+mom f32", HB_OPTIM_SGD, HB_F32, 20},
        {"adam-mini f32", HB_OPTIM_ADAM_MINI, HB_F32, 20},
        {"adamw bf16", HB_OPTIM_ADAMW, HB_BF16, 24},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        double s[2], t[2];
        if (run(cases[c].k, cases[c].dt, n, threads, reps, &ta, s, t)) return 1;
        double bw = cases[c].bytes * (double)n / s[0], bwt = 12.0 * (double)n / t[0];
        double ratio_min = (cases[c].bytes / s[1]) / (12.0 / t[1]);
        printf("%-16s %8.2f %8.2f %8.2f %8.2f  %5.1f%%; %5.1f%%  (%2.0f B/param)\n", cases[c].name,
               s[0] * 1e3, bw * 1e-9, t[0] * 1e3, bwt * 1e-9, 100 * bw / bwt, 100 * ratio_min,
               cases[c].bytes);
    }
    free(ta.a); free(ta.b); free(ta.c);
    return 0;
}
