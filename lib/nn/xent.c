/* Softmax cross-entropy (mean over rows), forward / backward / R-backward side by side.
 *
 *   p[n,:]  = softmax(z[n,:])                        z (N, C), targets t (N)
 *   L       = (1/N) Σ_n −log p[n, t_n] = (1/N) Σ_n (logsumexp(z[n,:]) − z[n, t_n])
 *   dz      = dL·(p − onehot(t))/N
 * R-forward:  (the R-pass of the loss value itself is not needed for H·v)
 * R-backward, k directions interleaved per row, Rz and R(dz) (N, k, C):
 *   R(dz)   = dL·R(p)/N,   R(p) = p ⊙ (Rz − ⟨p, Rz⟩)   (= (diag p − p pᵀ)·Rz)
 * dL (`scale`, `dloss`) is the micro-batch weight, so second-order terms upstream see the
 * same factor as first-order ones. Row sums and logsumexp are accumulated in double for
 * both dtypes on the θ side. Template part (the R-backward) compiled once per dtype. */
#ifndef HB_NN_TEMPLATE
#include <math.h>

#include "nn/xent.h"

#define HB_NN_TEMPLATE
#define real float
#define F(name) name##_f32
#include "xent.c"
#undef real
#undef F
#define real double
#define F(name) name##_f64
#include "xent.c"
#undef real
#undef F
#undef HB_NN_TEMPLATE

static double ld(hb_dtype dt, const void *p, int64_t i) {
    return dt == HB_F64 ? ((const double *)p)[i] : (double)((const float *)p)[i];
}
static void st(hb_dtype dt, void *p, int64_t i, double v) {
    if (dt == HB_F64) ((double *)p)[i] = v;
    else ((float *)p)[i] = (float)v;
}

static int check_targets(hb_context *ctx, int64_t N, int64_t C, const int32_t *t) {
    for (int64_t n = 0; n < N; n++)
        HB_CHECK(ctx, t[n] >= 0 && t[n] < C, HB_ERANGE,
                 "target %d of row %lld is outside [0, %lld)", (int)t[n], (long long)n,
                 (long long)C);
    return HB_OK;
}

int hb__xent_forward(hb_context *ctx, hb_dtype dt, int64_t N, int64_t C, const void *logits,
                     const int32_t *targets, void *probs, double *loss) {
    HB_CHECK(ctx, dt == HB_F32 || dt == HB_F64, HB_EDTYPE, "cross-entropy needs f32 or f64");
    HB_TRY(check_targets(ctx, N, C, targets));
    /* The row losses are summed in HB__XENT_CHUNKS fixed chunks of consecutive rows, each
     * in row order, then the chunk sums in chunk order: the same additions for every
     * thread count and every run (an OpenMP reduction clause combines in the order the
     * threads finish). With N ≤ HB__XENT_CHUNKS this is the plain sequential sum. */
    enum { HB__XENT_CHUNKS = 64 };
    double part[HB__XENT_CHUNKS];
    int64_t per = (N + HB__XENT_CHUNKS - 1) / HB__XENT_CHUNKS;
    int64_t nch = per > 0 ? (N + per - 1) / per : 0;
#pragma omp parallel for num_threads(hb__threads(ctx)) schedule(static) if (N * C >= 65536)
    for (int64_t ch = 0; ch < nch; ch++) {
        int64_t n1 = (ch + 1) * per < N ? (ch + 1) * per : N;
        double acc = 0;
        for (int64_t n = ch * per; n < n1; n++) {
            int64_t r = n * C;
            double mx = -INFINITY;
            for (int64_t c = 0; c < C; c++) mx = fmax(mx, ld(dt, logits, r + c));
            double s = 0;
            for (int64_t c = 0; c < C; c++) s += exp(ld(dt, logits, r + c) - mx);
            for (int64_t c = 0; c < C; c++)
                st(dt, probs, r + c, exp(ld(dt, logits, r + c) - mx) / s);
            acc += mx + log(s) - ld(dt, logits, r + targets[n]);
        }
        part[ch] = acc;
    }
    double total = 0;
    for (int64_t ch = 0; ch < nch; ch++) total += part[ch];
    *loss = total / (double)N;
    return HB_OK;
}

int hb__xent_backward(hb_context *ctx, hb_dtype dt, int64_t N, int64_t C, const void *probs,
                      const int32_t *targets, double dloss, void *dlogits) {
    HB_CHECK(ctx, dt == HB_F32 || dt == HB_F64, HB_EDTYPE, "cross-entropy needs f32 or f64");
    HB_TRY(check_targets(ctx, N, C, targets));
    double a = dloss / (double)N;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) {
            int64_t i = n * C + c;
            double g = ld(dt, probs, i) - (c == targets[n] ? 1.0 : 0.0);
            st(dt, dlogits, i, ld(dt, dlogits, i) + a * g);
        }
    return HB_OK;
}

int hb__xent_correct(hb_context *ctx, hb_dtype dt, int64_t N, int64_t C, const void *logits,
                     const int32_t *targets, size_t *correct) {
    HB_CHECK(ctx, dt == HB_F32 || dt == HB_F64, HB_EDTYPE, "cross-entropy needs f32 or f64");
    size_t ok = 0;
    for (int64_t n = 0; n < N; n++) {
        int64_t best = 0;
        for (int64_t c = 1; c < C; c++)
            if (ld(dt, logits, n * C + c) > ld(dt, logits, n * C + best)) best = c;
        ok += best == targets[n];
    }
    *correct = ok;
    return HB_OK;
}

int hb__xent_rbackward(hb_context *ctx, hb_dtype dt, size_t M, size_t V, size_t k,
                       const void *p, const void *Rz, double scale, void *Rgz) {
    HB_CHECK(ctx, dt == HB_F32 || dt == HB_F64, HB_EDTYPE, "cross-entropy needs f32 or f64");
    if (dt == HB_F32) rbwd_f32(M, V, k, p, Rz, scale, Rgz);
    else rbwd_f64(M, V, k, p, Rz, scale, Rgz);
    return HB_OK;
}

#else /* ---- template body ---- */

/* Rgz += scale/M · p ⊙ (Rz − ⟨p, Rz⟩), row by row and direction by direction */
static void F(rbwd)(size_t M, size_t V, size_t k, const real *p, const real *Rz, double scale,
                    real *Rgz) {
    real s = (real)(scale / (double)M);
    for (size_t m = 0; m < M; m++)
        for (size_t j = 0; j < k; j++) {
            const real *pr = p + m * V, *rz = Rz + (m * k + j) * V;
            real *o = Rgz + (m * k + j) * V, dot = 0;
            for (size_t v = 0; v < V; v++) dot += pr[v] * rz[v];
            for (size_t v = 0; v < V; v++) o[v] += s * pr[v] * (rz[v] - dot);
        }
}

#endif
