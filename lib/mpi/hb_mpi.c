/* libhessblock-mpi: the communicator hook (comm.h) over a duplicated MPI communicator.
 * Only the public API of libhessblock is used here: this library is an ordinary client. */
#include <stdlib.h>

#include "hessblock/mpi.h"

/* What the hook's `user` points to. */
typedef struct hb_mpi_user {
    MPI_Comm comm; /* the duplicate, ours */
} hb_mpi_user;

static int mpi_allreduce_sum(void *user, hb_dtype dtype, void *buf, size_t count) {
    hb_mpi_user *u = user;
    MPI_Datatype t = dtype == HB_F32 ? MPI_FLOAT : dtype == HB_F64 ? MPI_DOUBLE : MPI_DATATYPE_NULL;
    if (t == MPI_DATATYPE_NULL) return -1;
    /* MPI counts are int: large arrays go in pieces (each a sum of its own elements only). */
    char *p = buf;
    size_t elem = dtype == HB_F32 ? sizeof(float) : sizeof(double);
    while (count > 0) {
        int c = count > (size_t)(1 << 30) ? 1 << 30 : (int)count;
        int r = MPI_Allreduce(MPI_IN_PLACE, p, c, t, MPI_SUM, u->comm);
        if (r != MPI_SUCCESS) return r;
        p += (size_t)c * elem;
        count -= (size_t)c;
    }
    return 0;
}

static int mpi_bcast(void *user, void *buf, size_t bytes, int root) {
    hb_mpi_user *u = user;
    char *p = buf;
    while (bytes > 0) {
        int c = bytes > (size_t)(1 << 30) ? 1 << 30 : (int)bytes;
        int r = MPI_Bcast(p, c, MPI_BYTE, root, u->comm);
        if (r != MPI_SUCCESS) return r;
        p += c;
        bytes -= (size_t)c;
    }
    return 0;
}

static int mpi_allgather(void *user, const void *send, size_t bytes, void *recv) {
    hb_mpi_user *u = user;
    /* One call: the receive layout (rank-major) would not survive splitting. */
    if (bytes > (size_t)(1 << 30)) return -1;
    return MPI_Allgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, u->comm);
}

static int mpi_barrier(void *user) {
    hb_mpi_user *u = user;
    return MPI_Barrier(u->comm);
}

static void mpi_release(void *user) {
    hb_mpi_user *u = user;
    int finalized = 1;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&u->comm);
    free(u);
}

int hb_mpi_attach(hb_context *ctx, MPI_Comm comm) {
    if (!ctx) return HB_EINVAL;
    if (comm == MPI_COMM_NULL) return HB_EINVAL;
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (!init || fin) return HB_ESTATE;
    hb_mpi_user *u = malloc(sizeof *u);
    if (!u) return HB_ENOMEM;
    if (MPI_Comm_dup(comm, &u->comm) != MPI_SUCCESS) {
        free(u);
        return HB_ECALLBACK;
    }
    /* Errors come back as codes (then HB_ECALLBACK), not as an abort of the job. */
    MPI_Comm_set_errhandler(u->comm, MPI_ERRORS_RETURN);
    hb_comm c = HB_COMM_INIT;
    c.user = u;
    if (MPI_Comm_rank(u->comm, &c.rank) != MPI_SUCCESS ||
        MPI_Comm_size(u->comm, &c.size) != MPI_SUCCESS) {
        MPI_Comm_free(&u->comm);
        free(u);
        return HB_ECALLBACK;
    }
    c.allreduce_sum = mpi_allreduce_sum;
    c.bcast = mpi_bcast;
    c.allgather = mpi_allgather;
    c.barrier = mpi_barrier;
    c.release = mpi_release;
    int rc = hb_context_set_comm(ctx, &c);
    if (rc != HB_OK) mpi_release(u);
    return rc;
}

int hb_mpi_detach(hb_context *ctx) { return hb_context_set_comm(ctx, NULL); }
