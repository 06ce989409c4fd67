/* The workspace arena (core/arena.h): grow-only memory, carved by a layout run twice. */
#include "core/arena.h"

static char *aligned(void *p) {
    return (char *)(((uintptr_t)p + HB__ARENA_ALIGN - 1) & ~(uintptr_t)(HB__ARENA_ALIGN - 1));
}

hb__carve hb__carve_from(const hb__arena *a) {
    return (hb__carve){a->mem ? aligned(a->mem) : NULL, 0, false};
}

void *hb__carve_take(hb__carve *c, size_t n, size_t es) {
    size_t bytes, off, end;
    if (!hb__mul_size(n, es, &bytes) || !hb__add_size(c->used, HB__ARENA_ALIGN - 1, &off) ||
        !hb__add_size(off & ~(size_t)(HB__ARENA_ALIGN - 1), bytes, &end)) {
        c->overflow = true;
        return NULL;
    }
    off &= ~(size_t)(HB__ARENA_ALIGN - 1);
    c->used = end;
    return c->base ? c->base + off : NULL;
}

int hb__arena_reserve(hb_context *ctx, hb__arena *a, const hb__carve *c, const char *what) {
    HB_CHECK(ctx, !c->overflow && c->used <= SIZE_MAX - HB__ARENA_ALIGN, HB_EOVERFLOW,
             "%s: the workspace size overflows", what);
    if (c->used <= a->cap && a->mem) return HB_OK;
    /* Free first: the contents are not kept, and the peak stays at the new size. */
    hb__arena_free(ctx, a);
    a->mem = hb__malloc(ctx, c->used + HB__ARENA_ALIGN, what);
    if (!a->mem) return HB_ENOMEM;
    a->cap = c->used;
    return HB_OK;
}

void hb__arena_free(hb_context *ctx, hb__arena *a) {
    hb__free(ctx, a->mem);
    a->mem = NULL;
    a->cap = 0;
}
