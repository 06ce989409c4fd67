/* libhessblock — the training loop.
 *
 * A trainer runs steps of an optimizer over a model: for step t it sets the step's data,
 * computes L(θ_t) and ∇L(θ_t), applies one update, and appends a record (loss, gradient
 * norm, learning rate, per-block weight norms; held-out loss and accuracy at evaluation
 * steps) that the caller reads back through accessors for plots.
 *
 * Data per step, in order of precedence:
 *   1. a caller data callback (hb_trainer_set_data_fn), called before every step t;
 *   2. the model's built-in synthetic data: a FRESH batch per step from the training
 *      stream, hb_model_set_synthetic(m, HB_TR_TRAIN_BATCHES, HB_TR_DATA_STREAM,
 *      first = t·HB_TR_TRAIN_BATCHES·batch), so no sample is seen twice;
 *   3. whatever data the model already holds (models without data, e.g. quadratic or
 *      user callbacks, are used as they are).
 * Held-out evaluation every HB_TR_EVAL_EVERY steps (and after the last step of a run):
 * an eval callback if set, else HB_TR_EVAL_BATCHES synthetic micro-batches starting at
 * sample HB_TR_EVAL_OFFSET of the same stream (disjoint from every training sample for
 * t·batches·batch < offset), else the loss on the step's data.
 *
 * The update: an hb_optimizer (optim.h) when one is given (its lr, schedule and per-block
 * options apply; the recorded lr is global lr × schedule factor × HB_OPT_LR_MULT, the
 * multiplier an SST wrapper sets to its re-warm factor each step), otherwise a built-in
 * plain gradient-descent step θ ← θ − lr·∇L with lr = HB_TR_LR (× the SST re-warm) on
 * the trainable blocks (hb_params_set_trainable).
 * Checkpoints (hb_trainer_set_checkpoint): after every `every`-th step, the parameters and
 * the optimizer state are saved atomically (checkpoint.h) to one path, overwritten. Models built by hb_sst_create
 * (sst.h) are recognised and driven by their schedule (active pairs, re-SVD, optimizer
 * state reset, learning-rate re-warm through HB_OPT_LR_MULT, s ≥ 0), see sst.h.
 *
 * Progress: hb__progress(ctx, "train", t+1, total) after every step; a callback that
 * returns nonzero stops the run with HB_ECANCELED (the step that was reported is
 * complete and recorded). */
#ifndef HESSBLOCK_TRAIN_H
#define HESSBLOCK_TRAIN_H

#include "hessblock/core.h"
#include "hessblock/model.h"
#include "hessblock/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hb_trainer hb_trainer;

/* hb_trainer_create: a trainer over model m (borrowed; must outlive the trainer) with
 * optimizer opt (borrowed; may be NULL for the built-in gradient-descent step; when given
 * it must be over m's params). Returns HB_OK, HB_EINVAL (NULL, optimizer over other
 * params), HB_ENOMEM. */
HB_API int hb_trainer_create(hb_model *m, hb_optimizer *opt, hb_trainer **out);

/* hb_trainer_free: NULL is a no-op. The model and optimizer are not freed. */
HB_API void hb_trainer_free(hb_trainer *tr);

/* Options. Values are ABI and never reused. Defaults in brackets. */
typedef enum hb_trainer_opt {
    HB_TR_LR = 1,             /* f64: step size of the built-in GD step [0.01], > 0       */
    HB_TR_EVAL_EVERY = 2,     /* i64: evaluate every this many steps, 0 = never [0]        */
    HB_TR_EVAL_BATCHES = 3,   /* i64: held-out synthetic micro-batches per evaluation [4]  */
    HB_TR_EVAL_OFFSET = 4,    /* i64: first held-out sample index [2^40]                   */
    HB_TR_TRAIN_BATCHES = 5,  /* i64: synthetic micro-batches per training step [1]        */
    HB_TR_DATA_STREAM = 6,    /* i64: stream of the synthetic data [0] (the model's own)   */
    HB_TR_BLOCK_NORMS = 7,    /* i64: 1 = record ‖θ_b‖₂ per block every step [1]           */
    HB_TR_CHECKPOINT_EVERY = 8 /* i64: checkpoint every this many steps, 0 = never [0];
                                  nonzero needs a path first (HB_ESTATE)                   */
} hb_trainer_opt;

/* Setters/getters. Returns HB_OK, HB_EINVAL (NULL, unknown key, wrong setter for the key,
 * value out of range). */
HB_API int hb_trainer_set_i64(hb_trainer *tr, hb_trainer_opt key, int64_t value);
HB_API int hb_trainer_set_f64(hb_trainer *tr, hb_trainer_opt key, double value);
HB_API int hb_trainer_get_i64(const hb_trainer *tr, hb_trainer_opt key, int64_t *value);
HB_API int hb_trainer_get_f64(const hb_trainer *tr, hb_trainer_opt key, double *value);

/* Caller data: fn(user, m, step) sets the model's data for step `step` (e.g. with
 * hb_model_set_batch) and returns 0, or nonzero to fail the run with HB_ECALLBACK.
 * fn NULL removes the callback. The eval callback sets held-out data before an
 * evaluation (step = the step just completed). Returns HB_OK, HB_EINVAL. */
typedef int (*hb_train_data_fn)(void *user, hb_model *m, int64_t step);
HB_API int hb_trainer_set_data_fn(hb_trainer *tr, hb_train_data_fn fn, void *user);
HB_API int hb_trainer_set_eval_fn(hb_trainer *tr, hb_train_data_fn fn, void *user);

/* hb_trainer_set_checkpoint: save to `path` (copied) every `every` steps (0 = never; path
 * may then be NULL). Returns HB_OK, HB_EINVAL, HB_ENOMEM. */
HB_API int hb_trainer_set_checkpoint(hb_trainer *tr, const char *path, int64_t every);

/* hb_trainer_run: run `steps` more steps (>= 1), continuing from hb_trainer_step. With an
 * optimizer the run first takes the optimizer's step count as the trainer's step, so
 * after hb_checkpoint_load into the optimizer (and an SST wrapper's params) the run
 * resumes at the saved step with the same data, schedule and SST iteration. The
 * progress total is the step count the run will reach.
 * Returns HB_OK, HB_EINVAL, HB_ENONFINITE (non-finite loss or gradient: that step is not
 * applied and not recorded), HB_ECANCELED, HB_ECALLBACK, HB_ENOMEM, HB_EIO (checkpoint),
 * and the model's and optimizer's errors. Steps completed before a failure stay applied and recorded. */
HB_API int hb_trainer_run(hb_trainer *tr, int64_t steps);

/* hb_trainer_step: steps completed so far (0 for NULL). */
HB_API int64_t hb_trainer_step(const hb_trainer *tr);

/* hb_trainer_evaluate: the held-out loss (and accuracy, NAN when the model has none)
 * now, as the run would compute it. accuracy may be NULL. Leaves the model holding the
 * held-out data. Returns HB_OK, HB_EINVAL, and the model's errors. */
HB_API int hb_trainer_evaluate(hb_trainer *tr, double *loss, double *accuracy);

/* ---- Records ------------------------------------------------------------------------
 * Record i describes the i-th step this trainer took, step t = HB_REC_STEP (t = i unless
 * the run resumed from a checkpoint): the loss and gradient at θ_t (before the update),
 * the learning rate the update used, the weight norms of θ_t, and — if step t was
 * followed by an evaluation — the held-out loss/accuracy of θ_{t+1} (NAN otherwise). */
typedef enum hb_record_key {
    HB_REC_STEP = 1,          /* the step index i                                          */
    HB_REC_LOSS = 2,          /* L(θ_i) on the step's data                                 */
    HB_REC_GRAD_NORM = 3,     /* ‖∇L(θ_i)‖₂ of the gradient the update used                */
    HB_REC_LR = 4,            /* effective learning rate of the update                     */
    HB_REC_WEIGHT_NORM = 5,   /* ‖θ_i‖₂ over all blocks                                    */
    HB_REC_EVAL_LOSS = 6,     /* held-out loss after the update, NAN if no evaluation      */
    HB_REC_EVAL_ACCURACY = 7, /* held-out accuracy after the update, NAN if none           */
    HB_REC_TIME = 8           /* wall-clock seconds the step took (evaluation excluded)    */
} hb_record_key;

/* hb_trainer_num_records: records held (= steps completed; 0 for NULL). */
HB_API size_t hb_trainer_num_records(const hb_trainer *tr);
/* hb_trainer_record_f64: one value of record i. Returns HB_OK, HB_EINVAL (NULL, bad key),
 * HB_ERANGE (i out of range). */
HB_API int hb_trainer_record_f64(const hb_trainer *tr, size_t i, hb_record_key key, double *value);
/* hb_trainer_record_block_norm: ‖θ_{i,b}‖₂ of block b at step i (HB_TR_BLOCK_NORMS on).
 * Returns HB_OK, HB_EINVAL, HB_ERANGE (i or b out of range), HB_ESTATE (norms were off). */
HB_API int hb_trainer_record_block_norm(const hb_trainer *tr, size_t i, size_t block,
                                        double *value);
/* hb_trainer_records_f64: copy key of records [first, first+n) into out (for plots).
 * Returns as hb_trainer_record_f64. */
HB_API int hb_trainer_records_f64(const hb_trainer *tr, hb_record_key key, size_t first,
                                  size_t n, double *out);

#ifdef __cplusplus
}
#endif
#endif /* HESSBLOCK_TRAIN_H */
