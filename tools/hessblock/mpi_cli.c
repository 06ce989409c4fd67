/* hessblock under mpirun (issue 13.4; docs/scale-out.md, "The command-line tool").
 *
 * Built with MPI (HB_CLI_MPI, meson -Dmpi), the tool initialises MPI only when a launcher
 * started it: Open MPI (OMPI_COMM_WORLD_SIZE), PMIx (PMIX_RANK) or a PMI launcher such as
 * MPICH's Hydra or Slurm (PMI_RANK / PMI_SIZE). A plain `hessblock ...` never touches MPI,
 * so it runs where no MPI runtime works (no network, a container without a launcher).
 *
 * Under a launcher with more than one rank: the contexts of make_context get the
 * communicator (hb_mpi_attach on MPI_COMM_WORLD, in the same order on every rank: every
 * rank runs the same command), so SLQ runs divide their probe groups over the ranks and
 * every rank holds the single-process spectra. Rank 0 alone prints and writes: the others
 * run with --quiet, stdout to /dev/null and outdir_writes = 0 (not even the output
 * directory is created); their errors still reach stderr, prefixed with their rank by the
 * launcher's output forwarding (Open MPI: --tag-output). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#ifdef HB_CLI_MPI
#include <hessblock/mpi.h>
#endif

static int cli_rank_, cli_size_ = 1, cli_local_ = 1, cli_mpi_on;

static int env_int(const char *name, int dflt) {
    const char *v = getenv(name);
    if (!v || !*v) return dflt;
    char *end = NULL;
    long x = strtol(v, &end, 10);
    return *end == '\0' && x >= 0 && x < (1L << 30) ? (int)x : dflt;
}

int cli_launched(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK") ||
           getenv("PMI_SIZE");
}

int cli_mpi_init(int *argc, char ***argv) {
#ifdef HB_CLI_MPI
    if (!cli_launched()) return 0;
    int provided = 0;
    /* FUNNELED: the library calls MPI only from the thread that makes the library call
     * (the tool's main thread; its job and side threads have contexts of their own). */
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "hessblock: MPI_Init_thread failed under the launcher\n");
        return -1;
    }
    cli_mpi_on = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &cli_rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &cli_size_);
    /* ranks on this node: the launcher's count, else MPI's shared-memory split */
    cli_local_ = env_int("OMPI_COMM_WORLD_LOCAL_SIZE", 0);
    if (cli_local_ < 1) {
        MPI_Comm node;
        cli_local_ = 1;
        if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) ==
            MPI_SUCCESS) {
            MPI_Comm_size(node, &cli_local_);
            MPI_Comm_free(&node);
        }
    }
    if (cli_rank_ != 0) {
        outdir_writes = 0;
        if (!freopen("/dev/null", "w", stdout)) fclose(stdout);
    }
#else
    (void)argc;
    (void)argv;
    if (cli_launched() && env_int("OMPI_COMM_WORLD_SIZE", env_int("PMI_SIZE", 1)) > 1 &&
        env_int("OMPI_COMM_WORLD_RANK", env_int("PMI_RANK", env_int("PMIX_RANK", 0))) == 0)
        fprintf(stderr, "hessblock: started by an MPI launcher, but this build has no MPI "
                        "(meson -Dmpi=enabled): every rank runs the whole job alone\n");
#endif
    return 0;
}

int cli_rank(void) { return cli_rank_; }
int cli_ranks(void) { return cli_size_; }
int cli_local_ranks(void) { return cli_local_; }

int cli_attach(const char *cmd, hb_context *ctx) {
#ifdef HB_CLI_MPI
    if (!cli_mpi_on || cli_size_ < 2) return 0;
    int rc = hb_mpi_attach(ctx, MPI_COMM_WORLD);
    if (rc != HB_OK) {
        runtime_error(cmd, "rank %d: cannot attach MPI_COMM_WORLD: %s", cli_rank_, hb_strerror(rc));
        return -1;
    }
#else
    (void)cmd;
    (void)ctx;
#endif
    return 0;
}

int cli_mpi_finish(int status) {
#ifdef HB_CLI_MPI
    if (!cli_mpi_on) return status;
    fflush(stdout);
    fflush(stderr);
    /* A failure may leave a collective unfinished on some rank (a timeout: hb_mpi.c, a
     * rank that failed outside a collective call): MPI_Finalize could wait for it forever.
     * MPI_Abort ends every rank of the job now, with this status (bounded time, issue
     * 13.5). A usage error is found by every rank alike before any communication: those
     * finalise normally. */
    if (status != EXIT_OK && status != EXIT_USAGE && cli_size_ > 1) MPI_Abort(MPI_COMM_WORLD, status);
    MPI_Finalize();
#endif
    return status;
}
