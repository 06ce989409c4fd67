/* The generic model layer: argument checks, micro-batch loop and averaging, dtype
 * conversion of vectors, bf16 parameter shadowing. Implementations (vtables) see one
 * micro-batch at a time, in the compute dtype, with arguments already validated. */
#include <math.h>
#include <string.h>

#include "model/model_internal.h"

int hb__model_new(hb_context *ctx, hb_params *params, const hb__model_vtable *vt, hb_model **out) {
    *out = NULL;
    hb_model *m = hb__calloc(ctx, 1, sizeof *m, "model handle");
    if (!m) return HB_ENOMEM;
    m->ctx = ctx;
    m->params = params;
    m->vt = vt;
    m->exact_hvp = true;
    m->compute = params->dtype == HB_BF16 ? HB_F32 : params->dtype;
    m->default_batch = 16;
    hb__model_task_init(&m->task0, ctx);
    if (params->dtype == HB_BF16) {
        m->theta_f32 = hb__calloc(ctx, params->n, sizeof(float), "f32 copy of bf16 parameters");
        if (!m->theta_f32) {
            hb__free(ctx, m);
            return HB_ENOMEM;
        }
    }
    *out = m;
    return HB_OK;
}

const void *hb__model_theta(hb_model *m) {
    return m->theta_f32 ? m->theta_f32 : m->params->data;
}

int hb__model_begin_step(hb_model *m, int64_t step, hb_optimizer *opt, double *lr_scale) {
    *lr_scale = 1.0;
    return m->vt->begin_step ? m->vt->begin_step(m, step, opt, lr_scale) : HB_OK;
}

int hb__model_end_step(hb_model *m) {
    return m->vt->end_step ? m->vt->end_step(m) : HB_OK;
}

static void sync_theta(hb_model *m) {
    if (m->theta_f32)
        hb__convert(m->ctx, HB_F32, m->theta_f32, HB_BF16, m->params->data, m->params->n);
}

static void free_batches(hb_model *m) {
    for (size_t i = 0; i < m->n_batches; i++) {
        hb_tensor_free(m->batches[i].inputs);
        hb_tensor_free(m->batches[i].targets);
    }
    m->n_batches = 0;
    m->n_samples = 0;
}

void hb_model_free(hb_model *m) {
    if (!m) return;
    hb_context *ctx = m->ctx;
    free_batches(m);
    hb__free(ctx, m->batches);
    hb__model_task_free(m, &m->task0); /* before destroy: task_free may read impl */
    if (m->vt->destroy) m->vt->destroy(m);
    hb__free(ctx, m->theta_f32);
    hb_params_free(m->params);
    hb__free(ctx, m);
}

int hb_model_create(hb_context *ctx, const hb_model_config *cfg, hb_model **out) {
    if (out) *out = NULL;
    if (!ctx) return HB_EINVAL;
    HB_CHECK(ctx, cfg != NULL && out != NULL, HB_EINVAL, "config or output pointer is NULL");
    const hb__model_builtin *builtin = hb__model_builtin_of(hb__config_kind(cfg));
    if (!builtin) return hb__fail(ctx, HB_EINVAL, "unknown model kind");
    /* what rebuilds this model (checkpoints record it): the seed and stream counter the
     * constructor draws from, and the configuration */
    const int64_t seed = ctx->seed;
    const uint64_t stream = ctx->next_stream;
    int rc = builtin->create(ctx, cfg, out);
    if (rc != HB_OK) return rc;
    (*out)->kind = hb__config_kind(cfg);
    (*out)->default_batch = hb__config_i64(cfg, HB_MK_BATCH);
    hb__params_origin *o = &(*out)->params->origin;
    memset(o, 0, sizeof *o);
    o->present = true;
    o->kind = (uint32_t)hb__config_kind(cfg);
    o->seed = seed;
    o->stream = stream;
    o->n_keys = (uint32_t)hb__config_entries(cfg, o->keys, HB__ORIGIN_MAX_KEYS);
    o->data = HB__DATA_NONE;
    if ((*out)->vt->synthetic) {
        rc = hb_model_set_synthetic(*out, 1, 0, 0);
        if (rc != HB_OK) {
            hb_model_free(*out);
            *out = NULL;
        }
    }
    return rc;
}

hb_params *hb_model_params(hb_model *m) { return m ? m->params : NULL; }
hb_context *hb_model_context(const hb_model *m) { return m ? m->ctx : NULL; }
int hb_model_kind_of(const hb_model *m) { return m ? m->kind : 0; }
const char *hb_model_name(const hb_model *m) { return m ? m->vt->name : "?"; }
int hb_model_has_exact_hvp(const hb_model *m) { return m ? (int)m->exact_hvp : 0; }
size_t hb_model_num_batches(const hb_model *m) { return m ? m->n_batches : 0; }
size_t hb_model_num_samples(const hb_model *m) { return m ? m->n_samples : 0; }

/* ---- data ---- */

/* One part of micro-batch i, checked (shared by the two getters below). */
static int batch_part(const hb_model *m, size_t i, hb_batch_part part, const hb_tensor **t) {
    HB_CHECK(m->ctx, part == HB_BATCH_INPUTS || part == HB_BATCH_TARGETS, HB_EINVAL,
             "batch part must be HB_BATCH_INPUTS (1) or HB_BATCH_TARGETS (2), got %d", (int)part);
    HB_CHECK(m->ctx, i < m->n_batches, HB_ERANGE, "micro-batch %zu requested, the %s model holds %zu",
             i, m->vt->name, m->n_batches);
    *t = part == HB_BATCH_INPUTS ? m->batches[i].inputs : m->batches[i].targets;
    return HB_OK;
}

int hb_model_batch_shape(const hb_model *m, size_t i, hb_batch_part part, hb_dtype *dtype,
                         int *ndim, int64_t shape[HB_MAX_DIMS]) {
    if (!m) return HB_EINVAL;
    const hb_tensor *t = NULL;
    HB_TRY(batch_part(m, i, part, &t));
    int nd = hb_tensor_ndim(t);
    if (dtype) *dtype = hb_tensor_dtype(t);
    if (ndim) *ndim = nd;
    if (shape)
        for (int d = 0; d < HB_MAX_DIMS; d++) shape[d] = d < nd ? hb_tensor_dim(t, d) : 1;
    return HB_OK;
}

int hb_model_batch_copy(const hb_model *m, size_t i, hb_batch_part part, void *buf, size_t bytes) {
    if (!m) return HB_EINVAL;
    const hb_tensor *t = NULL;
    HB_TRY(batch_part(m, i, part, &t));
    size_t need = hb_tensor_nbytes(t);
    HB_CHECK(m->ctx, buf != NULL, HB_EINVAL, "output buffer is NULL");
    HB_CHECK(m->ctx, bytes >= need, HB_EINVAL,
             "buffer of %zu bytes for the %s of micro-batch %zu, %zu needed", bytes,
             part == HB_BATCH_INPUTS ? "inputs" : "targets", i, need);
    memcpy(buf, hb_tensor_data_const(t), need);
    return HB_OK;
}

static int copy_tensor(hb_context *ctx, const hb_tensor *src, hb_tensor **out) {
    HB_TRY(hb_tensor_create(ctx, src->dtype, src->ndim, src->shape, out));
    return hb_tensor_copy(*out, src);
}

/* Make room for `count` batches in the list (keeps the current ones). */
static int reserve_batches(hb_model *m, size_t count) {
    if (count <= m->cap_batches) return HB_OK;
    size_t cap = m->cap_batches ? 2 * m->cap_batches : 4;
    if (cap < count) cap = count;
    hb__batch *nb = hb__calloc(m->ctx, cap, sizeof *nb, "batch list");
    if (!nb) return HB_ENOMEM;
    if (m->n_batches) memcpy(nb, m->batches, m->n_batches * sizeof *nb);
    hb__free(m->ctx, m->batches);
    m->batches = nb;
    m->cap_batches = cap;
    return HB_OK;
}

/* Append an owned batch (takes x, y on success). */
static int push_batch(hb_model *m, hb_tensor *x, hb_tensor *y, size_t n) {
    HB_TRY(reserve_batches(m, m->n_batches + 1));
    m->batches[m->n_batches++] = (hb__batch){x, y, n};
    m->n_samples += n;
    return HB_OK;
}

static int add_batch(hb_model *m, const hb_tensor *inputs, const hb_tensor *targets, bool replace) {
    if (!m) return HB_EINVAL;
    hb_context *ctx = m->ctx;
    HB_CHECK(ctx, m->vt->check_batch != NULL, HB_EUNSUPPORTED, "a %s model takes no data",
             m->vt->name);
    HB_CHECK(ctx, inputs != NULL && targets != NULL, HB_EINVAL, "inputs or targets is NULL");
    size_t n = 0;
    HB_TRY(m->vt->check_batch(m, inputs, targets, &n));
    hb_tensor *x = NULL, *y = NULL;
    /* Everything that can fail happens before the old data is touched. */
    int rc = copy_tensor(ctx, inputs, &x);
    if (rc == HB_OK) rc = copy_tensor(ctx, targets, &y);
    if (rc == HB_OK) rc = reserve_batches(m, replace ? 1 : m->n_batches + 1);
    if (rc != HB_OK) {
        hb_tensor_free(x);
        hb_tensor_free(y);
        return rc;
    }
    if (replace) free_batches(m);
    /* the caller's batches: a checkpoint cannot say how to rebuild them */
    hb__model_data_changed(m, HB__DATA_EXTERNAL, 0, 0, 0);
    return push_batch(m, x, y, n); /* capacity reserved: cannot fail */
}

int hb_model_set_batch(hb_model *m, const hb_tensor *inputs, const hb_tensor *targets) {
    return add_batch(m, inputs, targets, true);
}

int hb_model_add_batch(hb_model *m, const hb_tensor *inputs, const hb_tensor *targets) {
    return add_batch(m, inputs, targets, false);
}

int hb_model_set_synthetic(hb_model *m, size_t n_batches, uint64_t stream, uint64_t first) {
    if (!m) return HB_EINVAL;
    hb_context *ctx = m->ctx;
    HB_CHECK(ctx, m->vt->synthetic != NULL, HB_EUNSUPPORTED, "a %s model has no synthetic data",
             m->vt->name);
    HB_CHECK(ctx, n_batches >= 1 && n_batches <= (1u << 20), HB_EINVAL,
             "n_batches must be in 1..2^20, got %zu", n_batches);
    /* Build the new list aside, then swap: on failure the old data stays. */
    hb_model tmp = *m;
    tmp.batches = NULL;
    tmp.n_batches = tmp.cap_batches = tmp.n_samples = 0;
    size_t bs = (size_t)m->default_batch;
    int rc = HB_OK;
    for (size_t i = 0; i < n_batches && rc == HB_OK; i++) {
        hb_tensor *x = NULL, *y = NULL;
        rc = m->vt->synthetic(m, bs, stream, first + i * bs, &x, &y);
        if (rc == HB_OK) rc = push_batch(&tmp, x, y, bs);
        if (rc != HB_OK) {
            hb_tensor_free(x);
            hb_tensor_free(y);
        }
    }
    if (rc != HB_OK) {
        free_batches(&tmp);
        hb__free(ctx, tmp.batches);
        return rc;
    }
    free_batches(m);
    hb__free(ctx, m->batches);
    m->batches = tmp.batches;
    m->n_batches = tmp.n_batches;
    m->cap_batches = tmp.cap_batches;
    m->n_samples = tmp.n_samples;
    hb__model_data_changed(m, HB__DATA_SYNTHETIC, stream, n_batches, first);
    return HB_OK;
}

void hb__model_data_changed(hb_model *m, uint32_t data, uint64_t stream, uint64_t batches,
                            uint64_t first) {
    hb__params_origin *o = &m->params->origin;
    if (!o->present) return;
    o->data = data;
    o->data_seed = data == HB__DATA_SYNTHETIC ? m->ctx->seed : 0;
    o->data_stream = data == HB__DATA_SYNTHETIC ? stream : 0;
    /* external data: only its micro-batch count is known (a front end that rebuilds the
     * data, such as hessblock's --data text, needs it; 0 = the caller's batches) */
    o->data_batches = data == HB__DATA_SYNTHETIC || data == HB__DATA_EXTERNAL ? batches : 0;
    o->data_first = data == HB__DATA_SYNTHETIC ? first : 0;
}

/* ---- evaluation ---- */

/* The micro-batches to loop over: the held ones, or one NULL batch for data-free models. */
static int batches_of(hb_model *m, const hb__batch **list, size_t *count) {
    if (!m->vt->check_batch) {
        *list = NULL;
        *count = 1;
        return HB_OK;
    }
    HB_CHECK(m->ctx, m->n_batches > 0, HB_ESTATE, "the %s model holds no data: set a batch first",
             m->vt->name);
    *list = m->batches;
    *count = m->n_batches;
    return HB_OK;
}

static double weight_of(const hb_model *m, const hb__batch *b) {
    return b ? (double)b->n_samples / (double)m->n_samples : 1.0;
}

/* ---- Data across ranks (hb_model_set_data_parallel; docs/scale-out.md) ----------------
 * With the model's data a shard and a communicator of size R > 1 on m->ctx, every sum over
 * micro-batches is a collective: each rank sums its batches weighted by their SAMPLE
 * COUNTS (not by n_b/N: N, the global count, is not known yet), then ONE allreduce_sum
 * (f64) of   [status of rank 0 … R−1 | samples | loss sum | payload]   gives every rank
 * the same sums, and each rank divides by the global sample count N. The mean is over
 * all samples, as one process over all micro-batches computes it (to rounding: Σ n_b·x_b / N
 * instead of Σ (n_b/N)·x_b), and the same bits on every rank (allreduce_sum's contract),
 * so optimizer steps stay in sync with no more communication. The status slots make a
 * failure on one rank (a non-finite value, a failing layer) an error on every rank, not
 * a wait: rank r writes −status at slot r, the others 0. */
#define DP_HEAD(R) ((size_t)(R) + 2) /* status per rank, samples, loss sum */

bool hb__model_collective(const hb_model *m) {
    return m->data_parallel && hb__comm_size(m->ctx) > 1;
}

int hb_model_set_data_parallel(hb_model *m, int on) {
    if (!m) return HB_EINVAL;
    HB_CHECK(m->ctx, on == 0 || on == 1, HB_EINVAL, "data-parallel must be 0 or 1, got %d", on);
    HB_CHECK(m->ctx, !on || m->vt->check_batch != NULL, HB_EUNSUPPORTED,
             "a %s model takes no data: there is nothing to shard across ranks", m->vt->name);
    m->data_parallel = on != 0;
    return HB_OK;
}

/* The task's allreduce buffer of `count` doubles, zeroed (grow-only; on t->ctx). */
static int dp_buffer(hb__model_task *t, size_t count, double **buf) {
    if (count > t->dp_cap) {
        double *nb = hb__calloc(t->ctx, count, sizeof *nb, "data-parallel allreduce buffer");
        if (!nb) return HB_ENOMEM;
        hb__free(t->ctx, t->dp_buf);
        t->dp_buf = nb;
        t->dp_cap = count;
    }
    memset(t->dp_buf, 0, count * sizeof *t->dp_buf);
    *buf = t->dp_buf;
    return HB_OK;
}

/* Sums buf[0..count) over the ranks (m->ctx's hook, on the calling thread: products on
 * SLQ workers of a collective model run serially on the caller's thread, lib/slq), then
 * agrees on the status: this rank's own failure (local_rc, message on ctx) first, else
 * the lowest failed rank's status, else HB_OK with *samples = the global sample count. */
static int dp_reduce(hb_model *m, hb_context *ctx, double *buf, size_t count, int local_rc,
                     double *samples) {
    int R = hb__comm_size(m->ctx), me = hb__comm_rank(m->ctx);
    buf[me] = local_rc == HB_OK ? 0.0 : -(double)local_rc;
    buf[R] = local_rc == HB_OK ? (double)m->n_samples : 0.0;
    int rc = hb__comm_allreduce_sum(m->ctx, HB_F64, buf, count);
    if (rc != HB_OK)
        return ctx == m->ctx ? rc : hb__fail(ctx, rc, "%s", hb_context_last_error(m->ctx));
    if (local_rc != HB_OK) return local_rc;
    for (int r = 0; r < R; r++)
        HB_CHECK(ctx, buf[r] == 0.0, (int)-buf[r],
                 "rank %d of %d failed (%s): the data-parallel call fails on every rank", r, R,
                 hb_status_name((int)-buf[r]));
    HB_CHECK(ctx, buf[R] > 0.0, HB_ESTATE,
             "no rank holds data (data-parallel over %d ranks): set a batch first", R);
    *samples = buf[R];
    return HB_OK;
}

/* eval across ranks: the local sums, one allreduce, the global mean. */
static int eval_collective(hb_model *m, double *loss, bool want_grad) {
    hb_context *ctx = m->ctx;
    hb_params *p = m->params;
    size_t head = DP_HEAD(hb__comm_size(ctx)), count;
    HB_CHECK(ctx, hb__add_size(head, want_grad ? p->n : 0, &count), HB_EOVERFLOW,
             "too many parameters");
    double *buf = NULL;
    HB_TRY(dp_buffer(&m->task0, count, &buf));
    sync_theta(m);
    int rc = want_grad ? hb_params_zero_grad(p) : HB_OK;
    double total = 0;
    for (size_t i = 0; i < m->n_batches && rc == HB_OK; i++) {
        const hb__batch *b = &m->batches[i];
        double w = (double)b->n_samples, l = 0;
        rc = m->vt->loss_grad(m, b, &l, want_grad ? p->grad : NULL, w);
        total += w * l;
    }
    buf[head - 1] = total;
    if (rc == HB_OK && want_grad) hb__convert(ctx, HB_F64, buf + head, p->grad_dtype, p->grad, p->n);
    double N = 1;
    HB_TRY(dp_reduce(m, ctx, buf, count, rc, &N));
    total = buf[head - 1] / N;
    if (want_grad) {
        for (size_t i = 0; i < p->n; i++) buf[head + i] /= N;
        hb__convert(ctx, p->grad_dtype, p->grad, HB_F64, buf + head, p->n);
    }
    if (loss) *loss = total;
    HB_CHECK(ctx, isfinite(total), HB_ENONFINITE, "the loss is not finite (%g)", total);
    return HB_OK;
}

static int eval(hb_model *m, double *loss, bool want_grad) {
    if (!m) return HB_EINVAL;
    if (hb__model_collective(m)) return eval_collective(m, loss, want_grad);
    const hb__batch *list = NULL;
    size_t count = 0;
    HB_TRY(batches_of(m, &list, &count));
    sync_theta(m);
    if (want_grad) HB_TRY(hb_params_zero_grad(m->params));
    double total = 0;
    for (size_t i = 0; i < count; i++) {
        const hb__batch *b = list ? &list[i] : NULL;
        double w = weight_of(m, b), l = 0;
        HB_TRY(m->vt->loss_grad(m, b, &l, want_grad ? m->params->grad : NULL, w));
        total += w * l;
    }
    if (loss) *loss = total;
    HB_CHECK(m->ctx, isfinite(total), HB_ENONFINITE, "the loss is not finite (%g)", total);
    return HB_OK;
}

int hb_model_loss(hb_model *m, double *loss) {
    if (!m) return HB_EINVAL;
    HB_CHECK(m->ctx, loss != NULL, HB_EINVAL, "loss pointer is NULL");
    return eval(m, loss, false);
}

int hb_model_loss_grad(hb_model *m, double *loss) { return eval(m, loss, true); }

int hb_model_accuracy(hb_model *m, double *accuracy) {
    if (!m) return HB_EINVAL;
    HB_CHECK(m->ctx, accuracy != NULL, HB_EINVAL, "accuracy pointer is NULL");
    HB_CHECK(m->ctx, m->vt->accuracy != NULL, HB_EUNSUPPORTED, "a %s model has no accuracy",
             m->vt->name);
    bool across = hb__model_collective(m);
    const hb__batch *list = m->batches;
    size_t count = m->n_batches;
    /* across ranks: [status per rank | samples | correct] + [total], counts exact in f64 */
    size_t head = across ? DP_HEAD(hb__comm_size(m->ctx)) : 0;
    double *buf = NULL, N = 0;
    if (across) HB_TRY(dp_buffer(&m->task0, head + 1, &buf));
    else HB_TRY(batches_of(m, &list, &count));
    sync_theta(m);
    size_t correct = 0, total = 0;
    int rc = HB_OK;
    for (size_t i = 0; i < count && rc == HB_OK; i++) {
        size_t c = 0, t = 0;
        rc = m->vt->accuracy(m, list ? &list[i] : NULL, &c, &t); /* NULL: data-free */
        correct += c;
        total += t;
    }
    if (!across) {
        HB_TRY(rc);
        *accuracy = total ? (double)correct / (double)total : 0.0;
        return HB_OK;
    }
    buf[head - 1] = (double)correct;
    buf[head] = (double)total;
    HB_TRY(dp_reduce(m, m->ctx, buf, head + 1, rc, &N));
    *accuracy = buf[head] > 0 ? buf[head - 1] / buf[head] : 0.0;
    return HB_OK;
}

/* Check a (k, len) or (len) f32/f64 tensor of vectors; finiteness too when `finite`. */
static int check_vectors(hb_context *ctx, const hb_tensor *t, const char *what, size_t len,
                         size_t *k, bool finite) {
    HB_CHECK(ctx, t != NULL, HB_EINVAL, "%s is NULL", what);
    HB_CHECK(ctx, t->dtype == HB_F32 || t->dtype == HB_F64, HB_EDTYPE,
             "%s must be f32 or f64, got dtype %d", what, (int)t->dtype);
    HB_CHECK(ctx, t->numel % len == 0 && t->numel > 0, HB_ESHAPE,
             "%s has %zu elements, not a multiple of %zu", what, t->numel, len);
    *k = t->numel / len;
    if (finite)
        for (size_t i = 0; i < t->numel; i++)
            HB_CHECK(ctx, isfinite(hb__load(t->dtype, t->data, i)), HB_ENONFINITE,
                     "%s holds a non-finite value at element %zu", what, i);
    return HB_OK;
}

void hb__model_task_init(hb__model_task *t, hb_context *ctx) {
    memset(t, 0, sizeof *t);
    t->ctx = ctx;
}

void hb__model_task_free(hb_model *m, hb__model_task *t) {
    if (t->impl && m->vt->task_free) m->vt->task_free(m, t);
    t->impl = NULL;
    hb__free(m->ctx, t->hvp_in);
    hb__free(m->ctx, t->hvp_out);
    t->hvp_in = t->hvp_out = NULL;
    t->hvp_cap = 0;
    hb__free(m->ctx, t->dp_buf);
    t->dp_buf = NULL;
    t->dp_cap = 0;
}

int hb__model_tasks_prepare(hb_model *m) {
    const hb__batch *list = NULL;
    size_t count = 0;
    /* across ranks a rank may hold no batch (more ranks than micro-batches): the products'
     * allreduce finds out whether any rank holds data */
    if (!hb__model_collective(m)) HB_TRY(batches_of(m, &list, &count));
    sync_theta(m);
    return HB_OK;
}

/* The products on task t: k directions V (dtype vdt, k×len) into OUT (odt), block =
 * SIZE_MAX for the full H. Arguments checked by the caller; θ already in sync. */
static int hvp_on_task(hb_model *m, hb__model_task *t, size_t block, size_t k, hb_dtype vdt,
                       const void *V, hb_dtype odt, void *OUT) {
    hb_context *ctx = t->ctx;
    hb_params *p = m->params;
    size_t len = p->n, off = 0;
    if (block != SIZE_MAX) {
        len = p->blocks[block].numel;
        off = p->blocks[block].offset;
    }
    const hb__batch *list = m->batches;
    size_t count = m->vt->check_batch ? m->n_batches : 1;
    hb_dtype cd = m->compute;
    size_t es = hb_dtype_size(cd);
    bool padded = block != SIZE_MAX && !m->vt->block_hvp;
    size_t vlen = padded ? p->n : len; /* length of the vectors the vtable sees */
    size_t total;
    HB_CHECK(ctx, hb__mul_size(k, vlen, &total), HB_EOVERFLOW, "k x n overflows");
    /* Scratch kept between calls: fresh allocations per HVP cost page faults that were
     * measured at ~18% of a small dense model's hvp_multi (docs/performance.md). Grow-only. */
    if (total > t->hvp_cap) {
        void *nin = hb__calloc(ctx, total, es, "HVP input vectors");
        void *nout = nin ? hb__calloc(ctx, total, es, "HVP output vectors") : NULL;
        if (!nin || !nout) {
            hb__free(ctx, nin);
            return ctx->last_status;
        }
        hb__free(ctx, t->hvp_in);
        hb__free(ctx, t->hvp_out);
        t->hvp_in = nin;
        t->hvp_out = nout;
        t->hvp_cap = total;
    }
    void *vin = t->hvp_in, *vout = t->hvp_out;
    if (padded) memset(vin, 0, total * es); /* zeros outside the block */
    memset(vout, 0, total * es);            /* the vtable accumulates */
    for (size_t j = 0; j < k; j++) /* place (and convert) direction j */
        hb__convert(ctx, cd, (char *)vin + (j * vlen + (padded ? off : 0)) * es, vdt,
                    (const char *)V + j * len * hb_dtype_size(vdt), len);
    bool across = hb__model_collective(m);
    double *buf = NULL;
    size_t head = across ? DP_HEAD(hb__comm_size(m->ctx)) : 0, kl = k * len; /* ≤ total */
    if (across) HB_TRY(dp_buffer(t, head + kl, &buf));
    int rc = HB_OK;
    for (size_t i = 0; i < count && rc == HB_OK; i++) {
        const hb__batch *b = m->vt->check_batch ? &list[i] : NULL;
        /* across ranks: weighted by samples, divided by the global count after the sum */
        double w = across ? (double)b->n_samples : weight_of(m, b);
        if (block != SIZE_MAX && m->vt->block_hvp)
            rc = m->vt->block_hvp(m, t, b, block, k, vin, vout, w);
        else
            rc = m->vt->hvp_multi(m, t, b, k, vin, vout, w);
    }
    if (across) { /* [status per rank | samples | (unused) | k×len products], summed */
        if (rc == HB_OK)
            for (size_t j = 0; j < k; j++)
                hb__convert(ctx, HB_F64, buf + head + j * len, cd,
                            (const char *)vout + (j * vlen + (padded ? off : 0)) * es, len);
        double N = 1;
        HB_TRY(dp_reduce(m, ctx, buf, head + kl, rc, &N));
        for (size_t i = 0; i < kl; i++) buf[head + i] /= N;
        hb__convert(ctx, odt, OUT, HB_F64, buf + head, kl);
        return HB_OK;
    }
    if (rc == HB_OK)
        for (size_t j = 0; j < k; j++)
            hb__convert(ctx, odt, (char *)OUT + j * len * hb_dtype_size(odt), cd,
                        (const char *)vout + (j * vlen + (padded ? off : 0)) * es, len);
    return rc;
}

int hb__model_hvp_task(hb_model *m, hb__model_task *t, size_t block, size_t k, const double *V,
                       double *OUT) {
    return hvp_on_task(m, t, block, k, HB_F64, V, HB_F64, OUT);
}

int hb__model_block_cost(hb_model *m, size_t block, size_t k, double *cost) {
    *cost = 0.0;
    if (!m->vt->block_cost) return HB_OK;
    double per_sample = 0.0;
    HB_TRY(m->vt->block_cost(m, block, k, &per_sample));
    /* every micro-batch runs the whole product; a model without data counts as one sample */
    double samples = m->vt->check_batch && m->n_samples > 0 ? (double)m->n_samples : 1.0;
    *cost = per_sample > 0 ? per_sample * samples : 0.0;
    return HB_OK;
}

/* Shared driver of hvp, hvp_multi and block_hvp. block = SIZE_MAX for the full H. */
static int hvp_driver(hb_model *m, size_t block, const hb_tensor *V, hb_tensor *OUT) {
    if (!m) return HB_EINVAL;
    hb_context *ctx = m->ctx;
    hb_params *p = m->params;
    size_t len = p->n;
    if (block != SIZE_MAX) {
        HB_CHECK(ctx, block < p->n_blocks, HB_ERANGE, "block %zu out of range (%zu blocks)", block,
                 p->n_blocks);
        len = p->blocks[block].numel;
    }
    size_t k = 0, k_out = 0; /* set by check_vectors; initialised for -Wmaybe-uninitialized */
    HB_TRY(check_vectors(ctx, V, "v", len, &k, true));
    HB_TRY(check_vectors(ctx, OUT, "out", len, &k_out, false));
    HB_CHECK(ctx, k == k_out, HB_ESHAPE, "v holds %zu vectors but out has room for %zu", k, k_out);
    HB_TRY(hb__model_tasks_prepare(m));
    m->task0.ctx = ctx;
    return hvp_on_task(m, &m->task0, block, k, V->dtype, V->data, OUT->dtype, OUT->data);
}

int hb_model_hvp(hb_model *m, const hb_tensor *v, hb_tensor *out) {
    if (!m) return HB_EINVAL;
    HB_CHECK(m->ctx, v != NULL && out != NULL, HB_EINVAL, "v or out is NULL");
    HB_CHECK(m->ctx, v->numel == m->params->n && out->numel == m->params->n, HB_ESHAPE,
             "hvp needs v and out of %zu elements, got %zu and %zu", m->params->n, v->numel,
             out->numel);
    return hvp_driver(m, SIZE_MAX, v, out);
}

int hb_model_hvp_multi(hb_model *m, const hb_tensor *V, hb_tensor *out) {
    if (!m) return HB_EINVAL;
    HB_CHECK(m->ctx, V != NULL && out != NULL, HB_EINVAL, "V or out is NULL");
    HB_CHECK(m->ctx, V->ndim == 2 && out->ndim == 2 && (size_t)V->shape[1] == m->params->n &&
                         (size_t)out->shape[1] == m->params->n, HB_ESHAPE,
             "hvp_multi needs (k, %zu) tensors", m->params->n);
    return hvp_driver(m, SIZE_MAX, V, out);
}

int hb_model_block_hvp(hb_model *m, size_t block, const hb_tensor *v_b, hb_tensor *out_b) {
    return hvp_driver(m, block, v_b, out_b);
}
