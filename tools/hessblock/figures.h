/* The spectrum figures of the hessblock tool (docs/cli.md, "Figures"). Each writer returns
 * 0, or -1 after a message naming the file. */
#ifndef HB_TOOL_FIGURES_H
#define HB_TOOL_FIGURES_H

#include <stddef.h>

#include "results.h"

/* The heat map's block order: grouped by kind (kinds in the order they first appear in
 * the model), within a kind by layer (the first all-digit component of the name; blocks
 * without one go before the layers if they come before the first numbered block in the
 * model, else after), ties in model order. order[i] = the block at position i; group[i]
 * (may be NULL) = the kind's rank; *ngroups (may be NULL) = the number of kinds.
 * Returns 0, or -1 when out of memory. */
int figure_block_order(const spec_result *s, size_t *order, size_t *group, size_t *ngroups);

/* <model>_js.svg: the JS matrix in that order, values in the cells, numerically-zero
 * blocks' labels red with " [zero]". */
int write_js_heatmap(const char *cmd, const char *dir, const spec_result *s);
/* <model>_shared.svg: every block's density on the pooled linear grid and on the symlog
 * grid of hb_js_options (the grids JS compares), log density; nothing without Ritz values. */
int write_shared_overlay(const char *cmd, const char *dir, const spec_result *s);
/* <model>_spectra.svg: one panel per block on its own range; a numerically-zero block is
 * a note, not a plot. */
int write_block_panels(const char *cmd, const char *dir, const spec_result *s);

#endif
