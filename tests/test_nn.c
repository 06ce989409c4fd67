/* lib/nn θ-side kernels of the linear layer and the cross-entropy against central finite
 * differences, in f64 (the other layers and every R-pass are checked through the network
 * engine: tests/test_net*.c, test_gpt_layers.c).
 *
 * Gradients: a scalar probe objective L = Σ g ⊙ y (g fixed random), so the backward pass
 * with dy = g must give ∂L/∂(inputs, weights). R-passes: the R-forward must equal the
 * directional derivative of the forward, and the R-backward that of the backward (with
 * its inputs x, W, dy, probs all moving along their directions). Central differences with
 * ε = 1e-5 have truncation error O(ε²·f''') ≈ 1e-10 and rounding error O(eps/ε) ≈ 1e-11
 * relative, so 1e-7 (gradients) and 1e-6 (R-passes) can only fail on a wrong formula.
 * Also: nn/vtanh.h against libm, the activation forward's AVX2 copy against its baseline
 * loop (same bits), the bias gradient's column sums against the column walk, and the
 * layernorm forward (rows in blocks) against the row-by-row loop (same bits). */
#include <string.h>

#include "hb_test.h"
#include "kernels/kernels.h"
#include "nn/elementwise.h"
#include "nn/layernorm.h"
#include "nn/linear.h"
#include "nn/pool.h"
#include "nn/vtanh.h"
#include "nn/xent.h"

#define EPS 1e-5

static void fill(double *a, size_t n, double seed) {
    for (size_t i = 0; i < n; i++) a[i] = sin(seed * 12.9898 + (double)i * 78.233) * 1.3;
}

/* max|a − b| / max(max|b|, 1e-12) */
static double rel_err(const double *a, const double *b, size_t n) {
    double d = 0, s = 1e-12;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs(a[i] - b[i])), s = fmax(s, fabs(b[i]));
    return d / s;
}

static double dotv(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* ---- linear ---- */
enum { LN = 5, LIN = 4, LOUT = 3, LK = 3 };

static double lin_probe(hb_context *ctx, const double *x, const double *W, const double *b,
                        const double *g) {
    double y[LN * LOUT];
    ck_assert_int_eq(hb__linear_forward(ctx, HB_F64, LN, LIN, LOUT, x, W, b, y), HB_OK);
    return dotv(y, g, LN * LOUT);
}

START_TEST(test_linear_grad) {
    hb_context *ctx = hb_test_context(1, 1);
    double x[LN * LIN], W[LOUT * LIN], b[LOUT], g[LN * LOUT];
    fill(x, LN * LIN, 1), fill(W, LOUT * LIN, 2), fill(b, LOUT, 3), fill(g, LN * LOUT, 4);
    double dx[LN * LIN] = {0}, dW[LOUT * LIN] = {0}, db[LOUT] = {0};
    ck_assert_int_eq(hb__linear_backward(ctx, HB_F64, LN, LIN, LOUT, x, W, g, dx, dW, db), HB_OK);
    double fd[LN * LIN];
    double *args[3] = {x, W, b}, *grads[3] = {dx, dW, db};
    size_t lens[3] = {LN * LIN, LOUT * LIN, LOUT};
    for (int a = 0; a < 3; a++) {
        for (size_t i = 0; i < lens[a]; i++) {
            double keep = args[a][i];
            args[a][i] = keep + EPS;
            double lp = lin_probe(ctx, x, W, b, g);
            args[a][i] = keep - EPS;
            double lm = lin_probe(ctx, x, W, b, g);
            args[a][i] = keep;
            fd[i] = (lp - lm) / (2 * EPS);
        }
        ck_assert_msg(rel_err(grads[a], fd, lens[a]) <= 1e-7, "linear grad %d: %g", a,
                      rel_err(grads[a], fd, lens[a]));
    }
    /* accumulation: a second backward doubles the gradients */
    double dW2[LOUT * LIN];
    memcpy(dW2, dW, sizeof dW);
    ck_assert_int_eq(hb__linear_backward(ctx, HB_F64, LN, LIN, LOUT, x, W, g, NULL, dW, NULL), HB_OK);
    for (int i = 0; i < LOUT * LIN; i++) ck_assert(fabs(dW[i] - 2 * dW2[i]) <= 1e-14 * (1 + fabs(dW[i])));
    hb_context_free(ctx);
}
END_TEST

/* ---- cross-entropy ---- */
enum { XN = 4, XC = 5, XK = 2 };

START_TEST(test_xent) {
    hb_context *ctx = hb_test_context(1, 1);
    double z[XN * XC], p[XN * XC], Rz[XK * XN * XC];
    int32_t t[XN] = {0, 4, 2, 2};
    fill(z, XN * XC, 13), fill(Rz, XK * XN * XC, 14);
    double loss, dl = 0.7;
    ck_assert_int_eq(hb__xent_forward(ctx, HB_F64, XN, XC, z, t, p, &loss), HB_OK);
    /* hand-computed loss */
    double ref = 0;
    for (int n = 0; n < XN; n++) {
        double s = 0;
        for (int c = 0; c < XC; c++) s += exp(z[n * XC + c]);
        ref += log(s) - z[n * XC + t[n]];
    }
    HB_ASSERT_CLOSE(loss, ref / XN, 1e-14);
    double dz[XN * XC] = {0}, fd[XN * XC];
    ck_assert_int_eq(hb__xent_backward(ctx, HB_F64, XN, XC, p, t, dl, dz), HB_OK);
    for (int i = 0; i < XN * XC; i++) {
        double keep = z[i], lp, lm, tmp[XN * XC];
        z[i] = keep + EPS;
        hb__xent_forward(ctx, HB_F64, XN, XC, z, t, tmp, &lp);
        z[i] = keep - EPS;
        hb__xent_forward(ctx, HB_F64, XN, XC, z, t, tmp, &lm);
        z[i] = keep;
        fd[i] = dl * (lp - lm) / (2 * EPS);
    }
    ck_assert(rel_err(dz, fd, XN * XC) <= 1e-7);
    double Rdz[XK * XN * XC] = {0}; /* one direction per call: k = 1 is any layout */
    for (int j = 0; j < XK; j++)
        ck_assert_int_eq(hb__xent_rbackward(ctx, HB_F64, XN, XC, 1, p, Rz + j * XN * XC, dl,
                                            Rdz + j * XN * XC), HB_OK);
    for (int j = 0; j < XK; j++) {
        double zp[XN * XC], zm[XN * XC], pp[XN * XC], pm[XN * XC], dp[XN * XC] = {0},
               dm[XN * XC] = {0}, l;
        for (int i = 0; i < XN * XC; i++) zp[i] = z[i] + EPS * Rz[j * XN * XC + i], zm[i] = z[i] - EPS * Rz[j * XN * XC + i];
        hb__xent_forward(ctx, HB_F64, XN, XC, zp, t, pp, &l);
        hb__xent_forward(ctx, HB_F64, XN, XC, zm, t, pm, &l);
        hb__xent_backward(ctx, HB_F64, XN, XC, pp, t, dl, dp);
        hb__xent_backward(ctx, HB_F64, XN, XC, pm, t, dl, dm);
        for (int i = 0; i < XN * XC; i++) fd[i] = (dp[i] - dm[i]) / (2 * EPS);
        ck_assert(rel_err(Rdz + j * XN * XC, fd, XN * XC) <= 1e-6);
    }
    size_t correct;
    ck_assert_int_eq(hb__xent_correct(ctx, HB_F64, XN, XC, z, t, &correct), HB_OK);
    size_t ref_c = 0;
    for (int n = 0; n < XN; n++) {
        int best = 0;
        for (int c = 1; c < XC; c++) if (z[n * XC + c] > z[n * XC + best]) best = c;
        ref_c += best == t[n];
    }
    ck_assert_uint_eq(correct, ref_c);
    int32_t bad[XN] = {0, 5, 0, 0};
    ck_assert_int_eq(hb__xent_forward(ctx, HB_F64, XN, XC, z, bad, p, &loss), HB_ERANGE);
    bad[1] = -1;
    ck_assert_int_eq(hb__xent_backward(ctx, HB_F64, XN, XC, p, bad, 1, dz), HB_ERANGE);
    /* f32 agrees with f64 to f32 accuracy (softmax of O(1) logits: ~1e-7 relative) */
    float zf[XN * XC], pf[XN * XC];
    for (int i = 0; i < XN * XC; i++) zf[i] = (float)z[i];
    double lf;
    ck_assert_int_eq(hb__xent_forward(ctx, HB_F32, XN, XC, zf, t, pf, &lf), HB_OK);
    HB_ASSERT_CLOSE(lf, loss, 1e-6);
    hb_context_free(ctx);
}
END_TEST


/* ---- nn/vtanh.h: ≤ 2 ulp from libm's tanh in double over ±[1e-9, 30] (measured 2),
 * and rounded to f32 equal to the correctly rounded tanh of the float (measured: always
 * on this grid; tanhl as the reference) ---- */
START_TEST(test_vtanh) {
    double worst = 0;
    size_t f32_off = 0, n = 0;
    for (double a = 1e-9; a < 30; a *= 1.0003)
        for (int sg = -1; sg <= 1; sg += 2) {
            double x = sg * a, t = hb__vtanh(x), r = tanh(x);
            double ulp = nextafter(fabs(r), INFINITY) - fabs(r);
            worst = fmax(worst, fabs(t - r) / ulp);
            float xf = (float)x;
            f32_off += (float)hb__vtanh((double)xf) != (float)tanhl((long double)xf);
            n++;
        }
    ck_assert_msg(worst <= 2.0, "vtanh: %g ulp from libm", worst);
    ck_assert_msg(f32_off <= n / 10000, "vtanh f32: %zu of %zu not correctly rounded", f32_off, n);
    ck_assert(isnan(hb__vtanh(NAN)));
    ck_assert(hb__vtanh(INFINITY) == 1.0 && hb__vtanh(-INFINITY) == -1.0);
    ck_assert(hb__vtanh(-0.0) == 0.0 && signbit(hb__vtanh(-0.0)));
    ck_assert(hb__vtanh(1e-300) == 1e-300);
}
END_TEST

/* ---- the activation forward (AVX2 copy where the processor has it) gives the bits of
 * its baseline-ISA loop, for every activation and dtype, y, f′ and f″ ---- */
START_TEST(test_eltwise_isa_bits) {
    hb_context *ctx = NULL;
    ck_assert_int_eq(hb_context_create(&ctx), HB_OK);
    enum { EN = 4099 }; /* not a multiple of any vector width: the loops' tails too */
    static double x[EN], o[6][EN];
    static float xf[EN], of[6][EN];
    for (size_t i = 0; i < EN; i++) {
        x[i] = 12.0 * sin(0.37 * (double)i) * exp(-0.001 * (double)i) + 1e-3 * (double)(i % 7);
        xf[i] = (float)x[i];
    }
    for (int act = HB_ACT_RELU; act <= HB_ACT_TANH; act++) {
        bool d2 = hb__eltwise_has_d2(act);
        ck_assert_int_eq(hb__eltwise_forward(ctx, HB_F64, act, EN, x, o[0], o[1], d2 ? o[2] : NULL), HB_OK);
        hb__eltwise_forward_baseline(HB_F64, act, EN, x, o[3], o[4], d2 ? o[5] : NULL);
        ck_assert_msg(!memcmp(o[0], o[3], sizeof o[0]) && !memcmp(o[1], o[4], sizeof o[0]) &&
                          (!d2 || !memcmp(o[2], o[5], sizeof o[0])),
                      "activation %d f64: AVX2 and baseline loops differ", act);
        ck_assert_int_eq(hb__eltwise_forward(ctx, HB_F32, act, EN, xf, of[0], of[1], d2 ? of[2] : NULL), HB_OK);
        hb__eltwise_forward_baseline(HB_F32, act, EN, xf, of[3], of[4], d2 ? of[5] : NULL);
        ck_assert_msg(!memcmp(of[0], of[3], sizeof of[0]) && !memcmp(of[1], of[4], sizeof of[0]) &&
                          (!d2 || !memcmp(of[2], of[5], sizeof of[0])),
                      "activation %d f32: AVX2 and baseline loops differ", act);
    }
    hb_context_free(ctx);
}
END_TEST

/* ---- a NaN input gives a NaN output for every activation, dtype and forward path (ReLU
 * mapped NaN to 0, which hid a diverged run behind finite activations); ±0 and ±inf keep
 * their ReLU values ---- */
START_TEST(test_eltwise_nan_propagates) {
    hb_context *ctx = NULL;
    ck_assert_int_eq(hb_context_create(&ctx), HB_OK);
    double x[5] = {NAN, -NAN, -0.0, INFINITY, -INFINITY}, y[5], d1[5], d2[5];
    float xf[5] = {NAN, -NAN, -0.0f, INFINITY, -INFINITY}, yf[5], d1f[5], d2f[5];
    for (int act = HB_ACT_RELU; act <= HB_ACT_TANH; act++)
        for (int with_d2 = 0; with_d2 <= 1; with_d2++) {
            ck_assert_int_eq(hb__eltwise_forward(ctx, HB_F64, act, 5, x, y, d1, with_d2 ? d2 : NULL), HB_OK);
            ck_assert_int_eq(hb__eltwise_forward(ctx, HB_F32, act, 5, xf, yf, d1f, with_d2 ? d2f : NULL), HB_OK);
            ck_assert_msg(isnan(y[0]) && isnan(y[1]) && isnan(yf[0]) && isnan(yf[1]),
                          "activation %d (d2 %d): NaN in, %g / %g out", act, with_d2, y[0], (double)yf[0]);
            if (act == HB_ACT_RELU) {
                ck_assert(y[2] == 0.0 && !signbit(y[2]) && yf[2] == 0.0f && !signbit(yf[2]));
                ck_assert(y[3] == INFINITY && y[4] == 0.0 && yf[3] == INFINITY && yf[4] == 0.0f);
                ck_assert(d1[0] == 0.0 && d1[3] == 1.0 && d1[4] == 0.0);
            }
        }
    /* max pooling: a window holding a NaN yields it (its argmax is the first NaN) */
    hb__pool_geom g = {.C = 1, .H = 2, .W = 4, .s = 2};
    double px[8] = {1, 5, 2, 2, 3, NAN, NAN, 9}, py[2];
    int32_t arg[2];
    ck_assert_int_eq(hb__maxpool_forward(ctx, HB_F64, &g, 1, px, py, arg), HB_OK);
    ck_assert(isnan(py[0]) && arg[0] == 5 && isnan(py[1]) && arg[1] == 6);
    px[5] = px[6] = 0;
    ck_assert_int_eq(hb__maxpool_forward(ctx, HB_F64, &g, 1, px, py, arg), HB_OK);
    ck_assert(py[0] == 5 && arg[0] == 1 && py[1] == 9 && arg[1] == 7);
    hb_context_free(ctx);
}
END_TEST

/* ---- the bias gradient (row-by-row block sums) has the bits of the column walk it
 * replaced: each column summed in double in row order, then added once; a width above
 * the block (600 > 512) and odd sizes ---- */
START_TEST(test_linear_bias_colsum_bits) {
    hb_context *ctx = NULL;
    ck_assert_int_eq(hb_context_create(&ctx), HB_OK);
    enum { BR = 37, BO = 600 };
    static double dy[BR * BO], db[BO], ref[BO];
    static float dyf[BR * BO], dbf[BO], reff[BO];
    fill(dy, BR * BO, 3.0);
    fill(db, BO, 4.0);
    for (size_t i = 0; i < BR * BO; i++) dyf[i] = (float)dy[i];
    for (size_t o = 0; o < BO; o++) {
        dbf[o] = (float)db[o];
        double s = 0, sf = 0;
        for (size_t r = 0; r < BR; r++) s += dy[r * BO + o], sf += (double)dyf[r * BO + o];
        ref[o] = db[o] + s;
        reff[o] = dbf[o] + (float)sf;
    }
    ck_assert_int_eq(hb__linear_backward(ctx, HB_F64, BR, 1, BO, NULL, NULL, dy, NULL, NULL, db), HB_OK);
    ck_assert_int_eq(hb__linear_backward(ctx, HB_F32, BR, 1, BO, NULL, NULL, dyf, NULL, NULL, dbf), HB_OK);
    ck_assert(!memcmp(db, ref, sizeof db));
    ck_assert(!memcmp(dbf, reff, sizeof dbf));
    hb_context_free(ctx);
}
END_TEST

/* ---- the layernorm forward takes rows in blocks of 4 (independent sum chains): the
 * bits of the row-by-row loop it replaced, f32 and f64, with a tail (M = 1023) ---- */
#define LN_REF(real)                                                                        \
    for (size_t m = 0; m < LM; m++) {                                                       \
        const real *xm = x##real + m * LC;                                                  \
        double mu = 0, var = 0;                                                             \
        for (size_t c = 0; c < LC; c++) mu += xm[c];                                        \
        mu /= (double)LC;                                                                   \
        for (size_t c = 0; c < LC; c++) var += ((double)xm[c] - mu) * ((double)xm[c] - mu); \
        var /= (double)LC;                                                                  \
        real r = (real)(1.0 / sqrt(var + 1e-5)), mur = (real)mu;                            \
        mean##real[m] = mur, rstd##real[m] = r;                                             \
        for (size_t c = 0; c < LC; c++) y##real[m * LC + c] = (xm[c] - mur) * r * w##real[c] + b##real[c]; \
    }
START_TEST(test_layernorm_forward_bits) {
    hb_context *ctx = NULL;
    ck_assert_int_eq(hb_context_create(&ctx), HB_OK);
    enum { LM = 1023, LC = 130 };
    static double xdouble[LM * LC], wdouble[LC], bdouble[LC], ydouble[LM * LC], meandouble[LM],
        rstddouble[LM], o[LM * LC + 2 * LM];
    static float xfloat[LM * LC], wfloat[LC], bfloat[LC], yfloat[LM * LC], meanfloat[LM],
        rstdfloat[LM], of[LM * LC + 2 * LM];
    fill(xdouble, LM * LC, 5.0);
    fill(wdouble, LC, 6.0);
    fill(bdouble, LC, 7.0);
    for (size_t i = 0; i < LM * LC; i++) xdouble[i] += 0.3 * (double)(i / LC % 5), xfloat[i] = (float)xdouble[i];
    for (size_t c = 0; c < LC; c++) wfloat[c] = (float)wdouble[c], bfloat[c] = (float)bdouble[c];
    LN_REF(double)
    LN_REF(float)
    ck_assert_int_eq(hb__layernorm_forward(ctx, HB_F64, LM, LC, 1e-5, xdouble, wdouble, bdouble, o,
                                           o + LM * LC, o + LM * LC + LM), HB_OK);
    ck_assert(!memcmp(o, ydouble, sizeof ydouble) && !memcmp(o + LM * LC, meandouble, sizeof meandouble) &&
              !memcmp(o + LM * LC + LM, rstddouble, sizeof rstddouble));
    ck_assert_int_eq(hb__layernorm_forward(ctx, HB_F32, LM, LC, 1e-5, xfloat, wfloat, bfloat, of,
                                           of + LM * LC, of + LM * LC + LM), HB_OK);
    ck_assert(!memcmp(of, yfloat, sizeof yfloat) && !memcmp(of + LM * LC, meanfloat, sizeof meanfloat) &&
              !memcmp(of + LM * LC + LM, rstdfloat, sizeof rstdfloat));
    hb_context_free(ctx);
}
END_TEST
#undef LN_REF

Suite *hb_suite_nn(void) {
    Suite *s = suite_create("nn");
    TCase *tc = tcase_create("layers");
    tcase_add_test(tc, test_linear_grad);
    tcase_add_test(tc, test_xent);
    tcase_add_test(tc, test_vtanh);
    tcase_add_test(tc, test_eltwise_isa_bits);
    tcase_add_test(tc, test_eltwise_nan_propagates);
    tcase_add_test(tc, test_linear_bias_colsum_bits);
    tcase_add_test(tc, test_layernorm_forward_bits);
    suite_add_tcase(s, tc);
    return s;
}
