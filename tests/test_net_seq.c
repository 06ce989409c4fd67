/* The sequence ops of hb_net (lib/net/op_embedding.c, op_norm.c, op_attention.c,
 * op_xent.c): each op on random shapes (fixed seeds), a tiny transformer, and a gpt
 * written as a net against the built-in gpt, all in f64.
 *
 * The derivative checks are the engine's checker (tests/hb_net_check.h): gradient vs
 * central differences, HVP vs differences of gradients, the dense Hessian from hvp_multi
 * symmetric to 1e-12, every block HVP equal to the dense Hessian's block, hvp_multi equal
 * to single HVPs, micro-batch split. A net whose op reads an input with no direction
 * (every block HVP of a block above it) exercises the ops' NULL-direction paths, and the
 * block HVPs of an op's own blocks their NULL-output paths. The paths the engine never
 * takes (a weight and its bias with different direction strides; attention asked for a
 * gradient below with no direction into q, k, v) are checked by calling the ops directly.
 *
 * The gpt comparison: the built-in gpt calls the same kernels in the same order, so the
 * net made of embedding, pos_embedding, layernorm, attention, add, linear, GELU, xent with
 * the gpt's parameters gives its loss, gradient and HVPs to 1e-13 (relative, 2-norm). They
 * are bit-identical today; the margin leaves room for an engine whose GELU or residual add
 * rounds differently, which would not be a wrong derivative. */
#include <stdbool.h>
#include <string.h>

#include "hb_net_check.h"
#include "hessblock/net.h"
#include "net/net_internal.h"

/* A small fixed-seed generator for the shapes: lo..hi inclusive. */
static uint64_t shape_state;
static int64_t pick(int64_t lo, int64_t hi) {
    shape_state = shape_state * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (int64_t)((shape_state >> 33) % (uint64_t)(hi - lo + 1));
}

static hb_net *new_net(hb_context *ctx) {
    hb_net *net = NULL;
    ck_assert_int_eq(hb_net_create(ctx, HB_F64, &net), HB_OK);
    return net;
}

#define OK(call) ck_assert_int_eq((call), HB_OK)

/* ---- one op at a time ---------------------------------------------------------------- */

/* tokens → embedding → pos_embedding → xent over the (T, C) logits (C classes) */
START_TEST(test_embedding) {
    hb_context *ctx = hb_test_context(1, 101);
    shape_state = 1;
    for (int rep = 0; rep < 3; rep++) {
        int64_t T = pick(2, 5), V = pick(2, 6), C = pick(2, 5);
        hb_net *net = new_net(ctx);
        OK(hb_net_input_tokens(net, "tok", T, V));
        OK(hb_net_embedding(net, "wte", "tok", "e", C));
        OK(hb_net_pos_embedding(net, "wpe", "e", "x"));
        OK(hb_net_loss_xent(net, "x"));
        char label[64];
        snprintf(label, sizeof label, "embedding T=%lld V=%lld C=%lld", (long long)T,
                 (long long)V, (long long)C);
        hb_net_check(net, 3, 10 + (uint64_t)rep, label);
        /* the token embedding alone (no position embedding), into a linear head */
        hb_net_free(net);
        net = new_net(ctx);
        OK(hb_net_input_tokens(net, "tok", T, V));
        OK(hb_net_embedding(net, "wte", "tok", "e", C));
        OK(hb_net_linear(net, "head", "e", "z", V, 1, HB_BLOCK_HEAD));
        OK(hb_net_loss_xent(net, "z"));
        hb_net_check(net, 2, 20 + (uint64_t)rep, "embedding + head");
        hb_net_free(net);
    }
    hb_context_free(ctx);
}
END_TEST

/* features → linear → norm (eps) → linear → xent, over (F) and (T, C) inputs: the norm's
 * input has a direction (from the first linear) or not (block HVPs of the norm and above) */
static void check_norm(hb_context *ctx, bool rms, int rep) {
    int64_t T = pick(1, 4), C = pick(2, 6), V = pick(2, 5);
    double eps = rep == 0 ? 0 : 1e-3 * (double)pick(1, 100);
    hb_net *net = new_net(ctx);
    if (T == 1) OK(hb_net_input_features(net, "x", 1, (int64_t[]){C}));
    else OK(hb_net_input_features(net, "x", 2, (int64_t[]){T, C}));
    OK(hb_net_linear(net, "fc", "x", "h", C, 1, 0));
    if (rms) OK(hb_net_rmsnorm(net, "norm", "h", "n", eps));
    else OK(hb_net_layernorm(net, "norm", "h", "n", eps));
    OK(hb_net_linear(net, "head", "n", "z", V, rep % 2, HB_BLOCK_HEAD));
    OK(hb_net_loss_xent(net, "z"));
    char label[80];
    snprintf(label, sizeof label, "%s T=%lld C=%lld V=%lld eps=%g", rms ? "rmsnorm" : "layernorm",
             (long long)T, (long long)C, (long long)V, eps);
    hb_net_check(net, 3, 30 + (uint64_t)rep, label);
    hb_net_free(net);
}

START_TEST(test_norms) {
    hb_context *ctx = hb_test_context(1, 102);
    shape_state = 2;
    for (int rep = 0; rep < 3; rep++) {
        check_norm(ctx, false, rep);
        check_norm(ctx, true, rep);
    }
    hb_context_free(ctx);
}
END_TEST

/* eps reaches the ops: features (a, −a) with eps = a² normalise to ±1/√2 (weight 1,
 * bias 0 at init), so the loss of target 0 is log(1 + e^(−√2)) exactly (f64, 1e-15);
 * the default eps (1e-5) would give a visibly different value. */
START_TEST(test_norm_eps) {
    hb_context *ctx = hb_test_context(1, 103);
    const double a = 0.01, want = log1p(exp(-sqrt(2.0)));
    for (int rms = 0; rms < 2; rms++) {
        hb_net *net = new_net(ctx);
        hb_model *m = NULL;
        OK(hb_net_input_features(net, "x", 1, (int64_t[]){2}));
        if (rms) OK(hb_net_rmsnorm(net, "n", "x", "y", a * a));
        else OK(hb_net_layernorm(net, "n", "x", "y", a * a));
        OK(hb_net_loss_xent(net, "y"));
        OK(hb_model_create_net(net, &m));
        double x[2] = {a, -a}, loss = 0;
        int32_t t = 0;
        hb_tensor *in = NULL, *tg = NULL;
        OK(hb_tensor_wrap(ctx, HB_F64, 2, (int64_t[]){1, 2}, x, &in));
        OK(hb_tensor_wrap(ctx, HB_I32, 1, (int64_t[]){1}, &t, &tg));
        OK(hb_model_set_batch(m, in, tg));
        OK(hb_model_loss(m, &loss));
        ck_assert_msg(fabs(loss - want) <= 1e-15, "%s eps: loss %.17g, want %.17g",
                      rms ? "rmsnorm" : "layernorm", loss, want);
        hb_tensor_free(in);
        hb_tensor_free(tg);
        hb_model_free(m);
        hb_net_free(net);
    }
    hb_context_free(ctx);
}
END_TEST

/* features (T, C) → [linear →] attention (heads | C, bias or not) → xent over (T, C) */
START_TEST(test_attention) {
    hb_context *ctx = hb_test_context(1, 104);
    shape_state = 3;
    for (int rep = 0; rep < 4; rep++) {
        int64_t T = pick(2, 5), H = pick(1, 3), d = pick(1, 3), C = H * d;
        int bias = rep % 2, pre = rep >= 2;
        hb_net *net = new_net(ctx);
        OK(hb_net_input_features(net, "x", 2, (int64_t[]){T, C}));
        if (pre) OK(hb_net_linear(net, "fc", "x", "h", C, 1, 0));
        OK(hb_net_attention(net, "attn", pre ? "h" : "x", "y", H, bias));
        OK(hb_net_loss_xent(net, "y"));
        char label[80];
        snprintf(label, sizeof label, "attention T=%lld H=%lld d=%lld bias=%d pre=%d",
                 (long long)T, (long long)H, (long long)d, bias, pre);
        hb_net_check(net, 2, 40 + (uint64_t)rep, label);
        hb_net_free(net);
    }
    hb_context_free(ctx);
}
END_TEST

/* xent over (V) and over (T, V) logits, and its accuracy */
START_TEST(test_xent) {
    hb_context *ctx = hb_test_context(1, 105);
    shape_state = 4;
    for (int rep = 0; rep < 2; rep++) {
        int64_t T = pick(2, 4), F = pick(2, 5), V = pick(2, 6);
        hb_net *net = new_net(ctx);
        if (rep == 0) OK(hb_net_input_features(net, "x", 1, (int64_t[]){F}));
        else OK(hb_net_input_features(net, "x", 2, (int64_t[]){T, F}));
        OK(hb_net_linear(net, "fc", "x", "h", F, 1, 0));
        OK(hb_net_activation(net, HB_ACT_TANH, "h", "a"));
        OK(hb_net_linear(net, "head", "a", "z", V, 1, HB_BLOCK_HEAD));
        OK(hb_net_loss_xent(net, "z"));
        hb_net_check(net, 3, 50 + (uint64_t)rep, rep == 0 ? "xent (V)" : "xent (T, V)");
        hb_net_free(net);
    }
    /* accuracy: a layernorm with weight 1, bias 0 keeps each row's argmax, so the count
     * is that of the inputs' argmax against the targets */
    enum { N = 4, T = 3, V = 4 };
    double x[N * T * V];
    int32_t t[N * T];
    size_t want = 0;
    for (int r = 0; r < N * T; r++) {
        int best = 0;
        for (int v = 0; v < V; v++) {
            x[r * V + v] = sin(1.0 + 7.0 * r + 3.0 * v);
            if (x[r * V + v] > x[r * V + best]) best = v;
        }
        t[r] = (int32_t)((r * 5) % V);
        want += t[r] == best;
    }
    hb_net *net = new_net(ctx);
    hb_model *m = NULL;
    OK(hb_net_input_features(net, "x", 2, (int64_t[]){T, V}));
    OK(hb_net_layernorm(net, "ln", "x", "z", 0));
    OK(hb_net_loss_xent(net, "z"));
    OK(hb_model_create_net(net, &m));
    hb_tensor *in = NULL, *tg = NULL;
    OK(hb_tensor_wrap(ctx, HB_F64, 3, (int64_t[]){N, T, V}, x, &in));
    OK(hb_tensor_wrap(ctx, HB_I32, 2, (int64_t[]){N, T}, t, &tg));
    OK(hb_model_set_batch(m, in, tg));
    double acc = -1;
    OK(hb_model_accuracy(m, &acc));
    ck_assert_msg(want > 0 && fabs(acc - (double)want / (N * T)) <= 1e-15, "accuracy %g, want %zu/%d",
                  acc, want, N * T);
    /* a target outside [0, V) is refused at the batch or at the loss, never read */
    t[5] = V;
    int rc = hb_model_set_batch(m, in, tg);
    double loss;
    if (rc == HB_OK) rc = hb_model_loss(m, &loss);
    ck_assert_int_eq(rc, HB_ERANGE);
    hb_tensor_free(in);
    hb_tensor_free(tg);
    hb_model_free(m);
    hb_net_free(net);
    hb_context_free(ctx);
}
END_TEST

/* Token ids outside [0, vocab) are refused (the embedding indexes its weight with them). */
START_TEST(test_token_range) {
    hb_context *ctx = hb_test_context(1, 106);
    hb_net *net = new_net(ctx);
    hb_model *m = NULL;
    OK(hb_net_input_tokens(net, "tok", 3, 4));
    OK(hb_net_embedding(net, "wte", "tok", "e", 5));
    OK(hb_net_loss_xent(net, "e"));
    OK(hb_model_create_net(net, &m));
    int32_t ids[3] = {0, 4, 1}, t[3] = {0, 1, 2};
    hb_tensor *in = NULL, *tg = NULL;
    OK(hb_tensor_wrap(ctx, HB_I32, 2, (int64_t[]){1, 3}, ids, &in));
    OK(hb_tensor_wrap(ctx, HB_I32, 2, (int64_t[]){1, 3}, t, &tg));
    int rc = hb_model_set_batch(m, in, tg);
    double loss;
    if (rc == HB_OK) rc = hb_model_loss(m, &loss);
    ck_assert_int_eq(rc, HB_ERANGE);
    ids[1] = -1;
    rc = hb_model_set_batch(m, in, tg);
    if (rc == HB_OK) rc = hb_model_loss(m, &loss);
    ck_assert_int_eq(rc, HB_ERANGE);
    hb_tensor_free(in);
    hb_tensor_free(tg);
    hb_model_free(m);
    hb_net_free(net);
    hb_context_free(ctx);
}
END_TEST

/* ---- compositions ------------------------------------------------------------------------ */

/* One pre-LN block of the tiny transformer: x → x + attn(LN(x)) → + mlp(RMSNorm(·)). */
static int block(hb_net *net, int i, const char *x, const char *out, int64_t H, hb_activation act) {
    char n[12][32];
    static const char *const tag[12] = {"ln", "a", "attn", "at", "r", "rms", "nr", "fc", "f",
                                        "g", "proj", "p"};
    int64_t shape[3];
    int nd, rc = hb_net_activation_shape(net, x, &nd, shape);
    for (int j = 0; j < 12; j++) snprintf(n[j], sizeof n[j], "h%d.%s", i, tag[j]);
    if (rc == HB_OK) rc = hb_net_layernorm(net, n[0], x, n[1], 0);
    if (rc == HB_OK) rc = hb_net_attention(net, n[2], n[1], n[3], H, 1);
    if (rc == HB_OK) rc = hb_net_add(net, x, n[3], n[4]);
    if (rc == HB_OK) rc = hb_net_rmsnorm(net, n[5], n[4], n[6], 0);
    if (rc == HB_OK) rc = hb_net_linear(net, n[7], n[6], n[8], 2 * shape[1], 1, HB_BLOCK_MLP_IN);
    if (rc == HB_OK) rc = hb_net_activation(net, act, n[8], n[9]);
    if (rc == HB_OK) rc = hb_net_linear(net, n[10], n[9], n[11], shape[1], 1, HB_BLOCK_MLP_OUT);
    if (rc == HB_OK) rc = hb_net_add(net, n[4], n[11], out);
    return rc;
}

/* tokens → embedding → pos_embedding → [layernorm → attention → add → rmsnorm → linear →
 * GELU / SiLU → linear → add] × 2 → layernorm → linear head → xent */
static int tiny_transformer(hb_context *ctx, hb_dtype dt, hb_net **out) {
    const int64_t T = 3, V = 5, C = 4, H = 2;
    hb_net *net = NULL;
    int rc = hb_net_create(ctx, dt, &net);
    if (rc == HB_OK) rc = hb_net_input_tokens(net, "tok", T, V);
    if (rc == HB_OK) rc = hb_net_embedding(net, "wte", "tok", "e", C);
    if (rc == HB_OK) rc = hb_net_pos_embedding(net, "wpe", "e", "x0");
    for (int i = 0; i < 2 && rc == HB_OK; i++)
        rc = block(net, i, i ? "x1" : "x0", i ? "x2" : "x1", H, i ? HB_ACT_SILU : HB_ACT_GELU);
    if (rc == HB_OK) rc = hb_net_layernorm(net, "ln_f", "x2", "xf", 0);
    if (rc == HB_OK) rc = hb_net_linear(net, "lm_head", "xf", "z", V, 0, HB_BLOCK_HEAD);
    if (rc == HB_OK) rc = hb_net_loss_xent(net, "z");
    if (rc != HB_OK) hb_net_free(net), net = NULL;
    *out = net;
    return rc;
}

START_TEST(test_tiny_transformer) {
    hb_context *ctx = hb_test_context(1, 107);
    hb_net *net = NULL;
    OK(tiny_transformer(ctx, HB_F64, &net));
    hb_net_check(net, 2, 70, "tiny transformer");
    hb_net_free(net);
    hb_context_free(ctx);
}
END_TEST

/* The f32 kernels of the ops: the tiny transformer in f32 with the f64 model's θ (rounded)
 * agrees with it to f32 accuracy: loss 1e-6, gradient 1e-5, HVP 1e-4 relative (measured
 * 6e-10, 1e-7, 4e-7: f32 roundings of O(1) terms, ~6e-8 each, through the softmax and
 * norm Jacobians; the bounds leave ~100× for other BLIS kernels, while a wrong f32 path is
 * off by O(1)). */
static double rel2(const double *a, const double *b, size_t n);

START_TEST(test_f32) {
    hb_context *ctx = hb_test_context(1, 110);
    hb_net *n64 = NULL, *n32 = NULL;
    hb_model *m64 = NULL, *m32 = NULL;
    OK(tiny_transformer(ctx, HB_F64, &n64));
    OK(tiny_transformer(ctx, HB_F32, &n32));
    OK(hb_model_create_net(n64, &m64));
    OK(hb_model_create_net(n32, &m32));
    hb_params *p64 = hb_model_params(m64), *p32 = hb_model_params(m32);
    size_t n = hb_params_count(p64);
    double *th = hb_params_data(p64);
    float *th32 = hb_params_data(p32);
    OK(hb_random_fill_f64(ctx, 9, 0, HB_DIST_NORMAL, 0, 0.5, th, n));
    for (size_t i = 0; i < n; i++) th32[i] = (float)th[i], th[i] = th32[i];
    hb_tensor *in = NULL, *tg = NULL;
    hb_net_check_batch(n64, 3, 90, &in, &tg);
    OK(hb_model_set_batch(m64, in, tg));
    OK(hb_model_set_batch(m32, in, tg));
    double l64, l32;
    OK(hb_model_loss_grad(m64, &l64));
    OK(hb_model_loss_grad(m32, &l32));
    ck_assert_msg(fabs(l32 - l64) <= 1e-6 * fabs(l64), "f32 loss %.9g vs %.9g", l32, l64);
    double *g32 = malloc(n * sizeof *g32);
    for (size_t i = 0; i < n; i++) g32[i] = ((const float *)hb_params_grad(p32))[i];
    double rg = rel2(g32, hb_params_grad(p64), n);
    ck_assert_msg(rg <= 1e-5, "f32 gradient differs by %g", rg);
    hb_tensor *v = NULL, *o64 = NULL, *o32 = NULL;
    OK(hb_tensor_create(ctx, HB_F64, 1, (int64_t[]){(int64_t)n}, &v));
    OK(hb_tensor_create(ctx, HB_F64, 1, (int64_t[]){(int64_t)n}, &o64));
    OK(hb_tensor_create(ctx, HB_F64, 1, (int64_t[]){(int64_t)n}, &o32));
    OK(hb_random_fill_f64(ctx, 10, 0, HB_DIST_NORMAL, 0, 1, hb_tensor_data(v), n));
    OK(hb_model_hvp(m64, v, o64));
    OK(hb_model_hvp(m32, v, o32));
    double rh = rel2(hb_tensor_data(o32), hb_tensor_data(o64), n);
    ck_assert_msg(rh <= 1e-4, "f32 HVP differs by %g", rh);
    free(g32);
    hb_tensor_free(v), hb_tensor_free(o64), hb_tensor_free(o32);
    hb_tensor_free(in), hb_tensor_free(tg);
    hb_model_free(m64), hb_model_free(m32);
    hb_net_free(n64), hb_net_free(n32);
    hb_context_free(ctx);
}
END_TEST

/* Allocation failure anywhere in building the tiny transformer, making its model, and a
 * gradient and an HVP on it: a clean HB_ENOMEM, nothing leaked. */
static int build_and_run(hb_context *ctx, void *arg) {
    (void)arg;
    hb_net *net = NULL;
    hb_model *m = NULL;
    hb_tensor *x = NULL, *y = NULL, *v = NULL, *o = NULL;
    int rc = tiny_transformer(ctx, HB_F64, &net);
    if (rc == HB_OK) rc = hb_model_create_net(net, &m);
    if (rc == HB_OK) rc = hb_tensor_create(ctx, HB_I32, 2, (int64_t[]){2, 3}, &x);
    if (rc == HB_OK) rc = hb_tensor_create(ctx, HB_I32, 2, (int64_t[]){2, 3}, &y);
    if (rc == HB_OK) rc = hb_model_set_batch(m, x, y);
    double l;
    if (rc == HB_OK) rc = hb_model_loss_grad(m, &l);
    size_t n = m ? hb_params_count(hb_model_params(m)) : 0;
    if (rc == HB_OK) rc = hb_tensor_create(ctx, HB_F64, 1, (int64_t[]){(int64_t)n}, &v);
    if (rc == HB_OK) rc = hb_tensor_create(ctx, HB_F64, 1, (int64_t[]){(int64_t)n}, &o);
    if (rc == HB_OK) rc = hb_tensor_fill(v, 0.5);
    if (rc == HB_OK) rc = hb_model_hvp(m, v, o);
    hb_tensor_free(x), hb_tensor_free(y), hb_tensor_free(v), hb_tensor_free(o);
    hb_model_free(m);
    hb_net_free(net);
    return rc;
}

START_TEST(test_allocation_failure) {
    ck_assert_int_gt(hb_test_oom_loop(build_and_run, NULL), 8);
}
END_TEST

/* The built-in gpt's blocks in its layout order, as a net: wte, wpe, then per layer
 * ln_1 (w, b), attn (wq, bq, wk, bk, wv, bv, wo, bo), ln_2 (w, b), c_fc (w, b), c_proj
 * (w, b), then ln_f (w, b), lm_head. */
static hb_net *gpt_as_net(hb_context *ctx, int64_t V, int64_t T, int64_t C, int64_t H, int L) {
    hb_net *net = new_net(ctx);
    OK(hb_net_input_tokens(net, "idx", T, V));
    OK(hb_net_embedding(net, "wte", "idx", "e", C));
    OK(hb_net_pos_embedding(net, "wpe", "e", "x0"));
    char n[10][48], x[16] = "x0", xo[16];
    for (int l = 0; l < L; l++) {
        static const char *const tag[10] = {"ln_1", "a", "attn", "y", "xmid", "ln_2", "b",
                                            "mlp.c_fc", "g", "mlp.c_proj"};
        for (int j = 0; j < 10; j++) snprintf(n[j], sizeof n[j], "h.%d.%s", l, tag[j]);
        snprintf(xo, sizeof xo, "x%d", l + 1);
        char f[48], p[48];
        snprintf(f, sizeof f, "h.%d.f", l);
        snprintf(p, sizeof p, "h.%d.p", l);
        OK(hb_net_layernorm(net, n[0], x, n[1], 0));
        OK(hb_net_attention(net, n[2], n[1], n[3], H, 1));
        OK(hb_net_add(net, n[3], x, n[4]));
        OK(hb_net_layernorm(net, n[5], n[4], n[6], 0));
        OK(hb_net_linear(net, n[7], n[6], f, 4 * C, 1, HB_BLOCK_MLP_IN));
        OK(hb_net_activation(net, HB_ACT_GELU, f, n[8]));
        OK(hb_net_linear(net, n[9], n[8], p, C, 1, HB_BLOCK_MLP_OUT));
        OK(hb_net_add(net, p, n[4], xo));
        strcpy(x, xo);
    }
    OK(hb_net_layernorm(net, "ln_f", x, "xf", 0));
    OK(hb_net_linear(net, "lm_head", "xf", "z", V, 0, HB_BLOCK_HEAD));
    OK(hb_net_loss_xent(net, "z"));
    return net;
}

static double rel2(const double *a, const double *b, size_t n) {
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        d += (a[i] - b[i]) * (a[i] - b[i]);
        r += b[i] * b[i];
    }
    return sqrt(d) / fmax(sqrt(r), 1e-300);
}

START_TEST(test_gpt_equivalence) {
    hb_context *ctx = hb_test_context(1, 108);
    const int64_t V = 7, T = 5, C = 8, H = 2, L = 2;
    const size_t N = 3, K = 3;
    hb_model_config *cfg = NULL;
    hb_model *g = NULL, *m = NULL;
    OK(hb_model_config_create(ctx, HB_MODEL_GPT, &cfg));
    OK(hb_model_config_set_i64(cfg, HB_MK_VOCAB, V));
    OK(hb_model_config_set_i64(cfg, HB_MK_CONTEXT, T));
    OK(hb_model_config_set_i64(cfg, HB_MK_WIDTH, C));
    OK(hb_model_config_set_i64(cfg, HB_MK_HEADS, H));
    OK(hb_model_config_set_i64(cfg, HB_MK_LAYERS, L));
    OK(hb_model_config_set_i64(cfg, HB_MK_DTYPE, HB_F64));
    OK(hb_model_create(ctx, cfg, &g));
    hb_net *net = gpt_as_net(ctx, V, T, C, H, (int)L);
    OK(hb_model_create_net(net, &m));
    hb_params *pg = hb_model_params(g), *pm = hb_model_params(m);
    size_t n = hb_params_count(pg), nb = hb_params_num_blocks(pg);
    ck_assert_uint_eq(hb_params_count(pm), n);
    ck_assert_uint_eq(hb_params_num_blocks(pm), nb);
    /* same layout block by block; then the gpt's θ (not its tiny init: a random θ of
     * scale 0.3 makes every term of the Hessian matter) */
    for (size_t b = 0; b < nb; b++) {
        hb_tensor *vg = NULL, *vm = NULL;
        OK(hb_params_block_view(pg, b, &vg));
        OK(hb_params_block_view(pm, b, &vm));
        ck_assert_msg(hb_tensor_numel(vg) == hb_tensor_numel(vm), "block %zu (%s vs %s)", b,
                      hb_params_block_name(pg, b), hb_params_block_name(pm, b));
        hb_tensor_free(vg);
        hb_tensor_free(vm);
    }
    double *th = hb_params_data(pg);
    OK(hb_random_fill_f64(ctx, 7, 0, HB_DIST_NORMAL, 0, 0.3, th, n));
    memcpy(hb_params_data(pm), th, n * sizeof(double));
    hb_tensor *in = NULL, *tg = NULL;
    hb_net_check_batch(net, N, 80, &in, &tg);
    OK(hb_model_set_batch(g, in, tg));
    OK(hb_model_set_batch(m, in, tg));
    /* loss and gradient */
    double lg, lm;
    OK(hb_model_loss_grad(g, &lg));
    OK(hb_model_loss_grad(m, &lm));
    ck_assert_msg(fabs(lg - lm) <= 1e-13 * fabs(lg), "loss %.17g vs %.17g", lm, lg);
    double rg = rel2(hb_params_grad(pm), hb_params_grad(pg), n);
    ck_assert_msg(rg <= 1e-13, "gradient differs by %g", rg);
    /* hvp_multi with K directions */
    hb_tensor *Vt = NULL, *Og = NULL, *Om = NULL;
    OK(hb_tensor_create(ctx, HB_F64, 2, (int64_t[]){(int64_t)K, (int64_t)n}, &Vt));
    OK(hb_tensor_create(ctx, HB_F64, 2, (int64_t[]){(int64_t)K, (int64_t)n}, &Og));
    OK(hb_tensor_create(ctx, HB_F64, 2, (int64_t[]){(int64_t)K, (int64_t)n}, &Om));
    OK(hb_random_fill_f64(ctx, 8, 0, HB_DIST_NORMAL, 0, 1, hb_tensor_data(Vt), K * n));
    OK(hb_model_hvp_multi(g, Vt, Og));
    OK(hb_model_hvp_multi(m, Vt, Om));
    double rh = rel2(hb_tensor_data(Om), hb_tensor_data(Og), K * n);
    ck_assert_msg(rh <= 1e-13, "hvp_multi differs by %g", rh);
    /* every block HVP */
    for (size_t b = 0; b < nb; b++) {
        hb_tensor *vb = NULL, *og = NULL, *om = NULL;
        OK(hb_params_block_view(pg, b, &vb)); /* just for its size */
        size_t nbk = hb_tensor_numel(vb);
        hb_tensor_free(vb);
        OK(hb_tensor_wrap(ctx, HB_F64, 1, (int64_t[]){(int64_t)nbk},
                          (double *)hb_tensor_data(Vt) + n - nbk, &vb));
        OK(hb_tensor_create(ctx, HB_F64, 1, (int64_t[]){(int64_t)nbk}, &og));
        OK(hb_tensor_create(ctx, HB_F64, 1, (int64_t[]){(int64_t)nbk}, &om));
        OK(hb_model_block_hvp(g, b, vb, og));
        OK(hb_model_block_hvp(m, b, vb, om));
        double rb = rel2(hb_tensor_data(om), hb_tensor_data(og), nbk);
        ck_assert_msg(rb <= 1e-13, "block %zu (%s) HVP differs by %g", b,
                      hb_params_block_name(pg, b), rb);
        hb_tensor_free(vb);
        hb_tensor_free(og);
        hb_tensor_free(om);
    }
    hb_tensor_free(Vt);
    hb_tensor_free(Og);
    hb_tensor_free(Om);
    hb_tensor_free(in);
    hb_tensor_free(tg);
    hb_model_free(m);
    hb_model_free(g);
    hb_model_config_free(cfg);
    hb_net_free(net);
    hb_context_free(ctx);
}
END_TEST

/* ---- the ops called directly: directions whose weight and bias strides differ -------------
 * The engine gives every block of a call one stride, so the ops' fallback for a weight and
 * a bias with different strides (op_seq_util.h), and attention's R-backward with no
 * direction into q, k, v but a gradient wanted below, run only here. Each is compared with
 * the common path on the same numbers: the two must agree to rounding (1e-14). */

enum { DK = 2 };                /* directions */
static double *dvec(size_t n, uint64_t stream) {
    double *a = calloc(n ? n : 1, sizeof *a);
    hb_context *c = hb_test_context(1, 5);
    ck_assert_int_eq(hb_random_fill_f64(c, stream, 0, HB_DIST_NORMAL, 0, 1, a, n), HB_OK);
    hb_context_free(c);
    return a;
}

/* Directions of blocks sizes[0..nb) in two layouts with the same values: packed, block b
 * of direction j at P + j·n + off_b (one stride n); spread, block b with its own stride
 * sizes[b]·(b + 1). */
typedef struct two_layouts {
    double *P, *S[8];
    hb__dir packed[8], spread[8];
    size_t n;
} two_layouts;

static void layouts(two_layouts *L, int nb, const size_t *sizes, uint64_t stream, bool zero) {
    memset(L, 0, sizeof *L);
    size_t off[8];
    for (int b = 0; b < nb; b++) off[b] = L->n, L->n += sizes[b];
    L->P = zero ? calloc(DK * L->n, sizeof(double)) : dvec(DK * L->n, stream);
    for (int b = 0; b < nb; b++) {
        size_t ld = sizes[b] * (size_t)(b + 1);
        L->S[b] = calloc(DK * ld, sizeof(double));
        for (size_t j = 0; j < DK; j++)
            memcpy(L->S[b] + j * ld, L->P + j * L->n + off[b], sizes[b] * sizeof(double));
        L->packed[b] = (hb__dir){L->P + off[b], L->n};
        L->spread[b] = (hb__dir){L->S[b], ld};
    }
}
static void layouts_free(two_layouts *L) {
    free(L->P);
    for (int b = 0; b < 8; b++) free(L->S[b]);
}
/* max |packed − spread| over the blocks' outputs */
static double layouts_diff(const two_layouts *L, int nb, const size_t *sizes) {
    double d = 0;
    for (int b = 0; b < nb; b++)
        for (size_t j = 0; j < DK; j++)
            for (size_t i = 0; i < sizes[b]; i++)
                d = fmax(d, fabs(((double *)L->packed[b].p)[j * L->n + i] -
                                 ((double *)L->spread[b].p)[j * L->spread[b].ld + i]));
    return d;
}
static double maxdiff(const double *a, const double *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs(a[i] - b[i]));
    return d;
}

/* One op on (N, T, C) → (N, T, C) with its blocks sizes[0..nb): forward, then the R-passes
 * with the packed and with the spread directions and outputs, compared. */
static void check_strides(const hb__op_class *cls, int nb, const size_t *sizes, int64_t heads) {
    hb_context *ctx = hb_test_context(1, 111);
    const size_t N = 2, T = 3, C = 4, MC = N * T * C;
    hb__act acts[2] = {{.ndim = 2, .dims = {T, C}, .rows = T, .width = C},
                       {.ndim = 2, .dims = {T, C}, .rows = T, .width = C}};
    hb__net_op op = {.cls = cls, .n_in = 1, .in = {0}, .out = 1, .n_blk = nb,
                     .iarg = {heads, 1}, .farg = {1e-5}};
    size_t sv = cls->saved ? cls->saved(&op, acts, N) : 0;
    size_t rs = cls->rsaved ? cls->rsaved(&op, acts, N) : 0;
    size_t sc = cls->scratch ? cls->scratch(&op, acts, N, DK, 1) : 0;
    two_layouts W, V, O;
    layouts(&W, nb, sizes, 1, false);
    layouts(&V, nb, sizes, 2, false);
    layouts(&O, nb, sizes, 3, true);
    double *x = dvec(MC, 4), *y = dvec(MC, 5), *gy = dvec(MC, 6), *Rx = dvec(DK * MC, 7);
    double *Rgy = dvec(DK * MC, 8), *saved = calloc(sv + 1, 8), *rsaved = calloc(DK * rs + 1, 8);
    double *scratch = calloc(sc + 1, 8), *Ry[2], *Rgx[2];
    for (int i = 0; i < 2; i++) Ry[i] = calloc(DK * MC, 8), Rgx[i] = calloc(DK * MC, 8);
    hb__op_call c = {.ctx = ctx, .dt = HB_F64, .op = &op, .acts = acts, .N = N, .k = DK,
                     .x = {x}, .y = y, .saved = saved, .gy = gy, .Rx = {Rx}, .rsaved = rsaved,
                     .Rgy = Rgy, .scratch = scratch};
    for (int b = 0; b < nb; b++) c.W[b] = W.packed[b].p;
    OK(cls->forward(&c));
    for (int lay = 0; lay < 2; lay++) {
        for (int b = 0; b < nb; b++) {
            c.V[b] = lay ? V.spread[b] : V.packed[b];
            c.O[b] = lay ? O.spread[b] : O.packed[b];
        }
        c.Ry = Ry[lay];
        c.Rgx[0] = Rgx[lay];
        OK(cls->rforward(&c));
        OK(cls->rbackward(&c));
    }
    ck_assert_msg(maxdiff(Ry[0], Ry[1], DK * MC) <= 1e-14, "%s R-forward strides", cls->name);
    ck_assert_msg(maxdiff(Rgx[0], Rgx[1], DK * MC) <= 1e-14, "%s R-backward strides", cls->name);
    ck_assert_msg(layouts_diff(&O, nb, sizes) <= 1e-14, "%s R-gradient strides", cls->name);
    if (cls == &hb__op_attention) {
        /* no direction into q, k, v (Rx and the Q/K/V directions NULL), a gradient wanted
         * below: the same as zero directions given explicitly */
        two_layouts Z;
        double *zero = calloc(DK * MC, 8);
        layouts(&Z, nb, sizes, 0, true);
        for (int lay = 0; lay < 2; lay++) {
            memset(Rgx[lay], 0, DK * MC * 8);
            for (int b = 0; b < nb; b++) {
                bool wo = b >= 6;
                c.V[b] = wo ? V.packed[b] : lay ? (hb__dir){NULL, 0} : Z.packed[b];
                c.O[b] = (hb__dir){NULL, 0};
            }
            c.Rx[0] = lay ? NULL : zero;
            for (size_t i = 0; i < DK * rs; i++) rsaved[i] = 1.0; /* not zero: stale R state */
            c.Ry = Ry[lay];
            c.Rgx[0] = Rgx[lay];
            OK(cls->rforward(&c));
            OK(cls->rbackward(&c));
        }
        ck_assert_msg(maxdiff(Ry[0], Ry[1], DK * MC) <= 1e-14, "attention Ry without q, k, v directions");
        ck_assert_msg(maxdiff(Rgx[0], Rgx[1], DK * MC) <= 1e-14 && maxdiff(Rgx[0], zero, DK * MC) > 0,
                      "attention Rgx without q, k, v directions");
        layouts_free(&Z);
        free(zero);
    }
    layouts_free(&W), layouts_free(&V), layouts_free(&O);
    free(x), free(y), free(gy), free(Rx), free(Rgy), free(saved), free(rsaved), free(scratch);
    for (int i = 0; i < 2; i++) free(Ry[i]), free(Rgx[i]);
    hb_context_free(ctx);
}

START_TEST(test_strides) {
    const size_t ln[2] = {4, 4}, at[8] = {16, 4, 16, 4, 16, 4, 16, 4};
    check_strides(&hb__op_layernorm, 2, ln, 0);
    check_strides(&hb__op_attention, 8, at, 2);
}
END_TEST

/* ---- validation ------------------------------------------------------------------------- */

/* A call that must fail with `want`, leave the op count unchanged and say something. */
#define REFUSED(net, call, want)                                                               \
    do {                                                                                       \
        size_t ops_ = hb_net_op_count(net);                                                    \
        int rc_ = (call);                                                                      \
        ck_assert_msg(rc_ == (want), "%s: %d, want %d (%s)", #call, rc_, (want),              \
                      hb_context_last_error(ctx));                                             \
        ck_assert_uint_eq(hb_net_op_count(net), ops_);                                         \
        ck_assert(strlen(hb_context_last_error(ctx)) > 0);                                     \
    } while (0)

START_TEST(test_errors) {
    hb_context *ctx = hb_test_context(1, 109);
    hb_net *net = new_net(ctx);
    OK(hb_net_input_tokens(net, "tok", 4, 6));
    /* NULL handle / names */
    ck_assert_int_eq(hb_net_embedding(NULL, "e", "tok", "x", 3), HB_EINVAL);
    ck_assert_int_eq(hb_net_pos_embedding(NULL, "p", "x", "y"), HB_EINVAL);
    ck_assert_int_eq(hb_net_layernorm(NULL, "l", "x", "y", 0), HB_EINVAL);
    ck_assert_int_eq(hb_net_rmsnorm(NULL, "l", "x", "y", 0), HB_EINVAL);
    ck_assert_int_eq(hb_net_attention(NULL, "a", "x", "y", 1, 1), HB_EINVAL);
    ck_assert_int_eq(hb_net_loss_xent(NULL, "x"), HB_EINVAL);
    REFUSED(net, hb_net_embedding(net, NULL, "tok", "x", 3), HB_EINVAL);
    REFUSED(net, hb_net_embedding(net, "e", NULL, "x", 3), HB_EINVAL);
    REFUSED(net, hb_net_embedding(net, "e", "tok", NULL, 3), HB_EINVAL);
    REFUSED(net, hb_net_pos_embedding(net, NULL, "tok", "x"), HB_EINVAL);
    REFUSED(net, hb_net_layernorm(net, "l", NULL, "y", 0), HB_EINVAL);
    REFUSED(net, hb_net_rmsnorm(net, "l", "tok", NULL, 0), HB_EINVAL);
    REFUSED(net, hb_net_attention(net, NULL, "tok", "y", 1, 0), HB_EINVAL);
    REFUSED(net, hb_net_loss_xent(net, NULL), HB_EINVAL);
    /* embedding: width, unknown input, features input */
    REFUSED(net, hb_net_embedding(net, "e", "tok", "x", 0), HB_EINVAL);
    REFUSED(net, hb_net_embedding(net, "e", "nope", "x", 3), HB_ENOTFOUND);
    OK(hb_net_embedding(net, "e", "tok", "x", 6));
    REFUSED(net, hb_net_embedding(net, "e2", "x", "x2", 3), HB_ESHAPE);
    REFUSED(net, hb_net_embedding(net, "e", "tok", "x3", 3), HB_EINVAL);  /* block e.weight exists */
    REFUSED(net, hb_net_embedding(net, "e2", "tok", "x", 3), HB_EINVAL);  /* activation x exists */
    /* block names too long for HB_MAX_BLOCK_NAME */
    char longname[HB_MAX_BLOCK_NAME + 1];
    memset(longname, 'n', HB_MAX_BLOCK_NAME - 3);
    longname[HB_MAX_BLOCK_NAME - 3] = 0; /* "<name>.wq" fits, "<name>.weight" does not */
    REFUSED(net, hb_net_embedding(net, longname, "tok", "x4", 3), HB_EINVAL);
    REFUSED(net, hb_net_layernorm(net, longname, "x", "x4", 0), HB_EINVAL);
    REFUSED(net, hb_net_attention(net, longname, "x", "x4", 2, 1), HB_EINVAL); /* ".wq.bias" */
    REFUSED(net, hb_net_layernorm(net, "", "x", "x4", 0), HB_EINVAL);
    /* pos_embedding: tokens and (F) inputs are not sequences */
    REFUSED(net, hb_net_pos_embedding(net, "p", "tok", "y"), HB_ESHAPE);
    OK(hb_net_linear(net, "fl", "x", "xl", 5, 1, 0)); /* (T, 5) */
    /* norms: eps, tokens input */
    REFUSED(net, hb_net_layernorm(net, "l", "x", "y", -1e-5), HB_EINVAL);
    REFUSED(net, hb_net_layernorm(net, "l", "x", "y", NAN), HB_EINVAL);
    REFUSED(net, hb_net_rmsnorm(net, "l", "x", "y", INFINITY), HB_EINVAL);
    REFUSED(net, hb_net_layernorm(net, "l", "tok", "y", 0), HB_ESHAPE);
    REFUSED(net, hb_net_rmsnorm(net, "l", "tok", "y", 0), HB_ESHAPE);
    OK(hb_net_layernorm(net, "l", "x", "y", 0));
    REFUSED(net, hb_net_layernorm(net, "l", "y", "y2", 0), HB_EINVAL); /* l.weight exists */
    REFUSED(net, hb_net_rmsnorm(net, "l", "y", "y2", 0), HB_EINVAL);
    /* attention: heads, shapes */
    REFUSED(net, hb_net_attention(net, "a", "x", "z", 0, 1), HB_EINVAL);
    REFUSED(net, hb_net_attention(net, "a", "x", "z", -2, 1), HB_EINVAL);
    REFUSED(net, hb_net_attention(net, "a", "x", "z", 4, 1), HB_ESHAPE); /* 6 % 4 */
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "heads"));
    REFUSED(net, hb_net_attention(net, "a", "xl", "z", 2, 0), HB_ESHAPE); /* 5 % 2 */
    REFUSED(net, hb_net_attention(net, "a", "tok", "z", 1, 0), HB_ESHAPE);
    OK(hb_net_attention(net, "a", "x", "z", 3, 0));
    ck_assert_int_eq(hb_net_activation_shape(net, "z", &(int){0}, (int64_t[3]){0}), HB_OK);
    /* xent: tokens, images; a second loss */
    REFUSED(net, hb_net_loss_xent(net, "tok"), HB_ESHAPE);
    REFUSED(net, hb_net_loss_xent(net, "nope"), HB_ENOTFOUND);
    OK(hb_net_loss_xent(net, "z"));
    REFUSED(net, hb_net_loss_xent(net, "y"), HB_ESTATE);
    /* the net still makes a model after all these failures: blocks e.weight, fl.*,
     * l.weight, l.bias, a.wq, a.wk, a.wv, a.wo (no biases) */
    hb_model *m = NULL;
    OK(hb_model_create_net(net, &m));
    ck_assert_uint_eq(hb_params_num_blocks(hb_model_params(m)), 9);
    size_t idx;
    ck_assert_int_eq(hb_params_find_block(hb_model_params(m), "a.wq.bias", &idx), HB_ENOTFOUND);
    OK(hb_params_find_block(hb_model_params(m), "a.wo", &idx));
    hb_model_free(m);
    hb_net_free(net);

    /* images are no sequences nor rows for these ops */
    net = new_net(ctx);
    OK(hb_net_input_features(net, "img", 3, (int64_t[]){2, 3, 3}));
    REFUSED(net, hb_net_pos_embedding(net, "p", "img", "y"), HB_ESHAPE);
    REFUSED(net, hb_net_layernorm(net, "l", "img", "y", 0), HB_ESHAPE);
    REFUSED(net, hb_net_rmsnorm(net, "l", "img", "y", 0), HB_ESHAPE);
    REFUSED(net, hb_net_attention(net, "a", "img", "y", 1, 0), HB_ESHAPE);
    REFUSED(net, hb_net_loss_xent(net, "img"), HB_ESHAPE);
    REFUSED(net, hb_net_embedding(net, "e", "img", "y", 2), HB_ESHAPE);
    /* features (F): no sequence either */
    OK(hb_net_flatten(net, "img", "f"));
    REFUSED(net, hb_net_pos_embedding(net, "p", "f", "y"), HB_ESHAPE);
    REFUSED(net, hb_net_attention(net, "a", "f", "y", 1, 0), HB_ESHAPE);
    OK(hb_net_rmsnorm(net, "r", "f", "y", 0));
    hb_net_free(net);
    hb_context_free(ctx);
}
END_TEST

Suite *hb_suite_net_seq(void) {
    Suite *s = suite_create("net_seq");
    TCase *tc = tcase_create("net_seq");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_embedding);
    tcase_add_test(tc, test_norms);
    tcase_add_test(tc, test_norm_eps);
    tcase_add_test(tc, test_attention);
    tcase_add_test(tc, test_xent);
    tcase_add_test(tc, test_token_range);
    tcase_add_test(tc, test_tiny_transformer);
    tcase_add_test(tc, test_f32);
    tcase_add_test(tc, test_allocation_failure);
    tcase_add_test(tc, test_gpt_equivalence);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_strides);
    suite_add_tcase(s, tc);
    return s;
}
