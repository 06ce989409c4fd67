/* Strict command-line parsing: every option is known, every value fully parsed and
 * range-checked; anything else is one line on stderr and exit status 2. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hessblock %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'hessblock %s --help')\n", cmd);
    va_end(ap);
}

void runtime_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hessblock %s: error: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void print_help(FILE *f, const char *cmd, const opt_spec *specs, size_t n,
                const char *usage_line, const char *description) {
    fprintf(f, "usage: hessblock %s %s\n\n%s\n\noptions:\n", cmd, usage_line, description);
    for (size_t i = 0; i < n; i++) {
        char left[64];
        if (specs[i].type == OPT_FLAG)
            snprintf(left, sizeof left, "--%s", specs[i].name);
        else
            snprintf(left, sizeof left, "--%s %s", specs[i].name,
                     specs[i].metavar ? specs[i].metavar : "VALUE");
        fprintf(f, "  %-24s %s", left, specs[i].help);
        if (specs[i].type == OPT_CHOICE) {
            fputs(" (", f);
            for (const char *const *c = specs[i].choices; *c; c++)
                fprintf(f, "%s%s", c == specs[i].choices ? "" : "|", *c);
            fputc(')', f);
        }
        fputc('\n', f);
    }
    fprintf(f, "  %-24s %s\n", "--help", "show this help and exit");
}

/* strtoll/strtod skip leading white space, so " 4" would read as 4: a value must start
 * with its first character (issue 12.10). Trailing junk is caught by *end below. */
static int starts_clean(const char *s) { return *s && !isspace((unsigned char)*s); }

static int parse_int(const char *s, int64_t *v) {
    if (!starts_clean(s)) return -1;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *v = x;
    return 0;
}

static int parse_real(const char *s, double *v) {
    if (!starts_clean(s)) return -1;
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(x)) return -1;
    *v = x;
    return 0;
}

int parse_options(const char *cmd, int argc, char **argv, int first, const opt_spec *specs,
                  size_t nspecs, const char *usage_line, const char *description) {
    /* An option given twice is an error, not "last one wins": a script that repeats one
     * by mistake would otherwise run with a value it did not mean (issue 12.10). */
    enum { MAX_SPECS = 256 };
    unsigned char seen[MAX_SPECS] = {0};
    if (nspecs > MAX_SPECS) {
        runtime_error(cmd, "internal: %zu options exceed the parser's table of %d", nspecs,
                      (int)MAX_SPECS);
        return EXIT_USAGE;
    }
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            print_help(stdout, cmd, specs, nspecs, usage_line, description);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == 0) {
            usage_error(cmd, "unexpected argument '%s'", a);
            return EXIT_USAGE;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const opt_spec *sp = NULL;
        for (size_t k = 0; k < nspecs; k++)
            if (strlen(specs[k].name) == len && !strncmp(specs[k].name, name, len)) sp = &specs[k];
        if (!sp) {
            usage_error(cmd, "unknown option '--%.*s'", (int)len, name);
            return EXIT_USAGE;
        }
        if (seen[sp - specs]++) {
            usage_error(cmd, "option '--%s' given more than once", sp->name);
            return EXIT_USAGE;
        }
        if (sp->type == OPT_FLAG) {
            if (eq) {
                usage_error(cmd, "option '--%s' takes no value", sp->name);
                return EXIT_USAGE;
            }
            *(int *)sp->target = 1;
            continue;
        }
        const char *val;
        if (eq) val = eq + 1;
        else if (i + 1 < argc) val = argv[++i];
        else {
            usage_error(cmd, "option '--%s' needs a value", sp->name);
            return EXIT_USAGE;
        }
        switch (sp->type) {
        case OPT_INT: {
            int64_t v;
            if (parse_int(val, &v) || (double)v < sp->lo || (double)v > sp->hi) {
                usage_error(cmd, "bad value '%s' for --%s: expected an integer in [%.0f, %.0f]",
                            val, sp->name, sp->lo, sp->hi);
                return EXIT_USAGE;
            }
            *(int64_t *)sp->target = v;
            break;
        }
        case OPT_REAL: {
            double v;
            if (parse_real(val, &v) || v < sp->lo || v > sp->hi) {
                usage_error(cmd, "bad value '%s' for --%s: expected a number in [%g, %g]", val,
                            sp->name, sp->lo, sp->hi);
                return EXIT_USAGE;
            }
            *(double *)sp->target = v;
            break;
        }
        case OPT_STRING:
            if (!*val) {
                usage_error(cmd, "empty value for --%s", sp->name);
                return EXIT_USAGE;
            }
            *(const char **)sp->target = val;
            break;
        case OPT_CHOICE: {
            int found = -1;
            for (int k = 0; sp->choices[k]; k++)
                if (!strcmp(sp->choices[k], val)) found = k;
            if (found < 0) {
                char list[256] = "";
                for (int k = 0; sp->choices[k]; k++) {
                    if (k) strncat(list, ", ", sizeof list - strlen(list) - 1);
                    strncat(list, sp->choices[k], sizeof list - strlen(list) - 1);
                }
                usage_error(cmd, "bad value '%s' for --%s: expected one of %s", val, sp->name,
                            list);
                return EXIT_USAGE;
            }
            *(int *)sp->target = found;
            break;
        }
        case OPT_FLAG: break;
        }
    }
    return 0;
}

int split_list(char *buf, char **items, int max) {
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n >= max) return -1;
        items[n++] = t;
    }
    return n > 0 ? n : -1;
}
