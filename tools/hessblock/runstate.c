/* Resumable runs: run.json and the per-block spectra (runstate.h). */
#include "runstate.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonr.h"
#include "jsonw.h"

void runstate_set(run_state *rs, const char *key, const char *fmt, ...) {
    if (rs->nsettings >= sizeof rs->settings / sizeof *rs->settings) return;
    run_setting *s = &rs->settings[rs->nsettings++];
    snprintf(s->key, sizeof s->key, "%s", key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->value, sizeof s->value, fmt, ap);
    va_end(ap);
}

static int write_run_json(run_state *rs, int complete) {
    FILE *f = outdir_open(rs->cmd, rs->dir, "run.json");
    if (!f) return -1;
    jw w;
    jw_init(&w, f, 1);
    jw_object(&w, NULL);
    jw_string(&w, "tool", "hessblock");
    jw_string(&w, "version", hb_version_string());
    jw_string(&w, "command", rs->cmd);
    jw_bool(&w, "complete", complete);
    jw_object(&w, "settings");
    for (size_t i = 0; i < rs->nsettings; i++) jw_string(&w, rs->settings[i].key, rs->settings[i].value);
    jw_end_object(&w);
    jw_array(&w, "finished_blocks");
    for (size_t i = 0; i < rs->ndone; i++) {
        char file[200];
        snprintf(file, sizeof file, "blocks/%s.%zu.json", rs->done[i].model, rs->done[i].index);
        jw_object(&w, NULL);
        jw_string(&w, "model", rs->done[i].model);
        jw_int(&w, "index", (int64_t)rs->done[i].index);
        jw_string(&w, "block", rs->done[i].name);
        jw_string(&w, "file", file);
        jw_end_object(&w);
    }
    jw_end_array(&w);
    jw_end_object(&w);
    if (jw_finish(&w)) {
        outdir_discard(f, rs->dir, "run.json");
        runtime_error(rs->cmd, "error writing run.json in '%s'", rs->dir);
        return -1;
    }
    return outdir_close(rs->cmd, f, rs->dir, "run.json");
}

static int add_done(run_state *rs, const char *model, size_t index, const char *name) {
    if (rs->ndone == rs->cap) {
        size_t nc = rs->cap ? 2 * rs->cap : 64;
        run_block *nd = realloc(rs->done, nc * sizeof *nd);
        if (!nd) { runtime_error(rs->cmd, "out of memory"); return -1; }
        rs->done = nd;
        rs->cap = nc;
    }
    run_block *b = &rs->done[rs->ndone++];
    snprintf(b->model, sizeof b->model, "%s", model);
    b->index = index;
    snprintf(b->name, sizeof b->name, "%s", name);
    return 0;
}

/* Every recorded setting against the current one, both ways; one line per mismatch. */
static int compare_settings(run_state *rs, const jr_value *rec) {
    int bad = 0;
    for (size_t i = 0; i < rs->nsettings; i++) {
        const char *was = jr_get_string(rec, rs->settings[i].key);
        if (was && !strcmp(was, rs->settings[i].value)) continue;
        if (!bad++)
            fprintf(stderr, "hessblock %s: --resume %s: the settings differ from the recorded run's "
                    "(give the same options as the first run):\n", rs->cmd, rs->dir);
        fprintf(stderr, "  %s: recorded %s, given %s\n", rs->settings[i].key, was ? was : "(none)",
                rs->settings[i].value);
    }
    for (size_t j = 0; rec && rec->type == JR_OBJECT && j < rec->n; j++) {
        int known = 0;
        for (size_t i = 0; i < rs->nsettings; i++) known |= !strcmp(rec->keys[j], rs->settings[i].key);
        if (known) continue;
        if (!bad++)
            fprintf(stderr, "hessblock %s: --resume %s: the settings differ from the recorded run's:\n",
                    rs->cmd, rs->dir);
        fprintf(stderr, "  %s: recorded %s, given (none)\n", rec->keys[j],
                rec->items[j].type == JR_STRING ? rec->items[j].string : "?");
    }
    return bad;
}

static int load_record(run_state *rs) {
    char path[4200], err[256];
    outdir_path(path, sizeof path, rs->dir, "run.json");
    jr_value doc;
    if (jr_parse_file(path, &doc, err, sizeof err)) {
        usage_error(rs->cmd, "--resume %s: no run to continue there ('%s': %s)", rs->dir, path, err);
        return EXIT_USAGE;
    }
    int status = EXIT_USAGE;
    const char *cmd = jr_get_string(&doc, "command");
    const char *version = jr_get_string(&doc, "version");
    const jr_value *fin = jr_get(&doc, "finished_blocks");
    if (!cmd || strcmp(cmd, rs->cmd) != 0) {
        usage_error(rs->cmd, "--resume %s: the run there is of 'hessblock %s', not '%s'", rs->dir,
                    cmd ? cmd : "?", rs->cmd);
        goto done;
    }
    if (!version || strcmp(version, hb_version_string()) != 0) {
        /* another library may give other numbers: the result would not be one run's */
        usage_error(rs->cmd, "--resume %s: recorded with libhessblock %s, this is %s", rs->dir,
                    version ? version : "?", hb_version_string());
        goto done;
    }
    if (compare_settings(rs, jr_get(&doc, "settings"))) goto done;
    status = EXIT_RUNTIME;
    for (size_t i = 0; fin && fin->type == JR_ARRAY && i < fin->n; i++) {
        const char *model = jr_get_string(&fin->items[i], "model");
        const char *name = jr_get_string(&fin->items[i], "block");
        const jr_value *idx = jr_get(&fin->items[i], "index");
        if (!model || !name || !idx || idx->type != JR_NUMBER) {
            runtime_error(rs->cmd, "'%s': finished block %zu is malformed", path, i);
            goto done;
        }
        if (add_done(rs, model, (size_t)idx->number, name)) goto done;
    }
    status = 0;
done:
    jr_free(&doc);
    return status;
}

int runstate_start(run_state *rs, const char *cmd, const char *dir, int resume,
                   const char *result_name) {
    rs->cmd = cmd;
    snprintf(rs->dir, sizeof rs->dir, "%s", dir);
    snprintf(rs->blocks_dir, sizeof rs->blocks_dir, "%s/blocks", dir);
    const char *pause = getenv("HESSBLOCK_TEST_PAUSE_AFTER_BLOCK");
    rs->pause_after_block = pause ? atof(pause) : 0;
    if (resume) {
        int st = load_record(rs);
        if (st) return st;
        rs->resumed = 1;
    } else {
        char path[4200];
        /* a result file of an earlier run in this directory must not pass for this one's */
        if (outdir_writes && /* rank 0 alone owns the directory (mpi_cli.c) */
            remove(outdir_path(path, sizeof path, dir, result_name)) != 0 && errno != ENOENT) {
            runtime_error(cmd, "cannot remove '%s': %s", path, strerror(errno));
            return EXIT_RUNTIME;
        }
    }
    if (outdir_make(cmd, rs->blocks_dir)) return EXIT_RUNTIME;
    return write_run_json(rs, 0) ? EXIT_RUNTIME : 0;
}

static const run_block *find_done(const run_state *rs, const char *model, size_t index) {
    for (size_t i = 0; i < rs->ndone; i++)
        if (rs->done[i].index == index && !strcmp(rs->done[i].model, model)) return &rs->done[i];
    return NULL;
}

/* Numbers as %.17g: strtod reads them back to the same double (the tool stays in the C
 * locale, so the radix is '.'). */
static void write_numbers(FILE *f, const char *key, const double *v, size_t n) {
    fprintf(f, "\"%s\":[", key);
    for (size_t i = 0; i < n; i++) fprintf(f, "%s%.17g", i ? "," : "", v[i]);
    fputc(']', f);
}

int runstate_save_block(run_state *rs, const char *model, size_t index, const char *name,
                        const hb_spectrum *sp, uint64_t stream) {
    char file[200];
    snprintf(file, sizeof file, "%s.%zu.json", model, index);
    FILE *f = outdir_open(rs->cmd, rs->blocks_dir, file);
    if (!f) return -1;
    fprintf(f, "{\"model\":");
    jw_write_escaped(f, model);
    fprintf(f, ",\"index\":%zu,\"block\":", index);
    jw_write_escaped(f, name);
    fprintf(f, ",\"dim\":%zu,\"stream\":%llu,\"unit_roundoff\":%.17g,\"probes\":[\n", hb_spectrum_dim(sp),
            (unsigned long long)stream, hb_spectrum_unit_roundoff(sp));
    for (size_t p = 0; p < hb_spectrum_num_probes(sp); p++) {
        const double *nodes, *weights;
        size_t count;
        int breakdown;
        hb_spectrum_probe(sp, p, &nodes, &weights, &count, &breakdown);
        fprintf(f, "%s{\"breakdown\":%s,", p ? ",\n" : "", breakdown ? "true" : "false");
        write_numbers(f, "nodes", nodes, count);
        fputc(',', f);
        write_numbers(f, "weights", weights, count);
        fputc('}', f);
    }
    fprintf(f, "]}\n");
    if (outdir_close(rs->cmd, f, rs->blocks_dir, file)) return -1;
    if (add_done(rs, model, index, name) || write_run_json(rs, 0)) return -1;
    if (rs->pause_after_block > 0) { /* tests: room to interrupt between two blocks */
        double s = rs->pause_after_block;
        struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
        nanosleep(&ts, NULL); /* a signal ends it early */
    }
    return 0;
}

static int restore(run_state *rs, hb_context *ctx, const jr_value *doc, const char *path,
                   hb_spectrum **out) {
    const jr_value *dim = jr_get(doc, "dim"), *u = jr_get(doc, "unit_roundoff");
    const jr_value *probes = jr_get(doc, "probes");
    if (!dim || dim->type != JR_NUMBER || !(dim->number >= 1) || !u || u->type != JR_NUMBER ||
        !probes || probes->type != JR_ARRAY || probes->n == 0) {
        runtime_error(rs->cmd, "'%s': not a block spectrum of this tool", path);
        return -1;
    }
    hb_spectrum *sp = NULL;
    int rc = hb_spectrum_create(ctx, (size_t)dim->number, &sp);
    if (!rc) rc = hb_spectrum_set_unit_roundoff(sp, u->number);
    double *buf = NULL;
    for (size_t p = 0; p < probes->n && !rc; p++) {
        const jr_value *nd = jr_get(&probes->items[p], "nodes"), *wt = jr_get(&probes->items[p], "weights");
        const jr_value *br = jr_get(&probes->items[p], "breakdown");
        if (!nd || !wt || nd->type != JR_ARRAY || wt->type != JR_ARRAY || nd->n != wt->n || nd->n == 0) {
            rc = HB_EFORMAT;
            break;
        }
        free(buf);
        if (!(buf = malloc(2 * nd->n * sizeof *buf))) { rc = HB_ENOMEM; break; }
        for (size_t j = 0; j < nd->n; j++) {
            buf[j] = nd->items[j].type == JR_NUMBER ? nd->items[j].number : NAN;
            buf[nd->n + j] = wt->items[j].type == JR_NUMBER ? wt->items[j].number : NAN;
        }
        rc = hb_spectrum_restore_probe(sp, buf, buf + nd->n, nd->n, br && br->number != 0);
    }
    free(buf);
    if (rc) {
        runtime_error(rs->cmd, "'%s': cannot rebuild the spectrum: %s (%s)", path, hb_strerror(rc),
                      hb_context_last_error(ctx));
        hb_spectrum_free(sp);
        return -1;
    }
    *out = sp;
    return 0;
}

int runstate_load_block(run_state *rs, hb_context *ctx, const char *model, size_t index,
                        const char *name, hb_spectrum **out) {
    *out = NULL;
    const run_block *b = find_done(rs, model, index);
    if (!b) return 0;
    if (strcmp(b->name, name) != 0) {
        runtime_error(rs->cmd, "--resume: block %zu of %s is '%s' here but '%s' in the run", index,
                      model, name, b->name);
        return -1;
    }
    char path[4400], err[256];
    snprintf(path, sizeof path, "%s/%s.%zu.json", rs->blocks_dir, model, index);
    jr_value doc;
    if (jr_parse_file(path, &doc, err, sizeof err)) {
        runtime_error(rs->cmd, "'%s': %s", path, err);
        return -1;
    }
    int rc = restore(rs, ctx, &doc, path, out);
    jr_free(&doc);
    return rc ? -1 : 1;
}

int runstate_finish(run_state *rs, int complete) { return write_run_json(rs, complete); }

void runstate_free(run_state *rs) {
    free(rs->done);
    rs->done = NULL;
    rs->ndone = rs->cap = 0;
}
