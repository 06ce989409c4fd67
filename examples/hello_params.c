/* hello_params: the smallest complete use of libhessblock.
 * Creates a context, declares the parameter blocks of a one-layer transformer-like
 * model, initialises them the way PyTorch would, and prints the block table: name,
 * kind, offset into the flat vector, shape, and the RMS of the initial values.
 * Build against an installed library:  cc hello_params.c $(pkg-config --cflags --libs hessblock) */
#include <math.h>
#include <stdio.h>

#include <hessblock/hessblock.h>

#define TRY(call)                                                                      \
    do {                                                                               \
        int rc_ = (call);                                                              \
        if (rc_ != HB_OK) {                                                            \
            fprintf(stderr, "%s failed: %s (%s)\n", #call, hb_strerror(rc_),          \
                    hb_context_last_error(ctx));                                       \
            goto done;                                                                 \
        }                                                                              \
    } while (0)

int main(void) {
    hb_context *ctx = NULL;
    hb_params *p = NULL;
    int status = 1;
    if (hb_context_create(&ctx) != HB_OK) return 1;
    TRY(hb_context_set_i64(ctx, HB_CTX_SEED, 42));
    printf("libhessblock %s (header %s)\n", hb_version_string(), HB_VERSION_STRING);

    const int64_t V = 65, C = 128;
    struct { const char *name; hb_block_kind kind; int ndim; int64_t shape[2]; hb_init init; } blocks[] = {
        {"wte", HB_BLOCK_EMBEDDING, 2, {V, C}, HB_INIT_TORCH_EMBEDDING},
        {"h.0.ln_1.weight", HB_BLOCK_NORM, 1, {C, 0}, HB_INIT_TORCH_LAYERNORM_WEIGHT},
        {"h.0.attn.wq", HB_BLOCK_ATTN_Q, 2, {C, C}, HB_INIT_TORCH_LINEAR},
        {"h.0.attn.wk", HB_BLOCK_ATTN_K, 2, {C, C}, HB_INIT_TORCH_LINEAR},
        {"h.0.attn.wv", HB_BLOCK_ATTN_V, 2, {C, C}, HB_INIT_TORCH_LINEAR},
        {"h.0.attn.wo", HB_BLOCK_ATTN_O, 2, {C, C}, HB_INIT_TORCH_LINEAR},
        {"h.0.mlp.c_fc", HB_BLOCK_MLP_IN, 2, {4 * C, C}, HB_INIT_TORCH_LINEAR},
        {"h.0.mlp.c_proj", HB_BLOCK_MLP_OUT, 2, {C, 4 * C}, HB_INIT_TORCH_LINEAR},
        {"lm_head", HB_BLOCK_HEAD, 2, {V, C}, HB_INIT_TORCH_LINEAR},
    };
    const size_t nb = sizeof blocks / sizeof blocks[0];
    TRY(hb_params_create(ctx, HB_F32, &p));
    for (size_t i = 0; i < nb; i++)
        TRY(hb_params_add_block(p, blocks[i].name, blocks[i].kind, blocks[i].ndim,
                                blocks[i].shape, NULL));
    TRY(hb_params_finalize(p));
    for (size_t i = 0; i < nb; i++) TRY(hb_params_init_block(p, i, blocks[i].init, 0, 0));

    printf("%-18s %-10s %8s  %-10s %8s\n", "block", "kind", "offset", "shape", "rms");
    const float *theta = hb_params_data(p);
    for (size_t i = 0; i < hb_params_num_blocks(p); i++) {
        const char *name;
        hb_block_kind kind;
        size_t off, numel;
        int ndim;
        int64_t shape[HB_MAX_DIMS];
        TRY(hb_params_block_info(p, i, &name, &kind, &off, &numel, &ndim, shape));
        double ss = 0;
        for (size_t j = 0; j < numel; j++) ss += (double)theta[off + j] * theta[off + j];
        char sh[32];
        if (ndim == 1) snprintf(sh, sizeof sh, "%lld", (long long)shape[0]);
        else snprintf(sh, sizeof sh, "%lldx%lld", (long long)shape[0], (long long)shape[1]);
        printf("%-18s %-10s %8zu  %-10s %8.4f\n", name, hb_block_kind_name(kind), off, sh,
               sqrt(ss / (double)numel));
    }
    printf("total: %zu parameters in %zu blocks\n", hb_params_count(p), hb_params_num_blocks(p));
    status = 0;
done:
    hb_params_free(p);
    hb_context_free(ctx);
    return status;
}
