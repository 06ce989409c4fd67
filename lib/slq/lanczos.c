/* Lanczos in float64: SLQ (one task per group of probes, docs/design.md "Threads"), Hutchinson
 * traces and top-k eigenpairs.
 *
 * Step j of one probe (q_0 = v/‖v‖, β_{-1} = 0):
 *   w = A·q_j;  α_j = q_jᵀw;  w ← w − α_j q_j − β_{j−1} q_{j−1}
 *   FULL:  twice  h = Q_jᵀw, w ← w − Q_j h     (classical Gram–Schmidt against q_0..q_j)
 *   β_j = ‖w‖;  β_j ≤ tol·‖T‖ → breakdown (invariant subspace; stop this probe);
 *   else q_{j+1} = w/β_j.
 * T = tridiag(β, α, β) of the steps run; T = Z diag(θ) Zᵀ (LAPACKE_dstev);
 * nodes θ_i, weights τ_i = Z_{0i}².
 * SLQ runs every probe as a task of its own (below, "SLQ"); top-k is one sequential run. */
#include <lapacke.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/tasks.h"
#include "kernels/kernels.h"
#include "slq/slq_internal.h"

/* ---- Options ----------------------------------------------------------------------------- */
int hb_slq_create(hb_context *ctx, hb_slq **out) {
    if (!ctx) return HB_EINVAL;
    HB_CHECK(ctx, out != NULL, HB_EINVAL, "out is NULL");
    *out = NULL;
    hb_slq *s = hb__calloc(ctx, 1, sizeof *s, "slq options");
    if (!s) return HB_ENOMEM;
    s->ctx = ctx;
    s->probes = 10;
    s->steps = 80;
    s->reorth = HB_REORTH_FULL;
    s->dist = HB_PROBE_RADEMACHER;
    s->basis_dtype = HB_F64;
    s->stream = -1;
    s->topk_max_steps = 300;
    s->group = HB__SLQ_GROUP_DEFAULT;
    s->breakdown_tol = 1e-10;
    s->topk_tol = 1e-8;
    *out = s;
    return HB_OK;
}

void hb_slq_free(hb_slq *s) {
    if (s) hb__free(s->ctx, s);
}

int hb_slq_set_i64(hb_slq *s, hb_slq_opt key, int64_t v) {
    if (!s) return HB_EINVAL;
    hb_context *ctx = s->ctx;
    switch (key) {
    case HB_SLQ_PROBES:
        HB_CHECK(ctx, v >= 1 && v <= (1 << 20), HB_EINVAL, "probes must be in [1, 2^20], got %lld",
                 (long long)v);
        s->probes = v;
        return HB_OK;
    case HB_SLQ_STEPS:
        HB_CHECK(ctx, v >= 1 && v <= (1 << 20), HB_EINVAL, "steps must be in [1, 2^20], got %lld",
                 (long long)v);
        s->steps = v;
        return HB_OK;
    case HB_SLQ_TOPK_MAX_STEPS:
        HB_CHECK(ctx, v >= 1 && v <= (1 << 20), HB_EINVAL,
                 "top-k max steps must be in [1, 2^20], got %lld", (long long)v);
        s->topk_max_steps = v;
        return HB_OK;
    case HB_SLQ_REORTH:
        HB_CHECK(ctx, v == HB_REORTH_NONE || v == HB_REORTH_FULL, HB_EINVAL,
                 "unknown reorthogonalisation %lld", (long long)v);
        s->reorth = v;
        return HB_OK;
    case HB_SLQ_PROBE_DIST:
        HB_CHECK(ctx, v == HB_PROBE_RADEMACHER || v == HB_PROBE_GAUSSIAN, HB_EINVAL,
                 "unknown probe distribution %lld", (long long)v);
        s->dist = v;
        return HB_OK;
    case HB_SLQ_BASIS_DTYPE:
        HB_CHECK(ctx, v == HB_F64 || v == HB_F32, HB_EINVAL, "basis dtype must be HB_F64 or HB_F32");
        s->basis_dtype = v;
        return HB_OK;
    case HB_SLQ_STREAM:
        HB_CHECK(ctx, v >= -1, HB_EINVAL, "stream must be -1 or >= 0, got %lld", (long long)v);
        s->stream = v;
        return HB_OK;
    case HB_SLQ_GROUP:
        HB_CHECK(ctx, v >= 1 && v <= (1 << 20), HB_EINVAL,
                 "probe group must be in [1, 2^20], got %lld", (long long)v);
        s->group = v;
        return HB_OK;
    default:
        return hb__fail(ctx, HB_EINVAL, "key %d is not an integer SLQ option", (int)key);
    }
}

int hb_slq_get_i64(const hb_slq *s, hb_slq_opt key, int64_t *v) {
    if (!s) return HB_EINVAL;
    HB_CHECK(s->ctx, v != NULL, HB_EINVAL, "value is NULL");
    switch (key) {
    case HB_SLQ_PROBES: *v = s->probes; return HB_OK;
    case HB_SLQ_STEPS: *v = s->steps; return HB_OK;
    case HB_SLQ_TOPK_MAX_STEPS: *v = s->topk_max_steps; return HB_OK;
    case HB_SLQ_REORTH: *v = s->reorth; return HB_OK;
    case HB_SLQ_PROBE_DIST: *v = s->dist; return HB_OK;
    case HB_SLQ_BASIS_DTYPE: *v = s->basis_dtype; return HB_OK;
    case HB_SLQ_STREAM: *v = s->stream; return HB_OK;
    case HB_SLQ_GROUP: *v = s->group; return HB_OK;
    case HB_SLQ_STAT_APPLY_CALLS: *v = s->stat_calls; return HB_OK;
    case HB_SLQ_STAT_APPLY_VECTORS: *v = s->stat_vectors; return HB_OK;
    default: return hb__fail(s->ctx, HB_EINVAL, "key %d is not an integer SLQ option", (int)key);
    }
}

int hb_slq_set_f64(hb_slq *s, hb_slq_opt key, double v) {
    if (!s) return HB_EINVAL;
    hb_context *ctx = s->ctx;
    switch (key) {
    case HB_SLQ_BREAKDOWN_TOL:
        HB_CHECK(ctx, isfinite(v) && v > 0 && v < 1, HB_EINVAL, "breakdown tolerance must be in (0, 1)");
        s->breakdown_tol = v;
        return HB_OK;
    case HB_SLQ_TOPK_TOL:
        HB_CHECK(ctx, isfinite(v) && v > 0 && v < 1, HB_EINVAL, "top-k tolerance must be in (0, 1)");
        s->topk_tol = v;
        return HB_OK;
    default:
        return hb__fail(ctx, HB_EINVAL, "key %d is not a real SLQ option", (int)key);
    }
}

int hb_slq_get_f64(const hb_slq *s, hb_slq_opt key, double *v) {
    if (!s) return HB_EINVAL;
    HB_CHECK(s->ctx, v != NULL, HB_EINVAL, "value is NULL");
    switch (key) {
    case HB_SLQ_BREAKDOWN_TOL: *v = s->breakdown_tol; return HB_OK;
    case HB_SLQ_TOPK_TOL: *v = s->topk_tol; return HB_OK;
    case HB_SLQ_STAT_APPLY_SECONDS: *v = s->stat_apply_s; return HB_OK;
    case HB_SLQ_STAT_TOTAL_SECONDS: *v = s->stat_total_s; return HB_OK;
    default: return hb__fail(s->ctx, HB_EINVAL, "key %d is not a real SLQ option", (int)key);
    }
}

/* ---- Shared pieces --------------------------------------------------------------------- */
static void stats_reset(hb_slq *s) {
    s->stat_calls = s->stat_vectors = 0;
    s->stat_apply_s = 0;
    s->stat_total_s = -hb__seconds();
}

static void stats_done(hb_slq *s) { s->stat_total_s += hb__seconds(); }

/* ---- SLQ --------------------------------------------------------------------------------
 * Every group of probes is one TASK (lib/core/tasks.h; "Probe groups as tasks" below): a
 * probe's start vector depends only on (seed, stream, probe index) — probe p is numbers
 * p·n … p·n + n − 1 of the stream — and its group's Lanczos run, reorthogonalisation and
 * tridiagonal eigenproblems are computed by one worker alone (level 1 and gemv always
 * single-threaded; a gemm threaded inside only when the task owns several threads, with
 * the same bits for any team), so its nodes and weights are the same on any worker and
 * for any number of threads. The spectrum gathers them in probe order. */
typedef struct {
    double *Q;      /* k×n current vectors q_j */
    double *Qp;     /* k×n previous vectors q_{j-1} */
    double *X, *W;  /* k×n packed operator input / output */
    void *B;        /* k × m × n basis (FULL) */
    double *alpha, *beta; /* k×m */
    double *tnorm;  /* k */
    size_t *steps, *act; /* k */
    int *broke;     /* k */
    void *h;        /* m doubles */
    float *wf, *uf; /* n floats (f32 basis) */
    double *d, *e, *Z; /* m, 3m (off-diagonal + dstev workspace), m×m */
} slq_work;

static void work_free(hb_context *ctx, slq_work *w) {
    void *ptrs[] = {w->Q, w->Qp, w->X, w->W, w->B, w->alpha, w->beta, w->tnorm, w->steps, w->act,
                    w->broke, w->h, w->wf, w->uf, w->d, w->e, w->Z};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++) hb__free(ctx, ptrs[i]);
    memset(w, 0, sizeof *w);
}

static int work_alloc(hb_context *ctx, slq_work *w, size_t k, size_t m, size_t n, bool full,
                      hb_dtype bdt) {
    memset(w, 0, sizeof *w);
    size_t kn, km, kmn, mm;
    HB_CHECK(ctx, hb__mul_size(k, n, &kn) && hb__mul_size(k, m, &km) && hb__mul_size(km, n, &kmn) &&
                      hb__mul_size(m, m, &mm) && hb__mul_size(kmn, 8, &(size_t){0}),
             HB_EOVERFLOW, "SLQ work sizes overflow (k %zu, m %zu, n %zu)", k, m, n);
    bool ok = (w->Q = hb__malloc(ctx, kn * sizeof(double), "SLQ vectors")) &&
              (w->Qp = hb__calloc(ctx, kn, sizeof(double), "SLQ vectors")) &&
              (w->X = hb__malloc(ctx, kn * sizeof(double), "SLQ operator input")) &&
              (w->W = hb__malloc(ctx, kn * sizeof(double), "SLQ operator output")) &&
              (!full || (w->B = hb__malloc(ctx, kmn * hb_dtype_size(bdt), "Lanczos basis"))) &&
              (w->alpha = hb__calloc(ctx, km, sizeof(double), "SLQ alpha")) &&
              (w->beta = hb__calloc(ctx, km, sizeof(double), "SLQ beta")) &&
              (w->tnorm = hb__calloc(ctx, k, sizeof(double), "SLQ norms")) &&
              (w->steps = hb__calloc(ctx, k, sizeof(size_t), "SLQ steps")) &&
              (w->act = hb__calloc(ctx, k, sizeof(size_t), "SLQ active list")) &&
              (w->broke = hb__calloc(ctx, k, sizeof(int), "SLQ breakdown flags")) &&
              (w->h = hb__malloc(ctx, m * sizeof(double), "reorth coefficients")) &&
              (bdt == HB_F64 || !full ||
               ((w->wf = hb__malloc(ctx, n * sizeof(float), "f32 scratch")) &&
                (w->uf = hb__malloc(ctx, n * sizeof(float), "f32 scratch")))) &&
              (w->d = hb__malloc(ctx, m * sizeof(double), "tridiagonal")) &&
              (w->e = hb__malloc(ctx, 3 * m * sizeof(double), "tridiagonal and dstev workspace")) &&
              (w->Z = hb__malloc(ctx, mm * sizeof(double), "tridiagonal eigenvectors"));
    if (!ok) {
        work_free(ctx, w);
        return HB_ENOMEM;
    }
    return HB_OK;
}

/* What one worker keeps between its tasks: the model's task state (its workspaces grow
 * once) and the Lanczos work of one probe, sized for m_cap steps of n_cap elements. */
typedef struct slq_worker {
    hb__model_task mt;
    slq_work w;
    size_t k_cap, m_cap, n_cap;
    bool has_work;
} slq_worker;

/* The results of one task (a probe; for traces only the counters). */
typedef struct probe_out {
    double *nodes, *weights;
    size_t count;
    int broke;
    int64_t calls, vectors;
    double apply_s;
} probe_out;

/* One probe task's view of the run. */
typedef struct lanczos_run {
    hb_context *ctx;     /* the worker's */
    const hb_slq *s;
    hb_linop *op;
    hb__model_task *mt;
    probe_out *stat;
    atomic_llong *done;  /* progress: group steps done in the run, of `total` */
    int64_t total;
} lanczos_run;

static void workers_free(hb_context *ctx, hb_linop *op, slq_worker *wk, size_t count) {
    if (!wk) return;
    bool model = op && (op->kind == HB__LINOP_MODEL || op->kind == HB__LINOP_MODEL_BLOCK);
    for (size_t i = 0; i < count; i++) {
        if (wk[i].has_work) work_free(ctx, &wk[i].w);
        wk[i].mt.ctx = ctx; /* its allocations went to ctx's allocator */
        if (model) hb__model_task_free(op->model, &wk[i].mt);
    }
    hb__free(ctx, wk);
}

static void outs_free(hb_context *ctx, probe_out *o, size_t count) {
    if (!o) return;
    for (size_t i = 0; i < count; i++) {
        hb__free(ctx, o[i].nodes);
        hb__free(ctx, o[i].weights);
    }
    hb__free(ctx, o);
}

/* Y = A·X on the task, counted and timed into its stats */
static int apply_timed(lanczos_run *r, size_t k, const double *X, double *Y) {
    double t0 = hb__seconds();
    int rc = hb__linop_apply_task(r->ctx, r->op, r->mt, k, X, Y);
    r->stat->apply_s += hb__seconds() - t0;
    r->stat->calls++;
    r->stat->vectors += (int64_t)k;
    return rc;
}

static int check_finite(hb_context *ctx, const double *Y, size_t len) {
    for (size_t i = 0; i < len; i++)
        HB_CHECK(ctx, isfinite(Y[i]), HB_ENONFINITE,
                 "the operator returned a non-finite value (element %zu of its output)", i);
    return HB_OK;
}

/* Orthogonalise w (f64, n) against `rows` basis vectors B (rows×n, dtype bdt), twice
 * (classical Gram–Schmidt, "twice is enough"). h: rows doubles (f64 basis) or floats;
 * wf, uf: n-float scratch for the f32 basis. */
static int reorth_cgs2(hb_context *ctx, hb_dtype bdt, const void *B, size_t rows, size_t n,
                       double *w, void *h, float *wf, float *uf) {
    for (int pass = 0; pass < 2; pass++) {
        if (bdt == HB_F64) {
            HB_TRY(hb__gemv(ctx, HB_F64, false, (int64_t)rows, (int64_t)n, 1.0, B, (int64_t)n, w, 1,
                            0.0, h, 1));
            HB_TRY(hb__gemv(ctx, HB_F64, true, (int64_t)rows, (int64_t)n, -1.0, B, (int64_t)n, h, 1,
                            1.0, w, 1));
        } else {
            for (size_t i = 0; i < n; i++) wf[i] = (float)w[i];
            HB_TRY(hb__gemv(ctx, HB_F32, false, (int64_t)rows, (int64_t)n, 1.0, B, (int64_t)n, wf, 1,
                            0.0, h, 1));
            HB_TRY(hb__gemv(ctx, HB_F32, true, (int64_t)rows, (int64_t)n, 1.0, B, (int64_t)n, h, 1,
                            0.0, uf, 1));
            for (size_t i = 0; i < n; i++) w[i] -= (double)uf[i];
        }
    }
    return HB_OK;
}

static void store_row(hb_dtype bdt, void *B, size_t row, size_t n, const double *q) {
    if (bdt == HB_F64) {
        memcpy((double *)B + row * n, q, n * sizeof(double));
    } else {
        float *dst = (float *)B + row * n;
        for (size_t i = 0; i < n; i++) dst[i] = (float)q[i];
    }
}

/* Eigen-decomposition of the tridiagonal (alpha[0..s), beta[0..s-1)) into nodes (ascending)
 * and, if Z is non-NULL, the s×s column-major eigenvector matrix. d: scratch of s; e:
 * scratch of 3s (the off-diagonal, then dstev's workspace of 2s − 2). The _work form takes
 * our workspace: LAPACKE_dstev would malloc it behind the context's allocator, and report
 * its failure as an info code that is not HB_ENOMEM (docs/reliability.md). */
static int tridiag_eig(hb_context *ctx, size_t s, const double *alpha, const double *beta,
                       double *d, double *e, double *Z) {
    memcpy(d, alpha, s * sizeof(double));
    if (s > 1) memcpy(e, beta, (s - 1) * sizeof(double));
    lapack_int info = LAPACKE_dstev_work(LAPACK_COL_MAJOR, Z ? 'V' : 'N', (lapack_int)s, d, e,
                                         Z, (lapack_int)s, e + s);
    HB_CHECK(ctx, info == 0, HB_EUNSUPPORTED, "LAPACKE_dstev failed (info %d) on a %zu x %zu tridiagonal",
             (int)info, s, s);
    return HB_OK;
}

/* The Lanczos iteration of all k probes (start vectors in w->Q, unit norm). */
static int lanczos_batch(lanczos_run *r, slq_work *w, size_t k, size_t m) {
    hb_context *ctx = r->ctx;
    const hb_slq *s = r->s;
    size_t n = r->op->n;
    bool full = s->reorth == HB_REORTH_FULL;
    hb_dtype bdt = (hb_dtype)s->basis_dtype;
    size_t es = hb_dtype_size(bdt);
    size_t na = k;
    for (size_t p = 0; p < k; p++) {
        w->act[p] = p;
        if (full) store_row(bdt, (char *)w->B + p * m * n * es, 0, n, w->Q + p * n);
    }
    for (size_t j = 0; j < m && na > 0; j++) {
        for (size_t i = 0; i < na; i++)
            memcpy(w->X + i * n, w->Q + w->act[i] * n, n * sizeof(double));
        HB_TRY(apply_timed(r, na, w->X, w->W));
        HB_TRY(check_finite(ctx, w->W, na * n));
        size_t still = 0;
        for (size_t i = 0; i < na; i++) {
            size_t p = w->act[i];
            double *q = w->Q + p * n, *qp = w->Qp + p * n, *rr = w->W + i * n;
            double a = 0, b_prev = j > 0 ? w->beta[p * m + j - 1] : 0.0;
            HB_TRY(hb__dot(ctx, HB_F64, (int64_t)n, q, 1, rr, 1, &a));
            for (size_t t = 0; t < n; t++) rr[t] -= a * q[t] + b_prev * qp[t];
            void *Bp = full ? (char *)w->B + p * m * n * es : NULL;
            if (full) HB_TRY(reorth_cgs2(ctx, bdt, Bp, j + 1, n, rr, w->h, w->wf, w->uf));
            double b = 0;
            HB_TRY(hb__nrm2(ctx, HB_F64, (int64_t)n, rr, 1, &b));
            w->alpha[p * m + j] = a;
            w->steps[p] = j + 1;
            w->tnorm[p] = fmax(w->tnorm[p], fabs(a) + b + b_prev);
            if (j + 1 == m) continue;
            if (!(b > s->breakdown_tol * w->tnorm[p])) { /* invariant subspace: stop this probe */
                w->broke[p] = 1;
                continue;
            }
            w->beta[p * m + j] = b;
            for (size_t t = 0; t < n; t++) {
                qp[t] = q[t];
                q[t] = rr[t] / b;
            }
            if (full) store_row(bdt, Bp, j + 1, n, q);
            w->act[still++] = p;
        }
        na = still;
        /* progress: Lanczos steps of the run's groups (one group: (step, m)), reported one at a time (tasks.h) */
        int64_t done = (int64_t)atomic_fetch_add(r->done, 1) + 1;
        HB_TRY(hb__progress(ctx, "slq", done, r->total));
    }
    return HB_OK;
}

static int normalise_rows(hb_context *ctx, double *V, size_t k, size_t n) {
    for (size_t p = 0; p < k; p++) {
        double nr = 0;
        HB_TRY(hb__nrm2(ctx, HB_F64, (int64_t)n, V + p * n, 1, &nr));
        HB_CHECK(ctx, nr > 0, HB_ENONFINITE, "probe %zu is zero", p);
        HB_TRY(hb__scal(ctx, HB_F64, (int64_t)n, 1.0 / nr, V + p * n, 1));
    }
    return HB_OK;
}

static size_t steps_of(const hb_slq *s, size_t n) {
    return (size_t)s->steps < n ? (size_t)s->steps : n;
}

/* The worker's Lanczos work, (re)sized for k probes of m steps of n elements. */
static int worker_work(hb_context *ctx, const hb_slq *s, slq_worker *wk, size_t k, size_t m,
                       size_t n) {
    /* a smaller group (a run's last) fits: the layout's strides are m and n, not k */
    if (wk->has_work && wk->m_cap == m && wk->n_cap == n && k <= wk->k_cap) return HB_OK;
    if (wk->has_work) work_free(ctx, &wk->w);
    wk->has_work = false;
    HB_TRY(work_alloc(ctx, &wk->w, k, m, n, s->reorth == HB_REORTH_FULL, (hb_dtype)s->basis_dtype));
    wk->has_work = true;
    wk->k_cap = k;
    wk->m_cap = m;
    wk->n_cap = n;
    return HB_OK;
}

/* Probes p0 … p0 + k − 1 of a run on op (stream `stream`), in lockstep (one operator call
 * of k vectors per step), on worker wk: their nodes and weights into o[0..k). */
static int probes_run(hb_context *ctx, const hb_slq *s, hb_linop *op, uint64_t stream, size_t p0,
                      size_t k, slq_worker *wk, atomic_llong *done, int64_t total, probe_out *o) {
    size_t n = op->n, m = steps_of(s, n);
    HB_TRY(worker_work(ctx, s, wk, k, m, n));
    slq_work *w = &wk->w;
    memset(w->Qp, 0, k * n * sizeof(double));
    memset(w->alpha, 0, k * m * sizeof(double));
    memset(w->beta, 0, k * m * sizeof(double));
    memset(w->tnorm, 0, k * sizeof(double));
    memset(w->steps, 0, k * sizeof(size_t));
    memset(w->broke, 0, k * sizeof(int));
    hb_distribution d = s->dist == HB_PROBE_GAUSSIAN ? HB_DIST_NORMAL : HB_DIST_RADEMACHER;
    HB_TRY(hb_random_fill_f64(ctx, stream, (uint64_t)p0 * n, d, 0.0, 1.0, w->Q, k * n));
    HB_TRY(normalise_rows(ctx, w->Q, k, n));
    wk->mt.ctx = ctx;
    wk->mt.theta_fixed = true; /* the model is fixed during a run (slq.h): keep its θ passes */
    lanczos_run r = {ctx, s, op, &wk->mt, o, done, total};
    HB_TRY(lanczos_batch(&r, w, k, m));
    for (size_t p = 0; p < k; p++) {
        size_t st = w->steps[p];
        HB_TRY(tridiag_eig(ctx, st, w->alpha + p * m, w->beta + p * m, w->d, w->e, w->Z));
        o[p].nodes = hb__malloc(ctx, st * sizeof(double), "spectrum nodes");
        o[p].weights = hb__malloc(ctx, st * sizeof(double), "spectrum weights");
        if (!o[p].nodes || !o[p].weights) return HB_ENOMEM;
        double sum = 0;
        for (size_t i = 0; i < st; i++) {
            o[p].nodes[i] = w->d[i];
            o[p].weights[i] = w->Z[i * st] * w->Z[i * st];
            sum += o[p].weights[i];
        }
        for (size_t i = 0; i < st; i++) o[p].weights[i] /= sum; /* Z orthogonal: sum = 1 ± eps */
        o[p].count = st;
        o[p].broke = w->broke[p];
    }
    return HB_OK;
}

/* The stream of a run: the option's, or the context's next. */
static int run_stream(hb_slq *s, uint64_t *stream) {
    if (s->stream >= 0) {
        *stream = (uint64_t)s->stream;
        return HB_OK;
    }
    return hb_context_next_stream(s->ctx, stream);
}

/* The spectrum of k probe results (taken on success), on s->ctx. */
static int gather_spectrum(hb_slq *s, hb_linop *op, probe_out *o, size_t k, hb_spectrum **out) {
    hb_spectrum *sp = NULL;
    HB_TRY(hb_spectrum_create(s->ctx, op->n, &sp));
    sp->unit_roundoff = hb__linop_unit_roundoff(op);
    for (size_t p = 0; p < k; p++) {
        int rc = hb__spectrum_push(sp, o[p].nodes, o[p].weights, o[p].count, o[p].broke);
        if (rc != HB_OK) {
            hb_spectrum_free(sp);
            return rc;
        }
        o[p].nodes = o[p].weights = NULL; /* the spectrum's now */
    }
    *out = sp;
    return HB_OK;
}

static void stats_add(hb_slq *s, const probe_out *o, size_t count) {
    for (size_t i = 0; i < count; i++) { /* in task order: the sum does not depend on threads */
        s->stat_calls += o[i].calls;
        s->stat_vectors += o[i].vectors;
        s->stat_apply_s += o[i].apply_s;
    }
}

/* ---- Probe groups as tasks ----------------------------------------------------------------
 * A run is a list of ENTRIES (operators: hb_slq_run's one, or the blocks and the full
 * Hessian of hb_slq_run_model_blocks), each with its k probes split into groups of G
 * consecutive probes (probe_group). A group is one TASK: its probes advance in lockstep,
 * one product of all its active probes per Lanczos step (the forward and backward passes
 * of a model product are shared by the directions: hvp_multi / block_hvp of k vectors).
 * G is a function of the options and the operator's size only, never of the thread count,
 * so a group's products, and the nodes, are the same for any number of threads; the
 * spectra gather the probes in probe order. An entry is finished (its spectrum built, the
 * caller told) by whichever task finishes its last group, under the run's lock. */
static size_t probe_group(const hb_slq *s, size_t k) {
    size_t g = (size_t)s->group;
    return g < k ? g : k;
}

typedef struct slq_entry {
    hb_linop *op;        /* the operator (hb_slq_run: the caller's; else `own`) */
    hb_linop own;
    uint64_t stream;
    size_t group;        /* probes per group */
    size_t first;        /* task index of the entry's first group */
    atomic_size_t left;  /* groups not finished yet */
} slq_entry;

typedef struct slq_job {
    hb_slq *s;
    slq_entry *e;
    size_t n, k;           /* entries, probes per entry */
    slq_worker *workers;
    probe_out *out;        /* n×k */
    hb_spectrum **sp;      /* n: an entry's spectrum once finished */
    hb_slq_block_fn on_done;
    void *user;
    atomic_llong done;     /* progress: group steps done in the run, of `total` */
    int64_t total;
    bool stopped;          /* on_done stopped the run (read and written under the lock) */
    const size_t *local;   /* across ranks: task t of this rank's run is local[t], and the
                              entries are finished after the exchange; NULL: one process */
} slq_job;

/* What a task hands to entry_finish under the lock. */
typedef struct finish_arg {
    slq_job *J;
    size_t i;
    hb_context *wctx;
} finish_arg;

/* Entry i's spectrum (on the caller's context: under the run's lock, tasks.h) and the
 * caller's callback. An error is recorded on the task's worker context. */
static int entry_finish(void *arg) {
    finish_arg *f = arg;
    slq_job *J = f->J;
    hb_context *ctx = J->s->ctx;
    /* An entry finishing after on_done stopped the run (its task was already running when
     * on_done returned nonzero, and waited for this lock) is neither reported nor kept: out
     * holds exactly the entries reported to on_done (slq.h). The status is the stopping
     * task's HB_ECANCELED. */
    if (J->stopped) return HB_OK;
    int rc = gather_spectrum(J->s, J->e[f->i].op, J->out + f->i * J->k, J->k, &J->sp[f->i]);
    if (rc != HB_OK) return hb__fail(f->wctx, rc, "%s", hb_context_last_error(ctx));
    if (!J->on_done) return HB_OK;
    int r = J->on_done(J->user, f->i, J->sp[f->i]);
    J->stopped = r != 0;
    HB_CHECK(f->wctx, r == 0, HB_ECANCELED,
             "run canceled: on_block_done returned %d for entry %zu", r, f->i);
    return HB_OK;
}

/* The probes of a task: entry *entry, probes p0 … p0 + kk − 1. */
static void task_probes(const slq_entry *e, size_t n, size_t k, size_t task, size_t *entry,
                        size_t *p0, size_t *kk) {
    size_t lo = 0, hi = n; /* the entry of the task: the last with first ≤ task */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (e[mid].first <= task) lo = mid;
        else hi = mid;
    }
    *entry = lo;
    *p0 = (task - e[lo].first) * e[lo].group;
    *kk = k - *p0 < e[lo].group ? k - *p0 : e[lo].group;
}

static int group_task(void *arg, size_t task, size_t worker, hb_context *ctx) {
    slq_job *J = arg;
    if (J->local) task = J->local[task];
    size_t lo, p0, kk;
    task_probes(J->e, J->n, J->k, task, &lo, &p0, &kk);
    slq_entry *e = &J->e[lo];
    HB_TRY(probes_run(ctx, J->s, e->op, e->stream, p0, kk, &J->workers[worker], &J->done,
                      J->total, &J->out[lo * J->k + p0]));
    if (J->local) return HB_OK; /* finished after the exchange ("Across ranks") */
    if (atomic_fetch_sub(&e->left, 1) != 1) return HB_OK;
    finish_arg f = {J, lo, ctx};
    return hb__task_serialized(ctx, entry_finish, &f);
}

/* ---- Longest tasks first ---------------------------------------------------------------
 * Workers claim tasks in a fixed order. Claimed in entry order, a long task that comes
 * late (the full Hessian or a block near the input — its product runs the whole network
 * backward and R, a late block's only its tail — listed after cheap entries) starts when
 * the others are nearly done and runs alone. Started longest first (LPT: within
 * 4/3 − 1/(3·workers) of the optimal makespan, Graham), the short tasks fill the gaps at
 * the end. (A net's blocks numbered from input to loss are already nearly in that order:
 * docs/performance.md, "Longest SLQ tasks first", measures what is left.) A task's cost is an ESTIMATE in multiply-adds: per Lanczos
 * step its group's product (hb__model_block_cost: the net engine knows which ops a
 * block's product visits) plus the probes' vector work (a few passes over n, and with
 * full reorthogonalisation two Gram–Schmidt passes over the j stored vectors: 4·j·n).
 * Models without an estimate (quadratic, callbacks, dense or callback operators) give
 * equal costs: tasks run in task order, as before. Only the start order changes, never a
 * task's arithmetic, so results are the same bits (tasks.h); ties keep task order, so the
 * schedule is deterministic. */

/* Sorts (cost, task) pairs: higher cost first, then lower task index (a stable order). */
typedef struct task_cost {
    double cost;
    size_t task;
} task_cost;

static int longer_first(const void *pa, const void *pb) {
    const task_cost *a = pa, *b = pb;
    if (a->cost != b->cost) return a->cost > b->cost ? -1 : 1;
    return a->task < b->task ? -1 : a->task > b->task;
}

/* Estimated multiply-adds of a group task of kk probes on entry e; 0 = unknown. */
static int group_cost(hb_slq *s, const slq_entry *e, size_t kk, double *cost) {
    *cost = 0.0;
    const hb_linop *op = e->op;
    if (op->kind != HB__LINOP_MODEL && op->kind != HB__LINOP_MODEL_BLOCK) return HB_OK;
    double product = 0.0;
    int rc = hb__model_block_cost(op->model, op->kind == HB__LINOP_MODEL ? SIZE_MAX : op->block,
                                  kk, &product);
    if (rc != HB_OK) /* the model's message, on the run's context */
        return op->model->ctx == s->ctx ? rc
                                         : hb__fail(s->ctx, rc, "%s", hb_context_last_error(op->model->ctx));
    if (!(product > 0)) return HB_OK;
    double n = (double)op->n, m = (double)steps_of(s, op->n);
    double vector = (double)kk * n * (8.0 * m + (s->reorth == HB_REORTH_FULL ? 2.0 * m * m : 0.0));
    *cost = m * product + vector;
    return HB_OK;
}

int hb__slq_longest_first = 1;

int hb__slq_task_cost(hb_slq *s, hb_model *m, size_t block, size_t k, double *cost) {
    const hb_params *pr = m->params;
    bool full = block == SIZE_MAX;
    slq_entry e = {.own = {.ctx = s->ctx, .kind = full ? HB__LINOP_MODEL : HB__LINOP_MODEL_BLOCK,
                           .n = full ? pr->n : pr->blocks[block].numel, .model = m,
                           .block = full ? 0 : block}};
    e.op = &e.own;
    return group_cost(s, &e, k, cost);
}

/* The estimated cost of every task into tc[0..tasks) (task index set), *known false when
 * some cost is unknown (then the costs are meaningless: use task order). */
static int task_costs(hb_slq *s, const slq_entry *e, size_t n, size_t k, task_cost *tc,
                      bool *known) {
    int rc = HB_OK;
    *known = true;
    for (size_t i = 0; i < n && rc == HB_OK && *known; i++) {
        size_t groups = (k + e[i].group - 1) / e[i].group;
        double full = 0.0, last = 0.0; /* every group but the last has e[i].group probes */
        size_t kl = k - (groups - 1) * e[i].group;
        rc = group_cost(s, &e[i], e[i].group, &full);
        if (rc == HB_OK && kl == e[i].group) last = full;
        else if (rc == HB_OK) rc = group_cost(s, &e[i], kl, &last);
        *known = full > 0 && last > 0;
        for (size_t g = 0; g < groups; g++)
            tc[e[i].first + g] = (task_cost){g + 1 < groups ? full : last, e[i].first + g};
    }
    return rc;
}

/* The claim order of the run's tasks, longest first, into *order (allocated on ctx); NULL
 * when every cost is unknown or there is one worker: task order. */
static int task_order(hb_slq *s, const slq_entry *e, size_t n, size_t k, size_t tasks,
                      size_t workers, size_t **order) {
    *order = NULL;
    if (workers < 2 || tasks < 2 || !hb__slq_longest_first) return HB_OK;
    hb_context *ctx = s->ctx;
    task_cost *tc = hb__calloc(ctx, tasks, sizeof *tc, "SLQ task costs");
    if (!tc) return HB_ENOMEM;
    bool known = true;
    int rc = task_costs(s, e, n, k, tc, &known);
    if (rc == HB_OK && known) {
        qsort(tc, tasks, sizeof *tc, longer_first);
        *order = hb__calloc(ctx, tasks, sizeof **order, "SLQ task order");
        if (!*order) rc = HB_ENOMEM;
        for (size_t t = 0; t < tasks && rc == HB_OK; t++) (*order)[t] = tc[t].task;
    }
    hb__free(ctx, tc);
    return rc;
}

/* ---- Across ranks ---------------------------------------------------------------------
 * With a communicator of size R > 1 (comm.h) the run's tasks are divided over the ranks:
 * longest first (LPT over the ranks: each task, in decreasing estimated cost, goes to the
 * rank with the least estimated load so far, ties to the lower rank), or task t on rank
 * t mod R when a cost is unknown. The assignment is a function of the task list and R
 * only, so every rank computes the same one. Each rank runs its tasks on its own threads
 * (as one process would run all of them), then the ranks exchange their probes' results
 * with two allgathers: (status, payload bytes, fingerprint of the run) and the payloads,
 * padded to the largest. A probe's nodes and weights depend only on (seed, stream, probe)
 * and its group, never on where it ran, so every rank then holds exactly the probe results
 * of a single-process run and builds the same spectra, in entry order; each entry's
 * callback runs on every rank, in entry order, after the exchange. A rank that failed
 * before the exchange still takes part in the first allgather, so every rank returns an
 * error (the failed rank's status) instead of waiting. */

/* The division of `tasks` tasks over `ranks` ranks into owner[0..tasks), shared by SLQ runs
 * and per-block top-k. With known costs (tc[i] = {cost, task i}): LPT — the tasks in
 * decreasing cost (ties: lower task first) each go to the rank with the least load so far
 * (ties: the lower rank), and tc is left sorted in that claim order. Unknown: task t goes
 * to rank t mod R and tc[t].task = t. A function of the costs and R only, so every rank
 * computes the same division. */
static int lpt_ranks(hb_context *ctx, task_cost *tc, size_t tasks, int ranks, bool known,
                     int *owner) {
    if (!known) {
        for (size_t t = 0; t < tasks; t++) {
            tc[t].task = t;
            owner[t] = (int)(t % (size_t)ranks);
        }
        return HB_OK;
    }
    double *load = hb__calloc(ctx, (size_t)ranks, sizeof *load, "rank loads");
    if (!load) return HB_ENOMEM;
    qsort(tc, tasks, sizeof *tc, longer_first);
    for (size_t i = 0; i < tasks; i++) {
        int best = 0;
        for (int r = 1; r < ranks; r++)
            if (load[r] < load[best]) best = r;
        owner[tc[i].task] = best;
        load[best] += tc[i].cost;
    }
    hb__free(ctx, load);
    return HB_OK;
}

static int assign_ranks(hb_slq *s, const slq_entry *e, size_t n, size_t k, size_t tasks,
                        int ranks, int me, int *owner, size_t **local, size_t *n_local) {
    hb_context *ctx = s->ctx;
    task_cost *tc = hb__calloc(ctx, tasks, sizeof *tc, "SLQ task costs");
    int rc = tc ? HB_OK : HB_ENOMEM;
    bool known = hb__slq_longest_first != 0;
    if (rc == HB_OK && known) rc = task_costs(s, e, n, k, tc, &known);
    if (rc == HB_OK) rc = lpt_ranks(ctx, tc, tasks, ranks, known, owner);
    *n_local = 0;
    if (rc == HB_OK) {
        *local = hb__calloc(ctx, tasks, sizeof **local, "SLQ rank tasks");
        if (!*local) rc = HB_ENOMEM;
        for (size_t i = 0; i < tasks && rc == HB_OK; i++) /* this rank's, in claim order */
            if (owner[tc[i].task] == me) (*local)[(*n_local)++] = tc[i].task;
    }
    hb__free(ctx, tc);
    return rc;
}

/* FNV-1a over what every rank must agree on for the exchange to make sense. */
static uint64_t fnv(uint64_t h, uint64_t v) {
    for (int i = 0; i < 8; i++) {
        h ^= (v >> (8 * i)) & 0xffu;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t run_fingerprint(const hb_slq *s, const slq_entry *e, size_t n, size_t k,
                                const int *owner, size_t tasks) {
    uint64_t h = 0xcbf29ce484222325ULL;
    h = fnv(h, (uint64_t)s->ctx->seed);
    h = fnv(h, n);
    h = fnv(h, k);
    h = fnv(h, (uint64_t)s->reorth);
    h = fnv(h, (uint64_t)s->dist);
    h = fnv(h, (uint64_t)s->basis_dtype);
    for (size_t i = 0; i < n; i++) {
        h = fnv(h, e[i].stream);
        h = fnv(h, e[i].op->n);
        h = fnv(h, (uint64_t)e[i].op->kind);
        h = fnv(h, e[i].op->block);
        h = fnv(h, e[i].group);
        h = fnv(h, steps_of(s, e[i].op->n));
    }
    for (size_t t = 0; t < tasks; t++) h = fnv(h, (uint64_t)owner[t]);
    return h;
}

/* A probe's record in the exchange: count, broke, calls, vectors, apply_s (8 bytes each),
 * then count nodes and count weights (doubles), all in this machine's byte order. */
#define PROBE_HEAD 5

static unsigned char *pack_probe(unsigned char *p, const probe_out *o) {
    int64_t head[4] = {(int64_t)o->count, o->broke, o->calls, o->vectors};
    memcpy(p, head, sizeof head);
    memcpy(p + 32, &o->apply_s, 8);
    p += PROBE_HEAD * 8;
    memcpy(p, o->nodes, o->count * 8);
    memcpy(p + o->count * 8, o->weights, o->count * 8);
    return p + 2 * o->count * 8;
}

/* o ← the record at *p (of at most `left` bytes), its arrays allocated on ctx. */
static int unpack_probe(hb_context *ctx, const unsigned char **p, size_t *left, size_t max_steps,
                        probe_out *o) {
    HB_CHECK(ctx, *left >= PROBE_HEAD * 8, HB_EFORMAT, "SLQ exchange: a probe record is cut");
    int64_t head[4];
    memcpy(head, *p, sizeof head);
    HB_CHECK(ctx, head[0] >= 1 && (uint64_t)head[0] <= max_steps &&
                      *left - PROBE_HEAD * 8 >= (size_t)head[0] * 16,
             HB_EFORMAT, "SLQ exchange: a probe record of %lld steps (at most %zu)",
             (long long)head[0], max_steps);
    size_t c = (size_t)head[0];
    o->count = c;
    o->broke = (int)head[1];
    o->calls = head[2];
    o->vectors = head[3];
    memcpy(&o->apply_s, *p + 32, 8);
    o->nodes = hb__malloc(ctx, c * 8, "spectrum nodes");
    o->weights = hb__malloc(ctx, c * 8, "spectrum weights");
    if (!o->nodes || !o->weights) return HB_ENOMEM;
    memcpy(o->nodes, *p + PROBE_HEAD * 8, c * 8);
    memcpy(o->weights, *p + PROBE_HEAD * 8 + c * 8, c * 8);
    *p += (PROBE_HEAD + 2 * c) * 8;
    *left -= (PROBE_HEAD + 2 * c) * 8;
    return HB_OK;
}

typedef struct rank_head {
    int64_t status;  /* HB_OK, or the rank's failure */
    uint64_t bytes;  /* its payload */
    uint64_t print;  /* run_fingerprint */
} rank_head;

/* Ranks whose status round needs no allocation (the heads live on the stack). */
#define STACK_RANKS 64

/* ---- Agreeing on a status -----------------------------------------------------------------
 * Every collective entry point (the SLQ runs; hb_slq_topk_model_blocks) opens its exchange
 * with the SAME first round: one allgather of each rank's rank_head (status, payload bytes,
 * fingerprint of the call). A call that fails on this rank before its exchange (a bad
 * argument or block on this rank only, an operator that cannot be made, an allocation)
 * still makes that round, with its status (agree_on_failure), so every other rank learns
 * of it there and returns an error naming this rank instead of waiting for a payload that
 * never comes. The failed rank returns its own status and message. Only a NULL hb_slq (no
 * context, so no communicator) cannot take part: it returns HB_EINVAL alone. */
static int status_round(hb_slq *s, int st, size_t bytes, uint64_t print, rank_head *heads,
                        const char *what) {
    hb_context *ctx = s->ctx;
    int ranks = hb__comm_size(ctx), me = hb__comm_rank(ctx);
    s->status_round_done = 1;
    rank_head mine = {st, bytes, print};
    int rc = hb__comm_allgather(ctx, &mine, sizeof mine, heads);
    if (st != HB_OK) return st; /* this rank's own message stays */
    for (int r = 0; r < ranks && rc == HB_OK; r++) {
        if (heads[r].status != HB_OK) {
            const char *name = hb_status_name((int)heads[r].status);
            rc = hb__fail(ctx, (int)heads[r].status,
                          "%s across %d ranks: rank %d failed (%s); see its own message", what,
                          ranks, r, name ? name : "unknown status");
        } else if (heads[r].print != print) {
            rc = hb__fail(ctx, HB_ESTATE,
                          "%s across %d ranks: rank %d makes another call than rank %d "
                          "(entries, probes, steps, options, seed or streams differ): every "
                          "rank must make the same call (comm.h)", what, ranks, r, me);
        }
    }
    return rc;
}

/* A call on a data-parallel model (hb_model_set_data_parallel) divides nothing over the
 * ranks: its products are the collectives (allreduces with a status slot per rank), so it
 * must make no status round or allgather of its own — those would pair with another
 * rank's product allreduce. Marking the round as done turns them off for this call. */
static void no_rounds_if_collective(hb_slq *s, const hb_model *m, const hb_linop *op) {
    if ((m && hb__model_collective(m)) || (op && hb__linop_collective(op)))
        s->status_round_done = 1;
}

/* The end of a collective entry point: a failure before its status round makes the round
 * now (see above), so no rank waits. */
static int agree_on_failure(hb_slq *s, int rc) {
    hb_context *ctx = s->ctx;
    int ranks = hb__comm_size(ctx);
    if (rc == HB_OK || ranks < 2 || s->status_round_done) return rc;
    rank_head stack_heads[STACK_RANKS];
    rank_head *heads = ranks <= STACK_RANKS
                           ? stack_heads
                           : hb__calloc(ctx, (size_t)ranks, sizeof *heads, "status round");
    if (!heads) return rc; /* more than STACK_RANKS ranks and no memory: the others wait */
    memset(heads, 0, (size_t)ranks * sizeof *heads);
    status_round(s, rc, 0, 0, heads, "collective call"); /* returns rc: this rank's message stays */
    if (heads != stack_heads) hb__free(ctx, heads);
    return rc;
}

/* The payload bound of rank r: every probe of its tasks with all its steps (a probe that
 * broke down sends fewer). Known to every rank from the assignment alone, so the buffers
 * are allocated BEFORE the status round and an allocation failure is reported in it. */
static bool payload_bound(const slq_job *J, const hb_slq *s, const int *owner, size_t tasks,
                          int r, size_t *bytes) {
    *bytes = 0;
    for (size_t t = 0; t < tasks; t++) {
        if (owner[t] != r) continue;
        size_t entry, p0, kk;
        task_probes(J->e, J->n, J->k, t, &entry, &p0, &kk);
        size_t rec = (PROBE_HEAD + 2 * steps_of(s, J->e[entry].op->n)) * 8, all;
        if (!hb__mul_size(kk, rec, &all) || !hb__add_size(*bytes, all, bytes)) return false;
    }
    return true;
}

/* The exchange (above): on success J->out holds every rank's probes. rc_in is this rank's
 * status so far; it is returned unchanged when not HB_OK (after the status round). Every
 * allocation before the status round is reported in it, so no rank waits for one that
 * failed (only with more than STACK_RANKS ranks can the heads' allocation fail first). */
static int exchange(hb_slq *s, slq_job *J, const int *owner, size_t tasks, int ranks, int me,
                    uint64_t print, int rc_in) {
    hb_context *ctx = s->ctx;
    size_t k = J->k, bytes = 0, most = 0, all = 0;
    rank_head stack_heads[STACK_RANKS];
    rank_head *heads = ranks <= STACK_RANKS
                           ? stack_heads
                           : hb__calloc(ctx, (size_t)ranks, sizeof *heads, "SLQ exchange heads");
    if (!heads) return HB_ENOMEM; /* the others wait: failure handling is later work */
    unsigned char *send = NULL, *recv = NULL;
    int st = rc_in;
    for (int r = 0; r < ranks && st == HB_OK; r++) {
        size_t b = 0;
        if (!payload_bound(J, s, owner, tasks, r, &b))
            st = hb__fail(ctx, HB_EOVERFLOW, "SLQ exchange: rank %d's payload overflows", r);
        if (b > most) most = b;
    }
    if (st == HB_OK && !hb__mul_size(most, (size_t)ranks, &all))
        st = hb__fail(ctx, HB_EOVERFLOW, "SLQ exchange of %d x %zu bytes overflows", ranks, most);
    if (st == HB_OK) {
        send = hb__calloc(ctx, most ? most : 1, 1, "SLQ exchange send buffer");
        recv = send ? hb__malloc(ctx, all ? all : 1, "SLQ exchange receive buffer") : NULL;
        if (!recv) st = HB_ENOMEM;
    }
    if (st == HB_OK) {
        unsigned char *p = send;
        for (size_t t = 0; t < tasks; t++) {
            if (owner[t] != me) continue;
            size_t entry, p0, kk;
            task_probes(J->e, J->n, k, t, &entry, &p0, &kk);
            for (size_t q = p0; q < p0 + kk; q++) p = pack_probe(p, &J->out[entry * k + q]);
        }
        bytes = (size_t)(p - send);
    }
    int rc = status_round(s, st, bytes, print, heads, "SLQ run");
    for (int r = 0; r < ranks && rc == HB_OK; r++)
        if (heads[r].bytes > most)
            rc = hb__fail(ctx, HB_EFORMAT, "SLQ exchange: rank %d sends %llu bytes, at most "
                          "%zu expected", r, (unsigned long long)heads[r].bytes, most);
    if (rc == HB_OK && most > 0) rc = hb__comm_allgather(ctx, send, most, recv);
    for (int r = 0; r < ranks && rc == HB_OK; r++) {
        if (r == me) continue;
        const unsigned char *p = recv + (size_t)r * most;
        size_t left = heads[r].bytes;
        for (size_t t = 0; t < tasks && rc == HB_OK; t++) {
            if (owner[t] != r) continue;
            size_t entry, p0, kk;
            task_probes(J->e, J->n, k, t, &entry, &p0, &kk);
            size_t steps = steps_of(s, J->e[entry].op->n);
            for (size_t q = p0; q < p0 + kk && rc == HB_OK; q++)
                rc = unpack_probe(ctx, &p, &left, steps, &J->out[entry * k + q]);
        }
    }
    hb__free(ctx, recv);
    hb__free(ctx, send);
    if (heads != stack_heads) hb__free(ctx, heads);
    return rc;
}

/* After the exchange: the spectra in entry order and the callback, on the caller's thread. */
static int finish_in_order(slq_job *J) {
    hb_context *ctx = J->s->ctx;
    for (size_t i = 0; i < J->n; i++) {
        HB_TRY(gather_spectrum(J->s, J->e[i].op, J->out + i * J->k, J->k, &J->sp[i]));
        if (!J->on_done) continue;
        int r = J->on_done(J->user, i, J->sp[i]);
        HB_CHECK(ctx, r == 0, HB_ECANCELED,
                 "run canceled: on_block_done returned %d for entry %zu", r, i);
    }
    return HB_OK;
}

/* Runs the n entries e[0..n) (ops and streams set; all model operators of one model, or
 * one operator) into sp[0..n): on failure sp[i] is the spectrum of every entry finished
 * (and reported) before it, NULL for the others. */
static int run_entries(hb_slq *s, slq_entry *e, size_t n, hb_spectrum **sp,
                       hb_slq_block_fn on_done, void *user) {
    hb_context *ctx = s->ctx;
    size_t k = (size_t)s->probes, tasks = 0;
    slq_job J = {.s = s, .e = e, .n = n, .k = k, .sp = sp, .on_done = on_done, .user = user};
    atomic_init(&J.done, 0);
    for (size_t i = 0; i < n; i++) {
        e[i].group = probe_group(s, k);
        size_t groups = (k + e[i].group - 1) / e[i].group;
        e[i].first = tasks;
        atomic_init(&e[i].left, groups);
        tasks += groups;
        J.total += (int64_t)(groups * steps_of(s, e[i].op->n));
        sp[i] = NULL;
    }
    /* a data-parallel model: every rank runs every task, its products allreduce */
    int ranks = hb__linop_collective(e[0].op) ? 1 : hb__comm_size(ctx);
    int me = hb__comm_rank(ctx), rc = HB_OK;
    int *owner = NULL; /* across ranks: the rank of each task */
    size_t *local = NULL, run_tasks = tasks;
    uint64_t print = 0;
    if (ranks > 1) {
        owner = hb__calloc(ctx, tasks, sizeof *owner, "SLQ task ranks");
        rc = owner ? assign_ranks(s, e, n, k, tasks, ranks, me, owner, &local, &run_tasks)
                   : HB_ENOMEM;
        if (rc == HB_OK) {
            print = run_fingerprint(s, e, n, k, owner, tasks);
            J.local = local;
            J.total = 0; /* progress: this rank's steps */
            for (size_t t = 0; t < run_tasks; t++) {
                size_t entry, p0, kk;
                task_probes(e, n, k, local[t], &entry, &p0, &kk);
                J.total += (int64_t)steps_of(s, e[entry].op->n);
            }
        }
    }
    size_t nw = hb__tasks_workers(ctx, run_tasks, hb__linop_serial(e[0].op));
    if (rc == HB_OK) rc = hb__linop_prepare(e[0].op); /* one model, or one operator */
    if (rc == HB_OK) {
        J.workers = hb__calloc(ctx, nw, sizeof *J.workers, "SLQ workers");
        J.out = J.workers ? hb__calloc(ctx, n * k, sizeof *J.out, "SLQ probe results") : NULL;
        if (!J.out) rc = HB_ENOMEM;
    }
    size_t *order = NULL; /* longest tasks first (across ranks: local is in that order) */
    if (rc == HB_OK && !J.local) rc = task_order(s, e, n, k, tasks, nw, &order);
    if (rc == HB_OK) rc = hb__tasks_run_ordered(ctx, run_tasks, nw, order, group_task, &J);
    hb__free(ctx, order);
    if (ranks > 1) { /* every rank takes part, failed or not (exchange) */
        rc = exchange(s, &J, owner, tasks, ranks, me, print, rc);
        if (rc == HB_OK) rc = finish_in_order(&J);
    }
    if (J.out) stats_add(s, J.out, n * k);
    workers_free(ctx, e[0].op, J.workers, nw);
    outs_free(ctx, J.out, n * k);
    hb__free(ctx, local);
    hb__free(ctx, owner);
    return rc;
}

/* The collective entry points below are thin: the work is in *_impl, and a failure
 * before the run's exchange is made known to every rank by agree_on_failure. */
static int slq_run_impl(hb_slq *s, hb_linop *op, hb_spectrum **out) {
    hb_context *ctx = s->ctx;
    HB_CHECK(ctx, out != NULL, HB_EINVAL, "out is NULL");
    *out = NULL;
    HB_CHECK(ctx, op != NULL, HB_EINVAL, "operator is NULL");
    HB_CHECK(ctx, op->n > 0, HB_EINVAL, "operator of size 0");
    stats_reset(s);
    slq_entry e = {.op = op};
    int rc = run_stream(s, &e.stream);
    if (rc == HB_OK) rc = run_entries(s, &e, 1, out, NULL, NULL);
    stats_done(s);
    return rc;
}

int hb_slq_run(hb_slq *s, hb_linop *op, hb_spectrum **out) {
    if (!s) return HB_EINVAL;
    s->status_round_done = 0;
    no_rounds_if_collective(s, NULL, op);
    return agree_on_failure(s, slq_run_impl(s, op, out));
}

/* hb_slq_run on the full Hessian of m (full) or on its block `block` */
static int slq_run_model_op(hb_slq *s, hb_model *m, bool full, size_t block, hb_spectrum **out) {
    HB_CHECK(s->ctx, out != NULL, HB_EINVAL, "out is NULL");
    *out = NULL;
    HB_CHECK(s->ctx, m != NULL, HB_EINVAL, "model is NULL");
    hb_linop *op = NULL;
    HB_TRY(full ? hb_linop_create_model_hessian(m, &op) : hb_linop_create_model_block(m, block, &op));
    int rc = slq_run_impl(s, op, out);
    hb_linop_free(op);
    return rc;
}

int hb_slq_run_model(hb_slq *s, hb_model *m, hb_spectrum **out) {
    if (!s) return HB_EINVAL;
    s->status_round_done = 0;
    no_rounds_if_collective(s, m, NULL);
    return agree_on_failure(s, slq_run_model_op(s, m, true, 0, out));
}

int hb_slq_run_model_block(hb_slq *s, hb_model *m, size_t block, hb_spectrum **out) {
    if (!s) return HB_EINVAL;
    s->status_round_done = 0;
    no_rounds_if_collective(s, m, NULL);
    return agree_on_failure(s, slq_run_model_op(s, m, false, block, out));
}

/* ---- Several blocks (and the full Hessian) in one run -------------------------------------
 * Every entry's groups are tasks of ONE task run, so blocks and the full Hessian run
 * concurrently; entry i's spectrum is exactly what hb_slq_run_model_block (or
 * hb_slq_run_model) gives with stream streams[i] (same groups, same products). */
static int slq_run_model_blocks_impl(hb_slq *s, hb_model *m, const size_t *blocks,
                                     const uint64_t *streams, size_t n, hb_spectrum **out,
                                     hb_slq_block_fn on_done, void *user) {
    hb_context *ctx = s->ctx;
    HB_CHECK(ctx, n == 0 || out != NULL, HB_EINVAL, "out is NULL");
    size_t k = (size_t)s->probes, nk;
    HB_CHECK(ctx, hb__mul_size(n, k, &nk) && hb__mul_size(nk, sizeof(probe_out), &(size_t){0}) &&
                      hb__mul_size(n, sizeof(slq_entry), &(size_t){0}),
             HB_EOVERFLOW, "%zu entries x %zu probes overflow", n, k);
    if (n > 0) memset(out, 0, n * sizeof *out);
    HB_CHECK(ctx, m != NULL, HB_EINVAL, "model is NULL");
    const hb_params *pr = m->params;
    for (size_t i = 0; i < n; i++) {
        size_t b = blocks ? blocks[i] : i;
        HB_CHECK(ctx, b == HB_SLQ_FULL_HESSIAN || b < pr->n_blocks, HB_ERANGE,
                 "entry %zu: block %zu out of range (%zu blocks)", i, b, pr->n_blocks);
    }
    stats_reset(s);
    int rc = HB_OK;
    slq_entry *e = n ? hb__calloc(ctx, n, sizeof *e, "SLQ entries") : NULL;
    if (n && !e) rc = HB_ENOMEM;
    for (size_t i = 0; i < n && rc == HB_OK; i++) {
        size_t b = blocks ? blocks[i] : i;
        bool full = b == HB_SLQ_FULL_HESSIAN;
        e[i].own = (hb_linop){.ctx = ctx, .kind = full ? HB__LINOP_MODEL : HB__LINOP_MODEL_BLOCK,
                              .n = full ? pr->n : pr->blocks[b].numel, .model = m,
                              .block = full ? 0 : b};
        e[i].op = &e[i].own;
        if (streams) e[i].stream = streams[i];
        else rc = run_stream(s, &e[i].stream); /* in entry order, as n single runs would */
    }
    if (rc == HB_OK && n > 0) rc = run_entries(s, e, n, out, on_done, user);
    hb__free(ctx, e);
    stats_done(s);
    /* across ranks, no entries still takes part in a status round (a rank with entries
     * would wait for it): its fingerprint differs from theirs unless all have none */
    if (rc == HB_OK && n == 0 && hb__comm_size(ctx) > 1 && !s->status_round_done) {
        rank_head stack_heads[STACK_RANKS];
        int ranks = hb__comm_size(ctx);
        rank_head *heads = ranks <= STACK_RANKS
                               ? stack_heads
                               : hb__calloc(ctx, (size_t)ranks, sizeof *heads, "status round");
        if (!heads) return HB_ENOMEM;
        rc = status_round(s, HB_OK, 0, 0xcbf29ce484222325ULL, heads, "SLQ run");
        if (heads != stack_heads) hb__free(ctx, heads);
    }
    return rc;
}

int hb_slq_run_model_blocks(hb_slq *s, hb_model *m, const size_t *blocks,
                            const uint64_t *streams, size_t n, hb_spectrum **out,
                            hb_slq_block_fn on_done, void *user) {
    if (!s) return HB_EINVAL;
    s->status_round_done = 0;
    no_rounds_if_collective(s, m, NULL);
    return agree_on_failure(
        s, slq_run_model_blocks_impl(s, m, blocks, streams, n, out, on_done, user));
}

/* ---- Hutchinson traces ----------------------------------------------------------------- */

/* mean and standard error (sample std with n−1 / √k) of t[0..k) */
static void mean_stderr(const double *t, size_t k, double *mean, double *se) {
    double mu = 0, ss = 0;
    for (size_t p = 0; p < k; p++) mu += t[p];
    mu /= (double)k;
    for (size_t p = 0; p < k; p++) ss += (t[p] - mu) * (t[p] - mu);
    *mean = mu;
    *se = k > 1 ? sqrt(ss / (double)(k - 1) / (double)k) : 0.0;
}

/* Tasks of the trace: rows p0 … p0 + G − 1 of W = A·(those rows of V), one product per
 * group of G probes (probe_group: as the SLQ runs). */
typedef struct trace_job {
    hb_linop *op;
    const double *V;
    double *W;
    size_t k, group;
    slq_worker *workers;
    probe_out *out;
} trace_job;

static int trace_task(void *arg, size_t g, size_t worker, hb_context *ctx) {
    trace_job *J = arg;
    size_t n = J->op->n, p0 = g * J->group;
    size_t kk = J->k - p0 < J->group ? J->k - p0 : J->group;
    slq_worker *wk = &J->workers[worker];
    wk->mt.ctx = ctx;
    wk->mt.theta_fixed = true; /* the model is fixed during a trace (slq.h) */
    lanczos_run r = {ctx, NULL, J->op, &wk->mt, &J->out[g], NULL, 0};
    HB_TRY(apply_timed(&r, kk, J->V + p0 * n, J->W + p0 * n));
    return check_finite(ctx, J->W + p0 * n, kk * n);
}

/* V (k×n) probes, W = A·V; caller frees both. */
static int probe_products(hb_slq *s, hb_linop *op, double **V, double **W) {
    hb_context *ctx = s->ctx;
    size_t k = (size_t)s->probes, n = op->n, kn;
    HB_CHECK(ctx, hb__mul_size(k, n, &kn) && hb__mul_size(kn, sizeof(double), &(size_t){0}),
             HB_EOVERFLOW, "k x n overflows");
    *V = hb__malloc(ctx, kn * sizeof(double), "trace probes");
    *W = hb__malloc(ctx, kn * sizeof(double), "trace products");
    if (!*V || !*W) return HB_ENOMEM;
    uint64_t stream;
    HB_TRY(run_stream(s, &stream));
    hb_distribution d = s->dist == HB_PROBE_GAUSSIAN ? HB_DIST_NORMAL : HB_DIST_RADEMACHER;
    HB_TRY(hb_random_fill_f64(ctx, stream, 0, d, 0.0, 1.0, *V, kn));
    HB_TRY(hb__linop_prepare(op));
    trace_job J = {.op = op, .V = *V, .W = *W, .k = k, .group = probe_group(s, k)};
    size_t groups = (k + J.group - 1) / J.group;
    size_t nw = hb__tasks_workers(ctx, groups, hb__linop_serial(op));
    J.workers = hb__calloc(ctx, nw, sizeof *J.workers, "trace workers");
    J.out = J.workers ? hb__calloc(ctx, groups, sizeof *J.out, "trace task results") : NULL;
    int rc = J.out ? hb__tasks_run(ctx, groups, nw, trace_task, &J) : HB_ENOMEM;
    if (J.out) stats_add(s, J.out, groups);
    workers_free(ctx, op, J.workers, nw);
    outs_free(ctx, J.out, groups);
    return rc;
}

int hb_slq_trace(hb_slq *s, hb_linop *op, double *trace, double *stderr_out) {
    if (!s) return HB_EINVAL;
    hb_context *ctx = s->ctx;
    HB_CHECK(ctx, op != NULL && trace != NULL, HB_EINVAL, "operator or trace is NULL");
    size_t k = (size_t)s->probes, n = op->n;
    stats_reset(s);
    double *V = NULL, *W = NULL, *t = hb__malloc(ctx, k * sizeof(double), "trace samples");
    int rc = t ? probe_products(s, op, &V, &W) : HB_ENOMEM;
    for (size_t p = 0; p < k && rc == HB_OK; p++)
        rc = hb__dot(ctx, HB_F64, (int64_t)n, V + p * n, 1, W + p * n, 1, &t[p]);
    if (rc == HB_OK) {
        double se;
        mean_stderr(t, k, trace, &se);
        if (stderr_out) *stderr_out = se;
    }
    hb__free(ctx, V);
    hb__free(ctx, W);
    hb__free(ctx, t);
    stats_done(s);
    return rc;
}

int hb_slq_trace_model_blocks(hb_slq *s, hb_model *m, double *traces, double *stderrs) {
    if (!s) return HB_EINVAL;
    hb_context *ctx = s->ctx;
    HB_CHECK(ctx, m != NULL && traces != NULL, HB_EINVAL, "model or traces is NULL");
    hb_linop *op = NULL;
    HB_TRY(hb_linop_create_model_hessian(m, &op));
    size_t k = (size_t)s->probes, n = op->n;
    stats_reset(s);
    double *V = NULL, *W = NULL, *t = hb__malloc(ctx, k * sizeof(double), "trace samples");
    int rc = t ? probe_products(s, op, &V, &W) : HB_ENOMEM;
    const hb_params *pr = m->params;
    for (size_t b = 0; b < pr->n_blocks && rc == HB_OK; b++) {
        size_t off = pr->blocks[b].offset, len = pr->blocks[b].numel;
        for (size_t p = 0; p < k && rc == HB_OK; p++)
            rc = hb__dot(ctx, HB_F64, (int64_t)len, V + p * n + off, 1, W + p * n + off, 1, &t[p]);
        double se = 0;
        if (rc == HB_OK) mean_stderr(t, k, &traces[b], &se);
        if (rc == HB_OK && stderrs) stderrs[b] = se;
    }
    hb__free(ctx, V);
    hb__free(ctx, W);
    hb__free(ctx, t);
    hb_linop_free(op);
    stats_done(s);
    return rc;
}

/* hb_linop_apply, counted and timed on s (top-k: one sequential run on s->ctx) */
static int apply_counted(hb_slq *s, hb_linop *op, size_t k, const double *X, double *Y) {
    double t0 = hb__seconds();
    int rc = hb_linop_apply(op, k, X, Y);
    s->stat_apply_s += hb__seconds() - t0;
    s->stat_calls++;
    s->stat_vectors += (int64_t)k;
    return rc;
}

/* ---- Top-k -------------------------------------------------------------------------------
 * Lanczos with explicit deflation ("locking"). One Lanczos run from one start vector v
 * sees a single vector of each eigenspace (the Krylov space of v holds the projection of v
 * on it, nothing else), so a repeated eigenvalue appears once and the next distinct one
 * takes the place of the missing copies. Therefore, with X the locked eigenvectors:
 *   1. RUN: Lanczos (full reorthogonalisation) on A restricted to X⊥: the start (a fresh
 *      Gaussian vector) and every new Lanczos vector are orthogonalised against X and the
 *      basis (twice). It stops when the `need` = max(k − locked, 1) most extreme Ritz pairs
 *      converge (β·|z_last| ≤ tol·‖A‖), at breakdown (an invariant subspace: its Ritz
 *      pairs are exact) or after the step limit.
 *   2. CERTIFY: if the run's most extreme Ritz pair converged, its value θ is taken to be the
 *      most extreme eigenvalue of A on X⊥ (the premise of every Krylov method: a random
 *      start has a component along every eigenvector). The spectrum of A is the locked
 *      values plus the spectrum on X⊥, so every locked value at least as extreme as θ (up
 *      to tol·‖A‖) is one of the most extreme eigenvalues counting multiplicity; it stays
 *      so, as later runs see subspaces of this X⊥. k certified: done. (The residual
 *      interval [θ − r, θ + r] of an UNconverged pair is no such bound: it holds some
 *      eigenvalue, often one of the bulk next to θ, not the extreme one.)
 *   3. LOCK the run's converged leading pairs (Ritz vectors y = Q·z), keep the k most
 *      extreme locked pairs (a dropped one is beaten by k others: finding it again cannot
 *      change the answer) and go to 1. A run whose best pair did not converge within the
 *      step limit (which is per run) ends the call.
 * ‖A‖ is estimated by the largest |θ| seen (a lower bound, so the test is not looser).
 * Without repeated eigenvalues a call makes two runs (find k, certify them); every missing
 * copy of a repeated eigenvalue costs one more. */

/* a strictly more extreme than b for `which` */
static bool more_extreme(hb_eig_which which, double a, double b) {
    if (which == HB_EIG_LARGEST) return a > b;
    if (which == HB_EIG_SMALLEST) return a < b;
    return fabs(a) > fabs(b);
}

/* Order of Ritz value indices (nodes ascending) for `which`: idx[0..s) best first. */
static void order_ritz(const double *d, size_t s, hb_eig_which which, size_t *idx) {
    if (which == HB_EIG_LARGEST) {
        for (size_t i = 0; i < s; i++) idx[i] = s - 1 - i;
    } else if (which == HB_EIG_SMALLEST) {
        for (size_t i = 0; i < s; i++) idx[i] = i;
    } else { /* merge from both ends by |θ| */
        size_t lo = 0, hi = s;
        for (size_t i = 0; i < s; i++) idx[i] = fabs(d[hi - 1]) >= fabs(d[lo]) ? --hi : lo++;
    }
}

typedef struct {
    hb_slq *s;
    hb_linop *op;
    size_t n, k;
    hb_eig_which which;
    uint64_t stream, draws; /* start vector r is probe `draws` of `stream` */
    double anorm;           /* max |θ| seen: the ‖A‖ of the residual test */
    /* locked pairs, most extreme first: nl ≤ k + 1 (k after each lock) */
    size_t nl;
    double *lv, *lres, *X;  /* k+1, k+1, (k+1)×n */
    double *hx;             /* k+1: coefficients against X */
    /* the current run: one probe of slq_work (Q, Qp, W, basis B, alpha, beta, h, d, e, Z) */
    slq_work w;
    size_t m, steps, *idx;
    double beta_last;
    bool broke;
} topk_state;

static void topk_free(topk_state *t) {
    hb_context *ctx = t->s->ctx;
    hb__free(ctx, t->lv);
    hb__free(ctx, t->lres);
    hb__free(ctx, t->X);
    hb__free(ctx, t->hx);
    hb__free(ctx, t->idx);
    work_free(ctx, &t->w);
}

static int topk_alloc(topk_state *t) {
    hb_context *ctx = t->s->ctx;
    size_t cap = t->k + 1, xn;
    HB_CHECK(ctx, cap > t->k && hb__mul_size(cap, t->n, &xn) && hb__mul_size(xn, sizeof(double), &(size_t){0}),
             HB_EOVERFLOW, "top-k work sizes overflow (k %zu, n %zu)", t->k, t->n);
    HB_TRY(work_alloc(ctx, &t->w, 1, t->m, t->n, true, HB_F64));
    bool ok = (t->lv = hb__malloc(ctx, cap * sizeof(double), "top-k values")) &&
              (t->lres = hb__malloc(ctx, cap * sizeof(double), "top-k residuals")) &&
              (t->X = hb__malloc(ctx, xn * sizeof(double), "top-k locked vectors")) &&
              (t->hx = hb__malloc(ctx, cap * sizeof(double), "top-k coefficients")) &&
              (t->idx = hb__malloc(ctx, t->m * sizeof(size_t), "top-k order"));
    return ok ? HB_OK : HB_ENOMEM;
}

/* r ← r minus its components along the locked X (nl rows) and the basis B (rows), twice
 * (classical Gram–Schmidt, "twice is enough"; B ⟂ X, so one sweep over both is one pass). */
static int orth_locked(topk_state *t, double *r, size_t rows) {
    hb_context *ctx = t->s->ctx;
    int64_t n = (int64_t)t->n;
    for (int pass = 0; pass < 2; pass++) {
        if (t->nl > 0) {
            HB_TRY(hb__gemv(ctx, HB_F64, false, (int64_t)t->nl, n, 1.0, t->X, n, r, 1, 0.0, t->hx, 1));
            HB_TRY(hb__gemv(ctx, HB_F64, true, (int64_t)t->nl, n, -1.0, t->X, n, t->hx, 1, 1.0, r, 1));
        }
        if (rows > 0) {
            HB_TRY(hb__gemv(ctx, HB_F64, false, (int64_t)rows, n, 1.0, t->w.B, n, r, 1, 0.0, t->w.h, 1));
            HB_TRY(hb__gemv(ctx, HB_F64, true, (int64_t)rows, n, -1.0, t->w.B, n, t->w.h, 1, 1.0, r, 1));
        }
    }
    return HB_OK;
}

/* A fresh random unit start vector in X⊥ (in w.Q). Gaussian whatever HB_SLQ_PROBE_DIST
 * says: a ±1 vector lies in a given subspace with positive probability (after locking one
 * vector of a triple eigenvalue of a diagonal operator, 1/4 of the ±1 starts have no
 * component left in that eigenspace); a Gaussian one with probability 0. A draw that
 * lies in span(X) to rounding anyway is replaced by the next one. */
static int topk_start(topk_state *t) {
    hb_context *ctx = t->s->ctx;
    double *q = t->w.Q;
    for (int attempt = 0; attempt < 8; attempt++) {
        HB_TRY(hb_random_fill_f64(ctx, t->stream, t->draws++ * t->n, HB_DIST_NORMAL, 0.0, 1.0, q, t->n));
        double before = 0, after = 0;
        HB_TRY(hb__nrm2(ctx, HB_F64, (int64_t)t->n, q, 1, &before));
        HB_TRY(orth_locked(t, q, 0));
        HB_TRY(hb__nrm2(ctx, HB_F64, (int64_t)t->n, q, 1, &after));
        if (after > 1e-8 * before)
            return hb__scal(ctx, HB_F64, (int64_t)t->n, 1.0 / after, q, 1);
    }
    return hb__fail(ctx, HB_EUNSUPPORTED, "top-k: 8 random start vectors lay in the span of the "
                                          "%zu locked eigenvectors", t->nl);
}

/* residual ‖A·y − θ·y‖ = β_last·|z_last| of Ritz pair c of the current run */
static double ritz_residual(const topk_state *t, size_t c) {
    return t->beta_last * fabs(t->w.Z[c * t->steps + t->steps - 1]);
}

static bool ritz_converged(const topk_state *t, size_t c) {
    return t->broke || ritz_residual(t, c) <= t->s->topk_tol * t->anorm;
}

/* Step 2 (the run's best pair has converged): how many leading locked values are at
 * least as extreme as its value θ, up to tol·‖A‖ (a tie is a further copy: still certified). */
static size_t topk_certified(const topk_state *t) {
    double th = t->w.d[t->idx[0]], tol = t->s->topk_tol * t->anorm;
    size_t c = 0;
    while (c < t->nl) {
        double v = t->lv[c];
        bool ok = t->which == HB_EIG_LARGEST    ? v >= th - tol
                  : t->which == HB_EIG_SMALLEST ? v <= th + tol
                                                : fabs(v) >= fabs(th) - tol;
        if (!ok) break;
        c++;
    }
    return c;
}

/* Ritz values of the steps run so far, ordered; ‖A‖ estimate updated. */
static int topk_ritz(topk_state *t) {
    HB_TRY(tridiag_eig(t->s->ctx, t->steps, t->w.alpha, t->w.beta, t->w.d, t->w.e, t->w.Z));
    order_ritz(t->w.d, t->steps, t->which, t->idx);
    t->anorm = fmax(t->anorm, fmax(fabs(t->w.d[0]), fabs(t->w.d[t->steps - 1])));
    return HB_OK;
}

/* leading converged pairs of the run, at most `need` */
static size_t converged_prefix(const topk_state *t, size_t need) {
    size_t c = 0;
    while (c < need && c < t->steps && ritz_converged(t, t->idx[c])) c++;
    return c;
}

/* Step 1: one Lanczos run on X⊥ of at most min(m, n − nl) steps. */
static int topk_run(topk_state *t, size_t need) {
    hb_context *ctx = t->s->ctx;
    size_t n = t->n, m = t->m < n - t->nl ? t->m : n - t->nl;
    double *q = t->w.Q, *qp = t->w.Qp, *r = t->w.W, *B = t->w.B;
    HB_TRY(topk_start(t));
    memset(qp, 0, n * sizeof(double));
    memcpy(B, q, n * sizeof(double));
    t->w.tnorm[0] = 0;
    for (size_t j = 0; j < m; j++) {
        double a = 0, b = 0, b_prev = j > 0 ? t->w.beta[j - 1] : 0.0;
        HB_TRY(apply_counted(t->s, t->op, 1, q, r));
        HB_TRY(check_finite(ctx, r, n));
        HB_TRY(hb__dot(ctx, HB_F64, (int64_t)n, q, 1, r, 1, &a));
        for (size_t i = 0; i < n; i++) r[i] -= a * q[i] + b_prev * qp[i];
        HB_TRY(orth_locked(t, r, j + 1));
        HB_TRY(hb__nrm2(ctx, HB_F64, (int64_t)n, r, 1, &b));
        t->w.alpha[j] = a;
        t->steps = j + 1;
        t->w.tnorm[0] = fmax(t->w.tnorm[0], fabs(a) + b + b_prev);
        t->beta_last = b;
        t->broke = !(b > t->s->breakdown_tol * t->w.tnorm[0]);
        bool last = t->broke || t->steps == m;
        /* check every 5 steps (a tridiagonal eigensolve each) and at the end */
        if (last || t->steps % 5 == 0) {
            HB_TRY(topk_ritz(t));
            if (last || converged_prefix(t, need) == need) return HB_OK;
        }
        t->w.beta[j] = b;
        for (size_t i = 0; i < n; i++) {
            qp[i] = q[i];
            q[i] = r[i] / b;
        }
        memcpy(B + (j + 1) * n, q, n * sizeof(double));
        HB_TRY(hb__progress(ctx, "slq", (int64_t)t->steps, (int64_t)m));
    }
    return HB_OK; /* not reached: the last step returns above */
}

/* y = Q_sᵀ·z_c (unit Ritz vector of pair c of the current run) */
static int ritz_vector(topk_state *t, size_t c, double *y) {
    return hb__gemv(t->s->ctx, HB_F64, true, (int64_t)t->steps, (int64_t)t->n, 1.0, t->w.B,
                    (int64_t)t->n, t->w.Z + c * t->steps, 1, 0.0, y, 1);
}

/* Step 3: lock the run's `c` leading pairs into the sorted locked list, keep the best k. */
static int topk_lock(topk_state *t, size_t c) {
    size_t n = t->n;
    double *y = t->w.W; /* the run's residual vector, free now */
    for (size_t i = 0; i < c; i++) {
        size_t z = t->idx[i];
        double th = t->w.d[z];
        HB_TRY(ritz_vector(t, z, y));
        size_t p = t->nl; /* insertion point: after every value at least as extreme */
        while (p > 0 && more_extreme(t->which, th, t->lv[p - 1])) p--;
        memmove(t->X + (p + 1) * n, t->X + p * n, (t->nl - p) * n * sizeof(double));
        memmove(t->lv + p + 1, t->lv + p, (t->nl - p) * sizeof(double));
        memmove(t->lres + p + 1, t->lres + p, (t->nl - p) * sizeof(double));
        memcpy(t->X + p * n, y, n * sizeof(double));
        t->lv[p] = th;
        t->lres[p] = t->broke ? 0.0 : ritz_residual(t, z);
        t->nl++;
    }
    if (t->nl > t->k) t->nl = t->k;
    return HB_OK;
}

/* Outputs: the `cert` certified locked pairs, then the other locked pairs merged with the
 * last run's Ritz pairs in `which` order (with k certified: the first k locked pairs). */
static int topk_output(topk_state *t, size_t cert, double *values, double *vectors,
                       double *residuals) {
    size_t a = 0, b = 0;
    for (size_t i = 0; i < t->k; i++) {
        bool locked = a < t->nl && (a < cert || b >= t->steps ||
                                    !more_extreme(t->which, t->w.d[t->idx[b]], t->lv[a]));
        if (locked) {
            values[i] = t->lv[a];
            if (residuals) residuals[i] = t->lres[a];
            if (vectors) memcpy(vectors + i * t->n, t->X + a * t->n, t->n * sizeof(double));
            a++;
        } else {
            size_t z = t->idx[b++];
            values[i] = t->w.d[z];
            if (residuals) residuals[i] = t->broke ? 0.0 : ritz_residual(t, z);
            if (vectors) HB_TRY(ritz_vector(t, z, vectors + i * t->n));
        }
    }
    return HB_OK;
}

/* The loop of steps 1–3; *converged = the certified count (it only grows, see step 2). */
static int topk_core(topk_state *t, double *values, double *vectors, double *residuals,
                     size_t *converged) {
    HB_TRY(topk_alloc(t));
    if (t->s->stream >= 0) t->stream = (uint64_t)t->s->stream;
    else HB_TRY(hb_context_next_stream(t->s->ctx, &t->stream));
    for (;;) {
        if (t->nl == t->n) { /* k = n, all locked: the spectrum is the locked values */
            t->steps = 0;
            *converged = t->k;
            break;
        }
        size_t need = t->nl < t->k ? t->k - t->nl : 1;
        HB_TRY(topk_run(t, need));
        size_t c = converged_prefix(t, need);
        if (c == 0) break; /* the best pair did not converge within the step limit */
        size_t cert = topk_certified(t);
        if (cert > *converged) *converged = cert;
        if (cert >= t->k) {
            t->steps = 0; /* the answer is the locked pairs */
            break;
        }
        HB_TRY(topk_lock(t, c));
    }
    return topk_output(t, *converged, values, vectors, residuals);
}

int hb_slq_topk(hb_slq *s, hb_linop *op, size_t k, hb_eig_which which, double *values,
                double *vectors, double *residuals, size_t *converged) {
    if (!s) return HB_EINVAL;
    hb_context *ctx = s->ctx;
    HB_CHECK(ctx, op != NULL && values != NULL, HB_EINVAL, "operator or values is NULL");
    size_t n = op->n;
    HB_CHECK(ctx, k >= 1 && k <= n, HB_EINVAL, "k = %zu must be in [1, n = %zu]", k, n);
    HB_CHECK(ctx, which == HB_EIG_LARGEST || which == HB_EIG_SMALLEST ||
                      which == HB_EIG_LARGEST_MAGNITUDE,
             HB_EINVAL, "unknown eigenvalue selection %d", (int)which);
    topk_state t;
    memset(&t, 0, sizeof t);
    t.s = s;
    t.op = op;
    t.n = n;
    t.k = k;
    t.which = which;
    /* steps per run: the option, at least k (the first run must be able to hold k pairs) */
    t.m = (size_t)s->topk_max_steps < k ? k : (size_t)s->topk_max_steps;
    if (t.m > n) t.m = n;
    stats_reset(s);
    size_t conv = 0;
    int rc = topk_core(&t, values, vectors, residuals, &conv);
    if (rc == HB_OK && converged) *converged = conv;
    topk_free(&t);
    stats_done(s);
    return rc;
}

/* ---- Top-k of several blocks, across ranks ----------------------------------------------
 * Entry i is one hb_slq_topk on block blocks[i]'s sub-Hessian (or the full Hessian) with
 * HB_SLQ_STREAM = its stream, run sequentially on s->ctx (each run's products use the
 * context's threads inside). Across ranks the entries are divided as SLQ tasks are (LPT on
 * the estimated cost of one product, else round robin), each rank runs its own, and one
 * allgather of a fixed-size table (n records, a rank's own rows filled) after the status
 * round gives every rank every entry: the same bits as one process, since an entry's
 * run depends only on (seed, stream, block, options). */
typedef struct topk_head {
    int64_t kk, conv, calls, vectors;
    double apply_s;
} topk_head;

static int topk_entry(hb_slq *s, hb_model *m, size_t block, uint64_t stream, size_t k,
                      hb_eig_which which, unsigned char *rec) {
    hb_linop *op = NULL;
    HB_TRY(block == HB_SLQ_FULL_HESSIAN ? hb_linop_create_model_hessian(m, &op)
                                        : hb_linop_create_model_block(m, block, &op));
    size_t kk = k < op->n ? k : op->n, conv = 0;
    double *vals = (double *)(rec + sizeof(topk_head)), *res = vals + k;
    for (size_t j = 0; j < k; j++) vals[j] = res[j] = NAN;
    int64_t saved = s->stream;
    s->stream = (int64_t)stream;
    int rc = hb_slq_topk(s, op, kk, which, vals, NULL, res, &conv);
    s->stream = saved;
    topk_head h = {(int64_t)kk, (int64_t)conv, s->stat_calls, s->stat_vectors, s->stat_apply_s};
    memcpy(rec, &h, sizeof h);
    hb_linop_free(op);
    return rc;
}

static int topk_blocks_impl(hb_slq *s, hb_model *m, const size_t *blocks,
                            const uint64_t *streams, size_t n, size_t k, hb_eig_which which,
                            double *values, double *residuals, size_t *converged) {
    hb_context *ctx = s->ctx;
    HB_CHECK(ctx, m != NULL, HB_EINVAL, "model is NULL");
    HB_CHECK(ctx, n == 0 || values != NULL, HB_EINVAL, "values is NULL");
    HB_CHECK(ctx, k >= 1, HB_EINVAL, "k must be >= 1");
    HB_CHECK(ctx, which == HB_EIG_LARGEST || which == HB_EIG_SMALLEST ||
                      which == HB_EIG_LARGEST_MAGNITUDE,
             HB_EINVAL, "unknown eigenvalue selection %d", (int)which);
    const hb_params *pr = m->params;
    for (size_t i = 0; i < n; i++) {
        size_t b = blocks ? blocks[i] : i;
        HB_CHECK(ctx, b == HB_SLQ_FULL_HESSIAN || b < pr->n_blocks, HB_ERANGE,
                 "entry %zu: block %zu out of range (%zu blocks)", i, b, pr->n_blocks);
    }
    /* a data-parallel model: every rank runs every entry, no exchange (see
     * no_rounds_if_collective) */
    int ranks = hb__model_collective(m) ? 1 : hb__comm_size(ctx);
    int me = ranks == 1 ? 0 : hb__comm_rank(ctx);
    size_t rec, table, all;
    HB_CHECK(ctx, hb__mul_size(k, 16, &rec) && hb__add_size(rec, sizeof(topk_head), &rec) &&
                      hb__mul_size(n, rec, &table) && hb__mul_size(table, (size_t)ranks, &all) &&
                      hb__mul_size(n, k, &(size_t){0}),
             HB_EOVERFLOW, "top-k of %zu entries x %zu values overflows", n, k);
    uint64_t *st = hb__calloc(ctx, n ? n : 1, sizeof *st, "top-k streams");
    int *owner = st ? hb__calloc(ctx, n ? n : 1, sizeof *owner, "top-k ranks") : NULL;
    task_cost *tc = owner ? hb__calloc(ctx, n ? n : 1, sizeof *tc, "top-k costs") : NULL;
    unsigned char *mine = tc ? hb__calloc(ctx, table ? table : 1, 1, "top-k table") : NULL;
    unsigned char *recv = mine && ranks > 1 ? hb__malloc(ctx, all ? all : 1, "top-k tables") : NULL;
    int rc = mine && (ranks == 1 || recv) ? HB_OK : HB_ENOMEM;
    for (size_t i = 0; i < n && rc == HB_OK; i++) { /* streams in entry order, as n runs */
        if (streams) st[i] = streams[i];
        else rc = run_stream(s, &st[i]);
        if (rc == HB_OK && st[i] > (uint64_t)INT64_MAX) /* HB_SLQ_STREAM is an int64 */
            rc = hb__fail(ctx, HB_ERANGE, "entry %zu: stream %llu too large", i,
                          (unsigned long long)st[i]);
    }
    /* who runs what: as the SLQ tasks (lpt_ranks), one task per entry */
    bool known = ranks > 1 && hb__slq_longest_first != 0;
    for (size_t i = 0; i < n && rc == HB_OK && known; i++) {
        size_t b = blocks ? blocks[i] : i;
        tc[i].task = i;
        rc = hb__slq_task_cost(s, m, b, 1, &tc[i].cost);
        known = tc[i].cost > 0;
    }
    if (rc == HB_OK) rc = lpt_ranks(ctx, tc, n, ranks, known, owner);
    stats_reset(s);
    int64_t calls = 0, vecs = 0;
    double apply_s = 0;
    for (size_t i = 0; i < n && rc == HB_OK; i++) {
        if (owner[i] != me) continue;
        rc = topk_entry(s, m, blocks ? blocks[i] : i, st[i], k, which, mine + i * rec);
    }
    if (ranks > 1) { /* every rank takes part, failed or not */
        uint64_t print = 0xcbf29ce484222325ULL;
        print = fnv(print, 0x746f706bULL); /* "topk": never an SLQ run's */
        print = fnv(print, (uint64_t)ctx->seed);
        print = fnv(print, n);
        print = fnv(print, k);
        print = fnv(print, (uint64_t)which);
        print = fnv(print, (uint64_t)s->topk_max_steps);
        uint64_t tol;
        memcpy(&tol, &s->topk_tol, sizeof tol);
        print = fnv(print, tol);
        for (size_t i = 0; i < n; i++) {
            print = fnv(print, blocks ? blocks[i] : i);
            print = fnv(print, st[i]);
            print = fnv(print, (uint64_t)owner[i]);
        }
        rank_head stack_heads[STACK_RANKS];
        rank_head *heads = ranks <= STACK_RANKS
                               ? stack_heads
                               : hb__calloc(ctx, (size_t)ranks, sizeof *heads, "status round");
        if (!heads) rc = HB_ENOMEM; /* (more than STACK_RANKS ranks) the others wait */
        else {
            rc = status_round(s, rc, 0, print, heads, "top-k");
            if (heads != stack_heads) hb__free(ctx, heads);
        }
        if (rc == HB_OK && table > 0) rc = hb__comm_allgather(ctx, mine, table, recv);
        for (size_t i = 0; i < n && rc == HB_OK; i++) /* entry i from its rank */
            if (owner[i] != me) memcpy(mine + i * rec, recv + (size_t)owner[i] * table + i * rec, rec);
    }
    for (size_t i = 0; i < n && rc == HB_OK; i++) {
        topk_head h;
        memcpy(&h, mine + i * rec, sizeof h);
        const double *vals = (const double *)(mine + i * rec + sizeof h);
        memcpy(values + i * k, vals, k * sizeof(double));
        if (residuals) memcpy(residuals + i * k, vals + k, k * sizeof(double));
        if (converged) converged[i] = (size_t)h.conv;
        calls += h.calls;
        vecs += h.vectors;
        apply_s += h.apply_s;
    }
    stats_reset(s);
    s->stat_calls = calls;
    s->stat_vectors = vecs;
    s->stat_apply_s = apply_s;
    hb__free(ctx, recv);
    hb__free(ctx, mine);
    hb__free(ctx, tc);
    hb__free(ctx, owner);
    hb__free(ctx, st);
    return rc;
}

int hb_slq_topk_model_blocks(hb_slq *s, hb_model *m, const size_t *blocks,
                             const uint64_t *streams, size_t n, size_t k, hb_eig_which which,
                             double *values, double *residuals, size_t *converged) {
    if (!s) return HB_EINVAL;
    s->status_round_done = 0;
    no_rounds_if_collective(s, m, NULL);
    double t0 = hb__seconds();
    int rc = agree_on_failure(
        s, topk_blocks_impl(s, m, blocks, streams, n, k, which, values, residuals, converged));
    s->stat_total_s = hb__seconds() - t0;
    return rc;
}
