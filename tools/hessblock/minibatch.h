/* `hessblock train --minibatch` and `--eval-every` (docs/train.md "Mini-batches and
 * held-out evaluation"): the data of each step and the evaluations of a run, for the
 * three data sources. Window order, deterministic from --seed:
 *   step t trains on the B = --batches micro-batches of `batch` samples starting at sample
 *   s0 + t·B·batch of the training split (fashion-mnist: image (s mod 60000) of the file
 *   order; text: the window at token (s·T) mod (len − T), hb_model_set_corpus; synthetic:
 *   sample s of the model's data stream), s0 = splitmix64(seed) mod N (N = training
 *   images, or len/T text windows; s0 = 0 for synthetic data, whose draw depends on the
 *   seed already). A run of S steps sees S·B·batch samples (×T tokens for text).
 * Evaluation sets, fixed for the run, E = --eval-batches micro-batches each:
 *   train: the first E micro-batches of the run's window order (with full batch: the
 *          training data itself); held out: the validation split (text), t10k
 *          (fashion-mnist, normalised with the training images' mean and std, computed
 *          once) or synthetic samples from 2^40 on (never a training sample). */
#ifndef HB_TOOL_MINIBATCH_H
#define HB_TOOL_MINIBATCH_H

#include "compute.h"
#include "data_opts.h"
#include "textdata.h"

typedef struct minibatch {
    int source;            /* DATA_* */
    int minibatch;         /* 1: the next window every step; 0: full batch */
    int64_t batches, batch, eval_batches, context;
    uint64_t first0;       /* s0 above */
    uint64_t stream;       /* synthetic data stream */
    hb_tensor *x, *y, *xt, *yt; /* fashion-mnist train and t10k */
    /* the window of one call, copied: hb_model_set_images_normalized checks every pixel
     * of the tensor it is given, so passing all 60000 images each step would cost O(60000)
     * per step; a window copy costs O(window) */
    void *wx;
    int32_t *wy;
    size_t wcap;           /* samples wx and wy hold */
    double mean, std;
    const text_opts *td;
    int dirty;             /* an evaluation replaced the full-batch training data */
    /* evaluations: step, loss on the train evaluation set, held-out loss */
    int64_t *ev_step;
    double *ev_train, *ev_valid;
    size_t nev, cap;
} minibatch;

/* minibatch_open: for model m built from mo (model_make: data_stream; m: the batch size) with
 * data d / td. Reads the Fashion-MNIST files once. Returns HB_OK or the library's status. */
int minibatch_open(hb_context *ctx, minibatch *mb, const data_opts *d, const text_opts *td,
                   const model_opts *mo, hb_model *m, int64_t seed, int mini, int64_t eval_batches);
void minibatch_free(minibatch *mb);

/* The train_opts hooks (compute.h): user is a minibatch. step_data(-1): the train
 * evaluation set (minibatch) or the training data (full batch). */
int minibatch_step_data(void *user, hb_model *m, int64_t step);
int minibatch_evaluate(void *user, hb_model *m, int64_t step);

/* Samples per step (B·batch) and the split's size in samples (N above; 0 if unknown). */
int64_t minibatch_samples_per_step(const minibatch *mb);
const char *minibatch_held_out_name(const minibatch *mb);

#endif
