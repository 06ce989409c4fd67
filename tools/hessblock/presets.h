/* One set of model-size presets shared by every subcommand (issue 15): --preset NAME picks
 * the sizes of gpt, mlp and cnn, the SLQ defaults of analyze and spectrum and analyze's
 * training and quadratic lengths; explicit size flags override the preset's sizes. */
#ifndef HB_TOOL_PRESETS_H
#define HB_TOOL_PRESETS_H

#include "compute.h"

typedef struct preset {
    const char *name;
    const char *purpose;
    model_opts gpt, mlp, cnn;      /* zero fields keep the library's defaults */
    int64_t probes, steps;         /* SLQ defaults (analyze and spectrum) */
    int64_t train_steps;           /* analyze: steps of every training run */
    int64_t quad_block_size, quad_max_iters; /* analyze, quadratic */
} preset;

enum { PRESET_DEFAULT = 0, PRESET_TINY = 1, PRESET_REF = 2, PRESET_LARGE = 3 };
/* "default", "tiny", "ref", "large", NULL: the --preset choices (index = PRESET_*) */
extern const char *const preset_choices[];
const preset *preset_get(int index);

/* Fills m's size fields for m->kind from the preset (dtype kept). */
void preset_apply(const preset *p, model_opts *m);
/* Copies every nonzero size field of `given` (the size flags) over m. */
void preset_override(model_opts *m, const model_opts *given);
/* The presets with their sizes and parameter counts (models built to count them),
 * for --help. */
void preset_help(FILE *f);

/* Cost of SLQ on model m before it starts (issue 15): HVP products (one per probe, step
 * and block, the steps capped at each block's size) and an estimate of the peak memory.
 * One line on stderr (not with quiet). basis_bytes: bytes per element of the Lanczos basis
 * (8, or 4 with --basis f32). blocks NULL: every block; full: also the whole Hessian. */
void preset_print_cost(const char *what, hb_model *m, const model_opts *mo, int64_t probes,
                       int64_t steps, int basis_bytes, const size_t *blocks, size_t nblocks,
                       int full, int quiet);

#endif
