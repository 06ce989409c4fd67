/* The data-across-ranks workload (hb_data_work.h). */
#include "hb_data_work.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define DW_TRY(call)                                                                   \
    do {                                                                               \
        int rc_ = (call);                                                              \
        if (rc_ != HB_OK) {                                                            \
            r->rc = rc_;                                                               \
            snprintf(r->where, sizeof r->where, "%.63s", #call);                       \
            snprintf(r->msg, sizeof r->msg, "%s", hb_context_last_error(ctx));         \
            goto done;                                                                 \
        }                                                                              \
    } while (0)

enum { SAMPLES_PER_BATCH = 4 };

void hb_data_work(hb_context *ctx, int shard, int rank, int size, const char *ckpt_path,
                  hb_data_result *r) {
    memset(r, 0, sizeof *r);
    hb_model_config *cfg = NULL;
    hb_model *m = NULL;
    hb_slq *s = NULL;
    hb_spectrum *sp = NULL, *bsp[2] = {NULL, NULL};
    hb_linop *op = NULL;
    hb_optimizer *opt = NULL;
    hb_trainer *tr = NULL;
    hb_tensor *tv = NULL, *tout = NULL, *tV = NULL, *tOUT = NULL, *tb = NULL, *tbout = NULL;
    DW_TRY(hb_context_set_i64(ctx, HB_CTX_SEED, 11));
    DW_TRY(hb_model_config_create(ctx, HB_MODEL_MLP, &cfg));
    DW_TRY(hb_model_config_set_i64(cfg, HB_MK_INPUTS, 6));
    DW_TRY(hb_model_config_set_i64(cfg, HB_MK_WIDTH, 5));
    DW_TRY(hb_model_config_set_i64(cfg, HB_MK_LAYERS, 1));
    DW_TRY(hb_model_config_set_i64(cfg, HB_MK_CLASSES, 3));
    DW_TRY(hb_model_config_set_i64(cfg, HB_MK_BATCH, SAMPLES_PER_BATCH));
    DW_TRY(hb_model_create(ctx, cfg, &m));
    hb_params *p = hb_model_params(m);
    r->n = hb_params_count(p);
    if (r->n > HB_DW_MAX_N) DW_TRY(HB_ERANGE);
    /* the data: all batches, or this rank's contiguous share of them */
    size_t lo = shard ? (size_t)HB_DW_BATCHES * (size_t)rank / (size_t)size : 0;
    size_t hi = shard ? (size_t)HB_DW_BATCHES * (size_t)(rank + 1) / (size_t)size : HB_DW_BATCHES;
    if (shard) DW_TRY(hb_model_set_data_parallel(m, 1));
    if (hi > lo) DW_TRY(hb_model_set_synthetic(m, hi - lo, 0, lo * SAMPLES_PER_BATCH));

    DW_TRY(hb_model_loss_grad(m, &r->loss));
    memcpy(r->grad, hb_params_grad(p), r->n * sizeof(double));
    DW_TRY(hb_model_accuracy(m, &r->accuracy));

    int64_t shape1[1] = {(int64_t)r->n}, shape2[2] = {2, (int64_t)r->n};
    double v[2 * HB_DW_MAX_N];
    for (size_t i = 0; i < 2 * r->n; i++) v[i] = sin(0.7 * (double)i + 0.3);
    DW_TRY(hb_tensor_wrap(ctx, HB_F64, 1, shape1, v, &tv));
    DW_TRY(hb_tensor_wrap(ctx, HB_F64, 1, shape1, r->hvp, &tout));
    DW_TRY(hb_model_hvp(m, tv, tout));
    DW_TRY(hb_tensor_wrap(ctx, HB_F64, 2, shape2, v, &tV));
    DW_TRY(hb_tensor_wrap(ctx, HB_F64, 2, shape2, r->hvp2, &tOUT));
    DW_TRY(hb_model_hvp_multi(m, tV, tOUT));
    size_t b = 2; /* a block that is not the first: the R-pass starts inside the net */
    DW_TRY(hb_params_block_info(p, b, NULL, NULL, NULL, &r->block_n, NULL, NULL));
    int64_t shapeb[1] = {(int64_t)r->block_n};
    DW_TRY(hb_tensor_wrap(ctx, HB_F64, 1, shapeb, v, &tb));
    DW_TRY(hb_tensor_wrap(ctx, HB_F64, 1, shapeb, r->block_hvp, &tbout));
    DW_TRY(hb_model_block_hvp(m, b, tb, tbout));

    /* SLQ on the model: every product a collective, every task on every rank */
    DW_TRY(hb_slq_create(ctx, &s));
    DW_TRY(hb_slq_set_i64(s, HB_SLQ_PROBES, 3));
    DW_TRY(hb_slq_set_i64(s, HB_SLQ_STEPS, 6));
    DW_TRY(hb_slq_set_i64(s, HB_SLQ_GROUP, 2));
    DW_TRY(hb_slq_run_model(s, m, &sp));
    for (size_t q = 0; q < hb_spectrum_num_probes(sp); q++) {
        const double *nd, *wt;
        size_t c;
        int br;
        DW_TRY(hb_spectrum_probe(sp, q, &nd, &wt, &c, &br));
        if (r->node_count + c > HB_DW_MAX_NODES) DW_TRY(HB_ERANGE);
        memcpy(r->nodes + r->node_count, nd, c * sizeof *nd);
        memcpy(r->weights + r->node_count, wt, c * sizeof *wt);
        r->node_count += c;
    }

    /* one run over a block and the full Hessian: two entries, their tasks in task order */
    size_t entries[2] = {1, HB_SLQ_FULL_HESSIAN};
    DW_TRY(hb_slq_run_model_blocks(s, m, entries, NULL, 2, bsp, NULL, NULL));
    for (size_t i = 0; i < 2; i++)
        for (size_t q = 0; q < hb_spectrum_num_probes(bsp[i]); q++) {
            const double *nd, *wt;
            size_t c;
            int br;
            DW_TRY(hb_spectrum_probe(bsp[i], q, &nd, &wt, &c, &br));
            if (r->node_count + c > HB_DW_MAX_NODES) DW_TRY(HB_ERANGE);
            memcpy(r->nodes + r->node_count, nd, c * sizeof *nd);
            memcpy(r->weights + r->node_count, wt, c * sizeof *wt);
            r->node_count += c;
        }

    /* Hutchinson traces of every block and top-k: their products collectives too */
    r->n_blocks = hb_params_num_blocks(p);
    if (r->n_blocks > 8) DW_TRY(HB_ERANGE);
    DW_TRY(hb_slq_trace_model_blocks(s, m, r->traces, NULL));
    DW_TRY(hb_linop_create_model_hessian(m, &op));
    DW_TRY(hb_slq_topk(s, op, 2, HB_EIG_LARGEST, r->topk, NULL, NULL, NULL));

    /* 20 AdamW steps; the trainer shares each step's synthetic batches out over the ranks */
    DW_TRY(hb_optimizer_create(ctx, HB_OPTIM_ADAMW, p, &opt));
    DW_TRY(hb_optimizer_set_f64(opt, HB_OPT_LR, 0.05));
    DW_TRY(hb_trainer_create(m, opt, &tr));
    DW_TRY(hb_trainer_set_i64(tr, HB_TR_TRAIN_BATCHES, HB_DW_BATCHES));
    DW_TRY(hb_trainer_set_i64(tr, HB_TR_DATA_STREAM, 3));
    DW_TRY(hb_trainer_set_i64(tr, HB_TR_EVAL_BATCHES, HB_DW_BATCHES));
    DW_TRY(hb_trainer_set_i64(tr, HB_TR_EVAL_EVERY, 10));
    if (ckpt_path) DW_TRY(hb_trainer_set_checkpoint(tr, ckpt_path, 10));
    DW_TRY(hb_trainer_run(tr, HB_DW_STEPS));
    DW_TRY(hb_trainer_records_f64(tr, HB_REC_LOSS, 0, HB_DW_STEPS, r->train_loss));
    memcpy(r->theta, hb_params_data(p), r->n * sizeof(double));
done:
    hb_tensor_free(tv);
    hb_tensor_free(tout);
    hb_tensor_free(tV);
    hb_tensor_free(tOUT);
    hb_tensor_free(tb);
    hb_tensor_free(tbout);
    hb_trainer_free(tr);
    hb_optimizer_free(opt);
    hb_spectrum_free(sp);
    hb_spectrum_free(bsp[0]);
    hb_spectrum_free(bsp[1]);
    hb_linop_free(op);
    hb_slq_free(s);
    hb_model_free(m);
    hb_model_config_free(cfg);
}

/* max |b − a| / max |a| over n values (the scale of the quantity, so entries near zero
 * do not dominate) */
static double rel_diff(const double *a, const double *b, size_t n) {
    double scale = 0, diff = 0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(a[i]) > scale) scale = fabs(a[i]);
        if (!(fabs(b[i] - a[i]) <= diff)) diff = fabs(b[i] - a[i]); /* NaN counts */
    }
    return scale > 0 ? diff / scale : diff;
}

#define CLOSE(field, count, tol)                                                         \
    do {                                                                                 \
        double d_ = rel_diff(a->field, b->field, (count));                               \
        if (!(d_ <= (tol))) {                                                            \
            snprintf(why, cap, "%s differs: %.3g relative (tolerance %.1g)", #field, d_, \
                     (tol));                                                             \
            return 1;                                                                    \
        }                                                                                \
    } while (0)

int hb_data_result_diff(const hb_data_result *a, const hb_data_result *b, double rel,
                        double rel_slq, char *why, size_t cap) {
    if (b->rc != HB_OK) {
        snprintf(why, cap, "%s failed: %s (%s)", b->where, hb_status_name(b->rc), b->msg);
        return 1;
    }
    if (a->n != b->n || a->block_n != b->block_n || a->node_count != b->node_count ||
        a->n_blocks != b->n_blocks) {
        snprintf(why, cap, "sizes differ: n %zu/%zu, block %zu/%zu, nodes %zu/%zu", a->n, b->n,
                 a->block_n, b->block_n, a->node_count, b->node_count);
        return 1;
    }
    CLOSE(grad, a->n, rel);
    CLOSE(hvp, a->n, rel);
    CLOSE(hvp2, 2 * a->n, rel);
    CLOSE(block_hvp, a->block_n, rel);
    CLOSE(train_loss, (size_t)HB_DW_STEPS, rel);
    CLOSE(theta, a->n, rel);
    CLOSE(nodes, a->node_count, rel_slq);
    CLOSE(weights, a->node_count, rel_slq);
    CLOSE(traces, a->n_blocks, rel_slq);
    CLOSE(topk, (size_t)2, 1e-7);
    if (!(fabs(a->loss - b->loss) <= rel * fabs(a->loss))) {
        snprintf(why, cap, "loss %.17g vs %.17g", a->loss, b->loss);
        return 1;
    }
    if (a->accuracy != b->accuracy) { /* counts: exact */
        snprintf(why, cap, "accuracy %.17g vs %.17g", a->accuracy, b->accuracy);
        return 1;
    }
    return 0;
}
