/* libFuzzer target: random sequences of public API calls (issue 16.3; tools/fuzz.sh).
 *
 * The input is a program: byte 0 chooses which allocation of the context fails (0 = none,
 * so allocation failures are fuzzed too), then each operation is one byte (which call)
 * followed by the bytes of its arguments: slot numbers of the handles it uses (an empty
 * slot passes NULL), sizes, enums and reals from tables of valid and invalid values (NaN,
 * ±Inf, negative, huge). Objects are small (quadratic / mlp / gpt / cnn models of a few
 * dozen parameters, callback models, linops, SLQ, spectra, JS, optimizers, checkpoints to
 * memory, SST wrappers, trainers). Every handle is freed at the end.
 *
 * What counts as a bug: a crash, a sanitizer report (ASan, UBSan), a leak (LeakSanitizer),
 * a status that is neither HB_OK nor a documented negative code, or live blocks of the
 * context's allocator after everything was freed. (Whether a failure left a message is not
 * checked here: a call given a NULL handle has no context to write it to.) Calls that the API contract forbids
 * (freeing a model an optimizer still borrows, say) are not generated: handles are freed
 * only at the end, in dependency order.
 *
 * The allocator refuses single blocks above 64 MiB and more than 256 MiB live, so sizes
 * chosen by the fuzzer end in HB_ENOMEM / HB_EOVERFLOW instead of exhausting the machine.
 * Reals, counts and option values come from small tables so that no input makes the
 * library compute for long (libFuzzer's -timeout would report it). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hessblock/hessblock.h"

/* ---- Input ------------------------------------------------------------------------- */
static const uint8_t *in;
static size_t in_len, in_pos;
static unsigned u8(void) { return in_pos < in_len ? in[in_pos++] : 0; }
static unsigned pick(unsigned n) { return u8() % n; }

static const double reals[] = {0.0, 1.0, -1.0, 0.5, 2.0, 1e-3, 0.9, 0.999, 1e-8, 3.0, 100.0,
                               -0.5, 1e300, -1e300, 1e-310, NAN, INFINITY, -INFINITY, 0.25, 10.0};
static double real(void) { return reals[pick(sizeof reals / sizeof *reals)]; }

static const int64_t ints[] = {0, 1, 2, 3, 4, 1, 2, -1, 5, 8, 16, -2, 3, 1, 2, 7,
                               INT64_MAX, INT64_MIN, (int64_t)1 << 40, 100000};
static int64_t i64(void) { return ints[pick(sizeof ints / sizeof *ints)]; }
static size_t small(void) { return (size_t)pick(6); } /* counts, indices: 0..5 */

/* ---- Allocator: counting, failing at a chosen allocation, capped ------------------------ */
typedef struct { size_t size; size_t pad; } header;
static long alloc_calls, alloc_fail_at, live_blocks;
static size_t live_bytes;
static void *fz_alloc(void *opaque, size_t bytes) {
    (void)opaque;
    alloc_calls++;
    if (alloc_calls == alloc_fail_at) return NULL;
    if (bytes > ((size_t)64 << 20) || live_bytes + bytes > ((size_t)256 << 20)) return NULL;
    header *h = malloc(sizeof(header) + (bytes ? bytes : 1));
    if (!h) return NULL;
    h->size = bytes;
    live_blocks++;
    live_bytes += bytes;
    return h + 1;
}
static void fz_free(void *opaque, void *ptr) {
    (void)opaque;
    if (!ptr) return;
    header *h = (header *)ptr - 1;
    live_blocks--;
    live_bytes -= h->size;
    free(h);
}

/* ---- Handles ----------------------------------------------------------------------------
 * Dependencies (freed at the end in this order): trainers → linops → optimizers → sst
 * wrappers → models → params. A model owns its params; params handed to
 * hb_model_create_callbacks move into the model. */
enum { NT = 4, NP = 2, NM = 4, NO = 2, NL = 2, NS = 4, NTR = 2 };
static hb_context *ctx;
static hb_tensor *tens[NT];
static hb_params *params[NP];
static hb_model *models[NM]; /* slot 3: SST/LoRA wrappers only (they borrow their inner model) */
static hb_optimizer *opts[NO];
static hb_linop *linops[NL];
static hb_slq *slq;
static hb_spectrum *spectra[NS];
static hb_model_config *mcfg;
static hb_sst_config *scfg;
static hb_trainer *trainers[NTR];
static unsigned char ckpt[1 << 16];
static size_t ckpt_len;
static int cb_mode; /* the user callbacks' behaviour: 0 fine, 1 fail, 2 NaN */

static void check_status(int rc) {
    if (rc > 0 || !hb_status_name(rc)) {
        fprintf(stderr, "undocumented status %d\n", rc);
        abort();
    }
}
#define CALL(x) check_status(x)

static int cb_loss_grad(void *user, const double *theta, size_t n, double *loss, double *grad) {
    (void)user;
    if (cb_mode == 1) return 1;
    *loss = 0;
    for (size_t i = 0; i < n; i++) {
        *loss += 0.5 * (double)(i + 1) * theta[i] * theta[i];
        grad[i] = cb_mode == 2 ? NAN : (double)(i + 1) * theta[i];
    }
    return 0;
}
static int cb_hvp(void *user, const double *theta, size_t n, const double *v, double *out) {
    (void)user;
    (void)theta;
    if (cb_mode == 1) return 1;
    for (size_t i = 0; i < n; i++) out[i] = cb_mode == 2 ? NAN : (double)(i + 1) * v[i];
    return 0;
}
static int cb_linop(void *user, const double *x, double *y, size_t n) {
    (void)user;
    if (cb_mode == 1) return 1;
    for (size_t i = 0; i < n; i++) y[i] = cb_mode == 2 ? INFINITY : (2.0 + (double)i) * x[i];
    return 0;
}
static double cb_schedule(void *user, int64_t step) {
    (void)user;
    return cb_mode ? -1.0 : 1.0 / (double)(step + 1);
}
static int cb_progress(void *user, const char *task, int64_t done, int64_t total) {
    (void)user;
    (void)task;
    (void)total;
    return cb_mode == 1 && done > 1;
}
static void cb_log(void *user, int level, const char *message) {
    (void)user;
    (void)level;
    (void)strlen(message);
}
static int cb_data(void *user, hb_model *m, int64_t step) {
    (void)user;
    if (cb_mode == 1) return 1;
    return hb_model_set_synthetic(m, 1, 0, (uint64_t)step) == HB_OK ? 0 : 1;
}

static const double dense4[16] = {4, 1, 0, 0, 1, 3, 1, 0, 0, 1, 2, 1, 0, 0, 1, 1};

/* A model slot (0..2) or, with the wrapper slot, 3. */
static hb_model **model_slot(int wrappers) { return &models[pick(wrappers ? NM : NM - 1)]; }
static hb_model *any_model(void) { return models[pick(NM)]; }

static void new_tensor(void) {
    hb_tensor **t = &tens[pick(NT)];
    if (*t) return;
    int64_t shape[4] = {i64(), i64(), i64(), i64()};
    hb_dtype dt = (hb_dtype)pick(6);
    int ndim = (int)pick(6);
    CALL(hb_tensor_create(ctx, dt, ndim, shape, t));
}

static void new_params(void) {
    hb_params **p = &params[pick(NP)];
    if (*p) return;
    CALL(hb_params_create(ctx, (hb_dtype)pick(5), p));
    if (!*p) return;
    for (unsigned b = 0, nb = pick(4); b < nb; b++) {
        char name[8];
        snprintf(name, sizeof name, "b%u", pick(3));
        int64_t shape[2] = {i64() % 7, i64() % 7};
        CALL(hb_params_add_block(*p, pick(8) ? name : "", (hb_block_kind)pick(14),
                                 (int)pick(3), shape, NULL));
    }
    if (pick(4)) CALL(hb_params_finalize(*p));
}

static void new_model(void) {
    hb_model **m = model_slot(0);
    if (*m) return;
    switch (pick(4)) {
    case 0: { /* a built-in kind from the config slot, made small first */
        if (!mcfg) {
            CALL(hb_model_config_create(ctx, (hb_model_kind)(1 + pick(4)), &mcfg));
            if (!mcfg) return;
            const hb_model_key keys[] = {HB_MK_BATCH, HB_MK_VOCAB, HB_MK_CONTEXT, HB_MK_WIDTH,
                                         HB_MK_HEADS, HB_MK_LAYERS, HB_MK_INPUTS, HB_MK_CLASSES,
                                         HB_MK_IMAGE_SIZE, HB_MK_CONV_WIDTH, HB_MK_CONV_STAGES,
                                         HB_MK_QUAD_BLOCKS, HB_MK_QUAD_BLOCK_SIZE};
            const int64_t vals[] = {2, 7, 3, 4, 2, 1, 3, 3, 4, 2, 1, 2, 3};
            for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
                (void)hb_model_config_set_i64(mcfg, keys[i], vals[i]); /* unused keys: EINVAL */
        }
        CALL(hb_model_create(ctx, mcfg, m));
        break;
    }
    case 1: {
        size_t sizes[2] = {1 + small(), 1 + small()};
        double ev[2][6] = {{1, 2, 3, real(), 5, 6}, {-1, 0.5, 2, 4, 8, real()}};
        const double *evp[2] = {ev[0], ev[1]};
        CALL(hb_model_create_quadratic(ctx, (hb_dtype)(1 + pick(3)), 1 + pick(2), sizes, evp,
                                       NULL, NULL, m));
        break;
    }
    case 2: { /* callbacks over a params slot: taken only on success */
        hb_params **p = &params[pick(NP)];
        CALL(hb_model_create_callbacks(ctx, *p, cb_loss_grad, pick(2) ? cb_hvp : NULL, NULL, m));
        if (*m) *p = NULL;
        break;
    }
    default: { /* an SST/LoRA wrapper of a model into the wrapper slot */
        hb_model *inner = models[pick(NM - 1)];
        if (models[NM - 1] || !inner) return;
        if (!scfg) {
            CALL(hb_sst_config_create(ctx, (hb_sst_method)pick(3), &scfg));
            if (!scfg) return;
            CALL(hb_sst_config_add_kind(scfg, (hb_block_kind)pick(14)));
            CALL(hb_sst_config_set_i64(scfg, (hb_sst_opt)(1 + pick(8)), i64()));
            if (pick(2)) CALL(hb_sst_config_add_block(scfg, pick(2) ? "fc0.weight" : "x"));
        }
        CALL(hb_sst_create(inner, scfg, &models[NM - 1]));
    }
    }
}

static void set_data(void) {
    hb_model *m = any_model();
    switch (pick(4)) {
    case 0: CALL(hb_model_set_synthetic(m, small(), (uint64_t)pick(3), (uint64_t)i64())); break;
    case 1: CALL(hb_model_set_batch(m, tens[pick(NT)], tens[pick(NT)])); break;
    case 2: CALL(hb_model_add_batch(m, tens[pick(NT)], tens[pick(NT)])); break;
    default: {
        size_t i = small();
        hb_dtype dt;
        int nd;
        int64_t shape[HB_MAX_DIMS];
        CALL(hb_model_batch_shape(m, i, (hb_batch_part)pick(3), &dt, &nd, shape));
        unsigned char buf[4096];
        CALL(hb_model_batch_copy(m, i, (hb_batch_part)pick(3), buf, pick(2) ? sizeof buf : small()));
    }
    }
}

static void evaluate(void) {
    hb_model *m = any_model();
    double v;
    hb_tensor *a = tens[pick(NT)], *b = tens[pick(NT)];
    switch (pick(7)) {
    case 0: CALL(hb_model_loss(m, &v)); break;
    case 1: CALL(hb_model_loss_grad(m, pick(2) ? &v : NULL)); break;
    case 2: CALL(hb_model_accuracy(m, &v)); break;
    case 3: CALL(hb_model_hvp(m, a, b)); break;
    case 4: CALL(hb_model_hvp_multi(m, a, b)); break;
    case 5: CALL(hb_model_block_hvp(m, small(), a, b)); break;
    default: {
        double ev[8];
        CALL(hb_model_quadratic_eigenvalues(m, small(), ev, small()));
        CALL(hb_model_quadratic_matrix(m, small(), ev, 8));
    }
    }
}

static void tensor_op(void) {
    hb_tensor *t = tens[pick(NT)];
    double v;
    switch (pick(4)) {
    case 0: CALL(hb_tensor_fill(t, real())); break;
    case 1: CALL(hb_tensor_copy(t, tens[pick(NT)])); break;
    case 2: CALL(hb_tensor_set_f64(t, small(), real())); break;
    default: CALL(hb_tensor_get_f64(t, small(), &v)); break;
    }
}

static void params_op(void) {
    hb_model *m = any_model();
    hb_params *p = pick(2) ? hb_model_params(m) : params[pick(NP)];
    hb_tensor *view = NULL;
    switch (pick(6)) {
    case 0: CALL(hb_params_init_block(p, small(), (hb_init)pick(15), real(), real())); break;
    case 1: CALL(hb_params_set_trainable(p, small(), (int)pick(3))); break;
    case 2: CALL(hb_params_block_view(p, small(), &view)); break;
    case 3: CALL(hb_params_grad_flat_view(p, &view)); break;
    case 4: CALL(hb_params_zero_grad(p)); break;
    default: {
        size_t idx;
        CALL(hb_params_find_block(p, pick(2) ? "fc0.weight" : "b1", &idx));
    }
    }
    if (view) { /* write through a view: the parameters change, nothing else */
        CALL(hb_tensor_fill(view, real()));
        hb_tensor_free(view);
    }
}

static void optim_op(void) {
    hb_optimizer **o = &opts[pick(NO)];
    if (!*o) {
        hb_model *m = any_model();
        CALL(hb_optimizer_create(ctx, (hb_optimizer_kind)pick(6),
                                 pick(4) ? hb_model_params(m) : params[pick(NP)], o));
        return;
    }
    double v;
    switch (pick(8)) {
    case 0: CALL(hb_optimizer_set_f64(*o, (hb_optimizer_opt)pick(16), real())); break;
    case 1: CALL(hb_optimizer_set_i64(*o, (hb_optimizer_opt)pick(16), i64())); break;
    case 2: CALL(hb_optimizer_override_f64(*o, pick(2) ? "*" : "fc*", (hb_optimizer_opt)pick(16), real())); break;
    case 3: CALL(hb_optimizer_override_kind_f64(*o, (hb_block_kind)pick(14), (hb_optimizer_opt)pick(16), real())); break;
    case 4: CALL(hb_optimizer_step(*o)); break;
    case 5:
        switch (pick(3)) {
        case 0: CALL(hb_optimizer_schedule_cosine(*o, i64(), i64(), real())); break;
        case 1: CALL(hb_optimizer_schedule_callback(*o, pick(4) ? cb_schedule : NULL, NULL)); break;
        default: CALL(hb_optimizer_lr_factor(*o, i64(), &v)); break;
        }
        break;
    case 6: CALL(hb_optimizer_reset_range(*o, small(), (size_t)i64())); break;
    default: CALL(hb_optimizer_reset_block(*o, small())); break;
    }
}

static void checkpoint_op(void) {
    hb_optimizer *o = opts[pick(NO)];
    hb_params *p = o && pick(4) ? hb_optimizer_params(o) : hb_model_params(any_model());
    size_t bytes = 0;
    switch (pick(3)) {
    case 0: CALL(hb_checkpoint_size(p, o, &bytes)); break;
    case 1: CALL(hb_checkpoint_save_buffer(p, o, ckpt, pick(8) ? sizeof ckpt : small(), &ckpt_len)); break;
    default: {
        size_t len = ckpt_len;
        if (pick(2) && len) ckpt[pick(256) % len] ^= (unsigned char)(1u << pick(8)); /* a bit flip */
        if (pick(4) == 0) len = small();
        CALL(hb_checkpoint_load_buffer(ckpt, len, p, o));
    }
    }
}

static void linop_op(void) {
    hb_linop **l = &linops[pick(NL)];
    if (!*l) {
        hb_model *m = any_model();
        switch (pick(4)) {
        case 0: CALL(hb_linop_create_dense(ctx, dense4, pick(5), (int)pick(3), l)); break; /* n <= 4 */
        case 1: CALL(hb_linop_create_callback(ctx, small(), cb_linop, NULL, l)); break;
        case 2: CALL(hb_linop_create_model_hessian(m, l)); break;
        default: CALL(hb_linop_create_model_block(m, small(), l)); break;
        }
        return;
    }
    double X[64], Y[64];
    size_t n = hb_linop_size(*l), k = small();
    for (size_t i = 0; i < 64; i++) X[i] = real();
    if (k * n <= 64) CALL(hb_linop_apply(*l, k, X, Y));
}

static void slq_op(void) {
    if (!slq) {
        CALL(hb_slq_create(ctx, &slq));
        if (slq) CALL(hb_slq_set_i64(slq, HB_SLQ_STEPS, 6)); /* keep runs short */
        return;
    }
    hb_spectrum **sp = &spectra[pick(NS)];
    hb_linop *l = linops[pick(NL)];
    hb_model *m = any_model();
    double tr, se, vals[4], vecs[4 * 64], res[4];
    size_t conv;
    switch (pick(7)) {
    case 0: {
        int64_t v = i64();
        hb_slq_opt key = (hb_slq_opt)pick(8);
        /* probes and steps stay small: the fuzzer's time goes to many calls, not one */
        if ((key == HB_SLQ_PROBES || key == HB_SLQ_STEPS || key == HB_SLQ_TOPK_MAX_STEPS) && v > 8)
            v = INT64_MAX; /* rejected or capped, never long */
        if (key == HB_SLQ_PROBES && v == INT64_MAX) v = -1;
        CALL(hb_slq_set_i64(slq, key, v));
        CALL(hb_slq_set_f64(slq, (hb_slq_opt)(20 + pick(3)), real()));
        break;
    }
    case 1: if (!*sp) CALL(hb_slq_run(slq, l, sp)); break;
    case 2: if (!*sp) CALL(hb_slq_run_model(slq, m, sp)); break;
    case 3: if (!*sp) CALL(hb_slq_run_model_block(slq, m, small(), sp)); break;
    case 4: CALL(hb_slq_trace(slq, l, &tr, pick(2) ? &se : NULL)); break;
    case 5:
        if (hb_linop_size(l) <= 64) {
            size_t k = small() % 5;
            CALL(hb_slq_topk(slq, l, k, (hb_eig_which)pick(4), vals, pick(2) ? vecs : NULL, res, &conv));
        }
        break;
    default: {
        double traces[64], stderrs[64];
        if (hb_params_num_blocks(hb_model_params(m)) <= 64)
            CALL(hb_slq_trace_model_blocks(slq, m, traces, stderrs));
    }
    }
}

static void spectrum_op(void) {
    hb_spectrum **sp = &spectra[pick(NS)];
    if (!*sp) {
        CALL(hb_spectrum_create(ctx, small(), sp));
        return;
    }
    hb_js_options o = HB_JS_OPTIONS_INIT;
    o.normalize = (int)pick(3);
    o.grid_points = pick(2) ? 16 + small() : (size_t)i64();
    if (o.grid_points > 4096) o.grid_points = 1u << 30; /* refused by the allocator */
    o.sigma_rel = real();
    o.grid = (int)pick(3);
    o.zero_rel_tol = pick(2) ? -1.0 : real();
    o.keep_zero = (int)pick(3);
    if (pick(8) == 0) o.struct_size = small();
    const hb_spectrum *ks[NS] = {spectra[0], spectra[1], spectra[2], spectra[3]};
    double out[NS * NS], mean, d;
    char buf[256];
    size_t need;
    switch (pick(7)) {
    case 0: {
        double nodes[4] = {real(), real(), real(), real()}, w[4] = {real(), 1, 0.5, real()};
        CALL(hb_spectrum_add_probe(*sp, nodes, w, small() % 5));
        break;
    }
    case 1: CALL(hb_spectrum_js_distance(*sp, spectra[pick(NS)], pick(4) ? &o : NULL, &d)); break;
    case 2: CALL(hb_spectra_js_matrix(ks, 1 + pick(NS), &o, out, &mean)); break;
    case 3: {
        static const size_t reps[] = {0, 1, 2, 5, 100001};
        CALL(hb_spectra_js_matrix_stderr(ks, 1 + pick(NS), &o, reps[pick(5)], (uint64_t)pick(3),
                                         pick(2) ? out : NULL, pick(2) ? &mean : NULL));
        break;
    }
    case 4: CALL(hb_spectra_zero_flags(ks, pick(NS + 1), &o, NULL, &need, &d)); break;
    case 5: CALL(hb_spectrum_to_json(*sp, pick(2) ? buf : NULL, pick(2) ? sizeof buf : small(), &need)); break;
    default: {
        double grid[4] = {real(), 0, 1, 2}, dens[4];
        CALL(hb_spectrum_density(*sp, grid, small() % 5, real(), dens));
        CALL(hb_spectrum_moment(*sp, (int)i64(), &d, &mean));
        CALL(hb_spectrum_to_csv(*sp, buf, sizeof buf, &need));
    }
    }
}

static void sst_op(void) {
    hb_model *w = models[NM - 1];
    hb_optimizer *o = opts[pick(NO)];
    double scale;
    int64_t idx[64];
    switch (pick(5)) {
    case 0: CALL(hb_sst_begin_step(w, i64(), o, pick(2) ? &scale : NULL)); break;
    case 1: CALL(hb_sst_end_step(w)); break;
    case 2: CALL(hb_sst_resvd(w)); break;
    case 3: CALL(hb_sst_sync(w)); break;
    default: {
        int64_t r;
        if (hb_sst_layer_info(w, small(), NULL, NULL, NULL, NULL, &r) == HB_OK && r <= 64)
            CALL(hb_sst_active(w, small(), idx));
    }
    }
}

static void trainer_op(void) {
    hb_trainer **t = &trainers[pick(NTR)];
    if (!*t) {
        hb_model *m = any_model();
        hb_optimizer *o = opts[pick(NO)];
        CALL(hb_trainer_create(m, pick(2) ? o : NULL, t));
        return;
    }
    double loss, acc;
    switch (pick(6)) {
    case 0: {
        hb_trainer_opt key = (hb_trainer_opt)pick(10);
        int64_t v = i64();
        if (key == HB_TR_EVAL_BATCHES || key == HB_TR_TRAIN_BATCHES) v = v > 3 ? -v : v;
        CALL(hb_trainer_set_i64(*t, key, v));
        CALL(hb_trainer_set_f64(*t, (hb_trainer_opt)pick(3), real()));
        break;
    }
    case 1: CALL(hb_trainer_run(*t, (int64_t)pick(4) - 1)); break;
    case 2: CALL(hb_trainer_evaluate(*t, pick(4) ? &loss : NULL, pick(2) ? &acc : NULL)); break;
    case 3: CALL(hb_trainer_set_data_fn(*t, pick(2) ? cb_data : NULL, NULL)); break;
    case 4: /* an unwritable path: a save fails with HB_EIO, no file appears */
        CALL(hb_trainer_set_checkpoint(*t, pick(2) ? "/nonexistent-dir/x.ckpt" : NULL, i64()));
        break;
    default: {
        double v;
        CALL(hb_trainer_record_f64(*t, small(), (hb_record_key)pick(10), &v));
        CALL(hb_trainer_record_block_norm(*t, small(), small(), &v));
    }
    }
}

static void context_op(void) {
    switch (pick(4)) {
    case 0: CALL(hb_context_set_i64(ctx, (hb_context_opt)pick(4), pick(2) ? (int64_t)pick(3) : i64())); break;
    case 1: CALL(hb_context_set_progress(ctx, pick(2) ? cb_progress : NULL, NULL)); break;
    case 2: CALL(hb_context_set_log(ctx, pick(2) ? cb_log : NULL, NULL, (int)pick(6))); break;
    default: cb_mode = (int)pick(3); break;
    }
}

static void free_all(void) {
    for (int i = 0; i < NTR; i++) hb_trainer_free(trainers[i]), trainers[i] = NULL;
    for (int i = 0; i < NL; i++) hb_linop_free(linops[i]), linops[i] = NULL;
    for (int i = 0; i < NO; i++) hb_optimizer_free(opts[i]), opts[i] = NULL;
    for (int i = NM - 1; i >= 0; i--) hb_model_free(models[i]), models[i] = NULL; /* wrapper first */
    for (int i = 0; i < NP; i++) hb_params_free(params[i]), params[i] = NULL;
    for (int i = 0; i < NT; i++) hb_tensor_free(tens[i]), tens[i] = NULL;
    for (int i = 0; i < NS; i++) hb_spectrum_free(spectra[i]), spectra[i] = NULL;
    hb_slq_free(slq), slq = NULL;
    hb_model_config_free(mcfg), mcfg = NULL;
    hb_sst_config_free(scfg), scfg = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    in = data;
    in_len = size;
    in_pos = 0;
    alloc_calls = live_blocks = 0;
    live_bytes = 0;
    ckpt_len = 0;
    cb_mode = 0;
    unsigned fail = u8();
    alloc_fail_at = fail < 200 ? 0 : (long)(fail - 199) * 3; /* ~1 input in 4 fails one allocation */
    hb_allocator a = HB_ALLOCATOR_INIT;
    a.alloc = fz_alloc;
    a.free = fz_free;
    if (hb_context_create_with_allocator(&a, &ctx) != HB_OK) return 0;
    static void (*const ops[])(void) = {new_tensor, new_params, new_model, set_data, evaluate,
                                        tensor_op, params_op, optim_op, checkpoint_op, linop_op,
                                        slq_op, spectrum_op, sst_op, trainer_op, context_op};
    for (int n = 0; n < 64 && in_pos < in_len; n++) ops[pick(sizeof ops / sizeof *ops)]();
    free_all();
    hb_context_free(ctx);
    ctx = NULL;
    if (live_blocks != 0) {
        fprintf(stderr, "leak: %ld blocks of the context allocator live after freeing all\n",
                live_blocks);
        abort();
    }
    return 0;
}
