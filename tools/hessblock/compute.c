/* Computations of the hessblock tool on the public API. Components that have not
 * landed in this build report CMP_UNAVAILABLE. */
#include "compute.h"

#include <math.h>
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

const char *compute_missing_spectrum(void) { return "SLQ (slq.h) has not landed"; }
const char *compute_missing_train(void) { return "optimizers (optim.h) have not landed"; }
const char *compute_missing_quadratic(void) { return "optimizers (optim.h) have not landed"; }

static int set_i(hb_model_config *cfg, hb_model_key key, int64_t v) {
    return v ? hb_model_config_set_i64(cfg, key, v) : HB_OK;
}

int model_make(hb_context *ctx, const model_opts *mo, hb_model **out, char *sizes, size_t nsizes) {
    *out = NULL;
    hb_model_config *cfg = NULL;
    int rc = hb_model_config_create(ctx, (hb_model_kind)mo->kind, &cfg);
    if (rc != HB_OK) return rc;
    if (mo->dtype) rc = hb_model_config_set_i64(cfg, HB_MK_DTYPE, mo->dtype);
    if (!rc) rc = set_i(cfg, HB_MK_BATCH, mo->batch);
    switch (mo->kind) {
    case HB_MODEL_GPT:
        if (!rc) rc = set_i(cfg, HB_MK_VOCAB, mo->vocab);
        if (!rc) rc = set_i(cfg, HB_MK_CONTEXT, mo->context);
        if (!rc) rc = set_i(cfg, HB_MK_WIDTH, mo->width);
        if (!rc) rc = set_i(cfg, HB_MK_HEADS, mo->heads);
        if (!rc) rc = set_i(cfg, HB_MK_LAYERS, mo->layers);
        break;
    case HB_MODEL_MLP:
        if (!rc) rc = set_i(cfg, HB_MK_INPUTS, mo->inputs);
        if (!rc) rc = set_i(cfg, HB_MK_WIDTH, mo->width);
        if (!rc) rc = set_i(cfg, HB_MK_LAYERS, mo->layers);
        if (!rc) rc = set_i(cfg, HB_MK_CLASSES, mo->classes);
        break;
    case HB_MODEL_CNN:
        if (!rc) rc = set_i(cfg, HB_MK_IMAGE_SIZE, mo->image);
        if (!rc) rc = set_i(cfg, HB_MK_CHANNELS, mo->channels);
        if (!rc) rc = set_i(cfg, HB_MK_CONV_WIDTH, mo->conv_width);
        if (!rc) rc = set_i(cfg, HB_MK_CONV_STAGES, mo->stages);
        if (!rc) rc = set_i(cfg, HB_MK_CLASSES, mo->classes);
        break;
    default: break;
    }
    if (!rc) rc = hb_model_create(ctx, cfg, out);
    if (!rc && mo->batches > 1 && mo->kind != HB_MODEL_QUADRATIC) {
        uint64_t stream;
        rc = hb_context_next_stream(ctx, &stream);
        if (!rc) rc = hb_model_set_synthetic(*out, (size_t)mo->batches, stream, 0);
    }
    if (!rc && sizes && nsizes) {
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
        default:
            sizes[0] = 0;
        }
        size_t l = strlen(sizes);
        if (mo->kind != HB_MODEL_QUADRATIC && l < nsizes) {
            int64_t b = 0;
            hb_model_config_get_i64(cfg, HB_MK_BATCH, &b);
            snprintf(sizes + l, nsizes - l, "; data %zu samples (%zu x %lld)",
                     hb_model_num_samples(*out), hb_model_num_batches(*out), (long long)b);
        }
    }
    hb_model_config_free(cfg);
    if (rc) { hb_model_free(*out); *out = NULL; }
    return rc;
}

int compute_load_checkpoint(hb_context *ctx, hb_model *m, const char *path) {
    (void)ctx; (void)m; (void)path;
    return CMP_UNAVAILABLE;
}

int compute_spectrum(hb_context *ctx, hb_model *m, const spec_opts *so, spec_result *out) {
    (void)ctx; (void)m; (void)so; (void)out;
    return CMP_UNAVAILABLE;
}

int compute_train(hb_context *ctx, hb_model *m, const train_opts *to, train_run *out) {
    (void)ctx; (void)m; (void)to; (void)out;
    return CMP_UNAVAILABLE;
}

int compute_quadratic(hb_context *ctx, const quad_opts *qo, int family, quad_family *out) {
    (void)ctx; (void)qo; (void)family; (void)out;
    return CMP_UNAVAILABLE;
}
