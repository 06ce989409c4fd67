/* Checkpoints: block table + parameters + optimizer state, CRC32 per section.
 * docs/checkpoint-format.md is the byte-level description; this file follows it.
 * Saving streams through one writer (memory or FILE) that keeps the running CRC;
 * loading validates the whole image (structure, CRCs, match with the objects) before
 * the commit phase copies anything, so a failed load changes nothing. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/tempfile.h"
#include "optim/optim_internal.h"

static const uint8_t MAGIC[8] = {'H', 'B', 'C', 'K', 'P', 'T', '\r', '\n'};
enum { HDR_BYTES = 32, SEC_HDR = 16, SEC_BLOCKS = 1, SEC_PARAMS = 2, SEC_OPTIM = 3, SEC_MODEL = 4 };
/* Optional sections (format 2.1): tags >= SEC_FIRST_OPTIONAL in increasing order after the
 * required ones, at most MAX_OPTIONAL of them, skipped by readers that do not know them. */
enum { SEC_FIRST_OPTIONAL = 4, MAX_OPTIONAL = 16 };
/* Model section (tag 4): fixed part, then 16 bytes per configuration key. */
enum { MODEL_FIXED = 64, MODEL_KEY_BYTES = 16, MODEL_SECTION_VERSION = 1 };
enum { KEY_I64 = 1, KEY_F64 = 2 };
/* hb_checkpoint_load reads no file larger than a checkpoint of the params could be; the
 * optional sections it may not know are allowed this much in all. */
#define OPTIONAL_MAX_BYTES ((uint64_t)1 << 20)
enum { ARR_MOMENTUM = 1, ARR_M = 2, ARR_V = 3, ARR_MASTER = 4, ARR_RESTART = 5 };
enum { OPTF_STREAM = 1, OPTF_MASTER_VALID = 2 };
enum { BLKF_FROZEN = 1 }; /* block entry flags (version 2) */

/* ---- CRC32 (IEEE 802.3, reflected 0xEDB88320, as zlib's crc32) ---- */
static void crc_table(uint32_t t[256]) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        t[i] = c;
    }
}
static uint32_t crc_update(const uint32_t t[256], uint32_t crc, const uint8_t *p, size_t n) {
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = t[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static bool host_le(void) {
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Copy count elements of es bytes, converting between host order and little-endian. */
static void copy_le(void *dst, const void *src, size_t count, size_t es) {
    memcpy(dst, src, count * es);
    if (host_le()) return;
    uint8_t *d = dst;
    for (size_t i = 0; i < count; i++, d += es)
        for (size_t a = 0, b = es - 1; a < b; a++, b--) {
            uint8_t x = d[a];
            d[a] = d[b];
            d[b] = x;
        }
}

static size_t dtype_bytes(hb_dtype d) { return d == HB_F64 ? 8 : d == HB_BF16 ? 2 : 4; }

/* ---- writer ---- */
typedef struct writer {
    uint8_t *buf; /* memory target, or NULL */
    FILE *f;      /* file target, or NULL (size counting when both are NULL) */
    size_t pos;
    uint32_t crc;
    int err;
    uint32_t table[256];
} writer;

static void put(writer *w, const void *p, size_t n) {
    if (n == 0) return;
    w->crc = crc_update(w->table, w->crc, p, n);
    if (w->buf) memcpy(w->buf + w->pos, p, n);
    else if (w->f && !w->err && fwrite(p, 1, n, w->f) != n) w->err = errno ? errno : EIO;
    w->pos += n;
}
static void put_u32(writer *w, uint32_t v) {
    uint8_t b[4];
    for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
    put(w, b, 4);
}
static void put_u64(writer *w, uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
    put(w, b, 8);
}
/* Elements in little-endian, staged in small pieces so big-endian hosts swap a copy. */
static void put_array(writer *w, const void *data, size_t count, size_t es) {
    uint8_t tmp[4096];
    const uint8_t *s = data;
    size_t per = sizeof tmp / es;
    for (size_t i = 0; i < count; i += per) {
        size_t k = count - i < per ? count - i : per;
        copy_le(tmp, s + i * es, k, es);
        put(w, tmp, k * es);
    }
}
static void section_begin(writer *w, uint32_t tag, uint64_t len) {
    w->crc = 0;
    put_u32(w, tag);
    put_u32(w, 0);
    put_u64(w, len);
}
static void section_end(writer *w) { put_u32(w, w->crc); }

/* Payload sizes. */
static size_t blocks_payload(const hb_params *p) {
    size_t s = 24;
    for (size_t b = 0; b < p->n_blocks; b++)
        s += 4 + strlen(p->blocks[b].name) + 12 + 8 * (size_t)p->blocks[b].ndim + 16;
    return s;
}

typedef struct arr_desc { uint32_t id; const void *data; size_t count, es; } arr_desc;

/* Any block restarted (hb_optimizer_reset_block)? Then array 5 carries every block's
 * restart step (i64); otherwise it is omitted and the file is what it always was. */
static bool any_restart(const hb_optimizer *o) {
    for (size_t b = 0; b < o->p->n_blocks; b++)
        if (o->t0[b] != 0) return true;
    return false;
}

static size_t optim_arrays(const hb_optimizer *o, arr_desc a[5]) {
    size_t k = 0, n = o->n_state, es = o->sdtype == HB_F64 ? 8 : 4; /* trainable blocks */
    if (o->buf) a[k++] = (arr_desc){ARR_MOMENTUM, o->buf, n, es};
    if (o->m) a[k++] = (arr_desc){ARR_M, o->m, n, es};
    if (o->v) a[k++] = (arr_desc){ARR_V, o->v, o->kind == HB_OPTIM_ADAM_MINI ? o->n_part : n, es};
    if (o->master && o->master_valid) a[k++] = (arr_desc){ARR_MASTER, o->master, n, 4};
    if (any_restart(o)) a[k++] = (arr_desc){ARR_RESTART, o->t0, o->p->n_blocks, 8};
    return k;
}

static size_t optim_payload(const hb_optimizer *o) {
    arr_desc a[5];
    size_t k = optim_arrays(o, a), s = 40;
    for (size_t i = 0; i < k; i++) s += 16 + a[i].count * a[i].es;
    return s;
}

static size_t model_payload(const hb_params *p) {
    return MODEL_FIXED + MODEL_KEY_BYTES * (size_t)p->origin.n_keys;
}

static size_t total_size(const hb_params *p, const hb_optimizer *o) {
    size_t s = HDR_BYTES + 2 * (SEC_HDR + 4) + blocks_payload(p) + p->n * dtype_bytes(p->dtype);
    if (o) s += SEC_HDR + 4 + optim_payload(o);
    if (p->origin.present) s += SEC_HDR + 4 + model_payload(p);
    return s;
}

static void put_f64(writer *w, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    put_u64(w, u);
}

/* Section 4: how to rebuild the model the params belong to (docs/checkpoint-format.md). */
static void write_model(writer *w, const hb_params *p) {
    const hb__params_origin *m = &p->origin;
    section_begin(w, SEC_MODEL, model_payload(p));
    put_u32(w, MODEL_SECTION_VERSION);
    put_u32(w, m->kind);
    put_u64(w, (uint64_t)m->seed);
    put_u64(w, m->stream);
    put_u32(w, m->data);
    put_u32(w, m->n_keys);
    put_u64(w, (uint64_t)m->data_seed);
    put_u64(w, m->data_stream);
    put_u64(w, m->data_batches);
    put_u64(w, m->data_first);
    for (uint32_t i = 0; i < m->n_keys; i++) {
        put_u32(w, m->keys[i].key);
        put_u32(w, m->keys[i].real ? KEY_F64 : KEY_I64);
        if (m->keys[i].real) put_f64(w, m->keys[i].value);
        else put_u64(w, (uint64_t)(int64_t)m->keys[i].value);
    }
    section_end(w);
}

static void write_optim(writer *w, const hb_optimizer *o);

static void write_all(writer *w, const hb_params *p, const hb_optimizer *o) {
    /* header */
    w->crc = 0;
    put(w, MAGIC, 8);
    /* 2.0 unless an optional section follows: files without one stay readable by
     * libraries that know 2.0 only */
    const bool model = p->origin.present;
    put_u32(w, model ? (uint32_t)HB_CHECKPOINT_VERSION | (uint32_t)HB_CHECKPOINT_VERSION_MINOR << 16
                     : (uint32_t)HB_CHECKPOINT_VERSION);
    put_u32(w, o ? 1u : 0u);
    put_u64(w, total_size(p, o));
    put_u32(w, (o ? 3u : 2u) + (model ? 1u : 0u));
    section_end(w);
    /* block table */
    section_begin(w, SEC_BLOCKS, blocks_payload(p));
    put_u32(w, (uint32_t)p->dtype);
    put_u32(w, 0);
    put_u64(w, p->n);
    put_u64(w, p->n_blocks);
    for (size_t b = 0; b < p->n_blocks; b++) {
        const hb__block *blk = &p->blocks[b];
        size_t len = strlen(blk->name);
        put_u32(w, (uint32_t)len);
        put(w, blk->name, len);
        put_u32(w, (uint32_t)blk->kind);
        put_u32(w, blk->frozen ? (uint32_t)BLKF_FROZEN : 0u);
        put_u32(w, (uint32_t)blk->ndim);
        for (int d = 0; d < blk->ndim; d++) put_u64(w, (uint64_t)blk->shape[d]);
        put_u64(w, blk->offset);
        put_u64(w, blk->numel);
    }
    section_end(w);
    /* parameters */
    size_t es = dtype_bytes(p->dtype);
    section_begin(w, SEC_PARAMS, p->n * es);
    put_array(w, p->data, p->n, es);
    section_end(w);
    if (o) write_optim(w, o);
    if (p->origin.present) write_model(w, p);
}

static void write_optim(writer *w, const hb_optimizer *o) {
    arr_desc a[5];
    size_t k = optim_arrays(o, a);
    section_begin(w, SEC_OPTIM, optim_payload(o));
    put_u32(w, (uint32_t)o->kind);
    put_u32(w, (uint32_t)o->sdtype);
    put_u64(w, (uint64_t)o->t);
    put_u64(w, (uint64_t)(o->kind == HB_OPTIM_ADAM_MINI ? o->heads : 1));
    put_u64(w, o->has_stream ? o->stream : 0);
    put_u32(w, (o->has_stream ? OPTF_STREAM : 0u) | (o->master && o->master_valid ? OPTF_MASTER_VALID : 0u));
    put_u32(w, (uint32_t)k);
    for (size_t i = 0; i < k; i++) {
        put_u32(w, a[i].id);
        put_u32(w, 0);
        put_u64(w, a[i].count);
        put_array(w, a[i].data, a[i].count, a[i].es);
    }
    section_end(w);
}

static int check_save_args(hb_context *ctx, hb_params *p, const hb_optimizer *o) {
    HB_CHECK(ctx, p->finalized, HB_ESTATE, "params are not finalised");
    HB_CHECK(ctx, !o || o->p == p, HB_EINVAL, "the optimizer is over other params");
    HB_CHECK(ctx, !o || o->trainable_gen == p->trainable_gen, HB_ESTATE,
             "the params' trainable flags changed since the optimizer was created: its state "
             "does not describe them");
    return HB_OK;
}

int hb_checkpoint_size(hb_params *p, const hb_optimizer *opt, size_t *bytes) {
    if (!p) return HB_EINVAL;
    HB_CHECK(p->ctx, bytes != NULL, HB_EINVAL, "bytes pointer is NULL");
    HB_TRY(check_save_args(p->ctx, p, opt));
    *bytes = total_size(p, opt);
    return HB_OK;
}

int hb_checkpoint_save_buffer(hb_params *p, const hb_optimizer *opt, void *buf, size_t cap,
                              size_t *written) {
    if (!p) return HB_EINVAL;
    hb_context *ctx = p->ctx;
    HB_CHECK(ctx, buf != NULL, HB_EINVAL, "buffer is NULL");
    HB_TRY(check_save_args(ctx, p, opt));
    size_t need = total_size(p, opt);
    HB_CHECK(ctx, cap >= need, HB_ERANGE, "buffer holds %zu bytes, the checkpoint needs %zu", cap,
             need);
    writer w;
    memset(&w, 0, sizeof w);
    crc_table(w.table);
    w.buf = buf;
    write_all(&w, p, opt);
    if (written) *written = w.pos;
    return HB_OK;
}

int hb_checkpoint_save(const char *path, hb_params *p, const hb_optimizer *opt) {
    if (!p) return HB_EINVAL;
    hb_context *ctx = p->ctx;
    HB_CHECK(ctx, path != NULL && path[0] != '\0', HB_EINVAL, "path is NULL or empty");
    HB_TRY(check_save_args(ctx, p, opt));
    writer *w = hb__calloc(ctx, 1, sizeof *w, "checkpoint writer");
    if (!w) return HB_ENOMEM;
    hb__temp t;
    int rc = hb__temp_create(ctx, path, &t); /* also removes crashed saves' leftovers */
    if (rc == HB_OK) {
        crc_table(w->table);
        w->f = t.f;
        errno = 0;
        write_all(w, p, opt);
        rc = hb__temp_commit(ctx, path, &t, w->err);
    }
    hb__free(ctx, w);
    return rc;
}

/* ---- reader ---- */
typedef struct reader {
    const uint8_t *p;
    size_t len, pos;
    bool bad;
} reader;

static const uint8_t *take(reader *r, size_t n) {
    if (r->bad || n > r->len - r->pos) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *s = r->p + r->pos;
    r->pos += n;
    return s;
}
static uint32_t get_u32(reader *r) {
    const uint8_t *b = take(r, 4);
    if (!b) return 0;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static uint64_t get_u64(reader *r) {
    uint64_t lo = get_u32(r), hi = get_u32(r);
    return lo | hi << 32;
}

typedef struct section { uint32_t tag; const uint8_t *payload; size_t len; } section;

/* Read one section at r (header, payload, CRC) and check its tag (want; 0: any) and CRC. */
static int read_section(hb_context *ctx, const uint32_t *table, reader *r, uint32_t want,
                        section *s) {
    size_t start = r->pos;
    uint32_t tag = get_u32(r), reserved = get_u32(r);
    uint64_t len = get_u64(r);
    HB_CHECK(ctx, !r->bad, HB_EFORMAT, "checkpoint truncated in a section header");
    HB_CHECK(ctx, want == 0 || tag == want, HB_EFORMAT, "checkpoint section %u where %u was expected",
             tag, want);
    HB_CHECK(ctx, reserved == 0, HB_EFORMAT, "checkpoint section %u: reserved field not 0", tag);
    HB_CHECK(ctx, len <= r->len - r->pos && r->len - r->pos - len >= 4, HB_EFORMAT,
             "checkpoint section %u claims %llu bytes, only %zu remain", tag,
             (unsigned long long)len, r->len - r->pos);
    s->tag = tag;
    s->payload = take(r, (size_t)len);
    s->len = (size_t)len;
    uint32_t crc = crc_update(table, 0, r->p + start, SEC_HDR + (size_t)len);
    uint32_t stored = get_u32(r);
    HB_CHECK(ctx, crc == stored, HB_EFORMAT, "checkpoint section %u: CRC mismatch", tag);
    return HB_OK;
}

static const char *dtype_str(uint32_t d) {
    return d == HB_F64 ? "f64" : d == HB_F32 ? "f32" : d == HB_BF16 ? "bf16" : "?";
}

/* Version 1 has no flags field (every block trainable). *same_flags: the file's frozen
 * flags equal p's (meaningful when the block tables match). p NULL: the structure only
 * (then same_flags may be NULL too); *n_out and *nb_out (may be NULL) get the flat length
 * and block count. */
static int validate_blocks(hb_context *ctx, const section *s, const hb_params *p,
                           uint32_t version, bool *same_flags, uint64_t *n_out,
                           uint64_t *nb_out) {
    reader r = {s->payload, s->len, 0, false};
    uint32_t dtype = get_u32(&r), reserved = get_u32(&r);
    uint64_t n = get_u64(&r), nb = get_u64(&r);
    HB_CHECK(ctx, !r.bad, HB_EFORMAT, "block table truncated");
    HB_CHECK(ctx, dtype == HB_F32 || dtype == HB_F64 || dtype == HB_BF16, HB_EFORMAT,
             "block table: bad dtype %u", dtype);
    HB_CHECK(ctx, reserved == 0, HB_EFORMAT, "block table: reserved field not 0");
    /* Every block takes at least 4+1+8(+4 flags)+8+16 bytes: bounds absurd counts before
     * looping. */
    size_t min_entry = version >= 2 ? 41 : 37;
    HB_CHECK(ctx, nb >= 1 && nb <= s->len / min_entry, HB_EFORMAT,
             "block table: absurd block count %llu", (unsigned long long)nb);
    bool flags_eq = true;
    uint64_t off = 0;
    bool match = p && dtype == (uint32_t)p->dtype && nb == p->n_blocks; /* then block by block */
    char mismatch[HB_MAX_BLOCK_NAME + 1] = "";
    for (uint64_t b = 0; b < nb; b++) {
        uint32_t len = get_u32(&r);
        HB_CHECK(ctx, !r.bad && len >= 1 && len <= HB_MAX_BLOCK_NAME, HB_EFORMAT,
                 "block table: entry %llu has a bad name length", (unsigned long long)b);
        const uint8_t *name = take(&r, len);
        uint32_t kind = get_u32(&r), bflags = version >= 2 ? get_u32(&r) : 0u;
        uint32_t ndim = get_u32(&r);
        HB_CHECK(ctx, !r.bad && (bflags & ~(uint32_t)BLKF_FROZEN) == 0, HB_EFORMAT,
                 "block table: entry %llu has unknown flags 0x%x", (unsigned long long)b, bflags);
        HB_CHECK(ctx, !r.bad && ndim >= 1 && ndim <= HB_MAX_DIMS, HB_EFORMAT,
                 "block table: entry %llu has a bad rank", (unsigned long long)b);
        HB_CHECK(ctx, strcmp(hb_block_kind_name((hb_block_kind)kind), "?") != 0, HB_EFORMAT,
                 "block table: entry %llu has an unknown kind %u", (unsigned long long)b, kind);
        int64_t shape[HB_MAX_DIMS];
        uint64_t numel = 1;
        for (uint32_t d = 0; d < ndim; d++) {
            uint64_t e = get_u64(&r);
            HB_CHECK(ctx, !r.bad && e >= 1 && e <= (uint64_t)INT64_MAX &&
                              !__builtin_mul_overflow(numel, e, &numel),
                     HB_EFORMAT, "block table: entry %llu has a bad shape", (unsigned long long)b);
            shape[d] = (int64_t)e;
        }
        uint64_t boff = get_u64(&r), bnum = get_u64(&r);
        HB_CHECK(ctx, !r.bad && boff == off && bnum == numel &&
                          !__builtin_add_overflow(off, numel, &off),
                 HB_EFORMAT, "block table: entry %llu has an inconsistent offset or size",
                 (unsigned long long)b);
        HB_CHECK(ctx, memchr(name, '\0', len) == NULL, HB_EFORMAT,
                 "block table: entry %llu has a NUL in its name", (unsigned long long)b);
        if (match) {
            const hb__block *blk = &p->blocks[b];
            bool same = strlen(blk->name) == len && memcmp(blk->name, name, len) == 0 &&
                        (uint32_t)blk->kind == kind && (uint32_t)blk->ndim == ndim;
            for (uint32_t d = 0; same && d < ndim; d++) same = blk->shape[d] == shape[d];
            if (blk->frozen != ((bflags & BLKF_FROZEN) != 0)) flags_eq = false;
            if (!same) {
                match = false;
                memcpy(mismatch, blk->name, strlen(blk->name) + 1);
            }
        }
    }
    HB_CHECK(ctx, r.pos == r.len, HB_EFORMAT, "block table: %zu trailing bytes", r.len - r.pos);
    HB_CHECK(ctx, off == n, HB_EFORMAT, "block table: blocks sum to %llu, header says %llu",
             (unsigned long long)off, (unsigned long long)n);
    if (n_out) *n_out = n;
    if (nb_out) *nb_out = nb;
    if (!p) return HB_OK;
    HB_CHECK(ctx, dtype == (uint32_t)p->dtype, HB_ESHAPE,
             "checkpoint holds %s parameters, the params are %s",
             dtype_str(dtype), dtype_str((uint32_t)p->dtype));
    HB_CHECK(ctx, nb == p->n_blocks, HB_ESHAPE, "checkpoint has %llu blocks, the params %zu",
             (unsigned long long)nb, p->n_blocks);
    HB_CHECK(ctx, match, HB_ESHAPE,
             "checkpoint does not match the params: block '%s' differs in name, kind or shape",
             mismatch);
    /* equal block tables have equal lengths (the table's own sum was checked above) */
    HB_CHECK(ctx, n == p->n, HB_ESHAPE, "checkpoint length %llu, the params %zu",
             (unsigned long long)n, p->n);
    *same_flags = flags_eq;
    return HB_OK;
}

/* A validated optimizer section: arrays to copy at commit. */
typedef struct optim_image {
    int64_t t;
    uint64_t stream;
    uint32_t flags;
    const uint8_t *arr[6]; /* by array id */
    size_t count[6];
} optim_image;

static int validate_optim(hb_context *ctx, const section *s, hb_optimizer *o, optim_image *img);

/* The optimizer section, plus what an optimizer needs beyond it: its layout is current
 * (flags unchanged since create, else HB_ESTATE) and the file's flags are the params'. */
static int validate_optim_section(hb_context *ctx, const section *s, hb_optimizer *o,
                                  bool same_flags, optim_image *img) {
    HB_TRY(validate_optim(ctx, s, NULL, img)); /* structure first: HB_EFORMAT wins */
    if (!o) return HB_OK;
    HB_CHECK(ctx, o->trainable_gen == o->p->trainable_gen, HB_ESTATE,
             "the params' trainable flags changed since the optimizer was created: create a "
             "new optimizer before loading state into it");
    HB_CHECK(ctx, same_flags, HB_ESHAPE,
             "checkpoint's frozen blocks differ from the params' (optimizer state covers the "
             "trainable blocks only)");
    return validate_optim(ctx, s, o, img);
}

static int validate_optim(hb_context *ctx, const section *s, hb_optimizer *o, optim_image *img) {
    reader r = {s->payload, s->len, 0, false};
    uint32_t kind = get_u32(&r), sdtype = get_u32(&r);
    uint64_t t = get_u64(&r), heads = get_u64(&r), stream = get_u64(&r);
    uint32_t flags = get_u32(&r), k = get_u32(&r);
    HB_CHECK(ctx, !r.bad, HB_EFORMAT, "optimizer section truncated");
    HB_CHECK(ctx, strcmp(hb_optimizer_kind_name((hb_optimizer_kind)kind), "?") != 0, HB_EFORMAT,
             "optimizer section: unknown kind %u", kind);
    HB_CHECK(ctx, sdtype == HB_F32 || sdtype == HB_F64, HB_EFORMAT,
             "optimizer section: bad state dtype %u", sdtype);
    HB_CHECK(ctx, t < (uint64_t)INT64_MAX && (flags & ~3u) == 0 && k <= 5, HB_EFORMAT,
             "optimizer section: bad step count, flags or array count");
    /* heads is 1 except for Adam-mini, whose value is one HB_OPT_HEADS accepts (1..2^31):
     * a file saying otherwise was not written by us (issue 12.10). */
    const bool mini = kind == (uint32_t)HB_OPTIM_ADAM_MINI;
    HB_CHECK(ctx, mini ? heads >= 1 && heads <= ((uint64_t)1 << 31) : heads == 1, HB_EFORMAT,
             "optimizer section: heads %llu (must be %s)", (unsigned long long)heads,
             mini ? "in 1..2^31 for Adam-mini" : "1 for every kind but Adam-mini");
    memset(img, 0, sizeof *img);
    size_t es = sdtype == HB_F64 ? 8 : 4;
    for (uint32_t i = 0; i < k; i++) {
        uint32_t id = get_u32(&r), reserved = get_u32(&r);
        uint64_t count = get_u64(&r);
        HB_CHECK(ctx, !r.bad && id >= 1 && id <= 5 && reserved == 0 && !img->arr[id], HB_EFORMAT,
                 "optimizer section: bad or repeated array %u", id);
        size_t aes = id == ARR_MASTER ? 4 : id == ARR_RESTART ? 8 : es;
        HB_CHECK(ctx, count <= (r.len - r.pos) / aes, HB_EFORMAT,
                 "optimizer section: array %u claims %llu entries, only %zu bytes remain", id,
                 (unsigned long long)count, r.len - r.pos);
        img->arr[id] = take(&r, (size_t)count * aes);
        img->count[id] = (size_t)count;
    }
    HB_CHECK(ctx, r.pos == r.len, HB_EFORMAT, "optimizer section: %zu trailing bytes",
             r.len - r.pos);
    HB_CHECK(ctx, ((flags & OPTF_MASTER_VALID) != 0) == (img->arr[ARR_MASTER] != NULL),
             HB_EFORMAT, "optimizer section: master flag and master array disagree");
    for (size_t b = 0; img->arr[ARR_RESTART] && b < img->count[ARR_RESTART]; b++) {
        uint64_t v = 0;
        for (int j = 7; j >= 0; j--) v = v << 8 | img->arr[ARR_RESTART][8 * b + (size_t)j];
        HB_CHECK(ctx, v <= t, HB_EFORMAT,
                 "optimizer section: block %zu restarted at step %llu, after the step count %llu",
                 b, (unsigned long long)v, (unsigned long long)t);
    }
    if (!o) return HB_OK;
    /* Match with the optimizer. */
    HB_CHECK(ctx, kind == (uint32_t)o->kind, HB_ESHAPE,
             "checkpoint holds %s state, the optimizer is %s",
             hb_optimizer_kind_name((hb_optimizer_kind)kind), hb_optimizer_kind_name(o->kind));
    HB_CHECK(ctx, sdtype == (uint32_t)o->sdtype, HB_ESHAPE, "optimizer state dtype differs");
    HB_CHECK(ctx, o->kind != HB_OPTIM_ADAM_MINI || heads == (uint64_t)o->heads, HB_ESHAPE,
             "checkpoint has Adam-mini state for %llu heads, the optimizer uses %lld",
             (unsigned long long)heads, (long long)o->heads);
    HB_CHECK(ctx, !img->arr[ARR_MASTER] || o->master_on, HB_ESHAPE,
             "checkpoint has a master copy, the optimizer has MASTER_COPY off");
    HB_TRY(hb__optim_prepare(o)); /* allocates Adam-mini v / master if needed; no value changes */
    size_t n = o->n_state; /* state arrays cover the trainable blocks only */
    bool sgd = o->kind == HB_OPTIM_SGD;
    size_t vlen = o->kind == HB_OPTIM_ADAM_MINI ? o->n_part : n;
    HB_CHECK(ctx, sgd ? (img->arr[ARR_MOMENTUM] && img->count[ARR_MOMENTUM] == n &&
                         !img->arr[ARR_M] && !img->arr[ARR_V])
                      : (!img->arr[ARR_MOMENTUM] && img->arr[ARR_M] && img->count[ARR_M] == n &&
                         img->arr[ARR_V] && img->count[ARR_V] == vlen),
             HB_ESHAPE, "optimizer state arrays do not match the optimizer's layout");
    HB_CHECK(ctx, !img->arr[ARR_MASTER] || img->count[ARR_MASTER] == n, HB_ESHAPE,
             "master copy has the wrong length");
    HB_CHECK(ctx, !img->arr[ARR_RESTART] || img->count[ARR_RESTART] == o->p->n_blocks, HB_ESHAPE,
             "restart steps for %zu blocks, the params have %zu", img->count[ARR_RESTART],
             o->p->n_blocks);
    img->t = (int64_t)t;
    img->stream = stream;
    img->flags = flags;
    return HB_OK;
}

/* Versions read: 1 (1.0) and 2.x for every minor x (bits 16-31): a minor version only adds
 * optional sections. */
static bool version_known(uint32_t v) {
    return v == 1 || (v & 0xffffu) == HB_CHECKPOINT_VERSION;
}

/* Section 4, validated: the fields (docs/checkpoint-format.md). A payload of a later
 * section version than MODEL_SECTION_VERSION keeps these fields and may append more: they
 * are ignored. */
static int parse_model(hb_context *ctx, const section *s, hb__params_origin *m) {
    reader r = {s->payload, s->len, 0, false};
    memset(m, 0, sizeof *m);
    uint32_t version = get_u32(&r), kind = get_u32(&r);
    m->seed = (int64_t)get_u64(&r);
    m->stream = get_u64(&r);
    m->data = get_u32(&r);
    uint32_t k = get_u32(&r);
    m->data_seed = (int64_t)get_u64(&r);
    m->data_stream = get_u64(&r);
    m->data_batches = get_u64(&r);
    m->data_first = get_u64(&r);
    HB_CHECK(ctx, !r.bad, HB_EFORMAT, "model section truncated");
    HB_CHECK(ctx, version >= 1, HB_EFORMAT, "model section: version 0");
    HB_CHECK(ctx, kind != 0, HB_EFORMAT, "model section: model kind 0");
    HB_CHECK(ctx, k <= HB__ORIGIN_MAX_KEYS && k <= (r.len - r.pos) / MODEL_KEY_BYTES, HB_EFORMAT,
             "model section: %u configuration keys (at most %d, and what the payload holds)", k,
             HB__ORIGIN_MAX_KEYS);
    HB_CHECK(ctx, version > MODEL_SECTION_VERSION || r.len - r.pos == (size_t)k * MODEL_KEY_BYTES,
             HB_EFORMAT, "model section: %zu bytes after the keys", r.len - r.pos - (size_t)k * MODEL_KEY_BYTES);
    if (m->data > HB__DATA_EXTERNAL) {
        /* a data source of a later version: not ours to rebuild */
        HB_CHECK(ctx, version > MODEL_SECTION_VERSION, HB_EFORMAT, "model section: data kind %u",
                 m->data);
        m->data = HB__DATA_EXTERNAL;
    }
    bool seen[HB__ORIGIN_MAX_KEYS] = {false};
    for (uint32_t i = 0; i < k; i++) {
        uint32_t key = get_u32(&r), type = get_u32(&r);
        uint64_t bits = get_u64(&r);
        HB_CHECK(ctx, key >= 1 && key < HB__ORIGIN_MAX_KEYS && !seen[key] &&
                          (type == KEY_I64 || type == KEY_F64), HB_EFORMAT,
                 "model section: bad or repeated key %u (type %u)", key, type);
        seen[key] = true;
        double v;
        if (type == KEY_F64) memcpy(&v, &bits, 8);
        else v = (double)(int64_t)bits;
        HB_CHECK(ctx, isfinite(v), HB_EFORMAT, "model section: key %u is not finite", key);
        m->keys[i] = (hb__origin_key){key, type == KEY_F64, v};
    }
    m->kind = kind;
    m->n_keys = k;
    m->present = true;
    return HB_OK;
}

/* A whole image, structure and CRCs checked: its sections. */
typedef struct image {
    uint32_t major, minor;
    bool has_optim, has_model;
    section sb, sp, so, sm;
    hb__params_origin model; /* has_model */
} image;

static int parse_image(hb_context *ctx, const uint8_t *buf, size_t len, image *im) {
    memset(im, 0, sizeof *im);
    uint32_t table[256];
    crc_table(table);
    reader r = {buf, len, 0, false};
    const uint8_t *magic = take(&r, 8);
    HB_CHECK(ctx, magic && memcmp(magic, MAGIC, 8) == 0, HB_EFORMAT,
             "not a libhessblock checkpoint (bad magic)");
    uint32_t version = get_u32(&r), flags = get_u32(&r);
    uint64_t size = get_u64(&r);
    uint32_t nsec = get_u32(&r), crc = get_u32(&r);
    HB_CHECK(ctx, !r.bad, HB_EFORMAT, "checkpoint truncated in its header");
    HB_CHECK(ctx, crc == crc_update(table, 0, buf, HDR_BYTES - 4), HB_EFORMAT,
             "checkpoint header: CRC mismatch");
    HB_CHECK(ctx, version_known(version), HB_EFORMAT,
             "checkpoint format version %u.%u, this library reads 1.0 and %d.x", version & 0xffffu,
             version >> 16, HB_CHECKPOINT_VERSION);
    im->major = version & 0xffffu;
    im->minor = version >> 16;
    HB_CHECK(ctx, size == len, HB_EFORMAT,
             "checkpoint is %zu bytes, its header says %llu (truncated or trailing data)", len,
             (unsigned long long)size);
    const uint32_t base = flags == 1 ? 3 : 2, optional = im->major >= 2 && im->minor >= 1 ? MAX_OPTIONAL : 0;
    HB_CHECK(ctx, flags <= 1 && nsec >= base && nsec - base <= optional, HB_EFORMAT,
             "checkpoint header: bad flags %u or section count %u", flags, nsec);
    HB_TRY(read_section(ctx, table, &r, SEC_BLOCKS, &im->sb));
    HB_TRY(read_section(ctx, table, &r, SEC_PARAMS, &im->sp));
    im->has_optim = flags == 1;
    if (im->has_optim) HB_TRY(read_section(ctx, table, &r, SEC_OPTIM, &im->so));
    uint32_t last = SEC_FIRST_OPTIONAL - 1;
    for (uint32_t i = base; i < nsec; i++) {
        section x;
        HB_TRY(read_section(ctx, table, &r, 0, &x));
        HB_CHECK(ctx, x.tag > last, HB_EFORMAT,
                 "checkpoint: optional section %u after section %u (tags must increase)", x.tag, last);
        last = x.tag;
        if (x.tag == SEC_MODEL) {
            im->sm = x;
            im->has_model = true;
            HB_TRY(parse_model(ctx, &x, &im->model));
        } /* other tags: a later minor version's, skipped (their CRC was checked) */
    }
    HB_CHECK(ctx, r.pos == r.len, HB_EFORMAT, "checkpoint: %zu bytes after the last section",
             r.len - r.pos);
    return HB_OK;
}

/* The 32-byte header alone: magic, supported version, matching size field, header CRC. */
static bool header_is_valid(const uint8_t *hdr, off_t file_size) {
    uint32_t table[256];
    crc_table(table);
    reader r = {hdr, HDR_BYTES, 0, false};
    const uint8_t *magic = take(&r, 8);
    uint32_t version = get_u32(&r);
    (void)get_u32(&r); /* flags */
    uint64_t size = get_u64(&r);
    (void)get_u32(&r); /* section count */
    uint32_t crc = get_u32(&r);
    return !r.bad && magic && memcmp(magic, MAGIC, 8) == 0 && version_known(version) &&
           size == (uint64_t)file_size && crc == crc_update(table, 0, hdr, HDR_BYTES - 4);
}

int hb_checkpoint_load_buffer(const void *buf, size_t len, hb_params *p, hb_optimizer *opt) {
    if (!p) return HB_EINVAL;
    hb_context *ctx = p->ctx;
    HB_CHECK(ctx, buf != NULL || len == 0, HB_EINVAL, "buffer is NULL");
    HB_CHECK(ctx, p->finalized, HB_ESTATE, "params are not finalised");
    HB_CHECK(ctx, !opt || opt->p == p, HB_EINVAL, "the optimizer is over other params");
    image im;
    HB_TRY(parse_image(ctx, buf, len, &im));
    const uint32_t flags = im.has_optim;
    section sp = im.sp, so = im.so;
    bool same_flags = false;
    HB_TRY(validate_blocks(ctx, &im.sb, p, im.major, &same_flags, NULL, NULL));
    size_t es = dtype_bytes(p->dtype);
    HB_CHECK(ctx, sp.len / es == p->n && sp.len % es == 0, HB_EFORMAT,
             "parameter payload has %zu bytes, expected %zu", sp.len, p->n * es);
    optim_image img;
    if (flags) HB_TRY(validate_optim_section(ctx, &so, opt, same_flags, &img));
    else HB_CHECK(ctx, opt == NULL, HB_ESHAPE, "checkpoint has no optimizer state");
    /* Commit: nothing below can fail. */
    copy_le(p->data, sp.payload, p->n, es);
    if (opt) {
        size_t ses = opt->sdtype == HB_F64 ? 8 : 4;
        if (img.arr[ARR_MOMENTUM]) copy_le(opt->buf, img.arr[ARR_MOMENTUM], img.count[ARR_MOMENTUM], ses);
        if (img.arr[ARR_M]) copy_le(opt->m, img.arr[ARR_M], img.count[ARR_M], ses);
        if (img.arr[ARR_V]) copy_le(opt->v, img.arr[ARR_V], img.count[ARR_V], ses);
        if (img.arr[ARR_MASTER]) copy_le(opt->master, img.arr[ARR_MASTER], img.count[ARR_MASTER], 4);
        opt->master_valid = img.arr[ARR_MASTER] != NULL;
        if (img.arr[ARR_RESTART]) copy_le(opt->t0, img.arr[ARR_RESTART], img.count[ARR_RESTART], 8);
        else memset(opt->t0, 0, opt->p->n_blocks * sizeof *opt->t0);
        if (img.flags & OPTF_STREAM) {
            opt->stream = img.stream;
            opt->has_stream = true;
        }
        opt->t = img.t;
    }
    return HB_OK;
}

int hb_checkpoint_load(const char *path, hb_params *p, hb_optimizer *opt) {
    if (!p) return HB_EINVAL;
    hb_context *ctx = p->ctx;
    HB_CHECK(ctx, path != NULL, HB_EINVAL, "path is NULL");
    HB_CHECK(ctx, p->finalized, HB_ESTATE, "params are not finalised");
    FILE *f = fopen(path, "rb");
    HB_CHECK(ctx, f != NULL, HB_EIO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return hb__fail(ctx, HB_EIO, "'%s' is not a regular file", path);
    }
    /* A checkpoint of these params is at most: header, block table, payload and the
     * largest optimizer section (three state arrays of f64, an f32 master copy and the
     * per-block restart steps), and optional sections (format 2.1) up to a fixed size. */
    uint64_t most = (uint64_t)total_size(p, NULL) + SEC_HDR + 4 + 40 + 5 * 16 +
                    (uint64_t)p->n * (3 * 8 + 4) + (uint64_t)p->n_blocks * 8 +
                    MAX_OPTIONAL * (SEC_HDR + 4) + OPTIONAL_MAX_BYTES;
    if ((uint64_t)st.st_size < HDR_BYTES || (uint64_t)st.st_size > most) {
        /* Too big to be ours: a well-formed header (magic, version, CRC, size) means a
         * valid checkpoint of a larger model, which the contract calls HB_ESHAPE; we read
         * those 32 bytes only, never the rest of an arbitrarily large file. */
        uint8_t hdr[HDR_BYTES];
        bool valid_header = (uint64_t)st.st_size >= HDR_BYTES &&
                            fread(hdr, 1, HDR_BYTES, f) == HDR_BYTES && header_is_valid(hdr, st.st_size);
        fclose(f);
        if (valid_header)
            return hb__fail(ctx, HB_ESHAPE, "'%s' is a checkpoint of %lld bytes, more than any "
                            "checkpoint of these params (%llu): it is for another model", path,
                            (long long)st.st_size, (unsigned long long)most);
        return hb__fail(ctx, HB_EFORMAT, "'%s' has %lld bytes: not a checkpoint of these objects",
                        path, (long long)st.st_size);
    }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = hb__malloc(ctx, len, "checkpoint image");
    if (!buf) {
        fclose(f);
        return HB_ENOMEM;
    }
    size_t got = fread(buf, 1, len, f);
    int rerr = ferror(f);
    fclose(f);
    int rc;
    if (rerr) rc = hb__fail(ctx, HB_EIO, "cannot read '%s'", path);
    else rc = hb_checkpoint_load_buffer(buf, got, p, opt);
    hb__free(ctx, buf);
    return rc;
}

/* ---- what a checkpoint holds (format 2.1) ---- */
struct hb_checkpoint_info {
    hb_context *ctx;
    uint32_t major, minor, dtype;
    uint64_t n, nb;
    bool has_optim;
    uint32_t optim_kind;
    uint64_t step;
    hb__params_origin model; /* model.present: the file has a model section */
};

int hb_checkpoint_info_read_buffer(hb_context *ctx, const void *buf, size_t len,
                                   hb_checkpoint_info **out) {
    if (out) *out = NULL;
    if (!ctx) return HB_EINVAL;
    HB_CHECK(ctx, out != NULL, HB_EINVAL, "output pointer is NULL");
    HB_CHECK(ctx, buf != NULL || len == 0, HB_EINVAL, "buffer is NULL");
    image im;
    HB_TRY(parse_image(ctx, buf, len, &im));
    uint64_t n = 0, nb = 0;
    HB_TRY(validate_blocks(ctx, &im.sb, NULL, im.major, NULL, &n, &nb));
    const uint32_t dtype = (uint32_t)im.sb.payload[0] | (uint32_t)im.sb.payload[1] << 8 |
                           (uint32_t)im.sb.payload[2] << 16 | (uint32_t)im.sb.payload[3] << 24;
    size_t es = dtype_bytes((hb_dtype)dtype);
    HB_CHECK(ctx, im.sp.len % es == 0 && im.sp.len / es == n, HB_EFORMAT,
             "parameter payload has %zu bytes, expected %llu", im.sp.len,
             (unsigned long long)(n * es));
    optim_image img;
    if (im.has_optim) HB_TRY(validate_optim(ctx, &im.so, NULL, &img));
    hb_checkpoint_info *info = hb__calloc(ctx, 1, sizeof *info, "checkpoint info");
    if (!info) return HB_ENOMEM;
    info->ctx = ctx;
    info->major = im.major;
    info->minor = im.minor;
    info->dtype = dtype;
    info->n = n;
    info->nb = nb;
    info->has_optim = im.has_optim;
    if (im.has_optim) {
        reader r = {im.so.payload, im.so.len, 0, false};
        info->optim_kind = get_u32(&r);
        (void)get_u32(&r); /* state dtype */
        info->step = get_u64(&r);
    }
    if (im.has_model) info->model = im.model;
    *out = info;
    return HB_OK;
}

int hb_checkpoint_info_read(hb_context *ctx, const char *path, hb_checkpoint_info **out) {
    if (out) *out = NULL;
    if (!ctx) return HB_EINVAL;
    HB_CHECK(ctx, path != NULL && out != NULL, HB_EINVAL, "path or output pointer is NULL");
    FILE *f = fopen(path, "rb");
    HB_CHECK(ctx, f != NULL, HB_EIO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return hb__fail(ctx, HB_EIO, "'%s' is not a regular file", path);
    }
    /* The header first: a file that is not a checkpoint is never read whole. */
    uint8_t hdr[HDR_BYTES];
    if ((uint64_t)st.st_size < HDR_BYTES || fread(hdr, 1, HDR_BYTES, f) != HDR_BYTES ||
        !header_is_valid(hdr, st.st_size) || (uint64_t)st.st_size > SIZE_MAX) {
        fclose(f);
        return hb__fail(ctx, HB_EFORMAT, "'%s' is not a libhessblock checkpoint (bad header)", path);
    }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = hb__malloc(ctx, len, "checkpoint image");
    if (!buf) {
        fclose(f);
        return HB_ENOMEM;
    }
    memcpy(buf, hdr, HDR_BYTES);
    size_t got = HDR_BYTES + fread(buf + HDR_BYTES, 1, len - HDR_BYTES, f);
    int rerr = ferror(f);
    fclose(f);
    int rc;
    if (rerr) rc = hb__fail(ctx, HB_EIO, "cannot read '%s'", path);
    else rc = hb_checkpoint_info_read_buffer(ctx, buf, got, out);
    hb__free(ctx, buf);
    return rc;
}

void hb_checkpoint_info_free(hb_checkpoint_info *info) {
    if (info) hb__free(info->ctx, info);
}

int hb_checkpoint_info_get_i64(const hb_checkpoint_info *info, hb_checkpoint_key key,
                               int64_t *value) {
    if (!info) return HB_EINVAL;
    hb_context *ctx = info->ctx;
    HB_CHECK(ctx, value != NULL, HB_EINVAL, "value pointer is NULL");
    const hb__params_origin *m = &info->model;
    const bool synthetic = m->present && m->data == HB__DATA_SYNTHETIC;
    switch (key) {
    case HB_CK_VERSION_MAJOR: *value = info->major; return HB_OK;
    case HB_CK_VERSION_MINOR: *value = info->minor; return HB_OK;
    case HB_CK_DTYPE: *value = info->dtype; return HB_OK;
    case HB_CK_NUM_PARAMS: *value = (int64_t)info->n; return HB_OK;
    case HB_CK_NUM_BLOCKS: *value = (int64_t)info->nb; return HB_OK;
    case HB_CK_HAS_OPTIMIZER: *value = info->has_optim; return HB_OK;
    case HB_CK_HAS_MODEL: *value = m->present; return HB_OK;
    case HB_CK_OPTIMIZER_KIND:
    case HB_CK_STEP:
        HB_CHECK(ctx, info->has_optim, HB_ENOTFOUND, "the checkpoint holds no optimizer state");
        *value = key == HB_CK_STEP ? (int64_t)info->step : (int64_t)info->optim_kind;
        return HB_OK;
    case HB_CK_MODEL_KIND:
    case HB_CK_MODEL_SEED:
    case HB_CK_MODEL_STREAM:
    case HB_CK_DATA:
        HB_CHECK(ctx, m->present, HB_ENOTFOUND,
                 "the checkpoint has no model section (format before 2.1, or params not made by "
                 "hb_model_create)");
        *value = key == HB_CK_MODEL_KIND ? (int64_t)m->kind
                 : key == HB_CK_MODEL_SEED ? m->seed
                 : key == HB_CK_MODEL_STREAM ? (int64_t)m->stream : (int64_t)m->data;
        return HB_OK;
    case HB_CK_DATA_BATCHES:
        /* external data built from a file or corpus records its micro-batch count too */
        if (m->present && m->data == HB__DATA_EXTERNAL && m->data_batches > 0) {
            *value = (int64_t)m->data_batches;
            return HB_OK;
        }
        /* fall through */
    case HB_CK_DATA_SEED:
    case HB_CK_DATA_STREAM:
    case HB_CK_DATA_FIRST:
        HB_CHECK(ctx, synthetic, HB_ENOTFOUND,
                 m->present ? "the checkpoint's model did not hold synthetic data"
                            : "the checkpoint has no model section");
        *value = key == HB_CK_DATA_SEED ? m->data_seed
                 : key == HB_CK_DATA_STREAM ? (int64_t)m->data_stream
                 : key == HB_CK_DATA_BATCHES ? (int64_t)m->data_batches : (int64_t)m->data_first;
        return HB_OK;
    }
    return hb__fail(ctx, HB_EINVAL, "unknown checkpoint key %d", (int)key);
}

int hb_checkpoint_info_model_config(const hb_checkpoint_info *info, hb_model_config **out) {
    if (out) *out = NULL;
    if (!info) return HB_EINVAL;
    hb_context *ctx = info->ctx;
    HB_CHECK(ctx, out != NULL, HB_EINVAL, "output pointer is NULL");
    const hb__params_origin *m = &info->model;
    HB_CHECK(ctx, m->present, HB_ENOTFOUND,
             "the checkpoint has no model section (format before 2.1, or params not made by "
             "hb_model_create)");
    hb_model_config *cfg = NULL;
    int rc = hb_model_config_create(ctx, (hb_model_kind)m->kind, &cfg);
    for (uint32_t i = 0; rc == HB_OK && i < m->n_keys; i++) {
        const hb__origin_key *k = &m->keys[i];
        rc = k->real ? hb_model_config_set_f64(cfg, (hb_model_key)k->key, k->value)
                     : hb_model_config_set_i64(cfg, (hb_model_key)k->key, (int64_t)k->value);
    }
    if (rc != HB_OK) {
        hb_model_config_free(cfg);
        if (rc == HB_ENOMEM) return rc;
        /* the message of the failed call says which kind, key or value (copied: the
         * context's message buffer is the destination) */
        char why[256];
        snprintf(why, sizeof why, "%s", hb_context_last_error(ctx));
        return hb__fail(ctx, HB_EUNSUPPORTED,
                        "the checkpoint's model configuration cannot be rebuilt by this "
                        "library: %s", why);
    }
    *out = cfg;
    return HB_OK;
}
