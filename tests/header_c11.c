/* Compiled with -std=c11 -pedantic -Werror: the public header must be clean C11 alone. */
#include <hessblock/hessblock.h>

int main(void) { return hb_version_number() == HB_VERSION_NUMBER ? 0 : 1; }
