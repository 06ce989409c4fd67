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
 * stream, r, i, j) only, never of scheduling. */
#include <math.h>
#include <string.h>

#include "slq/slq_internal.h"

#define MAX_PROBES_FOR_INDEX (1u << 24)

int hb_spectra_js_matrix_stderr(const hb_spectrum *const *spectra, size_t k,
                                const hb_js_options *opt, size_t replicates, uint64_t stream,
                                double *stderr_kxk, double *stderr_mean) {
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
    size_t *first = hb__malloc(ctx, k * sizeof *first, "bootstrap probe offsets");
    size_t *pick = hb__malloc(ctx, maxp * sizeof *pick, "bootstrap draws");
    double *P = hb__malloc(ctx, k * G * sizeof(double), "bootstrap densities");
    double *sum = hb__calloc(ctx, kk + 1, sizeof(double), "bootstrap sums");
    double *sum2 = hb__calloc(ctx, kk + 1, sizeof(double), "bootstrap sums of squares");
    double *ref = hb__malloc(ctx, (kk + 1) * sizeof(double), "bootstrap reference");
    double *J = hb__malloc(ctx, (kk + 1) * sizeof(double), "bootstrap JS matrix");
    int rc = (first && pick && P && sum && sum2 && ref && J) ? HB_OK : HB_ENOMEM;
    for (size_t i = 0; i < k && rc == HB_OK; i++) {
        first[i] = off;
        off += spectra[i]->n_probes;
    }
    const uint64_t seed = (uint64_t)ctx->seed;
    /* r = 0 is the full sample itself (every probe once): the reference the spreads are
     * taken around (shifted sums keep the variance free of cancellation), then 1…R */
    for (size_t r = 0; r <= replicates && rc == HB_OK; r++) {
        for (size_t i = 0; i < k; i++) {
            if (!use[i]) continue; /* left out of the comparison (numerically zero) */
            const size_t n = spectra[i]->n_probes;
            const uint64_t base = ((uint64_t)((r - 1) * k + i)) << 24;
            for (size_t j = 0; j < n; j++) {
                size_t q = j;
                if (r > 0) {
                    q = (size_t)(hb__uniform01(seed, stream, base + j) * (double)n);
                    if (q >= n) q = n - 1; /* u < 1, but keep the index safe regardless */
                }
                pick[j] = q;
            }
            double *Pi = P + i * G, tot = 0;
            memset(Pi, 0, G * sizeof(double));
            for (size_t j = 0; j < n; j++) {
                const double *row = D + (first[i] + pick[j]) * G;
                for (size_t g = 0; g < G; g++) Pi[g] += row[g];
            }
            for (size_t g = 0; g < G; g++) tot += Pi[g];
            if (!(tot > 0) || !isfinite(tot)) {
                rc = hb__fail(ctx, HB_ENONFINITE, "density of spectrum %zu vanishes on the grid", i);
                break;
            }
            for (size_t g = 0; g < G; g++) Pi[g] /= tot;
        }
        double acc = 0;
        for (size_t i = 0; i < k && rc == HB_OK; i++) {
            J[i * k + i] = use[i] ? 0.0 : NAN;
            for (size_t j = 0; j < i; j++) {
                if (!use[i] || !use[j]) { /* not compared, as in hb_spectra_js_matrix */
                    J[i * k + j] = J[j * k + i] = NAN;
                    continue;
                }
                double v = hb__js_distance(P + i * G, P + j * G, G);
                if (isnan(v)) {
                    rc = hb__fail(ctx, HB_ENONFINITE, "JS distance of spectra %zu and %zu is not "
                                  "finite", j, i);
                    break;
                }
                J[i * k + j] = J[j * k + i] = v;
                acc += 2 * v;
            }
        }
        if (rc != HB_OK) break;
        J[kk] = n_use > 1 ? acc / (double)(n_use * (n_use - 1)) : n_use == 1 ? 0.0 : NAN;
        if (r == 0) {
            memcpy(ref, J, (kk + 1) * sizeof(double));
            continue;
        }
        for (size_t e = 0; e <= kk; e++) {
            double dlt = J[e] - ref[e];
            sum[e] += dlt;
            sum2[e] += dlt * dlt;
        }
        if ((rc = hb__progress(ctx, "js-bootstrap", (int64_t)r, (int64_t)replicates)) != HB_OK)
            break;
    }
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
    hb__free(ctx, J);
    return rc;
}
