/* svgplot: see svgplot.h. */
#include "svgplot.h"

#include "cli.h" /* outdir_fopen: a silenced rank writes nothing */

#include <math.h>
#include <string.h>

static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

const char *svg_palette(size_t i) { return palette[i % (sizeof palette / sizeof *palette)]; }

void svg_escape(FILE *f, const char *s) {
    if (!s) return;
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            /* control characters are not allowed in XML 1.0 */
            if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n') fputc('?', f);
            else fputc(*s, f);
        }
    }
}

void svg_begin(FILE *f, double width, double height, const char *title) {
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"11\">\n",
            width, height, width, height);
    fputs("<title>", f);
    svg_escape(f, title ? title : "hessblock");
    fputs("</title>\n", f);
    fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"white\"/>\n",
            width, height);
}

void svg_end(FILE *f) { fputs("</svg>\n", f); }

static void text(FILE *f, double x, double y, const char *anchor, double size, double rot,
                 const char *s) {
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%.1f\"", x, y,
            anchor, size);
    if (rot != 0) fprintf(f, " transform=\"rotate(%.0f %.1f %.1f)\"", rot, x, y);
    fputc('>', f);
    svg_escape(f, s);
    fputs("</text>\n", f);
}

/* ---- axes ------------------------------------------------------------------------ */
typedef struct axis {
    int log;
    double c;        /* > 0: symmetric log, u = asinh(v / c) */
    double lo, hi;   /* in transformed units (log10 for log axes, u for symlog) */
} axis;

static int usable(const axis *a, double v) { return isfinite(v) && (!a->log || v > 0); }
static double tr(const axis *a, double v) {
    return a->log ? log10(v) : a->c > 0 ? asinh(v / a->c) : v;
}

static double nice_step(double range, int target) {
    double raw = range / target;
    double p = pow(10, floor(log10(raw)));
    double m = raw / p;
    double s = m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10;
    return s * p;
}

static void axis_fit(axis *a, double lo, double hi) {
    if (!(lo <= hi)) { lo = 0; hi = 1; }  /* no usable data */
    if (hi - lo < 1e-12 * (fabs(lo) + fabs(hi)) || hi == lo) {
        double d = a->log ? 0.5 : (lo == 0 ? 1 : 0.1 * fabs(lo));
        lo -= d;
        hi += d;
    }
    double pad = 0.03 * (hi - lo);
    lo -= pad;
    hi += pad;
    a->lo = lo;
    a->hi = hi;
}

static double map(const axis *a, double v, double p0, double p1) {
    return p0 + (tr(a, v) - a->lo) / (a->hi - a->lo) * (p1 - p0);
}

static void fmt_tick(char *buf, size_t n, double v, int log) {
    if (log && v != 0) {
        double e = round(log10(fabs(v)));
        if (fabs(log10(fabs(v)) - e) < 1e-9) {
            if (e >= 0 && e <= 4) snprintf(buf, n, "%.0f", v); /* 1, 10 … 10000 read better */
            else snprintf(buf, n, "%s1e%d", v < 0 ? "-" : "", (int)e);
            return;
        }
    }
    if (fabs(v) < 1e-14) v = 0;
    snprintf(buf, n, "%.4g", v);
}

static size_t ticks_n(const axis *a, double *out, size_t max, int target);
static size_t ticks(const axis *a, double *out, size_t max) { return ticks_n(a, out, max, 5); }

/* Symlog ticks: 0 and ±10^k with 10^k ≥ c inside the axis, every `every` decades so that
 * at most ~10 are drawn. */
static size_t ticks_symlog(const axis *a, double *out, size_t max) {
    double vlo = a->c * sinh(a->lo), vhi = a->c * sinh(a->hi);
    double top = fmax(fabs(vlo), fabs(vhi));
    int k0 = (int)ceil(log10(a->c) - 1e-9), k1 = (int)floor(log10(top) + 1e-9);
    if (k1 < k0) k1 = k0;
    int decades = (k1 - k0 + 1) * ((vlo < 0) + (vhi > 0));
    int every = decades > 10 ? (decades + 9) / 10 : 1;
    size_t n = 0;
    for (int k = k1; k >= k0 && n < max; k -= every) /* negative side, ascending */
        if (-pow(10, k) >= vlo) out[n++] = -pow(10, k);
    if (vlo <= 0 && vhi >= 0 && n < max) out[n++] = 0;
    int first = k0 + (k1 - k0) % every; /* the same decades as on the negative side */
    for (int k = first; k <= k1 && n < max; k += every)
        if (pow(10, k) <= vhi) out[n++] = pow(10, k);
    return n;
}

static size_t ticks_n(const axis *a, double *out, size_t max, int target) {
    size_t n = 0;
    if (a->c > 0) return ticks_symlog(a, out, max);
    if (a->log) {
        double d0 = ceil(a->lo - 1e-9), d1 = floor(a->hi + 1e-9);
        double span = d1 - d0;
        double every = span > 8 ? ceil(span / 6) : 1;
        for (double d = d0; d <= d1 && n < max; d += every) out[n++] = pow(10, d);
        if (n < 2) { /* less than a decade: 1-2-5 ticks */
            n = 0;
            for (double d = floor(a->lo); d <= a->hi && n < max; d++) {
                static const double m[] = {1, 2, 5};
                for (int k = 0; k < 3 && n < max; k++) {
                    double v = m[k] * pow(10, d);
                    if (log10(v) >= a->lo - 1e-9 && log10(v) <= a->hi + 1e-9) out[n++] = v;
                }
            }
        }
    } else {
        double step = nice_step(a->hi - a->lo, target);
        for (double v = ceil(a->lo / step) * step; v <= a->hi + 1e-9 * step && n < max;
             v += step)
            out[n++] = v;
    }
    return n;
}

void svg_draw_lines(FILE *f, double x, double y, double w, double h, const svg_lineplot *p) {
    const double ml = 62, mt = 24, mb = 40;
    size_t nlab = 0, maxlab = 0;
    for (size_t s = 0; s < p->nseries; s++)
        if (p->series[s].label) {
            nlab++;
            if (strlen(p->series[s].label) > maxlab) maxlab = strlen(p->series[s].label);
        }
    double legw = 32 + 6.6 * (double)maxlab;
    /* legend 2: outside, right of the plot (many series would hide the curves) */
    double mr = p->legend == 2 && nlab ? legw + 16 : 12;
    double px0 = x + ml, px1 = x + w - mr, py0 = y + h - mb, py1 = y + mt;
    axis ax = {p->logx, p->logx ? 0 : p->symlog_x, 0, 0}, ay = {p->logy, 0, 0, 0};
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (size_t s = 0; s < p->nseries; s++) {
        const svg_series *se = &p->series[s];
        for (size_t i = 0; i < se->n; i++) {
            if (!usable(&ax, se->x[i]) || !usable(&ay, se->y[i])) continue;
            double tx = tr(&ax, se->x[i]), ty = tr(&ay, se->y[i]);
            xlo = fmin(xlo, tx); xhi = fmax(xhi, tx);
            ylo = fmin(ylo, ty); yhi = fmax(yhi, ty);
        }
    }
    if (isfinite(p->hline) && usable(&ay, p->hline) && ylo <= yhi) {
        ylo = fmin(ylo, tr(&ay, p->hline));
        yhi = fmax(yhi, tr(&ay, p->hline));
    }
    if (ay.log && p->max_decades > 0 && yhi - ylo > p->max_decades) ylo = yhi - p->max_decades;
    axis_fit(&ax, xlo, xhi);
    axis_fit(&ay, ylo, yhi);

    fprintf(f, "<g>\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
               "fill=\"none\" stroke=\"#333\"/>\n", px0, py1, px1 - px0, py0 - py1);
    if (p->title) text(f, (px0 + px1) / 2, y + 15, "middle", 12, 0, p->title);
    if (p->note) text(f, px0 + 4, py1 + 12, "start", 10, 0, p->note);
    double tv[64];
    char buf[32];
    size_t nt = ticks_n(&ax, tv, 64, 4);
    for (size_t i = 0; i < nt; i++) {
        double px = map(&ax, tv[i], px0, px1);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                px, py0, px, py1);
        fmt_tick(buf, sizeof buf, tv[i], ax.log || ax.c > 0);
        text(f, px, py0 + 13, "middle", 10, 0, buf);
    }
    nt = ticks(&ay, tv, 64);
    for (size_t i = 0; i < nt; i++) {
        double py = map(&ay, tv[i], py0, py1);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                px0, py, px1, py);
        fmt_tick(buf, sizeof buf, tv[i], ay.log);
        text(f, px0 - 4, py + 3, "end", 10, 0, buf);
    }
    if (p->xlabel) text(f, (px0 + px1) / 2, y + h - 8, "middle", 11, 0, p->xlabel);
    if (p->ylabel) text(f, x + 12, (py0 + py1) / 2, "middle", 11, -90, p->ylabel);
    if (isfinite(p->hline) && usable(&ay, p->hline)) {
        double py = map(&ay, p->hline, py0, py1);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\" "
                   "stroke-dasharray=\"2,3\"/>\n", px0, py, px1, py);
    }
    static unsigned clip_id = 0; /* unique within a file; deterministic across runs */
    clip_id++;
    fprintf(f, "<clipPath id=\"clip%u\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
               "height=\"%.1f\"/></clipPath>\n", clip_id, px0, py1, px1 - px0, py0 - py1);
    fprintf(f, "<g clip-path=\"url(#clip%u)\">\n", clip_id);
    for (size_t s = 0; s < p->nseries; s++) {
        const svg_series *se = &p->series[s];
        const char *col = se->color ? se->color : svg_palette(s);
        int open = 0;
        for (size_t i = 0; i < se->n; i++) {
            if (!usable(&ax, se->x[i]) || !usable(&ay, se->y[i])) {
                if (open) fputs("\"/>\n", f);
                open = 0;
                continue;
            }
            double px = map(&ax, se->x[i], px0, px1), py = map(&ay, se->y[i], py0, py1);
            if (!open) {
                fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s "
                           "points=\"", col, se->dashed ? " stroke-dasharray=\"5,3\"" : "");
                open = 1;
            }
            fprintf(f, "%.1f,%.1f ", px, py);
        }
        if (open) fputs("\"/>\n", f);
        if (se->markers)
            for (size_t i = 0; i < se->n; i++) {
                if (!usable(&ax, se->x[i]) || !usable(&ay, se->y[i])) continue;
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
                        map(&ax, se->x[i], px0, px1), map(&ay, se->y[i], py0, py1), col);
            }
    }
    fputs("</g>\n", f);
    if (p->legend && nlab) {
        double lw = legw, lh = 14 * (double)nlab + 6;
        double lx = p->legend == 2 ? px1 + 12 : px1 - lw - 4, ly = py1 + (p->note ? 18 : 4);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"white\" "
                   "fill-opacity=\"0.85\" stroke=\"#999\"/>\n", lx, ly, lw, lh);
        size_t k = 0;
        for (size_t s = 0; s < p->nseries; s++) {
            if (!p->series[s].label) continue;
            double ty = ly + 13 + 14 * (double)k++;
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                       "stroke-width=\"2\"%s/>\n", lx + 4, ty - 4, lx + 22, ty - 4,
                    p->series[s].color ? p->series[s].color : svg_palette(s),
                    p->series[s].dashed ? " stroke-dasharray=\"5,3\"" : "");
            text(f, lx + 26, ty, "start", 10, 0, p->series[s].label);
        }
    }
    fputs("</g>\n", f);
}

/* ---- heat maps ---------------------------------------------------------------------- */
static void colormap(double t, char *buf, size_t n) {
    /* viridis, 5 stops, linear interpolation */
    static const double st[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140},
                                    {94, 201, 98}, {253, 231, 37}};
    if (!isfinite(t)) { snprintf(buf, n, "#cccccc"); return; }
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double s = t * 4;
    int i = (int)floor(s);
    if (i >= 4) i = 3;
    double u = s - i;
    int c[3];
    for (int k = 0; k < 3; k++) c[k] = (int)lround(st[i][k] + u * (st[i + 1][k] - st[i][k]));
    snprintf(buf, n, "#%02x%02x%02x", c[0], c[1], c[2]);
}

static size_t max_label(const char *const *l, size_t n) {
    size_t m = 0;
    for (size_t i = 0; l && i < n; i++)
        if (l[i] && strlen(l[i]) > m) m = strlen(l[i]);
    return m;
}

/* Cells are <rect class="cell" data-row=R data-col=C> in row-major order, row labels
 * <text class="rowlabel">, so a test can read the order and count the cells. */
void svg_draw_heatmap(FILE *f, double x, double y, double w, double h, const svg_heatmap *hm) {
    double vmin = hm->vmin, vmax = hm->vmax;
    if (!(vmin < vmax)) {
        vmin = INFINITY;
        vmax = -INFINITY;
        for (size_t i = 0; i < hm->rows * hm->cols; i++)
            if (isfinite(hm->m[i])) { vmin = fmin(vmin, hm->m[i]); vmax = fmax(vmax, hm->m[i]); }
        if (!(vmin < vmax)) { vmin = isfinite(vmin) ? vmin : 0; vmax = vmin + 1; }
    }
    double fs = hm->font > 0 ? hm->font : 9;
    double ml = 10 + 0.62 * fs * (double)max_label(hm->row_labels, hm->rows);
    double mb = 10 + 0.55 * fs * (double)max_label(hm->col_labels, hm->cols);
    if (ml > 0.45 * w) ml = 0.45 * w;
    if (mb > 0.45 * h) mb = 0.45 * h;
    double mt = hm->group ? 24 + 1.2 * fs + 6 : 24; /* group names: one line above the map */
    double mr = 80;
    double gx = x + ml, gy = y + mt, gw = w - ml - mr, gh = h - mt - mb;
    double cw = gw / (double)hm->cols, ch = gh / (double)hm->rows;
    char col[16], buf[32];
    fputs("<g>\n", f);
    if (hm->title) text(f, gx + gw / 2, y + 15, "middle", 12, 0, hm->title);
    /* values where they fit: two decimals at ≥ 0.55·cell height, ≥ 4 characters wide */
    double afs = fmin(ch * 0.5, cw / 2.6);
    if (afs > 11) afs = 11;
    int annotate = hm->annotate && afs >= 6.5;
    for (size_t r = 0; r < hm->rows; r++)
        for (size_t c = 0; c < hm->cols; c++) {
            double v = hm->m[r * hm->cols + c];
            colormap((v - vmin) / (vmax - vmin), col, sizeof col);
            fprintf(f, "<rect class=\"cell\" data-row=\"%zu\" data-col=\"%zu\" x=\"%.2f\" y=\"%.2f\" "
                       "width=\"%.2f\" height=\"%.2f\" fill=\"%s\"><title>", r, c,
                    gx + cw * (double)c, gy + ch * (double)r, cw + 0.05, ch + 0.05, col);
            if (hm->row_labels && hm->col_labels) {
                svg_escape(f, hm->row_labels[r]);
                fputs(" / ", f);
                svg_escape(f, hm->col_labels[c]);
                fputs(": ", f);
            }
            if (isfinite(v)) fprintf(f, "%.4g", v); else fputs("n/a", f);
            if (hm->err && isfinite(hm->err[r * hm->cols + c]) && r != c)
                fprintf(f, " ± %.2g", hm->err[r * hm->cols + c]);
            fputs("</title></rect>\n", f);
            if (annotate) {
                double t = (v - vmin) / (vmax - vmin);
                snprintf(buf, sizeof buf, isfinite(v) ? "%.2f" : "n/a", v);
                fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"%.1f\" "
                           "fill=\"%s\">%s</text>\n", gx + cw * ((double)c + 0.5),
                        gy + ch * ((double)r + 0.5) + afs * 0.35, afs, t > 0.6 ? "black" : "white",
                        buf);
            }
        }
    if (hm->group) { /* white separators between groups, group names along the top */
        size_t start = 0;
        for (size_t r = 1; r <= hm->rows; r++) {
            if (r < hm->rows && hm->group[r] == hm->group[start]) continue;
            double p0 = (double)start, p1 = (double)r;
            if (r < hm->rows) {
                fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"white\" "
                           "stroke-width=\"2\"/>\n", gx, gy + ch * p1, gx + gw, gy + ch * p1);
                fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"white\" "
                           "stroke-width=\"2\"/>\n", gx + cw * p1, gy, gx + cw * p1, gy + gh);
            }
            const char *gname = hm->group_names ? hm->group_names[hm->group[start]] : NULL;
            double span = cw * (p1 - p0);
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n",
                    gx + cw * p0 + 1, gy - 3, gx + cw * p1 - 1, gy - 3);
            /* the name if it fits over its columns (else its tooltip-free initial) */
            if (gname) {
                double need = 0.6 * fs * (double)strlen(gname);
                fprintf(f, "<text class=\"group\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                           "font-size=\"%.1f\">", gx + cw * (p0 + p1) / 2, gy - 6,
                        need <= span ? fs : fmax(6, fs * span / need));
                svg_escape(f, gname);
                fputs("</text>\n", f);
            }
            start = r;
        }
    }
    for (size_t r = 0; hm->row_labels && r < hm->rows; r++) {
        double ty = gy + ch * ((double)r + 0.5) + fs / 3;
        fprintf(f, "<text class=\"rowlabel\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
                   "font-size=\"%.1f\"%s>", gx - 3, ty, fs,
                hm->row_marked && hm->row_marked[r] ? " fill=\"#c00000\"" : "");
        svg_escape(f, hm->row_labels[r]);
        fputs("</text>\n", f);
    }
    for (size_t c = 0; hm->col_labels && c < hm->cols; c++) {
        double tx = gx + cw * ((double)c + 0.5) + fs / 3, ty = gy + gh + 4;
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"%.1f\" "
                   "transform=\"rotate(-60 %.1f %.1f)\"%s>", tx, ty, fs, tx, ty,
                hm->row_marked && hm->rows == hm->cols && hm->row_marked[c] ? " fill=\"#c00000\"" : "");
        svg_escape(f, hm->col_labels[c]);
        fputs("</text>\n", f);
    }
    /* colour scale */
    double bx = x + w - mr + 14, bw = 14;
    int steps = 40;
    for (int i = 0; i < steps; i++) {
        colormap((i + 0.5) / steps, col, sizeof col);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.2f\" width=\"%.1f\" height=\"%.2f\" fill=\"%s\"/>\n",
                bx, gy + gh * (1 - (double)(i + 1) / steps), bw, gh / steps + 0.05, col);
    }
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
               "stroke=\"#333\"/>\n", bx, gy, bw, gh);
    axis a = {0, 0, vmin, vmax};
    double tv[16];
    size_t nt = ticks(&a, tv, 16);
    for (size_t i = 0; i < nt; i++) {
        double py = gy + gh * (1 - (tv[i] - vmin) / (vmax - vmin));
        fmt_tick(buf, sizeof buf, tv[i], 0);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n",
                bx + bw, py, bx + bw + 3, py);
        text(f, bx + bw + 5, py + 3, "start", 10, 0, buf);
    }
    if (hm->scale_label) text(f, bx + bw / 2, gy + gh + 14, "middle", 10, 0, hm->scale_label);
    fputs("</g>\n", f);
}

void svg_draw_note(FILE *f, double x, double y, double w, double h, const char *title,
                   const char *const *lines, size_t nlines) {
    const double ml = 62, mr = 12, mt = 24, mb = 40;
    fprintf(f, "<g>\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#f4f4f4\" "
               "stroke=\"#999\" stroke-dasharray=\"4,3\"/>\n", x + ml, y + mt, w - ml - mr, h - mt - mb);
    if (title) text(f, x + ml + (w - ml - mr) / 2, y + 15, "middle", 12, 0, title);
    for (size_t i = 0; i < nlines; i++)
        text(f, x + ml + (w - ml - mr) / 2, y + mt + (h - mt - mb) / 2 + 14 * ((double)i - 0.5 * (double)(nlines - 1)) + 4,
             "middle", 10, 0, lines[i]);
    fputs("</g>\n", f);
}

int svg_write_lineplots(const char *path, const char *title, const svg_lineplot *panels,
                        size_t n, size_t cols, double panel_w, double panel_h) {
    FILE *f = outdir_fopen(path);
    if (!f) return -1;
    if (cols == 0) cols = 1;
    if (cols > n) cols = n ? n : 1;
    size_t rows = (n + cols - 1) / cols;
    double top = title ? 24 : 0;
    svg_begin(f, panel_w * (double)cols, panel_h * (double)(rows ? rows : 1) + top, title);
    if (title) text(f, panel_w * (double)cols / 2, 17, "middle", 14, 0, title);
    for (size_t i = 0; i < n; i++)
        svg_draw_lines(f, panel_w * (double)(i % cols), top + panel_h * (double)(i / cols),
                       panel_w, panel_h, &panels[i]);
    svg_end(f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return -1;
    return 0;
}

int svg_write_heatmap(const char *path, const svg_heatmap *hm, double w, double h) {
    FILE *f = outdir_fopen(path);
    if (!f) return -1;
    svg_begin(f, w, h, hm->title);
    svg_draw_heatmap(f, 0, 0, w, h, hm);
    svg_end(f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return -1;
    return 0;
}
