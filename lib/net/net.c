/* The network builder (include/hessblock/net.h): activations, ops and pending parameter
 * blocks of a definition. Nothing here computes; lib/net/engine.c makes models.
 *
 * Failed calls change nothing: an op is built in two steps, hb__net_begin_op (checks
 * its inputs and output name) and hb__net_commit_op (appends it), and the blocks it adds
 * in between stay PENDING (beyond net->n_blocks, invisible to every query) until the
 * commit; the next begin drops them. Arrays grow before anything is appended, so a failed
 * allocation leaves the definition as it was. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "net/net_build.h"

/* ---- small helpers ---- */

/* Grow *arr (elements of es bytes, *cap of them) to hold need. Contents kept. */
static int reserve(hb_context *ctx, void **arr, size_t *cap, size_t need, size_t es,
                   const char *what) {
    if (need <= *cap) return HB_OK;
    size_t ncap = *cap ? 2 * *cap : 8;
    if (ncap < need) ncap = need;
    void *n = hb__calloc(ctx, ncap, es, what);
    if (!n) return HB_ENOMEM;
    if (*arr) memcpy(n, *arr, *cap * es);
    hb__free(ctx, *arr);
    *arr = n;
    *cap = ncap;
    return HB_OK;
}

static bool valid_name(const char *name) {
    if (!name) return false;
    size_t len = strnlen(name, HB_MAX_BLOCK_NAME + 1);
    return len >= 1 && len <= HB_MAX_BLOCK_NAME;
}

static int find_act(const hb_net *net, const char *name) {
    for (size_t i = 0; i < net->n_acts; i++)
        if (strcmp(net->acts[i].name, name) == 0) return (int)i;
    return -1;
}

/* Index of block `name` among the first n blocks, SIZE_MAX if none. */
static size_t find_block(const hb_net *net, const char *name, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(net->blocks[i].name, name) == 0) return i;
    return SIZE_MAX;
}

/* Fill rows/width of an activation from its per-sample dims; HB_ESHAPE/HB_EOVERFLOW. */
static int set_shape(hb_context *ctx, hb__act *a, int ndim, const int64_t *dims,
                     const char *what) {
    HB_CHECK(ctx, ndim >= 1 && ndim <= 3, HB_ESHAPE,
             "%s: a per-sample shape has 1 to 3 dimensions, got %d", what, ndim);
    HB_CHECK(ctx, dims != NULL, HB_EINVAL, "%s: shape is NULL", what);
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        HB_CHECK(ctx, dims[d] >= 1, HB_ESHAPE, "%s: dimension %d is %lld, must be >= 1", what, d,
                 (long long)dims[d]);
        HB_CHECK(ctx, hb__mul_size(numel, (size_t)dims[d], &numel) && numel <= INT32_MAX,
                 HB_EOVERFLOW, "%s: more than 2^31 elements per sample", what);
    }
    a->ndim = ndim;
    for (int d = 0; d < 3; d++) a->dims[d] = d < ndim ? dims[d] : 1;
    a->rows = ndim == 2 ? (size_t)dims[0] : 1;
    a->width = numel / a->rows;
    return HB_OK;
}

/* Append activation *a (HB_ENOMEM leaves the net unchanged). */
static int push_act(hb_net *net, const hb__act *a) {
    HB_TRY(reserve(net->ctx, (void **)&net->acts, &net->cap_acts, net->n_acts + 1,
                   sizeof *net->acts, "net activations"));
    net->acts[net->n_acts++] = *a;
    return HB_OK;
}

/* ---- the net ---- */

int hb_net_create(hb_context *ctx, hb_dtype dtype, hb_net **out) {
    if (out) *out = NULL;
    if (!ctx) return HB_EINVAL;
    HB_CHECK(ctx, out != NULL, HB_EINVAL, "output pointer is NULL");
    HB_CHECK(ctx, dtype == HB_F32 || dtype == HB_F64 || dtype == HB_BF16, HB_EDTYPE,
             "a net's parameters are f32, f64 or bf16, got dtype %d", (int)dtype);
    hb_net *net = hb__calloc(ctx, 1, sizeof *net, "net");
    if (!net) return HB_ENOMEM;
    net->ctx = ctx;
    net->dtype = dtype;
    net->input = -1;
    net->loss = -1;
    *out = net;
    return HB_OK;
}

void hb_net_free(hb_net *net) {
    if (!net) return;
    hb_context *ctx = net->ctx;
    hb__free(ctx, net->acts);
    hb__free(ctx, net->ops);
    hb__free(ctx, net->blocks);
    hb__free(ctx, net);
}

hb_context *hb__net_ctx(const hb_net *net) { return net ? net->ctx : NULL; }

const hb__act *hb__net_act(const hb_net *net, int index) {
    return net && index >= 0 && (size_t)index < net->n_acts ? &net->acts[index] : NULL;
}

const char *hb__net_shape_str(const hb__act *a, char *buf, size_t size) {
    static const char *const dim_names[3][3] = {{"F"}, {"T", "C"}, {"C", "H", "W"}};
    if (a->tokens) {
        snprintf(buf, size, "(T=%lld) token ids", (long long)a->dims[0]);
        return buf;
    }
    int n = snprintf(buf, size, "(");
    for (int d = 0; d < a->ndim && n >= 0 && (size_t)n < size; d++)
        n += snprintf(buf + n, size - (size_t)n, "%s%s=%lld", d ? ", " : "",
                      dim_names[a->ndim - 1][d], (long long)a->dims[d]);
    if (n >= 0 && (size_t)n < size) snprintf(buf + n, size - (size_t)n, ")");
    return buf;
}

/* ---- the input ---- */

/* Checks shared by both inputs: a net without an input, a new valid name. */
static int check_input(hb_net *net, const char *name, const char *what) {
    hb_context *ctx = net->ctx;
    HB_CHECK(ctx, valid_name(name), HB_EINVAL, "%s input: the name must be 1..%d bytes", what,
             HB_MAX_BLOCK_NAME);
    HB_CHECK(ctx, net->input < 0, HB_ESTATE, "%s input '%s': the net already has the input '%s'",
             what, name, net->acts[net->input].name);
    HB_CHECK(ctx, find_act(net, name) < 0, HB_EINVAL, "%s input: activation '%s' exists already",
             what, name);
    return HB_OK;
}

static int push_input(hb_net *net, const hb__act *a) {
    HB_TRY(push_act(net, a));
    net->input = (int)net->n_acts - 1;
    return HB_OK;
}

int hb_net_input_tokens(hb_net *net, const char *name, int64_t context, int64_t vocab) {
    if (!net) return HB_EINVAL;
    HB_TRY(check_input(net, name, "tokens"));
    HB_CHECK(net->ctx, context >= 1 && context <= INT32_MAX && vocab >= 1 && vocab <= INT32_MAX,
             HB_EINVAL, "tokens input '%s': context %lld and vocab %lld must be in 1..2^31-1",
             name, (long long)context, (long long)vocab);
    hb__act a = {0};
    strcpy(a.name, name);
    HB_TRY(set_shape(net->ctx, &a, 1, &context, "tokens input"));
    a.tokens = true;
    a.vocab = vocab;
    a.producer = -1;
    return push_input(net, &a);
}

int hb_net_input_features(hb_net *net, const char *name, int ndim, const int64_t *shape) {
    if (!net) return HB_EINVAL;
    HB_TRY(check_input(net, name, "features"));
    HB_CHECK(net->ctx, shape != NULL, HB_EINVAL, "features input '%s': shape is NULL", name);
    hb__act a = {0};
    strcpy(a.name, name);
    HB_TRY(set_shape(net->ctx, &a, ndim, shape, "features input"));
    a.producer = -1;
    return push_input(net, &a);
}

/* ---- ops: begin, blocks, commit ---- */

int hb__net_begin_op(hb_net *net, const hb__op_class *cls, const char *const *in, int n_in,
                     const char *out, hb__net_op *op) {
    if (!net || !cls || !op) return HB_EINVAL;
    hb_context *ctx = net->ctx;
    net->n_pending = net->n_blocks; /* drop the blocks of an op that failed */
    net->pending_cls = NULL;
    memset(op, 0, sizeof *op);
    op->cls = cls;
    op->out = -1;
    for (int b = 0; b < HB__NET_MAX_BLK; b++) op->blk[b] = SIZE_MAX;
    const char *o = cls->loss ? "loss" : valid_name(out) ? out : "?";
    HB_CHECK(ctx, in != NULL && n_in >= 1 && n_in <= HB__NET_MAX_IN, HB_EINVAL,
             "%s -> '%s': %d inputs", cls->name, o, n_in);
    if (cls->loss) {
        HB_CHECK(ctx, net->loss < 0, HB_ESTATE, "%s loss: the net already has a %s loss",
                 cls->name, net->ops[net->loss].cls->name);
    } else {
        HB_CHECK(ctx, valid_name(out), HB_EINVAL, "%s: the output name must be 1..%d bytes",
                 cls->name, HB_MAX_BLOCK_NAME);
        HB_CHECK(ctx, find_act(net, out) < 0, HB_EINVAL,
                 "%s -> '%s': activation '%s' exists already (activations are written once)",
                 cls->name, out, out);
    }
    for (int i = 0; i < n_in; i++) {
        HB_CHECK(ctx, valid_name(in[i]), HB_EINVAL, "%s -> '%s': input %d is NULL or a bad name",
                 cls->name, o, i);
        int a = find_act(net, in[i]);
        HB_CHECK(ctx, a >= 0, HB_ENOTFOUND, "%s -> '%s': no activation '%s'", cls->name, o, in[i]);
        /* Token ids are integers: only an embedding can read them. */
        HB_CHECK(ctx, !net->acts[a].tokens || strcmp(cls->name, "embedding") == 0, HB_ESHAPE,
                 "%s -> '%s': input '%s' holds token ids; only an embedding reads them",
                 cls->name, o, in[i]);
        op->in[i] = a;
    }
    op->n_in = n_in;
    net->pending_cls = cls;
    if (!cls->loss) strcpy(net->pending_out, out);
    return HB_OK;
}

int hb__net_add_block(hb_net *net, hb__net_op *op, const char *name, hb_block_kind kind,
                      int ndim, const int64_t *shape, hb_init init, double a, double b) {
    if (!net || !op) return HB_EINVAL;
    hb_context *ctx = net->ctx;
    HB_CHECK(ctx, op->n_blk < HB__NET_MAX_BLK, HB_EINVAL, "%s: more than %d blocks",
             op->cls->name, HB__NET_MAX_BLK);
    if (!name) {
        op->blk[op->n_blk++] = SIZE_MAX;
        return HB_OK;
    }
    HB_CHECK(ctx, valid_name(name), HB_EINVAL, "%s: block name must be 1..%d bytes",
             op->cls->name, HB_MAX_BLOCK_NAME);
    HB_CHECK(ctx, find_block(net, name, net->n_pending) == SIZE_MAX, HB_EINVAL,
             "%s: block '%s' exists already", op->cls->name, name);
    HB_CHECK(ctx, ndim >= 1 && ndim <= HB_MAX_DIMS && shape != NULL, HB_ESHAPE,
             "%s: block '%s' has %d dimensions", op->cls->name, name, ndim);
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        HB_CHECK(ctx, shape[d] >= 1, HB_ESHAPE, "%s: block '%s' dimension %d is %lld",
                 op->cls->name, name, d, (long long)shape[d]);
        HB_CHECK(ctx, hb__mul_size(numel, (size_t)shape[d], &numel), HB_EOVERFLOW,
                 "%s: block '%s' is too large", op->cls->name, name);
    }
    HB_TRY(reserve(ctx, (void **)&net->blocks, &net->cap_blocks, net->n_pending + 1,
                   sizeof *net->blocks, "net blocks"));
    hb__net_block *nb = &net->blocks[net->n_pending];
    memset(nb, 0, sizeof *nb);
    strcpy(nb->name, name);
    nb->kind = kind;
    nb->ndim = ndim;
    memcpy(nb->shape, shape, (size_t)ndim * sizeof *shape);
    nb->init = init;
    nb->a = a;
    nb->b = b;
    op->blk[op->n_blk++] = net->n_pending++;
    return HB_OK;
}

int hb__net_commit_op(hb_net *net, hb__net_op *op, int ndim, const int64_t *dims) {
    if (!net || !op) return HB_EINVAL;
    hb_context *ctx = net->ctx;
    HB_CHECK(ctx, net->pending_cls == op->cls, HB_ESTATE,
             "%s: op committed without a successful hb__net_begin_op", op->cls->name);
    hb__act a = {0};
    if (!op->cls->loss) {
        strcpy(a.name, net->pending_out);
        HB_TRY(set_shape(ctx, &a, ndim, dims, op->cls->name));
        a.producer = (int)net->n_ops;
    }
    HB_TRY(reserve(ctx, (void **)&net->ops, &net->cap_ops, net->n_ops + 1, sizeof *net->ops,
                   "net ops"));
    if (!op->cls->loss) {
        op->out = (int)net->n_acts;
        HB_TRY(push_act(net, &a));
    } else {
        op->out = -1;
        net->loss = (int)net->n_ops;
    }
    net->ops[net->n_ops++] = *op;
    net->n_blocks = net->n_pending;
    net->pending_cls = NULL;
    return HB_OK;
}

/* ---- blocks ---- */

static int block_of(const hb_net *net, const char *block, size_t *index) {
    if (!net) return HB_EINVAL;
    HB_CHECK(net->ctx, block != NULL, HB_EINVAL, "block name is NULL");
    *index = find_block(net, block, net->n_blocks);
    HB_CHECK(net->ctx, *index != SIZE_MAX, HB_ENOTFOUND, "the net has no block '%s'", block);
    return HB_OK;
}

int hb_net_rename_block(hb_net *net, const char *block, const char *new_name) {
    size_t i;
    HB_TRY(block_of(net, block, &i));
    HB_CHECK(net->ctx, valid_name(new_name), HB_EINVAL, "new name of block '%s' must be 1..%d bytes",
             block, HB_MAX_BLOCK_NAME);
    size_t other = find_block(net, new_name, net->n_blocks);
    HB_CHECK(net->ctx, other == SIZE_MAX || other == i, HB_EINVAL,
             "cannot rename block '%s': block '%s' exists already", block, new_name);
    strcpy(net->blocks[i].name, new_name);
    return HB_OK;
}

int hb_net_set_block_kind(hb_net *net, const char *block, hb_block_kind kind) {
    size_t i;
    HB_TRY(block_of(net, block, &i));
    HB_CHECK(net->ctx, kind >= HB_BLOCK_OTHER && kind <= HB_BLOCK_LINEAR, HB_EINVAL,
             "unknown block kind %d for block '%s'", (int)kind, block);
    net->blocks[i].kind = kind;
    return HB_OK;
}

int hb_net_set_init(hb_net *net, const char *block, hb_init init, double a, double b) {
    size_t i;
    HB_TRY(block_of(net, block, &i));
    HB_CHECK(net->ctx, init >= HB_INIT_ZEROS && init <= HB_INIT_TORCH_LAYERNORM_BIAS, HB_EINVAL,
             "unknown initialiser %d for block '%s'", (int)init, block);
    HB_CHECK(net->ctx, isfinite(a) && isfinite(b), HB_EINVAL,
             "init parameters of block '%s' must be finite (%g, %g)", block, a, b);
    net->blocks[i].init = init;
    net->blocks[i].a = a;
    net->blocks[i].b = b;
    return HB_OK;
}

/* ---- queries ---- */

size_t hb_net_op_count(const hb_net *net) {
    return net ? net->n_ops + (net->input >= 0 ? 1 : 0) : 0;
}

int hb_net_activation_shape(const hb_net *net, const char *name, int *ndim, int64_t shape[3]) {
    if (!net) return HB_EINVAL;
    HB_CHECK(net->ctx, name != NULL && ndim != NULL && shape != NULL, HB_EINVAL,
             "name, ndim or shape is NULL");
    int a = find_act(net, name);
    HB_CHECK(net->ctx, a >= 0, HB_ENOTFOUND, "the net has no activation '%s'", name);
    *ndim = net->acts[a].ndim;
    for (int d = 0; d < 3; d++) shape[d] = d < *ndim ? net->acts[a].dims[d] : 0;
    return HB_OK;
}
