/* The SST schedule's state reset (re-selected singular vectors restart with fresh
 * optimizer state), as an hb__state_reset_fn over an hb_optimizer: the public
 * hb_optimizer_reset_range. The step count (bias correction) and a bf16 master copy are
 * left alone. */
#include "sst/sst_internal.h"

int hb__optim_zero_range(void *user, size_t offset, size_t len) {
    return user ? hb_optimizer_reset_range(user, offset, len) : HB_OK;
}
