/* Internal network engine (lib/net/): the op interface every layer implements, and the
 * definition structures the builder (net.c) fills and the engine (engine.c) runs.
 *
 * ONE layout for every pass (docs/design.md "Layers"):
 *   θ side:  an activation of N samples, per-sample shape (rows_per_sample × width), is
 *            stored (N·rows, width) row-major: rows = N·T for a (T, C) sequence, rows = N
 *            for (F) features and for (C, H, W) images (width = C·H·W, channel-major).
 *   R side:  k directions INTERLEAVED per row: (rows, k, width), direction j of row r at
 *            (r·k + j)·width. Every R-product of a linear map becomes one wide gemm.
 *   Parameter directions travel as hb__dir values (pointer, stride): block b's direction
 *            j is at V[b].p + j·V[b].ld; never stashed in a model struct.
 *
 * Pass conventions (every op class):
 *   forward   WRITES y (and its saved state);
 *   backward  ACCUMULATES gx[i] (NULL: input i needs no gradient) and gW[b] (NULL: not
 *             wanted); the engine zeroes every gradient buffer at its first writer, unless
 *             that op's class sets writes_first: then the first writer gets gx_first[i]
 *             (Rgx_first[i] in the R-backward) true and must WRITE gx[i] (Rgx[i]) instead
 *             of accumulating — the old hand-written models' overwrite, which saves a
 *             memset and a read of zeros per buffer;
 *   rforward  WRITES Ry (and its rsaved state); Rx[i] NULL = zero direction,
 *             V[b].p NULL = zero direction for block b;
 *   rbackward ACCUMULATES Rgx[i] (NULL: not needed) and O[b] (O[b].p NULL: not wanted);
 *             it may read gy (the θ gradient of y) and everything saved; bwd_ran says
 *             that the op's own θ backward ran earlier in this call, with this gy and
 *             with gx[i] non-NULL wherever Rgx[i] is (so what that backward left in
 *             saved is valid: attention keeps its gradients of y, q, k, v there).
 * Loss ops have no output activation: forward sets *loss (mean over the micro-batch),
 * backward accumulates scale·∂L/∂x into gx[0], rbackward accumulates scale·∂²L/∂x²·Rx into
 * Rgx[0]; `targets` holds the micro-batch's targets in the compute dtype (mse) or i32 (xent).
 * dt is HB_F32 or HB_F64; all float pointers are of that dtype (token ids are i32). */
#ifndef HB_NET_INTERNAL_H
#define HB_NET_INTERNAL_H

#include "core/internal.h"
#include "hessblock/net.h"

#define HB__NET_MAX_IN 2    /* inputs of one op (add has two) */
#define HB__NET_MAX_BLK 8   /* parameter blocks of one op (attention: 4 weights + 4 biases) */
#define HB__NET_MAX_ARG 6

/* A parameter direction or R-gradient output: block direction j at p + j·ld elements. */
typedef struct hb__dir {
    void *p;   /* NULL: zero (directions) / not wanted (outputs) */
    size_t ld; /* elements between directions */
} hb__dir;

/* An activation of the definition. */
typedef struct hb__act {
    char name[HB_MAX_BLOCK_NAME + 1];
    int ndim;            /* per-sample dims: 1 (F), 2 (T, C), 3 (C, H, W) */
    int64_t dims[3];
    size_t rows;         /* rows per sample in the layout: T for (T, C), else 1 */
    size_t width;        /* elements per row: C, F, or C·H·W */
    bool tokens;         /* i32 token ids (the tokens input): no gradient, no R */
    int64_t vocab;       /* tokens only */
    int producer;        /* index of the op that writes it, -1 for the input */
} hb__act;

typedef struct hb__net_op hb__net_op;
typedef struct hb__op_call hb__op_call;

/* One kind of operation. */
typedef struct hb__op_class {
    const char *name; /* "linear", "attention", … (messages) */
    bool loss;        /* a loss: no output activation */
    /* Elements (compute dtype) the op keeps from forward to backward (saved) and from
     * rforward to rbackward (rsaved, per direction: the engine provides k times this),
     * and of scratch per call (any pass; k = 0 for the θ passes), for N samples, and for
     * passes that run on up to `threads` threads (hb__op_call.threads). NULL = 0. */
    size_t (*saved)(const hb__net_op *op, const hb__act *acts, size_t N);
    size_t (*rsaved)(const hb__net_op *op, const hb__act *acts, size_t N);
    size_t (*scratch)(const hb__net_op *op, const hb__act *acts, size_t N, size_t k,
                      int threads);
    int (*forward)(const hb__op_call *c);
    int (*backward)(const hb__op_call *c);
    int (*rforward)(const hb__op_call *c);
    int (*rbackward)(const hb__op_call *c);
    /* The backward passes honour gx_first / Rgx_first (else the engine zeroes the
     * buffers for them). */
    bool writes_first;
    /* Losses only (NULL otherwise): correct predictions and predictions made, for
     * hb_model accuracy (xent). */
    int (*accuracy)(const hb__op_call *c, size_t *correct, size_t *total);
} hb__op_class;

/* An operation of the definition. The builder fills it; the op class reads it. */
struct hb__net_op {
    const hb__op_class *cls;
    int n_in;
    int in[HB__NET_MAX_IN]; /* activation indices */
    int out;                /* activation index, -1 for a loss */
    int n_blk;
    size_t blk[HB__NET_MAX_BLK]; /* parameter block indices; SIZE_MAX = absent (no bias) */
    int64_t iarg[HB__NET_MAX_ARG]; /* op-specific: see each op's constructor */
    double farg[2];
};

/* Everything one pass of one op needs; the engine sets the pointers. */
struct hb__op_call {
    hb_context *ctx;
    hb_dtype dt;
    const hb__net_op *op;
    const hb__act *acts;     /* the definition's activations (shapes) */
    size_t N;                /* samples of the micro-batch */
    size_t k;                /* directions (R passes) */
    int threads;             /* most threads an op's own loop may use: the scratch was sized
                              * for it (0 or 1: serial) */
    /* θ side */
    const void *x[HB__NET_MAX_IN];
    void *y;
    void *saved;
    const void *gy;
    void *gx[HB__NET_MAX_IN];
    const void *W[HB__NET_MAX_BLK]; /* θ of each block (NULL where absent) */
    void *gW[HB__NET_MAX_BLK];
    /* R side, (rows, k, width) */
    const void *Rx[HB__NET_MAX_IN];
    void *Ry;
    void *rsaved;
    const void *Rgy;
    void *Rgx[HB__NET_MAX_IN];
    hb__dir V[HB__NET_MAX_BLK];
    hb__dir O[HB__NET_MAX_BLK];
    /* first writers (classes with writes_first only, see the pass conventions): WRITE
     * gx[i] / Rgx[i] instead of accumulating */
    bool gx_first[HB__NET_MAX_IN];
    bool Rgx_first[HB__NET_MAX_IN];
    bool bwd_ran;            /* R-backward: this op's θ backward ran in this call */
    /* losses */
    const void *targets;
    double scale;
    double *loss;
    void *scratch;
};

/* The op classes (one per lib/net/op_*.c). */
extern const hb__op_class hb__op_embedding, hb__op_pos_embedding, hb__op_linear,
    hb__op_layernorm, hb__op_rmsnorm, hb__op_attention, hb__op_activation, hb__op_conv2d,
    hb__op_pool2d, hb__op_flatten, hb__op_add, hb__op_xent, hb__op_mse;

/* ---- Builder helpers for op constructors (net.c) ---------------------------------------- */

/* hb__net_begin_op: look up the inputs (HB_ENOTFOUND names the op and the activation),
 * check the output name is new, and fill op->in / n_in. */
int hb__net_begin_op(hb_net *net, const hb__op_class *cls, const char *const *in, int n_in,
                     const char *out, hb__net_op *op);
/* hb__net_add_block: a pending block of the op (created in the params when a model is
 * made), with its default init; index into op->blk. name NULL → absent (SIZE_MAX). */
int hb__net_add_block(hb_net *net, hb__net_op *op, const char *name, hb_block_kind kind,
                      int ndim, const int64_t *shape, hb_init init, double a, double b);
/* hb__net_commit_op: append the op and its output activation of the given per-sample
 * shape (rows = dims[0] for ndim 2, else 1); on failure the net is unchanged (blocks the
 * op added are dropped). */
int hb__net_commit_op(hb_net *net, hb__net_op *op, int ndim, const int64_t *dims);
/* Shape text for messages: "(T=64, C=128)"-style into buf. */
const char *hb__net_shape_str(const hb__act *a, char *buf, size_t size);
/* The context of a net (messages). */
hb_context *hb__net_ctx(const hb_net *net);
const hb__act *hb__net_act(const hb_net *net, int index);

/* ---- Models made from nets (built-ins use this with their own hooks) ------------------- */
typedef struct hb__net_hooks {
    const char *name;   /* hb_model_name ("gpt"); NULL → "net" */
    int kind;           /* hb_model_kind_of; 0 for user nets */
    /* optional, as hb__model_vtable (model_internal.h); state is passed as m->... see engine */
    int (*synthetic)(hb_model *m, size_t n, uint64_t stream, uint64_t first,
                     hb_tensor **inputs, hb_tensor **targets);
    void (*text_shape)(const hb_model *m, size_t *vocab, size_t *context);
    void *user;         /* built-in state, freed with user_free */
    void (*user_free)(hb_context *ctx, void *user);
    /* optional, as hb__model_vtable.image_shape (last, so positional initialisers of
     * models without it need not name it) */
    void (*image_shape)(const hb_model *m, int *ndim, int64_t dims[3], int64_t *classes);
} hb__net_hooks;

/* hb__model_create_net_hooks: as hb_model_create_net, with the built-in's hooks (copied;
 * user is owned by the model on success). */
int hb__model_create_net_hooks(const hb_net *net, const hb__net_hooks *hooks, hb_model **out);
/* hb__net_model_user: the hooks' user state of a model made by the above (NULL otherwise). */
void *hb__net_model_user(const hb_model *m);

#endif
