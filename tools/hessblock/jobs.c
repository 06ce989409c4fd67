/* jobs_run (jobs.h): plain pthreads, not OpenMP, so a job's own library calls still open
 * top-level OpenMP regions of their own (a nested region would get one thread) and the
 * tool never changes global OpenMP state. */
#include "jobs.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct pool {
    void (*fn)(void *arg, size_t i);
    void *arg;
    size_t n;
    atomic_size_t next;
} pool;

static void *worker(void *p_) {
    pool *p = p_;
    for (size_t i; (i = atomic_fetch_add(&p->next, 1)) < p->n;) p->fn(p->arg, i);
    return NULL;
}

void jobs_run(size_t n, int threads, void (*fn)(void *arg, size_t i), void *arg) {
    pool p = {.fn = fn, .arg = arg, .n = n};
    atomic_init(&p.next, 0);
    enum { MAX_THREADS = 256 };
    pthread_t tid[MAX_THREADS];
    size_t extra = threads > 1 && n > 1 ? (size_t)threads - 1 : 0, started = 0;
    if (extra > n - 1) extra = n - 1;
    if (extra > MAX_THREADS) extra = MAX_THREADS;
    for (; started < extra; started++)
        if (pthread_create(&tid[started], NULL, worker, &p) != 0) break;
    worker(&p);
    for (size_t t = 0; t < started; t++) pthread_join(tid[t], NULL);
}
