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

/* hb_mpi_detach: removes the context's communicator (hb_context_set_comm(ctx, NULL)),
 * freeing the duplicate. Not collective in MPI's sense, but MPI_Comm_free is: call it on
 * every rank. Returns HB_OK, HB_EINVAL (NULL ctx). */
HB_API int hb_mpi_detach(hb_context *ctx);

#ifdef __cplusplus
}
#endif
#endif /* HESSBLOCK_MPI_H */
