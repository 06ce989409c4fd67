/* The state of a model made from a net (lib/net/engine.c runs it, lib/net/model_net.c
 * makes it). Everything a call needs is sized when the model is made or kept in the
 * grow-only workspace, so a call allocates nothing but a larger workspace. */
#ifndef HB_NET_ENGINE_H
#define HB_NET_ENGINE_H

#include "core/arena.h"
#include "model/model_internal.h"
#include "net/net_build.h"

/* The θ PART of a call's workspace: everything the θ passes (forward, backward) write and
 * the R passes only read — θ values, θ gradients, saved states, the bwd_ran flags and the
 * converted inputs and targets. A task whose θ and micro-batches stay fixed between its
 * calls (hb__model_task.theta_fixed: the worker tasks of one SLQ run) keeps one per
 * micro-batch, so its later products on that batch run only the R passes (engine.c,
 * "Kept θ parts"). */
typedef struct hb__net_theta {
    hb__arena ws;
    bool valid;               /* holds the θ passes of the call described below */
    const hb__batch *batch;   /* that call: its micro-batch, plan (a block, all), samples */
    size_t block, N;          /* and scale (backward bakes the scale into the gradients) */
    double scale;
} hb__net_theta;

/* The per-call state of one task (hb__model_task.impl; made by hb__net_state_of): the
 * plan and the buffers of its current call, carved from its own grow-only workspaces, so
 * tasks run products on one model concurrently. */
typedef struct hb__net_state {
    hb_context *ctx;      /* the task's: errors and the workspace's allocation */
    /* the plan of the current call (see plan() in engine.c) */
    bool *wanted;         /* blocks: gradient / direction and output of this call */
    bool *down;           /* acts: downstream of a wanted block (needs g, has R) */
    int *first_writer;    /* acts: op whose backward writes its gradient first (-1: none) */
    int *slot;            /* acts: R-gradient slot, -1 */
    size_t *slot_size;    /* slots: elements per sample and direction */
    size_t n_slots;
    bool *slot_busy;      /* slots: taken (planning only) */
    /* the current call's θ buffers (carved from its θ part) */
    const void **y;       /* acts: θ values (the input: the batch or its conversion) */
    void **g;             /* acts: θ gradients */
    void **saved;         /* ops */
    bool *bwd_ran;        /* ops: the θ backward ran (hb__op_call.bwd_ran; the θ part's) */
    const void *targets;
    /* the current call's R buffers (carved from ws) */
    void **Ry;            /* acts: R values (rows, k, width) */
    void **rsaved;        /* ops */
    void **slot_mem;      /* slots: R gradients */
    void *scratch;        /* any pass's (sized for both, so it lives here) */
    int threads;          /* the thread count scratch was laid out for (hb__op_call.threads) */
    hb__dir *dirV, *dirO; /* blocks: this chunk's directions and outputs */
    hb__arena ws;         /* the R part */
    hb__net_theta once;   /* the θ part of calls that keep none */
    hb__net_theta *kept;  /* theta_fixed tasks: one θ part per micro-batch (m->batches order) */
    size_t n_kept;
} hb__net_state;

typedef struct hb__net_model {
    hb__model_vtable vt;  /* per model: name and optional hooks from hb__net_hooks */
    hb__net_hooks hooks;
    hb_dtype dt;          /* compute dtype */
    /* the definition (copied from the net) */
    hb__act *acts;
    size_t n_acts;
    hb__net_op *ops;
    size_t n_ops;
    int input, loss;      /* activation index of the input, op index of the loss */
    bool mse;             /* the loss is hb__op_mse (float targets), else class ids */
    size_t n_blocks;
    int *block_op;        /* op that owns each block */
    bool *useful;         /* ops whose output reaches the loss */
    size_t max_chunk;     /* tests: cap on directions per R chunk (0 = none) */
    size_t theta_budget;  /* tests: elements of kept θ parts per task (SIZE_MAX: the
                           * default THETA_KEEP_BUDGET of engine.c; 0: keep none) */
} hb__net_model;

/* The vtable entries of a net model (engine.c, model_net.c). */
int hb__net_check_batch(hb_model *m, const hb_tensor *x, const hb_tensor *y, size_t *n);
int hb__net_loss_grad(hb_model *m, const hb__batch *b, double *loss, void *grad, double scale);
int hb__net_hvp_multi(hb_model *m, hb__model_task *t, const hb__batch *b, size_t k,
                      const void *V, void *OUT, double scale);
int hb__net_block_hvp(hb_model *m, hb__model_task *t, const hb__batch *b, size_t block,
                      size_t k, const void *V_b, void *OUT_b, double scale);
void hb__net_task_free(hb_model *m, hb__model_task *t);
/* vtable block_cost: the estimated multiply-adds of one product (engine.c, "work estimate") */
int hb__net_block_cost(hb_model *m, size_t block, size_t k, double *cost);

/* hb__net_state_of: task t's state, made on first use (its arrays sized from the
 * definition, on t->ctx); NULL with the status on t->ctx when that allocation fails. */
hb__net_state *hb__net_state_of(hb_model *m, hb__model_task *t);
int hb__net_accuracy(hb_model *m, const hb__batch *b, size_t *correct, size_t *total);

/* Tests only: bytes of the workspace of a call on N samples with k directions per chunk
 * (k = 0: loss and gradient); HB_EOVERFLOW when it does not fit a size_t. */
int hb__net_workspace_bytes(hb_model *m, size_t N, size_t k, size_t *bytes);

#endif
