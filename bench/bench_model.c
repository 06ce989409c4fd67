/* bench_model: gradient and Hessian-vector product timings of the built-in gpt model
 * (gpt-ref = the default config: vocab 65, context 64, width 128, 4 heads, 2 layers,
 * batch 16; 421,632 parameters), against a BLIS gemm of similar shape measured in the
 * same run. One thread unless --threads. Prints one table per dtype.
 *
 *   bench_model [--reps R] [--threads P] [--k K] [--dtype f32|f64|both]
 *
 * Flop counts (dense products only; elementwise work is not counted): with M = N·T rows,
 *   Lin = L·(8·M·C² + 4·M·C·F) + 2·M·C·V   (the linear layers of one forward)
 *   A   = L·2·N·T²·C                        (one attention product over all heads)
 *   grad = forward (Lin + 2A) + backward (2·Lin + 4A)
 *   HVP(k) = forward + activation backward (Lin + 4A) + k·(R-fwd (2·Lin + 4A) + R-bwd (4·Lin + 9A)) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hessblock/hessblock.h"
#include "kernels/kernels.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* CPU time: robust on a shared machine */
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define MAXR 64
#define CHECK(x)                                                                              \
    do {                                                                                      \
        int rc_ = (x);                                                                        \
        if (rc_ != HB_OK) {                                                                   \
            fprintf(stderr, "%s failed: %s (%s)\n", #x, hb_strerror(rc_), hb_context_last_error(ctx)); \
            exit(1);                                                                          \
        }                                                                                     \
    } while (0)

/* The BLIS reference: the widest product of the model, (M × C)·(C × 4C), 10 calls per
 * sample, sampled after every timed model call so both see the same machine load. */
typedef struct gemm_ref {
    hb_context *ctx;
    hb_dtype dt;
    int64_t m, n, k;
    void *a, *b, *c;
    double samples[8 * MAXR];
    int count;
} gemm_ref;

static void gemm_sample(gemm_ref *g) {
    double t0 = now();
    for (int i = 0; i < 10; i++)
        if (hb__gemm(g->ctx, g->dt, false, false, g->m, g->n, g->k, 1.0, g->a, g->k, g->b, g->n,
                     0.0, g->c, g->n) != HB_OK) exit(1);
    if (g->count < 8 * MAXR) g->samples[g->count++] = (now() - t0) / 10;
}

/* median of reps timings of `body`, each followed by a gemm reference sample */
#define TIME(out, reps, body)                                                                 \
    do {                                                                                      \
        double ts_[MAXR];                                                                     \
        for (int r_ = 0; r_ < (reps); r_++) {                                                 \
            double t0_ = now();                                                               \
            body;                                                                             \
            ts_[r_] = now() - t0_;                                                            \
            gemm_sample(&ref);                                                                \
        }                                                                                     \
        qsort(ts_, (size_t)(reps), sizeof(double), cmp);                                      \
        (out) = ts_[(reps) / 2];                                                              \
    } while (0)

static int threads_of(hb_context *ctx) {
    int64_t t = 0;
    return hb_context_get_i64(ctx, HB_CTX_THREADS, &t) == HB_OK ? (int)t : 0;
}

static void run(hb_context *ctx, hb_dtype dt, int reps, int k) {
    hb_model_config *cfg = NULL;
    CHECK(hb_model_config_create(ctx, HB_MODEL_GPT, &cfg));
    CHECK(hb_model_config_set_i64(cfg, HB_MK_DTYPE, dt));
    hb_model *m = NULL;
    CHECK(hb_model_create(ctx, cfg, &m));
    int64_t V, T, C, L, N;
    CHECK(hb_model_config_get_i64(cfg, HB_MK_VOCAB, &V));
    CHECK(hb_model_config_get_i64(cfg, HB_MK_CONTEXT, &T));
    CHECK(hb_model_config_get_i64(cfg, HB_MK_WIDTH, &C));
    CHECK(hb_model_config_get_i64(cfg, HB_MK_LAYERS, &L));
    CHECK(hb_model_config_get_i64(cfg, HB_MK_BATCH, &N));
    hb_model_config_free(cfg);
    double M = (double)(N * T), F = 4.0 * (double)C;
    double lin = (double)L * (8 * M * C * C + 4 * M * C * F) + 2 * M * C * V;
    double A = (double)L * 2 * (double)N * (double)T * (double)T * (double)C;
    double f_grad = (lin + 2 * A) + (2 * lin + 4 * A);
    double f_shared = (lin + 2 * A) + (lin + 4 * A), f_dir = (2 * lin + 4 * A) + (4 * lin + 9 * A);
    size_t n = hb_params_count(hb_model_params(m));

    hb_tensor *v = NULL, *o = NULL, *Vk = NULL, *Ok = NULL;
    int64_t s1[1] = {(int64_t)n}, sk[2] = {k, (int64_t)n};
    CHECK(hb_tensor_create(ctx, dt, 1, s1, &v));
    CHECK(hb_tensor_create(ctx, dt, 1, s1, &o));
    CHECK(hb_tensor_create(ctx, dt, 2, sk, &Vk));
    CHECK(hb_tensor_create(ctx, dt, 2, sk, &Ok));
    for (size_t i = 0; i < n; i++) CHECK(hb_tensor_set_f64(v, i, (i % 7) * 0.1 - 0.3));
    for (size_t i = 0; i < (size_t)k * n; i++) CHECK(hb_tensor_set_f64(Vk, i, (i % 11) * 0.1 - 0.5));

    size_t es = hb_dtype_size(dt);
    gemm_ref ref = {ctx, dt, (int64_t)M, 4 * C, C, NULL, NULL, NULL, {0}, 0};
    ref.a = calloc((size_t)(ref.m * ref.k), es);
    ref.b = calloc((size_t)(ref.k * ref.n), es);
    ref.c = calloc((size_t)(ref.m * ref.n), es);
    gemm_sample(&ref); /* warm-up */
    ref.count = 0;
    double loss;
    CHECK(hb_model_loss_grad(m, &loss)); /* warm-up */
    CHECK(hb_model_hvp(m, v, o));
    double t_grad, t_hvp, t_multi, t_loss;
    TIME(t_loss, reps, CHECK(hb_model_loss(m, &loss)));
    TIME(t_grad, reps, CHECK(hb_model_loss_grad(m, &loss)));
    TIME(t_hvp, reps, CHECK(hb_model_hvp(m, v, o)));
    TIME(t_multi, reps, CHECK(hb_model_hvp_multi(m, Vk, Ok)));

    qsort(ref.samples, (size_t)ref.count, sizeof(double), cmp);
    int64_t gm = ref.m, gn = ref.n, gk = ref.k;
    double gemm_gf = 2.0 * (double)gm * (double)gn * (double)gk / ref.samples[ref.count / 2] * 1e-9;

    const char *name = dt == HB_F32 ? "f32" : "f64";
    double gf_grad = f_grad / t_grad * 1e-9, gf_hvp = (f_shared + f_dir) / t_hvp * 1e-9;
    double gf_multi = (f_shared + k * f_dir) / t_multi * 1e-9;
    printf("gpt-ref %s: n = %zu parameters, batch %lld x %lld tokens, %d thread(s), median of %d\n",
           name, n, (long long)N, (long long)T, threads_of(ctx), reps);
    printf("  loss            %8.2f ms\n", t_loss * 1e3);
    printf("  grad            %8.2f ms   %6.1f GFLOP/s  (%4.0f%% of gemm)\n", t_grad * 1e3, gf_grad, 100 * gf_grad / gemm_gf);
    printf("  hvp             %8.2f ms   %6.1f GFLOP/s  (%4.0f%% of gemm)   hvp/grad = %.2f\n", t_hvp * 1e3,
           gf_hvp, 100 * gf_hvp / gemm_gf, t_hvp / t_grad);
    printf("  hvp_multi(%2d)   %8.2f ms   %6.1f GFLOP/s  (%4.0f%% of gemm)   vs %d single = %.2f\n", k,
           t_multi * 1e3, gf_multi, 100 * gf_multi / gemm_gf, k, t_multi / (k * t_hvp));
    printf("  BLIS gemm %lldx%lldx%lld  %6.1f GFLOP/s (median of %d samples taken between the model calls)\n", (long long)gm, (long long)gn, (long long)gk, gemm_gf, ref.count);
    if (dt == HB_F32)
        printf("  PyTorch 1.13 (quoted in the brief, not measured here): grad 45 ms, HVP 158 ms -> "
               "speed ratio torch time / ours %.2f, %.2f (> 1: ours faster; measured side by side: "
               "bench/torch_compare.py)\n",
               45e-3 / t_grad, 158e-3 / t_hvp);
    else
        printf("  PyTorch 1.13 (quoted in the brief, not measured here): grad 124 ms, HVP 348 ms -> "
               "speed ratio torch time / ours %.2f, %.2f (> 1: ours faster; measured side by side: "
               "bench/torch_compare.py)\n",
               124e-3 / t_grad, 348e-3 / t_hvp);
    /* block_hvp: the R-pass starts at (and the backward stops at) the block's stage */
    const char *blocks[] = {"wte", "h.0.attn.wq", "h.1.mlp.c_proj", "lm_head"};
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
        size_t b, numel;
        hb_params *p = hb_model_params(m);
        if (hb_params_find_block(p, blocks[i], &b) != HB_OK) continue;
        CHECK(hb_params_block_info(p, b, NULL, NULL, NULL, &numel, NULL, NULL));
        hb_tensor *vb = NULL, *ob = NULL;
        int64_t sb[1] = {(int64_t)numel};
        CHECK(hb_tensor_create(ctx, dt, 1, sb, &vb));
        CHECK(hb_tensor_create(ctx, dt, 1, sb, &ob));
        CHECK(hb_tensor_fill(vb, 0.1));
        double t_b;
        TIME(t_b, reps, CHECK(hb_model_block_hvp(m, b, vb, ob)));
        printf("  block_hvp %-15s %8.2f ms   = %.2f full HVPs\n", blocks[i], t_b * 1e3, t_b / t_hvp);
        hb_tensor_free(vb), hb_tensor_free(ob);
    }
    free(ref.a), free(ref.b), free(ref.c);
    hb_tensor_free(v), hb_tensor_free(o), hb_tensor_free(Vk), hb_tensor_free(Ok);
    hb_model_free(m);
}

int main(int argc, char **argv) {
    int reps = 5, threads = 1, k = 10;
    const char *dts = "both";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--k")) k = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--dtype")) dts = argv[i + 1];
        else {
            fprintf(stderr, "usage: %s [--reps R] [--threads P] [--k K] [--dtype f32|f64|both]\n", argv[0]);
            return 2;
        }
    }
    if (reps < 1 || reps > MAXR || k < 1 || threads < 1) {
        fprintf(stderr, "reps must be 1..%d, k and threads >= 1\n", MAXR);
        return 2;
    }
    hb_context *ctx = NULL;
    if (hb_context_create(&ctx) != HB_OK) return 1;
    CHECK(hb_context_set_i64(ctx, HB_CTX_THREADS, threads));
    if (strcmp(dts, "f64")) run(ctx, HB_F32, reps, k);
    if (strcmp(dts, "f32")) run(ctx, HB_F64, reps, k);
    hb_context_free(ctx);
    return 0;
}
