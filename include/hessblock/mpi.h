/* libhessblock-mpi — the communicator hook (hessblock/comm.h) from an MPI communicator.
 *
 * A separate library (pkg-config: hessblock-mpi; link -lhessblock-mpi -lhessblock and
 * your MPI), built when meson finds MPI (-Dmpi=enabled|auto|disabled). This is the only
 * header that includes <mpi.h>; libhessblock itself never does.
 *
 *   MPI_Init(&argc, &argv);
 *   hb_context *ctx; hb_context_create(&ctx);
 *   hb_mpi_attach(ctx, MPI_COMM_WORLD);  // SLQ runs now divide their probes over ranks
 *   ... the same calls on every rank (comm.h, "Collective rule") ...
 *   hb_context_free(ctx);                // or hb_mpi_detach(ctx) first
 *   MPI_Finalize();
 *
 * docs/scale-out.md tells what is distributed and how to run it. */
#ifndef HESSBLOCK_MPI_H
#define HESSBLOCK_MPI_H

#include <mpi.h>

#include "hessblock/hessblock.h"

#ifdef __cplusplus
extern "C" {
#endif

/* hb_mpi_attach: the context's communicator becomes a DUPLICATE of comm (MPI_Comm_dup,
 * collective over comm: every rank calls it), so the library's messages never match the
 * caller's. The hook sums with MPI_Allreduce (MPI_SUM on MPI_FLOAT / MPI_DOUBLE),
 * broadcasts with MPI_Bcast, gathers bytes with MPI_Allgather and waits with MPI_Barrier;
 * an MPI error (with MPI_ERRORS_RETURN on the duplicate) fails the library call with
 * HB_ECALLBACK. A hook already on the context is released first.
 * The duplicate is freed (MPI_Comm_free) when the context lets the hook go: hb_mpi_detach,
 * another hb_context_set_comm / hb_mpi_attach, or hb_context_free — so free the context
 * (or detach) BEFORE MPI_Finalize; after it, only the memory is freed.
 * MPI must be initialised; the library calls MPI only from the thread that makes the
 * library call (MPI_THREAD_FUNNELED is enough; its own task threads never call MPI).
 * Returns HB_OK; HB_EINVAL (NULL ctx, comm is MPI_COMM_NULL); HB_ESTATE (MPI not
 * initialised, or already finalised); HB_ECALLBACK (MPI_Comm_dup or a query failed);
 * HB_ENOMEM. On failure the context keeps its previous hook; failures found by
 * hb_mpi_attach itself (before hb_context_set_comm) return the code without a context
 * message (libhessblock has no public call to set one). */
HB_API int hb_mpi_attach(hb_context *ctx, MPI_Comm comm);

/* Deadlines: a rank that never arrives (stuck, or a killed rank the launcher does not
 * clean up) would leave the others waiting in MPI forever. With a timeout T > 0 every
 * callback of the hook runs the non-blocking collective (MPI_Iallgather, MPI_Iallreduce,
 * MPI_Ibcast, MPI_Ibarrier) on buffers of its own and polls it; when it has not completed
 * T seconds after it started, the callback returns HB_MPI_TIMED_OUT and the library call
 * fails with HB_ECALLBACK ("... (it returned -2)") on that rank. MPI cannot cancel a
 * collective: the hook is then BROKEN — every later callback returns HB_MPI_BROKEN at
 * once — and its duplicate communicator and buffers are never freed. End the job after
 * such a failure (MPI_Abort; the hessblock tool does). T bounds each collective's WAIT,
 * which includes waiting for the slowest rank to finish its share of the work before an
 * exchange: choose T well above that. Default: the environment variable HB_MPI_TIMEOUT
 * (seconds, read by hb_mpi_attach), else none (blocking collectives, as before). */
#define HB_MPI_TIMED_OUT (-2) /* a callback's return: the deadline passed */
#define HB_MPI_BROKEN (-3)    /* a callback's return: an earlier deadline passed */

/* hb_mpi_set_timeout: the deadline of ctx's hook (from hb_mpi_attach) becomes `seconds`
 * (0: none). Not collective; set the same on every rank. Returns HB_OK; HB_EINVAL (NULL
 * ctx, seconds negative, NaN or above 1e9); HB_ENOTFOUND (ctx holds no hb_mpi hook). No
 * context message (as hb_mpi_attach's own checks). */
HB_API int hb_mpi_set_timeout(hb_context *ctx, double seconds);

/* hb_mpi_detach: removes the context's communicator (hb_context_set_comm(ctx, NULL)),
 * freeing the duplicate. Not collective in MPI's sense, but MPI_Comm_free is: call it on
 * every rank. Returns HB_OK, HB_EINVAL (NULL ctx). */
HB_API int hb_mpi_detach(hb_context *ctx);

#ifdef __cplusplus
}
#endif
#endif /* HESSBLOCK_MPI_H */
