/* The communicator tests' workload (hb_comm_work.h). */
#include "hb_comm_work.h"

#include <stdio.h>
#include <string.h>

#define CW_TRY(call)                                                                   \
    do {                                                                               \
        int rc_ = (call);                                                              \
        if (rc_ != HB_OK) {                                                            \
            r->rc = rc_;                                                               \
            snprintf(r->where, sizeof r->where, "%.63s", #call);                       \
            snprintf(r->msg, sizeof r->msg, "%s", hb_context_last_error(ctx));         \
            goto done;                                                                 \
        }                                                                              \
    } while (0)

static int append(const hb_spectrum *sp, double *nodes, double *weights, size_t *count,
                  size_t cap) {
    for (size_t p = 0; p < hb_spectrum_num_probes(sp); p++) {
        const double *nd, *wt;
        size_t c;
        int br;
        int rc = hb_spectrum_probe(sp, p, &nd, &wt, &c, &br);
        if (rc != HB_OK) return rc;
        if (*count + c > cap) return HB_ERANGE;
        memcpy(nodes + *count, nd, c * sizeof *nd);
        memcpy(weights + *count, wt, c * sizeof *wt);
        *count += c;
    }
    return HB_OK;
}

/* y = D·x with D = diag(1, 2, …): counts its calls (a serial operator: one at a time). */
static int diag_op(void *user, const double *x, double *y, size_t n) {
    hb_comm_result *r = user;
    r->own_calls++;
    for (size_t i = 0; i < n; i++) y[i] = (double)(i + 1) * x[i];
    return 0;
}

static int on_done(void *user, size_t i, const hb_spectrum *sp) {
    hb_comm_result *r = user;
    if (!sp || r->done_calls >= HB_CW_MAX_ENTRIES) return 1;
    r->done_order[r->done_calls++] = i;
    return 0;
}

void hb_comm_work(hb_context *ctx, int64_t seed, hb_comm_result *r) {
    memset(r, 0, sizeof *r);
    hb_model_config *cfg = NULL;
    hb_model *m = NULL;
    hb_slq *s = NULL;
    hb_linop *op = NULL;
    hb_spectrum *sp = NULL, *bs[HB_CW_MAX_ENTRIES] = {NULL};
    enum { N = 40 };
    double A[N * N];
    CW_TRY(hb_context_set_i64(ctx, HB_CTX_SEED, seed));
    /* a dense symmetric matrix with a spread spectrum (fixed, not random) */
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j <= i; j++)
            A[i * N + j] = A[j * N + i] = i == j ? (double)(i % 7) - 2.0 + 0.1 * (double)i
                                                 : 1.0 / (double)(1 + i + j);
    CW_TRY(hb_slq_create(ctx, &s));
    CW_TRY(hb_slq_set_i64(s, HB_SLQ_PROBES, 7));
    CW_TRY(hb_slq_set_i64(s, HB_SLQ_STEPS, 9));
    CW_TRY(hb_slq_set_i64(s, HB_SLQ_GROUP, 2));
    CW_TRY(hb_linop_create_dense(ctx, A, N, 1, &op));
    CW_TRY(hb_slq_run(s, op, &sp)); /* stream from the context: the same on every rank */
    CW_TRY(append(sp, r->dense_nodes, r->dense_weights, &r->dense_count, HB_CW_MAX_NODES));
    hb_spectrum_free(sp);
    sp = NULL;
    hb_linop_free(op);
    op = NULL;
    CW_TRY(hb_linop_create_callback(ctx, 30, diag_op, r, &op));
    CW_TRY(hb_slq_run(s, op, &sp));
    CW_TRY(append(sp, r->cb_nodes, r->cb_weights, &r->cb_count, HB_CW_MAX_NODES));
    hb_spectrum_free(sp);
    sp = NULL;

    CW_TRY(hb_model_config_create(ctx, HB_MODEL_GPT, &cfg));
    CW_TRY(hb_model_config_set_i64(cfg, HB_MK_LAYERS, 1));
    CW_TRY(hb_model_config_set_i64(cfg, HB_MK_WIDTH, 16));
    CW_TRY(hb_model_config_set_i64(cfg, HB_MK_HEADS, 2));
    CW_TRY(hb_model_config_set_i64(cfg, HB_MK_VOCAB, 12));
    CW_TRY(hb_model_config_set_i64(cfg, HB_MK_CONTEXT, 8));
    CW_TRY(hb_model_config_set_i64(cfg, HB_MK_BATCH, 4));
    CW_TRY(hb_model_create(ctx, cfg, &m));
    CW_TRY(hb_slq_set_i64(s, HB_SLQ_PROBES, 5));
    CW_TRY(hb_slq_set_i64(s, HB_SLQ_STEPS, 8));
    CW_TRY(hb_slq_run_model(s, m, &sp));
    CW_TRY(append(sp, r->full_nodes, r->full_weights, &r->full_count, HB_CW_MAX_NODES));

    size_t B = hb_params_num_blocks(hb_model_params(m));
    if (B + 1 > HB_CW_MAX_ENTRIES) CW_TRY(HB_ERANGE);
    size_t blocks[HB_CW_MAX_ENTRIES];
    for (size_t b = 0; b < B; b++) blocks[b] = b;
    blocks[B] = HB_SLQ_FULL_HESSIAN;
    r->entries = B + 1;
    CW_TRY(hb_slq_set_i64(s, HB_SLQ_PROBES, 3));
    CW_TRY(hb_slq_set_i64(s, HB_SLQ_GROUP, 1));
    CW_TRY(hb_slq_run_model_blocks(s, m, blocks, NULL, B + 1, bs, on_done, r));
    int64_t calls = 0, vectors = 0;
    CW_TRY(hb_slq_get_i64(s, HB_SLQ_STAT_APPLY_CALLS, &calls));
    CW_TRY(hb_slq_get_i64(s, HB_SLQ_STAT_APPLY_VECTORS, &vectors));
    r->calls = calls;
    r->vectors = vectors;
    for (size_t i = 0; i <= B; i++)
        CW_TRY(append(bs[i], r->block_nodes, r->block_weights, &r->block_count,
                      HB_CW_MAX_NODES * 4));
    CW_TRY(hb_spectra_js_matrix((const hb_spectrum *const *)bs, B, NULL, r->js, &r->js_mean));
    /* top-k per block (and of the full Hessian), divided over the ranks */
    CW_TRY(hb_slq_set_i64(s, HB_SLQ_TOPK_MAX_STEPS, 24));
    CW_TRY(hb_slq_topk_model_blocks(s, m, blocks, NULL, B + 1, 3, HB_EIG_LARGEST, r->topk_values,
                                    r->topk_residuals, r->topk_converged));
    CW_TRY(hb_slq_get_i64(s, HB_SLQ_STAT_APPLY_CALLS, &r->topk_calls));
done:
    for (size_t i = 0; i < HB_CW_MAX_ENTRIES; i++) hb_spectrum_free(bs[i]);
    hb_spectrum_free(sp);
    hb_linop_free(op);
    hb_slq_free(s);
    hb_model_free(m);
    hb_model_config_free(cfg);
}

#define SAME(field, bytes)                                                             \
    if (memcmp(a->field, b->field, (bytes)) != 0) {                                    \
        snprintf(why, cap, "%s differs", #field);                                      \
        return 1;                                                                      \
    }
#define SAME_N(field)                                                                  \
    if (a->field != b->field) {                                                        \
        snprintf(why, cap, "%s: %lld vs %lld", #field, (long long)a->field,            \
                 (long long)b->field);                                                 \
        return 1;                                                                      \
    }

int hb_comm_result_diff(const hb_comm_result *a, const hb_comm_result *b, char *why,
                        size_t cap) {
    if (b->rc != HB_OK) {
        snprintf(why, cap, "%s failed: %s (%s)", b->where, hb_status_name(b->rc), b->msg);
        return 1;
    }
    SAME_N(dense_count);
    SAME_N(full_count);
    SAME_N(block_count);
    SAME_N(entries);
    SAME_N(calls);
    SAME_N(vectors);
    SAME_N(done_calls);
    SAME_N(cb_count);
    SAME(cb_nodes, a->cb_count * sizeof(double));
    SAME(cb_weights, a->cb_count * sizeof(double));
    SAME(dense_nodes, a->dense_count * sizeof(double));
    SAME(dense_weights, a->dense_count * sizeof(double));
    SAME(full_nodes, a->full_count * sizeof(double));
    SAME(full_weights, a->full_count * sizeof(double));
    SAME(block_nodes, a->block_count * sizeof(double));
    SAME(block_weights, a->block_count * sizeof(double));
    SAME(js, (a->entries - 1) * (a->entries - 1) * sizeof(double));
    SAME(topk_values, a->entries * 3 * sizeof(double));
    SAME(topk_residuals, a->entries * 3 * sizeof(double));
    SAME(topk_converged, a->entries * sizeof(size_t));
    SAME_N(topk_calls);
    if (memcmp(&a->js_mean, &b->js_mean, sizeof a->js_mean) != 0) {
        snprintf(why, cap, "js_mean differs");
        return 1;
    }
    return 0;
}
