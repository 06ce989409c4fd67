/* `hessblock train --optimizer sgd-blockhess` (docs/train.md "Per-block learning rates from
 * the Hessian"): SGD (+momentum) whose block b steps with
 *     lr_b = lr · c / λ̂_b,   λ̂_b = max(λ_max(H_bb), floor_rel · max_b' λ_max(H_b'b')),
 * λ_max the largest algebraic eigenvalue of block b's principal sub-Hessian (hb_slq_topk on
 * hb_linop_create_model_block) at the current parameters and data, refreshed every `every`
 * steps; c = the median over blocks of λ̂ (c = 1 / median of 1/λ̂ exactly, the mean of the
 * two middle values for an even count), so the median block keeps lr and `--lr` is on the
 * same scale as plain SGD's. Public API only (the per-block values go through
 * hb_optimizer_set_block_f64), so the tests link this file as it is. */
#ifndef HB_TOOL_BLOCKHESS_H
#define HB_TOOL_BLOCKHESS_H

#include <stddef.h>
#include <stdint.h>

#include "hessblock/hessblock.h"

typedef struct blockhess_opts {
    int64_t every;         /* refresh period in steps (>= 1) */
    int64_t lanczos_steps; /* HB_SLQ_TOPK_MAX_STEPS of each Lanczos run */
    double tol;            /* HB_SLQ_TOPK_TOL: relative residual of a converged λ_max */
    double floor_rel;      /* the cap: λ̂_b >= floor_rel · max λ (also catches λ <= 0) */
} blockhess_opts;

/* The defaults (docs/train.md): every 50 steps, 20 Lanczos steps, tol 1e-3, floor 1e-2. */
blockhess_opts blockhess_defaults(void);

typedef struct blockhess {
    size_t nblocks;
    double lr;             /* the base learning rate the factors multiply */
    /* the last refresh */
    double *lambda;        /* λ_max(H_bb) as computed (may be <= 0) */
    double *residual;      /* its Lanczos residual ‖H y − λ y‖ */
    double *factor;        /* c / λ̂_b: block b's lr is lr · factor[b] */
    int *capped;           /* λ̂_b was raised to the floor */
    double c;
    size_t converged;      /* blocks whose λ_max met the tolerance */
    /* totals over the run */
    int64_t refreshes, hvps;
    double seconds;
    /* history: one row of nblocks λ and factors per refresh, at step hist_step[r] */
    int64_t *hist_step;
    double *hist_lambda, *hist_factor;
    size_t nhist, cap_hist;
} blockhess;

/* blockhess_init: tables for m's blocks; lr the base rate. Returns HB_OK or HB_ENOMEM. */
int blockhess_init(blockhess *bh, hb_model *m, double lr);
void blockhess_free(blockhess *bh);

/* blockhess_factors: from lambda[0..n) to factor[0..n), capped[0..n) and *c as above
 * (pure arithmetic; the test checks it against its own). n >= 1. */
void blockhess_factors(const double *lambda, size_t n, double floor_rel, double *factor,
                       int *capped, double *c);

/* blockhess_refresh: λ_max of every block of m on its current data and parameters, the
 * factors, and lr · factor[b] as block b's HB_OPT_LR in opt (hb_optimizer_set_block_f64);
 * appended to the history as step `step`. The model's gradient buffer is not used (call
 * it before hb_model_loss_grad). Returns HB_OK or the library's status (message on the
 * model's context). */
int blockhess_refresh(blockhess *bh, const blockhess_opts *o, hb_model *m, hb_optimizer *opt,
                      int64_t step);

#endif
