/* IDX reader (hb_idx_read, docs/data.md): header, then big-endian elements.
 *
 *   bytes 0-1   0x00 0x00
 *   byte  2     type: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64
 *   byte  3     d = number of dimensions (1..HB_MAX_DIMS here)
 *   4·d bytes   the sizes, u32 big-endian, each ≥ 1
 *   then        Π sizes elements of the type, big-endian, row-major; nothing after them.
 *
 * zlib's gz* functions read gzip files and, transparently, raw ones (gzread checks the gzip
 * magic), so one code path serves both. A gzip file's decompressed length is unknown until
 * it is read: the payload buffer grows in chunks up to the declared size (itself checked
 * against HB_IDX_MAX_ELEMENTS first), so a small file that declares a huge array fails on
 * its missing bytes, not on a huge allocation. */
#include <limits.h>
#include <string.h>
#include <zlib.h>

#include "tensor/tensor_internal.h"
#include "hessblock/data.h"

enum { IDX_FIRST_CHUNK = 1 << 20 };

typedef struct idx_type {
    unsigned code;
    size_t size;
    hb_dtype dtype;
    const char *name;
} idx_type;

static const idx_type idx_types[] = {
    {0x08, 1, HB_I32, "u8"},  {0x09, 1, HB_I32, "i8"},  {0x0B, 2, HB_I32, "i16"},
    {0x0C, 4, HB_I32, "i32"}, {0x0D, 4, HB_F32, "f32"}, {0x0E, 8, HB_F64, "f64"},
};

static const idx_type *idx_type_of(unsigned code) {
    for (size_t i = 0; i < sizeof idx_types / sizeof idx_types[0]; i++)
        if (idx_types[i].code == code) return &idx_types[i];
    return NULL;
}

/* Read up to n bytes into dst, the count read into *count (< n only at the end of the
 * data). Returns HB_OK, or HB_EIO / HB_EFORMAT on a read or gzip error. */
static int read_some(hb_context *ctx, gzFile gz, const char *path, void *dst, size_t n, size_t *count) {
    size_t got = 0;
    *count = 0;
    while (got < n) {
        size_t want = n - got > (size_t)INT_MAX / 2 ? (size_t)INT_MAX / 2 : n - got;
        int r = gzread(gz, (char *)dst + got, (unsigned)want);
        if (r < 0) {
            int zerr = 0;
            const char *msg = gzerror(gz, &zerr);
            return hb__fail(ctx, zerr == Z_ERRNO ? HB_EIO : HB_EFORMAT, "cannot read IDX file '%s': %s",
                            path, zerr == Z_ERRNO ? "read error" : msg);
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    *count = got;
    return HB_OK;
}

/* A gzip stream that ends early is an error zlib reports only at the end: check it. */
static int check_stream_end(hb_context *ctx, gzFile gz, const char *path) {
    int zerr = Z_OK;
    const char *msg = gzerror(gz, &zerr);
    if (zerr != Z_OK && zerr != Z_STREAM_END)
        return hb__fail(ctx, HB_EFORMAT, "IDX file '%s': corrupt or truncated gzip data (%s)", path, msg);
    return HB_OK;
}

/* Header: type and dims, validated. */
static int read_header(hb_context *ctx, gzFile gz, const char *path, const idx_type **type, int *ndim,
                       int64_t *dims, size_t *numel) {
    unsigned char h[4 + 4 * 255];
    size_t got = 0;
    HB_TRY(read_some(ctx, gz, path, h, 4, &got));
    HB_TRY(check_stream_end(ctx, gz, path));
    HB_CHECK(ctx, got == 4, HB_EFORMAT, "IDX file '%s' is truncated: %zu of the 4 magic bytes", path, got);
    HB_CHECK(ctx, h[0] == 0 && h[1] == 0, HB_EFORMAT,
             "'%s' is not an IDX file: magic starts 0x%02x 0x%02x, not two zero bytes", path, h[0], h[1]);
    *type = idx_type_of(h[2]);
    HB_CHECK(ctx, *type != NULL, HB_EFORMAT, "IDX file '%s': unknown type code 0x%02x", path, h[2]);
    HB_CHECK(ctx, h[3] >= 1 && h[3] <= HB_MAX_DIMS, HB_EFORMAT,
             "IDX file '%s' has %u dimensions; 1..%d are supported", path, h[3], HB_MAX_DIMS);
    *ndim = h[3];
    size_t need = 4 * (size_t)*ndim;
    HB_TRY(read_some(ctx, gz, path, h + 4, need, &got));
    HB_TRY(check_stream_end(ctx, gz, path));
    HB_CHECK(ctx, got == need, HB_EFORMAT,
             "IDX file '%s' is truncated in its header: %zu of %zu dimension bytes", path, got, need);
    uint64_t n = 1;
    for (int i = 0; i < *ndim; i++) {
        const unsigned char *p = h + 4 + 4 * i;
        uint64_t d = (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
        HB_CHECK(ctx, d >= 1, HB_EFORMAT, "IDX file '%s': dimension %d is 0", path, i);
        dims[i] = (int64_t)d;
        /* d < 2^32 and n ≤ 2^28 before the product: no overflow in 64 bits */
        n *= d;
        HB_CHECK(ctx, n <= HB_IDX_MAX_ELEMENTS, HB_EOVERFLOW,
                 "IDX file '%s' declares more than %llu elements (limit HB_IDX_MAX_ELEMENTS)", path,
                 (unsigned long long)HB_IDX_MAX_ELEMENTS);
    }
    *numel = (size_t)n;
    return HB_OK;
}

/* The payload: exactly `bytes` bytes, then the end of the data. *out allocated on success. */
static int read_payload(hb_context *ctx, gzFile gz, const char *path, size_t bytes, unsigned char **out) {
    *out = NULL;
    size_t cap = bytes < IDX_FIRST_CHUNK ? bytes : IDX_FIRST_CHUNK, have = 0;
    unsigned char *buf = hb__malloc(ctx, cap, "IDX payload");
    if (!buf) return HB_ENOMEM;
    int rc = HB_OK;
    for (;;) {
        size_t got = 0;
        rc = read_some(ctx, gz, path, buf + have, cap - have, &got);
        if (rc != HB_OK) break;
        have += got;
        if (have < cap || have == bytes) break; /* end of data, or all of it */
        size_t ncap = cap > bytes / 2 ? bytes : 2 * cap;
        unsigned char *nb = hb__malloc(ctx, ncap, "IDX payload");
        if (!nb) {
            rc = HB_ENOMEM;
            break;
        }
        memcpy(nb, buf, have);
        hb__free(ctx, buf);
        buf = nb, cap = ncap;
    }
    if (rc == HB_OK) rc = check_stream_end(ctx, gz, path);
    if (rc == HB_OK && have < bytes)
        rc = hb__fail(ctx, HB_EFORMAT, "IDX file '%s' is truncated: its data has %zu of the %zu bytes declared",
                      path, have, bytes);
    if (rc == HB_OK) {
        unsigned char extra;
        size_t more = 0;
        rc = read_some(ctx, gz, path, &extra, 1, &more);
        if (rc == HB_OK && more > 0)
            rc = hb__fail(ctx, HB_EFORMAT, "IDX file '%s' has bytes after the %zu bytes of data declared",
                          path, bytes);
        else if (rc == HB_OK) rc = check_stream_end(ctx, gz, path);
    }
    if (rc != HB_OK) {
        hb__free(ctx, buf);
        return rc;
    }
    *out = buf;
    return HB_OK;
}

/* Big-endian elements of type t → the tensor's dtype. */
static void decode(const idx_type *t, const unsigned char *src, size_t n, void *dst) {
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = src + i * t->size;
        uint64_t u = 0;
        for (size_t b = 0; b < t->size; b++) u = u << 8 | p[b];
        switch (t->code) {
        case 0x08: ((int32_t *)dst)[i] = (int32_t)u; break;
        case 0x09: ((int32_t *)dst)[i] = (int32_t)(int8_t)(uint8_t)u; break;
        case 0x0B: ((int32_t *)dst)[i] = (int32_t)(int16_t)(uint16_t)u; break;
        case 0x0C: ((int32_t *)dst)[i] = (int32_t)(uint32_t)u; break;
        case 0x0D: {
            uint32_t w = (uint32_t)u;
            float f;
            memcpy(&f, &w, sizeof f);
            ((float *)dst)[i] = f;
            break;
        }
        default: {
            double d;
            memcpy(&d, &u, sizeof d);
            ((double *)dst)[i] = d;
        }
        }
    }
}

int hb_idx_read(hb_context *ctx, const char *path, hb_tensor **out) {
    if (out) *out = NULL;
    if (!ctx) return HB_EINVAL;
    HB_CHECK(ctx, out != NULL, HB_EINVAL, "out is NULL");
    HB_CHECK(ctx, path != NULL, HB_EINVAL, "path is NULL");
    gzFile gz = gzopen(path, "rb");
    HB_CHECK(ctx, gz != NULL, HB_EIO, "cannot open IDX file '%s'", path);
    const idx_type *type = NULL;
    int ndim = 0;
    int64_t dims[HB_MAX_DIMS];
    size_t numel = 0;
    unsigned char *raw = NULL;
    hb_tensor *t = NULL;
    int rc = read_header(ctx, gz, path, &type, &ndim, dims, &numel);
    if (rc == HB_OK) rc = read_payload(ctx, gz, path, numel * type->size, &raw);
    gzclose(gz);
    if (rc == HB_OK) rc = hb_tensor_create(ctx, type->dtype, ndim, dims, &t);
    if (rc == HB_OK) decode(type, raw, numel, t->data);
    hb__free(ctx, raw);
    if (rc == HB_OK) *out = t;
    return rc;
}
