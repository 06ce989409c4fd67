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

#ifdef __cplusplus
extern "C" {
#endif

/* Current format version written by this library (always). Loading accepts version 1
 * (no block flags: every block trainable) and version 2. */
#define HB_CHECKPOINT_VERSION 2

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

#ifdef __cplusplus
}
#endif
#endif /* HESSBLOCK_CHECKPOINT_H */
