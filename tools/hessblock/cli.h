/* hessblock command-line tool: shared declarations. The tool uses only the public API
 * of libhessblock; all drawing and file output lives here, never in the library. */
#ifndef HB_TOOL_CLI_H
#define HB_TOOL_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <hessblock/hessblock.h>

/* Exit statuses. */
enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* ---- options shared by every subcommand ---------------------------------------- */
typedef struct common_opts {
    int64_t threads;
    int64_t seed;
    const char *out;     /* output directory or NULL */
    int json;            /* machine-readable summary on stdout */
    int quiet;           /* nothing on stderr but errors */
    double progress_every; /* stderr not a terminal: seconds between progress lines */
} common_opts;

/* ---- strict argument parsing (args.c) ------------------------------------------- */
typedef enum opt_type { OPT_FLAG, OPT_INT, OPT_REAL, OPT_STRING, OPT_CHOICE } opt_type;
typedef struct opt_spec {
    const char *name;        /* without the leading "--" */
    opt_type type;
    void *target;            /* int* (flag), int64_t*, double*, const char**, int* (choice) */
    double lo, hi;           /* inclusive range for INT / REAL */
    const char *const *choices; /* NULL-terminated, for OPT_CHOICE (index stored) */
    const char *metavar;
    const char *help;
} opt_spec;

/* Parses argv[first..argc) against specs (the common options are appended by the
 * caller). Returns 0, 1 if --help was given (help printed to stdout), or EXIT_USAGE
 * after one line on stderr. */
int parse_options(const char *cmd, int argc, char **argv, int first, const opt_spec *specs,
                  size_t nspecs, const char *usage_line, const char *description);
void print_help(FILE *f, const char *cmd, const opt_spec *specs, size_t n,
                const char *usage_line, const char *description);
/* Parses a comma-separated list of names; returns count or -1 (bad). Items point into
 * buf (a copy the caller owns). */
int split_list(char *buf, char **items, int max);
/* One line "hessblock <cmd>: message" on stderr. */
void usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void runtime_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- progress and log (progress.c) ---------------------------------------------- */
/* Installs the progress callback on ctx (also the cancel path, so always); every: seconds
 * between two progress lines when stderr is not a terminal. */
void progress_setup(hb_context *ctx, int quiet, double every);
/* The cancel path alone, for a context of a job on another thread (jobs.h): the bar and
 * log lines are the main thread's, so a job draws nothing. */
void progress_cancel_only(hb_context *ctx);
/* SIGINT and SIGTERM only set a flag (sig_atomic_t); the progress callback then returns
 * nonzero and the running library call stops with HB_ECANCELED. */
void progress_catch_signals(void);
/* This thread runs analyze's side stages (training, quadratics) beside the main thread's
 * spectra: on it the progress calls below print stage lines only (the bar is the main
 * thread's) and report a stop after progress_stop_side() or a signal. */
void progress_side_thread(void);
/* The main thread's stage failed: the side thread's library calls stop (HB_ECANCELED). */
void progress_stop_side(void);
/* The signal that interrupted the run (SIGINT, SIGTERM) or 0. */
int progress_interrupted(void);
void progress_stage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void progress_clear(void);
/* Sub-label shown in the bar (no log line). */
void progress_label(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Report progress of work done by the tool itself (same bar as the library's); returns
 * nonzero when the run was interrupted (the tool's own loops stop then). */
int progress_tick(const char *task, int64_t done, int64_t total);
/* The next tasks are item i of n of an outer loop: the bar and ETA cover the whole loop
 * (n = 0: off). Reset by progress_stage. */
void progress_outer(int64_t i, int64_t n);
double now_seconds(void);

/* ---- output directory (outdir.c) -------------------------------------------------- */
/* 0: this process writes no file at all (a rank other than 0 under mpirun, mpi_cli.c):
 * outdir_make creates nothing, outdir_open and outdir_fopen give a stream to /dev/null,
 * outdir_close publishes nothing and runstate removes nothing. 1 (default): normal. */
extern int outdir_writes;
/* fopen(path, "w") — or /dev/null when !outdir_writes. For writers that open a path
 * themselves (the SVG figures). */
FILE *outdir_fopen(const char *path);
/* Creates dir (and parents). Returns 0 or -1 after a message naming it. */
int outdir_make(const char *cmd, const char *dir);
/* path = dir/name into buf (size n). */
const char *outdir_path(char *buf, size_t n, const char *dir, const char *name);
/* Opens dir/name for writing — in fact a temporary ".name.tmp" in dir; on failure prints
 * a message naming the file. */
FILE *outdir_open(const char *cmd, const char *dir, const char *name);
/* Closes f, fsyncs it and renames it to dir/name (atomic: the file is complete or absent);
 * returns 0 or -1 after a message naming the file (the temporary is removed). */
int outdir_close(const char *cmd, FILE *f, const char *dir, const char *name);
/* Closes f (if any) and removes the temporary without publishing it. */
void outdir_discard(FILE *f, const char *dir, const char *name);
/* CSV field: quoted when it holds a comma, quote or newline. */
void csv_field(FILE *f, const char *s);

/* ---- subcommands ------------------------------------------------------------------ */
int cmd_analyze(int argc, char **argv, int first);
int cmd_spectrum(int argc, char **argv, int first);
int cmd_quadratic(int argc, char **argv, int first);
int cmd_train(int argc, char **argv, int first);

/* Shared common options table (added to every subcommand's table). */
#define COMMON_OPTS(c)                                                                     \
    {"threads", OPT_INT, &(c).threads, 1, 1024, NULL, "N",                                 \
     "threads for the library's tasks, BLIS and OpenMP loops; never changes a result [the processors this process may use]"},                    \
    {"seed", OPT_INT, &(c).seed, -9.2e18, 9.2e18, NULL, "N", "random seed [0]"},           \
    {"out", OPT_STRING, &(c).out, 0, 0, NULL, "DIR", "write the output files to DIR"},     \
    {"json", OPT_FLAG, &(c).json, 0, 0, NULL, NULL,                                        \
     "print a machine-readable JSON summary on stdout instead of tables"},                 \
    {"quiet", OPT_FLAG, &(c).quiet, 0, 0, NULL, NULL, "no progress or log on stderr"},    \
    {"progress-every", OPT_REAL, &(c).progress_every, 0, 1e6, NULL, "S",                    \
     "stderr not a terminal: a timestamped progress line at most every S seconds [10]"}

void common_defaults(common_opts *c);

/* ---- under mpirun (mpi_cli.c) ----------------------------------------------------- */
/* Nonzero when an MPI launcher started this process (its environment says so). */
int cli_launched(void);
/* MPI_Init_thread when built with MPI and launched; a rank other than 0 is silenced
 * (stdout to /dev/null, outdir_writes = 0). Returns 0, or -1 after a message. */
int cli_mpi_init(int *argc, char ***argv);
/* This rank, the job's ranks and the ranks on this node (0, 1, 1 without MPI). */
int cli_rank(void);
int cli_ranks(void);
int cli_local_ranks(void);
/* Gives ctx the job's communicator (hb_mpi_attach) when there are several ranks; collective:
 * every rank calls it for the same context in the same order. Returns 0 or -1 after a message. */
int cli_attach(const char *cmd, hb_context *ctx);
/* ---- the tool's own jobs divided over the ranks (analyze's training grids and quadratic
 * runs; issue 13): job i of n runs on rank i mod ranks (round robin: every rank computes
 * the same assignment, and consecutive learning rates of one grid, which cost alike, land
 * on different ranks), then cli_share_jobs gives every rank every result. */
/* 1 when job i is this rank's (always without MPI or with one rank). */
int cli_job_mine(size_t i);
/* pack(arg, i, buf): writes job i's record to buf and returns its length; buf NULL: the
 * length only. unpack(arg, i, buf, len): job i of another rank from its record; HB_OK,
 * HB_ENOMEM, or anything else for a record that does not fit (another command). */
typedef size_t (*cli_pack_fn)(void *arg, size_t i, unsigned char *buf);
typedef int (*cli_unpack_fn)(void *arg, size_t i, const unsigned char *buf, size_t len);
/* Collective (every rank, same n, the main thread: MPI is FUNNELED): every rank's records
 * of its own jobs of 0..n-1 to every rank, where unpack receives the others'. A no-op with
 * one rank. Returns HB_OK, or HB_ENOMEM / HB_EINVAL with a message in why; a failure to
 * pack on any rank fails the call on every rank (a -1 in the sizes round), so the job ends
 * through the usual exit 1 (MPI_Abort) without a rank left waiting. */
int cli_share_jobs(size_t n, cli_pack_fn pack, cli_unpack_fn unpack, void *arg, char *why, size_t nwhy);
/* MPI_Finalize (MPI_Abort of the whole job after a runtime failure: never a hang);
 * returns status. */
int cli_mpi_finish(int status);
/* Creates the context with threads and seed, progress hooked, and the job's communicator
 * under mpirun (cli_attach). Returns NULL after a message on failure. */
hb_context *make_context(const char *cmd, const common_opts *c);

#endif
