/* Writes the built-in models' reference values (tests/builtin_ref.h says which) to the
 * file named by argv[1], or stdout:
 *     build/tests/gen_builtin_ref tests/data/builtin_ref.txt
 * Run once, on the code whose behaviour the `builtin_ref` suite must keep; not a test. */
#include "builtin_ref.h"

typedef struct gen_sink {
    ref_sink base;
    FILE *f;
} gen_sink;

static void gen_num(ref_sink *s, const char *key, size_t n, const double *v, int f32) {
    FILE *f = ((gen_sink *)s)->f;
    fprintf(f, "N %s %zu", key, n);
    for (size_t i = 0; i < n; i++)
        fprintf(f, i % 8 ? " %.*g" : "\n  %.*g", f32 ? 9 : 17, v[i]);
    fputc('\n', f);
}

static void gen_text(ref_sink *s, const char *key, const char *text) {
    fprintf(((gen_sink *)s)->f, "T %s %s\n", key, text);
}

int main(int argc, char **argv) {
    gen_sink s = {{gen_num, gen_text}, argc > 1 ? fopen(argv[1], "w") : stdout};
    if (!s.f) {
        perror(argv[1]);
        return 1;
    }
    fprintf(s.f, "# libhessblock built-in model reference values (tests/builtin_ref.h)\n"
                 "# written by tests/gen_builtin_ref.c; format: T key text | N key n values\n");
    for (size_t i = 0; i < REF_N_CASES; i++)
        if (ref_run_case(&REF_CASES[i], &s.base) != HB_OK) return 1;
    return fclose(s.f) == 0 ? 0 : 1;
}
