/* The presets (presets.h). Sizes:
 *   tiny     seconds; what the tests run
 *   default  the study of `hessblock analyze` in about a minute on 2 cores
 *   ref      the library's reference sizes (gpt-ref: vocab 65, context 64, width 128, 4 heads,
 *            2 layers, 16 sequences; mlp and cnn: the library's defaults)
 *   large    about 10 M parameters per model (gpt: nanoGPT's shakespeare-char size) */
#include "presets.h"

#include <string.h>

const char *const preset_choices[] = {"default", "tiny", "ref", "large", NULL};

#define GPT(v, t, w, h, l, b, nb) {.kind = HB_MODEL_GPT, .vocab = v, .context = t, .width = w, \
                                   .heads = h, .layers = l, .batch = b, .batches = nb}
#define MLP(i, w, l, c, b, nb) {.kind = HB_MODEL_MLP, .inputs = i, .width = w, .layers = l, \
                                .classes = c, .batch = b, .batches = nb}
#define CNN(s, ch, cw, st, c, b, nb) {.kind = HB_MODEL_CNN, .image = s, .channels = ch, \
                                      .conv_width = cw, .stages = st, .classes = c, .batch = b, \
                                      .batches = nb}

/* default: the samples of mlp (2 x 64) and cnn (2 x 16) were chosen for the time of
 * analyze on real data (784 inputs, 28 x 28 images; docs/cli.md "Data of analyze"), not
 * for any result. SLQ defaults: tiny 2 x 12 (tests); default 4 x 32 (what docs/results.md was measured
 * with); ref 10 x 80 = the library's hb_slq defaults; large 4 x 32 (every HVP of a 10 M
 * model is costly, and the basis of its largest block is probes x steps x 590 k x 8 B). */
static const preset presets[] = {
    {"default", "the study in about a minute on 2 cores",
     GPT(32, 16, 32, 2, 2, 16, 2), MLP(32, 64, 2, 10, 64, 2), CNN(12, 1, 4, 2, 10, 16, 2),
     4, 32, 200, 25, 20000},
    {"tiny", "seconds; what the tests run",
     GPT(16, 8, 16, 2, 1, 4, 1), MLP(8, 16, 2, 4, 32, 1), CNN(8, 1, 2, 1, 4, 16, 1),
     2, 12, 10, 5, 2000},
    {"ref", "the library's reference sizes (gpt-ref)",
     GPT(65, 64, 128, 4, 2, 16, 1), {.kind = HB_MODEL_MLP}, {.kind = HB_MODEL_CNN},
     10, 80, 200, 25, 20000},
    {"large", "about 10 M parameters per model (hours; set --threads)",
     GPT(65, 256, 384, 6, 6, 8, 1), MLP(784, 2048, 3, 10, 256, 1), CNN(32, 3, 160, 4, 10, 32, 1),
     4, 32, 200, 250, 20000},
};

const preset *preset_get(int index) {
    return index >= 0 && index < (int)(sizeof presets / sizeof *presets) ? &presets[index] : NULL;
}

void preset_apply(const preset *p, model_opts *m) {
    int kind = m->kind, dtype = m->dtype;
    const model_opts *src = kind == HB_MODEL_GPT ? &p->gpt : kind == HB_MODEL_MLP ? &p->mlp
                            : kind == HB_MODEL_CNN ? &p->cnn : NULL;
    if (src) *m = *src;
    m->kind = kind;
    m->dtype = dtype;
}

void preset_override(model_opts *m, const model_opts *g) {
    int64_t *dst[] = {&m->width, &m->layers, &m->heads, &m->context, &m->vocab, &m->batch,
                      &m->batches, &m->inputs, &m->classes, &m->image, &m->channels,
                      &m->conv_width, &m->stages};
    const int64_t src[] = {g->width, g->layers, g->heads, g->context, g->vocab, g->batch,
                           g->batches, g->inputs, g->classes, g->image, g->channels,
                           g->conv_width, g->stages};
    for (size_t i = 0; i < sizeof src / sizeof *src; i++)
        if (src[i]) *dst[i] = src[i];
}

void preset_help(FILE *f) {
    fprintf(f, "\npresets (--preset NAME; size flags override its sizes):\n");
    hb_context *ctx = NULL;
    if (hb_context_create(&ctx) != HB_OK) return;
    for (size_t i = 0; i < sizeof presets / sizeof *presets; i++) {
        const preset *p = &presets[i];
        fprintf(f, "  %-8s %s; SLQ %lld probes x %lld steps\n", p->name, p->purpose,
                (long long)p->probes, (long long)p->steps);
        const model_opts *ms[3] = {&p->gpt, &p->mlp, &p->cnn};
        for (int k = 0; k < 3; k++) {
            model_opts mo = *ms[k];
            hb_model *m = NULL;
            char sizes[256];
            hb_context_set_i64(ctx, HB_CTX_SEED, 0);
            if (model_make(ctx, &mo, &m, sizes, sizeof sizes) != HB_OK) continue;
            fprintf(f, "    %-4s %9zu parameters: %s\n", model_kind_name(mo.kind),
                    hb_params_count(hb_model_params(m)), sizes);
            hb_model_free(m);
        }
    }
    hb_context_free(ctx);
}

/* Activations of one micro-batch's forward pass, in doubles, roughly: what the HVP keeps
 * per direction (R-pass) on top of the forward. */
static double activation_doubles(const model_opts *mo, hb_model *m) {
    double n = (double)hb_model_num_samples(m) / (double)(hb_model_num_batches(m) ? hb_model_num_batches(m) : 1);
    switch (mo->kind) {
    case HB_MODEL_GPT: { /* per layer and token: ~16 C (qkv, mlp 4C, norms, residuals) + 2 H T */
        double C = (double)(mo->width ? mo->width : 128), T = (double)(mo->context ? mo->context : 64);
        double H = (double)(mo->heads ? mo->heads : 4), L = (double)(mo->layers ? mo->layers : 2);
        double V = (double)(mo->vocab ? mo->vocab : 65);
        return n * T * (L * (16 * C + 2 * H * T) + 2 * V);
    }
    case HB_MODEL_MLP: {
        double W = (double)(mo->width ? mo->width : 64), L = (double)(mo->layers ? mo->layers : 2);
        return n * 3 * W * (L + 1);
    }
    case HB_MODEL_CNN: { /* the first stage dominates: S² × conv width, a few tensors */
        double S = (double)(mo->image ? mo->image : 16), W = (double)(mo->conv_width ? mo->conv_width : 8);
        return n * 4 * S * S * W * 2;
    }
    default: return 0;
    }
}

void preset_print_cost(const char *what, hb_model *m, const model_opts *mo, int64_t probes,
                       int64_t steps, int basis_bytes, const size_t *blocks, size_t nblocks,
                       int full, int quiet) {
    if (quiet) return;
    hb_params *p = hb_model_params(m);
    size_t nall = hb_params_num_blocks(p), n = hb_params_count(p), nb = blocks ? nblocks : nall;
    double hvps = 0, basis = 0;
    for (size_t i = 0; i < nb; i++) {
        size_t numel = 0;
        hb_params_block_info(p, blocks ? blocks[i] : i, NULL, NULL, NULL, &numel, NULL, NULL);
        double st = (double)steps < (double)numel ? (double)steps : (double)numel;
        hvps += (double)probes * st;
        if ((double)probes * st * (double)numel > basis) basis = (double)probes * st * (double)numel;
    }
    if (full) {
        double st = (double)steps < (double)n ? (double)steps : (double)n;
        hvps += (double)probes * st;
        if ((double)probes * st * (double)n > basis) basis = (double)probes * st * (double)n;
    }
    /* bytes: the Lanczos basis (full reorthogonalisation; f64 or f32), parameters, gradient and the
     * probes' directions and products (k = probes at once), the activations of the forward
     * and of each direction's R-pass */
    double bytes = basis_bytes * basis + 8 * ((double)n * (3 + 2 * (double)probes) +
                                              activation_doubles(mo, m) * (1 + (double)probes));
    fprintf(stderr, "[hessblock] %s: cost: %.0f HVP products (%zu blocks%s x %lld probes x up to "
            "%lld Lanczos steps), memory about %.0f MiB\n", what, hvps, nb, full ? " + full" : "",
            (long long)probes, (long long)steps, bytes / 1048576.0);
}
