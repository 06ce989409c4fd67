/* Internal layout of the spectral component (lib/slq): operators, options, spectra. */
#ifndef HB_SLQ_INTERNAL_H
#define HB_SLQ_INTERNAL_H

#include "model/model_internal.h"

typedef enum {
    HB__LINOP_DENSE = 1,
    HB__LINOP_CALLBACK = 2,
    HB__LINOP_MODEL = 3,       /* full Hessian via hb_model_hvp_multi */
    HB__LINOP_MODEL_BLOCK = 4  /* H_bb via hb_model_block_hvp */
} hb__linop_kind;

struct hb_linop {
    hb_context *ctx;
    hb__linop_kind kind;
    size_t n;
    const double *A;   /* dense: the matrix (owned copy or borrowed) */
    double *A_owned;   /* dense with copy = 1: same as A, freed with the linop */
    hb_linop_fn fn;    /* callback */
    void *user;
    hb_model *model;   /* model kinds */
    size_t block;      /* model block */
};

/* Longest SLQ tasks first (lanczos.c, "Longest tasks first"; docs/design.md "Threads").
 * hb__slq_task_cost: the estimated multiply-adds of one task of an SLQ run with s's options:
 * k probes on block `block` of m (SIZE_MAX: the full Hessian); 0 when the model has no
 * estimate. hb__slq_longest_first: 1 (default); benchmarks only (bench/bench_lpt.c) set 0
 * to claim tasks in task order, the schedule before. Neither changes a result. */
int hb__slq_task_cost(hb_slq *s, hb_model *m, size_t block, size_t k, double *cost);
extern int hb__slq_longest_first;

/* Default of HB_SLQ_GROUP: probes advanced in lockstep by one task (docs/design.md
 * "Threads", measured in docs/performance.md). */
#define HB__SLQ_GROUP_DEFAULT 4

struct hb_slq {
    hb_context *ctx;
    int64_t probes, steps, reorth, dist, basis_dtype, stream, topk_max_steps, group;
    double breakdown_tol, topk_tol;
    /* statistics of the last run */
    int64_t stat_calls, stat_vectors;
    double stat_apply_s, stat_total_s;
};


typedef struct hb__probe {
    double *nodes;   /* ascending Ritz values */
    double *weights; /* sum to 1 */
    size_t count;
    int breakdown;
} hb__probe;

struct hb_spectrum {
    hb_context *ctx;
    size_t n;
    double unit_roundoff; /* u of the products that made the nodes (hb_spectrum_unit_roundoff) */
    hb__probe *probes;
    size_t n_probes, cap_probes;
};

/* Append a probe, taking ownership of nodes/weights (both hb__malloc'ed on sp->ctx) on
 * success; on failure the caller still owns them. */
int hb__spectrum_push(hb_spectrum *sp, double *nodes, double *weights, size_t count,
                      int breakdown);

/* Unit roundoff of the operator's products: 2^-53 (f64) or 2^-24 (f32/bf16 models), raised
 * to u^(2/3) for a finite-difference HVP (docs/spectral.md, "Numerically-zero spectra"). */
double hb__linop_unit_roundoff(const hb_linop *op);

/* Task-parallel application (lib/slq/lanczos.c runs probes and blocks as tasks):
 * hb__linop_serial: the operator's products may not run concurrently (a hb_linop_fn, a
 * model whose products are not concurrent_hvp: callbacks without thread_safe).
 * hb__linop_prepare: once, serially, before products on tasks (a model's data check and
 * θ refresh). hb__linop_apply_task: Y = A·X for k vectors on worker context ctx and model
 * task mt (model operators only; X finite), writing nothing but Y and mt. */
bool hb__linop_serial(const hb_linop *op);
/* hb__linop_collective: the operator's products are collectives (a data-parallel model
 * across ranks, model.h): an SLQ run on it runs every task on every rank (no division of
 * tasks over ranks) and serially (hb__linop_serial), so the products' allreduces match. */
bool hb__linop_collective(const hb_linop *op);
int hb__linop_prepare(hb_linop *op);
int hb__linop_apply_task(hb_context *ctx, hb_linop *op, hb__model_task *mt, size_t k,
                         const double *X, double *Y);


/* Smoothed density of sp (σ > 0) at x, with nodes optionally divided by scale (> 0). */
double hb__spectrum_density_at(const hb_spectrum *sp, double x, double sigma, double scale);

/* For the JS bootstrap (js_error.c), both in js.c. hb__js_probe_masses: the grid
 * hb_spectra_js_matrix(spectra, k, opt) uses and every probe's own smoothed density on it,
 * D[(probe index over all spectra, spectrum after spectrum)·G + g] (a density of that probe
 * alone; sums of rows, normalised, are the P of a spectrum made of those probes). Checks opt;
 * the caller has checked spectra. *D_out is hb__malloc'ed on spectra[0]'s context. use[k]
 * (caller's) and *n_use: which spectra hb_spectra_js_matrix compares (numerically-zero ones
 * are left out when normalising); the others' pairs are NaN there, and must be here too.
 * hb__js_distance: √JS of two distributions on G points that each sum to 1 (NaN if a term
 * is not finite). */
int hb__js_probe_masses(const hb_spectrum *const *spectra, size_t k, const hb_js_options *opt,
                        double **D_out, size_t *G_out, int *use, size_t *n_use);
double hb__js_distance(const double *P, const double *Q, size_t G);
/* hb_spectra_js_matrix_stderr with at most max_chunk replicates per parallel round
 * (0: as many as 32 MiB of matrices hold; never fewer than the threads). The chunk size
 * changes no number; the tests pass small ones to run many rounds (js_error.c). */
int hb__js_matrix_stderr_chunked(const hb_spectrum *const *spectra, size_t k,
                                 const hb_js_options *opt, size_t replicates, uint64_t stream,
                                 size_t max_chunk, double *stderr_kxk, double *stderr_mean);

#endif
