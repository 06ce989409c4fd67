/* train_resume: train with an optimizer, checkpoint half-way, resume in a fresh process
 * state, and get bit-for-bit the same result as the uninterrupted run.
 * The objective is a quadratic with two blocks of very different curvature (the kind of
 * block heterogeneity libhessblock measures): L = ½ Σ h_i θ_i², h in [1, 100] for block
 * "sharp" and [0.01, 1] for block "flat". AdamW with warmup + cosine, a smaller lr for
 * the sharp block, gradient clipping.
 *   build/examples/train_resume [checkpoint path]      (default: train_resume.ckpt, removed) */
#include <stdio.h>
#include <string.h>

#include <hessblock/hessblock.h>

enum { N_SHARP = 64, N_FLAT = 64, N = N_SHARP + N_FLAT, STEPS = 200 };

static int quad(void *user, const double *th, size_t n, double *loss, double *grad) {
    const double *h = user;
    double l = 0;
    for (size_t i = 0; i < n; i++) {
        l += 0.5 * h[i] * th[i] * th[i];
        grad[i] = h[i] * th[i];
    }
    *loss = l;
    return 0;
}

#define TRY(call)                                                                      \
    do {                                                                               \
        int rc_ = (call);                                                              \
        if (rc_ != HB_OK) {                                                            \
            fprintf(stderr, "%s failed: %s (%s)\n", #call, hb_strerror(rc_),          \
                    hb_context_last_error(ctx));                                       \
            return rc_;                                                                \
        }                                                                              \
    } while (0)

typedef struct run { hb_model *model; hb_optimizer *opt; } run;

/* A model and its optimizer, configured identically every time (hyperparameters are not
 * part of a checkpoint). */
static int make_run(hb_context *ctx, double *h, run *r) {
    hb_params *p = NULL;
    int64_t s1[1] = {N_SHARP}, s2[1] = {N_FLAT};
    TRY(hb_params_create(ctx, HB_F64, &p));
    TRY(hb_params_add_block(p, "sharp", HB_BLOCK_LINEAR, 1, s1, NULL));
    TRY(hb_params_add_block(p, "flat", HB_BLOCK_LINEAR, 1, s2, NULL));
    TRY(hb_params_finalize(p));
    TRY(hb_params_init_block(p, 0, HB_INIT_NORMAL, 0, 1));
    TRY(hb_params_init_block(p, 1, HB_INIT_NORMAL, 0, 1));
    TRY(hb_model_create_callbacks(ctx, p, quad, NULL, h, &r->model));
    TRY(hb_optimizer_create(ctx, HB_OPTIM_ADAMW, p, &r->opt));
    TRY(hb_optimizer_set_f64(r->opt, HB_OPT_LR, 0.05));
    TRY(hb_optimizer_set_f64(r->opt, HB_OPT_WEIGHT_DECAY, 1e-3));
    TRY(hb_optimizer_override_f64(r->opt, "sharp", HB_OPT_LR, 0.01));
    TRY(hb_optimizer_set_f64(r->opt, HB_OPT_CLIP_NORM, 10));
    TRY(hb_optimizer_schedule_cosine(r->opt, 20, STEPS, 0.05));
    return HB_OK;
}

static int train(hb_context *ctx, run *r, int64_t until, double *loss) {
    while (hb_optimizer_step_count(r->opt) < until) {
        TRY(hb_model_loss_grad(r->model, loss));
        TRY(hb_optimizer_step(r->opt));
    }
    return hb_model_loss(r->model, loss);
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "train_resume.ckpt";
    double h[N];
    for (int i = 0; i < N; i++)
        h[i] = i < N_SHARP ? 1 + 99.0 * i / (N_SHARP - 1) : 0.01 + 0.99 * (i - N_SHARP) / (N_FLAT - 1);
    hb_context *ctx = NULL;
    if (hb_context_create(&ctx) != HB_OK) return 1;
    run a = {0}, b = {0};
    double la, lb, l0;
    int ok = 0;
    if (make_run(ctx, h, &a) || hb_model_loss(a.model, &l0) || train(ctx, &a, STEPS / 2, &la))
        goto done;
    if (hb_checkpoint_save(path, hb_model_params(a.model), a.opt) != HB_OK) goto fail;
    if (train(ctx, &a, STEPS, &la)) goto done;
    /* resume: fresh objects (their own random init is overwritten by the load) */
    if (make_run(ctx, h, &b)) goto done;
    if (hb_checkpoint_load(path, hb_model_params(b.model), b.opt) != HB_OK) goto fail;
    printf("loaded %s at step %lld\n", path, (long long)hb_optimizer_step_count(b.opt));
    if (train(ctx, &b, STEPS, &lb)) goto done;
    hb_params *pa = hb_model_params(a.model), *pb = hb_model_params(b.model);
    ok = memcmp(hb_params_data(pa), hb_params_data(pb), N * sizeof(double)) == 0;
    printf("loss: start %.6g, after %d steps %.6g (uninterrupted) vs %.6g (resumed): %s\n", l0,
           STEPS, la, lb, ok ? "bit-identical" : "DIFFERENT");
    goto done;
fail:
    fprintf(stderr, "checkpoint: %s\n", hb_context_last_error(ctx));
done:
    if (argc <= 1) remove(path);
    hb_optimizer_free(a.opt);
    hb_optimizer_free(b.opt);
    hb_model_free(a.model);
    hb_model_free(b.model);
    hb_context_free(ctx);
    return ok ? 0 : 1;
}
