/* Internal model interface: the vtable every built-in model implements, and the
 * generic layer (lib/model/model.c) that validates arguments, loops over micro-batches,
 * converts dtypes and averages, so a model implementation only ever sees ONE
 * micro-batch, in its compute dtype, with arguments already checked. */
#ifndef HB_MODEL_INTERNAL_H
#define HB_MODEL_INTERNAL_H

#include "params/params_internal.h"

/* One micro-batch, owned by the model (copies of the caller's tensors). */
typedef struct hb__batch {
    hb_tensor *inputs;
    hb_tensor *targets;
    size_t n_samples;
} hb__batch;

/* The per-call state of one TASK of a model (docs/design.md, "Threads"): everything an
 * HVP writes besides its output. The model itself holds only its definition, parameters
 * and data, read-only during products, so tasks with distinct states may run hvp_multi /
 * block_hvp on one model at once (when the model allows it: hb_model.concurrent_hvp).
 * The public API uses the model's own task (hb_model.task0). */
typedef struct hb__model_task {
    hb_context *ctx;        /* errors and allocations of this task's calls */
    void *impl;             /* the implementation's state, made on first use (vt->task_free) */
    void *hvp_in, *hvp_out; /* HVP scratch of the generic layer, kept between calls */
    size_t hvp_cap;         /* capacity of each, in compute-dtype elements */
    /* θ and the micro-batches do not change between this task's calls: an implementation
     * may keep what depends only on them (the net engine: the θ passes of each batch)
     * from one product to the next. Set by the owner of a task that lives for one
     * analysis whose contract fixes the model (lib/slq/lanczos.c's workers: a run, a
     * trace); never on the model's own task0, so public calls always recompute. */
    bool theta_fixed;
    double *dp_buf;         /* data across ranks: the allreduce buffer (f64), grow-only */
    size_t dp_cap;          /* its capacity in doubles */
} hb__model_task;

typedef struct hb__model_vtable {
    const char *name; /* the model's name, as hb_model_name reports it */

    /* Validate a micro-batch for this model (shapes, dtypes, ranges, finiteness), set a
     * message and return the status on failure. n_samples receives its sample count.
     * NULL → the model takes no data. */
    int (*check_batch)(hb_model *m, const hb_tensor *inputs, const hb_tensor *targets,
                       size_t *n_samples);

    /* Loss of one micro-batch (mean over its samples) into *loss. If grad is non-NULL,
     * ACCUMULATE scale·∇(that loss) into grad (n elements of the compute dtype).
     * batch is NULL for models without data. */
    int (*loss_grad)(hb_model *m, const hb__batch *batch, double *loss, void *grad,
                     double scale);

    /* ACCUMULATE scale·H_batch·V into OUT for k directions; V and OUT are k×n row-major
     * in the compute dtype. Exact (R-operator). */
    int (*hvp_multi)(hb_model *m, hb__model_task *t, const hb__batch *batch, size_t k,
                     const void *V, void *OUT, double scale);

    /* Optional: ACCUMULATE scale·H_bb·V_b for block b, k directions, V_b and OUT_b are
     * k×numel(b). NULL → the generic layer pads with zeros and calls hvp_multi.
     * Both products keep every state they write in t (errors and allocations on t->ctx),
     * so they may run concurrently on distinct tasks when the model is concurrent_hvp. */
    int (*block_hvp)(hb_model *m, hb__model_task *t, const hb__batch *batch, size_t block,
                     size_t k, const void *V_b, void *OUT_b, double scale);

    /* Optional: free t->impl (non-NULL) with m->ctx's allocator. */
    void (*task_free)(hb_model *m, hb__model_task *t);

    /* Optional: correct predictions in one micro-batch into *correct, and the number of
     * predictions made into *total. NULL → HB_EUNSUPPORTED. */
    int (*accuracy)(hb_model *m, const hb__batch *batch, size_t *correct, size_t *total);

    /* Optional: synthetic micro-batch of n samples from (stream, first sample index);
     * creates the two tensors. NULL → HB_EUNSUPPORTED. */
    int (*synthetic)(hb_model *m, size_t n, uint64_t stream, uint64_t first,
                     hb_tensor **inputs, hb_tensor **targets);

    /* Optional: the model reads byte text (hb_model_set_text, lib/model/text.c) as windows
     * of *context tokens with next-token targets, bytes being tokens of a *vocab-token
     * vocabulary. A wrapper answers for the model it wraps, so the model never needs to
     * know its wrappers. NULL → the model takes no text data (HB_EUNSUPPORTED). */
    void (*text_shape)(const hb_model *m, size_t *vocab, size_t *context);

    /* Optional: the model classifies images (hb_model_set_images, lib/data/images.c): the
     * per-sample input shape, ndim 1 {features} (a flattened image) or 3 {channels, side,
     * side} (a convolutional model), and the number of classes. NULL → HB_EUNSUPPORTED. */
    void (*image_shape)(const hb_model *m, int *ndim, int64_t dims[3], int64_t *classes);

    /* Optional per-step hooks of a model that trains on a schedule of its own (the SST
     * wrapper's iterations): the trainer (lib/train) calls begin_step before the gradient
     * of step `step` and end_step after the update, through hb__model_begin_step /
     * hb__model_end_step, and never asks what the model is. begin_step may reset opt's
     * state (opt may be NULL) and returns the learning-rate factor of the step in
     * *lr_scale. NULL → nothing to do, factor 1. */
    int (*begin_step)(hb_model *m, int64_t step, hb_optimizer *opt, double *lr_scale);
    int (*end_step)(hb_model *m);

    /* Optional: an ESTIMATE of the work of one product of k directions with H_bb (block b)
     * or H (block = SIZE_MAX) on ONE sample, in multiply-adds (> 0), into *cost. Only
     * compared with other estimates of the same model and with the SLQ's own vector work,
     * to start the longest SLQ tasks first (hb__model_block_cost); never changes a result.
     * It may overwrite the plan of m->task0 (the public API's task, idle while the SLQ
     * prepares a run); errors (HB_ENOMEM) on m->ctx. NULL → unknown. */
    int (*block_cost)(hb_model *m, size_t block, size_t k, double *cost);

    /* Free impl (not the params, not the batches). */
    void (*destroy)(hb_model *m);
} hb__model_vtable;

struct hb_model {
    hb_context *ctx;
    hb_params *params;
    const hb__model_vtable *vt;
    void *impl;                 /* model-specific state */
    int kind;                   /* hb_model_kind, 0 for callbacks */
    bool exact_hvp;
    hb_dtype compute;           /* f32 or f64: params dtype, f32 for bf16 params */
    int64_t default_batch;      /* HB_MK_BATCH */
    hb__batch *batches;
    size_t n_batches, cap_batches;
    size_t n_samples;
    void *theta_f32;            /* bf16 params only: f32 copy of θ, refreshed per call */
    bool concurrent_hvp;        /* products may run on several tasks at once */
    bool data_parallel;         /* hb_model_set_data_parallel: the data are this rank's shard */
    hb__model_task task0;       /* the task of the public API's calls (on ctx) */
};

/* ---- Tasks (concurrent products on one model) ----------------------------------------
 * hb__model_task_init: an empty task whose calls report on ctx (a worker context).
 * hb__model_task_free: free its state (with m->ctx's allocator); the task may be reused.
 * hb__model_tasks_prepare: before products on several tasks: checks that the model holds
 * data and refreshes the f32 copy of bf16 θ ONCE (tasks never write it).
 * hb__model_hvp_task: OUT (k×len, f64) = H·V for the full Hessian (block = SIZE_MAX,
 * len = n) or H_bb (len = numel(b)), V k×len f64 finite (the caller's duty), on task t,
 * without touching anything outside t but OUT. */
void hb__model_task_init(hb__model_task *t, hb_context *ctx);
void hb__model_task_free(hb_model *m, hb__model_task *t);
int hb__model_tasks_prepare(hb_model *m);
int hb__model_hvp_task(hb_model *m, hb__model_task *t, size_t block, size_t k, const double *V,
                       double *OUT);

/* hb__model_collective: m's data are a shard (hb_model_set_data_parallel) AND its context
 * has a communicator of size > 1: every loss, gradient, accuracy and product of m is then
 * a collective (one allreduce_sum on m->ctx's hook, on the calling thread), so callers
 * must run them serially, in the same order on every rank (lib/slq: hb__linop_serial and
 * no task distribution; lib/train: checkpoints by rank 0). */
bool hb__model_collective(const hb_model *m);

/* hb__model_new: allocate a model shell over params (taken on success) with vtable vt;
 * the caller then sets impl, kind and default_batch. */
int hb__model_new(hb_context *ctx, hb_params *params, const hb__model_vtable *vt,
                  hb_model **out);

/* hb__model_begin_step / hb__model_end_step: run the model's per-step hooks if it has
 * them (vtable begin_step/end_step); *lr_scale = 1 for a model without. */
int hb__model_begin_step(hb_model *m, int64_t step, hb_optimizer *opt, double *lr_scale);
int hb__model_end_step(hb_model *m);

/* hb__model_theta: θ in the compute dtype. For bf16 parameters this is an f32 copy that
 * the generic layer refreshes before every evaluation; otherwise the params' buffer. */
const void *hb__model_theta(hb_model *m);

/* hb__model_block_cost: the estimated multiply-adds of one product of k directions with
 * H_bb (block b) or H (block = SIZE_MAX) over all of the model's samples (vtable
 * block_cost × samples) into *cost; 0 = unknown (the model has no estimate). For
 * scheduling only (lib/slq: longest SLQ tasks first, docs/design.md "Threads"). Returns
 * HB_OK or the estimate's error (HB_ENOMEM), with its message on m->ctx. */
int hb__model_block_cost(hb_model *m, size_t block, size_t k, double *cost);

/* ---- The registry of built-in kinds -------------------------------------------------
 * The model core (lib/model/) knows the built-in kinds only through this table, which the
 * built-ins fill (lib/models/registry.c): it never names one (tests/check_layering.sh).
 * hb_model_config_create takes a kind's keys from its entry, hb_model_create calls its
 * create. */
typedef struct hb_model_config hb_model_config;

/* One option of a kind: default and inclusive bounds; real = set with set_f64. */
typedef struct hb__model_key_spec {
    hb_model_key key;
    bool real;
    double def, lo, hi;
} hb__model_key_spec;

typedef struct hb__model_builtin {
    hb_model_kind kind;
    const char *name;                     /* as hb_model_name reports it */
    const hb__model_key_spec *keys;       /* the kind's own keys (the common ones are */
    size_t n_keys;                        /* config.c's: dtype, batch) */
    /* Read the kind's keys from cfg, build params + impl. */
    int (*create)(hb_context *ctx, const hb_model_config *cfg, hb_model **out);
} hb__model_builtin;

/* hb__model_builtin_of: the registered entry of kind, NULL if none. */
const hb__model_builtin *hb__model_builtin_of(hb_model_kind kind);

/* Config access for constructors (the config layout is private to config.c). */
int64_t hb__config_i64(const hb_model_config *cfg, hb_model_key key);
double hb__config_f64(const hb_model_config *cfg, hb_model_key key);
hb_model_kind hb__config_kind(const hb_model_config *cfg);
/* hb__config_entries: every key of cfg's kind (common keys first, then the kind's own, in
 * registry order) with its value, into out[0..max); returns the number written. */
size_t hb__config_entries(const hb_model_config *cfg, hb__origin_key *out, size_t max);

/* hb__model_set_windows: replace m's data (a model with text_shape) by n_batches
 * micro-batches of windows of the token sequence tok[0 … len) (ids < the model's
 * vocabulary, checked by the caller), sample s starting at (s·T) mod (len − T)
 * (lib/model/text.c; hb_model_set_text and hb_model_set_corpus). HB_EFORMAT when
 * len < T + 1; HB_ENOMEM. Nothing changes on failure. */
int hb__model_set_windows(hb_model *m, const uint8_t *tok, size_t len, size_t n_batches,
                          uint64_t first);

/* hb__model_data_changed: record in the params' origin what the model's data now is
 * (HB__DATA_*; for synthetic data the context seed and the arguments of the call; for
 * external data the micro-batch count, 0 for the caller's own batches). A no-op for params without origin. Never fails. */
void hb__model_data_changed(hb_model *m, uint32_t data, uint64_t stream, uint64_t batches,
                            uint64_t first);

#endif
