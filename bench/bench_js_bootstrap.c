/* The JS bootstrap standard errors (hb_spectra_js_matrix_stderr) at 1 thread and at P
 * threads in the same run, on the CLI's gpt size: 37 block spectra of 4 probes × 32 Lanczos
 * nodes, 100 replicates, 1024-point JS grid (docs/performance.md, "Where analyze spends its
 * time"). Synthetic spectra from a fixed generator; prints seconds (best of R rounds) and
 * the ratio, and checks the results are bit-identical.
 * Usage: bench_js_bootstrap [P (default 2)] [rounds (default 3)] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hessblock/hessblock.h"

enum { K = 37, PROBES = 4, NODES = 32, REPS = 100 };

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double next_u(unsigned *x) {
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return (double)(*x >> 8) / (double)(1u << 24);
}

/* seconds of one call on a context of `threads`; S, se: its results */
static double run(int threads, double *S, double *se) {
    hb_context *ctx = NULL;
    if (hb_context_create(&ctx) || hb_context_set_i64(ctx, HB_CTX_THREADS, threads)) exit(1);
    hb_spectrum *sp[K];
    unsigned x = 12345;
    for (int i = 0; i < K; i++) {
        if (hb_spectrum_create(ctx, 1000, &sp[i])) exit(1);
        double shift = 4 * next_u(&x) - 2, width = 0.5 + 3 * next_u(&x);
        for (int p = 0; p < PROBES; p++) {
            double nodes[NODES], w[NODES], at = shift;
            for (int j = 0; j < NODES; j++) {
                at += width * (0.05 + next_u(&x)) / NODES;
                nodes[j] = at;
                w[j] = 0.1 + next_u(&x);
            }
            if (hb_spectrum_add_probe(sp[i], nodes, w, NODES)) exit(1);
        }
    }
    double t0 = now();
    int rc = hb_spectra_js_matrix_stderr((const hb_spectrum *const *)sp, K, NULL, REPS, 1, S, se);
    double t = now() - t0;
    if (rc) {
        fprintf(stderr, "failed: %s\n", hb_context_last_error(ctx));
        exit(1);
    }
    for (int i = 0; i < K; i++) hb_spectrum_free(sp[i]);
    hb_context_free(ctx);
    return t;
}

int main(int argc, char **argv) {
    int P = argc > 1 ? atoi(argv[1]) : 2, rounds = argc > 2 ? atoi(argv[2]) : 3;
    if (P < 1 || rounds < 1) return 2;
    static double S1[K * K], SP[K * K];
    double se1, seP, t1 = INFINITY, tP = INFINITY;
    for (int r = 0; r < rounds; r++) { /* alternating, so load changes hit both */
        t1 = fmin(t1, run(1, S1, &se1));
        tP = fmin(tP, run(P, SP, &seP));
    }
    int same = memcmp(S1, SP, sizeof S1) == 0 && memcmp(&se1, &seP, sizeof se1) == 0;
    printf("JS bootstrap, %d spectra x %d probes x %d nodes, %d replicates (best of %d)\n", K, PROBES,
           NODES, REPS, rounds);
    printf("1 thread %.3f s, %d threads %.3f s, ratio %.2fx, results %s\n", t1, P, tP, t1 / tP,
           same ? "bit-identical" : "DIFFERENT");
    return same ? 0 : 1;
}
