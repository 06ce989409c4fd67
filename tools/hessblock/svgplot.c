/* svgplot: see svgplot.h. */
#include "svgplot.h"

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
    double lo, hi;   /* in transformed units (log10 for log axes) */
} axis;

static int usable(double v, int log) { return isfinite(v) && (!log || v > 0); }
static double tr(double v, int log) { return log ? log10(v) : v; }

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
    return p0 + (tr(v, a->log) - a->lo) / (a->hi - a->lo) * (p1 - p0);
}

static void fmt_tick(char *buf, size_t n, double v, int log) {
    if (log) {
        double e = round(log10(v));
        if (fabs(log10(v) - e) < 1e-9) { snprintf(buf, n, "1e%d", (int)e); return; }
    }
    if (fabs(v) < 1e-14) v = 0;
    snprintf(buf, n, "%.4g", v);
}

/* Calls tick(value) for each tick inside the axis; returns the count. */
static size_t ticks_n(const axis *a, double *out, size_t max, int target);
static size_t ticks(const axis *a, double *out, size_t max) { return ticks_n(a, out, max, 5); }

static size_t ticks_n(const axis *a, double *out, size_t max, int target) {
    size_t n = 0;
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
    const double ml = 62, mr = 12, mt = 24, mb = 40;
    double px0 = x + ml, px1 = x + w - mr, py0 = y + h - mb, py1 = y + mt;
    axis ax = {p->logx, 0, 0}, ay = {p->logy, 0, 0};
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (size_t s = 0; s < p->nseries; s++) {
        const svg_series *se = &p->series[s];
        for (size_t i = 0; i < se->n; i++) {
            if (!usable(se->x[i], ax.log) || !usable(se->y[i], ay.log)) continue;
            double tx = tr(se->x[i], ax.log), ty = tr(se->y[i], ay.log);
            xlo = fmin(xlo, tx); xhi = fmax(xhi, tx);
            ylo = fmin(ylo, ty); yhi = fmax(yhi, ty);
        }
    }
    if (isfinite(p->hline) && usable(p->hline, ay.log) && ylo <= yhi) {
        ylo = fmin(ylo, tr(p->hline, ay.log));
        yhi = fmax(yhi, tr(p->hline, ay.log));
    }
    if (ay.log && p->max_decades > 0 && yhi - ylo > p->max_decades) ylo = yhi - p->max_decades;
    axis_fit(&ax, xlo, xhi);
    axis_fit(&ay, ylo, yhi);

    fprintf(f, "<g>\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
               "fill=\"none\" stroke=\"#333\"/>\n", px0, py1, px1 - px0, py0 - py1);
    if (p->title) text(f, (px0 + px1) / 2, y + 15, "middle", 12, 0, p->title);
    double tv[64];
    char buf[32];
    size_t nt = ticks_n(&ax, tv, 64, 4);
    for (size_t i = 0; i < nt; i++) {
        double px = map(&ax, tv[i], px0, px1);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                px, py0, px, py1);
        fmt_tick(buf, sizeof buf, tv[i], ax.log);
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
    if (isfinite(p->hline) && usable(p->hline, ay.log)) {
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
        const char *col = svg_palette(s);
        int open = 0;
        for (size_t i = 0; i < se->n; i++) {
            if (!usable(se->x[i], ax.log) || !usable(se->y[i], ay.log)) {
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
                if (!usable(se->x[i], ax.log) || !usable(se->y[i], ay.log)) continue;
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n",
                        map(&ax, se->x[i], px0, px1), map(&ay, se->y[i], py0, py1), col);
            }
    }
    fputs("</g>\n", f);
    if (p->legend) {
        size_t nl = 0, maxlen = 0;
        for (size_t s = 0; s < p->nseries; s++)
            if (p->series[s].label) {
                nl++;
                size_t l = strlen(p->series[s].label);
                if (l > maxlen) maxlen = l;
            }
        if (nl) {
            double lw = 30 + 6.2 * (double)maxlen, lh = 14 * (double)nl + 6;
            double lx = px1 - lw - 4, ly = py1 + 4;
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"white\" "
                       "fill-opacity=\"0.85\" stroke=\"#999\"/>\n", lx, ly, lw, lh);
            size_t k = 0;
            for (size_t s = 0; s < p->nseries; s++) {
                if (!p->series[s].label) continue;
                double ty = ly + 13 + 14 * (double)k++;
                fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                           "stroke-width=\"2\"%s/>\n", lx + 4, ty - 4, lx + 22, ty - 4,
                        svg_palette(s), p->series[s].dashed ? " stroke-dasharray=\"5,3\"" : "");
                text(f, lx + 26, ty, "start", 10, 0, p->series[s].label);
            }
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

void svg_draw_heatmap(FILE *f, double x, double y, double w, double h, const svg_heatmap *hm) {
    double vmin = hm->vmin, vmax = hm->vmax;
    if (!(vmin < vmax)) {
        vmin = INFINITY;
        vmax = -INFINITY;
        for (size_t i = 0; i < hm->rows * hm->cols; i++)
            if (isfinite(hm->m[i])) { vmin = fmin(vmin, hm->m[i]); vmax = fmax(vmax, hm->m[i]); }
        if (!(vmin < vmax)) { vmin = isfinite(vmin) ? vmin : 0; vmax = vmin + 1; }
    }
    double fs = hm->rows > 24 ? 7 : 9;
    double ml = 10 + 0.62 * fs * (double)max_label(hm->row_labels, hm->rows);
    double mb = 10 + 0.5 * fs * (double)max_label(hm->col_labels, hm->cols);
    if (ml > 0.4 * w) ml = 0.4 * w;
    if (mb > 0.4 * h) mb = 0.4 * h;
    double mt = 24, mr = 80;
    double gx = x + ml, gy = y + mt, gw = w - ml - mr, gh = h - mt - mb;
    double cw = gw / (double)hm->cols, ch = gh / (double)hm->rows;
    char col[16], buf[32];
    fputs("<g>\n", f);
    if (hm->title) text(f, gx + gw / 2, y + 15, "middle", 12, 0, hm->title);
    for (size_t r = 0; r < hm->rows; r++)
        for (size_t c = 0; c < hm->cols; c++) {
            double v = hm->m[r * hm->cols + c];
            colormap((v - vmin) / (vmax - vmin), col, sizeof col);
            fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\">"
                       "<title>", gx + cw * (double)c, gy + ch * (double)r, cw + 0.05, ch + 0.05, col);
            if (hm->row_labels && hm->col_labels) {
                svg_escape(f, hm->row_labels[r]);
                fputs(" / ", f);
                svg_escape(f, hm->col_labels[c]);
                fputs(": ", f);
            }
            if (isfinite(v)) fprintf(f, "%.4g", v); else fputs("n/a", f);
            fputs("</title></rect>\n", f);
            if (hm->annotate && cw > 22 && ch > 12) {
                double t = (v - vmin) / (vmax - vmin);
                snprintf(buf, sizeof buf, isfinite(v) ? "%.2f" : "n/a", v);
                fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"8\" "
                           "fill=\"%s\">%s</text>\n", gx + cw * ((double)c + 0.5),
                        gy + ch * ((double)r + 0.5) + 3, t > 0.6 ? "black" : "white", buf);
            }
        }
    for (size_t r = 0; hm->row_labels && r < hm->rows; r++)
        text(f, gx - 3, gy + ch * ((double)r + 0.5) + fs / 3, "end", fs, 0, hm->row_labels[r]);
    for (size_t c = 0; hm->col_labels && c < hm->cols; c++) {
        double tx = gx + cw * ((double)c + 0.5), ty = gy + gh + 4;
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"%.1f\" "
                   "transform=\"rotate(-60 %.1f %.1f)\">", tx, ty, fs, tx, ty);
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
    axis a = {0, vmin, vmax};
    double tv[16];
    size_t nt = ticks(&a, tv, 16);
    for (size_t i = 0; i < nt; i++) {
        double py = gy + gh * (1 - (tv[i] - vmin) / (vmax - vmin));
        fmt_tick(buf, sizeof buf, tv[i], 0);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n",
                bx + bw, py, bx + bw + 3, py);
        text(f, bx + bw + 5, py + 3, "start", 9, 0, buf);
    }
    if (hm->scale_label) text(f, bx + bw / 2, gy + gh + 14, "middle", 9, 0, hm->scale_label);
    fputs("</g>\n", f);
}

int svg_write_lineplots(const char *path, const char *title, const svg_lineplot *panels,
                        size_t n, size_t cols, double panel_w, double panel_h) {
    FILE *f = fopen(path, "w");
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
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    svg_begin(f, w, h, hm->title);
    svg_draw_heatmap(f, 0, 0, w, h, hm);
    svg_end(f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return -1;
    return 0;
}
