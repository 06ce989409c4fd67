/* Spectra: per-probe Gauss quadratures (nodes θ_pj, weights τ_pj), their smoothed density,
 * moments, extremes, and JSON/CSV export.
 *   μ ≈ (1/n_v) Σ_p Σ_j τ_pj δ(θ_pj)
 *   density(x) = (1/n_v) Σ_p Σ_j τ_pj exp(−(x−θ_pj)²/2σ²)/(σ√(2π))
 *   moment_k  = mean_p Σ_j τ_pj θ_pj^k   ≈ (1/n) tr(A^k) */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/numfmt.h"
#include "slq/slq_internal.h"

int hb_spectrum_create(hb_context *ctx, size_t n, hb_spectrum **out) {
    if (!ctx) return HB_EINVAL;
    HB_CHECK(ctx, out != NULL, HB_EINVAL, "out is NULL");
    *out = NULL;
    HB_CHECK(ctx, n > 0, HB_EINVAL, "spectrum of an operator of size 0");
    hb_spectrum *sp = hb__calloc(ctx, 1, sizeof *sp, "spectrum");
    if (!sp) return HB_ENOMEM;
    sp->ctx = ctx;
    sp->n = n;
    sp->unit_roundoff = DBL_EPSILON / 2; /* caller-given nodes: f64 unless SLQ says otherwise */
    *out = sp;
    return HB_OK;
}

void hb_spectrum_free(hb_spectrum *sp) {
    if (!sp) return;
    for (size_t p = 0; p < sp->n_probes; p++) {
        hb__free(sp->ctx, sp->probes[p].nodes);
        hb__free(sp->ctx, sp->probes[p].weights);
    }
    hb__free(sp->ctx, sp->probes);
    hb__free(sp->ctx, sp);
}

int hb__spectrum_push(hb_spectrum *sp, double *nodes, double *weights, size_t count,
                      int breakdown) {
    hb_context *ctx = sp->ctx;
    if (sp->n_probes == sp->cap_probes) {
        size_t cap = sp->cap_probes ? 2 * sp->cap_probes : 8;
        hb__probe *np = hb__calloc(ctx, cap, sizeof *np, "spectrum probes");
        if (!np) return HB_ENOMEM;
        if (sp->n_probes) memcpy(np, sp->probes, sp->n_probes * sizeof *np);
        hb__free(ctx, sp->probes);
        sp->probes = np;
        sp->cap_probes = cap;
    }
    sp->probes[sp->n_probes++] = (hb__probe){nodes, weights, count, breakdown};
    return HB_OK;
}

static int cmp_pair(const void *a, const void *b) {
    double x = ((const double *)a)[0], y = ((const double *)b)[0];
    return (x > y) - (x < y);
}

int hb_spectrum_add_probe(hb_spectrum *sp, const double *nodes, const double *weights,
                          size_t count) {
    if (!sp) return HB_EINVAL;
    hb_context *ctx = sp->ctx;
    HB_CHECK(ctx, nodes != NULL && weights != NULL, HB_EINVAL, "nodes or weights is NULL");
    HB_CHECK(ctx, count >= 1, HB_EINVAL, "a probe needs at least one node");
    HB_CHECK(ctx, count <= ((size_t)-1) / (2 * sizeof(double)), HB_EOVERFLOW, "count overflows");
    double sum = 0;
    for (size_t i = 0; i < count; i++) {
        HB_CHECK(ctx, isfinite(nodes[i]) && isfinite(weights[i]), HB_ENONFINITE,
                 "node or weight %zu is not finite", i);
        HB_CHECK(ctx, weights[i] >= 0, HB_EINVAL, "weight %zu is negative (%g)", i, weights[i]);
        sum += weights[i];
    }
    HB_CHECK(ctx, sum > 0 && isfinite(sum), HB_EINVAL, "weights must have a positive finite sum");
    double *pairs = hb__malloc(ctx, 2 * count * sizeof(double), "sort scratch");
    double *nd = hb__malloc(ctx, count * sizeof(double), "spectrum nodes");
    double *wt = hb__malloc(ctx, count * sizeof(double), "spectrum weights");
    int rc = pairs && nd && wt ? HB_OK : HB_ENOMEM;
    if (rc == HB_OK) {
        for (size_t i = 0; i < count; i++) {
            pairs[2 * i] = nodes[i];
            pairs[2 * i + 1] = weights[i] / sum;
        }
        qsort(pairs, count, 2 * sizeof(double), cmp_pair);
        for (size_t i = 0; i < count; i++) {
            nd[i] = pairs[2 * i];
            wt[i] = pairs[2 * i + 1];
        }
        rc = hb__spectrum_push(sp, nd, wt, count, 0);
    }
    hb__free(ctx, pairs);
    if (rc != HB_OK) {
        hb__free(ctx, nd);
        hb__free(ctx, wt);
    }
    return rc;
}

int hb_spectrum_restore_probe(hb_spectrum *sp, const double *nodes, const double *weights,
                              size_t count, int breakdown) {
    if (!sp) return HB_EINVAL;
    hb_context *ctx = sp->ctx;
    HB_CHECK(ctx, nodes != NULL && weights != NULL, HB_EINVAL, "nodes or weights is NULL");
    HB_CHECK(ctx, count >= 1, HB_EINVAL, "a probe needs at least one node");
    HB_CHECK(ctx, count <= ((size_t)-1) / sizeof(double), HB_EOVERFLOW, "count overflows");
    double sum = 0;
    for (size_t i = 0; i < count; i++) {
        HB_CHECK(ctx, isfinite(nodes[i]) && isfinite(weights[i]), HB_ENONFINITE,
                 "node or weight %zu is not finite", i);
        HB_CHECK(ctx, weights[i] >= 0, HB_EINVAL, "weight %zu is negative (%g)", i, weights[i]);
        HB_CHECK(ctx, i == 0 || nodes[i] >= nodes[i - 1], HB_EINVAL,
                 "nodes are not ascending at %zu (%.17g after %.17g)", i, nodes[i], nodes[i - 1]);
        sum += weights[i];
    }
    /* the weights of a saved probe sum to 1 up to rounding; anything else is not one */
    HB_CHECK(ctx, fabs(sum - 1) <= 1e-9, HB_EINVAL, "weights sum to %.17g, not 1", sum);
    double *nd = hb__malloc(ctx, count * sizeof(double), "spectrum nodes");
    double *wt = hb__malloc(ctx, count * sizeof(double), "spectrum weights");
    int rc = nd && wt ? HB_OK : HB_ENOMEM;
    if (rc == HB_OK) {
        memcpy(nd, nodes, count * sizeof(double));
        memcpy(wt, weights, count * sizeof(double));
        rc = hb__spectrum_push(sp, nd, wt, count, breakdown != 0);
    }
    if (rc != HB_OK) {
        hb__free(ctx, nd);
        hb__free(ctx, wt);
    }
    return rc;
}

int hb_spectrum_set_unit_roundoff(hb_spectrum *sp, double u) {
    if (!sp) return HB_EINVAL;
    HB_CHECK(sp->ctx, u > 0 && u < 1, HB_EINVAL, "unit roundoff %g is not in (0, 1)", u);
    sp->unit_roundoff = u;
    return HB_OK;
}

size_t hb_spectrum_dim(const hb_spectrum *sp) { return sp ? sp->n : 0; }
size_t hb_spectrum_num_probes(const hb_spectrum *sp) { return sp ? sp->n_probes : 0; }
double hb_spectrum_unit_roundoff(const hb_spectrum *sp) { return sp ? sp->unit_roundoff : 0.0; }

int hb_spectrum_probe(const hb_spectrum *sp, size_t p, const double **nodes,
                      const double **weights, size_t *count, int *breakdown) {
    if (!sp) return HB_EINVAL;
    HB_CHECK(sp->ctx, p < sp->n_probes, HB_ERANGE, "probe %zu out of range (%zu probes)", p,
             sp->n_probes);
    const hb__probe *q = &sp->probes[p];
    if (nodes) *nodes = q->nodes;
    if (weights) *weights = q->weights;
    if (count) *count = q->count;
    if (breakdown) *breakdown = q->breakdown;
    return HB_OK;
}

static void extremes(const hb_spectrum *sp, double *lo, double *hi) {
    double a = INFINITY, b = -INFINITY;
    for (size_t p = 0; p < sp->n_probes; p++) {
        a = fmin(a, sp->probes[p].nodes[0]);
        b = fmax(b, sp->probes[p].nodes[sp->probes[p].count - 1]);
    }
    *lo = a;
    *hi = b;
}

int hb_spectrum_extremes(const hb_spectrum *sp, double *lambda_min, double *lambda_max) {
    if (!sp) return HB_EINVAL;
    HB_CHECK(sp->ctx, sp->n_probes > 0, HB_ESTATE, "spectrum has no probes");
    double lo, hi;
    extremes(sp, &lo, &hi);
    if (lambda_min) *lambda_min = lo;
    if (lambda_max) *lambda_max = hi;
    return HB_OK;
}

double hb_spectrum_default_sigma(const hb_spectrum *sp) {
    if (!sp || sp->n_probes == 0) return 0.01;
    double lo, hi;
    extremes(sp, &lo, &hi);
    if (hi > lo) return 0.01 * (hi - lo);
    double s = fmax(fabs(lo), fabs(hi));
    return s > 0 ? 0.01 * s : 0.01;
}

double hb__spectrum_density_at(const hb_spectrum *sp, double x, double sigma, double scale) {
    const double c = 1.0 / (sigma * 2.5066282746310002);
    double acc = 0;
    for (size_t p = 0; p < sp->n_probes; p++) {
        const hb__probe *q = &sp->probes[p];
        double s = 0;
        for (size_t j = 0; j < q->count; j++) {
            double z = (x - q->nodes[j] / scale) / sigma;
            if (fabs(z) < 40) s += q->weights[j] * exp(-0.5 * z * z);
        }
        acc += s;
    }
    return acc * c / (double)sp->n_probes;
}

int hb_spectrum_density(const hb_spectrum *sp, const double *grid, size_t n_grid, double sigma,
                        double *out) {
    if (!sp) return HB_EINVAL;
    hb_context *ctx = sp->ctx;
    HB_CHECK(ctx, grid != NULL && out != NULL, HB_EINVAL, "grid or out is NULL");
    HB_CHECK(ctx, n_grid > 0, HB_EINVAL, "empty grid");
    HB_CHECK(ctx, sp->n_probes > 0, HB_ESTATE, "spectrum has no probes");
    HB_CHECK(ctx, !isnan(sigma) && isfinite(sigma), HB_EINVAL, "sigma is not finite");
    for (size_t g = 0; g < n_grid; g++)
        HB_CHECK(ctx, isfinite(grid[g]), HB_ENONFINITE, "grid point %zu is not finite", g);
    if (!(sigma > 0)) sigma = hb_spectrum_default_sigma(sp);
    for (size_t g = 0; g < n_grid; g++) out[g] = hb__spectrum_density_at(sp, grid[g], sigma, 1.0);
    return HB_OK;
}

int hb_spectrum_moment(const hb_spectrum *sp, int order, double *value, double *stderr_out) {
    if (!sp) return HB_EINVAL;
    hb_context *ctx = sp->ctx;
    HB_CHECK(ctx, value != NULL, HB_EINVAL, "value is NULL");
    HB_CHECK(ctx, order >= 0, HB_EINVAL, "moment order %d < 0", order);
    HB_CHECK(ctx, sp->n_probes > 0, HB_ESTATE, "spectrum has no probes");
    size_t k = sp->n_probes;
    double mu = 0, ss = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t p = 0; p < k; p++) {
            const hb__probe *q = &sp->probes[p];
            double s = 0;
            for (size_t j = 0; j < q->count; j++) s += q->weights[j] * pow(q->nodes[j], order);
            if (pass == 0) mu += s / (double)k;
            else ss += (s - mu) * (s - mu);
        }
    *value = mu;
    if (stderr_out) *stderr_out = k > 1 ? sqrt(ss / (double)(k - 1) / (double)k) : 0.0;
    return HB_OK;
}

int hb_spectrum_trace(const hb_spectrum *sp, double *trace, double *stderr_out) {
    if (!sp) return HB_EINVAL;
    HB_CHECK(sp->ctx, trace != NULL, HB_EINVAL, "trace is NULL");
    double m, se;
    HB_TRY(hb_spectrum_moment(sp, 1, &m, &se));
    *trace = m * (double)sp->n;
    if (stderr_out) *stderr_out = se * (double)sp->n;
    return HB_OK;
}

/* ---- Export ------------------------------------------------------------------------------ */
typedef struct {
    FILE *f;
    char *buf;
    size_t cap, len;
    int err;
} writer;

static void emit(writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(writer *w, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r;
    if (w->f) {
        r = vfprintf(w->f, fmt, ap);
    } else {
        char *dst = w->buf && w->len < w->cap ? w->buf + w->len : NULL;
        size_t room = dst ? w->cap - w->len : 0;
        r = vsnprintf(dst, room, fmt, ap);
    }
    va_end(ap);
    if (r < 0) w->err = 1;
    else w->len += (size_t)r;
}

/* A number as "%.17g" in the C locale whatever the application's locale (issue 12.8):
 * a decimal comma would break both the JSON and the CSV. `before` is written first. */
static void emit_num(writer *w, const char *before, double v) {
    char b[HB_NUMFMT_LEN];
    emit(w, "%s%s", before, hb__fmt_double(b, sizeof b, 17, v));
}

static void write_json(const hb_spectrum *sp, writer *w) {
    double lo = 0, hi = 0, tr = 0, tse = 0;
    if (sp->n_probes) {
        extremes(sp, &lo, &hi);
        hb_spectrum_trace(sp, &tr, &tse);
    }
    emit(w, "{\"format\":\"hessblock-spectrum\",\"version\":1,\"dim\":%zu,\"num_probes\":%zu,",
         sp->n, sp->n_probes);
    emit_num(w, "\"lambda_min\":", lo);
    emit_num(w, ",\"lambda_max\":", hi);
    emit_num(w, ",\"trace\":", tr);
    emit_num(w, ",\"trace_stderr\":", tse);
    emit_num(w, ",\"default_sigma\":", hb_spectrum_default_sigma(sp));
    emit(w, ",\"probes\":[");
    for (size_t p = 0; p < sp->n_probes; p++) {
        const hb__probe *q = &sp->probes[p];
        emit(w, "%s{\"steps\":%zu,\"breakdown\":%s,\"nodes\":[", p ? "," : "", q->count,
             q->breakdown ? "true" : "false");
        for (size_t j = 0; j < q->count; j++) emit_num(w, j ? "," : "", q->nodes[j]);
        emit(w, "],\"weights\":[");
        for (size_t j = 0; j < q->count; j++) emit_num(w, j ? "," : "", q->weights[j]);
        emit(w, "]}");
    }
    emit(w, "]}\n");
}

static void write_csv(const hb_spectrum *sp, writer *w) {
    emit(w, "probe,index,node,weight\n");
    for (size_t p = 0; p < sp->n_probes; p++)
        for (size_t j = 0; j < sp->probes[p].count; j++) {
            emit(w, "%zu,%zu", p, j);
            emit_num(w, ",", sp->probes[p].nodes[j]);
            emit_num(w, ",", sp->probes[p].weights[j]);
            emit(w, "\n");
        }
}

static int save(const hb_spectrum *sp, const char *path, void (*fn)(const hb_spectrum *, writer *)) {
    if (!sp) return HB_EINVAL;
    hb_context *ctx = sp->ctx;
    HB_CHECK(ctx, path != NULL, HB_EINVAL, "path is NULL");
    FILE *f = fopen(path, "w");
    HB_CHECK(ctx, f != NULL, HB_EIO, "cannot open %s for writing", path);
    writer w = {f, NULL, 0, 0, 0};
    fn(sp, &w);
    int bad = w.err || ferror(f);
    bad |= fclose(f) != 0;
    HB_CHECK(ctx, !bad, HB_EIO, "writing %s failed", path);
    return HB_OK;
}

static int to_buf(const hb_spectrum *sp, char *buf, size_t cap, size_t *needed,
                  void (*fn)(const hb_spectrum *, writer *)) {
    if (!sp) return HB_EINVAL;
    hb_context *ctx = sp->ctx;
    HB_CHECK(ctx, needed != NULL, HB_EINVAL, "needed is NULL");
    writer w = {NULL, buf, buf ? cap : 0, 0, 0};
    fn(sp, &w);
    HB_CHECK(ctx, !w.err, HB_EFORMAT, "formatting failed");
    *needed = w.len;
    HB_CHECK(ctx, buf != NULL && w.len < cap, HB_ERANGE, "buffer of %zu bytes too small: %zu needed",
             buf ? cap : 0, w.len + 1);
    return HB_OK;
}

int hb_spectrum_save_json(const hb_spectrum *sp, const char *path) { return save(sp, path, write_json); }
int hb_spectrum_save_csv(const hb_spectrum *sp, const char *path) { return save(sp, path, write_csv); }
int hb_spectrum_to_json(const hb_spectrum *sp, char *buf, size_t cap, size_t *needed) {
    return to_buf(sp, buf, cap, needed, write_json);
}
int hb_spectrum_to_csv(const hb_spectrum *sp, char *buf, size_t cap, size_t *needed) {
    return to_buf(sp, buf, cap, needed, write_csv);
}
