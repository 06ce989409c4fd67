/* libhessblock — core: status codes, versions, the context.
 *
 * Every fallible function returns an int status: HB_OK (0) or a negative HB_E* code.
 * Codes are never renumbered. The library never prints and never aborts; the
 * detailed reason for the last failure on a context is hb_context_last_error(). */
#ifndef HESSBLOCK_CORE_H
#define HESSBLOCK_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "hessblock/version.h"

#if defined(_WIN32) && defined(HB_BUILDING_LIBRARY)
#  define HB_API __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#  define HB_API __attribute__((visibility("default")))
#else
#  define HB_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Status codes --------------------------------------------------------------
 * Negative values are errors. Values are part of the ABI and never reused; they are
 * contiguous, from HB_OK (0) down to the last code.
 *
 * HB_STATUS_MAP is THE list of codes (libuv's UV_ERRNO_MAP): X(name, value, message).
 * The enum below, hb_strerror, hb_status_name and the Python exception table are all
 * made from it, so a new code is one line here (at the end, with the next value). */
#define HB_STATUS_MAP(X)                                                                \
    X(HB_OK,            0, "success")                                                   \
    /* invalid argument: NULL handle, bad enum, out-of-range value */                   \
    X(HB_EINVAL,       -1, "invalid argument")                                          \
    /* an allocation failed; nothing was changed */                                     \
    X(HB_ENOMEM,       -2, "out of memory")                                             \
    /* shapes or lengths do not match */                                                \
    X(HB_ESHAPE,       -3, "shape or length mismatch")                                  \
    /* unsupported or mismatched element type */                                        \
    X(HB_EDTYPE,       -4, "unsupported or mismatched dtype")                           \
    /* a named thing (block, option) does not exist */                                  \
    X(HB_ENOTFOUND,    -5, "not found")                                                 \
    /* NaN or Inf where finite numbers are required */                                  \
    X(HB_ENONFINITE,   -6, "non-finite value (NaN or Inf)")                             \
    /* a file could not be read or written */                                           \
    X(HB_EIO,          -7, "input/output error")                                        \
    /* a file or buffer is corrupt or of the wrong format */                            \
    X(HB_EFORMAT,      -8, "corrupt or unrecognised format")                            \
    /* call not valid in the object's current state */                                  \
    X(HB_ESTATE,       -9, "invalid in the current state")                              \
    /* valid request that this build or object does not support */                      \
    X(HB_EUNSUPPORTED, -10, "unsupported")                                              \
    /* an index is out of range */                                                      \
    X(HB_ERANGE,       -11, "index out of range")                                       \
    /* a size computation would overflow */                                             \
    X(HB_EOVERFLOW,    -12, "size overflow")                                            \
    /* a user callback reported failure */                                              \
    X(HB_ECALLBACK,    -13, "a user callback failed")                                   \
    /* a progress callback asked to stop */                                             \
    X(HB_ECANCELED,    -14, "canceled")

/* The codes as constants: HB_OK = 0, HB_EINVAL = -1, ... (see the list above). */
#define HB_STATUS_ENUMERATOR_(name, value, message) name = (value),
enum { HB_STATUS_MAP(HB_STATUS_ENUMERATOR_) };
#undef HB_STATUS_ENUMERATOR_

/* hb_strerror: a static, never-NULL, one-line description of a status code (the
 * message of HB_STATUS_MAP; "unknown status" for values that are not codes). */
HB_API const char *hb_strerror(int status);

/* hb_status_name: the static name of a status code as spelled in C ("HB_EINVAL"), or
 * NULL for values that are not codes (so a caller can enumerate the codes: 0, -1, ...
 * until NULL). */
HB_API const char *hb_status_name(int status);

/* ---- Versions ---------------------------------------------------------------------
 * The run-time version of the library, to compare with the HB_VERSION_* macros the
 * caller was compiled against (the major must match; minor may be newer). */
HB_API unsigned hb_version_number(void);      /* MAJOR*10000 + MINOR*100 + PATCH */
HB_API const char *hb_version_string(void);   /* "MAJOR.MINOR.PATCH", static */

/* ---- Context ---------------------------------------------------------------------
 * A context owns the allocator, the thread count, the seed of the random streams,
 * the last error message and the log/progress callbacks. Every other handle is
 * created from a context and must be freed before it.
 *
 * Threads: a context and everything created from it are used by one thread at a time;
 * distinct contexts may be used concurrently. Every handle of a context writes the
 * context's last error and draws from its random-stream counter, unguarded, so two
 * DIFFERENT handles of one context used from two threads race as well. Distinct
 * contexts share nothing: the library has no global mutable state and sets no
 * process-wide thread count. A call given handles of several contexts uses all of
 * them. Inside a call the library runs up to HB_CTX_THREADS threads of its own. */
typedef struct hb_context hb_context;

/* Allocator hooks (zstd customMem style). alloc must return memory aligned for any
 * type (as malloc) or NULL; free accepts NULL. struct_size must be
 * sizeof(hb_allocator) as the caller knows it (ABI growth guard). */
typedef struct hb_allocator {
    size_t struct_size;
    void *(*alloc)(void *opaque, size_t bytes);
    void (*free)(void *opaque, void *ptr);
    void *opaque;
} hb_allocator;
#define HB_ALLOCATOR_INIT { sizeof(hb_allocator), NULL, NULL, NULL }

/* hb_context_create: a context with malloc/free, 1 thread, seed 0.
 * Returns HB_OK, HB_EINVAL (out is NULL), HB_ENOMEM. *out is NULL on failure. */
HB_API int hb_context_create(hb_context **out);

/* hb_context_create_with_allocator: as hb_context_create, allocating everything
 * (the context itself included) through *a, which is copied.
 * Returns HB_EINVAL if a or out is NULL, a->struct_size is wrong or a hook is NULL. */
HB_API int hb_context_create_with_allocator(const hb_allocator *a, hb_context **out);

/* hb_context_free: frees the context; NULL is a no-op. Handles created from it must
 * have been freed first. */
HB_API void hb_context_free(hb_context *ctx);

/* Integer options of a context. Values are ABI and never reused. */
typedef enum hb_context_opt {
    HB_CTX_THREADS = 1, /* threads for BLIS and the library's OpenMP loops, 1..1024; default 1 */
    HB_CTX_SEED = 2     /* seed of the random streams, any int64; default 0. Setting it also
                           restarts the stream counter, so a run is reproducible from here */
} hb_context_opt;

/* hb_context_set_i64 / hb_context_get_i64.
 * Returns HB_OK, HB_EINVAL (NULL, unknown key, out-of-range value). Every failure with a
 * non-NULL ctx records its message there, the getter's too (it writes only the
 * last-error fields of its const context). */
HB_API int hb_context_set_i64(hb_context *ctx, hb_context_opt key, int64_t value);
HB_API int hb_context_get_i64(const hb_context *ctx, hb_context_opt key, int64_t *value);

/* hb_context_last_error: the detailed message of the last failure on this context
 * ("" if none). The pointer stays valid until the next call on the context.
 * NULL ctx gives a static message. */
HB_API const char *hb_context_last_error(const hb_context *ctx);

/* hb_context_last_status: the status code of the last failure on this context (HB_OK if
 * none); a successful call does not reset it. NULL ctx returns HB_EINVAL (and
 * hb_context_last_error(NULL) a static message), so the pair can always be called. */
HB_API int hb_context_last_status(const hb_context *ctx);

/* Log levels and callback. The library never prints: messages go to this callback
 * (default: none). message is valid only during the call. */
typedef enum hb_log_level {
    HB_LOG_ERROR = 1,
    HB_LOG_WARN = 2,
    HB_LOG_INFO = 3,
    HB_LOG_DEBUG = 4
} hb_log_level;
typedef void (*hb_log_fn)(void *user, int level, const char *message);

/* hb_context_set_log: install (or with fn NULL, remove) the log callback; messages
 * above max_level are not formatted at all. Returns HB_OK, HB_EINVAL. */
HB_API int hb_context_set_log(hb_context *ctx, hb_log_fn fn, void *user, int max_level);

/* Progress callback for long work (SLQ probes, training steps). task is a short
 * static name ("slq", "train"); done <= total. Return 0 to continue, nonzero to
 * cancel: the running call then returns HB_ECANCELED. */
typedef int (*hb_progress_fn)(void *user, const char *task, int64_t done, int64_t total);

/* hb_context_set_progress: install (or with fn NULL, remove) the progress callback.
 * Returns HB_OK, HB_EINVAL. */
HB_API int hb_context_set_progress(hb_context *ctx, hb_progress_fn fn, void *user);

/* ---- Random numbers -----------------------------------------------------------------
 * Counter-based (Philox4x32-10): number i of stream s is a pure function of
 * (seed, s, i), so results do not depend on the thread count or the order in which
 * threads run. Each consumer (an initialiser, a probe set, a data generator) takes
 * a fresh stream from the context with hb_context_next_stream; streams are
 * numbered 0, 1, 2, … from the last seed setting. */

/* hb_context_next_stream: returns a fresh stream id in *stream. Returns HB_OK, HB_EINVAL. */
HB_API int hb_context_next_stream(hb_context *ctx, uint64_t *stream);

/* Distributions for hb_random_fill_f64. */
typedef enum hb_distribution {
    HB_DIST_UNIFORM = 1,    /* uniform on [a, b)  (a < b) */
    HB_DIST_NORMAL = 2,     /* normal, mean a, standard deviation b (b >= 0) */
    HB_DIST_RADEMACHER = 3  /* ±1 with equal probability (a, b ignored) */
} hb_distribution;

/* hb_random_fill_f64: out[j] = number (first + j) of stream `stream` drawn from dist,
 * for j < n. Deterministic and thread-count independent.
 * Returns HB_OK, HB_EINVAL (NULL out with n > 0, bad dist or parameters). */
HB_API int hb_random_fill_f64(hb_context *ctx, uint64_t stream, uint64_t first,
                              hb_distribution dist, double a, double b,
                              double *out, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* HESSBLOCK_CORE_H */
