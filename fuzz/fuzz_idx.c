/* libFuzzer target for the IDX reader and the image data path (tools/fuzz.sh builds and
 * runs it; docs/data.md).
 *
 * Each input is written to a temporary file twice: as is (raw IDX, or a gzip stream if the
 * mutation kept the gzip magic) and gzip-compressed, so mutations reach the IDX header and
 * payload behind zlib as well as zlib's own checks. Properties beyond "no crash, no
 * sanitizer report, no leak": a failure returns one of the documented codes and leaves
 * *out NULL; a success has the element count its dims say, and a 3-d i32 result whose
 * pixels are 0..255 goes through hb_model_set_images of a tiny mlp (H·W inputs).
 * The seed corpus fuzz/corpus/idx holds tiny valid files of every type code and a few
 * invalid ones (wrong magic, truncated, trailing byte). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "hessblock/hessblock.h"

static hb_context *ctx;
static char path[64];

static void check_result(int rc, hb_tensor *t) {
    if (rc != HB_OK) {
        if (t != NULL || (rc != HB_EFORMAT && rc != HB_EOVERFLOW && rc != HB_EIO && rc != HB_ENOMEM)) {
            fprintf(stderr, "hb_idx_read: status %d, out %p: %s\n", rc, (void *)t, hb_context_last_error(ctx));
            abort();
        }
        return;
    }
    size_t n = 1;
    for (int i = 0; i < hb_tensor_ndim(t); i++) n *= (size_t)hb_tensor_dim(t, i);
    if (n != hb_tensor_numel(t) || n > HB_IDX_MAX_ELEMENTS) abort();
    if (hb_tensor_ndim(t) != 3 || hb_tensor_dtype(t) != HB_I32) return;
    int64_t N = hb_tensor_dim(t, 0), H = hb_tensor_dim(t, 1), W = hb_tensor_dim(t, 2);
    if (H * W > 4096) return;
    hb_model_config *cfg = NULL;
    hb_model *m = NULL;
    hb_tensor *y = NULL;
    if (hb_model_config_create(ctx, HB_MODEL_MLP, &cfg) != HB_OK) abort();
    hb_model_config_set_i64(cfg, HB_MK_INPUTS, H * W);
    hb_model_config_set_i64(cfg, HB_MK_WIDTH, 2);
    hb_model_config_set_i64(cfg, HB_MK_BATCH, 2);
    if (hb_model_create(ctx, cfg, &m) != HB_OK || hb_tensor_create(ctx, HB_I32, 1, (int64_t[]){N}, &y) != HB_OK)
        abort();
    int32_t *l = hb_tensor_data(y);
    for (int64_t i = 0; i < N; i++) l[i] = (int32_t)(i % 10);
    rc = hb_model_set_images(m, t, y, 1, 0);
    if (rc != HB_OK && rc != HB_ERANGE) {
        fprintf(stderr, "hb_model_set_images: status %d: %s\n", rc, hb_context_last_error(ctx));
        abort();
    }
    hb_tensor_free(y);
    hb_model_free(m);
    hb_model_config_free(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!ctx) {
        if (hb_context_create(&ctx) != HB_OK) abort();
        snprintf(path, sizeof path, "/tmp/hb_fuzz_idx_%ld", (long)getpid());
    }
    for (int gz = 0; gz < 2; gz++) {
        if (gz) {
            gzFile g = gzopen(path, "wb");
            if (!g) abort();
            if (size) gzwrite(g, data, (unsigned)size);
            gzclose(g);
        } else {
            FILE *f = fopen(path, "wb");
            if (!f) abort();
            if (size) fwrite(data, 1, size, f);
            fclose(f);
        }
        hb_tensor *t = (hb_tensor *)&t; /* the call must reset it */
        int rc = hb_idx_read(ctx, path, &t);
        check_result(rc, t);
        if (rc == HB_OK) hb_tensor_free(t);
    }
    remove(path);
    return 0;
}
