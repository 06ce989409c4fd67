/* Text corpora (hessblock/text.h): vocabulary and mapping, the per-source split, the
 * windows a gpt gets, every error, allocation failure, and a short training run on the
 * Debian fortunes (skipped when the package is absent). Corpora are written by the tests
 * into a temporary directory; everything is deterministic. */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hb_test.h"

static hb_model *make_gpt(hb_context *ctx, int64_t V, int64_t T, int64_t batch) {
    hb_model_config *cfg = NULL;
    ck_assert_int_eq(hb_model_config_create(ctx, HB_MODEL_GPT, &cfg), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_VOCAB, V), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_CONTEXT, T), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_WIDTH, 8), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_HEADS, 2), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_LAYERS, 1), HB_OK);
    ck_assert_int_eq(hb_model_config_set_i64(cfg, HB_MK_BATCH, batch), HB_OK);
    hb_model *m = NULL;
    ck_assert_int_eq(hb_model_create(ctx, cfg, &m), HB_OK);
    hb_model_config_free(cfg);
    return m;
}

/* A fresh temporary directory (removed by rm_dir). */
static void make_dir(char *dir) {
    strcpy(dir, "/tmp/hb_textXXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void write_file(char *path, size_t cap, const char *dir, const char *name,
                       const char *bytes, size_t n) {
    snprintf(path, cap, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
    fclose(f);
}

static void rm_dir(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        remove(p);
    }
    if (d) closedir(d);
    rmdir(dir);
}

/* Two sources: "abcabcabcabcabcabcab" (20 bytes: 2 validate) and "zyx\n" × 3 + "zy"
 * (14 bytes: 1 validates). Vocabulary: '\n' a b c x y z → 7 tokens in byte order. */
static const char SRC_A[] = "abcabcabcabcabcabcab";
static const char SRC_B[] = "zyx\nzyx\nzyx\nzy";

static void check_small(const hb_text_corpus *c) {
    ck_assert_uint_eq(hb_text_corpus_vocab_size(c), 7);
    const char order[] = "\nabcxyz";
    for (size_t i = 0; i < 7; i++) {
        ck_assert_int_eq(hb_text_corpus_token_byte(c, i), (unsigned char)order[i]);
        ck_assert_int_eq(hb_text_corpus_byte_token(c, (unsigned char)order[i]), (int)i);
    }
    ck_assert_int_eq(hb_text_corpus_token_byte(c, 7), -1);
    ck_assert_int_eq(hb_text_corpus_byte_token(c, 'd'), -1);
    ck_assert_int_eq(hb_text_corpus_byte_token(c, 256), -1);
    /* split: 18 + 13 train, 2 + 1 validate, concatenated in source order */
    ck_assert_uint_eq(hb_text_corpus_num_tokens(c, HB_SPLIT_TRAIN), 31);
    ck_assert_uint_eq(hb_text_corpus_num_tokens(c, HB_SPLIT_VALID), 3);
    ck_assert_uint_eq(hb_text_corpus_num_tokens(c, (hb_text_split)3), 0);
    int32_t tr[31], va[3];
    ck_assert_int_eq(hb_text_corpus_copy_tokens(c, HB_SPLIT_TRAIN, 0, 31, tr), HB_OK);
    ck_assert_int_eq(hb_text_corpus_copy_tokens(c, HB_SPLIT_VALID, 0, 3, va), HB_OK);
    const char expect_tr[] = "abcabcabcabcabcabczyx\nzyx\nzyx\nz";
    for (int i = 0; i < 31; i++) ck_assert_int_eq(tr[i], (int)(strchr(order, expect_tr[i]) - order));
    /* validation: "ab" (the end of A), then "y" (the end of B) */
    ck_assert_int_eq(va[0], 1);
    ck_assert_int_eq(va[1], 2);
    ck_assert_int_eq(va[2], 5);
    ck_assert_int_eq(tr[21], 0); /* the newline */
}

START_TEST(test_vocab_split) {
    hb_context *ctx = hb_test_context(1, 1);
    char dir[64], pa[128], pb[128];
    make_dir(dir);
    write_file(pa, sizeof pa, dir, "a.txt", SRC_A, 20);
    write_file(pb, sizeof pb, dir, "b.txt", SRC_B, 14);
    const char *paths[2] = {pa, pb};
    hb_text_corpus *c = NULL;
    ck_assert_int_eq(hb_text_corpus_create(ctx, 2, paths, &c), HB_OK);
    check_small(c);
    /* the same from memory */
    hb_text_corpus *cm = NULL;
    const void *data[2] = {SRC_A, SRC_B};
    size_t sizes[2] = {20, 14};
    ck_assert_int_eq(hb_text_corpus_create_buffers(ctx, 2, data, sizes, &cm), HB_OK);
    check_small(cm);
    /* copy_tokens: ranges */
    int32_t t[4] = {-7, -7, -7, -7};
    ck_assert_int_eq(hb_text_corpus_copy_tokens(c, HB_SPLIT_VALID, 1, 2, t), HB_OK);
    ck_assert_int_eq(t[0], 2);
    ck_assert_int_eq(t[1], 5);
    ck_assert_int_eq(hb_text_corpus_copy_tokens(c, HB_SPLIT_VALID, 2, 2, t), HB_ERANGE);
    ck_assert_int_eq(hb_text_corpus_copy_tokens(c, HB_SPLIT_VALID, SIZE_MAX, 2, t), HB_ERANGE);
    ck_assert_int_eq(hb_text_corpus_copy_tokens(c, HB_SPLIT_VALID, 3, 0, NULL), HB_OK);
    ck_assert_int_eq(hb_text_corpus_copy_tokens(c, (hb_text_split)0, 0, 1, t), HB_EINVAL);
    ck_assert_int_eq(hb_text_corpus_copy_tokens(c, HB_SPLIT_TRAIN, 0, 1, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_text_corpus_copy_tokens(NULL, HB_SPLIT_TRAIN, 0, 1, t), HB_EINVAL);
    ck_assert_int_eq(t[2], -7);
    /* order matters: b then a */
    const char *rev[2] = {pb, pa};
    hb_text_corpus *cr = NULL;
    ck_assert_int_eq(hb_text_corpus_create(ctx, 2, rev, &cr), HB_OK);
    ck_assert_int_eq(hb_text_corpus_copy_tokens(cr, HB_SPLIT_VALID, 0, 3, t), HB_OK);
    ck_assert_int_eq(t[0], 5); /* y, then a b */
    ck_assert_int_eq(t[1], 1);
    hb_text_corpus_free(cr);
    hb_text_corpus_free(cm);
    hb_text_corpus_free(c);
    hb_text_corpus_free(NULL);
    ck_assert_uint_eq(hb_text_corpus_vocab_size(NULL), 0);
    rm_dir(dir);
    hb_context_free(ctx);
}
END_TEST

/* Windows: sample s of a split of length len is S[o … o+T], o = (s·T) mod (len − T). */
START_TEST(test_windows) {
    hb_context *ctx = hb_test_context(1, 2);
    const void *data[2] = {SRC_A, SRC_B};
    size_t sizes[2] = {20, 14};
    hb_text_corpus *c = NULL;
    ck_assert_int_eq(hb_text_corpus_create_buffers(ctx, 2, data, sizes, &c), HB_OK);
    const int64_t T = 4, B = 3;
    hb_model *m = make_gpt(ctx, 7, T, B);
    ck_assert_int_eq(hb_model_set_corpus(m, c, HB_SPLIT_TRAIN, 2, 5), HB_OK);
    ck_assert_uint_eq(hb_model_num_batches(m), 2);
    ck_assert_uint_eq(hb_model_num_samples(m), 6);
    int32_t tr[31], x[12], y[12];
    ck_assert_int_eq(hb_text_corpus_copy_tokens(c, HB_SPLIT_TRAIN, 0, 31, tr), HB_OK);
    for (size_t b = 0; b < 2; b++) {
        ck_assert_int_eq(hb_model_batch_copy(m, b, HB_BATCH_INPUTS, x, sizeof x), HB_OK);
        ck_assert_int_eq(hb_model_batch_copy(m, b, HB_BATCH_TARGETS, y, sizeof y), HB_OK);
        for (int64_t i = 0; i < B; i++) {
            uint64_t s = 5 + b * (uint64_t)B + (uint64_t)i;
            size_t o = (size_t)((s * (uint64_t)T) % (31 - (uint64_t)T));
            for (int64_t t = 0; t < T; t++) {
                ck_assert_int_eq(x[i * T + t], tr[o + (size_t)t]);
                ck_assert_int_eq(y[i * T + t], tr[o + (size_t)t + 1]);
            }
        }
    }
    double loss;
    ck_assert_int_eq(hb_model_loss(m, &loss), HB_OK);
    ck_assert(isfinite(loss));
    /* the validation split has 3 tokens < T + 1: refused, data unchanged */
    ck_assert_int_eq(hb_model_set_corpus(m, c, HB_SPLIT_VALID, 1, 0), HB_EFORMAT);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "validation"));
    ck_assert_uint_eq(hb_model_num_samples(m), 6);
    hb_model_free(m);
    /* a context of 2 fits the validation split: windows of 3 tokens, one start (0) */
    m = make_gpt(ctx, 7, 2, 2);
    ck_assert_int_eq(hb_model_set_corpus(m, c, HB_SPLIT_VALID, 1, 0), HB_OK);
    ck_assert_int_eq(hb_model_batch_copy(m, 0, HB_BATCH_INPUTS, x, 4 * sizeof *x), HB_OK);
    ck_assert_int_eq(x[0], 1);
    ck_assert_int_eq(x[1], 2);
    ck_assert_int_eq(x[2], 1);
    hb_model_free(m);
    /* a larger vocabulary is fine; a smaller one is HB_ERANGE naming both sizes */
    m = make_gpt(ctx, 128, T, 1);
    ck_assert_int_eq(hb_model_set_corpus(m, c, HB_SPLIT_TRAIN, 1, 0), HB_OK);
    hb_model_free(m);
    m = make_gpt(ctx, 6, T, 1);
    ck_assert_int_eq(hb_model_set_corpus(m, c, HB_SPLIT_TRAIN, 1, 0), HB_ERANGE);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "(6)"));
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "(7 distinct"));
    ck_assert_int_eq(hb_model_set_corpus(m, c, (hb_text_split)0, 1, 0), HB_EINVAL);
    ck_assert_int_eq(hb_model_set_corpus(m, NULL, HB_SPLIT_TRAIN, 1, 0), HB_EINVAL);
    ck_assert_int_eq(hb_model_set_corpus(m, c, HB_SPLIT_TRAIN, 0, 0), HB_EINVAL);
    ck_assert_int_eq(hb_model_set_corpus(NULL, c, HB_SPLIT_TRAIN, 1, 0), HB_EINVAL);
    hb_model_free(m);
    {   /* not a token-sequence model */
        hb_model_config *mc = NULL;
        hb_model *mlp = NULL;
        ck_assert_int_eq(hb_model_config_create(ctx, HB_MODEL_MLP, &mc), HB_OK);
        ck_assert_int_eq(hb_model_create(ctx, mc, &mlp), HB_OK);
        ck_assert_int_eq(hb_model_set_corpus(mlp, c, HB_SPLIT_TRAIN, 1, 0), HB_EUNSUPPORTED);
        hb_model_free(mlp);
        hb_model_config_free(mc);
    }
    hb_text_corpus_free(c);
    hb_context_free(ctx);
}
END_TEST

/* A corpus of one file gives the windows hb_model_set_text gives on its training part. */
START_TEST(test_matches_set_text) {
    hb_context *ctx = hb_test_context(1, 3);
    char dir[64], p[128], q[128];
    make_dir(dir);
    const char text[] = "The quick brown fox jumps over the lazy dog; pack my box with five dozen jugs.";
    size_t n = sizeof text - 1, ntr = n - n / 10;
    write_file(p, sizeof p, dir, "all", text, n);
    write_file(q, sizeof q, dir, "train", text, ntr);
    const char *paths[1] = {p};
    hb_text_corpus *c = NULL;
    ck_assert_int_eq(hb_text_corpus_create(ctx, 1, paths, &c), HB_OK);
    hb_model *a = make_gpt(ctx, 256, 6, 4), *b = make_gpt(ctx, 256, 6, 4);
    ck_assert_int_eq(hb_model_set_corpus(a, c, HB_SPLIT_TRAIN, 3, 7), HB_OK);
    ck_assert_int_eq(hb_model_set_text(b, q, 3, 7), HB_OK);
    int32_t xa[24], xb[24];
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(hb_model_batch_copy(a, i, HB_BATCH_INPUTS, xa, sizeof xa), HB_OK);
        ck_assert_int_eq(hb_model_batch_copy(b, i, HB_BATCH_INPUTS, xb, sizeof xb), HB_OK);
        for (int j = 0; j < 24; j++)
            ck_assert_int_eq(hb_text_corpus_token_byte(c, (size_t)xa[j]), xb[j]);
    }
    hb_model_free(a);
    hb_model_free(b);
    hb_text_corpus_free(c);
    rm_dir(dir);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_errors) {
    hb_context *ctx = hb_test_context(1, 4);
    char dir[64], good[128], empty[128], big[160], missing[160];
    make_dir(dir);
    write_file(good, sizeof good, dir, "good", SRC_A, 20);
    write_file(empty, sizeof empty, dir, "empty", "", 0);
    snprintf(missing, sizeof missing, "%s/missing", dir);
    hb_text_corpus *c = (hb_text_corpus *)(void *)&c;
    const char *p1[2] = {good, empty};
    ck_assert_int_eq(hb_text_corpus_create(ctx, 2, p1, &c), HB_EFORMAT);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "empty"));
    const char *p2[2] = {good, missing};
    ck_assert_int_eq(hb_text_corpus_create(ctx, 2, p2, &c), HB_EIO);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), missing));
    const char *p3[1] = {dir}; /* a directory */
    ck_assert_int_eq(hb_text_corpus_create(ctx, 1, p3, &c), HB_EIO);
    const char *p4[2] = {good, NULL};
    ck_assert_int_eq(hb_text_corpus_create(ctx, 2, p4, &c), HB_EINVAL);
    ck_assert_int_eq(hb_text_corpus_create(ctx, 0, p1, &c), HB_EINVAL);
    ck_assert_int_eq(hb_text_corpus_create(ctx, HB_TEXT_MAX_SOURCES + 1, p1, &c), HB_EINVAL);
    ck_assert_int_eq(hb_text_corpus_create(ctx, 1, NULL, &c), HB_EINVAL);
    ck_assert_int_eq(hb_text_corpus_create(ctx, 1, p1, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_text_corpus_create(NULL, 1, p1, &c), HB_EINVAL);
    /* an absurd size: a sparse file one byte over the limit is refused from its size,
     * before anything is allocated or read */
    snprintf(big, sizeof big, "%s/big", dir);
    FILE *f = fopen(big, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(ftruncate(fileno(f), (off_t)HB_TEXT_MAX_BYTES + 1), 0);
    fclose(f);
    const char *p5[1] = {big};
    ck_assert_int_eq(hb_text_corpus_create(ctx, 1, p5, &c), HB_EOVERFLOW);
    /* … also as the sum of two files (the limit is on the corpus) */
    f = fopen(big, "wb");
    ck_assert_int_eq(ftruncate(fileno(f), (off_t)HB_TEXT_MAX_BYTES - 10), 0);
    fclose(f);
    const char *p6[2] = {big, good};
    ck_assert_int_eq(hb_text_corpus_create(ctx, 2, p6, &c), HB_EOVERFLOW);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "good"));
    ck_assert_ptr_null(c);
    /* buffers */
    const void *d1[2] = {SRC_A, NULL};
    size_t s1[2] = {20, 3};
    ck_assert_int_eq(hb_text_corpus_create_buffers(ctx, 2, d1, s1, &c), HB_EINVAL);
    const void *d2[2] = {SRC_A, SRC_B};
    size_t s2[2] = {20, 0};
    ck_assert_int_eq(hb_text_corpus_create_buffers(ctx, 2, d2, s2, &c), HB_EFORMAT);
    size_t s3[2] = {20, (size_t)HB_TEXT_MAX_BYTES}; /* never read: refused from the sizes */
    ck_assert_int_eq(hb_text_corpus_create_buffers(ctx, 2, d2, s3, &c), HB_EOVERFLOW);
    size_t s4[2] = {SIZE_MAX, SIZE_MAX};
    ck_assert_int_eq(hb_text_corpus_create_buffers(ctx, 2, d2, s4, &c), HB_EOVERFLOW);
    ck_assert_int_eq(hb_text_corpus_create_buffers(ctx, 0, d2, s2, &c), HB_EINVAL);
    ck_assert_int_eq(hb_text_corpus_create_buffers(ctx, 2, NULL, s2, &c), HB_EINVAL);
    ck_assert_int_eq(hb_text_corpus_create_buffers(ctx, 2, d2, NULL, &c), HB_EINVAL);
    ck_assert_int_eq(hb_text_corpus_create_buffers(NULL, 2, d2, s2, &c), HB_EINVAL);
    ck_assert_ptr_null(c);
    /* a corpus whose sources are all shorter than 10 bytes validates nothing */
    const void *d5[1] = {"short"};
    size_t s5[1] = {5};
    ck_assert_int_eq(hb_text_corpus_create_buffers(ctx, 1, d5, s5, &c), HB_OK);
    ck_assert_uint_eq(hb_text_corpus_num_tokens(c, HB_SPLIT_VALID), 0);
    hb_model *m = make_gpt(ctx, 8, 2, 1);
    ck_assert_int_eq(hb_model_set_corpus(m, c, HB_SPLIT_VALID, 1, 0), HB_EFORMAT);
    ck_assert_int_eq(hb_model_set_corpus(m, c, HB_SPLIT_TRAIN, 1, 0), HB_OK);
    hb_model_free(m);
    hb_text_corpus_free(c);
    rm_dir(dir);
    hb_context_free(ctx);
}
END_TEST

/* Allocation failure: every create path is a clean HB_ENOMEM without leaks. */
static int oom_files(hb_context *ctx, void *arg) {
    const char *const *paths = arg;
    hb_text_corpus *c = NULL;
    int rc = hb_text_corpus_create(ctx, 2, paths, &c);
    if (rc) return rc;
    hb_model *m = NULL;
    hb_model_config *cfg = NULL;
    rc = hb_model_config_create(ctx, HB_MODEL_GPT, &cfg);
    if (!rc) rc = hb_model_config_set_i64(cfg, HB_MK_VOCAB, 7);
    if (!rc) rc = hb_model_config_set_i64(cfg, HB_MK_CONTEXT, 4);
    if (!rc) rc = hb_model_config_set_i64(cfg, HB_MK_WIDTH, 4);
    if (!rc) rc = hb_model_config_set_i64(cfg, HB_MK_HEADS, 1);
    if (!rc) rc = hb_model_config_set_i64(cfg, HB_MK_LAYERS, 1);
    if (!rc) rc = hb_model_create(ctx, cfg, &m);
    if (!rc) rc = hb_model_set_corpus(m, c, HB_SPLIT_TRAIN, 2, 0);
    hb_model_free(m);
    hb_model_config_free(cfg);
    hb_text_corpus_free(c);
    return rc;
}

START_TEST(test_oom) {
    char dir[64], pa[128], pb[128];
    make_dir(dir);
    write_file(pa, sizeof pa, dir, "a", SRC_A, 20);
    write_file(pb, sizeof pb, dir, "b", SRC_B, 14);
    const char *paths[2] = {pa, pb};
    ck_assert_int_gt(hb_test_oom_loop(oom_files, (void *)paths), 3);
    rm_dir(dir);
}
END_TEST

/* The Debian fortunes (package fortunes / fortunes-min): the plain-text files of
 * /usr/share/games/fortunes (no .dat index, no .u8 link), sorted by name. Skipped when
 * the package is absent. */
#define FORTUNES "/usr/share/games/fortunes"
static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

START_TEST(test_fortunes) {
    DIR *d = opendir(FORTUNES);
    if (!d) {
        fprintf(stderr, "SKIP test_fortunes: %s absent (apt-get install fortunes)\n", FORTUNES);
        return;
    }
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 256) {
        const char *dot = strrchr(e->d_name, '.');
        if (e->d_name[0] == '.' || (dot && (!strcmp(dot, ".dat") || !strcmp(dot, ".u8")))) continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", FORTUNES, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) continue;
        names[n++] = strdup(p);
    }
    closedir(d);
    if (n == 0) {
        fprintf(stderr, "SKIP test_fortunes: no text files in %s\n", FORTUNES);
        return;
    }
    qsort(names, n, sizeof *names, cmp_str);
    hb_context *ctx = hb_test_context(1, 5);
    hb_text_corpus *c = NULL;
    ck_assert_int_eq(hb_text_corpus_create(ctx, n, (const char *const *)names, &c), HB_OK);
    size_t V = hb_text_corpus_vocab_size(c);
    ck_assert_uint_gt(V, 60); /* English: letters, digits, punctuation */
    ck_assert_uint_le(V, 256);
    ck_assert_int_ge(hb_text_corpus_byte_token(c, 'e'), 0);
    size_t ntr = hb_text_corpus_num_tokens(c, HB_SPLIT_TRAIN), nva = hb_text_corpus_num_tokens(c, HB_SPLIT_VALID);
    ck_assert_uint_gt(nva, ntr / 10);
    ck_assert_uint_lt(nva, ntr / 9 + n);
    /* a tiny gpt: data from both splits, finite losses, Adam lowers the training loss */
    hb_model *m = make_gpt(ctx, (int64_t)V, 16, 8), *v = NULL;
    ck_assert_int_eq(hb_model_set_corpus(m, c, HB_SPLIT_TRAIN, 1, 0), HB_OK);
    hb_optimizer *opt = NULL;
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_ADAM, hb_model_params(m), &opt), HB_OK);
    ck_assert_int_eq(hb_optimizer_set_f64(opt, HB_OPT_LR, 1e-2), HB_OK);
    double first = 0, last = 0;
    for (int s = 0; s < 20; s++) {
        ck_assert_int_eq(hb_model_loss_grad(m, &last), HB_OK);
        ck_assert(isfinite(last));
        if (s == 0) first = last;
        ck_assert_int_eq(hb_optimizer_step(opt), HB_OK);
    }
    ck_assert_msg(last < first - 0.5, "loss %g -> %g", first, last);
    HB_ASSERT_CLOSE(first, log((double)V), 0.1); /* near-uniform predictions at init */
    {   /* the validation split: a second model of the same layout, same θ */
        v = make_gpt(ctx, (int64_t)V, 16, 8);
        ck_assert_int_eq(hb_model_set_corpus(v, c, HB_SPLIT_VALID, 2, 0), HB_OK);
        hb_params *pv = hb_model_params(v), *pm = hb_model_params(m);
        memcpy(hb_params_data(pv), hb_params_data(pm), hb_params_count(pm) * hb_dtype_size(hb_params_dtype(pm)));
        double lv;
        ck_assert_int_eq(hb_model_loss(v, &lv), HB_OK);
        ck_assert(isfinite(lv));
        ck_assert_msg(lv < first, "validation loss %g after training, initial %g", lv, first);
    }
    hb_optimizer_free(opt);
    hb_model_free(v);
    hb_model_free(m);
    hb_text_corpus_free(c);
    for (size_t i = 0; i < n; i++) free(names[i]);
    hb_context_free(ctx);
}
END_TEST

Suite *hb_suite_text(void) {
    Suite *s = suite_create("text");
    TCase *tc = tcase_create("text");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_vocab_split);
    tcase_add_test(tc, test_windows);
    tcase_add_test(tc, test_matches_set_text);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_oom);
    tcase_add_test(tc, test_fortunes);
    suite_add_tcase(s, tc);
    return s;
}
