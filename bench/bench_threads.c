/* bench_threads: where a second (third, …) thread pays, and what it gives a gpt.
 *
 *   bench_threads [--threads P] [--reps R] [--dtype f32|f64] [--no-model] [--no-gemm]
 *                 [--model ref|10m] [--series 1,2,4,...] [--k K] [--shapes]
 *
 * Part 1, the gemm threshold: for the gemm shapes one gpt-ref gradient/HVP issues (counted
 * with an LD_PRELOAD shim on bli_?gemm_ex, docs/performance.md) and a few larger ones, the
 * wall time of one BLIS call with 1 thread and with P threads (per-call rntm, as the
 * library passes it), median of R batches, and the ratio t1 / tP (> 1: threading pays).
 * The library threads a gemm only when 2mnk ≥ 2·HB__GEMM_FLOPS_PER_THREAD ("lib threads").
 * Part 2, the attention loop's threshold: one attention forward + backward (nn/attention.c)
 * of a growing number of (sequence, head) items of gpt-ref's head shape (T 64, d 32), with
 * the loop on 1 and on P threads.
 * Part 2b, the activations' threshold: one GELU forward (tanh; f′, f″ stored) of n
 * elements on 1 and on P threads.
 * Part 3, the effect: a gpt through the library (--model ref: gpt-ref, the default config;
 * 10m: width 384, 6 layers, 6 heads, context 256, vocab 65, batch 16, 10.7 M parameters)
 * at every thread count of the series (default 1,P): loss+gradient, one HVP and, with
 * --k K > 0, hvp_multi(K), wall medians; the speed-up over the series' first entry; and
 * each product's GFLOP/s against a BLIS gemm of the model's widest shape, (N·T × C)·(C × 4C),
 * through the library at the same thread count, timed between the model calls (the
 * "% of gemm" of bench_model; dense flops only, formulas there). Wall time, so run it on
 * a quiet machine and say the load (uptime) with the figures.
 * Part 3b (--shapes, the issue-19 reading): the gemm reference at the product's OWN shapes.
 * This program interposes bli_sgemm_ex / bli_dgemm_ex (the library is linked statically
 * into it, so its BLIS calls bind here; the real ones come from dlsym(RTLD_NEXT)). One
 * recording call of each product logs every gemm it issues (trans, m, n, k, strides, β, the
 * library's per-call rntm) and the wall time spent inside them; then, between the timed
 * model calls, the whole list is replayed on zero-filled scratch with the same arguments.
 * Per product it prints: in-gemm and outside-gemm ms of the recording call, the replayed
 * list's ms (median), and "%shape" = replay / product time = the product's rate as a share
 * of BLIS's rate at exactly its gemms (100 % = no time outside gemm). */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <blis.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hessblock/hessblock.h"
#include "kernels/kernels.h"
#include "nn/attention.h"
#include "nn/elementwise.h"
#include "bench_time.h"

#define MAXR 101

/* ---- Part 3b: the gemms of one product, recorded and replayed ---- */
typedef struct gemm_rec {
    char ch; /* 's' or 'd' */
    trans_t ta, tb;
    dim_t m, n, k;
    inc_t rsa, csa, rsb, csb, rsc, csc;
    double beta;
    rntm_t rntm;
    bool has_rntm;
} gemm_rec;

static struct {
    bool on;         /* recording */
    gemm_rec *v;
    size_t n, cap;
    double in_gemm;  /* wall seconds inside BLIS while recording */
} g_rec;

#define INTERPOSE(CH, T, name)                                                                 \
    void name(trans_t ta, trans_t tb, dim_t m, dim_t n, dim_t k, T *al, T *a, inc_t rsa,      \
              inc_t csa, T *b, inc_t rsb, inc_t csb, T *be, T *c, inc_t rsc, inc_t csc,         \
              cntx_t *cx, rntm_t *rn) {                                                        \
        static void (*real)(trans_t, trans_t, dim_t, dim_t, dim_t, T *, T *, inc_t, inc_t, T *, \
                            inc_t, inc_t, T *, T *, inc_t, inc_t, cntx_t *, rntm_t *);         \
        if (!real) *(void **)&real = dlsym(RTLD_NEXT, #name);                                  \
        if (!g_rec.on) {                                                                       \
            real(ta, tb, m, n, k, al, a, rsa, csa, b, rsb, csb, be, c, rsc, csc, cx, rn);      \
            return;                                                                            \
        }                                                                                      \
        if (g_rec.n == g_rec.cap) {                                                            \
            g_rec.cap = g_rec.cap ? 2 * g_rec.cap : 1024;                                      \
            g_rec.v = realloc(g_rec.v, g_rec.cap * sizeof *g_rec.v);                           \
            if (!g_rec.v) exit(1);                                                             \
        }                                                                                      \
        gemm_rec r;                                                                            \
        memset(&r, 0, sizeof r);                                                               \
        r.ch = CH, r.ta = ta, r.tb = tb, r.m = m, r.n = n, r.k = k, r.beta = (double)*be;      \
        r.rsa = rsa, r.csa = csa, r.rsb = rsb, r.csb = csb, r.rsc = rsc, r.csc = csc;          \
        if (rn) r.rntm = *rn, r.has_rntm = true;                                               \
        g_rec.v[g_rec.n++] = r;                                                                \
        double t0 = bench_wall();                                                              \
        real(ta, tb, m, n, k, al, a, rsa, csa, b, rsb, csb, be, c, rsc, csc, cx, rn);          \
        g_rec.in_gemm += bench_wall() - t0;                                                    \
    }
INTERPOSE('d', double, bli_dgemm_ex)
INTERPOSE('s', float, bli_sgemm_ex)

/* elements a stored (rows × cols) operand with strides (rs, cs) spans */
static size_t span(dim_t rows, dim_t cols, inc_t rs, inc_t cs) {
    return rows && cols ? (size_t)((rows - 1) * rs + (cols - 1) * cs + 1) : 0;
}

typedef struct gemm_list {
    gemm_rec *v;
    size_t n;
    void *A, *B, *C; /* zero-filled scratch, large enough for every call */
} gemm_list;

static gemm_list list_take(void) {
    gemm_list l = {g_rec.v, g_rec.n, NULL, NULL, NULL};
    size_t na = 1, nb = 1, nc = 1;
    for (size_t i = 0; i < l.n; i++) {
        const gemm_rec *r = &l.v[i];
        bool ta = r->ta != BLIS_NO_TRANSPOSE, tb = r->tb != BLIS_NO_TRANSPOSE;
        size_t a = span(ta ? r->k : r->m, ta ? r->m : r->k, r->rsa, r->csa);
        size_t b = span(tb ? r->n : r->k, tb ? r->k : r->n, r->rsb, r->csb);
        size_t c = span(r->m, r->n, r->rsc, r->csc);
        na = a > na ? a : na, nb = b > nb ? b : nb, nc = c > nc ? c : nc;
    }
    l.A = calloc(na, 8), l.B = calloc(nb, 8), l.C = calloc(nc, 8);
    if (!l.A || !l.B || !l.C) exit(1);
    g_rec.v = NULL, g_rec.n = g_rec.cap = 0;
    return l;
}

static void list_free(gemm_list *l) {
    free(l->v), free(l->A), free(l->B), free(l->C);
    *l = (gemm_list){0};
}

/* wall seconds of the whole list, replayed once with the recorded arguments */
static double list_replay(const gemm_list *l) {
    double t0 = bench_wall();
    for (size_t i = 0; i < l->n; i++) {
        const gemm_rec *r = &l->v[i];
        rntm_t rn = r->rntm;
        if (r->ch == 'd') {
            double al = 1, be = r->beta;
            bli_dgemm_ex(r->ta, r->tb, r->m, r->n, r->k, &al, l->A, r->rsa, r->csa, l->B, r->rsb,
                         r->csb, &be, l->C, r->rsc, r->csc, NULL, r->has_rntm ? &rn : NULL);
        } else {
            float al = 1, be = (float)r->beta;
            bli_sgemm_ex(r->ta, r->tb, r->m, r->n, r->k, &al, l->A, r->rsa, r->csa, l->B, r->rsb,
                         r->csb, &be, l->C, r->rsc, r->csc, NULL, r->has_rntm ? &rn : NULL);
        }
    }
    return bench_wall() - t0;
}

/* seconds per call of an m×n×k gemm with `threads` BLIS threads, median of reps batches */
static double time_gemm(hb_dtype dt, int64_t m, int64_t n, int64_t k, int threads, int reps,
                        void *A, void *B, void *C) {
    double flops = 2.0 * (double)m * (double)n * (double)k;
    int calls = flops < 1e6 ? 200 : flops < 1e8 ? 20 : 2;
    double ts[MAXR];
    rntm_t rntm;
    bli_rntm_init(&rntm);
    bli_rntm_set_num_threads(threads, &rntm);
    for (int r = -1; r < reps; r++) {
        double t0 = bench_wall();
        for (int c = 0; c < calls; c++) {
            if (dt == HB_F64) {
                double al = 1, be = 0;
                bli_dgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &al, A, k, 1, B, n, 1,
                             &be, C, n, 1, NULL, &rntm);
            } else {
                float al = 1, be = 0;
                rntm_t r2 = rntm;
                bli_rntm_disable_l3_sup(&r2); /* as the library does for f32 */
                bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &al, A, k, 1, B, n, 1,
                             &be, C, n, 1, NULL, &r2);
            }
        }
        if (r >= 0) ts[r] = (bench_wall() - t0) / calls;
    }
    return bench_median(ts, reps);
}

/* Part 2: seconds of one attention forward + backward of `items` (sequence, head) items,
 * T × d heads (H = 1, N = items), the loop on `threads` threads; median of reps. */
static double time_attention(hb_dtype dt, size_t items, size_t T, size_t d, int threads,
                             int reps) {
    hb_context *ctx = NULL;
    if (hb_context_create(&ctx) || hb_context_set_i64(ctx, HB_CTX_THREADS, threads)) exit(1);
    hb__attn_shape s = {items, T, d, 1, threads};
    size_t es = dt == HB_F64 ? 8 : 4, MC = items * T * d;
    char *u = calloc(7 * MC, es), *P = calloc(items * T * T, es);
    char *sc = calloc(hb__attention_scratch(&s, 1), es);
    if (!u || !P || !sc) exit(1);
    for (size_t i = 0; i < 7 * MC; i++) {
        double x = 0.01 * (double)(i % 97) - 0.4;
        if (dt == HB_F64) ((double *)u)[i] = x;
        else ((float *)u)[i] = (float)x;
    }
    char *q = u, *k = u + MC * es, *v = u + 2 * MC * es, *y = u + 3 * MC * es;
    char *gq = u + 4 * MC * es, *gk = u + 5 * MC * es, *gv = u + 6 * MC * es;
    double ts[MAXR];
    for (int r = -1; r < reps; r++) {
        double t0 = bench_wall();
        if (hb__attention_forward(ctx, dt, &s, q, k, v, P, y) ||
            hb__attention_backward(ctx, dt, &s, q, k, v, P, y, gq, gk, gv, sc))
            exit(1);
        if (r >= 0) ts[r] = bench_wall() - t0;
    }
    qsort(ts, (size_t)reps, sizeof(double), bench_cmp_double);
    free(u), free(P), free(sc);
    hb_context_free(ctx);
    return ts[reps / 2];
}

/* Part 2b: seconds of one GELU forward of n elements on `threads` threads; median of reps */
static double time_gelu(hb_dtype dt, size_t n, int threads, int reps) {
    hb_context *ctx = NULL;
    if (hb_context_create(&ctx) || hb_context_set_i64(ctx, HB_CTX_THREADS, threads)) exit(1);
    size_t es = dt == HB_F64 ? 8 : 4;
    char *u = calloc(4 * n, es);
    if (!u) exit(1);
    for (size_t i = 0; i < n; i++) {
        double x = 0.01 * (double)(i % 397) - 2.0;
        if (dt == HB_F64) ((double *)u)[i] = x;
        else ((float *)u)[i] = (float)x;
    }
    double ts[MAXR];
    for (int r = -1; r < reps; r++) {
        double t0 = bench_wall();
        if (hb__eltwise_forward(ctx, dt, HB_ACT_GELU, n, u, u + n * es, u + 2 * n * es,
                                u + 3 * n * es))
            exit(1);
        if (r >= 0) ts[r] = bench_wall() - t0;
    }
    qsort(ts, (size_t)reps, sizeof(double), bench_cmp_double);
    free(u);
    hb_context_free(ctx);
    return ts[reps / 2];
}

typedef struct gpt_size {
    int64_t V, T, C, H, L, N;
} gpt_size;

/* Part 3: wall medians of grad, HVP and hvp_multi(k) (k = 0: skipped) at `threads`, and
 * the gemm reference (seconds per call) sampled after every model call. */
typedef struct model_times {
    double grad, hvp, multi, gemm;
    /* --shapes, per product (grad, HVP, multi): the recording call's wall time and its time
     * inside BLIS, the number of gemms, and the replayed list's median */
    double rec[3], in_gemm[3], replay[3];
    size_t ngemm[3];
} model_times;

static model_times time_model(hb_dtype dt, const gpt_size *g, int threads, int reps, int k,
                              bool shapes) {
    hb_context *ctx = NULL;
    hb_model_config *cfg = NULL;
    hb_model *m = NULL;
    hb_tensor *v = NULL, *o = NULL, *Vk = NULL, *Ok = NULL;
    if (hb_context_create(&ctx) || hb_context_set_i64(ctx, HB_CTX_THREADS, threads) ||
        hb_model_config_create(ctx, HB_MODEL_GPT, &cfg) ||
        hb_model_config_set_i64(cfg, HB_MK_DTYPE, dt) ||
        hb_model_config_set_i64(cfg, HB_MK_VOCAB, g->V) ||
        hb_model_config_set_i64(cfg, HB_MK_CONTEXT, g->T) ||
        hb_model_config_set_i64(cfg, HB_MK_WIDTH, g->C) ||
        hb_model_config_set_i64(cfg, HB_MK_HEADS, g->H) ||
        hb_model_config_set_i64(cfg, HB_MK_LAYERS, g->L) ||
        hb_model_config_set_i64(cfg, HB_MK_BATCH, g->N) || hb_model_create(ctx, cfg, &m)) {
        fprintf(stderr, "model: %s\n", ctx ? hb_context_last_error(ctx) : "no context");
        exit(1);
    }
    int64_t n = (int64_t)hb_params_count(hb_model_params(m)), s[1] = {n}, sk[2] = {k, n};
    if (hb_tensor_create(ctx, dt, 1, s, &v) || hb_tensor_create(ctx, dt, 1, s, &o) ||
        hb_tensor_fill(v, 0.01))
        exit(1);
    if (k > 0 && (hb_tensor_create(ctx, dt, 2, sk, &Vk) || hb_tensor_create(ctx, dt, 2, sk, &Ok) ||
                  hb_tensor_fill(Vk, 0.01)))
        exit(1);
    int64_t gm = g->N * g->T, gn = 4 * g->C, gk = g->C;
    size_t es = dt == HB_F64 ? 8 : 4;
    void *A = calloc((size_t)(gm * gk), es), *B = calloc((size_t)(gk * gn), es),
         *C = calloc((size_t)(gm * gn), es);
    if (!A || !B || !C) exit(1);
    double tg[MAXR], th[MAXR], tm[MAXR], tr[3 * MAXR], tl[3][MAXR], loss;
    int nr = 0;
    model_times out = {0};
    gemm_list lists[3] = {0};
    for (int what = 0; shapes && what < 3; what++) { /* Part 3b: record each product's gemms */
        if (what == 2 && k == 0) continue;
        for (int pass = 0; pass < 2; pass++) { /* a warm-up call, then the recorded one */
            g_rec.on = pass == 1, g_rec.in_gemm = 0;
            double t0 = bench_wall();
            int rc = what == 0 ? hb_model_loss_grad(m, &loss)
                     : what == 1 ? hb_model_hvp(m, v, o)
                                 : hb_model_hvp_multi(m, Vk, Ok);
            out.rec[what] = bench_wall() - t0;
            g_rec.on = false;
            if (rc) exit(1);
            if (pass == 0) free(g_rec.v), g_rec.v = NULL, g_rec.n = g_rec.cap = 0;
        }
        out.in_gemm[what] = g_rec.in_gemm;
        lists[what] = list_take();
        out.ngemm[what] = lists[what].n;
    }
    for (int r = -1; r < reps; r++)
        for (int what = 0; what < 3; what++) {
            if (what == 2 && k == 0) continue;
            double t0 = bench_wall();
            int rc = what == 0 ? hb_model_loss_grad(m, &loss)
                     : what == 1 ? hb_model_hvp(m, v, o)
                                 : hb_model_hvp_multi(m, Vk, Ok);
            double t = bench_wall() - t0;
            if (rc) exit(1);
            t0 = bench_wall(); /* the reference, under the same load */
            if (hb__gemm(ctx, dt, false, false, gm, gn, gk, 1.0, A, gk, B, gn, 0.0, C, gn)) exit(1);
            double t_ref = bench_wall() - t0;
            double t_list = shapes ? list_replay(&lists[what]) : 0; /* its own gemms */
            if (r < 0) continue;
            (what == 0 ? tg : what == 1 ? th : tm)[r] = t;
            tr[nr++] = t_ref;
            tl[what][r] = t_list;
        }
    out.grad = bench_median(tg, reps), out.hvp = bench_median(th, reps);
    out.multi = k ? bench_median(tm, reps) : 0, out.gemm = bench_median(tr, nr);
    for (int what = 0; shapes && what < 3; what++) {
        if (what == 2 && k == 0) continue;
        out.replay[what] = bench_median(tl[what], reps);
        list_free(&lists[what]);
    }
    free(A), free(B), free(C);
    hb_tensor_free(v), hb_tensor_free(o), hb_tensor_free(Vk), hb_tensor_free(Ok);
    hb_model_free(m), hb_model_config_free(cfg);
    hb_context_free(ctx);
    return out;
}

static void model_part(hb_dtype dt, const char *name, const gpt_size *g, const int *series,
                       int ns, int reps, int k, bool shapes) {
    /* dense flops (bench/bench_model.c's header) */
    double M = (double)(g->N * g->T), C = (double)g->C, F = 4 * C, T = (double)g->T;
    double lin = (double)g->L * (8 * M * C * C + 4 * M * C * F) + 2 * M * C * (double)g->V;
    double A = (double)g->L * 2 * (double)g->N * T * T * C;
    double f_grad = 3 * lin + 6 * A, f_shared = 2 * lin + 6 * A, f_dir = 6 * lin + 13 * A;
    double f_gemm = 2 * M * F * C;
    printf("gpt-%s %s through the library (vocab %lld, context %lld, width %lld, %lld heads, "
           "%lld layers, batch %lld), wall medians of %d\n",
           name, dt == HB_F64 ? "f64" : "f32", (long long)g->V, (long long)g->T, (long long)g->C,
           (long long)g->H, (long long)g->L, (long long)g->N, reps);
    printf("%8s %10s %7s %6s %10s %7s %6s", "threads", "grad ms", "x", "%gemm", "HVP ms", "x",
           "%gemm");
    if (k) printf(" %9s%-3d %7s %6s", "multi(", k, "x", "%gemm");
    printf(" %12s\n", "gemm GFLOP/s");
    model_times base = {0}, all[16];
    for (int i = 0; i < ns; i++) {
        model_times t = all[i] = time_model(dt, g, series[i], reps, k, shapes);
        if (i == 0) base = t;
        double gf = f_gemm / t.gemm;
        printf("%8d %10.1f %7.2f %6.0f %10.1f %7.2f %6.0f", series[i], t.grad * 1e3,
               base.grad / t.grad, 100 * f_grad / t.grad / gf, t.hvp * 1e3, base.hvp / t.hvp,
               100 * (f_shared + f_dir) / t.hvp / gf);
        if (k)
            printf(" %12.1f %7.2f %6.0f", t.multi * 1e3, base.multi / t.multi,
                   100 * (f_shared + k * f_dir) / t.multi / gf);
        printf(" %12.1f\n", gf * 1e-9);
        fflush(stdout);
    }
    if (!shapes) return;
    printf("the gemm reference at each product's own shapes (--shapes): one recorded call's ms "
           "in / outside BLIS, the replayed list's ms (median of %d), %%shape = replay / "
           "product median\n", reps);
    printf("%8s %8s %7s %10s %10s %10s %10s %7s\n", "threads", "product", "gemms", "rec ms",
           "in gemm", "outside", "replay ms", "%shape");
    static const char *what_name[3] = {"grad", "HVP", "multi"};
    for (int i = 0; i < ns; i++)
        for (int w = 0; w < 3; w++) {
            if (w == 2 && k == 0) continue;
            const model_times *t = &all[i];
            double prod = w == 0 ? t->grad : w == 1 ? t->hvp : t->multi;
            printf("%8d %8s %7zu %10.1f %10.1f %10.1f %10.1f %7.0f\n", series[i], what_name[w],
                   t->ngemm[w], t->rec[w] * 1e3, t->in_gemm[w] * 1e3,
                   (t->rec[w] - t->in_gemm[w]) * 1e3, t->replay[w] * 1e3,
                   100 * t->replay[w] / prod);
        }
}

int main(int argc, char **argv) {
    int P = 2, reps = 9, model = 1, gemm = 1, k = 0, series[16], ns = 0;
    bool per_shape = false;
    hb_dtype dt = HB_F64;
    gpt_size g = {65, 64, 128, 4, 2, 16};
    const char *name = "ref";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) P = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dtype") && i + 1 < argc)
            dt = !strcmp(argv[++i], "f32") ? HB_F32 : HB_F64;
        else if (!strcmp(argv[i], "--no-model")) model = 0;
        else if (!strcmp(argv[i], "--no-gemm")) gemm = 0;
        else if (!strcmp(argv[i], "--shapes")) per_shape = true;
        else if (!strcmp(argv[i], "--k") && i + 1 < argc) k = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) {
            name = argv[++i];
            if (!strcmp(name, "10m")) g = (gpt_size){65, 256, 384, 6, 6, 16};
            else if (strcmp(name, "ref")) return fprintf(stderr, "--model ref|10m\n"), 2;
        } else if (!strcmp(argv[i], "--series") && i + 1 < argc) {
            for (char *t = strtok(argv[++i], ","); t && ns < 16; t = strtok(NULL, ","))
                series[ns++] = atoi(t);
        } else {
            fprintf(stderr,
                    "usage: %s [--threads P] [--reps R] [--dtype f32|f64] [--no-model] "
                    "[--no-gemm] [--model ref|10m] [--series 1,2,4,...] [--k K] [--shapes]\n",
                    argv[0]);
            return 2;
        }
    }
    if (P < 2 || reps < 1 || reps > MAXR || k < 0) {
        fprintf(stderr, "need --threads >= 2, 1 <= reps <= %d, k >= 0\n", MAXR);
        return 2;
    }
    for (int i = 0; i < ns; i++)
        if (series[i] < 1) return fprintf(stderr, "--series: thread counts >= 1\n"), 2;
    if (!ns) series[ns++] = 1, series[ns++] = P;
    if (gemm) {
        static const int64_t shapes[][3] = {
            /* gpt-ref: attention per (sequence, head), then the linear layers */
            {64, 64, 32}, {64, 32, 64}, {128, 128, 64}, {256, 128, 128}, {1024, 65, 128},
            {1024, 128, 128}, {128, 128, 1024}, {1024, 512, 128}, {1024, 128, 512},
            {2048, 512, 512}};
        size_t nsh = sizeof shapes / sizeof shapes[0];
        size_t es = dt == HB_F64 ? 8 : 4, cap = 2048 * 512;
        void *A = calloc(cap, es), *B = calloc(cap, es), *C = calloc(cap, es);
        if (!A || !B || !C) return 1;
        hb_context *ctx = NULL;
        if (hb_context_create(&ctx) || hb_context_set_i64(ctx, HB_CTX_THREADS, P)) return 1;
        printf("BLIS %s gemm, one call, wall median of %d; threshold %.3g flops per thread\n",
               dt == HB_F64 ? "f64" : "f32", reps, HB__GEMM_FLOPS_PER_THREAD);
        printf("%6s %6s %6s %10s %12s %12s %10s %12s\n", "m", "n", "k", "MFLOP", "1 thread us",
               "P thread us", "t1/tP", "lib threads");
        for (size_t i = 0; i < nsh; i++) {
            int64_t m = shapes[i][0], n = shapes[i][1], kk = shapes[i][2];
            double t1 = time_gemm(dt, m, n, kk, 1, reps, A, B, C);
            double tp = time_gemm(dt, m, n, kk, P, reps, A, B, C);
            printf("%6lld %6lld %6lld %10.2f %12.1f %12.1f %10.2f %12d\n", (long long)m,
                   (long long)n, (long long)kk, 2e-6 * (double)m * (double)n * (double)kk,
                   t1 * 1e6, tp * 1e6, t1 / tp, hb__gemm_threads(ctx, m, n, kk));
        }
        printf("attention forward+backward of gpt-ref heads (T 64, d 32), the (sequence, head) "
               "loop on 1 and %d threads, wall median of %d; threshold %.3g flops per thread\n",
               P, reps, HB__ATTN_FLOPS_PER_THREAD);
        printf("%6s %10s %12s %12s %10s %12s\n", "items", "MFLOP", "1 thread us", "P thread us",
               "t1/tP", "lib (bwd)");
        static const size_t items[] = {1, 2, 4, 8, 16, 64};
        for (size_t i = 0; i < sizeof items / sizeof *items; i++) {
            double t1 = time_attention(dt, items[i], 64, 32, 1, reps);
            double tp = time_attention(dt, items[i], 64, 32, P, reps);
            double work = 6.0 * 2.0 * 64 * 64 * 32 * (double)items[i]; /* fwd 2 + bwd 4 units */
            printf("%6zu %10.2f %12.1f %12.1f %10.2f %12d\n", items[i], work * 1e-6, t1 * 1e6,
                   tp * 1e6, t1 / tp,
                   hb__team(P, items[i], 4.0 * 2.0 * 64 * 64 * 32 * (double)items[i],
                            HB__ATTN_FLOPS_PER_THREAD));
        }
        printf("GELU forward (tanh), n elements on 1 and %d threads, wall median of %d; "
               "threshold %.0f elements per thread\n", P, reps, HB__ELTWISE_PER_THREAD);
        printf("%9s %12s %12s %10s %12s\n", "n", "1 thread us", "P thread us", "t1/tP",
               "lib threads");
        static const size_t ns_[] = {8192, 32768, 65536, 131072, 524288, 2097152};
        for (size_t i = 0; i < sizeof ns_ / sizeof *ns_; i++) {
            double t1 = time_gelu(dt, ns_[i], 1, reps), tp = time_gelu(dt, ns_[i], P, reps);
            printf("%9zu %12.1f %12.1f %10.2f %12d\n", ns_[i], t1 * 1e6, tp * 1e6, t1 / tp,
                   hb__team(P, ns_[i], (double)ns_[i], HB__ELTWISE_PER_THREAD));
        }
        hb_context_free(ctx);
        free(A), free(B), free(C);
    }
    if (model) model_part(dt, name, &g, series, ns, reps, k, per_shape);
    return 0;
}
