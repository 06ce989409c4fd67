/* Parameter blocks: builder, flat layout contract, lookups, views, initialisers. */
#include <string.h>

#include "hb_test.h"
#include "params/params_internal.h"

static hb_params *make_params(hb_context *ctx, hb_dtype dt) {
    hb_params *p = NULL;
    ck_assert_int_eq(hb_params_create(ctx, dt, &p), HB_OK);
    int64_t emb[2] = {10, 8}, w[2] = {16, 8}, b[1] = {16}, conv[4] = {4, 3, 3, 3};
    size_t idx = 99;
    ck_assert_int_eq(hb_params_add_block(p, "wte", HB_BLOCK_EMBEDDING, 2, emb, &idx), HB_OK);
    ck_assert_uint_eq(idx, 0);
    ck_assert_int_eq(hb_params_add_block(p, "fc.weight", HB_BLOCK_MLP_IN, 2, w, &idx), HB_OK);
    ck_assert_int_eq(hb_params_add_block(p, "fc.bias", HB_BLOCK_BIAS, 1, b, &idx), HB_OK);
    ck_assert_int_eq(hb_params_add_block(p, "conv", HB_BLOCK_CONV, 4, conv, NULL), HB_OK);
    ck_assert_int_eq(hb_params_finalize(p), HB_OK);
    return p;
}

START_TEST(test_layout_contract) {
    hb_context *ctx = hb_test_context(1, 0);
    hb_params *p = make_params(ctx, HB_F64);
    ck_assert_uint_eq(hb_params_num_blocks(p), 4);
    ck_assert_uint_eq(hb_params_count(p), 80 + 128 + 16 + 108);
    size_t expect_off[4] = {0, 80, 208, 224};
    for (size_t i = 0; i < 4; i++) {
        size_t off, numel;
        ck_assert_int_eq(hb_params_block_info(p, i, NULL, NULL, &off, &numel, NULL, NULL), HB_OK);
        ck_assert_uint_eq(off, expect_off[i]);
    }
    const char *name;
    hb_block_kind kind;
    int ndim;
    int64_t shape[HB_MAX_DIMS];
    ck_assert_int_eq(hb_params_block_info(p, 3, &name, &kind, NULL, NULL, &ndim, shape), HB_OK);
    ck_assert_str_eq(name, "conv");
    ck_assert_int_eq(kind, HB_BLOCK_CONV);
    ck_assert_int_eq(ndim, 4);
    ck_assert_int_eq(shape[3], 3);
    ck_assert_int_eq(hb_params_block_info(p, 4, &name, NULL, NULL, NULL, NULL, NULL), HB_ERANGE);
    ck_assert_str_eq(hb_params_block_name(p, 1), "fc.weight");
    ck_assert_ptr_null(hb_params_block_name(p, 4));
    size_t idx;
    ck_assert_int_eq(hb_params_find_block(p, "fc.bias", &idx), HB_OK);
    ck_assert_uint_eq(idx, 2);
    ck_assert_int_eq(hb_params_find_block(p, "nope", &idx), HB_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "nope"));
    ck_assert_int_eq(hb_params_find_block(p, NULL, &idx), HB_EINVAL);
    ck_assert_str_eq(hb_block_kind_name(HB_BLOCK_ATTN_Q), "attn_q");
    ck_assert_str_eq(hb_block_kind_name((hb_block_kind)999), "?");
    ck_assert_ptr_eq(hb_params_context(p), ctx);
    ck_assert_int_eq(hb_params_is_finalized(p), 1);
    hb_params_free(p);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_views_alias_flat_buffers) {
    hb_context *ctx = hb_test_context(1, 0);
    hb_params *p = make_params(ctx, HB_F32);
    hb_tensor *bv = NULL, *gv = NULL, *flat = NULL, *gflat = NULL;
    ck_assert_int_eq(hb_params_block_view(p, 1, &bv), HB_OK);
    ck_assert_int_eq(hb_params_grad_block_view(p, 1, &gv), HB_OK);
    ck_assert_int_eq(hb_params_flat_view(p, &flat), HB_OK);
    ck_assert_int_eq(hb_params_grad_flat_view(p, &gflat), HB_OK);
    ck_assert_int_eq(hb_tensor_ndim(bv), 2);
    ck_assert_int_eq(hb_tensor_dim(bv, 0), 16);
    ck_assert_int_eq(hb_tensor_is_owned(bv), 0);
    ck_assert_uint_eq(hb_tensor_numel(flat), hb_params_count(p));
    ck_assert_ptr_eq(hb_tensor_data(flat), hb_params_data(p));
    ck_assert_ptr_eq(hb_tensor_data(gflat), hb_params_grad(p));
    ck_assert_ptr_eq(hb_tensor_data(bv), (float *)hb_params_data(p) + 80);
    ck_assert_int_eq(hb_tensor_fill(bv, 3.0), HB_OK);
    float *theta = hb_params_data(p);
    ck_assert(theta[79] == 0.0f && theta[80] == 3.0f && theta[207] == 3.0f && theta[208] == 0.0f);
    ck_assert_int_eq(hb_tensor_fill(gv, 1.0), HB_OK);
    ck_assert_int_eq(hb_params_zero_grad(p), HB_OK);
    ck_assert(((float *)hb_params_grad(p))[100] == 0.0f);
    hb_tensor_free(bv);
    ck_assert_int_eq(hb_params_block_view(p, 9, &bv), HB_ERANGE);
    ck_assert_ptr_null(bv);
    ck_assert_int_eq(hb_params_block_view(p, 0, NULL), HB_EINVAL);
    hb_tensor_free(gv);
    hb_tensor_free(flat);
    hb_tensor_free(gflat);
    hb_params_free(p);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_builder_errors) {
    hb_context *ctx = hb_test_context(1, 0);
    hb_params *p = NULL;
    ck_assert_int_eq(hb_params_create(NULL, HB_F32, &p), HB_EINVAL);
    ck_assert_int_eq(hb_params_create(ctx, HB_F32, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_params_create(ctx, (hb_dtype)0, &p), HB_EDTYPE);
    ck_assert_int_eq(hb_params_create(ctx, HB_I32, &p), HB_EDTYPE);
    ck_assert_int_eq(hb_params_create(ctx, HB_F32, &p), HB_OK);
    int64_t s[2] = {2, 3}, z[2] = {2, 0};
    hb_tensor *t = NULL;
    ck_assert_int_eq(hb_params_flat_view(p, &t), HB_ESTATE);       /* before finalize */
    ck_assert_int_eq(hb_params_zero_grad(p), HB_ESTATE);
    ck_assert_int_eq(hb_params_init_block(p, 0, HB_INIT_ZEROS, 0, 0), HB_ESTATE);
    ck_assert_uint_eq(hb_params_count(p), 0);
    ck_assert_int_eq(hb_params_finalize(p), HB_ESTATE);             /* no blocks */
    ck_assert_int_eq(hb_params_add_block(p, NULL, HB_BLOCK_OTHER, 2, s, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_params_add_block(p, "", HB_BLOCK_OTHER, 2, s, NULL), HB_EINVAL);
    char longname[200];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    ck_assert_int_eq(hb_params_add_block(p, longname, HB_BLOCK_OTHER, 2, s, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_params_add_block(p, "a", (hb_block_kind)77, 2, s, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_params_add_block(p, "a", HB_BLOCK_OTHER, 2, z, NULL), HB_ESHAPE);
    ck_assert_int_eq(hb_params_add_block(p, "a", HB_BLOCK_OTHER, 0, s, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_params_add_block(p, "a", HB_BLOCK_OTHER, 2, s, NULL), HB_OK);
    ck_assert_int_eq(hb_params_add_block(p, "a", HB_BLOCK_OTHER, 2, s, NULL), HB_EINVAL); /* duplicate */
    /* 2^59 elements fit; two such blocks would need 2^63 bytes of f64 state: refused */
    int64_t big[2] = {INT64_C(1) << 29, INT64_C(1) << 30};
    ck_assert_int_eq(hb_params_add_block(p, "big1", HB_BLOCK_OTHER, 2, big, NULL), HB_OK);
    ck_assert_int_eq(hb_params_add_block(p, "big2", HB_BLOCK_OTHER, 2, big, NULL), HB_EOVERFLOW);
    hb_params_free(p);
    ck_assert_int_eq(hb_params_create(ctx, HB_F32, &p), HB_OK);
    ck_assert_int_eq(hb_params_add_block(p, "a", HB_BLOCK_OTHER, 2, s, NULL), HB_OK);
    ck_assert_int_eq(hb_params_finalize(p), HB_OK);
    ck_assert_int_eq(hb_params_finalize(p), HB_ESTATE);
    ck_assert_int_eq(hb_params_add_block(p, "b", HB_BLOCK_OTHER, 2, s, NULL), HB_ESTATE);
    ck_assert_int_eq(hb_params_init_block(p, 0, (hb_init)99, 0, 0), HB_EINVAL);
    ck_assert_int_eq(hb_params_init_block(p, 0, HB_INIT_UNIFORM, 1, 1), HB_EINVAL);
    ck_assert_int_eq(hb_params_init_block(p, 0, HB_INIT_NORMAL, 0, -1), HB_EINVAL);
    ck_assert_int_eq(hb_params_init_block(p, 0, HB_INIT_NORMAL, NAN, 1), HB_EINVAL);
    ck_assert_int_eq(hb_params_init_block(p, 0, HB_INIT_TORCH_LINEAR_BIAS, 0, 0), HB_EINVAL);
    ck_assert_int_eq(hb_params_init_block(p, 1, HB_INIT_ZEROS, 0, 0), HB_ERANGE);
    hb_params_free(p);
    /* NULL handles */
    hb_params_free(NULL);
    ck_assert_int_eq(hb_params_add_block(NULL, "a", HB_BLOCK_OTHER, 2, s, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_params_finalize(NULL), HB_EINVAL);
    ck_assert_int_eq(hb_params_init_block(NULL, 0, HB_INIT_ZEROS, 0, 0), HB_EINVAL);
    ck_assert_int_eq(hb_params_zero_grad(NULL), HB_EINVAL);
    ck_assert_int_eq(hb_params_find_block(NULL, "a", NULL), HB_EINVAL);
    ck_assert_int_eq(hb_params_block_info(NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_params_flat_view(NULL, &t), HB_EINVAL);
    ck_assert_uint_eq(hb_params_count(NULL), 0);
    ck_assert_ptr_null(hb_params_data(NULL));
    hb_context_free(ctx);
}
END_TEST

/* Initialisers: statistics on a fixed seed, bounds, determinism across thread counts. */
START_TEST(test_initialisers) {
    hb_context *c1 = hb_test_context(1, 7), *c2 = hb_test_context(2, 7);
    hb_params *p1 = NULL, *p2 = NULL;
    int64_t s[2] = {512, 256}; /* fan_in 256, fan_out 512 */
    ck_assert_int_eq(hb_params_create(c1, HB_F64, &p1), HB_OK);
    ck_assert_int_eq(hb_params_create(c2, HB_F64, &p2), HB_OK);
    ck_assert_int_eq(hb_params_add_block(p1, "w", HB_BLOCK_LINEAR, 2, s, NULL), HB_OK);
    ck_assert_int_eq(hb_params_add_block(p2, "w", HB_BLOCK_LINEAR, 2, s, NULL), HB_OK);
    ck_assert_int_eq(hb_params_finalize(p1), HB_OK);
    ck_assert_int_eq(hb_params_finalize(p2), HB_OK);
    const double n = 512.0 * 256.0;
    struct { hb_init init; double a, b, mean, var, bound; } cases[] = {
        {HB_INIT_CONSTANT, 2.5, 0, 2.5, 0, 2.5},
        {HB_INIT_NORMAL, 1, 2, 1, 4, 0},
        {HB_INIT_UNIFORM, -2, 4, 1, 3, 4},
        {HB_INIT_TORCH_LINEAR, 0, 0, 0, 1.0 / 256 / 3, 1 / 16.0},
        {HB_INIT_KAIMING_UNIFORM, 0, 0, 0, 2.0 / 256, sqrt(6.0 / 256)},
        {HB_INIT_KAIMING_NORMAL, 0, 0, 0, 2.0 / 256, 0},
        {HB_INIT_XAVIER_UNIFORM, 0, 0, 0, 2.0 / 768, sqrt(6.0 / 768)},
        {HB_INIT_XAVIER_NORMAL, 2, 0, 0, 4 * 2.0 / 768, 0},
        {HB_INIT_TORCH_EMBEDDING, 0, 0, 0, 1, 0},
        {HB_INIT_TORCH_LINEAR_BIAS, 64, 0, 0, 1.0 / 64 / 3, 1 / 8.0},
        {HB_INIT_TORCH_LAYERNORM_WEIGHT, 0, 0, 1, 0, 1},
        {HB_INIT_ZEROS, 0, 0, 0, 0, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ck_assert_int_eq(hb_params_init_block(p1, 0, cases[c].init, cases[c].a, cases[c].b), HB_OK);
        ck_assert_int_eq(hb_params_init_block(p2, 0, cases[c].init, cases[c].a, cases[c].b), HB_OK);
        const double *x = hb_params_data(p1);
        ck_assert_int_eq(memcmp(x, hb_params_data(p2), (size_t)n * 8), 0);
        double m = 0, v = 0, mx = 0;
        for (size_t i = 0; i < (size_t)n; i++) m += x[i];
        m /= n;
        for (size_t i = 0; i < (size_t)n; i++) v += (x[i] - m) * (x[i] - m), mx = fmax(mx, fabs(x[i]));
        v /= n;
        double sd = sqrt(cases[c].var);
        /* n = 131072: standard error of the mean is sd/362; 5 SE bound. Variance: 2% */
        ck_assert_msg(fabs(m - cases[c].mean) <= 5 * sd / 362 + 1e-15, "init %d mean %g", cases[c].init, m);
        ck_assert_msg(fabs(v - cases[c].var) <= 0.02 * cases[c].var + 1e-15, "init %d var %g", cases[c].init, v);
        if (cases[c].bound > 0) ck_assert_msg(mx <= cases[c].bound, "init %d max %g", cases[c].init, mx);
    }
    hb_params_free(p1);
    hb_params_free(p2);
    hb_context_free(c1);
    hb_context_free(c2);
}
END_TEST

START_TEST(test_bf16_params) {
    hb_context *ctx = hb_test_context(1, 3);
    hb_params *p = NULL;
    int64_t s[1] = {1000};
    ck_assert_int_eq(hb_params_create(ctx, HB_BF16, &p), HB_OK);
    ck_assert_int_eq(hb_params_add_block(p, "w", HB_BLOCK_OTHER, 1, s, NULL), HB_OK);
    ck_assert_int_eq(hb_params_finalize(p), HB_OK);
    ck_assert_int_eq(hb_params_dtype(p), HB_BF16);
    ck_assert_int_eq(hb_params_grad_dtype(p), HB_F32);
    ck_assert_int_eq(hb_params_init_block(p, 0, HB_INIT_NORMAL, 0, 1), HB_OK);
    /* the stored values are exactly the bf16 rounding of the same draws in f64 */
    double ref[1000];
    ck_assert_int_eq(hb_random_fill_f64(ctx, 0, 0, HB_DIST_NORMAL, 0, 1, ref, 1000), HB_OK);
    const uint16_t *h = hb_params_data(p);
    for (int i = 0; i < 1000; i++) ck_assert_uint_eq(h[i], hb_f32_to_bf16((float)ref[i]));
    hb_params_free(p);
    hb_context_free(ctx);
}
END_TEST

static int create_params_path(hb_context *ctx, void *arg) {
    (void)arg;
    hb_params *p = NULL;
    int rc = hb_params_create(ctx, HB_F32, &p);
    if (rc != HB_OK) return rc;
    char name[16];
    int64_t s[2] = {3, 4};
    for (int i = 0; i < 20 && rc == HB_OK; i++) { /* > 16 blocks: exercises table growth */
        snprintf(name, sizeof name, "b%d", i);
        rc = hb_params_add_block(p, name, HB_BLOCK_OTHER, 2, s, NULL);
        if (rc == HB_OK && i == 2) rc = hb_params_set_trainable(p, 2, 0); /* survives growth */
    }
    if (rc == HB_OK) rc = hb_params_finalize(p);
    int tr = 1;
    if (rc == HB_OK) rc = hb_params_block_trainable(p, 2, &tr);
    if (rc == HB_OK && (tr != 0 || hb_params_trainable_count(p) != hb_params_count(p) - 12))
        rc = HB_ESTATE;
    hb_tensor *v = NULL;
    if (rc == HB_OK) rc = hb_params_block_view(p, 3, &v);
    hb_tensor_free(v);
    hb_params_free(p);
    return rc;
}

START_TEST(test_params_oom) {
    ck_assert_int_ge(hb_test_oom_loop(create_params_path, NULL), 5);
}
END_TEST

/* Trainable flags: default 1, set/get before and after finalize, the element count, the
 * generation counter (moves on effective changes only), bad input. Counts are exact
 * integers from make_params' shapes: wte 80, fc.weight 128, fc.bias 16, conv 108. */
START_TEST(test_trainable_flags) {
    hb_context *ctx = hb_test_context(1, 7);
    hb_params *p = NULL;
    ck_assert_int_eq(hb_params_create(ctx, HB_F32, &p), HB_OK);
    int64_t a[1] = {3}, b[2] = {2, 5};
    ck_assert_int_eq(hb_params_add_block(p, "a", HB_BLOCK_OTHER, 1, a, NULL), HB_OK);
    ck_assert_uint_eq(hb_params_trainable_count(p), 3);
    /* before finalize, and the flag survives the block table's growth (> 16 blocks) */
    ck_assert_int_eq(hb_params_set_trainable(p, 0, 0), HB_OK);
    ck_assert_uint_eq(hb_params_trainable_count(p), 0);
    char name[16];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "b%d", i);
        ck_assert_int_eq(hb_params_add_block(p, name, HB_BLOCK_LINEAR, 2, b, NULL), HB_OK);
    }
    ck_assert_uint_eq(hb_params_trainable_count(p), 200);
    int tr = -1;
    ck_assert_int_eq(hb_params_block_trainable(p, 0, &tr), HB_OK);
    ck_assert_int_eq(tr, 0);
    ck_assert_int_eq(hb_params_block_trainable(p, 20, &tr), HB_OK);
    ck_assert_int_eq(tr, 1);
    ck_assert_int_eq(hb_params_finalize(p), HB_OK);
    ck_assert_uint_eq(hb_params_count(p), 203);
    ck_assert_uint_eq(hb_params_trainable_count(p), 200);
    hb_params_free(p);

    p = make_params(ctx, HB_F64);
    ck_assert_uint_eq(hb_params_trainable_count(p), 332);
    uint64_t gen = p->trainable_gen;
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(hb_params_block_trainable(p, i, &tr), HB_OK);
        ck_assert_int_eq(tr, 1);
    }
    /* after finalize; setting the current value changes nothing, not even the generation */
    ck_assert_int_eq(hb_params_set_trainable(p, 1, 1), HB_OK);
    ck_assert_uint_eq(p->trainable_gen, gen);
    ck_assert_int_eq(hb_params_set_trainable(p, 1, 0), HB_OK);
    ck_assert_uint_eq(p->trainable_gen, gen + 1);
    ck_assert_int_eq(hb_params_set_trainable(p, 1, 0), HB_OK);
    ck_assert_uint_eq(p->trainable_gen, gen + 1);
    ck_assert_int_eq(hb_params_set_trainable(p, 3, 0), HB_OK);
    ck_assert_uint_eq(hb_params_trainable_count(p), 80 + 16);
    ck_assert_int_eq(hb_params_block_trainable(p, 1, &tr), HB_OK);
    ck_assert_int_eq(tr, 0);
    ck_assert_int_eq(hb_params_set_trainable(p, 1, 1), HB_OK);
    ck_assert_uint_eq(p->trainable_gen, gen + 3);
    ck_assert_uint_eq(hb_params_trainable_count(p), 80 + 128 + 16);
    /* the layout and the values are untouched by the flags */
    size_t off, numel;
    ck_assert_int_eq(hb_params_block_info(p, 3, NULL, NULL, &off, &numel, NULL, NULL), HB_OK);
    ck_assert_uint_eq(off, 224);
    ck_assert_uint_eq(numel, 108);
    ck_assert_uint_eq(hb_params_count(p), 332);
    /* bad input: nothing changes */
    ck_assert_int_eq(hb_params_set_trainable(NULL, 0, 0), HB_EINVAL);
    ck_assert_int_eq(hb_params_set_trainable(p, 0, 2), HB_EINVAL);
    ck_assert_str_ne(hb_context_last_error(ctx), "");
    ck_assert_int_eq(hb_params_set_trainable(p, 0, -1), HB_EINVAL);
    ck_assert_int_eq(hb_params_set_trainable(p, 4, 0), HB_ERANGE);
    ck_assert_int_eq(hb_params_block_trainable(NULL, 0, &tr), HB_EINVAL);
    ck_assert_int_eq(hb_params_block_trainable(p, 0, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_params_block_trainable(p, 4, &tr), HB_ERANGE);
    ck_assert_uint_eq(hb_params_trainable_count(NULL), 0);
    ck_assert_uint_eq(p->trainable_gen, gen + 3);
    ck_assert_uint_eq(hb_params_trainable_count(p), 80 + 128 + 16);
    hb_params_free(p);
    hb_context_free(ctx);
}
END_TEST

Suite *hb_suite_params(void) {
    Suite *s = suite_create("params");
    TCase *tc = tcase_create("params");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_layout_contract);
    tcase_add_test(tc, test_views_alias_flat_buffers);
    tcase_add_test(tc, test_builder_errors);
    tcase_add_test(tc, test_initialisers);
    tcase_add_test(tc, test_bf16_params);
    tcase_add_test(tc, test_trainable_flags);
    tcase_add_test(tc, test_params_oom);
    suite_add_tcase(s, tc);
    return s;
}
