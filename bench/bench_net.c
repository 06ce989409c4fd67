/* The network engine against the hand-written mlp, in the same run: the built-in mlp
 * (inputs 32, L hidden ReLU layers of width W, 10 classes, cross-entropy; leading-k
 * R-passes) and the same layers built with hessblock/net.h (interleaved R-passes through
 * lib/net/engine.c), on the same f64 inputs. The net's head has an mse loss (the
 * cross-entropy op is another branch's), which over 10 outputs is a negligible part of the
 * work; the ratios therefore measure the engine and its layout, not the loss.
 * Per model: grad, one hvp, hvp_multi per direction (k), block_hvp of the first block;
 * process CPU time, best of `repeats`; ratio = net / mlp (< 1: the net is faster).
 * Usage: bench_net [k] [repeats] [width] [layers] [batch]   (defaults 10 5 128 2 64). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_check.h"

static hb_context *ctx;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct times { double grad, hvp, multi, block; } times;

static times measure(hb_model *m, int k, int reps) {
    size_t n = hb_params_count(hb_model_params(m)), nb = 0;
    CHECK(hb_params_block_info(hb_model_params(m), 0, NULL, NULL, NULL, &nb, NULL, NULL));
    hb_tensor *v, *o, *V, *O, *vb, *ob;
    CHECK(hb_tensor_create(ctx, HB_F64, 1, (int64_t[]){(int64_t)n}, &v));
    CHECK(hb_tensor_create(ctx, HB_F64, 1, (int64_t[]){(int64_t)n}, &o));
    CHECK(hb_tensor_create(ctx, HB_F64, 2, (int64_t[]){k, (int64_t)n}, &V));
    CHECK(hb_tensor_create(ctx, HB_F64, 2, (int64_t[]){k, (int64_t)n}, &O));
    CHECK(hb_tensor_create(ctx, HB_F64, 1, (int64_t[]){(int64_t)nb}, &vb));
    CHECK(hb_tensor_create(ctx, HB_F64, 1, (int64_t[]){(int64_t)nb}, &ob));
    CHECK(hb_tensor_fill(v, 0.01));
    CHECK(hb_tensor_fill(V, 0.01));
    CHECK(hb_tensor_fill(vb, 0.01));
    times best = {1e30, 1e30, 1e30, 1e30};
    double l;
    for (int r = 0; r < reps + 1; r++) { /* the first round warms up */
        double t0 = now();
        CHECK(hb_model_loss_grad(m, &l));
        double t1 = now();
        CHECK(hb_model_hvp(m, v, o));
        double t2 = now();
        CHECK(hb_model_hvp_multi(m, V, O));
        double t3 = now();
        CHECK(hb_model_block_hvp(m, 0, vb, ob));
        double t4 = now();
        if (r == 0) continue;
        if (t1 - t0 < best.grad) best.grad = t1 - t0;
        if (t2 - t1 < best.hvp) best.hvp = t2 - t1;
        if ((t3 - t2) / k < best.multi) best.multi = (t3 - t2) / k;
        if (t4 - t3 < best.block) best.block = t4 - t3;
    }
    hb_tensor_free(v), hb_tensor_free(o), hb_tensor_free(V), hb_tensor_free(O);
    hb_tensor_free(vb), hb_tensor_free(ob);
    return best;
}

int main(int argc, char **argv) {
    int k = argc > 1 ? atoi(argv[1]) : 10, reps = argc > 2 ? atoi(argv[2]) : 5;
    int64_t W = argc > 3 ? atoll(argv[3]) : 128, L = argc > 4 ? atoll(argv[4]) : 2;
    int64_t B = argc > 5 ? atoll(argv[5]) : 64, D = 32, C = 10;
    if (k < 1 || reps < 1 || W < 1 || L < 1 || B < 1) return 2;
    if (hb_context_create(&ctx) != HB_OK) return 1;
    hb_model_config *cfg;
    hb_model *mlp, *net_m;
    CHECK(hb_model_config_create(ctx, HB_MODEL_MLP, &cfg));
    CHECK(hb_model_config_set_i64(cfg, HB_MK_BATCH, B));
    CHECK(hb_model_config_set_i64(cfg, HB_MK_WIDTH, W));
    CHECK(hb_model_config_set_i64(cfg, HB_MK_LAYERS, L));
    CHECK(hb_model_config_set_i64(cfg, HB_MK_INPUTS, D));
    CHECK(hb_model_config_set_i64(cfg, HB_MK_CLASSES, C));
    CHECK(hb_model_create(ctx, cfg, &mlp));
    hb_net *net;
    CHECK(hb_net_create(ctx, HB_F64, &net));
    CHECK(hb_net_input_features(net, "x", 1, &D));
    char in[32] = "x", out[32], name[32];
    for (int64_t l = 0; l < L; l++) {
        snprintf(out, sizeof out, "h%lld", (long long)l);
        snprintf(name, sizeof name, "fc%lld", (long long)l);
        CHECK(hb_net_linear(net, name, in, out, W, 1, 0));
        snprintf(in, sizeof in, "a%lld", (long long)l);
        CHECK(hb_net_activation(net, HB_ACT_RELU, out, in));
    }
    CHECK(hb_net_linear(net, "head", in, "y", C, 1, HB_BLOCK_HEAD));
    CHECK(hb_net_loss_mse(net, "y"));
    CHECK(hb_model_create_net(net, &net_m));
    hb_tensor *x, *y;
    CHECK(hb_tensor_create(ctx, HB_F64, 2, (int64_t[]){B, D}, &x));
    CHECK(hb_tensor_create(ctx, HB_F64, 2, (int64_t[]){B, C}, &y));
    CHECK(hb_model_batch_copy(mlp, 0, HB_BATCH_INPUTS, hb_tensor_data(x), hb_tensor_nbytes(x)));
    CHECK(hb_tensor_fill(y, 0.1));
    CHECK(hb_model_set_batch(net_m, x, y));
    times b = measure(net_m, k, reps), a = measure(mlp, k, reps);
    printf("mlp vs net: inputs %lld, %lld x ReLU(%lld), %lld outputs, batch %lld, f64, k = %d, "
           "best of %d, CPU ms\n", (long long)D, (long long)L, (long long)W, (long long)C,
           (long long)B, k, reps);
    printf("%-22s %10s %10s %8s\n", "", "mlp", "net", "net/mlp");
    printf("%-22s %10.3f %10.3f %8.3f\n", "grad", 1e3 * a.grad, 1e3 * b.grad, b.grad / a.grad);
    printf("%-22s %10.3f %10.3f %8.3f\n", "hvp", 1e3 * a.hvp, 1e3 * b.hvp, b.hvp / a.hvp);
    printf("%-22s %10.3f %10.3f %8.3f\n", "hvp_multi / direction", 1e3 * a.multi, 1e3 * b.multi,
           b.multi / a.multi);
    printf("%-22s %10.3f %10.3f %8.3f\n", "block_hvp (block 0)", 1e3 * a.block, 1e3 * b.block,
           b.block / a.block);
    hb_tensor_free(x), hb_tensor_free(y);
    hb_model_free(mlp), hb_model_free(net_m);
    hb_net_free(net);
    hb_model_config_free(cfg);
    hb_context_free(ctx);
    return 0;
}
