/* Temporary files for atomic checkpoint saves: see tempfile.h for the contract.
 *
 * Why not mkstemp: it always creates mode 0600, so a saved checkpoint lost the mode the
 * file had, and a new one ignored the umask (issue 12.9). Creating the name ourselves with
 * O_CREAT|O_EXCL and mode 0666 lets the kernel apply the umask (and any default ACL)
 * exactly as for any new file, without reading the process-global umask (umask(2) can
 * only be read by changing it, which races with other threads). An existing file's
 * permission bits are copied with fchmod before anything is written.
 *
 * Why flock: a temporary that exists may belong to a save running right now in another
 * process or thread (then it must stay) or to one that died (then it is garbage forever:
 * 40 kills once left 21 files, 554 MB). A save holds an exclusive flock on its temporary
 * until after the rename; the kernel releases it when the process dies. The cleaner
 * removes a candidate only while it holds that lock itself, and a new save checks after
 * locking that its file was not removed in between (st_nlink), so neither can remove
 * the other's live file. flock is BSD, present on Linux and the BSDs/macOS. */
#define _DEFAULT_SOURCE /* flock(2); the project defines _POSIX_C_SOURCE, which hides it */

#include "checkpoint/tempfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static const char ALNUM[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
enum { SUFFIX_RAND = 6, MAX_ATTEMPTS = 100 };
#define TMP_INFIX ".tmp."

/* Does name equal base + ".tmp." + 6 characters of ALNUM, and nothing else? */
static bool is_our_temp(const char *name, const char *base, size_t blen) {
    size_t ilen = sizeof TMP_INFIX - 1;
    if (strlen(name) != blen + ilen + SUFFIX_RAND) return false;
    if (memcmp(name, base, blen) != 0 || memcmp(name + blen, TMP_INFIX, ilen) != 0)
        return false;
    for (const char *c = name + blen + ilen; *c; c++)
        if (!strchr(ALNUM, *c)) return false;
    return true;
}

/* Remove one candidate if it is a regular file of ours that no live save holds. */
static bool remove_if_stale(int dfd, const char *name) {
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return false; /* a symlink (ELOOP), unreadable, or gone already */
    struct stat a, b;
    bool removed = false;
    if (fstat(fd, &a) == 0 && S_ISREG(a.st_mode) && a.st_uid == geteuid() &&
        flock(fd, LOCK_EX | LOCK_NB) == 0) {
        /* Locked: its writer is dead or done. Unlink only if the name still is this file
         * (a finished save renamed it away; the name could have been reused since). */
        if (fstatat(dfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 && b.st_dev == a.st_dev &&
            b.st_ino == a.st_ino)
            removed = unlinkat(dfd, name, 0) == 0;
    }
    close(fd); /* releases the lock */
    return removed;
}

/* Best effort: a directory we cannot read just keeps its files. */
static void clean_stale(hb_context *ctx, const char *dir, const char *base) {
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return;
    }
    size_t blen = strlen(base), n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (is_our_temp(e->d_name, base, blen) && remove_if_stale(dirfd(d), e->d_name)) n++;
    closedir(d);
    if (n) hb__log(ctx, HB_LOG_INFO, "removed %zu stale temporary file(s) of '%s/%s'", n, dir, base);
}

/* dir = everything before the last '/', "/" for "/x", "." without a slash. */
static char *dir_of(hb_context *ctx, const char *path) {
    const char *slash = strrchr(path, '/');
    size_t len = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    char *dir = hb__malloc(ctx, len + 1, "checkpoint directory name");
    if (!dir) return NULL;
    memcpy(dir, !slash ? "." : path, len);
    dir[len] = '\0';
    return dir;
}

/* Six characters that differ between processes, threads and attempts: Philox over the
 * clock, the pid and the address of the name buffer (not a secret, only unlikely to
 * collide; O_EXCL settles real collisions). */
static void fill_random(char *s, const void *salt, unsigned attempt) {
    uint64_t key = hb__clock_ns() * 1000000007u ^ (uint64_t)getpid() << 40 ^
                   (uint64_t)(uintptr_t)salt;
    hb__u32x4 r = hb__philox(key, attempt, 0);
    for (int i = 0; i < SUFFIX_RAND; i++) s[i] = ALNUM[(r.v[i % 4] >> (16 * (i / 4))) % 62];
}

int hb__temp_create(hb_context *ctx, const char *path, hb__temp *t) {
    memset(t, 0, sizeof *t);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t plen = strlen(path);
    t->dir = dir_of(ctx, path);
    t->name = hb__malloc(ctx, plen + sizeof TMP_INFIX + SUFFIX_RAND, "temporary file name");
    if (!t->dir || !t->name) {
        hb__free(ctx, t->dir);
        hb__free(ctx, t->name);
        return HB_ENOMEM;
    }
    if (*base) clean_stale(ctx, t->dir, base); /* "dir/" names no file: nothing is ours */
    /* The destination's permission bits, if it exists; otherwise the kernel's 0666 & ~umask. */
    struct stat st;
    bool keep = stat(path, &st) == 0 && S_ISREG(st.st_mode);
    memcpy(t->name, path, plen);
    memcpy(t->name + plen, TMP_INFIX, sizeof TMP_INFIX - 1);
    char *rnd = t->name + plen + sizeof TMP_INFIX - 1;
    rnd[SUFFIX_RAND] = '\0';
    int err = EEXIST;
    for (unsigned attempt = 0; attempt < MAX_ATTEMPTS && err == EEXIST; attempt++) {
        fill_random(rnd, t->name, attempt);
        /* 0600 while an existing file's mode is copied over (never more open than it). */
        int fd = open(t->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, keep ? 0600 : 0666);
        if (fd < 0) {
            err = errno; /* EEXIST: next name */
            continue;
        }
        /* A file system without flock (ENOLCK, EINVAL…) saves unlocked: cleaners cannot
         * lock there either, so they remove nothing. */
        struct stat me;
        bool taken = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
        if (taken || (fstat(fd, &me) == 0 && me.st_nlink == 0)) {
            /* A cleaner locked (and will remove) the file between our open and our lock,
             * as if it were stale: leave it to that cleaner and take another name. */
            close(fd);
            err = EEXIST;
            continue;
        }
        err = 0;
        if (keep && fchmod(fd, st.st_mode & 0777) != 0) err = errno;
        if (!err && !(t->f = fdopen(fd, "wb"))) err = errno;
        if (err) {
            unlink(t->name); /* still locked: ours to remove */
            close(fd);
        }
    }
    if (err) {
        int rc = hb__fail(ctx, HB_EIO, "cannot create a temporary file next to '%s': %s", path,
                          strerror(err));
        hb__free(ctx, t->dir);
        hb__free(ctx, t->name);
        memset(t, 0, sizeof *t);
        return rc;
    }
    return HB_OK;
}

static void release(hb_context *ctx, hb__temp *t) {
    hb__free(ctx, t->dir);
    hb__free(ctx, t->name);
    memset(t, 0, sizeof *t);
}

void hb__temp_discard(hb_context *ctx, hb__temp *t) {
    if (t->f) {
        unlink(t->name); /* while still locked, so no cleaner races us */
        fclose(t->f);
    }
    release(ctx, t);
}

int hb__temp_commit(hb_context *ctx, const char *path, hb__temp *t, int write_err) {
    int err = write_err;
    if (!err && fflush(t->f) != 0) err = errno;
    if (!err && fsync(fileno(t->f)) != 0) err = errno;
    if (!err && rename(t->name, path) != 0) err = errno;
    if (err) {
        hb__temp_discard(ctx, t);
        return hb__fail(ctx, HB_EIO, "cannot write checkpoint '%s': %s", path, strerror(err));
    }
    /* Renamed: the lock may go. fclose cannot lose data any more (flushed and synced). */
    fclose(t->f);
    t->f = NULL;
    /* Make the rename durable: fsync the directory (best effort). */
    int dfd = open(t->dir, O_RDONLY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    release(ctx, t);
    return HB_OK;
}
