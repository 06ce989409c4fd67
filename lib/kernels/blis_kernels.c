/* BLIS-backed implementations of kernels/kernels.h. Validation first, always: BLIS
 * aborts on bad arguments and this library never aborts. */
#include <blis.h>
#include <omp.h>

#include "kernels/kernels.h"
#include "tensor/tensor_internal.h"

/* Every BLIS call gets an explicit per-call thread count (never the global one, which
 * BLIS_NUM_THREADS could set behind the caller's back). */
static void make_rntm(int threads, rntm_t *rntm) {
    bli_rntm_init(rntm);
    bli_rntm_set_num_threads(threads, rntm);
}

/* Threads for a product of `flops` floating-point operations: the context's count, but no
 * more than one per HB__GEMM_FLOPS_PER_THREAD. A threaded BLIS call opens an OpenMP team,
 * builds a thread-info tree, and meets at BLIS's own barriers (pure spin loops, deaf to
 * OMP_WAIT_POLICY) several times per packed block; below the threshold that costs more
 * than the second thread gains, and on a loaded machine a spinning thread whose partner
 * is descheduled burns whole time slices (docs/performance.md, "Why 2 threads were slower
 * than 1"). Depends only on the shape, so the split of a given call is the same every run. */
int hb__gemm_threads(const hb_context *ctx, int64_t m, int64_t n, int64_t k) {
    int t = hb__threads(ctx);
    if (t <= 1) return 1;
    /* Never more BLIS threads than processors this process may run on: with more, a
     * thread spinning at a BLIS barrier waits for a peer that has no processor (7 threads
     * on 2 cores took minutes per product). omp_get_num_procs honours the affinity mask
     * and changes no OpenMP state. */
    int procs = omp_get_num_procs();
    if (procs >= 1 && t > procs) t = procs;
    if (t <= 1) return 1;
    double per = 2.0 * (double)m * (double)n * (double)k / HB__GEMM_FLOPS_PER_THREAD;
    if (per < 2.0) return 1;
    return per < (double)t ? (int)per : t;
}

int hb__team(int threads, size_t items, double work, double work_per_thread) {
    if (threads <= 1 || items < 2) return 1;
    int procs = omp_get_num_procs(); /* as hb__gemm_threads: no more than the processors */
    if (procs >= 1 && threads > procs) threads = procs;
    if ((size_t)threads > items) threads = (int)items;
    double per = work / work_per_thread;
    if (per < 2.0) return 1;
    return per < (double)threads ? (int)per : threads;
}

static int check_dtype(hb_context *ctx, hb_dtype dt) {
    HB_CHECK(ctx, dt == HB_F32 || dt == HB_F64, HB_EDTYPE,
             "kernel needs f32 or f64, got dtype %d", (int)dt);
    return HB_OK;
}

/* Highest element offset reached by a rows×cols matrix with strides (rs, cs) must be
 * representable; strides must be nonzero so distinct elements stay distinct. */
static int check_matrix(hb_context *ctx, const char *name, const void *p, int64_t rows,
                        int64_t cols, int64_t rs, int64_t cs) {
    HB_CHECK(ctx, rows >= 0 && cols >= 0, HB_ESHAPE, "%s has negative size %lld x %lld", name,
             (long long)rows, (long long)cols);
    if (rows == 0 || cols == 0) return HB_OK;
    HB_CHECK(ctx, p != NULL, HB_EINVAL, "%s is NULL", name);
    HB_CHECK(ctx, rs > 0 && cs > 0, HB_EINVAL, "%s has non-positive stride (%lld, %lld)", name,
             (long long)rs, (long long)cs);
    int64_t a, b, end;
    HB_CHECK(ctx, !__builtin_mul_overflow(rows - 1, rs, &a) &&
                      !__builtin_mul_overflow(cols - 1, cs, &b) &&
                      !__builtin_add_overflow(a, b, &end),
             HB_EOVERFLOW, "%s extent overflows", name);
    /* A row-major or column-major layout must not overlap itself. */
    if (cs == 1 && rows > 1) HB_CHECK(ctx, rs >= cols, HB_EINVAL,
        "%s: row stride %lld is smaller than a row (%lld)", name, (long long)rs, (long long)cols);
    if (rs == 1 && cols > 1 && cs != 1) HB_CHECK(ctx, cs >= rows, HB_EINVAL,
        "%s: column stride %lld is smaller than a column (%lld)", name, (long long)cs, (long long)rows);
    return HB_OK;
}

int hb__gemm_strided_on(hb_context *ctx, int threads, hb_dtype dt, bool ta, bool tb, int64_t m,
                        int64_t n, int64_t k, double alpha, const void *A, int64_t rs_a,
                        int64_t cs_a, const void *B, int64_t rs_b, int64_t cs_b, double beta,
                        void *C, int64_t rs_c, int64_t cs_c) {
    HB_TRY(check_dtype(ctx, dt));
    HB_CHECK(ctx, m >= 0 && n >= 0 && k >= 0, HB_ESHAPE, "gemm sizes must be >= 0 (m=%lld n=%lld k=%lld)",
             (long long)m, (long long)n, (long long)k);
    HB_TRY(check_matrix(ctx, "gemm C", C, m, n, rs_c, cs_c));
    if (m == 0 || n == 0) return HB_OK;
    HB_TRY(check_matrix(ctx, "gemm A", A, ta ? k : m, ta ? m : k, rs_a, cs_a));
    HB_TRY(check_matrix(ctx, "gemm B", B, tb ? n : k, tb ? k : n, rs_b, cs_b));
    if (k == 0) { /* C = beta·C, with beta = 0 meaning "overwrite" (NaN not propagated) */
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                int64_t o = i * rs_c + j * cs_c;
                double c = beta == 0.0 ? 0.0 : beta * hb__load(dt, C, (size_t)o);
                hb__store(dt, C, (size_t)o, c);
            }
        return HB_OK;
    }
    rntm_t rntm;
    make_rntm(threads >= 1 ? threads : hb__gemm_threads(ctx, m, n, k), &rntm);
    trans_t tra = ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE;
    trans_t trb = tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE;
    if (dt == HB_F64) {
        double al = alpha, be = beta;
        bli_dgemm_ex(tra, trb, m, n, k, &al, (double *)A, rs_a, cs_a, (double *)B, rs_b, cs_b,
                     &be, (double *)C, rs_c, cs_c, NULL, &rntm);
    } else {
        /* BLIS 0.9.0 (Debian bookworm) has out-of-bounds reads of A in its Haswell/Zen
         * sgemm "sup" (small/unpacked) kernels (flame/blis#635, fixed upstream later):
         * valgrind sees them, and at a page end they can fault. The packed path reads
         * only the declared elements, so f32 gemm takes it. */
        bli_rntm_disable_l3_sup(&rntm);
        float al = (float)alpha, be = (float)beta;
        bli_sgemm_ex(tra, trb, m, n, k, &al, (float *)A, rs_a, cs_a, (float *)B, rs_b, cs_b,
                     &be, (float *)C, rs_c, cs_c, NULL, &rntm);
    }
    return HB_OK;
}

int hb__gemm_strided(hb_context *ctx, hb_dtype dt, bool ta, bool tb, int64_t m, int64_t n,
                     int64_t k, double alpha, const void *A, int64_t rs_a, int64_t cs_a,
                     const void *B, int64_t rs_b, int64_t cs_b, double beta, void *C,
                     int64_t rs_c, int64_t cs_c) {
    return hb__gemm_strided_on(ctx, 0, dt, ta, tb, m, n, k, alpha, A, rs_a, cs_a, B, rs_b, cs_b,
                               beta, C, rs_c, cs_c);
}

int hb__gemm(hb_context *ctx, hb_dtype dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
             double alpha, const void *A, int64_t lda, const void *B, int64_t ldb, double beta,
             void *C, int64_t ldc) {
    return hb__gemm_strided(ctx, dt, ta, tb, m, n, k, alpha, A, lda, 1, B, ldb, 1, beta, C, ldc, 1);
}

int hb__gemv(hb_context *ctx, hb_dtype dt, bool ta, int64_t m, int64_t n, double alpha,
             const void *A, int64_t lda, const void *x, int64_t incx, double beta, void *y,
             int64_t incy) {
    HB_TRY(check_dtype(ctx, dt));
    HB_CHECK(ctx, m >= 0 && n >= 0, HB_ESHAPE, "gemv sizes must be >= 0");
    int64_t nx = ta ? m : n, ny = ta ? n : m;
    HB_TRY(check_matrix(ctx, "gemv y", y, ny, 1, incy, 1));
    if (ny == 0) return HB_OK;
    HB_TRY(check_matrix(ctx, "gemv x", x, nx, 1, incx, 1));
    HB_TRY(check_matrix(ctx, "gemv A", A, m, n, lda, 1));
    if (nx == 0) return hb__scal(ctx, dt, ny, beta, y, incy);
    /* Memory-bound (one pass over A) and small in every model here: one thread. */
    rntm_t rntm;
    make_rntm(1, &rntm);
    trans_t tr = ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE;
    if (dt == HB_F64) {
        double al = alpha, be = beta;
        bli_dgemv_ex(tr, BLIS_NO_CONJUGATE, m, n, &al, (double *)A, lda, 1, (double *)x, incx,
                     &be, (double *)y, incy, NULL, &rntm);
    } else {
        float al = (float)alpha, be = (float)beta;
        bli_sgemv_ex(tr, BLIS_NO_CONJUGATE, m, n, &al, (float *)A, lda, 1, (float *)x, incx,
                     &be, (float *)y, incy, NULL, &rntm);
    }
    return HB_OK;
}

int hb__axpy(hb_context *ctx, hb_dtype dt, int64_t n, double alpha, const void *x, int64_t incx,
             void *y, int64_t incy) {
    HB_TRY(check_dtype(ctx, dt));
    HB_TRY(check_matrix(ctx, "axpy x", x, n, 1, incx, 1));
    HB_TRY(check_matrix(ctx, "axpy y", y, n, 1, incy, 1));
    if (n == 0) return HB_OK;
    rntm_t rntm;
    make_rntm(1, &rntm); /* level 1: memory-bound, and a fixed summation order */
    if (dt == HB_F64) {
        double al = alpha;
        bli_daxpyv_ex(BLIS_NO_CONJUGATE, n, &al, (double *)x, incx, (double *)y, incy, NULL, &rntm);
    } else {
        float al = (float)alpha;
        bli_saxpyv_ex(BLIS_NO_CONJUGATE, n, &al, (float *)x, incx, (float *)y, incy, NULL, &rntm);
    }
    return HB_OK;
}

int hb__dot(hb_context *ctx, hb_dtype dt, int64_t n, const void *x, int64_t incx, const void *y,
            int64_t incy, double *result) {
    HB_TRY(check_dtype(ctx, dt));
    HB_CHECK(ctx, result != NULL, HB_EINVAL, "dot result pointer is NULL");
    HB_TRY(check_matrix(ctx, "dot x", x, n, 1, incx, 1));
    HB_TRY(check_matrix(ctx, "dot y", y, n, 1, incy, 1));
    *result = 0.0;
    if (n == 0) return HB_OK;
    rntm_t rntm;
    make_rntm(1, &rntm); /* level 1: memory-bound, and a fixed summation order */
    if (dt == HB_F64) {
        double r;
        bli_ddotv_ex(BLIS_NO_CONJUGATE, BLIS_NO_CONJUGATE, n, (double *)x, incx, (double *)y, incy,
                     &r, NULL, &rntm);
        *result = r;
    } else {
        float r;
        bli_sdotv_ex(BLIS_NO_CONJUGATE, BLIS_NO_CONJUGATE, n, (float *)x, incx, (float *)y, incy,
                     &r, NULL, &rntm);
        *result = r;
    }
    return HB_OK;
}

int hb__nrm2(hb_context *ctx, hb_dtype dt, int64_t n, const void *x, int64_t incx, double *result) {
    HB_TRY(check_dtype(ctx, dt));
    HB_CHECK(ctx, result != NULL, HB_EINVAL, "nrm2 result pointer is NULL");
    HB_TRY(check_matrix(ctx, "nrm2 x", x, n, 1, incx, 1));
    *result = 0.0;
    if (n == 0) return HB_OK;
    rntm_t rntm;
    make_rntm(1, &rntm); /* level 1: memory-bound, and a fixed summation order */
    if (dt == HB_F64) {
        double r;
        bli_dnormfv_ex(n, (double *)x, incx, &r, NULL, &rntm);
        *result = r;
    } else {
        float r;
        bli_snormfv_ex(n, (float *)x, incx, &r, NULL, &rntm);
        *result = r;
    }
    return HB_OK;
}

int hb__scal(hb_context *ctx, hb_dtype dt, int64_t n, double alpha, void *x, int64_t incx) {
    HB_TRY(check_dtype(ctx, dt));
    HB_TRY(check_matrix(ctx, "scal x", x, n, 1, incx, 1));
    if (n == 0) return HB_OK;
    rntm_t rntm;
    make_rntm(1, &rntm); /* level 1: memory-bound, and a fixed summation order */
    if (dt == HB_F64) {
        double al = alpha;
        bli_dscalv_ex(BLIS_NO_CONJUGATE, n, &al, (double *)x, incx, NULL, &rntm);
    } else {
        float al = (float)alpha;
        bli_sscalv_ex(BLIS_NO_CONJUGATE, n, &al, (float *)x, incx, NULL, &rntm);
    }
    return HB_OK;
}
