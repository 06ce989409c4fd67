/* Shared test helpers (see hb_test.h). */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_test.h"

static void *test_alloc(void *opaque, size_t bytes) {
    hb_test_alloc *st = opaque;
    st->calls++;
    if (st->fail_at > 0 && st->calls == st->fail_at) return NULL;
    void *p = malloc(bytes ? bytes : 1);
    if (p) st->live++;
    return p;
}

static void test_free(void *opaque, void *ptr) {
    hb_test_alloc *st = opaque;
    if (!ptr) return;
    st->live--;
    free(ptr);
}

hb_context *hb_test_context_with(hb_test_alloc *state, int *status) {
    hb_allocator a = HB_ALLOCATOR_INIT;
    a.alloc = test_alloc;
    a.free = test_free;
    a.opaque = state;
    hb_context *ctx = NULL;
    *status = hb_context_create_with_allocator(&a, &ctx);
    return ctx;
}

long hb_test_oom_loop(hb_test_create_fn fn, void *arg) {
    for (long k = 1; k < 100000; k++) {
        hb_test_alloc st = {k, 0, 0};
        int rc;
        hb_context *ctx = hb_test_context_with(&st, &rc);
        if (!ctx) {
            ck_assert_int_eq(rc, HB_ENOMEM);
            ck_assert_int_eq(st.live, 0);
            continue;
        }
        rc = fn(ctx, arg);
        if (rc == HB_ENOMEM) {
            ck_assert_msg(hb_context_last_error(ctx)[0] != '\0', "ENOMEM without a message at k=%ld", k);
            ck_assert_msg(st.live == 1, "after ENOMEM at allocation %ld, %ld blocks besides the "
                          "context are still allocated", k, st.live - 1);
        } else {
            ck_assert_msg(rc == HB_OK, "unexpected status %d (%s) at k=%ld: %s", rc,
                          hb_strerror(rc), k, hb_context_last_error(ctx));
        }
        hb_context_free(ctx);
        ck_assert_msg(st.live == 0, "leak: %ld blocks live after freeing the context (k=%ld)",
                      st.live, k);
        if (rc == HB_OK) {
            ck_assert_msg(st.calls < k, "success although allocation %ld was to fail", k);
            return k - 1;
        }
    }
    ck_abort_msg("allocation-failure loop did not terminate");
    return -1;
}

hb_context *hb_test_context(int threads, int64_t seed) {
    hb_context *ctx = NULL;
    ck_assert_int_eq(hb_context_create(&ctx), HB_OK);
    ck_assert_int_eq(hb_context_set_i64(ctx, HB_CTX_THREADS, threads), HB_OK);
    ck_assert_int_eq(hb_context_set_i64(ctx, HB_CTX_SEED, seed), HB_OK);
    return ctx;
}

const char *hb_test_comma_locale(void) {
    static const char *const names[] = {"de_DE.UTF-8", "de_DE.utf8", "de_DE", "fr_FR.UTF-8",
                                        "fr_FR.utf8", "nl_NL.UTF-8", "ru_RU.UTF-8"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (!setlocale(LC_NUMERIC, names[i])) continue;
        char b[8];
        snprintf(b, sizeof b, "%.1f", 0.5);
        if (strcmp(b, "0,5") == 0) return names[i];
    }
    setlocale(LC_NUMERIC, "C");
    fprintf(stderr, "SKIP the decimal-comma part: no de_DE/fr_FR/nl_NL/ru_RU locale here "
                    "(tools/setup.sh generates de_DE.UTF-8)\n");
    ck_assert_msg(getenv("HB_REQUIRE_COMMA_LOCALE") == NULL,
                  "HB_REQUIRE_COMMA_LOCALE is set but no decimal-comma locale exists");
    return NULL;
}

/* xorshift32: a generator of the test's own, so the spectra do not depend on the context */
static double test_uniform(unsigned *x) {
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return (double)(*x >> 8) / (double)(1u << 24);
}

void hb_test_spectra(hb_context *ctx, size_t k, unsigned seed, size_t zero_at, hb_spectrum **out) {
    unsigned x = seed * 2654435761u + 1u;
    for (size_t i = 0; i < k; i++) {
        ck_assert_int_eq(hb_spectrum_create(ctx, 100, &out[i]), HB_OK);
        size_t probes = 2 + (size_t)(test_uniform(&x) * 4);
        double shift = 4 * test_uniform(&x) - 2, width = 0.5 + 3 * test_uniform(&x);
        for (size_t p = 0; p < probes; p++) {
            double nodes[8], weights[8];
            size_t count = 3 + (size_t)(test_uniform(&x) * 6);
            double at = shift;
            for (size_t j = 0; j < count; j++) {
                at += width * (0.05 + test_uniform(&x)) / (double)count;
                nodes[j] = i == zero_at ? 1e-30 * at : at;
                weights[j] = 0.1 + test_uniform(&x);
            }
            ck_assert_int_eq(hb_spectrum_add_probe(out[i], nodes, weights, count), HB_OK);
        }
    }
}
