/* Full-rank training vs SST vs LoRA at equal rank r and equal steps, on the built-in mlp
 * (synthetic Gaussian-mixture data) or gpt (synthetic grammar tokens): held-out loss and
 * accuracy, trainable parameters and optimizer-state memory of each. Converted: the mlp's
 * hidden layers (HB_BLOCK_LINEAR); the gpt's attention and MLP projections. Heads,
 * embeddings, norms and biases stay dense and train in all three runs.
 *   usage: sst_vs_lora [steps=300] [rank=4] [width=64] [iteration T3=50] [seed=1] [mlp|gpt] */
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

typedef struct result {
    double eval_loss, eval_acc, seconds;
    size_t trainable, total, state_bytes;
} result;

static int run(hb_sst_method method, int64_t steps, int64_t rank, int64_t width, int64_t t3,
               int64_t seed, int gpt, result *res) {
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
        TRY(hb_sst_create(dense, scfg, &w));
        TRY(hb_sst_trainable_count(w, &res->trainable));
        m = w;
    }
    /* Same optimizer and schedule for all three (no per-method tuning). */
    TRY(hb_optimizer_create(ctx, HB_OPTIM_ADAM, hb_model_params(m), &opt));
    TRY(hb_optimizer_set_f64(opt, HB_OPT_LR, 3e-3));
    TRY(hb_optimizer_schedule_cosine(opt, steps / 20, steps, 0.1));
    TRY(hb_trainer_create(m, opt, &tr));
    TRY(hb_trainer_set_i64(tr, HB_TR_EVAL_EVERY, steps));
    TRY(hb_trainer_set_i64(tr, HB_TR_EVAL_BATCHES, 16));
    TRY(hb_trainer_set_i64(tr, HB_TR_BLOCK_NORMS, 0));
    TRY(hb_trainer_run(tr, steps));
    size_t last = hb_trainer_num_records(tr) - 1;
    TRY(hb_trainer_record_f64(tr, last, HB_REC_EVAL_LOSS, &res->eval_loss));
    TRY(hb_trainer_record_f64(tr, last, HB_REC_EVAL_ACCURACY, &res->eval_acc));
    res->seconds = 0;
    for (size_t i = 0; i <= last; i++) {
        double t;
        TRY(hb_trainer_record_f64(tr, i, HB_REC_TIME, &t));
        res->seconds += t;
    }
    TRY(hb_optimizer_state_bytes(opt, &res->state_bytes));
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
    if (steps < 20 || rank < 1 || width < 1 || t3 < 1) {
        fprintf(stderr, "usage: sst_vs_lora [steps>=20] [rank] [width] [T3] [seed] [mlp|gpt]\n");
        return 2;
    }
    const char *names[3] = {"full", "sst", "lora"};
    hb_sst_method methods[3] = {0, HB_SST_METHOD_SPECTRAL, HB_SST_METHOD_LORA};
    if (gpt)
        printf("gpt width %lld, 2 layers, context 32, batch 8, f32", (long long)width);
    else
        printf("mlp 32-%lld-%lld-%lld-10, f32, batch 64", (long long)width, (long long)width,
               (long long)width);
    printf(", %lld steps of Adam (lr 3e-3, warmup 5%% + cosine to 0.1), rank %lld, T3 %lld, "
           "seed %lld\n", (long long)steps, (long long)rank, (long long)t3, (long long)seed);
    printf("%-5s %10s %9s %9s %10s %7s %13s %13s %8s\n", "run", "eval_loss", "eval_ppl", "eval_acc",
           "trainable", "frac", "state_min_B", "state_alloc_B", "seconds");
    for (int i = 0; i < 3; i++) {
        result r;
        int rc = run(methods[i], steps, rank, width, t3, seed, gpt, &r);
        if (rc != HB_OK) return 1;
        /* state_min: Adam's 2 f32 moments per trainable scalar, what a sparse optimizer would
           keep; state_alloc: what the flat-vector optimizer allocates (docs/sst.md). */
        printf("%-5s %10.4f %9.3f %9.4f %10zu %7.3f %13zu %13zu %8.3f\n", names[i], r.eval_loss,
               exp(r.eval_loss), r.eval_acc, r.trainable, (double)r.trainable / (double)r.total, 2 * 4 * r.trainable,
               r.state_bytes, r.seconds);
    }
    return 0;
}
