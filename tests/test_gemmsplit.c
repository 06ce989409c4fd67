/* A gemm split into row or column panels (hb__gemm_strided_way, HB__GEMM_SPLIT) gives
 * the one-thread BLIS call's bits, for every thread count, shape, transpose, storage and
 * beta: the library's results must not depend on its thread count (test_repro). */
#include <omp.h>
#include <string.h>

#include "hb_test.h"
#include "kernels/kernels.h"

static uint64_t next(uint64_t *s) { /* splitmix64: fixed, platform-independent */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void fill(hb_dtype dt, void *x, size_t n, uint64_t seed) {
    for (size_t i = 0; i < n; i++) {
        double v = (double)(next(&seed) >> 11) * 0x1.0p-53 * 2.0 - 1.0;
        if (dt == HB_F64) ((double *)x)[i] = v;
        else ((float *)x)[i] = (float)v;
    }
}

/* Strides of a stored rows×cols matrix: 0 row-major (padded), 1 column-major (padded),
 * 2 general (neither stride 1). Returns the elements to allocate. */
static size_t layout(int kind, int64_t rows, int64_t cols, int64_t *rs, int64_t *cs) {
    if (kind == 0) *rs = cols + 3, *cs = 1;
    else if (kind == 1) *rs = 1, *cs = rows + 2;
    else *rs = 2 * cols + 1, *cs = 2;
    return (size_t)((rows - 1) * *rs + (cols - 1) * *cs + 1);
}

/* One product split on each of `threads` against the one-thread call, bit for bit. */
static void check_shape(hb_context *ctx, hb_dtype dt, bool ta, bool tb, int64_t m, int64_t n,
                        int64_t k, int lay, double beta, uint64_t seed) {
    static const int threads[] = {2, 3, 5, 7, 16};
    int64_t rs_a, cs_a, rs_b, cs_b, rs_c, cs_c;
    size_t na = layout(lay, ta ? k : m, ta ? m : k, &rs_a, &cs_a);
    size_t nb = layout((lay + 1) % 3, tb ? n : k, tb ? k : n, &rs_b, &cs_b);
    size_t nc = layout(lay, m, n, &rs_c, &cs_c), es = hb_dtype_size(dt);
    char *A = malloc(na * es), *B = malloc(nb * es), *C0 = malloc(nc * es), *R = malloc(nc * es),
         *C = malloc(nc * es);
    ck_assert(A && B && C0 && R && C);
    fill(dt, A, na, seed), fill(dt, B, nb, seed + 1), fill(dt, C0, nc, seed + 2);
    memcpy(R, C0, nc * es);
    ck_assert_int_eq(hb__gemm_strided_way(ctx, 1, HB__GEMM_BLIS, dt, ta, tb, m, n, k, 1.25, A,
                                          rs_a, cs_a, B, rs_b, cs_b, beta, R, rs_c, cs_c), HB_OK);
    for (size_t t = 0; t < sizeof threads / sizeof *threads; t++)
        for (int way = HB__GEMM_SPLIT; way <= HB__GEMM_SPLIT; way++) {
            /* SPLIT only: BLIS's own threads are test_kernels' and test_repro's (the
             * library's way too). A product SPLIT cannot cut runs as one BLIS call on all
             * the threads, whose team spins at its barriers: with more threads than
             * processors that takes minutes (kernels.h), so those are left out. Panels are
             * single-threaded calls without such barriers: 16 on 2 processors are fine. */
            if (hb__gemm_split_tiles(dt, ta, tb, m, n, k, rs_a, cs_a, rs_b, cs_b, rs_c, cs_c,
                                     threads[t], NULL, NULL, NULL) < 2 &&
                threads[t] > omp_get_num_procs())
                continue;
            memcpy(C, C0, nc * es);
            ck_assert_int_eq(hb__gemm_strided_way(ctx, threads[t], (hb__gemm_way)way, dt, ta, tb,
                                                  m, n, k, 1.25, A, rs_a, cs_a, B, rs_b, cs_b,
                                                  beta, C, rs_c, cs_c), HB_OK);
            ck_assert_msg(!memcmp(C, R, nc * es),
                          "%s %c%c %lldx%lldx%lld layout %d beta %g: way %d on %d threads "
                          "differs from 1 thread", dt == HB_F64 ? "f64" : "f32", ta ? 'T' : 'N',
                          tb ? 'T' : 'N', (long long)m, (long long)n, (long long)k, lay, beta, way,
                          threads[t]);
        }
    free(A), free(B), free(C0), free(R), free(C);
}

START_TEST(test_split_matches_one_thread_f32) {
    hb_context *ctx = hb_test_context(1, 0);
    /* gpt-ref's linear shapes (tall: rows split), wide ones (columns split), sizes one
     * past and one short of the 48-row alignment, a last panel of one row, k past KC. */
    static const int64_t shapes[][3] = {{1024, 65, 128}, {65, 128, 1024}, {97, 49, 300},
                                        {49, 97, 17},    {145, 33, 5},    {40, 300, 64},
                                        {2, 3, 4},       {1, 200, 9},     {300, 1, 9},
                                        {13, 40, 33},    {40, 13, 33},    {200, 160, 8}};
    uint64_t seed = 11;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int tr = 0; tr < 4; tr++) {
            /* the gpt-sized ones with gpt's transposes only (time under valgrind) */
            if (s == 0 && tr != 2 && tr != 0) continue;
            if (s == 1 && tr != 1) continue;
            check_shape(ctx, HB_F32, tr & 1, tr >> 1, shapes[s][0], shapes[s][1], shapes[s][2],
                        (int)(s + (size_t)tr) % 3, s % 3 == 0 ? 0.0 : s % 3 == 1 ? 1.0 : 0.7,
                        seed++);
        }
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_split_matches_one_thread_f64) {
    hb_context *ctx = hb_test_context(1, 0);
    /* f64 splits only off BLIS's sup path (every dimension at or above its thresholds,
     * 201 on this BLIS); smaller products and those of one thin side stay whole. */
    static const int64_t shapes[][3] = {{250, 203, 210}, {100, 300, 300}};
    uint64_t seed = 101;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int tr = 0; tr < 4; tr++)
            check_shape(ctx, HB_F64, tr & 1, tr >> 1, shapes[s][0], shapes[s][1], shapes[s][2],
                        (int)(s + (size_t)tr) % 3, tr == 3 ? 0.7 : (double)(tr & 1), seed++);
    hb_context_free(ctx);
}
END_TEST

/* Operand strides for the f64 sup test, as the engine stores them: 0 row-major, unpadded;
 * 1 a strided sub-matrix of a wider row-major one (attention's heads, a slice of QKV);
 * 2 column-major (a transposed view of a row-major matrix, padded). */
static size_t sup_layout(int kind, int64_t rows, int64_t cols, int64_t *rs, int64_t *cs) {
    if (kind == 0) *rs = cols, *cs = 1;
    else if (kind == 1) *rs = 3 * cols + 5, *cs = 1;
    else *rs = 1, *cs = rows + 1;
    return (size_t)((rows - 1) * *rs + (cols - 1) * *cs + 1);
}

/* One f64 product (on BLIS's sup path or not) on sup tiles for each thread count against
 * the one-thread call, bit for bit. Returns how many of the thread counts split it. */
static int check_sup(hb_context *ctx, bool ta, bool tb, int64_t m, int64_t n, int64_t k, int la,
                     int lb, int lc, double alpha, double beta, uint64_t seed) {
    static const int threads[] = {2, 3, 4, 7, 16};
    int64_t rs_a, cs_a, rs_b, cs_b, rs_c, cs_c;
    size_t na = sup_layout(la, ta ? k : m, ta ? m : k, &rs_a, &cs_a);
    size_t nb = sup_layout(lb, tb ? n : k, tb ? k : n, &rs_b, &cs_b);
    size_t nc = sup_layout(lc, m, n, &rs_c, &cs_c), es = sizeof(double);
    char *A = malloc(na * es), *B = malloc(nb * es), *C0 = malloc(nc * es), *R = malloc(nc * es),
         *C = malloc(nc * es);
    ck_assert(A && B && C0 && R && C);
    fill(HB_F64, A, na, seed), fill(HB_F64, B, nb, seed + 1), fill(HB_F64, C0, nc, seed + 2);
    memcpy(R, C0, nc * es);
    ck_assert_int_eq(hb__gemm_strided_way(ctx, 1, HB__GEMM_BLIS, HB_F64, ta, tb, m, n, k, alpha,
                                          A, rs_a, cs_a, B, rs_b, cs_b, beta, R, rs_c, cs_c), HB_OK);
    int split = 0;
    for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
        bool sup;
        int tiles = hb__gemm_split_tiles(HB_F64, ta, tb, m, n, k, rs_a, cs_a, rs_b, cs_b, rs_c,
                                         cs_c, threads[t], NULL, NULL, &sup);
        if (tiles < 2 && (!sup && threads[t] > omp_get_num_procs())) continue; /* as check_shape */
        split += tiles > 1;
        memcpy(C, C0, nc * es);
        ck_assert_int_eq(hb__gemm_strided_way(ctx, threads[t], HB__GEMM_SPLIT, HB_F64, ta, tb, m,
                                              n, k, alpha, A, rs_a, cs_a, B, rs_b, cs_b, beta, C,
                                              rs_c, cs_c), HB_OK);
        ck_assert_msg(!memcmp(C, R, nc * es),
                      "f64 %c%c %lldx%lldx%lld layouts %d%d%d alpha %g beta %g (%s, %d tiles): "
                      "%d threads differ from 1", ta ? 'T' : 'N', tb ? 'T' : 'N', (long long)m,
                      (long long)n, (long long)k, la, lb, lc, alpha, beta, sup ? "sup" : "packed",
                      tiles, threads[t]);
    }
    free(A), free(B), free(C0), free(R), free(C);
    return split;
}

static const double sup_scalars[] = {0.0, 1.0, -1.0, 0.5};

/* gpt-ref's f64 products (rows N·T = 1024, widths 128, 512 and the vocabulary 65, k from
 * 64 to 1024), with the transposes and layouts the layers use: all on BLIS's sup path. */
START_TEST(test_sup_tiles_gpt_shapes) {
    hb_context *ctx = hb_test_context(1, 0);
    static const int64_t shapes[][3] = {
        {1024, 128, 128}, {1024, 512, 128}, {1024, 128, 512}, {1024, 65, 128}, {1024, 128, 65},
        {128, 128, 1024}, {512, 128, 1024}, {128, 512, 1024}, {65, 128, 1024}, {1024, 384, 128},
        {1024, 64, 64},   {64, 64, 64},     {1024, 1024, 64}, {1024, 64, 1024}};
    uint64_t seed = 1901;
    int split = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int tr = 0; tr < 4; tr++) {
            int l = (int)((s + (size_t)tr) % 3);
            split += check_sup(ctx, tr & 1, tr >> 1, shapes[s][0], shapes[s][1], shapes[s][2], l,
                               (l + 1) % 2, (int)(s % 2), sup_scalars[(s + 1) % 4],
                               sup_scalars[(s + (size_t)tr) % 4], seed++) > 0;
        }
    ck_assert_int_ge(split, 40); /* the tiles are used, not just skipped */
    hb_context_free(ctx);
}
END_TEST

/* Random sup-size shapes, every transpose, layout, alpha and beta. */
START_TEST(test_sup_tiles_random) {
    hb_context *ctx = hb_test_context(1, 0);
    uint64_t rng = 0x5e9d1a;
    int split = 0, cases = 240;
    for (int c = 0; c < cases; c++) {
        /* dims 1..400, a third of them near multiples of the alignment (24 on haswell) */
        int64_t d[3];
        for (int i = 0; i < 3; i++) {
            d[i] = 1 + (int64_t)(next(&rng) % 400);
            if (next(&rng) % 3 == 0) d[i] = (d[i] / 24 + 1) * 24 + (int64_t)(next(&rng) % 7) - 3;
        }
        uint64_t r = next(&rng);
        split += check_sup(ctx, r & 1, (r >> 1) & 1, d[0], d[1], d[2], (int)((r >> 2) % 3),
                           (int)((r >> 4) % 3), (int)((r >> 6) % 3), sup_scalars[(r >> 8) % 4],
                           sup_scalars[(r >> 10) % 4], r) > 0;
    }
    ck_assert_int_ge(split, cases / 3);
    hb_context_free(ctx);
}
END_TEST

/* Where the last micro-panel of rows or columns is short (1–3 of them, the MRE/NRE fold
 * of a one-thread sup call), wide or tall products (both variants), every transpose and
 * layout: the last tile must keep a full unit before the short rest. */
START_TEST(test_sup_tiles_edges) {
    hb_context *ctx = hb_test_context(1, 0);
    static const int64_t shapes[][3] = {{49, 400, 100}, {50, 390, 300}, {51, 200, 64},
                                        {400, 49, 100}, {390, 50, 300}, {200, 51, 64},
                                        {73, 73, 260},  {26, 300, 40},  {300, 26, 40}};
    uint64_t seed = 7001;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int v = 0; v < 16; v++)
            check_sup(ctx, v & 1, (v >> 1) & 1, shapes[s][0], shapes[s][1], shapes[s][2],
                      (v >> 2) % 3, (int)(s + (size_t)v) % 3, (v >> 3) & 1,
                      sup_scalars[(s + (size_t)v) % 4], sup_scalars[(size_t)v % 4], seed++);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_split_panels) {
    int pr, pc;
    /* row-major f32 (haswell: MR 6, NR 16): tall products split by rows */
    ck_assert_int_eq(hb__gemm_split_panels(HB_F32, 1024, 128, 128, 128, 1, 2, &pr, &pc), 2);
    ck_assert_int_eq(pr, 2);
    ck_assert_int_eq(hb__gemm_split_panels(HB_F32, 1024, 128, 128, 128, 1, 1, &pr, &pc), 1);
    ck_assert_int_eq(hb__gemm_split_panels(HB_F32, 2, 3, 4, 3, 1, 7, NULL, NULL), 1); /* one tile */
    ck_assert_int_le(hb__gemm_split_panels(HB_F32, 1024, 128, 128, 128, 1, 64, &pr, &pc), 64);
    ck_assert_int_le(pr * pc, 64);
    ck_assert_int_eq(hb__gemm_split_panels(HB_F32, 1024, 128, 128, 128, 1, 16, &pr, &pc), pr * pc);
    /* f64 on BLIS's sup path: sup tiles, cut at multiples of 24 (haswell: sup MR 6, NR 8) */
    bool sup = false;
    ck_assert_int_eq(hb__gemm_split_tiles(HB_F64, false, true, 1024, 128, 128, 128, 1, 128, 1,
                                          128, 1, 2, &pr, &pc, &sup), 2);
    ck_assert(sup);
    ck_assert_int_eq(pr * pc, 2);
    /* ... but never with a tile of less than one full unit: 30 columns, one unit */
    ck_assert_int_eq(hb__gemm_split_tiles(HB_F64, false, false, 30, 30, 100, 100, 1, 30, 1, 30,
                                          1, 4, &pr, &pc, &sup), 1);
}
END_TEST

Suite *hb_suite_gemmsplit(void) {
    Suite *s = suite_create("gemmsplit");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_split_panels);
    tcase_add_test(tc, test_split_matches_one_thread_f32);
    tcase_add_test(tc, test_split_matches_one_thread_f64);
    tcase_add_test(tc, test_sup_tiles_gpt_shapes);
    tcase_add_test(tc, test_sup_tiles_random);
    tcase_add_test(tc, test_sup_tiles_edges);
    suite_add_tcase(s, tc);
    return s;
}
