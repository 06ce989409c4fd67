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
    /* hb_optimizer_set_block_f64: per-block values by index, applied after every override;
     * bset_mask[b] has bit (1u << key) set where block b has one. Both NULL until the first
     * call (allocated together: a table that never grows, unlike the override list). */
    hb__opt_hp *bset;
    unsigned *bset_mask;
    int sched;
    int64_t warmup, total;
    double floor;
    hb_lr_schedule_fn sched_fn;
    void *sched_user;
    double lr_mult;         /* HB_OPT_LR_MULT: global factor on every block's lr (not saved) */
    int64_t t;              /* steps taken */
    int64_t *t0;            /* n_blocks: the step count when the block was last restarted
                               (hb_optimizer_reset_block, 0 = never); its bias correction
                               and SGD first-step rule count from there: τ = t − t0[b] */
    hb_dtype sdtype;        /* state dtype: f64 for f64 params, else f32 */
    /* State covers the blocks trainable at create only, packed in block order: block b's
     * state is [soff[b], soff[b+1]) of buf, m, v (Adam/AdamW) and master; a frozen block
     * has soff[b+1] == soff[b]. Without frozen blocks soff[b] == blocks[b].offset. */
    size_t *soff;           /* n_blocks + 1 prefix offsets (state index of each block) */
    size_t n_state;         /* = soff[n_blocks], trainable elements at create */
    uint64_t trainable_gen; /* p->trainable_gen at create; a step fails if it moved */
    void *buf;              /* SGD momentum, n_state */
    void *m;                /* Adam family first moment, n_state */
    void *v;                /* Adam/AdamW second moment (n_state); Adam-mini: n_part */
    size_t n_part;          /* Adam-mini: length of v (0 = not allocated yet) */
    size_t *part_first;     /* Adam-mini: n_blocks + 1 prefix offsets into v (a frozen
                               block has no partition: part_first[b+1] == part_first[b]) */
    float *master;          /* bf16 master copy (n_state) or NULL */
    bool master_valid;      /* master holds the current weights */
    bool has_stream;
    uint64_t stream;        /* RNG stream of stochastic rounding */
    double *partial;        /* gradient-check partial sums, one per chunk of state indices */
    size_t n_chunks;
    hb__opt_hp *hp;         /* n_blocks, resolved at each step */
};

/* hb__optim_trains: did block b get state (was it trainable at create)? */
static inline bool hb__optim_trains(const hb_optimizer *o, size_t b) {
    return o->soff[b + 1] > o->soff[b];
}

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
