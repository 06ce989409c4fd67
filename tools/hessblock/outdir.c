/* Output directory helpers: create, open and close files with messages naming them. */
#include "cli.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

int outdir_make(const char *cmd, const char *dir) {
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

FILE *outdir_open(const char *cmd, const char *dir, const char *name) {
    char path[4096];
    outdir_path(path, sizeof path, dir, name);
    FILE *f = fopen(path, "w");
    if (!f) runtime_error(cmd, "cannot write '%s': %s", path, strerror(errno));
    return f;
}

int outdir_close(const char *cmd, FILE *f, const char *dir, const char *name) {
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        char path[4096];
        runtime_error(cmd, "error writing '%s'", outdir_path(path, sizeof path, dir, name));
        return -1;
    }
    return 0;
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
