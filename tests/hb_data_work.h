/* The data-across-ranks workload (issue 13; model.h hb_model_set_data_parallel), shared by
 * tests/test_comm_data.c (in-process fake ranks) and tests/mpi/test_mpi_data.c (mpirun):
 * a tiny f64 mlp over B = 5 synthetic micro-batches, either all of them in one process or
 * rank r's contiguous share [B·r/R, B·(r+1)/R) on a data-parallel model (uneven for R = 3:
 * 1, 2, 2 batches). Every rank must get the one-process loss, gradient, accuracy, HVP,
 * hvp_multi, block HVP, SLQ nodes, block traces, the top-2 eigenvalues and a 20-step AdamW trajectory (trainer, synthetic data
 * shared out per step by the trainer) to 1e-12 relative. No Check assertions here: it
 * runs on rank threads and in the MPI program. */
#ifndef HB_DATA_WORK_H
#define HB_DATA_WORK_H

#include <stddef.h>
#include <stdint.h>

#include "hessblock/hessblock.h"

enum { HB_DW_BATCHES = 5, HB_DW_MAX_N = 128, HB_DW_STEPS = 20, HB_DW_MAX_NODES = 256 };

typedef struct hb_data_result {
    int rc;           /* first failing status (HB_OK if none) */
    char where[64];   /* the call that failed */
    char msg[256];    /* its message */
    size_t n, block_n;
    double loss, accuracy;
    double grad[HB_DW_MAX_N], hvp[HB_DW_MAX_N], hvp2[2 * HB_DW_MAX_N], block_hvp[HB_DW_MAX_N];
    /* SLQ: hb_slq_run_model, then hb_slq_run_model_blocks of block 1 and the full H */
    double nodes[HB_DW_MAX_NODES], weights[HB_DW_MAX_NODES];
    size_t node_count;
    double traces[8];        /* Hutchinson trace of every block (the mlp has 4) */
    size_t n_blocks;
    double topk[2];          /* the 2 largest eigenvalues of H (hb_slq_topk) */
    double train_loss[HB_DW_STEPS], theta[HB_DW_MAX_N]; /* the AdamW run: losses, final θ */
} hb_data_result;

/* Runs the workload on ctx (its threads and communicator as the caller set them). With
 * shard = 0 the model holds all B batches (the reference; no data-parallel); with
 * shard = 1 it is data-parallel and holds rank `rank` of `size`'s share. ckpt_path: the
 * trainer checkpoints there every 10 steps (NULL: none). */
void hb_data_work(hb_context *ctx, int shard, int rank, int size, const char *ckpt_path,
                  hb_data_result *r);

/* 0 when b equals a (the reference) to `rel` relative (max |b−a| / max |a| per quantity,
 * SLQ nodes, weights and traces to rel_slq, top-k to 1e-7: its pairs converge to a
 * residual of HB_SLQ_TOPK_TOL = 1e-8·‖A‖ in both runs); else a line in why. */
int hb_data_result_diff(const hb_data_result *a, const hb_data_result *b, double rel,
                        double rel_slq, char *why, size_t cap);

#endif
