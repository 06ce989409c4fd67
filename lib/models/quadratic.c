/* Built-in model 'quadratic': not implemented yet (placeholder so the library links). */
#include "model/model_internal.h"

int hb__quadratic_create(hb_context *ctx, const hb_model_config *cfg, hb_model **out) {
    (void)cfg;
    *out = NULL;
    return hb__fail(ctx, HB_EUNSUPPORTED, "the quadratic model is not implemented in this build");
}
