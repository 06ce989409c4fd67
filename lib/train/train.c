/* The training loop: data per step, loss and gradient, one update, records, periodic
 * held-out evaluation, progress/cancel. See include/hessblock/train.h. */
#include <math.h>
#include <string.h>

#include "hessblock/checkpoint.h"
#include "kernels/kernels.h"
#include "model/model_internal.h"

typedef struct record {
    double step, loss, grad_norm, lr, weight_norm, eval_loss, eval_acc, time;
} record;

struct hb_trainer {
    hb_context *ctx;
    hb_model *m;
    hb_optimizer *opt;
    double lr;
    int64_t eval_every, eval_batches, eval_offset, train_batches, stream, block_norms,
        ckpt_every;
    hb_train_data_fn data_fn, eval_fn;
    void *data_user, *eval_user;
    char *ckpt_path;
    int64_t step;
    record *rec;
    double *bnorm;           /* n_blocks per record (when block_norms was on) */
    unsigned char *has_bnorm;/* per record */
    size_t n_rec, cap_rec, n_blocks;
};

int hb_trainer_create(hb_model *m, hb_optimizer *opt, hb_trainer **out) {
    if (out) *out = NULL;
    if (!m) return HB_EINVAL;
    hb_context *ctx = m->ctx;
    HB_CHECK(ctx, out != NULL, HB_EINVAL, "output pointer is NULL");
    HB_CHECK(ctx, opt == NULL || hb_optimizer_params(opt) == m->params, HB_EINVAL,
             "the optimizer is not over the model's parameters");
    hb_trainer *tr = hb__calloc(ctx, 1, sizeof *tr, "trainer");
    if (!tr) return HB_ENOMEM;
    tr->ctx = ctx;
    tr->m = m;
    tr->opt = opt;
    tr->lr = 0.01;
    tr->eval_batches = 4;
    tr->eval_offset = (int64_t)1 << 40;
    tr->train_batches = 1;
    tr->block_norms = 1;
    tr->n_blocks = m->params->n_blocks;
    *out = tr;
    return HB_OK;
}

void hb_trainer_free(hb_trainer *tr) {
    if (!tr) return;
    hb__free(tr->ctx, tr->rec);
    hb__free(tr->ctx, tr->bnorm);
    hb__free(tr->ctx, tr->has_bnorm);
    hb__free(tr->ctx, tr->ckpt_path);
    hb__free(tr->ctx, tr);
}

int hb_trainer_set_i64(hb_trainer *tr, hb_trainer_opt key, int64_t v) {
    if (!tr) return HB_EINVAL;
    hb_context *ctx = tr->ctx;
    switch (key) {
    case HB_TR_EVAL_EVERY:
        HB_CHECK(ctx, v >= 0, HB_EINVAL, "HB_TR_EVAL_EVERY must be >= 0, got %lld", (long long)v);
        tr->eval_every = v;
        return HB_OK;
    case HB_TR_EVAL_BATCHES:
        HB_CHECK(ctx, v >= 1 && v <= (1 << 20), HB_EINVAL, "HB_TR_EVAL_BATCHES must be in 1..2^20");
        tr->eval_batches = v;
        return HB_OK;
    case HB_TR_EVAL_OFFSET:
        HB_CHECK(ctx, v >= 0, HB_EINVAL, "HB_TR_EVAL_OFFSET must be >= 0");
        tr->eval_offset = v;
        return HB_OK;
    case HB_TR_TRAIN_BATCHES:
        HB_CHECK(ctx, v >= 1 && v <= (1 << 20), HB_EINVAL, "HB_TR_TRAIN_BATCHES must be in 1..2^20");
        tr->train_batches = v;
        return HB_OK;
    case HB_TR_DATA_STREAM:
        HB_CHECK(ctx, v >= 0, HB_EINVAL, "HB_TR_DATA_STREAM must be >= 0");
        tr->stream = v;
        return HB_OK;
    case HB_TR_BLOCK_NORMS:
        HB_CHECK(ctx, v == 0 || v == 1, HB_EINVAL, "HB_TR_BLOCK_NORMS must be 0 or 1");
        tr->block_norms = v;
        return HB_OK;
    case HB_TR_CHECKPOINT_EVERY:
        HB_CHECK(ctx, v >= 0, HB_EINVAL, "HB_TR_CHECKPOINT_EVERY must be >= 0");
        HB_CHECK(ctx, v == 0 || tr->ckpt_path, HB_ESTATE,
                 "set a checkpoint path first (hb_trainer_set_checkpoint)");
        tr->ckpt_every = v;
        return HB_OK;
    default:
        return hb__fail(ctx, HB_EINVAL, "trainer key %d is not an integer option", (int)key);
    }
}

int hb_trainer_set_f64(hb_trainer *tr, hb_trainer_opt key, double v) {
    if (!tr) return HB_EINVAL;
    HB_CHECK(tr->ctx, key == HB_TR_LR, HB_EINVAL, "trainer key %d is not a real option", (int)key);
    HB_CHECK(tr->ctx, isfinite(v) && v > 0, HB_EINVAL, "HB_TR_LR must be finite and > 0, got %g", v);
    tr->lr = v;
    return HB_OK;
}

int hb_trainer_get_i64(const hb_trainer *tr, hb_trainer_opt key, int64_t *v) {
    if (!tr) return HB_EINVAL;
    hb_context *ctx = tr->ctx;
    HB_CHECK(ctx, v != NULL, HB_EINVAL, "value pointer is NULL");
    switch (key) {
    case HB_TR_EVAL_EVERY: *v = tr->eval_every; return HB_OK;
    case HB_TR_EVAL_BATCHES: *v = tr->eval_batches; return HB_OK;
    case HB_TR_EVAL_OFFSET: *v = tr->eval_offset; return HB_OK;
    case HB_TR_TRAIN_BATCHES: *v = tr->train_batches; return HB_OK;
    case HB_TR_DATA_STREAM: *v = tr->stream; return HB_OK;
    case HB_TR_BLOCK_NORMS: *v = tr->block_norms; return HB_OK;
    case HB_TR_CHECKPOINT_EVERY: *v = tr->ckpt_every; return HB_OK;
    default: return hb__fail(ctx, HB_EINVAL, "trainer key %d is not an integer option", (int)key);
    }
}

int hb_trainer_get_f64(const hb_trainer *tr, hb_trainer_opt key, double *v) {
    if (!tr) return HB_EINVAL;
    HB_CHECK(tr->ctx, v != NULL, HB_EINVAL, "value pointer is NULL");
    HB_CHECK(tr->ctx, key == HB_TR_LR, HB_EINVAL, "trainer key %d is not a real option", (int)key);
    *v = tr->lr;
    return HB_OK;
}

int hb_trainer_set_data_fn(hb_trainer *tr, hb_train_data_fn fn, void *user) {
    if (!tr) return HB_EINVAL;
    tr->data_fn = fn;
    tr->data_user = user;
    return HB_OK;
}

int hb_trainer_set_checkpoint(hb_trainer *tr, const char *path, int64_t every) {
    if (!tr) return HB_EINVAL;
    HB_CHECK(tr->ctx, every >= 0, HB_EINVAL, "every must be >= 0");
    HB_CHECK(tr->ctx, every == 0 || (path && path[0]), HB_EINVAL, "a checkpoint path is required");
    char *copy = NULL;
    if (path) {
        size_t len = strlen(path);
        copy = hb__malloc(tr->ctx, len + 1, "checkpoint path");
        if (!copy) return HB_ENOMEM;
        memcpy(copy, path, len + 1);
    }
    hb__free(tr->ctx, tr->ckpt_path);
    tr->ckpt_path = copy;
    tr->ckpt_every = every;
    return HB_OK;
}

int hb_trainer_set_eval_fn(hb_trainer *tr, hb_train_data_fn fn, void *user) {
    if (!tr) return HB_EINVAL;
    tr->eval_fn = fn;
    tr->eval_user = user;
    return HB_OK;
}

int64_t hb_trainer_step(const hb_trainer *tr) { return tr ? tr->step : 0; }
size_t hb_trainer_num_records(const hb_trainer *tr) { return tr ? tr->n_rec : 0; }

/* Room for `more` records, allocated up front so a run never fails half-way on memory. */
static int reserve_records(hb_trainer *tr, size_t more) {
    size_t need;
    HB_CHECK(tr->ctx, hb__add_size(tr->n_rec, more, &need), HB_EOVERFLOW, "too many steps");
    if (need <= tr->cap_rec) return HB_OK;
    size_t nb = tr->n_blocks ? tr->n_blocks : 1, bn_count;
    HB_CHECK(tr->ctx, hb__mul_size(need, nb, &bn_count), HB_EOVERFLOW, "too many steps");
    record *r = hb__calloc(tr->ctx, need, sizeof *r, "trainer records");
    double *bn = hb__calloc(tr->ctx, bn_count, sizeof *bn, "trainer block norms");
    unsigned char *hb = hb__calloc(tr->ctx, need, 1, "trainer record flags");
    if (!r || !bn || !hb) {
        hb__free(tr->ctx, r);
        hb__free(tr->ctx, bn);
        hb__free(tr->ctx, hb);
        return HB_ENOMEM;
    }
    if (tr->n_rec) {
        memcpy(r, tr->rec, tr->n_rec * sizeof *r);
        memcpy(bn, tr->bnorm, tr->n_rec * nb * sizeof *bn);
        memcpy(hb, tr->has_bnorm, tr->n_rec);
    }
    hb__free(tr->ctx, tr->rec);
    hb__free(tr->ctx, tr->bnorm);
    hb__free(tr->ctx, tr->has_bnorm);
    tr->rec = r;
    tr->bnorm = bn;
    tr->has_bnorm = hb;
    tr->cap_rec = need;
    return HB_OK;
}

/* ‖x‖₂ of n elements of dtype (BLIS for f32/f64, a scaled loop for bf16). */
static int norm2(hb_context *ctx, hb_dtype dt, const void *x, size_t n, double *out) {
    if (dt == HB_F32 || dt == HB_F64) return hb__nrm2(ctx, dt, (int64_t)n, x, 1, out);
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double v = hb__load(dt, x, i);
        s += v * v;
    }
    *out = sqrt(s);
    return HB_OK;
}

/* The model's synthetic data: `batches` micro-batches from sample `first` of the stream,
 * or across ranks (a data-parallel model, model.h) this rank's contiguous share of them,
 * batches [batches·r/R, batches·(r+1)/R): the union over the ranks is exactly the data
 * one process uses, so the step is the same (to rounding). */
static int set_synthetic_share(hb_trainer *tr, int64_t batches, uint64_t first) {
    hb_model *m = tr->m;
    if (!hb__model_collective(m))
        return hb_model_set_synthetic(m, (size_t)batches, (uint64_t)tr->stream, first);
    int64_t R = hb__comm_size(m->ctx), r = hb__comm_rank(m->ctx);
    HB_CHECK(tr->ctx, batches >= R, HB_EINVAL,
             "data-parallel over %lld ranks: a step or evaluation needs at least %lld "
             "synthetic micro-batches (HB_TR_TRAIN_BATCHES / HB_TR_EVAL_BATCHES), got %lld",
             (long long)R, (long long)R, (long long)batches);
    int64_t lo = batches * r / R, hi = batches * (r + 1) / R;
    return hb_model_set_synthetic(m, (size_t)(hi - lo), (uint64_t)tr->stream,
                                  first + (uint64_t)lo * (uint64_t)m->default_batch);
}

/* The periodic checkpoint. Across ranks (a data-parallel model) θ and the optimizer state
 * are the same bits on every rank, so rank 0 alone writes; then one allreduce of rank 0's
 * status makes a failed write an error on every rank (and orders the ranks after the
 * write, as a barrier would). */
static int save_checkpoint(hb_trainer *tr) {
    hb_model *m = tr->m;
    if (!hb__model_collective(m)) return hb_checkpoint_save(tr->ckpt_path, m->params, tr->opt);
    bool writer = hb__comm_rank(m->ctx) == 0;
    int rc = writer ? hb_checkpoint_save(tr->ckpt_path, m->params, tr->opt) : HB_OK;
    double status = -(double)rc;
    HB_TRY(hb__comm_allreduce_sum(m->ctx, HB_F64, &status, 1));
    if (rc != HB_OK) return rc;
    HB_CHECK(tr->ctx, status == 0.0, (int)-status,
             "rank 0 could not write the checkpoint %s (%s)", tr->ckpt_path,
             hb_status_name((int)-status));
    return HB_OK;
}

static int set_step_data(hb_trainer *tr, int64_t t) {
    hb_model *m = tr->m;
    if (tr->data_fn) {
        int rc = tr->data_fn(tr->data_user, m, t);
        HB_CHECK(tr->ctx, rc == 0, HB_ECALLBACK, "the data callback returned %d at step %lld", rc,
                 (long long)t);
        return HB_OK;
    }
    if (m->vt->synthetic) {
        uint64_t per_step = (uint64_t)tr->train_batches * (uint64_t)m->default_batch;
        return set_synthetic_share(tr, tr->train_batches, (uint64_t)t * per_step);
    }
    return HB_OK;
}

static int evaluate(hb_trainer *tr, int64_t t, double *loss, double *acc) {
    hb_model *m = tr->m;
    if (tr->eval_fn) {
        int rc = tr->eval_fn(tr->eval_user, m, t);
        HB_CHECK(tr->ctx, rc == 0, HB_ECALLBACK, "the eval callback returned %d at step %lld", rc,
                 (long long)t);
    } else if (m->vt->synthetic) {
        HB_TRY(set_synthetic_share(tr, tr->eval_batches, (uint64_t)tr->eval_offset));
    }
    HB_TRY(hb_model_loss(m, loss));
    if (acc) {
        *acc = NAN;
        if (m->vt->accuracy) HB_TRY(hb_model_accuracy(m, acc));
    }
    return HB_OK;
}

int hb_trainer_evaluate(hb_trainer *tr, double *loss, double *accuracy) {
    if (!tr) return HB_EINVAL;
    HB_CHECK(tr->ctx, loss != NULL, HB_EINVAL, "loss pointer is NULL");
    return evaluate(tr, tr->step, loss, accuracy);
}

/* The built-in update θ ← θ − lr·g on the trainable blocks (frozen blocks never change,
 * as with an optimizer). */
static int gd_step(hb_trainer *tr, double lr) {
    hb_params *p = tr->m->params;
    for (size_t b = 0; b < p->n_blocks; b++) {
        int trainable = 1;
        HB_TRY(hb_params_block_trainable(p, b, &trainable));
        if (!trainable) continue;
        size_t off = p->blocks[b].offset, n = p->blocks[b].numel;
        if (p->dtype == p->grad_dtype) {
            size_t es = hb_dtype_size(p->dtype);
            HB_TRY(hb__axpy(tr->ctx, p->dtype, (int64_t)n, -lr, (const char *)p->grad + off * es, 1,
                            (char *)p->data + off * es, 1));
            continue;
        }
        for (size_t i = off; i < off + n; i++) /* bf16 parameters, f32 gradient */
            hb__store(p->dtype, p->data, i,
                      (double)(float)(hb__load(p->dtype, p->data, i) -
                                      lr * hb__load(p->grad_dtype, p->grad, i)));
    }
    return HB_OK;
}

static int one_step(hb_trainer *tr, int64_t t) {
    hb_model *m = tr->m;
    hb_params *p = m->params;
    hb_context *ctx = tr->ctx;
    HB_TRY(set_step_data(tr, t));
    double lr_scale = 1.0;
    double t0 = hb__seconds();
    /* The model's own schedule (an SST wrapper's iterations), whatever the model is. */
    HB_TRY(hb__model_begin_step(m, t, tr->opt, &lr_scale));
    record r = {(double)t, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    HB_TRY(hb_model_loss_grad(m, &r.loss));
    HB_TRY(norm2(ctx, p->grad_dtype, p->grad, p->n, &r.grad_norm));
    HB_CHECK(ctx, isfinite(r.grad_norm), HB_ENONFINITE,
             "the gradient at step %lld is not finite: step not applied", (long long)t);
    HB_TRY(norm2(ctx, p->dtype, p->data, p->n, &r.weight_norm));
    size_t i = tr->n_rec;
    double *bn = tr->bnorm + i * (tr->n_blocks ? tr->n_blocks : 1);
    if (tr->block_norms)
        for (size_t b = 0; b < p->n_blocks; b++)
            HB_TRY(norm2(ctx, p->dtype, (const char *)p->data + p->blocks[b].offset * hb_dtype_size(p->dtype),
                         p->blocks[b].numel, &bn[b]));
    if (tr->opt) {
        /* The learning rate of the update: global lr · schedule factor · HB_OPT_LR_MULT
           (which an SST wrapper's begin_step set to its re-warm factor; the multiplier
           applies to per-block overrides too). */
        double base, factor, mult;
        HB_TRY(hb_optimizer_get_f64(tr->opt, HB_OPT_LR, &base));
        HB_TRY(hb_optimizer_get_f64(tr->opt, HB_OPT_LR_MULT, &mult));
        HB_TRY(hb_optimizer_lr_factor(tr->opt, hb_optimizer_step_count(tr->opt) + 1, &factor));
        r.lr = base * factor * mult;
        HB_TRY(hb_optimizer_step(tr->opt));
    } else {
        r.lr = tr->lr * lr_scale;
        HB_TRY(gd_step(tr, r.lr));
    }
    HB_TRY(hb__model_end_step(m));
    r.time = hb__seconds() - t0;
    tr->rec[i] = r;
    tr->has_bnorm[i] = (unsigned char)tr->block_norms;
    tr->n_rec++;
    tr->step++;
    return HB_OK;
}

int hb_trainer_run(hb_trainer *tr, int64_t steps) {
    if (!tr) return HB_EINVAL;
    hb_context *ctx = tr->ctx;
    HB_CHECK(ctx, steps >= 1, HB_EINVAL, "steps must be >= 1, got %lld", (long long)steps);
    HB_CHECK(ctx, tr->m->params->n_blocks == tr->n_blocks, HB_ESTATE, "the model changed");
    HB_TRY(reserve_records(tr, (size_t)steps));
    /* With an optimizer, the run continues from its step count: after hb_checkpoint_load
       the data stream, the schedule and an SST wrapper's iteration resume where they were. */
    if (tr->opt) tr->step = hb_optimizer_step_count(tr->opt);
    int64_t target = tr->step + steps;
    for (int64_t s = 0; s < steps; s++) {
        int64_t t = tr->step;
        HB_TRY(one_step(tr, t));
        bool last = s + 1 == steps;
        if ((tr->eval_every > 0 && (t + 1) % tr->eval_every == 0) || (last && tr->eval_every > 0)) {
            record *r = &tr->rec[tr->n_rec - 1];
            HB_TRY(evaluate(tr, t, &r->eval_loss, &r->eval_acc));
        }
        if (tr->ckpt_every > 0 && (t + 1) % tr->ckpt_every == 0)
            HB_TRY(save_checkpoint(tr));
        HB_TRY(hb__progress(ctx, "train", t + 1, target));
    }
    return HB_OK;
}

/* ---- records ---- */

static int rec_value(const record *r, hb_record_key key, double *v) {
    switch (key) {
    case HB_REC_STEP: *v = r->step; return HB_OK;
    case HB_REC_LOSS: *v = r->loss; return HB_OK;
    case HB_REC_GRAD_NORM: *v = r->grad_norm; return HB_OK;
    case HB_REC_LR: *v = r->lr; return HB_OK;
    case HB_REC_WEIGHT_NORM: *v = r->weight_norm; return HB_OK;
    case HB_REC_EVAL_LOSS: *v = r->eval_loss; return HB_OK;
    case HB_REC_EVAL_ACCURACY: *v = r->eval_acc; return HB_OK;
    case HB_REC_TIME: *v = r->time; return HB_OK;
    default: return HB_EINVAL;
    }
}

int hb_trainer_record_f64(const hb_trainer *tr, size_t i, hb_record_key key, double *value) {
    if (!tr) return HB_EINVAL;
    HB_CHECK(tr->ctx, value != NULL, HB_EINVAL, "value pointer is NULL");
    HB_CHECK(tr->ctx, i < tr->n_rec, HB_ERANGE, "record %zu out of range (%zu records)", i, tr->n_rec);
    double v;
    HB_CHECK(tr->ctx, rec_value(&tr->rec[i], key, &v) == HB_OK, HB_EINVAL, "unknown record key %d",
             (int)key);
    *value = v;
    return HB_OK;
}

int hb_trainer_records_f64(const hb_trainer *tr, hb_record_key key, size_t first, size_t n,
                           double *out) {
    if (!tr) return HB_EINVAL;
    HB_CHECK(tr->ctx, out != NULL || n == 0, HB_EINVAL, "out is NULL");
    HB_CHECK(tr->ctx, first <= tr->n_rec && n <= tr->n_rec - first, HB_ERANGE,
             "records [%zu, %zu+%zu) out of range (%zu records)", first, first, n, tr->n_rec);
    double v;
    HB_CHECK(tr->ctx, key >= HB_REC_STEP && key <= HB_REC_TIME, HB_EINVAL, "unknown record key %d",
             (int)key);
    for (size_t j = 0; j < n; j++) {
        rec_value(&tr->rec[first + j], key, &v);
        out[j] = v;
    }
    return HB_OK;
}

int hb_trainer_record_block_norm(const hb_trainer *tr, size_t i, size_t block, double *value) {
    if (!tr) return HB_EINVAL;
    HB_CHECK(tr->ctx, value != NULL, HB_EINVAL, "value pointer is NULL");
    HB_CHECK(tr->ctx, i < tr->n_rec, HB_ERANGE, "record %zu out of range (%zu records)", i, tr->n_rec);
    HB_CHECK(tr->ctx, block < tr->n_blocks, HB_ERANGE, "block %zu out of range (%zu blocks)", block,
             tr->n_blocks);
    HB_CHECK(tr->ctx, tr->has_bnorm[i], HB_ESTATE, "block norms were not recorded at step %zu", i);
    *value = tr->bnorm[i * tr->n_blocks + block];
    return HB_OK;
}
