/* Helpers shared by the built-in models' definitions (internal). */
#ifndef HB_MODELS_COMMON_H
#define HB_MODELS_COMMON_H

#include <math.h>

#include "model/model_internal.h"

/* Reserved RNG streams of the synthetic data: high bits tag the model, so they never
 * meet the context's streams (0, 1, 2, …). Sample i always uses counter i (or i·width +
 * e), so a sample depends on (seed, stream, i) only, never on the batch size. */
#define HB__DATA_STREAM(tag, stream, purpose) \
    ((((uint64_t)(tag)) << 48) ^ ((uint64_t)(stream) << 4) ^ (uint64_t)(purpose))

#endif
