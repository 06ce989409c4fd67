/* The net checker: every op class and every composition of ops is checked the same way,
 * on a model made from a net in f64 (tests/hb_net_check.c):
 *   (a) gradient vs central differences of the loss;
 *   (b) HVP vs central differences of gradients, for random directions;
 *   (c) the dense Hessian assembled from hvp_multi (k = n, chunked) symmetric to 1e-12;
 *   (d) block_hvp of every block equals the block's rows/columns of the dense Hessian;
 *   (e) hvp_multi(k) equals k single HVPs (one chunk and chunks of 2);
 *   (f) loss, gradient and HVP independent of the micro-batch split (two vs one).
 * The finite differences try the steps 1e-4, 1e-5, 1e-6, 1e-7 per quantity until one
 * agrees: a piecewise-smooth net (ReLU, max pooling) may cross a kink within one step, which
 * spoils that difference but seldom all, and a sharp smooth net (a LayerNorm over two
 * nearly equal values is a sign function smoothed over √eps) has a truncation error ∝ h²
 * that only the small steps bring under the tolerance, while a wrong derivative fails all.
 * (b)–(f) pass a quantity that is zero up to roundoff (below 1e-12 … 1e-14 absolute: a
 * block nothing depends on, or a loss constant for the batch drawn). 
 * Use: build an f64 net, then hb_net_check(net, N, stream, "what"). */
#ifndef HB_NET_CHECK_H
#define HB_NET_CHECK_H

#include "hb_test.h"

/* Relative tolerances; a field 0 takes the default in brackets. */
typedef struct hb_net_check_tol {
    double grad_fd;  /* (a) per element, relative to ‖g‖∞                    [1e-6] */
    double hvp_fd;   /* (b) 2-norm, relative                                    [1e-6] */
    double sym;      /* (c) max |H − Hᵀ| relative to max |H|                    [1e-12] */
    double exact;    /* (d), (e), (f): same quantity by another route, 2-norm   [1e-11] */
    /* (d) is relative to max(‖block's H·v‖, block_floor · max |H| · ‖v‖)         [0]:
     * a block whose Hessian is tiny by cancellation (a norm after a rank-1 path) is
     * exact only to roundoff of the whole Hessian's scale, not of its own. */
    double block_floor;
} hb_net_check_tol;

/* hb_net_check_batch: a random micro-batch of N samples for the net's input and loss:
 * tokens uniform in [0, vocab), features N(0, 1) in f64; xent targets uniform class ids,
 * mse targets N(0, 1) in f64; drawn from ctx's seed and `stream`. */
void hb_net_check_batch(const hb_net *net, size_t N, uint64_t stream, hb_tensor **inputs,
                        hb_tensor **targets);

/* hb_net_check_model: checks (a)–(f) on m (f64 parameters) with the micro-batch
 * (inputs, targets) of N ≥ 2 samples, which it sets itself. tol NULL → defaults.
 * label names the case in failure messages. Leaves m holding the one batch. */
void hb_net_check_model(hb_model *m, const hb_tensor *inputs, const hb_tensor *targets,
                        const hb_net_check_tol *tol, const char *label);

/* hb_net_check: an f64 model of net (which must be f64), a random batch of N ≥ 2
 * samples from `stream`, hb_net_check_model with default tolerances, all freed. */
void hb_net_check(const hb_net *net, size_t N, uint64_t stream, const char *label);

#endif
