/* Real data (docs/data.md): the IDX reader on tiny files written here (raw and gzip, every
 * type code, every malformation), hb_model_set_images on mlp and cnn, and the Debian
 * Fashion-MNIST files when installed (skipped otherwise). */
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "hb_test.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"

static void temp_path(char *buf, size_t cap, const char *what) {
    snprintf(buf, cap, "/tmp/hb_data_%ld_%s", (long)getpid(), what);
}

/* Write n bytes to path, gzip-compressed if gz. */
static void write_file(const char *path, const void *bytes, size_t n, int gz) {
    if (gz) {
        gzFile g = gzopen(path, "wb");
        ck_assert_ptr_nonnull(g);
        if (n) ck_assert_int_eq(gzwrite(g, bytes, (unsigned)n), (int)n);
        ck_assert_int_eq(gzclose(g), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
        fclose(f);
    }
}

/* Header of a 1-d IDX file of n elements of type code. */
static size_t header_1d(unsigned char *h, unsigned code, uint32_t n) {
    const unsigned char v[8] = {0, 0, (unsigned char)code, 1, n >> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255};
    memcpy(h, v, 8);
    return 8;
}

/* Read bytes (written raw or gz) with hb_idx_read; returns the status, *out the tensor. */
static int read_bytes(hb_context *ctx, const void *bytes, size_t n, int gz, hb_tensor **out) {
    char path[128];
    temp_path(path, sizeof path, gz ? "t.idx.gz" : "t.idx");
    write_file(path, bytes, n, gz);
    int rc = hb_idx_read(ctx, path, out);
    remove(path);
    return rc;
}

START_TEST(test_idx_types) {
    hb_context *ctx = hb_test_context(1, 0);
    for (int gz = 0; gz < 2; gz++) {
        unsigned char b[64];
        hb_tensor *t = NULL;
        /* u8: 0, 200, 255 */
        size_t k = header_1d(b, 0x08, 3);
        b[k++] = 0, b[k++] = 200, b[k++] = 255;
        ck_assert_int_eq(read_bytes(ctx, b, k, gz, &t), HB_OK);
        ck_assert_int_eq(hb_tensor_dtype(t), HB_I32);
        const int32_t *i = hb_tensor_data(t);
        ck_assert(i[0] == 0 && i[1] == 200 && i[2] == 255);
        hb_tensor_free(t);
        /* i8: -1, 127 */
        k = header_1d(b, 0x09, 2);
        b[k++] = 0xFF, b[k++] = 0x7F;
        ck_assert_int_eq(read_bytes(ctx, b, k, gz, &t), HB_OK);
        i = hb_tensor_data(t);
        ck_assert(i[0] == -1 && i[1] == 127);
        hb_tensor_free(t);
        /* i16: -2, 258 (big-endian) */
        k = header_1d(b, 0x0B, 2);
        b[k++] = 0xFF, b[k++] = 0xFE, b[k++] = 0x01, b[k++] = 0x02;
        ck_assert_int_eq(read_bytes(ctx, b, k, gz, &t), HB_OK);
        i = hb_tensor_data(t);
        ck_assert(i[0] == -2 && i[1] == 258);
        hb_tensor_free(t);
        /* i32: -70000, 0x01020304 */
        k = header_1d(b, 0x0C, 2);
        const unsigned char i32[8] = {0xFF, 0xFE, 0xEE, 0x90, 1, 2, 3, 4};
        memcpy(b + k, i32, 8), k += 8;
        ck_assert_int_eq(read_bytes(ctx, b, k, gz, &t), HB_OK);
        i = hb_tensor_data(t);
        ck_assert(i[0] == -70000 && i[1] == 0x01020304);
        hb_tensor_free(t);
        /* f32: 1.5 = 0x3FC00000, -0.25 = 0xBE800000 */
        k = header_1d(b, 0x0D, 2);
        const unsigned char f32[8] = {0x3F, 0xC0, 0, 0, 0xBE, 0x80, 0, 0};
        memcpy(b + k, f32, 8), k += 8;
        ck_assert_int_eq(read_bytes(ctx, b, k, gz, &t), HB_OK);
        ck_assert_int_eq(hb_tensor_dtype(t), HB_F32);
        const float *f = hb_tensor_data(t);
        ck_assert(f[0] == 1.5f && f[1] == -0.25f);
        hb_tensor_free(t);
        /* f64: 3.0 = 0x4008000000000000 */
        k = header_1d(b, 0x0E, 1);
        const unsigned char f64[8] = {0x40, 0x08, 0, 0, 0, 0, 0, 0};
        memcpy(b + k, f64, 8), k += 8;
        ck_assert_int_eq(read_bytes(ctx, b, k, gz, &t), HB_OK);
        ck_assert_int_eq(hb_tensor_dtype(t), HB_F64);
        ck_assert(((const double *)hb_tensor_data(t))[0] == 3.0);
        hb_tensor_free(t);
        /* 3-d dims kept: 2×1×3 u8 */
        const unsigned char d3[] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6};
        ck_assert_int_eq(read_bytes(ctx, d3, sizeof d3, gz, &t), HB_OK);
        ck_assert_int_eq(hb_tensor_ndim(t), 3);
        ck_assert(hb_tensor_dim(t, 0) == 2 && hb_tensor_dim(t, 1) == 1 && hb_tensor_dim(t, 2) == 3);
        ck_assert_int_eq(((const int32_t *)hb_tensor_data(t))[5], 6);
        hb_tensor_free(t);
    }
    hb_context_free(ctx);
}
END_TEST

/* Every malformation: the status, *out NULL, a message naming the file. */
static void expect_bad(hb_context *ctx, const void *b, size_t n, int gz, int status, const char *what) {
    hb_tensor *t = (hb_tensor *)&t; /* not NULL: the call must reset it */
    int rc = read_bytes(ctx, b, n, gz, &t);
    ck_assert_msg(rc == status, "%s (gz %d): got %d (%s), want %d", what, gz, rc,
                  hb_context_last_error(ctx), status);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(hb_context_last_error(ctx), "/tmp/hb_data_") != NULL, "%s: message '%s'", what,
                  hb_context_last_error(ctx));
}

START_TEST(test_idx_malformed) {
    hb_context *ctx = hb_test_context(1, 0);
    const unsigned char good[] = {0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4};
    unsigned char b[64];
    for (int gz = 0; gz < 2; gz++) {
        memcpy(b, good, sizeof good);
        b[0] = 1;
        expect_bad(ctx, b, sizeof good, gz, HB_EFORMAT, "wrong magic");
        memcpy(b, good, sizeof good);
        b[2] = 0x0A;
        expect_bad(ctx, b, sizeof good, gz, HB_EFORMAT, "unknown type");
        memcpy(b, good, sizeof good);
        b[3] = 0;
        expect_bad(ctx, b, sizeof good, gz, HB_EFORMAT, "ndim 0");
        b[3] = HB_MAX_DIMS + 1;
        expect_bad(ctx, b, sizeof good, gz, HB_EFORMAT, "ndim too large");
        memcpy(b, good, sizeof good);
        b[7] = 0;
        expect_bad(ctx, b, sizeof good, gz, HB_EFORMAT, "zero dim");
        expect_bad(ctx, good, 0, gz, HB_EFORMAT, "empty file");
        expect_bad(ctx, good, 3, gz, HB_EFORMAT, "truncated magic");
        expect_bad(ctx, good, 9, gz, HB_EFORMAT, "truncated dims");
        expect_bad(ctx, good, sizeof good - 1, gz, HB_EFORMAT, "truncated data");
        ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "3 of the 4 bytes"));
        memcpy(b, good, sizeof good);
        b[sizeof good] = 9;
        expect_bad(ctx, b, sizeof good + 1, gz, HB_EFORMAT, "trailing byte");
        /* 2^31 × 2^31 elements: rejected on the header, nothing allocated */
        const unsigned char huge[] = {0, 0, 8, 2, 0x80, 0, 0, 0, 0x80, 0, 0, 0, 1};
        expect_bad(ctx, huge, sizeof huge, gz, HB_EOVERFLOW, "absurd dims");
        /* under the limit but far longer than the file: fails on the missing bytes */
        const unsigned char big[] = {0, 0, 0x0E, 1, 0x01, 0, 0, 0, 1, 2};
        expect_bad(ctx, big, sizeof big, gz, HB_EFORMAT, "declared 2^24 f64, 2 bytes present");
    }
    /* a gzip stream cut short: corrupt, not a short file */
    unsigned char z[256];
    uLongf zn = sizeof z;
    char path[128];
    temp_path(path, sizeof path, "cut.gz");
    write_file(path, good, sizeof good, 1);
    FILE *f = fopen(path, "rb");
    zn = fread(z, 1, sizeof z, f);
    fclose(f);
    remove(path);
    expect_bad(ctx, z, zn - 6, 0, HB_EFORMAT, "cut gzip stream");
    /* a missing file */
    hb_tensor *t = NULL;
    ck_assert_int_eq(hb_idx_read(ctx, "/nonexistent/dir/x.idx", &t), HB_EIO);
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "/nonexistent/dir/x.idx"));
    ck_assert_int_eq(hb_idx_read(ctx, NULL, &t), HB_EINVAL);
    ck_assert_int_eq(hb_idx_read(ctx, path, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_idx_read(NULL, path, &t), HB_EINVAL);
    ck_assert_ptr_null(t);
    hb_context_free(ctx);
}
END_TEST

static hb_model *make(hb_context *ctx, hb_model_kind kind, int64_t size, int64_t channels) {
    hb_model_config *cfg = NULL;
    hb_model *m = NULL;
    ck_assert_int_eq(hb_model_config_create(ctx, kind, &cfg), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_BATCH, 4), HB_OK);
    if (kind != HB_MODEL_GPT) ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_CLASSES, 3), HB_OK);
    if (kind == HB_MODEL_MLP) {
        ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_INPUTS, size), HB_OK);
        ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_WIDTH, 6), HB_OK);
    } else if (kind == HB_MODEL_CNN) {
        ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_IMAGE_SIZE, size), HB_OK);
        ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_CHANNELS, channels), HB_OK);
        ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_CONV_WIDTH, 2), HB_OK);
        ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_CONV_STAGES, 1), HB_OK);
    }
    ck_assert_int_eq(hb_model_create(ctx, cfg, &m), HB_OK);
    hb_model_config_free(cfg);
    return m;
}

/* N images H×W with pixel values (i·7 + e·13) mod 256, labels i mod 3. */
static void make_images(hb_context *ctx, int64_t N, int64_t H, int64_t W, hb_tensor **x, hb_tensor **y) {
    ck_assert_int_eq(hb_tensor_create(ctx, HB_I32, 3, (int64_t[]){N, H, W}, x), HB_OK);
    ck_assert_int_eq(hb_tensor_create(ctx, HB_I32, 1, (int64_t[]){N}, y), HB_OK);
    int32_t *p = hb_tensor_data(*x), *l = hb_tensor_data(*y);
    for (int64_t i = 0; i < N; i++) {
        l[i] = (int32_t)(i % 3);
        for (int64_t e = 0; e < H * W; e++) p[i * H * W + e] = (int32_t)((i * 7 + e * 13) % 256);
    }
}

START_TEST(test_set_images) {
    hb_context *ctx = hb_test_context(1, 0);
    hb_model *mlp = make(ctx, HB_MODEL_MLP, 12, 1), *cnn = make(ctx, HB_MODEL_CNN, 4, 1);
    hb_model *cnn3 = make(ctx, HB_MODEL_CNN, 4, 3), *gpt = make(ctx, HB_MODEL_GPT, 0, 0);
    hb_tensor *x34, *x44, *x43, *y;
    make_images(ctx, 5, 3, 4, &x34, &y);
    hb_tensor_free(y);
    make_images(ctx, 5, 4, 3, &x43, &y);
    hb_tensor_free(y);
    make_images(ctx, 5, 4, 4, &x44, &y);
    size_t nb = hb_model_num_batches(mlp);
    /* mismatches: nothing changes */
    ck_assert_int_eq(hb_model_set_images(mlp, x44, y, 2, 0), HB_ESHAPE); /* 16 ≠ 12 inputs */
    ck_assert_int_eq(hb_model_set_images(cnn, x34, y, 2, 0), HB_ESHAPE); /* not square */
    ck_assert_int_eq(hb_model_set_images(cnn, x43, y, 2, 0), HB_ESHAPE);
    ck_assert_int_eq(hb_model_set_images(cnn3, x44, y, 2, 0), HB_ESHAPE); /* 3 channels */
    ck_assert_int_eq(hb_model_set_images(gpt, x44, y, 2, 0), HB_EUNSUPPORTED);
    ck_assert_int_eq(hb_model_set_images(mlp, x34, y, 0, 0), HB_EINVAL);
    ck_assert_int_eq(hb_model_set_images(mlp, NULL, y, 1, 0), HB_EINVAL);
    ck_assert_int_eq(hb_model_set_images_normalized(mlp, x34, y, 1, 0, 0.5, 0), HB_EINVAL);
    hb_tensor *y4;
    ck_assert_int_eq(hb_tensor_create(ctx, HB_I32, 1, (int64_t[]){4}, &y4), HB_OK);
    ck_assert_int_eq(hb_model_set_images(mlp, x34, y4, 1, 0), HB_ESHAPE); /* 4 labels, 5 images */
    ((int32_t *)hb_tensor_data(y))[2] = 3;
    ck_assert_int_eq(hb_model_set_images(mlp, x34, y, 1, 0), HB_ERANGE); /* label 3 of 3 classes */
    ((int32_t *)hb_tensor_data(y))[2] = 2;
    ((int32_t *)hb_tensor_data(x34))[7] = 256;
    ck_assert_int_eq(hb_model_set_images(mlp, x34, y, 1, 0), HB_ERANGE); /* pixel > 255 */
    ((int32_t *)hb_tensor_data(x34))[7] = 255;
    ck_assert_uint_eq(hb_model_num_batches(mlp), nb);
    /* mlp: sample s is image s mod 5, normalised over the images */
    ck_assert_int_eq(hb_model_set_images(mlp, x34, y, 2, 3), HB_OK);
    ck_assert_uint_eq(hb_model_num_batches(mlp), 2);
    double in[4 * 12], mean, sd, s = 0, q = 0;
    int32_t lab[4];
    ck_assert_int_eq(hb_model_batch_copy(mlp, 1, HB_BATCH_INPUTS, in, sizeof in), HB_OK);
    ck_assert_int_eq(hb_model_batch_copy(mlp, 1, HB_BATCH_TARGETS, lab, sizeof lab), HB_OK);
    ck_assert_int_eq(hb_images_stats(ctx, x34, &mean, &sd), HB_OK);
    const int32_t *px = hb_tensor_data(x34);
    for (int i = 0; i < 4; i++) {
        int img = (3 + 4 + i) % 5; /* batch 1 starts at sample first + 4 */
        ck_assert_int_eq(lab[i], img % 3);
        for (int e = 0; e < 12; e++) HB_ASSERT_CLOSE(in[i * 12 + e], (px[img * 12 + e] / 255.0 - mean) / sd, 1e-12);
    }
    for (size_t i = 0; i < 60; i++) {
        double v = px[i] / 255.0;
        s += v, q += v * v;
    }
    HB_ASSERT_CLOSE(mean, s / 60, 1e-14);
    HB_ASSERT_CLOSE(sd, sqrt(q / 60 - (s / 60) * (s / 60)), 1e-12);
    double loss = NAN;
    ck_assert_int_eq(hb_model_loss_grad(mlp, &loss), HB_OK);
    ck_assert(isfinite(loss));
    /* cnn: (n, 1, 4, 4) */
    ck_assert_int_eq(hb_model_set_images_normalized(cnn, x44, y, 1, 0, 0.5, 0.25), HB_OK);
    hb_dtype dt;
    int nd;
    int64_t sh[HB_MAX_DIMS];
    ck_assert_int_eq(hb_model_batch_shape(cnn, 0, HB_BATCH_INPUTS, &dt, &nd, sh), HB_OK);
    ck_assert(nd == 4 && sh[0] == 4 && sh[1] == 1 && sh[2] == 4 && sh[3] == 4);
    ck_assert_int_eq(hb_model_loss_grad(cnn, &loss), HB_OK);
    ck_assert(isfinite(loss));
    hb_tensor_free(x34), hb_tensor_free(x43), hb_tensor_free(x44), hb_tensor_free(y), hb_tensor_free(y4);
    hb_model_free(mlp), hb_model_free(cnn), hb_model_free(cnn3), hb_model_free(gpt);
    hb_context_free(ctx);
}
END_TEST

/* The Debian package: shapes, labels, a finite gradient, and a few Adam steps of an mlp
 * lower the loss on a fixed set of training images. */
START_TEST(test_fashion_mnist) {
    if (access(FMNIST_DIR "/train-images-idx3-ubyte.gz", R_OK) != 0) {
        fprintf(stderr, "data: %s absent, Fashion-MNIST test skipped\n", FMNIST_DIR);
        return;
    }
    hb_context *ctx = hb_test_context(1, 1);
    hb_tensor *x = NULL, *y = NULL, *xt = NULL, *yt = NULL;
    ck_assert_int_eq(hb_idx_read(ctx, FMNIST_DIR "/train-images-idx3-ubyte.gz", &x), HB_OK);
    ck_assert_int_eq(hb_idx_read(ctx, FMNIST_DIR "/train-labels-idx1-ubyte.gz", &y), HB_OK);
    ck_assert_int_eq(hb_idx_read(ctx, FMNIST_DIR "/t10k-images-idx3-ubyte.gz", &xt), HB_OK);
    ck_assert_int_eq(hb_idx_read(ctx, FMNIST_DIR "/t10k-labels-idx1-ubyte.gz", &yt), HB_OK);
    ck_assert(hb_tensor_ndim(x) == 3 && hb_tensor_dim(x, 0) == 60000 && hb_tensor_dim(x, 1) == 28 &&
              hb_tensor_dim(x, 2) == 28);
    ck_assert(hb_tensor_dim(xt, 0) == 10000 && hb_tensor_dim(yt, 0) == 10000 && hb_tensor_dim(y, 0) == 60000);
    const int32_t *l = hb_tensor_data(y);
    int count[10] = {0};
    for (int i = 0; i < 60000; i++) {
        ck_assert(l[i] >= 0 && l[i] < 10);
        count[l[i]]++;
    }
    for (int c = 0; c < 10; c++) ck_assert_int_eq(count[c], 6000); /* balanced classes */
    double mean, sd;
    ck_assert_int_eq(hb_images_stats(ctx, x, &mean, &sd), HB_OK);
    ck_assert(fabs(mean - 0.2860) < 1e-3 && fabs(sd - 0.3530) < 1e-3);

    hb_model_config *cfg = NULL;
    hb_model *m = NULL;
    ck_assert_int_eq(hb_model_config_create(ctx, HB_MODEL_MLP, &cfg), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_INPUTS, 784), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_WIDTH, 32), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_BATCH, 64), HB_OK);
    ck_assert_int_eq(hb_model_create(ctx, cfg, &m), HB_OK);
    hb_model_config_free(cfg);
    /* the model's loss on 4 fixed batches (256 images), before and after 40 Adam steps on
     * fresh batches of the training set */
    ck_assert_int_eq(hb_model_set_images_normalized(m, x, y, 4, 0, mean, sd), HB_OK);
    double before = NAN, after = NAN, g2 = 0;
    ck_assert_int_eq(hb_model_loss_grad(m, &before), HB_OK);
    hb_params *p = hb_model_params(m);
    hb_tensor *g = NULL;
    ck_assert_int_eq(hb_params_grad_flat_view(p, &g), HB_OK);
    for (size_t i = 0; i < hb_tensor_numel(g); i++) {
        double v;
        hb_tensor_get_f64(g, i, &v);
        g2 += v * v;
    }
    hb_tensor_free(g);
    ck_assert(isfinite(before) && isfinite(g2) && g2 > 0);
    hb_optimizer *opt = NULL;
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_ADAM, p, &opt), HB_OK);
    for (int t = 0; t < 40; t++) {
        ck_assert_int_eq(hb_model_set_images_normalized(m, x, y, 1, 256 + 64 * (uint64_t)t, mean, sd), HB_OK);
        ck_assert_int_eq(hb_model_loss_grad(m, NULL), HB_OK);
        ck_assert_int_eq(hb_optimizer_step(opt), HB_OK);
    }
    ck_assert_int_eq(hb_model_set_images_normalized(m, x, y, 4, 0, mean, sd), HB_OK);
    ck_assert_int_eq(hb_model_loss(m, &after), HB_OK);
    ck_assert_msg(after < 0.8 * before, "loss %g → %g", before, after);
    /* held-out: the t10k images with the training normalisation */
    ck_assert_int_eq(hb_model_set_images_normalized(m, xt, yt, 4, 0, mean, sd), HB_OK);
    double held = NAN;
    ck_assert_int_eq(hb_model_loss(m, &held), HB_OK);
    ck_assert_msg(held < 0.8 * before, "held-out loss %g (start %g)", held, before);
    hb_optimizer_free(opt);
    hb_model_free(m);
    hb_tensor_free(x), hb_tensor_free(y), hb_tensor_free(xt), hb_tensor_free(yt);
    hb_context_free(ctx);
}
END_TEST

Suite *hb_suite_data(void) {
    Suite *s = suite_create("data");
    TCase *tc = tcase_create("data");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_idx_types);
    tcase_add_test(tc, test_idx_malformed);
    tcase_add_test(tc, test_set_images);
    tcase_add_test(tc, test_fashion_mnist);
    suite_add_tcase(s, tc);
    return s;
}
