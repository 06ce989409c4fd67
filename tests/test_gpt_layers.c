/* The interleaved-R layers (lib/nn: embedding, position embedding, layernorm, rmsnorm,
 * attention, linear, xent: the R-passes of hb_net's ops) in
 * f64 against central finite differences. Each layer is wrapped as y = f(u) with u its
 * input and parameters packed in one vector, so one harness checks, for k = 2 directions:
 *   backward:   gu = J(u)ᵀ·gy            vs FD of ⟨gy, f(u)⟩                     (≤ 1e-7)
 *   R-forward:  Ry_j = J(u)·Ru_j          vs (f(u + h·Ru_j) − f(u − h·Ru_j))/2h  (≤ 1e-6)
 *   R-backward: Rgu_j = d/dh gu(u + h·Ru_j, gy + h·Rgy_j) at 0, vs the same FD    (≤ 1e-6)
 * Errors are relative in the 2-norm. Step h = 1e-5: truncation O(h²) ≈ 1e-10 and
 * rounding O(eps/h) ≈ 1e-11 for these O(1) quantities, so the bounds hold with margin
 * while any wrong or missing term (an O(1) relative error) fails. The k directions are
 * interleaved per row as the layers expect ((M, k, C)); the wrappers convert. */
#include <string.h>

#include "hb_test.h"
#include "kernels/kernels.h"
#include "nn/attention.h"
#include "nn/embedding.h"
#include "nn/layernorm.h"
#include "nn/linear.h"
#include "nn/rmsnorm.h"
#include "nn/xent.h"

enum { K = 2 };
static hb_context *CTX;
static size_t M_, C_, CO_, N_, T_, H_, V_; /* shapes of the case under test */
static int32_t IDX[64];

/* (k, M·C) rows → (M, k, C) and back */
static void inter(size_t k, size_t M, size_t C, const double *src, size_t ld, double *dst) {
    for (size_t j = 0; j < k; j++)
        for (size_t m = 0; m < M; m++) memcpy(dst + (m * k + j) * C, src + j * ld + m * C, C * sizeof(double));
}
static void deinter(size_t k, size_t M, size_t C, const double *src, double *dst, size_t ld) {
    for (size_t j = 0; j < k; j++)
        for (size_t m = 0; m < M; m++) memcpy(dst + j * ld + m * C, src + (m * k + j) * C, C * sizeof(double));
}

typedef struct layer_case {
    const char *name;
    size_t nu, ny;
    void (*fwd)(const double *u, double *y);
    void (*bwd)(const double *u, const double *gy, double *gu);
    void (*rfwd)(const double *u, const double *Ru, double *Ry);
    void (*rbwd)(const double *u, const double *gy, const double *Ru, const double *Rgy, double *Rgu);
} layer_case;

static double *rnd(size_t n, uint64_t stream, double sd) {
    double *a = calloc(n ? n : 1, sizeof *a);
    ck_assert_int_eq(hb_random_fill_f64(CTX, stream, 0, HB_DIST_NORMAL, 0, sd, a, n), HB_OK);
    return a;
}

static double rel(const double *a, const double *b, size_t n) {
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        d += (a[i] - b[i]) * (a[i] - b[i]);
        r += b[i] * b[i];
    }
    return sqrt(d) / fmax(sqrt(r), 1e-300);
}

static void check_layer(const layer_case *L) {
    size_t nu = L->nu, ny = L->ny;
    const double h = 1e-5;
    double *u = rnd(nu, 1, 1), *gy = rnd(ny, 2, 1), *Ru = rnd(K * nu, 3, 1), *Rgy = rnd(K * ny, 4, 1);
    double *gu = calloc(nu, sizeof *gu), *fd = calloc(nu > ny ? nu : ny, sizeof *fd);
    double *yp = calloc(ny, sizeof *yp), *ym = calloc(ny, sizeof *ym), *up = calloc(nu, sizeof *up);
    double *Ry = calloc(K * ny, sizeof *Ry), *Rgu = calloc(K * nu, sizeof *Rgu);
    double *gp = calloc(nu, sizeof *gp), *gm = calloc(nu, sizeof *gm), *gyp = calloc(ny, sizeof *gyp);
    /* backward vs FD of ⟨gy, f(u)⟩ */
    L->bwd(u, gy, gu);
    for (size_t i = 0; i < nu; i++) {
        memcpy(up, u, nu * sizeof *u);
        up[i] = u[i] + h;
        L->fwd(up, yp);
        up[i] = u[i] - h;
        L->fwd(up, ym);
        double s = 0;
        for (size_t o = 0; o < ny; o++) s += gy[o] * (yp[o] - ym[o]);
        fd[i] = s / (2 * h);
    }
    ck_assert_msg(rel(gu, fd, nu) <= 1e-7, "%s backward: %g", L->name, rel(gu, fd, nu));
    /* R-forward and R-backward */
    L->rfwd(u, Ru, Ry);
    L->rbwd(u, gy, Ru, Rgy, Rgu);
    for (size_t j = 0; j < K; j++) {
        for (size_t i = 0; i < nu; i++) up[i] = u[i] + h * Ru[j * nu + i];
        L->fwd(up, yp);
        for (size_t o = 0; o < ny; o++) gyp[o] = gy[o] + h * Rgy[j * ny + o];
        L->bwd(up, gyp, gp);
        for (size_t i = 0; i < nu; i++) up[i] = u[i] - h * Ru[j * nu + i];
        L->fwd(up, ym);
        for (size_t o = 0; o < ny; o++) gyp[o] = gy[o] - h * Rgy[j * ny + o];
        L->bwd(up, gyp, gm);
        for (size_t o = 0; o < ny; o++) fd[o] = (yp[o] - ym[o]) / (2 * h);
        ck_assert_msg(rel(Ry + j * ny, fd, ny) <= 1e-6, "%s R-forward dir %zu: %g", L->name, j,
                      rel(Ry + j * ny, fd, ny));
        for (size_t i = 0; i < nu; i++) fd[i] = (gp[i] - gm[i]) / (2 * h);
        ck_assert_msg(rel(Rgu + j * nu, fd, nu) <= 1e-6, "%s R-backward dir %zu: %g", L->name, j,
                      rel(Rgu + j * nu, fd, nu));
    }
    free(u), free(gy), free(Ru), free(Rgy), free(gu), free(fd), free(yp), free(ym), free(up);
    free(Ry), free(Rgu), free(gp), free(gm), free(gyp);
}

/* ---- embedding: u = (wte (V, C), wpe (T, C)), y = x (N·T, C) ---- */
static void emb_fwd(const double *u, double *y) {
    ck_assert_int_eq(hb__embedding_forward(CTX, HB_F64, N_, T_, C_, IDX, u, u + V_ * C_, y), HB_OK);
}
static void emb_bwd(const double *u, const double *gy, double *gu) {
    (void)u;
    memset(gu, 0, (V_ + T_) * C_ * sizeof(double));
    ck_assert_int_eq(hb__embedding_backward(CTX, HB_F64, N_, T_, C_, IDX, gy, gu, gu + V_ * C_), HB_OK);
}
static void emb_rfwd(const double *u, const double *Ru, double *Ry) {
    (void)u;
    size_t nu = (V_ + T_) * C_, M = N_ * T_;
    double *R = malloc(K * M * C_ * sizeof *R);
    ck_assert_int_eq(hb__embedding_rforward(CTX, HB_F64, N_, T_, C_, K, IDX, Ru, Ru + V_ * C_, nu, R), HB_OK);
    deinter(K, M, C_, R, Ry, M * C_);
    free(R);
}
static void emb_rbwd(const double *u, const double *gy, const double *Ru, const double *Rgy, double *Rgu) {
    (void)u, (void)gy, (void)Ru;
    size_t nu = (V_ + T_) * C_, M = N_ * T_;
    double *R = malloc(K * M * C_ * sizeof *R);
    inter(K, M, C_, Rgy, M * C_, R);
    memset(Rgu, 0, K * nu * sizeof(double));
    ck_assert_int_eq(hb__embedding_rbackward(CTX, HB_F64, N_, T_, C_, K, IDX, R, Rgu, Rgu + V_ * C_, nu), HB_OK);
    free(R);
}

/* ---- layernorm: u = (x (M, C), w (C), b (C)), y (M, C) ---- */
static void ln_fwd(const double *u, double *y) {
    double mu[64], rs[64];
    ck_assert_int_eq(hb__layernorm_forward(CTX, HB_F64, M_, C_, HB__LN_EPS, u, u + M_ * C_, u + M_ * C_ + C_, y, mu, rs), HB_OK);
}
static void ln_bwd(const double *u, const double *gy, double *gu) {
    double mu[64], rs[64], *y = malloc(M_ * C_ * sizeof *y);
    ck_assert_int_eq(hb__layernorm_forward(CTX, HB_F64, M_, C_, HB__LN_EPS, u, u + M_ * C_, u + M_ * C_ + C_, y, mu, rs), HB_OK);
    memset(gu, 0, (M_ * C_ + 2 * C_) * sizeof(double));
    ck_assert_int_eq(hb__layernorm_backward(CTX, HB_F64, M_, C_, u, u + M_ * C_, mu, rs, gy, gu,
                                            gu + M_ * C_, gu + M_ * C_ + C_), HB_OK);
    free(y);
}
static void ln_rfwd(const double *u, const double *Ru, double *Ry) {
    double mu[64], rs[64], *y = malloc(M_ * C_ * sizeof *y), *Rx = malloc(K * M_ * C_ * sizeof *Rx);
    double *R = malloc(K * M_ * C_ * sizeof *R);
    size_t nu = M_ * C_ + 2 * C_;
    ck_assert_int_eq(hb__layernorm_forward(CTX, HB_F64, M_, C_, HB__LN_EPS, u, u + M_ * C_, u + M_ * C_ + C_, y, mu, rs), HB_OK);
    inter(K, M_, C_, Ru, nu, Rx);
    ck_assert_int_eq(hb__layernorm_rforward(CTX, HB_F64, M_, C_, K, u, u + M_ * C_, mu, rs, Rx,
                                            Ru + M_ * C_, Ru + M_ * C_ + C_, nu, R), HB_OK);
    deinter(K, M_, C_, R, Ry, M_ * C_);
    free(y), free(Rx), free(R);
}
static void ln_rbwd(const double *u, const double *gy, const double *Ru, const double *Rgy, double *Rgu) {
    double mu[64], rs[64], *y = malloc(M_ * C_ * sizeof *y), *Rx = malloc(K * M_ * C_ * sizeof *Rx);
    double *Rg = malloc(K * M_ * C_ * sizeof *Rg), *Rgx = calloc(K * M_ * C_, sizeof *Rgx);
    size_t nu = M_ * C_ + 2 * C_;
    ck_assert_int_eq(hb__layernorm_forward(CTX, HB_F64, M_, C_, HB__LN_EPS, u, u + M_ * C_, u + M_ * C_ + C_, y, mu, rs), HB_OK);
    inter(K, M_, C_, Ru, nu, Rx);
    inter(K, M_, C_, Rgy, M_ * C_, Rg);
    memset(Rgu, 0, K * nu * sizeof(double));
    ck_assert_int_eq(hb__layernorm_rbackward(CTX, HB_F64, M_, C_, K, u, u + M_ * C_, mu, rs, gy, Rx,
                                             Ru + M_ * C_, nu, Rg, Rgx, Rgu + M_ * C_,
                                             Rgu + M_ * C_ + C_, nu), HB_OK);
    deinter(K, M_, C_, Rgx, Rgu, nu);
    free(y), free(Rx), free(Rg), free(Rgx);
}

/* ---- dense: u = (x (M, C), W (CO, C), b (CO)), y (M, CO); the θ side is nn/linear.c ---- */
#define DW (u + M_ * C_)
#define DB (u + M_ * C_ + CO_ * C_)
#define DNU (M_ * C_ + CO_ * C_ + CO_)
static void dn_fwd(const double *u, double *y) {
    ck_assert_int_eq(hb__linear_forward(CTX, HB_F64, (int64_t)M_, (int64_t)C_, (int64_t)CO_, u, DW, DB, y), HB_OK);
}
static void dn_bwd(const double *u, const double *gy, double *gu) {
    memset(gu, 0, DNU * sizeof(double));
    ck_assert_int_eq(hb__linear_backward(CTX, HB_F64, (int64_t)M_, (int64_t)C_, (int64_t)CO_, u, DW, gy, gu, gu + M_ * C_,
                                        gu + M_ * C_ + CO_ * C_), HB_OK);
}
static void dn_rfwd(const double *u, const double *Ru, double *Ry) {
    double *Rx = malloc(K * M_ * C_ * sizeof *Rx), *R = malloc(K * M_ * CO_ * sizeof *R);
    double *s = malloc(hb__linear_rscratch(C_, CO_, K) * sizeof *s);
    inter(K, M_, C_, Ru, DNU, Rx);
    ck_assert_int_eq(hb__linear_rforward(CTX, HB_F64, M_, C_, CO_, K, u, DW, Rx, Ru + M_ * C_,
                                        Ru + M_ * C_ + CO_ * C_, DNU, R, s), HB_OK);
    deinter(K, M_, CO_, R, Ry, M_ * CO_);
    free(Rx), free(R), free(s);
}
static void dn_rbwd(const double *u, const double *gy, const double *Ru, const double *Rgy, double *Rgu) {
    double *Rx = malloc(K * M_ * C_ * sizeof *Rx), *Rg = malloc(K * M_ * CO_ * sizeof *Rg);
    double *Rgx = calloc(K * M_ * C_, sizeof *Rgx), *s = malloc(hb__linear_rscratch(C_, CO_, K) * sizeof *s);
    inter(K, M_, C_, Ru, DNU, Rx);
    inter(K, M_, CO_, Rgy, M_ * CO_, Rg);
    memset(Rgu, 0, K * DNU * sizeof(double));
    ck_assert_int_eq(hb__linear_rbackward(CTX, HB_F64, M_, C_, CO_, K, u, DW, gy, Rx, Ru + M_ * C_, DNU,
                                         Rg, Rgx, Rgu + M_ * C_, Rgu + M_ * C_ + CO_ * C_, DNU, s), HB_OK);
    deinter(K, M_, C_, Rgx, Rgu, DNU);
    free(Rx), free(Rg), free(Rgx), free(s);
}

/* ---- attention: u = (q, k, v) each (N·T, C), y (N·T, C) ---- */
static hb__attn_shape ash(void) { return (hb__attn_shape){N_, T_, C_, H_, 1}; }
static void at_fwd(const double *u, double *y) {
    hb__attn_shape s = ash();
    size_t MC = N_ * T_ * C_;
    double *P = malloc(N_ * H_ * T_ * T_ * sizeof *P);
    ck_assert_int_eq(hb__attention_forward(CTX, HB_F64, &s, u, u + MC, u + 2 * MC, P, y), HB_OK);
    free(P);
}
static void at_bwd(const double *u, const double *gy, double *gu) {
    hb__attn_shape s = ash();
    size_t MC = N_ * T_ * C_;
    double *P = malloc(N_ * H_ * T_ * T_ * sizeof *P), *y = malloc(MC * sizeof *y);
    double *sc = malloc(hb__attention_scratch(&s, 1) * sizeof *sc);
    ck_assert_int_eq(hb__attention_forward(CTX, HB_F64, &s, u, u + MC, u + 2 * MC, P, y), HB_OK);
    ck_assert_int_eq(hb__attention_backward(CTX, HB_F64, &s, u, u + MC, u + 2 * MC, P, gy, gu,
                                            gu + MC, gu + 2 * MC, sc), HB_OK);
    free(P), free(y), free(sc);
}
static void at_rfwd(const double *u, const double *Ru, double *Ry) {
    hb__attn_shape s = ash();
    size_t MC = N_ * T_ * C_, M = N_ * T_;
    double *P = malloc(N_ * H_ * T_ * T_ * sizeof *P), *y = malloc(MC * sizeof *y);
    double *RP = malloc(K * N_ * H_ * T_ * T_ * sizeof *RP), *Rq = malloc(3 * K * MC * sizeof *Rq);
    double *R = malloc(K * MC * sizeof *R);
    ck_assert_int_eq(hb__attention_forward(CTX, HB_F64, &s, u, u + MC, u + 2 * MC, P, y), HB_OK);
    for (int i = 0; i < 3; i++) inter(K, M, C_, Ru + i * MC, 3 * MC, Rq + i * K * MC);
    ck_assert_int_eq(hb__attention_rforward(CTX, HB_F64, &s, K, u, u + MC, u + 2 * MC, P, Rq,
                                            Rq + K * MC, Rq + 2 * K * MC, RP, R), HB_OK);
    deinter(K, M, C_, R, Ry, MC);
    free(P), free(y), free(RP), free(Rq), free(R);
}
static void at_rbwd(const double *u, const double *gy, const double *Ru, const double *Rgy, double *Rgu) {
    hb__attn_shape s = ash();
    size_t MC = N_ * T_ * C_, M = N_ * T_;
    double *P = malloc(N_ * H_ * T_ * T_ * sizeof *P), *y = malloc(MC * sizeof *y);
    double *RP = malloc(K * N_ * H_ * T_ * T_ * sizeof *RP), *Rq = malloc(3 * K * MC * sizeof *Rq);
    double *R = malloc(K * MC * sizeof *R), *Rg = malloc(K * MC * sizeof *Rg), *Rgq = malloc(3 * K * MC * sizeof *Rgq);
    double *sc = malloc(hb__attention_scratch(&s, K) * sizeof *sc);
    ck_assert_int_eq(hb__attention_forward(CTX, HB_F64, &s, u, u + MC, u + 2 * MC, P, y), HB_OK);
    for (int i = 0; i < 3; i++) inter(K, M, C_, Ru + i * MC, 3 * MC, Rq + i * K * MC);
    ck_assert_int_eq(hb__attention_rforward(CTX, HB_F64, &s, K, u, u + MC, u + 2 * MC, P, Rq,
                                            Rq + K * MC, Rq + 2 * K * MC, RP, R), HB_OK);
    inter(K, M, C_, Rgy, MC, Rg);
    ck_assert_int_eq(hb__attention_rbackward(CTX, HB_F64, &s, K, u, u + MC, u + 2 * MC, P, Rq,
                                             Rq + K * MC, Rq + 2 * K * MC, RP, gy, Rg, Rgq,
                                             Rgq + K * MC, Rgq + 2 * K * MC, sc), HB_OK);
    for (int i = 0; i < 3; i++) deinter(K, M, C_, Rgq + i * K * MC, Rgu + i * MC, 3 * MC);
    free(P), free(y), free(RP), free(Rq), free(R), free(Rg), free(Rgq), free(sc);
}

/* ---- position embedding alone: u = (x (N·T, C), W (T, C)), y (N·T, C) ---- */
static void pe_fwd(const double *u, double *y) {
    ck_assert_int_eq(hb__pos_embedding_forward(CTX, HB_F64, N_, T_, C_, 1, u, u + M_ * C_, 0, y), HB_OK);
}
static void pe_bwd(const double *u, const double *gy, double *gu) {
    (void)u;
    memset(gu, 0, (M_ + T_) * C_ * sizeof(double));
    ck_assert_int_eq(hb__pos_embedding_backward(CTX, HB_F64, N_, T_, C_, 1, gy, gu, gu + M_ * C_, 0), HB_OK);
}
static void pe_rfwd(const double *u, const double *Ru, double *Ry) {
    (void)u;
    size_t nu = (M_ + T_) * C_;
    double *Rx = malloc(K * M_ * C_ * sizeof *Rx), *R = malloc(K * M_ * C_ * sizeof *R);
    inter(K, M_, C_, Ru, nu, Rx);
    ck_assert_int_eq(hb__pos_embedding_forward(CTX, HB_F64, N_, T_, C_, K, Rx, Ru + M_ * C_, nu, R), HB_OK);
    deinter(K, M_, C_, R, Ry, M_ * C_);
    free(Rx), free(R);
}
static void pe_rbwd(const double *u, const double *gy, const double *Ru, const double *Rgy, double *Rgu) {
    (void)u, (void)gy, (void)Ru;
    size_t nu = (M_ + T_) * C_;
    double *Rg = malloc(K * M_ * C_ * sizeof *Rg), *Rgx = calloc(K * M_ * C_, sizeof *Rgx);
    inter(K, M_, C_, Rgy, M_ * C_, Rg);
    memset(Rgu, 0, K * nu * sizeof(double));
    ck_assert_int_eq(hb__pos_embedding_backward(CTX, HB_F64, N_, T_, C_, K, Rg, Rgx, Rgu + M_ * C_, nu), HB_OK);
    deinter(K, M_, C_, Rgx, Rgu, nu);
    free(Rg), free(Rgx);
}

/* ---- rmsnorm: u = (x (M, C), w (C)), y (M, C); eps 1e-3 so that it matters ---- */
#define RMS_EPS 1e-3
static void rms_fwd(const double *u, double *y) {
    double rs[64];
    ck_assert_int_eq(hb__rmsnorm_forward(CTX, HB_F64, M_, C_, RMS_EPS, u, u + M_ * C_, y, rs), HB_OK);
}
static void rms_bwd(const double *u, const double *gy, double *gu) {
    double rs[64], *y = malloc(M_ * C_ * sizeof *y);
    ck_assert_int_eq(hb__rmsnorm_forward(CTX, HB_F64, M_, C_, RMS_EPS, u, u + M_ * C_, y, rs), HB_OK);
    memset(gu, 0, (M_ * C_ + C_) * sizeof(double));
    ck_assert_int_eq(hb__rmsnorm_backward(CTX, HB_F64, M_, C_, u, u + M_ * C_, rs, gy, gu, gu + M_ * C_), HB_OK);
    free(y);
}
static void rms_rfwd(const double *u, const double *Ru, double *Ry) {
    double rs[64], *y = malloc(M_ * C_ * sizeof *y), *Rx = malloc(K * M_ * C_ * sizeof *Rx);
    double *R = malloc(K * M_ * C_ * sizeof *R);
    size_t nu = M_ * C_ + C_;
    ck_assert_int_eq(hb__rmsnorm_forward(CTX, HB_F64, M_, C_, RMS_EPS, u, u + M_ * C_, y, rs), HB_OK);
    inter(K, M_, C_, Ru, nu, Rx);
    ck_assert_int_eq(hb__rmsnorm_rforward(CTX, HB_F64, M_, C_, K, u, u + M_ * C_, rs, Rx, Ru + M_ * C_, nu, R), HB_OK);
    deinter(K, M_, C_, R, Ry, M_ * C_);
    free(y), free(Rx), free(R);
}
static void rms_rbwd(const double *u, const double *gy, const double *Ru, const double *Rgy, double *Rgu) {
    double rs[64], *y = malloc(M_ * C_ * sizeof *y), *Rx = malloc(K * M_ * C_ * sizeof *Rx);
    double *Rg = malloc(K * M_ * C_ * sizeof *Rg), *Rgx = calloc(K * M_ * C_, sizeof *Rgx);
    size_t nu = M_ * C_ + C_;
    ck_assert_int_eq(hb__rmsnorm_forward(CTX, HB_F64, M_, C_, RMS_EPS, u, u + M_ * C_, y, rs), HB_OK);
    inter(K, M_, C_, Ru, nu, Rx);
    inter(K, M_, C_, Rgy, M_ * C_, Rg);
    memset(Rgu, 0, K * nu * sizeof(double));
    ck_assert_int_eq(hb__rmsnorm_rbackward(CTX, HB_F64, M_, C_, K, u, u + M_ * C_, rs, gy, Rx, Ru + M_ * C_,
                                           nu, Rg, Rgx, Rgu + M_ * C_, nu), HB_OK);
    deinter(K, M_, C_, Rgx, Rgu, nu);
    free(y), free(Rx), free(Rg), free(Rgx);
}

START_TEST(test_layers_fd) {
    CTX = hb_test_context(1, 42);
    N_ = 2, T_ = 4, V_ = 5, C_ = 6, M_ = N_ * T_, CO_ = 3, H_ = 2;
    for (size_t i = 0; i < N_ * T_; i++) IDX[i] = (int32_t)((i * 3 + 1) % V_);
    const layer_case cases[] = {
        {"embedding", (V_ + T_) * C_, M_ * C_, emb_fwd, emb_bwd, emb_rfwd, emb_rbwd},
        {"layernorm", M_ * C_ + 2 * C_, M_ * C_, ln_fwd, ln_bwd, ln_rfwd, ln_rbwd},
        {"pos_embedding", (M_ + T_) * C_, M_ * C_, pe_fwd, pe_bwd, pe_rfwd, pe_rbwd},
        {"rmsnorm", M_ * C_ + C_, M_ * C_, rms_fwd, rms_bwd, rms_rfwd, rms_rbwd},
        {"dense", DNU, M_ * CO_, dn_fwd, dn_bwd, dn_rfwd, dn_rbwd},
        {"attention", 3 * M_ * C_, M_ * C_, at_fwd, at_bwd, at_rfwd, at_rbwd},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_layer(&cases[i]);
    hb_context_free(CTX);
}
END_TEST

/* xent: R(gz) vs FD of the shared backward's gz (M = 3 rows, V = 4). */
START_TEST(test_xent_fd) {
    CTX = hb_test_context(1, 43);
    enum { M = 3, V = 4 };
    int32_t t[M] = {1, 3, 0};
    double *z = rnd(M * V, 5, 1), *Rz = rnd(K * M * V, 6, 1), p[M * V], gz[M * V], zp[M * V];
    double R[K * M * V], Rg[K * M * V], gp[M * V], gm[M * V], fd[M * V], pp[M * V], l;
    const double h = 1e-5, scale = 0.7;
    /* forward, backward and R-backward: nn/xent.c */
    ck_assert_int_eq(hb__xent_forward(CTX, HB_F64, M, V, z, t, p, &l), HB_OK);
    memset(gz, 0, sizeof gz);
    ck_assert_int_eq(hb__xent_backward(CTX, HB_F64, M, V, p, t, scale, gz), HB_OK);
    inter(K, M, V, Rz, M * V, R);
    memset(Rg, 0, sizeof Rg);
    double Ri[K * M * V];
    memset(Ri, 0, sizeof Ri);
    ck_assert_int_eq(hb__xent_rbackward(CTX, HB_F64, M, V, K, p, R, scale, Ri), HB_OK);
    deinter(K, M, V, Ri, Rg, M * V);
    for (int j = 0; j < K; j++) {
        for (int i = 0; i < M * V; i++) zp[i] = z[i] + h * Rz[j * M * V + i];
        ck_assert_int_eq(hb__xent_forward(CTX, HB_F64, M, V, zp, t, pp, &l), HB_OK);
        memset(gp, 0, sizeof gp);
        ck_assert_int_eq(hb__xent_backward(CTX, HB_F64, M, V, pp, t, scale, gp), HB_OK);
        for (int i = 0; i < M * V; i++) zp[i] = z[i] - h * Rz[j * M * V + i];
        ck_assert_int_eq(hb__xent_forward(CTX, HB_F64, M, V, zp, t, pp, &l), HB_OK);
        memset(gm, 0, sizeof gm);
        ck_assert_int_eq(hb__xent_backward(CTX, HB_F64, M, V, pp, t, scale, gm), HB_OK);
        for (int i = 0; i < M * V; i++) fd[i] = (gp[i] - gm[i]) / (2 * h);
        ck_assert_msg(rel(Rg + j * M * V, fd, M * V) <= 1e-6, "xent R-backward: %g",
                      rel(Rg + j * M * V, fd, M * V));
    }
    /* it accumulates on top of what is there */
    double Rb[K * M * V];
    ck_assert_int_eq(hb__xent_rbackward(CTX, HB_F64, M, V, K, p, R, scale, Ri), HB_OK);
    deinter(K, M, V, Ri, Rb, M * V);
    for (int i = 0; i < K * M * V; i++) ck_assert(fabs(Rb[i] - 2 * Rg[i]) <= 1e-15);
    /* dtype checks */
    ck_assert_int_eq(hb__xent_rbackward(CTX, HB_BF16, M, V, 1, p, p, 1, gz), HB_EDTYPE);
    ck_assert_int_eq(hb__rmsnorm_forward(CTX, HB_BF16, 1, 1, 1e-5, p, p, gz, gm), HB_EDTYPE);
    ck_assert_int_eq(hb__pos_embedding_forward(CTX, HB_BF16, 1, 1, 1, 1, p, p, 0, gz), HB_EDTYPE);
    ck_assert_int_eq(hb__layernorm_forward(CTX, HB_BF16, 1, 1, HB__LN_EPS, p, p, p, gz, gm, gp), HB_EDTYPE);
    ck_assert_int_eq(hb__embedding_forward(CTX, HB_BF16, 1, 1, 1, t, p, p, gz), HB_EDTYPE);
    hb__attn_shape bad = {1, 2, 5, 2, 1};
    ck_assert_int_eq(hb__attention_forward(CTX, HB_F64, &bad, p, p, p, gz, gm), HB_ESHAPE);
    free(z);
    free(Rz);
    hb_context_free(CTX);
}
END_TEST

/* eps reaches the normalisations: a row (a, −a) has variance and mean square a², so
 * y = ±a/√(a² + eps)·w exactly (f64 to 1e-15); with a² = eps the output is ±1/√2. */
START_TEST(test_norm_eps) {
    CTX = hb_test_context(1, 44);
    const double a = 0.01, eps = a * a, x[2] = {a, -a}, w[2] = {1, 1}, b[2] = {0, 0};
    double y[2], mu, rs;
    ck_assert_int_eq(hb__layernorm_forward(CTX, HB_F64, 1, 2, eps, x, w, b, y, &mu, &rs), HB_OK);
    ck_assert(fabs(y[0] - sqrt(0.5)) <= 1e-15 && fabs(y[1] + sqrt(0.5)) <= 1e-15);
    ck_assert_int_eq(hb__rmsnorm_forward(CTX, HB_F64, 1, 2, eps, x, w, y, &rs), HB_OK);
    ck_assert(fabs(y[0] - sqrt(0.5)) <= 1e-15 && fabs(y[1] + sqrt(0.5)) <= 1e-15);
    ck_assert_int_eq(hb__layernorm_forward(CTX, HB_F64, 1, 2, HB__LN_EPS, x, w, b, y, &mu, &rs), HB_OK);
    ck_assert(fabs(y[0] - a / sqrt(a * a + 1e-5)) <= 1e-15);
    hb_context_free(CTX);
}
END_TEST

Suite *hb_suite_gpt_layers(void) {
    Suite *s = suite_create("gpt_layers");
    TCase *tc = tcase_create("gpt_layers");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_layers_fd);
    tcase_add_test(tc, test_xent_fd);
    tcase_add_test(tc, test_norm_eps);
    suite_add_tcase(s, tc);
    return s;
}
