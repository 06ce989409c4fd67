/* Data across ranks (issue 13): time per gradient and per HVP of a gpt over a global batch
 * of B micro-batches, sharded over R ranks × T threads (hb_model_set_data_parallel),
 * against ONE process with R·T threads over all B batches, measured in the same run.
 *
 *   mpirun --bind-to none -np R build/bench/bench_data_parallel [T [width [layers [B [reps
 *          [f32|f64]]]]]]          defaults: 1 128 2 8 5 f32
 *
 * Rank 0 first times the one-process reference on a context without a communicator with
 * R·T threads while the other ranks sleep (polling an MPI_Ibarrier every millisecond, so
 * they leave the cores free), then every rank times the data-parallel calls (each rank
 * its share [B·r/R, B·(r+1)/R); the time of a call is the slowest rank's) and the bare
 * allreduce of the same count (the communication's part). Each figure is the median of
 * `reps` calls after one warm-up. Prints, on rank 0, both times, the ratio
 * data-parallel / one process (< 1: ranks faster), and the largest relative difference of
 * the gradient and the HVP against the reference (rounding only). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hessblock/mpi.h>

#define TRY(call)                                                                        \
    do {                                                                                 \
        int rc_ = (call);                                                                \
        if (rc_ != HB_OK) {                                                              \
            fprintf(stderr, "rank %d: %s: %s (%s)\n", rank, #call, hb_strerror(rc_),      \
                    hb_context_last_error(ctx));                                         \
            MPI_Abort(MPI_COMM_WORLD, 1);                                                \
        }                                                                                \
    } while (0)

static int rank = 0, size = 1;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *t, int n) {
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* A model over the batches [lo, hi) of the global batch (synthetic, stream 0). */
static hb_model *make_model(hb_context *ctx, int width, int layers, hb_dtype dt, int lo,
                            int hi, int shard) {
    hb_model_config *cfg = NULL;
    hb_model *m = NULL;
    TRY(hb_model_config_create(ctx, HB_MODEL_GPT, &cfg));
    TRY(hb_model_config_set_i64(cfg, HB_MK_LAYERS, layers));
    TRY(hb_model_config_set_i64(cfg, HB_MK_WIDTH, width));
    TRY(hb_model_config_set_i64(cfg, HB_MK_DTYPE, dt));
    TRY(hb_model_create(ctx, cfg, &m));
    hb_model_config_free(cfg);
    int64_t bs = 16; /* HB_MK_BATCH's default */
    if (shard) TRY(hb_model_set_data_parallel(m, 1));
    if (hi > lo) TRY(hb_model_set_synthetic(m, (size_t)(hi - lo), 0, (uint64_t)(lo * bs)));
    return m;
}

typedef struct timing {
    double grad, hvp, reduce; /* seconds per call (median; across ranks: the slowest) */
} timing;

/* times loss_grad and hvp on m; keeps the last gradient and product in grad/hv */
static timing time_calls(hb_context *ctx, hb_model *m, int reps, const double *v, double *grad,
                         double *hv, int across) {
    size_t n = hb_params_count(hb_model_params(m));
    hb_tensor *tv = NULL, *to = NULL;
    int64_t shape[1] = {(int64_t)n};
    TRY(hb_tensor_wrap(ctx, HB_F64, 1, shape, (void *)v, &tv));
    TRY(hb_tensor_wrap(ctx, HB_F64, 1, shape, hv, &to));
    double *tg = calloc((size_t)reps, sizeof *tg), *th = calloc((size_t)reps, sizeof *th);
    double *tr = calloc((size_t)reps, sizeof *tr), *buf = calloc(n + (size_t)size + 2, sizeof *buf);
    if (!tg || !th || !tr || !buf) MPI_Abort(MPI_COMM_WORLD, 1);
    for (int i = -1; i < reps; i++) { /* i = -1: warm-up */
        if (across) MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        TRY(hb_model_loss_grad(m, NULL));
        double t1 = MPI_Wtime();
        TRY(hb_model_hvp(m, tv, to));
        double t2 = MPI_Wtime();
        double t3 = t2, t4 = t2;
        if (across) { /* the bare allreduce of a gradient's count */
            MPI_Barrier(MPI_COMM_WORLD);
            t3 = MPI_Wtime();
            MPI_Allreduce(MPI_IN_PLACE, buf, (int)(n + (size_t)size + 2), MPI_DOUBLE, MPI_SUM,
                          MPI_COMM_WORLD);
            t4 = MPI_Wtime();
        }
        if (i < 0) continue;
        double mine[3] = {t1 - t0, t2 - t1, t4 - t3}, slow[3];
        if (across) MPI_Allreduce(mine, slow, 3, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        else memcpy(slow, mine, sizeof slow);
        tg[i] = slow[0];
        th[i] = slow[1];
        tr[i] = slow[2];
    }
    const void *g = hb_params_grad(hb_model_params(m));
    hb_dtype gd = hb_params_grad_dtype(hb_model_params(m));
    for (size_t i = 0; i < n; i++) grad[i] = gd == HB_F32 ? ((const float *)g)[i] : ((const double *)g)[i];
    timing t = {median(tg, reps), median(th, reps), median(tr, reps)};
    free(tg);
    free(th);
    free(tr);
    free(buf);
    hb_tensor_free(tv);
    hb_tensor_free(to);
    return t;
}

static double rel_diff(const double *a, const double *b, size_t n) {
    double scale = 0, d = 0;
    for (size_t i = 0; i < n; i++) {
        scale = fmax(scale, fabs(a[i]));
        d = fmax(d, fabs(a[i] - b[i]));
    }
    return scale > 0 ? d / scale : d;
}

int main(int argc, char **argv) {
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int T = argc > 1 ? atoi(argv[1]) : 1, width = argc > 2 ? atoi(argv[2]) : 128;
    int layers = argc > 3 ? atoi(argv[3]) : 2, B = argc > 4 ? atoi(argv[4]) : 8;
    int reps = argc > 5 ? atoi(argv[5]) : 5;
    hb_dtype dt = argc > 6 && strcmp(argv[6], "f64") == 0 ? HB_F64 : HB_F32;
    if (T < 1 || width < 8 || layers < 1 || B < size || reps < 1) {
        if (rank == 0) fprintf(stderr, "bad arguments (B must be >= ranks)\n");
        MPI_Finalize();
        return 2;
    }
    hb_context *ctx = NULL;

    /* the one-process reference on rank 0: R·T threads, all B batches */
    size_t n = 0;
    double *v = NULL, *ref_g = NULL, *ref_h = NULL, *g = NULL, *h = NULL;
    timing ref = {0, 0, 0};
    if (rank == 0) {
        hb_context *one = NULL;
        if (hb_context_create(&one) != HB_OK) MPI_Abort(MPI_COMM_WORLD, 1);
        ctx = one;
        TRY(hb_context_set_i64(one, HB_CTX_THREADS, (int64_t)size * T));
        hb_model *m = make_model(one, width, layers, dt, 0, B, 0);
        n = hb_params_count(hb_model_params(m));
        v = calloc(n, sizeof *v);
        ref_g = calloc(n, sizeof *ref_g);
        ref_h = calloc(n, sizeof *ref_h);
        if (!v || !ref_g || !ref_h) MPI_Abort(MPI_COMM_WORLD, 1);
        for (size_t i = 0; i < n; i++) v[i] = sin(0.37 * (double)i + 0.1);
        ref = time_calls(one, m, reps, v, ref_g, ref_h, 0);
        hb_model_free(m);
        hb_context_free(one);
        ctx = NULL;
    }
    MPI_Request req; /* the others wait without spinning on the reference's cores */
    MPI_Ibarrier(MPI_COMM_WORLD, &req);
    for (int done = 0; !done;) {
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (!done) nanosleep(&(struct timespec){0, 1000000}, NULL);
    }

    /* data-parallel: R ranks × T threads, rank r over its share */
    if (hb_context_create(&ctx) != HB_OK) MPI_Abort(MPI_COMM_WORLD, 1);
    TRY(hb_context_set_i64(ctx, HB_CTX_THREADS, T));
    TRY(hb_mpi_attach(ctx, MPI_COMM_WORLD));
    int lo = B * rank / size, hi = B * (rank + 1) / size;
    hb_model *m = make_model(ctx, width, layers, dt, lo, hi, 1);
    n = hb_params_count(hb_model_params(m));
    if (!v) {
        v = calloc(n, sizeof *v);
        if (!v) MPI_Abort(MPI_COMM_WORLD, 1);
        for (size_t i = 0; i < n; i++) v[i] = sin(0.37 * (double)i + 0.1);
    }
    g = calloc(n, sizeof *g);
    h = calloc(n, sizeof *h);
    if (!g || !h) MPI_Abort(MPI_COMM_WORLD, 1);
    timing dp = time_calls(ctx, m, reps, v, g, h, 1);
    if (rank == 0) {
        printf("gpt width %d layers %d, %zu parameters (%s), global batch %d x 16 samples, "
               "median of %d\n", width, layers, n, dt == HB_F32 ? "f32" : "f64", B, reps);
        printf("one process, %d threads:        grad %8.2f ms  hvp %8.2f ms\n", size * T,
               1e3 * ref.grad, 1e3 * ref.hvp);
        printf("%d ranks x %d threads (data-par.): grad %8.2f ms  hvp %8.2f ms  (bare allreduce "
               "of %zu f64: %.3f ms)\n", size, T, 1e3 * dp.grad, 1e3 * dp.hvp, n + (size_t)size + 2,
               1e3 * dp.reduce);
        printf("ratio data-parallel / one process: grad %.3f  hvp %.3f\n", dp.grad / ref.grad,
               dp.hvp / ref.hvp);
        printf("largest relative difference: grad %.2e  hvp %.2e\n", rel_diff(ref_g, g, n),
               rel_diff(ref_h, h, n));
    }
    hb_model_free(m);
    hb_context_free(ctx);
    free(v);
    free(ref_g);
    free(ref_h);
    free(g);
    free(h);
    MPI_Finalize();
    return 0;
}
