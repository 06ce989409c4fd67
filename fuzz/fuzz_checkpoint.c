/* libFuzzer target for the checkpoint loader (tools/fuzz.sh builds and runs it).
 *
 * Every input is loaded into fixed objects of several kinds (params alone; SGD, AdamW,
 * Adam-mini over f32 params; AdamW with a master copy over bf16 params; Adam-mini over
 * f32 params whose ln.weight block is frozen, so version-2 block flags matter). Properties
 * checked beyond "no crash, no sanitizer report": a failed load returns a documented
 * status and changes nothing; a successful load can be saved and loaded again.
 * Each input is tried twice: as is, and with every CRC recomputed (walking the sections
 * as docs/checkpoint-format.md lays them out), so mutations reach the validation behind
 * the CRCs instead of stopping at them.
 *
 * Built with -DHB_FUZZ_MAKE_SEEDS it is a plain program that writes the seed corpus
 * (valid checkpoints of each object set, in the current format) into the directory given
 * as argv[1] as seed-v<version>-<set>.ckpt. fuzz/corpus/checkpoint keeps the version-1
 * seeds (seed-<set>.ckpt) of the first five sets, written by the previous library, as
 * they still load. Set 6 is the params of a built-in model (a tiny mlp, AdamW), whose
 * checkpoints are format 2.1 with a model section (seed-v2-6.ckpt); every input also goes
 * through hb_checkpoint_info_read_buffer and, when that succeeds, its getters and
 * hb_checkpoint_info_model_config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hessblock/hessblock.h"

enum { NSETS = 7 };
static hb_context *ctx;
static hb_model *model; /* set 6's params belong to it */
static hb_params *params[NSETS];
static hb_optimizer *opts[NSETS];

static void die(const char *what, int rc) {
    fprintf(stderr, "fuzz setup: %s failed: %d %s\n", what, rc, hb_context_last_error(ctx));
    abort();
}
#define OK(x) do { int rc_ = (x); if (rc_ != HB_OK) die(#x, rc_); } while (0)

static hb_params *layout(hb_dtype dt, int frozen) {
    hb_params *p = NULL;
    int64_t q[2] = {4, 4}, n[1] = {4}, e[2] = {3, 4};
    OK(hb_params_create(ctx, dt, &p));
    OK(hb_params_add_block(p, "attn.wq", HB_BLOCK_ATTN_Q, 2, q, NULL));
    OK(hb_params_add_block(p, "ln.weight", HB_BLOCK_NORM, 1, n, NULL));
    OK(hb_params_add_block(p, "wte", HB_BLOCK_EMBEDDING, 2, e, NULL));
    if (frozen) OK(hb_params_set_trainable(p, 1, 0));
    OK(hb_params_finalize(p));
    for (size_t b = 0; b < 3; b++) OK(hb_params_init_block(p, b, HB_INIT_NORMAL, 0, 1));
    return p;
}

static void setup(void) {
    if (ctx) return;
    OK(hb_context_create(&ctx));
    const hb_optimizer_kind kinds[NSETS] = {0, HB_OPTIM_SGD, HB_OPTIM_ADAMW, HB_OPTIM_ADAM_MINI,
                                            HB_OPTIM_ADAMW, HB_OPTIM_ADAM_MINI, HB_OPTIM_ADAMW};

    for (int k = 0; k < NSETS; k++) {
        if (k == 6) { /* last, so sets 0-5 draw the same values as before it existed */
            hb_model_config *cfg = NULL;
            OK(hb_model_config_create(ctx, HB_MODEL_MLP, &cfg));
            OK(hb_model_config_set_i64(cfg, HB_MK_INPUTS, 3));
            OK(hb_model_config_set_i64(cfg, HB_MK_WIDTH, 4));
            OK(hb_model_config_set_i64(cfg, HB_MK_LAYERS, 1));
            OK(hb_model_config_set_i64(cfg, HB_MK_CLASSES, 2));
            OK(hb_model_config_set_i64(cfg, HB_MK_BATCH, 2));
            OK(hb_model_config_set_i64(cfg, HB_MK_DTYPE, HB_F32));
            OK(hb_model_create(ctx, cfg, &model));
            hb_model_config_free(cfg);
        }
        params[k] = k == 6 ? hb_model_params(model) : layout(k == 4 ? HB_BF16 : HB_F32, k == 5);
        if (!kinds[k]) continue;
        OK(hb_optimizer_create(ctx, kinds[k], params[k], &opts[k]));
        if (kinds[k] == HB_OPTIM_SGD) OK(hb_optimizer_set_f64(opts[k], HB_OPT_MOMENTUM, 0.9));
        if (kinds[k] == HB_OPTIM_ADAM_MINI) OK(hb_optimizer_set_i64(opts[k], HB_OPT_HEADS, 2));
        if (k == 4) {
            OK(hb_optimizer_set_i64(opts[k], HB_OPT_MASTER_COPY, 1));
            OK(hb_optimizer_set_i64(opts[k], HB_OPT_STOCHASTIC_ROUNDING, 1));
        }
        float *g = hb_params_grad(params[k]);
        for (size_t i = 0; i < hb_params_count(params[k]); i++) g[i] = (float)i * 0.01f - 0.1f;
        OK(hb_optimizer_step(opts[k]));
    }
}

static unsigned char *save(int k, size_t *len) {
    OK(hb_checkpoint_size(params[k], opts[k], len));
    unsigned char *buf = malloc(*len);
    if (!buf) abort();
    OK(hb_checkpoint_save_buffer(params[k], opts[k], buf, *len, NULL));
    return buf;
}

#ifndef HB_FUZZ_MAKE_SEEDS
static uint32_t crc32(const uint8_t *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}
static uint64_t rd64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}
static void wr32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> 8 * i); }

static void fix_crcs(uint8_t *d, size_t n) {
    if (n < 32) return;
    wr32(d + 28, crc32(d, 28));
    size_t pos = 32;
    while (n - pos >= 16) {
        uint64_t len = rd64(d + pos + 8);
        if (len > n - pos - 16 || n - pos - 16 - len < 4) return;
        wr32(d + pos + 16 + len, crc32(d + pos, 16 + (size_t)len));
        pos += 16 + (size_t)len + 4;
    }
}

static void one_input(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    one_input(data, size);
    uint8_t *fixed = malloc(size ? size : 1);
    if (!fixed) abort();
    memcpy(fixed, data, size);
    fix_crcs(fixed, size);
    one_input(fixed, size);
    free(fixed);
    return 0;
}

static void one_input(const uint8_t *data, size_t size) {
    hb_checkpoint_info *info = NULL;
    int irc = hb_checkpoint_info_read_buffer(ctx, data, size, &info);
    if (irc != HB_OK && irc != HB_EFORMAT) abort(); /* undocumented */
    if (irc == HB_OK) {
        for (int key = 0; key <= 25; key++) {
            int64_t v;
            int grc = hb_checkpoint_info_get_i64(info, (hb_checkpoint_key)key, &v);
            if (grc != HB_OK && grc != HB_ENOTFOUND && grc != HB_EINVAL) abort();
        }
        hb_model_config *cfg = NULL;
        int crc = hb_checkpoint_info_model_config(info, &cfg);
        if (crc != HB_OK && crc != HB_ENOTFOUND && crc != HB_EUNSUPPORTED) abort();
        hb_model_config_free(cfg);
        hb_checkpoint_info_free(info);
    }
    for (int k = 0; k < NSETS; k++) {
        size_t before_len;
        unsigned char *before = save(k, &before_len);
        int rc = hb_checkpoint_load_buffer(data, size, params[k], opts[k]);
        if (rc != HB_OK && rc != HB_EFORMAT && rc != HB_ESHAPE) abort(); /* undocumented */
        if (rc != HB_OK) {
            size_t after_len;
            unsigned char *after = save(k, &after_len);
            if (after_len != before_len || memcmp(before, after, before_len) != 0)
                abort(); /* a failed load changed something */
            free(after);
        } else {
            size_t len;
            unsigned char *again = save(k, &len);
            if (hb_checkpoint_load_buffer(again, len, params[k], opts[k]) != HB_OK) abort();
            free(again);
            /* restore the original state so runs stay independent of input order */
            if (hb_checkpoint_load_buffer(before, before_len, params[k], opts[k]) != HB_OK) abort();
        }
        free(before);
    }
}
#else
int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    setup();
    for (int k = 0; k < NSETS; k++) {
        size_t len;
        unsigned char *buf = save(k, &len);
        char path[4096];
        snprintf(path, sizeof path, "%s/seed-v%d-%d.ckpt", argv[1], HB_CHECKPOINT_VERSION, k);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
            fprintf(stderr, "cannot write %s\n", path);
            return 1;
        }
        free(buf);
    }
    return 0;
}
#endif
