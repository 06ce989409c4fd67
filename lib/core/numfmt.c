/* hb__fmt_double: printf's %g, then the locale's radix character replaced by '.'.
 *
 * Why this way: the library must never call setlocale (process-global; it would change
 * the embedding application's behaviour under its feet and race with its threads).
 * uselocale(3) with a C locale object would be thread-local, but costs an allocation
 * per call (or a global cache) for a single character's worth of difference. With %g
 * the locale changes nothing but the radix (no grouping without the ' flag, no
 * locale digits without the I flag), so replacing the radix string — which may be
 * several bytes in some locales — is exact. nl_langinfo(RADIXCHAR) reads the calling
 * thread's locale (as snprintf uses) and is MT-safe in glibc, unlike localeconv(). */
#include "core/numfmt.h"

#include <langinfo.h>
#include <stdio.h>
#include <string.h>

char *hb__fmt_double(char *buf, size_t n, int precision, double v) {
    if (n == 0) return buf;
    snprintf(buf, n, "%.*g", precision, v);
    const char *radix = nl_langinfo(RADIXCHAR);
    if (!radix || !*radix || strcmp(radix, ".") == 0) return buf;
    char *at = strstr(buf, radix);
    if (at) {
        size_t rl = strlen(radix);
        *at = '.';
        memmove(at + 1, at + rl, strlen(at + rl) + 1); /* includes the NUL */
    }
    return buf;
}
