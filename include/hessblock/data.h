/* libhessblock — real data: IDX files (Fashion-MNIST, MNIST) and image data for the
 * classifiers (docs/data.md). Included by hessblock.h.
 * Thread model: a context and every handle made from it are used by one thread at a time;
 * distinct contexts run concurrently. */
#ifndef HESSBLOCK_DATA_H
#define HESSBLOCK_DATA_H

#include "hessblock/core.h"
#include "hessblock/tensor.h"
#include "hessblock/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- IDX files -------------------------------------------------------------------------
 * The IDX format of MNIST and Fashion-MNIST: a big-endian header (two zero bytes, a type
 * code, the number of dimensions d, then d u32 sizes) followed by the elements, big-endian,
 * row-major. Files may be gzip-compressed (detected by their magic bytes) or raw.
 * A file holds at most HB_IDX_MAX_ELEMENTS elements: a header declaring more is rejected
 * before anything of that size is allocated. */
#define HB_IDX_MAX_ELEMENTS ((uint64_t)1 << 28)

/* hb_idx_read: read the IDX file at path into a new tensor *out with the file's dims:
 * type codes 0x08 (u8), 0x09 (i8), 0x0B (i16), 0x0C (i32) → an i32 tensor; 0x0D (f32) →
 * f32; 0x0E (f64) → f64. The data must be exactly as long as the header declares.
 * Returns HB_OK, HB_EINVAL (NULL argument), HB_EIO (the file cannot be opened or read),
 * HB_EFORMAT (wrong magic, unknown type code, ndim outside 1..HB_MAX_DIMS, a zero dim,
 * truncated header or data, trailing bytes, corrupt gzip stream; the message names the
 * file), HB_EOVERFLOW (more than HB_IDX_MAX_ELEMENTS elements), HB_ENOMEM. *out is NULL
 * on failure and nothing leaks. */
HB_API int hb_idx_read(hb_context *ctx, const char *path, hb_tensor **out);

/* ---- Image data for classifiers ---------------------------------------------------------
 * hb_model_set_images (an mlp or a cnn): replace the model's data by n_batches micro-batches
 * of HB_MK_BATCH samples from a set of N grayscale images. images: (N, H, W), i32 pixel
 * values in 0..255 (as hb_idx_read gives them), f32 or f64; labels: (N) i32 in
 * [0, classes). Sample s (s = first, first + 1, …) is image s mod N. The mlp needs
 * inputs = H·W (the image flattened row by row); the cnn needs image side S = H = W and 1
 * channel. Pixels are scaled x/255, then normalised (x − μ)/σ with μ and σ the mean and
 * standard deviation of x/255 over ALL N images passed (computed in f64 on every call:
 * pass the training images when setting held-out data to normalise both alike, see
 * hb_model_set_images_normalized; docs/data.md).
 * Returns HB_OK, HB_EINVAL (NULL, n_batches outside 1..2^20), HB_EUNSUPPORTED (neither
 * mlp nor cnn), HB_ESHAPE (ranks or sizes that do not fit the model), HB_EDTYPE, HB_ERANGE
 * (a label outside [0, classes) or a pixel outside 0..255), HB_ENONFINITE, HB_ENOMEM.
 * Nothing changes on failure. */
HB_API int hb_model_set_images(hb_model *m, const hb_tensor *images, const hb_tensor *labels,
                               size_t n_batches, uint64_t first);

/* hb_model_set_images_normalized: as hb_model_set_images, with the normalisation given:
 * pixel x ↦ (x/255 − mean)/std. std must be > 0, both finite. Use it with the mean and
 * std of the training images (hb_images_stats) for held-out data. */
HB_API int hb_model_set_images_normalized(hb_model *m, const hb_tensor *images,
                                          const hb_tensor *labels, size_t n_batches,
                                          uint64_t first, double mean, double std);

/* hb_images_stats: mean and standard deviation (population, 1/n) of x/255 over every
 * pixel of images (any shape, i32 0..255, f32 or f64). Fashion-MNIST's training images
 * give mean ≈ 0.2860, std ≈ 0.3530. Returns HB_OK, HB_EINVAL, HB_EDTYPE, HB_ERANGE,
 * HB_ENONFINITE. */
HB_API int hb_images_stats(hb_context *ctx, const hb_tensor *images, double *mean, double *std);

#ifdef __cplusplus
}
#endif
#endif /* HESSBLOCK_DATA_H */
