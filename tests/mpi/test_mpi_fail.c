/* Failure across MPI ranks in bounded time (issue 13.5), run by meson under
 *   mpirun --allow-run-as-root --oversubscribe -np 2 (and -np 3)
 * 1. With a deadline (hb_mpi_set_timeout) the hook takes its non-blocking path: the
 *    workload of tests/hb_comm_work.c must still equal one process bit for bit.
 * 2. Bad input on one rank: the last rank calls hb_slq_run with a NULL operator while the
 *    others run it properly; every rank returns HB_EINVAL, the others naming that rank.
 * 3. A rank that never arrives: the last rank skips an SLQ run; the others, with a deadline
 *    of 1 s, return HB_ECALLBACK within a bound (the run's own work + 1 s + slack), and
 *    their broken hook fails the next call at once. The ranks then meet on MPI_COMM_WORLD
 *    (not the broken duplicate) and finalise.
 * Exit 0 on every rank when all agree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_comm_work.h"
#include "hessblock/mpi.h"

static int failures, rank, size;

#define EXPECT(cond, ...)                                                              \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "rank %d: FAIL %s:%d: ", rank, __FILE__, __LINE__);        \
            fprintf(stderr, __VA_ARGS__);                                              \
            fprintf(stderr, "\n");                                                     \
            failures++;                                                                \
        }                                                                              \
    } while (0)

static double now(void) { return MPI_Wtime(); }

/* A small dense operator, SLQ options, a run on ctx; the status. */
static int dense_run(hb_context *ctx, int null_op, char *msg, size_t cap) {
    enum { N = 30 };
    static double A[N * N];
    for (size_t i = 0; i < N; i++)
        for (size_t q = 0; q < N; q++) A[i * N + q] = i == q ? 1.0 + (double)i : 0.01;
    hb_linop *op = NULL;
    hb_slq *s = NULL;
    hb_spectrum *sp = NULL;
    int rc = hb_linop_create_dense(ctx, A, N, 1, &op);
    if (rc == HB_OK) rc = hb_slq_create(ctx, &s);
    if (rc == HB_OK) rc = hb_slq_set_i64(s, HB_SLQ_PROBES, 6);
    if (rc == HB_OK) rc = hb_slq_set_i64(s, HB_SLQ_STEPS, 8);
    if (rc == HB_OK) rc = hb_slq_run(s, null_op ? NULL : op, &sp);
    snprintf(msg, cap, "%s", hb_context_last_error(ctx));
    hb_spectrum_free(sp);
    hb_slq_free(s);
    hb_linop_free(op);
    return rc;
}

int main(int argc, char **argv) {
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int last = size - 1;
    char msg[512];

    /* hb_mpi_set_timeout's checks */
    hb_context *ctx = NULL;
    EXPECT(hb_context_create(&ctx) == HB_OK, "context");
    EXPECT(hb_mpi_set_timeout(NULL, 1.0) == HB_EINVAL, "NULL ctx");
    EXPECT(hb_mpi_set_timeout(ctx, 1.0) == HB_ENOTFOUND, "no hook yet");
    EXPECT(hb_mpi_attach(ctx, MPI_COMM_WORLD) == HB_OK, "attach");
    EXPECT(hb_mpi_set_timeout(ctx, -1.0) == HB_EINVAL, "negative");
    EXPECT(hb_mpi_set_timeout(ctx, 0.0 / 0.0) == HB_EINVAL, "NaN");
    EXPECT(hb_mpi_set_timeout(ctx, 0.0) == HB_OK, "none");

    /* 1. the deadline path gives the same bits as one process */
    static hb_comm_result ref, got;
    hb_context *one = NULL;
    EXPECT(hb_context_create(&one) == HB_OK, "context");
    hb_comm_work(one, 5, &ref);
    hb_context_free(one);
    EXPECT(hb_mpi_set_timeout(ctx, 120.0) == HB_OK, "timeout");
    hb_comm_work(ctx, 5, &got);
    char why[400] = "";
    EXPECT(ref.rc == HB_OK && hb_comm_result_diff(&ref, &got, why, sizeof why) == 0,
           "deadline path, %d ranks: %s (%s)", size, why, got.msg);

    /* 2. bad input on the last rank only */
    int rc = dense_run(ctx, rank == last, msg, sizeof msg);
    EXPECT(rc == HB_EINVAL, "bad input on rank %d: got %s: %s", last, hb_status_name(rc), msg);
    char want[64];
    snprintf(want, sizeof want, "rank %d failed", last);
    if (rank != last) EXPECT(strstr(msg, want) != NULL, "message '%s' lacks '%s'", msg, want);
    /* and the hook still works: the next run on every rank succeeds — once the ranks' random
     * streams agree again: the failed rank stopped before drawing its run's stream, the
     * others did not (without the reseed the fingerprint says HB_ESTATE, as it should) */
    EXPECT(hb_context_set_i64(ctx, HB_CTX_SEED, 9) == HB_OK, "reseed");
    rc = dense_run(ctx, 0, msg, sizeof msg);
    EXPECT(rc == HB_OK, "a run after the agreed failure: %s", msg);

    /* 3. the last rank never arrives */
    EXPECT(hb_mpi_set_timeout(ctx, 1.0) == HB_OK, "timeout 1 s");
    double took = 0;
    if (rank != last) {
        double t0 = now();
        rc = dense_run(ctx, 0, msg, sizeof msg);
        took = now() - t0;
        EXPECT(rc == HB_ECALLBACK, "a missing rank: got %s: %s", hb_status_name(rc), msg);
        EXPECT(took < 20.0, "a missing rank: the run took %.1f s (deadline 1 s)", took);
        t0 = now();
        rc = dense_run(ctx, 0, msg, sizeof msg);
        EXPECT(rc == HB_ECALLBACK && now() - t0 < 5.0, "broken hook: %s after %.1f s: %s",
               hb_status_name(rc), now() - t0, msg);
    }
    hb_context_free(ctx); /* a broken hook leaks its duplicate (mpi.h) */

    int any = 0;
    MPI_Allreduce(&failures, &any, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("%d ranks: %s (a missing rank failed the run after %.2f s)\n", size,
               any ? "FAILED" : "failures agreed in bounded time", took);
    MPI_Finalize();
    return any ? 1 : 0;
}
