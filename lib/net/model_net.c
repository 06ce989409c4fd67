/* Models made from nets: hb_model_create_net builds the parameters from the net's pending
 * blocks (in order), initialises them in block order, copies the definition and sizes
 * every per-call array once (one allocation, carved as core/arena.h describes), so the
 * engine (engine.c) allocates nothing per call but a larger workspace. */
#include <math.h>
#include <string.h>

#include "net/engine.h"

/* ---- data ---- */

static const hb__act *target_act(const hb__net_model *nm) {
    return &nm->acts[nm->ops[nm->loss].in[0]];
}

/* Inputs: (N, T) i32 token ids in [0, vocab), or (N, shape…) finite f32/f64 features. */
static int check_inputs(hb_model *m, const hb_tensor *x) {
    const hb__net_model *nm = m->impl;
    const hb__act *in = &nm->acts[nm->input];
    hb_context *ctx = m->ctx;
    const char *nm_name = nm->vt.name;
    HB_CHECK(ctx, x->ndim == in->ndim + 1, HB_ESHAPE,
             "%s inputs must have %d dimensions (N and the sample's), got %d", nm_name,
             in->ndim + 1, x->ndim);
    for (int d = 0; d < in->ndim; d++)
        HB_CHECK(ctx, x->shape[d + 1] == in->dims[d], HB_ESHAPE,
                 "%s inputs: dimension %d is %lld, input '%s' needs %lld", nm_name, d + 1,
                 (long long)x->shape[d + 1], in->name, (long long)in->dims[d]);
    if (in->tokens) {
        HB_CHECK(ctx, x->dtype == HB_I32, HB_EDTYPE, "%s inputs must be i32 token ids, got dtype %d",
                 nm_name, (int)x->dtype);
        const int32_t *t = x->data;
        for (size_t i = 0; i < x->numel; i++)
            HB_CHECK(ctx, t[i] >= 0 && t[i] < in->vocab, HB_ERANGE,
                     "input token %d at position %zu is outside the vocabulary [0, %lld)", (int)t[i],
                     i, (long long)in->vocab);
        return HB_OK;
    }
    HB_CHECK(ctx, x->dtype == HB_F32 || x->dtype == HB_F64, HB_EDTYPE,
             "%s inputs must be f32 or f64 features, got dtype %d", nm_name, (int)x->dtype);
    for (size_t i = 0; i < x->numel; i++)
        HB_CHECK(ctx, isfinite(hb__load(x->dtype, x->data, i)), HB_ENONFINITE,
                 "%s inputs hold a non-finite value at element %zu", nm_name, i);
    return HB_OK;
}

/* Targets: mse — f32/f64 of the prediction's shape (N, shape…), finite; xent — i32 class
 * ids of the logits' shape without the last dimension, in [0, classes). */
static int check_targets(hb_model *m, const hb_tensor *x, const hb_tensor *y) {
    const hb__net_model *nm = m->impl;
    const hb__act *p = target_act(nm);
    hb_context *ctx = m->ctx;
    int nd = nm->mse ? p->ndim : p->ndim - 1;
    HB_CHECK(ctx, y->ndim == nd + 1 && y->shape[0] == x->shape[0], HB_ESHAPE,
             "%s targets must have %d dimensions, the first the inputs' N = %lld (got %d, %lld)",
             nm->vt.name, nd + 1, (long long)x->shape[0], y->ndim, (long long)y->shape[0]);
    for (int d = 0; d < nd; d++)
        HB_CHECK(ctx, y->shape[d + 1] == p->dims[d], HB_ESHAPE,
                 "%s targets: dimension %d is %lld, '%s' needs %lld", nm->vt.name, d + 1,
                 (long long)y->shape[d + 1], p->name, (long long)p->dims[d]);
    if (nm->mse) {
        HB_CHECK(ctx, y->dtype == HB_F32 || y->dtype == HB_F64, HB_EDTYPE,
                 "%s targets of an mse loss must be f32 or f64, got dtype %d", nm->vt.name,
                 (int)y->dtype);
        for (size_t i = 0; i < y->numel; i++)
            HB_CHECK(ctx, isfinite(hb__load(y->dtype, y->data, i)), HB_ENONFINITE,
                     "%s targets hold a non-finite value at element %zu", nm->vt.name, i);
        return HB_OK;
    }
    int64_t classes = p->dims[p->ndim - 1];
    HB_CHECK(ctx, y->dtype == HB_I32, HB_EDTYPE, "%s targets must be i32 class ids, got dtype %d",
             nm->vt.name, (int)y->dtype);
    const int32_t *t = y->data;
    for (size_t i = 0; i < y->numel; i++)
        HB_CHECK(ctx, t[i] >= 0 && t[i] < classes, HB_ERANGE,
                 "%s target %zu is %d, outside [0, %lld)", nm->vt.name, i, (int)t[i],
                 (long long)classes);
    return HB_OK;
}

int hb__net_check_batch(hb_model *m, const hb_tensor *x, const hb_tensor *y, size_t *n) {
    HB_TRY(check_inputs(m, x));
    HB_TRY(check_targets(m, x, y));
    *n = (size_t)x->shape[0];
    return HB_OK;
}

/* ---- lifetime ---- */

static void net_destroy(hb_model *m) {
    hb__net_model *nm = m->impl;
    if (!nm) return;
    if (nm->hooks.user_free && nm->hooks.user) nm->hooks.user_free(m->ctx, nm->hooks.user);
    hb__free(m->ctx, nm); /* the arrays live in the same allocation */
    m->impl = NULL;
}

static hb__net_model *net_model_of(const hb_model *m) {
    return m && m->vt && m->vt->destroy == net_destroy ? m->impl : NULL;
}

void *hb__net_model_user(const hb_model *m) {
    const hb__net_model *nm = net_model_of(m);
    return nm ? nm->hooks.user : NULL;
}

int hb__net_model_set_max_chunk(hb_model *m, size_t max_chunk) {
    hb__net_model *nm = net_model_of(m);
    if (!nm) return HB_EINVAL;
    nm->max_chunk = max_chunk;
    return HB_OK;
}

int hb__net_model_set_theta_budget(hb_model *m, size_t elements) {
    hb__net_model *nm = net_model_of(m);
    if (!nm) return HB_EINVAL;
    nm->theta_budget = elements;
    return HB_OK;
}

/* The definition's arrays, in one order for counting and carving. */
static void def_layout(hb__carve *c, hb__net_model *nm, const hb_net *net) {
    size_t A = net->n_acts, O = net->n_ops, B = net->n_blocks;
    nm->acts = hb__carve_take(c, A, sizeof *nm->acts);
    nm->ops = hb__carve_take(c, O, sizeof *nm->ops);
    nm->block_op = hb__carve_take(c, B, sizeof *nm->block_op);
    nm->useful = hb__carve_take(c, O, sizeof *nm->useful);
}

/* A task's arrays (plan and buffer pointers), in one order for counting and carving. */
static void state_layout(hb__carve *c, hb__net_state *st, const hb__net_model *nm) {
    size_t A = nm->n_acts, O = nm->n_ops, B = nm->n_blocks;
    st->wanted = hb__carve_take(c, B, sizeof *st->wanted);
    st->down = hb__carve_take(c, A, sizeof *st->down);
    st->first_writer = hb__carve_take(c, A, sizeof *st->first_writer);
    st->slot = hb__carve_take(c, A, sizeof *st->slot);
    st->slot_size = hb__carve_take(c, A, sizeof *st->slot_size);
    st->slot_busy = hb__carve_take(c, A, sizeof *st->slot_busy);
    st->y = hb__carve_take(c, A, sizeof *st->y);
    st->g = hb__carve_take(c, A, sizeof *st->g);
    st->Ry = hb__carve_take(c, A, sizeof *st->Ry);
    st->slot_mem = hb__carve_take(c, A, sizeof *st->slot_mem);
    st->saved = hb__carve_take(c, O, sizeof *st->saved);
    st->rsaved = hb__carve_take(c, O, sizeof *st->rsaved);
    st->dirV = hb__carve_take(c, B, sizeof *st->dirV);
    st->dirO = hb__carve_take(c, B, sizeof *st->dirO);
}

hb__net_state *hb__net_state_of(hb_model *m, hb__model_task *t) {
    if (t->impl) return t->impl;
    const hb__net_model *nm = m->impl;
    hb__net_state tmp;
    hb__carve c = hb__carve_counting();
    state_layout(&c, &tmp, nm);
    size_t head = (sizeof(hb__net_state) + HB__ARENA_ALIGN - 1) & ~(size_t)(HB__ARENA_ALIGN - 1);
    hb__net_state *st = hb__calloc(t->ctx, 1, head + c.used + HB__ARENA_ALIGN, "net task state");
    if (!st) return NULL;
    hb__arena arrays = {(char *)st + head, c.used};
    c = hb__carve_from(&arrays);
    state_layout(&c, st, nm);
    t->impl = st;
    return st;
}

void hb__net_task_free(hb_model *m, hb__model_task *t) {
    (void)m;
    hb__net_state *st = t->impl;
    hb__arena_free(t->ctx, &st->ws);
    hb__arena_free(t->ctx, &st->once.ws);
    for (size_t i = 0; i < st->n_kept; i++) hb__arena_free(t->ctx, &st->kept[i].ws);
    hb__free(t->ctx, st->kept);
    hb__free(t->ctx, st); /* the arrays live in the same allocation */
}

/* The model state: the definition copied, ops that reach the loss marked. */
static int new_state(const hb_net *net, const hb__net_hooks *hooks, hb__net_model **out) {
    hb_context *ctx = net->ctx;
    hb__net_model tmp;
    hb__carve c = hb__carve_counting();
    def_layout(&c, &tmp, net);
    size_t head = (sizeof(hb__net_model) + HB__ARENA_ALIGN - 1) & ~(size_t)(HB__ARENA_ALIGN - 1);
    hb__net_model *nm = hb__calloc(ctx, 1, head + c.used + HB__ARENA_ALIGN, "net model");
    if (!nm) return HB_ENOMEM;
    hb__arena state = {(char *)nm + head, c.used};
    c = hb__carve_from(&state);
    def_layout(&c, nm, net);
    memcpy(nm->acts, net->acts, net->n_acts * sizeof *nm->acts);
    memcpy(nm->ops, net->ops, net->n_ops * sizeof *nm->ops);
    nm->n_acts = net->n_acts;
    nm->n_ops = net->n_ops;
    nm->n_blocks = net->n_blocks;
    nm->input = net->input;
    nm->loss = net->loss;
    nm->mse = net->ops[net->loss].cls == &hb__op_mse;
    nm->dt = net->dtype == HB_BF16 ? HB_F32 : net->dtype;
    nm->hooks = *hooks;
    nm->theta_budget = SIZE_MAX; /* THETA_KEEP_BUDGET */
    for (size_t o = 0; o < nm->n_ops; o++)
        for (int b = 0; b < nm->ops[o].n_blk; b++)
            if (nm->ops[o].blk[b] != SIZE_MAX) nm->block_op[nm->ops[o].blk[b]] = (int)o;
    /* useful: the op's output reaches the loss (definition order is a topological order) */
    bool *reach = hb__calloc(ctx, nm->n_acts, sizeof *reach, "net reach flags");
    if (!reach) {
        hb__free(ctx, nm);
        return HB_ENOMEM;
    }
    for (size_t o = nm->n_ops; o-- > 0;) {
        const hb__net_op *op = &nm->ops[o];
        nm->useful[o] = (int)o == nm->loss || (op->out >= 0 && reach[op->out]);
        for (int i = 0; i < op->n_in && nm->useful[o]; i++) reach[op->in[i]] = true;
    }
    hb__free(ctx, reach);
    nm->vt = (hb__model_vtable){
        .name = hooks->name ? hooks->name : "net",
        .check_batch = hb__net_check_batch,
        .loss_grad = hb__net_loss_grad,
        .hvp_multi = hb__net_hvp_multi,
        .block_hvp = hb__net_block_hvp,
        .accuracy = nm->ops[nm->loss].cls->accuracy ? hb__net_accuracy : NULL,
        .synthetic = hooks->synthetic,
        .text_shape = hooks->text_shape,
        .image_shape = hooks->image_shape,
        .task_free = hb__net_task_free,
        .block_cost = hb__net_block_cost,
        .destroy = net_destroy,
    };
    *out = nm;
    return HB_OK;
}

/* The parameters: the net's blocks in order, initialised in block order. */
static int new_params(const hb_net *net, hb_params **out) {
    hb_params *p = NULL;
    HB_TRY(hb_params_create(net->ctx, net->dtype, &p));
    int rc = HB_OK;
    for (size_t b = 0; b < net->n_blocks && rc == HB_OK; b++) {
        const hb__net_block *nb = &net->blocks[b];
        rc = hb_params_add_block(p, nb->name, nb->kind, nb->ndim, nb->shape, NULL);
    }
    if (rc == HB_OK) rc = hb_params_finalize(p);
    for (size_t b = 0; b < net->n_blocks && rc == HB_OK; b++) {
        const hb__net_block *nb = &net->blocks[b];
        rc = hb_params_init_block(p, b, nb->init, nb->a, nb->b);
    }
    if (rc != HB_OK) {
        hb_params_free(p);
        return rc;
    }
    *out = p;
    return HB_OK;
}

int hb__model_create_net_hooks(const hb_net *net, const hb__net_hooks *hooks, hb_model **out) {
    if (out) *out = NULL;
    if (!net) return HB_EINVAL;
    hb_context *ctx = net->ctx;
    HB_CHECK(ctx, out != NULL && hooks != NULL, HB_EINVAL, "output pointer or hooks is NULL");
    HB_CHECK(ctx, net->input >= 0, HB_EINVAL,
             "the net has no input (hb_net_input_tokens or hb_net_input_features)");
    HB_CHECK(ctx, net->loss >= 0, HB_EINVAL,
             "the net has no loss (hb_net_loss_xent or hb_net_loss_mse)");
    HB_CHECK(ctx, net->n_blocks > 0, HB_EINVAL, "the net has no parameters (no linear, "
             "embedding, norm, attention or conv2d op)");
    hb_params *p = NULL;
    hb__net_model *nm = NULL;
    int rc = new_params(net, &p);
    if (rc == HB_OK) rc = new_state(net, hooks, &nm);
    if (rc == HB_OK) rc = hb__model_new(ctx, p, &nm->vt, out);
    if (rc != HB_OK) {
        hb_params_free(p);
        hb__free(ctx, nm);
        return rc;
    }
    (*out)->impl = nm;
    (*out)->kind = hooks->kind;
    (*out)->concurrent_hvp = true; /* every per-call state lives in the task (engine.h) */
    return HB_OK;
}

int hb_model_create_net(const hb_net *net, hb_model **out) {
    hb__net_hooks hooks = {0};
    return hb__model_create_net_hooks(net, &hooks, out);
}
