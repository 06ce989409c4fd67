/* report.html (issue 15.5): one self-contained page. It opens with a headline computed
 * from the numbers of the run (nothing in it is written in advance: the ranking, the
 * verdict against the expectation of docs/results.md and the margins are all derived
 * here), then the tables, then every figure inlined as SVG. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "results.h"
#include "svgplot.h"

/* The thresholds of the verdicts (docs/cli.md, "report.html"). */
#define Z_CLEAR 2.0       /* a difference is clear beyond 2 combined standard errors */
#define GAP_LARGE 0.5     /* SGD/Adam gap "large": Adam's final loss ≤ half of SGD's */
#define QUAD_CLEAR 2.0    /* quadratics: "clearly fewer" = at least 2× fewer iterations */

static void esc(FILE *f, const char *s) { svg_escape(f, s); }

static void html_num(FILE *f, const char *fmt, double v) {
    if (isfinite(v)) fprintf(f, fmt, v);
    else fputs("n/a", f);
}

/* "0.2990 ± 0.0014" (the error only when it was estimated). */
static void pm(FILE *f, double v, double se) {
    html_num(f, "%.4f", v);
    if (isfinite(v) && isfinite(se)) fprintf(f, " ± %.4f", se);
}

static const train_cmp *find_train(const train_cmp *t, size_t n, const char *model) {
    for (size_t i = 0; i < n; i++) if (!strcmp(t[i].model, model)) return &t[i];
    return NULL;
}

/* The transformer of the study: the expectation of docs/results.md is about it. */
static int is_transformer(const char *model) { return !strcmp(model, "gpt"); }

/* ---- the headline ------------------------------------------------------------------------ */
static int by_js0_desc(const void *a, const void *b) {
    const spec_result *x = *(const spec_result *const *)a, *y = *(const spec_result *const *)b;
    double u = isfinite(x->js0) ? x->js0 : -INFINITY, v = isfinite(y->js0) ? y->js0 : -INFINITY;
    return u > v ? -1 : u < v;
}

/* JS⁰ ranking and the verdict against "the transformer is more heterogeneous". */
static void headline_js(FILE *f, const spec_result *specs, size_t nspec) {
    const spec_result *r[16];
    size_t n = nspec < 16 ? nspec : 16;
    for (size_t i = 0; i < n; i++) r[i] = &specs[i];
    qsort(r, n, sizeof *r, by_js0_desc);
    fputs("<p class=\"finding\" id=\"finding-js\"><b>Block heterogeneity (JS⁰", f);
    if (r[0]->js_grid) fprintf(f, ", %s grid", js_grid_name(r[0]->js_grid));
    fputs(", ± bootstrap standard error over probes):</b> <b>", f);
    esc(f, r[0]->model);
    fputs("</b> ranks highest (", f);
    pm(f, r[0]->js0, r[0]->js0_stderr);
    fputc(')', f);
    for (size_t i = 1; i < n; i++) {
        fputs(i + 1 == n ? ", then " : ", then ", f);
        esc(f, r[i]->model);
        fputs(" (", f);
        pm(f, r[i]->js0, r[i]->js0_stderr);
        fputc(')', f);
    }
    fputs(".", f);
    const spec_result *tf = NULL;
    for (size_t i = 0; i < n; i++) if (is_transformer(r[i]->model)) tf = r[i];
    if (tf && n >= 2 && isfinite(tf->js0)) {
        fputs(" Expected (docs/results.md): the transformer (", f);
        esc(f, tf->model);
        fputs(") clearly more heterogeneous than the MLP and the CNN. ", f);
        int above = 0, clear_above = 0, clear_below = 0, others = 0, have_se = 1;
        for (size_t i = 0; i < n; i++) {
            if (r[i] == tf || !isfinite(r[i]->js0)) continue;
            others++;
            double d = tf->js0 - r[i]->js0;
            double se = sqrt(tf->js0_stderr * tf->js0_stderr + r[i]->js0_stderr * r[i]->js0_stderr);
            if (!isfinite(se) || se <= 0) have_se = 0;
            above += d > 0;
            clear_above += isfinite(se) && se > 0 && d > Z_CLEAR * se;
            clear_below += isfinite(se) && se > 0 && -d > Z_CLEAR * se;
        }
        const char *verdict = clear_above == others ? "agrees"
                              : clear_below ? "disagrees"
                              : above == others ? "agrees in order, but not by 2 standard errors"
                                                : "does not agree (within 2 standard errors)";
        if (!have_se && clear_below == 0 && clear_above < others)
            verdict = above == others ? "agrees in order (no standard error estimated)"
                                      : "does not agree in order (no standard error estimated)";
        fprintf(f, "Measured: <b class=\"verdict\">%s</b> — ", verdict);
        int first = 1;
        for (size_t i = 0; i < n; i++) {
            if (r[i] == tf || !isfinite(r[i]->js0)) continue;
            double d = tf->js0 - r[i]->js0;
            double se = sqrt(tf->js0_stderr * tf->js0_stderr + r[i]->js0_stderr * r[i]->js0_stderr);
            fputs(first ? "" : "; ", f);
            first = 0;
            esc(f, tf->model);
            fprintf(f, " is %s ", d >= 0 ? "above" : "below");
            esc(f, r[i]->model);
            fprintf(f, " by %.4f", fabs(d));
            if (isfinite(se) && se > 0) fprintf(f, " (%.1f combined standard errors)", fabs(d) / se);
        }
        fputs(".", f);
    }
    /* the secondary convention, in one sentence */
    int norm = 0;
    for (size_t i = 0; i < n; i++) norm += isfinite(r[i]->js0_normalized);
    if (norm >= 2) {
        const spec_result *q[16];
        for (size_t i = 0; i < n; i++) q[i] = r[i];
        for (size_t i = 1; i < n; i++) /* insertion sort by the scaled value, descending */
            for (size_t j = i; j > 0; j--) {
                double a = isfinite(q[j]->js0_normalized) ? q[j]->js0_normalized : -INFINITY;
                double b = isfinite(q[j - 1]->js0_normalized) ? q[j - 1]->js0_normalized : -INFINITY;
                if (a <= b) break;
                const spec_result *t = q[j]; q[j] = q[j - 1]; q[j - 1] = t;
            }
        fputs(" With every block's spectrum scaled by its own max |λ| first (numerically-zero blocks "
              "left out): ", f);
        for (size_t i = 0; i < n; i++) {
            fputs(i ? " &gt; " : "", f);
            esc(f, q[i]->model);
            fputc(' ', f);
            pm(f, q[i]->js0_normalized, q[i]->js0_normalized_stderr);
        }
        fputs(".", f);
    }
    fputs(" The standard errors measure probe noise only, not the bias of a short Lanczos run.</p>\n", f);
}

/* One model (spectrum): its JS⁰, the zero blocks, the most different pair. */
static void headline_one(FILE *f, const spec_result *s, const char *data_file) {
    fputs("<p class=\"finding\" id=\"finding-js\"><b>", f);
    esc(f, s->model);
    fprintf(f, "</b>: JS⁰ = ");
    pm(f, s->js0, s->js0_stderr);
    fprintf(f, " over %zu blocks (%s grid)", s->nblocks, js_grid_name(s->js_grid));
    if (isfinite(s->js0_normalized)) {
        fputs("; scaled by each block's max |λ|: ", f);
        pm(f, s->js0_normalized, s->js0_normalized_stderr);
    }
    fputs(".", f);
    if (s->n_zero) {
        fprintf(f, " %zu numerically-zero block%s (left out of the scaled value): ", s->n_zero,
                s->n_zero == 1 ? "" : "s");
        int first = 1;
        for (size_t b = 0; b < s->nblocks; b++)
            if (s->zero[b]) { fputs(first ? "" : ", ", f); first = 0; esc(f, s->names[b]); }
        fputs(".", f);
    }
    if (s->js && s->nblocks >= 2) {
        size_t ba = 0, bb = 1;
        double best = -1;
        for (size_t a = 0; a < s->nblocks; a++)
            for (size_t b = a + 1; b < s->nblocks; b++)
                if (s->js[a * s->nblocks + b] > best) { best = s->js[a * s->nblocks + b]; ba = a; bb = b; }
        fputs(" Most different pair: ", f);
        esc(f, s->names[ba]);
        fputs(" and ", f);
        esc(f, s->names[bb]);
        fprintf(f, " (%.3f).", best);
    }
    fputs(" One model: its rank against the expectation of docs/results.md (the transformer more "
          "heterogeneous than the MLP and the CNN) needs all three (<code>hessblock analyze</code>). "
          "Numbers: <code>", f);
    esc(f, data_file);
    fputs("</code>.</p>\n", f);
}

/* analyze --data real: what the held-out columns are (one leading space). */
#define HELD_OUT_NOTE " Held-out loss: the loss of each optimizer's best run (chosen by its training " \
                      "loss) on data it did not train on: the text's validation split (gpt), " \
                      "Fashion-MNIST t10k (mlp, cnn), as many samples as it trained on."

static void held_out_cells(FILE *f, const train_cmp *t) {
    fputs("<td>", f);
    html_num(f, "%.4g", t && t->sgd.held_out ? t->sgd.held_out_loss : NAN);
    fputs("</td><td>", f);
    html_num(f, "%.4g", t && t->adam.held_out ? t->adam.held_out_loss : NAN);
    fputs("</td>", f);
}

/* Relative SGD/Adam gap: the share of SGD's final loss that Adam removes. */
static double rel_gap(const train_cmp *t) {
    double s = t->sgd.final_loss, a = t->adam.final_loss;
    if (!isfinite(s) && isfinite(a)) return 1;   /* SGD diverged, Adam did not */
    return isfinite(s) && isfinite(a) && s > 0 ? (s - a) / s : NAN;
}

static void headline_train(FILE *f, const train_cmp *t, size_t n) {
    fputs("<p class=\"finding\" id=\"finding-gap\"><b>SGD vs Adam</b> (final loss at each optimizer's "
          "best learning rate; gap = SGD − Adam, positive: Adam ahead): ", f);
    const train_cmp *tf = NULL;
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", " : "", f);
        esc(f, t[i].model);
        fputc(' ', f);
        html_num(f, "%.4g", t[i].gap);
        double a = t[i].adam.final_loss, sg = t[i].sgd.final_loss;
        if (isfinite(a) && isfinite(sg) && sg > 0) fprintf(f, " (Adam/SGD loss %.3g)", a / sg);
        if (is_transformer(t[i].model)) tf = &t[i];
    }
    fputs(".", f);
    if (tf && n >= 2) {
        int others_small = 1;
        for (size_t i = 0; i < n; i++)
            if (&t[i] != tf && !(rel_gap(&t[i]) < GAP_LARGE)) others_small = 0;
        int tf_large = rel_gap(tf) >= GAP_LARGE;
        fprintf(f, " Expected: the gap large on the transformer, small on the MLP and the CNN (large: "
                "Adam's loss at most %.0f %% of SGD's). Measured: <b class=\"verdict\">%s</b> — the "
                "transformer's gap is %s", 100 * (1 - GAP_LARGE),
                tf_large && others_small ? "agrees" : "disagrees", tf_large ? "large" : "small");
        fprintf(f, ", %s.", others_small ? "the others' small" : "and not only the transformer's is large");
    }
    fputs("</p>\n", f);
}

static const quad_method *quad_find(const quad_family *q, const char *name) {
    for (size_t j = 0; j < q->nm; j++) if (!strcmp(q->m[j].name, name)) return &q->m[j];
    return NULL;
}

/* iterations of a method (max_iters + 1 when not reached: a lower bound of the count) */
static double quad_iters(const quad_family *q, const char *name) {
    const quad_method *m = quad_find(q, name);
    if (!m) return NAN;
    return m->best_iters >= 0 ? (double)m->best_iters : (double)q->max_iters + 1;
}

static void headline_quad(FILE *f, const quad_family *q, size_t n) {
    fputs("<p class=\"finding\" id=\"finding-quad\"><b>Quadratics</b> (iterations to the target "
          "at the best learning rate): ", f);
    const quad_family *het = NULL, *hom = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(q[i].family, "heterogeneous")) het = &q[i];
        if (!strcmp(q[i].family, "homogeneous")) hom = &q[i];
        fputs(i ? "; " : "", f);
        esc(f, q[i].family);
        fputc(':', f);
        for (size_t j = 0; j < q[i].nm; j++) {
            const quad_method *m = &q[i].m[j];
            fputs(j ? ", " : " ", f);
            esc(f, m->name);
            if (m->best_iters >= 0) fprintf(f, " %lld", (long long)m->best_iters);
            else fprintf(f, " &gt; %lld", (long long)q[i].max_iters);
        }
        double a = quad_iters(&q[i], "adam"), s = quad_iters(&q[i], "sgd_momentum");
        if (isfinite(a) && isfinite(s) && a > 0) fprintf(f, " (SGD+momentum / Adam = %.1f×)", s / a);
    }
    fputs(".", f);
    if (het && hom) {
        double rhet = quad_iters(het, "sgd_momentum") / quad_iters(het, "adam");
        double rhom = quad_iters(hom, "sgd_momentum") / quad_iters(hom, "adam");
        int gd_loses = quad_iters(het, "gd") > quad_iters(het, "sgd_momentum") &&
                       quad_iters(het, "gd") > quad_iters(het, "adam") &&
                       quad_iters(hom, "gd") > quad_iters(hom, "sgd_momentum") &&
                       quad_iters(hom, "gd") > quad_iters(hom, "adam");
        int ok = rhet >= QUAD_CLEAR && rhom < QUAD_CLEAR && gd_loses;
        fprintf(f, " Expected: on heterogeneous blocks Adam clearly (≥ %.0f×) fewer iterations than "
                "SGD+momentum, on homogeneous blocks not, GD slowest. Measured: <b class=\"verdict\">%s"
                "</b> (%.1f× vs %.1f×%s).", QUAD_CLEAR, ok ? "agrees" : "disagrees", rhet, rhom,
                gd_loses ? ", GD slowest" : ", GD not slowest everywhere");
    }
    fputs("</p>\n", f);
}

/* ---- inlined figures ---------------------------------------------------------------------- */
/* The SVG file inlined: without its XML declaration, its ids prefixed with fig<k>_ so that
 * the clip paths of different figures cannot collide in one page. Nothing if the file was
 * not written. */
static void inline_svg(FILE *f, const char *dir, const char *file, const char *caption, int k) {
    char path[4096];
    FILE *t = fopen(outdir_path(path, sizeof path, dir, file), "r");
    if (!t) return;
    fseek(t, 0, SEEK_END);
    long len = ftell(t);
    fseek(t, 0, SEEK_SET);
    char *buf = len > 0 ? malloc((size_t)len + 1) : NULL;
    size_t got = buf ? fread(buf, 1, (size_t)len, t) : 0;
    fclose(t);
    if (!buf) return;
    buf[got] = '\0';
    char *p = buf;
    if (!strncmp(p, "<?xml", 5) && (p = strstr(p, "?>"))) p += 2;
    if (!p) p = buf;
    while (*p == '\n') p++;
    fprintf(f, "<figure id=\"fig%d\">\n", k);
    char pre[24];
    snprintf(pre, sizeof pre, "fig%d_", k);
    while (*p) {
        if (!strncmp(p, "id=\"", 4)) { fputs("id=\"", f); fputs(pre, f); p += 4; continue; }
        if (!strncmp(p, "url(#", 5)) { fputs("url(#", f); fputs(pre, f); p += 5; continue; }
        fputc(*p++, f);
    }
    fputs("<figcaption>", f);
    esc(f, caption);
    fputs(" (", f);
    esc(f, file);
    fputs(")</figcaption></figure>\n", f);
    free(buf);
}

/* ---- the page ----------------------------------------------------------------------------- */
int write_report(const char *cmd, const char *dir, const char *title, const char *data_file,
                 const char *settings,
                 const spec_result *specs, size_t nspec, const train_cmp *trains, size_t ntrain,
                 const quad_family *quads, size_t nquad) {
    FILE *f = outdir_open(cmd, dir, "report.html");
    if (!f) return -1;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", f);
    esc(f, title);
    fputs("</title>\n<style>body{font-family:sans-serif;max-width:1300px;margin:1em auto;"
          "padding:0 1em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;"
          "padding:3px 8px;text-align:right}th{background:#eee}td:first-child,th:first-child"
          "{text-align:left}figure{margin:1em 0}figure svg{max-width:100%;height:auto}"
          "pre{background:#f6f6f6;padding:.5em;white-space:pre-wrap}"
          ".headline{border-left:4px solid #1f77b4;padding:.2em 1em;background:#f3f7fb}"
          "</style></head><body>\n<h1>", f);
    esc(f, title);
    fputs("</h1>\n<div class=\"headline\" id=\"headline\">\n", f);
    if (nspec >= 2) headline_js(f, specs, nspec);
    else if (nspec == 1) headline_one(f, &specs[0], data_file);
    if (ntrain) headline_train(f, trains, ntrain);
    if (nquad) headline_quad(f, quads, nquad);
    fputs("</div>\n", f);
    fprintf(f, "<p>libhessblock %s; numbers: <code>", hb_version_string());
    esc(f, data_file);
    fputs("</code> and the CSV files next to this page.</p>\n<pre>", f);
    esc(f, settings);
    fputs("</pre>\n", f);
    const int held = trains_have_held_out(trains, ntrain);
    if (nspec) {
        fputs("<h2>Summary</h2>\n<p>JS⁰: mean Jensen–Shannon distance between the Hessian spectra "
              "of all pairs of parameter blocks (± its bootstrap standard error over probes; it does "
              "not include the bias of a short Lanczos run); scaled: the same with every block's "
              "spectrum divided by its own max |λ| first, numerically-zero blocks left out.", f);
        if (ntrain)
            fputs(" Loss: final training loss at the best learning rate of each optimizer's grid; "
                  "gap = SGD loss − Adam loss.", f);
        if (held) fputs(HELD_OUT_NOTE, f);
        fputs("</p>\n<table><tr><th>model</th><th>JS⁰</th><th>JS⁰ scaled</th><th>blocks</th>"
              "<th>numerically zero</th>", f);
        if (ntrain) fputs("<th>SGD loss</th><th>Adam loss</th><th>gap</th>", f);
        if (held) fputs("<th>SGD held-out loss</th><th>Adam held-out loss</th>", f);
        fputs("</tr>\n", f);
        for (size_t i = 0; i < nspec; i++) {
            const train_cmp *t = find_train(trains, ntrain, specs[i].model);
            fputs("<tr><td>", f);
            esc(f, specs[i].model);
            fputs("</td><td>", f);
            pm(f, specs[i].js0, specs[i].js0_stderr);
            fputs("</td><td>", f);
            pm(f, specs[i].js0_normalized, specs[i].js0_normalized_stderr);
            fprintf(f, "</td><td>%zu</td><td>%zu</td>", specs[i].nblocks, specs[i].n_zero);
            if (ntrain) {
                fputs("<td>", f);
                html_num(f, "%.4g", t ? t->sgd.final_loss : NAN);
                fputs("</td><td>", f);
                html_num(f, "%.4g", t ? t->adam.final_loss : NAN);
                fputs("</td><td>", f);
                html_num(f, "%.4g", t ? t->gap : NAN);
                fputs("</td>", f);
            }
            if (held) held_out_cells(f, t);
            fputs("</tr>\n", f);
        }
        fputs("</table>\n", f);
    } else if (ntrain) {
        fputs("<h2>Summary</h2>\n", f);
        if (held) fprintf(f, "<p>%s</p>\n", HELD_OUT_NOTE + 1);
        fputs("<table><tr><th>model</th><th>SGD loss</th><th>Adam loss</th><th>gap</th>", f);
        if (held) fputs("<th>SGD held-out loss</th><th>Adam held-out loss</th>", f);
        fputs("</tr>\n", f);
        for (size_t i = 0; i < ntrain; i++) {
            fputs("<tr><td>", f);
            esc(f, trains[i].model);
            fputs("</td><td>", f);
            html_num(f, "%.4g", trains[i].sgd.final_loss);
            fputs("</td><td>", f);
            html_num(f, "%.4g", trains[i].adam.final_loss);
            fputs("</td><td>", f);
            html_num(f, "%.4g", trains[i].gap);
            fputs("</td>", f);
            if (held) held_out_cells(f, &trains[i]);
            fputs("</tr>\n", f);
        }
        fputs("</table>\n", f);
    }
    if (nquad) {
        fputs("<h2>Quadratic test bed</h2>\n<table><tr><th>family</th><th>κ</th><th>method</th>"
              "<th>best lr</th><th>iterations to target</th></tr>\n", f);
        for (size_t i = 0; i < nquad; i++)
            for (size_t j = 0; j < quads[i].nm; j++) {
                const quad_method *m = &quads[i].m[j];
                fputs("<tr><td>", f);
                esc(f, quads[i].family);
                fprintf(f, "</td><td>%g</td><td>", quads[i].cond);
                esc(f, m->name);
                fputs("</td><td>", f);
                html_num(f, "%.3g", m->best_lr);
                fputs("</td><td>", f);
                if (m->best_iters >= 0) fprintf(f, "%lld", (long long)m->best_iters);
                else fprintf(f, "&gt; %lld", (long long)quads[i].max_iters);
                fputs("</td></tr>\n", f);
            }
        fprintf(f, "</table>\n<p>Target: relative loss (L − L*)/(L₀ − L*) ≤ %g.</p>\n", quads[0].tol);
    }
    int k = 0;
    for (size_t i = 0; i < nspec; i++) {
        char file[128], cap[200];
        fputs("<h2>Spectra: ", f);
        esc(f, specs[i].model);
        fputs("</h2>\n", f);
        snprintf(file, sizeof file, "%s_js.svg", specs[i].model);
        snprintf(cap, sizeof cap, "%s: JS distance between every pair of blocks, grouped by block "
                 "kind then layer (hover a cell: value ± standard error)", specs[i].model);
        inline_svg(f, dir, file, cap, k++);
        snprintf(file, sizeof file, "%s_shared.svg", specs[i].model);
        snprintf(cap, sizeof cap, "%s: all block densities on the shared grids JS compares",
                 specs[i].model);
        inline_svg(f, dir, file, cap, k++);
        snprintf(file, sizeof file, "%s_spectra.svg", specs[i].model);
        snprintf(cap, sizeof cap, "%s: each block's spectrum on its own range", specs[i].model);
        inline_svg(f, dir, file, cap, k++);
    }
    if (ntrain) {
        fputs("<h2>Training</h2>\n", f);
        inline_svg(f, dir, "training.svg", "training curves", k++);
        inline_svg(f, dir, "training_lr.svg", "learning-rate sweeps", k++);
    }
    if (nquad) {
        fputs("<h2>Quadratics</h2>\n", f);
        inline_svg(f, dir, "quadratic.svg", "convergence curves", k++);
        inline_svg(f, dir, "quadratic_lr.svg", "iterations against learning rate", k++);
    }
    fputs("</body></html>\n", f);
    return outdir_close(cmd, f, dir, "report.html");
}
