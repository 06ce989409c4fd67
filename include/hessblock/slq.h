/* libhessblock — spectral estimation: linear operators, stochastic Lanczos quadrature
 * (SLQ), spectra, Hutchinson traces, top-k eigenvalues and Jensen–Shannon heterogeneity.
 *
 * Every convention (probes, normalisation, smoothing, grids, the JS distance) is defined
 * in docs/spectral.md; the short form is repeated next to each function here. */
#ifndef HESSBLOCK_SLQ_H
#define HESSBLOCK_SLQ_H

#include "hessblock/core.h"
#include "hessblock/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Linear operators ------------------------------------------------------------------
 * A linop is a SYMMETRIC operator y = A·x on f64 vectors of length n (symmetry is the
 * caller's promise, except for dense matrices where it is checked). It applies k vectors
 * at once: X and Y are k×n row-major (one vector per row). Dense operators use one matrix
 * product per call; callback operators call the user once per vector; model operators make
 * ONE hb_model_hvp_multi / hb_model_block_hvp call with all k vectors. A linop borrows
 * what it was made from (the model, a borrowed matrix): keep that alive and unchanged
 * while the linop is used. */
typedef struct hb_linop hb_linop;

/* User operator: write y = A·x (n elements each). Return 0 on success, nonzero on failure
 * (reported as HB_ECALLBACK). */
typedef int (*hb_linop_fn)(void *user, const double *x, double *y, size_t n);

/* hb_linop_create_dense: the operator of the dense symmetric n×n row-major matrix A.
 * copy = 1: A is copied (the caller may free it at once); copy = 0: A is borrowed (no
 * copy; it must outlive the linop). A must be finite and symmetric to 1e-12 relative
 * (|a_ij − a_ji| ≤ 1e-12·max|a|). Returns HB_OK, HB_EINVAL (NULL, n = 0, copy not 0/1,
 * not symmetric), HB_ENONFINITE, HB_EOVERFLOW, HB_ENOMEM. *out is NULL on failure. */
HB_API int hb_linop_create_dense(hb_context *ctx, const double *A, size_t n, int copy,
                                 hb_linop **out);

/* hb_linop_create_callback: the operator y = fn(user, x) of size n.
 * Returns HB_OK, HB_EINVAL (NULL ctx/fn/out, n = 0), HB_ENOMEM. */
HB_API int hb_linop_create_callback(hb_context *ctx, size_t n, hb_linop_fn fn, void *user,
                                    hb_linop **out);

/* hb_linop_create_model_hessian: the model's full Hessian H (n = parameter count) at the
 * current θ and data, through hb_model_hvp_multi (k vectors per call).
 * Returns HB_OK, HB_EINVAL, HB_ENOMEM. */
HB_API int hb_linop_create_model_hessian(hb_model *m, hb_linop **out);

/* hb_linop_create_model_block: the principal sub-block H_bb of block `block`
 * (n = numel(block)), through hb_model_block_hvp. Returns HB_OK, HB_EINVAL, HB_ERANGE,
 * HB_ENOMEM. */
HB_API int hb_linop_create_model_block(hb_model *m, size_t block, hb_linop **out);

/* hb_linop_free: NULL is a no-op. */
HB_API void hb_linop_free(hb_linop *op);

/* hb_linop_size: n (0 for NULL). */
HB_API size_t hb_linop_size(const hb_linop *op);

/* hb_linop_apply: Y = A·X for k ≥ 1 vectors (k×n row-major; X and Y must not overlap).
 * Returns HB_OK, HB_EINVAL (NULL, k = 0), HB_EOVERFLOW, HB_ECALLBACK, HB_ENOMEM and the
 * model's errors. Y is not checked for finiteness here (hb_slq_* do check). */
HB_API int hb_linop_apply(hb_linop *op, size_t k, const double *X, double *Y);

/* ---- SLQ options -----------------------------------------------------------------------
 * An hb_slq holds the options of the estimators below; it is reusable and holds no
 * results. Values are ABI and never reused. Defaults in brackets. */
typedef struct hb_slq hb_slq;

typedef enum hb_slq_opt {
    HB_SLQ_PROBES = 1,        /* i64: probe vectors n_v ≥ 1 [10]                              */
    HB_SLQ_STEPS = 2,         /* i64: Lanczos steps m ≥ 1 per probe [80] (capped at n)        */
    HB_SLQ_REORTH = 3,        /* i64: hb_slq_reorth [HB_REORTH_FULL]                          */
    HB_SLQ_PROBE_DIST = 4,    /* i64: hb_slq_probe [HB_PROBE_RADEMACHER]                      */
    HB_SLQ_BASIS_DTYPE = 5,   /* i64: HB_F64 or HB_F32, storage of the Lanczos basis [HB_F64] */
    HB_SLQ_STREAM = 6,        /* i64: −1 = take a fresh stream from the context per run [−1];
                                 ≥ 0 = use this stream (probe p element i is number p·n + i) */
    HB_SLQ_TOPK_MAX_STEPS = 7,/* i64: step limit of each Lanczos run of hb_slq_topk [300]
                                 (raised to k, capped at n)                                   */
    HB_SLQ_GROUP = 8,         /* i64: probe group G ≥ 1 [4]. The probes of a run are split
                                 into groups of G consecutive probes (the last one smaller);
                                 a group advances in lockstep, one product of its active
                                 probes per Lanczos step, and groups run concurrently on the
                                 context's threads. Results depend on G (a product of k
                                 directions need not equal k single products to the last
                                 bit), never on the thread count. n_v ≤ G: one group, every
                                 step one product of all probes. Smaller G: more parallel
                                 tasks, less batching (docs/design.md "Threads").           */
    HB_SLQ_BREAKDOWN_TOL = 20,/* f64: stop a probe when β_j ≤ tol·‖T‖ (running estimate) [1e-10] */
    HB_SLQ_TOPK_TOL = 21,     /* f64: hb_slq_topk pair converged when ‖A·y − θ·y‖ ≤ tol·‖A‖,
                                 ‖A‖ estimated by the largest |θ| seen [1e-8]                 */
    /* Read-only statistics of the last hb_slq_run / _trace / _topk on this hb_slq (get only;
     * setting them is HB_EINVAL). Seconds are elapsed time (the library's monotonic clock). */
    HB_SLQ_STAT_APPLY_CALLS = 40,   /* i64: operator calls (hb_linop_apply) made          */
    HB_SLQ_STAT_APPLY_VECTORS = 41, /* i64: vectors the operator was applied to          */
    HB_SLQ_STAT_APPLY_SECONDS = 42, /* f64: time inside the operator                      */
    HB_SLQ_STAT_TOTAL_SECONDS = 43  /* f64: time of the whole call                        */
} hb_slq_opt;

typedef enum hb_slq_reorth {
    HB_REORTH_NONE = 1,       /* three-term recurrence only (cheap; ghost eigenvalues appear) */
    HB_REORTH_FULL = 2        /* classical Gram–Schmidt, twice, against all stored vectors    */
} hb_slq_reorth;

typedef enum hb_slq_probe {
    HB_PROBE_RADEMACHER = 1,  /* ±1 entries                                                   */
    HB_PROBE_GAUSSIAN = 2     /* N(0,1) entries                                               */
} hb_slq_probe;

/* hb_slq_create: options at their defaults. Returns HB_OK, HB_EINVAL, HB_ENOMEM. */
HB_API int hb_slq_create(hb_context *ctx, hb_slq **out);
/* hb_slq_free: NULL is a no-op. */
HB_API void hb_slq_free(hb_slq *s);
/* Setters/getters. i64 keys take i64, f64 keys f64; the wrong setter, an unknown key or an
 * out-of-range value is HB_EINVAL. */
HB_API int hb_slq_set_i64(hb_slq *s, hb_slq_opt key, int64_t value);
HB_API int hb_slq_get_i64(const hb_slq *s, hb_slq_opt key, int64_t *value);
HB_API int hb_slq_set_f64(hb_slq *s, hb_slq_opt key, double value);
HB_API int hb_slq_get_f64(const hb_slq *s, hb_slq_opt key, double *value);

/* ---- Spectra -----------------------------------------------------------------------------
 * A spectrum is the SLQ estimate of the spectral measure μ = (1/n)·Σ_i δ(λ_i): per probe p
 * a Gauss quadrature with nodes θ_pj (Ritz values) and weights τ_pj (squared first
 * components of the tridiagonal's eigenvectors, summing to 1); μ ≈ (1/n_v)·Σ_p Σ_j τ_pj δ(θ_pj). */
typedef struct hb_spectrum hb_spectrum;

/* hb_slq_run: SLQ on op. The probes advance in groups of HB_SLQ_GROUP: each Lanczos step
 * of a group is ONE product of its still-active probes; groups run concurrently on the
 * context's threads (unless the operator's products may not: a callback operator, a
 * callback model without thread_safe). Progress is reported as ("slq", steps done, total)
 * with one step per group and Lanczos step (one group: ("slq", j, m) as before groups).
 * Returns HB_OK, HB_EINVAL, HB_ENONFINITE (the operator returned NaN/Inf), HB_ECALLBACK,
 * HB_ECANCELED, HB_EOVERFLOW, HB_ENOMEM, HB_EUNSUPPORTED (LAPACK failure) and the
 * operator's errors. *out is NULL on failure. Memory: n_v·m·n·8 bytes for the basis with
 * full reorthogonalisation (·4 with an f32 basis), about 4·n_v·n·8 without.
 * The operator and what it borrows must not change during the call: for a model operator,
 * neither its parameters nor its micro-batches (no optimizer step, no hb_model_set_batch,
 * no writes to hb_params_data from another thread). The run relies on it: a network
 * model's products keep the forward and backward passes of each micro-batch from one
 * Lanczos step to the next and recompute only the R passes (bit-identical to recomputing
 * everything). The same holds for every run below (hb_slq_run_model(_block),
 * hb_slq_run_model_blocks, hb_slq_trace, hb_slq_trace_model_blocks, hb_slq_topk); between
 * two calls the model may change freely, and the next call sees the change.
 * Across ranks (comm.h; docs/scale-out.md): on a context with a communicator of size > 1,
 * hb_slq_run, hb_slq_run_model(_block) and hb_slq_run_model_blocks are COLLECTIVE: every
 * rank makes the same call; the probe groups are divided over the ranks and their results
 * exchanged, so every rank returns the single-process spectra bit for bit. The
 * HB_SLQ_STAT_APPLY_* statistics are then summed over the ranks, TOTAL_SECONDS and the
 * progress reports are this rank's; HB_ESTATE when the ranks' runs differ (seed, streams,
 * options, entries); a rank that fails — also with a bad argument on that rank only,
 * before any work — makes every rank fail (its status, the others' messages naming it); a
 * failing communicator callback is HB_ECALLBACK. hb_slq_topk_model_blocks is collective
 * too (below); a single hb_slq_topk and the traces are not distributed. */
HB_API int hb_slq_run(hb_slq *s, hb_linop *op, hb_spectrum **out);
/* hb_slq_run_model: SLQ on the model's full Hessian (each step = one hb_model_hvp_multi
 * call with k = n_v). hb_slq_run_model_block: on block `block`'s sub-Hessian. */
HB_API int hb_slq_run_model(hb_slq *s, hb_model *m, hb_spectrum **out);
HB_API int hb_slq_run_model_block(hb_slq *s, hb_model *m, size_t block, hb_spectrum **out);

/* ---- Several blocks in one run -----------------------------------------------------------
 * hb_slq_run_model_blocks: SLQ on n sub-Hessians of m in ONE call whose tasks (every
 * entry's probe groups, HB_SLQ_GROUP) run concurrently on the context's threads: the
 * per-block loop of an analysis, parallel. Entry i is block blocks[i] (blocks NULL: block
 * i), or the full Hessian where blocks[i] == HB_SLQ_FULL_HESSIAN; its probes are drawn from
 * stream streams[i] (streams NULL: each entry takes, in entry order, the stream a run of
 * its own would: HB_SLQ_STREAM's, or the context's next). out[i] receives exactly the
 * spectrum hb_slq_run_model_block(s, m, blocks[i], …) (hb_slq_run_model for the full
 * Hessian) gives with HB_SLQ_STREAM = streams[i], bit for bit, for every thread count.
 * A block may be listed twice; n = 0 does nothing.
 *
 * on_block_done (may be NULL) is called once per entry as soon as its spectrum is
 * complete, in completion order (not entry order), ONE CALL AT A TIME under the run's lock:
 * from the caller's thread or from one of the library's worker threads. It may read the
 * spectrum (hb_spectrum_* calls on it), save it, report progress; it must not free it, nor
 * use s, m or their context for anything else. Returning nonzero stops the run
 * (HB_ECANCELED). Cancelling otherwise: the context's progress callback (reports
 * ("slq", group steps done, group steps in all) of the whole call) returning nonzero.
 * Across ranks (see hb_slq_run) on_block_done runs on every rank, on the calling thread,
 * after the exchange, in ENTRY order; a nonzero return stops that rank only.
 *
 * Returns HB_OK, HB_EINVAL (s, m NULL; out NULL with n > 0), HB_ERANGE (a block index out
 * of range: nothing run), HB_EOVERFLOW, HB_ECANCELED, HB_ENOMEM and hb_slq_run's errors.
 * On success out[0..n) are n spectra the caller frees. On failure out[i] still holds the
 * spectrum of every entry reported to on_block_done before the run stopped, the one whose
 * call returned nonzero included (the caller frees those; a resumable caller has them saved
 * already), and NULL for every other: once a call returned nonzero there is no further
 * call, even for an entry whose last task was already running. Memory:
 * up to threads (at most one per task) groups' Lanczos bases at once, G·m·n_b·8 bytes each. */
#define HB_SLQ_FULL_HESSIAN ((size_t)-1)
typedef int (*hb_slq_block_fn)(void *user, size_t index, const hb_spectrum *spectrum);
HB_API int hb_slq_run_model_blocks(hb_slq *s, hb_model *m, const size_t *blocks,
                                   const uint64_t *streams, size_t n, hb_spectrum **out,
                                   hb_slq_block_fn on_block_done, void *user);

/* hb_spectrum_create: an empty spectrum of an operator of size n, to be filled with
 * hb_spectrum_add_probe (for spectra computed elsewhere, tests, and bindings).
 * Returns HB_OK, HB_EINVAL (NULL, n = 0), HB_ENOMEM. */
HB_API int hb_spectrum_create(hb_context *ctx, size_t n, hb_spectrum **out);
/* hb_spectrum_add_probe: append one quadrature (count ≥ 1 nodes and weights, copied).
 * Weights must be ≥ 0 with a positive sum; they are divided by their sum.
 * Returns HB_OK, HB_EINVAL, HB_ENONFINITE, HB_ENOMEM. */
HB_API int hb_spectrum_add_probe(hb_spectrum *sp, const double *nodes, const double *weights,
                                 size_t count);
/* hb_spectrum_free: NULL is a no-op. */
HB_API void hb_spectrum_free(hb_spectrum *sp);
/* hb_spectrum_restore_probe: append one quadrature EXACTLY as given — no sorting, no
 * renormalisation of the weights — with its breakdown flag: for rebuilding, bit for bit, a
 * spectrum whose probes were read with hb_spectrum_probe and saved (e.g. `hessblock`'s
 * per-block files of an interrupted run). Nodes must be ascending (non-decreasing), weights
 * ≥ 0 with a sum within 1e-9 of 1 (what hb_spectrum_probe returns). Returns HB_OK, HB_EINVAL
 * (NULL, count = 0, unsorted nodes, a negative weight, a sum away from 1), HB_ENONFINITE,
 * HB_EOVERFLOW, HB_ENOMEM. */
HB_API int hb_spectrum_restore_probe(hb_spectrum *sp, const double *nodes,
                                     const double *weights, size_t count, int breakdown);
/* hb_spectrum_set_unit_roundoff: set the unit roundoff u that hb_spectrum_unit_roundoff
 * returns (what the numerically-zero test uses), for a restored spectrum of an f32 or
 * finite-difference operator. Returns HB_OK, HB_EINVAL (NULL, u not in (0, 1)). */
HB_API int hb_spectrum_set_unit_roundoff(hb_spectrum *sp, double u);

/* Accessors (0 / NULL on a NULL spectrum). dim = n of the operator. */
HB_API size_t hb_spectrum_dim(const hb_spectrum *sp);
HB_API size_t hb_spectrum_num_probes(const hb_spectrum *sp);
/* hb_spectrum_unit_roundoff: the unit roundoff u of the products that produced the nodes,
 * used by the numerically-zero test of the JS functions: 2^-53 for spectra from
 * hb_spectrum_create and from f64 operators, 2^-24 for a model computing in f32 (f32 or
 * bf16 parameters), u^(2/3) of those for a model whose HVP is a finite difference of
 * gradients (hb_model_has_exact_hvp = 0). 0 for NULL. */
HB_API double hb_spectrum_unit_roundoff(const hb_spectrum *sp);
/* hb_spectrum_probe: nodes (ascending) and weights of probe p, owned by sp; steps = the
 * Lanczos steps that probe ran (= count), breakdown = 1 if it stopped early because
 * β fell below the tolerance (an invariant subspace was found). Any output may be NULL.
 * Returns HB_OK, HB_EINVAL, HB_ERANGE. */
HB_API int hb_spectrum_probe(const hb_spectrum *sp, size_t p, const double **nodes,
                             const double **weights, size_t *count, int *breakdown);

/* hb_spectrum_density: out[g] = (1/n_v)·Σ_p Σ_j τ_pj·N(grid[g]; θ_pj, σ²), a density
 * that integrates to 1 over ℝ. sigma > 0 is absolute; sigma ≤ 0 selects the default
 * σ = 0.01·(λmax − λmin) of this spectrum (0.01·max(|λ|) if the range is 0, 0.01 if
 * all nodes are 0). Returns HB_OK, HB_EINVAL (NULL, n_grid = 0), HB_ENONFINITE (grid). */
HB_API int hb_spectrum_density(const hb_spectrum *sp, const double *grid, size_t n_grid,
                               double sigma, double *out);
/* hb_spectrum_default_sigma: the σ used by sigma ≤ 0 above. */
HB_API double hb_spectrum_default_sigma(const hb_spectrum *sp);

/* hb_spectrum_moment: the estimate of (1/n)·tr(A^order) = mean over probes of
 * Σ_j τ_pj θ_pj^order, and its standard error (std over probes / √n_v; 0 with one probe).
 * Exact per probe (v_pᵀA^k v_p/‖v_p‖²) for order ≤ 2·steps − 1. stderr may be NULL.
 * Returns HB_OK, HB_EINVAL (NULL, order < 0). */
HB_API int hb_spectrum_moment(const hb_spectrum *sp, int order, double *value,
                              double *stderr_out);
/* hb_spectrum_trace: n·moment(1) and its standard error (a Hutchinson estimate). */
HB_API int hb_spectrum_trace(const hb_spectrum *sp, double *trace, double *stderr_out);
/* hb_spectrum_extremes: λmin, λmax estimates = min / max Ritz value over all probes
 * (Ritz values lie inside [λmin, λmax], so these are inner bounds). Either may be NULL. */
HB_API int hb_spectrum_extremes(const hb_spectrum *sp, double *lambda_min, double *lambda_max);

/* Export (field names are stable, docs/spectral.md). JSON:
 *   {"format":"hessblock-spectrum","version":1,"dim":n,"num_probes":k,
 *    "lambda_min":…,"lambda_max":…,"trace":…,"trace_stderr":…,"default_sigma":…,
 *    "probes":[{"steps":s,"breakdown":false,"nodes":[…],"weights":[…]},…]}
 * CSV: header "probe,index,node,weight", one row per node. Numbers use %.17g as in the C
 * locale ('.' as radix) whatever locale the application set.
 * hb_spectrum_save_json / _csv write a file (HB_EIO on failure).
 * hb_spectrum_to_json / _csv write into buf (cap bytes, NUL-terminated) and set *needed to
 * the full length without the NUL; with buf NULL / cap too small they return HB_ERANGE
 * (nothing useful written) but still set *needed, snprintf-style. */
HB_API int hb_spectrum_save_json(const hb_spectrum *sp, const char *path);
HB_API int hb_spectrum_save_csv(const hb_spectrum *sp, const char *path);
HB_API int hb_spectrum_to_json(const hb_spectrum *sp, char *buf, size_t cap, size_t *needed);
HB_API int hb_spectrum_to_csv(const hb_spectrum *sp, char *buf, size_t cap, size_t *needed);

/* ---- Traces and extreme eigenvalues ------------------------------------------------------ */
/* hb_slq_trace: Hutchinson estimate tr(A) ≈ (1/n_v)·Σ_p v_pᵀA v_p with n_v = HB_SLQ_PROBES
 * probes of HB_SLQ_PROBE_DIST (one batched apply), and its standard error (std / √n_v).
 * stderr_out may be NULL. Returns as hb_slq_run. */
HB_API int hb_slq_trace(hb_slq *s, hb_linop *op, double *trace, double *stderr_out);
/* hb_slq_trace_model_blocks: tr(H_bb) for every block b with ONE hb_model_hvp_multi call
 * of n_v full-length probes: tr(H_bb) ≈ mean_p v_p,bᵀ(H v_p)_b (unbiased; the off-diagonal
 * blocks add variance, reported in the standard error). traces and stderrs (may be NULL)
 * have room for hb_params_num_blocks entries. Returns as hb_slq_run. */
HB_API int hb_slq_trace_model_blocks(hb_slq *s, hb_model *m, double *traces, double *stderrs);

typedef enum hb_eig_which {
    HB_EIG_LARGEST = 1,           /* largest algebraic, descending */
    HB_EIG_SMALLEST = 2,          /* smallest algebraic, ascending */
    HB_EIG_LARGEST_MAGNITUDE = 3  /* largest |λ|, descending |λ| */
} hb_eig_which;

/* hb_slq_topk: the k most extreme eigenvalues of op COUNTING MULTIPLICITY (a triple
 * smallest eigenvalue −1 gives [−1, −1, −1]), in `which` order, by restarted Lanczos with
 * explicit deflation (docs/spectral.md "Top-k"): each run, with full reorthogonalisation
 * and at most HB_SLQ_TOPK_MAX_STEPS steps, starts from a fresh Gaussian vector (stream as
 * HB_SLQ_STREAM; run r uses numbers r·n… of it; HB_SLQ_PROBE_DIST is not used) and works
 * on the complement of the eigenvectors locked by the runs before; its converged Ritz pairs
 * are locked. A pair has converged when its residual ‖A·y − θ·y‖ (= β·|last component of
 * its tridiagonal eigenvector|) ≤ HB_SLQ_TOPK_TOL·‖A‖ (‖A‖ estimated by the largest |θ|
 * seen), or when its run found an invariant subspace (residual reported as 0).
 * values gets k entries, vectors (may be NULL) k×n row-major unit vectors, residuals (may
 * be NULL) k residual norms, converged (may be NULL) c ∈ [0, k]. What c promises:
 *  - the pairs 0..c−1 each have residual ≤ HB_SLQ_TOPK_TOL·‖A‖, their vectors are mutually
 *    orthonormal (to rounding), so each value is within that residual of an eigenvalue;
 *  - a later run, from a random start orthogonal to all locked vectors, converged to an
 *    eigenvalue no more extreme than values[c−1] (up to the tolerance): the spectrum of A
 *    is the locked values plus that complement's, so values[0..c) are the c most extreme
 *    eigenvalues counting multiplicity, PROVIDED each run's most extreme converged value is
 *    its complement's most extreme eigenvalue. That is the premise of every Krylov method,
 *    not a proof: an eigenvector orthogonal to a start vector is never seen from it (a
 *    random start makes that probability 0), and one with a tiny component is seen late.
 * c = k is the normal result. c < k when a run's most extreme pair did not converge within
 * its step limit: pairs c..k−1 are then the best estimates available (other locked pairs
 * and the last run's unconverged Ritz pairs, merged in `which` order). Cost: two runs when
 * the k eigenvalues are distinct (one finds them, one certifies them), one more run per
 * further copy of a repeated eigenvalue; memory (k + 1 + HB_SLQ_TOPK_MAX_STEPS)·n·8 bytes.
 * Progress is reported per run as ("slq", step, steps of that run at most).
 * Returns HB_OK, HB_EINVAL (k = 0 or k > n, bad which), HB_EUNSUPPORTED (8 random starts
 * in a row lay in the span of the locked vectors, or LAPACK failed), and as hb_slq_run. */
HB_API int hb_slq_topk(hb_slq *s, hb_linop *op, size_t k, hb_eig_which which, double *values,
                       double *vectors, double *residuals, size_t *converged);

/* hb_slq_topk_model_blocks: hb_slq_topk on n sub-Hessians of m in one call — the top-k
 * column of a per-block analysis — and, with a communicator (comm.h), the collective form
 * of top-k: the entries are divided over the ranks (as hb_slq_run_model_blocks divides its
 * tasks: longest first by the estimated cost of a product, else round robin) and gathered,
 * so EVERY rank returns what one process returns, bit for bit. Entry i is block blocks[i]
 * (blocks NULL: block i) or the full Hessian (HB_SLQ_FULL_HESSIAN); it is exactly
 * hb_slq_topk(s, that operator, min(k, its size), which, …) with HB_SLQ_STREAM = streams[i]
 * (streams NULL: each entry takes, in entry order, the stream a run of its own would:
 * HB_SLQ_STREAM's, or the context's next). Entries run one after the other (each run's
 * products use the context's threads). values gets n×k (entry i at values[i·k]); an entry
 * of size d < k fills min(k, d) and the rest is NaN; residuals (may be NULL) the same
 * layout; converged (may be NULL) n counts (hb_slq_topk's c). Eigenvectors are not
 * returned (use hb_slq_topk on one block). Statistics: summed over the entries (and ranks).
 * Returns HB_OK, HB_EINVAL (s, m NULL; values NULL with n > 0; k = 0; bad which),
 * HB_ERANGE (a block out of range: nothing run), HB_EOVERFLOW, HB_ENOMEM and hb_slq_topk's
 * errors; across ranks as hb_slq_run (a rank that fails — a bad argument too — makes every
 * rank fail, naming it). On failure values are unspecified. */
HB_API int hb_slq_topk_model_blocks(hb_slq *s, hb_model *m, const size_t *blocks,
                                    const uint64_t *streams, size_t n, size_t k,
                                    hb_eig_which which, double *values, double *residuals,
                                    size_t *converged);

/* ---- Heterogeneity: Jensen–Shannon distance ----------------------------------------------
 * For spectra S_1..S_k (docs/spectral.md, "JS conventions"):
 *  1. normalisation (optional): every node of S_i is divided by s_i = max_j |θ_ij| over all
 *     its probes (a spectrum with s_i = 0 is left as is);
 *  2. shared LINEAR grid of G points from lo − 5σ to hi + 5σ, where lo, hi = min, max node
 *     over all spectra compared, σ = sigma_rel·(hi − lo) (sigma_rel·max(|lo|,|hi|) if
 *     hi = lo, sigma_rel if both are 0); negative eigenvalues are kept as they are;
 *  3. each spectrum's smoothed density (hb_spectrum_density with σ) on the grid,
 *     normalised to sum 1 (discrete distributions P, Q);
 *  4. JS(P,Q) = ½KL(P‖M) + ½KL(Q‖M), M = ½(P+Q), base-2 logs (0·log 0 = 0), so JS ∈ [0,1];
 *     the DISTANCE is √JS ∈ [0,1]. For a pair the grid covers the pair; for a matrix it is
 *     shared by all k spectra.
 *  Grid (field `grid`, added after sigma_rel): HB_JS_GRID_LINEAR (default) is the grid
 *  above. HB_JS_GRID_SYMLOG first maps every node x (after step 1) to u = asinh(x/c), with
 *  c = symlog_floor_rel·max|x| over all spectra compared (c = 1 if that max is 0), and then
 *  does steps 2–4 in u: a linear grid and smoothing in u, i.e. a symmetric log-|λ| axis that
 *  is linear for |x| ≪ c and logarithmic for |x| ≫ c, where σ becomes a RELATIVE width.
 *  Callers compiled before `grid` existed pass struct_size = offsetof(hb_js_options, grid)
 *  and get the linear grid.
 *  Numerically-zero spectra (fields `zero_rel_tol`, `keep_zero`, added after
 *  symlog_floor_rel): spectrum i is ZERO when max_j |θ_ij| ≤ tol·max over all k spectra of
 *  max |θ|, with tol = zero_rel_tol, or, when zero_rel_tol < 0 (default), tol = u, the
 *  largest hb_spectrum_unit_roundoff of the k spectra (2^-53 ≈ 1.1e-16 for f64, 2^-24 ≈
 *  6.0e-8 for f32 models): below one rounding unit of the largest eigenvalue (the backward
 *  error of the products) curvature is not resolved. A spectrum whose nodes are all exactly
 *  0 is always zero. Its nodes are rounding, not curvature, so with normalize = 1 and
 *  keep_zero = 0
 *  (default) it is LEFT OUT: it does not enter the pooled grid, its row and column of the
 *  matrix are NaN (diagonal included), and mean_offdiag is the mean over the k'(k'−1)
 *  entries between the k' compared spectra (0 when k' = 1, NaN when k' = 0). Without
 *  normalisation zero spectra are compared as they are (a spike at 0 is what zero
 *  curvature looks like on a shared axis), and keep_zero = 1 restores that for normalised
 *  comparisons too (each is then divided by its own max |θ|, as before). Callers compiled
 *  before these fields existed get the defaults. hb_spectra_zero_flags reports the test. */
typedef enum hb_js_grid {
    HB_JS_GRID_LINEAR = 0,
    HB_JS_GRID_SYMLOG = 1
} hb_js_grid;
typedef struct hb_js_options {
    size_t struct_size;  /* sizeof(hb_js_options) */
    int normalize;       /* 1: divide each spectrum by its max |θ| first [0] */
    size_t grid_points;  /* G ≥ 16 [1024] */
    double sigma_rel;    /* > 0, relative to the pooled node range [0.01] */
    int grid;            /* hb_js_grid [HB_JS_GRID_LINEAR] */
    double symlog_floor_rel; /* SYMLOG only: c relative to the largest |node|, in (0, 1) [1e-6] */
    double zero_rel_tol; /* < 0: automatic, u of the spectra; else in [0, 1) [−1] */
    int keep_zero;       /* 1: normalised comparisons keep numerically-zero spectra [0] */
} hb_js_options;
#define HB_JS_OPTIONS_INIT                                                                   \
    { sizeof(hb_js_options), 0, 1024, 0.01, HB_JS_GRID_LINEAR, 1e-6, -1.0, 0 }

/* hb_spectra_zero_flags: the numerically-zero test above on k spectra (options may be
 * NULL = defaults; only zero_rel_tol is read). is_zero (may be NULL) gets k flags 0/1,
 * n_zero (may be NULL) their count, tol_used (may be NULL) the relative tolerance applied.
 * Returns HB_OK, HB_EINVAL (NULL spectra, k = 0, bad options), HB_ESTATE (a spectrum
 * without probes), HB_ENOMEM (only when is_zero is NULL: k flags are allocated). */
HB_API int hb_spectra_zero_flags(const hb_spectrum *const *spectra, size_t k,
                                 const hb_js_options *opt, int *is_zero, size_t *n_zero,
                                 double *tol_used);

/* hb_spectrum_js_distance: √JS between a and b (options may be NULL = defaults); NaN (with
 * HB_OK) when normalising and a or b is numerically zero (see above) unless keep_zero = 1.
 * Returns HB_OK, HB_EINVAL (NULL, bad options), HB_ENOMEM. */
HB_API int hb_spectrum_js_distance(const hb_spectrum *a, const hb_spectrum *b,
                                   const hb_js_options *opt, double *distance);
/* hb_spectra_js_matrix: the k×k row-major matrix of JS distances (symmetric, zero
 * diagonal) on ONE grid shared by all k spectra, and (mean_offdiag may be NULL) the mean
 * of its k(k−1) off-diagonal entries (0 when k = 1). When normalising, numerically-zero
 * spectra are left out as described above (NaN rows/columns, mean over the others).
 * k = 0 is HB_EINVAL; when spectra[0] is a spectrum its context gets the message.
 * Returns HB_OK, HB_EINVAL, HB_ESTATE (a spectrum without probes), HB_ENONFINITE, HB_ENOMEM. */
HB_API int hb_spectra_js_matrix(const hb_spectrum *const *spectra, size_t k,
                                const hb_js_options *opt, double *out_kxk,
                                double *mean_offdiag);

/* hb_spectra_js_matrix_stderr: standard errors of hb_spectra_js_matrix(spectra, k, opt)
 * by bootstrap over probes: each of `replicates` replicates redraws every spectrum's n_v
 * probes with replacement (independently per spectrum) and recomputes the whole matrix
 * from them on the grid of the full estimate (grid, σ and normalisation scales held
 * fixed); se = sample sd (R − 1) over the replicates, for every entry
 * (stderr_kxk, k×k row-major, zero diagonal) and for the mean off-diagonal JS⁰
 * (stderr_mean; 0 when k = 1). Either output may be NULL, not both. Deterministic for
 * (context seed, stream): draw j of spectrum i in replicate r is number
 * ((r·k + i)·2^24 + j) of that counter-based stream, whatever the thread count.
 * Threads: the replicates run on the context's threads (HB_CTX_THREADS), combined in
 * replicate order, so every output is bit-identical for any thread count; progress
 * ("js-bootstrap", r, R) comes from the calling thread, in order, after each round of
 * replicates (every replicate at 1 thread), and a cancel takes effect at the next report.
 * It measures PROBE noise only: a Lanczos length too short for the grid biases every probe
 * the same way, which resampling cannot see (docs/spectral.md, "Estimation error").
 * Cost: one density per probe on the grid, then per replicate k·n_v·G + k²·G.
 * Returns HB_OK; HB_EINVAL (NULL, both outputs NULL, replicates outside [2, 100000], a
 *   spectrum with ≥ 2^24 probes, bad options); HB_ESTATE (a spectrum has no probes, or has
 *   ONE probe: resampling cannot estimate an error then, so every output is set to NaN);
 *   HB_EOVERFLOW; HB_ENOMEM; HB_ECANCELED (progress callback, task "js-bootstrap");
 *   HB_ENONFINITE as hb_spectra_js_matrix. */
HB_API int hb_spectra_js_matrix_stderr(const hb_spectrum *const *spectra, size_t k,
                                       const hb_js_options *opt, size_t replicates,
                                       uint64_t stream, double *stderr_kxk,
                                       double *stderr_mean);

/* hb_slq_block_heterogeneity: for a model, SLQ on every block's sub-Hessian (B = number of
 * blocks; each with hb_slq_run_model_block and this slq's options), then the B×B JS matrix
 * and its off-diagonal mean (the paper's JS⁰ when run at initialisation), numerically-zero
 * blocks treated as in hb_spectra_js_matrix (left out when normalising: NaN rows/columns,
 * mean over the other blocks; hb_spectra_zero_flags on the returned spectra says which).
 * spectra (may be NULL) receives B spectra the caller frees; js_BxB and mean_offdiag may be
 * NULL.
 * Returns as hb_slq_run; on failure nothing is left allocated and spectra[] are NULL. */
HB_API int hb_slq_block_heterogeneity(hb_slq *s, hb_model *m, const hb_js_options *opt,
                                      hb_spectrum **spectra, double *js_BxB,
                                      double *mean_offdiag);

#ifdef __cplusplus
}
#endif
#endif /* HESSBLOCK_SLQ_H */
