/* One optimizer step: a read-only check pass over the gradient (finite? global norm for
 * clipping), then one fused pass per block over parameters, gradient and state.
 *
 * The typed kernels below are the formulas of optim.h written once per precision
 * (f64 for f64 parameters; f32 for f32 and bf16 parameters). bf16 parameters go through
 * the f32 kernels in chunks of HB__SEG: widen (or read the master copy), update, round. */
#include <math.h>
#include <string.h>

#include "optim/optim_internal.h"

#define HB__SEG ((size_t)4096) /* elements per work item (and per bf16 staging buffer) */

/* Scalars of one block's update, in double; each kernel casts them to its precision. */
typedef struct step_scalars {
    hb_optimizer_kind kind;
    double coef;            /* gradient scale from clipping (1 if off) */
    double lr, wd, mu, omd; /* SGD: lr, L2 weight decay, momentum, 1 − dampening */
    int nesterov, first;
    double l2, decay;       /* Adam: coupled L2 coefficient; AdamW/mini: 1 − lr·wd */
    double b1, omb1, b2, omb2, ss, bc2s, eps; /* ss = lr/bc1, bc2s = √bc2 */
} step_scalars;

#define HB__DEF_KERNELS(T, S, SQRT)                                                        \
    /* SGD: d = g + wd·p; buf = d | buf·μ + (1−dampening)·d; d = d + μ·buf | buf;          \
     * p = p − lr·d. */                                                                    \
    static void sgd_##S(T *restrict p, const T *restrict g, T *restrict buf, size_t len,   \
                        const step_scalars *s) {                                           \
        const T coef = (T)s->coef, lr = (T)s->lr, wd = (T)s->wd, mu = (T)s->mu,            \
                omd = (T)s->omd;                                                           \
        const int has_wd = s->wd != 0;                                                     \
        if (s->mu == 0) {                                                                  \
            for (size_t i = 0; i < len; i++) {                                             \
                T d = g[i] * coef;                                                         \
                if (has_wd) d = d + wd * p[i];                                             \
                p[i] = p[i] - lr * d;                                                      \
            }                                                                              \
        } else if (s->first) {                                                             \
            for (size_t i = 0; i < len; i++) {                                             \
                T d = g[i] * coef;                                                         \
                if (has_wd) d = d + wd * p[i];                                             \
                buf[i] = d;                                                                \
                if (s->nesterov) d = d + mu * d;                                           \
                p[i] = p[i] - lr * d;                                                      \
            }                                                                              \
        } else {                                                                           \
            for (size_t i = 0; i < len; i++) {                                             \
                T d = g[i] * coef;                                                         \
                if (has_wd) d = d + wd * p[i];                                             \
                T b = buf[i] * mu + omd * d;                                               \
                buf[i] = b;                                                                \
                d = s->nesterov ? d + mu * b : b;                                          \
                p[i] = p[i] - lr * d;                                                      \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
    /* Adam/AdamW: g += l2·p; p *= decay; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g·g;     \
     * p = p − ss·m / (√v/bc2s + eps). */                                                  \
    static void adam_##S(T *restrict p, const T *restrict g, T *restrict m,                \
                         T *restrict v, size_t len, const step_scalars *s) {               \
        const T coef = (T)s->coef, l2 = (T)s->l2, decay = (T)s->decay, b1 = (T)s->b1,      \
                omb1 = (T)s->omb1, b2 = (T)s->b2, omb2 = (T)s->omb2, ss = (T)s->ss,        \
                bc2s = (T)s->bc2s, eps = (T)s->eps;                                        \
        const int has_l2 = s->l2 != 0;                                                     \
        for (size_t i = 0; i < len; i++) {                                                 \
            T gi = g[i] * coef, pi = p[i];                                                 \
            if (has_l2) gi = gi + l2 * pi;                                                 \
            pi = pi * decay;                                                               \
            T mi = b1 * m[i] + omb1 * gi;                                                  \
            T vi = b2 * v[i] + omb2 * gi * gi;                                             \
            m[i] = mi;                                                                     \
            v[i] = vi;                                                                     \
            p[i] = pi - ss * mi / (SQRT(vi) / bc2s + eps);                                 \
        }                                                                                  \
    }                                                                                      \
    /* Adam-mini inside one partition whose denominator √v/bc2s + eps is `denom`. */       \
    static void mini_##S(T *restrict p, const T *restrict g, T *restrict m, size_t len,    \
                         const step_scalars *s, T denom) {                                 \
        const T coef = (T)s->coef, decay = (T)s->decay, b1 = (T)s->b1, omb1 = (T)s->omb1,  \
                ss = (T)s->ss;                                                             \
        for (size_t i = 0; i < len; i++) {                                                 \
            T gi = g[i] * coef, pi = p[i] * decay;                                         \
            T mi = b1 * m[i] + omb1 * gi;                                                  \
            m[i] = mi;                                                                     \
            p[i] = pi - ss * mi / denom;                                                   \
        }                                                                                  \
    }                                                                                      \
    /* Adam-mini partition denominator: v = β2·v + (1−β2)·mean(g·g) (sum in double). */    \
    static T mini_denom_##S(const T *restrict g, size_t len, T *vp, const step_scalars *s) { \
        const T coef = (T)s->coef;                                                         \
        double acc = 0;                                                                    \
        for (size_t i = 0; i < len; i++) {                                                 \
            T gi = g[i] * coef;                                                            \
            acc += (double)(gi * gi);                                                      \
        }                                                                                  \
        T mean = (T)(acc / (double)len);                                                   \
        T v = (T)s->b2 * *vp + (T)s->omb2 * mean;                                          \
        *vp = v;                                                                           \
        return SQRT(v) / (T)s->bc2s + (T)s->eps;                                           \
    }

HB__DEF_KERNELS(double, f64, sqrt)
HB__DEF_KERNELS(float, f32, sqrtf)

/* Elementwise update of flat [i0, i0+len), whose state is [s0, s0+len); Adam-mini calls
 * mini_* itself. */
static void seg_f64(hb_optimizer *o, const step_scalars *s, double *p, size_t i0, size_t s0,
                    size_t len) {
    const double *g = (const double *)o->p->grad + i0;
    if (s->kind == HB_OPTIM_SGD)
        sgd_f64(p, g, (double *)o->buf + s0, len, s);
    else
        adam_f64(p, g, (double *)o->m + s0, (double *)o->v + s0, len, s);
}

static void seg_f32(hb_optimizer *o, const step_scalars *s, float *p, size_t i0, size_t s0,
                    size_t len) {
    const float *g = (const float *)o->p->grad + i0;
    if (s->kind == HB_OPTIM_SGD)
        sgd_f32(p, g, (float *)o->buf + s0, len, s);
    else
        adam_f32(p, g, (float *)o->m + s0, (float *)o->v + s0, len, s);
}

/* Stochastic rounding f32 → bf16: add 16 random bits below the kept ones, truncate. */
static inline uint16_t bf16_stochastic(float x, uint32_t r) {
    union { float f; uint32_t u; } v = {x};
    if ((v.u & 0x7f800000u) == 0x7f800000u) return hb__bf16_from_f32(x);
    v.u += r & 0xffffu;
    return (uint16_t)(v.u >> 16);
}

/* bf16 staging: tmp[0..len) = the weights of flat [i0, i0+len) (state [s0, s0+len)):
 * master copy or widened bf16. */
static void bf16_load(hb_optimizer *o, float *tmp, size_t i0, size_t s0, size_t len) {
    if (o->master) {
        memcpy(tmp, o->master + s0, len * sizeof *tmp);
    } else {
        const uint16_t *d = (const uint16_t *)o->p->data + i0;
        for (size_t i = 0; i < len; i++) tmp[i] = hb__bf16_to_f32(d[i]);
    }
}

/* Write tmp back: master copy (if any) and bf16 rounded to nearest even or stochastically;
 * random number for state index s at step t is word (c mod 4) of Philox(seed, stream, c/4),
 * c = (t−1)·n_state + s, so it depends on nothing but (seed, stream, t, s) — and a
 * trainable block draws what it would draw in params holding only the trainable blocks.
 * (Without frozen blocks s is the flat index and n_state = n.) */
static void bf16_store(hb_optimizer *o, const float *tmp, size_t i0, size_t s0, size_t len,
                       int64_t t) {
    uint16_t *d = (uint16_t *)o->p->data + i0;
    if (o->master) memcpy(o->master + s0, tmp, len * sizeof *tmp);
    if (!o->sr) {
        for (size_t i = 0; i < len; i++) d[i] = hb__bf16_from_f32(tmp[i]);
        return;
    }
    uint64_t base = (uint64_t)(t - 1) * (uint64_t)o->n_state + s0, have = UINT64_MAX;
    hb__u32x4 r = {{0, 0, 0, 0}};
    for (size_t i = 0; i < len; i++) {
        uint64_t c = base + i;
        if ((c >> 2) != have) {
            have = c >> 2;
            r = hb__philox((uint64_t)o->ctx->seed, o->stream, have);
        }
        d[i] = bf16_stochastic(tmp[i], r.v[c & 3]);
    }
}

/* Elementwise kinds: block range [off, off+numel), state from soff, in work items of
 * HB__SEG. */
static void run_elementwise(hb_optimizer *o, const step_scalars *s, size_t off, size_t soff,
                            size_t numel, int64_t t) {
    hb_dtype dt = o->p->dtype;
    size_t nseg = (numel + HB__SEG - 1) / HB__SEG;
    ptrdiff_t ns = (ptrdiff_t)nseg;
#pragma omp parallel for num_threads(hb__threads(o->ctx)) schedule(static) if (nseg > 4)
    for (ptrdiff_t k = 0; k < ns; k++) {
        size_t i0 = off + (size_t)k * HB__SEG, s0 = soff + (size_t)k * HB__SEG;
        size_t len = numel - (size_t)k * HB__SEG;
        if (len > HB__SEG) len = HB__SEG;
        if (dt == HB_F64) {
            seg_f64(o, s, (double *)o->p->data + i0, i0, s0, len);
        } else if (dt == HB_F32) {
            seg_f32(o, s, (float *)o->p->data + i0, i0, s0, len);
        } else {
            float tmp[HB__SEG];
            bf16_load(o, tmp, i0, s0, len);
            seg_f32(o, s, tmp, i0, s0, len);
            bf16_store(o, tmp, i0, s0, len, t);
        }
    }
}

/* Adam-mini: partitions of psize elements from flat off (state soff); v entries from
 * vfirst. */
static void run_mini(hb_optimizer *o, const step_scalars *s, size_t off, size_t soff,
                     size_t count, size_t psize, size_t vfirst, int64_t t) {
    hb_dtype dt = o->p->dtype;
    ptrdiff_t nc = (ptrdiff_t)count;
#pragma omp parallel for num_threads(hb__threads(o->ctx)) schedule(static) \
    if (count > 1 && count * psize > 4 * HB__SEG)
    for (ptrdiff_t k = 0; k < nc; k++) {
        size_t p0 = off + (size_t)k * psize, q0 = soff + (size_t)k * psize;
        if (dt == HB_F64) {
            const double *g = (const double *)o->p->grad + p0;
            double den = mini_denom_f64(g, psize, (double *)o->v + vfirst + k, s);
            mini_f64((double *)o->p->data + p0, g, (double *)o->m + q0, psize, s, den);
            continue;
        }
        const float *g = (const float *)o->p->grad + p0;
        float den = mini_denom_f32(g, psize, (float *)o->v + vfirst + k, s);
        if (dt == HB_F32) {
            mini_f32((float *)o->p->data + p0, g, (float *)o->m + q0, psize, s, den);
            continue;
        }
        float tmp[HB__SEG];
        for (size_t j = 0; j < psize; j += HB__SEG) {
            size_t len = psize - j < HB__SEG ? psize - j : HB__SEG;
            bf16_load(o, tmp, p0 + j, q0 + j, len);
            mini_f32(tmp, g + j, (float *)o->m + q0 + j, len, s, den);
            bf16_store(o, tmp, p0 + j, q0 + j, len, t);
        }
    }
}

/* Block holding state index j: the last b with soff[b] <= j (frozen blocks are empty
 * runs, so this lands on the trainable block whose run contains j). */
static size_t block_of_state(const hb_optimizer *o, size_t j) {
    size_t lo = 0, hi = o->p->n_blocks; /* soff[lo] <= j < soff[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (o->soff[mid] <= j) lo = mid;
        else hi = mid;
    }
    return lo;
}

/* Gradient check of the flat run [i0, i0+len): non-finite flag, Σg² (double) added to *acc
 * in index order when norm. */
static unsigned check_run(const void *grad, bool f64, bool norm, size_t i0, size_t len,
                          double *acc) {
    unsigned b = 0;
    double a = *acc;
    if (f64) {
        const uint64_t *u = (const uint64_t *)grad + i0;
        const uint64_t e = 0x7ff0000000000000ull;
        for (size_t i = 0; i < len; i++) b |= (u[i] & e) == e;
        if (norm && !b) {
            const double *g = (const double *)grad + i0;
            for (size_t i = 0; i < len; i++) a += g[i] * g[i];
        }
    } else {
        const uint32_t *u = (const uint32_t *)grad + i0;
        for (size_t i = 0; i < len; i++) b |= (u[i] & 0x7f800000u) == 0x7f800000u;
        if (norm && !b) {
            const float *g = (const float *)grad + i0;
            for (size_t i = 0; i < len; i++) a += (double)g[i] * (double)g[i];
        }
    }
    *acc = a;
    return b;
}

/* Check pass over the trainable blocks only: is every gradient entry finite? With
 * clipping, also Σg² (double) per fixed chunk of HB__CHECK_CHUNK state indices (the
 * trainable elements packed in block order), summed in chunk order, so the norm is
 * thread-count independent and equals the one of params holding only those blocks. */
static int check_grad(hb_optimizer *o, double *sumsq) {
    size_t n = o->n_state;
    bool f64 = o->p->grad_dtype == HB_F64, norm = o->clip > 0;
    unsigned bad = 0;
    ptrdiff_t nch = (ptrdiff_t)o->n_chunks;
    double *partial = o->partial;
    const void *grad = o->p->grad;
    const hb__block *blocks = o->p->blocks;
#pragma omp parallel for num_threads(hb__threads(o->ctx)) schedule(static) \
    reduction(| : bad) if (nch > 2)
    for (ptrdiff_t c = 0; c < nch; c++) {
        size_t lo = (size_t)c * HB__CHECK_CHUNK, hi = lo + HB__CHECK_CHUNK;
        if (hi > n) hi = n;
        unsigned b = 0;
        double acc = 0;
        size_t blk = block_of_state(o, lo);
        for (size_t j = lo; j < hi && !b; blk++) {
            size_t end = o->soff[blk + 1];
            if (end <= j) continue; /* frozen (empty) block */
            size_t k = (end < hi ? end : hi) - j;
            b |= check_run(grad, f64, norm, blocks[blk].offset + (j - o->soff[blk]), k, &acc);
            j += k;
        }
        partial[c] = acc;
        bad |= b;
    }
    double s = 0;
    if (norm)
        for (ptrdiff_t c = 0; c < nch; c++) s += partial[c];
    *sumsq = s;
    return bad ? HB_ENONFINITE : HB_OK;
}

int hb_optimizer_step(hb_optimizer *o) {
    if (!o) return HB_EINVAL;
    hb_context *ctx = o->ctx;
    hb_params *p = o->p;
    HB_CHECK(ctx, p->trainable_gen == o->trainable_gen, HB_ESTATE,
             "the params' trainable flags changed since the optimizer was created (its state "
             "covers the blocks trainable then): create a new optimizer");
    HB_CHECK(ctx, o->t < INT64_MAX, HB_EOVERFLOW, "step count overflow");
    int64_t t = o->t + 1;
    hb__optim_resolve_all(o);
    if (o->kind == HB_OPTIM_SGD && o->nesterov)
        for (size_t b = 0; b < p->n_blocks; b++)
            HB_CHECK(ctx, !hb__optim_trains(o, b) ||
                              (o->hp[b].momentum > 0 && o->hp[b].dampening == 0), HB_ESTATE,
                     "Nesterov needs momentum > 0 and dampening 0 (block '%s' has %g, %g)",
                     p->blocks[b].name, o->hp[b].momentum, o->hp[b].dampening);
    double factor;
    HB_TRY(hb_optimizer_lr_factor(o, t, &factor));
    HB_TRY(hb__optim_prepare(o));
    double sumsq;
    int rc = check_grad(o, &sumsq);
    HB_CHECK(ctx, rc == HB_OK, HB_ENONFINITE,
             "gradient holds NaN or Inf: step %lld not taken, nothing changed", (long long)t);
    double coef = 1;
    if (o->clip > 0) {
        coef = o->clip / (sqrt(sumsq) + 1e-6);
        if (coef > 1) coef = 1;
    }
    /* From here on nothing can fail. */
    if (o->master && !o->master_valid) {
        const uint16_t *d = p->data;
        for (size_t b = 0; b < p->n_blocks; b++) {
            const hb__block *blk = &p->blocks[b];
            if (!hb__optim_trains(o, b)) continue;
            for (size_t i = 0; i < blk->numel; i++)
                o->master[o->soff[b] + i] = hb__bf16_to_f32(d[blk->offset + i]);
        }
        o->master_valid = true;
    }
    for (size_t b = 0; b < p->n_blocks; b++) {
        if (!hb__optim_trains(o, b)) continue; /* frozen: never written */
        const hb__opt_hp *h = &o->hp[b];
        const hb__block *blk = &p->blocks[b];
        double lr = h->lr * factor * o->lr_mult;
        int64_t tau = t - o->t0[b]; /* the block's own step: restarts at reset_block */
        step_scalars s;
        memset(&s, 0, sizeof s);
        s.kind = o->kind;
        s.coef = coef;
        s.lr = lr;
        if (o->kind == HB_OPTIM_SGD) {
            s.wd = h->wd;
            s.mu = h->momentum;
            s.omd = 1 - h->dampening;
            s.nesterov = o->nesterov;
            s.first = tau == 1;
            run_elementwise(o, &s, blk->offset, o->soff[b], blk->numel, t);
            continue;
        }
        s.l2 = o->kind == HB_OPTIM_ADAM ? h->wd : 0;
        s.decay = o->kind == HB_OPTIM_ADAM ? 1 : 1 - lr * h->wd;
        s.b1 = h->beta1;
        s.omb1 = 1 - h->beta1;
        s.b2 = h->beta2;
        s.omb2 = 1 - h->beta2;
        s.ss = lr / (1 - pow(h->beta1, (double)tau));
        s.bc2s = sqrt(1 - pow(h->beta2, (double)tau));
        s.eps = h->eps;
        if (o->kind == HB_OPTIM_ADAM_MINI) {
            size_t count, psize;
            (void)hb__optim_partition(o, b, o->heads, &count, &psize); /* checked in prepare */
            run_mini(o, &s, blk->offset, o->soff[b], count, psize, o->part_first[b], t);
        } else {
            run_elementwise(o, &s, blk->offset, o->soff[b], blk->numel, t);
        }
    }
    o->t = t;
    return HB_OK;
}
