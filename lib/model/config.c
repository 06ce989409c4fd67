/* Built-in model configurations: an enum-keyed bag of options with per-kind defaults
 * and bounds. Adding a key: one row in the table below and one line in model.h. */
#include <math.h>
#include <string.h>

#include "model/model_internal.h"

#define MAX_KEY 64

typedef struct key_spec {
    hb_model_kind kind;   /* 0 = every kind */
    hb_model_key key;
    bool real;
    double def, lo, hi;   /* default and inclusive bounds */
} key_spec;

static const key_spec specs[] = {
    {0, HB_MK_DTYPE, false, HB_F64, HB_F32, HB_BF16},
    {0, HB_MK_BATCH, false, 16, 1, 1 << 20},
    {HB_MODEL_GPT, HB_MK_VOCAB, false, 65, 2, 1 << 20},
    {HB_MODEL_GPT, HB_MK_CONTEXT, false, 64, 1, 1 << 16},
    {HB_MODEL_GPT, HB_MK_WIDTH, false, 128, 1, 1 << 16},
    {HB_MODEL_GPT, HB_MK_HEADS, false, 4, 1, 1 << 10},
    {HB_MODEL_GPT, HB_MK_LAYERS, false, 2, 1, 256},
    {HB_MODEL_MLP, HB_MK_WIDTH, false, 128, 1, 1 << 16},
    {HB_MODEL_MLP, HB_MK_LAYERS, false, 2, 0, 256},
    {HB_MODEL_MLP, HB_MK_INPUTS, false, 32, 1, 1 << 20},
    {HB_MODEL_MLP, HB_MK_CLASSES, false, 10, 2, 1 << 20},
    {HB_MODEL_MLP, HB_MK_ACTIVATION, false, HB_ACT_RELU, HB_ACT_RELU, HB_ACT_GELU},
    {HB_MODEL_CNN, HB_MK_CLASSES, false, 10, 2, 1 << 20},
    {HB_MODEL_CNN, HB_MK_IMAGE_SIZE, false, 16, 2, 4096},
    {HB_MODEL_CNN, HB_MK_CHANNELS, false, 1, 1, 1024},
    {HB_MODEL_CNN, HB_MK_CONV_WIDTH, false, 8, 1, 4096},
    {HB_MODEL_CNN, HB_MK_CONV_STAGES, false, 2, 1, 12},
    {HB_MODEL_QUADRATIC, HB_MK_QUAD_BLOCKS, false, 4, 1, 4096},
    {HB_MODEL_QUADRATIC, HB_MK_QUAD_BLOCK_SIZE, false, 25, 1, 1 << 14},
    {HB_MODEL_QUADRATIC, HB_MK_QUAD_FAMILY, false, HB_QUAD_HETEROGENEOUS, HB_QUAD_HETEROGENEOUS,
     HB_QUAD_HOMOGENEOUS},
    {HB_MODEL_QUADRATIC, HB_MK_QUAD_COND, true, 5000, 1, 1e16},
};

struct hb_model_config {
    hb_context *ctx;
    hb_model_kind kind;
    double value[MAX_KEY];
    bool used[MAX_KEY];
    bool real[MAX_KEY];
};

static const char *kind_name(hb_model_kind k) {
    switch (k) {
    case HB_MODEL_QUADRATIC: return "quadratic";
    case HB_MODEL_MLP: return "mlp";
    case HB_MODEL_GPT: return "gpt";
    case HB_MODEL_CNN: return "cnn";
    }
    return "?";
}

int hb_model_config_create(hb_context *ctx, hb_model_kind kind, hb_model_config **out) {
    if (out) *out = NULL;
    if (!ctx) return HB_EINVAL;
    HB_CHECK(ctx, out != NULL, HB_EINVAL, "output pointer is NULL");
    HB_CHECK(ctx, strcmp(kind_name(kind), "?") != 0, HB_EINVAL, "unknown model kind %d", (int)kind);
    hb_model_config *c = hb__calloc(ctx, 1, sizeof *c, "model config");
    if (!c) return HB_ENOMEM;
    c->ctx = ctx;
    c->kind = kind;
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
        if (specs[i].kind == 0 || specs[i].kind == kind) {
            c->used[specs[i].key] = true;
            c->real[specs[i].key] = specs[i].real;
            c->value[specs[i].key] = specs[i].def;
        }
    *out = c;
    return HB_OK;
}

void hb_model_config_free(hb_model_config *cfg) {
    if (cfg) hb__free(cfg->ctx, cfg);
}

static const key_spec *find(const hb_model_config *c, hb_model_key key) {
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
        if (specs[i].key == key && (specs[i].kind == 0 || specs[i].kind == c->kind)) return &specs[i];
    return NULL;
}

static int set(hb_model_config *c, hb_model_key key, double v, bool real) {
    const key_spec *s = find(c, key);
    HB_CHECK(c->ctx, s != NULL, HB_EINVAL, "option %d does not apply to a %s model", (int)key,
             kind_name(c->kind));
    HB_CHECK(c->ctx, s->real == real, HB_EINVAL, "option %d takes %s value", (int)key,
             s->real ? "a real (set_f64)" : "an integer (set_i64)");
    if (key == HB_MK_DTYPE)
        HB_CHECK(c->ctx, v == HB_F32 || v == HB_F64 || v == HB_BF16, HB_EDTYPE,
                 "model dtype must be f32, f64 or bf16, got %g", v);
    HB_CHECK(c->ctx, isfinite(v) && v >= s->lo && v <= s->hi, HB_EINVAL,
             "option %d of a %s model must be in [%g, %g], got %g", (int)key, kind_name(c->kind),
             s->lo, s->hi, v);
    c->value[key] = v;
    return HB_OK;
}

int hb_model_config_set_i64(hb_model_config *cfg, hb_model_key key, int64_t value) {
    if (!cfg) return HB_EINVAL;
    return set(cfg, key, (double)value, false);
}

int hb_model_config_set_f64(hb_model_config *cfg, hb_model_key key, double value) {
    if (!cfg) return HB_EINVAL;
    return set(cfg, key, value, true);
}

int hb_model_config_get_i64(const hb_model_config *cfg, hb_model_key key, int64_t *value) {
    if (!cfg) return HB_EINVAL;
    const key_spec *s = find(cfg, key);
    HB_CHECK(cfg->ctx, value != NULL && s != NULL && !s->real, HB_EINVAL,
             "no integer option %d for a %s model", (int)key, kind_name(cfg->kind));
    *value = (int64_t)cfg->value[key];
    return HB_OK;
}

int hb_model_config_get_f64(const hb_model_config *cfg, hb_model_key key, double *value) {
    if (!cfg) return HB_EINVAL;
    const key_spec *s = find(cfg, key);
    HB_CHECK(cfg->ctx, value != NULL && s != NULL && s->real, HB_EINVAL,
             "no real option %d for a %s model", (int)key, kind_name(cfg->kind));
    *value = cfg->value[key];
    return HB_OK;
}

int64_t hb__config_i64(const hb_model_config *cfg, hb_model_key key) { return (int64_t)cfg->value[key]; }
double hb__config_f64(const hb_model_config *cfg, hb_model_key key) { return cfg->value[key]; }
hb_model_kind hb__config_kind(const hb_model_config *cfg) { return cfg->kind; }
