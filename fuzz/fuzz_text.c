/* libFuzzer target for the text corpus loader (tools/fuzz.sh builds and runs it).
 *
 * An input is cut into sources: its first byte b gives n = 1 + b % 4 sources, the rest is
 * cut into n nearly equal parts (an empty part is a legal input that must fail with
 * HB_EFORMAT). The sources go through both constructors — hb_text_corpus_create_buffers
 * and, written to temporary files, hb_text_corpus_create — which must agree exactly
 * (status, vocabulary, both splits). On success the properties of the format are checked
 * (the vocabulary is increasing and the two mappings are inverse; every token id < V;
 * the split sizes are Σ len − ⌊len/10⌋ and Σ ⌊len/10⌋), and a tiny gpt (context
 * 1 + b / 4 % 6; vocabulary max(V, 2), or V − 1 when that is >= 2) gets micro-batches of
 * both splits: either a documented refusal (HB_ERANGE for V − 1, HB_EFORMAT for a split shorter than
 * context + 1, the model's data unchanged) or windows whose loss is finite.
 *
 * Built with -DHB_FUZZ_MAKE_SEEDS it is a plain program that writes the seed corpus into
 * the directory argv[1] (fuzz/corpus/text holds its output). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hessblock/hessblock.h"

#ifndef HB_FUZZ_MAKE_SEEDS
static hb_context *ctx;
static char dir[64];

static void die(const char *what, int rc) {
    fprintf(stderr, "fuzz_text: %s failed: %d %s\n", what, rc, ctx ? hb_context_last_error(ctx) : "");
    abort();
}
#define OK(x) do { int rc_ = (x); if (rc_ != HB_OK) die(#x, rc_); } while (0)
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz_text: %s\n", #c); abort(); } } while (0)

static hb_model *make_gpt(int64_t V, int64_t T) {
    hb_model_config *cfg = NULL;
    hb_model *m = NULL;
    OK(hb_model_config_create(ctx, HB_MODEL_GPT, &cfg));
    OK(hb_model_config_set_i64(cfg, HB_MK_VOCAB, V));
    OK(hb_model_config_set_i64(cfg, HB_MK_CONTEXT, T));
    OK(hb_model_config_set_i64(cfg, HB_MK_WIDTH, 4));
    OK(hb_model_config_set_i64(cfg, HB_MK_HEADS, 1));
    OK(hb_model_config_set_i64(cfg, HB_MK_LAYERS, 1));
    OK(hb_model_config_set_i64(cfg, HB_MK_BATCH, 2));
    OK(hb_model_config_set_i64(cfg, HB_MK_DTYPE, HB_F32));
    OK(hb_model_create(ctx, cfg, &m));
    hb_model_config_free(cfg);
    return m;
}

static void setup(void) {
    if (ctx) return;
    OK(hb_context_create(&ctx));
    snprintf(dir, sizeof dir, "/tmp/hb_fuzz_textXXXXXX");
    if (!mkdtemp(dir)) die("mkdtemp", -1);
}

/* The splits of two corpora are equal. */
static void same(const hb_text_corpus *a, const hb_text_corpus *b) {
    CHECK(hb_text_corpus_vocab_size(a) == hb_text_corpus_vocab_size(b));
    for (size_t t = 0; t < hb_text_corpus_vocab_size(a); t++)
        CHECK(hb_text_corpus_token_byte(a, t) == hb_text_corpus_token_byte(b, t));
    for (int s = HB_SPLIT_TRAIN; s <= HB_SPLIT_VALID; s++) {
        size_t n = hb_text_corpus_num_tokens(a, (hb_text_split)s);
        CHECK(n == hb_text_corpus_num_tokens(b, (hb_text_split)s));
        int32_t *x = malloc((n + 1) * sizeof *x), *y = malloc((n + 1) * sizeof *y);
        CHECK(x && y);
        OK(hb_text_corpus_copy_tokens(a, (hb_text_split)s, 0, n, x));
        OK(hb_text_corpus_copy_tokens(b, (hb_text_split)s, 0, n, y));
        CHECK(memcmp(x, y, n * sizeof *x) == 0);
        for (size_t i = 0; i < n; i++)
            CHECK(x[i] >= 0 && (size_t)x[i] < hb_text_corpus_vocab_size(a));
        CHECK(hb_text_corpus_copy_tokens(a, (hb_text_split)s, n, 1, x) == HB_ERANGE);
        free(x);
        free(y);
    }
}

static void feed(const hb_text_corpus *c, size_t V, int64_t T) {
    for (int small = 0; small < 2; small++) {
        if (small && V < 3) continue; /* a gpt's vocabulary is at least 2 */
        hb_model *m = make_gpt((int64_t)(small ? V - 1 : V < 2 ? 2 : V), T);
        for (int s = HB_SPLIT_TRAIN; s <= HB_SPLIT_VALID; s++) {
            size_t before = hb_model_num_samples(m);
            int rc = hb_model_set_corpus(m, c, (hb_text_split)s, 2, 3);
            size_t n = hb_text_corpus_num_tokens(c, (hb_text_split)s);
            if (small) CHECK(rc == HB_ERANGE);
            else if (n < (size_t)T + 1) CHECK(rc == HB_EFORMAT);
            else CHECK(rc == HB_OK);
            if (rc != HB_OK) {
                CHECK(hb_model_num_samples(m) == before);
                continue;
            }
            double loss = 0;
            OK(hb_model_loss(m, &loss));
            CHECK(loss == loss);
        }
        hb_model_free(m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    if (size < 1) return 0;
    size_t n = 1 + data[0] % 4, rest = size - 1, at = 1;
    const void *src[4];
    size_t len[4];
    char path[4][96];
    const char *paths[4];
    int written = 1;
    for (size_t i = 0; i < n; i++) {
        len[i] = rest / n + (i < rest % n);
        src[i] = data + at;
        at += len[i];
        snprintf(path[i], sizeof path[i], "%s/s%zu", dir, i);
        paths[i] = path[i];
        FILE *f = fopen(path[i], "wb");
        if (!f || fwrite(src[i], 1, len[i], f) != len[i]) written = 0;
        if (f) fclose(f);
    }
    if (!written) die("writing the sources", -1);
    hb_text_corpus *a = NULL, *b = NULL;
    int ra = hb_text_corpus_create_buffers(ctx, n, src, len, &a);
    int rb = hb_text_corpus_create(ctx, n, paths, &b);
    CHECK(ra == rb);
    int any_empty = 0;
    for (size_t i = 0; i < n; i++) any_empty |= len[i] == 0;
    CHECK(ra == (any_empty ? HB_EFORMAT : HB_OK));
    if (ra != HB_OK) {
        CHECK(a == NULL && b == NULL);
        return 0;
    }
    same(a, b);
    size_t V = hb_text_corpus_vocab_size(a), ntr = 0, nva = 0;
    int present[256] = {0};
    for (size_t i = 0; i < n; i++) {
        ntr += len[i] - len[i] / 10;
        nva += len[i] / 10;
        for (size_t j = 0; j < len[i]; j++) present[((const uint8_t *)src[i])[j]] = 1;
    }
    CHECK(hb_text_corpus_num_tokens(a, HB_SPLIT_TRAIN) == ntr);
    CHECK(hb_text_corpus_num_tokens(a, HB_SPLIT_VALID) == nva);
    size_t count = 0;
    for (unsigned byte = 0; byte < 256; byte++) {
        int t = hb_text_corpus_byte_token(a, byte);
        CHECK((t >= 0) == present[byte]);
        if (t >= 0) {
            CHECK((size_t)t == count++);
            CHECK(hb_text_corpus_token_byte(a, (size_t)t) == (int)byte);
        }
    }
    CHECK(count == V && V >= 1);
    feed(a, V, 1 + (int64_t)(data[0] / 4 % 6));
    hb_text_corpus_free(a);
    hb_text_corpus_free(b);
    return 0;
}
#else
/* Seeds: English text in 1..4 sources, a one-byte corpus, all 256 bytes, an empty source. */
int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    static const char *const seeds[][2] = {
        {"english", "\x05The quick brown fox jumps over the lazy dog.\n%\nPack my box with five dozen liquor jugs.\n"},
        {"four", "\x0f" "abcabcabcabc\nzyx zyx zyx\n0123456789 0123456789\n~!@#$%^&*()_+{}|:\"<>?\n"},
        {"one-byte", "\x00" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
        {"empty-part", "\x03" "ab"},
    };
    char path[512];
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++) {
        snprintf(path, sizeof path, "%s/seed-%s", argv[1], seeds[i][0]);
        FILE *f = fopen(path, "wb");
        if (!f) return 1;
        size_t len = strlen(seeds[i][1] + 1) + 1; /* the leading byte may be NUL */
        fwrite(seeds[i][1], 1, len, f);
        fclose(f);
    }
    unsigned char all[257];
    all[0] = 6;
    for (int b = 0; b < 256; b++) all[1 + b] = (unsigned char)(255 - b);
    snprintf(path, sizeof path, "%s/seed-all-bytes", argv[1]);
    FILE *f = fopen(path, "wb");
    if (!f) return 1;
    fwrite(all, 1, sizeof all, f);
    fclose(f);
    return 0;
}
#endif
