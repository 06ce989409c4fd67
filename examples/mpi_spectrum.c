/* Per-block Hessian spectra of a small gpt across MPI ranks (docs/scale-out.md).
 *
 *   mpirun -np 2 ./mpi_spectrum [threads-per-rank [width [layers [probes]]]]
 *
 * Every rank makes the same calls; hb_mpi_attach makes the SLQ run divide its probe groups
 * over the ranks, and every rank gets every spectrum — the same bits as one process. Only
 * rank 0 prints. */
#include <stdio.h>
#include <stdlib.h>

#include <hessblock/mpi.h>

#define TRY(call)                                                                        \
    do {                                                                                 \
        int rc_ = (call);                                                                \
        if (rc_ != HB_OK) {                                                              \
            fprintf(stderr, "rank %d: %s: %s (%s)\n", rank, #call, hb_strerror(rc_),      \
                    hb_context_last_error(ctx));                                         \
            MPI_Abort(MPI_COMM_WORLD, 1); /* a rank that stops here must stop them all */ \
        }                                                                                \
    } while (0)

int main(int argc, char **argv) {
    int provided = 0, rank = 0, size = 1;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    int width = argc > 2 ? atoi(argv[2]) : 32, layers = argc > 3 ? atoi(argv[3]) : 1;
    int probes = argc > 4 ? atoi(argv[4]) : 4;

    hb_context *ctx = NULL;
    if (hb_context_create(&ctx) != HB_OK) MPI_Abort(MPI_COMM_WORLD, 1);
    TRY(hb_context_set_i64(ctx, HB_CTX_THREADS, threads > 0 ? threads : 1));
    TRY(hb_mpi_attach(ctx, MPI_COMM_WORLD));

    hb_model_config *cfg = NULL;
    hb_model *m = NULL;
    TRY(hb_model_config_create(ctx, HB_MODEL_GPT, &cfg));
    TRY(hb_model_config_set_i64(cfg, HB_MK_LAYERS, layers));
    TRY(hb_model_config_set_i64(cfg, HB_MK_WIDTH, width));
    TRY(hb_model_config_set_i64(cfg, HB_MK_CONTEXT, 16));
    TRY(hb_model_create(ctx, cfg, &m));
    hb_model_config_free(cfg);

    hb_slq *s = NULL;
    TRY(hb_slq_create(ctx, &s));
    TRY(hb_slq_set_i64(s, HB_SLQ_PROBES, probes));
    TRY(hb_slq_set_i64(s, HB_SLQ_STEPS, 20));
    TRY(hb_slq_set_i64(s, HB_SLQ_GROUP, 2));
    const hb_params *p = hb_model_params(m);
    size_t B = hb_params_num_blocks(p);
    hb_spectrum **sp = calloc(B, sizeof *sp);
    double *js = calloc(B * B, sizeof *js);
    if (!sp || !js) MPI_Abort(MPI_COMM_WORLD, 1);
    double t0 = MPI_Wtime();
    TRY(hb_slq_run_model_blocks(s, m, NULL, NULL, B, sp, NULL, NULL)); /* blocks 0..B-1 */
    double t1 = MPI_Wtime();
    double mean = 0;
    TRY(hb_spectra_js_matrix((const hb_spectrum *const *)sp, B, NULL, js, &mean));
    int64_t calls = 0;
    TRY(hb_slq_get_i64(s, HB_SLQ_STAT_APPLY_CALLS, &calls));

    if (rank == 0) {
        printf("%d ranks x %d threads: %zu blocks in %.2f s, %lld block products in all\n",
               size, threads, B, t1 - t0, (long long)calls);
        for (size_t b = 0; b < B; b++) {
            double lo = 0, hi = 0;
            TRY(hb_spectrum_extremes(sp[b], &lo, &hi));
            const char *name = hb_params_block_name(p, b);
            printf("  %-22s lambda in [%10.3e, %10.3e]\n", name, lo, hi);
        }
        printf("mean JS distance between blocks: %.4f\n", mean);
    }
    for (size_t b = 0; b < B; b++) hb_spectrum_free(sp[b]);
    free(sp);
    free(js);
    hb_slq_free(s);
    hb_model_free(m);
    hb_context_free(ctx); /* frees the duplicated communicator: before MPI_Finalize */
    MPI_Finalize();
    return 0;
}
