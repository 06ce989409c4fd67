/* Image data for classifiers (hb_model_set_images, docs/data.md): N grayscale images
 * (N, H, W) with labels become micro-batches of the model's input layout — (n, H·W) for
 * an mlp, (n, 1, S, S) for a cnn — through the model's image_shape hook, so this file
 * never names a model kind.
 *
 *   x = (pixel/255 − μ)/σ,   μ, σ = mean and population std of pixel/255 over the images
 *   (hb_model_set_images) or given (hb_model_set_images_normalized); σ ≤ 1e-9
 *   (constant images) → σ = 1.
 *   sample s = first, first+1, …  ↦  image s mod N. */
#include <math.h>

#include "model/model_internal.h"
#include "tensor/tensor_internal.h"
#include "hessblock/data.h"

/* Pixels must be i32, f32 or f64, finite, in 0..255 (what an IDX u8 file gives). */
static int check_pixels(hb_context *ctx, const hb_tensor *images) {
    HB_CHECK(ctx, images->dtype == HB_I32 || images->dtype == HB_F32 || images->dtype == HB_F64,
             HB_EDTYPE, "images must be i32, f32 or f64 pixel values 0..255");
    for (size_t i = 0; i < images->numel; i++) {
        double v = hb__load(images->dtype, images->data, i);
        HB_CHECK(ctx, isfinite(v), HB_ENONFINITE, "image pixel %zu is not finite", i);
        HB_CHECK(ctx, v >= 0 && v <= 255, HB_ERANGE, "image pixel %zu is %g, outside 0..255", i, v);
    }
    return HB_OK;
}

int hb_images_stats(hb_context *ctx, const hb_tensor *images, double *mean, double *std) {
    if (!ctx) return HB_EINVAL;
    HB_CHECK(ctx, images != NULL && mean != NULL && std != NULL, HB_EINVAL, "NULL argument");
    HB_TRY(check_pixels(ctx, images));
    /* two passes in f64: 47M pixels of Fashion-MNIST lose nothing that matters */
    double s = 0, q = 0, n = (double)images->numel;
    for (size_t i = 0; i < images->numel; i++) s += hb__load(images->dtype, images->data, i) / 255.0;
    double mu = s / n;
    for (size_t i = 0; i < images->numel; i++) {
        double d = hb__load(images->dtype, images->data, i) / 255.0 - mu;
        q += d * d;
    }
    *mean = mu;
    *std = sqrt(q / n);
    return HB_OK;
}

/* The images and labels fit the model: (N, H, W) images, (N) i32 labels in [0, classes). */
static int check_fit(hb_model *m, const hb_tensor *images, const hb_tensor *labels) {
    hb_context *ctx = m->ctx;
    int ndim = 0;
    int64_t dims[3] = {0}, classes = 0;
    m->vt->image_shape(m, &ndim, dims, &classes);
    HB_CHECK(ctx, images->ndim == 3, HB_ESHAPE, "images must be (N, H, W), got %d dimensions", images->ndim);
    int64_t N = images->shape[0], H = images->shape[1], W = images->shape[2];
    if (ndim == 1)
        HB_CHECK(ctx, H * W == dims[0], HB_ESHAPE,
                 "%lldx%lld images have %lld pixels; the %s model takes %lld inputs", (long long)H,
                 (long long)W, (long long)(H * W), m->vt->name, (long long)dims[0]);
    else {
        HB_CHECK(ctx, dims[0] == 1, HB_ESHAPE,
                 "grayscale images need a 1-channel %s model, this one has %lld channels", m->vt->name,
                 (long long)dims[0]);
        HB_CHECK(ctx, H == dims[1] && W == dims[2], HB_ESHAPE,
                 "%lldx%lld images do not fit the %s model's %lldx%lld input", (long long)H, (long long)W,
                 m->vt->name, (long long)dims[1], (long long)dims[2]);
    }
    HB_CHECK(ctx, labels->dtype == HB_I32, HB_EDTYPE, "labels must be i32");
    HB_CHECK(ctx, labels->ndim == 1 && labels->shape[0] == N, HB_ESHAPE,
             "labels must be (N) with N = %lld images", (long long)N);
    const int32_t *y = labels->data;
    for (int64_t i = 0; i < N; i++)
        HB_CHECK(ctx, y[i] >= 0 && y[i] < classes, HB_ERANGE, "label %lld is %d, outside [0, %lld)",
                 (long long)i, (int)y[i], (long long)classes);
    return check_pixels(ctx, images);
}

static void free_list(hb__batch *list, size_t n) {
    for (size_t b = 0; list && b < n; b++) {
        hb_tensor_free(list[b].inputs);
        hb_tensor_free(list[b].targets);
    }
}

/* n_batches micro-batches of bs samples in the model's layout (built aside). */
static int build_batches(hb_model *m, const hb_tensor *images, const hb_tensor *labels, size_t n_batches,
                         uint64_t first, double mean, double std, hb__batch **out) {
    hb_context *ctx = m->ctx;
    int ndim = 0;
    int64_t dims[3] = {0}, classes = 0;
    m->vt->image_shape(m, &ndim, dims, &classes);
    size_t bs = (size_t)m->default_batch, N = (size_t)images->shape[0];
    size_t per = (size_t)(images->shape[1] * images->shape[2]);
    int64_t xs[4] = {(int64_t)bs, dims[0], dims[1], dims[2]}, ys[1] = {(int64_t)bs};
    hb__batch *list = hb__calloc(ctx, n_batches, sizeof *list, "batch list");
    if (!list) return HB_ENOMEM;
    int rc = HB_OK;
    const int32_t *y = labels->data;
    double scale = 1.0 / (255.0 * std), shift = mean / std;
    for (size_t b = 0; b < n_batches && rc == HB_OK; b++) {
        rc = hb_tensor_create(ctx, m->compute, ndim + 1, xs, &list[b].inputs);
        if (rc == HB_OK) rc = hb_tensor_create(ctx, HB_I32, 1, ys, &list[b].targets);
        if (rc != HB_OK) break;
        list[b].n_samples = bs;
        int32_t *t = list[b].targets->data;
        for (size_t i = 0; i < bs; i++) {
            size_t img = (size_t)((first + b * bs + i) % N);
            t[i] = y[img];
            for (size_t e = 0; e < per; e++)
                hb__store(m->compute, list[b].inputs->data, i * per + e,
                          hb__load(images->dtype, images->data, img * per + e) * scale - shift);
        }
    }
    if (rc != HB_OK) {
        free_list(list, n_batches);
        hb__free(ctx, list);
        return rc;
    }
    *out = list;
    return HB_OK;
}

int hb_model_set_images_normalized(hb_model *m, const hb_tensor *images, const hb_tensor *labels,
                                   size_t n_batches, uint64_t first, double mean, double std) {
    if (!m) return HB_EINVAL;
    hb_context *ctx = m->ctx;
    HB_CHECK(ctx, m->vt->image_shape != NULL, HB_EUNSUPPORTED,
             "the %s model takes no image data (mlp and cnn do)", m->vt->name);
    HB_CHECK(ctx, images != NULL && labels != NULL, HB_EINVAL, "images or labels is NULL");
    HB_CHECK(ctx, n_batches >= 1 && n_batches <= (1u << 20), HB_EINVAL,
             "n_batches must be in 1..2^20, got %zu", n_batches);
    HB_CHECK(ctx, isfinite(mean) && isfinite(std) && std > 0, HB_EINVAL,
             "normalisation needs a finite mean and std > 0, got %g and %g", mean, std);
    HB_TRY(check_fit(m, images, labels));
    hb__batch *list = NULL;
    HB_TRY(build_batches(m, images, labels, n_batches, first, mean, std, &list));
    free_list(m->batches, m->n_batches);
    hb__free(ctx, m->batches);
    m->batches = list;
    m->n_batches = m->cap_batches = n_batches;
    m->n_samples = n_batches * (size_t)m->default_batch;
    /* caller data: only the micro-batch count is recorded */
    hb__model_data_changed(m, HB__DATA_EXTERNAL, 0, n_batches, 0);
    return HB_OK;
}

int hb_model_set_images(hb_model *m, const hb_tensor *images, const hb_tensor *labels, size_t n_batches,
                        uint64_t first) {
    if (!m) return HB_EINVAL;
    double mean = 0, std = 1;
    HB_CHECK(m->ctx, m->vt->image_shape != NULL, HB_EUNSUPPORTED,
             "the %s model takes no image data (mlp and cnn do)", m->vt->name);
    HB_CHECK(m->ctx, images != NULL && labels != NULL, HB_EINVAL, "images or labels is NULL");
    HB_TRY(hb_images_stats(m->ctx, images, &mean, &std));
    /* Constant images: σ is rounding noise (any two distinct integer pixels among the
     * ≤ 2^28 allowed give σ ≥ 2.4e-7), so centre only. */
    if (!(std > 1e-9)) std = 1;
    return hb_model_set_images_normalized(m, images, labels, n_batches, first, mean, std);
}
