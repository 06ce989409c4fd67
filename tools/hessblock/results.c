/* Writers for the tool's results: JSON fragments, CSV tables, SVG figures, report.html. */
#include "results.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "figures.h"
#include "svgplot.h"

#define MAX_CURVE_POINTS 1500 /* curves longer than this are subsampled in files */

static void free_strs(char **s, size_t n) {
    for (size_t i = 0; s && i < n; i++) free(s[i]);
    free(s);
}

void spec_result_free(spec_result *s) {
    if (!s) return;
    free_strs(s->names, s->nblocks);
    free_strs(s->kinds, s->nblocks);
    free(s->numel); free(s->lmin); free(s->lmax); free(s->grid); free(s->density); free(s->own_grid); free(s->own_density);
    free(s->full_density); free(s->js); free(s->js_selected); free(s->zero);
    free(s->trace); free(s->trace_stderr); free(s->js_stderr); free(s->ritz);
    memset(s, 0, sizeof *s);
}

void train_run_free(train_run *r) {
    if (!r) return;
    free(r->loss);
    r->loss = NULL;
    free(r->layers);
    r->layers = NULL;
}

void train_cmp_free(train_cmp *t) {
    if (!t) return;
    free(t->sgd_lrs); free(t->sgd_final); free(t->adam_lrs); free(t->adam_final);
    train_run_free(&t->sgd);
    train_run_free(&t->adam);
    memset(t, 0, sizeof *t);
}

void quad_family_free(quad_family *q) {
    if (!q) return;
    for (size_t i = 0; i < q->nm; i++) {
        free(q->m[i].lrs); free(q->m[i].iters); free(q->m[i].curve);
    }
    memset(q, 0, sizeof *q);
}

double trapz(const double *x, const double *y, size_t n) {
    double s = 0;
    for (size_t i = 1; i < n; i++) s += 0.5 * (x[i] - x[i - 1]) * (y[i] + y[i - 1]);
    return s;
}

/* ---- JSON ------------------------------------------------------------------------- */
const char *js_grid_name(int js_grid) {
    return js_grid == 1 ? "symlog" : "linear";
}

const char *zero_mark(const spec_result *s, size_t b) {
    return s->zero && s->zero[b] ? " [zero]" : "";
}

const char *js_blocks_name(int js_blocks) {
    return js_blocks == 1 ? "weights" : "all";
}

void json_spectrum(jw *w, const char *key, const spec_result *s, int with_densities) {
    jw_object(w, key);
    jw_string(w, "model", s->model);
    jw_string(w, "source", s->source);
    json_sizes(w, "sizes", &s->size_info);
    jw_string(w, "sizes_text", s->sizes);
    jw_int(w, "n_params", s->n_params);
    jw_int(w, "probes", s->probes);
    jw_int(w, "lanczos_steps", s->steps);
    jw_string(w, "lanczos_basis", s->basis ? "f32" : "f64");
    jw_number(w, "sigma", s->sigma);
    jw_number(w, "js0", s->js0);
    jw_number(w, "js0_stderr", s->js0_stderr);
    jw_number(w, "js0_normalized", s->js0_normalized);
    jw_number(w, "js0_normalized_stderr", s->js0_normalized_stderr);
    jw_int(w, "js_bootstrap_replicates", s->js_replicates);
    if (s->js_grid) jw_string(w, "js_grid", js_grid_name(s->js_grid));
    if (s->js_blocks) {
        jw_string(w, "js_blocks", js_blocks_name(s->js_blocks));
        jw_number(w, "js0_selected", s->js0_selected);
        jw_number(w, "js0_selected_stderr", s->js0_selected_stderr);
        jw_number(w, "js0_selected_normalized", s->js0_selected_normalized);
        jw_number(w, "js0_selected_normalized_stderr", s->js0_selected_normalized_stderr);
        jw_array(w, "js_selected_blocks");
        for (size_t b = 0; b < s->nblocks; b++)
            if (s->js_selected && s->js_selected[b]) jw_string(w, NULL, s->names[b]);
        jw_end_array(w);
    }
    if (s->js_grid_points) { /* issue 12.6: the two grids are different things */
        jw_int(w, "density_grid_points", (int64_t)s->ngrid);
        jw_int(w, "js_grid_points", (int64_t)s->js_grid_points);
    }
    if (s->zero) { /* issue 12.4: blocks left out of js0_normalized */
        jw_int(w, "js_zero_blocks", (int64_t)s->n_zero);
        jw_number(w, "js_zero_rel_tol", s->zero_tol);
    }
    jw_number(w, "seconds", s->seconds);
    jw_object(w, "seconds_parts");
    jw_number(w, "slq_blocks", s->t_slq_blocks);
    jw_number(w, "slq_full", s->t_slq_full);
    jw_number(w, "densities", s->t_density);
    jw_number(w, "js_matrices", s->t_js);
    jw_number(w, "js_bootstrap", s->t_js_bootstrap);
    jw_end_object(w);
    if (with_densities) jw_numbers(w, "grid", s->grid, s->ngrid);
    if (s->has_full) {
        jw_object(w, "full");
        jw_number(w, "lambda_min", s->full_lmin);
        jw_number(w, "lambda_max", s->full_lmax);
        jw_number(w, "density_integral", trapz(s->grid, s->full_density, s->ngrid));
        if (with_densities) jw_numbers(w, "density", s->full_density, s->ngrid);
        jw_end_object(w);
    }
    jw_array(w, "blocks");
    for (size_t b = 0; b < s->nblocks; b++) {
        jw_object(w, NULL);
        jw_string(w, "name", s->names[b]);
        jw_string(w, "kind", s->kinds[b]);
        jw_int(w, "numel", s->numel[b]);
        jw_number(w, "lambda_min", s->lmin[b]);
        jw_number(w, "lambda_max", s->lmax[b]);
        if (s->zero) jw_bool(w, "numerically_zero", s->zero[b]);
        if (s->trace) {
            jw_number(w, "trace", s->trace[b]);
            jw_number(w, "trace_stderr", s->trace_stderr[b]);
        }
        if (s->density) {
            const double *d = s->density + b * s->ngrid;
            jw_number(w, "density_integral", trapz(s->grid, d, s->ngrid));
            if (with_densities) jw_numbers(w, "density", d, s->ngrid);
        }
        if (s->own_density) {
            const double *g = s->own_grid + b * s->ngrid, *d = s->own_density + b * s->ngrid;
            jw_number(w, "own_density_integral", trapz(g, d, s->ngrid));
            if (with_densities) {
                jw_numbers(w, "own_grid", g, s->ngrid);
                jw_numbers(w, "own_density", d, s->ngrid);
            }
        }
        jw_end_object(w);
    }
    jw_end_array(w);
    if (s->js) {
        jw_array(w, "js_matrix");
        for (size_t b = 0; b < s->nblocks; b++) jw_numbers(w, NULL, s->js + b * s->nblocks, s->nblocks);
        jw_end_array(w);
        if (s->js_stderr) {
            jw_array(w, "js_matrix_stderr");
            for (size_t b = 0; b < s->nblocks; b++)
                jw_numbers(w, NULL, s->js_stderr + b * s->nblocks, s->nblocks);
            jw_end_array(w);
        } else {
            jw_null(w, "js_matrix_stderr");
        }
    }
    if (s->ritz) {
        char name[96];
        snprintf(name, sizeof name, "%s_ritz.npy", s->model);
        jw_string(w, "ritz_file", name);
        jw_int(w, "ritz_rows", (int64_t)s->nritz);
    }
    jw_end_object(w);
}

void json_sizes(jw *w, const char *key, const model_sizes *z) {
    if (!z->kind[0]) { jw_null(w, key); return; }
    jw_object(w, key);
    jw_string(w, "kind", z->kind);
    for (size_t i = 0; i < z->n; i++) {
        if (z->item[i].real) jw_number(w, z->item[i].key, z->item[i].value);
        else jw_int(w, z->item[i].key, (int64_t)z->item[i].value);
    }
    jw_string(w, "dtype", z->dtype);
    if (strcmp(z->kind, "quadratic") != 0) {
        jw_int(w, "batches", z->batches);
        jw_int(w, "samples", z->samples);
    }
    jw_int(w, "parameters", z->n_params);
    jw_end_object(w);
}

void json_train_run(jw *w, const char *key, const train_run *r, int with_curve) {
    jw_object(w, key);
    jw_string(w, "optimizer", r->optimizer);
    jw_number(w, "lr", r->lr);
    jw_int(w, "steps", r->steps);
    jw_number(w, "initial_loss", r->loss ? r->loss[0] : NAN);
    jw_number(w, "final_loss", r->final_loss);
    jw_bool(w, "diverged", !isfinite(r->final_loss));
    jw_number(w, "seconds", r->seconds);
    jw_number(w, "param_norm_initial", r->param_norm0);
    jw_number(w, "param_norm_final", r->param_norm);
    if (r->held_out) {
        jw_string(w, "held_out", r->held_out);
        jw_number(w, "held_out_loss", r->held_out_loss);
        if (isfinite(r->held_out_accuracy)) jw_number(w, "held_out_accuracy", r->held_out_accuracy);
    }
    if (r->sst_method) {
        jw_string(w, "method", r->sst_method == 1 ? "sst" : "lora");
        jw_string(w, "base_optimizer", r->base_optimizer);
        jw_int(w, "rank", r->rank);
        if (r->sst_method == 1) {
            jw_int(w, "sst_iteration", r->sst_iteration);
            jw_int(w, "rewarm", r->rewarm);
        } else {
            jw_number(w, "lora_alpha", r->lora_alpha);
        }
        jw_bool(w, "freeze_others", r->freeze_others);
        jw_int(w, "converted_blocks", (int64_t)r->converted_blocks);
        if (r->layers) {
            jw_array(w, "layers");
            for (size_t i = 0; i < r->converted_blocks; i++) {
                jw_object(w, NULL);
                jw_string(w, "name", r->layers[i].name);
                jw_int(w, "out", r->layers[i].out);
                jw_int(w, "in", r->layers[i].in);
                jw_int(w, "k", r->layers[i].k);
                jw_int(w, "r", r->layers[i].r);
                jw_end_object(w);
            }
            jw_end_array(w);
        }
        jw_int(w, "trainable_parameters", (int64_t)r->trainable);
        jw_int(w, "total_parameters", (int64_t)r->total);
        jw_int(w, "wrapper_parameters", (int64_t)r->wrapper_total);
        jw_int(w, "optimizer_state_bytes", (int64_t)r->state_bytes);
        jw_int(w, "parameter_bytes", (int64_t)r->elem_bytes);
        jw_number(w, "inner_param_norm_initial", r->inner_norm0);
        jw_number(w, "inner_param_norm_final", r->inner_norm);
    }
    if (with_curve && r->loss) jw_numbers(w, "loss", r->loss, (size_t)r->steps + 1);
    jw_end_object(w);
}

static void json_grid(jw *w, const char *key, const double *lrs, const double *fin, size_t n) {
    jw_array(w, key);
    for (size_t i = 0; i < n; i++) {
        jw_object(w, NULL);
        jw_number(w, "lr", lrs[i]);
        jw_number(w, "final_loss", fin[i]);
        jw_end_object(w);
    }
    jw_end_array(w);
}

void json_train_cmp(jw *w, const char *key, const train_cmp *t) {
    jw_object(w, key);
    jw_string(w, "model", t->model);
    json_train_run(w, "sgd", &t->sgd, 0);
    json_train_run(w, "adam", &t->adam, 0);
    jw_number(w, "gap", t->gap);
    json_grid(w, "sgd_lr_grid", t->sgd_lrs, t->sgd_final, t->n_sgd);
    json_grid(w, "adam_lr_grid", t->adam_lrs, t->adam_final, t->n_adam);
    jw_end_object(w);
}

void json_quad_family(jw *w, const char *key, const quad_family *q, int with_curves) {
    jw_object(w, key);
    jw_string(w, "family", q->family);
    jw_number(w, "cond", q->cond);
    jw_int(w, "blocks", q->blocks);
    jw_int(w, "block_size", q->block_size);
    jw_number(w, "target_relative_loss", q->tol);
    jw_int(w, "max_iters", q->max_iters);
    jw_array(w, "methods");
    for (size_t i = 0; i < q->nm; i++) {
        const quad_method *m = &q->m[i];
        jw_object(w, NULL);
        jw_string(w, "method", m->name);
        jw_number(w, "best_lr", m->best_lr);
        if (m->best_iters >= 0) jw_int(w, "iterations", m->best_iters);
        else jw_null(w, "iterations");
        jw_array(w, "lr_grid");
        for (size_t k = 0; k < m->nlr; k++) {
            jw_object(w, NULL);
            jw_number(w, "lr", m->lrs[k]);
            if (m->iters[k] >= 0) jw_int(w, "iterations", m->iters[k]);
            else jw_null(w, "iterations");
            jw_end_object(w);
        }
        jw_end_array(w);
        if (with_curves && m->curve) jw_numbers(w, "relative_loss", m->curve, m->ncurve);
        jw_end_object(w);
    }
    jw_end_array(w);
    jw_end_object(w);
}

/* ---- CSV + SVG ---------------------------------------------------------------------- */
/* A CSV number: empty when not finite (diverged runs, not-reached targets). */
static void csv_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.10g", v);
}

static int fail_path(const char *cmd, const char *dir, const char *name) {
    char p[4096];
    runtime_error(cmd, "cannot write '%s'", outdir_path(p, sizeof p, dir, name));
    return -1;
}

/* <model>_<what>.csv: a blocks × blocks matrix (JS distances, their standard errors) with
 * the block names as header row and first column. */
int write_block_matrix_csv(const char *cmd, const char *dir, const char *what,
                           const spec_result *s, const double *m) {
    char name[128];
    snprintf(name, sizeof name, "%s_%s.csv", s->model, what);
    FILE *f = outdir_open(cmd, dir, name);
    if (!f) return -1;
    fputs("block", f);
    for (size_t b = 0; b < s->nblocks; b++) { fputc(',', f); csv_field(f, s->names[b]); }
    fputc('\n', f);
    for (size_t a = 0; a < s->nblocks; a++) {
        csv_field(f, s->names[a]);
        for (size_t b = 0; b < s->nblocks; b++) fprintf(f, ",%.8g", m[a * s->nblocks + b]);
        fputc('\n', f);
    }
    return outdir_close(cmd, f, dir, name) ? -1 : 0;
}

int write_spectrum_files(const char *cmd, const char *dir, const spec_result *s) {
    char name[128];
    if (write_research_files(cmd, dir, s)) return -1;
    snprintf(name, sizeof name, "%s_spectra.csv", s->model);
    FILE *f = outdir_open(cmd, dir, name);
    if (!f) return -1;
    fputs("block,kind,lambda,density\n", f);
    for (size_t b = 0; b < s->nblocks; b++)
        for (size_t i = 0; i < s->ngrid; i++) {
            csv_field(f, s->names[b]);
            fprintf(f, ",%s,%.10g,%.10g\n", s->kinds[b], s->grid[i], s->density[b * s->ngrid + i]);
        }
    if (s->has_full)
        for (size_t i = 0; i < s->ngrid; i++)
            fprintf(f, "(full),full,%.10g,%.10g\n", s->grid[i], s->full_density[i]);
    if (outdir_close(cmd, f, dir, name)) return -1;

    if (s->js) {
        if (write_block_matrix_csv(cmd, dir, "js", s, s->js)) return -1;

        if (write_js_heatmap(cmd, dir, s)) return -1;
    }
    if (write_shared_overlay(cmd, dir, s)) return -1;
    return write_block_panels(cmd, dir, s);
}

/* For a log x axis: x = 1..n-1 (iteration 0 has no place on it), every point up to 100,
 * then points at least 0.5 % apart, so the curve keeps its early detail; always the last.
 * At most ~100 + 200·ln(n/100) points. */
static size_t subsample_log(const double *y, size_t n, double *xs, double *ys) {
    size_t k = 0, last = 0;
    for (size_t i = 1; i < n; i++)
        if (i <= 100 || (double)(i - last) >= 0.005 * (double)i || i == n - 1) {
            xs[k] = (double)i;
            ys[k++] = y[i];
            last = i;
        }
    return k;
}

/* x = 0..n-1 subsampled to at most MAX_CURVE_POINTS points (always keeping the last). */
static size_t subsample(const double *y, size_t n, double *xs, double *ys) {
    size_t stride = n > MAX_CURVE_POINTS ? (n + MAX_CURVE_POINTS - 1) / MAX_CURVE_POINTS : 1, k = 0;
    for (size_t i = 0; i < n; i += stride) { xs[k] = (double)i; ys[k] = y[i]; k++; }
    if (n && (n - 1) % stride) { xs[k] = (double)(n - 1); ys[k] = y[n - 1]; k++; }
    return k;
}

int write_train_files(const char *cmd, const char *dir, const train_cmp *t, size_t n) {
    char path[4096];
    FILE *f = outdir_open(cmd, dir, "training.csv");
    if (!f) return -1;
    fputs("model,optimizer,lr,step,loss\n", f);
    for (size_t i = 0; i < n; i++)
        for (int o = 0; o < 2; o++) {
            const train_run *r = o ? &t[i].adam : &t[i].sgd;
            for (int64_t s = 0; r->loss && s <= r->steps; s++)
            {
                fprintf(f, "%s,%s,%.6g,%lld,", t[i].model, r->optimizer, r->lr, (long long)s);
                csv_num(f, r->loss[s]);
                fputc('\n', f);
            }
        }
    if (outdir_close(cmd, f, dir, "training.csv")) return -1;
    if (!(f = outdir_open(cmd, dir, "training_lr.csv"))) return -1;
    fputs("model,optimizer,lr,final_loss\n", f);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < t[i].n_sgd; k++)
        {
            fprintf(f, "%s,sgd,%.6g,", t[i].model, t[i].sgd_lrs[k]);
            csv_num(f, t[i].sgd_final[k]);
            fputc('\n', f);
        }
        for (size_t k = 0; k < t[i].n_adam; k++)
        {
            fprintf(f, "%s,adam,%.6g,", t[i].model, t[i].adam_lrs[k]);
            csv_num(f, t[i].adam_final[k]);
            fputc('\n', f);
        }
    }
    if (outdir_close(cmd, f, dir, "training_lr.csv")) return -1;

    /* curves and lr sweeps: one panel per model */
    svg_lineplot pl[16], pl2[16];
    svg_series se[16][2], se2[16][2];
    char titles[16][96];
    double *buf[16][4] = {{0}};
    size_t m = n < 16 ? n : 16;
    int rc = 0;
    for (size_t i = 0; i < m; i++) {
        snprintf(titles[i], sizeof titles[i], "%s (gap %.3g)", t[i].model, t[i].gap);
        for (int o = 0; o < 2; o++) {
            const train_run *r = o ? &t[i].adam : &t[i].sgd;
            size_t len = r->loss ? (size_t)r->steps + 1 : 0;
            buf[i][2 * o] = malloc((len + 2) * sizeof(double));
            buf[i][2 * o + 1] = malloc((len + 2) * sizeof(double));
            if (!buf[i][2 * o] || !buf[i][2 * o + 1]) { rc = -1; continue; }
            size_t k = len ? subsample(r->loss, len, buf[i][2 * o], buf[i][2 * o + 1]) : 0;
            se[i][o] = (svg_series){.label = o ? "Adam" : "SGD", .x = buf[i][2 * o],
                                    .y = buf[i][2 * o + 1], .n = k};
            se2[i][o] = (svg_series){.label = o ? "Adam" : "SGD", .x = o ? t[i].adam_lrs : t[i].sgd_lrs,
                                     .y = o ? t[i].adam_final : t[i].sgd_final,
                                     .n = o ? t[i].n_adam : t[i].n_sgd, .markers = 1};
        }
        pl[i] = (svg_lineplot){.title = titles[i], .xlabel = "step", .ylabel = "training loss",
                               .logy = 1, .series = se[i], .nseries = 2, .legend = 1, .hline = NAN};
        pl2[i] = (svg_lineplot){.title = titles[i], .xlabel = "learning rate", .ylabel = "final loss",
                                .logx = 1, .logy = 1, .series = se2[i], .nseries = 2, .legend = 1,
                                .hline = NAN};
    }
    if (!rc && svg_write_lineplots(outdir_path(path, sizeof path, dir, "training.svg"),
                                   "Training loss, best learning rate of each optimizer", pl, m, 3, 330, 250))
        rc = fail_path(cmd, dir, "training.svg");
    if (!rc && svg_write_lineplots(outdir_path(path, sizeof path, dir, "training_lr.svg"),
                                   "Final loss against learning rate", pl2, m, 3, 330, 250))
        rc = fail_path(cmd, dir, "training_lr.svg");
    for (size_t i = 0; i < m; i++)
        for (int k = 0; k < 4; k++) free(buf[i][k]);
    if (rc && m) runtime_error(cmd, "could not write the training figures");
    return rc;
}

int write_train_run_files(const char *cmd, const char *dir, const train_run *r) {
    char path[4096];
    FILE *f = outdir_open(cmd, dir, "train.csv");
    if (!f) return -1;
    fputs("step,loss\n", f);
    for (int64_t s = 0; r->loss && s <= r->steps; s++)
    {
        fprintf(f, "%lld,", (long long)s);
        csv_num(f, r->loss[s]);
        fputc('\n', f);
    }
    if (outdir_close(cmd, f, dir, "train.csv")) return -1;
    size_t len = r->loss ? (size_t)r->steps + 1 : 0;
    double *xs = malloc((len + 2) * sizeof *xs), *ys = malloc((len + 2) * sizeof *ys);
    if (!xs || !ys) { free(xs); free(ys); runtime_error(cmd, "out of memory"); return -1; }
    size_t k = len ? subsample(r->loss, len, xs, ys) : 0;
    svg_series se = {.label = r->optimizer, .x = xs, .y = ys, .n = k};
    svg_lineplot pl = {.title = "training loss", .xlabel = "step", .ylabel = "loss", .logy = 1,
                       .series = &se, .nseries = 1, .legend = 1, .hline = NAN};
    int rc = svg_write_lineplots(outdir_path(path, sizeof path, dir, "train.svg"), NULL, &pl, 1, 1, 480, 320);
    free(xs); free(ys);
    return rc ? fail_path(cmd, dir, "train.svg") : 0;
}

int write_quad_files(const char *cmd, const char *dir, const quad_family *q, size_t n) {
    char path[4096];
    FILE *f = outdir_open(cmd, dir, "quadratic.csv");
    if (!f) return -1;
    fputs("family,method,lr,iterations,best\n", f);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < q[i].nm; j++)
            for (size_t k = 0; k < q[i].m[j].nlr; k++) {
                const quad_method *m = &q[i].m[j];
                fprintf(f, "%s,%s,%.6g,", q[i].family, m->name, m->lrs[k]);
                if (m->iters[k] >= 0) fprintf(f, "%lld", (long long)m->iters[k]);
                fprintf(f, ",%d\n", m->lrs[k] == m->best_lr && m->best_iters >= 0);
            }
    if (outdir_close(cmd, f, dir, "quadratic.csv")) return -1;
    if (!(f = outdir_open(cmd, dir, "quadratic_curves.csv"))) return -1;
    fputs("family,method,iteration,relative_loss\n", f);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < q[i].nm; j++)
            for (size_t k = 0; k < q[i].m[j].ncurve; k++)
            {
                fprintf(f, "%s,%s,%zu,", q[i].family, q[i].m[j].name, k);
                csv_num(f, q[i].m[j].curve[k]);
                fputc('\n', f);
            }
    if (outdir_close(cmd, f, dir, "quadratic_curves.csv")) return -1;

    svg_lineplot pl[4], pl2[4];
    svg_series se[4][6], se2[4][3];
    double mx[4][3], my[4][3];   /* where each method reached the target (a marker) */
    char mlab[4][3][48];
    double *bx[4][3] = {{0}}, *by[4][3] = {{0}}, *ix[4][3] = {{0}};
    char titles[4][96];
    size_t m = n < 4 ? n : 4;
    int rc = 0;
    for (size_t i = 0; i < m; i++) {
        snprintf(titles[i], sizeof titles[i], "%s blocks, kappa = %g", q[i].family, q[i].cond);
        for (size_t j = 0; j < q[i].nm; j++) {
            const quad_method *mm = &q[i].m[j];
            bx[i][j] = malloc((mm->ncurve + 2) * sizeof(double));
            by[i][j] = malloc((mm->ncurve + 2) * sizeof(double));
            ix[i][j] = malloc((mm->nlr + 1) * sizeof(double));
            if (!bx[i][j] || !by[i][j] || !ix[i][j]) { rc = -1; continue; }
            /* log iteration axis (issue 15.5): Adam's ~100 and SGD's ~700 iterations are not
             * crushed against 0 by GD's ~13000 */
            size_t k = mm->curve ? subsample_log(mm->curve, mm->ncurve, bx[i][j], by[i][j]) : 0;
            for (size_t l = 0; l < mm->nlr; l++) ix[i][j][l] = mm->iters[l] >= 0 ? (double)mm->iters[l] : NAN;
            if (mm->best_iters >= 0)
                snprintf(mlab[i][j], sizeof mlab[i][j], "%s: %lld it.", mm->name, (long long)mm->best_iters);
            else
                snprintf(mlab[i][j], sizeof mlab[i][j], "%s: > %lld it.", mm->name, (long long)q[i].max_iters);
            se[i][j] = (svg_series){.label = mlab[i][j], .x = bx[i][j], .y = by[i][j], .n = k,
                                    .color = svg_palette(j)};
            mx[i][j] = mm->best_iters > 0 ? (double)mm->best_iters : NAN;
            my[i][j] = q[i].tol;
            se[i][q[i].nm + j] = (svg_series){.x = &mx[i][j], .y = &my[i][j], .n = 1, .markers = 1,
                                              .color = svg_palette(j)};
            se2[i][j] = (svg_series){.label = mm->name, .x = mm->lrs, .y = ix[i][j], .n = mm->nlr,
                                     .markers = 1, .color = svg_palette(j)};
        }
        pl[i] = (svg_lineplot){.title = titles[i], .xlabel = "iteration (log scale)",
                               .ylabel = "relative loss", .logx = 1, .logy = 1, .series = se[i],
                               .nseries = 2 * q[i].nm, .legend = 1, .hline = q[i].tol};
        pl2[i] = (svg_lineplot){.title = titles[i], .xlabel = "learning rate",
                                .ylabel = "iterations to target", .logx = 1, .logy = 1,
                                .series = se2[i], .nseries = q[i].nm, .legend = 1, .hline = NAN};
    }
    if (!rc && svg_write_lineplots(outdir_path(path, sizeof path, dir, "quadratic.svg"),
                                   "Quadratics: convergence at the best learning rate (dot: target reached)", pl, m, 2, 440, 300))
        rc = fail_path(cmd, dir, "quadratic.svg");
    if (!rc && svg_write_lineplots(outdir_path(path, sizeof path, dir, "quadratic_lr.svg"),
                                   "Quadratics: iterations to target against learning rate", pl2, m, 2, 380, 270))
        rc = fail_path(cmd, dir, "quadratic_lr.svg");
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < 3; j++) { free(bx[i][j]); free(by[i][j]); free(ix[i][j]); }
    if (rc && m) runtime_error(cmd, "could not write the quadratic figures");
    return rc;
}

/* ---- tables --------------------------------------------------------------------------- */
static const train_cmp *find_train(const train_cmp *t, size_t n, const char *model) {
    for (size_t i = 0; i < n; i++) if (!strcmp(t[i].model, model)) return &t[i];
    return NULL;
}

static void num(FILE *f, const char *fmt, double v, int width) {
    if (isfinite(v)) fprintf(f, fmt, width, v);
    else fprintf(f, "%*s", width, "n/a");
}

/* 1 when a training run was evaluated on held-out data (analyze --data real): the tables
 * then show those losses too. */
int trains_have_held_out(const train_cmp *trains, size_t ntrain) {
    for (size_t i = 0; i < ntrain; i++)
        if (trains[i].sgd.held_out || trains[i].adam.held_out) return 1;
    return 0;
}

static void summary_losses(FILE *f, const train_cmp *t, int held) {
    num(f, "%*.4g", t ? t->sgd.final_loss : NAN, 12);
    fputc(' ', f);
    num(f, "%*.4g", t ? t->adam.final_loss : NAN, 12);
    fputc(' ', f);
    num(f, "%*.4g", t ? t->gap : NAN, 12);
    if (held) {
        fputc(' ', f);
        num(f, "%*.4g", t && t->sgd.held_out ? t->sgd.held_out_loss : NAN, 14);
        fputc(' ', f);
        num(f, "%*.4g", t && t->adam.held_out ? t->adam.held_out_loss : NAN, 14);
    }
    fputc('\n', f);
}

void print_summary_table(FILE *f, const spec_result *specs, size_t nspec,
                         const train_cmp *trains, size_t ntrain) {
    const int held = trains_have_held_out(trains, ntrain);
    fprintf(f, "%-8s %8s %12s %12s %12s", "model", "JS0", "SGD loss", "Adam loss", "gap");
    if (held) fprintf(f, " %14s %14s", "SGD held-out", "Adam held-out");
    fputc('\n', f);
    for (size_t i = 0; i < nspec; i++) {
        const train_cmp *t = find_train(trains, ntrain, specs[i].model);
        fprintf(f, "%-8s ", specs[i].model);
        num(f, "%*.4f", specs[i].js0, 8);
        fputc(' ', f);
        summary_losses(f, t, held);
    }
    for (size_t i = 0; i < ntrain; i++) {   /* trained but no spectrum */
        int seen = 0;
        for (size_t j = 0; j < nspec; j++) if (!strcmp(specs[j].model, trains[i].model)) seen = 1;
        if (seen) continue;
        fprintf(f, "%-8s %8s ", trains[i].model, "n/a");
        summary_losses(f, &trains[i], held);
    }
}

void print_quad_table(FILE *f, const quad_family *q, size_t n) {
    fprintf(f, "%-14s %-13s %10s %12s\n", "family", "method", "best lr", "iterations");
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < q[i].nm; j++) {
            const quad_method *m = &q[i].m[j];
            fprintf(f, "%-14s %-13s ", q[i].family, m->name);
            num(f, "%*.3g", m->best_lr, 10);
            if (m->best_iters >= 0) fprintf(f, " %12lld\n", (long long)m->best_iters);
            else fprintf(f, " %12s\n", "> max");
        }
}

