/* Allocation-failure injection for every exported function that allocates (issue 16.2).
 *
 * Each case builds its objects with a counting allocator that never fails, then makes
 * ONE call of the function under test "armed": for k = 1, 2, … the k-th allocation the
 * call makes fails. Required of every k:
 *   - the call returns HB_ENOMEM with a message exactly when the failure was hit, else
 *     HB_OK (a function that absorbs a failed allocation would show up here);
 *   - called again without failure it succeeds, and everything the case then digests (the
 *     call's outputs, the state of the handles it touched) is bit-identical to a clean
 *     run's: the handles were left usable and nothing was lost or half-done;
 *   - after freeing everything no block of the context is live (no leak; ASan and
 *     valgrind see the rest, e.g. FILE buffers).
 * k runs up to the number of allocations the clean call makes, which must be >= 1: a case
 * whose call allocates nothing belongs to the NO_ALLOC list instead.
 *
 * The classification is complete by construction: `fault_coverage` (tests/meson.build,
 * tests/check_fault_coverage.sh) requires every function of lib/libhessblock.sym to be in
 * HB_FAULT_CASES or in one of the NO_ALLOC lists below, each entry on its own line, and
 * checks the NO_ALLOC claims against the call graph of the library's machine code
 * (tests/alloc_callgraph.py). A NEW PUBLIC FUNCTION therefore fails that test until it is
 * given one line here: `X(hb_new_fn, case_fn, arg)` with a case, or
 * `NO_ALLOC(hb_new_fn, "why")`. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "hb_test.h"

/* ---- The armed call ---------------------------------------------------------------- */
typedef struct fault {
    hb_test_alloc *st;
    hb_context *ctx;
    long k;        /* fail the k-th allocation of the armed call; 0 = clean run */
    long calls;    /* allocations the armed call made (clean run) */
    int armed;     /* number of armed calls made (exactly one per case) */
    uint64_t hash; /* digest of the case's results (FNV-1a) */
    int no_message; /* the failing call has no context to write a message to */
} fault;

static void fault_arm(fault *f) {
    f->armed++;
    f->calls = f->st->calls;
    f->st->fail_at = f->k > 0 ? f->st->calls + f->k : 0;
}

/* After the armed call returned rc: check rc against whether the failure was hit;
 * return 1 if the call must be repeated (it failed as it should). */
static int fault_disarm(fault *f, int rc, const char *expr) {
    int hit = f->k > 0 && f->st->calls >= f->st->fail_at;
    f->calls = f->st->calls - f->calls;
    f->st->fail_at = 0;
    if (hit) {
        ck_assert_msg(rc == HB_ENOMEM, "%s: allocation %ld failed but it returned %d (%s): %s",
                      expr, f->k, rc, hb_status_name(rc), hb_context_last_error(f->ctx));
        ck_assert_msg(f->no_message || hb_context_last_error(f->ctx)[0] != '\0',
                      "%s: ENOMEM without a message", expr);
        return 1;
    }
    ck_assert_msg(rc == HB_OK, "%s returned %d (%s) at k=%ld: %s", expr, rc, hb_status_name(rc),
                  f->k, hb_context_last_error(f->ctx));
    return 0;
}

/* FAULT_CALL(f, expr): the armed call; repeated unarmed when the injected failure hit. */
#define FAULT_CALL(f, expr)                                                                  \
    do {                                                                                     \
        fault_arm(f);                                                                        \
        if (fault_disarm((f), (expr), #expr)) {                                              \
            int rc2_ = (expr);                                                               \
            ck_assert_msg(rc2_ == HB_OK, "%s failed on the retry after ENOMEM: %d %s", #expr,  \
                          rc2_, hb_context_last_error((f)->ctx));                            \
        }                                                                                    \
    } while (0)

#define OK(expr) ck_assert_msg((expr) == HB_OK, "%s: %s", #expr, hb_context_last_error(ctx))

static void digest(fault *f, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) f->hash = (f->hash ^ b[i]) * 1099511628211ull;
}
static void digest_f64(fault *f, double x) { digest(f, &x, sizeof x); }
static void digest_params(fault *f, hb_params *p) {
    size_t n = hb_params_count(p);
    digest(f, hb_params_data(p), n * hb_dtype_size(hb_params_dtype(p)));
    digest(f, hb_params_grad(p), n * hb_dtype_size(hb_params_grad_dtype(p)));
}
static void digest_tensor(fault *f, const hb_tensor *t) {
    digest(f, hb_tensor_data_const(t), hb_tensor_nbytes(t));
}
static void digest_spectrum(fault *f, const hb_spectrum *sp) {
    for (size_t p = 0; p < hb_spectrum_num_probes(sp); p++) {
        const double *nodes, *weights;
        size_t count;
        ck_assert_int_eq(hb_spectrum_probe(sp, p, &nodes, &weights, &count, NULL), HB_OK);
        digest(f, nodes, count * sizeof *nodes);
        digest(f, weights, count * sizeof *weights);
    }
}
/* The model's loss and gradient now (after the case's call): its data and θ are intact. */
static void digest_model(fault *f, hb_model *m) {
    double loss;
    ck_assert_int_eq(hb_model_loss_grad(m, &loss), HB_OK);
    digest_f64(f, loss);
    digest_params(f, hb_model_params(m));
    digest_f64(f, (double)hb_model_num_batches(m));
}

/* ---- Small objects ------------------------------------------------------------------ */
static hb_params *make_params(hb_context *ctx) {
    hb_params *p = NULL;
    int64_t w[2] = {3, 4}, b[1] = {3};
    OK(hb_params_create(ctx, HB_F64, &p));
    OK(hb_params_add_block(p, "fc.weight", HB_BLOCK_LINEAR, 2, w, NULL));
    OK(hb_params_add_block(p, "fc.bias", HB_BLOCK_BIAS, 1, b, NULL));
    OK(hb_params_finalize(p));
    OK(hb_params_init_block(p, 0, HB_INIT_NORMAL, 0.0, 1.0));
    OK(hb_params_init_block(p, 1, HB_INIT_NORMAL, 0.0, 1.0));
    return p;
}

/* Small models of every built-in kind; bf16 / f32 variants through `dtype`. */
static hb_model *make_kind(hb_context *ctx, hb_model_kind kind, hb_dtype dtype) {
    hb_model_config *cfg = NULL;
    hb_model *m = NULL;
    OK(hb_model_config_create(ctx, kind, &cfg));
    OK(hb_model_config_set_i64(cfg, HB_MK_DTYPE, dtype));
    OK(hb_model_config_set_i64(cfg, HB_MK_BATCH, 3));
    switch (kind) {
    case HB_MODEL_QUADRATIC:
        OK(hb_model_config_set_i64(cfg, HB_MK_QUAD_BLOCKS, 2));
        OK(hb_model_config_set_i64(cfg, HB_MK_QUAD_BLOCK_SIZE, 4));
        break;
    case HB_MODEL_MLP:
        OK(hb_model_config_set_i64(cfg, HB_MK_INPUTS, 4));
        OK(hb_model_config_set_i64(cfg, HB_MK_WIDTH, 5));
        OK(hb_model_config_set_i64(cfg, HB_MK_LAYERS, 1));
        OK(hb_model_config_set_i64(cfg, HB_MK_CLASSES, 3));
        break;
    case HB_MODEL_GPT:
        OK(hb_model_config_set_i64(cfg, HB_MK_VOCAB, 11));
        OK(hb_model_config_set_i64(cfg, HB_MK_CONTEXT, 4));
        OK(hb_model_config_set_i64(cfg, HB_MK_WIDTH, 8));
        OK(hb_model_config_set_i64(cfg, HB_MK_HEADS, 2));
        OK(hb_model_config_set_i64(cfg, HB_MK_LAYERS, 1));
        break;
    case HB_MODEL_CNN:
        OK(hb_model_config_set_i64(cfg, HB_MK_IMAGE_SIZE, 4));
        OK(hb_model_config_set_i64(cfg, HB_MK_CONV_WIDTH, 2));
        OK(hb_model_config_set_i64(cfg, HB_MK_CONV_STAGES, 1));
        OK(hb_model_config_set_i64(cfg, HB_MK_CLASSES, 3));
        break;
    }
    OK(hb_model_create(ctx, cfg, &m));
    hb_model_config_free(cfg);
    return m;
}

/* L(θ) = ½Σ c_i θ_i² + Σ θ_i⁴/4 (a smooth objective with a θ-dependent Hessian). */
static int cb_loss_grad(void *user, const double *theta, size_t n, double *loss, double *grad) {
    (void)user;
    *loss = 0;
    for (size_t i = 0; i < n; i++) {
        double c = 1.0 + (double)i, t = theta[i];
        *loss += 0.5 * c * t * t + 0.25 * t * t * t * t;
        grad[i] = c * t + t * t * t;
    }
    return 0;
}
static int cb_hvp(void *user, const double *theta, size_t n, const double *v, double *out) {
    (void)user;
    for (size_t i = 0; i < n; i++) out[i] = (1.0 + (double)i + 3 * theta[i] * theta[i]) * v[i];
    return 0;
}
static hb_model *make_callbacks(hb_context *ctx, int exact) {
    hb_model *m = NULL;
    OK(hb_model_create_callbacks(ctx, make_params(ctx), cb_loss_grad, exact ? cb_hvp : NULL,
                                 NULL, &m));
    return m;
}

/* Models by a small integer, for cases run over several kinds. */
enum { M_QUAD, M_MLP, M_GPT, M_CNN, M_CB_EXACT, M_CB_FD, M_MLP_BF16, M_COUNT };
static hb_model *make_model(hb_context *ctx, int which) {
    switch (which) {
    case M_QUAD: return make_kind(ctx, HB_MODEL_QUADRATIC, HB_F64);
    case M_MLP: return make_kind(ctx, HB_MODEL_MLP, HB_F64);
    case M_GPT: return make_kind(ctx, HB_MODEL_GPT, HB_F32);
    case M_CNN: return make_kind(ctx, HB_MODEL_CNN, HB_F64);
    case M_CB_EXACT: return make_callbacks(ctx, 1);
    case M_CB_FD: return make_callbacks(ctx, 0);
    default: return make_kind(ctx, HB_MODEL_MLP, HB_BF16);
    }
}

static const double dense4[16] = {4, 1, 0, 0, 1, 3, 1, 0, 0, 1, 2, 1, 0, 0, 1, 1};

static hb_slq *make_slq(hb_context *ctx) {
    hb_slq *s = NULL;
    OK(hb_slq_create(ctx, &s));
    OK(hb_slq_set_i64(s, HB_SLQ_PROBES, 3));
    OK(hb_slq_set_i64(s, HB_SLQ_STEPS, 4));
    OK(hb_slq_set_i64(s, HB_SLQ_STREAM, 7)); /* fixed: a retry draws the same probes */
    return s;
}

/* Spectra with 3 probes each, from fixed nodes (no RNG). */
static hb_spectrum *make_spectrum(hb_context *ctx, double scale) {
    hb_spectrum *sp = NULL;
    OK(hb_spectrum_create(ctx, 10, &sp));
    for (int p = 0; p < 3; p++) {
        double nodes[3] = {-0.5 * scale, (1.0 + p) * scale, (3.0 + 0.5 * p) * scale};
        double weights[3] = {0.2, 0.5, 0.3};
        OK(hb_spectrum_add_probe(sp, nodes, weights, 3));
    }
    return sp;
}

static hb_sst_config *make_sst_config(hb_context *ctx, hb_sst_method method) {
    hb_sst_config *cfg = NULL;
    OK(hb_sst_config_create(ctx, method, &cfg));
    OK(hb_sst_config_add_kind(cfg, HB_BLOCK_LINEAR));
    OK(hb_sst_config_set_i64(cfg, HB_SST_RANK, 2));
    OK(hb_sst_config_set_i64(cfg, HB_SST_ITERATION, 2));
    return cfg;
}

/* A file path for checkpoint and text cases (removed by the case). */
static void temp_path(char *buf, size_t cap, const char *what) {
    snprintf(buf, cap, "/tmp/hb_faults_%ld_%s", (long)getpid(), what);
}

/* ---- Cases: (ctx, f, arg); each makes exactly one FAULT_CALL and frees what it made ---- */
typedef void (*case_fn)(hb_context *ctx, fault *f, int arg);

static void c_context(hb_context *ctx, fault *f, int arg) {
    (void)ctx;
    (void)arg;
    hb_context *c2 = NULL;
    int rc = HB_OK;
    f->no_message = 1; /* no context to hold a message when the context itself fails */
    /* the same counting allocator, so the armed count sees the new context's allocation */
    FAULT_CALL(f, (c2 = hb_test_context_with(f->st, &rc), rc));
    digest_f64(f, (double)hb_context_last_status(c2));
    hb_context_free(c2);
}

static void c_tensor_create(hb_context *ctx, fault *f, int arg) {
    int64_t shape[2] = {3, 5};
    hb_tensor *t = NULL;
    FAULT_CALL(f, arg ? hb_tensor_wrap(ctx, HB_F64, 2, shape, (double[15]){0}, &t)
                      : hb_tensor_create(ctx, HB_F64, 2, shape, &t));
    digest_f64(f, (double)hb_tensor_numel(t));
    hb_tensor_free(t);
}

static void c_params_create(hb_context *ctx, fault *f, int arg) {
    (void)arg;
    hb_params *p = NULL;
    FAULT_CALL(f, hb_params_create(ctx, HB_F32, &p));
    digest_f64(f, (double)hb_params_num_blocks(p));
    hb_params_free(p);
}

static void c_params_build(hb_context *ctx, fault *f, int arg) {
    hb_params *p = NULL;
    int64_t w[2] = {2, 3}, b[1] = {40};
    OK(hb_params_create(ctx, HB_BF16, &p));
    OK(hb_params_add_block(p, "a", HB_BLOCK_LINEAR, 2, w, NULL));
    /* 16 blocks before, so the armed add_block grows the table (capacity 16, doubling) */
    for (int i = 0; i < 15; i++) {
        char name[8];
        snprintf(name, sizeof name, "x%d", i);
        OK(hb_params_add_block(p, name, HB_BLOCK_OTHER, 1, b, NULL));
    }
    if (arg == 0) {
        size_t idx = 0;
        FAULT_CALL(f, hb_params_add_block(p, "c", HB_BLOCK_BIAS, 1, b, &idx));
        digest_f64(f, (double)idx);
        OK(hb_params_finalize(p));
    } else {
        FAULT_CALL(f, hb_params_finalize(p));
    }
    digest_f64(f, (double)hb_params_count(p));
    digest_f64(f, (double)hb_params_num_blocks(p));
    digest_params(f, p);
    hb_params_free(p);
}

static void c_params_view(hb_context *ctx, fault *f, int arg) {
    hb_params *p = make_params(ctx);
    hb_tensor *t = NULL;
    switch (arg) {
    case 0: FAULT_CALL(f, hb_params_block_view(p, 0, &t)); break;
    case 1: FAULT_CALL(f, hb_params_grad_block_view(p, 1, &t)); break;
    case 2: FAULT_CALL(f, hb_params_flat_view(p, &t)); break;
    default: FAULT_CALL(f, hb_params_grad_flat_view(p, &t)); break;
    }
    digest_tensor(f, t);
    hb_tensor_free(t);
    hb_params_free(p);
}

static void c_model_config_create(hb_context *ctx, fault *f, int arg) {
    hb_model_config *cfg = NULL;
    int64_t v = 0;
    FAULT_CALL(f, hb_model_config_create(ctx, (hb_model_kind)arg, &cfg));
    OK(hb_model_config_get_i64(cfg, HB_MK_BATCH, &v));
    digest_f64(f, (double)v);
    hb_model_config_free(cfg);
}

static void c_model_create(hb_context *ctx, fault *f, int arg) {
    hb_model_config *cfg = NULL;
    hb_model *m = NULL;
    OK(hb_model_config_create(ctx, (hb_model_kind)arg, &cfg));
    OK(hb_model_config_set_i64(cfg, HB_MK_BATCH, 2));
    if (arg == HB_MODEL_GPT) {
        OK(hb_model_config_set_i64(cfg, HB_MK_VOCAB, 7));
        OK(hb_model_config_set_i64(cfg, HB_MK_CONTEXT, 3));
        OK(hb_model_config_set_i64(cfg, HB_MK_WIDTH, 4));
        OK(hb_model_config_set_i64(cfg, HB_MK_HEADS, 2));
        OK(hb_model_config_set_i64(cfg, HB_MK_LAYERS, 1));
    } else if (arg == HB_MODEL_MLP) {
        OK(hb_model_config_set_i64(cfg, HB_MK_INPUTS, 3));
        OK(hb_model_config_set_i64(cfg, HB_MK_WIDTH, 4));
        OK(hb_model_config_set_i64(cfg, HB_MK_LAYERS, 2));
        OK(hb_model_config_set_i64(cfg, HB_MK_DTYPE, HB_BF16));
    } else if (arg == HB_MODEL_CNN) {
        OK(hb_model_config_set_i64(cfg, HB_MK_IMAGE_SIZE, 4));
        OK(hb_model_config_set_i64(cfg, HB_MK_CONV_WIDTH, 2));
        OK(hb_model_config_set_i64(cfg, HB_MK_CONV_STAGES, 1));
    } else {
        OK(hb_model_config_set_i64(cfg, HB_MK_QUAD_BLOCKS, 3));
        OK(hb_model_config_set_i64(cfg, HB_MK_QUAD_BLOCK_SIZE, 3));
    }
    /* creation draws streams of the context: reset the counter so a retry draws the same */
    OK(hb_context_set_i64(ctx, HB_CTX_SEED, 5));
    FAULT_CALL(f, (hb_context_set_i64(ctx, HB_CTX_SEED, 5), hb_model_create(ctx, cfg, &m)));
    hb_model_config_free(cfg);
    digest_model(f, m);
    hb_model_free(m);
}

static void c_model_create_quadratic(hb_context *ctx, fault *f, int arg) {
    size_t sizes[2] = {3, 2};
    const double ev0[3] = {1, 2, 3}, ev1[2] = {-1, 5};
    const double d1[4] = {2, 1, 1, 2};
    const double *ev[2] = {ev0, arg ? NULL : ev1}, *dense[2] = {NULL, arg ? d1 : NULL};
    const double h[5] = {1, 0, -1, 0.5, 2};
    hb_model *m = NULL;
    FAULT_CALL(f, (hb_context_set_i64(ctx, HB_CTX_SEED, 5),
                   hb_model_create_quadratic(ctx, HB_F32, 2, sizes, ev, dense, h, &m)));
    digest_model(f, m);
    hb_model_free(m);
}

static void c_model_create_callbacks(hb_context *ctx, fault *f, int arg) {
    hb_params *p = make_params(ctx);
    hb_model *m = NULL;
    FAULT_CALL(f, hb_model_create_callbacks(ctx, p, cb_loss_grad, arg ? cb_hvp : NULL, NULL, &m));
    digest_model(f, m);
    hb_model_free(m);
}

/* The same objective through the void-pointer callbacks of hb_model_callbacks (f64). */
static int cbx_loss_grad(void *user, const void *theta, size_t n, double *loss, void *grad) {
    return cb_loss_grad(user, theta, n, loss, grad);
}
static int cbx_hvp(void *user, const void *theta, size_t n, const void *v, void *out) {
    return cb_hvp(user, theta, n, v, out);
}

/* hb_model_create_callbacks_ex: 0 loss_grad only (finite differences), 1 with hvp. */
static void c_model_create_callbacks_ex(hb_context *ctx, fault *f, int arg) {
    hb_params *p = make_params(ctx);
    hb_model *m = NULL;
    hb_model_callbacks cb = HB_MODEL_CALLBACKS_INIT;
    cb.loss_grad = cbx_loss_grad;
    cb.hvp = arg ? cbx_hvp : NULL;
    FAULT_CALL(f, hb_model_create_callbacks_ex(ctx, p, &cb, &m));
    digest_model(f, m);
    hb_model_free(m);
}

/* ---- Networks (net.h) ---------------------------------------------------------------
 * Two scripts of builder calls, a transformer-like token net (arg 1..12) and an image net
 * (arg 100..106) after hb_net_create (arg 0): the step `arg` is the armed call (the last step of each is
 * hb_model_create_net), the others run clean; then a model is made, given a batch, and
 * digested (parameters and loss), so a failed step that left anything behind shows up. */
static int net_step(hb_context *ctx, hb_net *net, int step, hb_model **m) {
    static const int64_t img[3] = {2, 4, 4};
    switch (step) {
    case 1: return hb_net_input_tokens(net, "t", 4, 5);
    case 2: return hb_net_embedding(net, "wte", "t", "e", 4);
    case 3: return hb_net_pos_embedding(net, "wpe", "e", "x");
    case 4: return hb_net_layernorm(net, "ln", "x", "a", 0);
    case 5: return hb_net_attention(net, "attn", "a", "o", 2, 1);
    case 6: return hb_net_add(net, "x", "o", "r");
    case 7: return hb_net_rmsnorm(net, "rms", "r", "b", 0);
    case 8: return hb_net_linear(net, "fc", "b", "h", 6, 1, 0);
    case 9: return hb_net_activation(net, HB_ACT_GELU_ERF, "h", "g");
    case 10: return hb_net_linear(net, "head", "g", "z", 5, 0, HB_BLOCK_HEAD);
    case 11: return hb_net_loss_xent(net, "z");
    case 12: case 106: return (hb_context_set_i64(ctx, HB_CTX_SEED, 3), hb_model_create_net(net, m));
    case 100: return hb_net_input_features(net, "x", 3, img);
    case 101: return hb_net_conv2d(net, "c", "x", "y", 3, 3, 1, 1);
    case 102: return hb_net_pool2d(net, HB_POOL_MAX, "y", "p", 2);
    case 103: return hb_net_flatten(net, "p", "f");
    case 104: return hb_net_linear(net, "fc", "f", "z", 2, 1, 0);
    default: return hb_net_loss_mse(net, "z");
    }
}

static void c_net(hb_context *ctx, fault *f, int arg) {
    hb_net *net = NULL;
    hb_model *m = NULL;
    if (arg == 0) FAULT_CALL(f, hb_net_create(ctx, HB_F64, &net));
    else OK(hb_net_create(ctx, HB_F64, &net));
    const int first = arg >= 100 ? 100 : 1, last = arg >= 100 ? 106 : 12;
    for (int s = first; s <= last; s++) {
        if (s == arg && arg != 0) {
            /* The builder's arrays grow by doubling (8, 16, …): unused tanh activations
             * fill them so that the armed call must grow one (the activations for an op,
             * the op list for a loss) and so allocates. */
            bool loss = s == 11 || s == 105, model = s == 12 || s == 106;
            const char *base = first == 1 ? "e" : "x";
            for (int i = 0; !model && s > first + 1 && hb_net_op_count(net) % 8 != (loss ? 1u : 0u); i++) {
                char pad[16];
                snprintf(pad, sizeof pad, "pad%d", i);
                OK(hb_net_activation(net, HB_ACT_TANH, base, pad));
            }
            FAULT_CALL(f, net_step(ctx, net, s, &m));
        } else {
            OK(net_step(ctx, net, s, &m));
        }
    }
    digest_f64(f, (double)hb_net_op_count(net));
    hb_tensor *x = NULL, *y = NULL;
    if (first == 1) {
        int64_t sh[2] = {2, 4};
        OK(hb_tensor_create(ctx, HB_I32, 2, sh, &x));
        OK(hb_tensor_create(ctx, HB_I32, 2, sh, &y));
        for (size_t i = 0; i < 8; i++) OK(hb_tensor_set_f64(x, i, (double)(i % 5))), OK(hb_tensor_set_f64(y, i, (double)((i + 2) % 5)));
    } else {
        int64_t sx[4] = {2, 2, 4, 4}, sy[2] = {2, 2};
        OK(hb_tensor_create(ctx, HB_F64, 4, sx, &x));
        OK(hb_tensor_create(ctx, HB_F64, 2, sy, &y));
        for (size_t i = 0; i < 64; i++) OK(hb_tensor_set_f64(x, i, sin((double)i)));
        for (size_t i = 0; i < 4; i++) OK(hb_tensor_set_f64(y, i, cos((double)i)));
    }
    OK(hb_model_set_batch(m, x, y));
    digest_model(f, m);
    hb_tensor_free(x);
    hb_tensor_free(y);
    hb_model_free(m);
    hb_net_free(net);
}

/* A batch for the mlp of make_kind: (4, 4) f64 inputs, (4) i32 classes. */
static void mlp_batch(hb_context *ctx, double shift, hb_tensor **x, hb_tensor **y) {
    int64_t xs[2] = {4, 4}, ys[1] = {4};
    OK(hb_tensor_create(ctx, HB_F64, 2, xs, x));
    OK(hb_tensor_create(ctx, HB_I32, 1, ys, y));
    for (size_t i = 0; i < 16; i++) OK(hb_tensor_set_f64(*x, i, sin((double)i + shift)));
    for (size_t i = 0; i < 4; i++) OK(hb_tensor_set_f64(*y, i, (double)((i + 1) % 3)));
}

static void c_model_batch(hb_context *ctx, fault *f, int arg) {
    hb_model *m = make_kind(ctx, HB_MODEL_MLP, HB_F64);
    hb_tensor *x, *y;
    mlp_batch(ctx, 0.5, &x, &y);
    if (arg == 0) FAULT_CALL(f, hb_model_set_batch(m, x, y));
    else FAULT_CALL(f, hb_model_add_batch(m, x, y));
    hb_tensor_free(x);
    hb_tensor_free(y);
    digest_model(f, m);
    hb_model_free(m);
}

static void c_model_set_synthetic(hb_context *ctx, fault *f, int arg) {
    hb_model *m = make_model(ctx, arg);
    FAULT_CALL(f, hb_model_set_synthetic(m, 2, 3, 100));
    digest_model(f, m);
    hb_model_free(m);
}

static void c_model_set_text(hb_context *ctx, fault *f, int arg) {
    (void)arg;
    char path[128];
    temp_path(path, sizeof path, "text");
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    for (int i = 0; i < 64; i++) fputc(i % 11, fp);
    fclose(fp);
    hb_model *m = make_kind(ctx, HB_MODEL_GPT, HB_F32);
    FAULT_CALL(f, hb_model_set_text(m, path, 2, 1));
    remove(path);
    digest_model(f, m);
    hb_model_free(m);
}

/* A tiny IDX file (u8, 2×3) read back; arg 1: gzip-compressed. */
static void c_idx_read(hb_context *ctx, fault *f, int arg) {
    char path[128];
    temp_path(path, sizeof path, "idx");
    const unsigned char idx[] = {0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6};
    if (arg == 0) {
        FILE *fp = fopen(path, "wb");
        ck_assert_ptr_nonnull(fp);
        ck_assert_uint_eq(fwrite(idx, 1, sizeof idx, fp), sizeof idx);
        fclose(fp);
    } else {
        gzFile gz = gzopen(path, "wb");
        ck_assert_ptr_nonnull(gz);
        ck_assert_int_eq(gzwrite(gz, idx, sizeof idx), (int)sizeof idx);
        gzclose(gz);
    }
    hb_tensor *t = NULL;
    FAULT_CALL(f, hb_idx_read(ctx, path, &t));
    remove(path);
    if (t) ck_assert_uint_eq(hb_tensor_numel(t), 6);
    hb_tensor_free(t);
}

/* Image data: arg = model (M_MLP: 1×4 images, M_CNN: 4×4) * 2 + normalised. */
static void c_model_set_images(hb_context *ctx, fault *f, int arg) {
    int which = arg / 2;
    hb_model *m = make_model(ctx, which);
    int64_t side = which == M_CNN ? 4 : 1, xs[3] = {5, side, 4}, ys[1] = {5};
    hb_tensor *x = NULL, *y = NULL;
    OK(hb_tensor_create(ctx, HB_I32, 3, xs, &x));
    OK(hb_tensor_create(ctx, HB_I32, 1, ys, &y));
    for (size_t i = 0; i < hb_tensor_numel(x); i++) ((int32_t *)hb_tensor_data(x))[i] = (int32_t)(i * 37 % 256);
    for (int i = 0; i < 5; i++) ((int32_t *)hb_tensor_data(y))[i] = i % 3;
    if (arg % 2 == 0) FAULT_CALL(f, hb_model_set_images(m, x, y, 2, 3));
    else FAULT_CALL(f, hb_model_set_images_normalized(m, x, y, 2, 3, 0.5, 0.25));
    hb_tensor_free(x);
    hb_tensor_free(y);
    digest_model(f, m);
    hb_model_free(m);
}

/* Text corpora: arg 0 from files, 1 from buffers, 2 hb_model_set_corpus (a gpt, whose
 * data must be intact after a failure). */
static void c_text(hb_context *ctx, fault *f, int arg) {
    char path[2][128];
    const char *paths[2] = {path[0], path[1]};
    /* ≤ 11 distinct bytes: the gpt of make_kind has a vocabulary of 11 */
    static const char text[2][40] = {"a bad cab faced a dead bee.\n", "fed, aged, caged\n"};
    const void *data[2] = {text[0], text[1]};
    size_t sizes[2] = {strlen(text[0]), strlen(text[1])};
    for (int i = 0; i < 2; i++) {
        temp_path(path[i], sizeof path[i], i ? "corpus1" : "corpus0");
        FILE *fp = fopen(path[i], "wb");
        ck_assert_ptr_nonnull(fp);
        fputs(text[i], fp);
        fclose(fp);
    }
    hb_text_corpus *c = NULL;
    if (arg == 0) FAULT_CALL(f, hb_text_corpus_create(ctx, 2, paths, &c));
    else if (arg == 1) FAULT_CALL(f, hb_text_corpus_create_buffers(ctx, 2, data, sizes, &c));
    else OK(hb_text_corpus_create(ctx, 2, paths, &c));
    for (int i = 0; i < 2; i++) remove(path[i]);
    size_t V = hb_text_corpus_vocab_size(c);
    digest_f64(f, (double)V);
    digest_f64(f, (double)hb_text_corpus_num_tokens(c, HB_SPLIT_TRAIN));
    digest_f64(f, (double)hb_text_corpus_num_tokens(c, HB_SPLIT_VALID));
    if (arg == 2) {
        hb_model *m = make_kind(ctx, HB_MODEL_GPT, HB_F32);
        FAULT_CALL(f, hb_model_set_corpus(m, c, HB_SPLIT_TRAIN, 2, 1));
        digest_model(f, m);
        hb_model_free(m);
    }
    hb_text_corpus_free(c);
}

/* Evaluations: arg = model * 8 + which (0 loss, 1 loss_grad, 2 accuracy, 3 hvp, 4 multi,
 * 5 block_hvp). */
static void c_model_eval(hb_context *ctx, fault *f, int arg) {
    hb_model *m = make_model(ctx, arg / 8);
    hb_params *p = hb_model_params(m);
    size_t n = hb_params_count(p), nb = 0;
    OK(hb_params_block_info(p, 0, NULL, NULL, NULL, &nb, NULL, NULL));
    int64_t len = (arg % 8) == 5 ? (int64_t)nb : (int64_t)n, shape2[2] = {2, len};
    hb_tensor *v = NULL, *out = NULL;
    OK(hb_tensor_create(ctx, HB_F64, 2, shape2, &v));
    OK(hb_tensor_create(ctx, HB_F64, 2, shape2, &out));
    for (size_t i = 0; i < 2 * (size_t)len; i++) OK(hb_tensor_set_f64(v, i, cos(0.3 * (double)i)));
    hb_tensor *v1 = NULL, *o1 = NULL;
    OK(hb_tensor_create(ctx, HB_F64, 1, &len, &v1));
    OK(hb_tensor_create(ctx, HB_F32, 1, &len, &o1));
    for (size_t i = 0; i < (size_t)len; i++) OK(hb_tensor_set_f64(v1, i, 0.1 * (double)i - 0.2));
    double value = 0;
    switch (arg % 8) {
    case 0: FAULT_CALL(f, hb_model_loss(m, &value)); break;
    case 1: FAULT_CALL(f, hb_model_loss_grad(m, &value)); break;
    case 2: FAULT_CALL(f, hb_model_accuracy(m, &value)); break;
    case 3: FAULT_CALL(f, hb_model_hvp(m, v1, o1)); break;
    case 4: FAULT_CALL(f, hb_model_hvp_multi(m, v, out)); break;
    default: FAULT_CALL(f, hb_model_block_hvp(m, 0, v, out)); break;
    }
    digest_f64(f, value);
    digest_tensor(f, out);
    digest_tensor(f, o1);
    digest_model(f, m);
    hb_tensor_free(v);
    hb_tensor_free(out);
    hb_tensor_free(v1);
    hb_tensor_free(o1);
    hb_model_free(m);
}

/* Optimizers: arg 0..3 create of each kind; 4 + kind*2 + (0 step, 1 step on bf16 with a
 * master copy); 20 override by name; 21 override by kind; 22 value by block index (the
 * first call allocates the per-block table: the armed call is the first). */
static void c_optimizer(hb_context *ctx, fault *f, int arg) {
    hb_model *m = make_kind(ctx, HB_MODEL_MLP, arg >= 4 && arg < 20 && arg % 2 ? HB_BF16 : HB_F64);
    hb_params *p = hb_model_params(m);
    hb_optimizer *opt = NULL;
    if (arg < 4) {
        FAULT_CALL(f, hb_optimizer_create(ctx, (hb_optimizer_kind)(arg + 1), p, &opt));
    } else if (arg < 20) {
        hb_optimizer_kind kind = (hb_optimizer_kind)((arg - 4) / 2 + 1);
        OK(hb_optimizer_create(ctx, kind, p, &opt));
        if (arg % 2) OK(hb_optimizer_set_i64(opt, HB_OPT_MASTER_COPY, 1));
        if (kind == HB_OPTIM_SGD) OK(hb_optimizer_set_f64(opt, HB_OPT_MOMENTUM, 0.9));
        OK(hb_params_set_trainable(p, 1, 0)); /* a frozen block, then a new optimizer */
        hb_optimizer_free(opt);
        OK(hb_optimizer_create(ctx, kind, p, &opt));
        if (arg % 2) OK(hb_optimizer_set_i64(opt, HB_OPT_MASTER_COPY, 1));
        OK(hb_model_loss_grad(m, NULL));
        FAULT_CALL(f, hb_optimizer_step(opt));
        OK(hb_optimizer_step(opt));
    } else {
        OK(hb_optimizer_create(ctx, HB_OPTIM_ADAMW, p, &opt));
        /* the first override allocates the table: arg 21's armed call is the first */
        if (arg == 20) OK(hb_optimizer_override_f64(opt, "*", HB_OPT_LR, 0.5));
        if (arg == 20) FAULT_CALL(f, hb_optimizer_override_f64(opt, "*bias*", HB_OPT_LR, 0.25));
        else if (arg == 22) FAULT_CALL(f, hb_optimizer_set_block_f64(opt, 1, HB_OPT_LR, 0.0625));
        else FAULT_CALL(f, hb_optimizer_override_kind_f64(opt, HB_BLOCK_LINEAR, HB_OPT_LR, 0.125));
        OK(hb_model_loss_grad(m, NULL));
        OK(hb_optimizer_step(opt));
    }
    for (size_t b = 0; b < hb_params_num_blocks(p); b++) {
        double lr;
        OK(hb_optimizer_block_f64(opt, b, HB_OPT_LR, &lr));
        digest_f64(f, lr);
    }
    digest_f64(f, (double)hb_optimizer_step_count(opt));
    digest_model(f, m);
    hb_optimizer_free(opt);
    hb_model_free(m);
}

/* Checkpoints: 0 save to a file, 1 load from a file, 2 load from a buffer. */
static void c_checkpoint(hb_context *ctx, fault *f, int arg) {
    hb_model *m = make_kind(ctx, HB_MODEL_MLP, HB_F32);
    hb_params *p = hb_model_params(m);
    hb_optimizer *opt = NULL;
    OK(hb_optimizer_create(ctx, HB_OPTIM_ADAM_MINI, p, &opt));
    OK(hb_model_loss_grad(m, NULL));
    OK(hb_optimizer_step(opt));
    char path[128];
    temp_path(path, sizeof path, "ckpt");
    size_t size = 0;
    OK(hb_checkpoint_size(p, opt, &size));
    void *buf = malloc(size);
    OK(hb_checkpoint_save_buffer(p, opt, buf, size, NULL));
    OK(hb_optimizer_step(opt)); /* so that a load changes something */
    if (arg == 0) {
        FAULT_CALL(f, hb_checkpoint_save(path, p, opt));
        OK(hb_checkpoint_load(path, p, opt));
    } else if (arg == 1) {
        OK(hb_checkpoint_save(path, p, NULL));
        FAULT_CALL(f, hb_checkpoint_load(path, p, NULL));
    } else {
        /* into a fresh Adam-mini optimizer: the load allocates its partition state */
        hb_optimizer_free(opt);
        OK(hb_optimizer_create(ctx, HB_OPTIM_ADAM_MINI, p, &opt));
        FAULT_CALL(f, hb_checkpoint_load_buffer(buf, size, p, opt));
    }
    remove(path);
    free(buf);
    digest_f64(f, (double)hb_optimizer_step_count(opt));
    OK(hb_optimizer_step(opt));
    digest_model(f, m);
    hb_optimizer_free(opt);
    hb_model_free(m);
}

static int lin_cb(void *user, const double *x, double *y, size_t n) {
    (void)user;
    for (size_t i = 0; i < n; i++) y[i] = (double)(i + 1) * x[i] + (i ? x[i - 1] : 0.0) +
                                          (i + 1 < n ? x[i + 1] : 0.0);
    return 0;
}

/* Linear operators: 0 dense copy, 1 dense borrowed, 2 callback, 3 model block, 4 model
 * Hessian; +5: the same operator created unarmed and hb_linop_apply armed. */
static void c_linop(hb_context *ctx, fault *f, int arg) {
    hb_model *m = make_kind(ctx, HB_MODEL_MLP, HB_F64);
    hb_linop *op = NULL;
    int which = arg % 5, armed_apply = arg >= 5;
#define MAKE_OP(call) do { if (armed_apply) OK(call); else FAULT_CALL(f, call); } while (0)
    switch (which) {
    case 0: MAKE_OP(hb_linop_create_dense(ctx, dense4, 4, 1, &op)); break;
    case 1: MAKE_OP(hb_linop_create_dense(ctx, dense4, 4, 0, &op)); break;
    case 2: MAKE_OP(hb_linop_create_callback(ctx, 6, lin_cb, NULL, &op)); break;
    case 3: MAKE_OP(hb_linop_create_model_block(m, 0, &op)); break;
    default: MAKE_OP(hb_linop_create_model_hessian(m, &op)); break;
    }
#undef MAKE_OP
    size_t n = hb_linop_size(op);
    double *X = calloc(2 * n, sizeof *X), *Y = calloc(2 * n, sizeof *Y);
    for (size_t i = 0; i < 2 * n; i++) X[i] = sin((double)i);
    if (armed_apply) FAULT_CALL(f, hb_linop_apply(op, 2, X, Y));
    else OK(hb_linop_apply(op, 2, X, Y));
    digest(f, Y, 2 * n * sizeof *Y);
    free(X);
    free(Y);
    hb_linop_free(op);
    hb_model_free(m);
}

/* hb_slq_run_model_blocks (blocks 1, full, 0; groups of 2 of the 3 probes) into out[3],
 * freeing what a failed attempt left there first (a stopped run keeps finished entries). */
static int run_blocks3(hb_slq *s, hb_model *m, hb_spectrum **out) {
    static const size_t blocks[3] = {1, HB_SLQ_FULL_HESSIAN, 0};
    static const uint64_t streams[3] = {4, 5, 6};
    for (int i = 0; i < 3; i++) {
        hb_spectrum_free(out[i]);
        out[i] = NULL;
    }
    return hb_slq_run_model_blocks(s, m, blocks, streams, 3, out, NULL, NULL);
}

/* SLQ: 0 create; 1 run (dense); 2 run_model; 3 run_model_block; 4 trace; 5
 * trace_model_blocks; 6 topk; 7 block_heterogeneity; 8 run with an f32 basis, no reorth;
 * 9 run_model_blocks; 10 the same on 3 threads (allocations from the worker threads);
 * 11 topk_model_blocks (blocks 1, full, 0; k = 2). */
static void c_slq(hb_context *ctx, fault *f, int arg) {
    hb_model *m = make_kind(ctx, HB_MODEL_QUADRATIC, HB_F64);
    hb_slq *s = NULL;
    hb_linop *op = NULL;
    hb_spectrum *sp = NULL;
    double traces[4] = {0}, stderrs[4] = {0}, vals[2] = {0}, vecs[8] = {0}, res[2] = {0};
    size_t conv = 0;
    hb_spectrum *spectra[2] = {NULL, NULL};
    double js[4] = {0}, mean = 0;
    OK(hb_linop_create_dense(ctx, dense4, 4, 1, &op));
    if (arg == 0) {
        FAULT_CALL(f, hb_slq_create(ctx, &s));
        OK(hb_slq_set_i64(s, HB_SLQ_STREAM, 7));
    } else {
        s = make_slq(ctx);
    }
    if (arg == 8) {
        OK(hb_slq_set_i64(s, HB_SLQ_BASIS_DTYPE, HB_F32));
        OK(hb_slq_set_i64(s, HB_SLQ_REORTH, HB_REORTH_NONE));
    }
    hb_spectrum *many[3] = {NULL, NULL, NULL};
    if (arg >= 9) OK(hb_slq_set_i64(s, HB_SLQ_GROUP, 2));
    if (arg == 10) OK(hb_context_set_i64(ctx, HB_CTX_THREADS, 3));
    switch (arg) {
    case 0: OK(hb_slq_run(s, op, &sp)); break;
    case 1: case 8: FAULT_CALL(f, hb_slq_run(s, op, &sp)); break;
    case 2: FAULT_CALL(f, hb_slq_run_model(s, m, &sp)); break;
    case 3: FAULT_CALL(f, hb_slq_run_model_block(s, m, 1, &sp)); break;
    case 4: FAULT_CALL(f, hb_slq_trace(s, op, &traces[0], &stderrs[0])); break;
    case 5: FAULT_CALL(f, hb_slq_trace_model_blocks(s, m, traces, stderrs)); break;
    case 6: FAULT_CALL(f, hb_slq_topk(s, op, 2, HB_EIG_LARGEST, vals, vecs, res, &conv)); break;
    case 9: case 10: FAULT_CALL(f, run_blocks3(s, m, many)); break;
    case 11: {
        static const size_t blocks[3] = {1, HB_SLQ_FULL_HESSIAN, 0};
        static const uint64_t streams[3] = {4, 5, 6};
        double tv[6], tr[6];
        size_t tc[3];
        FAULT_CALL(f, hb_slq_topk_model_blocks(s, m, blocks, streams, 3, 2, HB_EIG_LARGEST, tv,
                                               tr, tc));
        digest(f, tv, sizeof tv);
        digest(f, tr, sizeof tr);
        digest(f, tc, sizeof tc);
        break;
    }
    default: {
        hb_js_options o = HB_JS_OPTIONS_INIT;
        o.grid_points = 64;
        o.normalize = 1;
        FAULT_CALL(f, hb_slq_block_heterogeneity(s, m, &o, spectra, js, &mean));
    }
    }
    if (sp) digest_spectrum(f, sp);
    for (int i = 0; i < 2; i++)
        if (spectra[i]) digest_spectrum(f, spectra[i]);
    for (int i = 0; i < 3; i++) {
        if (many[i]) digest_spectrum(f, many[i]);
        hb_spectrum_free(many[i]);
    }
    digest(f, traces, sizeof traces);
    digest(f, stderrs, sizeof stderrs);
    digest(f, vals, sizeof vals);
    digest(f, vecs, sizeof vecs);
    digest(f, js, sizeof js);
    digest_f64(f, mean);
    digest_f64(f, (double)conv);
    digest_model(f, m);
    hb_spectrum_free(spectra[0]);
    hb_spectrum_free(spectra[1]);
    hb_spectrum_free(sp);
    hb_linop_free(op);
    hb_slq_free(s);
    hb_model_free(m);
}

/* Checkpoint facts of a built-in model's params (format 2.1, model section): 0 info_read
 * from a file; 1 info_read_buffer; 2 info_model_config (the recorded configuration). */
static void c_checkpoint_info(hb_context *ctx, fault *f, int arg) {
    hb_model *m = make_kind(ctx, HB_MODEL_MLP, HB_F32);
    hb_params *p = hb_model_params(m);
    char path[128];
    temp_path(path, sizeof path, "ckinfo");
    size_t size = 0;
    OK(hb_checkpoint_size(p, NULL, &size));
    void *buf = malloc(size);
    OK(hb_checkpoint_save_buffer(p, NULL, buf, size, NULL));
    hb_checkpoint_info *info = NULL;
    hb_model_config *cfg = NULL;
    if (arg == 0) {
        OK(hb_checkpoint_save(path, p, NULL));
        FAULT_CALL(f, hb_checkpoint_info_read(ctx, path, &info));
    } else if (arg == 1) {
        FAULT_CALL(f, hb_checkpoint_info_read_buffer(ctx, buf, size, &info));
    } else {
        OK(hb_checkpoint_info_read_buffer(ctx, buf, size, &info));
        FAULT_CALL(f, hb_checkpoint_info_model_config(info, &cfg));
    }
    /* every fact (HB_ENOTFOUND ones as a marker), and the configuration's keys */
    for (int key = 1; key <= 24; key++) {
        int64_t v = -7;
        int rc = hb_checkpoint_info_get_i64(info, (hb_checkpoint_key)key, &v);
        digest_f64(f, (double)rc);
        digest_f64(f, (double)v);
    }
    if (cfg) {
        const hb_model_key keys[] = {HB_MK_INPUTS, HB_MK_WIDTH, HB_MK_LAYERS, HB_MK_CLASSES,
                                     HB_MK_BATCH, HB_MK_DTYPE};
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
            int64_t v = -7;
            OK(hb_model_config_get_i64(cfg, keys[i], &v));
            digest_f64(f, (double)v);
        }
    }
    remove(path);
    free(buf);
    hb_model_config_free(cfg);
    hb_checkpoint_info_free(info);
    hb_model_free(m);
}

/* Spectra and JS: 0 spectrum_create; 1 add_probe; 2 js_distance; 3 js_matrix (symlog);
 * 4 js_matrix_stderr; 5 zero_flags without is_zero; 6 restore_probe (with breakdown). */
static void c_spectra(hb_context *ctx, fault *f, int arg) {
    hb_spectrum *a = NULL, *b = make_spectrum(ctx, 2.0), *z = make_spectrum(ctx, 1e-30);
    const double nodes[2] = {0.5, 1.5}, weights[2] = {1, 3};
    double out[9] = {0}, mean = 0, tol = 0;
    size_t nz = 0;
    hb_js_options o = HB_JS_OPTIONS_INIT;
    o.grid_points = 32;
    o.normalize = 1;
    if (arg == 0) FAULT_CALL(f, hb_spectrum_create(ctx, 10, &a));
    else a = make_spectrum(ctx, 1.0);
    const hb_spectrum *three[3] = {a, b, z};
    switch (arg) {
    case 0: OK(hb_spectrum_add_probe(a, nodes, weights, 2)); break;
    case 1: FAULT_CALL(f, hb_spectrum_add_probe(a, nodes, weights, 2)); break;
    case 2: FAULT_CALL(f, hb_spectrum_js_distance(a, b, &o, &out[0])); break;
    case 3:
        o.grid = HB_JS_GRID_SYMLOG;
        FAULT_CALL(f, hb_spectra_js_matrix(three, 3, &o, out, &mean));
        break;
    case 4: FAULT_CALL(f, hb_spectra_js_matrix_stderr(three, 3, &o, 5, 9, out, &mean)); break;
    case 6: {
        const double rw[2] = {0.25, 0.75};
        int brk = 0;
        FAULT_CALL(f, hb_spectrum_restore_probe(a, nodes, rw, 2, 1));
        OK(hb_spectrum_probe(a, hb_spectrum_num_probes(a) - 1, NULL, NULL, NULL, &brk));
        digest_f64(f, (double)brk);
        break;
    }
    default: FAULT_CALL(f, hb_spectra_zero_flags(three, 3, &o, NULL, &nz, &tol)); break;
    }
    digest_spectrum(f, a);
    for (int i = 0; i < 9; i++) digest_f64(f, isnan(out[i]) ? -7.0 : out[i]);
    digest_f64(f, mean);
    digest_f64(f, tol);
    digest_f64(f, (double)nz);
    hb_spectrum_free(a);
    hb_spectrum_free(b);
    hb_spectrum_free(z);
}

/* SST: 0 config_create; 1 config_add_block; 2 create (SST); 3 create (LoRA). */
static void c_sst(hb_context *ctx, fault *f, int arg) {
    hb_model *inner = make_kind(ctx, HB_MODEL_MLP, HB_F64), *w = NULL;
    hb_sst_config *cfg = NULL;
    hb_sst_method method = arg == 3 ? HB_SST_METHOD_LORA : HB_SST_METHOD_SPECTRAL;
    if (arg == 0) {
        FAULT_CALL(f, hb_sst_config_create(ctx, method, &cfg));
        OK(hb_sst_config_add_kind(cfg, HB_BLOCK_LINEAR));
    } else if (arg == 1) {
        OK(hb_sst_config_create(ctx, method, &cfg));
        FAULT_CALL(f, hb_sst_config_add_block(cfg, hb_params_block_name(hb_model_params(inner), 0)));
    } else {
        cfg = make_sst_config(ctx, method);
    }
    if (arg >= 2) FAULT_CALL(f, (hb_context_set_i64(ctx, HB_CTX_SEED, 3), hb_sst_create(inner, cfg, &w)));
    else OK(hb_sst_create(inner, cfg, &w));
    size_t layers = 0;
    OK(hb_sst_num_layers(w, &layers));
    digest_f64(f, (double)layers);
    digest_model(f, w);
    hb_model_free(w);
    hb_sst_config_free(cfg);
    hb_model_free(inner);
}

/* Trainer: 0 create; 1 run (AdamW); 2 run on an SST wrapper with the built-in step;
 * 3 evaluate; 4 set_checkpoint. */
static void c_trainer(hb_context *ctx, fault *f, int arg) {
    hb_model *inner = make_kind(ctx, HB_MODEL_MLP, HB_F64), *m = inner, *w = NULL;
    hb_optimizer *opt = NULL;
    hb_trainer *tr = NULL;
    char path[128];
    temp_path(path, sizeof path, "train");
    if (arg == 2) {
        hb_sst_config *cfg = make_sst_config(ctx, HB_SST_METHOD_SPECTRAL);
        OK(hb_sst_create(inner, cfg, &w));
        hb_sst_config_free(cfg);
        m = w;
    } else {
        OK(hb_optimizer_create(ctx, HB_OPTIM_ADAMW, hb_model_params(m), &opt));
    }
    if (arg == 0) FAULT_CALL(f, hb_trainer_create(m, opt, &tr));
    else OK(hb_trainer_create(m, opt, &tr));
    OK(hb_trainer_set_i64(tr, HB_TR_EVAL_BATCHES, 2));
    if (arg == 4) FAULT_CALL(f, hb_trainer_set_checkpoint(tr, path, 2));
    if (arg != 1 && arg != 2) OK(hb_trainer_set_i64(tr, HB_TR_EVAL_EVERY, 2));
    /* A failed run keeps the steps it completed (train.h): the retry runs the rest. The
     * armed runs have no evaluation or checkpoint: an ENOMEM in those, after the step was
     * applied, loses the step's evaluation record / checkpoint on a retry (docs/
     * reliability.md, "Findings"); evaluation and saving are covered on their own. */
    if (arg == 1 || arg == 2) FAULT_CALL(f, hb_trainer_run(tr, 3 - hb_trainer_step(tr)));
    else OK(hb_trainer_run(tr, 3));
    double loss = 0, acc = 0;
    if (arg == 3) FAULT_CALL(f, hb_trainer_evaluate(tr, &loss, &acc));
    digest_f64(f, loss);
    digest_f64(f, acc);
    size_t nr = hb_trainer_num_records(tr);
    digest_f64(f, (double)nr);
    for (size_t i = 0; i < nr; i++) {
        double l, e;
        OK(hb_trainer_record_f64(tr, i, HB_REC_LOSS, &l));
        OK(hb_trainer_record_f64(tr, i, HB_REC_EVAL_LOSS, &e));
        digest_f64(f, l);
        digest_f64(f, isnan(e) ? -7.0 : e);
    }
    digest_model(f, m);
    remove(path);
    hb_trainer_free(tr);
    hb_optimizer_free(opt);
    hb_model_free(w);
    hb_model_free(inner);
}

/* ---- The classification ---------------------------------------------------------------
 * X(function, case, arg): a case making one armed call of `function`. One line each. */
#define HB_FAULT_CASES(X)                                                                    \
    X(hb_context_create_with_allocator, c_context, 0)                                        \
    X(hb_tensor_create, c_tensor_create, 0)                                                  \
    X(hb_tensor_wrap, c_tensor_create, 1)                                                    \
    X(hb_params_create, c_params_create, 0)                                                  \
    X(hb_params_add_block, c_params_build, 0)                                                \
    X(hb_params_finalize, c_params_build, 1)                                                 \
    X(hb_params_block_view, c_params_view, 0)                                                \
    X(hb_params_grad_block_view, c_params_view, 1)                                           \
    X(hb_params_flat_view, c_params_view, 2)                                                 \
    X(hb_params_grad_flat_view, c_params_view, 3)                                            \
    X(hb_model_config_create, c_model_config_create, HB_MODEL_GPT)                           \
    X(hb_model_create, c_model_create, HB_MODEL_QUADRATIC)                                   \
    X(hb_model_create, c_model_create, HB_MODEL_MLP)                                         \
    X(hb_model_create, c_model_create, HB_MODEL_GPT)                                         \
    X(hb_model_create, c_model_create, HB_MODEL_CNN)                                         \
    X(hb_model_create_quadratic, c_model_create_quadratic, 0)                                \
    X(hb_model_create_quadratic, c_model_create_quadratic, 1)                                \
    X(hb_model_create_callbacks, c_model_create_callbacks, 0)                                \
    X(hb_model_create_callbacks, c_model_create_callbacks, 1)                                \
    X(hb_net_create, c_net, 0)                                                               \
    X(hb_net_input_tokens, c_net, 1)                                                         \
    X(hb_net_embedding, c_net, 2)                                                            \
    X(hb_net_pos_embedding, c_net, 3)                                                        \
    X(hb_net_layernorm, c_net, 4)                                                            \
    X(hb_net_attention, c_net, 5)                                                            \
    X(hb_net_add, c_net, 6)                                                                  \
    X(hb_net_rmsnorm, c_net, 7)                                                              \
    X(hb_net_linear, c_net, 8)                                                               \
    X(hb_net_activation, c_net, 9)                                                           \
    X(hb_net_loss_xent, c_net, 11)                                                           \
    X(hb_model_create_net, c_net, 12)                                                        \
    X(hb_net_input_features, c_net, 100)                                                     \
    X(hb_net_conv2d, c_net, 101)                                                             \
    X(hb_net_pool2d, c_net, 102)                                                             \
    X(hb_net_flatten, c_net, 103)                                                            \
    X(hb_net_linear, c_net, 104)                                                             \
    X(hb_net_loss_mse, c_net, 105)                                                           \
    X(hb_model_create_net, c_net, 106)                                                       \
    X(hb_model_create_callbacks_ex, c_model_create_callbacks_ex, 0)                          \
    X(hb_model_create_callbacks_ex, c_model_create_callbacks_ex, 1)                          \
    X(hb_model_set_batch, c_model_batch, 0)                                                  \
    X(hb_model_add_batch, c_model_batch, 1)                                                  \
    X(hb_model_set_synthetic, c_model_set_synthetic, M_MLP)                                  \
    X(hb_model_set_synthetic, c_model_set_synthetic, M_GPT)                                  \
    X(hb_model_set_synthetic, c_model_set_synthetic, M_CNN)                                  \
    X(hb_model_set_text, c_model_set_text, 0)                                                \
    X(hb_idx_read, c_idx_read, 0)                                                            \
    X(hb_idx_read, c_idx_read, 1)                                                            \
    X(hb_model_set_images, c_model_set_images, M_MLP * 2)                                    \
    X(hb_model_set_images, c_model_set_images, M_CNN * 2)                                    \
    X(hb_model_set_images_normalized, c_model_set_images, M_MLP * 2 + 1)                     \
    X(hb_text_corpus_create, c_text, 0)                                                      \
    X(hb_text_corpus_create_buffers, c_text, 1)                                              \
    X(hb_model_set_corpus, c_text, 2)                                                        \
    X(hb_model_loss, c_model_eval, M_MLP * 8 + 0)                                            \
    X(hb_model_loss, c_model_eval, M_GPT * 8 + 0)                                            \
    X(hb_model_loss, c_model_eval, M_CNN * 8 + 0)                                            \
    X(hb_model_loss, c_model_eval, M_MLP_BF16 * 8 + 0)                                       \
    X(hb_model_loss_grad, c_model_eval, M_MLP * 8 + 1)                                       \
    X(hb_model_loss_grad, c_model_eval, M_GPT * 8 + 1)                                       \
    X(hb_model_loss_grad, c_model_eval, M_CNN * 8 + 1)                                       \
    X(hb_model_accuracy, c_model_eval, M_MLP * 8 + 2)                                        \
    X(hb_model_accuracy, c_model_eval, M_GPT * 8 + 2)                                        \
    X(hb_model_hvp, c_model_eval, M_QUAD * 8 + 3)                                            \
    X(hb_model_hvp, c_model_eval, M_MLP * 8 + 3)                                             \
    X(hb_model_hvp, c_model_eval, M_GPT * 8 + 3)                                             \
    X(hb_model_hvp, c_model_eval, M_CNN * 8 + 3)                                             \
    X(hb_model_hvp, c_model_eval, M_CB_EXACT * 8 + 3)                                        \
    X(hb_model_hvp, c_model_eval, M_CB_FD * 8 + 3)                                           \
    X(hb_model_hvp, c_model_eval, M_MLP_BF16 * 8 + 3)                                        \
    X(hb_model_hvp_multi, c_model_eval, M_QUAD * 8 + 4)                                      \
    X(hb_model_hvp_multi, c_model_eval, M_MLP * 8 + 4)                                       \
    X(hb_model_hvp_multi, c_model_eval, M_GPT * 8 + 4)                                       \
    X(hb_model_hvp_multi, c_model_eval, M_CNN * 8 + 4)                                       \
    X(hb_model_hvp_multi, c_model_eval, M_CB_FD * 8 + 4)                                     \
    X(hb_model_block_hvp, c_model_eval, M_QUAD * 8 + 5)                                      \
    X(hb_model_block_hvp, c_model_eval, M_MLP * 8 + 5)                                       \
    X(hb_model_block_hvp, c_model_eval, M_GPT * 8 + 5)                                       \
    X(hb_model_block_hvp, c_model_eval, M_CB_EXACT * 8 + 5)                                  \
    X(hb_optimizer_create, c_optimizer, 0)                                                   \
    X(hb_optimizer_create, c_optimizer, 1)                                                   \
    X(hb_optimizer_create, c_optimizer, 2)                                                   \
    X(hb_optimizer_create, c_optimizer, 3)                                                   \
    X(hb_optimizer_step, c_optimizer, 4 + 2 * 3 + 0)                                         \
    X(hb_optimizer_step, c_optimizer, 4 + 2 * 3 + 1)                                         \
    X(hb_optimizer_step, c_optimizer, 4 + 2 * 2 + 1)                                         \
    X(hb_optimizer_override_f64, c_optimizer, 20)                                            \
    X(hb_optimizer_override_kind_f64, c_optimizer, 21)                                       \
    X(hb_optimizer_set_block_f64, c_optimizer, 22)                                           \
    X(hb_checkpoint_save, c_checkpoint, 0)                                                   \
    X(hb_checkpoint_load, c_checkpoint, 1)                                                   \
    X(hb_checkpoint_load_buffer, c_checkpoint, 2)                                            \
    X(hb_checkpoint_info_read, c_checkpoint_info, 0)                                         \
    X(hb_checkpoint_info_read_buffer, c_checkpoint_info, 1)                                  \
    X(hb_checkpoint_info_model_config, c_checkpoint_info, 2)                                 \
    X(hb_linop_create_dense, c_linop, 0)                                                     \
    X(hb_linop_create_dense, c_linop, 1)                                                     \
    X(hb_linop_create_callback, c_linop, 2)                                                  \
    X(hb_linop_create_model_block, c_linop, 3)                                               \
    X(hb_linop_create_model_hessian, c_linop, 4)                                             \
    X(hb_linop_apply, c_linop, 5 + 3)                                                        \
    X(hb_linop_apply, c_linop, 5 + 4)                                                        \
    X(hb_slq_create, c_slq, 0)                                                               \
    X(hb_slq_run, c_slq, 1)                                                                  \
    X(hb_slq_run, c_slq, 8)                                                                  \
    X(hb_slq_run_model, c_slq, 2)                                                            \
    X(hb_slq_run_model_block, c_slq, 3)                                                      \
    X(hb_slq_trace, c_slq, 4)                                                                \
    X(hb_slq_trace_model_blocks, c_slq, 5)                                                   \
    X(hb_slq_topk, c_slq, 6)                                                                 \
    X(hb_slq_block_heterogeneity, c_slq, 7)                                                  \
    X(hb_slq_run_model_blocks, c_slq, 9)                                                     \
    X(hb_slq_run_model_blocks, c_slq, 10)                                                    \
    X(hb_slq_topk_model_blocks, c_slq, 11)                                                   \
    X(hb_spectrum_create, c_spectra, 0)                                                      \
    X(hb_spectrum_add_probe, c_spectra, 1)                                                   \
    X(hb_spectrum_js_distance, c_spectra, 2)                                                 \
    X(hb_spectra_js_matrix, c_spectra, 3)                                                    \
    X(hb_spectra_js_matrix_stderr, c_spectra, 4)                                             \
    X(hb_spectra_zero_flags, c_spectra, 5)                                                   \
    X(hb_spectrum_restore_probe, c_spectra, 6)                                               \
    X(hb_sst_config_create, c_sst, 0)                                                        \
    X(hb_sst_config_add_block, c_sst, 1)                                                     \
    X(hb_sst_create, c_sst, 2)                                                               \
    X(hb_sst_create, c_sst, 3)                                                               \
    X(hb_trainer_create, c_trainer, 0)                                                       \
    X(hb_trainer_run, c_trainer, 1)                                                          \
    X(hb_trainer_run, c_trainer, 2)                                                          \
    X(hb_trainer_evaluate, c_trainer, 3)                                                     \
    X(hb_trainer_set_checkpoint, c_trainer, 4)

/* Functions that make no allocation through the context allocator, one line each:
 * NO_ALLOC(name, "why"). `fault_coverage` checks every NO_ALLOC against the call graph of
 * the library's code (tests/alloc_callgraph.py): no path from it may reach an allocation.
 * NO_ALLOC_CG(name, "why") is for a function whose only path to an allocation in that
 * graph is an indirect call the graph cannot resolve (it then follows every function whose
 * address is taken): "why" says what the call really reaches. These lines are read by the
 * script, not by the compiler.
 * NO_ALLOC(hb_context_create, "malloc's the context (no hook to fail); else the code of hb_context_create_with_allocator")
 * NO_ALLOC_CG(hb_model_free, "indirect: the model's own free, which only frees")
 * NO_ALLOC_CG(hb_optimizer_lr_factor, "indirect: the user's schedule callback")
 * NO_ALLOC(hb_bf16_to_f32, "converts one value")
 * NO_ALLOC(hb_block_kind_name, "returns a static string")
 * NO_ALLOC(hb_checkpoint_info_free, "frees only")
 * NO_ALLOC(hb_checkpoint_info_get_i64, "reads fields")
 * NO_ALLOC(hb_checkpoint_save_buffer, "serialises into the caller's buffer")
 * NO_ALLOC(hb_checkpoint_size, "computes a size from the block table")
 * NO_ALLOC(hb_context_free, "frees only")
 * NO_ALLOC(hb_context_get_i64, "reads fields")
 * NO_ALLOC(hb_context_last_error, "reads fields")
 * NO_ALLOC(hb_context_last_status, "reads fields")
 * NO_ALLOC(hb_context_next_stream, "increments a counter")
 * NO_ALLOC(hb_context_set_i64, "writes fields of the handle")
 * NO_ALLOC_CG(hb_context_set_comm, "indirect: the previous hook's release, user code; copies the struct")
 * NO_ALLOC(hb_context_set_log, "writes fields of the handle")
 * NO_ALLOC(hb_context_set_progress, "writes fields of the handle")
 * NO_ALLOC(hb_dtype_size, "returns a constant")
 * NO_ALLOC(hb_images_stats, "reads the caller's tensor")
 * NO_ALLOC(hb_f32_to_bf16, "converts one value")
 * NO_ALLOC(hb_linop_free, "frees only")
 * NO_ALLOC(hb_linop_size, "reads fields")
 * NO_ALLOC(hb_text_corpus_free, "frees only")
 * NO_ALLOC(hb_text_corpus_vocab_size, "reads fields")
 * NO_ALLOC(hb_text_corpus_token_byte, "reads fields")
 * NO_ALLOC(hb_text_corpus_byte_token, "reads fields")
 * NO_ALLOC(hb_text_corpus_num_tokens, "reads fields")
 * NO_ALLOC(hb_text_corpus_copy_tokens, "copies into the caller's array")
 * NO_ALLOC(hb_model_batch_copy, "copies into the caller's buffer")
 * NO_ALLOC(hb_model_batch_shape, "reads fields")
 * NO_ALLOC(hb_model_config_free, "frees only")
 * NO_ALLOC(hb_model_config_get_f64, "reads fields")
 * NO_ALLOC(hb_model_config_get_i64, "reads fields")
 * NO_ALLOC(hb_model_config_set_f64, "writes fields of the handle")
 * NO_ALLOC(hb_model_config_set_i64, "writes fields of the handle")
 * NO_ALLOC(hb_model_context, "reads fields")
 * NO_ALLOC(hb_model_has_exact_hvp, "reads fields")
 * NO_ALLOC(hb_model_kind_of, "reads fields")
 * NO_ALLOC(hb_model_name, "returns a static string")
 * NO_ALLOC(hb_model_num_batches, "reads fields")
 * NO_ALLOC(hb_model_num_samples, "reads fields")
 * NO_ALLOC(hb_model_params, "reads fields")
 * NO_ALLOC(hb_model_quadratic_eigenvalues, "copies / LAPACK into the caller's array (LAPACKE_dsyev_work, workspace held by the model)")
 * NO_ALLOC(hb_model_quadratic_matrix, "copies into the caller's array")
 * NO_ALLOC(hb_model_set_data_parallel, "sets a flag after checking it (data across ranks)")
 * NO_ALLOC(hb_optimizer_block_f64, "reads fields")
 * NO_ALLOC(hb_optimizer_block_step_count, "reads fields")
 * NO_ALLOC(hb_optimizer_free, "frees only")
 * NO_ALLOC(hb_optimizer_get_f64, "reads fields")
 * NO_ALLOC(hb_optimizer_get_i64, "reads fields")
 * NO_ALLOC(hb_optimizer_kind_name, "returns a static string")
 * NO_ALLOC(hb_optimizer_kind_of, "reads fields")
 * NO_ALLOC(hb_optimizer_params, "reads fields")
 * NO_ALLOC(hb_optimizer_partitions, "reads fields")
 * NO_ALLOC(hb_optimizer_reset, "zeroes existing state")
 * NO_ALLOC(hb_optimizer_reset_block, "zeroes existing state")
 * NO_ALLOC(hb_optimizer_reset_range, "zeroes existing state")
 * NO_ALLOC(hb_optimizer_schedule_callback, "writes fields of the handle")
 * NO_ALLOC(hb_optimizer_schedule_constant, "writes fields of the handle")
 * NO_ALLOC(hb_optimizer_schedule_cosine, "writes fields of the handle")
 * NO_ALLOC(hb_optimizer_set_f64, "writes fields of the handle")
 * NO_ALLOC(hb_optimizer_set_i64, "writes fields of the handle")
 * NO_ALLOC(hb_optimizer_state_bytes, "reads fields")
 * NO_ALLOC(hb_optimizer_step_count, "reads fields")
 * NO_ALLOC(hb_params_block_info, "reads fields")
 * NO_ALLOC(hb_params_block_name, "reads fields")
 * NO_ALLOC(hb_params_block_trainable, "reads fields")
 * NO_ALLOC(hb_params_context, "reads fields")
 * NO_ALLOC(hb_params_count, "reads fields")
 * NO_ALLOC(hb_params_data, "reads fields")
 * NO_ALLOC(hb_params_dtype, "reads fields")
 * NO_ALLOC(hb_params_find_block, "reads fields")
 * NO_ALLOC(hb_params_free, "frees only")
 * NO_ALLOC(hb_params_grad, "reads fields")
 * NO_ALLOC(hb_params_grad_dtype, "reads fields")
 * NO_ALLOC(hb_params_init_block, "fills an existing block (counter-based RNG)")
 * NO_ALLOC(hb_params_is_finalized, "reads fields")
 * NO_ALLOC(hb_params_num_blocks, "reads fields")
 * NO_ALLOC(hb_params_set_trainable, "writes fields of the handle")
 * NO_ALLOC(hb_params_trainable_count, "reads fields")
 * NO_ALLOC(hb_params_zero_grad, "zeroes an existing buffer")
 * NO_ALLOC(hb_random_fill_f64, "fills the caller's array (counter-based RNG)")
 * NO_ALLOC(hb_slq_free, "frees only")
 * NO_ALLOC(hb_slq_get_f64, "reads fields")
 * NO_ALLOC(hb_slq_get_i64, "reads fields")
 * NO_ALLOC(hb_slq_set_f64, "writes fields of the handle")
 * NO_ALLOC(hb_slq_set_i64, "writes fields of the handle")
 * NO_ALLOC(hb_spectrum_default_sigma, "reads fields")
 * NO_ALLOC(hb_spectrum_density, "evaluates into the caller's array")
 * NO_ALLOC(hb_spectrum_dim, "reads fields")
 * NO_ALLOC(hb_spectrum_extremes, "scans the probes")
 * NO_ALLOC(hb_spectrum_free, "frees only")
 * NO_ALLOC(hb_spectrum_moment, "sums over the probes")
 * NO_ALLOC(hb_spectrum_num_probes, "reads fields")
 * NO_ALLOC(hb_spectrum_probe, "reads fields")
 * NO_ALLOC(hb_spectrum_save_csv, "stdio only (its FILE buffer is libc's: docs/reliability.md)")
 * NO_ALLOC(hb_spectrum_save_json, "stdio only (its FILE buffer is libc's: docs/reliability.md)")
 * NO_ALLOC(hb_spectrum_set_unit_roundoff, "writes fields of the handle")
 * NO_ALLOC(hb_net_free, "frees only")
 * NO_ALLOC(hb_net_op_count, "reads fields")
 * NO_ALLOC(hb_net_activation_shape, "reads fields")
 * NO_ALLOC(hb_net_rename_block, "writes a fixed-size name in place")
 * NO_ALLOC(hb_net_set_block_kind, "writes a field")
 * NO_ALLOC(hb_net_set_init, "writes fields")
 * NO_ALLOC(hb_spectrum_to_csv, "formats into the caller's buffer")
 * NO_ALLOC(hb_spectrum_to_json, "formats into the caller's buffer")
 * NO_ALLOC(hb_spectrum_trace, "sums over the probes")
 * NO_ALLOC(hb_spectrum_unit_roundoff, "reads fields")
 * NO_ALLOC(hb_sst_active, "reads the idx block")
 * NO_ALLOC(hb_sst_begin_step, "re-SVD and redraw in the workspace hb_sst_create allocated")
 * NO_ALLOC(hb_sst_config_add_kind, "sets a bit of a kind mask")
 * NO_ALLOC(hb_sst_config_free, "frees only")
 * NO_ALLOC(hb_sst_config_set_f64, "writes fields of the handle")
 * NO_ALLOC(hb_sst_config_set_i64, "writes fields of the handle")
 * NO_ALLOC(hb_sst_end_step, "clamps s in place")
 * NO_ALLOC(hb_sst_inner, "reads fields")
 * NO_ALLOC(hb_sst_is_wrapper, "reads fields")
 * NO_ALLOC(hb_sst_layer_info, "reads fields")
 * NO_ALLOC(hb_sst_method_of, "reads fields")
 * NO_ALLOC(hb_sst_num_layers, "reads fields")
 * NO_ALLOC(hb_sst_resvd, "re-SVD in the workspace hb_sst_create allocated")
 * NO_ALLOC(hb_sst_sync, "forms W in the inner model's existing buffers")
 * NO_ALLOC(hb_sst_trainable_count, "reads fields")
 * NO_ALLOC(hb_status_name, "returns a static string")
 * NO_ALLOC(hb_strerror, "returns a static string")
 * NO_ALLOC(hb_tensor_copy, "converts between existing buffers")
 * NO_ALLOC(hb_tensor_data, "reads fields")
 * NO_ALLOC(hb_tensor_data_const, "reads fields")
 * NO_ALLOC(hb_tensor_dim, "reads fields")
 * NO_ALLOC(hb_tensor_dtype, "reads fields")
 * NO_ALLOC(hb_tensor_fill, "writes an existing buffer")
 * NO_ALLOC(hb_tensor_free, "frees only")
 * NO_ALLOC(hb_tensor_get_f64, "reads fields")
 * NO_ALLOC(hb_tensor_is_owned, "reads fields")
 * NO_ALLOC(hb_tensor_nbytes, "reads fields")
 * NO_ALLOC(hb_tensor_ndim, "reads fields")
 * NO_ALLOC(hb_tensor_numel, "reads fields")
 * NO_ALLOC(hb_tensor_set_f64, "writes fields of the handle")
 * NO_ALLOC(hb_trainer_free, "frees only")
 * NO_ALLOC(hb_trainer_get_f64, "reads fields")
 * NO_ALLOC(hb_trainer_get_i64, "reads fields")
 * NO_ALLOC(hb_trainer_num_records, "reads fields")
 * NO_ALLOC(hb_trainer_record_block_norm, "reads fields")
 * NO_ALLOC(hb_trainer_record_f64, "reads fields")
 * NO_ALLOC(hb_trainer_records_f64, "copies into the caller's array")
 * NO_ALLOC(hb_trainer_set_data_fn, "writes fields of the handle")
 * NO_ALLOC(hb_trainer_set_eval_fn, "writes fields of the handle")
 * NO_ALLOC(hb_trainer_set_f64, "writes fields of the handle")
 * NO_ALLOC(hb_trainer_set_i64, "writes fields of the handle")
 * NO_ALLOC(hb_trainer_step, "reads fields")
 * NO_ALLOC(hb_version_number, "returns a constant")
 * NO_ALLOC(hb_version_string, "returns a static string") */

typedef struct fault_case {
    const char *function;
    case_fn fn;
    int arg;
} fault_case;

#define HB_FAULT_ENTRY_(name, fn, arg) {#name, fn, arg},
static const fault_case cases[] = {HB_FAULT_CASES(HB_FAULT_ENTRY_)};
#undef HB_FAULT_ENTRY_
enum { N_CASES = sizeof cases / sizeof cases[0] };

/* One run of a case with the k-th allocation of its armed call failing (k = 0: clean). */
static fault run_once(const fault_case *c, long k) {
    hb_test_alloc st = {0, 0, 0};
    int rc;
    fault f = {&st, NULL, k, 0, 0, 14695981039346656037ull, 0};
    f.ctx = hb_test_context_with(&st, &rc);
    ck_assert_int_eq(rc, HB_OK);
    c->fn(f.ctx, &f, c->arg);
    ck_assert_msg(f.armed == 1, "%s (arg %d): %d armed calls, not 1", c->function, c->arg, f.armed);
    hb_context_free(f.ctx);
    ck_assert_msg(st.live == 0, "%s (arg %d), k = %ld: %ld blocks leaked", c->function, c->arg,
                  k, st.live);
    return f;
}

static long total_injected;

START_TEST(test_fault_case) {
    const fault_case *c = &cases[_i];
    fault clean = run_once(c, 0);
    ck_assert_msg(clean.calls >= 1, "%s (arg %d) allocates nothing through the context: move "
                  "it to the NO_ALLOC list of tests/test_faults.c", c->function, c->arg);
    for (long k = 1; k <= clean.calls; k++) {
        fault f = run_once(c, k);
        ck_assert_msg(f.hash == clean.hash, "%s (arg %d): after ENOMEM at allocation %ld of %ld "
                      "and a retry, the results differ from a clean run", c->function, c->arg,
                      k, clean.calls);
    }
    total_injected += clean.calls;
}
END_TEST

Suite *hb_suite_faults(void) {
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("faults");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_fault_case, 0, N_CASES);
    suite_add_tcase(s, tc);
    return s;
}
