/* Zeroing the optimizer state of a range of the flat vector, for the SST schedule (the
 * re-selected singular vectors restart with fresh state). Reads the optimizer's internal
 * layout (lib/optim/optim_internal.h): per-element buffers (SGD momentum, Adam m and v)
 * are zeroed on [offset, offset+len); Adam-mini's per-partition v is zeroed for every
 * partition of every block the range touches (SST ranges are whole U / Vᵀ blocks). The
 * step count (bias correction) and the bf16 master copy are left alone.
 * TODO(integrator): a public hb_optimizer_reset_range in optim.h would replace this. */
#include <string.h>

#include "optim/optim_internal.h"
#include "sst/sst_internal.h"

int hb__optim_zero_range(void *user, size_t offset, size_t len) {
    hb_optimizer *opt = user;
    if (!opt) return HB_OK;
    hb_params *p = opt->p;
    HB_CHECK(opt->ctx, offset <= p->n && len <= p->n - offset, HB_ERANGE,
             "state range [%zu, %zu+%zu) outside the %zu parameters", offset, offset, len, p->n);
    size_t es = hb_dtype_size(opt->sdtype);
    if (opt->buf) memset((char *)opt->buf + offset * es, 0, len * es);
    if (opt->m) memset((char *)opt->m + offset * es, 0, len * es);
    if (!opt->v) return HB_OK;
    if (opt->kind != HB_OPTIM_ADAM_MINI) {
        memset((char *)opt->v + offset * es, 0, len * es);
        return HB_OK;
    }
    if (!opt->part_first) return HB_OK;
    for (size_t b = 0; b < p->n_blocks; b++) {
        const hb__block *B = &p->blocks[b];
        if (B->offset + B->numel <= offset || B->offset >= offset + len) continue;
        size_t a = opt->part_first[b], z = opt->part_first[b + 1];
        memset((char *)opt->v + a * es, 0, (z - a) * es);
    }
    return HB_OK;
}
