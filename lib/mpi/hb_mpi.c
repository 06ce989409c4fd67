/* libhessblock-mpi: the communicator hook (comm.h) over a duplicated MPI communicator.
 * Only the public API of libhessblock is used here: this library is an ordinary client.
 *
 * Deadlines (hb_mpi_set_timeout, HB_MPI_TIMEOUT; mpi.h): without one, every callback is
 * the blocking MPI collective. With one, the callback starts the non-blocking collective
 * (MPI_Iallreduce, MPI_Ibcast, MPI_Iallgather, MPI_Ibarrier) on buffers of its OWN and
 * polls it (MPI_Test) until it completes or the deadline passes. A collective request
 * cannot be cancelled or freed (MPI-3.1 §5.12), so after a deadline the request stays
 * pending with the hook's buffers — never the caller's, which the library frees as it
 * returns — and the hook is BROKEN: every later callback fails at once, and the duplicate
 * communicator and those buffers are never freed (only the job's end frees them). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hessblock/mpi.h"

/* What the hook's `user` points to. */
typedef struct hb_mpi_user {
    MPI_Comm comm;      /* the duplicate, ours */
    hb_context *ctx;    /* the context holding the hook (hb_mpi_set_timeout finds it) */
    double timeout;     /* seconds; 0: none (blocking collectives) */
    int broken;         /* a deadline passed: a request is pending forever */
    void *buf;          /* the deadline path's own buffer (kept while broken) */
    size_t cap;
    struct hb_mpi_user *next; /* the registry of attached hooks */
} hb_mpi_user;

/* Attached hooks, for hb_mpi_set_timeout(ctx, ...): contexts of different threads may
 * attach and detach concurrently, hence the lock. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static hb_mpi_user *registry;
static hb_mpi_user *graveyard; /* released broken hooks: their requests may still be pending */

static void registry_add(hb_mpi_user *u) {
    pthread_mutex_lock(&registry_lock);
    u->next = registry;
    registry = u;
    pthread_mutex_unlock(&registry_lock);
}

static void registry_remove(hb_mpi_user *u) {
    pthread_mutex_lock(&registry_lock);
    for (hb_mpi_user **p = &registry; *p; p = &(*p)->next)
        if (*p == u) {
            *p = u->next;
            break;
        }
    pthread_mutex_unlock(&registry_lock);
}

/* MPI's own clock: this library is an MPI client (and the core's clock is internal) */
static double now(void) { return MPI_Wtime(); }

/* The deadline path's buffer of at least `bytes`. */
static void *own_buffer(hb_mpi_user *u, size_t bytes) {
    if (bytes <= u->cap) return u->buf;
    void *b = realloc(u->buf, bytes ? bytes : 1);
    if (!b) return NULL;
    u->buf = b;
    u->cap = bytes;
    return b;
}

/* Polls *req until it completes or u's deadline (from t0) passes. MPI_Test drives MPI's
 * progress; between tests the thread yields, then sleeps up to 1 ms, so a long wait for a
 * slow rank does not burn a core the other ranks of the node could use. */
static int wait_deadline(hb_mpi_user *u, MPI_Request *req, double t0) {
    long sleep_ns = 0;
    for (;;) {
        int done = 0;
        int r = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (r != MPI_SUCCESS) return r;
        if (done) return 0;
        if (now() - t0 > u->timeout) {
            u->broken = 1;
            return HB_MPI_TIMED_OUT;
        }
        if (sleep_ns == 0) {
            sched_yield();
            sleep_ns = 1000;
        } else {
            struct timespec ts = {0, sleep_ns};
            nanosleep(&ts, NULL);
            if (sleep_ns < 1000000) sleep_ns *= 2;
        }
    }
}

static int mpi_allreduce_sum(void *user, hb_dtype dtype, void *buf, size_t count) {
    hb_mpi_user *u = user;
    if (u->broken) return HB_MPI_BROKEN;
    MPI_Datatype t = dtype == HB_F32 ? MPI_FLOAT : dtype == HB_F64 ? MPI_DOUBLE : MPI_DATATYPE_NULL;
    if (t == MPI_DATATYPE_NULL) return -1;
    /* MPI counts are int: large arrays go in pieces (each a sum of its own elements only). */
    char *p = buf;
    size_t elem = dtype == HB_F32 ? sizeof(float) : sizeof(double);
    double t0 = now(); /* one deadline for the whole call */
    while (count > 0) {
        int c = count > (size_t)(1 << 30) ? 1 << 30 : (int)count;
        int r;
        if (u->timeout > 0) {
            void *b = own_buffer(u, (size_t)c * elem);
            if (!b) return -1;
            memcpy(b, p, (size_t)c * elem);
            MPI_Request req;
            r = MPI_Iallreduce(MPI_IN_PLACE, b, c, t, MPI_SUM, u->comm, &req);
            if (r == MPI_SUCCESS) r = wait_deadline(u, &req, t0);
            if (r == MPI_SUCCESS) memcpy(p, b, (size_t)c * elem);
        } else {
            r = MPI_Allreduce(MPI_IN_PLACE, p, c, t, MPI_SUM, u->comm);
        }
        if (r != MPI_SUCCESS) return r;
        p += (size_t)c * elem;
        count -= (size_t)c;
    }
    return 0;
}

static int mpi_bcast(void *user, void *buf, size_t bytes, int root) {
    hb_mpi_user *u = user;
    if (u->broken) return HB_MPI_BROKEN;
    char *p = buf;
    double t0 = now();
    while (bytes > 0) {
        int c = bytes > (size_t)(1 << 30) ? 1 << 30 : (int)bytes;
        int r;
        if (u->timeout > 0) {
            void *b = own_buffer(u, (size_t)c);
            if (!b) return -1;
            memcpy(b, p, (size_t)c);
            MPI_Request req;
            r = MPI_Ibcast(b, c, MPI_BYTE, root, u->comm, &req);
            if (r == MPI_SUCCESS) r = wait_deadline(u, &req, t0);
            if (r == MPI_SUCCESS) memcpy(p, b, (size_t)c);
        } else {
            r = MPI_Bcast(p, c, MPI_BYTE, root, u->comm);
        }
        if (r != MPI_SUCCESS) return r;
        p += c;
        bytes -= (size_t)c;
    }
    return 0;
}

static int mpi_allgather(void *user, const void *send, size_t bytes, void *recv) {
    hb_mpi_user *u = user;
    if (u->broken) return HB_MPI_BROKEN;
    /* One call: the receive layout (rank-major) would not survive splitting. */
    if (bytes > (size_t)(1 << 30)) return -1;
    if (u->timeout <= 0)
        return MPI_Allgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, u->comm);
    int size = 1;
    MPI_Comm_size(u->comm, &size);
    size_t all = bytes * (size_t)size;
    char *b = own_buffer(u, all + bytes); /* [received | sent] */
    if (!b) return -1;
    memcpy(b + all, send, bytes);
    MPI_Request req;
    int r = MPI_Iallgather(b + all, (int)bytes, MPI_BYTE, b, (int)bytes, MPI_BYTE, u->comm, &req);
    if (r == MPI_SUCCESS) r = wait_deadline(u, &req, now());
    if (r == MPI_SUCCESS) memcpy(recv, b, all);
    return r;
}

static int mpi_barrier(void *user) {
    hb_mpi_user *u = user;
    if (u->broken) return HB_MPI_BROKEN;
    if (u->timeout <= 0) return MPI_Barrier(u->comm);
    MPI_Request req;
    int r = MPI_Ibarrier(u->comm, &req);
    return r == MPI_SUCCESS ? wait_deadline(u, &req, now()) : r;
}

static void mpi_release(void *user) {
    hb_mpi_user *u = user;
    registry_remove(u);
    if (u->broken) { /* a request still uses the communicator and the buffer: never freed, */
        pthread_mutex_lock(&registry_lock); /* but kept reachable (leak checkers, debuggers) */
        u->next = graveyard;
        graveyard = u;
        pthread_mutex_unlock(&registry_lock);
        return;
    }
    int finalized = 1;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&u->comm);
    free(u->buf);
    free(u);
}

/* HB_MPI_TIMEOUT: seconds (> 0), else none. */
static double env_timeout(void) {
    const char *v = getenv("HB_MPI_TIMEOUT");
    if (!v || !*v) return 0;
    char *end = NULL;
    double t = strtod(v, &end);
    return end && *end == '\0' && t > 0 && t <= 1e9 ? t : 0;
}

int hb_mpi_attach(hb_context *ctx, MPI_Comm comm) {
    if (!ctx) return HB_EINVAL;
    if (comm == MPI_COMM_NULL) return HB_EINVAL;
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (!init || fin) return HB_ESTATE;
    hb_mpi_user *u = calloc(1, sizeof *u);
    if (!u) return HB_ENOMEM;
    if (MPI_Comm_dup(comm, &u->comm) != MPI_SUCCESS) {
        free(u);
        return HB_ECALLBACK;
    }
    u->ctx = ctx;
    u->timeout = env_timeout();
    /* Errors come back as codes (then HB_ECALLBACK), not as an abort of the job. */
    MPI_Comm_set_errhandler(u->comm, MPI_ERRORS_RETURN);
    hb_comm c = HB_COMM_INIT;
    c.user = u;
    if (MPI_Comm_rank(u->comm, &c.rank) != MPI_SUCCESS ||
        MPI_Comm_size(u->comm, &c.size) != MPI_SUCCESS) {
        MPI_Comm_free(&u->comm);
        free(u);
        return HB_ECALLBACK;
    }
    c.allreduce_sum = mpi_allreduce_sum;
    c.bcast = mpi_bcast;
    c.allgather = mpi_allgather;
    c.barrier = mpi_barrier;
    c.release = mpi_release;
    /* registered only once the context holds it: a refused hook is nobody's */
    int rc = hb_context_set_comm(ctx, &c);
    if (rc != HB_OK) {
        MPI_Comm_free(&u->comm);
        free(u);
        return rc;
    }
    registry_add(u);
    return HB_OK;
}

int hb_mpi_detach(hb_context *ctx) { return hb_context_set_comm(ctx, NULL); }

int hb_mpi_set_timeout(hb_context *ctx, double seconds) {
    if (!ctx) return HB_EINVAL;
    if (!(seconds >= 0 && seconds <= 1e9)) return HB_EINVAL; /* NaN too */
    int rc = HB_ENOTFOUND;
    pthread_mutex_lock(&registry_lock);
    for (hb_mpi_user *u = registry; u; u = u->next)
        if (u->ctx == ctx) {
            u->timeout = seconds;
            rc = HB_OK;
            break;
        }
    pthread_mutex_unlock(&registry_lock);
    return rc;
}
