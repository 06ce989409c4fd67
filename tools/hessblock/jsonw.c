/* jsonw: streaming JSON writer (see jsonw.h). */
#include "jsonw.h"

#include <math.h>

void jw_init(jw *w, FILE *f, int pretty) {
    w->f = f;
    w->depth = 0;
    w->count[0] = 0;
    w->pretty = pretty;
    w->error = 0;
}

void jw_write_escaped(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned c = *p;
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (c < 0x20 || c == 0x7f) fprintf(f, "\\u%04x", c);
            else fputc((int)c, f);
        }
    }
    fputc('"', f);
}

static void indent(jw *w) {
    if (!w->pretty) return;
    fputc('\n', w->f);
    for (int i = 0; i < w->depth; i++) fputs("  ", w->f);
}

/* Separator, indentation and key before a value. */
static void prefix(jw *w, const char *key) {
    if (w->count[w->depth] > 0) fputc(',', w->f);
    if (w->depth > 0) indent(w);
    w->count[w->depth]++;
    if (key) {
        jw_write_escaped(w->f, key);
        fputs(w->pretty ? ": " : ":", w->f);
    }
}

static void jw_open_(jw *w, const char *key, char c) {
    prefix(w, key);
    fputc(c, w->f);
    if (w->depth + 1 >= JW_MAX_DEPTH) { w->error = 1; return; }
    w->depth++;
    w->count[w->depth] = 0;
}

static void jw_close_(jw *w, char c) {
    if (w->depth == 0) { w->error = 1; return; }
    int had = w->count[w->depth];
    w->depth--;
    if (had) indent(w);
    fputc(c, w->f);
}

void jw_object(jw *w, const char *key) { jw_open_(w, key, '{'); }
void jw_array(jw *w, const char *key) { jw_open_(w, key, '['); }
void jw_end_object(jw *w) { jw_close_(w, '}'); }
void jw_end_array(jw *w) { jw_close_(w, ']'); }

void jw_string(jw *w, const char *key, const char *value) {
    prefix(w, key);
    if (value) jw_write_escaped(w->f, value);
    else fputs("null", w->f);
}

static void raw_number(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.12g", v);
    else fputs("null", f);
}

void jw_number(jw *w, const char *key, double value) {
    prefix(w, key);
    raw_number(w->f, value);
}

void jw_int(jw *w, const char *key, int64_t value) {
    prefix(w, key);
    fprintf(w->f, "%lld", (long long)value);
}

void jw_bool(jw *w, const char *key, int value) {
    prefix(w, key);
    fputs(value ? "true" : "false", w->f);
}

void jw_null(jw *w, const char *key) {
    prefix(w, key);
    fputs("null", w->f);
}

void jw_numbers(jw *w, const char *key, const double *v, size_t n) {
    prefix(w, key);
    fputc('[', w->f);
    for (size_t i = 0; i < n; i++) {
        if (i) fputc(',', w->f);
        raw_number(w->f, v[i]);
    }
    fputc(']', w->f);
}

int jw_finish(jw *w) {
    if (w->depth != 0) w->error = 1;
    fputc('\n', w->f);
    return w->error || ferror(w->f) ? -1 : 0;
}
