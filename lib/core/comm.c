/* The communicator hook of a context (include/hessblock/comm.h). */
#include <string.h>

#include "core/internal.h"

/* A caller's struct_size above this is garbage, not a newer struct (as hb_model_callbacks). */
#define COMM_SIZE_MAX 4096
#define FIELD_END(f) (offsetof(hb_comm, f) + sizeof(((hb_comm *)0)->f))

int hb_context_set_comm(hb_context *ctx, const hb_comm *comm) {
    if (!ctx) return HB_EINVAL;
    hb_comm c;
    memset(&c, 0, sizeof c);
    if (comm) {
        size_t size = comm->struct_size;
        HB_CHECK(ctx, size >= HB_COMM_SIZE_MIN && size <= COMM_SIZE_MAX, HB_EINVAL,
                 "hb_comm.struct_size is %zu: it must be sizeof(hb_comm) (%zu here), at least "
                 "%zu and at most %d", size, sizeof c, (size_t)HB_COMM_SIZE_MIN, COMM_SIZE_MAX);
        if (size > sizeof c) {
            const unsigned char *extra = (const unsigned char *)comm;
            for (size_t i = sizeof c; i < size; i++)
                HB_CHECK(ctx, extra[i] == 0, HB_EUNSUPPORTED,
                         "hb_comm has %zu bytes, this library knows %zu, and byte %zu is set: "
                         "a feature newer than this library was asked for", size, sizeof c, i);
        }
#define TAKE(f) \
    if (FIELD_END(f) <= size) c.f = comm->f
        TAKE(user);
        TAKE(rank);
        TAKE(size);
        TAKE(allreduce_sum);
        TAKE(bcast);
        TAKE(allgather);
        TAKE(barrier);
        TAKE(release);
#undef TAKE
        c.struct_size = sizeof c;
        HB_CHECK(ctx, c.size >= 1, HB_EINVAL, "hb_comm.size is %d: it must be >= 1", c.size);
        HB_CHECK(ctx, c.rank >= 0 && c.rank < c.size, HB_EINVAL,
                 "hb_comm.rank is %d: it must be in 0..%d", c.rank, c.size - 1);
        HB_CHECK(ctx, c.allreduce_sum && c.bcast && c.allgather && c.barrier, HB_EINVAL,
                 "hb_comm: allreduce_sum, bcast, allgather and barrier must all be set "
                 "(only release may be NULL)");
    }
    /* Validated: only now is the old hook let go, so a refused call changes nothing. */
    if (ctx->has_comm && ctx->comm.release) ctx->comm.release(ctx->comm.user);
    ctx->comm = c;
    ctx->has_comm = comm != NULL;
    return HB_OK;
}

int hb__comm_size(const hb_context *ctx) {
    return ctx && ctx->has_comm ? ctx->comm.size : 1;
}

int hb__comm_rank(const hb_context *ctx) {
    return ctx && ctx->has_comm ? ctx->comm.rank : 0;
}

int hb__comm_allgather(hb_context *ctx, const void *send, size_t bytes, void *recv) {
    int r = ctx->comm.allgather(ctx->comm.user, send, bytes, recv);
    HB_CHECK(ctx, r == 0, HB_ECALLBACK,
             "communicator allgather of %zu bytes failed on rank %d (it returned %d)", bytes,
             ctx->comm.rank, r);
    return HB_OK;
}

int hb__comm_allreduce_sum(hb_context *ctx, hb_dtype dtype, void *buf, size_t count) {
    int r = ctx->comm.allreduce_sum(ctx->comm.user, dtype, buf, count);
    HB_CHECK(ctx, r == 0, HB_ECALLBACK,
             "communicator allreduce_sum of %zu values failed on rank %d (it returned %d)", count,
             ctx->comm.rank, r);
    return HB_OK;
}
