/* analyze's data (analyze_data.h): the loaders of `train` and `spectrum` (data.c,
 * textdata.c), read once and shared. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "analyze_data.h"

const char *const adata_choices[] = {"real", "synthetic", NULL};

/* The Debian package of the fortunes (the bulk of the default text corpus). */
#define FORTUNES_DIR "/usr/share/games/fortunes"

static int has_kind(const int *kinds, int n, int kind) {
    for (int i = 0; i < n; i++)
        if (kinds[i] == kind) return 1;
    return 0;
}

/* A directory that can be listed (1), or not (0: errno set). */
static int dir_ok(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    closedir(d);
    return 1;
}

static int load_text(const char *cmd, hb_context *ctx, analyze_data *D) {
    /* the default corpus needs the fortunes: without them it would silently be the common
     * licenses alone, a different corpus (and different numbers) on another machine */
    const char *dir = D->text_dir ? D->text_dir : FORTUNES_DIR;
    if (!dir_ok(dir)) {
        if (D->text_dir)
            runtime_error(cmd, "--data real: gpt's text directory '%s': %s (run with --data synthetic "
                          "for the built-in data)", dir, strerror(errno));
        else
            runtime_error(cmd, "--data real: gpt's text corpus needs the Debian package fortunes (%s: %s); "
                          "install it (sudo apt-get install fortunes, or bash tools/setup.sh) or run with "
                          "--data synthetic", dir, strerror(errno));
        return EXIT_RUNTIME;
    }
    D->text.data = TEXT_DATA_TEXT;
    D->text.text_dir = D->text_dir;
    model_opts mo = {.kind = HB_MODEL_GPT}, given = {0};
    return textdata_load(cmd, ctx, &D->text, &mo, &given) ? EXIT_RUNTIME : 0;
}

static int load_images(const char *cmd, hb_context *ctx, analyze_data *D) {
    data_opts d = {.source = DATA_FASHION_MNIST, .dir = D->image_dir};
    int rc = data_images_load(ctx, &d, &D->images);
    if (rc == HB_OK) return 0;
    if (rc == HB_EIO && !D->image_dir)
        runtime_error(cmd, "--data real: mlp and cnn need Fashion-MNIST from the Debian package "
                      "dataset-fashion-mnist (%s); install it (sudo apt-get install dataset-fashion-mnist, "
                      "or bash tools/setup.sh) or run with --data synthetic", hb_context_last_error(ctx));
    else
        runtime_error(cmd, "--data real: reading Fashion-MNIST failed: %s (%s); run with --data synthetic "
                      "for the built-in data", hb_strerror(rc), hb_context_last_error(ctx));
    return EXIT_RUNTIME;
}

int adata_load(const char *cmd, hb_context *ctx, analyze_data *D, const int *kinds, int n) {
    if (D->source != ADATA_REAL) return 0;
    if (has_kind(kinds, n, HB_MODEL_GPT) && load_text(cmd, ctx, D)) return EXIT_RUNTIME;
    if ((has_kind(kinds, n, HB_MODEL_MLP) || has_kind(kinds, n, HB_MODEL_CNN)) && load_images(cmd, ctx, D))
        return EXIT_RUNTIME;
    return 0;
}

void adata_fit(const analyze_data *D, model_opts *mo) {
    if (D->source != ADATA_REAL) return;
    if (mo->kind == HB_MODEL_GPT && D->text.corpus) {
        mo->vocab = (int64_t)hb_text_corpus_vocab_size(D->text.corpus);
    } else if (mo->kind == HB_MODEL_MLP || mo->kind == HB_MODEL_CNN) {
        /* the same fit as train/spectrum --data fashion-mnist (no size flags in analyze) */
        data_opts d = {.source = DATA_FASHION_MNIST};
        model_opts given = {0};
        data_fit_model("analyze", &d, &given, mo);
    }
}

int adata_set(const analyze_data *D, hb_model *m, int kind, int split, int64_t batches) {
    if (D->source != ADATA_REAL) return HB_OK;
    if (kind == HB_MODEL_GPT)
        return textdata_set(m, &D->text, split == ADATA_HELD_OUT ? HB_SPLIT_VALID : HB_SPLIT_TRAIN, batches);
    if (kind == HB_MODEL_MLP || kind == HB_MODEL_CNN)
        return data_images_set(m, &D->images, split == ADATA_HELD_OUT, batches);
    return HB_OK;
}

int adata_held_out(const analyze_data *D, hb_model *m, int kind, int64_t batches, double *loss,
                   double *accuracy) {
    *loss = *accuracy = NAN;
    if (D->source != ADATA_REAL) return HB_OK;
    int rc = adata_set(D, m, kind, ADATA_HELD_OUT, batches);
    if (rc == HB_OK) rc = hb_model_loss(m, loss);
    if (rc == HB_OK && kind != HB_MODEL_GPT) rc = hb_model_accuracy(m, accuracy);
    int rc2 = adata_set(D, m, kind, ADATA_TRAIN, batches);
    return rc != HB_OK ? rc : rc2;
}

const char *adata_name(const analyze_data *D, int kind) {
    if (D->source != ADATA_REAL) return "synthetic";
    return kind == HB_MODEL_GPT ? "text" : "fashion-mnist";
}

const char *adata_held_out_name(const analyze_data *D, int kind) {
    if (D->source != ADATA_REAL) return "";
    return kind == HB_MODEL_GPT ? "validation" : "t10k";
}

void adata_describe(const analyze_data *D, char *buf, size_t n) {
    buf[0] = 0;
    if (D->source != ADATA_REAL || !n) return;
    size_t l = 0;
    if (D->text.corpus) {
        textdata_describe(&D->text, buf, n);
        l = strlen(buf);
    }
    if (D->images.x && l < n)
        snprintf(buf + l, n - l, "%sfashion-mnist train %lld / t10k %lld images (mean %.4f, std %.4f)",
                 l ? "; " : "", (long long)hb_tensor_dim(D->images.x, 0),
                 (long long)hb_tensor_dim(D->images.xt, 0), D->images.mean, D->images.std);
}

void adata_free(analyze_data *D) {
    textdata_free(&D->text);
    data_images_free(&D->images);
}
