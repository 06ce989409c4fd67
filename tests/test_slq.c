/* SLQ, spectra, traces and top-k on dense symmetric matrices with known spectra:
 * diagonal ones (spectrum exact by construction) and random orthogonal conjugations
 * Q·diag(λ)·Qᵀ / Wishart matrices whose reference spectrum comes from LAPACKE_dsyevd. */
#include <float.h>
#include <lapacke.h>
#include <stddef.h>
#include <locale.h>
#include <string.h>
#include <unistd.h>

#include "hb_test.h"
#include "kernels/kernels.h"
#include "slq/slq_internal.h"

/* ---- Helpers ------------------------------------------------------------------------- */
static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double *diag_matrix(size_t n, const double *lam) {
    double *A = calloc(n * n, sizeof *A);
    for (size_t i = 0; i < n; i++) A[i * n + i] = lam[i];
    return A;
}

static void symmetrize(double *A, size_t n) {
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++) A[i * n + j] = A[j * n + i] = 0.5 * (A[i * n + j] + A[j * n + i]);
}

/* Q·diag(lam)·Qᵀ with Q the orthogonal factor of a Gaussian matrix (stream `stream`). */
static double *conj_matrix(hb_context *ctx, size_t n, const double *lam, uint64_t stream) {
    double *Q = malloc(n * n * sizeof *Q), *B = malloc(n * n * sizeof *B), *A = malloc(n * n * sizeof *A);
    double *tau = malloc(n * sizeof *tau);
    ck_assert_int_eq(hb_random_fill_f64(ctx, stream, 0, HB_DIST_NORMAL, 0, 1, Q, n * n), HB_OK);
    ck_assert_int_eq(LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (lapack_int)n, (lapack_int)n, Q, (lapack_int)n, tau), 0);
    ck_assert_int_eq(LAPACKE_dorgqr(LAPACK_ROW_MAJOR, (lapack_int)n, (lapack_int)n, (lapack_int)n, Q,
                                    (lapack_int)n, tau), 0);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) B[i * n + j] = Q[i * n + j] * lam[j];
    ck_assert_int_eq(hb__gemm(ctx, HB_F64, false, true, (int64_t)n, (int64_t)n, (int64_t)n, 1.0, B,
                              (int64_t)n, Q, (int64_t)n, 0.0, A, (int64_t)n), HB_OK);
    symmetrize(A, n);
    free(Q);
    free(B);
    free(tau);
    return A;
}

/* Reference eigenvalues (ascending) of a dense symmetric matrix by LAPACKE_dsyevd. */
static double *ref_eigs(const double *A, size_t n) {
    double *C = malloc(n * n * sizeof *C), *w = malloc(n * sizeof *w);
    memcpy(C, A, n * n * sizeof *C);
    ck_assert_int_eq(LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', (lapack_int)n, C, (lapack_int)n, w), 0);
    free(C);
    return w;
}

/* Wasserstein-1 between the SLQ measure (1/n_v)Σ_p Σ_j τ_pj δ(θ_pj) and (1/n)Σ δ(λ_i):
 * ∫|F_slq − F_true| dx by a sweep over all atoms sorted together. */
typedef struct { double x, m; } atom;
static int cmp_atom(const void *a, const void *b) { return cmp_d(a, b); }
static double wasserstein1(const hb_spectrum *sp, const double *lam, size_t n) {
    size_t k = hb_spectrum_num_probes(sp), total = n;
    for (size_t p = 0; p < k; p++) {
        size_t c;
        hb_spectrum_probe(sp, p, NULL, NULL, &c, NULL);
        total += c;
    }
    atom *at = malloc(total * sizeof *at);
    size_t t = 0;
    for (size_t i = 0; i < n; i++) at[t++] = (atom){lam[i], -1.0 / (double)n};
    for (size_t p = 0; p < k; p++) {
        const double *nd, *wt;
        size_t c;
        hb_spectrum_probe(sp, p, &nd, &wt, &c, NULL);
        for (size_t j = 0; j < c; j++) at[t++] = (atom){nd[j], wt[j] / (double)k};
    }
    qsort(at, total, sizeof *at, cmp_atom);
    double F = 0, w = 0;
    for (size_t i = 0; i + 1 < total; i++) {
        F += at[i].m;
        w += fabs(F) * (at[i + 1].x - at[i].x);
    }
    free(at);
    return w;
}

static hb_slq *make_slq(hb_context *ctx, int64_t probes, int64_t steps) {
    hb_slq *s = NULL;
    ck_assert_int_eq(hb_slq_create(ctx, &s), HB_OK);
    ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_PROBES, probes), HB_OK);
    ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_STEPS, steps), HB_OK);
    return s;
}

/* Known spectra, ascending. */
enum { SP_UNIFORM, SP_CLUSTERED, SP_SPIKED, SP_INDEFINITE };
static void make_spectrum(int kind, size_t n, double *lam) {
    for (size_t i = 0; i < n; i++) {
        double u = (double)i / (double)(n - 1);
        switch (kind) {
        case SP_UNIFORM: lam[i] = u; break;
        case SP_CLUSTERED: /* 30% at −1, 50% at 0.5, 20% at 2, each of width 1e-3 */
            lam[i] = u < 0.3 ? -1 + 1e-3 * u : u < 0.8 ? 0.5 + 1e-3 * u : 2 + 1e-3 * u;
            break;
        case SP_SPIKED: lam[i] = u; break; /* spikes set below */
        case SP_INDEFINITE: lam[i] = -1 + 3 * u * u; break; /* [−1, 2], denser near −1 */
        }
    }
    if (kind == SP_SPIKED) { /* well separated extremes: −2 and 4, 6, 10 */
        lam[0] = -2;
        lam[n - 3] = 4;
        lam[n - 2] = 6;
        lam[n - 1] = 10;
    }
}

/* ---- SLQ vs known spectra ------------------------------------------------------------------ */

/* W1 ≤ 1% of the spectral range with n_v = 10, m = 80 (the brief's target: Gauss quadrature
 * with 80 nodes resolves the CDF to O(range/m) and the probe noise is O(1/√(n·n_v))). */
static void check_w1_op(hb_context *ctx, hb_linop *op, const double *lam, size_t n,
                        const char *what, int64_t basis) {
    hb_slq *s = make_slq(ctx, 10, 80);
    ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_BASIS_DTYPE, basis), HB_OK);
    hb_spectrum *sp = NULL;
    ck_assert_int_eq(hb_slq_run(s, op, &sp), HB_OK);
    double range = lam[n - 1] - lam[0], w1 = wasserstein1(sp, lam, n);
    ck_assert_msg(w1 <= 0.01 * range, "%s: W1 = %g > 1%% of range %g", what, w1, range);
    double lo, hi; /* Ritz values lie inside the true range (Cauchy interlacing), up to rounding */
    ck_assert_int_eq(hb_spectrum_extremes(sp, &lo, &hi), HB_OK);
    ck_assert_msg(lo >= lam[0] - 1e-12 * range && hi <= lam[n - 1] + 1e-12 * range,
                  "%s: Ritz range [%g, %g] outside [%g, %g]", what, lo, hi, lam[0], lam[n - 1]);
    hb_spectrum_free(sp);
    hb_slq_free(s);
}

static void check_w1(hb_context *ctx, const double *A, const double *lam, size_t n, const char *what,
                     int64_t basis) {
    hb_linop *op = NULL;
    ck_assert_int_eq(hb_linop_create_dense(ctx, A, n, 0, &op), HB_OK);
    check_w1_op(ctx, op, lam, n, what, basis);
    hb_linop_free(op);
}

/* diag(lam) as a callback operator (O(n) per product; the dense path is tested below) */
static int diag_op(void *user, const double *x, double *y, size_t n) {
    const double *lam = user;
    for (size_t i = 0; i < n; i++) y[i] = lam[i] * x[i];
    return 0;
}

START_TEST(test_w1_diagonal) {
    hb_context *ctx = hb_test_context(1, 1);
    const size_t n = 2000;
    double *lam = malloc(n * sizeof *lam);
    const char *names[] = {"uniform", "clustered", "spiked", "indefinite"};
    for (int kind = SP_UNIFORM; kind <= SP_INDEFINITE; kind++) {
        make_spectrum(kind, n, lam);
        qsort(lam, n, sizeof *lam, cmp_d);
        hb_linop *op = NULL;
        ck_assert_int_eq(hb_linop_create_callback(ctx, n, diag_op, lam, &op), HB_OK);
        check_w1_op(ctx, op, lam, n, names[kind], HB_F64);
        hb_linop_free(op);
    }
    free(lam);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_w1_conjugated_and_wishart) {
    hb_context *ctx = hb_test_context(2, 2);
    const size_t n = 1000;
    double *lam = malloc(n * sizeof *lam);
    /* indefinite and clustered spectra hidden by a random rotation; reference by dsyevd */
    int kinds[2] = {SP_INDEFINITE, SP_CLUSTERED};
    for (int t = 0; t < 2; t++) {
        make_spectrum(kinds[t], n, lam);
        double *A = conj_matrix(ctx, n, lam, 100 + (uint64_t)t);
        double *ref = ref_eigs(A, n);
        qsort(lam, n, sizeof *lam, cmp_d);
        for (size_t i = 0; i < n; i++) HB_ASSERT_CLOSE(ref[i], lam[i], 1e-12); /* the test matrix is right */
        check_w1(ctx, A, ref, n, t ? "conjugated clustered" : "conjugated indefinite", HB_F64);
        check_w1(ctx, A, ref, n, "conjugated, f32 basis", HB_F32);
        free(A);
        free(ref);
    }
    /* Marchenko–Pastur: A = X·Xᵀ/p, X n×p Gaussian, ratio n/p = 0.5 */
    const size_t p = 2 * n;
    double *X = malloc(n * p * sizeof *X), *A = malloc(n * n * sizeof *A);
    ck_assert_int_eq(hb_random_fill_f64(ctx, 200, 0, HB_DIST_NORMAL, 0, 1, X, n * p), HB_OK);
    ck_assert_int_eq(hb__gemm(ctx, HB_F64, false, true, (int64_t)n, (int64_t)n, (int64_t)p, 1.0 / (double)p,
                              X, (int64_t)p, X, (int64_t)p, 0.0, A, (int64_t)n), HB_OK);
    symmetrize(A, n);
    double *ref = ref_eigs(A, n);
    /* sanity: MP edges (1 ∓ √0.5)² ≈ 0.086, 2.91, within finite-n fluctuations */
    ck_assert(ref[0] > 0.05 && ref[0] < 0.12 && ref[n - 1] > 2.7 && ref[n - 1] < 3.1);
    check_w1(ctx, A, ref, n, "Marchenko-Pastur", HB_F64);
    free(X);
    free(A);
    free(ref);
    free(lam);
    hb_context_free(ctx);
}
END_TEST

/* Extreme eigenvalues to 1e-8 relative with full reorthogonalisation, on a spectrum whose
 * extremes are separated from the rest (−2 below a [0,1] bulk; 10 above 6): Lanczos converges
 * geometrically at a rate set by the gap ratio (here ≥ 0.4), so 80 steps reach rounding level.
 * (Extremes at the edge of a continuous bulk converge only algebraically; not tested here.) */
START_TEST(test_extremes_spiked) {
    hb_context *ctx = hb_test_context(1, 3);
    const size_t n = 1000;
    double *lam = malloc(n * sizeof *lam);
    make_spectrum(SP_SPIKED, n, lam);
    double *A = conj_matrix(ctx, n, lam, 7);
    double *ref = ref_eigs(A, n);
    hb_linop *op = NULL;
    ck_assert_int_eq(hb_linop_create_dense(ctx, A, n, 1, &op), HB_OK);
    free(A); /* copied */
    for (int basis = 0; basis < 2; basis++) {
        hb_slq *s = make_slq(ctx, 10, 80);
        ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_BASIS_DTYPE, basis ? HB_F32 : HB_F64), HB_OK);
        hb_spectrum *sp = NULL;
        ck_assert_int_eq(hb_slq_run(s, op, &sp), HB_OK);
        double lo, hi;
        ck_assert_int_eq(hb_spectrum_extremes(sp, &lo, &hi), HB_OK);
        /* f64: rounding level. f32 basis: orthogonality only to ~eps_f32 = 6e-8, which bounds
         * the Ritz value error by ~eps_f32·‖A‖; 1e-6 relative leaves a decade of margin. */
        double tol = basis ? 1e-6 : 1e-8;
        ck_assert_msg(fabs(lo - ref[0]) <= tol * fabs(ref[0]), "lambda_min %.17g vs %.17g", lo, ref[0]);
        ck_assert_msg(fabs(hi - ref[n - 1]) <= tol * fabs(ref[n - 1]), "lambda_max %.17g vs %.17g",
                      hi, ref[n - 1]);
        hb_spectrum_free(sp);
        hb_slq_free(s);
    }
    hb_linop_free(op);
    free(ref);
    free(lam);
    hb_context_free(ctx);
}
END_TEST

/* Moments up to order 2m−1. (a) Per probe, Gauss quadrature with m nodes is exact for
 * polynomials of degree ≤ 2m−1: Σ_j τ_j θ_j^k = vᵀA^k v/‖v‖². With a fixed stream the test
 * regenerates the probes (element i of probe p = number p·n + i) and checks this to 1e-10
 * (spectrum in [−1,1], so every term is ≤ 1; rounding grows ~ k·eps per power).
 * (b) The average over probes vs the exact (1/n)tr(A^k) within 4 standard errors. */
START_TEST(test_moments_exact_quadrature) {
    hb_context *ctx = hb_test_context(1, 4);
    const size_t n = 1200;
    const int64_t m = 40, nv = 10;
    double *lam = malloc(n * sizeof *lam);
    make_spectrum(SP_INDEFINITE, n, lam);
    for (size_t i = 0; i < n; i++) lam[i] = (lam[i] - 0.5) / 1.5; /* into [−1, 1] */
    double *A = diag_matrix(n, lam);
    hb_linop *op = NULL;
    ck_assert_int_eq(hb_linop_create_dense(ctx, A, n, 0, &op), HB_OK);
    for (int dist = HB_PROBE_RADEMACHER; dist <= HB_PROBE_GAUSSIAN; dist++) {
        hb_slq *s = make_slq(ctx, nv, m);
        ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_STREAM, 77), HB_OK);
        ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_PROBE_DIST, dist), HB_OK);
        hb_spectrum *sp = NULL;
        ck_assert_int_eq(hb_slq_run(s, op, &sp), HB_OK);
        double *V = malloc((size_t)nv * n * sizeof *V);
        ck_assert_int_eq(hb_random_fill_f64(ctx, 77, 0, dist == HB_PROBE_GAUSSIAN ? HB_DIST_NORMAL
                                                                              : HB_DIST_RADEMACHER,
                                            0, 1, V, (size_t)nv * n), HB_OK);
        for (int k = 0; k <= 2 * m - 1; k++) {
            for (int64_t p = 0; p < nv; p++) {
                const double *nd, *wt;
                size_t c;
                ck_assert_int_eq(hb_spectrum_probe(sp, (size_t)p, &nd, &wt, &c, NULL), HB_OK);
                ck_assert_uint_eq(c, (size_t)m);
                double q = 0, vv = 0, exact = 0;
                for (size_t j = 0; j < c; j++) q += wt[j] * pow(nd[j], k);
                for (size_t i = 0; i < n; i++) {
                    double v = V[(size_t)p * n + i];
                    vv += v * v;
                    exact += v * v * pow(lam[i], k);
                }
                exact /= vv;
                ck_assert_msg(fabs(q - exact) <= 1e-10, "probe %lld order %d: %.17g vs %.17g",
                              (long long)p, k, q, exact);
            }
            double mom, se, tr = 0;
            ck_assert_int_eq(hb_spectrum_moment(sp, k, &mom, &se), HB_OK);
            for (size_t i = 0; i < n; i++) tr += pow(lam[i], k);
            tr /= (double)n;
            ck_assert_msg(fabs(mom - tr) <= 4 * se + 1e-12, "moment %d: %.17g vs exact %.17g (se %g)",
                          k, mom, tr, se);
        }
        free(V);
        hb_spectrum_free(sp);
        hb_slq_free(s);
    }
    hb_linop_free(op);
    free(A);
    free(lam);
    hb_context_free(ctx);
}
END_TEST

/* Hutchinson traces within 3 standard errors (a fixed seed; 3 SE fails ~0.3% of seeds). The
 * matrix is NOT diagonal (a diagonal one gives the exact trace with Rademacher probes). */
START_TEST(test_trace) {
    hb_context *ctx = hb_test_context(1, 5);
    const size_t n = 800;
    double *lam = malloc(n * sizeof *lam);
    make_spectrum(SP_INDEFINITE, n, lam);
    double *A = conj_matrix(ctx, n, lam, 9), exact = 0;
    for (size_t i = 0; i < n; i++) exact += lam[i];
    hb_linop *op = NULL;
    ck_assert_int_eq(hb_linop_create_dense(ctx, A, n, 0, &op), HB_OK);
    for (int dist = HB_PROBE_RADEMACHER; dist <= HB_PROBE_GAUSSIAN; dist++) {
        hb_slq *s = make_slq(ctx, 30, 20);
        ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_PROBE_DIST, dist), HB_OK);
        double tr, se;
        ck_assert_int_eq(hb_slq_trace(s, op, &tr, &se), HB_OK);
        ck_assert(se > 0);
        ck_assert_msg(fabs(tr - exact) <= 3 * se, "trace %g vs %g (se %g)", tr, exact, se);
        hb_spectrum *sp = NULL;
        ck_assert_int_eq(hb_slq_run(s, op, &sp), HB_OK);
        ck_assert_int_eq(hb_spectrum_trace(sp, &tr, &se), HB_OK);
        ck_assert_msg(fabs(tr - exact) <= 3 * se, "SLQ trace %g vs %g (se %g)", tr, exact, se);
        hb_spectrum_free(sp);
        hb_slq_free(s);
    }
    hb_linop_free(op);
    free(A);
    free(lam);
    hb_context_free(ctx);
}
END_TEST

/* Without reorthogonalisation, once the top Ritz value has converged the Lanczos vectors lose
 * orthogonality and copies ("ghosts") of the top eigenvalue appear; full reorthogonalisation
 * keeps exactly one. Top eigenvalue 2 is isolated above a [0,1] bulk, 250 steps, one probe. */
START_TEST(test_ghosts) {
    hb_context *ctx = hb_test_context(1, 6);
    const size_t n = 1000;
    double *lam = malloc(n * sizeof *lam);
    make_spectrum(SP_UNIFORM, n, lam);
    lam[n - 1] = 2;
    double *A = diag_matrix(n, lam);
    hb_linop *op = NULL;
    ck_assert_int_eq(hb_linop_create_dense(ctx, A, n, 0, &op), HB_OK);
    size_t copies[2];
    for (int r = 0; r < 2; r++) {
        hb_slq *s = make_slq(ctx, 1, 250);
        ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_REORTH, r ? HB_REORTH_FULL : HB_REORTH_NONE), HB_OK);
        hb_spectrum *sp = NULL;
        ck_assert_int_eq(hb_slq_run(s, op, &sp), HB_OK);
        const double *nd;
        size_t c;
        ck_assert_int_eq(hb_spectrum_probe(sp, 0, &nd, NULL, &c, NULL), HB_OK);
        copies[r] = 0;
        for (size_t j = 0; j < c; j++) copies[r] += fabs(nd[j] - 2) <= 1e-8; /* converged copies */
        hb_spectrum_free(sp);
        hb_slq_free(s);
    }
    ck_assert_msg(copies[0] >= 2, "no ghosts without reorthogonalisation (%zu copies)", copies[0]);
    ck_assert_msg(copies[1] == 1, "full reorthogonalisation left %zu copies", copies[1]);
    hb_linop_free(op);
    free(A);
    free(lam);
    hb_context_free(ctx);
}
END_TEST

/* Breakdown: 5 distinct eigenvalues → the Krylov space has dimension 5, every probe stops at
 * step 5 with breakdown = 1, nodes = the eigenvalues, and (Rademacher: v_i² = 1) weights =
 * multiplicity/n exactly, up to rounding. */
START_TEST(test_breakdown) {
    hb_context *ctx = hb_test_context(1, 7);
    const size_t n = 500;
    const double vals[5] = {-3, -1, 0.5, 2, 7};
    double *lam = malloc(n * sizeof *lam);
    for (size_t i = 0; i < n; i++) lam[i] = vals[i % 5 < 3 ? 0 : i % 5]; /* mult 300,0,0,100,100 */
    for (size_t i = 0; i < 50; i++) lam[i] = vals[1 + i % 2];            /* mult 25 each */
    double mult[5] = {0};
    for (size_t i = 0; i < n; i++)
        for (int v = 0; v < 5; v++) mult[v] += lam[i] == vals[v];
    double *A = diag_matrix(n, lam);
    hb_linop *op = NULL;
    ck_assert_int_eq(hb_linop_create_dense(ctx, A, n, 0, &op), HB_OK);
    for (int r = 0; r < 2; r++) {
        hb_slq *s = make_slq(ctx, 4, 80);
        ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_REORTH, r ? HB_REORTH_FULL : HB_REORTH_NONE), HB_OK);
        hb_spectrum *sp = NULL;
        ck_assert_int_eq(hb_slq_run(s, op, &sp), HB_OK);
        for (size_t p = 0; p < 4; p++) {
            const double *nd, *wt;
            size_t c;
            int br;
            ck_assert_int_eq(hb_spectrum_probe(sp, p, &nd, &wt, &c, &br), HB_OK);
            ck_assert_uint_eq(c, 5);
            ck_assert_int_eq(br, 1);
            for (int v = 0; v < 5; v++) {
                HB_ASSERT_CLOSE(nd[v], vals[v], 1e-12);
                HB_ASSERT_CLOSE(wt[v], mult[v] / (double)n, 1e-12);
            }
        }
        hb_spectrum_free(sp);
        hb_slq_free(s);
    }
    hb_linop_free(op);
    free(A);
    free(lam);
    hb_context_free(ctx);
}
END_TEST

/* Top-k by Lanczos with a residual tolerance: values vs dsyevd, vectors checked by their
 * true residual ‖Ay − θy‖ and unit norm. */
START_TEST(test_topk) {
    hb_context *ctx = hb_test_context(1, 8);
    const size_t n = 600;
    double *lam = malloc(n * sizeof *lam);
    make_spectrum(SP_SPIKED, n, lam);
    double *A = conj_matrix(ctx, n, lam, 11);
    double *ref = ref_eigs(A, n);
    hb_linop *op = NULL;
    ck_assert_int_eq(hb_linop_create_dense(ctx, A, n, 0, &op), HB_OK);
    hb_slq *s = make_slq(ctx, 1, 10);
    double vals[3], vec[3 * 600], res[3], y[600];
    size_t conv = 0;
    ck_assert_int_eq(hb_slq_topk(s, op, 3, HB_EIG_LARGEST, vals, vec, res, &conv), HB_OK);
    ck_assert_uint_eq(conv, 3);
    for (int i = 0; i < 3; i++) {
        /* tolerance 1e-8·max|θ| on the residual bounds the eigenvalue error by res²/gap ≪ 1e-10 */
        HB_ASSERT_CLOSE(vals[i], ref[n - 1 - (size_t)i], 1e-10);
        ck_assert(res[i] <= 1e-8 * 10);
        ck_assert_int_eq(hb_linop_apply(op, 1, vec + i * n, y), HB_OK);
        double r = 0, nn = 0;
        for (size_t t = 0; t < n; t++) {
            r += pow(y[t] - vals[i] * vec[i * n + t], 2);
            nn += vec[i * n + t] * vec[i * n + t];
        }
        HB_ASSERT_CLOSE(nn, 1.0, 1e-12);
        ck_assert_msg(sqrt(r) <= 1e-7, "true residual %g", sqrt(r)); /* Ritz residual + rounding */
    }
    ck_assert_int_eq(hb_slq_topk(s, op, 1, HB_EIG_SMALLEST, vals, NULL, NULL, &conv), HB_OK);
    HB_ASSERT_CLOSE(vals[0], ref[0], 1e-10);
    ck_assert_int_eq(hb_slq_topk(s, op, 2, HB_EIG_LARGEST_MAGNITUDE, vals, NULL, NULL, NULL), HB_OK);
    HB_ASSERT_CLOSE(vals[0], 10, 1e-10);
    HB_ASSERT_CLOSE(vals[1], 6, 1e-10);
    /* a step limit too small to converge: values still returned, converged < k */
    ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_TOPK_MAX_STEPS, 4), HB_OK);
    ck_assert_int_eq(hb_slq_topk(s, op, 3, HB_EIG_LARGEST, vals, NULL, res, &conv), HB_OK);
    ck_assert(conv < 3);
    /* bad input */
    ck_assert_int_eq(hb_slq_topk(s, op, 0, HB_EIG_LARGEST, vals, NULL, NULL, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_slq_topk(s, op, n + 1, HB_EIG_LARGEST, vals, NULL, NULL, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_slq_topk(s, op, 1, (hb_eig_which)9, vals, NULL, NULL, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_slq_topk(s, NULL, 1, HB_EIG_LARGEST, vals, NULL, NULL, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_slq_topk(s, op, 1, HB_EIG_LARGEST, NULL, NULL, NULL, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_slq_topk(NULL, op, 1, HB_EIG_LARGEST, vals, NULL, NULL, NULL), HB_EINVAL);
    hb_slq_free(s);
    hb_linop_free(op);
    free(A);
    free(ref);
    free(lam);
    hb_context_free(ctx);
}
END_TEST

/* ---- Top-k with repeated, clustered and random spectra ------------------------------------
 * What converged = k promises (slq.h): k eigenpairs, each with residual ‖Ay − θy‖ ≤
 * HB_SLQ_TOPK_TOL·‖A‖, with mutually orthonormal vectors, the k most extreme eigenvalues
 * COUNTING MULTIPLICITY. check_topk verifies each part against `want` (the reference values
 * in `which` order) for an operator with ‖A‖ = anorm. */
static void check_topk(hb_context *ctx, hb_linop *op, size_t k, hb_eig_which which,
                       const double *want, double anorm, const char *what) {
    size_t n = hb_linop_size(op);
    hb_slq *s = make_slq(ctx, 1, 10);
    double *vals = malloc(k * sizeof *vals), *res = malloc(k * sizeof *res);
    double *vec = malloc(k * n * sizeof *vec), *y = malloc(n * sizeof *y);
    size_t conv = 0;
    ck_assert_int_eq(hb_slq_topk(s, op, k, which, vals, vec, res, &conv), HB_OK);
    ck_assert_msg(conv == k, "%s: converged %zu of %zu", what, conv, k);
    /* |θ − λ| ≤ ‖r‖ ≤ 1e-8·‖A‖ (default HB_SLQ_TOPK_TOL); 1e-11·‖A‖ covers the rounding of the
     * Lanczos residual estimate (≈ eps·‖A‖·√m with m ≤ 300) */
    double tol = 1e-8 * anorm, round = 1e-11 * anorm;
    for (size_t i = 0; i < k; i++) {
        ck_assert_msg(fabs(vals[i] - want[i]) <= tol + round, "%s: value %zu is %.17g, want %.17g",
                      what, i, vals[i], want[i]);
        ck_assert_msg(res[i] <= tol, "%s: residual %zu is %g > %g", what, i, res[i], tol);
        ck_assert_int_eq(hb_linop_apply(op, 1, vec + i * n, y), HB_OK);
        double r = 0;
        for (size_t t = 0; t < n; t++) r += pow(y[t] - vals[i] * vec[i * n + t], 2);
        ck_assert_msg(sqrt(r) <= tol + round, "%s: true residual %zu is %g", what, i, sqrt(r));
        /* full reorthogonalisation keeps bases orthonormal to O(eps·√m); 1e-10 is far above */
        for (size_t j = 0; j <= i; j++) {
            double d = 0;
            for (size_t t = 0; t < n; t++) d += vec[i * n + t] * vec[j * n + t];
            ck_assert_msg(fabs(d - (i == j)) <= 1e-10, "%s: y%zu·y%zu = %g", what, i, j, d);
        }
    }
    hb_slq_free(s);
    free(vals);
    free(res);
    free(vec);
    free(y);
}

/* check_topk on diag(lam) (callback) and on Q·diag(lam)·Qᵀ (dense), want = reference order */
static void check_topk_both(hb_context *ctx, double *lam, size_t n, size_t k, hb_eig_which which,
                            const double *want, const char *what) {
    double anorm = 0;
    for (size_t i = 0; i < n; i++) anorm = fmax(anorm, fabs(lam[i]));
    hb_linop *op = NULL;
    ck_assert_int_eq(hb_linop_create_callback(ctx, n, diag_op, lam, &op), HB_OK);
    check_topk(ctx, op, k, which, want, anorm, what);
    hb_linop_free(op);
    double *A = conj_matrix(ctx, n, lam, 31);
    ck_assert_int_eq(hb_linop_create_dense(ctx, A, n, 0, &op), HB_OK);
    check_topk(ctx, op, k, which, want, anorm, what);
    hb_linop_free(op);
    free(A);
}

/* The case: the three smallest eigenvalues are all −1. Single-vector Lanczos sees the
 * eigenspace once and used to return [−1, 0.5, 2] with converged = 3. */
START_TEST(test_topk_repeated_smallest) {
    hb_context *ctx = hb_test_context(1, 41);
    const size_t n = 200;
    double lam[200];
    lam[0] = lam[1] = lam[2] = -1;
    lam[3] = 0.5;
    for (size_t i = 4; i < n; i++) lam[i] = 2 + 3 * (double)(i - 4) / (double)(n - 5); /* [2, 5] */
    const double want[5] = {-1, -1, -1, 0.5, 2};
    check_topk_both(ctx, lam, n, 3, HB_EIG_SMALLEST, want, "repeated smallest, k = 3");
    check_topk_both(ctx, lam, n, 5, HB_EIG_SMALLEST, want, "repeated smallest, k = 5");
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_topk_repeated_largest) {
    hb_context *ctx = hb_test_context(1, 42);
    const size_t n = 200;
    double lam[200];
    for (size_t i = 0; i < n; i++) lam[i] = (double)i / (double)(n - 1); /* [0, 1] */
    lam[n - 1] = lam[n - 2] = lam[n - 3] = 3; /* the top three coincide */
    const double want[4] = {3, 3, 3, (double)(n - 4) / (double)(n - 1)};
    check_topk_both(ctx, lam, n, 3, HB_EIG_LARGEST, want, "repeated largest, k = 3");
    check_topk_both(ctx, lam, n, 4, HB_EIG_LARGEST, want, "repeated largest, k = 4");
    /* largest magnitude: −3 twice and +3 once, the bulk in [−1, 1]; ties in |λ| have no
     * defined order, so compare |θ| and the sum */
    for (size_t i = 0; i < n; i++) lam[i] = -1 + 2 * (double)i / (double)(n - 1);
    lam[0] = lam[1] = -3;
    lam[n - 1] = 3;
    hb_linop *op = NULL;
    ck_assert_int_eq(hb_linop_create_callback(ctx, n, diag_op, lam, &op), HB_OK);
    hb_slq *s = make_slq(ctx, 1, 10);
    double vals[3], res[3];
    size_t conv = 0;
    ck_assert_int_eq(hb_slq_topk(s, op, 3, HB_EIG_LARGEST_MAGNITUDE, vals, NULL, res, &conv), HB_OK);
    ck_assert_uint_eq(conv, 3);
    for (int i = 0; i < 3; i++) HB_ASSERT_CLOSE(fabs(vals[i]), 3, 1e-8);
    HB_ASSERT_CLOSE(vals[0] + vals[1] + vals[2], -3, 1e-8);
    hb_slq_free(s);
    hb_linop_free(op);
    hb_context_free(ctx);
}
END_TEST

/* Clustered but distinct: gaps of 1e-6 ≫ the eigenvalue resolution 1e-8·‖A‖ = 5e-8. */
START_TEST(test_topk_clustered) {
    hb_context *ctx = hb_test_context(1, 43);
    const size_t n = 200;
    double lam[200];
    for (size_t i = 0; i < n; i++) lam[i] = (double)i / (double)(n - 1) * 4; /* [0, 4] */
    lam[n - 1] = 5;
    lam[n - 2] = 5 - 1e-6;
    lam[n - 3] = 5 - 2e-6;
    const double want[4] = {5, 5 - 1e-6, 5 - 2e-6, 4 * (double)(n - 4) / (double)(n - 1)};
    check_topk_both(ctx, lam, n, 4, HB_EIG_LARGEST, want, "clustered largest");
    hb_context_free(ctx);
}
END_TEST

/* Against LAPACK on random symmetric matrices (GOE: Gaussian entries, semicircle spectrum
 * whose edges converge only algebraically), all three selections; and k = n. */
static double *goe_matrix(hb_context *ctx, size_t n, uint64_t stream) {
    double *A = malloc(n * n * sizeof *A);
    ck_assert_int_eq(hb_random_fill_f64(ctx, stream, 0, HB_DIST_NORMAL, 0, 1, A, n * n), HB_OK);
    symmetrize(A, n);
    return A;
}

static void want_from_ref(const double *ref, size_t n, size_t k, hb_eig_which which, double *want) {
    size_t lo = 0, hi = n;
    for (size_t i = 0; i < k; i++) {
        if (which == HB_EIG_SMALLEST) want[i] = ref[i];
        else if (which == HB_EIG_LARGEST) want[i] = ref[n - 1 - i];
        else want[i] = fabs(ref[hi - 1]) >= fabs(ref[lo]) ? ref[--hi] : ref[lo++];
    }
}

START_TEST(test_topk_vs_lapack) {
    hb_context *ctx = hb_test_context(1, 44);
    const size_t n = 150, k = 6;
    double *A = goe_matrix(ctx, n, 51), *ref = ref_eigs(A, n), want[150];
    double anorm = fmax(fabs(ref[0]), fabs(ref[n - 1]));
    hb_linop *op = NULL;
    ck_assert_int_eq(hb_linop_create_dense(ctx, A, n, 0, &op), HB_OK);
    hb_eig_which which[3] = {HB_EIG_LARGEST, HB_EIG_SMALLEST, HB_EIG_LARGEST_MAGNITUDE};
    for (int w = 0; w < 3; w++) {
        want_from_ref(ref, n, k, which[w], want);
        check_topk(ctx, op, k, which[w], want, anorm, "GOE vs dsyevd");
    }
    hb_linop_free(op);
    free(A);
    free(ref);
    /* k = n: a GOE matrix, and 10 distinct eigenvalues of multiplicity 4 each (a random start
     * spans only 10 dimensions: the old code stopped with HB_EINVAL) */
    const size_t m = 40;
    A = goe_matrix(ctx, m, 52);
    ref = ref_eigs(A, m);
    ck_assert_int_eq(hb_linop_create_dense(ctx, A, m, 0, &op), HB_OK);
    want_from_ref(ref, m, m, HB_EIG_SMALLEST, want);
    check_topk(ctx, op, m, HB_EIG_SMALLEST, want, fmax(fabs(ref[0]), fabs(ref[m - 1])), "GOE, k = n");
    hb_linop_free(op);
    free(A);
    free(ref);
    double lam[40];
    for (size_t i = 0; i < m; i++) lam[i] = (double)(i % 10) - 4.5;
    qsort(lam, m, sizeof *lam, cmp_d);
    want_from_ref(lam, m, m, HB_EIG_LARGEST, want);
    check_topk_both(ctx, lam, m, m, HB_EIG_LARGEST, want, "multiplicity 4, k = n");
    hb_context_free(ctx);
}
END_TEST

/* ---- Density, export --------------------------------------------------------------------- */
START_TEST(test_density_and_export) {
    hb_context *ctx = hb_test_context(1, 9);
    const size_t n = 300;
    double *lam = malloc(n * sizeof *lam);
    make_spectrum(SP_CLUSTERED, n, lam);
    double *A = diag_matrix(n, lam);
    hb_linop *op = NULL;
    ck_assert_int_eq(hb_linop_create_dense(ctx, A, n, 1, &op), HB_OK);
    free(A);
    ck_assert_uint_eq(hb_linop_size(op), n);
    hb_slq *s = make_slq(ctx, 3, 12);
    hb_spectrum *sp = NULL;
    ck_assert_int_eq(hb_slq_run(s, op, &sp), HB_OK);
    ck_assert_uint_eq(hb_spectrum_dim(sp), n);
    ck_assert_uint_eq(hb_spectrum_num_probes(sp), 3);
    /* default sigma = 1% of the Ritz range; the density integrates to 1 (trapezoid on a grid
     * reaching 10σ beyond the extremes, step σ/20: quadrature error far below 1e-6) */
    double lo, hi;
    ck_assert_int_eq(hb_spectrum_extremes(sp, &lo, &hi), HB_OK);
    double sig = hb_spectrum_default_sigma(sp);
    HB_ASSERT_CLOSE(sig, 0.01 * (hi - lo), 1e-15);
    size_t G = (size_t)((hi - lo + 20 * sig) / (sig / 20)) + 1;
    double *grid = malloc(G * sizeof *grid), *dens = malloc(G * sizeof *dens);
    for (size_t g = 0; g < G; g++) grid[g] = lo - 10 * sig + (double)g * sig / 20;
    ck_assert_int_eq(hb_spectrum_density(sp, grid, G, 0.0, dens), HB_OK);
    double integral = 0;
    for (size_t g = 0; g + 1 < G; g++) integral += 0.5 * (dens[g] + dens[g + 1]) * (grid[g + 1] - grid[g]);
    HB_ASSERT_CLOSE(integral, 1.0, 1e-6);
    /* an explicit sigma: density at a node of an isolated single-node spectrum */
    hb_spectrum *one = NULL;
    double node = 3, weight = 2; /* weights are normalised */
    ck_assert_int_eq(hb_spectrum_create(ctx, 1, &one), HB_OK);
    ck_assert_int_eq(hb_spectrum_add_probe(one, &node, &weight, 1), HB_OK);
    double d3;
    ck_assert_int_eq(hb_spectrum_density(one, &node, 1, 0.5, &d3), HB_OK);
    HB_ASSERT_CLOSE(d3, 1 / (0.5 * sqrt(2 * acos(-1.0))), 1e-15);
    HB_ASSERT_CLOSE(hb_spectrum_default_sigma(one), 0.03, 1e-15); /* range 0: 1% of |λ| */
    hb_spectrum_free(one);
    /* JSON and CSV: buffer and file agree; sizes reported snprintf-style */
    size_t need = 0, need_csv = 0;
    ck_assert_int_eq(hb_spectrum_to_json(sp, NULL, 0, &need), HB_ERANGE);
    char *js = malloc(need + 1);
    ck_assert_int_eq(hb_spectrum_to_json(sp, js, need, &need), HB_ERANGE); /* no room for NUL */
    ck_assert_int_eq(hb_spectrum_to_json(sp, js, need + 1, &need), HB_OK);
    ck_assert_uint_eq(strlen(js), need);
    ck_assert(strstr(js, "\"format\":\"hessblock-spectrum\",\"version\":1,\"dim\":300,\"num_probes\":3,") == js + 1);
    ck_assert(strstr(js, "\"steps\":12,\"breakdown\":false,\"nodes\":[") != NULL);
    double jlo;
    ck_assert(sscanf(strstr(js, "\"lambda_min\":") + 13, "%lf", &jlo) == 1);
    ck_assert(jlo == lo); /* %.17g round-trips */
    ck_assert_int_eq(hb_spectrum_to_csv(sp, NULL, 0, &need_csv), HB_ERANGE);
    char *csv = malloc(need_csv + 1);
    ck_assert_int_eq(hb_spectrum_to_csv(sp, csv, need_csv + 1, &need_csv), HB_OK);
    size_t lines = 0;
    for (char *c = csv; *c; c++) lines += *c == '\n';
    ck_assert_uint_eq(lines, 1 + 3 * 12);
    ck_assert(strncmp(csv, "probe,index,node,weight\n0,0,", 28) == 0);
    const char *path = "hb_slq_test_spectrum.tmp"; /* in the test's working directory */
    for (int f = 0; f < 2; f++) {
        ck_assert_int_eq(f ? hb_spectrum_save_csv(sp, path) : hb_spectrum_save_json(sp, path), HB_OK);
        FILE *fp = fopen(path, "r");
        char *back = calloc(need + need_csv + 2, 1);
        size_t got = fread(back, 1, need + need_csv + 1, fp);
        fclose(fp);
        ck_assert_uint_eq(got, f ? need_csv : need);
        ck_assert_str_eq(back, f ? csv : js);
        free(back);
    }
    remove(path);
    ck_assert_int_eq(hb_spectrum_save_json(sp, "/nonexistent-dir/x.json"), HB_EIO);
    ck_assert_int_eq(hb_spectrum_save_csv(sp, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_spectrum_to_json(sp, js, need + 1, NULL), HB_EINVAL);
    free(js);
    free(csv);
    free(grid);
    free(dens);
    hb_spectrum_free(sp);
    hb_slq_free(s);
    hb_linop_free(op);
    free(lam);
    hb_context_free(ctx);
}
END_TEST

/* ---- Jensen–Shannon ------------------------------------------------------------------------ */
static hb_spectrum *spec_of(hb_context *ctx, const double *nodes, const double *w, size_t c) {
    hb_spectrum *sp = NULL;
    ck_assert_int_eq(hb_spectrum_create(ctx, 100, &sp), HB_OK);
    ck_assert_int_eq(hb_spectrum_add_probe(sp, nodes, w, c), HB_OK);
    return sp;
}

START_TEST(test_js) {
    hb_context *ctx = hb_test_context(1, 10);
    double n1[3] = {1, 2, 3}, n2[3] = {10, 20, 30}, n3[3] = {2, 1, 3}, w[3] = {1, 1, 1};
    double n4[2] = {0.9, 1.1}, w4[2] = {1, 3}, w3[3] = {1, 1, 1};
    hb_spectrum *a = spec_of(ctx, n1, w, 3), *b = spec_of(ctx, n2, w, 3), *c = spec_of(ctx, n3, w3, 3);
    hb_spectrum *d = spec_of(ctx, n4, w4, 2);
    double x, y;
    /* identical measures (c is a with nodes given in another order) → 0 exactly */
    ck_assert_int_eq(hb_spectrum_js_distance(a, c, NULL, &x), HB_OK);
    ck_assert(x == 0.0);
    /* disjoint: nodes ≥ 7 apart vs σ = 1% of a range of 29 → Gaussian overlap ~e^−1000 → 1 */
    ck_assert_int_eq(hb_spectrum_js_distance(a, b, NULL, &x), HB_OK);
    HB_ASSERT_CLOSE(x, 1.0, 1e-12);
    /* normalising by max|θ| makes a and b identical ({1,2,3}/3 = {10,20,30}/30 exactly) */
    hb_js_options o = HB_JS_OPTIONS_INIT;
    o.normalize = 1;
    ck_assert_int_eq(hb_spectrum_js_distance(a, b, &o, &x), HB_OK);
    ck_assert(x == 0.0);
    /* symmetric, strictly inside (0,1) for overlapping measures */
    ck_assert_int_eq(hb_spectrum_js_distance(a, d, NULL, &x), HB_OK);
    ck_assert_int_eq(hb_spectrum_js_distance(d, a, NULL, &y), HB_OK);
    ck_assert(x == y && x > 0.1 && x < 1);
    /* hand check on a case with closed form: two point masses far apart each in both spectra:
     * P = (1/2, 1/2), Q = (1, 0) on two separated bumps → JS = 1.5 − (3/4)log2 3 … */
    double p1[2] = {0, 100}, pw[2] = {1, 1}, q1[1] = {0}, qw[1] = {1};
    hb_spectrum *e = spec_of(ctx, p1, pw, 2), *f = spec_of(ctx, q1, qw, 1);
    ck_assert_int_eq(hb_spectrum_js_distance(e, f, NULL, &x), HB_OK);
    /* M = (3/4, 1/4): JS = ½[½log2(2/3)+½log2 2] + ½[1·log2(4/3)] */
    double js = 0.5 * (0.5 * log2((0.5) / 0.75) + 0.5 * log2(0.5 / 0.25)) + 0.5 * log2(1 / 0.75);
    HB_ASSERT_CLOSE(x, sqrt(js), 1e-12);
    /* issue 12.1: mass at {0, 0.02} against mass at {1}: well separated, so distance 1.
     * The first density is subnormal where the second is 0 on part of the grid; the old
     * midpoint form gave 0·∞ = NaN there and the clamp turned the NaN into 0. */
    double s1[2] = {0, 0.02}, s2[1] = {1};
    hb_spectrum *g = spec_of(ctx, s1, pw, 2), *h = spec_of(ctx, s2, qw, 1);
    ck_assert_int_eq(hb_spectrum_js_distance(g, h, NULL, &x), HB_OK);
    HB_ASSERT_CLOSE(x, 1.0, 1e-12);
    ck_assert_int_eq(hb_spectrum_js_distance(h, g, NULL, &y), HB_OK);
    ck_assert(x == y);
    hb_spectrum_free(g);
    hb_spectrum_free(h);
    /* matrix: symmetric, zero diagonal, entries = pairwise distances on the shared grid */
    const hb_spectrum *set[4] = {a, b, c, d};
    double M[16], mean;
    ck_assert_int_eq(hb_spectra_js_matrix(set, 4, NULL, M, &mean), HB_OK);
    double acc = 0;
    for (int i = 0; i < 4; i++) {
        ck_assert(M[i * 4 + i] == 0.0);
        for (int j = 0; j < 4; j++) {
            ck_assert(M[i * 4 + j] == M[j * 4 + i]);
            ck_assert(M[i * 4 + j] >= 0 && M[i * 4 + j] <= 1);
            if (i != j) acc += M[i * 4 + j];
        }
    }
    HB_ASSERT_CLOSE(mean, acc / 12, 1e-15);
    ck_assert(M[0 * 4 + 2] == 0.0);
    HB_ASSERT_CLOSE(M[0 * 4 + 1], 1.0, 1e-12);
    ck_assert_int_eq(hb_spectra_js_matrix(set, 1, NULL, M, &mean), HB_OK);
    ck_assert(M[0] == 0.0 && mean == 0.0);
    /* bad input */
    ck_assert_int_eq(hb_spectrum_js_distance(a, NULL, NULL, &x), HB_EINVAL);
    ck_assert_int_eq(hb_spectrum_js_distance(a, b, NULL, NULL), HB_EINVAL);
    o.grid_points = 3;
    ck_assert_int_eq(hb_spectrum_js_distance(a, b, &o, &x), HB_EINVAL);
    o = (hb_js_options)HB_JS_OPTIONS_INIT;
    o.sigma_rel = 0;
    ck_assert_int_eq(hb_spectrum_js_distance(a, b, &o, &x), HB_EINVAL);
    o = (hb_js_options)HB_JS_OPTIONS_INIT;
    o.struct_size = 3;
    ck_assert_int_eq(hb_spectrum_js_distance(a, b, &o, &x), HB_EINVAL);
    ck_assert_int_eq(hb_spectra_js_matrix(NULL, 2, NULL, M, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_spectra_js_matrix(set, 0, NULL, M, NULL), HB_EINVAL);
    /* issue 12.10: the spectra's context exists, so k = 0 leaves a message there */
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "k = 0"));
    ck_assert_int_eq(hb_spectra_js_matrix(set, 2, NULL, NULL, NULL), HB_EINVAL);
    const hb_spectrum *withnull[2] = {a, NULL};
    ck_assert_int_eq(hb_spectra_js_matrix(withnull, 2, NULL, M, NULL), HB_EINVAL);
    hb_spectrum *empty = NULL;
    ck_assert_int_eq(hb_spectrum_create(ctx, 5, &empty), HB_OK);
    ck_assert_int_eq(hb_spectrum_js_distance(a, empty, NULL, &x), HB_ESTATE);
    hb_spectrum_free(empty);
    hb_spectrum *all[6] = {a, b, c, d, e, f};
    for (int i = 0; i < 6; i++) hb_spectrum_free(all[i]);
    hb_context_free(ctx);
}
END_TEST

/* Direct evaluation of the documented symlog JS distance of two single-probe spectra
 * (docs/spectral.md): u = asinh(x/c), c = floor·max|x|, σ = sigma_rel·(u_hi − u_lo), G grid
 * points from u_lo − 5σ to u_hi + 5σ, Gaussian mixtures normalised to sum 1, √JS in bits.
 * Written from the documentation, not from js.c (loops in another order, no shared helper). */
static double js_symlog_direct(const double *xa, const double *wa, int na, const double *xb,
                               const double *wb, int nb, double sigma_rel, double floor, int G) {
    double mx = 0, ua[8], ub[8], wsa = 0, wsb = 0;
    for (int j = 0; j < na; j++) mx = fmax(mx, fabs(xa[j])), wsa += wa[j];
    for (int j = 0; j < nb; j++) mx = fmax(mx, fabs(xb[j])), wsb += wb[j];
    double c = floor * mx, lo = INFINITY, hi = -INFINITY;
    for (int j = 0; j < na; j++) ua[j] = log(xa[j] / c + sqrt(xa[j] / c * xa[j] / c + 1));
    for (int j = 0; j < nb; j++) ub[j] = log(xb[j] / c + sqrt(xb[j] / c * xb[j] / c + 1));
    for (int j = 0; j < na; j++) lo = fmin(lo, ua[j]), hi = fmax(hi, ua[j]);
    for (int j = 0; j < nb; j++) lo = fmin(lo, ub[j]), hi = fmax(hi, ub[j]);
    double sg = sigma_rel * (hi - lo);
    double *P = calloc((size_t)G, sizeof(double)), *Q = calloc((size_t)G, sizeof(double));
    double sp = 0, sq = 0;
    for (int g = 0; g < G; g++) {
        double u = (lo - 5 * sg) + (hi - lo + 10 * sg) * g / (G - 1.0);
        for (int j = 0; j < na; j++) P[g] += wa[j] / wsa * exp(-(u - ua[j]) * (u - ua[j]) / (2 * sg * sg));
        for (int j = 0; j < nb; j++) Q[g] += wb[j] / wsb * exp(-(u - ub[j]) * (u - ub[j]) / (2 * sg * sg));
        sp += P[g], sq += Q[g];
    }
    double js = 0;
    for (int g = 0; g < G; g++) {
        double p = P[g] / sp, q = Q[g] / sq, m = (p + q) / 2;
        if (p > 0) js += p / 2 * log(p / m) / log(2.0);
        if (q > 0) js += q / 2 * log(q / m) / log(2.0);
    }
    free(P);
    free(Q);
    return sqrt(fmax(js, 0.0));
}

START_TEST(test_js_symlog) {
    hb_context *ctx = hb_test_context(1, 10);
    double x;
    /* 1. against the direct evaluation; negative and tiny nodes included. Tolerance 1e-12:
     *    both sides sum the same ~100 terms in a different order (rounding ~1e-15 relative). */
    double na[3] = {-0.3, 2e-4, 2.0}, wa[3] = {0.2, 0.5, 0.3}, nb[2] = {1e-5, 0.05}, wb[2] = {1, 3};
    hb_spectrum *a = spec_of(ctx, na, wa, 3), *b = spec_of(ctx, nb, wb, 2);
    hb_js_options o = HB_JS_OPTIONS_INIT;
    ck_assert_int_eq(o.grid, HB_JS_GRID_LINEAR); /* the default stays linear */
    o.grid = HB_JS_GRID_SYMLOG;
    o.symlog_floor_rel = 1e-4;
    o.grid_points = 97;
    o.sigma_rel = 0.03;
    ck_assert_int_eq(hb_spectrum_js_distance(a, b, &o, &x), HB_OK);
    double ref = js_symlog_direct(na, wa, 3, nb, wb, 2, 0.03, 1e-4, 97);
    ck_assert(ref > 0.2 && ref < 1); /* a non-trivial value, not a saturated 0 or 1 */
    HB_ASSERT_CLOSE(x, ref, 1e-12);
    /* 2. what the option is for: blocks at 1e-5 and 1e-3 next to one at 1. On the linear grid
     *    (σ = 0.01 of the range 1) they are 0.1σ apart: nearly the same bump (a Gaussian pair
     *    δ = 0.1σ apart has JS ≈ δ²/(8 ln 2)·… ≪ 0.01, distance < 0.05). With the symmetric log
     *    (c = 1e-6) they sit at asinh(10) = 3.0 and asinh(1000) = 7.6 in u, range 14.5 − (−0)
     *    → σ_u ≈ 0.115: 40 σ apart, distance 1 up to e^−200. */
    double t1[1] = {1e-5}, t2[1] = {1e-3}, t3[1] = {1.0}, one[1] = {1};
    hb_spectrum *s1 = spec_of(ctx, t1, one, 1), *s2 = spec_of(ctx, t2, one, 1), *s3 = spec_of(ctx, t3, one, 1);
    const hb_spectrum *set[3] = {s1, s2, s3};
    double Ml[9], Ms[9];
    ck_assert_int_eq(hb_spectra_js_matrix(set, 3, NULL, Ml, NULL), HB_OK);
    o = (hb_js_options)HB_JS_OPTIONS_INIT;
    o.grid = HB_JS_GRID_SYMLOG;
    ck_assert_int_eq(hb_spectra_js_matrix(set, 3, &o, Ms, NULL), HB_OK);
    ck_assert_msg(Ml[1] < 0.05, "linear: %g", Ml[1]);
    HB_ASSERT_CLOSE(Ms[1], 1.0, 1e-12);
    HB_ASSERT_CLOSE(Ml[2], 1.0, 1e-12); /* 1e-5 vs 1: far apart on both grids */
    HB_ASSERT_CLOSE(Ms[2], 1.0, 1e-12);
    /* 3. symmetric in the sign: mirrored spectra give the same distance (asinh is odd) */
    double m1[3] = {-2.0, -2e-4, 0.3}, m2[2] = {-0.05, -1e-5}, wm2[2] = {3, 1}, wm1[3] = {0.3, 0.5, 0.2};
    hb_spectrum *ma = spec_of(ctx, m1, wm1, 3), *mb = spec_of(ctx, m2, wm2, 2);
    double y;
    o.symlog_floor_rel = 1e-4;
    o.grid_points = 97;
    o.sigma_rel = 0.03;
    ck_assert_int_eq(hb_spectrum_js_distance(ma, mb, &o, &y), HB_OK);
    HB_ASSERT_CLOSE(y, x, 1e-12);
    /* 4. an old caller (struct without the grid fields) gets the linear grid, bit for bit */
    hb_js_options old = HB_JS_OPTIONS_INIT;
    old.struct_size = offsetof(hb_js_options, grid);
    old.grid = 12345; /* beyond the old struct: must be ignored */
    double Mo[9];
    ck_assert_int_eq(hb_spectra_js_matrix(set, 3, &old, Mo, NULL), HB_OK);
    for (int i = 0; i < 9; i++) ck_assert(Mo[i] == Ml[i]);
    /* 5. bad input */
    o = (hb_js_options)HB_JS_OPTIONS_INIT;
    o.grid = 2;
    ck_assert_int_eq(hb_spectrum_js_distance(a, b, &o, &x), HB_EINVAL);
    o.grid = -1;
    ck_assert_int_eq(hb_spectrum_js_distance(a, b, &o, &x), HB_EINVAL);
    o.grid = HB_JS_GRID_SYMLOG;
    double bad_floor[4] = {0, -1e-3, 1, NAN};
    for (int i = 0; i < 4; i++) {
        o.symlog_floor_rel = bad_floor[i];
        ck_assert_int_eq(hb_spectrum_js_distance(a, b, &o, &x), HB_EINVAL);
    }
    o = (hb_js_options)HB_JS_OPTIONS_INIT;
    o.struct_size = offsetof(hb_js_options, grid) + 4;
    ck_assert_int_eq(hb_spectrum_js_distance(a, b, &o, &x), HB_EINVAL);
    hb_spectrum *all[7] = {a, b, s1, s2, s3, ma, mb};
    for (int i = 0; i < 7; i++) hb_spectrum_free(all[i]);
    hb_context_free(ctx);
}
END_TEST

/* ---- Bad input -------------------------------------------------------------------------- */
static int nan_op(void *user, const double *x, double *y, size_t n) {
    int *calls = user;
    for (size_t i = 0; i < n; i++) y[i] = (double)(i % 5 + 1) * x[i];
    if (++*calls == 3) y[n / 2] = NAN;
    return 0;
}
static int fail_op(void *user, const double *x, double *y, size_t n) {
    (void)user, (void)x, (void)y, (void)n;
    return 7;
}
static int scale_op(void *user, const double *x, double *y, size_t n) {
    (void)user;
    for (size_t i = 0; i < n; i++) y[i] = (double)(i % 17) * x[i];
    return 0;
}
static int cancel_at_3(void *user, const char *task, int64_t done, int64_t total) {
    int *seen = user;
    ck_assert_str_eq(task, "slq");
    ck_assert(done <= total);
    seen[0]++;
    return done >= 3;
}

/* issue 12.4: numerically-zero spectra (|θ| ≈ 1e-22 next to blocks of size 1, like the gpt
 * attention-key biases) are left out of normalised comparisons: scaling rounding noise to
 * unit size made it look like a spectrum, and its ±1 range widened everyone's grid. */
START_TEST(test_js_zero) {
    hb_context *ctx = hb_test_context(1, 10);
    double na[3] = {1, 2, 3}, nb[2] = {0.5, 4}, nc[2] = {-1, 2}, nz[2] = {-3e-22, 1e-22};
    double wa[3] = {1, 1, 1}, wb[2] = {1, 2}, wc[2] = {1, 3}, wz[2] = {1, 1};
    hb_spectrum *a = spec_of(ctx, na, wa, 3), *b = spec_of(ctx, nb, wb, 2), *c = spec_of(ctx, nc, wc, 2);
    hb_spectrum *z = spec_of(ctx, nz, wz, 2);
    ck_assert(hb_spectrum_unit_roundoff(a) == DBL_EPSILON / 2); /* caller-made: f64 */
    const hb_spectrum *with[4] = {a, z, b, c}, *without[3] = {a, b, c};
    hb_js_options o = HB_JS_OPTIONS_INIT;
    ck_assert(o.zero_rel_tol < 0 && o.keep_zero == 0); /* automatic test, zero spectra left out */
    /* the flag: max|θ_z| = 3e-22 ≤ 2^-53·4 (≈ 4.4e-16); the others are ≥ 2/4 of the top */
    int flags[4] = {9, 9, 9, 9};
    size_t nzero = 99;
    double tol = 0;
    ck_assert_int_eq(hb_spectra_zero_flags(with, 4, NULL, flags, &nzero, &tol), HB_OK);
    ck_assert(flags[0] == 0 && flags[1] == 1 && flags[2] == 0 && flags[3] == 0 && nzero == 1);
    ck_assert(tol == DBL_EPSILON / 2);
    /* normalised: z's row and column are NaN; every other entry and the mean are exactly
     * those of the matrix without z (same grid: z no longer enters the pooled range) */
    o.normalize = 1;
    double M[16], M3[9], mean, mean3;
    ck_assert_int_eq(hb_spectra_js_matrix(with, 4, &o, M, &mean), HB_OK);
    ck_assert_int_eq(hb_spectra_js_matrix(without, 3, &o, M3, &mean3), HB_OK);
    const int idx[3] = {0, 2, 3};
    for (int i = 0; i < 4; i++) ck_assert(isnan(M[1 * 4 + i]) && isnan(M[i * 4 + 1]));
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) ck_assert(M[idx[i] * 4 + idx[j]] == M3[i * 3 + j]);
    ck_assert(mean == mean3 && mean > 0.05); /* 3 distinct shapes: a non-trivial mean */
    double x;
    ck_assert_int_eq(hb_spectrum_js_distance(a, z, &o, &x), HB_OK);
    ck_assert(isnan(x));
    /* an older caller (struct without the zero fields) gets the same defaults */
    hb_js_options old = o;
    old.struct_size = offsetof(hb_js_options, zero_rel_tol);
    double Mo[16], meano;
    ck_assert_int_eq(hb_spectra_js_matrix(with, 4, &old, Mo, &meano), HB_OK);
    ck_assert(meano == mean && isnan(Mo[1]));
    /* keep_zero = 1: compared as before (z scaled by its own max to [−1, 1/3]) */
    o.keep_zero = 1;
    ck_assert_int_eq(hb_spectra_js_matrix(with, 4, &o, M, &mean), HB_OK);
    for (int i = 0; i < 16; i++) ck_assert(isfinite(M[i]));
    ck_assert(mean != mean3);
    /* without normalisation nothing is left out: z is a spike at 0, far from a and b */
    o = (hb_js_options)HB_JS_OPTIONS_INIT;
    ck_assert_int_eq(hb_spectra_js_matrix(with, 4, &o, M, &mean), HB_OK);
    for (int i = 0; i < 16; i++) ck_assert(isfinite(M[i]));
    HB_ASSERT_CLOSE(M[0 * 4 + 1], 1.0, 1e-9);
    /* explicit tolerance 0.6: flags z and c (max 2 ≤ 0.6·4), not a (3) or b (4); 0 flags
     * nothing but spectra whose nodes are all exactly 0 */
    o.zero_rel_tol = 0.6;
    ck_assert_int_eq(hb_spectra_zero_flags(with, 4, &o, flags, &nzero, &tol), HB_OK);
    ck_assert(flags[0] == 0 && flags[1] == 1 && flags[2] == 0 && flags[3] == 1 && nzero == 2);
    ck_assert(tol == 0.6);
    o.zero_rel_tol = 0;
    ck_assert_int_eq(hb_spectra_zero_flags(with, 4, &o, NULL, &nzero, NULL), HB_OK);
    ck_assert_uint_eq(nzero, 0);
    double n0[1] = {0}, w0[1] = {1};
    hb_spectrum *e = spec_of(ctx, n0, w0, 1);
    const hb_spectrum *ez[3] = {e, z, a};
    ck_assert_int_eq(hb_spectra_zero_flags(ez, 3, &o, flags, &nzero, NULL), HB_OK);
    ck_assert(flags[0] == 1 && flags[1] == 0 && flags[2] == 0 && nzero == 1);
    /* nothing left to compare (all nodes exactly 0): every entry NaN, mean NaN; one left:
     * mean 0. The test is relative: z alone, or with e, is the largest and not zero. */
    o = (hb_js_options)HB_JS_OPTIONS_INIT;
    o.normalize = 1;
    const hb_spectrum *zz[2] = {e, e}, *za[2] = {z, a};
    ck_assert_int_eq(hb_spectra_js_matrix(zz, 2, &o, M, &mean), HB_OK);
    ck_assert(isnan(M[0]) && isnan(M[1]) && isnan(M[2]) && isnan(M[3]) && isnan(mean));
    ck_assert_int_eq(hb_spectra_js_matrix(za, 2, &o, M, &mean), HB_OK);
    ck_assert(isnan(M[0]) && isnan(M[1]) && isnan(M[2]) && M[3] == 0.0 && mean == 0.0);
    /* bad options and input */
    o.zero_rel_tol = NAN;
    ck_assert_int_eq(hb_spectra_js_matrix(with, 4, &o, M, &mean), HB_EINVAL);
    o.zero_rel_tol = 1.0;
    ck_assert_int_eq(hb_spectra_zero_flags(with, 4, &o, flags, NULL, NULL), HB_EINVAL);
    o.zero_rel_tol = -1;
    o.keep_zero = 2;
    ck_assert_int_eq(hb_spectra_js_matrix(with, 4, &o, M, &mean), HB_EINVAL);
    ck_assert_int_eq(hb_spectra_zero_flags(NULL, 4, NULL, flags, NULL, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_spectra_zero_flags(with, 0, NULL, flags, NULL, NULL), HB_EINVAL);
    const hb_spectrum *withnull[2] = {a, NULL};
    ck_assert_int_eq(hb_spectra_zero_flags(withnull, 2, NULL, flags, NULL, NULL), HB_EINVAL);
    ck_assert(hb_spectrum_unit_roundoff(NULL) == 0.0);
    hb_spectrum *all[5] = {a, b, c, z, e};
    for (int i = 0; i < 5; i++) hb_spectrum_free(all[i]);
    hb_context_free(ctx);
}
END_TEST

/* The bootstrap replicates run on the context's threads (issue 19): the same bits for any
 * thread count and any chunk of replicates per parallel round, on every JS convention,
 * with fewer replicates than threads too; progress comes in replicate order from the
 * calling thread, and a cancel mid-run returns HB_ECANCELED. */
static int js_boot_seen(void *user, const char *task, int64_t done, int64_t total) {
    int64_t *seen = user; /* [0]: calls, [1]: last done; cancel at seen[2] (0: never) */
    ck_assert_str_eq(task, "js-bootstrap");
    ck_assert(done == seen[1] + 1 && done <= total);
    seen[0]++;
    seen[1] = done;
    return seen[2] && done >= seen[2];
}

static void js_stderr_at(int threads, size_t chunk, int conv, size_t reps, double *S, double *se) {
    enum { K = 7 };
    hb_context *ctx = hb_test_context(threads, 21);
    hb_spectrum *sp[K];
    hb_test_spectra(ctx, K, 5, 3, sp);
    hb_js_options o = HB_JS_OPTIONS_INIT;
    o.normalize = conv == 1;                 /* spectrum 3 numerically zero: left out */
    o.grid = conv == 2 ? HB_JS_GRID_SYMLOG : HB_JS_GRID_LINEAR;
    int64_t seen[3] = {0, 0, 0};
    ck_assert_int_eq(hb_context_set_progress(ctx, js_boot_seen, seen), HB_OK);
    ck_assert_int_eq(hb__js_matrix_stderr_chunked((const hb_spectrum *const *)sp, K, &o, reps, 77,
                                                  chunk, S, se), HB_OK);
    ck_assert(seen[0] == (int64_t)reps && seen[1] == (int64_t)reps);
    for (int i = 0; i < K; i++) hb_spectrum_free(sp[i]);
    hb_context_free(ctx);
}

START_TEST(test_js_stderr_threads) {
    enum { K = 7 };
    static const int threads[] = {1, 2, 3, 7};
    static const size_t chunks[] = {0, 1, 3};
    static const size_t reps[] = {2, 23};
    for (int conv = 0; conv < 3; conv++)
        for (size_t r = 0; r < 2; r++) {
            double S0[K * K], se0, S[K * K], se;
            js_stderr_at(1, 0, conv, reps[r], S0, &se0);
            ck_assert(se0 > 0 && S0[1] > 0);
            if (conv == 1) ck_assert(isnan(S0[3 * K + 1]) && isnan(S0[1 * K + 3]));
            for (size_t t = 0; t < 4; t++)
                for (size_t c = 0; c < 3; c++) {
                    if (threads[t] == 1 && chunks[c] == 0) continue;
                    js_stderr_at(threads[t], chunks[c], conv, reps[r], S, &se);
                    ck_assert_msg(memcmp(S, S0, sizeof S) == 0 && memcmp(&se, &se0, sizeof se) == 0,
                                  "convention %d, %zu replicates, %d threads, chunk %zu: se %.17g vs "
                                  "%.17g at 1 thread", conv, reps[r], threads[t], chunks[c], se, se0);
                }
        }
    /* cancel at replicate 5 of 23 on 3 threads, 2 per round: stops there, in order */
    hb_context *ctx = hb_test_context(3, 21);
    hb_spectrum *sp[K];
    hb_test_spectra(ctx, K, 5, K, sp);
    int64_t seen[3] = {0, 0, 5};
    double S[K * K], se;
    ck_assert_int_eq(hb_context_set_progress(ctx, js_boot_seen, seen), HB_OK);
    ck_assert_int_eq(hb__js_matrix_stderr_chunked((const hb_spectrum *const *)sp, K, NULL, 23, 77, 2,
                                                  S, &se), HB_ECANCELED);
    ck_assert(seen[0] == 5 && seen[1] == 5);
    ck_assert(strstr(hb_context_last_error(ctx), "js-bootstrap") != NULL);
    for (int i = 0; i < K; i++) hb_spectrum_free(sp[i]);
    hb_context_free(ctx);
}
END_TEST

/* Bootstrap standard errors of JS values (hb_spectra_js_matrix_stderr, lib/slq/js_error.c). */
START_TEST(test_js_stderr) {
    hb_context *ctx = hb_test_context(1, 10);
    /* a: 4 identical probes; b: 4 identical probes elsewhere → every resample is a, b → se 0 */
    double na[3] = {1, 2, 3}, nb[3] = {1.5, 2.5, 4}, w[3] = {1, 1, 1};
    hb_spectrum *a = NULL, *b = NULL, *c = NULL, *one = NULL;
    ck_assert_int_eq(hb_spectrum_create(ctx, 100, &a), HB_OK);
    ck_assert_int_eq(hb_spectrum_create(ctx, 100, &b), HB_OK);
    for (int p = 0; p < 4; p++) {
        ck_assert_int_eq(hb_spectrum_add_probe(a, na, w, 3), HB_OK);
        ck_assert_int_eq(hb_spectrum_add_probe(b, nb, w, 3), HB_OK);
    }
    const hb_spectrum *ab[2] = {a, b};
    double S[9], se = -1;
    for (int grid = 0; grid < 2; grid++) {
        hb_js_options o = HB_JS_OPTIONS_INIT;
        o.grid = grid ? HB_JS_GRID_SYMLOG : HB_JS_GRID_LINEAR;
        ck_assert_int_eq(hb_spectra_js_matrix_stderr(ab, 2, &o, 20, 7, S, &se), HB_OK);
        for (int e = 0; e < 4; e++) ck_assert(S[e] == 0.0);
        ck_assert(se == 0.0);
    }
    /* c: 5 different probes (weights shift mass between the nodes) → positive se,
     * the same numbers for the same (seed, stream), different for another stream */
    ck_assert_int_eq(hb_spectrum_create(ctx, 100, &c), HB_OK);
    for (int p = 0; p < 5; p++) {
        double wc[3] = {1 + p, 1, 5 - p};
        ck_assert_int_eq(hb_spectrum_add_probe(c, na, wc, 3), HB_OK);
    }
    const hb_spectrum *abc[3] = {a, b, c};
    double S1[9], S2[9], S3[9], se1, se2, se3, M[9], mean;
    ck_assert_int_eq(hb_spectra_js_matrix_stderr(abc, 3, NULL, 50, 3, S1, &se1), HB_OK);
    ck_assert_int_eq(hb_spectra_js_matrix_stderr(abc, 3, NULL, 50, 3, S2, &se2), HB_OK);
    ck_assert_int_eq(hb_spectra_js_matrix_stderr(abc, 3, NULL, 50, 4, S3, &se3), HB_OK);
    ck_assert(memcmp(S1, S2, sizeof S1) == 0 && se1 == se2);
    ck_assert(se1 > 0 && se3 > 0 && se1 != se3);
    ck_assert(S1[0 * 3 + 1] == 0.0 && S1[0] == 0.0 && S1[4] == 0.0 && S1[8] == 0.0);
    ck_assert(S1[0 * 3 + 2] > 0 && S1[1 * 3 + 2] > 0);
    ck_assert(S1[0 * 3 + 2] == S1[2 * 3 + 0]);
    /* the matrix itself is untouched by the resampling (same call as before) */
    ck_assert_int_eq(hb_spectra_js_matrix(abc, 3, NULL, M, &mean), HB_OK);
    ck_assert(M[2] > 0 && mean > 0);
    /* a stderr is a spread, not the value: far below the distances here */
    ck_assert(S1[2] < M[2]);
    /* k = 1: zero; only one output wanted: fine */
    ck_assert_int_eq(hb_spectra_js_matrix_stderr(abc + 2, 1, NULL, 10, 0, S, &se), HB_OK);
    ck_assert(S[0] == 0.0 && se == 0.0);
    ck_assert_int_eq(hb_spectra_js_matrix_stderr(abc, 3, NULL, 10, 0, NULL, &se), HB_OK);
    /* one probe: no error estimate possible → HB_ESTATE and NaN, never a 0 */
    ck_assert_int_eq(hb_spectrum_create(ctx, 100, &one), HB_OK);
    ck_assert_int_eq(hb_spectrum_add_probe(one, nb, w, 3), HB_OK);
    const hb_spectrum *a1[2] = {a, one};
    S[0] = S[1] = 0;
    se = 0;
    ck_assert_int_eq(hb_spectra_js_matrix_stderr(a1, 2, NULL, 10, 0, S, &se), HB_ESTATE);
    ck_assert(isnan(S[0]) && isnan(S[1]) && isnan(S[3]) && isnan(se));
    ck_assert(strstr(hb_context_last_error(ctx), "1 probe") != NULL);
    /* bad input */
    ck_assert_int_eq(hb_spectra_js_matrix_stderr(NULL, 2, NULL, 10, 0, S, &se), HB_EINVAL);
    ck_assert_int_eq(hb_spectra_js_matrix_stderr(ab, 0, NULL, 10, 0, S, &se), HB_EINVAL);
    ck_assert_int_eq(hb_spectra_js_matrix_stderr(ab, 2, NULL, 10, 0, NULL, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_spectra_js_matrix_stderr(ab, 2, NULL, 1, 0, S, &se), HB_EINVAL);
    ck_assert_int_eq(hb_spectra_js_matrix_stderr(ab, 2, NULL, 100001, 0, S, &se), HB_EINVAL);
    hb_js_options bad = HB_JS_OPTIONS_INIT;
    bad.sigma_rel = -1;
    ck_assert_int_eq(hb_spectra_js_matrix_stderr(ab, 2, &bad, 10, 0, S, &se), HB_EINVAL);
    const hb_spectrum *withnull[2] = {a, NULL};
    ck_assert_int_eq(hb_spectra_js_matrix_stderr(withnull, 2, NULL, 10, 0, S, &se), HB_EINVAL);
    hb_spectrum *empty = NULL;
    ck_assert_int_eq(hb_spectrum_create(ctx, 5, &empty), HB_OK);
    const hb_spectrum *ae[2] = {a, empty};
    ck_assert_int_eq(hb_spectra_js_matrix_stderr(ae, 2, NULL, 10, 0, S, &se), HB_ESTATE);
    hb_spectrum_free(empty);
    hb_spectrum_free(a);
    hb_spectrum_free(b);
    hb_spectrum_free(c);
    hb_spectrum_free(one);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_bad_input) {
    hb_context *ctx = hb_test_context(1, 12);
    hb_slq *s = NULL;
    ck_assert_int_eq(hb_slq_create(ctx, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_slq_create(NULL, &s), HB_EINVAL);
    ck_assert_int_eq(hb_slq_create(ctx, &s), HB_OK);
    int64_t v;
    double f;
    ck_assert_int_eq(hb_slq_get_i64(s, HB_SLQ_PROBES, &v), HB_OK);
    ck_assert_int_eq(v, 10);
    ck_assert_int_eq(hb_slq_get_i64(s, HB_SLQ_STEPS, &v), HB_OK);
    ck_assert_int_eq(v, 80);
    ck_assert_int_eq(hb_slq_get_i64(s, HB_SLQ_REORTH, &v), HB_OK);
    ck_assert_int_eq(v, HB_REORTH_FULL);
    ck_assert_int_eq(hb_slq_get_i64(s, HB_SLQ_PROBE_DIST, &v), HB_OK);
    ck_assert_int_eq(v, HB_PROBE_RADEMACHER);
    ck_assert_int_eq(hb_slq_get_f64(s, HB_SLQ_BREAKDOWN_TOL, &f), HB_OK);
    ck_assert(f == 1e-10);
    ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_STEPS, 0), HB_EINVAL);
    ck_assert_msg(strstr(hb_context_last_error(ctx), "steps") != NULL, "%s", hb_context_last_error(ctx));
    ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_STEPS, -5), HB_EINVAL);
    ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_PROBES, 0), HB_EINVAL);
    ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_PROBES, -1), HB_EINVAL);
    ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_REORTH, 0), HB_EINVAL);
    ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_PROBE_DIST, 3), HB_EINVAL);
    ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_BASIS_DTYPE, HB_BF16), HB_EINVAL);
    ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_STREAM, -2), HB_EINVAL);
    ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_BREAKDOWN_TOL, 1), HB_EINVAL); /* wrong setter */
    ck_assert_int_eq(hb_slq_set_f64(s, HB_SLQ_STEPS, 1), HB_EINVAL);
    ck_assert_int_eq(hb_slq_set_f64(s, HB_SLQ_BREAKDOWN_TOL, 0), HB_EINVAL);
    ck_assert_int_eq(hb_slq_set_f64(s, HB_SLQ_TOPK_TOL, NAN), HB_EINVAL);
    ck_assert_int_eq(hb_slq_set_i64(NULL, HB_SLQ_STEPS, 3), HB_EINVAL);
    ck_assert_int_eq(hb_slq_get_i64(s, HB_SLQ_STEPS, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_slq_get_f64(s, (hb_slq_opt)99, &f), HB_EINVAL);
    ck_assert_int_eq(hb_slq_get_i64(s, (hb_slq_opt)99, &v), HB_EINVAL);
    ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_STEPS, 10), HB_OK);
    ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_PROBES, 2), HB_OK);

    /* linops */
    hb_linop *op = NULL;
    double A[4] = {1, 2, 2.5, 1}, As[4] = {1, 2, 2, 1}, An[4] = {1, NAN, NAN, 1};
    ck_assert_int_eq(hb_linop_create_dense(ctx, A, 2, 0, &op), HB_EINVAL); /* not symmetric */
    ck_assert_ptr_null(op);
    ck_assert_int_eq(hb_linop_create_dense(ctx, An, 2, 0, &op), HB_ENONFINITE);
    ck_assert_int_eq(hb_linop_create_dense(ctx, As, 0, 0, &op), HB_EINVAL);
    ck_assert_int_eq(hb_linop_create_dense(ctx, NULL, 2, 0, &op), HB_EINVAL);
    ck_assert_int_eq(hb_linop_create_dense(ctx, As, 2, 2, &op), HB_EINVAL);
    ck_assert_int_eq(hb_linop_create_dense(ctx, As, 2, 0, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_linop_create_dense(NULL, As, 2, 0, &op), HB_EINVAL);
    ck_assert_int_eq(hb_linop_create_dense(ctx, As, SIZE_MAX / 2, 0, &op), HB_EOVERFLOW);
    ck_assert_int_eq(hb_linop_create_callback(ctx, 0, scale_op, NULL, &op), HB_EINVAL);
    ck_assert_int_eq(hb_linop_create_callback(ctx, 5, NULL, NULL, &op), HB_EINVAL);
    ck_assert_int_eq(hb_linop_create_callback(NULL, 5, scale_op, NULL, &op), HB_EINVAL);
    ck_assert_int_eq(hb_linop_create_callback(ctx, 5, scale_op, NULL, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_linop_create_model_hessian(NULL, &op), HB_EINVAL);
    ck_assert_int_eq(hb_linop_create_model_block(NULL, 0, &op), HB_EINVAL);
    ck_assert_uint_eq(hb_linop_size(NULL), 0);
    hb_linop_free(NULL);
    ck_assert_int_eq(hb_linop_create_dense(ctx, As, 2, 0, &op), HB_OK);
    double x[2] = {1, 0}, y[2];
    ck_assert_int_eq(hb_linop_apply(op, 0, x, y), HB_EINVAL);
    ck_assert_int_eq(hb_linop_apply(op, 1, NULL, y), HB_EINVAL);
    ck_assert_int_eq(hb_linop_apply(NULL, 1, x, y), HB_EINVAL);
    ck_assert_int_eq(hb_linop_apply(op, 1, x, y), HB_OK);
    ck_assert(y[0] == 1 && y[1] == 2);
    hb_linop_free(op);

    /* runs */
    hb_spectrum *sp = (hb_spectrum *)1;
    ck_assert_int_eq(hb_slq_run(s, NULL, &sp), HB_EINVAL);
    ck_assert_ptr_null(sp);
    ck_assert_int_eq(hb_slq_run(NULL, NULL, &sp), HB_EINVAL);
    ck_assert_int_eq(hb_slq_run_model(s, NULL, &sp), HB_EINVAL);
    ck_assert_int_eq(hb_slq_run_model_block(s, NULL, 0, &sp), HB_EINVAL);
    int calls = 0;
    ck_assert_int_eq(hb_linop_create_callback(ctx, 40, nan_op, &calls, &op), HB_OK);
    ck_assert_int_eq(hb_slq_run(s, op, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_slq_run(s, op, &sp), HB_ENONFINITE);
    ck_assert_ptr_null(sp);
    calls = 0;
    double tr;
    ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_PROBES, 4), HB_OK);
    ck_assert_int_eq(hb_slq_trace(s, op, &tr, NULL), HB_ENONFINITE); /* 3rd of 4 vectors */
    ck_assert_int_eq(hb_slq_trace(s, op, NULL, NULL), HB_EINVAL);
    calls = 0;
    ck_assert_int_eq(hb_slq_topk(s, op, 1, HB_EIG_LARGEST, &tr, NULL, NULL, NULL), HB_ENONFINITE);
    hb_linop_free(op);
    ck_assert_int_eq(hb_linop_create_callback(ctx, 40, fail_op, NULL, &op), HB_OK);
    ck_assert_int_eq(hb_slq_run(s, op, &sp), HB_ECALLBACK);
    ck_assert_int_eq(hb_linop_apply(op, 1, x, y), HB_ECALLBACK);
    hb_linop_free(op);
    /* progress: called per step, cancel → HB_ECANCELED, nothing returned */
    int seen[1] = {0};
    ck_assert_int_eq(hb_context_set_progress(ctx, cancel_at_3, seen), HB_OK);
    ck_assert_int_eq(hb_linop_create_callback(ctx, 40, scale_op, NULL, &op), HB_OK);
    ck_assert_int_eq(hb_slq_run(s, op, &sp), HB_ECANCELED);
    ck_assert_ptr_null(sp);
    ck_assert_int_eq(seen[0], 3);
    seen[0] = 0; /* top-k reports ("slq", step, steps of the run) and cancels the same way */
    double tv[2];
    ck_assert_int_eq(hb_slq_topk(s, op, 2, HB_EIG_LARGEST, tv, NULL, NULL, NULL), HB_ECANCELED);
    ck_assert_int_eq(seen[0], 3);
    ck_assert_int_eq(hb_context_set_progress(ctx, NULL, NULL), HB_OK);
    /* m > n is capped at n: n = 40 with 17 distinct eigenvalues → breakdown at 17 */
    ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_STEPS, 100), HB_OK);
    ck_assert_int_eq(hb_slq_run(s, op, &sp), HB_OK);
    size_t c;
    int br;
    ck_assert_int_eq(hb_spectrum_probe(sp, 0, NULL, NULL, &c, &br), HB_OK);
    ck_assert_uint_eq(c, 17);
    ck_assert_int_eq(br, 1);
    /* spectrum accessors */
    ck_assert_int_eq(hb_spectrum_probe(sp, 4, NULL, NULL, &c, &br), HB_ERANGE);
    ck_assert_int_eq(hb_spectrum_probe(NULL, 0, NULL, NULL, &c, &br), HB_EINVAL);
    ck_assert_int_eq(hb_spectrum_moment(sp, -1, &tr, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_spectrum_moment(sp, 1, NULL, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_spectrum_trace(sp, NULL, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_spectrum_extremes(NULL, &tr, &tr), HB_EINVAL);
    double g = 0, dd;
    ck_assert_int_eq(hb_spectrum_density(sp, &g, 0, 0, &dd), HB_EINVAL);
    ck_assert_int_eq(hb_spectrum_density(sp, NULL, 1, 0, &dd), HB_EINVAL);
    g = NAN;
    ck_assert_int_eq(hb_spectrum_density(sp, &g, 1, 0, &dd), HB_ENONFINITE);
    ck_assert_uint_eq(hb_spectrum_dim(NULL), 0);
    ck_assert_uint_eq(hb_spectrum_num_probes(NULL), 0);
    hb_spectrum_free(sp);
    hb_spectrum_free(NULL);
    hb_linop_free(op);
    /* spectrum construction */
    ck_assert_int_eq(hb_spectrum_create(ctx, 0, &sp), HB_EINVAL);
    ck_assert_int_eq(hb_spectrum_create(ctx, 3, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_spectrum_create(ctx, 3, &sp), HB_OK);
    double nd[2] = {1, 2}, wt[2] = {1, -1}, wz[2] = {0, 0}, wn[2] = {NAN, 1};
    ck_assert_int_eq(hb_spectrum_add_probe(sp, nd, wt, 2), HB_EINVAL);
    ck_assert_int_eq(hb_spectrum_add_probe(sp, nd, wz, 2), HB_EINVAL);
    ck_assert_int_eq(hb_spectrum_add_probe(sp, nd, wn, 2), HB_ENONFINITE);
    ck_assert_int_eq(hb_spectrum_add_probe(sp, nd, NULL, 2), HB_EINVAL);
    ck_assert_int_eq(hb_spectrum_add_probe(sp, nd, wz, 0), HB_EINVAL);
    ck_assert_int_eq(hb_spectrum_extremes(sp, &tr, &tr), HB_ESTATE); /* no probes yet */
    ck_assert_int_eq(hb_spectrum_moment(sp, 1, &tr, NULL), HB_ESTATE);
    hb_spectrum_free(sp);
    hb_slq_free(s);
    hb_slq_free(NULL);
    hb_context_free(ctx);
}
END_TEST

/* Restoring a spectrum from its probes (hb_spectrum_restore_probe): every number that the
 * JS functions compute from it is identical to the original's, bit for bit — what a
 * resumed `hessblock` run relies on. add_probe would renormalise the weights (w/sum with a
 * sum of 1 ± eps) and change the last bits. */
START_TEST(test_restore_exact) {
    hb_context *ctx = hb_test_context(1, 5);
    const size_t n = 60;
    double lam[60];
    for (size_t i = 0; i < n; i++) lam[i] = 0.1 * (double)i * (double)i - 3;
    hb_linop *op = NULL;
    ck_assert_int_eq(hb_linop_create_callback(ctx, n, diag_op, lam, &op), HB_OK);
    hb_slq *s = make_slq(ctx, 4, 12);
    hb_spectrum *a = NULL, *b = NULL, *r[2] = {NULL, NULL};
    ck_assert_int_eq(hb_slq_run(s, op, &a), HB_OK);
    for (size_t i = 0; i < n; i++) lam[i] = -lam[i] * 0.5; /* a second, different spectrum */
    ck_assert_int_eq(hb_slq_run(s, op, &b), HB_OK);
    const hb_spectrum *orig[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(hb_spectrum_create(ctx, n, &r[k]), HB_OK);
        ck_assert_int_eq(hb_spectrum_set_unit_roundoff(r[k], hb_spectrum_unit_roundoff(orig[k])), HB_OK);
        for (size_t p = 0; p < hb_spectrum_num_probes(orig[k]); p++) {
            const double *nd, *wt;
            size_t c;
            int br;
            ck_assert_int_eq(hb_spectrum_probe(orig[k], p, &nd, &wt, &c, &br), HB_OK);
            ck_assert_int_eq(hb_spectrum_restore_probe(r[k], nd, wt, c, br), HB_OK);
        }
    }
    hb_js_options jo = HB_JS_OPTIONS_INIT;
    double M1[4], M2[4], m1, m2, se1, se2;
    ck_assert_int_eq(hb_spectra_js_matrix(orig, 2, &jo, M1, &m1), HB_OK);
    ck_assert_int_eq(hb_spectra_js_matrix((const hb_spectrum *const *)r, 2, &jo, M2, &m2), HB_OK);
    ck_assert_int_eq(hb_spectra_js_matrix_stderr(orig, 2, &jo, 20, 99, NULL, &se1), HB_OK);
    ck_assert_int_eq(hb_spectra_js_matrix_stderr((const hb_spectrum *const *)r, 2, &jo, 20, 99, NULL,
                                                 &se2), HB_OK);
    ck_assert(memcmp(M1, M2, sizeof M1) == 0 && memcmp(&m1, &m2, sizeof m1) == 0);
    ck_assert(memcmp(&se1, &se2, sizeof se1) == 0);
    double t1, t2;
    ck_assert_int_eq(hb_spectrum_trace(a, &t1, NULL), HB_OK);
    ck_assert_int_eq(hb_spectrum_trace(r[0], &t2, NULL), HB_OK);
    ck_assert(memcmp(&t1, &t2, sizeof t1) == 0);
    /* bad input */
    double nd[2] = {2, 1}, w[2] = {0.5, 0.5}, wbad[2] = {0.5, 0.6}, wneg[2] = {1.5, -0.5};
    double asc[2] = {1, 2}, nn[2] = {1, NAN};
    ck_assert_int_eq(hb_spectrum_restore_probe(NULL, asc, w, 2, 0), HB_EINVAL);
    ck_assert_int_eq(hb_spectrum_restore_probe(r[0], nd, w, 2, 0), HB_EINVAL);    /* unsorted */
    ck_assert_int_eq(hb_spectrum_restore_probe(r[0], asc, wbad, 2, 0), HB_EINVAL); /* sum 1.1 */
    ck_assert_int_eq(hb_spectrum_restore_probe(r[0], asc, wneg, 2, 0), HB_EINVAL);
    ck_assert_int_eq(hb_spectrum_restore_probe(r[0], nn, w, 2, 0), HB_ENONFINITE);
    ck_assert_int_eq(hb_spectrum_restore_probe(r[0], asc, w, 0, 0), HB_EINVAL);
    ck_assert_int_eq(hb_spectrum_restore_probe(r[0], asc, NULL, 2, 0), HB_EINVAL);
    ck_assert_int_eq(hb_spectrum_set_unit_roundoff(r[0], 0), HB_EINVAL);
    ck_assert_int_eq(hb_spectrum_set_unit_roundoff(r[0], NAN), HB_EINVAL);
    ck_assert_int_eq(hb_spectrum_set_unit_roundoff(NULL, 1e-8), HB_EINVAL);
    ck_assert_int_eq(hb_spectrum_set_unit_roundoff(r[0], 0x1p-24), HB_OK);
    ck_assert(hb_spectrum_unit_roundoff(r[0]) == 0x1p-24);
    for (int k = 0; k < 2; k++) hb_spectrum_free(r[k]);
    hb_spectrum_free(a);
    hb_spectrum_free(b);
    hb_slq_free(s);
    hb_linop_free(op);
    hb_context_free(ctx);
}
END_TEST

/* ---- Allocation failures on every create path -------------------------------------------- */
static const double *oom_matrix(void) {
    static double A[20 * 20];
    for (int i = 0; i < 20; i++)
        for (int j = 0; j < 20; j++) A[i * 20 + j] = i == j ? i + 1 : 0.01 * (i + j);
    return A;
}

static int oom_run(hb_context *ctx, void *arg) {
    int which = *(int *)arg;
    hb_linop *op = NULL;
    hb_slq *s = NULL;
    hb_spectrum *sp = NULL, *sp2 = NULL;
    int rc = which == 1 ? hb_linop_create_callback(ctx, 20, scale_op, NULL, &op)
                        : hb_linop_create_dense(ctx, oom_matrix(), 20, which == 0, &op);
    if (rc == HB_OK) rc = hb_slq_create(ctx, &s);
    if (rc == HB_OK) rc = hb_slq_set_i64(s, HB_SLQ_PROBES, 3);
    if (rc == HB_OK) rc = hb_slq_set_i64(s, HB_SLQ_STEPS, 6);
    if (rc == HB_OK && which == 3) rc = hb_slq_set_i64(s, HB_SLQ_BASIS_DTYPE, HB_F32);
    if (rc == HB_OK) rc = hb_slq_run(s, op, &sp);
    double tr, se, vals[2], vec[40], M[4];
    if (rc == HB_OK) rc = hb_slq_trace(s, op, &tr, &se);
    if (rc == HB_OK) rc = hb_slq_topk(s, op, 2, HB_EIG_LARGEST, vals, vec, NULL, NULL);
    if (rc == HB_OK) rc = hb_spectrum_create(ctx, 20, &sp2);
    double nd[3] = {3, 1, 2}, wt[3] = {1, 1, 1};
    for (int i = 0; i < 10 && rc == HB_OK; i++) rc = hb_spectrum_add_probe(sp2, nd, wt, 3); /* grows */
    const hb_spectrum *pair[2] = {sp, sp2};
    if (rc == HB_OK) rc = hb_spectra_js_matrix(pair, 2, NULL, M, NULL);
    hb_js_options jo = HB_JS_OPTIONS_INIT;
    jo.grid = HB_JS_GRID_SYMLOG; /* allocates the mapped nodes too */
    if (rc == HB_OK) rc = hb_spectra_js_matrix(pair, 2, &jo, M, NULL);
    double se4[4];
    if (rc == HB_OK) rc = hb_spectra_js_matrix_stderr(pair, 2, &jo, 3, 0, se4, NULL);
    hb_spectrum_free(sp);
    hb_spectrum_free(sp2);
    hb_slq_free(s);
    hb_linop_free(op);
    return rc;
}

START_TEST(test_oom) {
    for (int which = 0; which < 4; which++) ck_assert(hb_test_oom_loop(oom_run, &which) > 5);
}
END_TEST

/* Issue 12.8: an application that set a decimal-comma locale got "lambda_min":0,5 —
 * invalid JSON, and CSV rows with extra fields. The export must be byte-identical to the
 * C locale's. */
START_TEST(test_export_locale) {
    hb_context *ctx = hb_test_context(1, 12);
    double nodes[3] = {0.5, 1.25, -3.75e-5}, w[3] = {0.25, 0.5, 0.25};
    hb_spectrum *sp = spec_of(ctx, nodes, w, 3);
    char json_c[4096], csv_c[1024], json_l[4096], csv_l[1024];
    size_t len;
    ck_assert_int_eq(hb_spectrum_to_json(sp, json_c, sizeof json_c, &len), HB_OK);
    ck_assert_int_eq(hb_spectrum_to_csv(sp, csv_c, sizeof csv_c, &len), HB_OK);
    ck_assert_ptr_nonnull(strstr(json_c, "1.25,")); /* the reference has '.' radix */
    ck_assert_ptr_nonnull(strstr(csv_c, ",1.25,"));
    char dir[] = "/tmp/hb_locale_XXXXXX", path[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/s.json", dir);
    const char *loc = hb_test_comma_locale();
    int rj = hb_spectrum_to_json(sp, json_l, sizeof json_l, &len);
    int rc = hb_spectrum_to_csv(sp, csv_l, sizeof csv_l, &len);
    int rf = hb_spectrum_save_json(sp, path); /* the FILE path of the same writer */
    setlocale(LC_NUMERIC, "C");
    ck_assert_int_eq(rj, HB_OK);
    ck_assert_int_eq(rc, HB_OK);
    ck_assert_int_eq(rf, HB_OK);
    if (loc) fprintf(stderr, "export under LC_NUMERIC=%s\n", loc);
    ck_assert_str_eq(json_l, json_c);
    ck_assert_str_eq(csv_l, csv_c);
    char file[4096] = "";
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t got = fread(file, 1, sizeof file - 1, f);
    fclose(f);
    file[got] = '\0';
    ck_assert_str_eq(file, json_c);
    unlink(path);
    rmdir(dir);
    hb_spectrum_free(sp);
    hb_context_free(ctx);
}
END_TEST

Suite *hb_suite_slq(void) {
    Suite *s = suite_create("slq");
    const struct { const char *name; const TTest *test; } cases[] = {
        {"w1_diagonal", test_w1_diagonal},
        {"w1_conjugated_and_wishart", test_w1_conjugated_and_wishart},
        {"extremes_spiked", test_extremes_spiked},
        {"moments_exact_quadrature", test_moments_exact_quadrature},
        {"trace", test_trace},
        {"ghosts", test_ghosts},
        {"breakdown", test_breakdown},
        {"topk", test_topk},
        {"topk_repeated_smallest", test_topk_repeated_smallest},
        {"topk_repeated_largest", test_topk_repeated_largest},
        {"topk_clustered", test_topk_clustered},
        {"topk_vs_lapack", test_topk_vs_lapack},
        {"density_and_export", test_density_and_export},
        {"js", test_js},
        {"js_symlog", test_js_symlog},
        {"js_zero", test_js_zero},
        {"export_locale", test_export_locale},
        {"js_stderr", test_js_stderr},
        {"js_stderr_threads", test_js_stderr_threads},
        {"bad_input", test_bad_input},
        {"restore_exact", test_restore_exact},
        {"oom", test_oom},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) { /* one case each: CK_RUN_CASE */
        TCase *tc = tcase_create(cases[i].name);
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}
