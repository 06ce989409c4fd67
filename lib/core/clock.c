/* The library's one clock. Every duration the library reports (training step times, SLQ
 * statistics) and every time-derived value it uses (temporary-file name salt) comes from
 * here, so they agree and one place decides the source: CLOCK_MONOTONIC, which never
 * jumps when the system time is set (a wall-clock jump would give negative durations). */
#include <time.h>

#include "core/internal.h"

uint64_t hb__clock_ns(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double hb__seconds(void) { return 1e-9 * (double)hb__clock_ns(); }
