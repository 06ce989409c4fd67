/* Standard errors of JS distances by bootstrap over probes (docs/spectral.md,
 * "Estimation error of JS values").
 *
 * An SLQ spectrum is a mean of n_v independent probe quadratures. One bootstrap replicate
 * draws, for every spectrum i separately, n_v(i) of its probes with replacement and
 * recomputes the whole JS matrix from them, on the grid of the full estimate (grid,
 * smoothing σ and normalisation scales are held fixed: re-deriving them per replicate would
 * re-evaluate every Gaussian; with them fixed, a replicate is a sum of precomputed per-probe
 * densities, cost k·n_v·G + k²·G instead of k·n_v·m·G). The standard error of an entry is
 * the sample standard deviation (R − 1) of that entry over the R replicates:
 *
 *   se_ij = sqrt( Σ_r (J_ij^(r) − mean_r J_ij)² / (R − 1) ),  the same for the mean JS⁰.
 *
 * What this measures: the PROBE noise of the estimate. It does not see the bias of a
 * Lanczos length that is too short for the grid (a systematic error every probe shares);
 * docs/spectral.md has the measured bias.
 *
 * Random numbers: draw j of spectrum i in replicate r is number ((r·k + i)·2^24 + j) of the
 * counter-based stream (context seed, `stream`), j < n_v < 2^24: a function of (seed,
 * stream, r, i, j) only, never of scheduling.
 *
 * Threads (issue 19): the replicates are independent given their draws, so they run on the
 * context's threads (OpenMP, schedule(static), per-thread scratch), a chunk of replicates
 * at a time; each replicate's matrix is kept and the chunk is folded into the sums in
 * replicate order afterwards. The sums therefore see the same numbers in the same order
 * for any thread count and any chunk size: the results are bit-identical to one thread. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "slq/slq_internal.h"

#define MAX_PROBES_FOR_INDEX (1u << 24)
/* Replicate matrices held at once, at most (chunk size does not change any number). */
#define CHUNK_BYTES ((size_t)32 << 20)

/* What one replicate needs, read-only (shared by the threads). */
typedef struct boot {
    const hb_spectrum *const *spectra;
    size_t k, G;
    const double *D;      /* every probe's density on the grid (hb__js_probe_masses) */
    const size_t *first;  /* row of spectrum i's first probe in D */
    const int *use;       /* compared set */
    size_t n_use;
    uint64_t seed, stream;
} boot;

/* Replicate r (0: the full sample, every probe once) into J (k·k + 1: the matrix and its
 * mean off-diagonal), with scratch pick (max probes) and P (k·G). Touches nothing shared:
 * no context message here (threads); on a non-finite value returns HB_ENONFINITE with
 * *bad_i, *bad_j the spectra (bad_j = SIZE_MAX: spectrum bad_i's density vanished). */
static int replicate(const boot *b, size_t r, size_t *pick, double *P, double *J, size_t *bad_i,
                     size_t *bad_j) {
    const size_t k = b->k, G = b->G, kk = k * k;
    for (size_t i = 0; i < k; i++) {
        if (!b->use[i]) continue; /* left out of the comparison (numerically zero) */
        const size_t n = b->spectra[i]->n_probes;
        const uint64_t base = ((uint64_t)((r - 1) * k + i)) << 24;
        for (size_t j = 0; j < n; j++) {
            size_t q = j;
            if (r > 0) {
                q = (size_t)(hb__uniform01(b->seed, b->stream, base + j) * (double)n);
                if (q >= n) q = n - 1; /* u < 1, but keep the index safe regardless */
            }
            pick[j] = q;
        }
        double *Pi = P + i * G, tot = 0;
        memset(Pi, 0, G * sizeof(double));
        for (size_t j = 0; j < n; j++) {
            const double *row = b->D + (b->first[i] + pick[j]) * G;
            for (size_t g = 0; g < G; g++) Pi[g] += row[g];
        }
        for (size_t g = 0; g < G; g++) tot += Pi[g];
        if (!(tot > 0) || !isfinite(tot)) {
            *bad_i = i;
            *bad_j = SIZE_MAX;
            return HB_ENONFINITE;
        }
        for (size_t g = 0; g < G; g++) Pi[g] /= tot;
    }
    double acc = 0;
    for (size_t i = 0; i < k; i++) {
        J[i * k + i] = b->use[i] ? 0.0 : NAN;
        for (size_t j = 0; j < i; j++) {
            if (!b->use[i] || !b->use[j]) { /* not compared, as in hb_spectra_js_matrix */
                J[i * k + j] = J[j * k + i] = NAN;
                continue;
            }
            double v = hb__js_distance(P + i * G, P + j * G, G);
            if (isnan(v)) {
                *bad_i = j;
                *bad_j = i;
                return HB_ENONFINITE;
            }
            J[i * k + j] = J[j * k + i] = v;
            acc += 2 * v;
        }
    }
    const size_t n_use = b->n_use;
    J[kk] = n_use > 1 ? acc / (double)(n_use * (n_use - 1)) : n_use == 1 ? 0.0 : NAN;
    return HB_OK;
}

static int replicate_failed(hb_context *ctx, size_t bad_i, size_t bad_j) {
    if (bad_j == SIZE_MAX)
        return hb__fail(ctx, HB_ENONFINITE, "density of spectrum %zu vanishes on the grid", bad_i);
    return hb__fail(ctx, HB_ENONFINITE, "JS distance of spectra %zu and %zu is not finite", bad_i,
                    bad_j);
}

/* Replicates 1…R on nt threads, chunk matrices at a time into Jc, folded into sum/sum2
 * (deviations from ref) in replicate order. scratch_pick: nt·maxp, scratch_P: nt·k·G. */
static int run_replicates(hb_context *ctx, const boot *b, size_t replicates, int nt, size_t chunk,
                          size_t maxp, size_t *scratch_pick, double *scratch_P, double *Jc,
                          int *rcs, size_t *bad, const double *ref, double *sum, double *sum2) {
    const size_t kk = b->k * b->k, kG = b->k * b->G;
    for (size_t r0 = 1; r0 <= replicates; r0 += chunk) {
        const size_t nc = replicates - r0 + 1 < chunk ? replicates - r0 + 1 : chunk;
        /* one thread: no parallel region at all (the if clause), the same loop */
#pragma omp parallel num_threads(nt) if (nt > 1)
        {
            const int t = omp_get_thread_num();
#pragma omp for schedule(static)
            for (size_t c = 0; c < nc; c++)
                rcs[c] = replicate(b, r0 + c, scratch_pick + (size_t)t * maxp, scratch_P + (size_t)t * kG,
                                   Jc + c * (kk + 1), &bad[2 * c], &bad[2 * c + 1]);
        }
        for (size_t c = 0; c < nc; c++) { /* in replicate order: the first failure is reported */
            if (rcs[c] != HB_OK) return replicate_failed(ctx, bad[2 * c], bad[2 * c + 1]);
            const double *J = Jc + c * (kk + 1);
            for (size_t e = 0; e <= kk; e++) {
                double dlt = J[e] - ref[e];
                sum[e] += dlt;
                sum2[e] += dlt * dlt;
            }
            HB_TRY(hb__progress(ctx, "js-bootstrap", (int64_t)(r0 + c), (int64_t)replicates));
        }
    }
    return HB_OK;
}

int hb_spectra_js_matrix_stderr(const hb_spectrum *const *spectra, size_t k,
                                const hb_js_options *opt, size_t replicates, uint64_t stream,
                                double *stderr_kxk, double *stderr_mean) {
    return hb__js_matrix_stderr_chunked(spectra, k, opt, replicates, stream, 0, stderr_kxk,
                                        stderr_mean);
}

int hb__js_matrix_stderr_chunked(const hb_spectrum *const *spectra, size_t k,
                                 const hb_js_options *opt, size_t replicates, uint64_t stream,
                                 size_t max_chunk, double *stderr_kxk, double *stderr_mean) {
    if (!spectra || k == 0 || !spectra[0]) return HB_EINVAL;
    hb_context *ctx = spectra[0]->ctx;
    HB_CHECK(ctx, stderr_kxk != NULL || stderr_mean != NULL, HB_EINVAL,
             "both outputs are NULL");
    HB_CHECK(ctx, replicates >= 2 && replicates <= 100000, HB_EINVAL,
             "replicates must be in [2, 100000], got %zu", replicates);
    size_t kk;
    HB_CHECK(ctx, hb__mul_size(k, k, &kk) && hb__mul_size(kk, 3 * sizeof(double), &(size_t){0}),
             HB_EOVERFLOW, "k x k overflows");
    size_t few = (size_t)-1;
    for (size_t i = 0; i < k; i++) {
        HB_CHECK(ctx, spectra[i] != NULL, HB_EINVAL, "spectrum %zu is NULL", i);
        HB_CHECK(ctx, spectra[i]->n_probes > 0, HB_ESTATE, "spectrum %zu has no probes", i);
        HB_CHECK(ctx, spectra[i]->n_probes < MAX_PROBES_FOR_INDEX, HB_EINVAL,
                 "spectrum %zu has %zu probes (at most 2^24 - 1)", i, spectra[i]->n_probes);
        if (spectra[i]->n_probes < 2 && few == (size_t)-1) few = i;
    }
    if (few != (size_t)-1) {
        /* one probe: every resample is the spectrum itself, so a spread of 0 would claim
         * an exact estimate. Say "unknown" instead (NaN) and tell the caller why. */
        if (stderr_kxk)
            for (size_t e = 0; e < kk; e++) stderr_kxk[e] = NAN;
        if (stderr_mean) *stderr_mean = NAN;
        return hb__fail(ctx, HB_ESTATE, "spectrum %zu has 1 probe: probe resampling needs at "
                        "least 2 to estimate the error (results set to NaN)", few);
    }
    /* Every probe's density on the grid of the full estimate, once; a replicate's density
     * of spectrum i is then the sum of its drawn probes' rows, normalised, exactly what
     * hb_spectra_js_matrix computes for a spectrum made of those probes on that grid. */
    double *D = NULL;
    size_t G = 0, n_use = 0;
    int *use = hb__malloc(ctx, k * sizeof *use, "JS compared set");
    if (!use) return HB_ENOMEM;
    int rc0 = hb__js_probe_masses(spectra, k, opt, &D, &G, use, &n_use);
    if (rc0 != HB_OK) {
        hb__free(ctx, use);
        return rc0;
    }
    size_t maxp = 0, off = 0;
    for (size_t i = 0; i < k; i++) maxp = spectra[i]->n_probes > maxp ? spectra[i]->n_probes : maxp;
    /* threads: never more than replicates; chunk: as many replicates as CHUNK_BYTES of
     * matrices hold (all of them for the CLI's 37 blocks x 100), at least one per thread:
     * one parallel region balances best (100 over 16 threads: 7 rounds for 6.25 of work) */
    int nt = hb__threads(ctx);
    if (nt < 1) nt = 1;
    if ((size_t)nt > replicates) nt = (int)replicates;
    size_t per = (kk + 1) * sizeof(double), chunk = CHUNK_BYTES / per;
    if (max_chunk && chunk > max_chunk) chunk = max_chunk; /* tests: many chunks */
    if (nt == 1) chunk = 1; /* nothing to balance: progress and cancel after every replicate */
    if (chunk < (size_t)nt) chunk = (size_t)nt;
    if (chunk > replicates) chunk = replicates;
    size_t kG, picks, scr, mats;
    int fits = hb__mul_size(k, G, &kG) && hb__mul_size(kG, (size_t)nt * sizeof(double), &scr) &&
               hb__mul_size(maxp, (size_t)nt * sizeof(size_t), &picks) &&
               hb__mul_size(chunk, per, &mats);
    HB_CHECK(ctx, fits, HB_EOVERFLOW, "bootstrap scratch overflows");
    size_t *first = hb__malloc(ctx, k * sizeof *first, "bootstrap probe offsets");
    size_t *pick = hb__malloc(ctx, picks, "bootstrap draws");
    double *P = hb__malloc(ctx, scr, "bootstrap densities");
    double *sum = hb__calloc(ctx, kk + 1, sizeof(double), "bootstrap sums");
    double *sum2 = hb__calloc(ctx, kk + 1, sizeof(double), "bootstrap sums of squares");
    double *ref = hb__malloc(ctx, per, "bootstrap reference");
    double *Jc = hb__malloc(ctx, mats, "bootstrap JS matrices");
    int *rcs = hb__malloc(ctx, chunk * sizeof *rcs, "bootstrap replicate codes");
    size_t *bad = hb__malloc(ctx, 2 * chunk * sizeof *bad, "bootstrap replicate failures");
    int rc = (first && pick && P && sum && sum2 && ref && Jc && rcs && bad) ? HB_OK : HB_ENOMEM;
    for (size_t i = 0; i < k && rc == HB_OK; i++) {
        first[i] = off;
        off += spectra[i]->n_probes;
    }
    const boot b = {.spectra = spectra, .k = k, .G = G, .D = D, .first = first, .use = use,
                    .n_use = n_use, .seed = (uint64_t)ctx->seed, .stream = stream};
    /* r = 0 is the full sample itself (every probe once): the reference the spreads are
     * taken around (shifted sums keep the variance free of cancellation), then 1…R */
    if (rc == HB_OK) {
        size_t bi = 0, bj = 0;
        if (replicate(&b, 0, pick, P, ref, &bi, &bj) != HB_OK) rc = replicate_failed(ctx, bi, bj);
    }
    if (rc == HB_OK)
        rc = run_replicates(ctx, &b, replicates, nt, chunk, maxp, pick, P, Jc, rcs, bad, ref, sum, sum2);
    if (rc == HB_OK) {
        const double R = (double)replicates;
        for (size_t e = 0; e <= kk; e++) {
            double var = (sum2[e] - sum[e] * sum[e] / R) / (R - 1);
            double se = isnan(ref[e]) ? NAN : var > 0 ? sqrt(var) : 0.0; /* NaN: not compared */
            if (e < kk && stderr_kxk) stderr_kxk[e] = se;
            if (e == kk && stderr_mean) *stderr_mean = n_use > 1 ? se : n_use == 1 ? 0.0 : NAN;
        }
    }
    hb__free(ctx, D);
    hb__free(ctx, use);
    hb__free(ctx, first);
    hb__free(ctx, pick);
    hb__free(ctx, P);
    hb__free(ctx, sum);
    hb__free(ctx, sum2);
    hb__free(ctx, ref);
    hb__free(ctx, Jc);
    hb__free(ctx, rcs);
    hb__free(ctx, bad);
    return rc;
}
