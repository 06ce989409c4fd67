/* jsonw: a small streaming JSON writer for the hessblock tool.
 * Strings are escaped per RFC 8259 (quote, backslash, control characters); numbers are
 * written with 12 significant digits when finite and as null otherwise (JSON has no
 * NaN/Inf). Nesting is tracked so commas and indentation are always right. */
#ifndef HB_TOOL_JSONW_H
#define HB_TOOL_JSONW_H

#include <stdint.h>
#include <stdio.h>

#define JW_MAX_DEPTH 32

typedef struct jw {
    FILE *f;
    int depth;
    int count[JW_MAX_DEPTH]; /* items written at each level */
    int pretty;
    int error;               /* set on misuse (depth overflow, unbalanced close) */
} jw;

void jw_init(jw *w, FILE *f, int pretty);
/* key is the member name inside an object, NULL inside an array or at top level. */
void jw_object(jw *w, const char *key);
void jw_array(jw *w, const char *key);
void jw_end_object(jw *w);
void jw_end_array(jw *w);
void jw_string(jw *w, const char *key, const char *value); /* NULL value -> null */
void jw_number(jw *w, const char *key, double value);      /* non-finite -> null */
void jw_int(jw *w, const char *key, int64_t value);
void jw_bool(jw *w, const char *key, int value);
void jw_null(jw *w, const char *key);
/* Array of n doubles on one line. */
void jw_numbers(jw *w, const char *key, const double *v, size_t n);
/* Finishes the document (newline); returns 0 when everything was balanced and written. */
int jw_finish(jw *w);

/* Escape s as a JSON string literal (with quotes) to f. */
void jw_write_escaped(FILE *f, const char *s);

#endif
