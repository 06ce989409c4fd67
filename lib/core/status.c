/* Status strings and version queries. */
#include "core/internal.h"

const char *hb_strerror(int status) {
    switch (status) {
    case HB_OK: return "success";
    case HB_EINVAL: return "invalid argument";
    case HB_ENOMEM: return "out of memory";
    case HB_ESHAPE: return "shape or length mismatch";
    case HB_EDTYPE: return "unsupported or mismatched dtype";
    case HB_ENOTFOUND: return "not found";
    case HB_ENONFINITE: return "non-finite value (NaN or Inf)";
    case HB_EIO: return "input/output error";
    case HB_EFORMAT: return "corrupt or unrecognised format";
    case HB_ESTATE: return "invalid in the current state";
    case HB_EUNSUPPORTED: return "unsupported";
    case HB_ERANGE: return "index out of range";
    case HB_EOVERFLOW: return "size overflow";
    case HB_ECALLBACK: return "a user callback failed";
    case HB_ECANCELED: return "canceled";
    default: return "unknown status";
    }
}

unsigned hb_version_number(void) { return HB_VERSION_NUMBER; }
const char *hb_version_string(void) { return HB_VERSION_STRING; }
