/* Cost of exact Hessian-vector products of the built-in mlp and cnn, in units measured
 * in the same run:
 *   - hvp / grad:   time of one H·v over the time of one loss+gradient (same data);
 *   - multi gain:   time of k single HVPs over one hvp_multi of k directions.
 * Times are process CPU time (the library runs single-threaded by default), so a loaded
 * machine does not inflate them; the best of `repeats` runs is kept.
 * Usage: bench_hvp [k] [repeats] [mlp|cnn]   (defaults 16, 5, both). One line per model. */
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hessblock/hessblock.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int run(hb_model_kind kind, int k, int reps) {
    hb_context *ctx = NULL;
    hb_model_config *c = NULL;
    hb_model *m = NULL;
    if (hb_context_create(&ctx) || hb_model_config_create(ctx, kind, &c) ||
        hb_model_config_set_i64(c, HB_MK_BATCH, 64) || hb_model_create(ctx, c, &m)) {
        fprintf(stderr, "setup failed: %s\n", ctx ? hb_context_last_error(ctx) : "");
        return 1;
    }
    size_t n = hb_params_count(hb_model_params(m));
    int64_t s1[1] = {(int64_t)n}, sk[2] = {k, (int64_t)n};
    hb_tensor *v = NULL, *o = NULL, *V = NULL, *O = NULL;
    hb_tensor_create(ctx, HB_F64, 1, s1, &v);
    hb_tensor_create(ctx, HB_F64, 1, s1, &o);
    hb_tensor_create(ctx, HB_F64, 2, sk, &V);
    hb_tensor_create(ctx, HB_F64, 2, sk, &O);
    hb_tensor_fill(v, 0.01);
    hb_tensor_fill(V, 0.01);
    double l, tg = 1e30, th = 1e30, tm = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        hb_model_loss_grad(m, &l);
        double t1 = now();
        for (int j = 0; j < k; j++) hb_model_hvp(m, v, o);
        double t2 = now();
        hb_model_hvp_multi(m, V, O);
        double t3 = now();
        if (t1 - t0 < tg) tg = t1 - t0;
        if ((t2 - t1) / k < th) th = (t2 - t1) / k;
        if ((t3 - t2) / k < tm) tm = (t3 - t2) / k;
    }
    printf("%-4s n=%-7zu batch=64 k=%-3d grad %.3f ms | hvp %.3f ms = %.2f x grad | "
           "hvp_multi %.3f ms/direction = %.2f x grad | multi gain %.2f x\n",
           hb_model_name(m), n, k, 1e3 * tg, 1e3 * th, th / tg, 1e3 * tm, tm / tg, th / tm);
    hb_tensor_free(v), hb_tensor_free(o), hb_tensor_free(V), hb_tensor_free(O);
    hb_model_free(m);
    hb_model_config_free(c);
    hb_context_free(ctx);
    return 0;
}

int main(int argc, char **argv) {
    int k = argc > 1 ? atoi(argv[1]) : 16, reps = argc > 2 ? atoi(argv[2]) : 5;
    if (k < 1 || reps < 1) return 2;
    const char *only = argc > 3 ? argv[3] : "";
    int rc = 0;
    if (strcmp(only, "cnn") != 0) rc |= run(HB_MODEL_MLP, k, reps);
    if (strcmp(only, "mlp") != 0) rc |= run(HB_MODEL_CNN, k, reps);
    return rc;
}
