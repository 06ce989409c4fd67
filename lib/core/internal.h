/* Internal core: the context layout, error macros, allocation and RNG helpers.
 * Every lib/ file includes this; nothing here is exported. */
#ifndef HB_CORE_INTERNAL_H
#define HB_CORE_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hessblock/hessblock.h"

#define HB_ERRMSG_LEN 512

struct hb_context {
    hb_allocator alloc;
    int threads;
    int64_t seed;
    uint64_t next_stream;
    int last_status;
    char last_error[HB_ERRMSG_LEN];
    hb_log_fn log_fn;
    void *log_user;
    int log_max_level;
    hb_progress_fn progress_fn;
    void *progress_user;
    /* A worker context of a task run (lib/core/tasks.c): progress and cancellation go to
     * the run's shared state; NULL for every context a caller creates. */
    struct hb__task_share *share;
    /* The communicator hook (comm.h; lib/core/comm.c), valid when has_comm. Worker
     * contexts of a task run have none: only the caller's thread communicates. */
    hb_comm comm;
    bool has_comm;
};

/* hb__fail: record status + formatted message on ctx (if non-NULL), log it at ERROR,
 * and return status, so callers write `return hb__fail(ctx, HB_ESHAPE, "...")`. */
int hb__fail(hb_context *ctx, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void hb__log(hb_context *ctx, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* HB_CHECK(ctx, cond, status, fmt, ...): fail with status unless cond holds. */
#define HB_CHECK(ctx, cond, status, ...)                                           \
    do {                                                                           \
        if (!(cond)) return hb__fail((ctx), (status), __VA_ARGS__);                \
    } while (0)

/* HB_TRY(expr): forward a failing status unchanged (the message is already set). */
#define HB_TRY(expr)                                                               \
    do {                                                                           \
        int hb__rc = (expr);                                                       \
        if (hb__rc < 0) return hb__rc;                                             \
    } while (0)

/* Allocation through the context's allocator. hb__malloc records HB_ENOMEM on ctx
 * when it fails (with `what` in the message); hb__calloc zero-fills and checks
 * n*size for overflow. hb__free accepts NULL. */
void *hb__malloc(hb_context *ctx, size_t bytes, const char *what);
void *hb__calloc(hb_context *ctx, size_t n, size_t size, const char *what);
void hb__free(hb_context *ctx, void *ptr);

/* Overflow-checked size arithmetic: return false on overflow. */
static inline bool hb__mul_size(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool hb__add_size(size_t a, size_t b, size_t *out) {
    return !__builtin_add_overflow(a, b, out);
}

/* hb__progress: call the progress callback; returns HB_ECANCELED (with message) if it
 * asks to stop, HB_OK otherwise. */
int hb__progress(hb_context *ctx, const char *task, int64_t done, int64_t total);

/* ---- The one clock (lib/core/clock.c; monotonic) ----
 * hb__clock_ns: nanoseconds since an arbitrary fixed point (0 if the clock fails);
 * hb__seconds: the same in seconds. Only differences are meaningful. */
uint64_t hb__clock_ns(void);
double hb__seconds(void);

/* ---- Counter-based RNG (Philox4x32-10, Salmon et al. 2011) ----
 * key = the seed (64 bits), counter = (element index i, stream). Every function of
 * (seed, stream, i) is pure, hence thread-count independent. */
typedef struct { uint32_t v[4]; } hb__u32x4;
hb__u32x4 hb__philox(uint64_t seed, uint64_t stream, uint64_t i);
/* Uniform double in [0,1) with 53 random bits. */
double hb__uniform01(uint64_t seed, uint64_t stream, uint64_t i);
/* Standard normal (Box–Muller on the 4 words of counter i/2; i%2 picks cos or sin). */
double hb__normal(uint64_t seed, uint64_t stream, uint64_t i);
/* ±1. */
double hb__rademacher(uint64_t seed, uint64_t stream, uint64_t i);

/* ---- The communicator (lib/core/comm.c) ----
 * hb__comm_size / hb__comm_rank: the group of ctx's communicator (1 / 0 without one).
 * hb__comm_allgather: the hook's allgather; a nonzero return is HB_ECALLBACK with a
 * message on ctx. */
int hb__comm_size(const hb_context *ctx);
int hb__comm_rank(const hb_context *ctx);
int hb__comm_allgather(hb_context *ctx, const void *send, size_t bytes, void *recv);
/* hb__comm_allreduce_sum: the hook's allreduce_sum of buf[0..count) (HB_F32 or HB_F64), in
 * place; a nonzero return is HB_ECALLBACK with the message on ctx. */
int hb__comm_allreduce_sum(hb_context *ctx, hb_dtype dtype, void *buf, size_t count);

/* Threads for OpenMP loops of this context (>= 1). */
static inline int hb__threads(const hb_context *ctx) { return ctx ? ctx->threads : 1; }

#endif /* HB_CORE_INTERNAL_H */
