/* The subcommands: option tables, orchestration, output. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "compute.h"
#include "analyze_data.h"
#include "data_opts.h"
#include "blockhess.h"
#include "jobs.h"
#include "minibatch.h"
#include "presets.h"
#include "results.h"
#include "runstate.h"
#include "textdata.h"

static const char *const js_blocks_choices[] = {"all", "weights", NULL};
#define JS_BLOCKS_HELP                                                                      \
    "blocks whose spectra enter an ADDITIONAL JS0: all (nothing extra) or weights (the "    \
    "blocks of at least 2 dimensions whose kind is not bias or norm, compared on their own " \
    "grid); the all-blocks JS0 is always reported [all]"
static const char *const js_grid_choices[] = {"linear", "symlog", NULL};
#define JS_BOOTSTRAP_HELP \
    "replicates of the bootstrap over probes behind every JS0 standard error (+-); 0 = none [100]"
/* Lanczos steps at least this many when every JS is on the symlog grid and --steps is not
 * given: below it, JS0 is biased upward by far more than its own error (measured against
 * exact block spectra with bench/bench_js_bias: docs/spectral.md, "Lanczos length on the
 * symlog grid"). An explicit --steps is used as given, with a note on stderr. */
#define SYMLOG_MIN_STEPS 256

static int64_t default_steps(int64_t preset_steps, int js_grid) {
    return js_grid == 1 && preset_steps < SYMLOG_MIN_STEPS ? SYMLOG_MIN_STEPS : preset_steps;
}

static void note_short_symlog(const char *cmd, const spec_opts *so, int quiet) {
    if (so->js_grid == 1 && so->steps < SYMLOG_MIN_STEPS && !quiet)
        fprintf(stderr, "[hessblock] %s: note: --steps %lld < %d on the symlog grid: JS0 is biased "
                "upward there (docs/spectral.md)\n", cmd, (long long)so->steps, SYMLOG_MIN_STEPS);
}

/* "0.1234 +- 0.0056" into b (the +- part only when the standard error is known) */
static const char *pm(char *b, size_t n, double v, double se) {
    if (isfinite(se)) snprintf(b, n, "%.4f +- %.4f", v, se);
    else snprintf(b, n, "%.4f", v);
    return b;
}
#define JS_GRID_HELP                                                                        \
    "grid of every JS value: linear (in lambda) or symlog (in asinh(lambda/c), c = 1e-6 of " \
    "the largest |lambda| compared: a log-|lambda| axis, smoothing relative) [linear]"
#define PROBE_GROUP_HELP                                                                    \
    "probes advanced together by one task, one batched product per Lanczos step (SLQ "     \
    "HB_SLQ_GROUP); groups and blocks run concurrently on --threads. Smaller: more "        \
    "parallel tasks, less batching; changes the last bits, --threads never does [4]"
#define BASIS_HELP                                                                          \
    "storage of the Lanczos basis kept for full reorthogonalisation (SLQ "                   \
    "HB_SLQ_BASIS_DTYPE): f32 halves its memory (the largest part for big models, "          \
    "docs/performance.md) and moves the spectra by about f32 rounding [f64]"
static const char *const basis_choices[] = {"f64", "f32", NULL};
static const char *const kind_choices[] = {"gpt", "mlp", "cnn", "quadratic", NULL};
static const int kind_values[] = {HB_MODEL_GPT, HB_MODEL_MLP, HB_MODEL_CNN, HB_MODEL_QUADRATIC};
static const char *const dtype_choices[] = {"f64", "f32", "bf16", NULL};
static const int dtype_values[] = {HB_F64, HB_F32, HB_BF16};

#define MODEL_SIZE_OPTS(m)                                                                  \
    {"width", OPT_INT, &(m).width, 1, 4096, NULL, "N", "gpt: embedding width; mlp: hidden width"}, \
    {"layers", OPT_INT, &(m).layers, 1, 64, NULL, "N", "gpt: transformer blocks; mlp: hidden layers"}, \
    {"heads", OPT_INT, &(m).heads, 1, 64, NULL, "N", "gpt: attention heads"},                \
    {"context", OPT_INT, &(m).context, 1, 4096, NULL, "N", "gpt: sequence length"},          \
    {"vocab", OPT_INT, &(m).vocab, 2, 1 << 20, NULL, "N", "gpt: vocabulary size"},            \
    {"inputs", OPT_INT, &(m).inputs, 1, 1 << 20, NULL, "N", "mlp: input features"},           \
    {"classes", OPT_INT, &(m).classes, 2, 1 << 20, NULL, "N", "mlp, cnn: classes"},           \
    {"image", OPT_INT, &(m).image, 2, 4096, NULL, "N", "cnn: image side"},                    \
    {"conv-width", OPT_INT, &(m).conv_width, 1, 4096, NULL, "N", "cnn: channels of the first conv"}, \
    {"stages", OPT_INT, &(m).stages, 1, 16, NULL, "N", "cnn: conv+pool stages"},              \
    {"batch", OPT_INT, &(m).batch, 1, 1 << 20, NULL, "N", "samples per micro-batch"},        \
    {"batches", OPT_INT, &(m).batches, 1, 4096, NULL, "N", "synthetic micro-batches of data"}


/* ---- checkpoints that record their model (format 2.1; docs/cli.md) ---------------------- */
/* --seed not given (outside the option's range, so never a value) */
#define SEED_UNSET INT64_MIN

static int index_of(const int *values, size_t n, int v) {
    for (size_t i = 0; i < n; i++)
        if (values[i] == v) return (int)i;
    return 0;
}

/* The preset in force: --tiny is --preset tiny; -1 = none given (then `default`). */
static int given_preset(int preset_ix, int tiny) { return tiny ? PRESET_TINY : preset_ix; }

/* The model the checkpoint at path records, checked against the options given explicitly:
 * kind (kind_given), dtype (dtype_given), the nonzero size fields of *given, the preset
 * preset_ix unless -1 (its sizes for the recorded kind, size flags over them, the library's
 * defaults where the preset has none: every one must be the recorded value) and the seed
 * unless SEED_UNSET. On *has = 1, *kind / *dtype become the recorded choice indices and
 * *seed the recorded seed. Returns 0, EXIT_USAGE (a given option differs: both values
 * named) or EXIT_RUNTIME (unreadable or corrupt file: named). */
static int recorded_model(const char *cmd, const char *path, const model_opts *given, int preset_ix,
                          int kind_given, int dtype_given, int64_t *seed, int *kind, int *dtype,
                          int *has) {
    *has = 0;
    if (compute_missing_train()) return 0; /* no checkpoints in this build: reported later */
    hb_context *tmp = NULL;
    if (hb_context_create(&tmp) != HB_OK) {
        runtime_error(cmd, "out of memory");
        return EXIT_RUNTIME;
    }
    model_opts rec;
    int64_t rseed = 0;
    int rc = compute_checkpoint_model(tmp, path, has, &rec, &rseed);
    if (rc != HB_OK) {
        runtime_error(cmd, "checkpoint '%s': %s (%s)", path, hb_strerror(rc), hb_context_last_error(tmp));
        hb_context_free(tmp);
        return EXIT_RUNTIME;
    }
    int status = 0;
    if (*has) {
        model_opts g = *given;
        g.kind = kind_values[*kind];
        g.dtype = dtype_values[*dtype];
        status = check_against_checkpoint(cmd, path, &g, kind_given, dtype_given, &rec);
        if (!status && preset_ix >= 0) {
            model_opts ex = {.kind = rec.kind, .dtype = rec.dtype};
            preset_apply(preset_get(preset_ix), &ex);
            preset_override(&ex, given);
            status = check_preset_against_checkpoint(tmp, cmd, path, preset_choices[preset_ix], &ex, &rec);
        }
    }
    hb_context_free(tmp);
    if (!*has || status) return status;
    if (*seed != SEED_UNSET && *seed != rseed) {
        usage_error(cmd, "--seed %lld does not match the checkpoint '%s' (seed %lld)",
                    (long long)*seed, path, (long long)rseed);
        return EXIT_USAGE;
    }
    *seed = rseed;
    *kind = index_of(kind_values, sizeof kind_values / sizeof *kind_values, rec.kind);
    *dtype = index_of(dtype_values, sizeof dtype_values / sizeof *dtype_values, rec.dtype);
    return 0;
}

static int check_readable(const char *cmd, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        runtime_error(cmd, "cannot read '%s': %s", path, strerror(errno));
        return -1;
    }
    fclose(f);
    return 0;
}

/* After model_make_recorded, what the checkpoint does not say about real data (--data
 * text / fashion-mnist), said on stderr unless quiet: the micro-batch count in files
 * written before the library kept it (mo->batches 0: --batches, else 1), and the source
 * itself (the run's model held real data, synthetic data is used now). */
static void recorded_data_notes(const char *cmd, model_opts *mo, const model_opts *given,
                                const data_opts *data, int quiet) {
    if (!mo->batches) {
        mo->batches = given->batches ? given->batches : 1;
        if (!given->batches && !quiet)
            fprintf(stderr, "hessblock %s: note: the checkpoint does not record the micro-batch "
                    "count of its data (an older file); using 1 (give --batches N for the run's)\n", cmd);
    }
    if (mo->recorded_external && data->source == DATA_SYNTHETIC && !quiet)
        fprintf(stderr, "hessblock %s: note: the checkpoint's run used real data (--data text or "
                "fashion-mnist; the file does not say which); this run uses synthetic data\n", cmd);
}

/* Reports a compute failure; returns the exit status: 128 + the signal number after an
 * interruption (SIGINT 130, SIGTERM 143: the shells' convention). */
static int report_failure_text(const char *cmd, int rc, const char *what, const char *msg);

static int report_failure(const char *cmd, hb_context *ctx, int rc, const char *what) {
    return report_failure_text(cmd, rc, what, ctx ? hb_context_last_error(ctx) : "");
}

/* report_failure with the library's message given (a job's context is gone by then). */
static int report_failure_text(const char *cmd, int rc, const char *what, const char *msg) {
    progress_clear();
    int sig = progress_interrupted();
    if (sig && rc == HB_ECANCELED) {
        fprintf(stderr, "hessblock %s: interrupted by %s during %s\n", cmd,
                sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal", what);
        return 128 + sig;
    }
    if (rc == CMP_REPORTED) return EXIT_RUNTIME;
    if (rc == CMP_UNAVAILABLE)
        runtime_error(cmd, "%s: not available in this build", what);
    else
        runtime_error(cmd, "%s failed: %s (%s)", what, hb_strerror(rc), msg);
    return EXIT_RUNTIME;
}

static void json_header(jw *w, const char *cmd, const common_opts *c) {
    jw_string(w, "tool", "hessblock");
    jw_string(w, "version", hb_version_string());
    jw_string(w, "command", cmd);
    jw_int(w, "seed", c->seed);
    jw_int(w, "threads", c->threads);
}


/* The model sizes of spectrum and train: the preset's (--tiny = --preset tiny; preset_ix
 * -1: none given, `default`), then every size flag given. Returns 0 or EXIT_USAGE. */
static int resolve_sizes(const char *cmd, int preset_ix, int tiny, model_opts *mo, const model_opts *given) {
    if (tiny && preset_ix >= 0 && preset_ix != PRESET_TINY) {
        usage_error(cmd, "--tiny is --preset tiny; it contradicts --preset %s", preset_choices[preset_ix]);
        return EXIT_USAGE;
    }
    const int p = given_preset(preset_ix, tiny);
    preset_apply(preset_get(p >= 0 ? p : PRESET_DEFAULT), mo);
    preset_override(mo, given);
    return 0;
}

/* ---- data (data_opts.h) ---------------------------------------------------------------- */
/* --data: the training split into m; its description appended to sizes. */
static int set_data(hb_context *ctx, const data_opts *d, hb_model *m, int64_t batches, char *sizes,
                    size_t nsizes) {
    if (d->source != DATA_FASHION_MNIST) return HB_OK; /* text: textdata_set */
    char note[160] = "";
    int rc = data_set_train(ctx, d, m, batches, note, sizeof note);
    size_t l = strlen(sizes);
    if (rc == HB_OK && l < nsizes) snprintf(sizes + l, nsizes - l, "; %s", note);
    return rc;
}

/* train.json / --json: "data" and, with real data, the held-out figures. */
static void json_held_out(jw *w, const data_opts *d, double loss, double acc, size_t n) {
    jw_string(w, "data", data_choices[d->source]);
    if (d->source != DATA_FASHION_MNIST) return;
    jw_number(w, "held_out_loss", loss);
    jw_number(w, "held_out_accuracy", acc);
    jw_number(w, "held_out_samples", (double)n);
}

/* ---- spectrum ---------------------------------------------------------------------- */
/* Issue 12.4: name the numerically-zero blocks (left out of the scale-normalised JS0). */
static void print_zero_blocks(const spec_result *s) {
    if (!s->n_zero) return;
    printf("numerically zero (max |lambda| <= %.3g x the largest; left out of the "
           "scale-normalised JS0):", s->zero_tol);
    for (size_t b = 0; b < s->nblocks; b++)
        if (s->zero[b]) printf(" %s", s->names[b]);
    printf("\n");
}

int cmd_spectrum(int argc, char **argv, int first) {
    const char *cmd = "spectrum";
    common_opts c;
    common_defaults(&c);
    c.seed = SEED_UNSET;
    model_opts mo = {0}, given = {0};
    text_opts td = {.data = -1}; /* --data / --text-dir (textdata.h) */
    int kind = -1, dtype = -1, full = 0, tiny = 0, preset_ix = -1; /* -1: not given */
    const char *checkpoint = NULL, *blocks = "all";
    spec_opts so = {.probes = 0, .steps = 0, .grid = 256, .sigma_rel = 0.01, .full = 0, .blocks = 1,
                    .js_replicates = 100};
    data_opts data = {0};
    opt_spec specs[] = {
        {"model", OPT_CHOICE, &kind, 0, 0, kind_choices, "KIND", "model [gpt]"},
        DATA_OPTS(data),
        {"checkpoint", OPT_STRING, &checkpoint, 0, 0, NULL, "FILE",
         "analyse the parameters of this checkpoint (a checkpoint that records its model "
         "rebuilds it: no size options needed; older ones need the same kind and sizes)"},
        {"preset", OPT_CHOICE, &preset_ix, 0, 0, preset_choices, "P",
         "model sizes and SLQ defaults (below); size flags override [default]"},
        {"tiny", OPT_FLAG, &tiny, 0, 0, NULL, NULL, "the same as --preset tiny"},
        MODEL_SIZE_OPTS(given),
        TEXT_DATA_OPTS(td),
        {"dtype", OPT_CHOICE, &dtype, 0, 0, dtype_choices, "T", "parameter dtype [f64]"},
        {"probes", OPT_INT, &so.probes, 1, 1024, NULL, "N",
         "SLQ probe vectors [preset: default 4, tiny 2, ref 10, large 4]"},
        {"probe-group", OPT_INT, &so.probe_group, 1, 1024, NULL, "G", PROBE_GROUP_HELP},
        {"basis", OPT_CHOICE, &so.basis, 0, 0, basis_choices, "T", BASIS_HELP},
        {"steps", OPT_INT, &so.steps, 2, 2048, NULL, "N",
         "Lanczos steps per probe [preset: default 32, tiny 12, ref 80, large 32; 256 with --js-grid "
         "symlog]"},
        {"sigma", OPT_REAL, &so.sigma_rel, 1e-6, 1, NULL, "X",
         "Gaussian smoothing width, relative to the spectral range [0.01]"},
        {"grid", OPT_INT, &so.grid, 16, 100000, NULL, "N",
         "density grid points of the figures and CSV (JS values use their own 1024) [256]"},
        {"blocks", OPT_STRING, &blocks, 0, 0, NULL, "LIST",
         "per-block spectra: all, none, or comma-separated block names [all]"},
        {"full", OPT_FLAG, &full, 0, 0, NULL, NULL, "also the spectrum of the full Hessian"},
        {"js-blocks", OPT_CHOICE, &so.js_blocks, 0, 0, js_blocks_choices, "SET", JS_BLOCKS_HELP},
        {"js-grid", OPT_CHOICE, &so.js_grid, 0, 0, js_grid_choices, "G", JS_GRID_HELP},
        {"js-bootstrap", OPT_INT, &so.js_replicates, 0, 100000, NULL, "N", JS_BOOTSTRAP_HELP},
        COMMON_OPTS(c),
    };
    int rc = parse_options(cmd, argc, argv, first, specs, sizeof specs / sizeof *specs,
                           "[options]",
                           "Hessian spectrum (stochastic Lanczos quadrature) of one model at its\n"
                           "initialisation or at a checkpoint: per-block densities, their pairwise\n"
                           "Jensen-Shannon distances and mean (JS0), optionally the full spectrum.");
    if (rc == 1) preset_help(stdout);
    if (rc) return rc == 1 ? EXIT_OK : rc;
    const int kind_given = kind >= 0, dtype_given = dtype >= 0;
    if (kind < 0) kind = 0;
    if (dtype < 0) dtype = 0;
    /* a checkpoint that records its model decides kind and dtype before the data is fitted
     * to the model (--data fashion-mnist needs no --model then) */
    if (checkpoint && check_readable(cmd, checkpoint)) return EXIT_RUNTIME;
    int recorded = 0;
    if (checkpoint && (rc = recorded_model(cmd, checkpoint, &given, given_preset(preset_ix, tiny),
                                           kind_given, dtype_given, &c.seed, &kind, &dtype,
                                           &recorded)))
        return rc;
    mo.kind = kind_values[kind];
    mo.dtype = dtype_values[dtype];
    if ((rc = resolve_sizes(cmd, preset_ix, tiny, &mo, &given)) != 0) return rc;
    if ((rc = data_fit_model(cmd, &data, &given, &mo)) != 0) return rc;
    td.data = data.source == DATA_TEXT ? TEXT_DATA_TEXT : -1;
    const preset *pr = preset_get(given_preset(preset_ix, tiny) >= 0 ? given_preset(preset_ix, tiny)
                                                                    : PRESET_DEFAULT);
    if (!so.probes) so.probes = pr->probes;
    so.full = full;
    if (so.steps) note_short_symlog(cmd, &so, c.quiet);
    else so.steps = default_steps(pr->steps, so.js_grid);
    char *names[256];
    char *blist = NULL;
    if (!strcmp(blocks, "none")) so.blocks = 0;
    else if (strcmp(blocks, "all") != 0) {
        blist = strdup(blocks);
        int n = blist ? split_list(blist, names, 256) : -1;
        if (n < 0) {
            usage_error(cmd, "bad value '%s' for --blocks", blocks);
            free(blist);
            return EXIT_USAGE;
        }
        so.block_names = names;
        so.nblock_names = n;
    }
    if (!so.blocks && !so.full) {
        usage_error(cmd, "--blocks none without --full leaves nothing to compute");
        free(blist);
        return EXIT_USAGE;
    }
    /* the recorded model replaces the preset's sizes (model_make_recorded fills them) */
    if (recorded) mo = (model_opts){.kind = kind_values[kind], .dtype = dtype_values[dtype]};
    if ((rc = textdata_check(cmd, &td, kind_values[kind])) != 0) { free(blist); return rc; }
    if (c.seed == SEED_UNSET) c.seed = 0;
    const char *missing = compute_missing_spectrum();
    if (missing) {
        runtime_error(cmd, "not available in this build (%s)", missing);
        free(blist);
        return EXIT_RUNTIME;
    }
    if (c.out && outdir_make(cmd, c.out)) { free(blist); return EXIT_RUNTIME; }
    hb_context *ctx = make_context(cmd, &c);
    if (!ctx) { free(blist); return EXIT_RUNTIME; }
    int status = EXIT_RUNTIME;
    hb_model *m = NULL;
    spec_result sr = {0};
    char sizes[256] = "";
    double t0 = now_seconds();
    if ((rc = textdata_load(cmd, ctx, &td, &mo, &given)) != 0) {
        status = rc;
        goto done;
    }
    progress_stage("%s: building the model%s", kind_choices[kind],
                   recorded ? " the checkpoint records" : "");
    rc = recorded ? model_make_recorded(ctx, checkpoint, &mo, &m, sizes, sizeof sizes)
                  : model_make(ctx, &mo, &m, sizes, sizeof sizes);
    if (rc != HB_OK) {
        status = report_failure(cmd, ctx, rc, "creating the model");
        goto done;
    }
    if (recorded) recorded_data_notes(cmd, &mo, &given, &data, c.quiet);
    if ((rc = set_data(ctx, &data, m, mo.batches, sizes, sizeof sizes)) != HB_OK) {
        status = report_failure(cmd, ctx, rc, "reading the data");
        goto done;
    }
    if (td.corpus) { /* the Hessian of the training split's loss */
        if ((rc = textdata_set(m, &td, HB_SPLIT_TRAIN, mo.batches)) != HB_OK) {
            status = report_failure(cmd, ctx, rc, "setting the text data");
            goto done;
        }
        size_t l = strlen(sizes);
        if (l + 2 < sizeof sizes) {
            snprintf(sizes + l, sizeof sizes - l, "; ");
            textdata_describe(&td, sizes + l + 2, sizeof sizes - l - 2);
        }
    }
    if (checkpoint) {
        if ((rc = compute_load_checkpoint(ctx, m, checkpoint)) != HB_OK) {
            char what[4200];
            snprintf(what, sizeof what, "checkpoint '%s'", checkpoint);
            status = report_failure(cmd, ctx, rc, what);
            goto done;
        }
    }
    {
        size_t sel[256], nsel = 0;
        for (int i = 0; so.block_names && i < so.nblock_names; i++)
            if (hb_params_find_block(hb_model_params(m), so.block_names[i], &sel[nsel]) == HB_OK) nsel++;
        /* --blocks none: an empty list (NULL would mean every block) */
        preset_print_cost(kind_choices[kind], m, &mo, so.probes, so.steps, so.basis ? 4 : 8,
                          so.block_names || !so.blocks ? sel : NULL, so.blocks ? nsel : 0, so.full,
                          c.quiet);
    }
    progress_stage("%s: SLQ spectra (%lld probes, %lld Lanczos steps%s)", kind_choices[kind],
                   (long long)so.probes, (long long)so.steps, so.basis ? ", f32 basis" : "");
    if ((rc = compute_spectrum(ctx, m, &so, &sr)) != HB_OK) {
        status = report_failure(cmd, ctx, rc, "the spectrum");
        goto done;
    }
    snprintf(sr.sizes, sizeof sr.sizes, "%s", sizes);
    sr.size_info = mo.described;
    if (checkpoint) snprintf(sr.source, sizeof sr.source, "checkpoint:%s", checkpoint);
    else snprintf(sr.source, sizeof sr.source, "init");
    progress_clear();
    if (c.out && write_spectrum_files(cmd, c.out, &sr)) goto done;
    if (c.out) {
        FILE *f = outdir_open(cmd, c.out, "spectrum.json");
        if (!f) goto done;
        jw w;
        jw_init(&w, f, 1);
        jw_object(&w, NULL);
        json_header(&w, cmd, &c);
        json_spectrum(&w, "spectrum", &sr, 1);
        jw_end_object(&w);
        jw_finish(&w);
        if (outdir_close(cmd, f, c.out, "spectrum.json")) goto done;
        if (write_report(cmd, c.out, "hessblock spectrum", "spectrum.json", sizes, &sr, 1, NULL, 0, NULL, 0)) goto done;
    }
    if (c.json) {
        jw w;
        jw_init(&w, stdout, 1);
        jw_object(&w, NULL);
        json_header(&w, cmd, &c);
        json_spectrum(&w, "spectrum", &sr, 1);
        jw_number(&w, "seconds", now_seconds() - t0);
        jw_end_object(&w);
        jw_finish(&w);
    } else {
        printf("%s (%s), %lld parameters, %s\n", sr.model, sizes, (long long)sr.n_params, sr.source);
        if (sr.has_full) printf("full Hessian: lambda in [%.4g, %.4g]\n", sr.full_lmin, sr.full_lmax);
        printf("%-28s %-10s %9s %12s %12s\n", "block", "kind", "numel", "lambda_min", "lambda_max");
        for (size_t b = 0; b < sr.nblocks; b++)
            printf("%-28s %-10s %9lld %12.4g %12.4g\n", sr.names[b], sr.kinds[b],
                   (long long)sr.numel[b], sr.lmin[b], sr.lmax[b]);
        print_zero_blocks(&sr);
        if (sr.js && sr.nblocks > 1 && sr.js_grid) printf("JS grid: %s\n", js_grid_name(sr.js_grid));
        char b1[48], b2[48];
        if (sr.js && sr.nblocks > 1)
            printf("JS0 (mean pairwise JS distance) = %s; with scale-normalised spectra %s%s\n",
                   pm(b1, sizeof b1, sr.js0, sr.js0_stderr),
                   pm(b2, sizeof b2, sr.js0_normalized, sr.js0_normalized_stderr),
                   sr.n_zero ? " (numerically-zero blocks left out)" : "");
        if (sr.js_blocks)
            printf("JS0 over the %s blocks only (%zu of %zu) = %s; with scale-normalised spectra "
                   "%s\n", sr.js_blocks == 1 ? "weight" : "selected", sr.js_nselected, sr.nblocks,
                   pm(b1, sizeof b1, sr.js0_selected, sr.js0_selected_stderr),
                   pm(b2, sizeof b2, sr.js0_selected_normalized, sr.js0_selected_normalized_stderr));
        if (sr.js && sr.nblocks > 1 && isfinite(sr.js0_stderr))
            printf("(+- : bootstrap standard error over probes, %lld replicates; it does not include "
                   "the Lanczos-length bias, docs/spectral.md)\n", (long long)sr.js_replicates);
    }
    status = EXIT_OK;
done:
    spec_result_free(&sr);
    hb_model_free(m);
    textdata_free(&td);
    hb_context_free(ctx);
    free(blist);
    return status;
}

/* ---- quadratic ------------------------------------------------------------------------- */
static const char *const family_choices[] = {"both", "heterogeneous", "homogeneous", NULL};

/* The quadratic test bed on ctx's threads into q (nq families), in two halves (see
 * compute_quadratics_start): under mpirun this rank's share of the runs, then on the main
 * thread the exchange with the other ranks and the combination. rc and the reason in why. */
static int quadratics_start(hb_context *ctx, const quad_opts *qo, int which, quad_family *q,
                            quad_batch **batch, char *why, size_t nwhy) {
    int fams[2];
    size_t nf = 0;
    for (int fam = 1; fam <= 2; fam++)
        if (which == 0 || which == fam) fams[nf++] = fam == 1 ? HB_QUAD_HETEROGENEOUS : HB_QUAD_HOMOGENEOUS;
    progress_stage("quadratic: %s blocks, kappa = %g", nf == 2 ? "heterogeneous and homogeneous"
                   : which == 1 ? "heterogeneous" : "homogeneous", qo->cond);
    int64_t threads = 1;
    hb_context_get_i64(ctx, HB_CTX_THREADS, &threads);
    return compute_quadratics_start(ctx, qo, fams, nf, (int)threads, cli_ranks() > 1, q, batch, why, nwhy);
}

static int quadratics_finish(int which, quad_family *q, size_t *nq, quad_batch *batch, int rc,
                             char *why, size_t nwhy) {
    *nq = 0;
    rc = compute_quadratics_finish(batch, rc, q, why, nwhy);
    if (rc != HB_OK) return rc;
    *nq = which == 0 ? 2 : 1;
    progress_clear();
    return HB_OK;
}

static int quadratics_compute(hb_context *ctx, const quad_opts *qo, int which, quad_family *q, size_t *nq,
                              char *why, size_t nwhy) {
    quad_batch *batch = NULL;
    int rc = quadratics_start(ctx, qo, which, q, &batch, why, nwhy);
    return quadratics_finish(which, q, nq, batch, rc, why, nwhy);
}

static int run_quadratics(const char *cmd, hb_context *ctx, const quad_opts *qo, int which,
                          quad_family *q, size_t *nq) {
    char why[512] = "";
    int rc = quadratics_compute(ctx, qo, which, q, nq, why, sizeof why);
    return rc == HB_OK ? EXIT_OK : report_failure_text(cmd, rc, "the quadratic test bed", why);
}

static void json_quad_opts(jw *w, const quad_opts *qo) {
    jw_object(w, "quadratic_settings");
    jw_int(w, "blocks", qo->blocks);
    jw_int(w, "block_size", qo->block_size);
    jw_number(w, "cond", qo->cond);
    jw_number(w, "target_relative_loss", qo->tol);
    jw_int(w, "max_iters", qo->max_iters);
    jw_end_object(w);
}

int cmd_quadratic(int argc, char **argv, int first) {
    const char *cmd = "quadratic";
    common_opts c;
    common_defaults(&c);
    int family = 0;
    quad_opts qo = {.blocks = 4, .block_size = 25, .max_iters = 20000, .cond = 5000, .tol = 1e-4};
    opt_spec specs[] = {
        {"family", OPT_CHOICE, &family, 0, 0, family_choices, "F", "block spectra [both]"},
        {"blocks", OPT_INT, &qo.blocks, 1, 1000, NULL, "N", "number of blocks [4]"},
        {"block-size", OPT_INT, &qo.block_size, 1, 100000, NULL, "N", "size of every block [25]"},
        {"cond", OPT_REAL, &qo.cond, 1, 1e12, NULL, "K", "condition number of the whole Hessian [5000]"},
        {"tol", OPT_REAL, &qo.tol, 1e-14, 0.5, NULL, "X",
         "target relative loss (L - L*)/(L0 - L*) [1e-4]"},
        {"max-iters", OPT_INT, &qo.max_iters, 1, 100000000, NULL, "N", "iteration limit per run [20000]"},
        COMMON_OPTS(c),
    };
    int rc = parse_options(cmd, argc, argv, first, specs, sizeof specs / sizeof *specs, "[options]",
                           "The quadratic test bed: 1/2 x'Hx - h'x with block-diagonal H whose blocks\n"
                           "have heterogeneous or homogeneous spectra at the same condition number.\n"
                           "GD, SGD with momentum (0.9) and Adam, each at the best learning rate of a\n"
                           "log grid, are run to the target relative loss; iterations are reported.");
    if (rc) return rc == 1 ? EXIT_OK : rc;
    const char *missing = compute_missing_quadratic();
    if (missing) {
        runtime_error(cmd, "not available in this build (%s)", missing);
        return EXIT_RUNTIME;
    }
    if (c.out && outdir_make(cmd, c.out)) return EXIT_RUNTIME;
    hb_context *ctx = make_context(cmd, &c);
    if (!ctx) return EXIT_RUNTIME;
    quad_family q[2];
    memset(q, 0, sizeof q);
    size_t nq = 0;
    double t0 = now_seconds();
    int status = run_quadratics(cmd, ctx, &qo, family, q, &nq);
    if (status) goto done;
    status = EXIT_RUNTIME;
    if (c.out) {
        if (write_quad_files(cmd, c.out, q, nq)) goto done;
        FILE *f = outdir_open(cmd, c.out, "quadratic.json");
        if (!f) goto done;
        jw w;
        jw_init(&w, f, 1);
        jw_object(&w, NULL);
        json_header(&w, cmd, &c);
        json_quad_opts(&w, &qo);
        jw_array(&w, "quadratic");
        for (size_t i = 0; i < nq; i++) json_quad_family(&w, NULL, &q[i], 1);
        jw_end_array(&w);
        jw_end_object(&w);
        jw_finish(&w);
        if (outdir_close(cmd, f, c.out, "quadratic.json")) goto done;
        char settings[256];
        snprintf(settings, sizeof settings, "%lld blocks of %lld, kappa = %g, target %g",
                 (long long)qo.blocks, (long long)qo.block_size, qo.cond, qo.tol);
        if (write_report(cmd, c.out, "hessblock quadratic", "quadratic.json", settings, NULL, 0, NULL, 0, q, nq)) goto done;
    }
    if (c.json) {
        jw w;
        jw_init(&w, stdout, 1);
        jw_object(&w, NULL);
        json_header(&w, cmd, &c);
        json_quad_opts(&w, &qo);
        jw_array(&w, "quadratic");
        for (size_t i = 0; i < nq; i++) json_quad_family(&w, NULL, &q[i], 0);
        jw_end_array(&w);
        jw_number(&w, "seconds", now_seconds() - t0);
        jw_end_object(&w);
        jw_finish(&w);
    } else {
        printf("quadratic: %lld blocks of %lld, kappa = %g, target relative loss %g\n",
               (long long)qo.blocks, (long long)qo.block_size, qo.cond, qo.tol);
        print_quad_table(stdout, q, nq);
    }
    status = EXIT_OK;
done:
    for (size_t i = 0; i < 2; i++) quad_family_free(&q[i]);
    hb_context_free(ctx);
    return status;
}

/* ---- train ---------------------------------------------------------------------------------- */
static const char *const optim_choices[] = {"sgd", "adam", "adamw", "adam-mini", "sst", "lora",
                                            "sgd-blockhess", NULL};
enum { OPTIM_SGD_BLOCKHESS = 6 };

/* --minibatch / --eval-every: "minibatch" and "eval" of train.json and --json (docs/train.md). */
static void json_minibatch(jw *w, const minibatch *mb, int64_t steps, int finished) {
    jw_bool(w, "minibatch", mb->minibatch);
    jw_int(w, "samples_per_step", minibatch_samples_per_step(mb));
    jw_int(w, "samples_seen", steps * minibatch_samples_per_step(mb));
    if (mb->source == DATA_TEXT) jw_int(w, "tokens_seen", steps * minibatch_samples_per_step(mb) * mb->context);
    jw_int(w, "first_sample", (int64_t)mb->first0);
    jw_int(w, "eval_batches", mb->minibatch ? mb->eval_batches : mb->batches);
    jw_string(w, "held_out", minibatch_held_out_name(mb));
    jw_array(w, "eval");
    for (size_t i = 0; i < mb->nev; i++) {
        jw_object(w, NULL);
        jw_int(w, "step", mb->ev_step[i]);
        jw_number(w, "train_loss", mb->ev_train[i]);
        jw_number(w, "valid_loss", mb->ev_valid[i]);
        jw_end_object(w);
    }
    jw_end_array(w);
    /* a diverged run has no final evaluation: null, not the last one before it diverged */
    jw_number(w, "final_train_eval_loss", finished && mb->nev ? mb->ev_train[mb->nev - 1] : NAN);
    jw_number(w, "final_valid_loss", finished && mb->nev ? mb->ev_valid[mb->nev - 1] : NAN);
}

/* --optimizer sgd-blockhess: "blockhess" of train.json and --json (docs/train.md). */
static void json_blockhess(jw *w, const blockhess *bh, const blockhess_opts *o, hb_model *m) {
    jw_object(w, "blockhess");
    jw_int(w, "every", o->every);
    jw_int(w, "lanczos_steps", o->lanczos_steps);
    jw_number(w, "tol", o->tol);
    jw_number(w, "floor_rel", o->floor_rel);
    jw_string(w, "normalisation", "median");
    jw_int(w, "refreshes", bh->refreshes);
    jw_int(w, "hvps", bh->hvps);
    jw_number(w, "seconds", bh->seconds);
    jw_int(w, "converged_last", (int64_t)bh->converged);
    jw_number(w, "c_last", bh->c);
    jw_array(w, "blocks");
    hb_params *p = hb_model_params(m);
    for (size_t b = 0; b < bh->nblocks; b++) {
        const char *name = NULL;
        hb_params_block_info(p, b, &name, NULL, NULL, NULL, NULL, NULL);
        jw_string(w, NULL, name);
    }
    jw_end_array(w);
    jw_array(w, "history");
    for (size_t r = 0; r < bh->nhist; r++) {
        jw_object(w, NULL);
        jw_int(w, "step", bh->hist_step[r]);
        jw_numbers(w, "lambda", bh->hist_lambda + r * bh->nblocks, bh->nblocks);
        jw_numbers(w, "factor", bh->hist_factor + r * bh->nblocks, bh->nblocks);
        jw_end_object(w);
    }
    jw_end_array(w);
    jw_end_object(w);
}

/* eval.csv (step, train_loss, valid_loss) and blockhess.csv (step, block, lambda, factor). */
static int write_train_extra_files(const char *cmd, const char *dir, const minibatch *mb,
                                   const blockhess *bh, hb_model *m) {
    if (mb) {
        FILE *f = outdir_open(cmd, dir, "eval.csv");
        if (!f) return -1;
        fputs("step,train_loss,valid_loss\n", f);
        for (size_t i = 0; i < mb->nev; i++)
            fprintf(f, "%lld,%.17g,%.17g\n", (long long)mb->ev_step[i], mb->ev_train[i], mb->ev_valid[i]);
        if (outdir_close(cmd, f, dir, "eval.csv")) return -1;
    }
    if (bh) {
        FILE *f = outdir_open(cmd, dir, "blockhess.csv");
        if (!f) return -1;
        fputs("step,block,lambda,factor\n", f);
        hb_params *p = hb_model_params(m);
        for (size_t r = 0; r < bh->nhist; r++)
            for (size_t b = 0; b < bh->nblocks; b++) {
                const char *name = NULL;
                hb_params_block_info(p, b, &name, NULL, NULL, NULL, NULL, NULL);
                fprintf(f, "%lld,%s,%.17g,%.17g\n", (long long)bh->hist_step[r], name ? name : "",
                        bh->hist_lambda[r * bh->nblocks + b], bh->hist_factor[r * bh->nblocks + b]);
            }
        if (outdir_close(cmd, f, dir, "blockhess.csv")) return -1;
    }
    return 0;
}
static const char *const sched_choices[] = {"constant", "cosine", NULL};

int cmd_train(int argc, char **argv, int first) {
    const char *cmd = "train";
    common_opts c;
    common_defaults(&c);
    c.seed = SEED_UNSET;
    model_opts mo = {0}, given = {0};
    text_opts td = {.data = -1}; /* --data / --text-dir (textdata.h) */
    int kind = -1, dtype = -1, optim = 1, sched = 0, tiny = 0, sr = 0, preset_ix = -1; /* -1: not given */
    train_opts to = {.lr = NAN, .momentum = 0.9, .wd = 0, .beta1 = 0.9, .beta2 = 0.999,
                     .eps = 1e-8, .steps = 100, .warmup = 0, .rank = -1, .sst_iteration = -1,
                     .rewarm = -1, .lora_alpha = NAN};
    data_opts data = {0};
    int mini = 0;
    int64_t eval_batches = 0;
    const blockhess_opts bh_def = blockhess_defaults();
    blockhess_opts bho = {.every = 0, .lanczos_steps = 0, .tol = NAN, .floor_rel = NAN}; /* 0/NAN: not given */
    opt_spec specs[] = {
        {"model", OPT_CHOICE, &kind, 0, 0, kind_choices, "KIND", "model [gpt]"},
        DATA_OPTS(data),
        {"minibatch", OPT_FLAG, &mini, 0, 0, NULL, NULL,
         "each step trains on the next --batches micro-batches of the training split (window "
         "order from --seed, docs/train.md) instead of the same ones every step"},
        {"eval-every", OPT_INT, &to.eval_every, 1, 100000000, NULL, "N",
         "loss on a fixed training subset and on held-out data every N steps and at the end "
         "(text: validation split; fashion-mnist: t10k; synthetic: a separate draw) [end only "
         "with --minibatch]"},
        {"eval-batches", OPT_INT, &eval_batches, 1, 1 << 20, NULL, "N",
         "micro-batches of each evaluation set [16; full batch: the training data's]"},
        {"preset", OPT_CHOICE, &preset_ix, 0, 0, preset_choices, "P",
         "model sizes (below); size flags override [default]"},
        {"tiny", OPT_FLAG, &tiny, 0, 0, NULL, NULL, "the same as --preset tiny"},
        MODEL_SIZE_OPTS(given),
        TEXT_DATA_OPTS(td),
        {"dtype", OPT_CHOICE, &dtype, 0, 0, dtype_choices, "T",
         "parameter dtype (bf16: stored in bf16, computed in f32) [f64]"},
        {"stochastic-rounding", OPT_FLAG, &sr, 0, 0, NULL, NULL, "bf16: round stochastically"},
        {"optimizer", OPT_CHOICE, &optim, 0, 0, optim_choices, "OPT", "optimizer [adam]"},
        {"lr", OPT_REAL, &to.lr, 0, 1e6, NULL, "X", "learning rate [sgd* 0.1, adam*/sst/lora 1e-3]"},
        {"momentum", OPT_REAL, &to.momentum, 0, 1, NULL, "X", "sgd*: momentum [0.9]"},
        {"wd", OPT_REAL, &to.wd, 0, 1e3, NULL, "X",
         "weight decay (sgd/adam: coupled L2; adamw/adam-mini/sst/lora: decoupled) [0]"},
        {"beta1", OPT_REAL, &to.beta1, 0, 0.999999, NULL, "X", "adam*/sst/lora: beta1 [0.9]"},
        {"beta2", OPT_REAL, &to.beta2, 0, 0.999999999, NULL, "X", "adam*/sst/lora: beta2 [0.999]"},
        {"eps", OPT_REAL, &to.eps, 0, 1, NULL, "X", "adam*/sst/lora: epsilon [1e-8]"},
        {"schedule", OPT_CHOICE, &sched, 0, 0, sched_choices, "S", "learning-rate schedule [constant]"},
        {"warmup", OPT_INT, &to.warmup, 0, 100000000, NULL, "N", "warmup steps [0]"},
        {"steps", OPT_INT, &to.steps, 0, 100000000, NULL, "N",
         "training steps (0: no step; --checkpoint saves the initial parameters) [100]"},
        {"checkpoint", OPT_STRING, &to.checkpoint, 0, 0, NULL, "FILE",
         "write a checkpoint here at the end (and every --checkpoint-every steps)"},
        {"checkpoint-every", OPT_INT, &to.checkpoint_every, 1, 100000000, NULL, "N",
         "checkpoint period in steps"},
        {"resume", OPT_STRING, &to.resume, 0, 0, NULL, "FILE",
         "resume from this checkpoint (one that records its model rebuilds it: no size "
         "options or --seed needed)"},
        {"rank", OPT_INT, &to.rank, 1, 1 << 20, NULL, "R",
         "sst: active singular pairs per block; lora: rank (clamped to min(out, in)) [8]"},
        {"sst-iteration", OPT_INT, &to.sst_iteration, 1, 100000000, NULL, "T3",
         "sst: steps per iteration (re-SVD and new draw at each boundary) [200]"},
        {"rewarm", OPT_INT, &to.rewarm, 0, 100000000, NULL, "N",
         "sst: linear lr re-warm steps after each boundary, 0 = none [20]"},
        {"lora-alpha", OPT_REAL, &to.lora_alpha, 0, 1e6, NULL, "A", "lora: alpha, scale alpha/rank [rank]"},
        {"freeze-others", OPT_FLAG, &to.freeze_others, 0, 0, NULL, NULL,
         "sst/lora: freeze the unconverted blocks (embeddings, norms, biases, head)"},
        {"hess-every", OPT_INT, &bho.every, 1, 100000000, NULL, "N",
         "sgd-blockhess: refresh the per-block learning rates every N steps [50]"},
        {"hess-steps", OPT_INT, &bho.lanczos_steps, 1, 100000, NULL, "N",
         "sgd-blockhess: Lanczos steps per top-eigenvalue run [20]"},
        {"hess-tol", OPT_REAL, &bho.tol, 1e-14, 1, NULL, "X",
         "sgd-blockhess: relative residual of a converged lambda_max [1e-3]"},
        {"hess-floor", OPT_REAL, &bho.floor_rel, 1e-12, 1, NULL, "X",
         "sgd-blockhess: lambda_max below X times the largest block's is raised to it (the "
         "cap; also for lambda_max <= 0) [1e-2]"},
        COMMON_OPTS(c),
    };
    int rc = parse_options(cmd, argc, argv, first, specs, sizeof specs / sizeof *specs, "[options]",
                           "Train one built-in model on its data (full batch: every step uses all\n"
                           "micro-batches; --minibatch: the next window of the training split each\n"
                           "step) with one optimizer; print or write the loss curve.\n"
                           "sgd-blockhess: SGD (momentum) with block b's lr = lr * c / lambda_max(H_bb),\n"
                           "refreshed every --hess-every steps, c so that the median block keeps lr.\n"
                           "sst / lora: the model's attention and MLP matrices (gpt) or hidden linear\n"
                           "layers (mlp) are reparametrised (Sparse Spectral Training / LoRA) and the\n"
                           "wrapper is trained with AdamW.");
    if (rc == 1) preset_help(stdout);
    if (rc) return rc == 1 ? EXIT_OK : rc;
    /* before the checkpoint is read: a fresh run's data windows start at step 0, and the
     * per-block learning rates of sgd-blockhess are not in a checkpoint */
    if (to.resume && (mini || to.eval_every || eval_batches || optim == OPTIM_SGD_BLOCKHESS)) {
        usage_error(cmd, "--%s does not combine with --resume", optim == OPTIM_SGD_BLOCKHESS ? "optimizer sgd-blockhess"
                    : mini ? "minibatch" : to.eval_every ? "eval-every" : "eval-batches");
        return EXIT_USAGE;
    }
    const int kind_given = kind >= 0, dtype_given = dtype >= 0;
    if (kind < 0) kind = 0;
    if (dtype < 0) dtype = 0;
    /* a checkpoint that records its model decides kind and dtype before the checks below */
    if (to.resume && check_readable(cmd, to.resume)) return EXIT_RUNTIME;
    int recorded = 0;
    if (to.resume && (rc = recorded_model(cmd, to.resume, &given, given_preset(preset_ix, tiny),
                                          kind_given, dtype_given, &c.seed, &kind, &dtype,
                                          &recorded)))
        return rc;
    const int is_sst = optim == 4, is_lora = optim == 5;
    {
        /* the SST/LoRA options belong to those optimizers only */
        const struct { const char *name; int given, ok; } own[] = {
            {"rank", to.rank != -1, is_sst || is_lora},
            {"freeze-others", to.freeze_others, is_sst || is_lora},
            {"sst-iteration", to.sst_iteration != -1, is_sst},
            {"rewarm", to.rewarm != -1, is_sst},
            {"lora-alpha", !isnan(to.lora_alpha), is_lora},
        };
        for (size_t i = 0; i < sizeof own / sizeof *own; i++)
            if (own[i].given && !own[i].ok) {
                usage_error(cmd, "--%s is an option of --optimizer %s, not of --optimizer %s", own[i].name,
                            !strcmp(own[i].name, "lora-alpha") ? "lora"
                            : (!strcmp(own[i].name, "rank") || !strcmp(own[i].name, "freeze-others"))
                                ? "sst or lora" : "sst",
                            optim_choices[optim]);
                return EXIT_USAGE;
            }
    }
    {
        /* the Hessian options belong to sgd-blockhess; the data windows need the model's
         * own data (not an SST/LoRA wrapper) and a fresh run (no resume: its window would
         * restart at step 0) */
        const int is_bh = optim == OPTIM_SGD_BLOCKHESS;
        const char *bh_given = bho.every ? "hess-every" : bho.lanczos_steps ? "hess-steps"
                               : !isnan(bho.tol) ? "hess-tol" : !isnan(bho.floor_rel) ? "hess-floor" : NULL;
        if (bh_given && !is_bh) {
            usage_error(cmd, "--%s is an option of --optimizer sgd-blockhess, not of --optimizer %s",
                        bh_given, optim_choices[optim]);
            return EXIT_USAGE;
        }
        const char *mb_given = mini ? "minibatch" : to.eval_every ? "eval-every" : eval_batches ? "eval-batches" : NULL;
        if (mb_given && (is_sst || is_lora)) {
            usage_error(cmd, "--%s does not combine with --optimizer %s", mb_given, optim_choices[optim]);
            return EXIT_USAGE;
        }
        if (eval_batches && !mini) {
            usage_error(cmd, "--eval-batches needs --minibatch (full batch evaluates on the training data)");
            return EXIT_USAGE;
        }
        if (!bho.every) bho.every = bh_def.every;
        if (!bho.lanczos_steps) bho.lanczos_steps = bh_def.lanczos_steps;
        if (isnan(bho.tol)) bho.tol = bh_def.tol;
        if (isnan(bho.floor_rel)) bho.floor_rel = bh_def.floor_rel;
        if (!eval_batches) eval_batches = 16;
    }
    if (is_lora && !isnan(to.lora_alpha) && !(to.lora_alpha > 0)) {
        usage_error(cmd, "bad value '%g' for --lora-alpha: expected a number > 0", to.lora_alpha);
        return EXIT_USAGE;
    }
    if (is_sst || is_lora) {
        if (kind_values[kind] != HB_MODEL_GPT && kind_values[kind] != HB_MODEL_MLP) {
            usage_error(cmd, "--optimizer %s needs --model gpt or mlp (the %s model has no 2-d linear "
                        "blocks to convert)", optim_choices[optim], kind_choices[kind]);
            return EXIT_USAGE;
        }
        if (dtype_values[dtype] == HB_BF16) {
            usage_error(cmd, "--optimizer %s needs --dtype f64 or f32 (the SVD and factor updates do "
                        "not run in bf16)", optim_choices[optim]);
            return EXIT_USAGE;
        }
        to.sst_method = is_sst ? HB_SST_METHOD_SPECTRAL : HB_SST_METHOD_LORA;
        if (to.rank == -1) to.rank = 8;
        if (to.sst_iteration == -1) to.sst_iteration = 200;
        if (to.rewarm == -1) to.rewarm = 20;
        if (isnan(to.lora_alpha)) to.lora_alpha = 0; /* library: alpha = rank */
    }
    if (to.checkpoint_every && !to.checkpoint) {
        usage_error(cmd, "--checkpoint-every needs --checkpoint FILE");
        return EXIT_USAGE;
    }
    /* Under mpirun every rank trains the same run (train is not divided over ranks) and
     * only rank 0 writes files (mpi_cli.c): the others train without checkpointing. */
    if (!outdir_writes) {
        to.checkpoint = NULL;
        to.checkpoint_every = 0;
    }
    if (sr && dtype_values[dtype] != HB_BF16) {
        usage_error(cmd, "--stochastic-rounding needs --dtype bf16");
        return EXIT_USAGE;
    }
    to.optimizer = optim_choices[optim];
    to.schedule = sched;
    to.stochastic_rounding = sr;
    if (isnan(to.lr)) to.lr = optim == 0 || optim == OPTIM_SGD_BLOCKHESS ? 0.1 : 1e-3;
    mo.kind = kind_values[kind];
    mo.dtype = dtype_values[dtype];
    if ((rc = resolve_sizes(cmd, preset_ix, tiny, &mo, &given)) != 0) return rc;
    if ((rc = data_fit_model(cmd, &data, &given, &mo)) != 0) return rc;
    td.data = data.source == DATA_TEXT ? TEXT_DATA_TEXT : -1;
    /* the recorded model replaces the preset's sizes (model_make_recorded fills them) */
    if (recorded) mo = (model_opts){.kind = kind_values[kind], .dtype = dtype_values[dtype]};
    if ((rc = textdata_check(cmd, &td, kind_values[kind])) != 0) return rc;
    if (c.seed == SEED_UNSET) c.seed = 0;
    const char *missing = to.sst_method ? compute_missing_sst() : compute_missing_train();
    if (missing) {
        runtime_error(cmd, "not available in this build (%s)", missing);
        return EXIT_RUNTIME;
    }
    if (c.out && outdir_make(cmd, c.out)) return EXIT_RUNTIME;
    hb_context *ctx = make_context(cmd, &c);
    if (!ctx) return EXIT_RUNTIME;
    int status = EXIT_RUNTIME;
    hb_model *m = NULL;
    train_run run = {0};
    minibatch mb = {0};
    blockhess bh = {0};
    const int use_mb = mini || to.eval_every > 0, use_bh = optim == OPTIM_SGD_BLOCKHESS;
    char sizes[256] = "";
    double t0 = now_seconds(), valid0 = NAN, valid1 = NAN;
    if ((rc = textdata_load(cmd, ctx, &td, &mo, &given)) != 0) {
        status = rc;
        goto done;
    }
    rc = recorded ? model_make_recorded(ctx, to.resume, &mo, &m, sizes, sizeof sizes)
                  : model_make(ctx, &mo, &m, sizes, sizeof sizes);
    if (rc != HB_OK) {
        status = report_failure(cmd, ctx, rc, "creating the model");
        goto done;
    }
    if (recorded) recorded_data_notes(cmd, &mo, &given, &data, c.quiet);
    if ((rc = set_data(ctx, &data, m, mo.batches, sizes, sizeof sizes)) != HB_OK) {
        status = report_failure(cmd, ctx, rc, "reading the data");
        goto done;
    }
    if (td.corpus) { /* validation loss at the start, then train on the training split */
        rc = textdata_set(m, &td, HB_SPLIT_VALID, mo.batches);
        if (!rc) rc = hb_model_loss(m, &valid0);
        if (!rc) rc = textdata_set(m, &td, HB_SPLIT_TRAIN, mo.batches);
        if (rc != HB_OK) {
            status = report_failure(cmd, ctx, rc, "setting the text data");
            goto done;
        }
        size_t l = strlen(sizes);
        if (l + 2 < sizeof sizes) {
            snprintf(sizes + l, sizeof sizes - l, "; ");
            textdata_describe(&td, sizes + l + 2, sizeof sizes - l - 2);
        }
    }
    if (use_mb) {
        if ((rc = minibatch_open(ctx, &mb, &data, &td, &mo, m, c.seed, mini, eval_batches)) != HB_OK) {
            status = report_failure(cmd, ctx, rc, "reading the data");
            goto done;
        }
        to.step_data = minibatch_step_data;
        to.evaluate = minibatch_evaluate;
        to.data_user = &mb;
    }
    if (use_bh) {
        if ((rc = blockhess_init(&bh, m, to.lr)) != HB_OK) {
            status = report_failure(cmd, ctx, rc, "sgd-blockhess");
            goto done;
        }
        to.bh = &bh;
        to.bh_opts = &bho;
    }
    to.heads = mo.heads;
    if (to.sst_method && compute_sst_convertible(m) == 0) {
        runtime_error(cmd, "--optimizer %s: this %s model has no 2-d linear block to convert",
                      to.optimizer, kind_choices[kind]);
        goto done;
    }
    progress_stage("train %s (%s) with %s, lr %g, %lld steps", kind_choices[kind], sizes,
                   to.optimizer, to.lr, (long long)to.steps);
    if ((rc = compute_train(ctx, m, &to, &run)) != HB_OK) {
        char what[4200];
        if (run.failed_file) snprintf(what, sizeof what, "checkpoint '%s'", run.failed_file);
        else snprintf(what, sizeof what, "training");
        status = report_failure(cmd, ctx, rc, what);
        goto done;
    }
    /* held-out evaluation: the t10k split, as many samples as the training data */
    double held_loss = NAN, held_acc = NAN;
    size_t held_n = 0;
    if (data.source == DATA_FASHION_MNIST && isfinite(run.final_loss) &&
        (rc = data_evaluate_held_out(ctx, &data, m, mo.batches, &held_loss, &held_acc, &held_n)) != HB_OK) {
        status = report_failure(cmd, ctx, rc, "the held-out evaluation");
        goto done;
    }
    progress_clear();
    if (td.corpus) { /* the trained model (an SST/LoRA run syncs it) on the validation split */
        rc = textdata_set(m, &td, HB_SPLIT_VALID, mo.batches);
        if (!rc) rc = hb_model_loss(m, &valid1);
        if (rc != HB_OK) {
            status = report_failure(cmd, ctx, rc, "the validation loss");
            goto done;
        }
    }
    if (c.out) {
        if (write_train_run_files(cmd, c.out, &run)) goto done;
        FILE *f = outdir_open(cmd, c.out, "train.json");
        if (!f) goto done;
        jw w;
        jw_init(&w, f, 1);
        jw_object(&w, NULL);
        json_header(&w, cmd, &c);
        jw_string(&w, "model", kind_choices[kind]);
        json_sizes(&w, "sizes", &mo.described);
        jw_string(&w, "sizes_text", sizes);
        jw_string(&w, "dtype", dtype_choices[dtype]);
        jw_number(&w, "weight_decay", to.wd);
        if (td.corpus) {
            jw_number(&w, "valid_loss_start", valid0);
            jw_number(&w, "valid_loss_end", valid1);
        }
        json_train_run(&w, "run", &run, 1);
        json_held_out(&w, &data, held_loss, held_acc, held_n);
        if (use_mb) json_minibatch(&w, &mb, to.steps, isfinite(run.final_loss));
        if (use_bh) json_blockhess(&w, &bh, &bho, m);
        jw_end_object(&w);
        jw_finish(&w);
        if (outdir_close(cmd, f, c.out, "train.json")) goto done;
        if (write_train_extra_files(cmd, c.out, use_mb ? &mb : NULL, use_bh ? &bh : NULL, m)) goto done;
    }
    if (c.json) {
        jw w;
        jw_init(&w, stdout, 1);
        jw_object(&w, NULL);
        json_header(&w, cmd, &c);
        jw_string(&w, "model", kind_choices[kind]);
        json_sizes(&w, "sizes", &mo.described);
        jw_string(&w, "sizes_text", sizes);
        jw_string(&w, "dtype", dtype_choices[dtype]);
        jw_number(&w, "weight_decay", to.wd);
        if (td.corpus) {
            jw_number(&w, "valid_loss_start", valid0);
            jw_number(&w, "valid_loss_end", valid1);
        }
        json_train_run(&w, "run", &run, 1);
        json_held_out(&w, &data, held_loss, held_acc, held_n);
        if (use_mb) json_minibatch(&w, &mb, to.steps, isfinite(run.final_loss));
        if (use_bh) json_blockhess(&w, &bh, &bho, m);
        jw_number(&w, "total_seconds", now_seconds() - t0);
        jw_end_object(&w);
        jw_finish(&w);
    } else {
        printf("%s (%s, %s) with %s, lr %g, wd %g: loss %.6g -> %.6g in %lld steps (%.1f s); "
               "parameter norm %.6g -> %.6g\n",
               kind_choices[kind], sizes, dtype_choices[dtype], to.optimizer, to.lr, to.wd,
               run.loss ? run.loss[0] : NAN, run.final_loss, (long long)run.steps, run.seconds,
               run.param_norm0, run.param_norm);
        if (held_n)
            printf("held-out (fashion-mnist t10k, %zu samples): loss %.6g, accuracy %.4f\n", held_n,
                   held_loss, held_acc);
        if (td.corpus) printf("validation loss %.6g -> %.6g\n", valid0, valid1);
        if (use_mb && mb.nev)
            printf("%s: %lld samples seen (%lld per step); evaluation (%lld micro-batches): train %.6g, "
                   "held-out (%s) %.6g\n",
                   mini ? "mini-batches" : "full batch", (long long)(to.steps * minibatch_samples_per_step(&mb)),
                   (long long)minibatch_samples_per_step(&mb), (long long)(mini ? mb.eval_batches : mb.batches),
                   mb.ev_train[mb.nev - 1], minibatch_held_out_name(&mb), mb.ev_valid[mb.nev - 1]);
        double fmin = INFINITY, fmax = -INFINITY;
        for (size_t b = 0; use_bh && b < bh.nblocks; b++) {
            fmin = fmin < bh.factor[b] ? fmin : bh.factor[b];
            fmax = fmax > bh.factor[b] ? fmax : bh.factor[b];
        }
        if (use_bh)
            printf("sgd-blockhess: %lld refreshes every %lld steps, %lld Hessian-vector products (%.1f s); "
                   "last: c %.4g, factors %.3g..%.3g, %zu of %zu lambda_max converged\n",
                   (long long)bh.refreshes, (long long)bho.every, (long long)bh.hvps, bh.seconds, bh.c,
                   fmin, fmax, bh.converged,
                   bh.nblocks);
        if (run.sst_method) {
            int64_t rmin = run.rank, rmax = 0;
            for (size_t i = 0; run.layers && i < run.converted_blocks; i++) {
                if (run.layers[i].r < rmin) rmin = run.layers[i].r;
                if (run.layers[i].r > rmax) rmax = run.layers[i].r;
            }
            char eff[64] = "";
            if (rmin < run.rank)
                snprintf(eff, sizeof eff, rmin == rmax ? " (effective %lld)" : " (effective %lld-%lld)",
                         (long long)rmin, (long long)rmax);
            if (run.sst_method == HB_SST_METHOD_SPECTRAL)
                printf("sst over adamw: rank %lld%s, iteration %lld steps, re-warm %lld",
                       (long long)run.rank, eff, (long long)run.sst_iteration, (long long)run.rewarm);
            else
                printf("lora over adamw: rank %lld%s, alpha %g", (long long)run.rank, eff, run.lora_alpha);
            printf("%s; %zu blocks converted; trainable %zu of %zu parameters (%.1f%%; the wrapper "
                   "holds %zu); optimizer state %zu bytes; parameter norm above: the wrapper's trainable "
                   "blocks; effective weights %.6g -> %.6g\n",
                   run.freeze_others ? ", others frozen" : "", run.converted_blocks, run.trainable,
                   run.total, run.total ? 100.0 * (double)run.trainable / (double)run.total : 0.0,
                   run.wrapper_total, run.state_bytes, run.inner_norm0, run.inner_norm);
        }
    }
    status = isfinite(run.final_loss) ? EXIT_OK : EXIT_RUNTIME;
    if (status) runtime_error(cmd, "training diverged (non-finite loss)");
done:
    train_run_free(&run);
    minibatch_free(&mb);
    blockhess_free(&bh);
    hb_model_free(m);
    textdata_free(&td);
    hb_context_free(ctx);
    return status;
}

/* ---- analyze ------------------------------------------------------------------------------------ */

/* Trains fresh copies of the model (same seed: same initialisation and data) at every
 * learning rate of the grid; best = lowest final loss. */
/* One run of a learning-rate grid: a fresh model from the seed (the same state whatever
 * ran before, on whichever context), trained. */
typedef struct lr_job {
    const model_opts *mo;
    const char *optimizer;
    double lr;
    train_run run;
    int rc;
    char why[512]; /* the job context's message when rc is a failure */
} lr_job;

typedef struct lr_jobs {
    hb_context *ctx;        /* job_threads = 0: every job in order on this context */
    const common_opts *c;
    int64_t steps;
    int job_threads;        /* > 0: each job on a context of its own with these threads */
    size_t n;               /* this rank's jobs: job[idx[0..n-1]] */
    const size_t *idx;
    lr_job *job;
    const analyze_data *data; /* the training split to train on, the held-out one after */
} lr_jobs;

static int lr_run(hb_context *ctx, const lr_jobs *J, lr_job *j) {
    model_opts mo = *j->mo;
    hb_model *m = NULL;
    hb_context_set_i64(ctx, HB_CTX_SEED, J->c->seed);
    int rc = model_make(ctx, &mo, &m, NULL, 0);
    if (rc == HB_OK) rc = adata_set(J->data, m, mo.kind, ADATA_TRAIN, mo.batches);
    if (rc != HB_OK) {
        hb_model_free(m);
        return rc;
    }
    train_opts to = {.optimizer = j->optimizer, .lr = j->lr, .momentum = 0.9, .wd = 0,
                     .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .steps = J->steps,
                     .heads = mo.heads, .in_job = J->job_threads > 0};
    rc = compute_train(ctx, m, &to, &j->run);
    /* real data: every run's held-out loss (one loss evaluation, small beside its steps), so
     * the best run of each grid, picked by training loss afterwards, carries its own */
    if (rc == HB_OK && J->data->source == ADATA_REAL && isfinite(j->run.final_loss)) {
        rc = adata_held_out(J->data, m, mo.kind, mo.batches, &j->run.held_out_loss,
                            &j->run.held_out_accuracy);
        if (rc == HB_ENONFINITE) rc = HB_OK; /* the loss stays NaN: JSON null */
        if (rc == HB_OK) j->run.held_out = adata_held_out_name(J->data, mo.kind);
    }
    hb_model_free(m);
    return rc;
}

static void lr_job_fn(void *arg, size_t i) {
    lr_jobs *J = arg;
    lr_job *j = &J->job[J->idx[i]];
    hb_context *ctx = J->ctx;
    int rc = HB_OK;
    if (J->job_threads) {
        ctx = NULL;
        if ((rc = hb_context_create(&ctx)) == HB_OK &&
            (rc = hb_context_set_i64(ctx, HB_CTX_THREADS, J->job_threads)) == HB_OK)
            progress_cancel_only(ctx);
    } else {
        progress_label("%s lr %g", j->optimizer, j->lr);
        progress_outer((int64_t)i, (int64_t)J->n);
    }
    if (rc == HB_OK) rc = lr_run(ctx, J, j);
    if (rc != HB_OK && rc != HB_ENONFINITE)
        snprintf(j->why, sizeof j->why, "%s", ctx ? hb_context_last_error(ctx) : "cannot create a context");
    j->rc = rc;
    if (J->job_threads) hb_context_free(ctx);
}

/* One learning-rate grid of one model: finals[i] the final loss at lrs[i], best its best
 * finite run (filled by train_grids_combine). */
typedef struct lr_grid {
    const model_opts *mo;
    const char *optimizer;
    const double *lrs;
    size_t n;
    double *finals;
    train_run best;
} lr_grid;

/* The grids' runs between train_grids_run and train_grids_combine (under mpirun the ranks
 * exchange them in between, on the main thread). */
typedef struct lr_pending {
    lr_grid grid[16];
    size_t ng, total;
    int64_t steps;
    const analyze_data *data;
    lr_job *job;            /* total, in grid order */
} lr_pending;

/* Every run of the ng grids (every model's SGD and Adam: 8 runs a model) that is this
 * rank's (cli_job_mine; all of them in one process) as jobs on the --threads (issue 19; a run
 * itself is sequential: step t needs step t − 1, so the longest run is the floor). Each job
 * gets threads / jobs of them for its own products; the results do not depend on that (the
 * library is bit-identical for any thread count, tests/test_repro.c), nor on which job or
 * rank ends first: every grid is combined in learning-rate order, as the serial loop did.
 * Under several ranks every job has a context of its own (the main one carries the
 * communicator). P->grid[0..ng) set by the caller. HB_ENOMEM or HB_OK (a run's failure is
 * in its job). */
static int train_grids_run(hb_context *ctx, const common_opts *c, lr_pending *P) {
    size_t total = 0, nmine = 0;
    for (size_t g = 0; g < P->ng; g++) total += P->grid[g].n;
    P->total = total;
    P->job = calloc(total ? total : 1, sizeof *P->job);
    size_t *idx = malloc((total ? total : 1) * sizeof *idx);
    if (!P->job || !idx) {
        free(idx);
        return HB_ENOMEM;
    }
    for (size_t g = 0, k = 0; g < P->ng; g++)
        for (size_t i = 0; i < P->grid[g].n; i++, k++) {
            P->job[k] = (lr_job){.mo = P->grid[g].mo, .optimizer = P->grid[g].optimizer, .lr = P->grid[g].lrs[i]};
            if (cli_job_mine(k)) idx[nmine++] = k;
        }
    int T = c->threads > 1 ? (int)c->threads : 1, nw = (size_t)T < nmine ? T : (int)nmine;
    lr_jobs J = {.ctx = ctx, .c = c, .steps = P->steps, .n = nmine, .idx = idx, .job = P->job,
                 .job_threads = nw > 0 && (T > 1 || cli_ranks() > 1) ? T / nw : 0, .data = P->data};
    jobs_run(nmine, T, lr_job_fn, &J);
    free(idx);
    return HB_OK;
}

/* ---- a run on the wire (cli_share_jobs): the fixed part, then its loss curve ---- */
typedef struct lr_record {
    int64_t rc, steps, nloss, held_out; /* nloss: 0 (no curve) or steps + 1 */
    double final_loss, seconds, param_norm0, param_norm, held_out_loss, held_out_accuracy;
    uint64_t state_bytes, elem_bytes;
    char optimizer[24];
    char why[512];
} lr_record;

static size_t lr_pack(void *arg, size_t k, unsigned char *buf) {
    const lr_job *j = &((lr_pending *)arg)->job[k];
    size_t nloss = j->run.loss ? (size_t)j->run.steps + 1 : 0;
    if (buf) {
        lr_record h;
        memset(&h, 0, sizeof h);
        h = (lr_record){.rc = j->rc, .steps = j->run.steps, .nloss = (int64_t)nloss,
                        .held_out = j->run.held_out != NULL, .final_loss = j->run.final_loss,
                        .seconds = j->run.seconds, .param_norm0 = j->run.param_norm0,
                        .param_norm = j->run.param_norm, .held_out_loss = j->run.held_out_loss,
                        .held_out_accuracy = j->run.held_out_accuracy,
                        .state_bytes = j->run.state_bytes, .elem_bytes = j->run.elem_bytes};
        memcpy(h.optimizer, j->run.optimizer, sizeof h.optimizer);
        memcpy(h.why, j->why, sizeof h.why);
        memcpy(buf, &h, sizeof h);
        if (nloss) memcpy(buf + sizeof h, j->run.loss, nloss * sizeof(double));
    }
    return sizeof(lr_record) + nloss * sizeof(double);
}

static int lr_unpack(void *arg, size_t k, const unsigned char *buf, size_t len) {
    lr_pending *P = arg;
    lr_job *j = &P->job[k];
    lr_record h;
    if (len < sizeof h) return HB_EINVAL;
    memcpy(&h, buf, sizeof h);
    if (h.nloss < 0 || len != sizeof h + (size_t)h.nloss * sizeof(double) ||
        (h.nloss && (h.steps != P->steps || h.nloss != h.steps + 1)))
        return HB_EINVAL;
    train_run *r = &j->run;
    memset(r, 0, sizeof *r);
    if (h.nloss) {
        if (!(r->loss = malloc((size_t)h.nloss * sizeof(double)))) return HB_ENOMEM;
        memcpy(r->loss, buf + sizeof h, (size_t)h.nloss * sizeof(double));
    }
    memcpy(r->optimizer, h.optimizer, sizeof r->optimizer);
    r->optimizer[sizeof r->optimizer - 1] = 0;
    r->lr = j->lr;
    r->steps = h.steps;
    r->final_loss = h.final_loss;
    r->seconds = h.seconds;
    r->param_norm0 = h.param_norm0;
    r->param_norm = h.param_norm;
    r->held_out = h.held_out ? adata_held_out_name(P->data, j->mo->kind) : NULL;
    r->held_out_loss = h.held_out_loss;
    r->held_out_accuracy = h.held_out_accuracy;
    r->state_bytes = (size_t)h.state_bytes;
    r->elem_bytes = (size_t)h.elem_bytes;
    j->rc = (int)h.rc;
    memcpy(j->why, h.why, sizeof j->why);
    j->why[sizeof j->why - 1] = 0;
    return HB_OK;
}

/* Collective under mpirun (the main thread): the other ranks' runs into P (cli_share_jobs). */
static int train_grids_share(lr_pending *P, char *why, size_t nwhy) {
    return cli_share_jobs(P->total, lr_pack, lr_unpack, P, why, nwhy);
}

/* Every grid in learning-rate order (finals, best); frees P's jobs. On a failure (not a
 * divergence) the first failing run in order is the one reported (why). */
static int train_grids_combine(lr_pending *P, int rc, char *why, size_t nwhy) {
    lr_job *job = P->job;
    if (!job) return rc; /* never ran (out of memory): the bests stay empty */
    for (size_t g = 0, k = 0; g < P->ng; g++) {
        train_run *best = &P->grid[g].best;
        memset(best, 0, sizeof *best);
        best->final_loss = NAN;
        for (size_t i = 0; i < P->grid[g].n; i++, k++) {
            train_run *r = &job[k].run;
            if (rc == HB_OK && job[k].rc != HB_OK && job[k].rc != HB_ENONFINITE) {
                rc = job[k].rc;
                snprintf(why, nwhy, "%s", job[k].why);
            }
            if (rc != HB_OK) { train_run_free(r); continue; }
            P->grid[g].finals[i] = r->final_loss;
            if (isfinite(r->final_loss) && !(r->final_loss >= best->final_loss)) {
                train_run_free(best);
                *best = *r;
            } else {
                train_run_free(r);
            }
        }
        if (!best->loss) { /* every run diverged: keep the grid, report non-finite */
            snprintf(best->optimizer, sizeof best->optimizer, "%s", P->grid[g].optimizer);
            best->steps = P->steps;
        }
    }
    free(job);
    P->job = NULL;
    return rc;
}

/* ---- analyze: parse, run (per model: build, spectra, training; then quadratics), report --- */
typedef struct analyze_opts {
    common_opts c;
    int preset, no_train, no_quad, no_spectra;
    const char *models, *resume;
    spec_opts so;
    int64_t train_steps;
    quad_opts qo;
    int nm, mkinds[8];
    int data_source;             /* ADATA_* (-1 until analyze_defaults: not given) */
    const char *data_dir, *text_dir;
    const analyze_data *data;    /* read by cmd_analyze before the run */
} analyze_opts;

typedef struct analyze_results {
    spec_result spec[8];
    train_cmp train[8];
    quad_family quad[2];
    size_t nspec, ntrain, nquad;
    char sizes[8][256];
    model_sizes size_info[8]; /* the same, structured (JSON "sizes") */
    model_opts mo[8];         /* how each model was built (the training rebuilds it) */
    char settings[4096];
    size_t sl;               /* length of settings */
    double seconds;
    /* where `seconds` went (wall; summary.json "seconds_parts", issue 19): building the
     * models, their spectra (compute_spectrum), the spectra's files (CSV, SVG, .npy), the
     * training grids with their files, the quadratic test bed with its files */
    double t_models, t_spectra, t_spectrum_files, t_training, t_quadratics;
} analyze_results;

static const double sgd_lrs[] = {1.0, 0.3, 0.1, 0.03, 0.01};
static const double adam_lrs[] = {1e-2, 3e-3, 1e-3};
enum { N_SGD = sizeof sgd_lrs / sizeof *sgd_lrs, N_ADAM = sizeof adam_lrs / sizeof *adam_lrs };

static void settings_add(analyze_results *R, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void settings_add(analyze_results *R, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = R->sl < sizeof R->settings ? vsnprintf(R->settings + R->sl, sizeof R->settings - R->sl, fmt, ap) : 0;
    va_end(ap);
    if (n > 0) R->sl += (size_t)n;
    if (R->sl >= sizeof R->settings) R->sl = sizeof R->settings - 1;
}

/* The command line into A. Returns 0, EXIT_OK after --help, or EXIT_USAGE. */
static int analyze_parse(int argc, char **argv, int first, analyze_opts *A) {
    const char *cmd = "analyze";
    common_defaults(&A->c);
    A->c.out = NULL;
    A->models = "gpt,mlp,cnn";
    A->data_source = -1;
    A->so = (spec_opts){.grid = 256, .sigma_rel = 0.01, .blocks = 1, .js_replicates = 100};
    A->qo = (quad_opts){.blocks = 4, .cond = 5000, .tol = 1e-4};
    opt_spec specs[] = {
        {"models", OPT_STRING, &A->models, 0, 0, NULL, "LIST", "models, comma-separated [gpt,mlp,cnn]"},
        {"data", OPT_CHOICE, &A->data_source, 0, 0, adata_choices, "SRC",
         "real: gpt on the text corpus (Debian fortunes and common licenses), mlp and cnn on "
         "Fashion-MNIST (dataset-fashion-mnist; sets inputs 784 / image 28, classes 10); "
         "synthetic: the built-in generators, no download [real; synthetic with --preset tiny]"},
        {"data-dir", OPT_STRING, &A->data_dir, 0, 0, NULL, "DIR",
         "--data real: directory of the Fashion-MNIST IDX files [" DATA_DEFAULT_DIR "]"},
        {"text-dir", OPT_STRING, &A->text_dir, 0, 0, NULL, "DIR",
         "--data real: gpt's text is the files of DIR (sorted by name) instead of the Debian "
         "fortunes and common licenses"},
        {"preset", OPT_CHOICE, &A->preset, 0, 0, preset_choices, "P", "model sizes and SLQ defaults "
         "(below) [default]"},
        {"probes", OPT_INT, &A->so.probes, 1, 1024, NULL, "N", "SLQ probes [preset: default 4, tiny 2, "
         "ref 10, large 4]"},
        {"probe-group", OPT_INT, &A->so.probe_group, 1, 1024, NULL, "G", PROBE_GROUP_HELP},
        {"basis", OPT_CHOICE, &A->so.basis, 0, 0, basis_choices, "T", BASIS_HELP},
        {"steps", OPT_INT, &A->so.steps, 2, 2048, NULL, "N", "Lanczos steps [preset: default 32, tiny 12, "
         "ref 80, large 32; 256 with --js-grid symlog]"},
        {"sigma", OPT_REAL, &A->so.sigma_rel, 1e-6, 1, NULL, "X", "relative smoothing width [0.01]"},
        {"js-blocks", OPT_CHOICE, &A->so.js_blocks, 0, 0, js_blocks_choices, "SET", JS_BLOCKS_HELP},
        {"js-grid", OPT_CHOICE, &A->so.js_grid, 0, 0, js_grid_choices, "G", JS_GRID_HELP},
        {"js-bootstrap", OPT_INT, &A->so.js_replicates, 0, 100000, NULL, "N", JS_BOOTSTRAP_HELP},
        {"train-steps", OPT_INT, &A->train_steps, 1, 10000000, NULL, "N",
         "training steps per run [preset: tiny 10, others 200]"},
        {"quad-tol", OPT_REAL, &A->qo.tol, 1e-14, 0.5, NULL, "X", "quadratics: target relative loss [1e-4]"},
        {"quad-max-iters", OPT_INT, &A->qo.max_iters, 1, 100000000, NULL, "N",
         "quadratics: iteration limit [preset: tiny 2000, others 20000]"},
        {"no-spectra", OPT_FLAG, &A->no_spectra, 0, 0, NULL, NULL, "skip the spectra"},
        {"no-train", OPT_FLAG, &A->no_train, 0, 0, NULL, NULL, "skip SGD vs Adam"},
        {"no-quadratic", OPT_FLAG, &A->no_quad, 0, 0, NULL, NULL, "skip the quadratic test bed"},
        {"resume", OPT_STRING, &A->resume, 0, 0, NULL, "DIR",
         "continue the interrupted run in DIR (same options; finished blocks are not redone)"},
        COMMON_OPTS(A->c),
    };
    int rc = parse_options(cmd, argc, argv, first, specs, sizeof specs / sizeof *specs, "[options]",
                           "The whole study on real data (gpt on English text, mlp and cnn on\n"
                           "Fashion-MNIST, from Debian packages; --data synthetic: the built-in data, no\n"
                           "download): for each model at initialisation, per-block Hessian spectra (SLQ)\n"
                           "on the training split, their Jensen-Shannon distance matrix and mean JS0; a\n"
                           "short full-batch training with SGD (momentum 0.9, best of a learning-rate\n"
                           "grid) and with Adam (best of a grid), the loss gap and each best run's\n"
                           "held-out loss; then the quadratic test bed (heterogeneous vs homogeneous\n"
                           "blocks, kappa = 5000). Writes summary.json, CSV, SVG and report.html to --out\n"
                           "[hessblock-out]. Each finished block is saved at once: an interrupted run\n"
                           "(Ctrl-C, SIGTERM) continues with --resume DIR.");
    if (rc == 1) preset_help(stdout);
    if (rc) return rc; /* 1: --help */
    if (A->resume && A->c.out && strcmp(A->resume, A->c.out) != 0) {
        usage_error(cmd, "--resume %s writes to its own directory; --out %s differs", A->resume, A->c.out);
        return EXIT_USAGE;
    }
    if (!A->c.out) A->c.out = A->resume ? A->resume : "hessblock-out";
    if (A->data_source == ADATA_SYNTHETIC && (A->data_dir || A->text_dir)) {
        usage_error(cmd, "--%s needs --data real", A->data_dir ? "data-dir" : "text-dir");
        return EXIT_USAGE;
    }
    return 0;
}

/* Fills what the options left to the preset. */
static void analyze_defaults(analyze_opts *A) {
    const preset *p = preset_get(A->preset);
    if (!A->so.probes) A->so.probes = p->probes;
    if (A->so.steps) note_short_symlog("analyze", &A->so, A->c.quiet);
    else A->so.steps = default_steps(p->steps, A->so.js_grid);
    if (!A->train_steps) A->train_steps = p->train_steps;
    if (!A->qo.max_iters) A->qo.max_iters = p->quad_max_iters;
    A->qo.block_size = p->quad_block_size;
    /* tiny (the tests' preset) keeps the built-in data: seconds, and no package needed */
    if (A->data_source < 0) A->data_source = A->preset == PRESET_TINY ? ADATA_SYNTHETIC : ADATA_REAL;
    /* ... unless a data directory asks for real data */
    if (A->data_source == ADATA_SYNTHETIC && (A->data_dir || A->text_dir)) A->data_source = ADATA_REAL;
}

/* --models into A->mkinds. Returns 0 or EXIT_USAGE. */
static int analyze_parse_models(analyze_opts *A) {
    const char *cmd = "analyze";
    char mbuf[256];
    char *mnames[8];
    snprintf(mbuf, sizeof mbuf, "%s", A->models);
    A->nm = split_list(mbuf, mnames, 8);
    if (A->nm < 0) { usage_error(cmd, "bad value '%s' for --models", A->models); return EXIT_USAGE; }
    for (int i = 0; i < A->nm; i++) {
        int k = -1;
        for (int j = 0; j < 3; j++) if (!strcmp(mnames[i], kind_choices[j])) k = j;
        if (k < 0) {
            usage_error(cmd, "unknown model '%s' in --models (expected gpt, mlp, cnn)", mnames[i]);
            return EXIT_USAGE;
        }
        for (int j = 0; j < i; j++)
            if (A->mkinds[j] == kind_values[k]) {
                usage_error(cmd, "model '%s' listed twice in --models", mnames[i]);
                return EXIT_USAGE;
            }
        A->mkinds[i] = kind_values[k];
    }
    return 0;
}

/* Every setting that changes a number, recorded in run.json and checked on --resume. */
static void analyze_record_settings(const analyze_opts *A, run_state *rs) {
    runstate_set(rs, "preset", "%s", preset_choices[A->preset]);
    runstate_set(rs, "models", "%s", A->models);
    runstate_set(rs, "seed", "%lld", (long long)A->c.seed);
    runstate_set(rs, "probes", "%lld", (long long)A->so.probes);
    if (A->so.probe_group) /* recorded only when given: run.json of earlier runs still match */
        runstate_set(rs, "probe-group", "%lld", (long long)A->so.probe_group);
    if (A->so.basis) /* likewise: an f64 run's run.json has no "basis"; f32 must not resume it */
        runstate_set(rs, "basis", "%s", basis_choices[A->so.basis]);
    runstate_set(rs, "steps", "%lld", (long long)A->so.steps);
    runstate_set(rs, "sigma", "%.17g", A->so.sigma_rel);
    runstate_set(rs, "js-blocks", "%s", js_blocks_choices[A->so.js_blocks]);
    runstate_set(rs, "js-grid", "%s", js_grid_choices[A->so.js_grid]);
    runstate_set(rs, "js-bootstrap", "%lld", (long long)A->so.js_replicates);
    runstate_set(rs, "train-steps", "%lld", (long long)A->train_steps);
    runstate_set(rs, "quad-tol", "%.17g", A->qo.tol);
    runstate_set(rs, "quad-max-iters", "%lld", (long long)A->qo.max_iters);
    runstate_set(rs, "no-spectra", "%d", A->no_spectra);
    runstate_set(rs, "no-train", "%d", A->no_train);
    runstate_set(rs, "no-quadratic", "%d", A->no_quad);
    /* recorded only for real data: the run.json of earlier (synthetic) runs still match
     * --data synthetic, and a real run never resumes a synthetic one or vice versa */
    if (A->data_source == ADATA_REAL) {
        runstate_set(rs, "data", "%s", adata_choices[A->data_source]);
        if (A->data_dir) runstate_set(rs, "data-dir", "%s", A->data_dir);
        if (A->text_dir) runstate_set(rs, "text-dir", "%s", A->text_dir);
    }
}

static void analyze_settings_header(const analyze_opts *A, analyze_results *R) {
    const spec_opts *so = &A->so;
    settings_add(R, "preset %s, seed %lld, threads %lld\nSLQ: %lld probes, %lld Lanczos steps, "
                 "smoothing sigma %g of the spectral range; grid points: %zu for the densities "
                 "(figures, CSV), %zu for JS\n", preset_choices[A->preset], (long long)A->c.seed,
                 (long long)A->c.threads, (long long)so->probes, (long long)so->steps, so->sigma_rel,
                 compute_density_grid_points(so->sigma_rel, (size_t)so->grid), compute_js_grid_points());
    if (A->data->source == ADATA_REAL) {
        char what[512];
        adata_describe(A->data, what, sizeof what);
        settings_add(R, "data: real (spectra and training on the training split; held-out loss on the "
                     "validation split / t10k): %s\n", what);
    } else {
        settings_add(R, "data: synthetic (the built-in generators)\n");
    }
    if (so->probe_group)
        settings_add(R, "SLQ probe groups of %lld (--probe-group)\n", (long long)so->probe_group);
    if (so->basis)
        settings_add(R, "SLQ Lanczos basis stored in %s (--basis)\n", basis_choices[so->basis]);
    if (so->js_grid) settings_add(R, "JS grid: %s (--js-grid; every JS0 below)\n", js_grid_name(so->js_grid));
    if (so->js_blocks)
        settings_add(R, "JS0 also over the %s blocks only (--js-blocks %s)\n",
                     js_blocks_name(so->js_blocks), js_blocks_name(so->js_blocks));
}

/* Per-block spectra of model m into R->spec[R->nspec] and its files. Returns EXIT_OK or
 * the exit status after a message. */
static int analyze_spectra(hb_context *ctx, const analyze_opts *A, analyze_results *R, hb_model *m,
                           const model_opts *mo, int i) {
    const char *mname = model_kind_name(A->mkinds[i]);
    preset_print_cost(mname, m, mo, A->so.probes, A->so.steps, A->so.basis ? 4 : 8, NULL, 0, 0,
                      A->c.quiet);
    progress_stage("%s: per-block Hessian spectra at initialisation", mname);
    spec_result *sr = &R->spec[R->nspec];
    double t0 = now_seconds();
    int rc = compute_spectrum(ctx, m, &A->so, sr);
    double t1 = now_seconds();
    R->t_spectra += t1 - t0;
    if (rc != HB_OK) return report_failure("analyze", ctx, rc, "the spectra");
    _Static_assert(sizeof sr->sizes == sizeof R->sizes[i], "the same text");
    memcpy(sr->sizes, R->sizes[i], sizeof sr->sizes); /* (snprintf: a -Wrestrict false alarm) */
    sr->size_info = R->size_info[i];
    snprintf(sr->source, sizeof sr->source, "init");
    R->nspec++;
    int status = write_spectrum_files("analyze", A->c.out, sr) ? EXIT_RUNTIME : EXIT_OK;
    R->t_spectrum_files += now_seconds() - t1;
    return status;
}

/* SGD and Adam over their learning-rate grids on fresh copies of every model (built from
 * mo[i]): all runs of all models as one set of jobs on c->threads (the longest gpt run is
 * the floor, not the sum of every model's longest); under mpirun this rank's share of them
 * (training_finish brings the others'). P receives the pending runs. Returns the rc, the
 * reason in why. */
static int training_start(hb_context *ctx, const common_opts *c, const analyze_opts *A,
                          analyze_results *R, const model_opts *mo, lr_pending *P, char *why, size_t nwhy) {
    memset(P, 0, sizeof *P);
    P->steps = A->train_steps;
    P->data = A->data;
    P->ng = 2 * (size_t)A->nm;
    for (int i = 0; i < A->nm; i++) {
        train_cmp *t = &R->train[R->ntrain++];
        snprintf(t->model, sizeof t->model, "%s", model_kind_name(A->mkinds[i]));
        t->n_sgd = N_SGD;
        t->n_adam = N_ADAM;
        t->sgd_lrs = malloc(sizeof sgd_lrs);
        t->sgd_final = malloc(sizeof sgd_lrs);
        t->adam_lrs = malloc(sizeof adam_lrs);
        t->adam_final = malloc(sizeof adam_lrs);
        if (!t->sgd_lrs || !t->sgd_final || !t->adam_lrs || !t->adam_final) {
            snprintf(why, nwhy, "out of memory");
            return HB_ENOMEM;
        }
        memcpy(t->sgd_lrs, sgd_lrs, sizeof sgd_lrs);
        memcpy(t->adam_lrs, adam_lrs, sizeof adam_lrs);
        P->grid[2 * i] = (lr_grid){.mo = &mo[i], .optimizer = "sgd", .lrs = sgd_lrs, .n = N_SGD,
                                   .finals = t->sgd_final};
        P->grid[2 * i + 1] = (lr_grid){.mo = &mo[i], .optimizer = "adam", .lrs = adam_lrs, .n = N_ADAM,
                                       .finals = t->adam_final};
    }
    progress_stage("training: SGD (momentum 0.9), %d learning rates, and Adam, %d, x %lld steps, %d "
                   "model%s", (int)N_SGD, (int)N_ADAM, (long long)A->train_steps, A->nm, A->nm > 1 ? "s" : "");
    why[0] = 0;
    int rc = train_grids_run(ctx, c, P);
    if (rc != HB_OK) snprintf(why, nwhy, "out of memory");
    return rc;
}

/* On the main thread after training_start (rc its status): the other ranks' runs
 * (collective under mpirun), then every grid combined into R->train. */
static int training_finish(analyze_results *R, lr_pending *P, int rc, char *why, size_t nwhy) {
    if (rc == HB_OK && P->job) rc = train_grids_share(P, why, nwhy);
    rc = train_grids_combine(P, rc, why, nwhy);
    for (size_t g = 0; g + 1 < P->ng; g += 2) {
        train_cmp *t = &R->train[g / 2];
        t->sgd = P->grid[g].best;
        t->adam = P->grid[g + 1].best;
        t->gap = t->sgd.final_loss - t->adam.final_loss;
    }
    return rc;
}

static int analyze_training(hb_context *ctx, const analyze_opts *A, analyze_results *R) {
    char why[512] = "";
    lr_pending P;
    int rc = training_start(ctx, &A->c, A, R, R->mo, &P, why, sizeof why);
    rc = training_finish(R, &P, rc, why, sizeof why);
    return rc == HB_OK ? EXIT_OK : report_failure_text("analyze", rc, "SGD and Adam training", why);
}

/* Model i: built from the seed (the same state whatever ran before), its spectra. */
static int analyze_model(hb_context *ctx, const analyze_opts *A, analyze_results *R, int i) {
    model_opts mo = {.kind = A->mkinds[i], .dtype = HB_F64};
    preset_apply(preset_get(A->preset), &mo);
    adata_fit(A->data, &mo);
    const char *mname = model_kind_name(A->mkinds[i]);
    hb_model *m = NULL;
    hb_context_set_i64(ctx, HB_CTX_SEED, A->c.seed);
    double t0 = now_seconds();
    int rc = model_make(ctx, &mo, &m, R->sizes[i], sizeof R->sizes[i]);
    if (rc == HB_OK && (rc = adata_set(A->data, m, mo.kind, ADATA_TRAIN, mo.batches)) == HB_OK &&
        A->data->source == ADATA_REAL) {
        size_t l = strlen(R->sizes[i]);
        snprintf(R->sizes[i] + l, sizeof R->sizes[i] - l, "; %s, training split", adata_name(A->data, mo.kind));
    }
    R->t_models += now_seconds() - t0;
    if (rc != HB_OK) {
        hb_model_free(m);
        return report_failure("analyze", ctx, rc, mname);
    }
    R->size_info[i] = mo.described;
    settings_add(R, "%s: %s, %zu parameters\n", mname, R->sizes[i], hb_params_count(hb_model_params(m)));
    if (!A->c.quiet) fprintf(stderr, "[hessblock] %s: %s\n", mname, R->sizes[i]);
    int status = A->no_spectra ? EXIT_OK : analyze_spectra(ctx, A, R, m, &mo, i);
    hb_model_free(m);
    R->mo[i] = mo; /* the training (analyze_training) rebuilds it from these */
    return status;
}

static int analyze_quadratics(hb_context *ctx, const analyze_opts *A, analyze_results *R) {
    hb_context_set_i64(ctx, HB_CTX_SEED, A->c.seed);
    return run_quadratics("analyze", ctx, &A->qo, 0, R->quad, &R->nquad);
}

/* The training's settings line and files (after its runs). */
static int analyze_training_files(const analyze_opts *A, analyze_results *R) {
    if (A->no_train || !R->ntrain) return EXIT_OK;
    settings_add(R, "training: full batch, %lld steps; SGD momentum 0.9, lr grid {1, 0.3, 0.1, "
                 "0.03, 0.01}; Adam betas (0.9, 0.999), lr grid {1e-2, 3e-3, 1e-3}\n",
                 (long long)A->train_steps);
    double tf = now_seconds();
    int status = write_train_files("analyze", A->c.out, R->train, R->ntrain) ? EXIT_RUNTIME : EXIT_OK;
    R->t_training += now_seconds() - tf;
    return status;
}

/* The quadratics' settings line and files (after their runs). */
static int analyze_quadratic_files(const analyze_opts *A, analyze_results *R) {
    if (A->no_quad) return EXIT_OK;
    double tf = now_seconds();
    settings_add(R, "quadratics: %lld blocks of %lld, kappa = %g, target relative loss %g, at most "
                 "%lld iterations\n", (long long)A->qo.blocks, (long long)A->qo.block_size, A->qo.cond,
                 A->qo.tol, (long long)A->qo.max_iters);
    int status = write_quad_files("analyze", A->c.out, R->quad, R->nquad) ? EXIT_RUNTIME : EXIT_OK;
    R->t_quadratics += now_seconds() - tf;
    return status;
}

/* One row of summary[]: the model's JS0 values and its training losses. */
static void json_summary_row(jw *w, const analyze_opts *A, const analyze_results *R, int i) {
    const char *mname = model_kind_name(A->mkinds[i]);
    double ls = NAN, la = NAN, gap = NAN;
    const spec_result *sr = NULL;
    for (size_t k = 0; k < R->nspec; k++) if (!strcmp(R->spec[k].model, mname)) sr = &R->spec[k];
    for (size_t k = 0; k < R->ntrain; k++)
        if (!strcmp(R->train[k].model, mname)) {
            ls = R->train[k].sgd.final_loss; la = R->train[k].adam.final_loss; gap = R->train[k].gap;
        }
    jw_object(w, NULL);
    jw_string(w, "model", mname);
    jw_string(w, "data", adata_name(A->data, A->mkinds[i]));
    json_sizes(w, "sizes", &R->size_info[i]);
    jw_string(w, "sizes_text", R->sizes[i]);
    jw_number(w, "js0", sr ? sr->js0 : NAN);
    jw_number(w, "js0_stderr", sr ? sr->js0_stderr : NAN);
    jw_number(w, "js0_normalized", sr ? sr->js0_normalized : NAN);
    jw_number(w, "js0_normalized_stderr", sr ? sr->js0_normalized_stderr : NAN);
    if (sr && sr->zero) /* issue 12.4: left out of js0_normalized */
        jw_int(w, "js_zero_blocks", (int64_t)sr->n_zero);
    if (A->so.js_grid) jw_string(w, "js_grid", js_grid_name(A->so.js_grid));
    if (A->so.js_blocks) {
        jw_string(w, "js_blocks", js_blocks_name(A->so.js_blocks));
        jw_number(w, "js0_selected", sr ? sr->js0_selected : NAN);
        jw_number(w, "js0_selected_stderr", sr ? sr->js0_selected_stderr : NAN);
        jw_number(w, "js0_selected_normalized", sr ? sr->js0_selected_normalized : NAN);
        jw_number(w, "js0_selected_normalized_stderr", sr ? sr->js0_selected_normalized_stderr : NAN);
    }
    jw_number(w, "sgd_loss", ls);
    jw_number(w, "adam_loss", la);
    jw_number(w, "gap", gap);
    if (A->data->source == ADATA_REAL && !A->no_train) { /* the best runs on held-out data */
        const train_cmp *t = NULL;
        for (size_t k = 0; k < R->ntrain; k++) if (!strcmp(R->train[k].model, mname)) t = &R->train[k];
        jw_string(w, "held_out", adata_held_out_name(A->data, A->mkinds[i]));
        jw_number(w, "sgd_held_out_loss", t && t->sgd.held_out ? t->sgd.held_out_loss : NAN);
        jw_number(w, "adam_held_out_loss", t && t->adam.held_out ? t->adam.held_out_loss : NAN);
        if (A->mkinds[i] != HB_MODEL_GPT) {
            jw_number(w, "sgd_held_out_accuracy", t && t->sgd.held_out ? t->sgd.held_out_accuracy : NAN);
            jw_number(w, "adam_held_out_accuracy", t && t->adam.held_out ? t->adam.held_out_accuracy : NAN);
        }
    }
    jw_end_object(w);
}

/* summary.json (full: the large arrays too) or the --json document on stdout. */
static int analyze_write_json(FILE *f, const analyze_opts *A, const analyze_results *R, int full) {
    jw w;
    jw_init(&w, f, 1);
    jw_object(&w, NULL);
    json_header(&w, "analyze", &A->c);
    jw_bool(&w, "complete", 1);
    jw_string(&w, "preset", preset_choices[A->preset]);
    jw_string(&w, "data", adata_choices[A->data->source]);
    jw_string(&w, "settings", R->settings);
    jw_string(&w, "out", A->c.out);
    jw_number(&w, "seconds", R->seconds);
    jw_object(&w, "seconds_parts");
    jw_number(&w, "models", R->t_models);
    jw_number(&w, "spectra", R->t_spectra);
    jw_number(&w, "spectrum_files", R->t_spectrum_files);
    jw_number(&w, "training", R->t_training);
    jw_number(&w, "quadratics", R->t_quadratics);
    jw_end_object(&w);
    jw_array(&w, "summary");
    for (int i = 0; i < A->nm; i++) json_summary_row(&w, A, R, i);
    jw_end_array(&w);
    jw_array(&w, "spectra");
    for (size_t k = 0; k < R->nspec; k++) json_spectrum(&w, NULL, &R->spec[k], full);
    jw_end_array(&w);
    jw_array(&w, "training");
    for (size_t k = 0; k < R->ntrain; k++) json_train_cmp(&w, NULL, &R->train[k]);
    jw_end_array(&w);
    if (!A->no_quad) json_quad_opts(&w, &A->qo);
    jw_array(&w, "quadratic");
    for (size_t k = 0; k < R->nquad; k++) json_quad_family(&w, NULL, &R->quad[k], full);
    jw_end_array(&w);
    jw_end_object(&w);
    return jw_finish(&w);
}

static int analyze_write_summary(const analyze_opts *A, const analyze_results *R) {
    const char *cmd = "analyze";
    FILE *f = outdir_open(cmd, A->c.out, "summary.json");
    if (!f) return -1;
    if (analyze_write_json(f, A, R, 1)) {
        outdir_discard(f, A->c.out, "summary.json");
        runtime_error(cmd, "error writing summary.json");
        return -1;
    }
    return outdir_close(cmd, f, A->c.out, "summary.json");
}

static void print_js_lines(const analyze_opts *A, const analyze_results *R) {
    char b1[48];
    const spec_result *sp = R->spec;
    printf("JS0 (+- bootstrap standard error over probes, %lld replicates; not the Lanczos-"
           "length bias, docs/spectral.md):", (long long)A->so.js_replicates);
    for (size_t k = 0; k < R->nspec; k++) printf(" %s %s", sp[k].model, pm(b1, sizeof b1, sp[k].js0, sp[k].js0_stderr));
    printf("\nJS0 with every block spectrum scaled by its own max |lambda| first:");
    for (size_t k = 0; k < R->nspec; k++) {
        printf(" %s %s", sp[k].model, pm(b1, sizeof b1, sp[k].js0_normalized, sp[k].js0_normalized_stderr));
        if (sp[k].n_zero) /* issue 12.4 */
            printf(" (%zu numerically-zero blocks left out)", sp[k].n_zero);
    }
    printf("\n");
    if (!A->so.js_blocks) return;
    printf("JS0 over the %s blocks only (selected/all blocks):", A->so.js_blocks == 1 ? "weight" : "selected");
    for (size_t k = 0; k < R->nspec; k++)
        printf(" %s %s (%zu/%zu)", sp[k].model, pm(b1, sizeof b1, sp[k].js0_selected, sp[k].js0_selected_stderr),
               sp[k].js_nselected, sp[k].nblocks);
    printf("\n%-36s", "  the same, scale-normalised:");
    for (size_t k = 0; k < R->nspec; k++)
        printf(" %s %s", sp[k].model,
               pm(b1, sizeof b1, sp[k].js0_selected_normalized, sp[k].js0_selected_normalized_stderr));
    printf("\n");
}

static void analyze_print_text(const analyze_opts *A, const analyze_results *R) {
    printf("hessblock analyze (libhessblock %s)\n%s\n", hb_version_string(), R->settings);
    if (R->nspec || R->ntrain) print_summary_table(stdout, R->spec, R->nspec, R->train, R->ntrain);
    if (R->nspec) print_js_lines(A, R);
    if (R->nquad) {
        printf("\nquadratic test bed (iterations to relative loss %g; best lr of a log grid):\n", A->qo.tol);
        print_quad_table(stdout, R->quad, R->nquad);
    }
    printf("\nwrote %s/report.html, summary.json, *.csv, *.svg in %.1f s\n", A->c.out, R->seconds);
}

/* ---- analyze: the stages side by side (--threads > 1; docs/cli.md) -----------------------
 * The spectra (every model, in order, on the main thread and context) and the "side" stages
 * (the training grids, then the quadratic test bed, on a thread and contexts of their own)
 * run at the same time. They share nothing: each stage sets the seed before it draws (model
 * builds, every training run and the quadratics start from HB_CTX_SEED), so every number is
 * the serial run's; the side results are combined, their settings lines added and their files
 * written on the main thread after the spectra, in the serial order.
 * When and how many threads: a stage on t threads takes about max(work / t, floor), where
 * work is its 1-thread time and floor the part no thread count shortens (its longest
 * sequential piece). The serial order at T threads takes the sum of its stages' times; side
 * by side with b threads for the side, max(spectra on T − b, training + quadratics on b).
 * The side gets the b that minimises that, and only when it beats the serial order by 10 %
 * (the model is rough; at a tie the serial order keeps every stage's threads in one team):
 * no more than T threads in all, ever. Work and floors are the default preset's, measured
 * on the 16-core host (issue 19: 1-thread spectra 27.2 s, training 18.9 s, quadratics 4.1 s;
 * floors: the longest SLQ block task ≈ 2 s plus the JS part, the longest gpt training run
 * 2.3 s, the quadratics ≈ 0.3 s); only their ratios matter, so other presets are assumed
 * to have the default's proportions. The model says serial up to T = 10 (at 2 threads the
 * side by side order measured 10 % slower on the 2-core VM: 1 + 1 threads leave the
 * spectra's one thread the floor) and side by side from 11 (16: 9 + 7 threads).
 * Training then quadratics on one side thread rather than three stages: the quadratics'
 * share alone would round to a single thread and make them the floor.
 * HESSBLOCK_TEST_SIDE_THREADS=b (tests only) forces b side threads (0: serial). */
static const struct { double work, floor; } stage_cost[3] = {
    {27.2, 2.5}, /* spectra of every model */
    {18.9, 2.3}, /* training grids */
    {4.1, 0.3},  /* quadratic test bed */
};

static double stage_seconds(int s, double threads) {
    double t = stage_cost[s].work / threads;
    return t > stage_cost[s].floor ? t : stage_cost[s].floor;
}

/* The side stages' threads, or 0: the serial order (T = 1, one side has nothing to do, or
 * the model above says the serial order is as fast). */
static int side_threads(const analyze_opts *A) {
    int64_t T = A->c.threads;
    int tr = !A->no_train, qu = !A->no_quad;
    if (T < 2 || A->no_spectra || !(tr || qu)) return 0;
    const char *force = getenv("HESSBLOCK_TEST_SIDE_THREADS");
    if (force && *force) {
        long b = strtol(force, NULL, 10);
        return b > 0 && b < T ? (int)b : 0;
    }
    double serial = stage_seconds(0, (double)T) + tr * stage_seconds(1, (double)T) + qu * stage_seconds(2, (double)T);
    double best = INFINITY;
    int best_b = 0;
    for (int64_t b = 1; b < T; b++) {
        double side = tr * stage_seconds(1, (double)b) + qu * stage_seconds(2, (double)b);
        double o = fmax(stage_seconds(0, (double)(T - b)), side);
        if (o < best) best = o, best_b = (int)b;
    }
    return best < 0.9 * serial ? best_b : 0;
}

typedef struct side_lane {
    const analyze_opts *A;
    analyze_results *R;    /* the side stages write only train, ntrain, quad, nquad, t_* of theirs */
    common_opts c;         /* A->c with the side's threads */
    model_opts mo[8];      /* the models as the preset gives them (model_make fills the rest) */
    int rc;                /* the first failure, in the serial order */
    const char *what;
    char why[512];
    /* the runs of this rank (all in one process), combined on the main thread after the
     * join: under mpirun the exchange with the other ranks is collective, and MPI is the
     * main thread's alone (FUNNELED) */
    lr_pending train;
    int train_started, train_rc, quad_started, quad_rc;
    quad_batch *quad;
    char qwhy[512];
} side_lane;

static void *side_main(void *arg) {
    side_lane *L = arg;
    const analyze_opts *A = L->A;
    analyze_results *R = L->R;
    progress_side_thread();
    hb_context *ctx = NULL;
    int rc = hb_context_create(&ctx);
    if (rc == HB_OK) rc = hb_context_set_i64(ctx, HB_CTX_THREADS, L->c.threads);
    if (rc == HB_OK) rc = hb_context_set_i64(ctx, HB_CTX_SEED, L->c.seed);
    progress_cancel_only(ctx);
    L->what = A->no_train ? "the quadratic test bed" : "SGD and Adam training";
    if (rc != HB_OK) snprintf(L->why, sizeof L->why, "cannot create a context");
    L->rc = rc;
    double t = now_seconds();
    if (rc == HB_OK && !A->no_train) {
        L->train_started = 1;
        rc = L->train_rc = training_start(ctx, &L->c, A, R, L->mo, &L->train, L->why, sizeof L->why);
    }
    /* a run of this rank that failed fails the training on every rank after the exchange,
     * and the serial order never reaches the quadratics then */
    for (size_t k = 0; rc == HB_OK && L->train.job && k < L->train.total; k++)
        if (L->train.job[k].rc != HB_OK && L->train.job[k].rc != HB_ENONFINITE) rc = L->train.job[k].rc;
    R->t_training = now_seconds() - t;
    t = now_seconds();
    if (rc == HB_OK && !A->no_quad) {
        hb_context_set_i64(ctx, HB_CTX_SEED, A->c.seed);
        L->quad_started = 1;
        L->quad_rc = quadratics_start(ctx, &A->qo, 0, R->quad, &L->quad, L->qwhy, sizeof L->qwhy);
    }
    R->t_quadratics = now_seconds() - t;
    hb_context_free(ctx);
    return NULL;
}

/* After the join, on the main thread (status: the spectra's): the side's runs exchanged
 * with the other ranks under mpirun and combined, in the serial order; after a failure only
 * freed. Returns the exit status. */
static int side_finish(side_lane *L, analyze_results *R, int status) {
    if (status == EXIT_OK && L->rc != HB_OK) status = report_failure_text("analyze", L->rc, L->what, L->why);
    int skip = status != EXIT_OK ? HB_ECANCELED : HB_OK;
    if (L->train_started) {
        double t = now_seconds();
        int rc = training_finish(R, &L->train, skip ? skip : L->train_rc, L->why, sizeof L->why);
        R->t_training += now_seconds() - t;
        if (status == EXIT_OK && rc != HB_OK)
            status = report_failure_text("analyze", rc, "SGD and Adam training", L->why);
    }
    if (L->quad_started) {
        double t = now_seconds();
        int rc = quadratics_finish(0, R->quad, &R->nquad, L->quad, status != EXIT_OK ? HB_ECANCELED : L->quad_rc,
                                   L->qwhy, sizeof L->qwhy);
        R->t_quadratics += now_seconds() - t;
        if (status == EXIT_OK && rc != HB_OK)
            status = report_failure_text("analyze", rc, "the quadratic test bed", L->qwhy);
    }
    return status;
}

/* The stages side by side; side = the side's threads. Returns the exit status, or -1 when
 * the side thread could not start (nothing run: the caller runs the serial order). */
static int analyze_overlapped(hb_context *ctx, const analyze_opts *A, analyze_results *R, int side) {
    side_lane *L = calloc(1, sizeof *L);
    if (!L) return -1;
    L->A = A;
    L->R = R;
    L->c = A->c;
    L->c.threads = side;
    for (int i = 0; i < A->nm; i++) {
        L->mo[i] = (model_opts){.kind = A->mkinds[i], .dtype = HB_F64};
        preset_apply(preset_get(A->preset), &L->mo[i]);
        adata_fit(A->data, &L->mo[i]);
    }
    pthread_t tid;
    if (hb_context_set_i64(ctx, HB_CTX_THREADS, A->c.threads - side) != HB_OK ||
        pthread_create(&tid, NULL, side_main, L) != 0) {
        hb_context_set_i64(ctx, HB_CTX_THREADS, A->c.threads);
        free(L);
        return -1;
    }
    int status = EXIT_OK;
    for (int i = 0; i < A->nm && status == EXIT_OK; i++) status = analyze_model(ctx, A, R, i);
    if (status != EXIT_OK) progress_stop_side(); /* reported; the serial run stopped here */
    pthread_join(tid, NULL);
    hb_context_set_i64(ctx, HB_CTX_THREADS, A->c.threads);
    status = side_finish(L, R, status);
    free(L);
    if (status == EXIT_OK) status = analyze_training_files(A, R);
    if (status == EXIT_OK) status = analyze_quadratic_files(A, R);
    return status;
}

/* The serial order (--threads 1): per model its build and spectra, then the training grids,
 * then the quadratic test bed, each stage's files after it. */
static int analyze_serial(hb_context *ctx, const analyze_opts *A, analyze_results *R) {
    int status = EXIT_OK;
    for (int i = 0; i < A->nm && status == EXIT_OK; i++) status = analyze_model(ctx, A, R, i);
    if (status != EXIT_OK) return status;
    double tt = now_seconds();
    if (!A->no_train && (status = analyze_training(ctx, A, R)) != EXIT_OK) return status;
    R->t_training = now_seconds() - tt;
    if ((status = analyze_training_files(A, R)) != EXIT_OK) return status;
    double tq = now_seconds();
    if (!A->no_quad && (status = analyze_quadratics(ctx, A, R)) != EXIT_OK) return status;
    R->t_quadratics = now_seconds() - tq;
    return analyze_quadratic_files(A, R);
}

/* Every part of the study, then the files. Returns the exit status. */
static int analyze_run(hb_context *ctx, const analyze_opts *A, analyze_results *R, run_state *rs) {
    double t0 = now_seconds();
    analyze_settings_header(A, R);
    int side = side_threads(A);
    int status = side ? analyze_overlapped(ctx, A, R, side) : -1;
    if (status < 0) status = analyze_serial(ctx, A, R);
    if (status != EXIT_OK) return status;
    progress_clear();
    R->seconds = now_seconds() - t0;
    if (analyze_write_summary(A, R)) return EXIT_RUNTIME;
    if (A->c.json && analyze_write_json(stdout, A, R, 0)) return EXIT_RUNTIME;
    if (write_report("analyze", A->c.out, "hessblock analyze", "summary.json", R->settings, R->spec, R->nspec, R->train,
                     R->ntrain, R->quad, R->nquad))
        return EXIT_RUNTIME;
    if (runstate_finish(rs, 1)) return EXIT_RUNTIME;
    if (!A->c.json) analyze_print_text(A, R);
    return EXIT_OK;
}

int cmd_analyze(int argc, char **argv, int first) {
    const char *cmd = "analyze";
    analyze_opts A;
    memset(&A, 0, sizeof A);
    int rc = analyze_parse(argc, argv, first, &A);
    if (rc) return rc == 1 ? EXIT_OK : rc;
    progress_catch_signals();
    analyze_defaults(&A);
    if ((rc = analyze_parse_models(&A)) != 0) return rc;
    /* Under mpirun (mpi_cli.c) the spectra are divided over the ranks (collective SLQ calls
     * on the main context), and so are the runs of the training grids and of the quadratic
     * test bed (cli_job_mine; their results travel to every rank through cli_share_jobs, on
     * the main thread, after the runs): every rank holds every result, rank 0 reports
     * (docs/scale-out.md, "The command-line tool"). */
    const char *missing = NULL;
    if (!A.no_spectra && (missing = compute_missing_spectrum())) {}
    else if (!A.no_train && (missing = compute_missing_train())) {}
    else if (!A.no_quad && (missing = compute_missing_quadratic())) {}
    /* the data first: without its package nothing is written (no output directory) */
    analyze_data D = {.source = A.data_source, .image_dir = A.data_dir, .text_dir = A.text_dir,
                      .text = {.data = -1}};
    A.data = &D;
    hb_context *ctx = missing ? NULL : make_context(cmd, &A.c);
    if (!missing && !ctx) return EXIT_RUNTIME;
    if (ctx && A.data_source == ADATA_REAL && !A.c.quiet)
        fprintf(stderr, "[hessblock] reading the data (--data real; --data synthetic: the built-in data)\n");
    if (ctx && (rc = adata_load(cmd, ctx, &D, A.mkinds, A.nm)) != 0) {
        adata_free(&D);
        hb_context_free(ctx);
        return rc;
    }
    run_state rs;
    memset(&rs, 0, sizeof rs);
    int status = EXIT_RUNTIME;
    analyze_results *R = NULL;
    if (outdir_make(cmd, A.c.out)) goto done;
    if (missing) {
        runtime_error(cmd, "not available in this build (%s)", missing);
        goto done;
    }
    analyze_record_settings(&A, &rs);
    if ((status = runstate_start(&rs, cmd, A.c.out, A.resume != NULL, "summary.json")) != 0) goto done;
    status = EXIT_RUNTIME;
    if (A.resume && !A.c.quiet)
        fprintf(stderr, "[hessblock] resuming %s: %zu finished blocks are read back, not recomputed\n",
                A.c.out, rs.ndone);
    A.so.state = &rs;
    R = calloc(1, sizeof *R);
    status = R ? analyze_run(ctx, &A, R, &rs) : EXIT_RUNTIME;
    if (!R) runtime_error(cmd, "out of memory");
    if (progress_interrupted() && status != EXIT_OK)
        fprintf(stderr, "hessblock %s: the finished blocks are saved in %s (run.json: \"complete\": "
                "false, %zu blocks); continue with 'hessblock %s --resume %s' and the same options\n",
                cmd, A.c.out, rs.ndone, cmd, A.c.out);
done:
    for (size_t k = 0; R && k < 8; k++) { spec_result_free(&R->spec[k]); train_cmp_free(&R->train[k]); }
    for (size_t k = 0; R && k < 2; k++) quad_family_free(&R->quad[k]);
    free(R);
    adata_free(&D);
    hb_context_free(ctx);
    runstate_free(&rs);
    return status;
}
