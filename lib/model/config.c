/* Model configurations: an enum-keyed bag of options with per-kind defaults and bounds.
 * Adding a key: one row in its kind's registry table (hb__model_builtin) and one line in
 * model.h. */
#include <math.h>
#include <string.h>

#include "model/model_internal.h"

#define MAX_KEY 64

/* The options every kind has; each kind's own come from its registry entry
 * (hb__model_builtin_of). */
static const hb__model_key_spec common_keys[] = {
    {HB_MK_DTYPE, false, HB_F64, HB_F32, HB_BF16},
    {HB_MK_BATCH, false, 16, 1, 1 << 20},
};
#define N_COMMON (sizeof common_keys / sizeof common_keys[0])

struct hb_model_config {
    hb_context *ctx;
    hb_model_kind kind;
    double value[MAX_KEY];
    bool used[MAX_KEY];
    bool real[MAX_KEY];
};

static const char *kind_name(hb_model_kind k) {
    const hb__model_builtin *b = hb__model_builtin_of(k);
    return b ? b->name : "?";
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
    const hb__model_builtin *b = hb__model_builtin_of(kind);
    for (size_t i = 0; i < N_COMMON + b->n_keys; i++) {
        const hb__model_key_spec *k = i < N_COMMON ? &common_keys[i] : &b->keys[i - N_COMMON];
        c->used[k->key] = true;
        c->real[k->key] = k->real;
        c->value[k->key] = k->def;
    }
    *out = c;
    return HB_OK;
}

void hb_model_config_free(hb_model_config *cfg) {
    if (cfg) hb__free(cfg->ctx, cfg);
}

static const hb__model_key_spec *find(const hb_model_config *c, hb_model_key key) {
    for (size_t i = 0; i < N_COMMON; i++)
        if (common_keys[i].key == key) return &common_keys[i];
    const hb__model_builtin *b = hb__model_builtin_of(c->kind);
    for (size_t i = 0; i < b->n_keys; i++)
        if (b->keys[i].key == key) return &b->keys[i];
    return NULL;
}

static int set(hb_model_config *c, hb_model_key key, double v, bool real) {
    const hb__model_key_spec *s = find(c, key);
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
    const hb__model_key_spec *s = find(cfg, key);
    HB_CHECK(cfg->ctx, value != NULL && s != NULL && !s->real, HB_EINVAL,
             "no integer option %d for a %s model", (int)key, kind_name(cfg->kind));
    *value = (int64_t)cfg->value[key];
    return HB_OK;
}

int hb_model_config_get_f64(const hb_model_config *cfg, hb_model_key key, double *value) {
    if (!cfg) return HB_EINVAL;
    const hb__model_key_spec *s = find(cfg, key);
    HB_CHECK(cfg->ctx, value != NULL && s != NULL && s->real, HB_EINVAL,
             "no real option %d for a %s model", (int)key, kind_name(cfg->kind));
    *value = cfg->value[key];
    return HB_OK;
}

int64_t hb__config_i64(const hb_model_config *cfg, hb_model_key key) { return (int64_t)cfg->value[key]; }
double hb__config_f64(const hb_model_config *cfg, hb_model_key key) { return cfg->value[key]; }
hb_model_kind hb__config_kind(const hb_model_config *cfg) { return cfg->kind; }

size_t hb__config_entries(const hb_model_config *cfg, hb__origin_key *out, size_t max) {
    const hb__model_builtin *b = hb__model_builtin_of(cfg->kind);
    size_t total = N_COMMON + (b ? b->n_keys : 0), k = 0;
    for (size_t i = 0; i < total && k < max; i++) {
        const hb__model_key_spec *s = i < N_COMMON ? &common_keys[i] : &b->keys[i - N_COMMON];
        out[k++] = (hb__origin_key){(uint32_t)s->key, s->real, cfg->value[s->key]};
    }
    return k;
}
