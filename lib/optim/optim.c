/* Optimizers over the flat parameter vector: creation, options, overrides, schedules.
 * The update kernels are in step.c. */
#include <fnmatch.h>
#include <math.h>
#include <string.h>

#include "optim/optim_internal.h"

const char *hb_optimizer_kind_name(hb_optimizer_kind kind) {
    switch (kind) {
    case HB_OPTIM_SGD: return "sgd";
    case HB_OPTIM_ADAM: return "adam";
    case HB_OPTIM_ADAMW: return "adamw";
    case HB_OPTIM_ADAM_MINI: return "adam_mini";
    }
    return "?";
}

static bool is_adam(hb_optimizer_kind k) {
    return k == HB_OPTIM_ADAM || k == HB_OPTIM_ADAMW || k == HB_OPTIM_ADAM_MINI;
}

static size_t elem_size(hb_dtype d) { return d == HB_F64 ? 8 : 4; }

static const char *dtype_name(hb_dtype d) {
    return d == HB_F64 ? "f64" : d == HB_F32 ? "f32" : d == HB_BF16 ? "bf16" : "?";
}

int hb_optimizer_create(hb_context *ctx, hb_optimizer_kind kind, hb_params *p,
                        hb_optimizer **out) {
    if (out) *out = NULL;
    if (!ctx) return HB_EINVAL;
    HB_CHECK(ctx, out != NULL, HB_EINVAL, "output pointer is NULL");
    HB_CHECK(ctx, p != NULL, HB_EINVAL, "params is NULL");
    HB_CHECK(ctx, strcmp(hb_optimizer_kind_name(kind), "?") != 0, HB_EINVAL,
             "unknown optimizer kind %d", (int)kind);
    HB_CHECK(ctx, p->finalized, HB_ESTATE, "params must be finalised before creating an optimizer");
    hb_optimizer *o = hb__calloc(ctx, 1, sizeof *o, "optimizer handle");
    if (!o) return HB_ENOMEM;
    o->ctx = ctx;
    o->kind = kind;
    o->p = p;
    o->global = (hb__opt_hp){.lr = 1e-3, .wd = 0, .momentum = 0, .dampening = 0,
                             .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    if (kind == HB_OPTIM_ADAMW) o->global.wd = 1e-2;
    if (kind == HB_OPTIM_ADAM_MINI) o->global.wd = 0.1;
    o->heads = 1;
    o->lr_mult = 1;
    o->sdtype = p->dtype == HB_F64 ? HB_F64 : HB_F32;
    int rc = HB_ENOMEM;
    o->soff = hb__calloc(ctx, p->n_blocks + 1, sizeof *o->soff, "optimizer state table");
    if (!o->soff) goto fail;
    for (size_t b = 0; b < p->n_blocks; b++) /* state only for the trainable blocks */
        o->soff[b + 1] = o->soff[b] + (p->blocks[b].frozen ? 0 : p->blocks[b].numel);
    o->n_state = o->soff[p->n_blocks];
    o->trainable_gen = p->trainable_gen;
    size_t n = o->n_state, es = elem_size(o->sdtype);
    o->n_chunks = (n + HB__CHECK_CHUNK - 1) / HB__CHECK_CHUNK;
    o->hp = hb__calloc(ctx, p->n_blocks, sizeof *o->hp, "optimizer block table");
    o->t0 = hb__calloc(ctx, p->n_blocks, sizeof *o->t0, "optimizer restart steps");
    o->partial = hb__calloc(ctx, o->n_chunks, sizeof *o->partial, "optimizer scratch");
    if (!o->hp || !o->t0 || !o->partial) goto fail;
    if (kind == HB_OPTIM_SGD) {
        o->buf = hb__calloc(ctx, n, es, "SGD momentum buffer");
        if (!o->buf) goto fail;
    } else {
        o->m = hb__calloc(ctx, n, es, "first moment");
        if (!o->m) goto fail;
        if (kind != HB_OPTIM_ADAM_MINI) {
            o->v = hb__calloc(ctx, n, es, "second moment");
            if (!o->v) goto fail;
        }
    }
    *out = o;
    return HB_OK;
fail:
    hb_optimizer_free(o);
    return rc;
}

void hb_optimizer_free(hb_optimizer *opt) {
    if (!opt) return;
    hb_context *ctx = opt->ctx;
    for (size_t i = 0; i < opt->n_ov; i++) hb__free(ctx, opt->ov[i].pattern);
    hb__free(ctx, opt->ov);
    hb__free(ctx, opt->bset);
    hb__free(ctx, opt->bset_mask);
    hb__free(ctx, opt->buf);
    hb__free(ctx, opt->m);
    hb__free(ctx, opt->v);
    hb__free(ctx, opt->part_first);
    hb__free(ctx, opt->master);
    hb__free(ctx, opt->partial);
    hb__free(ctx, opt->hp);
    hb__free(ctx, opt->t0);
    hb__free(ctx, opt->soff);
    hb__free(ctx, opt);
}

/* ---- options ---- */

static bool is_block_key(hb_optimizer_opt key) {
    return key == HB_OPT_LR || key == HB_OPT_WEIGHT_DECAY || key == HB_OPT_MOMENTUM ||
           key == HB_OPT_DAMPENING || key == HB_OPT_BETA1 || key == HB_OPT_BETA2 ||
           key == HB_OPT_EPS;
}

static const char *key_name(hb_optimizer_opt key) {
    switch (key) {
    case HB_OPT_LR: return "LR";
    case HB_OPT_WEIGHT_DECAY: return "WEIGHT_DECAY";
    case HB_OPT_MOMENTUM: return "MOMENTUM";
    case HB_OPT_DAMPENING: return "DAMPENING";
    case HB_OPT_NESTEROV: return "NESTEROV";
    case HB_OPT_BETA1: return "BETA1";
    case HB_OPT_BETA2: return "BETA2";
    case HB_OPT_EPS: return "EPS";
    case HB_OPT_HEADS: return "HEADS";
    case HB_OPT_CLIP_NORM: return "CLIP_NORM";
    case HB_OPT_STOCHASTIC_ROUNDING: return "STOCHASTIC_ROUNDING";
    case HB_OPT_MASTER_COPY: return "MASTER_COPY";
    case HB_OPT_DECAY_NORMS_BIASES: return "DECAY_NORMS_BIASES";
    case HB_OPT_LR_MULT: return "LR_MULT";
    }
    return NULL;
}

static bool is_f64_key(hb_optimizer_opt key) {
    return is_block_key(key) || key == HB_OPT_CLIP_NORM || key == HB_OPT_LR_MULT;
}

/* Is key meaningful for this optimizer (kind, dtype)? Sets the message if not. */
static int key_supported(const hb_optimizer *o, hb_optimizer_opt key) {
    hb_context *ctx = o->ctx;
    HB_CHECK(ctx, key_name(key) != NULL, HB_EINVAL, "unknown optimizer option %d", (int)key);
    bool ok = true;
    switch (key) {
    case HB_OPT_MOMENTUM: case HB_OPT_DAMPENING: case HB_OPT_NESTEROV:
        ok = o->kind == HB_OPTIM_SGD; break;
    case HB_OPT_BETA1: case HB_OPT_BETA2: case HB_OPT_EPS:
        ok = is_adam(o->kind); break;
    case HB_OPT_HEADS: ok = o->kind == HB_OPTIM_ADAM_MINI; break;
    case HB_OPT_STOCHASTIC_ROUNDING: case HB_OPT_MASTER_COPY:
        ok = o->p->dtype == HB_BF16; break;
    default: break;
    }
    HB_CHECK(ctx, ok, HB_EUNSUPPORTED, "option %s does not apply to %s over %s parameters",
             key_name(key), hb_optimizer_kind_name(o->kind), dtype_name(o->p->dtype));
    return HB_OK;
}

/* Range check of an f64 option value. */
static int check_f64(hb_context *ctx, hb_optimizer_opt key, double v) {
    HB_CHECK(ctx, isfinite(v), HB_EINVAL, "option %s must be finite", key_name(key));
    bool ok;
    switch (key) {
    case HB_OPT_MOMENTUM: case HB_OPT_BETA1: case HB_OPT_BETA2: ok = v >= 0 && v < 1; break;
    case HB_OPT_DAMPENING: ok = v >= 0 && v <= 1; break;
    default: ok = v >= 0; break;
    }
    HB_CHECK(ctx, ok, HB_EINVAL, "option %s: value %g out of range", key_name(key), v);
    return HB_OK;
}

static double *hp_field(hb__opt_hp *h, hb_optimizer_opt key) {
    switch (key) {
    case HB_OPT_LR: return &h->lr;
    case HB_OPT_WEIGHT_DECAY: return &h->wd;
    case HB_OPT_MOMENTUM: return &h->momentum;
    case HB_OPT_DAMPENING: return &h->dampening;
    case HB_OPT_BETA1: return &h->beta1;
    case HB_OPT_BETA2: return &h->beta2;
    case HB_OPT_EPS: return &h->eps;
    default: return NULL;
    }
}

int hb_optimizer_set_f64(hb_optimizer *opt, hb_optimizer_opt key, double value) {
    if (!opt) return HB_EINVAL;
    hb_context *ctx = opt->ctx;
    HB_TRY(key_supported(opt, key));
    HB_CHECK(ctx, is_f64_key(key), HB_EINVAL, "option %s is an integer: use hb_optimizer_set_i64",
             key_name(key));
    HB_TRY(check_f64(ctx, key, value));
    if (key == HB_OPT_CLIP_NORM) opt->clip = value;
    else if (key == HB_OPT_LR_MULT) opt->lr_mult = value;
    else *hp_field(&opt->global, key) = value;
    return HB_OK;
}

int hb_optimizer_get_f64(const hb_optimizer *opt, hb_optimizer_opt key, double *value) {
    if (!opt) return HB_EINVAL;
    hb_context *ctx = opt->ctx;
    HB_CHECK(ctx, value != NULL, HB_EINVAL, "value pointer is NULL");
    HB_TRY(key_supported(opt, key));
    HB_CHECK(ctx, is_f64_key(key), HB_EINVAL, "option %s is an integer: use hb_optimizer_get_i64",
             key_name(key));
    hb__opt_hp g = opt->global;
    *value = key == HB_OPT_CLIP_NORM ? opt->clip
             : key == HB_OPT_LR_MULT ? opt->lr_mult
                                     : *hp_field(&g, key);
    return HB_OK;
}

int hb_optimizer_set_i64(hb_optimizer *opt, hb_optimizer_opt key, int64_t value) {
    if (!opt) return HB_EINVAL;
    hb_context *ctx = opt->ctx;
    HB_TRY(key_supported(opt, key));
    HB_CHECK(ctx, !is_f64_key(key), HB_EINVAL, "option %s is real: use hb_optimizer_set_f64",
             key_name(key));
    if (key == HB_OPT_HEADS) {
        HB_CHECK(ctx, value >= 1 && value <= ((int64_t)1 << 31), HB_EINVAL,
                 "HEADS must be in 1..2^31, got %lld", (long long)value);
        HB_CHECK(ctx, opt->t == 0 || value == opt->heads, HB_ESTATE,
                 "HEADS cannot change after the first step (reset the optimizer first)");
        opt->heads = value;
        return HB_OK;
    }
    HB_CHECK(ctx, value == 0 || value == 1, HB_EINVAL, "option %s must be 0 or 1, got %lld",
             key_name(key), (long long)value);
    switch (key) {
    case HB_OPT_NESTEROV: opt->nesterov = (int)value; break;
    case HB_OPT_DECAY_NORMS_BIASES: opt->decay_nb = (int)value; break;
    case HB_OPT_STOCHASTIC_ROUNDING:
        if (value && !opt->has_stream) {
            HB_TRY(hb_context_next_stream(ctx, &opt->stream));
            opt->has_stream = true;
        }
        opt->sr = (int)value;
        break;
    case HB_OPT_MASTER_COPY:
        HB_CHECK(ctx, opt->t == 0 || value == opt->master_on, HB_ESTATE,
                 "MASTER_COPY cannot change after the first step (reset the optimizer first)");
        opt->master_on = (int)value;
        if (!value) {
            hb__free(ctx, opt->master);
            opt->master = NULL;
            opt->master_valid = false;
        }
        break;
    default: break;
    }
    return HB_OK;
}

int hb_optimizer_get_i64(const hb_optimizer *opt, hb_optimizer_opt key, int64_t *value) {
    if (!opt) return HB_EINVAL;
    hb_context *ctx = opt->ctx;
    HB_CHECK(ctx, value != NULL, HB_EINVAL, "value pointer is NULL");
    HB_TRY(key_supported(opt, key));
    HB_CHECK(ctx, !is_f64_key(key), HB_EINVAL, "option %s is real: use hb_optimizer_get_f64",
             key_name(key));
    switch (key) {
    case HB_OPT_HEADS: *value = opt->heads; break;
    case HB_OPT_NESTEROV: *value = opt->nesterov; break;
    case HB_OPT_DECAY_NORMS_BIASES: *value = opt->decay_nb; break;
    case HB_OPT_STOCHASTIC_ROUNDING: *value = opt->sr; break;
    case HB_OPT_MASTER_COPY: *value = opt->master_on; break;
    default: *value = 0; break;
    }
    return HB_OK;
}

/* ---- per-block overrides ---- */

static bool ov_matches(const hb__opt_override *ov, const hb__block *b) {
    if (ov->pattern) return fnmatch(ov->pattern, b->name, 0) == 0;
    return b->kind == ov->kind;
}

static int add_override(hb_optimizer *opt, const char *pattern, hb_block_kind kind,
                        hb_optimizer_opt key, double value) {
    hb_context *ctx = opt->ctx;
    HB_TRY(key_supported(opt, key));
    HB_CHECK(ctx, is_block_key(key), HB_EINVAL, "option %s cannot be set per block", key_name(key));
    HB_TRY(check_f64(ctx, key, value));
    hb__opt_override ov = {NULL, kind, key, value};
    size_t len = 0;
    if (pattern) {
        len = strlen(pattern);
        HB_CHECK(ctx, len >= 1 && len <= 1024, HB_EINVAL, "pattern must have 1..1024 bytes");
        ov.pattern = (char *)pattern; /* for matching only; copied below */
    }
    bool any = false;
    for (size_t i = 0; i < opt->p->n_blocks && !any; i++) any = ov_matches(&ov, &opt->p->blocks[i]);
    if (pattern)
        HB_CHECK(ctx, any, HB_ENOTFOUND, "no block matches the pattern '%s'", pattern);
    else
        HB_CHECK(ctx, any, HB_ENOTFOUND, "no block of kind %s", hb_block_kind_name(kind));
    if (opt->n_ov == opt->cap_ov) {
        size_t cap = opt->cap_ov ? 2 * opt->cap_ov : 8;
        hb__opt_override *nv = hb__calloc(ctx, cap, sizeof *nv, "override table");
        if (!nv) return HB_ENOMEM;
        if (opt->n_ov) memcpy(nv, opt->ov, opt->n_ov * sizeof *nv);
        hb__free(ctx, opt->ov);
        opt->ov = nv;
        opt->cap_ov = cap;
    }
    if (pattern) {
        ov.pattern = hb__malloc(ctx, len + 1, "override pattern");
        if (!ov.pattern) return HB_ENOMEM;
        memcpy(ov.pattern, pattern, len + 1);
    }
    opt->ov[opt->n_ov++] = ov;
    return HB_OK;
}

int hb_optimizer_override_f64(hb_optimizer *opt, const char *pattern, hb_optimizer_opt key,
                              double value) {
    if (!opt) return HB_EINVAL;
    HB_CHECK(opt->ctx, pattern != NULL, HB_EINVAL, "pattern is NULL");
    return add_override(opt, pattern, HB_BLOCK_OTHER, key, value);
}

int hb_optimizer_override_kind_f64(hb_optimizer *opt, hb_block_kind kind, hb_optimizer_opt key,
                                   double value) {
    if (!opt) return HB_EINVAL;
    HB_CHECK(opt->ctx, strcmp(hb_block_kind_name(kind), "?") != 0, HB_EINVAL,
             "unknown block kind %d", (int)kind);
    return add_override(opt, NULL, kind, key, value);
}

int hb_optimizer_set_block_f64(hb_optimizer *opt, size_t index, hb_optimizer_opt key,
                               double value) {
    if (!opt) return HB_EINVAL;
    hb_context *ctx = opt->ctx;
    HB_TRY(key_supported(opt, key));
    HB_CHECK(ctx, is_block_key(key), HB_EINVAL, "option %s cannot be set per block", key_name(key));
    HB_TRY(check_f64(ctx, key, value));
    const size_t nb = opt->p->n_blocks;
    HB_CHECK(ctx, index < nb, HB_ERANGE, "block %zu out of range (%zu blocks)", index, nb);
    if (!opt->bset) { /* both tables or neither: nothing changes on failure */
        hb__opt_hp *v = hb__calloc(ctx, nb, sizeof *v, "per-block option table");
        unsigned *mask = v ? hb__calloc(ctx, nb, sizeof *mask, "per-block option mask") : NULL;
        if (!mask) {
            hb__free(ctx, v);
            return HB_ENOMEM;
        }
        opt->bset = v;
        opt->bset_mask = mask;
    }
    *hp_field(&opt->bset[index], key) = value;
    opt->bset_mask[index] |= 1u << key;
    return HB_OK;
}

/* Effective hyperparameters of block b: global, norms/biases exempt from decay, overrides,
 * then the values set by index (hb_optimizer_set_block_f64). */
static hb__opt_hp resolve(const hb_optimizer *opt, size_t b) {
    const hb__block *blk = &opt->p->blocks[b];
    hb__opt_hp h = opt->global;
    if (!opt->decay_nb && (blk->kind == HB_BLOCK_NORM || blk->kind == HB_BLOCK_BIAS)) h.wd = 0;
    for (size_t i = 0; i < opt->n_ov; i++)
        if (ov_matches(&opt->ov[i], blk)) *hp_field(&h, opt->ov[i].key) = opt->ov[i].value;
    if (opt->bset_mask && opt->bset_mask[b])
        for (int key = HB_OPT_LR; key <= HB_OPT_EPS; key++)
            if (opt->bset_mask[b] & (1u << key)) {
                hb__opt_hp src = opt->bset[b];
                *hp_field(&h, (hb_optimizer_opt)key) = *hp_field(&src, (hb_optimizer_opt)key);
            }
    return h;
}

void hb__optim_resolve_all(hb_optimizer *opt) {
    for (size_t b = 0; b < opt->p->n_blocks; b++) opt->hp[b] = resolve(opt, b);
}

int hb_optimizer_block_f64(const hb_optimizer *opt, size_t index, hb_optimizer_opt key,
                           double *value) {
    if (!opt) return HB_EINVAL;
    hb_context *ctx = opt->ctx;
    HB_CHECK(ctx, value != NULL, HB_EINVAL, "value pointer is NULL");
    HB_TRY(key_supported(opt, key));
    HB_CHECK(ctx, is_block_key(key), HB_EINVAL, "option %s is not per block", key_name(key));
    HB_CHECK(ctx, index < opt->p->n_blocks, HB_ERANGE, "block %zu out of range (%zu blocks)",
             index, opt->p->n_blocks);
    hb__opt_hp h = resolve(opt, index);
    *value = *hp_field(&h, key);
    return HB_OK;
}

/* ---- schedules ---- */

int hb_optimizer_schedule_constant(hb_optimizer *opt) {
    if (!opt) return HB_EINVAL;
    opt->sched = HB__SCHED_CONSTANT;
    return HB_OK;
}

int hb_optimizer_schedule_cosine(hb_optimizer *opt, int64_t warmup, int64_t total, double floor) {
    if (!opt) return HB_EINVAL;
    hb_context *ctx = opt->ctx;
    HB_CHECK(ctx, warmup >= 0 && total > warmup, HB_EINVAL,
             "cosine schedule needs 0 <= warmup < total, got warmup %lld, total %lld",
             (long long)warmup, (long long)total);
    HB_CHECK(ctx, floor >= 0 && floor <= 1, HB_EINVAL, "cosine floor must be in [0, 1], got %g",
             floor);
    opt->sched = HB__SCHED_COSINE;
    opt->warmup = warmup;
    opt->total = total;
    opt->floor = floor;
    return HB_OK;
}

int hb_optimizer_schedule_callback(hb_optimizer *opt, hb_lr_schedule_fn fn, void *user) {
    if (!opt) return HB_EINVAL;
    HB_CHECK(opt->ctx, fn != NULL, HB_EINVAL, "schedule callback is NULL");
    opt->sched = HB__SCHED_CALLBACK;
    opt->sched_fn = fn;
    opt->sched_user = user;
    return HB_OK;
}

int hb_optimizer_lr_factor(hb_optimizer *opt, int64_t step, double *factor) {
    if (!opt) return HB_EINVAL;
    hb_context *ctx = opt->ctx;
    HB_CHECK(ctx, factor != NULL, HB_EINVAL, "factor pointer is NULL");
    HB_CHECK(ctx, step >= 1, HB_EINVAL, "steps count from 1, got %lld", (long long)step);
    double f = 1;
    if (opt->sched == HB__SCHED_COSINE) {
        if (step <= opt->warmup) {
            f = (double)step / (double)opt->warmup;
        } else {
            double prog = (double)(step - opt->warmup) / (double)(opt->total - opt->warmup);
            if (prog > 1) prog = 1;
            f = opt->floor + (1 - opt->floor) * 0.5 * (1 + cos(3.14159265358979323846 * prog));
        }
    } else if (opt->sched == HB__SCHED_CALLBACK) {
        f = opt->sched_fn(opt->sched_user, step);
        HB_CHECK(ctx, isfinite(f) && f >= 0, HB_ECALLBACK,
                 "schedule callback gave %g for step %lld (must be finite and >= 0)", f,
                 (long long)step);
    }
    *factor = f;
    return HB_OK;
}

/* ---- queries ---- */

int64_t hb_optimizer_step_count(const hb_optimizer *opt) { return opt ? opt->t : 0; }
hb_optimizer_kind hb_optimizer_kind_of(const hb_optimizer *opt) {
    return opt ? opt->kind : (hb_optimizer_kind)0;
}
hb_params *hb_optimizer_params(const hb_optimizer *opt) { return opt ? opt->p : NULL; }

int hb_optimizer_reset(hb_optimizer *opt) {
    if (!opt) return HB_EINVAL;
    size_t n = opt->n_state, es = elem_size(opt->sdtype);
    if (opt->buf) memset(opt->buf, 0, n * es);
    if (opt->m) memset(opt->m, 0, n * es);
    if (opt->v) memset(opt->v, 0, (opt->kind == HB_OPTIM_ADAM_MINI ? opt->n_part : n) * es);
    opt->master_valid = false;
    opt->t = 0;
    memset(opt->t0, 0, opt->p->n_blocks * sizeof *opt->t0);
    return HB_OK;
}

int hb_optimizer_reset_block(hb_optimizer *opt, size_t index) {
    if (!opt) return HB_EINVAL;
    const hb_params *p = opt->p;
    HB_CHECK(opt->ctx, index < p->n_blocks, HB_ERANGE, "block %zu out of range (%zu blocks)", index,
             p->n_blocks);
    HB_TRY(hb_optimizer_reset_range(opt, p->blocks[index].offset, p->blocks[index].numel));
    opt->t0[index] = opt->t;
    return HB_OK;
}

int hb_optimizer_block_step_count(const hb_optimizer *opt, size_t index, int64_t *steps) {
    if (!opt) return HB_EINVAL;
    HB_CHECK(opt->ctx, steps != NULL, HB_EINVAL, "steps is NULL");
    HB_CHECK(opt->ctx, index < opt->p->n_blocks, HB_ERANGE, "block %zu out of range (%zu blocks)",
             index, opt->p->n_blocks);
    *steps = opt->t - opt->t0[index];
    return HB_OK;
}

int hb_optimizer_reset_range(hb_optimizer *opt, size_t offset, size_t len) {
    if (!opt) return HB_EINVAL;
    hb_params *p = opt->p;
    HB_CHECK(opt->ctx, offset <= p->n && len <= p->n - offset, HB_ERANGE,
             "state range [%zu, %zu+%zu) outside the %zu parameters", offset, offset, len, p->n);
    if (len == 0) return HB_OK;
    size_t es = elem_size(opt->sdtype);
    bool mini = opt->kind == HB_OPTIM_ADAM_MINI;
    for (size_t b = 0; b < p->n_blocks; b++) {
        const hb__block *B = &p->blocks[b];
        if (B->offset + B->numel <= offset || B->offset >= offset + len) continue;
        if (!hb__optim_trains(opt, b)) continue; /* frozen: no state to reset */
        /* [lo, hi) inside the block, then in state indices from soff[b] */
        size_t lo = offset > B->offset ? offset - B->offset : 0;
        size_t hi = offset + len - B->offset < B->numel ? offset + len - B->offset : B->numel;
        size_t s0 = opt->soff[b] + lo, k = hi - lo;
        if (opt->buf) memset((char *)opt->buf + s0 * es, 0, k * es);
        if (opt->m) memset((char *)opt->m + s0 * es, 0, k * es);
        if (!opt->v) continue;
        if (!mini) {
            memset((char *)opt->v + s0 * es, 0, k * es);
            continue;
        }
        if (!opt->part_first) continue;
        /* partitions: equal consecutive runs */
        size_t first = opt->part_first[b], count = opt->part_first[b + 1] - first;
        size_t size = B->numel / count;
        size_t j0 = lo / size, j1 = (hi - 1) / size + 1;
        memset((char *)opt->v + (first + j0) * es, 0, (j1 - j0) * es);
    }
    return HB_OK;
}

int hb__optim_partition(const hb_optimizer *opt, size_t b, int64_t heads, size_t *count,
                        size_t *size) {
    const hb__block *blk = &opt->p->blocks[b];
    size_t numel = blk->numel, c = numel;
    if (opt->kind == HB_OPTIM_ADAM_MINI) {
        switch (blk->kind) {
        case HB_BLOCK_ATTN_Q: case HB_BLOCK_ATTN_K:
            HB_CHECK(opt->ctx, blk->ndim == 2 && blk->shape[0] % heads == 0, HB_ESHAPE,
                     "Adam-mini: block '%s' (%s) must be 2-d with rows divisible by %lld heads",
                     blk->name, hb_block_kind_name(blk->kind), (long long)heads);
            c = (size_t)heads;
            break;
        case HB_BLOCK_ATTN_V: case HB_BLOCK_ATTN_O: case HB_BLOCK_MLP_IN: case HB_BLOCK_MLP_OUT:
        case HB_BLOCK_EMBEDDING: case HB_BLOCK_HEAD: case HB_BLOCK_LINEAR: case HB_BLOCK_CONV:
            c = (size_t)blk->shape[0];
            break;
        case HB_BLOCK_BIAS: c = numel; break;
        default: c = 1; break; /* NORM, OTHER: one per tensor */
        }
    }
    *count = c;
    *size = numel / c;
    return HB_OK;
}

int hb_optimizer_partitions(const hb_optimizer *opt, size_t index, size_t *count, size_t *size) {
    if (!opt) return HB_EINVAL;
    hb_context *ctx = opt->ctx;
    HB_CHECK(ctx, count != NULL && size != NULL, HB_EINVAL, "output pointer is NULL");
    HB_CHECK(ctx, index < opt->p->n_blocks, HB_ERANGE, "block %zu out of range (%zu blocks)",
             index, opt->p->n_blocks);
    return hb__optim_partition(opt, index, opt->heads, count, size);
}

int hb_optimizer_state_bytes(const hb_optimizer *opt, size_t *bytes) {
    if (!opt) return HB_EINVAL;
    HB_CHECK(opt->ctx, bytes != NULL, HB_EINVAL, "bytes pointer is NULL");
    size_t n = opt->n_state, es = elem_size(opt->sdtype), s = 0;
    if (opt->buf) s += n * es;
    if (opt->m) s += n * es;
    if (opt->v) s += (opt->kind == HB_OPTIM_ADAM_MINI ? opt->n_part : n) * es;
    if (opt->master) s += n * sizeof(float);
    *bytes = s;
    return HB_OK;
}

int hb__optim_prepare(hb_optimizer *opt) {
    hb_context *ctx = opt->ctx;
    size_t nb = opt->p->n_blocks;
    if (opt->kind == HB_OPTIM_ADAM_MINI) {
        size_t total = 0, c, s;
        for (size_t b = 0; b < nb; b++) { /* frozen blocks have no partitions */
            if (!hb__optim_trains(opt, b)) continue;
            HB_TRY(hb__optim_partition(opt, b, opt->heads, &c, &s));
            total += c;
        }
        if (!opt->v || total != opt->n_part) {
            size_t *first = hb__calloc(ctx, nb + 1, sizeof *first, "Adam-mini partition table");
            if (!first) return HB_ENOMEM;
            void *v = hb__calloc(ctx, total, elem_size(opt->sdtype), "Adam-mini second moment");
            if (!v) {
                hb__free(ctx, first);
                return HB_ENOMEM;
            }
            hb__free(ctx, opt->part_first);
            hb__free(ctx, opt->v);
            opt->part_first = first;
            opt->v = v;
            opt->n_part = total;
        }
        size_t acc = 0;
        for (size_t b = 0; b < nb; b++) {
            opt->part_first[b] = acc;
            if (!hb__optim_trains(opt, b)) continue;
            HB_TRY(hb__optim_partition(opt, b, opt->heads, &c, &s));
            acc += c;
        }
        opt->part_first[nb] = acc;
    }
    if (opt->master_on && !opt->master) {
        opt->master = hb__calloc(ctx, opt->n_state, sizeof(float), "f32 master copy");
        if (!opt->master) return HB_ENOMEM;
        opt->master_valid = false;
    }
    return HB_OK;
}
