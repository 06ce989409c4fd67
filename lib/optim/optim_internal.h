/* Internal optimizer layout (the checkpoint code reads and writes the state). */
#ifndef HB_OPTIM_INTERNAL_H
#define HB_OPTIM_INTERNAL_H

#include "params/params_internal.h"

/* Per-block hyperparameters (effective values after defaults and overrides). */
typedef struct hb__opt_hp {
    double lr, wd, momentum, dampening, beta1, beta2, eps;
} hb__opt_hp;

typedef struct hb__opt_override {
    char *pattern;        /* glob on block names, or NULL when selecting by kind */
    hb_block_kind kind;
    hb_optimizer_opt key;
    double value;
} hb__opt_override;

enum { HB__SCHED_CONSTANT = 0, HB__SCHED_COSINE = 1, HB__SCHED_CALLBACK = 2 };

struct hb_optimizer {
    hb_context *ctx;
    hb_optimizer_kind kind;
    hb_params *p;
    hb__opt_hp global;
    int nesterov, sr, master_on, decay_nb;
    int64_t heads;
    double clip;
    hb__opt_override *ov;
    size_t n_ov, cap_ov;
    int sched;
    int64_t warmup, total;
    double floor;
    hb_lr_schedule_fn sched_fn;
    void *sched_user;
    int64_t t;              /* steps taken */
    hb_dtype sdtype;        /* state dtype: f64 for f64 params, else f32 */
    void *buf;              /* SGD momentum, n */
    void *m;                /* Adam family first moment, n */
    void *v;                /* Adam/AdamW second moment (n); Adam-mini: n_part */
    size_t n_part;          /* Adam-mini: length of v (0 = not allocated yet) */
    size_t *part_first;     /* Adam-mini: n_blocks + 1 prefix offsets into v */
    float *master;          /* bf16 master copy (n) or NULL */
    bool master_valid;      /* master holds the current weights */
    bool has_stream;
    uint64_t stream;        /* RNG stream of stochastic rounding */
    double *partial;        /* gradient-check partial sums, one per chunk */
    size_t n_chunks;
    hb__opt_hp *hp;         /* n_blocks, resolved at each step */
};

/* Chunk of the gradient check (fixed, so partial sums do not depend on threads). */
#define HB__CHECK_CHUNK ((size_t)1 << 16)

/* hb__optim_partition: Adam-mini partitions of block b under `heads` (count·size = numel).
 * Non-Adam-mini kinds: count = numel, size = 1. Returns HB_OK or HB_ESHAPE (message set). */
int hb__optim_partition(const hb_optimizer *opt, size_t b, int64_t heads, size_t *count,
                        size_t *size);

/* hb__optim_prepare: allocate the layout-dependent state (Adam-mini v and its table;
 * the master copy) if missing. Changes no value. Returns HB_OK, HB_ESHAPE, HB_ENOMEM. */
int hb__optim_prepare(hb_optimizer *opt);

/* hb__optim_resolve_all: fill opt->hp with every block's effective hyperparameters. */
void hb__optim_resolve_all(hb_optimizer *opt);

#endif
