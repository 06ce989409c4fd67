/* Task runs: independent pieces of one call (the probes of an SLQ run, the blocks of a
 * per-block analysis) executed concurrently on the context's threads (docs/design.md,
 * "Threads").
 *
 * Each worker thread runs its tasks on a WORKER CONTEXT of its own: a copy of the caller's
 * with its own last error, its share of the context's threads for BLIS and the library's
 * loops (min(threads, processors) / workers, the remainder to the first workers: no
 * oversubscription; with
 * as many tasks as threads every task is single-threaded, a run of one task keeps them
 * all), the caller's allocator behind a lock (a user allocator need not be thread-safe),
 * no log callback (the error that ends the run is logged once, on the caller's context),
 * and progress reports that go to the caller's callback one at a time.
 *
 * Results never depend on the number of workers or on scheduling as long as each task
 * writes only its own outputs and computes them the same way on any worker: the caller
 * gathers them in task order. Pthreads, not OpenMP: ThreadSanitizer sees their
 * synchronisation (libgomp is not instrumented, docs/reliability.md), and the library
 * never touches the global OpenMP state. */
#ifndef HB_CORE_TASKS_H
#define HB_CORE_TASKS_H

#include "core/internal.h"

/* Internal status of a task stopped because another one failed or the run was canceled:
 * never returned to a caller of the library. */
#define HB__ESTOPPED (-1000)

/* Run task `task` (0..n_tasks) on worker `worker` (0..workers) with its worker context
 * wctx; returns HB_OK or a status whose message is on wctx. */
typedef int (*hb__task_fn)(void *arg, size_t task, size_t worker, hb_context *wctx);

/* hb__tasks_workers: how many workers a run of n_tasks gets on ctx: min(threads, n_tasks),
 * 1 if serial is set (e.g. callbacks that are not thread-safe). */
size_t hb__tasks_workers(const hb_context *ctx, size_t n_tasks, bool serial);

/* hb__tasks_run: run tasks 0..n_tasks on `workers` threads (the caller's and workers − 1
 * new ones; fewer if a thread cannot be started), each claiming the next task in order
 * (0, 1, 2 …; hb__tasks_run_ordered below claims them in a given order).
 * After a task fails (or the progress callback cancels), tasks not yet started are
 * skipped and running ones stop at their next hb__progress (which returns HB__ESTOPPED
 * there). Returns HB_OK, or the status of the first failed task in TASK order with its
 * message recorded on ctx (HB_ENOMEM if the worker contexts cannot be allocated). */
int hb__tasks_run(hb_context *ctx, size_t n_tasks, size_t workers, hb__task_fn fn, void *arg);

/* hb__tasks_run_ordered: hb__tasks_run whose workers claim the tasks in the order
 * order[0], order[1], … (a permutation of 0..n_tasks, the caller's duty; NULL = 0, 1, 2 …)
 * instead of 0, 1, 2 …: only WHEN a task starts changes, so with tasks that write only
 * their own outputs the results are the same. Everything else is hb__tasks_run's, in TASK
 * indices: fn gets the task's index; the status is that of the first failed task in task
 * order among those that ran (after a failure, tasks not yet claimed are skipped: which
 * ones those are depends on the order, as on the timing); progress and cancellation are
 * unchanged. Used to start the longest tasks first (docs/design.md, "Threads"), so that no
 * long task starts last and runs alone. With a single worker (workers = 1, or inside a
 * task) the order is ignored: tasks run 0, 1, 2 …, as a serial run always did. */
int hb__tasks_run_ordered(hb_context *ctx, size_t n_tasks, size_t workers, const size_t *order,
                          hb__task_fn fn, void *arg);

/* hb__task_serialized: fn(arg) under the run's lock (one call at a time across the run's
 * workers, never concurrently with a locked allocation or progress report), so fn may use
 * the caller's context and its allocator (e.g. build a result on it, call a user's
 * callback). Outside a task run (wctx has no run) it simply calls fn. Returns fn's status. */
int hb__task_serialized(hb_context *wctx, int (*fn)(void *arg), void *arg);

/* hb__task_progress: hb__progress on a worker context (context.c forwards to it). */
int hb__task_progress(hb_context *wctx, const char *task, int64_t done, int64_t total);

#endif
