/* The computations behind the subcommands, on the public API of libhessblock. */
#ifndef HB_TOOL_COMPUTE_H
#define HB_TOOL_COMPUTE_H

#include "cli.h"
#include "results.h"

/* Returned (positive, distinct from HB_* codes) when this build lacks a component. */
#define CMP_UNAVAILABLE 1000
/* Returned after the tool itself printed the message (a state file of a resumable run). */
#define CMP_REPORTED 1001

/* Model sizes. Zero fields keep the library's defaults. */
typedef struct model_opts {
    int kind;                      /* hb_model_kind */
    int64_t width, layers, heads, context, vocab, batch, batches;
    int64_t inputs, classes, image, channels, conv_width, stages;
    int dtype;                     /* hb_dtype, 0 = f64 default */
    model_sizes described;         /* filled by model_make: what was built */
    uint64_t data_stream;          /* filled by model_make: the stream of its synthetic data
                                      (hb_model_set_synthetic; 0 = the model's own) */
    int recorded_external;         /* filled by model_make_recorded and
                                      compute_checkpoint_model: the checkpoint's model held
                                      real data (--data text / fashion-mnist; which one and
                                      where is not recorded) */
} model_opts;

typedef struct spec_opts {
    int64_t probes, steps, grid;
    int64_t probe_group;           /* HB_SLQ_GROUP (0: the library's default) */
    int basis;                     /* HB_SLQ_BASIS_DTYPE: 0 f64 (the default), 1 f32 (--basis) */
    double sigma_rel;              /* smoothing width relative to the spectral range */
    int full, blocks;              /* compute the full spectrum / per-block spectra */
    char **block_names;            /* subset (NULL: every block) */
    int nblock_names;
    int js_blocks;                 /* 0: every block enters JS0 (the default, always
                                      reported); 1 "weights": also JS0 over the blocks
                                      whose kind is neither bias nor norm and
                                      that have at least 2 dimensions */
    int js_grid;                   /* hb_js_grid of every JS value (0: linear, the default) */
    int64_t js_replicates;         /* bootstrap replicates of each JS0's standard error (0: none) */
    /* resumable runs (NULL: none): every finished block is saved there as it finishes, and
     * a block finished by the recorded run is read back instead of computed */
    struct run_state *state;
} spec_opts;

typedef struct train_opts {
    const char *optimizer;         /* "sgd", "adam", "adamw", "adam-mini" */
    double lr, momentum, wd, beta1, beta2, eps;
    int64_t steps, warmup;
    int schedule;                  /* 0 constant, 1 cosine */
    int stochastic_rounding;
    const char *checkpoint, *resume;
    int64_t checkpoint_every;
    int64_t heads;                 /* adam-mini: heads of Q/K blocks (0: library default) */
    /* sst / lora: the built-in model is wrapped (hb_sst_create) and the wrapper trained
     * with AdamW (lr, wd, betas, eps, schedule, warmup as above). */
    int sst_method;                /* 0: none, 1: HB_SST_METHOD_SPECTRAL, 2: HB_SST_METHOD_LORA */
    int64_t rank, sst_iteration, rewarm;
    double lora_alpha;             /* 0: alpha = rank */
    int freeze_others;
    int in_job;                    /* run as a job on another thread (jobs.h): no progress
                                      drawing, only the interrupt flag is checked */
    /* --minibatch / --eval-every (minibatch.h; NULL: the model's data throughout):
     * step_data(user, m, s) sets step s's data before it (s = -1: the data of the final
     * loss); evaluate(user, m, s) after step s-1 (s = 0: before the first step). */
    int (*step_data)(void *user, hb_model *m, int64_t step);
    int (*evaluate)(void *user, hb_model *m, int64_t step);
    void *data_user;
    int64_t eval_every;            /* 0: evaluate after the last step only */
    /* --optimizer sgd-blockhess (blockhess.h): per-block lr refreshed every bh_opts->every
     * steps on the step's data, before its gradient */
    struct blockhess *bh;
    const struct blockhess_opts *bh_opts;
} train_opts;

typedef struct quad_opts {
    int64_t blocks, block_size, max_iters;
    double cond, tol;
    const char *sgd_variant;       /* internal: "gd" (no momentum) or momentum 0.9 */
} quad_opts;

/* Short description of what is missing, or NULL if everything is there. */
const char *compute_missing_spectrum(void);
const char *compute_missing_train(void);
const char *compute_missing_quadratic(void);
const char *compute_missing_sst(void);
/* Blocks of m that --optimizer sst|lora would convert (2-d blocks of a linear-map kind). */
int compute_sst_convertible(hb_model *m);

/* Each returns HB_OK, CMP_UNAVAILABLE, or a negative HB_* status (message on ctx). */
int model_make(hb_context *ctx, model_opts *mo, hb_model **out, char *sizes, size_t nsizes);
/* Block b's probes are stream s0 + b of the context's seed, s0 = the context's next stream
 * when the call starts (the full Hessian's: s0 + number of blocks): a block's spectrum
 * depends on (seed, model, block) only, not on which blocks ran before it. */
int compute_spectrum(hb_context *ctx, hb_model *m, const spec_opts *so, spec_result *out);
int compute_train(hb_context *ctx, hb_model *m, const train_opts *to, train_run *out);
int compute_quadratic(hb_context *ctx, const quad_opts *qo, int family, quad_family *out);
/* compute_quadratics: the families fam[0..nf-1] (nf <= 8) into out[0..nf-1], exactly as nf
 * calls of compute_quadratic on ctx in that order give them when ctx's seed was set just
 * before (the job contexts rebuild each model from that seed); with threads > 1 every
 * learning-rate run is a job (jobs.h) on a context and model of its own, the results
 * combined in the serial order (issue 19). why: the library's message of a failure. */
int compute_quadratics(hb_context *ctx, const quad_opts *qo, const int *fam, size_t nf, int threads,
                       quad_family *out, char *why, size_t nwhy);

/* The same in two halves, for analyze under mpirun (issue 13): _start computes on the
 * calling thread; with divide (several ranks) it runs only this rank's share of the runs
 * (cli_job_mine), always as jobs, and leaves them in *batch. _finish, on the main thread
 * (collective when divided: cli_share_jobs), brings the other ranks' runs and combines
 * every run in the serial order into out; rc is _start's status (a failure: no exchange,
 * the caller exits 1 and MPI_Abort ends the other ranks). Both free what they leave
 * on failure; _finish frees the batch. */
typedef struct quad_batch quad_batch;
int compute_quadratics_start(hb_context *ctx, const quad_opts *qo, const int *fam, size_t nf, int threads,
                             int divide, quad_family *out, quad_batch **batch, char *why, size_t nwhy);
int compute_quadratics_finish(quad_batch *batch, int rc, quad_family *out, char *why, size_t nwhy);

const char *model_kind_name(int kind);
/* Grid points of the density grid of figures and CSV for a requested count (at least 2
 * per σ), and of every JS value (the library's default; 0 without SLQ). Issue 12.6: the
 * settings line prints both. */
size_t compute_density_grid_points(double sigma_rel, size_t requested);
size_t compute_js_grid_points(void);
/* ---- checkpoints that record their model (format 2.1; docs/cli.md) ---------------------
 * compute_checkpoint_model: *has = 1 and rec = the recorded kind, sizes, dtype, batch and
 * micro-batches of the model (every key, defaults included; the micro-batches of external
 * data too, 0 where the file does not record them), *seed = its seed, when the
 * checkpoint at path has a model section; *has = 0 for older files and wrappers.
 * model_make_recorded: build that model exactly (seed, stream counter, configuration,
 * synthetic data as recorded) in ctx, whose seed it sets; mo receives the sizes as
 * model_make would, mo->batches the recorded micro-batch count (external data: the
 * caller sets the data with it; 0 = not recorded). Both return HB_OK, CMP_UNAVAILABLE or a negative HB_* status. */
int compute_checkpoint_model(hb_context *ctx, const char *path, int *has, model_opts *rec,
                             int64_t *seed);
int model_make_recorded(hb_context *ctx, const char *path, model_opts *mo, hb_model **out,
                        char *sizes, size_t nsizes);
/* The explicitly given model options (nonzero fields of given; kind and dtype when
 * kind_given / dtype_given) against the recorded ones: on the first difference one
 * usage line naming the option, both values and the file; returns 0 or EXIT_USAGE. */
int check_against_checkpoint(const char *cmd, const char *path, const model_opts *given,
                             int kind_given, int dtype_given, const model_opts *rec);
/* A preset given explicitly against the recorded model: expected holds the preset's sizes
 * for the recorded kind with the size flags over them; its zero fields stand for the
 * library's defaults (read from a configuration made on ctx). On the first difference one
 * usage line naming the preset, both values and the file; returns 0, EXIT_USAGE or
 * EXIT_RUNTIME (out of memory). */
int check_preset_against_checkpoint(hb_context *ctx, const char *cmd, const char *path,
                                    const char *preset_name, const model_opts *expected,
                                    const model_opts *rec);

/* Loads the parameters of a checkpoint into m (its block table must match). */
int compute_load_checkpoint(hb_context *ctx, hb_model *m, const char *path);

#endif
