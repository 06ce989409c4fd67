/* --data / --data-dir of `train` and `spectrum` (docs/data.md, docs/cli.md): the built-in
 * synthetic data (the default) or Fashion-MNIST from the Debian package for mlp and cnn.
 * One small block, so another data source (text for gpt) is one more choice here. */
#ifndef HB_TOOL_DATA_H
#define HB_TOOL_DATA_H

#include "compute.h"

enum { DATA_SYNTHETIC = 0, DATA_FASHION_MNIST = 1, DATA_TEXT = 2 }; /* DATA_TEXT: textdata.h */
#define DATA_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

typedef struct data_opts {
    int source;      /* DATA_* (index into data_choices) */
    const char *dir; /* NULL: DATA_DEFAULT_DIR */
} data_opts;

extern const char *const data_choices[];

#define DATA_OPTS(d)                                                                        \
    {"data", OPT_CHOICE, &(d).source, 0, 0, data_choices, "SRC",                            \
     "synthetic (built-in, no download), fashion-mnist (mlp, cnn: train-* trains and is "    \
     "analysed, t10k-* is held out; sets inputs 784 / image 28, classes 10) or text (gpt: "  \
     "a character-level corpus, docs/data.md) [synthetic]"},                                \
    {"data-dir", OPT_STRING, &(d).dir, 0, 0, NULL, "DIR",                                   \
     "directory of the Fashion-MNIST IDX files [" DATA_DEFAULT_DIR "]"}

/* After the sizes are resolved: fit the model to the data (mlp inputs 784; cnn image 28,
 * 1 channel; classes 10), unless a size flag in *given contradicts it (one line on stderr,
 * EXIT_USAGE), or the model kind takes no images. --data-dir without --data fashion-mnist
 * is a usage error too. Returns 0 or EXIT_USAGE. */
int data_fit_model(const char *cmd, const data_opts *d, const model_opts *given, model_opts *mo);

/* Replace m's data by `batches` micro-batches of the training images (first sample 0),
 * normalised by the training set's mean and std; a no-op for synthetic data. *note gets
 * a short description ("fashion-mnist train, 60000 images"). Returns HB_OK or the
 * library's status (message on ctx). */
int data_set_train(hb_context *ctx, const data_opts *d, hb_model *m, int64_t batches, char *note,
                   size_t nnote);

/* The images and labels of one split ("train" or "t10k"), as hb_idx_read reads them;
 * both NULL on failure. Returns HB_OK or the library's status. */
int data_load_split(hb_context *ctx, const data_opts *d, const char *split, hb_tensor **x,
                    hb_tensor **y);

/* Held-out loss and accuracy of m on `batches` micro-batches of the t10k images
 * (normalised as the training set). Returns HB_OK or the library's status. */
int data_evaluate_held_out(hb_context *ctx, const data_opts *d, hb_model *m, int64_t batches,
                           double *loss, double *accuracy, size_t *samples);

/* Both Fashion-MNIST splits read once (analyze_data.h shares them between jobs): the
 * training images and labels, the t10k ones, and the training set's mean and std. */
typedef struct data_images {
    hb_tensor *x, *y;     /* train-* */
    hb_tensor *xt, *yt;   /* t10k-* */
    double mean, std;
} data_images;

/* Reads both splits of d's directory into *im (zeroed first). HB_OK or the library's
 * status (message on ctx, naming the file); nothing is kept on failure. */
int data_images_load(hb_context *ctx, const data_opts *d, data_images *im);
/* m's data: `batches` micro-batches of the training (held_out 0) or t10k images from
 * sample 0, normalised by the training set's mean and std. */
int data_images_set(hb_model *m, const data_images *im, int held_out, int64_t batches);
void data_images_free(data_images *im);

#endif
