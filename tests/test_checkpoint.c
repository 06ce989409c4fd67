/* Checkpoints: save → load → continue is bit-identical to an uninterrupted run; every
 * corrupted byte and every truncation is rejected without changing anything; crafted
 * files (version, absurd sizes, other models) are rejected with the documented codes. */
#define _DEFAULT_SOURCE /* flock(2), to hold a temporary like a live save does */
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "hb_test.h"
#include "optim/optim_internal.h"

/* Independent CRC-32 (bitwise, IEEE polynomial) to check the documented format. */
static uint32_t crc32_ref(const unsigned char *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}
static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const unsigned char *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> 8 * i); }
static void wr64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> 8 * i); }

typedef struct setup { hb_optimizer_kind kind; hb_dtype dt; int master, sr; } setup;

static hb_params *layout(hb_context *ctx, hb_dtype dt, int variant) {
    hb_params *p = NULL;
    int64_t q[2] = {4, 4}, n[1] = {4}, e[2] = {3, 4};
    if (variant == 2) e[0] = 5;
    ck_assert_int_eq(hb_params_create(ctx, dt, &p), HB_OK);
    ck_assert_int_eq(hb_params_add_block(p, "attn.wq", HB_BLOCK_ATTN_Q, 2, q, NULL), HB_OK);
    ck_assert_int_eq(hb_params_add_block(p, variant == 1 ? "ln.w" : "ln.weight", HB_BLOCK_NORM, 1, n, NULL), HB_OK);
    ck_assert_int_eq(hb_params_add_block(p, "wte", variant == 3 ? HB_BLOCK_HEAD : HB_BLOCK_EMBEDDING, 2, e, NULL), HB_OK);
    ck_assert_int_eq(hb_params_finalize(p), HB_OK);
    for (size_t b = 0; b < 3; b++) ck_assert_int_eq(hb_params_init_block(p, b, HB_INIT_NORMAL, 0, 1), HB_OK);
    return p;
}

static hb_optimizer *make_opt(hb_context *ctx, hb_params *p, const setup *s) {
    hb_optimizer *o = NULL;
    ck_assert_int_eq(hb_optimizer_create(ctx, s->kind, p, &o), HB_OK);
    ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_LR, 0.01), HB_OK);
    if (s->kind == HB_OPTIM_SGD) ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_MOMENTUM, 0.9), HB_OK);
    if (s->kind == HB_OPTIM_ADAM_MINI) ck_assert_int_eq(hb_optimizer_set_i64(o, HB_OPT_HEADS, 2), HB_OK);
    if (s->master) ck_assert_int_eq(hb_optimizer_set_i64(o, HB_OPT_MASTER_COPY, 1), HB_OK);
    if (s->sr) ck_assert_int_eq(hb_optimizer_set_i64(o, HB_OPT_STOCHASTIC_ROUNDING, 1), HB_OK);
    ck_assert_int_eq(hb_optimizer_schedule_cosine(o, 2, 8, 0.1), HB_OK);
    return o;
}

static void grad_step(hb_params *p, hb_optimizer *o, int t) {
    size_t n = hb_params_count(p);
    for (size_t i = 0; i < n; i++) {
        double g = cos(0.3 * (double)i * t + t);
        if (hb_params_grad_dtype(p) == HB_F64) ((double *)hb_params_grad(p))[i] = g;
        else ((float *)hb_params_grad(p))[i] = (float)g;
    }
    ck_assert_int_eq(hb_optimizer_step(o), HB_OK);
}

static size_t data_bytes(hb_params *p) { return hb_params_count(p) * hb_dtype_size(hb_params_dtype(p)); }

START_TEST(test_resume_bit_identical) {
    const setup S[] = {{HB_OPTIM_SGD, HB_F64, 0, 0},  {HB_OPTIM_ADAM, HB_F32, 0, 0},
                       {HB_OPTIM_ADAMW, HB_F32, 0, 0}, {HB_OPTIM_ADAM_MINI, HB_F64, 0, 0},
                       {HB_OPTIM_ADAMW, HB_BF16, 1, 1}, {HB_OPTIM_ADAM_MINI, HB_BF16, 0, 1}};
    char dir[] = "/tmp/hb_ckpt_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/model.ckpt", dir);
    for (size_t k = 0; k < sizeof S / sizeof S[0]; k++) {
        /* uninterrupted: 6 steps, saving after 3 */
        hb_context *ctx = hb_test_context(1, 31);
        hb_params *p = layout(ctx, S[k].dt, 0);
        hb_optimizer *o = make_opt(ctx, p, &S[k]);
        for (int t = 1; t <= 3; t++) grad_step(p, o, t);
        ck_assert_int_eq(hb_checkpoint_save(path, p, o), HB_OK);
        for (int t = 4; t <= 6; t++) grad_step(p, o, t);
        /* resumed: other objects (other init, another stream taken first), load, 3 steps */
        hb_context *ctx2 = hb_test_context(1, 31);
        uint64_t junk;
        ck_assert_int_eq(hb_context_next_stream(ctx2, &junk), HB_OK);
        hb_params *p2 = layout(ctx2, S[k].dt, 0);
        hb_optimizer *o2 = make_opt(ctx2, p2, &S[k]);
        ck_assert_int_eq(hb_checkpoint_load(path, p2, o2), HB_OK);
        ck_assert_int_eq(hb_optimizer_step_count(o2), 3);
        for (int t = 4; t <= 6; t++) grad_step(p2, o2, t);
        ck_assert_msg(memcmp(hb_params_data(p), hb_params_data(p2), data_bytes(p)) == 0,
                      "setup %zu: resumed parameters differ", k);
        size_t es = o->sdtype == HB_F64 ? 8 : 4;
        if (o->m) ck_assert(memcmp(o->m, o2->m, hb_params_count(p) * es) == 0);
        hb_optimizer_free(o2);
        hb_params_free(p2);
        hb_context_free(ctx2);
        hb_optimizer_free(o);
        hb_params_free(p);
        hb_context_free(ctx);
    }
    /* only the checkpoint is left in the directory: no temporary files */
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int files = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') {
            files++;
            ck_assert_str_eq(e->d_name, "model.ckpt");
        }
    closedir(d);
    ck_assert_int_eq(files, 1);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* Everything a failed load must leave alone. */
static unsigned char *snapshot(hb_params *p, hb_optimizer *o, size_t *len) {
    size_t n = o ? o->n_state : 0, es = o ? (o->sdtype == HB_F64 ? 8 : 4) : 0;
    size_t vl = o && o->kind == HB_OPTIM_ADAM_MINI ? o->n_part : n;
    size_t L = data_bytes(p) + (o ? (o->buf ? n * es : 0) + (o->m ? n * es : 0) + (o->v ? vl * es : 0) + 8 : 0);
    unsigned char *s = malloc(L), *w = s;
    memcpy(w, hb_params_data(p), data_bytes(p)), w += data_bytes(p);
    if (o) {
        if (o->buf) memcpy(w, o->buf, n * es), w += n * es;
        if (o->m) memcpy(w, o->m, n * es), w += n * es;
        if (o->v) memcpy(w, o->v, vl * es), w += vl * es;
        memcpy(w, &o->t, 8);
    }
    *len = L;
    return s;
}

/* frozen: ln.weight frozen (flips of any flags field then give HB_EFORMAT or HB_ESHAPE) */
static void every_byte_and_length(int frozen) {
    hb_context *ctx = hb_test_context(1, 32);
    const setup s = {HB_OPTIM_ADAMW, HB_F32, 0, 0};
    hb_params *p = layout(ctx, HB_F32, 0);
    if (frozen) ck_assert_int_eq(hb_params_set_trainable(p, 1, 0), HB_OK);
    hb_optimizer *o = make_opt(ctx, p, &s);
    grad_step(p, o, 1);
    size_t size, written;
    ck_assert_int_eq(hb_checkpoint_size(p, o, &size), HB_OK);
    unsigned char *img = malloc(size), *bad = malloc(size + 1);
    ck_assert_int_eq(hb_checkpoint_save_buffer(p, o, img, size, &written), HB_OK);
    ck_assert_uint_eq(written, size);
    /* change the live objects so that a (wrong) partial load would show */
    grad_step(p, o, 2);
    size_t L;
    unsigned char *before = snapshot(p, o, &L);
    long rejected = 0;
    for (size_t i = 0; i < size; i++) {
        const unsigned char flips[] = {0x01, 0x80, 0xff};
        for (int f = 0; f < 3; f++) {
            memcpy(bad, img, size);
            bad[i] ^= flips[f];
            int rc = hb_checkpoint_load_buffer(bad, size, p, o);
            ck_assert_msg(rc == HB_EFORMAT || rc == HB_ESHAPE, "byte %zu ^ 0x%02x: status %d", i,
                          flips[f], rc);
            rejected++;
        }
    }
    for (size_t len = 0; len < size; len++) {
        ck_assert_int_eq(hb_checkpoint_load_buffer(img, len, p, o), HB_EFORMAT);
        rejected++;
    }
    memcpy(bad, img, size);
    bad[size] = 0;
    ck_assert_int_eq(hb_checkpoint_load_buffer(bad, size + 1, p, o), HB_EFORMAT); /* trailing byte */
    size_t L2;
    unsigned char *after = snapshot(p, o, &L2);
    ck_assert(L == L2 && memcmp(before, after, L) == 0);
    ck_assert_int_eq(rejected, 4 * (long)size);
    /* and the intact image loads */
    ck_assert_int_eq(hb_checkpoint_load_buffer(img, size, p, o), HB_OK);
    ck_assert_int_eq(hb_optimizer_step_count(o), 1);
    free(before);
    free(after);
    free(img);
    free(bad);
    hb_optimizer_free(o);
    hb_params_free(p);
    hb_context_free(ctx);
}

START_TEST(test_every_byte_and_length) {
    every_byte_and_length(0);
    every_byte_and_length(1);
}
END_TEST

/* The documented layout (docs/checkpoint-format.md) and crafted, CRC-valid bad files. */
START_TEST(test_format_and_crafted) {
    hb_context *ctx = hb_test_context(1, 33);
    const setup s = {HB_OPTIM_ADAM_MINI, HB_F32, 0, 0};
    hb_params *p = layout(ctx, HB_F32, 0);
    hb_optimizer *o = make_opt(ctx, p, &s);
    grad_step(p, o, 1);
    size_t size;
    ck_assert_int_eq(hb_checkpoint_size(p, o, &size), HB_OK);
    unsigned char *img = malloc(size), *c = malloc(size);
    ck_assert_int_eq(hb_checkpoint_save_buffer(p, o, img, size, NULL), HB_OK);
    /* the reference CRC is the standard one (check value of "123456789") */
    ck_assert_uint_eq(crc32_ref((const unsigned char *)"123456789", 9), 0xCBF43926u);
    /* header: magic, version, flags, size, section count, CRC of bytes 0..27 */
    ck_assert(memcmp(img, "HBCKPT\r\n", 8) == 0);
    ck_assert_uint_eq(rd32(img + 8), HB_CHECKPOINT_VERSION);
    ck_assert_uint_eq(rd32(img + 12), 1);
    ck_assert_uint_eq(rd64(img + 16), size);
    ck_assert_uint_eq(rd32(img + 24), 3);
    ck_assert_uint_eq(rd32(img + 28), crc32_ref(img, 28));
    /* sections: tag, reserved, length, payload, CRC of tag..payload */
    size_t pos = 32, sec_at[3];
    for (uint32_t tag = 1; tag <= 3; tag++) {
        sec_at[tag - 1] = pos;
        ck_assert_uint_eq(rd32(img + pos), tag);
        uint64_t len = rd64(img + pos + 8);
        ck_assert_uint_eq(rd32(img + pos + 16 + len), crc32_ref(img + pos, 16 + len));
        pos += 16 + len + 4;
    }
    ck_assert_uint_eq(pos, size);
    ck_assert_uint_eq(rd64(img + sec_at[1] + 8), (16 + 4 + 12) * 4); /* the f32 parameters */
#define REHDR() wr32(c + 28, crc32_ref(c, 28))
#define RESEC(k) do { size_t a_ = sec_at[k]; uint64_t l_ = rd64(c + a_ + 8); \
                      wr32(c + a_ + 16 + l_, crc32_ref(c + a_, 16 + l_)); } while (0)
    /* newer version with a valid CRC */
    memcpy(c, img, size);
    wr32(c + 8, HB_CHECKPOINT_VERSION + 1);
    REHDR();
    ck_assert_int_eq(hb_checkpoint_load_buffer(c, size, p, o), HB_EFORMAT);
    /* absurd block count, valid CRC */
    memcpy(c, img, size);
    wr64(c + sec_at[0] + 16 + 16, (uint64_t)1 << 60);
    RESEC(0);
    ck_assert_int_eq(hb_checkpoint_load_buffer(c, size, p, o), HB_EFORMAT);
    /* absurd dimension, valid CRC (first block's first dim: after dtype,res,n,nb,len,name,kind,
       flags,ndim) */
    memcpy(c, img, size);
    size_t d0 = sec_at[0] + 16 + 24 + 4 + 7 + 12;
    ck_assert_uint_eq(rd64(c + d0), 4);
    wr64(c + d0, UINT64_MAX);
    RESEC(0);
    ck_assert_int_eq(hb_checkpoint_load_buffer(c, size, p, o), HB_EFORMAT);
    /* section length beyond the file, valid CRC cannot even be placed: EFORMAT */
    memcpy(c, img, size);
    wr64(c + sec_at[1] + 8, (uint64_t)1 << 62);
    ck_assert_int_eq(hb_checkpoint_load_buffer(c, size, p, o), HB_EFORMAT);
    /* absurd Adam-mini array length, valid CRC */
    memcpy(c, img, size);
    size_t a0 = sec_at[2] + 16 + 40;
    ck_assert_uint_eq(rd32(c + a0), 2); /* first array: m */
    wr64(c + a0 + 8, (uint64_t)1 << 61);
    RESEC(2);
    ck_assert_int_eq(hb_checkpoint_load_buffer(c, size, p, o), HB_EFORMAT);
    /* the same file, other objects: renamed block, other shape, other kind, other dtype */
    for (int variant = 1; variant <= 3; variant++) {
        hb_params *q = layout(ctx, HB_F32, variant);
        ck_assert_int_eq(hb_checkpoint_load_buffer(img, size, q, NULL), HB_ESHAPE);
        /* the message names the differing block (it once printed an empty name) */
        ck_assert_msg(strstr(hb_context_last_error(ctx), "block '") != NULL &&
                          strstr(hb_context_last_error(ctx), "block ''") == NULL,
                      "%s", hb_context_last_error(ctx));
        hb_params_free(q);
    }
    hb_params *q64 = layout(ctx, HB_F64, 0);
    ck_assert_int_eq(hb_checkpoint_load_buffer(img, size, q64, NULL), HB_ESHAPE);
    ck_assert_msg(strstr(hb_context_last_error(ctx), "f32 parameters, the params are f64") != NULL,
                  "%s", hb_context_last_error(ctx));
    hb_params_free(q64);
    /* other optimizer kind, other heads; params-only load of a full file is fine */
    hb_optimizer *w = NULL;
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_ADAMW, p, &w), HB_OK);
    ck_assert_int_eq(hb_checkpoint_load_buffer(img, size, p, w), HB_ESHAPE);
    hb_optimizer_free(w);
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_ADAM_MINI, p, &w), HB_OK);
    ck_assert_int_eq(hb_optimizer_set_i64(w, HB_OPT_HEADS, 4), HB_OK);
    ck_assert_int_eq(hb_checkpoint_load_buffer(img, size, p, w), HB_ESHAPE);
    ck_assert_int_eq(hb_optimizer_set_i64(w, HB_OPT_HEADS, 2), HB_OK);
    ck_assert_int_eq(hb_checkpoint_load_buffer(img, size, p, w), HB_OK);
    ck_assert_int_eq(hb_optimizer_step_count(w), 1);
    ck_assert(memcmp(w->v, o->v, o->n_part * 4) == 0);
    ck_assert_int_eq(hb_checkpoint_load_buffer(img, size, p, NULL), HB_OK);
    /* issue 12.10: heads is 1 for every kind but Adam-mini, and Adam-mini's is what
     * HB_OPT_HEADS accepts (1..2^31); 2^40 with valid CRCs once loaded into Adam */
    memcpy(c, img, size);
    ck_assert_uint_eq(rd64(c + sec_at[2] + 16 + 16), 2);
    wr64(c + sec_at[2] + 16 + 16, (uint64_t)1 << 40);
    RESEC(2);
    ck_assert_int_eq(hb_checkpoint_load_buffer(c, size, p, NULL), HB_EFORMAT);
    ck_assert_int_eq(hb_checkpoint_load_buffer(c, size, p, w), HB_EFORMAT);
    hb_optimizer *adam = NULL;
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_ADAM, p, &adam), HB_OK);
    ck_assert_int_eq(hb_optimizer_set_f64(adam, HB_OPT_LR, 0.01), HB_OK);
    grad_step(p, adam, 1);
    size_t asz;
    ck_assert_int_eq(hb_checkpoint_size(p, adam, &asz), HB_OK);
    unsigned char *aimg = malloc(asz);
    ck_assert_int_eq(hb_checkpoint_save_buffer(p, adam, aimg, asz, NULL), HB_OK);
    ck_assert_int_eq(hb_checkpoint_load_buffer(aimg, asz, p, adam), HB_OK);
    size_t ah = sec_at[2] + 16 + 16; /* sections 1 and 2 are the same as img's */
    ck_assert_uint_eq(rd32(aimg + sec_at[2]), 3);
    ck_assert_uint_eq(rd64(aimg + ah), 1);
    wr64(aimg + ah, (uint64_t)1 << 40);
    uint64_t alen = rd64(aimg + sec_at[2] + 8);
    wr32(aimg + sec_at[2] + 16 + alen, crc32_ref(aimg + sec_at[2], 16 + alen));
    ck_assert_int_eq(hb_checkpoint_load_buffer(aimg, asz, p, adam), HB_EFORMAT);
    ck_assert_msg(strstr(hb_context_last_error(ctx), "heads") != NULL, "%s",
                  hb_context_last_error(ctx));
    wr64(aimg + ah, 2); /* any value but 1 */
    wr32(aimg + sec_at[2] + 16 + alen, crc32_ref(aimg + sec_at[2], 16 + alen));
    ck_assert_int_eq(hb_checkpoint_load_buffer(aimg, asz, p, NULL), HB_EFORMAT);
    free(aimg);
    hb_optimizer_free(adam);
    /* a params-only file cannot fill an optimizer */
    size_t ps;
    ck_assert_int_eq(hb_checkpoint_size(p, NULL, &ps), HB_OK);
    unsigned char *pimg = malloc(ps);
    ck_assert_int_eq(hb_checkpoint_save_buffer(p, NULL, pimg, ps, NULL), HB_OK);
    ck_assert_uint_eq(rd32(pimg + 12), 0);
    ck_assert_int_eq(hb_checkpoint_load_buffer(pimg, ps, p, w), HB_ESHAPE);
    ck_assert_int_eq(hb_checkpoint_load_buffer(pimg, ps, p, NULL), HB_OK);
    free(pimg);
    hb_optimizer_free(w);
    free(img);
    free(c);
    hb_optimizer_free(o);
    hb_params_free(p);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_files_and_bad_input) {
    hb_context *ctx = hb_test_context(1, 34);
    hb_params *p = layout(ctx, HB_F32, 0), *other = layout(ctx, HB_F32, 0), *unfinished = NULL;
    ck_assert_int_eq(hb_params_create(ctx, HB_F32, &unfinished), HB_OK);
    hb_optimizer *o = NULL;
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_SGD, p, &o), HB_OK);
    ck_assert_int_eq(hb_checkpoint_save("/nonexistent-dir/x.ckpt", p, o), HB_EIO);
    ck_assert_str_ne(hb_context_last_error(ctx), "");
    ck_assert_int_eq(hb_checkpoint_load("/nonexistent-dir/x.ckpt", p, o), HB_EIO);
    ck_assert_int_eq(hb_checkpoint_load("/tmp", p, o), HB_EIO);
    char dir[] = "/tmp/hb_ckpt_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/short", dir);
    FILE *f = fopen(path, "wb");
    fputs("HBCKPT", f);
    fclose(f);
    ck_assert_int_eq(hb_checkpoint_load(path, p, o), HB_EFORMAT);
    ck_assert_int_eq(hb_checkpoint_save(path, p, o), HB_OK); /* replaces it */
    ck_assert_int_eq(hb_checkpoint_load(path, p, o), HB_OK);
    unlink(path);
    /* a valid checkpoint of a much larger model is HB_ESHAPE even when the file is too big
       to be read for these params; the same size of garbage is HB_EFORMAT */
    {
        hb_params *big = NULL;
        int64_t shape[1] = {100000};
        ck_assert_int_eq(hb_params_create(ctx, HB_F64, &big), HB_OK);
        ck_assert_int_eq(hb_params_add_block(big, "huge", HB_BLOCK_OTHER, 1, shape, NULL), HB_OK);
        ck_assert_int_eq(hb_params_finalize(big), HB_OK);
        ck_assert_int_eq(hb_checkpoint_save(path, big, NULL), HB_OK);
        ck_assert_int_eq(hb_checkpoint_load(path, p, NULL), HB_ESHAPE);
        f = fopen(path, "r+b");
        fputc('X', f); /* break the magic */
        fclose(f);
        ck_assert_int_eq(hb_checkpoint_load(path, p, NULL), HB_EFORMAT);
        unlink(path);
        hb_params_free(big);
    }
    /* the rename fails (target is a directory): EIO and the temporary file is removed */
    snprintf(path, sizeof path, "%s/subdir", dir);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    ck_assert_int_eq(hb_checkpoint_save(path, p, o), HB_EIO);
    DIR *d = opendir(dir);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));) entries += e->d_name[0] != '.';
    closedir(d);
    ck_assert_int_eq(entries, 1);
    rmdir(path);
    rmdir(dir);
    size_t n;
    unsigned char buf[64];
    ck_assert_int_eq(hb_checkpoint_save(NULL, p, o), HB_EINVAL);
    ck_assert_int_eq(hb_checkpoint_save("", p, o), HB_EINVAL);
    ck_assert_int_eq(hb_checkpoint_save("x", NULL, o), HB_EINVAL);
    ck_assert_int_eq(hb_checkpoint_save("x", other, o), HB_EINVAL);
    ck_assert_int_eq(hb_checkpoint_save("x", unfinished, NULL), HB_ESTATE);
    ck_assert_int_eq(hb_checkpoint_load(NULL, p, o), HB_EINVAL);
    ck_assert_int_eq(hb_checkpoint_load("x", NULL, o), HB_EINVAL);
    ck_assert_int_eq(hb_checkpoint_load("x", unfinished, NULL), HB_ESTATE);
    ck_assert_int_eq(hb_checkpoint_size(NULL, o, &n), HB_EINVAL);
    ck_assert_int_eq(hb_checkpoint_size(p, o, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_checkpoint_size(other, o, &n), HB_EINVAL);
    ck_assert_int_eq(hb_checkpoint_save_buffer(NULL, o, buf, sizeof buf, &n), HB_EINVAL);
    ck_assert_int_eq(hb_checkpoint_save_buffer(p, o, NULL, sizeof buf, &n), HB_EINVAL);
    ck_assert_int_eq(hb_checkpoint_save_buffer(p, o, buf, sizeof buf, &n), HB_ERANGE);
    ck_assert_int_eq(hb_checkpoint_load_buffer(buf, sizeof buf, NULL, o), HB_EINVAL);
    ck_assert_int_eq(hb_checkpoint_load_buffer(NULL, 10, p, o), HB_EINVAL);
    ck_assert_int_eq(hb_checkpoint_load_buffer(NULL, 0, p, o), HB_EFORMAT);
    ck_assert_int_eq(hb_checkpoint_load_buffer(buf, sizeof buf, other, o), HB_EINVAL);
    ck_assert_int_eq(hb_checkpoint_load_buffer(buf, sizeof buf, unfinished, NULL), HB_ESTATE);
    hb_optimizer_free(o);
    hb_params_free(unfinished);
    hb_params_free(other);
    hb_params_free(p);
    hb_context_free(ctx);
}
END_TEST

static mode_t mode_of(const char *path) {
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static void touch(const char *dir, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("half a checkpoint", f);
    fclose(f);
}

static int exists(const char *dir, const char *name) {
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return lstat(path, &st) == 0;
}

/* Issue 12.9: a saved checkpoint keeps the mode of the file it replaces (a new one gets
 * 0666 minus the umask, like any file), and a save removes the temporaries that killed
 * saves of the same path left behind — and nothing else. */
START_TEST(test_temp_files_and_mode) {
    hb_context *ctx = hb_test_context(1, 35);
    hb_params *p = layout(ctx, HB_F32, 0);
    char dir[] = "/tmp/hb_ckpt_mode_XXXXXX", path[256], other[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/m.ckpt", dir);
    snprintf(other, sizeof other, "%s/n.ckpt", dir);
    /* new files: the umask decides (mkstemp's fixed 0600 ignored it) */
    mode_t old_mask = umask(022);
    ck_assert_int_eq(hb_checkpoint_save(path, p, NULL), HB_OK);
    ck_assert_uint_eq(mode_of(path), 0644);
    umask(027);
    ck_assert_int_eq(hb_checkpoint_save(other, p, NULL), HB_OK);
    ck_assert_uint_eq(mode_of(other), 0640);
    umask(077);
    /* existing files keep their mode whatever the umask */
    const mode_t modes[3] = {0644, 0640, 0604};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(chmod(path, modes[i]), 0);
        ck_assert_int_eq(hb_checkpoint_save(path, p, NULL), HB_OK);
        ck_assert_uint_eq(mode_of(path), modes[i]);
        ck_assert_int_eq(hb_checkpoint_load(path, p, NULL), HB_OK);
    }
    umask(old_mask);
    /* leftovers of killed saves of m.ckpt: exactly "<base>.tmp." + 6 of [A-Za-z0-9] */
    const char *stale[] = {"m.ckpt.tmp.Ab3xY9", "m.ckpt.tmp.000000", "m.ckpt.tmp.zzzzzz"};
    /* look-alikes that must stay: wrong length or character, another file's, a prefix */
    const char *keep[] = {"m.ckpt.tmp.Ab3xY", "m.ckpt.tmp.Ab3xY90", "m.ckpt.tmp.Ab-xY9",
                          "m.ckpt.tmp.Ab3xY.", "n.ckpt.tmp.Ab3xY9", "xm.ckpt.tmp.Ab3xY9",
                          "m.ckpt.tmp1Ab3xY9", "target"};
    for (size_t i = 0; i < sizeof stale / sizeof *stale; i++) touch(dir, stale[i]);
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) touch(dir, keep[i]);
    char sub[512], link[512], locked[512];
    snprintf(sub, sizeof sub, "%s/m.ckpt.tmp.DIRxx1", dir); /* a directory: not a file */
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    snprintf(link, sizeof link, "%s/m.ckpt.tmp.LNKxx1", dir); /* a symlink: never followed */
    ck_assert_int_eq(symlink("target", link), 0);
    /* a temporary a live save holds (its flock): must survive */
    touch(dir, "m.ckpt.tmp.LCKxx1");
    snprintf(locked, sizeof locked, "%s/m.ckpt.tmp.LCKxx1", dir);
    int lfd = open(locked, O_RDONLY);
    ck_assert_int_ge(lfd, 0);
    ck_assert_int_eq(flock(lfd, LOCK_EX | LOCK_NB), 0);
    ck_assert_int_eq(hb_checkpoint_save(path, p, NULL), HB_OK);
    for (size_t i = 0; i < sizeof stale / sizeof *stale; i++)
        ck_assert_msg(!exists(dir, stale[i]), "stale %s left behind", stale[i]);
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++)
        ck_assert_msg(exists(dir, keep[i]), "%s removed", keep[i]);
    ck_assert(exists(dir, "m.ckpt.tmp.DIRxx1") && exists(dir, "m.ckpt.tmp.LNKxx1") &&
              exists(dir, "m.ckpt.tmp.LCKxx1"));
    /* nothing else: the save's own temporary was renamed onto m.ckpt */
    DIR *d = opendir(dir);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));) entries += e->d_name[0] != '.';
    closedir(d);
    ck_assert_int_eq(entries, (int)(sizeof keep / sizeof *keep) + 3 + 2); /* + m, n.ckpt */
    /* once its holder is gone (the lock dies with the process), the next save removes it */
    close(lfd);
    ck_assert_int_eq(hb_checkpoint_save(path, p, NULL), HB_OK);
    ck_assert(!exists(dir, "m.ckpt.tmp.LCKxx1"));
    ck_assert_int_eq(hb_checkpoint_load(path, p, NULL), HB_OK);
    /* clean up */
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
        char q[512];
        snprintf(q, sizeof q, "%s/%s", dir, keep[i]);
        unlink(q);
    }
    unlink(link);
    rmdir(sub);
    unlink(path);
    unlink(other);
    ck_assert_int_eq(rmdir(dir), 0);
    hb_params_free(p);
    hb_context_free(ctx);
}
END_TEST

/* Rewrite a version-2 image as an older library wrote version 1: no flags field in the
 * block entries (each must be 0 here: v1 knows no frozen blocks); the block section's
 * length, the size field and the CRCs are recomputed. */
static unsigned char *to_v1(const unsigned char *img, size_t size, size_t *out_len) {
    unsigned char *o = malloc(size);
    memcpy(o, img, 32);
    size_t w = 32, pos = 32;
    uint64_t len = rd64(img + pos + 8);
    size_t sec = w;
    memcpy(o + w, img + pos, 16), w += 16;
    const unsigned char *pl = img + pos + 16;
    memcpy(o + w, pl, 24), w += 24;
    size_t r = 24;
    uint64_t nb = rd64(pl + 16);
    for (uint64_t b = 0; b < nb; b++) {
        uint32_t k = rd32(pl + r);
        memcpy(o + w, pl + r, 4 + k + 4), w += 4 + k + 4, r += 4 + k + 4; /* len, name, kind */
        ck_assert_uint_eq(rd32(pl + r), 0);                                 /* flags: dropped */
        r += 4;
        uint32_t nd = rd32(pl + r);
        memcpy(o + w, pl + r, 4 + 8 * nd + 16), w += 4 + 8 * nd + 16, r += 4 + 8 * nd + 16;
    }
    ck_assert_uint_eq(r, len);
    wr64(o + sec + 8, w - sec - 16);
    wr32(o + w, crc32_ref(o + sec, w - sec)), w += 4;
    pos += 16 + len + 4;
    memcpy(o + w, img + pos, size - pos), w += size - pos;
    wr32(o + 8, 1);
    wr64(o + 16, w);
    wr32(o + 28, crc32_ref(o, 28));
    *out_len = w;
    return o;
}

/* Save → load → continue with a frozen block (ln.weight) is bit-identical to the
 * uninterrupted run, through a file (so the loader's size bound is crossed too); the
 * flags field of the block table is as documented. */
START_TEST(test_frozen_round_trip) {
    const setup S[] = {{HB_OPTIM_ADAM_MINI, HB_F32, 0, 0}, {HB_OPTIM_ADAM_MINI, HB_BF16, 1, 1},
                       {HB_OPTIM_SGD, HB_F64, 0, 0}, {HB_OPTIM_ADAMW, HB_F64, 0, 0}};
    char dir[] = "/tmp/hb_ckpt_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/frozen.ckpt", dir);
    for (size_t k = 0; k < sizeof S / sizeof S[0]; k++) {
        hb_context *ctx = hb_test_context(1, 35);
        hb_params *p = layout(ctx, S[k].dt, 0);
        ck_assert_int_eq(hb_params_set_trainable(p, 1, 0), HB_OK);
        hb_optimizer *o = make_opt(ctx, p, &S[k]);
        for (int t = 1; t <= 3; t++) grad_step(p, o, t);
        ck_assert_int_eq(hb_checkpoint_save(path, p, o), HB_OK);
        /* block entry 1 ("ln.weight") has flags 1, the others 0 */
        size_t size;
        ck_assert_int_eq(hb_checkpoint_size(p, o, &size), HB_OK);
        unsigned char *img = malloc(size);
        ck_assert_int_eq(hb_checkpoint_save_buffer(p, o, img, size, NULL), HB_OK);
        size_t e0 = 32 + 16 + 24, e1 = e0 + 4 + 7 + 12 + 2 * 8 + 16, e2 = e1 + 4 + 9 + 12 + 8 + 16;
        ck_assert_uint_eq(rd32(img + e0 + 4 + 7 + 4), 0);
        ck_assert_uint_eq(rd32(img + e1 + 4 + 9 + 4), 1);
        ck_assert_uint_eq(rd32(img + e2 + 4 + 3 + 4), 0);
        free(img);
        for (int t = 4; t <= 6; t++) grad_step(p, o, t);
        hb_context *ctx2 = hb_test_context(1, 35);
        uint64_t junk;
        ck_assert_int_eq(hb_context_next_stream(ctx2, &junk), HB_OK);
        hb_params *p2 = layout(ctx2, S[k].dt, 0);
        ck_assert_int_eq(hb_params_set_trainable(p2, 1, 0), HB_OK);
        hb_optimizer *o2 = make_opt(ctx2, p2, &S[k]);
        ck_assert_int_eq(hb_checkpoint_load(path, p2, o2), HB_OK);
        ck_assert_int_eq(hb_optimizer_step_count(o2), 3);
        for (int t = 4; t <= 6; t++) grad_step(p2, o2, t);
        ck_assert_msg(memcmp(hb_params_data(p), hb_params_data(p2), data_bytes(p)) == 0,
                      "setup %zu: resumed parameters differ", k);
        size_t es = o->sdtype == HB_F64 ? 8 : 4;
        ck_assert_uint_eq(o->n_state, 16 + 12);
        if (o->m) ck_assert(memcmp(o->m, o2->m, o->n_state * es) == 0);
        if (o->buf) ck_assert(memcmp(o->buf, o2->buf, o->n_state * es) == 0);
        if (o->kind == HB_OPTIM_ADAM_MINI) {
            ck_assert_uint_eq(o->n_part, 2 + 3); /* 2 heads of attn.wq, 3 rows of wte */
            ck_assert(memcmp(o->v, o2->v, o->n_part * es) == 0);
        }
        if (o->master) ck_assert(memcmp(o->master, o2->master, o->n_state * 4) == 0);
        hb_optimizer_free(o2);
        hb_params_free(p2);
        hb_context_free(ctx2);
        hb_optimizer_free(o);
        hb_params_free(p);
        hb_context_free(ctx);
    }
    unlink(path);
    rmdir(dir);
}
END_TEST

/* Version 1 images (no flags: every block trainable) still load; flags must match the
 * params' when an optimizer is loaded (HB_ESHAPE otherwise, nothing changed) and are
 * ignored by a params-only load; a flags field with an unknown bit is HB_EFORMAT. */
START_TEST(test_v1_and_flags) {
    hb_context *ctx = hb_test_context(1, 36);
    const setup s = {HB_OPTIM_ADAM_MINI, HB_F32, 0, 0};
    hb_params *p = layout(ctx, HB_F32, 0);
    hb_optimizer *o = make_opt(ctx, p, &s);
    grad_step(p, o, 1);
    grad_step(p, o, 2);
    size_t size;
    ck_assert_int_eq(hb_checkpoint_size(p, o, &size), HB_OK);
    unsigned char *img = malloc(size), *c = malloc(size), *again = malloc(size);
    ck_assert_int_eq(hb_checkpoint_save_buffer(p, o, img, size, NULL), HB_OK);
    ck_assert_uint_eq(rd32(img + 8), 2);
    size_t v1len;
    unsigned char *v1 = to_v1(img, size, &v1len);
    ck_assert_uint_eq(v1len, size - 3 * 4);
    /* into other objects; saving them again gives back the v2 image byte for byte */
    hb_params *q = layout(ctx, HB_F32, 0);
    hb_optimizer *w = make_opt(ctx, q, &s);
    ck_assert_int_eq(hb_checkpoint_load_buffer(v1, v1len, q, w), HB_OK);
    ck_assert_int_eq(hb_optimizer_step_count(w), 2);
    ck_assert_int_eq(hb_checkpoint_save_buffer(q, w, again, size, NULL), HB_OK);
    ck_assert(memcmp(again, img, size) == 0);
    /* other versions */
    memcpy(c, v1, v1len);
    wr32(c + 8, 0);
    wr32(c + 28, crc32_ref(c, 28));
    ck_assert_int_eq(hb_checkpoint_load_buffer(c, v1len, q, w), HB_EFORMAT);
    wr32(c + 8, 3);
    wr32(c + 28, crc32_ref(c, 28));
    ck_assert_int_eq(hb_checkpoint_load_buffer(c, v1len, q, w), HB_EFORMAT);
    /* a v1 file read as v2 (version field changed alone) is malformed, not misread */
    memcpy(c, v1, v1len);
    wr32(c + 8, 2);
    wr32(c + 28, crc32_ref(c, 28));
    ck_assert_int_eq(hb_checkpoint_load_buffer(c, v1len, q, w), HB_EFORMAT);
    /* v1 absurd block count (bound with 37-byte entries), valid CRC */
    memcpy(c, v1, v1len);
    wr64(c + 32 + 16 + 16, 1000);
    {
        uint64_t l = rd64(c + 32 + 8);
        wr32(c + 32 + 16 + l, crc32_ref(c + 32, 16 + l));
    }
    ck_assert_int_eq(hb_checkpoint_load_buffer(c, v1len, q, w), HB_EFORMAT);

    /* frozen params (ln.weight): the all-trainable file, v1 or v2, does not fit an
     * optimizer over them, but fills the params alone */
    hb_params *f = layout(ctx, HB_F32, 0);
    ck_assert_int_eq(hb_params_set_trainable(f, 1, 0), HB_OK);
    hb_optimizer *fo = make_opt(ctx, f, &s);
    grad_step(f, fo, 1);
    size_t L;
    unsigned char *before = snapshot(f, NULL, &L);
    ck_assert_int_eq(hb_checkpoint_load_buffer(img, size, f, fo), HB_ESHAPE);
    ck_assert_int_eq(hb_checkpoint_load_buffer(v1, v1len, f, fo), HB_ESHAPE);
    ck_assert_int_eq(hb_optimizer_step_count(fo), 1);
    unsigned char *after = snapshot(f, NULL, &L);
    ck_assert(memcmp(before, after, L) == 0);
    free(after);
    ck_assert_int_eq(hb_checkpoint_load_buffer(img, size, f, NULL), HB_OK);
    ck_assert(memcmp(hb_params_data(f), hb_params_data(p), data_bytes(p)) == 0);
    ck_assert_int_eq(hb_checkpoint_load_buffer(v1, v1len, f, NULL), HB_OK);
    int tr = -1;
    ck_assert_int_eq(hb_params_block_trainable(f, 1, &tr), HB_OK);
    ck_assert_int_eq(tr, 0); /* loading values does not touch the flags */
    /* and the other way: a file with a frozen block into all-trainable objects */
    size_t fsize;
    ck_assert_int_eq(hb_checkpoint_size(f, fo, &fsize), HB_OK);
    ck_assert_uint_eq(fsize, size - 4 * 4 - 4); /* m lacks ln.weight's 4 floats, v its 1 partition */
    unsigned char *fimg = malloc(fsize);
    ck_assert_int_eq(hb_checkpoint_save_buffer(f, fo, fimg, fsize, NULL), HB_OK);
    size_t fl0 = 32 + 16 + 24 + 4 + 7 + 4;       /* flags of entry 0: after len, name, kind */
    size_t fl1 = fl0 + 4 + 4 + 2 * 8 + 16 + 4 + 9 + 4; /* of entry 1 */
    ck_assert_uint_eq(rd32(fimg + fl0), 0);
    ck_assert_uint_eq(rd32(fimg + fl1), 1);
    free(before);
    before = snapshot(p, o, &L);
    ck_assert_int_eq(hb_checkpoint_load_buffer(fimg, fsize, p, o), HB_ESHAPE);
    after = snapshot(p, o, &L);
    ck_assert(memcmp(before, after, L) == 0);
    free(after);
    free(before);
    ck_assert_int_eq(hb_checkpoint_load_buffer(fimg, fsize, q, NULL), HB_OK);
    ck_assert(memcmp(hb_params_data(q), hb_params_data(f), data_bytes(f)) == 0);
    /* flags with an unknown bit, valid CRC: malformed, whatever it is loaded into */
    unsigned char *b = malloc(fsize);
    for (uint32_t bit = 1; bit < 32; bit++) {
        memcpy(b, fimg, fsize);
        wr32(b + fl0, 1u << bit);
        uint64_t l = rd64(b + 32 + 8);
        wr32(b + 32 + 16 + l, crc32_ref(b + 32, 16 + l));
        ck_assert_int_eq(hb_checkpoint_load_buffer(b, fsize, f, fo), HB_EFORMAT);
        ck_assert_int_eq(hb_checkpoint_load_buffer(b, fsize, f, NULL), HB_EFORMAT);
    }
    /* bit 0 set on another block, valid CRC: flags differ from f's → HB_ESHAPE with the
     * optimizer, fine for the params alone */
    memcpy(b, fimg, fsize);
    wr32(b + fl0, 1);
    {
        uint64_t l = rd64(b + 32 + 8);
        wr32(b + 32 + 16 + l, crc32_ref(b + 32, 16 + l));
    }
    ck_assert_int_eq(hb_checkpoint_load_buffer(b, fsize, f, fo), HB_ESHAPE);
    ck_assert_int_eq(hb_checkpoint_load_buffer(b, fsize, f, NULL), HB_OK);
    ck_assert_int_eq(hb_checkpoint_load_buffer(fimg, fsize, f, fo), HB_OK);
    free(b);
    /* flags changed after the optimizer was created: its state no longer describes the
     * params, so it can be neither saved nor loaded (HB_ESTATE); params alone still can */
    ck_assert_int_eq(hb_params_set_trainable(f, 1, 1), HB_OK);
    ck_assert_int_eq(hb_checkpoint_save_buffer(f, fo, fimg, fsize, NULL), HB_ESTATE);
    ck_assert_int_eq(hb_checkpoint_size(f, fo, &fsize), HB_ESTATE);
    ck_assert_int_eq(hb_checkpoint_load_buffer(img, size, f, fo), HB_ESTATE);
    ck_assert_int_eq(hb_checkpoint_load_buffer(img, size, f, NULL), HB_OK);
    free(fimg);
    hb_optimizer_free(fo);
    hb_params_free(f);
    hb_optimizer_free(w);
    hb_params_free(q);
    free(v1);
    free(img);
    free(c);
    free(again);
    hb_optimizer_free(o);
    hb_params_free(p);
    hb_context_free(ctx);
}
END_TEST

/* save to a file and load it into fresh objects (Adam-mini: the load allocates v; a frozen
 * block has no state). */
static int oom_save_load(hb_context *ctx, void *arg) {
    const char *path = arg;
    hb_params *p = NULL, *q = NULL;
    hb_optimizer *o = NULL, *w = NULL;
    int64_t sh[2] = {4, 4};
    int rc = HB_OK;
    for (int k = 0; k < 2 && rc == HB_OK; k++) {
        hb_params **pp = k ? &q : &p;
        rc = hb_params_create(ctx, HB_BF16, pp);
        if (rc == HB_OK) rc = hb_params_add_block(*pp, "attn.wq", HB_BLOCK_ATTN_Q, 2, sh, NULL);
        if (rc == HB_OK) rc = hb_params_add_block(*pp, "frozen", HB_BLOCK_ATTN_K, 2, sh, NULL);
        if (rc == HB_OK) rc = hb_params_set_trainable(*pp, 1, 0);
        if (rc == HB_OK) rc = hb_params_finalize(*pp);
        if (rc == HB_OK) rc = hb_optimizer_create(ctx, HB_OPTIM_ADAM_MINI, *pp, k ? &w : &o);
        if (rc == HB_OK) rc = hb_optimizer_set_i64(k ? w : o, HB_OPT_MASTER_COPY, 1);
    }
    if (rc == HB_OK) rc = hb_optimizer_step(o);
    if (rc == HB_OK) rc = hb_checkpoint_save(path, p, o);
    if (rc == HB_OK) rc = hb_checkpoint_load(path, q, w);
    if (rc == HB_OK && hb_optimizer_step_count(w) != 1) rc = HB_ESTATE;
    hb_optimizer_free(o);
    hb_optimizer_free(w);
    hb_params_free(p);
    hb_params_free(q);
    return rc;
}

START_TEST(test_oom) {
    char dir[] = "/tmp/hb_ckpt_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/oom.ckpt", dir);
    ck_assert_int_ge(hb_test_oom_loop(oom_save_load, path), 10);
    unlink(path);
    rmdir(dir);
}
END_TEST


/* Rewrite the header of an image after its sections changed: size, section count, version
 * field, CRC. */
static void fix_header(unsigned char *img, size_t len, uint32_t version, uint32_t nsec) {
    wr32(img + 8, version);
    wr64(img + 16, len);
    wr32(img + 24, nsec);
    wr32(img + 28, crc32_ref(img, 28));
}

/* Append a section (tag, payload) with its CRC at img + len; returns the new length. */
static size_t append_section(unsigned char *img, size_t len, uint32_t tag, const void *payload,
                             size_t plen) {
    wr32(img + len, tag);
    wr32(img + len + 4, 0);
    wr64(img + len + 8, plen);
    memcpy(img + len + 16, payload, plen);
    wr32(img + len + 16 + plen, crc32_ref(img + len, 16 + plen));
    return len + 16 + plen + 4;
}

static int64_t info_i64(const hb_checkpoint_info *info, hb_checkpoint_key key) {
    int64_t v = -12345;
    ck_assert_int_eq(hb_checkpoint_info_get_i64(info, key, &v), HB_OK);
    return v;
}

/* Format 2.1: a checkpoint of a built-in model records its configuration, seeds and data,
 * and hb_checkpoint_info rebuilds the identical model (initial values and data) from the
 * file alone. */
START_TEST(test_model_section_rebuilds) {
    hb_context *ctx = hb_test_context(1, 41);
    uint64_t s0;
    ck_assert_int_eq(hb_context_next_stream(ctx, &s0), HB_OK); /* counter not at 0 */
    hb_model_config *cfg = NULL;
    ck_assert_int_eq(hb_model_config_create(ctx, HB_MODEL_MLP, &cfg), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_INPUTS, 5), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_WIDTH, 7), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_LAYERS, 1), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_CLASSES, 3), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_BATCH, 6), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_ACTIVATION, HB_ACT_GELU), HB_OK);
    hb_model *m = NULL;
    ck_assert_int_eq(hb_model_create(ctx, cfg, &m), HB_OK);
    hb_params *p = hb_model_params(m);
    size_t nb = data_bytes(p);
    unsigned char *init = malloc(nb);
    memcpy(init, hb_params_data(p), nb);
    uint64_t ds;
    ck_assert_int_eq(hb_context_next_stream(ctx, &ds), HB_OK);
    ck_assert_int_eq(hb_model_set_synthetic(m, 3, ds, 5), HB_OK);
    double loss0;
    ck_assert_int_eq(hb_model_loss(m, &loss0), HB_OK);
    hb_optimizer *o = NULL;
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_ADAM, p, &o), HB_OK);
    for (int t = 0; t < 2; t++) {
        ck_assert_int_eq(hb_model_loss_grad(m, NULL), HB_OK);
        ck_assert_int_eq(hb_optimizer_step(o), HB_OK);
    }
    size_t size;
    ck_assert_int_eq(hb_checkpoint_size(p, o, &size), HB_OK);
    unsigned char *img = malloc(size);
    ck_assert_int_eq(hb_checkpoint_save_buffer(p, o, img, size, NULL), HB_OK);
    ck_assert_uint_eq(rd32(img + 8), 2u | 1u << 16); /* format 2.1 */
    ck_assert_uint_eq(rd32(img + 24), 4);

    hb_checkpoint_info *info = NULL;
    ck_assert_int_eq(hb_checkpoint_info_read_buffer(ctx, img, size, &info), HB_OK);
    ck_assert_int_eq(info_i64(info, HB_CK_VERSION_MAJOR), 2);
    ck_assert_int_eq(info_i64(info, HB_CK_VERSION_MINOR), 1);
    ck_assert_int_eq(info_i64(info, HB_CK_DTYPE), HB_F64);
    ck_assert_int_eq(info_i64(info, HB_CK_NUM_PARAMS), (int64_t)hb_params_count(p));
    ck_assert_int_eq(info_i64(info, HB_CK_NUM_BLOCKS), (int64_t)hb_params_num_blocks(p));
    ck_assert_int_eq(info_i64(info, HB_CK_HAS_OPTIMIZER), 1);
    ck_assert_int_eq(info_i64(info, HB_CK_OPTIMIZER_KIND), HB_OPTIM_ADAM);
    ck_assert_int_eq(info_i64(info, HB_CK_STEP), 2);
    ck_assert_int_eq(info_i64(info, HB_CK_HAS_MODEL), 1);
    ck_assert_int_eq(info_i64(info, HB_CK_MODEL_KIND), HB_MODEL_MLP);
    ck_assert_int_eq(info_i64(info, HB_CK_MODEL_SEED), 41);
    ck_assert_int_eq(info_i64(info, HB_CK_MODEL_STREAM), 1);
    ck_assert_int_eq(info_i64(info, HB_CK_DATA), HB_CKDATA_SYNTHETIC);
    ck_assert_int_eq(info_i64(info, HB_CK_DATA_SEED), 41);
    ck_assert_int_eq(info_i64(info, HB_CK_DATA_STREAM), (int64_t)ds);
    ck_assert_int_eq(info_i64(info, HB_CK_DATA_BATCHES), 3);
    ck_assert_int_eq(info_i64(info, HB_CK_DATA_FIRST), 5);
    int64_t v;
    ck_assert_int_eq(hb_checkpoint_info_get_i64(info, (hb_checkpoint_key)99, &v), HB_EINVAL);
    ck_assert_int_eq(hb_checkpoint_info_get_i64(info, HB_CK_STEP, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_checkpoint_info_get_i64(NULL, HB_CK_STEP, &v), HB_EINVAL);

    /* rebuild from the file alone, in a fresh context */
    hb_model_config *cfg2 = NULL;
    ck_assert_int_eq(hb_checkpoint_info_model_config(info, &cfg2), HB_OK);
    for (hb_model_key k = HB_MK_DTYPE; k <= HB_MK_QUAD_COND; k++) {
        int64_t a = -1, b = -2;
        int ra = hb_model_config_get_i64(cfg, k, &a), rb = hb_model_config_get_i64(cfg2, k, &b);
        ck_assert_int_eq(ra, rb);
        if (ra == HB_OK) ck_assert_int_eq(a, b);
    }
    hb_context *ctx2 = hb_test_context(1, 0);
    ck_assert_int_eq(hb_context_set_i64(ctx2, HB_CTX_SEED, info_i64(info, HB_CK_MODEL_SEED)), HB_OK);
    for (int64_t i = 0; i < info_i64(info, HB_CK_MODEL_STREAM); i++)
        ck_assert_int_eq(hb_context_next_stream(ctx2, &s0), HB_OK);
    hb_model *m2 = NULL;
    ck_assert_int_eq(hb_model_create(ctx2, cfg2, &m2), HB_OK);
    hb_params *p2 = hb_model_params(m2);
    ck_assert(memcmp(hb_params_data(p2), init, nb) == 0); /* the same initialisation */
    ck_assert_int_eq(hb_context_set_i64(ctx2, HB_CTX_SEED, info_i64(info, HB_CK_DATA_SEED)), HB_OK);
    ck_assert_int_eq(hb_model_set_synthetic(m2, (size_t)info_i64(info, HB_CK_DATA_BATCHES),
                                            (uint64_t)info_i64(info, HB_CK_DATA_STREAM),
                                            (uint64_t)info_i64(info, HB_CK_DATA_FIRST)), HB_OK);
    double loss2;
    ck_assert_int_eq(hb_model_loss(m2, &loss2), HB_OK);
    ck_assert(loss2 == loss0); /* the same data, bit for bit */
    hb_optimizer *o2 = NULL;
    ck_assert_int_eq(hb_optimizer_create(ctx2, HB_OPTIM_ADAM, p2, &o2), HB_OK);
    ck_assert_int_eq(hb_checkpoint_load_buffer(img, size, p2, o2), HB_OK);
    ck_assert(memcmp(hb_params_data(p2), hb_params_data(p), nb) == 0);
    /* saved again: the same bytes (the rebuilt model records the same origin) */
    unsigned char *again = malloc(size);
    ck_assert_int_eq(hb_checkpoint_save_buffer(p2, o2, again, size, NULL), HB_OK);
    ck_assert(memcmp(again, img, size) == 0);

    /* user data: the section says so, and the config still rebuilds */
    int64_t shx[2] = {2, 5}, shy[1] = {2};
    hb_tensor *x = NULL, *y = NULL;
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F64, 2, shx, &x), HB_OK);
    ck_assert_int_eq(hb_tensor_create(ctx, HB_I32, 1, shy, &y), HB_OK);
    ck_assert_int_eq(hb_model_set_batch(m, x, y), HB_OK);
    hb_checkpoint_info *info2 = NULL;
    ck_assert_int_eq(hb_checkpoint_save_buffer(p, NULL, again, size, &size), HB_OK);
    ck_assert_int_eq(hb_checkpoint_info_read_buffer(ctx, again, size, &info2), HB_OK);
    ck_assert_int_eq(info_i64(info2, HB_CK_DATA), HB_CKDATA_EXTERNAL);
    ck_assert_int_eq(info_i64(info2, HB_CK_HAS_OPTIMIZER), 0);
    ck_assert_int_eq(hb_checkpoint_info_get_i64(info2, HB_CK_DATA_SEED, &v), HB_ENOTFOUND);
    ck_assert_int_eq(hb_checkpoint_info_get_i64(info2, HB_CK_STEP, &v), HB_ENOTFOUND);
    /* the caller's batches: not even their count (hb_model_set_batch can be called again) */
    ck_assert_int_eq(hb_checkpoint_info_get_i64(info2, HB_CK_DATA_BATCHES, &v), HB_ENOTFOUND);
    hb_checkpoint_info_free(info2);

    /* images (likewise a text file or corpus): external, but the micro-batch count is kept,
     * so a front end that knows the source sets as many again */
    int64_t shi[3] = {4, 1, 5}, shl[1] = {4};
    hb_tensor *xi = NULL, *yi = NULL;
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F64, 3, shi, &xi), HB_OK);
    ck_assert_int_eq(hb_tensor_create(ctx, HB_I32, 1, shl, &yi), HB_OK);
    for (int i = 0; i < 20; i++) ((double *)hb_tensor_data(xi))[i] = (double)(i * 13 % 256);
    for (int i = 0; i < 4; i++) ((int32_t *)hb_tensor_data(yi))[i] = i % 3;
    ck_assert_int_eq(hb_model_set_images(m, xi, yi, 2, 0), HB_OK);
    ck_assert_int_eq(hb_checkpoint_save_buffer(p, NULL, again, size, &size), HB_OK);
    ck_assert_int_eq(hb_checkpoint_info_read_buffer(ctx, again, size, &info2), HB_OK);
    ck_assert_int_eq(info_i64(info2, HB_CK_DATA), HB_CKDATA_EXTERNAL);
    ck_assert_int_eq(info_i64(info2, HB_CK_DATA_BATCHES), 2);
    ck_assert_int_eq(hb_checkpoint_info_get_i64(info2, HB_CK_DATA_SEED, &v), HB_ENOTFOUND);
    ck_assert_int_eq(hb_checkpoint_info_get_i64(info2, HB_CK_DATA_FIRST, &v), HB_ENOTFOUND);
    hb_checkpoint_info_free(info2);
    hb_tensor_free(xi);
    hb_tensor_free(yi);

    hb_tensor_free(x);
    hb_tensor_free(y);
    hb_checkpoint_info_free(info);
    hb_checkpoint_info_free(NULL);
    hb_model_config_free(cfg);
    hb_model_config_free(cfg2);
    hb_optimizer_free(o);
    hb_optimizer_free(o2);
    hb_model_free(m);
    hb_model_free(m2);
    free(init);
    free(img);
    free(again);
    hb_context_free(ctx2);
    hb_context_free(ctx);
}
END_TEST

/* Quadratic (real key, no data), params of no model (format 2.0, unchanged bytes), the
 * reader's tolerance (unknown optional sections skipped) and its checks. */
START_TEST(test_model_section_format) {
    hb_context *ctx = hb_test_context(1, 5);
    hb_model_config *cfg = NULL;
    ck_assert_int_eq(hb_model_config_create(ctx, HB_MODEL_QUADRATIC, &cfg), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_QUAD_BLOCKS, 2), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_QUAD_BLOCK_SIZE, 3), HB_OK);
    ck_assert_int_eq(hb_model_config_set_f64(cfg, HB_MK_QUAD_COND, 123.25), HB_OK);
    hb_model *m = NULL;
    ck_assert_int_eq(hb_model_create(ctx, cfg, &m), HB_OK);
    hb_params *p = hb_model_params(m);
    size_t size;
    ck_assert_int_eq(hb_checkpoint_size(p, NULL, &size), HB_OK);
    unsigned char *img = malloc(size + 4096), *c = malloc(size + 4096);
    ck_assert_int_eq(hb_checkpoint_save_buffer(p, NULL, img, size, NULL), HB_OK);
    hb_checkpoint_info *info = NULL;
    ck_assert_int_eq(hb_checkpoint_info_read_buffer(ctx, img, size, &info), HB_OK);
    ck_assert_int_eq(info_i64(info, HB_CK_DATA), HB_CKDATA_NONE);
    ck_assert_int_eq(info_i64(info, HB_CK_MODEL_KIND), HB_MODEL_QUADRATIC);
    hb_model_config *cfg2 = NULL;
    ck_assert_int_eq(hb_checkpoint_info_model_config(info, &cfg2), HB_OK);
    double cond = 0;
    ck_assert_int_eq(hb_model_config_get_f64(cfg2, HB_MK_QUAD_COND, &cond), HB_OK);
    ck_assert(cond == 123.25);
    hb_model_config_free(cfg2);
    hb_checkpoint_info_free(info);

    /* where the model section starts: after header, block table and parameters */
    size_t pos = 32;
    for (int sct = 0; sct < 2; sct++) pos += 16 + (size_t)rd64(img + pos + 8) + 4;
    ck_assert_uint_eq(rd32(img + pos), 4);
    const size_t msec = pos, mlen = (size_t)rd64(img + pos + 8);

    /* an unknown optional section after it is skipped (a later minor version's) */
    const unsigned char extra[5] = {1, 2, 3, 4, 5};
    memcpy(c, img, size);
    size_t n2 = append_section(c, size, 9, extra, sizeof extra);
    fix_header(c, n2, 2u | 7u << 16, 4);
    ck_assert_int_eq(hb_checkpoint_load_buffer(c, n2, p, NULL), HB_OK);
    ck_assert_int_eq(hb_checkpoint_info_read_buffer(ctx, c, n2, &info), HB_OK);
    ck_assert_int_eq(info_i64(info, HB_CK_VERSION_MINOR), 7);
    ck_assert_int_eq(info_i64(info, HB_CK_HAS_MODEL), 1);
    hb_checkpoint_info_free(info);
    /* ... but not in a 2.0 file, nor out of tag order, nor a repeated tag */
    fix_header(c, n2, 2u, 4);
    ck_assert_int_eq(hb_checkpoint_load_buffer(c, n2, p, NULL), HB_EFORMAT);
    memcpy(c, img, msec);
    n2 = append_section(c, msec, 9, extra, sizeof extra);
    n2 = append_section(c, n2, 4, img + msec + 16, mlen);
    fix_header(c, n2, 2u | 1u << 16, 4);
    ck_assert_int_eq(hb_checkpoint_load_buffer(c, n2, p, NULL), HB_EFORMAT);
    memcpy(c, img, size);
    n2 = append_section(c, size, 4, img + msec + 16, mlen);
    fix_header(c, n2, 2u | 1u << 16, 4);
    ck_assert_int_eq(hb_checkpoint_load_buffer(c, n2, p, NULL), HB_EFORMAT);
    /* the section count must say how many follow */
    memcpy(c, img, size);
    ck_assert_uint_eq(rd32(c + 24), 3);
    fix_header(c, size, 2u | 1u << 16, 2);
    ck_assert_int_eq(hb_checkpoint_load_buffer(c, size, p, NULL), HB_EFORMAT);
    fix_header(c, size, 2u | 1u << 16, 4);
    ck_assert_int_eq(hb_checkpoint_load_buffer(c, size, p, NULL), HB_EFORMAT);

    /* the model section's own checks (CRC made right): a repeated key, a bad type, a
     * key past the table, trailing bytes, no kind */
    const size_t k0 = msec + 16 + 64; /* first key entry */
    struct { size_t off; uint32_t val; } bad[] = {
        {k0 + 16, 0 /* key := first key */}, {k0 + 4, 3}, {k0, 64}, {msec + 16 + 4, 0},
        {msec + 16, 0 /* section version 0 */}, {msec + 16 + 24, 3 /* data kind */}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memcpy(c, img, size);
        wr32(c + bad[i].off, i == 0 ? rd32(img + k0) : bad[i].val);
        wr32(c + msec + 16 + mlen, crc32_ref(c + msec, 16 + mlen));
        if (hb_checkpoint_load_buffer(c, size, p, NULL) != HB_EFORMAT) ck_abort_msg("bad[%zu]", i);
        ck_assert_int_eq(hb_checkpoint_info_read_buffer(ctx, c, size, &info), HB_EFORMAT);
    }
    /* a key this library does not know: the file reads, the config does not rebuild */
    memcpy(c, img, size);
    wr32(c + k0, 63);
    wr32(c + msec + 16 + mlen, crc32_ref(c + msec, 16 + mlen));
    ck_assert_int_eq(hb_checkpoint_load_buffer(c, size, p, NULL), HB_OK);
    ck_assert_int_eq(hb_checkpoint_info_read_buffer(ctx, c, size, &info), HB_OK);
    ck_assert_int_eq(hb_checkpoint_info_model_config(info, &cfg2), HB_EUNSUPPORTED);
    ck_assert_ptr_null(cfg2);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "cannot be rebuilt"));
    hb_checkpoint_info_free(info);
    /* a later section version may append fields */
    memcpy(c, img, size);
    memcpy(c + size, extra, sizeof extra); /* scratch: rebuild the section longer */
    {
        unsigned char *payload = malloc(mlen + 8);
        memcpy(payload, img + msec + 16, mlen);
        memset(payload + mlen, 0xab, 8);
        wr32(payload, 2);
        n2 = append_section(c, msec, 4, payload, mlen + 8);
        fix_header(c, n2, 2u | 1u << 16, 3);
        ck_assert_int_eq(hb_checkpoint_load_buffer(c, n2, p, NULL), HB_OK);
        wr32(payload, 1); /* version 1 with trailing bytes: not ours */
        n2 = append_section(c, msec, 4, payload, mlen + 8);
        fix_header(c, n2, 2u | 1u << 16, 3);
        ck_assert_int_eq(hb_checkpoint_load_buffer(c, n2, p, NULL), HB_EFORMAT);
        free(payload);
    }

    /* params of no model: format 2.0, no model section */
    hb_params *q = layout(ctx, HB_F32, 0);
    ck_assert_int_eq(hb_checkpoint_save_buffer(q, NULL, c, size + 4096, &n2), HB_OK);
    ck_assert_uint_eq(rd32(c + 8), 2);
    ck_assert_uint_eq(rd32(c + 24), 2);
    ck_assert_int_eq(hb_checkpoint_info_read_buffer(ctx, c, n2, &info), HB_OK);
    ck_assert_int_eq(info_i64(info, HB_CK_HAS_MODEL), 0);
    ck_assert_int_eq(info_i64(info, HB_CK_VERSION_MINOR), 0);
    int64_t v;
    ck_assert_int_eq(hb_checkpoint_info_get_i64(info, HB_CK_MODEL_SEED, &v), HB_ENOTFOUND);
    ck_assert_int_eq(hb_checkpoint_info_get_i64(info, HB_CK_DATA, &v), HB_ENOTFOUND);
    ck_assert_int_eq(hb_checkpoint_info_model_config(info, &cfg2), HB_ENOTFOUND);
    ck_assert_int_eq(hb_checkpoint_info_model_config(info, NULL), HB_EINVAL);
    hb_checkpoint_info_free(info);
    /* bad arguments, bad files */
    ck_assert_int_eq(hb_checkpoint_info_read_buffer(NULL, c, n2, &info), HB_EINVAL);
    ck_assert_int_eq(hb_checkpoint_info_read_buffer(ctx, c, n2, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_checkpoint_info_read_buffer(ctx, NULL, 5, &info), HB_EINVAL);
    ck_assert_int_eq(hb_checkpoint_info_read_buffer(ctx, c, n2 - 1, &info), HB_EFORMAT);
    ck_assert_ptr_null(info);
    ck_assert_int_eq(hb_checkpoint_info_read(ctx, "/nonexistent/x.ckpt", &info), HB_EIO);
    ck_assert_int_eq(hb_checkpoint_info_read(ctx, "/", &info), HB_EIO);
    ck_assert_int_eq(hb_checkpoint_info_model_config(NULL, &cfg2), HB_EINVAL);
    char dir[] = "/tmp/hb_ckinfo_XXXXXX", path[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/q.ckpt", dir);
    ck_assert_int_eq(hb_checkpoint_save(path, p, NULL), HB_OK);
    ck_assert_int_eq(hb_checkpoint_info_read(ctx, path, &info), HB_OK);
    ck_assert_int_eq(info_i64(info, HB_CK_NUM_PARAMS), 6);
    hb_checkpoint_info_free(info);
    FILE *f = fopen(path, "r+b");
    fseek(f, 40, SEEK_SET);
    fputc(0x5a, f);
    fclose(f);
    ck_assert_int_eq(hb_checkpoint_info_read(ctx, path, &info), HB_EFORMAT);
    f = fopen(path, "wb");
    fputs("not a checkpoint, just text", f);
    fclose(f);
    ck_assert_int_eq(hb_checkpoint_info_read(ctx, path, &info), HB_EFORMAT);
    unlink(path);
    rmdir(dir);

    hb_params_free(q);
    hb_model_config_free(cfg);
    hb_model_free(m);
    free(img);
    free(c);
    hb_context_free(ctx);
}
END_TEST

Suite *hb_suite_checkpoint(void) {
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_resume_bit_identical);
    tcase_add_test(tc, test_every_byte_and_length);
    tcase_add_test(tc, test_format_and_crafted);
    tcase_add_test(tc, test_files_and_bad_input);
    tcase_add_test(tc, test_temp_files_and_mode);
    tcase_add_test(tc, test_oom);
    tcase_add_test(tc, test_frozen_round_trip);
    tcase_add_test(tc, test_v1_and_flags);
    tcase_add_test(tc, test_model_section_rebuilds);
    tcase_add_test(tc, test_model_section_format);
    suite_add_tcase(s, tc);
    return s;
}
