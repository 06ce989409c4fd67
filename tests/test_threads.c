/* The documented thread model (core.h): "one context per thread; distinct contexts are
 * independent". JOBS pthreads each run a whole workload on their own context — model,
 * loss/gradient, HVP, SLQ, optimizer steps, checkpoint to their own file and back — at
 * the same time, and every result must equal, bit for bit, the same job run serially.
 * This suite is what ThreadSanitizer runs in CI (build-tsan, --setup=tsan): contexts use
 * 1 thread there, because libgomp is not instrumented (docs/reliability.md). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/tasks.h"
#include "hb_test.h"
#include "model/model_internal.h"
#include "slq/slq_internal.h"

enum { JOBS = 4, MAX_N = 512, PROBES = 2, STEPS = 8, OPT_STEPS = 3 };

typedef struct job {
    int index;          /* in: seeds the context and names the checkpoint file */
    const char *dir;    /* in: directory for the checkpoint */
    int rc;             /* out: first failing status (HB_OK if none) */
    char where[64];     /* out: the call that failed */
    char msg[256];      /* out: its context message */
    size_t n;
    double loss;
    double grad[MAX_N], hvp[MAX_N], theta[MAX_N];
    double nodes[PROBES * STEPS];
    size_t n_nodes;
    double trace;
} job;

#define JOB_TRY(call)                                                                  \
    do {                                                                               \
        int rc_ = (call);                                                              \
        if (rc_ != HB_OK) {                                                            \
            j->rc = rc_;                                                               \
            snprintf(j->where, sizeof j->where, "%.63s", #call);                       \
            snprintf(j->msg, sizeof j->msg, "%s", ctx ? hb_context_last_error(ctx) : "");\
            goto done;                                                                 \
        }                                                                              \
    } while (0)

/* A small MLP: its products go through BLIS (gemm), its SLQ through LAPACKE (dstev). */
static int make_model(hb_context *ctx, hb_model **out) {
    hb_model_config *cfg = NULL;
    int rc = hb_model_config_create(ctx, HB_MODEL_MLP, &cfg);
    if (rc == HB_OK) rc = hb_model_config_set_i64(cfg, HB_MK_BATCH, 8);
    if (rc == HB_OK) rc = hb_model_config_set_i64(cfg, HB_MK_INPUTS, 8);
    if (rc == HB_OK) rc = hb_model_config_set_i64(cfg, HB_MK_WIDTH, 16);
    if (rc == HB_OK) rc = hb_model_config_set_i64(cfg, HB_MK_LAYERS, 1);
    if (rc == HB_OK) rc = hb_model_config_set_i64(cfg, HB_MK_CLASSES, 4);
    if (rc == HB_OK) rc = hb_model_create(ctx, cfg, out);
    hb_model_config_free(cfg);
    return rc;
}

static void run_job(job *j) {
    hb_context *ctx = NULL;
    hb_model *m = NULL, *m2 = NULL;
    hb_tensor *v = NULL, *hv = NULL;
    hb_slq *slq = NULL;
    hb_spectrum *sp = NULL;
    hb_optimizer *opt = NULL;
    double vbuf[MAX_N];
    char path[512];
    snprintf(path, sizeof path, "%s/job%d.ckpt", j->dir, j->index);
    j->rc = HB_OK;

    JOB_TRY(hb_context_create(&ctx));
    JOB_TRY(hb_context_set_i64(ctx, HB_CTX_THREADS, 1));
    JOB_TRY(hb_context_set_i64(ctx, HB_CTX_SEED, 1000 + j->index));
    JOB_TRY(make_model(ctx, &m));
    hb_params *p = hb_model_params(m);
    j->n = hb_params_count(p);
    JOB_TRY(j->n <= MAX_N ? HB_OK : HB_ERANGE);

    JOB_TRY(hb_model_loss_grad(m, &j->loss));
    memcpy(j->grad, hb_params_grad(p), j->n * sizeof(double));

    int64_t shape[1] = {(int64_t)j->n};
    JOB_TRY(hb_random_fill_f64(ctx, 7, 0, HB_DIST_NORMAL, 0, 1, vbuf, j->n));
    JOB_TRY(hb_tensor_wrap(ctx, HB_F64, 1, shape, vbuf, &v));
    JOB_TRY(hb_tensor_wrap(ctx, HB_F64, 1, shape, j->hvp, &hv));
    JOB_TRY(hb_model_hvp(m, v, hv));

    JOB_TRY(hb_slq_create(ctx, &slq));
    JOB_TRY(hb_slq_set_i64(slq, HB_SLQ_PROBES, PROBES));
    JOB_TRY(hb_slq_set_i64(slq, HB_SLQ_STEPS, STEPS));
    JOB_TRY(hb_slq_set_i64(slq, HB_SLQ_STREAM, 3));
    JOB_TRY(hb_slq_run_model(slq, m, &sp));
    j->n_nodes = 0;
    for (size_t q = 0; q < PROBES; q++) {
        const double *nodes = NULL;
        size_t count = 0;
        JOB_TRY(hb_spectrum_probe(sp, q, &nodes, NULL, &count, NULL));
        for (size_t i = 0; i < count && j->n_nodes < PROBES * STEPS; i++)
            j->nodes[j->n_nodes++] = nodes[i];
    }
    JOB_TRY(hb_spectrum_trace(sp, &j->trace, NULL));

    JOB_TRY(hb_optimizer_create(ctx, HB_OPTIM_ADAMW, p, &opt));
    JOB_TRY(hb_optimizer_set_f64(opt, HB_OPT_LR, 1e-2));
    for (int s = 0; s < OPT_STEPS; s++) {
        JOB_TRY(hb_model_loss_grad(m, NULL));
        JOB_TRY(hb_optimizer_step(opt));
    }
    JOB_TRY(hb_checkpoint_save(path, p, opt));
    /* A second model of the same shape (different initial values) takes the file. */
    JOB_TRY(make_model(ctx, &m2));
    JOB_TRY(hb_checkpoint_load(path, hb_model_params(m2), NULL));
    memcpy(j->theta, hb_params_data(hb_model_params(m2)), j->n * sizeof(double));
    JOB_TRY(memcmp(j->theta, hb_params_data(p), j->n * sizeof(double)) == 0 ? HB_OK
                                                                            : HB_EFORMAT);
done:
    remove(path);
    hb_spectrum_free(sp);
    hb_slq_free(slq);
    hb_optimizer_free(opt);
    hb_tensor_free(v);
    hb_tensor_free(hv);
    hb_model_free(m2);
    hb_model_free(m);
    hb_context_free(ctx);
}

static void *job_thread(void *arg) {
    run_job(arg);
    return NULL;
}

static void assert_job_ok(const job *j) {
    ck_assert_msg(j->rc == HB_OK, "job %d: %s returned %d (%s): %s", j->index, j->where, j->rc,
                  hb_strerror(j->rc), j->msg);
}

/* Bitwise: each job's results depend only on its own seed, never on what other threads do. */
static void assert_same(const job *a, const job *b) {
    ck_assert_uint_eq(a->n, b->n);
    ck_assert_msg(memcmp(&a->loss, &b->loss, sizeof a->loss) == 0, "job %d: loss differs", a->index);
    ck_assert_msg(memcmp(a->grad, b->grad, a->n * sizeof(double)) == 0, "job %d: gradient differs",
                  a->index);
    ck_assert_msg(memcmp(a->hvp, b->hvp, a->n * sizeof(double)) == 0, "job %d: HVP differs",
                  a->index);
    ck_assert_uint_eq(a->n_nodes, b->n_nodes);
    ck_assert_msg(memcmp(a->nodes, b->nodes, a->n_nodes * sizeof(double)) == 0,
                  "job %d: SLQ nodes differ", a->index);
    ck_assert_msg(memcmp(&a->trace, &b->trace, sizeof a->trace) == 0, "job %d: trace differs",
                  a->index);
    ck_assert_msg(memcmp(a->theta, b->theta, a->n * sizeof(double)) == 0,
                  "job %d: trained parameters (after the checkpoint round trip) differ", a->index);
}

START_TEST(test_contexts_in_parallel_threads_match_serial) {
    char dir[] = "/tmp/hb_threads_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    static job serial[JOBS], parallel[JOBS];
    for (int i = 0; i < JOBS; i++) {
        serial[i] = (job){.index = i, .dir = dir};
        run_job(&serial[i]);
        assert_job_ok(&serial[i]);
    }
    /* Jobs with different seeds really differ (else the comparison below proves little). */
    ck_assert_msg(memcmp(serial[0].hvp, serial[1].hvp, serial[0].n * sizeof(double)) != 0,
                  "jobs 0 and 1 computed the same HVP");

    pthread_t tid[JOBS];
    for (int i = 0; i < JOBS; i++) {
        parallel[i] = (job){.index = i, .dir = dir};
        ck_assert_int_eq(pthread_create(&tid[i], NULL, job_thread, &parallel[i]), 0);
    }
    for (int i = 0; i < JOBS; i++) ck_assert_int_eq(pthread_join(tid[i], NULL), 0);
    for (int i = 0; i < JOBS; i++) {
        assert_job_ok(&parallel[i]);
        assert_same(&serial[i], &parallel[i]);
    }
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* ---- Task-parallel SLQ: results independent of the thread count ------------------------ */

/* A quadratic objective through callbacks: L = ½ θᵀDθ, D = diag(1..n). */
static int cbq_loss_grad(void *user, const void *theta, size_t n, double *loss, void *grad) {
    (void)user;
    const double *t = theta;
    double *g = grad, l = 0;
    for (size_t i = 0; i < n; i++) {
        g[i] = (double)(i + 1) * t[i];
        l += 0.5 * (double)(i + 1) * t[i] * t[i];
    }
    *loss = l;
    return 0;
}

static int make_callbacks(hb_context *ctx, int thread_safe, hb_model **out) {
    hb_params *p = NULL;
    int rc = hb_params_create(ctx, HB_F64, &p);
    if (rc == HB_OK) rc = hb_params_add_block(p, "a", 0, 1, (int64_t[]){20}, NULL);
    if (rc == HB_OK) rc = hb_params_add_block(p, "b", 0, 1, (int64_t[]){12}, NULL);
    if (rc == HB_OK) rc = hb_params_finalize(p);
    hb_model_callbacks c = HB_MODEL_CALLBACKS_INIT;
    c.loss_grad = cbq_loss_grad; /* finite-difference products: loss_grad from tasks */
    c.thread_safe = thread_safe;
    if (rc == HB_OK) rc = hb_model_create_callbacks_ex(ctx, p, &c, out);
    if (rc != HB_OK) hb_params_free(p);
    return rc;
}

static int make_quadratic(hb_context *ctx, hb_model **out) {
    static const size_t sizes[3] = {6, 9, 4};
    static const double e0[6] = {1, 2, 3, 4, 5, 6}, e1[9] = {-1, 0.5, 2, 2, 7, 8, 9, 10, 11},
                        e2[4] = {0.1, 0.2, 0.3, 40};
    const double *const ev[3] = {e0, e1, e2};
    return hb_model_create_quadratic(ctx, HB_F64, 3, sizes, ev, NULL, NULL, out);
}

typedef struct slq_result {
    double nodes[4096], weights[4096], js[64], traces[8];
    size_t count;
    double bnodes[4096]; /* hb_slq_run_model_blocks: blocks 2, 0, full, 1, 0 */
    size_t bcount;
} slq_result;

static void append_nodes(const hb_spectrum *sp, double *nodes, double *weights, size_t *count) {
    for (size_t p = 0; p < hb_spectrum_num_probes(sp); p++) {
        const double *nd, *wt;
        size_t c;
        int br;
        ck_assert_int_eq(hb_spectrum_probe(sp, p, &nd, &wt, &c, &br), HB_OK);
        ck_assert_uint_le(*count + c, 4096);
        memcpy(nodes + *count, nd, c * sizeof *nd);
        if (weights) memcpy(weights + *count, wt, c * sizeof *wt);
        *count += c;
    }
}

static hb_model *make_which(hb_context *ctx, int which) {
    hb_model *m = NULL;
    int rc = which == 0 ? make_model(ctx, &m) : which == 1 ? make_quadratic(ctx, &m)
                                              : make_callbacks(ctx, which == 3, &m);
    ck_assert_int_eq(rc, HB_OK);
    return m;
}

/* The entries of the hb_slq_run_model_blocks runs below: a block twice, the full Hessian
 * in the middle, block 1 last (the callback models have 2 blocks, the others ≥ 3). */
static const size_t entry_blocks[5] = {1, 0, HB_SLQ_FULL_HESSIAN, 1, 0};
static const uint64_t entry_streams[5] = {11, 12, 13, 14, 11};

/* The order blocks finish in depends on scheduling; each entry must come exactly once. */
typedef struct done_log {
    int seen[5];
    size_t calls;
} done_log;

static int on_done_count(void *user, size_t i, const hb_spectrum *sp) {
    done_log *d = user;
    ck_assert_uint_lt(i, 5);
    ck_assert_ptr_nonnull(sp);
    d->seen[i]++;
    d->calls++;
    return 0;
}

/* SLQ of the full Hessian with `probes` probes in groups of `group`, the per-block JS matrix,
 * the block traces and a hb_slq_run_model_blocks run of model `which` on a context with
 * `threads` threads. */
static void run_slq(int which, int threads, int64_t probes, int64_t group, slq_result *r) {
    hb_context *ctx = NULL;
    ck_assert_int_eq(hb_context_create(&ctx), HB_OK);
    ck_assert_int_eq(hb_context_set_i64(ctx, HB_CTX_THREADS, threads), HB_OK);
    hb_model *m = make_which(ctx, which);
    hb_slq *s = NULL;
    ck_assert_int_eq(hb_slq_create(ctx, &s), HB_OK);
    ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_PROBES, probes), HB_OK);
    ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_STEPS, 6), HB_OK);
    ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_STREAM, 7), HB_OK);
    ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_GROUP, group), HB_OK);
    hb_spectrum *sp = NULL;
    ck_assert_int_eq(hb_slq_run_model(s, m, &sp), HB_OK);
    memset(r, 0, sizeof *r);
    ck_assert_uint_eq(hb_spectrum_num_probes(sp), (size_t)probes);
    append_nodes(sp, r->nodes, r->weights, &r->count);
    hb_spectrum_free(sp);
    size_t B = hb_params_num_blocks(hb_model_params(m));
    ck_assert_uint_le(B, 8);
    ck_assert_int_eq(hb_slq_block_heterogeneity(s, m, NULL, NULL, r->js, NULL), HB_OK);
    ck_assert_int_eq(hb_slq_trace_model_blocks(s, m, r->traces, NULL), HB_OK);
    hb_spectrum *bs[5] = {NULL};
    done_log log = {{0}, 0};
    ck_assert_int_eq(hb_slq_run_model_blocks(s, m, entry_blocks, entry_streams, 5, bs,
                                             on_done_count, &log), HB_OK);
    ck_assert_uint_eq(log.calls, 5);
    for (size_t i = 0; i < 5; i++) {
        ck_assert_int_eq(log.seen[i], 1);
        append_nodes(bs[i], r->bnodes, NULL, &r->bcount);
        /* the same numbers as a run of its own with that stream */
        hb_spectrum *one = NULL;
        ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_STREAM, (int64_t)entry_streams[i]), HB_OK);
        ck_assert_int_eq(entry_blocks[i] == HB_SLQ_FULL_HESSIAN
                             ? hb_slq_run_model(s, m, &one)
                             : hb_slq_run_model_block(s, m, entry_blocks[i], &one), HB_OK);
        double a[1024], b[1024];
        size_t na = 0, nb = 0;
        append_nodes(bs[i], a, NULL, &na);
        append_nodes(one, b, NULL, &nb);
        ck_assert_uint_eq(na, nb);
        ck_assert_mem_eq(a, b, na * sizeof *a);
        hb_spectrum_free(one);
        hb_spectrum_free(bs[i]);
    }
    hb_slq_free(s);
    hb_model_free(m);
    hb_context_free(ctx);
}

/* Results of every thread count equal 1 thread's to the bit, for every probe grouping:
 * G = 1 (a task per probe), G = 2 with 5 probes (groups 2, 2, 1), G = 8 > k (one group). */
START_TEST(test_slq_tasks_thread_count_independent) {
    static slq_result ref, got;
    static const int64_t groups[] = {1, 2, 8};
    for (int which = 0; which < 4; which++)
        for (size_t gi = 0; gi < 3; gi++) {
            run_slq(which, 1, 5, groups[gi], &ref);
            static const int threads[] = {2, 3, 7, 1};
            for (size_t t = 0; t < 4; t++) {
                run_slq(which, threads[t], 5, groups[gi], &got);
                ck_assert_uint_eq(got.count, ref.count);
                ck_assert_mem_eq(got.nodes, ref.nodes, ref.count * sizeof(double));
                ck_assert_mem_eq(got.weights, ref.weights, ref.count * sizeof(double));
                ck_assert_mem_eq(got.js, ref.js, sizeof ref.js);
                ck_assert_mem_eq(got.traces, ref.traces, sizeof ref.traces);
                ck_assert_uint_eq(got.bcount, ref.bcount);
                ck_assert_mem_eq(got.bnodes, ref.bnodes, ref.bcount * sizeof(double));
            }
        }
}
END_TEST

/* A group of one probe equals a run of that probe alone (probe p's stream position does
 * not depend on the grouping), so G = 1's probe 3 is the fourth probe of any G = 1 run;
 * and the spectrum of G = k (one group) has the same probes, batched: close, not equal. */
START_TEST(test_slq_groups_same_probes) {
    static slq_result g1, g5;
    run_slq(1, 2, 5, 1, &g1);
    run_slq(1, 2, 5, 5, &g5);
    ck_assert_uint_eq(g1.count, g5.count);
    for (size_t i = 0; i < g1.count; i++) HB_ASSERT_CLOSE(g1.nodes[i], g5.nodes[i], 1e-9);
}
END_TEST

static int on_done_stop(void *user, size_t i, const hb_spectrum *sp) {
    (void)sp;
    (void)i;
    size_t *calls = user;
    if (++*calls != 2) return 0;
    /* Stop after the second finished entry, slowly: with 3 threads the third entry's tasks
     * finish meanwhile and wait for the run's lock; no call may follow this one (a CI run
     * caught a third call when that happened by chance). */
    struct timespec pause = {0, 50 * 1000 * 1000};
    nanosleep(&pause, NULL);
    return 7;
}

static int cancel_progress(void *user, const char *task, int64_t done, int64_t total) {
    (void)task;
    (void)total;
    return done >= *(int64_t *)user;
}

/* Bad inputs of hb_slq_run_model_blocks, and what a stopped run leaves in out. */
START_TEST(test_slq_run_model_blocks_errors) {
    for (int threads = 1; threads <= 3; threads += 2) {
        hb_context *ctx = NULL;
        ck_assert_int_eq(hb_context_create(&ctx), HB_OK);
        ck_assert_int_eq(hb_context_set_i64(ctx, HB_CTX_THREADS, threads), HB_OK);
        hb_model *m = make_which(ctx, 1); /* quadratic, 3 blocks */
        hb_slq *s = NULL;
        ck_assert_int_eq(hb_slq_create(ctx, &s), HB_OK);
        ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_PROBES, 3), HB_OK);
        ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_STEPS, 4), HB_OK);
        ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_GROUP, 2), HB_OK);
        hb_spectrum *out[4] = {NULL};
        size_t bad[2] = {0, 3};
        ck_assert_int_eq(hb_slq_run_model_blocks(NULL, m, NULL, NULL, 2, out, NULL, NULL), HB_EINVAL);
        ck_assert_int_eq(hb_slq_run_model_blocks(s, NULL, NULL, NULL, 2, out, NULL, NULL), HB_EINVAL);
        ck_assert_int_eq(hb_slq_run_model_blocks(s, m, NULL, NULL, 2, NULL, NULL, NULL), HB_EINVAL);
        ck_assert_int_eq(hb_slq_run_model_blocks(s, m, bad, NULL, 2, out, NULL, NULL), HB_ERANGE);
        ck_assert(strstr(hb_context_last_error(ctx), "entry 1") != NULL);
        ck_assert_ptr_null(out[0]);
        ck_assert_int_eq(hb_slq_run_model_blocks(s, m, NULL, NULL, 4, out, NULL, NULL), HB_ERANGE);
        ck_assert_int_eq(hb_slq_run_model_blocks(s, m, NULL, NULL, SIZE_MAX / 2, out, NULL, NULL),
                         HB_EOVERFLOW);
        ck_assert_int_eq(hb_slq_run_model_blocks(s, m, NULL, NULL, 0, NULL, NULL, NULL), HB_OK);
        /* blocks NULL: block i; streams NULL: each takes the context's next, in order */
        ck_assert_int_eq(hb_slq_run_model_blocks(s, m, NULL, NULL, 3, out, NULL, NULL), HB_OK);
        for (size_t i = 0; i < 3; i++) {
            ck_assert_ptr_nonnull(out[i]);
            hb_spectrum_free(out[i]);
            out[i] = NULL;
        }
        /* the callback stops the run: HB_ECANCELED; the 2 reported entries stay in out */
        size_t calls = 0;
        ck_assert_int_eq(hb_slq_run_model_blocks(s, m, NULL, NULL, 3, out, on_done_stop, &calls),
                         HB_ECANCELED);
        ck_assert_uint_eq(calls, 2);
        size_t held = 0;
        for (size_t i = 0; i < 3; i++) {
            held += out[i] != NULL;
            hb_spectrum_free(out[i]);
            out[i] = NULL;
        }
        ck_assert_uint_eq(held, 2);
        /* the progress callback cancels: HB_ECANCELED, out holds no unfinished entry */
        int64_t at = 2;
        ck_assert_int_eq(hb_context_set_progress(ctx, cancel_progress, &at), HB_OK);
        ck_assert_int_eq(hb_slq_run_model_blocks(s, m, NULL, NULL, 3, out, NULL, NULL), HB_ECANCELED);
        for (size_t i = 0; i < 3; i++) {
            if (out[i]) ck_assert_uint_eq(hb_spectrum_num_probes(out[i]), 3);
            hb_spectrum_free(out[i]);
        }
        hb_slq_free(s);
        hb_model_free(m);
        hb_context_free(ctx);
    }
}
END_TEST

/* ---- hb__tasks_run_ordered (lib/core/tasks.c) ----------------------------------------- */

enum { ORDER_TASKS = 23 };

typedef struct order_log {
    atomic_int runs[ORDER_TASKS];  /* times each task ran */
    atomic_size_t claims;          /* claims so far */
    size_t claimed[ORDER_TASKS];   /* task of each claim, as logged (workers may interleave) */
    size_t by_worker[4][ORDER_TASKS], n_by_worker[4]; /* each worker's tasks, in its order */
    size_t fail_a, fail_b;         /* tasks that fail (ORDER_TASKS: none) */
    atomic_int started_a, failed_b;
} order_log;

static void pause_ms(void) { nanosleep(&(struct timespec){0, 1000000}, NULL); }

static int order_task(void *arg, size_t task, size_t worker, hb_context *wctx) {
    order_log *g = arg;
    ck_assert_uint_lt(task, ORDER_TASKS);
    ck_assert_uint_lt(worker, 4);
    g->by_worker[worker][g->n_by_worker[worker]++] = task;
    atomic_fetch_add(&g->runs[task], 1);
    g->claimed[atomic_fetch_add(&g->claims, 1)] = task;
    /* fail_b is claimed first and fails first, fail_a later: the run must still report
     * fail_a, the first failed task in TASK order. Each waits for the other (bounded), so
     * both have started before either returns. */
    if (task == g->fail_b) {
        for (int i = 0; i < 5000 && !atomic_load(&g->started_a); i++) pause_ms();
        atomic_store(&g->failed_b, 1);
        return hb__fail(wctx, HB_EIO, "task %zu (claimed first) failed", task);
    }
    if (task == g->fail_a) {
        atomic_store(&g->started_a, 1);
        for (int i = 0; i < 5000 && !atomic_load(&g->failed_b); i++) pause_ms();
        return hb__fail(wctx, HB_EFORMAT, "task %zu failed", task);
    }
    return HB_OK;
}

static void order_reset(order_log *g, size_t fail_a, size_t fail_b) {
    memset(g, 0, sizeof *g);
    for (size_t t = 0; t < ORDER_TASKS; t++) atomic_init(&g->runs[t], 0);
    atomic_init(&g->claims, 0);
    atomic_init(&g->started_a, 0);
    atomic_init(&g->failed_b, 0);
    g->fail_a = fail_a;
    g->fail_b = fail_b;
}

/* A permutation is a claim order: every task runs exactly once under its own index; one
 * worker claims in task order; a failure reports the first failed task in TASK order, not
 * the first to fail, and skips the tasks not yet claimed. */
START_TEST(test_tasks_run_ordered) {
    hb_context *ctx = hb_test_context(4, 1);
    size_t order[ORDER_TASKS], position[ORDER_TASKS];
    for (size_t i = 0; i < ORDER_TASKS; i++) {
        order[i] = (7 * i + 3) % ORDER_TASKS; /* a permutation: 23 is prime */
        position[order[i]] = i;
    }
    static order_log g;
    for (size_t workers = 1; workers <= 4; workers++) {
        order_reset(&g, ORDER_TASKS, ORDER_TASKS);
        ck_assert_int_eq(hb__tasks_run_ordered(ctx, ORDER_TASKS, workers, order, order_task, &g),
                         HB_OK);
        ck_assert_uint_eq(atomic_load(&g.claims), ORDER_TASKS);
        for (size_t t = 0; t < ORDER_TASKS; t++) ck_assert_int_eq(atomic_load(&g.runs[t]), 1);
        if (workers == 1) /* the order is ignored: nothing to gain, the serial order kept */
            for (size_t t = 0; t < ORDER_TASKS; t++) ck_assert_uint_eq(g.claimed[t], t);
        else /* claims follow the order: each worker's tasks come later and later in it */
            for (size_t w = 0; w < workers; w++)
                for (size_t i = 1; i < g.n_by_worker[w]; i++)
                    ck_assert_uint_lt(position[g.by_worker[w][i - 1]], position[g.by_worker[w][i]]);
    }
    /* NULL order: hb__tasks_run */
    order_reset(&g, ORDER_TASKS, ORDER_TASKS);
    ck_assert_int_eq(hb__tasks_run_ordered(ctx, ORDER_TASKS, 3, NULL, order_task, &g), HB_OK);
    for (size_t t = 0; t < ORDER_TASKS; t++) ck_assert_int_eq(atomic_load(&g.runs[t]), 1);
    /* failures: task 9 is claimed first and fails first, task 4 (second claim) later */
    size_t fo[ORDER_TASKS] = {9, 4};
    for (size_t i = 2, t = 0; t < ORDER_TASKS; t++)
        if (t != 9 && t != 4) fo[i++] = t;
    order_reset(&g, 4, 9);
    ck_assert_int_eq(hb__tasks_run_ordered(ctx, ORDER_TASKS, 2, fo, order_task, &g), HB_EFORMAT);
    ck_assert_str_eq(hb_context_last_error(ctx), "task 4 failed");
    ck_assert_int_eq(atomic_load(&g.runs[9]), 1);
    ck_assert_int_eq(atomic_load(&g.runs[4]), 1);
    size_t ran = 0;
    for (size_t t = 0; t < ORDER_TASKS; t++) ran += (size_t)atomic_load(&g.runs[t]);
    ck_assert_uint_le(ran, 4); /* the rest skipped (at most one more claim per worker) */
    hb_context_free(ctx);
}
END_TEST

/* The per-block schedule's estimate (hb__model_block_cost, lib/net/engine.c): a block near
 * the input costs more than one near the loss, the full Hessian most, more directions more;
 * models without an estimate (quadratic, callbacks) answer 0: their tasks keep task order. */
START_TEST(test_block_cost_estimate) {
    hb_context *ctx = hb_test_context(1, 1);
    hb_model *m = NULL;
    hb_model_config *cfg = NULL;
    ck_assert_int_eq(hb_model_config_create(ctx, HB_MODEL_GPT, &cfg), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_LAYERS, 2), HB_OK);
    ck_assert_int_eq(hb_model_create(ctx, cfg, &m), HB_OK);
    hb_model_config_free(cfg);
    const hb_params *p = hb_model_params(m);
    size_t nb = hb_params_num_blocks(p), first = 0, second = 0;
    ck_assert_int_eq(hb_params_find_block(p, "h.0.attn.wq", &first), HB_OK);
    ck_assert_int_eq(hb_params_find_block(p, "h.1.attn.wq", &second), HB_OK);
    double full = 0, c0 = 0, c1 = 0, head = 0, c0k8 = 0;
    ck_assert_int_eq(hb__model_block_cost(m, SIZE_MAX, 4, &full), HB_OK);
    ck_assert_int_eq(hb__model_block_cost(m, first, 4, &c0), HB_OK);
    ck_assert_int_eq(hb__model_block_cost(m, second, 4, &c1), HB_OK);
    ck_assert_int_eq(hb__model_block_cost(m, nb - 1, 4, &head), HB_OK);
    ck_assert_int_eq(hb__model_block_cost(m, first, 8, &c0k8), HB_OK);
    ck_assert(head > 0 && head < c1 && c1 < c0 && c0 <= full && c0 < c0k8);
    for (size_t b = 0; b < nb; b++) {
        double c = 0;
        ck_assert_int_eq(hb__model_block_cost(m, b, 4, &c), HB_OK);
        ck_assert(c > 0 && c <= full);
    }
    hb_model_free(m);
    /* test_slq_tasks_thread_count_independent's mlp run (entries: block 1, block 0, full,
     * block 1, block 0) is really reordered: the full Hessian (task 2) is claimed first,
     * block 0 (near the input) before block 1 */
    m = make_which(ctx, 0);
    hb_slq *s = NULL;
    ck_assert_int_eq(hb_slq_create(ctx, &s), HB_OK);
    ck_assert_int_eq(hb_slq_set_i64(s, HB_SLQ_STEPS, 6), HB_OK);
    double tf = 0, t0 = 0, t1 = 0;
    ck_assert_int_eq(hb__slq_task_cost(s, m, SIZE_MAX, 2, &tf), HB_OK);
    ck_assert_int_eq(hb__slq_task_cost(s, m, 0, 2, &t0), HB_OK);
    ck_assert_int_eq(hb__slq_task_cost(s, m, 1, 2, &t1), HB_OK);
    ck_assert(tf > t0 && t0 > t1 && t1 > 0);
    hb_slq_free(s);
    hb_model_free(m);
    for (int which = 1; which <= 3; which++) {
        m = make_which(ctx, which);
        double c = -1;
        ck_assert_int_eq(hb__model_block_cost(m, 0, 4, &c), HB_OK);
        ck_assert(c == 0.0);
        hb_model_free(m);
    }
    hb_context_free(ctx);
}
END_TEST

Suite *hb_suite_threads(void) {
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("contexts");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_contexts_in_parallel_threads_match_serial);
    tcase_add_test(tc, test_slq_tasks_thread_count_independent);
    tcase_add_test(tc, test_slq_groups_same_probes);
    tcase_add_test(tc, test_slq_run_model_blocks_errors);
    tcase_add_test(tc, test_tasks_run_ordered);
    tcase_add_test(tc, test_block_cost_estimate);
    suite_add_tcase(s, tc);
    return s;
}
