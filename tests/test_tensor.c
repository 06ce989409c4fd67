/* Tensors: create/wrap/accessors, fill/copy/convert, bf16 rounding, bad input, OOM. */
#include <float.h>
#include <stdint.h>
#include <string.h>

#include "hb_test.h"

static uint32_t f2u(float f) { union { float f; uint32_t u; } v = {f}; return v.u; }
static float u2f(uint32_t u) { union { uint32_t u; float f; } v = {u}; return v.f; }

START_TEST(test_create_and_accessors) {
    hb_context *ctx = hb_test_context(1, 0);
    int64_t shape[3] = {2, 3, 4};
    hb_tensor *t = NULL;
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F64, 3, shape, &t), HB_OK);
    ck_assert_int_eq(hb_tensor_dtype(t), HB_F64);
    ck_assert_int_eq(hb_tensor_ndim(t), 3);
    ck_assert_int_eq(hb_tensor_dim(t, 1), 3);
    ck_assert_int_eq(hb_tensor_dim(t, 3), 0);
    ck_assert_int_eq(hb_tensor_dim(t, -1), 0);
    ck_assert_uint_eq(hb_tensor_numel(t), 24);
    ck_assert_uint_eq(hb_tensor_nbytes(t), 192);
    ck_assert_int_eq(hb_tensor_is_owned(t), 1);
    const double *d = hb_tensor_data_const(t);
    for (int i = 0; i < 24; i++) ck_assert(d[i] == 0.0); /* zero-filled */
    ck_assert_int_eq(hb_tensor_set_f64(t, 23, 2.5), HB_OK);
    double v;
    ck_assert_int_eq(hb_tensor_get_f64(t, 23, &v), HB_OK);
    ck_assert(v == 2.5);
    ck_assert_int_eq(hb_tensor_get_f64(t, 24, &v), HB_ERANGE);
    ck_assert_int_eq(hb_tensor_set_f64(t, 24, 1), HB_ERANGE);
    ck_assert_int_eq(hb_tensor_get_f64(t, 0, NULL), HB_EINVAL);
    hb_tensor_free(t);
    /* NULL accessors */
    ck_assert_int_eq(hb_tensor_ndim(NULL), 0);
    ck_assert_uint_eq(hb_tensor_numel(NULL), 0);
    ck_assert_ptr_null(hb_tensor_data(NULL));
    ck_assert_int_eq(hb_tensor_fill(NULL, 1), HB_EINVAL);
    ck_assert_int_eq(hb_tensor_copy(NULL, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_tensor_get_f64(NULL, 0, &v), HB_EINVAL);
    ck_assert_int_eq(hb_tensor_set_f64(NULL, 0, 1), HB_EINVAL);
    ck_assert_uint_eq(hb_dtype_size(HB_F32), 4);
    ck_assert_uint_eq(hb_dtype_size(HB_BF16), 2);
    ck_assert_uint_eq(hb_dtype_size((hb_dtype)77), 0);
    hb_tensor_free(NULL);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_create_bad_args) {
    hb_context *ctx = hb_test_context(1, 0);
    hb_tensor *t = (hb_tensor *)1;
    int64_t s2[2] = {3, 4};
    ck_assert_int_eq(hb_tensor_create(NULL, HB_F32, 2, s2, &t), HB_EINVAL);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F32, 2, s2, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_tensor_create(ctx, (hb_dtype)0, 2, s2, &t), HB_EDTYPE);
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F32, 0, s2, &t), HB_EINVAL);
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F32, 5, s2, &t), HB_EINVAL);
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F32, 2, NULL, &t), HB_EINVAL);
    int64_t zero[2] = {3, 0}, neg[2] = {-1, 4};
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F32, 2, zero, &t), HB_ESHAPE);
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F32, 2, neg, &t), HB_ESHAPE);
    int64_t huge[3] = {INT64_C(1) << 40, INT64_C(1) << 40, 4};
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F32, 3, huge, &t), HB_EOVERFLOW);
    int64_t bytes_over[1] = {INT64_C(1) << 61}; /* elements fit, bytes do not */
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F64, 1, bytes_over, &t), HB_EOVERFLOW);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "overflow"));
    ck_assert_ptr_null(t);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_wrap_is_zero_copy) {
    hb_context *ctx = hb_test_context(1, 0);
    float buf[6] = {1, 2, 3, 4, 5, 6};
    int64_t s[2] = {2, 3};
    hb_tensor *t = NULL;
    ck_assert_int_eq(hb_tensor_wrap(ctx, HB_F32, 2, s, buf, &t), HB_OK);
    ck_assert_ptr_eq(hb_tensor_data(t), buf);
    ck_assert_int_eq(hb_tensor_is_owned(t), 0);
    ck_assert_int_eq(hb_tensor_fill(t, 7.0), HB_OK);
    ck_assert(buf[5] == 7.0f);
    hb_tensor_free(t); /* must not free buf */
    buf[0] = 1;
    ck_assert_int_eq(hb_tensor_wrap(ctx, HB_F32, 2, s, NULL, &t), HB_EINVAL);
    ck_assert_int_eq(hb_tensor_wrap(ctx, HB_F32, 2, s, (char *)buf + 1, &t), HB_EINVAL);
    ck_assert_int_eq(hb_tensor_wrap(ctx, (hb_dtype)9, 2, s, buf, &t), HB_EDTYPE);
    ck_assert_int_eq(hb_tensor_wrap(NULL, HB_F32, 2, s, buf, &t), HB_EINVAL);
    ck_assert_int_eq(hb_tensor_wrap(ctx, HB_F32, 2, s, buf, NULL), HB_EINVAL);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_bf16_rounding) {
    struct { uint32_t in; uint16_t out; const char *what; } cases[] = {
        {0x3f800000u, 0x3f80, "1.0 exact"},
        {0x3f808000u, 0x3f80, "tie, even below"},
        {0x3f818000u, 0x3f82, "tie, even above"},
        {0x3f808001u, 0x3f81, "just above a tie"},
        {0x3f807fffu, 0x3f80, "just below a tie"},
        {0xbf818000u, 0xbf82, "negative tie"},
        {0x00000000u, 0x0000, "+0"},
        {0x80000000u, 0x8000, "-0"},
        {0x7f800000u, 0x7f80, "+Inf"},
        {0xff800000u, 0xff80, "-Inf"},
        {0x7f7fffffu, 0x7f80, "FLT_MAX rounds to Inf"},
        {0x7f7f7fffu, 0x7f7f, "largest that stays finite"},
        {0x00018000u, 0x0002, "subnormal tie to even"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(hb_f32_to_bf16(u2f(cases[i].in)) == cases[i].out, "%s: got %04x", cases[i].what,
                      hb_f32_to_bf16(u2f(cases[i].in)));
    /* NaNs stay NaN (quiet), including signalling ones whose payload is in the low bits */
    uint16_t q = hb_f32_to_bf16(u2f(0x7fc00000u)), s = hb_f32_to_bf16(u2f(0x7f800001u));
    uint16_t nq = hb_f32_to_bf16(u2f(0xffc00001u));
    ck_assert(isnan(hb_bf16_to_f32(q)) && isnan(hb_bf16_to_f32(s)) && isnan(hb_bf16_to_f32(nq)));
    ck_assert(s & 0x0040);
    ck_assert(nq & 0x8000);
    /* widening is exact */
    ck_assert_uint_eq(f2u(hb_bf16_to_f32(0x3f81)), 0x3f810000u);
    /* every bf16 round-trips through f32 bit-exactly (NaNs aside) */
    for (uint32_t b = 0; b < 0x10000u; b++) {
        float f = hb_bf16_to_f32((uint16_t)b);
        if (!isnan(f)) ck_assert_uint_eq(hb_f32_to_bf16(f), b);
    }
}
END_TEST

START_TEST(test_fill_copy_convert) {
    hb_context *ctx = hb_test_context(1, 0);
    int64_t s[1] = {5};
    hb_tensor *a = NULL, *b = NULL, *h = NULL, *c = NULL;
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F64, 1, s, &a), HB_OK);
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F32, 1, s, &b), HB_OK);
    ck_assert_int_eq(hb_tensor_create(ctx, HB_BF16, 1, s, &h), HB_OK);
    double vals[5] = {1.0, 1.0 + 1.0 / 256, -3.140625, 1e-3, 65504.0};
    for (int i = 0; i < 5; i++) ck_assert_int_eq(hb_tensor_set_f64(a, i, vals[i]), HB_OK);
    ck_assert_int_eq(hb_tensor_copy(b, a), HB_OK);
    ck_assert_int_eq(hb_tensor_copy(h, b), HB_OK);
    for (int i = 0; i < 5; i++) {
        double x;
        ck_assert_int_eq(hb_tensor_get_f64(b, i, &x), HB_OK);
        ck_assert(x == (double)(float)vals[i]);
        ck_assert_int_eq(hb_tensor_get_f64(h, i, &x), HB_OK);
        ck_assert(x == hb_bf16_to_f32(hb_f32_to_bf16((float)vals[i])));
    }
    ck_assert_int_eq(hb_tensor_fill(h, 1.0 + 1.0 / 256), HB_OK); /* tie → 1.0 */
    double x;
    ck_assert_int_eq(hb_tensor_get_f64(h, 4, &x), HB_OK);
    ck_assert(x == 1.0);
    int64_t s2[2] = {5, 1};
    ck_assert_int_eq(hb_tensor_create(ctx, HB_F64, 2, s2, &c), HB_OK);
    ck_assert_int_eq(hb_tensor_copy(c, a), HB_ESHAPE);
    ck_assert_int_eq(hb_tensor_copy(a, NULL), HB_EINVAL);
    /* i32: by value, truncation toward zero, saturating, NaN → 0 */
    hb_tensor *q = NULL;
    ck_assert_int_eq(hb_tensor_create(ctx, HB_I32, 1, s, &q), HB_OK);
    ck_assert_uint_eq(hb_tensor_nbytes(q), 20);
    double iv[5] = {-2.7, 3.9, 1e12, -1e12, NAN};
    int32_t expect[5] = {-2, 3, INT32_MAX, INT32_MIN, 0};
    for (int i = 0; i < 5; i++) ck_assert_int_eq(hb_tensor_set_f64(a, i, iv[i]), HB_OK);
    ck_assert_int_eq(hb_tensor_copy(q, a), HB_OK);
    for (int i = 0; i < 5; i++) ck_assert_int_eq(((int32_t *)hb_tensor_data(q))[i], expect[i]);
    ck_assert_int_eq(hb_tensor_copy(a, q), HB_OK);
    ck_assert_int_eq(hb_tensor_get_f64(a, 0, &x), HB_OK);
    ck_assert(x == -2.0);
    hb_tensor_free(q);
    hb_tensor_free(a);
    hb_tensor_free(b);
    hb_tensor_free(h);
    hb_tensor_free(c);
    hb_context_free(ctx);
}
END_TEST

static int create_tensor_path(hb_context *ctx, void *arg) {
    (void)arg;
    int64_t s[2] = {3, 5};
    hb_tensor *t = NULL;
    int rc = hb_tensor_create(ctx, HB_F32, 2, s, &t);
    if (rc != HB_OK) { ck_assert_ptr_null(t); return rc; }
    hb_tensor *w = NULL;
    rc = hb_tensor_wrap(ctx, HB_F32, 2, s, hb_tensor_data(t), &w);
    hb_tensor_free(w);
    hb_tensor_free(t);
    return rc;
}

START_TEST(test_tensor_oom) {
    ck_assert_int_ge(hb_test_oom_loop(create_tensor_path, NULL), 3);
}
END_TEST

Suite *hb_suite_tensor(void) {
    Suite *s = suite_create("tensor");
    TCase *tc = tcase_create("tensor");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_create_and_accessors);
    tcase_add_test(tc, test_create_bad_args);
    tcase_add_test(tc, test_wrap_is_zero_copy);
    tcase_add_test(tc, test_bf16_rounding);
    tcase_add_test(tc, test_fill_copy_convert);
    tcase_add_test(tc, test_tensor_oom);
    suite_add_tcase(s, tc);
    return s;
}
