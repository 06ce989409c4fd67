/* Full-rank training vs SST vs LoRA at equal rank r and equal steps, on the built-in mlp
 * (synthetic Gaussian-mixture data) or gpt (synthetic grammar tokens): held-out loss and
 * accuracy, trainable parameters and optimizer-state memory of each. Converted: the mlp's
 * hidden layers (HB_BLOCK_LINEAR); the gpt's attention and MLP projections. Heads,
 * embeddings, norms and biases stay dense and train in all three runs.
 *   usage: sst_vs_lora [steps=300] [rank=4] [width=64] [iteration T3=50] [seed=1] [mlp|gpt]
 *                      [text file | -] [methods=fsl] [curve N=0] [SST re-warm=20]
 *                      [SST reset=moments|restart]
 * gpt with a text file: byte-level tokens (vocabulary 128, the file must be ASCII). The
 * file is split: the first 90 % of its bytes train, the last 10 % are held out. Training
 * step t reads the batch windows s = t*batch ... t*batch + batch - 1 of context + 1 bytes
 * starting at byte (s*context) mod (training bytes - context) of the training part (the
 * window rule of hb_model_set_text); the held-out loss is over every non-overlapping
 * window of the held-out part (each held-out byte predicted once, the tail that does not
 * fill a batch dropped). The windows are built here and given with hb_model_set_batch,
 * because the split needs two parts of one file (hb_model_set_text, which also accepts
 * SST/LoRA wrappers since session 10, reads a whole file).
 * methods: any of f (full), s (SST), l (LoRA), e.g. "fl"; "-" as text file = synthetic.
 * (This file is kept ASCII: the meson test trains on it as its text.)
 * curve N > 0: also evaluate every N steps and print, per N-step window, the mean training
 * loss and the held-out loss at its end (lines "curve <run> <step> <train> <held-out>").
 * SST re-warm: HB_SST_REWARM, steps of linear lr re-warm after each boundary (0 = none).
 * SST reset: HB_SST_RESET, what the boundary does to the optimizer state of the active
 * pairs (moments: zero m and v, keep the step; restart: also restart the bias correction). */
#include <math.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>

#include "hessblock/hessblock.h"

#define TRY(x)                                                                             \
    do {                                                                                   \
        int rc_ = (x);                                                                     \
        if (rc_ != HB_OK) {                                                                \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, hb_strerror(rc_),         \
                    hb_context_last_error(ctx));                                           \
            return rc_;                                                                    \
        }                                                                                  \
    } while (0)

/* A byte text split into a training part and a held-out part. */
typedef struct text_data {
    unsigned char *bytes;
    size_t n_train, n_held; /* bytes[0, n_train) train, bytes[n_train, n_train + n_held) held out */
    int64_t batch, context;
    size_t eval_batches;
    hb_tensor *x, *y; /* one (batch, context) micro-batch, refilled per call */
} text_data;

static void fill_window(const text_data *d, const unsigned char *part, size_t offset, size_t row) {
    int32_t *x = hb_tensor_data(d->x), *y = hb_tensor_data(d->y);
    for (int64_t t = 0; t < d->context; t++) {
        x[row * (size_t)d->context + (size_t)t] = part[offset + (size_t)t];
        y[row * (size_t)d->context + (size_t)t] = part[offset + (size_t)t + 1];
    }
}

/* Training data of step t: fresh windows, as hb_model_set_text(train part, 1, t*batch). */
static int text_train_fn(void *user, hb_model *m, int64_t step) {
    text_data *d = user;
    size_t windows = d->n_train - (size_t)d->context;
    for (int64_t i = 0; i < d->batch; i++) {
        uint64_t s = (uint64_t)step * (uint64_t)d->batch + (uint64_t)i;
        fill_window(d, d->bytes, (size_t)((s % windows) * (uint64_t)d->context % windows), (size_t)i);
    }
    return hb_model_set_batch(m, d->x, d->y) == HB_OK ? 0 : 1;
}

/* Held-out data: every non-overlapping window of the held-out part. */
static int text_eval_fn(void *user, hb_model *m, int64_t step) {
    (void)step;
    text_data *d = user;
    const unsigned char *held = d->bytes + d->n_train;
    for (size_t b = 0; b < d->eval_batches; b++) {
        for (int64_t i = 0; i < d->batch; i++)
            fill_window(d, held, (b * (size_t)d->batch + (size_t)i) * (size_t)d->context, (size_t)i);
        int rc = b == 0 ? hb_model_set_batch(m, d->x, d->y) : hb_model_add_batch(m, d->x, d->y);
        if (rc != HB_OK) return 1;
    }
    return 0;
}

/* Reads path, checks it is ASCII, splits it 90 / 10. Returns 0 or prints why not. */
static int text_load(const char *path, int64_t batch, int64_t context, text_data *d) {
    memset(d, 0, sizeof *d);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open '%s'\n", path);
        return 1;
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            unsigned char *nb = realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    fclose(f);
    if (!buf) {
        fprintf(stderr, "out of memory reading '%s'\n", path);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        if (buf[i] >= 128) {
            fprintf(stderr, "'%s' is not ASCII: byte %u at offset %zu\n", path, buf[i], i);
            free(buf);
            return 1;
        }
    d->bytes = buf;
    d->n_train = n - n / 10;
    d->n_held = n / 10;
    d->batch = batch;
    d->context = context;
    d->eval_batches = d->n_held > 0 ? (d->n_held - 1) / (size_t)context / (size_t)batch : 0;
    if (d->n_train < (size_t)context + 1 || d->eval_batches < 1) {
        fprintf(stderr, "'%s' has %zu bytes: too short for a 90/10 split with context %lld\n",
                path, n, (long long)context);
        free(buf);
        return 1;
    }
    return 0;
}

static int64_t curve_every = 0, rewarm = 20; /* the optional 9th and 10th arguments */
static int64_t reset_mode = HB_SST_RESET_MOMENTS; /* the optional 11th argument */

typedef struct result {
    double eval_loss, eval_acc, train_loss, seconds;
    size_t trainable, total, state_bytes;
} result;

static int run(hb_sst_method method, int64_t steps, int64_t rank, int64_t width, int64_t t3,
               int64_t seed, int gpt, text_data *text, result *res) {
    hb_context *ctx = NULL;
    if (hb_context_create(&ctx) != HB_OK) return HB_ENOMEM;
    hb_model_config *cfg = NULL;
    hb_model *dense = NULL, *w = NULL;
    hb_sst_config *scfg = NULL;
    hb_trainer *tr = NULL;
    hb_optimizer *opt = NULL;
    TRY(hb_context_set_i64(ctx, HB_CTX_SEED, seed)); /* same init and data for every method */
    TRY(hb_model_config_create(ctx, gpt ? HB_MODEL_GPT : HB_MODEL_MLP, &cfg));
    TRY(hb_model_config_set_i64(cfg, HB_MK_DTYPE, HB_F32));
    TRY(hb_model_config_set_i64(cfg, HB_MK_WIDTH, width));
    if (gpt) {
        TRY(hb_model_config_set_i64(cfg, HB_MK_CONTEXT, 32));
        TRY(hb_model_config_set_i64(cfg, HB_MK_LAYERS, 2));
        TRY(hb_model_config_set_i64(cfg, HB_MK_BATCH, 8));
        if (text) TRY(hb_model_config_set_i64(cfg, HB_MK_VOCAB, 128)); /* ASCII bytes */
    } else {
        TRY(hb_model_config_set_i64(cfg, HB_MK_INPUTS, 32));
        TRY(hb_model_config_set_i64(cfg, HB_MK_LAYERS, 3));
        TRY(hb_model_config_set_i64(cfg, HB_MK_CLASSES, 10));
        TRY(hb_model_config_set_i64(cfg, HB_MK_BATCH, 64));
    }
    TRY(hb_model_create(ctx, cfg, &dense));
    hb_model *m = dense;
    res->total = hb_params_count(hb_model_params(dense));
    res->trainable = res->total;
    if (method) {
        TRY(hb_sst_config_create(ctx, method, &scfg));
        if (gpt) {
            hb_block_kind kinds[6] = {HB_BLOCK_ATTN_Q, HB_BLOCK_ATTN_K, HB_BLOCK_ATTN_V,
                                      HB_BLOCK_ATTN_O, HB_BLOCK_MLP_IN, HB_BLOCK_MLP_OUT};
            for (int i = 0; i < 6; i++) TRY(hb_sst_config_add_kind(scfg, kinds[i]));
        } else {
            TRY(hb_sst_config_add_kind(scfg, HB_BLOCK_LINEAR));
        }
        TRY(hb_sst_config_set_i64(scfg, HB_SST_RANK, rank));
        TRY(hb_sst_config_set_i64(scfg, HB_SST_ITERATION, t3));
        TRY(hb_sst_config_set_i64(scfg, HB_SST_REWARM, rewarm));
        TRY(hb_sst_config_set_i64(scfg, HB_SST_RESET, reset_mode));
        TRY(hb_sst_create(dense, scfg, &w));
        TRY(hb_sst_trainable_count(w, &res->trainable));
        m = w;
    }
    /* Same optimizer and schedule for all three (no per-method tuning). */
    TRY(hb_optimizer_create(ctx, HB_OPTIM_ADAM, hb_model_params(m), &opt));
    TRY(hb_optimizer_set_f64(opt, HB_OPT_LR, 3e-3));
    TRY(hb_optimizer_schedule_cosine(opt, steps / 20, steps, 0.1));
    TRY(hb_trainer_create(m, opt, &tr));
    TRY(hb_trainer_set_i64(tr, HB_TR_EVAL_EVERY, curve_every > 0 ? curve_every : steps));
    TRY(hb_trainer_set_i64(tr, HB_TR_EVAL_BATCHES, 16));
    TRY(hb_trainer_set_i64(tr, HB_TR_BLOCK_NORMS, 0));
    if (text) {
        int64_t shape[2] = {text->batch, text->context};
        TRY(hb_tensor_create(ctx, HB_I32, 2, shape, &text->x));
        TRY(hb_tensor_create(ctx, HB_I32, 2, shape, &text->y));
        TRY(hb_trainer_set_data_fn(tr, text_train_fn, text));
        TRY(hb_trainer_set_eval_fn(tr, text_eval_fn, text));
    }
    TRY(hb_trainer_run(tr, steps));
    if (text) {
        hb_tensor_free(text->x);
        hb_tensor_free(text->y);
        text->x = text->y = NULL;
    }
    size_t last = hb_trainer_num_records(tr) - 1;
    TRY(hb_trainer_record_f64(tr, last, HB_REC_EVAL_LOSS, &res->eval_loss));
    TRY(hb_trainer_record_f64(tr, last, HB_REC_EVAL_ACCURACY, &res->eval_acc));
    res->seconds = 0;
    res->train_loss = 0;
    size_t tail = (last + 1) / 10 > 0 ? (last + 1) / 10 : 1; /* mean over the last 10 % */
    for (size_t i = 0; i <= last; i++) {
        double t;
        TRY(hb_trainer_record_f64(tr, i, HB_REC_TIME, &t));
        res->seconds += t;
        if (i + tail > last) {
            TRY(hb_trainer_record_f64(tr, i, HB_REC_LOSS, &t));
            res->train_loss += t / (double)tail;
        }
    }
    TRY(hb_optimizer_state_bytes(opt, &res->state_bytes));
    for (int64_t s0 = 0; curve_every > 0 && s0 + curve_every <= (int64_t)last + 1; s0 += curve_every) {
        double mean = 0, v, ev;
        for (int64_t i = s0; i < s0 + curve_every; i++) {
            TRY(hb_trainer_record_f64(tr, (size_t)i, HB_REC_LOSS, &v));
            mean += v / (double)curve_every;
        }
        TRY(hb_trainer_record_f64(tr, (size_t)(s0 + curve_every - 1), HB_REC_EVAL_LOSS, &ev));
        printf("curve %-5s %6lld %8.4f %8.4f\n", method == HB_SST_METHOD_SPECTRAL ? "sst"
               : method == HB_SST_METHOD_LORA ? "lora" : "full", (long long)(s0 + curve_every), mean, ev);
    }
    hb_trainer_free(tr);
    hb_optimizer_free(opt);
    hb_model_free(w);
    hb_sst_config_free(scfg);
    hb_model_free(dense);
    hb_model_config_free(cfg);
    hb_context_free(ctx);
    return HB_OK;
}

int main(int argc, char **argv) {
    int64_t steps = argc > 1 ? atoll(argv[1]) : 300, rank = argc > 2 ? atoll(argv[2]) : 4,
            width = argc > 3 ? atoll(argv[3]) : 64, t3 = argc > 4 ? atoll(argv[4]) : 50,
            seed = argc > 5 ? atoll(argv[5]) : 1;
    int gpt = argc > 6 && strcmp(argv[6], "gpt") == 0;
    const char *path = argc > 7 && strcmp(argv[7], "-") != 0 ? argv[7] : NULL;
    const char *which = argc > 8 ? argv[8] : "fsl";
    curve_every = argc > 9 ? atoll(argv[9]) : 0;
    rewarm = argc > 10 ? atoll(argv[10]) : 20;
    const char *reset_arg = argc > 11 ? argv[11] : "moments";
    reset_mode = strcmp(reset_arg, "restart") == 0 ? HB_SST_RESET_RESTART : HB_SST_RESET_MOMENTS;
    if (steps < 20 || rank < 1 || width < 1 || t3 < 1 || (path && !gpt) ||
        strspn(which, "fsl") != strlen(which) || !*which || curve_every < 0 ||
        rewarm < 0 || (strcmp(reset_arg, "moments") != 0 && strcmp(reset_arg, "restart") != 0)) {
        fprintf(stderr, "usage: sst_vs_lora [steps>=20] [rank] [width] [T3] [seed] [mlp|gpt] "
                        "[text file (gpt) | -] [methods: any of f s l] [curve every N steps] [SST re-warm steps] "
                        "[SST reset: moments|restart]\n");
        return 2;
    }
    text_data text, *tp = NULL;
    if (path) {
        if (text_load(path, 8, 32, &text) != 0) return 1;
        tp = &text;
    }
    const char *names[3] = {"full", "sst", "lora"}, *letters = "fsl";
    hb_sst_method methods[3] = {0, HB_SST_METHOD_SPECTRAL, HB_SST_METHOD_LORA};
    if (gpt)
        printf("gpt width %lld, 2 layers, context 32, batch 8, f32", (long long)width);
    else
        printf("mlp 32-%lld-%lld-%lld-10, f32, batch 64", (long long)width, (long long)width,
               (long long)width);
    printf(", %lld steps of Adam (lr 3e-3, warmup 5%% + cosine to 0.1), rank %lld, T3 %lld, "
           "re-warm %lld, reset %s, seed %lld\n", (long long)steps, (long long)rank, (long long)t3,
           (long long)rewarm, reset_mode == HB_SST_RESET_RESTART ? "restart" : "moments",
           (long long)seed);
    if (tp)
        printf("text '%s': vocab 128, %zu training bytes, %zu held-out bytes (last 10 %%), "
               "held-out loss over %zu windows of 32\n", path, text.n_train, text.n_held,
               text.eval_batches * 8);
    else if (gpt)
        printf("synthetic grammar, vocab 65\n");
    printf("%-5s %10s %9s %9s %10s %10s %7s %13s %13s %8s\n", "run", "eval_loss", "eval_ppl",
           "eval_acc", "train_loss", "trainable", "frac", "state_min_B", "state_alloc_B", "seconds");
    int status = 0;
    for (int i = 0; i < 3 && status == 0; i++) {
        if (!strchr(which, letters[i])) continue;
        result r;
        int rc = run(methods[i], steps, rank, width, t3, seed, gpt, tp, &r);
        if (rc != HB_OK) {
            status = 1;
            break;
        }
        /* state_min: Adam's 2 f32 moments per trainable scalar, what a sparse optimizer would
           keep; state_alloc: what the flat-vector optimizer allocates (docs/sst.md).
           train_loss: mean training loss of the last 10 % of steps. */
        printf("%-5s %10.4f %9.3f %9.4f %10.4f %10zu %7.3f %13zu %13zu %8.3f\n", names[i],
               r.eval_loss, exp(r.eval_loss), r.eval_acc, r.train_loss, r.trainable,
               (double)r.trainable / (double)r.total, 2 * 4 * r.trainable, r.state_bytes,
               r.seconds);
        fflush(stdout);
    }
    if (tp) free(text.bytes);
    return status;
}
