/* lib/nn layers against central finite differences, in f64.
 *
 * Gradients: a scalar probe objective L = Σ g ⊙ y (g fixed random), so the backward pass
 * with dy = g must give ∂L/∂(inputs, weights). R-passes: the R-forward must equal the
 * directional derivative of the forward, and the R-backward that of the backward (with
 * its inputs x, W, dy, probs all moving along their directions). Central differences with
 * ε = 1e-5 have truncation error O(ε²·f''') ≈ 1e-10 and rounding error O(eps/ε) ≈ 1e-11
 * relative, so 1e-7 (gradients) and 1e-6 (R-passes) can only fail on a wrong formula. */
#include <string.h>

#include "hb_test.h"
#include "kernels/kernels.h"
#include "nn/activation.h"
#include "nn/conv2d.h"
#include "nn/linear.h"
#include "nn/pool.h"
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

START_TEST(test_linear_rop) {
    hb_context *ctx = hb_test_context(1, 1);
    double x[LN * LIN], W[LOUT * LIN], b[LOUT], dy[LN * LOUT];
    double Rx[LK * LN * LIN], RW[LK * LOUT * LIN], Rb[LK * LOUT], Rdy[LK * LN * LOUT];
    fill(x, LN * LIN, 1), fill(W, LOUT * LIN, 2), fill(b, LOUT, 3), fill(dy, LN * LOUT, 4);
    fill(Rx, LK * LN * LIN, 5), fill(RW, LK * LOUT * LIN, 6), fill(Rb, LK * LOUT, 7);
    fill(Rdy, LK * LN * LOUT, 8);
    double Ry[LK * LN * LOUT];
    double Rdx[LK * LN * LIN] = {0}, RdW[LK * LOUT * LIN] = {0}, Rdb[LK * LOUT] = {0};
    ck_assert_int_eq(hb__linear_rop_forward(ctx, HB_F64, LN, LIN, LOUT, LK, x, W, Rx, RW, Rb, Ry), HB_OK);
    ck_assert_int_eq(hb__linear_rop_backward(ctx, HB_F64, LN, LIN, LOUT, LK, x, W, dy, Rx, RW, Rdy,
                                             Rdx, RdW, Rdb), HB_OK);
    for (int j = 0; j < LK; j++) {
        double yp[LN * LOUT], ym[LN * LOUT], fdy[LN * LOUT];
        double dxp[LN * LIN] = {0}, dxm[LN * LIN] = {0}, dWp[LOUT * LIN] = {0}, dWm[LOUT * LIN] = {0};
        double dbp[LOUT] = {0}, dbm[LOUT] = {0};
        for (int s = 0; s < 2; s++) {
            double e = s == 0 ? EPS : -EPS;
            double xs[LN * LIN], Ws[LOUT * LIN], bs[LOUT], dys[LN * LOUT];
            for (int i = 0; i < LN * LIN; i++) xs[i] = x[i] + e * Rx[j * LN * LIN + i];
            for (int i = 0; i < LOUT * LIN; i++) Ws[i] = W[i] + e * RW[j * LOUT * LIN + i];
            for (int i = 0; i < LOUT; i++) bs[i] = b[i] + e * Rb[j * LOUT + i];
            for (int i = 0; i < LN * LOUT; i++) dys[i] = dy[i] + e * Rdy[j * LN * LOUT + i];
            ck_assert_int_eq(hb__linear_forward(ctx, HB_F64, LN, LIN, LOUT, xs, Ws, bs, s ? ym : yp), HB_OK);
            ck_assert_int_eq(hb__linear_backward(ctx, HB_F64, LN, LIN, LOUT, xs, Ws, dys, s ? dxm : dxp,
                                                 s ? dWm : dWp, s ? dbm : dbp), HB_OK);
        }
        for (int i = 0; i < LN * LOUT; i++) fdy[i] = (yp[i] - ym[i]) / (2 * EPS);
        ck_assert(rel_err(Ry + j * LN * LOUT, fdy, LN * LOUT) <= 1e-6);
        double fdx[LN * LIN], fdW[LOUT * LIN], fdb[LOUT];
        for (int i = 0; i < LN * LIN; i++) fdx[i] = (dxp[i] - dxm[i]) / (2 * EPS);
        for (int i = 0; i < LOUT * LIN; i++) fdW[i] = (dWp[i] - dWm[i]) / (2 * EPS);
        for (int i = 0; i < LOUT; i++) fdb[i] = (dbp[i] - dbm[i]) / (2 * EPS);
        ck_assert(rel_err(Rdx + j * LN * LIN, fdx, LN * LIN) <= 1e-6);
        ck_assert(rel_err(RdW + j * LOUT * LIN, fdW, LOUT * LIN) <= 1e-6);
        ck_assert(rel_err(Rdb + j * LOUT, fdb, LOUT) <= 1e-6);
    }
    /* NULL R inputs mean zero: Ry = Rx·Wᵀ only */
    double Ry0[LK * LN * LOUT];
    ck_assert_int_eq(hb__linear_rop_forward(ctx, HB_F64, LN, LIN, LOUT, LK, x, W, Rx, NULL, NULL, Ry0), HB_OK);
    for (int j = 0; j < LK; j++)
        for (int n = 0; n < LN; n++)
            for (int o = 0; o < LOUT; o++) {
                double s = 0;
                for (int i = 0; i < LIN; i++) s += Rx[(j * LN + n) * LIN + i] * W[o * LIN + i];
                ck_assert(fabs(Ry0[(j * LN + n) * LOUT + o] - s) <= 1e-14 * (1 + fabs(s)));
            }
    /* bad dtype goes through the kernels' check */
    ck_assert_int_eq(hb__linear_forward(ctx, HB_BF16, LN, LIN, LOUT, x, W, b, Ry), HB_EDTYPE);
    hb_context_free(ctx);
}
END_TEST

/* ---- activation ---- */
enum { AN = 11, AK = 2 };

static void act_case(int act) {
    hb_context *ctx = hb_test_context(1, 1);
    double x[AN], g[AN], Rx[AK * AN], Rdy[AK * AN];
    fill(x, AN, 9), fill(g, AN, 10), fill(Rx, AK * AN, 11), fill(Rdy, AK * AN, 12);
    for (int i = 0; i < AN; i++)
        if (fabs(x[i]) < 0.05) x[i] = 0.3; /* keep ReLU's kink out of the FD stencil */
    double dx[AN] = {0}, fd[AN];
    ck_assert_int_eq(hb__activation_backward(ctx, HB_F64, act, AN, x, g, dx), HB_OK);
    for (int i = 0; i < AN; i++) {
        double yp, ym, xp = x[i] + EPS, xm = x[i] - EPS;
        ck_assert_int_eq(hb__activation_forward(ctx, HB_F64, act, 1, &xp, &yp), HB_OK);
        ck_assert_int_eq(hb__activation_forward(ctx, HB_F64, act, 1, &xm, &ym), HB_OK);
        fd[i] = g[i] * (yp - ym) / (2 * EPS);
    }
    ck_assert_msg(rel_err(dx, fd, AN) <= 1e-7, "act %d grad %g", act, rel_err(dx, fd, AN));
    double Ry[AK * AN], Rdx[AK * AN] = {0};
    ck_assert_int_eq(hb__activation_rop_forward(ctx, HB_F64, act, AN, AK, x, Rx, Ry), HB_OK);
    ck_assert_int_eq(hb__activation_rop_backward(ctx, HB_F64, act, AN, AK, x, g, Rx, Rdy, Rdx), HB_OK);
    for (int j = 0; j < AK; j++) {
        double xp[AN], xm[AN], gp[AN], gm[AN], yp[AN], ym[AN], dp[AN] = {0}, dm[AN] = {0};
        double fy[AN], fdx[AN];
        for (int i = 0; i < AN; i++) {
            xp[i] = x[i] + EPS * Rx[j * AN + i], xm[i] = x[i] - EPS * Rx[j * AN + i];
            gp[i] = g[i] + EPS * Rdy[j * AN + i], gm[i] = g[i] - EPS * Rdy[j * AN + i];
        }
        hb__activation_forward(ctx, HB_F64, act, AN, xp, yp);
        hb__activation_forward(ctx, HB_F64, act, AN, xm, ym);
        hb__activation_backward(ctx, HB_F64, act, AN, xp, gp, dp);
        hb__activation_backward(ctx, HB_F64, act, AN, xm, gm, dm);
        for (int i = 0; i < AN; i++) fy[i] = (yp[i] - ym[i]) / (2 * EPS), fdx[i] = (dp[i] - dm[i]) / (2 * EPS);
        ck_assert(rel_err(Ry + j * AN, fy, AN) <= 1e-6);
        ck_assert_msg(rel_err(Rdx + j * AN, fdx, AN) <= 1e-6, "act %d Rdx %g", act,
                      rel_err(Rdx + j * AN, fdx, AN));
    }
    ck_assert_int_eq(hb__activation_forward(ctx, HB_F64, 99, AN, x, Ry), HB_EINVAL);
    ck_assert_int_eq(hb__activation_forward(ctx, HB_I32, HB_ACT_RELU, AN, x, Ry), HB_EDTYPE);
    hb_context_free(ctx);
}

START_TEST(test_activation_relu) { act_case(HB_ACT_RELU); }
END_TEST
START_TEST(test_activation_gelu) {
    act_case(HB_ACT_GELU);
    /* GPT-2's GELU at known points: f(1) = 0.5·(1 + tanh(c·1.044715)) */
    hb_context *ctx = hb_test_context(1, 1);
    double x = 1.0, y;
    hb__activation_forward(ctx, HB_F64, HB_ACT_GELU, 1, &x, &y);
    HB_ASSERT_CLOSE(y, 0.5 * (1 + tanh(sqrt(2 / 3.14159265358979323846) * 1.044715)), 1e-15);
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
    double Rdz[XK * XN * XC] = {0};
    ck_assert_int_eq(hb__xent_rop_backward(ctx, HB_F64, XN, XC, XK, p, Rz, dl, Rdz), HB_OK);
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


/* ---- conv2d ---- */
enum { CN = 2, CI = 2, CO = 3, CS = 5, CK = 2 };

/* direct convolution, the definition */
static void conv_ref(const hb__conv2d_shape *s, const double *x, const double *W, const double *b,
                     double *y) {
    int64_t So = hb__conv2d_out_side(s);
    for (int64_t n = 0; n < s->N; n++)
        for (int64_t o = 0; o < s->Cout; o++)
            for (int64_t oy = 0; oy < So; oy++)
                for (int64_t ox = 0; ox < So; ox++) {
                    double acc = b ? b[o] : 0;
                    for (int64_t c = 0; c < s->Cin; c++)
                        for (int64_t ky = 0; ky < s->K; ky++)
                            for (int64_t kx = 0; kx < s->K; kx++) {
                                int64_t iy = oy + ky - s->P, ix = ox + kx - s->P;
                                if (iy < 0 || iy >= s->S || ix < 0 || ix >= s->S) continue;
                                acc += W[((o * s->Cin + c) * s->K + ky) * s->K + kx] *
                                       x[((n * s->Cin + c) * s->S + iy) * s->S + ix];
                            }
                    y[((n * s->Cout + o) * So + oy) * So + ox] = acc;
                }
}

static void conv_case(int64_t K, int64_t P) {
    hb_context *ctx = hb_test_context(1, 1);
    hb__conv2d_shape s = {CN, CI, CO, CS, K, P};
    int64_t So = hb__conv2d_out_side(&s);
    size_t nx = CN * CI * CS * CS, nw = (size_t)(CO * CI * K * K), ny = (size_t)(CN * CO * So * So);
    double *x = malloc(nx * sizeof *x), *W = malloc(nw * sizeof *W), b[CO], *g = malloc(ny * sizeof *g);
    double *y = malloc(ny * sizeof *y), *yr = malloc(ny * sizeof *yr);
    fill(x, nx, 21), fill(W, nw, 22), fill(b, CO, 23), fill(g, ny, 24);
    ck_assert_int_eq(hb__conv2d_forward(ctx, HB_F64, &s, x, W, b, y), HB_OK);
    conv_ref(&s, x, W, b, yr);
    ck_assert(rel_err(y, yr, ny) <= 1e-14); /* same sums, different order */
    /* gradients vs FD of Σ g ⊙ y */
    double *dx = calloc(nx, sizeof *dx), *dW = calloc(nw, sizeof *dW), db[CO] = {0};
    ck_assert_int_eq(hb__conv2d_backward(ctx, HB_F64, &s, x, W, g, dx, dW, db), HB_OK);
    double *args[3] = {x, W, b}, *grads[3] = {dx, dW, db};
    size_t lens[3] = {nx, nw, CO};
    for (int a = 0; a < 3; a++) {
        double *fd = malloc(lens[a] * sizeof *fd);
        for (size_t i = 0; i < lens[a]; i++) {
            double keep = args[a][i];
            args[a][i] = keep + EPS;
            hb__conv2d_forward(ctx, HB_F64, &s, x, W, b, y);
            double lp = dotv(y, g, ny);
            args[a][i] = keep - EPS;
            hb__conv2d_forward(ctx, HB_F64, &s, x, W, b, y);
            double lm = dotv(y, g, ny);
            args[a][i] = keep;
            fd[i] = (lp - lm) / (2 * EPS);
        }
        ck_assert_msg(rel_err(grads[a], fd, lens[a]) <= 1e-7, "conv grad %d: %g", a,
                      rel_err(grads[a], fd, lens[a]));
        free(fd);
    }
    /* R-passes vs FD of forward and backward along (Rx, RW, Rb, Rdy) */
    double *Rx = malloc(CK * nx * sizeof *Rx), *RW = malloc(CK * nw * sizeof *RW), Rb[CK * CO];
    double *Rdy = malloc(CK * ny * sizeof *Rdy), *Ry = malloc(CK * ny * sizeof *Ry);
    double *Rdx = calloc(CK * nx, sizeof *Rdx), *RdW = calloc(CK * nw, sizeof *RdW), Rdb[CK * CO] = {0};
    fill(Rx, CK * nx, 25), fill(RW, CK * nw, 26), fill(Rb, CK * CO, 27), fill(Rdy, CK * ny, 28);
    ck_assert_int_eq(hb__conv2d_rop_forward(ctx, HB_F64, &s, CK, x, W, Rx, RW, Rb, Ry), HB_OK);
    ck_assert_int_eq(hb__conv2d_rop_backward(ctx, HB_F64, &s, CK, x, W, g, Rx, RW, Rdy, Rdx, RdW, Rdb), HB_OK);
    for (int j = 0; j < CK; j++) {
        double *xs = malloc(nx * sizeof *xs), *Ws = malloc(nw * sizeof *Ws), bs[CO], *gs = malloc(ny * sizeof *gs);
        double *yp = malloc(ny * sizeof *yp), *ym = malloc(ny * sizeof *ym);
        double *dxp = calloc(nx, sizeof *dxp), *dxm = calloc(nx, sizeof *dxm);
        double *dWp = calloc(nw, sizeof *dWp), *dWm = calloc(nw, sizeof *dWm), dbp[CO] = {0}, dbm[CO] = {0};
        for (int sg = 0; sg < 2; sg++) {
            double e = sg ? -EPS : EPS;
            for (size_t i = 0; i < nx; i++) xs[i] = x[i] + e * Rx[j * nx + i];
            for (size_t i = 0; i < nw; i++) Ws[i] = W[i] + e * RW[j * nw + i];
            for (size_t i = 0; i < CO; i++) bs[i] = b[i] + e * Rb[j * CO + i];
            for (size_t i = 0; i < ny; i++) gs[i] = g[i] + e * Rdy[j * ny + i];
            hb__conv2d_forward(ctx, HB_F64, &s, xs, Ws, bs, sg ? ym : yp);
            hb__conv2d_backward(ctx, HB_F64, &s, xs, Ws, gs, sg ? dxm : dxp, sg ? dWm : dWp, sg ? dbm : dbp);
        }
        for (size_t i = 0; i < ny; i++) yp[i] = (yp[i] - ym[i]) / (2 * EPS);
        for (size_t i = 0; i < nx; i++) dxp[i] = (dxp[i] - dxm[i]) / (2 * EPS);
        for (size_t i = 0; i < nw; i++) dWp[i] = (dWp[i] - dWm[i]) / (2 * EPS);
        for (size_t i = 0; i < CO; i++) dbp[i] = (dbp[i] - dbm[i]) / (2 * EPS);
        ck_assert(rel_err(Ry + j * ny, yp, ny) <= 1e-6);
        ck_assert(rel_err(Rdx + j * nx, dxp, nx) <= 1e-6);
        ck_assert(rel_err(RdW + j * nw, dWp, nw) <= 1e-6);
        ck_assert(rel_err(Rdb + j * CO, dbp, CO) <= 1e-6);
        free(xs), free(Ws), free(gs), free(yp), free(ym), free(dxp), free(dxm), free(dWp), free(dWm);
    }
    /* no direction at all: Ry = Rb only */
    ck_assert_int_eq(hb__conv2d_rop_forward(ctx, HB_F64, &s, CK, x, W, NULL, NULL, Rb, Ry), HB_OK);
    for (int j = 0; j < CK; j++)
        for (size_t i = 0; i < ny; i++) ck_assert(Ry[j * ny + i] == Rb[j * CO + (i / (size_t)(So * So)) % CO]);
    hb__conv2d_shape bad = s;
    bad.P = K;
    ck_assert_int_eq(hb__conv2d_forward(ctx, HB_F64, &bad, x, W, b, y), HB_ESHAPE);
    ck_assert_int_eq(hb__conv2d_forward(ctx, HB_BF16, &s, x, W, b, y), HB_EDTYPE);
    free(x), free(W), free(g), free(y), free(yr), free(dx), free(dW);
    free(Rx), free(RW), free(Rdy), free(Ry), free(Rdx), free(RdW);
    hb_context_free(ctx);
}

START_TEST(test_conv2d) {
    conv_case(3, 1); /* the cnn model's "same" 3×3 */
    conv_case(3, 0); /* valid */
    conv_case(1, 0); /* 1×1 */
}
END_TEST

START_TEST(test_avgpool) {
    hb_context *ctx = hb_test_context(1, 1);
    enum { PL = 3, PS = 5, PO = 2, PK = 2 };
    double x[PL * PS * PS], y[PL * PO * PO], g[PL * PO * PO], dx[PL * PS * PS] = {0};
    fill(x, PL * PS * PS, 31), fill(g, PL * PO * PO, 32);
    ck_assert_int_eq(hb__avgpool2_forward(ctx, HB_F64, PL, PS, x, y), HB_OK);
    for (int p = 0; p < PL; p++)
        for (int i = 0; i < PO; i++)
            for (int j = 0; j < PO; j++) {
                const double *w = x + p * PS * PS + 2 * i * PS + 2 * j;
                HB_ASSERT_CLOSE(y[(p * PO + i) * PO + j], (w[0] + w[1] + w[PS] + w[PS + 1]) / 4, 1e-15);
            }
    /* backward is the adjoint: ⟨A x, g⟩ = ⟨x, Aᵀ g⟩ (hence the exact gradient of a linear map) */
    ck_assert_int_eq(hb__avgpool2_backward(ctx, HB_F64, PL, PS, g, dx), HB_OK);
    HB_ASSERT_CLOSE(dotv(y, g, PL * PO * PO), dotv(x, dx, PL * PS * PS), 1e-14);
    for (int i = 0; i < PS; i++) ck_assert(dx[4 * PS + i] == 0.0 && dx[i * PS + 4] == 0.0); /* dropped */
    /* R-passes: the same linear maps on k stacked planes */
    double Rx[PK * PL * PS * PS], Ry[PK * PL * PO * PO], Rdy[PK * PL * PO * PO], Rdx[PK * PL * PS * PS] = {0};
    fill(Rx, PK * PL * PS * PS, 33), fill(Rdy, PK * PL * PO * PO, 34);
    ck_assert_int_eq(hb__avgpool2_rop_forward(ctx, HB_F64, PL, PS, PK, Rx, Ry), HB_OK);
    ck_assert_int_eq(hb__avgpool2_rop_backward(ctx, HB_F64, PL, PS, PK, Rdy, Rdx), HB_OK);
    for (int j = 0; j < PK; j++) {
        double yj[PL * PO * PO], dj[PL * PS * PS] = {0};
        hb__avgpool2_forward(ctx, HB_F64, PL, PS, Rx + j * PL * PS * PS, yj);
        hb__avgpool2_backward(ctx, HB_F64, PL, PS, Rdy + j * PL * PO * PO, dj);
        ck_assert(rel_err(Ry + j * PL * PO * PO, yj, PL * PO * PO) == 0);
        ck_assert(rel_err(Rdx + j * PL * PS * PS, dj, PL * PS * PS) == 0);
    }
    ck_assert_int_eq(hb__avgpool2_forward(ctx, HB_F64, PL, 1, x, y), HB_ESHAPE);
    ck_assert_int_eq(hb__avgpool2_forward(ctx, HB_I32, PL, PS, x, y), HB_EDTYPE);
    hb_context_free(ctx);
}
END_TEST

Suite *hb_suite_nn(void) {
    Suite *s = suite_create("nn");
    TCase *tc = tcase_create("layers");
    tcase_add_test(tc, test_linear_grad);
    tcase_add_test(tc, test_linear_rop);
    tcase_add_test(tc, test_activation_relu);
    tcase_add_test(tc, test_activation_gelu);
    tcase_add_test(tc, test_xent);
    tcase_add_test(tc, test_conv2d);
    tcase_add_test(tc, test_avgpool);
    suite_add_tcase(s, tc);
    return s;
}
