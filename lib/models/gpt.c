/* Built-in model 'gpt': a decoder-only transformer (GPT-2 / nanoGPT shape) with exact
 * gradients and exact Hessian-vector products by Pearlmutter's R-operator.
 *
 *   x₀ = wte[idx] + wpe[t]                                   (M = N·T rows, width C)
 *   for each block i:  x ← x + attn(LN₁(x)),  x ← x + mlp(LN₂(x))    (pre-LN)
 *     attn(a) = (causal softmax(q kᵀ/√d) v per head)·woᵀ + bo,  q = a·wqᵀ + bq, …
 *     mlp(b)  = gelu(b·c_fcᵀ + b_fc)·c_projᵀ + b_proj
 *   z = LN_f(x)·lm_headᵀ  (untied, no bias),   L = mean over the M positions of −log softmax(z)[target]
 *
 * H·v: one θ forward, one θ backward (activation gradients only — the weight gradients
 * are not needed), then for the k directions an R-forward and an R-backward whose
 * activations hold the k directions interleaved per row ((M, k, ·), see nn/dense.h), so
 * every product is one wide gemm. block_hvp starts the R-forward at the block's op
 * (everything before has zero directional derivative) and stops the θ backward and the
 * R-backward there (nothing before contributes to the block's rows of H·v).
 * Stages: 0 = embeddings, 1 … L = transformer blocks, L+1 = ln_f and lm_head; ops within
 * a stage: see OP_* below. */
#include <math.h>
#include <stdio.h>
#include <string.h>


#include "kernels/kernels.h"
#include "model/model_internal.h"
#include "models/builtins.h"
#include "nn/attention.h"
#include "nn/dense.h"
#include "nn/embedding.h"
#include "nn/gelu.h"
#include "nn/layernorm.h"
#include "nn/linear.h"
#include "nn/softmax_xent.h"
#include "nn/xent.h"

/* Parameter blocks of transformer block i, in layout order (index 2 + 16·i + p). */
enum {
    P_LN1_W, P_LN1_B, P_WQ, P_BQ, P_WK, P_BK, P_WV, P_BV, P_WO, P_BO,
    P_LN2_W, P_LN2_B, P_FC, P_BFC, P_PROJ, P_BPROJ, P_PER_LAYER
};
enum { B_WTE = 0, B_WPE = 1 };

/* Synthetic data: grammar constants (docs/models.md "## gpt"). */
#define GRAMMAR_STREAM 0x4750545F47524D52ull /* "GPT_GRMR", top bit clear */
#define SUCCESSORS 4                         /* successors per token */
#define COPY_LAG 8                           /* the copy rule looks this far back */
#define COPY_PROB 0.125                      /* probability of the copy rule */

/* Elements of the R-workspace allowed per chunk of directions (512 MiB in f64): on gpt-ref
 * k = 10 runs as 5 + 5 directions (measurements for 4+4+2, 5+5 and 10 in
 * docs/performance.md). */
#define R_BUDGET ((size_t)1 << 26)

typedef struct gpt {
    size_t V, T, C, H, L, F;
    size_t n_blocks;
    uint64_t grammar_seed;
    void *ws_mem;    /* workspace kept between calls (grow-only): no page faults per call */
    size_t ws_cap;
    const char **vp; /* per call: direction 0 of each block's part of V, or NULL */
    char **op;       /* per call: direction 0 of each block's part of OUT, or NULL */
    size_t max_chunk; /* tests only (hb__gpt_set_max_chunk): cap on directions per R chunk */
} gpt;

static size_t lb(const gpt *g, size_t layer, int p) {
    (void)g;
    return 2 + layer * P_PER_LAYER + (size_t)p;
}
static size_t b_lnf_w(const gpt *g) { return 2 + g->L * P_PER_LAYER; }
static size_t b_lnf_b(const gpt *g) { return b_lnf_w(g) + 1; }
static size_t b_head(const gpt *g) { return b_lnf_w(g) + 2; }

/* Stage of a block: 0 embeddings, 1 + i for transformer block i, L + 1 for ln_f / lm_head. */
static size_t stage_of(const gpt *g, size_t b) {
    if (b < 2) return 0;
    if (b < b_lnf_w(g)) return 1 + (b - 2) / P_PER_LAYER;
    return g->L + 1;
}

/* ---- workspace: one allocation per call, carved by a two-pass bump allocator ---- */

typedef struct arena {
    char *base;
    size_t used;
} arena;

static void *take(arena *a, size_t bytes) {
    size_t off = (a->used + 63) & ~(size_t)63;
    a->used = off + bytes;
    return a->base ? a->base + off : NULL;
}

typedef struct layer_acts { /* θ side, one transformer block */
    char *xin, *a, *mu1, *rs1, *q, *k, *v, *P, *y, *xmid, *b, *mu2, *rs2, *f, *g, *d1, *d2; /* d1, d2: gelu', gelu'' at f */
    /* gradients of the loss w.r.t. the outputs of each op (θ backward) */
    char *g_g, *g_f, *g_b, *g_xmid, *g_y, *g_q, *g_k, *g_v, *g_a;
} layer_acts;

typedef struct layer_racts { /* R side, one transformer block, (M, nd, ·) */
    char *Rxin, *Ra, *Rq, *Rk, *Rv, *RP, *Ry, *Rxmid, *Rb, *Rf, *Rg;
} layer_racts;

typedef struct ws {
    size_t N, M, nd, es;
    layer_acts *la;
    char **gres;               /* L + 1: gradient w.r.t. the residual stream entering block i */
    char *xL, *muf, *rsf, *xf, *z, *p, *g_xf, *gz, *att_scratch;
    layer_racts *lr;
    char *RxL, *Rxf, *Rz, *Rgres, *Rg_g, *Rg_f, *Rg_b, *Rg_xmid, *Rg_y, *Rg_q, *Rg_k, *Rg_v,
        *Rg_a, *Rgxf, *dense_scratch, *Ratt_scratch;
} ws;

/* Carve the workspace for N sequences and nd directions (nd = 0: θ side only). */
static void layout(const gpt *g, arena *A, ws *w, size_t N, size_t nd, size_t es) {
    size_t T = g->T, C = g->C, F = g->F, L = g->L, V = g->V, M = N * T, H = g->H;
    w->N = N;
    w->M = M;
    w->nd = nd;
    w->es = es;
    w->la = take(A, L * sizeof(layer_acts));
    w->gres = take(A, (L + 1) * sizeof(char *));
    w->lr = nd ? take(A, L * sizeof(layer_racts)) : NULL;
    size_t MC = M * C * es, MF = M * F * es, Ms = M * es, PP = N * H * T * T * es;
    for (size_t l = 0; l < L; l++) {
        layer_acts t;
        t.xin = take(A, MC);
        t.a = take(A, MC);
        t.mu1 = take(A, Ms);
        t.rs1 = take(A, Ms);
        t.q = take(A, MC);
        t.k = take(A, MC);
        t.v = take(A, MC);
        t.P = take(A, PP);
        t.y = take(A, MC);
        t.xmid = take(A, MC);
        t.b = take(A, MC);
        t.mu2 = take(A, Ms);
        t.rs2 = take(A, Ms);
        t.f = take(A, MF);
        t.g = take(A, MF);
        t.d1 = take(A, MF);
        t.d2 = take(A, MF);
        t.g_g = take(A, MF);
        t.g_f = take(A, MF);
        t.g_b = take(A, MC);
        t.g_xmid = take(A, MC);
        t.g_y = take(A, MC);
        t.g_q = take(A, MC);
        t.g_k = take(A, MC);
        t.g_v = take(A, MC);
        t.g_a = take(A, MC);
        if (w->la) w->la[l] = t;
    }
    for (size_t l = 0; l <= L; l++) {
        char *p = take(A, MC);
        if (w->gres) w->gres[l] = p;
    }
    w->xL = take(A, MC);
    w->muf = take(A, Ms);
    w->rsf = take(A, Ms);
    w->xf = take(A, MC);
    w->z = take(A, M * V * es);
    w->p = take(A, M * V * es);
    w->g_xf = take(A, MC);
    w->gz = take(A, M * V * es);
    hb__attn_shape sh = {N, T, C, H};
    w->att_scratch = take(A, hb__attention_scratch(&sh, 1) * es);
    if (!nd) return;
    for (size_t l = 0; l < L; l++) {
        layer_racts r;
        r.Rxin = take(A, nd * MC);
        r.Ra = take(A, nd * MC);
        r.Rq = take(A, nd * MC);
        r.Rk = take(A, nd * MC);
        r.Rv = take(A, nd * MC);
        r.RP = take(A, nd * PP);
        r.Ry = take(A, nd * MC);
        r.Rxmid = take(A, nd * MC);
        r.Rb = take(A, nd * MC);
        r.Rf = take(A, nd * MF);
        r.Rg = take(A, nd * MF);
        if (w->lr) w->lr[l] = r;
    }
    w->RxL = take(A, nd * MC);
    w->Rxf = take(A, nd * MC);
    w->Rz = take(A, nd * M * V * es);
    w->Rgres = take(A, nd * MC);
    w->Rg_g = take(A, nd * MF);
    w->Rg_f = take(A, nd * MF);
    w->Rg_b = take(A, nd * MC);
    w->Rg_xmid = take(A, nd * MC);
    w->Rg_y = take(A, nd * MC);
    w->Rg_q = take(A, nd * MC);
    w->Rg_k = take(A, nd * MC);
    w->Rg_v = take(A, nd * MC);
    w->Rg_a = take(A, nd * MC);
    w->Rgxf = take(A, nd * MC);
    size_t ds = hb__dense_scratch(C, F, nd);
    if (hb__dense_scratch(C, V, nd) > ds) ds = hb__dense_scratch(C, V, nd);
    w->dense_scratch = take(A, ds * es);
    w->Ratt_scratch = take(A, hb__attention_scratch(&sh, nd) * es);
}

static size_t ws_bytes(const gpt *g, size_t N, size_t nd, size_t es) {
    arena A = {NULL, 0};
    ws w;
    memset(&w, 0, sizeof w);
    layout(g, &A, &w, N, nd, es);
    return A.used + 64;
}

/* Guard against size_t overflow in the layout arithmetic: every array is at most the
 * largest of these (times nd), and there are fewer than 64 per layer plus 64 more. */
static int ws_check(hb_model *m, size_t N, size_t nd) {
    const gpt *g = m->impl;
    double M = (double)N * (double)g->T, k = nd ? (double)nd : 1.0;
    double big = fmax(fmax(M * (double)g->F, M * (double)g->V),
                      fmax((double)N * (double)g->H * (double)g->T * (double)g->T,
                           2.0 * (double)g->F * (double)fmax((double)g->C, (double)g->V)));
    double bytes = big * (k + 1) * 8.0 * 64.0 * ((double)g->L + 1);
    HB_CHECK(m->ctx, bytes < 0x1p62, HB_EOVERFLOW,
             "gpt workspace for %zu sequences and %zu directions is too large", N, nd);
    return HB_OK;
}

static int ws_create(hb_model *m, size_t N, size_t nd, ws *w) {
    gpt *g = m->impl;
    size_t es = hb_dtype_size(m->compute);
    HB_TRY(ws_check(m, N, nd));
    size_t bytes = ws_bytes(g, N, nd, es);
    if (bytes > g->ws_cap) {
        hb__free(m->ctx, g->ws_mem);
        g->ws_cap = 0;
        g->ws_mem = hb__malloc(m->ctx, bytes, "gpt workspace");
        if (!g->ws_mem) return HB_ENOMEM;
        g->ws_cap = bytes;
    }
    arena A = {(char *)(((uintptr_t)g->ws_mem + 63) & ~(uintptr_t)63), 0};
    memset(w, 0, sizeof *w);
    layout(g, &A, w, N, nd, es);
    return HB_OK;
}

/* Tests only: cap the directions per R chunk of this gpt model (0 = no cap), so the chunk
 * loop can be exercised on tiny models. Per model, so concurrent models are unaffected.
 * Declared where the tests see it (model_internal.h); not part of any API. */
int hb__gpt_set_max_chunk(hb_model *m, size_t max_chunk) {
    if (!m || !m->vt || strcmp(m->vt->name, "gpt") != 0) return HB_EINVAL;
    ((gpt *)m->impl)->max_chunk = max_chunk;
    return HB_OK;
}

/* Directions per R chunk: as many as fit the budget, balanced over the chunks. */
static size_t chunk_size(const gpt *g, size_t N, size_t k) {
    size_t per = (ws_bytes(g, N, 2, 1) - ws_bytes(g, N, 1, 1)); /* bytes per direction at es = 1 */
    size_t fit = per ? R_BUDGET / per : k;
    if (g->max_chunk && fit > g->max_chunk) fit = g->max_chunk;
    if (fit < 1) fit = 1;
    if (fit >= k) return k;
    size_t chunks = (k + fit - 1) / fit;
    return (k + chunks - 1) / chunks;
}

/* ---- passes ---- */

#define PTR(base, b) ((const char *)(base) + m->params->blocks[b].offset * es)
#define GPTR(base, b) ((base) ? (char *)(base) + m->params->blocks[b].offset * es : NULL)

/* Residual add y += x over n elements. */
static int add_to(hb_model *m, size_t n, const void *x, void *y) {
    return hb__axpy(m->ctx, m->compute, (int64_t)n, 1.0, x, 1, y, 1);
}

static int forward(hb_model *m, ws *w, const int32_t *idx, const int32_t *tgt, double *loss,
                   size_t *correct) {
    const gpt *g = m->impl;
    hb_context *ctx = m->ctx;
    hb_dtype dt = m->compute;
    size_t es = w->es, M = w->M, C = g->C, F = g->F, V = g->V;
    const void *th = hb__model_theta(m);
    hb__attn_shape sh = {w->N, g->T, C, g->H};
    char *x = g->L ? w->la[0].xin : w->xL;
    HB_TRY(hb__embedding_forward(ctx, dt, w->N, g->T, C, idx, PTR(th, B_WTE), PTR(th, B_WPE), x));
    for (size_t l = 0; l < g->L; l++) {
        layer_acts *t = &w->la[l];
        char *xout = l + 1 < g->L ? w->la[l + 1].xin : w->xL;
        HB_TRY(hb__layernorm_forward(ctx, dt, M, C, HB__LN_EPS, t->xin, PTR(th, lb(g, l, P_LN1_W)),
                                     PTR(th, lb(g, l, P_LN1_B)), t->a, t->mu1, t->rs1));
        HB_TRY(hb__linear_forward(ctx, dt, (int64_t)M, (int64_t)C, (int64_t)C, t->a, PTR(th, lb(g, l, P_WQ)), PTR(th, lb(g, l, P_BQ)), t->q));
        HB_TRY(hb__linear_forward(ctx, dt, (int64_t)M, (int64_t)C, (int64_t)C, t->a, PTR(th, lb(g, l, P_WK)), PTR(th, lb(g, l, P_BK)), t->k));
        HB_TRY(hb__linear_forward(ctx, dt, (int64_t)M, (int64_t)C, (int64_t)C, t->a, PTR(th, lb(g, l, P_WV)), PTR(th, lb(g, l, P_BV)), t->v));
        HB_TRY(hb__attention_forward(ctx, dt, &sh, t->q, t->k, t->v, t->P, t->y));
        HB_TRY(hb__linear_forward(ctx, dt, (int64_t)M, (int64_t)C, (int64_t)C, t->y, PTR(th, lb(g, l, P_WO)), PTR(th, lb(g, l, P_BO)), t->xmid));
        HB_TRY(add_to(m, M * C, t->xin, t->xmid));
        HB_TRY(hb__layernorm_forward(ctx, dt, M, C, HB__LN_EPS, t->xmid, PTR(th, lb(g, l, P_LN2_W)),
                                     PTR(th, lb(g, l, P_LN2_B)), t->b, t->mu2, t->rs2));
        HB_TRY(hb__linear_forward(ctx, dt, (int64_t)M, (int64_t)C, (int64_t)F, t->b, PTR(th, lb(g, l, P_FC)), PTR(th, lb(g, l, P_BFC)), t->f));
        HB_TRY(hb__gelu_forward(ctx, dt, M * F, t->f, t->g, t->d1, t->d2));
        HB_TRY(hb__linear_forward(ctx, dt, (int64_t)M, (int64_t)F, (int64_t)C, t->g, PTR(th, lb(g, l, P_PROJ)), PTR(th, lb(g, l, P_BPROJ)), xout));
        HB_TRY(add_to(m, M * C, t->xmid, xout));
    }
    HB_TRY(hb__layernorm_forward(ctx, dt, M, C, HB__LN_EPS, w->xL, PTR(th, b_lnf_w(g)), PTR(th, b_lnf_b(g)),
                                 w->xf, w->muf, w->rsf));
    HB_TRY(hb__linear_forward(ctx, dt, (int64_t)M, (int64_t)C, (int64_t)V, w->xf, PTR(th, b_head(g)), NULL, w->z));
    double l = 0;
    HB_TRY(hb__xent_forward(ctx, dt, (int64_t)M, (int64_t)V, w->z, tgt, w->p, &l));
    if (correct) HB_TRY(hb__xent_correct(ctx, dt, (int64_t)M, (int64_t)V, w->z, tgt, correct));
    if (loss) *loss = l;
    return HB_OK;
}

/* Ops of a transformer block in forward order; a block_hvp starts its R-pass at the op of
 * its block (everything before has zero directional derivative) and stops its backward
 * passes there. The final stage has two: 0 = ln_f, 1 = lm_head. */
enum { OP_LN1 = 0, OP_QKV = 1, OP_ATTN = 2, OP_WO = 3, OP_LN2 = 4, OP_FC = 5, OP_GELU = 6, OP_PROJ = 7 };

static int op_of(const gpt *g, size_t b) {
    if (b < 2) return 0;
    if (b >= b_lnf_w(g)) return b == b_head(g) ? 1 : 0;
    static const int map[P_PER_LAYER] = {OP_LN1, OP_LN1, OP_QKV, OP_QKV, OP_QKV, OP_QKV, OP_QKV,
                                         OP_QKV, OP_WO,  OP_WO,  OP_LN2, OP_LN2, OP_FC,  OP_FC,
                                         OP_PROJ, OP_PROJ};
    return map[(b - 2) % P_PER_LAYER];
}

/* θ backward down to op `sop` of stage `stop` (exclusive: the ops after it produce the
 * output gradient of every op the R-backward will visit); weight gradients into grad
 * when non-NULL (which requires stop = 0). Needs forward() first (w->p holds the
 * probabilities). Full backward: stop = 0, sop = 0. */
static int backward(hb_model *m, ws *w, const int32_t *idx, const int32_t *tgt, double scale,
                    void *grad, size_t stop, int sop) {
    const gpt *g = m->impl;
    hb_context *ctx = m->ctx;
    hb_dtype dt = m->compute;
    size_t es = w->es, M = w->M, C = g->C, F = g->F, V = g->V, MC = M * C * es, L = g->L;
    int64_t iM = (int64_t)M, iC = (int64_t)C, iF = (int64_t)F, iV = (int64_t)V;
    const void *th = hb__model_theta(m);
    hb__attn_shape sh = {w->N, g->T, C, g->H};
    memset(w->gz, 0, M * V * es);
    HB_TRY(hb__xent_backward(ctx, dt, iM, iV, w->p, tgt, scale, w->gz));
    if (stop <= L || sop == 0) {
        memset(w->g_xf, 0, MC);
        HB_TRY(hb__linear_backward(ctx, dt, iM, iC, iV, w->xf, PTR(th, b_head(g)), w->gz, w->g_xf,
                                   GPTR(grad, b_head(g)), NULL));
    }
    if (stop <= L) {
        memset(w->gres[L], 0, MC);
        HB_TRY(hb__layernorm_backward(ctx, dt, M, C, w->xL, PTR(th, b_lnf_w(g)), w->muf, w->rsf,
                                      w->g_xf, w->gres[L], GPTR(grad, b_lnf_w(g)),
                                      GPTR(grad, b_lnf_b(g))));
    }
    for (size_t l = L; l-- > 0;) {
        if (l + 1 < stop) break;
        int lim = l + 1 == stop ? sop : -1; /* run the ops after lim */
        layer_acts *t = &w->la[l];
        const char *gout = w->gres[l + 1];
        if (OP_PROJ > lim) {
            memset(t->g_g, 0, M * F * es);
            HB_TRY(hb__linear_backward(ctx, dt, iM, iF, iC, t->g, PTR(th, lb(g, l, P_PROJ)), gout,
                                       t->g_g, GPTR(grad, lb(g, l, P_PROJ)),
                                       GPTR(grad, lb(g, l, P_BPROJ))));
        }
        if (OP_GELU > lim) HB_TRY(hb__gelu_backward(ctx, dt, M * F, t->d1, t->g_g, t->g_f));
        if (OP_FC > lim) {
            memset(t->g_b, 0, MC);
            HB_TRY(hb__linear_backward(ctx, dt, iM, iC, iF, t->b, PTR(th, lb(g, l, P_FC)), t->g_f,
                                       t->g_b, GPTR(grad, lb(g, l, P_FC)), GPTR(grad, lb(g, l, P_BFC))));
        }
        if (OP_LN2 > lim) {
            memcpy(t->g_xmid, gout, MC);
            HB_TRY(hb__layernorm_backward(ctx, dt, M, C, t->xmid, PTR(th, lb(g, l, P_LN2_W)), t->mu2,
                                          t->rs2, t->g_b, t->g_xmid, GPTR(grad, lb(g, l, P_LN2_W)),
                                          GPTR(grad, lb(g, l, P_LN2_B))));
        }
        if (OP_WO > lim) {
            memset(t->g_y, 0, MC);
            HB_TRY(hb__linear_backward(ctx, dt, iM, iC, iC, t->y, PTR(th, lb(g, l, P_WO)), t->g_xmid,
                                       t->g_y, GPTR(grad, lb(g, l, P_WO)), GPTR(grad, lb(g, l, P_BO))));
        }
        if (OP_ATTN > lim)
            HB_TRY(hb__attention_backward(ctx, dt, &sh, t->q, t->k, t->v, t->P, t->g_y, t->g_q,
                                          t->g_k, t->g_v, w->att_scratch));
        if (OP_QKV > lim) {
            memset(t->g_a, 0, MC);
            HB_TRY(hb__linear_backward(ctx, dt, iM, iC, iC, t->a, PTR(th, lb(g, l, P_WQ)), t->g_q,
                                       t->g_a, GPTR(grad, lb(g, l, P_WQ)), GPTR(grad, lb(g, l, P_BQ))));
            HB_TRY(hb__linear_backward(ctx, dt, iM, iC, iC, t->a, PTR(th, lb(g, l, P_WK)), t->g_k,
                                       t->g_a, GPTR(grad, lb(g, l, P_WK)), GPTR(grad, lb(g, l, P_BK))));
            HB_TRY(hb__linear_backward(ctx, dt, iM, iC, iC, t->a, PTR(th, lb(g, l, P_WV)), t->g_v,
                                       t->g_a, GPTR(grad, lb(g, l, P_WV)), GPTR(grad, lb(g, l, P_BV))));
        }
        if (OP_LN1 > lim) {
            memcpy(w->gres[l], t->g_xmid, MC);
            HB_TRY(hb__layernorm_backward(ctx, dt, M, C, t->xin, PTR(th, lb(g, l, P_LN1_W)), t->mu1,
                                          t->rs1, t->g_a, w->gres[l], GPTR(grad, lb(g, l, P_LN1_W)),
                                          GPTR(grad, lb(g, l, P_LN1_B))));
        }
    }
    if (grad)
        HB_TRY(hb__embedding_backward(ctx, dt, w->N, g->T, C, idx, w->gres[0], GPTR(grad, B_WTE),
                                      GPTR(grad, B_WPE)));
    return HB_OK;
}

/* R-forward and R-backward for w->nd directions given by g->vp (ldv) into g->op (ldo),
 * starting and stopping at op `sop` of stage s (NULL R-activations are zero). Needs
 * forward() and backward(…, s, sop) first. Full HVP: s = 0, sop = 0. */
static int rpass(hb_model *m, ws *w, const int32_t *idx, double scale, size_t s, int sop,
                 size_t ldv, size_t ldo) {
    const gpt *g = m->impl;
    hb_context *ctx = m->ctx;
    hb_dtype dt = m->compute;
    size_t es = w->es, M = w->M, C = g->C, F = g->F, V = g->V, nd = w->nd, L = g->L;
    size_t RMC = nd * M * C * es;
    const void *th = hb__model_theta(m);
    const char **vp = g->vp;
    char **op = g->op;
    hb__attn_shape sh = {w->N, g->T, C, g->H};
    char *ds = w->dense_scratch;
#define W_(b) PTR(th, b)
#define VP(b) vp[b]
#define OP(b) op[b]
    /* ---- R-forward ---- */
    if (s == 0)
        HB_TRY(hb__embedding_rforward(ctx, dt, w->N, g->T, C, nd, idx, VP(B_WTE), VP(B_WPE), ldv,
                                      w->lr[0].Rxin));
    for (size_t l = 0; l < L; l++) {
        if (l + 1 < s) continue;
        int lo = l + 1 == s ? sop : 0; /* first op with a nonzero directional derivative */
        layer_acts *t = &w->la[l];
        layer_racts *r = &w->lr[l];
        const char *Rxin = l + 1 == s ? NULL : r->Rxin; /* zero below the start stage */
        char *Ra = lo <= OP_LN1 ? r->Ra : NULL, *Rq = lo <= OP_QKV ? r->Rq : NULL;
        char *Ry = lo <= OP_QKV ? r->Ry : NULL, *Rxmid = lo <= OP_WO ? r->Rxmid : NULL;
        char *Rb = lo <= OP_LN2 ? r->Rb : NULL, *Rf = lo <= OP_FC ? r->Rf : NULL;
        char *Rg = lo <= OP_FC ? r->Rg : NULL;
        char *Rxout = l + 1 < L ? w->lr[l + 1].Rxin : w->RxL;
        if (Ra)
            HB_TRY(hb__layernorm_rforward(ctx, dt, M, C, nd, t->xin, W_(lb(g, l, P_LN1_W)), t->mu1,
                                          t->rs1, Rxin, VP(lb(g, l, P_LN1_W)), VP(lb(g, l, P_LN1_B)),
                                          ldv, Ra));
        if (Rq) {
            HB_TRY(hb__dense_rforward(ctx, dt, M, C, C, nd, t->a, W_(lb(g, l, P_WQ)), Ra,
                                      VP(lb(g, l, P_WQ)), VP(lb(g, l, P_BQ)), ldv, r->Rq, ds));
            HB_TRY(hb__dense_rforward(ctx, dt, M, C, C, nd, t->a, W_(lb(g, l, P_WK)), Ra,
                                      VP(lb(g, l, P_WK)), VP(lb(g, l, P_BK)), ldv, r->Rk, ds));
            HB_TRY(hb__dense_rforward(ctx, dt, M, C, C, nd, t->a, W_(lb(g, l, P_WV)), Ra,
                                      VP(lb(g, l, P_WV)), VP(lb(g, l, P_BV)), ldv, r->Rv, ds));
            HB_TRY(hb__attention_rforward(ctx, dt, &sh, nd, t->q, t->k, t->v, t->P, r->Rq, r->Rk,
                                          r->Rv, r->RP, r->Ry));
        }
        if (Rxmid) {
            HB_TRY(hb__dense_rforward(ctx, dt, M, C, C, nd, t->y, W_(lb(g, l, P_WO)), Ry,
                                      VP(lb(g, l, P_WO)), VP(lb(g, l, P_BO)), ldv, Rxmid, ds));
            if (Rxin) HB_TRY(add_to(m, nd * M * C, Rxin, Rxmid));
        }
        if (Rb)
            HB_TRY(hb__layernorm_rforward(ctx, dt, M, C, nd, t->xmid, W_(lb(g, l, P_LN2_W)), t->mu2,
                                          t->rs2, Rxmid, VP(lb(g, l, P_LN2_W)),
                                          VP(lb(g, l, P_LN2_B)), ldv, Rb));
        if (Rf) {
            HB_TRY(hb__dense_rforward(ctx, dt, M, C, F, nd, t->b, W_(lb(g, l, P_FC)), Rb,
                                      VP(lb(g, l, P_FC)), VP(lb(g, l, P_BFC)), ldv, Rf, ds));
            HB_TRY(hb__gelu_rforward(ctx, dt, M, nd, F, t->d1, Rf, Rg));
        }
        HB_TRY(hb__dense_rforward(ctx, dt, M, F, C, nd, t->g, W_(lb(g, l, P_PROJ)), Rg,
                                  VP(lb(g, l, P_PROJ)), VP(lb(g, l, P_BPROJ)), ldv, Rxout, ds));
        if (Rxmid) HB_TRY(add_to(m, nd * M * C, Rxmid, Rxout));
    }
    bool full_final = s <= L || sop == 0;      /* ln_f's R-passes needed */
    const char *RxL = s <= L ? w->RxL : NULL;
    const char *Rxf = full_final ? w->Rxf : NULL;
    if (Rxf)
        HB_TRY(hb__layernorm_rforward(ctx, dt, M, C, nd, w->xL, W_(b_lnf_w(g)), w->muf, w->rsf, RxL,
                                      VP(b_lnf_w(g)), VP(b_lnf_b(g)), ldv, w->Rxf));
    HB_TRY(hb__dense_rforward(ctx, dt, M, C, V, nd, w->xf, W_(b_head(g)), Rxf, VP(b_head(g)),
                              NULL, ldv, w->Rz, ds));
    /* ---- R-backward ---- */
    HB_TRY(hb__sxent_rbackward(ctx, dt, M, V, nd, w->p, w->Rz, scale, w->Rz));
    if (full_final) memset(w->Rgxf, 0, RMC);
    HB_TRY(hb__dense_rbackward(ctx, dt, M, C, V, nd, w->xf, W_(b_head(g)), w->gz, Rxf,
                               VP(b_head(g)), ldv, w->Rz, full_final ? w->Rgxf : NULL,
                               OP(b_head(g)), NULL, ldo, ds));
    if (full_final) {
        if (s <= L) memset(w->Rgres, 0, RMC);
        HB_TRY(hb__layernorm_rbackward(ctx, dt, M, C, nd, w->xL, W_(b_lnf_w(g)), w->muf, w->rsf,
                                       w->g_xf, RxL, VP(b_lnf_w(g)), ldv, w->Rgxf,
                                       s <= L ? w->Rgres : NULL, OP(b_lnf_w(g)), OP(b_lnf_b(g)), ldo));
    }
    for (size_t l = L; l-- > 0;) {
        if (l + 1 < s) break;
        int lo = l + 1 == s ? sop : 0;
        layer_acts *t = &w->la[l];
        layer_racts *r = &w->lr[l];
        const char *Rxin = l + 1 == s ? NULL : r->Rxin;
        const char *Ra = lo <= OP_LN1 ? r->Ra : NULL, *Ry = lo <= OP_QKV ? r->Ry : NULL;
        const char *Rxmid = lo <= OP_WO ? r->Rxmid : NULL, *Rb = lo <= OP_LN2 ? r->Rb : NULL;
        const char *Rg = lo <= OP_FC ? r->Rg : NULL;
        const char *gout = w->gres[l + 1];
        bool below = l + 1 > s; /* does anything below this block need R(g) of its input? */
        if (lo <= OP_GELU) memset(w->Rg_g, 0, nd * M * F * es);
        HB_TRY(hb__dense_rbackward(ctx, dt, M, F, C, nd, t->g, W_(lb(g, l, P_PROJ)), gout, Rg,
                                   VP(lb(g, l, P_PROJ)), ldv, w->Rgres,
                                   lo <= OP_GELU ? w->Rg_g : NULL, OP(lb(g, l, P_PROJ)),
                                   OP(lb(g, l, P_BPROJ)), ldo, ds));
        if (lo <= OP_FC) {
            HB_TRY(hb__gelu_rbackward(ctx, dt, M, nd, F, t->d1, t->d2, t->g_g, r->Rf, w->Rg_g, w->Rg_f));
            if (lo <= OP_LN2) memset(w->Rg_b, 0, RMC);
            HB_TRY(hb__dense_rbackward(ctx, dt, M, C, F, nd, t->b, W_(lb(g, l, P_FC)), t->g_f, Rb,
                                       VP(lb(g, l, P_FC)), ldv, w->Rg_f,
                                       lo <= OP_LN2 ? w->Rg_b : NULL, OP(lb(g, l, P_FC)),
                                       OP(lb(g, l, P_BFC)), ldo, ds));
        }
        if (lo <= OP_LN2) {
            if (lo <= OP_WO) memcpy(w->Rg_xmid, w->Rgres, RMC);
            HB_TRY(hb__layernorm_rbackward(ctx, dt, M, C, nd, t->xmid, W_(lb(g, l, P_LN2_W)), t->mu2,
                                           t->rs2, t->g_b, Rxmid, VP(lb(g, l, P_LN2_W)), ldv,
                                           w->Rg_b, lo <= OP_WO ? w->Rg_xmid : NULL,
                                           OP(lb(g, l, P_LN2_W)), OP(lb(g, l, P_LN2_B)), ldo));
        }
        if (lo <= OP_WO) {
            if (lo <= OP_QKV) memset(w->Rg_y, 0, RMC);
            HB_TRY(hb__dense_rbackward(ctx, dt, M, C, C, nd, t->y, W_(lb(g, l, P_WO)), t->g_xmid, Ry,
                                       VP(lb(g, l, P_WO)), ldv, w->Rg_xmid,
                                       lo <= OP_QKV ? w->Rg_y : NULL, OP(lb(g, l, P_WO)),
                                       OP(lb(g, l, P_BO)), ldo, ds));
        }
        if (lo <= OP_QKV) {
            HB_TRY(hb__attention_rbackward(ctx, dt, &sh, nd, t->q, t->k, t->v, t->P, r->Rq, r->Rk,
                                           r->Rv, r->RP, t->g_y, w->Rg_y, w->Rg_q, w->Rg_k,
                                           w->Rg_v, w->Ratt_scratch));
            char *Rga = lo <= OP_LN1 ? w->Rg_a : NULL;
            if (Rga) memset(Rga, 0, RMC);
            HB_TRY(hb__dense_rbackward(ctx, dt, M, C, C, nd, t->a, W_(lb(g, l, P_WQ)), t->g_q, Ra,
                                       VP(lb(g, l, P_WQ)), ldv, w->Rg_q, Rga, OP(lb(g, l, P_WQ)),
                                       OP(lb(g, l, P_BQ)), ldo, ds));
            HB_TRY(hb__dense_rbackward(ctx, dt, M, C, C, nd, t->a, W_(lb(g, l, P_WK)), t->g_k, Ra,
                                       VP(lb(g, l, P_WK)), ldv, w->Rg_k, Rga, OP(lb(g, l, P_WK)),
                                       OP(lb(g, l, P_BK)), ldo, ds));
            HB_TRY(hb__dense_rbackward(ctx, dt, M, C, C, nd, t->a, W_(lb(g, l, P_WV)), t->g_v, Ra,
                                       VP(lb(g, l, P_WV)), ldv, w->Rg_v, Rga, OP(lb(g, l, P_WV)),
                                       OP(lb(g, l, P_BV)), ldo, ds));
        }
        if (lo <= OP_LN1) {
            if (below) memcpy(w->Rgres, w->Rg_xmid, RMC);
            HB_TRY(hb__layernorm_rbackward(ctx, dt, M, C, nd, t->xin, W_(lb(g, l, P_LN1_W)), t->mu1,
                                           t->rs1, t->g_a, Rxin, VP(lb(g, l, P_LN1_W)), ldv, w->Rg_a,
                                           below ? w->Rgres : NULL, OP(lb(g, l, P_LN1_W)),
                                           OP(lb(g, l, P_LN1_B)), ldo));
        }
    }
    if (s == 0)
        HB_TRY(hb__embedding_rbackward(ctx, dt, w->N, g->T, C, nd, idx, w->Rgres, OP(B_WTE),
                                       OP(B_WPE), ldo));
#undef W_
#undef VP
#undef OP
    return HB_OK;
}

/* ---- vtable ---- */

static int gpt_check_batch(hb_model *m, const hb_tensor *x, const hb_tensor *y, size_t *n) {
    const gpt *g = m->impl;
    hb_context *ctx = m->ctx;
    HB_CHECK(ctx, x->dtype == HB_I32 && y->dtype == HB_I32, HB_EDTYPE,
             "gpt inputs and targets must be i32 token ids (got dtypes %d, %d)", (int)x->dtype,
             (int)y->dtype);
    HB_CHECK(ctx, x->ndim == 2 && (size_t)x->shape[1] == g->T, HB_ESHAPE,
             "gpt inputs must be (N, %zu) token ids", g->T);
    HB_CHECK(ctx, y->ndim == 2 && y->shape[0] == x->shape[0] && y->shape[1] == x->shape[1],
             HB_ESHAPE, "gpt targets must have the inputs' shape (N, %zu)", g->T);
    const int32_t *xi = x->data, *yi = y->data;
    for (size_t i = 0; i < x->numel; i++) {
        HB_CHECK(ctx, xi[i] >= 0 && (size_t)xi[i] < g->V, HB_ERANGE,
                 "input token %d at position %zu is outside the vocabulary [0, %zu)", (int)xi[i], i,
                 g->V);
        HB_CHECK(ctx, yi[i] >= 0 && (size_t)yi[i] < g->V, HB_ERANGE,
                 "target token %d at position %zu is outside the vocabulary [0, %zu)", (int)yi[i], i,
                 g->V);
    }
    *n = (size_t)x->shape[0];
    return HB_OK;
}

static int gpt_loss_grad(hb_model *m, const hb__batch *b, double *loss, void *grad, double scale) {
    ws w;
    HB_TRY(ws_create(m, b->n_samples, 0, &w));
    const int32_t *idx = b->inputs->data, *tgt = b->targets->data;
    int rc = forward(m, &w, idx, tgt, loss, NULL);
    if (rc == HB_OK && grad) rc = backward(m, &w, idx, tgt, scale, grad, 0, 0);
    return rc;
}

/* Shared by hvp_multi and block_hvp: block = SIZE_MAX for all blocks (V, OUT are k×n);
 * otherwise V, OUT are k×numel(block). */
static int hvp_common(hb_model *m, const hb__batch *b, size_t block, size_t k, const void *V,
                      void *OUT, double scale) {
    gpt *g = m->impl;
    hb_params *p = m->params;
    size_t es = hb_dtype_size(m->compute);
    size_t s = block == SIZE_MAX ? 0 : stage_of(g, block);
    int sop = block == SIZE_MAX ? 0 : op_of(g, block);
    size_t ld = block == SIZE_MAX ? p->n : p->blocks[block].numel;
    HB_TRY(ws_check(m, b->n_samples, 2)); /* chunk_size sizes a 2-direction layout */
    size_t nd = chunk_size(g, b->n_samples, k);
    ws w;
    HB_TRY(ws_create(m, b->n_samples, nd, &w));
    const int32_t *idx = b->inputs->data, *tgt = b->targets->data;
    int rc = forward(m, &w, idx, tgt, NULL, NULL);
    if (rc == HB_OK) rc = backward(m, &w, idx, tgt, scale, NULL, s, sop);
    for (size_t j0 = 0; j0 < k && rc == HB_OK; j0 += nd) {
        w.nd = nd < k - j0 ? nd : k - j0;
        for (size_t i = 0; i < g->n_blocks; i++) {
            bool on = block == SIZE_MAX || block == i;
            size_t off = block == SIZE_MAX ? p->blocks[i].offset : 0;
            g->vp[i] = on ? (const char *)V + (j0 * ld + off) * es : NULL;
            g->op[i] = on ? (char *)OUT + (j0 * ld + off) * es : NULL;
        }
        rc = rpass(m, &w, idx, scale, s, sop, ld, ld);
    }
    return rc;
}

static int gpt_hvp_multi(hb_model *m, const hb__batch *b, size_t k, const void *V, void *OUT,
                         double scale) {
    return hvp_common(m, b, SIZE_MAX, k, V, OUT, scale);
}

static int gpt_block_hvp(hb_model *m, const hb__batch *b, size_t block, size_t k,
                         const void *V_b, void *OUT_b, double scale) {
    return hvp_common(m, b, block, k, V_b, OUT_b, scale);
}

static int gpt_accuracy(hb_model *m, const hb__batch *b, size_t *correct, size_t *total) {
    ws w;
    HB_TRY(ws_create(m, b->n_samples, 0, &w));
    *correct = 0;
    int rc = forward(m, &w, b->inputs->data, b->targets->data, NULL, correct);
    *total = w.M;
    return rc;
}

/* Token t+1 of synthetic sequence `sample` given the tokens so far (docs/models.md). */
static int32_t next_token(const gpt *g, uint64_t seed, uint64_t stream, uint64_t sample,
                          size_t t, const int32_t *seq) {
    uint64_t ctr = (sample * (uint64_t)(g->T + 1) + t) * 2;
    double u1 = hb__uniform01(seed, stream, ctr), u2 = hb__uniform01(seed, stream, ctr + 1);
    if (t == 0) return (int32_t)(u1 * (double)g->V);
    if (t >= COPY_LAG && u1 < COPY_PROB) return seq[t - COPY_LAG];
    /* successor i of token a has weight 1/(i+1) */
    double total = 0;
    for (int i = 0; i < SUCCESSORS; i++) total += 1.0 / (i + 1);
    double acc = 0, target = u2 * total;
    int pick = SUCCESSORS - 1;
    for (int i = 0; i < SUCCESSORS; i++) {
        acc += 1.0 / (i + 1);
        if (target < acc) {
            pick = i;
            break;
        }
    }
    uint64_t a = (uint64_t)seq[t - 1];
    double us = hb__uniform01(g->grammar_seed, GRAMMAR_STREAM, a * SUCCESSORS + (uint64_t)pick);
    return (int32_t)(us * (double)g->V);
}

static int gpt_synthetic(hb_model *m, size_t n, uint64_t stream, uint64_t first,
                         hb_tensor **inputs, hb_tensor **targets) {
    const gpt *g = m->impl;
    int64_t shape[2] = {(int64_t)n, (int64_t)g->T};
    *inputs = *targets = NULL;
    HB_TRY(hb_tensor_create(m->ctx, HB_I32, 2, shape, inputs));
    int rc = hb_tensor_create(m->ctx, HB_I32, 2, shape, targets);
    int32_t *seq = rc == HB_OK ? hb__malloc(m->ctx, (g->T + 1) * sizeof(int32_t), "sequence") : NULL;
    if (rc == HB_OK && !seq) rc = HB_ENOMEM;
    if (rc != HB_OK) {
        hb_tensor_free(*inputs);
        hb_tensor_free(*targets);
        *inputs = *targets = NULL;
        return rc;
    }
    uint64_t seed = (uint64_t)m->ctx->seed;
    int32_t *x = (*inputs)->data, *y = (*targets)->data;
    for (size_t i = 0; i < n; i++) {
        for (size_t t = 0; t <= g->T; t++) seq[t] = next_token(g, seed, stream, first + i, t, seq);
        memcpy(x + i * g->T, seq, g->T * sizeof(int32_t));
        memcpy(y + i * g->T, seq + 1, g->T * sizeof(int32_t));
    }
    hb__free(m->ctx, seq);
    return HB_OK;
}

static void gpt_destroy(hb_model *m) {
    gpt *g = m->impl;
    if (!g) return;
    hb__free(m->ctx, g->ws_mem);
    hb__free(m->ctx, g->vp);
    hb__free(m->ctx, g->op);
    hb__free(m->ctx, g);
    m->impl = NULL;
}

/* Text data (hb_model_set_text): windows of T bytes, each byte a token < V. */
static void gpt_text_shape(const hb_model *m, size_t *vocab, size_t *context) {
    const gpt *g = m->impl;
    *vocab = g->V;
    *context = g->T;
}

static const hb__model_vtable gpt_vtable = {
    .name = "gpt",
    .check_batch = gpt_check_batch,
    .loss_grad = gpt_loss_grad,
    .hvp_multi = gpt_hvp_multi,
    .block_hvp = gpt_block_hvp,
    .accuracy = gpt_accuracy,
    .synthetic = gpt_synthetic,
    .text_shape = gpt_text_shape,
    .destroy = gpt_destroy,
};

/* ---- construction ---- */

static int add(hb_params *p, const char *name, hb_block_kind kind, int64_t d0, int64_t d1) {
    int64_t shape[2] = {d0, d1};
    return hb_params_add_block(p, name, kind, d1 ? 2 : 1, shape, NULL);
}

static int build_params(hb_context *ctx, const gpt *g, hb_dtype dt, hb_params **out) {
    hb_params *p = NULL;
    HB_TRY(hb_params_create(ctx, dt, &p));
    int64_t V = (int64_t)g->V, T = (int64_t)g->T, C = (int64_t)g->C, F = (int64_t)g->F;
    int rc = add(p, "wte", HB_BLOCK_EMBEDDING, V, C);
    if (rc == HB_OK) rc = add(p, "wpe", HB_BLOCK_EMBEDDING, T, C);
    static const struct { const char *name; hb_block_kind kind; int rows, cols; } per[P_PER_LAYER] = {
        /* rows/cols in units: 1 = C, 4 = F, 0 = (1-d) */
        {"ln_1.weight", HB_BLOCK_NORM, 1, 0},     {"ln_1.bias", HB_BLOCK_NORM, 1, 0},
        {"attn.wq", HB_BLOCK_ATTN_Q, 1, 1},       {"attn.wq.bias", HB_BLOCK_BIAS, 1, 0},
        {"attn.wk", HB_BLOCK_ATTN_K, 1, 1},       {"attn.wk.bias", HB_BLOCK_BIAS, 1, 0},
        {"attn.wv", HB_BLOCK_ATTN_V, 1, 1},       {"attn.wv.bias", HB_BLOCK_BIAS, 1, 0},
        {"attn.wo", HB_BLOCK_ATTN_O, 1, 1},       {"attn.wo.bias", HB_BLOCK_BIAS, 1, 0},
        {"ln_2.weight", HB_BLOCK_NORM, 1, 0},     {"ln_2.bias", HB_BLOCK_NORM, 1, 0},
        {"mlp.c_fc", HB_BLOCK_MLP_IN, 4, 1},      {"mlp.c_fc.bias", HB_BLOCK_BIAS, 4, 0},
        {"mlp.c_proj", HB_BLOCK_MLP_OUT, 1, 4},   {"mlp.c_proj.bias", HB_BLOCK_BIAS, 1, 0},
    };
    for (size_t l = 0; l < g->L && rc == HB_OK; l++)
        for (int i = 0; i < P_PER_LAYER && rc == HB_OK; i++) {
            char name[HB_MAX_BLOCK_NAME + 1];
            snprintf(name, sizeof name, "h.%zu.%s", l, per[i].name);
            int64_t r = per[i].rows == 4 ? F : C;
            int64_t c = per[i].cols == 0 ? 0 : per[i].cols == 4 ? F : C;
            rc = add(p, name, per[i].kind, r, c);
        }
    if (rc == HB_OK) rc = add(p, "ln_f.weight", HB_BLOCK_NORM, C, 0);
    if (rc == HB_OK) rc = add(p, "ln_f.bias", HB_BLOCK_NORM, C, 0);
    if (rc == HB_OK) rc = add(p, "lm_head", HB_BLOCK_HEAD, V, C);
    if (rc == HB_OK) rc = hb_params_finalize(p);
    /* GPT-2 init: N(0, 0.02) for embeddings and weights, N(0, 0.02/√(2L)) for the two
     * projections into the residual stream (attn.wo, mlp.c_proj), biases 0, LN (1, 0). */
    double proj_std = 0.02 / sqrt(2.0 * (double)g->L);
    for (size_t b = 0; b < p->n_blocks && rc == HB_OK; b++) {
        const hb__block *bk = &p->blocks[b];
        switch (bk->kind) {
        case HB_BLOCK_NORM:
            rc = hb_params_init_block(p, b, HB_INIT_CONSTANT, strstr(bk->name, "weight") ? 1.0 : 0.0, 0);
            break;
        case HB_BLOCK_BIAS: rc = hb_params_init_block(p, b, HB_INIT_ZEROS, 0, 0); break;
        case HB_BLOCK_ATTN_O:
        case HB_BLOCK_MLP_OUT: rc = hb_params_init_block(p, b, HB_INIT_NORMAL, 0, proj_std); break;
        default: rc = hb_params_init_block(p, b, HB_INIT_NORMAL, 0, 0.02); break;
        }
    }
    if (rc != HB_OK) {
        hb_params_free(p);
        return rc;
    }
    *out = p;
    return HB_OK;
}

int hb__gpt_create(hb_context *ctx, const hb_model_config *cfg, hb_model **out) {
    *out = NULL;
    size_t C = (size_t)hb__config_i64(cfg, HB_MK_WIDTH), H = (size_t)hb__config_i64(cfg, HB_MK_HEADS);
    HB_CHECK(ctx, C % H == 0, HB_EINVAL, "gpt width %zu must be a multiple of the %zu heads", C, H);
    gpt *g = hb__calloc(ctx, 1, sizeof *g, "gpt model");
    if (!g) return HB_ENOMEM;
    g->V = (size_t)hb__config_i64(cfg, HB_MK_VOCAB);
    g->T = (size_t)hb__config_i64(cfg, HB_MK_CONTEXT);
    g->C = C;
    g->H = H;
    g->L = (size_t)hb__config_i64(cfg, HB_MK_LAYERS);
    g->F = 4 * C;
    g->n_blocks = 5 + P_PER_LAYER * g->L;
    g->grammar_seed = (uint64_t)ctx->seed;
    g->vp = hb__calloc(ctx, g->n_blocks, sizeof *g->vp, "gpt block pointers");
    g->op = g->vp ? hb__calloc(ctx, g->n_blocks, sizeof *g->op, "gpt block pointers") : NULL;
    hb_params *p = NULL;
    int rc = g->op ? build_params(ctx, g, (hb_dtype)hb__config_i64(cfg, HB_MK_DTYPE), &p) : HB_ENOMEM;
    if (rc == HB_OK) rc = hb__model_new(ctx, p, &gpt_vtable, out);
    if (rc != HB_OK) {
        hb_params_free(p);
        hb__free(ctx, g->vp);
        hb__free(ctx, g->op);
        hb__free(ctx, g);
        return rc;
    }
    (*out)->impl = g;
    return HB_OK;
}
