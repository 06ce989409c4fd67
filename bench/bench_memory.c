/* bench_memory: the sizes behind bench/memory_slq.py's memory model of an SLQ run on a gpt
 * (docs/performance.md, "Memory: the largest model for 24 GiB"). Builds the model and prints
 * one JSON line: the parameter count n, every block's size by name, and the engine workspace of one
 * task's Hessian-vector product of k = 1 … probes directions (hb__net_workspace_bytes, at the
 * chunk size the engine takes for k, engine.c chunk_size). Nothing is timed or run.
 *
 *   bench_memory --vocab V --context T --width C --heads H --layers L --batch N --probes K
 *                [--threads P]   (the threads of the task that runs the product: its scratch)
 *
 * Why a program and not the formula alone: the workspace is the engine's own count of the
 * buffers it carves (activations, their gradients, the R-pass copies, scratch), exact by
 * construction, where a hand count of activations is the estimate the CLI's cost line uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hessblock/hessblock.h"
#include "net/engine.h"

#define R_BUDGET_ELEMS ((size_t)1 << 26) /* engine.c R_BUDGET: R workspace per chunk */

static hb_context *ctx;

static void check(int rc, const char *what) {
    if (rc == HB_OK) return;
    fprintf(stderr, "bench_memory: %s failed: %s (%s)\n", what, hb_strerror(rc),
            hb_context_last_error(ctx));
    exit(1);
}

/* engine.c chunk_size: directions per R chunk, balanced; es = 8 (f64 model) */
static size_t chunk_of(size_t b1, size_t b2, size_t k) {
    size_t per = b2 > b1 ? (b2 - b1) / 8 : 0;
    size_t fit = per ? R_BUDGET_ELEMS / per : k;
    if (fit < 1) fit = 1;
    if (fit >= k) return k;
    size_t chunks = (k + fit - 1) / fit;
    return (k + chunks - 1) / chunks;
}

int main(int argc, char **argv) {
    /* the `large` preset's gpt, 4 probes, 1 thread */
    int64_t v[8] = {65, 256, 384, 6, 6, 8, 4, 1};
    const char *names[8] = {"--vocab", "--context", "--width", "--heads", "--layers", "--batch",
                            "--probes", "--threads"};
    for (int i = 1; i + 1 < argc; i += 2) {
        int j = 0;
        while (j < 8 && strcmp(argv[i], names[j]) != 0) j++;
        if (j == 8) {
            fprintf(stderr, "bench_memory: unknown option %s\n", argv[i]);
            return 2;
        }
        v[j] = strtoll(argv[i + 1], NULL, 10);
    }
    check(hb_context_create(&ctx), "hb_context_create");
    /* the scratch of a product is laid out per thread of the task that runs it */
    check(hb_context_set_i64(ctx, HB_CTX_THREADS, v[7]), "--threads");
    hb_model_config *cfg = NULL;
    check(hb_model_config_create(ctx, HB_MODEL_GPT, &cfg), "config");
    const hb_model_key keys[6] = {HB_MK_VOCAB, HB_MK_CONTEXT, HB_MK_WIDTH, HB_MK_HEADS,
                                  HB_MK_LAYERS, HB_MK_BATCH};
    for (int j = 0; j < 6; j++) check(hb_model_config_set_i64(cfg, keys[j], v[j]), names[j]);
    hb_model *m = NULL;
    check(hb_model_create(ctx, cfg, &m), "hb_model_create");
    hb_params *p = hb_model_params(m);
    size_t N = (size_t)v[5], K = (size_t)v[6];
    printf("{\"n\": %zu, \"samples\": %zu, \"blocks\": {", hb_params_count(p), N);
    for (size_t b = 0; b < hb_params_num_blocks(p); b++) { /* names are plain ASCII */
        size_t numel = 0;
        const char *name = NULL;
        hb_params_block_info(p, b, &name, NULL, NULL, &numel, NULL, NULL);
        printf("%s\"%s\": %zu", b ? ", " : "", name, numel);
    }
    size_t b1 = 0, b2 = 0;
    check(hb__net_workspace_bytes(m, N, 1, &b1), "workspace (1 direction)");
    check(hb__net_workspace_bytes(m, N, 2, &b2), "workspace (2 directions)");
    printf("}, \"workspace\": [");
    for (size_t k = 1; k <= K; k++) { /* index k - 1: a product of k directions */
        size_t bytes = 0, chunk = chunk_of(b1, b2, k);
        check(hb__net_workspace_bytes(m, N, chunk, &bytes), "workspace");
        printf("%s%zu", k > 1 ? ", " : "", bytes);
    }
    printf("]}\n");
    hb_model_free(m);
    hb_model_config_free(cfg);
    hb_context_free(ctx);
    return 0;
}
