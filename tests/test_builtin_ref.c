/* The built-in gpt, mlp and cnn against the values recorded from the hand-written models
 * (tests/data/builtin_ref.txt, written by tests/gen_builtin_ref.c; tests/builtin_ref.h
 * lists the records). Layout, θ at init and the synthetic data must match exactly; loss
 * and accuracy per value, and the vectors (gradient, H·v, hvp_multi rows, block HVPs)
 * norm-wise, to 1e-13 relative in f64 and 1e-5 in f32: the same mathematics in another
 * summation order moves f64 results by a few ulps of the largest terms (≈ 1e-15 here),
 * so 1e-13 leaves room for reassociation but none for a changed formula. */
#include <string.h>

#include "builtin_ref.h"
#include "hb_test.h"

#ifndef HB_TEST_DATA_DIR
#error "HB_TEST_DATA_DIR must name tests/data"
#endif

typedef struct rec {
    char key[REF_MAX_KEY];
    char *text; /* T records */
    size_t n;   /* N records */
    double *v;
    int seen;
} rec;

typedef struct cmp_sink {
    ref_sink base;
    rec *recs;
    size_t n_recs;
} cmp_sink;

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)len + 1);
    ck_assert(s && fread(s, 1, (size_t)len, f) == (size_t)len);
    s[len] = 0;
    fclose(f);
    return s;
}

static void parse(char *s, cmp_sink *c) {
    size_t cap = 0;
    char *save = NULL;
    for (char *line = s; line && *line;) { /* drop comment lines */
        char *nl = strchr(line, '\n');
        if (*line == '#') memset(line, ' ', nl ? (size_t)(nl - line) : strlen(line));
        line = nl ? nl + 1 : NULL;
    }
    for (char *tok = strtok_r(s, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
        if (c->n_recs == cap) {
            cap = cap ? 2 * cap : 256;
            c->recs = realloc(c->recs, cap * sizeof *c->recs);
            ck_assert(c->recs);
        }
        rec *r = &c->recs[c->n_recs++];
        memset(r, 0, sizeof *r);
        ck_assert_msg(!strcmp(tok, "T") || !strcmp(tok, "N"), "bad record tag '%s'", tok);
        int text = !strcmp(tok, "T");
        char *key = strtok_r(NULL, " \n", &save), *val = strtok_r(NULL, " \n", &save);
        ck_assert(key && val && strlen(key) < REF_MAX_KEY);
        strcpy(r->key, key);
        if (text) {
            r->text = val;
            continue;
        }
        r->n = strtoull(val, NULL, 10);
        r->v = malloc((r->n ? r->n : 1) * sizeof *r->v);
        ck_assert(r->v);
        for (size_t i = 0; i < r->n; i++) {
            char *t = strtok_r(NULL, " \n", &save);
            ck_assert_msg(t != NULL, "%s: short record", key);
            r->v[i] = strtod(t, NULL);
        }
    }
}

static rec *find(cmp_sink *c, const char *key) {
    for (size_t i = 0; i < c->n_recs; i++)
        if (!strcmp(c->recs[i].key, key)) {
            ck_assert_msg(!c->recs[i].seen, "%s computed twice", key);
            c->recs[i].seen = 1;
            return &c->recs[i];
        }
    ck_abort_msg("%s: no such record in builtin_ref.txt", key);
    return NULL;
}

static void cmp_text(ref_sink *s, const char *key, const char *text) {
    rec *r = find((cmp_sink *)s, key);
    ck_assert_msg(r->text && !strcmp(r->text, text), "%s: '%s', recorded '%s'", key, text,
                  r->text ? r->text : "(numbers)");
}

static void cmp_num(ref_sink *s, const char *key, size_t n, const double *v, int f32) {
    rec *r = find((cmp_sink *)s, key);
    double tol = f32 ? 1e-5 : 1e-13;
    ck_assert_msg(!r->text && r->n == n, "%s: %zu values, recorded %zu", key, n, r->n);
    if (n == 1) { /* a scalar: relative to itself */
        double e = fabs(v[0] - r->v[0]) / fmax(fabs(r->v[0]), 1e-300);
        ck_assert_msg(e <= tol || v[0] == r->v[0], "%s: %.17g, recorded %.17g (rel %g > %g)",
                      key, v[0], r->v[0], e, tol);
        return;
    }
    double d = 0, s2 = 0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = v[i] - r->v[i];
        if (fabs(e) > fabs(v[worst] - r->v[worst])) worst = i;
        d += e * e, s2 += r->v[i] * r->v[i];
    }
    double e = sqrt(d) / fmax(sqrt(s2), 1e-300);
    ck_assert_msg(e <= tol || d == 0, "%s: norm-wise relative error %g > %g (worst element %zu: "
                  "%.17g, recorded %.17g)", key, e, tol, worst, v[worst], r->v[worst]);
}

static void check_cases(const char *prefix) {
    char *file = slurp(HB_TEST_DATA_DIR "/builtin_ref.txt");
    cmp_sink c = {{cmp_num, cmp_text}, NULL, 0};
    parse(file, &c);
    size_t pl = strlen(prefix), ran = 0;
    for (size_t i = 0; i < REF_N_CASES; i++) {
        if (strncmp(REF_CASES[i].name, prefix, pl)) continue;
        ck_assert_int_eq(ref_run_case(&REF_CASES[i], &c.base), HB_OK);
        ran++;
    }
    ck_assert_uint_gt(ran, 0);
    for (size_t i = 0; i < c.n_recs; i++) /* every record of these cases was recomputed */
        ck_assert_msg(c.recs[i].seen || strncmp(c.recs[i].key, prefix, pl),
                      "%s: recorded but not computed", c.recs[i].key);
    for (size_t i = 0; i < c.n_recs; i++) free(c.recs[i].v);
    free(c.recs);
    free(file);
}

START_TEST(test_gpt_ref) { check_cases("gpt."); }
END_TEST

START_TEST(test_mlp_ref) { check_cases("mlp_"); }
END_TEST

START_TEST(test_cnn_ref) { check_cases("cnn."); }
END_TEST

Suite *hb_suite_builtin_ref(void) {
    Suite *s = suite_create("builtin_ref");
    TCase *tc = tcase_create("recorded");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_gpt_ref);
    tcase_add_test(tc, test_mlp_ref);
    tcase_add_test(tc, test_cnn_ref);
    suite_add_tcase(s, tc);
    return s;
}
