/* The network engine: runs a net's ops over one micro-batch — forward, backward (gradient),
 * and for k directions the R-forward and R-backward of Pearlmutter's R-operator — in the
 * layout and with the pass conventions of net_internal.h.
 *
 * A call first makes a PLAN (which blocks it wants: all, none or one) and from it
 *   down[a]    activation a is downstream of an op owning a wanted block: only there is
 *              R(a) nonzero, and only there is ∂L/∂a needed for a wanted block's output;
 *   visited    the backward passes run op o iff its output (for the loss: its input) is
 *              down; inputs that are not down get gx = Rgx = NULL, blocks not wanted get
 *              gW = NULL and V = O = NULL, and an op with nothing to write is skipped.
 * So block_hvp of a deep block starts its R-forward at the block's op and never runs the
 * ops before it backwards, exactly as the hand-written gpt did.
 * Then it LAYS OUT the workspace (core/arena.h: a counting pass, then the carve): θ values
 * of every activation, the ops' saved states, θ gradients of the down activations, and for
 * the R-passes their R values, rsaved states and R-gradient SLOTS — an R gradient lives
 * from its first writer to its producer's R-backward in the reverse sweep, so slots are
 * reused (greedy, sizes per sample and direction) and the R workspace stays near the
 * hand-written model's. Directions are never copied: block b's direction j is
 * V + (j·ld + offset_b) in the caller's (k, n) array (hb__dir). hvp_multi runs the k
 * directions in balanced chunks whose R workspace fits R_BUDGET elements.
 * The workspace is two arenas: the θ PART (what forward and backward write, engine.h
 * hb__net_theta) and the R PART (R values, rsaved, R-gradient slots, scratch), so a task
 * whose θ and data are fixed keeps the θ part of each micro-batch between products and
 * runs only the R passes ("Kept θ parts" below). */
#include <math.h>
#include <string.h>

#include "net/engine.h"

/* Elements of R workspace per chunk of directions (512 MiB in f64; docs/design.md). */
#define R_BUDGET ((size_t)1 << 26)
/* Elements of θ parts one theta_fixed task keeps, over all its micro-batches (512 MiB in
 * f64): as much as one R chunk may take, so keeping at most doubles a task's workspace
 * (every worker of a run has its own); a batch whose θ part would pass it is recomputed
 * per call in the task's transient part, as without keeping (docs/design.md). */
#define THETA_KEEP_BUDGET ((size_t)1 << 26)
#define ALL_BLOCKS SIZE_MAX
#define NO_BLOCKS (SIZE_MAX - 1)

enum mode { MODE_FORWARD, MODE_GRAD, MODE_HVP };

static size_t per_sample(const hb__act *a) { return a->rows * a->width; }

/* ---- plan ---- */

static bool owns_wanted(const hb__net_state *st, const hb__net_op *op) {
    for (int b = 0; b < op->n_blk; b++)
        if (op->blk[b] != SIZE_MAX && st->wanted[op->blk[b]]) return true;
    return false;
}

/* Does the backward sweep run op o? */
static bool visited(const hb__net_model *nm, const hb__net_state *st, size_t o) {
    const hb__net_op *op = &nm->ops[o];
    return nm->useful[o] && (op->out >= 0 ? st->down[op->out] : st->down[op->in[0]]);
}

/* A slot for an R gradient of `need` elements per sample and direction: the smallest free
 * one that is large enough, else the largest free one (grown), else a new one. */
static int pick_slot(hb__net_state *st, bool *busy, size_t need) {
    int fit = -1, big = -1;
    for (size_t s = 0; s < st->n_slots; s++) {
        if (busy[s]) continue;
        if (st->slot_size[s] >= need && (fit < 0 || st->slot_size[s] < st->slot_size[fit])) fit = (int)s;
        if (big < 0 || st->slot_size[s] > st->slot_size[big]) big = (int)s;
    }
    int s = fit >= 0 ? fit : big;
    if (s < 0) {
        s = (int)st->n_slots++;
        st->slot_size[s] = 0;
    }
    if (st->slot_size[s] < need) st->slot_size[s] = need;
    busy[s] = true;
    return s;
}

/* The plan of a call wanting `block` (ALL_BLOCKS, NO_BLOCKS or one index). */
static void plan(const hb__net_model *nm, hb__net_state *st, size_t block) {
    for (size_t b = 0; b < nm->n_blocks; b++)
        st->wanted[b] = block == ALL_BLOCKS || b == block;
    for (size_t a = 0; a < nm->n_acts; a++) {
        st->down[a] = false;
        st->first_writer[a] = -1;
        st->slot[a] = -1;
    }
    for (size_t o = 0; o < nm->n_ops; o++) {
        const hb__net_op *op = &nm->ops[o];
        if (!nm->useful[o] || op->out < 0) continue;
        bool d = owns_wanted(st, op);
        for (int i = 0; i < op->n_in; i++) d = d || st->down[op->in[i]];
        st->down[op->out] = d;
    }
    /* The reverse sweep: first writers of gradients, and R-gradient slots live from the
     * first writer to the producer. */
    bool *busy = st->slot_busy;
    st->n_slots = 0;
    for (size_t o = nm->n_ops; o-- > 0;) {
        if (!visited(nm, st, o)) continue;
        const hb__net_op *op = &nm->ops[o];
        for (int i = 0; i < op->n_in; i++) {
            int a = op->in[i];
            if (!st->down[a] || st->first_writer[a] >= 0) continue;
            st->first_writer[a] = (int)o;
            st->slot[a] = pick_slot(st, busy, per_sample(&nm->acts[a]));
        }
        if (op->out >= 0 && st->slot[op->out] >= 0) busy[st->slot[op->out]] = false;
    }
    for (size_t s = 0; s < st->n_slots; s++) busy[s] = false;
}

/* ---- workspace ---- */

/* n1·n2·n3 elements of es bytes (overflow recorded in c). */
static void *take(hb__carve *c, size_t n1, size_t n2, size_t n3, size_t es) {
    size_t n;
    if (!hb__mul_size(n1, n2, &n) || !hb__mul_size(n, n3, &n)) {
        c->overflow = true;
        return NULL;
    }
    return hb__carve_take(c, n, es);
}

typedef struct shape_of_call {
    size_t N, k; /* samples; directions per chunk (HVP) */
    enum mode mode;
    bool conv_x, conv_t; /* inputs / mse targets converted to the compute dtype */
    int threads;         /* of the ops' own loops (hb__op_call.threads): per-thread scratch */
} shape_of_call;

/* The θ part's buffers of a call, in one order for the counting and the carving pass:
 * everything forward and backward write (θ values, θ gradients, saved states, the bwd_ran
 * flags, converted inputs and targets). It never depends on k or the thread count, so a
 * kept part carves to the same pointers on every call of its shape. Pointers of buffers
 * the call does not use are set to NULL. */
static void layout_theta(const hb__net_model *nm, hb__net_state *st, hb__carve *c,
                         const shape_of_call *s, size_t es) {
    size_t N = s->N;
    for (size_t a = 0; a < nm->n_acts; a++) {
        const hb__act *act = &nm->acts[a];
        bool made = act->producer >= 0 && nm->useful[act->producer];
        st->y[a] = (int)a == nm->input ? (s->conv_x ? take(c, N, per_sample(act), 1, es) : NULL)
                   : made ? take(c, N, per_sample(act), 1, es) : NULL;
        st->g[a] = s->mode != MODE_FORWARD && st->down[a] ? take(c, N, per_sample(act), 1, es) : NULL;
    }
    for (size_t o = 0; o < nm->n_ops; o++) {
        const hb__op_class *cls = nm->ops[o].cls;
        st->saved[o] = nm->useful[o] && cls->saved ? take(c, cls->saved(&nm->ops[o], nm->acts, N), 1, 1, es) : NULL;
    }
    st->bwd_ran = take(c, nm->n_ops, 1, 1, sizeof *st->bwd_ran);
    st->targets = s->conv_t ? take(c, N, per_sample(&nm->acts[nm->ops[nm->loss].in[0]]), 1, es) : NULL;
}

/* The R part's buffers of a call (R values, rsaved states, R-gradient slots for k
 * directions, and the scratch of every pass, θ passes included). */
static void layout_r(const hb__net_model *nm, hb__net_state *st, hb__carve *c,
                     const shape_of_call *s, size_t es) {
    size_t N = s->N, k = s->mode == MODE_HVP ? s->k : 0, scratch = 0;
    for (size_t a = 0; a < nm->n_acts; a++)
        st->Ry[a] = k && st->down[a] ? take(c, N, per_sample(&nm->acts[a]), k, es) : NULL;
    for (size_t o = 0; o < nm->n_ops; o++) {
        const hb__net_op *op = &nm->ops[o];
        const hb__op_class *cls = op->cls;
        bool r = k && op->out >= 0 && nm->useful[o] && st->down[op->out];
        st->rsaved[o] = r && cls->rsaved ? take(c, cls->rsaved(op, nm->acts, N), k, 1, es) : NULL;
        size_t need = nm->useful[o] && cls->scratch ? cls->scratch(op, nm->acts, N, 0, s->threads) : 0;
        if (need > scratch) scratch = need;
        need = (r || (k && visited(nm, st, o))) && cls->scratch ? cls->scratch(op, nm->acts, N, k, s->threads) : 0;
        if (need > scratch) scratch = need;
    }
    for (size_t sl = 0; sl < st->n_slots; sl++)
        st->slot_mem[sl] = k ? take(c, N, st->slot_size[sl], k, es) : NULL;
    st->scratch = take(c, scratch, 1, 1, es);
}

/* A coarse guard before the ops' own size functions run (they multiply unchecked). */
static int guard(hb_model *m, hb_context *ctx, size_t N, size_t k) {
    const hb__net_model *nm = m->impl;
    double sum = 0;
    for (size_t a = 0; a < nm->n_acts; a++) sum += (double)per_sample(&nm->acts[a]);
    double bytes = (double)N * sum * ((double)k + 2) * 8.0 * 64.0;
    HB_CHECK(ctx, bytes < 0x1p62, HB_EOVERFLOW,
             "%s workspace for %zu samples and %zu directions is too large", nm->vt.name, N, k);
    return HB_OK;
}

/* Bytes of a call's θ part (theta) or R part, counted. */
static size_t counted_part(const hb__net_model *nm, hb__net_state *st, const shape_of_call *s,
                           size_t es, bool theta, bool *overflow) {
    hb__carve c = hb__carve_counting();
    if (theta) layout_theta(nm, st, &c, s, es);
    else layout_r(nm, st, &c, s, es);
    *overflow = c.overflow;
    return c.used;
}

/* Bytes of a call's whole workspace (θ part and R part). */
static size_t counted_bytes(const hb__net_model *nm, hb__net_state *st, const shape_of_call *s,
                            size_t es, bool *overflow) {
    bool o1, o2;
    size_t t = counted_part(nm, st, s, es, true, &o1), r = counted_part(nm, st, s, es, false, &o2);
    *overflow = o1 || o2 || t + r < t;
    return t + r;
}

/* The shape of a call on batch b (per-thread scratch for the thread count of the context
 * the call runs on: a task's worker context has 1 thread when tasks take every thread). */
static shape_of_call shape_of(const hb__net_model *nm, const hb__net_state *st, const hb__batch *b,
                              enum mode mode, size_t k) {
    shape_of_call s = {b->n_samples, k, mode, false, false, hb__threads(st->ctx)};
    s.conv_x = !nm->acts[nm->input].tokens && b->inputs->dtype != nm->dt;
    s.conv_t = nm->mse && b->targets->dtype != nm->dt;
    return s;
}

/* Lay out and carve the workspace of a call: its θ part in th, its R part in st->ws. The
 * input (and mse targets) point at the batch or at their conversion to the compute dtype,
 * made here when `fresh` (the θ passes will run); a kept θ part holds it already. */
static int prepare(hb_model *m, hb__net_state *st, hb__net_theta *th, const hb__batch *b,
                   const shape_of_call *s, bool fresh) {
    const hb__net_model *nm = m->impl;
    size_t es = hb_dtype_size(nm->dt);
    st->threads = s->threads;
    HB_TRY(guard(m, st->ctx, s->N, s->mode == MODE_HVP ? s->k : 0));
    hb__carve c = hb__carve_counting();
    layout_theta(nm, st, &c, s, es);
    HB_TRY(hb__arena_reserve(st->ctx, &th->ws, &c, "net workspace (theta part)"));
    c = hb__carve_counting();
    layout_r(nm, st, &c, s, es);
    HB_TRY(hb__arena_reserve(st->ctx, &st->ws, &c, "net workspace"));
    c = hb__carve_from(&th->ws);
    layout_theta(nm, st, &c, s, es);
    c = hb__carve_from(&st->ws);
    layout_r(nm, st, &c, s, es);
    if (fresh) memset(st->bwd_ran, 0, nm->n_ops * sizeof *st->bwd_ran);
    if (!s->conv_x) st->y[nm->input] = b->inputs->data;
    else if (fresh)
        hb__convert(st->ctx, nm->dt, (void *)st->y[nm->input], b->inputs->dtype, b->inputs->data,
                    b->inputs->numel);
    if (!s->conv_t) st->targets = b->targets->data;
    else if (fresh)
        hb__convert(st->ctx, nm->dt, (void *)st->targets, b->targets->dtype, b->targets->data,
                    b->targets->numel);
    return HB_OK;
}

/* ---- Kept θ parts ----------------------------------------------------------------------
 * Within one SLQ run (or trace) θ and the micro-batches never change (the run's contract,
 * include/hessblock/slq.h), yet every product used to run forward and backward again:
 * half of a one-direction HVP of gpt-ref. A task with theta_fixed therefore keeps the θ
 * part of each micro-batch (indexed by its position in m->batches) with the call that
 * made it; a later call of the same plan (block, or all), batch, N and scale skips both θ
 * passes and runs only the R chunks, on the same bits: the R passes READ the θ part and
 * never change it. Checked op by op (lib/net/op_X.c, lib/nn/X.h, whose R kernels take
 * x, y, saved and gy as const): rforward writes Ry and rsaved, rbackward Rgx, O and
 * scratch. The one exception is attention's rbackward, which, when its θ backward did not
 * form g_y, g_q, g_k, g_v (bwd_ran false or no input gradient), forms them into saved
 * itself — from θ-side values only, so every call writes the same bits there and a kept
 * part stays what its θ passes made. The chunk loop of hvp_common (several R chunks after
 * one θ pass) relied on all this already. A call of any other key recomputes the part
 * (replacing it); loss_grad, accuracy and workspace_bytes run on task0, which keeps none,
 * and forget what their state kept anyway. The parts a task keeps stay under
 * THETA_KEEP_BUDGET: a batch past it is recomputed per call in the transient part
 * (st->once), bit for bit the same products. */

static void theta_forget(hb__net_state *st) {
    for (size_t i = 0; i < st->n_kept; i++) st->kept[i].valid = false;
}

/* Does th hold the θ passes of this call? */
static bool theta_holds(const hb__net_theta *th, const hb__batch *b, size_t block, size_t N,
                        double scale) {
    return th->valid && th->batch == b && th->block == block && th->N == N && th->scale == scale;
}

/* The θ part of an HVP on task t, batch b, plan `block`: *hit when it holds the call's θ
 * passes already. The transient part unless t keeps parts and the budget allows. */
static int theta_part(hb_model *m, hb__model_task *t, hb__net_state *st, const hb__batch *b,
                      size_t block, double scale, const shape_of_call *s, hb__net_theta **out,
                      bool *hit) {
    const hb__net_model *nm = m->impl;
    size_t budget = nm->theta_budget == SIZE_MAX ? THETA_KEEP_BUDGET : nm->theta_budget;
    *out = &st->once;
    *hit = false;
    if (!t->theta_fixed || !budget || b < m->batches || b >= m->batches + m->n_batches)
        return HB_OK;
    if (st->n_kept < m->n_batches) { /* grow-only; the old parts stay valid */
        hb__net_theta *nk = hb__calloc(st->ctx, m->n_batches, sizeof *nk, "kept theta parts");
        if (!nk) return HB_ENOMEM;
        if (st->n_kept) memcpy(nk, st->kept, st->n_kept * sizeof *nk);
        hb__free(st->ctx, st->kept);
        st->kept = nk;
        st->n_kept = m->n_batches;
    }
    hb__net_theta *th = &st->kept[b - m->batches];
    if (theta_holds(th, b, block, s->N, scale)) {
        *out = th;
        *hit = true;
        return HB_OK;
    }
    th->valid = false; /* replaced below, or left for the transient part */
    size_t es = hb_dtype_size(nm->dt), others = 0;
    bool overflow;
    size_t need = counted_part(nm, st, s, es, true, &overflow);
    if (need < th->ws.cap) need = th->ws.cap;
    for (size_t i = 0; i < st->n_kept; i++)
        if (&st->kept[i] != th) others += st->kept[i].ws.cap;
    if (!overflow && others / es + need / es <= budget) *out = th;
    else hb__arena_free(st->ctx, &th->ws); /* what the task keeps stays under the budget */
    return HB_OK;
}

/* Directions per R chunk: as many as fit R_BUDGET, balanced over the chunks. Counted for
 * one thread: the chunking must not depend on the thread count (bit-identical results). */
static size_t chunk_size(const hb__net_model *nm, hb__net_state *st, size_t N, size_t k) {
    shape_of_call one = {N, 1, MODE_HVP, false, false, 1}, two = one;
    two.k = 2;
    bool o1, o2;
    size_t b1 = counted_bytes(nm, st, &one, 1, &o1), b2 = counted_bytes(nm, st, &two, 1, &o2);
    size_t per = b2 > b1 ? b2 - b1 : 0;
    size_t fit = o1 || o2 ? 1 : per ? R_BUDGET / per : k;
    if (nm->max_chunk && fit > nm->max_chunk) fit = nm->max_chunk;
    if (fit < 1) fit = 1;
    if (fit >= k) return k;
    size_t chunks = (k + fit - 1) / fit;
    return (k + chunks - 1) / chunks;
}

int hb__net_workspace_bytes(hb_model *m, size_t N, size_t k, size_t *bytes) {
    const hb__net_model *nm = m->impl;
    hb__net_state *st = hb__net_state_of(m, &m->task0);
    if (!st) return m->ctx->last_status;
    theta_forget(st);
    plan(nm, st, ALL_BLOCKS);
    shape_of_call s = {N, k, k ? MODE_HVP : MODE_GRAD, false, false, hb__threads(st->ctx)};
    bool overflow;
    *bytes = counted_bytes(nm, st, &s, hb_dtype_size(nm->dt), &overflow);
    HB_CHECK(m->ctx, !overflow, HB_EOVERFLOW,
             "%s workspace for %zu samples and %zu directions overflows", nm->vt.name, N, k);
    return HB_OK;
}

/* ---- passes ---- */

/* The θ side of op o's call: shapes, inputs, output, saved state, parameters. */
static void call_init(hb_model *m, const hb__net_state *st, size_t o, size_t N, double scale,
                      hb__op_call *c) {
    const hb__net_model *nm = m->impl;
    const hb__net_op *op = &nm->ops[o];
    const char *theta = hb__model_theta(m);
    size_t es = hb_dtype_size(nm->dt);
    memset(c, 0, sizeof *c);
    c->ctx = st->ctx;
    c->dt = nm->dt;
    c->op = op;
    c->acts = nm->acts;
    c->N = N;
    c->scale = scale;
    c->scratch = st->scratch;
    c->threads = st->threads;
    c->targets = op->out < 0 ? st->targets : NULL;
    for (int i = 0; i < op->n_in; i++) c->x[i] = st->y[op->in[i]];
    c->y = op->out >= 0 ? (void *)st->y[op->out] : NULL;
    c->saved = st->saved[o];
    for (int b = 0; b < op->n_blk; b++)
        if (op->blk[b] != SIZE_MAX) c->W[b] = theta + m->params->blocks[op->blk[b]].offset * es;
}

/* Input i of op o gets its gradient buffer here for the first time in this sweep. */
static bool first_write(const hb__net_state *st, const hb__net_op *op, size_t o, int i) {
    return st->first_writer[op->in[i]] == (int)o && !(i == 1 && op->in[1] == op->in[0]);
}

static int forward(hb_model *m, const hb__net_state *st, size_t N, double *loss, size_t *correct,
                   size_t *total) {
    const hb__net_model *nm = m->impl;
    hb__op_call c;
    for (size_t o = 0; o < nm->n_ops; o++) {
        if (!nm->useful[o]) continue;
        double l = 0;
        call_init(m, st, o, N, 1.0, &c);
        c.loss = &l;
        HB_TRY(nm->ops[o].cls->forward(&c));
        if (nm->ops[o].out >= 0) continue;
        if (loss) *loss = l;
        if (correct) HB_TRY(nm->ops[o].cls->accuracy(&c, correct, total));
    }
    return HB_OK;
}

/* θ backward over the visited ops: gradients of the down activations, and of the wanted
 * blocks into grad (flat, compute dtype) when grad is non-NULL. */
static int backward(hb_model *m, const hb__net_state *st, size_t N, double scale, void *grad) {
    const hb__net_model *nm = m->impl;
    size_t es = hb_dtype_size(nm->dt);
    hb__op_call c;
    for (size_t o = nm->n_ops; o-- > 0;) {
        if (!visited(nm, st, o)) continue;
        const hb__net_op *op = &nm->ops[o];
        bool any = false;
        call_init(m, st, o, N, scale, &c);
        c.gy = op->out >= 0 ? st->g[op->out] : NULL;
        for (int i = 0; i < op->n_in; i++) {
            if (!st->down[op->in[i]]) continue;
            c.gx[i] = st->g[op->in[i]];
            /* the first writer overwrites (writes_first) or gets a zeroed buffer */
            c.gx_first[i] = first_write(st, op, o, i);
            if (c.gx_first[i] && !op->cls->writes_first)
                memset(c.gx[i], 0, N * per_sample(&nm->acts[op->in[i]]) * es);
            any = true;
        }
        for (int b = 0; b < op->n_blk && grad; b++)
            if (op->blk[b] != SIZE_MAX && st->wanted[op->blk[b]]) {
                c.gW[b] = (char *)grad + m->params->blocks[op->blk[b]].offset * es;
                any = true;
            }
        if (any) HB_TRY(op->cls->backward(&c));
        st->bwd_ran[o] = any;
    }
    return HB_OK;
}

/* The R side of op o's call for k directions of this chunk. */
static void rcall_init(hb_model *m, const hb__net_state *st, size_t o, size_t N, size_t k,
                       double scale, hb__op_call *c) {
    const hb__net_model *nm = m->impl;
    const hb__net_op *op = &nm->ops[o];
    call_init(m, st, o, N, scale, c);
    c->k = k;
    c->gy = op->out >= 0 ? st->g[op->out] : NULL;
    for (int i = 0; i < op->n_in; i++) c->Rx[i] = st->down[op->in[i]] ? st->Ry[op->in[i]] : NULL;
    c->Ry = op->out >= 0 ? st->Ry[op->out] : NULL;
    c->rsaved = st->rsaved[o];
    for (int b = 0; b < op->n_blk; b++)
        if (op->blk[b] != SIZE_MAX && st->wanted[op->blk[b]]) {
            c->V[b] = st->dirV[op->blk[b]];
            c->O[b] = st->dirO[op->blk[b]];
        }
}

static int rforward(hb_model *m, const hb__net_state *st, size_t N, size_t k) {
    const hb__net_model *nm = m->impl;
    hb__op_call c;
    for (size_t o = 0; o < nm->n_ops; o++) {
        const hb__net_op *op = &nm->ops[o];
        if (!nm->useful[o] || op->out < 0 || !st->down[op->out]) continue;
        rcall_init(m, st, o, N, k, 1.0, &c);
        HB_TRY(op->cls->rforward(&c));
    }
    return HB_OK;
}

static int rbackward(hb_model *m, const hb__net_state *st, size_t N, size_t k, double scale) {
    const hb__net_model *nm = m->impl;
    size_t es = hb_dtype_size(nm->dt);
    hb__op_call c;
    for (size_t o = nm->n_ops; o-- > 0;) {
        if (!visited(nm, st, o)) continue;
        const hb__net_op *op = &nm->ops[o];
        rcall_init(m, st, o, N, k, scale, &c);
        c.Rgy = op->out >= 0 ? st->slot_mem[st->slot[op->out]] : NULL;
        bool any = false;
        for (int i = 0; i < op->n_in; i++) {
            if (!st->down[op->in[i]]) continue;
            c.Rgx[i] = st->slot_mem[st->slot[op->in[i]]];
            c.Rgx_first[i] = first_write(st, op, o, i);
            if (c.Rgx_first[i] && !op->cls->writes_first)
                memset(c.Rgx[i], 0, N * k * per_sample(&nm->acts[op->in[i]]) * es);
            any = true;
        }
        c.bwd_ran = st->bwd_ran[o];
        for (int b = 0; b < op->n_blk; b++) any = any || c.O[b].p != NULL;
        if (any) HB_TRY(op->cls->rbackward(&c));
    }
    return HB_OK;
}

/* ---- vtable ---- */

/* Loss, gradient and accuracy run on the model's own task (the public API's). */
int hb__net_loss_grad(hb_model *m, const hb__batch *b, double *loss, void *grad, double scale) {
    const hb__net_model *nm = m->impl;
    hb__net_state *st = hb__net_state_of(m, &m->task0);
    if (!st) return m->ctx->last_status;
    st->ctx = m->ctx;
    theta_forget(st);
    plan(nm, st, grad ? ALL_BLOCKS : NO_BLOCKS);
    shape_of_call s = shape_of(nm, st, b, grad ? MODE_GRAD : MODE_FORWARD, 0);
    HB_TRY(prepare(m, st, &st->once, b, &s, true));
    HB_TRY(forward(m, st, b->n_samples, loss, NULL, NULL));
    return grad ? backward(m, st, b->n_samples, scale, grad) : HB_OK;
}

/* Shared by hvp_multi (block = ALL_BLOCKS; V, OUT (k, n)) and block_hvp (V, OUT
 * (k, numel(block))): accumulate scale·H·V into OUT, on task t. The θ passes run unless
 * the task kept them for this call (theta_part). */
static int hvp_common(hb_model *m, hb__model_task *t, const hb__batch *b, size_t block, size_t k,
                      const void *V, void *OUT, double scale) {
    const hb__net_model *nm = m->impl;
    hb__net_state *st = hb__net_state_of(m, t);
    if (!st) return t->ctx->last_status;
    st->ctx = t->ctx;
    const hb_params *p = m->params;
    size_t es = hb_dtype_size(nm->dt), N = b->n_samples;
    size_t ld = block == ALL_BLOCKS ? p->n : p->blocks[block].numel;
    plan(nm, st, block);
    HB_TRY(guard(m, st->ctx, N, 2));
    size_t nd = chunk_size(nm, st, N, k);
    shape_of_call s = shape_of(nm, st, b, MODE_HVP, nd);
    hb__net_theta *th;
    bool hit;
    HB_TRY(theta_part(m, t, st, b, block, scale, &s, &th, &hit));
    HB_TRY(prepare(m, st, th, b, &s, !hit));
    if (!hit) {
        HB_TRY(forward(m, st, N, NULL, NULL, NULL));
        HB_TRY(backward(m, st, N, scale, NULL));
        if (th != &st->once) *th = (hb__net_theta){th->ws, true, b, block, N, scale};
    }
    for (size_t j0 = 0; j0 < k; j0 += nd) {
        size_t kk = nd < k - j0 ? nd : k - j0;
        for (size_t i = 0; i < nm->n_blocks; i++) {
            size_t off = j0 * ld + (block == ALL_BLOCKS ? p->blocks[i].offset : 0);
            bool on = st->wanted[i];
            st->dirV[i] = (hb__dir){on ? (char *)V + off * es : NULL, on ? ld : 0};
            st->dirO[i] = (hb__dir){on ? (char *)OUT + off * es : NULL, on ? ld : 0};
        }
        HB_TRY(rforward(m, st, N, kk));
        HB_TRY(rbackward(m, st, N, kk, scale));
    }
    return HB_OK;
}

int hb__net_hvp_multi(hb_model *m, hb__model_task *t, const hb__batch *b, size_t k,
                      const void *V, void *OUT, double scale) {
    return hvp_common(m, t, b, ALL_BLOCKS, k, V, OUT, scale);
}

int hb__net_block_hvp(hb_model *m, hb__model_task *t, const hb__batch *b, size_t block,
                      size_t k, const void *V_b, void *OUT_b, double scale) {
    return hvp_common(m, t, b, block, k, V_b, OUT_b, scale);
}

int hb__net_accuracy(hb_model *m, const hb__batch *b, size_t *correct, size_t *total) {
    const hb__net_model *nm = m->impl;
    hb__net_state *st = hb__net_state_of(m, &m->task0);
    if (!st) return m->ctx->last_status;
    st->ctx = m->ctx;
    theta_forget(st);
    plan(nm, st, NO_BLOCKS);
    shape_of_call s = shape_of(nm, st, b, MODE_FORWARD, 0);
    HB_TRY(prepare(m, st, &st->once, b, &s, true));
    *correct = *total = 0;
    return forward(m, st, b->n_samples, NULL, correct, total);
}

/* ---- work estimate (scheduling only) ----
 * hb__net_block_cost ranks the SLQ tasks of a per-block run, longest first (lib/slq,
 * docs/design.md "Threads"); it never changes a number. A product of k directions with
 * H_bb runs the θ forward over every useful op, and over the ops the plan of b VISITS
 * (those downstream of b's op: R(a) ≠ 0 there) the θ backward and, per direction, the
 * R-forward and R-backward. Relative to an op's forward work w the passes cost about
 * 1 (forward), 2 (backward: the input's and the weights' gradients), 2 (R-forward: W·Rx
 * and V·x) and 4 (R-backward: the backward of Rgy plus the terms of Rx and V), so
 *     cost(b, k) = Σ_useful w + (2 + 6k)·Σ_visited w.
 * A block near the input visits nearly every op (the whole network backward and R);
 * the head's block only the head and the loss. */

/* w: multiply-adds of op's forward on one sample, roughly — its gemms (the weights times
 * the rows they multiply), attention's scores and mixing, and one per input and output
 * element for everything elementwise (norms, activations, add, pooling, the loss). */
static double op_work(const hb_model *m, const hb__net_model *nm, const hb__net_op *op) {
    const hb__act *in = &nm->acts[op->in[0]], *out = op->out >= 0 ? &nm->acts[op->out] : NULL;
    double io = (double)per_sample(in) + (out ? (double)per_sample(out) : 0.0);
    if (!out || op->cls == &hb__op_embedding || op->cls == &hb__op_pos_embedding)
        return io; /* a loss; a row lookup per position */
    double weights = 0.0; /* the op's parameters, biases included */
    for (int b = 0; b < op->n_blk; b++)
        if (op->blk[b] != SIZE_MAX) weights += (double)m->params->blocks[op->blk[b]].numel;
    if (op->cls == &hb__op_linear) return io + (double)out->rows * weights;
    if (op->cls == &hb__op_attention) /* Q, K, V, O projections of every row; causal scores
                                         q·kᵀ and mixing P·v: T²·C/2 each */
        return io + (double)in->rows * weights + (double)in->rows * (double)in->rows * (double)in->width;
    if (op->cls == &hb__op_conv2d && op->iarg[0] > 0) /* every output element: Cin·K² */
        return io + (double)per_sample(out) * weights / (double)op->iarg[0];
    return io;
}

/* Attention with no direction into q, k, v (its input not downstream, none of its Q/K/V
 * blocks wanted: op_attention.c's blocks 0–5) runs its R-passes and backward on the output
 * projection only (op_attention.c, "Liveness"): a block HVP of wo costs far less than one
 * of wq in the same layer. */
static bool attn_qkv_wanted(const hb__net_state *st, const hb__net_op *op) {
    for (int b = 0; b < 6 && b < op->n_blk; b++)
        if (op->blk[b] != SIZE_MAX && st->wanted[op->blk[b]]) return true;
    return false;
}

static double attn_out_work(const hb_model *m, const hb__net_model *nm, const hb__net_op *op) {
    const hb__act *in = &nm->acts[op->in[0]];
    double io = 2.0 * (double)per_sample(in), weights = 0.0;
    for (int b = 6; b < 8 && b < op->n_blk; b++)
        if (op->blk[b] != SIZE_MAX) weights += (double)m->params->blocks[op->blk[b]].numel;
    return io + (double)in->rows * weights;
}

int hb__net_block_cost(hb_model *m, size_t block, size_t k, double *cost) {
    const hb__net_model *nm = m->impl;
    hb__net_state *st = hb__net_state_of(m, &m->task0);
    if (!st) return m->ctx->last_status;
    plan(nm, st, block == SIZE_MAX ? ALL_BLOCKS : block);
    double all = 0.0, visits = 0.0;
    for (size_t o = 0; o < nm->n_ops; o++) {
        if (!nm->useful[o]) continue;
        const hb__net_op *op = &nm->ops[o];
        double w = op_work(m, nm, op);
        all += w;
        if (!visited(nm, st, o)) continue;
        if (op->cls == &hb__op_attention && !st->down[op->in[0]] && !attn_qkv_wanted(st, op))
            w = attn_out_work(m, nm, op); /* only wo (bo) wanted: the output projection alone */
        visits += w;
    }
    *cost = all + (2.0 + 6.0 * (double)k) * visits;
    return HB_OK;
}
