/* Internal BLIS kernels against naive f64 loops, every transpose and stride case,
 * and the validation that keeps bad arguments away from BLIS (which would abort). */
#include <string.h>

#include "hb_test.h"
#include "kernels/kernels.h"

static void fill(double *x, size_t n, uint64_t salt) {
    for (size_t i = 0; i < n; i++) x[i] = sin(0.37 * (double)(i + 1) + (double)salt) * 2.0;
}

/* C = alpha op(A) op(B) + beta C on row-major data, naive, in f64. */
static void naive_gemm(bool ta, bool tb, int m, int n, int k, double alpha, const double *A,
                       int lda, const double *B, int ldb, double beta, double *C, int ldc) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int p = 0; p < k; p++) {
                double a = ta ? A[p * lda + i] : A[i * lda + p];
                double b = tb ? B[j * ldb + p] : B[p * ldb + j];
                s += a * b;
            }
            C[i * ldc + j] = alpha * s + (beta == 0 ? 0 : beta * C[i * ldc + j]);
        }
}

START_TEST(test_gemm_all_transposes_f64_f32) {
    hb_context *ctx = hb_test_context(2, 0);
    enum { M = 37, N = 29, K = 41, PAD = 3 };
    static double A[(M + K) * (M + K + PAD)], B[(N + K) * (N + K + PAD)], C[M * (N + PAD)],
        R[M * (N + PAD)];
    static float Af[sizeof A / 8], Bf[sizeof B / 8], Cf[sizeof C / 8];
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            int lda = (ta ? M : K) + PAD, ldb = (tb ? K : N) + PAD, ldc = N + PAD;
            fill(A, sizeof A / 8, 1);
            fill(B, sizeof B / 8, 2);
            fill(C, sizeof C / 8, 3);
            memcpy(R, C, sizeof C);
            for (size_t i = 0; i < sizeof A / 8; i++) Af[i] = (float)A[i];
            for (size_t i = 0; i < sizeof B / 8; i++) Bf[i] = (float)B[i];
            for (size_t i = 0; i < sizeof C / 8; i++) Cf[i] = (float)C[i];
            naive_gemm(ta, tb, M, N, K, 0.75, A, lda, B, ldb, -0.5, R, ldc);
            ck_assert_int_eq(hb__gemm(ctx, HB_F64, ta, tb, M, N, K, 0.75, A, lda, B, ldb, -0.5, C, ldc), HB_OK);
            ck_assert_int_eq(hb__gemm(ctx, HB_F32, ta, tb, M, N, K, 0.75, Af, lda, Bf, ldb, -0.5, Cf, ldc), HB_OK);
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    /* f64: K products of O(4) terms, rounding ~K·eps; f32 likewise with eps32 */
                    HB_ASSERT_CLOSE(C[i * ldc + j], R[i * ldc + j], 1e-13);
                    HB_ASSERT_CLOSE(Cf[i * ldc + j], R[i * ldc + j], 2e-5);
                }
        }
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_gemm_general_strides_and_edges) {
    hb_context *ctx = hb_test_context(1, 0);
    enum { M = 5, N = 4, K = 3 };
    double A[M * K], B[K * N], Ccol[M * N], R[M * N];
    fill(A, M * K, 4);
    fill(B, K * N, 5);
    /* C column-major (rs = 1, cs = M), beta = 0 with NaN garbage in C: must be ignored */
    for (int i = 0; i < M * N; i++) Ccol[i] = NAN;
    naive_gemm(false, false, M, N, K, 1.0, A, K, B, N, 0.0, R, N);
    ck_assert_int_eq(hb__gemm_strided(ctx, HB_F64, false, false, M, N, K, 1.0, A, K, 1, B, N, 1, 0.0,
                                      Ccol, 1, M), HB_OK);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) HB_ASSERT_CLOSE(Ccol[j * M + i], R[i * N + j], 1e-14);
    /* k = 0: C = beta·C; beta = 0 overwrites NaN */
    double C2[4] = {1, 2, NAN, 4};
    ck_assert_int_eq(hb__gemm(ctx, HB_F64, false, false, 2, 2, 0, 1.0, NULL, 1, NULL, 2, 2.0, C2, 2), HB_OK);
    ck_assert(C2[0] == 2.0 && C2[3] == 8.0 && isnan(C2[2])); /* A, B unread when k = 0 */
    ck_assert_int_eq(hb__gemm(ctx, HB_F64, false, false, 2, 2, 0, 1.0, A, 1, B, 2, 0.0, C2, 2), HB_OK);
    for (int i = 0; i < 4; i++) ck_assert(C2[i] == 0.0);
    /* m = 0: nothing to do, nothing touched */
    ck_assert_int_eq(hb__gemm(ctx, HB_F64, false, false, 0, 2, 3, 1.0, NULL, 3, NULL, 2, 0.0, NULL, 2), HB_OK);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_gemm_rejects_bad_args) {
    hb_context *ctx = hb_test_context(1, 0);
    double A[16] = {0}, B[16] = {0}, C[16] = {0};
    ck_assert_int_eq(hb__gemm(ctx, HB_BF16, false, false, 2, 2, 2, 1, A, 2, B, 2, 0, C, 2), HB_EDTYPE);
    ck_assert_int_eq(hb__gemm(ctx, HB_F64, false, false, -1, 2, 2, 1, A, 2, B, 2, 0, C, 2), HB_ESHAPE);
    ck_assert_int_eq(hb__gemm(ctx, HB_F64, false, false, 2, 2, 2, 1, A, 1, B, 2, 0, C, 2), HB_EINVAL);
    ck_assert_int_eq(hb__gemm(ctx, HB_F64, false, false, 2, 2, 2, 1, A, 2, B, 2, 0, C, 1), HB_EINVAL);
    ck_assert_int_eq(hb__gemm(ctx, HB_F64, true, false, 3, 2, 2, 1, A, 2, B, 2, 0, C, 2), HB_EINVAL);
    ck_assert_int_eq(hb__gemm(ctx, HB_F64, false, false, 2, 2, 2, 1, NULL, 2, B, 2, 0, C, 2), HB_EINVAL);
    ck_assert_int_eq(hb__gemm(ctx, HB_F64, false, false, 2, 2, 2, 1, A, 2, B, 2, 0, NULL, 2), HB_EINVAL);
    ck_assert_int_eq(hb__gemm(ctx, HB_F64, false, false, INT64_MAX, 2, 2, 1, A, 2, B, 2, 0, C, 2), HB_EOVERFLOW);
    ck_assert_int_eq(hb__gemm_strided(ctx, HB_F64, false, false, 2, 2, 2, 1, A, 0, 1, B, 2, 1, 0, C, 2, 1), HB_EINVAL);
    ck_assert_int_eq(hb__gemv(ctx, HB_F64, false, 2, 2, 1, A, 1, B, 1, 0, C, 1), HB_EINVAL);
    ck_assert_int_eq(hb__gemv(ctx, HB_F64, false, -2, 2, 1, A, 2, B, 1, 0, C, 1), HB_ESHAPE);
    ck_assert_int_eq(hb__axpy(ctx, HB_F64, 2, 1, NULL, 1, C, 1), HB_EINVAL);
    ck_assert_int_eq(hb__axpy(ctx, HB_F64, 2, 1, A, 0, C, 1), HB_EINVAL);
    ck_assert_int_eq(hb__dot(ctx, HB_F64, 2, A, 1, B, 1, NULL), HB_EINVAL);
    ck_assert_int_eq(hb__nrm2(ctx, (hb_dtype)0, 2, A, 1, C), HB_EDTYPE);
    ck_assert_int_eq(hb__scal(ctx, HB_F64, -1, 1, A, 1), HB_ESHAPE);
    ck_assert_str_ne(hb_context_last_error(ctx), "");
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_level1_and_gemv) {
    hb_context *ctx = hb_test_context(1, 0);
    enum { M = 23, N = 17 };
    double A[M * (N + 2)], x[2 * M], y[2 * M], r[M];
    fill(A, sizeof A / 8, 6);
    fill(x, 2 * M, 7);
    fill(y, 2 * M, 8);
    /* gemv, no transpose: y[0:M:2] = 2·A·x[0:N] - y */
    for (int i = 0; i < M; i++) {
        double s = 0;
        for (int j = 0; j < N; j++) s += A[i * (N + 2) + j] * x[j];
        r[i] = 2 * s - y[2 * i];
    }
    ck_assert_int_eq(hb__gemv(ctx, HB_F64, false, M, N, 2.0, A, N + 2, x, 1, -1.0, y, 2), HB_OK);
    for (int i = 0; i < M; i++) HB_ASSERT_CLOSE(y[2 * i], r[i], 1e-14);
    /* transposed: y[0:N] = Aᵀ·x[0:M] */
    for (int j = 0; j < N; j++) {
        double s = 0;
        for (int i = 0; i < M; i++) s += A[i * (N + 2) + j] * x[i];
        r[j] = s;
    }
    ck_assert_int_eq(hb__gemv(ctx, HB_F64, true, M, N, 1.0, A, N + 2, x, 1, 0.0, y, 1), HB_OK);
    for (int j = 0; j < N; j++) HB_ASSERT_CLOSE(y[j], r[j], 1e-14);
    /* axpy, dot, nrm2, scal with strides, f64 and f32 */
    double dref = 0, nref = 0;
    for (int i = 0; i < M; i++) dref += x[2 * i] * A[i], nref += A[i] * A[i];
    double d, nr;
    ck_assert_int_eq(hb__dot(ctx, HB_F64, M, x, 2, A, 1, &d), HB_OK);
    HB_ASSERT_CLOSE(d, dref, 1e-14);
    ck_assert_int_eq(hb__nrm2(ctx, HB_F64, M, A, 1, &nr), HB_OK);
    HB_ASSERT_CLOSE(nr, sqrt(nref), 1e-14);
    float xf[M], yf[M];
    for (int i = 0; i < M; i++) xf[i] = (float)x[i], yf[i] = (float)y[i];
    ck_assert_int_eq(hb__axpy(ctx, HB_F32, M, 0.5, xf, 1, yf, 1), HB_OK);
    for (int i = 0; i < M; i++) HB_ASSERT_CLOSE(yf[i], (float)y[i] + 0.5 * (float)x[i], 1e-6);
    ck_assert_int_eq(hb__scal(ctx, HB_F32, M, -2.0, yf, 1), HB_OK);
    for (int i = 0; i < M; i++) HB_ASSERT_CLOSE(yf[i], -2.0 * ((float)y[i] + 0.5 * (float)x[i]), 1e-6);
    ck_assert_int_eq(hb__dot(ctx, HB_F32, M, xf, 1, xf, 1, &d), HB_OK);
    ck_assert_int_eq(hb__nrm2(ctx, HB_F32, M, xf, 1, &nr), HB_OK);
    HB_ASSERT_CLOSE(nr * nr, d, 1e-5);
    /* n = 0 is valid and touches nothing */
    ck_assert_int_eq(hb__dot(ctx, HB_F64, 0, NULL, 1, NULL, 1, &d), HB_OK);
    ck_assert(d == 0.0);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_gemm_thread_counts_agree) {
    enum { S = 96 };
    static double A[S * S], B[S * S], C1[S * S], C2[S * S];
    fill(A, S * S, 9);
    fill(B, S * S, 10);
    hb_context *c1 = hb_test_context(1, 0), *c2 = hb_test_context(2, 0);
    ck_assert_int_eq(hb__gemm(c1, HB_F64, false, true, S, S, S, 1, A, S, B, S, 0, C1, S), HB_OK);
    ck_assert_int_eq(hb__gemm(c2, HB_F64, false, true, S, S, S, 1, A, S, B, S, 0, C2, S), HB_OK);
    for (int i = 0; i < S * S; i++) HB_ASSERT_CLOSE(C1[i], C2[i], 1e-13);
    hb_context_free(c1);
    hb_context_free(c2);
}
END_TEST

/* Every small f32 shape with A, B, C in exactly-sized heap blocks: under
 * `meson test --setup=valgrind` this catches reads past the operands, such as those of
 * BLIS 0.9.0's sgemm sup kernels (flame/blis#635) that hb__gemm steers around. */
START_TEST(test_gemm_f32_small_shapes_stay_in_bounds) {
    hb_context *ctx = hb_test_context(1, 0);
    for (int t = 0; t < 4; t++) { /* (no)transpose of A, B: BLIS's overread needs Bᵀ */
        bool ta = t & 1, tb = t & 2;
        for (int m = 1; m <= 13; m++)
            for (int n = 1; n <= 19; n += 3)
                for (int k = 1; k <= 9; k += 2) {
                    float *A = malloc(sizeof(float) * (size_t)(m * k));
                    float *B = malloc(sizeof(float) * (size_t)(k * n));
                    float *C = malloc(sizeof(float) * (size_t)(m * n));
                    for (int i = 0; i < m * k; i++) A[i] = (float)(i % 7) - 3;
                    for (int i = 0; i < k * n; i++) B[i] = (float)(i % 5) - 2;
                    ck_assert_int_eq(hb__gemm(ctx, HB_F32, ta, tb, m, n, k, 1, A, ta ? m : k, B,
                                              tb ? k : n, 0, C, n), HB_OK);
                    for (int i = 0; i < m; i++) /* small integers: exact in f32 */
                        for (int j = 0; j < n; j++) {
                            float ref = 0;
                            for (int p = 0; p < k; p++)
                                ref += (ta ? A[p * m + i] : A[i * k + p]) * (tb ? B[j * k + p] : B[p * n + j]);
                            ck_assert(C[i * n + j] == ref);
                        }
                    free(A);
                    free(B);
                    free(C);
                }
    }
    hb_context_free(ctx);
}
END_TEST

Suite *hb_suite_kernels(void) {
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("kernels");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_gemm_all_transposes_f64_f32);
    tcase_add_test(tc, test_gemm_general_strides_and_edges);
    tcase_add_test(tc, test_gemm_rejects_bad_args);
    tcase_add_test(tc, test_level1_and_gemv);
    tcase_add_test(tc, test_gemm_thread_counts_agree);
    tcase_add_test(tc, test_gemm_f32_small_shapes_stay_in_bounds);
    suite_add_tcase(s, tc);
    return s;
}
