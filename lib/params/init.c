/* Parameter initialisers, driven by the context's counter-based RNG.
 * Each call draws from a fresh stream, element j of the block using counter j: the
 * result depends on (seed, order of init calls) only, never on the thread count. */
#include <math.h>

#include "params/params_internal.h"

static void fans(const hb__block *b, double *fan_in, double *fan_out) {
    if (b->ndim == 1) {
        *fan_in = *fan_out = (double)b->shape[0];
        return;
    }
    double receptive = 1;
    for (int i = 2; i < b->ndim; i++) receptive *= (double)b->shape[i];
    *fan_in = (double)b->shape[1] * receptive;
    *fan_out = (double)b->shape[0] * receptive;
}

int hb_params_init_block(hb_params *p, size_t index, hb_init init, double a, double b) {
    if (!p) return HB_EINVAL;
    hb_context *ctx = p->ctx;
    HB_CHECK(ctx, p->finalized, HB_ESTATE, "params not finalised");
    HB_CHECK(ctx, index < p->n_blocks, HB_ERANGE, "block index %zu out of range (%zu blocks)",
             index, p->n_blocks);
    HB_CHECK(ctx, isfinite(a) && isfinite(b), HB_EINVAL, "init parameters must be finite (%g, %g)", a, b);
    const hb__block *blk = &p->blocks[index];
    double fan_in, fan_out;
    fans(blk, &fan_in, &fan_out);

    /* Reduce every initialiser to one of: constant c, uniform [lo, hi), normal (mu, sd). */
    enum { CONST, UNIF, NORM } how;
    double c = 0, lo = 0, hi = 0, mu = 0, sd = 0;
    switch (init) {
    case HB_INIT_ZEROS: how = CONST; c = 0; break;
    case HB_INIT_CONSTANT: how = CONST; c = a; break;
    case HB_INIT_TORCH_LAYERNORM_WEIGHT: how = CONST; c = 1; break;
    case HB_INIT_TORCH_LAYERNORM_BIAS: how = CONST; c = 0; break;
    case HB_INIT_NORMAL:
        HB_CHECK(ctx, b >= 0, HB_EINVAL, "normal init needs std >= 0, got %g", b);
        how = NORM; mu = a; sd = b; break;
    case HB_INIT_UNIFORM:
        HB_CHECK(ctx, a < b, HB_EINVAL, "uniform init needs a < b, got [%g, %g)", a, b);
        how = UNIF; lo = a; hi = b; break;
    case HB_INIT_KAIMING_UNIFORM: {
        double bound = sqrt(2.0 / (1.0 + a * a)) * sqrt(3.0 / fan_in);
        how = UNIF; lo = -bound; hi = bound; break;
    }
    case HB_INIT_KAIMING_NORMAL:
        how = NORM; sd = sqrt(2.0 / (1.0 + a * a)) / sqrt(fan_in); break;
    case HB_INIT_XAVIER_UNIFORM: {
        HB_CHECK(ctx, a >= 0, HB_EINVAL, "xavier gain must be >= 0, got %g", a);
        double bound = (a == 0 ? 1 : a) * sqrt(6.0 / (fan_in + fan_out));
        how = UNIF; lo = -bound; hi = bound; break;
    }
    case HB_INIT_XAVIER_NORMAL:
        HB_CHECK(ctx, a >= 0, HB_EINVAL, "xavier gain must be >= 0, got %g", a);
        how = NORM; sd = (a == 0 ? 1 : a) * sqrt(2.0 / (fan_in + fan_out)); break;
    case HB_INIT_TORCH_LINEAR: /* kaiming_uniform(a=√5) reduces to U(±1/√fan_in) */
        how = UNIF; hi = 1.0 / sqrt(fan_in); lo = -hi; break;
    case HB_INIT_TORCH_LINEAR_BIAS:
        HB_CHECK(ctx, a >= 1, HB_EINVAL, "linear bias init needs the weight's fan_in >= 1 as a, got %g", a);
        how = UNIF; hi = 1.0 / sqrt(a); lo = -hi; break;
    case HB_INIT_TORCH_EMBEDDING: how = NORM; mu = 0; sd = 1; break;
    default:
        return hb__fail(ctx, HB_EINVAL, "unknown initialiser %d", (int)init);
    }

    uint64_t stream;
    HB_TRY(hb_context_next_stream(ctx, &stream));
    uint64_t seed = (uint64_t)ctx->seed;
    size_t n = blk->numel;
    hb_dtype dt = p->dtype;
    char *base = (char *)p->data + blk->offset * hb_dtype_size(dt);
#pragma omp parallel for num_threads(hb__threads(ctx)) schedule(static) if (n >= 16384)
    for (size_t j = 0; j < n; j++) {
        double v = how == CONST ? c
                 : how == UNIF  ? lo + (hi - lo) * hb__uniform01(seed, stream, j)
                                : mu + sd * hb__normal(seed, stream, j);
        hb__store(dt, base, j, v);
    }
    return HB_OK;
}
