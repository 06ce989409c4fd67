/* Tensors: dense row-major arrays, owned or wrapping caller memory. */
#include <math.h>
#include <string.h>

#include "tensor/tensor_internal.h"

size_t hb_dtype_size(hb_dtype dtype) {
    switch (dtype) {
    case HB_F32: return 4;
    case HB_F64: return 8;
    case HB_BF16: return 2;
    case HB_I32: return 4;
    }
    return 0;
}

uint16_t hb_f32_to_bf16(float x) { return hb__bf16_from_f32(x); }
float hb_bf16_to_f32(uint16_t x) { return hb__bf16_to_f32(x); }

int hb__check_shape(hb_context *ctx, hb_dtype dtype, int ndim, const int64_t *shape,
                    size_t *numel, size_t *bytes) {
    size_t es = hb_dtype_size(dtype);
    HB_CHECK(ctx, es != 0, HB_EDTYPE, "unknown dtype %d", (int)dtype);
    HB_CHECK(ctx, ndim >= 1 && ndim <= HB_MAX_DIMS, HB_EINVAL,
             "ndim must be in 1..%d, got %d", HB_MAX_DIMS, ndim);
    HB_CHECK(ctx, shape != NULL, HB_EINVAL, "shape is NULL");
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        HB_CHECK(ctx, shape[i] >= 1, HB_ESHAPE, "dimension %d is %lld; every dimension must be >= 1",
                 i, (long long)shape[i]);
        HB_CHECK(ctx, (uint64_t)shape[i] <= SIZE_MAX && hb__mul_size(n, (size_t)shape[i], &n),
                 HB_EOVERFLOW, "element count overflows at dimension %d", i);
    }
    size_t b;
    HB_CHECK(ctx, hb__mul_size(n, es, &b) && b <= (size_t)PTRDIFF_MAX, HB_EOVERFLOW,
             "byte size of %zu elements overflows", n);
    if (numel) *numel = n;
    if (bytes) *bytes = b;
    return HB_OK;
}

static int make_tensor(hb_context *ctx, hb_dtype dtype, int ndim, const int64_t *shape,
                       void *data, bool owned, hb_tensor **out) {
    size_t numel, bytes;
    HB_TRY(hb__check_shape(ctx, dtype, ndim, shape, &numel, &bytes));
    hb_tensor *t = hb__malloc(ctx, sizeof *t, "tensor handle");
    if (!t) return HB_ENOMEM;
    memset(t, 0, sizeof *t);
    t->ctx = ctx;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->numel = numel;
    if (owned) {
        t->data = hb__calloc(ctx, 1, bytes, "tensor data");
        if (!t->data) {
            hb__free(ctx, t);
            return HB_ENOMEM;
        }
    } else {
        t->data = data;
    }
    t->owned = owned;
    *out = t;
    return HB_OK;
}

int hb_tensor_create(hb_context *ctx, hb_dtype dtype, int ndim, const int64_t *shape,
                     hb_tensor **out) {
    if (out) *out = NULL;
    if (!ctx) return HB_EINVAL;
    HB_CHECK(ctx, out != NULL, HB_EINVAL, "output pointer is NULL");
    return make_tensor(ctx, dtype, ndim, shape, NULL, true, out);
}

int hb_tensor_wrap(hb_context *ctx, hb_dtype dtype, int ndim, const int64_t *shape,
                   void *data, hb_tensor **out) {
    if (out) *out = NULL;
    if (!ctx) return HB_EINVAL;
    HB_CHECK(ctx, out != NULL, HB_EINVAL, "output pointer is NULL");
    HB_CHECK(ctx, data != NULL, HB_EINVAL, "data to wrap is NULL");
    size_t es = hb_dtype_size(dtype);
    HB_CHECK(ctx, es != 0, HB_EDTYPE, "unknown dtype %d", (int)dtype);
    HB_CHECK(ctx, ((uintptr_t)data % es) == 0, HB_EINVAL,
             "data %p is not aligned to %zu bytes", data, es);
    return make_tensor(ctx, dtype, ndim, shape, data, false, out);
}

int hb__tensor_view(hb_context *ctx, hb_dtype dtype, int ndim, const int64_t *shape,
                    void *data, hb_tensor **out) {
    *out = NULL;
    return make_tensor(ctx, dtype, ndim, shape, data, false, out);
}

void hb_tensor_free(hb_tensor *t) {
    if (!t) return;
    hb_context *ctx = t->ctx;
    if (t->owned) hb__free(ctx, t->data);
    hb__free(ctx, t);
}

hb_dtype hb_tensor_dtype(const hb_tensor *t) { return t ? t->dtype : (hb_dtype)0; }
int hb_tensor_ndim(const hb_tensor *t) { return t ? t->ndim : 0; }
int64_t hb_tensor_dim(const hb_tensor *t, int i) {
    return (t && i >= 0 && i < t->ndim) ? t->shape[i] : 0;
}
size_t hb_tensor_numel(const hb_tensor *t) { return t ? t->numel : 0; }
size_t hb_tensor_nbytes(const hb_tensor *t) { return t ? t->numel * hb_dtype_size(t->dtype) : 0; }
void *hb_tensor_data(hb_tensor *t) { return t ? t->data : NULL; }
const void *hb_tensor_data_const(const hb_tensor *t) { return t ? t->data : NULL; }
int hb_tensor_is_owned(const hb_tensor *t) { return t ? (int)t->owned : 0; }

double hb__load(hb_dtype dtype, const void *data, size_t i) {
    switch (dtype) {
    case HB_F32: return ((const float *)data)[i];
    case HB_F64: return ((const double *)data)[i];
    case HB_BF16: return hb__bf16_to_f32(((const uint16_t *)data)[i]);
    case HB_I32: return ((const int32_t *)data)[i];
    }
    return NAN;
}

void hb__store(hb_dtype dtype, void *data, size_t i, double value) {
    switch (dtype) {
    case HB_F32: ((float *)data)[i] = (float)value; break;
    case HB_F64: ((double *)data)[i] = value; break;
    /* double → f32 → bf16 double-rounds only in ties that f32 cannot hold exactly; the
       library only stores f32-computed values into bf16, where this is exact. */
    case HB_BF16: ((uint16_t *)data)[i] = hb__bf16_from_f32((float)value); break;
    case HB_I32: ((int32_t *)data)[i] = value != value ? 0 : value >= 2147483647.0 ? INT32_MAX
                                       : value <= -2147483648.0 ? INT32_MIN : (int32_t)value;
        break;
    }
}

void hb__convert(hb_context *ctx, hb_dtype dd, void *dst, hb_dtype sd, const void *src,
                 size_t n) {
    if (dd == sd) {
        memmove(dst, src, n * hb_dtype_size(dd));
        return;
    }
#pragma omp parallel for num_threads(hb__threads(ctx)) schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i++) hb__store(dd, dst, i, hb__load(sd, src, i));
}

int hb_tensor_fill(hb_tensor *t, double value) {
    if (!t) return HB_EINVAL;
    /* Round once to the storage type, then replicate the bits. */
    size_t n = t->numel;
    switch (t->dtype) {
    case HB_F64: {
        double *d = t->data;
        for (size_t i = 0; i < n; i++) d[i] = value;
        break;
    }
    case HB_F32: {
        float *d = t->data, v = (float)value;
        for (size_t i = 0; i < n; i++) d[i] = v;
        break;
    }
    case HB_BF16: {
        uint16_t *d = t->data, v = hb__bf16_from_f32((float)value);
        for (size_t i = 0; i < n; i++) d[i] = v;
        break;
    }
    case HB_I32:
        for (size_t i = 0; i < n; i++) hb__store(HB_I32, t->data, i, value);
        break;
    }
    return HB_OK;
}

int hb_tensor_copy(hb_tensor *dst, const hb_tensor *src) {
    if (!dst) return HB_EINVAL;
    hb_context *ctx = dst->ctx;
    HB_CHECK(ctx, src != NULL, HB_EINVAL, "source tensor is NULL");
    bool same = src->ndim == dst->ndim;
    for (int i = 0; same && i < src->ndim; i++) same = src->shape[i] == dst->shape[i];
    HB_CHECK(ctx, same, HB_ESHAPE, "copy between different shapes (%d-d, %zu vs %d-d, %zu elements)",
             src->ndim, src->numel, dst->ndim, dst->numel);
    hb__convert(ctx, dst->dtype, dst->data, src->dtype, src->data, src->numel);
    return HB_OK;
}

int hb_tensor_get_f64(const hb_tensor *t, size_t i, double *value) {
    if (!t) return HB_EINVAL;
    HB_CHECK(t->ctx, value != NULL, HB_EINVAL, "value pointer is NULL");
    HB_CHECK(t->ctx, i < t->numel, HB_ERANGE, "index %zu out of range (numel %zu)", i, t->numel);
    *value = hb__load(t->dtype, t->data, i);
    return HB_OK;
}

int hb_tensor_set_f64(hb_tensor *t, size_t i, double value) {
    if (!t) return HB_EINVAL;
    HB_CHECK(t->ctx, i < t->numel, HB_ERANGE, "index %zu out of range (numel %zu)", i, t->numel);
    hb__store(t->dtype, t->data, i, value);
    return HB_OK;
}
