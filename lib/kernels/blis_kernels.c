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

/* One gemm's arguments, already validated. */
typedef struct gemm_op {
    hb_dtype dt;
    bool ta, tb;
    int64_t m, n, k;
    double alpha;
    const void *A;
    int64_t rs_a, cs_a;
    const void *B;
    int64_t rs_b, cs_b;
    double beta;
    void *C;
    int64_t rs_c, cs_c;
} gemm_op;

/* One BLIS call on `threads` threads; packed: never the "sup" path (a split's panels). */
static void blis_gemm(const gemm_op *o, int threads, bool packed) {
    rntm_t rntm;
    make_rntm(threads, &rntm);
    trans_t tra = o->ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE;
    trans_t trb = o->tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE;
    if (o->dt == HB_F64) {
        if (packed) bli_rntm_disable_l3_sup(&rntm);
        double al = o->alpha, be = o->beta;
        bli_dgemm_ex(tra, trb, o->m, o->n, o->k, &al, (double *)o->A, o->rs_a, o->cs_a,
                     (double *)o->B, o->rs_b, o->cs_b, &be, (double *)o->C, o->rs_c, o->cs_c,
                     NULL, &rntm);
    } else {
        /* BLIS 0.9.0 (Debian bookworm) has out-of-bounds reads of A in its Haswell/Zen
         * sgemm "sup" (small/unpacked) kernels (flame/blis#635, fixed upstream later):
         * valgrind sees them, and at a page end they can fault. The packed path reads
         * only the declared elements, so f32 gemm always takes it. */
        bli_rntm_disable_l3_sup(&rntm);
        float al = (float)o->alpha, be = (float)o->beta;
        bli_sgemm_ex(tra, trb, o->m, o->n, o->k, &al, (float *)o->A, o->rs_a, o->cs_a,
                     (float *)o->B, o->rs_b, o->cs_b, &be, (float *)o->C, o->rs_c, o->cs_c,
                     NULL, &rntm);
    }
}

/* Panel boundaries are multiples of the register block of their dimension: BLIS cuts C
 * into MR×NR micro-tiles from its first row and column (MC and NC are multiples of them),
 * so a panel starting there has exactly the whole call's micro-tiles. Edge tiles go
 * through a temporary and BLIS's own update, which rounds β·C + AB otherwise than the
 * kernel's fused update (tests/test_gemmsplit.c fails with unaligned panels): equal tiles
 * keep that the same too. Which of m and n BLIS maps to MR: BLIS 0.9's bli_gemm_front
 * transposes the whole problem (C = AB as Cᵀ = BᵀAᵀ) when the micro-kernel "dislikes" C's
 * storage, i.e. unless C is row-stored (unit column stride) and the kernel prefers rows,
 * or column-stored and it prefers columns (bli_cntx_l3_vir_ukr_prefers_storage_of); a
 * panel has C's strides, so it gets the whole call's decision. */
static void split_align(hb_dtype dt, int64_t rs_c, int64_t cs_c, int64_t *al_m, int64_t *al_n) {
    cntx_t *cntx = bli_gks_query_cntx();
    num_t bdt = dt == HB_F64 ? BLIS_DOUBLE : BLIS_FLOAT;
    int64_t mr = bli_cntx_get_blksz_def_dt(bdt, BLIS_MR, cntx);
    int64_t nr = bli_cntx_get_blksz_def_dt(bdt, BLIS_NR, cntx);
    bool rows = bli_cntx_l3_vir_ukr_prefers_rows_dt(bdt, BLIS_GEMM_UKR, cntx);
    bool cols = bli_cntx_l3_vir_ukr_prefers_cols_dt(bdt, BLIS_GEMM_UKR, cntx);
    bool kept = (cs_c == 1 && rows) || (rs_c == 1 && cols);
    *al_m = kept ? mr : nr;
    *al_n = kept ? nr : mr;
    if (*al_m < 1) *al_m = 1;
    if (*al_n < 1) *al_n = 1;
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

static int64_t gcd64(int64_t a, int64_t b) {
    while (b) { int64_t t = a % b; a = b, b = t; }
    return a;
}
static int64_t lcm64(int64_t a, int64_t b) { return a < 1 || b < 1 ? 1 : a / gcd64(a, b) * b; }

/* BLIS's own test for a general-stored matrix (bli_is_gen_stored): neither stride is 1. */
static bool gen_stored(int64_t rs, int64_t cs) { return rs != 1 && cs != 1 && rs != -1 && cs != -1; }

/* Whether BLIS 0.9 runs this f64 product on its "sup" path, as bli_gemmsup and
 * bli_gemmsup_ref decide it: one of m, n, k below its threshold, with m and n swapped when
 * the packed micro-kernel dislikes C's storage (BLIS would transpose the whole problem),
 * and no operand general-stored (bli_gemmsup_ref sends stor3 "XXX" to the packed path). */
static bool f64_on_sup(const gemm_op *o) {
    cntx_t *cntx = bli_gks_query_cntx();
    int64_t rs_a = o->ta ? o->cs_a : o->rs_a, cs_a = o->ta ? o->rs_a : o->cs_a;
    int64_t rs_b = o->tb ? o->cs_b : o->rs_b, cs_b = o->tb ? o->rs_b : o->cs_b;
    if (gen_stored(o->rs_c, o->cs_c) || gen_stored(rs_a, cs_a) || gen_stored(rs_b, cs_b))
        return false;
    bool rows = bli_cntx_l3_vir_ukr_prefers_rows_dt(BLIS_DOUBLE, BLIS_GEMM_UKR, cntx);
    bool cols = bli_cntx_l3_vir_ukr_prefers_cols_dt(BLIS_DOUBLE, BLIS_GEMM_UKR, cntx);
    bool likes = (o->cs_c == 1 && rows) || (o->rs_c == 1 && cols);
    return likes ? bli_cntx_l3_sup_thresh_is_met(BLIS_DOUBLE, o->m, o->n, o->k, cntx)
                 : bli_cntx_l3_sup_thresh_is_met(BLIS_DOUBLE, o->n, o->m, o->k, cntx);
}

/* Tiles of a sup product are cut at multiples of this, the least common multiple of the
 * sup and the packed register blocks MR and NR: C's micro-tile grid in the sup variants
 * (bli_l3_sup_var1n2m.c) starts at C's first row and column with MR rows and NR columns,
 * or, when bli_gemmsup_int transposes the problem (storage) or takes var1n (shape), with
 * the roles swapped; bli_gemmsup_int counts micro-panels with the packed MR/NR. A multiple
 * of all four keeps every element in the same micro-tile position whichever way the tile
 * goes. */
static int64_t sup_align(void) {
    cntx_t *cntx = bli_gks_query_cntx();
    int64_t a = lcm64(bli_cntx_get_l3_sup_blksz_def_dt(BLIS_DOUBLE, BLIS_MR, cntx),
                      bli_cntx_get_l3_sup_blksz_def_dt(BLIS_DOUBLE, BLIS_NR, cntx));
    a = lcm64(a, bli_cntx_get_blksz_def_dt(BLIS_DOUBLE, BLIS_MR, cntx));
    return lcm64(a, bli_cntx_get_blksz_def_dt(BLIS_DOUBLE, BLIS_NR, cntx));
}

/* The k blocking (KC) of a one-thread sup call without packing, bli_gemmsup_ref_var2m and
 * var1n: KC0 for storage rrc/crc, otherwise it shrinks with the size of C in micro-tiles
 * (KC0, KC0/2, ... ((KC0/5)/4)·4). C is updated once per KC block, so a tile must get the
 * whole's KC. The same rule under every orientation (m/n, MR/NR swapped) the variants
 * may apply, as one code. */
static int64_t sup_kc_code(int64_t m, int64_t n) {
    cntx_t *cntx = bli_gks_query_cntx();
    int64_t mr = bli_cntx_get_l3_sup_blksz_def_dt(BLIS_DOUBLE, BLIS_MR, cntx);
    int64_t nr = bli_cntx_get_l3_sup_blksz_def_dt(BLIS_DOUBLE, BLIS_NR, cntx);
    int64_t code = 0;
    for (int o = 0; o < 4; o++) {
        int64_t x = o & 1 ? n : m, y = o & 1 ? m : n, a = o & 2 ? nr : mr, b = o & 2 ? mr : nr;
        int64_t c = 5;
        for (int64_t f = 4; f >= 1; f--)
            if (x <= f * a && y <= f * b) c = f;
        code = code * 8 + c;
    }
    return code;
}

/* Tile boundaries of a sup product: dim cut into its full units of `al` dealt out evenly,
 * the short rest with the last part; p = parts gives dim. The last part always keeps a
 * full unit before the rest: a one-thread sup call folds a short last micro-panel (up to
 * MR/NR "max" - def, 3 rows on haswell) into the one before it (the "MRE/NRE"
 * extension, only when it has more than one), and that fold must happen as in the whole. */
static int64_t sup_part_start(int64_t dim, int64_t al, int parts, int p) {
    return p == parts ? dim : dim / al * p / parts * al;
}

/* bli_gemmsup_int's choice of variant for an m×n C: block-panel (var2m) when C has at
 * least as many micro-panels of rows as of columns (counted with the packed MR/NR, after
 * the transposition that storage `stor` may cause), else panel-block (var1n). */
static bool sup_block_panel(int stor, int64_t m, int64_t n) {
    cntx_t *cntx = bli_gks_query_cntx();
    int64_t mr = bli_cntx_get_blksz_def_dt(BLIS_DOUBLE, BLIS_MR, cntx);
    int64_t nr = bli_cntx_get_blksz_def_dt(BLIS_DOUBLE, BLIS_NR, cntx);
    bool r_first = stor == BLIS_RRR || stor == BLIS_RRC || stor == BLIS_RCR || stor == BLIS_CRR;
    bool primary = bli_cntx_l3_sup_ker_prefers_rows_dt(BLIS_DOUBLE, (stor3_t)stor, cntx) ? r_first
                                                                                         : !r_first;
    return primary ? m / mr >= n / nr : n / mr >= m / nr;
}

/* bli_stor3_from_strides for op(A), B, C not general-stored: 4·(C column-stored) +
 * 2·(A column-stored) + (B column-stored). */
static int sup_stor(const gemm_op *o) {
    int64_t rs_a = o->ta ? o->cs_a : o->rs_a, rs_b = o->tb ? o->cs_b : o->rs_b;
    return 4 * (o->rs_c == 1 || o->rs_c == -1) + 2 * (rs_a == 1 || rs_a == -1) +
           (rs_b == 1 || rs_b == -1);
}

/* Whether an rp × cp grid of a sup product gives every element the whole's operations:
 * at least one full unit per part (sup_part_start), no split dimension over NC, and in
 * every tile the whole's variant (sup_block_panel) and k blocking (sup_kc_code, unless k
 * fits in one block of the smallest KC). The variant and KC rules are each needed: the
 * test fails without either (docs/performance.md, "f64 small products on tiles"). */
static bool sup_grid_ok(const gemm_op *o, int64_t al, int rp, int cp) {
    int64_t m = o->m, n = o->n, k = o->k;
    if (rp > m / al || cp > n / al) return false;
    cntx_t *cntx = bli_gks_query_cntx();
    /* A dimension longer than NC is cut into NC blocks from its start, and the fold of a
     * short last micro-panel happens in the last block only if that has more than one:
     * a tile starting elsewhere would block it otherwise (4080 on haswell; no gpt-ref
     * product is that long in a dimension it splits). */
    int64_t nc = bli_cntx_get_l3_sup_blksz_def_dt(BLIS_DOUBLE, BLIS_NC, cntx);
    if ((rp > 1 && m > nc) || (cp > 1 && n > nc)) return false;
    int64_t kc0 = bli_cntx_get_l3_sup_blksz_def_dt(BLIS_DOUBLE, BLIS_KC, cntx);
    bool one_kc = k <= kc0 / 5 / 4 * 4;
    int stor = sup_stor(o);
    bool bp = sup_block_panel(stor, m, n);
    int64_t whole = sup_kc_code(m, n);
    for (int r = 0; r < rp; r++)
        for (int c = 0; c < cp; c++) {
            int64_t tm = sup_part_start(m, al, rp, r + 1) - sup_part_start(m, al, rp, r);
            int64_t tn = sup_part_start(n, al, cp, c + 1) - sup_part_start(n, al, cp, c);
            if (sup_block_panel(stor, tm, tn) != bp) return false;
            if (!one_kc && sup_kc_code(tm, tn) != whole) return false;
        }
    return true;
}

/* The grid: pr × pc ≤ threads tiles of C, each dimension cut into units of its alignment
 * (the last unit short) dealt out evenly (tile row r of pr has units [r·U/pr, (r+1)·U/pr)).
 * Chosen to minimize the largest tile's cost per unit of k, 2·rows·cols flops plus
 * HB__GEMM_SPLIT_PACK_FLOPS per element of A and B it packs (each tile packs its own rows
 * of A and columns of B: a thin tile repeats the other operand's packing); ties go to
 * fewer tiles, then to fewer tile rows. An f64 product on BLIS's sup path gets sup tiles
 * instead (sup_align, sup_part_start, sup_grid_ok), each again a one-thread sup call; sup
 * packs nothing, but the packing term still prefers squarer tiles (A and B rows re-read). */
static int split_grid(const gemm_op *o, int threads, bool *sup, int *pr_out, int *pc_out) {
    int64_t m = o->m, n = o->n, k = o->k;
    *pr_out = *pc_out = 1;
    *sup = o->dt == HB_F64 && f64_on_sup(o);
    if (threads <= 1 || m <= 0 || n <= 0 || k <= 0) return 1;
    int64_t al_m, al_n;
    if (*sup) al_m = al_n = sup_align();
    else split_align(o->dt, o->rs_c, o->cs_c, &al_m, &al_n);
    int64_t um = *sup ? m / al_m : ceil_div(m, al_m), un = *sup ? n / al_n : ceil_div(n, al_n);
    double best = 0;
    int bt = 1;
    for (int pr = 1; pr <= threads && pr <= um; pr++)
        for (int pc = 1; pr * pc <= threads && pc <= un; pc++) {
            if (*sup && pr * pc > 1 && !sup_grid_ok(o, al_m, pr, pc)) continue;
            double r = (double)(ceil_div(um, pr) * al_m), c = (double)(ceil_div(un, pc) * al_n);
            if (*sup) r += (double)(m % al_m), c += (double)(n % al_n);
            if (r > (double)m) r = (double)m;
            if (c > (double)n) c = (double)n;
            double cost = 2.0 * r * c + HB__GEMM_SPLIT_PACK_FLOPS * (r + c);
            if (bt == 1 || cost < best || (cost == best && pr * pc < bt)) {
                best = cost, bt = pr * pc;
                *pr_out = pr, *pc_out = pc;
            }
        }
    if (bt == 1) *pr_out = *pc_out = 1;
    return bt;
}

int hb__gemm_split_tiles(hb_dtype dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                         int64_t rs_a, int64_t cs_a, int64_t rs_b, int64_t cs_b, int64_t rs_c,
                         int64_t cs_c, int threads, int *pr, int *pc, bool *sup) {
    gemm_op op = {dt, ta, tb, m, n, k, 1.0, NULL, rs_a, cs_a, NULL, rs_b, cs_b, 0.0, NULL, rs_c, cs_c};
    bool s;
    int r, c, t = split_grid(&op, threads, &s, &r, &c);
    if (pr) *pr = r;
    if (pc) *pc = c;
    if (sup) *sup = s;
    return t;
}

int hb__gemm_split_panels(hb_dtype dt, int64_t m, int64_t n, int64_t k, int64_t rs_c,
                          int64_t cs_c, int threads, int *pr, int *pc) {
    /* A and B as the layers store them: row-major, A m×k (lda k), B k×n (ldb n) */
    return hb__gemm_split_tiles(dt, false, false, m, n, k, k, 1, n, 1, rs_c, cs_c, threads, pr,
                                pc, NULL);
}

/* First row (column) of tile row (column) p of `parts` over dim cut into units of al;
 * p = parts gives dim. */
static int64_t part_start(int64_t dim, int64_t al, int parts, int p) {
    int64_t lo = ceil_div(dim, al) * p / parts * al;
    return lo < dim ? lo : dim;
}

/* Whether the tiles beat BLIS's own threads for a product on `threads` threads: measured
 * on 2 threads and on the 16-core host (docs/performance.md, "Splitting a gemm into tiles"):
 * tiles on 2 threads and from HB__GEMM_SPLIT_MIN_MANY up, BLIS's team in between. */
static bool split_wins(int threads) {
    return HB__GEMM_SPLIT_DEFAULT &&
           (threads <= HB__GEMM_SPLIT_MAX_THREADS || threads >= HB__GEMM_SPLIT_MIN_MANY);
}

int hb__gemm_strided_way(hb_context *ctx, int threads, hb__gemm_way way, hb_dtype dt, bool ta,
                         bool tb, int64_t m, int64_t n, int64_t k, double alpha, const void *A,
                         int64_t rs_a, int64_t cs_a, const void *B, int64_t rs_b, int64_t cs_b,
                         double beta, void *C, int64_t rs_c, int64_t cs_c) {
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
    int t = threads >= 1 ? threads : hb__gemm_threads(ctx, m, n, k);
    gemm_op op = {dt, ta, tb, m, n, k, alpha, A, rs_a, cs_a, B, rs_b, cs_b, beta, C, rs_c, cs_c};
    int pr = 1, pc = 1;
    bool sup = false;
    int panels = t <= 1 ? 1 : split_grid(&op, t, &sup, &pr, &pc);
    /* An f64 product on BLIS's "sup" path never goes to BLIS's team: BLIS 0.9's threaded
     * sup (its thread grid picks another variant, KC, and no MRE/NRE fold) sums in
     * another order than its one-thread sup, so gpt-ref's f64 gradient differed in the
     * last bits between 1 and 2 threads (session 14; tests/test_repro.c "gpt-ref size").
     * It runs on sup tiles (split_grid), each a one-thread sup call with the whole's
     * arithmetic for each of its elements (docs/performance.md, "f64 small products on
     * tiles"), and whole on one thread where no grid is provably the same. */
    if (sup) {
        if (way == HB__GEMM_BLIS || (way == HB__GEMM_AUTO && !HB__GEMM_SUP_TILES)) panels = 1;
        if (panels <= 1) t = 1;
    } else if (way == HB__GEMM_BLIS || (way == HB__GEMM_AUTO && !split_wins(t))) {
        panels = 1;
    }
    if (panels <= 1) {
        blis_gemm(&op, t, false);
        return HB_OK;
    }
    int64_t al_m, al_n;
    if (sup) al_m = al_n = sup_align();
    else split_align(dt, rs_c, cs_c, &al_m, &al_n);
    size_t es = hb_dtype_size(dt);
    /* One single-threaded BLIS call per tile, each on its own thread: no BLIS team, no
     * BLIS barriers. A product on the packed path has packed tiles (a tile could cross
     * the sup thresholds: forced packed), each starting at a multiple of the register
     * blocks (split_align); one on sup has sup tiles (split_grid). Either way each element
     * of C gets exactly the arithmetic of the one-thread call. */
#pragma omp parallel for num_threads(panels) schedule(static, 1)
    for (int p = 0; p < panels; p++) {
        gemm_op q = op;
        int r = p / pc, c = p % pc;
        int64_t i0, j0;
        if (sup) {
            i0 = sup_part_start(m, al_m, pr, r), j0 = sup_part_start(n, al_n, pc, c);
            q.m = sup_part_start(m, al_m, pr, r + 1) - i0;
            q.n = sup_part_start(n, al_n, pc, c + 1) - j0;
        } else {
            i0 = part_start(m, al_m, pr, r), j0 = part_start(n, al_n, pc, c);
            q.m = part_start(m, al_m, pr, r + 1) - i0;
            q.n = part_start(n, al_n, pc, c + 1) - j0;
        }
        q.A = (const char *)op.A + es * (size_t)(i0 * (ta ? cs_a : rs_a));
        q.B = (const char *)op.B + es * (size_t)(j0 * (tb ? rs_b : cs_b));
        q.C = (char *)op.C + es * (size_t)(i0 * rs_c + j0 * cs_c);
        blis_gemm(&q, 1, !sup);
    }
    return HB_OK;
}

int hb__gemm_strided_on(hb_context *ctx, int threads, hb_dtype dt, bool ta, bool tb, int64_t m,
                        int64_t n, int64_t k, double alpha, const void *A, int64_t rs_a,
                        int64_t cs_a, const void *B, int64_t rs_b, int64_t cs_b, double beta,
                        void *C, int64_t rs_c, int64_t cs_c) {
    return hb__gemm_strided_way(ctx, threads, HB__GEMM_AUTO, dt, ta, tb, m, n, k, alpha, A, rs_a,
                                cs_a, B, rs_b, cs_b, beta, C, rs_c, cs_c);
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
