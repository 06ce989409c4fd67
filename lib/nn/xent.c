/* Softmax cross-entropy, forward / backward / R-pass side by side.
 *
 *   p[n,:]  = softmax(z[n,:])                        z (N, C), targets t (N)
 *   L       = (1/N) Σ_n −log p[n, t_n] = (1/N) Σ_n (logsumexp(z[n,:]) − z[n, t_n])
 *   dz      = dL·(p − onehot(t))/N
 * R-pass (p depends on z only; onehot is constant):
 *   R(dz)   = dL·R(p)/N,   R(p) = p ⊙ (Rz − ⟨p, Rz⟩)   (= (diag p − p pᵀ)·Rz)
 * Row sums and logsumexp are accumulated in double for both dtypes. */
#include <math.h>

#include "nn/xent.h"

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
    double total = 0;
#pragma omp parallel for num_threads(hb__threads(ctx)) schedule(static) reduction(+ : total) \
    if (N * C >= 65536)
    for (int64_t n = 0; n < N; n++) {
        int64_t r = n * C;
        double mx = -INFINITY;
        for (int64_t c = 0; c < C; c++) mx = fmax(mx, ld(dt, logits, r + c));
        double s = 0;
        for (int64_t c = 0; c < C; c++) s += exp(ld(dt, logits, r + c) - mx);
        for (int64_t c = 0; c < C; c++) st(dt, probs, r + c, exp(ld(dt, logits, r + c) - mx) / s);
        total += mx + log(s) - ld(dt, logits, r + targets[n]);
    }
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

int hb__xent_rop_backward(hb_context *ctx, hb_dtype dt, int64_t N, int64_t C, int64_t k,
                          const void *probs, const void *Rlogits, double dloss, void *Rdlogits) {
    HB_CHECK(ctx, dt == HB_F32 || dt == HB_F64, HB_EDTYPE, "cross-entropy needs f32 or f64");
    double a = dloss / (double)N;
#pragma omp parallel for num_threads(hb__threads(ctx)) schedule(static) collapse(2) \
    if (k * N * C >= 65536)
    for (int64_t j = 0; j < k; j++)
        for (int64_t n = 0; n < N; n++) {
            int64_t r = n * C, o = j * N * C + n * C;
            double pr = 0;
            for (int64_t c = 0; c < C; c++) pr += ld(dt, probs, r + c) * ld(dt, Rlogits, o + c);
            for (int64_t c = 0; c < C; c++) {
                double v = ld(dt, probs, r + c) * (ld(dt, Rlogits, o + c) - pr);
                st(dt, Rdlogits, o + c, ld(dt, Rdlogits, o + c) + a * v);
            }
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
