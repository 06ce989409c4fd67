/* Progress bar with ETA on stderr (only when stderr is a terminal), hooked to the
 * library's progress callback; stage lines on stderr unless --quiet. */
#include "cli.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
    int tty, quiet, drawn;
    char task[48];
    double t0, last_draw;
    int64_t last_done;
    char stage[256];
} P;

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fmt_time(char *b, size_t n, double s) {
    if (!(s >= 0) || s > 360000) { snprintf(b, n, "--:--"); return; }
    int t = (int)(s + 0.5);
    if (t >= 3600) snprintf(b, n, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
    else snprintf(b, n, "%d:%02d", t / 60, t % 60);
}

static char label[96];

static int on_progress(void *user, const char *task, int64_t done, int64_t total) {
    (void)user;
    if (!P.tty || P.quiet || total <= 0) return 0;
    double t = now_seconds();
    if (strncmp(P.task, task, sizeof P.task - 1) != 0 || done < P.last_done) {
        snprintf(P.task, sizeof P.task, "%s", task);
        P.t0 = t;
        P.last_draw = 0;
    }
    P.last_done = done;
    if (done < total && t - P.last_draw < 0.1) return 0;
    P.last_draw = t;
    double frac = (double)done / (double)total;
    if (frac > 1) frac = 1;
    char bar[31];
    int filled = (int)(frac * 30);
    for (int i = 0; i < 30; i++) bar[i] = i < filled ? '#' : '.';
    bar[30] = 0;
    char el[16], eta[16];
    fmt_time(el, sizeof el, t - P.t0);
    fmt_time(eta, sizeof eta, done > 0 ? (t - P.t0) / (double)done * (double)(total - done) : -1);
    fprintf(stderr, "\r\033[K%.40s%s%.30s %s [%s] %3.0f%% %lld/%lld %s ETA %s", P.stage,
            label[0] ? " " : "", label, task, bar,
            100 * frac, (long long)done, (long long)total, el, eta);
    fflush(stderr);
    P.drawn = 1;
    return 0;
}

void progress_setup(hb_context *ctx, int quiet) {
    P.tty = isatty(fileno(stderr));
    P.quiet = quiet;
    if (ctx && P.tty && !quiet) hb_context_set_progress(ctx, on_progress, NULL);
}

void progress_clear(void) {
    if (P.drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        P.drawn = 0;
    }
    P.task[0] = 0;
}

void progress_stage(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(P.stage, sizeof P.stage, fmt, ap);
    va_end(ap);
    progress_clear();
    label[0] = 0;
    if (P.quiet) return;
    fprintf(stderr, "[hessblock] %s\n", P.stage);
    fflush(stderr);
}

void progress_label(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(label, sizeof label, fmt, ap);
    va_end(ap);
}

void progress_tick(const char *task, int64_t done, int64_t total) {
    on_progress(NULL, task, done, total);
}
