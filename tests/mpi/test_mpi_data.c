/* Data across MPI ranks (issue 13): run by meson under
 *   mpirun --allow-run-as-root --oversubscribe -np 2 (and -np 3: an uneven split)
 * Every rank computes the workload of tests/hb_data_work.c twice: once on a context with
 * no communicator over all 5 micro-batches (one process), once with
 * hb_mpi_attach(MPI_COMM_WORLD) on a data-parallel model holding its share. Loss,
 * gradient, accuracy, HVP, hvp_multi, a block HVP and a 20-step AdamW trajectory must
 * agree to 1e-12 relative (SLQ nodes to 1e-10), be the same bits on every rank, and the
 * trainer's checkpoint must be written once (rank 0). Exit 0 on every rank when all agree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hb_data_work.h"
#include "hessblock/mpi.h"

static int failures;

#define EXPECT(cond, ...)                                                              \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "rank %d: FAIL %s:%d: ", rank, __FILE__, __LINE__);        \
            fprintf(stderr, __VA_ARGS__);                                              \
            fprintf(stderr, "\n");                                                     \
            failures++;                                                                \
        }                                                                              \
    } while (0)

int main(int argc, char **argv) {
    int provided = 0, rank = 0, size = 1;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    static hb_data_result ref, got, rank0;

    hb_context *one = NULL, *ctx = NULL;
    EXPECT(hb_context_create(&one) == HB_OK, "context");
    hb_data_work(one, 0, 0, 1, NULL, &ref);
    EXPECT(ref.rc == HB_OK, "one process: %s: %s", ref.where, ref.msg);
    hb_context_free(one);

    /* one checkpoint path for all ranks (rank 0's name): only rank 0 may write it */
    char path[64] = "";
    if (rank == 0) snprintf(path, sizeof path, "/tmp/hb_mpi_data_%ld.ckpt", (long)getpid());
    MPI_Bcast(path, sizeof path, MPI_CHAR, 0, MPI_COMM_WORLD);

    EXPECT(hb_context_create(&ctx) == HB_OK, "context");
    EXPECT(hb_mpi_attach(ctx, MPI_COMM_WORLD) == HB_OK, "attach: %s", hb_context_last_error(ctx));
    /* threads per rank: 1 on rank 0, 2 on the others (products threaded inside) */
    EXPECT(hb_context_set_i64(ctx, HB_CTX_THREADS, rank == 0 ? 1 : 2) == HB_OK, "threads");
    hb_data_work(ctx, 1, rank, size, path, &got);
    char why[400] = "";
    EXPECT(hb_data_result_diff(&ref, &got, 1e-12, 1e-10, why, sizeof why) == 0, "%d ranks: %s",
           size, why);
    /* the same bits on every rank: rank 0's results, sent to all */
    if (rank == 0) rank0 = got;
    MPI_Bcast(&rank0, (int)sizeof rank0, MPI_BYTE, 0, MPI_COMM_WORLD);
    EXPECT(memcmp(rank0.theta, got.theta, sizeof got.theta) == 0, "θ differs from rank 0's");
    EXPECT(memcmp(rank0.grad, got.grad, sizeof got.grad) == 0, "gradient differs from rank 0's");
    EXPECT(memcmp(rank0.hvp2, got.hvp2, sizeof got.hvp2) == 0, "hvp_multi differs from rank 0's");
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
        EXPECT(access(path, F_OK) == 0, "the checkpoint %s was not written", path);
        unlink(path);
    }
    hb_context_free(ctx);

    int any = 0;
    MPI_Allreduce(&failures, &any, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("%d ranks: %s\n", size, any ? "FAILED" : "data-parallel results equal one process");
    MPI_Finalize();
    return any ? 1 : 0;
}
