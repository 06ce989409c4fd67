/* libhessblock — tensors.
 *
 * A tensor is a dense, row-major array of up to HB_MAX_DIMS dimensions of one dtype.
 * It either owns its memory (allocated through the context's allocator) or wraps
 * memory the caller owns (zero-copy; the caller keeps it alive and frees it after
 * the tensor). Block and flat views of parameters are wrapping tensors too. */
#ifndef HESSBLOCK_TENSOR_H
#define HESSBLOCK_TENSOR_H

#include "hessblock/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HB_MAX_DIMS 4

/* Element types. bf16 is storage only: arithmetic kernels reject it (HB_EDTYPE);
 * convert to f32 to compute. i32 holds integer data (token ids, class labels);
 * it converts to and from the float types by value (truncation toward zero,
 * saturating; NaN → 0). Values are ABI and never reused. */
typedef enum hb_dtype {
    HB_F32 = 1,
    HB_F64 = 2,
    HB_BF16 = 3,
    HB_I32 = 4
} hb_dtype;

/* hb_dtype_size: bytes per element (4, 8, 2, 4), or 0 for an unknown dtype. */
HB_API size_t hb_dtype_size(hb_dtype dtype);

typedef struct hb_tensor hb_tensor;

/* hb_tensor_create: an owned, zero-filled tensor. shape has ndim entries, each >= 1;
 * 1 <= ndim <= HB_MAX_DIMS. Returns HB_OK, HB_EINVAL (NULL, ndim out of range),
 * HB_ESHAPE (a dimension < 1), HB_EDTYPE, HB_EOVERFLOW (byte size overflows),
 * HB_ENOMEM. *out is NULL on failure. */
HB_API int hb_tensor_create(hb_context *ctx, hb_dtype dtype, int ndim,
                            const int64_t *shape, hb_tensor **out);

/* hb_tensor_wrap: a tensor over caller memory `data` (not copied, not freed; must be
 * aligned for dtype and hold the whole shape). Same checks as hb_tensor_create, plus
 * HB_EINVAL for NULL data or misaligned data. */
HB_API int hb_tensor_wrap(hb_context *ctx, hb_dtype dtype, int ndim,
                          const int64_t *shape, void *data, hb_tensor **out);

/* hb_tensor_free: frees the handle (and the data if owned). NULL is a no-op. */
HB_API void hb_tensor_free(hb_tensor *t);

/* Accessors. On a NULL tensor: dtype 0, ndim 0, dims 0, numel 0, data NULL. */
HB_API hb_dtype hb_tensor_dtype(const hb_tensor *t);
HB_API int hb_tensor_ndim(const hb_tensor *t);
/* hb_tensor_dim: size of dimension i (0 <= i < ndim), or 0 when out of range. */
HB_API int64_t hb_tensor_dim(const hb_tensor *t, int i);
HB_API size_t hb_tensor_numel(const hb_tensor *t);
HB_API size_t hb_tensor_nbytes(const hb_tensor *t);
HB_API void *hb_tensor_data(hb_tensor *t);
HB_API const void *hb_tensor_data_const(const hb_tensor *t);
/* hb_tensor_is_owned: 1 if the tensor owns its memory, 0 if it wraps or views. */
HB_API int hb_tensor_is_owned(const hb_tensor *t);

/* hb_tensor_fill: every element = value (rounded to the dtype; bf16 by
 * round-to-nearest-even). Returns HB_OK, HB_EINVAL. */
HB_API int hb_tensor_fill(hb_tensor *t, double value);

/* hb_tensor_copy: dst = src elementwise, converting the dtype if they differ
 * (to bf16 by round-to-nearest-even; NaN stays NaN). Shapes must have the same
 * number of elements and the same dims. Returns HB_OK, HB_EINVAL, HB_ESHAPE. */
HB_API int hb_tensor_copy(hb_tensor *dst, const hb_tensor *src);

/* hb_tensor_get_f64 / hb_tensor_set_f64: element at flat (row-major) index i, converted.
 * For tests and small glue code; loops should use hb_tensor_data.
 * Returns HB_OK, HB_EINVAL, HB_ERANGE. */
HB_API int hb_tensor_get_f64(const hb_tensor *t, size_t i, double *value);
HB_API int hb_tensor_set_f64(hb_tensor *t, size_t i, double value);

/* bf16 conversion of single values: round-to-nearest-even, NaN kept quiet,
 * overflow to ±Inf as IEEE rounding does. */
HB_API uint16_t hb_f32_to_bf16(float x);
HB_API float hb_bf16_to_f32(uint16_t x);

#ifdef __cplusplus
}
#endif
#endif /* HESSBLOCK_TENSOR_H */
