/* The context: allocator, threads, seed, last error, log and progress callbacks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/tasks.h"

static void *default_alloc(void *opaque, size_t bytes) {
    (void)opaque;
    return malloc(bytes ? bytes : 1);
}
static void default_free(void *opaque, void *ptr) {
    (void)opaque;
    free(ptr);
}

int hb_context_create(hb_context **out) {
    hb_allocator a = {sizeof(hb_allocator), default_alloc, default_free, NULL};
    return hb_context_create_with_allocator(&a, out);
}

int hb_context_create_with_allocator(const hb_allocator *a, hb_context **out) {
    if (out) *out = NULL;
    if (!out || !a || a->struct_size != sizeof(hb_allocator) || !a->alloc || !a->free)
        return HB_EINVAL;
    hb_context *ctx = a->alloc(a->opaque, sizeof *ctx);
    if (!ctx) return HB_ENOMEM;
    memset(ctx, 0, sizeof *ctx);
    ctx->alloc = *a;
    ctx->threads = 1;
    ctx->log_max_level = HB_LOG_WARN;
    *out = ctx;
    return HB_OK;
}

void hb_context_free(hb_context *ctx) {
    if (!ctx) return;
    if (ctx->has_comm && ctx->comm.release) ctx->comm.release(ctx->comm.user);
    hb_allocator a = ctx->alloc;
    a.free(a.opaque, ctx);
}

int hb_context_set_i64(hb_context *ctx, hb_context_opt key, int64_t value) {
    if (!ctx) return HB_EINVAL;
    switch (key) {
    case HB_CTX_THREADS:
        HB_CHECK(ctx, value >= 1 && value <= 1024, HB_EINVAL,
                 "threads must be in 1..1024, got %lld", (long long)value);
        ctx->threads = (int)value;
        return HB_OK;
    case HB_CTX_SEED:
        ctx->seed = value;
        ctx->next_stream = 0;
        return HB_OK;
    }
    return hb__fail(ctx, HB_EINVAL, "unknown context option %d", (int)key);
}

int hb_context_get_i64(const hb_context *ctx, hb_context_opt key, int64_t *value) {
    if (!ctx) return HB_EINVAL;
    /* The getter takes a const context, yet a failure must leave its message there like
     * every other call's (issue 12.10). Every context is allocated writable by
     * hb_context_create*, so casting the const away writes no read-only object. */
    hb_context *w = (hb_context *)(uintptr_t)ctx;
    HB_CHECK(w, value != NULL, HB_EINVAL, "value output pointer is NULL");
    switch (key) {
    case HB_CTX_THREADS: *value = ctx->threads; return HB_OK;
    case HB_CTX_SEED: *value = ctx->seed; return HB_OK;
    }
    return hb__fail(w, HB_EINVAL, "unknown context option %d", (int)key);
}

const char *hb_context_last_error(const hb_context *ctx) {
    if (!ctx) return "no context (NULL handle)";
    return ctx->last_error;
}

int hb_context_last_status(const hb_context *ctx) { return ctx ? ctx->last_status : HB_EINVAL; }

int hb_context_set_log(hb_context *ctx, hb_log_fn fn, void *user, int max_level) {
    if (!ctx) return HB_EINVAL;
    HB_CHECK(ctx, max_level >= 0 && max_level <= HB_LOG_DEBUG, HB_EINVAL,
             "log level must be in 0..%d, got %d", HB_LOG_DEBUG, max_level);
    ctx->log_fn = fn;
    ctx->log_user = user;
    ctx->log_max_level = max_level;
    return HB_OK;
}

int hb_context_set_progress(hb_context *ctx, hb_progress_fn fn, void *user) {
    if (!ctx) return HB_EINVAL;
    ctx->progress_fn = fn;
    ctx->progress_user = user;
    return HB_OK;
}

int hb_context_next_stream(hb_context *ctx, uint64_t *stream) {
    if (!ctx) return HB_EINVAL;
    HB_CHECK(ctx, stream != NULL, HB_EINVAL, "stream output pointer is NULL");
    *stream = ctx->next_stream++;
    return HB_OK;
}

int hb__progress(hb_context *ctx, const char *task, int64_t done, int64_t total) {
    if (ctx && ctx->share) return hb__task_progress(ctx, task, done, total);
    if (!ctx || !ctx->progress_fn) return HB_OK;
    if (ctx->progress_fn(ctx->progress_user, task, done, total) != 0)
        return hb__fail(ctx, HB_ECANCELED, "%s canceled by the progress callback at %lld/%lld",
                        task, (long long)done, (long long)total);
    return HB_OK;
}

static void vlog(hb_context *ctx, int level, const char *fmt, va_list ap) {
    if (!ctx || !ctx->log_fn || level > ctx->log_max_level) return;
    char buf[HB_ERRMSG_LEN];
    vsnprintf(buf, sizeof buf, fmt, ap);
    ctx->log_fn(ctx->log_user, level, buf);
}

void hb__log(hb_context *ctx, int level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog(ctx, level, fmt, ap);
    va_end(ap);
}

int hb__fail(hb_context *ctx, int status, const char *fmt, ...) {
    if (!ctx) return status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->last_error, sizeof ctx->last_error, fmt, ap);
    va_end(ap);
    ctx->last_status = status;
    hb__log(ctx, HB_LOG_ERROR, "%s: %s", hb_strerror(status), ctx->last_error);
    return status;
}

void *hb__malloc(hb_context *ctx, size_t bytes, const char *what) {
    void *p = ctx->alloc.alloc(ctx->alloc.opaque, bytes ? bytes : 1);
    if (!p) hb__fail(ctx, HB_ENOMEM, "out of memory allocating %zu bytes for %s", bytes, what);
    return p;
}

void *hb__calloc(hb_context *ctx, size_t n, size_t size, const char *what) {
    size_t bytes;
    if (!hb__mul_size(n, size, &bytes)) {
        hb__fail(ctx, HB_EOVERFLOW, "size of %s overflows (%zu x %zu bytes)", what, n, size);
        return NULL;
    }
    void *p = hb__malloc(ctx, bytes, what);
    if (p) memset(p, 0, bytes);
    return p;
}

void hb__free(hb_context *ctx, void *ptr) {
    if (ptr) ctx->alloc.free(ctx->alloc.opaque, ptr);
}
