/* Atomic replacement of a file through a temporary next to it (internal to checkpoints).
 *
 * The temporary is `<path>.tmp.XXXXXX` (six characters of [A-Za-z0-9], as mkstemp makes),
 * created O_EXCL and held under an exclusive flock(2) until it has been renamed onto
 * <path>. The lock is what tells a temporary in use from one a crashed save left behind:
 * the kernel drops it when its process dies, so the next save of the same path removes
 * every such name it can lock (hb__temp_create). */
#ifndef HB_CHECKPOINT_TEMPFILE_H
#define HB_CHECKPOINT_TEMPFILE_H

#include <stdio.h>

#include "core/internal.h"

typedef struct hb__temp {
    char *name; /* "<path>.tmp.XXXXXX" (context allocation) */
    char *dir;  /* directory of path, for the directory fsync */
    FILE *f;    /* open for writing; its descriptor holds the lock */
} hb__temp;

/* hb__temp_create: remove stale temporaries of path (best effort: only regular files
 * of this user, matching the pattern exactly, not locked by a live save), then create a
 * fresh one whose mode is the existing path's permission bits, or 0666 minus the umask
 * (applied by the kernel) when path does not exist yet. Returns HB_OK, HB_EIO, HB_ENOMEM;
 * on failure nothing is left behind and t holds nothing to free. */
int hb__temp_create(hb_context *ctx, const char *path, hb__temp *t);

/* hb__temp_commit: flush, fsync, rename onto path (still locked, so no other save can
 * take it for stale), close, fsync the directory (best effort). write_err, if non-zero,
 * is an errno from writing t->f: the temporary is then removed and the message has it.
 * On failure the temporary is removed. Either way t is released. Returns HB_OK or HB_EIO. */
int hb__temp_commit(hb_context *ctx, const char *path, hb__temp *t, int write_err);

/* hb__temp_discard: close and remove the temporary, release t. */
void hb__temp_discard(hb_context *ctx, hb__temp *t);

#endif
