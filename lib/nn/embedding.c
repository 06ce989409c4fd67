/* Token + position embedding: forward, backward and R-operator passes side by side.
 *
 *   x[n,t,:] = wte[idx[n,t], :] + wpe[t, :]                      x: (N·T, C)
 * Backward:    gwte[idx[n,t]] += gx[n,t],  gwpe[t] += gx[n,t]
 * R-forward:   Rx[n,t] = Rwte[idx[n,t]] + Rwpe[t]   (linear in θ, no input)
 * R-backward:  R(gwte)[idx[n,t]] += R(gx)[n,t],  R(gwpe)[t] += R(gx)[n,t]
 *              (no second-order term: ∂²x/∂θ² = 0)
 * Position embedding alone (added to an input x):
 *   y[n,t] = x[n,t] + W[t];   gx += gy,  gW[t] += Σ_n gy[n,t];   linear, so the R-passes
 *   are the same two functions on the directions (no second-order term either).
 * Template: the part under HB_NN_TEMPLATE is compiled once per dtype. */
#ifndef HB_NN_TEMPLATE
#include "nn/embedding.h"

#define HB_NN_TEMPLATE
#define real float
#define F(name) name##_f32
#include "embedding.c"
#undef real
#undef F
#define real double
#define F(name) name##_f64
#include "embedding.c"
#undef real
#undef F
#undef HB_NN_TEMPLATE

#define DISPATCH(call32, call64)                                                        \
    do {                                                                                \
        HB_CHECK(ctx, dt == HB_F32 || dt == HB_F64, HB_EDTYPE, "embedding needs f32 or f64"); \
        if (dt == HB_F32) call32;                                                       \
        else call64;                                                                    \
        return HB_OK;                                                                   \
    } while (0)

int hb__embedding_forward(hb_context *ctx, hb_dtype dt, size_t N, size_t T, size_t C,
                          const int32_t *idx, const void *wte, const void *wpe, void *x) {
    DISPATCH(fwd_f32(N, T, C, 1, idx, wte, wpe, 0, x),
             fwd_f64(N, T, C, 1, idx, wte, wpe, 0, x));
}

int hb__embedding_backward(hb_context *ctx, hb_dtype dt, size_t N, size_t T, size_t C,
                           const int32_t *idx, const void *gx, void *gwte, void *gwpe) {
    DISPATCH(bwd_f32(N, T, C, 1, idx, gx, gwte, gwpe, 0),
             bwd_f64(N, T, C, 1, idx, gx, gwte, gwpe, 0));
}

int hb__embedding_rforward(hb_context *ctx, hb_dtype dt, size_t N, size_t T, size_t C,
                           size_t k, const int32_t *idx, const void *Vte, const void *Vpe,
                           size_t ldv, void *Rx) {
    DISPATCH(fwd_f32(N, T, C, k, idx, Vte, Vpe, ldv, Rx),
             fwd_f64(N, T, C, k, idx, Vte, Vpe, ldv, Rx));
}

int hb__embedding_rbackward(hb_context *ctx, hb_dtype dt, size_t N, size_t T, size_t C,
                            size_t k, const int32_t *idx, const void *Rgx, void *Ote,
                            void *Ope, size_t ldo) {
    DISPATCH(bwd_f32(N, T, C, k, idx, Rgx, Ote, Ope, ldo),
             bwd_f64(N, T, C, k, idx, Rgx, Ote, Ope, ldo));
}

int hb__pos_embedding_forward(hb_context *ctx, hb_dtype dt, size_t N, size_t T, size_t C,
                              size_t k, const void *x, const void *W, size_t ld, void *y) {
    DISPATCH(pos_fwd_f32(N, T, C, k, x, W, ld, y), pos_fwd_f64(N, T, C, k, x, W, ld, y));
}

int hb__pos_embedding_backward(hb_context *ctx, hb_dtype dt, size_t N, size_t T, size_t C,
                               size_t k, const void *gy, void *gx, void *gW, size_t ld) {
    DISPATCH(pos_bwd_f32(N, T, C, k, gy, gx, gW, ld), pos_bwd_f64(N, T, C, k, gy, gx, gW, ld));
}

#else /* ---- template body ---- */

/* k directions; the forward is the k = 1 case. te/pe NULL = zero. */
static void F(fwd)(size_t N, size_t T, size_t C, size_t k, const int32_t *idx,
                   const real *te, const real *pe, size_t ld, real *x) {
    for (size_t n = 0; n < N; n++)
        for (size_t t = 0; t < T; t++) {
            size_t m = n * T + t, tok = (size_t)idx[m];
            for (size_t j = 0; j < k; j++) {
                real *xr = x + (m * k + j) * C;
                const real *a = te ? te + j * ld + tok * C : NULL;
                const real *b = pe ? pe + j * ld + t * C : NULL;
                for (size_t c = 0; c < C; c++) xr[c] = (a ? a[c] : 0) + (b ? b[c] : 0);
            }
        }
}

static void F(bwd)(size_t N, size_t T, size_t C, size_t k, const int32_t *idx, const real *gx,
                   real *gte, real *gpe, size_t ld) {
    for (size_t n = 0; n < N; n++)
        for (size_t t = 0; t < T; t++) {
            size_t m = n * T + t, tok = (size_t)idx[m];
            for (size_t j = 0; j < k; j++) {
                const real *g = gx + (m * k + j) * C;
                if (gte)
                    for (size_t c = 0; c < C; c++) gte[j * ld + tok * C + c] += g[c];
                if (gpe)
                    for (size_t c = 0; c < C; c++) gpe[j * ld + t * C + c] += g[c];
            }
        }
}

/* y = x + W[t] per direction; the sum is written as the fused forward's (a + b), so a token
 * embedding followed by this gives the fused embedding's numbers exactly. */
static void F(pos_fwd)(size_t N, size_t T, size_t C, size_t k, const real *x, const real *W,
                       size_t ld, real *y) {
    for (size_t n = 0; n < N; n++)
        for (size_t t = 0; t < T; t++)
            for (size_t j = 0; j < k; j++) {
                size_t r = ((n * T + t) * k + j) * C;
                const real *a = x ? x + r : NULL, *b = W ? W + j * ld + t * C : NULL;
                for (size_t c = 0; c < C; c++) y[r + c] = (a ? a[c] : 0) + (b ? b[c] : 0);
            }
}

/* in the fused backward's order (n, t, j), so the accumulations round alike */
static void F(pos_bwd)(size_t N, size_t T, size_t C, size_t k, const real *gy, real *gx,
                       real *gW, size_t ld) {
    for (size_t n = 0; n < N; n++)
        for (size_t t = 0; t < T; t++)
            for (size_t j = 0; j < k; j++) {
                size_t r = ((n * T + t) * k + j) * C;
                const real *g = gy + r;
                if (gW)
                    for (size_t c = 0; c < C; c++) gW[j * ld + t * C + c] += g[c];
                if (gx)
                    for (size_t c = 0; c < C; c++) gx[r + c] += g[c];
            }
}

#endif
