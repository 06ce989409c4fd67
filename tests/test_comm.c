/* The communicator hook (comm.h) without MPI: hb_context_set_comm's checks, and SLQ across
 * R "ranks" that are threads of this process, each with its own context and a fake
 * communicator (pthread barriers over shared buffers). Every rank must return exactly the
 * results of one process (tests/hb_comm_work.c); a failing rank or callback must make
 * every rank return an error, never wait. tests/mpi/ runs the same workload under mpirun. */
#include <pthread.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "hb_comm_work.h"
#include "hb_data_work.h"
#include "hb_test.h"

/* ---- hb_context_set_comm's checks ----------------------------------------------------- */
static int ok_reduce(void *u, hb_dtype t, void *b, size_t n) { (void)u; (void)t; (void)b; (void)n; return 0; }
static int ok_bcast(void *u, void *b, size_t n, int root) { (void)u; (void)b; (void)n; (void)root; return 0; }
static int ok_gather(void *u, const void *s, size_t n, void *r) { memcpy(r, s, n); (void)u; return 0; }
static int ok_barrier(void *u) { (void)u; return 0; }
static void count_release(void *u) { (*(int *)u)++; }

START_TEST(test_set_comm_checks) {
    hb_context *ctx = hb_test_context(1, 0);
    int released = 0;
    hb_comm c = HB_COMM_INIT;
    c.user = &released;
    c.allreduce_sum = ok_reduce;
    c.bcast = ok_bcast;
    c.allgather = ok_gather;
    c.barrier = ok_barrier;
    c.release = count_release;
    ck_assert_int_eq(hb_context_set_comm(NULL, &c), HB_EINVAL);
    ck_assert_int_eq(hb_context_set_comm(ctx, NULL), HB_OK); /* none: fine */
    hb_comm bad = c;
    bad.struct_size = HB_COMM_SIZE_MIN - 1;
    ck_assert_int_eq(hb_context_set_comm(ctx, &bad), HB_EINVAL);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "struct_size"));
    bad.struct_size = 5000;
    ck_assert_int_eq(hb_context_set_comm(ctx, &bad), HB_EINVAL);
    bad = c;
    bad.size = 0;
    ck_assert_int_eq(hb_context_set_comm(ctx, &bad), HB_EINVAL);
    bad = c;
    bad.rank = 1; /* of size 1 */
    ck_assert_int_eq(hb_context_set_comm(ctx, &bad), HB_EINVAL);
    bad.rank = -1;
    ck_assert_int_eq(hb_context_set_comm(ctx, &bad), HB_EINVAL);
    for (int f = 0; f < 4; f++) {
        bad = c;
        if (f == 0) bad.allreduce_sum = NULL;
        if (f == 1) bad.bcast = NULL;
        if (f == 2) bad.allgather = NULL;
        if (f == 3) bad.barrier = NULL;
        ck_assert_int_eq(hb_context_set_comm(ctx, &bad), HB_EINVAL);
        ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "must all be set"));
    }
    ck_assert_int_eq(released, 0);
    /* a struct from a newer header: accepted when its extra bytes are zero */
    struct { hb_comm c; char extra[16]; } big;
    memset(&big, 0, sizeof big);
    big.c = c;
    big.c.struct_size = sizeof big;
    ck_assert_int_eq(hb_context_set_comm(ctx, &big.c), HB_OK);
    big.extra[3] = 1;
    ck_assert_int_eq(hb_context_set_comm(ctx, &big.c), HB_EUNSUPPORTED);
    ck_assert_int_eq(released, 0); /* refused: the hook in place is kept */
    /* an older, shorter struct (no release): accepted, release taken as NULL */
    hb_comm old = c;
    old.struct_size = HB_COMM_SIZE_MIN;
    ck_assert_int_eq(hb_context_set_comm(ctx, &old), HB_OK);
    ck_assert_int_eq(released, 1); /* the previous hook (big.c) was released */
    ck_assert_int_eq(hb_context_set_comm(ctx, &c), HB_OK);
    ck_assert_int_eq(released, 1); /* old had no release */
    ck_assert_int_eq(hb_context_set_comm(ctx, NULL), HB_OK);
    ck_assert_int_eq(released, 2);
    ck_assert_int_eq(hb_context_set_comm(ctx, &c), HB_OK);
    hb_context_free(ctx); /* releases too */
    ck_assert_int_eq(released, 3);
}
END_TEST

/* ---- Fake ranks: threads sharing a barrier ----------------------------------------------- */
enum { MAX_RANKS = 4 };
/* Threads per rank context: 1 or 2 (a rank's share runs on its own threads), 1 under
 * ThreadSanitizer, which does not see libgomp's synchronisation (docs/reliability.md). */
#ifdef __SANITIZE_THREAD__
#define RANK_THREADS(r) 1
#else
#define RANK_THREADS(r) (1 + (r) % 2)
#endif

typedef struct fake_group {
    int size;
    pthread_barrier_t bar;
    const void *send[MAX_RANKS];
    void *buf[MAX_RANKS];
    int fail_gather_on;       /* allgather call number (1-based) that returns -1; 0 = none */
    int fail_reduce_on;       /* allreduce_sum call number (1-based) that returns -1; 0 = none */
} fake_group;

typedef struct fake_rank {
    fake_group *g;
    int rank;
    int gathers;              /* allgathers made */
    int reduces;              /* allreduce_sums made */
} fake_rank;

static int fake_allgather(void *user, const void *send, size_t bytes, void *recv) {
    fake_rank *me = user;
    fake_group *g = me->g;
    g->send[me->rank] = send;
    pthread_barrier_wait(&g->bar);
    for (int r = 0; r < g->size; r++) memcpy((char *)recv + (size_t)r * bytes, g->send[r], bytes);
    pthread_barrier_wait(&g->bar); /* nobody frees its send buffer before all have read it */
    return ++me->gathers == g->fail_gather_on ? -1 : 0;
}

static int fake_allreduce(void *user, hb_dtype dtype, void *buf, size_t count) {
    fake_rank *me = user;
    fake_group *g = me->g;
    g->buf[me->rank] = buf;
    pthread_barrier_wait(&g->bar);
    double *sum = calloc(count ? count : 1, sizeof *sum);
    for (size_t i = 0; sum && i < count; i++)
        for (int r = 0; r < g->size; r++)
            sum[i] += dtype == HB_F32 ? ((float *)g->buf[r])[i] : ((double *)g->buf[r])[i];
    pthread_barrier_wait(&g->bar);
    for (size_t i = 0; sum && i < count; i++) {
        if (dtype == HB_F32) ((float *)buf)[i] = (float)sum[i];
        else ((double *)buf)[i] = sum[i];
    }
    free(sum);
    pthread_barrier_wait(&g->bar);
    if (++me->reduces == g->fail_reduce_on) return -1;
    return sum ? 0 : -1;
}

static int fake_bcast(void *user, void *buf, size_t bytes, int root) {
    fake_rank *me = user;
    fake_group *g = me->g;
    g->buf[me->rank] = buf;
    pthread_barrier_wait(&g->bar);
    if (me->rank != root) memcpy(buf, g->buf[root], bytes);
    pthread_barrier_wait(&g->bar);
    return 0;
}

static int fake_barrier(void *user) {
    fake_rank *me = user;
    pthread_barrier_wait(&me->g->bar);
    return 0;
}

typedef struct rank_job {
    fake_rank fr;
    int threads;
    int64_t seed;
    int cancel;                /* this rank's progress callback cancels its first report */
    hb_comm_result res;
} rank_job;

static int cancel_now(void *user, const char *task, int64_t done, int64_t total) {
    (void)user; (void)task; (void)done; (void)total;
    return 1;
}

static void *rank_main(void *arg) {
    rank_job *j = arg;
    hb_context *ctx = NULL;
    if (hb_context_create(&ctx) != HB_OK) {
        j->res.rc = HB_ENOMEM;
        return NULL;
    }
    hb_comm c = HB_COMM_INIT;
    c.user = &j->fr;
    c.rank = j->fr.rank;
    c.size = j->fr.g->size;
    c.allreduce_sum = fake_allreduce;
    c.bcast = fake_bcast;
    c.allgather = fake_allgather;
    c.barrier = fake_barrier;
    int rc = hb_context_set_i64(ctx, HB_CTX_THREADS, j->threads);
    if (rc == HB_OK) rc = hb_context_set_comm(ctx, &c);
    if (rc == HB_OK && j->cancel) rc = hb_context_set_progress(ctx, cancel_now, NULL);
    if (rc == HB_OK) hb_comm_work(ctx, j->seed, &j->res);
    else j->res.rc = rc;
    hb_context_free(ctx);
    return NULL;
}

/* Runs the workload on `size` fake ranks; jobs[r] gets rank r's results. */
static void run_ranks(int size, int fail_gather_on, int64_t seed_rank1, int cancel_rank,
                      rank_job *jobs) {
    fake_group g = {.size = size, .fail_gather_on = fail_gather_on};
    ck_assert_int_eq(pthread_barrier_init(&g.bar, NULL, (unsigned)size), 0);
    pthread_t th[MAX_RANKS];
    for (int r = 0; r < size; r++) {
        memset(&jobs[r].fr, 0, sizeof jobs[r].fr);
        jobs[r].fr.g = &g;
        jobs[r].fr.rank = r;
        jobs[r].threads = RANK_THREADS(r);
        jobs[r].seed = r == 1 ? seed_rank1 : 5;
        jobs[r].cancel = r == cancel_rank;
        ck_assert_int_eq(pthread_create(&th[r], NULL, rank_main, &jobs[r]), 0);
    }
    for (int r = 0; r < size; r++) pthread_join(th[r], NULL);
    pthread_barrier_destroy(&g.bar);
}

/* Every rank of 2, 3 and 4 returns the one-process spectra, JS matrix and statistics. */
START_TEST(test_fake_ranks_match_one_process) {
    static hb_comm_result ref;
    static rank_job jobs[MAX_RANKS];
    hb_context *ctx = hb_test_context(1, 0);
    hb_comm_work(ctx, 5, &ref);
    hb_context_free(ctx);
    ck_assert_msg(ref.rc == HB_OK, "%s: %s", ref.where, ref.msg);
    ck_assert_uint_gt(ref.entries, 3);
    for (int size = 2; size <= MAX_RANKS; size++) {
        run_ranks(size, 0, 5, -1, jobs);
        int64_t calls = 0;
        for (int r = 0; r < size; r++) {
            /* the work was divided: each rank made only its share of the operator calls */
            ck_assert_int_lt(jobs[r].res.own_calls, ref.own_calls);
            ck_assert_int_gt(jobs[r].res.own_calls, 0);
            calls += jobs[r].res.own_calls;
            char why[400] = "";
            ck_assert_msg(hb_comm_result_diff(&ref, &jobs[r].res, why, sizeof why) == 0,
                          "%d ranks, rank %d: %s", size, r, why);
            /* across ranks the per-entry callback runs in entry order */
            for (size_t i = 0; i < jobs[r].res.done_calls; i++)
                ck_assert_uint_eq(jobs[r].res.done_order[i], i);
        }
        ck_assert_int_eq(calls, ref.own_calls);
    }
}
END_TEST

/* A communicator callback that fails gives HB_ECALLBACK with a message, on every rank it
 * failed on; a rank that fails (here: its progress callback cancels) or runs another run
 * (another seed) makes every rank return an error — nobody waits for it. */
START_TEST(test_fake_ranks_failures) {
    static rank_job jobs[MAX_RANKS];
    run_ranks(2, 1, 5, -1, jobs); /* the first allgather fails on both */
    for (int r = 0; r < 2; r++) {
        ck_assert_int_eq(jobs[r].res.rc, HB_ECALLBACK);
        ck_assert_ptr_nonnull(strstr(jobs[r].res.msg, "allgather"));
    }
    run_ranks(2, 2, 5, -1, jobs); /* the payload allgather fails */
    for (int r = 0; r < 2; r++) ck_assert_int_eq(jobs[r].res.rc, HB_ECALLBACK);
    run_ranks(3, 0, 5, 1, jobs); /* rank 1 cancels */
    ck_assert_int_eq(jobs[1].res.rc, HB_ECANCELED);
    for (int r = 0; r < 3; r += 2) {
        ck_assert_int_eq(jobs[r].res.rc, HB_ECANCELED);
        ck_assert_msg(strstr(jobs[r].res.msg, "rank 1 failed") != NULL, "%s", jobs[r].res.msg);
    }
    run_ranks(2, 0, 6, -1, jobs); /* rank 1 has another seed */
    for (int r = 0; r < 2; r++) {
        ck_assert_int_eq(jobs[r].res.rc, HB_ESTATE);
        ck_assert_msg(strstr(jobs[r].res.msg, "same call") != NULL, "%s", jobs[r].res.msg);
    }
}
END_TEST

/* ---- Allocation failures on one rank ----------------------------------------------------
 * Rank 1's k-th allocation inside hb_slq_run fails, for every k: it returns HB_ENOMEM with
 * nothing left allocated; rank 0 returns HB_ENOMEM naming rank 1 when the failure came
 * before the status round, else HB_OK with the one-process spectrum — nobody waits. */
typedef struct oom_job {
    fake_rank fr;
    long k;                  /* rank 1: fail the k-th allocation of the run (0: none) */
    hb_test_alloc st;
    int rc;
    char msg[256];
    double nodes[64];
    size_t count;
    long live_after;
} oom_job;

static void *oom_main(void *arg) {
    oom_job *j = arg;
    enum { N = 24 };
    double A[N * N];
    for (size_t i = 0; i < N; i++)
        for (size_t q = 0; q < N; q++) A[i * N + q] = i == q ? (double)i : 0.01 * (double)(i + q);
    int rc;
    hb_context *ctx = hb_test_context_with(&j->st, &rc);
    hb_comm c = HB_COMM_INIT;
    c.user = &j->fr;
    c.rank = j->fr.rank;
    c.size = j->fr.g->size;
    c.allreduce_sum = fake_allreduce;
    c.bcast = fake_bcast;
    c.allgather = fake_allgather;
    c.barrier = fake_barrier;
    hb_linop *op = NULL;
    hb_slq *s = NULL;
    hb_spectrum *sp = NULL;
    if (rc == HB_OK) rc = hb_context_set_comm(ctx, &c);
    if (rc == HB_OK) rc = hb_linop_create_dense(ctx, A, N, 1, &op);
    if (rc == HB_OK) rc = hb_slq_create(ctx, &s);
    if (rc == HB_OK) rc = hb_slq_set_i64(s, HB_SLQ_PROBES, 5);
    if (rc == HB_OK) rc = hb_slq_set_i64(s, HB_SLQ_STEPS, 6);
    if (rc == HB_OK) rc = hb_slq_set_i64(s, HB_SLQ_GROUP, 1);
    if (rc == HB_OK) {
        j->st.fail_at = j->k > 0 ? j->st.calls + j->k : 0;
        rc = hb_slq_run(s, op, &sp);
        j->st.fail_at = 0;
        snprintf(j->msg, sizeof j->msg, "%s", hb_context_last_error(ctx));
    }
    j->rc = rc;
    j->count = 0;
    for (size_t p = 0; sp && p < hb_spectrum_num_probes(sp); p++) {
        const double *nd, *wt;
        size_t cnt;
        int br;
        if (hb_spectrum_probe(sp, p, &nd, &wt, &cnt, &br) != HB_OK || j->count + cnt > 64) break;
        memcpy(j->nodes + j->count, nd, cnt * sizeof *nd);
        j->count += cnt;
    }
    hb_spectrum_free(sp);
    hb_slq_free(s);
    hb_linop_free(op);
    hb_context_free(ctx);
    j->live_after = j->st.live;
    return NULL;
}

START_TEST(test_fake_ranks_allocation_failures) {
    static oom_job jobs[2], ref;
    long k = 0;
    for (;; k++) {
        fake_group g = {.size = 2};
        ck_assert_int_eq(pthread_barrier_init(&g.bar, NULL, 2), 0);
        pthread_t th[2];
        for (int r = 0; r < 2; r++) {
            memset(&jobs[r], 0, sizeof jobs[r]);
            jobs[r].fr.g = &g;
            jobs[r].fr.rank = r;
            jobs[r].k = r == 1 ? k : 0;
            ck_assert_int_eq(pthread_create(&th[r], NULL, oom_main, &jobs[r]), 0);
        }
        for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);
        pthread_barrier_destroy(&g.bar);
        for (int r = 0; r < 2; r++)
            ck_assert_msg(jobs[r].live_after == 0, "k=%ld rank %d: %ld blocks leaked", k, r,
                          jobs[r].live_after);
        if (k == 0) { /* the clean run */
            ck_assert_msg(jobs[0].rc == HB_OK && jobs[1].rc == HB_OK, "%s / %s", jobs[0].msg,
                          jobs[1].msg);
            ck_assert_uint_gt(jobs[0].count, 0);
            ck_assert_uint_eq(jobs[1].count, jobs[0].count);
            ck_assert_mem_eq(jobs[1].nodes, jobs[0].nodes, jobs[0].count * sizeof(double));
            ref = jobs[0];
            continue;
        }
        if (jobs[1].rc == HB_OK) break; /* k is past the run's allocations */
        ck_assert_msg(jobs[1].rc == HB_ENOMEM, "k=%ld: rank 1 returned %s: %s", k,
                      hb_status_name(jobs[1].rc), jobs[1].msg);
        ck_assert(jobs[1].msg[0] != '\0');
        if (jobs[0].rc == HB_OK) { /* rank 1 failed after the exchange */
            ck_assert_uint_eq(jobs[0].count, ref.count);
            ck_assert_mem_eq(jobs[0].nodes, ref.nodes, ref.count * sizeof(double));
        } else {
            ck_assert_int_eq(jobs[0].rc, HB_ENOMEM);
            ck_assert_msg(strstr(jobs[0].msg, "rank 1 failed") != NULL, "k=%ld: %s", k,
                          jobs[0].msg);
        }
    }
    ck_assert_int_gt(k, 5); /* the run did allocate on rank 1 */
}
END_TEST

/* ---- Data across ranks (hb_model_set_data_parallel) ---------------------------------------
 * Each fake rank holds its contiguous share of the workload's 5 micro-batches (uneven for 3
 * and 4 ranks) on a data-parallel model: loss, gradient, accuracy, HVP, hvp_multi, a block
 * HVP, an SLQ run and a 20-step AdamW trajectory must equal one process's over all 5. */
typedef struct data_job {
    fake_rank fr;
    int threads;
    char ckpt[64];           /* the rank's checkpoint path ("" = none) */
    hb_data_result res;
} data_job;

static hb_comm fake_comm(fake_rank *fr) {
    hb_comm c = HB_COMM_INIT;
    c.user = fr;
    c.rank = fr->rank;
    c.size = fr->g->size;
    c.allreduce_sum = fake_allreduce;
    c.bcast = fake_bcast;
    c.allgather = fake_allgather;
    c.barrier = fake_barrier;
    return c;
}

static void *data_main(void *arg) {
    data_job *j = arg;
    hb_context *ctx = NULL;
    if (hb_context_create(&ctx) != HB_OK) {
        j->res.rc = HB_ENOMEM;
        return NULL;
    }
    hb_comm c = fake_comm(&j->fr);
    int rc = hb_context_set_i64(ctx, HB_CTX_THREADS, j->threads);
    if (rc == HB_OK) rc = hb_context_set_comm(ctx, &c);
    if (rc == HB_OK)
        hb_data_work(ctx, 1, j->fr.rank, j->fr.g->size, j->ckpt[0] ? j->ckpt : NULL, &j->res);
    else
        j->res.rc = rc;
    hb_context_free(ctx);
    return NULL;
}

static void run_data_ranks(int size, int fail_reduce_on, const char *ckpt_dir, data_job *jobs) {
    fake_group g = {.size = size, .fail_reduce_on = fail_reduce_on};
    ck_assert_int_eq(pthread_barrier_init(&g.bar, NULL, (unsigned)size), 0);
    pthread_t th[MAX_RANKS];
    for (int r = 0; r < size; r++) {
        memset(&jobs[r], 0, sizeof jobs[r]);
        jobs[r].fr.g = &g;
        jobs[r].fr.rank = r;
        jobs[r].threads = RANK_THREADS(r);
        if (ckpt_dir) snprintf(jobs[r].ckpt, sizeof jobs[r].ckpt, "%s/rank%d.ckpt", ckpt_dir, r);
        ck_assert_int_eq(pthread_create(&th[r], NULL, data_main, &jobs[r]), 0);
    }
    for (int r = 0; r < size; r++) pthread_join(th[r], NULL);
    pthread_barrier_destroy(&g.bar);
}

/* Tolerances (f64): the gradient, products and trajectory differ from one process only in
 * the order of the sums (Σ n_b·x_b / N over the ranks' partial sums instead of
 * Σ (n_b/N)·x_b): a few ulps, 1e-12 is the bound. SLQ nodes and weights go
 * through 6 Lanczos steps with reorthogonalisation on top of those products: 1e-10. */
#define DATA_REL 1e-12
#define DATA_REL_SLQ 1e-10

START_TEST(test_data_ranks_match_one_process) {
    static hb_data_result ref, same;
    static data_job jobs[MAX_RANKS];
    hb_context *ctx = hb_test_context(1, 0);
    hb_data_work(ctx, 0, 0, 1, NULL, &ref);
    ck_assert_msg(ref.rc == HB_OK, "%s: %s", ref.where, ref.msg);
    /* data-parallel without a communicator: today's code path, bit for bit */
    hb_data_work(ctx, 1, 0, 1, NULL, &same);
    char why[400] = "";
    ck_assert_msg(hb_data_result_diff(&ref, &same, 0.0, 0.0, why, sizeof why) == 0, "%s", why);
    hb_context_free(ctx);
    char dir[] = "/tmp/hb_comm_data_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    for (int size = 2; size <= MAX_RANKS; size++) {
        run_data_ranks(size, 0, dir, jobs);
        for (int r = 0; r < size; r++) {
            ck_assert_msg(hb_data_result_diff(&ref, &jobs[r].res, DATA_REL, DATA_REL_SLQ, why,
                                              sizeof why) == 0,
                          "%d ranks, rank %d: %s", size, r, why);
            /* every rank holds the same bits: the steps stayed in sync */
            ck_assert_mem_eq(jobs[r].res.theta, jobs[0].res.theta, ref.n * sizeof(double));
            ck_assert_mem_eq(jobs[r].res.grad, jobs[0].res.grad, ref.n * sizeof(double));
            /* the checkpoints: written by rank 0 only */
            ck_assert_int_eq(access(jobs[r].ckpt, F_OK) == 0, r == 0);
            if (r == 0) ck_assert_int_eq(unlink(jobs[r].ckpt), 0);
        }
    }
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* A failing allreduce_sum is HB_ECALLBACK with a message on the rank it failed on (the
 * fake fails call 1 — the gradient's — on every rank, so nobody waits); a rank whose θ
 * holds a NaN makes every rank's loss non-finite: HB_ENONFINITE everywhere. */
static void *nan_main(void *arg) {
    data_job *j = arg;
    hb_context *ctx = hb_test_context(1, 3);
    hb_comm c = fake_comm(&j->fr);
    hb_model_config *cfg = NULL;
    hb_model *m = NULL;
    int rc = hb_context_set_comm(ctx, &c);
    if (rc == HB_OK) rc = hb_model_config_create(ctx, HB_MODEL_MLP, &cfg);
    if (rc == HB_OK) rc = hb_model_config_set_i64(cfg, HB_MK_WIDTH, 4);
    if (rc == HB_OK) rc = hb_model_create(ctx, cfg, &m);
    if (rc == HB_OK) rc = hb_model_set_data_parallel(m, 1);
    if (rc == HB_OK && j->fr.rank == 1) { /* the head's last bias: no ReLU hides it */
        hb_params *p = hb_model_params(m);
        ((double *)hb_params_data(p))[hb_params_count(p) - 1] = NAN;
    }
    double loss = 0;
    if (rc == HB_OK) rc = hb_model_loss_grad(m, &loss);
    j->res.rc = rc;
    snprintf(j->res.msg, sizeof j->res.msg, "%s", hb_context_last_error(ctx));
    hb_model_free(m);
    hb_model_config_free(cfg);
    hb_context_free(ctx);
    return NULL;
}

/* A trainer whose rank 0 cannot write the checkpoint (a directory that does not exist):
 * every rank fails with HB_EIO after the first checkpoint step, nobody waits; and one
 * whose steps have fewer synthetic batches than ranks refuses on every rank. */
static void *trainer_main(void *arg) {
    data_job *j = arg;
    hb_context *ctx = hb_test_context(1, 3);
    hb_comm c = fake_comm(&j->fr);
    hb_model_config *cfg = NULL;
    hb_model *m = NULL;
    hb_trainer *tr = NULL;
    int rc = hb_context_set_comm(ctx, &c);
    if (rc == HB_OK) rc = hb_model_config_create(ctx, HB_MODEL_MLP, &cfg);
    if (rc == HB_OK) rc = hb_model_config_set_i64(cfg, HB_MK_WIDTH, 4);
    if (rc == HB_OK) rc = hb_model_create(ctx, cfg, &m);
    if (rc == HB_OK) rc = hb_model_set_data_parallel(m, 1);
    if (rc == HB_OK) rc = hb_trainer_create(m, NULL, &tr);
    if (rc == HB_OK) rc = hb_trainer_set_i64(tr, HB_TR_TRAIN_BATCHES, j->threads);
    if (rc == HB_OK && j->ckpt[0]) rc = hb_trainer_set_checkpoint(tr, j->ckpt, 2);
    if (rc == HB_OK) rc = hb_trainer_run(tr, 3);
    j->res.rc = rc;
    j->res.n = (size_t)hb_trainer_step(tr);
    snprintf(j->res.msg, sizeof j->res.msg, "%s", hb_context_last_error(ctx));
    hb_trainer_free(tr);
    hb_model_free(m);
    hb_model_config_free(cfg);
    hb_context_free(ctx);
    return NULL;
}

/* Runs fn on `size` fake ranks (jobs[r] prepared by the caller except fr). */
static void run_fn_ranks(int size, void *(*fn)(void *), data_job *jobs) {
    fake_group g = {.size = size};
    ck_assert_int_eq(pthread_barrier_init(&g.bar, NULL, (unsigned)size), 0);
    pthread_t th[MAX_RANKS];
    for (int r = 0; r < size; r++) {
        jobs[r].fr = (fake_rank){.g = &g, .rank = r};
        ck_assert_int_eq(pthread_create(&th[r], NULL, fn, &jobs[r]), 0);
    }
    for (int r = 0; r < size; r++) pthread_join(th[r], NULL);
    pthread_barrier_destroy(&g.bar);
}

START_TEST(test_data_ranks_failures) {
    static data_job jobs[MAX_RANKS];
    run_data_ranks(3, 1, NULL, jobs);
    for (int r = 0; r < 3; r++) {
        ck_assert_int_eq(jobs[r].res.rc, HB_ECALLBACK);
        ck_assert_msg(strstr(jobs[r].res.msg, "allreduce_sum") != NULL, "%s", jobs[r].res.msg);
        ck_assert_msg(strstr(jobs[r].res.where, "loss_grad") != NULL, "%s", jobs[r].res.where);
    }
    memset(jobs, 0, sizeof jobs);
    run_fn_ranks(2, nan_main, jobs);
    for (int r = 0; r < 2; r++)
        ck_assert_msg(jobs[r].res.rc == HB_ENONFINITE, "rank %d: %s (%s)", r,
                      hb_status_name(jobs[r].res.rc), jobs[r].res.msg);
    /* rank 0 cannot write the checkpoint of step 2: every rank fails there, 2 steps done */
    memset(jobs, 0, sizeof jobs);
    for (int r = 0; r < 3; r++) {
        jobs[r].threads = 3; /* train batches per step: one per rank */
        snprintf(jobs[r].ckpt, sizeof jobs[r].ckpt, "/nonexistent-hb-dir/run.ckpt");
    }
    run_fn_ranks(3, trainer_main, jobs);
    for (int r = 0; r < 3; r++) {
        ck_assert_msg(jobs[r].res.rc == HB_EIO, "rank %d: %s (%s)", r,
                      hb_status_name(jobs[r].res.rc), jobs[r].res.msg);
        ck_assert_uint_eq(jobs[r].res.n, 2);
        if (r > 0)
            ck_assert_msg(strstr(jobs[r].res.msg, "rank 0 could not write") != NULL, "%s",
                          jobs[r].res.msg);
    }
    /* 2 synthetic batches per step over 3 ranks: refused on every rank, no step taken */
    memset(jobs, 0, sizeof jobs);
    for (int r = 0; r < 3; r++) jobs[r].threads = 2;
    run_fn_ranks(3, trainer_main, jobs);
    for (int r = 0; r < 3; r++) {
        ck_assert_int_eq(jobs[r].res.rc, HB_EINVAL);
        ck_assert_msg(strstr(jobs[r].res.msg, "at least 3") != NULL, "%s", jobs[r].res.msg);
        ck_assert_uint_eq(jobs[r].res.n, 0);
    }
}
END_TEST

/* An f32 model: the sums go through f64 and back; the gradient equals one process's to
 * f32 rounding (the partial sums round to f32 at other points: a few f32 ulps). */
static void *f32_main(void *arg) {
    data_job *j = arg;
    hb_context *ctx = hb_test_context(1, 3);
    hb_comm c = fake_comm(&j->fr);
    hb_model_config *cfg = NULL;
    hb_model *m = NULL;
    int R = j->fr.g ? j->fr.g->size : 1, me = j->fr.rank;
    int rc = R > 1 ? hb_context_set_comm(ctx, &c) : HB_OK;
    if (rc == HB_OK) rc = hb_model_config_create(ctx, HB_MODEL_MLP, &cfg);
    if (rc == HB_OK) rc = hb_model_config_set_i64(cfg, HB_MK_DTYPE, HB_F32);
    if (rc == HB_OK) rc = hb_model_config_set_i64(cfg, HB_MK_WIDTH, 8);
    if (rc == HB_OK) rc = hb_model_create(ctx, cfg, &m);
    if (rc == HB_OK) rc = hb_model_set_data_parallel(m, 1);
    size_t lo = (size_t)(4 * me / R), hi = (size_t)(4 * (me + 1) / R);
    if (rc == HB_OK) rc = hb_model_set_synthetic(m, hi - lo, 0, lo * 16);
    if (rc == HB_OK) rc = hb_model_loss_grad(m, &j->res.loss);
    hb_params *p = m ? hb_model_params(m) : NULL;
    if (rc == HB_OK) {
        j->res.n = hb_params_count(p) < HB_DW_MAX_N ? hb_params_count(p) : HB_DW_MAX_N;
        for (size_t i = 0; i < j->res.n; i++) j->res.grad[i] = ((const float *)hb_params_grad(p))[i];
    }
    j->res.rc = rc;
    snprintf(j->res.msg, sizeof j->res.msg, "%s", hb_context_last_error(ctx));
    hb_model_free(m);
    hb_model_config_free(cfg);
    hb_context_free(ctx);
    return NULL;
}

START_TEST(test_data_ranks_f32) {
    static data_job ref, jobs[MAX_RANKS];
    fake_group one = {.size = 1};
    ref.fr.g = &one;
    f32_main(&ref); /* one process, all 4 batches */
    ck_assert_msg(ref.res.rc == HB_OK, "%s", ref.res.msg);
    memset(jobs, 0, sizeof jobs);
    run_fn_ranks(3, f32_main, jobs);
    for (int r = 0; r < 3; r++) {
        ck_assert_msg(jobs[r].res.rc == HB_OK, "rank %d: %s", r, jobs[r].res.msg);
        double scale = 0, d = 0;
        for (size_t i = 0; i < ref.res.n; i++) {
            scale = fmax(scale, fabs(ref.res.grad[i]));
            d = fmax(d, fabs(jobs[r].res.grad[i] - ref.res.grad[i]));
        }
        ck_assert_msg(d <= 1e-5 * scale, "rank %d: gradient %.3g relative", r, d / scale);
        ck_assert_mem_eq(jobs[r].res.grad, jobs[0].res.grad, ref.res.n * sizeof(double));
        HB_ASSERT_CLOSE(jobs[r].res.loss, ref.res.loss, 1e-6);
    }
}
END_TEST

/* hb_model_set_data_parallel's checks; a trainer that cannot share a step's synthetic
 * batches out (fewer batches than ranks) refuses on every rank. */
START_TEST(test_data_parallel_checks) {
    hb_context *ctx = hb_test_context(1, 0);
    hb_model_config *cfg = NULL;
    hb_model *m = NULL, *q = NULL;
    ck_assert_int_eq(hb_model_set_data_parallel(NULL, 1), HB_EINVAL);
    ck_assert_int_eq(hb_model_config_create(ctx, HB_MODEL_MLP, &cfg), HB_OK);
    ck_assert_int_eq(hb_model_create(ctx, cfg, &m), HB_OK);
    ck_assert_int_eq(hb_model_set_data_parallel(m, 2), HB_EINVAL);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "0 or 1"));
    ck_assert_int_eq(hb_model_set_data_parallel(m, -1), HB_EINVAL);
    ck_assert_int_eq(hb_model_set_data_parallel(m, 1), HB_OK);
    ck_assert_int_eq(hb_model_set_data_parallel(m, 0), HB_OK);
    hb_model_config_free(cfg);
    ck_assert_int_eq(hb_model_config_create(ctx, HB_MODEL_QUADRATIC, &cfg), HB_OK);
    ck_assert_int_eq(hb_model_create(ctx, cfg, &q), HB_OK);
    ck_assert_int_eq(hb_model_set_data_parallel(q, 1), HB_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "nothing to shard"));
    ck_assert_int_eq(hb_model_set_data_parallel(q, 0), HB_OK); /* off is always fine */
    hb_model_free(q);
    hb_model_free(m);
    hb_model_config_free(cfg);
    hb_context_free(ctx);
}
END_TEST

Suite *hb_suite_comm(void) {
    Suite *s = suite_create("comm");
    TCase *tc = tcase_create("comm");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_set_comm_checks);
    tcase_add_test(tc, test_fake_ranks_match_one_process);
    tcase_add_test(tc, test_fake_ranks_failures);
    tcase_add_test(tc, test_fake_ranks_allocation_failures);
    tcase_add_test(tc, test_data_ranks_match_one_process);
    tcase_add_test(tc, test_data_ranks_failures);
    tcase_add_test(tc, test_data_ranks_f32);
    tcase_add_test(tc, test_data_parallel_checks);
    suite_add_tcase(s, tc);
    return s;
}
