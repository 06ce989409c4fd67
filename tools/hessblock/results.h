/* Result records of the hessblock tool and their writers (JSON, CSV, SVG, HTML).
 * Memory: plain malloc (the tool is an application, not the library). */
#ifndef HB_TOOL_RESULTS_H
#define HB_TOOL_RESULTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "jsonw.h"

/* The model's size as a structured record (JSON "sizes"): every configuration key of its
 * kind by name, the dtype, the data (micro-batches x samples) and the parameter count. */
typedef struct model_sizes {
    char kind[16];           /* "" when not filled */
    char dtype[8];
    size_t n;
    struct { char key[24]; double value; int real; } item[16];
    int64_t batches, samples, n_params;
} model_sizes;
/* "sizes": {"kind", <key>: value…, "dtype", "batches", "samples", "parameters"} */
void json_sizes(jw *w, const char *key, const model_sizes *z);

/* Spectrum of one model: per-block densities on one shared grid, JS matrix, JS⁰. */
typedef struct spec_result {
    char model[32];
    char source[512];        /* "init" or "checkpoint:<path>" */
    char sizes[256];         /* human description of the model size */
    model_sizes size_info;   /* the same, structured (JSON "sizes") */
    int64_t n_params;
    size_t nblocks;
    char **names;            /* nblocks */
    char **kinds;
    int64_t *numel;
    double *lmin, *lmax;     /* extreme Ritz values per block */
    size_t ngrid;
    double *grid;            /* ngrid, shared by all blocks */
    double *density;         /* nblocks x ngrid */
    double *own_grid;        /* nblocks x ngrid: each block on its own range (figures) */
    double *own_density;     /* nblocks x ngrid */
    int has_full;
    double *full_density;    /* ngrid */
    double full_lmin, full_lmax;
    double *js;              /* nblocks x nblocks Jensen–Shannon distances */
    double js0;              /* mean over pairs i < j */
    double js0_normalized;   /* the same with every spectrum divided by its max |λ| first */
    /* --js-blocks other than all: the same JS0 restricted to a subset of the blocks,
     * computed on that subset alone (its own pooled grid and smoothing) */
    int js_grid;             /* 0 linear (default), 1 symlog: the grid of every JS value */
    int js_blocks;           /* 0 all (nothing below is set), 1 weights */
    int *js_selected;        /* nblocks flags: 1 if the block is in the subset */
    size_t js_nselected;
    double js0_selected;     /* NaN when fewer than 2 blocks are selected */
    double js0_selected_normalized;
    /* numerically-zero blocks (hb_spectra_zero_flags over the blocks computed; issue 12.4):
     * left out of js0_normalized by the library; NULL/0 when not computed */
    int *zero;               /* nblocks flags */
    size_t n_zero;
    double zero_tol;         /* the relative tolerance applied */
    size_t js_grid_points;   /* grid of every JS value (0: not computed); ngrid is the
                                density grid of the figures and CSV */
    /* bootstrap standard errors (over probes) of the four JS0 values above; NaN when not
     * estimated (one probe, --js-bootstrap 0, or the value itself is NaN) */
    double js0_stderr, js0_normalized_stderr, js0_selected_stderr, js0_selected_normalized_stderr;
    int64_t js_replicates;   /* bootstrap replicates behind the standard errors (0: none) */
    double sigma;            /* smoothing width actually used (absolute) */
    double sigma_rel;        /* the same relative to the pooled range (--sigma; 0: unknown) */
    double symlog_floor_rel; /* hb_js_options.symlog_floor_rel of the JS values (0: unknown) */
    int64_t probes, steps;
    int basis;               /* Lanczos basis storage: 0 f64, 1 f32 (--basis) */
    double seconds;
    /* where `seconds` went (wall, summary.json "seconds_parts"; issue 19): the per-block SLQ
     * runs, the full-Hessian run, every density and the Ritz table, the JS matrices (and the
     * zero-block test), the bootstrap standard errors */
    double t_slq_blocks, t_slq_full, t_density, t_js, t_js_bootstrap;
    /* research outputs (issue 15.4) */
    double *trace, *trace_stderr; /* nblocks: Hutchinson estimate of tr(H_bb) and its
                                     standard error over probes (hb_spectrum_trace) */
    double *js_stderr;       /* nblocks x nblocks bootstrap standard errors of js (NULL when
                                not estimated: one probe or --js-bootstrap 0) */
    double *ritz;            /* nritz rows of RITZ_COLS: block (-1: the full Hessian), probe,
                                Ritz value (node), weight — every probe's quadrature */
    size_t nritz;
} spec_result;
#define RITZ_COLS 4

/* research.c: <model>_ritz.npy, <model>_blocks.csv, <model>_js_stderr.csv (docs/cli.md).
 * Returns 0 or -1 after a message naming the file. */
int write_research_files(const char *cmd, const char *dir, const spec_result *s);
/* write_block_matrix_csv: <model>_<what>.csv, a blocks x blocks matrix with block-name header
 * row and first column (the JS matrix, its standard errors). 0, or -1 after a message. */
int write_block_matrix_csv(const char *cmd, const char *dir, const char *what,
                           const spec_result *s, const double *m);
/* The .npy writer: a C-order float64 array of the given shape (format version 1.0). */
int npy_write_f64(FILE *f, const double *data, size_t rows, size_t cols);

/* One training run. */
typedef struct train_run {
    char optimizer[24];
    double lr;
    int64_t steps;
    double *loss;            /* loss before each step and after the last: steps + 1 */
    double final_loss;       /* loss after training (non-finite if diverged) */
    double seconds;
    const char *failed_file; /* set when a checkpoint could not be read or written */
    double param_norm0, param_norm; /* L2 norm of all parameters before / after (sst/lora:
                                       of the wrapper's trainable blocks) */
    /* analyze --data real: the trained model on the held-out split (held_out: "validation"
     * for text, "t10k" for Fashion-MNIST; NULL: not evaluated, nothing written) */
    const char *held_out;
    double held_out_loss, held_out_accuracy; /* accuracy NaN for text */
    /* sst / lora runs only (sst_method != 0) */
    int sst_method;                 /* 1 spectral, 2 lora */
    char base_optimizer[16];        /* the optimizer over the wrapper's params ("adamw") */
    int64_t rank, sst_iteration, rewarm;
    double lora_alpha;              /* effective alpha (rank when not given) */
    int freeze_others;
    size_t converted_blocks;        /* hb_sst_num_layers */
    size_t trainable, total;        /* hb_sst_trainable_count; parameters of the inner model */
    size_t wrapper_total;           /* parameters of the wrapper (frozen blocks included) */
    size_t state_bytes;             /* hb_optimizer_state_bytes after the run */
    size_t elem_bytes;              /* bytes per parameter element (f64: 8, f32: 4) */
    double inner_norm0, inner_norm; /* L2 norm of the inner model's (effective) parameters */
    struct sst_layer {               /* converted blocks (converted_blocks entries, owned) */
        char name[64];
        int64_t out, in, k, r;       /* r: effective rank min(rank, k) */
    } *layers;
} train_run;

/* SGD vs Adam on one model. */
typedef struct train_cmp {
    char model[32];
    size_t n_sgd, n_adam;
    double *sgd_lrs, *sgd_final;     /* grid and final loss per lr */
    double *adam_lrs, *adam_final;
    train_run sgd, adam;             /* best of each grid */
    double gap;                      /* sgd.final_loss - adam.final_loss */
} train_cmp;

/* Quadratic test bed: one method on one family. */
typedef struct quad_method {
    char name[16];                   /* "gd", "sgd_momentum", "adam" */
    size_t nlr;
    double *lrs;
    int64_t *iters;                  /* per lr; -1: not reached within max_iters */
    double best_lr;
    int64_t best_iters;              /* -1 if no lr reached the target */
    double *curve;                   /* relative loss per iteration at best lr */
    size_t ncurve;
} quad_method;

typedef struct quad_family {
    char family[16];                 /* "heterogeneous" / "homogeneous" */
    double cond;
    int64_t blocks, block_size;
    double tol;                      /* target relative loss */
    int64_t max_iters;
    quad_method m[3];
    size_t nm;
} quad_family;

void spec_result_free(spec_result *s);
void train_run_free(train_run *r);
void train_cmp_free(train_cmp *t);
void quad_family_free(quad_family *q);

/* " [zero]" if block b is numerically zero, else "" (figure labels, text tables). */
const char *zero_mark(const spec_result *s, size_t b);

/* "all" or "weights" (the --js-blocks choice). */
const char *js_blocks_name(int js_blocks);
/* "linear" or "symlog" (the --js-grid choice). */
const char *js_grid_name(int js_grid);

/* JSON fragments (an object member called key). */
void json_spectrum(jw *w, const char *key, const spec_result *s, int with_densities);
void json_train_run(jw *w, const char *key, const train_run *r, int with_curve);
void json_train_cmp(jw *w, const char *key, const train_cmp *t);
void json_quad_family(jw *w, const char *key, const quad_family *q, int with_curves);

/* Files in dir; each returns 0 or -1 after a message naming the file. `cmd` names the
 * subcommand in messages. File names are prefixed with `prefix` (e.g. "gpt_"). */
int write_spectrum_files(const char *cmd, const char *dir, const spec_result *s);
int write_train_files(const char *cmd, const char *dir, const train_cmp *t, size_t n);
int write_train_run_files(const char *cmd, const char *dir, const train_run *r);
int write_quad_files(const char *cmd, const char *dir, const quad_family *q, size_t n);

/* report.html, self-contained: a headline computed from the numbers (report.c), the
 * summary and quadratic tables, every figure written to dir inlined as SVG. data_file
 * names the JSON file of the run ("summary.json", "spectrum.json", "quadratic.json"). */
int write_report(const char *cmd, const char *dir, const char *title, const char *data_file,
                 const char *settings,
                 const spec_result *specs, size_t nspec, const train_cmp *trains, size_t ntrain,
                 const quad_family *quads, size_t nquad);

/* Text tables on f. */
void print_summary_table(FILE *f, const spec_result *specs, size_t nspec,
                         const train_cmp *trains, size_t ntrain);
void print_quad_table(FILE *f, const quad_family *q, size_t n);
/* 1 when a run of trains was evaluated on held-out data (its losses get table columns). */
int trains_have_held_out(const train_cmp *trains, size_t ntrain);

/* Trapezoid integral of y over x. */
double trapz(const double *x, const double *y, size_t n);

#endif
