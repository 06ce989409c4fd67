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
};

#endif
