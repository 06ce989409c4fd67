/* The network builder and engine (include/hessblock/net.h, lib/net/): every op of this
 * branch (linear, activation, flatten, add, mse) with random shapes, random compositions
 * of them, checked by hb_net_check (gradient and HVP against finite differences, a dense
 * Hessian symmetric to 1e-12, block HVPs, hvp_multi, micro-batch splits); the builder's
 * validation errors; allocation failure through net construction and model creation. */
#include <string.h>

#include "hb_net_check.h"
#include "net/engine.h"
#include "nn/elementwise.h"

#define OK(expr) ck_assert_int_eq((expr), HB_OK)

static hb_context *CTX;

static void setup(void) { CTX = hb_test_context(1, 1234); }
static void teardown(void) { hb_context_free(CTX); }

static hb_net *new_net(hb_dtype dt) {
    hb_net *net = NULL;
    OK(hb_net_create(CTX, dt, &net));
    return net;
}

/* A deterministic integer in [lo, hi] from (stream, i). */
static int64_t pick(uint64_t stream, uint64_t i, int64_t lo, int64_t hi) {
    double u = 0;
    OK(hb_random_fill_f64(CTX, stream, i, HB_DIST_UNIFORM, 0, 1, &u, 1));
    return lo + (int64_t)(u * (double)(hi - lo + 1));
}

/* ---- one op at a time ---- */

START_TEST(linear_features) {
    for (int s = 0; s < 4; s++) {
        hb_net *net = new_net(HB_F64);
        int64_t F = pick(10, (uint64_t)s, 1, 6), O = pick(11, (uint64_t)s, 1, 5);
        OK(hb_net_input_features(net, "x", 1, &F));
        OK(hb_net_linear(net, "fc", "x", "y", O, s % 2, 0));
        OK(hb_net_loss_mse(net, "y"));
        char label[64];
        snprintf(label, sizeof label, "linear F=%lld out=%lld bias=%d", (long long)F, (long long)O, s % 2);
        hb_net_check(net, 3 + (size_t)s, 100 + (uint64_t)s, label);
        hb_net_free(net);
    }
}
END_TEST

START_TEST(linear_sequence) {
    for (int s = 0; s < 3; s++) {
        hb_net *net = new_net(HB_F64);
        int64_t sh[2] = {pick(12, (uint64_t)s, 1, 4), pick(13, (uint64_t)s, 1, 4)};
        OK(hb_net_input_features(net, "x", 2, sh));
        OK(hb_net_linear(net, "a", "x", "h", pick(14, (uint64_t)s, 2, 4), 1, 0));
        OK(hb_net_activation(net, HB_ACT_TANH, "h", "t"));
        OK(hb_net_linear(net, "b", "t", "y", pick(15, (uint64_t)s, 1, 3), s != 1, 0));
        OK(hb_net_loss_mse(net, "y"));
        hb_net_check(net, 2 + (size_t)s, 200 + (uint64_t)s, "linear over a sequence (T, C)");
        hb_net_free(net);
    }
}
END_TEST

START_TEST(activation_each) {
    static const hb_activation acts[] = {HB_ACT_RELU, HB_ACT_GELU, HB_ACT_GELU_ERF, HB_ACT_SILU,
                                         HB_ACT_TANH};
    hb_activation act = acts[_i];
    hb_net *net = new_net(HB_F64);
    int64_t F = pick(20, (uint64_t)_i, 2, 5);
    OK(hb_net_input_features(net, "x", 1, &F));
    OK(hb_net_linear(net, "l1", "x", "h", pick(21, (uint64_t)_i, 3, 6), 1, 0));
    OK(hb_net_activation(net, act, "h", "a"));
    OK(hb_net_linear(net, "l2", "a", "y", 2, 1, 0));
    OK(hb_net_loss_mse(net, "y"));
    char label[64];
    snprintf(label, sizeof label, "activation %d", (int)act);
    hb_net_check(net, 4, 300 + (uint64_t)_i, label);
    hb_net_free(net);
}
END_TEST

START_TEST(flatten_sequence_and_image) {
    hb_net *net = new_net(HB_F64);
    int64_t sh[2] = {3, 2};
    OK(hb_net_input_features(net, "x", 2, sh));
    OK(hb_net_linear(net, "a", "x", "h", 3, 1, 0));
    OK(hb_net_activation(net, HB_ACT_SILU, "h", "s"));
    OK(hb_net_flatten(net, "s", "f"));
    int nd;
    int64_t got[3];
    OK(hb_net_activation_shape(net, "f", &nd, got));
    ck_assert_int_eq(nd, 1);
    ck_assert_int_eq(got[0], 9);
    OK(hb_net_linear(net, "b", "f", "y", 2, 1, 0));
    OK(hb_net_loss_mse(net, "y"));
    hb_net_check(net, 3, 400, "flatten (T, C)");
    hb_net_free(net);

    net = new_net(HB_F64);
    int64_t img[3] = {2, 2, 3};
    OK(hb_net_input_features(net, "img", 3, img));
    OK(hb_net_flatten(net, "img", "f"));
    OK(hb_net_linear(net, "fc", "f", "h", 3, 1, 0));
    OK(hb_net_activation(net, HB_ACT_GELU, "h", "g"));
    OK(hb_net_flatten(net, "g", "g2")); /* (F) → (F) */
    OK(hb_net_linear(net, "out", "g2", "y", 2, 0, HB_BLOCK_HEAD));
    OK(hb_net_loss_mse(net, "y"));
    hb_net_check(net, 3, 401, "flatten (C, H, W)");
    hb_net_free(net);
}
END_TEST

START_TEST(add_residual) {
    hb_net *net = new_net(HB_F64);
    int64_t sh[2] = {2, 3};
    OK(hb_net_input_features(net, "x", 2, sh));
    OK(hb_net_linear(net, "a", "x", "h", 3, 1, 0));
    OK(hb_net_activation(net, HB_ACT_GELU_ERF, "h", "g"));
    OK(hb_net_linear(net, "b", "g", "r", 3, 1, 0));
    OK(hb_net_add(net, "h", "r", "s"));  /* residual */
    OK(hb_net_add(net, "s", "s", "s2")); /* the same activation twice */
    OK(hb_net_add(net, "s2", "x", "s3")); /* the input: no gradient, no R */
    OK(hb_net_linear(net, "c", "s3", "y", 2, 1, 0));
    OK(hb_net_loss_mse(net, "y"));
    hb_net_check(net, 3, 500, "add");
    hb_net_free(net);
}
END_TEST

START_TEST(mse_sequence_and_dead_branch) {
    /* mse over a (T, C) prediction; an activation nothing reads; an op after the loss */
    hb_net *net = new_net(HB_F64);
    int64_t sh[2] = {3, 2};
    OK(hb_net_input_features(net, "x", 2, sh));
    OK(hb_net_linear(net, "a", "x", "h", 2, 1, 0));
    OK(hb_net_linear(net, "dead", "x", "unused", 4, 1, 0));
    OK(hb_net_loss_mse(net, "h"));
    OK(hb_net_activation(net, HB_ACT_RELU, "h", "after"));
    ck_assert_uint_eq(hb_net_op_count(net), 5);
    hb_net_check(net, 3, 600, "mse (T, C), dead branch");
    hb_net_free(net);
}
END_TEST

/* ---- random compositions ---- */

/* A valid random net: a features input (F) or (T, C), then 3..8 ops drawn from linear,
 * activation, add (of two activations of one shape, else a linear to make one),
 * flatten, ending in a linear and the mse loss. */
static hb_net *random_net(uint64_t seed) {
    hb_net *net = new_net(HB_F64);
    char names[16][16];
    int n = 0, lin = 0;
    uint64_t s = 0x52414E44ull + seed * 64, i = 0;
    bool seq = pick(s, i++, 0, 1);
    int64_t sh[2] = {pick(s, i++, 1, 3), pick(s, i++, 1, 3)};
    snprintf(names[n], 16, "x");
    OK(hb_net_input_features(net, names[n++], seq ? 2 : 1, seq ? sh : sh + 1));
    int ops = (int)pick(s, i++, 3, 8);
    for (int o = 0; o < ops && n < 14; o++) {
        int kind = (int)pick(s, i++, 0, 3);
        const char *in = names[pick(s, i++, n > 1 ? 1 : 0, n - 1)];
        char lname[16];
        snprintf(names[n], 16, "a%d", n);
        if (kind == 0 || n == 1) {
            snprintf(lname, sizeof lname, "l%d", lin++);
            int64_t width = pick(s, i++, 1, 4);
            int bias = (int)pick(s, i++, 0, 1);
            OK(hb_net_linear(net, lname, in, names[n], width, bias, 0));
        } else if (kind == 1) {
            OK(hb_net_activation(net, (hb_activation)pick(s, i++, HB_ACT_RELU, HB_ACT_TANH), in, names[n]));
        } else if (kind == 2) {
            int nd;
            int64_t d[3];
            OK(hb_net_activation_shape(net, in, &nd, d));
            const char *other = NULL;
            for (int j = n - 1; j >= 1 && !other; j--) {
                int nd2;
                int64_t d2[3];
                OK(hb_net_activation_shape(net, names[j], &nd2, d2));
                if (nd2 == nd && d2[0] == d[0] && (nd == 1 || d2[1] == d[1]) && strcmp(names[j], in))
                    other = names[j];
            }
            if (!other) { /* make one: a linear to the same width */
                snprintf(lname, sizeof lname, "l%d", lin++);
                OK(hb_net_linear(net, lname, in, names[n], d[nd - 1], 1, 0));
                other = names[n++];
                snprintf(names[n], 16, "a%d", n);
            }
            OK(hb_net_add(net, in, other, names[n]));
        } else {
            OK(hb_net_flatten(net, in, names[n]));
        }
        n++;
    }
    snprintf(names[n], 16, "out");
    OK(hb_net_linear(net, "head", names[n - 1], names[n], pick(s, i++, 1, 3), 1, 0));
    OK(hb_net_loss_mse(net, names[n]));
    return net;
}

START_TEST(random_compositions) {
    for (uint64_t seed = 0; seed < 24; seed++) {
        hb_net *net = random_net(seed);
        char label[48];
        snprintf(label, sizeof label, "random net %llu", (unsigned long long)seed);
        hb_net_check(net, 2 + seed % 3, 700 + seed, label);
        hb_net_free(net);
    }
}
END_TEST

/* ---- the model ---- */

START_TEST(model_blocks_and_init) {
    hb_net *net = new_net(HB_F64);
    int64_t F = 4;
    OK(hb_net_input_features(net, "x", 1, &F));
    OK(hb_net_linear(net, "fc1", "x", "h", 5, 1, 0));
    OK(hb_net_activation(net, HB_ACT_RELU, "h", "a"));
    OK(hb_net_linear(net, "head", "a", "y", 3, 0, HB_BLOCK_HEAD));
    OK(hb_net_loss_mse(net, "y"));
    OK(hb_net_rename_block(net, "head.weight", "lm_head"));
    OK(hb_net_set_block_kind(net, "fc1.bias", HB_BLOCK_OTHER));
    OK(hb_net_set_init(net, "fc1.bias", HB_INIT_CONSTANT, 0.25, 0));
    hb_model *m = NULL;
    OK(hb_model_create_net(net, &m));
    ck_assert_str_eq(hb_model_name(m), "net");
    ck_assert_int_eq(hb_model_kind_of(m), 0);
    ck_assert_int_eq(hb_model_has_exact_hvp(m), 1);
    hb_params *p = hb_model_params(m);
    ck_assert_uint_eq(hb_params_num_blocks(p), 3);
    ck_assert_uint_eq(hb_params_count(p), 5 * 4 + 5 + 3 * 5);
    const char *name;
    hb_block_kind kind;
    int64_t shape[HB_MAX_DIMS];
    int nd;
    OK(hb_params_block_info(p, 0, &name, &kind, NULL, NULL, &nd, shape));
    ck_assert_str_eq(name, "fc1.weight");
    ck_assert_int_eq(kind, HB_BLOCK_LINEAR);
    ck_assert_int_eq(nd, 2);
    ck_assert_int_eq(shape[0], 5);
    ck_assert_int_eq(shape[1], 4);
    OK(hb_params_block_info(p, 1, &name, &kind, NULL, NULL, NULL, NULL));
    ck_assert_str_eq(name, "fc1.bias");
    ck_assert_int_eq(kind, HB_BLOCK_OTHER);
    OK(hb_params_block_info(p, 2, &name, &kind, NULL, NULL, NULL, NULL));
    ck_assert_str_eq(name, "lm_head");
    ck_assert_int_eq(kind, HB_BLOCK_HEAD);
    const double *th = hb_params_data(p);
    for (int i = 0; i < 5; i++) ck_assert_double_eq(th[20 + i], 0.25);
    for (int i = 0; i < 20; i++) ck_assert(fabs(th[i]) <= 0.5); /* U(±1/√4) */
    /* no data yet */
    double l;
    ck_assert_int_eq(hb_model_loss(m, &l), HB_ESTATE);
    /* mse: no accuracy */
    hb_tensor *x, *y;
    hb_net_check_batch(net, 3, 1, &x, &y);
    OK(hb_model_set_batch(m, x, y));
    double acc;
    ck_assert_int_eq(hb_model_accuracy(m, &acc), HB_EUNSUPPORTED);
    /* a second model of the same net is initialised afresh */
    hb_model *m2 = NULL;
    OK(hb_model_create_net(net, &m2));
    ck_assert(memcmp(hb_params_data(hb_model_params(m2)), th, 20 * sizeof(double)) != 0);
    hb_model_free(m2);
    hb_tensor_free(x);
    hb_tensor_free(y);
    hb_model_free(m);
    hb_net_free(net);
}
END_TEST

/* f32 and bf16 parameters compute in f32; f32 data into an f64 model is converted. */
START_TEST(dtypes) {
    double loss[3], hv[3][64];
    hb_dtype dts[3] = {HB_F64, HB_F32, HB_BF16};
    for (int d = 0; d < 3; d++) {
        OK(hb_context_set_i64(CTX, HB_CTX_SEED, 77));
        hb_net *net = new_net(dts[d]);
        int64_t sh[2] = {3, 4};
        OK(hb_net_input_features(net, "x", 2, sh));
        OK(hb_net_linear(net, "a", "x", "h", 6, 1, 0));
        OK(hb_net_activation(net, HB_ACT_GELU, "h", "g"));
        OK(hb_net_linear(net, "b", "g", "y", 2, 1, 0));
        OK(hb_net_loss_mse(net, "y"));
        hb_model *m = NULL;
        OK(hb_model_create_net(net, &m));
        hb_tensor *x, *y, *x32, *y32;
        hb_net_check_batch(net, 4, 9, &x, &y);
        int64_t xs[3] = {4, 3, 4}, ys[3] = {4, 3, 2};
        OK(hb_tensor_create(CTX, HB_F32, 3, xs, &x32));
        OK(hb_tensor_create(CTX, HB_F32, 3, ys, &y32));
        OK(hb_tensor_copy(x32, x));
        OK(hb_tensor_copy(y32, y));
        OK(hb_model_set_batch(m, x32, y32));
        OK(hb_model_loss_grad(m, &loss[d]));
        size_t n = hb_params_count(hb_model_params(m));
        hb_tensor *v, *o;
        OK(hb_tensor_create(CTX, HB_F32, 1, (int64_t[]){(int64_t)n}, &v));
        OK(hb_tensor_create(CTX, HB_F32, 1, (int64_t[]){(int64_t)n}, &o));
        OK(hb_tensor_fill(v, 1.0));
        OK(hb_model_hvp(m, v, o));
        ck_assert_uint_le(n, 64);
        for (size_t i = 0; i < n; i++) OK(hb_tensor_get_f64(o, i, &hv[d][i]));
        hb_tensor_free(v), hb_tensor_free(o), hb_tensor_free(x), hb_tensor_free(y);
        hb_tensor_free(x32), hb_tensor_free(y32);
        hb_model_free(m);
        hb_net_free(net);
    }
    HB_ASSERT_CLOSE(loss[1], loss[0], 1e-5); /* same init (seed), f32 rounding */
    HB_ASSERT_CLOSE(loss[2], loss[0], 3e-2); /* bf16 parameters */
    double e = 0, r = 0;
    for (int i = 0; i < 6 * 4 + 6 + 2 * 6 + 2; i++) {
        e += (hv[1][i] - hv[0][i]) * (hv[1][i] - hv[0][i]);
        r += hv[0][i] * hv[0][i];
    }
    ck_assert_msg(sqrt(e) <= 1e-4 * sqrt(r), "f32 HVP differs from f64 by %g (rel)", sqrt(e / r));
}
END_TEST

/* The tokens input: i32 ids only an embedding reads; batches are checked. */
START_TEST(tokens_input) {
    hb_net *net = new_net(HB_F64);
    OK(hb_net_input_tokens(net, "idx", 8, 50));
    int nd;
    int64_t d[3];
    OK(hb_net_activation_shape(net, "idx", &nd, d));
    ck_assert_int_eq(nd, 1);
    ck_assert_int_eq(d[0], 8);
    ck_assert_int_eq(hb_net_linear(net, "fc", "idx", "h", 3, 1, 0), HB_ESHAPE);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(CTX), "token ids"));
    ck_assert_int_eq(hb_net_activation(net, HB_ACT_RELU, "idx", "h"), HB_ESHAPE);
    ck_assert_int_eq(hb_net_flatten(net, "idx", "h"), HB_ESHAPE);
    ck_assert_int_eq(hb_net_add(net, "idx", "idx", "h"), HB_ESHAPE);
    ck_assert_int_eq(hb_net_loss_mse(net, "idx"), HB_ESHAPE);
    ck_assert_uint_eq(hb_net_op_count(net), 1);
    hb_net_free(net);
}
END_TEST

/* ---- validation: every error, and a failed call changes nothing ---- */

START_TEST(validation_errors) {
    hb_net *net = NULL;
    ck_assert_int_eq(hb_net_create(NULL, HB_F64, &net), HB_EINVAL);
    ck_assert_int_eq(hb_net_create(CTX, HB_F64, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_net_create(CTX, HB_I32, &net), HB_EDTYPE);
    ck_assert_ptr_null(net);
    hb_net_free(NULL);
    ck_assert_uint_eq(hb_net_op_count(NULL), 0);
    net = new_net(HB_F64);
    hb_model *m = NULL;
    /* no input, no loss */
    ck_assert_int_eq(hb_model_create_net(net, &m), HB_EINVAL);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(CTX), "no input"));
    ck_assert_int_eq(hb_model_create_net(NULL, &m), HB_EINVAL);
    ck_assert_int_eq(hb_model_create_net(net, NULL), HB_EINVAL);
    /* inputs */
    int64_t F = 4, bad[3] = {2, 0, 2};
    ck_assert_int_eq(hb_net_input_features(NULL, "x", 1, &F), HB_EINVAL);
    ck_assert_int_eq(hb_net_input_features(net, NULL, 1, &F), HB_EINVAL);
    ck_assert_int_eq(hb_net_input_features(net, "", 1, &F), HB_EINVAL);
    ck_assert_int_eq(hb_net_input_features(net, "x", 1, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_net_input_features(net, "x", 0, &F), HB_ESHAPE);
    ck_assert_int_eq(hb_net_input_features(net, "x", 4, bad), HB_ESHAPE);
    ck_assert_int_eq(hb_net_input_features(net, "x", 3, bad), HB_ESHAPE);
    ck_assert_int_eq(hb_net_input_tokens(net, "t", 0, 5), HB_EINVAL);
    ck_assert_int_eq(hb_net_input_tokens(net, "t", 5, 0), HB_EINVAL);
    ck_assert_uint_eq(hb_net_op_count(net), 0);
    char longname[HB_MAX_BLOCK_NAME + 2];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ck_assert_int_eq(hb_net_input_features(net, longname, 1, &F), HB_EINVAL);
    OK(hb_net_input_features(net, "x", 1, &F));
    /* two inputs */
    ck_assert_int_eq(hb_net_input_features(net, "x2", 1, &F), HB_ESTATE);
    ck_assert_int_eq(hb_net_input_tokens(net, "t", 4, 4), HB_ESTATE);
    /* unknown input, duplicate activation */
    ck_assert_int_eq(hb_net_linear(net, "fc", "nope", "h", 3, 1, 0), HB_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(CTX), "nope"));
    ck_assert_int_eq(hb_net_linear(net, "fc", "x", "x", 3, 1, 0), HB_EINVAL);
    ck_assert_int_eq(hb_net_linear(net, "fc", "x", NULL, 3, 1, 0), HB_EINVAL);
    ck_assert_int_eq(hb_net_linear(net, "fc", NULL, "h", 3, 1, 0), HB_EINVAL);
    /* bad sizes and enums */
    ck_assert_int_eq(hb_net_linear(net, "fc", "x", "h", 0, 1, 0), HB_EINVAL);
    ck_assert_int_eq(hb_net_linear(net, "fc", "x", "h", 3, 1, (hb_block_kind)99), HB_EINVAL);
    ck_assert_int_eq(hb_net_linear(net, NULL, "x", "h", 3, 1, 0), HB_EINVAL);
    ck_assert_int_eq(hb_net_linear(net, longname + 2, "x", "h", 3, 1, 0), HB_EINVAL);
    ck_assert_int_eq(hb_net_activation(net, (hb_activation)0, "x", "h"), HB_EINVAL);
    ck_assert_int_eq(hb_net_activation(net, (hb_activation)6, "x", "h"), HB_EINVAL);
    ck_assert_uint_eq(hb_net_op_count(net), 1);
    OK(hb_net_linear(net, "fc", "x", "h", 3, 1, 0));
    /* duplicate block name: the failed op leaves nothing behind */
    ck_assert_int_eq(hb_net_linear(net, "fc", "h", "h2", 3, 1, 0), HB_EINVAL);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(CTX), "fc.weight"));
    int nd;
    int64_t d[3];
    ck_assert_int_eq(hb_net_activation_shape(net, "h2", &nd, d), HB_ENOTFOUND);
    OK(hb_net_linear(net, "fc2", "h", "h2", 3, 1, 0));
    /* shape mismatch: the message names the op and both shapes */
    OK(hb_net_linear(net, "fc3", "h", "h3", 5, 1, 0));
    ck_assert_int_eq(hb_net_add(net, "h2", "h3", "s"), HB_ESHAPE);
    const char *msg = hb_context_last_error(CTX);
    ck_assert_ptr_nonnull(strstr(msg, "add"));
    ck_assert_ptr_nonnull(strstr(msg, "(F=3)"));
    ck_assert_ptr_nonnull(strstr(msg, "(F=5)"));
    ck_assert_int_eq(hb_net_activation_shape(net, "s", &nd, d), HB_ENOTFOUND);
    /* no loss yet */
    ck_assert_int_eq(hb_model_create_net(net, &m), HB_EINVAL);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(CTX), "no loss"));
    OK(hb_net_loss_mse(net, "h2"));
    /* two losses */
    ck_assert_int_eq(hb_net_loss_mse(net, "h3"), HB_ESTATE);
    ck_assert_int_eq(hb_net_loss_mse(net, "nope"), HB_ESTATE);
    /* blocks */
    ck_assert_int_eq(hb_net_rename_block(net, "nope", "z"), HB_ENOTFOUND);
    ck_assert_int_eq(hb_net_rename_block(net, "fc.weight", "fc2.weight"), HB_EINVAL);
    ck_assert_int_eq(hb_net_rename_block(net, "fc.weight", ""), HB_EINVAL);
    ck_assert_int_eq(hb_net_rename_block(net, "fc.weight", NULL), HB_EINVAL);
    ck_assert_int_eq(hb_net_rename_block(NULL, "fc.weight", "z"), HB_EINVAL);
    OK(hb_net_rename_block(net, "fc.weight", "fc.weight"));
    ck_assert_int_eq(hb_net_set_block_kind(net, "fc.weight", (hb_block_kind)13), HB_EINVAL);
    ck_assert_int_eq(hb_net_set_block_kind(net, "nope", HB_BLOCK_HEAD), HB_ENOTFOUND);
    ck_assert_int_eq(hb_net_set_init(net, "fc.weight", (hb_init)0, 0, 0), HB_EINVAL);
    ck_assert_int_eq(hb_net_set_init(net, "fc.weight", (hb_init)14, 0, 0), HB_EINVAL);
    ck_assert_int_eq(hb_net_set_init(net, "fc.weight", HB_INIT_NORMAL, NAN, 1), HB_EINVAL);
    ck_assert_int_eq(hb_net_set_init(net, "nope", HB_INIT_ZEROS, 0, 0), HB_ENOTFOUND);
    /* bad init parameters surface at model creation, nothing made */
    OK(hb_net_set_init(net, "fc.weight", HB_INIT_UNIFORM, 1, 0));
    ck_assert_int_eq(hb_model_create_net(net, &m), HB_EINVAL);
    ck_assert_ptr_null(m);
    OK(hb_net_set_init(net, "fc.weight", HB_INIT_UNIFORM, 0, 1));
    /* queries */
    ck_assert_int_eq(hb_net_activation_shape(net, NULL, &nd, d), HB_EINVAL);
    ck_assert_int_eq(hb_net_activation_shape(NULL, "x", &nd, d), HB_EINVAL);
    ck_assert_uint_eq(hb_net_op_count(net), 5);
    OK(hb_model_create_net(net, &m));
    /* batches: wrong shapes, dtypes, non-finite values */
    hb_tensor *x, *y, *bad_x;
    hb_net_check_batch(net, 2, 3, &x, &y);
    ck_assert_int_eq(hb_model_set_batch(m, y, y), HB_ESHAPE);
    OK(hb_tensor_create(CTX, HB_I32, 2, (int64_t[]){2, 4}, &bad_x));
    ck_assert_int_eq(hb_model_set_batch(m, bad_x, y), HB_EDTYPE);
    ck_assert_int_eq(hb_model_set_batch(m, x, bad_x), HB_ESHAPE);
    OK(hb_tensor_set_f64(x, 1, NAN));
    ck_assert_int_eq(hb_model_set_batch(m, x, y), HB_ENONFINITE);
    hb_tensor_free(bad_x), hb_tensor_free(x), hb_tensor_free(y);
    hb_model_free(m);
    /* a net without parameters */
    hb_net *bare = new_net(HB_F64);
    OK(hb_net_input_features(bare, "x", 1, &F));
    OK(hb_net_activation(bare, HB_ACT_TANH, "x", "t"));
    OK(hb_net_loss_mse(bare, "t"));
    ck_assert_int_eq(hb_model_create_net(bare, &m), HB_EINVAL);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(CTX), "no parameters"));
    hb_net_free(bare);
    hb_net_free(net);
}
END_TEST

START_TEST(linear_needs_features_or_sequence) {
    hb_net *net = new_net(HB_F64);
    int64_t img[3] = {2, 3, 3};
    OK(hb_net_input_features(net, "img", 3, img));
    ck_assert_int_eq(hb_net_linear(net, "fc", "img", "h", 3, 1, 0), HB_ESHAPE);
    const char *msg = hb_context_last_error(CTX);
    ck_assert_ptr_nonnull(strstr(msg, "linear"));
    ck_assert_ptr_nonnull(strstr(msg, "(C=2, H=3, W=3)"));
    hb_net_free(net);
}
END_TEST

/* ---- the engine's internals ---- */

START_TEST(workspace_overflow) {
    hb_net *net = new_net(HB_F64);
    int64_t F = 1000;
    OK(hb_net_input_features(net, "x", 1, &F));
    OK(hb_net_linear(net, "fc", "x", "y", 1000, 1, 0));
    OK(hb_net_loss_mse(net, "y"));
    hb_model *m = NULL;
    OK(hb_model_create_net(net, &m));
    size_t bytes;
    OK(hb__net_workspace_bytes(m, 10, 4, &bytes));
    ck_assert_uint_gt(bytes, 10 * 1000 * 8 * 4);
    ck_assert_int_eq(hb__net_workspace_bytes(m, SIZE_MAX / 1000, 4, &bytes), HB_EOVERFLOW);
    ck_assert_int_eq(hb__net_workspace_bytes(m, (size_t)1 << 50, 1 << 10, &bytes), HB_EOVERFLOW);
    hb_model_free(m);
    hb_net_free(net);
}
END_TEST

/* R-gradient slots are reused along a chain: a deep chain needs two. */
START_TEST(slots_reused) {
    hb_net *net = new_net(HB_F64);
    int64_t F = 3;
    OK(hb_net_input_features(net, "a0", 1, &F));
    char in[8], out[8], name[8];
    for (int l = 0; l < 8; l++) {
        snprintf(in, sizeof in, "a%d", l);
        snprintf(out, sizeof out, "a%d", l + 1);
        snprintf(name, sizeof name, "l%d", l);
        OK(hb_net_linear(net, name, in, out, 3, 1, 0));
    }
    OK(hb_net_loss_mse(net, "a8"));
    hb_model *m = NULL;
    OK(hb_model_create_net(net, &m));
    hb_tensor *x, *y;
    hb_net_check_batch(net, 2, 5, &x, &y);
    OK(hb_model_set_batch(m, x, y));
    size_t n = hb_params_count(hb_model_params(m));
    double *v = calloc(n, sizeof *v), *o = calloc(n, sizeof *o);
    hb_tensor *tv, *to;
    OK(hb_tensor_wrap(CTX, HB_F64, 1, (int64_t[]){(int64_t)n}, v, &tv));
    OK(hb_tensor_wrap(CTX, HB_F64, 1, (int64_t[]){(int64_t)n}, o, &to));
    OK(hb_model_hvp(m, tv, to));
    const hb__net_state *st = m->task0.impl; /* the public API's task */
    ck_assert_uint_eq(st->n_slots, 2); /* Rg of a_l and a_{l+1}: never more at once */
    hb_tensor_free(tv), hb_tensor_free(to), hb_tensor_free(x), hb_tensor_free(y);
    free(v), free(o);
    hb_model_free(m);
    hb_net_free(net);
}
END_TEST

/* A test-only loss class with an accuracy hook: L = mean of x, correct = #(x > 0). */
static int sum_forward(const hb__op_call *c) {
    const hb__act *x = &c->acts[c->op->in[0]];
    size_t n = c->N * x->rows * x->width;
    double s = 0;
    for (size_t i = 0; i < n; i++) s += ((const double *)c->x[0])[i];
    *c->loss = s / (double)n;
    return HB_OK;
}
static int sum_backward(const hb__op_call *c) {
    const hb__act *x = &c->acts[c->op->in[0]];
    size_t n = c->N * x->rows * x->width;
    for (size_t i = 0; i < n; i++) ((double *)c->gx[0])[i] += c->scale / (double)n;
    return HB_OK;
}
static int sum_rbackward(const hb__op_call *c) { (void)c; return HB_OK; }
static int sum_accuracy(const hb__op_call *c, size_t *correct, size_t *total) {
    const hb__act *x = &c->acts[c->op->in[0]];
    size_t n = c->N * x->rows * x->width;
    for (size_t i = 0; i < n; i++) *correct += ((const double *)c->x[0])[i] > 0;
    *total += n;
    return HB_OK;
}
static const hb__op_class sum_loss = {.name = "sum", .loss = true, .forward = sum_forward,
                                      .backward = sum_backward, .rbackward = sum_rbackward,
                                      .accuracy = sum_accuracy};

static int fake_synthetic(hb_model *m, size_t n, uint64_t stream, uint64_t first,
                          hb_tensor **inputs, hb_tensor **targets) {
    (void)stream, (void)first;
    int rc = hb_tensor_create(hb_model_context(m), HB_F64, 2, (int64_t[]){(int64_t)n, 2}, inputs);
    if (rc == HB_OK) rc = hb_tensor_create(hb_model_context(m), HB_I32, 1, (int64_t[]){(int64_t)n}, targets);
    if (rc == HB_OK) rc = hb_tensor_fill(*inputs, 0.5);
    return rc;
}
static int freed;
static void fake_free(hb_context *ctx, void *user) {
    (void)ctx;
    freed += *(int *)user;
}

/* Built-ins' hooks: name, kind, synthetic data, user state owned by the model; the loss
 * class's accuracy hook. */
START_TEST(hooks_and_accuracy) {
    hb_net *net = new_net(HB_F64);
    int64_t F = 2;
    OK(hb_net_input_features(net, "x", 1, &F));
    OK(hb_net_linear(net, "fc", "x", "y", 3, 1, 0));
    hb__net_op op;
    const char *in = "y";
    OK(hb__net_begin_op(net, &sum_loss, &in, 1, NULL, &op));
    OK(hb__net_commit_op(net, &op, 0, NULL));
    int user = 7;
    hb__net_hooks hooks = {.name = "custom", .kind = 42, .synthetic = fake_synthetic,
                           .user = &user, .user_free = fake_free};
    hb_model *m = NULL;
    freed = 0;
    OK(hb__model_create_net_hooks(net, &hooks, &m));
    ck_assert_str_eq(hb_model_name(m), "custom");
    ck_assert_int_eq(hb_model_kind_of(m), 42);
    ck_assert_ptr_eq(hb__net_model_user(m), &user);
    OK(hb_model_set_synthetic(m, 2, 0, 0));
    double acc, l;
    OK(hb_model_accuracy(m, &acc));
    ck_assert(acc >= 0 && acc <= 1);
    OK(hb_model_loss_grad(m, &l));
    ck_assert_ptr_null(hb__net_model_user(NULL));
    hb_model_free(m);
    ck_assert_int_eq(freed, 7);
    hb_net_free(net);
}
END_TEST

/* A net's model is an ordinary model: an optimizer trains it, LoRA wraps its linears. */
START_TEST(ordinary_model) {
    hb_net *net = new_net(HB_F64);
    int64_t F = 4;
    OK(hb_net_input_features(net, "x", 1, &F));
    OK(hb_net_linear(net, "fc1", "x", "h", 6, 1, 0));
    OK(hb_net_activation(net, HB_ACT_SILU, "h", "a"));
    OK(hb_net_linear(net, "fc2", "a", "y", 2, 1, 0));
    OK(hb_net_loss_mse(net, "y"));
    hb_model *m = NULL;
    OK(hb_model_create_net(net, &m));
    hb_tensor *x, *y;
    hb_net_check_batch(net, 8, 11, &x, &y);
    OK(hb_model_set_batch(m, x, y));
    hb_optimizer *opt = NULL;
    OK(hb_optimizer_create(CTX, HB_OPTIM_SGD, hb_model_params(m), &opt));
    double l0, l;
    OK(hb_model_loss_grad(m, &l0));
    for (int s = 0; s < 20; s++) {
        OK(hb_model_loss_grad(m, &l));
        OK(hb_optimizer_step(opt));
    }
    OK(hb_model_loss(m, &l));
    ck_assert(l < l0);
    hb_optimizer_free(opt);
    hb_sst_config *cfg = NULL;
    OK(hb_sst_config_create(CTX, HB_SST_METHOD_LORA, &cfg));
    OK(hb_sst_config_set_i64(cfg, HB_SST_RANK, 2));
    OK(hb_sst_config_add_kind(cfg, HB_BLOCK_LINEAR));
    hb_model *w = NULL;
    OK(hb_sst_create(m, cfg, &w));
    double lw;
    OK(hb_model_loss(w, &lw));
    HB_ASSERT_CLOSE(lw, l, 1e-12); /* LoRA starts at B = 0: the same function */
    OK(hb_model_loss_grad(w, &lw)); /* wrappers train; their HVPs are the inner model's */
    hb_model_free(w);
    hb_sst_config_free(cfg);
    hb_tensor_free(x), hb_tensor_free(y);
    hb_model_free(m);
    hb_net_free(net);
}
END_TEST

/* ---- allocation failure ---- */

static int build_and_run(hb_context *ctx, void *arg) {
    (void)arg;
    hb_net *net = NULL;
    hb_model *m = NULL;
    hb_tensor *x = NULL, *y = NULL, *v = NULL, *o = NULL;
    int64_t sh[2] = {2, 3};
    int rc = hb_net_create(ctx, HB_F64, &net);
    if (rc == HB_OK) rc = hb_net_input_features(net, "x", 2, sh);
    if (rc == HB_OK) rc = hb_net_linear(net, "a", "x", "h", 4, 1, 0);
    if (rc == HB_OK) rc = hb_net_activation(net, HB_ACT_GELU, "h", "g");
    if (rc == HB_OK) rc = hb_net_linear(net, "b", "g", "r", 4, 1, 0);
    if (rc == HB_OK) rc = hb_net_add(net, "h", "r", "s");
    if (rc == HB_OK) rc = hb_net_flatten(net, "s", "f");
    if (rc == HB_OK) rc = hb_net_linear(net, "c", "f", "y", 2, 0, 0);
    if (rc == HB_OK) rc = hb_net_loss_mse(net, "y");
    if (rc == HB_OK) rc = hb_net_rename_block(net, "c.weight", "head");
    if (rc == HB_OK) rc = hb_model_create_net(net, &m);
    if (rc == HB_OK) rc = hb_tensor_create(ctx, HB_F32, 3, (int64_t[]){3, 2, 3}, &x);
    if (rc == HB_OK) rc = hb_tensor_create(ctx, HB_F32, 2, (int64_t[]){3, 2}, &y);
    if (rc == HB_OK) rc = hb_model_set_batch(m, x, y);
    double l;
    if (rc == HB_OK) rc = hb_model_loss_grad(m, &l);
    size_t n = m ? hb_params_count(hb_model_params(m)) : 0;
    if (rc == HB_OK) rc = hb_tensor_create(ctx, HB_F64, 2, (int64_t[]){2, (int64_t)n}, &v);
    if (rc == HB_OK) rc = hb_tensor_create(ctx, HB_F64, 2, (int64_t[]){2, (int64_t)n}, &o);
    if (rc == HB_OK) rc = hb_tensor_fill(v, 0.5);
    if (rc == HB_OK) rc = hb_model_hvp_multi(m, v, o);
    hb_tensor_free(x), hb_tensor_free(y), hb_tensor_free(v), hb_tensor_free(o);
    hb_model_free(m);
    hb_net_free(net);
    return rc;
}

START_TEST(allocation_failure) {
    long allocs = hb_test_oom_loop(build_and_run, NULL);
    ck_assert_int_gt(allocs, 8);
}
END_TEST

Suite *hb_suite_net(void) {
    Suite *s = suite_create("net");
    TCase *t = tcase_create("ops");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 600);
    tcase_add_test(t, linear_features);
    tcase_add_test(t, linear_sequence);
    tcase_add_loop_test(t, activation_each, 0, 5);
    tcase_add_test(t, flatten_sequence_and_image);
    tcase_add_test(t, add_residual);
    tcase_add_test(t, mse_sequence_and_dead_branch);
    tcase_add_test(t, random_compositions);
    suite_add_tcase(s, t);
    t = tcase_create("builder");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, model_blocks_and_init);
    tcase_add_test(t, dtypes);
    tcase_add_test(t, tokens_input);
    tcase_add_test(t, validation_errors);
    tcase_add_test(t, linear_needs_features_or_sequence);
    tcase_add_test(t, workspace_overflow);
    tcase_add_test(t, slots_reused);
    tcase_add_test(t, hooks_and_accuracy);
    tcase_add_test(t, ordinary_model);
    tcase_add_test(t, allocation_failure);
    suite_add_tcase(s, t);
    return s;
}
