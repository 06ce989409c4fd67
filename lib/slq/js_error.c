/* Standard errors of JS distances by bootstrap over probes (docs/spectral.md,
 * "Estimation error of JS values").
 *
 * An SLQ spectrum is a mean of n_v independent probe quadratures. One bootstrap replicate
 * draws, for every spectrum i separately, n_v(i) of its probes with replacement and
 * recomputes the whole JS matrix (grid, smoothing and scales included: they depend on the
 * nodes, so they are part of the estimator) with hb_spectra_js_matrix. The standard error
 * of an entry is the sample standard deviation (n − 1) of that entry over R replicates:
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
    /* resampled spectra are shallow: their probe tables point at the originals' nodes */
    size_t nprobes = 0;
    for (size_t i = 0; i < k; i++) nprobes += spectra[i]->n_probes;
    hb_spectrum *rs = hb__calloc(ctx, k, sizeof *rs, "bootstrap spectra");
    const hb_spectrum **rp = hb__calloc(ctx, k, sizeof *rp, "bootstrap spectrum list");
    hb__probe *pt = hb__calloc(ctx, nprobes, sizeof *pt, "bootstrap probe tables");
    double *J = hb__malloc(ctx, kk * sizeof(double), "bootstrap JS matrix");
    double *sum = hb__calloc(ctx, kk + 1, sizeof(double), "bootstrap sums");
    double *sum2 = hb__calloc(ctx, kk + 1, sizeof(double), "bootstrap sums of squares");
    double *ref = hb__malloc(ctx, (kk + 1) * sizeof(double), "bootstrap reference");
    int rc = (rs && rp && pt && J && sum && sum2 && ref) ? HB_OK : HB_ENOMEM;
    if (rc == HB_OK) {
        hb__probe *q = pt;
        for (size_t i = 0; i < k; i++) {
            rs[i] = *spectra[i];
            rs[i].probes = q;
            rs[i].cap_probes = spectra[i]->n_probes;
            rp[i] = &rs[i];
            q += spectra[i]->n_probes;
        }
        /* Shifted sums (Welford would do too): accumulating J − J_full keeps the variance
         * formula free of cancellation when the spread is tiny next to J itself. */
        double mean_full = 0;
        rc = hb_spectra_js_matrix(spectra, k, opt, ref, &mean_full);
        ref[kk] = mean_full;
    }
    const uint64_t seed = (uint64_t)ctx->seed;
    for (size_t r = 0; r < replicates && rc == HB_OK; r++) {
        for (size_t i = 0; i < k; i++) {
            const size_t n = spectra[i]->n_probes;
            const uint64_t base = ((uint64_t)(r * k + i)) << 24;
            for (size_t j = 0; j < n; j++) {
                size_t pick = (size_t)(hb__uniform01(seed, stream, base + j) * (double)n);
                if (pick >= n) pick = n - 1; /* u < 1, but keep the index safe regardless */
                rs[i].probes[j] = spectra[i]->probes[pick];
            }
        }
        double mean = 0;
        rc = hb_spectra_js_matrix(rp, k, opt, J, &mean);
        if (rc != HB_OK) break;
        for (size_t e = 0; e < kk; e++) {
            double d = J[e] - ref[e];
            sum[e] += d;
            sum2[e] += d * d;
        }
        double d = mean - ref[kk];
        sum[kk] += d;
        sum2[kk] += d * d;
        if ((rc = hb__progress(ctx, "js-bootstrap", (int64_t)r + 1, (int64_t)replicates)) != HB_OK)
            break;
    }
    if (rc == HB_OK) {
        const double R = (double)replicates;
        for (size_t e = 0; e <= kk; e++) {
            double var = (sum2[e] - sum[e] * sum[e] / R) / (R - 1);
            double se = var > 0 ? sqrt(var) : 0.0;
            if (e < kk && stderr_kxk) stderr_kxk[e] = se;
            if (e == kk && stderr_mean) *stderr_mean = k > 1 ? se : 0.0;
        }
    }
    hb__free(ctx, rs);
    hb__free(ctx, rp);
    hb__free(ctx, pt);
    hb__free(ctx, J);
    hb__free(ctx, sum);
    hb__free(ctx, sum2);
    hb__free(ctx, ref);
    return rc;
}
