/* Softmax cross-entropy (mean over rows): the R-backward with k interleaved directions;
 * forward and backward (restated here) are nn/xent.c.
 *   p = softmax(z),  L = (1/M)·Σ_m −log p_m[t_m]
 * Backward:   gz = (p − onehot(t))/M
 * R-forward:  (the R-pass of the loss value itself is not needed for H·v)
 * R-backward: R(gz) = R(p)/M = p ⊙ (Rz − ⟨p, Rz⟩)/M
 * Everything is multiplied by `scale` (the micro-batch weight) so the second-order terms
 * upstream see the same factor as the first-order ones. Template part per dtype. */
#ifndef HB_NN_TEMPLATE
#include <math.h>

#include "nn/softmax_xent.h"

#define HB_NN_TEMPLATE
#define real float
#define F(name) name##_f32
#include "softmax_xent.c"
#undef real
#undef F
#define real double
#define F(name) name##_f64
#include "softmax_xent.c"
#undef real
#undef F
#undef HB_NN_TEMPLATE

#define DISPATCH(call32, call64)                                                            \
    do {                                                                                    \
        HB_CHECK(ctx, dt == HB_F32 || dt == HB_F64, HB_EDTYPE, "cross-entropy needs f32 or f64"); \
        if (dt == HB_F32) call32;                                                           \
        else call64;                                                                        \
        return HB_OK;                                                                       \
    } while (0)

int hb__sxent_rbackward(hb_context *ctx, hb_dtype dt, size_t M, size_t V, size_t k,
                        const void *p, const void *Rz, double scale, void *Rgz) {
    DISPATCH(rbwd_f32(M, V, k, p, Rz, scale, false, Rgz),
             rbwd_f64(M, V, k, p, Rz, scale, false, Rgz));
}

int hb__sxent_rbackward_add(hb_context *ctx, hb_dtype dt, size_t M, size_t V, size_t k,
                            const void *p, const void *Rz, double scale, void *Rgz) {
    DISPATCH(rbwd_f32(M, V, k, p, Rz, scale, true, Rgz),
             rbwd_f64(M, V, k, p, Rz, scale, true, Rgz));
}

#else /* ---- template body ---- */

/* add: accumulate into Rgz instead of writing it */
static void F(rbwd)(size_t M, size_t V, size_t k, const real *p, const real *Rz, double scale,
                    bool add, real *Rgz) {
    real s = (real)(scale / (double)M);
    for (size_t m = 0; m < M; m++)
        for (size_t j = 0; j < k; j++) {
            const real *pr = p + m * V, *rz = Rz + (m * k + j) * V;
            real *o = Rgz + (m * k + j) * V, dot = 0;
            for (size_t v = 0; v < V; v++) dot += pr[v] * rz[v];
            if (add)
                for (size_t v = 0; v < V; v++) o[v] += s * pr[v] * (rz[v] - dot);
            else
                for (size_t v = 0; v < V; v++) o[v] = s * pr[v] * (rz[v] - dot);
        }
}

#endif
