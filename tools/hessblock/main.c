/* hessblock: command-line front end of libhessblock.
 *   hessblock                          this help (creates nothing)
 *   hessblock [analyze] [options]      the whole study (the subcommand when options come first)
 *   hessblock spectrum|quadratic|train [options]
 * Exit status: 0 success, 1 runtime failure, 2 bad usage. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <sched.h>
#include <stdio.h>
#include <unistd.h>
#include <string.h>

#include "cli.h"
#include "presets.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: hessblock [SUBCOMMAND] [OPTIONS]\n\n"
            "Hessian block-heterogeneity analysis of neural networks (libhessblock %s).\n\n"
            "subcommands:\n"
            "  analyze     spectra, JS heterogeneity, SGD vs Adam and the quadratic test bed\n"
            "              for gpt, mlp and cnn on built-in synthetic data (the main job:\n"
            "              'hessblock analyze'; interrupt it and continue with --resume DIR)\n"
            "  spectrum    Hessian spectrum of one model or checkpoint, full and per block\n"
            "  quadratic   GD, SGD with momentum and Adam on block-diagonal quadratics\n"
            "  train       train one model with one optimizer (checkpoint and resume)\n\n"
            "common options: --threads N, --seed N, --out DIR, --json, --quiet,\n"
            "                --progress-every S, --help\n"
            "'hessblock SUBCOMMAND --help' shows the options of a subcommand;\n"
            "'hessblock --version' prints the version.\n",
            hb_version_string());
    preset_help(f);
}

/* Processors in this process's affinity mask (taskset, cgroups' cpusets), at least 1 and
 * at most the --threads limit. */
static int64_t available_processors(void) {
    long n = 0;
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
#endif
    if (n < 1) n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    return n > 1024 ? 1024 : n;
}

/* The default --threads under an MPI launcher with L ranks on this node: a rank bound to
 * its own cores (Open MPI's default --bind-to core, or --map-by ...:PE=T) sees only those
 * in its affinity mask: all of them. A rank free to run anywhere (--bind-to none) sees the
 * whole node, shared by its L ranks: a 1/L share, so that ranks x threads = cores. */
static int64_t rank_share(int64_t avail) {
    int local = cli_local_ranks();
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (local < 2 || online < 1 || avail < online) return avail;
    int64_t t = avail / local;
    return t < 1 ? 1 : t;
}

void common_defaults(common_opts *c) {
    /* every processor this process may run on by default (issue 19.4): with the blocks,
     * probe groups, bootstrap and training runs as tasks, `analyze` ran 2.09x faster on 2
     * pinned cores than on 1, with identical outputs (docs/performance.md) */
    c->threads = rank_share(available_processors());
    c->seed = 0;
    c->out = NULL;
    c->json = 0;
    c->quiet = cli_rank() != 0; /* under mpirun rank 0 alone reports */
    c->progress_every = 10;
}

hb_context *make_context(const char *cmd, const common_opts *c) {
    hb_context *ctx = NULL;
    int rc = hb_context_create(&ctx);
    if (rc != HB_OK) {
        runtime_error(cmd, "cannot create a context: %s", hb_strerror(rc));
        return NULL;
    }
    if ((rc = hb_context_set_i64(ctx, HB_CTX_THREADS, c->threads)) != HB_OK ||
        (rc = hb_context_set_i64(ctx, HB_CTX_SEED, c->seed)) != HB_OK) {
        runtime_error(cmd, "%s", hb_context_last_error(ctx));
        hb_context_free(ctx);
        return NULL;
    }
    if (cli_attach(cmd, ctx)) {
        hb_context_free(ctx);
        return NULL;
    }
    progress_setup(ctx, c->quiet || cli_rank() != 0, c->progress_every);
    return ctx;
}

static int run(int argc, char **argv);

int main(int argc, char **argv) {
    if (cli_mpi_init(&argc, &argv)) return EXIT_RUNTIME;
    return cli_mpi_finish(run(argc, argv));
}

static int run(int argc, char **argv) {
    /* stdout is line-buffered only on a terminal; make tables appear in order with
     * stderr messages when both go to one pipe */
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* No setlocale(LC_ALL, ""): the tool stays in the C locale, so every number it writes
     * (JSON, CSV, SVG, HTML) and parses (strtod) has '.' as radix whatever LANG says
     * (issue 12.8; tools/test_cli.py checks the output under a decimal-comma locale). */
    if (argc < 2) { /* bare `hessblock`: the help, nothing run, nothing created (issue 15) */
        usage(stdout);
        return EXIT_OK;
    }
    int first = 1;
    const char *sub = "analyze";
    if (argc > 1 && argv[1][0] != '-') {
        sub = argv[1];
        first = 2;
    } else if (argc > 1) {
        if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
            printf("hessblock %s (libhessblock %s)\n", HB_VERSION_STRING, hb_version_string());
            return EXIT_OK;
        }
        if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            usage(stdout);
            return EXIT_OK;
        }
    }
    for (int i = first; i < argc; i++)
        if (!strcmp(argv[i], "--version")) {
            printf("hessblock %s (libhessblock %s)\n", HB_VERSION_STRING, hb_version_string());
            return EXIT_OK;
        }
    if (!strcmp(sub, "analyze")) return cmd_analyze(argc, argv, first);
    if (!strcmp(sub, "spectrum")) return cmd_spectrum(argc, argv, first);
    if (!strcmp(sub, "quadratic")) return cmd_quadratic(argc, argv, first);
    if (!strcmp(sub, "train")) return cmd_train(argc, argv, first);
    if (!strcmp(sub, "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    fprintf(stderr, "hessblock: unknown subcommand '%s' (expected analyze, spectrum, quadratic "
                    "or train; see 'hessblock --help')\n", sub);
    return EXIT_USAGE;
}
