/* Computations of the hessblock tool on the public API. Components that have not
 * landed in this build report CMP_UNAVAILABLE. */
#include "compute.h"
#include "blockhess.h"
#include "jobs.h"
#include "runstate.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

const char *model_kind_name(int kind) {
    switch (kind) {
    case HB_MODEL_GPT: return "gpt";
    case HB_MODEL_MLP: return "mlp";
    case HB_MODEL_CNN: return "cnn";
    case HB_MODEL_QUADRATIC: return "quadratic";
    default: return "?";
    }
}

#if defined(__has_include)
#  if __has_include(<hessblock/slq.h>)
#    include <hessblock/slq.h>
#    define HAVE_SLQ 1
#  endif
#  if __has_include(<hessblock/optim.h>) && __has_include(<hessblock/checkpoint.h>)
#    include <hessblock/checkpoint.h>
#    include <hessblock/optim.h>
#    define HAVE_OPTIM 1
#  endif
#  if __has_include(<hessblock/sst.h>)
#    include <hessblock/sst.h>
#    define HAVE_SST 1
#  endif
#endif
#ifndef HAVE_SST
#  define HAVE_SST 0
#endif
#ifndef HAVE_SLQ
#  define HAVE_SLQ 0
#endif
#ifndef HAVE_OPTIM
#  define HAVE_OPTIM 0
#endif

const char *compute_missing_spectrum(void) {
    return HAVE_SLQ ? NULL : "SLQ (hessblock/slq.h) is not part of this build";
}
const char *compute_missing_train(void) {
    return HAVE_OPTIM ? NULL : "optimizers (hessblock/optim.h) are not part of this build";
}
const char *compute_missing_quadratic(void) { return compute_missing_train(); }
const char *compute_missing_sst(void) {
    if (!HAVE_OPTIM) return compute_missing_train();
    return HAVE_SST ? NULL : "SST/LoRA (hessblock/sst.h) is not part of this build";
}

static int set_i(hb_model_config *cfg, hb_model_key key, int64_t v) {
    return v ? hb_model_config_set_i64(cfg, key, v) : HB_OK;
}

/* The CLI's names of the configuration keys of each kind (the option names, and the
 * JSON "sizes" keys), in the order they are described. */
typedef struct key_name { hb_model_key key; const char *name; size_t off; } key_name;
#define MO(f) offsetof(model_opts, f)
static const key_name gpt_keys[] = {
    {HB_MK_VOCAB, "vocab", MO(vocab)}, {HB_MK_CONTEXT, "context", MO(context)},
    {HB_MK_WIDTH, "width", MO(width)}, {HB_MK_HEADS, "heads", MO(heads)},
    {HB_MK_LAYERS, "layers", MO(layers)}, {HB_MK_BATCH, "batch", MO(batch)}};
static const key_name mlp_keys[] = {
    {HB_MK_INPUTS, "inputs", MO(inputs)}, {HB_MK_WIDTH, "width", MO(width)},
    {HB_MK_LAYERS, "layers", MO(layers)}, {HB_MK_CLASSES, "classes", MO(classes)},
    {HB_MK_ACTIVATION, "activation", (size_t)-1}, {HB_MK_BATCH, "batch", MO(batch)}};
static const key_name cnn_keys[] = {
    {HB_MK_IMAGE_SIZE, "image", MO(image)}, {HB_MK_CHANNELS, "channels", MO(channels)},
    {HB_MK_CONV_WIDTH, "conv-width", MO(conv_width)}, {HB_MK_CONV_STAGES, "stages", MO(stages)},
    {HB_MK_CLASSES, "classes", MO(classes)}, {HB_MK_BATCH, "batch", MO(batch)}};
static const key_name quad_keys[] = {
    {HB_MK_QUAD_BLOCKS, "blocks", (size_t)-1}, {HB_MK_QUAD_BLOCK_SIZE, "block_size", (size_t)-1},
    {HB_MK_QUAD_FAMILY, "family", (size_t)-1}, {HB_MK_QUAD_COND, "cond", (size_t)-1},
    {HB_MK_BATCH, "batch", MO(batch)}};
#undef MO

static const key_name *keys_of(int kind, size_t *n) {
    switch (kind) {
    case HB_MODEL_GPT: *n = sizeof gpt_keys / sizeof *gpt_keys; return gpt_keys;
    case HB_MODEL_MLP: *n = sizeof mlp_keys / sizeof *mlp_keys; return mlp_keys;
    case HB_MODEL_CNN: *n = sizeof cnn_keys / sizeof *cnn_keys; return cnn_keys;
    case HB_MODEL_QUADRATIC: *n = sizeof quad_keys / sizeof *quad_keys; return quad_keys;
    default: *n = 0; return NULL;
    }
}

static int64_t *mo_field(model_opts *mo, const key_name *k) {
    return k->off == (size_t)-1 ? NULL : (int64_t *)(void *)((char *)mo + k->off);
}

static const char *dtype_name(int64_t d) {
    return d == HB_F32 ? "f32" : d == HB_BF16 ? "bf16" : "f64";
}

/* The config's values into mo (every key the CLI has an option for, and dtype). */
static void opts_from_config(const hb_model_config *cfg, int kind, model_opts *mo) {
    size_t nk;
    const key_name *keys = keys_of(kind, &nk);
    mo->kind = kind;
    for (size_t i = 0; i < nk; i++) {
        int64_t *f = mo_field(mo, &keys[i]), v = 0;
        if (f && hb_model_config_get_i64(cfg, keys[i].key, &v) == HB_OK) *f = v;
    }
    int64_t d = HB_F64;
    hb_model_config_get_i64(cfg, HB_MK_DTYPE, &d);
    mo->dtype = (int)d;
}

/* Text and structured description of what was built (sizes may be NULL). */
static void describe(const hb_model_config *cfg, hb_model *m, model_opts *mo, char *sizes,
                     size_t nsizes) {
    model_sizes *z = &mo->described;
    memset(z, 0, sizeof *z);
    snprintf(z->kind, sizeof z->kind, "%s", model_kind_name(mo->kind));
    int64_t d = HB_F64;
    hb_model_config_get_i64(cfg, HB_MK_DTYPE, &d);
    snprintf(z->dtype, sizeof z->dtype, "%s", dtype_name(d));
    size_t nk;
    const key_name *keys = keys_of(mo->kind, &nk);
    for (size_t i = 0; i < nk && z->n < 16; i++) {
        int64_t v = 0;
        double r = 0;
        int real = keys[i].key == HB_MK_QUAD_COND;
        if (real ? hb_model_config_get_f64(cfg, keys[i].key, &r)
                 : hb_model_config_get_i64(cfg, keys[i].key, &v))
            continue;
        snprintf(z->item[z->n].key, sizeof z->item[z->n].key, "%s", keys[i].name);
        z->item[z->n].value = real ? r : (double)v;
        z->item[z->n].real = real;
        z->n++;
    }
    z->batches = (int64_t)hb_model_num_batches(m);
    z->samples = (int64_t)hb_model_num_samples(m);
    z->n_params = (int64_t)hb_params_count(hb_model_params(m));
    if (mo->kind == HB_MODEL_GPT) {
        int64_t h = 0;
        if (hb_model_config_get_i64(cfg, HB_MK_HEADS, &h) == HB_OK) mo->heads = h;
    }
    if (!sizes || !nsizes) return;
    int64_t v[8] = {0};
    switch (mo->kind) {
    case HB_MODEL_GPT:
        hb_model_config_get_i64(cfg, HB_MK_VOCAB, &v[0]);
        hb_model_config_get_i64(cfg, HB_MK_CONTEXT, &v[1]);
        hb_model_config_get_i64(cfg, HB_MK_WIDTH, &v[2]);
        hb_model_config_get_i64(cfg, HB_MK_HEADS, &v[3]);
        hb_model_config_get_i64(cfg, HB_MK_LAYERS, &v[4]);
        snprintf(sizes, nsizes, "vocab %lld, context %lld, width %lld, heads %lld, layers %lld",
                 (long long)v[0], (long long)v[1], (long long)v[2], (long long)v[3], (long long)v[4]);
        break;
    case HB_MODEL_MLP:
        hb_model_config_get_i64(cfg, HB_MK_INPUTS, &v[0]);
        hb_model_config_get_i64(cfg, HB_MK_WIDTH, &v[1]);
        hb_model_config_get_i64(cfg, HB_MK_LAYERS, &v[2]);
        hb_model_config_get_i64(cfg, HB_MK_CLASSES, &v[3]);
        snprintf(sizes, nsizes, "inputs %lld, width %lld, hidden layers %lld, classes %lld",
                 (long long)v[0], (long long)v[1], (long long)v[2], (long long)v[3]);
        break;
    case HB_MODEL_CNN:
        hb_model_config_get_i64(cfg, HB_MK_IMAGE_SIZE, &v[0]);
        hb_model_config_get_i64(cfg, HB_MK_CHANNELS, &v[1]);
        hb_model_config_get_i64(cfg, HB_MK_CONV_WIDTH, &v[2]);
        hb_model_config_get_i64(cfg, HB_MK_CONV_STAGES, &v[3]);
        hb_model_config_get_i64(cfg, HB_MK_CLASSES, &v[4]);
        snprintf(sizes, nsizes, "image %lldx%lld, channels %lld, conv width %lld, stages %lld, classes %lld",
                 (long long)v[0], (long long)v[0], (long long)v[1], (long long)v[2], (long long)v[3],
                 (long long)v[4]);
        break;
    case HB_MODEL_QUADRATIC: {
        double cond = 0;
        hb_model_config_get_i64(cfg, HB_MK_QUAD_BLOCKS, &v[0]);
        hb_model_config_get_i64(cfg, HB_MK_QUAD_BLOCK_SIZE, &v[1]);
        hb_model_config_get_i64(cfg, HB_MK_QUAD_FAMILY, &v[2]);
        hb_model_config_get_f64(cfg, HB_MK_QUAD_COND, &cond);
        snprintf(sizes, nsizes, "%lld blocks of %lld, %s, kappa %g", (long long)v[0],
                 (long long)v[1], v[2] == HB_QUAD_HOMOGENEOUS ? "homogeneous" : "heterogeneous",
                 cond);
        break;
    }
    default:
        sizes[0] = 0;
    }
    size_t l = strlen(sizes);
    if (mo->kind != HB_MODEL_QUADRATIC && l < nsizes) {
        int64_t b = 0;
        hb_model_config_get_i64(cfg, HB_MK_BATCH, &b);
        snprintf(sizes + l, nsizes - l, "; data %zu samples (%zu x %lld)",
                 hb_model_num_samples(m), hb_model_num_batches(m), (long long)b);
    }
}

int model_make(hb_context *ctx, model_opts *mo, hb_model **out, char *sizes, size_t nsizes) {
    *out = NULL;
    hb_model_config *cfg = NULL;
    int rc = hb_model_config_create(ctx, (hb_model_kind)mo->kind, &cfg);
    if (rc != HB_OK) return rc;
    if (mo->dtype) rc = hb_model_config_set_i64(cfg, HB_MK_DTYPE, mo->dtype);
    size_t nk;
    const key_name *keys = keys_of(mo->kind, &nk);
    for (size_t i = 0; i < nk && !rc; i++) {
        int64_t *f = mo_field(mo, &keys[i]);
        if (f) rc = set_i(cfg, keys[i].key, *f);
    }
    if (!rc) rc = hb_model_create(ctx, cfg, out);
    if (!rc && mo->batches > 1 && mo->kind != HB_MODEL_QUADRATIC) {
        uint64_t stream;
        rc = hb_context_next_stream(ctx, &stream);
        if (!rc) rc = hb_model_set_synthetic(*out, (size_t)mo->batches, stream, 0);
        if (!rc) mo->data_stream = stream;
    }
    if (!rc) describe(cfg, *out, mo, sizes, nsizes);
    hb_model_config_free(cfg);
    if (rc) { hb_model_free(*out); *out = NULL; }
    return rc;
}

int compute_checkpoint_model(hb_context *ctx, const char *path, int *has, model_opts *rec,
                             int64_t *seed) {
    *has = 0;
    memset(rec, 0, sizeof *rec);
#if !HAVE_OPTIM
    (void)ctx; (void)path; (void)seed;
    return CMP_UNAVAILABLE;
#else
    hb_checkpoint_info *info = NULL;
    hb_model_config *cfg = NULL;
    int64_t v = 0, kind = 0;
    int rc = hb_checkpoint_info_read(ctx, path, &info);
    if (!rc) rc = hb_checkpoint_info_get_i64(info, HB_CK_HAS_MODEL, &v);
    if (!rc && v) {
        rc = hb_checkpoint_info_get_i64(info, HB_CK_MODEL_KIND, &kind);
        if (!rc) rc = hb_checkpoint_info_get_i64(info, HB_CK_MODEL_SEED, seed);
        if (!rc) rc = hb_checkpoint_info_model_config(info, &cfg);
        if (!rc) {
            opts_from_config(cfg, (int)kind, rec);
            rec->batches = 1;
            int64_t data = 0, b = 1;
            if (hb_checkpoint_info_get_i64(info, HB_CK_DATA, &data) == HB_OK &&
                data != HB_CKDATA_NONE)
                /* external data (--data text / fashion-mnist) records its count since the
                 * library keeps it; older files do not: 0 = unknown (not checked) */
                rec->batches = hb_checkpoint_info_get_i64(info, HB_CK_DATA_BATCHES, &b) == HB_OK
                               ? b : data == HB_CKDATA_EXTERNAL ? 0 : 1;
            rec->recorded_external = data == HB_CKDATA_EXTERNAL;
            *has = 1;
        }
    }
    hb_model_config_free(cfg);
    hb_checkpoint_info_free(info);
    return rc;
#endif
}

int model_make_recorded(hb_context *ctx, const char *path, model_opts *mo, hb_model **out,
                        char *sizes, size_t nsizes) {
    *out = NULL;
#if !HAVE_OPTIM
    (void)ctx; (void)path; (void)mo; (void)sizes; (void)nsizes;
    return CMP_UNAVAILABLE;
#else
    hb_checkpoint_info *info = NULL;
    hb_model_config *cfg = NULL;
    int64_t kind = 0, seed = 0, stream = 0, data = 0;
    int rc = hb_checkpoint_info_read(ctx, path, &info);
    if (!rc) rc = hb_checkpoint_info_model_config(info, &cfg);
    if (!rc) rc = hb_checkpoint_info_get_i64(info, HB_CK_MODEL_KIND, &kind);
    if (!rc) rc = hb_checkpoint_info_get_i64(info, HB_CK_MODEL_SEED, &seed);
    if (!rc) rc = hb_checkpoint_info_get_i64(info, HB_CK_MODEL_STREAM, &stream);
    if (!rc) rc = hb_checkpoint_info_get_i64(info, HB_CK_DATA, &data);
    /* the constructor draws from the streams after `stream` of `seed`: put the context
     * there (setting the seed restarts its counter) */
    if (!rc) rc = hb_context_set_i64(ctx, HB_CTX_SEED, seed);
    if (!rc && (uint64_t)stream > (1u << 20)) rc = HB_EUNSUPPORTED; /* not a CLI run's */
    for (int64_t i = 0; !rc && i < stream; i++) {
        uint64_t s;
        rc = hb_context_next_stream(ctx, &s);
    }
    if (!rc) rc = hb_model_create(ctx, cfg, out);
    /* where the context's counter is now (reading it takes one stream: put back below) */
    uint64_t counter = 0, target = 0;
    if (!rc) rc = hb_context_next_stream(ctx, &counter);
    target = counter;
    if (!rc && data == HB_CKDATA_SYNTHETIC) {
        int64_t dseed = 0, dstream = 0, batches = 1, first = 0;
        rc = hb_checkpoint_info_get_i64(info, HB_CK_DATA_SEED, &dseed);
        if (!rc) rc = hb_checkpoint_info_get_i64(info, HB_CK_DATA_STREAM, &dstream);
        if (!rc) rc = hb_checkpoint_info_get_i64(info, HB_CK_DATA_BATCHES, &batches);
        if (!rc) rc = hb_checkpoint_info_get_i64(info, HB_CK_DATA_FIRST, &first);
        /* hb_model_create's own data is (1, 0, 0) under the model's seed: anything else is
         * replaced as recorded, and the counter left past the data's stream, as model_make
         * leaves it (so the SLQ probes that follow are those of the original run) */
        if (!rc && (dseed != seed || dstream != 0 || batches != 1 || first != 0)) {
            if (dseed != seed) rc = hb_context_set_i64(ctx, HB_CTX_SEED, dseed);
            if (!rc) rc = hb_model_set_synthetic(*out, (size_t)batches, (uint64_t)dstream,
                                                 (uint64_t)first);
            if ((uint64_t)dstream + 1 > target) target = (uint64_t)dstream + 1;
        }
    }
    /* setting the seed restarts the counter: advance it to target */
    if (!rc) rc = hb_context_set_i64(ctx, HB_CTX_SEED, seed);
    if (!rc && target > (1u << 20)) rc = HB_EUNSUPPORTED;
    for (uint64_t i = 0; !rc && i < target; i++) {
        uint64_t s;
        rc = hb_context_next_stream(ctx, &s);
    }
    /* external data (--data text / fashion-mnist) of a recorded count: the caller sets it
     * with that count afterwards. model_make gave the original run synthetic data of that
     * many micro-batches first (replaced, but its stream taken): the same here, so the
     * counter (hence the SLQ probes) and the sizes described are the original run's */
    int64_t ext_batches = 0;
    if (!rc && data == HB_CKDATA_EXTERNAL &&
        hb_checkpoint_info_get_i64(info, HB_CK_DATA_BATCHES, &ext_batches) == HB_OK &&
        ext_batches > 1 && kind != HB_MODEL_QUADRATIC) {
        uint64_t s;
        rc = hb_context_next_stream(ctx, &s);
        if (!rc) rc = hb_model_set_synthetic(*out, (size_t)ext_batches, s, 0);
        if (!rc) mo->data_stream = s;
    }
    if (!rc) {
        opts_from_config(cfg, (int)kind, mo);
        mo->batches = (int64_t)hb_model_num_batches(*out);
        /* external data of an older file: count not recorded (0), the caller decides */
        if (data == HB_CKDATA_EXTERNAL) mo->batches = ext_batches;
        mo->recorded_external = data == HB_CKDATA_EXTERNAL;
        describe(cfg, *out, mo, sizes, nsizes);
    }
    hb_model_config_free(cfg);
    hb_checkpoint_info_free(info);
    if (rc) { hb_model_free(*out); *out = NULL; }
    return rc;
#endif
}

int check_against_checkpoint(const char *cmd, const char *path, const model_opts *given,
                             int kind_given, int dtype_given, const model_opts *rec) {
    if (kind_given && given->kind != rec->kind) {
        usage_error(cmd, "--model %s does not match the checkpoint '%s' (model %s)",
                    model_kind_name(given->kind), path, model_kind_name(rec->kind));
        return EXIT_USAGE;
    }
    if (dtype_given && given->dtype != rec->dtype) {
        usage_error(cmd, "--dtype %s does not match the checkpoint '%s' (dtype %s)",
                    dtype_name(given->dtype), path, dtype_name(rec->dtype));
        return EXIT_USAGE;
    }
    size_t nk;
    const key_name *keys = keys_of(rec->kind, &nk);
    for (size_t i = 0; i < nk; i++) {
        const int64_t *g = mo_field((model_opts *)given, &keys[i]);
        const int64_t *r = mo_field((model_opts *)rec, &keys[i]);
        if (g && *g && *g != *r) {
            usage_error(cmd, "--%s %lld does not match the checkpoint '%s' (%s %lld)", keys[i].name,
                        (long long)*g, path, keys[i].name, (long long)*r);
            return EXIT_USAGE;
        }
    }
    if (given->batches && rec->batches && given->batches != rec->batches) {
        usage_error(cmd, "--batches %lld does not match the checkpoint '%s' (batches %lld)",
                    (long long)given->batches, path, (long long)rec->batches);
        return EXIT_USAGE;
    }
    /* options of another kind, given with a checkpoint of this one */
    static const struct { const char *name; size_t off; } all[] = {
        {"width", offsetof(model_opts, width)}, {"layers", offsetof(model_opts, layers)},
        {"heads", offsetof(model_opts, heads)}, {"context", offsetof(model_opts, context)},
        {"vocab", offsetof(model_opts, vocab)}, {"inputs", offsetof(model_opts, inputs)},
        {"classes", offsetof(model_opts, classes)}, {"image", offsetof(model_opts, image)},
        {"channels", offsetof(model_opts, channels)},
        {"conv-width", offsetof(model_opts, conv_width)}, {"stages", offsetof(model_opts, stages)},
        {"batch", offsetof(model_opts, batch)}};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        const int64_t *g = (const int64_t *)(const void *)((const char *)given + all[i].off);
        int known = 0;
        for (size_t j = 0; j < nk; j++) known |= keys[j].off == all[i].off;
        if (*g && !known) {
            usage_error(cmd, "--%s does not apply to the checkpoint '%s' (a %s model)", all[i].name,
                        path, model_kind_name(rec->kind));
            return EXIT_USAGE;
        }
    }
    return 0;
}

/* Sizes that external data fixes (text: the corpus's vocab; Fashion-MNIST: inputs, image,
 * channels, classes): a run on such data never took them from its preset, so the preset's
 * values say nothing about its checkpoint (an explicit --vocab etc. is still checked, by
 * check_against_checkpoint). */
static bool fixed_by_data(const char *key) {
    static const char *const fixed[] = {"vocab", "inputs", "image", "channels", "classes"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        if (!strcmp(key, fixed[i])) return true;
    return false;
}

int check_preset_against_checkpoint(hb_context *ctx, const char *cmd, const char *path,
                                    const char *preset_name, const model_opts *expected,
                                    const model_opts *rec) {
    hb_model_config *cfg = NULL;
    if (hb_model_config_create(ctx, (hb_model_kind)rec->kind, &cfg) != HB_OK) {
        runtime_error(cmd, "%s", hb_context_last_error(ctx));
        return EXIT_RUNTIME;
    }
    model_opts def;
    memset(&def, 0, sizeof def);
    opts_from_config(cfg, rec->kind, &def);
    hb_model_config_free(cfg);
    def.batches = 1;
    size_t nk;
    const key_name *keys = keys_of(rec->kind, &nk);
    struct { const char *name; int64_t e, r; } k[17];
    size_t n = 0;
    for (size_t i = 0; i < nk; i++) {
        const int64_t *e = mo_field((model_opts *)expected, &keys[i]);
        if (!e || (rec->recorded_external && fixed_by_data(keys[i].name))) continue;
        k[n].name = keys[i].name;
        k[n].e = *e ? *e : *mo_field(&def, &keys[i]);
        k[n].r = *mo_field((model_opts *)rec, &keys[i]);
        n++;
    }
    if (rec->batches) { /* 0: external data of an older file, count not recorded */
        k[n].name = "batches";
        k[n].e = expected->batches ? expected->batches : def.batches;
        k[n].r = rec->batches;
        n++;
    }
    for (size_t i = 0; i < n; i++)
        if (k[i].e != k[i].r) {
            usage_error(cmd, "--preset %s (%s %lld) does not match the checkpoint '%s' (%s %lld)",
                        preset_name, k[i].name, (long long)k[i].e, path, k[i].name, (long long)k[i].r);
            return EXIT_USAGE;
        }
    return 0;
}

/* ---- spectra --------------------------------------------------------------------------- */
#if HAVE_SLQ
static char *xstrdup(const char *s) {
    char *d = malloc(strlen(s) + 1);
    if (d) strcpy(d, s);
    return d;
}

#endif

/* Linear grid from lo − 5σ to hi + 5σ (the library's JS convention) with at least
 * 2 points per σ, so the trapezoid rule integrates the smoothed density to ≈ 1. */
size_t compute_density_grid_points(double sigma_rel, size_t requested) {
    double need = (1 + 10 * sigma_rel) / (0.5 * sigma_rel) + 1;
    size_t g = need > (double)requested ? (size_t)ceil(need) : requested;
    return g > 200000 ? 200000 : g;
}

size_t compute_js_grid_points(void) {
#if HAVE_SLQ
    return ((hb_js_options)HB_JS_OPTIONS_INIT).grid_points; /* compute_spectrum keeps it */
#else
    return 0;
#endif
}

#if HAVE_SLQ
static void fill_grid(double lo, double hi, double sigma, double *grid, size_t n) {
    double a = lo - 5 * sigma, b = hi + 5 * sigma;
    for (size_t i = 0; i < n; i++) grid[i] = a + (b - a) * (double)i / (double)(n - 1);
}

static double sigma_for(double lo, double hi, double rel) {
    double s = rel * (hi - lo);
    if (!(s > 0)) s = rel * fmax(fabs(lo), fabs(hi));
    if (!(s > 0)) s = rel;
    return s;
}

/* Stream of the JS bootstrap: fixed and far from the context's counter, so adding the
 * standard errors changed no other random number of a run (training, data, probes). */
#define JS_BOOTSTRAP_STREAM (UINT64_C(1) << 62)

/* JS matrix of n spectra (M: n×n), its mean and the bootstrap standard error of the mean
 * (NaN when not estimated: n < 2, no replicates, or a spectrum with one probe). */
static int js0_with_se(const hb_spectrum *const *sp, size_t n,
                       const hb_js_options *jo, int64_t replicates, double *M, double *mean,
                       double *se, double **se_matrix, spec_result *times) {
    *mean = *se = NAN;
    if (n < 2) return HB_OK;
    double t0 = now_seconds();
    int rc = hb_spectra_js_matrix(sp, n, jo, M, mean);
    double t1 = now_seconds();
    times->t_js += t1 - t0;
    if (rc != HB_OK || replicates < 2) return rc;
    /* se_matrix (may be NULL): the standard error of every entry too, from the same
     * replicates (allocated here; left NULL when not estimated) */
    double *sek = NULL;
    if (se_matrix && !(sek = calloc(n * n, sizeof *sek))) return HB_ENOMEM;
    rc = hb_spectra_js_matrix_stderr(sp, n, jo, (size_t)replicates, JS_BOOTSTRAP_STREAM, sek, se);
    times->t_js_bootstrap += now_seconds() - t1;
    if (rc == HB_ESTATE) { /* one probe: no error estimate, not a failure of the run */
        *se = NAN;
        rc = HB_OK;
        free(sek);
        sek = NULL;
    }
    if (se_matrix) *se_matrix = sek;
    return rc;
}
#endif

#if HAVE_SLQ
/* Per-block traces and every probe's quadrature (issue 15.4), from the spectra computed. */
static int collect_research(hb_spectrum *const *sp, size_t nb, const hb_spectrum *full,
                            spec_result *out) {
    out->trace = calloc(nb + 1, sizeof(double));
    out->trace_stderr = calloc(nb + 1, sizeof(double));
    if (!out->trace || !out->trace_stderr) return HB_ENOMEM;
    size_t rows = 0;
    for (size_t i = 0; i <= nb; i++) {
        const hb_spectrum *x = i < nb ? sp[i] : full;
        if (!x) continue;
        for (size_t q = 0; q < hb_spectrum_num_probes(x); q++) {
            size_t count = 0;
            int rc = hb_spectrum_probe(x, q, NULL, NULL, &count, NULL);
            if (rc != HB_OK) return rc;
            rows += count;
        }
    }
    if (!(out->ritz = malloc((rows ? rows : 1) * RITZ_COLS * sizeof(double)))) return HB_ENOMEM;
    size_t r = 0;
    for (size_t i = 0; i <= nb; i++) {
        const hb_spectrum *x = i < nb ? sp[i] : full;
        if (!x) continue;
        if (i < nb) {
            int rc = hb_spectrum_trace(x, &out->trace[i], &out->trace_stderr[i]);
            if (rc != HB_OK) return rc;
            /* one probe: the library reports no spread; NaN is written as null */
            if (hb_spectrum_num_probes(x) < 2) out->trace_stderr[i] = NAN;
        }
        for (size_t q = 0; q < hb_spectrum_num_probes(x); q++) {
            const double *nodes, *weights;
            size_t count = 0;
            int rc = hb_spectrum_probe(x, q, &nodes, &weights, &count, NULL);
            if (rc != HB_OK) return rc;
            for (size_t j = 0; j < count; j++, r++) {
                double *row = out->ritz + r * RITZ_COLS;
                row[0] = i < nb ? (double)i : -1.0;
                row[1] = (double)q;
                row[2] = nodes[j];
                row[3] = weights[j];
            }
        }
    }
    out->nritz = r;
    return HB_OK;
}
#endif

#if HAVE_SLQ
/* What the library's per-block callback needs: the entries of the call (which block, its
 * stream, where its spectrum goes) and the resumable state to save each one to. */
typedef struct block_run {
    const spec_opts *so;
    hb_params *p;
    const char *model;
    size_t *block;        /* per entry: the block's index in the model; SIZE_MAX = full */
    size_t *slot;         /* per entry: its index in the selection (sp[]); SIZE_MAX = full */
    uint64_t *streams;
    size_t n, finished;
    int save_failed;
} block_run;

/* Called by the library (one call at a time, maybe from one of its threads) as soon as an
 * entry is finished: its state file is written at once (atomically), so an interrupted run
 * keeps every block finished so far. */
static int block_done(void *user, size_t i, const hb_spectrum *sp) {
    block_run *R = user;
    R->finished++;
    progress_label("%zu/%zu done", R->finished, R->n);
    if (R->block[i] == SIZE_MAX || !R->so->state) return 0;
    size_t b = R->block[i];
    if (runstate_save_block(R->so->state, R->model, b, hb_params_block_name(R->p, b), sp,
                            R->streams[i])) {
        R->save_failed = 1;
        return 1; /* stops the run (HB_ECANCELED), reported as CMP_REPORTED */
    }
    return 0;
}

/* The spectra of the selected blocks (sp[0..nb), block sel[i] from stream s0 + sel[i]) and,
 * with so->full, of the full Hessian (stream s0 + nb_all) into *full: the finished blocks of
 * a resumed run are read back, all others computed in ONE library call whose blocks run
 * concurrently on the context's threads (hb_slq_run_model_blocks: the same numbers as one
 * run per block). */
static int run_blocks(hb_context *ctx, hb_slq *slq, hb_model *m, const spec_opts *so,
                      const char *model, const size_t *sel, size_t nb, uint64_t s0,
                      size_t nb_all, hb_spectrum **sp, hb_spectrum **full) {
    hb_params *p = hb_model_params(m);
    size_t cap = nb + 1;
    block_run R = {.so = so, .p = p, .model = model};
    size_t *blocks = calloc(cap, sizeof *blocks);
    R.block = calloc(cap, sizeof *R.block);
    R.slot = calloc(cap, sizeof *R.slot);
    R.streams = calloc(cap, sizeof *R.streams);
    hb_spectrum **got = calloc(cap, sizeof *got);
    int rc = blocks && R.block && R.slot && R.streams && got ? HB_OK : HB_ENOMEM;
    /* the full Hessian first: the costliest entry starts first, the blocks fill around it */
    if (rc == HB_OK && so->full) {
        blocks[R.n] = HB_SLQ_FULL_HESSIAN;
        R.block[R.n] = R.slot[R.n] = SIZE_MAX;
        R.streams[R.n++] = s0 + nb_all;
    }
    for (size_t i = 0; i < nb && rc == HB_OK; i++) {
        if (so->state) {
            int st = runstate_load_block(so->state, ctx, model, sel[i],
                                         hb_params_block_name(p, sel[i]), &sp[i]);
            if (st < 0) rc = CMP_REPORTED;
            if (st) continue;
        }
        blocks[R.n] = R.block[R.n] = sel[i];
        R.slot[R.n] = i;
        R.streams[R.n++] = s0 + sel[i];
    }
    if (rc == HB_OK && progress_interrupted()) rc = HB_ECANCELED;
    if (rc == HB_OK && R.n > 0) {
        progress_label("0/%zu done", R.n);
        progress_outer(0, 0);
        rc = hb_slq_run_model_blocks(slq, m, blocks, R.streams, R.n, got, block_done, &R);
        if (R.save_failed) rc = CMP_REPORTED;
    }
    /* the entries into their places (on failure too: the caller frees them) */
    for (size_t j = 0; got && j < R.n; j++) {
        if (R.slot[j] == SIZE_MAX) *full = got[j];
        else sp[R.slot[j]] = got[j];
    }
    free(blocks);
    free(R.block);
    free(R.slot);
    free(R.streams);
    free(got);
    return rc;
}
#endif

int compute_spectrum(hb_context *ctx, hb_model *m, const spec_opts *so, spec_result *out) {
    memset(out, 0, sizeof *out);
#if !HAVE_SLQ
    (void)ctx; (void)m; (void)so;
    return CMP_UNAVAILABLE;
#else
    double t0 = now_seconds();
    hb_params *p = hb_model_params(m);
    size_t nb_all = hb_params_num_blocks(p), nb = 0;
    size_t *sel = calloc(nb_all ? nb_all : 1, sizeof *sel);
    hb_spectrum **sp = calloc(nb_all ? nb_all : 1, sizeof *sp);
    hb_spectrum *full = NULL;
    hb_slq *slq = NULL;
    int rc = HB_OK;
    if (!sel || !sp) { rc = HB_ENOMEM; goto done; }
    if (so->blocks) {
        if (so->block_names) {
            for (int i = 0; i < so->nblock_names && rc == HB_OK; i++)
                rc = hb_params_find_block(p, so->block_names[i], &sel[nb++]);
            if (rc != HB_OK) goto done;
        } else {
            for (size_t b = 0; b < nb_all; b++) sel[nb++] = b;
        }
    }
    snprintf(out->model, sizeof out->model, "%s", hb_model_name(m));
    out->n_params = (int64_t)hb_params_count(p);
    out->probes = so->probes;
    out->steps = so->steps;
    out->basis = so->basis;
    if ((rc = hb_slq_create(ctx, &slq)) != HB_OK) goto done;
    if ((rc = hb_slq_set_i64(slq, HB_SLQ_PROBES, so->probes)) != HB_OK) goto done;
    if ((rc = hb_slq_set_i64(slq, HB_SLQ_STEPS, so->steps)) != HB_OK) goto done;
    if (so->probe_group && (rc = hb_slq_set_i64(slq, HB_SLQ_GROUP, so->probe_group)) != HB_OK)
        goto done;
    if (so->basis && (rc = hb_slq_set_i64(slq, HB_SLQ_BASIS_DTYPE, HB_F32)) != HB_OK) goto done;
    /* Explicit probe streams (issue 15): block b draws from stream s0 + b, whatever ran
     * before it, so a resumed run that skips finished blocks draws the same probes for the
     * others. s0 is the stream the first block took when every run took the context's
     * next one: a run of all blocks gives the numbers it gave before. */
    uint64_t s0;
    if ((rc = hb_context_next_stream(ctx, &s0)) != HB_OK) goto done;
    if ((rc = run_blocks(ctx, slq, m, so, out->model, sel, nb, s0, nb_all, sp, &full)) != HB_OK)
        goto done;
    /* the blocks and the full Hessian run as one task set (run_blocks): their time is one
     * figure, slq_blocks; slq_full stays 0 (docs/cli.md) */
    double t_blocks_end = now_seconds();
    out->t_slq_blocks = t_blocks_end - t0;
    progress_label("%s", "");
    progress_outer(0, 0);
    double t_dens0 = now_seconds();
    out->t_slq_full = 0;

    /* shared grid over all spectra computed */
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < nb; i++) {
        double a, b;
        hb_spectrum_extremes(sp[i], &a, &b);
        lo = fmin(lo, a);
        hi = fmax(hi, b);
    }
    if (full) {
        hb_spectrum_extremes(full, &out->full_lmin, &out->full_lmax);
        lo = fmin(lo, out->full_lmin);
        hi = fmax(hi, out->full_lmax);
    }
    double sigma = sigma_for(lo, hi, so->sigma_rel);
    size_t ng = compute_density_grid_points(so->sigma_rel, (size_t)so->grid);
    out->sigma = sigma;
    out->ngrid = ng;
    out->nblocks = nb;
    out->grid = malloc(ng * sizeof(double));
    out->density = calloc(nb * ng + 1, sizeof(double));
    out->own_grid = calloc(nb * ng + 1, sizeof(double));
    out->own_density = calloc(nb * ng + 1, sizeof(double));
    out->names = calloc(nb + 1, sizeof(char *));
    out->kinds = calloc(nb + 1, sizeof(char *));
    out->numel = calloc(nb + 1, sizeof(int64_t));
    out->lmin = calloc(nb + 1, sizeof(double));
    out->lmax = calloc(nb + 1, sizeof(double));
    out->js = calloc(nb * nb + 1, sizeof(double));
    if (!out->grid || !out->density || !out->own_grid || !out->own_density || !out->names ||
        !out->kinds || !out->numel || !out->lmin || !out->lmax || !out->js) {
        rc = HB_ENOMEM;
        goto done;
    }
    fill_grid(lo, hi, sigma, out->grid, ng);
    for (size_t i = 0; i < nb; i++) {
        const char *name;
        hb_block_kind kind;
        size_t numel;
        hb_params_block_info(p, sel[i], &name, &kind, NULL, &numel, NULL, NULL);
        out->names[i] = xstrdup(name);
        out->kinds[i] = xstrdup(hb_block_kind_name(kind));
        if (!out->names[i] || !out->kinds[i]) { rc = HB_ENOMEM; goto done; }
        out->numel[i] = (int64_t)numel;
        hb_spectrum_extremes(sp[i], &out->lmin[i], &out->lmax[i]);
        if ((rc = hb_spectrum_density(sp[i], out->grid, ng, sigma, out->density + i * ng)) != HB_OK)
            goto done;
        /* the block on its own scale (for the figures): same relative smoothing */
        double s_own = sigma_for(out->lmin[i], out->lmax[i], so->sigma_rel);
        fill_grid(out->lmin[i], out->lmax[i], s_own, out->own_grid + i * ng, ng);
        if ((rc = hb_spectrum_density(sp[i], out->own_grid + i * ng, ng, s_own,
                                      out->own_density + i * ng)) != HB_OK)
            goto done;
    }
    if ((rc = collect_research(sp, nb, full, out)) != HB_OK) goto done;
    if (full) {
        if (!(out->full_density = calloc(ng, sizeof(double)))) { rc = HB_ENOMEM; goto done; }
        out->has_full = 1;
        if ((rc = hb_spectrum_density(full, out->grid, ng, sigma, out->full_density)) != HB_OK) goto done;
    }
    double t_js0 = now_seconds();
    out->t_density = t_js0 - t_dens0;
    out->js0_stderr = out->js0_normalized_stderr = NAN;
    out->js0_selected_stderr = out->js0_selected_normalized_stderr = NAN;
    out->js_replicates = so->js_replicates;
    if (nb >= 1) {
        hb_js_options jo = HB_JS_OPTIONS_INIT;
        jo.sigma_rel = so->sigma_rel;
        jo.grid = so->js_grid ? HB_JS_GRID_SYMLOG : HB_JS_GRID_LINEAR;
        out->js_grid = so->js_grid;
        out->sigma_rel = jo.sigma_rel;               /* the figures redraw these grids */
        out->symlog_floor_rel = jo.symlog_floor_rel;
        const hb_spectrum *const *all = (const hb_spectrum *const *)sp;
        if (nb == 1) {
            out->js[0] = 0;
            out->js0 = out->js0_normalized = NAN;
        } else {
            if ((rc = js0_with_se(all, nb, &jo, so->js_replicates, out->js, &out->js0,
                                  &out->js0_stderr, &out->js_stderr, out)) != HB_OK)
                goto done;
            /* secondary convention, reported next to the primary one: scale-normalised spectra */
            double *tmp = malloc(nb * nb * sizeof(double));
            if (!tmp) { rc = HB_ENOMEM; goto done; }
            jo.normalize = 1;
            rc = js0_with_se(all, nb, &jo, so->js_replicates, tmp, &out->js0_normalized,
                             &out->js0_normalized_stderr, NULL, out);
            free(tmp);
            if (rc != HB_OK) goto done;
        }
        out->js_grid_points = jo.grid_points;
        /* which blocks the normalised JS0 left out (issue 12.4): the library's own test */
        if (!(out->zero = calloc(nb, sizeof(int)))) { rc = HB_ENOMEM; goto done; }
        double tz = now_seconds();
        if ((rc = hb_spectra_zero_flags(all, nb, &jo, out->zero, &out->n_zero,
                                        &out->zero_tol)) != HB_OK)
            goto done;
        out->t_js += now_seconds() - tz;
        if (so->js_blocks) {
            /* the subset's own JS matrix: exactly as if only these blocks had been analysed */
            out->js_blocks = so->js_blocks;
            out->js0_selected = out->js0_selected_normalized = NAN;
            if (!(out->js_selected = calloc(nb, sizeof(int)))) { rc = HB_ENOMEM; goto done; }
            const hb_spectrum **sub = malloc(nb * sizeof *sub);
            if (!sub) { rc = HB_ENOMEM; goto done; }
            size_t ns = 0;
            for (size_t i = 0; i < nb; i++) {
                /* a weight: neither a bias nor a norm by kind, and at least 2-d (a vector
                 * block such as head.bias, whose kind is "head", is a bias too) */
                hb_block_kind kind;
                int ndim = 0;
                hb_params_block_info(p, sel[i], NULL, &kind, NULL, NULL, &ndim, NULL);
                if (kind != HB_BLOCK_BIAS && kind != HB_BLOCK_NORM && ndim >= 2) {
                    out->js_selected[i] = 1;
                    sub[ns++] = sp[i];
                }
            }
            out->js_nselected = ns;
            double *m2 = ns > 1 ? malloc(ns * ns * sizeof(double)) : NULL;
            if (ns > 1 && !m2) rc = HB_ENOMEM;
            for (int norm = 0; norm < 2 && ns > 1 && rc == HB_OK; norm++) {
                jo.normalize = norm;
                rc = js0_with_se(sub, ns, &jo, so->js_replicates, m2,
                                 norm ? &out->js0_selected_normalized : &out->js0_selected,
                                 norm ? &out->js0_selected_normalized_stderr : &out->js0_selected_stderr,
                                 NULL, out);
            }
            free(m2);
            free(sub);
            if (rc != HB_OK) goto done;
        }
    } else {
        free(out->js);
        out->js = NULL;
        out->js0 = NAN;
        out->js0_normalized = NAN;
    }
    out->seconds = now_seconds() - t0;
done:
    for (size_t i = 0; sp && i < nb_all; i++) hb_spectrum_free(sp[i]);
    hb_spectrum_free(full);
    hb_slq_free(slq);
    free(sp);
    free(sel);
    if (rc != HB_OK) {
        int keep = rc;
        spec_result_free(out);
        return keep;
    }
    return HB_OK;
#endif
}

/* L2 norm of the whole parameter vector, whatever its dtype. */
static double param_norm(hb_params *p) {
    size_t n = hb_params_count(p);
    const void *d = hb_params_data(p);
    double s = 0;
    switch (hb_params_dtype(p)) {
    case HB_F64: for (size_t i = 0; i < n; i++) s += ((const double *)d)[i] * ((const double *)d)[i]; break;
    case HB_F32: for (size_t i = 0; i < n; i++) s += (double)((const float *)d)[i] * ((const float *)d)[i]; break;
    case HB_BF16:
        for (size_t i = 0; i < n; i++) {
            double v = hb_bf16_to_f32(((const uint16_t *)d)[i]);
            s += v * v;
        }
        break;
    default: return NAN;
    }
    return sqrt(s);
}

/* L2 norm of the trainable blocks only (an SST/LoRA wrapper: its frozen blocks hold copies
 * of the factors, W0, integer indices and the iteration, whose norm means nothing). */
static double trainable_norm(hb_params *p) {
    size_t nb = hb_params_num_blocks(p);
    const void *d = hb_params_data(p);
    double s = 0;
    for (size_t b = 0; b < nb; b++) {
        size_t off = 0, n = 0;
        int tr = 0;
        if (hb_params_block_info(p, b, NULL, NULL, &off, &n, NULL, NULL) != HB_OK ||
            hb_params_block_trainable(p, b, &tr) != HB_OK)
            return NAN;
        if (!tr) continue;
        for (size_t i = off; i < off + n; i++) {
            double v;
            switch (hb_params_dtype(p)) {
            case HB_F64: v = ((const double *)d)[i]; break;
            case HB_F32: v = ((const float *)d)[i]; break;
            case HB_BF16: v = hb_bf16_to_f32(((const uint16_t *)d)[i]); break;
            default: return NAN;
            }
            s += v * v;
        }
    }
    return sqrt(s);
}

#if HAVE_SST
/* Which blocks an SST/LoRA run converts: every 2-d block of a linear-map kind (the
 * attention projections and MLP matrices of gpt, the hidden LINEAR layers of mlp; a CONV
 * block qualifies only if 2-d, and the built-in cnn's are 4-d). Embeddings, norms, biases
 * and heads stay dense, as in the SST and LoRA papers. */
static const hb_block_kind sst_kinds[] = {HB_BLOCK_ATTN_Q, HB_BLOCK_ATTN_K,  HB_BLOCK_ATTN_V,
                                          HB_BLOCK_ATTN_O, HB_BLOCK_MLP_IN,  HB_BLOCK_MLP_OUT,
                                          HB_BLOCK_LINEAR, HB_BLOCK_CONV};

static int make_wrapper(hb_model *inner, const train_opts *to, hb_model **out) {
    hb_sst_config *cfg = NULL;
    *out = NULL;
    int rc = hb_sst_config_create(hb_model_context(inner), (hb_sst_method)to->sst_method, &cfg);
    if (!rc) rc = hb_sst_config_set_i64(cfg, HB_SST_RANK, to->rank);
    if (!rc && to->sst_method == HB_SST_METHOD_SPECTRAL) {
        rc = hb_sst_config_set_i64(cfg, HB_SST_ITERATION, to->sst_iteration);
        if (!rc) rc = hb_sst_config_set_i64(cfg, HB_SST_REWARM, to->rewarm);
    }
    if (!rc && to->sst_method == HB_SST_METHOD_LORA)
        rc = hb_sst_config_set_f64(cfg, HB_SST_LORA_ALPHA, to->lora_alpha);
    if (!rc) rc = hb_sst_config_set_i64(cfg, HB_SST_FREEZE_OTHERS, to->freeze_others ? 1 : 0);
    for (size_t i = 0; !rc && i < sizeof sst_kinds / sizeof *sst_kinds; i++)
        rc = hb_sst_config_add_kind(cfg, sst_kinds[i]);
    if (!rc) rc = hb_sst_create(inner, cfg, out);
    hb_sst_config_free(cfg);
    return rc;
}
#endif

int compute_sst_convertible(hb_model *m) {
    hb_params *p = hb_model_params(m);
    int n = 0;
    for (size_t b = 0; b < hb_params_num_blocks(p); b++) {
        hb_block_kind kind;
        int ndim = 0;
        int64_t shape[HB_MAX_DIMS];
        if (hb_params_block_info(p, b, NULL, &kind, NULL, NULL, &ndim, shape) != HB_OK) continue;
        if (ndim != 2) continue;
#if HAVE_SST
        for (size_t i = 0; i < sizeof sst_kinds / sizeof *sst_kinds; i++)
            if (kind == sst_kinds[i]) n++;
#else
        (void)kind;
#endif
    }
    return n;
}

/* ---- training ------------------------------------------------------------------------------ */
#if HAVE_OPTIM
static int optimizer_kind(const char *name) {
    if (!strcmp(name, "sgd") || !strcmp(name, "sgd-blockhess")) return HB_OPTIM_SGD;
    if (!strcmp(name, "adam")) return HB_OPTIM_ADAM;
    if (!strcmp(name, "adamw")) return HB_OPTIM_ADAMW;
    if (!strcmp(name, "adam-mini")) return HB_OPTIM_ADAM_MINI;
    return 0;
}

static int configure(hb_optimizer *o, int kind, const train_opts *to, hb_params *p) {
    int rc = hb_optimizer_set_f64(o, HB_OPT_LR, to->lr);
    if (!rc) rc = hb_optimizer_set_f64(o, HB_OPT_WEIGHT_DECAY, to->wd);
    if (!rc && kind == HB_OPTIM_SGD) rc = hb_optimizer_set_f64(o, HB_OPT_MOMENTUM, to->momentum);
    if (!rc && kind != HB_OPTIM_SGD) {
        rc = hb_optimizer_set_f64(o, HB_OPT_BETA1, to->beta1);
        if (!rc) rc = hb_optimizer_set_f64(o, HB_OPT_BETA2, to->beta2);
        if (!rc) rc = hb_optimizer_set_f64(o, HB_OPT_EPS, to->eps);
    }
    if (!rc && kind == HB_OPTIM_ADAM_MINI && to->heads > 0)
        rc = hb_optimizer_set_i64(o, HB_OPT_HEADS, to->heads);
    if (!rc && to->stochastic_rounding && hb_params_dtype(p) == HB_BF16)
        rc = hb_optimizer_set_i64(o, HB_OPT_STOCHASTIC_ROUNDING, 1);
    return rc;
}
#endif

int compute_train(hb_context *ctx, hb_model *inner, const train_opts *to, train_run *out) {
    memset(out, 0, sizeof *out);
    out->final_loss = NAN;
#if !HAVE_OPTIM
    (void)ctx; (void)inner; (void)to;
    return CMP_UNAVAILABLE;
#else
    double t0 = now_seconds();
    hb_model *m = inner, *wrapper = NULL;
    int kind = optimizer_kind(to->optimizer);
    hb_optimizer *o = NULL;
    snprintf(out->optimizer, sizeof out->optimizer, "%s", to->optimizer);
    out->lr = to->lr;
    out->steps = to->steps;
    out->loss = malloc((size_t)(to->steps + 1) * sizeof(double));
    if (!out->loss) return HB_ENOMEM;
    for (int64_t s = 0; s <= to->steps; s++) out->loss[s] = NAN;
    int rc = HB_OK;
    if (to->sst_method) {
#if HAVE_SST
        /* The wrapper is made right after the model, from the same context, so a resumed
         * run builds the identical wrapper (same RNG stream) before loading the checkpoint. */
        kind = HB_OPTIM_ADAMW;
        out->sst_method = to->sst_method;
        snprintf(out->base_optimizer, sizeof out->base_optimizer, "adamw");
        out->rank = to->rank;
        out->sst_iteration = to->sst_iteration;
        out->rewarm = to->rewarm;
        out->lora_alpha = to->lora_alpha > 0 ? to->lora_alpha : (double)to->rank;
        out->freeze_others = to->freeze_others;
        out->total = hb_params_count(hb_model_params(inner));
        rc = make_wrapper(inner, to, &wrapper);
        if (!rc) {
            m = wrapper;
            rc = hb_sst_num_layers(wrapper, &out->converted_blocks);
        }
        if (!rc && !(out->layers = calloc(out->converted_blocks + 1, sizeof *out->layers)))
            rc = HB_ENOMEM;
        for (size_t i = 0; !rc && i < out->converted_blocks; i++) {
            const char *name = NULL;
            struct sst_layer *l = &out->layers[i];
            rc = hb_sst_layer_info(wrapper, i, &name, &l->out, &l->in, &l->k, &l->r);
            if (!rc) snprintf(l->name, sizeof l->name, "%s", name);
        }
        if (!rc) rc = hb_sst_trainable_count(wrapper, &out->trainable);
        if (!rc) out->wrapper_total = hb_params_count(hb_model_params(wrapper));
#else
        rc = CMP_UNAVAILABLE;
#endif
    }
    hb_params *p = hb_model_params(m);
    out->elem_bytes = hb_params_dtype(p) == HB_F64 ? 8 : hb_params_dtype(p) == HB_F32 ? 4 : 2;
    if (!rc) rc = hb_optimizer_create(ctx, (hb_optimizer_kind)kind, p, &o);
    if (!rc) rc = configure(o, kind, to, p);
    if (!rc && to->resume && (rc = hb_checkpoint_load(to->resume, p, o)) != HB_OK)
        out->failed_file = to->resume;
    int64_t start = o ? hb_optimizer_step_count(o) : 0;
    if (!rc) {
        if (to->schedule == 1)
            rc = hb_optimizer_schedule_cosine(o, to->warmup, start + to->steps > to->warmup
                                                                 ? start + to->steps : to->warmup + 1, 0.0);
        else if (to->warmup > 0) /* linear warmup, then constant: cosine with floor 1 */
            rc = hb_optimizer_schedule_cosine(o, to->warmup, to->warmup + 1, 1.0);
    }
    int diverged = 0;
    out->param_norm0 = wrapper ? trainable_norm(p) : param_norm(p);
#if HAVE_SST
    /* effective weights at the start (after a resume: the checkpoint's) */
    if (!rc && wrapper && (rc = hb_sst_sync(wrapper)) == HB_OK)
        out->inner_norm0 = param_norm(hb_model_params(inner));
#endif
    if (!rc && to->evaluate && to->eval_every) rc = to->evaluate(to->data_user, m, 0);
    for (int64_t s = 0; !rc && s < to->steps; s++) {
        double loss = NAN;
        if (to->step_data && (rc = to->step_data(to->data_user, m, s)) != HB_OK) break;
        /* sgd-blockhess: λ_max of each block on this step's data, before its gradient */
        if (to->bh && s % to->bh_opts->every == 0 &&
            (rc = blockhess_refresh(to->bh, to->bh_opts, m, o, s)) != HB_OK) {
            if (rc == HB_ENONFINITE) { rc = HB_OK; diverged = 1; }
            break;
        }
#if HAVE_SST
        /* SST schedule (boundary: re-SVD, redraw, zero the active pairs' state; re-warm
         * through HB_OPT_LR_MULT), indexed by the optimizer's step so a resume continues it. */
        if (wrapper && (rc = hb_sst_begin_step(wrapper, start + s, o, NULL)) != HB_OK) {
            /* a re-SVD of non-finite factors fails to converge: the run diverged */
            if (rc == HB_ENONFINITE) { rc = HB_OK; diverged = 1; }
            break;
        }
#endif
        rc = hb_model_loss_grad(m, &loss);
        out->loss[s] = loss;
        if (rc == HB_ENONFINITE || !isfinite(loss)) { rc = HB_OK; diverged = 1; break; }
        if (rc) break;
        rc = hb_optimizer_step(o);
        if (rc == HB_ENONFINITE) { rc = HB_OK; diverged = 1; break; }
#if HAVE_SST
        if (!rc && wrapper) rc = hb_sst_end_step(wrapper);
#endif
        if (!rc && (to->in_job ? progress_interrupted() : progress_tick("train", s + 1, to->steps)))
            rc = HB_ECANCELED; /* signal */
        if (!rc && to->checkpoint && to->checkpoint_every && (s + 1) % to->checkpoint_every == 0)
            if ((rc = hb_checkpoint_save(to->checkpoint, p, o)) != HB_OK) out->failed_file = to->checkpoint;
        if (!rc && to->evaluate && to->eval_every && (s + 1) % to->eval_every == 0 && s + 1 < to->steps)
            rc = to->evaluate(to->data_user, m, s + 1);
    }
    /* saved before the final evaluation, which sets a --minibatch run's evaluation set: the
     * model section then records the training windows' micro-batch count (--batches), as
     * the --checkpoint-every files do (the parameters and state are the same either way) */
    if (!rc && to->checkpoint && (rc = hb_checkpoint_save(to->checkpoint, p, o)) != HB_OK)
        out->failed_file = to->checkpoint;
    if (!rc && !diverged && to->step_data) rc = to->step_data(to->data_user, m, -1);
    if (!rc && !diverged) {
        double loss = NAN;
        rc = hb_model_loss(m, &loss);
        if (rc == HB_ENONFINITE) { rc = HB_OK; diverged = 1; }
        out->loss[to->steps] = loss;
        out->final_loss = diverged ? NAN : loss;
    }
    if (!rc && !diverged && to->evaluate) rc = to->evaluate(to->data_user, m, to->steps);
    if (o) {
        int rc2 = hb_optimizer_state_bytes(o, &out->state_bytes);
        if (!rc) rc = rc2;
    }
    hb_optimizer_free(o);
    out->param_norm = wrapper ? trainable_norm(p) : param_norm(p);
#if HAVE_SST
    if (wrapper) {
        /* the inner model's effective weights (W = U·diag(s)·Vᵀ or W0 + (α/r)·B·A) */
        int rc2 = hb_sst_sync(wrapper);
        if (!rc && !diverged) rc = rc2;
        out->inner_norm = param_norm(hb_model_params(inner));
        hb_model_free(wrapper);
    }
#endif
    out->seconds = now_seconds() - t0;
    return rc;
#endif
}

int compute_load_checkpoint(hb_context *ctx, hb_model *m, const char *path) {
    (void)ctx;
#if !HAVE_OPTIM
    (void)m; (void)path;
    return CMP_UNAVAILABLE;
#else
    return hb_checkpoint_load(path, hb_model_params(m), NULL);
#endif
}

/* ---- quadratic test bed --------------------------------------------------------------------- */
#if HAVE_OPTIM
/* θ* by conjugate gradients on Hθ = h (θ0 = 0, so the gradient there is −h), then
 * L* = L(θ*). The model's parameters are left at zero. */
static int quad_optimum(hb_model *m, double *lstar) {
    hb_params *p = hb_model_params(m);
    hb_context *ctx = hb_model_context(m);
    size_t n = hb_params_count(p);
    double *theta = hb_params_data(p);
    hb_tensor *tv = NULL, *tq = NULL;
    double *r = malloc(n * sizeof *r), *d = malloc(n * sizeof *d), *x = calloc(n, sizeof *x);
    double *q = malloc(n * sizeof *q);
    int rc = (r && d && x && q) ? HB_OK : HB_ENOMEM;
    int64_t shape[1] = {(int64_t)n};
    if (!rc) rc = hb_tensor_wrap(ctx, HB_F64, 1, shape, d, &tv);
    if (!rc) rc = hb_tensor_wrap(ctx, HB_F64, 1, shape, q, &tq);
    if (!rc) {
        memset(theta, 0, n * sizeof(double));
        rc = hb_model_loss_grad(m, NULL);
    }
    if (!rc) {
        const double *g = hb_params_grad(p);
        for (size_t i = 0; i < n; i++) r[i] = -g[i]; /* r = h − H·0 */
        memcpy(d, r, n * sizeof *d);
        double rr = 0, r0;
        for (size_t i = 0; i < n; i++) rr += r[i] * r[i];
        r0 = rr;
        for (size_t it = 0; it < 20 * n && rr > 1e-30 * r0 && !rc; it++) {
            rc = hb_model_hvp(m, tv, tq);
            if (rc) break;
            double dq = 0;
            for (size_t i = 0; i < n; i++) dq += d[i] * q[i];
            double a = rr / dq, rr2 = 0;
            for (size_t i = 0; i < n; i++) { x[i] += a * d[i]; r[i] -= a * q[i]; rr2 += r[i] * r[i]; }
            for (size_t i = 0; i < n; i++) d[i] = r[i] + rr2 / rr * d[i];
            rr = rr2;
        }
    }
    if (!rc) {
        memcpy(theta, x, n * sizeof(double));
        rc = hb_model_loss(m, lstar);
        memset(theta, 0, n * sizeof(double));
    }
    hb_tensor_free(tv);
    hb_tensor_free(tq);
    free(r); free(d); free(x); free(q);
    return rc;
}

/* One run from θ = 0; iterations to rel ≤ tol (−1 if not reached or diverged). If curve is
 * non-NULL it receives rel per iteration (max_iters + 1 entries; *ncurve used). */
static int quad_run(hb_context *ctx, hb_model *m, int kind, double lr, double l0, double lstar,
                    const quad_opts *qo, int64_t *iters, double *curve, size_t *ncurve) {
    hb_params *p = hb_model_params(m);
    memset(hb_params_data(p), 0, hb_params_count(p) * sizeof(double));
    hb_optimizer *o = NULL;
    int rc = hb_optimizer_create(ctx, (hb_optimizer_kind)kind, p, &o);
    if (!rc) rc = hb_optimizer_set_f64(o, HB_OPT_LR, lr);
    if (!rc) rc = hb_optimizer_set_f64(o, HB_OPT_WEIGHT_DECAY, 0);
    if (!rc && kind == HB_OPTIM_SGD && strcmp(qo->sgd_variant, "gd") != 0)
        rc = hb_optimizer_set_f64(o, HB_OPT_MOMENTUM, 0.9);
    *iters = -1;
    size_t k = 0;
    for (int64_t t = 0; !rc; t++) {
        double loss;
        rc = hb_model_loss_grad(m, &loss);
        double rel = (loss - lstar) / (l0 - lstar);
        if (rc == HB_ENONFINITE) { rc = HB_OK; break; }
        if (curve) curve[k++] = rel;
        if (!rc && rel <= qo->tol) { *iters = t; break; }
        if (rc || !(rel < 1e8) || t >= qo->max_iters) break;
        rc = hb_optimizer_step(o);
        if (rc == HB_ENONFINITE) { rc = HB_OK; break; }
    }
    if (ncurve) *ncurve = k;
    hb_optimizer_free(o);
    return rc;
}
#endif

#if HAVE_OPTIM
/* learning-rate grids: 4 points per decade */
static const struct {
    const char *name;
    int kind;
    double lo_exp, hi_exp;
} quad_methods[3] = {{"gd", HB_OPTIM_SGD, -6, 0}, {"sgd_momentum", HB_OPTIM_SGD, -6, 0},
                     {"adam", HB_OPTIM_ADAM, -5, 0}};

static size_t quad_nlr(int j) { return (size_t)((quad_methods[j].hi_exp - quad_methods[j].lo_exp) * 4) + 1; }

/* The test-bed model of one family (draws its rotations and h from ctx's next streams). */
static int quad_model(hb_context *ctx, const quad_opts *qo, int family, hb_model **m) {
    hb_model_config *cfg = NULL;
    *m = NULL;
    int rc = hb_model_config_create(ctx, HB_MODEL_QUADRATIC, &cfg);
    if (!rc) rc = hb_model_config_set_i64(cfg, HB_MK_DTYPE, HB_F64);
    if (!rc) rc = hb_model_config_set_i64(cfg, HB_MK_QUAD_BLOCKS, qo->blocks);
    if (!rc) rc = hb_model_config_set_i64(cfg, HB_MK_QUAD_BLOCK_SIZE, qo->block_size);
    if (!rc) rc = hb_model_config_set_i64(cfg, HB_MK_QUAD_FAMILY, family);
    if (!rc) rc = hb_model_config_set_f64(cfg, HB_MK_QUAD_COND, qo->cond);
    if (!rc) rc = hb_model_create(ctx, cfg, m);
    hb_model_config_free(cfg);
    return rc;
}

/* out's settings, methods and lr grids (iterations still to come), best_* unset. */
static int quad_header(quad_family *out, const quad_opts *qo, int family) {
    snprintf(out->family, sizeof out->family, "%s",
             family == HB_QUAD_HETEROGENEOUS ? "heterogeneous" : "homogeneous");
    out->cond = qo->cond;
    out->blocks = qo->blocks;
    out->block_size = qo->block_size;
    out->tol = qo->tol;
    out->max_iters = qo->max_iters;
    for (int j = 0; j < 3; j++) {
        quad_method *mm = &out->m[j];
        out->nm = (size_t)j + 1;
        snprintf(mm->name, sizeof mm->name, "%s", quad_methods[j].name);
        mm->nlr = quad_nlr(j);
        mm->lrs = malloc(mm->nlr * sizeof(double));
        mm->iters = malloc(mm->nlr * sizeof(int64_t));
        if (!mm->lrs || !mm->iters) return HB_ENOMEM;
        for (size_t k = 0; k < mm->nlr; k++) mm->lrs[k] = pow(10, quad_methods[j].lo_exp + 0.25 * (double)k);
        mm->best_lr = NAN;
        mm->best_iters = -1;
    }
    return HB_OK;
}

/* Run k of method mm (its iterations already in mm->iters[k], its curve nc long) against
 * the best so far; best_final: while no lr reached the target, the lowest final rel. */
static int quad_take(quad_method *mm, size_t k, const double *curve, size_t nc, double *best_final) {
    if (nc == 0) return HB_OK;
    int better;
    if (mm->iters[k] >= 0)
        better = mm->best_iters < 0 || mm->iters[k] < mm->best_iters;
    else
        better = mm->best_iters < 0 && curve[nc - 1] < *best_final;
    if (!better) return HB_OK;
    if (mm->iters[k] >= 0) mm->best_iters = mm->iters[k];
    else *best_final = curve[nc - 1];
    mm->best_lr = mm->lrs[k];
    free(mm->curve);
    mm->curve = malloc(nc * sizeof(double));
    if (!mm->curve) return HB_ENOMEM;
    memcpy(mm->curve, curve, nc * sizeof(double));
    mm->ncurve = nc;
    return HB_OK;
}

/* θ = 0: the initial loss l0 and the optimum's loss lstar. */
static int quad_ends(hb_model *m, double *l0, double *lstar) {
    memset(hb_params_data(hb_model_params(m)), 0, hb_params_count(hb_model_params(m)) * sizeof(double));
    int rc = hb_model_loss(m, l0);
    if (!rc) rc = quad_optimum(m, lstar);
    return rc;
}
#endif

int compute_quadratic(hb_context *ctx, const quad_opts *qo_in, int family, quad_family *out) {
    memset(out, 0, sizeof *out);
#if !HAVE_OPTIM
    (void)ctx; (void)qo_in; (void)family;
    return CMP_UNAVAILABLE;
#else
    quad_opts qo = *qo_in;
    hb_model *m = NULL;
    int rc = quad_model(ctx, &qo, family, &m);
    if (rc) return rc;
    double l0 = 0, lstar = 0;
    rc = quad_header(out, &qo, family);
    if (!rc) rc = quad_ends(m, &l0, &lstar);
    double *curve = malloc((size_t)(qo.max_iters + 1) * sizeof(double));
    if (!curve && !rc) rc = HB_ENOMEM;
    size_t total = 0, done = 0;
    for (int j = 0; j < 3; j++) total += quad_nlr(j);
    for (int j = 0; j < 3 && !rc; j++) {
        quad_method *mm = &out->m[j];
        qo.sgd_variant = quad_methods[j].name;
        double best_final = INFINITY;
        for (size_t k = 0; k < mm->nlr && !rc; k++) {
            size_t nc = 0;
            rc = quad_run(ctx, m, quad_methods[j].kind, mm->lrs[k], l0, lstar, &qo, &mm->iters[k], curve, &nc);
            if (progress_tick("quadratic runs", (int64_t)++done, (int64_t)total)) rc = HB_ECANCELED;
            if (!rc) rc = quad_take(mm, k, curve, nc, &best_final);
        }
    }
    free(curve);
    hb_model_free(m);
    if (rc) quad_family_free(out);
    return rc;
#endif
}

#if HAVE_OPTIM
/* One run of the quadratic grids as a job (jobs.h): its own context and model. */
typedef struct quad_job {
    size_t f;           /* index into the families of this call */
    int j;              /* method */
    size_t k;           /* learning rate */
    int64_t iters;
    double *curve;
    size_t nc;
    int rc;
    char why[512];
} quad_job;

typedef struct quad_jobs {
    const quad_opts *qo;
    const int *fam;
    int64_t seed;
    const double *l0, *lstar;
    quad_family *out;
    quad_job *job;
    const size_t *idx;  /* the jobs to run here: job[idx[i]] */
} quad_jobs;

static void quad_job_fn(void *arg, size_t i) {
    quad_jobs *Q = arg;
    quad_job *q = &Q->job[Q->idx[i]];
    hb_context *ctx = NULL;
    hb_model *m = NULL;
    int rc = hb_context_create(&ctx);
    if (!rc) rc = hb_context_set_i64(ctx, HB_CTX_SEED, Q->seed);
    if (!rc) progress_cancel_only(ctx);
    /* the models of this call's earlier families first: the same streams as the serial
     * order, which made them one after the other on a context freshly seeded */
    for (size_t g = 0; g <= q->f && !rc; g++) {
        hb_model_free(m);
        m = NULL;
        rc = quad_model(ctx, Q->qo, Q->fam[g], &m);
    }
    quad_opts qo = *Q->qo;
    qo.sgd_variant = quad_methods[q->j].name;
    q->curve = rc ? NULL : malloc((size_t)(qo.max_iters + 1) * sizeof(double));
    if (!rc && !q->curve) rc = HB_ENOMEM;
    if (!rc)
        rc = quad_run(ctx, m, quad_methods[q->j].kind, Q->out[q->f].m[q->j].lrs[q->k], Q->l0[q->f],
                      Q->lstar[q->f], &qo, &q->iters, q->curve, &q->nc);
    if (!rc && progress_interrupted()) rc = HB_ECANCELED;
    if (!rc && q->nc < (size_t)qo.max_iters + 1) { /* keep only what the run wrote */
        double *c = realloc(q->curve, (q->nc ? q->nc : 1) * sizeof(double));
        if (c) q->curve = c;
    }
    if (rc) snprintf(q->why, sizeof q->why, "%s", ctx ? hb_context_last_error(ctx) : "cannot create a context");
    q->rc = rc;
    hb_model_free(m);
    hb_context_free(ctx);
}
#endif

#if HAVE_OPTIM
struct quad_batch {
    size_t nf, total;
    quad_job *job;
};

/* ---- a run on the wire (cli_share_jobs): the fixed part, then its curve ---- */
typedef struct quad_record {
    int64_t iters, rc;
    uint64_t nc;
    char why[512];
} quad_record;

static size_t quad_pack(void *arg, size_t i, unsigned char *buf) {
    const quad_job *q = &((quad_batch *)arg)->job[i];
    size_t nc = q->curve ? q->nc : 0;
    if (buf) {
        quad_record h = {.iters = q->iters, .rc = q->rc, .nc = nc};
        memcpy(h.why, q->why, sizeof h.why);
        memcpy(buf, &h, sizeof h);
        if (nc) memcpy(buf + sizeof h, q->curve, nc * sizeof(double));
    }
    return sizeof(quad_record) + nc * sizeof(double);
}

static int quad_unpack(void *arg, size_t i, const unsigned char *buf, size_t len) {
    quad_job *q = &((quad_batch *)arg)->job[i];
    quad_record h;
    if (len < sizeof h) return HB_EINVAL;
    memcpy(&h, buf, sizeof h);
    if (h.nc > (len - sizeof h) / sizeof(double) || len != sizeof h + h.nc * sizeof(double)) return HB_EINVAL;
    q->iters = h.iters;
    q->rc = (int)h.rc;
    q->nc = (size_t)h.nc;
    memcpy(q->why, h.why, sizeof q->why);
    q->why[sizeof q->why - 1] = 0;
    free(q->curve);
    q->curve = malloc((q->nc ? q->nc : 1) * sizeof(double));
    if (!q->curve) return HB_ENOMEM;
    if (q->nc) memcpy(q->curve, buf + sizeof h, q->nc * sizeof(double));
    return HB_OK;
}
#endif

int compute_quadratics_start(hb_context *ctx, const quad_opts *qo, const int *fam, size_t nf, int threads,
                             int divide, quad_family *out, quad_batch **batch, char *why, size_t nwhy) {
    why[0] = 0;
    *batch = NULL;
    for (size_t f = 0; f < nf; f++) memset(&out[f], 0, sizeof out[f]);
    /* every running job holds a curve of max_iters + 1 until its run ends: with a huge
     * --quad-max-iters, the serial loop (one curve) instead of threads × that */
    if ((double)(qo->max_iters + 1) * sizeof(double) * (double)threads > (double)(1u << 30)) threads = 1;
    if (threads <= 1 && !divide) {
        for (size_t f = 0; f < nf; f++) {
            int rc = compute_quadratic(ctx, qo, fam[f], &out[f]);
            if (rc) {
                snprintf(why, nwhy, "%s", hb_context_last_error(ctx));
                for (size_t g = 0; g < f; g++) quad_family_free(&out[g]);
                return rc;
            }
        }
        return HB_OK;
    }
#if !HAVE_OPTIM
    (void)divide;
    return CMP_UNAVAILABLE;
#else
    /* each family's model on ctx in order (its streams as in the serial loop), for the ends
     * of the relative loss; the runs then on job contexts that rebuild the same models */
    int64_t seed = 0;
    double l0[8], lstar[8];
    size_t total = 0;
    int rc = nf <= 8 ? hb_context_get_i64(ctx, HB_CTX_SEED, &seed) : HB_EINVAL;
    for (size_t f = 0; f < nf && !rc; f++) {
        hb_model *m = NULL;
        rc = quad_model(ctx, qo, fam[f], &m);
        if (!rc) rc = quad_header(&out[f], qo, fam[f]);
        if (!rc) rc = quad_ends(m, &l0[f], &lstar[f]);
        hb_model_free(m);
        for (int j = 0; j < 3; j++) total += quad_nlr(j);
    }
    if (rc) snprintf(why, nwhy, "%s", hb_context_last_error(ctx));
    quad_batch *b = rc ? NULL : calloc(1, sizeof *b);
    quad_job *job = rc ? NULL : calloc(total, sizeof *job);
    size_t *idx = rc ? NULL : malloc(total * sizeof *idx);
    if (!rc && (!b || !job || !idx)) {
        rc = HB_ENOMEM;
        snprintf(why, nwhy, "out of memory");
    }
    if (!rc) {
        size_t i = 0, nmine = 0;
        for (size_t f = 0; f < nf; f++)
            for (int j = 0; j < 3; j++)
                for (size_t k = 0; k < quad_nlr(j); k++, i++) {
                    job[i] = (quad_job){.f = f, .j = j, .k = k};
                    if (!divide || cli_job_mine(i)) idx[nmine++] = i;
                }
        quad_jobs Q = {.qo = qo, .fam = fam, .seed = seed, .l0 = l0, .lstar = lstar, .out = out,
                       .job = job, .idx = idx};
        jobs_run(nmine, threads, quad_job_fn, &Q);
        *b = (quad_batch){.nf = nf, .total = total, .job = job};
        *batch = b;
    } else {
        free(b);
        free(job);
        for (size_t f = 0; f < nf; f++) quad_family_free(&out[f]);
    }
    free(idx);
    return rc;
#endif
}

int compute_quadratics_finish(quad_batch *b, int rc, quad_family *out, char *why, size_t nwhy) {
#if !HAVE_OPTIM
    (void)out, (void)why, (void)nwhy;
    free(b);
    return rc;
#else
    if (!b) return rc;
    quad_job *job = b->job;
    if (rc == HB_OK) rc = cli_share_jobs(b->total, quad_pack, quad_unpack, b, why, nwhy);
    /* in the serial order: the same bests, the first failure reported */
    double best_final = INFINITY;
    for (size_t i2 = 0; i2 < b->total && !rc; i2++) {
        quad_job *q = &job[i2];
        quad_method *mm = &out[q->f].m[q->j];
        if (q->k == 0) best_final = INFINITY;
        mm->iters[q->k] = q->iters;
        if ((rc = q->rc) != HB_OK) snprintf(why, nwhy, "%s", q->why);
        else rc = quad_take(mm, q->k, q->curve, q->nc, &best_final);
    }
    for (size_t i2 = 0; i2 < b->total; i2++) free(job[i2].curve);
    if (rc)
        for (size_t f = 0; f < b->nf; f++) quad_family_free(&out[f]);
    free(job);
    free(b);
    return rc;
#endif
}

int compute_quadratics(hb_context *ctx, const quad_opts *qo, const int *fam, size_t nf, int threads,
                       quad_family *out, char *why, size_t nwhy) {
    quad_batch *b = NULL;
    int rc = compute_quadratics_start(ctx, qo, fam, nf, threads, 0, out, &b, why, nwhy);
    return compute_quadratics_finish(b, rc, out, why, nwhy);
}
