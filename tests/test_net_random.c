/* Random valid nets over every op of include/hessblock/net.h (issue 18, "Tests": random
 * compositions of ops), each checked by tests/hb_net_check.h (gradient vs central
 * differences, HVP vs differences of gradients, dense Hessian symmetric to 1e-12 in f64,
 * block HVPs, hvp_multi, micro-batch split).
 *
 * Three families share one random walk:
 *   tokens:   input_tokens → embedding → [pos_embedding] → walk → head → xent | mse
 *   features: input_features (F) or (T, C) → walk → [head] → xent | mse
 *   image:    input_features (C, H, W) → walk → flatten → head → xent | mse
 * A walk step takes an existing activation (mostly the newest, sometimes an older one,
 * so branches and residual adds of old activations occur) and applies an op that its
 * shape admits: (F) and (T, C) linear, activation, layernorm, rmsnorm, add, flatten
 * (followed by a linear), and for (T, C) also attention and pos_embedding; (C, H, W)
 * conv2d, pool2d avg/max, activation, add. The generator computes every output shape
 * itself and checks it against hb_net_activation_shape, so the builder's shape inference
 * is tested too; the net is valid by construction.
 *
 * Size: every step keeps params + (cost of a head on its output) ≤ CAP, so the head the
 * walk ends with fits and every net has ≤ CAP parameters (asserted): the dense Hessian
 * check stays fast. A step that would not fit becomes an activation on the newest
 * activation, which adds no parameters.
 *
 * Invalid calls: some nets make one invalid call in the middle of the walk (unknown
 * input, wrong shape, heads not dividing C, a pool larger than the image, a duplicate
 * output name), check its code, that it changed nothing (op count, no output, the block
 * name free for the next op, which reuses it), and the net still builds and checks.
 *
 * Tolerances: the checker's defaults for the finite differences (its steps 1e-4 … 1e-7
 * cover a ReLU or max-pool kink crossed within one step, and a sharp smooth norm); its
 * exact comparisons with BLOCK_FLOOR and EXACT_NORM below, for roundoff that a norm or a
 * softmax amplifies. The generator was run over 2500 seeds per family with these (7500
 * nets, all pass); the suite keeps NETS per family. */
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "hb_net_check.h"
#include "hessblock/net.h"

#define OK(expr) ck_assert_int_eq((expr), HB_OK)

enum { NETS = 80, CAP = 300, MAXA = 48, LOGLEN = 1024 };

/* Coverage over all nets of the suite: op kinds, activation kinds, options. */
enum {
    C_EMB, C_POS, C_LIN, C_LIN_NOBIAS, C_LN, C_RMS, C_ATTN, C_ATTN_NOBIAS, C_ATTN_MULTIHEAD,
    C_ACT, C_CONV, C_CONV_NOBIAS, C_CONV_PAD, C_POOL_AVG, C_POOL_MAX, C_POOL_REM, C_FLAT,
    C_ADD, C_ADD_OLD, C_XENT, C_MSE, C_NOHEAD, C_INVALID, C_N
};
static const char *const COVER_NAMES[C_N] = {
    "embedding", "pos_embedding", "linear", "linear without bias", "layernorm", "rmsnorm",
    "attention", "attention without bias", "attention with several heads", "activation",
    "conv2d", "conv2d without bias", "conv2d with padding", "avg pool", "max pool",
    "pool with a remainder", "flatten", "add", "add of an older activation", "xent", "mse",
    "loss without a head", "invalid call"};
static int cover[C_N], cover_act[6];

typedef struct act {
    char name[16];
    int nd;
    int64_t d[3];
    bool tokens;
} act;

typedef enum family { FAM_TOKENS, FAM_FEATURES, FAM_IMAGE } family;

typedef struct walk {
    hb_context *ctx;
    hb_net *net;
    uint64_t state; /* LCG of the draws */
    act a[MAXA];
    int n;          /* activations so far */
    int blocks;     /* block prefixes used: b0, b1, … */
    int64_t params; /* parameters so far */
    int64_t V;      /* the head's width */
    bool xent;
    bool norm;      /* has a layernorm or rmsnorm (EXACT_NORM) */
    size_t ops;     /* expected hb_net_op_count */
    char log[LOGLEN];
} walk;

/* ---- small helpers ---- */

static int64_t draw(walk *w, int64_t lo, int64_t hi) {
    w->state = w->state * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (int64_t)((w->state >> 33) % (uint64_t)(hi - lo + 1));
}

static void logf_(walk *w, const char *fmt, ...) {
    size_t len = strlen(w->log);
    if (len + 1 >= LOGLEN) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->log + len, LOGLEN - len, fmt, ap);
    va_end(ap);
}

static int64_t numel(const act *x) {
    int64_t n = 1;
    for (int i = 0; i < x->nd; i++) n *= x->d[i];
    return n;
}

static int64_t last_dim(const act *x) { return x->d[x->nd - 1]; }

static bool same_shape(const act *x, const act *y) {
    if (x->tokens || y->tokens || x->nd != y->nd) return false;
    for (int i = 0; i < x->nd; i++)
        if (x->d[i] != y->d[i]) return false;
    return true;
}

/* Parameters of the head the walk would end with on x: a linear to V over the last
 * dimension, an image flattened first. */
static int64_t head_cost(const walk *w, const act *x) {
    int64_t in = x->nd == 3 ? numel(x) : last_dim(x);
    return in * w->V + w->V;
}

static bool fits(const walk *w, int64_t cost, const act *out) {
    return w->params + cost + head_cost(w, out) <= CAP;
}

static void next_name(const walk *w, char *buf) { snprintf(buf, 16, "a%d", w->n); }
static void next_block(const walk *w, char *buf) { snprintf(buf, 16, "b%d", w->blocks); }

/* Record the op's output (shape `o`, name a<n>) after a successful call, and check the
 * builder inferred the same shape. */
static const act *commit(walk *w, act o, int64_t cost) {
    ck_assert_int_lt(w->n, MAXA);
    next_name(w, o.name);
    int nd;
    int64_t d[3];
    OK(hb_net_activation_shape(w->net, o.name, &nd, d));
    ck_assert_msg(nd == o.nd, "%s: %s has %d dims, the generator expects %d", w->log, o.name, nd,
                  o.nd);
    for (int i = 0; i < nd; i++)
        ck_assert_msg(d[i] == o.d[i], "%s: %s dim %d is %lld, the generator expects %lld", w->log,
                      o.name, i, (long long)d[i], (long long)o.d[i]);
    w->params += cost;
    w->a[w->n++] = o;
    w->ops++;
    ck_assert_uint_eq(hb_net_op_count(w->net), w->ops);
    return &w->a[w->n - 1];
}

/* ---- the ops (each: out shape, fits?, call, commit; false when it does not fit) ---- */

static bool op_activation(walk *w, int src) {
    const act x = w->a[src];
    hb_activation k = (hb_activation)draw(w, HB_ACT_RELU, HB_ACT_TANH);
    if (!fits(w, 0, &x)) return false;
    char out[16];
    next_name(w, out);
    OK(hb_net_activation(w->net, k, x.name, out));
    logf_(w, " act%d(%s)", (int)k, x.name);
    cover[C_ACT]++, cover_act[k]++;
    commit(w, x, 0);
    return true;
}

static bool op_linear_(walk *w, int src, int64_t width, bool head) {
    act x = w->a[src], o = x;
    int bias = (int)draw(w, 0, 1);
    o.d[o.nd - 1] = width;
    int64_t cost = last_dim(&x) * width + (bias ? width : 0);
    if (head ? w->params + cost > CAP : !fits(w, cost, &o)) return false;
    char out[16], name[16];
    next_name(w, out), next_block(w, name);
    OK(hb_net_linear(w->net, name, x.name, out, width, bias, 0));
    logf_(w, " linear(%s,%lld%s)", x.name, (long long)width, bias ? "" : ",nobias");
    w->blocks++, cover[C_LIN]++, cover[C_LIN_NOBIAS] += !bias;
    commit(w, o, cost);
    return true;
}

static bool op_linear(walk *w, int src, int64_t width) { return op_linear_(w, src, width, false); }

static bool op_norm(walk *w, int src) {
    const act x = w->a[src];
    bool rms = draw(w, 0, 1);
    int64_t cost = (rms ? 1 : 2) * last_dim(&x);
    if (!fits(w, cost, &x)) return false;
    char out[16], name[16];
    next_name(w, out), next_block(w, name);
    OK(rms ? hb_net_rmsnorm(w->net, name, x.name, out, 0)
           : hb_net_layernorm(w->net, name, x.name, out, 0));
    if (!rms && last_dim(&x) == 1) {
        /* LayerNorm over one element outputs its bias, 0 at init: a ReLU after it would sit
         * exactly on its kink, where the loss has no derivative (token seed 212) */
        char bias[24];
        snprintf(bias, sizeof bias, "%s.bias", name);
        OK(hb_net_set_init(w->net, bias, HB_INIT_NORMAL, 0, 1));
    }
    logf_(w, " %s(%s)", rms ? "rmsnorm" : "layernorm", x.name);
    w->blocks++, w->norm = true, cover[rms ? C_RMS : C_LN]++;
    commit(w, x, cost);
    return true;
}

static bool op_attention(walk *w, int src) {
    const act x = w->a[src];
    int64_t C = x.d[1], heads;
    do heads = draw(w, 1, C); while (C % heads);
    int bias = (int)draw(w, 0, 1);
    int64_t cost = 4 * C * C + (bias ? 4 * C : 0);
    if (!fits(w, cost, &x)) return false;
    char out[16], name[16];
    next_name(w, out), next_block(w, name);
    OK(hb_net_attention(w->net, name, x.name, out, heads, bias));
    logf_(w, " attention(%s,h%lld%s)", x.name, (long long)heads, bias ? "" : ",nobias");
    w->blocks++, cover[C_ATTN]++, cover[C_ATTN_NOBIAS] += !bias;
    cover[C_ATTN_MULTIHEAD] += heads > 1;
    commit(w, x, cost);
    return true;
}

static bool op_pos(walk *w, int src) {
    const act x = w->a[src];
    int64_t cost = x.d[0] * x.d[1];
    if (!fits(w, cost, &x)) return false;
    char out[16], name[16];
    next_name(w, out), next_block(w, name);
    OK(hb_net_pos_embedding(w->net, name, x.name, out));
    logf_(w, " pos(%s)", x.name);
    w->blocks++, cover[C_POS]++;
    commit(w, x, cost);
    return true;
}

/* An add of x and an activation of its shape (x itself when none other exists). */
static bool op_add(walk *w, int src) {
    const act x = w->a[src];
    int cand[MAXA], nc = 0;
    for (int j = 0; j < w->n; j++)
        if (same_shape(&w->a[j], &x)) cand[nc++] = j;
    int other = cand[draw(w, 0, nc - 1)];
    if (!fits(w, 0, &x)) return false;
    char out[16];
    next_name(w, out);
    OK(hb_net_add(w->net, x.name, w->a[other].name, out));
    logf_(w, " add(%s,%s)", x.name, w->a[other].name);
    cover[C_ADD]++, cover[C_ADD_OLD] += other < w->n - 1 && src < w->n - 1;
    commit(w, x, 0);
    return true;
}

/* flatten (T, C) → (T·C) [or (F) → (F)], then a linear so the walk goes on with a
 * sequence-free feature vector. */
static bool op_flatten_linear(walk *w, int src) {
    const act x = w->a[src];
    act f = {.nd = 1, .d = {numel(&x)}};
    int64_t width = draw(w, 1, 4);
    act o = {.nd = 1, .d = {width}};
    int64_t cost = f.d[0] * width + width;
    if (!fits(w, cost, &o)) return false;
    char out[16];
    next_name(w, out);
    OK(hb_net_flatten(w->net, x.name, out));
    logf_(w, " flatten(%s)", x.name);
    cover[C_FLAT]++;
    commit(w, f, 0);
    return op_linear(w, w->n - 1, width) || (ck_abort_msg("%s: linear after flatten", w->log), 0);
}

static bool op_conv(walk *w, int src) {
    const act x = w->a[src];
    int64_t pad = draw(w, 0, 1), k = draw(w, 1, 3), cout = draw(w, 1, 3);
    int bias = (int)draw(w, 0, 1);
    while (k > 1 && (x.d[1] + 2 * pad - k + 1 < 1 || x.d[2] + 2 * pad - k + 1 < 1)) k--;
    act o = {.nd = 3, .d = {cout, x.d[1] + 2 * pad - k + 1, x.d[2] + 2 * pad - k + 1}};
    if (o.d[1] > 6 || o.d[2] > 6) return false; /* padding that grows the image */
    int64_t cost = cout * x.d[0] * k * k + (bias ? cout : 0);
    if (!fits(w, cost, &o)) return false;
    char out[16], name[16];
    next_name(w, out), next_block(w, name);
    OK(hb_net_conv2d(w->net, name, x.name, out, cout, k, pad, bias));
    logf_(w, " conv(%s,%lld,k%lld,p%lld%s)", x.name, (long long)cout, (long long)k, (long long)pad,
          bias ? "" : ",nobias");
    w->blocks++, cover[C_CONV]++, cover[C_CONV_NOBIAS] += !bias, cover[C_CONV_PAD] += pad > 0;
    commit(w, o, cost);
    return true;
}

static bool op_pool(walk *w, int src) {
    const act x = w->a[src];
    hb_net_pool kind = draw(w, 0, 1) ? HB_POOL_MAX : HB_POOL_AVG;
    int64_t hw = x.d[1] < x.d[2] ? x.d[1] : x.d[2], size = draw(w, 1, hw < 3 ? hw : 3);
    act o = {.nd = 3, .d = {x.d[0], x.d[1] / size, x.d[2] / size}};
    if (!fits(w, 0, &o)) return false;
    char out[16];
    next_name(w, out);
    OK(hb_net_pool2d(w->net, kind, x.name, out, size));
    logf_(w, " %spool(%s,%lld)", kind == HB_POOL_MAX ? "max" : "avg", x.name, (long long)size);
    cover[kind == HB_POOL_MAX ? C_POOL_MAX : C_POOL_AVG]++;
    cover[C_POOL_REM] += x.d[1] % size || x.d[2] % size;
    commit(w, o, 0);
    return true;
}

/* ---- one invalid call: its code, and that it left nothing behind ---- */

static void invalid_call(walk *w) {
    const act *x = &w->a[w->n - 1];
    char out[16], name[16];
    next_name(w, out), next_block(w, name);
    int rc, want, kind = (int)draw(w, 0, 3);
    const char *what;
    if (kind == 0) {
        rc = hb_net_linear(w->net, name, "no_such_activation", out, 2, 1, 0);
        want = HB_ENOTFOUND, what = "unknown input";
    } else if (kind == 1) {
        rc = hb_net_activation(w->net, HB_ACT_TANH, x->name, w->a[0].name);
        want = HB_EINVAL, what = "duplicate output name";
    } else if (x->nd == 3) {
        if (kind == 2) {
            int64_t side = x->d[1] > x->d[2] ? x->d[1] : x->d[2];
            rc = hb_net_pool2d(w->net, HB_POOL_MAX, x->name, out, side + 1);
            want = HB_ESHAPE, what = "pool larger than the image";
        } else {
            rc = hb_net_linear(w->net, name, x->name, out, 2, 1, 0);
            want = HB_ESHAPE, what = "linear on an image";
        }
    } else if (x->nd == 2) {
        if (kind == 2) {
            rc = hb_net_attention(w->net, name, x->name, out, x->d[1] + 1, 1);
            want = HB_ESHAPE, what = "heads not dividing C";
        } else {
            rc = hb_net_conv2d(w->net, name, x->name, out, 2, 1, 0, 1);
            want = HB_ESHAPE, what = "conv2d on a sequence";
        }
    } else {
        int other = -1;
        for (int j = 0; j < w->n && other < 0; j++)
            if (!w->a[j].tokens && !same_shape(&w->a[j], x)) other = j;
        if (kind == 2 && other >= 0) {
            rc = hb_net_add(w->net, x->name, w->a[other].name, out);
            want = HB_ESHAPE, what = "add of different shapes";
        } else {
            rc = hb_net_attention(w->net, name, x->name, out, 1, 1);
            want = HB_ESHAPE, what = "attention on features";
        }
    }
    ck_assert_msg(rc == want, "%s: invalid call (%s) returned %d, expected %d", w->log, what, rc,
                  want);
    ck_assert_msg(hb_context_last_error(w->ctx)[0] != '\0', "%s: %s without a message", w->log,
                  what);
    ck_assert_uint_eq(hb_net_op_count(w->net), w->ops);
    int nd;
    int64_t d[3];
    ck_assert_int_eq(hb_net_activation_shape(w->net, out, &nd, d), HB_ENOTFOUND);
    logf_(w, " [invalid: %s]", what);
    cover[C_INVALID]++;
    /* the next parameterised op takes the same block prefix and output name: a failed call
     * must have reserved neither */
}

/* ---- the walk ---- */

static void step(walk *w) {
    int src = w->n - 1;
    if (w->n > 2 && draw(w, 0, 2) == 0) { /* an older activation, never the tokens */
        do src = (int)draw(w, 0, w->n - 2); while (w->a[src].tokens);
    }
    const act *x = &w->a[src];
    bool done = false;
    if (x->nd == 3) {
        switch (draw(w, 0, 4)) {
        case 0: case 1: done = op_conv(w, src); break;
        case 2: done = op_pool(w, src); break;
        case 3: done = op_activation(w, src); break;
        default: done = op_add(w, src); break;
        }
    } else {
        switch (draw(w, 0, x->nd == 2 ? 9 : 7)) {
        case 0: case 1: done = op_linear(w, src, draw(w, 1, 6)); break;
        case 2: case 3: done = op_activation(w, src); break;
        case 4: case 5: done = op_norm(w, src); break;
        case 6: done = op_add(w, src); break;
        case 7: done = op_flatten_linear(w, src); break;
        case 8: done = op_attention(w, src); break;
        default: done = op_pos(w, src); break;
        }
    }
    if (!done) /* too big: an activation on the newest one fits by the invariant */
        ck_assert_msg(op_activation(w, w->n - 1), "%s: the fallback does not fit", w->log);
}

/* The head and the loss on the newest activation. */
static void finish(walk *w) {
    const act *x = &w->a[w->n - 1];
    bool head = true;
    if (x->nd == 3) {
        char out[16];
        next_name(w, out);
        OK(hb_net_flatten(w->net, x->name, out));
        logf_(w, " flatten(%s)", x->name);
        cover[C_FLAT]++;
        act f = {.nd = 1, .d = {numel(x)}};
        x = commit(w, f, 0);
    } else if (draw(w, 0, 3) == 0 && (!w->xent || last_dim(x) >= 2) && w->params > 0) {
        head = false; /* the loss straight on the walk's output (a net has parameters) */
    }
    if (head) {
        ck_assert_msg(op_linear_(w, w->n - 1, w->V, true), "%s: the head does not fit", w->log);
        x = &w->a[w->n - 1];
    } else {
        cover[C_NOHEAD]++;
    }
    OK(w->xent ? hb_net_loss_xent(w->net, x->name) : hb_net_loss_mse(w->net, x->name));
    logf_(w, " %s(%s)", w->xent ? "xent" : "mse", x->name);
    cover[w->xent ? C_XENT : C_MSE]++;
    w->ops++;
}

/* Net `seed` of family `fam`, with one invalid call when `invalid`. */
static void build(walk *w, hb_context *ctx, family fam, uint64_t seed, bool invalid) {
    memset(w, 0, sizeof *w);
    w->ctx = ctx;
    w->state = 0x4E4554524E44ull ^ (seed * 0x9E3779B97F4A7C15ull) ^ (uint64_t)fam;
    for (int i = 0; i < 4; i++) draw(w, 0, 1);
    OK(hb_net_create(ctx, HB_F64, &w->net));
    w->xent = draw(w, 0, 2) != 0;
    w->V = w->xent ? draw(w, 2, 4) : draw(w, 1, 3);
    act in = {.name = "in"};
    logf_(w, "seed %llu:", (unsigned long long)seed);
    if (fam == FAM_TOKENS) {
        int64_t T = draw(w, 1, 4), vocab = draw(w, 2, 6), C = draw(w, 1, 6);
        in.nd = 1, in.d[0] = T, in.tokens = true;
        OK(hb_net_input_tokens(w->net, in.name, T, vocab));
        logf_(w, " tokens(T%lld,V%lld)", (long long)T, (long long)vocab);
        w->a[w->n++] = in, w->ops++;
        char out[16], name[16];
        next_name(w, out), next_block(w, name);
        OK(hb_net_embedding(w->net, name, in.name, out, C));
        logf_(w, " embedding(%lld)", (long long)C);
        w->blocks++, cover[C_EMB]++;
        commit(w, (act){.nd = 2, .d = {T, C}}, vocab * C);
        if (draw(w, 0, 1)) op_pos(w, w->n - 1);
    } else if (fam == FAM_FEATURES) {
        in.nd = (int)draw(w, 1, 2);
        for (int i = 0; i < in.nd; i++) in.d[i] = draw(w, 1, 5);
        OK(hb_net_input_features(w->net, in.name, in.nd, in.d));
        logf_(w, in.nd == 1 ? " features(%lld)" : " features(%lld,%lld)", (long long)in.d[0],
              (long long)in.d[1]);
        w->a[w->n++] = in, w->ops++;
    } else {
        in.nd = 3, in.d[0] = draw(w, 1, 2), in.d[1] = draw(w, 2, 5), in.d[2] = draw(w, 2, 5);
        OK(hb_net_input_features(w->net, in.name, 3, in.d));
        logf_(w, " image(%lld,%lld,%lld)", (long long)in.d[0], (long long)in.d[1],
              (long long)in.d[2]);
        w->a[w->n++] = in, w->ops++;
    }
    ck_assert_msg(w->params + head_cost(w, &w->a[w->n - 1]) <= CAP, "%s: the start does not fit",
                  w->log);
    int steps = (int)draw(w, 2, 7), bad_at = invalid ? (int)draw(w, 0, steps - 1) : -1;
    for (int s = 0; s < steps; s++) {
        if (s == bad_at) invalid_call(w);
        step(w);
    }
    finish(w);
}

/* The block-HVP comparison (d) is relative to max(‖block's H·v‖, BLOCK_FLOOR · max |H| ·
 * ‖v‖), not to the block's own H·v alone. A norm makes the loss nearly invariant to the
 * scale of its input, so a block feeding a norm through a rank-1 path (a width-1 embedding
 * → linear → layernorm → rmsnorm: token seeds 11 and 151 of a 600-seed run) has a Hessian
 * that is O(eps) by cancellation of O(1/eps) terms, 1e-4 to 1e-7 of max |H|: its two exact
 * routes agree to ~1e-14 of max |H| but only to 5e-11 … 5e-8 of the block's own norm;
 * changing the norms' eps (1e-5 … 1) moves that error with the block, as roundoff does.
 * Softmax's shift invariance does the same, milder, to an attention's wq (1.3e-11, feature
 * seed 397). A wrong derivative of such a block is still an error of ~its own size, far
 * above 1e-11 · 1e-2 of max |H|.
 * A net with a norm also compares its exact routes ((d), (e), (f)) to EXACT_NORM, not
 * 1e-11: a norm whose input is nearly zero (rms ≈ √eps, e.g. a rank-1 path of a scalar
 * near 0) amplifies roundoff by its conditioning. Measured on tokens → embedding →
 * flatten → linear(1) → linear(3) → rmsnorm → rmsnorm → silu → linear → xent (the
 * shape of token seed 1559, 1.1e-11 on a block of normal size), the worst block
 * discrepancy over 20 inits is 2.1e-11 with eps 1e-5, 9.0e-13 with 1e-3, 2.8e-15 with
 * 0.1: roundoff that the conditioning scales, where a wrong derivative would not move. */
#define EXACT_NORM 1e-9
#define BLOCK_FLOOR 1e-2

static void check_family(family fam, uint64_t first, uint64_t count) {
    hb_context *ctx = hb_test_context(1, 8800 + (int64_t)fam);
    for (uint64_t seed = first; seed < first + count; seed++) { 
        walk w;
        /* each net's initialisation from its own seed: a net is reproducible alone */
        OK(hb_context_set_i64(ctx, HB_CTX_SEED, 8800 + (int64_t)(seed * 3) + (int64_t)fam));
        build(&w, ctx, fam, seed, seed % 4 == 3);
        hb_model *m = NULL;
        int rc = hb_model_create_net(w.net, &m);
        ck_assert_msg(rc == HB_OK, "%s: create: %s", w.log, hb_context_last_error(ctx));
        size_t n = hb_params_count(hb_model_params(m));
        ck_assert_msg((int64_t)n == w.params && n <= CAP,
                      "%s: %zu parameters, the generator counted %lld",
                      w.log, n, (long long)w.params);
        hb_tensor *x = NULL, *y = NULL;
        hb_net_check_batch(w.net, 2 + seed % 3, 0x524E44ull + seed * 8 + (uint64_t)fam, &x, &y);
        hb_net_check_tol tol = {.exact = w.norm ? EXACT_NORM : 0, .block_floor = BLOCK_FLOOR};
        hb_net_check_model(m, x, y, &tol, w.log);
        hb_tensor_free(x), hb_tensor_free(y);
        hb_model_free(m);
        hb_net_free(w.net);
    }
    hb_context_free(ctx);
}

START_TEST(random_token_nets) { check_family(FAM_TOKENS, 0, NETS); }
END_TEST

START_TEST(random_feature_nets) { check_family(FAM_FEATURES, 0, NETS); }
END_TEST

START_TEST(random_image_nets) { check_family(FAM_IMAGE, 0, NETS); }
END_TEST

/* Every op, activation kind and option occurs in the nets above (built again here, not
 * checked: the nets depend only on the seeds). */
START_TEST(coverage) {
    memset(cover, 0, sizeof cover), memset(cover_act, 0, sizeof cover_act);
    hb_context *ctx = hb_test_context(1, 8800);
    for (int fam = FAM_TOKENS; fam <= FAM_IMAGE; fam++)
        for (uint64_t seed = 0; seed < NETS; seed++) {
            walk w;
            build(&w, ctx, (family)fam, seed, seed % 4 == 3);
            hb_net_free(w.net);
        }
    hb_context_free(ctx);
    for (int c = 0; c < C_N; c++)
        ck_assert_msg(cover[c] > 0, "no random net has a %s", COVER_NAMES[c]);
    for (int k = HB_ACT_RELU; k <= HB_ACT_TANH; k++)
        ck_assert_msg(cover_act[k] > 0, "no random net has activation kind %d", k);
}
END_TEST

Suite *hb_suite_net_random(void) {
    Suite *s = suite_create("net_random");
    TCase *t = tcase_create("random_nets");
    tcase_set_timeout(t, 600);
    tcase_add_test(t, random_token_nets);
    tcase_add_test(t, random_feature_nets);
    tcase_add_test(t, random_image_nets);
    tcase_add_test(t, coverage);
    suite_add_tcase(s, t);
    return s;
}
