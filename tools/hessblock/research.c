/* Research outputs of a spectrum (issue 15.4): what a researcher needs to re-analyse a run
 * without re-running it. docs/cli.md, "Research outputs", has the layout of every file.
 *   <model>_ritz.npy       every probe's Gauss quadrature (Ritz values and weights)
 *   <model>_blocks.csv     per block: size, extreme Ritz values, trace ± standard error
 *   <model>_js_stderr.csv  bootstrap standard error of every JS distance
 * The Ritz file is .npy, not CSV: binary f64 keeps every digit (a CSV would need 17
 * significant digits per value to round-trip), it is about 3x smaller, and np.load reads
 * it in one call with no parsing choices to get wrong. */
#include <string.h>

#include "cli.h"
#include "results.h"

/* NPY format 1.0 (numpy.lib.format): magic, version, u16 header length, a Python dict
 * literal padded with spaces and ended by '\n' so the data starts at a multiple of 64;
 * then the little-endian f64 values in C order. */
int npy_write_f64(FILE *f, const double *data, size_t rows, size_t cols) {
    char dict[160];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': False, 'shape': (%zu, %zu), }",
                     rows, cols);
    if (n < 0 || (size_t)n >= sizeof dict) return -1;
    size_t hlen = (size_t)n + 1; /* + '\n' */
    size_t total = 10 + hlen;
    size_t pad = (64 - total % 64) % 64;
    hlen += pad;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    if (fwrite(pre, 1, 10, f) != 10 || fwrite(dict, 1, (size_t)n, f) != (size_t)n) return -1;
    for (size_t i = 0; i < pad; i++) fputc(' ', f);
    fputc('\n', f);
    const uint16_t one = 1;
    unsigned char le;
    memcpy(&le, &one, 1);
    for (size_t i = 0; i < rows * cols; i++) {
        unsigned char b[8];
        memcpy(b, &data[i], 8);
        if (le != 1)
            for (int a = 0, z = 7; a < z; a++, z--) { unsigned char t = b[a]; b[a] = b[z]; b[z] = t; }
        if (fwrite(b, 1, 8, f) != 8) return -1;
    }
    return ferror(f) ? -1 : 0;
}

int write_research_files(const char *cmd, const char *dir, const spec_result *s) {
    char name[128];
    FILE *f;
    if (s->ritz) {
        snprintf(name, sizeof name, "%s_ritz.npy", s->model);
        if (!(f = outdir_open(cmd, dir, name))) return -1;
        if (npy_write_f64(f, s->ritz, s->nritz, RITZ_COLS)) {
            fclose(f);
            runtime_error(cmd, "cannot write '%s/%s'", dir, name);
            return -1;
        }
        if (outdir_close(cmd, f, dir, name)) return -1;
    }
    if (s->nblocks) {
        snprintf(name, sizeof name, "%s_blocks.csv", s->model);
        if (!(f = outdir_open(cmd, dir, name))) return -1;
        fputs("index,block,kind,numel,lambda_min,lambda_max,trace,trace_stderr,numerically_zero\n", f);
        for (size_t b = 0; b < s->nblocks; b++) {
            fprintf(f, "%zu,", b);
            csv_field(f, s->names[b]);
            fprintf(f, ",%s,%lld,%.17g,%.17g,", s->kinds[b], (long long)s->numel[b], s->lmin[b],
                    s->lmax[b]);
            if (s->trace) fprintf(f, "%.17g,%.17g,", s->trace[b], s->trace_stderr[b]);
            else fputs(",,", f);
            fprintf(f, "%s\n", s->zero ? (s->zero[b] ? "1" : "0") : "");
        }
        if (outdir_close(cmd, f, dir, name)) return -1;
    }
    if (s->js_stderr) {
        if (write_block_matrix_csv(cmd, dir, "js_stderr", s, s->js_stderr)) return -1;
    }
    return 0;
}
