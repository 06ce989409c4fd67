/* The spectrum figures of the hessblock tool (issue 15.5): the JS heat map ordered by
 * block kind and layer, the overlay of every block's density on the grids JS compares,
 * and one panel per block. Numbers come from spec_result; nothing here computes a JS
 * value (the library does), only densities for drawing. */
#include "figures.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "svgplot.h"

#define OVERLAY_POINTS 600     /* grid of the overlay figure (the JS grid has 1024) */
#define OVERLAY_DECADES 6      /* log-density axis: this many decades below the peak */

/* ---- ordering -------------------------------------------------------------------------- */
/* The layer of a block: the first all-digit component of its dotted name ("h.1.attn.wq" →
 * 1, "layers.0.bias" → 0); -1 when there is none. */
static long name_layer(const char *name) {
    const char *p = name;
    while (*p) {
        const char *e = p;
        while (*e && *e != '.') e++;
        if (e > p) {
            int digits = 1;
            for (const char *q = p; q < e; q++) digits &= isdigit((unsigned char)*q) != 0;
            if (digits && e - p < 9) return strtol(p, NULL, 10);
        }
        p = *e ? e + 1 : e;
    }
    return -1;
}

typedef struct order_key { size_t block, kind_rank; double layer; } order_key;

static int key_cmp(const void *a, const void *b) {
    const order_key *x = a, *y = b;
    if (x->kind_rank != y->kind_rank) return x->kind_rank < y->kind_rank ? -1 : 1;
    if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
    return x->block < y->block ? -1 : x->block > y->block;
}

/* Kinds in a fixed order: what a block does first (inputs, weights in the order data
 * meets them, the head), then the kinds that scale the others (norms, biases). Kinds not
 * listed follow in the order they appear in the model. */
static const char *const kind_order[] = {"embedding", "conv", "linear", "attn_q", "attn_k", "attn_v",
                                         "attn_o", "mlp_in", "mlp_out", "head", "norm", "bias"};
#define N_KIND_ORDER (sizeof kind_order / sizeof *kind_order)

static size_t kind_index(const char *kind) {
    for (size_t i = 0; i < N_KIND_ORDER; i++) if (!strcmp(kind_order[i], kind)) return i;
    return N_KIND_ORDER;
}

int figure_block_order(const spec_result *s, size_t *order, size_t *group, size_t *ngroups) {
    size_t nb = s->nblocks;
    order_key *k = malloc((nb ? nb : 1) * sizeof *k);
    size_t *other = malloc((nb ? nb : 1) * sizeof *other); /* first block of each unlisted kind */
    if (!k || !other) { free(k); free(other); return -1; }
    /* blocks without a layer number keep their side: before the first numbered block
     * (embeddings) or after it (final norm, head) */
    size_t first_numbered = nb, nother = 0;
    for (size_t b = 0; b < nb && first_numbered == nb; b++)
        if (name_layer(s->names[b]) >= 0) first_numbered = b;
    for (size_t b = 0; b < nb; b++) {
        size_t r = kind_index(s->kinds[b]);
        if (r == N_KIND_ORDER) {
            size_t j = 0;
            while (j < nother && strcmp(s->kinds[other[j]], s->kinds[b]) != 0) j++;
            if (j == nother) other[nother++] = b;
            r += j;
        }
        long L = name_layer(s->names[b]);
        k[b] = (order_key){b, r, L >= 0 ? (double)L : b < first_numbered ? -1.0 : INFINITY};
    }
    qsort(k, nb, sizeof *k, key_cmp);
    /* group = rank among the kinds present */
    size_t ng = 0;
    for (size_t i = 0; i < nb; i++) {
        if (i > 0 && k[i].kind_rank != k[i - 1].kind_rank) ng++;
        order[i] = k[i].block;
        if (group) group[i] = ng;
    }
    if (ngroups) *ngroups = nb ? ng + 1 : 0;
    free(k);
    free(other);
    return 0;
}

/* ---- the heat map ---------------------------------------------------------------------- */
static int fail_file(const char *cmd, const char *dir, const char *name) {
    char p[4096];
    runtime_error(cmd, "cannot write '%s'", outdir_path(p, sizeof p, dir, name));
    return -1;
}

int write_js_heatmap(const char *cmd, const char *dir, const spec_result *s) {
    size_t nb = s->nblocks;
    char name[128], path[4096], title[300];
    snprintf(name, sizeof name, "%s_js.svg", s->model);
    size_t *order = malloc(nb * sizeof *order), *group = malloc(nb * sizeof *group);
    double *m = malloc(nb * nb * sizeof *m), *e = s->js_stderr ? malloc(nb * nb * sizeof *e) : NULL;
    char **labels = calloc(nb, sizeof *labels);
    const char **gnames = calloc(nb, sizeof *gnames);
    int *marked = calloc(nb, sizeof *marked);
    size_t ng = 0;
    int bad = !order || !group || !m || (s->js_stderr && !e) || !labels || !gnames || !marked ||
              figure_block_order(s, order, group, &ng);
    for (size_t i = 0; !bad && i < nb; i++) {
        size_t b = order[i];
        const char *zm = zero_mark(s, b);
        size_t L = strlen(s->names[b]) + strlen(zm) + 1;
        if (!(labels[i] = malloc(L))) { bad = 1; break; }
        snprintf(labels[i], L, "%s%s", s->names[b], zm);
        marked[i] = s->zero && s->zero[b];
        gnames[group[i]] = s->kinds[b];
        for (size_t j = 0; j < nb; j++) {
            m[i * nb + j] = s->js[b * nb + order[j]];
            if (e) e[i * nb + j] = s->js_stderr[b * nb + order[j]];
        }
    }
    int rc = -1;
    if (!bad) {
        char js0[64] = "n/a";
        if (isfinite(s->js0)) snprintf(js0, sizeof js0, "%.3f", s->js0);
        if (isfinite(s->js0) && isfinite(s->js0_stderr))
            snprintf(js0, sizeof js0, "%.3f ± %.3f", s->js0, s->js0_stderr);
        snprintf(title, sizeof title, "%s: JS distance between block spectra (%s grid), JS⁰ = %s; "
                 "blocks grouped by kind, then layer%s", s->model, js_grid_name(s->js_grid), js0,
                 s->n_zero ? "; red [zero]: numerically zero" : "");
        /* cells of ≥ 28 px so that "0.00" fits at a readable size; labels 11 px */
        double cell = nb <= 8 ? 48 : 28, font = 11;
        size_t maxlab = 0;
        for (size_t i = 0; i < nb; i++) maxlab = strlen(labels[i]) > maxlab ? strlen(labels[i]) : maxlab;
        double lab = 10 + 0.62 * font * (double)maxlab;
        double side = cell * (double)nb;
        double w = lab + side + 80, h = 24 + 1.2 * font + 6 + side + 10 + 0.55 * font * (double)maxlab;
        if (w < 520) w = 520; /* the title needs the room */
        svg_heatmap hm = {.title = title, .m = m, .rows = nb, .cols = nb,
                          .row_labels = (const char *const *)labels,
                          .col_labels = (const char *const *)labels, .vmin = 0, .vmax = 1,
                          .scale_label = "JS distance", .annotate = 1, .err = e,
                          .row_marked = marked, .group = group, .group_names = gnames,
                          .font = font};
        rc = svg_write_heatmap(outdir_path(path, sizeof path, dir, name), &hm, w, h);
    }
    for (size_t i = 0; labels && i < nb; i++) free(labels[i]);
    free(labels); free(gnames); free(marked); free(order); free(group); free(m); free(e);
    if (bad) { runtime_error(cmd, "out of memory"); return -1; }
    return rc ? fail_file(cmd, dir, name) : 0;
}

/* ---- densities on the grids JS compares ----------------------------------------------- */
/* Every block's smoothed density on the pooled grid of hb_spectra_js_matrix (docs of
 * hb_js_options): nodes mapped to u = x (linear) or asinh(x / c) with c = floor·max|x|
 * (symlog), grid from min u − 5σ to max u + 5σ, σ = sigma_rel·(range of u). The density is
 * in u, the variable JS compares. From the Ritz values in s->ritz (all probes). */
typedef struct shared_density {
    size_t ng;
    double *grid;     /* ng, in λ (the figure's axis maps it back to u) */
    double *dens;     /* nblocks x ng, density in u */
    double c;         /* symlog: the floor; 0: linear */
} shared_density;

static double to_u(double x, double c) { return c > 0 ? asinh(x / c) : x; }

static int shared_densities(const spec_result *s, int symlog, shared_density *out) {
    memset(out, 0, sizeof *out);
    size_t nb = s->nblocks, ng = OVERLAY_POINTS;
    double sig_rel = s->sigma_rel > 0 ? s->sigma_rel : 0.01;
    double floor_rel = s->symlog_floor_rel > 0 ? s->symlog_floor_rel : 1e-6;
    double amax = 0;
    for (size_t r = 0; r < s->nritz; r++)
        if (s->ritz[r * RITZ_COLS] >= 0) amax = fmax(amax, fabs(s->ritz[r * RITZ_COLS + 2]));
    double c = symlog ? (amax > 0 ? floor_rel * amax : 1) : 0;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t r = 0; r < s->nritz; r++) {
        if (s->ritz[r * RITZ_COLS] < 0) continue; /* the full Hessian is not compared */
        double u = to_u(s->ritz[r * RITZ_COLS + 2], c);
        lo = fmin(lo, u);
        hi = fmax(hi, u);
    }
    if (!(lo <= hi)) return 1; /* no Ritz values: nothing to draw */
    double sigma = sig_rel * (hi - lo);
    if (!(sigma > 0)) sigma = sig_rel * fmax(fabs(lo), fabs(hi));
    if (!(sigma > 0)) sigma = sig_rel;
    out->ng = ng;
    out->c = c;
    out->grid = malloc(ng * sizeof(double));
    out->dens = calloc(nb * ng, sizeof(double));
    double *ug = malloc(ng * sizeof(double));
    size_t *probes = calloc(nb, sizeof *probes);
    double *lastp = malloc(nb * sizeof(double));
    if (!out->grid || !out->dens || !ug || !probes || !lastp) {
        free(ug); free(probes); free(lastp); free(out->grid); free(out->dens);
        return -1;
    }
    double a = lo - 5 * sigma, b = hi + 5 * sigma;
    for (size_t g = 0; g < ng; g++) {
        ug[g] = a + (b - a) * (double)g / (double)(ng - 1);
        out->grid[g] = c > 0 ? c * sinh(ug[g]) : ug[g];
    }
    for (size_t i = 0; i < nb; i++) lastp[i] = -1;
    const double norm = 1 / (sigma * sqrt(2 * 3.14159265358979323846));
    for (size_t r = 0; r < s->nritz; r++) {
        const double *row = s->ritz + r * RITZ_COLS;
        if (row[0] < 0 || row[0] >= (double)nb) continue;
        size_t blk = (size_t)row[0];
        if (row[1] != lastp[blk]) { probes[blk]++; lastp[blk] = row[1]; }
        double u = to_u(row[2], c), wgt = row[3] * norm;
        double *d = out->dens + blk * ng;
        /* only the grid points within 8σ contribute more than exp(-32) */
        for (size_t g = 0; g < ng; g++) {
            double z = (ug[g] - u) / sigma;
            if (fabs(z) < 8) d[g] += wgt * exp(-0.5 * z * z);
        }
    }
    for (size_t i = 0; i < nb; i++)
        for (size_t g = 0; probes[i] && g < ng; g++) out->dens[i * ng + g] /= (double)probes[i];
    free(ug); free(probes); free(lastp);
    return 0;
}

int write_shared_overlay(const char *cmd, const char *dir, const spec_result *s) {
    size_t nb = s->nblocks;
    char name[128], path[4096], ftitle[300];
    snprintf(name, sizeof name, "%s_shared.svg", s->model);
    if (!s->ritz || nb == 0) return 0; /* no Ritz values (synthetic results): no figure */
    shared_density sd[2];
    int got[2];
    for (int k = 0; k < 2; k++) {
        got[k] = shared_densities(s, k, &sd[k]);
        if (got[k] < 0) {
            if (k) { free(sd[0].grid); free(sd[0].dens); }
            runtime_error(cmd, "out of memory");
            return -1;
        }
    }
    svg_series *se = calloc(2 * nb, sizeof *se);
    char (*labels)[80] = calloc(nb, sizeof *labels);
    size_t *order = malloc(nb * sizeof *order), *group = malloc(nb * sizeof *group);
    const char **color = calloc(nb, sizeof *color); /* per block: its kind's, as in the heat map */
    if (order && group && color && figure_block_order(s, order, group, NULL) == 0)
        for (size_t i = 0; i < nb; i++) color[order[i]] = svg_palette(group[i]);
    else { free(se); se = NULL; }
    svg_lineplot pl[2];
    char titles[2][200], notes[2][200];
    int rc = -1;
    if (se && labels) {
        /* series in the heat map's order (so the legend lists the kinds in that order);
         * legend: one entry per kind (its first block), one for the zero blocks */
        int zero_labelled = 0;
        for (size_t i = 0; i < nb; i++) {
            size_t b = order[i];
            int z = s->zero && s->zero[b], first = 1;
            for (size_t j = 0; j < i && first; j++)
                if (!strcmp(s->kinds[order[j]], s->kinds[b]) && !(s->zero && s->zero[order[j]])) first = 0;
            if (z && !zero_labelled) { snprintf(labels[i], sizeof labels[i], "numerically zero"); zero_labelled = 1; }
            else if (!z && first) snprintf(labels[i], sizeof labels[i], "%s", s->kinds[b]);
        }
        size_t np = 0;
        for (int k = 0; k < 2; k++) {
            if (got[k]) continue;
            for (size_t i = 0; i < nb; i++) {
                size_t b = order[i];
                int z = s->zero && s->zero[b];
                se[k * nb + i] = (svg_series){.label = labels[i][0] ? labels[i] : NULL,
                                              .x = sd[k].grid, .y = sd[k].dens + b * sd[k].ng,
                                              .n = sd[k].ng, .dashed = z,
                                              .color = z ? "#000000" : color[b]};
            }
            int used = s->js_grid == k;
            if (k) {
                snprintf(titles[k], sizeof titles[k], "symlog grid: u = asinh(λ / c), c = %.2g%s",
                         sd[k].c, used ? " — the grid of this run's JS⁰" : " (--js-grid symlog)");
            } else {
                snprintf(titles[k], sizeof titles[k], "linear grid (pooled λ range ± 5σ)%s",
                         used ? " — the grid of this run's JS⁰" : " (--js-grid linear)");
            }
            snprintf(notes[k], sizeof notes[k], "%zu blocks; smoothing σ = %g of the range; "
                     "density in %s, log scale", nb, s->sigma_rel > 0 ? s->sigma_rel : 0.01,
                     k ? "u" : "λ");
            pl[np++] = (svg_lineplot){.title = titles[k], .xlabel = k ? "λ (symmetric log axis)" : "λ",
                                      .ylabel = "density", .logy = 1, .series = se + k * nb,
                                      .nseries = nb, .legend = 2, .hline = NAN,
                                      .max_decades = OVERLAY_DECADES, .symlog_x = k ? sd[k].c : 0,
                                      .note = notes[k]};
        }
        snprintf(ftitle, sizeof ftitle, "%s: every block's density on the shared grids that JS "
                 "compares (colour: block kind)", s->model);
        rc = svg_write_lineplots(outdir_path(path, sizeof path, dir, name), ftitle, pl, np, 1, 1100, 380);
    }
    for (int k = 0; k < 2; k++) if (!got[k]) { free(sd[k].grid); free(sd[k].dens); }
    int oom = !se || !labels;
    free(se); free(labels); free(order); free(group); free(color);
    if (oom) { runtime_error(cmd, "out of memory"); return -1; }
    return rc ? fail_file(cmd, dir, name) : 0;
}

/* ---- one panel per block ----------------------------------------------------------------- */
int write_block_panels(const char *cmd, const char *dir, const spec_result *s) {
    char name[128], path[4096];
    size_t np = s->nblocks + (s->has_full ? 1 : 0);
    svg_lineplot *pl = calloc(np, sizeof *pl);
    svg_series *se = calloc(np, sizeof *se);
    char (*titles)[160] = calloc(np, sizeof *titles);
    if (!pl || !se || !titles) { free(pl); free(se); free(titles); runtime_error(cmd, "out of memory"); return -1; }
    size_t k = 0;
    if (s->has_full) {
        snprintf(titles[k], sizeof titles[k], "full Hessian");
        se[k] = (svg_series){.label = "full", .x = s->grid, .y = s->full_density, .n = s->ngrid};
        pl[k] = (svg_lineplot){.title = titles[k], .xlabel = "eigenvalue", .ylabel = "density",
                               .logy = 1, .series = &se[k], .nseries = 1, .hline = NAN,
                               .max_decades = 6};
        k++;
    }
    double amax = 0;
    for (size_t b = 0; b < s->nblocks; b++) amax = fmax(amax, fmax(fabs(s->lmin[b]), fabs(s->lmax[b])));
    for (size_t b = 0; b < s->nblocks; b++, k++) {
        snprintf(titles[k], sizeof titles[k], "%s (%lld)%s", s->names[b], (long long)s->numel[b],
                 zero_mark(s, b));
        if (s->own_density) /* each block on its own range: readable when scales differ */
            se[k] = (svg_series){.x = s->own_grid + b * s->ngrid, .y = s->own_density + b * s->ngrid,
                                 .n = s->ngrid};
        else
            se[k] = (svg_series){.x = s->grid, .y = s->density + b * s->ngrid, .n = s->ngrid};
        pl[k] = (svg_lineplot){.title = titles[k], .xlabel = "eigenvalue (own range)",
                               .ylabel = "density", .logy = 1, .series = &se[k], .nseries = 1,
                               .hline = NAN, .max_decades = 6};
        if (s->zero && s->zero[b]) pl[k].nseries = 0; /* drawn as a note below */
    }
    snprintf(path, sizeof path, "%s", "");
    char ftitle[700];
    snprintf(ftitle, sizeof ftitle, "%s: Hessian spectra per block, each on its own range (SLQ, %s)",
             s->model, s->source);
    snprintf(name, sizeof name, "%s_spectra.svg", s->model);
    /* svg_write_lineplots cannot mix notes in: the same layout, by hand */
    FILE *f = outdir_fopen(outdir_path(path, sizeof path, dir, name));
    int rc = -1;
    if (f) {
        const double pw = 300, ph = 210, top = 24;
        size_t cols = np < 4 ? (np ? np : 1) : 4, rows = (np + cols - 1) / cols;
        svg_begin(f, pw * (double)cols, ph * (double)(rows ? rows : 1) + top, ftitle);
        fprintf(f, "<text x=\"%.1f\" y=\"17\" text-anchor=\"middle\" font-size=\"14\">",
                pw * (double)cols / 2);
        svg_escape(f, ftitle);
        fputs("</text>\n", f);
        for (size_t i = 0; i < np; i++) {
            double x = pw * (double)(i % cols), y = top + ph * (double)(i / cols);
            size_t b = i - (s->has_full ? 1 : 0);
            if (pl[i].nseries) { svg_draw_lines(f, x, y, pw, ph, &pl[i]); continue; }
            char l1[96], l2[96], l3[96];
            double bm = fmax(fabs(s->lmin[b]), fabs(s->lmax[b]));
            snprintf(l1, sizeof l1, "numerically zero: max |λ| = %.2g", bm);
            snprintf(l2, sizeof l2, "≤ %.2g × the largest block's %.3g", s->zero_tol, amax);
            snprintf(l3, sizeof l3, "a spike at 0 on the shared grid");
            const char *lines[] = {l1, l2, l3};
            svg_draw_note(f, x, y, pw, ph, titles[i], lines, 3);
        }
        svg_end(f);
        int bad = ferror(f);
        rc = fclose(f) != 0 || bad ? -1 : 0;
    }
    free(pl); free(se); free(titles);
    return rc ? fail_file(cmd, dir, name) : 0;
}
