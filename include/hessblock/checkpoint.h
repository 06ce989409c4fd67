/* libhessblock — checkpoints: parameters + optimizer state + step count in one file.
 *
 * Little-endian binary, magic "HBCKPT\r\n" + format version, then CRC32-protected
 * sections: block table (names, kinds, shapes, dtype), parameter payload, optional
 * optimizer state. docs/checkpoint-format.md describes every byte. Saving writes a
 * temporary file in the same directory, flushes and fsyncs it and renames it over the
 * target, so a crash never leaves a half-written checkpoint under the final name.
 *
 * Loading validates everything before changing anything: a wrong magic or version, a
 * truncated or over-long file, a bad CRC or an absurd size is HB_EFORMAT; a valid file
 * whose block table, dtype, optimizer kind or state layout does not match the objects
 * it is loaded into is HB_ESHAPE. On any failure the params and optimizer are unchanged.
 * The gradient buffer, hyperparameters, overrides and schedules are not saved: set
 * them again after creating the objects (the step count, hence the schedule position,
 * is restored). */
#ifndef HESSBLOCK_CHECKPOINT_H
#define HESSBLOCK_CHECKPOINT_H

#include "hessblock/core.h"
#include "hessblock/params.h"
#include "hessblock/optim.h"
#include "hessblock/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Format version: major HB_CHECKPOINT_VERSION, minor HB_CHECKPOINT_VERSION_MINOR. A file
 * is written as version 2.0 (header field 2, the same bytes as before 2.1 existed) unless
 * it carries an optional section (the model section below), then as 2.1. Loading accepts
 * version 1 (no block flags: every block trainable) and 2.x for any minor x: a minor
 * version only adds optional sections, which readers that do not know them skip. */
#define HB_CHECKPOINT_VERSION 2
#define HB_CHECKPOINT_VERSION_MINOR 1

/* hb_checkpoint_save: write p (finalised) and, if opt is non-NULL, its state and step
 * count (opt must be over p) to `path` atomically (temporary file `<path>.tmp.XXXXXX` +
 * fsync + rename). An existing `path` keeps its permission bits; a new one gets 0666
 * minus the umask. Temporaries that killed saves of the same path left behind (regular
 * files of this user named exactly `<path>.tmp.` + 6 × [A-Za-z0-9], not locked by a save
 * in progress) are removed first.
 * The block table records which blocks are frozen; optimizer state covers the trainable
 * blocks only. Returns HB_OK, HB_EINVAL (NULL p or path, opt over other params),
 * HB_ESTATE (p not finalised; p's trainable flags changed since opt was created), HB_EIO (the message has the OS reason; no file is left behind),
 * HB_ENOMEM. */
HB_API int hb_checkpoint_save(const char *path, hb_params *p, const hb_optimizer *opt);

/* hb_checkpoint_load: read `path` into p and, if opt is non-NULL, into opt (a file with
 * optimizer state may be loaded into params alone; a file without it into an optimizer
 * is HB_ESHAPE). Loading params alone ignores the file's frozen flags (they are not
 * values); loading with an optimizer requires them to equal p's (else HB_ESHAPE) and p's
 * flags unchanged since opt was created (else HB_ESTATE).
 * Returns HB_OK, HB_EINVAL, HB_ESTATE, HB_EIO (cannot open/read),
 * HB_EFORMAT, HB_ESHAPE, HB_ENOMEM; nothing changes on failure. */
HB_API int hb_checkpoint_load(const char *path, hb_params *p, hb_optimizer *opt);

/* In-memory forms of the same format (for embedding and fuzzing), with the same status
 * codes as the file forms (HB_ESTATE also when opt's params changed their flags since opt
 * was created).
 * hb_checkpoint_size: exact byte size hb_checkpoint_save_buffer will write.
 * hb_checkpoint_save_buffer: write into buf (capacity cap >= that size, else HB_ERANGE);
 *   *written (may be NULL) receives the size.
 * hb_checkpoint_load_buffer: as hb_checkpoint_load from len bytes at buf. */
HB_API int hb_checkpoint_size(hb_params *p, const hb_optimizer *opt, size_t *bytes);
HB_API int hb_checkpoint_save_buffer(hb_params *p, const hb_optimizer *opt, void *buf,
                                     size_t cap, size_t *written);
HB_API int hb_checkpoint_load_buffer(const void *buf, size_t len, hb_params *p,
                                     hb_optimizer *opt);

/* ---- What a checkpoint holds, without the objects (format 2.1) -----------------------
 * A checkpoint of the params of a model made by hb_model_create records how to rebuild
 * that model (the library knows it; nothing to do for the caller): its kind, every key of
 * its hb_model_config, the context seed and stream counter its constructor drew from,
 * and what its data was (synthetic: the seed, stream, micro-batch count and first sample
 * of the last hb_model_set_synthetic). Params of anything else (hb_params made by the
 * caller, callback models, SST/LoRA wrappers) have no such record and their checkpoints
 * no model section; neither do files written before format 2.1.
 *
 * hb_checkpoint_info_read / _read_buffer: read and validate a whole checkpoint image (its
 * structure and every CRC, as hb_checkpoint_load) and keep what it says about itself.
 * Returns HB_OK, HB_EINVAL, HB_EIO (cannot open or read), HB_EFORMAT, HB_ENOMEM.
 * hb_checkpoint_info_free: NULL is a no-op. */
typedef struct hb_checkpoint_info hb_checkpoint_info;

/* Keys of hb_checkpoint_info_get_i64. Values are ABI and never reused. */
typedef enum hb_checkpoint_key {
    HB_CK_VERSION_MAJOR = 1,  /* 1 or 2 */
    HB_CK_VERSION_MINOR = 2,  /* 0 or 1 (2.1: optional sections may follow) */
    HB_CK_DTYPE = 3,          /* hb_dtype of the parameters */
    HB_CK_NUM_PARAMS = 4,     /* flat length n */
    HB_CK_NUM_BLOCKS = 5,
    HB_CK_HAS_OPTIMIZER = 6,  /* 1 if optimizer state is stored, else 0 */
    HB_CK_OPTIMIZER_KIND = 7, /* hb_optimizer_kind          (HB_ENOTFOUND without state) */
    HB_CK_STEP = 8,           /* optimizer step count       (HB_ENOTFOUND without state) */
    HB_CK_HAS_MODEL = 10,     /* 1 if the model section is present, else 0 */
    HB_CK_MODEL_KIND = 11,    /* hb_model_kind              (HB_ENOTFOUND without model section, */
    HB_CK_MODEL_SEED = 12,    /* HB_CTX_SEED at hb_model_create      and so for the keys below) */
    HB_CK_MODEL_STREAM = 13,  /* the context's stream counter at hb_model_create (the next
                                 hb_context_next_stream value then) */
    HB_CK_DATA = 20,          /* hb_checkpoint_data: what the model's data was */
    HB_CK_DATA_SEED = 21,     /* synthetic data: HB_CTX_SEED at hb_model_set_synthetic,  */
    HB_CK_DATA_STREAM = 22,   /* its stream,                  (HB_ENOTFOUND unless HB_CK_DATA */
    HB_CK_DATA_BATCHES = 23,  /* micro-batch count                  is HB_CKDATA_SYNTHETIC) */
    HB_CK_DATA_FIRST = 24     /* and first sample index.
                                 HB_CK_DATA_BATCHES also for HB_CKDATA_EXTERNAL data set from a
                                 text file, corpus or images (hb_model_set_text/_corpus/
                                 _images*): their micro-batch count (HB_ENOTFOUND for the
                                 caller's own batches, and in older files) */
} hb_checkpoint_key;

typedef enum hb_checkpoint_data {
    HB_CKDATA_NONE = 0,      /* the model takes no data (quadratic) */
    HB_CKDATA_SYNTHETIC = 1, /* hb_model_set_synthetic (hb_model_create sets (1, 0, 0)) */
    HB_CKDATA_EXTERNAL = 2   /* the caller's batches or a text file: not recorded (only
                                the micro-batch count of a file, corpus or images) */
} hb_checkpoint_data;

HB_API int hb_checkpoint_info_read(hb_context *ctx, const char *path, hb_checkpoint_info **out);
HB_API int hb_checkpoint_info_read_buffer(hb_context *ctx, const void *buf, size_t len,
                                          hb_checkpoint_info **out);
HB_API void hb_checkpoint_info_free(hb_checkpoint_info *info);

/* hb_checkpoint_info_get_i64: one fact about the checkpoint (hb_checkpoint_key). Streams
 * and counts (u64 in the file) are reported as int64 (two's complement beyond 2^63 − 1).
 * Returns HB_OK, HB_EINVAL (NULL, unknown key), HB_ENOTFOUND (the file has no such value:
 * no optimizer state, no model section, data not synthetic — HB_CK_DATA_BATCHES: nor
 * external data of known count; the message says which). */
HB_API int hb_checkpoint_info_get_i64(const hb_checkpoint_info *info, hb_checkpoint_key key,
                                      int64_t *value);

/* hb_checkpoint_info_model_config: a new configuration (free with hb_model_config_free)
 * equal to the recorded one: hb_model_create with it, from a context whose seed is
 * HB_CK_MODEL_SEED and whose stream counter is at HB_CK_MODEL_STREAM, rebuilds the model
 * the checkpoint was saved from (same block table; with synthetic data, then
 * hb_model_set_synthetic with the HB_CK_DATA_* values under seed HB_CK_DATA_SEED gives the
 * same data), into which hb_checkpoint_load then loads the values.
 * Returns HB_OK, HB_EINVAL, HB_ENOTFOUND (no model section), HB_EUNSUPPORTED (a kind or
 * key this library does not know, or a value outside its range: the message names it),
 * HB_ENOMEM. */
HB_API int hb_checkpoint_info_model_config(const hb_checkpoint_info *info,
                                           hb_model_config **out);

#ifdef __cplusplus
}
#endif
#endif /* HESSBLOCK_CHECKPOINT_H */
