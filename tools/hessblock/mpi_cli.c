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
 * every rank holds the single-process spectra. analyze's training and quadratic runs (the
 * tool's own jobs on contexts of their own) are divided round robin (cli_job_mine) and
 * their results exchanged on the main thread (cli_share_jobs: two allgathers), so every
 * rank holds those too. Rank 0 alone prints and writes: the others
 * run with --quiet, stdout to /dev/null and outdir_writes = 0 (not even the output
 * directory is created); their errors still reach stderr, prefixed with their rank by the
 * launcher's output forwarding (Open MPI: --tag-output). */
#include "cli.h"

#include <limits.h>
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

int cli_job_mine(size_t i) { return cli_size_ < 2 || (int)(i % (size_t)cli_size_) == cli_rank_; }

#ifdef HB_CLI_MPI
/* A record on the wire: job index and byte length (memcpy'd: records are unaligned). */
enum { REC_HEAD = 2 * sizeof(uint64_t) };

/* This rank's records into *buf (*len bytes); HB_ENOMEM or HB_EINVAL (over INT_MAX bytes,
 * MPI's count type) after a message in why. */
static int pack_mine(size_t n, cli_pack_fn pack, void *arg, unsigned char **buf, size_t *len,
                     char *why, size_t nwhy) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        if (cli_job_mine(i)) total += REC_HEAD + pack(arg, i, NULL);
    *len = total;
    if (total > INT_MAX) {
        snprintf(why, nwhy, "rank %d: the results of its jobs exceed 2 GiB (MPI's count limit)", cli_rank_);
        return HB_EINVAL;
    }
    *buf = malloc(total ? total : 1);
    if (!*buf) {
        snprintf(why, nwhy, "rank %d: out of memory packing its results", cli_rank_);
        return HB_ENOMEM;
    }
    unsigned char *q = *buf;
    for (size_t i = 0; i < n; i++) {
        if (!cli_job_mine(i)) continue;
        uint64_t h[2] = {i, pack(arg, i, q + REC_HEAD)};
        memcpy(q, h, sizeof h);
        q += REC_HEAD + h[1];
    }
    return HB_OK;
}

/* Every record of the other ranks in all (len bytes) to unpack; each job not ours exactly once. */
static int unpack_others(size_t n, const unsigned char *all, size_t len, cli_unpack_fn unpack, void *arg,
                         char *why, size_t nwhy) {
    unsigned char *seen = calloc(n ? n : 1, 1);
    if (!seen) {
        snprintf(why, nwhy, "rank %d: out of memory unpacking the results", cli_rank_);
        return HB_ENOMEM;
    }
    int rc = HB_OK;
    for (size_t off = 0; off < len && rc == HB_OK;) {
        uint64_t h[2];
        if (len - off < REC_HEAD) { rc = HB_EINVAL; break; }
        memcpy(h, all + off, sizeof h);
        off += REC_HEAD;
        if (h[0] >= n || h[1] > len - off || seen[h[0]]) { rc = HB_EINVAL; break; }
        seen[h[0]] = 1;
        if (!cli_job_mine((size_t)h[0])) rc = unpack(arg, (size_t)h[0], all + off, (size_t)h[1]);
        if (rc == HB_ENOMEM) snprintf(why, nwhy, "rank %d: out of memory unpacking the results", cli_rank_);
        else if (rc != HB_OK) rc = HB_EINVAL;
        off += (size_t)h[1];
    }
    for (size_t i = 0; i < n && rc == HB_OK; i++)
        if (!seen[i]) rc = HB_EINVAL;
    if (rc == HB_EINVAL)
        snprintf(why, nwhy, "rank %d: the ranks' job results do not match (every rank must run the "
                 "same command)", cli_rank_);
    free(seen);
    return rc;
}
#endif

int cli_share_jobs(size_t n, cli_pack_fn pack, cli_unpack_fn unpack, void *arg, char *why, size_t nwhy) {
#ifdef HB_CLI_MPI
    if (!cli_mpi_on || cli_size_ < 2) return HB_OK;
    unsigned char *mine = NULL, *all = NULL;
    size_t len = 0;
    int rc = pack_mine(n, pack, arg, &mine, &len, why, nwhy);
    /* the counts round even after a local failure (count -1): every rank then fails alike,
     * and none waits in the second collective for one that gave up */
    int count = rc == HB_OK ? (int)len : -1;
    int *counts = malloc((size_t)cli_size_ * sizeof *counts), *displs = malloc((size_t)cli_size_ * sizeof *displs);
    if (!counts || !displs) {
        free(counts), free(displs), free(mine);
        snprintf(why, nwhy, "rank %d: out of memory", cli_rank_);
        return HB_ENOMEM; /* this rank exits 1: MPI_Abort ends the others (cli_mpi_finish) */
    }
    if (MPI_Allgather(&count, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD) != MPI_SUCCESS) {
        snprintf(why, nwhy, "rank %d: MPI_Allgather of the result sizes failed", cli_rank_);
        rc = HB_EINVAL;
        goto out;
    }
    size_t total = 0;
    for (int r = 0; r < cli_size_ && rc == HB_OK; r++) {
        if (counts[r] < 0) { /* this rank's own failure keeps its own message */
            if (r != cli_rank_) snprintf(why, nwhy, "rank %d could not send its results", r);
            rc = HB_ENOMEM;
        }
        displs[r] = (int)total;
        total += counts[r] > 0 ? (size_t)counts[r] : 0;
    }
    if (rc == HB_OK && total > INT_MAX) {
        snprintf(why, nwhy, "the results of all jobs exceed 2 GiB (MPI's count limit)");
        rc = HB_EINVAL;
    }
    if (rc != HB_OK) goto out;
    all = malloc(total ? total : 1);
    if (!all) {
        snprintf(why, nwhy, "rank %d: out of memory receiving the results", cli_rank_);
        rc = HB_ENOMEM; /* exit 1 on this rank: MPI_Abort ends the job */
        goto out;
    }
    if (MPI_Allgatherv(mine, count, MPI_BYTE, all, counts, displs, MPI_BYTE, MPI_COMM_WORLD) != MPI_SUCCESS) {
        snprintf(why, nwhy, "rank %d: MPI_Allgatherv of the results failed", cli_rank_);
        rc = HB_EINVAL;
        goto out;
    }
    rc = unpack_others(n, all, total, unpack, arg, why, nwhy);
out:
    free(all), free(mine), free(counts), free(displs);
    return rc;
#else
    (void)n, (void)pack, (void)unpack, (void)arg, (void)why, (void)nwhy;
    return HB_OK;
#endif
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
