/* Counter-based random numbers: Philox4x32-10 (Salmon, Moraes, Dror, Shaw, SC'11).
 * Why counter-based: number i of a stream is computed from (seed, stream, i) alone, so
 * an OpenMP loop over i gives the same numbers for any thread count and schedule. */
#include <math.h>

#include "core/internal.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

hb__u32x4 hb__philox(uint64_t seed, uint64_t stream, uint64_t i) {
    uint32_t c0 = (uint32_t)i, c1 = (uint32_t)(i >> 32);
    uint32_t c2 = (uint32_t)stream, c3 = (uint32_t)(stream >> 32);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    hb__u32x4 out = {{c0, c1, c2, c3}};
    return out;
}

static inline double u53(uint32_t hi, uint32_t lo) {
    uint64_t bits = (((uint64_t)hi << 32) | lo) >> 11;
    return (double)bits * 0x1.0p-53;
}

double hb__uniform01(uint64_t seed, uint64_t stream, uint64_t i) {
    hb__u32x4 r = hb__philox(seed, stream, i);
    return u53(r.v[0], r.v[1]);
}

double hb__normal(uint64_t seed, uint64_t stream, uint64_t i) {
    hb__u32x4 r = hb__philox(seed, stream ^ 0x8000000000000000ull, i >> 1);
    double u1 = 1.0 - u53(r.v[0], r.v[1]); /* (0, 1]: log is finite */
    double u2 = u53(r.v[2], r.v[3]);
    double rad = sqrt(-2.0 * log(u1));
    double ang = 6.283185307179586476925 * u2;
    return (i & 1) ? rad * sin(ang) : rad * cos(ang);
}

double hb__rademacher(uint64_t seed, uint64_t stream, uint64_t i) {
    hb__u32x4 r = hb__philox(seed, stream, i);
    return (r.v[0] & 1u) ? 1.0 : -1.0;
}

int hb_random_fill_f64(hb_context *ctx, uint64_t stream, uint64_t first,
                       hb_distribution dist, double a, double b, double *out, size_t n) {
    if (!ctx) return HB_EINVAL;
    HB_CHECK(ctx, out != NULL || n == 0, HB_EINVAL, "output array is NULL");
    uint64_t seed = (uint64_t)ctx->seed;
    switch (dist) {
    case HB_DIST_UNIFORM:
        HB_CHECK(ctx, isfinite(a) && isfinite(b) && a < b, HB_EINVAL,
                 "uniform needs finite a < b, got [%g, %g)", a, b);
#pragma omp parallel for num_threads(hb__threads(ctx)) schedule(static) if (n >= 4096)
        for (size_t j = 0; j < n; j++)
            out[j] = a + (b - a) * hb__uniform01(seed, stream, first + j);
        return HB_OK;
    case HB_DIST_NORMAL:
        HB_CHECK(ctx, isfinite(a) && isfinite(b) && b >= 0, HB_EINVAL,
                 "normal needs finite mean and std >= 0, got (%g, %g)", a, b);
#pragma omp parallel for num_threads(hb__threads(ctx)) schedule(static) if (n >= 4096)
        for (size_t j = 0; j < n; j++)
            out[j] = a + b * hb__normal(seed, stream, first + j);
        return HB_OK;
    case HB_DIST_RADEMACHER:
#pragma omp parallel for num_threads(hb__threads(ctx)) schedule(static) if (n >= 4096)
        for (size_t j = 0; j < n; j++)
            out[j] = hb__rademacher(seed, stream, first + j);
        return HB_OK;
    }
    return hb__fail(ctx, HB_EINVAL, "unknown distribution %d", (int)dist);
}
