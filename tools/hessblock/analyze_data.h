/* The data of `hessblock analyze` (--data real|synthetic; docs/cli.md, docs/data.md).
 * real: gpt on the text corpus (textdata.h), mlp and cnn on Fashion-MNIST (data_opts.h),
 * each read ONCE before the run and shared read-only by every model build and training
 * job (the library only reads a const tensor or corpus when it copies micro-batches out,
 * so jobs on other threads may set data from them at the same time). synthetic: the
 * built-in generators, nothing loaded (every function below is a no-op). */
#ifndef HB_TOOL_ANALYZE_DATA_H
#define HB_TOOL_ANALYZE_DATA_H

#include "data_opts.h"
#include "textdata.h"

enum { ADATA_REAL = 0, ADATA_SYNTHETIC = 1 };
extern const char *const adata_choices[]; /* "real", "synthetic", NULL */

/* Which split a model's data comes from: the training split (spectra and training) or
 * the held-out one (text: the validation split; Fashion-MNIST: t10k). */
enum { ADATA_TRAIN = 0, ADATA_HELD_OUT = 1 };

typedef struct analyze_data {
    int source;               /* ADATA_* */
    const char *image_dir;    /* --data-dir (NULL: DATA_DEFAULT_DIR) */
    const char *text_dir;     /* --text-dir (NULL: the Debian fortunes + common licenses) */
    data_images images;       /* loaded when an mlp or a cnn is analysed */
    text_opts text;           /* .corpus loaded when a gpt is analysed */
} analyze_data;

/* Reads what the models kinds[0..n-1] need (real data only). Missing files: one message
 * naming the Debian package and `--data synthetic`, EXIT_RUNTIME; nothing else happens
 * (no output directory exists yet when analyze calls it). Returns 0 or EXIT_RUNTIME. */
int adata_load(const char *cmd, hb_context *ctx, analyze_data *D, const int *kinds, int n);

/* The model's sizes that the data fixes (real only): mlp inputs 784, cnn image 28 and
 * 1 channel, classes 10; gpt vocab = the corpus's. */
void adata_fit(const analyze_data *D, model_opts *mo);

/* m's data (kind = its model kind): `batches` micro-batches of split ADATA_* from sample 0.
 * HB_OK (also for synthetic: the model keeps its own) or the library's status on m's ctx. */
int adata_set(const analyze_data *D, hb_model *m, int kind, int split, int64_t batches);

/* The held-out evaluation of a trained model m (real only): its loss and, for images, its
 * accuracy on the held-out split (`batches` micro-batches, as many samples as it trained
 * on); the training split is put back after. *accuracy NaN for text. */
int adata_held_out(const analyze_data *D, hb_model *m, int kind, int64_t batches, double *loss,
                   double *accuracy);

/* "fashion-mnist" / "text" / "synthetic": the data of model kind; and the held-out split's
 * name ("t10k", "validation"; "" for synthetic). */
const char *adata_name(const analyze_data *D, int kind);
const char *adata_held_out_name(const analyze_data *D, int kind);

/* One line on what was read ("text corpus of 57 files, ...; fashion-mnist train 60000 /
 * t10k 10000 images, mean ..., std ..."), "" for synthetic. */
void adata_describe(const analyze_data *D, char *buf, size_t n);

void adata_free(analyze_data *D);

#endif
