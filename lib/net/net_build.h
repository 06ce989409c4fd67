/* The network definition as the builder (net.c) stores it and the engine (engine.c)
 * reads it. Private to lib/net/ and the tests; the op classes see only net_internal.h. */
#ifndef HB_NET_BUILD_H
#define HB_NET_BUILD_H

#include "net/net_internal.h"

/* A parameter block an op asked for; created in the params when a model is made. */
typedef struct hb__net_block {
    char name[HB_MAX_BLOCK_NAME + 1];
    hb_block_kind kind;
    int ndim;
    int64_t shape[HB_MAX_DIMS];
    hb_init init; /* hb_params_init_block(…, init, a, b) */
    double a, b;
} hb__net_block;

struct hb_net {
    hb_context *ctx;
    hb_dtype dtype;       /* of the parameters */
    hb__act *acts;        /* in definition order; acts[input] is the input */
    size_t n_acts, cap_acts;
    hb__net_op *ops;      /* in definition order (a DAG in that order); the loss among them */
    size_t n_ops, cap_ops;
    hb__net_block *blocks;
    size_t n_blocks;      /* committed blocks: those of the ops in `ops` */
    size_t n_pending;     /* n_blocks + those of the op being added (dropped if it fails) */
    size_t cap_blocks;
    int input;            /* activation index of the input, -1 before it is set */
    int loss;             /* op index of the loss, -1 before it is set */
    /* The op between hb__net_begin_op and hb__net_commit_op: its class and output name. */
    const hb__op_class *pending_cls;
    char pending_out[HB_MAX_BLOCK_NAME + 1];
};

/* Tests only: cap the directions per R chunk of a model made from a net (0 = no cap), so
 * the chunk loop runs on tiny models. HB_EINVAL if m was not made from a net. */
int hb__net_model_set_max_chunk(hb_model *m, size_t max_chunk);
/* Tests and benchmarks only: the elements of θ parts one theta_fixed task of a model made
 * from a net may keep (engine.c, "Kept θ parts"): 0 keeps none (every product recomputes
 * its θ passes, as before keeping existed), SIZE_MAX restores the default budget.
 * HB_EINVAL if m was not made from a net. */
int hb__net_model_set_theta_budget(hb_model *m, size_t elements);

#endif
