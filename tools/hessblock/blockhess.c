/* Per-block learning rates from each block's top Hessian eigenvalue (blockhess.h). */
#include "blockhess.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

/* its own clock: the tests link this file without the rest of the tool */
static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

blockhess_opts blockhess_defaults(void) {
    /* 20 Lanczos steps: the largest Ritz value of a Krylov space converges first, and a
     * relative residual of 1e-3 bounds the error of λ_max by 1e-3·‖H_bb‖ (docs/train.md
     * reports how often it was met); the floor keeps a flat or negatively curved block
     * at <= 1/floor_rel times the lr of the sharpest one. */
    return (blockhess_opts){.every = 50, .lanczos_steps = 20, .tol = 1e-3, .floor_rel = 1e-2};
}

int blockhess_init(blockhess *bh, hb_model *m, double lr) {
    memset(bh, 0, sizeof *bh);
    size_t n = hb_params_num_blocks(hb_model_params(m));
    bh->nblocks = n;
    bh->lr = lr;
    bh->lambda = calloc(n, sizeof *bh->lambda);
    bh->residual = calloc(n, sizeof *bh->residual);
    bh->factor = calloc(n, sizeof *bh->factor);
    bh->capped = calloc(n, sizeof *bh->capped);
    if (!bh->lambda || !bh->residual || !bh->factor || !bh->capped) {
        blockhess_free(bh);
        return HB_ENOMEM;
    }
    return HB_OK;
}

void blockhess_free(blockhess *bh) {
    free(bh->lambda);
    free(bh->residual);
    free(bh->factor);
    free(bh->capped);
    free(bh->hist_step);
    free(bh->hist_lambda);
    free(bh->hist_factor);
    memset(bh, 0, sizeof *bh);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void blockhess_factors(const double *lambda, size_t n, double floor_rel, double *factor,
                       int *capped, double *c) {
    double top = -INFINITY;
    for (size_t b = 0; b < n; b++)
        if (lambda[b] > top) top = lambda[b];
    /* every block flat or negatively curved: no curvature to scale by, all factors 1 */
    double floor = top > 0 ? floor_rel * top : INFINITY;
    double *inv = malloc(n * sizeof *inv);
    for (size_t b = 0; b < n; b++) {
        capped[b] = !(lambda[b] >= floor);
        double lh = capped[b] ? floor : lambda[b];
        factor[b] = isfinite(lh) ? 1.0 / lh : 1.0;
        if (inv) inv[b] = factor[b];
    }
    double med = 1;
    if (inv) {
        qsort(inv, n, sizeof *inv, cmp_double);
        med = n % 2 ? inv[n / 2] : 0.5 * (inv[n / 2 - 1] + inv[n / 2]);
        free(inv);
    } /* else: out of memory for the sort: c = 1 (the unnormalised 1/λ̂), never a crash */
    *c = isfinite(floor) ? 1.0 / med : 1.0;
    for (size_t b = 0; b < n; b++) factor[b] = isfinite(floor) ? factor[b] * *c : 1.0;
}

static int grow_history(blockhess *bh) {
    if (bh->nhist < bh->cap_hist) return HB_OK;
    size_t cap = bh->cap_hist ? 2 * bh->cap_hist : 16, n = bh->nblocks;
    int64_t *s = realloc(bh->hist_step, cap * sizeof *s);
    if (!s) return HB_ENOMEM;
    bh->hist_step = s;
    double *l = realloc(bh->hist_lambda, cap * n * sizeof *l);
    if (!l) return HB_ENOMEM;
    bh->hist_lambda = l;
    double *f = realloc(bh->hist_factor, cap * n * sizeof *f);
    if (!f) return HB_ENOMEM;
    bh->hist_factor = f;
    bh->cap_hist = cap;
    return HB_OK;
}

int blockhess_refresh(blockhess *bh, const blockhess_opts *o, hb_model *m, hb_optimizer *opt,
                      int64_t step) {
    double t0 = seconds_now();
    hb_slq *s = NULL;
    int rc = hb_slq_create(hb_model_context(m), &s);
    if (!rc) rc = hb_slq_set_i64(s, HB_SLQ_TOPK_MAX_STEPS, o->lanczos_steps);
    if (!rc) rc = hb_slq_set_f64(s, HB_SLQ_TOPK_TOL, o->tol);
    bh->converged = 0;
    for (size_t b = 0; !rc && b < bh->nblocks; b++) {
        hb_linop *op = NULL;
        size_t conv = 0;
        int64_t vecs = 0;
        rc = hb_linop_create_model_block(m, b, &op);
        if (!rc) rc = hb_slq_topk(s, op, 1, HB_EIG_LARGEST, &bh->lambda[b], NULL,
                                  &bh->residual[b], &conv);
        if (!rc) rc = hb_slq_get_i64(s, HB_SLQ_STAT_APPLY_VECTORS, &vecs);
        hb_linop_free(op);
        bh->converged += conv;
        bh->hvps += vecs;
    }
    hb_slq_free(s);
    if (rc) return rc;
    blockhess_factors(bh->lambda, bh->nblocks, o->floor_rel, bh->factor, bh->capped, &bh->c);
    for (size_t b = 0; !rc && b < bh->nblocks; b++)
        rc = hb_optimizer_set_block_f64(opt, b, HB_OPT_LR, bh->lr * bh->factor[b]);
    if (!rc) rc = grow_history(bh);
    if (rc) return rc;
    size_t r = bh->nhist++, n = bh->nblocks;
    bh->hist_step[r] = step;
    memcpy(bh->hist_lambda + r * n, bh->lambda, n * sizeof *bh->lambda);
    memcpy(bh->hist_factor + r * n, bh->factor, n * sizeof *bh->factor);
    bh->refreshes++;
    bh->seconds += seconds_now() - t0;
    return HB_OK;
}
