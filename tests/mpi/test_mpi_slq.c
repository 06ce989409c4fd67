/* SLQ across MPI ranks (issue 13): run by meson under
 *   mpirun --allow-run-as-root --oversubscribe -np 2 (and -np 3)
 * Every rank computes the workload of tests/hb_comm_work.c twice: once on a context with
 * no communicator (one process) and once with hb_mpi_attach(MPI_COMM_WORLD); the spectra
 * (nodes and weights), the JS matrix and the statistics must be the same bits. It also
 * checks the hook's other collectives (allreduce_sum f32/f64, bcast, barrier), which SLQ
 * does not use yet, through the context's hook. Exit 0 on every rank when all agree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h" /* the test reads ctx->comm to call the hook's collectives */
#include "hb_comm_work.h"
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
    static hb_comm_result ref, got;

    hb_context *one = NULL, *ctx = NULL;
    EXPECT(hb_context_create(&one) == HB_OK, "context");
    hb_comm_work(one, 5, &ref);
    EXPECT(ref.rc == HB_OK, "one process: %s: %s", ref.where, ref.msg);
    hb_context_free(one);

    EXPECT(hb_context_create(&ctx) == HB_OK, "context");
    EXPECT(hb_mpi_attach(NULL, MPI_COMM_WORLD) == HB_EINVAL, "attach NULL ctx");
    EXPECT(hb_mpi_attach(ctx, MPI_COMM_NULL) == HB_EINVAL, "attach MPI_COMM_NULL");
    EXPECT(hb_mpi_attach(ctx, MPI_COMM_WORLD) == HB_OK, "attach: %s", hb_context_last_error(ctx));
    EXPECT(hb_mpi_attach(ctx, MPI_COMM_WORLD) == HB_OK, "attach again (releases the first)");
    EXPECT(ctx->has_comm && ctx->comm.rank == rank && ctx->comm.size == size, "rank/size");
    /* threads per rank: 1 on rank 0, 2 on the others (a rank's share runs on its threads) */
    EXPECT(hb_context_set_i64(ctx, HB_CTX_THREADS, rank == 0 ? 1 : 2) == HB_OK, "threads");
    hb_comm_work(ctx, 5, &got);
    char why[400] = "";
    EXPECT(hb_comm_result_diff(&ref, &got, why, sizeof why) == 0, "%d ranks: %s", size, why);
    EXPECT(got.own_calls > 0 && got.own_calls < ref.own_calls,
           "this rank made %lld of %lld operator calls: the work was not divided",
           (long long)got.own_calls, (long long)ref.own_calls);
    for (size_t i = 0; i < got.done_calls; i++)
        EXPECT(got.done_order[i] == i, "callback order: entry %zu at %zu", got.done_order[i], i);
    long long mine = got.own_calls, total = 0;
    MPI_Allreduce(&mine, &total, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    EXPECT(total == ref.own_calls, "operator calls over the ranks %lld, one process %lld", total,
           (long long)ref.own_calls);

    /* the hook's other collectives */
    hb_comm *c = &ctx->comm;
    double d[3] = {1.0 * rank, 0.5, -2.0 * rank};
    float f[2] = {(float)rank, 1.0f};
    EXPECT(c->allreduce_sum(c->user, HB_F64, d, 3) == 0, "allreduce f64");
    EXPECT(c->allreduce_sum(c->user, HB_F32, f, 2) == 0, "allreduce f32");
    double tri = size * (size - 1) / 2.0;
    EXPECT(d[0] == tri && d[1] == 0.5 * size && d[2] == -2.0 * tri, "allreduce f64 values");
    EXPECT(f[0] == (float)tri && f[1] == (float)size, "allreduce f32 values");
    EXPECT(c->allreduce_sum(c->user, (hb_dtype)99, d, 1) != 0, "allreduce of a bad dtype");
    char msg[32];
    snprintf(msg, sizeof msg, "from %d", rank);
    EXPECT(c->bcast(c->user, msg, sizeof msg, size - 1) == 0, "bcast");
    char want[32];
    snprintf(want, sizeof want, "from %d", size - 1);
    EXPECT(strcmp(msg, want) == 0, "bcast gave '%s'", msg);
    EXPECT(c->barrier(c->user) == 0, "barrier");
    EXPECT(hb_mpi_detach(ctx) == HB_OK && !ctx->has_comm, "detach");
    EXPECT(hb_mpi_attach(ctx, MPI_COMM_WORLD) == HB_OK, "attach after detach");
    hb_context_free(ctx); /* frees the duplicate communicator */

    int any = 0;
    MPI_Allreduce(&failures, &any, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) printf("%d ranks: %s\n", size, any ? "FAILED" : "all ranks equal one process");
    MPI_Finalize();
    return any ? 1 : 0;
}
