/* Optimizers against reference trajectories written here as plain scalar loops from the
 * formulas of optim.h (never by calling the library), Adam-mini partitions, bf16
 * rounding, non-finite gradients, schedules, thread independence, bad input, OOM. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hb_test.h"
#include "optim/optim_internal.h"

enum { STEPS = 6 };
static const double PI = 3.14159265358979323846;

typedef struct { const char *name; hb_block_kind kind; int ndim; int64_t shape[2]; } bspec;

/* Two decayed blocks and one norm (exempt from decay by default). */
static const bspec BASIC[] = {
    {"lin.weight", HB_BLOCK_LINEAR, 2, {3, 4}},
    {"ln.weight", HB_BLOCK_NORM, 1, {5, 0}},
    {"misc", HB_BLOCK_OTHER, 1, {3, 0}},
};
enum { NBASIC = 3, NB_ELEMS = 20 };

static hb_params *make_params(hb_context *ctx, hb_dtype dt, const bspec *b, size_t nb) {
    hb_params *p = NULL;
    ck_assert_int_eq(hb_params_create(ctx, dt, &p), HB_OK);
    for (size_t i = 0; i < nb; i++)
        ck_assert_int_eq(hb_params_add_block(p, b[i].name, b[i].kind, b[i].ndim, b[i].shape, NULL),
                         HB_OK);
    ck_assert_int_eq(hb_params_finalize(p), HB_OK);
    for (size_t i = 0; i < nb; i++)
        ck_assert_int_eq(hb_params_init_block(p, i, HB_INIT_NORMAL, 0.1, 1), HB_OK);
    return p;
}

/* Gradient of step t, independent of the parameters so reference and library
 * trajectories are computed independently. */
static double grad_at(size_t i, int t) { return sin(0.7 * (double)i + 1.3 * t) * (1 + 0.1 * (double)(i % 5)); }

static void set_grad(hb_params *p, int t) {
    size_t n = hb_params_count(p);
    void *g = hb_params_grad(p);
    for (size_t i = 0; i < n; i++) {
        if (hb_params_grad_dtype(p) == HB_F64) ((double *)g)[i] = grad_at(i, t);
        else ((float *)g)[i] = (float)grad_at(i, t);
    }
}

static double param_at(hb_params *p, size_t i) {
    const void *d = hb_params_data(p);
    switch (hb_params_dtype(p)) {
    case HB_F64: return ((const double *)d)[i];
    case HB_F32: return ((const float *)d)[i];
    default: return hb_bf16_to_f32(((const uint16_t *)d)[i]);
    }
}

/* Per-element block kind of the BASIC layout. */
static hb_block_kind basic_kind(size_t i) { return i < 12 ? HB_BLOCK_LINEAR : i < 17 ? HB_BLOCK_NORM : HB_BLOCK_OTHER; }

/* ---- reference implementations, one per precision ---- */
#define DEF_REF(T, S, SQRT)                                                                 \
    static void ref_sgd_##S(T *p, T *buf, size_t n, int steps, double lr, double wd,        \
                            double mu, double damp, int nesterov) {                         \
        for (int t = 1; t <= steps; t++)                                                    \
            for (size_t i = 0; i < n; i++) {                                                \
                T w = basic_kind(i) == HB_BLOCK_NORM ? 0 : (T)wd;                           \
                T d = (T)grad_at(i, t);                                                     \
                if (w != 0) d = d + w * p[i];                                               \
                if (mu != 0) {                                                              \
                    if (t == 1) buf[i] = d;                                                 \
                    else buf[i] = buf[i] * (T)mu + (T)(1 - damp) * d;                       \
                    if (nesterov) d = d + (T)mu * buf[i];                                   \
                    else d = buf[i];                                                        \
                }                                                                           \
                p[i] = p[i] - (T)lr * d;                                                    \
            }                                                                               \
    }                                                                                       \
    static void ref_adam_##S(T *p, T *m, T *v, size_t n, int t0, int steps, double lr,      \
                             double wd, double b1, double b2, double eps, int decoupled) {  \
        for (int t = t0; t <= steps; t++) {                                                 \
            double bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t);                              \
            for (size_t i = 0; i < n; i++) {                                                \
                double w = basic_kind(i) == HB_BLOCK_NORM ? 0 : wd;                         \
                T g = (T)grad_at(i, t);                                                     \
                if (!decoupled && w != 0) g = g + (T)w * p[i];                              \
                if (decoupled) p[i] = p[i] * (T)(1 - lr * w);                               \
                m[i] = (T)b1 * m[i] + (T)(1 - b1) * g;                                      \
                v[i] = (T)b2 * v[i] + (T)(1 - b2) * g * g;                                  \
                p[i] = p[i] - (T)(lr / bc1) * m[i] / (SQRT(v[i]) / (T)sqrt(bc2) + (T)eps);  \
            }                                                                               \
        }                                                                                   \
    }
DEF_REF(double, f64, sqrt)
DEF_REF(float, f32, sqrtf)

/* |a−b| <= ulps·eps(T)·max(|a|,|b|). */
static void assert_traj(hb_params *p, const double *ref, double rel, const char *what) {
    for (size_t i = 0; i < hb_params_count(p); i++) {
        double a = param_at(p, i), b = ref[i];
        ck_assert_msg(fabs(a - b) <= rel * fmax(fabs(a), fabs(b)) + 1e-300,
                      "%s: element %zu: %.17g vs reference %.17g", what, i, a, b);
    }
}

/* Every SGD option combination, f64 to 1e-12 and f32 to 4 ulp. */
START_TEST(test_sgd_reference) {
    hb_context *ctx = hb_test_context(1, 3);
    const double mus[] = {0, 0.9}, damps[] = {0, 0.3}, wds[] = {0, 0.05};
    for (int prec = 0; prec < 2; prec++)
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++)
                for (int c = 0; c < 2; c++)
                    for (int nest = 0; nest < 2; nest++) {
                        double mu = mus[a], damp = damps[b], wd = wds[c], lr = 0.05;
                        if (nest && (mu == 0 || damp != 0)) continue;
                        hb_dtype dt = prec ? HB_F32 : HB_F64;
                        hb_params *p = make_params(ctx, dt, BASIC, NBASIC);
                        double r64[NB_ELEMS], b64[NB_ELEMS] = {0};
                        float r32[NB_ELEMS], b32[NB_ELEMS] = {0};
                        for (size_t i = 0; i < NB_ELEMS; i++) r32[i] = (float)(r64[i] = param_at(p, i));
                        hb_optimizer *o = NULL;
                        ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_SGD, p, &o), HB_OK);
                        ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_LR, lr), HB_OK);
                        ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_MOMENTUM, mu), HB_OK);
                        ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_DAMPENING, damp), HB_OK);
                        ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_WEIGHT_DECAY, wd), HB_OK);
                        ck_assert_int_eq(hb_optimizer_set_i64(o, HB_OPT_NESTEROV, nest), HB_OK);
                        for (int t = 1; t <= STEPS; t++) {
                            set_grad(p, t);
                            ck_assert_int_eq(hb_optimizer_step(o), HB_OK);
                        }
                        ck_assert_int_eq(hb_optimizer_step_count(o), STEPS);
                        char what[96];
                        snprintf(what, sizeof what, "sgd %s mu %g damp %g wd %g nesterov %d",
                                 prec ? "f32" : "f64", mu, damp, wd, nest);
                        if (prec) {
                            ref_sgd_f32(r32, b32, NB_ELEMS, STEPS, lr, wd, mu, damp, nest);
                            for (size_t i = 0; i < NB_ELEMS; i++) r64[i] = r32[i];
                            /* same operations in the same order: a few ulp allow for nothing
                             * but a different (still IEEE) instruction selection */
                            assert_traj(p, r64, 4 * FLT_EPSILON, what);
                        } else {
                            ref_sgd_f64(r64, b64, NB_ELEMS, STEPS, lr, wd, mu, damp, nest);
                            assert_traj(p, r64, 1e-12, what); /* f64, 6 steps: ~1e-15 expected */
                        }
                        hb_optimizer_free(o);
                        hb_params_free(p);
                    }
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_adam_reference) {
    hb_context *ctx = hb_test_context(1, 4);
    const double wds[] = {0, 0.05};
    const double betas[2][2] = {{0.9, 0.999}, {0.8, 0.95}};
    for (int prec = 0; prec < 2; prec++)
        for (int kind = 0; kind < 2; kind++)
            for (int c = 0; c < 2; c++)
                for (int bb = 0; bb < 2; bb++) {
                    double lr = 0.01, wd = wds[c], b1 = betas[bb][0], b2 = betas[bb][1], eps = 1e-6;
                    hb_dtype dt = prec ? HB_F32 : HB_F64;
                    hb_params *p = make_params(ctx, dt, BASIC, NBASIC);
                    double r64[NB_ELEMS], m64[NB_ELEMS] = {0}, v64[NB_ELEMS] = {0};
                    float r32[NB_ELEMS], m32[NB_ELEMS] = {0}, v32[NB_ELEMS] = {0};
                    for (size_t i = 0; i < NB_ELEMS; i++) r32[i] = (float)(r64[i] = param_at(p, i));
                    hb_optimizer *o = NULL;
                    ck_assert_int_eq(hb_optimizer_create(ctx, kind ? HB_OPTIM_ADAMW : HB_OPTIM_ADAM,
                                                         p, &o), HB_OK);
                    ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_LR, lr), HB_OK);
                    ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_WEIGHT_DECAY, wd), HB_OK);
                    ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_BETA1, b1), HB_OK);
                    ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_BETA2, b2), HB_OK);
                    ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_EPS, eps), HB_OK);
                    for (int t = 1; t <= STEPS; t++) {
                        set_grad(p, t);
                        ck_assert_int_eq(hb_optimizer_step(o), HB_OK);
                    }
                    char what[96];
                    snprintf(what, sizeof what, "%s %s wd %g betas %g %g", kind ? "adamw" : "adam",
                             prec ? "f32" : "f64", wd, b1, b2);
                    if (prec) {
                        ref_adam_f32(r32, m32, v32, NB_ELEMS, 1, STEPS, lr, wd, b1, b2, eps, kind);
                        for (size_t i = 0; i < NB_ELEMS; i++) r64[i] = r32[i];
                        assert_traj(p, r64, 4 * FLT_EPSILON, what); /* same op order: few ulp */
                        ck_assert_int_eq(memcmp(o->m, m32, sizeof m32), 0);
                    } else {
                        ref_adam_f64(r64, m64, v64, NB_ELEMS, 1, STEPS, lr, wd, b1, b2, eps, kind);
                        assert_traj(p, r64, 1e-12, what);
                        for (size_t i = 0; i < NB_ELEMS; i++) {
                            HB_ASSERT_CLOSE(((double *)o->m)[i], m64[i], 1e-12);
                            HB_ASSERT_CLOSE(((double *)o->v)[i], v64[i], 1e-12);
                        }
                    }
                    hb_optimizer_free(o);
                    hb_params_free(p);
                }
    hb_context_free(ctx);
}
END_TEST

/* Adam-mini on one block of every partition rule; partitions written out by hand. */
static const bspec MINI[] = {
    {"attn.wq", HB_BLOCK_ATTN_Q, 2, {4, 4}},   /* 2 heads: 2 partitions of 8 */
    {"attn.wv", HB_BLOCK_ATTN_V, 2, {4, 4}},   /* 4 rows of 4 */
    {"fc.bias", HB_BLOCK_BIAS, 1, {4, 0}},     /* 4 elements */
    {"ln.weight", HB_BLOCK_NORM, 1, {4, 0}},   /* 1 tensor of 4 */
    {"wte", HB_BLOCK_EMBEDDING, 2, {5, 4}},    /* 5 rows of 4 */
};
static const size_t MINI_PSIZE[] = {8, 4, 1, 4, 4};
static const size_t MINI_NUMEL[] = {16, 16, 4, 4, 20};
enum { NMINI = 5, NM_ELEMS = 60 };

#define DEF_REF_MINI(T, S, SQRT)                                                            \
    static void ref_mini_##S(T *p, T *m, T *vpart, int steps, double lr, double wd,         \
                             double b1, double b2, double eps) {                            \
        for (int t = 1; t <= steps; t++) {                                                  \
            double bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t);                              \
            size_t off = 0, part = 0;                                                       \
            for (size_t b = 0; b < NMINI; b++) {                                            \
                double w = (b == 2 || b == 3) ? 0 : wd; /* bias and norm exempt */         \
                for (size_t q = 0; q < MINI_NUMEL[b]; q += MINI_PSIZE[b], part++) {         \
                    double acc = 0;                                                         \
                    for (size_t j = 0; j < MINI_PSIZE[b]; j++) {                            \
                        T g = (T)grad_at(off + q + j, t);                                   \
                        acc += (double)(g * g);                                             \
                    }                                                                       \
                    vpart[part] = (T)b2 * vpart[part] + (T)(1 - b2) * (T)(acc / MINI_PSIZE[b]); \
                    T den = SQRT(vpart[part]) / (T)sqrt(bc2) + (T)eps;                      \
                    for (size_t j = 0; j < MINI_PSIZE[b]; j++) {                            \
                        size_t i = off + q + j;                                             \
                        T g = (T)grad_at(i, t);                                             \
                        p[i] = p[i] * (T)(1 - lr * w);                                      \
                        m[i] = (T)b1 * m[i] + (T)(1 - b1) * g;                              \
                        p[i] = p[i] - (T)(lr / bc1) * m[i] / den;                           \
                    }                                                                       \
                }                                                                           \
                off += MINI_NUMEL[b];                                                       \
            }                                                                               \
        }                                                                                   \
    }
DEF_REF_MINI(double, f64, sqrt)
DEF_REF_MINI(float, f32, sqrtf)

START_TEST(test_adam_mini_reference) {
    hb_context *ctx = hb_test_context(1, 5);
    for (int prec = 0; prec < 2; prec++) {
        double lr = 0.02, wd = 0.1, b1 = 0.9, b2 = 0.95, eps = 1e-8;
        hb_params *p = make_params(ctx, prec ? HB_F32 : HB_F64, MINI, NMINI);
        double r64[NM_ELEMS], m64[NM_ELEMS] = {0}, v64[NM_ELEMS] = {0};
        float r32[NM_ELEMS], m32[NM_ELEMS] = {0}, v32[NM_ELEMS] = {0};
        for (size_t i = 0; i < NM_ELEMS; i++) r32[i] = (float)(r64[i] = param_at(p, i));
        hb_optimizer *o = NULL;
        ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_ADAM_MINI, p, &o), HB_OK);
        ck_assert_int_eq(hb_optimizer_set_i64(o, HB_OPT_HEADS, 2), HB_OK);
        ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_LR, lr), HB_OK);
        ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_WEIGHT_DECAY, wd), HB_OK);
        ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_BETA2, b2), HB_OK);
        for (size_t b = 0; b < NMINI; b++) {
            size_t c, s;
            ck_assert_int_eq(hb_optimizer_partitions(o, b, &c, &s), HB_OK);
            ck_assert_uint_eq(s, MINI_PSIZE[b]);
            ck_assert_uint_eq(c * s, MINI_NUMEL[b]);
        }
        for (int t = 1; t <= STEPS; t++) {
            set_grad(p, t);
            ck_assert_int_eq(hb_optimizer_step(o), HB_OK);
        }
        ck_assert_uint_eq(o->n_part, 2 + 4 + 4 + 1 + 5);
        size_t bytes;
        ck_assert_int_eq(hb_optimizer_state_bytes(o, &bytes), HB_OK);
        ck_assert_uint_eq(bytes, (NM_ELEMS + 16) * (prec ? 4 : 8)); /* m + one v per partition */
        HB_ASSERT_CLOSE(hb_optimizer_set_i64(o, HB_OPT_HEADS, 4), HB_ESTATE, 0);
        if (prec) {
            ref_mini_f32(r32, m32, v32, STEPS, lr, wd, b1, b2, eps);
            for (size_t i = 0; i < NM_ELEMS; i++) r64[i] = r32[i];
            assert_traj(p, r64, 4 * FLT_EPSILON, "adam-mini f32"); /* same op order */
        } else {
            ref_mini_f64(r64, m64, v64, STEPS, lr, wd, b1, b2, eps);
            assert_traj(p, r64, 1e-12, "adam-mini f64");
            for (size_t k = 0; k < 16; k++) HB_ASSERT_CLOSE(((double *)o->v)[k], v64[k], 1e-12);
        }
        hb_optimizer_free(o);
        hb_params_free(p);
    }
    hb_context_free(ctx);
}
END_TEST

/* The gpt layout (names, kinds and (out, in) shapes as lib/models/gpt.c declares them),
 * block by block. */
START_TEST(test_adam_mini_gpt_table) {
    hb_context *ctx = hb_test_context(1, 6);
    const int64_t V = 11, T = 5, C = 8, H = 2, L = 2;
    hb_params *p = NULL;
    ck_assert_int_eq(hb_params_create(ctx, HB_F32, &p), HB_OK);
    typedef struct { char name[64]; hb_block_kind kind; int ndim; int64_t s0, s1; size_t count, size; } row;
    row rows[64];
    int nr = 0;
#define ADD(nm, k, nd, a, b, cnt, sz)                                                    \
    do {                                                                                 \
        row *r_ = &rows[nr++];                                                           \
        snprintf(r_->name, sizeof r_->name, "%s", nm);                                   \
        r_->kind = k; r_->ndim = nd; r_->s0 = a; r_->s1 = b;                             \
        r_->count = cnt; r_->size = sz;                                                  \
    } while (0)
    ADD("wte", HB_BLOCK_EMBEDDING, 2, V, C, V, C);   /* per token row */
    ADD("wpe", HB_BLOCK_EMBEDDING, 2, T, C, T, C);   /* per position row */
    for (int l = 0; l < L; l++) {
        char nm[64];
#define NAME(s) (snprintf(nm, sizeof nm, "h.%d.%s", l, s), nm)
        ADD(NAME("ln_1.weight"), HB_BLOCK_NORM, 1, C, 0, 1, C);  /* per tensor */
        ADD(NAME("ln_1.bias"), HB_BLOCK_NORM, 1, C, 0, 1, C);
        ADD(NAME("attn.wq"), HB_BLOCK_ATTN_Q, 2, C, C, H, C * C / H); /* per head */
        ADD(NAME("attn.wq.bias"), HB_BLOCK_BIAS, 1, C, 0, C, 1);  /* per element */
        ADD(NAME("attn.wk"), HB_BLOCK_ATTN_K, 2, C, C, H, C * C / H);
        ADD(NAME("attn.wk.bias"), HB_BLOCK_BIAS, 1, C, 0, C, 1);
        ADD(NAME("attn.wv"), HB_BLOCK_ATTN_V, 2, C, C, C, C);    /* per output row */
        ADD(NAME("attn.wv.bias"), HB_BLOCK_BIAS, 1, C, 0, C, 1);
        ADD(NAME("attn.wo"), HB_BLOCK_ATTN_O, 2, C, C, C, C);
        ADD(NAME("attn.wo.bias"), HB_BLOCK_BIAS, 1, C, 0, C, 1);
        ADD(NAME("ln_2.weight"), HB_BLOCK_NORM, 1, C, 0, 1, C);
        ADD(NAME("ln_2.bias"), HB_BLOCK_NORM, 1, C, 0, 1, C);
        ADD(NAME("mlp.c_fc"), HB_BLOCK_MLP_IN, 2, 4 * C, C, 4 * C, C);
        ADD(NAME("mlp.c_fc.bias"), HB_BLOCK_BIAS, 1, 4 * C, 0, 4 * C, 1);
        ADD(NAME("mlp.c_proj"), HB_BLOCK_MLP_OUT, 2, C, 4 * C, C, 4 * C);
        ADD(NAME("mlp.c_proj.bias"), HB_BLOCK_BIAS, 1, C, 0, C, 1);
#undef NAME
    }
    ADD("ln_f.weight", HB_BLOCK_NORM, 1, C, 0, 1, C);
    ADD("ln_f.bias", HB_BLOCK_NORM, 1, C, 0, 1, C);
    ADD("lm_head", HB_BLOCK_HEAD, 2, V, C, V, C);
#undef ADD
    for (int i = 0; i < nr; i++) {
        int64_t sh[2] = {rows[i].s0, rows[i].s1};
        ck_assert_int_eq(hb_params_add_block(p, rows[i].name, rows[i].kind, rows[i].ndim, sh, NULL), HB_OK);
    }
    ck_assert_int_eq(hb_params_finalize(p), HB_OK);
    hb_optimizer *o = NULL;
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_ADAM_MINI, p, &o), HB_OK);
    size_t c, s, total = 0;
    /* heads = 1 by default: Q/K are one partition each */
    ck_assert_int_eq(hb_optimizer_partitions(o, 4, &c, &s), HB_OK); /* h.0.attn.wq */
    ck_assert_uint_eq(c, 1);
    ck_assert_int_eq(hb_optimizer_set_i64(o, HB_OPT_HEADS, H), HB_OK);
    for (int i = 0; i < nr; i++) {
        ck_assert_int_eq(hb_optimizer_partitions(o, (size_t)i, &c, &s), HB_OK);
        ck_assert_msg(c == rows[i].count && s == rows[i].size, "%s: %zu x %zu, expected %zu x %zu",
                      rows[i].name, c, s, rows[i].count, rows[i].size);
        total += c;
        /* default decay exemption: norms and biases */
        double wd;
        ck_assert_int_eq(hb_optimizer_block_f64(o, (size_t)i, HB_OPT_WEIGHT_DECAY, &wd), HB_OK);
        ck_assert(wd == ((rows[i].kind == HB_BLOCK_NORM || rows[i].kind == HB_BLOCK_BIAS) ? 0 : 0.1));
    }
    /* the first step allocates exactly one v per partition */
    ck_assert_int_eq(hb_optimizer_step(o), HB_OK);
    ck_assert_uint_eq(o->n_part, total);
    /* 3 heads do not divide 8 rows */
    hb_optimizer *o2 = NULL;
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_ADAM_MINI, p, &o2), HB_OK);
    ck_assert_int_eq(hb_optimizer_set_i64(o2, HB_OPT_HEADS, 3), HB_OK);
    ck_assert_int_eq(hb_optimizer_partitions(o2, 4, &c, &s), HB_ESHAPE);
    ck_assert_int_eq(hb_optimizer_partitions(o2, 0, &c, &s), HB_OK);
    ck_assert_int_eq(hb_optimizer_step(o2), HB_ESHAPE);
    ck_assert_int_eq(hb_optimizer_step_count(o2), 0);
    /* other kinds: one element per partition */
    hb_optimizer *o3 = NULL;
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_ADAMW, p, &o3), HB_OK);
    ck_assert_int_eq(hb_optimizer_partitions(o3, 0, &c, &s), HB_OK);
    ck_assert(c == (size_t)(V * C) && s == 1);
    hb_optimizer_free(o3);
    hb_optimizer_free(o2);
    hb_optimizer_free(o);
    hb_params_free(p);
    hb_context_free(ctx);
}
END_TEST

/* hb_optimizer_set_block_f64: wins over overrides added before AND after it, replaces its
 * own earlier value, and steps as the same per-block lr set by an override would. */
START_TEST(test_set_block) {
    hb_context *ctx = hb_test_context(1, 7);
    hb_params *p = make_params(ctx, HB_F64, BASIC, NBASIC);
    hb_optimizer *o = NULL, *ref = NULL;
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_SGD, p, &o), HB_OK);
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_SGD, p, &ref), HB_OK);
    double v;
    ck_assert_int_eq(hb_optimizer_override_f64(o, "*", HB_OPT_LR, 0.5), HB_OK);
    ck_assert_int_eq(hb_optimizer_set_block_f64(o, 1, HB_OPT_LR, 0.25), HB_OK);
    ck_assert_int_eq(hb_optimizer_set_block_f64(o, 1, HB_OPT_LR, 0.125), HB_OK); /* replaces */
    ck_assert_int_eq(hb_optimizer_override_f64(o, "ln.*", HB_OPT_LR, 2.0), HB_OK);  /* later, loses */
    ck_assert_int_eq(hb_optimizer_block_f64(o, 0, HB_OPT_LR, &v), HB_OK);
    ck_assert(v == 0.5);
    ck_assert_int_eq(hb_optimizer_block_f64(o, 1, HB_OPT_LR, &v), HB_OK);
    ck_assert(v == 0.125);
    ck_assert_int_eq(hb_optimizer_set_block_f64(o, 2, HB_OPT_MOMENTUM, 0.75), HB_OK);
    ck_assert_int_eq(hb_optimizer_block_f64(o, 2, HB_OPT_MOMENTUM, &v), HB_OK);
    ck_assert(v == 0.75);
    ck_assert_int_eq(hb_optimizer_block_f64(o, 2, HB_OPT_LR, &v), HB_OK); /* other key untouched */
    ck_assert(v == 0.5);
    /* bad input: nothing changes */
    ck_assert_int_eq(hb_optimizer_set_block_f64(NULL, 0, HB_OPT_LR, 1), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_set_block_f64(o, NBASIC, HB_OPT_LR, 1), HB_ERANGE);
    ck_assert_int_eq(hb_optimizer_set_block_f64(o, 0, HB_OPT_LR, -1), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_set_block_f64(o, 0, HB_OPT_LR, NAN), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_set_block_f64(o, 0, HB_OPT_NESTEROV, 1), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_set_block_f64(o, 0, HB_OPT_CLIP_NORM, 1), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_set_block_f64(o, 0, HB_OPT_BETA1, 0.5), HB_EUNSUPPORTED);
    ck_assert_int_eq(hb_optimizer_set_block_f64(o, 0, (hb_optimizer_opt)999, 0.5), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_block_f64(o, 0, HB_OPT_LR, &v), HB_OK);
    ck_assert(v == 0.5);
    /* the same per-block values through overrides on ref give the same step, bit for bit */
    size_t nb = hb_params_num_blocks(p);
    for (size_t b = 0; b < nb; b++) {
        double lr, mom;
        const char *name = NULL;
        ck_assert_int_eq(hb_optimizer_block_f64(o, b, HB_OPT_LR, &lr), HB_OK);
        ck_assert_int_eq(hb_optimizer_block_f64(o, b, HB_OPT_MOMENTUM, &mom), HB_OK);
        ck_assert_int_eq(hb_params_block_info(p, b, &name, NULL, NULL, NULL, NULL, NULL), HB_OK);
        ck_assert_int_eq(hb_optimizer_override_f64(ref, name, HB_OPT_LR, lr), HB_OK);
        ck_assert_int_eq(hb_optimizer_override_f64(ref, name, HB_OPT_MOMENTUM, mom), HB_OK);
    }
    double p0[NB_ELEMS], p1[NB_ELEMS];
    for (size_t i = 0; i < NB_ELEMS; i++) p0[i] = param_at(p, i);
    for (int t = 0; t < 2; t++) {
        set_grad(p, 1);
        ck_assert_int_eq(hb_optimizer_step(o), HB_OK);
    }
    for (size_t i = 0; i < NB_ELEMS; i++) p1[i] = param_at(p, i);
    memcpy(hb_params_data(p), p0, sizeof p0);
    for (int t = 0; t < 2; t++) {
        set_grad(p, 1);
        ck_assert_int_eq(hb_optimizer_step(ref), HB_OK);
    }
    for (size_t i = 0; i < NB_ELEMS; i++) ck_assert(param_at(p, i) == p1[i]);
    hb_optimizer_free(ref);
    hb_optimizer_free(o);
    hb_params_free(p);
    hb_context_free(ctx);
}
END_TEST

/* Overrides by glob and kind, defaults for norms/biases, DECAY_NORMS_BIASES; an
 * override changes the trajectory as a per-block lr would. */
START_TEST(test_overrides) {
    hb_context *ctx = hb_test_context(1, 7);
    hb_params *p = make_params(ctx, HB_F64, BASIC, NBASIC);
    hb_optimizer *o = NULL;
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_SGD, p, &o), HB_OK);
    ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_WEIGHT_DECAY, 0.5), HB_OK);
    double v;
    ck_assert_int_eq(hb_optimizer_block_f64(o, 1, HB_OPT_WEIGHT_DECAY, &v), HB_OK);
    ck_assert(v == 0);
    ck_assert_int_eq(hb_optimizer_block_f64(o, 0, HB_OPT_WEIGHT_DECAY, &v), HB_OK);
    ck_assert(v == 0.5);
    ck_assert_int_eq(hb_optimizer_set_i64(o, HB_OPT_DECAY_NORMS_BIASES, 1), HB_OK);
    ck_assert_int_eq(hb_optimizer_block_f64(o, 1, HB_OPT_WEIGHT_DECAY, &v), HB_OK);
    ck_assert(v == 0.5);
    ck_assert_int_eq(hb_optimizer_set_i64(o, HB_OPT_DECAY_NORMS_BIASES, 0), HB_OK);
    /* glob on names; later overrides win */
    ck_assert_int_eq(hb_optimizer_override_f64(o, "l*.weight", HB_OPT_LR, 0.5), HB_OK);
    ck_assert_int_eq(hb_optimizer_override_f64(o, "ln.*", HB_OPT_LR, 0.25), HB_OK);
    ck_assert_int_eq(hb_optimizer_override_kind_f64(o, HB_BLOCK_NORM, HB_OPT_WEIGHT_DECAY, 0.125), HB_OK);
    ck_assert_int_eq(hb_optimizer_block_f64(o, 0, HB_OPT_LR, &v), HB_OK);
    ck_assert(v == 0.5);
    ck_assert_int_eq(hb_optimizer_block_f64(o, 1, HB_OPT_LR, &v), HB_OK);
    ck_assert(v == 0.25);
    ck_assert_int_eq(hb_optimizer_block_f64(o, 2, HB_OPT_LR, &v), HB_OK);
    ck_assert(v == 1e-3);
    ck_assert_int_eq(hb_optimizer_block_f64(o, 1, HB_OPT_WEIGHT_DECAY, &v), HB_OK);
    ck_assert(v == 0.125);
    ck_assert_int_eq(hb_optimizer_override_f64(o, "nothing*", HB_OPT_LR, 0.5), HB_ENOTFOUND);
    ck_assert_int_eq(hb_optimizer_override_kind_f64(o, HB_BLOCK_CONV, HB_OPT_LR, 0.5), HB_ENOTFOUND);
    ck_assert_int_eq(hb_optimizer_override_f64(o, "misc", HB_OPT_NESTEROV, 1), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_override_f64(o, "misc", HB_OPT_BETA1, 0.5), HB_EUNSUPPORTED);
    ck_assert_int_eq(hb_optimizer_override_f64(o, "misc", HB_OPT_LR, -1), HB_EINVAL);
    /* one step: p = p − lr_b·(g + wd_b·p) per block */
    double p0[NB_ELEMS];
    for (size_t i = 0; i < NB_ELEMS; i++) p0[i] = param_at(p, i);
    set_grad(p, 1);
    ck_assert_int_eq(hb_optimizer_step(o), HB_OK);
    for (size_t i = 0; i < NB_ELEMS; i++) {
        double lr = i < 12 ? 0.5 : i < 17 ? 0.25 : 1e-3, wd = i < 12 ? 0.5 : i < 17 ? 0.125 : 0.5;
        double g = grad_at(i, 1) + wd * p0[i];
        HB_ASSERT_CLOSE(param_at(p, i), p0[i] - lr * g, 1e-15); /* one f64 step: exact up to rounding */
    }
    hb_optimizer_free(o);
    hb_params_free(p);
    hb_context_free(ctx);
}
END_TEST

static double sched_cb(void *user, int64_t t) { return *(double *)user * (double)t; }

START_TEST(test_schedules_and_clipping) {
    hb_context *ctx = hb_test_context(1, 8);
    hb_params *p = make_params(ctx, HB_F64, BASIC, NBASIC);
    hb_optimizer *o = NULL;
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_SGD, p, &o), HB_OK);
    double f;
    ck_assert_int_eq(hb_optimizer_lr_factor(o, 7, &f), HB_OK);
    ck_assert(f == 1);
    ck_assert_int_eq(hb_optimizer_schedule_cosine(o, 2, 6, 0.1), HB_OK);
    /* hand-computed: warmup t/2; then 0.1 + 0.9·½(1 + cos(π(t−2)/4)) */
    const double want[] = {0.5, 1, 0.1 + 0.45 * (1 + cos(PI / 4)), 0.55,
                           0.1 + 0.45 * (1 + cos(3 * PI / 4)), 0.1, 0.1};
    for (int t = 1; t <= 7; t++) {
        ck_assert_int_eq(hb_optimizer_lr_factor(o, t, &f), HB_OK);
        HB_ASSERT_CLOSE(f, want[t - 1], 1e-15);
    }
    ck_assert_int_eq(hb_optimizer_schedule_cosine(o, 0, 4, 0), HB_OK);
    ck_assert_int_eq(hb_optimizer_lr_factor(o, 1, &f), HB_OK);
    HB_ASSERT_CLOSE(f, 0.5 * (1 + cos(PI / 4)), 1e-15);
    double k = 0.5;
    ck_assert_int_eq(hb_optimizer_schedule_callback(o, sched_cb, &k), HB_OK);
    ck_assert_int_eq(hb_optimizer_lr_factor(o, 3, &f), HB_OK);
    ck_assert(f == 1.5);
    k = -1;
    ck_assert_int_eq(hb_optimizer_lr_factor(o, 3, &f), HB_ECALLBACK);
    ck_assert_int_eq(hb_optimizer_step(o), HB_ECALLBACK);
    ck_assert_int_eq(hb_optimizer_step_count(o), 0);
    k = 0.5;
    /* trajectory: lr_t = 0.1·0.5·t, clipping to norm 0.3 */
    ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_LR, 0.1), HB_OK);
    ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_CLIP_NORM, 0.3), HB_OK);
    double ref[NB_ELEMS];
    for (size_t i = 0; i < NB_ELEMS; i++) ref[i] = param_at(p, i);
    for (int t = 1; t <= 4; t++) {
        set_grad(p, t);
        ck_assert_int_eq(hb_optimizer_step(o), HB_OK);
        double ss = 0;
        for (size_t i = 0; i < NB_ELEMS; i++) ss += grad_at(i, t) * grad_at(i, t);
        double c = fmin(1, 0.3 / (sqrt(ss) + 1e-6));
        ck_assert(c < 1); /* clipping is active in this test */
        for (size_t i = 0; i < NB_ELEMS; i++) ref[i] -= 0.1 * 0.5 * t * (grad_at(i, t) * c);
    }
    assert_traj(p, ref, 1e-12, "sgd + schedule + clipping"); /* norm summed in another order: 1e-16 */
    ck_assert_int_eq(hb_optimizer_schedule_constant(o), HB_OK);
    ck_assert_int_eq(hb_optimizer_lr_factor(o, 3, &f), HB_OK);
    ck_assert(f == 1);
    hb_optimizer_free(o);
    hb_params_free(p);
    hb_context_free(ctx);
}
END_TEST

/* bf16: f32 compute + round to nearest even equals the f32 reference rounded each step;
 * the master copy accumulates updates below half a bf16 ulp; stochastic rounding is
 * unbiased and reproducible. */
START_TEST(test_bf16) {
    hb_context *ctx = hb_test_context(1, 9);
    hb_params *p = make_params(ctx, HB_BF16, BASIC, NBASIC);
    float ref[NB_ELEMS], m[NB_ELEMS] = {0}, v[NB_ELEMS] = {0};
    for (size_t i = 0; i < NB_ELEMS; i++) ref[i] = (float)param_at(p, i);
    hb_optimizer *o = NULL;
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_ADAMW, p, &o), HB_OK);
    ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_LR, 0.01), HB_OK);
    for (int t = 1; t <= STEPS; t++) {
        set_grad(p, t);
        ck_assert_int_eq(hb_optimizer_step(o), HB_OK);
        /* reference: widen, one f32 AdamW step (t), round to nearest even */
        ref_adam_f32(ref, m, v, NB_ELEMS, t, t, 0.01, 0.01, 0.9, 0.999, 1e-8, 1);
        for (size_t i = 0; i < NB_ELEMS; i++) ref[i] = hb_bf16_to_f32(hb_f32_to_bf16(ref[i]));
    }
    /* same f32 operations, then the same rounding: bit-identical bf16 expected */
    for (size_t i = 0; i < NB_ELEMS; i++)
        ck_assert_msg(param_at(p, i) == ref[i], "bf16 element %zu: %.9g vs %.9g", i,
                      param_at(p, i), (double)ref[i]);
    hb_optimizer_free(o);
    hb_params_free(p);

    /* Simple exact case: SGD, p = 1, g = −2^-10 per step, lr = 1: each update is 1/8 of
     * the bf16 ulp at 1 (2^-7). Round-to-nearest never moves; the master copy gets to
     * 1 + 2^-7 after 8 steps, and the bf16 weight follows. */
    static const bspec ONE[] = {{"w", HB_BLOCK_LINEAR, 1, {1000, 0}}};
    for (int master = 0; master < 2; master++) {
        hb_params *q = NULL;
        ck_assert_int_eq(hb_params_create(ctx, HB_BF16, &q), HB_OK);
        ck_assert_int_eq(hb_params_add_block(q, ONE[0].name, ONE[0].kind, 1, ONE[0].shape, NULL), HB_OK);
        ck_assert_int_eq(hb_params_finalize(q), HB_OK);
        ck_assert_int_eq(hb_params_init_block(q, 0, HB_INIT_CONSTANT, 1, 0), HB_OK);
        hb_optimizer *s = NULL;
        ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_SGD, q, &s), HB_OK);
        ck_assert_int_eq(hb_optimizer_set_f64(s, HB_OPT_LR, 1), HB_OK);
        ck_assert_int_eq(hb_optimizer_set_i64(s, HB_OPT_MASTER_COPY, master), HB_OK);
        float *g = hb_params_grad(q);
        for (int i = 0; i < 1000; i++) g[i] = -0x1p-10f;
        for (int t = 1; t <= 8; t++) ck_assert_int_eq(hb_optimizer_step(s), HB_OK);
        for (int i = 0; i < 1000; i++)
            ck_assert(param_at(q, (size_t)i) == (master ? 1 + 0x1p-7 : 1.0));
        ck_assert_int_eq(hb_optimizer_set_i64(s, HB_OPT_MASTER_COPY, !master), HB_ESTATE);
        hb_optimizer_free(s);
        hb_params_free(q);
    }

    /* Stochastic rounding: exact value 1 + 2^-9 = 1 + ¼ ulp, so P(round up) = ¼.
     * 20000 draws: standard error √(¼·¾/20000) ≈ 0.0031; accept ±0.015 (~5σ). */
    uint16_t first[20000];
    for (int rep = 0; rep < 3; rep++) {
        if (rep == 2) ck_assert_int_eq(hb_context_set_i64(ctx, HB_CTX_SEED, 10), HB_OK);
        else ck_assert_int_eq(hb_context_set_i64(ctx, HB_CTX_SEED, 9), HB_OK);
        hb_params *q = NULL;
        int64_t sh[1] = {20000};
        ck_assert_int_eq(hb_params_create(ctx, HB_BF16, &q), HB_OK);
        ck_assert_int_eq(hb_params_add_block(q, "w", HB_BLOCK_LINEAR, 1, sh, NULL), HB_OK);
        ck_assert_int_eq(hb_params_finalize(q), HB_OK);
        ck_assert_int_eq(hb_params_init_block(q, 0, HB_INIT_CONSTANT, 1, 0), HB_OK);
        hb_optimizer *s = NULL;
        ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_SGD, q, &s), HB_OK);
        ck_assert_int_eq(hb_optimizer_set_f64(s, HB_OPT_LR, 1), HB_OK);
        ck_assert_int_eq(hb_optimizer_set_i64(s, HB_OPT_STOCHASTIC_ROUNDING, 1), HB_OK);
        float *g = hb_params_grad(q);
        for (int i = 0; i < 20000; i++) g[i] = -0x1p-9f;
        ck_assert_int_eq(hb_optimizer_step(s), HB_OK);
        const uint16_t *d = hb_params_data(q);
        int up = 0;
        for (int i = 0; i < 20000; i++) {
            float x = hb_bf16_to_f32(d[i]);
            ck_assert(x == 1.0f || x == 1.0f + 0x1p-7f);
            up += x != 1.0f;
        }
        ck_assert_msg(fabs(up / 20000.0 - 0.25) < 0.015, "fraction rounded up %g", up / 20000.0);
        if (rep == 0) memcpy(first, d, sizeof first);
        else if (rep == 1) ck_assert_int_eq(memcmp(first, d, sizeof first), 0); /* same seed */
        else ck_assert_int_ne(memcmp(first, d, sizeof first), 0);               /* other seed */
        hb_optimizer_free(s);
        hb_params_free(q);
    }
    hb_context_free(ctx);
}
END_TEST

/* Snapshot of everything a failed step must leave alone. */
typedef struct snap { unsigned char *bytes; size_t len; } snap;
static snap take_snap(hb_optimizer *o) {
    size_t np = o->p->n, n = o->n_state; /* state: trainable blocks only */
    size_t es = o->sdtype == HB_F64 ? 8 : 4, pes = hb_dtype_size(o->p->dtype);
    size_t vlen = o->kind == HB_OPTIM_ADAM_MINI ? o->n_part : n;
    size_t len = np * pes + (o->buf ? n * es : 0) + (o->m ? n * es : 0) + (o->v ? vlen * es : 0) +
                 (o->master ? n * 4 : 0) + sizeof o->t;
    snap s = {malloc(len), len};
    unsigned char *w = s.bytes;
#define PUT(ptr, nb) do { memcpy(w, ptr, nb); w += nb; } while (0)
    PUT(o->p->data, np * pes);
    if (o->buf) PUT(o->buf, n * es);
    if (o->m) PUT(o->m, n * es);
    if (o->v) PUT(o->v, vlen * es);
    if (o->master) PUT(o->master, n * 4);
    PUT(&o->t, sizeof o->t);
#undef PUT
    return s;
}

START_TEST(test_nonfinite_leaves_everything) {
    hb_context *ctx = hb_test_context(2, 12);
    const hb_optimizer_kind kinds[] = {HB_OPTIM_SGD, HB_OPTIM_ADAM, HB_OPTIM_ADAMW, HB_OPTIM_ADAM_MINI};
    const hb_dtype dts[] = {HB_F64, HB_F32, HB_BF16};
    for (int k = 0; k < 4; k++)
        for (int d = 0; d < 3; d++) {
            hb_params *p = make_params(ctx, dts[d], MINI, NMINI);
            hb_optimizer *o = NULL;
            ck_assert_int_eq(hb_optimizer_create(ctx, kinds[k], p, &o), HB_OK);
            if (kinds[k] == HB_OPTIM_SGD) ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_MOMENTUM, 0.9), HB_OK);
            if (kinds[k] == HB_OPTIM_ADAM_MINI) ck_assert_int_eq(hb_optimizer_set_i64(o, HB_OPT_HEADS, 2), HB_OK);
            if (dts[d] == HB_BF16) {
                ck_assert_int_eq(hb_optimizer_set_i64(o, HB_OPT_MASTER_COPY, 1), HB_OK);
                ck_assert_int_eq(hb_optimizer_set_i64(o, HB_OPT_STOCHASTIC_ROUNDING, 1), HB_OK);
            }
            ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_CLIP_NORM, 1), HB_OK);
            for (int t = 1; t <= 2; t++) {
                set_grad(p, t);
                ck_assert_int_eq(hb_optimizer_step(o), HB_OK);
            }
            const double bad[] = {NAN, INFINITY, -INFINITY};
            const size_t where[] = {0, 17, NM_ELEMS - 1};
            for (int b = 0; b < 3; b++)
                for (int w = 0; w < 3; w++) {
                    set_grad(p, 3);
                    if (hb_params_grad_dtype(p) == HB_F64) ((double *)hb_params_grad(p))[where[w]] = bad[b];
                    else ((float *)hb_params_grad(p))[where[w]] = (float)bad[b];
                    snap before = take_snap(o);
                    ck_assert_int_eq(hb_optimizer_step(o), HB_ENONFINITE);
                    snap after = take_snap(o);
                    ck_assert(before.len == after.len);
                    ck_assert_msg(memcmp(before.bytes, after.bytes, before.len) == 0,
                                  "%s/%d: state changed by a rejected step",
                                  hb_optimizer_kind_name(kinds[k]), (int)dts[d]);
                    free(before.bytes);
                    free(after.bytes);
                }
            /* and the next finite step goes on normally */
            set_grad(p, 3);
            ck_assert_int_eq(hb_optimizer_step(o), HB_OK);
            ck_assert_int_eq(hb_optimizer_step_count(o), 3);
            hb_optimizer_free(o);
            hb_params_free(p);
        }
    hb_context_free(ctx);
}
END_TEST

/* Same bits for 1 and 2 threads, on blocks large enough for every parallel path. */
START_TEST(test_thread_independence) {
    static const bspec BIG[] = {
        {"h.attn.wq", HB_BLOCK_ATTN_Q, 2, {256, 256}},
        {"h.mlp.c_fc", HB_BLOCK_MLP_IN, 2, {512, 256}},
        {"big.other", HB_BLOCK_OTHER, 1, {70001, 0}},
    };
    const hb_optimizer_kind kinds[] = {HB_OPTIM_SGD, HB_OPTIM_ADAMW, HB_OPTIM_ADAM_MINI};
    for (int k = 0; k < 3; k++)
        for (int bf = 0; bf < 2; bf++) {
            void *out[2];
            size_t bytes = 0;
            for (int th = 1; th <= 2; th++) {
                hb_context *ctx = hb_test_context(th, 21);
                hb_params *p = make_params(ctx, bf ? HB_BF16 : HB_F32, BIG, 3);
                hb_optimizer *o = NULL;
                ck_assert_int_eq(hb_optimizer_create(ctx, kinds[k], p, &o), HB_OK);
                if (kinds[k] == HB_OPTIM_SGD) ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_MOMENTUM, 0.9), HB_OK);
                if (kinds[k] == HB_OPTIM_ADAM_MINI) ck_assert_int_eq(hb_optimizer_set_i64(o, HB_OPT_HEADS, 4), HB_OK);
                if (bf) ck_assert_int_eq(hb_optimizer_set_i64(o, HB_OPT_STOCHASTIC_ROUNDING, 1), HB_OK);
                ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_CLIP_NORM, 10), HB_OK);
                for (int t = 1; t <= 2; t++) {
                    set_grad(p, t);
                    ck_assert_int_eq(hb_optimizer_step(o), HB_OK);
                }
                bytes = hb_params_count(p) * hb_dtype_size(hb_params_dtype(p));
                out[th - 1] = malloc(bytes);
                memcpy(out[th - 1], hb_params_data(p), bytes);
                hb_optimizer_free(o);
                hb_params_free(p);
                hb_context_free(ctx);
            }
            ck_assert_msg(memcmp(out[0], out[1], bytes) == 0, "%s bf16=%d differs with 2 threads",
                          hb_optimizer_kind_name(kinds[k]), bf);
            free(out[0]);
            free(out[1]);
        }
}
END_TEST

/* reset_range: SGD with momentum μ, dampening 0. After two steps the buffer is
 * b = μ·g1 + g2; zeroing elements [4, 10) makes step 3 use b = g3 there and μ·b + g3
 * elsewhere (hand-derived from the torch.optim formulas; the step count is kept, so the
 * "first step" rule does not apply again). */
START_TEST(test_reset_range) {
    hb_context *ctx = hb_test_context(1, 41);
    hb_params *p = make_params(ctx, HB_F64, BASIC, NBASIC);
    hb_optimizer *o = NULL;
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_SGD, p, &o), HB_OK);
    const double lr = 0.1, mu = 0.9;
    ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_LR, lr), HB_OK);
    ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_MOMENTUM, mu), HB_OK);
    double before[NB_ELEMS];
    for (size_t i = 0; i < NB_ELEMS; i++) before[i] = param_at(p, i);
    for (int t = 1; t <= 2; t++) {
        set_grad(p, t);
        ck_assert_int_eq(hb_optimizer_step(o), HB_OK);
    }
    ck_assert_int_eq(hb_optimizer_reset_range(o, 4, 6), HB_OK);
    ck_assert_int_eq(hb_optimizer_step_count(o), 2);
    set_grad(p, 3);
    ck_assert_int_eq(hb_optimizer_step(o), HB_OK);
    for (size_t i = 0; i < NB_ELEMS; i++) {
        double g1 = grad_at(i, 1), g2 = grad_at(i, 2), g3 = grad_at(i, 3);
        double b1 = g1, b2 = mu * b1 + g2;
        double b3 = (i >= 4 && i < 10) ? g3 : mu * b2 + g3;
        double ref = before[i] - lr * b1 - lr * b2 - lr * b3;
        HB_ASSERT_CLOSE(param_at(p, i), ref, 1e-14);
    }
    ck_assert_int_eq(hb_optimizer_reset_range(o, 0, NB_ELEMS), HB_OK);
    ck_assert_int_eq(hb_optimizer_reset_range(o, NB_ELEMS, 0), HB_OK);
    ck_assert_int_eq(hb_optimizer_reset_range(o, 5, NB_ELEMS), HB_ERANGE);
    ck_assert_int_eq(hb_optimizer_reset_range(o, NB_ELEMS + 1, 0), HB_ERANGE);
    ck_assert_int_eq(hb_optimizer_reset_range(o, 1, SIZE_MAX), HB_ERANGE);
    ck_assert_int_eq(hb_optimizer_reset_range(NULL, 0, 1), HB_EINVAL);
    hb_optimizer_free(o);
    hb_params_free(p);
    hb_context_free(ctx);
}
END_TEST

/* reset_range on Adam-mini zeroes exactly the partitions the range touches (white box:
 * MINI's partition table is above; elements 18..33 touch wv rows 0-3 = partitions 2..5
 * and fc.bias elements 0-1 = partitions 6, 7) and the first moment on the range only. */
START_TEST(test_reset_range_adam_mini) {
    hb_context *ctx = hb_test_context(1, 42);
    hb_params *p = make_params(ctx, HB_F64, MINI, NMINI);
    hb_optimizer *o = NULL;
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_ADAM_MINI, p, &o), HB_OK);
    ck_assert_int_eq(hb_optimizer_set_i64(o, HB_OPT_HEADS, 2), HB_OK);
    set_grad(p, 1);
    ck_assert_int_eq(hb_optimizer_step(o), HB_OK);
    ck_assert_int_eq(o->sdtype, HB_F64);
    const double *v = o->v, *m = o->m;
    for (size_t j = 0; j < 16; j++) ck_assert(v[j] > 0);
    ck_assert_int_eq(hb_optimizer_reset_range(o, 18, 16), HB_OK);
    for (size_t j = 0; j < 16; j++)
        ck_assert_msg((v[j] == 0) == (j >= 2 && j <= 7), "partition %zu: v = %g", j, v[j]);
    for (size_t i = 0; i < NM_ELEMS; i++)
        ck_assert_msg((m[i] == 0) == (i >= 18 && i < 34), "element %zu: m = %g", i, m[i]);
    hb_optimizer_free(o);
    hb_params_free(p);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_bad_input) {
    hb_context *ctx = hb_test_context(1, 13);
    hb_params *p = make_params(ctx, HB_F32, BASIC, NBASIC), *unfinished = NULL;
    ck_assert_int_eq(hb_params_create(ctx, HB_F32, &unfinished), HB_OK);
    hb_optimizer *o = (hb_optimizer *)0x1;
    ck_assert_int_eq(hb_optimizer_create(NULL, HB_OPTIM_SGD, p, &o), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_SGD, p, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_SGD, NULL, &o), HB_EINVAL);
    ck_assert_ptr_null(o);
    ck_assert_int_eq(hb_optimizer_create(ctx, (hb_optimizer_kind)99, p, &o), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_SGD, unfinished, &o), HB_ESTATE);
    ck_assert_ptr_null(o);
    ck_assert_str_eq(hb_optimizer_kind_name((hb_optimizer_kind)0), "?");
    ck_assert_str_eq(hb_optimizer_kind_name(HB_OPTIM_ADAM_MINI), "adam_mini");
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_ADAM, p, &o), HB_OK);
    double d;
    int64_t i;
    /* NULL handles */
    ck_assert_int_eq(hb_optimizer_set_f64(NULL, HB_OPT_LR, 1), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_get_f64(NULL, HB_OPT_LR, &d), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_set_i64(NULL, HB_OPT_HEADS, 1), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_get_i64(NULL, HB_OPT_HEADS, &i), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_override_f64(NULL, "*", HB_OPT_LR, 1), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_override_kind_f64(NULL, HB_BLOCK_NORM, HB_OPT_LR, 1), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_block_f64(NULL, 0, HB_OPT_LR, &d), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_schedule_constant(NULL), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_schedule_cosine(NULL, 1, 2, 0), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_schedule_callback(NULL, sched_cb, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_lr_factor(NULL, 1, &d), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_step(NULL), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_reset(NULL), HB_EINVAL);
    size_t c, s;
    ck_assert_int_eq(hb_optimizer_partitions(NULL, 0, &c, &s), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_state_bytes(NULL, &c), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_step_count(NULL), 0);
    ck_assert_int_eq((int)hb_optimizer_kind_of(NULL), 0);
    ck_assert_ptr_null(hb_optimizer_params(NULL));
    hb_optimizer_free(NULL);
    /* keys and values */
    ck_assert_int_eq(hb_optimizer_set_f64(o, (hb_optimizer_opt)99, 1), HB_EINVAL);
    ck_assert_str_ne(hb_context_last_error(ctx), "");
    ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_LR, -1), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_LR, NAN), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_EPS, INFINITY), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_BETA1, 1), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_BETA2, -0.1), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_HEADS, 2), HB_EUNSUPPORTED);
    ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_MOMENTUM, 0.5), HB_EUNSUPPORTED);
    ck_assert_int_eq(hb_optimizer_set_i64(o, HB_OPT_NESTEROV, 1), HB_EUNSUPPORTED);
    ck_assert_int_eq(hb_optimizer_set_i64(o, HB_OPT_STOCHASTIC_ROUNDING, 1), HB_EUNSUPPORTED); /* f32 */
    ck_assert_int_eq(hb_optimizer_set_i64(o, HB_OPT_LR, 1), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_set_i64(o, HB_OPT_DECAY_NORMS_BIASES, 2), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_DECAY_NORMS_BIASES, 1), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_get_f64(o, HB_OPT_LR, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_get_f64(o, HB_OPT_DECAY_NORMS_BIASES, &d), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_get_i64(o, HB_OPT_LR, &i), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_get_i64(o, HB_OPT_DECAY_NORMS_BIASES, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_CLIP_NORM, 2), HB_OK);
    ck_assert_int_eq(hb_optimizer_get_f64(o, HB_OPT_CLIP_NORM, &d), HB_OK);
    ck_assert(d == 2);
    ck_assert_int_eq(hb_optimizer_get_f64(o, HB_OPT_BETA2, &d), HB_OK);
    ck_assert(d == 0.999);
    ck_assert_int_eq(hb_optimizer_get_i64(o, HB_OPT_DECAY_NORMS_BIASES, &i), HB_OK);
    ck_assert(i == 0);
    ck_assert_int_eq(hb_optimizer_override_f64(o, NULL, HB_OPT_LR, 1), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_override_f64(o, "", HB_OPT_LR, 1), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_override_kind_f64(o, (hb_block_kind)99, HB_OPT_LR, 1), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_block_f64(o, 3, HB_OPT_LR, &d), HB_ERANGE);
    ck_assert_int_eq(hb_optimizer_block_f64(o, 0, HB_OPT_CLIP_NORM, &d), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_block_f64(o, 0, HB_OPT_LR, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_schedule_cosine(o, 5, 5, 0), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_schedule_cosine(o, -1, 5, 0), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_schedule_cosine(o, 1, 5, 1.5), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_schedule_cosine(o, 1, 5, NAN), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_schedule_callback(o, NULL, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_lr_factor(o, 0, &d), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_lr_factor(o, 1, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_partitions(o, 3, &c, &s), HB_ERANGE);
    ck_assert_int_eq(hb_optimizer_partitions(o, 0, NULL, &s), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_state_bytes(o, NULL), HB_EINVAL);
    ck_assert_int_eq(hb_optimizer_state_bytes(o, &c), HB_OK);
    ck_assert_uint_eq(c, 2 * NB_ELEMS * sizeof(float));
    ck_assert_int_eq((int)hb_optimizer_kind_of(o), HB_OPTIM_ADAM);
    ck_assert_ptr_eq(hb_optimizer_params(o), p);
    /* reset: state and count to zero, params untouched */
    set_grad(p, 1);
    ck_assert_int_eq(hb_optimizer_step(o), HB_OK);
    ck_assert_int_eq(hb_optimizer_reset(o), HB_OK);
    ck_assert_int_eq(hb_optimizer_step_count(o), 0);
    for (size_t k = 0; k < NB_ELEMS; k++) ck_assert(((float *)o->m)[k] == 0);
    hb_optimizer_free(o);
    /* Nesterov preconditions are checked at step */
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_SGD, p, &o), HB_OK);
    ck_assert_int_eq(hb_optimizer_set_i64(o, HB_OPT_NESTEROV, 1), HB_OK);
    ck_assert_int_eq(hb_optimizer_step(o), HB_ESTATE);
    ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_MOMENTUM, 0.9), HB_OK);
    ck_assert_int_eq(hb_optimizer_override_f64(o, "misc", HB_OPT_DAMPENING, 0.1), HB_OK);
    ck_assert_int_eq(hb_optimizer_step(o), HB_ESTATE);
    ck_assert_int_eq(hb_optimizer_step_count(o), 0);
    hb_optimizer_free(o);
    hb_params_free(unfinished);
    hb_params_free(p);
    hb_context_free(ctx);
}
END_TEST

/* Create + options + overrides + two steps (the first allocates Adam-mini's v and the
 * master copy) under the allocation-failure loop. */
/* The MINI block set as params of dtype dt (no allocation check: the OOM loops use it);
 * with `frozen`, block 1 is frozen before finalising and block 3 after. */
static int mini_params(hb_context *ctx, hb_dtype dt, bool frozen, hb_params **out) {
    hb_params *p = NULL;
    int rc = hb_params_create(ctx, dt, &p);
    for (size_t b = 0; rc == HB_OK && b < NMINI; b++)
        rc = hb_params_add_block(p, MINI[b].name, MINI[b].kind, MINI[b].ndim, MINI[b].shape, NULL);
    if (rc == HB_OK && frozen) rc = hb_params_set_trainable(p, 1, 0);
    if (rc == HB_OK) rc = hb_params_finalize(p);
    if (rc == HB_OK && frozen) rc = hb_params_set_trainable(p, 3, 0);
    if (rc != HB_OK) hb_params_free(p), p = NULL;
    *out = p;
    return rc;
}

static int oom_optimizer(hb_context *ctx, void *arg) {
    hb_optimizer_kind kind = *(hb_optimizer_kind *)arg;
    hb_params *p = NULL;
    hb_optimizer *o = NULL;
    int rc = mini_params(ctx, kind == HB_OPTIM_ADAMW ? HB_BF16 : HB_F64, false, &p);
    if (rc == HB_OK) rc = hb_optimizer_create(ctx, kind, p, &o);
    if (rc == HB_OK && kind == HB_OPTIM_ADAM_MINI) rc = hb_optimizer_set_i64(o, HB_OPT_HEADS, 2);
    if (rc == HB_OK && kind == HB_OPTIM_ADAMW) rc = hb_optimizer_set_i64(o, HB_OPT_MASTER_COPY, 1);
    if (rc == HB_OK && kind == HB_OPTIM_ADAMW) rc = hb_optimizer_set_i64(o, HB_OPT_STOCHASTIC_ROUNDING, 1);
    if (rc == HB_OK) rc = hb_optimizer_override_f64(o, "attn.*", HB_OPT_LR, 0.1);
    if (rc == HB_OK) rc = hb_optimizer_override_kind_f64(o, HB_BLOCK_NORM, HB_OPT_LR, 0.2);
    for (int t = 0; rc == HB_OK && t < 2; t++) rc = hb_optimizer_step(o);
    if (rc == HB_OK && hb_optimizer_step_count(o) != 2) rc = HB_ESTATE;
    hb_optimizer_free(o);
    hb_params_free(p);
    return rc;
}

START_TEST(test_oom) {
    const hb_optimizer_kind kinds[] = {HB_OPTIM_SGD, HB_OPTIM_ADAM, HB_OPTIM_ADAMW, HB_OPTIM_ADAM_MINI};
    for (int k = 0; k < 4; k++) {
        hb_optimizer_kind kind = kinds[k];
        long n = hb_test_oom_loop(oom_optimizer, &kind);
        ck_assert_int_ge(n, 5); /* params (3) + optimizer handle and state + overrides */
    }
}
END_TEST


/* ---- frozen blocks ----------------------------------------------------------------
 * The contract: with blocks [A trainable, B frozen, C trainable], A and C get exactly the
 * update of an optimizer over params holding only [A, C] (same values, gradients,
 * options), and B is never written. So every comparison below is bit for bit (memcmp):
 * the same operations on the same inputs, no tolerance needed. */

/* Sizes: the 70000 trainable elements span two gradient-check chunks (65536 state
 * indices; the first spans A and C), so the clip norm's chunking over packed state
 * indices is exercised (kept small: the suite also runs under valgrind); B's 101 rows are
 * not divisible by 2 heads (a frozen block needs no Adam-mini layout). */
static const bspec FROZEN3[] = {
    {"attn.wq", HB_BLOCK_ATTN_Q, 2, {200, 200}},
    {"attn.wk", HB_BLOCK_ATTN_K, 2, {101, 300}},
    {"mlp.fc", HB_BLOCK_LINEAR, 2, {150, 200}},
};
static const bspec FROZEN3_REF[] = {
    {"attn.wq", HB_BLOCK_ATTN_Q, 2, {200, 200}},
    {"mlp.fc", HB_BLOCK_LINEAR, 2, {150, 200}},
};

/* Params from a spec without initialisers (they would take context streams and make the
 * stochastic-rounding stream differ between the two contexts). */
static hb_params *bare_params(hb_context *ctx, hb_dtype dt, const bspec *b, size_t nb) {
    hb_params *p = NULL;
    ck_assert_int_eq(hb_params_create(ctx, dt, &p), HB_OK);
    for (size_t i = 0; i < nb; i++)
        ck_assert_int_eq(hb_params_add_block(p, b[i].name, b[i].kind, b[i].ndim, b[i].shape, NULL),
                         HB_OK);
    ck_assert_int_eq(hb_params_finalize(p), HB_OK);
    return p;
}

/* Fill block b's values (t = 0) or its gradient of step t with a function of (tag, index
 * inside the block, t). tag 2 is the frozen block: a large gradient (100 per element —
 * counted in the clip norm it would change the clip coefficient) with a NaN at step 2. */
static void fill_block(hb_params *p, size_t b, int tag, int t) {
    size_t off, numel;
    ck_assert_int_eq(hb_params_block_info(p, b, NULL, NULL, &off, &numel, NULL, NULL), HB_OK);
    for (size_t j = 0; j < numel; j++) {
        double x;
        if (t == 0) x = 0.5 * sin(0.37 * (double)j + tag) + 0.1 * tag;
        else if (tag == 2) x = (t == 2 && j == 5) ? NAN : 100.0;
        else x = cos(0.11 * (double)j + 1.7 * t + tag) * (1 + 0.1 * (double)(j % 7));
        if (t == 0) {
            void *d = hb_params_data(p);
            switch (hb_params_dtype(p)) {
            case HB_F64: ((double *)d)[off + j] = x; break;
            case HB_F32: ((float *)d)[off + j] = (float)x; break;
            default: ((uint16_t *)d)[off + j] = hb_f32_to_bf16((float)x); break;
            }
        } else if (hb_params_grad_dtype(p) == HB_F64) {
            ((double *)hb_params_grad(p))[off + j] = x;
        } else {
            ((float *)hb_params_grad(p))[off + j] = (float)x;
        }
    }
}

typedef struct fcase {
    const char *what;
    hb_optimizer_kind kind;
    hb_dtype dt;
    int master, sr;
} fcase;

static void configure(hb_optimizer *o, const fcase *c) {
    ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_CLIP_NORM, 0.5), HB_OK);
    switch (c->kind) {
    case HB_OPTIM_SGD:
        ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_LR, 0.05), HB_OK);
        ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_MOMENTUM, 0.9), HB_OK);
        ck_assert_int_eq(hb_optimizer_set_i64(o, HB_OPT_NESTEROV, 1), HB_OK);
        ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_WEIGHT_DECAY, 0.01), HB_OK);
        break;
    case HB_OPTIM_ADAM:
        ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_LR, 0.01), HB_OK);
        ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_WEIGHT_DECAY, 0.01), HB_OK); /* L2 */
        break;
    case HB_OPTIM_ADAMW: /* decay on every block, with overrides and a schedule */
        ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_LR, 0.01), HB_OK);
        ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_WEIGHT_DECAY, 0.1), HB_OK);
        ck_assert_int_eq(hb_optimizer_set_i64(o, HB_OPT_DECAY_NORMS_BIASES, 1), HB_OK);
        ck_assert_int_eq(hb_optimizer_override_f64(o, "attn.*", HB_OPT_WEIGHT_DECAY, 0.05), HB_OK);
        ck_assert_int_eq(hb_optimizer_override_f64(o, "mlp.*", HB_OPT_LR, 0.003), HB_OK);
        ck_assert_int_eq(hb_optimizer_override_kind_f64(o, HB_BLOCK_LINEAR, HB_OPT_BETA2, 0.99),
                         HB_OK);
        ck_assert_int_eq(hb_optimizer_schedule_cosine(o, 1, 10, 0.1), HB_OK);
        break;
    case HB_OPTIM_ADAM_MINI:
        ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_LR, 0.01), HB_OK);
        ck_assert_int_eq(hb_optimizer_set_i64(o, HB_OPT_HEADS, 2), HB_OK);
        break;
    }
    if (c->master) ck_assert_int_eq(hb_optimizer_set_i64(o, HB_OPT_MASTER_COPY, 1), HB_OK);
    if (c->sr) ck_assert_int_eq(hb_optimizer_set_i64(o, HB_OPT_STOCHASTIC_ROUNDING, 1), HB_OK);
}

START_TEST(test_frozen_matches_reference) {
    const fcase C[] = {
        {"sgd nesterov f64", HB_OPTIM_SGD, HB_F64, 0, 0},
        {"adam L2 f32", HB_OPTIM_ADAM, HB_F32, 0, 0},
        {"adamw overrides f64", HB_OPTIM_ADAMW, HB_F64, 0, 0},
        {"adam-mini heads f32", HB_OPTIM_ADAM_MINI, HB_F32, 0, 0},
        {"adamw bf16 master+sr", HB_OPTIM_ADAMW, HB_BF16, 1, 1},
        {"adam-mini bf16 master+sr", HB_OPTIM_ADAM_MINI, HB_BF16, 1, 1},
        {"sgd bf16 sr", HB_OPTIM_SGD, HB_BF16, 0, 1},
    };
    for (size_t k = 0; k < sizeof C / sizeof C[0]; k++) {
        const fcase *c = &C[k];
        /* two contexts with the same seed: the rounding streams are the same; 2 threads
           against 1, so the comparison covers thread independence too */
        hb_context *c1 = hb_test_context(2, 77), *c2 = hb_test_context(1, 77);
        hb_params *p = bare_params(c1, c->dt, FROZEN3, 3), *r = bare_params(c2, c->dt, FROZEN3_REF, 2);
        ck_assert_int_eq(hb_params_set_trainable(p, 1, 0), HB_OK);
        ck_assert_uint_eq(hb_params_trainable_count(p), hb_params_count(r));
        fill_block(p, 0, 1, 0), fill_block(p, 1, 2, 0), fill_block(p, 2, 3, 0);
        fill_block(r, 0, 1, 0), fill_block(r, 1, 3, 0);
        size_t es = hb_dtype_size(c->dt), na = 40000, nbk = 30300, nc = 30000;
        unsigned char *b0 = malloc(nbk * es), *a0 = malloc(na * es);
        memcpy(b0, (char *)hb_params_data(p) + na * es, nbk * es);
        memcpy(a0, hb_params_data(p), na * es);
        hb_optimizer *o = NULL, *ro = NULL;
        ck_assert_int_eq(hb_optimizer_create(c1, c->kind, p, &o), HB_OK);
        ck_assert_int_eq(hb_optimizer_create(c2, c->kind, r, &ro), HB_OK);
        configure(o, c);
        configure(ro, c);
        for (int t = 1; t <= 3; t++) {
            fill_block(p, 0, 1, t), fill_block(p, 1, 2, t), fill_block(p, 2, 3, t);
            fill_block(r, 0, 1, t), fill_block(r, 1, 3, t);
            ck_assert_msg(hb_optimizer_step(o) == HB_OK, "%s step %d: %s", c->what, t,
                          hb_context_last_error(c1));
            ck_assert_int_eq(hb_optimizer_step(ro), HB_OK);
            if (t == 1) { /* clipping is active: ‖g‖ of the trainable blocks exceeds 0.5 */
                double ss = 0;
                for (size_t i = 0; i < hb_params_count(r); i++) {
                    double g = hb_params_grad_dtype(r) == HB_F64 ? ((double *)hb_params_grad(r))[i]
                                                                 : ((float *)hb_params_grad(r))[i];
                    ss += g * g;
                }
                ck_assert(sqrt(ss) > 10 * 0.5);
            }
            size_t sb, rsb;
            ck_assert_int_eq(hb_optimizer_state_bytes(o, &sb), HB_OK);
            ck_assert_int_eq(hb_optimizer_state_bytes(ro, &rsb), HB_OK);
            ck_assert_msg(sb == rsb, "%s: state bytes %zu vs reference %zu", c->what, sb, rsb);
        }
        const char *d = hb_params_data(p), *rd = hb_params_data(r);
        ck_assert_msg(memcmp(d, rd, na * es) == 0, "%s: block A differs from the reference", c->what);
        ck_assert_msg(memcmp(d + (na + nbk) * es, rd + na * es, nc * es) == 0,
                      "%s: block C differs from the reference", c->what);
        ck_assert_msg(memcmp(d + na * es, b0, nbk * es) == 0, "%s: frozen block B was written",
                      c->what);
        ck_assert_msg(memcmp(d, a0, na * es) != 0, "%s: A did not move (vacuous test)", c->what);
        /* the state itself is the reference's, packed */
        size_t ses = o->sdtype == HB_F64 ? 8 : 4;
        ck_assert_uint_eq(o->n_state, na + nc);
        if (o->buf) ck_assert(memcmp(o->buf, ro->buf, o->n_state * ses) == 0);
        if (o->m) ck_assert(memcmp(o->m, ro->m, o->n_state * ses) == 0);
        if (o->v) {
            size_t vl = c->kind == HB_OPTIM_ADAM_MINI ? o->n_part : o->n_state;
            if (c->kind == HB_OPTIM_ADAM_MINI) ck_assert_uint_eq(o->n_part, ro->n_part);
            ck_assert(memcmp(o->v, ro->v, vl * ses) == 0);
        }
        if (o->master) ck_assert(memcmp(o->master, ro->master, o->n_state * 4) == 0);
        /* partitions of the frozen block: the layout answer, though no state exists */
        size_t cnt, sz;
        if (c->kind == HB_OPTIM_ADAM_MINI) {
            ck_assert_int_eq(hb_optimizer_partitions(o, 1, &cnt, &sz), HB_ESHAPE);
        } else {
            ck_assert_int_eq(hb_optimizer_partitions(o, 1, &cnt, &sz), HB_OK);
            ck_assert_uint_eq(cnt, nbk);
        }
        /* a NaN in a trainable block still stops the step */
        fill_block(p, 0, 1, 4), fill_block(p, 1, 2, 4), fill_block(p, 2, 3, 4);
        if (hb_params_grad_dtype(p) == HB_F64) ((double *)hb_params_grad(p))[na + nbk + 7] = NAN;
        else ((float *)hb_params_grad(p))[na + nbk + 7] = NAN;
        ck_assert_int_eq(hb_optimizer_step(o), HB_ENONFINITE);
        ck_assert_int_eq(hb_optimizer_step_count(o), 3);
        free(b0);
        free(a0);
        hb_optimizer_free(o);
        hb_optimizer_free(ro);
        hb_params_free(p);
        hb_params_free(r);
        hb_context_free(c1);
        hb_context_free(c2);
    }
}
END_TEST

/* Flags changed after create: HB_ESTATE and nothing changes, even when changed back. */
START_TEST(test_frozen_flags_changed) {
    hb_context *ctx = hb_test_context(1, 51);
    hb_params *p = make_params(ctx, HB_F32, BASIC, NBASIC);
    hb_optimizer *o = NULL, *o2 = NULL;
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_ADAM_MINI, p, &o), HB_OK);
    set_grad(p, 1);
    ck_assert_int_eq(hb_optimizer_step(o), HB_OK);
    ck_assert_int_eq(hb_params_set_trainable(p, 1, 0), HB_OK);
    set_grad(p, 2);
    snap before = take_snap(o);
    ck_assert_int_eq(hb_optimizer_step(o), HB_ESTATE);
    ck_assert_str_ne(hb_context_last_error(ctx), "");
    ck_assert_int_eq(hb_params_set_trainable(p, 1, 1), HB_OK); /* back: still a new generation */
    ck_assert_int_eq(hb_optimizer_step(o), HB_ESTATE);
    snap after = take_snap(o);
    ck_assert(before.len == after.len && memcmp(before.bytes, after.bytes, before.len) == 0);
    free(before.bytes);
    free(after.bytes);
    /* a new optimizer takes the current flags; freezing everything leaves nothing to do */
    for (size_t b = 0; b < NBASIC; b++) ck_assert_int_eq(hb_params_set_trainable(p, b, 0), HB_OK);
    ck_assert_int_eq(hb_optimizer_create(ctx, HB_OPTIM_ADAMW, p, &o2), HB_OK);
    size_t bytes = 1;
    ck_assert_int_eq(hb_optimizer_state_bytes(o2, &bytes), HB_OK);
    ck_assert_uint_eq(bytes, 0);
    before = take_snap(o2);
    ck_assert_int_eq(hb_optimizer_step(o2), HB_OK);
    ck_assert_int_eq(hb_optimizer_step_count(o2), 1);
    ck_assert(memcmp(before.bytes, hb_params_data(p), NB_ELEMS * 4) == 0);
    ck_assert_int_eq(hb_optimizer_reset_range(o2, 0, NB_ELEMS), HB_OK);
    free(before.bytes);
    hb_optimizer_free(o2);
    hb_optimizer_free(o);
    hb_params_free(p);
    hb_context_free(ctx);
}
END_TEST

/* HB_OPT_LR_MULT = 0.25 gives the same bits as every lr (global and override) × 0.25 under
 * a cosine schedule: 0.25 is a power of two, so (lr·f)·0.25 and (lr·0.25)·f round the same
 * way — bit identity, not a tolerance, is the right check. */
START_TEST(test_lr_mult) {
    hb_context *ctx = hb_test_context(1, 52);
    const hb_optimizer_kind kinds[] = {HB_OPTIM_SGD, HB_OPTIM_ADAMW, HB_OPTIM_ADAM_MINI};
    for (int k = 0; k < 3; k++) {
        hb_params *p = make_params(ctx, HB_F64, BASIC, NBASIC), *q = make_params(ctx, HB_F64, BASIC, NBASIC);
        memcpy(hb_params_data(q), hb_params_data(p), NB_ELEMS * 8);
        double start[NB_ELEMS];
        memcpy(start, hb_params_data(p), sizeof start);
        hb_optimizer *a = NULL, *b = NULL;
        ck_assert_int_eq(hb_optimizer_create(ctx, kinds[k], p, &a), HB_OK);
        ck_assert_int_eq(hb_optimizer_create(ctx, kinds[k], q, &b), HB_OK);
        double v = 0;
        ck_assert_int_eq(hb_optimizer_get_f64(a, HB_OPT_LR_MULT, &v), HB_OK);
        ck_assert(v == 1);
        ck_assert_int_eq(hb_optimizer_set_f64(a, HB_OPT_LR, 0.01), HB_OK);
        ck_assert_int_eq(hb_optimizer_override_f64(a, "ln.*", HB_OPT_LR, 0.004), HB_OK);
        ck_assert_int_eq(hb_optimizer_set_f64(a, HB_OPT_LR_MULT, 0.25), HB_OK);
        ck_assert_int_eq(hb_optimizer_set_f64(b, HB_OPT_LR, 0.01 * 0.25), HB_OK);
        ck_assert_int_eq(hb_optimizer_override_f64(b, "ln.*", HB_OPT_LR, 0.004 * 0.25), HB_OK);
        for (int i = 0; i < 2; i++) {
            hb_optimizer *o = i ? b : a;
            ck_assert_int_eq(hb_optimizer_schedule_cosine(o, 1, 6, 0.1), HB_OK);
            if (kinds[k] == HB_OPTIM_SGD) ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_MOMENTUM, 0.9), HB_OK);
        }
        /* the per-block value reported excludes the multiplier */
        ck_assert_int_eq(hb_optimizer_block_f64(a, 0, HB_OPT_LR, &v), HB_OK);
        ck_assert(v == 0.01);
        for (int t = 1; t <= 3; t++) {
            set_grad(p, t);
            set_grad(q, t);
            ck_assert_int_eq(hb_optimizer_step(a), HB_OK);
            ck_assert_int_eq(hb_optimizer_step(b), HB_OK);
        }
        ck_assert_msg(memcmp(hb_params_data(p), hb_params_data(q), NB_ELEMS * 8) == 0,
                      "%s: LR_MULT 0.25 differs from lr × 0.25", hb_optimizer_kind_name(kinds[k]));
        /* the parameters did move (so the comparison is not vacuous) */
        ck_assert(memcmp(hb_params_data(p), start, sizeof start) != 0);
        /* bad values and keys: nothing changes */
        ck_assert_int_eq(hb_optimizer_set_f64(a, HB_OPT_LR_MULT, -1), HB_EINVAL);
        ck_assert_int_eq(hb_optimizer_set_f64(a, HB_OPT_LR_MULT, NAN), HB_EINVAL);
        ck_assert_int_eq(hb_optimizer_set_f64(a, HB_OPT_LR_MULT, INFINITY), HB_EINVAL);
        ck_assert_int_eq(hb_optimizer_set_i64(a, HB_OPT_LR_MULT, 1), HB_EINVAL);
        ck_assert_int_eq(hb_optimizer_override_f64(a, "ln.*", HB_OPT_LR_MULT, 2), HB_EINVAL);
        ck_assert_int_eq(hb_optimizer_override_kind_f64(a, HB_BLOCK_NORM, HB_OPT_LR_MULT, 2), HB_EINVAL);
        ck_assert_int_eq(hb_optimizer_block_f64(a, 0, HB_OPT_LR_MULT, &v), HB_EINVAL);
        ck_assert_int_eq(hb_optimizer_get_f64(a, HB_OPT_LR_MULT, &v), HB_OK);
        ck_assert(v == 0.25);
        /* multiplier 0: a step changes nothing (lr 0, and AdamW's decay 1 − 0·wd = 1) */
        ck_assert_int_eq(hb_optimizer_set_f64(a, HB_OPT_LR_MULT, 0), HB_OK);
        set_grad(p, 4);
        ck_assert_int_eq(hb_optimizer_step(a), HB_OK);
        ck_assert(memcmp(hb_params_data(p), hb_params_data(q), NB_ELEMS * 8) == 0);
        hb_optimizer_free(a);
        hb_optimizer_free(b);
        hb_params_free(p);
        hb_params_free(q);
    }
    hb_context_free(ctx);
}
END_TEST

/* reset_range over [middle of A, middle of C] with B frozen in between equals, on the
 * reference [A, C], resetting the same parts of A and C; B's part is ignored. Partitions
 * (Adam-mini, rows): A 3 rows of 4, C 4 rows of 2; flat [6, 25) touches A rows 1-2 and
 * C rows 0-1. */
static const bspec SMALL3[] = {
    {"a", HB_BLOCK_LINEAR, 2, {3, 4}},
    {"b", HB_BLOCK_LINEAR, 2, {2, 5}},
    {"c", HB_BLOCK_LINEAR, 2, {4, 2}},
};
static const bspec SMALL3_REF[] = {
    {"a", HB_BLOCK_LINEAR, 2, {3, 4}},
    {"c", HB_BLOCK_LINEAR, 2, {4, 2}},
};

START_TEST(test_reset_range_frozen) {
    const hb_optimizer_kind kinds[] = {HB_OPTIM_SGD, HB_OPTIM_ADAMW, HB_OPTIM_ADAM_MINI};
    for (int k = 0; k < 3; k++) {
        hb_context *ctx = hb_test_context(1, 53);
        hb_params *p = bare_params(ctx, HB_F64, SMALL3, 3), *r = bare_params(ctx, HB_F64, SMALL3_REF, 2);
        ck_assert_int_eq(hb_params_set_trainable(p, 1, 0), HB_OK);
        fill_block(p, 0, 1, 0), fill_block(p, 1, 2, 0), fill_block(p, 2, 3, 0);
        fill_block(r, 0, 1, 0), fill_block(r, 1, 3, 0);
        hb_optimizer *o = NULL, *ro = NULL;
        ck_assert_int_eq(hb_optimizer_create(ctx, kinds[k], p, &o), HB_OK);
        ck_assert_int_eq(hb_optimizer_create(ctx, kinds[k], r, &ro), HB_OK);
        if (kinds[k] == HB_OPTIM_SGD) {
            ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_MOMENTUM, 0.9), HB_OK);
            ck_assert_int_eq(hb_optimizer_set_f64(ro, HB_OPT_MOMENTUM, 0.9), HB_OK);
        }
        for (int t = 1; t <= 2; t++) {
            fill_block(p, 0, 1, t), fill_block(p, 1, 2, 1), fill_block(p, 2, 3, t);
            fill_block(r, 0, 1, t), fill_block(r, 1, 3, t);
            ck_assert_int_eq(hb_optimizer_step(o), HB_OK);
            ck_assert_int_eq(hb_optimizer_step(ro), HB_OK);
        }
        /* a range inside the frozen block only: no state there, nothing changes */
        snap before = take_snap(o);
        ck_assert_int_eq(hb_optimizer_reset_range(o, 13, 8), HB_OK);
        snap after = take_snap(o);
        ck_assert(memcmp(before.bytes, after.bytes, before.len) == 0);
        free(before.bytes);
        free(after.bytes);
        /* straddling A | B | C */
        ck_assert_int_eq(hb_optimizer_reset_range(o, 6, 19), HB_OK);
        ck_assert_int_eq(hb_optimizer_reset_range(ro, 6, 6), HB_OK);
        ck_assert_int_eq(hb_optimizer_reset_range(ro, 12, 3), HB_OK);
        const double *st = kinds[k] == HB_OPTIM_SGD ? o->buf : o->m;
        const double *rst = kinds[k] == HB_OPTIM_SGD ? ro->buf : ro->m;
        ck_assert_uint_eq(o->n_state, 20);
        ck_assert(memcmp(st, rst, 20 * 8) == 0);
        for (size_t j = 0; j < 20; j++) /* zero exactly on A[6..12) and C[0..3) */
            ck_assert_msg((st[j] == 0) == (j >= 6 && j < 15), "%s: state %zu = %g",
                          hb_optimizer_kind_name(kinds[k]), j, st[j]);
        if (kinds[k] == HB_OPTIM_ADAM_MINI) {
            ck_assert_uint_eq(o->n_part, 7);
            const double *v = o->v;
            for (size_t j = 0; j < 7; j++) /* A rows 1, 2 = partitions 1, 2; C rows 0, 1 = 3, 4 */
                ck_assert_msg((v[j] == 0) == (j >= 1 && j <= 4), "partition %zu: v = %g", j, v[j]);
            ck_assert(memcmp(o->v, ro->v, 7 * 8) == 0);
        } else if (o->v) {
            ck_assert(memcmp(o->v, ro->v, 20 * 8) == 0);
        }
        /* and the next step agrees with the reference */
        fill_block(p, 0, 1, 3), fill_block(p, 1, 2, 1), fill_block(p, 2, 3, 3);
        fill_block(r, 0, 1, 3), fill_block(r, 1, 3, 3);
        ck_assert_int_eq(hb_optimizer_step(o), HB_OK);
        ck_assert_int_eq(hb_optimizer_step(ro), HB_OK);
        const double *d = hb_params_data(p), *rd = hb_params_data(r);
        ck_assert(memcmp(d, rd, 12 * 8) == 0 && memcmp(d + 22, rd + 12, 8 * 8) == 0);
        hb_optimizer_free(o);
        hb_optimizer_free(ro);
        hb_params_free(p);
        hb_params_free(r);
        hb_context_free(ctx);
    }
}
END_TEST

/* Create and step with a frozen block (packed state table, Adam-mini partitions of the
 * trainable blocks, master copy) under the allocation-failure loop. */
static int oom_frozen(hb_context *ctx, void *arg) {
    hb_optimizer_kind kind = *(hb_optimizer_kind *)arg;
    hb_params *p = NULL;
    hb_optimizer *o = NULL;
    int rc = mini_params(ctx, HB_BF16, true, &p);
    if (rc == HB_OK) rc = hb_optimizer_create(ctx, kind, p, &o);
    if (rc == HB_OK && kind == HB_OPTIM_ADAM_MINI) rc = hb_optimizer_set_i64(o, HB_OPT_HEADS, 2);
    if (rc == HB_OK) rc = hb_optimizer_set_i64(o, HB_OPT_MASTER_COPY, 1);
    if (rc == HB_OK) rc = hb_optimizer_set_f64(o, HB_OPT_LR_MULT, 0.5);
    for (int t = 0; rc == HB_OK && t < 2; t++) rc = hb_optimizer_step(o);
    if (rc == HB_OK && hb_optimizer_step_count(o) != 2) rc = HB_ESTATE;
    hb_optimizer_free(o);
    hb_params_free(p);
    return rc;
}

START_TEST(test_oom_frozen) {
    const hb_optimizer_kind kinds[] = {HB_OPTIM_SGD, HB_OPTIM_ADAMW, HB_OPTIM_ADAM_MINI};
    for (int k = 0; k < 3; k++) {
        hb_optimizer_kind kind = kinds[k];
        ck_assert_int_ge(hb_test_oom_loop(oom_frozen, &kind), 6);
    }
}
END_TEST

/* Two f64 blocks "a" (4) and "b" (3), values and gradients from fixed formulas. */
static hb_params *two_blocks(hb_context *ctx, const char *only) {
    hb_params *p = NULL;
    int64_t sa[1] = {4}, sb[1] = {3};
    ck_assert_int_eq(hb_params_create(ctx, HB_F64, &p), HB_OK);
    if (!only || strcmp(only, "a") == 0)
        ck_assert_int_eq(hb_params_add_block(p, "a", HB_BLOCK_OTHER, 1, sa, NULL), HB_OK);
    if (!only || strcmp(only, "b") == 0)
        ck_assert_int_eq(hb_params_add_block(p, "b", HB_BLOCK_OTHER, 1, sb, NULL), HB_OK);
    ck_assert_int_eq(hb_params_finalize(p), HB_OK);
    double *d = hb_params_data(p);
    for (size_t i = 0; i < hb_params_count(p); i++) d[i] = sin(1.0 + (double)i);
    return p;
}

static void grad_formula(hb_params *p, size_t first, int step) {
    double *g = hb_params_grad(p);
    for (size_t i = 0; i < hb_params_count(p); i++) g[i] = cos(0.7 * (double)(first + i) + step);
}

/* hb_optimizer_reset_block restarts a block: its next update is bit-for-bit the first
 * update of a fresh optimizer over that block alone (Adam: bias correction from 1; SGD
 * with momentum: buf = d), the other block continues; the restart survives a checkpoint. */
START_TEST(test_reset_block) {
    const hb_optimizer_kind kinds[] = {HB_OPTIM_ADAM, HB_OPTIM_SGD, HB_OPTIM_ADAM_MINI};
    for (int q = 0; q < 3; q++) {
        hb_context *ctx = hb_test_context(1, 41);
        hb_params *p = two_blocks(ctx, NULL);
        hb_optimizer *o = NULL;
        ck_assert_int_eq(hb_optimizer_create(ctx, kinds[q], p, &o), HB_OK);
        ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_LR, 0.05), HB_OK);
        if (kinds[q] == HB_OPTIM_SGD) ck_assert_int_eq(hb_optimizer_set_f64(o, HB_OPT_MOMENTUM, 0.9), HB_OK);
        for (int t = 0; t < 3; t++) {
            grad_formula(p, 0, t);
            ck_assert_int_eq(hb_optimizer_step(o), HB_OK);
        }
        size_t nbytes0, nbytes1;
        ck_assert_int_eq(hb_checkpoint_size(p, o, &nbytes0), HB_OK);
        ck_assert_int_eq(hb_optimizer_reset_block(o, 1), HB_OK);
        int64_t sa, sb;
        ck_assert_int_eq(hb_optimizer_block_step_count(o, 0, &sa), HB_OK);
        ck_assert_int_eq(hb_optimizer_block_step_count(o, 1, &sb), HB_OK);
        ck_assert(sa == 3 && sb == 0);
        ck_assert_int_eq(hb_optimizer_step_count(o), 3); /* the global count continues */
        /* the restart points travel in the checkpoint: one extra array of 2 i64 */
        ck_assert_int_eq(hb_checkpoint_size(p, o, &nbytes1), HB_OK);
        ck_assert_uint_eq(nbytes1, nbytes0 + 16 + 2 * 8);
        void *img = malloc(nbytes1);
        ck_assert_int_eq(hb_checkpoint_save_buffer(p, o, img, nbytes1, NULL), HB_OK);
        /* reference: a fresh optimizer over block b alone, same values and gradient */
        hb_params *r = two_blocks(ctx, "b");
        memcpy(hb_params_data(r), (double *)hb_params_data(p) + 4, 3 * sizeof(double));
        hb_optimizer *ro = NULL;
        ck_assert_int_eq(hb_optimizer_create(ctx, kinds[q], r, &ro), HB_OK);
        ck_assert_int_eq(hb_optimizer_set_f64(ro, HB_OPT_LR, 0.05), HB_OK);
        if (kinds[q] == HB_OPTIM_SGD) ck_assert_int_eq(hb_optimizer_set_f64(ro, HB_OPT_MOMENTUM, 0.9), HB_OK);
        grad_formula(p, 0, 3);
        grad_formula(r, 4, 3);
        ck_assert_int_eq(hb_optimizer_step(o), HB_OK);
        ck_assert_int_eq(hb_optimizer_step(ro), HB_OK);
        ck_assert(memcmp((double *)hb_params_data(p) + 4, hb_params_data(r), 3 * sizeof(double)) == 0);
        ck_assert_int_eq(hb_optimizer_block_step_count(o, 1, &sb), HB_OK);
        ck_assert(sb == 1);
        double after[7];
        memcpy(after, hb_params_data(p), sizeof after);
        /* load the image (taken right after the restart) into a new optimizer: same step */
        hb_optimizer *o2 = NULL;
        ck_assert_int_eq(hb_optimizer_create(ctx, kinds[q], p, &o2), HB_OK);
        ck_assert_int_eq(hb_optimizer_set_f64(o2, HB_OPT_LR, 0.05), HB_OK);
        if (kinds[q] == HB_OPTIM_SGD) ck_assert_int_eq(hb_optimizer_set_f64(o2, HB_OPT_MOMENTUM, 0.9), HB_OK);
        ck_assert_int_eq(hb_checkpoint_load_buffer(img, nbytes1, p, o2), HB_OK);
        ck_assert_int_eq(hb_optimizer_block_step_count(o2, 1, &sb), HB_OK);
        ck_assert(sb == 0);
        grad_formula(p, 0, 3);
        ck_assert_int_eq(hb_optimizer_step(o2), HB_OK);
        ck_assert(memcmp(after, hb_params_data(p), sizeof after) == 0);
        /* hb_optimizer_reset zeroes the restart points with the step count */
        ck_assert_int_eq(hb_optimizer_reset(o2), HB_OK);
        ck_assert_int_eq(hb_checkpoint_size(p, o2, &nbytes1), HB_OK);
        ck_assert_uint_eq(nbytes1, nbytes0);
        /* bad input */
        ck_assert_int_eq(hb_optimizer_reset_block(NULL, 0), HB_EINVAL);
        ck_assert_int_eq(hb_optimizer_reset_block(o, 2), HB_ERANGE);
        ck_assert_int_eq(hb_optimizer_block_step_count(o, 2, &sb), HB_ERANGE);
        ck_assert_int_eq(hb_optimizer_block_step_count(o, 0, NULL), HB_EINVAL);
        ck_assert_int_eq(hb_optimizer_block_step_count(NULL, 0, &sb), HB_EINVAL);
        free(img);
        hb_optimizer_free(o);
        hb_optimizer_free(o2);
        hb_optimizer_free(ro);
        hb_params_free(p);
        hb_params_free(r);
        hb_context_free(ctx);
    }
}
END_TEST

Suite *hb_suite_optim(void) {
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_sgd_reference);
    tcase_add_test(tc, test_adam_reference);
    tcase_add_test(tc, test_adam_mini_reference);
    tcase_add_test(tc, test_adam_mini_gpt_table);
    tcase_add_test(tc, test_overrides);
    tcase_add_test(tc, test_schedules_and_clipping);
    tcase_add_test(tc, test_bf16);
    tcase_add_test(tc, test_nonfinite_leaves_everything);
    tcase_add_test(tc, test_thread_independence);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_reset_range);
    tcase_add_test(tc, test_reset_range_adam_mini);
    tcase_add_test(tc, test_oom);
    tcase_add_test(tc, test_frozen_matches_reference);
    tcase_add_test(tc, test_frozen_flags_changed);
    tcase_add_test(tc, test_lr_mult);
    tcase_add_test(tc, test_reset_range_frozen);
    tcase_add_test(tc, test_oom_frozen);
    tcase_add_test(tc, test_reset_block);
    tcase_add_test(tc, test_set_block);
    suite_add_tcase(s, tc);
    return s;
}
