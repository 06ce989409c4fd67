/* Status strings and version queries. */
#include "core/internal.h"

/* Both switches are made from HB_STATUS_MAP (include/hessblock/core.h), the one list of
 * codes; a duplicate value there is a compile error here (duplicate case label). */
const char *hb_strerror(int status) {
    switch (status) {
#define MESSAGE_CASE(name, value, message) case name: return message;
    HB_STATUS_MAP(MESSAGE_CASE)
#undef MESSAGE_CASE
    default: return "unknown status";
    }
}

const char *hb_status_name(int status) {
    switch (status) {
#define NAME_CASE(name, value, message) case name: return #name;
    HB_STATUS_MAP(NAME_CASE)
#undef NAME_CASE
    default: return NULL;
    }
}

unsigned hb_version_number(void) { return HB_VERSION_NUMBER; }
const char *hb_version_string(void) { return HB_VERSION_STRING; }
