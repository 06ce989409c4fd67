/* svgplot: tiny SVG plotting for the hessblock tool (the library never draws).
 * Line plots (linear or log axes, legend), heat maps with a colour scale and labels,
 * and figures made of several panels. Non-finite points, and points <= 0 on a log
 * axis, are skipped and break the line. All text is XML-escaped. */
#ifndef HB_TOOL_SVGPLOT_H
#define HB_TOOL_SVGPLOT_H

#include <stddef.h>
#include <stdio.h>

typedef struct svg_series {
    const char *label;       /* legend entry (NULL: not in the legend) */
    const double *x, *y;
    size_t n;
    int dashed;
    int markers;             /* draw a dot at each point */
    const char *color;       /* "#rrggbb" (NULL: palette entry of the series' index) */
} svg_series;

typedef struct svg_lineplot {
    const char *title, *xlabel, *ylabel;
    int logx, logy;
    const svg_series *series;
    size_t nseries;
    int legend;              /* draw a legend box (top right) */
    double hline;            /* draw a dashed horizontal reference line at this y if finite */
    double max_decades;      /* log-y: show at most this many decades below the top (0: all) */
    double symlog_x;         /* > 0: x axis is u = asinh(x / symlog_x) (a symmetric log |x|
                                axis, linear within ±symlog_x), ticks at 0 and ±10^k */
    const char *note;        /* a line of text under the title (NULL: none) */
} svg_lineplot;

typedef struct svg_heatmap {
    const char *title;
    const double *m;         /* rows x cols, row-major */
    size_t rows, cols;
    const char *const *row_labels, *const *col_labels; /* may be NULL */
    double vmin, vmax;       /* colour scale range; vmin == vmax: from the data */
    const char *scale_label;
    int annotate;            /* print values in the cells (where a cell is big enough) */
    const double *err;       /* rows x cols standard errors shown in the cell tooltips (NULL) */
    const int *row_marked;   /* rows flags: label drawn in red (numerically-zero blocks; NULL) */
    const size_t *group;     /* rows group index, non-decreasing (square maps): a separating
                                line between groups and the group's name along the top */
    const char *const *group_names;
    double font;             /* label font size (0: 9) */
} svg_heatmap;

/* Figure: begin, draw panels at (x, y, w, h) in pixels, end. */
void svg_begin(FILE *f, double width, double height, const char *title);
void svg_draw_lines(FILE *f, double x, double y, double w, double h, const svg_lineplot *p);
void svg_draw_heatmap(FILE *f, double x, double y, double w, double h, const svg_heatmap *hm);
/* A panel with a title and lines of text instead of a plot (e.g. a numerically-zero
 * block, whose density would need absurd axes). */
void svg_draw_note(FILE *f, double x, double y, double w, double h, const char *title,
                   const char *const *lines, size_t nlines);
void svg_end(FILE *f);

/* Convenience: write a figure of n line-plot panels in a grid of `cols` columns to
 * path. Returns 0, or -1 if the file cannot be written (errno set). */
int svg_write_lineplots(const char *path, const char *title, const svg_lineplot *panels,
                        size_t n, size_t cols, double panel_w, double panel_h);
/* One heat map to path. Returns 0 or -1. */
int svg_write_heatmap(const char *path, const svg_heatmap *hm, double w, double h);

/* Write s XML-escaped to f. */
void svg_escape(FILE *f, const char *s);

/* Colour of palette entry i as "#rrggbb" (static string). */
const char *svg_palette(size_t i);

#endif
