/* The test runner: every suite listed in the generated suites.h (the same list meson
 * compiles, so a suite cannot be compiled and forgotten). With an argument, runs only
 * the suite of that name; meson registers one test per suite that way. */
#include <stdio.h>
#include <string.h>

#include "hb_test.h"

#define HB_SUITE(name) Suite *hb_suite_##name(void);
#include "suites.h"
#undef HB_SUITE

typedef struct { const char *name; Suite *(*make)(void); } suite_entry;
static const suite_entry all_suites[] = {
#define HB_SUITE(name) {#name, hb_suite_##name},
#include "suites.h"
#undef HB_SUITE
};

int main(int argc, char **argv) {
    const char *only = argc > 1 ? argv[1] : NULL;
    SRunner *sr = NULL;
    int found = 0;
    for (size_t i = 0; i < sizeof all_suites / sizeof all_suites[0]; i++) {
        if (only && strcmp(only, all_suites[i].name) != 0) continue;
        found++;
        if (!sr) sr = srunner_create(all_suites[i].make());
        else srunner_add_suite(sr, all_suites[i].make());
    }
    if (!found) {
        fprintf(stderr, "no suite named '%s'\n", only ? only : "");
        return 2;
    }
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
