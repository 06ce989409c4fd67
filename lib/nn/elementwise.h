/* Elementwise activations y = f(x) with backward and R-operator passes, in the one layout
 * of lib/net (net_internal.h): θ side x, y, gx, gy (M, C) row-major (n = M·C elements);
 * R side Rx, Ry, Rgx, Rgy (M, k, C), direction j of row m at (m·k + j)·C, element
 * (m, j, c) paired with x(m, c).
 *   ReLU        f = max(x, 0)       f' = [x > 0]          f'' = 0
 *   GELU (tanh) f = ½x(1 + t), t = tanh(s(x + a x³))     (bit-compatible with nn/gelu.c)
 *   GELU (erf)  f = x·Φ(x)          f' = Φ + xφ           f'' = φ·(2 − x²)
 *   SiLU        f = x·σ(x)          f' = σ(1 + x(1 − σ))  f'' = σ(1 − σ)(2 + x(1 − 2σ))
 *   tanh        f = t               f' = 1 − t²           f'' = −2t(1 − t²)
 * The forward stores f'(x) in d1 and f''(x) in d2 (d2 NULL for ReLU: f'' = 0), so the
 * transcendental functions run once per element; the other passes read d1, d2 only.
 * Backward passes ACCUMULATE (gx, Rgx), forward passes WRITE (y, Ry). dt is HB_F32 or
 * HB_F64; f32 evaluates in f32 (expf, erff) as nn/gelu.c did, except tanh: nn/vtanh.h in
 * double, rounded once to f32 (vectorisable; correctly rounded where tanhf is not). */
#ifndef HB_NN_ELEMENTWISE_H
#define HB_NN_ELEMENTWISE_H

#include "core/internal.h"

/* Minimum elements per thread of the activation loops (they split rows statically over
 * the context's threads above it; docs/performance.md, "Attention's (sequence, head) loop
 * on threads"). Overridable (-D) to sweep it with bench_threads. */
#ifndef HB__ELTWISE_PER_THREAD
#define HB__ELTWISE_PER_THREAD 65536.0
#endif

/* Whether act is one of the five above. */
bool hb__eltwise_valid(int act);
/* Whether the forward needs d2 (f'' ≠ 0): every act but ReLU. */
bool hb__eltwise_has_d2(int act);

/* y = f(x); d1 = f'(x); d2 = f''(x) (when non-NULL).        x, y, d1, d2: n */
int hb__eltwise_forward(hb_context *ctx, hb_dtype dt, int act, size_t n, const void *x, void *y,
                        void *d1, void *d2);
/* The forward's baseline-ISA loop, serial, without checks: for the test that the AVX2
 * copy hb__eltwise_forward picks on such processors gives the same bits. */
void hb__eltwise_forward_baseline(hb_dtype dt, int act, size_t n, const void *x, void *y,
                                  void *d1, void *d2);
/* gx += f'(x)·gy  (write: gx = …, a first write)           d1, gy, gx: n */
int hb__eltwise_backward(hb_context *ctx, hb_dtype dt, size_t n, const void *d1, const void *gy,
                         void *gx, bool write);
/* Ry = f'(x)·Rx (written; Rx NULL → 0)                      d1 (M, C); Rx, Ry (M, k, C) */
int hb__eltwise_rforward(hb_context *ctx, hb_dtype dt, size_t M, size_t k, size_t C,
                         const void *d1, const void *Rx, void *Ry);
/* Rgx += f''(x)·gy·Rx + f'(x)·Rgy   (Rx or d2 NULL: no first term; write: Rgx = …)
 *                                   d1, d2, gy (M, C); Rx, Rgy, Rgx (M, k, C) */
int hb__eltwise_rbackward(hb_context *ctx, hb_dtype dt, size_t M, size_t k, size_t C,
                          const void *d1, const void *d2, const void *gy, const void *Rx,
                          const void *Rgy, void *Rgx, bool write);

#endif
