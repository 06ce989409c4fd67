/* libhessblock — the communicator hook: work across processes (ranks) without an MPI
 * header in the public API.
 *
 * A context may hold a communicator: a struct of callbacks over a group of `size`
 * processes of which this one is `rank`. The library calls them to divide work over the
 * ranks and exchange results (docs/scale-out.md). libhessblock-mpi fills one from an
 * MPI_Comm (hessblock/mpi.h, hb_mpi_attach); any other transport (a test's fake, another
 * message-passing library) can fill it by hand.
 *
 * What uses it now: SLQ (hb_slq_run, hb_slq_run_model, hb_slq_run_model_block,
 * hb_slq_run_model_blocks) divides its probe-group tasks over the ranks and gathers the
 * results so that EVERY rank returns the spectra a single process returns, bit for bit
 * (slq.h). A model made data-parallel (hb_model_set_data_parallel, model.h) sums its
 * loss, gradient, accuracy and products over the ranks' data shards with allreduce_sum
 * (then SLQ runs on it do not divide tasks: every product is a collective). Everything
 * else runs as one process on every rank.
 *
 * Collective rule: a call that communicates must be made by every rank of the group, in
 * the same order, with the same arguments, options, seed and model (θ and data); the
 * library checks the run's shape and random streams and fails with HB_ESTATE on every
 * rank when they disagree, but it cannot check θ or the data. A rank that returns
 * before the exchange (a bad argument on that rank only, a crash) leaves the others
 * waiting in the transport: failure handling across ranks is later work. */
#ifndef HESSBLOCK_COMM_H
#define HESSBLOCK_COMM_H

#include <stddef.h>

#include "hessblock/core.h"
#include "hessblock/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The callbacks. Each returns 0 on success, nonzero on failure; a failure makes the
 * library call that made it return HB_ECALLBACK on this rank, with the callback's name
 * and code in the message. All are collective: every rank calls them in the same order.
 *   allreduce_sum  buf[0..count) of dtype (HB_F32 or HB_F64) ← its sum over the ranks,
 *                  in place, the same bits on every rank;
 *   bcast          buf[0..bytes) ← root's bytes;
 *   allgather      recv[r·bytes .. (r+1)·bytes) ← rank r's send[0..bytes), for every r
 *                  (recv holds size·bytes; send and recv do not overlap);
 *   barrier        returns when every rank has called it;
 *   release        optional (NULL: none): called once with `user` when the context stops
 *                  using the hook (replaced, removed, or the context freed), so the
 *                  provider can free what `user` holds. Not collective. */
typedef struct hb_comm {
    size_t struct_size;   /* sizeof(hb_comm) as the caller compiled it (versioning below) */
    void *user;           /* passed to every callback */
    int rank, size;       /* this process is rank 0 <= rank < size of size >= 1 ranks */
    int (*allreduce_sum)(void *user, hb_dtype dtype, void *buf, size_t count);
    int (*bcast)(void *user, void *buf, size_t bytes, int root);
    int (*allgather)(void *user, const void *send, size_t bytes, void *recv);
    int (*barrier)(void *user);
    void (*release)(void *user);
} hb_comm;

#define HB_COMM_INIT { sizeof(hb_comm), NULL, 0, 1, NULL, NULL, NULL, NULL, NULL }
/* The smallest struct_size accepted: every field up to and including barrier. */
#define HB_COMM_SIZE_MIN (offsetof(hb_comm, barrier) + sizeof(int (*)(void *)))

/* hb_context_set_comm: the context's communicator becomes *comm (copied: the struct need
 * not outlive the call; `user` must, until release). NULL removes it. A previous hook's
 * release is called once the new one is accepted — also when the new hook has the same
 * `user`: give every hook its own. A context with no communicator, or one of size 1, runs
 * everything in this process, exactly as before.
 * Versioning as hb_model_callbacks (model.h): fields are only appended; a shorter
 * struct_size (>= HB_COMM_SIZE_MIN) gets the defaults (NULL) for the fields it lacks; a
 * longer one is accepted when its extra bytes are zero, else HB_EUNSUPPORTED.
 * Returns HB_OK; HB_EINVAL (NULL ctx; struct_size below HB_COMM_SIZE_MIN or above 4096;
 * size < 1; rank outside 0..size-1; a NULL callback other than release), the context
 * unchanged (the old hook kept, not released). Allocates nothing. */
HB_API int hb_context_set_comm(hb_context *ctx, const hb_comm *comm);

#ifdef __cplusplus
}
#endif
#endif /* HESSBLOCK_COMM_H */
