/* bench_lpt: longest SLQ tasks first (issue 19: `hessblock analyze` ≥ 10× on 16 threads).
 *
 *   bench_lpt [--threads T] [--reps R] [--probes K] [--steps S] [--full] [--no-tasks]
 *             [--no-wall]
 *
 * The `analyze` default preset's gpt (vocab 32, context 16, width 32, 2 heads, 2 layers,
 * 2 micro-batches of 16 synthetic sequences) and its per-block SLQ as `analyze` runs it:
 * every block in block order (--full: the full Hessian first, as `spectrum --full`),
 * K = 4 probes of S = 32 steps, one group (one task) per entry:
 *
 * 1. TASKS: each entry's task alone at 1 thread (hb_slq_run_model_block / _model: the same
 *    products), CPU-time median of R (robust on a loaded machine), against the scheduler's estimate (hb__slq_task_cost), and
 *    the Spearman rank correlation of the two. From the measured times, the makespan of a
 *    list schedule on W = 2, 4, 8, 16 workers claiming in task order (the schedule before)
 *    and longest-estimate-first (the new one), with the bound max(longest, sum / W). This
 *    predicts the 16-core gain on any machine (tasks on 16 cores run slower each, the
 *    ratio of the two orders is what carries over).
 * 2. WALL: the whole hb_slq_run_model_blocks at T threads (default: every processor),
 *    task order vs longest first, alternating, medians of R, and the ratio.
 * Both orders give the same bits (checked: every spectrum compared). */
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hessblock/hessblock.h"
#include "slq/slq_internal.h"

static hb_context *ctx;
#include "bench_check.h"
#include "bench_time.h"

static hb_model *make_gpt(void) {
    hb_model_config *cfg = NULL;
    hb_model *m = NULL;
    CHECK(hb_model_config_create(ctx, HB_MODEL_GPT, &cfg));
    static const hb_model_key k[] = {HB_MK_VOCAB, HB_MK_CONTEXT, HB_MK_WIDTH, HB_MK_HEADS,
                                     HB_MK_LAYERS, HB_MK_BATCH};
    static const int64_t v[] = {32, 16, 32, 2, 2, 16};
    for (size_t i = 0; i < 6; i++) CHECK(hb_model_config_set_i64(cfg, k[i], v[i]));
    CHECK(hb_model_create(ctx, cfg, &m));
    hb_model_config_free(cfg);
    CHECK(hb_model_set_synthetic(m, 2, 1, 0));
    return m;
}

/* Makespan of tasks t[order[0]], t[order[1]], … each given to the worker free first. */
static double makespan(const double *t, const size_t *order, size_t n, size_t workers) {
    double free_at[64] = {0}, end = 0;
    for (size_t i = 0; i < n; i++) {
        size_t w = 0;
        for (size_t j = 1; j < workers; j++)
            if (free_at[j] < free_at[w]) w = j;
        free_at[w] += t[order ? order[i] : i];
        if (free_at[w] > end) end = free_at[w];
    }
    return end;
}

static const double *sort_key;
static int by_key_desc(const void *a, const void *b) {
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (sort_key[i] != sort_key[j]) return sort_key[i] > sort_key[j] ? -1 : 1;
    return (i > j) - (i < j);
}

/* ranks (1-based, ties averaged) of x[0..n) into r */
static void ranks(const double *x, size_t n, double *r) {
    size_t *ix = malloc(n * sizeof *ix);
    for (size_t i = 0; i < n; i++) ix[i] = i;
    sort_key = x;
    qsort(ix, n, sizeof *ix, by_key_desc);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && x[ix[j + 1]] == x[ix[i]]) j++;
        for (size_t q = i; q <= j; q++) r[ix[q]] = 0.5 * (double)(i + j) + 1.0;
        i = j + 1;
    }
    free(ix);
}

static double spearman(const double *a, const double *b, size_t n) {
    double *ra = malloc(n * sizeof *ra), *rb = malloc(n * sizeof *rb), ma = 0, mb = 0;
    ranks(a, n, ra);
    ranks(b, n, rb);
    for (size_t i = 0; i < n; i++) ma += ra[i] / (double)n, mb += rb[i] / (double)n;
    double sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < n; i++) {
        sab += (ra[i] - ma) * (rb[i] - mb);
        saa += (ra[i] - ma) * (ra[i] - ma);
        sbb += (rb[i] - mb) * (rb[i] - mb);
    }
    free(ra);
    free(rb);
    return sab / sqrt(saa * sbb);
}

static bool same_spectra(hb_spectrum *const *a, hb_spectrum *const *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        for (size_t p = 0; p < hb_spectrum_num_probes(a[i]); p++) {
            const double *na, *wa, *nb, *wb;
            size_t ca, cb;
            CHECK(hb_spectrum_probe(a[i], p, &na, &wa, &ca, NULL));
            CHECK(hb_spectrum_probe(b[i], p, &nb, &wb, &cb, NULL));
            if (ca != cb || memcmp(na, nb, ca * sizeof *na) || memcmp(wa, wb, ca * sizeof *wa))
                return false;
        }
    return true;
}

int main(int argc, char **argv) {
    int threads = omp_get_num_procs(), reps = 3;
    int64_t probes = 4, steps = 32;
    bool do_tasks = true, do_wall = true, with_full = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--no-tasks")) do_tasks = false;
        else if (!strcmp(argv[i], "--full")) with_full = true;
        else if (!strcmp(argv[i], "--no-wall")) do_wall = false;
        else if (i + 1 < argc && !strcmp(argv[i], "--threads")) threads = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--reps")) reps = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--probes")) probes = atoll(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--steps")) steps = atoll(argv[++i]);
    }
    if (reps < 1) reps = 1;
    if (reps > 16) reps = 16;
    if (hb_context_create(&ctx) != HB_OK) return 1;
    hb_model *m = make_gpt();
    const hb_params *p = hb_model_params(m);
    size_t B = hb_params_num_blocks(p), n = B + with_full, f = with_full; /* entry i: block i − f */
    size_t *blocks = calloc(n, sizeof *blocks);
    uint64_t *streams = calloc(n, sizeof *streams);
    double *est = calloc(n, sizeof *est), *meas = calloc(n, sizeof *meas);
    size_t *lpt = calloc(n, sizeof *lpt);
    hb_spectrum **a = calloc(n, sizeof *a), **b = calloc(n, sizeof *b);
    for (size_t i = 0; i < n; i++) {
        blocks[i] = i < f ? HB_SLQ_FULL_HESSIAN : i - f;
        streams[i] = 100 + i;
    }
    hb_slq *s = NULL;
    CHECK(hb_slq_create(ctx, &s));
    CHECK(hb_slq_set_i64(s, HB_SLQ_PROBES, probes));
    CHECK(hb_slq_set_i64(s, HB_SLQ_STEPS, steps));
    CHECK(hb_slq_set_i64(s, HB_SLQ_GROUP, probes)); /* one task per entry, as analyze */
    for (size_t i = 0; i < n; i++) {
        CHECK(hb__slq_task_cost(s, m, i < f ? SIZE_MAX : i - f, (size_t)probes, &est[i]));
        lpt[i] = i;
    }
    sort_key = est;
    qsort(lpt, n, sizeof *lpt, by_key_desc); /* the library's order: estimate, then index */
    printf("bench_lpt: gpt (analyze default), %zu parameters, %s%zu blocks, %lld probes x "
           "%lld steps, %d processors\n", hb_params_count(p), f ? "full + " : "", B, (long long)probes,
           (long long)steps, omp_get_num_procs());

    if (do_tasks) {
        CHECK(hb_context_set_i64(ctx, HB_CTX_THREADS, 1));
        printf("\ntasks at 1 thread (CPU-time medians of %d):\n  %-22s %10s %12s %6s\n", reps,
               "entry", "cpu s", "estimate", "rank");
        for (size_t i = 0; i < n; i++) {
            double w[16];
            for (int r = 0; r < reps; r++) {
                hb_spectrum *one = NULL;
                CHECK(hb_slq_set_i64(s, HB_SLQ_STREAM, (int64_t)streams[i]));
                double c0 = bench_cpu();
                CHECK(i < f ? hb_slq_run_model(s, m, &one) : hb_slq_run_model_block(s, m, i - f, &one));
                w[r] = bench_cpu() - c0;
                hb_spectrum_free(one);
            }
            meas[i] = bench_median(w, reps);
        }
        CHECK(hb_slq_set_i64(s, HB_SLQ_STREAM, -1));
        double *re = calloc(n, sizeof *re), total = 0, longest = 0;
        ranks(est, n, re);
        for (size_t i = 0; i < n; i++) {
            const char *name = "(full Hessian)";
            if (i >= f) CHECK(hb_params_block_info(p, i - f, &name, NULL, NULL, NULL, NULL, NULL));
            printf("  %-22s %10.4f %12.4g %6.1f\n", name, meas[i], est[i], re[i]);
            total += meas[i];
            longest = fmax(longest, meas[i]);
        }
        free(re);
        printf("  Spearman rank correlation (estimate, measured): %.3f; sum %.3f s, longest %.3f s\n",
               spearman(est, meas, n), total, longest);
        printf("\nsimulated makespan from these times (list schedule):\n  %4s %10s %10s %10s %8s\n",
               "W", "task ord", "longest1st", "bound", "ratio");
        static const size_t ws[] = {2, 4, 8, 16};
        for (size_t j = 0; j < 4; j++) {
            double plain = makespan(meas, NULL, n, ws[j]), fast = makespan(meas, lpt, n, ws[j]);
            printf("  %4zu %10.3f %10.3f %10.3f %8.2f\n", ws[j], plain, fast,
                   fmax(longest, total / (double)ws[j]), plain / fast);
        }
        fflush(stdout);
    }

    if (do_wall) {
        CHECK(hb_context_set_i64(ctx, HB_CTX_THREADS, threads));
        double tp[16], tl[16], cp[16], cl[16];
        bool same = true;
        for (int r = 0; r < reps; r++) { /* alternate: the load drifts between rounds */
            hb__slq_longest_first = 0;
            double w0 = bench_wall(), c0 = bench_cpu();
            CHECK(hb_slq_run_model_blocks(s, m, blocks, streams, n, a, NULL, NULL));
            tp[r] = bench_wall() - w0;
            cp[r] = bench_cpu() - c0;
            hb__slq_longest_first = 1;
            w0 = bench_wall(), c0 = bench_cpu();
            CHECK(hb_slq_run_model_blocks(s, m, blocks, streams, n, b, NULL, NULL));
            tl[r] = bench_wall() - w0;
            cl[r] = bench_cpu() - c0;
            same = same && same_spectra(a, b, n);
            for (size_t i = 0; i < n; i++) hb_spectrum_free(a[i]), hb_spectrum_free(b[i]);
        }
        double mp = bench_median(tp, reps), ml = bench_median(tl, reps);
        /* CPU / wall: how many cores the run really had (other processes, contention) */
        printf("\nhb_slq_run_model_blocks at %d threads (medians of %d, wall / CPU s): task order "
               "%.3f / %.3f, longest first %.3f / %.3f; wall ratio %.2f; spectra %s\n", threads,
               reps, mp, bench_median(cp, reps), ml, bench_median(cl, reps), mp / ml,
               same ? "identical" : "DIFFER");
        if (!same) return 1;
    }
    hb_slq_free(s);
    hb_model_free(m);
    free(blocks), free(streams), free(est), free(meas), free(lpt), free(a), free(b);
    hb_context_free(ctx);
    return 0;
}
