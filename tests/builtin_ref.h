/* Reference values of the built-in gpt, mlp and cnn (issue 18.3): what the models must
 * keep computing when their implementation changes. Shared by the generator
 * (tests/gen_builtin_ref.c, which wrote tests/data/builtin_ref.txt from the hand-written
 * models of commit bb50a3b) and the `builtin_ref` suite (tests/test_builtin_ref.c, which
 * recomputes every record and compares). Public API only, so the records say nothing
 * about how a model is implemented.
 *
 * Per case (model × dtype, fixed seed, one thread):
 *   layout    every block's name, kind and shape, and the parameter count (exact);
 *   θ at init an FNV-1a hash of its bytes (exact: the documented initialisation) and
 *             per-block sums of squares (to see which block moved if the hash does not);
 *   data      hashes of both synthetic micro-batches' inputs and targets (exact);
 * then θ is moved off the init (θ += 0.1·N(0, 1) from a local generator: GPT-2's init
 * has zero biases and unit norms, which would leave terms of the Hessian unexercised) and:
 *   loss, the full gradient, H·v (Rademacher v), hvp_multi with 3 normal directions,
 *   block_hvp of 3 blocks (v's slice), accuracy.
 * Text format, whitespace-separated tokens: `T key token` (text, exact), `N key n v…`
 * (numbers, %.17g in f64 cases and %.9g in f32 ones). */
#ifndef HB_BUILTIN_REF_H
#define HB_BUILTIN_REF_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hessblock/hessblock.h"

#define REF_SEED 20240518
#define REF_MAX_KEY 96

/* Where the records go: printed (generator) or compared (test). */
typedef struct ref_sink ref_sink;
struct ref_sink {
    void (*num)(ref_sink *s, const char *key, size_t n, const double *v, int f32);
    void (*text)(ref_sink *s, const char *key, const char *text);
};

typedef struct ref_case {
    const char *name;
    hb_model_kind kind;
    hb_dtype dtype;
    int64_t keys[8][2]; /* {key, value}, 0-terminated */
    const char *blocks[3]; /* block_hvp */
} ref_case;

#define REF_GPT(n, dt)                                                                   \
    {n, HB_MODEL_GPT, dt,                                                                \
     {{HB_MK_VOCAB, 11}, {HB_MK_CONTEXT, 8}, {HB_MK_WIDTH, 16}, {HB_MK_HEADS, 2},      \
      {HB_MK_LAYERS, 2}, {HB_MK_BATCH, 3}},                                             \
     {"wpe", "h.0.attn.wq", "h.1.mlp.c_proj"}}
#define REF_MLP(n, dt, act)                                                              \
    {n, HB_MODEL_MLP, dt,                                                                \
     {{HB_MK_INPUTS, 7}, {HB_MK_WIDTH, 9}, {HB_MK_LAYERS, 2}, {HB_MK_CLASSES, 5},       \
      {HB_MK_BATCH, 4}, {HB_MK_ACTIVATION, act}},                                       \
     {"layers.0.weight", "layers.1.bias", "head.weight"}}
#define REF_CNN(n, dt)                                                                   \
    {n, HB_MODEL_CNN, dt,                                                                \
     {{HB_MK_IMAGE_SIZE, 8}, {HB_MK_CHANNELS, 2}, {HB_MK_CONV_WIDTH, 3},                \
      {HB_MK_CONV_STAGES, 2}, {HB_MK_CLASSES, 4}, {HB_MK_BATCH, 3}},                    \
     {"features.0.weight", "features.1.bias", "head.bias"}}

static const ref_case REF_CASES[] = {
    REF_GPT("gpt.f64", HB_F64),
    REF_GPT("gpt.f32", HB_F32),
    REF_MLP("mlp_relu.f64", HB_F64, HB_ACT_RELU),
    REF_MLP("mlp_relu.f32", HB_F32, HB_ACT_RELU),
    REF_MLP("mlp_gelu.f64", HB_F64, HB_ACT_GELU),
    REF_MLP("mlp_gelu.f32", HB_F32, HB_ACT_GELU),
    REF_CNN("cnn.f64", HB_F64),
    REF_CNN("cnn.f32", HB_F32),
};
#define REF_N_CASES (sizeof REF_CASES / sizeof REF_CASES[0])

/* splitmix64: a generator of our own, so the directions do not depend on the library. */
static inline uint64_t ref_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static inline double ref_unit(uint64_t *s) { return ((double)(ref_next(s) >> 11) + 0.5) / 9007199254740992.0; }
static inline double ref_normal(uint64_t *s) {
    double u = ref_unit(s), v = ref_unit(s);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static inline uint64_t ref_fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 0x100000001B3ull;
    return h;
}
#define REF_FNV0 0xCBF29CE484222325ull

static inline void ref_hash_text(ref_sink *s, const char *key, uint64_t h) {
    char t[24];
    snprintf(t, sizeof t, "%016llx", (unsigned long long)h);
    s->text(s, key, t);
}

#define REF_TRY(x)                                                                       \
    do {                                                                                 \
        int ref_rc_ = (x);                                                               \
        if (ref_rc_ != HB_OK) {                                                          \
            fprintf(stderr, "builtin_ref: %s failed: %s (%s)\n", #x, hb_strerror(ref_rc_),  \
                    hb_context_last_error(ctx));                                         \
            rc = ref_rc_;                                                                \
            goto done;                                                                   \
        }                                                                                \
    } while (0)

/* out[0..n) = the model's H·V for k directions V (k, n), f64 in and out. */
static inline int ref_hvp(hb_context *ctx, hb_model *m, size_t k, size_t n, double *V, double *out) {
    int64_t sh1[1] = {(int64_t)n}, sh2[2] = {(int64_t)k, (int64_t)n};
    hb_tensor *tv = NULL, *to = NULL;
    int rc = hb_tensor_wrap(ctx, HB_F64, k == 1 ? 1 : 2, k == 1 ? sh1 : sh2, V, &tv);
    if (rc == HB_OK) rc = hb_tensor_wrap(ctx, HB_F64, k == 1 ? 1 : 2, k == 1 ? sh1 : sh2, out, &to);
    if (rc == HB_OK) rc = k == 1 ? hb_model_hvp(m, tv, to) : hb_model_hvp_multi(m, tv, to);
    hb_tensor_free(tv);
    hb_tensor_free(to);
    return rc;
}

static inline int ref_run_case(const ref_case *c, ref_sink *s) {
    int f32 = c->dtype == HB_F32, rc = HB_OK;
    hb_context *ctx = NULL;
    hb_model_config *cfg = NULL;
    hb_model *m = NULL;
    hb_tensor *flat = NULL, *gflat = NULL, *tb = NULL, *to = NULL;
    double *v = NULL, *V = NULL, *out = NULL, *buf = NULL;
    char key[REF_MAX_KEY], txt[256];
    if ((rc = hb_context_create(&ctx)) != HB_OK) return rc;
    REF_TRY(hb_context_set_i64(ctx, HB_CTX_SEED, REF_SEED));
    REF_TRY(hb_model_config_create(ctx, c->kind, &cfg));
    REF_TRY(hb_model_config_set_i64(cfg, HB_MK_DTYPE, c->dtype));
    for (int i = 0; c->keys[i][0]; i++)
        REF_TRY(hb_model_config_set_i64(cfg, (hb_model_key)c->keys[i][0], c->keys[i][1]));
    REF_TRY(hb_model_create(ctx, cfg, &m));

    /* layout */
    hb_params *p = hb_model_params(m);
    size_t n = hb_params_count(p), nb = hb_params_num_blocks(p);
    snprintf(key, sizeof key, "%s.name", c->name);
    s->text(s, key, hb_model_name(m));
    double nd = (double)n;
    snprintf(key, sizeof key, "%s.nparams", c->name);
    s->num(s, key, 1, &nd, 0);
    for (size_t b = 0; b < nb; b++) {
        const char *name;
        hb_block_kind kind;
        int ndim;
        int64_t shape[HB_MAX_DIMS];
        size_t off, numel;
        REF_TRY(hb_params_block_info(p, b, &name, &kind, &off, &numel, &ndim, shape));
        int len = snprintf(txt, sizeof txt, "%s|%s|%zu|", name, hb_block_kind_name(kind), off);
        for (int d = 0; d < ndim; d++)
            len += snprintf(txt + len, sizeof txt - (size_t)len, d ? "x%lld" : "%lld", (long long)shape[d]);
        snprintf(key, sizeof key, "%s.block.%zu", c->name, b);
        s->text(s, key, txt);
    }

    /* θ at init */
    size_t es = f32 ? 4 : 8;
    snprintf(key, sizeof key, "%s.theta_init", c->name);
    ref_hash_text(s, key, ref_fnv(REF_FNV0, hb_params_data(p), n * es));
    REF_TRY(hb_params_flat_view(p, &flat));
    buf = calloc(n > nb ? n : nb, sizeof *buf);
    v = calloc(n, sizeof *v), V = calloc(3 * n, sizeof *V), out = calloc(3 * n, sizeof *out);
    if (!buf || !v || !V || !out) {
        rc = HB_ENOMEM;
        goto done;
    }
    for (size_t b = 0; b < nb; b++) {
        size_t off, numel;
        REF_TRY(hb_params_block_info(p, b, NULL, NULL, &off, &numel, NULL, NULL));
        double sq = 0;
        for (size_t i = off; i < off + numel; i++) {
            double x;
            REF_TRY(hb_tensor_get_f64(flat, i, &x));
            sq += x * x;
        }
        buf[b] = sq;
    }
    snprintf(key, sizeof key, "%s.theta_init_sq", c->name);
    s->num(s, key, nb, buf, f32);

    /* data: two synthetic micro-batches */
    REF_TRY(hb_model_set_synthetic(m, 2, 7, 0));
    for (size_t i = 0; i < 2; i++)
        for (int part = HB_BATCH_INPUTS; part <= HB_BATCH_TARGETS; part++) {
            hb_dtype dt;
            int ndim;
            int64_t shape[HB_MAX_DIMS];
            REF_TRY(hb_model_batch_shape(m, i, (hb_batch_part)part, &dt, &ndim, shape));
            size_t bytes = hb_dtype_size(dt);
            for (int d = 0; d < ndim; d++) bytes *= (size_t)shape[d];
            void *data = malloc(bytes);
            if (!data) {
                rc = HB_ENOMEM;
                goto done;
            }
            rc = hb_model_batch_copy(m, i, (hb_batch_part)part, data, bytes);
            uint64_t h = ref_fnv(REF_FNV0, &dt, sizeof dt);
            h = ref_fnv(h, shape, (size_t)ndim * sizeof shape[0]);
            h = ref_fnv(h, data, bytes);
            free(data);
            REF_TRY(rc);
            snprintf(key, sizeof key, "%s.data.%zu.%s", c->name, i,
                     part == HB_BATCH_INPUTS ? "inputs" : "targets");
            ref_hash_text(s, key, h);
        }

    /* θ off the init; directions */
    uint64_t rs = 0x5EED0000ull + (uint64_t)c->kind;
    for (size_t i = 0; i < n; i++) {
        double x;
        REF_TRY(hb_tensor_get_f64(flat, i, &x));
        REF_TRY(hb_tensor_set_f64(flat, i, x + 0.1 * ref_normal(&rs)));
    }
    for (size_t i = 0; i < n; i++) v[i] = (ref_next(&rs) >> 63) ? 1.0 : -1.0;
    for (size_t i = 0; i < 3 * n; i++) V[i] = ref_normal(&rs);

    double loss, acc;
    REF_TRY(hb_model_loss(m, &loss));
    snprintf(key, sizeof key, "%s.loss", c->name);
    s->num(s, key, 1, &loss, f32);
    REF_TRY(hb_model_loss_grad(m, &loss));
    snprintf(key, sizeof key, "%s.grad_loss", c->name);
    s->num(s, key, 1, &loss, f32);
    REF_TRY(hb_params_grad_flat_view(p, &gflat));
    for (size_t i = 0; i < n; i++) REF_TRY(hb_tensor_get_f64(gflat, i, &buf[i]));
    snprintf(key, sizeof key, "%s.grad", c->name);
    s->num(s, key, n, buf, f32);

    REF_TRY(ref_hvp(ctx, m, 1, n, v, out));
    snprintf(key, sizeof key, "%s.hvp", c->name);
    s->num(s, key, n, out, f32);

    REF_TRY(ref_hvp(ctx, m, 3, n, V, out));
    for (size_t j = 0; j < 3; j++) {
        snprintf(key, sizeof key, "%s.hvp_multi.%zu", c->name, j);
        s->num(s, key, n, out + j * n, f32);
    }

    for (int j = 0; j < 3; j++) {
        size_t b, off, numel;
        REF_TRY(hb_params_find_block(p, c->blocks[j], &b));
        REF_TRY(hb_params_block_info(p, b, NULL, NULL, &off, &numel, NULL, NULL));
        int64_t sh[1] = {(int64_t)numel};
        REF_TRY(hb_tensor_wrap(ctx, HB_F64, 1, sh, v + off, &tb));
        REF_TRY(hb_tensor_wrap(ctx, HB_F64, 1, sh, out, &to));
        REF_TRY(hb_model_block_hvp(m, b, tb, to));
        hb_tensor_free(tb), hb_tensor_free(to);
        tb = to = NULL;
        snprintf(key, sizeof key, "%s.block_hvp.%s", c->name, c->blocks[j]);
        s->num(s, key, numel, out, f32);
    }

    REF_TRY(hb_model_accuracy(m, &acc));
    snprintf(key, sizeof key, "%s.accuracy", c->name);
    s->num(s, key, 1, &acc, f32);
done:
    hb_tensor_free(tb);
    hb_tensor_free(to);
    hb_tensor_free(flat);
    hb_tensor_free(gflat);
    free(buf), free(v), free(V), free(out);
    hb_model_free(m);
    hb_model_config_free(cfg);
    hb_context_free(ctx);
    return rc;
}

#undef REF_TRY
#endif
