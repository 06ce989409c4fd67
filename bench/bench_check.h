/* CHECK(call) for the benchmark programs: a failed library call prints its status and the
 * context's message and exits (benchmarks stop on the first error; the library never does).
 * The including file provides `ctx`, the hb_context * the message is read from. */
#ifndef HB_BENCH_CHECK_H
#define HB_BENCH_CHECK_H
#include <stdio.h>
#include <stdlib.h>

#include "hessblock/hessblock.h"

#define CHECK(call)                                                                            \
    do {                                                                                       \
        int rc_ = (call);                                                                      \
        if (rc_ != HB_OK) {                                                                    \
            fprintf(stderr, "%s failed: %s (%s)\n", #call, hb_strerror(rc_),                 \
                    hb_context_last_error(ctx));                                               \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

#endif
