/* bench_call: one model call repeated, for instruction counts and CPU time of two builds
 * (docs/performance.md "Built-ins as nets"). Public API only, so the same file builds
 * against an old tree's library:
 *
 *   bench_call MODEL DTYPE CALL REPS [batch=N] [context=N]
 *                                         MODEL gpt|mlp|cnn, DTYPE f32|f64,
 *                                         CALL loss|grad|hvp|multi|block:NAME
 *
 * (gpt: the default gpt-ref config; mlp, cnn: batch 64, as bench_hvp; multi = hvp_multi
 * of 10 directions.) One warm-up call, then REPS timed calls inside measured_calls(), which
 * is what `valgrind --tool=callgrind --toggle-collect=measured_calls` counts; prints the
 * median process CPU time per call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hessblock/hessblock.h"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#endif
#endif
#ifndef CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#endif

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct job {
    hb_model *m;
    const char *call;
    size_t block;
    hb_tensor *v, *o;
} job;

static int one(const job *j) {
    double loss;
    if (!strcmp(j->call, "loss")) return hb_model_loss(j->m, &loss);
    if (!strcmp(j->call, "grad")) return hb_model_loss_grad(j->m, &loss);
    if (!strcmp(j->call, "hvp")) return hb_model_hvp(j->m, j->v, j->o);
    if (!strcmp(j->call, "multi")) return hb_model_hvp_multi(j->m, j->v, j->o);
    return hb_model_block_hvp(j->m, j->block, j->v, j->o);
}

/* not inlined and not static: callgrind's --toggle-collect names it */
int measured_calls(const job *j, int reps, double *t);
__attribute__((noinline)) int measured_calls(const job *j, int reps, double *t) {
    int rc = 0;
    CALLGRIND_START_INSTRUMENTATION;
    for (int r = 0; r < reps && !rc; r++) {
        double t0 = now();
        rc = one(j);
        t[r] = now() - t0;
    }
    CALLGRIND_STOP_INSTRUMENTATION;
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s gpt|mlp|cnn f32|f64 loss|grad|hvp|multi|block:NAME REPS"
                        " [batch=N] [context=N]\n", argv[0]);
        return 2;
    }
    hb_model_kind kind = !strcmp(argv[1], "gpt") ? HB_MODEL_GPT
                         : !strcmp(argv[1], "mlp") ? HB_MODEL_MLP : HB_MODEL_CNN;
    hb_dtype dt = !strcmp(argv[2], "f32") ? HB_F32 : HB_F64;
    int reps = atoi(argv[4]);
    if (reps < 1 || reps > 1000) reps = 1;
    hb_context *ctx = NULL;
    hb_model_config *cfg = NULL;
    job j = {NULL, argv[3], 0, NULL, NULL};
    if (hb_context_create(&ctx) || hb_model_config_create(ctx, kind, &cfg) ||
        hb_model_config_set_i64(cfg, HB_MK_DTYPE, dt) ||
        (kind != HB_MODEL_GPT && hb_model_config_set_i64(cfg, HB_MK_BATCH, 64)))
        goto fail;
    for (int a = 5; a < argc; a++) {
        int is_batch = !strncmp(argv[a], "batch=", 6), is_ctx = !strncmp(argv[a], "context=", 8);
        if (!is_batch && !is_ctx) {
            fprintf(stderr, "unknown option %s\n", argv[a]);
            return 2;
        }
        if (hb_model_config_set_i64(cfg, is_batch ? HB_MK_BATCH : HB_MK_CONTEXT,
                                    atoll(strchr(argv[a], '=') + 1)))
            goto fail;
    }
    if (hb_model_create(ctx, cfg, &j.m)) goto fail;
    hb_params *p = hb_model_params(j.m);
    size_t n = hb_params_count(p);
    int64_t rows = !strcmp(j.call, "multi") ? 10 : 1, len = (int64_t)n;
    if (!strncmp(j.call, "block:", 6)) {
        if (hb_params_find_block(p, j.call + 6, &j.block) ||
            hb_params_block_info(p, j.block, NULL, NULL, NULL, &n, NULL, NULL))
            goto fail;
        len = (int64_t)n;
    }
    int64_t shape[2] = {rows, len};
    int nd = rows > 1 ? 2 : 1;
    if (hb_tensor_create(ctx, dt, nd, rows > 1 ? shape : shape + 1, &j.v) ||
        hb_tensor_create(ctx, dt, nd, rows > 1 ? shape : shape + 1, &j.o))
        goto fail;
    for (size_t i = 0; i < (size_t)(rows * len); i++)
        if (hb_tensor_set_f64(j.v, i, (double)(i % 11) * 0.1 - 0.5)) goto fail;
    double *t = calloc((size_t)reps, sizeof *t);
    if (!t || one(&j) || measured_calls(&j, reps, t)) goto fail;
    qsort(t, (size_t)reps, sizeof *t, cmp);
    printf("%s %s %s: median %.3f ms of %d\n", argv[1], argv[2], j.call, 1e3 * t[reps / 2], reps);
    free(t);
    hb_tensor_free(j.v), hb_tensor_free(j.o);
    hb_model_free(j.m), hb_model_config_free(cfg), hb_context_free(ctx);
    return 0;
fail:
    fprintf(stderr, "failed: %s\n", ctx ? hb_context_last_error(ctx) : "no context");
    return 1;
}
