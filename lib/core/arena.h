/* One workspace arena for an operation (zstd's cwksp, in small): a grow-only block of
 * memory that an owner (a model) keeps between calls, carved into 64-byte-aligned pieces
 * by a layout function that runs twice — once COUNTING (no memory: every take returns
 * NULL and only the total is kept) and once CARVING the reserved block with the same
 * sequence of takes. The layout is therefore written once, and its size can never
 * disagree with what it carves.
 *
 *     hb__carve c = hb__carve_counting();
 *     layout(&c, …);                              // pointers are NULL here
 *     HB_TRY(hb__arena_reserve(ctx, &arena, &c, "net workspace"));
 *     c = hb__carve_from(&arena);
 *     layout(&c, …);                              // the same takes, real pointers
 *
 * Sizes are overflow-checked: a layout whose total does not fit a size_t makes
 * hb__arena_reserve fail with HB_EOVERFLOW (and a message) instead of wrapping. */
#ifndef HB_CORE_ARENA_H
#define HB_CORE_ARENA_H

#include "core/internal.h"

#define HB__ARENA_ALIGN 64

/* A grow-only block of memory, owned (freed with hb__arena_free). Zero-initialise it. */
typedef struct hb__arena {
    void *mem;  /* as allocated */
    size_t cap; /* usable bytes from the first aligned address */
} hb__arena;

/* One pass of a layout over an arena (or over nothing: counting). */
typedef struct hb__carve {
    char *base;    /* aligned start; NULL while counting */
    size_t used;   /* bytes taken so far (aligned offsets) */
    bool overflow; /* a size did not fit a size_t */
} hb__carve;

/* A counting pass: takes return NULL and add up. */
static inline hb__carve hb__carve_counting(void) { return (hb__carve){NULL, 0, false}; }

/* A carving pass over the arena's memory (reserved by hb__arena_reserve). */
hb__carve hb__carve_from(const hb__arena *a);

/* Take n elements of es bytes, 64-byte aligned. NULL while counting or for n = 0 in a
 * counting pass; in a carving pass a valid (possibly zero-length) pointer. */
void *hb__carve_take(hb__carve *c, size_t n, size_t es);

/* Grow a to hold what counting pass c took (keeps the memory when it is large enough;
 * the old contents are not kept). HB_EOVERFLOW if c overflowed, HB_ENOMEM. */
int hb__arena_reserve(hb_context *ctx, hb__arena *a, const hb__carve *c, const char *what);

void hb__arena_free(hb_context *ctx, hb__arena *a);

#endif
