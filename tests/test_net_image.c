/* The image ops of the network builder: the interleaved conv2d and pooling kernels
 * (lib/nn/conv2d.c, pool.c) directly, then the ops through the net engine.
 *
 * Kernels (f64): the forward against the direct definition; the backward against central
 * differences of the probe Σ gy ⊙ y; the R-forward against central differences of the
 * forward along (Rx_j, RW_j, Rb_j), the R-backward against those of the backward along
 * (x, W, gy) + ε(Rx_j, RW_j, Rgy_j). Convolution is bilinear in (x, W) and affine in b, so
 * these central differences are exact up to rounding (the ε² terms cancel): 1e-9 relative
 * can only fail on a wrong formula or index. Max pooling is linear with its selection
 * fixed; the data have distinct values far apart (≥ 1e-3) against ε = 1e-4, so no window
 * changes its argmax under the differences (ε·|direction| < 1.3e-4). Parameter directions and R-gradient outputs
 * sit at strides larger than a block, and outputs are pre-filled (backward passes
 * accumulate).
 *
 * Ops (f64 nets through tests/hb_net_check.h: gradient and HVP against finite differences,
 * a dense Hessian symmetric to 1e-12, block HVPs, hvp_multi, micro-batch splits) with
 * random shapes from fixed streams; a small CNN; the builder's validation errors. Max
 * pooling sees continuous random data (ties have probability 0; the checker's three FD
 * steps guard against a near-tie within one step). */
#include <string.h>

#include "hb_net_check.h"
#include "hb_test.h"
#include "nn/conv2d.h"
#include "nn/pool.h"

#define EPS 1e-3     /* bilinear maps: any ε; large keeps rounding small */
#define TOL 1e-9

/* deterministic fill in (-1.3, 1.3) */
static void fill(double *a, size_t n, double seed) {
    for (size_t i = 0; i < n; i++) a[i] = sin(seed * 12.9898 + (double)i * 78.233) * 1.3;
}

static double *vec(size_t n, double seed) {
    double *a = malloc((n ? n : 1) * sizeof *a);
    ck_assert_ptr_nonnull(a);
    fill(a, n, seed);
    return a;
}

static double *dup(const double *a, size_t n) {
    double *b = malloc((n ? n : 1) * sizeof *b);
    ck_assert_ptr_nonnull(b);
    memcpy(b, a, n * sizeof *b);
    return b;
}

/* max|a − b| / max(max|b|, 1) */
static double rel_err(const double *a, const double *b, size_t n) {
    double d = 0, s = 1;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs(a[i] - b[i])), s = fmax(s, fabs(b[i]));
    return d / s;
}

static double dotv(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* a ± ε·d into out */
static void axpy_to(double *out, const double *a, double e, const double *d, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = a[i] + (d ? e * d[i] : 0);
}

/* ==== conv2d kernels ==================================================================== */

typedef struct conv_sizes {
    size_t N, k, nx, ny, nw, Co, ldw, ldb, ldo, ldob; /* per-call sizes; strides of directions */
    hb__conv2d_geom g;
} conv_sizes;

static conv_sizes conv_sizes_of(size_t N, size_t k, hb__conv2d_geom g) {
    conv_sizes s;
    s.N = N, s.k = k, s.g = g;
    s.nx = (size_t)(g.Cin * g.H * g.W);
    s.ny = (size_t)(g.Cout * hb__conv2d_out_h(&g) * hb__conv2d_out_w(&g));
    s.nw = (size_t)(g.Cout * g.Cin * g.K * g.K);
    s.Co = (size_t)g.Cout;
    s.ldw = s.nw + 3, s.ldb = s.Co + 2, s.ldo = s.nw + 5, s.ldob = s.Co + 1;
    return s;
}

/* direct convolution, the definition: y (N, Cout, Ho, Wo) */
static void conv_ref(const hb__conv2d_geom *g, size_t N, const double *x, const double *W,
                     const double *b, double *y) {
    int64_t Ho = hb__conv2d_out_h(g), Wo = hb__conv2d_out_w(g);
    for (int64_t n = 0; n < (int64_t)N; n++)
        for (int64_t o = 0; o < g->Cout; o++)
            for (int64_t oy = 0; oy < Ho; oy++)
                for (int64_t ox = 0; ox < Wo; ox++) {
                    double acc = b ? b[o] : 0;
                    for (int64_t c = 0; c < g->Cin; c++)
                        for (int64_t ky = 0; ky < g->K; ky++)
                            for (int64_t kx = 0; kx < g->K; kx++) {
                                int64_t iy = oy + ky - g->P, ix = ox + kx - g->P;
                                if (iy < 0 || iy >= g->H || ix < 0 || ix >= g->W) continue;
                                acc += W[((o * g->Cin + c) * g->K + ky) * g->K + kx] *
                                       x[((n * g->Cin + c) * g->H + iy) * g->W + ix];
                            }
                    y[((n * g->Cout + o) * Ho + oy) * Wo + ox] = acc;
                }
}

static double *scratch_for(const conv_sizes *s, size_t k) {
    size_t n = hb__conv2d_scratch(&s->g, s->N, k);
    double *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

static void conv_fwd(hb_context *ctx, const conv_sizes *s, const double *x, const double *W,
                     const double *b, double *y) {
    double *S = scratch_for(s, 0);
    ck_assert_int_eq(hb__conv2d_il_forward(ctx, HB_F64, &s->g, s->N, x, W, b, y, S), HB_OK);
    free(S);
}

static void conv_bwd(hb_context *ctx, const conv_sizes *s, const double *x, const double *W,
                     const double *gy, double *gx, double *gW, double *gb) {
    double *S = scratch_for(s, 0);
    ck_assert_int_eq(hb__conv2d_il_backward(ctx, HB_F64, &s->g, s->N, x, W, gy, gx, gW, gb, S),
                     HB_OK);
    free(S);
}

/* forward vs the definition; backward (accumulating) vs central differences of Σ gy ⊙ y */
static void conv_theta_case(size_t N, hb__conv2d_geom g) {
    hb_context *ctx = hb_test_context(1, 1);
    conv_sizes s = conv_sizes_of(N, 0, g);
    size_t nx = N * s.nx, ny = N * s.ny;
    double *x = vec(nx, 1), *W = vec(s.nw, 2), *b = vec(s.Co, 3), *gy = vec(ny, 4);
    double *y = vec(ny, 5), *yr = vec(ny, 6);
    conv_fwd(ctx, &s, x, W, b, y);
    conv_ref(&g, N, x, W, b, yr);
    ck_assert(rel_err(y, yr, ny) <= 1e-14);
    conv_fwd(ctx, &s, x, W, NULL, y);
    conv_ref(&g, N, x, W, NULL, yr);
    ck_assert(rel_err(y, yr, ny) <= 1e-14);

    double *gx = vec(nx, 7), *gW = vec(s.nw, 8), *gb = vec(s.Co, 9);
    double *gx0 = dup(gx, nx), *gW0 = dup(gW, s.nw), *gb0 = dup(gb, s.Co);
    conv_bwd(ctx, &s, x, W, gy, gx, gW, gb);
    double *args[3] = {x, W, b}, *grads[3] = {gx, gW, gb}, *base[3] = {gx0, gW0, gb0};
    size_t lens[3] = {nx, s.nw, s.Co};
    for (int a = 0; a < 3; a++)
        for (size_t i = 0; i < lens[a]; i++) {
            double keep = args[a][i];
            args[a][i] = keep + EPS;
            conv_fwd(ctx, &s, x, W, b, y);
            double lp = dotv(y, gy, ny);
            args[a][i] = keep - EPS;
            conv_fwd(ctx, &s, x, W, b, y);
            double lm = dotv(y, gy, ny);
            args[a][i] = keep;
            HB_ASSERT_CLOSE(grads[a][i] - base[a][i], (lp - lm) / (2 * EPS), TOL);
        }
    /* NULL outputs are skipped */
    memcpy(gx, gx0, nx * sizeof *gx);
    conv_bwd(ctx, &s, x, W, gy, gx, NULL, NULL);
    memcpy(gW, gW0, s.nw * sizeof *gW);
    conv_bwd(ctx, &s, x, W, gy, NULL, gW, NULL);
    double *gW2 = dup(gW0, s.nw);
    conv_bwd(ctx, &s, x, W, gy, NULL, gW2, NULL);
    ck_assert(rel_err(gW, gW2, s.nw) == 0);
    free(x), free(W), free(b), free(gy), free(y), free(yr), free(gx), free(gW), free(gb);
    free(gx0), free(gW0), free(gb0), free(gW2);
    hb_context_free(ctx);
}

/* Which R inputs are present and which R outputs wanted. */
enum { R_X = 1, R_W = 2, R_B = 4, R_GY = 8, O_X = 16, O_W = 32, O_B = 64, R_ALL = 127 };

/* R-forward and R-backward vs central differences, with the inputs in `mask` */
static void conv_r_case(size_t N, size_t k, hb__conv2d_geom g, int mask) {
    hb_context *ctx = hb_test_context(1, 1);
    conv_sizes s = conv_sizes_of(N, k, g);
    size_t nx = N * s.nx, ny = N * s.ny;
    double *x = vec(nx, 11), *W = vec(s.nw, 12), *b = vec(s.Co, 13), *gy = vec(ny, 14);
    double *Rx = vec(k * nx, 15), *RW = vec(k * s.ldw, 16), *Rb = vec(k * s.ldb, 17);
    double *Rgy = vec(k * ny, 18);
    double *Ry = vec(k * ny, 19), *Rgx = vec(k * nx, 20), *OW = vec(k * s.ldo, 21);
    double *Ob = vec(k * s.ldob, 22);
    double *Rgx0 = dup(Rgx, k * nx), *OW0 = dup(OW, k * s.ldo), *Ob0 = dup(Ob, k * s.ldob);
    const double *Rxp = mask & R_X ? Rx : NULL, *RWp = mask & R_W ? RW : NULL;
    const double *Rbp = mask & R_B ? Rb : NULL, *Rgyp = mask & R_GY ? Rgy : NULL;
    double *S = scratch_for(&s, k);
    ck_assert_int_eq(hb__conv2d_il_rforward(ctx, HB_F64, &g, N, k, x, W, Rxp, RWp, s.ldw, Rbp,
                                            s.ldb, Ry, S),
                     HB_OK);
    ck_assert_int_eq(hb__conv2d_il_rbackward(ctx, HB_F64, &g, N, k, x, W, gy, Rxp, RWp, s.ldw,
                                             Rgyp, mask & O_X ? Rgx : NULL, mask & O_W ? OW : NULL,
                                             s.ldo, mask & O_B ? Ob : NULL, s.ldob, S),
                     HB_OK);
    free(S);
    /* per direction j: the directions of every input, gathered from the layouts */
    double *dx = malloc(nx * sizeof *dx), *dgy = malloc(ny * sizeof *dgy);
    double *xs = malloc(nx * sizeof *xs), *Ws = malloc(s.nw * sizeof *Ws), *bs = vec(s.Co, 0);
    double *gys = malloc(ny * sizeof *gys), *yp = malloc(ny * sizeof *yp), *ym = malloc(ny * sizeof *ym);
    double *gxp = calloc(nx, sizeof *gxp), *gxm = calloc(nx, sizeof *gxm);
    double *gWp = calloc(s.nw, sizeof *gWp), *gWm = calloc(s.nw, sizeof *gWm);
    double gbp[64], gbm[64];
    ck_assert(s.Co <= 64);
    for (size_t j = 0; j < k; j++) {
        for (size_t n = 0; n < N; n++) {
            memcpy(dx + n * s.nx, Rx + (n * k + j) * s.nx, s.nx * sizeof *dx);
            memcpy(dgy + n * s.ny, Rgy + (n * k + j) * s.ny, s.ny * sizeof *dgy);
        }
        const double *dW = RWp ? RW + j * s.ldw : NULL, *db = Rbp ? Rb + j * s.ldb : NULL;
        for (int sg = 0; sg < 2; sg++) {
            double e = sg ? -EPS : EPS;
            axpy_to(xs, x, e, Rxp ? dx : NULL, nx);
            axpy_to(Ws, W, e, dW, s.nw);
            axpy_to(bs, b, e, db, s.Co);
            axpy_to(gys, gy, e, Rgyp ? dgy : NULL, ny);
            conv_fwd(ctx, &s, xs, Ws, bs, sg ? ym : yp);
            memset(sg ? gxm : gxp, 0, nx * sizeof *gxp);
            memset(sg ? gWm : gWp, 0, s.nw * sizeof *gWp);
            memset(sg ? gbm : gbp, 0, s.Co * sizeof *gbp);
            conv_bwd(ctx, &s, xs, Ws, gys, sg ? gxm : gxp, sg ? gWm : gWp, sg ? gbm : gbp);
        }
        for (size_t n = 0; n < N; n++)
            for (size_t i = 0; i < s.ny; i++)
                HB_ASSERT_CLOSE(Ry[(n * k + j) * s.ny + i],
                                (yp[n * s.ny + i] - ym[n * s.ny + i]) / (2 * EPS), TOL);
        for (size_t n = 0; n < N; n++)
            for (size_t i = 0; i < s.nx; i++) {
                size_t r = (n * k + j) * s.nx + i;
                double want = mask & O_X ? (gxp[n * s.nx + i] - gxm[n * s.nx + i]) / (2 * EPS) : 0;
                HB_ASSERT_CLOSE(Rgx[r] - Rgx0[r], want, TOL);
            }
        for (size_t i = 0; i < s.nw; i++)
            HB_ASSERT_CLOSE(OW[j * s.ldo + i] - OW0[j * s.ldo + i],
                            mask & O_W ? (gWp[i] - gWm[i]) / (2 * EPS) : 0, TOL);
        for (size_t i = s.nw; i < s.ldo; i++) ck_assert(OW[j * s.ldo + i] == OW0[j * s.ldo + i]);
        for (size_t i = 0; i < s.Co; i++)
            HB_ASSERT_CLOSE(Ob[j * s.ldob + i] - Ob0[j * s.ldob + i],
                            mask & O_B ? (gbp[i] - gbm[i]) / (2 * EPS) : 0, TOL);
    }
    free(x), free(W), free(b), free(gy), free(Rx), free(RW), free(Rb), free(Rgy), free(Ry);
    free(Rgx), free(OW), free(Ob), free(Rgx0), free(OW0), free(Ob0), free(dx), free(dgy);
    free(xs), free(Ws), free(bs), free(gys), free(yp), free(ym), free(gxp), free(gxm);
    free(gWp), free(gWm);
    hb_context_free(ctx);
}

static const hb__conv2d_geom conv_geoms[] = {
    {2, 5, 4, 3, 3, 1}, /* rectangular, "same" */
    {3, 4, 6, 2, 2, 0}, /* even kernel, no padding */
    {1, 3, 5, 4, 1, 0}, /* 1×1 */
    {2, 3, 4, 2, 3, 3}, /* padding ≥ kernel: border outputs see only padding */
    {2, 6, 5, 3, 5, 2}, /* kernel larger than padding */
};

START_TEST(test_conv_theta) {
    for (size_t c = 0; c < sizeof conv_geoms / sizeof *conv_geoms; c++)
        conv_theta_case(c % 2 ? 3 : 2, conv_geoms[c]);
}
END_TEST

START_TEST(test_conv_r) {
    for (size_t c = 0; c < sizeof conv_geoms / sizeof *conv_geoms; c++)
        conv_r_case(2, c % 3 + 1, conv_geoms[c], R_ALL);
}
END_TEST

/* zero directions (NULL) in every combination, outputs skipped */
START_TEST(test_conv_r_null) {
    hb__conv2d_geom g = {2, 4, 5, 3, 3, 1};
    static const int outs[3] = {O_X | O_W | O_B, O_X, O_W | O_B};
    for (int m = 0; m < 16; m++) conv_r_case(2, 2, g, m | outs[m % 3]);
}
END_TEST

/* Blocks of work: samples side by side (small images), directions in groups (large ones;
 * a group size that does not divide k), one sample and one direction per block (larger
 * still). The results equal calls per sample and direction (N = k = 1) up to the order of
 * the weight-gradient sums. */
static void conv_blocks_case(size_t N, size_t k, hb__conv2d_geom g) {
    hb_context *ctx = hb_test_context(1, 1);
    conv_sizes s = conv_sizes_of(N, k, g);
    size_t nx = N * s.nx, ny = N * s.ny;
    double *x = vec(nx, 1), *W = vec(s.nw, 2), *b = vec(s.Co, 3), *gy = vec(ny, 4);
    double *Rx = vec(k * nx, 5), *RW = vec(k * s.ldw, 6), *Rb = vec(k * s.ldb, 7), *Rgy = vec(k * ny, 8);
    double *y = vec(ny, 0), *Ry = vec(k * ny, 0), *gx = calloc(nx, 8), *gW = calloc(s.nw, 8);
    double *Rgx = calloc(k * nx, 8), *OW = calloc(k * s.ldo, 8), *Ob = calloc(k * s.ldob, 8);
    double *y1 = vec(ny, 0), *Ry1 = vec(k * ny, 0), *gx1 = calloc(nx, 8), *gW1 = calloc(s.nw, 8);
    double *Rgx1 = calloc(k * nx, 8), *OW1 = calloc(k * s.ldo, 8), *Ob1 = calloc(k * s.ldob, 8);
    double *S = scratch_for(&s, k), gb[8] = {0}, gb1[8] = {0};
    ck_assert(s.Co <= 8);
    ck_assert_int_eq(hb__conv2d_il_forward(ctx, HB_F64, &g, N, x, W, b, y, S), HB_OK);
    ck_assert_int_eq(hb__conv2d_il_backward(ctx, HB_F64, &g, N, x, W, gy, gx, gW, gb, S), HB_OK);
    ck_assert_int_eq(hb__conv2d_il_rforward(ctx, HB_F64, &g, N, k, x, W, Rx, RW, s.ldw, Rb, s.ldb, Ry, S), HB_OK);
    ck_assert_int_eq(hb__conv2d_il_rbackward(ctx, HB_F64, &g, N, k, x, W, gy, Rx, RW, s.ldw, Rgy, Rgx,
                                             OW, s.ldo, Ob, s.ldob, S), HB_OK);
    for (size_t n = 0; n < N; n++) {
        const double *xn = x + n * s.nx, *gyn = gy + n * s.ny;
        ck_assert_int_eq(hb__conv2d_il_forward(ctx, HB_F64, &g, 1, xn, W, b, y1 + n * s.ny, S), HB_OK);
        ck_assert_int_eq(hb__conv2d_il_backward(ctx, HB_F64, &g, 1, xn, W, gyn, gx1 + n * s.nx, gW1, gb1, S),
                         HB_OK);
        for (size_t j = 0; j < k; j++) {
            size_t r = n * k + j;
            ck_assert_int_eq(hb__conv2d_il_rforward(ctx, HB_F64, &g, 1, 1, xn, W, Rx + r * s.nx,
                                                    RW + j * s.ldw, 0, Rb + j * s.ldb, 0,
                                                    Ry1 + r * s.ny, S), HB_OK);
            ck_assert_int_eq(hb__conv2d_il_rbackward(ctx, HB_F64, &g, 1, 1, xn, W, gyn, Rx + r * s.nx,
                                                     RW + j * s.ldw, 0, Rgy + r * s.ny, Rgx1 + r * s.nx,
                                                     OW1 + j * s.ldo, 0, Ob1 + j * s.ldob, 0, S),
                             HB_OK);
        }
    }
    ck_assert(rel_err(y, y1, ny) == 0);
    ck_assert(rel_err(Ry, Ry1, k * ny) <= 1e-14);
    ck_assert(rel_err(gx, gx1, nx) <= 1e-14);
    ck_assert(rel_err(Rgx, Rgx1, k * nx) <= 1e-14);
    ck_assert(rel_err(gW, gW1, s.nw) <= 1e-12);
    ck_assert(rel_err(OW, OW1, k * s.ldo) <= 1e-12);
    ck_assert(rel_err(gb, gb1, s.Co) <= 1e-12);
    ck_assert(rel_err(Ob, Ob1, k * s.ldob) <= 1e-12);
    free(x), free(W), free(b), free(gy), free(Rx), free(RW), free(Rb), free(Rgy), free(y), free(Ry);
    free(gx), free(gW), free(Rgx), free(OW), free(Ob), free(y1), free(Ry1), free(gx1), free(gW1);
    free(Rgx1), free(OW1), free(Ob1), free(S);
    hb_context_free(ctx);
}

START_TEST(test_conv_blocks) {
    hb__conv2d_geom small = {2, 12, 10, 3, 3, 1}, mid = {2, 16, 16, 2, 3, 1}, large = {4, 40, 36, 5, 3, 1};
    /* the scratch shows the blocking: samples side by side need less than N× one sample's */
    ck_assert(hb__conv2d_scratch(&small, 9, 2) < 9 * hb__conv2d_scratch(&small, 1, 2));
    ck_assert(hb__conv2d_scratch(&small, 9, 2) > hb__conv2d_scratch(&small, 1, 2));
    ck_assert(hb__conv2d_scratch(&mid, 3, 7) == hb__conv2d_scratch(&mid, 1, 7));
    conv_blocks_case(9, 2, small);
    conv_blocks_case(3, 7, mid);
    conv_blocks_case(3, 3, large);
}
END_TEST

/* The f32 passes agree with the f64 ones (inputs rounded to f32 first). (The comparison
 * with the former leading-k kernels went with them: the built-in cnn's values are held by
 * the builtin_ref suite.) */
START_TEST(test_conv_f32) {
    hb_context *ctx = hb_test_context(1, 1);
    size_t N = 3, k = 2;
    hb__conv2d_geom g = {2, 6, 6, 3, 3, 1};
    conv_sizes s = conv_sizes_of(N, k, g);
    size_t nx = N * s.nx, ny = N * s.ny, nw = s.nw;
    double *x = vec(nx, 1), *W = vec(nw, 2), *Rx = vec(k * nx, 5), *RW = vec(k * nw, 6);
    double *Ry = malloc(k * ny * 8), *S = scratch_for(&s, k);
    /* f32 against f64 (inputs rounded to f32 first) */
    float *xf = malloc(nx * 4), *Wf = malloc(nw * 4), *Rxf = malloc(k * nx * 4), *RWf = malloc(k * nw * 4);
    float *Ryf = malloc(k * ny * 4), *Sf = malloc(hb__conv2d_scratch(&g, N, k) * 4);
    for (size_t i = 0; i < nx; i++) xf[i] = (float)x[i], x[i] = xf[i];
    for (size_t i = 0; i < nw; i++) Wf[i] = (float)W[i], W[i] = Wf[i];
    for (size_t i = 0; i < k * nx; i++) Rxf[i] = (float)Rx[i], Rx[i] = Rxf[i];
    for (size_t i = 0; i < k * nw; i++) RWf[i] = (float)RW[i], RW[i] = RWf[i];
    ck_assert_int_eq(hb__conv2d_il_rforward(ctx, HB_F64, &g, N, k, x, W, Rx, RW, nw, NULL, 0, Ry, S), HB_OK);
    ck_assert_int_eq(hb__conv2d_il_rforward(ctx, HB_F32, &g, N, k, xf, Wf, Rxf, RWf, nw, NULL, 0, Ryf, Sf),
                     HB_OK);
    for (size_t i = 0; i < k * ny; i++) HB_ASSERT_CLOSE(Ryf[i], Ry[i], 1e-5);
    free(x), free(W), free(Rx), free(RW), free(Ry), free(S), free(xf), free(Wf), free(Rxf);
    free(RWf), free(Ryf), free(Sf);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_conv_errors) {
    hb_context *ctx = hb_test_context(1, 1);
    hb__conv2d_geom bad[] = {
        {0, 4, 4, 2, 3, 1}, {2, 4, 4, 0, 3, 1}, {2, 4, 4, 2, 0, 0},
        {2, 4, 4, 2, 3, -1}, {2, 2, 4, 2, 4, 0}, {2, 4, 2, 2, 4, 0},
    };
    double buf[4096] = {0};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_int_eq(hb__conv2d_check(ctx, &bad[i]), HB_ESHAPE);
        ck_assert_int_eq(hb__conv2d_il_forward(ctx, HB_F64, &bad[i], 1, buf, buf, NULL, buf, buf),
                         HB_ESHAPE);
        ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "conv2d"));
    }
    hb__conv2d_geom g = {1, 3, 3, 1, 3, 1};
    ck_assert_int_eq(hb__conv2d_il_forward(ctx, HB_BF16, &g, 1, buf, buf, NULL, buf, buf), HB_EDTYPE);
    hb_context_free(ctx);
}
END_TEST

/* ==== pooling kernels =================================================================== */

/* distinct values in [0, 10), ≥ 1e-3 apart (n < 10007): a permutation of a grid, scaled */
static void fill_distinct(double *a, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) a[i] = (double)((i * 7919u + seed * 104729u) % 10007u) * 1e-3;
}

/* reference pooling of n planes */
static void pool_ref(const hb__pool_geom *g, size_t planes, bool max, const double *x, double *y) {
    int64_t H = g->H, W = g->W, s = g->s, Ho = H / s, Wo = W / s;
    for (size_t p = 0; p < planes; p++)
        for (int64_t i = 0; i < Ho; i++)
            for (int64_t j = 0; j < Wo; j++) {
                double acc = max ? -INFINITY : 0;
                for (int64_t a = 0; a < s; a++)
                    for (int64_t b = 0; b < s; b++) {
                        double v = x[(p * (size_t)H + (size_t)(i * s + a)) * (size_t)W + (size_t)(j * s + b)];
                        acc = max ? fmax(acc, v) : acc + v;
                    }
                y[(p * (size_t)Ho + (size_t)i) * (size_t)Wo + (size_t)j] = max ? acc : acc / (double)(s * s);
            }
}

static void pool_case(bool max, size_t N, size_t k, hb__pool_geom g) {
    hb_context *ctx = hb_test_context(1, 1);
    size_t nx1 = (size_t)(g.C * g.H * g.W), ny1 = (size_t)(g.C * (g.H / g.s) * (g.W / g.s));
    size_t nx = N * nx1, ny = N * ny1;
    double *x = malloc(nx * 8), *y = malloc(ny * 8), *yr = malloc(ny * 8), *gy = vec(ny, 3);
    double *gx = vec(nx, 4), *gx0 = dup(gx, nx), *Rx = vec(k * nx, 5), *Ry = vec(k * ny, 6);
    double *Rgy = vec(k * ny, 7), *Rgx = vec(k * nx, 8), *Rgx0 = dup(Rgx, k * nx);
    double *xs = malloc(nx * 8), *yp = malloc(ny * 8), *ym = malloc(ny * 8);
    int32_t *idx = malloc(ny * sizeof *idx);
    fill_distinct(x, nx, 1);
    if (max) {
        ck_assert_int_eq(hb__maxpool_forward(ctx, HB_F64, &g, N, x, y, idx), HB_OK);
        ck_assert_int_eq(hb__maxpool_backward(ctx, HB_F64, &g, N, idx, gy, gx), HB_OK);
        ck_assert_int_eq(hb__maxpool_rforward(ctx, HB_F64, &g, N, k, idx, Rx, Ry), HB_OK);
        ck_assert_int_eq(hb__maxpool_rbackward(ctx, HB_F64, &g, N, k, idx, Rgy, Rgx), HB_OK);
    } else {
        ck_assert_int_eq(hb__avgpool_forward(ctx, HB_F64, &g, N, x, y), HB_OK);
        ck_assert_int_eq(hb__avgpool_backward(ctx, HB_F64, &g, N, gy, gx), HB_OK);
        ck_assert_int_eq(hb__avgpool_forward(ctx, HB_F64, &g, N * k, Rx, Ry), HB_OK);
        ck_assert_int_eq(hb__avgpool_backward(ctx, HB_F64, &g, N * k, Rgy, Rgx), HB_OK);
    }
    pool_ref(&g, N * (size_t)g.C, max, x, yr);
    ck_assert(rel_err(y, yr, ny) <= 1e-15);
    /* gradient of Σ gy ⊙ y by central differences (ε well below the value spacing) */
    double e = 1e-4; /* |e·Rx| < 1.3e-4: no argmax changes (spacing 1e-3) */
    for (size_t i = 0; i < nx; i++) {
        double keep = x[i];
        x[i] = keep + e, pool_ref(&g, N * (size_t)g.C, max, x, yp);
        x[i] = keep - e, pool_ref(&g, N * (size_t)g.C, max, x, ym);
        x[i] = keep;
        double fd = (dotv(yp, gy, ny) - dotv(ym, gy, ny)) / (2 * e);
        HB_ASSERT_CLOSE(gx[i] - gx0[i], fd, 1e-8);
    }
    /* R-forward: the directional derivative along Rx[·, j]; R-backward: the backward is
     * linear in gy with the selection fixed, so Rgx[·, j] = backward(Rgy[·, j]) */
    for (size_t j = 0; j < k; j++) {
        for (size_t n = 0; n < N; n++)
            for (size_t i = 0; i < nx1; i++) xs[n * nx1 + i] = x[n * nx1 + i] + e * Rx[(n * k + j) * nx1 + i];
        pool_ref(&g, N * (size_t)g.C, max, xs, yp);
        for (size_t n = 0; n < N; n++)
            for (size_t i = 0; i < nx1; i++) xs[n * nx1 + i] = x[n * nx1 + i] - e * Rx[(n * k + j) * nx1 + i];
        pool_ref(&g, N * (size_t)g.C, max, xs, ym);
        for (size_t n = 0; n < N; n++)
            for (size_t i = 0; i < ny1; i++)
                HB_ASSERT_CLOSE(Ry[(n * k + j) * ny1 + i], (yp[n * ny1 + i] - ym[n * ny1 + i]) / (2 * e), 1e-8);
        double *g1 = calloc(nx, 8), *gyj = malloc(ny * 8);
        for (size_t n = 0; n < N; n++) memcpy(gyj + n * ny1, Rgy + (n * k + j) * ny1, ny1 * 8);
        if (max) hb__maxpool_backward(ctx, HB_F64, &g, N, idx, gyj, g1);
        else hb__avgpool_backward(ctx, HB_F64, &g, N, gyj, g1);
        for (size_t n = 0; n < N; n++)
            for (size_t i = 0; i < nx1; i++) {
                size_t r = (n * k + j) * nx1 + i;
                HB_ASSERT_CLOSE(Rgx[r] - Rgx0[r], g1[n * nx1 + i], 1e-15);
            }
        free(g1), free(gyj);
    }
    if (max) { /* a zero direction */
        ck_assert_int_eq(hb__maxpool_rforward(ctx, HB_F64, &g, N, k, idx, NULL, Ry), HB_OK);
        for (size_t i = 0; i < k * ny; i++) ck_assert(Ry[i] == 0);
    }
    free(x), free(y), free(yr), free(gy), free(gx), free(gx0), free(Rx), free(Ry), free(Rgy);
    free(Rgx), free(Rgx0), free(xs), free(yp), free(ym), free(idx);
    hb_context_free(ctx);
}

static const hb__pool_geom pool_geoms[] = {
    {2, 4, 6, 2}, /* exact */
    {3, 7, 5, 2}, /* remainders dropped */
    {1, 9, 8, 3}, /* window 3, remainder in W */
    {2, 3, 5, 1}, /* identity */
    {2, 4, 5, 4}, /* one window per plane */
};

START_TEST(test_pool_avg) {
    for (size_t c = 0; c < sizeof pool_geoms / sizeof *pool_geoms; c++)
        pool_case(false, 2 + c % 2, 1 + c % 3, pool_geoms[c]);
}
END_TEST

START_TEST(test_pool_max) {
    for (size_t c = 0; c < sizeof pool_geoms / sizeof *pool_geoms; c++)
        pool_case(true, 2 + c % 2, 1 + c % 3, pool_geoms[c]);
}
END_TEST

/* ties: the first maximum in row-major window order; NaN never selected over a number
 * that came first */
START_TEST(test_pool_max_ties) {
    hb_context *ctx = hb_test_context(1, 1);
    hb__pool_geom g = {1, 2, 4, 2};
    double x[8] = {1, 5, 5, 2, /* row 0 */ 5, 0, 3, 5}, y[2];
    int32_t idx[2];
    ck_assert_int_eq(hb__maxpool_forward(ctx, HB_F64, &g, 1, x, y, idx), HB_OK);
    ck_assert_int_eq(idx[0], 1); /* 5 at (0,1) before 5 at (1,0) */
    ck_assert_int_eq(idx[1], 2); /* 5 at (0,2) before 5 at (1,3) */
    ck_assert(y[0] == 5 && y[1] == 5);
    float xf[8] = {2, 2, 2, 2, 1, 1, 1, 1}, yf[2];
    ck_assert_int_eq(hb__maxpool_forward(ctx, HB_F32, &g, 1, xf, yf, idx), HB_OK);
    ck_assert_int_eq(idx[0], 0);
    ck_assert_int_eq(idx[1], 2);
    hb_context_free(ctx);
}
END_TEST

START_TEST(test_pool_errors) {
    hb_context *ctx = hb_test_context(1, 1);
    hb__pool_geom bad[] = {{1, 4, 4, 0}, {1, 4, 4, 5}, {1, 2, 4, 3}, {0, 4, 4, 2}};
    double buf[64] = {0};
    int32_t idx[64];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_int_eq(hb__avgpool_forward(ctx, HB_F64, &bad[i], 1, buf, buf), HB_ESHAPE);
        ck_assert_int_eq(hb__maxpool_forward(ctx, HB_F64, &bad[i], 1, buf, buf, idx), HB_ESHAPE);
        ck_assert_ptr_nonnull(strstr(hb_context_last_error(ctx), "pool2d"));
    }
    hb__pool_geom g = {1, 4, 4, 2};
    ck_assert_int_eq(hb__maxpool_forward(ctx, HB_I32, &g, 1, buf, buf, idx), HB_EDTYPE);
    hb_context_free(ctx);
}
END_TEST

/* ==== ops through the engine ============================================================ */

#define OK(expr) ck_assert_int_eq((expr), HB_OK)

static hb_context *CTX;

static void setup(void) { CTX = hb_test_context(1, 4321); }
static void teardown(void) { hb_context_free(CTX); }

static hb_net *new_net(hb_dtype dt) {
    hb_net *net = NULL;
    OK(hb_net_create(CTX, dt, &net));
    return net;
}

/* A deterministic integer in [lo, hi] from (stream, i). */
static int64_t pick(uint64_t stream, uint64_t i, int64_t lo, int64_t hi) {
    double u = 0;
    OK(hb_random_fill_f64(CTX, stream, i, HB_DIST_UNIFORM, 0, 1, &u, 1));
    int64_t v = lo + (int64_t)(u * (double)(hi - lo + 1));
    return v > hi ? hi : v;
}

/* conv → tanh → conv → mse: the second conv sees an input with a gradient (gx, Rgx), the
 * first a data input; random Cin, H ≠ W, Cout, kernel, padding, bias per case. */
START_TEST(conv_random) {
    for (uint64_t s = 0; s < 6; s++) {
        hb_net *net = new_net(HB_F64);
        int64_t K1 = pick(30, s, 1, 3), P1 = pick(31, s, 0, 2), K2 = pick(32, s, 1, 3);
        int64_t P2 = pick(33, s, 0, 1);
        int64_t sh[3] = {pick(34, s, 1, 3), pick(35, s, 3, 6), pick(36, s, 3, 6)};
        int64_t C1 = pick(37, s, 1, 3), C2 = pick(38, s, 1, 2);
        OK(hb_net_input_features(net, "x", 3, sh));
        OK(hb_net_conv2d(net, "c1", "x", "h", C1, K1, P1, (int)(s % 2)));
        OK(hb_net_activation(net, HB_ACT_TANH, "h", "t"));
        OK(hb_net_conv2d(net, "c2", "t", "y", C2, K2, P2, (int)(s % 3 != 1)));
        OK(hb_net_loss_mse(net, "y"));
        char label[160];
        snprintf(label, sizeof label, "conv (%lld,%lld,%lld) k%lld p%lld -> %lld, k%lld p%lld -> %lld",
                 (long long)sh[0], (long long)sh[1], (long long)sh[2], (long long)K1, (long long)P1,
                 (long long)C1, (long long)K2, (long long)P2, (long long)C2);
        hb_net_check(net, 2 + (size_t)(s % 3), 400 + s, label);
        hb_net_free(net);
    }
}
END_TEST

/* conv → pool (avg | max) → tanh → conv → flatten → linear → mse: the pool's input and
 * output both carry gradients; random window sizes with remainders. */
static void pool_net_case(hb_net_pool kind, uint64_t s) {
    hb_net *net = new_net(HB_F64);
    int64_t sh[3] = {pick(40, s, 1, 2), pick(41, s, 4, 7), pick(42, s, 4, 7)};
    int64_t size = pick(43, s, 1, 3);
    OK(hb_net_input_features(net, "x", 3, sh));
    OK(hb_net_conv2d(net, "c1", "x", "h", pick(44, s, 1, 3), 3, 1, 1));
    OK(hb_net_pool2d(net, kind, "h", "p", size));
    OK(hb_net_activation(net, HB_ACT_TANH, "p", "t"));
    OK(hb_net_conv2d(net, "c2", "t", "z", 2, 1, 0, 1));
    OK(hb_net_flatten(net, "z", "f"));
    OK(hb_net_linear(net, "fc", "f", "y", 2, 1, 0));
    OK(hb_net_loss_mse(net, "y"));
    char label[128];
    snprintf(label, sizeof label, "%s pool %lld over (%lld,%lld,%lld)", kind == HB_POOL_MAX ? "max" : "avg",
             (long long)size, (long long)sh[0], (long long)sh[1], (long long)sh[2]);
    hb_net_check(net, 3, 500 + s, label);
    hb_net_free(net);
}

START_TEST(pool_avg_random) {
    for (uint64_t s = 0; s < 4; s++) pool_net_case(HB_POOL_AVG, s);
}
END_TEST

START_TEST(pool_max_random) {
    for (uint64_t s = 0; s < 4; s++) pool_net_case(HB_POOL_MAX, 10 + s);
}
END_TEST

/* pooling right after the input (no input gradient wanted) */
START_TEST(pool_on_input) {
    for (int m = 0; m < 2; m++) {
        hb_net *net = new_net(HB_F64);
        int64_t sh[3] = {2, 5, 6};
        OK(hb_net_input_features(net, "x", 3, sh));
        OK(hb_net_pool2d(net, m ? HB_POOL_MAX : HB_POOL_AVG, "x", "p", 2));
        OK(hb_net_flatten(net, "p", "f"));
        OK(hb_net_linear(net, "fc", "f", "h", 3, 1, 0));
        OK(hb_net_activation(net, HB_ACT_TANH, "h", "y"));
        OK(hb_net_loss_mse(net, "y"));
        hb_net_check(net, 4, 600 + (uint64_t)m, m ? "max pool on the input" : "avg pool on the input");
        hb_net_free(net);
    }
}
END_TEST

/* The small CNN of the issue: conv → relu → maxpool → conv → relu → avgpool → flatten →
 * linear → mse, on a rectangular image. */
static hb_net *small_cnn(hb_dtype dt) {
    hb_net *net = new_net(dt);
    int64_t sh[3] = {2, 8, 6};
    OK(hb_net_input_features(net, "img", 3, sh));
    OK(hb_net_conv2d(net, "conv1", "img", "z1", 4, 3, 1, 1));
    OK(hb_net_activation(net, HB_ACT_RELU, "z1", "r1"));
    OK(hb_net_pool2d(net, HB_POOL_MAX, "r1", "p1", 2));
    OK(hb_net_conv2d(net, "conv2", "p1", "z2", 3, 3, 1, 1));
    OK(hb_net_activation(net, HB_ACT_RELU, "z2", "r2"));
    OK(hb_net_pool2d(net, HB_POOL_AVG, "r2", "p2", 2));
    OK(hb_net_flatten(net, "p2", "f"));
    OK(hb_net_linear(net, "head", "f", "y", 3, 1, HB_BLOCK_HEAD));
    OK(hb_net_loss_mse(net, "y"));
    return net;
}

START_TEST(small_cnn_checked) {
    hb_net *net = small_cnn(HB_F64);
    int nd;
    int64_t shape[3];
    OK(hb_net_activation_shape(net, "p1", &nd, shape));
    ck_assert(nd == 3 && shape[0] == 4 && shape[1] == 4 && shape[2] == 3);
    OK(hb_net_activation_shape(net, "p2", &nd, shape));
    ck_assert(nd == 3 && shape[0] == 3 && shape[1] == 2 && shape[2] == 1);
    hb_net_check(net, 4, 700, "small cnn");
    hb_net_free(net);
}
END_TEST

/* Blocks: names, kinds, shapes, PyTorch's default init bounds (U(±1/√(Cin·K²))). */
START_TEST(conv_blocks_and_init) {
    hb_net *net = small_cnn(HB_F64);
    hb_model *m = NULL;
    OK(hb_model_create_net(net, &m));
    hb_params *p = hb_model_params(m);
    ck_assert_uint_eq(hb_params_num_blocks(p), 6);
    static const char *const names[4] = {"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"};
    static const int64_t fan[2] = {2 * 9, 4 * 9}, cout[2] = {4, 3}, cin[2] = {2, 4};
    const double *th = hb_params_data(p);
    size_t off = 0;
    for (int b = 0; b < 4; b++) {
        const char *name;
        hb_block_kind kind;
        int64_t shape[HB_MAX_DIMS];
        int nd;
        size_t numel = 0;
        OK(hb_params_block_info(p, (size_t)b, &name, &kind, NULL, &numel, &nd, shape));
        ck_assert_str_eq(name, names[b]);
        int l = b / 2;
        if (b % 2 == 0) {
            ck_assert_int_eq(kind, HB_BLOCK_CONV);
            ck_assert(nd == 4 && shape[0] == cout[l] && shape[1] == cin[l] && shape[2] == 3 && shape[3] == 3);
        } else {
            ck_assert_int_eq(kind, HB_BLOCK_BIAS);
            ck_assert(nd == 1 && shape[0] == cout[l]);
        }
        double bound = 1.0 / sqrt((double)fan[l]), mx = 0;
        for (size_t i = 0; i < numel; i++) mx = fmax(mx, fabs(th[off + i]));
        ck_assert(mx <= bound && mx > 0.3 * bound);
        off += numel;
    }
    hb_model_free(m);
    hb_net_free(net);
}
END_TEST

/* f32 parameters compute in f32: the loss, gradient and HVP of the small CNN agree with
 * the f64 model of the same parameters (copied) to f32 rounding. */
START_TEST(small_cnn_f32) {
    hb_net *n64 = small_cnn(HB_F64), *n32 = small_cnn(HB_F32);
    hb_model *m64 = NULL, *m32 = NULL;
    OK(hb_model_create_net(n64, &m64));
    OK(hb_model_create_net(n32, &m32));
    size_t n = hb_params_count(hb_model_params(m64));
    float *t32 = hb_params_data(hb_model_params(m32));
    const double *t64 = hb_params_data(hb_model_params(m64));
    for (size_t i = 0; i < n; i++) t32[i] = (float)t64[i];
    hb_params *p64 = hb_model_params(m64);
    double *w64 = hb_params_data(p64);
    for (size_t i = 0; i < n; i++) w64[i] = t32[i];
    hb_tensor *x, *y, *v, *o64, *o32;
    hb_net_check_batch(n64, 5, 3, &x, &y);
    OK(hb_model_set_batch(m64, x, y));
    OK(hb_model_set_batch(m32, x, y));
    double l64, l32;
    OK(hb_model_loss_grad(m64, &l64));
    OK(hb_model_loss_grad(m32, &l32));
    HB_ASSERT_CLOSE(l32, l64, 1e-5);
    const double *ga = hb_params_grad(hb_model_params(m64));
    const float *gb = hb_params_grad(hb_model_params(m32));
    int64_t len = (int64_t)n;
    OK(hb_tensor_create(CTX, HB_F64, 1, &len, &v));
    OK(hb_tensor_create(CTX, HB_F64, 1, &len, &o64));
    OK(hb_tensor_create(CTX, HB_F64, 1, &len, &o32));
    OK(hb_random_fill_f64(CTX, 77, 0, HB_DIST_NORMAL, 0, 1, hb_tensor_data(v), n));
    OK(hb_model_hvp(m64, v, o64));
    OK(hb_model_hvp(m32, v, o32));
    const double *a = hb_tensor_data(o64), *b = hb_tensor_data(o32);
    double na = 0, d = 0, nga = 0, dg = 0;
    for (size_t i = 0; i < n; i++) {
        na = fmax(na, fabs(a[i])), d = fmax(d, fabs(a[i] - b[i]));
        nga = fmax(nga, fabs(ga[i])), dg = fmax(dg, fabs(ga[i] - gb[i]));
    }
    ck_assert_msg(d <= 1e-4 * na, "f32 HVP off by %g of %g", d, na);
    ck_assert_msg(dg <= 1e-4 * nga, "f32 gradient off by %g of %g", dg, nga);
    hb_tensor_free(x), hb_tensor_free(y), hb_tensor_free(v), hb_tensor_free(o64), hb_tensor_free(o32);
    hb_model_free(m64), hb_model_free(m32);
    hb_net_free(n64), hb_net_free(n32);
}
END_TEST

/* Shape errors name the op and both shapes; a failed call changes nothing. */
START_TEST(validation) {
    hb_net *net = new_net(HB_F64);
    int64_t img[3] = {2, 5, 4};
    OK(hb_net_input_features(net, "x", 3, img));
    ck_assert_int_eq(hb_net_linear(net, "seq", "x", "bad", 3, 1, 0), HB_ESHAPE);
    size_t ops = hb_net_op_count(net);
    /* kernel larger than the padded image: the output would be empty */
    ck_assert_int_eq(hb_net_conv2d(net, "c", "x", "y", 3, 6, 0, 1), HB_ESHAPE);
    const char *msg = hb_context_last_error(CTX);
    ck_assert_ptr_nonnull(strstr(msg, "conv2d 'c'"));
    ck_assert_ptr_nonnull(strstr(msg, "(C=2, H=5, W=4)"));
    ck_assert_ptr_nonnull(strstr(msg, "(C=3, H=0, W=-1)"));
    ck_assert_uint_eq(hb_net_op_count(net), ops);
    /* bad arguments */
    ck_assert_int_eq(hb_net_conv2d(net, "c", "x", "y", 0, 3, 1, 1), HB_EINVAL);
    ck_assert_int_eq(hb_net_conv2d(net, "c", "x", "y", 3, 0, 1, 1), HB_EINVAL);
    ck_assert_int_eq(hb_net_conv2d(net, "c", "x", "y", 3, 3, -1, 1), HB_EINVAL);
    ck_assert_int_eq(hb_net_conv2d(net, "", "x", "y", 3, 3, 1, 1), HB_EINVAL);
    ck_assert_int_eq(hb_net_conv2d(NULL, "c", "x", "y", 3, 3, 1, 1), HB_EINVAL);
    ck_assert_int_eq(hb_net_conv2d(net, "c", "nope", "y", 3, 3, 1, 1), HB_ENOTFOUND);
    ck_assert_int_eq(hb_net_conv2d(net, "c", "x", "x", 3, 3, 1, 1), HB_EINVAL); /* output exists */
    ck_assert_int_eq(hb_net_pool2d(net, HB_POOL_MAX, "x", "p", 5), HB_ESHAPE);   /* > W */
    msg = hb_context_last_error(CTX);
    ck_assert_ptr_nonnull(strstr(msg, "pool2d"));
    ck_assert_ptr_nonnull(strstr(msg, "(C=2, H=5, W=4)"));
    ck_assert_int_eq(hb_net_pool2d(net, HB_POOL_MAX, "x", "p", 0), HB_EINVAL);
    ck_assert_int_eq(hb_net_pool2d(net, (hb_net_pool)3, "x", "p", 2), HB_EINVAL);
    ck_assert_int_eq(hb_net_pool2d(NULL, HB_POOL_AVG, "x", "p", 2), HB_EINVAL);
    ck_assert_uint_eq(hb_net_op_count(net), ops);
    /* a valid conv, then ops on non-images */
    OK(hb_net_conv2d(net, "c", "x", "y", 3, 3, 1, 0));
    OK(hb_net_flatten(net, "y", "f"));
    ck_assert_int_eq(hb_net_conv2d(net, "c2", "f", "z", 3, 3, 1, 1), HB_ESHAPE);
    msg = hb_context_last_error(CTX);
    ck_assert_ptr_nonnull(strstr(msg, "conv2d 'c2'"));
    ck_assert_ptr_nonnull(strstr(msg, "(F=60)"));
    ck_assert_int_eq(hb_net_pool2d(net, HB_POOL_AVG, "f", "p", 2), HB_ESHAPE);
    ck_assert_ptr_nonnull(strstr(hb_context_last_error(CTX), "(F=60)"));
    ck_assert_int_eq(hb_net_conv2d(net, "c", "y", "z", 3, 3, 1, 1), HB_EINVAL); /* c.weight exists */
    ck_assert_uint_eq(hb_net_op_count(net), ops + 2);
    /* no bias: one block */
    OK(hb_net_linear(net, "fc", "f", "o", 2, 1, 0));
    OK(hb_net_loss_mse(net, "o"));
    hb_model *m = NULL;
    OK(hb_model_create_net(net, &m));
    ck_assert_uint_eq(hb_params_num_blocks(hb_model_params(m)), 3);
    hb_model_free(m);
    hb_net_free(net);
}
END_TEST

/* Allocation failure anywhere in building the small CNN, making its model and running a
 * gradient and an hvp_multi is a clean HB_ENOMEM with nothing leaked. */
static int cnn_oom_run(hb_context *ctx, void *arg) {
    (void)arg;
    hb_net *net = NULL;
    hb_model *m = NULL;
    hb_tensor *x = NULL, *y = NULL, *v = NULL, *o = NULL;
    int rc = hb_net_create(ctx, HB_F64, &net);
    if (rc == HB_OK) rc = hb_net_input_features(net, "img", 3, (int64_t[]){1, 6, 5});
    if (rc == HB_OK) rc = hb_net_conv2d(net, "c1", "img", "z", 2, 3, 1, 1);
    if (rc == HB_OK) rc = hb_net_pool2d(net, HB_POOL_MAX, "z", "p", 2);
    if (rc == HB_OK) rc = hb_net_conv2d(net, "c2", "p", "q", 2, 2, 0, 0);
    if (rc == HB_OK) rc = hb_net_pool2d(net, HB_POOL_AVG, "q", "a", 1);
    if (rc == HB_OK) rc = hb_net_loss_mse(net, "a");
    if (rc == HB_OK) rc = hb_model_create_net(net, &m);
    int64_t xs[4] = {3, 1, 6, 5}, ys[4] = {3, 2, 2, 1};
    if (rc == HB_OK) rc = hb_tensor_create(ctx, HB_F64, 4, xs, &x);
    if (rc == HB_OK) rc = hb_tensor_create(ctx, HB_F64, 4, ys, &y);
    if (rc == HB_OK) rc = hb_tensor_fill(x, 0.5);
    if (rc == HB_OK) rc = hb_model_set_batch(m, x, y);
    double l;
    if (rc == HB_OK) rc = hb_model_loss_grad(m, &l);
    size_t n = m ? hb_params_count(hb_model_params(m)) : 0;
    if (rc == HB_OK) rc = hb_tensor_create(ctx, HB_F64, 2, (int64_t[]){2, (int64_t)n}, &v);
    if (rc == HB_OK) rc = hb_tensor_create(ctx, HB_F64, 2, (int64_t[]){2, (int64_t)n}, &o);
    if (rc == HB_OK) rc = hb_tensor_fill(v, 0.25);
    if (rc == HB_OK) rc = hb_model_hvp_multi(m, v, o);
    hb_tensor_free(x), hb_tensor_free(y), hb_tensor_free(v), hb_tensor_free(o);
    hb_model_free(m);
    hb_net_free(net);
    return rc;
}

START_TEST(allocation_failure) {
    ck_assert_int_gt(hb_test_oom_loop(cnn_oom_run, NULL), 8);
}
END_TEST

Suite *hb_suite_net_image(void) {
    Suite *s = suite_create("net_image");
    TCase *tc = tcase_create("kernels");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_conv_theta);
    tcase_add_test(tc, test_conv_r);
    tcase_add_test(tc, test_conv_r_null);
    tcase_add_test(tc, test_conv_blocks);
    tcase_add_test(tc, test_conv_f32);
    tcase_add_test(tc, test_conv_errors);
    tcase_add_test(tc, test_pool_avg);
    tcase_add_test(tc, test_pool_max);
    tcase_add_test(tc, test_pool_max_ties);
    tcase_add_test(tc, test_pool_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("ops");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, conv_random);
    tcase_add_test(tc, pool_avg_random);
    tcase_add_test(tc, pool_max_random);
    tcase_add_test(tc, pool_on_input);
    tcase_add_test(tc, small_cnn_checked);
    tcase_add_test(tc, conv_blocks_and_init);
    tcase_add_test(tc, small_cnn_f32);
    tcase_add_test(tc, validation);
    tcase_add_test(tc, allocation_failure);
    suite_add_tcase(s, tc);
    return s;
}
