/* hessblock CLI: `--data text` for gpt (textdata.h). The corpus files are listed and
 * sorted here (bytewise, C locale) so a run reads the same files in the same order on
 * every machine; the library keeps the order it is given. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "textdata.h"

const char *const text_data_choices[] = {"synthetic", "text", NULL};

/* The default sources (docs/data.md): Debian's fortunes (package fortunes / fortunes-min),
 * then the common licenses (base-files: always present). */
static const char *const default_dirs[] = {"/usr/share/games/fortunes", "/usr/share/common-licenses"};

int textdata_check(const char *cmd, const text_opts *t, int model_kind) {
    int text = t->data == TEXT_DATA_TEXT;
    if (t->text_dir && !text) {
        usage_error(cmd, "--text-dir needs --data text");
        return EXIT_USAGE;
    }
    if (text && model_kind != HB_MODEL_GPT) {
        usage_error(cmd, "--data text needs --model gpt (text is data for token-sequence models)");
        return EXIT_USAGE;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A text source: a regular file (not a link: Debian's *.u8 and GPL → GPL-3 links would
 * repeat text), no hidden file, no fortune index (*.dat, binary). */
static int is_source(const char *dir, const char *name, char *path, size_t cap) {
    size_t l = strlen(name);
    if (name[0] == '.') return 0;
    if (l > 4 && (!strcmp(name + l - 4, ".dat"))) return 0;
    if (l > 3 && !strcmp(name + l - 3, ".u8")) return 0;
    if ((size_t)snprintf(path, cap, "%s/%s", dir, name) >= cap) return 0;
    struct stat st;
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Append DIR's sources, sorted, to *list. Returns 0 or -1 (errno set; ENOENT: no dir). */
static int list_dir(const char *dir, char ***list, size_t *n, size_t *cap) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    size_t start = *n;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        if (!is_source(dir, e->d_name, path, sizeof path)) continue;
        if (*n == *cap) {
            size_t nc = *cap ? 2 * *cap : 64;
            char **nl = realloc(*list, nc * sizeof *nl);
            if (!nl) { closedir(d); errno = ENOMEM; return -1; }
            *list = nl;
            *cap = nc;
        }
        if (!((*list)[*n] = strdup(path))) { closedir(d); errno = ENOMEM; return -1; }
        (*n)++;
    }
    closedir(d);
    qsort(*list + start, *n - start, sizeof **list, cmp_str);
    return 0;
}

int textdata_load(const char *cmd, hb_context *ctx, text_opts *t, model_opts *mo,
                  const model_opts *given) {
    if (t->data != TEXT_DATA_TEXT) return 0;
    char **list = NULL;
    size_t n = 0, cap = 0;
    int status = EXIT_RUNTIME;
    if (t->text_dir) {
        if (list_dir(t->text_dir, &list, &n, &cap) != 0) {
            runtime_error(cmd, "--text-dir '%s': %s", t->text_dir, strerror(errno));
            goto done;
        }
    } else {
        for (size_t i = 0; i < sizeof default_dirs / sizeof *default_dirs; i++)
            if (list_dir(default_dirs[i], &list, &n, &cap) != 0 && errno != ENOENT) {
                runtime_error(cmd, "'%s': %s", default_dirs[i], strerror(errno));
                goto done;
            }
    }
    if (n == 0) {
        runtime_error(cmd, "--data text: no text files in %s%s", t->text_dir ? t->text_dir : default_dirs[0],
                      t->text_dir ? "" : " or /usr/share/common-licenses (apt-get install fortunes)");
        goto done;
    }
    int rc = hb_text_corpus_create(ctx, n, (const char *const *)list, &t->corpus);
    if (rc != HB_OK) {
        runtime_error(cmd, "reading the text corpus failed: %s (%s)", hb_strerror(rc),
                      hb_context_last_error(ctx));
        goto done;
    }
    t->n_files = n;
    int64_t V = (int64_t)hb_text_corpus_vocab_size(t->corpus);
    if (given->vocab && given->vocab < V) {
        usage_error(cmd, "--vocab %lld is smaller than the text's vocabulary (%lld distinct bytes); "
                    "leave --vocab out to use the text's", (long long)given->vocab, (long long)V);
        status = EXIT_USAGE;
        goto done;
    }
    mo->vocab = given->vocab ? given->vocab : V;
    status = 0;
done:
    for (size_t i = 0; i < n; i++) free(list[i]);
    free(list);
    return status;
}

int textdata_set(hb_model *m, const text_opts *t, hb_text_split split, int64_t n_batches) {
    return hb_model_set_corpus(m, t->corpus, split, (size_t)(n_batches > 0 ? n_batches : 1), 0);
}

void textdata_describe(const text_opts *t, char *buf, size_t n) {
    snprintf(buf, n, "text corpus of %zu files, %zu tokens, %zu train / %zu validation",
             t->n_files, hb_text_corpus_vocab_size(t->corpus),
             hb_text_corpus_num_tokens(t->corpus, HB_SPLIT_TRAIN),
             hb_text_corpus_num_tokens(t->corpus, HB_SPLIT_VALID));
}

void textdata_free(text_opts *t) {
    hb_text_corpus_free(t->corpus);
    t->corpus = NULL;
}
