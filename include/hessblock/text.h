/* libhessblock — text corpora for token-sequence models (a gpt, or an SST/LoRA wrapper
 * of one). docs/data.md, "Text", has the whole story with examples.
 *
 * A corpus is a list of sources (files, or buffers in memory) in the order given — the
 * library never sorts (the hessblock CLI sorts file names bytewise, C locale). It is
 * CHARACTER-level (one byte = one character: the Debian text sources are 7-bit ASCII):
 *   vocabulary  the sorted set of distinct bytes b_0 < b_1 < … < b_{V-1} of the whole
 *               corpus (both splits); token id i stands for byte b_i. A 7-bit English
 *               text gives V ≈ 95; a model needs a vocabulary of at least V.
 *   split       by position, in every source: its last ⌊len/10⌋ bytes go to the
 *               validation split, the rest to the training split (per source, so that no
 *               source lands only in one split, and the validation text never precedes
 *               the training text it is compared with). Each split is the concatenation,
 *               in source order, of its parts; windows may run across the joint between
 *               two parts, as in GPT-style training on concatenated documents.
 * Limits, checked BEFORE anything is allocated: at most HB_TEXT_MAX_SOURCES sources and
 * HB_TEXT_MAX_BYTES bytes in all; every source non-empty.
 * A corpus is read-only once created: several models (of any contexts, one thread each)
 * may read it at the same time. Thread model: a context and every handle made from it are
 * used by one thread at a time; distinct contexts run concurrently. */
#ifndef HESSBLOCK_TEXT_H
#define HESSBLOCK_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "hessblock/core.h"
#include "hessblock/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hb_text_corpus hb_text_corpus;

/* Limits of a corpus (ABI: they only ever grow). */
#define HB_TEXT_MAX_SOURCES 4096
#define HB_TEXT_MAX_BYTES ((uint64_t)1 << 30) /* 1 GiB of text in all */

/* The two splits. Values are ABI. */
typedef enum hb_text_split {
    HB_SPLIT_TRAIN = 1, /* the first len − ⌊len/10⌋ bytes of every source */
    HB_SPLIT_VALID = 2  /* the last ⌊len/10⌋ bytes of every source */
} hb_text_split;

/* hb_text_corpus_create: read the n_files files at paths (in that order) into a corpus.
 * Returns HB_OK; HB_EINVAL (NULL ctx, paths, a path or out; n_files 0 or above
 * HB_TEXT_MAX_SOURCES); HB_EIO (a file cannot be opened, is not a regular file, or reads
 * short — it changed while read; the message names it); HB_EFORMAT (an empty file);
 * HB_EOVERFLOW (more than HB_TEXT_MAX_BYTES bytes in all: checked from the files' sizes
 * before any allocation); HB_ENOMEM. *out is NULL on failure. */
HB_API int hb_text_corpus_create(hb_context *ctx, size_t n_files, const char *const *paths,
                                 hb_text_corpus **out);

/* hb_text_corpus_create_buffers: the same from n_sources buffers in memory (data[i] holds
 * sizes[i] bytes; copied: the caller keeps them). Returns HB_OK, HB_EINVAL (NULL ctx,
 * data, sizes, a data[i] or out; n_sources 0 or above HB_TEXT_MAX_SOURCES), HB_EFORMAT (an
 * empty source), HB_EOVERFLOW (more than HB_TEXT_MAX_BYTES bytes in all), HB_ENOMEM. */
HB_API int hb_text_corpus_create_buffers(hb_context *ctx, size_t n_sources,
                                         const void *const *data, const size_t *sizes,
                                         hb_text_corpus **out);

/* hb_text_corpus_free: accepts NULL. */
HB_API void hb_text_corpus_free(hb_text_corpus *c);

/* hb_text_corpus_vocab_size: V, the number of distinct bytes (0 for NULL). */
HB_API size_t hb_text_corpus_vocab_size(const hb_text_corpus *c);

/* hb_text_corpus_token_byte: the byte (0…255) of token id `token`, or −1 (NULL c, token
 * >= V). hb_text_corpus_byte_token: the token id of `byte`, or −1 (NULL c, a byte that
 * does not occur in the corpus, byte > 255). */
HB_API int hb_text_corpus_token_byte(const hb_text_corpus *c, size_t token);
HB_API int hb_text_corpus_byte_token(const hb_text_corpus *c, unsigned byte);

/* hb_text_corpus_num_tokens: tokens in one split (0 for NULL c or an unknown split). */
HB_API size_t hb_text_corpus_num_tokens(const hb_text_corpus *c, hb_text_split split);

/* hb_text_corpus_copy_tokens: tokens offset … offset + n − 1 of one split as token ids
 * into out (n entries). Returns HB_OK, HB_EINVAL (NULL c, or NULL out with n > 0; unknown
 * split), HB_ERANGE (offset + n beyond the split). Nothing is written on failure. */
HB_API int hb_text_corpus_copy_tokens(const hb_text_corpus *c, hb_text_split split,
                                      size_t offset, size_t n, int32_t *out);

/* hb_model_set_corpus (a gpt, or an SST/LoRA wrapper of one): replace the data by
 * n_batches micro-batches of HB_MK_BATCH windows of one split, sampled exactly as
 * hb_model_set_text samples a file: with S the split's tokens (length len) and T the
 * model's context, sample s (s = first, first + 1, …) is S[o … o + T] with
 * o = (s·T) mod (len − T); inputs are its first T tokens, targets the same shifted by
 * one. Returns HB_OK, HB_EINVAL (NULL m or c, unknown split, n_batches not in 1…2^20),
 * HB_EUNSUPPORTED (neither a gpt nor a wrapper of one), HB_ERANGE (the model's vocabulary
 * is smaller than the corpus's V; the message gives both), HB_EFORMAT (the split holds
 * fewer than T + 1 tokens), HB_ENOMEM. Nothing changes on failure. */
HB_API int hb_model_set_corpus(hb_model *m, const hb_text_corpus *c, hb_text_split split,
                               size_t n_batches, uint64_t first);

#ifdef __cplusplus
}
#endif

#endif /* HESSBLOCK_TEXT_H */
