/* Task runs over a small pthread team (tasks.h). */
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/tasks.h"

typedef struct hb__task_share {
    hb_context *parent;
    pthread_mutex_t lock;  /* the parent's allocator, progress callback and every other
                              use of the parent (hb__task_serialized); recursive, so that
                              a serialized function may allocate through a worker context */
    atomic_int stop;       /* a task failed or the run was canceled */
    atomic_size_t next;    /* the next claim: task order[next] (order NULL: task next) */
    const size_t *order;   /* the claim order (hb__tasks_run_ordered), NULL = 0, 1, 2 … */
    size_t n_tasks;
    hb__task_fn fn;
    void *arg;
    int *status;           /* per task: HB_OK, a status, or 1 = not run */
    char (*msg)[HB_ERRMSG_LEN]; /* per task: the message of a failed one */
} hb__task_share;

typedef struct worker {
    hb_context ctx;
    hb__task_share *share;
    size_t index;
} worker;

static void *locked_alloc(void *opaque, size_t bytes) {
    hb__task_share *s = opaque;
    pthread_mutex_lock(&s->lock);
    void *p = s->parent->alloc.alloc(s->parent->alloc.opaque, bytes);
    pthread_mutex_unlock(&s->lock);
    return p;
}

static void locked_free(void *opaque, void *ptr) {
    hb__task_share *s = opaque;
    pthread_mutex_lock(&s->lock);
    s->parent->alloc.free(s->parent->alloc.opaque, ptr);
    pthread_mutex_unlock(&s->lock);
}

size_t hb__tasks_workers(const hb_context *ctx, size_t n_tasks, bool serial) {
    size_t t = (size_t)hb__threads(ctx);
    if (serial || t < 1) t = 1;
    return t < n_tasks ? t : n_tasks ? n_tasks : 1;
}

int hb__task_serialized(hb_context *wctx, int (*fn)(void *arg), void *arg) {
    hb__task_share *s = wctx ? wctx->share : NULL;
    if (!s) return fn(arg);
    pthread_mutex_lock(&s->lock);
    int rc = fn(arg);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int hb__task_progress(hb_context *wctx, const char *task, int64_t done, int64_t total) {
    hb__task_share *s = wctx->share;
    if (atomic_load(&s->stop)) return HB__ESTOPPED;
    hb_context *p = s->parent;
    if (!p->progress_fn) return HB_OK;
    pthread_mutex_lock(&s->lock); /* reports one at a time, never concurrently */
    int r = atomic_load(&s->stop) ? 0 : p->progress_fn(p->progress_user, task, done, total);
    pthread_mutex_unlock(&s->lock);
    if (r == 0) return atomic_load(&s->stop) ? HB__ESTOPPED : HB_OK;
    atomic_store(&s->stop, 1);
    return hb__fail(wctx, HB_ECANCELED, "%s canceled by the progress callback at %lld/%lld",
                    task, (long long)done, (long long)total);
}

static void *work(void *arg) {
    worker *w = arg;
    hb__task_share *s = w->share;
    for (;;) {
        size_t c = atomic_fetch_add(&s->next, 1);
        if (c >= s->n_tasks || atomic_load(&s->stop)) break;
        size_t t = s->order ? s->order[c] : c;
        w->ctx.last_status = HB_OK;
        int rc = s->fn(s->arg, t, w->index, &w->ctx);
        s->status[t] = rc < 0 ? rc : HB_OK;
        if (rc < 0) {
            if (rc != HB__ESTOPPED) memcpy(s->msg[t], w->ctx.last_error, HB_ERRMSG_LEN);
            atomic_store(&s->stop, 1);
        }
    }
    return NULL;
}

int hb__tasks_run(hb_context *ctx, size_t n_tasks, size_t workers, hb__task_fn fn, void *arg) {
    return hb__tasks_run_ordered(ctx, n_tasks, workers, NULL, fn, arg);
}

int hb__tasks_run_ordered(hb_context *ctx, size_t n_tasks, size_t workers, const size_t *order,
                          hb__task_fn fn, void *arg) {
    if (n_tasks == 0) return HB_OK;
    if (ctx->share) { /* inside a task already: its worker context runs them in order */
        for (size_t t = 0; t < n_tasks; t++) HB_TRY(fn(arg, t, 0, ctx));
        return HB_OK;
    }
    if (workers < 1) workers = 1;
    if (workers > n_tasks) workers = n_tasks;
    /* One worker has no makespan to shorten: it claims in task order, so a serial run
     * (1 thread, or a model that is not thread-safe) calls back in the order it always did. */
    hb__task_share s = {.parent = ctx, .order = workers > 1 ? order : NULL, .n_tasks = n_tasks,
                        .fn = fn, .arg = arg};
    atomic_init(&s.stop, 0);
    atomic_init(&s.next, 0);
    s.status = hb__calloc(ctx, n_tasks, sizeof *s.status, "task statuses");
    s.msg = s.status ? hb__calloc(ctx, n_tasks, sizeof *s.msg, "task messages") : NULL;
    worker *w = s.msg ? hb__calloc(ctx, workers, sizeof *w, "task workers") : NULL;
    pthread_t *th = w ? hb__calloc(ctx, workers, sizeof *th, "task threads") : NULL;
    pthread_mutexattr_t attr;
    bool locked = th && pthread_mutexattr_init(&attr) == 0;
    if (locked) {
        locked = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE) == 0 &&
                 pthread_mutex_init(&s.lock, &attr) == 0;
        pthread_mutexattr_destroy(&attr);
    }
    if (!locked) {
        int rc = th ? hb__fail(ctx, HB_ENOMEM, "cannot create a mutex for a task run") : HB_ENOMEM;
        hb__free(ctx, s.status);
        hb__free(ctx, s.msg);
        hb__free(ctx, w);
        hb__free(ctx, th);
        return rc;
    }
    for (size_t t = 0; t < n_tasks; t++) s.status[t] = 1; /* not run */
    /* The context's threads are split among the workers, never oversubscribed: with fewer
     * tasks than threads each task's products are threaded inside (BLIS above its size
     * threshold, the library's loops), which gives the same bits for any thread count
     * (docs/design.md "Threads"); the first threads % workers workers get one more. The
     * split is of at most the processors this process may use (omp_get_num_procs honours
     * the affinity mask and changes no OpenMP state): workers beyond them already share
     * cores, and threaded BLIS calls inside them would spin at barriers for a peer
     * without a processor (docs/performance.md, "Why 2 threads were slower than 1"). */
    size_t threads = (size_t)(ctx->threads > 0 ? ctx->threads : 1);
    int procs = omp_get_num_procs();
    if (procs >= 1 && threads > (size_t)procs) threads = (size_t)procs;
    for (size_t i = 0; i < workers; i++) {
        w[i].ctx = *ctx;
        w[i].ctx.alloc = (hb_allocator){sizeof(hb_allocator), locked_alloc, locked_free, &s};
        size_t own = threads / workers + (i < threads % workers ? 1 : 0);
        w[i].ctx.threads = own > 0 ? (int)own : 1;
        w[i].ctx.last_status = HB_OK;
        w[i].ctx.last_error[0] = '\0';
        w[i].ctx.log_fn = NULL;
        w[i].ctx.has_comm = false; /* only the caller's thread communicates (comm.h) */
        w[i].ctx.progress_fn = NULL;
        w[i].ctx.share = &s;
        w[i].share = &s;
        w[i].index = i;
    }
    size_t started = 1;
    for (size_t i = 1; i < workers; i++) {
        if (pthread_create(&th[i], NULL, work, &w[i]) != 0) break; /* fewer workers */
        started++;
    }
    work(&w[0]);
    for (size_t i = 1; i < started; i++) pthread_join(th[i], NULL);
    pthread_mutex_destroy(&s.lock);
    int rc = HB_OK;
    size_t first = 0;
    for (size_t t = 0; t < n_tasks && rc == HB_OK; t++)
        if (s.status[t] < 0 && s.status[t] != HB__ESTOPPED) {
            rc = s.status[t];
            first = t;
        }
    if (rc != HB_OK) hb__fail(ctx, rc, "%s", s.msg[first]);
    hb__free(ctx, s.status);
    hb__free(ctx, s.msg);
    hb__free(ctx, w);
    hb__free(ctx, th);
    return rc;
}
