/* Internal tensor layout, shared with params (views) and the kernels. */
#ifndef HB_TENSOR_INTERNAL_H
#define HB_TENSOR_INTERNAL_H

#include "core/internal.h"

struct hb_tensor {
    hb_context *ctx;
    hb_dtype dtype;
    int ndim;
    int64_t shape[HB_MAX_DIMS];
    size_t numel;
    void *data;
    bool owned;
};

/* hb__check_shape: validate dtype/ndim/shape, compute numel and bytes (overflow-checked).
 * Sets a message on ctx and returns the status on failure. */
int hb__check_shape(hb_context *ctx, hb_dtype dtype, int ndim, const int64_t *shape,
                    size_t *numel, size_t *bytes);

/* hb__tensor_view: a non-owning tensor over data (already validated by the caller). */
int hb__tensor_view(hb_context *ctx, hb_dtype dtype, int ndim, const int64_t *shape,
                    void *data, hb_tensor **out);

/* Element conversions between dtypes over n elements (OpenMP over n). */
void hb__convert(hb_context *ctx, hb_dtype dst_dtype, void *dst, hb_dtype src_dtype,
                 const void *src, size_t n);

/* Element i of data of dtype, as double; and set. */
double hb__load(hb_dtype dtype, const void *data, size_t i);
void hb__store(hb_dtype dtype, void *data, size_t i, double value);

/* bf16 round-to-nearest-even from f32 (also used by the optimizers). */
static inline uint16_t hb__bf16_from_f32(float x) {
    union { float f; uint32_t u; } v = {x};
    if ((v.u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep sign, force quiet */
        return (uint16_t)((v.u >> 16) | 0x0040u);
    uint32_t lsb = (v.u >> 16) & 1u;
    v.u += 0x7fffu + lsb; /* ties to even; overflow rounds to Inf as IEEE does */
    return (uint16_t)(v.u >> 16);
}
static inline float hb__bf16_to_f32(uint16_t x) {
    union { uint32_t u; float f; } v = {(uint32_t)x << 16};
    return v.f;
}

#endif
