/* Progress on stderr, hooked to the library's progress callback: a bar with ETA when
 * stderr is a terminal, otherwise (a cluster log, a pipe) one timestamped line at most
 * every --progress-every seconds; stage lines unless --quiet. The same callback is the
 * cancel path: after SIGINT/SIGTERM it returns nonzero, so the running library call stops
 * with HB_ECANCELED (issue 15). */
#include "cli.h"

#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Set by the signal handler (and nothing else happens there): the signal number. An atomic
 * rather than volatile sig_atomic_t: other threads (analyze's side stages, jobs) read it
 * too; a lock-free atomic is safe in a handler (C11 7.14.1.1). */
static atomic_int interrupted_by;
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "an atomic_int the signal handler may store");

static void on_signal(int sig) { atomic_store(&interrupted_by, sig); }

void progress_catch_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int progress_interrupted(void) { return atomic_load(&interrupted_by); }

/* A side thread of analyze (progress_side_thread): the bar and its state P belong to the
 * main thread, so there the calls below only print stage lines and check for a stop. */
static _Thread_local int side_thread;
/* Set by the main thread when its own stage failed: the side stages stop (HB_ECANCELED). */
static atomic_int side_stop;

void progress_side_thread(void) { side_thread = 1; }
void progress_stop_side(void) { atomic_store(&side_stop, 1); }

static int side_cancel(void) { return interrupted_by != 0 || atomic_load(&side_stop) != 0; }

static struct {
    int tty, quiet, drawn;
    double every, last_line;   /* not a terminal: a line at most every `every` seconds */
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

/* Fraction done of the current task (of the whole outer loop when one is set) and the
 * time it started. */
static double fraction(int64_t done, int64_t total, double *t0) {
    double frac = (double)done / (double)total;
    if (frac > 1) frac = 1;
    *t0 = P.t0;
    if (P.outer_n > 0) { /* whole outer loop: item i of n, the inner task a fraction of it */
        frac = ((double)P.outer_i + frac) / (double)P.outer_n;
        *t0 = P.outer_t0;
    }
    return frac;
}

static void draw_bar(double t, double frac, double t0) {
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
}

/* Not a terminal: "[hessblock] 2024-05-01 12:00:00 gpt: ... block 3/16 wq 42% 0:12 ETA 0:17" */
static void log_line(double t, double frac, double t0) {
    char el[16], eta[16], stamp[32];
    fmt_time(el, sizeof el, t - t0);
    fmt_time(eta, sizeof eta, frac > 0 ? (t - t0) / frac * (1 - frac) : -1);
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(stderr, "[hessblock] %s %s%s%s %.0f%% elapsed %s ETA %s\n", stamp, P.stage,
            label[0] ? " " : "", label, 100 * frac, el, eta);
    fflush(stderr);
}

static int on_progress(void *user, const char *task, int64_t done, int64_t total) {
    (void)user;
    if (side_thread) return side_cancel();
    if (interrupted_by) return 1; /* the library call stops with HB_ECANCELED */
    if (P.quiet || total <= 0) return 0;
    double t = now_seconds();
    if (strncmp(P.task, task, sizeof P.task - 1) != 0 || done < P.last_done) {
        snprintf(P.task, sizeof P.task, "%s", task);
        P.t0 = t;
        P.last_draw = 0;
    }
    P.last_done = done;
    double t0, frac = fraction(done, total, &t0);
    if (!P.tty) {
        if (t - P.last_line >= P.every) {
            P.last_line = t;
            log_line(t, frac, t0);
        }
        return 0;
    }
    if (done < total && t - P.last_draw < 0.1) return 0;
    P.last_draw = t;
    draw_bar(t, frac, t0);
    return 0;
}

/* Reads only the signal and stop flags: safe from any thread. */
static int cancel_only(void *user, const char *task, int64_t done, int64_t total) {
    (void)user, (void)task, (void)done, (void)total;
    return side_cancel();
}

void progress_cancel_only(hb_context *ctx) {
    if (ctx) hb_context_set_progress(ctx, cancel_only, NULL);
}

void progress_setup(hb_context *ctx, int quiet, double every) {
    P.tty = isatty(fileno(stderr));
    P.quiet = quiet;
    P.every = every;
    /* installed even with --quiet or without a terminal: it is also the cancel path */
    if (ctx) hb_context_set_progress(ctx, on_progress, NULL);
}

void progress_clear(void) {
    if (side_thread) return;
    if (P.drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        P.drawn = 0;
    }
    P.task[0] = 0;
}

void progress_stage(const char *fmt, ...) {
    va_list ap;
    if (side_thread) { /* the line only; it may land between two of the main thread's */
        char b[256];
        va_start(ap, fmt);
        vsnprintf(b, sizeof b, fmt, ap);
        va_end(ap);
        if (!P.quiet) fprintf(stderr, "[hessblock] %s\n", b);
        return;
    }
    va_start(ap, fmt);
    vsnprintf(P.stage, sizeof P.stage, fmt, ap);
    va_end(ap);
    progress_clear();
    label[0] = 0;
    P.outer_n = 0;
    if (P.quiet) return;
    P.last_line = now_seconds(); /* the stage line counts as the latest line */
    fprintf(stderr, "[hessblock] %s\n", P.stage);
    fflush(stderr);
}

void progress_label(const char *fmt, ...) {
    if (side_thread) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(label, sizeof label, fmt, ap);
    va_end(ap);
}

int progress_tick(const char *task, int64_t done, int64_t total) {
    return on_progress(NULL, task, done, total);
}

void progress_outer(int64_t i, int64_t n) {
    if (side_thread) return;
    if (i == 0 || P.outer_n == 0) P.outer_t0 = now_seconds();
    P.outer_i = i;
    P.outer_n = n;
}
