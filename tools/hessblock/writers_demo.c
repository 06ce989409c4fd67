/* cli_writers_demo OUTDIR: writes the tool's output files from synthetic results
 * (Gaussian "spectra", exponential "loss curves"), with awkward names (quotes, <, &,
 * commas) and non-finite values, so the writers can be checked without any compute. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "results.h"

static char *dup(const char *s) {
    char *d = malloc(strlen(s) + 1);
    if (d) strcpy(d, s);
    return d;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: cli_writers_demo OUTDIR\n");
        return 2;
    }
    const char *dir = argv[1], *cmd = "writers-demo";
    if (outdir_make(cmd, dir)) return 1;
    const size_t nb = 3, ng = 200;
    spec_result s = {0};
    snprintf(s.model, sizeof s.model, "demo");
    snprintf(s.source, sizeof s.source, "init");
    snprintf(s.sizes, sizeof s.sizes, "three \"blocks\" <&>");
    s.nblocks = nb;
    s.names = calloc(nb, sizeof *s.names);
    s.kinds = calloc(nb, sizeof *s.kinds);
    s.numel = calloc(nb, sizeof *s.numel);
    s.lmin = calloc(nb, sizeof(double));
    s.lmax = calloc(nb, sizeof(double));
    s.ngrid = ng;
    s.grid = calloc(ng, sizeof(double));
    s.density = calloc(nb * ng, sizeof(double));
    s.full_density = calloc(ng, sizeof(double));
    s.js = calloc(nb * nb, sizeof(double));
    if (!s.names || !s.kinds || !s.numel || !s.lmin || !s.lmax || !s.grid || !s.density ||
        !s.full_density || !s.js)
        return 1;
    const char *names[] = {"h.0.attn.wq", "odd \"name\", <&>", "head\ttab"};
    for (size_t b = 0; b < nb; b++) {
        s.names[b] = dup(names[b]);
        s.kinds[b] = dup("linear");
        s.numel[b] = (int64_t)(100 * (b + 1));
        s.lmin[b] = -1.0 * (double)b;
        s.lmax[b] = 2.0 + 3.0 * (double)b;
    }
    for (size_t i = 0; i < ng; i++) s.grid[i] = -8 + 24.0 * (double)i / (double)(ng - 1);
    for (size_t b = 0; b < nb; b++)
        for (size_t i = 0; i < ng; i++) {
            double mu = 2.0 * (double)b, sd = 0.5 + (double)b, z = (s.grid[i] - mu) / sd;
            s.density[b * ng + i] = exp(-0.5 * z * z) / (sd * sqrt(2 * 3.14159265358979323846));
        }
    for (size_t i = 0; i < ng; i++) {
        double sum = 0;
        for (size_t b = 0; b < nb; b++) sum += s.density[b * ng + i];
        s.full_density[i] = sum / (double)nb;
    }
    s.has_full = 1;
    s.full_lmin = -2;
    s.full_lmax = 8;
    for (size_t a = 0; a < nb; a++)
        for (size_t b = 0; b < nb; b++) s.js[a * nb + b] = a == b ? 0 : 0.2 * (double)(a + b);
    s.js0 = (s.js[1] + s.js[2] + s.js[5]) / 3;
    s.sigma = 0.1;
    s.n_params = 600;
    s.probes = 2;
    s.steps = 10;

    train_cmp t = {0};
    snprintf(t.model, sizeof t.model, "demo");
    double lrs[] = {1, 0.1, 0.01}, fin[] = {NAN, 0.5, 0.9}, alrs[] = {1e-2, 1e-3}, afin[] = {0.2, 0.4};
    t.n_sgd = 3; t.n_adam = 2;
    t.sgd_lrs = malloc(sizeof lrs); t.sgd_final = malloc(sizeof fin);
    t.adam_lrs = malloc(sizeof alrs); t.adam_final = malloc(sizeof afin);
    memcpy(t.sgd_lrs, lrs, sizeof lrs); memcpy(t.sgd_final, fin, sizeof fin);
    memcpy(t.adam_lrs, alrs, sizeof alrs); memcpy(t.adam_final, afin, sizeof afin);
    for (int o = 0; o < 2; o++) {
        train_run *r = o ? &t.adam : &t.sgd;
        snprintf(r->optimizer, sizeof r->optimizer, o ? "adam" : "sgd");
        r->lr = o ? 1e-2 : 0.1;
        r->steps = 3000; /* long enough to exercise subsampling */
        r->loss = malloc((size_t)(r->steps + 1) * sizeof(double));
        for (int64_t k = 0; k <= r->steps; k++) r->loss[k] = 2.3 * exp(-(o ? 2e-3 : 5e-4) * (double)k) + 0.1;
        r->final_loss = r->loss[r->steps];
    }
    t.gap = t.sgd.final_loss - t.adam.final_loss;

    quad_family q[2];
    memset(q, 0, sizeof q);
    for (int f = 0; f < 2; f++) {
        snprintf(q[f].family, sizeof q[f].family, f ? "homogeneous" : "heterogeneous");
        q[f].cond = 5000; q[f].blocks = 4; q[f].block_size = 25; q[f].tol = 1e-4; q[f].max_iters = 1000;
        q[f].nm = 3;
        const char *mn[] = {"gd", "sgd_momentum", "adam"};
        for (int j = 0; j < 3; j++) {
            quad_method *m = &q[f].m[j];
            snprintf(m->name, sizeof m->name, "%s", mn[j]);
            m->nlr = 3;
            m->lrs = malloc(3 * sizeof(double));
            m->iters = malloc(3 * sizeof(int64_t));
            for (int k = 0; k < 3; k++) { m->lrs[k] = pow(10, -k); m->iters[k] = k == 0 ? -1 : 100 * (j + 1) * k; }
            m->best_lr = 0.1; m->best_iters = 100 * (j + 1);
            m->ncurve = (size_t)m->best_iters + 1;
            m->curve = malloc(m->ncurve * sizeof(double));
            for (size_t k = 0; k < m->ncurve; k++) m->curve[k] = exp(-0.1 * (double)k / (j + 1));
        }
    }

    int rc = 0;
    rc |= write_spectrum_files(cmd, dir, &s);
    rc |= write_train_files(cmd, dir, &t, 1);
    rc |= write_train_run_files(cmd, dir, &t.sgd);
    rc |= write_quad_files(cmd, dir, q, 2);
    FILE *f = outdir_open(cmd, dir, "summary.json");
    if (!f) return 1;
    jw w;
    jw_init(&w, f, 1);
    jw_object(&w, NULL);
    jw_string(&w, "escapes", "quote \" backslash \\ newline \n tab \t bell \a <&>");
    jw_number(&w, "nan", NAN);
    jw_number(&w, "inf", INFINITY);
    jw_number(&w, "tiny", 1e-300);
    jw_array(&w, "spectra");
    json_spectrum(&w, NULL, &s, 1);
    jw_end_array(&w);
    jw_array(&w, "training");
    json_train_cmp(&w, NULL, &t);
    jw_end_array(&w);
    jw_array(&w, "quadratic");
    json_quad_family(&w, NULL, &q[0], 1);
    json_quad_family(&w, NULL, &q[1], 1);
    jw_end_array(&w);
    jw_object(&w, "empty_object");
    jw_end_object(&w);
    jw_array(&w, "empty_array");
    jw_end_array(&w);
    jw_end_object(&w);
    rc |= jw_finish(&w);
    rc |= outdir_close(cmd, f, dir, "summary.json");
    rc |= write_report(cmd, dir, "writers demo <&>", "summary.json", "settings \"quoted\" & <b>", &s, 1, &t, 1, q, 2);
    print_summary_table(stdout, &s, 1, &t, 1);
    print_quad_table(stdout, q, 2);
    spec_result_free(&s);
    train_cmp_free(&t);
    quad_family_free(&q[0]);
    quad_family_free(&q[1]);
    return rc ? 1 : 0;
}
