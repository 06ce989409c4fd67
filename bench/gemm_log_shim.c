/* LD_PRELOAD shim: logs every BLIS gemm the library calls (dtype, trans, m, n, k, β,
 * strides), one line each, to the file $GEMM_LOG, then calls the real BLIS. Used to check
 * that two builds issue the same gemm shapes (docs/performance.md "Built-ins as nets"):
 *
 *   gcc -O2 -shared -fPIC bench/gemm_log_shim.c -o /tmp/gemm_log_shim.so -ldl
 *   GEMM_LOG=/tmp/new.log LD_PRELOAD=/tmp/gemm_log_shim.so build/bench/bench_call gpt f64 block:lm_head 1
 *
 * The log covers the warm-up call too; bench_call runs it with REPS = 1, so the log holds
 * two identical calls. Not part of the build. */
#define _GNU_SOURCE
#include <blis.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

static FILE *out(void) {
    static FILE *f;
    if (!f) {
        const char *p = getenv("GEMM_LOG");
        f = fopen(p ? p : "/dev/stderr", "w");
    }
    return f;
}

#define SHIM(ch, T, name)                                                                     \
    void name(trans_t ta, trans_t tb, dim_t m, dim_t n, dim_t k, T *al, T *a, inc_t rsa,     \
              inc_t csa, T *b, inc_t rsb, inc_t csb, T *be, T *c, inc_t rsc, inc_t csc,        \
              cntx_t *cx, rntm_t *rn) {                                                       \
        static void (*real)(trans_t, trans_t, dim_t, dim_t, dim_t, T *, T *, inc_t, inc_t,    \
                            T *, inc_t, inc_t, T *, T *, inc_t, inc_t, cntx_t *, rntm_t *);   \
        if (!real) *(void **)&real = dlsym(RTLD_NEXT, #name);                                 \
        fprintf(out(), "%c ta=%d tb=%d m=%ld n=%ld k=%ld beta=%g a=%ld,%ld b=%ld,%ld c=%ld,%ld\n", \
                ch, (int)ta, (int)tb, (long)m, (long)n, (long)k, (double)*be, (long)rsa,       \
                (long)csa, (long)rsb, (long)csb, (long)rsc, (long)csc);                        \
        real(ta, tb, m, n, k, al, a, rsa, csa, b, rsb, csb, be, c, rsc, csc, cx, rn);         \
    }
SHIM('d', double, bli_dgemm_ex)
SHIM('s', float, bli_sgemm_ex)
