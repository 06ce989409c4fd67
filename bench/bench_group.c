/* bench_group: what batching probes buys, to choose HB_SLQ_GROUP's default (issue 19.2).
 *
 *   bench_group [--threads T] [--probes K] [--steps S] [--reps R] [--models LIST]
 *
 * For each model, the per-block SLQ of every block (hb_slq_run_model_blocks: what
 * `hessblock analyze` runs) with K probes (default 16) of S steps (default 8) in groups of
 * G = 1, 2, 4, 8, …, K probes; CPU time and wall time (medians of R runs, default 3) and the
 * CPU time per probe step relative to G = K (one group: every step one product of all K
 * probes, main's arithmetic before task-parallel SLQ). Models (--models, comma-separated):
 *   gpt-small  the `analyze` default preset's gpt (vocab 32, context 16, width 32, 2 heads,
 *              2 layers, 2 micro-batches of 16)
 *   mlp-small  its mlp (32 inputs, width 64, 2 layers, 10 classes, 2 × 128 samples)
 *   cnn-small  its cnn (12×12 images, 1 channel, conv width 4, 2 stages, 10 classes, 2 × 64)
 *   gpt-ref    the library's gpt defaults (421,632 parameters): FULL-Hessian SLQ instead
 *              (its per-block run is minutes)
 * [gpt-small,mlp-small,cnn-small]. CPU time: robust on a shared machine at 1 thread; with
 * T > 1 read the wall column (the CPU column then counts every thread). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hessblock/hessblock.h"

static hb_context *ctx;
#include "bench_check.h"
#include "bench_time.h"

static hb_model *make(const char *name) {
    hb_model_config *cfg = NULL;
    hb_model *m = NULL;
    int64_t batches = 2;
    if (!strcmp(name, "gpt-small") || !strcmp(name, "gpt-ref")) {
        CHECK(hb_model_config_create(ctx, HB_MODEL_GPT, &cfg));
        if (!strcmp(name, "gpt-small")) {
            static const hb_model_key k[] = {HB_MK_VOCAB, HB_MK_CONTEXT, HB_MK_WIDTH, HB_MK_HEADS,
                                             HB_MK_LAYERS, HB_MK_BATCH};
            static const int64_t v[] = {32, 16, 32, 2, 2, 16};
            for (size_t i = 0; i < 6; i++) CHECK(hb_model_config_set_i64(cfg, k[i], v[i]));
        } else {
            batches = 1;
        }
    } else if (!strcmp(name, "mlp-small")) {
        CHECK(hb_model_config_create(ctx, HB_MODEL_MLP, &cfg));
        static const hb_model_key k[] = {HB_MK_INPUTS, HB_MK_WIDTH, HB_MK_LAYERS, HB_MK_CLASSES,
                                         HB_MK_BATCH};
        static const int64_t v[] = {32, 64, 2, 10, 128};
        for (size_t i = 0; i < 5; i++) CHECK(hb_model_config_set_i64(cfg, k[i], v[i]));
    } else if (!strcmp(name, "cnn-small")) {
        CHECK(hb_model_config_create(ctx, HB_MODEL_CNN, &cfg));
        static const hb_model_key k[] = {HB_MK_IMAGE_SIZE, HB_MK_CHANNELS, HB_MK_CONV_WIDTH,
                                         HB_MK_CONV_STAGES, HB_MK_CLASSES, HB_MK_BATCH};
        static const int64_t v[] = {12, 1, 4, 2, 10, 64};
        for (size_t i = 0; i < 6; i++) CHECK(hb_model_config_set_i64(cfg, k[i], v[i]));
    } else {
        fprintf(stderr, "unknown model %s\n", name);
        exit(2);
    }
    CHECK(hb_model_create(ctx, cfg, &m));
    hb_model_config_free(cfg);
    CHECK(hb_model_set_synthetic(m, (size_t)batches, 1, 0));
    return m;
}

static void run_model(const char *name, int64_t probes, int64_t steps, int reps) {
    hb_model *m = make(name);
    bool full = !strcmp(name, "gpt-ref");
    size_t B = hb_params_num_blocks(hb_model_params(m));
    size_t n_entries = full ? 1 : B;
    size_t *blocks = calloc(n_entries, sizeof *blocks);
    uint64_t *streams = calloc(n_entries, sizeof *streams);
    hb_spectrum **out = calloc(n_entries, sizeof *out);
    for (size_t i = 0; i < n_entries; i++) {
        blocks[i] = full ? HB_SLQ_FULL_HESSIAN : i;
        streams[i] = 100 + i;
    }
    hb_slq *s = NULL;
    CHECK(hb_slq_create(ctx, &s));
    CHECK(hb_slq_set_i64(s, HB_SLQ_PROBES, probes));
    CHECK(hb_slq_set_i64(s, HB_SLQ_STEPS, steps));
    printf("%s: %zu parameters, %s, %lld probes x %lld steps\n", name,
           hb_params_count(hb_model_params(m)), full ? "full Hessian" : "every block",
           (long long)probes, (long long)steps);
    printf("  %6s %10s %10s %14s\n", "G", "cpu s", "wall s", "cpu vs G=K");
    double ref = 0;
    for (int64_t g = probes;; g = g > 1 ? g / 2 : 0) { /* K first: the reference */
        if (g == 0) break;
        CHECK(hb_slq_set_i64(s, HB_SLQ_GROUP, g));
        double c[16], w[16];
        for (int r = 0; r < reps; r++) {
            double c0 = bench_cpu(), w0 = bench_wall();
            CHECK(hb_slq_run_model_blocks(s, m, blocks, streams, n_entries, out, NULL, NULL));
            c[r] = bench_cpu() - c0;
            w[r] = bench_wall() - w0;
            for (size_t i = 0; i < n_entries; i++) hb_spectrum_free(out[i]);
        }
        double cm = bench_median(c, reps), wm = bench_median(w, reps);
        if (g == probes) ref = cm;
        printf("  %6lld %10.3f %10.3f %14.2f\n", (long long)g, cm, wm, cm / ref);
        fflush(stdout);
    }
    hb_slq_free(s);
    free(blocks);
    free(streams);
    free(out);
    hb_model_free(m);
}

int main(int argc, char **argv) {
    int threads = 1, reps = 3;
    int64_t probes = 16, steps = 8;
    const char *models = "gpt-small,mlp-small,cnn-small";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--probes")) probes = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps")) steps = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--models")) models = argv[i + 1];
    }
    if (reps < 1) reps = 1;
    if (reps > 16) reps = 16;
    if (hb_context_create(&ctx) != HB_OK) return 1;
    CHECK(hb_context_set_i64(ctx, HB_CTX_THREADS, threads));
    printf("bench_group: threads %d\n", threads);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", models);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        run_model(tok, probes, steps, reps);
    hb_context_free(ctx);
    return 0;
}
