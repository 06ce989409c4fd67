/* The registration table of the built-in model kinds: each kind's name, its options
 * (default and inclusive bounds) and its constructor. The model core (lib/model/) finds
 * kinds here and nowhere else, so a new built-in is one entry below plus its file.
 * Adding a key to a kind: one row in its table here and one line in model.h. */
#include "hessblock/net.h"
#include "models/builtins.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const hb__model_key_spec gpt_keys[] = {
    {HB_MK_VOCAB, false, 65, 2, 1 << 20},
    {HB_MK_CONTEXT, false, 64, 1, 1 << 16},
    {HB_MK_WIDTH, false, 128, 1, 1 << 16},
    {HB_MK_HEADS, false, 4, 1, 1 << 10},
    {HB_MK_LAYERS, false, 2, 1, 256},
};

static const hb__model_key_spec mlp_keys[] = {
    {HB_MK_WIDTH, false, 128, 1, 1 << 16},
    {HB_MK_LAYERS, false, 2, 0, 256},
    {HB_MK_INPUTS, false, 32, 1, 1 << 20},
    {HB_MK_CLASSES, false, 10, 2, 1 << 20},
    {HB_MK_ACTIVATION, false, HB_ACT_RELU, HB_ACT_RELU, HB_ACT_GELU},
};

static const hb__model_key_spec cnn_keys[] = {
    {HB_MK_CLASSES, false, 10, 2, 1 << 20},
    {HB_MK_IMAGE_SIZE, false, 16, 2, 4096},
    {HB_MK_CHANNELS, false, 1, 1, 1024},
    {HB_MK_CONV_WIDTH, false, 8, 1, 4096},
    {HB_MK_CONV_STAGES, false, 2, 1, 12},
    {HB_MK_POOL, false, HB_POOL_AVG, HB_POOL_AVG, HB_POOL_MAX},
};

static const hb__model_key_spec quadratic_keys[] = {
    {HB_MK_QUAD_BLOCKS, false, 4, 1, 4096},
    {HB_MK_QUAD_BLOCK_SIZE, false, 25, 1, 1 << 14},
    {HB_MK_QUAD_FAMILY, false, HB_QUAD_HETEROGENEOUS, HB_QUAD_HETEROGENEOUS, HB_QUAD_HOMOGENEOUS},
    {HB_MK_QUAD_COND, true, 5000, 1, 1e16},
};

static const hb__model_builtin builtins[] = {
    {HB_MODEL_QUADRATIC, "quadratic", quadratic_keys, N_OF(quadratic_keys), hb__quadratic_create},
    {HB_MODEL_MLP, "mlp", mlp_keys, N_OF(mlp_keys), hb__mlp_create},
    {HB_MODEL_GPT, "gpt", gpt_keys, N_OF(gpt_keys), hb__gpt_create},
    {HB_MODEL_CNN, "cnn", cnn_keys, N_OF(cnn_keys), hb__cnn_create},
};

const hb__model_builtin *hb__model_builtin_of(hb_model_kind kind) {
    for (size_t i = 0; i < N_OF(builtins); i++)
        if (builtins[i].kind == kind) return &builtins[i];
    return NULL;
}
