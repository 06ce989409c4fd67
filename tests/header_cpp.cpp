// Compiled as C++ with -pedantic -Werror: the public header must be usable from C++.
#include <hessblock/hessblock.h>

int main() {
    hb_context *ctx = nullptr;
    if (hb_context_create(&ctx) != HB_OK) return 1;
    hb_context_free(ctx);
    return hb_version_number() == HB_VERSION_NUMBER ? 0 : 1;
}
