/* Core: status strings, versions, the context, callbacks, the counter-based RNG. */
#include <stdint.h>
#include <string.h>

#include <locale.h>

#include "hb_test.h"
#include "core/internal.h"
#include "core/numfmt.h"

START_TEST(test_strerror_every_code) {
    for (int s = 0; s >= HB_ECANCELED; s--) {
        const char *m = hb_strerror(s);
        ck_assert_ptr_nonnull(m);
        ck_assert_str_ne(m, "unknown status");
    }
    ck_assert_str_eq(hb_strerror(-9999), "unknown status");
    ck_assert_str_eq(hb_strerror(7), "unknown status");
}
END_TEST

/* The codes are ABI: every value ever published stays what it was (written out here on
 * purpose, not taken from HB_STATUS_MAP), each has its C name and a message, and the
 * codes are contiguous so hb_status_name can enumerate them. */
START_TEST(test_status_values_never_change) {
    static const struct { int code, value; const char *name; } published[] = {
        {HB_OK, 0, "HB_OK"},                   {HB_EINVAL, -1, "HB_EINVAL"},
        {HB_ENOMEM, -2, "HB_ENOMEM"},          {HB_ESHAPE, -3, "HB_ESHAPE"},
        {HB_EDTYPE, -4, "HB_EDTYPE"},          {HB_ENOTFOUND, -5, "HB_ENOTFOUND"},
        {HB_ENONFINITE, -6, "HB_ENONFINITE"},  {HB_EIO, -7, "HB_EIO"},
        {HB_EFORMAT, -8, "HB_EFORMAT"},        {HB_ESTATE, -9, "HB_ESTATE"},
        {HB_EUNSUPPORTED, -10, "HB_EUNSUPPORTED"}, {HB_ERANGE, -11, "HB_ERANGE"},
        {HB_EOVERFLOW, -12, "HB_EOVERFLOW"},   {HB_ECALLBACK, -13, "HB_ECALLBACK"},
        {HB_ECANCELED, -14, "HB_ECANCELED"},
    };
    size_t n = sizeof published / sizeof published[0];
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(published[i].code, published[i].value);
        ck_assert_ptr_nonnull(hb_status_name(published[i].value));
        ck_assert_str_eq(hb_status_name(published[i].value), published[i].name);
    }
    ck_assert_str_eq(hb_strerror(HB_OK), "success");
    ck_assert_str_eq(hb_strerror(HB_EINVAL), "invalid argument");
    ck_assert_str_eq(hb_strerror(HB_ECANCELED), "canceled");
    /* contiguous: every value from 0 down to the last named one has a name and a message */
    int last = 0;
    while (hb_status_name(last - 1) != NULL) last--;
    ck_assert_int_le(last, HB_ECANCELED);
    for (int s = 0; s >= last; s--) ck_assert_str_ne(hb_strerror(s), "unknown status");
    ck_assert_ptr_null(hb_status_name(1));
    ck_assert_ptr_null(hb_status_name(last - 1));
    ck_assert_str_eq(hb_strerror(last - 1), "unknown status");
}
END_TEST

/* The one clock (lib/core/clock.c) is monotonic and ticks. */
START_TEST(test_clock_monotonic) {
    uint64_t a = hb__clock_ns();
    ck_assert_uint_gt(a, 0);
    double s0 = hb__seconds();
    uint64_t b = a;
    for (int i = 0; i < 1000000 && b == a; i++) b = hb__clock_ns();
    ck_assert_uint_gt(b, a);
    ck_assert(hb__seconds() >= s0);
}
END_TEST

START_TEST(test_version) {
    ck_assert_uint_eq(hb_version_number(), HB_VERSION_NUMBER);
    ck_assert_str_eq(hb_version_string(), HB_VERSION_STRING);
    char buf[32];
    snprintf(buf, sizeof buf, "%d.%d.%d", HB_VERSION_MAJOR, HB_VERSION_MINOR, HB_VERSION_PATCH);
    ck_assert_str_eq(buf, hb_version_string());
}
END_TEST

START_TEST(test_context_bad_args) {
    ck_assert_int_eq(hb_context_create(NULL), HB_EINVAL);
    hb_context *ctx = (hb_context *)1;
    ck_assert_int_eq(hb_context_create_with_allocator(NULL, &ctx), HB_EINVAL);
    ck_assert_ptr_null(ctx);
    hb_allocator a = HB_ALLOCATOR_INIT; /* hooks NULL */
    ck_assert_int_eq(hb_context_create_with_allocator(&a, &ctx), HB_EINVAL);
    a.struct_size = 3;
    ck_assert_int_eq(hb_context_create_with_allocator(&a, &ctx), HB_EINVAL);
    hb_context_free(NULL);
    ck_assert_int_eq(hb_context_set_i64(NULL, HB_CTX_THREADS, 1), HB_EINVAL);
    int64_t v;
    ck_assert_int_eq(hb_context_get_i64(NULL, HB_CTX_THREADS, &v), HB_EINVAL);
    ck_assert_int_eq(hb_context_set_log(NULL, NULL, NULL, 0), HB_EINVAL);
    ck_assert_int_eq(hb_context_set_progress(NULL, NULL, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_context_next_stream(NULL, NULL), HB_EINVAL);
    ck_assert_ptr_nonnull(hb_context_last_error(NULL));
    ck_assert_int_eq(hb_context_last_status(NULL), HB_EINVAL);
}
END_TEST

START_TEST(test_context_options) {
    hb_context *ctx = NULL;
    ck_assert_int_eq(hb_context_create(&ctx), HB_OK);
    int64_t v = -1;
    ck_assert_int_eq(hb_context_get_i64(ctx, HB_CTX_THREADS, &v), HB_OK);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(hb_context_get_i64(ctx, HB_CTX_SEED, &v), HB_OK);
    ck_assert_int_eq(v, 0);
    ck_assert_str_eq(hb_context_last_error(ctx), "");
    ck_assert_int_eq(hb_context_set_i64(ctx, HB_CTX_THREADS, 0), HB_EINVAL);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "threads"));
    ck_assert_int_eq(hb_context_last_status(ctx), HB_EINVAL);
    /* issue 12.10: the getter's failures leave a message too (it was left empty/stale) */
    ck_assert_int_eq(hb_context_set_i64(ctx, HB_CTX_THREADS, 1), HB_OK);
    ck_assert_int_eq(hb_context_get_i64(ctx, (hb_context_opt)77, &v), HB_EINVAL);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "unknown context option 77"));
    ck_assert_int_eq(hb_context_get_i64(ctx, HB_CTX_SEED, NULL), HB_EINVAL);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "NULL"));
    ck_assert_int_eq(hb_context_set_i64(ctx, HB_CTX_THREADS, 1025), HB_EINVAL);
    ck_assert_int_eq(hb_context_set_i64(ctx, (hb_context_opt)99, 1), HB_EINVAL);
    ck_assert_int_eq(hb_context_get_i64(ctx, (hb_context_opt)99, &v), HB_EINVAL);
    ck_assert_int_eq(hb_context_get_i64(ctx, HB_CTX_SEED, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_context_set_i64(ctx, HB_CTX_THREADS, 2), HB_OK);
    ck_assert_int_eq(hb_context_get_i64(ctx, HB_CTX_THREADS, &v), HB_OK);
    ck_assert_int_eq(v, 2);
    ck_assert_int_eq(hb_context_set_i64(ctx, HB_CTX_SEED, -42), HB_OK);
    ck_assert_int_eq(hb_context_get_i64(ctx, HB_CTX_SEED, &v), HB_OK);
    ck_assert_int_eq(v, -42);
    hb_context_free(ctx);
}
END_TEST

typedef struct { int calls; int last_level; char last[256]; } log_sink;
static void sink(void *user, int level, const char *msg) {
    log_sink *s = user;
    s->calls++;
    s->last_level = level;
    snprintf(s->last, sizeof s->last, "%s", msg);
}

START_TEST(test_log_callback_gets_errors) {
    hb_context *ctx = hb_test_context(1, 0);
    log_sink s = {0};
    ck_assert_int_eq(hb_context_set_log(ctx, sink, &s, 99), HB_EINVAL);
    ck_assert_int_eq(hb_context_set_log(ctx, sink, &s, HB_LOG_ERROR), HB_OK);
    ck_assert_int_eq(hb_context_set_i64(ctx, HB_CTX_THREADS, -3), HB_EINVAL);
    ck_assert_int_eq(s.calls, 1);
    ck_assert_int_eq(s.last_level, HB_LOG_ERROR);
    ck_assert_ptr_nonnull(strstr(s.last, "-3"));
    hb__log(ctx, HB_LOG_INFO, "filtered %d", 1); /* above max level: not delivered */
    ck_assert_int_eq(s.calls, 1);
    ck_assert_int_eq(hb_context_set_log(ctx, NULL, NULL, 0), HB_OK);
    ck_assert_int_eq(hb_context_set_i64(ctx, HB_CTX_THREADS, -3), HB_EINVAL);
    ck_assert_int_eq(s.calls, 1);
    hb_context_free(ctx);
}
END_TEST

static int stop_at_3(void *user, const char *task, int64_t done, int64_t total) {
    int *seen = user;
    (*seen)++;
    ck_assert_str_eq(task, "unit");
    ck_assert(done <= total);
    return done >= 3;
}

START_TEST(test_progress_cancel) {
    hb_context *ctx = hb_test_context(1, 0);
    int seen = 0;
    ck_assert_int_eq(hb__progress(ctx, "unit", 1, 10), HB_OK); /* no callback yet */
    ck_assert_int_eq(hb_context_set_progress(ctx, stop_at_3, &seen), HB_OK);
    int rc = HB_OK;
    int64_t i;
    for (i = 1; i <= 10 && rc == HB_OK; i++) rc = hb__progress(ctx, "unit", i, 10);
    ck_assert_int_eq(rc, HB_ECANCELED);
    ck_assert_int_eq(seen, 3);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "canceled"));
    hb_context_free(ctx);
}
END_TEST

/* Known-answer vectors of Philox4x32-10 from the Random123 distribution (kat_vectors). */
START_TEST(test_philox_known_answers) {
    hb__u32x4 r = hb__philox(0, 0, 0);
    ck_assert_uint_eq(r.v[0], 0x6627e8d5u);
    ck_assert_uint_eq(r.v[1], 0xe169c58du);
    ck_assert_uint_eq(r.v[2], 0xbc57ac4cu);
    ck_assert_uint_eq(r.v[3], 0x9b00dbd8u);
    r = hb__philox(UINT64_MAX, UINT64_MAX, UINT64_MAX);
    ck_assert_uint_eq(r.v[0], 0x408f276du);
    ck_assert_uint_eq(r.v[1], 0x41c83b0eu);
    ck_assert_uint_eq(r.v[2], 0xa20bc7c6u);
    ck_assert_uint_eq(r.v[3], 0x6d5451fdu);
    /* ctr = {243f6a88, 85a308d3, 13198a2e, 03707344}, key = {a4093822, 299f31d0} */
    r = hb__philox(0x299f31d0a4093822ull, 0x0370734413198a2eull, 0x85a308d3243f6a88ull);
    ck_assert_uint_eq(r.v[0], 0xd16cfe09u);
    ck_assert_uint_eq(r.v[1], 0x94fdccebu);
    ck_assert_uint_eq(r.v[2], 0x5001e420u);
    ck_assert_uint_eq(r.v[3], 0x24126ea1u);
}
END_TEST

START_TEST(test_rng_thread_count_independent) {
    enum { N = 200003 };
    double *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    for (int dist = HB_DIST_UNIFORM; dist <= HB_DIST_RADEMACHER; dist++) {
        hb_context *c1 = hb_test_context(1, 1234), *c2 = hb_test_context(2, 1234);
        uint64_t s1, s2;
        ck_assert_int_eq(hb_context_next_stream(c1, &s1), HB_OK);
        ck_assert_int_eq(hb_context_next_stream(c2, &s2), HB_OK);
        ck_assert_uint_eq(s1, s2);
        ck_assert_int_eq(hb_random_fill_f64(c1, s1, 7, dist, 0, 1, a, N), HB_OK);
        ck_assert_int_eq(hb_random_fill_f64(c2, s2, 7, dist, 0, 1, b, N), HB_OK);
        ck_assert_int_eq(memcmp(a, b, N * sizeof *a), 0);
        /* an offset window is the same numbers shifted: counter-based */
        ck_assert_int_eq(hb_random_fill_f64(c2, s2, 17, dist, 0, 1, b, N - 10), HB_OK);
        ck_assert_int_eq(memcmp(a + 10, b, (N - 10) * sizeof *a), 0);
        hb_context_free(c1);
        hb_context_free(c2);
    }
    free(a);
    free(b);
}
END_TEST

START_TEST(test_rng_seed_and_streams) {
    hb_context *ctx = hb_test_context(1, 5);
    uint64_t s0, s1;
    ck_assert_int_eq(hb_context_next_stream(ctx, &s0), HB_OK);
    ck_assert_int_eq(hb_context_next_stream(ctx, &s1), HB_OK);
    ck_assert_uint_ne(s0, s1);
    double a[64], b[64];
    ck_assert_int_eq(hb_random_fill_f64(ctx, s0, 0, HB_DIST_NORMAL, 0, 1, a, 64), HB_OK);
    ck_assert_int_eq(hb_random_fill_f64(ctx, s1, 0, HB_DIST_NORMAL, 0, 1, b, 64), HB_OK);
    ck_assert_int_ne(memcmp(a, b, sizeof a), 0);
    /* re-seeding restarts the stream counter: the same sequence again */
    ck_assert_int_eq(hb_context_set_i64(ctx, HB_CTX_SEED, 5), HB_OK);
    uint64_t t0;
    ck_assert_int_eq(hb_context_next_stream(ctx, &t0), HB_OK);
    ck_assert_uint_eq(t0, s0);
    ck_assert_int_eq(hb_random_fill_f64(ctx, t0, 0, HB_DIST_NORMAL, 0, 1, b, 64), HB_OK);
    ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
    /* another seed, other numbers */
    ck_assert_int_eq(hb_context_set_i64(ctx, HB_CTX_SEED, 6), HB_OK);
    ck_assert_int_eq(hb_random_fill_f64(ctx, t0, 0, HB_DIST_NORMAL, 0, 1, b, 64), HB_OK);
    ck_assert_int_ne(memcmp(a, b, sizeof a), 0);
    hb_context_free(ctx);
}
END_TEST

/* Moments with fixed seed: with N = 1e6 the standard error of a mean is ~1e-3·σ, so
 * the 6e-3 bounds (≥ 5 standard errors) fail only on a real bug. */
START_TEST(test_rng_moments) {
    enum { N = 1000000 };
    double *x = malloc(N * sizeof *x);
    hb_context *ctx = hb_test_context(2, 99);
    struct { hb_distribution d; double a, b, mean, var; } cases[] = {
        {HB_DIST_UNIFORM, -1, 3, 1, 16.0 / 12},
        {HB_DIST_NORMAL, 2, 0.5, 2, 0.25},
        {HB_DIST_RADEMACHER, 0, 0, 0, 1},
    };
    for (size_t c = 0; c < 3; c++) {
        ck_assert_int_eq(hb_random_fill_f64(ctx, c, 0, cases[c].d, cases[c].a, cases[c].b, x, N), HB_OK);
        double m = 0, v = 0, m4 = 0;
        for (int i = 0; i < N; i++) m += x[i];
        m /= N;
        for (int i = 0; i < N; i++) {
            double d = x[i] - m;
            v += d * d;
            m4 += d * d * d * d;
        }
        v /= N;
        m4 /= N;
        double sd = sqrt(cases[c].var);
        ck_assert_msg(fabs(m - cases[c].mean) < 6e-3 * sd, "case %zu mean %g", c, m);
        ck_assert_msg(fabs(v / cases[c].var - 1) < 6e-3 * 2, "case %zu var %g", c, v);
        if (cases[c].d == HB_DIST_NORMAL) /* kurtosis 3 distinguishes normal from uniform */
            ck_assert_msg(fabs(m4 / (v * v) - 3) < 0.03, "kurtosis %g", m4 / (v * v));
        if (cases[c].d == HB_DIST_UNIFORM)
            for (int i = 0; i < N; i++) ck_assert(x[i] >= -1 && x[i] < 3);
        if (cases[c].d == HB_DIST_RADEMACHER)
            for (int i = 0; i < N; i++) ck_assert(x[i] == 1 || x[i] == -1);
    }
    hb_context_free(ctx);
    free(x);
}
END_TEST

START_TEST(test_rng_bad_args) {
    hb_context *ctx = hb_test_context(1, 0);
    double x[4];
    ck_assert_int_eq(hb_random_fill_f64(NULL, 0, 0, HB_DIST_UNIFORM, 0, 1, x, 4), HB_EINVAL);
    ck_assert_int_eq(hb_random_fill_f64(ctx, 0, 0, HB_DIST_UNIFORM, 0, 1, NULL, 4), HB_EINVAL);
    ck_assert_int_eq(hb_random_fill_f64(ctx, 0, 0, HB_DIST_UNIFORM, 0, 1, NULL, 0), HB_OK);
    ck_assert_int_eq(hb_random_fill_f64(ctx, 0, 0, HB_DIST_UNIFORM, 1, 1, x, 4), HB_EINVAL);
    ck_assert_int_eq(hb_random_fill_f64(ctx, 0, 0, HB_DIST_UNIFORM, 0, INFINITY, x, 4), HB_EINVAL);
    ck_assert_int_eq(hb_random_fill_f64(ctx, 0, 0, HB_DIST_NORMAL, 0, -1, x, 4), HB_EINVAL);
    ck_assert_int_eq(hb_random_fill_f64(ctx, 0, 0, HB_DIST_NORMAL, NAN, 1, x, 4), HB_EINVAL);
    ck_assert_int_eq(hb_random_fill_f64(ctx, 0, 0, (hb_distribution)9, 0, 1, x, 4), HB_EINVAL);
    hb_context_free(ctx);
}
END_TEST

static int create_context_only(hb_context *ctx, void *arg) {
    (void)ctx;
    (void)arg;
    return HB_OK;
}

START_TEST(test_context_oom) {
    /* the context itself is the one allocation: k = 1 fails it, k = 2 succeeds */
    ck_assert_int_eq(hb_test_oom_loop(create_context_only, NULL), 1);
}
END_TEST

/* Issue 12.8: numbers the library writes are the C locale's whatever LC_NUMERIC says. */
START_TEST(test_fmt_double_locale) {
    const double v[] = {0.5, -1.25e-300, 3.0, 1e21, 0.1, -0.0, 123456.75};
    char ref[7][HB_NUMFMT_LEN], got[7][HB_NUMFMT_LEN], b[HB_NUMFMT_LEN];
    for (int i = 0; i < 7; i++) snprintf(ref[i], sizeof ref[i], "%.17g", v[i]);
    const char *loc = hb_test_comma_locale();
    for (int i = 0; i < 7; i++) hb__fmt_double(got[i], sizeof got[i], 17, v[i]);
    char plain[16];
    snprintf(plain, sizeof plain, "%.2f", 1.5); /* what the locale does to printf */
    setlocale(LC_NUMERIC, "C");
    if (loc) ck_assert_str_eq(plain, "1,50");
    for (int i = 0; i < 7; i++) ck_assert_str_eq(got[i], ref[i]);
    ck_assert_str_eq(hb__fmt_double(b, sizeof b, 6, 0.25), "0.25");
    ck_assert_str_eq(hb__fmt_double(b, 4, 17, 0.123), "0.1"); /* truncated, terminated */
}
END_TEST

Suite *hb_suite_core(void) {
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_strerror_every_code);
    tcase_add_test(tc, test_status_values_never_change);
    tcase_add_test(tc, test_clock_monotonic);
    tcase_add_test(tc, test_version);
    tcase_add_test(tc, test_context_bad_args);
    tcase_add_test(tc, test_context_options);
    tcase_add_test(tc, test_log_callback_gets_errors);
    tcase_add_test(tc, test_progress_cancel);
    tcase_add_test(tc, test_philox_known_answers);
    tcase_add_test(tc, test_rng_thread_count_independent);
    tcase_add_test(tc, test_rng_seed_and_streams);
    tcase_add_test(tc, test_rng_moments);
    tcase_add_test(tc, test_rng_bad_args);
    tcase_add_test(tc, test_context_oom);
    tcase_add_test(tc, test_fmt_double_locale);
    suite_add_tcase(s, tc);
    return s;
}
