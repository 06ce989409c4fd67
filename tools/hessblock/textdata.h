/* hessblock CLI: real text data for gpt (`--data text`, `--text-dir DIR`; docs/data.md,
 * "Text"). One small block so that other data sources merge beside it. */
#ifndef HESSBLOCK_CLI_TEXTDATA_H
#define HESSBLOCK_CLI_TEXTDATA_H

#include "hessblock/hessblock.h"
#include "cli.h"
#include "compute.h"

typedef struct text_opts {
    int data;             /* index in text_data_choices; -1 = not given (synthetic) */
    const char *text_dir; /* NULL: the Debian sources (fortunes, common licenses) */
    hb_text_corpus *corpus;
    size_t n_files;
} text_opts;

extern const char *const text_data_choices[]; /* "synthetic", "text" */
#define TEXT_DATA_SYNTHETIC 0
#define TEXT_DATA_TEXT 1

/* --text-dir; the source itself is data_opts.h's --data (DATA_TEXT): after parsing,
 * t.data = TEXT_DATA_TEXT when --data text was given, else -1. */
#define TEXT_DATA_OPTS(t)                                                                   \
    {"text-dir", OPT_STRING, &(t).text_dir, 0, 0, NULL, "DIR",                              \
     "--data text: the files of DIR (sorted by name) instead of the Debian fortunes and "   \
     "common licenses"}

/* Usage checks after parsing: --text-dir needs --data text, --data text needs --model gpt
 * and no checkpoint that records synthetic data. Returns 0 or EXIT_USAGE. */
int textdata_check(const char *cmd, const text_opts *t, int model_kind);

/* --data text: read the corpus (the files listed in docs/data.md, or DIR's) and set the
 * gpt's vocabulary from it: mo->vocab = V unless --vocab was given (then it must be >= V:
 * a usage error otherwise). Returns 0, EXIT_USAGE or EXIT_RUNTIME (message printed). */
int textdata_load(const char *cmd, hb_context *ctx, text_opts *t, model_opts *mo,
                  const model_opts *given);

/* The model's data: n_batches micro-batches of one split (HB_OK or the library's code). */
int textdata_set(hb_model *m, const text_opts *t, hb_text_split split, int64_t n_batches);

/* "text corpus of N files, V tokens, X train / Y validation" into buf. */
void textdata_describe(const text_opts *t, char *buf, size_t n);

void textdata_free(text_opts *t);

#endif
