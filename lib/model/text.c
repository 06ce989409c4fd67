/* Text data for token-sequence models (hb_model_set_text): the bytes of a file are the
 * tokens; each sample is a window of `context` bytes and its next-byte targets. Generic:
 * the model (or the wrapper, for the model it wraps) only tells its vocabulary and
 * context through the vtable's text_shape. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "hessblock/text.h"
#include "model/model_internal.h"

int hb_model_set_text(hb_model *m, const char *path, size_t n_batches, uint64_t first) {
    if (!m) return HB_EINVAL;
    hb_context *ctx = m->ctx;
    HB_CHECK(ctx, m->vt->text_shape != NULL, HB_EUNSUPPORTED,
             "the %s model takes no text data (only token-sequence models and their wrappers do)",
             m->vt->name);
    HB_CHECK(ctx, path != NULL, HB_EINVAL, "path is NULL");
    HB_CHECK(ctx, n_batches >= 1 && n_batches <= (1u << 20), HB_EINVAL,
             "n_batches must be in 1..2^20, got %zu", n_batches);
    size_t V = 0, T = 0;
    m->vt->text_shape(m, &V, &T);
    FILE *f = fopen(path, "rb");
    HB_CHECK(ctx, f != NULL, HB_EIO, "cannot open text file '%s'", path);
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return hb__fail(ctx, HB_EIO, "'%s' is not a readable regular file", path);
    }
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return hb__fail(ctx, HB_EIO, "cannot read text file '%s'", path);
    }
    if ((uint64_t)len > HB_TEXT_MAX_BYTES) {
        fclose(f);
        return hb__fail(ctx, HB_EOVERFLOW, "text file '%s' has %ld bytes, more than HB_TEXT_MAX_BYTES",
                        path, len);
    }
    if ((size_t)len < T + 1) {
        fclose(f);
        return hb__fail(ctx, HB_EFORMAT, "text file '%s' has %ld bytes, fewer than context + 1 = %zu",
                        path, len, T + 1);
    }
    unsigned char *text = hb__malloc(ctx, (size_t)len, "text file contents");
    if (!text) {
        fclose(f);
        return HB_ENOMEM;
    }
    size_t got = fread(text, 1, (size_t)len, f);
    fclose(f);
    int rc = HB_OK;
    if (got != (size_t)len) rc = hb__fail(ctx, HB_EIO, "cannot read text file '%s'", path);
    for (size_t i = 0; i < (size_t)len && rc == HB_OK; i++)
        if (text[i] >= V)
            rc = hb__fail(ctx, HB_ERANGE, "byte %u at offset %zu of '%s' is outside the vocabulary [0, %zu)",
                          text[i], i, path, V);
    if (rc == HB_OK) rc = hb__model_set_windows(m, text, (size_t)len, n_batches, first);
    hb__free(ctx, text);
    return rc;
}

/* The windows of one token sequence (a file's bytes, a corpus split): shared by
 * hb_model_set_text and hb_model_set_corpus so both sample identically. */
int hb__model_set_windows(hb_model *m, const uint8_t *tok, size_t len, size_t n_batches,
                          uint64_t first) {
    hb_context *ctx = m->ctx;
    size_t V = 0, T = 0;
    m->vt->text_shape(m, &V, &T);
    (void)V;
    HB_CHECK(ctx, len >= T + 1, HB_EFORMAT, "%zu tokens are fewer than context + 1 = %zu", len,
             T + 1);
    /* Build the new batch list aside, then swap (nothing changes on failure). */
    int rc = HB_OK;
    size_t bs = (size_t)m->default_batch, windows = len - T;
    hb__batch *list = hb__calloc(ctx, n_batches, sizeof *list, "batch list");
    if (!list) return HB_ENOMEM;
    int64_t shape[2] = {(int64_t)bs, (int64_t)T};
    for (size_t b = 0; b < n_batches && rc == HB_OK; b++) {
        rc = hb_tensor_create(ctx, HB_I32, 2, shape, &list[b].inputs);
        if (rc == HB_OK) rc = hb_tensor_create(ctx, HB_I32, 2, shape, &list[b].targets);
        if (rc != HB_OK) break;
        list[b].n_samples = bs;
        int32_t *x = list[b].inputs->data, *y = list[b].targets->data;
        for (size_t i = 0; i < bs; i++) {
            uint64_t sample = first + b * bs + i;
            size_t o = (size_t)((sample % windows) * (uint64_t)T % windows);
            for (size_t t = 0; t < T; t++) {
                x[i * T + t] = tok[o + t];
                y[i * T + t] = tok[o + t + 1];
            }
        }
    }
    if (rc != HB_OK) {
        for (size_t b = 0; b < n_batches; b++) {
            hb_tensor_free(list[b].inputs);
            hb_tensor_free(list[b].targets);
        }
        hb__free(ctx, list);
        return rc;
    }
    for (size_t b = 0; b < m->n_batches; b++) {
        hb_tensor_free(m->batches[b].inputs);
        hb_tensor_free(m->batches[b].targets);
    }
    hb__free(ctx, m->batches);
    m->batches = list;
    m->n_batches = m->cap_batches = n_batches;
    m->n_samples = n_batches * bs;
    /* a file or corpus: only the micro-batch count is recorded */
    hb__model_data_changed(m, HB__DATA_EXTERNAL, 0, n_batches, 0);
    return HB_OK;
}
