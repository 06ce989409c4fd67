/* The data of each training step and the evaluations of a run (minibatch.h). */
#include "minibatch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A fixed mixing of the seed into the first window (splitmix64's finaliser): nearby seeds
 * start far apart in the data. */
static uint64_t mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* held-out synthetic samples start here: beyond every training sample of a run */
#define SYNTH_HELD_OUT_FIRST ((uint64_t)1 << 40)

int minibatch_open(hb_context *ctx, minibatch *mb, const data_opts *d, const text_opts *td,
                   const model_opts *mo, hb_model *m, int64_t seed, int mini, int64_t eval_batches) {
    memset(mb, 0, sizeof *mb);
    mb->source = d->source;
    mb->minibatch = mini;
    mb->batches = mo->batches > 0 ? mo->batches : 1;
    size_t nb = hb_model_num_batches(m);
    mb->batch = nb ? (int64_t)(hb_model_num_samples(m) / nb) : 1; /* the model's batch size */
    mb->context = mo->context;
    mb->eval_batches = eval_batches;
    mb->stream = mo->data_stream;
    mb->td = td;
    int rc = HB_OK;
    uint64_t n = 0;
    if (d->source == DATA_FASHION_MNIST) {
        rc = data_load_split(ctx, d, "train", &mb->x, &mb->y);
        if (!rc) rc = data_load_split(ctx, d, "t10k", &mb->xt, &mb->yt);
        if (!rc) rc = hb_images_stats(ctx, mb->x, &mb->mean, &mb->std); /* once per run */
        if (!rc) n = (uint64_t)hb_tensor_dim(mb->x, 0);
    } else if (d->source == DATA_TEXT && td->corpus && mo->context > 0) {
        n = hb_text_corpus_num_tokens(td->corpus, HB_SPLIT_TRAIN) / (uint64_t)mo->context;
    }
    if (rc) {
        minibatch_free(mb);
        return rc;
    }
    mb->first0 = mini && n ? mix64((uint64_t)seed) % n : 0;
    return HB_OK;
}

void minibatch_free(minibatch *mb) {
    hb_tensor_free(mb->x);
    hb_tensor_free(mb->y);
    hb_tensor_free(mb->xt);
    hb_tensor_free(mb->yt);
    free(mb->wx);
    free(mb->wy);
    free(mb->ev_step);
    free(mb->ev_train);
    free(mb->ev_valid);
    memset(mb, 0, sizeof *mb);
}

int64_t minibatch_samples_per_step(const minibatch *mb) { return mb->batches * mb->batch; }

const char *minibatch_held_out_name(const minibatch *mb) {
    return mb->source == DATA_FASHION_MNIST ? "fashion-mnist t10k"
           : mb->source == DATA_TEXT        ? "text validation split"
                                            : "synthetic samples from 2^40";
}

/* n micro-batches of the training images from sample `first` (image first mod N, …),
 * through a copy of just those images (minibatch.h: wx) */
static int set_images_window(minibatch *mb, hb_model *m, size_t n, uint64_t first) {
    hb_context *ctx = hb_model_context(m);
    const size_t ns = n * (size_t)mb->batch, N = (size_t)hb_tensor_dim(mb->x, 0);
    const size_t H = (size_t)hb_tensor_dim(mb->x, 1), W = (size_t)hb_tensor_dim(mb->x, 2);
    const hb_dtype dt = hb_tensor_dtype(mb->x);
    const size_t es = dt == HB_F64 ? 8 : 4, per = H * W * es; /* i32, f32: 4 bytes */
    if (ns > mb->wcap) {
        void *wx = realloc(mb->wx, ns * per);
        if (!wx) return HB_ENOMEM;
        mb->wx = wx;
        int32_t *wy = realloc(mb->wy, ns * sizeof *wy);
        if (!wy) return HB_ENOMEM;
        mb->wy = wy;
        mb->wcap = ns;
    }
    const char *src = hb_tensor_data(mb->x);
    const int32_t *lab = hb_tensor_data(mb->y);
    for (size_t i = 0; i < ns; i++) {
        size_t k = (size_t)((first + i) % N);
        memcpy((char *)mb->wx + i * per, src + k * per, per);
        mb->wy[i] = lab[k];
    }
    hb_tensor *tx = NULL, *ty = NULL;
    int64_t sx[3] = {(int64_t)ns, (int64_t)H, (int64_t)W}, sy[1] = {(int64_t)ns};
    int rc = hb_tensor_wrap(ctx, dt, 3, sx, mb->wx, &tx);
    if (!rc) rc = hb_tensor_wrap(ctx, HB_I32, 1, sy, mb->wy, &ty);
    if (!rc) rc = hb_model_set_images_normalized(m, tx, ty, n, 0, mb->mean, mb->std);
    hb_tensor_free(tx);
    hb_tensor_free(ty);
    return rc;
}

/* n micro-batches of the training split from sample `first` */
static int set_train(minibatch *mb, hb_model *m, size_t n, uint64_t first) {
    switch (mb->source) {
    case DATA_FASHION_MNIST: return set_images_window(mb, m, n, first);
    case DATA_TEXT: return hb_model_set_corpus(m, mb->td->corpus, HB_SPLIT_TRAIN, n, first);
    default: return hb_model_set_synthetic(m, n, mb->stream, first);
    }
}

static int set_held_out(minibatch *mb, hb_model *m, size_t n) {
    switch (mb->source) {
    case DATA_FASHION_MNIST:
        return hb_model_set_images_normalized(m, mb->xt, mb->yt, n, 0, mb->mean, mb->std);
    case DATA_TEXT: return hb_model_set_corpus(m, mb->td->corpus, HB_SPLIT_VALID, n, 0);
    default: return hb_model_set_synthetic(m, n, mb->stream, SYNTH_HELD_OUT_FIRST);
    }
}

int minibatch_step_data(void *user, hb_model *m, int64_t step) {
    minibatch *mb = user;
    const uint64_t per_step = (uint64_t)minibatch_samples_per_step(mb);
    if (!mb->minibatch) { /* full batch: the training data, put back after an evaluation */
        if (!mb->dirty) return HB_OK;
        mb->dirty = 0;
        return set_train(mb, m, (size_t)mb->batches, 0);
    }
    if (step < 0) return set_train(mb, m, (size_t)mb->eval_batches, mb->first0);
    return set_train(mb, m, (size_t)mb->batches, mb->first0 + (uint64_t)step * per_step);
}

/* the loss on the model's current data; a non-finite loss is recorded as NAN, not an error */
static int loss_of(hb_model *m, double *loss) {
    int rc = hb_model_loss(m, loss);
    if (rc == HB_ENONFINITE) {
        *loss = NAN;
        rc = HB_OK;
    }
    return rc;
}

int minibatch_evaluate(void *user, hb_model *m, int64_t step) {
    minibatch *mb = user;
    if (mb->nev == mb->cap) {
        size_t cap = mb->cap ? 2 * mb->cap : 16;
        int64_t *s = realloc(mb->ev_step, cap * sizeof *s);
        if (!s) return HB_ENOMEM;
        mb->ev_step = s;
        double *t = realloc(mb->ev_train, cap * sizeof *t);
        if (!t) return HB_ENOMEM;
        mb->ev_train = t;
        double *v = realloc(mb->ev_valid, cap * sizeof *v);
        if (!v) return HB_ENOMEM;
        mb->ev_valid = v;
        mb->cap = cap;
    }
    double tl = NAN, vl = NAN;
    mb->dirty = 1;
    int rc = mb->minibatch ? set_train(mb, m, (size_t)mb->eval_batches, mb->first0)
                           : set_train(mb, m, (size_t)mb->batches, 0);
    if (!rc) rc = loss_of(m, &tl);
    if (!rc) rc = set_held_out(mb, m, (size_t)mb->eval_batches);
    if (!rc) rc = loss_of(m, &vl);
    if (rc) return rc;
    mb->ev_step[mb->nev] = step;
    mb->ev_train[mb->nev] = tl;
    mb->ev_valid[mb->nev] = vl;
    mb->nev++;
    return HB_OK;
}
