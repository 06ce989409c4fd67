/* Output directory helpers: create, open and close files with messages naming them. */
#include "cli.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <fcntl.h>
#include <unistd.h>

int outdir_writes = 1;

/* Where a silenced process writes: the bytes are produced (same code path, same errors
 * from the formatting) and dropped. */
static FILE *null_stream(void) { return fopen("/dev/null", "w"); }

FILE *outdir_fopen(const char *path) { return outdir_writes ? fopen(path, "w") : null_stream(); }

int outdir_make(const char *cmd, const char *dir) {
    if (!outdir_writes) return 0; /* a rank other than 0 must not even create the directory */
    char buf[4096];
    if (strlen(dir) >= sizeof buf) {
        runtime_error(cmd, "output directory name too long");
        return -1;
    }
    strcpy(buf, dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
            runtime_error(cmd, "cannot create directory '%s': %s", buf, strerror(errno));
            return -1;
        }
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
        runtime_error(cmd, "cannot create directory '%s': %s", buf, strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) {
        runtime_error(cmd, "'%s' is not a directory", buf);
        return -1;
    }
    return 0;
}

const char *outdir_path(char *buf, size_t n, const char *dir, const char *name) {
    snprintf(buf, n, "%s/%s", dir, name);
    return buf;
}

/* Every file is written atomically: to ".NAME.tmp" in the same directory, flushed to disk
 * (fsync) and renamed over NAME by outdir_close. A run killed at any moment leaves each
 * file either complete or absent (issue 15), never half-written: what an interrupted,
 * resumable run relies on. */
static const char *tmp_path(char *buf, size_t n, const char *dir, const char *name) {
    snprintf(buf, n, "%s/.%s.tmp", dir, name);
    return buf;
}

FILE *outdir_open(const char *cmd, const char *dir, const char *name) {
    char path[4096], tmp[4200];
    outdir_path(path, sizeof path, dir, name);
    if (!outdir_writes) return null_stream();
    FILE *f = fopen(tmp_path(tmp, sizeof tmp, dir, name), "w");
    if (!f) runtime_error(cmd, "cannot write '%s': %s", path, strerror(errno));
    return f;
}

int outdir_close(const char *cmd, FILE *f, const char *dir, const char *name) {
    char path[4096], tmp[4200];
    outdir_path(path, sizeof path, dir, name);
    tmp_path(tmp, sizeof tmp, dir, name);
    if (!outdir_writes) return fclose(f) == 0 ? 0 : -1;
    int bad = fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad) {
        unlink(tmp);
        runtime_error(cmd, "error writing '%s'", path);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        runtime_error(cmd, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    /* the rename itself reaches the disk with the directory's entry */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

void outdir_discard(FILE *f, const char *dir, const char *name) {
    char tmp[4200];
    if (f) fclose(f);
    if (!outdir_writes) return;
    unlink(tmp_path(tmp, sizeof tmp, dir, name));
}

void csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}
