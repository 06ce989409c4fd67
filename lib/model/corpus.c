/* Character-level text corpora (include/hessblock/text.h): sources in the caller's order,
 * a vocabulary of the distinct bytes in increasing order, and a per-source positional
 * train/validation split (the last tenth of every source validates). Files are sized
 * and checked against the limits before anything is allocated; a file's bytes are read
 * into one buffer and go through the same constructor as buffers in memory, so the
 * fuzzer (fuzz/fuzz_text.c) exercises the code files use. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "hessblock/text.h"
#include "model/model_internal.h"

struct hb_text_corpus {
    hb_context *ctx;
    size_t vocab;
    uint8_t byte_of[256];  /* token id → byte */
    int16_t token_of[256]; /* byte → token id, −1 when absent */
    uint8_t *tok[2];       /* token ids of the training / validation split */
    size_t len[2];
};

/* Bytes of a source that validate: ⌊len/10⌋, the tail. */
static size_t valid_part(size_t len) { return len / 10; }

static int split_index(hb_text_split s) { return s == HB_SPLIT_TRAIN ? 0 : s == HB_SPLIT_VALID ? 1 : -1; }

int hb_text_corpus_create_buffers(hb_context *ctx, size_t n_sources, const void *const *data,
                                  const size_t *sizes, hb_text_corpus **out) {
    if (out) *out = NULL;
    if (!ctx) return HB_EINVAL;
    HB_CHECK(ctx, data && sizes && out, HB_EINVAL, "NULL data, sizes or out");
    HB_CHECK(ctx, n_sources >= 1 && n_sources <= HB_TEXT_MAX_SOURCES, HB_EINVAL,
             "a corpus has 1..%d sources, got %zu", HB_TEXT_MAX_SOURCES, n_sources);
    uint64_t total = 0;
    for (size_t i = 0; i < n_sources; i++) {
        HB_CHECK(ctx, data[i] != NULL, HB_EINVAL, "source %zu is NULL", i);
        HB_CHECK(ctx, sizes[i] > 0, HB_EFORMAT, "source %zu is empty", i);
        HB_CHECK(ctx, (uint64_t)sizes[i] <= HB_TEXT_MAX_BYTES - total, HB_EOVERFLOW,
                 "the corpus exceeds HB_TEXT_MAX_BYTES (%llu bytes) at source %zu",
                 (unsigned long long)HB_TEXT_MAX_BYTES, i);
        total += sizes[i];
    }
    hb_text_corpus *c = hb__calloc(ctx, 1, sizeof *c, "text corpus");
    if (!c) return HB_ENOMEM;
    c->ctx = ctx;
    /* The vocabulary: every byte present, in increasing order. */
    unsigned char seen[256] = {0};
    for (size_t i = 0; i < n_sources; i++) {
        const unsigned char *p = data[i];
        for (size_t j = 0; j < sizes[i]; j++) seen[p[j]] = 1;
    }
    for (int b = 0; b < 256; b++) {
        c->token_of[b] = -1;
        if (seen[b]) {
            c->token_of[b] = (int16_t)c->vocab;
            c->byte_of[c->vocab++] = (uint8_t)b;
        }
    }
    for (size_t i = 0; i < n_sources; i++) {
        c->len[1] += valid_part(sizes[i]);
        c->len[0] += sizes[i] - valid_part(sizes[i]);
    }
    /* +1: a split may be empty (every source shorter than 10 bytes validates nothing) */
    c->tok[0] = hb__malloc(ctx, c->len[0] + 1, "corpus training split");
    c->tok[1] = c->tok[0] ? hb__malloc(ctx, c->len[1] + 1, "corpus validation split") : NULL;
    if (!c->tok[1]) {
        hb_text_corpus_free(c);
        return HB_ENOMEM;
    }
    size_t at[2] = {0, 0};
    for (size_t i = 0; i < n_sources; i++) {
        const unsigned char *p = data[i];
        size_t nt = sizes[i] - valid_part(sizes[i]);
        for (size_t j = 0; j < sizes[i]; j++) {
            int s = j >= nt;
            c->tok[s][at[s]++] = (uint8_t)c->token_of[p[j]];
        }
    }
    *out = c;
    return HB_OK;
}

/* Size of one file, checked to be a regular file (before any allocation). */
static int file_size(hb_context *ctx, const char *path, uint64_t *size) {
    struct stat st;
    HB_CHECK(ctx, stat(path, &st) == 0, HB_EIO, "cannot open text file '%s'", path);
    HB_CHECK(ctx, S_ISREG(st.st_mode), HB_EIO, "'%s' is not a regular file", path);
    HB_CHECK(ctx, st.st_size > 0, HB_EFORMAT, "text file '%s' is empty", path);
    *size = (uint64_t)st.st_size;
    return HB_OK;
}

/* Exactly `size` bytes of the file into buf (a file that changed size since it was
 * measured is HB_EIO: it would make the split depend on timing). */
static int read_file(hb_context *ctx, const char *path, unsigned char *buf, size_t size) {
    FILE *f = fopen(path, "rb");
    HB_CHECK(ctx, f != NULL, HB_EIO, "cannot open text file '%s'", path);
    size_t got = fread(buf, 1, size, f);
    int extra = got == size ? fgetc(f) : EOF;
    int err = ferror(f);
    fclose(f);
    HB_CHECK(ctx, !err && got == size && extra == EOF, HB_EIO,
             "text file '%s' could not be read whole (%zu of %zu bytes; did it change?)", path,
             got, size);
    return HB_OK;
}

int hb_text_corpus_create(hb_context *ctx, size_t n_files, const char *const *paths,
                          hb_text_corpus **out) {
    if (out) *out = NULL;
    if (!ctx) return HB_EINVAL;
    HB_CHECK(ctx, paths && out, HB_EINVAL, "NULL paths or out");
    HB_CHECK(ctx, n_files >= 1 && n_files <= HB_TEXT_MAX_SOURCES, HB_EINVAL,
             "a corpus has 1..%d files, got %zu", HB_TEXT_MAX_SOURCES, n_files);
    for (size_t i = 0; i < n_files; i++)
        HB_CHECK(ctx, paths[i] != NULL, HB_EINVAL, "path %zu is NULL", i);
    uint64_t total = 0;
    for (size_t i = 0; i < n_files; i++) {
        uint64_t sz = 0;
        HB_TRY(file_size(ctx, paths[i], &sz));
        HB_CHECK(ctx, sz <= HB_TEXT_MAX_BYTES - total, HB_EOVERFLOW,
                 "the corpus exceeds HB_TEXT_MAX_BYTES (%llu bytes) at '%s' (%llu bytes)",
                 (unsigned long long)HB_TEXT_MAX_BYTES, paths[i], (unsigned long long)sz);
        total += sz;
    }
    size_t *sizes = hb__calloc(ctx, n_files, sizeof *sizes + sizeof(void *), "corpus sources");
    if (!sizes) return HB_ENOMEM;
    const void **data = (const void **)(void *)(sizes + n_files);
    unsigned char *all = hb__malloc(ctx, (size_t)total, "corpus file contents");
    int rc = all ? HB_OK : HB_ENOMEM;
    size_t at = 0;
    for (size_t i = 0; i < n_files && rc == HB_OK; i++) {
        uint64_t sz = 0;
        rc = file_size(ctx, paths[i], &sz);
        if (rc == HB_OK && sz > total - at)
            rc = hb__fail(ctx, HB_EIO, "text file '%s' grew while the corpus was read", paths[i]);
        if (rc == HB_OK) rc = read_file(ctx, paths[i], all + at, (size_t)sz);
        sizes[i] = (size_t)sz;
        data[i] = all + at;
        at += (size_t)sz;
    }
    if (rc == HB_OK) rc = hb_text_corpus_create_buffers(ctx, n_files, data, sizes, out);
    hb__free(ctx, all);
    hb__free(ctx, sizes);
    return rc;
}

void hb_text_corpus_free(hb_text_corpus *c) {
    if (!c) return;
    hb__free(c->ctx, c->tok[0]);
    hb__free(c->ctx, c->tok[1]);
    hb__free(c->ctx, c);
}

size_t hb_text_corpus_vocab_size(const hb_text_corpus *c) { return c ? c->vocab : 0; }

int hb_text_corpus_token_byte(const hb_text_corpus *c, size_t token) {
    return c && token < c->vocab ? c->byte_of[token] : -1;
}

int hb_text_corpus_byte_token(const hb_text_corpus *c, unsigned byte) {
    return c && byte < 256 ? c->token_of[byte] : -1;
}

size_t hb_text_corpus_num_tokens(const hb_text_corpus *c, hb_text_split split) {
    int s = split_index(split);
    return c && s >= 0 ? c->len[s] : 0;
}

int hb_text_corpus_copy_tokens(const hb_text_corpus *c, hb_text_split split, size_t offset,
                               size_t n, int32_t *out) {
    if (!c) return HB_EINVAL;
    int s = split_index(split);
    HB_CHECK(c->ctx, s >= 0, HB_EINVAL, "unknown split %d", (int)split);
    HB_CHECK(c->ctx, out || n == 0, HB_EINVAL, "out is NULL");
    HB_CHECK(c->ctx, offset <= c->len[s] && n <= c->len[s] - offset, HB_ERANGE,
             "%zu tokens from offset %zu run beyond the split's %zu", n, offset, c->len[s]);
    for (size_t i = 0; i < n; i++) out[i] = c->tok[s][offset + i];
    return HB_OK;
}

int hb_model_set_corpus(hb_model *m, const hb_text_corpus *c, hb_text_split split,
                        size_t n_batches, uint64_t first) {
    if (!m) return HB_EINVAL;
    hb_context *ctx = m->ctx;
    HB_CHECK(ctx, c != NULL, HB_EINVAL, "corpus is NULL");
    int s = split_index(split);
    HB_CHECK(ctx, s >= 0, HB_EINVAL, "unknown split %d (HB_SPLIT_TRAIN or HB_SPLIT_VALID)", (int)split);
    HB_CHECK(ctx, m->vt->text_shape != NULL, HB_EUNSUPPORTED,
             "the %s model takes no text data (only token-sequence models and their wrappers do)",
             m->vt->name);
    HB_CHECK(ctx, n_batches >= 1 && n_batches <= (1u << 20), HB_EINVAL,
             "n_batches must be in 1..2^20, got %zu", n_batches);
    size_t V = 0, T = 0;
    m->vt->text_shape(m, &V, &T);
    HB_CHECK(ctx, V >= c->vocab, HB_ERANGE,
             "the model's vocabulary (%zu) is smaller than the corpus's (%zu distinct bytes)", V,
             c->vocab);
    HB_CHECK(ctx, c->len[s] >= T + 1, HB_EFORMAT,
             "the corpus's %s split has %zu tokens, fewer than context + 1 = %zu",
             s ? "validation" : "training", c->len[s], T + 1);
    return hb__model_set_windows(m, c->tok[s], c->len[s], n_batches, first);
}
