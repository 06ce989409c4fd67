/* Elementwise activations y = f(x): ReLU and GELU (tanh form, as GPT-2), with backward and
 * R-operator passes. Conventions as lib/nn/linear.h (forward written, backward accumulated,
 * R quantities with a leading k dimension).
 *
 * Shapes: x, y, dy, dx (n);  Rx, Ry, Rdy, Rdx (k, n). */
#ifndef HB_NN_ACTIVATION_H
#define HB_NN_ACTIVATION_H

#include "core/internal.h"

/* y = f(x). act is an hb_activation (HB_ACT_RELU, HB_ACT_GELU); HB_EINVAL otherwise. */
int hb__activation_forward(hb_context *ctx, hb_dtype dt, int act, int64_t n, const void *x,
                           void *y);
/* dx += f'(x)·dy */
int hb__activation_backward(hb_context *ctx, hb_dtype dt, int act, int64_t n, const void *x,
                            const void *dy, void *dx);
/* Ry_j = f'(x)·Rx_j   (written) */
int hb__activation_rop_forward(hb_context *ctx, hb_dtype dt, int act, int64_t n, int64_t k,
                               const void *x, const void *Rx, void *Ry);
/* Rdx_j += f''(x)·Rx_j·dy + f'(x)·Rdy_j   (Rx may be NULL = 0) */
int hb__activation_rop_backward(hb_context *ctx, hb_dtype dt, int act, int64_t n, int64_t k,
                                const void *x, const void *dy, const void *Rx, const void *Rdy,
                                void *Rdx);

#endif
