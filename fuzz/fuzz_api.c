/* libFuzzer target: random sequences of public API calls (issue 16.3; tools/fuzz.sh).
 *
 * The input is a program: byte 0 chooses which allocation of the context fails (0 = none,
 * so allocation failures are fuzzed too), then each operation is one byte (which call)
 * followed by the bytes of its arguments: slot numbers of the handles it uses (an empty
 * slot passes NULL), sizes, enums and reals from tables of valid and invalid values (NaN,
 * ±Inf, negative, huge). Objects are small (quadratic / mlp / gpt / cnn models of a few
 * dozen parameters, callback models, linops, SLQ, spectra, JS, optimizers, checkpoints to
 * memory, SST wrappers, trainers). Every handle is freed at the end.
 *
 * What counts as a bug: a crash, a sanitizer report (ASan, UBSan), a leak (LeakSanitizer),
 * a status that is neither HB_OK nor a documented negative code, or live blocks of the
 * context's allocator after everything was freed. (Whether a failure left a message is not
 * checked here: a call given a NULL handle has no context to write it to.) Calls that the API contract forbids
 * (freeing a model an optimizer still borrows, say) are not generated: handles are freed
 * only at the end, in dependency order.
 *
 * The allocator refuses single blocks above 64 MiB and more than 256 MiB live, so sizes
 * chosen by the fuzzer end in HB_ENOMEM / HB_EOVERFLOW instead of exhausting the machine.
 * Reals, counts and option values come from small tables so that no input makes the
 * library compute for long (libFuzzer's -timeout would report it). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hessblock/hessblock.h"

/* ---- Input ------------------------------------------------------------------------- */
static const uint8_t *in;
static size_t in_len, in_pos;
static unsigned u8(void) { return in_pos < in_len ? in[in_pos++] : 0; }
static unsigned pick(unsigned n) { return u8() % n; }

static const double reals[] = {0.0, 1.0, -1.0, 0.5, 2.0, 1e-3, 0.9, 0.999, 1e-8, 3.0, 100.0,
                               -0.5, 1e300, -1e300, 1e-310, NAN, INFINITY, -INFINITY, 0.25, 10.0};
static double real(void) { return reals[pick(sizeof reals / sizeof *reals)]; }

static const int64_t ints[] = {0, 1, 2, 3, 4, 1, 2, -1, 5, 8, 16, -2, 3, 1, 2, 7,
                               INT64_MAX, INT64_MIN, (int64_t)1 << 40, 100000};
static int64_t i64(void) { return ints[pick(sizeof ints / sizeof *ints)]; }
static size_t small(void) { return (size_t)pick(6); } /* counts, indices: 0..5 */

/* ---- Allocator: counting, failing at a chosen allocation, capped ------------------------ */
typedef struct { size_t size; size_t pad; } header;
static long alloc_calls, alloc_fail_at, live_blocks;
static size_t live_bytes;
static void *fz_alloc(void *opaque, size_t bytes) {
    (void)opaque;
    alloc_calls++;
    if (alloc_calls == alloc_fail_at) return NULL;
    if (bytes > ((size_t)64 << 20) || live_bytes + bytes > ((size_t)256 << 20)) return NULL;
    header *h = malloc(sizeof(header) + (bytes ? bytes : 1));
    if (!h) return NULL;
    h->size = bytes;
    live_blocks++;
    live_bytes += bytes;
    return h + 1;
}
static void fz_free(void *opaque, void *ptr) {
    (void)opaque;
    if (!ptr) return;
    header *h = (header *)ptr - 1;
    live_blocks--;
    live_bytes -= h->size;
    free(h);
}

/* ---- Handles ----------------------------------------------------------------------------
 * Dependencies (freed at the end in this order): trainers → linops → optimizers → sst
 * wrappers → models → params. A model owns its params; params handed to
 * hb_model_create_callbacks move into the model. */
enum { NT = 4, NP = 2, NM = 4, NO = 2, NL = 2, NS = 4, NTR = 2 };
static hb_context *ctx;
static hb_tensor *tens[NT];
static hb_params *params[NP];
static hb_model *models[NM]; /* slot 3: SST/LoRA wrappers only (they borrow their inner model) */
static hb_optimizer *opts[NO];
static hb_linop *linops[NL];
static hb_slq *slq;
static hb_spectrum *spectra[NS];
static hb_model_config *mcfg;
static hb_sst_config *scfg;
static hb_trainer *trainers[NTR];
static unsigned char ckpt[1 << 16];
static size_t ckpt_len;
static int cb_mode; /* the user callbacks' behaviour: 0 fine, 1 fail, 2 NaN */

static void check_status(int rc) {
    if (rc > 0 || !hb_status_name(rc)) {
        fprintf(stderr, "undocumented status %d\n", rc);
        abort();
    }
}
#define CALL(x) check_status(x)

static int cb_loss_grad(void *user, const double *theta, size_t n, double *loss, double *grad) {
    (void)user;
    if (cb_mode == 1) return 1;
    *loss = 0;
    for (size_t i = 0; i < n; i++) {
        *loss += 0.5 * (double)(i + 1) * theta[i] * theta[i];
        grad[i] = cb_mode == 2 ? NAN : (double)(i + 1) * theta[i];
    }
    return 0;
}
static int cb_hvp(void *user, const double *theta, size_t n, const double *v, double *out) {
    (void)user;
    (void)theta;
    if (cb_mode == 1) return 1;
    for (size_t i = 0; i < n; i++) out[i] = cb_mode == 2 ? NAN : (double)(i + 1) * v[i];
    return 0;
}
static int cb_linop(void *user, const double *x, double *y, size_t n) {
    (void)user;
    if (cb_mode == 1) return 1;
    for (size_t i = 0; i < n; i++) y[i] = cb_mode == 2 ? INFINITY : (2.0 + (double)i) * x[i];
    return 0;
}
static double cb_schedule(void *user, int64_t step) {
    (void)user;
    return cb_mode ? -1.0 : 1.0 / ((double)step + 1.0); /* step may be INT64_MAX */
}
static int cb_progress(void *user, const char *task, int64_t done, int64_t total) {
    (void)user;
    (void)task;
    (void)total;
    return cb_mode == 1 && done > 1;
}
static void cb_log(void *user, int level, const char *message) {
    (void)user;
    (void)level;
    (void)strlen(message);
}
static int cb_data(void *user, hb_model *m, int64_t step) {
    (void)user;
    if (cb_mode == 1) return 1;
    return hb_model_set_synthetic(m, 1, 0, (uint64_t)step) == HB_OK ? 0 : 1;
}

static const double dense4[16] = {4, 1, 0, 0, 1, 3, 1, 0, 0, 1, 2, 1, 0, 0, 1, 1};

/* A model slot (0..2) or, with the wrapper slot, 3. */
static hb_model **model_slot(int wrappers) { return &models[pick(wrappers ? NM : NM - 1)]; }
static hb_model *any_model(void) { return models[pick(NM)]; }

/* ---- Networks (hb_net_*, hb_model_create_net) -----------------------------------------
 * A builder call takes its names from small tables, so that a random program often
 * writes a NEW activation "a<k>" read from an existing one (a valid chain) and sometimes
 * an empty, NULL, 127- or 128-byte name, a duplicate or an unknown one. Sizes come from
 * `dim` (valid ones at most 8: no op computes for long; 0, negative, 2^40, INT64_MAX).
 * What the net accepted is remembered (input, loss) so that data of the right shape can
 * be made for the models of the net, and then spoilt (dtype, a dimension, ids, NaN). */
enum { NN = 2, NA = 8 };
typedef struct {
    int input;            /* 0 none, 1 tokens, 2 features */
    int64_t context, vocab;
    int ndim;
    int64_t shape[3];     /* features: per-sample shape */
    int loss;             /* 0 none, 1 xent, 2 mse */
    int pred_ndim;        /* models only: per-sample shape of the loss's activation */
    int64_t pred[3];
    char loss_act[HB_MAX_BLOCK_NAME + 1];
    int acts;             /* activations "a0".."a<acts-1>" written so far */
} net_info;
static hb_net *nets[NN];
static net_info ninfo[NN];
static net_info minfo[NM]; /* model slot made from a net: its net's info; .input 0 otherwise */
static char name127[HB_MAX_BLOCK_NAME + 1], name128[HB_MAX_BLOCK_NAME + 2];
/* What the net calls reached (printed at exit when FUZZ_API_STATS is set: run the fuzzer
 * with -runs=0 over a corpus to see how much of it gets past the builder). */
static long st_net_models, st_net_batches, st_net_products, st_cbx_models;
static void print_stats(void) {
    fprintf(stderr, "fuzz_api: net models %ld, net batches set %ld, net products %ld, "
            "callbacks_ex models %ld\n", st_net_models, st_net_batches, st_net_products,
            st_cbx_models);
}
static const char *const act_names[NA] = {"a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7"};

static const int64_t dims[] = {1, 2, 3, 4, 2, 3, 1, 8, 0, -1, 5, INT64_MAX, (int64_t)1 << 40, 6, 2, 3};
static int64_t dim(void) { return dims[pick(sizeof dims / sizeof *dims)]; }

static const char *odd_name(void) {
    static const char *const odd[] = {"", NULL, name127, name128, "a0.weight", "x", "p0"};
    return odd[pick(sizeof odd / sizeof *odd)];
}
/* an activation to read: mostly one written before */
static const char *act_in(const net_info *ni) {
    if (pick(8) == 0) return odd_name();
    return act_names[pick(ni->acts ? (unsigned)ni->acts : 1) % NA];
}
/* an activation to write: mostly the next new one */
static const char *act_out(const net_info *ni) {
    if (pick(8) == 0) return odd_name();
    return act_names[(pick(6) ? (unsigned)ni->acts : pick(NA)) % NA];
}
static const char *op_prefix(void) {
    static const char *const pre[] = {"p0", "p1", "p2", "p3", "p0", "p1"};
    return pick(8) ? pre[pick(6)] : odd_name();
}
static const char *block_name(void) {
    static const char *const b[] = {"p0.weight", "p0.bias", "p1.weight", "p1.bias", "p2.wq",
                                    "p2.wo.bias", "p3.weight", "r0", "p1.wk", "p0"};
    return pick(8) ? b[pick(10)] : odd_name();
}
/* after a call that wrote activation `out`: count it when it was the next new name */
static void wrote(net_info *ni, int rc, const char *out) {
    CALL(rc);
    if (rc == HB_OK && out && ni->acts < NA && strcmp(out, act_names[ni->acts]) == 0) ni->acts++;
}
static void net_input_tokens(int s, const char *name, int64_t context, int64_t vocab) {
    int rc = hb_net_input_tokens(nets[s], name, context, vocab);
    if (rc == HB_OK) ninfo[s].input = 1, ninfo[s].context = context, ninfo[s].vocab = vocab;
    wrote(&ninfo[s], rc, name);
}
static void net_input_features(int s, const char *name, int nd, const int64_t *shape) {
    int rc = hb_net_input_features(nets[s], name, nd, shape);
    if (rc == HB_OK) {
        ninfo[s].input = 2;
        ninfo[s].ndim = nd;
        memcpy(ninfo[s].shape, shape, (size_t)nd * sizeof *shape);
    }
    wrote(&ninfo[s], rc, name);
}
static void net_loss(int s, int kind, const char *act) {
    int rc = kind == 1 ? hb_net_loss_xent(nets[s], act) : hb_net_loss_mse(nets[s], act);
    CALL(rc);
    if (rc == HB_OK) {
        ninfo[s].loss = kind;
        snprintf(ninfo[s].loss_act, sizeof ninfo[s].loss_act, "%s", act);
    }
}

/* A well-formed small net (mlp, transformer or cnn) into an empty net: gets the fuzzer to
 * models quickly; the random calls around it then spoil or extend it. */
static void net_template(int s) {
    hb_net *n = nets[s];
    net_info *ni = &ninfo[s];
    if (hb_net_op_count(n) != 0) return;
    int64_t a = 1 + pick(4), b = 1 + pick(4), c = 2 + pick(3);
    switch (pick(3)) {
    case 0: {
        int64_t shape[1] = {a};
        net_input_features(s, "a0", 1, shape);
        wrote(ni, hb_net_linear(n, "p0", "a0", "a1", b, (int)pick(2), 0), "a1");
        wrote(ni, hb_net_activation(n, (hb_activation)(1 + pick(5)), "a1", "a2"), "a2");
        wrote(ni, hb_net_linear(n, "p1", "a2", "a3", c, 1, HB_BLOCK_HEAD), "a3");
        net_loss(s, 1 + (int)pick(2), "a3");
        break;
    }
    case 1: {
        int64_t heads = 1 + pick(2);
        net_input_tokens(s, "a0", a, c);
        wrote(ni, hb_net_embedding(n, "p0", "a0", "a1", 2 * b), "a1");
        wrote(ni, hb_net_pos_embedding(n, "p1", "a1", "a2"), "a2");
        wrote(ni, pick(2) ? hb_net_layernorm(n, "p3", "a2", "a3", 0) : hb_net_rmsnorm(n, "p3", "a2", "a3", 0), "a3");
        wrote(ni, hb_net_attention(n, "p2", "a3", "a4", heads, (int)pick(2)), "a4");
        wrote(ni, hb_net_add(n, "a2", "a4", "a5"), "a5");
        wrote(ni, hb_net_linear(n, "p4", "a5", "a6", c, 0, HB_BLOCK_HEAD), "a6");
        net_loss(s, 1 + (int)pick(2), "a6");
        break;
    }
    default: {
        int64_t shape[3] = {a, 2 + pick(3), 2 + pick(3)};
        net_input_features(s, "a0", 3, shape);
        wrote(ni, hb_net_conv2d(n, "p0", "a0", "a1", b, 1 + pick(3), pick(2), (int)pick(2)), "a1");
        wrote(ni, hb_net_pool2d(n, (hb_net_pool)(1 + pick(2)), "a1", "a2", 1 + pick(2)), "a2");
        wrote(ni, hb_net_flatten(n, "a2", "a3"), "a3");
        wrote(ni, hb_net_linear(n, "p1", "a3", "a4", c, 1, 0), "a4");
        net_loss(s, 1 + (int)pick(2), "a4");
    }
    }
}

static void net_op(void) {
    int s = (int)pick(NN);
    hb_net *n = nets[s];
    net_info *ni = &ninfo[s];
    if (!n) {
        static const hb_dtype dts[] = {HB_F64, HB_F32, HB_BF16, HB_F64, HB_I32, (hb_dtype)0, (hb_dtype)9};
        memset(ni, 0, sizeof *ni);
        CALL(hb_net_create(pick(16) ? ctx : NULL, dts[pick(7)], &nets[s]));
        if (nets[s] && pick(2)) net_template(s); /* half of the new nets start well-formed */
        return;
    }
    if (pick(16) == 0) n = NULL; /* every builder call given a NULL net */
    const char *in_a = act_in(ni), *out = act_out(ni);
    switch (pick(21)) {
    case 0: net_input_tokens(s, out, dim(), dim()); break;
    case 1: {
        int64_t shape[3] = {dim(), dim(), dim()};
        net_input_features(s, out, (int)pick(5), pick(16) ? shape : NULL);
        break;
    }
    case 2: wrote(ni, hb_net_embedding(n, op_prefix(), in_a, out, dim()), out); break;
    case 3: wrote(ni, hb_net_pos_embedding(n, op_prefix(), in_a, out), out); break;
    case 4: {
        static const int kinds[] = {0, HB_BLOCK_LINEAR, HB_BLOCK_HEAD, 13, -1, HB_BLOCK_CONV};
        wrote(ni, hb_net_linear(n, op_prefix(), in_a, out, dim(), (int)pick(3),
                                (hb_block_kind)kinds[pick(6)]), out);
        break;
    }
    case 5: wrote(ni, hb_net_layernorm(n, op_prefix(), in_a, out, real()), out); break;
    case 6: wrote(ni, hb_net_rmsnorm(n, op_prefix(), in_a, out, real()), out); break;
    case 7: wrote(ni, hb_net_attention(n, op_prefix(), in_a, out, dim(), (int)pick(3)), out); break;
    case 8: wrote(ni, hb_net_activation(n, (hb_activation)pick(7), in_a, out), out); break;
    case 9: wrote(ni, hb_net_conv2d(n, op_prefix(), in_a, out, dim(), dim(), dim(), (int)pick(2)), out); break;
    case 10: wrote(ni, hb_net_pool2d(n, (hb_net_pool)pick(4), in_a, out, dim()), out); break;
    case 11: wrote(ni, hb_net_flatten(n, in_a, out), out); break;
    case 12: wrote(ni, hb_net_add(n, in_a, act_in(ni), out), out); break;
    case 13: net_loss(s, 1, in_a); break;
    case 14: net_loss(s, 2, in_a); break;
    case 15: {
        static const char *const to[] = {"r0", "r1", "p0.bias", "p1.weight", "head"};
        CALL(hb_net_rename_block(n, block_name(), pick(8) ? to[pick(5)] : odd_name()));
        break;
    }
    case 16: CALL(hb_net_set_block_kind(n, block_name(), (hb_block_kind)((int)pick(15) - 1))); break;
    case 17: CALL(hb_net_set_init(n, block_name(), (hb_init)((int)pick(16) - 1), real(), real())); break;
    case 18: {
        int nd = -1;
        int64_t shape[3];
        (void)hb_net_op_count(n);
        CALL(hb_net_activation_shape(n, in_a, pick(8) ? &nd : NULL, pick(8) ? shape : NULL));
        if (nd > 3) abort(); /* the capacity is 3 */
        break;
    }
    default: net_template(s); break;
    }
}

/* hb_model_create_net into model slot `idx`; remembers the net's data shapes */
static void new_net_model(int idx, int s) {
    CALL(hb_model_create_net(pick(16) ? nets[s] : NULL, pick(32) ? &models[idx] : NULL));
    if (!models[idx]) return;
    if (hb_model_has_exact_hvp(models[idx]) != 1) abort(); /* documented: exact */
    minfo[idx] = ninfo[s];
    int nd = 0;
    if (hb_net_activation_shape(nets[s], ninfo[s].loss_act, &nd, minfo[idx].pred) != HB_OK)
        abort(); /* a model exists, so its loss's activation does */
    minfo[idx].pred_ndim = nd;
    st_net_models++;
}

/* ---- Versioned callbacks (hb_model_create_callbacks_ex) ------------------------------- */
static struct cbx_user { int dtype; } cbx_users[NM];
static long cbx_destroy_due, cbx_destroyed;
static double getv(int dt, const void *x, size_t i) {
    return dt == HB_F32 ? (double)((const float *)x)[i] : ((const double *)x)[i];
}
static void setv(int dt, void *x, size_t i, double v) {
    if (dt == HB_F32) ((float *)x)[i] = (float)v;
    else ((double *)x)[i] = v;
}
static double cbx_val(double v) { return cb_mode == 2 ? NAN : v; }
static int cbx_loss_grad(void *user, const void *theta, size_t n, double *loss, void *grad) {
    int dt = ((struct cbx_user *)user)->dtype;
    if (cb_mode == 1) return 1;
    *loss = 0;
    for (size_t i = 0; i < n; i++) {
        double t = getv(dt, theta, i);
        *loss += 0.5 * (double)(i + 1) * t * t;
        setv(dt, grad, i, cbx_val((double)(i + 1) * t));
    }
    return 0;
}
static int cbx_hvp(void *user, const void *theta, size_t n, const void *v, void *out) {
    int dt = ((struct cbx_user *)user)->dtype;
    (void)theta;
    if (cb_mode == 1) return 1;
    for (size_t i = 0; i < n; i++) setv(dt, out, i, cbx_val((double)(i + 1) * getv(dt, v, i)));
    return 0;
}
static int cbx_hvp_multi(void *user, const void *theta, size_t n, size_t k, const void *V, void *OUT) {
    int dt = ((struct cbx_user *)user)->dtype;
    (void)theta;
    if (cb_mode == 1) return 1;
    for (size_t r = 0; r < k; r++)
        for (size_t i = 0; i < n; i++)
            setv(dt, OUT, r * n + i, cbx_val((double)(i + 1) * getv(dt, V, r * n + i)));
    return 0;
}
static int cbx_block_hvp(void *user, const void *theta, size_t n, size_t block, size_t len,
                         size_t k, const void *V, void *OUT) {
    int dt = ((struct cbx_user *)user)->dtype;
    (void)theta;
    (void)n;
    if (cb_mode == 1) return 1;
    for (size_t r = 0; r < k; r++)
        for (size_t j = 0; j < len; j++)
            setv(dt, OUT, r * len + j, cbx_val((double)(block + j + 1) * getv(dt, V, r * len + j)));
    return 0;
}
static int cbx_accuracy(void *user, const void *theta, size_t n, size_t *correct, size_t *total) {
    (void)user;
    (void)theta;
    (void)n;
    if (cb_mode == 1) return 1;
    *correct = cb_mode == 2 ? 5 : 1; /* 5 of 3: a callback that reports nonsense */
    *total = 3;
    return 0;
}
static void cbx_destroy(void *user) {
    (void)user;
    cbx_destroyed++;
}

static void new_callbacks_ex_model(int idx) {
    union {
        hb_model_callbacks cb;
        unsigned char bytes[4096 + 8]; /* the library may read struct_size ≤ 4096 bytes */
    } u;
    memset(&u, 0, sizeof u);
    const size_t full = sizeof(hb_model_callbacks), ptr = sizeof(void *);
    const size_t sizes[] = {full, full, full, HB_MODEL_CALLBACKS_SIZE_MIN,
                            HB_MODEL_CALLBACKS_SIZE_MIN - 1, offsetof(hb_model_callbacks, hvp_multi),
                            offsetof(hb_model_callbacks, destroy) + ptr,
                            offsetof(hb_model_callbacks, fd_step), full + 8, full + 3, 4096, 4097, 0};
    size_t ss = sizes[pick(sizeof sizes / sizeof *sizes)];
    static const int dts[] = {0, HB_F64, HB_F32, HB_F64, HB_BF16, HB_I32, 99, -1};
    int dt = dts[pick(8)];
    hb_params **p = &params[pick(NP)];
    if (!*p && pick(2)) { /* small valid params of the callbacks' dtype (or a wrong one) */
        CALL(hb_params_create(ctx, pick(4) ? (dt == HB_F32 ? HB_F32 : HB_F64) : HB_BF16, p));
        for (unsigned b = 0, nb = 1 + pick(3); *p && b < nb; b++) {
            char name[8];
            snprintf(name, sizeof name, "c%u", b);
            int64_t shape[2] = {1 + pick(3), 1 + pick(3)};
            CALL(hb_params_add_block(*p, name, (hb_block_kind)(1 + pick(12)), 1 + (int)pick(2), shape, NULL));
        }
        if (*p) CALL(hb_params_finalize(*p));
    }
    cbx_users[idx].dtype = dt == 0 ? HB_F64 : dt;
    u.cb.struct_size = ss;
    u.cb.dtype = dt;
    u.cb.user = &cbx_users[idx];
    u.cb.loss_grad = pick(8) ? cbx_loss_grad : NULL;
    u.cb.hvp = pick(2) ? cbx_hvp : NULL;
    u.cb.hvp_multi = pick(2) ? cbx_hvp_multi : NULL;
    u.cb.block_hvp = pick(2) ? cbx_block_hvp : NULL;
    u.cb.accuracy = pick(2) ? cbx_accuracy : NULL;
    u.cb.destroy = pick(4) ? cbx_destroy : NULL;
    u.cb.fd_step = pick(2) ? 0.0 : real();
    if (ss > full && ss <= sizeof u.bytes && pick(2)) u.bytes[ss - 1] = 1; /* a newer caller's field */
    int rc = hb_model_create_callbacks_ex(ctx, *p, pick(16) ? &u.cb : NULL, &models[idx]);
    CALL(rc);
    if (rc != HB_OK) {
        if (models[idx]) abort(); /* nothing made on failure */
        return;
    }
    *p = NULL; /* the model owns the params now */
    st_cbx_models++;
    if (u.cb.destroy && ss >= offsetof(hb_model_callbacks, destroy) + ptr) cbx_destroy_due++;
}

/* ---- Data and products for the models of nets (and any model) ------------------------ */
static double data_val(void) { return pick(16) ? ((double)pick(256) - 128.0) / 64.0 : real(); }

/* a tensor of (N, per-sample shape), then maybe spoilt; NULL when the allocator refuses */
static hb_tensor *sample_tensor(hb_dtype dt, int64_t n, int nd, const int64_t *shape) {
    int64_t sh[HB_MAX_DIMS] = {n};
    for (int i = 0; i < nd && i + 1 < HB_MAX_DIMS; i++) sh[i + 1] = shape[i];
    int ndim = nd + 1;
    switch (pick(16)) {
    case 0: dt = (hb_dtype)pick(6); break;                           /* wrong dtype */
    case 1: { /* a wrong dimension */
        unsigned j = pick((unsigned)ndim);
        sh[j] = sh[j] == INT64_MAX ? 0 : sh[j] + (pick(2) ? 1 : -1);
        break;
    }
    case 2: if (ndim > 1) ndim--; break;                               /* a dimension short */
    case 3: if (ndim < HB_MAX_DIMS) sh[ndim++] = 1 + pick(2); break;  /* one too many */
    default: break;
    }
    hb_tensor *t = NULL;
    CALL(hb_tensor_create(ctx, dt, ndim, sh, &t));
    return t;
}
static void fill_ids(hb_tensor *t, int64_t bound) {
    if (!t || hb_tensor_dtype(t) != HB_I32 || bound <= 0) return;
    int32_t *d = hb_tensor_data(t);
    size_t ne = hb_tensor_numel(t);
    for (size_t i = 0; i < ne && i < 4096; i++)
        d[i] = pick(32) ? (int32_t)(pick(256) % (uint64_t)bound) : (pick(2) ? -1 : (int32_t)(bound > INT32_MAX ? INT32_MAX : bound));
}
static void fill_vals(hb_tensor *t) {
    if (!t || hb_tensor_dtype(t) == HB_I32) return;
    size_t ne = hb_tensor_numel(t);
    for (size_t i = 0; i < ne && i < 4096; i++) CALL(hb_tensor_set_f64(t, i, data_val()));
}

/* a model slot, mostly one that holds a model of a net when there is one */
static int net_model_slot(void) {
    int idx = (int)pick(NM);
    if (!minfo[idx].input && pick(4))
        for (int i = 0; i < NM; i++)
            if (minfo[(idx + i) % NM].input) return (idx + i) % NM;
    return idx;
}

static void net_data_into(int idx) {
    hb_model *m = models[idx];
    const net_info *mi = &minfo[idx];
    int64_t n = pick(8) ? 1 + (int64_t)pick(3) : 0; /* 0 samples sometimes */
    hb_tensor *x = NULL, *y = NULL;
    if (mi->input == 1) {
        x = sample_tensor(HB_I32, n, 1, &mi->context);
        fill_ids(x, mi->vocab);
    } else if (mi->input == 2) {
        x = sample_tensor(pick(2) ? HB_F32 : HB_F64, n, mi->ndim, mi->shape);
        fill_vals(x);
    } else {
        int64_t shape[3] = {1 + pick(4), 1 + pick(4), 1 + pick(4)};
        x = sample_tensor((hb_dtype)(1 + pick(4)), n, 1 + (int)pick(3), shape);
        fill_vals(x);
        fill_ids(x, 4);
    }
    if (mi->loss == 1 && mi->pred_ndim >= 1) { /* class ids: the logits' shape minus the last */
        y = sample_tensor(HB_I32, n, mi->pred_ndim - 1, mi->pred);
        fill_ids(y, mi->pred[mi->pred_ndim - 1]);
    } else if (mi->loss == 2) {
        y = sample_tensor(pick(2) ? HB_F32 : HB_F64, n, mi->pred_ndim, mi->pred);
        fill_vals(y);
    } else {
        int64_t shape[1] = {1 + pick(4)};
        y = sample_tensor((hb_dtype)(1 + pick(4)), n, (int)pick(2), shape);
        fill_vals(y);
        fill_ids(y, 3);
    }
    int rc = pick(4) ? hb_model_set_batch(m, pick(16) ? x : NULL, pick(16) ? y : NULL)
                     : hb_model_add_batch(m, x, y);
    CALL(rc);
    if (rc == HB_OK && mi->input) st_net_batches++;
    hb_tensor_free(x);
    hb_tensor_free(y);
}

/* a (k, len) or (len) direction tensor of dtype f32/f64, often right, sometimes not */
static hb_tensor *direction(size_t k, size_t len, int values) {
    int64_t sh[2] = {(int64_t)k, (int64_t)len};
    if (pick(8) == 0) sh[pick(2)] += 1;
    int two = k != 1 || pick(2);
    hb_dtype dt = pick(8) ? (pick(2) ? HB_F64 : HB_F32) : (hb_dtype)pick(6);
    hb_tensor *t = NULL;
    CALL(hb_tensor_create(ctx, dt, two ? 2 : 1, two ? sh : sh + 1, &t));
    if (values) fill_vals(t);
    return t;
}

/* a product's status, counted when it succeeded on a model of a net */
#define PCALL(x)                                                                          \
    do {                                                                                  \
        int prc_ = (x);                                                                   \
        CALL(prc_);                                                                       \
        if (prc_ == HB_OK && minfo[idx].input) st_net_products++;                         \
    } while (0)
static void products_of(int idx) {
    hb_model *m = models[idx];
    hb_params *p = hb_model_params(m);
    size_t n = hb_params_count(p);
    double v;
    if (n > 4096) return; /* keep every product cheap */
    switch (pick(7)) {
    case 0: CALL(hb_model_loss_grad(m, pick(4) ? &v : NULL)); break;
    case 1: CALL(hb_model_accuracy(m, pick(8) ? &v : NULL)); break;
    case 2:
    case 3: { /* hvp (k = 1) or hvp_multi */
        size_t k = pick(4) == 0 ? 1 + small() % 3 : 1;
        hb_tensor *a = direction(k, n, 1), *b = direction(k, n, 0);
        if (k == 1 && pick(2)) PCALL(hb_model_hvp(m, a, b));
        else PCALL(hb_model_hvp_multi(m, a, b));
        hb_tensor_free(a);
        hb_tensor_free(b);
        break;
    }
    case 4: {
        size_t b = small() % 4, len = 1;
        (void)hb_params_block_info(p, b, NULL, NULL, NULL, &len, NULL, NULL);
        size_t k = 1 + small() % 3;
        hb_tensor *a = direction(k, len, 1), *o = direction(k, len, 0);
        PCALL(hb_model_block_hvp(m, b, a, o));
        hb_tensor_free(a);
        hb_tensor_free(o);
        break;
    }
    case 5: { /* SLQ on one block, with a short run of its own */
        hb_slq *q = NULL;
        hb_spectrum *sp = NULL;
        CALL(hb_slq_create(ctx, &q));
        if (!q) break;
        CALL(hb_slq_set_i64(q, HB_SLQ_STEPS, 1 + (int64_t)pick(6)));
        CALL(hb_slq_set_i64(q, HB_SLQ_PROBES, 1 + (int64_t)pick(3)));
        PCALL(hb_slq_run_model_block(q, m, small() % 4, &sp));
        if (sp) {
            double d;
            CALL(hb_spectrum_moment(sp, 1, &d, &v));
        }
        hb_spectrum_free(sp);
        hb_slq_free(q);
        break;
    }
    default:
        (void)hb_model_has_exact_hvp(m);
        (void)hb_model_num_batches(m);
        (void)hb_model_num_samples(m);
        CALL(hb_model_loss(m, &v));
        break;
    }
}

static void net_data(void) { net_data_into(net_model_slot()); }
static void model_products(void) { products_of(net_model_slot()); }

/* The whole way in one operation: a well-formed net (when its slot is empty), a model of
 * it (or, one time in four, a callbacks_ex model) in a free slot, a batch for it, a product. A random program rarely chains these four
 * by chance; starting from here, the calls around it spoil or extend each step. */
static void net_pipeline(void) {
    int s = (int)pick(NN);
    if (!nets[s]) {
        memset(&ninfo[s], 0, sizeof ninfo[s]);
        CALL(hb_net_create(ctx, pick(4) ? HB_F64 : HB_F32, &nets[s]));
        if (!nets[s]) return;
        net_template(s);
    }
    int idx = (int)pick(NM - 1);
    if (!models[idx]) {
        memset(&minfo[idx], 0, sizeof minfo[idx]);
        if (pick(4)) new_net_model(idx, s);
        else new_callbacks_ex_model(idx); /* the same way in for user objectives */
    }
    net_data_into(idx);
    products_of(idx);
}

static void new_tensor(void) {
    hb_tensor **t = &tens[pick(NT)];
    if (*t) return;
    int64_t shape[4] = {i64(), i64(), i64(), i64()};
    hb_dtype dt = (hb_dtype)pick(6);
    int ndim = (int)pick(6);
    CALL(hb_tensor_create(ctx, dt, ndim, shape, t));
}

static void new_params(void) {
    hb_params **p = &params[pick(NP)];
    if (*p) return;
    CALL(hb_params_create(ctx, (hb_dtype)pick(5), p));
    if (!*p) return;
    for (unsigned b = 0, nb = pick(4); b < nb; b++) {
        char name[8];
        snprintf(name, sizeof name, "b%u", pick(3));
        int64_t shape[2] = {i64() % 7, i64() % 7};
        CALL(hb_params_add_block(*p, pick(8) ? name : "", (hb_block_kind)pick(14),
                                 (int)pick(3), shape, NULL));
    }
    if (pick(4)) CALL(hb_params_finalize(*p));
}

static void new_model(void) {
    hb_model **m = model_slot(0);
    if (*m) return;
    int idx = (int)(m - models);
    memset(&minfo[idx], 0, sizeof minfo[idx]);
    switch (pick(6)) {
    case 4: {
        int s = (int)pick(NN);
        if (!ninfo[s].loss && pick(4)) s ^= 1; /* mostly a net that has a loss */
        new_net_model(idx, s);
        return;
    }
    case 5: new_callbacks_ex_model(idx); return;
    case 0: { /* a built-in kind from the config slot, made small first */
        if (!mcfg) {
            CALL(hb_model_config_create(ctx, (hb_model_kind)(1 + pick(4)), &mcfg));
            if (!mcfg) return;
            const hb_model_key keys[] = {HB_MK_BATCH, HB_MK_VOCAB, HB_MK_CONTEXT, HB_MK_WIDTH,
                                         HB_MK_HEADS, HB_MK_LAYERS, HB_MK_INPUTS, HB_MK_CLASSES,
                                         HB_MK_IMAGE_SIZE, HB_MK_CONV_WIDTH, HB_MK_CONV_STAGES,
                                         HB_MK_QUAD_BLOCKS, HB_MK_QUAD_BLOCK_SIZE};
            const int64_t vals[] = {2, 7, 3, 4, 2, 1, 3, 3, 4, 2, 1, 2, 3};
            for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
                (void)hb_model_config_set_i64(mcfg, keys[i], vals[i]); /* unused keys: EINVAL */
        }
        CALL(hb_model_create(ctx, mcfg, m));
        break;
    }
    case 1: {
        size_t sizes[2] = {1 + small(), 1 + small()};
        double ev[2][6] = {{1, 2, 3, real(), 5, 6}, {-1, 0.5, 2, 4, 8, real()}};
        const double *evp[2] = {ev[0], ev[1]};
        CALL(hb_model_create_quadratic(ctx, (hb_dtype)(1 + pick(3)), 1 + pick(2), sizes, evp,
                                       NULL, NULL, m));
        break;
    }
    case 2: { /* callbacks over a params slot: taken only on success */
        hb_params **p = &params[pick(NP)];
        CALL(hb_model_create_callbacks(ctx, *p, cb_loss_grad, pick(2) ? cb_hvp : NULL, NULL, m));
        if (*m) *p = NULL;
        break;
    }
    default: { /* an SST/LoRA wrapper of a model into the wrapper slot */
        hb_model *inner = models[pick(NM - 1)];
        if (models[NM - 1] || !inner) return;
        if (!scfg) {
            CALL(hb_sst_config_create(ctx, (hb_sst_method)pick(3), &scfg));
            if (!scfg) return;
            CALL(hb_sst_config_add_kind(scfg, (hb_block_kind)pick(14)));
            CALL(hb_sst_config_set_i64(scfg, (hb_sst_opt)(1 + pick(8)), i64()));
            if (pick(2)) CALL(hb_sst_config_add_block(scfg, pick(2) ? "fc0.weight" : "x"));
        }
        memset(&minfo[NM - 1], 0, sizeof minfo[NM - 1]);
        CALL(hb_sst_create(inner, scfg, &models[NM - 1]));
    }
    }
}

static void set_data(void) {
    hb_model *m = any_model();
    switch (pick(4)) {
    case 0: CALL(hb_model_set_synthetic(m, small(), (uint64_t)pick(3), (uint64_t)i64())); break;
    case 1: CALL(hb_model_set_batch(m, tens[pick(NT)], tens[pick(NT)])); break;
    case 2: CALL(hb_model_add_batch(m, tens[pick(NT)], tens[pick(NT)])); break;
    default: {
        size_t i = small();
        hb_dtype dt;
        int nd;
        int64_t shape[HB_MAX_DIMS];
        CALL(hb_model_batch_shape(m, i, (hb_batch_part)pick(3), &dt, &nd, shape));
        unsigned char buf[4096];
        CALL(hb_model_batch_copy(m, i, (hb_batch_part)pick(3), buf, pick(2) ? sizeof buf : small()));
    }
    }
}

static void evaluate(void) {
    hb_model *m = any_model();
    double v;
    hb_tensor *a = tens[pick(NT)], *b = tens[pick(NT)];
    switch (pick(7)) {
    case 0: CALL(hb_model_loss(m, &v)); break;
    case 1: CALL(hb_model_loss_grad(m, pick(2) ? &v : NULL)); break;
    case 2: CALL(hb_model_accuracy(m, &v)); break;
    case 3: CALL(hb_model_hvp(m, a, b)); break;
    case 4: CALL(hb_model_hvp_multi(m, a, b)); break;
    case 5: CALL(hb_model_block_hvp(m, small(), a, b)); break;
    default: {
        double ev[8];
        CALL(hb_model_quadratic_eigenvalues(m, small(), ev, small()));
        CALL(hb_model_quadratic_matrix(m, small(), ev, 8));
    }
    }
}

static void tensor_op(void) {
    hb_tensor *t = tens[pick(NT)];
    double v;
    switch (pick(4)) {
    case 0: CALL(hb_tensor_fill(t, real())); break;
    case 1: CALL(hb_tensor_copy(t, tens[pick(NT)])); break;
    case 2: CALL(hb_tensor_set_f64(t, small(), real())); break;
    default: CALL(hb_tensor_get_f64(t, small(), &v)); break;
    }
}

static void params_op(void) {
    hb_model *m = any_model();
    hb_params *p = pick(2) ? hb_model_params(m) : params[pick(NP)];
    hb_tensor *view = NULL;
    switch (pick(6)) {
    case 0: CALL(hb_params_init_block(p, small(), (hb_init)pick(15), real(), real())); break;
    case 1: CALL(hb_params_set_trainable(p, small(), (int)pick(3))); break;
    case 2: CALL(hb_params_block_view(p, small(), &view)); break;
    case 3: CALL(hb_params_grad_flat_view(p, &view)); break;
    case 4: CALL(hb_params_zero_grad(p)); break;
    default: {
        size_t idx;
        CALL(hb_params_find_block(p, pick(2) ? "fc0.weight" : "b1", &idx));
    }
    }
    if (view) { /* write through a view: the parameters change, nothing else */
        CALL(hb_tensor_fill(view, real()));
        hb_tensor_free(view);
    }
}

static void optim_op(void) {
    hb_optimizer **o = &opts[pick(NO)];
    if (!*o) {
        hb_model *m = any_model();
        CALL(hb_optimizer_create(ctx, (hb_optimizer_kind)pick(6),
                                 pick(4) ? hb_model_params(m) : params[pick(NP)], o));
        return;
    }
    double v;
    switch (pick(8)) {
    case 0: CALL(hb_optimizer_set_f64(*o, (hb_optimizer_opt)pick(16), real())); break;
    case 1: CALL(hb_optimizer_set_i64(*o, (hb_optimizer_opt)pick(16), i64())); break;
    case 2: CALL(hb_optimizer_override_f64(*o, pick(2) ? "*" : "fc*", (hb_optimizer_opt)pick(16), real())); break;
    case 3: CALL(hb_optimizer_override_kind_f64(*o, (hb_block_kind)pick(14), (hb_optimizer_opt)pick(16), real())); break;
    case 4: CALL(hb_optimizer_step(*o)); break;
    case 5:
        switch (pick(3)) {
        case 0: CALL(hb_optimizer_schedule_cosine(*o, i64(), i64(), real())); break;
        case 1: CALL(hb_optimizer_schedule_callback(*o, pick(4) ? cb_schedule : NULL, NULL)); break;
        default: CALL(hb_optimizer_lr_factor(*o, i64(), &v)); break;
        }
        break;
    case 6: CALL(hb_optimizer_reset_range(*o, small(), (size_t)i64())); break;
    default: CALL(hb_optimizer_reset_block(*o, small())); break;
    }
}

static void checkpoint_op(void) {
    hb_optimizer *o = opts[pick(NO)];
    hb_params *p = o && pick(4) ? hb_optimizer_params(o) : hb_model_params(any_model());
    size_t bytes = 0;
    switch (pick(3)) {
    case 0: CALL(hb_checkpoint_size(p, o, &bytes)); break;
    case 1: CALL(hb_checkpoint_save_buffer(p, o, ckpt, pick(8) ? sizeof ckpt : small(), &ckpt_len)); break;
    default: {
        size_t len = ckpt_len;
        if (pick(2) && len) ckpt[pick(256) % len] ^= (unsigned char)(1u << pick(8)); /* a bit flip */
        if (pick(4) == 0) len = small();
        CALL(hb_checkpoint_load_buffer(ckpt, len, p, o));
    }
    }
}

static void linop_op(void) {
    hb_linop **l = &linops[pick(NL)];
    if (!*l) {
        hb_model *m = any_model();
        switch (pick(4)) {
        case 0: CALL(hb_linop_create_dense(ctx, dense4, pick(5), (int)pick(3), l)); break; /* n <= 4 */
        case 1: CALL(hb_linop_create_callback(ctx, small(), cb_linop, NULL, l)); break;
        case 2: CALL(hb_linop_create_model_hessian(m, l)); break;
        default: CALL(hb_linop_create_model_block(m, small(), l)); break;
        }
        return;
    }
    double X[64], Y[64];
    size_t n = hb_linop_size(*l), k = small();
    for (size_t i = 0; i < 64; i++) X[i] = real();
    if (k * n <= 64) CALL(hb_linop_apply(*l, k, X, Y));
}

static void slq_op(void) {
    if (!slq) {
        CALL(hb_slq_create(ctx, &slq));
        if (slq) CALL(hb_slq_set_i64(slq, HB_SLQ_STEPS, 6)); /* keep runs short */
        return;
    }
    hb_spectrum **sp = &spectra[pick(NS)];
    hb_linop *l = linops[pick(NL)];
    hb_model *m = any_model();
    double tr, se, vals[4], vecs[4 * 64], res[4];
    size_t conv;
    switch (pick(7)) {
    case 0: {
        int64_t v = i64();
        hb_slq_opt key = (hb_slq_opt)pick(8);
        /* probes and steps stay small: the fuzzer's time goes to many calls, not one */
        if ((key == HB_SLQ_PROBES || key == HB_SLQ_STEPS || key == HB_SLQ_TOPK_MAX_STEPS) && v > 8)
            v = INT64_MAX; /* rejected or capped, never long */
        if (key == HB_SLQ_PROBES && v == INT64_MAX) v = -1;
        CALL(hb_slq_set_i64(slq, key, v));
        CALL(hb_slq_set_f64(slq, (hb_slq_opt)(20 + pick(3)), real()));
        break;
    }
    case 1: if (!*sp) CALL(hb_slq_run(slq, l, sp)); break;
    case 2: if (!*sp) CALL(hb_slq_run_model(slq, m, sp)); break;
    case 3: if (!*sp) CALL(hb_slq_run_model_block(slq, m, small(), sp)); break;
    case 4: CALL(hb_slq_trace(slq, l, &tr, pick(2) ? &se : NULL)); break;
    case 5:
        if (hb_linop_size(l) <= 64) {
            size_t k = small() % 5;
            CALL(hb_slq_topk(slq, l, k, (hb_eig_which)pick(4), vals, pick(2) ? vecs : NULL, res, &conv));
        }
        break;
    default: {
        double traces[64], stderrs[64];
        if (hb_params_num_blocks(hb_model_params(m)) <= 64)
            CALL(hb_slq_trace_model_blocks(slq, m, traces, stderrs));
    }
    }
}

static void spectrum_op(void) {
    hb_spectrum **sp = &spectra[pick(NS)];
    if (!*sp) {
        CALL(hb_spectrum_create(ctx, small(), sp));
        return;
    }
    hb_js_options o = HB_JS_OPTIONS_INIT;
    o.normalize = (int)pick(3);
    o.grid_points = pick(2) ? 16 + small() : (size_t)i64();
    if (o.grid_points > 4096) o.grid_points = 1u << 30; /* refused by the allocator */
    o.sigma_rel = real();
    o.grid = (int)pick(3);
    o.zero_rel_tol = pick(2) ? -1.0 : real();
    o.keep_zero = (int)pick(3);
    if (pick(8) == 0) o.struct_size = small();
    const hb_spectrum *ks[NS] = {spectra[0], spectra[1], spectra[2], spectra[3]};
    double out[NS * NS], mean, d;
    char buf[256];
    size_t need;
    switch (pick(7)) {
    case 0: {
        double nodes[4] = {real(), real(), real(), real()}, w[4] = {real(), 1, 0.5, real()};
        CALL(hb_spectrum_add_probe(*sp, nodes, w, small() % 5));
        break;
    }
    case 1: CALL(hb_spectrum_js_distance(*sp, spectra[pick(NS)], pick(4) ? &o : NULL, &d)); break;
    case 2: CALL(hb_spectra_js_matrix(ks, 1 + pick(NS), &o, out, &mean)); break;
    case 3: {
        static const size_t reps[] = {0, 1, 2, 5, 100001};
        CALL(hb_spectra_js_matrix_stderr(ks, 1 + pick(NS), &o, reps[pick(5)], (uint64_t)pick(3),
                                         pick(2) ? out : NULL, pick(2) ? &mean : NULL));
        break;
    }
    case 4: CALL(hb_spectra_zero_flags(ks, pick(NS + 1), &o, NULL, &need, &d)); break;
    case 5: CALL(hb_spectrum_to_json(*sp, pick(2) ? buf : NULL, pick(2) ? sizeof buf : small(), &need)); break;
    default: {
        double grid[4] = {real(), 0, 1, 2}, dens[4];
        CALL(hb_spectrum_density(*sp, grid, small() % 5, real(), dens));
        CALL(hb_spectrum_moment(*sp, (int)i64(), &d, &mean));
        CALL(hb_spectrum_to_csv(*sp, buf, sizeof buf, &need));
    }
    }
}

static void sst_op(void) {
    hb_model *w = models[NM - 1];
    hb_optimizer *o = opts[pick(NO)];
    double scale;
    int64_t idx[64];
    switch (pick(5)) {
    case 0: CALL(hb_sst_begin_step(w, i64(), o, pick(2) ? &scale : NULL)); break;
    case 1: CALL(hb_sst_end_step(w)); break;
    case 2: CALL(hb_sst_resvd(w)); break;
    case 3: CALL(hb_sst_sync(w)); break;
    default: {
        int64_t r;
        if (hb_sst_layer_info(w, small(), NULL, NULL, NULL, NULL, &r) == HB_OK && r <= 64)
            CALL(hb_sst_active(w, small(), idx));
    }
    }
}

static void trainer_op(void) {
    hb_trainer **t = &trainers[pick(NTR)];
    if (!*t) {
        hb_model *m = any_model();
        hb_optimizer *o = opts[pick(NO)];
        CALL(hb_trainer_create(m, pick(2) ? o : NULL, t));
        return;
    }
    double loss, acc;
    switch (pick(6)) {
    case 0: {
        hb_trainer_opt key = (hb_trainer_opt)pick(10);
        int64_t v = i64();
        if (key == HB_TR_EVAL_BATCHES || key == HB_TR_TRAIN_BATCHES) v = v > 3 ? -v : v;
        CALL(hb_trainer_set_i64(*t, key, v));
        CALL(hb_trainer_set_f64(*t, (hb_trainer_opt)pick(3), real()));
        break;
    }
    case 1: CALL(hb_trainer_run(*t, (int64_t)pick(4) - 1)); break;
    case 2: CALL(hb_trainer_evaluate(*t, pick(4) ? &loss : NULL, pick(2) ? &acc : NULL)); break;
    case 3: CALL(hb_trainer_set_data_fn(*t, pick(2) ? cb_data : NULL, NULL)); break;
    case 4: /* an unwritable path: a save fails with HB_EIO, no file appears */
        CALL(hb_trainer_set_checkpoint(*t, pick(2) ? "/nonexistent-dir/x.ckpt" : NULL, i64()));
        break;
    default: {
        double v;
        CALL(hb_trainer_record_f64(*t, small(), (hb_record_key)pick(10), &v));
        CALL(hb_trainer_record_block_norm(*t, small(), small(), &v));
    }
    }
}

static void context_op(void) {
    switch (pick(4)) {
    case 0: {
        /* Threads stay at most 2 (the CI machine's cores; invalid values are still tried):
         * with more, libomp/BLIS barriers of tiny products wait on oversubscribed cores,
         * and SLQ on a 42-parameter net block took over 60 s with 4 threads (0.2 s with 1)
         * on the loaded 2-core machine — a timeout of the machine, not of the library. */
        hb_context_opt key = (hb_context_opt)pick(4);
        int64_t v = pick(2) ? (int64_t)pick(3) : i64();
        if (key == HB_CTX_THREADS && v > 2 && v <= 1024) v = 2;
        CALL(hb_context_set_i64(ctx, key, v));
        break;
    }
    case 1: CALL(hb_context_set_progress(ctx, pick(2) ? cb_progress : NULL, NULL)); break;
    case 2: CALL(hb_context_set_log(ctx, pick(2) ? cb_log : NULL, NULL, (int)pick(6))); break;
    default: cb_mode = (int)pick(3); break;
    }
}

static void free_all(void) {
    for (int i = 0; i < NTR; i++) hb_trainer_free(trainers[i]), trainers[i] = NULL;
    for (int i = 0; i < NL; i++) hb_linop_free(linops[i]), linops[i] = NULL;
    for (int i = 0; i < NO; i++) hb_optimizer_free(opts[i]), opts[i] = NULL;
    for (int i = NM - 1; i >= 0; i--) hb_model_free(models[i]), models[i] = NULL; /* wrapper first */
    for (int i = 0; i < NP; i++) hb_params_free(params[i]), params[i] = NULL;
    for (int i = 0; i < NT; i++) hb_tensor_free(tens[i]), tens[i] = NULL;
    for (int i = 0; i < NS; i++) hb_spectrum_free(spectra[i]), spectra[i] = NULL;
    hb_slq_free(slq), slq = NULL;
    hb_model_config_free(mcfg), mcfg = NULL;
    hb_sst_config_free(scfg), scfg = NULL;
    for (int i = 0; i < NN; i++) hb_net_free(nets[i]), nets[i] = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    in = data;
    in_len = size;
    in_pos = 0;
    alloc_calls = live_blocks = 0;
    live_bytes = 0;
    ckpt_len = 0;
    cb_mode = 0;
    cbx_destroy_due = cbx_destroyed = 0;
    memset(ninfo, 0, sizeof ninfo);
    memset(minfo, 0, sizeof minfo);
    if (!name127[0]) {
        memset(name127, 'n', HB_MAX_BLOCK_NAME);
        memset(name128, 'n', HB_MAX_BLOCK_NAME + 1);
    }
    unsigned fail = u8();
    alloc_fail_at = fail < 200 ? 0 : (long)(fail - 199) * 3; /* ~1 input in 4 fails one allocation */
    hb_allocator a = HB_ALLOCATOR_INIT;
    a.alloc = fz_alloc;
    a.free = fz_free;
    static int stats_armed;
    if (!stats_armed) {
        stats_armed = 1;
        if (getenv("FUZZ_API_STATS")) atexit(print_stats);
    }
    if (hb_context_create_with_allocator(&a, &ctx) != HB_OK) return 0;
    static void (*const ops[])(void) = {new_tensor, new_params, new_model, set_data, evaluate,
                                        tensor_op, params_op, optim_op, checkpoint_op, linop_op,
                                        slq_op, spectrum_op, sst_op, trainer_op, context_op,
                                        net_op, net_op, net_op, net_data, model_products,
                                        model_products, net_pipeline};
    for (int n = 0; n < 64 && in_pos < in_len; n++) ops[pick(sizeof ops / sizeof *ops)]();
    free_all();
    hb_context_free(ctx);
    ctx = NULL;
    if (live_blocks != 0) {
        fprintf(stderr, "leak: %ld blocks of the context allocator live after freeing all\n",
                live_blocks);
        abort();
    }
    if (cbx_destroyed != cbx_destroy_due) {
        fprintf(stderr, "destroy called %ld times for %ld callback models\n", cbx_destroyed,
                cbx_destroy_due);
        abort();
    }
    return 0;
}
