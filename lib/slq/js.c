/* Jensen–Shannon distances between spectra (conventions: docs/spectral.md).
 *   scale_i = max |θ| of S_i if normalising (1 otherwise, or if that max is 0)
 *   lo, hi  = min, max of θ/scale_i over all spectra compared;  R = hi − lo
 *   σ = sigma_rel·R  (sigma_rel·max(|lo|,|hi|) if R = 0; sigma_rel if that is 0 too)
 *   grid: G points, linear, from lo − 5σ to hi + 5σ
 *   (HB_JS_GRID_SYMLOG: nodes, lo and hi mapped to u = asinh(x/c) first, c = floor_rel·max|x|)
 *   P_i[g] = density_i(x_g) / Σ_g density_i(x_g)
 *   JS(P,Q) = ½ Σ P log2(P/M) + ½ Σ Q log2(Q/M), M = (P+Q)/2;  distance = √JS ∈ [0,1]
 *   (each term evaluated as ½·P·log2(2P/(P+Q)), 0 where P = 0: no 0·∞ when M underflows)
 *   normalising: numerically-zero spectra (max|θ_i| ≤ tol·max_j max|θ_j|) are left out of
 *   the grid, the matrix (NaN rows/columns) and the mean, unless keep_zero */
#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <string.h>

#include "slq/slq_internal.h"

/* Sizes of hb_js_options before the grid fields (V1) and the zero-spectrum fields (V2)
 * were appended (older callers; the fields they lack take their defaults). */
#define JS_OPTIONS_SIZE_V1 offsetof(hb_js_options, grid)
#define JS_OPTIONS_SIZE_V2 offsetof(hb_js_options, zero_rel_tol)

/* Automatic zero tolerance, in units of the spectra's unit roundoff u (docs/spectral.md,
 * "Numerically-zero spectra"): one u of the largest |θ|, the backward error of a product
 * rounded at u. Not more: growth factors would also flag real curvature (the tiny f32 gpt's
 * Q bias sits at 2e-7 of the top, 3u, and agrees with f64 to 4 digits). */
#define ZERO_TOL_ULPS 1.0

/* Copies the caller's options into *d (defaults for fields the caller's struct lacks). */
static int check_opts(hb_context *ctx, const hb_js_options *o, hb_js_options *d) {
    *d = (hb_js_options)HB_JS_OPTIONS_INIT;
    if (!o) return HB_OK;
    HB_CHECK(ctx, o->struct_size == sizeof(hb_js_options) || o->struct_size == JS_OPTIONS_SIZE_V2 ||
                      o->struct_size == JS_OPTIONS_SIZE_V1,
             HB_EINVAL, "hb_js_options.struct_size is %zu, expected %zu (or %zu, %zu)",
             o->struct_size, sizeof(hb_js_options), (size_t)JS_OPTIONS_SIZE_V2,
             (size_t)JS_OPTIONS_SIZE_V1);
    memcpy(d, o, o->struct_size);
    d->struct_size = sizeof(hb_js_options);
    o = d;
    HB_CHECK(ctx, o->normalize == 0 || o->normalize == 1, HB_EINVAL, "normalize must be 0 or 1");
    HB_CHECK(ctx, o->grid_points >= 16 && o->grid_points <= (1u << 24), HB_EINVAL,
             "grid_points must be in [16, 2^24], got %zu", o->grid_points);
    HB_CHECK(ctx, isfinite(o->sigma_rel) && o->sigma_rel > 0, HB_EINVAL,
             "sigma_rel must be finite and > 0");
    HB_CHECK(ctx, o->grid == HB_JS_GRID_LINEAR || o->grid == HB_JS_GRID_SYMLOG, HB_EINVAL,
             "grid must be HB_JS_GRID_LINEAR or HB_JS_GRID_SYMLOG, got %d", o->grid);
    HB_CHECK(ctx, o->grid != HB_JS_GRID_SYMLOG || (o->symlog_floor_rel > 0 && o->symlog_floor_rel < 1),
             HB_EINVAL, "symlog_floor_rel must be in (0, 1)");
    HB_CHECK(ctx, !isnan(o->zero_rel_tol) && o->zero_rel_tol < 1, HB_EINVAL,
             "zero_rel_tol must be < 0 (automatic) or in [0, 1), got %g", o->zero_rel_tol);
    HB_CHECK(ctx, o->keep_zero == 0 || o->keep_zero == 1, HB_EINVAL, "keep_zero must be 0 or 1");
    return HB_OK;
}

/* Smoothed density at u of spectrum sp whose nodes are already mapped (tn: its nodes,
 * probe after probe, as u = asinh(θ/(scale·c))). Same arithmetic as
 * hb__spectrum_density_at, on the mapped nodes. */
static double mapped_density_at(const hb_spectrum *sp, const double *tn, double u, double sigma) {
    const double c = 1.0 / (sigma * 2.5066282746310002);
    double acc = 0;
    for (size_t p = 0; p < sp->n_probes; p++) {
        const hb__probe *q = &sp->probes[p];
        double s = 0;
        for (size_t j = 0; j < q->count; j++) {
            double z = (u - tn[j]) / sigma;
            if (fabs(z) < 40) s += q->weights[j] * exp(-0.5 * z * z);
        }
        acc += s;
        tn += q->count;
    }
    return acc * c / (double)sp->n_probes;
}

/* max |θ| over all probes (nodes are ascending: only the ends matter). */
static double max_abs_node(const hb_spectrum *sp) {
    double s = 0;
    for (size_t p = 0; p < sp->n_probes; p++)
        s = fmax(s, fmax(fabs(sp->probes[p].nodes[0]),
                         fabs(sp->probes[p].nodes[sp->probes[p].count - 1])));
    return s;
}

static double scale_of(const hb_spectrum *sp, int normalize) {
    if (!normalize) return 1.0;
    double s = max_abs_node(sp);
    return s > 0 ? s : 1.0;
}

/* The numerically-zero test: zero[i] = 1 when max|θ_i| ≤ tol·max_j max|θ_j| (always when
 * max|θ_i| = 0), tol = o->zero_rel_tol, or max_i u_i when that is < 0. An eigenvalue
 * below about u·‖H‖ is not resolved by products rounded at u (the backward error of H·v is
 * of that size), so a block whose largest |θ| lies there has no curvature we can measure. */
static void zero_test(const hb_spectrum *const *spectra, size_t k, const hb_js_options *o,
                      int *zero, size_t *n_zero, double *tol_used) {
    double top = 0, u = 0;
    for (size_t i = 0; i < k; i++) {
        top = fmax(top, max_abs_node(spectra[i]));
        u = fmax(u, spectra[i]->unit_roundoff);
    }
    double tol = o->zero_rel_tol >= 0 ? o->zero_rel_tol : ZERO_TOL_ULPS * u;
    size_t nz = 0;
    for (size_t i = 0; i < k; i++) {
        double mi = max_abs_node(spectra[i]);
        zero[i] = mi == 0 || mi <= tol * top;
        nz += (size_t)zero[i];
    }
    if (n_zero) *n_zero = nz;
    if (tol_used) *tol_used = tol;
}

/* The checks every entry point shares: k ≥ 1 non-NULL spectra, each with probes. */
static int check_spectra(const hb_spectrum *const *spectra, size_t k) {
    if (!spectra || !spectra[0]) return HB_EINVAL;
    hb_context *ctx = spectra[0]->ctx;
    /* k = 0 with a spectrum at hand: its context gets the message (issue 12.10). */
    HB_CHECK(ctx, k > 0, HB_EINVAL, "no spectra (k = 0)");
    for (size_t i = 0; i < k; i++) {
        HB_CHECK(ctx, spectra[i] != NULL, HB_EINVAL, "spectrum %zu is NULL", i);
        HB_CHECK(ctx, spectra[i]->n_probes > 0, HB_ESTATE, "spectrum %zu has no probes", i);
    }
    return HB_OK;
}

int hb_spectra_zero_flags(const hb_spectrum *const *spectra, size_t k, const hb_js_options *opt,
                          int *is_zero, size_t *n_zero, double *tol_used) {
    HB_TRY(check_spectra(spectra, k));
    hb_context *ctx = spectra[0]->ctx;
    hb_js_options d;
    HB_TRY(check_opts(ctx, opt, &d));
    int *z = is_zero ? is_zero : hb__calloc(ctx, k, sizeof(int), "zero flags");
    if (!z) return HB_ENOMEM;
    zero_test(spectra, k, &d, z, n_zero, tol_used);
    if (!is_zero) hb__free(ctx, z);
    return HB_OK;
}

/* One half-term ½·P·log2(P/M) with M = (P+Q)/2, written as ½·P·log2(2P/(P+Q)): P + Q
 * cannot underflow to 0 when P > 0 (the old ½(P+Q) did for subnormal P, making the term
 * 0·∞ = NaN). P = 0 contributes 0 (the limit). */
static double js_half_term(double P, double Q) {
    return P > 0 ? 0.5 * P * log2(2.0 * P / (P + Q)) : 0.0;
}

/* √JS of two normalised densities on the same grid; NaN if any term is not finite
 * (the caller reports HB_ENONFINITE: a clamp must never turn a NaN into a distance). */
double hb__js_distance(const double *P, const double *Q, size_t G) {
    double js = 0;
    for (size_t g = 0; g < G; g++) js += js_half_term(P[g], Q[g]) + js_half_term(Q[g], P[g]);
    if (!isfinite(js)) return NAN;
    /* rounding can leave a finite js a few ulps outside [0,1]; only that is clamped */
    js = js < 0 ? 0.0 : js > 1 ? 1.0 : js;
    return sqrt(js);
}

/* Which spectra are compared (use[i] = 1): all, except numerically-zero ones when
 * normalising (scaling rounding noise to unit size would make it look like a spectrum).
 * Returns how many are compared. */
static size_t compared_set(const hb_spectrum *const *spectra, size_t k, const hb_js_options *o,
                           int *use) {
    if (o->normalize && !o->keep_zero) {
        size_t nz;
        zero_test(spectra, k, o, use, &nz, NULL); /* use[] holds the zero flags here */
        for (size_t i = 0; i < k; i++) use[i] = !use[i];
        return k - nz;
    }
    for (size_t i = 0; i < k; i++) use[i] = 1;
    return k;
}

/* Fills every entry of rows and columns i with use[i] = 0 with NaN: "not compared". */
static void mark_left_out(double *out, size_t k, const int *use) {
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++)
            if (!use[i] || !use[j]) out[i * k + j] = NAN;
}

/* The grid every JS of these k spectra is computed on (docs/spectral.md, steps 1–2):
 * scale[i] (normalisation), the symlog constant cfl (1 on the linear grid), σ, and the grid
 * x_g = a + step·g (in u = asinh(x/cfl) on the symlog grid). use (NULL = all): which
 * spectra are compared; the others get a scale but do not widen the grid. */
static void grid_setup(const hb_spectrum *const *spectra, size_t k, const hb_js_options *o,
                       const int *use, double *scale, double *cfl_out, double *sigma_out,
                       double *a_out, double *step_out) {
    const int symlog = o->grid == HB_JS_GRID_SYMLOG;
    const size_t G = o->grid_points;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < k; i++) {
        const hb_spectrum *sp = spectra[i];
        scale[i] = scale_of(sp, o->normalize);
        if (use && !use[i]) continue; /* a left-out spectrum does not widen the pooled grid */
        for (size_t p = 0; p < sp->n_probes; p++) {
            lo = fmin(lo, sp->probes[p].nodes[0] / scale[i]);
            hi = fmax(hi, sp->probes[p].nodes[sp->probes[p].count - 1] / scale[i]);
        }
    }
    /* symmetric log: u = asinh(x/c) is increasing, so lo and hi map to the extremes of u */
    double cfl = 1.0;
    if (symlog) {
        double mx = fmax(fabs(lo), fabs(hi));
        cfl = mx > 0 ? o->symlog_floor_rel * mx : 1.0;
        lo = asinh(lo / cfl);
        hi = asinh(hi / cfl);
    }
    double R = hi - lo;
    if (!(R > 0)) R = fmax(fabs(lo), fabs(hi));
    double sigma = o->sigma_rel * (R > 0 ? R : 1.0);
    double a = lo - 5 * sigma, step = (hi - lo + 10 * sigma) / (double)(G - 1);
    *cfl_out = cfl;
    *sigma_out = sigma;
    *a_out = a;
    *step_out = step;
}

int hb_spectra_js_matrix(const hb_spectrum *const *spectra, size_t k, const hb_js_options *opt,
                         double *out, double *mean_offdiag) {
    HB_TRY(check_spectra(spectra, k));
    hb_context *ctx = spectra[0]->ctx;
    HB_CHECK(ctx, out != NULL, HB_EINVAL, "output matrix is NULL");
    hb_js_options d;
    HB_TRY(check_opts(ctx, opt, &d));
    const hb_js_options *o = &d;
    const int symlog = o->grid == HB_JS_GRID_SYMLOG;
    size_t G = o->grid_points, kG;
    HB_CHECK(ctx, hb__mul_size(k, G, &kG) && hb__mul_size(kG, sizeof(double), &(size_t){0}),
             HB_EOVERFLOW, "k x grid overflows");
    size_t maxnodes = 1;
    if (symlog)
        for (size_t i = 0; i < k; i++) {
            size_t c = 0;
            for (size_t p = 0; p < spectra[i]->n_probes; p++) c += spectra[i]->probes[p].count;
            maxnodes = c > maxnodes ? c : maxnodes;
        }
    double *scale = hb__malloc(ctx, k * sizeof(double), "JS scales");
    int *use = hb__calloc(ctx, k, sizeof(int), "JS compared flags");
    double *P = hb__malloc(ctx, kG * sizeof(double), "JS densities");
    double *tn = symlog ? hb__malloc(ctx, maxnodes * sizeof(double), "JS mapped nodes") : NULL;
    if (!scale || !use || !P || (symlog && !tn)) {
        hb__free(ctx, scale);
        hb__free(ctx, use);
        hb__free(ctx, P);
        hb__free(ctx, tn);
        return HB_ENOMEM;
    }
    size_t n_use = compared_set(spectra, k, o, use);
    int rc = HB_OK;
    if (n_use == 0) { /* nothing to compare: every entry is "not compared" */
        mark_left_out(out, k, use);
        if (mean_offdiag) *mean_offdiag = NAN;
        goto done;
    }
    double cfl, sigma, a, step;
    grid_setup(spectra, k, o, use, scale, &cfl, &sigma, &a, &step);
    for (size_t i = 0; i < k && rc == HB_OK; i++) {
        if (!use[i]) continue;
        double *Pi = P + i * G, sum = 0;
        const hb_spectrum *sp = spectra[i];
        if (symlog) {
            size_t t = 0;
            for (size_t p = 0; p < sp->n_probes; p++)
                for (size_t j = 0; j < sp->probes[p].count; j++)
                    tn[t++] = asinh(sp->probes[p].nodes[j] / scale[i] / cfl);
        }
        for (size_t g = 0; g < G; g++) {
            double x = a + step * (double)g;
            Pi[g] = symlog ? mapped_density_at(sp, tn, x, sigma)
                           : hb__spectrum_density_at(sp, x, sigma, scale[i]);
            sum += Pi[g];
        }
        if (!(sum > 0) || !isfinite(sum)) /* cannot happen: every node lies ≥ 5σ inside the grid */
            rc = hb__fail(ctx, HB_ENONFINITE, "density of spectrum %zu vanishes on the grid", i);
        for (size_t g = 0; g < G; g++) Pi[g] /= sum;
    }
    if (rc == HB_OK) {
        double acc = 0;
        for (size_t i = 0; i < k && rc == HB_OK; i++) {
            if (!use[i]) continue;
            out[i * k + i] = 0.0;
            for (size_t j = 0; j < i; j++) {
                if (!use[j]) continue;
                double v = hb__js_distance(P + i * G, P + j * G, G);
                if (isnan(v)) {
                    rc = hb__fail(ctx, HB_ENONFINITE, "JS distance of spectra %zu and %zu is "
                                  "not finite", j, i);
                    break;
                }
                out[i * k + j] = out[j * k + i] = v;
                acc += 2 * v;
            }
        }
        if (rc == HB_OK) mark_left_out(out, k, use);
        if (mean_offdiag && rc == HB_OK)
            *mean_offdiag = n_use > 1 ? acc / (double)(n_use * (n_use - 1)) : 0.0;
    }
done:
    hb__free(ctx, scale);
    hb__free(ctx, use);
    hb__free(ctx, P);
    hb__free(ctx, tn);
    return rc;
}

int hb__js_probe_masses(const hb_spectrum *const *spectra, size_t k, const hb_js_options *opt,
                        double **D_out, size_t *G_out, int *use, size_t *n_use) {
    *D_out = NULL;
    hb_context *ctx = spectra[0]->ctx;
    hb_js_options d;
    HB_TRY(check_opts(ctx, opt, &d));
    const size_t G = d.grid_points;
    size_t np = 0, maxnodes = 1, bytes;
    for (size_t i = 0; i < k; i++) {
        np += spectra[i]->n_probes;
        for (size_t p = 0; p < spectra[i]->n_probes; p++)
            maxnodes = spectra[i]->probes[p].count > maxnodes ? spectra[i]->probes[p].count : maxnodes;
    }
    HB_CHECK(ctx, hb__mul_size(np, G, &bytes) && hb__mul_size(bytes, sizeof(double), &bytes),
             HB_EOVERFLOW, "probes x grid overflows");
    /* spectra on the context's threads (issue 19): every row is computed by the same code
     * whichever thread does it, so D is the same bits for any thread count */
    int nt = hb__threads(ctx);
    if (nt < 1) nt = 1;
    if ((size_t)nt > k) nt = (int)k;
    double *scale = hb__malloc(ctx, k * sizeof(double), "JS scales");
    size_t *first = hb__malloc(ctx, k * sizeof(size_t), "JS probe rows");
    double *tn = hb__malloc(ctx, (size_t)nt * maxnodes * sizeof(double), "JS mapped nodes");
    double *D = hb__malloc(ctx, bytes, "JS probe masses");
    if (!scale || !first || !tn || !D) {
        hb__free(ctx, scale);
        hb__free(ctx, first);
        hb__free(ctx, tn);
        hb__free(ctx, D);
        return HB_ENOMEM;
    }
    double cfl, sigma, a, step;
    *n_use = compared_set(spectra, k, &d, use);
    /* with nothing compared the grid is that of all spectra (the caller reports NaN) */
    grid_setup(spectra, k, &d, *n_use ? use : NULL, scale, &cfl, &sigma, &a, &step);
    const int symlog = d.grid == HB_JS_GRID_SYMLOG;
    for (size_t i = 0, r = 0; i < k; r += spectra[i]->n_probes, i++) first[i] = r;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        double *tn_t = tn + (size_t)omp_get_thread_num() * maxnodes;
#pragma omp for schedule(static)
        for (size_t i = 0; i < k; i++) {
            double *row = D + first[i] * G;
            for (size_t p = 0; p < spectra[i]->n_probes; p++, row += G) {
                /* a one-probe view: the density code is the very one hb_spectra_js_matrix uses */
                hb_spectrum one = *spectra[i];
                one.probes = &spectra[i]->probes[p];
                one.n_probes = 1;
                if (symlog)
                    for (size_t j = 0; j < one.probes->count; j++)
                        tn_t[j] = asinh(one.probes->nodes[j] / scale[i] / cfl);
                for (size_t g = 0; g < G; g++) {
                    double x = a + step * (double)g;
                    row[g] = symlog ? mapped_density_at(&one, tn_t, x, sigma)
                                    : hb__spectrum_density_at(&one, x, sigma, scale[i]);
                }
            }
        }
    }
    hb__free(ctx, scale);
    hb__free(ctx, first);
    hb__free(ctx, tn);
    *D_out = D;
    *G_out = G;
    return HB_OK;
}

int hb_spectrum_js_distance(const hb_spectrum *a, const hb_spectrum *b, const hb_js_options *opt,
                            double *distance) {
    if (!a || !b) return HB_EINVAL;
    HB_CHECK(a->ctx, distance != NULL, HB_EINVAL, "distance is NULL");
    const hb_spectrum *pair[2] = {a, b};
    double M[4];
    HB_TRY(hb_spectra_js_matrix(pair, 2, opt, M, NULL));
    *distance = M[1];
    return HB_OK;
}

int hb_slq_block_heterogeneity(hb_slq *s, hb_model *m, const hb_js_options *opt,
                               hb_spectrum **spectra, double *js, double *mean_offdiag) {
    if (!s) return HB_EINVAL;
    hb_context *ctx = s->ctx;
    HB_CHECK(ctx, m != NULL, HB_EINVAL, "model is NULL");
    size_t B = m->params->n_blocks;
    /* spectra[] is NULL on every failure (slq.h), the rejected-options one included, so
     * clear it before anything can fail (issue 12.10). */
    if (spectra) memset(spectra, 0, B * sizeof *spectra);
    hb_js_options d;
    HB_TRY(check_opts(ctx, opt, &d));
    HB_CHECK(ctx, B > 0, HB_EINVAL, "model has no blocks");
    hb_spectrum **sp = spectra ? spectra : hb__calloc(ctx, B, sizeof *sp, "block spectra");
    if (!sp) return HB_ENOMEM;
    double *J = js ? js : hb__malloc(ctx, B * B * sizeof(double), "JS matrix");
    int rc = J ? HB_OK : HB_ENOMEM;
    if (rc == HB_OK) rc = hb_slq_run_model_blocks(s, m, NULL, NULL, B, sp, NULL, NULL);
    if (rc == HB_OK) rc = hb_spectra_js_matrix((const hb_spectrum *const *)sp, B, opt, J, mean_offdiag);
    if (rc != HB_OK || !spectra)
        for (size_t b = 0; b < B; b++) {
            hb_spectrum_free(sp[b]);
            sp[b] = NULL;
        }
    if (!spectra) hb__free(ctx, sp);
    if (!js) hb__free(ctx, J);
    return rc;
}
