/* Internal dense kernels: the one place the library calls BLIS.
 *
 * Dtype-generic (HB_F32 or HB_F64; anything else is HB_EDTYPE) over row-major or
 * general-stride matrices. Every argument is validated here, because BLIS aborts the
 * process on bad ones: negative or overflowing sizes, NULL pointers with nonzero work,
 * leading dimensions smaller than a row. alpha/beta are doubles for both dtypes
 * (rounded to f32 for HB_F32). The context's thread count is passed to BLIS per call
 * (rntm_t), never set globally; it threads only gemm, and only above a size
 * (hb__gemm_threads); gemv and the level-1 kernels run on one thread. */
#ifndef HB_KERNELS_H
#define HB_KERNELS_H

#include <stdbool.h>

#include "core/internal.h"

/* Minimum work per BLIS thread, in flops (2·m·n·k per gemm): a gemm gets
 * min(threads, 2mnk / this) threads, so nothing under 2× this is threaded. Measured with
 * bench/bench_threads (docs/performance.md, "Thread thresholds"). */
#ifndef HB__GEMM_FLOPS_PER_THREAD /* overridable (-D) to sweep it with bench_threads */
#define HB__GEMM_FLOPS_PER_THREAD 4.0e6
#endif

/* The thread count hb__gemm uses for an m×n×k product under ctx (1 .. ctx threads). */
int hb__gemm_threads(const hb_context *ctx, int64_t m, int64_t n, int64_t k);

/* The team of a library OpenMP loop over `items` independent items of `work` (flops,
 * elements: any unit) in all: min(threads, processors this process may use, items,
 * work / work_per_thread), and 1 (run serially) below two threads' worth of work. Depends
 * on the sizes, the thread count and the machine only; the loops using it give the same
 * bits for every team (each item is computed by one thread, in a fixed order). */
int hb__team(int threads, size_t items, double work, double work_per_thread);

/* C(m×n) = alpha·op(A)·op(B) + beta·C, op(X) = X or Xᵀ. Matrices are given by element
 * strides: element (i,j) of a *stored* matrix X is X[i*rs_x + j*cs_x]. A stored is m×k
 * (or k×m when trans_a), B stored is k×n (or n×k when trans_b). beta = 0 ignores C's
 * old contents (NaN included). */
int hb__gemm_strided(hb_context *ctx, hb_dtype dt, bool trans_a, bool trans_b,
                     int64_t m, int64_t n, int64_t k, double alpha,
                     const void *A, int64_t rs_a, int64_t cs_a,
                     const void *B, int64_t rs_b, int64_t cs_b, double beta,
                     void *C, int64_t rs_c, int64_t cs_c);

/* hb__gemm_strided with `threads` BLIS threads (>= 1; 0: hb__gemm_threads). Loops that
 * run independent products on an OpenMP team of their own pass 1, so no product opens a
 * nested team (nn/attention.c). */
int hb__gemm_strided_on(hb_context *ctx, int threads, hb_dtype dt, bool trans_a, bool trans_b,
                        int64_t m, int64_t n, int64_t k, double alpha,
                        const void *A, int64_t rs_a, int64_t cs_a,
                        const void *B, int64_t rs_b, int64_t cs_b, double beta,
                        void *C, int64_t rs_c, int64_t cs_c);

/* How a threaded product is spread over its threads. BLIS: one BLIS call on all of them
 * (BLIS's own team and barriers). SPLIT: C cut into a grid of tiles, one single-threaded
 * BLIS call per tile on an OpenMP team (hb__gemm_split_panels says how many; 1: not
 * splittable, then BLIS). AUTO: the library's choice, SPLIT where it measured faster
 * (HB__GEMM_SPLIT_DEFAULT, HB__GEMM_SPLIT_MAX_THREADS). An f64 product on BLIS's sup path
 * never goes to BLIS's team (its bits differ): BLIS runs it on one thread, SPLIT and AUTO
 * on sup tiles (HB__GEMM_SUP_TILES). Every way gives the one-thread call's bits. */
typedef enum hb__gemm_way { HB__GEMM_AUTO, HB__GEMM_BLIS, HB__GEMM_SPLIT } hb__gemm_way;

/* Whether AUTO splits threaded products: on 2 threads (measured on 2 cores) and from
 * HB__GEMM_SPLIT_MIN_MANY threads up (the 16-core host, session 14: gpt-ref f32 HVP at 16
 * threads 108.7 ms with BLIS's team, 49.9 ms with tiles; at 8: 44.3 / 38.6; at 4 the
 * tiles lost, 51.5 / 55.5 ms — docs/performance.md "Splitting a gemm into tiles").
 * Overridable (-D) to measure either way with the model benches and the CLI. */
#ifndef HB__GEMM_SPLIT_DEFAULT
#define HB__GEMM_SPLIT_DEFAULT 1
#endif
#ifndef HB__GEMM_SPLIT_MAX_THREADS
#define HB__GEMM_SPLIT_MAX_THREADS 2
#endif
#ifndef HB__GEMM_SPLIT_MIN_MANY
#define HB__GEMM_SPLIT_MIN_MANY 8
#endif

/* Tiles of an m×n×k product split for `threads` threads (1: no split) with the operands'
 * strides (rs_*, cs_* as stored; ta/tb as in the gemm): a *pr × *pc grid (either may be
 * NULL). A product on BLIS's packed path is cut at multiples of the running BLIS
 * configuration's register blocks so that each tile has the whole call's micro-tiles
 * (tiles forced onto the packed path); an f64 product BLIS runs on its "sup" path (*sup,
 * may be NULL) gets sup tiles, each a one-thread sup call proven to give each element the
 * whole one-thread call's operations, or no split where no grid is (docs/performance.md,
 * "f64 small products on tiles"). */
int hb__gemm_split_tiles(hb_dtype dt, bool trans_a, bool trans_b, int64_t m, int64_t n,
                         int64_t k, int64_t rs_a, int64_t cs_a, int64_t rs_b, int64_t cs_b,
                         int64_t rs_c, int64_t cs_c, int threads, int *pr, int *pc, bool *sup);

/* hb__gemm_split_tiles with A (m×k) and B (k×n) row-major and unpadded, as most layers
 * store them. */
int hb__gemm_split_panels(hb_dtype dt, int64_t m, int64_t n, int64_t k, int64_t rs_c,
                          int64_t cs_c, int threads, int *pr, int *pc);

/* Whether AUTO runs f64 products on BLIS's sup path on sup tiles (else on one thread, as
 * in session 14; 0 to measure that). */
#ifndef HB__GEMM_SUP_TILES
#define HB__GEMM_SUP_TILES 1
#endif

/* Cost of packing one element of A or B, in flops, in the choice of the grid: a thin tile
 * repeats the packing of the other operand. An estimate (packing is memory-bound; a core
 * does ≈ 32 f32 flops in the time it copies an element), not a measurement. */
#ifndef HB__GEMM_SPLIT_PACK_FLOPS
#define HB__GEMM_SPLIT_PACK_FLOPS 32.0
#endif

/* hb__gemm_strided_on with an explicit way (benchmarks and tests compare them). */
int hb__gemm_strided_way(hb_context *ctx, int threads, hb__gemm_way way, hb_dtype dt,
                         bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                         double alpha, const void *A, int64_t rs_a, int64_t cs_a,
                         const void *B, int64_t rs_b, int64_t cs_b, double beta,
                         void *C, int64_t rs_c, int64_t cs_c);

/* Row-major convenience: lda, ldb, ldc are the row lengths of the stored matrices. */
int hb__gemm(hb_context *ctx, hb_dtype dt, bool trans_a, bool trans_b,
             int64_t m, int64_t n, int64_t k, double alpha,
             const void *A, int64_t lda, const void *B, int64_t ldb, double beta,
             void *C, int64_t ldc);

/* y = alpha·op(A)·x + beta·y; A stored row-major m×n with row length lda;
 * op(A) is m×n (x: n, y: m) or, with trans_a, n×m (x: m, y: n). */
int hb__gemv(hb_context *ctx, hb_dtype dt, bool trans_a, int64_t m, int64_t n, double alpha,
             const void *A, int64_t lda, const void *x, int64_t incx, double beta,
             void *y, int64_t incy);

/* y += alpha·x */
int hb__axpy(hb_context *ctx, hb_dtype dt, int64_t n, double alpha, const void *x,
             int64_t incx, void *y, int64_t incy);
/* *result = xᵀy (accumulated in dt, returned as double) */
int hb__dot(hb_context *ctx, hb_dtype dt, int64_t n, const void *x, int64_t incx,
            const void *y, int64_t incy, double *result);
/* *result = ‖x‖₂ (BLIS normfv: scaled, no overflow for large entries) */
int hb__nrm2(hb_context *ctx, hb_dtype dt, int64_t n, const void *x, int64_t incx,
             double *result);
/* x = alpha·x */
int hb__scal(hb_context *ctx, hb_dtype dt, int64_t n, double alpha, void *x, int64_t incx);

#endif
