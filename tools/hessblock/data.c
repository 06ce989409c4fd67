/* --data / --data-dir (data_opts.h; not data.h, which would shadow <hessblock/data.h>): Fashion-MNIST from its IDX files for mlp and cnn. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "data_opts.h"

const char *const data_choices[] = {"synthetic", "fashion-mnist", "text", NULL};

enum { FMNIST_SIDE = 28, FMNIST_CLASSES = 10 };

int data_fit_model(const char *cmd, const data_opts *d, const model_opts *given, model_opts *mo) {
    if (d->source != DATA_FASHION_MNIST) { /* synthetic, or text (textdata.c) */
        if (d->dir) {
            usage_error(cmd, "--data-dir needs --data fashion-mnist");
            return EXIT_USAGE;
        }
        return 0;
    }
    if (mo->kind != HB_MODEL_MLP && mo->kind != HB_MODEL_CNN) {
        usage_error(cmd, "--data fashion-mnist needs --model mlp or cnn");
        return EXIT_USAGE;
    }
    if (given->classes && given->classes != FMNIST_CLASSES) {
        usage_error(cmd, "--classes %lld contradicts --data fashion-mnist (%d classes)",
                    (long long)given->classes, FMNIST_CLASSES);
        return EXIT_USAGE;
    }
    mo->classes = FMNIST_CLASSES;
    if (mo->kind == HB_MODEL_MLP) {
        if (given->inputs && given->inputs != FMNIST_SIDE * FMNIST_SIDE) {
            usage_error(cmd, "--inputs %lld contradicts --data fashion-mnist (28x28 = 784 pixels)",
                        (long long)given->inputs);
            return EXIT_USAGE;
        }
        mo->inputs = FMNIST_SIDE * FMNIST_SIDE;
    } else {
        if (given->image && given->image != FMNIST_SIDE) {
            usage_error(cmd, "--image %lld contradicts --data fashion-mnist (28x28 images)",
                        (long long)given->image);
            return EXIT_USAGE;
        }
        mo->image = FMNIST_SIDE;
        mo->channels = 1;
    }
    return 0;
}

int data_load_split(hb_context *ctx, const data_opts *d, const char *split, hb_tensor **x, hb_tensor **y) {
    char path[4200];
    const char *dir = d->dir ? d->dir : DATA_DEFAULT_DIR;
    *x = *y = NULL;
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", dir, split);
    int rc = hb_idx_read(ctx, path, x);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", dir, split);
    if (rc == HB_OK) rc = hb_idx_read(ctx, path, y);
    if (rc != HB_OK) {
        hb_tensor_free(*x);
        *x = NULL;
    }
    return rc;
}

/* The training set's normalisation (docs/data.md: the mean and std of its pixels). */
static int train_stats(hb_context *ctx, const data_opts *d, double *mean, double *std, hb_tensor **x,
                       hb_tensor **y) {
    int rc = data_load_split(ctx, d, "train", x, y);
    if (rc == HB_OK) rc = hb_images_stats(ctx, *x, mean, std);
    return rc;
}

int data_set_train(hb_context *ctx, const data_opts *d, hb_model *m, int64_t batches, char *note,
                   size_t nnote) {
    if (d->source != DATA_FASHION_MNIST) return HB_OK;
    hb_tensor *x = NULL, *y = NULL;
    double mean = 0, std = 1;
    int rc = train_stats(ctx, d, &mean, &std, &x, &y);
    if (rc == HB_OK)
        rc = hb_model_set_images_normalized(m, x, y, (size_t)(batches > 0 ? batches : 1), 0, mean, std);
    if (rc == HB_OK && note)
        snprintf(note, nnote, "fashion-mnist train (%lld images, mean %.4f, std %.4f)",
                 (long long)hb_tensor_dim(x, 0), mean, std);
    hb_tensor_free(x);
    hb_tensor_free(y);
    return rc;
}

int data_evaluate_held_out(hb_context *ctx, const data_opts *d, hb_model *m, int64_t batches,
                           double *loss, double *accuracy, size_t *samples) {
    *loss = *accuracy = NAN;
    *samples = 0;
    hb_tensor *x = NULL, *y = NULL, *xt = NULL, *yt = NULL;
    double mean = 0, std = 1;
    int rc = train_stats(ctx, d, &mean, &std, &x, &y);
    hb_tensor_free(x);
    hb_tensor_free(y);
    if (rc == HB_OK) rc = data_load_split(ctx, d, "t10k", &xt, &yt);
    if (rc == HB_OK)
        rc = hb_model_set_images_normalized(m, xt, yt, (size_t)(batches > 0 ? batches : 1), 0, mean, std);
    if (rc == HB_OK) rc = hb_model_loss(m, loss);
    if (rc == HB_OK) rc = hb_model_accuracy(m, accuracy);
    if (rc == HB_OK) *samples = hb_model_num_samples(m);
    hb_tensor_free(xt);
    hb_tensor_free(yt);
    return rc;
}

int data_images_load(hb_context *ctx, const data_opts *d, data_images *im) {
    memset(im, 0, sizeof *im);
    int rc = train_stats(ctx, d, &im->mean, &im->std, &im->x, &im->y);
    if (rc == HB_OK) rc = data_load_split(ctx, d, "t10k", &im->xt, &im->yt);
    if (rc != HB_OK) data_images_free(im);
    return rc;
}

int data_images_set(hb_model *m, const data_images *im, int held_out, int64_t batches) {
    return hb_model_set_images_normalized(m, held_out ? im->xt : im->x, held_out ? im->yt : im->y,
                                          (size_t)(batches > 0 ? batches : 1), 0, im->mean, im->std);
}

void data_images_free(data_images *im) {
    hb_tensor_free(im->x);
    hb_tensor_free(im->y);
    hb_tensor_free(im->xt);
    hb_tensor_free(im->yt);
    memset(im, 0, sizeof *im);
}
