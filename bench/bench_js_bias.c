/* bench_js_bias: bias of SLQ JS⁰ against JS⁰ of the exact block spectra (issue 12.2).
 *
 *   bench_js_bias MODEL PRESET [SEED] [STEPS,…] [PROBES,…] [REPS]
 *     MODEL gpt | mlp;  PRESET tiny | default (the sizes of `hessblock analyze --preset`);
 *     SEED the context seed [0] (initialisation and data, as analyze --seed);
 *     STEPS Lanczos lengths [8,16,32,64,128];  PROBES probe counts [4,16];  REPS probe seeds [3]
 *
 * Exact: every block's dense sub-Hessian H_bb is assembled from hb_model_block_hvp on unit
 * vectors (64 at a time), symmetrised (the asymmetry, i.e. rounding, is printed), and its
 * eigenvalues (LAPACKE_dsyevd) become a spectrum with ONE probe whose nodes are the
 * eigenvalues and whose weights are 1/n — the exact spectral measure.
 * SLQ: hb_slq_run_model_block on every block (Rademacher probes, full reorthogonalisation,
 * probe stream 1000 + rep, steps capped at numel by the library).
 * For each JS grid (linear, symlog) and block set (all; weights = ≥ 2-d blocks that are
 * neither bias nor norm, as `--js-blocks weights`) it prints JS⁰ exact, and per (probes,
 * steps): mean over REPS of bias = JS⁰_SLQ − JS⁰_exact, its sd over REPS, and the mean
 * bootstrap standard error (hb_spectra_js_matrix_stderr, 50 replicates) next to it, so
 * the error estimate can be compared with the spread it claims to measure.
 * Every JS uses the CLI's options: sigma_rel 0.01, 1024 grid points, not normalised.
 * Figures and the command lines: docs/spectral.md, "Estimation error of JS values". */
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hessblock/hessblock.h"

static hb_context *ctx;

#include "bench_check.h"

static void set(hb_model_config *cfg, hb_model_key key, int64_t v) {
    CHECK(hb_model_config_set_i64(cfg, key, v));
}

/* The model exactly as `hessblock analyze --preset P --seed S` builds it (compute.c
 * model_make + commands.c tiny_preset/default_preset): same seed, same data stream order. */
static hb_model *make_model(int gpt, int tiny, int64_t seed) {
    CHECK(hb_context_set_i64(ctx, HB_CTX_SEED, seed));
    hb_model_config *cfg = NULL;
    CHECK(hb_model_config_create(ctx, gpt ? HB_MODEL_GPT : HB_MODEL_MLP, &cfg));
    set(cfg, HB_MK_DTYPE, HB_F64);
    int64_t batches;
    if (gpt) {
        set(cfg, HB_MK_VOCAB, tiny ? 16 : 32);
        set(cfg, HB_MK_CONTEXT, tiny ? 8 : 16);
        set(cfg, HB_MK_WIDTH, tiny ? 16 : 32);
        set(cfg, HB_MK_HEADS, 2);
        set(cfg, HB_MK_LAYERS, tiny ? 1 : 2);
        set(cfg, HB_MK_BATCH, tiny ? 4 : 16);
        batches = tiny ? 1 : 2;
    } else {
        set(cfg, HB_MK_INPUTS, tiny ? 8 : 32);
        set(cfg, HB_MK_WIDTH, tiny ? 16 : 64);
        set(cfg, HB_MK_LAYERS, 2);
        set(cfg, HB_MK_CLASSES, tiny ? 4 : 10);
        set(cfg, HB_MK_BATCH, tiny ? 32 : 128);
        batches = tiny ? 1 : 2;
    }
    hb_model *m = NULL;
    CHECK(hb_model_create(ctx, cfg, &m));
    if (batches > 1) {
        uint64_t stream;
        CHECK(hb_context_next_stream(ctx, &stream));
        CHECK(hb_model_set_synthetic(m, (size_t)batches, stream, 0));
    }
    hb_model_config_free(cfg);
    return m;
}

/* Exact spectral measure of block b: dense H_bb from block HVPs, eigenvalues, weights 1/n. */
static hb_spectrum *exact_spectrum(hb_model *m, size_t b, double *asym) {
    size_t n;
    CHECK(hb_params_block_info(hb_model_params(m), b, NULL, NULL, NULL, &n, NULL, NULL));
    double *H = calloc(n * n, sizeof *H), *w = malloc(n * sizeof *w);
    const size_t chunk = 64;
    double *E = calloc(chunk * n, sizeof *E);
    if (!H || !w || !E) { fprintf(stderr, "out of memory\n"); exit(1); }
    for (size_t c0 = 0; c0 < n; c0 += chunk) {
        size_t k = n - c0 < chunk ? n - c0 : chunk;
        memset(E, 0, chunk * n * sizeof *E);
        for (size_t r = 0; r < k; r++) E[r * n + c0 + r] = 1.0;
        hb_tensor *V = NULL, *Y = NULL;
        int64_t shape[2] = {(int64_t)k, (int64_t)n};
        CHECK(hb_tensor_wrap(ctx, HB_F64, 2, shape, E, &V));
        CHECK(hb_tensor_wrap(ctx, HB_F64, 2, shape, H + c0 * n, &Y)); /* rows c0… = H e_c (H symmetric) */
        CHECK(hb_model_block_hvp(m, b, V, Y));
        hb_tensor_free(V);
        hb_tensor_free(Y);
    }
    double amax = 0, hmax = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++) {
            amax = fmax(amax, fabs(H[i * n + j] - H[j * n + i]));
            hmax = fmax(hmax, fmax(fabs(H[i * n + j]), fabs(H[i * n + i])));
            H[i * n + j] = H[j * n + i] = 0.5 * (H[i * n + j] + H[j * n + i]);
        }
    for (size_t i = 0; i < n; i++) hmax = fmax(hmax, fabs(H[i * n + i]));
    *asym = hmax > 0 ? amax / hmax : 0;
    if (LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', (lapack_int)n, H, (lapack_int)n, w) != 0) {
        fprintf(stderr, "dsyevd failed\n");
        exit(1);
    }
    double *u = malloc(n * sizeof *u);
    for (size_t i = 0; i < n; i++) u[i] = 1.0;
    hb_spectrum *sp = NULL;
    CHECK(hb_spectrum_create(ctx, n, &sp));
    CHECK(hb_spectrum_add_probe(sp, w, u, n));
    free(u);
    free(H);
    free(w);
    free(E);
    return sp;
}

typedef struct { size_t n; const hb_spectrum **sp; } set_t;

static double js0(const set_t *s, int symlog, double *se) {
    hb_js_options o = HB_JS_OPTIONS_INIT;
    o.grid = symlog ? HB_JS_GRID_SYMLOG : HB_JS_GRID_LINEAR;
    double *M = malloc(s->n * s->n * sizeof *M), mean;
    CHECK(hb_spectra_js_matrix(s->sp, s->n, &o, M, &mean));
    if (se) CHECK(hb_spectra_js_matrix_stderr(s->sp, s->n, &o, 50, 77, NULL, se));
    free(M);
    return mean;
}

static int parse_list(const char *s, int64_t *v, int max) {
    int n = 0;
    while (*s && n < max) {
        v[n++] = strtoll(s, (char **)&s, 10);
        if (*s == ',') s++;
    }
    return n;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_js_bias gpt|mlp tiny|default [seed] [steps,…] [probes,…] [reps]\n");
        return 2;
    }
    int gpt = !strcmp(argv[1], "gpt"), tiny = !strcmp(argv[2], "tiny");
    int64_t seed = argc > 3 ? strtoll(argv[3], NULL, 10) : 0;
    int64_t steps[16] = {8, 16, 32, 64, 128}, probes[8] = {4, 16};
    int ns = 5, np = 2;
    if (argc > 4) ns = parse_list(argv[4], steps, 16);
    if (argc > 5) np = parse_list(argv[5], probes, 8);
    int reps = argc > 6 ? atoi(argv[6]) : 3;
    if (hb_context_create(&ctx) != HB_OK) return 1;
    hb_model *m = make_model(gpt, tiny, seed);
    hb_params *p = hb_model_params(m);
    size_t B = hb_params_num_blocks(p);
    hb_spectrum **ex = calloc(B, sizeof *ex), **sl = calloc(B, sizeof *sl);
    const hb_spectrum **pe = calloc(B, sizeof *pe), **ps = calloc(B, sizeof *ps);
    int *weight = calloc(B, sizeof *weight);
    size_t nmax = 0;
    printf("%s preset %s seed %lld: %zu parameters, %zu blocks\n", argv[1], argv[2], (long long)seed,
           hb_params_count(p), B);
    printf("%-22s %6s %3s %12s %12s %9s\n", "block", "numel", "w", "lambda_min", "lambda_max", "asym");
    for (size_t b = 0; b < B; b++) {
        const char *name;
        hb_block_kind kind;
        size_t n;
        int ndim;
        CHECK(hb_params_block_info(p, b, &name, &kind, NULL, &n, &ndim, NULL));
        weight[b] = kind != HB_BLOCK_BIAS && kind != HB_BLOCK_NORM && ndim >= 2;
        double asym, lo, hi;
        ex[b] = exact_spectrum(m, b, &asym);
        CHECK(hb_spectrum_extremes(ex[b], &lo, &hi));
        nmax = n > nmax ? n : nmax;
        printf("%-22s %6zu %3s %12.4g %12.4g %9.1e\n", name, n, weight[b] ? "w" : "", lo, hi, asym);
    }
    /* the two block sets, exact and SLQ (same indices) */
    set_t E[2] = {{0}}, S[2] = {{0}};
    const hb_spectrum **pe_w = calloc(B, sizeof *pe_w), **ps_w = calloc(B, sizeof *ps_w);
    E[0].sp = pe; S[0].sp = ps; E[1].sp = pe_w; S[1].sp = ps_w;
    for (size_t b = 0; b < B; b++) {
        pe[E[0].n++] = ex[b];
        if (weight[b]) pe_w[E[1].n++] = ex[b];
    }
    S[0].n = E[0].n;
    S[1].n = E[1].n;
    double exact[2][2];
    for (int g = 0; g < 2; g++)
        for (int w = 0; w < 2; w++) exact[g][w] = js0(&E[w], g, NULL);
    printf("\nexact JS0: linear all %.4f, linear weights %.4f, symlog all %.4f, symlog weights %.4f "
           "(largest block %zu)\n", exact[0][0], exact[0][1], exact[1][0], exact[1][1], nmax);
    printf("\n%-7s %-8s %6s %6s %9s %9s %9s %9s\n", "grid", "blocks", "probes", "steps", "JS0_slq",
           "bias", "sd_reps", "boot_se");
    for (int ip = 0; ip < np; ip++)
        for (int is = 0; is < ns; is++) {
            double v[2][2][64], se[2][2][64];
            for (int r = 0; r < reps && r < 64; r++) {
                hb_slq *s = NULL;
                CHECK(hb_slq_create(ctx, &s));
                CHECK(hb_slq_set_i64(s, HB_SLQ_PROBES, probes[ip]));
                CHECK(hb_slq_set_i64(s, HB_SLQ_STEPS, steps[is]));
                CHECK(hb_slq_set_i64(s, HB_SLQ_STREAM, 1000 + r));
                size_t iw = 0;
                for (size_t b = 0; b < B; b++) {
                    CHECK(hb_slq_run_model_block(s, m, b, &sl[b]));
                    ps[b] = sl[b];
                    if (weight[b]) ps_w[iw++] = sl[b];
                }
                hb_slq_free(s);
                for (int g = 0; g < 2; g++)
                    for (int w = 0; w < 2; w++) v[g][w][r] = js0(&S[w], g, &se[g][w][r]);
                for (size_t b = 0; b < B; b++) hb_spectrum_free(sl[b]);
            }
            for (int g = 0; g < 2; g++)
                for (int w = 0; w < 2; w++) {
                    double mu = 0, s2 = 0, mse = 0;
                    for (int r = 0; r < reps; r++) { mu += v[g][w][r]; mse += se[g][w][r]; }
                    mu /= reps;
                    mse /= reps;
                    for (int r = 0; r < reps; r++) s2 += (v[g][w][r] - mu) * (v[g][w][r] - mu);
                    double sd = reps > 1 ? sqrt(s2 / (reps - 1)) : NAN;
                    printf("%-7s %-8s %6lld %6lld %9.4f %+9.4f %9.4f %9.4f\n", g ? "symlog" : "linear",
                           w ? "weights" : "all", (long long)probes[ip], (long long)steps[is], mu,
                           mu - exact[g][w], sd, mse);
                }
            fflush(stdout);
        }
    for (size_t b = 0; b < B; b++) hb_spectrum_free(ex[b]);
    free(ex); free(sl); free(pe); free(ps); free(pe_w); free(ps_w); free(weight);
    hb_model_free(m);
    hb_context_free(ctx);
    return 0;
}
