/* jsonr: recursive-descent JSON reader (see jsonr.h). */
#include "jsonr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct reader {
    const char *s, *p, *end;
    char *err;
    size_t nerr;
    int depth;
} reader;

static int fail(reader *r, const char *what) {
    if (r->err && !r->err[0]) snprintf(r->err, r->nerr, "%s at byte %zu", what, (size_t)(r->p - r->s));
    return -1;
}

static void skip_ws(reader *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) r->p++;
}

static int parse_value(reader *r, jr_value *v);

static int parse_string(reader *r, char **out) {
    r->p++; /* opening quote */
    size_t cap = 16, len = 0;
    char *b = malloc(cap);
    if (!b) return fail(r, "out of memory");
    while (r->p < r->end && *r->p != '"') {
        char c = *r->p++;
        if ((unsigned char)c < 0x20) { free(b); return fail(r, "control character in a string"); }
        if (c == '\\') {
            if (r->p >= r->end) break;
            char e = *r->p++;
            switch (e) {
            case '"': case '\\': case '/': c = e; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': { /* the tool writes \u00XX only (control characters) */
                unsigned code;
                if (r->end - r->p < 4 || sscanf(r->p, "%4x", &code) != 1 || code > 0x7f) {
                    free(b);
                    return fail(r, "unsupported \\u escape");
                }
                r->p += 4;
                c = (char)code;
                break;
            }
            default: free(b); return fail(r, "bad escape in a string");
            }
        }
        if (len + 2 > cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) { free(b); return fail(r, "out of memory"); }
            b = nb;
        }
        b[len++] = c;
    }
    if (r->p >= r->end) { free(b); return fail(r, "unterminated string"); }
    r->p++;
    b[len] = 0;
    *out = b;
    return 0;
}

/* Appends an empty member to an array or object; returns it or NULL. */
static jr_value *push(reader *r, jr_value *v, size_t *cap) {
    if (v->n == *cap) {
        size_t nc = *cap ? 2 * *cap : 8;
        jr_value *ni = realloc(v->items, nc * sizeof *ni);
        if (!ni) { fail(r, "out of memory"); return NULL; }
        v->items = ni;
        if (v->type == JR_OBJECT) {
            char **nk = realloc(v->keys, nc * sizeof *nk);
            if (!nk) { fail(r, "out of memory"); return NULL; }
            v->keys = nk;
        }
        *cap = nc;
    }
    jr_value *m = &v->items[v->n];
    memset(m, 0, sizeof *m);
    if (v->type == JR_OBJECT) v->keys[v->n] = NULL;
    v->n++;
    return m;
}

static int parse_container(reader *r, jr_value *v, char close) {
    if (++r->depth > 64) return fail(r, "nesting too deep");
    r->p++;
    size_t cap = 0;
    skip_ws(r);
    if (r->p < r->end && *r->p == close) { r->p++; r->depth--; return 0; }
    for (;;) {
        skip_ws(r);
        char *key = NULL;
        if (v->type == JR_OBJECT) {
            if (r->p >= r->end || *r->p != '"') return fail(r, "expected a member name");
            if (parse_string(r, &key)) return -1;
            skip_ws(r);
            if (r->p >= r->end || *r->p != ':') { free(key); return fail(r, "expected ':'"); }
            r->p++;
        }
        jr_value *m = push(r, v, &cap);
        if (!m) { free(key); return -1; }
        if (v->type == JR_OBJECT) v->keys[v->n - 1] = key;
        if (parse_value(r, m)) return -1;
        skip_ws(r);
        if (r->p < r->end && *r->p == ',') { r->p++; continue; }
        if (r->p < r->end && *r->p == close) { r->p++; r->depth--; return 0; }
        return fail(r, "expected ',' or the end of a container");
    }
}

static int parse_value(reader *r, jr_value *v) {
    skip_ws(r);
    if (r->p >= r->end) return fail(r, "unexpected end");
    char c = *r->p;
    if (c == '{') { v->type = JR_OBJECT; return parse_container(r, v, '}'); }
    if (c == '[') { v->type = JR_ARRAY; return parse_container(r, v, ']'); }
    if (c == '"') { v->type = JR_STRING; return parse_string(r, &v->string); }
    static const struct { const char *word; jr_type t; double x; } words[] = {
        {"null", JR_NULL, 0}, {"true", JR_BOOL, 1}, {"false", JR_BOOL, 0}};
    for (size_t i = 0; i < 3; i++) {
        size_t l = strlen(words[i].word);
        if ((size_t)(r->end - r->p) >= l && !strncmp(r->p, words[i].word, l)) {
            v->type = words[i].t;
            v->number = words[i].x;
            r->p += l;
            return 0;
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        char *e;
        v->type = JR_NUMBER;
        v->number = strtod(r->p, &e); /* C locale: '.' radix (the tool never calls setlocale) */
        if (e == r->p || e > r->end) return fail(r, "bad number");
        r->p = e;
        return 0;
    }
    return fail(r, "unexpected character");
}

int jr_parse_file(const char *path, jr_value *out, char *err, size_t nerr) {
    memset(out, 0, sizeof *out);
    if (nerr) err[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, nerr, "cannot read it"); return -1; }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    for (size_t got; buf && (got = fread(buf + len, 1, cap - len, f)) > 0;) {
        len += got;
        if (len == cap) {
            char *nb = realloc(buf, 2 * cap + 1);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) { free(buf); snprintf(err, nerr, bad ? "read error" : "out of memory"); return -1; }
    buf[len] = 0;
    reader r = {buf, buf, buf + len, err, nerr, 0};
    int rc = parse_value(&r, out);
    if (!rc) {
        skip_ws(&r);
        if (r.p != r.end) rc = fail(&r, "trailing characters");
    }
    free(buf);
    if (rc) jr_free(out);
    return rc;
}

void jr_free(jr_value *v) {
    if (!v) return;
    for (size_t i = 0; i < v->n; i++) {
        jr_free(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->string);
    memset(v, 0, sizeof *v);
}

const jr_value *jr_get(const jr_value *v, const char *key) {
    if (!v || v->type != JR_OBJECT) return NULL;
    for (size_t i = 0; i < v->n; i++)
        if (v->keys[i] && !strcmp(v->keys[i], key)) return &v->items[i];
    return NULL;
}

const char *jr_get_string(const jr_value *v, const char *key) {
    const jr_value *m = jr_get(v, key);
    return m && m->type == JR_STRING ? m->string : NULL;
}
