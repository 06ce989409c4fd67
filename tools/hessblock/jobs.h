/* Independent jobs of the tool on several threads (issue 19): the analyze learning-rate
 * grids, whose runs share nothing. Results must not depend on which thread ran a job or
 * when: every job writes only its own slot, and the caller combines the slots in index
 * order afterwards. */
#ifndef HB_TOOL_JOBS_H
#define HB_TOOL_JOBS_H

#include <stddef.h>

/* jobs_run: fn(arg, i) for i = 0 … n−1, on min(threads, n) threads (the caller's among
 * them), each taking the next unstarted index. threads ≤ 1 or n ≤ 1: in order on the
 * calling thread. A thread that cannot be started leaves its share to the others. */
void jobs_run(size_t n, int threads, void (*fn)(void *arg, size_t i), void *arg);

#endif
