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
    int64_t outer_i, outer_n;   /* progress of the current task inside an outer loop */
    double outer_t0;
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
    double t0 = P.t0;
    if (P.outer_n > 0) { /* whole outer loop: item i of n, the inner task a fraction of it */
        frac = ((double)P.outer_i + frac) / (double)P.outer_n;
        t0 = P.outer_t0;
    }
    char bar[31];
    int filled = (int)(frac * 30);
    for (int i = 0; i < 30; i++) bar[i] = i < filled ? '#' : '.';
    bar[30] = 0;
    char el[16], eta[16];
    fmt_time(el, sizeof el, t - t0);
    fmt_time(eta, sizeof eta, frac > 0 ? (t - t0) / frac * (1 - frac) : -1);
    size_t head = strcspn(P.stage, ":");
    if (head > 24) head = 24;
    fprintf(stderr, "\r\033[K%.*s%s%.32s [%s] %3.0f%% %s ETA %s", (int)head, P.stage,
            label[0] ? " " : "", label, bar, 100 * frac, el, eta);
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
    P.outer_n = 0;
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

void progress_outer(int64_t i, int64_t n) {
    if (i == 0 || P.outer_n == 0) P.outer_t0 = now_seconds();
    P.outer_i = i;
    P.outer_n = n;
}
