/* Shared test helpers: a counting/failing allocator, the allocation-failure loop,
 * and closeness checks. Included by every tests/test_<module>.c. */
#ifndef HB_TEST_H
#define HB_TEST_H

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "hessblock/hessblock.h"

/* Every suite file defines `Suite *hb_suite_<name>(void)`; the runner lists them
 * from the generated suites.h (built from the same list meson compiles). */

/* A counting allocator: fails the fail_at-th allocation (1-based; 0 = never) and
 * tracks live blocks, so leaks and double frees show up as live != 0. */
typedef struct hb_test_alloc {
    long fail_at;
    long calls;
    long live;
} hb_test_alloc;

hb_context *hb_test_context_with(hb_test_alloc *state, int *status);

/* hb_test_oom_loop: for k = 1, 2, …: make a context whose allocator fails the k-th
 * allocation, run fn(ctx, arg) (which must free whatever it created on success), free
 * the context; assert that every failure is a clean HB_ENOMEM with a message and that
 * nothing is left allocated; stop at the first success. Returns the number of
 * allocations the successful run made (so a test can assert the loop did work). */
typedef int (*hb_test_create_fn)(hb_context *ctx, void *arg);
long hb_test_oom_loop(hb_test_create_fn fn, void *arg);

/* hb_test_comma_locale: set LC_NUMERIC to an installed locale whose printf writes 0.5 as
 * "0,5" and return its name; the caller restores setlocale(LC_NUMERIC, "C") (the runner
 * does not fork: CK_FORK=no). NULL (LC_NUMERIC left "C", a SKIP line on stderr) if none
 * exists — an assertion failure instead when HB_REQUIRE_COMMA_LOCALE is set (CI). */
const char *hb_test_comma_locale(void);

/* A plain context with malloc, the given threads and seed. */
hb_context *hb_test_context(int threads, int64_t seed);

/* hb_test_spectra: k spectra on ctx (operator size 100), each of 2..5 probes of 3..8
 * ascending nodes in about [-2, 6] with positive weights, all drawn from a fixed generator
 * of `seed` (not the context's: the same spectra on any context). Spectrum zero_at (if
 * < k) has its nodes scaled by 1e-30: numerically zero next to the others. The caller
 * frees out[0..k-1]. */
void hb_test_spectra(hb_context *ctx, size_t k, unsigned seed, size_t zero_at, hb_spectrum **out);

/* |a-b| <= tol·max(1, |a|, |b|) */
#define HB_ASSERT_CLOSE(a, b, tol)                                                       \
    do {                                                                                 \
        double hb_a_ = (a), hb_b_ = (b);                                                 \
        double hb_s_ = fmax(1.0, fmax(fabs(hb_a_), fabs(hb_b_)));                         \
        ck_assert_msg(fabs(hb_a_ - hb_b_) <= (tol)*hb_s_, "%s = %.17g vs %s = %.17g (tol %g)", \
                      #a, hb_a_, #b, hb_b_, (double)(tol));                              \
    } while (0)

#endif
