/* Internal parameter-block layout (models and optimizers read it directly). */
#ifndef HB_PARAMS_INTERNAL_H
#define HB_PARAMS_INTERNAL_H

#include "tensor/tensor_internal.h"

typedef struct hb__block {
    char name[HB_MAX_BLOCK_NAME + 1];
    hb_block_kind kind;
    int ndim;
    int64_t shape[HB_MAX_DIMS];
    size_t offset; /* in elements, into the flat buffers */
    size_t numel;
    bool frozen;      /* hb_params_set_trainable(…, 0): optimizers keep no state, never write */
} hb__block;

/* Where the params came from, when a built-in model made them (hb_model_create fills it,
 * hb_model_set_synthetic and the other data setters update the data part) so that a
 * checkpoint of the params can record it (docs/checkpoint-format.md, section 4). The
 * params never read it: other params (user layouts, wrappers, networks) have present =
 * false and their checkpoints carry no model section. Inline, so that recording it can
 * never fail. */
#define HB__ORIGIN_MAX_KEYS 64
typedef struct hb__origin_key {
    uint32_t key;  /* hb_model_key */
    bool real;     /* set with hb_model_config_set_f64 (else i64) */
    double value;
} hb__origin_key;

enum { HB__DATA_NONE = 0, HB__DATA_SYNTHETIC = 1, HB__DATA_EXTERNAL = 2 };

typedef struct hb__params_origin {
    bool present;
    uint32_t kind;           /* hb_model_kind */
    int64_t seed;            /* HB_CTX_SEED when the model was created */
    uint64_t stream;         /* the context's stream counter then */
    uint32_t n_keys;
    hb__origin_key keys[HB__ORIGIN_MAX_KEYS];
    uint32_t data;           /* HB__DATA_*: what the model's data is */
    int64_t data_seed;       /* synthetic data: HB_CTX_SEED at hb_model_set_synthetic, */
    uint64_t data_stream, data_batches, data_first; /* and its arguments */
} hb__params_origin;

struct hb_params {
    hb_context *ctx;
    hb_dtype dtype;      /* parameters */
    hb_dtype grad_dtype; /* = dtype, except f32 for bf16 parameters */
    hb__block *blocks;
    size_t n_blocks, cap_blocks;
    size_t n;            /* flat length, sum of numel */
    void *data;          /* n elements of dtype */
    void *grad;          /* n elements of grad_dtype */
    bool finalized;
    size_t n_trainable;     /* elements in blocks that are not frozen */
    uint64_t trainable_gen; /* +1 on every effective change of a block's frozen flag */
    hb__params_origin origin;
};

#endif
