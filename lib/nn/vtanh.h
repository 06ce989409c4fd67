/* tanh without a libm call, so that a loop over it vectorises (nn/elementwise.c's GELU and
 * tanh forward). libm's tanh/tanhf are one opaque call per element: with GELU's f′ and f″
 * around them they were ≈ 29 % of a 1-thread gpt-ref f32 gradient (perf; docs/performance.md
 * "Where a gpt-ref product's time goes"). Branch-free (both halves computed, one selected),
 * so GCC if-converts it inside a loop; only SSE2 operations (no -march needed).
 *
 * The method is Cephes' tanh (Moshier): for |x| < 0.625 the rational
 * x + x·z·P(z)/Q(z), z = x² (|x| small: no cancellation), else 1 − 2/(e^{2|x|} + 1) with
 * e^y = 2^k·exp(r), y = k·ln2 + r (Cody–Waite ln 2 split), exp(r) by its Taylor series to
 * r¹³/13! (|r| ≤ ln2/2: truncation < 5e-18 relative) in Estrin's scheme; one division
 * serves both halves. Measured against glibc's tanh on ±[1e-9, 30]: ≤ 2 ulp in double
 * (tests/test_nn.c, test_vtanh). The f32 activations evaluate it in double and round once:
 * the correctly rounded tanh for every one of 1.96 M floats tried (tanhl as the reference),
 * where glibc's tanhf is 1–2 ulp off for ≈ 20 % of them — so f32 results differ from the
 * tanhf-based ones in the last bit there. NaN → NaN, ±inf → ±1, sign of zero kept. */
#ifndef HB_NN_VTANH_H
#define HB_NN_VTANH_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static inline double hb__vtanh(double x) {
    double ax = fabs(x);
    /* |x| < 0.625: Cephes' rational approximation x + x·z·P(z)/Q(z) */
    double z = ax * ax;
    double P = (-9.64399179425052238628E-1 * z - 9.92877231001918586564E1) * z -
               1.61468768441708447952E3;
    double Q = ((z + 1.12811678491632931402E2) * z + 2.23548839060100448583E3) * z +
               4.84406305325125486048E3;
    /* |x| ≥ 0.625: 1 − 2/(e^{2|x|} + 1); tanh(20) rounds to 1, so clamp there (no overflow;
     * NaN passes the comparison unchanged) */
    double y = 2.0 * (ax > 20.0 ? 20.0 : ax);
    const double shifter = 0x1.8p52; /* adding it rounds y/ln2 to an integer in the low bits */
    double kd = y * 1.4426950408889634 + shifter;
    uint64_t kb;
    memcpy(&kb, &kd, sizeof kb);
    kd -= shifter;
    double r = (y - kd * 6.93147180369123816490e-01) - kd * 1.90821492927058770002e-10;
    /* exp(r) = Σ_{i ≤ 13} r^i/i!, Estrin's scheme (a shorter dependency chain than Horner's) */
    double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    double p01 = 1.0 + r, p23 = 1.0 / 2 + r * (1.0 / 6), p45 = 1.0 / 24 + r * (1.0 / 120);
    double p67 = 1.0 / 720 + r * (1.0 / 5040), p89 = 1.0 / 40320 + r * (1.0 / 362880);
    double pab = 1.0 / 3628800 + r * (1.0 / 39916800);
    double pcd = 1.0 / 479001600 + r * (1.0 / 6227020800.0);
    double q0 = p01 + r2 * p23, q1 = p45 + r2 * p67, q2 = p89 + r2 * pab;
    double e = (q0 + r4 * q1) + r8 * (q2 + r4 * pcd);
    /* 2^k from k's low bits: k + 1023 in the exponent field (0 ≤ k ≤ 58 here) */
    uint64_t sb = (kb + 1023u) << 52;
    double scale;
    memcpy(&scale, &sb, sizeof scale);
    /* one division for both halves: base + num/den */
    bool small = ax < 0.625;
    double num = small ? ax * z * P : -2.0, den = small ? Q : e * scale + 1.0;
    double base = small ? ax : 1.0;
    return copysign(base + num / den, x);
}

#endif
