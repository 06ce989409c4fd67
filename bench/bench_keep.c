/* bench_keep: what keeping the θ passes between the products of one SLQ run buys (issue 19;
 * lib/net/engine.c, "Kept θ parts"), kept against recomputed in the same run.
 *
 *   bench_keep [--threads T] [--probes K] [--steps S] [--groups LIST] [--dtypes LIST]
 *              [--block-probes K] [--block-steps S] [--block-every E] [--reps R]
 *
 * gpt-ref (HB_MODEL_GPT defaults: 421,632 parameters, one micro-batch of 16 × 64 tokens):
 *   1. full-Hessian SLQ, K probes (default 16) of S steps (default 30), for every group size
 *      G in LIST (default 1,4) and dtype in LIST (default f64,f32);
 *   2. a per-block run (hb_slq_run_model_blocks, `hessblock analyze`'s loop) over every E-th
 *      block (default 4: 10 of gpt-ref's 37 blocks), K probes (default 4) of S steps (default 10),
 *      G = 4, per dtype.
 * Each case runs R times (default 1) with keeping on (the library's default) and off
 * (hb__net_model_set_theta_budget 0: every product recomputes forward and backward, the
 * arithmetic before keeping), alternating, and prints the medians, the ratio
 * recomputed/kept, and whether the spectra agree bit for bit (they must). CPU time is the
 * robust column on a shared machine at 1 thread; with T > 1 read the wall column. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hessblock/hessblock.h"
#include "net/net_build.h"

static hb_context *ctx;
#include "bench_check.h"
#include "bench_time.h"

static hb_model *make(hb_dtype dt) {
    hb_model_config *cfg = NULL;
    hb_model *m = NULL;
    CHECK(hb_model_config_create(ctx, HB_MODEL_GPT, &cfg));
    CHECK(hb_model_config_set_i64(cfg, HB_MK_DTYPE, dt));
    CHECK(hb_model_create(ctx, cfg, &m));
    hb_model_config_free(cfg);
    CHECK(hb_model_set_synthetic(m, 1, 1, 0));
    return m;
}

static bool same(hb_spectrum *const *a, hb_spectrum *const *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        size_t np = hb_spectrum_num_probes(a[i]);
        if (np != hb_spectrum_num_probes(b[i])) return false;
        for (size_t p = 0; p < np; p++) {
            const double *na, *wa, *nb, *wb;
            size_t ca, cb;
            CHECK(hb_spectrum_probe(a[i], p, &na, &wa, &ca, NULL));
            CHECK(hb_spectrum_probe(b[i], p, &nb, &wb, &cb, NULL));
            if (ca != cb || memcmp(na, nb, ca * sizeof *na) || memcmp(wa, wb, ca * sizeof *wa))
                return false;
        }
    }
    return true;
}

/* One case: entries blocks[0..n) of m, kept vs recomputed, R times each, alternating. */
static void run_case(const char *label, hb_model *m, hb_slq *s, const size_t *blocks, size_t n,
                     int reps) {
    double c[2][16], w[2][16];
    hb_spectrum **out[2] = {calloc(n, sizeof(hb_spectrum *)), calloc(n, sizeof(hb_spectrum *))};
    uint64_t *streams = calloc(n, sizeof *streams);
    for (size_t i = 0; i < n; i++) streams[i] = 100 + i;
    bool identical = true;
    for (int r = 0; r < reps; r++) {
        for (int keep = 1; keep >= 0; keep--) { /* index 1: kept, 0: recomputed */
            CHECK(hb__net_model_set_theta_budget(m, keep ? SIZE_MAX : 0));
            double c0 = bench_cpu(), w0 = bench_wall();
            CHECK(hb_slq_run_model_blocks(s, m, blocks, streams, n, out[keep], NULL, NULL));
            c[keep][r] = bench_cpu() - c0;
            w[keep][r] = bench_wall() - w0;
        }
        identical = identical && same(out[0], out[1], n);
        for (int k = 0; k < 2; k++)
            for (size_t i = 0; i < n; i++) hb_spectrum_free(out[k][i]);
    }
    CHECK(hb__net_model_set_theta_budget(m, SIZE_MAX));
    double ck = bench_median(c[1], reps), cr = bench_median(c[0], reps);
    double wk = bench_median(w[1], reps), wr = bench_median(w[0], reps);
    printf("  %-34s cpu %8.2f s kept %8.2f s recomputed (x%.2f)  wall %8.2f / %8.2f (x%.2f)  %s\n",
           label, ck, cr, cr / ck, wk, wr, wr / wk, identical ? "identical" : "DIFFERENT");
    fflush(stdout);
    free(out[0]);
    free(out[1]);
    free(streams);
}

int main(int argc, char **argv) {
    int threads = 1, reps = 1;
    int64_t probes = 16, steps = 30, bprobes = 4, bsteps = 10, every = 4;
    const char *groups = "1,4", *dtypes = "f64,f32";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--probes")) probes = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps")) steps = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--groups")) groups = argv[i + 1];
        else if (!strcmp(argv[i], "--dtypes")) dtypes = argv[i + 1];
        else if (!strcmp(argv[i], "--block-probes")) bprobes = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--block-steps")) bsteps = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--block-every")) every = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
    }
    if (reps < 1) reps = 1;
    if (reps > 16) reps = 16;
    if (every < 1) every = 1;
    if (hb_context_create(&ctx) != HB_OK) return 1;
    CHECK(hb_context_set_i64(ctx, HB_CTX_THREADS, threads));
    printf("bench_keep: gpt-ref, threads %d, %d rep(s), medians; ratio = recomputed / kept\n",
           threads, reps);
    char dbuf[64];
    snprintf(dbuf, sizeof dbuf, "%s", dtypes);
    for (char *sd = NULL, *d = strtok_r(dbuf, ",", &sd); d; d = strtok_r(NULL, ",", &sd)) {
        hb_dtype dt = !strcmp(d, "f32") ? HB_F32 : HB_F64;
        hb_model *m = make(dt);
        hb_slq *s = NULL;
        CHECK(hb_slq_create(ctx, &s));
        char label[96], gbuf[64];
        printf("%s: %zu parameters\n", d, hb_params_count(hb_model_params(m)));
        CHECK(hb_slq_set_i64(s, HB_SLQ_PROBES, probes));
        CHECK(hb_slq_set_i64(s, HB_SLQ_STEPS, steps));
        snprintf(gbuf, sizeof gbuf, "%s", groups);
        for (char *sg = NULL, *g = strtok_r(gbuf, ",", &sg); g; g = strtok_r(NULL, ",", &sg)) {
            CHECK(hb_slq_set_i64(s, HB_SLQ_GROUP, atoll(g)));
            snprintf(label, sizeof label, "full H, %lld x %lld, G=%s", (long long)probes,
                     (long long)steps, g);
            run_case(label, m, s, (size_t[]){HB_SLQ_FULL_HESSIAN}, 1, reps);
        }
        size_t nb = hb_params_num_blocks(hb_model_params(m)), n = 0;
        size_t *blocks = calloc(nb, sizeof *blocks);
        for (size_t b = 0; b < nb; b += (size_t)every) blocks[n++] = b;
        CHECK(hb_slq_set_i64(s, HB_SLQ_PROBES, bprobes));
        CHECK(hb_slq_set_i64(s, HB_SLQ_STEPS, bsteps));
        CHECK(hb_slq_set_i64(s, HB_SLQ_GROUP, 4));
        snprintf(label, sizeof label, "%zu blocks, %lld x %lld, G=4", n, (long long)bprobes,
                 (long long)bsteps);
        run_case(label, m, s, blocks, n, reps);
        free(blocks);
        hb_slq_free(s);
        hb_model_free(m);
    }
    hb_context_free(ctx);
    return 0;
}
