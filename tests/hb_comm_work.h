/* The SLQ workload of the communicator tests (tests/test_comm.c with in-process fake ranks,
 * tests/mpi/test_mpi_slq.c under mpirun): the same calls on a context with or without a
 * communicator, so a run across ranks can be compared with one process bit for bit.
 * No Check assertions here: it runs on rank threads and in the MPI program. */
#ifndef HB_COMM_WORK_H
#define HB_COMM_WORK_H

#include <stddef.h>
#include <stdint.h>

#include "hessblock/hessblock.h"

enum { HB_CW_MAX_NODES = 4096, HB_CW_MAX_ENTRIES = 24 };

typedef struct hb_comm_result {
    int rc;                 /* first failing status (HB_OK if none) */
    char where[64];         /* the call that failed */
    char msg[256];          /* its message */
    /* hb_slq_run on a dense operator (no cost estimate: round-robin over ranks) */
    double dense_nodes[HB_CW_MAX_NODES], dense_weights[HB_CW_MAX_NODES];
    size_t dense_count;
    /* hb_slq_run_model on a tiny gpt (one entry, its probe groups spread) */
    double full_nodes[HB_CW_MAX_NODES], full_weights[HB_CW_MAX_NODES];
    size_t full_count;
    /* hb_slq_run_model_blocks: every block of the gpt and the full Hessian (LPT over ranks) */
    double block_nodes[HB_CW_MAX_NODES * 4], block_weights[HB_CW_MAX_NODES * 4];
    size_t block_count;
    size_t entries;
    double js[HB_CW_MAX_ENTRIES * HB_CW_MAX_ENTRIES], js_mean;
    int64_t calls, vectors;   /* the blocks run's statistics (summed over ranks) */
    size_t done_order[HB_CW_MAX_ENTRIES], done_calls; /* the per-entry callback */
    /* hb_slq_run on a callback operator: its calls made IN THIS PROCESS (a rank runs only
     * its share), and the spectrum's nodes (compared) */
    int64_t own_calls;
    double cb_nodes[HB_CW_MAX_NODES], cb_weights[HB_CW_MAX_NODES];
    size_t cb_count;
    /* hb_slq_topk_model_blocks: the 3 largest of every block and the full Hessian */
    double topk_values[HB_CW_MAX_ENTRIES * 3], topk_residuals[HB_CW_MAX_ENTRIES * 3];
    size_t topk_converged[HB_CW_MAX_ENTRIES];
    int64_t topk_calls;
} hb_comm_result;

/* Runs the workload on ctx (threads and communicator as the caller set them); the
 * context's seed is set to `seed`. */
void hb_comm_work(hb_context *ctx, int64_t seed, hb_comm_result *r);

/* 0 when b equals a (the reference) bit for bit; else a line in why. */
int hb_comm_result_diff(const hb_comm_result *a, const hb_comm_result *b, char *why, size_t cap);

#endif
