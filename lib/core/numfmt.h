/* Locale-independent number formatting for everything the library writes as text
 * (spectrum JSON and CSV). Internal; nothing here is exported. */
#ifndef HB_CORE_NUMFMT_H
#define HB_CORE_NUMFMT_H

#include <stddef.h>

/* Enough for "%.17g" of any double ("-1.2345678901234567e-308" is 24 + NUL). */
#define HB_NUMFMT_LEN 32

/* hb__fmt_double: v as printf("%.*g", precision, v) would write it in the C locale,
 * whatever locale the embedding application set (issue 12.8: "de_DE.UTF-8" made
 * "lambda_min":0,5 — invalid JSON and a broken CSV row). Writes at most n bytes
 * (n ≥ HB_NUMFMT_LEN always suffices for precision ≤ 17) and returns buf. */
char *hb__fmt_double(char *buf, size_t n, int precision, double v);

#endif
